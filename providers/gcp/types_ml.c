/* types_ml.c: the ML services' resources: Cloud Run (v2) services for
 * model serving, Vertex AI endpoints and TensorBoards, Workbench
 * instances.  All are long-running-operation APIs with PATCH updateMask;
 * a TensorBoard is named by the server.  (Vertex AI's regional hosts,
 * REGION-aiplatform.googleapis.com, are not used yet: requests go to
 * aiplatform.googleapis.com.) */
#include "providers/gcp/gcp_res.h"

/* Types named "projects/P/locations/L/<coll>/<name>" with the name given
 * in the create query parameter idq. */
#define LOCATED_TYPE(api_, ver, coll, idq)                                                                   \
    .api = api_, .op_api = api_, .self = ver "/projects/{project}/locations/{location}/" coll "/{name}",     \
    .collection = ver "/projects/{project}/locations/{location}/" coll, .create_query = idq "={name}",       \
    .id_tmpl = "projects/{project}/locations/{location}/" coll "/{name}",                                    \
    .import_forms = (const char *const[]){"{project}/{location}/{name}", "{location}/{name}", NULL},         \
    .name_field = "name", .create_style = GCP_CREATE_POST, .update_style = GCP_UPDATE_PATCH_MASK,            \
    .list_items = coll
static const char *const located_extra[] = {"project", "location", "name", NULL};

static const gcp_type_t run_t = {LOCATED_TYPE("run", "v2", "services", "serviceId"),
                                 .location_field = "location"};
const rtype_t gcp_cloud_run_v2_service = {
    .name = "gcp.cloud_run_v2_service",
    .api = "run",
    .message = "GoogleCloudRunV2Service",
    .extra_fields = located_extra,
    .required = (const char *const[]){"template", NULL},
    .immutable = (const char *const[]){"project", "location", "name", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &run_t,
};

static const gcp_type_t endpoint_t = {LOCATED_TYPE("aiplatform", "v1", "endpoints", "endpointId"),
                                      .location_field = "location"};
const rtype_t gcp_vertex_ai_endpoint = {
    .name = "gcp.vertex_ai_endpoint",
    .api = "aiplatform",
    .message = "GoogleCloudAiplatformV1Endpoint",
    .extra_fields = located_extra,
    .required = (const char *const[]){"displayName", NULL},
    .immutable = (const char *const[]){"project", "location", "name", "encryptionSpec", "network",
                                       "privateServiceConnectConfig.enablePrivateServiceConnect", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &endpoint_t,
};

static const gcp_type_t tensorboard_t = {
    .api = "aiplatform",
    .op_api = "aiplatform",
    .self = "v1/projects/{project}/locations/{location}/tensorboards/{id}",
    .collection = "v1/projects/{project}/locations/{location}/tensorboards",
    .id_tmpl = "projects/{project}/locations/{location}/tensorboards/{id}",
    .import_forms = (const char *const[]){"{project}/{location}/{id}", "{location}/{id}", NULL},
    .location_field = "location",
    .create_style = GCP_CREATE_SERVER_NAMED,
    .update_style = GCP_UPDATE_PATCH_MASK,
    .list_items = "tensorboards",
};
const rtype_t gcp_vertex_ai_tensorboard = {
    .name = "gcp.vertex_ai_tensorboard",
    .api = "aiplatform",
    .message = "GoogleCloudAiplatformV1Tensorboard",
    .extra_fields = (const char *const[]){"project", "location", NULL},
    .required = (const char *const[]){"displayName", NULL},
    .immutable = (const char *const[]){"project", "location", "encryptionSpec", NULL},
    GCP_RTYPE_CALLBACKS_SERVER_NAMED,
    .data = &tensorboard_t,
};

/* A Workbench instance lives in a zone (its "location"). */
static const gcp_type_t workbench_t = {LOCATED_TYPE("notebooks", "v2", "instances", "instanceId"),
                                       .zone_field = "location"};
const rtype_t gcp_workbench_instance = {
    .name = "gcp.workbench_instance",
    .api = "notebooks",
    .message = "Instance",
    .extra_fields = located_extra,
    .immutable =
        (const char *const[]){"project", "location", "name", "instanceOwners", "disableProxyAccess",
                              "gceSetup.serviceAccounts", "gceSetup.vmImage", "gceSetup.bootDisk",
                              "gceSetup.dataDisks", "gceSetup.networkInterfaces", "gceSetup.disablePublicIp",
                              "gceSetup.tags", "gceSetup.enableIpForwarding",
                              "gceSetup.confidentialInstanceConfig", "gceSetup.reservationAffinity", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &workbench_t,
};
