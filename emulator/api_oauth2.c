/* api_oauth2.c: emulated Google OAuth2 token endpoint.  POST /oauth2/token
 * accepts the JWT-bearer grant (RS256 assertions verified with OpenSSL
 * against keys made by iam keys.create and keys listed in
 * PLINTH_EMU_TRUSTED_KEYS) and the refresh_token grant (tokens listed in
 * PLINTH_EMU_REFRESH_TOKENS); it issues random access tokens stored at
 * "oauth2/tokens/<token>" with their expiry, which the server's
 * --require-auth check reads.  GET /oauth2/tokeninfo describes a token. */
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emulator/emu.h"

static const char *const audiences[] = {
    "https://oauth2.googleapis.com/token",
    "https://www.googleapis.com/oauth2/v4/token",
    "https://accounts.google.com/o/oauth2/token",
    "https://www.googleapis.com/oauth2/v3/token",
    NULL,
};

static int64_t wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void oauth_error(emu_resp_t *resp, int http, const char *err, const char *desc) {
    json_decref(resp->body);
    resp->status = http;
    resp->body = json_pack("{s:s,s:s}", "error", err, "error_description", desc);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static char *form_decode(const char *s, size_t n) {
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            *o++ = s[i] == '+' ? ' ' : s[i];
        }
    }
    *o = '\0';
    return out;
}

/* application/x-www-form-urlencoded body (or JSON object) -> object of
 * strings (new); query parameters fill the gaps. */
static json_t *form_fields(const emu_req_t *req) {
    json_t *f = json_object();
    if (json_is_object(req->body)) {
        const char *k;
        json_t *v;
        json_object_foreach(req->body, k, v) {
            if (json_is_string(v)) json_object_set(f, k, v);
        }
    } else if (req->raw_body) {
        const char *s = req->raw_body, *end = req->raw_body + req->raw_len;
        while (s < end) {
            const char *amp = memchr(s, '&', (size_t)(end - s));
            const char *stop = amp ? amp : end;
            const char *eq = memchr(s, '=', (size_t)(stop - s));
            if (eq) {
                char *k = form_decode(s, (size_t)(eq - s));
                char *v = form_decode(eq + 1, (size_t)(stop - eq - 1));
                json_object_set_new(f, k, json_string(v));
                free(k);
                free(v);
            }
            s = stop + 1;
        }
    }
    const char *k;
    json_t *v;
    json_object_foreach(req->query, k, v) {
        if (!json_object_get(f, k)) json_object_set(f, k, v);
    }
    return f;
}

static json_t *b64_json(const char *s, size_t n) {
    size_t len;
    unsigned char *raw = emu_b64_decode(s, n, true, &len);
    if (!raw) return NULL;
    json_t *j = json_loadb((const char *)raw, len, 0, NULL);
    free(raw);
    return j;
}

static EVP_PKEY *load_pub(const char *pem) {
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    return k;
}

static int verify_rs256(const char *pem, const char *signed_part, size_t slen, const unsigned char *sig,
                        size_t siglen) {
    EVP_PKEY *k = load_pub(pem);
    if (!k) return 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)signed_part, slen) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(k);
    return ok;
}

/* Every public key the emulator trusts: [{pem, email?, kid?, sa?}] (new). */
static json_t *known_keys(emu_t *emu) {
    json_t *out = json_array(), *k;
    json_t *keys = emu_keys(emu, "iam/projects/");
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        const char *kp = strstr(key, "/keys/");
        json_t *doc = emu_get(emu, key);
        const char *pem = json_string_value(json_object_get(doc, "plinth:publicKeyPem"));
        if (!kp || !pem) continue;
        char *sa = xstrndup(key, (size_t)(kp - key));
        json_array_append_new(out,
                              json_pack("{s:s,s:s?,s:s?,s:s}", "pem", pem, "email",
                                        json_string_value(json_object_get(doc, "plinth:clientEmail")), "kid",
                                        json_string_value(json_object_get(doc, "plinth:keyId")), "sa", sa));
        free(sa);
    }
    json_decref(keys);
    keys = emu_keys(emu, "oauth2/trusted/");
    json_array_foreach(keys, i, k) {
        json_array_append(out, emu_get(emu, json_string_value(k)));
    }
    json_decref(keys);
    return out;
}

static int64_t token_ttl(void) {
    const char *t = getenv("PLINTH_EMU_TOKEN_TTL");
    long v = t && *t ? strtol(t, NULL, 10) : 3600;
    return v > 0 ? v : 3600;
}

static void issue(emu_t *emu, emu_resp_t *resp, const char *sub, const char *scope) {
    int64_t now = wall_ms();
    /* Drop expired tokens so the store does not grow without bound. */
    json_t *keys = emu_keys(emu, "oauth2/tokens/"), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        json_t *doc = emu_get(emu, json_string_value(k));
        if (json_integer_value(json_object_get(doc, "expires_ms")) < now) emu_del(emu, json_string_value(k));
    }
    json_decref(keys);
    char hex[49];
    util_random_hex(hex, 24);
    char *tok = xasprintf("ya29.emu-%s", hex);
    char *key = xasprintf("oauth2/tokens/%s", tok);
    int64_t ttl = token_ttl();
    emu_put(emu, key,
            json_pack("{s:I,s:s,s:s}", "expires_ms", (json_int_t)(now + ttl * 1000), "sub", sub, "scope",
                      scope ? scope : ""));
    resp->body = json_pack("{s:s,s:I,s:s}", "access_token", tok, "expires_in", (json_int_t)ttl, "token_type",
                           "Bearer");
    free(key);
    free(tok);
}

static int aud_ok(const emu_req_t *req, const char *aud) {
    for (size_t i = 0; audiences[i]; i++)
        if (!strcmp(aud, audiences[i])) return 1;
    if (req->base_url) {
        char *own = xasprintf("%s/oauth2/token", req->base_url);
        int ok = !strcmp(own, aud);
        free(own);
        return ok;
    }
    return 0;
}

static void jwt_grant(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const char *jwt) {
    const char *d1 = strchr(jwt, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.')) {
        oauth_error(resp, 400, "invalid_grant", "Invalid JWT: malformed assertion.");
        return;
    }
    json_t *hdr = b64_json(jwt, (size_t)(d1 - jwt));
    json_t *claims = b64_json(d1 + 1, (size_t)(d2 - d1 - 1));
    size_t siglen = 0;
    unsigned char *sig = emu_b64_decode(d2 + 1, strlen(d2 + 1), true, &siglen);
    json_t *keys = NULL;
    if (!json_is_object(hdr) || !json_is_object(claims) || !sig) {
        oauth_error(resp, 400, "invalid_grant", "Invalid JWT: malformed assertion.");
        goto out;
    }
    const char *alg = json_string_value(json_object_get(hdr, "alg"));
    if (!alg || strcmp(alg, "RS256") != 0) {
        oauth_error(resp, 400, "invalid_grant", "Invalid JWT: unsupported signing algorithm.");
        goto out;
    }
    const char *kid = json_string_value(json_object_get(hdr, "kid"));
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    if (!iss) {
        oauth_error(resp, 400, "invalid_grant", "Invalid JWT: missing 'iss' claim.");
        goto out;
    }
    keys = known_keys(emu);
    int candidates = 0, verified = 0;
    size_t i;
    json_t *k;
    const char *sa_key = NULL;
    json_array_foreach(keys, i, k) {
        const char *email = json_string_value(json_object_get(k, "email"));
        const char *kkid = json_string_value(json_object_get(k, "kid"));
        if (email && strcasecmp(email, iss) != 0) continue;
        if (kid && kkid && strcmp(kid, kkid) != 0) continue;
        candidates++;
        if (verify_rs256(json_string_value(json_object_get(k, "pem")), jwt, (size_t)(d2 - jwt), sig,
                         siglen)) {
            verified = 1;
            sa_key = json_string_value(json_object_get(k, "sa"));
            break;
        }
    }
    if (!candidates) {
        oauth_error(resp, 400, "invalid_grant", "Invalid grant: account not found");
        goto out;
    }
    if (!verified) {
        oauth_error(resp, 400, "invalid_grant", "Invalid JWT Signature.");
        goto out;
    }
    if (sa_key && json_is_true(json_object_get(emu_get(emu, sa_key), "disabled"))) {
        oauth_error(resp, 400, "invalid_grant", "Invalid grant: account disabled");
        goto out;
    }
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    if (!aud || !aud_ok(req, aud)) {
        oauth_error(resp, 400, "invalid_grant",
                    "Invalid JWT: Failed audience check. The right audience is "
                    "https://oauth2.googleapis.com/token");
        goto out;
    }
    json_t *jexp = json_object_get(claims, "exp"), *jiat = json_object_get(claims, "iat");
    int64_t now = wall_ms() / 1000;
    int64_t exp = (int64_t)json_number_value(jexp), iat = (int64_t)json_number_value(jiat);
    if (!json_is_number(jexp) || !json_is_number(jiat) || exp <= now || iat > now + 300 || exp < iat ||
        exp - iat > 3600 + 60) {
        oauth_error(resp, 400, "invalid_grant",
                    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
                    "reasonable timeframe. Check your iat and exp values in the JWT claim.");
        goto out;
    }
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    issue(emu, resp, sub ? sub : iss, json_string_value(json_object_get(claims, "scope")));
out:
    json_decref(keys);
    json_decref(hdr);
    json_decref(claims);
    free(sig);
}

static int listed(const char *list, const char *tok) {
    if (!list || !tok || !*tok) return 0;
    size_t n = strlen(tok);
    for (const char *s = list; *s;) {
        size_t len = strcspn(s, ",");
        if (len == n && !strncmp(s, tok, n)) return 1;
        s += len;
        if (*s == ',') s++;
    }
    return 0;
}

static void token(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *f = form_fields(req);
    const char *grant = json_string_value(json_object_get(f, "grant_type"));
    if (!grant) {
        oauth_error(resp, 400, "invalid_request", "Missing required parameter: grant_type");
    } else if (!strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer")) {
        const char *a = json_string_value(json_object_get(f, "assertion"));
        if (!a)
            oauth_error(resp, 400, "invalid_request", "Missing required parameter: assertion");
        else
            jwt_grant(emu, req, resp, a);
    } else if (!strcmp(grant, "refresh_token")) {
        const char *rt = json_string_value(json_object_get(f, "refresh_token"));
        const char *cid = json_string_value(json_object_get(f, "client_id"));
        const char *cs = json_string_value(json_object_get(f, "client_secret"));
        if (!cid || !*cid || !cs || !*cs)
            oauth_error(resp, 401, "invalid_client", "The OAuth client was not found.");
        else if (!listed(getenv("PLINTH_EMU_REFRESH_TOKENS"), rt))
            oauth_error(resp, 400, "invalid_grant", "Bad Request");
        else
            issue(emu, resp, cid, json_string_value(json_object_get(f, "scope")));
    } else {
        char msg[300];
        snprintf(msg, sizeof msg, "Invalid grant_type: %s", grant);
        oauth_error(resp, 400, "unsupported_grant_type", msg);
    }
    json_decref(f);
}

static void tokeninfo(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *f = form_fields(req);
    const char *tok = json_string_value(json_object_get(f, "access_token"));
    char *key = tok ? xasprintf("oauth2/tokens/%s", tok) : NULL;
    json_t *doc = key ? emu_get(emu, key) : NULL;
    int64_t now = wall_ms();
    int64_t exp = json_integer_value(json_object_get(doc, "expires_ms"));
    if (!doc || exp <= now) {
        oauth_error(resp, 400, "invalid_token", "Invalid Value");
    } else {
        const char *sub = json_string_value(json_object_get(doc, "sub")) ?: "";
        char e[32], in[32];
        snprintf(e, sizeof e, "%lld", (long long)(exp / 1000));
        snprintf(in, sizeof in, "%lld", (long long)((exp - now) / 1000));
        resp->body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "azp", sub, "aud", sub, "sub", sub, "scope",
                               json_string_value(json_object_get(doc, "scope")) ?: "", "exp", e, "expires_in",
                               in, "access_type", "online");
        if (strchr(sub, '@')) json_object_set_new(resp->body, "email", json_string(sub));
    }
    free(key);
    json_decref(f);
}

/* PLINTH_EMU_TRUSTED_KEYS=path1:path2: service-account JSON key files or
 * PEM files (public key, private key or certificate). */
static void load_trusted(emu_t *emu, const char *path, int n) {
    perr_t e;
    size_t len;
    char *text = util_read_file(path, &len, &e);
    if (!text) return;
    char *pem = NULL;
    const char *email = NULL, *kid = NULL;
    json_t *j = json_loads(text, 0, NULL);
    const char *src = text;
    if (json_is_object(j)) {
        src = json_string_value(json_object_get(j, "private_key"));
        email = json_string_value(json_object_get(j, "client_email"));
        kid = json_string_value(json_object_get(j, "private_key_id"));
    }
    if (src) {
        BIO *in = BIO_new_mem_buf(src, -1);
        EVP_PKEY *k = PEM_read_bio_PUBKEY(in, NULL, NULL, NULL);
        if (!k) {
            BIO_reset(in);
            k = PEM_read_bio_PrivateKey(in, NULL, NULL, NULL);
        }
        if (!k) {
            BIO_reset(in);
            X509 *x = PEM_read_bio_X509(in, NULL, NULL, NULL);
            if (x) {
                k = X509_get_pubkey(x);
                X509_free(x);
            }
        }
        BIO_free(in);
        if (k) {
            BIO *out = BIO_new(BIO_s_mem());
            if (PEM_write_bio_PUBKEY(out, k)) {
                char *data;
                long l = BIO_get_mem_data(out, &data);
                pem = xstrndup(data, (size_t)l);
            }
            BIO_free(out);
            EVP_PKEY_free(k);
        }
    }
    if (pem) {
        char *key = xasprintf("oauth2/trusted/%03d", n);
        emu_put(emu, key,
                json_pack("{s:s,s:s,s:s?,s:s?}", "pem", pem, "path", path, "email", email, "kid", kid));
        free(key);
    }
    free(pem);
    json_decref(j);
    free(text);
}

static void init(emu_t *emu) {
    json_t *old = emu_keys(emu, "oauth2/trusted/"), *k;
    size_t i;
    json_array_foreach(old, i, k) {
        emu_del(emu, json_string_value(k));
    }
    json_decref(old);
    const char *env = getenv("PLINTH_EMU_TRUSTED_KEYS");
    if (!env) return;
    char *copy = xstrdup(env), *save = NULL;
    int n = 0;
    for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save))
        if (*p) load_trusted(emu, p, n++);
    free(copy);
}

static const emu_route_t routes[] = {
    {"POST", "token", token},         {"POST", "oauth2/v4/token", token},
    {"POST", "v4/token", token},      {"GET", "tokeninfo", tokeninfo},
    {"POST", "tokeninfo", tokeninfo}, {"GET", "oauth2/v3/tokeninfo", tokeninfo},
};

const emu_api_t emu_api_oauth2 = {"oauth2", routes, sizeof routes / sizeof routes[0], init};
