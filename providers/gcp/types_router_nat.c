/* types_router_nat.c: gcp.compute_router_nat, one entry of a router's
 * nats[] managed on its own: create, update and delete are PATCHes of the
 * router carrying its whole nats list and its fingerprint (a stale
 * fingerprint -- another NAT changed meanwhile -- is re-read and retried),
 * each a compute operation.  Read finds the entry by name. */
#include <stdlib.h>
#include <string.h>

#include "providers/gcp/gcp_res.h"

#define ROUTER_URL "compute/v1/projects/%s/regions/%s/routers/%s"

typedef struct natid {
    json_t *vars;
    const char *project, *region, *router, *name;
} natid_t;

static int nat_parse(rctx_t *c, const char *id, natid_t *x) {
    if (!(x->vars = gcp_id_vars(c, id))) return -1;
    x->project = json_string_value(json_object_get(x->vars, "project"));
    x->region = json_string_value(json_object_get(x->vars, "region"));
    x->router = json_string_value(json_object_get(x->vars, "router"));
    x->name = json_string_value(json_object_get(x->vars, "name"));
    return 0;
}

static int nat_index(const json_t *router, const char *name) {
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(router, "nats"), i, n) {
        const char *nn = json_string_value(json_object_get(n, "name"));
        if (nn && strcmp(nn, name) == 0) return (int)i;
    }
    return -1;
}

static int nat_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    natid_t x;
    *live = NULL;
    if (nat_parse(c, id, &x) < 0) return -1;
    char *url = xasprintf(ROUTER_URL, x.project, x.region, x.router);
    json_t *r = NULL;
    int rc = gcp_get(c, "compute", url, &r);
    int k = rc == 0 && r ? nat_index(r, x.name) : -1;
    if (k >= 0) {
        *live = json_deep_copy(json_array_get(json_object_get(r, "nats"), (size_t)k));
        json_object_set_new(*live, "router", json_string(x.router));
        json_object_set_new(*live, "region", json_string(x.region));
        json_object_set_new(*live, "project", json_string(x.project));
        gcp_keep_extras(c, desired, *live);
    }
    json_decref(r);
    free(url);
    json_decref(x.vars);
    return rc;
}

typedef enum { NAT_ADD, NAT_SET, NAT_DEL } nat_op_t;

/* One read-modify-write of the router's nats[]; 1 when the fingerprint
 * was stale (retry), 0 done, -1 failed. */
static int nat_patch_once(rctx_t *c, const natid_t *x, const char *url, const json_t *entry, nat_op_t op) {
    json_t *r = NULL;
    if (gcp_get(c, "compute", url, &r) < 0) return -1;
    if (!r) {
        if (op == NAT_DEL) return 0; /* the router is gone, and its NATs with it */
        perr_set(c->err, c->addr, "router %s does not exist", x->router);
        return -1;
    }
    json_t *nats = json_object_get(r, "nats");
    nats = nats ? json_deep_copy(nats) : json_array();
    int k = nat_index(r, x->name), rc = 0;
    if (op == NAT_ADD && k >= 0) {
        perr_set(c->err, c->addr,
                 "router %s already has a NAT named %s outside plinth's state; adopt it with: plinth "
                 "import %s %s/%s/%s",
                 x->router, x->name, c->addr, x->region, x->router, x->name);
        rc = -1;
    } else if (op == NAT_DEL && k < 0)
        rc = 2; /* nothing to do */
    else if (op == NAT_DEL)
        json_array_remove(nats, (size_t)k);
    else if (k >= 0)
        json_array_set(nats, (size_t)k, (json_t *)entry);
    else
        json_array_append(nats, (json_t *)entry);
    if (rc == 0) {
        json_t *b = json_pack("{s:O,s:O}", "name", json_object_get(r, "name"), "nats", nats);
        json_t *fp = json_object_get(r, "fingerprint");
        if (fp) json_object_set(b, "fingerprint", fp);
        gcp_resp_t resp = {0};
        rc = gcp_call_busy(c, "PATCH", "compute", url, b, &resp);
        if (rc == 0 && resp.status == 412)
            rc = 1;
        else if (rc == 0 && !gcp_resp_ok(&resp)) {
            gcp_fail(c, &resp, "PATCH", url);
            rc = -1;
        } else if (rc == 0)
            rc = gcp_wait(c, "compute", resp.body);
        gcp_resp_free(&resp);
        json_decref(b);
    }
    json_decref(nats);
    json_decref(r);
    return rc == 2 ? 0 : rc;
}

static int nat_patch(rctx_t *c, const char *id, const json_t *desired, nat_op_t op) {
    natid_t x;
    if (nat_parse(c, id, &x) < 0) return -1;
    char *url = xasprintf(ROUTER_URL, x.project, x.region, x.router);
    json_t *entry = desired ? gcp_send_body(c, desired) : NULL;
    if (entry) json_object_set(entry, "name", json_object_get(desired, "name"));
    int rc = 1;
    for (int attempt = 0; rc == 1 && attempt < 5; attempt++) {
        rc = nat_patch_once(c, &x, url, entry, op);
        if (rc == 1 && gcp_sleep(c, GCP_PROV(c)->emulated ? 20 : 500 << attempt) < 0) rc = -1;
    }
    if (rc == 1) perr_set(c->err, c->addr, "router %s kept changing (stale fingerprint 5 times)", x.router);
    json_decref(entry);
    free(url);
    json_decref(x.vars);
    return rc;
}

static int nat_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    *live = NULL;
    if (!(*id = gcp_res_id_of(c, desired))) return -1;
    int rc = nat_patch(c, *id, desired, NAT_ADD);
    if (rc == 0) rc = nat_read(c, *id, desired, live);
    if (rc == 0 && !*live) {
        perr_set(c->err, c->addr, "added %s but the router does not list it", *id);
        rc = -1;
    }
    if (rc < 0) free(*id), *id = NULL;
    return rc;
}

static int nat_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                      const strlist_t *changed, json_t **newlive) {
    *newlive = NULL;
    int rc = nat_patch(c, id, desired, NAT_SET);
    return rc == 0 ? nat_read(c, id, desired, newlive) : rc;
}

static int nat_remove(rctx_t *c, const char *id, const json_t *live) {
    return nat_patch(c, id, NULL, NAT_DEL);
}

static const gcp_type_t nat_t = {
    .api = "compute",
    .id_tmpl = "projects/{project}/regions/{region}/routers/{router}/{name}",
    .import_forms =
        (const char *const[]){"{project}/{region}/{router}/{name}", "{region}/{router}/{name}", NULL},
    .name_field = "name",
    .location_field = "region",
    .create_style = GCP_CREATE_HOOK,
    .update_style = GCP_UPDATE_HOOK,
    .read = nat_read,
    .create = nat_create,
    .update = nat_update,
    .remove = nat_remove,
    .set_paths = (const char *const[]){"subnetworks", "natIps", NULL},
};
const rtype_t gcp_compute_router_nat = {
    .name = "gcp.compute_router_nat",
    .api = "compute",
    .message = "RouterNat",
    .extra_fields = (const char *const[]){"project", "region", "router", NULL},
    .required = (const char *const[]){"router", "natIpAllocateOption", "sourceSubnetworkIpRangesToNat", NULL},
    .immutable = (const char *const[]){"project", "region", "router", "name", "type", "endpointTypes", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &nat_t,
};
