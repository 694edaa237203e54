/* types_services.c: enabling Google APIs on a project (Service Usage) and
 * the Service Networking connection (private services access for
 * private-IP Cloud SQL). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_res.h"

/* ---- project_service ---- */

static void service_after_read(rctx_t *c, const json_t *desired, json_t **live) {
    const char *st = json_string_value(json_object_get(*live, "state"));
    if (!st || strcmp(st, "ENABLED") != 0) {
        json_decref(*live);
        *live = NULL;
    }
}

/* Removing a project_service does NOT disable the API unless the spec says
 * disable_on_destroy = true: an API is shared by every stack in the
 * project, and disabling it (Terraform's default) breaks the others. */
static int service_remove(rctx_t *c, const char *id, const json_t *live) {
    if (!json_is_true(json_object_get(live, "disable_on_destroy"))) return 0;
    char *url = xasprintf("v1/%s:disable", id);
    json_t *b = json_pack("{s:b}", "disableDependentServices", 0);
    gcp_resp_t r = {0};
    int rc = gcp_call_busy(c, "POST", "serviceusage", url, b, &r);
    if (rc == 0) {
        if (r.status == 404 || (r.status == 400 && strcmp(r.error_status, "FAILED_PRECONDITION") == 0))
            rc = 0; /* gone or already disabled */
        else if (r.status < 200 || r.status >= 300) {
            gcp_fail(c, &r, "POST", url);
            rc = -1;
        } else
            rc = gcp_wait(c, "serviceusage", r.body);
    }
    gcp_resp_free(&r);
    json_decref(b);
    free(url);
    return rc;
}

static const gcp_type_t service_t = {
    .api = "serviceusage",
    .op_api = "serviceusage",
    .self = "v1/projects/{project}/services/{service}",
    .collection = "v1/projects/{project}/services/{service}:enable", /* create = :enable */
    .id_tmpl = "projects/{project}/services/{service}",
    .import_forms = (const char *const[]){"{project}/{service}", "{service}", NULL},
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_NONE,
    .after_read = service_after_read,
    .remove = service_remove,
};
const rtype_t gcp_project_service = {
    .name = "gcp.project_service",
    .api = NULL,
    .message = NULL,
    .extra_fields = (const char *const[]){"project", "service", "disable_on_destroy", NULL},
    .options = (const char *const[]){"disable_on_destroy", NULL},
    .required = (const char *const[]){"service", NULL},
    .immutable = (const char *const[]){"project", "service", NULL},
    .adopt_existing = 1,
    GCP_RTYPE_CALLBACKS,
    .data = &service_t,
};

/* ---- service_networking_connection ----
 * No GET by ID: read lists the connections of the network (which must be
 * named with the project *number*) and picks the one for our service. */

static void conn_defaults(const rtype_t *t, void *prov, const char *spec_name, json_t *body) {
    gcp_res_defaults(t, prov, spec_name, body);
    if (!json_object_get(body, "service"))
        json_object_set_new(body, "service", json_string("servicenetworking.googleapis.com"));
}

typedef struct conn_ref {
    char *project, *network, *service, *num;
} conn_ref_t;

static void conn_ref_free(conn_ref_t *r) {
    free(r->project);
    free(r->network);
    free(r->service);
    free(r->num);
}

static int conn_parse(rctx_t *c, const char *id, conn_ref_t *out) {
    memset(out, 0, sizeof *out);
    json_t *v = gcp_tmpl_match("projects/{project}/global/networks/{network}:{service}", id);
    if (!v) {
        perr_set(c->err, c->addr ? c->addr : "",
                 "bad connection ID '%s': expected projects/P/global/networks/N:SERVICE", id);
        return -1;
    }
    out->project = xstrdup(json_string_value(json_object_get(v, "project")));
    out->network = xstrdup(json_string_value(json_object_get(v, "network")));
    out->service = xstrdup(json_string_value(json_object_get(v, "service")));
    json_decref(v);
    out->num = gcp_project_number(c, out->project);
    return out->num ? 0 : -1;
}

static int conn_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    conn_ref_t r;
    *live = NULL;
    if (conn_parse(c, id, &r) < 0) {
        conn_ref_free(&r);
        return -1;
    }
    char *url = xasprintf("v1/services/%s/connections?network=projects/%s/global/networks/%s", r.service,
                          r.num, r.network);
    json_t *list = NULL;
    int rc = gcp_get(c, "servicenetworking", url, &list);
    size_t i;
    json_t *conn;
    json_array_foreach(json_object_get(list, "connections"), i, conn) {
        const char *net = json_string_value(json_object_get(conn, "network"));
        if (net && strcmp(gcp_last_segment(net), r.network) == 0) {
            *live = json_deep_copy(conn);
            break;
        }
    }
    if (*live) {
        /* The API names the network by project number: show it as the spec does. */
        json_t *dn = desired ? json_object_get(desired, "network") : NULL;
        if (json_is_string(dn) && strcmp(gcp_last_segment(json_string_value(dn)), r.network) == 0)
            json_object_set(*live, "network", dn);
        else
            json_object_set_new(*live, "network",
                                json_sprintf("projects/%s/global/networks/%s", r.project, r.network));
        json_object_set_new(*live, "project", json_string(r.project));
        /* The API says "services/servicenetworking.googleapis.com". */
        json_object_set_new(*live, "service", json_string(r.service));
        gcp_keep_extras(c, desired, *live);
    }
    json_decref(list);
    free(url);
    conn_ref_free(&r);
    return rc;
}

static int conn_send(rctx_t *c, const conn_ref_t *r, const json_t *desired, int patch) {
    json_t *b = json_object();
    json_object_set_new(b, "network", json_sprintf("projects/%s/global/networks/%s", r->num, r->network));
    json_t *ranges = json_object_get(desired, "reservedPeeringRanges");
    json_object_set_new(b, "reservedPeeringRanges", ranges ? json_deep_copy(ranges) : json_array());
    char *url = patch ? xasprintf("v1/services/%s/connections/-?updateMask=reservedPeeringRanges&force=true",
                                  r->service)
                      : xasprintf("v1/services/%s/connections", r->service);
    gcp_resp_t resp = {0};
    int rc = gcp_call_busy(c, patch ? "PATCH" : "POST", "servicenetworking", url, b, &resp);
    if (rc == 0 && (resp.status < 200 || resp.status >= 300)) {
        gcp_fail(c, &resp, patch ? "PATCH" : "POST", url);
        rc = -1;
    } else if (rc == 0)
        rc = gcp_wait(c, "servicenetworking", resp.body);
    gcp_resp_free(&resp);
    free(url);
    json_decref(b);
    return rc;
}

static int conn_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    char *myid = gcp_res_id_of(c, desired);
    if (!myid) return -1;
    conn_ref_t r;
    int rc = conn_parse(c, myid, &r);
    if (rc == 0) {
        const json_t *op = c->resume ? json_object_get(c->resume, "operation") : NULL;
        if (op) rc = gcp_wait(c, "servicenetworking", op);
        if (rc == 0 && (rc = conn_read(c, myid, desired, live)) == 0 && !*live) {
            rc = conn_send(c, &r, desired, 0);
            /* An existing connection with other ranges: update it instead
             * (Terraform's update_on_creation_fail). */
            if (rc < 0 && strstr(c->err->msg, "Cannot modify allocated ranges")) {
                perr_clear(c->err);
                rc = conn_send(c, &r, desired, 1);
            }
            if (rc == 0) rc = conn_read(c, myid, desired, live);
            if (rc == 0 && !*live) {
                perr_set(c->err, c->addr, "created connection %s but cannot find it", myid);
                rc = -1;
            }
        }
    }
    conn_ref_free(&r);
    if (rc == 0)
        *id = myid;
    else
        free(myid);
    return rc;
}

static int conn_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                       const strlist_t *changed, json_t **newlive) {
    conn_ref_t r;
    int rc = conn_parse(c, id, &r);
    int need = 0;
    for (size_t i = 0; i < changed->n; i++)
        need |= jpath_under(changed->v[i], "reservedPeeringRanges");
    if (rc == 0 && need) rc = conn_send(c, &r, desired, 1);
    if (rc == 0) rc = conn_read(c, id, desired, newlive);
    conn_ref_free(&r);
    return rc;
}

/* deletion_policy = "ABANDON" leaves the connection: its delete usually
 * fails for days after Cloud SQL used it (producer services still hold it). */
static int conn_remove(rctx_t *c, const char *id, const json_t *live) {
    const char *pol = json_string_value(json_object_get(live, "deletion_policy"));
    if (pol && strcasecmp(pol, "ABANDON") == 0) return 0;
    conn_ref_t r;
    int rc = conn_parse(c, id, &r);
    if (rc == 0) {
        char *cid = xstrdup(r.service);
        for (char *p = cid; *p; p++)
            if (*p == '.') *p = '-';
        char *url = xasprintf("v1/services/%s/connections/%s", r.service, cid);
        json_t *b = json_object();
        json_object_set_new(b, "consumerNetwork",
                            json_sprintf("projects/%s/global/networks/%s", r.num, r.network));
        gcp_resp_t resp = {0};
        rc = gcp_call_busy(c, "POST", "servicenetworking", url, b, &resp);
        if (rc == 0 && resp.status == 404) {
            /* Gone already, or a wrong URL: tell the two apart by looking. */
            json_t *still = NULL;
            gcp_fail(c, &resp, "POST", url);
            perr_t keep = *c->err;
            perr_clear(c->err);
            rc = conn_read(c, id, NULL, &still);
            if (rc == 0 && still) {
                *c->err = keep;
                rc = -1;
            }
            json_decref(still);
        } else if (rc == 0 && (resp.status < 200 || resp.status >= 300)) {
            gcp_fail(c, &resp, "POST", url);
            rc = -1;
        } else if (rc == 0)
            rc = gcp_wait(c, "servicenetworking", resp.body);
        if (rc < 0 && strstr(c->err->msg, "still using this connection"))
            perr_wrap(c->err,
                      "the connection is still used by a producer service (Cloud SQL keeps it for days); "
                      "set deletion_policy = \"ABANDON\" to leave it");
        gcp_resp_free(&resp);
        json_decref(b);
        free(url);
        free(cid);
    }
    conn_ref_free(&r);
    return rc;
}

static const gcp_type_t conn_t = {
    .api = "servicenetworking",
    .op_api = "servicenetworking",
    .id_tmpl = "projects/{project}/global/networks/{network}:{service}",
    .import_forms = (const char *const[]){"{project}/{network}:{service}", "{network}:{service}", NULL},
    .create_style = GCP_CREATE_HOOK,
    .update_style = GCP_UPDATE_HOOK,
    .set_paths = (const char *const[]){"reservedPeeringRanges", NULL},
    .read = conn_read,
    .create = conn_create,
    .update = conn_update,
    .remove = conn_remove,
};
const rtype_t gcp_service_networking_connection = {
    .name = "gcp.service_networking_connection",
    .api = "servicenetworking",
    .message = "Connection",
    .extra_fields = (const char *const[]){"project", "deletion_policy", NULL},
    .options = (const char *const[]){"deletion_policy", NULL},
    .required = (const char *const[]){"network", "reservedPeeringRanges", NULL},
    .immutable = (const char *const[]){"network", "service", "project", NULL},
    GCP_RTYPE_CALLBACKS_NODEFAULTS,
    .defaults = conn_defaults,
    .data = &conn_t,
};
