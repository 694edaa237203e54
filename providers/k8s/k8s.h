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
int k8s_kubeconfig(const char *endpoint_override, const json_t *cluster_attrs, const char *name,
                   char **yaml, perr_t *e);

#endif
