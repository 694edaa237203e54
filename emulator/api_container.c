/* api_container.c: emulated GKE (container v1): clusters and node pools
 * behind container Operations (PROVISIONING -> RUNNING, one operation per
 * cluster at a time, 400 FAILED_PRECONDITION otherwise), ClusterUpdate with
 * exactly one desired* field, the set* verbs, serverConfig.  Node pools
 * live inside their cluster's document, as the API returns them.  Keys
 * starting with "plinth:" are private bookkeeping, never returned. */
#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu_container.h"

static const char *const versions[] = {"1.31.1-gke.1678000", "1.30.5-gke.1014001", "1.29.9-gke.1177000",
                                       "1.28.14-gke.1099000", NULL};

/* "europe-west1-b" is a zone, "europe-west1" a region. */
static int is_zone(const char *loc) {
    const char *dash = strrchr(loc, '-');
    return dash && strlen(dash + 1) == 1 && isalpha((unsigned char)dash[1]) && strchr(loc, '-') != dash;
}

static char *region_of(const char *loc) {
    if (!is_zone(loc)) return xstrdup(loc);
    return xstrndup(loc, (size_t)(strrchr(loc, '-') - loc));
}

static const char *last_seg(const char *s) {
    const char *sl = strrchr(s, '/');
    return sl ? sl + 1 : s;
}

void emu_gke_hex8(char out[9]) {
    util_random_hex(out, 4);
}

static char *fingerprint(const json_t *labels) {
    char *text = labels ? json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS) : xstrdup("{}");
    char h[65];
    util_sha256_hex(text, strlen(text), h);
    free(text);
    return xstrndup(h, 8);
}

/* A real self-signed CA (EC P-256), as base64 of its PEM, the shape of
 * masterAuth.clusterCaCertificate. */
static char *make_ca_b64(const char *cn) {
    char *out = NULL;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    BIO *bio = BIO_new(BIO_s_mem());
    if (!k || !x || !bio) goto done;
    X509_set_version(x, 2);
    unsigned char serial[8];
    RAND_bytes(serial, sizeof serial);
    ASN1_INTEGER_set(X509_get_serialNumber(x),
                     (long)(serial[0] & 0x7f) << 24 | serial[1] << 16 | serial[2] << 8 | serial[3]);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 365 * 86400);
    X509_set_pubkey(x, k);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, n);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
    if (ext) {
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    ext = X509V3_EXT_conf_nid(NULL, NULL, NID_key_usage, "critical,keyCertSign,digitalSignature");
    if (ext) {
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    if (!X509_sign(x, k, EVP_sha256()) || !PEM_write_bio_X509(bio, x)) goto done;
    char *pem;
    long len = BIO_get_mem_data(bio, &pem);
    out = xmalloc((size_t)(4 * ((len + 2) / 3) + 1));
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)pem, (int)len);
done:
    BIO_free(bio);
    X509_free(x);
    EVP_PKEY_free(k);
    return out ? out : xstrdup("");
}

/* ---- keys and lookups ------------------------------------------------- */

char *emu_gke_cluster_key(const char *p, const char *l, const char *c) {
    return xasprintf("container/projects/%s/locations/%s/clusters/%s", p, l, c);
}

json_t *emu_gke_find_pool(json_t *cluster, const char *name, size_t *idx) {
    size_t i;
    json_t *np;
    json_array_foreach(json_object_get(cluster, "nodePools"), i, np) {
        if (!strcmp(json_string_value(json_object_get(np, "name")) ?: "", name)) {
            if (idx) *idx = i;
            return np;
        }
    }
    return NULL;
}

/* Loads the cluster named by params p,l,c (a copy the caller owns), or
 * fills a 404. */
json_t *emu_gke_load_cluster(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = emu_gke_cluster_key(req->params[0], req->params[1], req->params[2]);
    json_t *c = emu_load(emu, resp, key, "Not found: projects/%s/locations/%s/clusters/%s.", req->params[0],
                         req->params[1], req->params[2]);
    return c ? json_deep_copy(c) : NULL;
}

/* The running operation on a cluster (borrowed) or NULL. */
static json_t *running_op(emu_t *emu, const json_t *cluster) {
    const char *ok = json_string_value(json_object_get(cluster, "plinth:opKey"));
    json_t *op = ok ? emu_get(emu, ok) : NULL;
    if (op && strcmp(json_string_value(json_object_get(op, "status")) ?: "", "DONE") != 0) return op;
    return NULL;
}

int emu_gke_refuse_if_busy(emu_t *emu, const json_t *cluster, emu_resp_t *resp) {
    json_t *op = running_op(emu, cluster);
    if (!op) return 0;
    emu_error(resp, 400, "FAILED_PRECONDITION", "failedPrecondition",
              "Cluster is running incompatible operation %s.",
              json_string_value(json_object_get(op, "name")));
    return -1;
}

void emu_gke_recount(json_t *c) {
    json_int_t total = 0;
    size_t i;
    json_t *np;
    json_array_foreach(json_object_get(c, "nodePools"), i, np) {
        json_int_t n = json_integer_value(json_object_get(np, "plinth:nodeCount"));
        total += n * (json_int_t)(json_array_size(json_object_get(np, "locations")) ?: 1);
    }
    json_object_set_new(c, "currentNodeCount", json_integer(total));
}

static void op_finish(emu_t *emu, const char *opkey);

/* Starts an operation on a cluster (whose copy c the caller then stores):
 * records it, arms its completion, returns the public form (new). */
json_t *emu_gke_start_op(emu_t *emu, const char *p, const char *l, const char *ckey, json_t *c,
                         const char *type, const char *target, const char *kind, const char *pool) {
    char *id = emu_op_id(emu);
    char *opkey = xasprintf("container/projects/%s/locations/%s/operations/%s", p, l, id);
    char *self = xasprintf(API_BASE "/projects/%s/locations/%s/operations/%s", p, l, id);
    json_t *op = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "name", id, "zone", l, "location", l,
                           "operationType", type, "status", "RUNNING", "selfLink", self, "targetLink", target,
                           "startTime", emu_now(), "plinth:cluster", ckey);
    if (pool) json_object_set_new(op, "plinth:nodePool", json_string(pool));
    json_object_set_new(c, "plinth:opKey", json_string(opkey));
    json_t *pub = emu_op_arm(emu, opkey, op, kind, op_finish); /* op holds no arrays */
    free(id);
    free(opkey);
    free(self);
    return pub;
}

/* Marks the operation just started on c to end in failure with msg, as
 * GKE's do when a check it makes while provisioning fails: the operation
 * is DONE with error and statusMessage, the cluster in ERROR. */
static void fail_later(emu_t *emu, json_t *c, const char *msg) {
    const char *opkey = json_string_value(json_object_get(c, "plinth:opKey")) ?: "";
    json_t *op = emu_get(emu, opkey);
    if (!op) return;
    op = json_deep_copy(op);
    json_object_set_new(op, "plinth:error", json_string(msg));
    emu_put(emu, opkey, op);
}

/* An operation's failure recorded by fail_later, applied at DONE. */
static void finish_failed(json_t *op, json_t *c) {
    /* A copy: deleting "plinth:error" frees the string it borrows from. */
    char *msg = xstrdup(json_string_value(json_object_get(op, "plinth:error")) ?: "");
    json_object_set_new(op, "error", json_pack("{s:i,s:s}", "code", 3, "message", msg));
    json_object_set_new(op, "statusMessage", json_string(msg));
    json_object_del(op, "plinth:error");
    if (!c) {
        free(msg);
        return;
    }
    json_object_set_new(c, "status", json_string("ERROR"));
    json_object_set_new(c, "statusMessage", json_string(msg));
    json_object_set_new(c, "conditions",
                        json_pack("[{s:s,s:s}]", "message", msg, "canonicalCode", "INVALID_ARGUMENT"));
    json_t *np;
    size_t i;
    json_array_foreach(json_object_get(c, "nodePools"), i, np)
        json_object_set_new(np, "status", json_string("ERROR"));
    free(msg);
}

static void op_finish(emu_t *emu, const char *opkey) {
    json_t *cur = emu_get(emu, opkey);
    if (!cur || !strcmp(json_string_value(json_object_get(cur, "status")) ?: "", "DONE")) return;
    json_t *op = json_deep_copy(cur);
    json_object_set_new(op, "status", json_string("DONE"));
    json_object_set_new(op, "endTime", json_string(emu_now()));
    const char *type = json_string_value(json_object_get(op, "operationType")) ?: "";
    const char *ckey = json_string_value(json_object_get(op, "plinth:cluster")) ?: "";
    const char *pool = json_string_value(json_object_get(op, "plinth:nodePool"));
    json_t *stored = emu_get(emu, ckey);
    if (stored && !strcmp(type, "DELETE_CLUSTER")) {
        /* The cluster's Kubernetes objects (served under k8s/<id>/) go too. */
        const char *id = json_string_value(json_object_get(stored, "id"));
        if (id && *id) {
            char *prefix = xasprintf("k8s/%s/", id);
            emu_del_prefix(emu, prefix);
            free(prefix);
        }
        emu_del(emu, ckey);
    } else if (stored) {
        json_t *c = json_deep_copy(stored);
        json_object_set_new(c, "status", json_string("RUNNING"));
        json_t *pools = json_object_get(c, "nodePools"), *np;
        size_t i, del = (size_t)-1;
        json_array_foreach(pools, i, np) {
            const char *st = json_string_value(json_object_get(np, "status")) ?: "";
            if (!strcmp(st, "STOPPING") && pool &&
                !strcmp(json_string_value(json_object_get(np, "name")) ?: "", pool))
                del = i;
            else if (strcmp(st, "STOPPING") != 0)
                json_object_set_new(np, "status", json_string("RUNNING"));
        }
        if (del != (size_t)-1 && !strcmp(type, "DELETE_NODE_POOL")) json_array_remove(pools, del);
        if (json_array_size(pools)) {
            json_t *first = json_array_get(pools, 0);
            json_object_set(c, "nodeConfig", json_object_get(first, "config"));
        }
        json_object_del(c, "plinth:opKey");
        emu_gke_recount(c);
        if (json_object_get(op, "plinth:error")) finish_failed(op, c);
        emu_put(emu, ckey, c);
    }
    emu_put(emu, opkey, op);
}

int emu_gke_valid_name(const char *n, size_t max) {
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > max || !islower((unsigned char)n[0]) || n[len - 1] == '-') return 0;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)n[i]) && !isdigit((unsigned char)n[i]) && n[i] != '-') return 0;
    return 1;
}

/* ---- clusters ---------------------------------------------------------- */

/* The compute document of a subnetwork's secondary range named name
 * (BORROWED), or NULL. */
static json_t *secondary_range(json_t *subnet, const char *name) {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(subnet, "secondaryIpRanges"), i, r) {
        if (!strcmp(json_string_value(json_object_get(r, "rangeName")) ?: "", name)) return r;
    }
    return NULL;
}

/* Pod and service ranges of a new cluster: a named secondary range must
 * exist in the subnetwork and gives the block, as GKE reports it (the
 * cluster's servicesIpv4Cidr is the services range's CIDR). */
static char *cluster_ip_alloc(json_t *c, json_t *subnet, const char *subfull) {
    json_t *ipa = json_object_get(c, "ipAllocationPolicy");
    if (!json_is_object(ipa)) {
        ipa = json_object();
        json_object_set_new(c, "ipAllocationPolicy", ipa);
    }
    const char *names[2] = {json_string_value(json_object_get(ipa, "clusterSecondaryRangeName")),
                            json_string_value(json_object_get(ipa, "servicesSecondaryRangeName"))};
    const char *blocks[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        if (!names[i]) continue;
        json_t *r = subnet ? secondary_range(subnet, names[i]) : NULL;
        if (!r)
            return xasprintf("%s secondary range \"%s\" not found in subnet \"%s\".", i ? "Services" : "Pod",
                             names[i], subfull);
        blocks[i] = json_string_value(json_object_get(r, "ipCidrRange"));
    }
    emu_set_default(ipa, "useIpAliases", json_true());
    const char *pods = blocks[0] ?: json_string_value(json_object_get(ipa, "clusterIpv4CidrBlock"))
                                  ?: json_string_value(json_object_get(c, "clusterIpv4Cidr")) ?: "10.4.0.0/14";
    const char *svcs = blocks[1] ?: json_string_value(json_object_get(ipa, "servicesIpv4CidrBlock"))
                                  ?: "34.118.224.0/20";
    json_object_set_new(c, "clusterIpv4Cidr", json_string(pods));
    json_object_set_new(c, "servicesIpv4Cidr", json_string(svcs));
    json_object_set_new(ipa, "clusterIpv4Cidr", json_string(pods));
    json_object_set_new(ipa, "clusterIpv4CidrBlock", json_string(pods));
    json_object_set_new(ipa, "servicesIpv4Cidr", json_string(svcs));
    json_object_set_new(ipa, "servicesIpv4CidrBlock", json_string(svcs));
    emu_set_default(ipa, "stackType", json_string("IPV4"));
    return NULL;
}

/* Network and subnetwork of a new cluster, checked against Compute as
 * GKE does.  Every project has its "default" network (created with the
 * Compute API), so an omitted or "default" network with no subnetwork is
 * accepted even when the emulator holds no such document; a named network,
 * subnetwork or secondary range must exist.  Returns NULL, or the error
 * the cluster's operation ends with (new). */
static char *cluster_network(emu_t *emu, json_t *c, const char *p, const char *region) {
    const char *net = last_seg(json_string_value(json_object_get(c, "network")) ?: "default");
    const char *sub = json_string_value(json_object_get(c, "subnetwork"));
    int implicit = !strcmp(net, "default") && !sub;
    char *netfull = xasprintf("projects/%s/global/networks/%s", p, net);
    char *subfull = xasprintf("projects/%s/regions/%s/subnetworks/%s", p, region, last_seg(sub ?: "default"));
    char *nkey = xasprintf("compute/%s", netfull), *skey = xasprintf("compute/%s", subfull);
    char *err = NULL;
    json_t *subnet = emu_get(emu, skey);
    if (!implicit && !emu_get(emu, nkey))
        err = xasprintf("Network \"%s\" does not exist.", net);
    else if (!implicit && !subnet)
        err = xasprintf("Subnetwork \"%s\" does not exist.", subfull);
    else if (subnet && !strstr(json_string_value(json_object_get(subnet, "network")) ?: "", netfull))
        err = xasprintf("Subnetwork \"%s\" is not in network \"%s\".", subfull, netfull);
    json_t *netcfg = json_object_get(c, "networkConfig");
    if (!json_is_object(netcfg)) {
        netcfg = json_object();
        json_object_set_new(c, "networkConfig", netcfg);
    }
    json_object_set_new(netcfg, "network", json_string(netfull));
    json_object_set_new(netcfg, "subnetwork", json_string(subfull));
    json_object_set_new(c, "network", json_string(net));
    json_object_set_new(c, "subnetwork", json_string(last_seg(sub ?: "default")));
    if (!err) err = cluster_ip_alloc(c, subnet, subfull);
    free(netfull);
    free(subfull);
    free(nkey);
    free(skey);
    return err;
}

/* Endpoint, versions, add-ons, CA, private endpoint, labels, status. */
static void cluster_defaults(json_t *c, const char *id, const char *h) {
    unsigned a = (unsigned)strtoul((char[]){id[0], id[1], 0}, NULL, 16),
             b = (unsigned)strtoul((char[]){id[2], id[3], 0}, NULL, 16),
             d = (unsigned)strtoul((char[]){id[4], id[5], 0}, NULL, 16);
    char ep[32];
    snprintf(ep, sizeof ep, "34.%u.%u.%u", 16 + a % 200, b, 1 + d % 250);
    json_object_set_new(c, "endpoint", json_string(ep));
    emu_set_default(c, "nodeIpv4CidrSize", json_integer(24));
    emu_set_default(c, "loggingService", json_string("logging.googleapis.com/kubernetes"));
    emu_set_default(c, "monitoringService", json_string("monitoring.googleapis.com/kubernetes"));
    const char *icv = json_string_value(json_object_get(c, "initialClusterVersion"));
    if (!json_object_get(c, "releaseChannel") && !icv)
        json_object_set_new(c, "releaseChannel", json_pack("{s:s}", "channel", "REGULAR"));
    const char *ver = icv ? emu_gke_resolve_version(icv) : DEFAULT_VERSION;
    json_object_set_new(c, "currentMasterVersion", json_string(ver ?: DEFAULT_VERSION));
    json_object_set_new(c, "currentNodeVersion", json_string(ver ?: DEFAULT_VERSION));
    emu_set_default(c, "initialClusterVersion", json_string(ver ?: DEFAULT_VERSION));
    json_t *addons =
        json_pack("{s:{},s:{},s:{s:b},s:{s:b},s:{s:b}}", "httpLoadBalancing", "horizontalPodAutoscaling",
                  "kubernetesDashboard", "disabled", 1, "networkPolicyConfig", "disabled", 1,
                  "gcePersistentDiskCsiDriverConfig", "enabled", 1);
    json_object_update(addons, json_object_get(c, "addonsConfig"));
    json_object_set_new(c, "addonsConfig", addons);
    json_t *ma = json_object_get(c, "masterAuth");
    if (!json_is_object(ma)) {
        ma = json_object();
        json_object_set_new(c, "masterAuth", ma);
    }
    json_object_del(ma, "password");
    char *ca = make_ca_b64(id);
    json_object_set_new(ma, "clusterCaCertificate", json_string(ca));
    free(ca);
    json_t *pcc = json_object_get(c, "privateClusterConfig");
    if (json_is_object(pcc) && json_is_true(json_object_get(pcc, "enablePrivateNodes"))) {
        json_object_set_new(pcc, "privateEndpoint", json_string("172.16.0.2"));
        json_object_set_new(pcc, "publicEndpoint", json_string(ep));
        char *peer = xasprintf("gke-n%s-%.4s-peer", h, id);
        json_object_set_new(pcc, "peeringName", json_string(peer));
        free(peer);
    }
    emu_set_default(c, "databaseEncryption", json_pack("{s:s}", "state", "DECRYPTED"));
    emu_set_default(c, "shieldedNodes", json_pack("{s:b}", "enabled", 1));
    char *fp = fingerprint(json_object_get(c, "resourceLabels"));
    json_object_set_new(c, "labelFingerprint", json_string(fp));
    free(fp);
    json_object_set_new(c, "createTime", json_string(emu_now()));
    json_object_set_new(c, "status", json_string("PROVISIONING"));
    json_object_set_new(c, "etag", json_string(h));
    char *k8s = xasprintf("k8s/%s", id);
    json_object_set_new(c, "plinth:k8sPath", json_string(k8s));
    free(k8s);
}

/* The cluster's node pools (given, or "default-pool"), with defaults;
 * -1 with a 400 on a bad pool name. */
static int cluster_pools(json_t *c, const json_t *in_pools, emu_resp_t *resp, const char *p, const char *l,
                         const char *name) {
    json_t *pools = json_array(), *np;
    size_t i;
    json_array_foreach(in_pools, i, np) if (emu_gke_pool_check(np, l, resp) < 0) {
        json_decref(pools);
        return -1;
    }
    json_t *cfg = json_object_get(c, "nodeConfig");
    json_t *nc = json_pack("{s:o}", "config", cfg ? json_deep_copy(cfg) : json_object());
    int bad = emu_gke_pool_check(nc, l, resp);
    json_decref(nc);
    if (bad < 0) {
        json_decref(pools);
        return -1;
    }
    json_array_foreach(in_pools, i, np) json_array_append_new(pools, json_deep_copy(np));
    if (!json_array_size(in_pools) &&
        !json_is_true(json_object_get(json_object_get(c, "autopilot"), "enabled"))) {
        np = json_pack("{s:s,s:I}", "name", "default-pool", "initialNodeCount",
                       json_integer_value(json_object_get(c, "initialNodeCount")) ?: 3);
        if (json_object_get(c, "nodeConfig")) json_object_set(np, "config", json_object_get(c, "nodeConfig"));
        json_array_append_new(pools, np);
    }
    json_object_set_new(c, "nodePools", pools);
    json_array_foreach(pools, i, np) {
        if (!emu_gke_valid_name(json_string_value(json_object_get(np, "name")), 40)) {
            emu_bad_request(resp, "Invalid value for field \"cluster.node_pools[%zu].name\".", i);
            return -1;
        }
        emu_gke_pool_defaults(np, c, p, l, name);
    }
    if (json_array_size(pools))
        json_object_set(c, "nodeConfig", json_object_get(json_array_get(pools, 0), "config"));
    emu_gke_recount(c);
    return 0;
}

/* 0, or -1 with a 400 for what GKE refuses before starting an operation. */
static int cluster_check(emu_resp_t *resp, const json_t *in) {
    if (!json_is_object(in)) {
        emu_bad_request(resp, "Cluster is required.");
        return -1;
    }
    const char *name = json_string_value(json_object_get(in, "name"));
    if (!emu_gke_valid_name(name, 40)) {
        emu_bad_request(resp,
                        "Invalid value for field \"cluster.name\": \"%s\". Must be a match of regex "
                        "'(?:[a-z](?:[-a-z0-9]{0,38}[a-z0-9])?)' (only alphanumerics and '-' allowed, "
                        "must start with a letter and end with an alphanumeric, and must be no longer "
                        "than 40 characters).",
                        name ? name : "");
        return -1;
    }
    if (json_array_size(json_object_get(in, "nodePools")) && json_object_get(in, "initialNodeCount")) {
        emu_bad_request(resp, "Cluster.initial_node_count must not be set when Cluster.node_pools is set.");
        return -1;
    }
    const char *icv = json_string_value(json_object_get(in, "initialClusterVersion"));
    if (icv && !emu_gke_resolve_version(icv)) {
        emu_bad_request(resp, "Version \"%s\" is invalid.", icv);
        return -1;
    }
    return 0;
}

static void cluster_locations(json_t *c, const char *l) {
    if (json_array_size(json_object_get(c, "locations"))) return;
    json_t *locs = is_zone(l) ? json_pack("[s]", l) : json_array();
    if (!is_zone(l))
        for (const char *s = "bcd"; *s; s++) {
            char *z = xasprintf("%s-%c", l, *s);
            json_array_append_new(locs, json_string(z));
            free(z);
        }
    json_object_set_new(c, "locations", locs);
}

static void cluster_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0], *l = req->params[1];
    if (emu_validate(resp, "container", "CreateClusterRequest", req->body) < 0) return;
    json_t *in = json_object_get(req->body, "cluster");
    if (cluster_check(resp, in) < 0) return;
    const char *name = json_string_value(json_object_get(in, "name"));
    char *key = emu_gke_cluster_key(p, l, name);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists",
                  "Already exists: projects/%s/locations/%s/clusters/%s.", p, l, name);
        free(key);
        return;
    }
    json_t *c = json_deep_copy(in);
    char id[33], h[9];
    util_random_hex(id, 16);
    emu_gke_hex8(h);
    char *region = region_of(l);
    json_object_set_new(c, "id", json_string(id));
    char *self = xasprintf(API_BASE "/projects/%s/locations/%s/clusters/%s", p, l, name);
    json_object_set_new(c, "selfLink", json_string(self));
    json_object_set_new(c, "location", json_string(l));
    json_object_set_new(c, "zone", json_string(l));
    cluster_locations(c, l);
    char *err = cluster_network(emu, c, p, region);
    cluster_defaults(c, id, h);
    if (cluster_pools(c, json_object_get(in, "nodePools"), resp, p, l, name) == 0) {
        resp->body =
            emu_gke_start_op(emu, p, l, key, c, "CREATE_CLUSTER", self, "container.clusters.create", NULL);
        if (err) fail_later(emu, c, err);
        emu_put(emu, key, c);
        c = NULL;
    }
    json_decref(c);
    free(err);
    free(self);
    free(region);
    free(key);
}

static void cluster_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *c = emu_gke_load_cluster(emu, req, resp, &key);
    if (!c) return;
    resp->body = emu_strip_deep(c);
    json_decref(c);
    free(key);
}

static void cluster_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0], *l = req->params[1];
    char *prefix = xasprintf("container/projects/%s/locations/", p);
    json_t *keys = emu_keys(emu, prefix), *k, *items = json_array();
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *s = json_string_value(k) + strlen(prefix);
        const char *cl = strstr(s, "/clusters/");
        if (!cl) continue;
        if (strcmp(l, "-") != 0 && (strlen(l) != (size_t)(cl - s) || strncmp(s, l, strlen(l)))) continue;
        json_array_append_new(items, emu_strip_deep(emu_get(emu, json_string_value(k))));
    }
    json_decref(keys);
    free(prefix);
    resp->body = json_pack("{s:o}", "clusters", items);
}

static void cluster_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *c = emu_gke_load_cluster(emu, req, resp, &key);
    if (!c) return;
    if (emu_gke_refuse_if_busy(emu, c, resp) == 0) {
        json_object_set_new(c, "status", json_string("STOPPING"));
        resp->body = emu_gke_start_op(emu, req->params[0], req->params[1], key, c, "DELETE_CLUSTER",
                                      json_string_value(json_object_get(c, "selfLink")),
                                      "container.clusters.delete", NULL);
        emu_put(emu, key, c);
        c = NULL;
    }
    json_decref(c);
    free(key);
}

/* desired* fields whose cluster field is not simply the name without
 * "desired". */
static const struct {
    const char *desired, *path; /* dotted */
} update_map[] = {
    {"desiredMasterVersion", "currentMasterVersion"},
    {"desiredNodeVersion", "currentNodeVersion"},
    {"desiredClusterAutoscaling", "autoscaling"},
    {"desiredEnablePrivateEndpoint", "privateClusterConfig.enablePrivateEndpoint"},
    {"desiredDefaultEnablePrivateNodes", "networkConfig.defaultEnablePrivateNodes"},
    {"desiredIntraNodeVisibilityConfig", "networkConfig.enableIntraNodeVisibility"},
    {"desiredDatapathProvider", "networkConfig.datapathProvider"},
    {"desiredPrivateIpv6GoogleAccess", "networkConfig.privateIpv6GoogleAccess"},
    {"desiredDnsConfig", "networkConfig.dnsConfig"},
    {"desiredGatewayApiConfig", "networkConfig.gatewayApiConfig"},
    {"desiredL4ilbSubsettingConfig", "networkConfig.enableL4ilbSubsetting"},
};

/* Sets value at a dotted path, creating objects on the way; objects are
 * merged into an existing object value (the API's desired* configs are
 * whole messages, merged field by field here for the nested ones). */
static void set_path(json_t *doc, const char *path, json_t *val, int merge) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    json_t *cur = doc;
    char *save = NULL, *tok = strtok_r(buf, ".", &save);
    while (tok) {
        char *next = strtok_r(NULL, ".", &save);
        if (!next) {
            json_t *old = json_object_get(cur, tok);
            if (merge && json_is_object(old) && json_is_object(val))
                json_object_update(old, val);
            else
                json_object_set(cur, tok, val);
            return;
        }
        json_t *sub = json_object_get(cur, tok);
        if (!json_is_object(sub)) {
            sub = json_object();
            json_object_set_new(cur, tok, sub);
        }
        cur = sub;
        tok = next;
    }
}

int emu_gke_version_cmp(const char *a, const char *b) {
    int x[4] = {0, 0, 0, 0}, y[4] = {0, 0, 0, 0};
    sscanf(a ? a : "", "%d.%d.%d-gke.%d", &x[0], &x[1], &x[2], &x[3]);
    sscanf(b ? b : "", "%d.%d.%d-gke.%d", &y[0], &y[1], &y[2], &y[3]);
    for (int i = 0; i < 4; i++)
        if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* -1 with 400 when ver would downgrade the master from current. */
static int refuse_downgrade(emu_resp_t *resp, const char *ver, const char *current) {
    if (emu_gke_version_cmp(ver, current) >= 0) return 0;
    emu_bad_request(resp,
                    "Master version \"%s\" is older than the current version \"%s\"; a master downgrade is "
                    "not supported.",
                    ver, current);
    return -1;
}

const char *emu_gke_resolve_version(const char *v) {
    if (!v || !strcmp(v, "-") || !strcmp(v, "latest")) return versions[0];
    for (size_t i = 0; versions[i]; i++)
        if (!strncmp(versions[i], v, strlen(v))) return versions[i];
    return NULL;
}

static void mark_update(json_t *c) {
    char h[9];
    emu_gke_hex8(h);
    json_object_set_new(c, "etag", json_string(h));
    json_object_set_new(c, "status", json_string("RECONCILING"));
}

/* Marks the cluster copy c updating, starts a cluster update operation
 * of type (its public form in resp) and stores c (stolen). */
static void start_update(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const char *key, json_t *c,
                         const char *type) {
    mark_update(c);
    resp->body = emu_gke_start_op(emu, req->params[0], req->params[1], key, c, type,
                                  json_string_value(json_object_get(c, "selfLink")),
                                  "container.clusters.update", NULL);
    emu_put(emu, key, c);
}

static void cluster_update(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "container", "UpdateClusterRequest", req->body) < 0) return;
    json_t *u = json_object_get(req->body, "update");
    char *key;
    json_t *c = emu_gke_load_cluster(emu, req, resp, &key);
    if (!c) return;
    const char *field = NULL, *k;
    json_t *v, *val = NULL;
    int n = 0;
    json_object_foreach(u, k, v) {
        if (!strncmp(k, "desired", 7) && strcmp(k, "desiredNodePoolId") != 0) {
            n++;
            field = k;
            val = v;
        }
    }
    const char *type = "UPDATE_CLUSTER";
    const char *pool = json_string_value(json_object_get(u, "desiredNodePoolId"));
    const char *etag = json_string_value(json_object_get(u, "etag"));
    if (n != 1) {
        emu_bad_request(resp,
                        n ? "Exactly one update can be applied to a cluster with each request; got %d."
                          : "Update request must specify exactly one update (got %d).",
                        n);
        goto out;
    }
    if (etag && *etag && strcmp(etag, json_string_value(json_object_get(c, "etag")) ?: "")) {
        emu_error(resp, 409, "ABORTED", "aborted",
                  "Cluster etag %s does not match the current etag; re-read the cluster.", etag);
        goto out;
    }
    if (emu_gke_refuse_if_busy(emu, c, resp) < 0) goto out;
    if (!pool && !strcmp(field, "desiredNodePoolAutoscaling")) {
        emu_bad_request(resp, "desiredNodePoolAutoscaling requires desiredNodePoolId.");
        goto out;
    }
    json_t *np = pool ? emu_gke_find_pool(c, pool, NULL) : NULL;
    if (pool && !np) {
        emu_not_found(resp, "Not found: node pool \"%s\".", pool);
        goto out;
    }
    if (!strcmp(field, "desiredMasterVersion") || !strcmp(field, "desiredNodeVersion")) {
        const char *ver = emu_gke_resolve_version(json_string_value(val));
        if (!ver) {
            emu_bad_request(resp, "Master version \"%s\" is unsupported.", json_string_value(val) ?: "");
            goto out;
        }
        if (!strcmp(field, "desiredMasterVersion")) {
            if (refuse_downgrade(resp, ver, json_string_value(json_object_get(c, "currentMasterVersion"))) <
                0)
                goto out;
            json_object_set_new(c, "currentMasterVersion", json_string(ver));
            type = "UPGRADE_MASTER";
        } else {
            size_t i;
            json_t *x;
            json_array_foreach(json_object_get(c, "nodePools"), i, x) {
                if (!np || x == np) json_object_set_new(x, "version", json_string(ver));
            }
            json_object_set_new(c, "currentNodeVersion", json_string(ver));
            type = "UPGRADE_NODES";
        }
    } else if (np && !strcmp(field, "desiredNodePoolAutoscaling")) {
        json_object_set(np, "autoscaling", val);
    } else if (!strcmp(field, "desiredImageType")) {
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(c, "nodePools"), i, x) {
            if (!np || x == np) json_object_set(json_object_get(x, "config"), "imageType", val);
        }
    } else if (!strcmp(field, "desiredLocations")) {
        json_object_set(c, "locations", val);
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(c, "nodePools"), i, x) {
            json_object_set(x, "locations", val);
        }
    } else {
        const char *path = NULL;
        for (size_t i = 0; i < sizeof update_map / sizeof update_map[0]; i++)
            if (!strcmp(update_map[i].desired, field)) path = update_map[i].path;
        char *own = NULL;
        if (!path) {
            own = xstrdup(field + 7);
            own[0] = (char)tolower((unsigned char)own[0]);
            path = own;
        }
        json_t *set = val;
        if (!strcmp(field, "desiredIntraNodeVisibilityConfig") ||
            !strcmp(field, "desiredL4ilbSubsettingConfig"))
            set = json_object_get(val, "enabled") ?: json_false();
        set_path(c, path, set, json_is_object(set));
        free(own);
    }
    start_update(emu, req, resp, key, c, type);
    c = NULL;
out:
    json_decref(c);
    free(key);
}

/* The set* verbs: body field -> cluster field, operation type. */
static void cluster_set(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const char *msg, const char *in,
                        const char *out, const char *type, int merge) {
    if (emu_validate(resp, "container", msg, req->body) < 0) return;
    char *key;
    json_t *c = emu_gke_load_cluster(emu, req, resp, &key);
    if (!c) return;
    json_t *val = json_object_get(req->body, in);
    if (!val) {
        emu_bad_request(resp, "Field \"%s\" is required.", in);
        goto out;
    }
    if (emu_gke_refuse_if_busy(emu, c, resp) < 0) goto out;
    if (!strcmp(in, "resourceLabels")) {
        const char *fp = json_string_value(json_object_get(req->body, "labelFingerprint"));
        if (fp && *fp && strcmp(fp, json_string_value(json_object_get(c, "labelFingerprint")) ?: "")) {
            emu_error(resp, 400, "FAILED_PRECONDITION", "failedPrecondition",
                      "Labels could not be set due to fingerprint mismatch.");
            goto out;
        }
        char *nfp = fingerprint(val);
        json_object_set_new(c, "labelFingerprint", json_string(nfp));
        free(nfp);
    }
    if (!strcmp(in, "maintenancePolicy") && json_is_object(val)) {
        char h[9];
        emu_gke_hex8(h);
        json_t *mp = json_deep_copy(val);
        json_object_set_new(mp, "resourceVersion", json_string(h));
        set_path(c, out, mp, 0);
        json_decref(mp);
    } else if (!strcmp(in, "update")) { /* setMasterAuth */
        json_t *ma = json_deep_copy(val);
        json_object_del(ma, "password");
        set_path(c, out, ma, 1);
        json_decref(ma);
    } else if (!strcmp(in, "enabled")) { /* setLegacyAbac */
        json_t *la = json_pack("{s:O}", "enabled", val);
        set_path(c, out, la, 0);
        json_decref(la);
    } else {
        set_path(c, out, val, merge);
    }
    if (!strcmp(in, "locations")) {
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(c, "nodePools"), i, x) {
            json_object_set(x, "locations", val);
        }
    }
    start_update(emu, req, resp, key, c, type);
    c = NULL;
out:
    json_decref(c);
    free(key);
}

#define SETTER(fn, msg, in, out, type, merge)                                                                \
    static void fn(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {                                     \
        cluster_set(emu, req, resp, msg, in, out, type, merge);                                              \
    }
SETTER(set_labels, "SetLabelsRequest", "resourceLabels", "resourceLabels", "SET_LABELS", 0)
SETTER(set_legacy_abac, "SetLegacyAbacRequest", "enabled", "legacyAbac", "UPDATE_CLUSTER", 0)
SETTER(set_maintenance, "SetMaintenancePolicyRequest", "maintenancePolicy", "maintenancePolicy",
       "SET_MAINTENANCE_POLICY", 0)
SETTER(set_network_policy, "SetNetworkPolicyRequest", "networkPolicy", "networkPolicy", "SET_NETWORK_POLICY",
       0)
SETTER(set_logging, "SetLoggingServiceRequest", "loggingService", "loggingService", "UPDATE_CLUSTER", 0)
SETTER(set_monitoring, "SetMonitoringServiceRequest", "monitoringService", "monitoringService",
       "UPDATE_CLUSTER", 0)
SETTER(set_addons, "SetAddonsConfigRequest", "addonsConfig", "addonsConfig", "UPDATE_CLUSTER", 1)
SETTER(set_locations, "SetLocationsRequest", "locations", "locations", "UPDATE_CLUSTER", 0)
SETTER(set_master_auth, "SetMasterAuthRequest", "update", "masterAuth", "SET_MASTER_AUTH", 1)

static void update_master(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *v = json_string_value(json_object_get(req->body, "masterVersion"));
    const char *ver = emu_gke_resolve_version(v);
    if (!ver) {
        emu_bad_request(resp, "Master version \"%s\" is unsupported.", v ? v : "");
        return;
    }
    char *key = NULL;
    json_t *c = emu_gke_load_cluster(emu, req, resp, &key);
    int refused =
        !c || refuse_downgrade(resp, ver, json_string_value(json_object_get(c, "currentMasterVersion"))) < 0;
    json_decref(c);
    free(key);
    if (refused) return;
    json_t *body = json_pack("{s:s}", "masterVersion", ver);
    emu_req_t r2 = *req;
    r2.body = body;
    cluster_set(emu, &r2, resp, "UpdateMasterRequest", "masterVersion", "currentMasterVersion",
                "UPGRADE_MASTER", 0);
    json_decref(body);
}

/* ---- operations and server config --------------------------------------- */

static void op_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = xasprintf("container/projects/%s/locations/%s/operations/%s", req->params[0], req->params[1],
                          req->params[2]);
    json_t *op = emu_load(emu, resp, &key, "Not found: projects/%s/locations/%s/operations/%s.",
                          req->params[0], req->params[1], req->params[2]);
    if (op) resp->body = emu_strip_deep(op);
    free(key);
}

static void op_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *l = req->params[1];
    char *prefix = xasprintf("container/projects/%s/locations/", req->params[0]);
    json_t *keys = emu_keys(emu, prefix), *k, *items = json_array();
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *s = json_string_value(k) + strlen(prefix);
        const char *o = strstr(s, "/operations/");
        if (!o || (strcmp(l, "-") && (strlen(l) != (size_t)(o - s) || strncmp(s, l, strlen(l))))) continue;
        json_array_append_new(items, emu_strip_deep(emu_get(emu, json_string_value(k))));
    }
    json_decref(keys);
    free(prefix);
    resp->body = json_pack("{s:o}", "operations", items);
}

static void op_cancel(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    emu_error(resp, 400, "FAILED_PRECONDITION", "failedPrecondition", "Operation %s cannot be cancelled.",
              req->params[2]);
}

static void server_config(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *vs = json_array();
    for (size_t i = 0; versions[i]; i++)
        json_array_append_new(vs, json_string(versions[i]));
    json_t *channels = json_array();
    const char *names[] = {"RAPID", "REGULAR", "STABLE", "EXTENDED"};
    for (int i = 0; i < 4; i++)
        json_array_append_new(channels,
                              json_pack("{s:s,s:s,s:O}", "channel", names[i], "defaultVersion",
                                        i == 0 ? versions[0] : DEFAULT_VERSION, "validVersions", vs));
    resp->body = json_pack("{s:s,s:O,s:O,s:s,s:[s,s,s,s],s:o}", "defaultClusterVersion", DEFAULT_VERSION,
                           "validMasterVersions", vs, "validNodeVersions", vs, "defaultImageType",
                           "COS_CONTAINERD", "validImageTypes", "COS_CONTAINERD", "UBUNTU_CONTAINERD",
                           "WINDOWS_LTSC_CONTAINERD", "COS", "channels", channels);
    json_decref(vs);
}

/* Finishes what a previous run left RUNNING (timers are not persisted). */
static void init(emu_t *emu) {
    emu_resume_ops(emu, "container/projects/", "/operations/", op_finish);
}

#define CL "v1/projects/{p}/locations/{l}/clusters"
#define NP CL "/{c}/nodePools"
static const emu_route_t routes[] = {
    {"POST", CL, cluster_create},
    {"GET", CL, cluster_list},
    {"GET", CL "/{c}", cluster_get},
    {"PUT", CL "/{c}", cluster_update},
    {"DELETE", CL "/{c}", cluster_delete},
    {"POST", CL "/{c}:setResourceLabels", set_labels},
    {"POST", CL "/{c}:setLegacyAbac", set_legacy_abac},
    {"POST", CL "/{c}:setMaintenancePolicy", set_maintenance},
    {"POST", CL "/{c}:setNetworkPolicy", set_network_policy},
    {"POST", CL "/{c}:setLogging", set_logging},
    {"POST", CL "/{c}:setMonitoring", set_monitoring},
    {"POST", CL "/{c}:setAddons", set_addons},
    {"POST", CL "/{c}:setLocations", set_locations},
    {"POST", CL "/{c}:setMasterAuth", set_master_auth},
    {"POST", CL "/{c}:updateMaster", update_master},
    {"POST", NP, emu_gke_pool_create},
    {"GET", NP, emu_gke_pool_list},
    {"GET", NP "/{np}", emu_gke_pool_get},
    {"PUT", NP "/{np}", emu_gke_pool_update},
    {"DELETE", NP "/{np}", emu_gke_pool_delete},
    {"POST", NP "/{np}:setSize", emu_gke_pool_set_size},
    {"POST", NP "/{np}:setAutoscaling", emu_gke_pool_set_autoscaling},
    {"POST", NP "/{np}:setManagement", emu_gke_pool_set_management},
    {"GET", "v1/projects/{p}/locations/{l}/operations", op_list},
    {"GET", "v1/projects/{p}/locations/{l}/operations/{op}", op_get},
    {"POST", "v1/projects/{p}/locations/{l}/operations/{op}:cancel", op_cancel},
    {"GET", "v1/projects/{p}/locations/{l}/serverConfig", server_config},
};

const emu_api_t emu_api_container = {"container", routes, sizeof routes / sizeof routes[0], init};
