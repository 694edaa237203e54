/* test_harden.c: hostile and broken inputs are refused with a clear error
 * and never crash, hang or turn into silent acceptance: deeply nested and
 * alias-bomb YAML (manifests and kubeconfigs), state files that do not parse
 * completely (corrupt attributes, duplicate keys, serial at INT64_MAX), and
 * the strict JSON check agreeing with jansson. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "core/jsoncheck.h"
#include "providers/gcp/gcp_http.h"
#include "core/state.h"
#include "providers/k8s/k8s_yaml.h"

static char *repeat(const char *a, size_t n, const char *mid, const char *b) {
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *s = xmalloc(n * (la + lb) + lm + 1), *p = s;
    for (size_t i = 0; i < n; i++, p += la) memcpy(p, a, la);
    memcpy(p, mid, lm), p += lm;
    for (size_t i = 0; i < n; i++, p += lb) memcpy(p, b, lb);
    *p = '\0';
    return s;
}

/* ---- YAML ---- */

static void yaml_nested_50000_levels_is_an_error_with_file_line_not_a_crash(void **st) {
    (void)st;
    char *flow = repeat("[", 50000, "1", "]");
    char *doc = xasprintf("a: %s\n", flow);
    perr_t e = {0};
    json_t *d = k8s_yaml_parse(doc, strlen(doc), "deep.yaml", NULL, &e);
    assert_null(d);
    assert_non_null(strstr(e.msg, "deep.yaml:1:"));
    assert_non_null(strstr(e.msg, "nested more than"));
    free(doc);
    free(flow);
    /* Block style: indentation nesting. */
    sbuf_t b = {0};
    sbuf_add(&b, "kind: ConfigMap\ndata:\n");
    for (int i = 1; i <= 2000; i++) {
        for (int k = 0; k < i; k++) sbuf_add(&b, " ");
        sbuf_add(&b, "k:\n");
    }
    perr_t e2 = {0};
    d = k8s_yaml_parse(b.s, b.len, "block.yaml", NULL, &e2);
    assert_null(d);
    assert_non_null(strstr(e2.msg, "block.yaml:"));
    assert_non_null(strstr(e2.msg, "nested more than"));
    sbuf_free(&b);
}

static void yaml_nesting_within_the_bound_still_parses(void **st) {
    (void)st;
    char *flow = repeat("[", 200, "1", "]");
    perr_t e = {0};
    json_t *d = k8s_yaml_parse(flow, strlen(flow), "ok.yaml", NULL, &e);
    assert_non_null(d);
    json_decref(d);
    free(flow);
}

static void yaml_alias_bomb_is_refused_quickly(void **st) {
    (void)st;
    sbuf_t b = {0};
    sbuf_add(&b, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int i = 1; i < 10; i++) {
        sbuf_addf(&b, "a%d: &a%d [", i, i);
        for (int k = 0; k < 10; k++) sbuf_addf(&b, "%s*a%d", k ? ", " : "", i - 1);
        sbuf_add(&b, "]\n");
    }
    perr_t e = {0};
    json_t *d = k8s_yaml_parse(b.s, b.len, "bomb.yaml", NULL, &e);
    assert_null(d);
    assert_non_null(strstr(e.msg, "bomb.yaml:"));
    assert_non_null(strstr(e.msg, "aliases"));
    sbuf_free(&b);
}

static void yaml_aliases_and_anchors_still_expand(void **st) {
    (void)st;
    const char *y = "base: &b {x: 1, y: [1, 2]}\nc: *b\nd:\n  <<: *b\n  z: 3\ns: &s hi\nt: *s\n";
    perr_t e = {0};
    json_t *d = k8s_yaml_parse(y, strlen(y), "ok.yaml", NULL, &e);
    assert_non_null(d);
    json_t *doc = json_array_get(d, 0);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "c"), "x")), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(doc, "d"), "z")), 3);
    assert_string_equal(json_string_value(json_object_get(doc, "t")), "hi");
    json_decref(d);
}

/* ---- state ---- */

static const char *STATE_HEAD = "{\"format\": 1, \"lineage\": \"0b4c2a4e-1d3f-4a55-9c5e-0123456789ab\", "
                                "\"serial\": %s, \"outputs\": {}, \"resources\": [\n";

static char *state_text(const char *serial, const char *attrs) {
    char *head = xasprintf(STATE_HEAD, serial);
    char *s = xasprintf("%s{\"addr\": \"gcp.compute_network.a\", \"type\": \"gcp.compute_network\", "
                        "\"id\": \"projects/p/global/networks/a\", \"attrs\": %s, \"applied\": null, "
                        "\"applied_hash\": \"\", \"deps\": [], \"pending\": null, \"resume\": null}\n]}\n",
                        head, attrs);
    free(head);
    return s;
}

static void state_with_corrupt_attrs_is_refused_not_read_as_null(void **st) {
    (void)st;
    const char *bad[] = {"{\"name\": \"a\", \"x\": tru}", "{\"name\": \"a\",}", "{\"name\": \"a\" \"b\": 1}",
                         "{\"name\": \"\\q\"}", "{\"name\": \"a\", \"name\": \"b\"}", "{\"n\": 01}",
                         "{\"n\": \"\\ud800\"}", "{\"n\": 99999999999999999999}", "{\"n\": 1e999}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *t = state_text("3", bad[i]);
        state_t *s = NULL;
        perr_t e = {0};
        int rc = state_parse(t, strlen(t), "t.json", &s, &e);
        if (rc == 0) fail_msg("accepted corrupt attrs %s", bad[i]);
        assert_null(s);
        assert_non_null(strstr(e.msg, "resources[0].attrs"));
        assert_non_null(strstr(e.msg, "line 2"));
        free(t);
    }
    char *t = state_text("3", "{\"name\": \"a\", \"nested\": {\"k\": [1, 2.5, \"\\u00e9\\ud83d\\ude00\"]}}");
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_equal(state_parse(t, strlen(t), "t.json", &s, &e), 0);
    assert_string_equal(json_string_value(json_object_get(state_attrs(&s->res[0]), "name")), "a");
    state_free(s);
    free(t);
}

static void state_corrupt_file_is_never_rewritten(void **st) {
    (void)st;
    char dir[] = "/tmp/plinth-test-harden-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = xasprintf("%s/s.json", dir);
    char *t = state_text("3", "{\"name\": \"a\", \"x\": tru}");
    FILE *f = fopen(path, "w");
    fputs(t, f);
    fclose(f);
    backend_t *b = backend_local_new(path);
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_not_equal(state_load(b, &s, &e), 0);
    assert_non_null(strstr(e.msg, "left untouched"));
    /* A save without a successful load does not overwrite it either. */
    state_t *fresh = state_new();
    perr_t e2 = {0};
    assert_int_not_equal(state_save(b, fresh, &e2), 0);
    state_free(fresh);
    b->free(b);
    perr_t e3 = {0};
    char *after = util_read_file(path, NULL, &e3);
    assert_string_equal(after, t);
    free(after);
    free(t);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(path);
}

static void state_duplicate_keys_are_refused(void **st) {
    (void)st;
    char *t = state_text("3", "{}");
    /* a duplicate top-level key */
    char *dup = xasprintf("{\"serial\": 9, %s", t + 1);
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_not_equal(state_parse(dup, strlen(dup), "t.json", &s, &e), 0);
    assert_non_null(strstr(e.msg, "duplicate"));
    free(dup);
    /* a duplicate key in a resource entry */
    char *p = strstr(t, "\"type\"");
    char *dup2 = xasprintf("%.*s\"id\": \"x\", %s", (int)(p - t), t, p);
    perr_t e2 = {0};
    assert_int_not_equal(state_parse(dup2, strlen(dup2), "t.json", &s, &e2), 0);
    assert_non_null(strstr(e2.msg, "duplicate"));
    free(dup2);
    free(t);
}

static void state_serial_at_int64_max_is_refused(void **st) {
    (void)st;
    char *t = state_text("9223372036854775807", "{}");
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_not_equal(state_parse(t, strlen(t), "t.json", &s, &e), 0);
    assert_non_null(strstr(e.msg, "serial"));
    free(t);
    t = state_text("9223372036854775806", "{}");
    assert_int_equal(state_parse(t, strlen(t), "t.json", &s, &e), 0);
    state_free(s);
    free(t);
}

/* ---- jsoncheck agrees with jansson ---- */

static void check_agrees(const char *text, size_t len) {
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    jsoncheck_err_t ce;
    int rc = jsoncheck(text, len, &ce);
    if ((j != NULL) != (rc == 0))
        fail_msg("jansson %s, jsoncheck %s (%s) for: %.*s", j ? "accepts" : "refuses", rc ? "refuses" : "accepts",
                 rc ? ce.text : je.text, (int)len, text);
    json_decref(j);
}

static void jsoncheck_accepts_exactly_what_jansson_accepts(void **st) {
    (void)st;
    const char *cases[] = {
        "{}", "[]", "1", "-0", "-", "01", "1.", ".5", "1e", "1e+", "1E-5", "0.0e0", "true", "tru", "truex",
        "nul", "null", "[1,]", "[,1]", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "{1:2}", "\"\\u0000\"",
        "\"\\u00\"", "\"\\ud83d\\ude00\"", "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83d\\u0041\"", "\"\\x\"",
        "\"a\tb\"", "\"\xc3\xa9\"", "\"\xc3\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xe0\x80\xaf\"",
        "\"\xc0\xaf\"", "{\"a\":1,\"a\":2}", "{\"a\":1,\"\\u0061\":2}", "{\"ab\":1,\"a\":2}",
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
        "1e308", "1e309", "-1e309", "1e-400", "123456789012345678.5", " [1] ", "[1] x", "[1]]", "\"abc",
        "[\"a\",", "{\"a\":", "{\"a\"", "", " ", "[1 2]", "[true false]", "{\"a\":{\"b\":{\"b\":1,\"b\":2}}}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) check_agrees(cases[i], strlen(cases[i]));
    check_agrees("[1,\0]", 5);
    check_agrees("\"a\0b\"", 5);
    char *deep = repeat("[", 2047, "1", "]");
    check_agrees(deep, strlen(deep));
    free(deep);
    deep = repeat("[", 2048, "1", "]");
    check_agrees(deep, strlen(deep));
    free(deep);
    deep = repeat("[", 2049, "", "]");
    check_agrees(deep, strlen(deep));
    free(deep);
    /* random mutations of a valid document */
    const char *base = "{\"a\": [1, -2.5e3, true, null, \"x\\u00e9\\n\"], \"b\": {\"c\": \"d\", \"e\": {}}}";
    size_t bl = strlen(base);
    char buf[256];
    srand(42);
    for (int n = 0; n < 20000; n++) {
        memcpy(buf, base, bl);
        int muts = 1 + rand() % 3;
        for (int m = 0; m < muts; m++) buf[rand() % bl] = "{}[],:\"\\ae0-.Eu\x80\xc3 1n"[rand() % 21];
        check_agrees(buf, bl);
    }
}

/* ---- TLS and DNS failures are permanent ---- */

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static gcp_client_t *client_for(const char *endpoint) {
    gcp_opts_t o = {0};
    o.endpoint = endpoint;
    o.retry_budget_ms = 120000;
    perr_t e = {0};
    unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
    unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
    gcp_client_t *c = gcp_client_new(&o, &e);
    if (!c) fail_msg("gcp_client_new: %s", e.msg);
    return c;
}

static void tls_self_signed_certificate_fails_at_once_with_the_reason(void **st) {
    (void)st;
    if (system("command -v openssl >/dev/null 2>&1") != 0) skip();
    char dir[] = "/tmp/plinth-test-tls-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *gen = xasprintf("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 "
                          "-keyout %s/k.pem -out %s/c.pem >/dev/null 2>&1", dir, dir);
    assert_int_equal(system(gen), 0);
    free(gen);
    int port = free_port();
    assert_true(port > 0);
    pid_t pid = fork();
    if (pid == 0) {
        char cert[128], key[128], acc[16];
        snprintf(cert, sizeof cert, "%s/c.pem", dir);
        snprintf(key, sizeof key, "%s/k.pem", dir);
        snprintf(acc, sizeof acc, "%d", port);
        int nul = open("/dev/null", O_RDWR);
        dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
        execlp("openssl", "openssl", "s_server", "-quiet", "-www", "-accept", acc, "-cert", cert, "-key", key,
               (char *)NULL);
        _exit(127);
    }
    usleep(300 * 1000);
    char *ep = xasprintf("https://127.0.0.1:%d", port);
    gcp_client_t *c = client_for(ep);
    gcp_resp_t r;
    perr_t e = {0};
    int64_t t0 = util_now_ms();
    int rc = gcp_call(c, "GET", "compute", "compute/v1/projects/p/global/networks", NULL, &r, &e);
    int64_t ms = util_now_ms() - t0;
    gcp_resp_free(&r);
    gcp_client_free(c);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    free(ep);
    char *rm = xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(rm), 0);
    free(rm);
    assert_int_equal(rc, -1);
    if (!strstr(e.msg, "certificate")) fail_msg("no reason given: %s", e.msg);
    assert_non_null(strstr(e.msg, "not retried"));
    if (ms > 5000) fail_msg("took %lld ms: retried instead of failing at once", (long long)ms);
}

static void dns_failure_fails_at_once_with_the_reason(void **st) {
    (void)st;
    gcp_client_t *c = client_for("https://no-such-host.invalid");
    gcp_resp_t r;
    perr_t e = {0};
    int64_t t0 = util_now_ms();
    int rc = gcp_call(c, "GET", "compute", "compute/v1/projects/p/global/networks", NULL, &r, &e);
    int64_t ms = util_now_ms() - t0;
    gcp_resp_free(&r);
    gcp_client_free(c);
    assert_int_equal(rc, -1);
    if (!strstr(e.msg, "DNS")) fail_msg("no reason given: %s", e.msg);
    if (ms > 15000) fail_msg("took %lld ms: retried instead of failing at once", (long long)ms);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(yaml_nested_50000_levels_is_an_error_with_file_line_not_a_crash),
        cmocka_unit_test(yaml_nesting_within_the_bound_still_parses),
        cmocka_unit_test(yaml_alias_bomb_is_refused_quickly),
        cmocka_unit_test(yaml_aliases_and_anchors_still_expand),
        cmocka_unit_test(state_with_corrupt_attrs_is_refused_not_read_as_null),
        cmocka_unit_test(state_corrupt_file_is_never_rewritten),
        cmocka_unit_test(state_duplicate_keys_are_refused),
        cmocka_unit_test(state_serial_at_int64_max_is_refused),
        cmocka_unit_test(jsoncheck_accepts_exactly_what_jansson_accepts),
        cmocka_unit_test(tls_self_signed_certificate_fails_at_once_with_the_reason),
        cmocka_unit_test(dns_failure_fails_at_once_with_the_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
