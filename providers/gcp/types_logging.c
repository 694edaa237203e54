/* types_logging.c: Cloud Logging, project level: log-based metrics
 * (updated with PUT of the whole metric) and sinks (PATCH with updateMask;
 * a unique writer identity, which the sink's destination must grant). */
#include "providers/gcp/gcp_res.h"

#define LOGGING_TYPE(coll)                                                                                   \
    .api = "logging", .self = "v2/projects/{project}/" coll "/{name}",                                       \
    .collection = "v2/projects/{project}/" coll, .id_tmpl = "projects/{project}/" coll "/{name}",            \
    .import_forms = (const char *const[]){"{project}/{name}", "{name}", NULL}, .name_field = "name",         \
    .create_style = GCP_CREATE_POST, .list_items = coll

static const gcp_type_t metric_t = {LOGGING_TYPE("metrics"), .update_style = GCP_UPDATE_PUT};
const rtype_t gcp_logging_metric = {
    .name = "gcp.logging_metric",
    .api = "logging",
    .message = "LogMetric",
    .extra_fields = (const char *const[]){"project", NULL},
    .required = (const char *const[]){"filter", NULL},
    .immutable = (const char *const[]){"name", "project", "metricDescriptor.valueType",
                                       "metricDescriptor.metricKind", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &metric_t,
};

static const gcp_type_t sink_t = {LOGGING_TYPE("sinks"), .update_style = GCP_UPDATE_PATCH_MASK,
                                  .create_query = "uniqueWriterIdentity=true"};
const rtype_t gcp_logging_project_sink = {
    .name = "gcp.logging_project_sink",
    .api = "logging",
    .message = "LogSink",
    .extra_fields = (const char *const[]){"project", NULL},
    .required = (const char *const[]){"destination", NULL},
    .immutable = (const char *const[]){"name", "project", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &sink_t,
};
