/* test_state_journal.c: group commit of state saves (state_commit) and the
 * journal: what a commit returned for survives a kill (replayed on load),
 * a torn tail is ignored, a journal of another serial is not replayed, a
 * corrupt one is an error, the journal is compacted into the state file,
 * and many threads committing at once lose nothing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/state.h"

static char tmpdir[256];

static int setup_dir(void **st) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/plinth-test-journal-XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
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

static bool exists(const char *path) {
    return access(path, F_OK) == 0;
}

static void add_res(state_t *s, pthread_mutex_t *mu, const char *addr, const char *pending) {
    pthread_mutex_lock(mu);
    state_res_t *r = state_upsert(s, addr, "gcp.storage_bucket");
    free(r->id);
    r->id = xstrdup(addr);
    free(r->pending);
    r->pending = pending ? xstrdup(pending) : NULL;
    json_decref(r->attrs);
    r->attrs = json_pack("{s:s}", "name", addr);
    pthread_mutex_unlock(mu);
}

/* A run that committed and was then killed (no final whole write). */
static void killed_run(const char *path, int n, const char *rm) {
    backend_t *b = backend_local_new(path);
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_equal(state_load(b, &s, &e), 0);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    state_saver_t *sv = state_saver_new(b, s, &mu);
    for (int i = 0; i < n; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "gcp.storage_bucket.b%d", i);
        add_res(s, &mu, addr, i == n - 1 ? "create" : NULL);
        assert_int_equal(state_commit(sv, true, &e), 0);
    }
    if (rm) {
        pthread_mutex_lock(&mu);
        assert_int_equal(state_remove(s, rm), 0);
        pthread_mutex_unlock(&mu);
        assert_int_equal(state_commit(sv, true, &e), 0);
    }
    state_saver_free(sv);
    state_free(s);
    b->free(b);
}

static state_t *load(const char *path) {
    backend_t *b = backend_local_new(path);
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_equal(state_load(b, &s, &e), 0);
    b->free(b);
    return s;
}

static void test_committed_changes_survive_a_kill_through_the_journal(void **st) {
    char *path = tpath("a.json"), *jp = xasprintf("%s.journal", path);
    killed_run(path, 5, "gcp.storage_bucket.b1");
    assert_true(exists(path)); /* the first commit wrote the state file whole */
    assert_true(exists(jp));   /* the rest went to the journal */
    state_t *s = load(path);
    assert_int_equal(s->nres, 4);
    assert_null(state_find(s, "gcp.storage_bucket.b1"));
    state_res_t *r = state_find(s, "gcp.storage_bucket.b4");
    assert_non_null(r);
    assert_string_equal(r->pending, "create");
    assert_string_equal(json_string_value(json_object_get(state_attrs(r), "name")), "gcp.storage_bucket.b4");
    /* the serial counts every commit: 1 whole + 4 journal groups + the rm */
    assert_int_equal(s->serial, 6);
    state_free(s);
    free(path);
    free(jp);
}

static void test_a_whole_save_compacts_the_journal_away(void **st) {
    char *path = tpath("b.json"), *jp = xasprintf("%s.journal", path);
    killed_run(path, 3, NULL);
    assert_true(exists(jp));
    backend_t *b = backend_local_new(path);
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_equal(state_load(b, &s, &e), 0);
    assert_int_equal(state_save(b, s, &e), 0);
    assert_false(exists(jp));
    state_free(s);
    b->free(b);
    s = load(path);
    assert_int_equal(s->nres, 3);
    state_free(s);
    free(path);
    free(jp);
}

static void append(const char *path, const char *text) {
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_a_torn_last_line_is_ignored_and_never_appended_to(void **st) {
    char *path = tpath("c.json"), *jp = xasprintf("%s.journal", path);
    killed_run(path, 3, NULL);
    append(jp, "{\"serial\":99,\"put\":{\"addr\":\"gcp.storage_bu"); /* killed mid-write */
    state_t *s = load(path);
    assert_int_equal(s->nres, 3);
    state_free(s);
    /* The next run starts with a whole write, so nothing follows the torn
     * line: its later commits are all found. */
    killed_run(path, 6, NULL);
    s = load(path);
    assert_int_equal(s->nres, 6);
    state_free(s);
    free(path);
    free(jp);
}

static void test_a_corrupt_journal_is_an_error_and_left_untouched(void **st) {
    char *path = tpath("d.json"), *jp = xasprintf("%s.journal", path);
    killed_run(path, 3, NULL);
    append(jp, "garbage\n{\"serial\":50,\"rm\":\"gcp.storage_bucket.b0\"}\n");
    backend_t *b = backend_local_new(path);
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_equal(state_load(b, &s, &e), -1);
    assert_null(s);
    assert_non_null(strstr(e.msg, "journal"));
    assert_non_null(strstr(e.msg, "line"));
    assert_true(exists(jp));
    b->free(b);
    free(path);
    free(jp);
}

static void test_a_journal_of_another_serial_is_not_replayed(void **st) {
    char *path = tpath("e.json"), *jp = xasprintf("%s.journal", path);
    killed_run(path, 3, NULL);
    char *j = util_read_file(jp, NULL, &(perr_t){0});
    assert_non_null(j);
    /* The state is compacted (whole write, serial moves on) but the
     * journal's removal is lost: it must not be replayed again. */
    state_t *s = load(path);
    backend_t *b = backend_local_new(path);
    perr_t e = {0};
    state_res_t *r = state_upsert(s, "gcp.storage_bucket.b0", NULL);
    free(r->pending);
    r->pending = xstrdup("delete");
    assert_int_equal(state_save(b, s, &e), 0);
    assert_int_equal(util_write_atomic(jp, j, strlen(j), &e), 0);
    state_free(s);
    b->free(b);
    s = load(path);
    assert_string_equal(state_find(s, "gcp.storage_bucket.b0")->pending, "delete");
    state_free(s);
    free(j);
    free(path);
    free(jp);
}

static void test_the_journal_is_compacted_when_it_outgrows_the_state(void **st) {
    char *path = tpath("f.json"), *jp = xasprintf("%s.journal", path);
    backend_t *b = backend_local_new(path);
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_equal(state_load(b, &s, &e), 0);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    state_saver_t *sv = state_saver_new(b, s, &mu);
    add_res(s, &mu, "gcp.storage_bucket.big", NULL);
    assert_int_equal(state_commit(sv, true, &e), 0);
    struct stat stj;
    off_t maxj = 0;
    for (int i = 0; i < 700; i++) { /* ~8 KB per commit of the same entry */
        pthread_mutex_lock(&mu);
        state_res_t *r = state_upsert(s, "gcp.storage_bucket.big", NULL);
        char pad[8192];
        memset(pad, 'x', sizeof pad - 1);
        pad[sizeof pad - 1] = '\0';
        json_object_set_new(r->attrs, "pad", json_string(pad));
        json_object_set_new(r->attrs, "i", json_integer(i));
        pthread_mutex_unlock(&mu);
        assert_int_equal(state_commit(sv, true, &e), 0);
        if (stat(jp, &stj) == 0 && stj.st_size > maxj) maxj = stj.st_size;
    }
    assert_true(maxj > 3 * 1024 * 1024);
    assert_true(maxj < 4 * 1024 * 1024 + 16 * 1024); /* compacted past 4 MB, never grew on */
    state_saver_free(sv);
    state_free(s);
    b->free(b);
    s = load(path);
    assert_int_equal(
        json_integer_value(json_object_get(state_attrs(state_find(s, "gcp.storage_bucket.big")), "i")), 699);
    state_free(s);
    free(path);
    free(jp);
}

typedef struct {
    state_t *s;
    state_saver_t *sv;
    pthread_mutex_t *mu;
    int id;
} worker_t;

static void *worker(void *ud) {
    worker_t *w = ud;
    for (int i = 0; i < 40; i++) {
        char addr[64];
        snprintf(addr, sizeof addr, "gcp.storage_bucket.w%d_%d", w->id, i);
        add_res(w->s, w->mu, addr, "create");
        perr_t e = {0};
        if (state_commit(w->sv, false, &e) != 0) return "commit failed"; /* pending: not fsynced */
        add_res(w->s, w->mu, addr, NULL);
        if (state_commit(w->sv, true, &e) != 0) return "commit failed";
    }
    return NULL;
}

static void test_many_threads_committing_lose_nothing(void **st) {
    char *path = tpath("g.json");
    backend_t *b = backend_local_new(path);
    state_t *s = NULL;
    perr_t e = {0};
    assert_int_equal(state_load(b, &s, &e), 0);
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    state_saver_t *sv = state_saver_new(b, s, &mu);
    pthread_t th[8];
    worker_t w[8];
    for (int i = 0; i < 8; i++) {
        w[i] = (worker_t){s, sv, &mu, i};
        pthread_create(&th[i], NULL, worker, &w[i]);
    }
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(th[i], &r);
        assert_null(r);
    }
    int64_t serial = s->serial;
    assert_true(serial < 8 * 40 * 2); /* commits were grouped */
    char *cached = state_dump(s);     /* reuses the entries' journal text */
    state_saver_free(sv);
    state_free(s);
    b->free(b);
    s = load(path);
    char *fresh = state_dump(s); /* serialises every entry anew */
    assert_string_equal(cached, fresh);
    free(cached);
    free(fresh);
    assert_int_equal(s->nres, 8 * 40);
    for (size_t i = 0; i < s->nres; i++)
        assert_null(s->res[i].pending);
    assert_int_equal(s->serial, serial);
    state_free(s);
    free(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_committed_changes_survive_a_kill_through_the_journal),
        cmocka_unit_test(test_a_whole_save_compacts_the_journal_away),
        cmocka_unit_test(test_a_torn_last_line_is_ignored_and_never_appended_to),
        cmocka_unit_test(test_a_corrupt_journal_is_an_error_and_left_untouched),
        cmocka_unit_test(test_a_journal_of_another_serial_is_not_replayed),
        cmocka_unit_test(test_the_journal_is_compacted_when_it_outgrows_the_state),
        cmocka_unit_test(test_many_threads_committing_lose_nothing),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
