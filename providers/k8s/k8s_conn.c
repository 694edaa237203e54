/* k8s_conn.c: connections of the k8s provider: the cluster a body names
 * (a GKE cluster's endpoint and CA, or a kubeconfig context), the server
 * URL rule, the resource ID's connection part, and `via` tunnels through
 * an SSH bastion (see k8s_provider.c for the model). */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jpath.h"
#include "core/ref.h"
#include "core/rtype.h"
#include "transport/gcp_http.h"
#include "transport/gcp_log.h"
#include "providers/k8s/k8s.h"
#include "providers/k8s/k8s_manifest.h"
#include "providers/k8s/k8s_yaml.h"
#include "transport/ssh.h"
#include "providers/k8s/k8s_int.h"

/* ---- small helpers ---------------------------------------------------- */

const char *k8s_jstr(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

char *k8s_b64_decode(const char *in, size_t *outlen) {
    size_t n = strlen(in);
    char *out = xmalloc(n + 4);
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    int l1 = 0, l2 = 0;
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, (unsigned char *)out, &l1, (const unsigned char *)in, (int)n) < 0 ||
        EVP_DecodeFinal(ctx, (unsigned char *)out + l1, &l2) < 0) {
        EVP_ENCODE_CTX_free(ctx);
        free(out);
        return NULL;
    }
    EVP_ENCODE_CTX_free(ctx);
    out[l1 + l2] = 0;
    if (outlen) *outlen = (size_t)(l1 + l2);
    return out;
}

/* Splits "a|b|c|d|e" into 5 parts (new strings). */
int k8s_split_id(const char *id, char *parts[5]) {
    const char *p = id;
    for (int i = 0; i < 5; i++) {
        const char *bar = i < 4 ? strchr(p, '|') : NULL;
        if (i < 4 && !bar) {
            for (int j = 0; j < i; j++)
                free(parts[j]);
            return -1;
        }
        parts[i] = bar ? xstrndup(p, (size_t)(bar - p)) : xstrdup(p);
        p = bar ? bar + 1 : p;
    }
    return 0;
}

void k8s_free_parts(char *parts[5]) {
    for (int i = 0; i < 5; i++)
        free(parts[i]);
}

/* ---- server URL rule ---------------------------------------------------- */

char *k8s_server_url(const char *endpoint_override, const json_t *cluster, perr_t *e) {
    if (endpoint_override && *endpoint_override) {
        const char *id = k8s_jstr(cluster, "id");
        if (!id || !*id) {
            perr_set(e, "", "cluster: no id (expected the gcp.container_cluster's id attribute)");
            return NULL;
        }
        size_t n = strlen(endpoint_override);
        while (n && endpoint_override[n - 1] == '/')
            n--;
        return xasprintf("%.*s/k8s/%s", (int)n, endpoint_override, id);
    }
    const char *ep = k8s_jstr(cluster, "endpoint");
    if (!ep || !*ep) {
        perr_set(e, "", "cluster: no endpoint (the cluster has none yet, or it is private)");
        return NULL;
    }
    return xasprintf("https://%s", ep);
}

/* ---- connections ----------------------------------------------------------- */

static conn_t *conn_find(k8s_prov_t *P, const char *key) {
    for (conn_t *c = P->conns; c; c = c->next)
        if (!strcmp(c->key, key)) return c;
    return NULL;
}

/* Adds (or returns the existing) connection; takes ownership of fields in tmpl. */
static conn_t *conn_add(k8s_prov_t *P, conn_t *tmpl) {
    pthread_mutex_lock(&P->mu);
    conn_t *c = conn_find(P, tmpl->key);
    if (c) {
        pthread_mutex_unlock(&P->mu);
        free(tmpl->key);
        free(tmpl->server);
        free(tmpl->ca_pem);
        free(tmpl->cert_pem);
        free(tmpl->key_pem);
        free(tmpl->token);
        return c;
    }
    c = xcalloc(1, sizeof *c);
    *c = *tmpl;
    c->disc = json_object();
    pthread_mutex_init(&c->mu, NULL);
    c->next = P->conns;
    P->conns = c;
    pthread_mutex_unlock(&P->mu);
    return c;
}

gcp_client_t *k8s_prov_gcp(k8s_prov_t *P, perr_t *e) {
    pthread_mutex_lock(&P->mu);
    if (!P->gcp) {
        gcp_opts_t o = {0};
        o.endpoint = P->endpoint;
        o.http_log = P->http_log;
        o.project = P->project;
        P->gcp = gcp_client_new(&o, &P->gcp_err);
    }
    gcp_client_t *g = P->gcp;
    if (!g) *e = P->gcp_err;
    pthread_mutex_unlock(&P->mu);
    return g;
}

/* Project of a cluster table: project, then self_link, then the provider's. */
static char *cluster_project(k8s_prov_t *P, const json_t *cl) {
    const char *p = k8s_jstr(cl, "project");
    if (p && *p) return xstrdup(p);
    const char *sl = k8s_jstr(cl, "self_link");
    if (!sl) sl = k8s_jstr(cl, "selfLink");
    if (sl) {
        const char *q = strstr(sl, "projects/");
        if (q) {
            q += 9;
            size_t n = strcspn(q, "/");
            if (n) return xstrndup(q, n);
        }
    }
    return P->project ? xstrdup(P->project) : NULL;
}

static char *gke_key(k8s_prov_t *P, const json_t *cl, perr_t *e) {
    char *proj = cluster_project(P, cl);
    const char *loc = k8s_jstr(cl, "location"), *name = k8s_jstr(cl, "name");
    if (!proj || !loc || !name) {
        perr_set(e, "",
                 "cluster needs name, location and a project (cluster.project, cluster.self_link, "
                 "provider \"k8s\" { project = ... } or GOOGLE_CLOUD_PROJECT)");
        free(proj);
        return NULL;
    }
    char *k = xasprintf("projects/%s/locations/%s/clusters/%s", proj, loc, name);
    free(proj);
    return k;
}

/* A connection from a GKE cluster table or container API cluster. */
static conn_t *conn_gke(k8s_prov_t *P, const char *key, const json_t *cl, perr_t *e) {
    conn_t t = {0};
    t.server = k8s_server_url(P->endpoint, cl, e);
    if (!t.server) return NULL;
    const char *ca = k8s_jstr(cl, "ca_certificate");
    if (!ca) ca = json_string_value(jpath_get(cl, "masterAuth.clusterCaCertificate"));
    if (!P->endpoint && ca && *ca) {
        t.ca_pem = k8s_b64_decode(ca, NULL);
        if (!t.ca_pem) {
            perr_set(e, "", "cluster.ca_certificate is not valid base64");
            free(t.server);
            return NULL;
        }
    }
    t.gcp_auth = 1;
    t.key = xstrdup(key);
    return conn_add(P, &t);
}

static char *read_text(const char *path, perr_t *e) {
    size_t n;
    return util_read_file(path, &n, e);
}

/* A connection from a kubeconfig file and context. */
static conn_t *conn_kubeconfig(k8s_prov_t *P, const char *path, const char *context, perr_t *e) {
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        perr_set(e, "", "kubeconfig %s: %s", path, strerror(errno));
        return NULL;
    }
    char *key = xasprintf("kubeconfig:%s@%s", abs, context ? context : "");
    pthread_mutex_lock(&P->mu);
    conn_t *have = conn_find(P, key);
    pthread_mutex_unlock(&P->mu);
    if (have) {
        free(key);
        return have;
    }
    size_t len;
    char *text = util_read_file(abs, &len, e);
    if (!text) {
        free(key);
        return NULL;
    }
    k8s_kubeconfig_ctx_t k;
    int rc = k8s_kubeconfig_parse(text, len, abs, context, &k, e);
    free(text);
    if (rc != 0) {
        free(key);
        return NULL;
    }
    conn_t t = {0};
    t.server = k.server;
    t.ca_pem = k.ca_pem;
    t.cert_pem = k.cert_pem;
    t.key_pem = k.key_pem;
    t.token = k.token;
    t.gcp_auth = k.gcp_auth;
    if (k.ca_file && !(t.ca_pem = read_text(k.ca_file, e))) {
        k8s_kubeconfig_ctx_free(&k);
        free(key);
        return NULL;
    }
    free(k.ca_file);
    t.key = key;
    return conn_add(P, &t);
}

/* ---- tunnels (`via`) --------------------------------------------------------- */

static const char *const via_fields[] = {"host",
                                         "port",
                                         "user",
                                         "private_key_file",
                                         "private_key_passphrase",
                                         "use_agent",
                                         "host_key_sha256",
                                         "known_hosts_file",
                                         "trust_on_first_use",
                                         "connect_timeout",
                                         "via",
                                         NULL};

/* The body's via when set and resolved, else NULL. */
const json_t *k8s_body_via(const json_t *body) {
    const json_t *v = json_object_get(body, "via");
    return json_is_object(v) && !ref_contains(v) ? v : NULL;
}

int k8s_via_check(const json_t *via, perr_t *e) {
    if (!json_is_object(via)) {
        perr_set(e, "",
                 "via: expected a table of SSH settings for the bastion ({ host, user, "
                 "private_key_file | use_agent, host_key_sha256 | known_hosts_file, ... })");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)via, k, v) {
        int ok = 0;
        for (const char *const *f = via_fields; *f; f++)
            ok |= !strcmp(*f, k);
        if (!ok) {
            perr_set(e, "",
                     "via.%s: unknown field (known: host, port, user, private_key_file, use_agent, "
                     "private_key_passphrase, host_key_sha256, known_hosts_file, "
                     "trust_on_first_use, connect_timeout, via)",
                     k);
            return -1;
        }
    }
    return ssh_cfg_check(via, "via", e);
}

/* Remembers the bastion of a resource (for its delete, which gets no body).
 * A via from state (the last applied body) has its passphrase hashed:
 * dropped. */
void k8s_prov_note_via(k8s_prov_t *P, const char *id, const json_t *via) {
    if (!via) return;
    json_t *v = json_deep_copy(via);
    for (json_t *o = v; json_is_object(o); o = json_object_get(o, "via")) {
        const char *pp = k8s_jstr(o, "private_key_passphrase");
        if (pp && !strncmp(pp, "sha256:", 7)) json_object_del(o, "private_key_passphrase");
    }
    pthread_mutex_lock(&P->mu);
    json_object_set_new(P->vias, id, v);
    pthread_mutex_unlock(&P->mu);
}

/* The via remembered for a resource (new reference) or NULL. */
json_t *k8s_prov_via(k8s_prov_t *P, const char *id) {
    pthread_mutex_lock(&P->mu);
    json_t *v = json_incref(json_object_get(P->vias, id));
    pthread_mutex_unlock(&P->mu);
    return v;
}

/* Opens (or finds: ssh_tunnel_open shares them) the tunnel to c's API server
 * through via.  *connect_to (new string) is the CURLOPT_CONNECT_TO entry,
 * *label (new string) names the bastion; both NULL without via. */
int k8s_conn_tunnel(k8s_prov_t *P, conn_t *c, const json_t *via, char **connect_to, char **label, perr_t *e) {
    *connect_to = *label = NULL;
    if (!via) return 0;
    char *host = NULL, *port = NULL;
    int rc = -1;
    CURLU *u = curl_url();
    if (!u || curl_url_set(u, CURLUPART_URL, c->server, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK) {
        perr_set(e, "", "via: cannot tell the host and port of the API server %s", c->server);
    } else {
        /* SSH names an IPv6 target without the URL's brackets. */
        size_t hl = strlen(host);
        char *target = host[0] == '[' && hl > 2 ? xstrndup(host + 1, hl - 2) : xstrdup(host);
        int tport = atoi(port), local = 0;
        *label = ssh_cfg_key(via);
        if (ssh_tunnel_open(P->ssh, via, target, tport, &local, e) != 0) {
            perr_wrap(e, "ssh tunnel to the Kubernetes API %s:%d via %s", target, tport, *label);
            free(*label);
            *label = NULL;
        } else {
            *connect_to = xasprintf("%s:%d:127.0.0.1:%d", host, tport, local);
            rc = 0;
        }
        free(target);
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return rc;
}

/* The connection key a resolved body names, or NULL (e filled). */
char *k8s_body_conn_key(k8s_prov_t *P, const json_t *body, perr_t *e) {
    const json_t *via = json_object_get(body, "via");
    if (via && !json_is_null(via) && !ref_contains(via) && k8s_via_check(via, e) != 0) return NULL;
    const json_t *cl = json_object_get(body, "cluster");
    const char *kc = k8s_jstr(body, "kubeconfig");
    if (cl && kc) {
        perr_set(e, "", "set either cluster or kubeconfig, not both");
        return NULL;
    }
    if (json_is_object(cl)) {
        if (ref_contains(cl)) {
            perr_set(e, "", "cluster is not known yet");
            return NULL;
        }
        return gke_key(P, cl, e);
    }
    if (kc) {
        char abs[PATH_MAX];
        if (!realpath(kc, abs)) {
            perr_set(e, "", "kubeconfig %s: %s", kc, strerror(errno));
            return NULL;
        }
        return xasprintf("kubeconfig:%s@%s", abs, k8s_jstr(body, "context") ?: "");
    }
    perr_set(e, "",
             "no cluster: set cluster = { endpoint = gke.endpoint, ca_certificate = "
             "gke.masterAuth.clusterCaCertificate, id = gke.id, name = gke.name, location = "
             "gke.location, self_link = gke.selfLink } or kubeconfig = \"path\"");
    return NULL;
}

/* Connection for a resolved body. */
conn_t *k8s_conn_for_body(k8s_prov_t *P, const json_t *body, perr_t *e) {
    char *key = k8s_body_conn_key(P, body, e);
    if (!key) return NULL;
    conn_t *c;
    if (!strncmp(key, "kubeconfig:", 11))
        c = conn_kubeconfig(P, k8s_jstr(body, "kubeconfig"), k8s_jstr(body, "context"), e);
    else {
        const json_t *cl = json_object_get(body, "cluster");
        perr_t ignore = {0};
        char *server = k8s_server_url(P->endpoint, cl, &ignore);
        pthread_mutex_lock(&P->mu);
        c = conn_find(P, key);
        /* The same cluster name with another endpoint: the cluster was
         * replaced in this run; the old connection is retired. */
        if (c && server && strcmp(c->server, server) != 0) {
            char *retired = xasprintf("%s#replaced", c->key);
            free(c->key);
            c->key = retired;
            c = NULL;
        }
        pthread_mutex_unlock(&P->mu);
        free(server);
        if (!c) c = conn_gke(P, key, cl, e);
    }
    free(key);
    return c;
}

/* Connection for an ID key; *gone = 1 when the cluster no longer exists. */
conn_t *k8s_conn_for_key(k8s_prov_t *P, const char *key, int *gone, perr_t *e) {
    *gone = 0;
    pthread_mutex_lock(&P->mu);
    conn_t *c = conn_find(P, key);
    pthread_mutex_unlock(&P->mu);
    if (c) return c;
    if (!strncmp(key, "kubeconfig:", 11)) {
        const char *at = strrchr(key, '@');
        char *path = xstrndup(key + 11, at ? (size_t)(at - key - 11) : strlen(key + 11));
        c = conn_kubeconfig(P, path, at ? at + 1 : NULL, e);
        free(path);
        return c;
    }
    if (strncmp(key, "projects/", 9) != 0) {
        perr_set(e, "", "bad k8s resource ID connection part: %s", key);
        return NULL;
    }
    gcp_client_t *g = k8s_prov_gcp(P, e);
    if (!g) return NULL;
    char *path = xasprintf("v1/%s", key);
    gcp_resp_t r = {0};
    if (gcp_call(g, "GET", "container", path, NULL, &r, e) != 0) {
        free(path);
        return NULL;
    }
    if (r.status == 404) {
        *gone = 1;
    } else if (r.status != 200) {
        gcp_resp_error(&r, "GET", path, e);
    } else {
        c = conn_gke(P, key, r.body, e);
    }
    gcp_resp_free(&r);
    free(path);
    return c;
}
