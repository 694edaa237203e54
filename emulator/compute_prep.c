/* compute_prep.c: per-type preparation of new compute resources (server
 * defaults, output fields, references that must exist) (see emu_compute.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu_compute.h"

static int need_ref(emu_t *emu, json_t *doc, const char *field, const char *project, const char *coll,
                    int required, emu_resp_t *resp) {
    if (!json_object_get(doc, field)) {
        if (!required) return 0;
        emu_error(resp, 400, "INVALID_ARGUMENT", "required",
                  "Invalid value for field 'resource.%s': ''. Must be specified.", field);
        return -1;
    }
    emu_ce_norm_field(doc, field, project, coll);
    const char *url = json_string_value(json_object_get(doc, field));
    if (!url) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid", "Invalid value for field 'resource.%s'.", field);
        return -1;
    }
    char *key = emu_ce_ref_key(url);
    int ok = emu_get(emu, key) != NULL;
    free(key);
    if (!ok) {
        emu_not_found(resp, "The resource '%s' was not found", url + strlen(SELF_BASE));
        return -1;
    }
    return 0;
}

/* Keeps a network's subnetworks[] in sync. */
void emu_ce_net_subnets(emu_t *emu, const char *net_url, const char *sub_url, int add) {
    char *key = emu_ce_ref_key(net_url);
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
static void auto_subnets(emu_t *emu, const emu_ce_target_t *t, json_t *net) {
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
        char *id = emu_ce_new_id(emu), *fp = emu_ce_fingerprint(), *key = xasprintf("compute/%s", path);
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

int emu_ce_prep_network(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp) {
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

static int cidr_overlap(const char *a, const char *b) {
    uint32_t ba, bb;
    int pa, pb;
    if (emu_ce_parse_cidr(a, &ba, &pa) < 0 || emu_ce_parse_cidr(b, &bb, &pb) < 0) return 0;
    int p = pa < pb ? pa : pb;
    uint32_t mask = 0xffffffffu << (32 - p);
    return (ba & mask) == (bb & mask);
}

/* The primary and secondary CIDRs of a subnetwork document (new array). */
static json_t *subnet_cidrs(const json_t *doc) {
    json_t *out = json_array(), *r;
    size_t i;
    if (json_object_get(doc, "ipCidrRange")) json_array_append(out, json_object_get(doc, "ipCidrRange"));
    json_array_foreach(json_object_get(doc, "secondaryIpRanges"), i,
                       r) if (json_is_string(json_object_get(r, "ipCidrRange")))
        json_array_append(out, json_object_get(r, "ipCidrRange"));
    return out;
}

/* -1 with Compute's 400 when a range of doc overlaps another of its own
 * ranges or any range of another subnetwork of the same network (every
 * region: a VPC's address space is global). */
static int check_overlap(emu_t *emu, const emu_ce_target_t *t, const json_t *doc, emu_resp_t *resp) {
    const char *net = json_string_value(json_object_get(doc, "network")) ?: "";
    json_t *mine = subnet_cidrs(doc);
    char *prefix = xasprintf("compute/projects/%s/regions/", t->project);
    json_t *keys = emu_keys(emu, prefix), *k;
    size_t i, j, n;
    int rc = 0;
    for (i = 0; i < json_array_size(mine) && !rc; i++)
        for (j = i + 1; j < json_array_size(mine) && !rc; j++)
            if (cidr_overlap(json_string_value(json_array_get(mine, i)),
                             json_string_value(json_array_get(mine, j)))) {
                emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                          "Invalid IPCidrRange: %s conflicts with existing subnetwork '%s' in region '%s'.",
                          json_string_value(json_array_get(mine, j)), t->name ?: "", t->loc ?: "");
                rc = -1;
            }
    json_array_foreach(keys, n, k) {
        if (rc) break;
        const char *ks = json_string_value(k);
        json_t *o = strstr(ks, "/subnetworks/") ? emu_get(emu, ks) : NULL;
        const char *oname = json_string_value(json_object_get(o, "name"));
        if (!o || strcmp(json_string_value(json_object_get(o, "network")) ?: "", net) != 0) continue;
        if (oname && t->name && !strcmp(oname, t->name) && strstr(ks, t->loc ?: "")) continue; /* itself */
        json_t *theirs = subnet_cidrs(o);
        for (i = 0; i < json_array_size(mine) && !rc; i++)
            for (j = 0; j < json_array_size(theirs) && !rc; j++)
                if (cidr_overlap(json_string_value(json_array_get(mine, i)),
                                 json_string_value(json_array_get(theirs, j)))) {
                    const char *reg = strrchr(json_string_value(json_object_get(o, "region")) ?: "", '/');
                    emu_error(
                        resp, 400, "INVALID_ARGUMENT", "invalid",
                        "Invalid IPCidrRange: %s conflicts with existing subnetwork '%s' in region '%s'.",
                        json_string_value(json_array_get(mine, i)), oname ?: "", reg ? reg + 1 : "");
                    rc = -1;
                }
        json_decref(theirs);
    }
    json_decref(keys);
    json_decref(mine);
    free(prefix);
    return rc;
}

int emu_ce_prep_subnetwork(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp) {
    if (json_object_get(doc, "fingerprint") && json_object_get(doc, "gatewayAddress"))
        return check_overlap(emu, t, doc, resp); /* update: nothing to derive */
    if (need_ref(emu, doc, "network", t->project, "global/networks", 1, resp) < 0) return -1;
    uint32_t base;
    int prefix;
    const char *cidr = json_string_value(json_object_get(doc, "ipCidrRange"));
    if (!cidr || emu_ce_parse_cidr(cidr, &base, &prefix) < 0) {
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
        if (!json_object_get(r, "rangeName") || !rc || emu_ce_parse_cidr(rc, &b2, &p2) < 0) {
            emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                      "Invalid value for field 'resource.secondaryIpRanges[%zu]'.", i);
            return -1;
        }
    }
    if (check_overlap(emu, t, doc, resp) < 0) return -1;
    char gw[16];
    emu_ce_ip_str(base + 1, gw);
    json_object_set_new(doc, "gatewayAddress", json_string(gw));
    char *fp = emu_ce_fingerprint();
    json_object_set_new(doc, "fingerprint", json_string(fp));
    free(fp);
    if (!json_object_get(doc, "privateIpGoogleAccess"))
        json_object_set_new(doc, "privateIpGoogleAccess", json_false());
    if (!json_object_get(doc, "purpose")) json_object_set_new(doc, "purpose", json_string("PRIVATE"));
    if (!json_object_get(doc, "stackType")) json_object_set_new(doc, "stackType", json_string("IPV4_ONLY"));
    emu_ce_net_subnets(emu, json_string_value(json_object_get(doc, "network")),
                       json_string_value(json_object_get(doc, "selfLink")), 1);
    return 0;
}

int emu_ce_prep_firewall(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp) {
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

int emu_ce_prep_router(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp) {
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

int emu_ce_prep_address(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp) {
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
            emu_ce_ip_str((10u << 24) | ((uint32_t)(100 + n % 150) << 16), ip);
        else
            emu_ce_ip_str((34u << 24) | ((uint32_t)(n / 250 % 250) << 8) | (uint32_t)(n % 250 + 1), ip);
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

int emu_ce_prep_instance(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp) {
    if (json_object_get(doc, "status")) return 0; /* update */
    const char *mt = json_string_value(json_object_get(doc, "machineType"));
    if (!mt) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required",
                  "Invalid value for field 'resource.machineType': ''. Must be specified.");
        return -1;
    }
    char *zcoll = xasprintf("zones/%s/machineTypes", t->loc);
    emu_ce_norm_field(doc, "machineType", t->project, zcoll);
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
            char *sk = emu_ce_ref_key(json_string_value(json_object_get(nic, "subnetwork")));
            json_t *sub = emu_get(emu, sk);
            free(sk);
            if (!json_object_get(nic, "network"))
                json_object_set(nic, "network", json_object_get(sub, "network"));
            uint32_t base;
            int prefix;
            if (!json_object_get(nic, "networkIP") &&
                emu_ce_parse_cidr(json_string_value(json_object_get(sub, "ipCidrRange")), &base, &prefix) ==
                    0) {
                char ip[16];
                emu_ce_ip_str(base + 2 + (uint32_t)(emu_next_id(emu, "compute.nicip") % 200), ip);
                json_object_set_new(nic, "networkIP", json_string(ip));
            }
        }
        if (need_ref(emu, nic, "network", t->project, "global/networks", 1, resp) < 0) return -1;
        if (!json_object_get(nic, "networkIP")) {
            char ip[16];
            emu_ce_ip_str(
                (10u << 24) | (128u << 16) | (uint32_t)(2 + emu_next_id(emu, "compute.nicip") % 250), ip);
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
                emu_ce_ip_str((35u << 24) | (200u << 16) | ((uint32_t)(n / 250 % 250) << 8) |
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
    char *fp = emu_ce_fingerprint();
    json_object_set_new(md, "fingerprint", json_string(fp));
    json_object_set_new(md, "kind", json_string("compute#metadata"));
    free(fp);
    json_object_set_new(doc, "status", json_string("PROVISIONING"));
    if (!json_object_get(doc, "canIpForward")) json_object_set_new(doc, "canIpForward", json_false());
    if (!json_object_get(doc, "deletionProtection"))
        json_object_set_new(doc, "deletionProtection", json_false());
    char *key = emu_ce_ref_key(json_string_value(json_object_get(doc, "selfLink")));
    json_object_set_new(doc, "_emu", json_pack("{s:s,s:{s:s}}", "key", key, "set", "status", "RUNNING"));
    free(key);
    return 0;
}
