/* test_schema.c: unit tests for providers/gcp/schema.c, the Google API
 * shapes embedded from providers/gcp/data/gcp_api.json.
 *
 * schema.c is also compiled into this test a second time, with its public
 * names renamed, so that the static path-template matcher can be tested on
 * templates the data does not hold ({+name} rest-of-path segments).  All
 * other tests use the library's copy through schema.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "providers/gcp/schema.h"

#define schema_msg t_schema_msg
#define schema_msg_name t_schema_msg_name
#define schema_field t_schema_field
#define schema_fields t_schema_fields
#define schema_closest t_schema_closest
#define schema_enum_has t_schema_enum_has
#define schema_enum_values t_schema_enum_values
#define schema_check t_schema_check
#define schema_methods t_schema_methods
#define schema_match t_schema_match
#define schema_apis t_schema_apis
#define schema_fix_empty_lists t_schema_fix_empty_lists
#include "providers/gcp/schema.c"
#undef schema_msg
#undef schema_msg_name
#undef schema_field
#undef schema_fields
#undef schema_closest
#undef schema_enum_has
#undef schema_enum_values
#undef schema_check
#undef schema_methods
#undef schema_match
#undef schema_apis
#undef schema_fix_empty_lists

static const sch_field_t *field(const char *api, const char *msg, const char *name) {
    const sch_msg_t *m = schema_msg(api, msg);
    assert_non_null(m);
    return schema_field(m, name);
}

static int check(const char *api, const char *msg, const char *json, int skip, diag_t *d) {
    json_error_t err;
    json_t *body = json_loads(json, 0, &err);
    assert_non_null(body);
    int n = schema_check(api, msg, body, skip, "t", d);
    json_decref(body);
    return n;
}

static void test_all_expected_apis_are_present(void **state) {
    const char *want[] = {"compute",
                          "container",
                          "sqladmin",
                          "storage",
                          "iam",
                          "iamcredentials",
                          "cloudresourcemanager",
                          "serviceusage",
                          "servicenetworking",
                          "artifactregistry",
                          "secretmanager",
                          "aiplatform"};
    const char *const *apis = schema_apis();
    assert_non_null(apis);
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        int found = 0;
        for (size_t k = 0; apis[k]; k++)
            found |= strcmp(apis[k], want[i]) == 0;
        assert_true(found);
        size_t n = 0;
        assert_non_null(schema_methods(want[i], &n));
        assert_true(n > 0);
    }
    assert_null(schema_msg("nosuchapi", "Network"));
    assert_null(schema_msg("compute", "NoSuchMessage"));
}

static void test_known_fields_have_their_kinds(void **state) {
    const sch_field_t *f = field("compute", "Network", "autoCreateSubnetworks");
    assert_non_null(f);
    assert_int_equal(f->kind, SCH_BOOL);
    assert_false(f->repeated);

    f = field("container", "Cluster", "nodePools");
    assert_non_null(f);
    assert_int_equal(f->kind, SCH_MESSAGE);
    assert_true(f->repeated);
    assert_string_equal(f->ref, "NodePool");
    assert_non_null(schema_msg("container", f->ref));

    f = field("storage", "Bucket", "labels");
    assert_non_null(f);
    assert_int_equal(f->kind, SCH_MAP);
    assert_int_equal(f->value_kind, SCH_STRING);

    f = field("compute", "Network", "id");
    assert_non_null(f);
    assert_int_equal(f->kind, SCH_INT64);

    f = field("compute", "Firewall", "direction");
    assert_non_null(f);
    assert_int_equal(f->kind, SCH_ENUM);
    assert_non_null(f->ref);
    assert_true(schema_enum_has("compute", f->ref, "INGRESS"));
    assert_false(schema_enum_has("compute", f->ref, "SIDEWAYS"));

    assert_null(field("compute", "Network", "autoCreateSubnetwork"));
    assert_string_equal(schema_msg_name(schema_msg("compute", "Network")), "Network");
    size_t n = 0;
    assert_non_null(schema_fields(schema_msg("compute", "Network"), &n));
    assert_true(n > 10);
}

static void test_output_only_fields_are_flagged(void **state) {
    assert_true(field("compute", "Network", "selfLink")->output_only);
    assert_true(field("compute", "Network", "creationTimestamp")->output_only);
    assert_false(field("compute", "Network", "name")->output_only);
    assert_false(field("compute", "Network", "autoCreateSubnetworks")->output_only);
    assert_true(field("container", "Cluster", "endpoint")->output_only);
    assert_false(field("container", "Cluster", "initialNodeCount")->output_only);
}

static void test_closest_name_suggests_typos_and_snake_case(void **state) {
    const sch_msg_t *m = schema_msg("compute", "Network");
    assert_string_equal(schema_closest(m, "autoCreateSubnetwork"), "autoCreateSubnetworks");
    assert_string_equal(schema_closest(m, "auto_create_subnetworks"), "autoCreateSubnetworks");
    assert_string_equal(schema_closest(m, "routingconfig"), "routingConfig");
    assert_null(schema_closest(m, "completelyUnrelatedThing"));
}

static void test_valid_body_passes(void **state) {
    diag_t d = {0};
    int n = check("compute", "Firewall",
                  "{\"name\":\"fw\",\"network\":\"global/networks/n\",\"direction\":\"INGRESS\","
                  "\"priority\":1000,\"allowed\":[{\"IPProtocol\":\"tcp\",\"ports\":[\"22\"]}],"
                  "\"sourceRanges\":[\"0.0.0.0/0\"],\"id\":\"123\"}",
                  0, &d);
    assert_int_equal(n, 0);
    assert_int_equal(d.n, 0);
    diag_free(&d);
}

static void test_bad_enum_is_rejected_with_the_choices(void **state) {
    diag_t d = {0};
    int n = check("compute", "Firewall", "{\"name\":\"fw\",\"direction\":\"INGRES\"}", 0, &d);
    assert_int_equal(n, 1);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.items[0].where, "t");
    assert_non_null(strstr(d.items[0].msg, "direction: invalid value 'INGRES'"));
    assert_non_null(strstr(d.items[0].msg, "did you mean 'INGRESS'"));
    diag_free(&d);
}

static void test_unknown_nested_field_names_path_and_suggestion(void **state) {
    diag_t d = {0};
    int n = check("compute", "Subnetwork",
                  "{\"name\":\"s\",\"secondaryIpRanges\":[{\"rangeName\":\"a\",\"ipCidrRange\":"
                  "\"10.0.0.0/16\"},{\"rangeNam\":\"b\"}]}",
                  0, &d);
    assert_int_equal(n, 1);
    assert_string_equal(d.items[0].msg,
                        "secondaryIpRanges.1.rangeNam: unknown field 'rangeNam' (did you mean "
                        "'rangeName'?)");
    diag_free(&d);
}

static void test_type_mismatches_are_reported(void **state) {
    diag_t d = {0};
    int n = check("compute", "Network",
                  "{\"name\":5,\"autoCreateSubnetworks\":\"yes\",\"mtu\":\"x\","
                  "\"subnetworks\":\"notalist\",\"routingConfig\":[]}",
                  0, &d);
    assert_int_equal(n, 5);
    int saw_name = 0;
    for (size_t i = 0; i < d.n; i++)
        saw_name |= strcmp(d.items[i].msg, "name: expected a string, got a number") == 0;
    assert_true(saw_name);
    diag_free(&d);
}

static void test_int64_accepts_numbers_and_numeric_strings(void **state) {
    diag_t d = {0};
    assert_int_equal(check("compute", "Network", "{\"id\":\"18446744073709551615\"}", 0, &d), 0);
    assert_int_equal(check("compute", "Network", "{\"id\":42}", 0, &d), 0);
    assert_int_equal(check("compute", "Network", "{\"id\":\"4x2\"}", 0, &d), 1);
    diag_free(&d);
}

static void test_maps_accept_any_keys_but_check_values(void **state) {
    diag_t d = {0};
    assert_int_equal(check("storage", "Bucket", "{\"labels\":{\"any-key\":\"v\",\"k2\":\"w\"}}", 0, &d), 0);
    assert_int_equal(check("storage", "Bucket", "{\"labels\":{\"k\":1}}", 0, &d), 1);
    assert_non_null(strstr(d.items[0].msg, "labels.k: expected a string"));
    diag_free(&d);
}

static void test_deferred_values_only_pass_when_skipping(void **state) {
    const char *body = "{\"network\":{\"$plinth\":\"ref\",\"to\":\"x\"},"
                       "\"secondaryIpRanges\":[{\"$plinth\":\"ref\"}]}";
    diag_t d = {0};
    assert_int_equal(check("compute", "Subnetwork", body, 1, &d), 0);
    assert_int_equal(d.n, 0);
    assert_true(check("compute", "Subnetwork", body, 0, &d) > 0);
    diag_free(&d);
}

static void test_unknown_message_is_a_problem(void **state) {
    diag_t d = {0};
    assert_int_equal(check("compute", "NoSuchThing", "{}", 0, &d), 1);
    diag_free(&d);
}

static void expect_match(const char *api, const char *m, const char *path, const char *id) {
    const sch_method_t *meth = schema_match(api, m, path);
    if (!id) {
        if (meth) fail_msg("%s %s %s matched %s, expected no match", api, m, path, meth->id);
        return;
    }
    if (!meth) fail_msg("%s %s %s: no match, expected %s", api, m, path, id);
    assert_string_equal(meth->id, id);
}

static void test_paths_match_their_methods(void **state) {
    expect_match("compute", "POST", "compute/v1/projects/p/global/networks", "compute.networks.insert");
    expect_match("compute", "GET", "compute/v1/projects/p/global/networks/n", "compute.networks.get");
    expect_match("compute", "POST", "/compute/v1/projects/p/global/networks?requestId=1",
                 "compute.networks.insert");
    expect_match("compute", "GET", "compute/v1/projects/p/regions/r/subnetworks/s",
                 "compute.subnetworks.get");
    expect_match("serviceusage", "POST", "v1/projects/p/services/x.googleapis.com:enable",
                 "serviceusage.services.enable");
    expect_match("serviceusage", "GET", "v1/projects/p/services/x.googleapis.com",
                 "serviceusage.services.get");
    expect_match("sqladmin", "GET", "sql/v1beta4/projects/p/instances/i", "sql.instances.get");
    expect_match("secretmanager", "POST", "v1/projects/p/secrets/s:addVersion",
                 "secretmanager.projects.secrets.addVersion");
    expect_match("storage", "POST", "upload/storage/v1/b/bkt/o", "storage.objects.insert");
    expect_match("storage", "GET", "storage/v1/b/bkt/o/a:b", "storage.objects.get");
    expect_match("container", "POST", "v1/projects/p/locations/l/clusters",
                 "container.projects.locations.clusters.create");
    expect_match("cloudresourcemanager", "POST", "v1/projects/p:getIamPolicy",
                 "cloudresourcemanager.projects.getIamPolicy");
    expect_match("aiplatform", "GET", "v1/projects/p/locations/l/tensorboards/1/operations/2",
                 "aiplatform.projects.locations.tensorboards.operations.get");
    expect_match("artifactregistry", "POST",
                 "upload/v1/projects/p/locations/l/repositories/r/genericArtifacts:create",
                 "artifactregistry.projects.locations.repositories.genericArtifacts.upload");
}

/* Matches one template against one concrete path, with schema.c's own
 * splitter and matcher. */
static int tmatch(const char *tmpl, const char *path) {
    tmpl_t t;
    load_tmpl(&t, tmpl);
    const char *segs[MAX_SEGS];
    size_t lens[MAX_SEGS];
    size_t n = split_path(path, segs, lens);
    int ok = n > 0 && tmpl_match(&t, 0, segs, lens, n);
    for (size_t i = 0; i < t.nsegs; i++) {
        free((char *)t.segs[i].text);
        free(t.segs[i].prefix);
        free(t.segs[i].suffix);
    }
    free(t.segs);
    return ok;
}

static void test_rest_of_path_templates_take_several_segments(void **state) {
    assert_true(tmatch("v1/{+name}:getIamPolicy", "v1/projects/p/secrets/s:getIamPolicy"));
    assert_true(tmatch("v1/{+name}", "v1/projects/p/secrets/s"));
    assert_false(tmatch("v1/{+name}", "v1"));
    assert_false(tmatch("v1/{+name}", "v1/projects/p/secrets/s:addVersion"));
    assert_true(tmatch("upload/v1/{+parent}/files:upload",
                       "upload/v1/projects/p/locations/l/repositories/r/files:upload"));
    assert_false(tmatch("upload/v1/{+parent}/files:upload", "upload/v1/files:upload"));
    assert_true(tmatch("v1/{name}/x/{rest*}", "v1/a/x/b/c/d"));
    assert_true(tmatch("v1/{a}:verb", "v1/thing:verb"));
    assert_false(tmatch("v1/{a}:verb", "v1/:verb"));
    assert_false(tmatch("v1/{a}", "v1/thing:verb"));
    assert_false(tmatch("v1/a/b", "v1/a"));
}

static void test_fix_empty_lists_turns_empty_tables_into_arrays(void **state) {
    json_t *b = json_loads("{\"cluster\":{\"name\":\"c\",\"resourceLabels\":{},"
                           "\"masterAuthorizedNetworksConfig\":{\"cidrBlocks\":{}},"
                           "\"nodePools\":[{\"locations\":{},\"config\":{\"tags\":{}}}],"
                           "\"locations\":{\"$plinth\":\"ref\"}}}",
                           0, NULL);
    assert_non_null(b);
    assert_int_equal(schema_fix_empty_lists("container", "CreateClusterRequest", b), 3);
    json_t *c = json_object_get(b, "cluster");
    assert_true(
        json_is_array(json_object_get(json_object_get(c, "masterAuthorizedNetworksConfig"), "cidrBlocks")));
    json_t *np = json_array_get(json_object_get(c, "nodePools"), 0);
    assert_true(json_is_array(json_object_get(np, "locations")));
    assert_true(json_is_array(json_object_get(json_object_get(np, "config"), "tags")));
    assert_true(json_is_object(json_object_get(c, "resourceLabels"))); /* a map stays a map */
    assert_true(json_is_object(json_object_get(c, "locations")));      /* deferred stays */
    diag_t d = {0};
    assert_int_equal(schema_check("container", "CreateClusterRequest", b, 1, "t", &d), 0);
    diag_free(&d);
    assert_int_equal(schema_fix_empty_lists("container", "NoSuchMessage", b), 0);
    json_decref(b);
}

static void test_spec_mode_accepts_empty_table_for_lists(void **state) {
    diag_t d = {0};
    assert_int_equal(check("compute", "Subnetwork", "{\"secondaryIpRanges\":{}}", 1, &d), 0);
    assert_int_equal(check("compute", "Subnetwork", "{\"secondaryIpRanges\":{}}", 0, &d), 1);
    assert_non_null(strstr(d.items[0].msg, "secondaryIpRanges: expected an array, got an object"));
    diag_free(&d);
}

static void test_wrong_paths_and_methods_do_not_match(void **state) {
    expect_match("compute", "PUT", "compute/v1/projects/p/global/networks", NULL);
    expect_match("compute", "POST", "compute/v1/projects/p/global/netwrks", NULL);
    expect_match("compute", "GET", "compute/v1/projects/p/global/networks/n/extra/more", NULL);
    expect_match("serviceusage", "POST", "v1/projects/p/services/x:enabel", NULL);
    expect_match("serviceusage", "GET", "v1/projects/p/services/x:enable", NULL);
    expect_match("secretmanager", "POST", "v1/projects/p/secrets/:addVersion", NULL);
    expect_match("nosuchapi", "GET", "v1/x", NULL);
}

static void test_method_query_params_are_listed(void **state) {
    const sch_method_t *m = schema_match("compute", "POST", "compute/v1/projects/p/global/networks");
    assert_non_null(m);
    assert_string_equal(m->request, "Network");
    assert_non_null(m->query);
    assert_string_equal(m->query[0], "requestId");
    assert_null(m->query[1]);
    m = schema_match("compute", "GET", "compute/v1/projects/p/global/networks/n");
    assert_non_null(m);
    assert_null(m->request);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_expected_apis_are_present),
        cmocka_unit_test(test_known_fields_have_their_kinds),
        cmocka_unit_test(test_output_only_fields_are_flagged),
        cmocka_unit_test(test_closest_name_suggests_typos_and_snake_case),
        cmocka_unit_test(test_valid_body_passes),
        cmocka_unit_test(test_bad_enum_is_rejected_with_the_choices),
        cmocka_unit_test(test_unknown_nested_field_names_path_and_suggestion),
        cmocka_unit_test(test_type_mismatches_are_reported),
        cmocka_unit_test(test_int64_accepts_numbers_and_numeric_strings),
        cmocka_unit_test(test_maps_accept_any_keys_but_check_values),
        cmocka_unit_test(test_deferred_values_only_pass_when_skipping),
        cmocka_unit_test(test_unknown_message_is_a_problem),
        cmocka_unit_test(test_paths_match_their_methods),
        cmocka_unit_test(test_wrong_paths_and_methods_do_not_match),
        cmocka_unit_test(test_method_query_params_are_listed),
        cmocka_unit_test(test_rest_of_path_templates_take_several_segments),
        cmocka_unit_test(test_spec_mode_accepts_empty_table_for_lists),
        cmocka_unit_test(test_fix_empty_lists_turns_empty_tables_into_arrays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
