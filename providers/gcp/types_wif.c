/* types_wif.c: workload identity federation (keyless CI): pools and their
 * OIDC/AWS/SAML providers.  Create, PATCH with updateMask and delete are
 * long-running operations; a deleted pool or provider stays for 30 days in
 * state DELETED, which reads as gone. */
#include <string.h>

#include "providers/gcp/gcp_res.h"

static void gone_when_deleted(rctx_t *c, const json_t *desired, json_t **live) {
    const char *st = json_string_value(json_object_get(*live, "state"));
    if (st && strcmp(st, "DELETED") == 0) {
        json_decref(*live);
        *live = NULL;
    }
}

#define POOL "v1/projects/{project}/locations/global/workloadIdentityPools"
static const gcp_type_t pool_t = {
    .api = "iam",
    .op_api = "iam",
    .self = POOL "/{workloadIdentityPoolId}",
    .collection = POOL,
    .create_query = "workloadIdentityPoolId={workloadIdentityPoolId}",
    .id_tmpl = "projects/{project}/locations/global/workloadIdentityPools/{workloadIdentityPoolId}",
    .import_forms =
        (const char *const[]){"{project}/{workloadIdentityPoolId}", "{workloadIdentityPoolId}", NULL},
    .name_field = "workloadIdentityPoolId",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_PATCH_MASK,
    .list_items = "workloadIdentityPools",
    .after_read = gone_when_deleted,
};
const rtype_t gcp_iam_workload_identity_pool = {
    .name = "gcp.iam_workload_identity_pool",
    .api = "iam",
    .message = "WorkloadIdentityPool",
    .extra_fields = (const char *const[]){"project", "workloadIdentityPoolId", NULL},
    .immutable = (const char *const[]){"project", "workloadIdentityPoolId", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &pool_t,
};

static const gcp_type_t provider_t = {
    .api = "iam",
    .op_api = "iam",
    .self = POOL "/{workloadIdentityPoolId}/providers/{workloadIdentityPoolProviderId}",
    .collection = POOL "/{workloadIdentityPoolId}/providers",
    .create_query = "workloadIdentityPoolProviderId={workloadIdentityPoolProviderId}",
    .id_tmpl = "projects/{project}/locations/global/workloadIdentityPools/{workloadIdentityPoolId}/providers/"
               "{workloadIdentityPoolProviderId}",
    .import_forms =
        (const char *const[]){"{project}/{workloadIdentityPoolId}/{workloadIdentityPoolProviderId}",
                              "{workloadIdentityPoolId}/{workloadIdentityPoolProviderId}", NULL},
    .name_field = "workloadIdentityPoolProviderId",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_PATCH_MASK,
    .list_items = "workloadIdentityPoolProviders",
    .after_read = gone_when_deleted,
};
const rtype_t gcp_iam_workload_identity_pool_provider = {
    .name = "gcp.iam_workload_identity_pool_provider",
    .api = "iam",
    .message = "WorkloadIdentityPoolProvider",
    .extra_fields =
        (const char *const[]){"project", "workloadIdentityPoolId", "workloadIdentityPoolProviderId", NULL},
    .required = (const char *const[]){"workloadIdentityPoolId", NULL},
    .immutable =
        (const char *const[]){"project", "workloadIdentityPoolId", "workloadIdentityPoolProviderId", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &provider_t,
};
