/* api_compute.c: the emulated Compute Engine v1 API: networks,
 * subnetworks, firewalls, routers (with NAT), global addresses, instances
 * and their global/regional/zonal operations.  Resources live under
 * "compute/projects/..." keys (the path of their selfLink); mutations
 * return an Operation that goes RUNNING -> DONE after emu_duration. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

#define SELF_BASE "https://www.googleapis.com/compute/v1/"

typedef enum { SC_GLOBAL, SC_REGION, SC_ZONE } scope_t;

typedef struct coll coll_t;
/* Where a request points: project, region/zone (or NULL), name. */
typedef struct target {
    const char *project, *loc, *name;
} target_t;

struct coll {
    const char *name;      /* "networks" (URL collection) */
    const char *msg;       /* schema message: "Network" */
    const char *kind;      /* "compute#network" */
    const char *list_kind; /* "compute#networkList" */
    scope_t scope;
    /* Fills server defaults and output fields of a new resource; -1 on a
     * refused request (resp filled). */
    int (*prepare)(emu_t *emu, const target_t *t, json_t *doc, emu_resp_t *resp);
    const char *const *immutable; /* refused on patch/update */
    const char *const *output;    /* ignored in patch bodies */
};

/* ---- small helpers ---------------------------------------------------- */

static const char *scope_seg(scope_t s) {
    return s == SC_REGION ? "regions" : s == SC_ZONE ? "zones" : "global";
}

/* "projects/p/global/networks" or "projects/p/regions/r/subnetworks". */
static char *coll_path(const coll_t *c, const target_t *t) {
    if (c->scope == SC_GLOBAL) return xasprintf("projects/%s/global/%s", t->project, c->name);
    return xasprintf("projects/%s/%s/%s/%s", t->project, scope_seg(c->scope), t->loc, c->name);
}

static target_t target_of(const coll_t *c, const emu_req_t *req, int with_name) {
    target_t t = {req->params[0], NULL, NULL};
    size_t i = 1;
    if (c->scope != SC_GLOBAL) t.loc = req->params[i++];
    if (with_name && i < req->nparams) t.name = req->params[i];
    return t;
}

static int valid_name(const char *n) {
    size_t len = strlen(n);
    if (len < 1 || len > 63 || n[0] < 'a' || n[0] > 'z') return 0;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-')) return 0;
    return n[len - 1] != '-';
}

static char *new_id(emu_t *emu) {
    return xasprintf("%lld", (long long)(1234567890123456789LL + emu_next_id(emu, "compute.id") * 1000003LL));
}

static char *new_fingerprint(void) {
    /* 8 random bytes, base64-ish like the real API's fingerprints. */
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char hex[17];
    util_random_hex(hex, 8);
    char *out = xmalloc(13);
    for (int i = 0; i < 11; i++)
        out[i] = b64[(unsigned char)hex[i] * 7 % 64 ^ (unsigned char)hex[(i + 5) % 16] % 64];
    out[11] = '=';
    out[12] = '\0';
    return out;
}

/* Reference in any accepted form -> full selfLink ("https://www.googleapis.com/compute/v1/projects/...").
 * coll: "global/networks" for bare names.  New string. */
static char *norm_ref(const char *project, const char *v, const char *coll) {
    const char *p = strstr(v, "projects/");
    if (strstr(v, "://") && p) return xasprintf(SELF_BASE "%s", p);
    if (strncmp(v, "projects/", 9) == 0) return xasprintf(SELF_BASE "%s", v);
    if (!strncmp(v, "global/", 7) || !strncmp(v, "regions/", 8) || !strncmp(v, "zones/", 6))
        return xasprintf(SELF_BASE "projects/%s/%s", project, v);
    return xasprintf(SELF_BASE "projects/%s/%s/%s", project, coll, v);
}

/* Store key of a full selfLink. */
static char *ref_key(const char *url) {
    const char *p = strstr(url, "projects/");
    return xasprintf("compute/%s", p ? p : url);
}

static void norm_field(json_t *doc, const char *field, const char *project, const char *coll) {
    const char *v = json_string_value(json_object_get(doc, field));
    if (!v) return;
    char *n = norm_ref(project, v, coll);
    json_object_set_new(doc, field, json_string(n));
    free(n);
}

static int parse_cidr(const char *cidr, uint32_t *base, int *prefix) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s", cidr ? cidr : "");
    char *slash = strchr(buf, '/');
    if (!slash) return -1;
    *slash = '\0';
    char *end = NULL;
    long pl = strtol(slash + 1, &end, 10);
    struct in_addr a;
    if (*end || pl < 8 || pl > 29 || inet_pton(AF_INET, buf, &a) != 1) return -1;
    *base = ntohl(a.s_addr);
    *prefix = (int)pl;
    uint32_t mask = pl == 0 ? 0 : 0xffffffffu << (32 - pl);
    return (*base & ~mask) ? -1 : 0;
}

static void ip_str(uint32_t ip, char out[16]) {
    struct in_addr a = {htonl(ip)};
    inet_ntop(AF_INET, &a, out, 16);
}

/* ---- operations ------------------------------------------------------- */

static void op_finish(emu_t *emu, const char *key) {
    json_t *op = emu_get(emu, key);
    if (!op || !strcmp(json_string_value(json_object_get(op, "status")) ?: "", "DONE")) return;
    json_t *after = json_object_get(op, "_emu");
    json_t *del = json_object_get(after, "delete"), *d;
    size_t di;
    if (json_is_string(del)) emu_del(emu, json_string_value(del));
    json_array_foreach(del, di, d) {
        emu_del(emu, json_string_value(d));
    }
    const char *setkey = json_string_value(json_object_get(after, "key"));
    json_t *set = json_object_get(after, "set");
    json_t *doc = setkey ? emu_get(emu, setkey) : NULL;
    if (doc && json_is_object(set)) json_object_update(doc, set);
    json_object_set_new(op, "status", json_string("DONE"));
    json_object_set_new(op, "progress", json_integer(100));
    json_object_set_new(op, "endTime", json_string(emu_now()));
    json_object_del(op, "_emu");
    emu_put(emu, key, json_incref(op)); /* marks dirty */
}

/* Creates a RUNNING operation on target (selfLink + id) and arms its
 * timer.  after: {"delete": key} or {"key": k, "set": {...}} applied at
 * DONE (stolen; may be NULL).  Returns the response body (new). */
static json_t *op_start(emu_t *emu, scope_t scope, const target_t *t, const char *optype, const char *kind,
                        const char *target_link, const char *target_id, json_t *after) {
    char *name = emu_op_id(emu);
    char *path = scope == SC_GLOBAL ? xasprintf("projects/%s/global/operations/%s", t->project, name)
                                    : xasprintf("projects/%s/%s/%s/operations/%s", t->project,
                                                scope_seg(scope), t->loc, name);
    char *id = new_id(emu);
    json_t *op = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s}", "kind", "compute#operation", "id",
                           id, "name", name, "operationType", optype, "targetLink", target_link, "status",
                           "RUNNING", "user", "emulator@plinth.local", "progress", 0, "insertTime", emu_now(),
                           "startTime", emu_now(), "selfLink", "");
    char *self = xasprintf(SELF_BASE "%s", path);
    json_object_set_new(op, "selfLink", json_string(self));
    if (target_id) json_object_set_new(op, "targetId", json_string(target_id));
    if (scope != SC_GLOBAL) {
        char *loc = xasprintf(SELF_BASE "projects/%s/%s/%s", t->project, scope_seg(scope), t->loc);
        json_object_set_new(op, scope == SC_REGION ? "region" : "zone", json_string(loc));
        free(loc);
    }
    json_t *out = emu_render(op);
    if (after) json_object_set_new(op, "_emu", after);
    char *key = xasprintf("compute/%s", path);
    emu_put(emu, key, op);
    emu_after(emu, emu_duration(emu, kind), op_finish, key);
    free(key);
    free(self);
    free(id);
    free(path);
    free(name);
    return out;
}

static void op_get_scoped(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, scope_t scope, int wait) {
    char *key = scope == SC_GLOBAL
                    ? xasprintf("compute/projects/%s/global/operations/%s", req->params[0], req->params[1])
                    : xasprintf("compute/projects/%s/%s/%s/operations/%s", req->params[0], scope_seg(scope),
                                req->params[1], req->params[2]);
    json_t *op = emu_get(emu, key);
    if (!op) {
        emu_not_found(resp, "The resource '%s' was not found", key + strlen("compute/"));
    } else {
        /* wait: the real call blocks until DONE (<= 2 min); handlers may
         * not block, so the operation completes now. */
        if (wait) op_finish(emu, key);
        resp->body = emu_render(emu_get(emu, key));
    }
    free(key);
}

static void h_gop_get(emu_t *e, const emu_req_t *r, emu_resp_t *s) {
    op_get_scoped(e, r, s, SC_GLOBAL, 0);
}
static void h_gop_wait(emu_t *e, const emu_req_t *r, emu_resp_t *s) {
    op_get_scoped(e, r, s, SC_GLOBAL, 1);
}
static void h_rop_get(emu_t *e, const emu_req_t *r, emu_resp_t *s) {
    op_get_scoped(e, r, s, SC_REGION, 0);
}
static void h_rop_wait(emu_t *e, const emu_req_t *r, emu_resp_t *s) {
    op_get_scoped(e, r, s, SC_REGION, 1);
}
static void h_zop_get(emu_t *e, const emu_req_t *r, emu_resp_t *s) {
    op_get_scoped(e, r, s, SC_ZONE, 0);
}
static void h_zop_wait(emu_t *e, const emu_req_t *r, emu_resp_t *s) {
    op_get_scoped(e, r, s, SC_ZONE, 1);
}

/* requestId: a retried mutation with the same id gets the first one's
 * operation instead of acting twice.  Returns 1 when answered. */
static int replayed(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *rid = emu_q(req, "requestId");
    if (!rid || !*rid) return 0;
    char *key = xasprintf("compute-requests/%s/%s", req->params[0], rid);
    const char *opkey = json_string_value(json_object_get(emu_get(emu, key), "op"));
    json_t *op = opkey ? emu_get(emu, opkey) : NULL;
    free(key);
    if (!op) return 0;
    resp->body = emu_render(op);
    return 1;
}

static void remember(emu_t *emu, const emu_req_t *req, const emu_resp_t *resp) {
    const char *rid = emu_q(req, "requestId");
    const char *self = json_string_value(json_object_get(resp->body, "selfLink"));
    if (!rid || !*rid || resp->status != 200 || !self || !strstr(self, "/operations/")) return;
    char *key = xasprintf("compute-requests/%s/%s", req->params[0], rid);
    char *opkey = ref_key(self);
    emu_put(emu, key, json_pack("{s:s}", "op", opkey));
    free(opkey);
    free(key);
}

/* ---- generic collection methods --------------------------------------- */

static json_t *load(emu_t *emu, const coll_t *c, const target_t *t, emu_resp_t *resp, char **key_out) {
    char *cp = coll_path(c, t);
    char *key = xasprintf("compute/%s/%s", cp, t->name);
    json_t *doc = emu_get(emu, key);
    if (!doc) emu_not_found(resp, "The resource '%s/%s' was not found", cp, t->name);
    free(cp);
    if (doc && key_out)
        *key_out = key;
    else
        free(key);
    return doc;
}

static void c_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const coll_t *c) {
    target_t t = target_of(c, req, 1);
    json_t *doc = load(emu, c, &t, resp, NULL);
    if (doc) resp->body = emu_render(doc);
}

static void c_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const coll_t *c) {
    target_t t = target_of(c, req, 0);
    char *cp = coll_path(c, &t);
    char *prefix = xasprintf("compute/%s/", cp);
    json_t *keys = emu_keys(emu, prefix), *items = json_array();
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        json_array_append_new(items, emu_render(emu_get(emu, json_string_value(k))));
    }
    char *next = NULL;
    json_t *page = emu_page(req, items, "maxResults", 500, &next);
    char *self = xasprintf(SELF_BASE "%s", cp);
    resp->body =
        json_pack("{s:s,s:s,s:o,s:s}", "kind", c->list_kind, "id", cp, "items", page, "selfLink", self);
    if (next) json_object_set_new(resp->body, "nextPageToken", json_string(next));
    free(next);
    free(self);
    json_decref(keys);
    json_decref(items);
    free(prefix);
    free(cp);
}

/* GET projects/{p}/aggregated/{coll}: items keyed "regions/r" / "zones/z". */
static void c_aggregated(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const coll_t *c) {
    char *prefix = xasprintf("compute/projects/%s/%s/", req->params[0], scope_seg(c->scope));
    json_t *keys = emu_keys(emu, prefix), *items = json_object();
    size_t i;
    json_t *k;
    char *seg = xasprintf("/%s/", c->name);
    json_array_foreach(keys, i, k) {
        const char *ks = json_string_value(k) + strlen(prefix); /* "r/subnetworks/n" */
        const char *s = strstr(ks, seg);
        if (!s || strchr(s + strlen(seg), '/')) continue;
        char *scope_key = xasprintf("%s/%.*s", scope_seg(c->scope), (int)(s - ks), ks);
        json_t *bucket = json_object_get(items, scope_key);
        if (!bucket) {
            bucket = json_pack("{s:[]}", c->name);
            json_object_set_new(items, scope_key, bucket);
        }
        json_array_append_new(json_object_get(bucket, c->name),
                              emu_render(emu_get(emu, json_string_value(k))));
        free(scope_key);
    }
    char *self = xasprintf(SELF_BASE "projects/%s/aggregated/%s", req->params[0], c->name);
    char *kind = xasprintf("compute#%sAggregatedList", c->list_kind + strlen("compute#"));
    char *dot = strstr(kind, "ListAggregatedList");
    if (dot) strcpy(dot, "AggregatedList");
    resp->body = json_pack("{s:s,s:s,s:o,s:s}", "kind", kind, "id", self, "items", items, "selfLink", self);
    free(kind);
    free(self);
    free(seg);
    json_decref(keys);
    free(prefix);
}

static void c_insert(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const coll_t *c) {
    target_t t = target_of(c, req, 0);
    if (!req->body) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required", "Required field 'resource' not specified");
        return;
    }
    if (emu_validate(resp, "compute", c->msg, req->body) < 0) return;
    const char *name = json_string_value(json_object_get(req->body, "name"));
    if (!name) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required",
                  "Invalid value for field 'resource.name': ''. Must be specified.");
        return;
    }
    if (!valid_name(name)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Invalid value for field 'resource.name': '%s'. Must be a match of regex "
                  "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'",
                  name);
        return;
    }
    t.name = name;
    char *cp = coll_path(c, &t);
    char *key = xasprintf("compute/%s/%s", cp, name);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists", "The resource '%s/%s' already exists", cp,
                  name);
        goto out;
    }
    json_t *doc = json_deep_copy(req->body);
    for (size_t i = 0; c->output && c->output[i]; i++)
        json_object_del(doc, c->output[i]);
    char *id = new_id(emu);
    char *self = xasprintf(SELF_BASE "%s/%s", cp, name);
    json_object_set_new(doc, "kind", json_string(c->kind));
    json_object_set_new(doc, "id", json_string(id));
    json_object_set_new(doc, "creationTimestamp", json_string(emu_now()));
    json_object_set_new(doc, "selfLink", json_string(self));
    if (c->scope != SC_GLOBAL) {
        char *loc = xasprintf(SELF_BASE "projects/%s/%s/%s", t.project, scope_seg(c->scope), t.loc);
        json_object_set_new(doc, c->scope == SC_REGION ? "region" : "zone", json_string(loc));
        free(loc);
    }
    if (c->prepare && c->prepare(emu, &t, doc, resp) < 0) {
        json_decref(doc);
    } else {
        json_t *after = json_object_get(doc, "_emu");
        if (after) json_incref(after), json_object_del(doc, "_emu");
        char *kind = xasprintf("compute.%s.insert", c->name);
        emu_put(emu, key, doc);
        resp->body = op_start(emu, c->scope, &t, "insert", kind, self, id, after);
        free(kind);
    }
    free(self);
    free(id);
out:
    free(key);
    free(cp);
}

/* Does a value name the same resource as url?  Other APIs write
 * references relatively and sometimes with the project number. */
static int same_ref(const char *v, const char *url, const char *project, const char *num) {
    if (!v) return 0;
    const char *tail = strstr(url, "/global/") ? strstr(url, "/global/") : strstr(url, "/regions/");
    const char *vt = strstr(v, "/global/") ? strstr(v, "/global/") : strstr(v, "/regions/");
    if (!tail || !vt || strcmp(tail, vt) != 0) return 0;
    char *a = xasprintf("projects/%s/", project), *b = xasprintf("projects/%s/", num);
    int ok = strstr(v, a) || strstr(v, b);
    free(a);
    free(b);
    return ok;
}

/* A GKE cluster, Cloud SQL instance, peering connection... that uses url. */
static const char *other_api_user(emu_t *emu, const char *project, const char *url, const char *field,
                                  char *found, size_t cap) {
    static const char *const nested[][2] = {{"networkConfig", NULL}, {"settings", "ipConfiguration"}};
    const char *num = emu_project_number(emu, project);
    json_t *keys = emu_keys(emu, "");
    const char *res = NULL;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *ks = json_string_value(k);
        if (!strncmp(ks, "compute", 7) || strstr(ks, "operations/") || !strncmp(ks, "oauth2/", 7)) continue;
        json_t *doc = emu_get(emu, ks);
        int hit = same_ref(json_string_value(json_object_get(doc, field)), url, project, num);
        for (size_t n = 0; !hit && n < 2; n++) {
            json_t *sub = json_object_get(doc, nested[n][0]);
            if (nested[n][1]) sub = json_object_get(sub, nested[n][1]);
            hit = same_ref(json_string_value(json_object_get(sub, field)), url, project, num) ||
                  (!strcmp(field, "network") &&
                   same_ref(json_string_value(json_object_get(sub, "privateNetwork")), url, project, num));
        }
        if (hit) {
            snprintf(found, cap, "%s", ks);
            res = found;
            break;
        }
    }
    json_decref(keys);
    return res;
}

/* Does any resource of the project refer to url (network/subnetwork)? */
static const char *user_of(emu_t *emu, const char *project, const char *url, const char *field) {
    char *prefix = xasprintf("compute/projects/%s/", project);
    json_t *keys = emu_keys(emu, prefix);
    static __thread char found[512];
    const char *res = NULL;
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *ks = json_string_value(k);
        if (strstr(ks, "/operations/")) continue;
        json_t *doc = emu_get(emu, ks);
        if (json_is_true(json_object_get(doc, "_auto")) && !strcmp(field, "network"))
            continue; /* auto-mode subnetworks go with their network */
        const char *v = json_string_value(json_object_get(doc, field));
        int hit = v && !strcmp(v, url);
        json_t *nics = json_object_get(doc, "networkInterfaces"), *nic;
        size_t j;
        json_array_foreach(nics, j, nic) {
            v = json_string_value(json_object_get(nic, field));
            if (v && !strcmp(v, url)) hit = 1;
        }
        if (hit) {
            snprintf(found, sizeof found, "%s", ks + strlen("compute/"));
            res = found;
            break;
        }
    }
    json_decref(keys);
    free(prefix);
    if (!res) res = other_api_user(emu, project, url, field, found, sizeof found);
    return res;
}

static void c_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const coll_t *c) {
    target_t t = target_of(c, req, 1);
    char *key = NULL;
    json_t *doc = load(emu, c, &t, resp, &key);
    if (!doc) return;
    const char *self = json_string_value(json_object_get(doc, "selfLink"));
    const char *field = !strcmp(c->name, "networks")      ? "network"
                        : !strcmp(c->name, "subnetworks") ? "subnetwork"
                                                          : NULL;
    const char *user = field ? user_of(emu, t.project, self, field) : NULL;
    if (user) {
        emu_error(resp, 400, "FAILED_PRECONDITION", "resourceInUseByAnotherResource",
                  "The %s resource '%s' is already being used by '%s'", c->name + 0, self + strlen(SELF_BASE),
                  user);
    } else {
        char *kind = xasprintf("compute.%s.delete", c->name);
        json_t *dels = json_pack("[s]", key);
        if (json_is_true(json_object_get(doc, "autoCreateSubnetworks"))) {
            json_t *subs = json_object_get(doc, "subnetworks"), *sv;
            size_t si;
            json_array_foreach(subs, si, sv) {
                char *sk = ref_key(json_string_value(sv));
                if (json_is_true(json_object_get(emu_get(emu, sk), "_auto")))
                    json_array_append_new(dels, json_string(sk));
                free(sk);
            }
        }
        resp->body =
            op_start(emu, c->scope, &t, "delete", kind, self, json_string_value(json_object_get(doc, "id")),
                     json_pack("{s:o}", "delete", dels));
        free(kind);
    }
    free(key);
}

/* PATCH (merge) or PUT (replace) of a resource. */
static void c_update(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const coll_t *c, int replace) {
    target_t t = target_of(c, req, 1);
    char *key = NULL;
    json_t *doc = load(emu, c, &t, resp, &key);
    if (!doc) return;
    if (!req->body) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required", "Required field 'resource' not specified");
        goto out;
    }
    if (emu_validate(resp, "compute", c->msg, req->body) < 0) goto out;
    json_t *body = json_deep_copy(req->body);
    static const char *const ref_fields[][2] = {{"network", "global/networks"},
                                                {"subnetwork", "regions/-/subnetworks"}};
    for (size_t i = 0; i < 2; i++)
        norm_field(body, ref_fields[i][0], t.project, ref_fields[i][1]);
    const char *scope_field = c->scope == SC_REGION ? "region" : c->scope == SC_ZONE ? "zone" : NULL;
    const char *sv = scope_field ? json_string_value(json_object_get(body, scope_field)) : NULL;
    if (sv && !strstr(sv, "/")) {
        char *u = xasprintf(SELF_BASE "projects/%s/%s/%s", t.project, scope_seg(c->scope), sv);
        json_object_set_new(body, scope_field, json_string(u));
        free(u);
    }
    /* Subnetworks (and anything with a fingerprint) need the current one. */
    const char *fp = json_string_value(json_object_get(doc, "fingerprint"));
    if (fp && !strcmp(c->name, "subnetworks")) {
        const char *sent = json_string_value(json_object_get(body, "fingerprint"));
        if (!sent || strcmp(sent, fp) != 0) {
            if (sent)
                emu_error(resp, 412, "FAILED_PRECONDITION", "conditionNotMet", "Invalid fingerprint.");
            else
                emu_error(resp, 400, "INVALID_ARGUMENT", "required",
                          "Required field 'fingerprint' not specified.");
            json_decref(body);
            goto out;
        }
    }
    if (emu_check_immutable(resp, doc, body, c->immutable) < 0) {
        json_decref(body);
        goto out;
    }
    for (size_t i = 0; c->output && c->output[i]; i++)
        json_object_del(body, c->output[i]);
    static const char *const keep[] = {"kind",   "id",   "creationTimestamp", "selfLink",       "name",
                                       "region", "zone", "fingerprint",       "gatewayAddress", "_auto",
                                       NULL};
    if (replace) {
        json_t *next = json_deep_copy(body);
        for (size_t i = 0; keep[i]; i++) {
            json_t *v = json_object_get(doc, keep[i]);
            if (v) json_object_set(next, keep[i], v);
        }
        json_object_clear(doc);
        json_object_update(doc, next);
        json_decref(next);
    } else {
        json_object_del(body, "name");
        emu_merge_patch(doc, body);
    }
    json_decref(body);
    if (json_object_get(doc, "fingerprint")) {
        char *nfp = new_fingerprint();
        json_object_set_new(doc, "fingerprint", json_string(nfp));
        free(nfp);
    }
    if (c->prepare) { /* re-apply defaults (e.g. NAT timeouts); errors ignored */
        emu_resp_t scratch;
        memset(&scratch, 0, sizeof scratch);
        c->prepare(emu, &t, doc, &scratch);
        json_decref(scratch.body);
    }
    json_object_del(doc, "_emu");
    emu_put(emu, key, json_incref(doc));
    char *kind = xasprintf("compute.%s.%s", c->name, replace ? "update" : "patch");
    resp->body = op_start(emu, c->scope, &t, replace ? "update" : "patch", kind,
                          json_string_value(json_object_get(doc, "selfLink")),
                          json_string_value(json_object_get(doc, "id")), NULL);
    free(kind);
out:
    free(key);
}

/* ---- per-type preparation ---------------------------------------------- */

static int need_ref(emu_t *emu, json_t *doc, const char *field, const char *project, const char *coll,
                    int required, emu_resp_t *resp) {
    if (!json_object_get(doc, field)) {
        if (!required) return 0;
        emu_error(resp, 400, "INVALID_ARGUMENT", "required",
                  "Invalid value for field 'resource.%s': ''. Must be specified.", field);
        return -1;
    }
    norm_field(doc, field, project, coll);
    const char *url = json_string_value(json_object_get(doc, field));
    if (!url) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid", "Invalid value for field 'resource.%s'.", field);
        return -1;
    }
    char *key = ref_key(url);
    int ok = emu_get(emu, key) != NULL;
    free(key);
    if (!ok) {
        emu_not_found(resp, "The resource '%s' was not found", url + strlen(SELF_BASE));
        return -1;
    }
    return 0;
}

/* Keeps a network's subnetworks[] in sync. */
static void net_subnets(emu_t *emu, const char *net_url, const char *sub_url, int add) {
    char *key = ref_key(net_url);
    json_t *net = emu_get(emu, key);
    if (net) {
        json_t *subs = json_object_get(net, "subnetworks");
        if (!subs) {
            subs = json_array();
            json_object_set_new(net, "subnetworks", subs);
        }
        size_t i;
        json_t *v;
        json_array_foreach(subs, i, v) {
            if (!strcmp(json_string_value(v), sub_url)) {
                json_array_remove(subs, i);
                break;
            }
        }
        if (add) json_array_append_new(subs, json_string(sub_url));
        emu_put(emu, key, json_incref(net));
    }
    free(key);
}

/* Auto-mode networks get one subnetwork per region, named after the
 * network, from 10.128.0.0/9 (a few regions only). */
static void auto_subnets(emu_t *emu, const target_t *t, json_t *net) {
    static const struct {
        const char *region;
        int octet;
    } regions[] = {{"us-central1", 128}, {"europe-west1", 132}, {"us-west1", 138},
                   {"asia-east1", 140},  {"us-east1", 142},     {"europe-west4", 164}};
    const char *name = json_string_value(json_object_get(net, "name"));
    const char *self = json_string_value(json_object_get(net, "selfLink"));
    json_t *list = json_array();
    for (size_t i = 0; i < sizeof regions / sizeof regions[0]; i++) {
        char cidr[32], gw[16];
        snprintf(cidr, sizeof cidr, "10.%d.0.0/20", regions[i].octet);
        snprintf(gw, sizeof gw, "10.%d.0.1", regions[i].octet);
        char *path = xasprintf("projects/%s/regions/%s/subnetworks/%s", t->project, regions[i].region, name);
        char *sub_self = xasprintf(SELF_BASE "%s", path);
        char *region = xasprintf(SELF_BASE "projects/%s/regions/%s", t->project, regions[i].region);
        char *id = new_id(emu), *fp = new_fingerprint(), *key = xasprintf("compute/%s", path);
        if (!emu_get(emu, key)) {
            emu_put(emu, key,
                    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b,s:s,s:s,s:b}", "kind",
                              "compute#subnetwork", "id", id, "creationTimestamp", emu_now(), "name", name,
                              "network", self, "ipCidrRange", cidr, "gatewayAddress", gw, "region", region,
                              "selfLink", sub_self, "fingerprint", fp, "privateIpGoogleAccess", 0, "purpose",
                              "PRIVATE", "stackType", "IPV4_ONLY", "_auto", 1));
            json_array_append_new(list, json_string(sub_self));
        }
        free(key);
        free(fp);
        free(id);
        free(region);
        free(sub_self);
        free(path);
    }
    json_object_set_new(net, "subnetworks", list);
}

static int prep_network(emu_t *emu, const target_t *t, json_t *doc, emu_resp_t *resp) {
    if (!json_object_get(doc, "autoCreateSubnetworks") && !json_object_get(doc, "IPv4Range") &&
        !json_object_get(doc, "gatewayIPv4")) {
        /* Omitted autoCreateSubnetworks means a legacy network. */
        json_object_set_new(doc, "IPv4Range", json_string("10.240.0.0/16"));
        json_object_set_new(doc, "gatewayIPv4", json_string("10.240.0.1"));
    }
    if (!json_object_get(doc, "mtu")) json_object_set_new(doc, "mtu", json_integer(1460));
    json_t *rc = json_object_get(doc, "routingConfig");
    if (!json_is_object(rc)) {
        rc = json_object();
        json_object_set_new(doc, "routingConfig", rc);
    }
    if (!json_object_get(rc, "routingMode")) json_object_set_new(rc, "routingMode", json_string("REGIONAL"));
    if (!json_object_get(doc, "networkFirewallPolicyEnforcementOrder"))
        json_object_set_new(doc, "networkFirewallPolicyEnforcementOrder",
                            json_string("AFTER_CLASSIC_FIREWALL"));
    const char *self = json_string_value(json_object_get(doc, "selfLink"));
    const char *id = json_string_value(json_object_get(doc, "id"));
    int inserting = !json_object_get(doc, "selfLinkWithId");
    if (inserting && json_is_true(json_object_get(doc, "autoCreateSubnetworks"))) auto_subnets(emu, t, doc);
    if (self && id && !json_object_get(doc, "selfLinkWithId")) {
        char *s = xasprintf("%.*s%s", (int)(strrchr(self, '/') - self + 1), self, id);
        json_object_set_new(doc, "selfLinkWithId", json_string(s));
        free(s);
    }
    return 0;
}

static int prep_subnetwork(emu_t *emu, const target_t *t, json_t *doc, emu_resp_t *resp) {
    if (json_object_get(doc, "fingerprint") && json_object_get(doc, "gatewayAddress"))
        return 0; /* update: nothing to derive */
    if (need_ref(emu, doc, "network", t->project, "global/networks", 1, resp) < 0) return -1;
    uint32_t base;
    int prefix;
    const char *cidr = json_string_value(json_object_get(doc, "ipCidrRange"));
    if (!cidr || parse_cidr(cidr, &base, &prefix) < 0) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Invalid value for field 'resource.ipCidrRange': '%s'. Invalid IPCidrRange.",
                  cidr ? cidr : "");
        return -1;
    }
    json_t *ranges = json_object_get(doc, "secondaryIpRanges"), *r;
    size_t i;
    json_array_foreach(ranges, i, r) {
        const char *rc = json_string_value(json_object_get(r, "ipCidrRange"));
        uint32_t b2;
        int p2;
        if (!json_object_get(r, "rangeName") || !rc || parse_cidr(rc, &b2, &p2) < 0) {
            emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                      "Invalid value for field 'resource.secondaryIpRanges[%zu]'.", i);
            return -1;
        }
    }
    char gw[16];
    ip_str(base + 1, gw);
    json_object_set_new(doc, "gatewayAddress", json_string(gw));
    char *fp = new_fingerprint();
    json_object_set_new(doc, "fingerprint", json_string(fp));
    free(fp);
    if (!json_object_get(doc, "privateIpGoogleAccess"))
        json_object_set_new(doc, "privateIpGoogleAccess", json_false());
    if (!json_object_get(doc, "purpose")) json_object_set_new(doc, "purpose", json_string("PRIVATE"));
    if (!json_object_get(doc, "stackType")) json_object_set_new(doc, "stackType", json_string("IPV4_ONLY"));
    net_subnets(emu, json_string_value(json_object_get(doc, "network")),
                json_string_value(json_object_get(doc, "selfLink")), 1);
    return 0;
}

static int prep_firewall(emu_t *emu, const target_t *t, json_t *doc, emu_resp_t *resp) {
    if (!json_object_get(doc, "network"))
        json_object_set_new(doc, "network", json_string("global/networks/default"));
    if (need_ref(emu, doc, "network", t->project, "global/networks", 1, resp) < 0) return -1;
    if (!json_object_get(doc, "priority")) json_object_set_new(doc, "priority", json_integer(1000));
    if (!json_object_get(doc, "direction")) json_object_set_new(doc, "direction", json_string("INGRESS"));
    if (!json_object_get(doc, "disabled")) json_object_set_new(doc, "disabled", json_false());
    if (!json_object_get(doc, "logConfig"))
        json_object_set_new(doc, "logConfig", json_pack("{s:b}", "enable", 0));
    const char *dir = json_string_value(json_object_get(doc, "direction"));
    if (dir && !strcmp(dir, "INGRESS") && !json_object_get(doc, "sourceRanges") &&
        !json_object_get(doc, "sourceTags") && !json_object_get(doc, "sourceServiceAccounts"))
        json_object_set_new(doc, "sourceRanges", json_pack("[s]", "0.0.0.0/0"));
    if (dir && !strcmp(dir, "EGRESS") && !json_object_get(doc, "destinationRanges"))
        json_object_set_new(doc, "destinationRanges", json_pack("[s]", "0.0.0.0/0"));
    if (!json_object_get(doc, "allowed") && !json_object_get(doc, "denied")) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Invalid value for field 'resource': Exactly one of allowed or denied must be "
                  "specified.");
        return -1;
    }
    return 0;
}

static int prep_router(emu_t *emu, const target_t *t, json_t *doc, emu_resp_t *resp) {
    if (need_ref(emu, doc, "network", t->project, "global/networks", 1, resp) < 0) return -1;
    static const struct {
        const char *f;
        int v;
    } nat_defaults[] = {{"udpIdleTimeoutSec", 30},
                        {"icmpIdleTimeoutSec", 30},
                        {"tcpEstablishedIdleTimeoutSec", 1200},
                        {"tcpTransitoryIdleTimeoutSec", 30},
                        {"tcpTimeWaitTimeoutSec", 120}};
    json_t *nats = json_object_get(doc, "nats"), *nat;
    size_t i;
    json_array_foreach(nats, i, nat) {
        if (!json_object_get(nat, "name")) {
            emu_error(resp, 400, "INVALID_ARGUMENT", "required",
                      "Invalid value for field 'resource.nats[%zu].name': ''.", i);
            return -1;
        }
        for (size_t j = 0; j < sizeof nat_defaults / sizeof nat_defaults[0]; j++)
            if (!json_object_get(nat, nat_defaults[j].f))
                json_object_set_new(nat, nat_defaults[j].f, json_integer(nat_defaults[j].v));
        if (!json_object_get(nat, "type")) json_object_set_new(nat, "type", json_string("PUBLIC"));
        if (!json_object_get(nat, "enableEndpointIndependentMapping"))
            json_object_set_new(nat, "enableEndpointIndependentMapping", json_false());
    }
    return 0;
}

static int prep_address(emu_t *emu, const target_t *t, json_t *doc, emu_resp_t *resp) {
    if (json_object_get(doc, "address") && json_object_get(doc, "status")) return 0; /* update */
    if (need_ref(emu, doc, "network", t->project, "global/networks", 0, resp) < 0) return -1;
    const char *purpose = json_string_value(json_object_get(doc, "purpose"));
    if (!json_object_get(doc, "addressType"))
        json_object_set_new(
            doc, "addressType",
            json_string(purpose && !strcmp(purpose, "VPC_PEERING") ? "INTERNAL" : "EXTERNAL"));
    const char *type = json_string_value(json_object_get(doc, "addressType"));
    int internal = type && !strcmp(type, "INTERNAL");
    if (purpose && !strcmp(purpose, "VPC_PEERING") && !json_object_get(doc, "prefixLength"))
        json_object_set_new(doc, "prefixLength", json_integer(16));
    if (!json_object_get(doc, "address")) {
        char ip[16];
        int64_t n = emu_next_id(emu, internal ? "compute.range" : "compute.extip");
        if (internal)
            ip_str((10u << 24) | ((uint32_t)(100 + n % 150) << 16), ip);
        else
            ip_str((34u << 24) | ((uint32_t)(n / 250 % 250) << 8) | (uint32_t)(n % 250 + 1), ip);
        json_object_set_new(doc, "address", json_string(ip));
    }
    if (!internal && !json_object_get(doc, "networkTier"))
        json_object_set_new(doc, "networkTier", json_string("PREMIUM"));
    if (!json_object_get(doc, "ipVersion") && !internal)
        json_object_set_new(doc, "ipVersion", json_string("IPV4"));
    json_object_set_new(doc, "status", json_string("RESERVED"));
    json_object_set_new(doc, "labelFingerprint", json_string("42WmSpB8rSM="));
    return 0;
}

static int prep_instance(emu_t *emu, const target_t *t, json_t *doc, emu_resp_t *resp) {
    if (json_object_get(doc, "status")) return 0; /* update */
    const char *mt = json_string_value(json_object_get(doc, "machineType"));
    if (!mt) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required",
                  "Invalid value for field 'resource.machineType': ''. Must be specified.");
        return -1;
    }
    char *zcoll = xasprintf("zones/%s/machineTypes", t->loc);
    norm_field(doc, "machineType", t->project, zcoll);
    free(zcoll);
    json_t *nics = json_object_get(doc, "networkInterfaces");
    if (!json_is_array(nics) || json_array_size(nics) == 0) {
        nics = json_pack("[{s:s}]", "network", "global/networks/default");
        json_object_set_new(doc, "networkInterfaces", nics);
    }
    json_t *nic;
    size_t i;
    json_array_foreach(nics, i, nic) {
        char name[32];
        snprintf(name, sizeof name, "nic%zu", i);
        json_object_set_new(nic, "name", json_string(name));
        json_object_set_new(nic, "kind", json_string("compute#networkInterface"));
        if (!json_object_get(nic, "network") && !json_object_get(nic, "subnetwork"))
            json_object_set_new(nic, "network", json_string("global/networks/default"));
        if (json_object_get(nic, "subnetwork")) {
            char region[64];
            snprintf(region, sizeof region, "%s", t->loc);
            char *dash = strrchr(region, '-');
            if (dash) *dash = '\0';
            char *rc = xasprintf("regions/%s/subnetworks", region);
            if (need_ref(emu, nic, "subnetwork", t->project, rc, 1, resp) < 0) {
                free(rc);
                return -1;
            }
            free(rc);
            char *sk = ref_key(json_string_value(json_object_get(nic, "subnetwork")));
            json_t *sub = emu_get(emu, sk);
            free(sk);
            if (!json_object_get(nic, "network"))
                json_object_set(nic, "network", json_object_get(sub, "network"));
            uint32_t base;
            int prefix;
            if (!json_object_get(nic, "networkIP") &&
                parse_cidr(json_string_value(json_object_get(sub, "ipCidrRange")), &base, &prefix) == 0) {
                char ip[16];
                ip_str(base + 2 + (uint32_t)(emu_next_id(emu, "compute.nicip") % 200), ip);
                json_object_set_new(nic, "networkIP", json_string(ip));
            }
        }
        if (need_ref(emu, nic, "network", t->project, "global/networks", 1, resp) < 0) return -1;
        if (!json_object_get(nic, "networkIP")) {
            char ip[16];
            ip_str((10u << 24) | (128u << 16) | (uint32_t)(2 + emu_next_id(emu, "compute.nicip") % 250), ip);
            json_object_set_new(nic, "networkIP", json_string(ip));
        }
        json_t *acs = json_object_get(nic, "accessConfigs"), *ac;
        size_t j;
        json_array_foreach(acs, j, ac) {
            if (!json_object_get(ac, "type")) json_object_set_new(ac, "type", json_string("ONE_TO_ONE_NAT"));
            if (!json_object_get(ac, "name")) json_object_set_new(ac, "name", json_string("External NAT"));
            if (!json_object_get(ac, "networkTier"))
                json_object_set_new(ac, "networkTier", json_string("PREMIUM"));
            json_object_set_new(ac, "kind", json_string("compute#accessConfig"));
            if (!json_object_get(ac, "natIP")) {
                char ip[16];
                int64_t n = emu_next_id(emu, "compute.extip");
                ip_str((35u << 24) | (200u << 16) | ((uint32_t)(n / 250 % 250) << 8) |
                           (uint32_t)(n % 250 + 1),
                       ip);
                json_object_set_new(ac, "natIP", json_string(ip));
            }
        }
    }
    json_t *md = json_object_get(doc, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(doc, "metadata", md);
    }
    char *fp = new_fingerprint();
    json_object_set_new(md, "fingerprint", json_string(fp));
    json_object_set_new(md, "kind", json_string("compute#metadata"));
    free(fp);
    json_object_set_new(doc, "status", json_string("PROVISIONING"));
    if (!json_object_get(doc, "canIpForward")) json_object_set_new(doc, "canIpForward", json_false());
    if (!json_object_get(doc, "deletionProtection"))
        json_object_set_new(doc, "deletionProtection", json_false());
    char *key = ref_key(json_string_value(json_object_get(doc, "selfLink")));
    json_object_set_new(doc, "_emu", json_pack("{s:s,s:{s:s}}", "key", key, "set", "status", "RUNNING"));
    free(key);
    return 0;
}

/* ---- collections --------------------------------------------------------- */

static const char *const net_imm[] = {
    "name", "autoCreateSubnetworks", "IPv4Range", "internalIpv6Range", "description", NULL};
static const char *const net_out[] = {
    "id",          "selfLink", "selfLinkWithId", "creationTimestamp", "gatewayIPv4",
    "subnetworks", "peerings", "kind",           "firewallPolicy",    NULL};
static const char *const sub_imm[] = {"name", "network", "region", "ipCidrRange", NULL};
static const char *const sub_out[] = {"id",    "selfLink", "creationTimestamp", "gatewayAddress", "kind",
                                      "state", NULL};
static const char *const fw_imm[] = {"name", "direction", "network", NULL};
static const char *const std_out[] = {"id", "selfLink", "creationTimestamp", "kind", NULL};
static const char *const rt_imm[] = {"name", "network", "region", NULL};
static const char *const addr_imm[] = {"name",         "address", "purpose", "addressType",
                                       "prefixLength", "network", NULL};
static const char *const addr_out[] = {"id",     "selfLink", "creationTimestamp", "kind",
                                       "status", "users",    "labelFingerprint",  NULL};
static const char *const inst_imm[] = {"name", "zone", NULL};
static const char *const inst_out[] = {"id",          "selfLink", "creationTimestamp", "kind", "status",
                                       "cpuPlatform", NULL};

static const coll_t c_networks = {"networks", "Network",    "compute#network", "compute#networkList",
                                  SC_GLOBAL,  prep_network, net_imm,           net_out};
static const coll_t c_subnetworks = {
    "subnetworks", "Subnetwork", "compute#subnetwork", "compute#subnetworkList", SC_REGION, prep_subnetwork,
    sub_imm,       sub_out};
static const coll_t c_firewalls = {
    "firewalls", "Firewall", "compute#firewall", "compute#firewallList", SC_GLOBAL, prep_firewall,
    fw_imm,      std_out};
static const coll_t c_routers = {"routers", "Router",    "compute#router", "compute#routerList",
                                 SC_REGION, prep_router, rt_imm,           std_out};
static const coll_t c_addresses = {"addresses", "Address",    "compute#address", "compute#addressList",
                                   SC_GLOBAL,   prep_address, addr_imm,          addr_out};
static const coll_t c_raddresses = {"addresses", "Address",    "compute#address", "compute#addressList",
                                    SC_REGION,   prep_address, addr_imm,          addr_out};
static const coll_t c_instances = {"instances", "Instance",    "compute#instance", "compute#instanceList",
                                   SC_ZONE,     prep_instance, inst_imm,           inst_out};

#define HANDLERS(id)                                                                                         \
    static __attribute__((unused)) void id##_get(emu_t *e, const emu_req_t *r, emu_resp_t *s) {              \
        c_get(e, r, s, &c_##id);                                                                             \
    }                                                                                                        \
    static __attribute__((unused)) void id##_list(emu_t *e, const emu_req_t *r, emu_resp_t *s) {             \
        c_list(e, r, s, &c_##id);                                                                            \
    }                                                                                                        \
    static __attribute__((unused)) void id##_insert(emu_t *e, const emu_req_t *r, emu_resp_t *s) {           \
        if (!replayed(e, r, s)) c_insert(e, r, s, &c_##id), remember(e, r, s);                               \
    }                                                                                                        \
    static __attribute__((unused)) void id##_delete(emu_t *e, const emu_req_t *r, emu_resp_t *s) {           \
        if (!replayed(e, r, s)) c_delete(e, r, s, &c_##id), remember(e, r, s);                               \
    }                                                                                                        \
    static __attribute__((unused)) void id##_patch(emu_t *e, const emu_req_t *r, emu_resp_t *s) {            \
        if (!replayed(e, r, s)) c_update(e, r, s, &c_##id, 0), remember(e, r, s);                            \
    }                                                                                                        \
    static __attribute__((unused)) void id##_put(emu_t *e, const emu_req_t *r, emu_resp_t *s) {              \
        if (!replayed(e, r, s)) c_update(e, r, s, &c_##id, 1), remember(e, r, s);                            \
    }                                                                                                        \
    static __attribute__((unused)) void id##_agg(emu_t *e, const emu_req_t *r, emu_resp_t *s) {              \
        c_aggregated(e, r, s, &c_##id);                                                                      \
    }

HANDLERS(networks)
HANDLERS(subnetworks)
HANDLERS(firewalls)
HANDLERS(routers)
HANDLERS(addresses)
HANDLERS(raddresses)
HANDLERS(instances)

/* ---- special verbs -------------------------------------------------------- */

static void sub_expand(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    target_t t = target_of(&c_subnetworks, req, 1);
    char *key = NULL;
    json_t *doc = load(emu, &c_subnetworks, &t, resp, &key);
    if (!doc) return;
    if (emu_validate(resp, "compute", "SubnetworksExpandIpCidrRangeRequest", req->body) < 0) {
        free(key);
        return;
    }
    const char *nc = json_string_value(json_object_get(req->body, "ipCidrRange"));
    uint32_t ob, nb;
    int op, np;
    parse_cidr(json_string_value(json_object_get(doc, "ipCidrRange")), &ob, &op);
    if (!nc || parse_cidr(nc, &nb, &np) < 0 || np >= op || (ob & (0xffffffffu << (32 - np))) != nb) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Invalid value for field 'ipCidrRange': '%s'. The new range must be a strict "
                  "superset of the current range.",
                  nc ? nc : "");
    } else {
        json_object_set_new(doc, "ipCidrRange", json_string(nc));
        char *fp = new_fingerprint();
        json_object_set_new(doc, "fingerprint", json_string(fp));
        free(fp);
        emu_put(emu, key, json_incref(doc));
        resp->body =
            op_start(emu, SC_REGION, &t, "expandIpCidrRange", "compute.subnetworks.expandIpCidrRange",
                     json_string_value(json_object_get(doc, "selfLink")),
                     json_string_value(json_object_get(doc, "id")), NULL);
    }
    free(key);
}

static void sub_private_access(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    target_t t = target_of(&c_subnetworks, req, 1);
    char *key = NULL;
    json_t *doc = load(emu, &c_subnetworks, &t, resp, &key);
    if (!doc) return;
    if (emu_validate(resp, "compute", "SubnetworksSetPrivateIpGoogleAccessRequest", req->body) < 0) {
        free(key);
        return;
    }
    json_t *v = json_object_get(req->body, "privateIpGoogleAccess");
    if (!json_is_boolean(v)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required",
                  "Required field 'privateIpGoogleAccess' not specified");
    } else {
        json_object_set(doc, "privateIpGoogleAccess", v);
        emu_put(emu, key, json_incref(doc));
        resp->body = op_start(emu, SC_REGION, &t, "setPrivateIpGoogleAccess",
                              "compute.subnetworks.setPrivateIpGoogleAccess",
                              json_string_value(json_object_get(doc, "selfLink")),
                              json_string_value(json_object_get(doc, "id")), NULL);
    }
    free(key);
}

/* setLabels of a global or regional address (c), whose request message is msg. */
static void address_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const coll_t *c, const char *msg) {
    target_t t = target_of(c, req, 1);
    char *key = NULL;
    json_t *doc = load(emu, c, &t, resp, &key);
    if (!doc) return;
    if (emu_validate(resp, "compute", msg, req->body) < 0) {
        free(key);
        return;
    }
    const char *fp = json_string_value(json_object_get(req->body, "labelFingerprint"));
    const char *cur = json_string_value(json_object_get(doc, "labelFingerprint"));
    if (!fp || (cur && strcmp(fp, cur) != 0)) {
        emu_error(resp, 412, "FAILED_PRECONDITION", "conditionNotMet",
                  "Labels fingerprint either invalid or resource labels have changed");
    } else {
        json_t *labels = json_object_get(req->body, "labels");
        json_object_set_new(doc, "labels", labels ? json_deep_copy(labels) : json_object());
        char *nfp = new_fingerprint();
        json_object_set_new(doc, "labelFingerprint", json_string(nfp));
        free(nfp);
        emu_put(emu, key, json_incref(doc));
        resp->body = op_start(emu, c->scope, &t, "setLabels", "compute.addresses.setLabels",
                              json_string_value(json_object_get(doc, "selfLink")),
                              json_string_value(json_object_get(doc, "id")), NULL);
    }
    free(key);
}

static void addr_set_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    address_labels(emu, req, resp, &c_addresses, "GlobalSetLabelsRequest");
}

static void raddr_set_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    address_labels(emu, req, resp, &c_raddresses, "RegionSetLabelsRequest");
}

static void inst_set_metadata(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    target_t t = target_of(&c_instances, req, 1);
    char *key = NULL;
    json_t *doc = load(emu, &c_instances, &t, resp, &key);
    if (!doc) return;
    if (emu_validate(resp, "compute", "Metadata", req->body) < 0) goto out;
    json_t *md = json_object_get(doc, "metadata");
    const char *fp = json_string_value(json_object_get(req->body, "fingerprint"));
    const char *cur = json_string_value(json_object_get(md, "fingerprint"));
    if (!fp || (cur && strcmp(fp, cur) != 0)) {
        emu_error(resp, 412, "FAILED_PRECONDITION", "conditionNotMet",
                  "Supplied fingerprint does not match current metadata fingerprint.");
        goto out;
    }
    json_t *items = json_object_get(req->body, "items");
    char *nfp = new_fingerprint();
    json_t *nmd = json_pack("{s:s,s:s}", "kind", "compute#metadata", "fingerprint", nfp);
    free(nfp);
    if (items) json_object_set_new(nmd, "items", json_deep_copy(items));
    json_object_set_new(doc, "metadata", nmd);
    emu_put(emu, key, json_incref(doc));
    resp->body = op_start(emu, SC_ZONE, &t, "setMetadata", "compute.instances.setMetadata",
                          json_string_value(json_object_get(doc, "selfLink")),
                          json_string_value(json_object_get(doc, "id")), NULL);
out:
    free(key);
}

/* instances.setLabels and setTags: a fingerprinted part of an instance
 * replaced whole (labels + labelFingerprint, tags.items + tags.fingerprint).
 * A stale fingerprint is 412 as for metadata. */
static void inst_set_part(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, int labels) {
    target_t t = target_of(&c_instances, req, 1);
    char *key = NULL;
    json_t *doc = load(emu, &c_instances, &t, resp, &key);
    if (!doc) return;
    if (emu_validate(resp, "compute", labels ? "InstancesSetLabelsRequest" : "Tags", req->body) < 0) goto out;
    json_t *holder = labels ? doc : json_object_get(doc, "tags");
    const char *fpkey = labels ? "labelFingerprint" : "fingerprint";
    const char *fp = json_string_value(json_object_get(req->body, fpkey));
    const char *cur = json_string_value(json_object_get(holder, fpkey));
    if (cur && (!fp || strcmp(fp, cur) != 0)) {
        emu_error(resp, 412, "FAILED_PRECONDITION", "conditionNotMet",
                  "Supplied fingerprint does not match current %s fingerprint.", labels ? "labels" : "tags");
        goto out;
    }
    char *nfp = new_fingerprint();
    if (labels) {
        json_t *l = json_object_get(req->body, "labels");
        json_object_set_new(doc, "labels", l ? json_deep_copy(l) : json_object());
        json_object_set_new(doc, "labelFingerprint", json_string(nfp));
    } else {
        json_t *tags = json_pack("{s:s}", "fingerprint", nfp);
        json_t *items = json_object_get(req->body, "items");
        if (items) json_object_set_new(tags, "items", json_deep_copy(items));
        json_object_set_new(doc, "tags", tags);
    }
    free(nfp);
    emu_put(emu, key, json_incref(doc));
    resp->body = op_start(emu, SC_ZONE, &t, labels ? "setLabels" : "setTags",
                          labels ? "compute.instances.setLabels" : "compute.instances.setTags",
                          json_string_value(json_object_get(doc, "selfLink")),
                          json_string_value(json_object_get(doc, "id")), NULL);
out:
    free(key);
}

static void inst_set_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    inst_set_part(emu, req, resp, 1);
}

static void inst_set_tags(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    inst_set_part(emu, req, resp, 0);
}

/* Subnetwork delete also updates its network's subnetworks[]; wrap it. */
static void subnetworks_delete2(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    target_t t = target_of(&c_subnetworks, req, 1);
    json_t *doc = load(emu, &c_subnetworks, &t, resp, NULL);
    if (!doc) return;
    char *net = xstrdup(json_string_value(json_object_get(doc, "network")) ?: "");
    char *self = xstrdup(json_string_value(json_object_get(doc, "selfLink")) ?: "");
    subnetworks_delete(emu, req, resp);
    if (resp->status == 200) net_subnets(emu, net, self, 0);
    free(net);
    free(self);
}

#define P "compute/v1/projects/{p}/"
#define ROUTES(coll, scope, id)                                                                              \
    {"GET", P scope #coll, id##_list}, {"POST", P scope #coll, id##_insert},                                 \
        {"GET", P scope #coll "/{n}", id##_get}, {"PATCH", P scope #coll "/{n}", id##_patch}, {              \
        "PUT", P scope #coll "/{n}", id##_put                                                                \
    }

static const emu_route_t routes[] = {
    ROUTES(networks, "global/", networks),
    {"DELETE", P "global/networks/{n}", networks_delete},
    ROUTES(subnetworks, "regions/{r}/", subnetworks),
    {"DELETE", P "regions/{r}/subnetworks/{n}", subnetworks_delete2},
    {"POST", P "regions/{r}/subnetworks/{n}/expandIpCidrRange", sub_expand},
    {"POST", P "regions/{r}/subnetworks/{n}/setPrivateIpGoogleAccess", sub_private_access},
    {"GET", P "aggregated/subnetworks", subnetworks_agg},
    ROUTES(firewalls, "global/", firewalls),
    {"DELETE", P "global/firewalls/{n}", firewalls_delete},
    ROUTES(routers, "regions/{r}/", routers),
    {"DELETE", P "regions/{r}/routers/{n}", routers_delete},
    {"GET", P "aggregated/routers", routers_agg},
    ROUTES(addresses, "global/", addresses),
    {"DELETE", P "global/addresses/{n}", addresses_delete},
    {"POST", P "global/addresses/{n}/setLabels", addr_set_labels},
    ROUTES(addresses, "regions/{r}/", raddresses),
    {"DELETE", P "regions/{r}/addresses/{n}", raddresses_delete},
    {"POST", P "regions/{r}/addresses/{n}/setLabels", raddr_set_labels},
    {"GET", P "aggregated/addresses", raddresses_agg},
    ROUTES(instances, "zones/{z}/", instances),
    {"DELETE", P "zones/{z}/instances/{n}", instances_delete},
    {"POST", P "zones/{z}/instances/{n}/setMetadata", inst_set_metadata},
    {"POST", P "zones/{z}/instances/{n}/setLabels", inst_set_labels},
    {"POST", P "zones/{z}/instances/{n}/setTags", inst_set_tags},
    {"GET", P "aggregated/instances", instances_agg},
    {"GET", P "global/operations/{op}", h_gop_get},
    {"POST", P "global/operations/{op}/wait", h_gop_wait},
    {"GET", P "regions/{r}/operations/{op}", h_rop_get},
    {"POST", P "regions/{r}/operations/{op}/wait", h_rop_wait},
    {"GET", P "zones/{z}/operations/{op}", h_zop_get},
    {"POST", P "zones/{z}/operations/{op}/wait", h_zop_wait},
};

/* Operations left RUNNING by a previous run finish now. */
static void compute_init(emu_t *emu) {
    json_t *keys = emu_keys(emu, "compute/projects/");
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k) {
        const char *ks = json_string_value(k);
        if (strstr(ks, "/operations/")) op_finish(emu, ks);
    }
    json_decref(keys);
}

const emu_api_t emu_api_compute = {"compute", routes, sizeof routes / sizeof routes[0], compute_init};
