/* types_pubsub.c: Pub/Sub topics and subscriptions: created with PUT on
 * their name, updated with PATCH {topic|subscription, updateMask}, no
 * operations; the body's name is the full relative name. */
#include <stdlib.h>
#include <string.h>

#include "providers/gcp/gcp_res.h"

/* name (and a subscription's topic) as relative names. */
static int pubsub_prepare(rctx_t *c, const json_t *desired, json_t *body) {
    char *id = gcp_res_id_of(c, desired);
    if (!id) return -1;
    json_object_set_new(body, "name", json_string(id));
    free(id);
    const char *t = json_string_value(json_object_get(body, "topic"));
    if (t && !strchr(t, '/')) {
        const char *p = json_string_value(json_object_get(desired, "project"));
        json_object_set_new(body, "topic",
                            json_sprintf("projects/%s/topics/%s", p ? p : GCP_PROV(c)->project, t));
    }
    return 0;
}

#define PUBSUB_TYPE(coll, wrap_)                                                                             \
    .api = "pubsub", .self = "v1/projects/{project}/" coll "/{name}",                                        \
    .collection = "v1/projects/{project}/" coll, .id_tmpl = "projects/{project}/" coll "/{name}",            \
    .import_forms = (const char *const[]){"{project}/{name}", "{name}", NULL}, .name_field = "name",         \
    .create_style = GCP_CREATE_PUT, .update_style = GCP_UPDATE_MASK_BODY, .update_wrap = wrap_,              \
    .list_items = coll, .prepare = pubsub_prepare

static const gcp_type_t topic_t = {PUBSUB_TYPE("topics", "topic")};
const rtype_t gcp_pubsub_topic = {
    .name = "gcp.pubsub_topic",
    .api = "pubsub",
    .message = "Topic",
    .extra_fields = (const char *const[]){"project", NULL},
    .immutable = (const char *const[]){"name", "project", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &topic_t,
};

static const gcp_type_t sub_t = {PUBSUB_TYPE("subscriptions", "subscription")};
const rtype_t gcp_pubsub_subscription = {
    .name = "gcp.pubsub_subscription",
    .api = "pubsub",
    .message = "Subscription",
    .extra_fields = (const char *const[]){"project", NULL},
    .required = (const char *const[]){"topic", NULL},
    .immutable = (const char *const[]){"name", "project", "topic", "enableMessageOrdering", "filter", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &sub_t,
};
