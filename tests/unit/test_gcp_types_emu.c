/* test_gcp_types_emu.c: the GCP provider's resource types end to end
 * through the rtype callbacks against an in-process plinth-emulator:
 * create/read/update/remove, in-place update verbs, resumed operations,
 * concurrent children waiting out a parent's lock, protected resources. */
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
    return cmocka_run_group_tests_name("gcp_types_emulator", emu, world_setup, world_teardown);
}
