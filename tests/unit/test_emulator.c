/* test_emulator.c: drives an in-process plinth-emulator over loopback HTTP
 * with libcurl: routing, error semantics (404/409/412/400), operations,
 * paging, preconditions under concurrency, persistence, auth, the HTTP log
 * and injected faults. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <pthread.h>

#include "emulator/emu.h"
#include "tests/support/emu.h"
#include "tests/support/http.h"

/* Strong references: apis.c refers to the APIs weakly, and a weak
 * reference alone would not pull them out of libemu.a; this test must fail
 * to link rather than silently serve nothing. */
extern const emu_api_t emu_api_compute, emu_api_serviceusage, emu_api_storage;

/* One request; curl may be a reused handle (NULL: a fresh one). */
static thttp_t req_with(CURL *c, const char *method, const char *url, const char *body, const char *ctype,
                        const char *auth) {
    return thttp_req(c, method, url, body, ctype, auth, 10L);
}

static thttp_t req(const char *method, const char *url, const char *body) {
    return req_with(NULL, method, url, body, NULL, NULL);
}

/* ---- fixture ----------------------------------------------------------------- */

typedef struct fx {
    emu_t *emu;
    char base[64];
    char dir[64];
    char log[96];
} fx_t;

static int setup(void **state) {
    fx_t *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/plinth-emu-test-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->log, sizeof f->log, "%s/http.log", f->dir);
    emu_config_t cfg = {.op_scale = 0.05, .data_dir = f->dir, .log_path = f->log};
    f->emu = temu_start(&cfg, f->base);
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    if (f->emu) emu_free(f->emu);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

static char *u(const fx_t *f, const char *path) {
    return xasprintf("%s%s", f->base, path);
}

/* Polls a compute/serviceusage op URL until done (or 5 s). */
static json_t *wait_op(const char *url, const char *done_field) {
    for (int i = 0; i < 250; i++) {
        thttp_t h = req("GET", url, NULL);
        const char *st = tjson_str(h.json, "status");
        json_t *done = json_object_get(h.json, "done");
        if ((st && !strcmp(st, "DONE")) || json_is_true(done)) {
            json_t *j = json_incref(h.json);
            thttp_free(&h);
            return j;
        }
        thttp_free(&h);
        usleep(20000);
    }
    (void)done_field;
    return NULL;
}

/* ---- tests ------------------------------------------------------------------- */

static void test_apis_are_linked_and_named(void **state) {
    assert_string_equal(emu_api_compute.name, "compute");
    assert_string_equal(emu_api_serviceusage.name, "serviceusage");
    assert_string_equal(emu_api_storage.name, "storage");
}

static void test_unknown_api_and_route_are_404_with_google_error_shape(void **state) {
    fx_t *f = *state;
    char *a = u(f, "/nosuchapi/v1/x"), *b = u(f, "/compute/compute/v1/projects/p/nothing");
    thttp_t h = req("GET", a, NULL);
    assert_int_equal(h.status, 404);
    assert_string_equal(tjson_str(h.json, "error.status"), "NOT_FOUND");
    assert_string_equal(tjson_str(h.json, "error.errors.0.reason"), "notFound");
    thttp_free(&h);
    h = req("GET", b, NULL);
    assert_int_equal(h.status, 404);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(h.json, "error"), "code")), 404);
    thttp_free(&h);
    free(a);
    free(b);
}

static void test_malformed_json_body_is_400_invalid_argument(void **state) {
    fx_t *f = *state;
    char *url = u(f, "/compute/compute/v1/projects/p/global/networks");
    thttp_t h = req("POST", url, "{\"name\": ");
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error.status"), "INVALID_ARGUMENT");
    thttp_free(&h);
    free(url);
}

static void test_unknown_field_is_400_naming_the_field(void **state) {
    fx_t *f = *state;
    char *url = u(f, "/compute/compute/v1/projects/p/global/networks");
    thttp_t h = req("POST", url, "{\"name\":\"n\",\"autoCreateSubnetworkz\":false}");
    assert_int_equal(h.status, 400);
    assert_non_null(strstr(tjson_str(h.json, "error.message"), "autoCreateSubnetworkz"));
    thttp_free(&h);
    free(url);
}

static void test_custom_verb_enable_then_noop_done_operation(void **state) {
    fx_t *f = *state;
    char *en = u(f, "/serviceusage/v1/projects/test-proj/services/container.googleapis.com:enable");
    char *get = u(f, "/serviceusage/v1/projects/test-proj/services/container.googleapis.com");
    thttp_t h = req("GET", get, NULL);
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "state"), "DISABLED");
    const char *num = emu_project_number(f->emu, "test-proj");
    char want[128];
    snprintf(want, sizeof want, "projects/%s/services/container.googleapis.com", num);
    assert_string_equal(tjson_str(h.json, "name"), want);
    thttp_free(&h);
    h = req("POST", en, "{}");
    assert_int_equal(h.status, 200);
    assert_false(json_is_true(json_object_get(h.json, "done")));
    char *opurl = xasprintf("%s/serviceusage/v1/%s", f->base, tjson_str(h.json, "name"));
    thttp_free(&h);
    json_t *op = wait_op(opurl, "done");
    assert_non_null(op);
    assert_string_equal(tjson_str(op, "response.service.state"), "ENABLED");
    json_decref(op);
    h = req("POST", en, "{}");
    assert_string_equal(tjson_str(h.json, "name"), "operations/noop.DONE_OPERATION");
    assert_true(json_is_true(json_object_get(h.json, "done")));
    thttp_free(&h);
    char *list = u(f, "/serviceusage/v1/projects/test-proj/services?filter=state:ENABLED");
    h = req("GET", list, NULL);
    assert_non_null(strstr(h.body, "compute.googleapis.com")); /* dependency enabled too */
    assert_null(strstr(h.body, "sqladmin.googleapis.com"));
    thttp_free(&h);
    free(list);
    free(opurl);
    free(en);
    free(get);
}

static void test_compute_insert_runs_then_done_and_duplicate_is_409(void **state) {
    fx_t *f = *state;
    char *url = u(f, "/compute/compute/v1/projects/p/global/networks");
    thttp_t h = req("POST", url, "{\"name\":\"net1\",\"autoCreateSubnetworks\":false}");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "kind"), "compute#operation");
    assert_string_equal(tjson_str(h.json, "status"), "RUNNING");
    char *opurl = xasprintf("%s/compute/compute/v1/projects/p/global/operations/%s", f->base,
                            tjson_str(h.json, "name"));
    thttp_free(&h);
    json_t *op = wait_op(opurl, "status");
    assert_non_null(op);
    assert_string_equal(tjson_str(op, "targetLink"),
                        "https://www.googleapis.com/compute/v1/projects/p/global/networks/net1");
    json_decref(op);
    char *get = u(f, "/compute/compute/v1/projects/p/global/networks/net1");
    h = req("GET", get, NULL);
    assert_int_equal(h.status, 200);
    assert_int_equal(json_integer_value(json_object_get(h.json, "mtu")), 1460);
    assert_string_equal(tjson_str(h.json, "routingConfig.routingMode"), "REGIONAL");
    assert_true(json_is_string(json_object_get(h.json, "id")));
    thttp_free(&h);
    h = req("POST", url, "{\"name\":\"net1\",\"autoCreateSubnetworks\":false}");
    assert_int_equal(h.status, 409);
    assert_string_equal(tjson_str(h.json, "error.errors.0.reason"), "alreadyExists");
    thttp_free(&h);
    char *missing = u(f, "/compute/compute/v1/projects/p/global/networks/nope");
    h = req("GET", missing, NULL);
    assert_int_equal(h.status, 404);
    thttp_free(&h);
    /* the wait verb completes the operation */
    char *wurl = xasprintf("%s/wait", opurl);
    h = req("POST", wurl, NULL);
    assert_string_equal(tjson_str(h.json, "status"), "DONE");
    thttp_free(&h);
    free(wurl);
    free(missing);
    free(get);
    free(opurl);
    free(url);
}

static void test_subnetwork_fingerprint_and_network_in_use(void **state) {
    fx_t *f = *state;
    char *nets = u(f, "/compute/compute/v1/projects/p/global/networks");
    char *subs = u(f, "/compute/compute/v1/projects/p/regions/europe-west1/subnetworks");
    char *sub = u(f, "/compute/compute/v1/projects/p/regions/europe-west1/subnetworks/s1");
    char *net = u(f, "/compute/compute/v1/projects/p/global/networks/n1");
    thttp_t h = req("POST", nets, "{\"name\":\"n1\",\"autoCreateSubnetworks\":false}");
    thttp_free(&h);
    h = req("POST", subs,
            "{\"name\":\"s1\",\"network\":\"global/networks/n1\",\"ipCidrRange\":\"10.0.0.0/20\"}");
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    h = req("GET", sub, NULL);
    assert_string_equal(tjson_str(h.json, "gatewayAddress"), "10.0.0.1");
    char *fp = xstrdup(tjson_str(h.json, "fingerprint"));
    thttp_free(&h);
    h = req("PATCH", sub, "{\"fingerprint\":\"stale\",\"secondaryIpRanges\":[]}");
    assert_int_equal(h.status, 412);
    assert_string_equal(tjson_str(h.json, "error.errors.0.reason"), "conditionNotMet");
    thttp_free(&h);
    char *body = xasprintf("{\"fingerprint\":\"%s\",\"ipCidrRange\":\"10.0.0.0/24\"}", fp);
    h = req("PATCH", sub, body);
    assert_int_equal(h.status, 400); /* immutable on patch */
    thttp_free(&h);
    free(body);
    body = xasprintf("{\"fingerprint\":\"%s\",\"secondaryIpRanges\":[{\"rangeName\":\"pods\","
                     "\"ipCidrRange\":\"10.4.0.0/14\"}]}",
                     fp);
    h = req("PATCH", sub, body);
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    h = req("DELETE", net, NULL);
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error.errors.0.reason"), "resourceInUseByAnotherResource");
    thttp_free(&h);
    char *exp = xasprintf("%s/expandIpCidrRange", sub);
    h = req("POST", exp, "{\"ipCidrRange\":\"10.0.0.0/19\"}");
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    h = req("POST", exp, "{\"ipCidrRange\":\"10.0.0.0/24\"}");
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    free(exp);
    free(body);
    free(fp);
    free(nets);
    free(subs);
    free(sub);
    free(net);
}

static void test_network_used_by_another_api_cannot_be_deleted(void **state) {
    fx_t *f = *state;
    char *nets = u(f, "/compute/compute/v1/projects/p/global/networks");
    thttp_t h = req("POST", nets, "{\"name\":\"shared\",\"autoCreateSubnetworks\":false}");
    thttp_free(&h);
    emu_lock(f->emu);
    emu_put(f->emu, "container/projects/p/locations/europe-west1/clusters/c1",
            json_pack("{s:s,s:s}", "name", "c1", "network", "projects/p/global/networks/shared"));
    emu_unlock(f->emu);
    char *net = u(f, "/compute/compute/v1/projects/p/global/networks/shared");
    h = req("DELETE", net, NULL);
    assert_int_equal(h.status, 400);
    assert_non_null(strstr(tjson_str(h.json, "error.message"), "clusters/c1"));
    thttp_free(&h);
    emu_lock(f->emu);
    emu_del(f->emu, "container/projects/p/locations/europe-west1/clusters/c1");
    emu_unlock(f->emu);
    h = req("DELETE", net, NULL);
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    free(net);
    free(nets);
}

static void test_auto_mode_network_brings_and_removes_its_subnetworks(void **state) {
    fx_t *f = *state;
    char *nets = u(f, "/compute/compute/v1/projects/p/global/networks");
    thttp_t h = req("POST", nets, "{\"name\":\"auto\",\"autoCreateSubnetworks\":true}");
    /* Wait for the insert: deleting a network still being created is refused. */
    char *insop = xasprintf("%s/compute/compute/v1/projects/p/global/operations/%s", f->base,
                            tjson_str(h.json, "name"));
    thttp_free(&h);
    json_decref(wait_op(insop, "status"));
    free(insop);
    char *sub = u(f, "/compute/compute/v1/projects/p/regions/europe-west1/subnetworks/auto");
    h = req("GET", sub, NULL);
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "ipCidrRange"), "10.132.0.0/20");
    assert_null(json_object_get(h.json, "_auto"));
    thttp_free(&h);
    char *net = u(f, "/compute/compute/v1/projects/p/global/networks/auto");
    h = req("DELETE", net, NULL);
    assert_int_equal(h.status, 200);
    char *opurl = xasprintf("%s/compute/compute/v1/projects/p/global/operations/%s", f->base,
                            tjson_str(h.json, "name"));
    thttp_free(&h);
    json_decref(wait_op(opurl, "status"));
    h = req("GET", sub, NULL);
    assert_int_equal(h.status, 404);
    thttp_free(&h);
    free(opurl);
    free(net);
    free(sub);
    free(nets);
}

static void test_list_paging_with_max_results_and_page_token(void **state) {
    fx_t *f = *state;
    char *fw = u(f, "/compute/compute/v1/projects/p/global/firewalls");
    char *nets = u(f, "/compute/compute/v1/projects/p/global/networks");
    thttp_t h = req("POST", nets, "{\"name\":\"default\",\"autoCreateSubnetworks\":true}");
    thttp_free(&h);
    for (int i = 0; i < 5; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"name\":\"fw%d\",\"allowed\":[{\"IPProtocol\":\"tcp\",\"ports\":[\"22\"]}]}", i);
        h = req("POST", fw, body);
        assert_int_equal(h.status, 200);
        thttp_free(&h);
    }
    int seen = 0;
    char *token = NULL;
    for (int page = 0; page < 10; page++) {
        char *url =
            token ? xasprintf("%s?maxResults=2&pageToken=%s", fw, token) : xasprintf("%s?maxResults=2", fw);
        h = req("GET", url, NULL);
        free(url);
        assert_int_equal(h.status, 200);
        size_t n = json_array_size(json_object_get(h.json, "items"));
        assert_true(n <= 2);
        if (seen == 0)
            assert_int_equal(json_integer_value(json_object_get(
                                 json_array_get(json_object_get(h.json, "items"), 0), "priority")),
                             1000);
        seen += (int)n;
        free(token);
        token = tjson_str(h.json, "nextPageToken") ? xstrdup(tjson_str(h.json, "nextPageToken")) : NULL;
        thttp_free(&h);
        if (!token) break;
    }
    assert_int_equal(seen, 5);
    free(nets);
    free(fw);
}

static void test_bucket_metageneration_precondition_and_not_empty_delete(void **state) {
    fx_t *f = *state;
    char *bs = u(f, "/storage/storage/v1/b?project=test-proj");
    char *b = u(f, "/storage/storage/v1/b/bkt-a");
    thttp_t h = req("POST", bs, "{\"name\":\"bkt-a\",\"location\":\"europe-west1\"}");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "location"), "EUROPE-WEST1");
    assert_string_equal(tjson_str(h.json, "storageClass"), "STANDARD");
    assert_string_equal(tjson_str(h.json, "metageneration"), "1");
    assert_string_equal(tjson_str(h.json, "softDeletePolicy.retentionDurationSeconds"), "604800");
    thttp_free(&h);
    h = req("POST", bs, "{\"name\":\"bkt-a\"}");
    assert_int_equal(h.status, 409);
    thttp_free(&h);
    char *p = xasprintf("%s?ifMetagenerationMatch=7", b);
    h = req("PATCH", p, "{\"labels\":{\"x\":\"y\"}}");
    assert_int_equal(h.status, 412);
    thttp_free(&h);
    free(p);
    p = xasprintf("%s?ifMetagenerationMatch=1", b);
    h = req("PATCH", p, "{\"labels\":{\"x\":\"y\"},\"versioning\":{\"enabled\":true}}");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "metageneration"), "2");
    assert_string_equal(tjson_str(h.json, "labels.x"), "y");
    thttp_free(&h);
    free(p);
    /* IAM: stale etag -> 412 */
    char *iam = xasprintf("%s/iam", b);
    h = req("GET", iam, NULL);
    assert_string_equal(tjson_str(h.json, "kind"), "storage#policy");
    thttp_free(&h);
    h = req("PUT", iam, "{\"etag\":\"stale\",\"bindings\":[]}");
    assert_int_equal(h.status, 412);
    thttp_free(&h);
    free(iam);
    char *up = u(f, "/storage/upload/storage/v1/b/bkt-a/o?uploadType=media&name=a%2Fb.txt");
    h = req_with(NULL, "POST", up, "data", "text/plain", NULL);
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    h = req("DELETE", b, NULL);
    assert_int_equal(h.status, 409);
    thttp_free(&h);
    char *obj = u(f, "/storage/storage/v1/b/bkt-a/o/a%2Fb.txt");
    h = req("DELETE", obj, NULL);
    assert_int_equal(h.status, 204);
    thttp_free(&h);
    h = req("DELETE", b, NULL);
    assert_int_equal(h.status, 204);
    thttp_free(&h);
    free(obj);
    free(up);
    free(b);
    free(bs);
}

/* buckets.list pages through the ordered key index: every bucket of the
 * project once, in name order, other projects' left out, and a bucket
 * deleted or added between pages neither repeats nor shifts the rest. */
static void test_bucket_list_pages_in_order_across_changes(void **state) {
    fx_t *f = *state;
    char *bs = u(f, "/storage/storage/v1/b?project=pg");
    char *other = u(f, "/storage/storage/v1/b?project=pg-other");
    const char *names[] = {"pg-e", "pg-a", "pg-d", "pg-b", "pg-c"};
    for (int i = 0; i < 5; i++) {
        char *body = xasprintf("{\"name\":\"%s\"}", names[i]);
        thttp_t h = req("POST", bs, body);
        assert_int_equal(h.status, 200);
        thttp_free(&h);
        free(body);
    }
    thttp_t h = req("POST", other, "{\"name\":\"pg-bb\"}");
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    char *p1 = u(f, "/storage/storage/v1/b?project=pg&maxResults=2");
    h = req("GET", p1, NULL);
    assert_int_equal(json_array_size(json_object_get(h.json, "items")), 2);
    assert_string_equal(tjson_str(h.json, "items.0.name"), "pg-a");
    assert_string_equal(tjson_str(h.json, "items.1.name"), "pg-b");
    char *tok = xstrdup(tjson_str(h.json, "nextPageToken"));
    thttp_free(&h);
    /* between pages: pg-a goes (already seen), pg-ca arrives (not yet seen) */
    char *del = u(f, "/storage/storage/v1/b/pg-a");
    h = req("DELETE", del, NULL);
    assert_int_equal(h.status, 204);
    thttp_free(&h);
    h = req("POST", bs, "{\"name\":\"pg-ca\"}");
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    char *p2 = xasprintf("%s&pageToken=%s", p1, tok);
    h = req("GET", p2, NULL);
    assert_int_equal(json_array_size(json_object_get(h.json, "items")), 2);
    assert_string_equal(tjson_str(h.json, "items.0.name"), "pg-c");
    assert_string_equal(tjson_str(h.json, "items.1.name"), "pg-ca");
    free(tok);
    tok = xstrdup(tjson_str(h.json, "nextPageToken"));
    thttp_free(&h);
    char *p3 = xasprintf("%s&pageToken=%s", p1, tok);
    h = req("GET", p3, NULL);
    assert_int_equal(json_array_size(json_object_get(h.json, "items")), 2);
    assert_string_equal(tjson_str(h.json, "items.0.name"), "pg-d");
    assert_string_equal(tjson_str(h.json, "items.1.name"), "pg-e");
    assert_null(json_object_get(h.json, "nextPageToken"));
    thttp_free(&h);
    free(tok);
    free(p1);
    free(p2);
    free(p3);
    free(del);
    free(other);
    free(bs);
}

static void test_object_generation_preconditions_and_listing(void **state) {
    fx_t *f = *state;
    char *bs = u(f, "/storage/storage/v1/b?project=p");
    thttp_t h = req("POST", bs, "{\"name\":\"objs\"}");
    thttp_free(&h);
    const char *names[] = {"a/1", "a/2", "b/1", "top"};
    for (int i = 0; i < 4; i++) {
        char *e = xasprintf("%s/storage/upload/storage/v1/b/objs/o?uploadType=media&name=%s"
                            "&ifGenerationMatch=0",
                            f->base, names[i]);
        h = req_with(NULL, "POST", e, names[i], "text/plain", NULL);
        assert_int_equal(h.status, 200);
        thttp_free(&h);
        h = req_with(NULL, "POST", e, names[i], "text/plain", NULL);
        assert_int_equal(h.status, 412); /* exists now */
        thttp_free(&h);
        free(e);
    }
    char *l = u(f, "/storage/storage/v1/b/objs/o?delimiter=/");
    h = req("GET", l, NULL);
    assert_int_equal(json_array_size(json_object_get(h.json, "prefixes")), 2);
    assert_int_equal(json_array_size(json_object_get(h.json, "items")), 1);
    thttp_free(&h);
    free(l);
    l = u(f, "/storage/storage/v1/b/objs/o?prefix=a/&maxResults=1");
    h = req("GET", l, NULL);
    assert_string_equal(tjson_str(h.json, "items.0.name"), "a/1");
    assert_non_null(tjson_str(h.json, "nextPageToken"));
    thttp_free(&h);
    free(l);
    char *m = u(f, "/storage/storage/v1/b/objs/o/top");
    h = req("GET", m, NULL);
    char *gen = xstrdup(tjson_str(h.json, "generation"));
    thttp_free(&h);
    char *media = xasprintf("%s?alt=media", m);
    h = req("GET", media, NULL);
    assert_string_equal(h.body, "top");
    thttp_free(&h);
    char *bad = xasprintf("%s?ifGenerationMatch=1", m);
    h = req("DELETE", bad, NULL);
    assert_int_equal(h.status, 412);
    thttp_free(&h);
    char *good = xasprintf("%s?ifGenerationMatch=%s", m, gen);
    h = req("DELETE", good, NULL);
    assert_int_equal(h.status, 204);
    thttp_free(&h);
    h = req("GET", m, NULL);
    assert_int_equal(h.status, 404);
    thttp_free(&h);
    free(good);
    free(bad);
    free(media);
    free(gen);
    free(m);
    free(bs);
}

typedef struct race {
    const char *url;
    long status;
} race_t;

static void *race_main(void *arg) {
    race_t *r = arg;
    thttp_t h = req_with(NULL, "POST", r->url, "lock", "text/plain", NULL);
    r->status = h.status;
    thttp_free(&h);
    return NULL;
}

static void test_if_generation_match_zero_race_has_exactly_one_winner(void **state) {
    fx_t *f = *state;
    char *bs = u(f, "/storage/storage/v1/b?project=p");
    thttp_t h = req("POST", bs, "{\"name\":\"racy\"}");
    thttp_free(&h);
    for (int round = 0; round < 5; round++) {
        char *url = xasprintf("%s/storage/upload/storage/v1/b/racy/o?uploadType=media&name=lock%d"
                              "&ifGenerationMatch=0",
                              f->base, round);
        enum { N = 16 };
        pthread_t th[N];
        race_t r[N];
        for (int i = 0; i < N; i++) {
            r[i].url = url;
            r[i].status = 0;
            pthread_create(&th[i], NULL, race_main, &r[i]);
        }
        int ok = 0, pre = 0;
        for (int i = 0; i < N; i++) {
            pthread_join(th[i], NULL);
            ok += r[i].status == 200;
            pre += r[i].status == 412;
        }
        assert_int_equal(ok, 1);
        assert_int_equal(pre, N - 1);
        free(url);
    }
    free(bs);
}

static void test_store_persists_across_restart_and_corrupt_file_is_refused(void **state) {
    fx_t *f = *state;
    char *bs = u(f, "/storage/storage/v1/b?project=p");
    thttp_t h = req("POST", bs, "{\"name\":\"persisted\",\"labels\":{\"k\":\"v\"}}");
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    free(bs);
    emu_free(f->emu); /* stops and flushes */
    emu_config_t cfg = {.op_scale = 0.05, .data_dir = f->dir};
    f->emu = temu_start(&cfg, f->base);
    char *b = u(f, "/storage/storage/v1/b/persisted");
    h = req("GET", b, NULL);
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "labels.k"), "v");
    thttp_free(&h);
    free(b);
    emu_free(f->emu);
    f->emu = NULL;
    char *path = xasprintf("%s/emulator.json", f->dir);
    FILE *fp = fopen(path, "w");
    fputs("{\"docs\": {broken", fp);
    fclose(fp);
    perr_t e;
    perr_clear(&e);
    emu_t *bad = emu_new(&cfg, &e);
    assert_null(bad);
    assert_non_null(strstr(e.msg, "corrupt"));
    free(path);
}

static void test_http_log_has_one_json_line_per_request_without_authorization(void **state) {
    fx_t *f = *state;
    char *url = u(f, "/storage/storage/v1/b?project=p");
    thttp_t h = req_with(NULL, "POST", url, "{\"name\":\"logged\",\"labels\":{\"password\":\"hunter2\"}}",
                         NULL, "Bearer sekret-token");
    thttp_free(&h);
    free(url);
    size_t len = 0;
    perr_t e;
    char *text = util_read_file(f->log, &len, &e);
    assert_non_null(text);
    assert_null(strstr(text, "sekret-token"));
    assert_null(strstr(text, "hunter2"));
    assert_non_null(strstr(text, "<redacted>"));
    char *line = strstr(text, "\"logged\"");
    assert_non_null(line);
    while (line > text && line[-1] != '\n')
        line--;
    json_t *j = json_loadb(line, strcspn(line, "\n"), 0, NULL);
    assert_non_null(j);
    static const char *const keys[] = {"ts", "api",     "method",   "url",      "status",
                                       "ms", "attempt", "req_body", "resp_body"};
    for (size_t i = 0; i < 9; i++)
        assert_non_null(json_object_get(j, keys[i]));
    assert_string_equal(tjson_str(j, "api"), "storage");
    assert_string_equal(tjson_str(j, "req_body.name"), "logged");
    json_decref(j);
    free(text);
}

static void test_require_auth_refuses_missing_and_unknown_tokens(void **state) {
    char base[64];
    emu_config_t cfg = {.require_auth = true};
    emu_t *emu = temu_start(&cfg, base);
    char *url = xasprintf("%s/storage/storage/v1/b?project=p", base);
    thttp_t h = req("GET", url, NULL);
    assert_int_equal(h.status, 401);
    assert_string_equal(tjson_str(h.json, "error.status"), "UNAUTHENTICATED");
    thttp_free(&h);
    h = req_with(NULL, "GET", url, NULL, NULL, "Bearer nope");
    assert_int_equal(h.status, 401);
    thttp_free(&h);
    emu_lock(emu);
    emu_put(emu, "oauth2/tokens/good", json_pack("{s:I}", "expires_ms", (json_int_t)4102444800000));
    emu_put(emu, "oauth2/tokens/old", json_pack("{s:I}", "expires_ms", (json_int_t)1000));
    emu_unlock(emu);
    h = req_with(NULL, "GET", url, NULL, NULL, "Bearer good");
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    h = req_with(NULL, "GET", url, NULL, NULL, "Bearer old");
    assert_int_equal(h.status, 401);
    thttp_free(&h);
    free(url);
    emu_free(emu);
}

static void test_fault_rates_match_configuration_and_store_survives(void **state) {
    fx_t *f = *state;
    emu_free(f->emu);
    emu_config_t cfg = {
        .data_dir = f->dir, .fault_rate = 0.1, .throttle_rate = 0.05, .reset_rate = 0.05, .seed = 42};
    f->emu = temu_start(&cfg, f->base);
    /* The bucket the requests read and the object they overwrite. */
    emu_lock(f->emu);
    emu_put(f->emu, "storage/buckets/fb",
            json_pack("{s:s,s:s,s:s,s:s,s:s}", "kind", "storage#bucket", "name", "fb", "projectNumber", "1",
                      "metageneration", "1", "storageClass", "STANDARD"));
    emu_unlock(f->emu);
    char *url = u(f, "/storage/storage/v1/b/fb");
    char *up = u(f, "/storage/upload/storage/v1/b/fb/o?uploadType=media&name=obj");
    CURL *c = curl_easy_init();
    enum { N = 10000 };
    int n503 = 0, n429 = 0, nreset = 0, n200 = 0, retry_after_ok = 1;
    for (int i = 0; i < N; i++) {
        char body[64];
        snprintf(body, sizeof body, "write %d", i);
        thttp_t h = i % 4 ? req_with(c, "GET", url, NULL, NULL, NULL)
                          : req_with(c, "POST", up, body, "text/plain", NULL);
        if (h.curl_rc != 0)
            nreset++;
        else if (h.status == 503)
            n503++;
        else if (h.status == 429) {
            n429++;
            if (strcmp(h.retry_after, " 1") && strcmp(h.retry_after, "1")) retry_after_ok = 0;
        } else if (h.status == 200)
            n200++;
        thttp_free(&h);
    }
    curl_easy_cleanup(c);
    free(url);
    free(up);
    assert_true(retry_after_ok);
    assert_in_range(n503, N * 8 / 100, N * 12 / 100);
    assert_in_range(n429, N * 3 / 100, N * 7 / 100);
    assert_in_range(nreset, N * 3 / 100, N * 7 / 100);
    assert_int_equal(n503 + n429 + nreset + n200, N);
    /* Still serving, and the persisted store is valid JSON. */
    emu_free(f->emu);
    emu_config_t clean = {.data_dir = f->dir};
    f->emu = temu_start(&clean, f->base);
    char *l = u(f, "/storage/storage/v1/b/fb/o/obj?alt=media");
    thttp_t h = req("GET", l, NULL);
    assert_int_equal(h.status, 200);
    assert_int_equal(strncmp(h.body, "write ", 6), 0);
    thttp_free(&h);
    free(l);
}

static void test_compute_request_id_replays_the_first_operation(void **state) {
    fx_t *f = *state;
    char *url = u(f, "/compute/compute/v1/projects/p/global/networks?requestId=abc-123");
    thttp_t h = req("POST", url, "{\"name\":\"rq\",\"autoCreateSubnetworks\":false}");
    assert_int_equal(h.status, 200);
    char *op = xstrdup(tjson_str(h.json, "name"));
    thttp_free(&h);
    h = req("POST", url, "{\"name\":\"rq\",\"autoCreateSubnetworks\":false}");
    assert_int_equal(h.status, 200); /* not 409: same request */
    assert_string_equal(tjson_str(h.json, "name"), op);
    thttp_free(&h);
    free(op);
    free(url);
}

static void test_instance_provisioning_then_running_and_metadata_fingerprint(void **state) {
    fx_t *f = *state;
    char *nets = u(f, "/compute/compute/v1/projects/p/global/networks");
    thttp_t h = req("POST", nets, "{\"name\":\"default\",\"autoCreateSubnetworks\":false}");
    thttp_free(&h);
    char *ins = u(f, "/compute/compute/v1/projects/p/zones/europe-west1-b/instances");
    h = req("POST", ins,
            "{\"name\":\"vm\",\"machineType\":\"e2-medium\",\"networkInterfaces\":[{"
            "\"accessConfigs\":[{}]}]}");
    assert_int_equal(h.status, 200);
    char *opurl = xasprintf("%s/compute/compute/v1/projects/p/zones/europe-west1-b/operations/%s", f->base,
                            tjson_str(h.json, "name"));
    thttp_free(&h);
    char *vm = u(f, "/compute/compute/v1/projects/p/zones/europe-west1-b/instances/vm");
    h = req("GET", vm, NULL);
    assert_string_equal(tjson_str(h.json, "status"), "PROVISIONING");
    assert_non_null(tjson_str(h.json, "networkInterfaces.0.networkIP"));
    assert_non_null(tjson_str(h.json, "networkInterfaces.0.accessConfigs.0.natIP"));
    thttp_free(&h);
    json_decref(wait_op(opurl, "status"));
    h = req("GET", vm, NULL);
    assert_string_equal(tjson_str(h.json, "status"), "RUNNING");
    char *fp = xstrdup(tjson_str(h.json, "metadata.fingerprint"));
    thttp_free(&h);
    char *sm = xasprintf("%s/setMetadata", vm);
    h = req("POST", sm, "{\"fingerprint\":\"old\",\"items\":[]}");
    assert_int_equal(h.status, 412);
    thttp_free(&h);
    char *body = xasprintf("{\"fingerprint\":\"%s\",\"items\":[{\"key\":\"k\",\"value\":\"v\"}]}", fp);
    h = req("POST", sm, body);
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    h = req("DELETE", vm, NULL);
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    free(body);
    free(sm);
    free(fp);
    free(vm);
    free(opurl);
    free(ins);
    free(nets);
}

static void test_storage_multipart_and_resumable_uploads(void **state) {
    fx_t *f = *state;
    char *bs = u(f, "/storage/storage/v1/b?project=p");
    thttp_t h = req("POST", bs, "{\"name\":\"ups\"}");
    thttp_free(&h);
    /* Python's email package style: quoted boundary, bare \n line ends. */
    const char *mp = "--==b==\nContent-Type: application/json\n\n{\"name\": \"m/1\", "
                     "\"contentType\": \"text/plain\"}\n--==b==\nContent-Type: text/plain\n\n"
                     "multi\n--==b==--\n";
    char *url = u(f, "/upload/storage/v1/b/ups/o?uploadType=multipart");
    h = req_with(NULL, "POST", url, mp, "multipart/related; boundary='==b=='", NULL);
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "name"), "m/1");
    assert_string_equal(tjson_str(h.json, "size"), "5");
    thttp_free(&h);
    free(url);
    url = u(f, "/storage/upload/storage/v1/b/ups/o?uploadType=resumable");
    CURL *c = curl_easy_init();
    h = req_with(NULL, "POST", url, "{\"name\":\"r1\",\"contentType\":\"text/x-r\"}", NULL, NULL);
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    curl_easy_cleanup(c);
    free(url);
    /* The Location header carries the session; find it through the store. */
    emu_lock(f->emu);
    json_t *keys = emu_keys(f->emu, "storage/uploads/");
    assert_int_equal(json_array_size(keys), 1);
    char *id = xstrdup(json_string_value(json_array_get(keys, 0)) + strlen("storage/uploads/"));
    json_decref(keys);
    emu_unlock(f->emu);
    char *put =
        xasprintf("%s/storage/upload/storage/v1/b/ups/o?uploadType=resumable&upload_id=%s", f->base, id);
    h = req_with(NULL, "PUT", put, "resumed", "application/octet-stream", NULL);
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "name"), "r1");
    assert_string_equal(tjson_str(h.json, "contentType"), "text/x-r");
    thttp_free(&h);
    char *get = u(f, "/storage/storage/v1/b/ups/o/r1?alt=media");
    h = req("GET", get, NULL);
    assert_string_equal(h.body, "resumed");
    thttp_free(&h);
    free(get);
    free(put);
    free(id);
    free(bs);
}

static void test_latency_is_slept_outside_the_lock(void **state) {
    char base[64];
    emu_config_t cfg = {.latency_ms = 300};
    emu_t *emu = temu_start(&cfg, base);
    char *url = xasprintf("%s/storage/storage/v1/b?project=p", base);
    enum { N = 4 };
    pthread_t th[N];
    race_t r[N];
    int64_t t0 = util_now_ms();
    for (int i = 0; i < N; i++) {
        r[i].url = url;
        pthread_create(&th[i], NULL, race_main, &r[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    int64_t ms = util_now_ms() - t0;
    assert_true(ms >= 300);
    assert_true(ms < 2 * 300 * N / 2); /* parallel, not 4 x 300 ms in a row */
    free(url);
    emu_free(emu);
}

static void test_running_operations_finish_after_restart(void **state) {
    fx_t *f = *state;
    emu_free(f->emu);
    emu_config_t slow = {.op_scale = 1000, .data_dir = f->dir}; /* never finishes on its own */
    f->emu = temu_start(&slow, f->base);
    char *nets = u(f, "/compute/compute/v1/projects/p/global/networks");
    thttp_t h = req("POST", nets, "{\"name\":\"default\",\"autoCreateSubnetworks\":false}");
    char *op = xasprintf("/compute/compute/v1/projects/p/global/operations/%s", tjson_str(h.json, "name"));
    thttp_free(&h);
    char *su = u(f, "/serviceusage/v1/projects/p/services/sqladmin.googleapis.com:enable");
    h = req("POST", su, "{}");
    char *suop = xasprintf("/serviceusage/v1/%s", tjson_str(h.json, "name"));
    thttp_free(&h);
    char *opurl = u(f, op);
    h = req("GET", opurl, NULL);
    assert_string_equal(tjson_str(h.json, "status"), "RUNNING");
    thttp_free(&h);
    free(opurl);
    emu_free(f->emu);
    emu_config_t cfg = {.data_dir = f->dir};
    f->emu = temu_start(&cfg, f->base);
    opurl = u(f, op);
    h = req("GET", opurl, NULL);
    assert_string_equal(tjson_str(h.json, "status"), "DONE");
    thttp_free(&h);
    char *suurl = u(f, suop);
    h = req("GET", suurl, NULL);
    assert_true(json_is_true(json_object_get(h.json, "done")));
    thttp_free(&h);
    free(suurl);
    free(opurl);
    free(suop);
    free(su);
    free(op);
    free(nets);
}

/* The outcome letters of n sequential requests against a fresh emulator. */
static char *fault_pattern(unsigned seed, int n) {
    char base[64];
    emu_config_t cfg = {.fault_rate = 0.2, .throttle_rate = 0.2, .reset_rate = 0.1, .seed = seed};
    emu_t *emu = temu_start(&cfg, base);
    char *url = xasprintf("%s/compute/compute/v1/projects/p/global/networks", base);
    char *out = xcalloc(1, (size_t)n + 1);
    CURL *c = curl_easy_init();
    for (int i = 0; i < n; i++) {
        thttp_t h = req_with(c, "GET", url, NULL, NULL, NULL);
        out[i] = h.curl_rc ? 'R' : h.status == 503 ? 'U' : h.status == 429 ? 'T' : 'o';
        thttp_free(&h);
    }
    curl_easy_cleanup(c);
    free(url);
    emu_free(emu);
    return out;
}

static void test_same_seed_reproduces_the_same_faults(void **state) {
    char *a = fault_pattern(1234, 200), *b = fault_pattern(1234, 200), *c = fault_pattern(99, 200);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    free(a);
    free(b);
    free(c);
}

static void test_project_number_is_stable_numeric_and_distinct(void **state) {
    fx_t *f = *state;
    emu_lock(f->emu);
    const char *a = emu_project_number(f->emu, "proj-a");
    const char *b = emu_project_number(f->emu, "proj-b");
    assert_string_equal(a, emu_project_number(f->emu, "proj-a"));
    assert_string_not_equal(a, b);
    for (const char *p = a; *p; p++)
        assert_true(*p >= '0' && *p <= '9');
    emu_unlock(f->emu);
}

static void test_durations_scale_and_unknown_kind_is_300ms(void **state) {
    fx_t *f = *state; /* op_scale 0.05 */
    assert_int_equal(emu_duration(f->emu, "container.clusters.create"), 200);
    assert_int_equal(emu_duration(f->emu, "compute.networks.insert"), 30);
    assert_int_equal(emu_duration(f->emu, "what.ever"), 15);
    char *id = emu_op_id(f->emu);
    assert_int_equal(strncmp(id, "operation-", 10), 0);
    free(id);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_apis_are_linked_and_named),
        T(test_unknown_api_and_route_are_404_with_google_error_shape),
        T(test_malformed_json_body_is_400_invalid_argument),
        T(test_unknown_field_is_400_naming_the_field),
        T(test_custom_verb_enable_then_noop_done_operation),
        T(test_compute_insert_runs_then_done_and_duplicate_is_409),
        T(test_subnetwork_fingerprint_and_network_in_use),
        T(test_network_used_by_another_api_cannot_be_deleted),
        T(test_auto_mode_network_brings_and_removes_its_subnetworks),
        T(test_list_paging_with_max_results_and_page_token),
        T(test_bucket_metageneration_precondition_and_not_empty_delete),
        T(test_bucket_list_pages_in_order_across_changes),
        T(test_object_generation_preconditions_and_listing),
        T(test_if_generation_match_zero_race_has_exactly_one_winner),
        T(test_store_persists_across_restart_and_corrupt_file_is_refused),
        T(test_http_log_has_one_json_line_per_request_without_authorization),
        cmocka_unit_test(test_require_auth_refuses_missing_and_unknown_tokens),
        T(test_fault_rates_match_configuration_and_store_survives),
        T(test_compute_request_id_replays_the_first_operation),
        T(test_instance_provisioning_then_running_and_metadata_fingerprint),
        T(test_storage_multipart_and_resumable_uploads),
        cmocka_unit_test(test_latency_is_slept_outside_the_lock),
        T(test_running_operations_finish_after_restart),
        cmocka_unit_test(test_same_seed_reproduces_the_same_faults),
        T(test_project_number_is_stable_numeric_and_distinct),
        T(test_durations_scale_and_unknown_kind_is_300ms),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
