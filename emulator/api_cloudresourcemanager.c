/* api_cloudresourcemanager.c: emulated Resource Manager (v1 and v3
 * projects: get, getIamPolicy, setIamPolicy, testIamPermissions) and the
 * IAM policy documents every other emulated API shares (emu_iam_policy_*):
 * etags, stale-etag 409 ABORTED, conditions and policy versions. */
#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

/* An etag like the real ones: base64 of 8 bytes ("BwXhqDEKdNo="). */
static void new_etag(char out[16]) {
    unsigned char raw[8];
    raw[0] = 0x07;
    RAND_bytes(raw + 1, 7);
    EVP_EncodeBlock((unsigned char *)out, raw, 8);
}

/* Etags are bytes fields: clients may send them back in the URL-safe
 * base64 alphabet (apitools does), with or without padding. */
static int etag_equal(const char *a, const char *b) {
    for (;; a++, b++) {
        char x = *a == '-' ? '+' : *a == '_' ? '/' : *a;
        char y = *b == '-' ? '+' : *b == '_' ? '/' : *b;
        if ((x == '\0' || x == '=') && (y == '\0' || y == '=')) return 1;
        if (x != y) return 0;
    }
}

json_t *emu_iam_policy_get(emu_t *emu, const char *key) {
    json_t *p = emu_get(emu, key);
    if (p) return json_deep_copy(p);
    return json_pack("{s:i,s:s}", "version", 1, "etag", "ACAB");
}

static const char *const member_prefixes[] = {
    "user:",    "serviceAccount:", "group:",         "domain:",        "principal:", "principalSet:",
    "deleted:", "projectOwner:",   "projectEditor:", "projectViewer:", NULL,
};

/* Checks one member; lower-cases the email part of email-type members as
 * the real service does.  Returns a new string or NULL when malformed. */
static char *norm_member(const char *m) {
    if (!strcmp(m, "allUsers") || !strcmp(m, "allAuthenticatedUsers")) return xstrdup(m);
    for (size_t i = 0; member_prefixes[i]; i++) {
        size_t n = strlen(member_prefixes[i]);
        if (strncmp(m, member_prefixes[i], n) != 0 || !m[n]) continue;
        char *out = xstrdup(m);
        if (i < 3 && !strchr(out + n, '['))
            for (char *c = out + n; *c; c++)
                *c = (char)tolower((unsigned char)*c);
        return out;
    }
    return NULL;
}

/* A serviceAccount: member naming an emulated project's account must exist. */
static int sa_missing(emu_t *emu, const char *member) {
    if (strncmp(member, "serviceAccount:", 15) != 0) return 0;
    const char *email = member + 15;
    const char *at = strchr(email, '@');
    const char *suf = ".iam.gserviceaccount.com";
    if (!at || strlen(at) <= strlen(suf) || strcmp(at + strlen(at) - strlen(suf), suf) != 0) return 0;
    char *proj = xstrndup(at + 1, strlen(at + 1) - strlen(suf));
    char *key = xasprintf("iam/projects/%s/serviceAccounts/%s", proj, email);
    int missing = emu_get(emu, key) == NULL;
    free(key);
    free(proj);
    return missing;
}

int emu_iam_policy_set(emu_t *emu, emu_resp_t *resp, const char *key, const json_t *body) {
    json_t *policy = json_object_get(body, "policy");
    if (!json_is_object(policy)) {
        emu_bad_request(resp, "Invalid JSON payload received. 'policy' is required.");
        return -1;
    }
    json_t *cur = emu_iam_policy_get(emu, key);
    const char *etag = json_string_value(json_object_get(policy, "etag"));
    const char *cur_etag = json_string_value(json_object_get(cur, "etag"));
    if (etag && *etag && !etag_equal(etag, cur_etag)) {
        emu_error(resp, 409, "ABORTED", "aborted",
                  "There were concurrent policy changes. Please retry the whole read-modify-write "
                  "with exponential backoff. The request's ETag '%s' did not match the current "
                  "policy's ETag '%s'.",
                  etag, cur_etag);
        json_decref(cur);
        return -1;
    }
    const char *mask = json_string_value(json_object_get(body, "updateMask"));
    if (!mask || !*mask) mask = "bindings,etag";
    int want_bindings = strstr(mask, "bindings") != NULL;
    int want_audit = strstr(mask, "auditConfigs") != NULL;

    int has_cond = 0;
    json_t *nb = json_array();
    json_t *bindings = json_object_get(policy, "bindings");
    size_t i;
    json_t *b;
    json_array_foreach(bindings, i, b) {
        const char *role = json_string_value(json_object_get(b, "role"));
        if (!role || (strncmp(role, "roles/", 6) != 0 && !strstr(role, "/roles/"))) {
            emu_bad_request(resp, "Role (%s) does not exist in the resource's hierarchy.", role ? role : "");
            goto fail;
        }
        json_t *cond = json_object_get(b, "condition");
        if (cond && !json_is_null(cond)) {
            if (!json_string_value(json_object_get(cond, "expression")) ||
                !json_string_value(json_object_get(cond, "title"))) {
                emu_bad_request(resp, "Condition of binding for role %s must have a title and an expression.",
                                role);
                goto fail;
            }
            has_cond = 1;
        }
        json_t *members = json_array(), *m;
        size_t j;
        json_array_foreach(json_object_get(b, "members"), j, m) {
            const char *ms = json_string_value(m);
            char *nm = ms ? norm_member(ms) : NULL;
            if (!nm) {
                emu_bad_request(resp,
                                "Invalid argument: member %s is of an unknown type. Please set a valid "
                                "type prefix for the member.",
                                ms ? ms : "");
                json_decref(members);
                goto fail;
            }
            if (sa_missing(emu, nm)) {
                emu_bad_request(resp, "Service account %s does not exist.", nm + 15);
                free(nm);
                json_decref(members);
                goto fail;
            }
            int dup = 0;
            size_t k;
            json_t *x;
            json_array_foreach(members, k, x) {
                dup |= !strcmp(json_string_value(x), nm);
            }
            if (!dup) json_array_append_new(members, json_string(nm));
            free(nm);
        }
        if (json_array_size(members) == 0) {
            json_decref(members);
            continue; /* an empty binding is dropped, as the real service does */
        }
        json_t *copy = json_pack("{s:s,s:o}", "role", role, "members", members);
        if (cond && !json_is_null(cond)) json_object_set(copy, "condition", cond);
        json_array_append_new(nb, copy);
    }
    json_int_t version = json_integer_value(json_object_get(policy, "version"));
    if (has_cond && version != 3 && want_bindings) {
        emu_bad_request(resp, "Invalid argument: policy version must be 3 for a policy with conditional "
                              "role bindings.");
        goto fail;
    }
    if (want_bindings) {
        if (json_array_size(nb))
            json_object_set(cur, "bindings", nb);
        else
            json_object_del(cur, "bindings");
        json_object_set_new(cur, "version", json_integer(has_cond ? 3 : version == 3 ? 3 : 1));
    }
    if (want_audit) {
        json_t *ac = json_object_get(policy, "auditConfigs");
        if (ac && json_array_size(ac))
            json_object_set(cur, "auditConfigs", ac);
        else
            json_object_del(cur, "auditConfigs");
    }
    char et[16];
    new_etag(et);
    json_object_set_new(cur, "etag", json_string(et));
    json_decref(nb);
    emu_put(emu, key, json_deep_copy(cur));
    json_decref(resp->body);
    resp->body = cur;
    return 0;
fail:
    json_decref(nb);
    json_decref(cur);
    return -1;
}

/* ---- projects ---------------------------------------------------------- */

static char *policy_key(emu_t *emu, const char *project) {
    return xasprintf("cloudresourcemanager/projects/%s/iamPolicy", project);
}

/* A project's policy starts with one owner, like a fresh real project. */
static void seed_policy(emu_t *emu, const char *key) {
    if (emu_get(emu, key)) return;
    char et[16];
    new_etag(et);
    emu_put(emu, key,
            json_pack("{s:i,s:s,s:[{s:s,s:[s]}]}", "version", 1, "etag", et, "bindings", "role",
                      "roles/owner", "members", "user:emulator@example.com"));
}

static int bad_project(emu_resp_t *resp, const char *p) {
    size_t n = strlen(p);
    int ok = n >= 6 && n <= 30 && islower((unsigned char)p[0]);
    for (size_t i = 0; ok && i < n; i++)
        ok = islower((unsigned char)p[i]) || isdigit((unsigned char)p[i]) || p[i] == '-';
    if (!ok) emu_error(resp, 403, "PERMISSION_DENIED", "forbidden", "The caller does not have permission");
    return !ok;
}

static void project_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0];
    if (bad_project(resp, p)) return;
    resp->body =
        json_pack("{s:s,s:s,s:s,s:s,s:s}", "projectNumber", emu_project_number(emu, p), "projectId", p,
                  "lifecycleState", "ACTIVE", "name", p, "createTime", "2024-01-01T00:00:00.000Z");
}

static void project_get_v3(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0];
    if (bad_project(resp, p)) return;
    char *name = xasprintf("projects/%s", emu_project_number(emu, p));
    resp->body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", name, "projectId", p, "state", "ACTIVE",
                           "displayName", p, "createTime", "2024-01-01T00:00:00.000Z", "etag", "W/\"emu\"");
    free(name);
}

static void project_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    /* Projects known to the emulator: those with a stored policy. */
    json_t *keys = emu_keys(emu, "cloudresourcemanager/projects/"), *k, *items = json_array();
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *s = json_string_value(k) + strlen("cloudresourcemanager/projects/");
        const char *slash = strchr(s, '/');
        char *p = xstrndup(s, slash ? (size_t)(slash - s) : strlen(s));
        json_array_append_new(items,
                              json_pack("{s:s,s:s,s:s,s:s}", "projectNumber", emu_project_number(emu, p),
                                        "projectId", p, "lifecycleState", "ACTIVE", "name", p));
        free(p);
    }
    json_decref(keys);
    resp->body = json_pack("{s:o}", "projects", items);
}

static void project_get_policy(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0];
    if (bad_project(resp, p)) return;
    char *key = policy_key(emu, p);
    seed_policy(emu, key);
    resp->body = emu_iam_policy_get(emu, key);
    free(key);
}

static void project_set_policy(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0];
    if (bad_project(resp, p)) return;
    if (emu_validate(resp, "cloudresourcemanager", "SetIamPolicyRequest", req->body) < 0) return;
    char *key = policy_key(emu, p);
    seed_policy(emu, key);
    emu_iam_policy_set(emu, resp, key, req->body);
    free(key);
}

/* The emulator grants every permission asked about. */
static void project_test_perms(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    emu_iam_test_perms(req, resp);
}

static const emu_route_t routes[] = {
    {"GET", "v1/projects", project_list},
    {"GET", "v1/projects/{p}", project_get},
    {"POST", "v1/projects/{p}:getIamPolicy", project_get_policy},
    {"POST", "v1/projects/{p}:setIamPolicy", project_set_policy},
    {"POST", "v1/projects/{p}:testIamPermissions", project_test_perms},
    {"GET", "v3/projects/{p}", project_get_v3},
    {"POST", "v3/projects/{p}:getIamPolicy", project_get_policy},
    {"POST", "v3/projects/{p}:setIamPolicy", project_set_policy},
    {"POST", "v3/projects/{p}:testIamPermissions", project_test_perms},
};

const emu_api_t emu_api_cloudresourcemanager = {"cloudresourcemanager", routes,
                                                sizeof routes / sizeof routes[0], NULL};
