/* gcp_auth.c: Google credentials for the transport: the credential chain
 * (access-token env, key file, gcloud ADC file, metadata server), the
 * service-account JWT bearer grant signed with OpenSSL, the refresh-token
 * flow, impersonation through iamcredentials, and the token cache.
 * Tokens never reach error messages; the HTTP log redacts them. */
#include "transport/gcp_auth.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#define SCOPE "https://www.googleapis.com/auth/cloud-platform"
#define DEFAULT_TOKEN_URI "https://oauth2.googleapis.com/token"
#define REFRESH_MARGIN_MS (5 * 60 * 1000)
#define METADATA_TIMEOUT_MS 1000

typedef enum { SRC_NONE, SRC_STATIC, SRC_SA, SRC_USER, SRC_METADATA } src_t;

struct gcp_auth {
    gcp_client_t *c;
    src_t src;
    char *file;
    char *client_email, *private_key, *key_id, *token_uri;
    char *aud; /* the key file's token_uri, before an emulator rewrite */
    char *client_id, *client_secret, *refresh_token, *quota_project;
    char *metadata_host;
    char *impersonate;
    char *tried; /* what the chain looked at, for the no-credentials error */

    pthread_mutex_t mu;
    char *base_token; /* from the credential */
    int64_t base_expiry_ms;
    int64_t base_margin_ms; /* refresh this long before expiry */
    char *token;            /* what is sent: base or impersonated */
    int64_t expiry_ms;
};

/* ---- base64url and JWT ---- */

char *gcp_auth_b64url(const unsigned char *data, size_t len) {
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    int n = EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = 0;
    for (int i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
    return out;
}

static char *b64url_json(json_t *o) {
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    char *r = gcp_auth_b64url((const unsigned char *)s, strlen(s));
    free(s);
    return r;
}

static EVP_PKEY *load_key(const char *pem, char *why, size_t whylen) {
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!k) {
        unsigned long err = ERR_get_error();
        char buf[256] = "not a PEM private key";
        if (err) ERR_error_string_n(err, buf, sizeof buf);
        ERR_clear_error();
        snprintf(why, whylen, "%s", buf);
        return NULL;
    }
    if (EVP_PKEY_base_id(k) != EVP_PKEY_RSA) {
        snprintf(why, whylen, "not an RSA key");
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

char *gcp_auth_make_jwt(const char *pem_key, const char *kid, const char *email, const char *aud, int64_t now,
                        perr_t *e) {
    char why[300];
    EVP_PKEY *k = load_key(pem_key, why, sizeof why);
    if (!k) {
        perr_set(e, "", "cannot read private_key: %s", why);
        return NULL;
    }
    json_t *h = json_pack("{s:s,s:s}", "alg", "RS256", "typ", "JWT");
    if (kid && kid[0]) json_object_set_new(h, "kid", json_string(kid));
    json_t *cl = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", email, "scope", SCOPE, "aud", aud, "iat",
                           (json_int_t)now, "exp", (json_int_t)(now + 3600));
    char *hs = b64url_json(h), *cs = b64url_json(cl);
    json_decref(h);
    json_decref(cl);
    char *input = xasprintf("%s.%s", hs, cs);
    free(hs);
    free(cs);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    size_t siglen = 0;
    unsigned char *sig = NULL;
    char *jwt = NULL;
    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k) == 1 &&
        EVP_DigestSign(md, NULL, &siglen, (const unsigned char *)input, strlen(input)) == 1) {
        sig = xmalloc(siglen);
        if (EVP_DigestSign(md, sig, &siglen, (const unsigned char *)input, strlen(input)) == 1) {
            char *ss = gcp_auth_b64url(sig, siglen);
            jwt = xasprintf("%s.%s", input, ss);
            free(ss);
        }
    }
    if (!jwt) {
        ERR_clear_error();
        perr_set(e, "", "cannot sign the JWT with private_key");
    }
    free(sig);
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(k);
    free(input);
    return jwt;
}

/* ---- credential chain ---- */

static void tried_add(gcp_auth_t *a, const char *fmt, const char *arg) {
    sbuf_t b = {0};
    if (a->tried) sbuf_addf(&b, "%s; ", a->tried);
    sbuf_addf(&b, fmt, arg);
    free(a->tried);
    a->tried = sbuf_steal(&b);
}

static char *dup_str(json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s && s[0] ? xstrdup(s) : NULL;
}

/* Loads a key file into a; 0, or -1 with e naming the file. */
static int load_file(gcp_auth_t *a, const char *path, const gcp_opts_t *opts, perr_t *e) {
    perr_t fe = {0};
    size_t len;
    char *text = util_read_file(path, &len, &fe);
    if (!text) {
        perr_set(e, path, "cannot read the credentials file %s: %s", path, fe.msg);
        return -1;
    }
    json_error_t je;
    json_t *o = json_loadb(text, len, 0, &je);
    free(text);
    if (!json_is_object(o)) {
        if (o)
            perr_set(e, path, "credentials file %s: not a JSON object", path);
        else
            perr_set(e, path, "credentials file %s: bad JSON at line %d: %s", path, je.line, je.text);
        json_decref(o);
        return -1;
    }
    const char *type = json_string_value(json_object_get(o, "type"));
    int rc = -1;
    a->file = xstrdup(path);
    if (!type) {
        perr_set(e, path,
                 "credentials file %s: missing \"type\" (want service_account or "
                 "authorized_user)",
                 path);
    } else if (strcmp(type, "service_account") == 0) {
        a->src = SRC_SA;
        a->client_email = dup_str(o, "client_email");
        a->private_key = dup_str(o, "private_key");
        a->key_id = dup_str(o, "private_key_id");
        a->token_uri = dup_str(o, "token_uri");
        char why[300];
        EVP_PKEY *k = NULL;
        if (!a->client_email)
            perr_set(e, path, "credentials file %s: service_account key has no client_email", path);
        else if (!a->private_key)
            perr_set(e, path, "credentials file %s: service_account key has no private_key", path);
        else if (!(k = load_key(a->private_key, why, sizeof why)))
            perr_set(e, path, "credentials file %s: unreadable private_key: %s", path, why);
        else
            rc = 0;
        EVP_PKEY_free(k);
    } else if (strcmp(type, "authorized_user") == 0) {
        a->src = SRC_USER;
        a->client_id = dup_str(o, "client_id");
        a->client_secret = dup_str(o, "client_secret");
        a->refresh_token = dup_str(o, "refresh_token");
        a->token_uri = dup_str(o, "token_uri");
        a->quota_project = dup_str(o, "quota_project_id");
        if (!a->quota_project && opts->project && opts->project[0]) a->quota_project = xstrdup(opts->project);
        const char *miss = !a->client_id       ? "client_id"
                           : !a->client_secret ? "client_secret"
                           : !a->refresh_token ? "refresh_token"
                                               : NULL;
        if (miss)
            perr_set(e, path, "credentials file %s: authorized_user credentials have no %s", path, miss);
        else
            rc = 0;
    } else {
        perr_set(e, path,
                 "credentials file %s: credential type \"%s\" is not supported (want "
                 "service_account or authorized_user)",
                 path, type);
    }
    json_decref(o);
    if (rc == 0 && !a->token_uri) a->token_uri = xstrdup(DEFAULT_TOKEN_URI);
    if (rc == 0) a->aud = xstrdup(a->token_uri);
    return rc;
}

/* With an emulator, https://NAME.googleapis.com/PATH becomes
 * <endpoint>/NAME/PATH (only the host part is rewritten). */
static void rewrite_token_uri(gcp_auth_t *a) {
    const char *ep = gcp_http_endpoint(a->c);
    if (!ep || !a->token_uri) return;
    const char *u = a->token_uri;
    const char *p = strstr(u, "://");
    if (!p) return;
    const char *host = p + 3;
    const char *slash = strchr(host, '/');
    size_t hl = slash ? (size_t)(slash - host) : strlen(host);
    const char *suffix = ".googleapis.com";
    size_t sl = strlen(suffix);
    if (hl <= sl || strncasecmp(host + hl - sl, suffix, sl) != 0) return;
    char *n = xasprintf("%s/%.*s%s", ep, (int)(hl - sl), host, slash ? slash : "/");
    free(a->token_uri);
    a->token_uri = n;
}

static bool file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

gcp_auth_t *gcp_auth_new(gcp_client_t *c, const gcp_opts_t *opts, perr_t *e) {
    gcp_auth_t *a = xcalloc(1, sizeof *a);
    a->c = c;
    pthread_mutex_init(&a->mu, NULL);
    if (opts->impersonate && opts->impersonate[0]) a->impersonate = xstrdup(opts->impersonate);
    const char *tok = getenv("GOOGLE_OAUTH_ACCESS_TOKEN");
    const char *gac = getenv("GOOGLE_APPLICATION_CREDENTIALS");
    if (tok && tok[0]) {
        a->src = SRC_STATIC;
        a->base_token = xstrdup(tok);
        a->base_expiry_ms = INT64_MAX;
        gcp_client_add_secret(c, tok);
    } else if (gac && gac[0]) {
        if (load_file(a, gac, opts, e) < 0) goto err;
    } else {
        tried_add(a, "%s", "GOOGLE_OAUTH_ACCESS_TOKEN (unset)");
        tried_add(a, "%s", "GOOGLE_APPLICATION_CREDENTIALS (unset)");
        const char *cfg = getenv("CLOUDSDK_CONFIG");
        const char *home = getenv("HOME");
        char *adc = NULL;
        if (cfg && cfg[0])
            adc = xasprintf("%s/application_default_credentials.json", cfg);
        else if (home && home[0])
            adc = xasprintf("%s/.config/gcloud/application_default_credentials.json", home);
        if (adc && file_exists(adc)) {
            int rc = load_file(a, adc, opts, e);
            free(adc);
            if (rc < 0) goto err;
        } else {
            if (adc) tried_add(a, "gcloud ADC file %s (not found)", adc);
            free(adc);
            if (!gcp_http_endpoint(c)) {
                const char *mh = getenv("GCE_METADATA_HOST");
                if (!mh || !mh[0]) mh = getenv("GCE_METADATA_ROOT");
                a->metadata_host = xstrdup(mh && mh[0] ? mh : "metadata.google.internal");
                a->src = SRC_METADATA;
            } else {
                a->src = SRC_NONE;
            }
        }
    }
    /* An explicit quota project applies to every kind of credential. */
    const char *qp = getenv("GOOGLE_CLOUD_QUOTA_PROJECT");
    if (qp && qp[0]) {
        free(a->quota_project);
        a->quota_project = xstrdup(qp);
    }
    rewrite_token_uri(a);
    return a;
err:
    gcp_auth_free(a);
    return NULL;
}

void gcp_auth_free(gcp_auth_t *a) {
    if (!a) return;
    free(a->file);
    free(a->client_email);
    free(a->private_key);
    free(a->key_id);
    free(a->token_uri);
    free(a->aud);
    free(a->client_id);
    free(a->client_secret);
    free(a->refresh_token);
    free(a->quota_project);
    free(a->metadata_host);
    free(a->impersonate);
    free(a->tried);
    free(a->base_token);
    free(a->token);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

const char *gcp_auth_quota_project(const gcp_auth_t *a) {
    return a && a->src != SRC_NONE ? a->quota_project : NULL;
}

/* ---- token fetches ---- */

static void form_add(sbuf_t *b, const char *k, const char *v) {
    if (b->len) sbuf_addc(b, '&');
    sbuf_add(b, k);
    sbuf_addc(b, '=');
    for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~')
            sbuf_addc(b, (char)*p);
        else
            sbuf_addf(b, "%%%02X", *p);
    }
}

/* Reads {access_token, expires_in} from a token response. */
static int take_token(gcp_auth_t *a, const gcp_resp_t *r, const char *what, perr_t *e) {
    const char *t = json_string_value(json_object_get(r->body, "access_token"));
    if (!t || !t[0]) {
        perr_set(e, "", "%s: the token response has no access_token", what);
        return -1;
    }
    json_t *ei = json_object_get(r->body, "expires_in");
    double secs = json_is_string(ei) ? atof(json_string_value(ei)) : json_number_value(ei);
    if (!(secs > 0)) secs = 3600;
    free(a->base_token);
    a->base_token = xstrdup(t);
    a->base_expiry_ms = util_now_ms() + (int64_t)(secs * 1000);
    /* Five minutes early, or a quarter of the lifetime for short-lived
     * tokens, so a token is not refreshed on every request. */
    a->base_margin_ms = (int64_t)(secs * 1000) / 4;
    if (a->base_margin_ms > REFRESH_MARGIN_MS) a->base_margin_ms = REFRESH_MARGIN_MS;
    gcp_client_add_secret(a->c, t);
    return 0;
}

static int post_form(gcp_auth_t *a, const char *body, const char *const *hdrs, gcp_resp_t *r,
                     const char *what, perr_t *e) {
    if (gcp_http_send(a->c, "POST", "oauth2", a->token_uri, "application/x-www-form-urlencoded", body,
                      strlen(body), hdrs, 60000, GCP_SEND_RETRY, r, e) < 0) {
        perr_wrap(e, "%s", what);
        return -1;
    }
    if (r->status != 200) {
        gcp_resp_error(r, "POST", a->token_uri, e);
        perr_wrap(e, "%s", what);
        return -1;
    }
    return 0;
}

static int fetch_sa(gcp_auth_t *a, perr_t *e) {
    char what[600];
    snprintf(what, sizeof what, "service account %s (%s): token exchange failed", a->client_email, a->file);
    char *jwt = gcp_auth_make_jwt(a->private_key, a->key_id, a->client_email, a->aud, (int64_t)time(NULL), e);
    if (!jwt) {
        perr_wrap(e, "%s", a->file);
        return -1;
    }
    gcp_client_add_secret(a->c, jwt);
    sbuf_t b = {0};
    form_add(&b, "grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer");
    form_add(&b, "assertion", jwt);
    free(jwt);
    gcp_resp_t r;
    int rc = post_form(a, b.s, NULL, &r, what, e);
    sbuf_free(&b);
    if (rc == 0) rc = take_token(a, &r, what, e);
    gcp_resp_free(&r);
    return rc;
}

static int fetch_user(gcp_auth_t *a, perr_t *e) {
    char what[600];
    snprintf(what, sizeof what, "authorized_user credentials (%s): token refresh failed", a->file);
    sbuf_t b = {0};
    form_add(&b, "grant_type", "refresh_token");
    form_add(&b, "client_id", a->client_id);
    form_add(&b, "client_secret", a->client_secret);
    form_add(&b, "refresh_token", a->refresh_token);
    gcp_client_add_secret(a->c, a->refresh_token);
    gcp_client_add_secret(a->c, a->client_secret);
    char *qp = a->quota_project ? xasprintf("X-Goog-User-Project: %s", a->quota_project) : NULL;
    const char *hdrs[] = {qp, NULL};
    gcp_resp_t r;
    int rc = post_form(a, b.s, qp ? hdrs : NULL, &r, what, e);
    sbuf_free(&b);
    free(qp);
    if (rc == 0) rc = take_token(a, &r, what, e);
    gcp_resp_free(&r);
    return rc;
}

static int fetch_metadata(gcp_auth_t *a, perr_t *e) {
    char *url =
        xasprintf("http://%s/computeMetadata/v1/instance/service-accounts/default/token", a->metadata_host);
    const char *hdrs[] = {"Metadata-Flavor: Google", NULL};
    gcp_resp_t r;
    perr_t me = {0};
    int rc = gcp_http_send(a->c, "GET", "metadata", url, NULL, NULL, 0, hdrs, METADATA_TIMEOUT_MS,
                           GCP_SEND_ALLOW_HTTP, &r, &me);
    if (rc == 0 && r.status != 200) {
        gcp_resp_error(&r, "GET", url, &me);
        rc = -1;
    }
    if (rc == 0) rc = take_token(a, &r, url, &me);
    gcp_resp_free(&r);
    if (rc < 0)
        perr_set(e, "",
                 "no Google Cloud credentials found; tried: %s; metadata server %s "
                 "(%s). "
                 "Set GOOGLE_APPLICATION_CREDENTIALS to a key file or run `gcloud auth "
                 "application-default login`; to work offline use `--local` or "
                 "PLINTH_GCP_ENDPOINT=http://127.0.0.1:PORT (the emulator)",
                 a->tried ? a->tried : "", a->metadata_host, me.msg);
    free(url);
    return rc;
}

/* RFC 3339 "2026-01-01T00:00:00Z" (fraction and offset allowed) -> epoch. */
static int64_t parse_rfc3339(const char *s) {
    struct tm tm = {0};
    const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!p) return -1;
    int64_t t = (int64_t)timegm(&tm);
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++) {
        }
    if (*p == '+' || *p == '-') {
        int hh = 0, mm = 0;
        if (sscanf(p + 1, "%d:%d", &hh, &mm) >= 1) t -= (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
    }
    return t;
}

static int fetch_impersonated(gcp_auth_t *a, perr_t *e) {
    char *path = xasprintf("v1/projects/-/serviceAccounts/%s:generateAccessToken", a->impersonate);
    char *url = gcp_url(a->c, "iamcredentials", path);
    free(path);
    char *authz = xasprintf("Authorization: Bearer %s", a->base_token);
    const char *hdrs[] = {authz, NULL};
    const char *body = "{\"scope\":[\"" SCOPE "\"],\"lifetime\":\"3600s\"}";
    gcp_resp_t r;
    int rc = gcp_http_send(a->c, "POST", "iamcredentials", url, "application/json", body, strlen(body), hdrs,
                           60000, GCP_SEND_RETRY, &r, e);
    free(authz);
    if (rc == 0 && r.status != 200) {
        gcp_resp_error(&r, "POST", url, e);
        rc = -1;
    }
    const char *t = rc == 0 ? json_string_value(json_object_get(r.body, "accessToken")) : NULL;
    if (rc == 0 && !t) {
        perr_set(e, "", "POST %s: the response has no accessToken", url);
        rc = -1;
    }
    if (rc == 0) {
        int64_t exp = parse_rfc3339(json_string_value(json_object_get(r.body, "expireTime")));
        int64_t left = exp > 0 ? (exp - (int64_t)time(NULL)) * 1000 : 3600 * 1000;
        free(a->token);
        a->token = xstrdup(t);
        a->expiry_ms = util_now_ms() + left;
        gcp_client_add_secret(a->c, t);
    } else {
        perr_wrap(e, "impersonating %s", a->impersonate);
    }
    gcp_resp_free(&r);
    free(url);
    return rc;
}

int gcp_auth_token(gcp_auth_t *a, bool force, char **token, perr_t *e) {
    *token = NULL;
    if (!a || a->src == SRC_NONE) return 0;
    pthread_mutex_lock(&a->mu);
    int64_t now = util_now_ms();
    int rc = 0;
    bool base_stale = force || !a->base_token || now >= a->base_expiry_ms - a->base_margin_ms;
    if (a->src == SRC_STATIC) base_stale = false;
    if (base_stale) {
        switch (a->src) {
        case SRC_SA: rc = fetch_sa(a, e); break;
        case SRC_USER: rc = fetch_user(a, e); break;
        case SRC_METADATA: rc = fetch_metadata(a, e); break;
        default: break;
        }
    }
    if (rc == 0 && a->impersonate) {
        if (base_stale || force || !a->token || now >= a->expiry_ms - REFRESH_MARGIN_MS)
            rc = fetch_impersonated(a, e);
        if (rc == 0) *token = xstrdup(a->token);
    } else if (rc == 0) {
        *token = xstrdup(a->base_token);
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}
