/* test_ssh.c: the ssh provider against a real OpenSSH sshd on loopback
 * (started from tests/integration/lib/sshd.sh; every test is skipped with a
 * message when sshd is missing).  Drives the "ssh.exec" rtype callbacks
 * directly, plus the tunnel API. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/rtype.h"
#include "transport/ssh.h"
#include "tests/support/san.h"
#include "tests/support/sshd.h"

extern const provider_def_t ssh_provider;

static struct {
    char dir[256];
    pid_t sshd;
    int port;
    char fp[128];
    char user[64];
} g;

/* ---- fixture ---- */

static int group_setup(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    struct passwd *pw = getpwuid(getuid());
    snprintf(g.user, sizeof g.user, "%s", pw ? pw->pw_name : "root");
    const char *helper = tsshd_helper();
    if (access("/usr/sbin/sshd", X_OK) != 0 || !helper) {
        fprintf(stderr, "test_ssh: SKIP (needs /usr/sbin/sshd, which make deps installs; and "
                        "tests/integration/lib/sshd.sh)\n");
        return 0;
    }
    snprintf(g.dir, sizeof g.dir, "/tmp/plinth-test-ssh-XXXXXX");
    if (!mkdtemp(g.dir)) return -1;
    int rc = 0;
    for (int attempt = 0; attempt < 3 && rc == 0; attempt++)
        rc = tsshd_start(helper, g.dir, NULL, "test_ssh", &g.sshd, &g.port);
    if (rc <= 0) {
        char out[512];
        snprintf(out, sizeof out, "%s/helper.out", g.dir);
        char *o = tsshd_slurp(out);
        /* sshd is installed, so this is a failure, not a skip. */
        fprintf(stderr, "test_ssh: could not start sshd: %s\n", o ? o : "");
        free(o);
        return -1;
    }
    char fpf[512];
    snprintf(fpf, sizeof fpf, "%s/host_fp", g.dir);
    char *fp = tsshd_slurp(fpf);
    snprintf(g.fp, sizeof g.fp, "%s", fp ? fp : "");
    free(fp);
    return 0;
}

static int group_teardown(void **state) {
    (void)state;
    return tsshd_stop(g.sshd, g.dir);
}

#define NEED_SSHD()                                                                                          \
    do {                                                                                                     \
        if (!g.port) skip();                                                                                 \
    } while (0)

static char *path_in(const char *name) {
    return xasprintf("%s/%s", g.dir, name);
}

/* A body with connection fields for the test sshd and the given script. */
static json_t *body_new(const char *script) {
    char *key = path_in("user_ed25519");
    json_t *b = json_pack("{s:s, s:i, s:s, s:s, s:s, s:s}", "host", "127.0.0.1", "port", g.port, "user",
                          g.user, "private_key_file", key, "host_key_sha256", g.fp, "script", script);
    free(key);
    return b;
}

/* ---- a context recording progress lines ---- */

typedef struct rec {
    pthread_mutex_t mu;
    strlist_t lines;
} rec_t;

static void rec_progress(void *ud, const char *addr, const char *msg) {
    (void)addr;
    rec_t *r = ud;
    pthread_mutex_lock(&r->mu);
    strlist_add(&r->lines, msg);
    pthread_mutex_unlock(&r->mu);
}

typedef struct fix {
    void *prov;
    const rtype_t *t;
    rec_t rec;
    perr_t err;
    rctx_t c;
} fix_t;

static void fix_init(fix_t *f) {
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->rec.mu, NULL);
    prov_env_t env = {.parallelism = 4};
    perr_t e = {0};
    f->prov = ssh_provider.open(NULL, &env, &e);
    assert_non_null(f->prov);
    f->t = ssh_provider.types[0];
    assert_string_equal(f->t->name, "ssh.exec");
    f->c = (rctx_t){.type = f->t,
                    .addr = "ssh.exec.test",
                    .prov = f->prov,
                    .err = &f->err,
                    .progress = rec_progress,
                    .ud = &f->rec};
}

static void fix_free(fix_t *f) {
    ssh_provider.close(f->prov);
    strlist_free(&f->rec.lines);
    pthread_mutex_destroy(&f->rec.mu);
}

static int has_line(fix_t *f, const char *s) {
    for (size_t i = 0; i < f->rec.lines.n; i++)
        if (strcmp(f->rec.lines.v[i], s) == 0) return 1;
    return 0;
}

/* defaults + create; returns create's status, live in *live (may be NULL). */
static int create(fix_t *f, json_t *body, json_t **live) {
    f->t->defaults(f->t, f->prov, "test", body);
    char *id = NULL;
    json_t *l = NULL;
    int rc = f->t->create(&f->c, body, &id, &l);
    free(id);
    if (live)
        *live = l;
    else
        json_decref(l);
    return rc;
}

/* ---- tests ---- */

static void test_exec_runs_script_with_env_and_streams_output(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("echo hello; echo to-stderr >&2; echo \"foo=$FOO\"; echo \"q=$Q\"");
    json_object_set_new(b, "env", json_pack("{s:s, s:s}", "FOO", "bar baz", "Q", "it's"));
    json_t *live = NULL;
    int rc = create(&f, b, &live);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    assert_true(has_line(&f, "hello"));
    assert_true(has_line(&f, "to-stderr"));
    assert_true(has_line(&f, "foo=bar baz"));
    assert_true(has_line(&f, "q=it's"));
    assert_non_null(live);
    assert_int_equal(json_integer_value(json_object_get(live, "exit_status")), 0);
    assert_non_null(json_object_get(live, "script_sha256"));
    assert_non_null(json_object_get(live, "env_sha256"));
    json_decref(live);
    json_decref(b);
    fix_free(&f);
}

static void test_nonzero_exit_fails_with_output_tail(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("for i in $(seq 1 30); do echo line$i; done; echo boom >&2; exit 3");
    assert_int_equal(create(&f, b, NULL), -1);
    assert_non_null(strstr(f.err.msg, "exit status 3"));
    assert_non_null(strstr(f.err.msg, "boom"));
    assert_non_null(strstr(f.err.msg, "line30"));
    assert_null(strstr(f.err.msg, "line5\n")); /* only the tail */
    assert_string_equal(f.err.where, "ssh.exec.test");
    json_decref(b);
    fix_free(&f);
}

static void test_one_megabyte_of_output_on_both_streams(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    /* 1 MB on stdout (10000 lines of 100 x) while 5000 lines go to stderr. */
    json_t *b = body_new("(i=0; while [ $i -lt 5000 ]; do echo err$i; i=$((i+1)); done) >&2 &\n"
                         "head -c 1000000 /dev/zero | tr '\\0' x | fold -w 100; echo; wait");
    int64_t t0 = util_now_ms();
    int rc = create(&f, b, NULL);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    size_t nx = 0, nerr = 0;
    for (size_t i = 0; i < f.rec.lines.n; i++) {
        if (strlen(f.rec.lines.v[i]) == 100) nx++;
        if (strncmp(f.rec.lines.v[i], "err", 3) == 0) nerr++;
    }
    assert_int_equal(nx, 10000);
    assert_int_equal(nerr, 5000);
    assert_true(has_line(&f, "err4999"));
    assert_true(util_now_ms() - t0 < 20000);
    json_decref(b);
    fix_free(&f);
}

static void test_host_key_mismatch_is_refused(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("echo should-not-run");
    json_object_set_new(b, "host_key_sha256",
                        json_string("SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
    assert_int_equal(create(&f, b, NULL), -1);
    assert_non_null(strstr(f.err.msg, "MISMATCH"));
    assert_non_null(strstr(f.err.msg, g.fp)); /* shows the actual fingerprint */
    assert_non_null(strstr(f.err.msg, "SHA256:AAAAAAAA"));
    assert_false(has_line(&f, "should-not-run"));
    json_decref(b);
    fix_free(&f);
}

static void test_unpinned_host_key_error_names_fingerprint(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("echo x");
    json_object_del(b, "host_key_sha256");
    assert_int_equal(create(&f, b, NULL), -1);
    assert_non_null(strstr(f.err.msg, "not pinned"));
    assert_non_null(strstr(f.err.msg, g.fp));
    /* trust_on_first_use accepts it */
    json_object_set_new(b, "trust_on_first_use", json_true());
    int rc = create(&f, b, NULL);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    json_decref(b);
    fix_free(&f);
}

static void test_known_hosts_file_verifies_host_key(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    char *pubf = path_in("host_ed25519.pub"), *khf = path_in("known_hosts");
    char *pub = tsshd_slurp(pubf);
    assert_non_null(pub);
    char *sp = strchr(strchr(pub, ' ') + 1, ' ');
    if (sp) *sp = 0; /* drop the comment */
    char *line = xasprintf("[127.0.0.1]:%d %s\n", g.port, pub);
    perr_t e;
    assert_int_equal(util_write_atomic(khf, line, strlen(line), &e), 0);
    json_t *b = body_new("echo known");
    json_object_del(b, "host_key_sha256");
    json_object_set_new(b, "known_hosts_file", json_string(khf));
    int rc = create(&f, b, NULL);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    assert_true(has_line(&f, "known"));
    /* A file naming another key for this host is a mismatch. */
    char *wrong = path_in("wrong_ed25519.pub");
    char *wpub = tsshd_slurp(wrong);
    char *wsp = strchr(strchr(wpub, ' ') + 1, ' ');
    if (wsp) *wsp = 0;
    char *line2 = xasprintf("[127.0.0.1]:%d %s\n", g.port, wpub);
    assert_int_equal(util_write_atomic(khf, line2, strlen(line2), &e), 0);
    fix_free(&f);
    fix_init(&f);
    assert_int_equal(create(&f, b, NULL), -1);
    assert_non_null(strstr(f.err.msg, "MISMATCH"));
    free(line2);
    free(wpub);
    free(wrong);
    json_decref(b);
    free(line);
    free(pub);
    free(pubf);
    free(khf);
    fix_free(&f);
}

static void test_wrong_key_gives_clear_auth_error(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("echo x");
    char *wrong = path_in("wrong_ed25519");
    json_object_set_new(b, "private_key_file", json_string(wrong));
    assert_int_equal(create(&f, b, NULL), -1);
    char *want = xasprintf("authentication failed for %s@127.0.0.1:%d (publickey)", g.user, g.port);
    if (!strstr(f.err.msg, want)) fail_msg("unexpected error: %s", f.err.msg);
    free(want);
    free(wrong);
    json_decref(b);
    fix_free(&f);
}

static void test_passphrase_key_auth_and_passphrase_not_in_errors(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("echo pass-ok");
    char *key = path_in("pass_ed25519");
    json_object_set_new(b, "private_key_file", json_string(key));
    json_object_set_new(b, "private_key_passphrase", json_string("test-passphrase"));
    int rc = create(&f, b, NULL);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    assert_true(has_line(&f, "pass-ok"));
    json_object_set_new(b, "private_key_passphrase", json_string("not-the-passphrase-xyz"));
    fix_free(&f);
    fix_init(&f);
    assert_int_equal(create(&f, b, NULL), -1);
    assert_non_null(strstr(f.err.msg, "authentication failed"));
    assert_null(strstr(f.err.msg, "not-the-passphrase-xyz"));
    free(key);
    json_decref(b);
    fix_free(&f);
}

static void test_agent_auth(void **state) {
    (void)state;
    NEED_SSHD();
    if (access("/usr/bin/ssh-agent", X_OK) != 0) {
        fprintf(stderr, "test_ssh: SKIP (needs /usr/bin/ssh-agent, which make deps installs)\n");
        skip();
    }
    char *sock = path_in("agent.sock");
    pid_t agent = fork();
    if (agent == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execl("/usr/bin/ssh-agent", "ssh-agent", "-D", "-a", sock, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100 && access(sock, F_OK) != 0; i++)
        usleep(20000);
    char *old = getenv("SSH_AUTH_SOCK") ? xstrdup(getenv("SSH_AUTH_SOCK")) : NULL;
    setenv("SSH_AUTH_SOCK", sock, 1);
    char *cmd = xasprintf("ssh-add -q '%s/user_ed25519' 2>/dev/null", g.dir);
    assert_int_equal(system(cmd), 0);
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("echo agent-ok");
    json_object_del(b, "private_key_file");
    json_object_set_new(b, "use_agent", json_true());
    int rc = create(&f, b, NULL);
    char msg[2048];
    snprintf(msg, sizeof msg, "%s", f.err.msg);
    kill(agent, SIGTERM);
    waitpid(agent, NULL, 0);
    if (old)
        setenv("SSH_AUTH_SOCK", old, 1);
    else
        unsetenv("SSH_AUTH_SOCK");
    if (rc) fail_msg("create with agent failed: %s", msg);
    assert_true(has_line(&f, "agent-ok"));
    free(old);
    free(cmd);
    free(sock);
    json_decref(b);
    fix_free(&f);
}

typedef struct par {
    fix_t *f;
    int i, rc, via;
    char msg[256];
} par_t;

static void *par_main(void *arg) {
    par_t *p = arg;
    char script[128];
    snprintf(script, sizeof script, "sleep 1; echo done-%d", p->i);
    json_t *b = body_new(script);
    if (p->via) {
        json_t *via = body_new("");
        json_object_del(via, "script");
        json_object_set_new(b, "via", via);
    }
    perr_t err = {0};
    rctx_t c = p->f->c;
    c.err = &err;
    p->f->t->defaults(p->f->t, p->f->prov, "test", b);
    char *id = NULL;
    json_t *live = NULL;
    p->rc = p->f->t->create(&c, b, &id, &live);
    snprintf(p->msg, sizeof p->msg, "%s", err.msg);
    free(id);
    json_decref(live);
    json_decref(b);
    return NULL;
}

static void test_twenty_concurrent_execs_on_one_host_all_finish(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    enum { N = 20 };
    par_t ps[N];
    pthread_t th[N];
    int64_t t0 = util_now_ms();
    for (int i = 0; i < N; i++) {
        ps[i] = (par_t){.f = &f, .i = i};
        assert_int_equal(pthread_create(&th[i], NULL, par_main, &ps[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++) {
        if (ps[i].rc) fail_msg("exec %d failed: %s", i, ps[i].msg);
        char want[32];
        snprintf(want, sizeof want, "done-%d", i);
        assert_true(has_line(&f, want));
    }
    /* They ran side by side, not one after another (20 x 1 s); the margin
     * is for loaded CI machines (and ThreadSanitizer: still under the 20 s
     * that one after another would take). */
    int64_t ms = util_now_ms() - t0;
    if (ms >= (TEST_UNDER_TSAN ? 19000 : 10000))
        fail_msg("20 execs of 1 s took %lld ms: not concurrent", (long long)ms);
    fix_free(&f);
}

/* A one-connection-at-a-time TCP echo server. */
typedef struct echo {
    int lfd, port;
    pthread_t th;
} echo_t;

static void *echo_main(void *arg) {
    echo_t *es = arg;
    for (;;) {
        int fd = accept(es->lfd, NULL, NULL);
        if (fd < 0) return NULL;
        char buf[4096];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            if (write(fd, buf, (size_t)n) != n) break;
        close(fd);
    }
}

static void echo_start(echo_t *es) {
    es->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(es->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(es->lfd, 8), 0);
    getsockname(es->lfd, (struct sockaddr *)&a, &al);
    es->port = ntohs(a.sin_port);
    pthread_create(&es->th, NULL, echo_main, es);
}

static void echo_stop(echo_t *es) {
    shutdown(es->lfd, SHUT_RDWR);
    close(es->lfd);
    pthread_join(es->th, NULL);
}

/* Kills the per-connection sshd processes (children of our sshd): every
 * pooled session dies while the listener stays up. */
static int kill_sshd_connections(void) {
    int n = 0;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ps -o pid= --ppid %d", (int)g.sshd);
    FILE *f = popen(cmd, "r");
    if (!f) return 0;
    int pid;
    while (fscanf(f, "%d", &pid) == 1)
        if (kill(pid, SIGKILL) == 0) n++;
    pclose(f);
    return n;
}

/* Sends 200 KB through the tunnel at lport and checks the echo. */
static void echo_roundtrip(int lport, int round) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)lport), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(s, (struct sockaddr *)&a, sizeof a), 0);
    /* 200 KB through the tunnel and back */
    size_t total = 200000, sent = 0, got = 0;
    char *out = xmalloc(total), *in = xmalloc(total);
    for (size_t i = 0; i < total; i++)
        out[i] = (char)('a' + (i * 7 + round) % 26);
    while (got < total) {
        if (sent < total) {
            ssize_t w = write(s, out + sent, total - sent > 16384 ? 16384 : total - sent);
            assert_true(w > 0);
            sent += (size_t)w;
        }
        ssize_t n = recv(s, in + got, total - got, sent < total ? MSG_DONTWAIT : 0);
        if (n > 0)
            got += (size_t)n;
        else if (n == 0)
            break;
    }
    assert_int_equal(got, total);
    assert_memory_equal(in, out, total);
    close(s);
    free(out);
    free(in);
}

static void test_tunnel_forwards_bytes_through_bastion(void **state) {
    (void)state;
    NEED_SSHD();
    echo_t es;
    echo_start(&es);
    ssh_pool_t *pool = ssh_pool_new();
    json_t *bastion = body_new("");
    json_object_del(bastion, "script");
    perr_t e = {0};
    int lport = 0, lport2 = 0;
    int rc = ssh_tunnel_open(pool, bastion, "127.0.0.1", es.port, &lport, &e);
    if (rc) fail_msg("tunnel: %s", e.msg);
    assert_true(lport > 0);
    assert_int_equal(ssh_tunnel_open(pool, bastion, "127.0.0.1", es.port, &lport2, &e), 0);
    assert_int_equal(lport, lport2); /* shared for the same target */
    echo_roundtrip(lport, 0);
    echo_roundtrip(lport, 1);
    /* The bastion session dies (idle timeout, restart): the next client
     * connection gets a new one. */
    assert_true(kill_sshd_connections() > 0);
    usleep(100000);
    echo_roundtrip(lport, 2);
    ssh_pool_free(pool);
    json_decref(bastion);
    echo_stop(&es);
}

static void test_exec_via_bastion(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("echo via-ok");
    json_t *via = body_new("");
    json_object_del(via, "script");
    json_object_set_new(b, "via", via);
    int rc = create(&f, b, NULL);
    if (rc) fail_msg("create via bastion failed: %s", f.err.msg);
    assert_true(has_line(&f, "via-ok"));
    /* Many at once: several inner sessions share the one tunnel. */
    enum { N = 12 };
    par_t ps[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        ps[i] = (par_t){.f = &f, .i = 100 + i, .via = 1};
        assert_int_equal(pthread_create(&th[i], NULL, par_main, &ps[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < N; i++)
        if (ps[i].rc) fail_msg("via exec %d failed: %s", i, ps[i].msg);
    json_decref(b);
    fix_free(&f);
}

static void test_sensitive_env_values_never_in_progress_or_errors(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("echo \"token=$SECRET\"; echo \"$SECRET\" >&2; echo plain=$PLAIN; exit 4");
    json_object_set_new(b, "sensitive_env", json_pack("{s:s}", "SECRET", "s3cr3t-v4lue"));
    json_object_set_new(b, "env", json_pack("{s:s}", "PLAIN", "visible"));
    assert_int_equal(create(&f, b, NULL), -1);
    for (size_t i = 0; i < f.rec.lines.n; i++)
        assert_null(strstr(f.rec.lines.v[i], "s3cr3t-v4lue"));
    assert_true(has_line(&f, "token=<redacted>"));
    assert_true(has_line(&f, "plain=visible"));
    assert_null(strstr(f.err.msg, "s3cr3t-v4lue"));
    assert_non_null(strstr(f.err.msg, "exit status 4"));
    json_decref(b);
    fix_free(&f);
}

static void test_files_are_uploaded_before_the_script(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    char *local = path_in("local.txt"), *remote = path_in("remote/sub/uploaded.txt");
    perr_t e;
    assert_int_equal(util_write_atomic(local, "uploaded-content\n", 17, &e), 0);
    char *script = xasprintf("cat '%s'", remote);
    json_t *b = body_new(script);
    json_object_set_new(b, "files", json_pack("{s:s}", remote, "local.txt"));
    json_object_set_new(b, "_spec_dir", json_string(g.dir));
    json_t *live = NULL;
    int rc = create(&f, b, &live);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    assert_true(has_line(&f, "uploaded-content"));
    const char *d1 = json_string_value(json_object_get(live, "files_sha256"));
    assert_non_null(d1);
    /* Changing the local content changes the digest the plan diffs. */
    assert_int_equal(util_write_atomic(local, "changed\n", 8, &e), 0);
    json_t *b2 = body_new(script);
    json_object_set_new(b2, "files", json_pack("{s:s}", remote, "local.txt"));
    json_object_set_new(b2, "_spec_dir", json_string(g.dir));
    f.t->defaults(f.t, f.prov, "test", b2);
    assert_string_not_equal(d1, json_string_value(json_object_get(b2, "files_sha256")));
    json_decref(b2);
    json_decref(live);
    json_decref(b);
    free(script);
    free(local);
    free(remote);
    fix_free(&f);
}

static void test_update_reruns_and_script_file_digest_tracks_content(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    char *sf = path_in("script.sh"), *counter = path_in("runs");
    char *text = xasprintf("#!/bin/sh\necho run >> '%s'\necho ran\n", counter);
    perr_t e;
    assert_int_equal(util_write_atomic(sf, text, strlen(text), &e), 0);
    json_t *b = body_new("");
    json_object_del(b, "script");
    json_object_set_new(b, "script_file", json_string("script.sh"));
    json_object_set_new(b, "_spec_dir", json_string(g.dir));
    json_t *live = NULL;
    int rc = create(&f, b, &live);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    char *sha1 = xstrdup(json_string_value(json_object_get(b, "script_sha256")));
    json_t *newlive = NULL;
    strlist_t changed = {0};
    rc = f.t->update(&f.c, "ssh.exec.test", b, live, &changed, &newlive);
    if (rc) fail_msg("update failed: %s", f.err.msg);
    char *runs = tsshd_slurp(counter);
    assert_string_equal(runs, "run\nrun");
    /* New content: new digest; applying the old plan's body is refused. */
    assert_int_equal(util_write_atomic(sf, "echo v2\n", 8, &e), 0);
    json_t *b2 = json_deep_copy(b);
    f.t->defaults(f.t, f.prov, "test", b2);
    assert_string_not_equal(sha1, json_string_value(json_object_get(b2, "script_sha256")));
    json_t *nl2 = NULL;
    assert_int_equal(f.t->update(&f.c, "ssh.exec.test", b, newlive, &changed, &nl2), -1);
    assert_non_null(strstr(f.err.msg, "changed since the plan"));
    /* read echoes the applied inputs: no spurious change after refresh */
    json_t *rl = NULL;
    assert_int_equal(f.t->read(&f.c, "ssh.exec.test", b2, &rl), 0);
    assert_string_equal(json_string_value(json_object_get(rl, "script_sha256")),
                        json_string_value(json_object_get(b2, "script_sha256")));
    assert_true(f.t->local_state);
    json_decref(rl);
    json_decref(b2);
    free(runs);
    free(sha1);
    json_decref(newlive);
    json_decref(live);
    json_decref(b);
    free(text);
    free(sf);
    free(counter);
    fix_free(&f);
}

static void test_timeout_stops_a_hanging_script_and_kills_it(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    char *pidf = path_in("hang.pid");
    char *script = xasprintf("echo $$ > '%s'; echo started; sleep 30; echo finished", pidf);
    json_t *b = body_new(script);
    json_object_set_new(b, "timeout", json_integer(1));
    int64_t t0 = util_now_ms();
    assert_int_equal(create(&f, b, NULL), -1);
    assert_non_null(strstr(f.err.msg, "timed out after 1 s"));
    assert_true(util_now_ms() - t0 < 8000); /* 1 s + bounded close, loaded CI margin */
    assert_true(has_line(&f, "started"));
    /* The server is this machine: the script's process must be gone. */
    char *pid = tsshd_slurp(pidf);
    assert_non_null(pid);
    int alive = 1;
    for (int i = 0; i < 100 && alive; i++) {
        alive = kill(atoi(pid), 0) == 0;
        if (alive) usleep(20000);
    }
    assert_false(alive);
    free(pid);
    free(pidf);
    free(script);
    json_decref(b);
    fix_free(&f);
}

static void test_remove_runs_destroy_script_only_when_set(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("echo created");
    json_t *live = NULL;
    int rc = create(&f, b, &live);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    assert_int_equal(f.t->remove(&f.c, "ssh.exec.test", live), 0);
    assert_false(has_line(&f, "destroyed"));
    json_object_set_new(live, "destroy_script", json_string("echo destroyed"));
    rc = f.t->remove(&f.c, "ssh.exec.test", live);
    if (rc) fail_msg("remove failed: %s", f.err.msg);
    assert_true(has_line(&f, "destroyed"));
    json_decref(live);
    json_decref(b);
    fix_free(&f);
}

static void test_invalid_bodies_are_rejected_before_connecting(void **state) {
    (void)state;
    fix_t f;
    fix_init(&f);
    static const char *const bad[][2] = {
        {"{\"host\":\"h\",\"user\":\"u\",\"script\":\"x\",\"scirpt_file\":\"y\"}",
         "scirpt_file: unknown field"},
        {"{\"host\":\"h\",\"user\":\"u\",\"script\":\"x\",\"script_file\":\"y\"}", "exclusive"},
        {"{\"host\":\"h\",\"user\":\"u\"}", "script or script_file"},
        {"{\"host\":\"h\",\"script\":\"x\"}", "user: required"},
        {"{\"host\":\"h\",\"user\":\"u\",\"script\":\"x\",\"port\":70000}", "not a TCP port"},
        {"{\"host\":\"h\",\"user\":\"u\",\"script\":\"x\",\"env\":{\"1BAD\":\"v\"}}", "env.1BAD"},
        {"{\"host\":\"h\",\"user\":\"u\",\"script\":\"x\",\"host_key_sha256\":\"abc\"}", "SHA256:"},
        {"{\"host\":\"h\",\"user\":\"u\",\"script\":\"x\",\"via\":{\"host\":\"b\"}}", "via.user: required"},
        {"{\"host\":\"h\",\"user\":\"u\",\"script\":\"x\",\"via\":{\"host\":\"b\",\"user\":\"u\",\"bogus\":1}"
         "}",
         "via.bogus"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *b = json_loads(bad[i][0], 0, NULL);
        assert_non_null(b);
        memset(&f.err, 0, sizeof f.err);
        char *id = f.t->id_of(&f.c, b);
        if (id) fail_msg("accepted %s", bad[i][0]);
        if (!strstr(f.err.msg, bad[i][1]))
            fail_msg("for %s: error \"%s\" lacks \"%s\"", bad[i][0], f.err.msg, bad[i][1]);
        json_decref(b);
    }
    /* A deferred host is fine at plan time. */
    json_t *ok = json_loads("{\"host\":{\"$plinth\":\"ref\",\"addr\":\"gcp.x.y\",\"path\":\"ip\"},"
                            "\"user\":\"u\",\"script\":\"x\"}",
                            0, NULL);
    char *id = f.t->id_of(&f.c, ok);
    if (!id) fail_msg("deferred host rejected: %s", f.err.msg);
    free(id);
    json_decref(ok);
    fix_free(&f);
}

static void test_dead_pooled_session_is_replaced(void **state) {
    (void)state;
    NEED_SSHD();
    fix_t f;
    fix_init(&f);
    json_t *b = body_new("echo first");
    int rc = create(&f, b, NULL);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    assert_true(kill_sshd_connections() > 0);
    usleep(100000);
    json_decref(b);
    b = body_new("echo second");
    rc = create(&f, b, NULL);
    if (rc) fail_msg("create on a dead pooled session failed: %s", f.err.msg);
    assert_true(has_line(&f, "second"));
    json_decref(b);
    fix_free(&f);
}

static void test_provider_block_supplies_connection_defaults(void **state) {
    (void)state;
    NEED_SSHD();
    char *key = path_in("user_ed25519");
    json_t *cfg = json_pack("{s:s, s:i, s:s, s:s}", "user", g.user, "port", g.port, "private_key_file", key,
                            "host_key_sha256", g.fp);
    prov_env_t env = {.parallelism = 4};
    perr_t e = {0};
    fix_t f;
    fix_init(&f);
    ssh_provider.close(f.prov);
    f.prov = f.c.prov = ssh_provider.open(cfg, &env, &e);
    assert_non_null(f.prov);
    json_t *b = json_pack("{s:s, s:s}", "host", "127.0.0.1", "script", "echo from-defaults");
    int rc = create(&f, b, NULL);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    assert_true(has_line(&f, "from-defaults"));
    /* An unknown field in the provider block is an error. */
    json_t *bad = json_pack("{s:s}", "usr", "x");
    assert_null(ssh_provider.open(bad, &env, &e));
    assert_non_null(strstr(e.msg, "usr: unknown field"));
    json_decref(bad);
    json_decref(b);
    json_decref(cfg);
    free(key);
    fix_free(&f);
}

static void test_trust_on_first_use_records_key_in_known_hosts(void **state) {
    (void)state;
    NEED_SSHD();
    char *khf = path_in("tofu_known_hosts");
    unlink(khf);
    json_t *b = body_new("echo tofu");
    json_object_del(b, "host_key_sha256");
    json_object_set_new(b, "known_hosts_file", json_string(khf));
    json_object_set_new(b, "trust_on_first_use", json_true());
    fix_t f;
    fix_init(&f);
    int rc = create(&f, b, NULL);
    if (rc) fail_msg("create failed: %s", f.err.msg);
    fix_free(&f);
    char *kh = tsshd_slurp(khf);
    assert_non_null(kh);
    char *want = xasprintf("[127.0.0.1]:%d ssh-ed25519 ", g.port);
    assert_non_null(strstr(kh, want));
    /* Now pinned by the file: works without trust_on_first_use. */
    json_object_set_new(b, "trust_on_first_use", json_false());
    fix_init(&f);
    rc = create(&f, b, NULL);
    if (rc) fail_msg("create with recorded key failed: %s", f.err.msg);
    fix_free(&f);
    free(want);
    free(kh);
    free(khf);
    json_decref(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_invalid_bodies_are_rejected_before_connecting),
        cmocka_unit_test(test_exec_runs_script_with_env_and_streams_output),
        cmocka_unit_test(test_nonzero_exit_fails_with_output_tail),
        cmocka_unit_test(test_one_megabyte_of_output_on_both_streams),
        cmocka_unit_test(test_host_key_mismatch_is_refused),
        cmocka_unit_test(test_unpinned_host_key_error_names_fingerprint),
        cmocka_unit_test(test_known_hosts_file_verifies_host_key),
        cmocka_unit_test(test_trust_on_first_use_records_key_in_known_hosts),
        cmocka_unit_test(test_wrong_key_gives_clear_auth_error),
        cmocka_unit_test(test_passphrase_key_auth_and_passphrase_not_in_errors),
        cmocka_unit_test(test_agent_auth),
        cmocka_unit_test(test_twenty_concurrent_execs_on_one_host_all_finish),
        cmocka_unit_test(test_tunnel_forwards_bytes_through_bastion),
        cmocka_unit_test(test_exec_via_bastion),
        cmocka_unit_test(test_sensitive_env_values_never_in_progress_or_errors),
        cmocka_unit_test(test_files_are_uploaded_before_the_script),
        cmocka_unit_test(test_update_reruns_and_script_file_digest_tracks_content),
        cmocka_unit_test(test_timeout_stops_a_hanging_script_and_kills_it),
        cmocka_unit_test(test_remove_runs_destroy_script_only_when_set),
        cmocka_unit_test(test_dead_pooled_session_is_replaced),
        cmocka_unit_test(test_provider_block_supplies_connection_defaults),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
