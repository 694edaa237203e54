/* api_iam.c: emulated IAM (v1): service accounts (create, get, list,
 * patch, update, delete, enable, disable), their IAM policies, and keys
 * with real RSA-2048 key material (keys.create returns a service-account
 * JSON key file; the public half stays in the store so the emulated
 * oauth2 token endpoint can verify JWTs signed with it). */
#include <ctype.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

#define SA_SUFFIX ".iam.gserviceaccount.com"

static int valid_account_id(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n < 6 || n > 30 || !islower((unsigned char)s[0]) || s[n - 1] == '-') return 0;
    for (size_t i = 0; i < n; i++)
        if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-') return 0;
    return 1;
}

/* Finds a service account by email or unique id; returns its store key
 * (new) or NULL. */
static char *find_sa(emu_t *emu, const char *project, const char *id) {
    if (strchr(id, '@')) {
        const char *at = strchr(id, '@');
        size_t sl = strlen(SA_SUFFIX), al = strlen(at + 1);
        char *p =
            al > sl && !strcmp(at + 1 + al - sl, SA_SUFFIX) ? xstrndup(at + 1, al - sl) : xstrdup(project);
        char *key = xasprintf("iam/projects/%s/serviceAccounts/%s", p, id);
        free(p);
        if (emu_get(emu, key)) return key;
        free(key);
    }
    json_t *keys = emu_keys(emu, "iam/projects/"), *k;
    size_t i;
    char *found = NULL;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        const char *sa = strstr(key, "/serviceAccounts/");
        if (!sa || strchr(sa + 17, '/')) continue;
        json_t *doc = emu_get(emu, key);
        if (!strcmp(json_string_value(json_object_get(doc, "uniqueId")) ?: "", id) ||
            !strcasecmp(json_string_value(json_object_get(doc, "email")) ?: "", id)) {
            found = xstrdup(key);
            break;
        }
    }
    json_decref(keys);
    return found;
}

static char *load_sa(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = find_sa(emu, req->params[0], req->params[1]);
    if (!key)
        emu_not_found(resp, "Service account projects/%s/serviceAccounts/%s does not exist.", req->params[0],
                      req->params[1]);
    return key;
}

static void sa_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0];
    if (emu_validate(resp, "iam", "CreateServiceAccountRequest", req->body) < 0) return;
    const char *aid = json_string_value(json_object_get(req->body, "accountId"));
    if (!valid_account_id(aid)) {
        emu_bad_request(resp,
                        "Invalid account ID \"%s\": it must be 6-30 characters, match "
                        "[a-z]([-a-z0-9]*[a-z0-9]).",
                        aid ? aid : "");
        return;
    }
    char *email = xasprintf("%s@%s" SA_SUFFIX, aid, p);
    char *key = xasprintf("iam/projects/%s/serviceAccounts/%s", p, email);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists",
                  "Service account %s already exists within project projects/%s.", aid, p);
        goto out;
    }
    char hex[41], uid[22];
    util_random_hex(hex, 20);
    uid[0] = '1';
    for (int i = 0; i < 20; i++)
        uid[i + 1] = (char)('0' + (hex[i] % 10));
    uid[21] = '\0';
    char *name = xasprintf("projects/%s/serviceAccounts/%s", p, email);
    json_t *sa = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "name", name, "projectId", p, "uniqueId", uid,
                           "email", email, "etag", "MDEwMjE5MjA=", "oauth2ClientId", uid);
    free(name);
    json_t *in = json_object_get(req->body, "serviceAccount");
    const char *fields[] = {"displayName", "description"};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(in, fields[i]);
        if (json_is_string(v) && *json_string_value(v)) json_object_set(sa, fields[i], v);
    }
    resp->body = emu_strip(sa);
    emu_put(emu, key, sa);
out:
    free(email);
    free(key);
}

static void sa_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = load_sa(emu, req, resp);
    if (key) resp->body = emu_strip(emu_get(emu, key));
    free(key);
}

static void sa_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *prefix = xasprintf("iam/projects/%s/serviceAccounts/", req->params[0]);
    json_t *all = emu_children(emu, prefix, true);
    resp->body = json_object();
    emu_page_into(req, resp->body, "accounts", all, "pageSize", 100, false);
    json_decref(all);
    free(prefix);
}

/* PATCH {serviceAccount, updateMask} and the older PUT ServiceAccount. */
static void sa_change(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, int patch) {
    if (emu_validate(resp, "iam", patch ? "PatchServiceAccountRequest" : "ServiceAccount", req->body) < 0)
        return;
    char *key = load_sa(emu, req, resp);
    if (!key) return;
    json_t *sa = json_deep_copy(emu_get(emu, key));
    const json_t *in = patch ? json_object_get(req->body, "serviceAccount") : req->body;
    const char *mask = patch ? json_string_value(json_object_get(req->body, "updateMask")) : NULL;
    static const char *const imm[] = {"email", "uniqueId", "projectId", "oauth2ClientId", NULL};
    if (emu_check_immutable(resp, sa, in, imm) < 0) {
        json_decref(sa);
        free(key);
        return;
    }
    const char *fields[] = {"displayName", "description"};
    for (int i = 0; i < 2; i++) {
        if (mask && !strstr(mask, fields[i])) continue;
        json_t *v = json_object_get(in, fields[i]);
        if (json_is_string(v) && *json_string_value(v))
            json_object_set(sa, fields[i], v);
        else if (mask || (v && !json_is_string(v)))
            json_object_del(sa, fields[i]);
    }
    resp->body = emu_strip(sa);
    emu_put(emu, key, sa);
    free(key);
}

static void sa_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    sa_change(emu, req, resp, 1);
}
static void sa_update(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    sa_change(emu, req, resp, 0);
}

static void sa_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = load_sa(emu, req, resp);
    if (!key) return;
    emu_del_tree(emu, key);
    resp->body = json_object();
    free(key);
}

static void sa_enable(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, int on) {
    char *key = load_sa(emu, req, resp);
    if (!key) return;
    json_t *sa = json_deep_copy(emu_get(emu, key));
    if (on)
        json_object_del(sa, "disabled");
    else
        json_object_set_new(sa, "disabled", json_true());
    emu_put(emu, key, sa);
    resp->body = json_object();
    free(key);
}
static void sa_enable_on(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    sa_enable(emu, req, resp, 1);
}
static void sa_disable(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    sa_enable(emu, req, resp, 0);
}

/* ---- IAM policy ----------------------------------------------------------- */

static void sa_get_policy(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = load_sa(emu, req, resp);
    if (!key) return;
    emu_iam_get_below(emu, resp, key);
    free(key);
}

/* Workload Identity members need the pool PROJECT.svc.id.goog, which
 * exists once a cluster with Workload Identity does. */
static int pool_exists(emu_t *emu, const char *pool) {
    json_t *keys = emu_keys(emu, "container/projects/"), *k;
    size_t i;
    int found = 0;
    json_array_foreach(keys, i, k) {
        if (found || !strstr(json_string_value(k), "/clusters/")) continue;
        json_t *c = emu_get(emu, json_string_value(k));
        const char *wp =
            json_string_value(json_object_get(json_object_get(c, "workloadIdentityConfig"), "workloadPool"));
        found = wp && !strcmp(wp, pool);
    }
    json_decref(keys);
    return found;
}

static void sa_set_policy(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "iam", "SetIamPolicyRequest", req->body) < 0) return;
    char *key = load_sa(emu, req, resp);
    if (!key) return;
    size_t i, j;
    json_t *b, *m;
    json_array_foreach(json_object_get(json_object_get(req->body, "policy"), "bindings"), i, b) {
        json_array_foreach(json_object_get(b, "members"), j, m) {
            const char *s = json_string_value(m) ?: "";
            const char *svc = strstr(s, ".svc.id.goog[");
            if (strncmp(s, "serviceAccount:", 15) != 0 || !svc) continue;
            char *pool = xstrndup(s + 15, (size_t)(svc - (s + 15)) + strlen(".svc.id.goog"));
            if (!pool_exists(emu, pool)) {
                emu_bad_request(resp,
                                "Identity Pool does not exist (%s). Please check that you specified a "
                                "valid resource name as returned in the `name` attribute in the "
                                "configuration API.",
                                pool);
                free(pool);
                free(key);
                return;
            }
            free(pool);
        }
    }
    emu_iam_set_below(emu, resp, key, req->body);
    free(key);
}

static void sa_test_perms(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    emu_iam_test_perms(req, resp);
}

/* ---- keys ------------------------------------------------------------------ */

static char *bio_string(BIO *bio) {
    char *data;
    long len = BIO_get_mem_data(bio, &data);
    return xstrndup(data, (size_t)len);
}

static void key_create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "iam", "CreateServiceAccountKeyRequest", req->body) < 0) return;
    char *key = load_sa(emu, req, resp);
    if (!key) return;
    json_t *sa = emu_get(emu, key);
    const char *type = json_string_value(json_object_get(req->body, "privateKeyType"));
    if (type && strcmp(type, "TYPE_GOOGLE_CREDENTIALS_FILE") != 0 && strcmp(type, "TYPE_UNSPECIFIED") != 0) {
        emu_bad_request(resp, "The emulator only issues TYPE_GOOGLE_CREDENTIALS_FILE keys (got %s).", type);
        free(key);
        return;
    }
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    BIO *priv = BIO_new(BIO_s_mem()), *pub = BIO_new(BIO_s_mem());
    if (!pk || !PEM_write_bio_PrivateKey(priv, pk, NULL, NULL, 0, NULL, NULL) ||
        !PEM_write_bio_PUBKEY(pub, pk)) {
        emu_error(resp, 500, "INTERNAL", "internalError", "Key generation failed.");
        goto out;
    }
    char *priv_pem = bio_string(priv), *pub_pem = bio_string(pub);
    char kid[41];
    util_random_hex(kid, 20);
    const char *email = json_string_value(json_object_get(sa, "email"));
    const char *project = json_string_value(json_object_get(sa, "projectId"));
    char *cert_url = xasprintf("https://www.googleapis.com/robot/v1/metadata/x509/%s", email);
    char *token_uri = xasprintf("%s/oauth2/token", req->base_url ? req->base_url : "");
    json_t *file =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "type", "service_account", "project_id",
                  project, "private_key_id", kid, "private_key", priv_pem, "client_email", email, "client_id",
                  json_string_value(json_object_get(sa, "uniqueId")), "auth_uri",
                  "https://accounts.google.com/o/oauth2/auth", "token_uri", token_uri,
                  "auth_provider_x509_cert_url", "https://www.googleapis.com/oauth2/v1/certs",
                  "client_x509_cert_url", cert_url, "universe_domain", "googleapis.com");
    char *text = json_dumps(file, JSON_INDENT(2));
    char *data = emu_b64((const unsigned char *)text, strlen(text));
    char *name = xasprintf("%s/keys/%s", json_string_value(json_object_get(sa, "name")), kid);
    char *kkey = xasprintf("%s/keys/%s", key, kid);
    char now[40];
    snprintf(now, sizeof now, "%s", emu_now());
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "name", name, "validAfterTime", now,
                            "validBeforeTime", "9999-12-31T23:59:59Z", "keyAlgorithm", "KEY_ALG_RSA_2048",
                            "keyOrigin", "GOOGLE_PROVIDED", "keyType", "USER_MANAGED", "plinth:publicKeyPem",
                            pub_pem, "plinth:clientEmail", email, "plinth:keyId", kid);
    resp->body = emu_strip(doc);
    json_object_set_new(resp->body, "privateKeyType", json_string("TYPE_GOOGLE_CREDENTIALS_FILE"));
    json_object_set_new(resp->body, "privateKeyData", json_string(data));
    emu_put(emu, kkey, doc);
    free(kkey);
    free(name);
    free(data);
    free(text);
    json_decref(file);
    free(token_uri);
    free(cert_url);
    free(priv_pem);
    free(pub_pem);
out:
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(pk);
    free(key);
}

static void key_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = load_sa(emu, req, resp);
    if (!key) return;
    char *prefix = xasprintf("%s/keys/", key);
    json_t *keys = emu_keys(emu, prefix), *k, *items = json_array();
    size_t i;
    json_array_foreach(keys, i, k) {
        json_array_append_new(items, emu_strip(emu_get(emu, json_string_value(k))));
    }
    resp->body = json_pack("{s:o}", "keys", items);
    json_decref(keys);
    free(prefix);
    free(key);
}

static char *load_key(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = load_sa(emu, req, resp);
    if (!key) return NULL;
    char *kkey = xasprintf("%s/keys/%s", key, req->params[2]);
    free(key);
    if (!emu_get(emu, kkey)) {
        emu_not_found(resp, "Service account key %s does not exist.", req->params[2]);
        free(kkey);
        return NULL;
    }
    return kkey;
}

static void key_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *kkey = load_key(emu, req, resp);
    if (!kkey) return;
    json_t *doc = emu_get(emu, kkey);
    resp->body = emu_strip(doc);
    const char *pt = emu_q(req, "publicKeyType");
    if (pt && !strcmp(pt, "TYPE_RAW_PUBLIC_KEY")) {
        const char *pem = json_string_value(json_object_get(doc, "plinth:publicKeyPem")) ?: "";
        char *data = emu_b64((const unsigned char *)pem, strlen(pem));
        json_object_set_new(resp->body, "publicKeyData", json_string(data));
        free(data);
    }
    free(kkey);
}

static void key_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *kkey = load_key(emu, req, resp);
    if (!kkey) return;
    emu_del(emu, kkey);
    resp->body = json_object();
    free(kkey);
}

/* iam_roles.c */
void emu_iam_role_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_iam_role_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);

#define SA "v1/projects/{p}/serviceAccounts"
static const emu_route_t routes[] = {
    {"GET", "v1/roles", emu_iam_role_list},
    {"GET", "v1/roles/{r}", emu_iam_role_get},
    {"POST", SA, sa_create},
    {"GET", SA, sa_list},
    {"GET", SA "/{sa}", sa_get},
    {"PATCH", SA "/{sa}", sa_patch},
    {"PUT", SA "/{sa}", sa_update},
    {"DELETE", SA "/{sa}", sa_delete},
    {"POST", SA "/{sa}:enable", sa_enable_on},
    {"POST", SA "/{sa}:disable", sa_disable},
    {"POST", SA "/{sa}:getIamPolicy", sa_get_policy},
    {"POST", SA "/{sa}:setIamPolicy", sa_set_policy},
    {"POST", SA "/{sa}:testIamPermissions", sa_test_perms},
    {"POST", SA "/{sa}/keys", key_create},
    {"GET", SA "/{sa}/keys", key_list},
    {"GET", SA "/{sa}/keys/{k}", key_get},
    {"DELETE", SA "/{sa}/keys/{k}", key_delete},
};

const emu_api_t emu_api_iam = {"iam", routes, sizeof routes / sizeof routes[0], NULL};
