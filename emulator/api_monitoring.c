/* api_monitoring.c: emulated Cloud Monitoring (v3), project level:
 * notification channels, alert policies and uptime check configs.  The
 * server names each one (projects/P/<collection>/<id>); create validates
 * what the real API requires, PATCH takes an updateMask (none: every field
 * the body sets), delete of a channel still used by a policy needs
 * force=true.  Notification channel descriptors are listed for gcloud. */
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"
#include "emulator/mask.h"

typedef struct kind {
    const char *coll, *msg;
    const char *const *fixed;                          /* not updatable */
    int (*check)(emu_resp_t *resp, const json_t *doc); /* a whole resource is valid */
} kind_t;

static const char *const channel_types[] = {
    "email", "sms", "slack", "pagerduty", "webhook_tokenauth", "webhook_basicauth", "pubsub", "mobile", NULL};

static int check_channel(emu_resp_t *resp, const json_t *d) {
    const char *t = json_string_value(json_object_get(d, "type"));
    if (!emu_in_list(channel_types, t)) {
        emu_bad_request(resp, "Unknown notification channel type: \"%s\".", t ? t : "");
        return -1;
    }
    static const char *const need[][2] = {{"email", "email_address"},
                                          {"pubsub", "topic"},
                                          {"slack", "channel_name"},
                                          {"sms", "number"},
                                          {"webhook_tokenauth", "url"}};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++)
        if (strcmp(t, need[i][0]) == 0 &&
            !json_string_value(json_object_get(json_object_get(d, "labels"), need[i][1]))) {
            emu_bad_request(
                resp,
                "Field labels had an invalid value: notification channel of type %s requires label "
                "\"%s\".",
                t, need[i][1]);
            return -1;
        }
    return 0;
}

static int check_policy(emu_resp_t *resp, const json_t *d) {
    size_t n = json_array_size(json_object_get(d, "conditions"));
    const char *comb = json_string_value(json_object_get(d, "combiner"));
    if (!json_string_value(json_object_get(d, "displayName"))) {
        emu_bad_request(resp, "Field alert_policy.display_name is required.");
        return -1;
    }
    if (n == 0) {
        emu_bad_request(
            resp, "Field alert_policy.conditions had an invalid value: at least one condition is required.");
        return -1;
    }
    if (n > 1 && (!comb || strcmp(comb, "COMBINE_UNSPECIFIED") == 0)) {
        emu_bad_request(resp,
                        "Field alert_policy.combiner is required when there is more than one condition.");
        return -1;
    }
    return 0;
}

static int check_uptime(emu_resp_t *resp, const json_t *d) {
    if (!json_string_value(json_object_get(d, "displayName"))) {
        emu_bad_request(resp, "Field uptime_check_config.display_name is required.");
        return -1;
    }
    if (!json_object_get(d, "monitoredResource") && !json_object_get(d, "resourceGroup") &&
        !json_object_get(d, "syntheticMonitor")) {
        emu_bad_request(resp, "Field uptime_check_config.resource is required.");
        return -1;
    }
    return 0;
}

static const kind_t channels = {
    "notificationChannels", "NotificationChannel",
    (const char *const[]){"name", "creationRecord", "mutationRecords", "type", NULL}, check_channel};
static const kind_t policies = {"alertPolicies", "AlertPolicy",
                                (const char *const[]){"name", "creationRecord", "mutationRecord", NULL},
                                check_policy};
static const kind_t uptimes = {"uptimeCheckConfigs", "UptimeCheckConfig",
                               (const char *const[]){"name", "monitoredResource", "resourceGroup",
                                                     "checkerType", "syntheticMonitor", NULL},
                               check_uptime};

static json_t *load(emu_t *emu, const kind_t *k, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = xasprintf("monitoring/projects/%s/%s/%s", req->params[0], k->coll, req->params[1]);
    return emu_load(emu, resp, key, "Requested entity was not found.");
}

static void stamp(json_t *d, const char *field) {
    json_object_set_new(d, field,
                        json_pack("{s:s,s:s}", "mutateTime", emu_now(), "mutatedBy", "plinth-emulator"));
}

static void create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    if (emu_validate(resp, "monitoring", k->msg, req->body) < 0) return;
    json_t *d = req->body ? json_deep_copy(req->body) : json_object();
    if (k->check(resp, d) < 0) {
        json_decref(d);
        return;
    }
    const char *p = req->params[0];
    long long n = (long long)emu_next_id(emu, k->coll) + 1000000000000LL;
    char *name = k == &uptimes ? xasprintf("projects/%s/%s/check-%lld", p, k->coll, n)
                               : xasprintf("projects/%s/%s/%lld", p, k->coll, n);
    json_object_set_new(d, "name", json_string(name));
    if (k == &channels) {
        emu_set_default(d, "enabled", json_true());
        json_object_set_new(d, "verificationStatus",
                            json_string(strcmp(json_string_value(json_object_get(d, "type")), "email") == 0
                                            ? "UNVERIFIED"
                                            : "VERIFICATION_STATUS_UNSPECIFIED"));
        stamp(d, "creationRecord");
    } else if (k == &policies) {
        emu_set_default(d, "enabled", json_true());
        stamp(d, "creationRecord");
        stamp(d, "mutationRecord");
        size_t i;
        json_t *cnd;
        json_array_foreach(json_object_get(d, "conditions"), i, cnd) {
            char *cn = xasprintf("%s/conditions/%lld", name, n + (long long)i + 1);
            json_object_set_new(cnd, "name", json_string(cn));
            free(cn);
        }
    } else {
        emu_set_default(d, "period", json_string("60s"));
        emu_set_default(d, "timeout", json_string("10s"));
        emu_set_default(d, "checkerType", json_string("STATIC_IP_CHECKERS"));
    }
    char *key = xasprintf("monitoring/%s", name);
    resp->body = emu_strip(d);
    emu_put(emu, key, d);
    free(key);
    free(name);
}

static void get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    char *key;
    json_t *d = load(emu, k, req, resp, &key);
    if (d) resp->body = emu_strip(d);
    free(key);
}

static void list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    char *prefix = xasprintf("monitoring/projects/%s/%s/", req->params[0], k->coll);
    json_t *all = emu_children(emu, prefix, true);
    resp->body = json_object();
    if (k != &uptimes)
        json_object_set_new(resp->body, "totalSize", json_integer((json_int_t)json_array_size(all)));
    emu_page_into(req, resp->body, k->coll, all, "pageSize", 1000, false);
    json_decref(all);
    free(prefix);
}

static void patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    if (emu_validate(resp, "monitoring", k->msg, req->body) < 0) return;
    char *key;
    json_t *cur = load(emu, k, req, resp, &key);
    if (!cur) return;
    json_t *d = json_deep_copy(cur);
    const char *mask = emu_q(req, "updateMask");
    sbuf_t all = {0};
    sbuf_add(&all, "");
    if (!mask || !*mask) { /* no mask: the fields the body sets */
        const char *f;
        json_t *v;
        json_object_foreach(req->body, f,
                            v) if (!emu_in_list(k->fixed, f) || json_equal(v, json_object_get(cur, f)))
            sbuf_addf(&all, "%s%s", all.len ? "," : "", f);
        mask = all.s;
    }
    if (emu_mask_apply(resp, d, req->body, mask, k->fixed, 0) == 0 && k->check(resp, d) == 0) {
        if (k == &policies) stamp(d, "mutationRecord");
        resp->body = emu_strip(d);
        emu_put(emu, key, d);
        d = NULL;
    }
    json_decref(d);
    sbuf_free(&all);
    free(key);
}

/* A channel still named by an alert policy is deleted only with force. */
static int channel_in_use(emu_t *emu, const char *p, const char *name) {
    char *prefix = xasprintf("monitoring/projects/%s/alertPolicies/", p);
    json_t *all = emu_children(emu, prefix, true), *pol, *c;
    size_t i, j;
    int used = 0;
    json_array_foreach(all, i, pol) json_array_foreach(json_object_get(pol, "notificationChannels"), j, c)
        used |= json_string_value(c) && strcmp(json_string_value(c), name) == 0;
    json_decref(all);
    free(prefix);
    return used;
}

static void del(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    char *key;
    json_t *d = load(emu, k, req, resp, &key);
    if (!d) return;
    const char *force = emu_q(req, "force");
    if (k == &channels && !(force && strcmp(force, "true") == 0) &&
        channel_in_use(emu, req->params[0], json_string_value(json_object_get(d, "name"))))
        emu_error(resp, 400, "FAILED_PRECONDITION", "failedPrecondition",
                  "Notification channel %s is referenced by alert policies; delete with force=true.",
                  json_string_value(json_object_get(d, "name")));
    else {
        emu_del(emu, key);
        resp->body = json_object();
    }
    free(key);
}

static void descriptors(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *items = json_array();
    for (size_t i = 0; channel_types[i]; i++)
        json_array_append_new(items, json_pack("{s:o,s:s}", "name",
                                               json_sprintf("projects/%s/notificationChannelDescriptors/%s",
                                                            req->params[0], channel_types[i]),
                                               "type", channel_types[i]));
    resp->body = json_pack("{s:o}", "channelDescriptors", items);
}

#define KIND_HANDLERS(k)                                                                                     \
    static void k##_create(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                    \
        create(e, r, s, &k);                                                                                 \
    }                                                                                                        \
    static void k##_get(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                       \
        get(e, r, s, &k);                                                                                    \
    }                                                                                                        \
    static void k##_list(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                      \
        list(e, r, s, &k);                                                                                   \
    }                                                                                                        \
    static void k##_patch(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                     \
        patch(e, r, s, &k);                                                                                  \
    }                                                                                                        \
    static void k##_del(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                       \
        del(e, r, s, &k);                                                                                    \
    }
KIND_HANDLERS(channels)
KIND_HANDLERS(policies)
KIND_HANDLERS(uptimes)

#define KIND_ROUTES(k, coll)                                                                                 \
    {"POST", "v3/projects/{p}/" coll, k##_create}, {"GET", "v3/projects/{p}/" coll, k##_list},               \
        {"GET", "v3/projects/{p}/" coll "/{id}", k##_get},                                                   \
        {"PATCH", "v3/projects/{p}/" coll "/{id}", k##_patch}, {                                             \
        "DELETE", "v3/projects/{p}/" coll "/{id}", k##_del                                                   \
    }
static const emu_route_t routes[] = {
    KIND_ROUTES(channels, "notificationChannels"),
    KIND_ROUTES(policies, "alertPolicies"),
    KIND_ROUTES(uptimes, "uptimeCheckConfigs"),
    {"GET", "v3/projects/{p}/notificationChannelDescriptors", descriptors},
};

const emu_api_t emu_api_monitoring = {"monitoring", routes, sizeof routes / sizeof routes[0], NULL};
