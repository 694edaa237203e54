/* api_k8s.c: the Kubernetes API of every GKE cluster the emulator creates,
 * served under <base>/k8s/<CLUSTER_ID>/ (CLUSTER_ID = the cluster's "id" in
 * the container API).
 *
 * Enough of the real API server for plinth and kubectl: discovery (/api,
 * /apis, /version; /openapi answers 404), built-in kinds plus the kinds of
 * every established CustomResourceDefinition, get/list (label selectors),
 * create, replace, merge and strategic-merge patches, server-side apply with
 * managedFields and conflicts, deletion (foreground: the object lingers a
 * moment with a deletionTimestamp; namespaces and CRDs take their objects
 * with them), Status errors, and simulated controllers: workloads roll out,
 * Jobs complete, CRDs become Established after a short delay.
 *
 * Objects live in the store at "k8s/<cid>/<group or core>/<resource>/<ns or
 * _>/<name>", whatever version they were written in. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"
#include "core/jpath.h"
#include "providers/k8s/k8s_ssa.h"
#include "providers/k8s/k8s_yaml.h"

/* ---- types ------------------------------------------------------------ */

typedef struct ktype {
    char *group, *version, *resource, *kind, *singular;
    int namespaced;
    const char *shortnames; /* comma separated, static */
} ktype_t;

typedef struct {
    ktype_t *v;
    size_t n, cap;
} ktypes_t;

static const struct {
    const char *gv, *resource, *kind;
    int namespaced;
    const char *shortnames;
} builtin[] = {
    {"v1", "namespaces", "Namespace", 0, "ns"},
    {"v1", "pods", "Pod", 1, "po"},
    {"v1", "services", "Service", 1, "svc"},
    {"v1", "configmaps", "ConfigMap", 1, "cm"},
    {"v1", "secrets", "Secret", 1, ""},
    {"v1", "serviceaccounts", "ServiceAccount", 1, "sa"},
    {"v1", "persistentvolumeclaims", "PersistentVolumeClaim", 1, "pvc"},
    {"v1", "persistentvolumes", "PersistentVolume", 0, "pv"},
    {"v1", "endpoints", "Endpoints", 1, "ep"},
    {"v1", "events", "Event", 1, "ev"},
    {"v1", "nodes", "Node", 0, "no"},
    {"v1", "limitranges", "LimitRange", 1, "limits"},
    {"v1", "resourcequotas", "ResourceQuota", 1, "quota"},
    {"apps/v1", "deployments", "Deployment", 1, "deploy"},
    {"apps/v1", "statefulsets", "StatefulSet", 1, "sts"},
    {"apps/v1", "daemonsets", "DaemonSet", 1, "ds"},
    {"apps/v1", "replicasets", "ReplicaSet", 1, "rs"},
    {"batch/v1", "jobs", "Job", 1, ""},
    {"batch/v1", "cronjobs", "CronJob", 1, "cj"},
    {"rbac.authorization.k8s.io/v1", "roles", "Role", 1, ""},
    {"rbac.authorization.k8s.io/v1", "rolebindings", "RoleBinding", 1, ""},
    {"rbac.authorization.k8s.io/v1", "clusterroles", "ClusterRole", 0, ""},
    {"rbac.authorization.k8s.io/v1", "clusterrolebindings", "ClusterRoleBinding", 0, ""},
    {"apiextensions.k8s.io/v1", "customresourcedefinitions", "CustomResourceDefinition", 0, "crd,crds"},
    {"networking.k8s.io/v1", "ingresses", "Ingress", 1, "ing"},
    {"networking.k8s.io/v1", "ingressclasses", "IngressClass", 0, ""},
    {"networking.k8s.io/v1", "networkpolicies", "NetworkPolicy", 1, "netpol"},
    {"scheduling.k8s.io/v1", "priorityclasses", "PriorityClass", 0, "pc"},
    {"storage.k8s.io/v1", "storageclasses", "StorageClass", 0, "sc"},
    {"admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", 0, ""},
    {"admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", 0, ""},
    {"policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", 1, "pdb"},
    {"autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", 1, "hpa"},
    {"coordination.k8s.io/v1", "leases", "Lease", 1, ""},
};

static void types_add(ktypes_t *t, const char *group, const char *version, const char *resource,
                      const char *kind, const char *singular, int namespaced, const char *shortnames) {
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    ktype_t *k = &t->v[t->n++];
    k->group = xstrdup(group);
    k->version = xstrdup(version);
    k->resource = xstrdup(resource);
    k->kind = xstrdup(kind);
    if (singular && *singular) {
        k->singular = xstrdup(singular);
    } else {
        k->singular = xstrdup(kind);
        for (char *c = k->singular; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    }
    k->namespaced = namespaced;
    k->shortnames = shortnames;
}

static void types_free(ktypes_t *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].group);
        free(t->v[i].version);
        free(t->v[i].resource);
        free(t->v[i].kind);
        free(t->v[i].singular);
    }
    free(t->v);
}

static const char *sget(const json_t *o, const char *path) {
    json_t *v = jpath_get(o, path);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static int crd_established(const json_t *crd) {
    json_t *conds = jpath_get(crd, "status.conditions"), *c;
    size_t i;
    json_array_foreach(conds, i, c) {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *s = json_string_value(json_object_get(c, "status"));
        if (t && s && !strcmp(t, "Established") && !strcmp(s, "True")) return 1;
    }
    return 0;
}

static char *crd_prefix(const char *cid) {
    return xasprintf("k8s/%s/apiextensions.k8s.io/customresourcedefinitions/_/", cid);
}

/* Built-in types plus the served versions of every established CRD. */
static void types_load(emu_t *emu, const char *cid, ktypes_t *t) {
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++) {
        const char *gv = builtin[i].gv, *slash = strchr(gv, '/');
        char *g = slash ? xstrndup(gv, (size_t)(slash - gv)) : xstrdup("");
        types_add(t, g, slash ? slash + 1 : gv, builtin[i].resource, builtin[i].kind, NULL,
                  builtin[i].namespaced, builtin[i].shortnames);
        free(g);
    }
    char *prefix = crd_prefix(cid);
    json_t *keys = emu_keys(emu, prefix), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        json_t *crd = emu_get(emu, json_string_value(k));
        if (!crd || !crd_established(crd) || jpath_get(crd, "metadata.deletionTimestamp")) continue;
        const char *group = sget(crd, "spec.group"), *plural = sget(crd, "spec.names.plural"),
                   *kind = sget(crd, "spec.names.kind"), *scope = sget(crd, "spec.scope");
        if (!group || !plural || !kind) continue;
        json_t *vers = jpath_get(crd, "spec.versions"), *v;
        size_t j;
        json_array_foreach(vers, j, v) {
            const char *name = json_string_value(json_object_get(v, "name"));
            if (!name || json_is_false(json_object_get(v, "served"))) continue;
            types_add(t, group, name, plural, kind, sget(crd, "spec.names.singular"),
                      !scope || strcmp(scope, "Cluster") != 0, NULL);
        }
    }
    json_decref(keys);
    free(prefix);
}

static const ktype_t *types_find(const ktypes_t *t, const char *group, const char *version,
                                 const char *resource) {
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].group, group) && !strcmp(t->v[i].version, version) &&
            !strcmp(t->v[i].resource, resource))
            return &t->v[i];
    return NULL;
}

static char *api_version_of(const ktype_t *kt) {
    return *kt->group ? xasprintf("%s/%s", kt->group, kt->version) : xstrdup(kt->version);
}

/* ---- responses --------------------------------------------------------- */

static void status_err(emu_resp_t *resp, int code, const char *reason, const ktype_t *kt,
                       const char *name, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void status_err(emu_resp_t *resp, int code, const char *reason, const ktype_t *kt,
                       const char *name, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sbuf_t b = {0};
    sbuf_vaddf(&b, fmt, ap);
    va_end(ap);
    json_t *details = json_object();
    if (name) json_object_set_new(details, "name", json_string(name));
    if (kt) {
        json_object_set_new(details, "group", json_string(kt->group));
        json_object_set_new(details, "kind", json_string(kt->resource));
    }
    json_decref(resp->body);
    resp->status = code;
    resp->body = json_pack("{s:s,s:s,s:{},s:s,s:s,s:s,s:o,s:i}", "kind", "Status", "apiVersion", "v1",
                           "metadata", "status", "Failure", "message", b.s ? b.s : "", "reason",
                           reason, "details", details, "code", code);
    sbuf_free(&b);
}

static void not_found(emu_resp_t *resp, const ktype_t *kt, const char *name) {
    status_err(resp, 404, "NotFound", kt, name, "%s%s%s \"%s\" not found", kt->resource,
               *kt->group ? "." : "", kt->group, name);
}

/* ---- clusters ------------------------------------------------------------ */

static int cluster_exists(emu_t *emu, const char *cid) {
    json_t *keys = emu_keys(emu, "container/projects/"), *k;
    size_t i;
    int found = 0;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        const char *cl = strstr(key, "/clusters/");
        if (!cl || strchr(cl + 10, '/')) continue;
        json_t *c = emu_get(emu, key);
        const char *id = json_string_value(json_object_get(c, "id"));
        if (id && !strcmp(id, cid)) {
            found = 1;
            break;
        }
    }
    json_decref(keys);
    return found;
}

/* ---- store keys ---------------------------------------------------------- */

static char *obj_key(const char *cid, const ktype_t *kt, const char *ns, const char *name) {
    return xasprintf("k8s/%s/%s/%s/%s/%s", cid, *kt->group ? kt->group : "core", kt->resource,
                     kt->namespaced && ns ? ns : "_", name);
}

static char *type_prefix(const char *cid, const ktype_t *kt, const char *ns) {
    if (kt->namespaced && ns)
        return xasprintf("k8s/%s/%s/%s/%s/", cid, *kt->group ? kt->group : "core", kt->resource, ns);
    return xasprintf("k8s/%s/%s/%s/", cid, *kt->group ? kt->group : "core", kt->resource);
}

/* The object as served for kt's version. */
static json_t *present(const json_t *obj, const ktype_t *kt) {
    json_t *o = json_deep_copy(obj);
    char *av = api_version_of(kt);
    json_object_set_new(o, "apiVersion", json_string(av));
    free(av);
    json_object_set_new(o, "kind", json_string(kt->kind));
    return o;
}

static char *new_uid(void) {
    char h[33];
    util_random_hex(h, 16);
    return xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static void bump_rv(emu_t *emu, json_t *obj) {
    char rv[32];
    snprintf(rv, sizeof rv, "%lld", (long long)emu_next_id(emu, "k8s.resourceVersion"));
    json_t *md = json_object_get(obj, "metadata");
    json_object_set_new(md, "resourceVersion", json_string(rv));
}

/* ---- simulated controllers ----------------------------------------------- */

static json_t *cond(const char *type, const char *status, const char *reason, const char *msg) {
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status, "reason", reason,
                     "message", msg, "lastTransitionTime", emu_now(), "lastUpdateTime", emu_now());
}

static int key_is(const char *key, const char *group_res) {
    const char *gr = key;
    for (int i = 0; i < 2 && gr; i++) {
        gr = strchr(gr, '/');
        if (gr) gr++;
    }
    return gr && !strncmp(gr, group_res, strlen(group_res)) && gr[strlen(group_res)] == '/';
}

/* Brings an object's status up to date, as its controller would. */
static void reconcile(emu_t *emu, const char *key) {
    json_t *cur = emu_get(emu, key);
    if (!cur) return;
    json_t *o = json_deep_copy(cur);
    json_t *gen = jpath_get(o, "metadata.generation");
    json_int_t g = json_is_integer(gen) ? json_integer_value(gen) : 1;
    json_t *st = json_object_get(o, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(o, "status", st);
    }
    if (key_is(key, "apps/deployments") || key_is(key, "apps/statefulsets") ||
        key_is(key, "apps/replicasets")) {
        json_t *r = jpath_get(o, "spec.replicas");
        json_int_t n = json_is_integer(r) ? json_integer_value(r) : 1;
        json_object_set_new(st, "observedGeneration", json_integer(g));
        json_object_set_new(st, "replicas", json_integer(n));
        json_object_set_new(st, "readyReplicas", json_integer(n));
        json_object_set_new(st, "availableReplicas", json_integer(n));
        json_object_set_new(st, "updatedReplicas", json_integer(n));
        if (key_is(key, "apps/statefulsets")) {
            json_object_set_new(st, "currentReplicas", json_integer(n));
            json_object_set_new(st, "currentRevision", json_string("rev-1"));
            json_object_set_new(st, "updateRevision", json_string("rev-1"));
        }
        if (key_is(key, "apps/deployments"))
            json_object_set_new(st, "conditions",
                                json_pack("[o,o]",
                                          cond("Available", "True", "MinimumReplicasAvailable",
                                               "Deployment has minimum availability."),
                                          cond("Progressing", "True", "NewReplicaSetAvailable",
                                               "ReplicaSet has successfully progressed.")));
    } else if (key_is(key, "apps/daemonsets")) {
        json_object_set_new(st, "observedGeneration", json_integer(g));
        const char *f[] = {"desiredNumberScheduled", "currentNumberScheduled", "numberReady",
                           "updatedNumberScheduled", "numberAvailable"};
        for (size_t i = 0; i < 5; i++) json_object_set_new(st, f[i], json_integer(3));
        json_object_set_new(st, "numberMisscheduled", json_integer(0));
    } else if (key_is(key, "batch/jobs")) {
        json_t *c = jpath_get(o, "spec.completions");
        json_int_t n = json_is_integer(c) ? json_integer_value(c) : 1;
        json_object_set_new(st, "succeeded", json_integer(n));
        json_object_set_new(st, "ready", json_integer(0));
        if (!json_object_get(st, "startTime")) json_object_set_new(st, "startTime", json_string(emu_now()));
        json_object_set_new(st, "completionTime", json_string(emu_now()));
        json_object_set_new(st, "conditions",
                            json_pack("[o,o]", cond("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
                                      cond("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods")));
    } else if (key_is(key, "apiextensions.k8s.io/customresourcedefinitions")) {
        json_object_set(st, "acceptedNames", jpath_get(o, "spec.names") ?: json_object());
        json_object_set_new(st, "conditions",
                            json_pack("[o,o]", cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                                      cond("Established", "True", "InitialNamesAccepted", "the initial names have been accepted")));
        json_t *sv = json_array(), *v;
        size_t i;
        json_array_foreach(jpath_get(o, "spec.versions"), i, v) if (json_is_true(json_object_get(v, "storage")))
            json_array_append(sv, json_object_get(v, "name"));
        json_object_set_new(st, "storedVersions", sv);
    } else {
        json_decref(o);
        return;
    }
    bump_rv(emu, o);
    emu_put(emu, key, o);
}

static void reconcile_timer(emu_t *emu, const char *key) { reconcile(emu, key); }

static int needs_controller(const char *key) {
    return key_is(key, "apps/deployments") || key_is(key, "apps/statefulsets") ||
           key_is(key, "apps/replicasets") || key_is(key, "apps/daemonsets") ||
           key_is(key, "batch/jobs") || key_is(key, "apiextensions.k8s.io/customresourcedefinitions");
}

/* Defaults and immediate status when an object is first stored. */
static void on_create(emu_t *emu, const char *cid, const ktype_t *kt, json_t *o) {
    (void)emu;
    (void)cid;
    if (!*kt->group && !strcmp(kt->resource, "namespaces")) {
        json_object_set_new(o, "status", json_pack("{s:s}", "phase", "Active"));
        json_t *spec = json_object_get(o, "spec");
        if (!spec) json_object_set_new(o, "spec", json_pack("{s:[s]}", "finalizers", "kubernetes"));
        json_t *labels = jpath_get(o, "metadata.labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(json_object_get(o, "metadata"), "labels", labels);
        }
        json_object_set(labels, "kubernetes.io/metadata.name", jpath_get(o, "metadata.name"));
    } else if (!*kt->group && !strcmp(kt->resource, "services")) {
        json_t *spec = json_object_get(o, "spec");
        if (!json_is_object(spec)) {
            spec = json_object();
            json_object_set_new(o, "spec", spec);
        }
        if (!json_object_get(spec, "clusterIP")) {
            char h[5], ip[32];
            util_random_hex(h, 2);
            unsigned v = (unsigned)strtoul(h, NULL, 16);
            snprintf(ip, sizeof ip, "10.96.%u.%u", (v >> 8) & 0xff, 1 + (v & 0xff) % 250);
            json_object_set_new(spec, "clusterIP", json_string(ip));
            json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
        }
        if (!json_object_get(spec, "type")) json_object_set_new(spec, "type", json_string("ClusterIP"));
        if (!json_object_get(spec, "sessionAffinity"))
            json_object_set_new(spec, "sessionAffinity", json_string("None"));
    } else if (!*kt->group && !strcmp(kt->resource, "serviceaccounts")) {
        /* nothing */
    } else if (!strcmp(kt->group, "apps") && !strcmp(kt->resource, "deployments")) {
        json_t *spec = json_object_get(o, "spec");
        if (json_is_object(spec)) {
            if (!json_object_get(spec, "replicas")) json_object_set_new(spec, "replicas", json_integer(1));
            if (!json_object_get(spec, "revisionHistoryLimit"))
                json_object_set_new(spec, "revisionHistoryLimit", json_integer(10));
            if (!json_object_get(spec, "progressDeadlineSeconds"))
                json_object_set_new(spec, "progressDeadlineSeconds", json_integer(600));
        }
    }
}

/* ---- selectors ------------------------------------------------------------ */

/* Basic label selectors: "a=b,c!=d,e,!f", "a in (x,y)" not supported. */
static int selector_match(const char *sel, const json_t *labels) {
    if (!sel || !*sel) return 1;
    char *s = xstrdup(sel), *save = NULL;
    int ok = 1;
    for (char *t = strtok_r(s, ",", &save); t && ok; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ') t++;
        char *ne = strstr(t, "!="), *eq = strchr(t, '=');
        if (ne) {
            *ne = 0;
            const char *v = json_string_value(json_object_get(labels, t));
            ok = !v || strcmp(v, ne + 2) != 0;
        } else if (eq) {
            *eq = 0;
            const char *want = eq[1] == '=' ? eq + 2 : eq + 1;
            const char *v = json_string_value(json_object_get(labels, t));
            ok = v && !strcmp(v, want);
        } else if (*t == '!') {
            ok = !json_object_get(labels, t + 1);
        } else {
            ok = json_object_get(labels, t) != NULL;
        }
    }
    free(s);
    return ok;
}

static int field_selector_match(const char *sel, const json_t *obj) {
    if (!sel || !*sel) return 1;
    char *s = xstrdup(sel), *save = NULL;
    int ok = 1;
    for (char *t = strtok_r(s, ",", &save); t && ok; t = strtok_r(NULL, ",", &save)) {
        char *ne = strstr(t, "!="), *eq = strchr(t, '=');
        int neg = ne != NULL;
        char *val = ne ? ne + 2 : eq ? (eq[1] == '=' ? eq + 2 : eq + 1) : NULL;
        if (ne) *ne = 0;
        else if (eq) *eq = 0;
        if (!val) continue;
        json_t *v = jpath_get(obj, t);
        int m = json_is_string(v) && !strcmp(json_string_value(v), val);
        ok = neg ? !m : m;
    }
    free(s);
    return ok;
}

/* ---- request parsing -------------------------------------------------------- */

typedef struct {
    char *cid;
    char *group, *version; /* "" group for the core API */
    char *ns, *resource, *name, *sub;
    int discovery; /* /api, /apis, /api/v1, /apis/g, /apis/g/v, /version */
} kpath_t;

static void kpath_free(kpath_t *p) {
    free(p->cid);
    free(p->group);
    free(p->version);
    free(p->ns);
    free(p->resource);
    free(p->name);
    free(p->sub);
}

static char *seg_dup(char **segs, size_t n, size_t i) { return i < n ? xstrdup(segs[i]) : NULL; }

/* Splits "<cid>/api/v1/namespaces/x/pods/y". Returns -1 if not a resource path. */
static int kpath_parse(const char *cid, const char *rest, kpath_t *kp) {
    memset(kp, 0, sizeof *kp);
    kp->cid = xstrdup(cid);
    char *copy = xstrdup(rest);
    char *segs[16];
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t && n < 16; t = strtok_r(NULL, "/", &save)) segs[n++] = t;
    size_t i;
    int rc = 0;
    if (n >= 1 && !strcmp(segs[0], "api")) {
        if (n < 2) {
            kp->discovery = 1;
            goto out;
        }
        kp->group = xstrdup("");
        kp->version = xstrdup(segs[1]);
        i = 2;
    } else if (n >= 1 && !strcmp(segs[0], "apis")) {
        if (n < 3) {
            kp->discovery = n == 1 ? 2 : 3;
            kp->group = seg_dup(segs, n, 1);
            goto out;
        }
        kp->group = xstrdup(segs[1]);
        kp->version = xstrdup(segs[2]);
        i = 3;
    } else {
        rc = -1;
        goto out;
    }
    if (i >= n) {
        kp->discovery = 4;
        goto out;
    }
    if (!strcmp(segs[i], "namespaces") && n - i >= 3) {
        kp->ns = xstrdup(segs[i + 1]);
        i += 2;
    }
    kp->resource = seg_dup(segs, n, i);
    kp->name = seg_dup(segs, n, i + 1);
    kp->sub = seg_dup(segs, n, i + 2);
out:
    free(copy);
    return rc;
}

/* ---- discovery ------------------------------------------------------------- */

static json_t *resource_list(const ktypes_t *t, const char *group, const char *version) {
    json_t *res = json_array();
    for (size_t i = 0; i < t->n; i++) {
        const ktype_t *k = &t->v[i];
        if (strcmp(k->group, group) || strcmp(k->version, version)) continue;
        json_t *r = json_pack("{s:s,s:s,s:b,s:s,s:[s,s,s,s,s,s,s,s]}", "name", k->resource, "singularName",
                              k->singular, "namespaced", k->namespaced, "kind", k->kind, "verbs",
                              "create", "delete", "deletecollection", "get", "list", "patch",
                              "update", "watch");
        if (k->shortnames && *k->shortnames) {
            json_t *sn = json_array();
            char *s = xstrdup(k->shortnames), *save = NULL;
            for (char *x = strtok_r(s, ",", &save); x; x = strtok_r(NULL, ",", &save))
                json_array_append_new(sn, json_string(x));
            free(s);
            json_object_set_new(r, "shortNames", sn);
        }
        if (!strcmp(k->group, "apps") || (!*k->group && !strcmp(k->resource, "pods")))
            json_object_set_new(r, "categories", json_pack("[s]", "all"));
        json_array_append_new(res, r);
        /* status subresource */
        char *sub = xasprintf("%s/status", k->resource);
        json_array_append_new(res, json_pack("{s:s,s:s,s:b,s:s,s:[s,s,s]}", "name", sub,
                                             "singularName", "", "namespaced", k->namespaced,
                                             "kind", k->kind, "verbs", "get", "patch", "update"));
        free(sub);
    }
    char *gv = *group ? xasprintf("%s/%s", group, version) : xstrdup(version);
    json_t *out = json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                            "groupVersion", gv, "resources", res);
    free(gv);
    return out;
}

static json_t *group_list(const ktypes_t *t) {
    json_t *groups = json_array();
    json_t *seen = json_object();
    for (size_t i = 0; i < t->n; i++) {
        const ktype_t *k = &t->v[i];
        if (!*k->group) continue;
        json_t *g = json_object_get(seen, k->group);
        char *gv = xasprintf("%s/%s", k->group, k->version);
        if (!g) {
            g = json_pack("{s:s,s:[],s:{s:s,s:s}}", "name", k->group, "versions", "preferredVersion",
                          "groupVersion", gv, "version", k->version);
            json_object_set(seen, k->group, g);
            json_array_append_new(groups, g);
        }
        json_t *vs = json_object_get(g, "versions"), *v;
        size_t j;
        int have = 0;
        json_array_foreach(vs, j, v) have |= !strcmp(json_string_value(json_object_get(v, "version")), k->version);
        if (!have) json_array_append_new(vs, json_pack("{s:s,s:s}", "groupVersion", gv, "version", k->version));
        free(gv);
    }
    json_decref(seen);
    return json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", groups);
}

static void discovery(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kpath_t *kp,
                      const ktypes_t *t) {
    (void)emu;
    (void)req;
    if (kp->discovery == 1) {
        resp->body = json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
                               "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                               "127.0.0.1:443");
        return;
    }
    if (kp->discovery == 2) {
        resp->body = group_list(t);
        return;
    }
    if (kp->discovery == 3) {
        json_t *all = group_list(t), *g;
        size_t i;
        json_array_foreach(json_object_get(all, "groups"), i, g) {
            if (!strcmp(json_string_value(json_object_get(g, "name")), kp->group)) {
                resp->body = json_deep_copy(g);
                json_object_set_new(resp->body, "kind", json_string("APIGroup"));
                json_object_set_new(resp->body, "apiVersion", json_string("v1"));
            }
        }
        json_decref(all);
        if (!resp->body)
            status_err(resp, 404, "NotFound", NULL, NULL, "the server could not find the requested resource");
        return;
    }
    int any = 0;
    for (size_t i = 0; i < t->n; i++)
        any |= !strcmp(t->v[i].group, kp->group) && !strcmp(t->v[i].version, kp->version);
    if (!any) {
        status_err(resp, 404, "NotFound", NULL, NULL, "the server could not find the requested resource");
        return;
    }
    resp->body = resource_list(t, kp->group, kp->version);
}

/* ---- object operations --------------------------------------------------------- */

typedef struct {
    emu_t *emu;
    const emu_req_t *req;
    emu_resp_t *resp;
    const kpath_t *kp;
    const ktype_t *kt;
    ktypes_t *types;
} kctx_t;

static int ns_ok(kctx_t *x, const char *ns) {
    if (!x->kt->namespaced) return 1;
    char *key = xasprintf("k8s/%s/core/namespaces/_/%s", x->kp->cid, ns);
    json_t *n = emu_get(x->emu, key);
    free(key);
    if (!n) {
        status_err(x->resp, 404, "NotFound", &(ktype_t){.group = "", .resource = "namespaces"}, ns,
                   "namespaces \"%s\" not found", ns);
        return 0;
    }
    if (jpath_get(n, "metadata.deletionTimestamp")) {
        status_err(x->resp, 403, "Forbidden", x->kt, NULL,
                   "unable to create new content in namespace %s because it is being terminated", ns);
        return 0;
    }
    return 1;
}

static void do_list(kctx_t *x) {
    char *prefix = type_prefix(x->kp->cid, x->kt, x->kp->ns);
    json_t *keys = emu_keys(x->emu, prefix), *k, *items = json_array();
    size_t i;
    const char *ls = emu_q(x->req, "labelSelector"), *fs = emu_q(x->req, "fieldSelector");
    json_array_foreach(keys, i, k) {
        json_t *o = emu_get(x->emu, json_string_value(k));
        if (!o || !selector_match(ls, jpath_get(o, "metadata.labels"))) continue;
        if (!field_selector_match(fs, o)) continue;
        json_array_append_new(items, present(o, x->kt));
    }
    json_decref(keys);
    free(prefix);
    const char *watch = emu_q(x->req, "watch");
    if (watch && (!strcmp(watch, "true") || !strcmp(watch, "1"))) {
        /* A watch that reports the current objects and ends: clients
         * (kubectl delete --wait, informers) list again and see changes. */
        sbuf_t b = {0};
        size_t j;
        json_t *it;
        json_array_foreach(items, j, it) {
            json_t *ev = json_pack("{s:s,s:O}", "type", "ADDED", "object", it);
            char *line = json_dumps(ev, JSON_COMPACT);
            sbuf_addf(&b, "%s\n", line);
            free(line);
            json_decref(ev);
        }
        json_decref(items);
        x->resp->raw = sbuf_steal(&b);
        x->resp->raw_len = strlen(x->resp->raw);
        snprintf(x->resp->content_type, sizeof x->resp->content_type, "application/json");
        return;
    }
    char *av = api_version_of(x->kt), *kind = xasprintf("%sList", x->kt->kind), rv[32];
    snprintf(rv, sizeof rv, "%lld", (long long)emu_next_id(x->emu, "k8s.resourceVersion"));
    x->resp->body = json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", kind, "apiVersion", av, "metadata",
                              "resourceVersion", rv, "items", items);
    free(av);
    free(kind);
}

static int check_body(kctx_t *x, json_t *obj, const char *name) {
    if (!json_is_object(obj)) {
        status_err(x->resp, 400, "BadRequest", x->kt, name, "the body of the request was not an object");
        return -1;
    }
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(obj, "metadata", md);
    }
    const char *bname = json_string_value(json_object_get(md, "name"));
    if (name && bname && strcmp(name, bname) != 0) {
        status_err(x->resp, 400, "BadRequest", x->kt, name,
                   "the name of the object (%s) does not match the name on the URL (%s)", bname, name);
        return -1;
    }
    const char *gen = json_string_value(json_object_get(md, "generateName"));
    if (!bname && !name && gen && *gen) {
        char h[6];
        util_random_hex(h, 3);
        h[5] = 0;
        char *n = xasprintf("%s%s", gen, h);
        json_object_set_new(md, "name", json_string(n));
        free(n);
        bname = json_string_value(json_object_get(md, "name"));
    }
    if (!bname && !name) {
        status_err(x->resp, 422, "Invalid", x->kt, "", "%s \"\" is invalid: metadata.name: Required value: name or generateName is required", x->kt->kind);
        return -1;
    }
    if (!bname) json_object_set_new(md, "name", json_string(name));
    const char *bns = json_string_value(json_object_get(md, "namespace"));
    if (x->kt->namespaced) {
        if (x->kp->ns && bns && strcmp(bns, x->kp->ns) != 0) {
            status_err(x->resp, 400, "BadRequest", x->kt, name,
                       "the namespace of the provided object does not match the namespace sent on the request");
            return -1;
        }
        if (x->kp->ns) json_object_set_new(md, "namespace", json_string(x->kp->ns));
    } else {
        json_object_del(md, "namespace");
    }
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && strcmp(kind, x->kt->kind) != 0) {
        status_err(x->resp, 400, "BadRequest", x->kt, name, "the kind of the object (%s) does not match the URL (%s)", kind, x->kt->kind);
        return -1;
    }
    return 0;
}

/* Fields a client may not set: kept from the stored object. */
static void keep_system(json_t *obj, const json_t *old) {
    static const char *const sys[] = {"uid", "resourceVersion", "generation", "creationTimestamp",
                                      "deletionTimestamp", "managedFields", NULL};
    json_t *md = json_object_get(obj, "metadata");
    const json_t *omd = old ? json_object_get(old, "metadata") : NULL;
    for (const char *const *s = sys; *s; s++) {
        json_object_del(md, *s);
        json_t *v = omd ? json_object_get(omd, *s) : NULL;
        if (v) json_object_set(md, *s, v);
    }
    /* status changes only through the status subresource */
    json_object_del(obj, "status");
    if (old && json_object_get(old, "status")) json_object_set(obj, "status", json_object_get(old, "status"));
}

static int spec_changed(const json_t *a, const json_t *b) {
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    json_object_del(x, "metadata");
    json_object_del(y, "metadata");
    json_object_del(x, "status");
    json_object_del(y, "status");
    int ch = !json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return ch;
}

/* Secrets keep stringData only as base64 data, as the API server does. */
static void secret_fold(const ktype_t *kt, json_t *obj) {
    if (*kt->group || strcmp(kt->resource, "secrets") != 0) return;
    json_t *sd = json_object_get(obj, "stringData");
    if (!json_object_get(obj, "type")) json_object_set_new(obj, "type", json_string("Opaque"));
    if (!json_is_object(sd)) return;
    json_t *data = json_object_get(obj, "data");
    if (!json_is_object(data)) {
        data = json_object();
        json_object_set_new(obj, "data", data);
    }
    const char *k;
    json_t *v;
    json_object_foreach(sd, k, v) {
        const char *str = json_string_value(v);
        if (!str) continue;
        size_t n = strlen(str);
        unsigned char *out = xmalloc(4 * ((n + 2) / 3) + 1);
        EVP_EncodeBlock(out, (const unsigned char *)str, (int)n);
        json_object_set_new(data, k, json_string((char *)out));
        free(out);
    }
    json_object_del(obj, "stringData");
}

/* Stores obj (new or changed) with the bookkeeping the server does. */
static void store(kctx_t *x, const char *key, json_t *obj, const json_t *old) {
    secret_fold(x->kt, obj);
    json_t *md = json_object_get(obj, "metadata");
    if (!old) {
        char *uid = new_uid();
        json_object_set_new(md, "uid", json_string(uid));
        free(uid);
        json_object_set_new(md, "generation", json_integer(1));
        json_object_set_new(md, "creationTimestamp", json_string(emu_now()));
        on_create(x->emu, x->kp->cid, x->kt, obj);
    } else if (spec_changed(obj, old)) {
        json_t *g = jpath_get(old, "metadata.generation");
        json_object_set_new(md, "generation", json_integer((json_is_integer(g) ? json_integer_value(g) : 1) + 1));
    }
    if (old && json_equal(obj, (json_t *)old)) {
        x->resp->body = present(old, x->kt);
        json_decref(obj);
        return;
    }
    bump_rv(x->emu, obj);
    x->resp->body = present(obj, x->kt);
    x->resp->status = old ? 200 : 201;
    emu_put(x->emu, key, obj);
    if (needs_controller(key) && (!old || spec_changed(obj, old)))
        emu_after(x->emu, emu_duration(x->emu, "k8s.rollout"), reconcile_timer, key);
}

static const char *manager_of(kctx_t *x, const char *dflt) {
    const char *m = emu_q(x->req, "fieldManager");
    return m && *m ? m : dflt;
}

static int immutable_check(kctx_t *x, const json_t *old, const json_t *obj) {
    static const struct {
        const char *group, *resource, *path;
    } imm[] = {{"apps", "deployments", "spec.selector"},   {"apps", "statefulsets", "spec.selector"},
               {"apps", "daemonsets", "spec.selector"},    {"apps", "replicasets", "spec.selector"},
               {"batch", "jobs", "spec.selector"},         {"batch", "jobs", "spec.template"},
               {"", "services", "spec.clusterIP"},         {"apps", "statefulsets", "spec.serviceName"},
               {"apiextensions.k8s.io", "customresourcedefinitions", "spec.scope"}};
    for (size_t i = 0; i < sizeof imm / sizeof *imm; i++) {
        if (strcmp(imm[i].group, x->kt->group) || strcmp(imm[i].resource, x->kt->resource)) continue;
        json_t *a = jpath_get(old, imm[i].path), *b = jpath_get(obj, imm[i].path);
        if (!a || !b || json_equal(a, b)) continue;
        if (!strcmp(imm[i].path, "spec.template")) {
            /* Jobs: the controller adds labels; compare without them. */
            json_t *ca = json_deep_copy(a), *cb = json_deep_copy(b);
            jpath_del(ca, "metadata.labels");
            jpath_del(cb, "metadata.labels");
            int eq = json_equal(ca, cb);
            json_decref(ca);
            json_decref(cb);
            if (eq) continue;
        }
        const char *name = sget(old, "metadata.name");
        status_err(x->resp, 422, "Invalid", x->kt, name, "%s.%s \"%s\" is invalid: %s: Invalid value: field is immutable",
                   x->kt->kind, x->kt->group, name ? name : "", imm[i].path);
        return -1;
    }
    return 0;
}

static void do_get(kctx_t *x) {
    char *key = obj_key(x->kp->cid, x->kt, x->kp->ns, x->kp->name);
    json_t *o = emu_get(x->emu, key);
    if (!o) not_found(x->resp, x->kt, x->kp->name);
    else x->resp->body = present(o, x->kt);
    free(key);
}

static void do_create(kctx_t *x) {
    json_t *obj = json_deep_copy(x->req->body);
    if (check_body(x, obj, NULL) != 0) {
        json_decref(obj);
        return;
    }
    const char *name = sget(obj, "metadata.name");
    if (!ns_ok(x, x->kp->ns)) {
        json_decref(obj);
        return;
    }
    char *key = obj_key(x->kp->cid, x->kt, x->kp->ns, name);
    if (emu_get(x->emu, key)) {
        status_err(x->resp, 409, "AlreadyExists", x->kt, name, "%s%s%s \"%s\" already exists", x->kt->resource,
                   *x->kt->group ? "." : "", x->kt->group, name);
    } else {
        keep_system(obj, NULL);
        k8s_ssa_update(obj, NULL, manager_of(x, "unknown"), x->kt->group, x->kt->version);
        store(x, key, obj, NULL);
        obj = NULL;
    }
    json_decref(obj);
    free(key);
}

static void do_put(kctx_t *x) {
    json_t *obj = json_deep_copy(x->req->body);
    if (check_body(x, obj, x->kp->name) != 0) {
        json_decref(obj);
        return;
    }
    char *key = obj_key(x->kp->cid, x->kt, x->kp->ns, x->kp->name);
    json_t *old = emu_get(x->emu, key);
    const char *rv = sget(obj, "metadata.resourceVersion");
    if (!old) {
        not_found(x->resp, x->kt, x->kp->name);
    } else if (rv && strcmp(rv, sget(old, "metadata.resourceVersion") ?: "")) {
        status_err(x->resp, 409, "Conflict", x->kt, x->kp->name,
                   "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please apply your changes to the latest version and try again",
                   x->kt->resource, x->kp->name);
    } else {
        int status = x->kp->sub && !strcmp(x->kp->sub, "status");
        json_t *st = status ? json_incref(json_object_get(obj, "status")) : NULL;
        if (status) {
            json_decref(obj);
            obj = json_deep_copy(old);
        }
        keep_system(obj, old);
        if (status && st) json_object_set(obj, "status", st);
        json_decref(st);
        if (immutable_check(x, old, obj) == 0) {
            k8s_ssa_update(obj, old, manager_of(x, "unknown"), x->kt->group, x->kt->version);
            store(x, key, obj, old);
            obj = NULL;
        }
    }
    json_decref(obj);
    free(key);
}

static void do_apply(kctx_t *x, const char *key, json_t *old) {
    perr_t e = {0};
    json_t *docs = k8s_yaml_parse(x->req->raw_body ? x->req->raw_body : "", x->req->raw_len, "body", NULL, &e);
    if (!docs || json_array_size(docs) != 1) {
        status_err(x->resp, 400, "BadRequest", x->kt, x->kp->name, "error decoding YAML: %s",
                   docs ? "expected exactly one document" : e.msg);
        json_decref(docs);
        return;
    }
    json_t *cfg = json_incref(json_array_get(docs, 0));
    json_decref(docs);
    if (check_body(x, cfg, x->kp->name) != 0) {
        json_decref(cfg);
        return;
    }
    const char *mgr = emu_q(x->req, "fieldManager");
    if (!mgr || !*mgr) {
        status_err(x->resp, 400, "BadRequest", x->kt, x->kp->name,
                   "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch");
        json_decref(cfg);
        return;
    }
    if (!old && !ns_ok(x, x->kp->ns)) {
        json_decref(cfg);
        return;
    }
    const char *force = emu_q(x->req, "force");
    char conflicts[2048] = "";
    json_t *obj = k8s_ssa_apply(old, cfg, mgr, force && !strcmp(force, "true"), x->kt->group, x->kt->version, conflicts, sizeof conflicts);
    json_decref(cfg);
    if (!obj) {
        status_err(x->resp, 409, "Conflict", x->kt, x->kp->name, "Apply failed with %s", conflicts);
        json_t *causes = json_array();
        json_object_set_new(json_object_get(x->resp->body, "details"), "causes", causes);
        return;
    }
    if (old && immutable_check(x, old, obj) != 0) {
        json_decref(obj);
        return;
    }
    store(x, key, obj, old);
}

static void do_patch(kctx_t *x) {
    char *key = obj_key(x->kp->cid, x->kt, x->kp->ns, x->kp->name);
    json_t *old = emu_get(x->emu, key);
    const char *ct = x->req->content_type ? x->req->content_type : "";
    if (strstr(ct, "apply-patch")) {
        do_apply(x, key, old);
        free(key);
        return;
    }
    if (!old) {
        not_found(x->resp, x->kt, x->kp->name);
        free(key);
        return;
    }
    int strategic = strstr(ct, "strategic-merge-patch") != NULL;
    if (!strstr(ct, "merge-patch") || !json_is_object(x->req->body)) {
        status_err(x->resp, 415, "UnsupportedMediaType", x->kt, x->kp->name,
                   "the body of the request was in an unknown format - accepted media types include: "
                   "application/json-patch+json, application/merge-patch+json, "
                   "application/apply-patch+yaml");
        free(key);
        return;
    }
    json_t *obj = json_deep_copy(old);
    int status = x->kp->sub && !strcmp(x->kp->sub, "status");
    k8s_ssa_merge_patch(obj, x->req->body, strategic);
    if (!status) {
        json_object_del(obj, "status");
        if (json_object_get(old, "status")) json_object_set(obj, "status", json_object_get(old, "status"));
    }
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) json_object_set_new(obj, "metadata", json_object());
    /* identity cannot change */
    json_object_set(json_object_get(obj, "metadata"), "name", jpath_get(old, "metadata.name"));
    if (immutable_check(x, old, obj) == 0) {
        k8s_ssa_update(obj, old, manager_of(x, "unknown"), x->kt->group, x->kt->version);
        store(x, key, obj, old);
        obj = NULL;
    }
    json_decref(obj);
    free(key);
}

static void delete_key(emu_t *emu, const char *key);

static void cascade(emu_t *emu, const char *key) {
    /* A namespace takes its objects; a CRD takes its custom resources. */
    json_t *o = emu_get(emu, key);
    if (!o) return;
    const char *rest = key + 4; /* after "k8s/" */
    const char *slash = strchr(rest, '/');
    if (!slash) return;
    char *cid = xstrndup(rest, (size_t)(slash - rest));
    json_t *victims = json_array();
    if (key_is(key, "core/namespaces")) {
        const char *ns = sget(o, "metadata.name");
        json_t *keys = emu_keys(emu, "k8s/"), *k;
        size_t i;
        char *pre = xasprintf("k8s/%s/", cid);
        json_array_foreach(keys, i, k) {
            const char *kk = json_string_value(k);
            if (strncmp(kk, pre, strlen(pre))) continue;
            /* k8s/cid/group/resource/ns/name */
            const char *p = kk + strlen(pre);
            for (int s = 0; s < 2 && p; s++) {
                p = strchr(p, '/');
                if (p) p++;
            }
            if (p && !strncmp(p, ns, strlen(ns)) && p[strlen(ns)] == '/')
                json_array_append(victims, k);
        }
        free(pre);
        json_decref(keys);
    } else if (key_is(key, "apiextensions.k8s.io/customresourcedefinitions")) {
        const char *group = sget(o, "spec.group"), *plural = sget(o, "spec.names.plural");
        if (group && plural) {
            char *pre = xasprintf("k8s/%s/%s/%s/", cid, group, plural);
            json_t *keys = emu_keys(emu, pre);
            json_array_extend(victims, keys);
            json_decref(keys);
            free(pre);
        }
    }
    size_t i;
    json_t *k;
    json_array_foreach(victims, i, k) delete_key(emu, json_string_value(k));
    json_decref(victims);
    free(cid);
}

static void delete_key(emu_t *emu, const char *key) {
    cascade(emu, key);
    emu_del(emu, key);
}

static void finish_delete(emu_t *emu, const char *key) {
    json_t *o = emu_get(emu, key);
    if (o && jpath_get(o, "metadata.deletionTimestamp")) delete_key(emu, key);
}

static void do_delete(kctx_t *x) {
    char *key = obj_key(x->kp->cid, x->kt, x->kp->ns, x->kp->name);
    json_t *old = emu_get(x->emu, key);
    if (!old) {
        not_found(x->resp, x->kt, x->kp->name);
        free(key);
        return;
    }
    const char *pp = emu_q(x->req, "propagationPolicy");
    if (!pp && json_is_object(x->req->body))
        pp = json_string_value(json_object_get(x->req->body, "propagationPolicy"));
    int is_ns = key_is(key, "core/namespaces");
    int lingers = is_ns || (pp && !strcmp(pp, "Foreground")) ||
                  key_is(key, "apiextensions.k8s.io/customresourcedefinitions");
    if (!lingers) {
        x->resp->body = present(old, x->kt);
        delete_key(x->emu, key);
        free(key);
        return;
    }
    if (!jpath_get(old, "metadata.deletionTimestamp")) {
        json_t *o = json_deep_copy(old);
        json_t *md = json_object_get(o, "metadata");
        json_object_set_new(md, "deletionTimestamp", json_string(emu_now()));
        json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
        if (is_ns) json_object_set_new(o, "status", json_pack("{s:s}", "phase", "Terminating"));
        else if (pp && !strcmp(pp, "Foreground"))
            json_object_set_new(md, "finalizers", json_pack("[s]", "foregroundDeletion"));
        bump_rv(x->emu, o);
        emu_put(x->emu, key, o);
        emu_after(x->emu, emu_duration(x->emu, "k8s.delete"), finish_delete, key);
        old = o;
    }
    x->resp->body = present(old, x->kt);
    x->resp->status = 200;
    free(key);
}

static json_t *scale_of(const json_t *o) {
    json_t *r = jpath_get(o, "spec.replicas");
    json_int_t n = json_is_integer(r) ? json_integer_value(r) : 1;
    json_t *sr = jpath_get(o, "status.replicas");
    return json_pack("{s:s,s:s,s:{s:O,s:O,s:O,s:O},s:{s:I},s:{s:I}}", "kind", "Scale", "apiVersion",
                     "autoscaling/v1", "metadata", "name", jpath_get(o, "metadata.name"), "namespace",
                     jpath_get(o, "metadata.namespace"), "uid", jpath_get(o, "metadata.uid"),
                     "resourceVersion", jpath_get(o, "metadata.resourceVersion"), "spec", "replicas", n,
                     "status", "replicas", json_is_integer(sr) ? json_integer_value(sr) : 0);
}

/* The scale subresource of Deployments, StatefulSets and ReplicaSets. */
static void do_scale(kctx_t *x) {
    char *key = obj_key(x->kp->cid, x->kt, x->kp->ns, x->kp->name);
    json_t *old = emu_get(x->emu, key);
    if (!old) {
        not_found(x->resp, x->kt, x->kp->name);
        free(key);
        return;
    }
    json_t *sc = scale_of(old);
    if (!strcmp(x->req->method, "GET")) {
        x->resp->body = sc;
        free(key);
        return;
    }
    if (!json_is_object(x->req->body)) {
        status_err(x->resp, 400, "BadRequest", x->kt, x->kp->name, "the body of the request was not a JSON object");
        json_decref(sc);
        free(key);
        return;
    }
    if (!strcmp(x->req->method, "PUT")) {
        json_decref(sc);
        sc = json_deep_copy(x->req->body);
    } else {
        k8s_ssa_merge_patch(sc, x->req->body, 0);
    }
    json_t *n = jpath_get(sc, "spec.replicas");
    json_t *obj = json_deep_copy(old);
    if (json_is_integer(n)) jpath_set_new(obj, "spec.replicas", json_integer(json_integer_value(n)));
    json_decref(sc);
    k8s_ssa_update(obj, old, manager_of(x, "unknown"), x->kt->group, x->kt->version);
    store(x, key, obj, old);
    json_t *stored = emu_get(x->emu, key);
    json_decref(x->resp->body);
    x->resp->body = scale_of(stored ? stored : old);
    free(key);
}

/* Every cluster starts with these namespaces. */
static void ensure_system_namespaces(emu_t *emu, const char *cid) {
    static const char *const names[] = {"default", "kube-system", "kube-public", "kube-node-lease", NULL};
    char *mark = xasprintf("k8s/%s/_initialized", cid);
    int have = emu_get(emu, mark) != NULL;
    if (have) {
        free(mark);
        return;
    }
    for (const char *const *n = names; *n; n++) {
        char *key = xasprintf("k8s/%s/core/namespaces/_/%s", cid, *n);
        char *uid = new_uid();
        json_t *o = json_pack("{s:{s:s,s:s,s:i,s:s,s:{s:s}},s:{s:[s]},s:{s:s}}", "metadata", "name", *n, "uid", uid,
                              "generation", 1, "creationTimestamp", emu_now(), "labels",
                              "kubernetes.io/metadata.name", *n, "spec", "finalizers", "kubernetes", "status",
                              "phase", "Active");
        bump_rv(emu, o);
        emu_put(emu, key, o);
        free(uid);
        free(key);
    }
    emu_put(emu, mark, json_true());
    free(mark);
}

/* ---- dispatch ------------------------------------------------------------------ */

static void handle(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *cid = req->params[0];
    const char *rest = req->nparams > 1 ? req->params[1] : "";
    snprintf(resp->content_type, sizeof resp->content_type, "application/json");
    if (!cluster_exists(emu, cid)) {
        status_err(resp, 404, "NotFound", NULL, NULL, "no cluster with id %s", cid);
        return;
    }
    ensure_system_namespaces(emu, cid);
    if (!strcmp(rest, "version") || !strcmp(rest, "version/")) {
        resp->body = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", "1", "minor", "31",
                               "gitVersion", "v1.31.1-gke.1678000", "gitCommit", "emulated",
                               "gitTreeState", "clean", "buildDate", "2024-10-01T00:00:00Z",
                               "goVersion", "go1.22.7", "compiler", "gc", "platform", "linux/amd64");
        return;
    }
    kpath_t kp;
    if (kpath_parse(cid, rest, &kp) != 0) {
        status_err(resp, 404, "NotFound", NULL, NULL, "the server could not find the requested resource");
        kpath_free(&kp);
        return;
    }
    ktypes_t types;
    types_load(emu, cid, &types);
    if (kp.discovery) {
        if (strcmp(req->method, "GET") != 0)
            status_err(resp, 405, "MethodNotAllowed", NULL, NULL, "the server does not allow this method on the requested resource");
        else
            discovery(emu, req, resp, &kp, &types);
        goto out;
    }
    const ktype_t *kt = types_find(&types, kp.group, kp.version, kp.resource);
    /* /api/v1/namespaces/<name> (a namespace itself) parses as ns=<name>? No:
     * three or more segments after "namespaces" are needed for that. */
    if (!kt) {
        status_err(resp, 404, "NotFound", NULL, NULL, "the server could not find the requested resource");
        goto out;
    }
    if (kp.sub && !strcmp(kp.sub, "scale") && !strcmp(kt->group, "apps") && strcmp(kt->resource, "daemonsets")) {
        kctx_t x = {emu, req, resp, &kp, kt, &types};
        do_scale(&x);
        goto out;
    }
    if (kp.sub && strcmp(kp.sub, "status") != 0) {
        status_err(resp, 404, "NotFound", kt, kp.name, "the server could not find the requested resource");
        goto out;
    }
    if (!kt->namespaced && kp.ns) {
        status_err(resp, 404, "NotFound", kt, kp.name, "the server could not find the requested resource");
        goto out;
    }
    kctx_t x = {emu, req, resp, &kp, kt, &types};
    const char *m = req->method;
    if (!kp.name) {
        if (!strcmp(m, "GET")) do_list(&x);
        else if (!strcmp(m, "POST")) {
            if (kt->namespaced && !kp.ns)
                status_err(resp, 404, "NotFound", kt, NULL, "the server could not find the requested resource");
            else do_create(&x);
        } else status_err(resp, 405, "MethodNotAllowed", kt, NULL, "the server does not allow this method on the requested resource");
        goto out;
    }
    if (kt->namespaced && !kp.ns) {
        status_err(resp, 404, "NotFound", kt, kp.name, "the server could not find the requested resource");
        goto out;
    }
    if (!strcmp(m, "GET")) do_get(&x);
    else if (!strcmp(m, "PUT")) do_put(&x);
    else if (!strcmp(m, "PATCH")) do_patch(&x);
    else if (!strcmp(m, "DELETE")) do_delete(&x);
    else status_err(resp, 405, "MethodNotAllowed", kt, kp.name, "the server does not allow this method on the requested resource");
out:
    types_free(&types);
    kpath_free(&kp);
}

/* OpenAPI v3: only what kubectl needs to see that PATCH takes
 * fieldValidation (it then leaves validation to the server). */
static void openapi(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *cid = req->params[0], *rest = req->params[1];
    snprintf(resp->content_type, sizeof resp->content_type, "application/json");
    if (!cluster_exists(emu, cid) || strncmp(rest, "v3", 2) != 0) {
        status_err(resp, 404, "NotFound", NULL, NULL, "the server could not find the requested resource");
        return;
    }
    ktypes_t t;
    types_load(emu, cid, &t);
    const char *gvpath = rest[2] == '/' ? rest + 3 : "";
    json_t *paths = json_object();
    for (size_t i = 0; i < t.n; i++) {
        const ktype_t *k = &t.v[i];
        char *gvp = *k->group ? xasprintf("apis/%s/%s", k->group, k->version) : xasprintf("api/%s", k->version);
        if (!*gvpath) {
            char *url = xasprintf("/k8s/%s/openapi/v3/%s?hash=0", cid, gvp);
            json_object_set_new(paths, gvp, json_pack("{s:s}", "serverRelativeURL", url));
            free(url);
        } else if (!strcmp(gvp, gvpath)) {
            char *path = xasprintf("/%s/%s%s/{name}", gvp, k->namespaced ? "namespaces/{namespace}/" : "", k->resource);
            json_t *op = json_pack("{s:{s:s,s:s,s:s},s:[{s:s,s:s,s:{s:s}}],s:{}}", "x-kubernetes-group-version-kind",
                                   "group", k->group, "version", k->version, "kind", k->kind, "parameters",
                                   "name", "fieldValidation", "in", "query", "schema", "type", "string", "responses");
            json_object_set_new(paths, path, json_pack("{s:o,s:o}", "patch", op, "put", json_deep_copy(op)));
            free(path);
        }
        free(gvp);
    }
    types_free(&t);
    if (!*gvpath) resp->body = json_pack("{s:o}", "paths", paths);
    else resp->body = json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:{}}}", "openapi", "3.0.0", "info", "title", "Kubernetes",
                                "version", "v1.31.1", "paths", paths, "components", "schemas");
}

static void init(emu_t *emu) {
    /* Timers are not persisted: finish what was in flight. */
    json_t *keys = emu_keys(emu, "k8s/"), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        json_t *o = emu_get(emu, key);
        if (o && jpath_get(o, "metadata.deletionTimestamp")) {
            if (emu_get(emu, key)) delete_key(emu, key);
        } else if (o && needs_controller(key)) {
            reconcile(emu, key);
        }
    }
    json_decref(keys);
}

static const emu_route_t routes[] = {
    {"GET", "{cid}/openapi/{x*}", openapi},
    {"GET", "{cid}/{x*}", handle},
    {"POST", "{cid}/{x*}", handle},
    {"PUT", "{cid}/{x*}", handle},
    {"PATCH", "{cid}/{x*}", handle},
    {"DELETE", "{cid}/{x*}", handle},
};

const emu_api_t emu_api_k8s = {"k8s", routes, sizeof routes / sizeof routes[0], init};
