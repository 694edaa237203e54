/* types_bigquery.c: BigQuery datasets (for training data).  Insert takes
 * the ID in datasetReference; PATCH merges the changed fields; the
 * location never changes. */
#include "providers/gcp/gcp_res.h"

static int dataset_prepare(rctx_t *c, const json_t *desired, json_t *body) {
    const char *p = json_string_value(json_object_get(desired, "project"));
    json_object_set_new(body, "datasetReference",
                        json_pack("{s:O,s:s}", "datasetId", json_object_get(desired, "datasetId"),
                                  "projectId", p ? p : GCP_PROV(c)->project));
    return 0;
}

static const gcp_type_t dataset_t = {
    .api = "bigquery",
    .self = "bigquery/v2/projects/{project}/datasets/{datasetId}",
    .collection = "bigquery/v2/projects/{project}/datasets",
    .id_tmpl = "projects/{project}/datasets/{datasetId}",
    .import_forms =
        (const char *const[]){"{project}/{datasetId}", "{project}:{datasetId}", "{datasetId}", NULL},
    .name_field = "datasetId",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_PATCH,
    .ci_paths = (const char *const[]){"location", NULL},
    .prepare = dataset_prepare,
};
const rtype_t gcp_bigquery_dataset = {
    .name = "gcp.bigquery_dataset",
    .api = "bigquery",
    .message = "Dataset",
    .extra_fields = (const char *const[]){"project", "datasetId", NULL},
    .immutable = (const char *const[]){"project", "datasetId", "location", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &dataset_t,
};
