/* test_gcp_http.c: the gcp transport against a scripted libmicrohttpd
 * server on 127.0.0.1: retries and budgets, lost POSTs, the loopback-only
 * http rule, concurrency limits, the HTTP log and its redaction, error
 * parsing and waiting for every operation shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "providers/gcp/gcp_op.h"
#include "transport/gcp_http.h"
#include "tests/support/testsrv.h"

/* ---- fixtures ---- */

static char tmpdir[64];

static int setup(void **state) {
    unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    unsetenv("CLOUDSDK_CONFIG");
    unsetenv("GOOGLE_CLOUD_QUOTA_PROJECT");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/plinth-http-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    setenv("HOME", tmpdir, 1);
    *state = tsrv_start();
    return 0;
}

static int teardown(void **state) {
    tsrv_stop(*state);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) return -1;
    return 0;
}

static gcp_client_t *client(tsrv_t *s, int budget_ms, const char *log) {
    gcp_opts_t o = {0};
    o.endpoint = s->base;
    o.retry_budget_ms = budget_ms;
    o.http_log = log;
    perr_t e = {0};
    gcp_client_t *c = gcp_client_new(&o, &e);
    if (!c) fail_msg("gcp_client_new: %s", e.msg);
    return c;
}

/* ---- tests ---- */

static void test_retries_503_and_429_honouring_retry_after_then_succeeds(void **state) {
    tsrv_t *s = *state;
    tsrv_rule(s, "GET", "/compute/compute/v1/x", 503, "{\"error\":{\"code\":503}}", 1, 1, 0);
    tsrv_rule(s, "GET", "/compute/compute/v1/x", 429,
              "{\"error\":{\"code\":429,\"status\":\"RESOURCE_EXHAUSTED\","
              "\"details\":[{\"@type\":"
              "\"type.googleapis.com/"
              "google.rpc.RetryInfo\",\"retryDelay\":\"0.3s\"}]}}",
              -1, 1, 0);
    tsrv_rule(s, "GET", "/compute/compute/v1/x", 200, "{\"name\":\"x\"}", -1, 1, 0);
    gcp_client_t *c = client(s, 20000, NULL);
    gcp_resp_t r;
    perr_t e = {0};
    int64_t t0 = util_now_ms();
    assert_int_equal(gcp_call(c, "GET", "compute", "compute/v1/x", NULL, &r, &e), 0);
    int64_t dt = util_now_ms() - t0;
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.body, "name")), "x");
    assert_int_equal(tsrv_count(s, "/compute/compute/v1/x"), 3);
    assert_int_equal(gcp_request_count(c), 3);
    assert_true(dt >= 1300); /* Retry-After: 1 plus RetryInfo 0.3 s */
    gcp_resp_free(&r);
    gcp_client_free(c);
}

static void test_gives_up_after_retry_budget_with_last_response(void **state) {
    tsrv_t *s = *state;
    tsrv_rule(s, "", "/storage/b", 503, "{\"error\":{\"code\":503,\"status\":\"UNAVAILABLE\"}}", -1, -1, 0);
    gcp_client_t *c = client(s, 1500, NULL);
    gcp_resp_t r;
    perr_t e = {0};
    int64_t t0 = util_now_ms();
    assert_int_equal(gcp_call(c, "GET", "storage", "b", NULL, &r, &e), 0);
    int64_t dt = util_now_ms() - t0;
    assert_int_equal(r.status, 503);
    assert_string_equal(r.error_status, "UNAVAILABLE");
    assert_true(dt <= 2500);
    assert_true(tsrv_count(s, "/storage/b") >= 2);
    gcp_resp_free(&r);
    gcp_client_free(c);
}

static void test_post_lost_after_send_is_not_retried_and_maybe_applied(void **state) {
    tsrv_t *s = *state;
    tsrv_rule(s, "POST", "/compute/compute/v1/insert", 0, NULL, -1, 1, 1);
    gcp_client_t *c = client(s, 5000, NULL);
    gcp_resp_t r;
    perr_t e = {0};
    json_t *body = json_pack("{s:s}", "name", "net");
    assert_int_equal(gcp_call(c, "POST", "compute", "compute/v1/insert", body, &r, &e), -1);
    assert_true(r.maybe_applied);
    assert_int_equal(tsrv_count(s, "/compute/compute/v1/insert"), 1);
    assert_non_null(strstr(e.msg, "POST http://127.0.0.1"));
    gcp_resp_free(&r);
    json_decref(body);
    gcp_client_free(c);
}

static void test_get_lost_in_transit_is_retried(void **state) {
    tsrv_t *s = *state;
    tsrv_rule(s, "GET", "/compute/g", 0, NULL, -1, 1, 1);
    tsrv_rule(s, "GET", "/compute/g", 200, "{\"ok\":1}", -1, 1, 0);
    gcp_client_t *c = client(s, 5000, NULL);
    gcp_resp_t r;
    perr_t e = {0};
    assert_int_equal(gcp_call(c, "GET", "compute", "g", NULL, &r, &e), 0);
    assert_int_equal(r.status, 200);
    assert_false(r.maybe_applied);
    assert_int_equal(tsrv_count(s, "/compute/g"), 2);
    gcp_resp_free(&r);
    gcp_client_free(c);
}

static void test_post_connection_refused_is_retried_then_fails_cleanly(void **state) {
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &sl);
    close(fd); /* nothing listens there now */
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", ntohs(sa.sin_port));
    gcp_opts_t o = {0};
    o.endpoint = ep;
    o.retry_budget_ms = 1500;
    perr_t e = {0};
    gcp_client_t *c = gcp_client_new(&o, &e);
    assert_non_null(c);
    gcp_resp_t r;
    json_t *body = json_object();
    assert_int_equal(gcp_call(c, "POST", "compute", "x", body, &r, &e), -1);
    assert_false(r.maybe_applied);
    assert_true(gcp_request_count(c) >= 2);
    assert_non_null(strstr(e.msg, "attempts"));
    json_decref(body);
    gcp_resp_free(&r);
    gcp_client_free(c);
}

typedef struct canceller {
    volatile sig_atomic_t *flag;
    int after_ms;
} canceller_t;

static void *cancel_later(void *arg) {
    canceller_t *k = arg;
    usleep((useconds_t)k->after_ms * 1000);
    __atomic_store_n(k->flag, 1, __ATOMIC_RELAXED);
    return NULL;
}

static void test_cancel_stops_retry_waits(void **state) {
    tsrv_t *s = *state;
    tsrv_rule(s, "", "/compute/busy", 503, "{\"error\":{\"code\":503}}", 30, -1, 0);
    volatile sig_atomic_t cancel = 0;
    gcp_opts_t o = {0};
    o.endpoint = s->base;
    o.retry_budget_ms = 120000;
    o.cancel = &cancel;
    perr_t e = {0};
    gcp_client_t *c = gcp_client_new(&o, &e);
    assert_non_null(c);
    canceller_t k = {&cancel, 300};
    pthread_t th;
    pthread_create(&th, NULL, cancel_later, &k);
    gcp_resp_t r;
    int64_t t0 = util_now_ms();
    int rc = gcp_call(c, "GET", "compute", "busy", NULL, &r, &e);
    int64_t dt = util_now_ms() - t0;
    pthread_join(th, NULL);
    /* the last answer comes back at once instead of after Retry-After: 30 */
    assert_int_equal(rc, 0);
    assert_int_equal(r.status, 503);
    assert_true(dt < 2000);
    assert_int_equal(tsrv_count(s, "/compute/busy"), 1);
    gcp_resp_free(&r);
    gcp_client_free(c);
}

static void test_plain_http_to_non_loopback_is_refused(void **state) {
    (void)state;
    gcp_opts_t o = {0};
    o.endpoint = "http://example.com:8080";
    perr_t e = {0};
    assert_null(gcp_client_new(&o, &e));
    assert_non_null(strstr(e.msg, "loopback"));
    o.endpoint = "http://localhost:1/";
    gcp_client_t *c = gcp_client_new(&o, &e);
    assert_non_null(c);
    char *u = gcp_url(c, "k8s", "abc/");
    assert_string_equal(u, "http://localhost:1/k8s/abc/");
    free(u);
    gcp_client_free(c);
}

static void test_url_rule_for_real_google_and_emulator(void **state) {
    tsrv_t *s = *state;
    gcp_opts_t o = {0};
    perr_t e = {0};
    setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "tok", 1);
    gcp_client_t *c = gcp_client_new(&o, &e);
    unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
    assert_non_null(c);
    char *u = gcp_url(c, "compute", "compute/v1/projects/p/global/networks?maxResults=500");
    assert_string_equal(u, "https://compute.googleapis.com/compute/v1/projects/p/"
                           "global/networks?maxResults=500");
    free(u);
    gcp_client_free(c);
    c = client(s, 1000, NULL);
    u = gcp_url(c, "sqladmin", "sql/v1beta4/projects/p");
    char want[128];
    snprintf(want, sizeof want, "%s/sqladmin/sql/v1beta4/projects/p", s->base);
    assert_string_equal(u, want);
    free(u);
    /* no credentials against the emulator: no token, no error, no header */
    perr_t te = {0};
    assert_null(gcp_token(c, &te));
    assert_string_equal(te.msg, "");
    gcp_resp_t r;
    assert_int_equal(gcp_call(c, "GET", "iam", "v1/x", NULL, &r, &te), 0);
    assert_string_equal(s->seen[0].auth, "");
    gcp_resp_free(&r);
    gcp_client_free(c);
}

typedef struct worker {
    gcp_client_t *c;
    int ok;
    const char *api; /* NULL: alternate compute and iam */
} worker_t;

static void *work(void *arg) {
    worker_t *w = arg;
    for (int i = 0; i < 10; i++) {
        gcp_resp_t r;
        perr_t e = {0};
        const char *api = w->api ? w->api : i % 2 ? "compute" : "iam";
        if (gcp_call(w->c, "GET", api, "v1/thing", NULL, &r, &e) == 0 && r.status == 200) w->ok++;
        gcp_resp_free(&r);
    }
    return NULL;
}

static void test_concurrent_calls_from_8_threads_complete_within_limits(void **state) {
    tsrv_t *s = *state;
    s->delay_ms = 5;
    gcp_opts_t o = {0};
    o.endpoint = s->base;
    o.max_in_flight = 3;
    o.per_api_in_flight = 2;
    perr_t e = {0};
    gcp_client_t *c = gcp_client_new(&o, &e);
    assert_non_null(c);
    pthread_t th[8];
    worker_t w[8] = {0};
    for (int i = 0; i < 8; i++) {
        w[i].c = c;
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++)
        assert_int_equal(w[i].ok, 10);
    assert_int_equal(gcp_request_count(c), 80);
    assert_int_equal(tsrv_count(s, NULL), 80);
    assert_true(s->max_active <= 3);
    assert_true(s->max_active >= 2);
    gcp_client_free(c);

    /* one API only: its own limit binds even with a large total */
    pthread_mutex_lock(&s->mu);
    s->max_active = 0;
    pthread_mutex_unlock(&s->mu);
    o.max_in_flight = 64;
    c = gcp_client_new(&o, &e);
    assert_non_null(c);
    for (int i = 0; i < 8; i++) {
        w[i].c = c;
        w[i].ok = 0;
        w[i].api = "compute";
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 8; i++)
        assert_int_equal(w[i].ok, 10);
    assert_int_equal(s->max_active, 2);
    gcp_client_free(c);
}

static void test_sends_user_agent_content_type_and_logs_raw_bodies_truncated(void **state) {
    tsrv_t *s = *state;
    char log[128];
    snprintf(log, sizeof log, "%s/raw.log", tmpdir);
    gcp_client_t *c = client(s, 5000, log);
    gcp_resp_t r;
    perr_t e = {0};
    json_t *b = json_pack("{s:s}", "a", "b");
    assert_int_equal(gcp_call(c, "PATCH", "iam", "v1/sa", b, &r, &e), 0);
    json_decref(b);
    gcp_resp_free(&r);
    assert_string_equal(s->seen[0].method, "PATCH");
    assert_string_equal(s->seen[0].ua, "plinth/" PLINTH_VERSION);
    assert_string_equal(s->seen[0].ctype, "application/json");
    assert_string_equal(s->seen[0].body, "{\"a\":\"b\"}");
    char *big = malloc(10000);
    memset(big, 'x', 9999);
    big[9999] = 0;
    const char *hdrs[] = {"X-Upload-Test: 1", NULL};
    assert_int_equal(gcp_call_raw(c, "POST", "storage", "upload/storage/v1/b/bk/o?uploadType=media",
                                  "application/octet-stream", big, 9999, hdrs, &r, &e),
                     0);
    gcp_resp_free(&r);
    assert_string_equal(s->seen[1].ctype, "application/octet-stream");
    assert_int_equal(strlen(s->seen[1].body), 9999);
    free(big);
    gcp_client_free(c);
    FILE *f = fopen(log, "r");
    char line[20000];
    assert_non_null(fgets(line, sizeof line, f));
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    json_t *o = json_loads(line, 0, NULL);
    assert_non_null(o);
    assert_int_equal(json_string_length(json_object_get(o, "req_body")), 4096);
    assert_true(json_is_object(json_object_get(o, "resp_body")));
    json_decref(o);
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_http_log_lines_have_exact_keys_and_redact_secrets(void **state) {
    tsrv_t *s = *state;
    char log[128];
    snprintf(log, sizeof log, "%s/http.log", tmpdir);
    tsrv_rule(s, "POST", "/sqladmin/users", 200,
              "{\"name\":\"u\",\"password\":\"pw-echo\",\"note\":\"has "
              "s3cr3t-value inside\"}",
              -1, 1, 0);
    tsrv_rule(s, "POST", "/secretmanager/v1/projects/p/secrets/s:addVersion", 200,
              "{\"name\":\"projects/1/secrets/s/versions/1\"}", -1, 1, 0);
    tsrv_rule(s, "GET", "/storage/text", 503, "plain text error s3cr3t-value", -1, 1, 0);
    tsrv_rule(s, "GET", "/storage/text", 404, "not json at all", -1, 1, 0);
    gcp_client_t *c = client(s, 5000, log);
    gcp_client_add_secret(c, "s3cr3t-value");
    gcp_resp_t r;
    perr_t e = {0};
    json_t *b1 = json_pack("{s:s,s:s,s:i}", "password", "pw-plain", "desc", "x s3cr3t-value y", "n", 1);
    assert_int_equal(gcp_call(c, "POST", "sqladmin", "users", b1, &r, &e), 0);
    gcp_resp_free(&r);
    json_t *b2 = json_pack("{s:{s:s}}", "payload", "data", "c2VjcmV0LWRhdGE=");
    assert_int_equal(gcp_call(c, "POST", "secretmanager", "v1/projects/p/secrets/s:addVersion", b2, &r, &e),
                     0);
    gcp_resp_free(&r);
    assert_int_equal(gcp_call(c, "GET", "storage", "text", NULL, &r, &e), 0);
    assert_int_equal(r.status, 404);
    gcp_resp_free(&r);
    json_decref(b1);
    json_decref(b2);
    gcp_client_free(c);

    char *text = read_all(log);
    assert_non_null(text);
    assert_null(strstr(text, "s3cr3t-value"));
    assert_null(strstr(text, "pw-plain"));
    assert_null(strstr(text, "pw-echo"));
    assert_null(strstr(text, "c2VjcmV0LWRhdGE="));
    assert_non_null(strstr(text, "<redacted>"));
    int lines = 0;
    static const char *const keys[] = {"ts", "api",     "method",   "url",      "status",
                                       "ms", "attempt", "req_body", "resp_body"};
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o) fail_msg("log line is not JSON: %s (%s)", line, je.text);
        assert_int_equal(json_object_size(o), 9);
        for (size_t k = 0; k < 9; k++)
            assert_non_null(json_object_get(o, keys[k]));
        const char *ts = json_string_value(json_object_get(o, "ts"));
        assert_non_null(ts);
        assert_int_equal(strlen(ts), 24); /* 2026-01-01T00:00:00.000Z */
        assert_int_equal(ts[23], 'Z');
        const char *url = json_string_value(json_object_get(o, "url"));
        assert_true(strncmp(url, s->base, strlen(s->base)) == 0);
        if (lines == 0) {
            assert_string_equal(json_string_value(json_object_get(o, "api")), "sqladmin");
            assert_int_equal(json_integer_value(json_object_get(o, "status")), 200);
            assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 1);
            assert_true(json_is_object(json_object_get(o, "req_body")));
            assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "req_body"), "n")), 1);
        }
        if (lines == 2) { /* the 503 text body */
            assert_true(json_is_string(json_object_get(o, "resp_body")));
            assert_true(json_is_null(json_object_get(o, "req_body")));
        }
        if (lines == 3) {
            assert_int_equal(json_integer_value(json_object_get(o, "attempt")), 2);
            assert_string_equal(json_string_value(json_object_get(o, "resp_body")), "not json at all");
        }
        json_decref(o);
        lines++;
    }
    assert_int_equal(lines, 4);
}

static void test_error_body_fills_status_reason_and_message(void **state) {
    tsrv_t *s = *state;
    tsrv_rule(s, "GET", "/compute/compute/v1/x", 404,
              "{\"error\":{\"code\":404,\"message\":\"The resource 'x' was not "
              "found\",\"status\":\"NOT_FOUND\","
              "\"errors\":[{\"domain\":\"global\",\"reason\":\"notFound\","
              "\"message\":\"m\"}]}}",
              -1, 1, 0);
    tsrv_rule(s, "POST", "/container/v1/c", 409,
              "{\"error\":{\"code\":409,\"message\":\"Already exists: "
              "c\",\"status\":\"ALREADY_EXISTS\","
              "\"details\":[{\"@type\":\"type.googleapis.com/"
              "google.rpc.ErrorInfo\",\"reason\":\"RESOURCE_EXISTS\"}]}}",
              -1, 1, 0);
    gcp_client_t *c = client(s, 5000, NULL);
    gcp_resp_t r;
    perr_t e = {0};
    assert_int_equal(gcp_call(c, "GET", "compute", "compute/v1/x", NULL, &r, &e), 0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.error_status, "NOT_FOUND");
    assert_string_equal(r.error_reason, "notFound");
    gcp_resp_error(&r, "GET", "compute/v1/x", &e);
    assert_string_equal(e.msg, "GET compute/v1/x: 404 NOT_FOUND: The resource 'x' was not found");
    gcp_resp_free(&r);
    json_t *b = json_object();
    assert_int_equal(gcp_call(c, "POST", "container", "v1/c", b, &r, &e), 0);
    assert_string_equal(r.error_status, "ALREADY_EXISTS");
    assert_string_equal(r.error_reason, "RESOURCE_EXISTS");
    json_decref(b);
    gcp_resp_free(&r);
    gcp_client_free(c);
}

/* ---- operations ---- */

typedef struct prog {
    char log[256];
} prog_t;

static void on_progress(void *ud, const char *msg) {
    prog_t *p = ud;
    size_t n = strlen(p->log);
    snprintf(p->log + n, sizeof p->log - n, "%s%s", n ? "," : "", msg);
}

static void test_wait_op_compute_polls_selflink_until_done(void **state) {
    tsrv_t *s = *state;
    const char *path = "/compute/compute/v1/projects/p/zones/z/operations/op1";
    tsrv_rule(s, "GET", path, 200, "{\"name\":\"op1\",\"status\":\"RUNNING\"}", -1, 1, 0);
    tsrv_rule(s, "GET", path, 404, "{\"error\":{\"code\":404}}", -1, 1, 0);
    tsrv_rule(s, "GET", path, 200, "{\"name\":\"op1\",\"status\":\"DONE\",\"targetLink\":\"t\"}", -1, 1, 0);
    gcp_client_t *c = client(s, 5000, NULL);
    json_t *op = json_pack("{s:s,s:s,s:s}", "kind", "compute#operation", "name", "op1", "status", "PENDING");
    json_object_set_new(op, "selfLink",
                        json_string("https://www.googleapis.com/compute/v1/"
                                    "projects/p/zones/z/operations/op1"));
    prog_t p = {""};
    json_t *res = NULL;
    perr_t e = {0};
    if (gcp_wait_op(c, "compute", op, on_progress, &p, &res, &e) != 0) fail_msg("%s", e.msg);
    assert_string_equal(json_string_value(json_object_get(res, "targetLink")), "t");
    assert_string_equal(p.log, "PENDING,RUNNING,DONE");
    assert_int_equal(tsrv_count(s, path), 3);
    json_decref(res);
    json_decref(op);
    gcp_client_free(c);
}

static void test_wait_op_container_polls_locations_path(void **state) {
    tsrv_t *s = *state;
    const char *path = "/container/v1/projects/p/locations/us-central1/operations/op2";
    tsrv_rule(s, "GET", path, 200, "{\"name\":\"op2\",\"status\":\"RUNNING\"}", -1, 1, 0);
    tsrv_rule(s, "GET", path, 200, "{\"name\":\"op2\",\"status\":\"DONE\"}", -1, 1, 0);
    gcp_client_t *c = client(s, 5000, NULL);
    json_t *op = json_pack("{s:s,s:s,s:s}", "name", "op2", "status", "RUNNING", "selfLink",
                           "https://container.googleapis.com/v1/projects/p/zones/"
                           "us-central1/operations/op2");
    perr_t e = {0};
    if (gcp_wait_op(c, "container", op, NULL, NULL, NULL, &e) != 0) fail_msg("%s", e.msg);
    assert_int_equal(tsrv_count(s, path), 2);
    json_decref(op);
    /* DONE with a statusMessage is a failure */
    tsrv_rule(s, "GET", path, 200,
              "{\"name\":\"op2\",\"status\":\"DONE\",\"statusMessage\":"
              "\"Insufficient regional quota\"}",
              -1, 1, 0);
    op = json_pack("{s:s,s:s,s:s}", "name", "op2", "status", "RUNNING", "selfLink",
                   "https://container.googleapis.com/v1/projects/p/locations/"
                   "us-central1/operations/op2");
    assert_int_equal(gcp_wait_op(c, "container", op, NULL, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "Insufficient regional quota"));
    json_decref(op);
    gcp_client_free(c);
}

static void test_wait_op_sqladmin_and_error_message(void **state) {
    tsrv_t *s = *state;
    const char *path = "/sqladmin/sql/v1beta4/projects/p/operations/op3";
    tsrv_rule(s, "GET", path, 200, "{\"kind\":\"sql#operation\",\"name\":\"op3\",\"status\":\"RUNNING\"}", -1,
              1, 0);
    tsrv_rule(s, "GET", path, 200,
              "{\"kind\":\"sql#operation\",\"name\":\"op3\",\"status\":\"DONE\","
              "\"error\":{\"errors\":"
              "[{\"kind\":\"sql#operationError\",\"code\":\"INTERNAL_ERROR\","
              "\"message\":\"The instance is broken\"}]}}",
              -1, 1, 0);
    gcp_client_t *c = client(s, 5000, NULL);
    json_t *op =
        json_pack("{s:s,s:s,s:s,s:s}", "kind", "sql#operation", "name", "op3", "status", "PENDING",
                  "selfLink", "https://sqladmin.googleapis.com/sql/v1beta4/projects/p/operations/op3");
    perr_t e = {0};
    json_t *res = NULL;
    assert_int_equal(gcp_wait_op(c, "sqladmin", op, NULL, NULL, &res, &e), -1);
    assert_null(res);
    assert_non_null(strstr(e.msg, "The instance is broken"));
    assert_non_null(strstr(e.msg, "op3"));
    json_decref(op);
    gcp_client_free(c);
}

static void test_wait_op_longrunning_done_noop_and_error(void **state) {
    tsrv_t *s = *state;
    const char *path = "/serviceusage/v1/operations/acat.p2-1";
    tsrv_rule(s, "GET", path, 200, "{\"name\":\"operations/acat.p2-1\"}", -1, 1, 0);
    tsrv_rule(s, "GET", path, 200,
              "{\"name\":\"operations/"
              "acat.p2-1\",\"done\":true,\"response\":{\"service\":\"x\"}}",
              -1, 1, 0);
    gcp_client_t *c = client(s, 5000, NULL);
    json_t *op = json_pack("{s:s}", "name", "operations/acat.p2-1");
    perr_t e = {0};
    json_t *res = NULL;
    prog_t p = {""};
    if (gcp_wait_op(c, "serviceusage", op, on_progress, &p, &res, &e) != 0) fail_msg("%s", e.msg);
    assert_string_equal(json_string_value(json_object_get(json_object_get(res, "response"), "service")), "x");
    assert_string_equal(p.log, "RUNNING,DONE");
    json_decref(res);
    json_decref(op);

    int before = tsrv_count(s, NULL);
    op = json_pack("{s:s}", "name", "operations/noop.DONE_OPERATION");
    assert_int_equal(gcp_wait_op(c, "serviceusage", op, NULL, NULL, NULL, &e), 0);
    assert_int_equal(tsrv_count(s, NULL), before);
    json_decref(op);

    tsrv_rule(s, "GET", "/servicenetworking/v1/operations/o9", 200,
              "{\"name\":\"operations/"
              "o9\",\"done\":true,\"error\":{\"code\":9,\"message\":\"Producer "
              "services are still using this connection\"}}",
              -1, 1, 0);
    op = json_pack("{s:s,s:b}", "name", "operations/o9", "done", 0);
    assert_int_equal(gcp_wait_op(c, "servicenetworking", op, NULL, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "Producer services are still using this connection"));
    json_decref(op);
    gcp_client_free(c);
}

static void test_wait_op_stops_when_cancelled(void **state) {
    tsrv_t *s = *state;
    tsrv_rule(s, "GET", "/artifactregistry/v1/projects/p/locations/l/operations/x", 200,
              "{\"name\":\"projects/p/locations/l/operations/x\"}", -1, -1, 0);
    volatile sig_atomic_t cancel = 0;
    gcp_opts_t o = {0};
    o.endpoint = s->base;
    o.cancel = &cancel;
    perr_t e = {0};
    gcp_client_t *c = gcp_client_new(&o, &e);
    json_t *op = json_pack("{s:s}", "name", "projects/p/locations/l/operations/x");
    cancel = 1;
    assert_int_equal(gcp_wait_op(c, "artifactregistry", op, NULL, NULL, NULL, &e), -1);
    assert_non_null(strstr(e.msg, "interrupted"));
    json_decref(op);
    gcp_client_free(c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retries_503_and_429_honouring_retry_after_then_succeeds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gives_up_after_retry_budget_with_last_response, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_lost_after_send_is_not_retried_and_maybe_applied, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_lost_in_transit_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_connection_refused_is_retried_then_fails_cleanly, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_cancel_stops_retry_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_http_to_non_loopback_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_url_rule_for_real_google_and_emulator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_calls_from_8_threads_complete_within_limits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sends_user_agent_content_type_and_logs_raw_bodies_truncated,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_http_log_lines_have_exact_keys_and_redact_secrets, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_error_body_fills_status_reason_and_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_op_compute_polls_selflink_until_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_op_container_polls_locations_path, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_op_sqladmin_and_error_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_op_longrunning_done_noop_and_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_op_stops_when_cancelled, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
