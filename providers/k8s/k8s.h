/* k8s.h: the Kubernetes provider's entry points used outside it: the
 * kubeconfig for a cluster in state (`plinth kubeconfig ADDR`) and the
 * server URL rule shared by the provider and the kubeconfig.
 *
 * Server URL of a GKE cluster: with a Google endpoint override (the
 * emulator, PLINTH_GCP_ENDPOINT / --local) "<endpoint>/k8s/<cluster id>"
 * over plain http; otherwise "https://<cluster endpoint>" verified against
 * the cluster's CA certificate, with a Google access token. */
#ifndef PLINTH_K8S_H
#define PLINTH_K8S_H

#include <jansson.h>

#include "core/rtype.h"
#include "core/util.h"

extern const provider_def_t k8s_provider;

/* New string, or NULL with e filled when cluster lacks what is needed.
 * cluster: either a container API cluster ({endpoint, id, ...}) or the
 * plinth `cluster` table ({endpoint, id, ca_certificate, ...}). */
char *k8s_server_url(const char *endpoint_override, const json_t *cluster, perr_t *e);

/* A kubeconfig (YAML, new string in *yaml) for a gcp.container_cluster's
 * live attributes (endpoint, id, name, location, masterAuth.
 * clusterCaCertificate, selfLink).  name names the cluster/context/user
 * entries.  Against the emulator: its http server, no CA, no credentials;
 * otherwise the CA data and a gke-gcloud-auth-plugin exec user. */
/* What a kubeconfig says for one context (strings NEW, NULL when absent):
 * server (no trailing slash), the CA (PEM, from certificate-authority-data)
 * or ca_file (certificate-authority, for the caller to read), client
 * certificate and key (PEM), a static token, and gcp_auth when the user
 * runs gke-gcloud-auth-plugin. */
typedef struct k8s_kubeconfig_ctx {
    char *server, *ca_pem, *ca_file, *cert_pem, *key_pem, *token;
    int gcp_auth;
} k8s_kubeconfig_ctx_t;
/* Parses kubeconfig text (name for messages) and resolves context (NULL:
 * current-context).  -1 with e naming the file and what is wrong: YAML
 * errors with line and column, a missing context or server, a refused
 * insecure-skip-tls-verify, an exec plugin other than GKE's. */
int k8s_kubeconfig_parse(const char *text, size_t len, const char *name, const char *context,
                         k8s_kubeconfig_ctx_t *out, perr_t *e);
void k8s_kubeconfig_ctx_free(k8s_kubeconfig_ctx_t *k);

int k8s_kubeconfig(const char *endpoint_override, const json_t *cluster_attrs, const char *name, char **yaml,
                   perr_t *e);

#endif
