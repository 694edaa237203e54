/* test_gcp_types.c: the GCP provider's resource types: the type tables,
 * natural IDs and import forms, normalization, IAM policy editing (no
 * server; the round trips against the emulator are test_gcp_types_emu.c). */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/jpath.h"
#include "core/rtype.h"
#include "emulator/emu.h"
#include "providers/gcp/gcp_iam.h"
#include "providers/gcp/gcp_res.h"
#include "providers/gcp/schema.h"
#include "tests/support/gcp_types_util.h"

static gcp_prov_t fake_prov = {.project = "p", .region = "europe-west1", .zone = "europe-west1-b"};

/* ---- tables ---- */

static void test_every_type_has_the_callbacks_the_engine_needs(void **state) {
    size_t n = 0;
    for (const rtype_t *const *tp = gcp_provider.types; *tp; tp++, n++) {
        const rtype_t *t = *tp;
        assert_non_null(t->name);
        assert_int_equal(strncmp(t->name, "gcp.", 4), 0);
        assert_non_null(t->data);
        /* Only a type the server names has no ID before create. */
        if (!t->id_of) assert_int_equal(((const gcp_type_t *)t->data)->create_style, GCP_CREATE_SERVER_NAMED);
        assert_non_null(t->read);
        assert_non_null(t->create);
        assert_non_null(t->update);
        assert_non_null(t->remove);
        assert_non_null(t->import);
        assert_non_null(t->defaults);
        assert_ptr_equal(rtype_find(t->name), t);
    }
#define GCP_TYPE_ONE(x) +1
    assert_int_equal(n, 0 GCP_TYPES(GCP_TYPE_ONE)); /* the registry is the list in gcp_types.h */
#undef GCP_TYPE_ONE
}

static int is_extra(const rtype_t *t, const char *f) {
    for (const char *const *x = t->extra_fields; x && *x; x++)
        if (strcmp(*x, f) == 0) return 1;
    return 0;
}

static void test_immutable_and_required_fields_exist_in_the_schema(void **state) {
    int checked = 0;
    for (const rtype_t *const *tp = gcp_provider.types; *tp; tp++) {
        const rtype_t *t = *tp;
        const sch_msg_t *m = t->api && t->message ? schema_msg(t->api, t->message) : NULL;
        const char *const *lists[] = {t->immutable, t->required};
        for (int l = 0; l < 2; l++)
            for (const char *const *p = lists[l]; p && *p; p++) {
                char top[128];
                snprintf(top, sizeof top, "%.*s", (int)strcspn(*p, "."), *p);
                if (is_extra(t, top)) continue;
                if (!t->api) fail_msg("%s: %s is neither an extra field nor in a schema", t->name, *p);
                if (!m) continue; /* no schema data for this message (yet) */
                if (!schema_field(m, top))
                    fail_msg("%s: '%s' is not a field of %s.%s", t->name, top, t->api, t->message);
                checked++;
            }
    }
    if (schema_msg("compute", "Network"))
        assert_true(checked > 20); /* schema data present: the check really ran */
    else
        print_message("note: no schema data loaded; checked extra fields only\n");
}

/* Every URL a type builds matches a method of the API in the schema data
 * (taken from gcloud's generated clients): catches typos in templates. */
static char *sample_url(const char *tmpl) {
    json_t *v =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "project", "p",
                  "region", "r", "zone", "z", "location", "l", "name", "n", "repositoryId", "n", "secretId",
                  "n", "accountId", "sa", "cluster", "c", "instance", "i", "service", "s.googleapis.com",
                  "network", "net", "key_ring", "kr", "id", "123", "workloadIdentityPoolId", "wp",
                  "workloadIdentityPoolProviderId", "wpp", "datasetId", "ds");
    perr_t e;
    char *u = gcp_tmpl_fill(tmpl, v, &e);
    json_decref(v);
    if (u) u[strcspn(u, "?")] = 0;
    return u;
}

static void test_url_templates_match_methods_of_the_api(void **state) {
    if (!schema_msg("compute", "Network")) {
        print_message("note: no schema data loaded; skipping\n");
        return;
    }
    int checked = 0;
    for (const rtype_t *const *tp = gcp_provider.types; *tp; tp++) {
        const gcp_type_t *T = (*tp)->data;
        if (!T->self) continue;
        char *self = sample_url(T->self), *coll = T->collection ? sample_url(T->collection) : NULL;
        if (!self) fail_msg("%s: cannot fill %s", (*tp)->name, T->self);
        size_t nm = 0;
        if (!schema_methods(T->api, &nm) || !nm) {
            free(self);
            free(coll);
            continue;
        }
        const char *checks[][2] = {{"GET", self},
                                   {T->remove ? NULL : "DELETE", self},
                                   {T->create || T->create_style != GCP_CREATE_POST ? NULL : "POST", coll}};
        for (int k = 0; k < 3; k++) {
            if (!checks[k][0] || !checks[k][1]) continue;
            if (!schema_match(T->api, checks[k][0], checks[k][1]))
                fail_msg("%s: %s %s matches no %s method", (*tp)->name, checks[k][0], checks[k][1], T->api);
            checked++;
        }
        free(self);
        free(coll);
    }
    assert_true(checked > 30);
}

/* ---- natural IDs ---- */

static const struct {
    const char *type, *spec_name, *body, *id;
} id_cases[] = {
    {"gcp.compute_network", "main", "{}", "projects/p/global/networks/main"},
    {"gcp.compute_subnetwork", "main", "{\"network\":\"x\",\"ipCidrRange\":\"10.0.0.0/20\"}",
     "projects/p/regions/europe-west1/subnetworks/main"},
    {"gcp.compute_subnetwork", "main",
     "{\"region\":\"https://www.googleapis.com/compute/v1/projects/p/regions/us-east1\"}",
     "projects/p/regions/us-east1/subnetworks/main"},
    {"gcp.compute_firewall", "ssh", "{}", "projects/p/global/firewalls/ssh"},
    {"gcp.compute_router", "r", "{}", "projects/p/regions/europe-west1/routers/r"},
    {"gcp.compute_global_address", "psa", "{}", "projects/p/global/addresses/psa"},
    {"gcp.compute_instance", "vm", "{}", "projects/p/zones/europe-west1-b/instances/vm"},
    {"gcp.project_service", "x", "{\"service\":\"container.googleapis.com\"}",
     "projects/p/services/container.googleapis.com"},
    {"gcp.service_networking_connection", "c",
     "{\"network\":\"https://www.googleapis.com/compute/v1/projects/p/global/networks/"
     "vpc\",\"reservedPeeringRanges\":[\"r\"]}",
     "projects/p/global/networks/vpc:servicenetworking.googleapis.com"},
    {"gcp.container_cluster", "ml", "{}", "projects/p/locations/europe-west1/clusters/ml"},
    {"gcp.container_node_pool", "gpu", "{\"cluster\":\"projects/p/locations/europe-west1-b/clusters/ml\"}",
     "projects/p/locations/europe-west1-b/clusters/ml/nodePools/gpu"},
    {"gcp.sql_instance", "db", "{}", "projects/p/instances/db"},
    {"gcp.sql_database", "app", "{\"instance\":\"db\"}", "projects/p/instances/db/databases/app"},
    {"gcp.sql_user", "app", "{\"instance\":\"projects/p/instances/db\"}",
     "projects/p/instances/db/users/app"},
    {"gcp.storage_bucket", "b", "{\"name\":\"acme-b\"}", "projects/_/buckets/acme-b"},
    {"gcp.storage_bucket_iam_member", "m",
     "{\"bucket\":\"acme-b\",\"role\":\"roles/storage.objectViewer\",\"member\":\"user:a@x.com\"}",
     "b/acme-b roles/storage.objectViewer user:a@x.com"},
    {"gcp.service_account", "builder", "{}", "projects/p/serviceAccounts/builder@p.iam.gserviceaccount.com"},
    {"gcp.service_account_iam_member", "wi",
     "{\"service_account\":\"builder@q.iam.gserviceaccount.com\",\"role\":\"roles/iam.workloadIdentityUser\","
     "\"member\":\"serviceAccount:p.svc.id.goog[ns/ksa]\"}",
     "projects/q/serviceAccounts/builder@q.iam.gserviceaccount.com roles/iam.workloadIdentityUser "
     "serviceAccount:p.svc.id.goog[ns/ksa]"},
    {"gcp.project_iam_member", "v", "{\"role\":\"roles/viewer\",\"member\":\"group:g@x.com\"}",
     "p roles/viewer group:g@x.com"},
    {"gcp.project_iam_member", "v",
     "{\"role\":\"roles/viewer\",\"member\":\"group:g@x.com\",\"condition\":{\"title\":\"until "
     "2030\",\"expression\":\"e\"}}",
     "p roles/viewer group:g@x.com until 2030"},
    {"gcp.artifact_registry_repository", "images", "{\"format\":\"DOCKER\"}",
     "projects/p/locations/europe-west1/repositories/images"},
    {"gcp.secret", "db-pass", "{}", "projects/p/secrets/db-pass"},
    {"gcp.secret_version", "v", "{\"secret\":\"projects/123/secrets/db-pass\",\"secret_data\":\"x\"}",
     "projects/p/secrets/db-pass/versions/new"},
};

static void test_id_of_gives_the_relative_resource_name_for_every_type(void **state) {
    for (size_t i = 0; i < sizeof id_cases / sizeof *id_cases; i++) {
        const rtype_t *t = find(id_cases[i].type);
        perr_t e;
        perr_clear(&e);
        rctx_t c = mkctx(t, &fake_prov, &e);
        json_t *body = J(id_cases[i].body);
        t->defaults(t, &fake_prov, id_cases[i].spec_name, body);
        char *id = t->id_of(&c, body);
        if (!id || strcmp(id, id_cases[i].id) != 0)
            fail_msg("%s: id_of = %s (%s), want %s", id_cases[i].type, id ? id : "NULL", e.msg,
                     id_cases[i].id);
        free(id);
        json_decref(body);
    }
}

static void test_id_of_fails_clearly_when_a_placement_field_is_unresolved(void **state) {
    perr_t e;
    perr_clear(&e);
    const rtype_t *t = find("gcp.sql_database");
    rctx_t c = mkctx(t, &fake_prov, &e);
    json_t *body = J("{\"name\":\"app\",\"instance\":{\"$plinth\":\"ref\"}}");
    assert_null(t->id_of(&c, body));
    assert_non_null(strstr(e.msg, "instance"));
    json_decref(body);
}

static const struct {
    const char *type, *import, *id;
} import_cases[] = {
    {"gcp.compute_network", "main", "projects/p/global/networks/main"},
    {"gcp.compute_network", "other/main", "projects/other/global/networks/main"},
    {"gcp.compute_network", "projects/o/global/networks/n", "projects/o/global/networks/n"},
    {"gcp.compute_subnetwork", "us-east1/sub", "projects/p/regions/us-east1/subnetworks/sub"},
    {"gcp.compute_firewall", "q/ssh", "projects/q/global/firewalls/ssh"},
    {"gcp.compute_router", "europe-west4/r", "projects/p/regions/europe-west4/routers/r"},
    {"gcp.compute_global_address", "psa", "projects/p/global/addresses/psa"},
    {"gcp.compute_instance", "europe-west1-c/vm", "projects/p/zones/europe-west1-c/instances/vm"},
    {"gcp.project_service", "container.googleapis.com", "projects/p/services/container.googleapis.com"},
    {"gcp.project_service", "q/iam.googleapis.com", "projects/q/services/iam.googleapis.com"},
    {"gcp.service_networking_connection", "vpc:servicenetworking.googleapis.com",
     "projects/p/global/networks/vpc:servicenetworking.googleapis.com"},
    {"gcp.container_cluster", "europe-west1/ml", "projects/p/locations/europe-west1/clusters/ml"},
    {"gcp.container_cluster", "q/us-central1/ml", "projects/q/locations/us-central1/clusters/ml"},
    {"gcp.container_node_pool", "europe-west1/ml/gpu",
     "projects/p/locations/europe-west1/clusters/ml/nodePools/gpu"},
    {"gcp.sql_instance", "db", "projects/p/instances/db"},
    {"gcp.sql_database", "instances/db/databases/app", "projects/p/instances/db/databases/app"},
    {"gcp.sql_database", "db/app", "projects/p/instances/db/databases/app"},
    {"gcp.sql_user", "q/db/app", "projects/q/instances/db/users/app"},
    {"gcp.storage_bucket", "acme-b", "projects/_/buckets/acme-b"},
    {"gcp.storage_bucket", "p/acme-b", "projects/_/buckets/acme-b"},
    {"gcp.storage_bucket", "gs://acme-b", "projects/_/buckets/acme-b"},
    {"gcp.service_account", "builder@q.iam.gserviceaccount.com",
     "projects/q/serviceAccounts/builder@q.iam.gserviceaccount.com"},
    {"gcp.service_account", "builder", "projects/p/serviceAccounts/builder@p.iam.gserviceaccount.com"},
    {"gcp.artifact_registry_repository", "us/images", "projects/p/locations/us/repositories/images"},
    {"gcp.secret", "db-pass", "projects/p/secrets/db-pass"},
    {"gcp.secret_version", "db-pass/3", "projects/p/secrets/db-pass/versions/3"},
    {"gcp.secret_version", "projects/q/secrets/s/versions/1", "projects/q/secrets/s/versions/1"},
};

static void test_import_accepts_the_api_id_and_short_forms(void **state) {
    for (size_t i = 0; i < sizeof import_cases / sizeof *import_cases; i++) {
        const rtype_t *t = find(import_cases[i].type);
        perr_t e;
        perr_clear(&e);
        rctx_t c = mkctx(t, &fake_prov, &e);
        char *id = gcp_res_import_id(&c, import_cases[i].import);
        if (!id || strcmp(id, import_cases[i].id) != 0)
            fail_msg("%s: import %s -> %s (%s), want %s", import_cases[i].type, import_cases[i].import,
                     id ? id : "NULL", e.msg, import_cases[i].id);
        free(id);
    }
}

static void test_import_rejects_an_id_of_no_known_form_and_names_the_forms(void **state) {
    perr_t e;
    perr_clear(&e);
    rctx_t c = mkctx(find("gcp.compute_network"), &fake_prov, &e);
    assert_null(gcp_res_import_id(&c, "a/b/c/d"));
    assert_non_null(strstr(e.msg, "projects/{project}/global/networks/{name}"));
}

/* ---- normalization ---- */

static int compares_equal(const char *type, const char *live_text, const char *desired_text) {
    const rtype_t *t = find(type);
    json_t *live = J(live_text), *desired = J(desired_text);
    t->normalize(t, live, desired);
    int eq = jpath_each_leaf(desired, leaf_eq, live) == 0;
    json_decref(live);
    json_decref(desired);
    return eq;
}

static void test_normalize_matches_self_links_to_short_and_relative_names(void **state) {
    const char *live =
        "{\"network\":\"https://www.googleapis.com/compute/v1/projects/p/global/networks/main\","
        "\"region\":\"https://www.googleapis.com/compute/v1/projects/p/regions/europe-west1\"}";
    assert_true(
        compares_equal("gcp.compute_subnetwork", live, "{\"network\":\"projects/p/global/networks/main\"}"));
    assert_true(
        compares_equal("gcp.compute_subnetwork", live, "{\"network\":\"main\",\"region\":\"europe-west1\"}"));
    assert_true(compares_equal(
        "gcp.compute_subnetwork", live,
        "{\"network\":\"https://compute.googleapis.com/compute/v1/projects/p/global/networks/main\"}"));
    assert_false(compares_equal("gcp.compute_subnetwork", live, "{\"network\":\"other\"}"));
    assert_false(
        compares_equal("gcp.compute_subnetwork", live, "{\"network\":\"projects/q/global/networks/main\"}"));
    /* GKE answers with short names where the spec passed a self link. */
    assert_true(compares_equal(
        "gcp.container_cluster", "{\"network\":\"main\"}",
        "{\"network\":\"https://www.googleapis.com/compute/v1/projects/p/global/networks/main\"}"));
}

static void test_normalize_ignores_case_only_where_the_api_folds_case(void **state) {
    assert_true(compares_equal("gcp.storage_bucket", "{\"location\":\"EUROPE-WEST1\"}",
                               "{\"location\":\"europe-west1\"}"));
    assert_true(compares_equal("gcp.artifact_registry_repository", "{\"format\":\"DOCKER\"}",
                               "{\"format\":\"docker\"}"));
    assert_false(compares_equal("gcp.storage_bucket", "{\"name\":\"ABC\"}", "{\"name\":\"abc\"}"));
    assert_false(compares_equal("gcp.compute_network", "{\"description\":\"X\"}", "{\"description\":\"x\"}"));
}

static void test_normalize_treats_int64_strings_and_numbers_alike(void **state) {
    assert_true(compares_equal("gcp.compute_network", "{\"mtu\":\"1460\"}", "{\"mtu\":1460}"));
    assert_true(compares_equal("gcp.sql_instance", "{\"settings\":{\"dataDiskSizeGb\":20}}",
                               "{\"settings\":{\"dataDiskSizeGb\":\"20\"}}"));
    assert_false(compares_equal("gcp.compute_network", "{\"mtu\":\"1500\"}", "{\"mtu\":1460}"));
    assert_false(compares_equal("gcp.compute_network", "{\"mtu\":\"1460x\"}", "{\"mtu\":1460}"));
}

static void test_normalize_reorders_sets_the_api_reorders_but_not_lists(void **state) {
    assert_true(compares_equal(
        "gcp.compute_firewall",
        "{\"sourceRanges\":[\"192.168.0.0/16\",\"10.0.0.0/8\"],"
        "\"allowed\":[{\"IPProtocol\":\"udp\"},{\"IPProtocol\":\"TCP\",\"ports\":[\"80\",\"22\"]}]}",
        "{\"sourceRanges\":[\"10.0.0.0/8\",\"192.168.0.0/16\"],"
        "\"allowed\":[{\"IPProtocol\":\"tcp\",\"ports\":[\"22\",\"80\"]},{\"IPProtocol\":\"udp\"}]}"));
    assert_false(compares_equal("gcp.compute_firewall", "{\"sourceRanges\":[\"10.0.0.0/8\"]}",
                                "{\"sourceRanges\":[\"10.0.0.0/8\",\"192.168.0.0/16\"]}"));
    /* secondaryIpRanges is a set of objects keyed by content */
    assert_true(
        compares_equal("gcp.compute_subnetwork",
                       "{\"secondaryIpRanges\":[{\"rangeName\":\"svc\",\"ipCidrRange\":\"10.8.0.0/20\"},"
                       "{\"rangeName\":\"pods\",\"ipCidrRange\":\"10.4.0.0/14\"}]}",
                       "{\"secondaryIpRanges\":[{\"rangeName\":\"pods\",\"ipCidrRange\":\"10.4.0.0/14\"},"
                       "{\"rangeName\":\"svc\",\"ipCidrRange\":\"10.8.0.0/20\"}]}"));
    /* a list that is not a set keeps its order */
    assert_false(compares_equal("gcp.compute_network", "{\"x\":[\"b\",\"a\"]}", "{\"x\":[\"a\",\"b\"]}"));
}

static void test_sql_version_auto_advance_is_not_a_diff(void **state) {
    perr_t e;
    perr_clear(&e);
    const rtype_t *t = find("gcp.sql_instance");
    rctx_t c = mkctx(t, &fake_prov, &e);
    const gcp_type_t *T = t->data;
    json_t *live = J("{\"databaseVersion\":\"MYSQL_8_0_35\"}");
    json_t *desired = J("{\"databaseVersion\":\"MYSQL_8_0\"}");
    T->after_read(&c, desired, &live);
    assert_string_equal(json_string_value(json_object_get(live, "databaseVersion")), "MYSQL_8_0");
    json_decref(live);
    json_decref(desired);
}

/* ---- IAM policy editing ---- */

static int nmembers(const json_t *policy, size_t i) {
    return (int)json_array_size(
        json_object_get(json_array_get(json_object_get(policy, "bindings"), i), "members"));
}

static void test_iam_add_appends_to_the_existing_binding_case_insensitively(void **state) {
    json_t *p =
        J("{\"etag\":\"e1\",\"bindings\":[{\"role\":\"roles/viewer\",\"members\":[\"user:a@x.com\"]}]}");
    assert_int_equal(gcp_iam_add(p, "roles/viewer", NULL, "user:b@x.com"), 1);
    assert_int_equal(json_array_size(json_object_get(p, "bindings")), 1);
    assert_int_equal(nmembers(p, 0), 2);
    assert_int_equal(gcp_iam_add(p, "roles/viewer", NULL, "user:B@X.com"), 0);
    assert_true(gcp_iam_has(p, "roles/viewer", NULL, "user:A@x.com"));
    assert_string_equal(json_string_value(json_object_get(p, "etag")), "e1");
    json_decref(p);
}

static void test_iam_add_creates_a_binding_for_a_new_role(void **state) {
    json_t *p = J("{\"bindings\":[{\"role\":\"roles/viewer\",\"members\":[\"user:a@x.com\"]}]}");
    assert_int_equal(gcp_iam_add(p, "roles/editor", NULL, "user:a@x.com"), 1);
    assert_int_equal(json_array_size(json_object_get(p, "bindings")), 2);
    assert_int_equal(nmembers(p, 0), 1);
    json_decref(p);
    p = json_object(); /* a policy with no bindings at all */
    assert_int_equal(gcp_iam_add(p, "roles/viewer", NULL, "group:g@x.com"), 1);
    assert_true(gcp_iam_has(p, "roles/viewer", NULL, "group:g@x.com"));
    json_decref(p);
}

static void test_iam_remove_drops_only_our_member_and_keeps_other_bindings(void **state) {
    json_t *p =
        J("{\"bindings\":[{\"role\":\"roles/viewer\",\"members\":[\"user:a@x.com\",\"user:b@x.com\"]},"
          "{\"role\":\"roles/editor\",\"members\":[\"user:b@x.com\"]}]}");
    assert_int_equal(gcp_iam_remove(p, "roles/viewer", NULL, "user:B@x.com"), 1);
    assert_true(gcp_iam_has(p, "roles/viewer", NULL, "user:a@x.com"));
    assert_false(gcp_iam_has(p, "roles/viewer", NULL, "user:b@x.com"));
    assert_true(gcp_iam_has(p, "roles/editor", NULL, "user:b@x.com"));
    assert_int_equal(gcp_iam_remove(p, "roles/viewer", NULL, "user:a@x.com"), 1);
    assert_int_equal(json_array_size(json_object_get(p, "bindings")), 1); /* empty binding dropped */
    assert_int_equal(gcp_iam_remove(p, "roles/viewer", NULL, "user:a@x.com"), 0);
    json_decref(p);
}

static void test_iam_conditions_key_bindings_separately(void **state) {
    json_t *cond = J("{\"title\":\"t\",\"expression\":\"request.time < timestamp('2030-01-01T00:00:00Z')\"}");
    json_t *p = J("{\"bindings\":[{\"role\":\"roles/viewer\",\"members\":[\"user:a@x.com\"],"
                  "\"condition\":{\"title\":\"t\",\"expression\":\"request.time < "
                  "timestamp('2030-01-01T00:00:00Z')\"}}]}");
    assert_false(gcp_iam_has(p, "roles/viewer", NULL, "user:a@x.com"));
    assert_true(gcp_iam_has(p, "roles/viewer", cond, "user:a@x.com"));
    json_t *title_only = J("{\"title\":\"t\"}");
    assert_true(gcp_iam_has(p, "roles/viewer", title_only, "user:a@x.com"));
    /* unconditional grant of the same role is a separate binding */
    assert_int_equal(gcp_iam_add(p, "roles/viewer", NULL, "user:a@x.com"), 1);
    assert_int_equal(json_array_size(json_object_get(p, "bindings")), 2);
    /* a conditional grant makes the policy version 3 */
    assert_int_equal(gcp_iam_add(p, "roles/viewer", cond, "user:b@x.com"), 1);
    assert_int_equal(json_integer_value(json_object_get(p, "version")), 3);
    assert_int_equal(nmembers(p, 0), 2);
    /* removing the conditional member leaves the unconditional one */
    assert_int_equal(gcp_iam_remove(p, "roles/viewer", cond, "user:a@x.com"), 1);
    assert_true(gcp_iam_has(p, "roles/viewer", NULL, "user:a@x.com"));
    assert_false(gcp_iam_has(p, "roles/viewer", cond, "user:a@x.com"));
    json_decref(title_only);
    json_decref(cond);
    json_decref(p);
}

static void test_iam_add_merges_duplicate_bindings(void **state) {
    json_t *p = J("{\"bindings\":[{\"role\":\"roles/viewer\",\"members\":[\"user:a@x.com\"]},"
                  "{\"role\":\"roles/viewer\",\"members\":[\"user:b@x.com\",\"user:a@x.com\"]}]}");
    assert_int_equal(gcp_iam_add(p, "roles/viewer", NULL, "user:c@x.com"), 1);
    assert_int_equal(json_array_size(json_object_get(p, "bindings")), 1);
    assert_int_equal(nmembers(p, 0), 3);
    json_decref(p);
}

int main(void) {
    const struct CMUnitTest pure[] = {
        cmocka_unit_test(test_every_type_has_the_callbacks_the_engine_needs),
        cmocka_unit_test(test_immutable_and_required_fields_exist_in_the_schema),
        cmocka_unit_test(test_url_templates_match_methods_of_the_api),
        cmocka_unit_test(test_id_of_gives_the_relative_resource_name_for_every_type),
        cmocka_unit_test(test_id_of_fails_clearly_when_a_placement_field_is_unresolved),
        cmocka_unit_test(test_import_accepts_the_api_id_and_short_forms),
        cmocka_unit_test(test_import_rejects_an_id_of_no_known_form_and_names_the_forms),
        cmocka_unit_test(test_normalize_matches_self_links_to_short_and_relative_names),
        cmocka_unit_test(test_normalize_ignores_case_only_where_the_api_folds_case),
        cmocka_unit_test(test_normalize_treats_int64_strings_and_numbers_alike),
        cmocka_unit_test(test_normalize_reorders_sets_the_api_reorders_but_not_lists),
        cmocka_unit_test(test_sql_version_auto_advance_is_not_a_diff),
        cmocka_unit_test(test_iam_add_appends_to_the_existing_binding_case_insensitively),
        cmocka_unit_test(test_iam_add_creates_a_binding_for_a_new_role),
        cmocka_unit_test(test_iam_remove_drops_only_our_member_and_keeps_other_bindings),
        cmocka_unit_test(test_iam_conditions_key_bindings_separately),
        cmocka_unit_test(test_iam_add_merges_duplicate_bindings),
    };
    return cmocka_run_group_tests_name("gcp_types", pure, NULL, NULL);
}
