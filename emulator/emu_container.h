/* emu_container.h: the emulated GKE API's internal contract, shared by
 * api_container.c (clusters, operations, server config, routes) and
 * container_pools.c (node pools).  Clusters are stored at
 * "container/projects/<p>/locations/<l>/clusters/<c>" with their node
 * pools inside; keys starting with "plinth:" are private bookkeeping. */
#ifndef PLINTH_EMU_CONTAINER_H
#define PLINTH_EMU_CONTAINER_H

#include <jansson.h>

#include "emulator/emu.h"

#define DEFAULT_VERSION "1.30.5-gke.1014001"
#define API_BASE "https://container.googleapis.com/v1"

/* api_container.c */
char *emu_gke_cluster_key(const char *p, const char *l, const char *c); /* new */
/* The node pool named name in cluster (BORROWED) and its index, or NULL. */
json_t *emu_gke_find_pool(json_t *cluster, const char *name, size_t *idx);
/* A copy of the cluster named by params p,l,c (caller owns), or NULL with a 404. */
json_t *emu_gke_load_cluster(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key);
/* -1 with 400 FAILED_PRECONDITION while an operation runs on the cluster. */
int emu_gke_refuse_if_busy(emu_t *emu, const json_t *cluster, emu_resp_t *resp);
/* Sets currentNodeCount from the pools. */
void emu_gke_recount(json_t *c);
/* Starts an operation on a cluster (whose copy c the caller then stores):
 * records it, arms its completion, returns the public form (new). */
json_t *emu_gke_start_op(emu_t *emu, const char *p, const char *l, const char *ckey, json_t *c,
                         const char *type, const char *target, const char *kind, const char *pool);
int emu_gke_valid_name(const char *n, size_t max);
void emu_gke_hex8(char out[9]);
/* A supported version for "1.30", "-", "latest" or a full version (static), or NULL. */
const char *emu_gke_resolve_version(const char *v);

/* container_pools.c */
/* -1 with GKE's 400 when a pool's machine or accelerator type is not one Google has. */
int emu_gke_pool_check(const json_t *np, const char *loc, emu_resp_t *resp);
/* <0, 0, >0 as version a is older than, equal to, newer than b ("1.30.5-gke.1014001"). */
int emu_gke_version_cmp(const char *a, const char *b);
void emu_gke_pool_defaults(json_t *np, const json_t *c, const char *p, const char *l, const char *cname);
void emu_gke_pool_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_gke_pool_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_gke_pool_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_gke_pool_update(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_gke_pool_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_gke_pool_set_size(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_gke_pool_set_autoscaling(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_gke_pool_set_management(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);

#endif
