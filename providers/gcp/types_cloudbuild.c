/* types_cloudbuild.c: Cloud Build triggers (regional, v1).  The server
 * gives a trigger its ID, but the API also names a trigger by its name,
 * which is unique per location: plinth's ID uses the name, so it is known
 * before create.  PATCH with updateMask; no operations. */
#include "providers/gcp/gcp_res.h"

static const gcp_type_t trigger_t = {
    .api = "cloudbuild",
    .self = "v1/projects/{project}/locations/{location}/triggers/{name}",
    .collection = "v1/projects/{project}/locations/{location}/triggers",
    .id_tmpl = "projects/{project}/locations/{location}/triggers/{name}",
    .import_forms = (const char *const[]){"{project}/{location}/{name}", "{location}/{name}", NULL},
    .name_field = "name",
    .location_field = "location",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_PATCH_MASK,
    .list_items = "triggers",
};
const rtype_t gcp_cloudbuild_trigger = {
    .name = "gcp.cloudbuild_trigger",
    .api = "cloudbuild",
    .message = "BuildTrigger",
    .extra_fields = (const char *const[]){"project", "location", NULL},
    .immutable = (const char *const[]){"project", "location", "name", NULL},
    .ignore = (const char *const[]){"resourceName", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &trigger_t,
};
