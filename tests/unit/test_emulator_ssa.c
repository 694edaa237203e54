/* test_emulator_ssa.c: the emulated apiserver's server-side apply
 * ownership (emulator/k8s_ssa.c, pure functions): conflicts only on
 * differing fields another manager owns, fields dropped from a config are
 * removed unless shared, fieldsV1 round trips, strategic merge by name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/jpath.h"
#include "emulator/k8s_ssa.h"

static const char *manager_at(const json_t *o, size_t i) {
    return json_string_value(
        json_object_get(json_array_get(jpath_get(o, "metadata.managedFields"), i), "manager"));
}

static void ssa_conflicts_only_on_differing_fields_owned_by_another_manager(void **st) {
    (void)st;
    json_t *cfg = json_pack("{s:s,s:s,s:{s:s},s:{s:i,s:s}}", "apiVersion", "apps/v1", "kind", "Deployment",
                            "metadata", "name", "w", "spec", "replicas", 2, "x", "a");
    char msg[512] = "";
    json_t *o1 = emu_ssa_apply(NULL, cfg, "plinth", 0, "apps", "v1", msg, sizeof msg);
    assert_non_null(o1);
    assert_string_equal(manager_at(o1, 0), "plinth");
    /* kubectl edits replicas (an Update): ownership moves. */
    json_t *o2 = json_deep_copy(o1);
    jpath_set_new(o2, "spec.replicas", json_integer(5));
    jpath_set_new(o2, "spec.paused", json_true());
    emu_ssa_update(o2, o1, "kubectl-edit", "apps", "v1");
    /* Re-applying the same config without force: conflict on replicas only. */
    json_t *o3 = emu_ssa_apply(o2, cfg, "plinth", 0, "apps", "v1", msg, sizeof msg);
    assert_null(o3);
    if (!strstr(msg, "1 conflict") || !strstr(msg, "\"kubectl-edit\"") || !strstr(msg, ".spec.replicas"))
        fail_msg("%s", msg);
    /* With force: replicas back to 2, the other manager's field kept. */
    o3 = emu_ssa_apply(o2, cfg, "plinth", 1, "apps", "v1", msg, sizeof msg);
    assert_non_null(o3);
    assert_int_equal(json_integer_value(jpath_get(o3, "spec.replicas")), 2);
    assert_true(json_is_true(jpath_get(o3, "spec.paused")));
    /* A config that agrees with live does not conflict. */
    json_t *cfg2 = json_deep_copy(cfg);
    jpath_set_new(cfg2, "spec.paused", json_true());
    json_t *o4 = emu_ssa_apply(o3, cfg2, "other", 0, "apps", "v1", msg, sizeof msg);
    assert_non_null(o4);
    json_decref(o4);
    json_decref(cfg2);
    json_decref(o1);
    json_decref(o2);
    json_decref(o3);
    json_decref(cfg);
}

static void ssa_fields_dropped_from_config_are_removed_unless_shared(void **st) {
    (void)st;
    json_t *cfg = json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s}}}", "apiVersion", "v1", "kind", "ConfigMap",
                            "metadata", "name", "c", "labels", "a", "1", "b", "2");
    char msg[256];
    json_t *o1 = emu_ssa_apply(NULL, cfg, "plinth", 0, "", "v1", msg, sizeof msg);
    json_t *other = json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1", "kind", "ConfigMap",
                              "metadata", "name", "c", "labels", "b", "2");
    json_t *o2 = emu_ssa_apply(o1, other, "helm", 0, "", "v1", msg, sizeof msg);
    assert_non_null(o2);
    json_t *cfg2 =
        json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name", "c");
    json_t *o3 = emu_ssa_apply(o2, cfg2, "plinth", 0, "", "v1", msg, sizeof msg);
    assert_non_null(o3);
    assert_null(jpath_get(o3, "metadata.labels.a"));     /* only plinth owned it */
    assert_non_null(jpath_get(o3, "metadata.labels.b")); /* helm still owns it */
    json_decref(o1);
    json_decref(o2);
    json_decref(o3);
    json_decref(cfg);
    json_decref(cfg2);
    json_decref(other);
}

static void ssa_fieldsv1_round_trips_paths_with_dots(void **st) {
    (void)st;
    json_t *o = json_pack("{s:s,s:{s:{s:s}},s:{s:[i],s:{}}}", "kind", "X", "metadata", "labels",
                          "app.kubernetes.io/name", "x", "spec", "list", 1, "empty");
    strlist_t a = {0}, b = {0};
    emu_ssa_fields(o, &a);
    assert_int_equal(a.n, 3);
    json_t *f = emu_ssa_to_fieldsv1(&a);
    assert_non_null(jpath_get(f, "f:spec.f:list"));
    emu_ssa_from_fieldsv1(f, &b);
    assert_int_equal(b.n, 3);
    for (size_t i = 0; i < a.n; i++)
        assert_true(strlist_has(&b, a.v[i]));
    strlist_free(&a);
    strlist_free(&b);
    json_decref(f);
    json_decref(o);
}

static void ssa_strategic_merge_patch_merges_lists_by_name(void **st) {
    (void)st;
    json_t *t = json_pack("{s:[{s:s,s:s,s:i},{s:s,s:s}]}", "containers", "name", "a", "image", "x:1", "port",
                          80, "name", "b", "image", "y:1");
    json_t *p = json_pack("{s:[{s:s,s:s}],s:[{s:s}]}", "containers", "name", "a", "image", "x:2",
                          "$setElementOrder/containers", "name", "a");
    emu_ssa_merge_patch(t, p, 1);
    assert_int_equal(json_array_size(json_object_get(t, "containers")), 2);
    assert_string_equal(json_string_value(jpath_get(t, "containers.0.image")), "x:2");
    assert_int_equal(json_integer_value(jpath_get(t, "containers.0.port")), 80);
    assert_null(json_object_get(t, "$setElementOrder/containers"));
    json_t *del = json_pack("{s:n}", "containers");
    emu_ssa_merge_patch(t, del, 0);
    assert_null(json_object_get(t, "containers"));
    json_decref(del);
    json_decref(t);
    json_decref(p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ssa_conflicts_only_on_differing_fields_owned_by_another_manager),
        cmocka_unit_test(ssa_fields_dropped_from_config_are_removed_unless_shared),
        cmocka_unit_test(ssa_fieldsv1_round_trips_paths_with_dots),
        cmocka_unit_test(ssa_strategic_merge_patch_merges_lists_by_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
