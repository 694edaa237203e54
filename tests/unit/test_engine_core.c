/* test_engine_core.c: the engine's pure pieces: jpath addressing, the diff
 * rules (what counts as a change, what forces replacement, secrets), and
 * the parallel DAG walk (ordering, failure skipping, cycles). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/diff.h"
#include "core/jpath.h"
#include "core/ref.h"
#include "core/walk.h"

static json_t *J(const char *s) {
    json_error_t e;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &e);
    if (!v) fail_msg("bad test JSON %s: %s", s, e.text);
    return v;
}

static void jpath_gets_sets_and_escapes_dotted_keys(void **st) {
    (void)st;
    json_t *v = J("{\"a\":{\"b\":[10,{\"c\":1}]},\"x.y\":2}");
    assert_int_equal(json_integer_value(jpath_get(v, "a.b.1.c")), 1);
    char *p = jpath_join("", "x.y");
    assert_string_equal(p, "x\\.y");
    assert_int_equal(json_integer_value(jpath_get(v, p)), 2);
    free(p);
    assert_int_equal(jpath_set_new(v, "a.new.deep", json_string("z")), 0);
    assert_string_equal(json_string_value(jpath_get(v, "a.new.deep")), "z");
    assert_int_equal(jpath_del(v, "a.b.0"), 0);
    assert_int_equal(json_array_size(jpath_get(v, "a.b")), 1);
    assert_true(jpath_match("secondaryIpRanges.3.rangeName", "secondaryIpRanges.*.rangeName"));
    assert_true(jpath_match("settings.tier", "settings"));
    assert_false(jpath_match("settingsX", "settings"));
    json_decref(v);
}

static const char *const imm[] = {"name", "ipCidrRange", NULL};
static const char *const sens[] = {"password", NULL};
static const rtype_t fake = {.name = "test.thing", .immutable = imm, .sensitive = sens};

static void diff_ignores_server_defaults_and_url_forms(void **st) {
    (void)st;
    json_t *d = J("{\"name\":\"n\",\"autoCreateSubnetworks\":false,\"mtu\":1460,"
                  "\"network\":\"projects/p/global/networks/n\",\"labels\":{}}");
    json_t *l = J("{\"name\":\"n\",\"mtu\":\"1460\",\"network\":"
                  "\"https://www.googleapis.com/compute/v1/projects/p/global/networks/n\","
                  "\"selfLink\":\"x\",\"id\":\"123\"}");
    diff_t df;
    diff_resource(&fake, d, l, NULL, NULL, &df);
    assert_int_equal(df.n, 0);
    diff_free(&df);
    json_decref(d);
    json_decref(l);
}

static void diff_reports_changes_and_immutable_forces_replace(void **st) {
    (void)st;
    json_t *d = J("{\"name\":\"n\",\"ipCidrRange\":\"10.1.0.0/20\",\"description\":\"new\"}");
    json_t *l = J("{\"name\":\"n\",\"ipCidrRange\":\"10.0.0.0/20\",\"description\":\"old\"}");
    diff_t df;
    diff_resource(&fake, d, l, NULL, NULL, &df);
    assert_int_equal(df.n, 2);
    assert_true(df.replace);
    int found_imm = 0;
    for (size_t i = 0; i < df.n; i++)
        if (!strcmp(df.c[i].path, "ipCidrRange")) found_imm = df.c[i].forces_replace;
    assert_true(found_imm);
    diff_free(&df);
    /* ignore_changes hides a path */
    strlist_t ign = {0};
    strlist_add(&ign, "description");
    strlist_add(&ign, "ipCidrRange");
    diff_resource(&fake, d, l, NULL, &ign, &df);
    assert_int_equal(df.n, 0);
    diff_free(&df);
    strlist_free(&ign);
    json_decref(d);
    json_decref(l);
}

static void diff_detects_key_removed_from_spec_via_last_applied(void **st) {
    (void)st;
    json_t *d = J("{\"labels\":{\"a\":\"1\"}}");
    json_t *l = J("{\"labels\":{\"a\":\"1\",\"b\":\"2\",\"server\":\"x\"}}");
    json_t *a = J("{\"labels\":{\"a\":\"1\",\"b\":\"2\"}}");
    diff_t df;
    diff_resource(&fake, d, l, a, NULL, &df);
    assert_int_equal(df.n, 1);
    assert_string_equal(df.c[0].path, "labels.b");
    assert_null(df.c[0].after);
    diff_free(&df);
    json_decref(d);
    json_decref(l);
    json_decref(a);
}

static void diff_compares_secrets_by_hash_only(void **st) {
    (void)st;
    json_t *d = J("{\"password\":\"hunter2\"}");
    json_t *l = J("{}");
    char *h = diff_hash_value(json_object_get(d, "password"));
    json_t *a = json_pack("{s:s}", "password", h);
    diff_t df;
    diff_resource(&fake, d, l, a, NULL, &df);
    assert_int_equal(df.n, 0);
    diff_free(&df);
    json_t *d2 = J("{\"password\":\"changed\"}");
    diff_resource(&fake, d2, l, a, NULL, &df);
    assert_int_equal(df.n, 1);
    assert_true(df.c[0].sensitive);
    diff_free(&df);
    /* hashing replaces the plaintext */
    diff_hash_sensitive(&fake, d2);
    assert_non_null(strstr(json_string_value(json_object_get(d2, "password")), "sha256:"));
    free(h);
    json_decref(a);
    json_decref(d);
    json_decref(d2);
    json_decref(l);
}

/* --- walk --- */
typedef struct {
    pthread_mutex_t mu;
    int order[64];
    int n;
    int fail_step;
    int running, max_running;
} wrec_t;

static int rec_fn(void *ud, size_t step) {
    wrec_t *r = ud;
    pthread_mutex_lock(&r->mu);
    r->running++;
    if (r->running > r->max_running) r->max_running = r->running;
    pthread_mutex_unlock(&r->mu);
    usleep(20000);
    pthread_mutex_lock(&r->mu);
    r->running--;
    r->order[r->n++] = (int)step;
    pthread_mutex_unlock(&r->mu);
    return (int)step == r->fail_step ? -1 : 0;
}

static int pos(wrec_t *r, int step) {
    for (int i = 0; i < r->n; i++)
        if (r->order[i] == step) return i;
    return -1;
}

static void walk_respects_edges_and_bounds_parallelism(void **st) {
    (void)st;
    wrec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER, .fail_step = -1};
    walk_t *w = walk_new(10);
    walk_edge(w, 0, 1);
    walk_edge(w, 1, 2);
    walk_edge(w, 0, 3);
    assert_int_equal(walk_run(w, 3, rec_fn, &r, NULL), 0);
    assert_int_equal(r.n, 10);
    assert_true(pos(&r, 0) < pos(&r, 1));
    assert_true(pos(&r, 1) < pos(&r, 2));
    assert_true(pos(&r, 0) < pos(&r, 3));
    assert_true(r.max_running <= 3);
    assert_true(r.max_running >= 2);
    walk_free(w);
}

static void walk_skips_dependents_of_a_failure_but_runs_independent_steps(void **st) {
    (void)st;
    wrec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER, .fail_step = 0};
    walk_t *w = walk_new(4);
    walk_edge(w, 0, 1);
    walk_edge(w, 1, 2);
    assert_int_equal(walk_run(w, 2, rec_fn, &r, NULL), -1);
    assert_int_equal(walk_status(w, 0), WALK_FAILED);
    assert_int_equal(walk_status(w, 1), WALK_SKIPPED);
    assert_int_equal(walk_status(w, 2), WALK_SKIPPED);
    assert_int_equal(walk_status(w, 3), WALK_DONE);
    walk_free(w);
}

static void walk_finds_cycles(void **st) {
    (void)st;
    walk_t *w = walk_new(3);
    walk_edge(w, 0, 1);
    walk_edge(w, 1, 2);
    size_t *c = NULL, n = 0;
    assert_false(walk_find_cycle(w, &c, &n));
    walk_edge(w, 2, 0);
    assert_true(walk_find_cycle(w, &c, &n));
    assert_int_equal(n, 4);
    assert_int_equal(c[0], c[3]);
    free(c);
    walk_free(w);
}

static void walk_stops_starting_steps_when_interrupted(void **st) {
    (void)st;
    wrec_t r = {.mu = PTHREAD_MUTEX_INITIALIZER, .fail_step = -1};
    walk_t *w = walk_new(5);
    for (size_t i = 0; i + 1 < 5; i++)
        walk_edge(w, i, i + 1);
    volatile sig_atomic_t stop = 1;
    assert_int_equal(walk_run(w, 2, rec_fn, &r, &stop), -1);
    assert_int_equal(r.n, 0);
    walk_free(w);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jpath_gets_sets_and_escapes_dotted_keys),
        cmocka_unit_test(diff_ignores_server_defaults_and_url_forms),
        cmocka_unit_test(diff_reports_changes_and_immutable_forces_replace),
        cmocka_unit_test(diff_detects_key_removed_from_spec_via_last_applied),
        cmocka_unit_test(diff_compares_secrets_by_hash_only),
        cmocka_unit_test(walk_respects_edges_and_bounds_parallelism),
        cmocka_unit_test(walk_skips_dependents_of_a_failure_but_runs_independent_steps),
        cmocka_unit_test(walk_finds_cycles),
        cmocka_unit_test(walk_stops_starting_steps_when_interrupted),
    };
    return cmocka_run_group_tests_name("engine_core", tests, NULL, NULL);
}
