/* api_secretmanager.c: emulated Secret Manager (v1): secrets (names carry
 * the project NUMBER, replication immutable, PATCH with updateMask),
 * versions (addVersion with optional CRC32C check, access, enable,
 * disable, destroy, the `latest` alias) and secret IAM policies.  Payload
 * bytes are kept under a private "plinth:" key and only returned by
 * :access. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emulator/emu.h"

#define MAX_PAYLOAD 65536

/* Secrets are keyed by project number, so names the API returns work as
 * request paths too. */
static char *secret_key(emu_t *emu, const char *p, const char *s) {
    return xasprintf("secretmanager/projects/%s/secrets/%s", emu_project_num(emu, p), s);
}

static void new_etag(json_t *doc) {
    char h[17], e[24];
    util_random_hex(h, 8);
    snprintf(e, sizeof e, "\"%s\"", h);
    json_object_set_new(doc, "etag", json_string(e));
}

static json_t *load_secret(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = secret_key(emu, req->params[0], req->params[1]);
    return emu_load(emu, resp, key, "Secret [projects/%s/secrets/%s] not found.",
                    emu_project_num(emu, req->params[0]), req->params[1]);
}

static int valid_id(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 255) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return 0;
    return 1;
}

static void secret_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *id = emu_q(req, "secretId");
    if (emu_validate(resp, "secretmanager", "Secret", req->body) < 0) return;
    if (!valid_id(id)) {
        emu_bad_request(resp,
                        "The provided Secret ID [%s] does not match the expected format [[a-zA-Z_0-9-]+].",
                        id ? id : "");
        return;
    }
    json_t *rep = json_object_get(req->body, "replication");
    if (!json_is_object(rep) ||
        (!json_object_get(rep, "automatic") && !json_object_get(rep, "userManaged"))) {
        emu_bad_request(resp, "Secret.replication is required.");
        return;
    }
    char *key = secret_key(emu, req->params[0], id);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists",
                  "Secret [projects/%s/secrets/%s] already exists.", emu_project_num(emu, req->params[0]),
                  id);
        free(key);
        return;
    }
    json_t *s = json_deep_copy(req->body);
    char *name = xasprintf("projects/%s/secrets/%s", emu_project_num(emu, req->params[0]), id);
    json_object_set_new(s, "name", json_string(name));
    json_object_set_new(s, "createTime", json_string(emu_now()));
    json_t *ttl = json_object_get(s, "ttl");
    if (json_is_string(ttl)) {
        /* ttl is input-only: it becomes expireTime. */
        long secs = strtol(json_string_value(ttl), NULL, 10);
        char buf[32];
        util_rfc3339(buf, (int64_t)time(NULL) + secs);
        json_object_set_new(s, "expireTime", json_string(buf));
        json_object_del(s, "ttl");
    }
    new_etag(s);
    resp->body = emu_strip(s);
    emu_put(emu, key, s);
    free(name);
    free(key);
}

static void secret_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *s = load_secret(emu, req, resp, &key);
    if (s) resp->body = emu_strip(s);
    free(key);
}

static void secret_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *prefix = xasprintf("secretmanager/projects/%s/secrets/", emu_project_num(emu, req->params[0]));
    json_t *all = emu_children(emu, prefix, true);
    resp->body = json_pack("{s:I}", "totalSize", (json_int_t)json_array_size(all));
    emu_page_into(req, resp->body, "secrets", all, "pageSize", 25000, false);
    json_decref(all);
    free(prefix);
}

static void secret_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "secretmanager", "Secret", req->body) < 0) return;
    const char *mask = emu_q(req, "updateMask");
    if (!mask || !*mask) {
        emu_bad_request(resp, "update_mask is required.");
        return;
    }
    char *key;
    json_t *cur = load_secret(emu, req, resp, &key);
    if (!cur) return;
    static const char *const mutable_fields[] = {"labels",
                                                 "annotations",
                                                 "expireTime",
                                                 "ttl",
                                                 "rotation",
                                                 "topics",
                                                 "versionAliases",
                                                 "versionDestroyTtl",
                                                 "customerManagedEncryption",
                                                 NULL};
    json_t *s = json_deep_copy(cur);
    const char *etag = json_string_value(json_object_get(req->body, "etag"));
    if (etag && *etag && strcmp(etag, json_string_value(json_object_get(cur, "etag")) ?: "")) {
        emu_error(resp, 409, "ABORTED", "aborted",
                  "The etag provided in the request does not match the current etag of the secret.");
        goto out;
    }
    char *m = xstrdup(mask), *save = NULL;
    for (char *f = strtok_r(m, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
        while (*f == ' ')
            f++;
        int ok = 0;
        for (size_t i = 0; mutable_fields[i]; i++)
            ok |= !strcmp(f, mutable_fields[i]);
        if (!ok) {
            if (!strcmp(f, "replication") || !strncmp(f, "replication.", 12))
                emu_bad_request(resp, "Invalid value for field 'replication': field is immutable and cannot "
                                      "be changed.");
            else
                emu_bad_request(resp, "The update_mask field [%s] is not updatable.", f);
            free(m);
            goto out;
        }
        json_t *v = json_object_get(req->body, f);
        if (!strcmp(f, "ttl") && json_is_string(v)) {
            char buf[32];
            util_rfc3339(buf, (int64_t)time(NULL) + strtol(json_string_value(v), NULL, 10));
            json_object_set_new(s, "expireTime", json_string(buf));
        } else if (v && !json_is_null(v)) {
            json_object_set(s, f, v);
        } else {
            json_object_del(s, f);
        }
    }
    free(m);
    new_etag(s);
    resp->body = emu_strip(s);
    emu_put(emu, key, s);
    s = NULL;
out:
    json_decref(s);
    free(key);
}

static void secret_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *cur = load_secret(emu, req, resp, &key);
    if (!cur) return;
    const char *etag = emu_q(req, "etag");
    if (etag && *etag && strcmp(etag, json_string_value(json_object_get(cur, "etag")) ?: "")) {
        emu_error(resp, 409, "ABORTED", "aborted",
                  "The etag provided in the request does not match the current etag of the secret.");
        free(key);
        return;
    }
    emu_del_tree(emu, key);
    resp->body = json_object();
    free(key);
}

/* ---- versions --------------------------------------------------------------- */

static void add_version(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "secretmanager", "AddSecretVersionRequest", req->body) < 0) return;
    char *key;
    json_t *s = load_secret(emu, req, resp, &key);
    if (!s) return;
    json_t *payload = json_object_get(req->body, "payload");
    const char *data = json_string_value(json_object_get(payload, "data"));
    size_t len = 0;
    unsigned char *raw = data ? emu_b64_decode(data, strlen(data), false, &len) : NULL;
    if (!raw) {
        emu_bad_request(resp, "Invalid value at 'payload.data': expected base64-encoded bytes.");
        goto out;
    }
    if (len > MAX_PAYLOAD) {
        emu_bad_request(resp, "Secret Payload cannot exceed 65536 bytes.");
        goto out;
    }
    json_t *jc = json_object_get(payload, "dataCrc32c");
    uint32_t crc = emu_crc32c(raw, len);
    if (jc && !json_is_null(jc)) {
        long long given = (long long)emu_int64(jc);
        if (given != (long long)crc) {
            emu_bad_request(resp, "Checksum mismatch: the data_crc32c in the request does not match the "
                                  "checksum of the payload data.");
            goto out;
        }
    }
    char *counter = xasprintf("%s/versions", key);
    int64_t n = emu_next_id(emu, counter);
    free(counter);
    char *name = xasprintf("%s/versions/%lld", json_string_value(json_object_get(s, "name")), (long long)n);
    char *vkey = xasprintf("%s/versions/%lld", key, (long long)n);
    char crcs[16];
    snprintf(crcs, sizeof crcs, "%u", crc);
    json_t *v =
        json_pack("{s:s,s:s,s:s,s:{s:{}},s:b,s:s,s:s}", "name", name, "createTime", emu_now(), "state",
                  "ENABLED", "replicationStatus", "automatic", "clientSpecifiedPayloadChecksum",
                  jc && !json_is_null(jc), "plinth:data", data, "plinth:crc32c", crcs);
    new_etag(v);
    resp->body = emu_strip(v);
    emu_put(emu, vkey, v);
    free(vkey);
    free(name);
out:
    free(raw);
    free(key);
}

/* The store key of a version (resolving "latest" and aliases) or NULL
 * with a 404 in resp. */
static char *version_key(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *s = load_secret(emu, req, resp, &key);
    if (!s) return NULL;
    const char *v = req->params[2];
    char *vkey = NULL;
    json_t *alias = json_object_get(json_object_get(s, "versionAliases"), v);
    if (!strcmp(v, "latest")) {
        char *prefix = xasprintf("%s/versions/", key);
        json_t *keys = emu_keys(emu, prefix), *k;
        long long best = 0;
        size_t i;
        json_array_foreach(keys, i, k) {
            long long n = strtoll(json_string_value(k) + strlen(prefix), NULL, 10);
            if (n > best) best = n;
        }
        json_decref(keys);
        free(prefix);
        if (best) vkey = xasprintf("%s/versions/%lld", key, best);
    } else if (alias) {
        vkey = xasprintf("%s/versions/%s", key, json_is_string(alias) ? json_string_value(alias) : "0");
        if (json_is_integer(alias)) {
            free(vkey);
            vkey = xasprintf("%s/versions/%lld", key, (long long)json_integer_value(alias));
        }
    } else {
        vkey = xasprintf("%s/versions/%s", key, v);
    }
    if (!vkey || !emu_get(emu, vkey)) {
        emu_not_found(resp, "Secret Version [projects/%s/secrets/%s/versions/%s] not found.",
                      emu_project_num(emu, req->params[0]), req->params[1], v);
        free(vkey);
        vkey = NULL;
    }
    free(key);
    return vkey;
}

static void version_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *vkey = version_key(emu, req, resp);
    if (vkey) resp->body = emu_strip(emu_get(emu, vkey));
    free(vkey);
}

static void version_access(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *vkey = version_key(emu, req, resp);
    if (!vkey) return;
    json_t *v = emu_get(emu, vkey);
    const char *state = json_string_value(json_object_get(v, "state")) ?: "";
    if (strcmp(state, "ENABLED") != 0) {
        emu_error(resp, 400, "FAILED_PRECONDITION", "failedPrecondition",
                  "Secret Version [%s] is in %s state.", json_string_value(json_object_get(v, "name")),
                  state);
    } else {
        resp->body = json_pack("{s:s,s:{s:s,s:s}}", "name", json_string_value(json_object_get(v, "name")),
                               "payload", "data", json_string_value(json_object_get(v, "plinth:data")) ?: "",
                               "dataCrc32c", json_string_value(json_object_get(v, "plinth:crc32c")) ?: "0");
    }
    free(vkey);
}

static void version_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *s = load_secret(emu, req, resp, &key);
    if (!s) return;
    const char *filter = emu_q(req, "filter");
    const char *want = filter && !strncmp(filter, "state:", 6) ? filter + 6 : NULL;
    char *prefix = xasprintf("%s/versions/", key);
    json_t *keys = emu_keys(emu, prefix), *k, *all = json_array();
    /* newest first, numerically */
    size_t n = json_array_size(keys);
    long long *nums = xcalloc(n ? n : 1, sizeof *nums);
    size_t i;
    json_array_foreach(keys, i, k) {
        nums[i] = strtoll(json_string_value(k) + strlen(prefix), NULL, 10);
    }
    for (size_t a = 0; a < n; a++) {
        size_t best = a;
        for (size_t b = a + 1; b < n; b++)
            if (nums[b] > nums[best]) best = b;
        long long t = nums[a];
        nums[a] = nums[best];
        nums[best] = t;
        char *vk = xasprintf("%s%lld", prefix, nums[a]);
        json_t *v = emu_get(emu, vk);
        free(vk);
        if (v && (!want || !strcmp(want, json_string_value(json_object_get(v, "state")) ?: "")))
            json_array_append_new(all, emu_strip(v));
    }
    free(nums);
    resp->body = json_pack("{s:I}", "totalSize", (json_int_t)json_array_size(all));
    emu_page_into(req, resp->body, "versions", all, "pageSize", 25000, false);
    json_decref(all);
    json_decref(keys);
    free(prefix);
    free(key);
}

static void version_state(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const char *to) {
    char *vkey = version_key(emu, req, resp);
    if (!vkey) return;
    json_t *v = json_deep_copy(emu_get(emu, vkey));
    const char *state = json_string_value(json_object_get(v, "state")) ?: "";
    const char *etag = json_string_value(json_object_get(req->body, "etag"));
    if (etag && *etag && strcmp(etag, json_string_value(json_object_get(v, "etag")) ?: "")) {
        emu_error(resp, 409, "ABORTED", "aborted",
                  "The etag provided in the request does not match the current etag of the "
                  "secret version.");
    } else if (!strcmp(state, "DESTROYED")) {
        emu_error(resp, 400, "FAILED_PRECONDITION", "failedPrecondition",
                  "Secret Version [%s] is in DESTROYED state.",
                  json_string_value(json_object_get(v, "name")));
    } else {
        json_object_set_new(v, "state", json_string(to));
        if (!strcmp(to, "DESTROYED")) {
            json_object_set_new(v, "destroyTime", json_string(emu_now()));
            json_object_del(v, "plinth:data");
            json_object_del(v, "plinth:crc32c");
        }
        new_etag(v);
        resp->body = emu_strip(v);
        emu_put(emu, vkey, v);
        v = NULL;
    }
    json_decref(v);
    free(vkey);
}

static void version_enable(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    version_state(emu, req, resp, "ENABLED");
}
static void version_disable(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    version_state(emu, req, resp, "DISABLED");
}
static void version_destroy(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    version_state(emu, req, resp, "DESTROYED");
}

/* ---- IAM ---------------------------------------------------------------------- */

static void secret_get_policy(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (!load_secret(emu, req, resp, &key)) return;
    emu_iam_get_below(emu, resp, key);
    free(key);
}

static void secret_set_policy(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "secretmanager", "SetIamPolicyRequest", req->body) < 0) return;
    char *key;
    if (!load_secret(emu, req, resp, &key)) return;
    emu_iam_set_below(emu, resp, key, req->body);
    free(key);
}

#define SE "v1/projects/{p}/secrets"
#define VE SE "/{s}/versions"
static const emu_route_t routes[] = {
    {"POST", SE, secret_create},
    {"GET", SE, secret_list},
    {"GET", SE "/{s}", secret_get},
    {"PATCH", SE "/{s}", secret_patch},
    {"DELETE", SE "/{s}", secret_delete},
    {"POST", SE "/{s}:addVersion", add_version},
    {"GET", SE "/{s}:getIamPolicy", secret_get_policy},
    {"POST", SE "/{s}:setIamPolicy", secret_set_policy},
    {"GET", VE, version_list},
    {"GET", VE "/{v}", version_get},
    {"GET", VE "/{v}:access", version_access},
    {"POST", VE "/{v}:enable", version_enable},
    {"POST", VE "/{v}:disable", version_disable},
    {"POST", VE "/{v}:destroy", version_destroy},
};

const emu_api_t emu_api_secretmanager = {"secretmanager", routes, sizeof routes / sizeof routes[0], NULL};
