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
#include "transport/gcp_http.h"
#include "transport/gcp_log.h"
#include "providers/k8s/k8s.h"
#include "providers/k8s/k8s_manifest.h"
#include "providers/k8s/k8s_yaml.h"
#include "transport/ssh.h"
#include "providers/k8s/k8s_int.h"

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *ud) {
    (void)h;
    (void)a;
    pthread_mutex_lock(&((k8s_prov_t *)ud)->share_mu[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *ud) {
    (void)h;
    pthread_mutex_unlock(&((k8s_prov_t *)ud)->share_mu[d]);
}

static void obj_defaults(const rtype_t *t, void *prov, const char *spec_name, json_t *body) {
    json_t *md = json_object_get(body, "metadata");
    if (!md) {
        md = json_object();
        json_object_set_new(body, "metadata", md);
    }
    if (json_is_object(md) && !json_object_get(md, "name"))
        json_object_set_new(md, "name", json_string(spec_name));
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
static const char *const obj_ignore[] = {"cluster", "kubeconfig", "context", "wait_timeout",
                                         "via",     "status",     NULL};
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
    .extra_fields = k8s_plinth_fields,
    .required = obj_required,
    .immutable = obj_immutable,
    .sensitive = obj_sensitive,
    .sensitive_for = obj_sensitive_for,
    .ignore = obj_ignore,
    .defaults = obj_defaults,
    .id_of = k8s_obj_id,
    .read = k8s_obj_read,
    .read_many = k8s_obj_read_many,
    .create = k8s_obj_create,
    .update = k8s_obj_update,
    .remove = k8s_obj_remove,
    .import = k8s_obj_import,
    .normalize = k8s_obj_normalize,
};

static const rtype_t t_namespace = {
    .name = "k8s.namespace",
    .extra_fields = k8s_plinth_fields,
    .sensitive = obj_sensitive,
    .ignore = obj_ignore,
    .defaults = ns_defaults,
    .id_of = k8s_obj_id,
    .read = k8s_obj_read,
    .read_many = k8s_obj_read_many,
    .create = k8s_obj_create,
    .update = k8s_obj_update,
    .remove = k8s_obj_remove,
    .import = k8s_obj_import,
    .normalize = k8s_obj_normalize,
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
    const char *proj = k8s_jstr(config, "project");
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
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&P->share_mu[i], NULL);
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
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&P->share_mu[i]);
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
    if (md && !json_is_object(md)) diag_add(d, where, "%s: metadata: expected a table", addr);
    if (json_object_get(body, "cluster") && json_object_get(body, "kubeconfig"))
        diag_add(d, where, "%s: set either cluster or kubeconfig, not both", addr);
    json_t *via = json_object_get(body, "via");
    perr_t e = {0};
    if (via && !json_is_null(via) && !ref_contains(via) && k8s_via_check(via, &e) != 0)
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
