/* types_registry.c: Artifact Registry repositories (create/delete are
 * long-running operations; PATCH with updateMask is synchronous). */
#include "providers/gcp/gcp_res.h"

static const gcp_type_t repo_t = {
    .api = "artifactregistry",
    .op_api = "artifactregistry",
    .self = "v1/projects/{project}/locations/{location}/repositories/{repositoryId}",
    .collection = "v1/projects/{project}/locations/{location}/repositories",
    .create_query = "repositoryId={repositoryId}",
    .id_tmpl = "projects/{project}/locations/{location}/repositories/{repositoryId}",
    .import_forms = (const char *const[]){"{project}/{location}/{repositoryId}", "{location}/{repositoryId}", NULL},
    .name_field = "repositoryId",
    .location_field = "location",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_PATCH_MASK,
    .list_items = "repositories",
    .ci_paths = (const char *const[]){"format", "mode", NULL},
    .set_paths = (const char *const[]){"cleanupPolicies", NULL},
};
const rtype_t gcp_artifact_registry_repository = {
    .name = "gcp.artifact_registry_repository", .api = "artifactregistry", .message = "Repository",
    .extra_fields = (const char *const[]){"project", "location", "repositoryId", NULL},
    .required = (const char *const[]){"format", NULL},
    .immutable = (const char *const[]){"repositoryId", "location", "project", "format", "mode", "kmsKeyName",
                                       "remoteRepositoryConfig", "mavenConfig.versionPolicy",
                                       "mavenConfig.allowSnapshotOverwrites", NULL},
    .ignore = (const char *const[]){"name", "createTime", "updateTime", "sizeBytes", "registryUri", "satisfiesPzs",
                                    "satisfiesPzi", NULL},
    GCP_RTYPE_CALLBACKS, .data = &repo_t,
};
