/* test_gcp_tables.c: the GCP types as data: the one type list
 * (gcp_types.h) against the registry, .ignore lists that hold only what
 * the schema does not already mark output only, the per-API traits table,
 * and the verbs tables naming real methods of their API. */
#include <pthread.h>
#include <setjmp.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/rtype.h"
#include "providers/gcp/gcp_api.h"
#include "providers/gcp/gcp_iam.h"
#include "providers/gcp/gcp_res.h"
#include "providers/gcp/schema.h"

extern const provider_def_t gcp_provider;

#define NAME_OF(n) "gcp." #n,
static const char *const listed[] = {GCP_TYPES(NAME_OF) NULL};
#define TABLE_OF(n) &gcp_##n,
static const rtype_t *const tables[] = {GCP_TYPES(TABLE_OF) NULL};

static void test_every_listed_type_is_registered_under_its_name_in_order(void **state) {
    size_t i = 0;
    for (const rtype_t *const *t = gcp_provider.types; *t; t++, i++) {
        assert_non_null(listed[i]);
        assert_string_equal((*t)->name, listed[i]);
        assert_ptr_equal(*t, tables[i]);
        assert_ptr_equal(rtype_find(listed[i]), *t);
    }
    assert_null(listed[i]);
}

static void test_ignore_lists_repeat_nothing_the_schema_marks_output_only(void **state) {
    int derived = 0;
    for (const rtype_t *const *tp = gcp_provider.types; *tp; tp++) {
        const rtype_t *t = *tp;
        for (const char *const *p = t->ignore; p && *p; p++)
            if (gcp_res_ignored(t, *p))
                fail_msg("%s: .ignore lists '%s', which the schema marks output only", t->name, *p);
        if (t->api && t->ignored) derived++;
    }
    assert_true(derived > 15);
}

static void test_output_only_paths_are_ignored_through_the_schema(void **state) {
    const rtype_t *net = rtype_find("gcp.compute_network");
    assert_true(net->ignored(net, "selfLink"));
    assert_true(net->ignored(net, "creationTimestamp"));
    assert_true(net->ignored(net, "peerings"));
    assert_true(net->ignored(net, "peerings.0.name")); /* below an output-only field */
    assert_false(net->ignored(net, "mtu"));
    assert_false(net->ignored(net, "name"));
    assert_false(net->ignored(net, "project")); /* plinth's own field */
    const rtype_t *gke = rtype_find("gcp.container_cluster");
    assert_true(gke->ignored(gke, "endpoint"));
    assert_false(gke->ignored(gke, "nodePools.0.selfLink")); /* nodePools is immutable: compared */
    const rtype_t *router = rtype_find("gcp.compute_router");
    assert_true(router->ignored(router, "bgpPeers.0.managementType")); /* through a repeated message */
    assert_false(router->ignored(router, "bgpPeers.0.name"));
    const rtype_t *sql = rtype_find("gcp.sql_instance");
    assert_false(sql->ignored(sql, "region")); /* immutable paths are always compared */
}

static void test_api_traits_say_operation_shape_busy_rule_and_paging(void **state) {
    assert_int_equal(gcp_api_traits("compute")->ops, GCP_OPS_COMPUTE);
    assert_int_equal(gcp_api_traits("container")->ops, GCP_OPS_CONTAINER);
    assert_int_equal(gcp_api_traits("sqladmin")->ops, GCP_OPS_SQL);
    assert_int_equal(gcp_api_traits("secretmanager")->ops, GCP_OPS_LRO);
    assert_int_equal(gcp_api_traits("no-such-api")->ops, GCP_OPS_LRO);
    assert_string_equal(gcp_api_traits("compute")->page_query, "maxResults=500");
    assert_null(gcp_api_traits("artifactregistry")->page_query);
    assert_true(gcp_api_traits("storage")->global_names);
    assert_string_equal(gcp_api_traits("run")->ops_prefix, "v2/"); /* Cloud Run v2 polls v2/{operation} */
    assert_null(gcp_api_traits("aiplatform")->ops_prefix);         /* the default: v1/ */
    assert_false(gcp_api_traits("compute")->global_names);
    gcp_resp_t busy = {.status = 409};
    snprintf(busy.error_reason, sizeof busy.error_reason, "operationInProgress");
    assert_true(gcp_api_traits("sqladmin")->busy(&busy));
    assert_null(gcp_api_traits("secretmanager")->busy);
    gcp_resp_t nr = {.status = 400};
    snprintf(nr.error_reason, sizeof nr.error_reason, "resourceNotReady");
    assert_true(gcp_api_traits("compute")->busy(&nr));
    assert_false(gcp_api_traits("compute")->busy(&busy));
}

/* Every verb is a method of the API at <self>/<verb>. */
static void test_update_verbs_are_methods_of_the_api(void **state) {
    int checked = 0;
    for (const rtype_t *const *tp = gcp_provider.types; *tp; tp++) {
        const gcp_type_t *T = (*tp)->data;
        for (const gcp_verb_t *v = T->verbs; v && v->path; v++) {
            json_t *vars =
                json_pack("{s:s,s:s,s:s,s:s}", "project", "p", "region", "r", "zone", "z", "name", "n");
            perr_t e;
            char *self = gcp_tmpl_fill(T->self, vars, &e);
            assert_non_null(self);
            char path[512];
            snprintf(path, sizeof path, "%s/%s", self, v->verb);
            if (!schema_match(T->api, "POST", path))
                fail_msg("%s: POST %s is no method of %s", (*tp)->name, path, T->api);
            free(self);
            json_decref(vars);
            checked++;
        }
    }
    assert_true(checked >= 5);
}

/* An IAM kind whose holder disappears between the policy read and the
 * write (the write answers 404). */
static char *gone_res(rctx_t *c, const char *v) {
    return xstrdup(v);
}
static int gone_get(rctx_t *c, const char *res, json_t **policy, gcp_resp_t *r) {
    *policy =
        json_pack("{s:[{s:s,s:[s]}]}", "bindings", "role", "roles/viewer", "members", "user:ann@example.com");
    return 0;
}
static int gone_set(rctx_t *c, const char *res, const json_t *policy, gcp_resp_t *r) {
    r->status = 404;
    perr_set(c->err, c->addr, "POST %s:setIamPolicy: 404 NOT_FOUND", res);
    return -1;
}
static int gone_set_calls;
static int gone_set_count(rctx_t *c, const char *res, const json_t *policy, gcp_resp_t *r) {
    gone_set_calls++;
    return gone_set(c, res, policy, r);
}

static void test_removing_a_grant_whose_holder_vanished_meanwhile_succeeds(void **state) {
    static const gcp_iam_kind_t kind = {"holder", gone_res, gone_get, gone_set};
    const gcp_type_t T = GCP_IAM_TYPE("x", &kind);
    const rtype_t t = {.name = "gcp.test_iam_member", .data = &T};
    gcp_prov_t P = {.project = "p", .emulated = 1};
    pthread_mutex_init(&P.iam_lock, NULL);
    perr_t e = {0};
    rctx_t c = {.type = &t, .addr = "gcp.test_iam_member.x", .prov = &P, .err = &e};
    assert_int_equal(gcp_iam_member_remove(&c, "h roles/viewer user:ann@example.com", NULL), 0);
    /* Adding it is still an error: the holder is gone. */
    static const gcp_iam_kind_t kind2 = {"holder", gone_res, gone_get, gone_set_count};
    const gcp_type_t T2 = GCP_IAM_TYPE("x", &kind2);
    const rtype_t t2 = {.name = "gcp.test_iam_member", .data = &T2};
    c.type = &t2;
    json_t *d =
        json_pack("{s:s,s:s,s:s}", "holder", "h", "role", "roles/editor", "member", "user:bob@example.com");
    char *id = NULL;
    json_t *live = NULL;
    assert_int_equal(gcp_iam_member_create(&c, d, &id, &live), -1);
    assert_int_equal(gone_set_calls, 1);
    assert_null(id);
    json_decref(d);
    pthread_mutex_destroy(&P.iam_lock);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_listed_type_is_registered_under_its_name_in_order),
        cmocka_unit_test(test_ignore_lists_repeat_nothing_the_schema_marks_output_only),
        cmocka_unit_test(test_output_only_paths_are_ignored_through_the_schema),
        cmocka_unit_test(test_api_traits_say_operation_shape_busy_rule_and_paging),
        cmocka_unit_test(test_update_verbs_are_methods_of_the_api),
        cmocka_unit_test(test_removing_a_grant_whose_holder_vanished_meanwhile_succeeds),
    };
    return cmocka_run_group_tests_name("gcp_tables", tests, NULL, NULL);
}
