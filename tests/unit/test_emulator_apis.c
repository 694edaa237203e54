/* test_emulator_apis.c: drives the emulated GKE, Cloud SQL, IAM, Resource
 * Manager, Artifact Registry, Secret Manager, Service Networking and
 * OAuth2 APIs of an in-process plinth-emulator over loopback with libcurl:
 * operations and their concurrency rules, optimistic concurrency (etags,
 * settingsVersion), secret versions, and the JWT-bearer token grant with
 * keys made by iam keys.create. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "emulator/emu.h"
#include "tests/support/emu.h"
#include "tests/support/http.h"

/* Strong references so the archive members are linked in. */
extern const emu_api_t emu_api_container, emu_api_sqladmin, emu_api_servicenetworking, emu_api_iam,
    emu_api_cloudresourcemanager, emu_api_artifactregistry, emu_api_secretmanager, emu_api_oauth2;

static thttp_t req_full(const char *method, const char *url, const char *body, const char *ctype,
                        const char *auth) {
    return thttp_req(NULL, method, url, body, ctype, auth, 20L);
}

/* ---- fixture ------------------------------------------------------------------ */

typedef struct fx {
    emu_t *emu;
    char base[64];
    char dir[64];
} fx_t;

static fx_t *F;

static void start(fx_t *f, double scale, int require_auth) {
    emu_config_t cfg = {.op_scale = scale, .data_dir = f->dir, .require_auth = require_auth};
    f->emu = temu_start(&cfg, f->base);
}

static int setup(void **state) {
    fx_t *f = xcalloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/plinth-emuapis-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    start(f, 0.1, 0);
    F = f;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fx_t *f = *state;
    if (f->emu) emu_free(f->emu);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Request to base + formatted path. */
static thttp_t call(const char *method, const char *body, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static thttp_t call(const char *method, const char *body, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sbuf_t u = {0};
    sbuf_add(&u, F->base);
    sbuf_vaddf(&u, fmt, ap);
    va_end(ap);
    thttp_t h = req_full(method, u.s, body, NULL, NULL);
    sbuf_free(&u);
    return h;
}

/* Polls GET base+path until status==DONE or done==true (10 s). */
static json_t *wait_done(const char *path) {
    for (int i = 0; i < 500; i++) {
        thttp_t h = call("GET", NULL, "%s", path);
        const char *st = tjson_str(h.json, "status");
        if ((st && !strcmp(st, "DONE")) || json_is_true(json_object_get(h.json, "done"))) {
            json_t *j = json_incref(h.json);
            thttp_free(&h);
            return j;
        }
        thttp_free(&h);
        usleep(20000);
    }
    fail_msg("operation %s never finished", path);
    return NULL;
}

#define GKE "/container/v1/projects/p/locations/europe-west1-b"
#define SQL "/sqladmin/sql/v1beta4/projects/p"

static void gke_wait(const json_t *op) {
    char *path = xasprintf(GKE "/operations/%s", tjson_str(op, "name"));
    json_decref(wait_done(path));
    free(path);
}

static void sql_wait(const json_t *op) {
    char *path = xasprintf(SQL "/operations/%s", tjson_str(op, "name"));
    json_t *d = wait_done(path);
    assert_string_equal(tjson_str(d, "kind"), "sql#operation");
    json_decref(d);
    free(path);
}

/* ---- GKE ---------------------------------------------------------------------- */

static void make_cluster(const char *name) {
    char *body = xasprintf("{\"cluster\":{\"name\":\"%s\",\"initialNodeCount\":1}}", name);
    thttp_t h = call("POST", body, GKE "/clusters");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "operationType"), "CREATE_CLUSTER");
    gke_wait(h.json);
    thttp_free(&h);
    free(body);
}

static void test_gke_cluster_provisions_then_runs_with_real_fields(void **state) {
    thttp_t h = call("POST", "{\"cluster\":{\"name\":\"c1\",\"initialNodeCount\":2}}", GKE "/clusters");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "status"), "RUNNING");
    assert_non_null(strstr(tjson_str(h.json, "name"), "operation-"));
    json_t *op = json_incref(h.json);
    thttp_free(&h);

    h = call("GET", NULL, GKE "/clusters/c1");
    assert_string_equal(tjson_str(h.json, "status"), "PROVISIONING");
    assert_null(json_object_get(h.json, "plinth:opKey")); /* private keys never leak */
    thttp_free(&h);

    gke_wait(op);
    json_decref(op);
    h = call("GET", NULL, GKE "/clusters/c1");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "status"), "RUNNING");
    assert_string_equal(
        tjson_str(h.json, "selfLink"),
        "https://container.googleapis.com/v1/projects/p/locations/europe-west1-b/clusters/c1");
    assert_string_equal(tjson_str(h.json, "releaseChannel.channel"), "REGULAR");
    assert_string_equal(tjson_str(h.json, "nodePools.0.name"), "default-pool");
    assert_string_equal(tjson_str(h.json, "nodePools.0.status"), "RUNNING");
    assert_non_null(tjson_str(h.json, "nodePools.0.instanceGroupUrls.0"));
    assert_non_null(tjson_str(h.json, "currentMasterVersion"));
    /* The CA is base64 of a PEM certificate. */
    const char *ca = tjson_str(h.json, "masterAuth.clusterCaCertificate");
    assert_non_null(ca);
    unsigned char pem[4096];
    int n = EVP_DecodeBlock(pem, (const unsigned char *)ca, (int)strlen(ca));
    assert_true(n > 0);
    assert_memory_equal(pem, "-----BEGIN CERTIFICATE-----", 27);
    int dots = 0;
    for (const char *s = tjson_str(h.json, "endpoint"); *s; s++)
        dots += *s == '.';
    assert_int_equal(dots, 3);
    thttp_free(&h);

    h = call("POST", "{\"cluster\":{\"name\":\"c1\"}}", GKE "/clusters");
    assert_int_equal(h.status, 409);
    assert_string_equal(tjson_str(h.json, "error.status"), "ALREADY_EXISTS");
    thttp_free(&h);
}

static void test_gke_second_operation_while_one_runs_is_400_failed_precondition(void **state) {
    thttp_t h = call("POST", "{\"cluster\":{\"name\":\"c2\"}}", GKE "/clusters");
    json_t *op = json_incref(h.json);
    thttp_free(&h);
    h = call("POST", "{\"resourceLabels\":{\"a\":\"b\"}}", GKE "/clusters/c2:setResourceLabels");
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error.status"), "FAILED_PRECONDITION");
    assert_non_null(strstr(tjson_str(h.json, "error.message"), "Cluster is running incompatible operation"));
    assert_non_null(strstr(tjson_str(h.json, "error.message"), tjson_str(op, "name")));
    thttp_free(&h);
    gke_wait(op);
    json_decref(op);
    h = call("POST", "{\"resourceLabels\":{\"a\":\"b\"}}", GKE "/clusters/c2:setResourceLabels");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "operationType"), "SET_LABELS");
    gke_wait(h.json);
    thttp_free(&h);
    h = call("GET", NULL, GKE "/clusters/c2");
    assert_string_equal(tjson_str(h.json, "resourceLabels.a"), "b");
    thttp_free(&h);
}

static void test_gke_update_takes_exactly_one_desired_field(void **state) {
    make_cluster("c3");
    thttp_t h =
        call("PUT", "{\"update\":{\"desiredLoggingService\":\"none\",\"desiredMonitoringService\":\"none\"}}",
             GKE "/clusters/c3");
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error.status"), "INVALID_ARGUMENT");
    thttp_free(&h);
    h = call("PUT", "{\"update\":{}}", GKE "/clusters/c3");
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    h = call("PUT", "{\"update\":{\"desiredWorkloadIdentityConfig\":{\"workloadPool\":\"p.svc.id.goog\"}}}",
             GKE "/clusters/c3");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "operationType"), "UPDATE_CLUSTER");
    gke_wait(h.json);
    thttp_free(&h);
    h = call("GET", NULL, GKE "/clusters/c3");
    assert_string_equal(tjson_str(h.json, "workloadIdentityConfig.workloadPool"), "p.svc.id.goog");
    assert_string_equal(tjson_str(h.json, "status"), "RUNNING");
    thttp_free(&h);
}

static void test_gke_node_pool_create_set_size_and_delete(void **state) {
    make_cluster("c4");
    thttp_t h = call("POST", "{\"nodePool\":{\"name\":\"gpu\",\"initialNodeCount\":1}}",
                     GKE "/clusters/c4/nodePools");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "operationType"), "CREATE_NODE_POOL");
    json_t *op = json_incref(h.json);
    thttp_free(&h);
    /* The pool create holds the cluster: a resize now is refused. */
    h = call("POST", "{\"nodeCount\":3}", GKE "/clusters/c4/nodePools/gpu:setSize");
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error.status"), "FAILED_PRECONDITION");
    thttp_free(&h);
    gke_wait(op);
    json_decref(op);

    h = call("POST", "{\"nodeCount\":3}", GKE "/clusters/c4/nodePools/gpu:setSize");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "operationType"), "SET_NODE_POOL_SIZE");
    gke_wait(h.json);
    thttp_free(&h);
    h = call("GET", NULL, GKE "/clusters/c4");
    assert_int_equal(json_integer_value(json_object_get(h.json, "currentNodeCount")), 1 + 3);
    thttp_free(&h);
    h = call("GET", NULL, GKE "/clusters/c4/nodePools/gpu");
    assert_string_equal(tjson_str(h.json, "status"), "RUNNING");
    assert_string_equal(tjson_str(h.json, "config.machineType"), "e2-medium");
    assert_null(json_object_get(h.json, "plinth:nodeCount"));
    thttp_free(&h);

    h = call("DELETE", NULL, GKE "/clusters/c4/nodePools/gpu");
    assert_string_equal(tjson_str(h.json, "operationType"), "DELETE_NODE_POOL");
    gke_wait(h.json);
    thttp_free(&h);
    h = call("GET", NULL, GKE "/clusters/c4/nodePools/gpu");
    assert_int_equal(h.status, 404);
    thttp_free(&h);
}

static void test_gke_delete_cluster_stops_then_is_gone(void **state) {
    make_cluster("c5");
    thttp_t h = call("DELETE", NULL, GKE "/clusters/c5");
    assert_string_equal(tjson_str(h.json, "operationType"), "DELETE_CLUSTER");
    json_t *op = json_incref(h.json);
    thttp_free(&h);
    h = call("GET", NULL, GKE "/clusters/c5");
    assert_string_equal(tjson_str(h.json, "status"), "STOPPING");
    thttp_free(&h);
    gke_wait(op);
    json_decref(op);
    h = call("GET", NULL, GKE "/clusters/c5");
    assert_int_equal(h.status, 404);
    thttp_free(&h);
}

static void test_operations_left_running_finish_after_restart(void **state) {
    fx_t *f = *state;
    emu_free(f->emu);
    start(f, 100.0, 0); /* cluster create now takes minutes */
    thttp_t h = call("POST", "{\"cluster\":{\"name\":\"slow\"}}", GKE "/clusters");
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    emu_free(f->emu);
    start(f, 100.0, 0);
    h = call("GET", NULL, GKE "/clusters/slow");
    int tries = 0;
    while (strcmp(tjson_str(h.json, "status") ?: "", "RUNNING") && tries++ < 100) {
        thttp_free(&h);
        usleep(20000);
        h = call("GET", NULL, GKE "/clusters/slow");
    }
    assert_string_equal(tjson_str(h.json, "status"), "RUNNING");
    thttp_free(&h);
}

/* ---- Cloud SQL ------------------------------------------------------------------ */

static void make_instance(const char *name, int protect) {
    char *body = xasprintf("{\"name\":\"%s\",\"region\":\"europe-west1\",\"databaseVersion\":"
                           "\"POSTGRES_16\",\"settings\":{\"tier\":\"db-f1-micro\","
                           "\"deletionProtectionEnabled\":%s}}",
                           name, protect ? "true" : "false");
    thttp_t h = call("POST", body, SQL "/instances");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "operationType"), "CREATE");
    sql_wait(h.json);
    thttp_free(&h);
    free(body);
}

static void test_sql_instance_create_fields_and_duplicate_409(void **state) {
    make_instance("db1", 0);
    thttp_t h = call("GET", NULL, SQL "/instances/db1");
    assert_string_equal(tjson_str(h.json, "state"), "RUNNABLE");
    assert_string_equal(tjson_str(h.json, "connectionName"), "p:europe-west1:db1");
    assert_string_equal(tjson_str(h.json, "settings.settingsVersion"), "1");
    assert_string_equal(tjson_str(h.json, "ipAddresses.0.type"), "PRIMARY");
    assert_non_null(tjson_str(h.json, "serviceAccountEmailAddress"));
    thttp_free(&h);
    h = call("POST", "{\"name\":\"db1\"}", SQL "/instances");
    assert_int_equal(h.status, 409);
    assert_string_equal(tjson_str(h.json, "error.errors.0.reason"), "instanceAlreadyExists");
    thttp_free(&h);
}

static void test_sql_stale_settings_version_is_412_and_each_change_bumps_it(void **state) {
    make_instance("db2", 0);
    thttp_t h = call("PATCH", "{\"settings\":{\"userLabels\":{\"a\":\"b\"}}}", SQL "/instances/db2");
    assert_int_equal(h.status, 200);
    sql_wait(h.json);
    thttp_free(&h);
    h = call("GET", NULL, SQL "/instances/db2");
    assert_string_equal(tjson_str(h.json, "settings.settingsVersion"), "2");
    assert_string_equal(tjson_str(h.json, "settings.userLabels.a"), "b");
    thttp_free(&h);
    h = call("PUT", "{\"settings\":{\"tier\":\"db-custom-2-7680\",\"settingsVersion\":\"1\"}}",
             SQL "/instances/db2");
    assert_int_equal(h.status, 412);
    assert_string_equal(tjson_str(h.json, "error.errors.0.reason"), "staleData");
    thttp_free(&h);
    h = call("PUT", "{\"settings\":{\"tier\":\"db-custom-2-7680\",\"settingsVersion\":\"2\"}}",
             SQL "/instances/db2");
    assert_int_equal(h.status, 200);
    sql_wait(h.json);
    thttp_free(&h);
    h = call("GET", NULL, SQL "/instances/db2");
    assert_string_equal(tjson_str(h.json, "settings.settingsVersion"), "3");
    assert_string_equal(tjson_str(h.json, "settings.tier"), "db-custom-2-7680");
    assert_null(tjson_get(h.json, "settings.userLabels")); /* PUT replaced the settings */
    thttp_free(&h);
}

static void test_sql_deletion_protection_refuses_delete(void **state) {
    make_instance("db3", 1);
    thttp_t h = call("DELETE", NULL, SQL "/instances/db3");
    assert_int_equal(h.status, 400);
    assert_non_null(strstr(tjson_str(h.json, "error.message"), "deletion protection"));
    thttp_free(&h);
    h = call("PATCH", "{\"settings\":{\"deletionProtectionEnabled\":false}}", SQL "/instances/db3");
    sql_wait(h.json);
    thttp_free(&h);
    h = call("DELETE", NULL, SQL "/instances/db3");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "operationType"), "DELETE");
    sql_wait(h.json);
    thttp_free(&h);
    h = call("GET", NULL, SQL "/instances/db3");
    assert_int_equal(h.status, 404);
    thttp_free(&h);
}

static void test_sql_second_operation_is_409_operation_in_progress(void **state) {
    thttp_t h = call("POST", "{\"name\":\"db4\",\"databaseVersion\":\"POSTGRES_16\"}", SQL "/instances");
    json_t *op = json_incref(h.json);
    thttp_free(&h);
    h = call("POST", "{\"name\":\"app\"}", SQL "/instances/db4/databases");
    assert_int_equal(h.status, 409);
    assert_string_equal(tjson_str(h.json, "error.errors.0.reason"), "operationInProgress");
    thttp_free(&h);
    sql_wait(op);
    json_decref(op);
    h = call("POST", "{\"name\":\"app\"}", SQL "/instances/db4/databases");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "operationType"), "CREATE_DATABASE");
    sql_wait(h.json);
    thttp_free(&h);
    h = call("POST", "{\"name\":\"svc\",\"password\":\"hunter2\"}", SQL "/instances/db4/users");
    assert_int_equal(h.status, 200);
    sql_wait(h.json);
    thttp_free(&h);
    h = call("GET", NULL, SQL "/instances/db4/users");
    assert_null(strstr(h.body, "hunter2"));
    assert_non_null(strstr(h.body, "\"svc\""));
    thttp_free(&h);
    h = call("GET", NULL, SQL "/instances/db4/databases/app");
    assert_string_equal(tjson_str(h.json, "charset"), "UTF8");
    thttp_free(&h);
    h = call("DELETE", NULL, SQL "/instances/db4/users?name=svc");
    assert_int_equal(h.status, 200);
    sql_wait(h.json);
    thttp_free(&h);
}

/* ---- Resource Manager, IAM --------------------------------------------------------- */

static void test_crm_stale_etag_is_409_aborted(void **state) {
    thttp_t h = call("POST", "{}", "/cloudresourcemanager/v1/projects/test-proj:getIamPolicy");
    assert_int_equal(h.status, 200);
    char *etag = xstrdup(tjson_str(h.json, "etag"));
    thttp_free(&h);
    char *body = xasprintf("{\"policy\":{\"etag\":\"%s\",\"bindings\":[{\"role\":\"roles/viewer\","
                           "\"members\":[\"user:A@Example.com\"]}]}}",
                           etag);
    h = call("POST", body, "/cloudresourcemanager/v1/projects/test-proj:setIamPolicy");
    assert_int_equal(h.status, 200);
    assert_string_not_equal(tjson_str(h.json, "etag"), etag);
    assert_string_equal(tjson_str(h.json, "bindings.0.members.0"), "user:a@example.com");
    thttp_free(&h);
    h = call("POST", body, "/cloudresourcemanager/v1/projects/test-proj:setIamPolicy");
    assert_int_equal(h.status, 409);
    assert_string_equal(tjson_str(h.json, "error.status"), "ABORTED");
    thttp_free(&h);
    free(body);
    /* Conditions need version 3. */
    h = call("POST",
             "{\"policy\":{\"version\":1,\"bindings\":[{\"role\":\"roles/viewer\",\"members\":"
             "[\"user:a@example.com\"],\"condition\":{\"title\":\"t\",\"expression\":\"true\"}}]}}",
             "/cloudresourcemanager/v1/projects/test-proj:setIamPolicy");
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    free(etag);
}

/* apitools sends bytes fields back in URL-safe base64 without padding. */
static void test_setiampolicy_accepts_url_safe_etag(void **state) {
    const char *url = "/cloudresourcemanager/v1/projects/test-proj:setIamPolicy";
    thttp_t h = call("POST", "{}", "/cloudresourcemanager/v1/projects/test-proj:getIamPolicy");
    char *etag = xstrdup(tjson_str(h.json, "etag"));
    thttp_free(&h);
    for (int i = 0; i < 100 && !strpbrk(etag, "+/"); i++) {
        char *body = xasprintf("{\"policy\":{\"etag\":\"%s\",\"bindings\":[]}}", etag);
        h = call("POST", body, "%s", url);
        assert_int_equal(h.status, 200);
        free(etag);
        etag = xstrdup(tjson_str(h.json, "etag"));
        thttp_free(&h);
        free(body);
    }
    assert_non_null(strpbrk(etag, "+/"));
    for (char *c = etag; *c; c++)
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c == '=' ? '\0' : *c;
    char *body = xasprintf("{\"policy\":{\"etag\":\"%s\",\"bindings\":[]}}", etag);
    h = call("POST", body, "%s", url);
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    free(body);
    free(etag);
}

static void test_iam_service_account_create_duplicate_and_email(void **state) {
    thttp_t h = call("POST", "{\"accountId\":\"builder\",\"serviceAccount\":{\"displayName\":\"B\"}}",
                     "/iam/v1/projects/p/serviceAccounts");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "email"), "builder@p.iam.gserviceaccount.com");
    assert_string_equal(tjson_str(h.json, "name"),
                        "projects/p/serviceAccounts/builder@p.iam.gserviceaccount.com");
    assert_int_equal(strlen(tjson_str(h.json, "uniqueId")), 21);
    thttp_free(&h);
    h = call("POST", "{\"accountId\":\"builder\"}", "/iam/v1/projects/p/serviceAccounts");
    assert_int_equal(h.status, 409);
    thttp_free(&h);
    h = call("POST", "{\"accountId\":\"x\"}", "/iam/v1/projects/p/serviceAccounts");
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    /* An unknown service account in a project policy is refused. */
    h = call("POST",
             "{\"policy\":{\"bindings\":[{\"role\":\"roles/viewer\",\"members\":"
             "[\"serviceAccount:ghost@p.iam.gserviceaccount.com\"]}]}}",
             "/cloudresourcemanager/v1/projects/test-proj:setIamPolicy");
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    h = call("PATCH", "{\"serviceAccount\":{\"description\":\"d\"},\"updateMask\":\"description\"}",
             "/iam/v1/projects/p/serviceAccounts/builder@p.iam.gserviceaccount.com");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "description"), "d");
    assert_string_equal(tjson_str(h.json, "displayName"), "B");
    thttp_free(&h);
}

/* ---- OAuth2 ------------------------------------------------------------------------- */

static char *b64url(const unsigned char *d, size_t n) {
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, d, (int)n);
    char *w = out;
    for (char *r = out; *r; r++) {
        if (*r == '=') continue;
        *w++ = *r == '+' ? '-' : *r == '/' ? '_' : *r;
    }
    *w = '\0';
    return out;
}

static char *sign_jwt(EVP_PKEY *k, const char *kid, const char *iss, const char *aud, long iat, long exp) {
    char *hdr = xasprintf("{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"%s\"}", kid);
    char *cl = xasprintf("{\"iss\":\"%s\",\"scope\":\"https://www.googleapis.com/auth/"
                         "cloud-platform\",\"aud\":\"%s\",\"iat\":%ld,\"exp\":%ld}",
                         iss, aud, iat, exp);
    char *h64 = b64url((unsigned char *)hdr, strlen(hdr)), *c64 = b64url((unsigned char *)cl, strlen(cl));
    char *input = xasprintf("%s.%s", h64, c64);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[512];
    size_t siglen = sizeof sig;
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)input, strlen(input)), 1);
    EVP_MD_CTX_free(ctx);
    char *s64 = b64url(sig, siglen);
    char *jwt = xasprintf("%s.%s", input, s64);
    free(hdr);
    free(cl);
    free(h64);
    free(c64);
    free(input);
    free(s64);
    return jwt;
}

static thttp_t token_request(const char *jwt) {
    char *body = xasprintf("grant_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Agrant-type%%3Ajwt-bearer"
                           "&assertion=%s",
                           jwt);
    char *url = xasprintf("%s/oauth2/token", F->base);
    thttp_t h = req_full("POST", url, body, "application/x-www-form-urlencoded", NULL);
    free(url);
    free(body);
    return h;
}

/* Creates SA "deployer" and a key; returns the key file (new). */
static json_t *make_key(void) {
    thttp_t h = call("POST", "{\"accountId\":\"deployer\"}", "/iam/v1/projects/p/serviceAccounts");
    thttp_free(&h);
    h = call("POST", "{\"privateKeyType\":\"TYPE_GOOGLE_CREDENTIALS_FILE\"}",
             "/iam/v1/projects/p/serviceAccounts/deployer@p.iam.gserviceaccount.com/keys");
    assert_int_equal(h.status, 200);
    const char *data = tjson_str(h.json, "privateKeyData");
    assert_non_null(data);
    unsigned char *raw = xmalloc(strlen(data));
    int n = EVP_DecodeBlock(raw, (const unsigned char *)data, (int)strlen(data));
    assert_true(n > 0);
    while (n > 0 && raw[n - 1] == 0)
        n--;
    json_t *file = json_loadb((char *)raw, (size_t)n, 0, NULL);
    assert_non_null(file);
    assert_string_equal(tjson_str(file, "type"), "service_account");
    assert_string_equal(tjson_str(file, "client_email"), "deployer@p.iam.gserviceaccount.com");
    free(raw);
    thttp_free(&h);
    return file;
}

static EVP_PKEY *pkey_of(const json_t *file) {
    BIO *b = BIO_new_mem_buf(tjson_str(file, "private_key"), -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(k);
    return k;
}

static void test_jwt_grant_with_created_key_issues_working_token(void **state) {
    fx_t *f = *state;
    json_t *file = make_key();
    emu_free(f->emu);
    start(f, 0.1, 1); /* --require-auth; the key persisted in the data dir */
    EVP_PKEY *k = pkey_of(file);
    long now = (long)time(NULL);
    char *jwt = sign_jwt(k, tjson_str(file, "private_key_id"), tjson_str(file, "client_email"),
                         "https://oauth2.googleapis.com/token", now, now + 3600);
    thttp_t h = token_request(jwt);
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "token_type"), "Bearer");
    assert_true(json_integer_value(json_object_get(h.json, "expires_in")) > 0);
    char *auth = xasprintf("Bearer %s", tjson_str(h.json, "access_token"));
    thttp_free(&h);

    char *url = xasprintf("%s/secretmanager/v1/projects/p/secrets", f->base);
    h = req_full("GET", url, NULL, NULL, NULL);
    assert_int_equal(h.status, 401);
    thttp_free(&h);
    h = req_full("GET", url, NULL, NULL, auth);
    assert_int_equal(h.status, 200);
    thttp_free(&h);

    /* Expired / too long-lived assertions are refused. */
    char *old = sign_jwt(k, tjson_str(file, "private_key_id"), tjson_str(file, "client_email"),
                         "https://oauth2.googleapis.com/token", now - 7200, now - 3600);
    h = token_request(old);
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error"), "invalid_grant");
    thttp_free(&h);
    char *aud = sign_jwt(k, tjson_str(file, "private_key_id"), tjson_str(file, "client_email"),
                         "https://example.com/", now, now + 600);
    h = token_request(aud);
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    free(old);
    free(aud);
    free(url);
    free(auth);
    free(jwt);
    EVP_PKEY_free(k);
    json_decref(file);
}

static void test_jwt_with_bad_signature_is_invalid_grant(void **state) {
    json_t *file = make_key();
    EVP_PKEY *other = EVP_RSA_gen(2048);
    long now = (long)time(NULL);
    char *jwt = sign_jwt(other, tjson_str(file, "private_key_id"), tjson_str(file, "client_email"),
                         "https://oauth2.googleapis.com/token", now, now + 3600);
    thttp_t h = token_request(jwt);
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error"), "invalid_grant");
    assert_string_equal(tjson_str(h.json, "error_description"), "Invalid JWT Signature.");
    thttp_free(&h);
    free(jwt);
    /* Unknown issuer. */
    jwt = sign_jwt(other, "nokey", "ghost@p.iam.gserviceaccount.com", "https://oauth2.googleapis.com/token",
                   now, now + 3600);
    h = token_request(jwt);
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error"), "invalid_grant");
    thttp_free(&h);
    free(jwt);
    EVP_PKEY_free(other);
    json_decref(file);
}

static void test_refresh_token_grant_and_token_ttl(void **state) {
    setenv("PLINTH_EMU_REFRESH_TOKENS", "rt-one,rt-two", 1);
    setenv("PLINTH_EMU_TOKEN_TTL", "1", 1);
    char *url = xasprintf("%s/oauth2/token", F->base);
    thttp_t h =
        req_full("POST", url, "grant_type=refresh_token&client_id=c&client_secret=s&refresh_token=rt-two",
                 "application/x-www-form-urlencoded", NULL);
    assert_int_equal(h.status, 200);
    char *info = xasprintf("%s/oauth2/tokeninfo?access_token=%s", F->base, tjson_str(h.json, "access_token"));
    thttp_free(&h);
    h = req_full("GET", info, NULL, NULL, NULL);
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    usleep(1100 * 1000);
    h = req_full("GET", info, NULL, NULL, NULL);
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error"), "invalid_token");
    thttp_free(&h);
    h = req_full("POST", url, "grant_type=refresh_token&client_id=c&client_secret=s&refresh_token=nope",
                 "application/x-www-form-urlencoded", NULL);
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error"), "invalid_grant");
    thttp_free(&h);
    unsetenv("PLINTH_EMU_REFRESH_TOKENS");
    unsetenv("PLINTH_EMU_TOKEN_TTL");
    free(info);
    free(url);
}

/* ---- Secret Manager ----------------------------------------------------------------- */

static void test_secret_versions_access_disable_destroy(void **state) {
    thttp_t h = call("POST", "{\"replication\":{\"automatic\":{}}}",
                     "/secretmanager/v1/projects/p/secrets?secretId=s1");
    assert_int_equal(h.status, 200);
    const char *name = tjson_str(h.json, "name");
    assert_non_null(strstr(name, "projects/"));
    assert_null(strstr(name, "projects/p/")); /* the project NUMBER */
    char *sname = xstrdup(name);
    thttp_free(&h);
    /* "hello" = aGVsbG8=, crc32c 2591144780 */
    h = call("POST", "{\"payload\":{\"data\":\"aGVsbG8=\",\"dataCrc32c\":\"1\"}}",
             "/secretmanager/v1/projects/p/secrets/s1:addVersion");
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    h = call("POST", "{\"payload\":{\"data\":\"aGVsbG8=\",\"dataCrc32c\":\"2591144780\"}}",
             "/secretmanager/v1/projects/p/secrets/s1:addVersion");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "state"), "ENABLED");
    thttp_free(&h);
    h = call("POST", "{\"payload\":{\"data\":\"d29ybGQ=\"}}",
             "/secretmanager/v1/projects/p/secrets/s1:addVersion");
    assert_non_null(strstr(tjson_str(h.json, "name"), "/versions/2"));
    thttp_free(&h);
    /* The returned name works as a path. */
    h = call("GET", NULL, "/secretmanager/v1/%s/versions/latest:access", sname);
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "payload.data"), "d29ybGQ=");
    thttp_free(&h);
    h = call("POST", "{}", "/secretmanager/v1/projects/p/secrets/s1/versions/2:disable");
    assert_string_equal(tjson_str(h.json, "state"), "DISABLED");
    thttp_free(&h);
    h = call("GET", NULL, "/secretmanager/v1/projects/p/secrets/s1/versions/latest:access");
    assert_int_equal(h.status, 400);
    assert_string_equal(tjson_str(h.json, "error.status"), "FAILED_PRECONDITION");
    thttp_free(&h);
    h = call("POST", "{}", "/secretmanager/v1/projects/p/secrets/s1/versions/1:destroy");
    assert_string_equal(tjson_str(h.json, "state"), "DESTROYED");
    thttp_free(&h);
    h = call("GET", NULL, "/secretmanager/v1/projects/p/secrets/s1/versions/1:access");
    assert_int_equal(h.status, 400);
    assert_non_null(strstr(tjson_str(h.json, "error.message"), "DESTROYED"));
    thttp_free(&h);
    h = call("POST", "{}", "/secretmanager/v1/projects/p/secrets/s1/versions/1:enable");
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    h = call("GET", NULL, "/secretmanager/v1/projects/p/secrets/s1/versions");
    assert_int_equal(json_array_size(json_object_get(h.json, "versions")), 2);
    assert_non_null(strstr(tjson_str(h.json, "versions.0.name"), "/versions/2"));
    thttp_free(&h);
    /* replication is immutable */
    h = call("PATCH", "{\"replication\":{\"automatic\":{}}}",
             "/secretmanager/v1/projects/p/secrets/s1?updateMask=replication");
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    h = call("PATCH", "{\"labels\":{\"k\":\"v\"}}",
             "/secretmanager/v1/projects/p/secrets/s1?updateMask=labels");
    assert_string_equal(tjson_str(h.json, "labels.k"), "v");
    thttp_free(&h);
    h = call("POST", "{\"replication\":{\"automatic\":{}}}",
             "/secretmanager/v1/projects/p/secrets?secretId=s1");
    assert_int_equal(h.status, 409);
    thttp_free(&h);
    free(sname);
}

/* ---- Artifact Registry, Service Networking ---------------------------------------------- */

static void test_ar_repository_create_is_lro_and_format_immutable(void **state) {
    thttp_t h = call("POST", "{\"format\":\"DOCKER\"}",
                     "/artifactregistry/v1/projects/p/locations/europe-west1/repositories?repositoryId=r1");
    assert_int_equal(h.status, 200);
    assert_false(json_is_true(json_object_get(h.json, "done")));
    char *op = xasprintf("/artifactregistry/v1/%s", tjson_str(h.json, "name"));
    thttp_free(&h);
    json_t *d = wait_done(op);
    assert_string_equal(tjson_str(d, "response.registryUri"), "europe-west1-docker.pkg.dev/p/r1");
    assert_string_equal(tjson_str(d, "response.mode"), "STANDARD_REPOSITORY");
    json_decref(d);
    free(op);
    h = call("PATCH", "{\"format\":\"MAVEN\"}",
             "/artifactregistry/v1/projects/p/locations/europe-west1/repositories/r1?updateMask=format");
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    h = call("PATCH", "{\"description\":\"images\"}",
             "/artifactregistry/v1/projects/p/locations/europe-west1/repositories/r1?updateMask=description");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "description"), "images");
    thttp_free(&h);
    h = call("POST", "{\"format\":\"docker\"}",
             "/artifactregistry/v1/projects/p/locations/europe-west1/repositories?repositoryId=r2");
    assert_int_equal(h.status, 400);
    thttp_free(&h);
}

static void test_servicenetworking_connection_lro_and_list_by_network(void **state) {
    thttp_t h =
        call("POST", "{\"network\":\"projects/p/global/networks/vpc\",\"reservedPeeringRanges\":[\"r\"]}",
             "/servicenetworking/v1/services/servicenetworking.googleapis.com/connections");
    assert_int_equal(h.status, 200);
    assert_false(json_is_true(json_object_get(h.json, "done")));
    char *op = xasprintf("/servicenetworking/v1/%s", tjson_str(h.json, "name"));
    thttp_free(&h);
    json_decref(wait_done(op));
    free(op);
    /* Listed by the project NUMBER form of the same network. */
    char *net = xasprintf("projects/%s/global/networks/vpc", emu_project_number(F->emu, "p"));
    h = call("GET", NULL,
             "/servicenetworking/v1/services/servicenetworking.googleapis.com/connections?network=%s", net);
    assert_int_equal(json_array_size(json_object_get(h.json, "connections")), 1);
    assert_string_equal(tjson_str(h.json, "connections.0.peering"), "servicenetworking-googleapis-com");
    thttp_free(&h);
    free(net);
}

static void test_trusted_key_files_from_env_verify_jwts(void **state) {
    fx_t *f = *state;
    EVP_PKEY *k = EVP_RSA_gen(2048);
    char *pem_path = xasprintf("%s/trusted.pem", f->dir);
    FILE *fp = fopen(pem_path, "w");
    assert_non_null(fp);
    assert_int_equal(PEM_write_PUBKEY(fp, k), 1);
    fclose(fp);
    setenv("PLINTH_EMU_TRUSTED_KEYS", pem_path, 1);
    emu_free(f->emu);
    start(f, 0.1, 0);
    unsetenv("PLINTH_EMU_TRUSTED_KEYS");
    long now = (long)time(NULL);
    char *jwt = sign_jwt(k, "any", "ci@other.iam.gserviceaccount.com", "https://oauth2.googleapis.com/token",
                         now, now + 600);
    thttp_t h = token_request(jwt);
    assert_int_equal(h.status, 200);
    assert_non_null(tjson_str(h.json, "access_token"));
    thttp_free(&h);
    free(jwt);
    /* A key the emulator does not know is still refused. */
    EVP_PKEY *other = EVP_RSA_gen(2048);
    jwt = sign_jwt(other, "any", "ci@other.iam.gserviceaccount.com", "https://oauth2.googleapis.com/token",
                   now, now + 600);
    h = token_request(jwt);
    assert_int_equal(h.status, 400);
    thttp_free(&h);
    free(jwt);
    EVP_PKEY_free(other);
    EVP_PKEY_free(k);
    free(pem_path);
}

static void test_workload_identity_binding_needs_a_wi_cluster(void **state) {
    thttp_t h = call("POST", "{\"accountId\":\"app-gsa\"}", "/iam/v1/projects/p/serviceAccounts");
    assert_int_equal(h.status, 200);
    thttp_free(&h);
    const char *pol = "{\"policy\":{\"bindings\":[{\"role\":\"roles/iam.workloadIdentityUser\","
                      "\"members\":[\"serviceAccount:p.svc.id.goog[ml/runner]\"]}]}}";
    h = call("POST", pol,
             "/iam/v1/projects/p/serviceAccounts/app-gsa@p.iam.gserviceaccount.com:setIamPolicy");
    assert_int_equal(h.status, 400);
    assert_non_null(strstr(tjson_str(h.json, "error.message"), "Identity Pool does not exist"));
    thttp_free(&h);
    h = call("POST",
             "{\"cluster\":{\"name\":\"wi\",\"workloadIdentityConfig\":{\"workloadPool\":"
             "\"p.svc.id.goog\"}}}",
             GKE "/clusters");
    gke_wait(h.json);
    thttp_free(&h);
    h = call("POST", pol,
             "/iam/v1/projects/p/serviceAccounts/app-gsa@p.iam.gserviceaccount.com:setIamPolicy");
    assert_int_equal(h.status, 200);
    assert_string_equal(tjson_str(h.json, "bindings.0.members.0"), "serviceAccount:p.svc.id.goog[ml/runner]");
    thttp_free(&h);
}

static void test_servicenetworking_delete_fails_while_sql_uses_network(void **state) {
    const char *net = "projects/p/global/networks/vpc";
    char *body = xasprintf("{\"network\":\"%s\",\"reservedPeeringRanges\":[\"r\"]}", net);
    thttp_t h =
        call("POST", body, "/servicenetworking/v1/services/servicenetworking.googleapis.com/connections");
    char *op = xasprintf("/servicenetworking/v1/%s", tjson_str(h.json, "name"));
    thttp_free(&h);
    json_decref(wait_done(op));
    free(op);
    char *inst = xasprintf("{\"name\":\"priv\",\"databaseVersion\":\"POSTGRES_16\",\"settings\":"
                           "{\"ipConfiguration\":{\"ipv4Enabled\":false,\"privateNetwork\":\"%s\"}}}",
                           net);
    h = call("POST", inst, SQL "/instances");
    sql_wait(h.json);
    thttp_free(&h);
    h = call("GET", NULL, SQL "/instances/priv");
    assert_string_equal(tjson_str(h.json, "ipAddresses.0.type"), "PRIVATE");
    thttp_free(&h);
    char *del = xasprintf("{\"consumerNetwork\":\"%s\"}", net);
    h = call("POST", del,
             "/servicenetworking/v1/services/servicenetworking.googleapis.com/connections/"
             "servicenetworking-googleapis-com");
    assert_int_equal(h.status, 200);
    op = xasprintf("/servicenetworking/v1/%s", tjson_str(h.json, "name"));
    thttp_free(&h);
    json_t *d = wait_done(op);
    assert_int_equal(json_integer_value(tjson_get(d, "error.code")), 9);
    json_decref(d);
    free(op);
    free(del);
    free(inst);
    free(body);
}

int main(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    assert_string_equal(emu_api_container.name, "container");
    const emu_api_t *all[] = {
        &emu_api_sqladmin,         &emu_api_servicenetworking, &emu_api_iam,   &emu_api_cloudresourcemanager,
        &emu_api_artifactregistry, &emu_api_secretmanager,     &emu_api_oauth2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        assert_non_null(all[i]->name);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_gke_cluster_provisions_then_runs_with_real_fields),
        T(test_gke_second_operation_while_one_runs_is_400_failed_precondition),
        T(test_gke_update_takes_exactly_one_desired_field),
        T(test_gke_node_pool_create_set_size_and_delete),
        T(test_gke_delete_cluster_stops_then_is_gone),
        T(test_operations_left_running_finish_after_restart),
        T(test_sql_instance_create_fields_and_duplicate_409),
        T(test_sql_stale_settings_version_is_412_and_each_change_bumps_it),
        T(test_sql_deletion_protection_refuses_delete),
        T(test_sql_second_operation_is_409_operation_in_progress),
        T(test_crm_stale_etag_is_409_aborted),
        T(test_setiampolicy_accepts_url_safe_etag),
        T(test_iam_service_account_create_duplicate_and_email),
        T(test_jwt_grant_with_created_key_issues_working_token),
        T(test_jwt_with_bad_signature_is_invalid_grant),
        T(test_refresh_token_grant_and_token_ttl),
        T(test_secret_versions_access_disable_destroy),
        T(test_ar_repository_create_is_lro_and_format_immutable),
        T(test_servicenetworking_connection_lro_and_list_by_network),
        T(test_trusted_key_files_from_env_verify_jwts),
        T(test_workload_identity_binding_needs_a_wi_cluster),
        T(test_servicenetworking_delete_fails_while_sql_uses_network),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
