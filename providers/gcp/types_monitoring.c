/* types_monitoring.c: Cloud Monitoring (v3): notification channels, alert
 * policies and uptime checks.  The server names them (projects/P/<coll>/ID):
 * create POSTs and keeps the answer's name as the ID; PATCH with
 * updateMask; list-based refresh; import by the name or its ID. */
#include "providers/gcp/gcp_res.h"

#define MONITORING_TYPE(coll)                                                                                \
    .api = "monitoring", .self = "v3/projects/{project}/" coll "/{id}",                                      \
    .collection = "v3/projects/{project}/" coll, .id_tmpl = "projects/{project}/" coll "/{id}",              \
    .import_forms = (const char *const[]){"{project}/{id}", "{id}", NULL},                                   \
    .create_style = GCP_CREATE_SERVER_NAMED, .update_style = GCP_UPDATE_PATCH_MASK, .list_items = coll

static const gcp_type_t channel_t = {MONITORING_TYPE("notificationChannels")};
const rtype_t gcp_monitoring_notification_channel = {
    .name = "gcp.monitoring_notification_channel",
    .api = "monitoring",
    .message = "NotificationChannel",
    .extra_fields = (const char *const[]){"project", NULL},
    .required = (const char *const[]){"type", NULL},
    .immutable = (const char *const[]){"project", "type", NULL},
    .ignore = (const char *const[]){"name", "creationRecord", "mutationRecords", "verificationStatus", NULL},
    GCP_RTYPE_CALLBACKS_SERVER_NAMED,
    .data = &channel_t,
};

static const gcp_type_t policy_t = {MONITORING_TYPE("alertPolicies"),
                                    .set_paths = (const char *const[]){"notificationChannels", NULL}};
const rtype_t gcp_monitoring_alert_policy = {
    .name = "gcp.monitoring_alert_policy",
    .api = "monitoring",
    .message = "AlertPolicy",
    .extra_fields = (const char *const[]){"project", NULL},
    .required = (const char *const[]){"displayName", "conditions", NULL},
    .immutable = (const char *const[]){"project", NULL},
    .ignore = (const char *const[]){"name", "creationRecord", "mutationRecord", "conditions.*.name", NULL},
    GCP_RTYPE_CALLBACKS_SERVER_NAMED,
    .data = &policy_t,
};

static const gcp_type_t uptime_t = {MONITORING_TYPE("uptimeCheckConfigs")};
const rtype_t gcp_monitoring_uptime_check_config = {
    .name = "gcp.monitoring_uptime_check_config",
    .api = "monitoring",
    .message = "UptimeCheckConfig",
    .extra_fields = (const char *const[]){"project", NULL},
    .required = (const char *const[]){"displayName", NULL},
    .immutable = (const char *const[]){"project", "monitoredResource", "resourceGroup", "checkerType",
                                       "syntheticMonitor", "httpCheck.requestMethod", NULL},
    .ignore = (const char *const[]){"name", NULL},
    GCP_RTYPE_CALLBACKS_SERVER_NAMED,
    .data = &uptime_t,
};
