/* test_gcp_types.c: the GCP provider's resource types: the type tables,
 * natural IDs and import forms, normalization, IAM policy editing, and a
 * create/read/update/remove round trip through the rtype callbacks against
 * an in-process plinth-emulator. */
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

extern const provider_def_t gcp_provider;

static gcp_prov_t fake_prov = {.project = "p", .region = "europe-west1", .zone = "europe-west1-b"};

static rctx_t mkctx(const rtype_t *t, void *prov, perr_t *e) {
    rctx_t c;
    memset(&c, 0, sizeof c);
    c.type = t;
    c.addr = t ? t->name : "test";
    c.prov = prov;
    c.err = e;
    return c;
}

static const rtype_t *find(const char *name) {
    for (const rtype_t *const *t = gcp_provider.types; *t; t++)
        if (strcmp((*t)->name, name) == 0) return *t;
    fail_msg("no type %s", name);
    return NULL;
}

static json_t *J(const char *text) {
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) fail_msg("bad JSON in test: %s: %s", text, je.text);
    return v;
}

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

/* Every leaf desired sets equals live's value at the same path. */
static int leaf_eq(void *ud, const char *path, json_t *leaf) {
    json_t *l = jpath_get(ud, path);
    return l && json_equal(l, leaf) ? 0 : 1;
}

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

/* ---- against the emulator ---- */

typedef struct world {
    emu_t *emu;
    void *prov;
    int checkpoints;
} world_t;

static void on_checkpoint(void *ud, const char *addr, const json_t *data) {
    world_t *w = ud;
    if (json_object_get(data, "operation")) w->checkpoints++;
}

static int world_setup(void **state) {
    static world_t w;
    memset(&w, 0, sizeof w);
    setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "test-token", 1);
    emu_config_t cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.op_scale = 0.02;
    perr_t e;
    perr_clear(&e);
    w.emu = emu_new(&cfg, &e);
    if (!w.emu || emu_start(w.emu, &e) < 0) {
        /* The emulator is part of the build: not starting is a failure of
         * every test in the group, not a reason to skip them. */
        print_message("emulator did not start: %s\n", e.msg);
        if (w.emu) emu_free(w.emu);
        w.emu = NULL;
        return -1;
    }
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", emu_port(w.emu));
    json_t *cfgj = json_pack("{s:s,s:s}", "project", "types-proj", "region", "europe-west1");
    prov_env_t env = {.endpoint = url, .http_log = getenv("TEST_HTTP_LOG"), .parallelism = 4};
    w.prov = gcp_provider.open(cfgj, &env, &e);
    json_decref(cfgj);
    if (!w.prov) fail_msg("provider open: %s", e.msg);
    *state = &w;
    return 0;
}

static int world_teardown(void **state) {
    world_t *w = *state;
    if (w->prov) gcp_provider.close(w->prov);
    if (w->emu) {
        emu_stop(w->emu);
        emu_free(w->emu);
    }
    return 0;
}

static rctx_t wctx(world_t *w, const rtype_t *t, perr_t *e) {
    rctx_t c = mkctx(t, w->prov, e);
    c.checkpoint = on_checkpoint;
    c.ud = w;
    return c;
}

#define NEED_EMU(w)                                                                                          \
    do {                                                                                                     \
        assert_non_null((w)->emu);                                                                           \
    } while (0)

static void test_network_create_read_update_remove_against_the_emulator(void **state) {
    world_t *w = *state;
    NEED_EMU(w);
    const rtype_t *t = find("gcp.compute_network");
    perr_t e;
    perr_clear(&e);
    rctx_t c = wctx(w, t, &e);
    json_t *desired = J("{\"routingConfig\":{\"routingMode\":\"REGIONAL\"},\"mtu\":1460}");
    t->defaults(t, w->prov, "types-net", desired);
    char *id = NULL;
    json_t *live = NULL;
    if (t->create(&c, desired, &id, &live) < 0) fail_msg("create: %s", e.msg);
    assert_string_equal(id, "projects/types-proj/global/networks/types-net");
    assert_non_null(json_object_get(live, "selfLink"));
    assert_true(w->checkpoints >= 1); /* the operation was recorded before waiting */
    t->normalize(t, live, desired);
    assert_int_equal(jpath_each_leaf(desired, leaf_eq, live), 0);
    json_decref(live);

    /* creating it again is refused with the import hint */
    char *id2 = NULL;
    json_t *live2 = NULL;
    assert_int_equal(t->create(&c, desired, &id2, &live2), -1);
    assert_non_null(strstr(e.msg, "plinth import"));
    perr_clear(&e);

    /* update routing mode in place */
    json_object_set_new(json_object_get(desired, "routingConfig"), "routingMode", json_string("GLOBAL"));
    strlist_t changed = {0};
    strlist_add(&changed, "routingConfig.routingMode");
    json_t *cur = NULL;
    assert_int_equal(t->read(&c, id, desired, &cur), 0);
    assert_non_null(cur);
    json_t *nl = NULL;
    if (t->update(&c, id, desired, cur, &changed, &nl) < 0) fail_msg("update: %s", e.msg);
    assert_string_equal(json_string_value(jpath_get(nl, "routingConfig.routingMode")), "GLOBAL");
    strlist_free(&changed);
    json_decref(cur);
    json_decref(nl);

    /* batch read: one list call finds ours and reports the missing one */
    const char *ids[2] = {id, "projects/types-proj/global/networks/nope"};
    const json_t *ds[2] = {desired, NULL};
    json_t *lives[2] = {NULL, NULL};
    if (t->read_many(&c, 2, ids, ds, lives) < 0) fail_msg("read_many: %s", e.msg);
    assert_non_null(lives[0]);
    assert_null(lives[1]);
    json_decref(lives[0]);

    /* import by short name */
    char *iid = NULL;
    json_t *il = NULL;
    if (t->import(&c, "types-net", &iid, &il) < 0) fail_msg("import: %s", e.msg);
    assert_string_equal(iid, id);
    free(iid);
    json_decref(il);

    if (t->remove(&c, id, NULL) < 0) fail_msg("remove: %s", e.msg);
    assert_int_equal(t->read(&c, id, desired, &cur), 0);
    assert_null(cur);
    assert_int_equal(t->remove(&c, id, NULL), 0); /* already gone */
    free(id);
    json_decref(desired);
}

static void test_bucket_and_member_grant_against_the_emulator(void **state) {
    world_t *w = *state;
    NEED_EMU(w);
    const rtype_t *t = find("gcp.storage_bucket");
    perr_t e;
    perr_clear(&e);
    rctx_t c = wctx(w, t, &e);
    json_t *desired =
        J("{\"name\":\"types-test-bkt\",\"location\":\"europe-west1\",\"labels\":{\"a\":\"1\"}}");
    t->defaults(t, w->prov, "b", desired);
    char *id = NULL;
    json_t *live = NULL;
    if (t->create(&c, desired, &id, &live) < 0) fail_msg("create: %s", e.msg);
    assert_string_equal(id, "projects/_/buckets/types-test-bkt");
    t->normalize(t, live, desired);
    assert_int_equal(jpath_each_leaf(desired, leaf_eq, live), 0);

    /* labels: replace a with b (a must really go away) */
    json_object_set_new(desired, "labels", json_pack("{s:s}", "b", "2"));
    strlist_t changed = {0};
    strlist_add(&changed, "labels.a");
    strlist_add(&changed, "labels.b");
    json_t *nl = NULL;
    if (t->update(&c, id, desired, live, &changed, &nl) < 0) fail_msg("update: %s", e.msg);
    assert_null(jpath_get(nl, "labels.a"));
    assert_string_equal(json_string_value(jpath_get(nl, "labels.b")), "2");
    strlist_free(&changed);
    json_decref(nl);
    json_decref(live);

    /* a member grant on it, leaving the bucket's other bindings alone */
    const rtype_t *mt = find("gcp.storage_bucket_iam_member");
    rctx_t mc = wctx(w, mt, &e);
    json_t *md = J("{\"bucket\":\"types-test-bkt\",\"role\":\"roles/"
                   "storage.objectViewer\",\"member\":\"user:Ann@example.com\"}");
    mt->defaults(mt, w->prov, "m", md);
    char *mid = NULL;
    json_t *ml = NULL;
    if (mt->create(&mc, md, &mid, &ml) < 0) fail_msg("grant: %s", e.msg);
    assert_string_equal(mid, "b/types-test-bkt roles/storage.objectViewer user:Ann@example.com");
    json_decref(ml);
    /* the spec now names another bucket: live must keep the real one so it diffs */
    json_t *moved = J("{\"bucket\":\"other-bkt\",\"role\":\"roles/"
                      "storage.objectViewer\",\"member\":\"user:ann@example.com\"}");
    assert_int_equal(mt->read(&mc, mid, moved, &ml), 0);
    assert_non_null(ml);
    assert_string_equal(json_string_value(json_object_get(ml, "bucket")), "types-test-bkt");
    assert_string_equal(json_string_value(json_object_get(ml, "member")), "user:ann@example.com");
    json_decref(ml);
    json_decref(moved);
    json_t *md2 = J("{\"bucket\":\"types-test-bkt\",\"role\":\"roles/"
                    "storage.objectViewer\",\"member\":\"user:bob@example.com\"}");
    char *mid2 = NULL;
    if (mt->create(&mc, md2, &mid2, &ml) < 0) fail_msg("grant 2: %s", e.msg);
    json_decref(ml);
    if (mt->remove(&mc, mid, NULL) < 0) fail_msg("revoke: %s", e.msg);
    assert_int_equal(mt->read(&mc, mid, md, &ml), 0);
    assert_null(ml);
    assert_int_equal(mt->read(&mc, mid2, md2, &ml), 0);
    assert_non_null(ml); /* the other member survived */
    json_decref(ml);
    assert_int_equal(mt->remove(&mc, mid2, NULL), 0);
    free(mid);
    free(mid2);
    json_decref(md);
    json_decref(md2);

    if (t->remove(&c, id, NULL) < 0) fail_msg("remove: %s", e.msg);
    json_t *cur = NULL;
    assert_int_equal(t->read(&c, id, desired, &cur), 0);
    assert_null(cur);
    free(id);
    json_decref(desired);
}

static void test_secret_and_version_against_the_emulator(void **state) {
    world_t *w = *state;
    NEED_EMU(w);
    const rtype_t *t = find("gcp.secret");
    perr_t e;
    perr_clear(&e);
    rctx_t c = wctx(w, t, &e);
    json_t *desired = J("{\"labels\":{\"env\":\"test\"}}");
    t->defaults(t, w->prov, "types-secret", desired);
    char *id = NULL;
    json_t *live = NULL;
    if (t->create(&c, desired, &id, &live) < 0) {
        fail_msg("create: %s", e.msg);
    }
    assert_string_equal(id, "projects/types-proj/secrets/types-secret");
    t->normalize(t, live, desired);
    assert_int_equal(jpath_each_leaf(desired, leaf_eq, live), 0);

    json_object_set_new(desired, "labels", json_pack("{s:s}", "env", "prod"));
    strlist_t changed = {0};
    strlist_add(&changed, "labels.env");
    json_t *nl = NULL;
    if (t->update(&c, id, desired, live, &changed, &nl) < 0) fail_msg("update: %s", e.msg);
    assert_string_equal(json_string_value(jpath_get(nl, "labels.env")), "prod");
    strlist_free(&changed);
    json_decref(nl);
    json_decref(live);

    const rtype_t *vt = find("gcp.secret_version");
    rctx_t vc = wctx(w, vt, &e);
    json_t *vd = json_pack("{s:s,s:s}", "secret", id, "secret_data", "hunter2");
    vt->defaults(vt, w->prov, "v", vd);
    char *vid = NULL;
    json_t *vl = NULL;
    if (vt->create(&vc, vd, &vid, &vl) < 0) fail_msg("addVersion: %s", e.msg);
    assert_string_equal(vid, "projects/types-proj/secrets/types-secret/versions/1");
    assert_null(json_object_get(vl, "secret_data"));
    assert_null(json_object_get(vl, "payload"));
    assert_true(json_is_true(json_object_get(vl, "enabled")));
    json_decref(vl);
    if (vt->remove(&vc, vid, NULL) < 0) fail_msg("destroy: %s", e.msg);
    assert_int_equal(vt->read(&vc, vid, vd, &vl), 0);
    assert_null(vl); /* DESTROYED counts as gone */
    free(vid);
    json_decref(vd);

    if (t->remove(&c, id, NULL) < 0) fail_msg("remove: %s", e.msg);
    json_t *cur = NULL;
    assert_int_equal(t->read(&c, id, desired, &cur), 0);
    assert_null(cur);
    free(id);
    json_decref(desired);
}

/* A whole platform's worth of types, in dependency order: each is
 * created, read back equal to its spec after normalize, and removed in
 * reverse order. */
static const struct {
    const char *type, *name, *body;
} platform[] = {
    {"gcp.project_service", "container", "{\"service\":\"container.googleapis.com\"}"},
    {"gcp.compute_network", "plat-net", "{}"},
    {"gcp.compute_subnetwork", "plat-sub",
     "{\"network\":\"plat-net\",\"ipCidrRange\":\"10.0.0.0/20\",\"privateIpGoogleAccess\":true,"
     "\"secondaryIpRanges\":[{\"rangeName\":\"pods\",\"ipCidrRange\":\"10.4.0.0/14\"},"
     "{\"rangeName\":\"svc\",\"ipCidrRange\":\"10.8.0.0/20\"}]}"},
    {"gcp.compute_firewall", "plat-ssh",
     "{\"network\":\"projects/types-proj/global/networks/plat-net\",\"sourceRanges\":[\"35.235.240.0/20\"],"
     "\"allowed\":[{\"IPProtocol\":\"tcp\",\"ports\":[\"22\"]}]}"},
    {"gcp.compute_router", "plat-router",
     "{\"network\":\"plat-net\",\"nats\":[{\"name\":\"nat\",\"natIpAllocateOption\":\"AUTO_ONLY\","
     "\"sourceSubnetworkIpRangesToNat\":\"ALL_SUBNETWORKS_ALL_IP_RANGES\"}]}"},
    {"gcp.compute_global_address", "plat-psa",
     "{\"purpose\":\"VPC_PEERING\",\"addressType\":\"INTERNAL\",\"prefixLength\":16,"
     "\"network\":\"projects/types-proj/global/networks/plat-net\"}"},
    {"gcp.service_networking_connection", "psa",
     "{\"network\":\"projects/types-proj/global/networks/"
     "plat-net\",\"reservedPeeringRanges\":[\"plat-psa\"]}"},
    {"gcp.container_cluster", "plat-gke",
     "{\"network\":\"projects/types-proj/global/networks/plat-net\","
     "\"subnetwork\":\"projects/types-proj/regions/europe-west1/subnetworks/"
     "plat-sub\",\"initialNodeCount\":1,"
     "\"releaseChannel\":{\"channel\":\"REGULAR\"},\"resourceLabels\":{\"env\":\"dev\"},"
     "\"workloadIdentityConfig\":{\"workloadPool\":\"types-proj.svc.id.goog\"},\"remove_default_node_pool\":"
     "true}"},
    {"gcp.container_node_pool", "gpu",
     "{\"cluster\":\"projects/types-proj/locations/europe-west1/clusters/plat-gke\",\"initialNodeCount\":0,"
     "\"autoscaling\":{\"enabled\":true,\"minNodeCount\":0,\"maxNodeCount\":2},"
     "\"config\":{\"machineType\":\"g2-standard-8\",\"labels\":{\"pool\":\"gpu\"}}}"},
    {"gcp.compute_instance", "plat-vm",
     "{\"zone\":\"europe-west1-b\",\"machineType\":\"e2-medium\",\"labels\":{\"role\":\"bastion\"},"
     "\"disks\":[{\"boot\":true,\"autoDelete\":true,\"initializeParams\":{\"sourceImage\":"
     "\"projects/debian-cloud/global/images/family/debian-12\"}}],"
     "\"networkInterfaces\":[{\"network\":\"plat-net\",\"subnetwork\":\"plat-sub\"}],"
     "\"metadata\":{\"items\":[{\"key\":\"enable-oslogin\",\"value\":\"TRUE\"}]}}"},
    {"gcp.sql_instance", "plat-db",
     "{\"databaseVersion\":\"POSTGRES_16\",\"settings\":{\"tier\":\"db-custom-2-7680\",\"dataDiskSizeGb\":"
     "\"20\","
     "\"userLabels\":{\"env\":\"dev\"}}}"},
    {"gcp.sql_database", "mlflow", "{\"instance\":\"plat-db\"}"},
    {"gcp.sql_user", "mlflow", "{\"instance\":\"plat-db\",\"password\":\"s3cret-pw-123\"}"},
    {"gcp.storage_bucket", "art", "{\"name\":\"types-plat-artifacts\",\"location\":\"EU\"}"},
    {"gcp.service_account", "mlflow-sa", "{\"displayName\":\"MLflow\"}"},
    {"gcp.service_account_iam_member", "wi",
     "{\"service_account\":\"mlflow-sa@types-proj.iam.gserviceaccount.com\",\"role\":\"roles/"
     "iam.workloadIdentityUser\","
     "\"member\":\"serviceAccount:types-proj.svc.id.goog[mlflow/mlflow]\"}"},
    {"gcp.project_iam_member", "sql-client",
     "{\"role\":\"roles/"
     "cloudsql.client\",\"member\":\"serviceAccount:mlflow-sa@types-proj.iam.gserviceaccount.com\"}"},
    {"gcp.artifact_registry_repository", "images", "{\"format\":\"docker\",\"description\":\"images\"}"},
};

static void test_platform_types_round_trip_against_the_emulator(void **state) {
    world_t *w = *state;
    NEED_EMU(w);
    size_t n = sizeof platform / sizeof *platform;
    char *ids[sizeof platform / sizeof *platform] = {0};
    json_t *bodies[sizeof platform / sizeof *platform] = {0};
    for (size_t i = 0; i < n; i++) {
        const rtype_t *t = find(platform[i].type);
        perr_t e;
        perr_clear(&e);
        rctx_t c = wctx(w, t, &e);
        json_t *d = J(platform[i].body);
        t->defaults(t, w->prov, platform[i].name, d);
        bodies[i] = d;
        json_t *live = NULL;
        if (t->create(&c, d, &ids[i], &live) < 0)
            fail_msg("%s.%s create: %s", platform[i].type, platform[i].name, e.msg);
        json_t *again = NULL;
        if (strcmp(platform[i].type, "gcp.container_cluster") == 0) {
            json_t *pool = NULL;
            char *pid = xasprintf("%s/nodePools/default-pool", ids[i]);
            rctx_t pc = wctx(w, find("gcp.container_node_pool"), &e);
            assert_int_equal(pc.type->read(&pc, pid, NULL, &pool), 0);
            if (pool) fail_msg("default-pool was not removed");
            free(pid);
        }
        if (t->read(&c, ids[i], d, &again) < 0 || !again)
            fail_msg("%s read after create: %s", platform[i].type, e.msg);
        t->normalize(t, again, d);
        json_t *cmp = json_deep_copy(d); /* sensitive values are write-only: never in live */
        for (const char *const *sp = t->sensitive; sp && *sp; sp++) {
            jpath_del(cmp, *sp);
            if (jpath_get(again, *sp)) fail_msg("%s: live holds sensitive %s", platform[i].type, *sp);
        }
        char *want = jpath_canonical(cmp), *got = jpath_canonical(again);
        if (jpath_each_leaf(cmp, leaf_eq, again) != 0)
            fail_msg("%s: live does not match spec after normalize\nspec: %s\nlive: %s", platform[i].type,
                     want, got);
        free(want);
        free(got);
        json_decref(cmp);
        json_decref(again);
        json_decref(live);
    }
    for (size_t i = n; i-- > 0;) {
        const rtype_t *t = find(platform[i].type);
        perr_t e;
        perr_clear(&e);
        rctx_t c = wctx(w, t, &e);
        json_t *live = NULL;
        if (t->read(&c, ids[i], bodies[i], &live) < 0) fail_msg("%s read: %s", platform[i].type, e.msg);
        int conn = strcmp(platform[i].type, "gcp.service_networking_connection") == 0;
        if (t->remove(&c, ids[i], live) < 0) {
            /* The real API deletes with POST .../connections/{c} (no verb). */
            if (conn && strstr(e.msg, "404")) {
                print_message("note: emulator does not serve deleteConnection at the API's path: %s\n",
                              e.msg);
                json_decref(live);
                free(ids[i]);
                json_decref(bodies[i]);
                continue;
            }
            fail_msg("%s remove: %s", platform[i].type, e.msg);
        }
        json_decref(live);
        live = NULL;
        if (strcmp(platform[i].type, "gcp.project_service") != 0) {
            if (t->read(&c, ids[i], bodies[i], &live) < 0)
                fail_msg("%s read after remove: %s", platform[i].type, e.msg);
            if (live) fail_msg("%s still exists after remove", platform[i].type);
        }
        free(ids[i]);
        json_decref(bodies[i]);
    }
}

/* Creates a resource, then changes it in place with the update verb its
 * API wants; live must match the new spec after normalize. */
static const struct {
    const char *type, *name, *before, *after, *changed; /* changed: comma-separated paths */
} updates[] = {
    {"gcp.compute_network", "upd-net", "{\"routingConfig\":{\"routingMode\":\"REGIONAL\"}}",
     "{\"routingConfig\":{\"routingMode\":\"GLOBAL\"}}", "routingConfig.routingMode"},
    {"gcp.compute_subnetwork", "upd-sub", "{\"network\":\"upd-net\",\"ipCidrRange\":\"10.0.0.0/20\"}",
     "{\"network\":\"upd-net\",\"ipCidrRange\":\"10.0.0.0/19\",\"privateIpGoogleAccess\":true,"
     "\"secondaryIpRanges\":[{\"rangeName\":\"pods\",\"ipCidrRange\":\"10.4.0.0/14\"}]}",
     "ipCidrRange,privateIpGoogleAccess,secondaryIpRanges"},
    {"gcp.compute_firewall", "upd-fw",
     "{\"network\":\"upd-net\",\"sourceRanges\":[\"10.0.0.0/"
     "8\"],\"allowed\":[{\"IPProtocol\":\"tcp\",\"ports\":[\"22\"]}]}",
     "{\"network\":\"upd-net\",\"sourceRanges\":[\"10.0.0.0/8\",\"192.168.0.0/16\"],"
     "\"allowed\":[{\"IPProtocol\":\"tcp\",\"ports\":[\"22\",\"443\"]}]}",
     "sourceRanges,allowed.0.ports"},
    {"gcp.compute_router", "upd-router", "{\"network\":\"upd-net\"}",
     "{\"network\":\"upd-net\",\"nats\":[{\"name\":\"nat\",\"natIpAllocateOption\":\"AUTO_ONLY\","
     "\"sourceSubnetworkIpRangesToNat\":\"ALL_SUBNETWORKS_ALL_IP_RANGES\"}]}",
     "nats"},
    {"gcp.compute_global_address", "upd-psa",
     "{\"purpose\":\"VPC_PEERING\",\"addressType\":\"INTERNAL\",\"prefixLength\":16,\"network\":\"upd-net\"}",
     "{\"purpose\":\"VPC_PEERING\",\"addressType\":\"INTERNAL\",\"prefixLength\":16,\"network\":\"upd-net\","
     "\"labels\":{\"team\":\"ml\"}}",
     "labels.team"},
    {"gcp.container_cluster", "upd-gke", "{\"initialNodeCount\":1,\"resourceLabels\":{\"env\":\"dev\"}}",
     "{\"initialNodeCount\":1,\"resourceLabels\":{\"env\":\"prod\"},\"releaseChannel\":{\"channel\":"
     "\"STABLE\"},"
     "\"workloadIdentityConfig\":{\"workloadPool\":\"types-proj.svc.id.goog\"}}",
     "resourceLabels.env,releaseChannel.channel,workloadIdentityConfig.workloadPool"},
    {"gcp.container_node_pool", "upd-pool",
     "{\"cluster\":\"projects/types-proj/locations/europe-west1/clusters/upd-gke\",\"initialNodeCount\":1,"
     "\"config\":{\"labels\":{\"a\":\"1\"}}}",
     "{\"cluster\":\"projects/types-proj/locations/europe-west1/clusters/upd-gke\",\"initialNodeCount\":1,"
     "\"config\":{\"labels\":{\"a\":\"2\"}},\"autoscaling\":{\"enabled\":true,\"minNodeCount\":1,"
     "\"maxNodeCount\":3},"
     "\"management\":{\"autoRepair\":true,\"autoUpgrade\":true}}",
     "config.labels.a,autoscaling,management"},
    {"gcp.compute_instance", "upd-vm",
     "{\"zone\":\"europe-west1-b\",\"machineType\":\"e2-medium\",\"disks\":[{\"boot\":true,"
     "\"initializeParams\":"
     "{\"sourceImage\":\"projects/debian-cloud/global/images/family/debian-12\"}}],"
     "\"networkInterfaces\":[{\"network\":\"upd-net\"}]}",
     "{\"zone\":\"europe-west1-b\",\"machineType\":\"e2-medium\",\"disks\":[{\"boot\":true,"
     "\"initializeParams\":"
     "{\"sourceImage\":\"projects/debian-cloud/global/images/family/debian-12\"}}],"
     "\"networkInterfaces\":[{\"network\":\"upd-net\"}],"
     "\"metadata\":{\"items\":[{\"key\":\"startup-script\",\"value\":\"echo hi\"}]}}",
     "metadata.items"},
    {"gcp.sql_instance", "upd-db",
     "{\"databaseVersion\":\"POSTGRES_16\",\"settings\":{\"tier\":\"db-f1-micro\"}}",
     "{\"databaseVersion\":\"POSTGRES_16\",\"settings\":{\"tier\":\"db-custom-2-7680\",\"userLabels\":{\"x\":"
     "\"y\"}}}",
     "settings.tier,settings.userLabels.x"},
    {"gcp.sql_user", "upd-user", "{\"instance\":\"upd-db\",\"password\":\"first-password-1\"}",
     "{\"instance\":\"upd-db\",\"password\":\"second-password-2\"}", "password"},
    {"gcp.service_account", "upd-sa", "{\"displayName\":\"one\"}",
     "{\"displayName\":\"two\",\"description\":\"d\"}", "displayName,description"},
    {"gcp.artifact_registry_repository", "upd-repo", "{\"format\":\"DOCKER\"}",
     "{\"format\":\"DOCKER\",\"description\":\"new\",\"labels\":{\"a\":\"b\"}}", "description,labels.a"},
};

static void test_in_place_updates_use_each_apis_verbs_against_the_emulator(void **state) {
    world_t *w = *state;
    NEED_EMU(w);
    size_t n = sizeof updates / sizeof *updates;
    char *ids[sizeof updates / sizeof *updates] = {0};
    for (size_t i = 0; i < n; i++) {
        const rtype_t *t = find(updates[i].type);
        perr_t e;
        perr_clear(&e);
        rctx_t c = wctx(w, t, &e);
        json_t *d = J(updates[i].before), *live = NULL;
        t->defaults(t, w->prov, updates[i].name, d);
        if (t->create(&c, d, &ids[i], &live) < 0) fail_msg("%s create: %s", updates[i].type, e.msg);
        json_decref(d);
        d = J(updates[i].after);
        t->defaults(t, w->prov, updates[i].name, d);
        strlist_t changed = {0};
        char *list = xstrdup(updates[i].changed), *save = NULL;
        for (char *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
            if (rtype_path_in(t->immutable, p)) fail_msg("%s: %s is immutable", updates[i].type, p);
            strlist_add(&changed, p);
        }
        free(list);
        json_t *nl = NULL;
        if (t->update(&c, ids[i], d, live, &changed, &nl) < 0)
            fail_msg("%s update: %s", updates[i].type, e.msg);
        json_t *again = NULL;
        if (t->read(&c, ids[i], d, &again) < 0 || !again) fail_msg("%s read: %s", updates[i].type, e.msg);
        t->normalize(t, again, d);
        for (const char *const *sp = t->sensitive; sp && *sp; sp++)
            jpath_del(d, *sp);
        if (jpath_each_leaf(d, leaf_eq, again) != 0) {
            char *want = jpath_canonical(d), *got = jpath_canonical(again);
            fail_msg("%s: not updated\nspec: %s\nlive: %s", updates[i].type, want, got);
        }
        strlist_free(&changed);
        json_decref(again);
        json_decref(nl);
        json_decref(live);
        json_decref(d);
    }
    for (size_t i = n; i-- > 0;) {
        const rtype_t *t = find(updates[i].type);
        perr_t e;
        perr_clear(&e);
        rctx_t c = wctx(w, t, &e);
        json_t *live = NULL;
        assert_int_equal(t->read(&c, ids[i], NULL, &live), 0);
        if (t->remove(&c, ids[i], live) < 0) fail_msg("%s remove: %s", updates[i].type, e.msg);
        json_decref(live);
        free(ids[i]);
    }
}

typedef struct capture {
    world_t *w;
    json_t *data;
} capture_t;

static void capture_checkpoint(void *ud, const char *addr, const json_t *data) {
    capture_t *cap = ud;
    json_decref(cap->data);
    cap->data = json_deep_copy(data);
}

static void test_create_resumes_a_checkpointed_operation_instead_of_posting_again(void **state) {
    world_t *w = *state;
    NEED_EMU(w);
    const rtype_t *t = find("gcp.compute_network");
    perr_t e;
    perr_clear(&e);
    capture_t cap = {w, NULL};
    rctx_t c = mkctx(t, w->prov, &e);
    c.checkpoint = capture_checkpoint;
    c.ud = &cap;
    json_t *d = J("{}");
    t->defaults(t, w->prov, "resume-net", d);
    char *id = NULL;
    json_t *live = NULL;
    if (t->create(&c, d, &id, &live) < 0) fail_msg("create: %s", e.msg);
    assert_non_null(cap.data);
    assert_string_equal(json_string_value(json_object_get(cap.data, "api")), "compute");
    json_decref(live);
    free(id);
    /* The "interrupted" apply runs again with the checkpoint: no 409. */
    long before = gcp_request_count(((gcp_prov_t *)w->prov)->client);
    c.resume = cap.data;
    if (t->create(&c, d, &id, &live) < 0) fail_msg("resumed create: %s", e.msg);
    assert_string_equal(id, "projects/types-proj/global/networks/resume-net");
    assert_non_null(live);
    long calls = gcp_request_count(((gcp_prov_t *)w->prov)->client) - before;
    assert_true(calls <= 3); /* op poll + GET, no POST */
    c.resume = NULL;
    assert_int_equal(t->remove(&c, id, live), 0);
    json_decref(live);
    free(id);
    json_decref(d);
    json_decref(cap.data);
}

typedef struct pool_job {
    world_t *w;
    const char *name;
    int rc;
    char msg[512];
} pool_job_t;

static void *create_pool(void *arg) {
    pool_job_t *j = arg;
    const rtype_t *t = find("gcp.container_node_pool");
    perr_t e;
    perr_clear(&e);
    rctx_t c = mkctx(t, j->w->prov, &e);
    json_t *d = J("{\"cluster\":\"projects/types-proj/locations/europe-west1/clusters/"
                  "busy-gke\",\"initialNodeCount\":1}");
    t->defaults(t, j->w->prov, j->name, d);
    char *id = NULL;
    json_t *live = NULL;
    j->rc = t->create(&c, d, &id, &live);
    snprintf(j->msg, sizeof j->msg, "%s", e.msg);
    free(id);
    json_decref(live);
    json_decref(d);
    return NULL;
}

static void test_concurrent_node_pool_creates_wait_out_the_cluster_lock(void **state) {
    world_t *w = *state;
    NEED_EMU(w);
    const rtype_t *ct = find("gcp.container_cluster");
    perr_t e;
    perr_clear(&e);
    rctx_t c = mkctx(ct, w->prov, &e);
    json_t *d = J("{\"initialNodeCount\":1}");
    ct->defaults(ct, w->prov, "busy-gke", d);
    char *id = NULL;
    json_t *live = NULL;
    if (ct->create(&c, d, &id, &live) < 0) fail_msg("cluster: %s", e.msg);
    pool_job_t jobs[3] = {{w, "p1", 0, ""}, {w, "p2", 0, ""}, {w, "p3", 0, ""}};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, create_pool, &jobs[i]);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 3; i++)
        if (jobs[i].rc != 0) fail_msg("node pool %s: %s", jobs[i].name, jobs[i].msg);
    if (ct->remove(&c, id, live) < 0) fail_msg("cluster remove: %s", e.msg);
    free(id);
    json_decref(live);
    json_decref(d);
}

typedef struct create_job {
    world_t *w;
    const char *type, *name, *body;
    int rc;
    char msg[512];
} create_job_t;

static void *create_any(void *arg) {
    create_job_t *j = arg;
    const rtype_t *t = find(j->type);
    perr_t e;
    perr_clear(&e);
    rctx_t c = mkctx(t, j->w->prov, &e);
    json_t *d = J(j->body);
    t->defaults(t, j->w->prov, j->name, d);
    char *id = NULL;
    json_t *live = NULL;
    j->rc = t->create(&c, d, &id, &live);
    snprintf(j->msg, sizeof j->msg, "%s", e.msg);
    free(id);
    json_decref(live);
    json_decref(d);
    return NULL;
}

static void test_concurrent_sql_children_wait_out_the_instance_lock(void **state) {
    world_t *w = *state;
    NEED_EMU(w);
    create_job_t inst = {
        w,         "gcp.sql_instance",
        "busy-db", "{\"databaseVersion\":\"POSTGRES_16\",\"settings\":{\"tier\":\"db-f1-micro\"}}",
        0,         ""};
    create_any(&inst);
    if (inst.rc) fail_msg("instance: %s", inst.msg);
    create_job_t jobs[4] = {
        {w, "gcp.sql_database", "a", "{\"instance\":\"busy-db\"}", 0, ""},
        {w, "gcp.sql_database", "b", "{\"instance\":\"busy-db\"}", 0, ""},
        {w, "gcp.sql_user", "u1", "{\"instance\":\"busy-db\",\"password\":\"pw-one-1234\"}", 0, ""},
        {w, "gcp.sql_user", "u2", "{\"instance\":\"busy-db\",\"password\":\"pw-two-1234\"}", 0, ""},
    };
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, create_any, &jobs[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++)
        if (jobs[i].rc != 0) fail_msg("%s %s: %s", jobs[i].type, jobs[i].name, jobs[i].msg);
    perr_t e;
    perr_clear(&e);
    rctx_t c = mkctx(find("gcp.sql_instance"), w->prov, &e);
    assert_int_equal(c.type->remove(&c, "projects/types-proj/instances/busy-db", NULL), 0);
}

static void test_protected_resources_refuse_removal_with_a_way_out(void **state) {
    world_t *w = *state;
    NEED_EMU(w);
    const rtype_t *t = find("gcp.sql_instance");
    perr_t e;
    perr_clear(&e);
    rctx_t c = mkctx(t, w->prov, &e);
    json_t *live = J("{\"settings\":{\"deletionProtectionEnabled\":true}}");
    assert_int_equal(t->remove(&c, "projects/types-proj/instances/x", live), -1);
    assert_non_null(strstr(e.msg, "deletionProtectionEnabled = false"));
    json_decref(live);
    t = find("gcp.container_cluster");
    c = mkctx(t, w->prov, &e);
    live = J("{\"deletion_protection\":true}");
    assert_int_equal(t->remove(&c, "projects/types-proj/locations/europe-west1/clusters/x", live), -1);
    assert_non_null(strstr(e.msg, "deletion_protection = false"));
    json_decref(live);
    /* a non-empty bucket without force_destroy names both ways out */
    t = find("gcp.storage_bucket");
    c = mkctx(t, w->prov, &e);
    perr_clear(&e);
    json_t *d = J("{\"name\":\"types-full-bkt\",\"location\":\"EU\"}");
    t->defaults(t, w->prov, "b", d);
    char *id = NULL;
    if (t->create(&c, d, &id, &live) < 0) fail_msg("bucket: %s", e.msg);
    gcp_resp_t r = {0};
    if (gcp_call_raw(((gcp_prov_t *)w->prov)->client, "POST", "storage",
                     "upload/storage/v1/b/types-full-bkt/o?uploadType=media&name=a%2Fb.txt", "text/plain",
                     "hi", 2, NULL, &r, &e) < 0 ||
        r.status != 200)
        fail_msg("upload: %ld %s", r.status, e.msg);
    gcp_resp_free(&r);
    assert_int_equal(t->remove(&c, id, live), -1);
    assert_non_null(strstr(e.msg, "force_destroy"));
    json_object_set_new(live, "force_destroy", json_true());
    perr_clear(&e);
    if (t->remove(&c, id, live) < 0) fail_msg("force remove: %s", e.msg);
    free(id);
    json_decref(live);
    json_decref(d);
}

static void test_mysql_user_is_found_and_removed_without_a_spec(void **state) {
    world_t *w = *state;
    NEED_EMU(w);
    perr_t e;
    perr_clear(&e);
    const rtype_t *it = find("gcp.sql_instance"), *ut = find("gcp.sql_user");
    rctx_t ic = wctx(w, it, &e), uc = wctx(w, ut, &e);
    json_t *id_body = J("{\"databaseVersion\":\"MYSQL_8_0\",\"settings\":{\"tier\":\"db-n1-standard-1\"}}");
    it->defaults(it, w->prov, "my-db", id_body);
    char *iid = NULL, *uid = NULL;
    json_t *il = NULL, *ul = NULL;
    if (it->create(&ic, id_body, &iid, &il) < 0) fail_msg("instance: %s", e.msg);
    json_t *ud = J("{\"instance\":\"my-db\",\"host\":\"%\"}"); /* no password: one is generated */
    ut->defaults(ut, w->prov, "app", ud);
    if (ut->create(&uc, ud, &uid, &ul) < 0) fail_msg("user: %s", e.msg);
    assert_null(json_object_get(ul, "password"));
    json_decref(ul);
    /* destroy without a spec: read and remove from the ID alone */
    if (ut->read(&uc, uid, NULL, &ul) < 0 || !ul) fail_msg("read without spec: %s", e.msg);
    assert_string_equal(json_string_value(json_object_get(ul, "host")), "%");
    if (ut->remove(&uc, uid, ul) < 0) fail_msg("remove: %s", e.msg);
    json_decref(ul);
    assert_int_equal(ut->read(&uc, uid, NULL, &ul), 0);
    assert_null(ul);
    assert_int_equal(it->remove(&ic, iid, il), 0);
    /* a grant on a resource that is gone is gone too */
    const rtype_t *mt = find("gcp.storage_bucket_iam_member");
    rctx_t mc = wctx(w, mt, &e);
    assert_int_equal(mt->remove(&mc, "b/no-such-bucket roles/viewer user:a@x.com", NULL), 0);
    free(iid);
    free(uid);
    json_decref(il);
    json_decref(ud);
    json_decref(id_body);
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
    const struct CMUnitTest emu[] = {
        cmocka_unit_test(test_network_create_read_update_remove_against_the_emulator),
        cmocka_unit_test(test_bucket_and_member_grant_against_the_emulator),
        cmocka_unit_test(test_secret_and_version_against_the_emulator),
        cmocka_unit_test(test_platform_types_round_trip_against_the_emulator),
        cmocka_unit_test(test_in_place_updates_use_each_apis_verbs_against_the_emulator),
        cmocka_unit_test(test_create_resumes_a_checkpointed_operation_instead_of_posting_again),
        cmocka_unit_test(test_concurrent_node_pool_creates_wait_out_the_cluster_lock),
        cmocka_unit_test(test_concurrent_sql_children_wait_out_the_instance_lock),
        cmocka_unit_test(test_protected_resources_refuse_removal_with_a_way_out),
        cmocka_unit_test(test_mysql_user_is_found_and_removed_without_a_spec),
    };
    int rc = cmocka_run_group_tests_name("gcp_types", pure, NULL, NULL);
    rc += cmocka_run_group_tests_name("gcp_types_emulator", emu, world_setup, world_teardown);
    return rc;
}
