/* gcp_api.c: the per-API traits table (see gcp_api.h).  Adding an API with
 * google.longrunning operations and no busy rule needs no row. */
#include "providers/gcp/gcp_api.h"

#include <string.h>

static const char *raw_of(const gcp_resp_t *r) {
    return r->raw ? r->raw : "";
}

/* GKE: 400 FAILED_PRECONDITION while another operation runs on the
 * cluster (or its message says so), and 429. */
static int busy_container(const gcp_resp_t *r) {
    const char *raw = raw_of(r);
    return (r->status == 400 &&
            (strcmp(r->error_status, "FAILED_PRECONDITION") == 0 || strstr(raw, "incompatible operation") ||
             strstr(raw, "CLUSTER_ALREADY_HAS_OPERATION"))) ||
           r->status == 429;
}

/* Cloud SQL: 409 operationInProgress. */
static int busy_sql(const gcp_resp_t *r) {
    return r->status == 409 &&
           (strcmp(r->error_reason, "operationInProgress") == 0 || strstr(raw_of(r), "operationInProgress"));
}

/* Compute: 400 resourceNotReady. */
static int busy_compute(const gcp_resp_t *r) {
    return r->status == 400 &&
           (strcmp(r->error_reason, "resourceNotReady") == 0 || strstr(raw_of(r), "resourceNotReady"));
}

/* Service Usage: one (de)activation per project at a time. */
static int busy_serviceusage(const gcp_resp_t *r) {
    return r->status == 400 && strstr(raw_of(r), "Another activation or deactivation is in progress");
}

static const gcp_api_traits_t traits[] = {
    {"compute", GCP_OPS_COMPUTE, busy_compute, "maxResults=500", 0, 0, NULL},
    {"container", GCP_OPS_CONTAINER, busy_container, NULL, 0, 0, NULL},
    {"sqladmin", GCP_OPS_SQL, busy_sql, NULL, 0, 0, NULL},
    {"serviceusage", GCP_OPS_LRO, busy_serviceusage, NULL, 0, 0, NULL},
    {"storage", GCP_OPS_LRO, NULL, NULL, 1, 1, NULL},
    {"iam", GCP_OPS_LRO, NULL, "pageSize=100", 0, 1, NULL},
    {"secretmanager", GCP_OPS_LRO, NULL, NULL, 0, 1, NULL},
    {"run", GCP_OPS_LRO, NULL, NULL, 0, 0, "v2/"},
    {"notebooks", GCP_OPS_LRO, NULL, NULL, 0, 0, "v2/"},
    {"logging", GCP_OPS_LRO, NULL, NULL, 0, 0, "v2/"},
};

static const gcp_api_traits_t defaults = {"", GCP_OPS_LRO, NULL, NULL, 0, 0, NULL};

const gcp_api_traits_t *gcp_api_traits(const char *api) {
    for (size_t i = 0; api && i < sizeof traits / sizeof *traits; i++)
        if (strcmp(traits[i].name, api) == 0) return &traits[i];
    return &defaults;
}

int gcp_api_ops_declared(const char *api) {
    return gcp_api_traits(api)->ops != GCP_OPS_LRO;
}
