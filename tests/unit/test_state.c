/* test_state.c: the state model, its JSON form and validation, and the
 * local backend (atomic writes, backup, lineage guard, locking). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <microhttpd.h>
#include <pthread.h>

#include "core/state.h"
#include "tests/support/san.h"
#include "emulator/emu.h"
#include "providers/gcp/gcp_backend.h"
#include "transport/gcp_http.h"

static char tmpdir[256];

static int setup_dir(void **st) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/plinth-test-state-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    return 0;
}

static int teardown_dir(void **st) {
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static char *tpath(const char *name) {
    return xasprintf("%s/%s", tmpdir, name);
}

static char *slurp(const char *path) {
    perr_t e;
    return util_read_file(path, NULL, &e);
}

static void write_file(const char *path, const char *data) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(data, f);
    fclose(f);
}

/* A state exercising every field. */
static state_t *sample_state(void) {
    state_t *s = state_new();
    state_res_t *r = state_upsert(s, "gcp.compute_network.main", "gcp.compute_network");
    r->id = xstrdup("projects/p/global/networks/main");
    r->attrs = json_pack("{s:s, s:b, s:{s:i}}", "name", "main", "autoCreateSubnetworks", 0, "nested", "n", 3);
    r->applied = json_pack("{s:s}", "name", "main");
    util_sha256_hex("x", 1, r->applied_hash);
    r = state_upsert(s, "gcp.compute_subnetwork.a", "gcp.compute_subnetwork");
    strlist_add(&r->deps, "gcp.compute_network.main");
    r->pending = xstrdup("create");
    r->resume = json_pack("{s:s}", "operation", "operations/op-1");
    state_upsert(s, "gcp.storage_bucket.b", "gcp.storage_bucket");
    json_object_set_new(s->outputs, "net", json_pack("{s:s, s:b}", "value", "main", "sensitive", 0));
    s->serial = 7;
    return s;
}

static void test_new_state_has_uuid_v4_lineage_and_serial_zero(void **st) {
    state_t *s = state_new(), *t = state_new();
    assert_int_equal(strlen(s->lineage), 36);
    assert_int_equal(s->lineage[8], '-');
    assert_int_equal(s->lineage[14], '4');
    assert_non_null(strchr("89ab", s->lineage[19]));
    assert_string_not_equal(s->lineage, t->lineage);
    assert_int_equal(s->serial, 0);
    assert_int_equal(s->nres, 0);
    state_free(s);
    state_free(t);
}

static void test_dump_parse_round_trip_is_identical(void **st) {
    state_t *s = sample_state();
    char *d1 = state_dump(s);
    state_t *p = NULL;
    perr_t e = {0};
    assert_int_equal(state_parse(d1, strlen(d1), "t", &p, &e), 0);
    assert_string_equal(p->lineage, s->lineage);
    assert_int_equal(p->serial, 7);
    assert_int_equal(p->nres, 3);
    state_res_t *r = state_find(p, "gcp.compute_subnetwork.a");
    assert_non_null(r);
    assert_string_equal(r->pending, "create");
    assert_null(r->id);
    assert_int_equal(r->deps.n, 1);
    assert_string_equal(r->deps.v[0], "gcp.compute_network.main");
    assert_string_equal(json_string_value(json_object_get(r->resume, "operation")), "operations/op-1");
    r = state_find(p, "gcp.compute_network.main");
    assert_string_equal(r->applied_hash, state_find(s, r->addr)->applied_hash);
    assert_true(json_equal(state_attrs(r), state_find(s, r->addr)->attrs));
    char *d2 = state_dump(p);
    assert_string_equal(d1, d2);
    free(d1);
    free(d2);
    state_free(s);
    state_free(p);
}

static void test_dump_is_sorted_one_resource_per_line_with_trailing_newline(void **st) {
    state_t *s = sample_state();
    char *d = state_dump(s);
    size_t n = strlen(d);
    assert_true(n > 2 && d[n - 1] == '\n' && d[n - 2] == '}');
    assert_non_null(strstr(d, "\n  \"format\": 1"));
    assert_non_null(strstr(d, "\"plinth_version\": \"" PLINTH_VERSION "\""));
    char *a = strstr(d, "gcp.compute_network.main\""), *b = strstr(d, "gcp.compute_subnetwork.a\""),
         *c = strstr(d, "gcp.storage_bucket.b\"");
    assert_true(a && b && c && a < b && b < c);
    /* one compact line per resource */
    assert_non_null(strstr(d, "\n    {\"addr\":\"gcp.compute_network.main\""));
    assert_non_null(strstr(d, "\"pending\":null"));
    free(d);
    state_free(s);
}

/* Attributes are cut out of the text and parsed on first use: tricky text
 * (braces and quotes inside strings, indented or compact layouts, a
 * missing attrs) must come back exactly. */
static void test_attrs_are_parsed_lazily_and_exactly(void **st) {
    (void)st;
    const char *doc =
        "{\"format\":1,\"lineage\":\"3f0c1c9e-0000-4000-8000-000000000001\",\"serial\":3,"
        "\"resources\":[\n"
        "  {\"addr\":\"b.x\",\"type\":\"t\",\"attrs\" : { \"s\": \"a } \\\" { ]\", \"n\": [1, {\"k\": []}] },"
        "\"deps\":[]},\n"
        "  {\"addr\":\"a.y\",\"type\":\"t\",\"deps\":[]},\n"
        "  {\"attrs\":{\"z\":true},\"addr\":\"c.z\",\"type\":\"t\"}\n]}";
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_equal(state_parse(doc, strlen(doc), "lazy.json", &s, &e), 0);
    state_res_t *x = state_find(s, "b.x"), *y = state_find(s, "a.y"), *z = state_find(s, "c.z");
    assert_null(x->attrs); /* not parsed yet */
    json_t *ax = state_attrs(x);
    assert_string_equal(json_string_value(json_object_get(ax, "s")), "a } \" { ]");
    assert_int_equal(json_array_size(json_object_get(ax, "n")), 2);
    assert_null(state_attrs(y));
    assert_true(json_is_true(json_object_get(state_attrs(z), "z")));
    /* a dump after lazy loading equals a dump after a whole parse */
    char *d = state_dump(s);
    state_t *s2 = NULL;
    assert_int_equal(state_parse(d, strlen(d), "lazy2.json", &s2, &e), 0);
    assert_true(json_equal(state_attrs(state_find(s2, "b.x")), ax));
    free(d);
    state_free(s);
    state_free(s2);
}

static void expect_parse_error(const char *doc, const char *needle) {
    state_t *p = (state_t *)1;
    perr_t e = {0};
    assert_int_equal(state_parse(doc, strlen(doc), "st.json", &p, &e), -1);
    assert_null(p);
    assert_string_equal(e.where, "st.json");
    if (!strstr(e.msg, needle)) fail_msg("error '%s' does not contain '%s'", e.msg, needle);
}

#define HEAD "{\"format\":1,\"lineage\":\"0b6c6f8e-8f0e-4c49-9b1a-0d1f3c2e4a5b\",\"serial\":3,"

static void test_parse_rejects_corrupt_documents_naming_the_problem(void **st) {
    expect_parse_error("", "empty");
    expect_parse_error("{\"format\":1,\n\"lineage\":", "not valid JSON at line 2");
    expect_parse_error("[1,2]", "top level: expected an object");
    expect_parse_error("{\"lineage\":\"x\",\"serial\":1}", "format: missing");
    expect_parse_error("{\"format\":\"1\"}", "format: expected an integer, found a string");
    expect_parse_error("{\"format\":2,\"lineage\":\"x\",\"serial\":1}", "upgrade plinth");
    expect_parse_error("{\"format\":0}", "not a valid state format");
    expect_parse_error("{\"format\":1,\"serial\":1}", "lineage: missing");
    expect_parse_error("{\"format\":1,\"lineage\":\"x\",\"serial\":-1}", "serial: must not be negative");
    expect_parse_error("{\"format\":1,\"lineage\":\"x\",\"serial\":1.5}", "serial: expected an integer");
    expect_parse_error(HEAD "\"resources\":{}}", "resources: expected an array");
    expect_parse_error(HEAD "\"outputs\":[]}", "outputs: expected an object");
    expect_parse_error(HEAD "\"resources\":[{\"addr\":\"a.b.c\",\"type\":\"t\"},"
                            "{\"addr\":\"a.b.d\",\"type\":\"t\"},{\"addr\":\"a.b.e\",\"type\":\"t\"},"
                            "{\"addr\":7,\"type\":\"t\"}]}",
                       "resources[3].addr: expected a string, found an integer");
    expect_parse_error(HEAD "\"resources\":[{\"type\":\"t\"}]}", "resources[0].addr: missing");
    expect_parse_error(HEAD "\"resources\":[5]}", "resources[0]: expected an object");
    expect_parse_error(HEAD "\"resources\":[{\"addr\":\"a\",\"type\":\"t\",\"attrs\":[]}]}",
                       "resources[0].attrs: expected an object or null");
    expect_parse_error(HEAD "\"resources\":[{\"addr\":\"a\",\"type\":\"t\",\"deps\":[\"x\",1]}]}",
                       "resources[0].deps[1]: expected a string");
    expect_parse_error(HEAD "\"resources\":[{\"addr\":\"a\",\"type\":\"t\",\"pending\":\"maybe\"}]}",
                       "resources[0].pending: expected null, \"create\"");
    expect_parse_error(HEAD "\"resources\":[{\"addr\":\"a\",\"type\":\"t\",\"applied_hash\":\"zz\"}]}",
                       "resources[0].applied_hash");
    expect_parse_error(HEAD "\"resources\":[{\"addr\":\"a\",\"type\":\"t\"},{\"addr\":\"b\",\"type\":\"t\"},"
                            "{\"addr\":\"a\",\"type\":\"u\"}]}",
                       "duplicate address a");
}

static void test_parse_accepts_minimal_document(void **st) {
    const char *doc = HEAD "\"resources\":[{\"addr\":\"z\",\"type\":\"t\"},{\"addr\":\"a\",\"type\":\"t\"}]}";
    state_t *p = NULL;
    perr_t e = {0};
    assert_int_equal(state_parse(doc, strlen(doc), "w", &p, &e), 0);
    assert_int_equal(p->nres, 2);
    assert_string_equal(p->res[0].addr, "a"); /* sorted on load */
    assert_non_null(state_find(p, "z"));
    assert_true(json_is_object(p->outputs));
    state_free(p);
}

/* Truncations and byte mutations of a valid document never crash: each
 * either parses or fails with a message. */
static void test_parse_survives_truncated_and_mutated_input(void **st) {
    state_t *s = sample_state();
    char *d = state_dump(s);
    size_t n = strlen(d);
    for (size_t k = 0; k < n; k++) {
        state_t *p = NULL;
        perr_t e = {0};
        if (state_parse(d, k, "t", &p, &e) == 0)
            state_free(p);
        else
            assert_true(e.msg[0] != '\0');
    }
    static const char junk[] = "\"{}[],:0-9aZ\\\x01\xff tnf";
    srand(42);
    char *m = xmalloc(n + 1);
    for (int round = 0; round < 3000; round++) {
        memcpy(m, d, n + 1);
        int edits = 1 + rand() % 4;
        for (int j = 0; j < edits; j++)
            m[rand() % n] = junk[rand() % (sizeof junk - 1)];
        state_t *p = NULL;
        perr_t e = {0};
        if (state_parse(m, n, "t", &p, &e) == 0) {
            char *again = state_dump(p); /* whatever parsed must dump */
            free(again);
            state_free(p);
        } else {
            assert_true(e.msg[0] != '\0');
        }
    }
    free(m);
    free(d);
    state_free(s);
}

typedef struct finder {
    const state_t *s;
    int found;
} finder_t;

static void *find_all(void *arg) {
    finder_t *f = arg;
    char addr[64];
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < 2000; i++) {
            snprintf(addr, sizeof addr, "gcp.compute_network.n%d", i);
            const state_res_t *r = state_find(f->s, addr);
            if (r && strcmp(r->addr, addr) == 0) f->found++;
        }
    return NULL;
}

/* The engine's refresh workers look resources up concurrently right after
 * load: lookups must not modify anything. */
static void test_concurrent_finds_after_load_are_safe(void **st) {
    state_t *s = state_new();
    char addr[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(addr, sizeof addr, "gcp.compute_network.n%d", i);
        state_upsert(s, addr, "t");
    }
    char *d = state_dump(s);
    state_t *p = NULL;
    perr_t e = {0};
    assert_int_equal(state_parse(d, strlen(d), "t", &p, &e), 0);
    pthread_t th[8];
    finder_t f[8];
    for (int i = 0; i < 8; i++) {
        f[i] = (finder_t){p, 0};
        pthread_create(&th[i], NULL, find_all, &f[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(f[i].found, 40000);
    }
    free(d);
    state_free(s);
    state_free(p);
}

static void test_upsert_find_remove_rename(void **st) {
    state_t *s = state_new();
    perr_t e = {0};
    state_res_t *a = state_upsert(s, "x.a", "t1");
    a->id = xstrdup("id-a");
    state_upsert(s, "x.b", "t1");
    assert_ptr_equal(state_find(s, "x.a"), state_upsert(s, "x.a", NULL));
    assert_int_equal(s->nres, 2);
    assert_string_equal(state_upsert(s, "x.a", "t2")->type, "t2");
    assert_null(state_find(s, "x.c"));
    assert_int_equal(state_rename(s, "x.a", "x.b", &e), -1);
    assert_non_null(strstr(e.msg, "already exists"));
    assert_int_equal(state_rename(s, "nope", "x.z", &e), -1);
    assert_int_equal(state_rename(s, "x.a", "x.c", &e), 0);
    assert_null(state_find(s, "x.a"));
    assert_string_equal(state_find(s, "x.c")->id, "id-a");
    assert_int_equal(state_remove(s, "x.b"), 0);
    assert_int_equal(state_remove(s, "x.b"), -1);
    assert_null(state_find(s, "x.b"));
    assert_int_equal(s->nres, 1);
    assert_non_null(state_find(s, "x.c"));
    state_free(s);
}

static void test_ten_thousand_upserts_and_finds_are_fast(void **st) {
    state_t *s = state_new();
    char addr[64];
    int64_t t0 = util_now_ms();
    for (int i = 0; i < 10000; i++) {
        snprintf(addr, sizeof addr, "gcp.compute_network.n%d", (i * 7919) % 10000);
        state_upsert(s, addr, "gcp.compute_network");
    }
    assert_int_equal(s->nres, 10000);
    for (int round = 0; round < 10; round++)
        for (int i = 0; i < 10000; i++) {
            snprintf(addr, sizeof addr, "gcp.compute_network.n%d", i);
            state_res_t *r = state_find(s, addr);
            assert_non_null(r);
            assert_string_equal(r->addr, addr);
        }
    assert_null(state_find(s, "gcp.compute_network.n10000"));
    /* removing a few and finding again stays correct */
    for (int i = 0; i < 10000; i += 100) {
        snprintf(addr, sizeof addr, "gcp.compute_network.n%d", i);
        assert_int_equal(state_remove(s, addr), 0);
        assert_null(state_find(s, addr));
    }
    assert_int_equal(s->nres, 9900);
    snprintf(addr, sizeof addr, "gcp.compute_network.n%d", 101);
    assert_non_null(state_find(s, addr));
    int64_t ms = util_now_ms() - t0;
    if (ms > 2000 * TEST_SLOWDOWN) fail_msg("10,000 upserts + 100,000 finds took %lld ms", (long long)ms);
    state_free(s);
}

static size_t count_tmp_files(void) {
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strstr(de->d_name, ".tmp")) n++;
    closedir(d);
    return n;
}

static void test_local_missing_file_loads_empty_state(void **st) {
    char *p = tpath("nested/dir/env.json");
    backend_t *b = backend_local_new(p);
    char *data = (char *)1;
    size_t len = 5;
    perr_t e = {0};
    assert_int_equal(b->read(b, &data, &len, &e), 0);
    assert_null(data);
    state_t *s = NULL;
    assert_int_equal(state_load(b, &s, &e), 0);
    assert_int_equal(s->nres, 0);
    assert_int_equal(state_save(b, s, &e), 0); /* creates the directories */
    assert_int_equal(s->serial, 1);
    char *disk = slurp(p);
    assert_non_null(disk);
    assert_non_null(strstr(disk, "\"serial\": 1"));
    free(disk);
    assert_non_null(strstr(b->describe, p));
    state_free(s);
    b->free(b);
    free(p);
}

static void test_local_save_keeps_backup_and_leaves_no_temp_files(void **st) {
    char *p = tpath("s.json"), *bk = tpath("s.json.backup");
    backend_t *b = backend_local_new(p);
    perr_t e = {0};
    state_t *s = NULL;
    assert_int_equal(state_load(b, &s, &e), 0);
    state_upsert(s, "a.b.c", "t");
    assert_int_equal(state_save(b, s, &e), 0);
    char *first = slurp(p);
    assert_int_equal(access(bk, F_OK), -1); /* nothing to back up yet */
    state_upsert(s, "a.b.d", "t");
    assert_int_equal(state_save(b, s, &e), 0);
    char *second = slurp(p), *backup = slurp(bk);
    assert_string_equal(backup, first);
    assert_string_not_equal(second, first);
    assert_non_null(strstr(second, "\"serial\": 2"));
    assert_int_equal(count_tmp_files(), 0);
    free(backup);
    assert_int_equal(state_save(b, s, &e), 0);
    backup = slurp(bk);
    assert_string_equal(backup, second);
    assert_int_equal(count_tmp_files(), 0);
    /* a second instance reads what the first wrote */
    backend_t *b2 = backend_local_new(p);
    state_t *s2 = NULL;
    assert_int_equal(state_load(b2, &s2, &e), 0);
    assert_int_equal(s2->serial, 3);
    assert_non_null(state_find(s2, "a.b.d"));
    state_free(s2);
    b2->free(b2);
    free(first);
    free(second);
    free(backup);
    state_free(s);
    b->free(b);
    free(p);
    free(bk);
}

static void test_local_corrupt_state_fails_and_is_left_untouched(void **st) {
    char *p = tpath("bad.json");
    const char *junk = "{\"format\":1,\"lineage\":\"abc\",\"serial\":";
    write_file(p, junk);
    backend_t *b = backend_local_new(p);
    perr_t e = {0};
    state_t *s = (state_t *)1;
    assert_int_equal(state_load(b, &s, &e), -1);
    assert_null(s);
    assert_non_null(strstr(e.msg, "not valid JSON"));
    assert_non_null(strstr(e.msg, "untouched"));
    char *disk = slurp(p);
    assert_string_equal(disk, junk);
    free(disk);
    b->free(b);
    free(p);
}

static void test_save_refuses_a_different_lineage(void **st) {
    char *p = tpath("lin.json");
    backend_t *b = backend_local_new(p);
    perr_t e = {0};
    state_t *s = state_new();
    assert_int_equal(state_save(b, s, &e), 0); /* nothing stored yet: fine */
    state_t *other = state_new();
    assert_int_equal(state_save(b, other, &e), -1);
    assert_non_null(strstr(e.msg, "lineage"));
    assert_int_equal(other->serial, 0);
    /* a fresh backend instance checks the stored lineage too */
    backend_t *b2 = backend_local_new(p);
    assert_int_equal(state_save(b2, other, &e), -1);
    assert_non_null(strstr(e.msg, s->lineage));
    assert_int_equal(state_save(b2, s, &e), 0);
    assert_int_equal(s->serial, 2);
    state_free(s);
    state_free(other);
    b->free(b);
    b2->free(b2);
    free(p);
}

static void test_save_refuses_entries_that_would_not_load(void **st) {
    char *p = tpath("ins.json");
    backend_t *b = backend_local_new(p);
    perr_t e = {0};
    state_t *s = state_new();
    state_res_t *r = state_upsert(s, "a.b", "t");
    r->attrs = json_array();
    assert_int_equal(state_save(b, s, &e), -1);
    assert_string_equal(e.where, "a.b");
    assert_int_equal(access(p, F_OK), -1);
    state_free(s);
    b->free(b);
    free(p);
}

static void test_second_lock_fails_naming_holder(void **st) {
    char *p = tpath("l.json");
    backend_t *a = backend_local_new(p), *b = backend_local_new(p);
    perr_t e = {0};
    state_lock_info_t li, info;
    assert_int_equal(a->lock_info(a, &info, &e), 0);
    assert_int_equal(a->lock(a, "apply", &li, &e), 0);
    assert_int_equal(strlen(li.id), 36);
    assert_int_equal(li.pid, getpid());
    assert_int_equal(b->lock(b, "plan", NULL, &e), -1);
    char want[512];
    snprintf(want, sizeof want, "state is locked by %s@%s (pid %d) for apply since %s (lock ID %s)", li.who,
             li.host, li.pid, li.created, li.id);
    if (!strstr(e.msg, want)) fail_msg("got '%s', want '%s'", e.msg, want);
    assert_non_null(strstr(e.msg, "plinth state unlock "));
    assert_null(strstr(e.msg, "stale"));
    assert_int_equal(b->lock_info(b, &info, &e), 1);
    assert_string_equal(info.id, li.id);
    assert_string_equal(info.op, "apply");
    /* wrong id: refused, names the holder */
    assert_int_equal(b->unlock(b, "not-the-id", &e), -1);
    assert_non_null(strstr(e.msg, "does not match"));
    assert_non_null(strstr(e.msg, li.id));
    assert_int_equal(b->lock_info(b, &info, &e), 1);
    /* right id: released, lockable again */
    assert_int_equal(b->unlock(b, li.id, &e), 0);
    assert_int_equal(a->lock_info(a, &info, &e), 0);
    assert_int_equal(b->unlock(b, li.id, &e), -1);
    assert_non_null(strstr(e.msg, "not locked"));
    assert_int_equal(b->lock(b, "plan", &li, &e), 0);
    assert_int_equal(b->unlock(b, li.id, &e), 0);
    a->free(a);
    b->free(b);
    free(p);
}

/* A lock whose holder on this host is gone is taken over (issue 13): the
 * backend says so in lock_note, which the engine shows. */
static void test_lock_held_by_dead_process_is_taken_over_saying_so(void **st) {
    char *p = tpath("stale.json"), *lp = tpath("stale.json.lock");
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    state_lock_info_t li;
    state_lock_init(&li, "apply");
    li.pid = (int)child; /* gone now */
    char *json = state_lock_json(&li);
    write_file(lp, json);
    free(json);
    backend_t *b = backend_local_new(p);
    perr_t e = {0};
    state_lock_info_t mine;
    assert_int_equal(b->lock(b, "apply", &mine, &e), 0);
    char want[96];
    snprintf(want, sizeof want, "process %d on this host is gone", (int)child);
    if (!strstr(b->lock_note, want) || !strstr(b->lock_note, li.id)) fail_msg("note '%s'", b->lock_note);
    assert_string_not_equal(mine.id, li.id);
    assert_int_equal(b->unlock(b, li.id, &e), -1); /* the old lock is gone */
    assert_int_equal(b->unlock(b, mine.id, &e), 0);
    assert_int_equal(access(lp, F_OK), -1);
    b->free(b);
    free(p);
    free(lp);
}

static void test_corrupt_lock_file_is_reported(void **st) {
    char *p = tpath("cl.json"), *lp = tpath("cl.json.lock");
    write_file(lp, "{\"id\":");
    backend_t *b = backend_local_new(p);
    perr_t e = {0};
    state_lock_info_t info;
    assert_int_equal(b->lock(b, "apply", NULL, &e), -1);
    assert_non_null(strstr(e.msg, "cannot be read"));
    assert_int_equal(b->lock_info(b, &info, &e), -1);
    b->free(b);
    unlink(lp);
    free(p);
    free(lp);
}

/* Eight processes race for the lock: exactly one gets it. */
static void test_concurrent_lockers_exactly_one_wins(void **st) {
    char *p = tpath("race.json");
    pid_t kids[8];
    int pipefd[2], done[2];
    assert_int_equal(pipe(pipefd), 0);
    assert_int_equal(pipe(done), 0);
    for (int i = 0; i < 8; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            char c;
            close(done[1]);
            if (read(pipefd[0], &c, 1) != 1) _exit(3); /* wait for the start signal */
            backend_t *b = backend_local_new(p);
            perr_t e = {0};
            int rc = b->lock(b, "apply", NULL, &e);
            /* A winner stays alive until every other has tried: a holder
             * that is gone would rightly be taken over. */
            struct pollfd pf = {done[0], POLLIN, 0};
            if (rc == 0) poll(&pf, 1, 5000); /* until the parent closes done (or 5 s) */
            _exit(rc == 0 ? 0 : strstr(e.msg, "state is locked by") ? 1 : 2);
        }
    }
    close(done[0]);
    char go[8] = {0};
    assert_int_equal(write(pipefd[1], go, 8), 8);
    int winners = 0, losers = 0;
    for (int i = 0; i < 8; i++) {
        int status = 0;
        pid_t k = waitpid(-1, &status, 0);
        assert_true(k > 0 && WIFEXITED(status));
        if (WEXITSTATUS(status) == 0) winners++;
        if (WEXITSTATUS(status) == 1) losers++;
        if (losers == 7) close(done[1]); /* the winner may go now */
    }
    if (losers != 7) close(done[1]);
    close(pipefd[0]);
    close(pipefd[1]);
    assert_int_equal(winners, 1);
    assert_int_equal(losers, 7);
    char *lp = tpath("race.json.lock");
    unlink(lp);
    free(lp);
    free(p);
}

static void test_writes_while_locked_keep_the_lock_valid(void **st) {
    char *p = tpath("held.json");
    backend_t *b = backend_local_new(p);
    perr_t e = {0};
    state_lock_info_t li, info;
    assert_int_equal(b->lock(b, "apply", &li, &e), 0);
    state_t *s = NULL;
    assert_int_equal(state_load(b, &s, &e), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(state_save(b, s, &e), 0);
    assert_int_equal(b->lock_info(b, &info, &e), 1);
    assert_string_equal(info.id, li.id);
    assert_int_equal(b->unlock(b, li.id, &e), 0);
    state_free(s);
    b->free(b);
    free(p);
}

static void test_ten_thousand_resources_dump_and_parse_quickly(void **st) {
    state_t *s = state_new();
    char addr[64];
    for (int i = 0; i < 10000; i++) {
        snprintf(addr, sizeof addr, "gcp.compute_subnetwork.s%05d", i);
        state_res_t *r = state_upsert(s, addr, "gcp.compute_subnetwork");
        r->id = xasprintf("projects/p/regions/r/subnetworks/s%05d", i);
        r->attrs = json_pack("{s:s, s:s, s:i}", "name", addr, "ipCidrRange", "10.0.0.0/24", "n", i);
        strlist_add(&r->deps, "gcp.compute_network.main");
    }
    int64_t t0 = util_now_ms();
    char *d = state_dump(s);
    state_t *p = NULL;
    perr_t e = {0};
    assert_int_equal(state_parse(d, strlen(d), "big", &p, &e), 0);
    int64_t ms = util_now_ms() - t0;
    assert_int_equal(p->nres, 10000);
    assert_non_null(state_find(p, "gcp.compute_subnetwork.s09999"));
    if (ms > 3000 * TEST_SLOWDOWN) fail_msg("dump + parse of 10,000 resources took %lld ms", (long long)ms);
    free(d);
    state_free(s);
    state_free(p);
}

static void test_old_heartbeat_is_mentioned_in_lock_error(void **st) {
    state_lock_info_t li;
    state_lock_init(&li, "apply");
    snprintf(li.host, sizeof li.host, "some-other-host");
    snprintf(li.heartbeat, sizeof li.heartbeat, "2020-01-01T00:00:00Z");
    perr_t e = {0};
    state_lock_held_error(&e, "w", &li);
    assert_non_null(strstr(e.msg, "minutes ago)"));
    assert_null(strstr(e.msg, "stale"));
    state_lock_init(&li, "apply"); /* fresh and alive: no note */
    state_lock_held_error(&e, "w", &li);
    assert_null(strstr(e.msg, "ago"));
    assert_null(strstr(e.msg, "stale"));
}

/* Every truncation of a lock (a crash mid-write) is refused with a
 * message; the whole text parses. */
static void test_lock_parse_refuses_truncated_input(void **st) {
    state_lock_info_t li, back;
    state_lock_init(&li, "apply");
    char *j = state_lock_json(&li);
    size_t n = strlen(j);
    while (n && (j[n - 1] == '\n' || j[n - 1] == ' '))
        n--; /* trailing space is not content */
    for (size_t k = 0; k < n; k++) {
        perr_t e = {0};
        if (state_lock_parse(j, k, "w", &back, &e) != -1)
            fail_msg("a lock truncated to %zu of %zu bytes was accepted", k, n);
        assert_true(e.msg[0] != '\0');
    }
    perr_t e = {0};
    if (state_lock_parse(j, n, "w", &back, &e) != 0) fail_msg("whole lock refused: %s", e.msg);
    assert_string_equal(back.id, li.id);
    free(j);
}

static void test_failed_save_keeps_serial_and_reports_why(void **st) {
    char *f = tpath("plainfile"), *p = tpath("plainfile/sub/s.json");
    write_file(f, "x");
    backend_t *b = backend_local_new(p);
    perr_t e = {0};
    state_t *s = state_new();
    s->serial = 4;
    b->lineage_known = true; /* nothing stored */
    assert_int_equal(state_save(b, s, &e), -1);
    assert_int_equal(s->serial, 4);
    assert_non_null(strstr(e.msg, "cannot create directory"));
    state_free(s);
    b->free(b);
    unlink(f);
    free(f);
    free(p);
}

static void test_lock_json_round_trips(void **st) {
    state_lock_info_t li, back;
    state_lock_init(&li, "destroy");
    char *j = state_lock_json(&li);
    perr_t e = {0};
    assert_int_equal(state_lock_parse(j, strlen(j), "w", &back, &e), 0);
    assert_memory_equal(&li, &back, sizeof li);
    assert_int_equal(state_lock_parse("{\"id\":\"x\"}", 10, "w", &back, &e), -1);
    assert_non_null(strstr(e.msg, "lock.who"));
    free(j);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_state_has_uuid_v4_lineage_and_serial_zero),
        cmocka_unit_test(test_dump_parse_round_trip_is_identical),
        cmocka_unit_test(test_dump_is_sorted_one_resource_per_line_with_trailing_newline),
        cmocka_unit_test(test_attrs_are_parsed_lazily_and_exactly),
        cmocka_unit_test(test_parse_rejects_corrupt_documents_naming_the_problem),
        cmocka_unit_test(test_parse_accepts_minimal_document),
        cmocka_unit_test(test_parse_survives_truncated_and_mutated_input),
        cmocka_unit_test(test_upsert_find_remove_rename),
        cmocka_unit_test(test_concurrent_finds_after_load_are_safe),
        cmocka_unit_test(test_ten_thousand_upserts_and_finds_are_fast),
        cmocka_unit_test(test_local_missing_file_loads_empty_state),
        cmocka_unit_test(test_local_save_keeps_backup_and_leaves_no_temp_files),
        cmocka_unit_test(test_local_corrupt_state_fails_and_is_left_untouched),
        cmocka_unit_test(test_save_refuses_a_different_lineage),
        cmocka_unit_test(test_save_refuses_entries_that_would_not_load),
        cmocka_unit_test(test_second_lock_fails_naming_holder),
        cmocka_unit_test(test_lock_held_by_dead_process_is_taken_over_saying_so),
        cmocka_unit_test(test_corrupt_lock_file_is_reported),
        cmocka_unit_test(test_lock_json_round_trips),
        cmocka_unit_test(test_concurrent_lockers_exactly_one_wins),
        cmocka_unit_test(test_old_heartbeat_is_mentioned_in_lock_error),
        cmocka_unit_test(test_lock_parse_refuses_truncated_input),
        cmocka_unit_test(test_failed_save_keeps_serial_and_reports_why),
        cmocka_unit_test(test_writes_while_locked_keep_the_lock_valid),
        cmocka_unit_test(test_ten_thousand_resources_dump_and_parse_quickly),
    };
    int failed = cmocka_run_group_tests(tests, setup_dir, teardown_dir);
    return failed;
}
