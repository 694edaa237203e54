/* api_cloudkms.c: emulated Cloud KMS (v1): key rings (create, get, list;
 * never deleted, as in the real API), crypto keys (create with a first
 * version unless skipInitialVersionCreation, get, list, PATCH with
 * updateMask; never deleted), their versions (list, get, destroy: state
 * DESTROY_SCHEDULED) and the IAM policies of rings and keys. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"
#include "core/jpath.h"
#include "emulator/mask.h"

#define RING "projects/%s/locations/%s/keyRings/%s"

static int valid_id(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 63) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return 0;
    return 1;
}

static char *ring_key(const emu_req_t *req) {
    return xasprintf("cloudkms/" RING, req->params[0], req->params[1], req->params[2]);
}

static json_t *load_ring(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = ring_key(req);
    return emu_load(emu, resp, key, "KeyRing " RING " not found.", req->params[0], req->params[1],
                    req->params[2]);
}

static json_t *load_key(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = xasprintf("cloudkms/" RING "/cryptoKeys/%s", req->params[0], req->params[1], req->params[2],
                     req->params[3]);
    return emu_load(emu, resp, key, "CryptoKey " RING "/cryptoKeys/%s not found.", req->params[0],
                    req->params[1], req->params[2], req->params[3]);
}

static void ring_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "cloudkms", "KeyRing", req->body) < 0) return;
    const char *id = emu_q(req, "keyRingId");
    if (!valid_id(id)) {
        emu_bad_request(resp, "Invalid KeyRing ID \"%s\": must match [a-zA-Z0-9_-]{1,63}", id ? id : "");
        return;
    }
    char *key = xasprintf("cloudkms/" RING, req->params[0], req->params[1], id);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists", "KeyRing " RING " already exists.",
                  req->params[0], req->params[1], id);
    } else {
        json_t *r = json_pack("{s:s,s:s}", "name", key + 9, "createTime", emu_now());
        resp->body = json_deep_copy(r);
        emu_put(emu, key, r);
    }
    free(key);
}

static void ring_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *r = load_ring(emu, req, resp, &key);
    if (r) resp->body = emu_strip(r);
    free(key);
}

static void list_into(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const char *prefix,
                      const char *field) {
    json_t *all = emu_children(emu, prefix, true);
    resp->body = json_pack("{s:i}", "totalSize", (int)json_array_size(all));
    emu_page_into(req, resp->body, field, all, "pageSize", 1000, false);
    json_decref(all);
}

static void ring_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *prefix = xasprintf("cloudkms/projects/%s/locations/%s/keyRings/", req->params[0], req->params[1]);
    list_into(emu, req, resp, prefix, "keyRings");
    free(prefix);
}

/* A version of key (its name) in state, with the key's template. */
static json_t *new_version(const char *kname, const json_t *tmpl) {
    const char *alg = json_string_value(json_object_get(tmpl, "algorithm"));
    const char *pl = json_string_value(json_object_get(tmpl, "protectionLevel"));
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", kname, "state", "ENABLED", "algorithm",
                     alg ? alg : "GOOGLE_SYMMETRIC_ENCRYPTION", "protectionLevel", pl ? pl : "SOFTWARE",
                     "createTime", emu_now(), "generateTime", emu_now());
}

static void key_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "cloudkms", "CryptoKey", req->body) < 0) return;
    char *rkey;
    if (!load_ring(emu, req, resp, &rkey)) return;
    const char *id = emu_q(req, "cryptoKeyId"), *skip = emu_q(req, "skipInitialVersionCreation");
    const char *purpose = json_string_value(json_object_get(req->body, "purpose"));
    char *key = xasprintf("%s/cryptoKeys/%s", rkey, id ? id : "");
    if (!valid_id(id))
        emu_bad_request(resp, "Invalid CryptoKey ID \"%s\": must match [a-zA-Z0-9_-]{1,63}", id ? id : "");
    else if (!purpose || strcmp(purpose, "CRYPTO_KEY_PURPOSE_UNSPECIFIED") == 0)
        emu_bad_request(resp, "The request must specify a valid CryptoKey.purpose.");
    else if (emu_get(emu, key))
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists", "CryptoKey %s already exists.", key + 9);
    else {
        json_t *k = json_deep_copy(req->body);
        json_object_set_new(k, "name", json_string(key + 9));
        json_object_set_new(k, "createTime", json_string(emu_now()));
        json_t *tmpl = json_object_get(k, "versionTemplate");
        if (!tmpl) json_object_set_new(k, "versionTemplate", tmpl = json_object());
        emu_set_default(tmpl, "algorithm", json_string("GOOGLE_SYMMETRIC_ENCRYPTION"));
        emu_set_default(tmpl, "protectionLevel", json_string("SOFTWARE"));
        emu_set_default(k, "destroyScheduledDuration", json_string("2592000s"));
        if (!(skip && strcmp(skip, "true") == 0) && strcmp(purpose, "ENCRYPT_DECRYPT") == 0) {
            char *vname = xasprintf("%s/cryptoKeyVersions/1", key + 9);
            char *vkey = xasprintf("cloudkms/%s", vname);
            json_t *v = new_version(vname, tmpl);
            json_object_set_new(k, "primary", emu_strip(v));
            emu_put(emu, vkey, v);
            free(vkey);
            free(vname);
        }
        resp->body = emu_strip(k);
        emu_put(emu, key, k);
    }
    free(key);
    free(rkey);
}

static void key_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *k = load_key(emu, req, resp, &key);
    if (k) resp->body = emu_strip(k);
    free(key);
}

static void key_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *rkey;
    if (!load_ring(emu, req, resp, &rkey)) return;
    char *prefix = xasprintf("%s/cryptoKeys/", rkey);
    list_into(emu, req, resp, prefix, "cryptoKeys");
    free(prefix);
    free(rkey);
}

static const char *const key_fixed[] = {
    "name", "createTime", "primary", "purpose", "importOnly", "destroyScheduledDuration", "cryptoKeyBackend",
    NULL};

static void key_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "cloudkms", "CryptoKey", req->body) < 0) return;
    char *key;
    json_t *cur = load_key(emu, req, resp, &key);
    if (!cur) return;
    json_t *k = json_deep_copy(cur);
    const char *mask = emu_q(req, "updateMask");
    const json_t *pl = json_object_get(json_object_get(req->body, "versionTemplate"), "protectionLevel");
    if (pl && !json_equal((json_t *)pl, jpath_get(cur, "versionTemplate.protectionLevel")))
        emu_bad_request(resp, "versionTemplate.protectionLevel cannot be changed.");
    else if (emu_mask_apply(resp, k, req->body, mask, key_fixed, 1) == 0) {
        resp->body = emu_strip(k);
        emu_put(emu, key, k);
        k = NULL;
    }
    json_decref(k);
    free(key);
}

static void versions(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (!load_key(emu, req, resp, &key)) return;
    char *prefix = xasprintf("%s/cryptoKeyVersions/", key);
    list_into(emu, req, resp, prefix, "cryptoKeyVersions");
    free(prefix);
    free(key);
}

static json_t *load_version(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **vkey) {
    *vkey = xasprintf("cloudkms/" RING "/cryptoKeys/%s/cryptoKeyVersions/%s", req->params[0], req->params[1],
                      req->params[2], req->params[3], req->params[4]);
    return emu_load(emu, resp, vkey, "CryptoKeyVersion %s not found.", req->params[4]);
}

static void version_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *vkey;
    json_t *v = load_version(emu, req, resp, &vkey);
    if (v) resp->body = emu_strip(v);
    free(vkey);
}

/* destroy: ENABLED/DISABLED -> DESTROY_SCHEDULED (destroyTime after the
 * key's destroyScheduledDuration); the key's primary follows. */
static void version_destroy(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *vkey;
    json_t *v = load_version(emu, req, resp, &vkey);
    if (!v) return;
    const char *st = json_string_value(json_object_get(v, "state"));
    if (!st || (strcmp(st, "ENABLED") != 0 && strcmp(st, "DISABLED") != 0)) {
        emu_error(resp, 400, "FAILED_PRECONDITION", "failedPrecondition",
                  "The request cannot be fulfilled. CryptoKeyVersion %s is not in state ENABLED or DISABLED.",
                  json_string_value(json_object_get(v, "name")));
    } else {
        json_t *nv = json_deep_copy(v);
        json_object_set_new(nv, "state", json_string("DESTROY_SCHEDULED"));
        json_object_set_new(nv, "destroyTime", json_string(emu_now()));
        resp->body = emu_strip(nv);
        char *kkey;
        json_t *k = load_key(emu, req, resp, &kkey);
        const char *pn = json_string_value(jpath_get(k, "primary.name"));
        if (k && pn && strcmp(pn, json_string_value(json_object_get(nv, "name"))) == 0) {
            json_t *nk = json_deep_copy(k);
            json_object_set_new(nk, "primary", emu_strip(nv));
            emu_put(emu, kkey, nk);
        }
        free(kkey);
        emu_put(emu, vkey, nv);
    }
    free(vkey);
}

static void ring_pget(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (load_ring(emu, req, resp, &key)) emu_iam_get_below(emu, resp, key);
    free(key);
}
static void ring_pset(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "cloudkms", "SetIamPolicyRequest", req->body) < 0) return;
    char *key;
    if (load_ring(emu, req, resp, &key)) emu_iam_set_below(emu, resp, key, req->body);
    free(key);
}
static void key_pget(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (load_key(emu, req, resp, &key)) emu_iam_get_below(emu, resp, key);
    free(key);
}
static void key_pset(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "cloudkms", "SetIamPolicyRequest", req->body) < 0) return;
    char *key;
    if (load_key(emu, req, resp, &key)) emu_iam_set_below(emu, resp, key, req->body);
    free(key);
}

#define R "v1/projects/{p}/locations/{l}/keyRings"
#define K R "/{r}/cryptoKeys"
static const emu_route_t routes[] = {
    {"POST", R, ring_create},
    {"GET", R, ring_list},
    {"GET", R "/{r}", ring_get},
    {"GET", R "/{r}:getIamPolicy", ring_pget},
    {"POST", R "/{r}:setIamPolicy", ring_pset},
    {"POST", K, key_create},
    {"GET", K, key_list},
    {"GET", K "/{k}", key_get},
    {"PATCH", K "/{k}", key_patch},
    {"GET", K "/{k}:getIamPolicy", key_pget},
    {"POST", K "/{k}:setIamPolicy", key_pset},
    {"GET", K "/{k}/cryptoKeyVersions", versions},
    {"GET", K "/{k}/cryptoKeyVersions/{v}", version_get},
    {"POST", K "/{k}/cryptoKeyVersions/{v}:destroy", version_destroy},
};

const emu_api_t emu_api_cloudkms = {"cloudkms", routes, sizeof routes / sizeof routes[0], NULL};
