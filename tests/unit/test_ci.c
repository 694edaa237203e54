/* test_ci.c: the pieces of the CI interfaces that need no cloud: TTL
 * durations (core/env.h) and the split of a body into Terraform's
 * after / after_unknown / after_sensitive (core/plan_tfjson.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/env.h"
#include "core/plan_tfjson.h"
#include "core/ref.h"
#include "core/rtype.h"

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

static void test_ttl_durations(void **st) {
    (void)st;
    int64_t s = 0;
    assert_int_equal(env_parse_ttl("72h", &s), 0);
    assert_int_equal(s, 72 * 3600);
    assert_int_equal(env_parse_ttl("2s", &s), 0);
    assert_int_equal(s, 2);
    assert_int_equal(env_parse_ttl("90", &s), 0);
    assert_int_equal(s, 90);
    assert_int_equal(env_parse_ttl("7d12h", &s), 0);
    assert_int_equal(s, 7 * 86400 + 12 * 3600);
    assert_int_equal(env_parse_ttl("1h30m", &s), 0);
    assert_int_equal(s, 5400);
    const char *bad[] = {"", "0", "0s", "-1h", "h", "3x", "1h30", "72 h", "1.5h", NULL};
    for (int i = 0; bad[i]; i++) {
        s = 42;
        assert_int_equal(env_parse_ttl(bad[i], &s), -1);
        assert_int_equal(s, 42);
    }
}

static const char *const secret_paths[] = {"password", "auth.*.token", NULL};
static const rtype_t secret_type = {.name = "test.thing", .sensitive = secret_paths};

static void test_split_unknown_and_sensitive(void **st) {
    (void)st;
    json_t *body = parse("{\"name\":\"n\",\"password\":\"hunter2\",\"labels\":{\"a\":\"b\"},"
                         "\"auth\":[{\"token\":\"t1\",\"user\":\"u\"}],\"tags\":[\"x\",\"y\"]}");
    json_object_set_new(body, "network", ref_new("gcp.compute_network.main", "selfLink"));
    json_array_append_new(json_object_get(body, "tags"), ref_new("gcp.x.y", "id"));
    json_t *unk, *sens;
    json_t *after = tfjson_split(&secret_type, body, &unk, &sens);
    assert_json(
        after,
        "{\"name\":\"n\",\"labels\":{\"a\":\"b\"},\"auth\":[{\"user\":\"u\"}],\"tags\":[\"x\",\"y\",null]}");
    assert_json(unk, "{\"network\":true,\"tags\":[false,false,true]}");
    assert_json(sens, "{\"password\":true,\"auth\":[{\"token\":true}]}");
    char *dump = json_dumps(after, JSON_COMPACT);
    assert_null(strstr(dump, "hunter2"));
    assert_null(strstr(dump, "t1"));
    free(dump);
    json_decref(after);
    json_decref(unk);
    json_decref(sens);
    json_decref(body);
}

static void test_split_plain_body_has_empty_shapes(void **st) {
    (void)st;
    json_t *body = parse("{\"name\":\"n\",\"n\":3}");
    json_t *unk, *sens;
    json_t *after = tfjson_split(NULL, body, &unk, &sens);
    assert_json(after, "{\"name\":\"n\",\"n\":3}");
    assert_json(unk, "{}");
    assert_json(sens, "{}");
    json_decref(after);
    json_decref(unk);
    json_decref(sens);
    json_decref(body);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ttl_durations),
        cmocka_unit_test(test_split_unknown_and_sensitive),
        cmocka_unit_test(test_split_plain_body_has_empty_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
