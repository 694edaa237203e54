/* k8s_kubeconfig.c: a kubeconfig for a GKE cluster in state (plinth
 * kubeconfig ADDR), following the server URL rule of k8s.h. */
#include <string.h>

#include "core/jpath.h"
#include "providers/k8s/k8s.h"
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
        user = json_pack("{s:{s:s,s:s,s:s,s:b}}", "exec", "apiVersion",
                         "client.authentication.k8s.io/v1beta1", "command", "gke-gcloud-auth-plugin",
                         "installHint",
                         "Install gke-gcloud-auth-plugin for use with kubectl by following "
                         "https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin",
                         "provideClusterInfo", 1);
    }
    json_t *kc = json_pack("{s:s,s:s,s:[{s:s,s:o}],s:[{s:s,s:{s:s,s:s}}],s:s,s:{},s:[{s:s,s:o}]}",
                           "apiVersion", "v1", "kind", "Config", "clusters", "name", n, "cluster",
                           cluster, "contexts", "name", n, "context", "cluster", n, "user", n,
                           "current-context", n, "preferences", "users", "name", n, "user", user);
    *yaml = k8s_yaml_dump(kc);
    json_decref(kc);
    free(server);
    return 0;
}
