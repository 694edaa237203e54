/* k8s_core.c: the emulated apiserver's types (built-in kinds plus the
 * served versions of established CRDs), store keys, Status errors, label
 * and field selectors and request paths (see emu_k8s.h). */
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "emulator/emu_k8s.h"

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
    {"admissionregistration.k8s.io/v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration",
     0, ""},
    {"admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", 0,
     ""},
    {"policy/v1", "poddisruptionbudgets", "PodDisruptionBudget", 1, "pdb"},
    {"autoscaling/v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", 1, "hpa"},
    {"coordination.k8s.io/v1", "leases", "Lease", 1, ""},
    {"authorization.k8s.io/v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", 0, ""},
    {"authentication.k8s.io/v1", "selfsubjectreviews", "SelfSubjectReview", 0, ""},
};

static void types_add(emu_ktypes_t *t, const char *group, const char *version, const char *resource,
                      const char *kind, const char *singular, int namespaced, const char *shortnames) {
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 64;
        t->v = xrealloc(t->v, t->cap * sizeof *t->v);
    }
    emu_ktype_t *k = &t->v[t->n++];
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

void emu_k8s_types_free(emu_ktypes_t *t) {
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].group);
        free(t->v[i].version);
        free(t->v[i].resource);
        free(t->v[i].kind);
        free(t->v[i].singular);
    }
    free(t->v);
}

const char *emu_k8s_sget(const json_t *o, const char *path) {
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
void emu_k8s_types_load(emu_t *emu, const char *cid, emu_ktypes_t *t) {
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
        const char *group = emu_k8s_sget(crd, "spec.group"), *plural = emu_k8s_sget(crd, "spec.names.plural"),
                   *kind = emu_k8s_sget(crd, "spec.names.kind"), *scope = emu_k8s_sget(crd, "spec.scope");
        if (!group || !plural || !kind) continue;
        json_t *vers = jpath_get(crd, "spec.versions"), *v;
        size_t j;
        json_array_foreach(vers, j, v) {
            const char *name = json_string_value(json_object_get(v, "name"));
            if (!name || json_is_false(json_object_get(v, "served"))) continue;
            types_add(t, group, name, plural, kind, emu_k8s_sget(crd, "spec.names.singular"),
                      !scope || strcmp(scope, "Cluster") != 0, NULL);
        }
    }
    json_decref(keys);
    free(prefix);
}

const emu_ktype_t *emu_k8s_types_find(const emu_ktypes_t *t, const char *group, const char *version,
                                      const char *resource) {
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].group, group) && !strcmp(t->v[i].version, version) &&
            !strcmp(t->v[i].resource, resource))
            return &t->v[i];
    return NULL;
}

char *emu_k8s_api_version(const emu_ktype_t *kt) {
    return *kt->group ? xasprintf("%s/%s", kt->group, kt->version) : xstrdup(kt->version);
}

/* ---- responses --------------------------------------------------------- */

void emu_k8s_status(emu_resp_t *resp, int code, const char *reason, const emu_ktype_t *kt, const char *name,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));

void emu_k8s_status(emu_resp_t *resp, int code, const char *reason, const emu_ktype_t *kt, const char *name,
                    const char *fmt, ...) {
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
                           "metadata", "status", "Failure", "message", b.s ? b.s : "", "reason", reason,
                           "details", details, "code", code);
    sbuf_free(&b);
}

void emu_k8s_not_found(emu_resp_t *resp, const emu_ktype_t *kt, const char *name) {
    emu_k8s_status(resp, 404, "NotFound", kt, name, "%s%s%s \"%s\" not found", kt->resource,
                   *kt->group ? "." : "", kt->group, name);
}

/* ---- clusters ------------------------------------------------------------ */

json_t *emu_k8s_cluster(emu_t *emu, const char *cid) {
    json_t *keys = emu_keys(emu, "container/projects/"), *k, *found = NULL;
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        const char *cl = strstr(key, "/clusters/");
        if (!cl || strchr(cl + 10, '/')) continue;
        json_t *c = emu_get(emu, key);
        const char *id = json_string_value(json_object_get(c, "id"));
        if (id && !strcmp(id, cid)) {
            found = c;
            break;
        }
    }
    json_decref(keys);
    return found;
}

/* ---- store keys ---------------------------------------------------------- */

char *emu_k8s_key(const char *cid, const emu_ktype_t *kt, const char *ns, const char *name) {
    return xasprintf("k8s/%s/%s/%s/%s/%s", cid, *kt->group ? kt->group : "core", kt->resource,
                     kt->namespaced && ns ? ns : "_", name);
}

char *emu_k8s_prefix(const char *cid, const emu_ktype_t *kt, const char *ns) {
    if (kt->namespaced && ns)
        return xasprintf("k8s/%s/%s/%s/%s/", cid, *kt->group ? kt->group : "core", kt->resource, ns);
    return xasprintf("k8s/%s/%s/%s/", cid, *kt->group ? kt->group : "core", kt->resource);
}

/* The object as served for kt's version. */
/* Top-level "plinth:" keys are the emulator's bookkeeping, never served. */
static void drop_private(json_t *o) {
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(o, tmp, k, v) if (!strncmp(k, "plinth:", 7)) json_object_del(o, k);
}

json_t *emu_k8s_present(const json_t *obj, const emu_ktype_t *kt) {
    json_t *o = json_deep_copy(obj);
    drop_private(o);
    char *av = emu_k8s_api_version(kt);
    json_object_set_new(o, "apiVersion", json_string(av));
    free(av);
    json_object_set_new(o, "kind", json_string(kt->kind));
    return o;
}

void emu_k8s_put(emu_t *emu, const char *key, json_t *obj) {
    emu_put(emu, key, obj);
}

char *emu_k8s_uid(void) {
    char h[33];
    util_random_hex(h, 16);
    return xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

void emu_k8s_bump_rv(emu_t *emu, json_t *obj) {
    char rv[32];
    snprintf(rv, sizeof rv, "%lld", (long long)emu_next_id(emu, "k8s.resourceVersion"));
    json_t *md = json_object_get(obj, "metadata");
    json_object_set_new(md, "resourceVersion", json_string(rv));
}

int emu_k8s_key_is(const char *key, const char *group_res) {
    const char *gr = key;
    for (int i = 0; i < 2 && gr; i++) {
        gr = strchr(gr, '/');
        if (gr) gr++;
    }
    return gr && !strncmp(gr, group_res, strlen(group_res)) && gr[strlen(group_res)] == '/';
}

/* Brings an object's status up to date, as its controller would. */
/* ---- selectors ------------------------------------------------------------ */

/* Basic label selectors: "a=b,c!=d,e,!f", "a in (x,y)" not supported. */
int emu_k8s_label_match(const char *sel, const json_t *labels) {
    if (!sel || !*sel) return 1;
    char *s = xstrdup(sel), *save = NULL;
    int ok = 1;
    for (char *t = strtok_r(s, ",", &save); t && ok; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
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

int emu_k8s_field_match(const char *sel, const json_t *obj) {
    if (!sel || !*sel) return 1;
    char *s = xstrdup(sel), *save = NULL;
    int ok = 1;
    for (char *t = strtok_r(s, ",", &save); t && ok; t = strtok_r(NULL, ",", &save)) {
        char *ne = strstr(t, "!="), *eq = strchr(t, '=');
        int neg = ne != NULL;
        char *val = ne ? ne + 2 : eq ? (eq[1] == '=' ? eq + 2 : eq + 1) : NULL;
        if (ne)
            *ne = 0;
        else if (eq)
            *eq = 0;
        if (!val) continue;
        json_t *v = jpath_get(obj, t);
        int m = json_is_string(v) && !strcmp(json_string_value(v), val);
        ok = neg ? !m : m;
    }
    free(s);
    return ok;
}

void emu_k8s_path_free(emu_kpath_t *p) {
    free(p->cid);
    free(p->group);
    free(p->version);
    free(p->ns);
    free(p->resource);
    free(p->name);
    free(p->sub);
}

static char *seg_dup(char **segs, size_t n, size_t i) {
    return i < n ? xstrdup(segs[i]) : NULL;
}

/* Splits "<cid>/api/v1/namespaces/x/pods/y". Returns -1 if not a resource path. */
int emu_k8s_path_parse(const char *cid, const char *rest, emu_kpath_t *kp) {
    memset(kp, 0, sizeof *kp);
    kp->cid = xstrdup(cid);
    char *copy = xstrdup(rest);
    char *segs[16];
    size_t n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, "/", &save); t && n < 16; t = strtok_r(NULL, "/", &save))
        segs[n++] = t;
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
