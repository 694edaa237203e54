/* api_bigquery.c: emulated BigQuery (v2) datasets: insert (the ID in
 * datasetReference), get, list (items carry datasetReference, not a
 * name), patch (fields merge; location never changes), delete (refused
 * while tables remain unless deleteContents). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "emulator/emu.h"

static char *ds_key(const char *p, const char *d) {
    return xasprintf("bigquery/projects/%s/datasets/%s", p, d);
}

static int valid_id(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 1024) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_') return 0;
    return 1;
}

static json_t *ms_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return json_sprintf("%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

static void touch(json_t *d) {
    json_object_set_new(d, "lastModifiedTime", ms_now());
    char *etag = emu_uuid();
    json_object_set_new(d, "etag", json_string(etag));
    free(etag);
}

static void ds_insert(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0];
    if (emu_validate(resp, "bigquery", "Dataset", req->body) < 0) return;
    json_t *ref = json_object_get(req->body, "datasetReference");
    const char *id = json_string_value(json_object_get(ref, "datasetId"));
    const char *rp = json_string_value(json_object_get(ref, "projectId"));
    if (!valid_id(id)) {
        emu_error(
            resp, 400, "INVALID_ARGUMENT", "invalid",
            "Invalid dataset ID \"%s\". Dataset IDs must be alphanumeric (plus underscores) and must be at "
            "most 1024 characters long.",
            id ? id : "");
        return;
    }
    if (rp && strcmp(rp, p) != 0) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Project %s in datasetReference does not match %s", rp, p);
        return;
    }
    char *key = ds_key(p, id);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "duplicate", "Already Exists: Dataset %s:%s", p, id);
        free(key);
        return;
    }
    json_t *d = json_deep_copy(req->body);
    json_object_set_new(d, "datasetReference", json_pack("{s:s,s:s}", "datasetId", id, "projectId", p));
    json_object_set_new(d, "kind", json_string("bigquery#dataset"));
    json_object_set_new(d, "id", json_sprintf("%s:%s", p, id));
    json_object_set_new(
        d, "selfLink", json_sprintf("%s/bigquery/bigquery/v2/projects/%s/datasets/%s", req->base_url, p, id));
    json_object_set_new(d, "creationTime", ms_now());
    emu_set_default(d, "location", json_string("US"));
    emu_set_default(d, "type", json_string("DEFAULT"));
    touch(d);
    resp->body = json_deep_copy(d);
    emu_put(emu, key, d);
    free(key);
}

static json_t *load(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = ds_key(req->params[0], req->params[1]);
    return emu_load(emu, resp, key, "Not found: Dataset %s:%s", req->params[0], req->params[1]);
}

static void ds_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *d = load(emu, req, resp, &key);
    if (d) resp->body = json_deep_copy(d);
    free(key);
}

static void ds_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *prefix = xasprintf("bigquery/projects/%s/datasets/", req->params[0]);
    json_t *all = emu_children(emu, prefix, true), *items = json_array(), *d;
    size_t i;
    json_array_foreach(all, i, d) {
        json_t *it =
            json_pack("{s:s,s:O,s:O,s:O}", "kind", "bigquery#dataset", "id", json_object_get(d, "id"),
                      "datasetReference", json_object_get(d, "datasetReference"), "location",
                      json_object_get(d, "location"));
        if (json_object_get(d, "labels")) json_object_set(it, "labels", json_object_get(d, "labels"));
        json_array_append_new(items, it);
    }
    resp->body = json_pack("{s:s}", "kind", "bigquery#datasetList");
    emu_page_into(req, resp->body, "datasets", items, "maxResults", 1000, false);
    json_decref(items);
    json_decref(all);
    free(prefix);
}

static void ds_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "bigquery", "Dataset", req->body) < 0) return;
    char *key;
    json_t *cur = load(emu, req, resp, &key);
    if (!cur) return;
    const char *loc = json_string_value(json_object_get(req->body, "location"));
    const char *cl = json_string_value(json_object_get(cur, "location"));
    if (loc && cl && strcasecmp(loc, cl) != 0) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid", "Cannot change dataset location from %s to %s",
                  cl, loc);
        free(key);
        return;
    }
    static const char *const fixed[] = {
        "kind",     "id",   "selfLink", "creationTime", "lastModifiedTime", "etag", "datasetReference",
        "location", "type", NULL};
    json_t *d = json_deep_copy(cur);
    const char *k;
    json_t *v;
    json_object_foreach(req->body, k, v) {
        if (emu_in_list(fixed, k)) continue;
        if (json_is_null(v))
            json_object_del(d, k);
        else
            json_object_set(d, k, v);
    }
    touch(d);
    resp->body = json_deep_copy(d);
    emu_put(emu, key, d);
    free(key);
}

static void ds_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (!load(emu, req, resp, &key)) return;
    char *tables = xasprintf("%s/tables/", key);
    json_t *t = emu_keys(emu, tables);
    const char *dc = emu_q(req, "deleteContents");
    if (json_array_size(t) && !(dc && strcmp(dc, "true") == 0))
        emu_error(resp, 400, "FAILED_PRECONDITION", "resourceInUse", "Dataset %s:%s is still in use",
                  req->params[0], req->params[1]);
    else {
        emu_del_tree(emu, key);
        resp->status = 204;
    }
    json_decref(t);
    free(tables);
    free(key);
}

#define D "bigquery/v2/projects/{p}/datasets"
static const emu_route_t routes[] = {
    {"POST", D, ds_insert},          {"GET", D, ds_list},
    {"GET", D "/{d}", ds_get},       {"PATCH", D "/{d}", ds_patch},
    {"DELETE", D "/{d}", ds_delete},
};

const emu_api_t emu_api_bigquery = {"bigquery", routes, sizeof routes / sizeof routes[0], NULL};
