/* k8s_provider.c: the "k8s" provider: Kubernetes objects applied with
 * server-side apply to a GKE cluster declared in the same spec (or any
 * cluster of a kubeconfig file).
 *
 * Connection: every body carries `cluster` = {endpoint, ca_certificate, id,
 * name, location, project?, self_link?} (values referenced from a
 * gcp.container_cluster; `cluster = gke`, the whole resource, works too:
 * its endpoint, masterAuth.clusterCaCertificate, id, name, location and
 * selfLink are used) or `kubeconfig` = path (+ `context`).  Those
 * plinth-only fields (and `wait_timeout`, seconds) are never sent nor
 * diffed.  The resource ID names the
 * connection so that a read or delete without a resolved body (plan, state
 * only) can reconnect: "projects/P/locations/L/clusters/N|apps/v1|Deployment|ns|name"
 * (the cluster's endpoint and CA then come from the container API) or
 * "kubeconfig:/abs/path@context|v1|Namespace||argo".
 *
 * A body may also carry `via` = { host, port, user, private_key_file |
 * use_agent, host_key_sha256 | known_hosts_file, ... } (the fields of
 * ssh.exec's via): the API server is then reached through local port
 * forwarding over SSH (direct-tcpip) via that bastion.  The tunnel opens on
 * the first request that needs it, is shared by every resource using the
 * same bastion and target, and closes with the provider.  Requests keep
 * the server URL (TLS verification and SNI against the cluster's name and
 * CA); only the TCP connection goes to the tunnel's local port
 * (CURLOPT_CONNECT_TO).  `via` is never sent nor
 * diffed; it is not part of the resource ID: each resource uses the via of
 * the body the engine passes (the spec's, or the last applied one when it
 * left the spec), and a delete, which gets no body, the one its read saw.
 *
 * Writes are server-side apply (PATCH application/apply-patch+yaml,
 * fieldManager=plinth, force=true) of exactly the spec's fields, so fields
 * other managers own are left alone.  Kinds map to resources through
 * discovery, cached per connection and refreshed on a miss (after CRDs
 * appear).  After a write, apply waits until the object is ready (rollout,
 * Established, Job complete); deletion is foreground and waits until gone. */
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
#include "providers/gcp/gcp_http.h"
#include "providers/gcp/gcp_log.h"
#include "providers/k8s/k8s.h"
#include "providers/k8s/k8s_manifest.h"
#include "providers/k8s/k8s_yaml.h"
#include "providers/ssh/ssh.h"

#define DEFAULT_WAIT_S 300

typedef struct conn {
    char *key;        /* ID prefix */
    char *server;     /* base URL, no trailing slash */
    char *ca_pem;     /* CA bundle (PEM) or NULL */
    char *cert_pem, *key_pem; /* client certificate (kubeconfig) or NULL */
    char *token;      /* static bearer token (kubeconfig) or NULL */
    int gcp_auth;     /* bearer token from the provider's Google client */
    json_t *disc;     /* "apiVersion|Kind" -> {"resource": , "namespaced": } */
    pthread_mutex_t mu;
    struct conn *next;
} conn_t;

typedef struct k8s_prov {
    char *endpoint;   /* Google endpoint override (emulator) or NULL */
    char *http_log;
    char *project;
    gcp_client_t *gcp; /* opened on first need */
    gcp_log_t *log;
    pthread_mutex_t mu;
    conn_t *conns;
    perr_t gcp_err;
    /* Connections, TLS sessions and DNS shared by every request (reuse). */
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    ssh_pool_t *ssh; /* bastion sessions and tunnels (`via`) */
    json_t *vias;    /* resource ID -> the last resolved `via` its body had */
} k8s_prov_t;

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud) {
    (void)h;
    (void)a;
    pthread_mutex_lock(&((k8s_prov_t *)ud)->share_mu[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud) {
    (void)h;
    pthread_mutex_unlock(&((k8s_prov_t *)ud)->share_mu[d]);
}

/* ---- small helpers ---------------------------------------------------- */

static const char *jstr(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

static char *b64_decode(const char *in, size_t *outlen) {
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
static int split_id(const char *id, char *parts[5]) {
    const char *p = id;
    for (int i = 0; i < 5; i++) {
        const char *bar = i < 4 ? strchr(p, '|') : NULL;
        if (i < 4 && !bar) {
            for (int j = 0; j < i; j++) free(parts[j]);
            return -1;
        }
        parts[i] = bar ? xstrndup(p, (size_t)(bar - p)) : xstrdup(p);
        p = bar ? bar + 1 : p;
    }
    return 0;
}

static void free_parts(char *parts[5]) {
    for (int i = 0; i < 5; i++) free(parts[i]);
}

/* ---- server URL rule ---------------------------------------------------- */

char *k8s_server_url(const char *endpoint_override, const json_t *cluster, perr_t *e) {
    if (endpoint_override && *endpoint_override) {
        const char *id = jstr(cluster, "id");
        if (!id || !*id) {
            perr_set(e, "", "cluster: no id (expected the gcp.container_cluster's id attribute)");
            return NULL;
        }
        size_t n = strlen(endpoint_override);
        while (n && endpoint_override[n - 1] == '/') n--;
        return xasprintf("%.*s/k8s/%s", (int)n, endpoint_override, id);
    }
    const char *ep = jstr(cluster, "endpoint");
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

static gcp_client_t *prov_gcp(k8s_prov_t *P, perr_t *e) {
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
    const char *p = jstr(cl, "project");
    if (p && *p) return xstrdup(p);
    const char *sl = jstr(cl, "self_link");
    if (!sl) sl = jstr(cl, "selfLink");
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
    const char *loc = jstr(cl, "location"), *name = jstr(cl, "name");
    if (!proj || !loc || !name) {
        perr_set(e, "", "cluster needs name, location and a project (cluster.project, cluster.self_link, "
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
    const char *ca = jstr(cl, "ca_certificate");
    if (!ca) ca = json_string_value(jpath_get(cl, "masterAuth.clusterCaCertificate"));
    if (!P->endpoint && ca && *ca) {
        t.ca_pem = b64_decode(ca, NULL);
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

static json_t *named(const json_t *list, const char *name) {
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) if (jstr(x, "name") && !strcmp(jstr(x, "name"), name)) return x;
    return NULL;
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
    json_t *docs = k8s_yaml_parse(text, len, abs, NULL, e);
    free(text);
    json_t *kc = docs ? json_array_get(docs, 0) : NULL;
    conn_t t = {0};
    if (!kc) {
        if (docs) perr_set(e, "", "kubeconfig %s is empty", abs);
        goto fail;
    }
    const char *ctxname = context && *context ? context : jstr(kc, "current-context");
    json_t *ctx = ctxname ? json_object_get(named(json_object_get(kc, "contexts"), ctxname), "context") : NULL;
    if (!ctx) {
        perr_set(e, "", "kubeconfig %s: no context %s", abs, ctxname ? ctxname : "(no current-context)");
        goto fail;
    }
    json_t *cl = json_object_get(named(json_object_get(kc, "clusters"), jstr(ctx, "cluster") ?: ""), "cluster");
    json_t *user = json_object_get(named(json_object_get(kc, "users"), jstr(ctx, "user") ?: ""), "user");
    if (!cl || !jstr(cl, "server")) {
        perr_set(e, "", "kubeconfig %s: context %s has no cluster server", abs, ctxname);
        goto fail;
    }
    t.server = xstrdup(jstr(cl, "server"));
    size_t sl = strlen(t.server);
    while (sl && t.server[sl - 1] == '/') t.server[--sl] = 0;
    if (jstr(cl, "certificate-authority-data")) t.ca_pem = b64_decode(jstr(cl, "certificate-authority-data"), NULL);
    else if (jstr(cl, "certificate-authority") && !(t.ca_pem = read_text(jstr(cl, "certificate-authority"), e)))
        goto fail;
    /* plinth always verifies TLS: a kubeconfig that turns it off is refused
     * rather than silently obeyed. */
    if (json_is_true(json_object_get(cl, "insecure-skip-tls-verify")) && strncmp(t.server, "https:", 6) == 0) {
        perr_set(e, "", "kubeconfig %s: cluster of context %s sets insecure-skip-tls-verify; plinth always "
                 "verifies TLS: give certificate-authority-data instead", abs, ctxname);
        goto fail;
    }
    if (user) {
        if (jstr(user, "token")) t.token = xstrdup(jstr(user, "token"));
        if (jstr(user, "client-certificate-data")) t.cert_pem = b64_decode(jstr(user, "client-certificate-data"), NULL);
        if (jstr(user, "client-key-data")) t.key_pem = b64_decode(jstr(user, "client-key-data"), NULL);
        json_t *ex = json_object_get(user, "exec");
        if (ex) {
            const char *cmd = jstr(ex, "command");
            if (cmd && strstr(cmd, "gke-gcloud-auth-plugin")) {
                t.gcp_auth = 1;
            } else {
                perr_set(e, "", "kubeconfig %s: user exec plugin %s is not supported (only gke-gcloud-auth-plugin)",
                         abs, cmd ? cmd : "?");
                goto fail;
            }
        }
    }
    json_decref(docs);
    t.key = key;
    return conn_add(P, &t);
fail:
    json_decref(docs);
    free(key);
    free(t.server);
    free(t.ca_pem);
    free(t.cert_pem);
    free(t.key_pem);
    free(t.token);
    return NULL;
}

/* ---- tunnels (`via`) --------------------------------------------------------- */

static const char *const via_fields[] = {
    "host", "port", "user", "private_key_file", "private_key_passphrase", "use_agent",
    "host_key_sha256", "known_hosts_file", "trust_on_first_use", "connect_timeout", "via", NULL};

/* The body's via when set and resolved, else NULL. */
static const json_t *body_via(const json_t *body) {
    const json_t *v = json_object_get(body, "via");
    return json_is_object(v) && !ref_contains(v) ? v : NULL;
}

static int via_check(const json_t *via, perr_t *e) {
    if (!json_is_object(via)) {
        perr_set(e, "", "via: expected a table of SSH settings for the bastion ({ host, user, "
                        "private_key_file | use_agent, host_key_sha256 | known_hosts_file, ... })");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)via, k, v) {
        int ok = 0;
        for (const char *const *f = via_fields; *f; f++) ok |= !strcmp(*f, k);
        if (!ok) {
            perr_set(e, "", "via.%s: unknown field (known: host, port, user, private_key_file, use_agent, "
                            "private_key_passphrase, host_key_sha256, known_hosts_file, "
                            "trust_on_first_use, connect_timeout, via)", k);
            return -1;
        }
    }
    return ssh_cfg_check(via, "via", e);
}

/* Remembers the bastion of a resource (for its delete, which gets no body).
 * A via from state (the last applied body) has its passphrase hashed:
 * dropped. */
static void prov_note_via(k8s_prov_t *P, const char *id, const json_t *via) {
    if (!via) return;
    json_t *v = json_deep_copy(via);
    for (json_t *o = v; json_is_object(o); o = json_object_get(o, "via")) {
        const char *pp = jstr(o, "private_key_passphrase");
        if (pp && !strncmp(pp, "sha256:", 7)) json_object_del(o, "private_key_passphrase");
    }
    pthread_mutex_lock(&P->mu);
    json_object_set_new(P->vias, id, v);
    pthread_mutex_unlock(&P->mu);
}

/* The via remembered for a resource (new reference) or NULL. */
static json_t *prov_via(k8s_prov_t *P, const char *id) {
    pthread_mutex_lock(&P->mu);
    json_t *v = json_incref(json_object_get(P->vias, id));
    pthread_mutex_unlock(&P->mu);
    return v;
}

/* Opens (or finds: ssh_tunnel_open shares them) the tunnel to c's API server
 * through via.  *connect_to (new string) is the CURLOPT_CONNECT_TO entry,
 * *label (new string) names the bastion; both NULL without via. */
static int conn_tunnel(k8s_prov_t *P, conn_t *c, const json_t *via, char **connect_to, char **label,
                       perr_t *e) {
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
static char *body_conn_key(k8s_prov_t *P, const json_t *body, perr_t *e) {
    const json_t *via = json_object_get(body, "via");
    if (via && !json_is_null(via) && !ref_contains(via) && via_check(via, e) != 0) return NULL;
    const json_t *cl = json_object_get(body, "cluster");
    const char *kc = jstr(body, "kubeconfig");
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
        return xasprintf("kubeconfig:%s@%s", abs, jstr(body, "context") ?: "");
    }
    perr_set(e, "", "no cluster: set cluster = { endpoint = gke.endpoint, ca_certificate = "
                    "gke.masterAuth.clusterCaCertificate, id = gke.id, name = gke.name, location = "
                    "gke.location, self_link = gke.selfLink } or kubeconfig = \"path\"");
    return NULL;
}

/* Connection for a resolved body. */
static conn_t *conn_for_body(k8s_prov_t *P, const json_t *body, perr_t *e) {
    char *key = body_conn_key(P, body, e);
    if (!key) return NULL;
    conn_t *c;
    if (!strncmp(key, "kubeconfig:", 11)) c = conn_kubeconfig(P, jstr(body, "kubeconfig"), jstr(body, "context"), e);
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
static conn_t *conn_for_key(k8s_prov_t *P, const char *key, int *gone, perr_t *e) {
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
    gcp_client_t *g = prov_gcp(P, e);
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

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct {
    long status;
    json_t *body;
    char *raw;
} kresp_t;

static void kresp_free(kresp_t *r) {
    json_decref(r->body);
    free(r->raw);
    memset(r, 0, sizeof *r);
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
    sbuf_addn(ud, p, sz * n);
    return sz * n;
}

static int kcall(k8s_prov_t *P, conn_t *c, const json_t *via, const char *method, const char *path,
                 const char *ctype, const char *body, kresp_t *out, volatile sig_atomic_t *cancel, perr_t *e) {
    memset(out, 0, sizeof *out);
    char *url = xasprintf("%s%s", c->server, path);
    char *token = NULL;
    if (c->token) token = xstrdup(c->token);
    else if (c->gcp_auth) {
        gcp_client_t *g = prov_gcp(P, e);
        if (!g) {
            free(url);
            return -1;
        }
        perr_t te = {0};
        token = gcp_token(g, &te);
        if (!token && te.msg[0]) {
            *e = te;
            free(url);
            return -1;
        }
    }
    char *connect_to = NULL, *label = NULL;
    if (conn_tunnel(P, c, via, &connect_to, &label, e) != 0) {
        free(token);
        free(url);
        return -1;
    }
    int rc = -1;
    int64_t delay = P->endpoint ? 100 : 500;
    for (int attempt = 1; attempt <= 8; attempt++) {
        CURL *h = curl_easy_init();
        struct curl_slist *hd = NULL, *cto = NULL;
        if (connect_to) {
            /* Same URL (TLS name, Host header); the TCP connection goes to the tunnel. */
            cto = curl_slist_append(NULL, connect_to);
            curl_easy_setopt(h, CURLOPT_CONNECT_TO, cto);
        }
        sbuf_t resp = {0};
        hd = curl_slist_append(hd, "Accept: application/json");
        if (ctype) {
            char *ct = xasprintf("Content-Type: %s", ctype);
            hd = curl_slist_append(hd, ct);
            free(ct);
        }
        if (token) {
            char *a = xasprintf("Authorization: Bearer %s", token);
            hd = curl_slist_append(hd, a);
            free(a);
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
        curl_easy_setopt(h, CURLOPT_USERAGENT, "plinth/" PLINTH_VERSION);
        if (P->share) curl_easy_setopt(h, CURLOPT_SHARE, P->share);
        if (body) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
        }
        if (c->ca_pem) {
            struct curl_blob b = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
            curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
        }
        if (c->cert_pem && c->key_pem) {
            struct curl_blob cb = {c->cert_pem, strlen(c->cert_pem), CURL_BLOB_COPY};
            struct curl_blob kb = {c->key_pem, strlen(c->key_pem), CURL_BLOB_COPY};
            curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
            curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
            curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
            curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
        }
        int64_t t0 = util_now_ms();
        CURLcode cc = curl_easy_perform(h);
        long status = 0;
        if (cc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        if (P->log) {
            gcp_log_entry_t le = {.api = "k8s", .method = method, .url = url, .addr = util_current_addr(),
                                  .req_type = ctype,
                                  .req = body, .req_len = body ? strlen(body) : 0, .resp = resp.s,
                                  .resp_len = resp.len, .status = status,
                                  .ms = (long)(util_now_ms() - t0), .attempt = attempt};
            gcp_log_write(P->log, &le);
        }
        curl_easy_cleanup(h);
        curl_slist_free_all(hd);
        curl_slist_free_all(cto);
        int retry = cc != CURLE_OK || status == 429 || status == 500 || status == 502 ||
                    status == 503 || status == 504;
        if (!retry || attempt == 8 || (cancel && *cancel)) {
            if (cc != CURLE_OK && connect_to) {
                perr_set(e, "", "%s %s (through the ssh tunnel via %s): %s", method, url, label,
                         curl_easy_strerror(cc));
                sbuf_free(&resp);
                break;
            }
            if (cc != CURLE_OK) {
                perr_set(e, "", "%s %s: %s", method, url, curl_easy_strerror(cc));
                sbuf_free(&resp);
                break;
            }
            out->status = status;
            out->raw = sbuf_steal(&resp);
            out->body = json_loads(out->raw, JSON_DECODE_ANY, NULL);
            rc = 0;
            break;
        }
        sbuf_free(&resp);
        usleep((useconds_t)(delay * 1000));
        delay = delay * 2 > 8000 ? 8000 : delay * 2;
    }
    free(connect_to);
    free(label);
    free(token);
    free(url);
    return rc;
}

/* "PATCH /apis/...: 409 Conflict: <message>" */
static void kerr(const kresp_t *r, const char *method, const char *path, perr_t *e) {
    const char *msg = jstr(r->body, "message");
    const char *reason = jstr(r->body, "reason");
    perr_set(e, "", "%s %s: %ld %s: %s", method, path, r->status, reason ? reason : "",
             msg ? msg : (r->raw ? r->raw : ""));
}

/* ---- discovery -------------------------------------------------------------- */

typedef struct {
    char resource[128];
    int namespaced;
} kres_t;

/* 1 found, 0 unknown kind, -1 error. */
static int discover(k8s_prov_t *P, conn_t *c, const json_t *via, const char *api_version, const char *kind,
                    kres_t *out, volatile sig_atomic_t *cancel, perr_t *e) {
    char *key = xasprintf("%s|%s", api_version, kind);
    for (int pass = 0; pass < 2; pass++) {
        pthread_mutex_lock(&c->mu);
        json_t *hit = json_object_get(c->disc, key);
        if (hit) {
            snprintf(out->resource, sizeof out->resource, "%s", jstr(hit, "resource"));
            out->namespaced = json_is_true(json_object_get(hit, "namespaced"));
        }
        pthread_mutex_unlock(&c->mu);
        if (hit) {
            free(key);
            return 1;
        }
        if (pass) break;
        char *path = strchr(api_version, '/') ? xasprintf("/apis/%s", api_version) : xasprintf("/api/%s", api_version);
        kresp_t r;
        if (kcall(P, c, via, "GET", path, NULL, NULL, &r, cancel, e) != 0) {
            free(path);
            free(key);
            return -1;
        }
        if (r.status == 404) {
            kresp_free(&r);
            free(path);
            break;
        }
        if (r.status != 200 || !json_is_object(r.body)) {
            kerr(&r, "GET", path, e);
            kresp_free(&r);
            free(path);
            free(key);
            return -1;
        }
        json_t *res = json_object_get(r.body, "resources"), *x;
        size_t i;
        pthread_mutex_lock(&c->mu);
        json_array_foreach(res, i, x) {
            const char *name = jstr(x, "name"), *k = jstr(x, "kind");
            if (!name || !k || strchr(name, '/')) continue;
            char *kk = xasprintf("%s|%s", api_version, k);
            json_object_set_new(c->disc, kk, json_pack("{s:s,s:b}", "resource", name, "namespaced",
                                                       json_is_true(json_object_get(x, "namespaced"))));
            free(kk);
        }
        pthread_mutex_unlock(&c->mu);
        kresp_free(&r);
        free(path);
    }
    free(key);
    return 0;
}

static char *object_path(const char *api_version, const kres_t *kr, const char *ns, const char *name) {
    sbuf_t b = {0};
    sbuf_addf(&b, strchr(api_version, '/') ? "/apis/%s" : "/api/%s", api_version);
    if (kr->namespaced) sbuf_addf(&b, "/namespaces/%s", ns && *ns ? ns : "default");
    sbuf_addf(&b, "/%s", kr->resource);
    if (name) sbuf_addf(&b, "/%s", name);
    return sbuf_steal(&b);
}

/* ---- the object type ---------------------------------------------------------- */

static const char *const plinth_fields[] = {"cluster", "kubeconfig", "context", "wait_timeout", "via", NULL};

static void strip_live(json_t *live) {
    json_t *md = json_object_get(live, "metadata");
    if (json_is_object(md)) json_object_del(md, "managedFields");
}

typedef struct {
    k8s_prov_t *P;
    conn_t *conn;
    json_t *via; /* the bastion, or NULL */
    char *api_version, *kind, *ns, *name;
    kres_t kr;
    int known; /* discovery found the kind */
    int gone;  /* the cluster itself is gone */
} target_t;

static void target_free(target_t *t) {
    json_decref(t->via);
    free(t->api_version);
    free(t->kind);
    free(t->ns);
    free(t->name);
}

static int target_from_id(rctx_t *c, const char *id, const json_t *desired, target_t *t) {
    memset(t, 0, sizeof *t);
    t->P = c->prov;
    char *parts[5];
    if (split_id(id, parts) != 0) {
        perr_set(c->err, "", "bad k8s resource ID %s (want CONNECTION|apiVersion|kind|namespace|name)", id);
        return -1;
    }
    if (desired && !ref_contains(desired) &&
        (json_object_get(desired, "cluster") || json_object_get(desired, "kubeconfig"))) {
        perr_t ig = {0};
        char *k = body_conn_key(t->P, desired, &ig);
        if (k && !strcmp(k, parts[0])) t->conn = conn_for_body(t->P, desired, c->err);
        free(k);
    }
    if (!t->conn) t->conn = conn_for_key(t->P, parts[0], &t->gone, c->err);
    t->api_version = xstrdup(parts[1]);
    t->kind = xstrdup(parts[2]);
    t->ns = xstrdup(parts[3]);
    t->name = xstrdup(parts[4]);
    free_parts(parts);
    if (t->gone) return 0;
    if (!t->conn) return -1;
    /* Before the first request: it may have to go through the bastion. */
    json_t *via = json_object_get(desired, "via");
    if (via && json_is_null(via)) via = NULL;
    if (via && !ref_contains(via)) {
        if (via_check(via, c->err) != 0) return -1;
        prov_note_via(t->P, id, via);
    }
    if (via || !desired) t->via = prov_via(t->P, id);
    if (via && !t->via) {
        perr_set(c->err, "", "via refers to attributes of other resources, which are not resolved when "
                             "reading an existing object: set via with values known before the run "
                             "(literals or variables)");
        return -1;
    }
    int d = discover(t->P, t->conn, t->via, t->api_version, t->kind, &t->kr, c->cancel, c->err);
    if (d < 0) return -1;
    t->known = d;
    return 0;
}

static char *obj_id(rctx_t *c, const json_t *desired) {
    k8s_prov_t *P = c->prov;
    const char *av = jstr(desired, "apiVersion"), *kind = jstr(desired, "kind");
    const char *name = json_string_value(jpath_get(desired, "metadata.name"));
    const char *ns = json_string_value(jpath_get(desired, "metadata.namespace"));
    if (!av || !kind || !name) {
        perr_set(c->err, "", "apiVersion, kind and metadata.name are required");
        return NULL;
    }
    char *key = body_conn_key(P, desired, c->err);
    if (!key) return NULL;
    char *id = xasprintf("%s|%s|%s|%s|%s", key, av, kind, ns ? ns : "", name);
    free(key);
    prov_note_via(P, id, body_via(desired));
    return id;
}

static int obj_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    *live = NULL;
    target_t t;
    int rc = -1;
    if (target_from_id(c, id, desired, &t) != 0) goto out;
    if (t.gone || !t.known) {
        rc = 0;
        goto out;
    }
    char *path = object_path(t.api_version, &t.kr, t.ns, t.name);
    kresp_t r;
    if (kcall(t.P, t.conn, t.via, "GET", path, NULL, NULL, &r, c->cancel, c->err) == 0) {
        if (r.status == 404) rc = 0;
        else if (r.status == 200 && json_is_object(r.body)) {
            *live = json_incref(r.body);
            strip_live(*live);
            rc = 0;
        } else kerr(&r, "GET", path, c->err);
        kresp_free(&r);
    }
    free(path);
out:
    target_free(&t);
    return rc;
}

/* ---- readiness ------------------------------------------------------------------ */

static json_int_t jint(const json_t *o, const char *path, json_int_t dflt) {
    json_t *v = jpath_get(o, path);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static const json_t *condition(const json_t *obj, const char *type) {
    json_t *cs = jpath_get(obj, "status.conditions"), *x;
    size_t i;
    json_array_foreach(cs, i, x) if (jstr(x, "type") && !strcmp(jstr(x, "type"), type)) return x;
    return NULL;
}

static void conditions_text(const json_t *obj, sbuf_t *b) {
    json_t *cs = jpath_get(obj, "status.conditions"), *x;
    size_t i;
    if (!json_array_size(cs)) {
        sbuf_add(b, "; no conditions reported");
        return;
    }
    sbuf_add(b, "; conditions:");
    json_array_foreach(cs, i, x) {
        sbuf_addf(b, " %s=%s", jstr(x, "type") ?: "?", jstr(x, "status") ?: "?");
        if (jstr(x, "reason") || jstr(x, "message"))
            sbuf_addf(b, " (%s%s%s)", jstr(x, "reason") ?: "", jstr(x, "message") ? ": " : "", jstr(x, "message") ?: "");
    }
}

/* 1 ready, 0 not yet (msg says why), -1 failed for good (msg says why). */
static int ready(const char *kind, const json_t *o, char *msg, size_t n) {
    json_int_t gen = jint(o, "metadata.generation", 0), og = jint(o, "status.observedGeneration", 0);
    if (!strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet")) {
        json_int_t want = jint(o, "spec.replicas", 1);
        json_int_t upd = jint(o, "status.updatedReplicas", 0);
        json_int_t av = jint(o, !strcmp(kind, "Deployment") ? "status.availableReplicas" : "status.readyReplicas", 0);
        const json_t *pc = condition(o, "Progressing");
        if (pc && jstr(pc, "reason") && !strcmp(jstr(pc, "reason"), "ProgressDeadlineExceeded")) {
            snprintf(msg, n, "rollout failed: %s", jstr(pc, "message") ?: "progress deadline exceeded");
            return -1;
        }
        if (og < gen) {
            snprintf(msg, n, "waiting for rollout: generation %lld not yet observed", (long long)gen);
            return 0;
        }
        if (upd < want || av < want) {
            snprintf(msg, n, "waiting for rollout: %lld/%lld replicas %s, %lld updated", (long long)av,
                     (long long)want, !strcmp(kind, "Deployment") ? "available" : "ready", (long long)upd);
            return 0;
        }
        return 1;
    }
    if (!strcmp(kind, "DaemonSet")) {
        json_int_t want = jint(o, "status.desiredNumberScheduled", -1);
        json_int_t av = jint(o, "status.numberAvailable", 0), upd = jint(o, "status.updatedNumberScheduled", 0);
        if (og < gen || want < 0) {
            snprintf(msg, n, "waiting for rollout: generation %lld not yet observed", (long long)gen);
            return 0;
        }
        if (av < want || upd < want) {
            snprintf(msg, n, "waiting for rollout: %lld/%lld pods available", (long long)av, (long long)want);
            return 0;
        }
        return 1;
    }
    if (!strcmp(kind, "CustomResourceDefinition")) {
        const json_t *ec = condition(o, "Established");
        if (ec && jstr(ec, "status") && !strcmp(jstr(ec, "status"), "True")) return 1;
        snprintf(msg, n, "waiting for the CRD to be Established");
        return 0;
    }
    if (!strcmp(kind, "Job")) {
        const json_t *fc = condition(o, "Failed");
        if (fc && jstr(fc, "status") && !strcmp(jstr(fc, "status"), "True")) {
            snprintf(msg, n, "job failed: %s", jstr(fc, "message") ?: jstr(fc, "reason") ?: "");
            return -1;
        }
        const json_t *cc = condition(o, "Complete");
        if (cc && jstr(cc, "status") && !strcmp(jstr(cc, "status"), "True")) return 1;
        snprintf(msg, n, "waiting for the job to complete: %lld succeeded", (long long)jint(o, "status.succeeded", 0));
        return 0;
    }
    if (!strcmp(kind, "Namespace")) {
        const char *ph = json_string_value(jpath_get(o, "status.phase"));
        if (!ph || !strcmp(ph, "Active")) return 1;
        snprintf(msg, n, "waiting for the namespace: phase %s", ph);
        return 0;
    }
    return 1;
}

static void sleep_ms(int64_t ms, volatile sig_atomic_t *cancel) {
    while (ms > 0 && !(cancel && *cancel)) {
        int64_t s = ms > 100 ? 100 : ms;
        usleep((useconds_t)(s * 1000));
        ms -= s;
    }
}

/* Polls until ready; *final gets the last object read (new reference). */
static int wait_ready(rctx_t *c, target_t *t, const char *path, const json_t *desired, json_t **final) {
    int64_t timeout_ms = (int64_t)(json_is_number(json_object_get(desired, "wait_timeout"))
                                       ? json_number_value(json_object_get(desired, "wait_timeout")) * 1000
                                       : DEFAULT_WAIT_S * 1000);
    int64_t start = util_now_ms(), delay = t->P->endpoint ? 50 : 1000;
    char msg[512] = "", last[512] = "";
    for (;;) {
        kresp_t r;
        if (kcall(t->P, t->conn, t->via, "GET", path, NULL, NULL, &r, c->cancel, c->err) != 0) return -1;
        if (r.status != 200 || !json_is_object(r.body)) {
            kerr(&r, "GET", path, c->err);
            kresp_free(&r);
            return -1;
        }
        int rd = ready(t->kind, r.body, msg, sizeof msg);
        if (rd != 0) {
            if (rd < 0) {
                sbuf_t b = {0};
                sbuf_addf(&b, "%s %s%s%s not ready: %s", t->kind, t->ns, *t->ns ? "/" : "", t->name, msg);
                conditions_text(r.body, &b);
                perr_set(c->err, "", "%s", b.s);
                sbuf_free(&b);
                kresp_free(&r);
                return -1;
            }
            json_decref(*final);
            *final = json_incref(r.body);
            kresp_free(&r);
            return 0;
        }
        if (c->progress && strcmp(msg, last)) c->progress(c->ud, c->addr, msg);
        snprintf(last, sizeof last, "%s", msg);
        if (c->cancel && *c->cancel) {
            perr_set(c->err, "", "interrupted while %s", msg);
            kresp_free(&r);
            return -1;
        }
        if (util_now_ms() - start >= timeout_ms) {
            sbuf_t b = {0};
            sbuf_addf(&b, "timed out after %lld s: %s %s%s%s is not ready (%s)", (long long)(timeout_ms / 1000),
                      t->kind, t->ns, *t->ns ? "/" : "", t->name, msg);
            conditions_text(r.body, &b);
            perr_set(c->err, "", "%s", b.s);
            sbuf_free(&b);
            kresp_free(&r);
            return -1;
        }
        kresp_free(&r);
        sleep_ms(delay, c->cancel);
        delay = delay * 3 / 2 > (t->P->endpoint ? 500 : 5000) ? (t->P->endpoint ? 500 : 5000) : delay * 3 / 2;
    }
}

/* ---- writes -------------------------------------------------------------------- */

static json_t *wire_body(const json_t *desired) {
    json_t *o = json_deep_copy(desired);
    for (const char *const *f = plinth_fields; *f; f++) json_object_del(o, *f);
    return o;
}

static int is_immutable_error(const kresp_t *r) {
    const char *m = jstr(r->body, "message");
    return r->status == 422 && m && strstr(m, "immutable");
}

static int apply_obj(rctx_t *c, const json_t *desired, char **idout, json_t **live, int *immutable) {
    *live = NULL;
    if (immutable) *immutable = 0;
    char *id = obj_id(c, desired);
    if (!id) return -1;
    target_t t;
    int rc = -1;
    char *path = NULL, *text = NULL;
    if (target_from_id(c, id, desired, &t) != 0) goto out;
    if (t.gone) {
        perr_set(c->err, "", "the cluster does not exist");
        goto out;
    }
    if (!t.known) {
        /* Its CRD may be on its way (applied concurrently, or by an operator). */
        int64_t start = util_now_ms(), delay = t.P->endpoint ? 50 : 1000;
        int64_t limit = t.P->endpoint ? 5000 : 60000;
        json_t *wt = json_object_get(desired, "wait_timeout");
        if (json_is_number(wt) && json_number_value(wt) * 1000 < limit) limit = (int64_t)(json_number_value(wt) * 1000);
        if (c->progress) {
            char m[256];
            snprintf(m, sizeof m, "waiting for the cluster to serve %s %s", t.api_version, t.kind);
            c->progress(c->ud, c->addr, m);
        }
        while (!t.known && util_now_ms() - start < limit && !(c->cancel && *c->cancel)) {
            sleep_ms(delay, c->cancel);
            delay = delay * 2 > 5000 ? 5000 : delay * 2;
            int d = discover(t.P, t.conn, t.via, t.api_version, t.kind, &t.kr, c->cancel, c->err);
            if (d < 0) goto out;
            t.known = d;
        }
    }
    if (!t.known) {
        perr_set(c->err, "", "the cluster does not serve %s %s (is its CustomResourceDefinition applied?)",
                 t.api_version, t.kind);
        goto out;
    }
    if (t.kr.namespaced && !*t.ns) {
        free(t.ns);
        t.ns = xstrdup("default");
        free(id);
        id = NULL;
        json_t *d2 = json_deep_copy(desired);
        jpath_set_new(d2, "metadata.namespace", json_string("default"));
        id = obj_id(c, d2);
        json_decref(d2);
    }
    path = object_path(t.api_version, &t.kr, t.ns, t.name);
    char *q = xasprintf("%s?fieldManager=plinth&force=true", path);
    json_t *wb = wire_body(desired);
    if (t.kr.namespaced) jpath_set_new(wb, "metadata.namespace", json_string(t.ns));
    else jpath_del(wb, "metadata.namespace");
    text = json_dumps(wb, JSON_COMPACT);
    json_decref(wb);
    kresp_t r;
    int hr;
    int64_t start = util_now_ms(), delay = t.P->endpoint ? 50 : 1000;
    for (;;) {
        hr = kcall(t.P, t.conn, t.via, "PATCH", q, "application/apply-patch+yaml", text, &r, c->cancel,
                   c->err);
        const char *dk = hr == 0 ? json_string_value(jpath_get(r.body, "details.kind")) : NULL;
        /* Its namespace may be on its way too. */
        if (hr != 0 || r.status != 404 || !dk || strcmp(dk, "namespaces") != 0 ||
            util_now_ms() - start > (t.P->endpoint ? 5000 : 60000) || (c->cancel && *c->cancel))
            break;
        if (c->progress) {
            char m[256];
            snprintf(m, sizeof m, "waiting for namespace %s", t.ns);
            c->progress(c->ud, c->addr, m);
        }
        kresp_free(&r);
        sleep_ms(delay, c->cancel);
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
    free(q);
    if (hr != 0) goto out;
    if (r.status != 200 && r.status != 201) {
        kerr(&r, "PATCH", path, c->err);
        if (is_immutable_error(&r) && immutable) *immutable = 1;
        if (is_immutable_error(&r))
            perr_wrap(c->err, "a field that cannot change was changed; recreate the object with "
                              "plinth apply --replace %s", c->addr ? c->addr : "ADDR");
        kresp_free(&r);
        goto out;
    }
    json_t *obj = json_incref(r.body);
    kresp_free(&r);
    if (!strcmp(t.kind, "CustomResourceDefinition")) {
        /* New kinds appear in discovery once Established. */
    }
    if (wait_ready(c, &t, path, desired, &obj) != 0) {
        json_decref(obj);
        goto out;
    }
    if (!strcmp(t.kind, "CustomResourceDefinition")) {
        pthread_mutex_lock(&t.conn->mu);
        json_object_clear(t.conn->disc);
        pthread_mutex_unlock(&t.conn->mu);
    }
    strip_live(obj);
    *live = obj;
    if (idout) *idout = xstrdup(id);
    rc = 0;
out:
    free(text);
    free(path);
    free(id);
    target_free(&t);
    return rc;
}

static int obj_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    return apply_obj(c, desired, id, live, NULL);
}

static int obj_remove(rctx_t *c, const char *id, const json_t *live);

/* A Job's template cannot change: the Job is run again (deleted and
 * recreated); any other kind asks for --replace. */
static int obj_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                      const strlist_t *changed, json_t **newlive) {
    int immutable = 0;
    if (apply_obj(c, desired, NULL, newlive, &immutable) == 0) return 0;
    const char *kind = jstr(desired, "kind");
    if (!immutable || !kind || strcmp(kind, "Job") != 0) return -1;
    perr_clear(c->err);
    if (c->progress) c->progress(c->ud, c->addr, "the job's template changed: recreating the job");
    if (obj_remove(c, id, live) != 0) return -1;
    return apply_obj(c, desired, NULL, newlive, NULL);
}

static int obj_remove(rctx_t *c, const char *id, const json_t *live) {
    target_t t;
    int rc = -1;
    char *path = NULL;
    if (target_from_id(c, id, NULL, &t) != 0) goto out;
    if (t.gone || !t.known) {
        rc = 0; /* the cluster or the kind (CRD) is gone, and the object with it */
        goto out;
    }
    path = object_path(t.api_version, &t.kr, t.ns, t.name);
    char *q = xasprintf("%s?propagationPolicy=Foreground", path);
    kresp_t r;
    int hr = kcall(t.P, t.conn, t.via, "DELETE", q, NULL, NULL, &r, c->cancel, c->err);
    free(q);
    if (hr != 0) goto out;
    if (r.status == 404) {
        kresp_free(&r);
        rc = 0;
        goto out;
    }
    if (r.status != 200 && r.status != 202) {
        kerr(&r, "DELETE", path, c->err);
        kresp_free(&r);
        goto out;
    }
    kresp_free(&r);
    int64_t start = util_now_ms(), delay = t.P->endpoint ? 50 : 1000;
    int64_t timeout_ms = DEFAULT_WAIT_S * 1000;
    int said = 0;
    for (;;) {
        if (kcall(t.P, t.conn, t.via, "GET", path, NULL, NULL, &r, c->cancel, c->err) != 0) goto out;
        long st = r.status;
        if (st == 404) {
            kresp_free(&r);
            break;
        }
        if (st != 200) {
            kerr(&r, "GET", path, c->err);
            kresp_free(&r);
            goto out;
        }
        if (!said && c->progress) c->progress(c->ud, c->addr, "waiting for deletion (foreground)");
        said = 1;
        if (c->cancel && *c->cancel) {
            perr_set(c->err, "", "interrupted while waiting for deletion");
            kresp_free(&r);
            goto out;
        }
        if (util_now_ms() - start > timeout_ms) {
            json_t *fin = jpath_get(r.body, "metadata.finalizers");
            char *f = fin ? json_dumps(fin, JSON_COMPACT) : xstrdup("[]");
            perr_set(c->err, "", "timed out after %d s waiting for %s %s to be deleted (finalizers %s)",
                     DEFAULT_WAIT_S, t.kind, t.name, f);
            free(f);
            kresp_free(&r);
            goto out;
        }
        kresp_free(&r);
        sleep_ms(delay, c->cancel);
        delay = delay * 3 / 2 > (t.P->endpoint ? 500 : 5000) ? (t.P->endpoint ? 500 : 5000) : delay * 3 / 2;
    }
    rc = 0;
out:
    free(path);
    target_free(&t);
    return rc;
}

static int obj_import(rctx_t *c, const char *import_id, char **id, json_t **live) {
    if (obj_read(c, import_id, NULL, live) != 0) return -1;
    if (!*live) {
        perr_set(c->err, "", "%s does not exist", import_id);
        return -1;
    }
    *id = xstrdup(import_id);
    return 0;
}

/* A Kubernetes quantity ("500m", "1Gi", "2e3", "1.5") as a number; 0 when
 * s is not one. */
static int quantity(const char *s, long double *out) {
    char *end;
    long double v = strtold(s, &end);
    if (end == s) return 0;
    static const struct {
        const char *suf;
        long double mul;
    } sx[] = {{"Ki", 1024.0L}, {"Mi", 1048576.0L}, {"Gi", 1073741824.0L}, {"Ti", 1099511627776.0L},
              {"Pi", 1125899906842624.0L}, {"Ei", 1152921504606846976.0L}, {"m", 1e-3L}, {"k", 1e3L},
              {"M", 1e6L}, {"G", 1e9L}, {"T", 1e12L}, {"P", 1e15L}, {"E", 1e18L}, {"", 1.0L}};
    for (size_t i = 0; i < sizeof sx / sizeof *sx; i++)
        if (!strcmp(end, sx[i].suf)) {
            *out = v * sx[i].mul;
            return 1;
        }
    return 0;
}

static int quantity_path(const char *path) {
    static const char *const words[] = {"limits", "requests", "capacity", "allocatable", "hard", "storage", NULL};
    for (const char *const *w = words; *w; w++)
        if (strstr(path, *w)) return 1;
    return 0;
}

/* Live values the API spells differently from what a spec writes. */
static void norm(json_t *live, const json_t *desired, const char *path) {
    if (!json_is_object(desired) || !json_is_object(live)) return;
    const char *k;
    json_t *d;
    json_object_foreach((json_t *)desired, k, d) {
        json_t *l = json_object_get(live, k);
        if (!l) continue;
        if (json_is_null(d)) {
            /* null in a manifest means "no opinion" (creationTimestamp: null) */
            json_object_set_new(live, k, json_null());
            continue;
        }
        char *p = jpath_join(path, k);
        if (json_is_object(d)) norm(l, d, p);
        else if (json_is_array(d) && json_is_array(l) && json_array_size(d) == json_array_size(l)) {
            for (size_t i = 0; i < json_array_size(d); i++) {
                char idx[24];
                snprintf(idx, sizeof idx, "%zu", i);
                char *pi = jpath_join(p, idx);
                norm(json_array_get(l, i), json_array_get(d, i), pi);
                free(pi);
            }
        } else if (json_is_real(d) && json_is_integer(l) && json_real_value(d) == (double)json_integer_value(l)) {
            json_object_set_new(live, k, json_real(json_real_value(d)));
        } else if ((json_is_string(d) || json_is_number(d)) && (json_is_string(l) || json_is_number(l)) &&
                   quantity_path(p)) {
            /* quantities are canonicalised by the API: "1000m" -> "1", "0.5" -> "500m" */
            char dbuf[64], lbuf[64];
            const char *ds = json_is_string(d) ? json_string_value(d) : (snprintf(dbuf, sizeof dbuf, "%.17g", json_number_value(d)), dbuf);
            const char *ls = json_is_string(l) ? json_string_value(l) : (snprintf(lbuf, sizeof lbuf, "%.17g", json_number_value(l)), lbuf);
            long double a, b;
            if (strcmp(ds, ls) && quantity(ds, &a) && quantity(ls, &b) &&
                (a - b <= 1e-9L * (a > 0 ? a : -a) && b - a <= 1e-9L * (a > 0 ? a : -a)))
                json_object_set(live, k, d);
        }
        free(p);
    }
}

/* The API keeps stringData only as base64 data: compare what the spec wrote. */
static void norm_secret(json_t *live, const json_t *desired) {
    const char *kind = jstr(desired, "kind");
    json_t *sd = json_object_get(desired, "stringData"), *data = json_object_get(live, "data");
    if (!kind || strcmp(kind, "Secret") != 0 || !json_is_object(sd) || json_object_get(live, "stringData")) return;
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(sd, k, v) {
        const char *b64 = jstr(data, k);
        char *dec = b64 ? b64_decode(b64, NULL) : NULL;
        if (dec) json_object_set_new(out, k, json_string(dec));
        free(dec);
    }
    json_object_set_new(live, "stringData", out);
}

static void obj_normalize(const rtype_t *t, json_t *live, const json_t *desired) {
    strip_live(live);
    norm_secret(live, desired);
    norm(live, desired, "");
}

static void obj_defaults(const rtype_t *t, void *prov, const char *spec_name, json_t *body) {
    json_t *md = json_object_get(body, "metadata");
    if (!md) {
        md = json_object();
        json_object_set_new(body, "metadata", md);
    }
    if (json_is_object(md) && !json_object_get(md, "name")) json_object_set_new(md, "name", json_string(spec_name));
}

static void ns_defaults(const rtype_t *t, void *prov, const char *spec_name, json_t *body) {
    if (!json_object_get(body, "apiVersion")) json_object_set_new(body, "apiVersion", json_string("v1"));
    if (!json_object_get(body, "kind")) json_object_set_new(body, "kind", json_string("Namespace"));
    obj_defaults(t, prov, spec_name, body);
}

static const char *const obj_required[] = {"apiVersion", "kind", NULL};
/* Per kind in the API; listed here for every kind since other kinds do not
 * have these paths (a Job's spec.template is answered by the API with 422,
 * reported with the --replace hint: listing it would replace Deployments on
 * every template change). */
static const char *const obj_immutable[] = {"spec.selector", "spec.clusterIP", NULL};
static const char *const obj_ignore[] = {"cluster", "kubeconfig", "context", "wait_timeout", "via", "status", NULL};
static const char *const obj_sensitive[] = {"via.private_key_passphrase", "via.via.private_key_passphrase",
                                            "via.via.via.private_key_passphrase", NULL};

/* A Secret's values are secrets; a ConfigMap's data is not: sensitivity
 * depends on the kind. */
static const char *const *obj_sensitive_for(const json_t *body) {
    static const char *const secret_paths[] = {"data", "stringData", NULL};
    const char *kind = json_string_value(json_object_get(body, "kind"));
    return kind && strcmp(kind, "Secret") == 0 ? secret_paths : NULL;
}

static const rtype_t t_object = {
    .name = "k8s.object",
    .extra_fields = plinth_fields,
    .required = obj_required,
    .immutable = obj_immutable,
    .sensitive = obj_sensitive,
    .sensitive_for = obj_sensitive_for,
    .ignore = obj_ignore,
    .defaults = obj_defaults,
    .id_of = obj_id,
    .read = obj_read,
    .create = obj_create,
    .update = obj_update,
    .remove = obj_remove,
    .import = obj_import,
    .normalize = obj_normalize,
};

static const rtype_t t_namespace = {
    .name = "k8s.namespace",
    .extra_fields = plinth_fields,
    .sensitive = obj_sensitive,
    .ignore = obj_ignore,
    .defaults = ns_defaults,
    .id_of = obj_id,
    .read = obj_read,
    .create = obj_create,
    .update = obj_update,
    .remove = obj_remove,
    .import = obj_import,
    .normalize = obj_normalize,
};

/* ---- provider --------------------------------------------------------------------- */

static void *k8s_open(const json_t *config, const prov_env_t *env, perr_t *e) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)config, k, v) {
        if (strcmp(k, "project") != 0) {
            perr_set(e, "provider k8s", "unknown setting '%s' (known: project)", k);
            return NULL;
        }
    }
    k8s_prov_t *P = xcalloc(1, sizeof *P);
    const char *proj = jstr(config, "project");
    if (!proj || !*proj) proj = getenv("GOOGLE_CLOUD_PROJECT");
    if (!proj || !*proj) proj = getenv("CLOUDSDK_CORE_PROJECT");
    P->project = proj && *proj ? xstrdup(proj) : NULL;
    P->endpoint = env && env->endpoint && *env->endpoint ? xstrdup(env->endpoint) : NULL;
    P->http_log = env && env->http_log ? xstrdup(env->http_log) : NULL;
    if (P->http_log) {
        P->log = gcp_log_open(P->http_log, e);
        if (!P->log) {
            free(P->http_log);
            free(P->endpoint);
            free(P->project);
            free(P);
            return NULL;
        }
    }
    pthread_mutex_init(&P->mu, NULL);
    P->ssh = ssh_pool_new();
    P->vias = json_object();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_init(&P->share_mu[i], NULL);
    P->share = curl_share_init();
    if (P->share) {
        curl_share_setopt(P->share, CURLSHOPT_LOCKFUNC, share_lock);
        curl_share_setopt(P->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
        curl_share_setopt(P->share, CURLSHOPT_USERDATA, P);
        curl_share_setopt(P->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
        curl_share_setopt(P->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        curl_share_setopt(P->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    }
    return P;
}

static void k8s_close(void *prov) {
    k8s_prov_t *P = prov;
    if (!P) return;
    for (conn_t *c = P->conns, *n; c; c = n) {
        n = c->next;
        free(c->key);
        free(c->server);
        free(c->ca_pem);
        free(c->cert_pem);
        free(c->key_pem);
        free(c->token);
        json_decref(c->disc);
        pthread_mutex_destroy(&c->mu);
        free(c);
    }
    if (P->gcp) gcp_client_free(P->gcp);
    if (P->log) gcp_log_close(P->log);
    if (P->share) curl_share_cleanup(P->share);
    /* After curl's connections (to the tunnels' local ports) are closed. */
    ssh_pool_free(P->ssh);
    json_decref(P->vias);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) pthread_mutex_destroy(&P->share_mu[i]);
    pthread_mutex_destroy(&P->mu);
    free(P->endpoint);
    free(P->http_log);
    free(P->project);
    free(P);
}

static const rtype_t *const k8s_types[] = {&t_object, &t_namespace, NULL};

/* rtype.h validate: what can be told of a k8s body before any cluster is
 * reached (deferred values are skipped; required fields are checked by the
 * engine). */
static void k8s_validate(const rtype_t *t, const json_t *body, const char *addr, const char *where,
                         diag_t *d) {
    static const char *const strings[] = {"apiVersion", "kind", NULL};
    for (const char *const *f = strings; *f; f++) {
        json_t *v = json_object_get(body, *f);
        if (v && !json_is_string(v) && !ref_is_deferred(v))
            diag_add(d, where, "%s: %s: expected a string", addr, *f);
    }
    json_t *md = json_object_get(body, "metadata");
    if (md && !json_is_object(md))
        diag_add(d, where, "%s: metadata: expected a table", addr);
    if (json_object_get(body, "cluster") && json_object_get(body, "kubeconfig"))
        diag_add(d, where, "%s: set either cluster or kubeconfig, not both", addr);
    json_t *via = json_object_get(body, "via");
    perr_t e = {0};
    if (via && !json_is_null(via) && !ref_contains(via) && via_check(via, &e) != 0)
        diag_add(d, where, "%s: %s", addr, e.msg);
}

const provider_def_t k8s_provider = {
    .name = "k8s",
    .open = k8s_open,
    .close = k8s_close,
    .types = k8s_types,
    .validate = k8s_validate,
    .expand = k8s_expand,
    .link = k8s_link,
    .kubeconfig = k8s_kubeconfig,
};
