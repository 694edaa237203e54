/* types_registry.c: Artifact Registry repositories (create/delete are
 * long-running operations; PATCH with updateMask is synchronous). */
#include <ctype.h>
#include <stdlib.h>

#include "providers/gcp/gcp_res.h"

/* Enum values are upper-case on the wire; accept "docker" in the spec
 * (normalize compares these case-insensitively). */
static int repo_prepare(rctx_t *c, const json_t *desired, json_t *body) {
    static const char *const enums[] = {"format", "mode"};
    for (int i = 0; i < 2; i++) {
        const char *v = json_string_value(json_object_get(body, enums[i]));
        if (!v) continue;
        char *up = xstrdup(v);
        for (char *p = up; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        json_object_set_new(body, enums[i], json_string(up));
        free(up);
    }
    return 0;
}

static const gcp_type_t repo_t = {
    .api = "artifactregistry",
    .op_api = "artifactregistry",
    .self = "v1/projects/{project}/locations/{location}/repositories/{repositoryId}",
    .collection = "v1/projects/{project}/locations/{location}/repositories",
    .create_query = "repositoryId={repositoryId}",
    .id_tmpl = "projects/{project}/locations/{location}/repositories/{repositoryId}",
    .import_forms =
        (const char *const[]){"{project}/{location}/{repositoryId}", "{location}/{repositoryId}", NULL},
    .name_field = "repositoryId",
    .location_field = "location",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_PATCH_MASK,
    .list_items = "repositories",
    .ci_paths = (const char *const[]){"format", "mode", NULL},
    .set_paths = (const char *const[]){"cleanupPolicies", NULL},
    .prepare = repo_prepare,
};
const rtype_t gcp_artifact_registry_repository = {
    .name = "gcp.artifact_registry_repository",
    .api = "artifactregistry",
    .message = "Repository",
    .extra_fields = (const char *const[]){"project", "location", "repositoryId", NULL},
    .required = (const char *const[]){"format", NULL},
    .immutable = (const char *const[]){"repositoryId", "location", "project", "format", "mode", "kmsKeyName",
                                       "remoteRepositoryConfig", "mavenConfig.versionPolicy",
                                       "mavenConfig.allowSnapshotOverwrites", NULL},
    .ignore = (const char *const[]){"name", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &repo_t,
};
