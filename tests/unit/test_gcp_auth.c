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

#include "transport/gcp_auth.h"
#include "transport/gcp_http.h"
#include "tests/support/testsrv.h"

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
    *state = tsrv_start();
    return 0;
}

static int teardown(void **state) {
    tsrv_stop(*state);
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
                          "private_key_id", "kid-1", "client_email", email, "client_id", "123", "token_uri",
                          "https://oauth2.googleapis.com/token");
    if (pem) json_object_set_new(o, "private_key", json_string(pem));
    char *s = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    return s;
}

static gcp_client_t *client_for(tsrv_t *s, const char *endpoint, const char *log, perr_t *e) {
    gcp_opts_t o = {0};
    o.endpoint = endpoint ? endpoint : s->base;
    o.http_log = log;
    o.retry_budget_ms = 3000;
    return gcp_client_new(&o, e);
}

static unsigned char *b64url_decode(const char *in, size_t len, size_t *outlen) {
    sbuf_t b = {0};
    for (size_t i = 0; i < len; i++)
        sbuf_addc(&b, in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i]);
    int pad = (4 - (int)(len % 4)) % 4;
    for (int i = 0; i < pad; i++)
        sbuf_addc(&b, '=');
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
    tsrv_t *s = *state;
    tsrv_rule(s, "POST", "/oauth2/token", 200, TOKEN_RESP, -1, -1, 0);
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

    const tsrv_seen_t *tr = tsrv_nth(s, "/oauth2/token", 0);
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
    assert_string_equal(json_string_value(json_object_get(cl, "iss")), "robot@p.iam.gserviceaccount.com");
    assert_string_equal(json_string_value(json_object_get(cl, "scope")),
                        "https://www.googleapis.com/auth/cloud-platform");
    assert_string_equal(json_string_value(json_object_get(cl, "aud")), "https://oauth2.googleapis.com/token");
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
    assert_int_equal(EVP_DigestVerify(md, sig, siglen, (unsigned char *)jwt, (size_t)(d2 - jwt)), 1);
    /* and a tampered input does not */
    jwt[5] ^= 1;
    EVP_MD_CTX_reset(md);
    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub);
    assert_int_not_equal(EVP_DigestVerify(md, sig, siglen, (unsigned char *)jwt, (size_t)(d2 - jwt)), 1);
    jwt[5] ^= 1;
    EVP_MD_CTX_free(md);
    EVP_PKEY_free(pub);
    free(sig);

    const tsrv_seen_t *call = tsrv_nth(s, "/compute/compute/v1/projects/p", 0);
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
    tsrv_t *s = *state;
    tsrv_rule(s, "POST", "/oauth2/token", 200, TOKEN_RESP, -1, -1, 0);
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
    assert_int_equal(tsrv_count(s, "/oauth2/token"), 1);
    gcp_client_free(c);
    free(path);
}

static void test_token_refreshed_near_expiry_and_after_401(void **state) {
    tsrv_t *s = *state;
    /* A token living 0.2 s is reused at once, refreshed once a quarter of its
     * life is left; a 401 forces one refresh and a retry. */
    tsrv_rule(s, "POST", "/oauth2/token", 200, "{\"access_token\":\"short-1\",\"expires_in\":0.2}", -1, 1, 0);
    tsrv_rule(s, "POST", "/oauth2/token", 200, "{\"access_token\":\"long-2\",\"expires_in\":3600}", -1, 1, 0);
    tsrv_rule(s, "POST", "/oauth2/token", 200, "{\"access_token\":\"long-3\",\"expires_in\":3600}", -1, 1, 0);
    tsrv_rule(s, "GET", "/iam/v1/y", 401, "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\"}}", -1, 1,
              0);
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
    assert_int_equal(tsrv_count(s, "/oauth2/token"), 3);
    assert_string_equal(tsrv_nth(s, "/iam/v1/y", 0)->auth, "Bearer long-2");
    assert_string_equal(tsrv_nth(s, "/iam/v1/y", 1)->auth, "Bearer long-3");
    gcp_client_free(c);
    free(path);
}

static void test_authorized_user_refresh_sends_quota_project(void **state) {
    tsrv_t *s = *state;
    tsrv_rule(s, "POST", "/oauth2/token", 200, TOKEN_RESP, -1, -1, 0);
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
    assert_int_equal(gcp_call(c, "GET", "container", "v1/projects/p/locations/-/clusters", NULL, &r, &e), 0);
    gcp_resp_free(&r);
    const tsrv_seen_t *tr = tsrv_nth(s, "/oauth2/token", 0);
    assert_non_null(tr);
    assert_non_null(strstr(tr->body, "grant_type=refresh_token"));
    assert_non_null(strstr(tr->body, "client_id=cid.apps"));
    assert_non_null(strstr(tr->body, "client_secret=csecret"));
    assert_non_null(strstr(tr->body, "refresh_token=1%2F%2Frefresh"));
    assert_string_equal(tr->quota, "billing-proj");
    const tsrv_seen_t *call = tsrv_nth(s, "/container/v1/projects/p/locations/-/clusters", 0);
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
    char *badkey = sa_key_json("a@b.c", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
    expect_key_error("badkey.json", badkey, "private_key");
    free(badkey);
    expect_key_error("user.json", "{\"type\":\"authorized_user\",\"client_id\":\"x\"}", "client_secret");
    expect_key_error("ext.json", "{\"type\":\"external_account\"}", "external_account");
    setenv("GOOGLE_APPLICATION_CREDENTIALS", "/nonexistent/key.json", 1);
    gcp_opts_t o = {0};
    perr_t e = {0};
    assert_null(gcp_client_new(&o, &e));
    assert_non_null(strstr(e.msg, "/nonexistent/key.json"));
}

static void test_access_token_env_wins_over_key_file(void **state) {
    tsrv_t *s = *state;
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
    assert_string_equal(tsrv_nth(s, "/storage/storage/v1/b", 0)->auth, "Bearer env-token");
    assert_int_equal(tsrv_count(s, "/oauth2/token"), 0);
    gcp_client_free(c);
    free(path);
}

static void test_metadata_server_used_last_and_failure_explains_offline_use(void **state) {
    tsrv_t *s = *state;
    const char *mp = "/computeMetadata/v1/instance/service-accounts/default/token";
    tsrv_rule(s, "GET", mp, 200, "{\"access_token\":\"meta-tok\",\"expires_in\":3000}", -1, 1, 0);
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
    assert_string_equal(tsrv_nth(s, mp, 0)->flavor, "Google");
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
    tsrv_t *s = *state;
    const char *ip = "/iamcredentials/v1/projects/-/serviceAccounts/"
                     "deployer@p.iam.gserviceaccount.com:generateAccessToken";
    tsrv_rule(s, "POST", ip, 200, "{\"accessToken\":\"imp-tok\",\"expireTime\":\"2099-01-01T00:00:00Z\"}", -1,
              -1, 0);
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
    const tsrv_seen_t *g = tsrv_nth(s, ip, 0);
    assert_non_null(g);
    assert_string_equal(g->auth, "Bearer base-tok");
    json_t *b = json_loads(g->body, 0, NULL);
    assert_string_equal(json_string_value(json_array_get(json_object_get(b, "scope"), 0)),
                        "https://www.googleapis.com/auth/cloud-platform");
    json_decref(b);
    assert_int_equal(tsrv_count(s, ip), 1);
    assert_string_equal(tsrv_nth(s, "/iam/v1/z", 1)->auth, "Bearer imp-tok");
    gcp_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_service_account_jwt_verifies_and_token_is_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cached_token_is_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_refreshed_near_expiry_and_after_401, setup, teardown),
        cmocka_unit_test_setup_teardown(test_authorized_user_refresh_sends_quota_project, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_key_files_are_named_and_explained, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_token_env_wins_over_key_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_server_used_last_and_failure_explains_offline_use,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_impersonation_exchanges_base_token, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
