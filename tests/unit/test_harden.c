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
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <lualib.h>
#include <sys/stat.h>

#include "core/jsoncheck.h"
#include "core/spec.h"
#include "core/spec_int.h"
#include "transport/gcp_http.h"
#include "core/state.h"
#include "providers/k8s/k8s_yaml.h"

static char *repeat(const char *a, size_t n, const char *mid, const char *b) {
    size_t la = strlen(a), lb = strlen(b), lm = strlen(mid);
    char *s = xmalloc(n * (la + lb) + lm + 1), *p = s;
    for (size_t i = 0; i < n; i++, p += la)
        memcpy(p, a, la);
    memcpy(p, mid, lm), p += lm;
    for (size_t i = 0; i < n; i++, p += lb)
        memcpy(p, b, lb);
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
        for (int k = 0; k < i; k++)
            sbuf_add(&b, " ");
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
        for (int k = 0; k < 10; k++)
            sbuf_addf(&b, "%s*a%d", k ? ", " : "", i - 1);
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
    const char *bad[] = {"{\"name\": \"a\", \"x\": tru}",
                         "{\"name\": \"a\",}",
                         "{\"name\": \"a\" \"b\": 1}",
                         "{\"name\": \"\\q\"}",
                         "{\"name\": \"a\", \"name\": \"b\"}",
                         "{\"n\": 01}",
                         "{\"n\": \"\\ud800\"}",
                         "{\"n\": 99999999999999999999}",
                         "{\"n\": 1e999}"};
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

/* ---- locks ---- */

static void lock_of_a_live_process_is_not_stale_and_of_a_dead_one_is(void **st) {
    (void)st;
    state_lock_info_t li;
    state_lock_init(&li, "apply");
    char why[200];
    assert_true(li.pid_start > 0);
    assert_int_equal(state_lock_stale(&li, 0, why, sizeof why), 0);
    assert_int_equal(state_lock_stale(&li, 1, why, sizeof why), 0); /* alive here: the lease does not apply */
    /* a reused PID: same pid, another start time */
    state_lock_info_t reused = li;
    reused.pid_start = li.pid_start + 12345;
    assert_int_equal(state_lock_stale(&reused, 0, why, sizeof why), 1);
    assert_non_null(strstr(why, "another process"));
    /* a process that is gone */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    state_lock_info_t dead = li;
    dead.pid = (int)child;
    assert_int_equal(state_lock_stale(&dead, 0, why, sizeof why), 1);
    assert_non_null(strstr(why, "is gone"));
    /* another host: only the lease tells */
    state_lock_info_t far = li;
    snprintf(far.host, sizeof far.host, "elsewhere.example");
    assert_int_equal(state_lock_stale(&far, 0, why, sizeof why), 0);
    assert_int_equal(state_lock_stale(&far, 60, why, sizeof why), 0);
    snprintf(far.heartbeat, sizeof far.heartbeat, "2026-01-01T00:00:00Z");
    assert_int_equal(state_lock_stale(&far, 60, why, sizeof why), 1);
    assert_non_null(strstr(why, "lease expired"));
    /* pid_start round-trips through the lock JSON */
    char *j = state_lock_json(&li);
    state_lock_info_t back;
    perr_t e = {0};
    assert_int_equal(state_lock_parse(j, strlen(j), "lock", &back, &e), 0);
    assert_true(back.pid_start == li.pid_start);
    free(j);
}

/* ---- jsoncheck agrees with jansson ---- */

static void check_agrees(const char *text, size_t len) {
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    jsoncheck_err_t ce;
    int rc = jsoncheck(text, len, &ce);
    if ((j != NULL) != (rc == 0))
        fail_msg("jansson %s, jsoncheck %s (%s) for: %.*s", j ? "accepts" : "refuses",
                 rc ? "refuses" : "accepts", rc ? ce.text : je.text, (int)len, text);
    json_decref(j);
}

static void jsoncheck_accepts_exactly_what_jansson_accepts(void **st) {
    (void)st;
    const char *cases[] = {
        "{}",
        "[]",
        "1",
        "-0",
        "-",
        "01",
        "1.",
        ".5",
        "1e",
        "1e+",
        "1E-5",
        "0.0e0",
        "true",
        "tru",
        "truex",
        "nul",
        "null",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{\"a\" 1}",
        "{\"a\":1 \"b\":2}",
        "{1:2}",
        "\"\\u0000\"",
        "\"\\u00\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud83d\"",
        "\"\\ude00\"",
        "\"\\ud83d\\u0041\"",
        "\"\\x\"",
        "\"a\tb\"",
        "\"\xc3\xa9\"",
        "\"\xc3\"",
        "\"\xed\xa0\x80\"",
        "\"\xf4\x90\x80\x80\"",
        "\"\xe0\x80\xaf\"",
        "\"\xc0\xaf\"",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,\"\\u0061\":2}",
        "{\"ab\":1,\"a\":2}",
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "1e308",
        "1e309",
        "-1e309",
        "1e-400",
        "123456789012345678.5",
        " [1] ",
        "[1] x",
        "[1]]",
        "\"abc",
        "[\"a\",",
        "{\"a\":",
        "{\"a\"",
        "",
        " ",
        "[1 2]",
        "[true false]",
        "{\"a\":{\"b\":{\"b\":1,\"b\":2}}}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        check_agrees(cases[i], strlen(cases[i]));
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
        for (int m = 0; m < muts; m++)
            buf[rand() % bl] = "{}[],:\"\\ae0-.Eu\x80\xc3 1n"[rand() % 21];
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
                          "-keyout %s/k.pem -out %s/c.pem >/dev/null 2>&1",
                          dir, dir);
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

/* ---- a POST is never re-sent behind plinth's back ---- */

static int rs_listen_fd;
static atomic_int rs_posts, rs_stop; /* shared with the server threads */

/* Reads one request (headers and Content-Length body); 1 POST, 0 other, -1 closed. */
static int rs_read_request(int fd) {
    char buf[8192];
    size_t n = 0;
    char *end = NULL;
    while (!(end = memmem(buf, n, "\r\n\r\n", 4))) {
        ssize_t r = read(fd, buf + n, sizeof buf - n - 1);
        if (r <= 0) return -1;
        n += (size_t)r;
        buf[n] = 0;
    }
    size_t body = 0;
    char *cl = strcasestr(buf, "Content-Length:");
    if (cl) body = (size_t)atol(cl + 15);
    size_t have = n - (size_t)(end + 4 - buf);
    while (have < body) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r <= 0) return -1;
        have += (size_t)r;
    }
    return strncmp(buf, "POST", 4) == 0;
}

static void *rs_conn(void *a) {
    int fd = (int)(intptr_t)a;
    {
        for (;;) {
            int k = rs_read_request(fd);
            if (k < 0) break;
            if (k == 1) { /* carried out, then the connection drops: the answer is lost */
                atomic_fetch_add(&rs_posts, 1);
                break;
            }
            static const char ok[] =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
            if (write(fd, ok, sizeof ok - 1) < 0) break;
        }
        close(fd);
    }
    return NULL;
}

/* One thread per connection: a client may open a new one while an idle
 * one stays open. */
static void *rs_main(void *a) {
    (void)a;
    while (!rs_stop) {
        int fd = accept(rs_listen_fd, NULL, NULL);
        if (fd < 0) {
            if (rs_stop) break;
            continue;
        }
        pthread_t t;
        pthread_create(&t, NULL, rs_conn, (void *)(intptr_t)fd);
        pthread_detach(t);
    }
    return NULL;
}

static void post_with_lost_answer_is_sent_once_not_retried_by_libcurl(void **st) {
    (void)st;
    rs_listen_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    assert_int_equal(bind(rs_listen_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(rs_listen_fd, (struct sockaddr *)&a, &l), 0);
    assert_int_equal(listen(rs_listen_fd, 8), 0);
    rs_posts = 0;
    rs_stop = 0;
    pthread_t th;
    pthread_create(&th, NULL, rs_main, NULL);
    char *ep = xasprintf("http://127.0.0.1:%d", ntohs(a.sin_port));
    gcp_client_t *c = client_for(ep);
    gcp_resp_t r;
    perr_t e = {0};
    /* a GET first, so that a connection is open for reuse */
    assert_int_equal(gcp_call(c, "GET", "storage", "storage/v1/b/x", NULL, &r, &e), 0);
    gcp_resp_free(&r);
    json_t *body = json_pack("{s:s}", "name", "x");
    int rc = gcp_call(c, "POST", "storage", "storage/v1/b?project=p", body, &r, &e);
    json_decref(body);
    bool maybe = r.maybe_applied;
    gcp_resp_free(&r);
    gcp_client_free(c);
    free(ep);
    rs_stop = 1;
    shutdown(rs_listen_fd, SHUT_RDWR);
    close(rs_listen_fd);
    pthread_join(th, NULL);
    assert_int_equal(rc, -1);
    assert_true(maybe);
    if (rs_posts != 1) fail_msg("the POST reached the server %d times", rs_posts);
}

/* ---- spec sandbox ---- */

static char sdir[64];

static void write_at(const char *rel, const char *text) {
    char *p = xasprintf("%s/%s", sdir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static int sandbox_setup(void **st) {
    (void)st;
    snprintf(sdir, sizeof sdir, "/tmp/plinth-test-sandbox-XXXXXX");
    if (!mkdtemp(sdir)) return -1;
    char *m = xasprintf("%s/spec", sdir);
    mkdir(m, 0700);
    free(m);
    m = xasprintf("%s/outside", sdir);
    mkdir(m, 0700);
    free(m);
    write_at("outside/secret.txt", "s3cret");
    write_at("outside/mod.lua", "return function(i) return {} end");
    write_at("spec/inside.txt", "hello");
    char *link = xasprintf("%s/spec/link.txt", sdir), *target = xasprintf("%s/outside/secret.txt", sdir);
    if (symlink(target, link) != 0) return -1;
    free(link);
    free(target);
    return 0;
}

static int sandbox_teardown(void **st) {
    (void)st;
    char *cmd = xasprintf("rm -rf '%s'", sdir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

/* Loads spec text (written as spec/main.lua); returns the load status and
 * the diagnostics joined in msg. */
static int load_spec(const char *text, const spec_opts_t *o, char *msg, size_t n) {
    write_at("spec/main.lua", text);
    char *p = xasprintf("%s/spec/main.lua", sdir);
    spec_t *s = NULL;
    diag_t d = {0};
    int rc = spec_load(p, o, &s, &d);
    msg[0] = '\0';
    for (size_t i = 0; i < d.n; i++) {
        size_t l = strlen(msg);
        snprintf(msg + l, n - l, "%s: %s\n", d.items[i].where, d.items[i].msg);
    }
    diag_free(&d);
    spec_free(s);
    free(p);
    return rc;
}

#define HEAD "provider \"gcp\" { project = \"p\", region = \"europe-west1\" }\n"

static void spec_getenv_sees_only_plinth_vars_and_allowed_names(void **st) {
    (void)st;
    char msg[2048];
    setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.planted-secret", 1);
    setenv("PLINTH_VAR_region", "eu", 1);
    setenv("HARDEN_OK", "fine", 1);
    assert_int_equal(
        load_spec(HEAD "local t = os.getenv('GOOGLE_OAUTH_ACCESS_TOKEN')\n", NULL, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "main.lua:2"));
    assert_non_null(strstr(msg, "--allow-env"));
    assert_null(strstr(msg, "planted-secret"));
    assert_int_equal(
        load_spec(HEAD "assert(os.getenv('PLINTH_VAR_region') == 'eu')\n", NULL, msg, sizeof msg), 0);
    spec_opts_t o = {0};
    strlist_add(&o.allow_env, "HARDEN_OK");
    assert_int_equal(load_spec(HEAD "assert(os.getenv('HARDEN_OK') == 'fine')\n", &o, msg, sizeof msg), 0);
    assert_int_equal(
        load_spec(HEAD "local t = os.getenv('GOOGLE_OAUTH_ACCESS_TOKEN')\n", &o, msg, sizeof msg), -1);
    strlist_free(&o.allow_env);
    unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
}

static void spec_file_reads_stay_inside_the_spec_tree(void **st) {
    (void)st;
    char msg[4096];
    assert_int_equal(load_spec(HEAD "assert(file('inside.txt') == 'hello')\n", NULL, msg, sizeof msg), 0);
    const char *bad[] = {"file('/etc/passwd')", "file('../outside/secret.txt')", "file('link.txt')",
                         "templatefile('/proc/self/environ', {})", "file('/proc/self/environ')"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *src = xasprintf(HEAD "local x = %s\n", bad[i]);
        if (load_spec(src, NULL, msg, sizeof msg) != -1) fail_msg("%s was allowed", bad[i]);
        if (!strstr(msg, "outside the spec's directory")) fail_msg("%s: %s", bad[i], msg);
        assert_non_null(strstr(msg, "main.lua:2"));
        assert_null(strstr(msg, "s3cret"));
        free(src);
    }
    char *src = xasprintf(HEAD "module 'm' { source = '../outside/mod' }\n");
    assert_int_equal(load_spec(src, NULL, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "outside the spec's directory"));
    free(src);
    /* --allow-read widens it */
    spec_opts_t o = {0};
    char *out = xasprintf("%s/outside", sdir);
    strlist_add(&o.allow_read, out);
    assert_int_equal(
        load_spec(HEAD "assert(file('../outside/secret.txt') == 's3cret')\n", &o, msg, sizeof msg), 0);
    assert_int_equal(load_spec(HEAD "assert(file('link.txt') == 's3cret')\n", &o, msg, sizeof msg), 0);
    strlist_free(&o.allow_read);
    free(out);
}

static void spec_file_reads_are_bounded_and_regular_files_only(void **st) {
    (void)st;
    char msg[4096];
    spec_opts_t o = {0};
    strlist_add(&o.allow_read, "/dev");
    int64_t t0 = util_now_ms();
    assert_int_equal(load_spec(HEAD "local x = file('/dev/zero')\n", &o, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "not a regular file"));
    assert_int_equal(load_spec(HEAD "local x = templatefile('/dev/urandom', {})\n", &o, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "not a regular file"));
    strlist_free(&o.allow_read);
    char *big = xasprintf("%s/spec/big.bin", sdir);
    assert_int_equal(truncate(big, 0) == 0 || 1, 1);
    FILE *f = fopen(big, "w");
    fclose(f);
    assert_int_equal(truncate(big, (off_t)200 << 20), 0); /* sparse: 200 MiB */
    assert_int_equal(load_spec(HEAD "local x = file('big.bin')\n", NULL, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "more than"));
    unlink(big);
    free(big);
    if (util_now_ms() - t0 > 5000) fail_msg("bounded reads took %lld ms", (long long)(util_now_ms() - t0));
}

static void spec_pattern_bomb_stops_at_the_time_budget(void **st) {
    (void)st;
    char msg[2048];
    spec_opts_t o = {0};
    o.time_limit_ms = 1500;
    const char *bombs[] = {"string.find(string.rep('a', 30000), '.-.-.-.-.-.-.-b')",
                           "string.match(string.rep('a', 30000), '(.*)(.*)(.*)(.*)(.*)b')",
                           "string.gsub(string.rep('a', 30000), '.-.-.-.-.-b', '')",
                           "(function() for m in string.rep('a', 30000):gmatch('.-.-.-.-.-b') do end end)()",
                           "table.move({}, 1, 1e15, 2)"};
    for (size_t i = 0; i < sizeof bombs / sizeof *bombs; i++) {
        char *src = xasprintf(HEAD "local x = %s\n", bombs[i]);
        int64_t t0 = util_now_ms();
        assert_int_equal(load_spec(src, &o, msg, sizeof msg), -1);
        int64_t ms = util_now_ms() - t0;
        if (ms > 4000) fail_msg("%s ran %lld ms", bombs[i], (long long)ms);
        if (!strstr(msg, "took longer than")) fail_msg("%s: %s", bombs[i], msg);
        assert_non_null(strstr(msg, "main.lua:2"));
        free(src);
    }
}

/* As in plinth, the flag is set by a signal handler on the thread that
 * reads it (a plain write from another thread would be a data race):
 * the helper thread only delivers the signal. */
static volatile sig_atomic_t stop_flag;
static pthread_t stop_target;
static void on_stop_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}
static void *set_stop_later(void *a) {
    (void)a;
    usleep(300 * 1000);
    pthread_kill(stop_target, SIGUSR1);
    return NULL;
}

static void spec_stop_signal_interrupts_a_pattern_at_once(void **st) {
    (void)st;
    char msg[2048];
    spec_opts_t o = {0};
    stop_flag = 0;
    o.stop = &stop_flag;
    struct sigaction sa = {0}, old;
    sa.sa_handler = on_stop_signal;
    sigaction(SIGUSR1, &sa, &old);
    stop_target = pthread_self();
    pthread_t th;
    pthread_create(&th, NULL, set_stop_later, NULL);
    int64_t t0 = util_now_ms();
    int rc = load_spec(HEAD "local x = string.find(string.rep('a', 30000), '.-.-.-.-.-.-.-b')\n", &o, msg,
                       sizeof msg);
    int64_t ms = util_now_ms() - t0;
    pthread_join(th, NULL);
    sigaction(SIGUSR1, &old, NULL);
    assert_int_equal(rc, -1);
    assert_non_null(strstr(msg, "interrupted"));
    if (ms > 2000) fail_msg("stopping took %lld ms", (long long)ms);
}

/* The budgeted string functions agree with Lua's own on random patterns. */
static const char *DIFF_LUA =
    "local O = {find = string.find, match = string.match, gmatch = string.gmatch, gsub = string.gsub,\n"
    "           move = table.move}\n"
    "local install = ...\n"
    "install()\nassert(string.find ~= O.find and table.move ~= O.move)\n"
    "local N = {find = string.find, match = string.match, gmatch = string.gmatch, gsub = string.gsub,\n"
    "           move = table.move}\n"
    "local function pack(ok, ...) return {ok = ok, n = select('#', ...), ...} end\n"
    "local function same(a, b)\n"
    "  if a.ok ~= b.ok then return false end\n"
    "  if not a.ok then return true end\n"
    "  if a.n ~= b.n then return false end\n"
    "  for i = 1, a.n do if a[i] ~= b[i] then return false end end\n"
    "  return true\n"
    "end\n"
    "local atoms = {'a', 'b', '.', '%a', '%d', '%s', '%S', '[ab]', '[^a]', '[a-c]', '[%a_]', '%%', '%.', "
    "'(', ')',\n"
    "  '()', '*', '+', '-', '?', '^', '$', '%b()', '%f[%a]', '%1', '[]]', '[^]a]', 'x', '%', '['}\n"
    "local subj = {'', 'a', 'ab', 'aab', 'abcabc', 'a.b', '(a(b)c)', 'hello world 12', 'aaaa', 'x^$y', ' a b "
    "',\n"
    "  'ba]a', 'key = value', 'THE (quick) fox', 'a\\0b'}\n"
    "local seed = 7\n"
    "local function rnd(n) seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n + 1 end\n"
    "local bad = 0\n"
    "for iter = 1, 30000 do\n"
    "  local p = {}\n"
    "  for k = 1, rnd(5) do p[#p + 1] = atoms[rnd(#atoms)] end\n"
    "  p = table.concat(p)\n"
    "  local s = subj[rnd(#subj)]\n"
    "  local init = rnd(5) - 3\n"
    "  local r1, r2\n"
    "  local f = iter % 5\n"
    "  if f == 0 then r1, r2 = pack(pcall(O.find, s, p, init)), pack(pcall(N.find, s, p, init))\n"
    "  elseif f == 1 then r1, r2 = pack(pcall(O.match, s, p, init)), pack(pcall(N.match, s, p, init))\n"
    "  elseif f == 2 then\n"
    "    local reps = {'<%0>', '%1', '-', {a = 'A', ab = false}, function(x) return x and #x end}\n"
    "    local rp = reps[rnd(#reps)]\n"
    "    r1, r2 = pack(pcall(O.gsub, s, p, rp)), pack(pcall(N.gsub, s, p, rp))\n"
    "  elseif f == 3 then\n"
    "    local function all(g) local t = {} for a, b in g(s, p) do t[#t + 1] = tostring(a) .. '|' .. "
    "tostring(b)\n"
    "      if #t > 100 then break end end return table.concat(t, ',') end\n"
    "    r1, r2 = pack(pcall(all, O.gmatch)), pack(pcall(all, N.gmatch))\n"
    "  else r1, r2 = pack(pcall(O.find, s, p, init, true)), pack(pcall(N.find, s, p, init, true)) end\n"
    "  if not same(r1, r2) then\n"
    "    bad = bad + 1\n"
    "    if bad < 5 then io.stderr:write(string.format('differs: f=%d s=%q p=%q init=%d: %s/%s %s/%s\\n', f, "
    "s, p,\n"
    "      init, tostring(r1.ok), tostring(r2.ok), tostring(r1[1]), tostring(r2[1]))) end\n"
    "  end\n"
    "end\n"
    "local t1, t2 = O.move({1, 2, 3, 4, 5}, 2, 4, 1), N.move({1, 2, 3, 4, 5}, 2, 4, 1)\n"
    "for i = 1, 5 do if t1[i] ~= t2[i] then bad = bad + 1 end end\n"
    "t1, t2 = O.move({1, 2, 3, 4, 5}, 1, 3, 2), N.move({1, 2, 3, 4, 5}, 1, 3, 2)\n"
    "for i = 1, 5 do if t1[i] ~= t2[i] then bad = bad + 1 end end\n"
    "return bad\n";

static int install_ours(lua_State *L) {
    spec_pattern_install(L, NULL);
    return 0;
}

static void spec_patterns_agree_with_the_lua_string_library(void **st) {
    (void)st;
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    assert_int_equal(luaL_loadstring(L, DIFF_LUA), LUA_OK);
    lua_pushcfunction(L, install_ours);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) fail_msg("%s", lua_tostring(L, -1));
    int bad = (int)lua_tointeger(L, -1);
    lua_close(L);
    assert_int_equal(bad, 0);
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
        cmocka_unit_test(lock_of_a_live_process_is_not_stale_and_of_a_dead_one_is),
        cmocka_unit_test(tls_self_signed_certificate_fails_at_once_with_the_reason),
        cmocka_unit_test(dns_failure_fails_at_once_with_the_reason),
        cmocka_unit_test(post_with_lost_answer_is_sent_once_not_retried_by_libcurl),
        cmocka_unit_test_setup_teardown(spec_getenv_sees_only_plinth_vars_and_allowed_names, sandbox_setup,
                                        sandbox_teardown),
        cmocka_unit_test_setup_teardown(spec_file_reads_stay_inside_the_spec_tree, sandbox_setup,
                                        sandbox_teardown),
        cmocka_unit_test_setup_teardown(spec_file_reads_are_bounded_and_regular_files_only, sandbox_setup,
                                        sandbox_teardown),
        cmocka_unit_test_setup_teardown(spec_pattern_bomb_stops_at_the_time_budget, sandbox_setup,
                                        sandbox_teardown),
        cmocka_unit_test_setup_teardown(spec_stop_signal_interrupts_a_pattern_at_once, sandbox_setup,
                                        sandbox_teardown),
        cmocka_unit_test(spec_patterns_agree_with_the_lua_string_library),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
