/* test_k8s.c: the Kubernetes provider: YAML manifests (every upstream test
 * manifest parses with the documented document counts, scalars resolve as
 * Kubernetes does, errors carry file:line:col), k8s.manifest expansion
 * (stable keys, duplicates, List documents), implicit ordering, the kubeconfig and server URL rule, and
 * the provider's callbacks against an in-process emulator (apply, readiness,
 * immutable fields, discovery refresh, foreground deletion). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <pthread.h>

#include "core/jpath.h"
#include "core/rtype.h"
#include "core/spec.h"
#include "emulator/emu.h"
#include "providers/k8s/k8s.h"
#include "providers/k8s/k8s_manifest.h"
#include "providers/k8s/k8s_yaml.h"

extern const emu_api_t emu_api_k8s;

static const char *testdata(void) {
    const char *d = getenv("PLINTH_K8S_TESTDATA");
    return d && *d ? d : "/work/shared/testdata/k8s";
}

static json_t *parse_file(const char *rel, perr_t *e) {
    char *path = xasprintf("%s/%s", testdata(), rel);
    size_t n;
    char *t = util_read_file(path, &n, e);
    free(path);
    if (!t) return NULL;
    json_t *d = k8s_yaml_parse(t, n, rel, NULL, e);
    free(t);
    return d;
}

static int have_testdata(void) {
    struct stat st;
    char *p = xasprintf("%s/SOURCES.md", testdata());
    int ok = stat(p, &st) == 0;
    if (!ok) fprintf(stderr, "test_k8s: SKIP (no testdata: %s)\n", p);
    free(p);
    return ok;
}

/* ---- YAML ---------------------------------------------------------------- */

static void yaml_every_testdata_manifest_parses_with_documented_doc_count(void **st) {
    (void)st;
    if (!have_testdata()) skip();
    static const struct {
        const char *file;
        size_t docs;
    } want[] = {
        {"argo-workflows/quick-start-minimal.yaml", 52},
        {"argo-workflows/quick-start-postgres.yaml", 55},
        {"argo-workflows/argoproj.io_workflowtasksets.full.yaml", 1},
        {"argo-workflows/template-on-exit.yaml", 1},
        {"argo-events/install.yaml", 11},
        {"argo-events/install-validating-webhook.yaml", 5},
        {"argo-events/controller-config.yaml", 1},
        {"kuberay/ray.io_rayclusters.yaml", 1},
        {"kuberay/ray.io_rayjobs.yaml", 1},
        {"kuberay/ray.io_rayservices.yaml", 1},
        {"kuberay/ray-cluster.sample.yaml", 1},
        {"kuberay/ray-job.sample.yaml", 2},
        {"kuberay/ray-service.sample.yaml", 1},
        {"kuberay/historyserver-raycluster.yaml", 1},
        {"kuberay/prometheusRules.yaml", 1},
        {"ingress-nginx/deploy-cloud.yaml", 19},
        {"metallb/metallb-native.yaml", 26},
        {"local-path-provisioner/local-path-storage.yaml", 9},
        {"kube-prometheus/kubernetesControlPlane-serviceMonitorKubelet.yaml", 1},
        {"kube-prometheus/grafana-dashboardDefinitions.yaml", 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        perr_t e = {0};
        json_t *d = parse_file(want[i].file, &e);
        if (!d) fail_msg("%s: %s", want[i].file, e.msg);
        if (json_array_size(d) != want[i].docs)
            fail_msg("%s: %zu documents, want %zu", want[i].file, json_array_size(d), want[i].docs);
        /* every document is an addressable object */
        size_t j;
        json_t *doc;
        json_array_foreach(d, j, doc) {
            char *k = k8s_object_key(doc);
            /* except generateName objects (an Argo Workflow to submit) and
             * *List documents (expanded item by item) */
            if (!k && !jpath_get(doc, "metadata.generateName") &&
                !json_is_array(json_object_get(doc, "items")))
                fail_msg("%s doc %zu has no kind/name", want[i].file, j);
            free(k);
        }
        json_decref(d);
    }
}

static void yaml_quoted_scalars_stay_strings_and_plain_ones_resolve(void **st) {
    (void)st;
    if (!have_testdata()) skip();
    perr_t e = {0};
    json_t *d = parse_file("argo-workflows/quick-start-minimal.yaml", &e);
    assert_non_null(d);
    json_t *v = json_object_get(jpath_get(json_array_get(d, 18), "metadata.labels"),
                                "rbac.authorization.k8s.io/aggregate-to-admin");
    assert_true(json_is_string(v));
    assert_string_equal(json_string_value(v), "true");
    assert_string_equal(json_string_value(jpath_get(json_array_get(d, 36), "data.namespaceParallelism")),
                        "10");
    assert_string_equal(
        json_string_value(jpath_get(json_array_get(d, 50), "spec.template.spec.containers.0.env.0.value")),
        "80");
    assert_int_equal(json_integer_value(jpath_get(json_array_get(d, 44), "spec.ports.0.port")), 2746);
    json_decref(d);
}

static void yaml_anchors_merge_keys_and_block_scalars(void **st) {
    (void)st;
    const char *y = "base: &b {a: 1, s: \"2\"}\n"
                    "x:\n  <<: *b\n  a: 3\n"
                    "lit: |\n  one\n  two\n"
                    "fold: >-\n  a\n  b\n"
                    "n: ~\noct: 0o17\nf: 1.5\nq: '007'\n";
    perr_t e = {0};
    json_t *d = k8s_yaml_parse(y, strlen(y), "t.yaml", NULL, &e);
    assert_non_null(d);
    json_t *o = json_array_get(d, 0);
    assert_int_equal(json_integer_value(jpath_get(o, "x.a")), 3);
    assert_string_equal(json_string_value(jpath_get(o, "x.s")), "2");
    assert_string_equal(json_string_value(json_object_get(o, "lit")), "one\ntwo\n");
    assert_string_equal(json_string_value(json_object_get(o, "fold")), "a b");
    assert_true(json_is_null(json_object_get(o, "n")));
    assert_int_equal(json_integer_value(json_object_get(o, "oct")), 15);
    assert_true(json_is_real(json_object_get(o, "f")));
    assert_string_equal(json_string_value(json_object_get(o, "q")), "007");
    json_decref(d);
}

static void yaml_megabyte_crd_parses_and_dump_round_trips(void **st) {
    (void)st;
    if (!have_testdata()) skip();
    perr_t e = {0};
    json_t *d = parse_file("kuberay/ray.io_rayjobs.yaml", &e);
    assert_non_null(d);
    json_t *crd = json_array_get(d, 0);
    assert_string_equal(json_string_value(jpath_get(crd, "spec.group")), "ray.io");
    char *y = k8s_yaml_dump(crd);
    assert_true(strlen(y) > 1000000);
    json_t *back = k8s_yaml_parse(y, strlen(y), "dump", NULL, &e);
    assert_non_null(back);
    assert_true(json_equal(json_array_get(back, 0), crd));
    free(y);
    json_decref(back);
    json_decref(d);
}

static void yaml_malformed_document_error_names_file_line_and_column(void **st) {
    (void)st;
    const char *y = "apiVersion: v1\nkind: ConfigMap\n---\nmetadata:\n  name: [a, b\nspec: 1\n";
    perr_t e = {0};
    json_t *d = k8s_yaml_parse(y, strlen(y), "bad.yaml", NULL, &e);
    assert_null(d);
    if (!strstr(e.msg, "bad.yaml:6:")) fail_msg("error: %s", e.msg);
}

/* ---- manifests --------------------------------------------------------- */

static json_t *expand_argo(perr_t *e) {
    char *path = xasprintf("%s/argo-workflows/quick-start-minimal.yaml", testdata());
    json_t *body = json_pack("{s:s,s:s,s:{s:s,s:s}}", "file", path, "namespace", "argo", "cluster", "id",
                             "abc", "name", "c");
    json_t *items = NULL;
    int rc = k8s_manifest_expand(body, "/nonexistent", &items, e);
    json_decref(body);
    free(path);
    return rc == 0 ? items : NULL;
}

static int has_key(const json_t *items, const char *key) {
    size_t i;
    json_t *x;
    json_array_foreach(items, i, x) if (!strcmp(json_string_value(json_object_get(x, "key")), key)) return 1;
    return 0;
}

static void manifest_expands_one_object_per_document_with_stable_keys(void **st) {
    (void)st;
    if (!have_testdata()) skip();
    perr_t e = {0};
    json_t *a = expand_argo(&e), *b = expand_argo(&e);
    if (!a || !b) fail_msg("%s", e.msg);
    assert_int_equal(json_array_size(a), 52);
    assert_true(has_key(a, "Deployment/argo/workflow-controller"));
    assert_true(has_key(a, "CustomResourceDefinition/workflows.argoproj.io"));
    assert_true(has_key(a, "ClusterRole/argo-aggregate-to-admin"));
    assert_true(has_key(a, "PriorityClass/workflow-controller"));
    assert_true(has_key(a, "ConfigMap/argo/workflow-controller-configmap"));
    size_t i;
    json_t *x;
    int prev = 0;
    json_array_foreach(a, i, x) {
        assert_string_equal(json_string_value(json_object_get(x, "key")),
                            json_string_value(json_object_get(json_array_get(b, i), "key")));
        json_t *body = json_object_get(x, "body");
        assert_string_equal(json_string_value(jpath_get(body, "cluster.id")), "abc");
        assert_null(json_object_get(body, "file"));
        int line = (int)json_integer_value(json_object_get(x, "line"));
        assert_true(line > prev);
        prev = line;
    }
    json_decref(a);
    json_decref(b);
}

static void manifest_malformed_yaml_names_file_line_col_and_returns_nothing(void **st) {
    (void)st;
    char dir[] = "/tmp/plinth-k8s-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *path = xasprintf("%s/bad.yaml", dir);
    FILE *f = fopen(path, "w");
    fputs("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\n  "
          "metadata: x\n",
          f);
    fclose(f);
    json_t *body = json_pack("{s:s}", "file", "bad.yaml");
    json_t *items = NULL;
    perr_t e = {0};
    assert_int_equal(k8s_manifest_expand(body, dir, &items, &e), -1);
    assert_null(items);
    if (!strstr(e.msg, "bad.yaml:7:")) fail_msg("error: %s", e.msg);
    json_decref(body);
    unlink(path);
    rmdir(dir);
    free(path);
}

static void manifest_duplicate_objects_and_missing_names_are_errors(void **st) {
    (void)st;
    const char *y = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n---\n"
                    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: n}\n";
    json_t *body = json_pack("{s:s}", "yaml", y), *items = NULL;
    perr_t e = {0};
    assert_int_equal(k8s_manifest_expand(body, NULL, &items, &e), -1);
    if (!strstr(e.msg, "duplicate object ConfigMap/n/a") || !strstr(e.msg, ":5:")) fail_msg("%s", e.msg);
    json_decref(body);
    body = json_pack("{s:s}", "yaml", "apiVersion: v1\nkind: ConfigMap\n");
    assert_int_equal(k8s_manifest_expand(body, NULL, &items, &e), -1);
    assert_non_null(strstr(e.msg, "metadata.name"));
    json_decref(body);
    body = json_pack("{s:s,s:s}", "yaml", "a: 1", "file", "x.yaml");
    assert_int_equal(k8s_manifest_expand(body, NULL, &items, &e), -1);
    json_decref(body);
}

static void manifest_list_documents_expand_to_their_items(void **st) {
    (void)st;
    if (!have_testdata()) skip();
    char *path = xasprintf("%s/kube-prometheus/grafana-dashboardDefinitions.yaml", testdata());
    json_t *body = json_pack("{s:s,s:s}", "file", path, "namespace", "monitoring"), *items = NULL;
    perr_t e = {0};
    if (k8s_manifest_expand(body, NULL, &items, &e) != 0) fail_msg("%s", e.msg);
    assert_int_equal(json_array_size(items), 33);
    assert_non_null(
        strstr(json_string_value(json_object_get(json_array_get(items, 0), "key")), "ConfigMap/monitoring/"));
    json_decref(items);
    json_decref(body);
    free(path);
}

static void manifest_crd_scope_decides_whether_default_namespace_applies(void **st) {
    (void)st;
    const char *y = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
                    "metadata: {name: gadgets.x.io}\nspec: {group: x.io, scope: Cluster, names: {kind: "
                    "Gadget, plural: gadgets}}\n"
                    "---\napiVersion: x.io/v1\nkind: Gadget\nmetadata: {name: g}\n"
                    "---\napiVersion: x.io/v1\nkind: Widget\nmetadata: {name: w}\n";
    json_t *body = json_pack("{s:s,s:s}", "yaml", y, "namespace", "ns1"), *items = NULL;
    perr_t e = {0};
    assert_int_equal(k8s_manifest_expand(body, NULL, &items, &e), 0);
    assert_true(has_key(items, "CustomResourceDefinition/gadgets.x.io"));
    assert_true(has_key(items, "Gadget/g"));
    assert_true(has_key(items, "Widget/ns1/w"));
    json_decref(items);
    json_decref(body);
}

/* ---- implicit dependencies ---------------------------------------------------- */

static void add_res(spec_t *s, const char *addr, const char *type, const char *name, json_t *body) {
    s->res = xrealloc(s->res, (s->nres + 1) * sizeof *s->res);
    spec_res_t *r = &s->res[s->nres++];
    memset(r, 0, sizeof *r);
    r->addr = xstrdup(addr);
    r->type = xstrdup(type);
    r->name = xstrdup(name);
    r->body = body;
}

/* What the spec loader does with the link hook's edges. */
static void add_link(void *ud, size_t i, const char *addr) {
    spec_res_t *r = &((spec_t *)ud)->res[i];
    if (!strlist_has(&r->depends_on, addr)) strlist_add(&r->depends_on, addr);
}

static void implicit_deps_order_crds_before_crs_and_namespaces_before_contents(void **st) {
    (void)st;
    spec_t s = {0};
    add_res(&s, "k8s.object.cr", "k8s.object", "cr",
            json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "ray.io/v1", "kind", "RayCluster", "metadata",
                      "name", "r", "namespace", "ml"));
    add_res(&s, "k8s.object.crd", "k8s.object", "crd",
            json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:{s:s}}}", "apiVersion", "apiextensions.k8s.io/v1", "kind",
                      "CustomResourceDefinition", "metadata", "name", "rayclusters.ray.io", "spec", "group",
                      "ray.io", "names", "kind", "RayCluster"));
    add_res(&s, "k8s.namespace.ml", "k8s.namespace", "ml", json_object());
    add_res(&s, "k8s.object.cm", "k8s.object", "cm",
            json_pack("{s:s,s:s,s:{s:s,s:s}}", "apiVersion", "v1", "kind", "ConfigMap", "metadata", "name",
                      "c", "namespace", "other"));
    k8s_link(&s, add_link, &s);
    assert_true(strlist_has(&s.res[0].depends_on, "k8s.object.crd"));
    assert_true(strlist_has(&s.res[0].depends_on, "k8s.namespace.ml"));
    assert_int_equal(s.res[0].depends_on.n, 2);
    assert_int_equal(s.res[1].depends_on.n, 0);
    assert_int_equal(s.res[2].depends_on.n, 0);
    assert_int_equal(s.res[3].depends_on.n, 0);
    for (size_t i = 0; i < s.nres; i++) {
        free(s.res[i].addr);
        free(s.res[i].type);
        free(s.res[i].name);
        json_decref(s.res[i].body);
        strlist_free(&s.res[i].depends_on);
    }
    free(s.res);
}

/* ---- kubeconfig and server URL --------------------------------------------------- */

static void kubeconfig_uses_emulator_url_or_ca_and_auth_plugin(void **st) {
    (void)st;
    json_t *c = json_pack("{s:s,s:s,s:s,s:{s:s}}", "name", "ml", "id", "abc123", "endpoint", "34.1.2.3",
                          "masterAuth", "clusterCaCertificate", "Q0E=");
    char *y = NULL;
    perr_t e = {0};
    assert_int_equal(k8s_kubeconfig("http://127.0.0.1:9/", c, NULL, &y, &e), 0);
    assert_non_null(strstr(y, "server: http://127.0.0.1:9/k8s/abc123\n"));
    assert_null(strstr(y, "certificate-authority-data"));
    free(y);
    assert_int_equal(k8s_kubeconfig(NULL, c, "prod", &y, &e), 0);
    assert_non_null(strstr(y, "server: https://34.1.2.3\n"));
    assert_non_null(strstr(y, "certificate-authority-data: Q0E="));
    assert_non_null(strstr(y, "gke-gcloud-auth-plugin"));
    assert_non_null(strstr(y, "current-context: prod"));
    json_t *back = k8s_yaml_parse(y, strlen(y), "kc", NULL, &e);
    assert_non_null(back);
    json_decref(back);
    free(y);
    json_t *noep = json_pack("{s:s}", "name", "x");
    assert_null(k8s_server_url(NULL, noep, &e));
    assert_null(k8s_server_url("http://e", noep, &e));
    json_decref(noep);
    json_decref(c);
}

static const rtype_t *obj_type(void);

static void normalize_makes_canonical_quantities_and_secret_data_comparable(void **st) {
    (void)st;
    json_t *desired = json_loads("{\"kind\":\"Secret\",\"stringData\":{\"k\":\"hello\"},"
                                 "\"spec\":{\"resources\":{\"limits\":{\"cpu\":\"1000m\",\"memory\":\"1Gi\"},"
                                 "\"requests\":{\"cpu\":0.5}}},"
                                 "\"metadata\":{\"labels\":{\"v\":\"1k\"},\"creationTimestamp\":null}}",
                                 0, NULL);
    json_t *live = json_loads("{\"kind\":\"Secret\",\"data\":{\"k\":\"aGVsbG8=\"},"
                              "\"spec\":{\"resources\":{\"limits\":{\"cpu\":\"1\",\"memory\":\"1024Mi\"},"
                              "\"requests\":{\"cpu\":\"500m\"}}},"
                              "\"metadata\":{\"labels\":{\"v\":\"1000\"},\"managedFields\":[],"
                              "\"creationTimestamp\":\"2024-01-01T00:00:00Z\"}}",
                              0, NULL);
    assert_non_null(desired);
    assert_non_null(live);
    obj_type()->normalize(obj_type(), live, desired);
    assert_string_equal(json_string_value(jpath_get(live, "stringData.k")), "hello");
    assert_string_equal(json_string_value(jpath_get(live, "spec.resources.limits.cpu")), "1000m");
    assert_string_equal(json_string_value(jpath_get(live, "spec.resources.limits.memory")), "1Gi");
    assert_true(json_is_number(jpath_get(live, "spec.resources.requests.cpu")));
    assert_string_equal(json_string_value(jpath_get(live, "metadata.labels.v")),
                        "1000"); /* not a quantity field */
    assert_null(jpath_get(live, "metadata.managedFields"));
    assert_true(json_is_null(jpath_get(live, "metadata.creationTimestamp")));
    json_decref(desired);
    json_decref(live);
}

/* ---- provider against an in-process emulator --------------------------------------- */

typedef struct {
    emu_t *emu;
    char base[64];
    void *prov;
    json_t *cluster;
    strlist_t progress;
} pfx_t;

static void on_progress(void *ud, const char *addr, const char *msg) {
    (void)addr;
    strlist_add(&((pfx_t *)ud)->progress, msg);
}

static int psetup(void **state) {
    pfx_t *f = xcalloc(1, sizeof *f);
    emu_config_t cfg = {.op_scale = 0.2};
    perr_t e = {0};
    f->emu = emu_new(&cfg, &e);
    if (!f->emu || emu_start(f->emu, &e) != 0) return -1;
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", emu_port(f->emu));
    emu_lock(f->emu);
    /* A cluster with one node: the emulator schedules Pods onto its Nodes. */
    emu_put(f->emu, "container/projects/p/locations/l/clusters/c",
            json_pack("{s:s,s:s,s:s,s:s,s:[{s:s,s:i,s:[s],s:{s:s}}]}", "name", "c", "id", "cid1", "location",
                      "l", "endpoint", "34.0.0.1", "nodePools", "name", "default-pool", "plinth:nodeCount", 1,
                      "locations", "l-a", "config", "machineType", "e2-standard-4"));
    emu_unlock(f->emu);
    prov_env_t env = {.endpoint = f->base};
    json_t *cfgj = json_object();
    f->prov = k8s_provider.open(cfgj, &env, &e);
    json_decref(cfgj);
    if (!f->prov) return -1;
    f->cluster = json_pack("{s:s,s:s,s:s,s:s,s:s}", "endpoint", "34.0.0.1", "id", "cid1", "name", "c",
                           "location", "l", "project", "p");
    *state = f;
    return 0;
}

static int pteardown(void **state) {
    pfx_t *f = *state;
    k8s_provider.close(f->prov);
    emu_stop(f->emu);
    emu_free(f->emu);
    json_decref(f->cluster);
    strlist_free(&f->progress);
    free(f);
    return 0;
}

static const rtype_t *obj_type(void) {
    for (const rtype_t *const *t = k8s_provider.types; *t; t++)
        if (!strcmp((*t)->name, "k8s.object")) return *t;
    return NULL;
}

static void ctx(pfx_t *f, rctx_t *c, perr_t *e) {
    memset(c, 0, sizeof *c);
    c->type = obj_type();
    c->addr = "k8s.object.x";
    c->prov = f->prov;
    c->err = e;
    c->progress = on_progress;
    c->ud = f;
}

static json_t *obj(pfx_t *f, const char *json) {
    json_t *o = json_loads(json, 0, NULL);
    assert_non_null(o);
    json_object_set(o, "cluster", f->cluster);
    return o;
}

static void provider_applies_waits_for_rollout_and_reads_back(void **state) {
    pfx_t *f = *state;
    rctx_t c;
    perr_t e = {0};
    ctx(f, &c, &e);
    json_t *ns = obj(f, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"apps\"}}");
    char *id = NULL;
    json_t *live = NULL;
    if (obj_type()->create(&c, ns, &id, &live) != 0) fail_msg("%s", e.msg);
    assert_string_equal(id, "projects/p/locations/l/clusters/c|v1|Namespace||apps");
    free(id);
    json_decref(live);
    json_t *d = obj(f, "{\"apiVersion\":\"apps/"
                       "v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"w\",\"namespace\":\"apps\"},"
                       "\"spec\":{\"replicas\":2,\"selector\":{\"matchLabels\":{\"app\":\"w\"}},\"template\":"
                       "{\"metadata\":{\"labels\":{\"app\":\"w\"}},"
                       "\"spec\":{\"containers\":[{\"name\":\"w\",\"image\":\"nginx\"}]}}}}");
    if (obj_type()->create(&c, d, &id, &live) != 0) fail_msg("%s", e.msg);
    assert_int_equal(json_integer_value(jpath_get(live, "status.availableReplicas")), 2);
    assert_null(jpath_get(live, "metadata.managedFields"));
    assert_null(json_object_get(live, "cluster"));
    int waited = 0;
    for (size_t i = 0; i < f->progress.n; i++)
        waited |= strstr(f->progress.v[i], "waiting for rollout") != NULL;
    assert_true(waited);
    /* read without a resolved body: the connection comes from the ID */
    json_t *r = NULL;
    json_t *unresolved = json_pack("{s:{s:s,s:s,s:s}}", "cluster", "$plinth", "ref", "addr",
                                   "gcp.container_cluster.c", "path", "id");
    assert_int_equal(obj_type()->read(&c, id, unresolved, &r), 0);
    assert_non_null(r);
    assert_string_equal(json_string_value(jpath_get(r, "metadata.name")), "w");
    json_decref(r);
    /* a fresh provider finds the cluster through the container API */
    prov_env_t env = {.endpoint = f->base};
    json_t *cfgj = json_object();
    rctx_t c2 = c;
    c2.prov = k8s_provider.open(cfgj, &env, &e);
    json_decref(cfgj);
    assert_non_null(c2.prov);
    r = NULL;
    if (obj_type()->read(&c2, id, unresolved, &r) != 0) fail_msg("%s", e.msg);
    assert_non_null(r);
    json_decref(r);
    k8s_provider.close(c2.prov);
    json_decref(unresolved);
    /* a selector change is refused by the API: the error says --replace */
    jpath_set_new(d, "spec.selector.matchLabels.app", json_string("v"));
    jpath_set_new(d, "spec.template.metadata.labels.app", json_string("v"));
    json_t *nl = NULL;
    assert_int_equal(obj_type()->update(&c, id, d, live, NULL, &nl), -1);
    if (!strstr(e.msg, "--replace")) fail_msg("%s", e.msg);
    /* foreground deletion waits until the object is gone */
    perr_clear(&e);
    if (obj_type()->remove(&c, id, live) != 0) fail_msg("%s", e.msg);
    assert_int_equal(obj_type()->read(&c, id, NULL, &r), 0);
    assert_null(r);
    free(id);
    json_decref(live);
    json_decref(d);
    json_decref(ns);
}

static void provider_discovers_custom_kinds_after_their_crd(void **state) {
    pfx_t *f = *state;
    rctx_t c;
    perr_t e = {0};
    ctx(f, &c, &e);
    json_t *cr = obj(
        f,
        "{\"apiVersion\":\"x.io/v1\",\"kind\":\"Gadget\",\"metadata\":{\"name\":\"g\"},\"spec\":{\"a\":1}}");
    char *id = NULL;
    json_t *live = NULL;
    /* before the CRD: reads as absent, create explains */
    char *cid = obj_type()->id_of(&c, cr);
    assert_non_null(cid);
    assert_int_equal(obj_type()->read(&c, cid, cr, &live), 0);
    assert_null(live);
    json_object_set_new(cr, "wait_timeout", json_integer(0));
    assert_int_equal(obj_type()->create(&c, cr, &id, &live), -1);
    assert_non_null(strstr(e.msg, "CustomResourceDefinition"));
    json_object_del(cr, "wait_timeout");
    json_t *crd =
        obj(f, "{\"apiVersion\":\"apiextensions.k8s.io/"
               "v1\",\"kind\":\"CustomResourceDefinition\",\"metadata\":{\"name\":\"gadgets.x.io\"},"
               "\"spec\":{\"group\":\"x.io\",\"scope\":\"Cluster\",\"names\":{\"kind\":\"Gadget\",\"plural\":"
               "\"gadgets\"},"
               "\"versions\":[{\"name\":\"v1\",\"served\":true,\"storage\":true}]}}");
    perr_clear(&e);
    if (obj_type()->create(&c, crd, &id, &live) != 0) fail_msg("%s", e.msg);
    free(id);
    json_decref(live);
    if (obj_type()->create(&c, cr, &id, &live) != 0) fail_msg("%s", e.msg);
    assert_int_equal(json_integer_value(jpath_get(live, "spec.a")), 1);
    free(id);
    free(cid);
    json_decref(live);
    json_decref(cr);
    json_decref(crd);
}

typedef struct {
    rctx_t c;
    json_t *obj;
    int rc;
    char *id;
    json_t *live;
} bg_t;

static void *bg_create(void *ud) {
    bg_t *b = ud;
    b->rc = obj_type()->create(&b->c, b->obj, &b->id, &b->live);
    return NULL;
}

static void provider_waits_for_a_namespace_created_meanwhile(void **state) {
    pfx_t *f = *state;
    perr_t e = {0}, e2 = {0};
    bg_t b = {0};
    ctx(f, &b.c, &e2);
    b.c.progress = NULL;
    b.obj = obj(f, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\",\"namespace\":"
                   "\"late\"},\"data\":{\"a\":\"1\"}}");
    pthread_t th;
    pthread_create(&th, NULL, bg_create, &b);
    usleep(200 * 1000);
    rctx_t c;
    ctx(f, &c, &e);
    json_t *ns = obj(f, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"late\"}}");
    char *id = NULL;
    json_t *live = NULL;
    assert_int_equal(obj_type()->create(&c, ns, &id, &live), 0);
    pthread_join(th, NULL);
    if (b.rc != 0) fail_msg("%s", e2.msg);
    assert_string_equal(json_string_value(jpath_get(b.live, "data.a")), "1");
    free(id);
    free(b.id);
    json_decref(live);
    json_decref(b.live);
    json_decref(b.obj);
    json_decref(ns);
}

static void provider_connects_through_a_kubeconfig_file(void **state) {
    pfx_t *f = *state;
    char *yaml = NULL;
    perr_t e = {0};
    assert_int_equal(k8s_kubeconfig(f->base, f->cluster, "emu", &yaml, &e), 0);
    char path[] = "/tmp/plinth-k8s-kc-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    free(yaml);
    rctx_t c;
    ctx(f, &c, &e);
    json_t *cm = json_pack("{s:s,s:s,s:{s:s,s:s},s:{s:s},s:s,s:s}", "apiVersion", "v1", "kind", "ConfigMap",
                           "metadata", "name", "kc", "namespace", "default", "data", "x", "y", "kubeconfig",
                           path, "context", "emu");
    char *id = NULL;
    json_t *live = NULL;
    if (obj_type()->create(&c, cm, &id, &live) != 0) fail_msg("%s", e.msg);
    assert_non_null(strstr(id, "kubeconfig:"));
    assert_non_null(strstr(id, "@emu|v1|ConfigMap|default|kc"));
    json_decref(live);
    live = NULL;
    /* a fresh provider reconnects from the ID alone */
    prov_env_t env = {.endpoint = f->base};
    json_t *cfgj = json_object();
    rctx_t c2 = c;
    c2.prov = k8s_provider.open(cfgj, &env, &e);
    json_decref(cfgj);
    if (obj_type()->read(&c2, id, NULL, &live) != 0) fail_msg("%s", e.msg);
    assert_string_equal(json_string_value(jpath_get(live, "data.x")), "y");
    k8s_provider.close(c2.prov);
    unlink(path);
    free(id);
    json_decref(live);
    json_decref(cm);
}

static void provider_reports_unready_job_conditions_on_timeout(void **state) {
    pfx_t *f = *state;
    rctx_t c;
    perr_t e = {0};
    ctx(f, &c, &e);
    json_t *ns = obj(f, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"jobs\"}}");
    char *id = NULL;
    json_t *live = NULL;
    assert_int_equal(obj_type()->create(&c, ns, &id, &live), 0);
    free(id);
    json_decref(live);
    /* op_scale 0.2: the job completes after 60 ms; a 0 s timeout fails first */
    json_t *job = obj(
        f,
        "{\"apiVersion\":\"batch/v1\",\"kind\":\"Job\",\"metadata\":{\"name\":\"j\",\"namespace\":\"jobs\"},"
        "\"spec\":{\"template\":{\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"j\","
        "\"image\":\"busybox\"}]}}},"
        "\"wait_timeout\":0}");
    assert_int_equal(obj_type()->create(&c, job, &id, &live), -1);
    if (!strstr(e.msg, "timed out") || !strstr(e.msg, "Job jobs/j")) fail_msg("%s", e.msg);
    json_object_set_new(job, "wait_timeout", json_integer(30));
    perr_clear(&e);
    if (obj_type()->create(&c, job, &id, &live) != 0) fail_msg("%s", e.msg);
    assert_int_equal(json_integer_value(jpath_get(live, "status.succeeded")), 1);
    /* a changed template runs the job again instead of failing */
    jpath_set_new(job, "spec.template.spec.containers.0.image", json_string("busybox:2"));
    json_t *nl = NULL;
    const char *before = json_string_value(jpath_get(live, "metadata.uid"));
    if (obj_type()->update(&c, id, job, live, NULL, &nl) != 0) fail_msg("%s", e.msg);
    assert_string_equal(json_string_value(jpath_get(nl, "spec.template.spec.containers.0.image")),
                        "busybox:2");
    assert_string_not_equal(json_string_value(jpath_get(nl, "metadata.uid")), before);
    json_decref(nl);
    free(id);
    json_decref(live);
    json_decref(job);
    json_decref(ns);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(yaml_every_testdata_manifest_parses_with_documented_doc_count),
        cmocka_unit_test(yaml_quoted_scalars_stay_strings_and_plain_ones_resolve),
        cmocka_unit_test(yaml_anchors_merge_keys_and_block_scalars),
        cmocka_unit_test(yaml_megabyte_crd_parses_and_dump_round_trips),
        cmocka_unit_test(yaml_malformed_document_error_names_file_line_and_column),
        cmocka_unit_test(manifest_expands_one_object_per_document_with_stable_keys),
        cmocka_unit_test(manifest_malformed_yaml_names_file_line_col_and_returns_nothing),
        cmocka_unit_test(manifest_duplicate_objects_and_missing_names_are_errors),
        cmocka_unit_test(manifest_list_documents_expand_to_their_items),
        cmocka_unit_test(manifest_crd_scope_decides_whether_default_namespace_applies),
        cmocka_unit_test(implicit_deps_order_crds_before_crs_and_namespaces_before_contents),
        cmocka_unit_test(kubeconfig_uses_emulator_url_or_ca_and_auth_plugin),
        cmocka_unit_test(normalize_makes_canonical_quantities_and_secret_data_comparable),
        cmocka_unit_test_setup_teardown(provider_applies_waits_for_rollout_and_reads_back, psetup, pteardown),
        cmocka_unit_test_setup_teardown(provider_discovers_custom_kinds_after_their_crd, psetup, pteardown),
        cmocka_unit_test_setup_teardown(provider_reports_unready_job_conditions_on_timeout, psetup,
                                        pteardown),
        cmocka_unit_test_setup_teardown(provider_waits_for_a_namespace_created_meanwhile, psetup, pteardown),
        cmocka_unit_test_setup_teardown(provider_connects_through_a_kubeconfig_file, psetup, pteardown),
    };
    (void)emu_api_k8s;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
