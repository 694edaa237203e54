/* test_emulator_strict.c: the emulator refuses what Google Cloud refuses:
 * GKE clusters on a missing subnetwork or secondary range end in a failed
 * operation, servicesIpv4Cidr comes from the named secondary range,
 * overlapping subnet ranges are refused with Compute's "conflicts with",
 * fingerprints are canonical base64 of 8 bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "emulator/emu.h"
#include "tests/support/emu.h"
#include "tests/support/http.h"

extern const emu_api_t emu_api_compute, emu_api_container;

typedef struct fx {
    emu_t *emu;
    char base[64];
} fx_t;

static int setup(void **state) {
    fx_t *f = xcalloc(1, sizeof *f);
    emu_config_t cfg = {.op_scale = 0.02};
    f->emu = temu_start(&cfg, f->base);
    *state = f;
    return f->emu ? 0 : -1;
}

static int teardown(void **state) {
    fx_t *f = *state;
    if (f->emu) emu_free(f->emu);
    free(f);
    return 0;
}

/* method on base+path; the answer's status, body in *out (may be NULL). */
static long call(const fx_t *f, const char *method, const char *path, const char *body, json_t **out) {
    char *url = xasprintf("%s%s", f->base, path);
    thttp_t h = thttp_req(NULL, method, url, body, NULL, NULL, 10L);
    free(url);
    long st = h.status;
    if (out) *out = json_incref(h.json);
    thttp_free(&h);
    return st;
}

/* Polls GET path until its "status" is DONE (or 5 s); the last body. */
static json_t *wait_done(const fx_t *f, const char *path) {
    json_t *j = NULL;
    for (int i = 0; i < 250; i++) {
        json_decref(j);
        call(f, "GET", path, NULL, &j);
        const char *st = tjson_str(j, "status");
        if (st && !strcmp(st, "DONE")) return j;
        usleep(20000);
    }
    return j;
}

#define CE "/compute/compute/v1/projects/p/"
#define GKE "/container/v1/projects/p/locations/europe-west1/"

static void net_and_subnet(const fx_t *f) {
    json_t *j = NULL;
    assert_int_equal(
        call(f, "POST", CE "global/networks", "{\"name\":\"vpc\",\"autoCreateSubnetworks\":false}", &j), 200);
    json_decref(j);
    assert_int_equal(
        call(f, "POST", CE "regions/europe-west1/subnetworks",
             "{\"name\":\"nodes\",\"network\":\"global/networks/vpc\",\"ipCidrRange\":\"10.0.0.0/20\","
             "\"secondaryIpRanges\":[{\"rangeName\":\"pods\",\"ipCidrRange\":\"10.4.0.0/14\"},"
             "{\"rangeName\":\"svc\",\"ipCidrRange\":\"10.8.0.0/20\"}]}",
             NULL),
        200);
}

/* The cluster's create operation ends; returns the final cluster. */
static json_t *create_cluster(const fx_t *f, const char *name, const char *body, json_t **op_out) {
    json_t *op = NULL;
    assert_int_equal(call(f, "POST", GKE "clusters", body, &op), 200);
    char *path = xasprintf(GKE "operations/%s", tjson_str(op, "name"));
    json_decref(op);
    *op_out = wait_done(f, path);
    free(path);
    json_t *c = NULL;
    path = xasprintf(GKE "clusters/%s", name);
    call(f, "GET", path, NULL, &c);
    free(path);
    return c;
}

static void test_cluster_on_missing_secondary_range_fails_its_operation(void **state) {
    fx_t *f = *state;
    net_and_subnet(f);
    json_t *op = NULL;
    json_t *c =
        create_cluster(f, "c1",
                       "{\"cluster\":{\"name\":\"c1\",\"initialNodeCount\":1,\"network\":\"vpc\","
                       "\"subnetwork\":\"nodes\",\"ipAllocationPolicy\":{\"useIpAliases\":true,"
                       "\"clusterSecondaryRangeName\":\"pods\",\"servicesSecondaryRangeName\":\"nope\"}}}",
                       &op);
    assert_string_equal(tjson_str(op, "status"), "DONE");
    const char *msg = tjson_str(op, "error.message");
    assert_non_null(msg);
    assert_non_null(strstr(msg, "secondary range \"nope\""));
    assert_string_equal(tjson_str(c, "status"), "ERROR");
    json_decref(op);
    json_decref(c);
}

static void test_cluster_on_missing_subnetwork_fails_its_operation(void **state) {
    fx_t *f = *state;
    net_and_subnet(f);
    json_t *op = NULL;
    json_t *c = create_cluster(
        f, "c1",
        "{\"cluster\":{\"name\":\"c1\",\"initialNodeCount\":1,\"network\":\"vpc\",\"subnetwork\":\"gone\"}}",
        &op);
    assert_non_null(strstr(tjson_str(op, "error.message") ?: "",
                           "Subnetwork \"projects/p/regions/europe-west1/subnetworks/gone\" does not exist"));
    assert_string_equal(tjson_str(c, "status"), "ERROR");
    json_decref(op);
    json_decref(c);
    c = create_cluster(f, "c2",
                       "{\"cluster\":{\"name\":\"c2\",\"initialNodeCount\":1,\"network\":\"novpc\","
                       "\"subnetwork\":\"nodes\"}}",
                       &op);
    assert_string_equal(tjson_str(op, "error.message") ?: "", "Network \"novpc\" does not exist.");
    json_decref(c);
    json_decref(op);
}

static void test_services_cidr_comes_from_the_named_secondary_range(void **state) {
    fx_t *f = *state;
    net_and_subnet(f);
    json_t *op = NULL;
    json_t *c =
        create_cluster(f, "c1",
                       "{\"cluster\":{\"name\":\"c1\",\"initialNodeCount\":1,\"network\":\"vpc\","
                       "\"subnetwork\":\"nodes\",\"ipAllocationPolicy\":{\"useIpAliases\":true,"
                       "\"clusterSecondaryRangeName\":\"pods\",\"servicesSecondaryRangeName\":\"svc\"}}}",
                       &op);
    assert_null(tjson_get(op, "error"));
    assert_string_equal(tjson_str(c, "status"), "RUNNING");
    assert_string_equal(tjson_str(c, "servicesIpv4Cidr"), "10.8.0.0/20");
    assert_string_equal(tjson_str(c, "clusterIpv4Cidr"), "10.4.0.0/14");
    assert_string_equal(tjson_str(c, "ipAllocationPolicy.servicesIpv4CidrBlock"), "10.8.0.0/20");
    json_decref(op);
    json_decref(c);
}

static void test_overlapping_subnet_ranges_are_refused_with_conflicts_with(void **state) {
    fx_t *f = *state;
    net_and_subnet(f);
    json_t *j = NULL;
    /* another subnet of the network, in another region, inside 10.4.0.0/14 */
    assert_int_equal(
        call(f, "POST", CE "regions/us-central1/subnetworks",
             "{\"name\":\"other\",\"network\":\"global/networks/vpc\",\"ipCidrRange\":\"10.5.0.0/20\"}", &j),
        400);
    assert_non_null(
        strstr(tjson_str(j, "error.message") ?: "", "conflicts with existing subnetwork 'nodes'"));
    json_decref(j);
    /* its own secondary range over its primary range */
    assert_int_equal(
        call(f, "POST", CE "regions/europe-west1/subnetworks",
             "{\"name\":\"self\",\"network\":\"global/networks/vpc\",\"ipCidrRange\":\"10.20.0.0/20\","
             "\"secondaryIpRanges\":[{\"rangeName\":\"a\",\"ipCidrRange\":\"10.20.0.0/24\"}]}",
             &j),
        400);
    assert_non_null(strstr(tjson_str(j, "error.message") ?: "", "conflicts with"));
    json_decref(j);
    /* a patch adding an overlapping secondary range */
    call(f, "GET", CE "regions/europe-west1/subnetworks/nodes", NULL, &j);
    char *body = xasprintf("{\"fingerprint\":\"%s\",\"secondaryIpRanges\":[{\"rangeName\":\"x\","
                           "\"ipCidrRange\":\"10.0.0.0/24\"}]}",
                           tjson_str(j, "fingerprint"));
    json_decref(j);
    assert_int_equal(call(f, "PATCH", CE "regions/europe-west1/subnetworks/nodes", body, &j), 400);
    assert_non_null(strstr(tjson_str(j, "error.message") ?: "", "conflicts with"));
    json_decref(j);
    free(body);
    /* a disjoint one is fine */
    assert_int_equal(
        call(f, "POST", CE "regions/us-central1/subnetworks",
             "{\"name\":\"other\",\"network\":\"global/networks/vpc\",\"ipCidrRange\":\"10.16.0.0/20\"}",
             NULL),
        200);
}

static void test_fingerprints_are_canonical_base64_of_8_bytes(void **state) {
    fx_t *f = *state;
    net_and_subnet(f);
    json_t *j = NULL;
    call(f, "GET", CE "regions/europe-west1/subnetworks/nodes", NULL, &j);
    const char *fp = tjson_str(j, "fingerprint");
    assert_non_null(fp);
    size_t n = 0;
    unsigned char *raw = emu_b64_decode(fp, strlen(fp), true, &n);
    assert_non_null(raw);
    assert_int_equal(n, 8);
    char *again = emu_b64(raw, n);
    assert_string_equal(again, fp);
    free(again);
    free(raw);
    json_decref(j);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
int main(void) {
    assert_string_equal(emu_api_compute.name, "compute");
    assert_string_equal(emu_api_container.name, "container");
    const struct CMUnitTest tests[] = {
        T(test_cluster_on_missing_secondary_range_fails_its_operation),
        T(test_cluster_on_missing_subnetwork_fails_its_operation),
        T(test_services_cidr_comes_from_the_named_secondary_range),
        T(test_overlapping_subnet_ranges_are_refused_with_conflicts_with),
        T(test_fingerprints_are_canonical_base64_of_8_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
