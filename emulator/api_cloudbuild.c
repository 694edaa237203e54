/* api_cloudbuild.c: emulated Cloud Build (v1) triggers, per location:
 * create (the server gives the ID; the name is the client's and unique),
 * get, patch (updateMask; id, name and createTime never change) and delete
 * by ID or by name, list. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "emulator/emu.h"
#include "emulator/mask.h"

static int valid_name(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 64 || !isalpha((unsigned char)s[0])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return 0;
    return 1;
}

/* The stored key of the trigger named or identified by t, or NULL. */
static char *find(emu_t *emu, const char *p, const char *l, const char *t) {
    char *prefix = xasprintf("cloudbuild/projects/%s/locations/%s/triggers/", p, l);
    char *direct = xasprintf("%s%s", prefix, t);
    if (emu_get(emu, direct)) {
        free(prefix);
        return direct;
    }
    free(direct);
    json_t *keys = emu_keys(emu, prefix), *k;
    char *hit = NULL;
    size_t i;
    json_array_foreach(keys, i, k) {
        json_t *d = emu_get(emu, json_string_value(k));
        const char *n = json_string_value(json_object_get(d, "name"));
        if (!hit && n && strcmp(n, t) == 0) hit = xstrdup(json_string_value(k));
    }
    json_decref(keys);
    free(prefix);
    return hit;
}

static json_t *load(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = find(emu, req->params[0], req->params[1], req->params[2]);
    json_t *d = *key ? emu_get(emu, *key) : NULL;
    if (!d) emu_not_found(resp, "Requested entity was not found.");
    return d;
}

static void tr_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "cloudbuild", "BuildTrigger", req->body) < 0) return;
    const char *p = req->params[0], *l = req->params[1];
    const char *name = json_string_value(json_object_get(req->body, "name"));
    if (!valid_name(name)) {
        emu_bad_request(resp,
                        "invalid trigger name \"%s\": 1-64 letters, digits, - and _, starting with a letter",
                        name ? name : "");
        return;
    }
    char *dup = find(emu, p, l, name);
    if (dup) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists", "trigger (%s) already exists", name);
        free(dup);
        return;
    }
    if (!json_object_get(req->body, "build") && !json_object_get(req->body, "filename") &&
        !json_object_get(req->body, "autodetect")) {
        emu_bad_request(resp, "invalid build trigger: one of build, filename or autodetect is required");
        return;
    }
    char *id = emu_uuid();
    json_t *d = json_deep_copy(req->body);
    json_object_set_new(d, "id", json_string(id));
    json_object_set_new(d, "createTime", json_string(emu_now()));
    json_object_set_new(d, "resourceName", json_sprintf("projects/%s/locations/%s/triggers/%s", p, l, id));
    char *key = xasprintf("cloudbuild/projects/%s/locations/%s/triggers/%s", p, l, id);
    resp->body = emu_strip(d);
    emu_put(emu, key, d);
    free(key);
    free(id);
}

static void tr_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *d = load(emu, req, resp, &key);
    if (d) resp->body = emu_strip(d);
    free(key);
}

static void tr_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *prefix = xasprintf("cloudbuild/projects/%s/locations/%s/triggers/", req->params[0], req->params[1]);
    json_t *all = emu_children(emu, prefix, true);
    resp->body = json_object();
    emu_page_into(req, resp->body, "triggers", all, "pageSize", 500, false);
    json_decref(all);
    free(prefix);
}

static void tr_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "cloudbuild", "BuildTrigger", req->body) < 0) return;
    char *key;
    json_t *cur = load(emu, req, resp, &key);
    if (!cur) return;
    static const char *const fixed[] = {"id", "name", "createTime", "resourceName", NULL};
    json_t *d = json_deep_copy(cur);
    const char *n = json_string_value(json_object_get(req->body, "name"));
    if (n && strcmp(n, json_string_value(json_object_get(cur, "name"))) != 0)
        emu_bad_request(resp, "a trigger's name cannot be changed");
    else if (emu_mask_apply(resp, d, req->body, emu_q(req, "updateMask"), fixed, 1) == 0) {
        resp->body = emu_strip(d);
        emu_put(emu, key, d);
        d = NULL;
    }
    json_decref(d);
    free(key);
}

static void tr_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (!load(emu, req, resp, &key)) return;
    emu_del(emu, key);
    resp->body = json_object();
    free(key);
}

#define T "v1/projects/{p}/locations/{l}/triggers"
static const emu_route_t routes[] = {
    {"POST", T, tr_create},          {"GET", T, tr_list},
    {"GET", T "/{t}", tr_get},       {"PATCH", T "/{t}", tr_patch},
    {"DELETE", T "/{t}", tr_delete},
};

const emu_api_t emu_api_cloudbuild = {"cloudbuild", routes, sizeof routes / sizeof routes[0], NULL};
