/* test_ref.c: deferred values (core/ref.h): construction, collapsing of
 * concatenations, inspection, collection and resolution. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ref.h"

static json_t *parse(const char *s) {
    json_error_t je;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &je);
    assert_non_null(v);
    return v;
}

static void assert_json(const json_t *v, const char *expected) {
    json_t *e = parse(expected);
    if (!json_equal((json_t *)v, e)) {
        char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
        print_error("got %s, expected %s\n", got, expected);
        free(got);
        json_decref(e);
        fail();
    }
    json_decref(e);
}

static void test_ref_new_encodes_addr_and_path(void **st) {
    (void)st;
    json_t *r = ref_new("gcp.compute_network.main", "selfLink");
    assert_json(r, "{\"$plinth\":\"ref\",\"addr\":\"gcp.compute_network.main\",\"path\":\"selfLink\"}");
    assert_true(ref_is_ref(r));
    assert_true(ref_is_deferred(r));
    json_decref(r);
}

static void test_concat_merges_adjacent_strings_and_flattens(void **st) {
    (void)st;
    json_t *inner = json_pack("[s, o]", "b", ref_new("a.b.c", "x"));
    json_t *parts = json_pack("[s, s, o, s, i, o]", "pro", "jects/", ref_new("a.b.c", "id"), "/", 7,
                              ref_concat_new(inner));
    json_t *c = ref_concat_new(parts);
    assert_json(c, "{\"$plinth\":\"concat\",\"parts\":[\"projects/\","
                   "{\"$plinth\":\"ref\",\"addr\":\"a.b.c\",\"path\":\"id\"},\"/7b\","
                   "{\"$plinth\":\"ref\",\"addr\":\"a.b.c\",\"path\":\"x\"}]}");
    assert_true(ref_is_deferred(c));
    assert_false(ref_is_ref(c));
    json_decref(c);
}

static void test_concat_without_deferred_parts_is_a_plain_string(void **st) {
    (void)st;
    json_t *c = ref_concat_new(json_pack("[s, s, i, b]", "a", "b", 1, 1));
    assert_true(json_is_string(c));
    assert_string_equal(json_string_value(c), "ab1true");
    json_decref(c);
    c = ref_concat_new(json_array());
    assert_string_equal(json_string_value(c), "");
    json_decref(c);
    /* a lone reference stays a reference */
    c = ref_concat_new(json_pack("[s, o, s]", "", ref_new("a.b.c", "id"), ""));
    assert_true(ref_is_ref(c));
    json_decref(c);
}

static void test_contains_and_collect_find_deep_references(void **st) {
    (void)st;
    json_t *body = json_pack(
        "{s:s, s:{s:[i, o]}, s:o}", "plain", "x", "deep", "list", 1, ref_new("gcp.a.b", "id"), "c",
        ref_concat_new(json_pack("[s, o, o]", "p", ref_new("gcp.c.d", "x"), ref_new("gcp.a.b", "y"))));
    assert_true(ref_contains(body));
    assert_false(ref_is_deferred(body));
    strlist_t addrs = {0};
    strlist_add(&addrs, "gcp.c.d");
    ref_collect(body, &addrs);
    assert_int_equal(addrs.n, 2); /* deduplicated */
    assert_true(strlist_has(&addrs, "gcp.a.b"));
    strlist_free(&addrs);
    json_t *plain = parse("{\"a\":[1,{\"b\":\"$plinth\"}],\"$plinth\":1}");
    assert_false(ref_contains(plain));
    json_decref(plain);
    json_decref(body);
}

/* lookup: gcp.a.b is live with {"id": "ID", "n": 5, "obj": {}}, gcp.new.x is
 * still to be created, anything else does not exist. */
static int lookup(void *ud, const char *addr, const char *path, json_t **out, perr_t *e) {
    json_t *live = ud;
    if (strcmp(addr, "gcp.new.x") == 0) return 0;
    if (strcmp(addr, "gcp.a.b") == 0) {
        json_t *v = json_object_get(live, path);
        if (v) {
            *out = v;
            return 1;
        }
    }
    perr_set(e, addr, "no attribute %s on %s", path, addr);
    return -1;
}

static void test_resolve_replaces_known_values(void **st) {
    (void)st;
    json_t *live = parse("{\"id\":\"ID\",\"n\":5,\"t\":true,\"obj\":{\"k\":1},\"nul\":null}");
    json_t *v = json_pack("{s:o, s:[o], s:o, s:i}", "a", ref_new("gcp.a.b", "obj"), "b",
                          ref_concat_new(json_pack("[s, o, s, o, o]", "x/", ref_new("gcp.a.b", "id"), "/",
                                                   ref_new("gcp.a.b", "n"), ref_new("gcp.a.b", "t"))),
                          "c", ref_new("gcp.a.b", "n"), "d", 1);
    int unknown = 0;
    perr_t e = {0};
    json_t *r = ref_resolve(v, lookup, live, &unknown, &e);
    assert_non_null(r);
    assert_int_equal(unknown, 0);
    assert_json(r, "{\"a\":{\"k\":1},\"b\":[\"x/ID/5true\"],\"c\":5,\"d\":1}");
    assert_false(ref_contains(r));
    json_decref(r);
    json_decref(v);
    json_decref(live);
}

static void test_resolve_keeps_unknown_values_deferred(void **st) {
    (void)st;
    json_t *live = parse("{\"id\":\"ID\"}");
    json_t *c =
        ref_concat_new(json_pack("[o, s, o]", ref_new("gcp.a.b", "id"), "/", ref_new("gcp.new.x", "id")));
    json_t *v = json_pack("{s:O, s:o, s:o}", "c", c, "r", ref_new("gcp.new.x", "selfLink"), "k",
                          ref_new("gcp.a.b", "id"));
    int unknown = 0;
    perr_t e = {0};
    json_t *r = ref_resolve(v, lookup, live, &unknown, &e);
    assert_non_null(r);
    assert_int_equal(unknown, 1);
    assert_true(json_equal(json_object_get(r, "c"), c)); /* stays whole */
    assert_true(ref_is_ref(json_object_get(r, "r")));
    assert_string_equal(json_string_value(json_object_get(r, "k")), "ID");
    json_decref(r);
    json_decref(c);
    json_decref(v);
    json_decref(live);
}

static void test_resolve_fails_on_missing_attribute_or_non_string_part(void **st) {
    (void)st;
    json_t *live = parse("{\"id\":\"ID\",\"obj\":{},\"nul\":null}");
    int unknown = 0;
    perr_t e = {0};
    json_t *v = json_pack("{s:[o]}", "x", ref_new("gcp.a.b", "nope"));
    assert_null(ref_resolve(v, lookup, live, &unknown, &e));
    assert_non_null(strstr(e.msg, "no attribute nope"));
    json_decref(v);

    const char *bad[] = {"obj", "nul"};
    for (int i = 0; i < 2; i++) {
        perr_clear(&e);
        v = ref_concat_new(json_pack("[s, o]", "a-", ref_new("gcp.a.b", bad[i])));
        assert_null(ref_resolve(v, lookup, live, &unknown, &e));
        assert_non_null(strstr(e.msg, "cannot use a non-string value in a string"));
        json_decref(v);
    }
    json_decref(live);
}

static void test_describe_is_readable(void **st) {
    (void)st;
    json_t *r = ref_new("gcp.compute_network.main", "selfLink");
    char *d = ref_describe(r);
    assert_string_equal(d, "gcp.compute_network.main.selfLink");
    free(d);
    json_t *whole = ref_new("gcp.x.y", "");
    d = ref_describe(whole);
    assert_string_equal(d, "gcp.x.y");
    free(d);
    json_t *c = ref_concat_new(json_pack("[s, O, s]", "projects/", r, "/x"));
    d = ref_describe(c);
    assert_string_equal(d, "\"projects/${gcp.compute_network.main.selfLink}/x\"");
    free(d);
    json_decref(c);
    json_decref(whole);
    json_decref(r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_new_encodes_addr_and_path),
        cmocka_unit_test(test_concat_merges_adjacent_strings_and_flattens),
        cmocka_unit_test(test_concat_without_deferred_parts_is_a_plain_string),
        cmocka_unit_test(test_contains_and_collect_find_deep_references),
        cmocka_unit_test(test_resolve_replaces_known_values),
        cmocka_unit_test(test_resolve_keeps_unknown_values_deferred),
        cmocka_unit_test(test_resolve_fails_on_missing_attribute_or_non_string_part),
        cmocka_unit_test(test_describe_is_readable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
