/* types_dns.c: Cloud DNS: managed zones (a table: PATCH answers a finished
 * dns#operation) and record sets, which change only through the changes
 * API (one change deleting the old set and adding the new one, waited on
 * until "done"); a zone's own NS and SOA sets are never deleted, only
 * forgotten. */
#include <stdlib.h>
#include <string.h>

#include "providers/gcp/gcp_res.h"

static const gcp_type_t zone_t = {
    .api = "dns",
    .self = "dns/v1/projects/{project}/managedZones/{name}",
    .collection = "dns/v1/projects/{project}/managedZones",
    .id_tmpl = "projects/{project}/managedZones/{name}",
    .import_forms = (const char *const[]){"{project}/{name}", "{name}", NULL},
    .name_field = "name",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_PATCH,
    .list_items = "managedZones",
    .ci_paths = (const char *const[]){"visibility", NULL},
};
const rtype_t gcp_dns_managed_zone = {
    .name = "gcp.dns_managed_zone",
    .api = "dns",
    .message = "ManagedZone",
    .extra_fields = (const char *const[]){"project", NULL},
    .required = (const char *const[]){"dnsName", NULL},
    .immutable = (const char *const[]){"name", "project", "dnsName", "visibility", "reverseLookupConfig",
                                       "serviceDirectoryConfig", NULL},
    .ignore = (const char *const[]){"id", "kind", "creationTime", "nameServers", "nameServerSet", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &zone_t,
};

/* ---- record set ---- */

#define RRSET_ID "projects/{project}/managedZones/{managed_zone}/rrsets/{name}/{type}"
#define ZONE_URL "dns/v1/projects/%s/managedZones/%s"

typedef struct rrid {
    json_t *vars; /* project, managed_zone, name, type */
    const char *project, *zone, *name, *type;
} rrid_t;

static int rr_parse(rctx_t *c, const char *id, rrid_t *x) {
    x->vars = gcp_id_vars(c, id);
    if (!x->vars) return -1;
    x->project = json_string_value(json_object_get(x->vars, "project"));
    x->zone = json_string_value(json_object_get(x->vars, "managed_zone"));
    x->name = json_string_value(json_object_get(x->vars, "name"));
    x->type = json_string_value(json_object_get(x->vars, "type"));
    return 0;
}

static int rr_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    rrid_t x;
    *live = NULL;
    if (rr_parse(c, id, &x) < 0) return -1;
    char *n = gcp_urlenc(x.name);
    char *url = xasprintf(ZONE_URL "/rrsets?name=%s&type=%s", x.project, x.zone, n, x.type);
    json_t *page = NULL;
    int rc = gcp_get(c, "dns", url, &page);
    json_t *it = json_array_get(json_object_get(page, "rrsets"), 0);
    if (rc == 0 && it) {
        *live = json_deep_copy(it);
        json_object_set_new(*live, "managed_zone", json_string(x.zone));
        json_object_set_new(*live, "project", json_string(x.project));
        gcp_keep_extras(c, desired, *live);
    }
    json_decref(page);
    free(url);
    free(n);
    json_decref(x.vars);
    return rc;
}

/* The record set as the API holds it: name, type, ttl, rrdatas. */
static json_t *rr_body(const json_t *b) {
    json_t *r = json_object();
    static const char *const keep[] = {"name", "type", "ttl", "rrdatas", "routingPolicy"};
    for (size_t i = 0; i < sizeof keep / sizeof *keep; i++)
        if (json_object_get(b, keep[i])) json_object_set(r, keep[i], json_object_get(b, keep[i]));
    return r;
}

/* Sends one change and waits until the API has applied it. */
static int rr_change(rctx_t *c, const rrid_t *x, const json_t *del, const json_t *add) {
    json_t *ch = json_object();
    if (del) json_object_set_new(ch, "deletions", json_pack("[o]", rr_body(del)));
    if (add) json_object_set_new(ch, "additions", json_pack("[o]", rr_body(add)));
    char *url = xasprintf(ZONE_URL "/changes", x->project, x->zone);
    gcp_resp_t r = {0};
    int rc = gcp_call_busy(c, "POST", "dns", url, ch, &r);
    if (rc == 0 && r.status == 409) {
        perr_set(c->err, c->addr,
                 "record set %s %s already exists outside plinth's state; adopt it with: plinth import %s "
                 "%s/%s/%s",
                 x->name, x->type, c->addr, x->zone, x->name, x->type);
        rc = -1;
    } else if (rc == 0 && !gcp_resp_ok(&r)) {
        gcp_fail(c, &r, "POST", url);
        rc = -1;
    }
    const char *cid = rc == 0 ? json_string_value(json_object_get(r.body, "id")) : NULL;
    const char *st = rc == 0 ? json_string_value(json_object_get(r.body, "status")) : NULL;
    for (int i = 0; rc == 0 && cid && st && strcmp(st, "done") != 0; i++) {
        if (c->progress) c->progress(c->ud, c->addr, "change pending");
        if (gcp_sleep(c, GCP_PROV(c)->emulated ? 50 : 1000) < 0 || i > 600) {
            rc = -1;
            break;
        }
        char *cu = xasprintf(ZONE_URL "/changes/%s", x->project, x->zone, cid);
        json_t *cur = NULL;
        rc = gcp_get(c, "dns", cu, &cur);
        st = json_string_value(json_object_get(cur, "status"));
        st = st ? strcmp(st, "done") == 0 ? "done" : "pending" : "done";
        json_decref(cur);
        free(cu);
    }
    gcp_resp_free(&r);
    free(url);
    json_decref(ch);
    return rc;
}

static int rr_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    *id = gcp_res_id_of(c, desired);
    *live = NULL;
    rrid_t x;
    if (!*id || rr_parse(c, *id, &x) < 0) return -1;
    int rc = rr_change(c, &x, NULL, desired);
    if (rc == 0) rc = rr_read(c, *id, desired, live);
    if (rc == 0 && !*live) {
        perr_set(c->err, c->addr, "created %s but it cannot be read back", *id);
        rc = -1;
    }
    json_decref(x.vars);
    if (rc < 0) {
        free(*id);
        *id = NULL;
    }
    return rc;
}

static int rr_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                     const strlist_t *changed, json_t **newlive) {
    rrid_t x;
    *newlive = NULL;
    if (rr_parse(c, id, &x) < 0) return -1;
    int rc = rr_change(c, &x, live, desired);
    if (rc == 0) rc = rr_read(c, id, desired, newlive);
    json_decref(x.vars);
    return rc;
}

/* The zone's own NS and SOA sets (at its dnsName) belong to the zone. */
static int rr_is_apex(rctx_t *c, const rrid_t *x) {
    if (strcmp(x->type, "NS") != 0 && strcmp(x->type, "SOA") != 0) return 0;
    char *url = xasprintf(ZONE_URL, x->project, x->zone);
    json_t *z = NULL;
    int apex = gcp_get(c, "dns", url, &z) == 0 && z &&
               strcmp(json_string_value(json_object_get(z, "dnsName"))
                          ? json_string_value(json_object_get(z, "dnsName"))
                          : "",
                      x->name) == 0;
    json_decref(z);
    free(url);
    return apex;
}

static int rr_remove(rctx_t *c, const char *id, const json_t *live) {
    rrid_t x;
    if (rr_parse(c, id, &x) < 0) return -1;
    json_t *cur = NULL;
    int rc = rr_read(c, id, NULL, &cur);
    if (rc == 0 && cur && rr_is_apex(c, &x)) {
        if (c->progress)
            c->progress(c->ud, c->addr, "the zone's own NS/SOA record set is kept; forgotten only");
    } else if (rc == 0 && cur)
        rc = rr_change(c, &x, cur, NULL);
    json_decref(cur);
    json_decref(x.vars);
    return rc;
}

static const gcp_type_t rrset_t = {
    .api = "dns",
    .id_tmpl = RRSET_ID,
    .import_forms =
        (const char *const[]){"{project}/{managed_zone}/{name}/{type}", "{managed_zone}/{name}/{type}", NULL},
    .create_style = GCP_CREATE_HOOK,
    .update_style = GCP_UPDATE_HOOK,
    .read = rr_read,
    .create = rr_create,
    .update = rr_update,
    .remove = rr_remove,
    .set_paths = (const char *const[]){"rrdatas", NULL},
};
const rtype_t gcp_dns_record_set = {
    .name = "gcp.dns_record_set",
    .api = "dns",
    .message = "ResourceRecordSet",
    .extra_fields = (const char *const[]){"project", "managed_zone", NULL},
    .required = (const char *const[]){"managed_zone", "name", "type", "rrdatas", NULL},
    .immutable = (const char *const[]){"project", "managed_zone", "name", "type", NULL},
    .ignore = (const char *const[]){"kind", "signatureRrdatas", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &rrset_t,
};
