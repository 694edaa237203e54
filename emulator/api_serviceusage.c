/* api_serviceusage.c: the emulated Service Usage v1 API: service get, list,
 * enable, disable, batchEnable, batchGet and operations.  Names use the
 * project NUMBER ("projects/123/services/x") as the real API returns them;
 * enabling goes through a google.longrunning Operation, and enabling an
 * enabled service answers "operations/noop.DONE_OPERATION". */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

/* Services a fresh project has enabled (a subset of the real default set). */
static const char *const default_enabled[] = {
    "serviceusage.googleapis.com", "storage.googleapis.com",
    "storage-api.googleapis.com",  "storage-component.googleapis.com",
    "cloudapis.googleapis.com",    "logging.googleapis.com",
    "monitoring.googleapis.com",   NULL};

/* What list shows beyond the services the project touched. */
static const char *const catalog[] = {"aiplatform.googleapis.com",
                                      "artifactregistry.googleapis.com",
                                      "cloudresourcemanager.googleapis.com",
                                      "compute.googleapis.com",
                                      "container.googleapis.com",
                                      "iam.googleapis.com",
                                      "iamcredentials.googleapis.com",
                                      "logging.googleapis.com",
                                      "monitoring.googleapis.com",
                                      "secretmanager.googleapis.com",
                                      "servicenetworking.googleapis.com",
                                      "serviceusage.googleapis.com",
                                      "sqladmin.googleapis.com",
                                      "storage.googleapis.com",
                                      "storage-api.googleapis.com",
                                      "storage-component.googleapis.com",
                                      "cloudapis.googleapis.com",
                                      NULL};

/* Enabling the key also enables the values (a small dependency graph). */
static const char *const deps[][2] = {
    {"container.googleapis.com", "compute.googleapis.com"},
    {"container.googleapis.com", "iam.googleapis.com"},
    {"container.googleapis.com", "artifactregistry.googleapis.com"},
    {"servicenetworking.googleapis.com", "compute.googleapis.com"},
    {"aiplatform.googleapis.com", "storage.googleapis.com"},
};

static char *svc_key(const char *num, const char *svc) {
    return xasprintf("serviceusage/projects/%s/services/%s", num, svc);
}

static int is_enabled(emu_t *emu, const char *num, const char *svc) {
    char *key = svc_key(num, svc);
    json_t *doc = emu_get(emu, key);
    free(key);
    if (doc) return !strcmp(json_string_value(json_object_get(doc, "state")) ?: "", "ENABLED");
    for (size_t i = 0; default_enabled[i]; i++)
        if (!strcmp(default_enabled[i], svc)) return 1;
    return 0;
}

static void set_state(emu_t *emu, const char *num, const char *svc, const char *state) {
    char *key = svc_key(num, svc);
    emu_put(emu, key, json_pack("{s:s}", "state", state));
    free(key);
}

static json_t *service_json(emu_t *emu, const char *num, const char *svc) {
    char *name = xasprintf("projects/%s/services/%s", num, svc);
    char *parent = xasprintf("projects/%s", num);
    char title[128];
    snprintf(title, sizeof title, "%.*s API", (int)strcspn(svc, "."), svc);
    if (title[0]) title[0] = (char)toupper((unsigned char)title[0]);
    json_t *s = json_pack("{s:s,s:s,s:{s:s,s:s,s:{},s:{},s:{},s:{s:[s]},s:{}},s:s}", "name", name, "parent",
                          parent, "config", "name", svc, "title", title, "documentation", "quota",
                          "authentication", "usage", "requirements", "serviceusage.googleapis.com/tos/cloud",
                          "monitoring", "state", is_enabled(emu, num, svc) ? "ENABLED" : "DISABLED");
    free(name);
    free(parent);
    return s;
}

static int valid_service(const char *svc) {
    return strchr(svc, '.') && !strchr(svc, '/') && strlen(svc) < 200;
}

/* ---- operations ---------------------------------------------------------- */

static void op_done(emu_t *emu, const char *key) {
    json_t *op = emu_get(emu, key);
    if (!op || json_is_true(json_object_get(op, "done"))) return;
    json_t *work = json_object_get(op, "_emu");
    const char *num = json_string_value(json_object_get(work, "number"));
    const char *state = json_string_value(json_object_get(work, "state"));
    json_t *svcs = json_object_get(work, "services"), *v;
    size_t i;
    json_t *out = json_array();
    json_array_foreach(svcs, i, v) {
        set_state(emu, num, json_string_value(v), state);
        json_array_append_new(out, service_json(emu, num, json_string_value(v)));
    }
    const char *rtype = json_string_value(json_object_get(work, "rtype"));
    json_t *resp = json_pack("{s:s}", "@type", rtype);
    if (json_is_true(json_object_get(work, "batch")))
        json_object_set(resp, "services", out);
    else
        json_object_set(resp, "service", json_array_get(out, 0));
    json_decref(out);
    json_object_set_new(op, "response", resp);
    json_object_set_new(op, "done", json_true());
    json_object_del(op, "_emu");
    emu_put(emu, key, json_incref(op));
}

static json_t *op_start(emu_t *emu, const char *num, json_t *services, const char *state, int batch,
                        const char *kind) {
    char *uuid = emu_uuid();
    char *name = xasprintf("operations/acat.p2-%s-%s", num, uuid);
    const char *rtype = !strcmp(state, "ENABLED")
                            ? (batch ? "type.googleapis.com/google.api.serviceusage.v1."
                                       "BatchEnableServicesResponse"
                                     : "type.googleapis.com/google.api.serviceusage.v1."
                                       "EnableServiceResponse")
                            : "type.googleapis.com/google.api.serviceusage.v1.DisableServiceResponse";
    json_t *op = json_pack("{s:s,s:{s:s},s:b}", "name", name, "metadata", "@type",
                           "type.googleapis.com/google.protobuf.Empty", "done", 0);
    json_t *out = json_deep_copy(op);
    json_object_set_new(op, "_emu",
                        json_pack("{s:s,s:O,s:s,s:b,s:s}", "number", num, "services", services, "state",
                                  state, "batch", batch, "rtype", rtype));
    char *key = xasprintf("serviceusage/%s", name);
    emu_put(emu, key, op);
    emu_after(emu, emu_duration(emu, kind), op_done, key);
    free(key);
    free(name);
    free(uuid);
    return out;
}

static json_t *noop_op(emu_t *emu, const char *num, const char *svc) {
    return json_pack("{s:s,s:b,s:{s:s,s:o}}", "name", "operations/noop.DONE_OPERATION", "done", 1, "response",
                     "@type", "type.googleapis.com/google.api.serviceusage.v1.EnableServiceResponse",
                     "service", service_json(emu, num, svc));
}

/* The services to enable for svcs, with dependencies, skipping enabled ones. */
static json_t *with_deps(emu_t *emu, const char *num, json_t *svcs) {
    json_t *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(svcs, i, v) {
        const char *s = json_string_value(v);
        json_array_append(out, v);
        for (size_t d = 0; d < sizeof deps / sizeof deps[0]; d++)
            if (!strcmp(deps[d][0], s) && !is_enabled(emu, num, deps[d][1]))
                json_array_append_new(out, json_string(deps[d][1]));
    }
    return out;
}

/* ---- handlers -------------------------------------------------------------- */

static void h_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *num = emu_project_num(emu, req->params[0]);
    if (!valid_service(req->params[1])) {
        emu_error(resp, 403, "PERMISSION_DENIED", "forbidden",
                  "Not found or permission denied for service(s): %s.", req->params[1]);
        return;
    }
    resp->body = service_json(emu, num, req->params[1]);
}

static void h_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *num = emu_project_num(emu, req->params[0]);
    const char *filter = emu_q(req, "filter");
    const char *want = NULL;
    if (filter && *filter) {
        if (strstr(filter, "state:ENABLED"))
            want = "ENABLED";
        else if (strstr(filter, "state:DISABLED"))
            want = "DISABLED";
        else {
            emu_bad_request(resp, "Invalid filter: %s", filter);
            return;
        }
    }
    /* Catalog + defaults + every service the project touched, sorted, unique. */
    json_t *names = json_object();
    for (size_t i = 0; catalog[i]; i++)
        json_object_set_new(names, catalog[i], json_true());
    char *prefix = xasprintf("serviceusage/projects/%s/services/", num);
    json_t *keys = emu_keys(emu, prefix), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        json_object_set_new(names, json_string_value(k) + strlen(prefix), json_true());
    }
    json_decref(keys);
    free(prefix);
    json_t *sorted = json_array();
    const char *n;
    json_t *v;
    json_object_foreach(names, n, v) {
        json_array_append_new(sorted, json_string(n));
    }
    json_decref(names);
    /* insertion sort: the list is short */
    for (size_t a = 1; a < json_array_size(sorted); a++)
        for (size_t b = a; b > 0 && strcmp(json_string_value(json_array_get(sorted, b - 1)),
                                           json_string_value(json_array_get(sorted, b))) > 0;
             b--) {
            json_t *x = json_incref(json_array_get(sorted, b));
            json_array_set(sorted, b, json_array_get(sorted, b - 1));
            json_array_set_new(sorted, b - 1, x);
        }
    json_t *items = json_array();
    json_array_foreach(sorted, i, v) {
        json_t *s = service_json(emu, num, json_string_value(v));
        if (!want || !strcmp(json_string_value(json_object_get(s, "state")), want))
            json_array_append_new(items, s);
        else
            json_decref(s);
    }
    json_decref(sorted);
    resp->body = json_object();
    emu_page_into(req, resp->body, "services", items, "pageSize", 50, false);
    json_decref(items);
}

static void h_enable(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *num = emu_project_num(emu, req->params[0]);
    const char *svc = req->params[1];
    if (emu_validate(resp, "serviceusage", "EnableServiceRequest", req->body) < 0) return;
    if (!valid_service(svc)) {
        emu_error(resp, 403, "PERMISSION_DENIED", "forbidden",
                  "Not found or permission denied for service(s): %s.", svc);
        return;
    }
    if (is_enabled(emu, num, svc)) {
        resp->body = noop_op(emu, num, svc);
        return;
    }
    json_t *one = json_pack("[s]", svc);
    json_t *all = with_deps(emu, num, one);
    resp->body = op_start(emu, num, all, "ENABLED", 0, "serviceusage.services.enable");
    json_decref(one);
    json_decref(all);
}

static void h_disable(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *num = emu_project_num(emu, req->params[0]);
    const char *svc = req->params[1];
    if (emu_validate(resp, "serviceusage", "DisableServiceRequest", req->body) < 0) return;
    if (!is_enabled(emu, num, svc)) {
        emu_error(resp, 400, "FAILED_PRECONDITION", "failedPrecondition",
                  "The service %s is not enabled for project %s.", svc, num);
        return;
    }
    int dependents = json_is_true(json_object_get(req->body, "disableDependentServices"));
    json_t *list = json_pack("[s]", svc);
    for (size_t d = 0; d < sizeof deps / sizeof deps[0]; d++) {
        if (strcmp(deps[d][1], svc) != 0 || !is_enabled(emu, num, deps[d][0])) continue;
        if (!dependents) {
            emu_error(resp, 400, "FAILED_PRECONDITION", "failedPrecondition",
                      "The service %s is depended on by the following active service(s): %s; "
                      "Please specify disable_dependent_services=true if you want to proceed "
                      "with disabling all services.",
                      svc, deps[d][0]);
            json_decref(list);
            return;
        }
        json_array_append_new(list, json_string(deps[d][0]));
    }
    resp->body = op_start(emu, num, list, "DISABLED", 0, "serviceusage.services.disable");
    json_decref(list);
}

static void h_batch_enable(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *num = emu_project_num(emu, req->params[0]);
    if (emu_validate(resp, "serviceusage", "BatchEnableServicesRequest", req->body) < 0) return;
    json_t *ids = json_object_get(req->body, "serviceIds"), *v;
    size_t n = json_array_size(ids), i;
    if (n == 0 || n > 20) {
        emu_bad_request(resp, "serviceIds must hold between 1 and 20 services, got %zu.", n);
        return;
    }
    json_array_foreach(ids, i, v) {
        if (!json_is_string(v) || !valid_service(json_string_value(v))) {
            emu_error(resp, 403, "PERMISSION_DENIED", "forbidden",
                      "Not found or permission denied for service(s): %s.",
                      json_is_string(v) ? json_string_value(v) : "?");
            return;
        }
    }
    json_t *all = with_deps(emu, num, ids);
    resp->body = op_start(emu, num, all, "ENABLED", 1, "serviceusage.services.batchEnable");
    json_decref(all);
}

static void h_batch_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *num = emu_project_num(emu, req->params[0]);
    json_t *names = req->query_multi ? json_object_get(req->query_multi, "names") : NULL, *v;
    size_t i;
    json_t *out = json_array();
    json_array_foreach(names, i, v) {
        const char *s = strrchr(json_string_value(v), '/');
        s = s ? s + 1 : json_string_value(v);
        json_array_append_new(out, service_json(emu, num, s));
    }
    resp->body = json_pack("{s:o}", "services", out);
}

static void h_op_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (!strcmp(req->params[0], "noop.DONE_OPERATION")) {
        resp->body = json_pack("{s:s,s:b}", "name", "operations/noop.DONE_OPERATION", "done", 1);
        return;
    }
    char *key = xasprintf("serviceusage/operations/%s", req->params[0]);
    json_t *op = emu_get(emu, key);
    if (!op) {
        emu_not_found(resp, "Operation 'operations/%s' not found.", req->params[0]);
    } else {
        resp->body = json_deep_copy(op);
        json_object_del(resp->body, "_emu");
    }
    free(key);
}

static const emu_route_t routes[] = {
    {"GET", "v1/projects/{p}/services:batchGet", h_batch_get},
    {"POST", "v1/projects/{p}/services:batchEnable", h_batch_enable},
    {"GET", "v1/projects/{p}/services", h_list},
    {"GET", "v1/projects/{p}/services/{s}", h_get},
    {"POST", "v1/projects/{p}/services/{s}:enable", h_enable},
    {"POST", "v1/projects/{p}/services/{s}:disable", h_disable},
    {"GET", "v1/operations/{op}", h_op_get},
};

/* Operations left running by a previous run complete now. */
static void serviceusage_init(emu_t *emu) {
    json_t *keys = emu_keys(emu, "serviceusage/operations/"), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        op_done(emu, json_string_value(k));
    }
    json_decref(keys);
}

const emu_api_t emu_api_serviceusage = {"serviceusage", routes, sizeof routes / sizeof routes[0],
                                        serviceusage_init};
