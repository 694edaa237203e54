/* api_compute.c: the emulated Compute Engine v1 API: networks,
 * subnetworks, firewalls, routers (with NAT), global addresses, instances
 * and their global/regional/zonal operations.  Resources live under
 * "compute/projects/..." keys (the path of their selfLink); mutations
 * return an Operation that goes RUNNING -> DONE after emu_duration. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu_compute.h"

/* ---- small helpers ---------------------------------------------------- */

const char *emu_ce_scope_seg(emu_ce_scope_t s) {
    return s == SC_REGION ? "regions" : s == SC_ZONE ? "zones" : "global";
}

/* "projects/p/global/networks" or "projects/p/regions/r/subnetworks". */
char *emu_ce_coll_path(const emu_ce_coll_t *c, const emu_ce_target_t *t) {
    if (c->scope == SC_GLOBAL) return xasprintf("projects/%s/global/%s", t->project, c->name);
    return xasprintf("projects/%s/%s/%s/%s", t->project, emu_ce_scope_seg(c->scope), t->loc, c->name);
}

emu_ce_target_t emu_ce_target(const emu_ce_coll_t *c, const emu_req_t *req, int with_name) {
    emu_ce_target_t t = {req->params[0], NULL, NULL};
    size_t i = 1;
    if (c->scope != SC_GLOBAL) t.loc = req->params[i++];
    if (with_name && i < req->nparams) t.name = req->params[i];
    return t;
}

int emu_ce_valid_name(const char *n) {
    size_t len = strlen(n);
    if (len < 1 || len > 63 || n[0] < 'a' || n[0] > 'z') return 0;
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-')) return 0;
    return n[len - 1] != '-';
}

char *emu_ce_new_id(emu_t *emu) {
    return xasprintf("%lld", (long long)(1234567890123456789LL + emu_next_id(emu, "compute.id") * 1000003LL));
}

char *emu_ce_fingerprint(void) {
    /* Canonical base64 of 8 random bytes ("KwMzZ7hpVtI="): clients decode
     * and re-encode fingerprints, so anything else would not round-trip. */
    unsigned char raw[8];
    char hex[17];
    util_random_hex(hex, 8);
    for (int i = 0; i < 8; i++)
        raw[i] = (unsigned char)strtoul((char[]){hex[2 * i], hex[2 * i + 1], 0}, NULL, 16);
    return emu_b64(raw, sizeof raw);
}

int emu_ce_fp_equal(const char *a, const char *b) {
    size_t na = 0, nb = 0;
    unsigned char *x = a ? emu_b64_decode(a, strlen(a), true, &na) : NULL;
    unsigned char *y = b ? emu_b64_decode(b, strlen(b), true, &nb) : NULL;
    int eq = x && y && na == nb && !memcmp(x, y, na);
    free(x);
    free(y);
    return eq;
}

/* Reference in any accepted form -> full selfLink ("https://www.googleapis.com/compute/v1/projects/...").
 * coll: "global/networks" for bare names.  New string. */
char *emu_ce_norm_ref(const char *project, const char *v, const char *coll) {
    const char *p = strstr(v, "projects/");
    if (strstr(v, "://") && p) return xasprintf(SELF_BASE "%s", p);
    if (strncmp(v, "projects/", 9) == 0) return xasprintf(SELF_BASE "%s", v);
    if (!strncmp(v, "global/", 7) || !strncmp(v, "regions/", 8) || !strncmp(v, "zones/", 6))
        return xasprintf(SELF_BASE "projects/%s/%s", project, v);
    return xasprintf(SELF_BASE "projects/%s/%s/%s", project, coll, v);
}

/* Store key of a full selfLink. */
char *emu_ce_ref_key(const char *url) {
    const char *p = strstr(url, "projects/");
    return xasprintf("compute/%s", p ? p : url);
}

void emu_ce_norm_field(json_t *doc, const char *field, const char *project, const char *coll) {
    const char *v = json_string_value(json_object_get(doc, field));
    if (!v) return;
    char *n = emu_ce_norm_ref(project, v, coll);
    json_object_set_new(doc, field, json_string(n));
    free(n);
}

int emu_ce_parse_cidr(const char *cidr, uint32_t *base, int *prefix) {
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

void emu_ce_ip_str(uint32_t ip, char out[16]) {
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
json_t *emu_ce_op_start(emu_t *emu, emu_ce_scope_t scope, const emu_ce_target_t *t, const char *optype,
                        const char *kind, const char *target_link, const char *target_id, json_t *after) {
    char *name = emu_op_id(emu);
    char *path = scope == SC_GLOBAL ? xasprintf("projects/%s/global/operations/%s", t->project, name)
                                    : xasprintf("projects/%s/%s/%s/operations/%s", t->project,
                                                emu_ce_scope_seg(scope), t->loc, name);
    char *id = emu_ce_new_id(emu);
    json_t *op = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:s}", "kind", "compute#operation", "id",
                           id, "name", name, "operationType", optype, "targetLink", target_link, "status",
                           "RUNNING", "user", "emulator@plinth.local", "progress", 0, "insertTime", emu_now(),
                           "startTime", emu_now(), "selfLink", "");
    char *self = xasprintf(SELF_BASE "%s", path);
    json_object_set_new(op, "selfLink", json_string(self));
    if (target_id) json_object_set_new(op, "targetId", json_string(target_id));
    if (scope != SC_GLOBAL) {
        char *loc = xasprintf(SELF_BASE "projects/%s/%s/%s", t->project, emu_ce_scope_seg(scope), t->loc);
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

static void op_get_scoped(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, emu_ce_scope_t scope,
                          int wait) {
    char *key = scope == SC_GLOBAL
                    ? xasprintf("compute/projects/%s/global/operations/%s", req->params[0], req->params[1])
                    : xasprintf("compute/projects/%s/%s/%s/operations/%s", req->params[0],
                                emu_ce_scope_seg(scope), req->params[1], req->params[2]);
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
    char *opkey = emu_ce_ref_key(self);
    emu_put(emu, key, json_pack("{s:s}", "op", opkey));
    free(opkey);
    free(key);
}

/* ---- generic collection methods --------------------------------------- */

json_t *emu_ce_load(emu_t *emu, const emu_ce_coll_t *c, const emu_ce_target_t *t, emu_resp_t *resp,
                    char **key_out) {
    char *cp = emu_ce_coll_path(c, t);
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

static void c_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const emu_ce_coll_t *c) {
    emu_ce_target_t t = emu_ce_target(c, req, 1);
    json_t *doc = emu_ce_load(emu, c, &t, resp, NULL);
    if (doc) resp->body = emu_render(doc);
}

static void c_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const emu_ce_coll_t *c) {
    emu_ce_target_t t = emu_ce_target(c, req, 0);
    char *cp = emu_ce_coll_path(c, &t);
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
static void c_aggregated(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const emu_ce_coll_t *c) {
    char *prefix = xasprintf("compute/projects/%s/%s/", req->params[0], emu_ce_scope_seg(c->scope));
    json_t *keys = emu_keys(emu, prefix), *items = json_object();
    size_t i;
    json_t *k;
    char *seg = xasprintf("/%s/", c->name);
    json_array_foreach(keys, i, k) {
        const char *ks = json_string_value(k) + strlen(prefix); /* "r/subnetworks/n" */
        const char *s = strstr(ks, seg);
        if (!s || strchr(s + strlen(seg), '/')) continue;
        char *scope_key = xasprintf("%s/%.*s", emu_ce_scope_seg(c->scope), (int)(s - ks), ks);
        json_t *bucket = json_object_get(items, scope_key);
        if (!bucket) {
            bucket = json_pack("{s:[]}", c->name);
            json_object_set_new(items, scope_key, bucket);
        }
        json_array_append_new(json_object_get(bucket, c->name),
                              emu_render(emu_get(emu, json_string_value(k))));
        free(scope_key);
    }
    if (!strcmp(c->name, "addresses")) { /* global addresses are the "global" scope of the list */
        char *gp = xasprintf("compute/projects/%s/global/addresses/", req->params[0]);
        json_t *g = emu_children(emu, gp, true), *gi = json_array(), *d;
        json_array_foreach(g, i, d) json_array_append_new(gi, emu_render(d));
        if (json_array_size(gi))
            json_object_set_new(items, "global", json_pack("{s:o}", "addresses", gi));
        else
            json_decref(gi);
        json_decref(g);
        free(gp);
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

static void c_insert(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const emu_ce_coll_t *c) {
    emu_ce_target_t t = emu_ce_target(c, req, 0);
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
    if (!emu_ce_valid_name(name)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Invalid value for field 'resource.name': '%s'. Must be a match of regex "
                  "'(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'",
                  name);
        return;
    }
    t.name = name;
    char *cp = emu_ce_coll_path(c, &t);
    char *key = xasprintf("compute/%s/%s", cp, name);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists", "The resource '%s/%s' already exists", cp,
                  name);
        goto out;
    }
    json_t *doc = json_deep_copy(req->body);
    for (size_t i = 0; c->output && c->output[i]; i++)
        json_object_del(doc, c->output[i]);
    char *id = emu_ce_new_id(emu);
    char *self = xasprintf(SELF_BASE "%s/%s", cp, name);
    json_object_set_new(doc, "kind", json_string(c->kind));
    json_object_set_new(doc, "id", json_string(id));
    json_object_set_new(doc, "creationTimestamp", json_string(emu_now()));
    json_object_set_new(doc, "selfLink", json_string(self));
    if (c->scope != SC_GLOBAL) {
        char *loc = xasprintf(SELF_BASE "projects/%s/%s/%s", t.project, emu_ce_scope_seg(c->scope), t.loc);
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
        resp->body = emu_ce_op_start(emu, c->scope, &t, "insert", kind, self, id, after);
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
const char *emu_ce_user_of(emu_t *emu, const char *project, const char *url, const char *field) {
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

static void c_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const emu_ce_coll_t *c) {
    emu_ce_target_t t = emu_ce_target(c, req, 1);
    char *key = NULL;
    json_t *doc = emu_ce_load(emu, c, &t, resp, &key);
    if (!doc) return;
    const char *self = json_string_value(json_object_get(doc, "selfLink"));
    const char *field = !strcmp(c->name, "networks")      ? "network"
                        : !strcmp(c->name, "subnetworks") ? "subnetwork"
                                                          : NULL;
    const char *user = field ? emu_ce_user_of(emu, t.project, self, field) : NULL;
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
                char *sk = emu_ce_ref_key(json_string_value(sv));
                if (json_is_true(json_object_get(emu_get(emu, sk), "_auto")))
                    json_array_append_new(dels, json_string(sk));
                free(sk);
            }
        }
        resp->body = emu_ce_op_start(emu, c->scope, &t, "delete", kind, self,
                                     json_string_value(json_object_get(doc, "id")),
                                     json_pack("{s:o}", "delete", dels));
        free(kind);
    }
    free(key);
}

/* PATCH (merge) or PUT (replace) of a resource. */
static void c_update(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const emu_ce_coll_t *c,
                     int replace) {
    emu_ce_target_t t = emu_ce_target(c, req, 1);
    char *key = NULL;
    json_t *doc = emu_ce_load(emu, c, &t, resp, &key);
    if (!doc) return;
    doc = json_deep_copy(doc); /* stored only when the whole update is accepted */
    if (!req->body) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required", "Required field 'resource' not specified");
        goto out;
    }
    if (emu_validate(resp, "compute", c->msg, req->body) < 0) goto out;
    json_t *body = json_deep_copy(req->body);
    static const char *const ref_fields[][2] = {{"network", "global/networks"},
                                                {"subnetwork", "regions/-/subnetworks"}};
    for (size_t i = 0; i < 2; i++)
        emu_ce_norm_field(body, ref_fields[i][0], t.project, ref_fields[i][1]);
    const char *scope_field = c->scope == SC_REGION ? "region" : c->scope == SC_ZONE ? "zone" : NULL;
    const char *sv = scope_field ? json_string_value(json_object_get(body, scope_field)) : NULL;
    if (sv && !strstr(sv, "/")) {
        char *u = xasprintf(SELF_BASE "projects/%s/%s/%s", t.project, emu_ce_scope_seg(c->scope), sv);
        json_object_set_new(body, scope_field, json_string(u));
        free(u);
    }
    /* Subnetworks (and anything with a fingerprint) need the current one. */
    const char *fp = json_string_value(json_object_get(doc, "fingerprint"));
    if (fp && !strcmp(c->name, "subnetworks")) {
        const char *sent = json_string_value(json_object_get(body, "fingerprint"));
        if (!sent || !emu_ce_fp_equal(sent, fp)) {
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
        char *nfp = emu_ce_fingerprint();
        json_object_set_new(doc, "fingerprint", json_string(nfp));
        free(nfp);
    }
    /* re-apply defaults (e.g. NAT timeouts) and checks (overlapping ranges) */
    if (c->prepare && c->prepare(emu, &t, doc, resp) < 0) goto out;
    json_object_del(doc, "_emu");
    emu_put(emu, key, json_incref(doc));
    char *kind = xasprintf("compute.%s.%s", c->name, replace ? "update" : "patch");
    resp->body = emu_ce_op_start(emu, c->scope, &t, replace ? "update" : "patch", kind,
                                 json_string_value(json_object_get(doc, "selfLink")),
                                 json_string_value(json_object_get(doc, "id")), NULL);
    free(kind);
out:
    json_decref(doc);
    free(key);
}

/* ---- per-type preparation ---------------------------------------------- */

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

const emu_ce_coll_t emu_ce_networks = {
    "networks", "Network",           "compute#network", "compute#networkList",
    SC_GLOBAL,  emu_ce_prep_network, net_imm,           net_out};
const emu_ce_coll_t emu_ce_subnetworks = {"subnetworks",
                                          "Subnetwork",
                                          "compute#subnetwork",
                                          "compute#subnetworkList",
                                          SC_REGION,
                                          emu_ce_prep_subnetwork,
                                          sub_imm,
                                          sub_out};
const emu_ce_coll_t emu_ce_firewalls = {
    "firewalls", "Firewall", "compute#firewall", "compute#firewallList", SC_GLOBAL, emu_ce_prep_firewall,
    fw_imm,      std_out};
const emu_ce_coll_t emu_ce_routers = {"routers", "Router",           "compute#router", "compute#routerList",
                                      SC_REGION, emu_ce_prep_router, rt_imm,           std_out};
const emu_ce_coll_t emu_ce_addresses = {
    "addresses", "Address",           "compute#address", "compute#addressList",
    SC_GLOBAL,   emu_ce_prep_address, addr_imm,          addr_out};
const emu_ce_coll_t emu_ce_raddresses = {
    "addresses", "Address",           "compute#address", "compute#addressList",
    SC_REGION,   emu_ce_prep_address, addr_imm,          addr_out};
const emu_ce_coll_t emu_ce_instances = {
    "instances", "Instance",           "compute#instance", "compute#instanceList",
    SC_ZONE,     emu_ce_prep_instance, inst_imm,           inst_out};

#define HANDLERS(id)                                                                                         \
    static __attribute__((unused)) void id##_get(emu_t *e, const emu_req_t *r, emu_resp_t *s) {              \
        c_get(e, r, s, &emu_ce_##id);                                                                        \
    }                                                                                                        \
    static __attribute__((unused)) void id##_list(emu_t *e, const emu_req_t *r, emu_resp_t *s) {             \
        c_list(e, r, s, &emu_ce_##id);                                                                       \
    }                                                                                                        \
    static __attribute__((unused)) void id##_insert(emu_t *e, const emu_req_t *r, emu_resp_t *s) {           \
        if (!replayed(e, r, s)) c_insert(e, r, s, &emu_ce_##id), remember(e, r, s);                          \
    }                                                                                                        \
    static __attribute__((unused)) void id##_delete(emu_t *e, const emu_req_t *r, emu_resp_t *s) {           \
        if (!replayed(e, r, s)) c_delete(e, r, s, &emu_ce_##id), remember(e, r, s);                          \
    }                                                                                                        \
    static __attribute__((unused)) void id##_patch(emu_t *e, const emu_req_t *r, emu_resp_t *s) {            \
        if (!replayed(e, r, s)) c_update(e, r, s, &emu_ce_##id, 0), remember(e, r, s);                       \
    }                                                                                                        \
    static __attribute__((unused)) void id##_put(emu_t *e, const emu_req_t *r, emu_resp_t *s) {              \
        if (!replayed(e, r, s)) c_update(e, r, s, &emu_ce_##id, 1), remember(e, r, s);                       \
    }                                                                                                        \
    static __attribute__((unused)) void id##_agg(emu_t *e, const emu_req_t *r, emu_resp_t *s) {              \
        c_aggregated(e, r, s, &emu_ce_##id);                                                                 \
    }

HANDLERS(networks)
HANDLERS(subnetworks)
HANDLERS(firewalls)
HANDLERS(routers)
HANDLERS(addresses)
HANDLERS(raddresses)
HANDLERS(instances)

/* Subnetwork delete also updates its network's subnetworks[]; wrap it. */
static void subnetworks_delete2(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    emu_ce_target_t t = emu_ce_target(&emu_ce_subnetworks, req, 1);
    json_t *doc = emu_ce_load(emu, &emu_ce_subnetworks, &t, resp, NULL);
    if (!doc) return;
    char *net = xstrdup(json_string_value(json_object_get(doc, "network")) ?: "");
    char *self = xstrdup(json_string_value(json_object_get(doc, "selfLink")) ?: "");
    subnetworks_delete(emu, req, resp);
    if (resp->status == 200) emu_ce_net_subnets(emu, net, self, 0);
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
    {"POST", P "regions/{r}/subnetworks/{n}/expandIpCidrRange", emu_ce_sub_expand},
    {"POST", P "regions/{r}/subnetworks/{n}/setPrivateIpGoogleAccess", emu_ce_sub_private_access},
    {"GET", P "aggregated/subnetworks", subnetworks_agg},
    ROUTES(firewalls, "global/", firewalls),
    {"DELETE", P "global/firewalls/{n}", firewalls_delete},
    ROUTES(routers, "regions/{r}/", routers),
    {"DELETE", P "regions/{r}/routers/{n}", routers_delete},
    {"GET", P "aggregated/routers", routers_agg},
    ROUTES(addresses, "global/", addresses),
    {"DELETE", P "global/addresses/{n}", addresses_delete},
    {"POST", P "global/addresses/{n}/setLabels", emu_ce_addr_set_labels},
    ROUTES(addresses, "regions/{r}/", raddresses),
    {"DELETE", P "regions/{r}/addresses/{n}", raddresses_delete},
    {"POST", P "regions/{r}/addresses/{n}/setLabels", emu_ce_raddr_set_labels},
    {"GET", P "aggregated/addresses", raddresses_agg},
    ROUTES(instances, "zones/{z}/", instances),
    {"DELETE", P "zones/{z}/instances/{n}", instances_delete},
    {"POST", P "zones/{z}/instances/{n}/setMetadata", emu_ce_inst_set_metadata},
    {"POST", P "zones/{z}/instances/{n}/setLabels", emu_ce_inst_set_labels},
    {"POST", P "zones/{z}/instances/{n}/setTags", emu_ce_inst_set_tags},
    {"GET", P "aggregated/instances", instances_agg},
    {"GET", P "global/operations/{op}", h_gop_get},
    {"GET", P "global/operations", emu_ce_ops_global},
    {"GET", P "regions/{r}/operations", emu_ce_ops_region},
    {"GET", P "zones/{z}/operations", emu_ce_ops_zone},
    {"GET", P "aggregated/operations", emu_ce_ops_aggregated},
    {"GET", P "regions", emu_ce_regions},
    {"GET", P "regions/{r}", emu_ce_region},
    {"GET", P "zones", emu_ce_zones},
    {"GET", P "zones/{z}", emu_ce_zone},
    {"GET", P "zones/{z}/machineTypes", emu_ce_machine_types},
    {"GET", P "zones/{z}/machineTypes/{m}", emu_ce_machine_type},
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
