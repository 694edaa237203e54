/* api_dns.c: emulated Cloud DNS (v1): managed zones (create with their
 * NS and SOA record sets, get, list, PATCH answering a dns#operation,
 * delete refused while other record sets remain), record sets listed and
 * changed through the changes API (additions and deletions applied at
 * once; the change reports status "done"). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"
#include "emulator/mask.h"

static char *zone_key(const char *p, const char *z) {
    return xasprintf("dns/projects/%s/managedZones/%s", p, z);
}

static int valid_zone_name(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63 || !islower((unsigned char)s[0]) || s[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-') return 0;
    return 1;
}

static json_t *load_zone(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = zone_key(req->params[0], req->params[1]);
    return emu_load(emu, resp, key, "The 'parameters.managedZone' resource named '%s' does not exist.",
                    req->params[1]);
}

static char *rrset_key(const char *zkey, const char *name, const char *type) {
    return xasprintf("%s/rrsets/%s/%s", zkey, name, type);
}

static void put_rrset(emu_t *emu, const char *zkey, const char *name, const char *type, int ttl,
                      json_t *rrdatas) {
    char *k = rrset_key(zkey, name, type);
    emu_put(emu, k,
            json_pack("{s:s,s:s,s:s,s:i,s:o}", "kind", "dns#resourceRecordSet", "name", name, "type", type,
                      "ttl", ttl, "rrdatas", rrdatas));
    free(k);
}

static const char *const fixed[] = {"name",         "dnsName",     "visibility", "id",
                                    "creationTime", "nameServers", "kind",       NULL};

static void zone_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0];
    if (emu_validate(resp, "dns", "ManagedZone", req->body) < 0) return;
    const json_t *b = req->body;
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *dns = json_string_value(json_object_get(b, "dnsName"));
    if (!valid_zone_name(name)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Invalid value for 'entity.managedZone.name': '%s'", name ? name : "");
        return;
    }
    if (!dns || !*dns || dns[strlen(dns) - 1] != '.') {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Invalid value for 'entity.managedZone.dnsName': '%s'", dns ? dns : "");
        return;
    }
    char *key = zone_key(p, name);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists",
                  "The resource 'entity.managedZone' named '%s' already exists", name);
        free(key);
        return;
    }
    json_t *z = json_deep_copy(b);
    json_object_set_new(z, "kind", json_string("dns#managedZone"));
    json_object_set_new(z, "id",
                        json_sprintf("%lld", (long long)emu_next_id(emu, "dns.zone") + 4000000000000000LL));
    json_object_set_new(z, "creationTime", json_string(emu_now()));
    emu_set_default(z, "visibility", json_string("public"));
    emu_set_default(z, "description", json_string(""));
    json_t *ns = json_pack("[s,s,s,s]", "ns-cloud-a1.googledomains.com.", "ns-cloud-a2.googledomains.com.",
                           "ns-cloud-a3.googledomains.com.", "ns-cloud-a4.googledomains.com.");
    json_object_set(z, "nameServers", ns);
    put_rrset(emu, key, dns, "NS", 21600, ns);
    put_rrset(
        emu, key, dns, "SOA", 21600,
        json_pack("[s]",
                  "ns-cloud-a1.googledomains.com. cloud-dns-hostmaster.google.com. 1 21600 3600 259200 300"));
    resp->body = emu_strip(z);
    emu_put(emu, key, z);
    free(key);
}

static void zone_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *z = load_zone(emu, req, resp, &key);
    if (z) resp->body = emu_strip(z);
    free(key);
}

static void zone_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *prefix = xasprintf("dns/projects/%s/managedZones/", req->params[0]);
    json_t *all = emu_children(emu, prefix, true);
    const char *dn = emu_q(req, "dnsName");
    json_t *items = json_array(), *z;
    size_t i;
    json_array_foreach(all, i, z) if (!dn || strcmp(dn, json_string_value(json_object_get(z, "dnsName"))) ==
                                                 0) json_array_append(items, z);
    resp->body = json_pack("{s:s}", "kind", "dns#managedZonesListResponse");
    emu_page_into(req, resp->body, "managedZones", items, "maxResults", 1000, true);
    json_decref(items);
    json_decref(all);
    free(prefix);
}

/* PATCH: merge the body's fields; the answer is a finished dns#operation. */
static void zone_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "dns", "ManagedZone", req->body) < 0) return;
    char *key;
    json_t *cur = load_zone(emu, req, resp, &key);
    if (!cur) return;
    json_t *old = emu_strip(cur), *z = json_deep_copy(cur);
    const char *k;
    json_t *v;
    int bad = 0;
    json_object_foreach(req->body, k, v) {
        json_t *c = json_object_get(cur, k);
        if (emu_in_list(fixed, k) && !(c && json_equal(c, v))) {
            emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                      "Invalid value for 'entity.managedZone.%s': cannot be changed", k);
            bad = 1;
            break;
        }
        json_object_set(z, k, v);
    }
    if (!bad) {
        resp->body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:{s:o,s:o}}", "kind", "dns#operation", "id", "1",
                               "startTime", emu_now(), "status", "done", "type", "UPDATE", "zoneContext",
                               "oldValue", old, "newValue", emu_strip(z));
        old = NULL;
        emu_put(emu, key, z);
        z = NULL;
    }
    json_decref(old);
    json_decref(z);
    free(key);
}

static void zone_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *z = load_zone(emu, req, resp, &key);
    if (!z) return;
    char *prefix = xasprintf("%s/rrsets/", key);
    json_t *rr = emu_children(emu, prefix, false), *r;
    size_t i;
    int others = 0;
    json_array_foreach(rr, i, r) {
        const char *t = json_string_value(json_object_get(r, "type"));
        const char *n = json_string_value(json_object_get(r, "name"));
        if (!(t && n && (strcmp(t, "NS") == 0 || strcmp(t, "SOA") == 0) &&
              strcmp(n, json_string_value(json_object_get(z, "dnsName"))) == 0))
            others = 1;
    }
    if (others)
        emu_error(resp, 400, "FAILED_PRECONDITION", "containerNotEmpty",
                  "The resource named '%s' cannot be deleted because it is not empty", req->params[1]);
    else {
        emu_del_tree(emu, key);
        resp->status = 204;
    }
    json_decref(rr);
    free(prefix);
    free(key);
}

static void rrset_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (!load_zone(emu, req, resp, &key)) return;
    char *prefix = xasprintf("%s/rrsets/", key);
    json_t *all = emu_children(emu, prefix, false), *items = json_array(), *r;
    const char *name = emu_q(req, "name"), *type = emu_q(req, "type");
    size_t i;
    json_array_foreach(all, i, r) {
        if (name && strcmp(name, json_string_value(json_object_get(r, "name"))) != 0) continue;
        if (type && strcmp(type, json_string_value(json_object_get(r, "type"))) != 0) continue;
        json_array_append(items, r);
    }
    resp->body = json_pack("{s:s}", "kind", "dns#resourceRecordSetsListResponse");
    emu_page_into(req, resp->body, "rrsets", items, "maxResults", 1000, true);
    json_decref(items);
    json_decref(all);
    free(prefix);
    free(key);
}

static void rrset_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (!load_zone(emu, req, resp, &key)) return;
    char *rk = rrset_key(key, req->params[2], req->params[3]);
    json_t *r =
        emu_load(emu, resp, &rk, "The 'parameters.name' resource named '%s' does not exist.", req->params[2]);
    if (r) resp->body = json_deep_copy(r);
    free(rk);
    free(key);
}

/* changes.create: every deletion must match a record set exactly, no
 * addition may exist already (unless deleted in the same change). */
static void change_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "dns", "Change", req->body) < 0) return;
    char *key;
    json_t *z = load_zone(emu, req, resp, &key);
    if (!z) return;
    const char *zdns = json_string_value(json_object_get(z, "dnsName"));
    json_t *dels = json_object_get(req->body, "deletions"), *adds = json_object_get(req->body, "additions"),
           *r;
    size_t i;
    int bad = 0;
    json_array_foreach(dels, i, r) {
        char *rk = rrset_key(key, json_string_value(json_object_get(r, "name")),
                             json_string_value(json_object_get(r, "type")));
        json_t *cur = emu_get(emu, rk);
        if (!cur || !json_equal(json_object_get(cur, "rrdatas"), json_object_get(r, "rrdatas"))) {
            emu_error(resp, 412, "FAILED_PRECONDITION", "conditionNotMet",
                      "Precondition not met for 'entity.change.deletions[%zu]'", i);
            bad = 1;
        }
        free(rk);
        if (bad) break;
    }
    json_array_foreach(adds, i, r) {
        const char *n = json_string_value(json_object_get(r, "name")),
                   *t = json_string_value(json_object_get(r, "type"));
        size_t nl = n ? strlen(n) : 0, zl = strlen(zdns);
        if (bad) break;
        if (!n || !t || nl < zl || strcmp(n + nl - zl, zdns) != 0 ||
            !json_array_size(json_object_get(r, "rrdatas"))) {
            emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                      "Invalid value for 'entity.change.additions[%zu].name': '%s'", i, n ? n : "");
            bad = 1;
            break;
        }
        char *rk = rrset_key(key, n, t);
        int exists = emu_get(emu, rk) != NULL, deleted = 0;
        size_t j;
        json_t *d;
        json_array_foreach(dels, j, d) deleted |=
            json_equal(json_object_get(d, "name"), json_object_get(r, "name")) &&
            json_equal(json_object_get(d, "type"), json_object_get(r, "type"));
        if (exists && !deleted) {
            emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists",
                      "The resource 'entity.change.additions[%zu]' named '%s (%s)' already exists", i, n, t);
            bad = 1;
        }
        free(rk);
    }
    if (!bad) {
        json_array_foreach(dels, i, r) {
            char *rk = rrset_key(key, json_string_value(json_object_get(r, "name")),
                                 json_string_value(json_object_get(r, "type")));
            emu_del(emu, rk);
            free(rk);
        }
        json_array_foreach(adds, i, r) {
            char *rk = rrset_key(key, json_string_value(json_object_get(r, "name")),
                                 json_string_value(json_object_get(r, "type")));
            json_t *doc = json_deep_copy(r);
            json_object_set_new(doc, "kind", json_string("dns#resourceRecordSet"));
            emu_put(emu, rk, doc);
            free(rk);
        }
        char *id = xasprintf("%lld", (long long)emu_next_id(emu, "dns.change"));
        json_t *ch = json_deep_copy(req->body);
        json_object_set_new(ch, "kind", json_string("dns#change"));
        json_object_set_new(ch, "id", json_string(id));
        json_object_set_new(ch, "startTime", json_string(emu_now()));
        json_object_set_new(ch, "status", json_string("done"));
        char *ck = xasprintf("%s/changes/%s", key, id);
        resp->body = json_deep_copy(ch);
        emu_put(emu, ck, ch);
        free(ck);
        free(id);
    }
    free(key);
}

static void change_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = xasprintf("dns/projects/%s/managedZones/%s/changes/%s", req->params[0], req->params[1],
                          req->params[2]);
    json_t *ch = emu_load(emu, resp, &key, "The 'parameters.changeId' resource named '%s' does not exist.",
                          req->params[2]);
    if (ch) resp->body = json_deep_copy(ch);
    free(key);
}

#define Z "dns/v1/projects/{p}/managedZones"
static const emu_route_t routes[] = {
    {"POST", Z, zone_create},
    {"GET", Z, zone_list},
    {"GET", Z "/{z}", zone_get},
    {"PATCH", Z "/{z}", zone_patch},
    {"DELETE", Z "/{z}", zone_delete},
    {"GET", Z "/{z}/rrsets", rrset_list},
    {"GET", Z "/{z}/rrsets/{n}/{t}", rrset_get},
    {"POST", Z "/{z}/changes", change_create},
    {"GET", Z "/{z}/changes/{c}", change_get},
};

const emu_api_t emu_api_dns = {"dns", routes, sizeof routes / sizeof routes[0], NULL};
