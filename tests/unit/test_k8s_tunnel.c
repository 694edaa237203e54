/* test_k8s_tunnel.c: the Kubernetes provider reaching the API through an
 * SSH bastion (`via`): an in-process emulator serves the Kubernetes API and
 * a real OpenSSH sshd on loopback (tests/integration/lib/sshd.sh, with
 * LogLevel DEBUG1 so direct-tcpip channels show in its log) is the bastion.
 * Also the pure parts: the k8s types list via as a plinth-only, ignored
 * field with a sensitive passphrase, and k8s.manifest copies via into every
 * object.  The sshd tests are skipped with a message when sshd is missing. */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/jpath.h"
#include "core/rtype.h"
#include "emulator/emu.h"
#include "providers/k8s/k8s.h"
#include "providers/k8s/k8s_manifest.h"
#include "tests/support/sshd.h"

static struct {
    char dir[256];
    pid_t sshd;
    int port;
    char fp[128], wrong_fp[128];
    char user[64];
    emu_t *emu;
    char base[64];
} g;

/* ---- fixture: sshd ---------------------------------------------------------- */

static char *path_in(const char *name) {
    return xasprintf("%s/%s", g.dir, name);
}

/* One attempt: 1 running, 0 failed (the port may have been taken). */
static int start_sshd(const char *helper) {
    char *wrapper = path_in("sshd-debug");
    int rc = tsshd_start(helper, g.dir, wrapper, NULL, &g.sshd, &g.port);
    free(wrapper);
    return rc > 0;
}

static char *fingerprint(const char *pubkey) {
    char *cmd = xasprintf("ssh-keygen -l -E sha256 -f '%s/%s' | awk '{print $2}'", g.dir, pubkey);
    FILE *f = popen(cmd, "r");
    free(cmd);
    char buf[128] = "";
    if (f) {
        if (!fgets(buf, sizeof buf, f)) buf[0] = 0;
        pclose(f);
    }
    buf[strcspn(buf, "\n")] = 0;
    return xstrdup(buf);
}

static int group_setup(void **state) {
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    struct passwd *pw = getpwuid(getuid());
    snprintf(g.user, sizeof g.user, "%s", pw ? pw->pw_name : "root");
    perr_t e = {0};
    emu_config_t cfg = {.op_scale = 0.2};
    g.emu = emu_new(&cfg, &e);
    if (!g.emu || emu_start(g.emu, &e) != 0) {
        fprintf(stderr, "test_k8s_tunnel: emulator: %s\n", e.msg);
        return -1;
    }
    snprintf(g.base, sizeof g.base, "http://127.0.0.1:%d", emu_port(g.emu));
    emu_lock(g.emu);
    emu_put(
        g.emu, "container/projects/p/locations/l/clusters/c",
        json_pack("{s:s,s:s,s:s,s:s}", "name", "c", "id", "cid1", "location", "l", "endpoint", "34.0.0.1"));
    emu_unlock(g.emu);
    const char *helper = tsshd_helper();
    if (access("/usr/sbin/sshd", X_OK) != 0 || !helper) {
        fprintf(stderr, "test_k8s_tunnel: SKIP (needs /usr/sbin/sshd, which make deps installs; and "
                        "tests/integration/lib/sshd.sh)\n");
        return 0;
    }
    snprintf(g.dir, sizeof g.dir, "/tmp/plinth-test-k8s-tunnel-XXXXXX");
    if (!mkdtemp(g.dir)) return -1;
    /* sshd logging direct-tcpip channel requests (DEBUG1). */
    char *wrapper = path_in("sshd-debug");
    FILE *w = fopen(wrapper, "w");
    if (!w) return -1;
    fputs("#!/bin/sh\nexec /usr/sbin/sshd -o LogLevel=DEBUG1 \"$@\"\n", w);
    fclose(w);
    chmod(wrapper, 0755);
    free(wrapper);
    int rc = 0;
    for (int attempt = 0; attempt < 3 && !rc; attempt++)
        rc = start_sshd(helper);
    if (!rc) {
        char *out = path_in("helper.out");
        char *o = tsshd_slurp(out);
        fprintf(stderr, "test_k8s_tunnel: could not start sshd: %s\n", o ? o : "");
        free(o);
        free(out);
        return -1; /* sshd is installed: a failure, not a skip */
    }
    char *fp = fingerprint("host_ed25519.pub"), *wfp = fingerprint("wrong_ed25519.pub");
    snprintf(g.fp, sizeof g.fp, "%s", fp);
    snprintf(g.wrong_fp, sizeof g.wrong_fp, "%s", wfp);
    free(fp);
    free(wfp);
    return strncmp(g.fp, "SHA256:", 7) == 0 && strncmp(g.wrong_fp, "SHA256:", 7) == 0 ? 0 : -1;
}

static int group_teardown(void **state) {
    (void)state;
    tsshd_stop(g.sshd, NULL);
    if (g.emu) {
        emu_stop(g.emu);
        emu_free(g.emu);
    }
    return tsshd_stop(0, g.dir);
}

#define NEED_SSHD()                                                                                          \
    do {                                                                                                     \
        if (!g.port) skip();                                                                                 \
    } while (0)

/* Lines of sshd's log containing both needles. */
static int log_count(const char *a, const char *b) {
    char *p = path_in("sshd.log");
    char *log = tsshd_slurp(p);
    free(p);
    int n = 0;
    for (char *line = log ? strtok(log, "\n") : NULL; line; line = strtok(NULL, "\n"))
        if (strstr(line, a) && (!b || strstr(line, b))) n++;
    free(log);
    return n;
}

static int tcpip_to_emulator(void) {
    char target[64];
    snprintf(target, sizeof target, "target 127.0.0.1 port %d", emu_port(g.emu));
    return log_count("direct_tcpip", target);
}

/* ---- provider helpers ---------------------------------------------------------- */

extern const emu_api_t emu_api_k8s;

static const rtype_t *type_named(const char *name) {
    for (const rtype_t *const *t = k8s_provider.types; *t; t++)
        if (!strcmp((*t)->name, name)) return *t;
    return NULL;
}

static const rtype_t *obj_type(void) {
    return type_named("k8s.object");
}

static void *prov_open(void) {
    prov_env_t env = {.endpoint = g.base};
    json_t *cfgj = json_object();
    perr_t e = {0};
    void *p = k8s_provider.open(cfgj, &env, &e);
    json_decref(cfgj);
    if (!p) fail_msg("open: %s", e.msg);
    return p;
}

static void ctx(void *prov, rctx_t *c, perr_t *e) {
    memset(c, 0, sizeof *c);
    c->type = obj_type();
    c->addr = "k8s.object.x";
    c->prov = prov;
    c->err = e;
}

static json_t *bastion(const char *fp) {
    char *key = path_in("user_ed25519");
    json_t *v = json_pack("{s:s,s:i,s:s,s:s,s:s}", "host", "127.0.0.1", "port", g.port, "user", g.user,
                          "private_key_file", key, "host_key_sha256", fp);
    free(key);
    return v;
}

/* A ConfigMap (namespace default) on the test cluster, through via (may be NULL). */
static json_t *configmap(const char *name, json_t *via) {
    json_t *o =
        json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s},s:{s:s,s:s,s:s,s:s,s:s}}", "apiVersion", "v1", "kind",
                  "ConfigMap", "metadata", "name", name, "namespace", "default", "data", "k", name, "cluster",
                  "endpoint", "34.0.0.1", "id", "cid1", "name", "c", "location", "l", "project", "p");
    if (via) json_object_set_new(o, "via", via);
    return o;
}

#define CM_ID(name) "projects/p/locations/l/clusters/c|v1|ConfigMap|default|" name

/* Whether the object exists, asked directly (no bastion). */
static int exists_directly(const char *id) {
    void *p = prov_open();
    rctx_t c;
    perr_t e = {0};
    ctx(p, &c, &e);
    json_t *live = NULL;
    json_t *d = configmap("probe", NULL);
    if (obj_type()->read(&c, id, d, &live) != 0) fail_msg("direct read: %s", e.msg);
    json_decref(d);
    int there = live != NULL;
    json_decref(live);
    k8s_provider.close(p);
    return there;
}

/* ---- the sshd tests ------------------------------------------------------------ */

typedef struct {
    void *prov;
    const char *name;
    int rc;
    perr_t e;
} job_t;

static void *create_job(void *arg) {
    job_t *j = arg;
    rctx_t c;
    ctx(j->prov, &c, &j->e);
    json_t *d = configmap(j->name, bastion(g.fp));
    char *id = NULL;
    json_t *live = NULL;
    j->rc = obj_type()->create(&c, d, &id, &live);
    if (j->rc == 0 && (json_object_get(live, "via") || !json_object_get(live, "data"))) j->rc = -2;
    free(id);
    json_decref(live);
    json_decref(d);
    return NULL;
}

static void objects_are_applied_through_one_shared_tunnel(void **state) {
    (void)state;
    NEED_SSHD();
    int auth0 = log_count("Accepted publickey", NULL), chan0 = tcpip_to_emulator();
    void *p = prov_open();
    static const char *const names[] = {"t-a", "t-b", "t-c", "t-d"};
    job_t jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (job_t){.prov = p, .name = names[i]};
        pthread_create(&th[i], NULL, create_job, &jobs[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        if (jobs[i].rc != 0) fail_msg("%s: rc %d: %s", names[i], jobs[i].rc, jobs[i].e.msg);
    /* One bastion login (the tunnel's session) for all four objects, and the
     * requests went over direct-tcpip channels to the emulator's port. */
    usleep(200000); /* sshd writes its log asynchronously */
    assert_int_equal(log_count("Accepted publickey", NULL) - auth0, 1);
    assert_true(tcpip_to_emulator() > chan0);
    k8s_provider.close(p);
    assert_true(exists_directly(CM_ID("t-a")));
    assert_true(exists_directly(CM_ID("t-d")));
}

static void wrong_bastion_host_key_fails_with_host_key_error_and_applies_nothing(void **state) {
    (void)state;
    NEED_SSHD();
    int chan0 = tcpip_to_emulator();
    void *p = prov_open();
    rctx_t c;
    perr_t e = {0};
    ctx(p, &c, &e);
    json_t *d = configmap("t-wrongkey", bastion(g.wrong_fp));
    char *id = NULL;
    json_t *live = NULL;
    assert_int_equal(obj_type()->create(&c, d, &id, &live), -1);
    if (!strstr(e.msg, "HOST KEY MISMATCH") || !strstr(e.msg, "ssh tunnel to the Kubernetes API 127.0.0.1:"))
        fail_msg("%s", e.msg);
    assert_null(live);
    json_decref(d);
    k8s_provider.close(p);
    usleep(100000);
    assert_int_equal(tcpip_to_emulator(), chan0);
    assert_false(exists_directly(CM_ID("t-wrongkey")));
}

static void delete_without_a_body_uses_the_via_its_read_saw(void **state) {
    (void)state;
    NEED_SSHD();
    void *p = prov_open();
    rctx_t c;
    perr_t e = {0};
    ctx(p, &c, &e);
    json_t *d = configmap("t-del", bastion(g.fp));
    char *id = NULL;
    json_t *live = NULL;
    if (obj_type()->create(&c, d, &id, &live) != 0) fail_msg("%s", e.msg);
    k8s_provider.close(p);
    /* A new run whose read sees a bastion with a wrong host key: the
     * delete, which gets no body, goes through that bastion too (and so
     * fails) instead of connecting directly. */
    p = prov_open();
    ctx(p, &c, &e);
    json_object_set_new(d, "via", bastion(g.wrong_fp));
    json_t *r = NULL;
    assert_int_equal(obj_type()->read(&c, id, d, &r), -1);
    if (!strstr(e.msg, "HOST KEY MISMATCH")) fail_msg("read: %s", e.msg);
    perr_clear(&e);
    assert_int_equal(obj_type()->remove(&c, id, live), -1);
    if (!strstr(e.msg, "HOST KEY MISMATCH")) fail_msg("remove: %s", e.msg);
    k8s_provider.close(p);
    assert_true(exists_directly(id));
    /* With the right bastion seen by the read, the delete works. */
    p = prov_open();
    ctx(p, &c, &e);
    json_object_set_new(d, "via", bastion(g.fp));
    if (obj_type()->read(&c, id, d, &r) != 0) fail_msg("read: %s", e.msg);
    assert_non_null(r);
    json_decref(r);
    if (obj_type()->remove(&c, id, live) != 0) fail_msg("remove: %s", e.msg);
    k8s_provider.close(p);
    assert_false(exists_directly(id));
    free(id);
    json_decref(live);
    json_decref(d);
}

static void unresolved_via_is_an_error_on_read_unless_its_id_was_planned_with_it(void **state) {
    (void)state;
    NEED_SSHD();
    void *p = prov_open();
    rctx_t c;
    perr_t e = {0};
    ctx(p, &c, &e);
    json_t *d = configmap("t-unres", NULL);
    json_t *ref = json_pack("{s:s,s:s,s:s}", "$plinth", "ref", "addr", "gcp.compute_instance.bastion", "path",
                            "networkInterfaces.0.accessConfigs.0.natIP");
    json_t *via = bastion(g.fp);
    json_object_set_new(via, "host", ref);
    json_object_set_new(d, "via", via);
    json_t *r = NULL;
    assert_int_equal(obj_type()->read(&c, CM_ID("t-unres"), d, &r), -1);
    if (!strstr(e.msg, "via refers to attributes of other resources")) fail_msg("%s", e.msg);
    /* The engine plans the ID with the resolved body: the read can then go. */
    json_t *resolved = configmap("t-unres", bastion(g.fp));
    perr_clear(&e);
    char *id = obj_type()->id_of(&c, resolved);
    assert_non_null(id);
    assert_string_equal(id, CM_ID("t-unres"));
    if (obj_type()->read(&c, id, d, &r) != 0) fail_msg("%s", e.msg);
    assert_null(r); /* not created */
    free(id);
    json_decref(resolved);
    json_decref(d);
    k8s_provider.close(p);
}

static void kubeconfig_connections_go_through_the_bastion_too(void **state) {
    (void)state;
    NEED_SSHD();
    char *kc = path_in("kubeconfig");
    char *text = xasprintf("apiVersion: v1\nkind: Config\nclusters:\n- name: emu\n  cluster:\n"
                           "    server: %s/k8s/cid1\ncontexts:\n- name: emu\n  context:\n    cluster: emu\n"
                           "    user: emu\ncurrent-context: emu\nusers:\n- name: emu\n  user: {}\n",
                           g.base);
    perr_t e = {0};
    if (util_write_atomic(kc, text, strlen(text), &e) != 0) fail_msg("%s", e.msg);
    free(text);
    int chan0 = tcpip_to_emulator();
    void *p = prov_open();
    rctx_t c;
    ctx(p, &c, &e);
    json_t *d = configmap("t-kc", bastion(g.fp));
    json_object_del(d, "cluster");
    json_object_set_new(d, "kubeconfig", json_string(kc));
    char *id = NULL;
    json_t *live = NULL;
    if (obj_type()->create(&c, d, &id, &live) != 0) fail_msg("%s", e.msg);
    assert_true(strncmp(id, "kubeconfig:", 11) == 0);
    usleep(200000);
    assert_true(tcpip_to_emulator() > chan0);
    if (obj_type()->remove(&c, id, live) != 0) fail_msg("%s", e.msg);
    k8s_provider.close(p);
    free(id);
    json_decref(live);
    json_decref(d);
    free(kc);
}

/* ---- without sshd ------------------------------------------------------------------ */

static void via_with_unknown_fields_or_bad_types_is_reported(void **state) {
    (void)state;
    void *p = prov_open();
    rctx_t c;
    perr_t e = {0};
    ctx(p, &c, &e);
    json_t *d = configmap("t-bad", json_pack("{s:s,s:s,s:i}", "host", "127.0.0.1", "user", "u", "hots", 1));
    char *id = NULL;
    json_t *live = NULL;
    assert_int_equal(obj_type()->create(&c, d, &id, &live), -1);
    if (!strstr(e.msg, "via.hots: unknown field")) fail_msg("%s", e.msg);
    json_object_set_new(d, "via", json_string("bastion.example.com"));
    perr_clear(&e);
    assert_int_equal(obj_type()->create(&c, d, &id, &live), -1);
    if (!strstr(e.msg, "via: expected a table")) fail_msg("%s", e.msg);
    json_object_set_new(d, "via", json_pack("{s:s}", "host", "127.0.0.1"));
    perr_clear(&e);
    assert_int_equal(obj_type()->create(&c, d, &id, &live), -1);
    if (!strstr(e.msg, "via.user: required")) fail_msg("%s", e.msg);
    json_decref(d);
    k8s_provider.close(p);
    assert_false(exists_directly(CM_ID("t-bad")));
}

static void via_is_plinth_only_never_diffed_and_its_passphrase_is_sensitive(void **state) {
    (void)state;
    for (const rtype_t *const *t = k8s_provider.types; *t; t++) {
        assert_true(rtype_path_in((*t)->extra_fields, "via"));
        assert_true(rtype_path_in((*t)->ignore, "via"));
        assert_true(rtype_path_in((*t)->ignore, "via.port"));
        assert_true(rtype_path_in((*t)->sensitive, "via.private_key_passphrase"));
        assert_true(rtype_path_in((*t)->sensitive, "via.via.private_key_passphrase"));
        assert_false(rtype_path_in((*t)->sensitive, "via.host"));
    }
}

static void manifest_copies_via_into_every_object(void **state) {
    (void)state;
    json_t *body = json_pack("{s:s,s:{s:s},s:{s:s,s:s}}", "yaml",
                             "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\n"
                             "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
                             "cluster", "id", "cid1", "via", "host", "10.0.0.5", "user", "ops");
    json_t *items = NULL;
    perr_t e = {0};
    if (k8s_manifest_expand(body, ".", &items, &e) != 0) fail_msg("%s", e.msg);
    assert_int_equal(json_array_size(items), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *b = json_object_get(json_array_get(items, i), "body");
        assert_string_equal(json_string_value(jpath_get(b, "via.host")), "10.0.0.5");
        assert_string_equal(json_string_value(jpath_get(b, "via.user")), "ops");
    }
    json_decref(items);
    json_decref(body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(via_is_plinth_only_never_diffed_and_its_passphrase_is_sensitive),
        cmocka_unit_test(manifest_copies_via_into_every_object),
        cmocka_unit_test(via_with_unknown_fields_or_bad_types_is_reported),
        cmocka_unit_test(objects_are_applied_through_one_shared_tunnel),
        cmocka_unit_test(wrong_bastion_host_key_fails_with_host_key_error_and_applies_nothing),
        cmocka_unit_test(delete_without_a_body_uses_the_via_its_read_saw),
        cmocka_unit_test(unresolved_via_is_an_error_on_read_unless_its_id_was_planned_with_it),
        cmocka_unit_test(kubeconfig_connections_go_through_the_bastion_too),
    };
    (void)emu_api_k8s;
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
