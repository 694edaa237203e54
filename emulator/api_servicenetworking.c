/* api_servicenetworking.c: emulated Service Networking (v1): private
 * services access connections (create, list by network, patch ranges,
 * deleteConnection) behind google.longrunning operations.  A finished
 * create adds the "servicenetworking-googleapis-com" peering to the
 * emulated compute network when it exists; a delete while a Cloud SQL
 * instance still uses the network fails as the real one does. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

#define PEERING "servicenetworking-googleapis-com"

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* "projects/X/global/networks/N" (any prefix) -> "NUMBER/N", new string,
 * so a network named by project id or number compares equal. */
static char *norm_network(emu_t *emu, const char *net) {
    const char *p = strstr(net ? net : "", "projects/");
    const char *g = p ? strstr(p, "/global/networks/") : NULL;
    if (!p || !g) return xstrdup(net ? net : "");
    char *proj = xstrndup(p + 9, (size_t)(g - (p + 9)));
    char *out = xasprintf("%s/%s", all_digits(proj) ? proj : emu_project_number(emu, proj),
                          g + strlen("/global/networks/"));
    free(proj);
    return out;
}

static char *conn_key(emu_t *emu, const char *svc, const char *net) {
    char *n = norm_network(emu, net);
    char *k = xasprintf("servicenetworking/services/%s/connections/%s", svc, n);
    free(n);
    return k;
}

/* The compute network document's key for a normalised "NUMBER/NAME". */
static char *compute_network_key(emu_t *emu, const char *norm) {
    const char *slash = strchr(norm, '/');
    if (!slash) return NULL;
    json_t *keys = emu_keys(emu, "compute/projects/"), *k;
    size_t i;
    char *found = NULL;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        const char *g = strstr(key, "/global/networks/");
        if (!g || strcmp(g + strlen("/global/networks/"), slash + 1) != 0) continue;
        char *proj =
            xstrndup(key + strlen("compute/projects/"), (size_t)(g - key) - strlen("compute/projects/"));
        if (!strncmp(emu_project_number(emu, proj), norm, (size_t)(slash - norm)) &&
            strlen(emu_project_number(emu, proj)) == (size_t)(slash - norm))
            found = xstrdup(key);
        free(proj);
        if (found) break;
    }
    json_decref(keys);
    return found;
}

static void set_peering(emu_t *emu, const char *net, int add) {
    char *norm = norm_network(emu, net);
    char *key = compute_network_key(emu, norm);
    json_t *doc = key ? emu_get(emu, key) : NULL;
    if (doc) {
        json_t *n = json_deep_copy(doc);
        json_t *peers = json_object_get(n, "peerings");
        if (!json_is_array(peers)) {
            peers = json_array();
            json_object_set_new(n, "peerings", peers);
        }
        size_t i;
        json_t *pe;
        json_array_foreach(peers, i, pe) {
            if (!strcmp(json_string_value(json_object_get(pe, "name")) ?: "", PEERING)) {
                json_array_remove(peers, i);
                break;
            }
        }
        if (add) {
            char *tenant = xasprintf("https://www.googleapis.com/compute/v1/projects/"
                                     "tenant-%.8s/global/networks/servicenetworking",
                                     emu_project_number(emu, norm));
            json_array_append_new(peers,
                                  json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:b,s:b,s:b}", "name", PEERING,
                                            "network", tenant, "state", "ACTIVE", "stateDetails",
                                            "[2024-01-01T00:00:00.000-00:00]: Connected.", "autoCreateRoutes",
                                            1, "exchangeSubnetRoutes", 1, "exportCustomRoutes", 0,
                                            "importCustomRoutes", 0, "exportSubnetRoutesWithPublicIp", 0));
            free(tenant);
        }
        emu_put(emu, key, n);
    }
    free(key);
    free(norm);
}

/* A Cloud SQL instance whose private network is this one. */
static int network_in_use(emu_t *emu, const char *net) {
    char *norm = norm_network(emu, net);
    json_t *keys = emu_keys(emu, "sqladmin/projects/"), *k;
    size_t i;
    int used = 0;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        const char *in = strstr(key, "/instances/");
        if (used || !in || strchr(in + 11, '/')) continue;
        const char *pn = json_string_value(json_object_get(
            json_object_get(json_object_get(emu_get(emu, key), "settings"), "ipConfiguration"),
            "privateNetwork"));
        if (pn) {
            char *n2 = norm_network(emu, pn);
            used = !strcmp(n2, norm);
            free(n2);
        }
    }
    json_decref(keys);
    free(norm);
    return used;
}

/* Completes an operation: applies "plinth:put" / "plinth:del". */
static void op_finish(emu_t *emu, const char *key) {
    json_t *cur = emu_get(emu, key);
    if (!cur || json_is_true(json_object_get(cur, "done"))) return;
    json_t *op = json_deep_copy(cur);
    json_object_set_new(op, "done", json_true());
    const char *put = json_string_value(json_object_get(op, "plinth:put"));
    const char *del = json_string_value(json_object_get(op, "plinth:del"));
    json_t *doc = json_object_get(op, "plinth:doc");
    const char *net = json_string_value(json_object_get(doc, "network"));
    if (del && net && network_in_use(emu, net)) {
        json_object_set_new(op, "error",
                            json_pack("{s:i,s:s}", "code", 9, "message",
                                      "Failed to delete connection; Producer services (e.g. "
                                      "CloudSQL, Cloud Memstore, etc.) are still using this "
                                      "connection."));
    } else {
        if (put && doc) {
            emu_put(emu, put, json_deep_copy(doc));
            set_peering(emu, net, 1);
        }
        if (del) {
            emu_del(emu, del);
            if (net) set_peering(emu, net, 0);
        }
        json_t *r = doc && put ? emu_strip(doc) : json_object();
        json_object_set_new(
            r, "@type",
            json_string(put ? "type.googleapis.com/google.cloud.servicenetworking.v1.Connection"
                            : "type.googleapis.com/google.protobuf.Empty"));
        json_object_set_new(op, "response", r);
    }
    json_object_del(op, "plinth:put");
    json_object_del(op, "plinth:del");
    json_object_del(op, "plinth:doc");
    emu_put(emu, key, op);
}

static json_t *start_op(emu_t *emu, const char *put, const char *del, const json_t *doc, const char *kind) {
    char h[17];
    util_random_hex(h, 8);
    char *name = xasprintf("operations/pssn.p24-%s-%s", emu_project_number(emu, h), h);
    char *key = xasprintf("servicenetworking/%s", name);
    json_t *op = json_pack("{s:s,s:{s:s},s:b}", "name", name, "metadata", "@type",
                           "type.googleapis.com/google.protobuf.Empty", "done", 0);
    if (put) json_object_set_new(op, "plinth:put", json_string(put));
    if (del) json_object_set_new(op, "plinth:del", json_string(del));
    if (doc) json_object_set_new(op, "plinth:doc", json_deep_copy(doc));
    json_t *pub = emu_op_arm(emu, key, op, kind, op_finish);
    free(key);
    free(name);
    return pub;
}

static int ranges_equal(const json_t *a, const json_t *b) {
    if (json_array_size(a) != json_array_size(b)) return 0;
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x) {
        int found = 0;
        size_t j;
        json_t *y;
        json_array_foreach(b, j, y) {
            found |= json_equal(x, y);
        }
        if (!found) return 0;
    }
    return 1;
}

static json_t *make_conn(const char *svc, const json_t *body) {
    char *service = xasprintf("services/%s", svc);
    json_t *c = json_pack("{s:s,s:O,s:s,s:s}", "network", json_string_value(json_object_get(body, "network")),
                          "reservedPeeringRanges", json_object_get(body, "reservedPeeringRanges"), "peering",
                          PEERING, "service", service);
    free(service);
    return c;
}

static int check_body(emu_resp_t *resp, const json_t *body) {
    const char *net = json_string_value(json_object_get(body, "network"));
    json_t *ranges = json_object_get(body, "reservedPeeringRanges");
    if (!net || !strstr(net, "/global/networks/")) {
        emu_bad_request(resp, "Invalid network: expected projects/{project_number}/global/networks/{name}.");
        return -1;
    }
    if (!json_is_array(ranges) || !json_array_size(ranges)) {
        emu_bad_request(resp, "At least one reserved peering range is required.");
        return -1;
    }
    return 0;
}

static void conn_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *svc = req->params[0];
    if (emu_validate(resp, "servicenetworking", "Connection", req->body) < 0 ||
        check_body(resp, req->body) < 0)
        return;
    char *key = conn_key(emu, svc, json_string_value(json_object_get(req->body, "network")));
    json_t *cur = emu_get(emu, key);
    if (cur && !ranges_equal(json_object_get(cur, "reservedPeeringRanges"),
                             json_object_get(req->body, "reservedPeeringRanges"))) {
        emu_error(resp, 400, "FAILED_PRECONDITION", "failedPrecondition",
                  "Cannot modify allocated ranges in CreateConnection. Please use "
                  "UpdateConnection.");
    } else {
        json_t *c = make_conn(svc, req->body);
        resp->body = start_op(emu, key, NULL, c, "servicenetworking.connections.create");
        json_decref(c);
    }
    free(key);
}

static void conn_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *net = emu_q(req, "network");
    char *want = net ? norm_network(emu, net) : NULL;
    char *prefix = xasprintf("servicenetworking/services/%s/connections/", req->params[0]);
    json_t *keys = emu_keys(emu, prefix), *k, *items = json_array();
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *s = json_string_value(k);
        if (want && strcmp(s + strlen(prefix), want) != 0) continue;
        json_array_append_new(items, emu_strip(emu_get(emu, s)));
    }
    resp->body = json_object();
    if (json_array_size(items)) json_object_set(resp->body, "connections", items);
    json_decref(items);
    json_decref(keys);
    free(prefix);
    free(want);
}

static void conn_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *svc = req->params[0];
    if (emu_validate(resp, "servicenetworking", "Connection", req->body) < 0 ||
        check_body(resp, req->body) < 0)
        return;
    char *key = conn_key(emu, svc, json_string_value(json_object_get(req->body, "network")));
    json_t *cur = emu_get(emu, key);
    if (!cur) {
        emu_not_found(resp, "Connection for network %s not found.",
                      json_string_value(json_object_get(req->body, "network")));
    } else {
        json_t *c = json_deep_copy(cur);
        const char *mask = emu_q(req, "updateMask");
        if (!mask || strstr(mask, "reservedPeeringRanges"))
            json_object_set(c, "reservedPeeringRanges", json_object_get(req->body, "reservedPeeringRanges"));
        resp->body = start_op(emu, key, NULL, c, "servicenetworking.connections.patch");
        json_decref(c);
    }
    free(key);
}

static void conn_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *net = json_string_value(json_object_get(req->body, "consumerNetwork"));
    if (!net) {
        emu_bad_request(resp, "consumerNetwork is required.");
        return;
    }
    char *key = conn_key(emu, req->params[0], net);
    json_t *cur = emu_get(emu, key);
    if (!cur)
        emu_not_found(resp, "Connection for network %s not found.", net);
    else
        resp->body = start_op(emu, NULL, key, cur, "servicenetworking.connections.delete");
    free(key);
}

static void op_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = xasprintf("servicenetworking/operations/%s", req->params[0]);
    json_t *op = emu_load(emu, resp, &key, "Operation operations/%s not found.", req->params[0]);
    if (op) resp->body = emu_strip(op);
    free(key);
}

static void init(emu_t *emu) {
    emu_resume_ops(emu, "servicenetworking/operations/", NULL, op_finish);
}

static const emu_route_t routes[] = {
    {"POST", "v1/services/{s}/connections", conn_create},
    {"GET", "v1/services/{s}/connections", conn_list},
    {"PATCH", "v1/services/{s}/connections/{c}", conn_patch},
    /* deleteConnection: the generated client's path is v1/{+name} (no
     * verb suffix); the ":deleteConnection" form is accepted too. */
    {"POST", "v1/services/{s}/connections/{c}", conn_delete},
    {"POST", "v1/services/{s}/connections/{c}:deleteConnection", conn_delete},
    {"GET", "v1/operations/{op}", op_get},
};

const emu_api_t emu_api_servicenetworking = {"servicenetworking", routes, sizeof routes / sizeof routes[0],
                                             init};
