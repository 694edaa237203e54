/* k8s_kubeconfig.c: kubeconfigs: one for a GKE cluster in state (plinth
 * kubeconfig ADDR), following the server URL rule of k8s.h, and reading
 * one for a context (kubeconfig = "path"). */
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "providers/k8s/k8s.h"
#include "providers/k8s/k8s_int.h"
#include "providers/k8s/k8s_yaml.h"

int k8s_kubeconfig(const char *endpoint_override, const json_t *cl, const char *name, char **yaml,
                   perr_t *e) {
    *yaml = NULL;
    char *server = k8s_server_url(endpoint_override, cl, e);
    if (!server) return -1;
    const char *n = name && *name ? name : json_string_value(json_object_get(cl, "name"));
    if (!n) n = "plinth";
    json_t *cluster = json_pack("{s:s}", "server", server);
    json_t *user;
    if (endpoint_override && *endpoint_override) {
        user = json_object();
    } else {
        const char *ca = json_string_value(jpath_get(cl, "masterAuth.clusterCaCertificate"));
        if (!ca) ca = json_string_value(json_object_get(cl, "ca_certificate"));
        if (!ca || !*ca) {
            perr_set(e, "", "the cluster has no masterAuth.clusterCaCertificate");
            json_decref(cluster);
            free(server);
            return -1;
        }
        json_object_set_new(cluster, "certificate-authority-data", json_string(ca));
        user =
            json_pack("{s:{s:s,s:s,s:s,s:b}}", "exec", "apiVersion", "client.authentication.k8s.io/v1beta1",
                      "command", "gke-gcloud-auth-plugin", "installHint",
                      "Install gke-gcloud-auth-plugin for use with kubectl by following "
                      "https://cloud.google.com/kubernetes-engine/docs/how-to/"
                      "cluster-access-for-kubectl#install_plugin",
                      "provideClusterInfo", 1);
    }
    json_t *kc = json_pack("{s:s,s:s,s:[{s:s,s:o}],s:[{s:s,s:{s:s,s:s}}],s:s,s:{},s:[{s:s,s:o}]}",
                           "apiVersion", "v1", "kind", "Config", "clusters", "name", n, "cluster", cluster,
                           "contexts", "name", n, "context", "cluster", n, "user", n, "current-context", n,
                           "preferences", "users", "name", n, "user", user);
    *yaml = k8s_yaml_dump(kc);
    json_decref(kc);
    free(server);
    return 0;
}

/* ---- reading a kubeconfig (kubeconfig = "path" on a k8s resource) ---- */

static json_t *named(const json_t *list, const char *name) {
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) if (k8s_jstr(x, "name") && !strcmp(k8s_jstr(x, "name"), name)) return x;
    return NULL;
}

void k8s_kubeconfig_ctx_free(k8s_kubeconfig_ctx_t *k) {
    free(k->server);
    free(k->ca_pem);
    free(k->ca_file);
    free(k->cert_pem);
    free(k->key_pem);
    free(k->token);
    memset(k, 0, sizeof *k);
}

/* base64 field f of o decoded (NEW), NULL when absent; -1 when invalid. */
static int b64_field(const json_t *o, const char *f, char **out, const char *name, perr_t *e) {
    const char *v = k8s_jstr(o, f);
    *out = NULL;
    if (!v) return 0;
    if (!(*out = k8s_b64_decode(v, NULL))) {
        perr_set(e, "", "kubeconfig %s: %s is not valid base64", name, f);
        return -1;
    }
    return 0;
}

static int user_part(const json_t *user, const char *name, k8s_kubeconfig_ctx_t *k, perr_t *e) {
    if (!user) return 0;
    if (user && !json_is_object(user)) {
        perr_set(e, "", "kubeconfig %s: the context's user is not a mapping", name);
        return -1;
    }
    if (k8s_jstr(user, "token")) k->token = xstrdup(k8s_jstr(user, "token"));
    if (b64_field(user, "client-certificate-data", &k->cert_pem, name, e) ||
        b64_field(user, "client-key-data", &k->key_pem, name, e))
        return -1;
    json_t *ex = json_object_get(user, "exec");
    if (!ex) return 0;
    const char *cmd = k8s_jstr(ex, "command");
    if (cmd && strstr(cmd, "gke-gcloud-auth-plugin")) {
        k->gcp_auth = 1;
        return 0;
    }
    perr_set(e, "", "kubeconfig %s: user exec plugin %s is not supported (only gke-gcloud-auth-plugin)", name,
             cmd ? cmd : "?");
    return -1;
}

int k8s_kubeconfig_parse(const char *text, size_t len, const char *name, const char *context,
                         k8s_kubeconfig_ctx_t *k, perr_t *e) {
    memset(k, 0, sizeof *k);
    json_t *docs = k8s_yaml_parse(text, len, name, NULL, e);
    json_t *kc = docs ? json_array_get(docs, 0) : NULL;
    if (!kc || !json_is_object(kc)) {
        if (docs) perr_set(e, "", "kubeconfig %s is %s", name, kc ? "not a mapping" : "empty");
        goto fail;
    }
    const char *ctxname = context && *context ? context : k8s_jstr(kc, "current-context");
    json_t *ctx =
        ctxname ? json_object_get(named(json_object_get(kc, "contexts"), ctxname), "context") : NULL;
    if (!ctx || !json_is_object(ctx)) {
        perr_set(e, "", "kubeconfig %s: no context %s", name, ctxname ? ctxname : "(no current-context)");
        goto fail;
    }
    json_t *cl =
        json_object_get(named(json_object_get(kc, "clusters"), k8s_jstr(ctx, "cluster") ?: ""), "cluster");
    json_t *user = json_object_get(named(json_object_get(kc, "users"), k8s_jstr(ctx, "user") ?: ""), "user");
    if (!cl || !k8s_jstr(cl, "server")) {
        perr_set(e, "", "kubeconfig %s: context %s has no cluster server", name, ctxname);
        goto fail;
    }
    k->server = xstrdup(k8s_jstr(cl, "server"));
    size_t sl = strlen(k->server);
    while (sl && k->server[sl - 1] == '/')
        k->server[--sl] = 0;
    if (b64_field(cl, "certificate-authority-data", &k->ca_pem, name, e)) goto fail;
    if (!k->ca_pem && k8s_jstr(cl, "certificate-authority"))
        k->ca_file = xstrdup(k8s_jstr(cl, "certificate-authority"));
    /* plinth always verifies TLS: a kubeconfig that turns it off is refused
     * rather than silently obeyed. */
    if (json_is_true(json_object_get(cl, "insecure-skip-tls-verify")) &&
        strncmp(k->server, "https:", 6) == 0) {
        perr_set(e, "",
                 "kubeconfig %s: cluster of context %s sets insecure-skip-tls-verify; plinth always "
                 "verifies TLS: give certificate-authority-data instead",
                 name, ctxname);
        goto fail;
    }
    if (user_part(user, name, k, e) != 0) goto fail;
    json_decref(docs);
    return 0;
fail:
    json_decref(docs);
    k8s_kubeconfig_ctx_free(k);
    return -1;
}
