/* container_pools.c: GKE node pools: defaults, create/get/list and the
 * mutating verbs (update, setSize, setAutoscaling, setManagement, delete),
 * each behind a cluster operation (see emu_container.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/catalog.h"
#include "emulator/emu_container.h"

void emu_gke_pool_defaults(json_t *np, const json_t *c, const char *p, const char *l, const char *cname) {
    const char *name = json_string_value(json_object_get(np, "name"));
    json_t *cfg = json_object_get(np, "config");
    if (!json_is_object(cfg)) {
        cfg = json_object();
        json_object_set_new(np, "config", cfg);
    }
    emu_set_default(cfg, "machineType", json_string("e2-medium"));
    emu_set_default(cfg, "diskSizeGb", json_integer(100));
    emu_set_default(cfg, "diskType", json_string("pd-balanced"));
    emu_set_default(cfg, "imageType", json_string("COS_CONTAINERD"));
    emu_set_default(cfg, "serviceAccount", json_string("default"));
    emu_set_default(cfg, "oauthScopes",
                    json_pack("[s,s,s,s,s,s]", "https://www.googleapis.com/auth/devstorage.read_only",
                              "https://www.googleapis.com/auth/logging.write",
                              "https://www.googleapis.com/auth/monitoring",
                              "https://www.googleapis.com/auth/servicecontrol",
                              "https://www.googleapis.com/auth/service.management.readonly",
                              "https://www.googleapis.com/auth/trace.append"));
    emu_set_default(cfg, "metadata", json_pack("{s:s}", "disable-legacy-endpoints", "true"));
    emu_set_default(cfg, "shieldedInstanceConfig", json_pack("{s:b}", "enableIntegrityMonitoring", 1));
    emu_set_default(np, "initialNodeCount", json_integer(json_object_get(np, "autoscaling") ? 1 : 3));
    json_object_set_new(np, "plinth:nodeCount",
                        json_integer(json_integer_value(json_object_get(np, "initialNodeCount"))));
    emu_set_default(np, "locations", json_deep_copy(json_object_get(c, "locations")));
    json_object_set_new(
        np, "version",
        json_string(json_string_value(json_object_get(c, "currentNodeVersion")) ?: DEFAULT_VERSION));
    json_object_set_new(np, "status", json_string("PROVISIONING"));
    char *self = xasprintf(API_BASE "/projects/%s/locations/%s/clusters/%s/nodePools/%s", p, l, cname, name);
    json_object_set_new(np, "selfLink", json_string(self));
    free(self);
    json_t *igs = json_array(), *z;
    size_t i;
    char h[9];
    emu_gke_hex8(h);
    json_array_foreach(json_object_get(np, "locations"), i, z) {
        char *u = xasprintf("https://www.googleapis.com/compute/v1/projects/%s/zones/%s/"
                            "instanceGroupManagers/gke-%.16s-%.16s-%s-grp",
                            p, json_string_value(z), cname, name, h);
        json_array_append_new(igs, json_string(u));
        free(u);
    }
    json_object_set_new(np, "instanceGroupUrls", igs);
    json_t *mg = json_pack("{s:b,s:b}", "autoUpgrade", 1, "autoRepair", 1);
    json_object_update(mg, json_object_get(np, "management"));
    json_object_set_new(np, "management", mg);
    emu_set_default(np, "upgradeSettings",
                    json_pack("{s:i,s:i,s:s}", "maxSurge", 1, "maxUnavailable", 0, "strategy", "SURGE"));
    emu_set_default(np, "maxPodsConstraint", json_pack("{s:s}", "maxPodsPerNode", "110"));
    emu_set_default(np, "podIpv4CidrSize", json_integer(24));
    json_object_set_new(np, "etag", json_string(h));
}

int emu_gke_pool_check(const json_t *np, const char *loc, emu_resp_t *resp) {
    const char *mt = json_string_value(json_object_get(json_object_get(np, "config"), "machineType"));
    if (mt && !emu_machine_find(mt)) {
        emu_bad_request(resp, "Invalid machine type \"%s\" in zone \"%s\": the machine type does not exist.",
                        mt, loc);
        return -1;
    }
    json_t *acc, *accs = json_object_get(json_object_get(np, "config"), "accelerators");
    size_t i;
    json_array_foreach(accs, i, acc) {
        const char *t = json_string_value(json_object_get(acc, "acceleratorType"));
        if (!emu_accelerator_valid(t)) {
            emu_bad_request(resp, "Accelerator type \"%s\" does not exist in zone %s.", t ? t : "", loc);
            return -1;
        }
    }
    return 0;
}

void emu_gke_pool_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "container", "CreateNodePoolRequest", req->body) < 0) return;
    json_t *in = json_object_get(req->body, "nodePool");
    if (emu_gke_pool_check(in, req->params[1], resp) < 0) return;
    const char *name = json_string_value(json_object_get(in, "name"));
    if (!emu_gke_valid_name(name, 40)) {
        emu_bad_request(resp, "Invalid value for field \"node_pool.name\": \"%s\".", name ? name : "");
        return;
    }
    char *key;
    json_t *c = emu_gke_load_cluster(emu, req, resp, &key);
    if (!c) return;
    if (emu_gke_find_pool(c, name, NULL)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists",
                  "Already exists: projects/%s/locations/%s/clusters/%s/nodePools/%s.", req->params[0],
                  req->params[1], req->params[2], name);
        goto out;
    }
    if (emu_gke_refuse_if_busy(emu, c, resp) < 0) goto out;
    json_t *np = json_deep_copy(in);
    emu_gke_pool_defaults(np, c, req->params[0], req->params[1], req->params[2]);
    json_t *pools = json_object_get(c, "nodePools");
    if (!pools) {
        pools = json_array();
        json_object_set_new(c, "nodePools", pools);
    }
    json_array_append_new(pools, np);
    json_object_set_new(c, "status", json_string("RECONCILING"));
    emu_gke_recount(c);
    resp->body = emu_gke_start_op(emu, req->params[0], req->params[1], key, c, "CREATE_NODE_POOL",
                                  json_string_value(json_object_get(np, "selfLink")),
                                  "container.nodePools.create", name);
    emu_put(emu, key, c);
    c = NULL;
out:
    json_decref(c);
    free(key);
}

/* Loads cluster + pool for routes {p}/{l}/{c}/{np}. */
static json_t *load_pool(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key, json_t **np) {
    json_t *c = emu_gke_load_cluster(emu, req, resp, key);
    if (!c) return NULL;
    *np = emu_gke_find_pool(c, req->params[3], NULL);
    if (!*np) {
        emu_not_found(resp, "Not found: projects/%s/locations/%s/clusters/%s/nodePools/%s.", req->params[0],
                      req->params[1], req->params[2], req->params[3]);
        json_decref(c);
        free(*key);
        return NULL;
    }
    return c;
}

void emu_gke_pool_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *np, *c = load_pool(emu, req, resp, &key, &np);
    if (!c) return;
    resp->body = emu_strip_deep(np);
    json_decref(c);
    free(key);
}

void emu_gke_pool_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *c = emu_gke_load_cluster(emu, req, resp, &key);
    if (!c) return;
    json_t *pools = json_object_get(c, "nodePools");
    resp->body = json_pack("{s:o}", "nodePools", pools ? emu_strip_deep(pools) : json_array());
    json_decref(c);
    free(key);
}

/* Node pool mutations: fn changes np (in c); returns the op type or NULL
 * after filling an error. */
typedef const char *(*pool_mut_fn)(json_t *c, json_t *np, const json_t *body, emu_resp_t *resp);

static void pool_mutate(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const char *msg, pool_mut_fn fn) {
    if (emu_validate(resp, "container", msg, req->body) < 0) return;
    char *key;
    json_t *np, *c = load_pool(emu, req, resp, &key, &np);
    if (!c) return;
    if (emu_gke_refuse_if_busy(emu, c, resp) == 0) {
        json_t *empty = json_object();
        const char *type = fn(c, np, req->body ? req->body : empty, resp);
        json_decref(empty);
        if (type) {
            char h[9];
            emu_gke_hex8(h);
            json_object_set_new(np, "etag", json_string(h));
            if (strcmp(type, "DELETE_NODE_POOL") != 0)
                json_object_set_new(np, "status", json_string("RECONCILING"));
            json_object_set_new(c, "status", json_string("RECONCILING"));
            emu_gke_recount(c);
            const char *kind = !strcmp(type, "DELETE_NODE_POOL") ? "container.nodePools.delete"
                                                                 : "container.nodePools.update";
            resp->body =
                emu_gke_start_op(emu, req->params[0], req->params[1], key, c, type,
                                 json_string_value(json_object_get(np, "selfLink")), kind, req->params[3]);
            emu_put(emu, key, c);
            c = NULL;
        }
    }
    json_decref(c);
    free(key);
}

static const char *mut_size(json_t *c, json_t *np, const json_t *body, emu_resp_t *resp) {
    json_t *n = json_object_get(body, "nodeCount");
    if (!json_is_integer(n) || json_integer_value(n) < 0) {
        emu_bad_request(resp, "Invalid value for field \"node_count\": must be a non-negative integer.");
        return NULL;
    }
    json_object_set(np, "plinth:nodeCount", n);
    return "SET_NODE_POOL_SIZE";
}

/* Copies the required object body[field] into np; returns type. */
static const char *set_object(json_t *np, const json_t *body, const char *field, const char *type,
                              emu_resp_t *resp) {
    json_t *v = json_object_get(body, field);
    if (!json_is_object(v)) {
        emu_bad_request(resp, "Field \"%s\" is required.", field);
        return NULL;
    }
    json_object_set(np, field, v);
    return type;
}

static const char *mut_autoscaling(json_t *c, json_t *np, const json_t *body, emu_resp_t *resp) {
    return set_object(np, body, "autoscaling", "UPDATE_CLUSTER", resp);
}

static const char *mut_management(json_t *c, json_t *np, const json_t *body, emu_resp_t *resp) {
    return set_object(np, body, "management", "SET_NODE_POOL_MANAGEMENT", resp);
}

static const char *mut_delete(json_t *c, json_t *np, const json_t *body, emu_resp_t *resp) {
    json_object_set_new(np, "status", json_string("STOPPING"));
    return "DELETE_NODE_POOL";
}

/* UpdateNodePoolRequest: wrapper messages -> node config fields. */
static const char *mut_update(json_t *c, json_t *np, const json_t *body, emu_resp_t *resp) {
    static const struct {
        const char *field, *inner;
    } wrapped[] = {{"labels", "labels"},
                   {"taints", "taints"},
                   {"tags", "tags"},
                   {"resourceLabels", "labels"},
                   {"resourceManagerTags", "tags"}};
    static const char *const skip[] = {"name",       "projectId",   "zone",      "clusterId",
                                       "nodePoolId", "nodeVersion", "locations", "upgradeSettings",
                                       "etag",       NULL};
    const char *type = "UPDATE_CLUSTER";
    const char *etag = json_string_value(json_object_get(body, "etag"));
    if (etag && *etag && strcmp(etag, json_string_value(json_object_get(np, "etag")) ?: "")) {
        emu_error(resp, 409, "ABORTED", "aborted", "Node pool etag %s does not match.", etag);
        return NULL;
    }
    json_t *cfg = json_object_get(np, "config");
    const char *nv = json_string_value(json_object_get(body, "nodeVersion"));
    if (nv && *nv) {
        const char *ver = emu_gke_resolve_version(nv);
        if (!ver) {
            emu_bad_request(resp, "Node version \"%s\" is unsupported.", nv);
            return NULL;
        }
        if (strcmp(ver, json_string_value(json_object_get(np, "version")) ?: "")) {
            json_object_set_new(np, "version", json_string(ver));
            type = "UPGRADE_NODES";
        }
    }
    if (json_array_size(json_object_get(body, "locations")))
        json_object_set(np, "locations", json_object_get(body, "locations"));
    if (json_object_get(body, "upgradeSettings"))
        json_object_set(np, "upgradeSettings", json_object_get(body, "upgradeSettings"));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        int s = 0;
        for (size_t i = 0; skip[i]; i++)
            s |= !strcmp(skip[i], k);
        if (s) continue;
        json_t *val = v;
        for (size_t i = 0; i < sizeof wrapped / sizeof wrapped[0]; i++)
            if (!strcmp(wrapped[i].field, k) && json_is_object(v))
                val = json_object_get(v, wrapped[i].inner) ?: json_null();
        if (json_is_null(val))
            json_object_del(cfg, k);
        else
            json_object_set(cfg, k, val);
    }
    return type;
}

#define POOLVERB(fn, msg, mut)                                                                               \
    void fn(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {                                            \
        pool_mutate(emu, req, resp, msg, mut);                                                               \
    }
POOLVERB(emu_gke_pool_set_size, "SetNodePoolSizeRequest", mut_size)
POOLVERB(emu_gke_pool_set_autoscaling, "SetNodePoolAutoscalingRequest", mut_autoscaling)
POOLVERB(emu_gke_pool_set_management, "SetNodePoolManagementRequest", mut_management)
POOLVERB(emu_gke_pool_update, "UpdateNodePoolRequest", mut_update)
POOLVERB(emu_gke_pool_delete, "DeleteNodePoolRequest", mut_delete)
