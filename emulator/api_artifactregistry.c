/* api_artifactregistry.c: emulated Artifact Registry (v1): repositories
 * (create and delete behind google.longrunning operations that report
 * done:false at least once, synchronous PATCH with updateMask, IAM
 * policies), operations, locations and project settings. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

static const char *const formats[] = {"DOCKER", "MAVEN", "NPM",     "APT",    "YUM",  "PYTHON",
                                      "KFP",    "GO",    "GENERIC", "GOOGET", "RUBY", NULL};
static const char *const modes[] = {"STANDARD_REPOSITORY", "VIRTUAL_REPOSITORY", "REMOTE_REPOSITORY", NULL};
static const char *const regions[] = {"us",       "europe",       "asia",         "us-central1", "us-east1",
                                      "us-west1", "europe-west1", "europe-west4", "asia-east1",  NULL};

static char *repo_key(const char *p, const char *l, const char *r) {
    return xasprintf("artifactregistry/projects/%s/locations/%s/repositories/%s", p, l, r);
}

static void op_finish(emu_t *emu, const char *key) {
    json_t *cur = emu_get(emu, key);
    if (!cur || json_is_true(json_object_get(cur, "done"))) return;
    json_t *op = json_deep_copy(cur);
    json_object_set_new(op, "done", json_true());
    json_t *r = json_object_get(op, "plinth:response");
    if (r) json_object_set(op, "response", r);
    json_object_del(op, "plinth:response");
    emu_put(emu, key, op);
}

/* A google.longrunning.Operation finishing later with response (stolen). */
static json_t *start_op(emu_t *emu, const char *p, const char *l, json_t *response, const char *kind) {
    char *id = emu_uuid();
    char *name = xasprintf("projects/%s/locations/%s/operations/%s", p, l, id);
    char *key = xasprintf("artifactregistry/%s", name);
    json_t *op = json_pack("{s:s,s:{s:s,s:s},s:b,s:o}", "name", name, "metadata", "@type",
                           "type.googleapis.com/google.devtools.artifactregistry.v1.OperationMetadata",
                           "createTime", emu_now(), "done", 0, "plinth:response", response);
    json_t *pub = emu_op_arm(emu, key, op, kind, op_finish);
    free(key);
    free(name);
    free(id);
    return pub;
}

static int valid_id(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63 || !islower((unsigned char)s[0]) || s[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-') return 0;
    return 1;
}

static void repo_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0], *l = req->params[1];
    const char *id = emu_q(req, "repositoryId");
    if (emu_validate(resp, "artifactregistry", "Repository", req->body) < 0) return;
    if (!valid_id(id)) {
        emu_bad_request(resp,
                        "Invalid repository id \"%s\": must start with a lowercase letter, contain only "
                        "lowercase letters, digits and hyphens, and be at most 63 characters.",
                        id ? id : "");
        return;
    }
    json_t *body = req->body ? req->body : NULL;
    const char *fmt = json_string_value(json_object_get(body, "format"));
    if (!emu_in_list(formats, fmt)) {
        emu_bad_request(resp,
                        fmt ? "Invalid value at 'repository.format' (type.googleapis.com/"
                              "google.devtools.artifactregistry.v1.Repository.Format), \"%s\""
                            : "Repository format is required.%s",
                        fmt ? fmt : "");
        return;
    }
    const char *mode = json_string_value(json_object_get(body, "mode"));
    if (mode && !strcmp(mode, "MODE_UNSPECIFIED"))
        mode = NULL; /* gcloud sends it; the server picks the default */
    if (mode && !emu_in_list(modes, mode)) {
        emu_bad_request(resp, "Invalid value at 'repository.mode', \"%s\"", mode);
        return;
    }
    char *key = repo_key(p, l, id);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists", "the repository already exists");
        free(key);
        return;
    }
    json_t *r = json_deep_copy(body);
    char *name = xasprintf("projects/%s/locations/%s/repositories/%s", p, l, id);
    char *lower = xstrdup(fmt);
    for (char *c = lower; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    char *uri = xasprintf("%s-%s.pkg.dev/%s/%s", l, lower, p, id);
    json_object_set_new(r, "name", json_string(name));
    if (!mode) json_object_set_new(r, "mode", json_string("STANDARD_REPOSITORY"));
    if (json_object_get(r, "sizeBytes") == NULL) json_object_set_new(r, "sizeBytes", json_string("0"));
    json_object_set_new(r, "registryUri", json_string(uri));
    json_object_set_new(r, "createTime", json_string(emu_now()));
    json_object_set_new(r, "updateTime", json_string(emu_now()));
    json_object_set_new(r, "satisfiesPzs", json_false());
    json_object_set_new(r, "satisfiesPzi", json_false());
    json_t *response = emu_strip(r);
    json_object_set_new(response, "@type",
                        json_string("type.googleapis.com/google.devtools.artifactregistry.v1.Repository"));
    resp->body = start_op(emu, p, l, response, "artifactregistry.repositories.create");
    emu_put(emu, key, r);
    free(uri);
    free(lower);
    free(name);
    free(key);
}

static json_t *load_repo(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = repo_key(req->params[0], req->params[1], req->params[2]);
    return emu_load(emu, resp, key, "Requested entity was not found.");
}

static void repo_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *r = load_repo(emu, req, resp, &key);
    if (r) resp->body = emu_strip(r);
    free(key);
}

static void repo_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *prefix =
        xasprintf("artifactregistry/projects/%s/locations/%s/repositories/", req->params[0], req->params[1]);
    json_t *all = emu_children(emu, prefix, true);
    resp->body = json_object();
    emu_page_into(req, resp->body, "repositories", all, "pageSize", 1000, false);
    json_decref(all);
    free(prefix);
}

static const char *const immutable[] = {"name", "format", "mode", "kmsKeyName", NULL};
static const char *const output_only[] = {"name",        "createTime",   "updateTime",   "sizeBytes",
                                          "registryUri", "satisfiesPzs", "satisfiesPzi", NULL};

static void repo_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "artifactregistry", "Repository", req->body) < 0) return;
    char *key;
    json_t *cur = load_repo(emu, req, resp, &key);
    if (!cur) return;
    json_t *body = req->body ? req->body : NULL;
    json_t *r = json_deep_copy(cur);
    const char *mask = emu_q(req, "updateMask");
    if (emu_check_immutable(resp, cur, body, immutable) < 0) goto out;
    if (mask && *mask) {
        char *m = xstrdup(mask), *save = NULL;
        for (char *f = strtok_r(m, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
            char *dot = strchr(f, '.');
            if (dot) *dot = '\0'; /* sub-field masks replace the whole top-level field */
            if (emu_in_list(output_only, f)) {
                emu_bad_request(resp, "Invalid update_mask: field \"%s\" cannot be updated.", f);
                free(m);
                goto out;
            }
            json_t *v = json_object_get(body, f);
            if (v && !json_is_null(v))
                json_object_set(r, f, v);
            else
                json_object_del(r, f);
        }
        free(m);
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(body, k, v) {
            if (!emu_in_list(output_only, k) && !emu_in_list(immutable, k)) json_object_set(r, k, v);
        }
    }
    json_object_set_new(r, "updateTime", json_string(emu_now()));
    resp->body = emu_strip(r);
    emu_put(emu, key, r);
    r = NULL;
out:
    json_decref(r);
    free(key);
}

static void repo_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (!load_repo(emu, req, resp, &key)) return;
    emu_del_tree(emu, key);
    resp->body = start_op(emu, req->params[0], req->params[1],
                          json_pack("{s:s}", "@type", "type.googleapis.com/google.protobuf.Empty"),
                          "artifactregistry.repositories.delete");
    free(key);
}

static void repo_get_policy(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (!load_repo(emu, req, resp, &key)) return;
    emu_iam_get_below(emu, resp, key);
    free(key);
}

static void repo_set_policy(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "artifactregistry", "SetIamPolicyRequest", req->body) < 0) return;
    char *key;
    if (!load_repo(emu, req, resp, &key)) return;
    emu_iam_set_below(emu, resp, key, req->body);
    free(key);
}

static void repo_test_perms(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (!load_repo(emu, req, resp, &key)) return;
    emu_iam_test_perms(req, resp);
    free(key);
}

static void op_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = xasprintf("artifactregistry/projects/%s/locations/%s/operations/%s", req->params[0],
                          req->params[1], req->params[2]);
    json_t *op = emu_load(emu, resp, &key, "Operation not found.");
    if (op) resp->body = emu_strip(op);
    free(key);
}

static void locations(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *items = json_array();
    for (size_t i = 0; regions[i]; i++) {
        char *name = xasprintf("projects/%s/locations/%s", req->params[0], regions[i]);
        json_array_append_new(items, json_pack("{s:s,s:s}", "name", name, "locationId", regions[i]));
        free(name);
    }
    resp->body = json_pack("{s:o}", "locations", items);
}

static void location_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *name = xasprintf("projects/%s/locations/%s", req->params[0], req->params[1]);
    resp->body = json_pack("{s:s,s:s}", "name", name, "locationId", req->params[1]);
    free(name);
}

static void project_settings(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *name = xasprintf("projects/%s/projectSettings", req->params[0]);
    resp->body =
        json_pack("{s:s,s:s}", "name", name, "legacyRedirectionState", "REDIRECTION_FROM_GCR_IO_DISABLED");
    free(name);
}

static void init(emu_t *emu) {
    emu_resume_ops(emu, "artifactregistry/projects/", "/operations/", op_finish);
}

#define RE "v1/projects/{p}/locations/{l}/repositories"
static const emu_route_t routes[] = {
    {"POST", RE, repo_create},
    {"GET", RE, repo_list},
    {"GET", RE "/{r}", repo_get},
    {"PATCH", RE "/{r}", repo_patch},
    {"DELETE", RE "/{r}", repo_delete},
    {"GET", RE "/{r}:getIamPolicy", repo_get_policy},
    {"POST", RE "/{r}:setIamPolicy", repo_set_policy},
    {"POST", RE "/{r}:testIamPermissions", repo_test_perms},
    {"GET", "v1/projects/{p}/locations/{l}/operations/{op}", op_get},
    {"GET", "v1/projects/{p}/locations", locations},
    {"GET", "v1/projects/{p}/locations/{l}", location_get},
    {"GET", "v1/projects/{p}/projectSettings", project_settings},
};

const emu_api_t emu_api_artifactregistry = {"artifactregistry", routes, sizeof routes / sizeof routes[0],
                                            init};
