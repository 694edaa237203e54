/* test_gcp_auth.c: credentials for the gcp transport: service-account
 * JWTs that verify with the key's public half, the token exchange and its
 * cache, refresh on expiry and on 401, the authorized_user flow with its
 * quota project, the metadata server, impersonation, malformed key files
 * and GOOGLE_OAUTH_ACCESS_TOKEN precedence.  A libmicrohttpd server on
 * 127.0.0.1 plays Google. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "providers/gcp/gcp_auth.h"
#include "providers/gcp/gcp_http.h"

/* ---- scripted server ---- */

typedef struct rule {
    char method[8];
    char path[256]; /* exact path, "" = any */
    int status;
    char *body;
    int retry_after; /* seconds, -1 none */
    int times;       /* uses left, -1 = forever */
    int drop;        /* close the connection after reading the body */
} rule_t;

typedef struct seen {
    char method[8];
    char path[256];
    char *body;
    char auth[512];
    char quota[128];
    char flavor[64];
    char ctype[128];
} seen_t;

typedef struct srv {
    struct MHD_Daemon *d;
    int port;
    char base[64];
    pthread_mutex_t mu;
    rule_t rules[32];
    int nrules;
    seen_t seen[512];
    int nseen;
    int active, max_active;
    int delay_ms;
} srv_t;

typedef struct conn {
    char *buf;
    size_t len;
} conn_t;

static void srv_rule(srv_t *s, const char *method, const char *path, int status, const char *body,
                     int retry_after, int times, int drop) {
    pthread_mutex_lock(&s->mu);
    rule_t *r = &s->rules[s->nrules++];
    snprintf(r->method, sizeof r->method, "%s", method ? method : "");
    snprintf(r->path, sizeof r->path, "%s", path ? path : "");
    r->status = status;
    r->body = body ? strdup(body) : NULL;
    r->retry_after = retry_after;
    r->times = times;
    r->drop = drop;
    pthread_mutex_unlock(&s->mu);
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *mc, const char *url,
                               const char *method, const char *version, const char *up,
                               size_t *uplen, void **cc) {
    srv_t *s = cls;
    conn_t *c = *cc;
    if (!c) {
        *cc = calloc(1, sizeof(conn_t));
        return MHD_YES;
    }
    if (*uplen) {
        c->buf = realloc(c->buf, c->len + *uplen + 1);
        memcpy(c->buf + c->len, up, *uplen);
        c->len += *uplen;
        c->buf[c->len] = 0;
        *uplen = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    s->active++;
    if (s->active > s->max_active) s->max_active = s->active;
    if (s->nseen < 512) {
        seen_t *sn = &s->seen[s->nseen++];
        snprintf(sn->method, sizeof sn->method, "%s", method);
        snprintf(sn->path, sizeof sn->path, "%s", url);
        sn->body = c->buf ? strdup(c->buf) : NULL;
        const char *a = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Authorization");
        snprintf(sn->auth, sizeof sn->auth, "%s", a ? a : "");
        a = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "X-Goog-User-Project");
        snprintf(sn->quota, sizeof sn->quota, "%s", a ? a : "");
        a = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Metadata-Flavor");
        snprintf(sn->flavor, sizeof sn->flavor, "%s", a ? a : "");
        a = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, "Content-Type");
        snprintf(sn->ctype, sizeof sn->ctype, "%s", a ? a : "");
    }
    rule_t *hit = NULL;
    for (int i = 0; i < s->nrules; i++) {
        rule_t *r = &s->rules[i];
        if (r->times == 0) continue;
        if (r->method[0] && strcmp(r->method, method) != 0) continue;
        if (r->path[0] && strcmp(r->path, url) != 0) continue;
        hit = r;
        if (r->times > 0) r->times--;
        break;
    }
    int status = hit ? hit->status : 200;
    char *body = hit && hit->body ? strdup(hit->body) : NULL;
    int ra = hit ? hit->retry_after : -1, drop = hit ? hit->drop : 0;
    int delay = s->delay_ms;
    pthread_mutex_unlock(&s->mu);
    if (delay) usleep((useconds_t)delay * 1000);
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_mutex_unlock(&s->mu);
    if (drop) {
        free(body);
        return MHD_NO;
    }
    if (!body) body = strdup("{\"ok\":true}");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (ra >= 0) {
        char b[16];
        snprintf(b, sizeof b, "%d", ra);
        MHD_add_response_header(resp, "Retry-After", b);
    }
    enum MHD_Result rc = MHD_queue_response(mc, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void completed(void *cls, struct MHD_Connection *mc, void **cc,
                      enum MHD_RequestTerminationCode toe) {
    conn_t *c = *cc;
    if (c) {
        free(c->buf);
        free(c);
    }
    *cc = NULL;
}

static srv_t *srv_start(void) {
    srv_t *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ERROR_LOG * 0,
                            0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, &sa,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di->port;
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    return s;
}

static void srv_stop(srv_t *s) {
    MHD_stop_daemon(s->d);
    for (int i = 0; i < s->nrules; i++) free(s->rules[i].body);
    for (int i = 0; i < s->nseen; i++) free(s->seen[i].body);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int srv_count(srv_t *s, const char *path) {
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (int i = 0; i < s->nseen; i++)
        if (!path || strcmp(s->seen[i].path, path) == 0) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static const seen_t *srv_nth(srv_t *s, const char *path, int nth) {
    for (int i = 0; i < s->nseen; i++)
        if (strcmp(s->seen[i].path, path) == 0 && nth-- == 0) return &s->seen[i];
    return NULL;
}

/* ---- fixtures ---- */

static char tmpdir[64];
static char *pem_priv, *pem_pub;

static int group_setup(void **state) {
    EVP_PKEY *k = EVP_RSA_gen(2048);
    if (!k) return -1;
    BIO *b = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL); /* PKCS#8 */
    char *p;
    long n = BIO_get_mem_data(b, &p);
    pem_priv = strndup(p, (size_t)n);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(b, k);
    n = BIO_get_mem_data(b, &p);
    pem_pub = strndup(p, (size_t)n);
    BIO_free(b);
    EVP_PKEY_free(k);
    return 0;
}

static int group_teardown(void **state) {
    free(pem_priv);
    free(pem_pub);
    return 0;
}

static int setup(void **state) {
    unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    unsetenv("CLOUDSDK_CONFIG");
    unsetenv("GOOGLE_CLOUD_QUOTA_PROJECT");
    unsetenv("GCE_METADATA_HOST");
    unsetenv("GCE_METADATA_ROOT");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/plinth-auth-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    setenv("HOME", tmpdir, 1);
    *state = srv_start();
    return 0;
}

static int teardown(void **state) {
    srv_stop(*state);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    return system(cmd) == 0 ? 0 : -1;
}

static char *write_tmp(const char *name, const char *text) {
    char *path = xasprintf("%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static char *sa_key_json(const char *email, const char *pem) {
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "service_account", "project_id", "p",
                          "private_key_id", "kid-1", "client_email", email, "client_id", "123",
                          "token_uri", "https://oauth2.googleapis.com/token");
    if (pem) json_object_set_new(o, "private_key", json_string(pem));
    char *s = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    return s;
}

static gcp_client_t *client_for(srv_t *s, const char *endpoint, const char *log, perr_t *e) {
    gcp_opts_t o = {0};
    o.endpoint = endpoint ? endpoint : s->base;
    o.http_log = log;
    o.retry_budget_ms = 3000;
    return gcp_client_new(&o, e);
}

static unsigned char *b64url_decode(const char *in, size_t len, size_t *outlen) {
    sbuf_t b = {0};
    for (size_t i = 0; i < len; i++) sbuf_addc(&b, in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i]);
    int pad = (4 - (int)(len % 4)) % 4;
    for (int i = 0; i < pad; i++) sbuf_addc(&b, '=');
    unsigned char *out = malloc(b.len + 1);
    int n = EVP_DecodeBlock(out, (unsigned char *)b.s, (int)b.len);
    assert_true(n >= 0);
    *outlen = (size_t)n - (size_t)pad;
    sbuf_free(&b);
    return out;
}

static json_t *b64url_json(const char *in, size_t len) {
    size_t n;
    unsigned char *d = b64url_decode(in, len, &n);
    json_t *o = json_loadb((char *)d, n, 0, NULL);
    free(d);
    assert_non_null(o);
    return o;
}

/* The assertion=... value of a form body (URL-decoded is not needed: a JWT
 * is made of URL-safe characters). */
static char *form_value(const char *body, const char *key) {
    char *pat = xasprintf("%s=", key);
    const char *p = strstr(body, pat);
    free(pat);
    if (!p) return NULL;
    p += strlen(key) + 1;
    const char *end = strchr(p, '&');
    return end ? strndup(p, (size_t)(end - p)) : strdup(p);
}

static const char *TOKEN_RESP = "{\"access_token\":\"ya29.tok-one\",\"expires_"
                                "in\":3599,\"token_type\":\"Bearer\"}";

/* ---- tests ---- */

static void test_service_account_jwt_verifies_and_token_is_sent(void **state) {
    srv_t *s = *state;
    srv_rule(s, "POST", "/oauth2/token", 200, TOKEN_RESP, -1, -1, 0);
    char *key = sa_key_json("robot@p.iam.gserviceaccount.com", pem_priv);
    char *path = write_tmp("sa.json", key);
    free(key);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
    char *log = xasprintf("%s/http.log", tmpdir);
    perr_t e = {0};
    gcp_client_t *c = client_for(s, NULL, log, &e);
    if (!c) fail_msg("%s", e.msg);
    gcp_resp_t r;
    assert_int_equal(gcp_call(c, "GET", "compute", "compute/v1/projects/p", NULL, &r, &e), 0);
    assert_int_equal(r.status, 200);
    gcp_resp_free(&r);
    gcp_client_free(c);

    const seen_t *tr = srv_nth(s, "/oauth2/token", 0);
    assert_non_null(tr);
    assert_string_equal(tr->ctype, "application/x-www-form-urlencoded");
    char *gt = form_value(tr->body, "grant_type");
    assert_string_equal(gt, "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer");
    free(gt);
    char *jwt = form_value(tr->body, "assertion");
    assert_non_null(jwt);
    char *d1 = strchr(jwt, '.');
    char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    assert_non_null(d2);
    json_t *h = b64url_json(jwt, (size_t)(d1 - jwt));
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), "kid-1");
    json_decref(h);
    json_t *cl = b64url_json(d1 + 1, (size_t)(d2 - d1 - 1));
    assert_string_equal(json_string_value(json_object_get(cl, "iss")),
                        "robot@p.iam.gserviceaccount.com");
    assert_string_equal(json_string_value(json_object_get(cl, "scope")),
                        "https://www.googleapis.com/auth/cloud-platform");
    assert_string_equal(json_string_value(json_object_get(cl, "aud")),
                        "https://oauth2.googleapis.com/token");
    json_int_t iat = json_integer_value(json_object_get(cl, "iat"));
    assert_true(llabs((long long)iat - (long long)time(NULL)) < 60);
    assert_int_equal(json_integer_value(json_object_get(cl, "exp")) - iat, 3600);
    json_decref(cl);
    /* the signature verifies with the public key */
    size_t siglen;
    unsigned char *sig = b64url_decode(d2 + 1, strlen(d2 + 1), &siglen);
    BIO *b = BIO_new_mem_buf(pem_pub, -1);
    EVP_PKEY *pub = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(pub);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub), 1);
    assert_int_equal(EVP_DigestVerify(md, sig, siglen, (unsigned char *)jwt, (size_t)(d2 - jwt)),
                     1);
    /* and a tampered input does not */
    jwt[5] ^= 1;
    EVP_MD_CTX_reset(md);
    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub);
    assert_int_not_equal(
        EVP_DigestVerify(md, sig, siglen, (unsigned char *)jwt, (size_t)(d2 - jwt)), 1);
    jwt[5] ^= 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pub);
    free(sig);

    const seen_t *call = srv_nth(s, "/compute/compute/v1/projects/p", 0);
    assert_string_equal(call->auth, "Bearer ya29.tok-one");
    assert_string_equal(call->quota, ""); /* no quota project for a service account */

    /* the HTTP log shows the grant type only: no assertion, no token */
    size_t n;
    perr_t fe = {0};
    char *text = util_read_file(log, &n, &fe);
    assert_non_null(text);
    assert_null(strstr(text, "ya29.tok-one"));
    assert_null(strstr(text, d2 + 1));
    assert_non_null(strstr(text, "\"req_body\":{\"grant_type\":\"urn:ietf:params:"
                                 "oauth:grant-type:jwt-bearer\"}"));
    free(text);
    free(jwt);
    free(log);
    free(path);
}

static void test_cached_token_is_reused(void **state) {
    srv_t *s = *state;
    srv_rule(s, "POST", "/oauth2/token", 200, TOKEN_RESP, -1, -1, 0);
    char *key = sa_key_json("robot@p.iam.gserviceaccount.com", pem_priv);
    char *path = write_tmp("sa.json", key);
    free(key);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
    perr_t e = {0};
    gcp_client_t *c = client_for(s, NULL, NULL, &e);
    assert_non_null(c);
    for (int i = 0; i < 3; i++) {
        gcp_resp_t r;
        assert_int_equal(gcp_call(c, "GET", "iam", "v1/x", NULL, &r, &e), 0);
        gcp_resp_free(&r);
    }
    char *t = gcp_token(c, &e);
    assert_string_equal(t, "ya29.tok-one");
    free(t);
    assert_int_equal(srv_count(s, "/oauth2/token"), 1);
    gcp_client_free(c);
    free(path);
}

static void test_token_refreshed_near_expiry_and_after_401(void **state) {
    srv_t *s = *state;
    /* A token living 0.2 s is reused at once, refreshed once a quarter of its
     * life is left; a 401 forces one refresh and a retry. */
    srv_rule(s, "POST", "/oauth2/token", 200, "{\"access_token\":\"short-1\",\"expires_in\":0.2}",
             -1, 1, 0);
    srv_rule(s, "POST", "/oauth2/token", 200, "{\"access_token\":\"long-2\",\"expires_in\":3600}",
             -1, 1, 0);
    srv_rule(s, "POST", "/oauth2/token", 200, "{\"access_token\":\"long-3\",\"expires_in\":3600}",
             -1, 1, 0);
    srv_rule(s, "GET", "/iam/v1/y", 401,
             "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\"}}", -1, 1, 0);
    char *key = sa_key_json("robot@p.iam.gserviceaccount.com", pem_priv);
    char *path = write_tmp("sa.json", key);
    free(key);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
    perr_t e = {0};
    gcp_client_t *c = client_for(s, NULL, NULL, &e);
    assert_non_null(c);
    char *t1 = gcp_token(c, &e), *t2 = gcp_token(c, &e);
    usleep(250000);
    char *t3 = gcp_token(c, &e), *t4 = gcp_token(c, &e);
    assert_string_equal(t1, "short-1");
    assert_string_equal(t2, "short-1");
    assert_string_equal(t3, "long-2");
    assert_string_equal(t4, "long-2");
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    gcp_resp_t r;
    assert_int_equal(gcp_call(c, "GET", "iam", "v1/y", NULL, &r, &e), 0);
    assert_int_equal(r.status, 200);
    gcp_resp_free(&r);
    assert_int_equal(srv_count(s, "/oauth2/token"), 3);
    assert_string_equal(srv_nth(s, "/iam/v1/y", 0)->auth, "Bearer long-2");
    assert_string_equal(srv_nth(s, "/iam/v1/y", 1)->auth, "Bearer long-3");
    gcp_client_free(c);
    free(path);
}

static void test_authorized_user_refresh_sends_quota_project(void **state) {
    srv_t *s = *state;
    srv_rule(s, "POST", "/oauth2/token", 200, TOKEN_RESP, -1, -1, 0);
    char *path = write_tmp("adc.json", "{\"type\":\"authorized_user\",\"client_id\":\"cid."
                                       "apps\",\"client_secret\":\"csecret\","
                                       "\"refresh_token\":\"1//"
                                       "refresh\",\"quota_project_id\":\"billing-proj\"}");
    /* found through the gcloud ADC location, not the env var */
    char *dir = xasprintf("%s/.config/gcloud", tmpdir);
    perr_t e = {0};
    assert_int_equal(util_mkdir_p(dir, &e), 0);
    char *adc = xasprintf("%s/application_default_credentials.json", dir);
    assert_int_equal(rename(path, adc), 0);
    gcp_client_t *c = client_for(s, NULL, NULL, &e);
    if (!c) fail_msg("%s", e.msg);
    gcp_resp_t r;
    assert_int_equal(
        gcp_call(c, "GET", "container", "v1/projects/p/locations/-/clusters", NULL, &r, &e), 0);
    gcp_resp_free(&r);
    const seen_t *tr = srv_nth(s, "/oauth2/token", 0);
    assert_non_null(tr);
    assert_non_null(strstr(tr->body, "grant_type=refresh_token"));
    assert_non_null(strstr(tr->body, "client_id=cid.apps"));
    assert_non_null(strstr(tr->body, "client_secret=csecret"));
    assert_non_null(strstr(tr->body, "refresh_token=1%2F%2Frefresh"));
    assert_string_equal(tr->quota, "billing-proj");
    const seen_t *call = srv_nth(s, "/container/v1/projects/p/locations/-/clusters", 0);
    assert_string_equal(call->auth, "Bearer ya29.tok-one");
    assert_string_equal(call->quota, "billing-proj");
    gcp_client_free(c);
    free(adc);
    free(dir);
    free(path);
}

static void expect_key_error(const char *name, const char *text, const char *want) {
    char *path = write_tmp(name, text);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
    gcp_opts_t o = {0};
    perr_t e = {0};
    gcp_client_t *c = gcp_client_new(&o, &e);
    if (c) fail_msg("%s: expected an error", name);
    if (!strstr(e.msg, path)) fail_msg("error does not name the file: %s", e.msg);
    if (!strstr(e.msg, want)) fail_msg("error does not say '%s': %s", want, e.msg);
    free(path);
}

static void test_malformed_key_files_are_named_and_explained(void **state) {
    expect_key_error("bad.json", "{\"type\": \"service_account\",", "bad JSON");
    char *nomail = sa_key_json("", pem_priv);
    expect_key_error("nomail.json", nomail, "client_email");
    free(nomail);
    char *badkey =
        sa_key_json("a@b.c", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    expect_key_error("badkey.json", badkey, "private_key");
    free(badkey);
    expect_key_error("user.json", "{\"type\":\"authorized_user\",\"client_id\":\"x\"}",
                     "client_secret");
    expect_key_error("ext.json", "{\"type\":\"external_account\"}", "external_account");
    setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json", 1);
    gcp_opts_t o = {0};
    perr_t e = {0};
    assert_null(gcp_client_new(&o, &e));
    assert_non_null(strstr(e.msg, "/nonexistent/key.json"));
}

static void test_access_token_env_wins_over_key_file(void **state) {
    srv_t *s = *state;
    char *key = sa_key_json("robot@p.iam.gserviceaccount.com", pem_priv);
    char *path = write_tmp("sa.json", key);
    free(key);
    setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
    setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "env-token", 1);
    perr_t e = {0};
    gcp_client_t *c = client_for(s, NULL, NULL, &e);
    assert_non_null(c);
    gcp_resp_t r;
    assert_int_equal(gcp_call(c, "GET", "storage", "storage/v1/b", NULL, &r, &e), 0);
    gcp_resp_free(&r);
    assert_string_equal(srv_nth(s, "/storage/storage/v1/b", 0)->auth, "Bearer env-token");
    assert_int_equal(srv_count(s, "/oauth2/token"), 0);
    gcp_client_free(c);
    free(path);
}

static void test_metadata_server_used_last_and_failure_explains_offline_use(void **state) {
    srv_t *s = *state;
    const char *mp = "/computeMetadata/v1/instance/service-accounts/default/token";
    srv_rule(s, "GET", mp, 200, "{\"access_token\":\"meta-tok\",\"expires_in\":3000}", -1, 1, 0);
    char host[64];
    snprintf(host, sizeof host, "127.0.0.1:%d", s->port);
    setenv("GCE_METADATA_HOST", host, 1);
    gcp_opts_t o = {0};
    perr_t e = {0};
    gcp_client_t *c = gcp_client_new(&o, &e); /* real Google: no endpoint */
    assert_non_null(c);
    char *t = gcp_token(c, &e);
    assert_string_equal(t, "meta-tok");
    free(t);
    assert_string_equal(srv_nth(s, mp, 0)->flavor, "Google");
    gcp_client_free(c);

    /* nothing answers: the error lists what was tried and the offline way */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd);
    snprintf(host, sizeof host, "127.0.0.1:%d", ntohs(sa.sin_port));
    setenv("GCE_METADATA_HOST", host, 1);
    c = gcp_client_new(&o, &e);
    assert_non_null(c);
    int64_t t0 = util_now_ms();
    assert_null(gcp_token(c, &e));
    assert_true(util_now_ms() - t0 < 3000);
    assert_non_null(strstr(e.msg, "no Google Cloud credentials"));
    assert_non_null(strstr(e.msg, "GOOGLE_APPLICATION_CREDENTIALS"));
    assert_non_null(strstr(e.msg, "application_default_credentials.json"));
    assert_non_null(strstr(e.msg, "--local"));
    assert_non_null(strstr(e.msg, "PLINTH_GCP_ENDPOINT"));
    gcp_resp_t r;
    assert_int_equal(gcp_call(c, "GET", "compute", "x", NULL, &r, &e), -1);
    gcp_resp_free(&r);
    gcp_client_free(c);
    unsetenv("GCE_METADATA_HOST");
}

static void test_impersonation_exchanges_base_token(void **state) {
    srv_t *s = *state;
    const char *ip = "/iamcredentials/v1/projects/-/serviceAccounts/"
                     "deployer@p.iam.gserviceaccount.com:generateAccessToken";
    srv_rule(s, "POST", ip, 200,
             "{\"accessToken\":\"imp-tok\",\"expireTime\":\"2099-01-01T00:00:00Z\"}", -1, -1, 0);
    setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "base-tok", 1);
    gcp_opts_t o = {0};
    o.endpoint = s->base;
    o.impersonate = "deployer@p.iam.gserviceaccount.com";
    perr_t e = {0};
    gcp_client_t *c = gcp_client_new(&o, &e);
    assert_non_null(c);
    gcp_resp_t r;
    assert_int_equal(gcp_call(c, "GET", "iam", "v1/z", NULL, &r, &e), 0);
    gcp_resp_free(&r);
    assert_int_equal(gcp_call(c, "GET", "iam", "v1/z", NULL, &r, &e), 0);
    gcp_resp_free(&r);
    const seen_t *g = srv_nth(s, ip, 0);
    assert_non_null(g);
    assert_string_equal(g->auth, "Bearer base-tok");
    json_t *b = json_loads(g->body, 0, NULL);
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "scope"), 0)),
                        "https://www.googleapis.com/auth/cloud-platform");
    json_decref(b);
    assert_int_equal(srv_count(s, ip), 1);
    assert_string_equal(srv_nth(s, "/iam/v1/z", 1)->auth, "Bearer imp-tok");
    gcp_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_service_account_jwt_verifies_and_token_is_sent, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cached_token_is_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_refreshed_near_expiry_and_after_401, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_authorized_user_refresh_sends_quota_project, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_malformed_key_files_are_named_and_explained, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_access_token_env_wins_over_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_metadata_server_used_last_and_failure_explains_offline_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_impersonation_exchanges_base_token, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
