/* api_logging.c: emulated Cloud Logging (v2), project level: log-based
 * metrics (create, get, list, update with PUT of the whole metric,
 * delete) and sinks (create with a writer identity, get, list, PATCH or
 * PUT with updateMask, delete).  Both are named by a client-chosen ID,
 * which is the resource's "name". */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"
#include "emulator/mask.h"

typedef struct kind {
    const char *coll, *msg, *what; /* "metrics", "LogMetric", "Metric" */
    const char *const *fixed;      /* not updatable */
} kind_t;

static const kind_t metrics = {
    "metrics", "LogMetric", "Metric",
    (const char *const[]){"name", "createTime", "updateTime", "resourceName", NULL}};
static const kind_t sinks = {
    "sinks", "LogSink", "Sink",
    (const char *const[]){"name", "createTime", "updateTime", "resourceName", "writerIdentity", NULL}};

/* Metric names: letters, digits and _-.,+!*',()%/\ ; sinks: letters,
 * digits, _-. ; both at most 100 characters. */
static int valid_name(const kind_t *k, const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 100) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr(k == &metrics ? "_-.,+!*'()%/\\" : "_-.", s[i]))
            return 0;
    return 1;
}

static char *key_of(const kind_t *k, const char *p, const char *id) {
    return xasprintf("logging/projects/%s/%s/%s", p, k->coll, id);
}

static json_t *load(emu_t *emu, const kind_t *k, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = key_of(k, req->params[0], req->params[1]);
    return emu_load(emu, resp, key, "%s does not exist: %s", k->what, req->params[1]);
}

static void metric_fill(const char *p, json_t *r) {
    const char *n = json_string_value(json_object_get(r, "name"));
    json_t *md = json_object_get(r, "metricDescriptor");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(r, "metricDescriptor", md);
    }
    json_object_set_new(md, "name",
                        json_sprintf("projects/%s/metricDescriptors/logging.googleapis.com/user/%s", p, n));
    json_object_set_new(md, "type", json_sprintf("logging.googleapis.com/user/%s", n));
    emu_set_default(md, "metricKind", json_string("DELTA"));
    emu_set_default(md, "valueType", json_string("INT64"));
    emu_set_default(md, "unit", json_string("1"));
    emu_set_default(r, "version", json_string("V2"));
}

static void create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    const char *p = req->params[0];
    if (emu_validate(resp, "logging", k->msg, req->body) < 0) return;
    const json_t *b = req->body;
    const char *name = json_string_value(json_object_get(b, "name"));
    if (!valid_name(k, name)) {
        emu_bad_request(resp, "Invalid %s name: \"%s\"", k == &metrics ? "metric" : "sink", name ? name : "");
        return;
    }
    if (k == &metrics && !json_string_value(json_object_get(b, "filter"))) {
        emu_bad_request(resp, "Missing required field: filter");
        return;
    }
    if (k == &sinks && !json_string_value(json_object_get(b, "destination"))) {
        emu_bad_request(resp, "Missing required field: destination");
        return;
    }
    char *key = key_of(k, p, name);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists", "%s %s already exists", k->what, name);
        free(key);
        return;
    }
    json_t *r = json_deep_copy(b);
    json_object_set_new(r, "createTime", json_string(emu_now()));
    json_object_set_new(r, "updateTime", json_string(emu_now()));
    if (k == &metrics)
        metric_fill(p, r);
    else {
        const char *u = emu_q(req, "uniqueWriterIdentity");
        json_object_set_new(
            r, "writerIdentity",
            u && strcmp(u, "true") == 0
                ? json_sprintf("serviceAccount:service-%s@gcp-sa-logging.iam.gserviceaccount.com",
                               emu_project_num(emu, p))
                : json_string("serviceAccount:cloud-logs@system.gserviceaccount.com"));
    }
    resp->body = emu_strip(r);
    emu_put(emu, key, r);
    free(key);
}

static void get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    char *key;
    json_t *r = load(emu, k, req, resp, &key);
    if (r) resp->body = emu_strip(r);
    free(key);
}

static void list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    char *prefix = xasprintf("logging/projects/%s/%s/", req->params[0], k->coll);
    json_t *all = emu_children(emu, prefix, true);
    resp->body = json_object();
    emu_page_into(req, resp->body, k->coll, all, "pageSize", 100, false);
    json_decref(all);
    free(prefix);
}

/* metrics.update: PUT of the whole metric (its name must stay). */
static void metric_put(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "logging", "LogMetric", req->body) < 0) return;
    char *key;
    json_t *cur = load(emu, &metrics, req, resp, &key);
    if (!cur) return;
    const char *name = json_string_value(json_object_get(req->body, "name"));
    if (name && strcmp(name, req->params[1]) != 0) {
        emu_bad_request(resp, "The metric name in the body (%s) does not match the request (%s)", name,
                        req->params[1]);
    } else {
        json_t *r = json_deep_copy(req->body);
        json_object_set_new(r, "name", json_string(req->params[1]));
        json_object_set(r, "createTime", json_object_get(cur, "createTime"));
        json_object_set_new(r, "updateTime", json_string(emu_now()));
        metric_fill(req->params[0], r);
        resp->body = emu_strip(r);
        emu_put(emu, key, r);
    }
    free(key);
}

static void sink_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "logging", "LogSink", req->body) < 0) return;
    char *key;
    json_t *cur = load(emu, &sinks, req, resp, &key);
    if (!cur) return;
    json_t *r = json_deep_copy(cur);
    if (emu_mask_apply(resp, r, req->body, emu_q(req, "updateMask"), sinks.fixed, 1) == 0) {
        json_object_set_new(r, "updateTime", json_string(emu_now()));
        resp->body = emu_strip(r);
        emu_put(emu, key, r);
        r = NULL;
    }
    json_decref(r);
    free(key);
}

static void del(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    char *key;
    if (!load(emu, k, req, resp, &key)) return;
    emu_del(emu, key);
    resp->body = json_object();
    free(key);
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
    static void k##_del(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                       \
        del(e, r, s, &k);                                                                                    \
    }
KIND_HANDLERS(metrics)
KIND_HANDLERS(sinks)

#define M "v2/projects/{p}/metrics"
#define S "v2/projects/{p}/sinks"
static const emu_route_t routes[] = {
    {"POST", M, metrics_create},    {"GET", M, metrics_list},           {"GET", M "/{id}", metrics_get},
    {"PUT", M "/{id}", metric_put}, {"DELETE", M "/{id}", metrics_del}, {"POST", S, sinks_create},
    {"GET", S, sinks_list},         {"GET", S "/{id}", sinks_get},      {"PATCH", S "/{id}", sink_patch},
    {"PUT", S "/{id}", sink_patch}, {"DELETE", S "/{id}", sinks_del},
};

const emu_api_t emu_api_logging = {"logging", routes, sizeof routes / sizeof routes[0], NULL};
