/* k8s_manifest.c: k8s.manifest expansion (one k8s.object per YAML
 * document) and implicit dependencies between Kubernetes objects (CRDs
 * before their custom resources, namespaces before what they hold). */
#include "providers/k8s/k8s_manifest.h"

#include <string.h>

#include "core/jpath.h"
#include "core/ref.h"
#include "providers/k8s/k8s_yaml.h"

static const char *const cluster_kinds[] = {"Namespace",
                                            "Node",
                                            "PersistentVolume",
                                            "ClusterRole",
                                            "ClusterRoleBinding",
                                            "CustomResourceDefinition",
                                            "IngressClass",
                                            "PriorityClass",
                                            "StorageClass",
                                            "ValidatingWebhookConfiguration",
                                            "MutatingWebhookConfiguration",
                                            "APIService",
                                            "CSIDriver",
                                            "CSINode",
                                            "VolumeAttachment",
                                            "RuntimeClass",
                                            "CertificateSigningRequest",
                                            "ValidatingAdmissionPolicy",
                                            "ValidatingAdmissionPolicyBinding",
                                            "FlowSchema",
                                            "PriorityLevelConfiguration",
                                            NULL};

static const char *const conn_fields[] = {"cluster", "kubeconfig", "context", "wait_timeout", "via", NULL};

static const char *sget(const json_t *o, const char *path) {
    return json_string_value(jpath_get(o, path));
}

char *k8s_object_key(const json_t *obj) {
    const char *kind = sget(obj, "kind"), *name = sget(obj, "metadata.name");
    const char *ns = sget(obj, "metadata.namespace");
    if (!kind || !name) return NULL;
    return ns && *ns ? xasprintf("%s/%s/%s", kind, ns, name) : xasprintf("%s/%s", kind, name);
}

static int is_cluster_kind(const char *kind, const json_t *docs) {
    for (const char *const *k = cluster_kinds; *k; k++)
        if (!strcmp(*k, kind)) return 1;
    /* A CRD in the same manifest says how its kind is scoped. */
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        const char *dk = sget(d, "kind");
        if (!dk || strcmp(dk, "CustomResourceDefinition") != 0) continue;
        const char *ck = sget(d, "spec.names.kind"), *scope = sget(d, "spec.scope");
        if (ck && !strcmp(ck, kind)) return scope && !strcmp(scope, "Cluster");
    }
    return 0;
}

int k8s_manifest_expand(const json_t *body, const char *spec_dir, json_t **items, perr_t *e) {
    *items = NULL;
    const char *file = json_string_value(json_object_get(body, "file"));
    const char *yaml = json_string_value(json_object_get(body, "yaml"));
    if ((file != NULL) == (yaml != NULL)) {
        perr_set(e, "", "k8s.manifest: set exactly one of file or yaml (a string)");
        return -1;
    }
    json_t *nsv = json_object_get(body, "namespace");
    if (nsv && !json_is_string(nsv)) {
        perr_set(e, "", "k8s.manifest: namespace must be a string");
        return -1;
    }
    const char *dflt_ns = json_string_value(nsv);
    char *text = NULL, *path = NULL;
    size_t len;
    const char *name;
    if (file) {
        path = file[0] == '/' || !spec_dir || !*spec_dir ? xstrdup(file) : xasprintf("%s/%s", spec_dir, file);
        text = util_read_file(path, &len, e);
        if (!text) {
            perr_set(e, "", "k8s.manifest: cannot read %s", path);
            free(path);
            return -1;
        }
        name = file;
    } else {
        len = strlen(yaml);
        name = "<yaml>";
    }
    json_t *lines = NULL;
    json_t *docs = k8s_yaml_parse(file ? text : yaml, len, name, &lines, e);
    free(text);
    if (!docs) {
        free(path);
        return -1;
    }
    /* Flatten *List documents. */
    json_t *flat = json_array(), *flines = json_array();
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        json_t *line = json_array_get(lines, i);
        const char *kind = sget(d, "kind");
        json_t *its = json_object_get(d, "items");
        size_t kl = kind ? strlen(kind) : 0;
        if (kl > 4 && !strcmp(kind + kl - 4, "List") && json_is_array(its)) {
            size_t j;
            json_t *x;
            json_array_foreach(its, j, x) {
                json_array_append(flat, x);
                json_array_append(flines, line);
            }
        } else {
            json_array_append(flat, d);
            json_array_append(flines, line);
        }
    }
    json_decref(docs);
    json_decref(lines);
    json_t *out = json_array();
    json_t *seen = json_object();
    int rc = 0;
    json_array_foreach(flat, i, d) {
        int line = (int)json_integer_value(json_array_get(flines, i));
        if (!json_is_object(d)) {
            perr_set(e, "", "%s:%d:1: a manifest document must be a mapping (a Kubernetes object)", name,
                     line);
            rc = -1;
            break;
        }
        const char *kind = sget(d, "kind"), *av = sget(d, "apiVersion"), *oname = sget(d, "metadata.name");
        if (!kind || !av || !oname) {
            perr_set(e, "", "%s:%d:1: object without %s", name, line,
                     !av     ? "apiVersion"
                     : !kind ? "kind"
                             : "metadata.name");
            rc = -1;
            break;
        }
        json_t *obj = json_deep_copy(d);
        if (dflt_ns && !sget(obj, "metadata.namespace") && !is_cluster_kind(kind, flat))
            jpath_set_new(obj, "metadata.namespace", json_string(dflt_ns));
        for (const char *const *f = conn_fields; *f; f++) {
            json_t *v = json_object_get(body, *f);
            if (v) json_object_set(obj, *f, v);
        }
        char *key = k8s_object_key(obj);
        json_t *prev = json_object_get(seen, key);
        if (prev) {
            perr_set(e, "", "%s:%d:1: duplicate object %s (also at line %lld)", name, line, key,
                     (long long)json_integer_value(prev));
            free(key);
            json_decref(obj);
            rc = -1;
            break;
        }
        json_object_set_new(seen, key, json_integer(line));
        json_array_append_new(out, json_pack("{s:s,s:o,s:i}", "key", key, "body", obj, "line", line));
        free(key);
    }
    json_decref(seen);
    json_decref(flat);
    json_decref(flines);
    free(path);
    if (rc != 0) {
        json_decref(out);
        return -1;
    }
    *items = out;
    return 0;
}

static int is_k8s(const spec_res_t *r) {
    return r->type && (!strcmp(r->type, "k8s.object") || !strcmp(r->type, "k8s.namespace"));
}

static const char *kind_of(const spec_res_t *r) {
    if (!strcmp(r->type, "k8s.namespace")) return "Namespace";
    return sget(r->body, "kind");
}

static const char *name_of(const spec_res_t *r) {
    const char *n = sget(r->body, "metadata.name");
    if (!n && !json_object_get(json_object_get(r->body, "metadata"), "name"))
        n = r->name; /* defaults to the spec name */
    return n;
}

void k8s_link(const spec_t *s, rtype_link_fn add, void *ud) {
    json_t *crds = json_object(), *nss = json_object();
    for (size_t i = 0; i < s->nres; i++) {
        const spec_res_t *r = &s->res[i];
        if (!is_k8s(r)) continue;
        const char *kind = kind_of(r);
        if (!kind) continue;
        if (!strcmp(kind, "Namespace")) {
            const char *n = name_of(r);
            if (n) json_object_set_new(nss, n, json_string(r->addr));
        } else if (!strcmp(kind, "CustomResourceDefinition")) {
            const char *g = sget(r->body, "spec.group"), *k = sget(r->body, "spec.names.kind");
            if (g && k) {
                char *gk = xasprintf("%s/%s", g, k);
                json_object_set_new(crds, gk, json_string(r->addr));
                free(gk);
            }
        }
    }
    for (size_t i = 0; i < s->nres; i++) {
        const spec_res_t *r = &s->res[i];
        if (!is_k8s(r)) continue;
        const char *kind = kind_of(r), *av = sget(r->body, "apiVersion");
        if (kind && av) {
            const char *slash = strchr(av, '/');
            if (slash) {
                char *gk = xasprintf("%.*s/%s", (int)(slash - av), av, kind);
                const char *crd = json_string_value(json_object_get(crds, gk));
                if (crd && strcmp(crd, r->addr) != 0) add(ud, i, crd);
                free(gk);
            }
        }
        const char *ns = sget(r->body, "metadata.namespace");
        if (ns && kind && strcmp(kind, "Namespace") != 0) {
            const char *na = json_string_value(json_object_get(nss, ns));
            if (na && strcmp(na, r->addr) != 0) add(ud, i, na);
        }
    }
    json_decref(crds);
    json_decref(nss);
}

int k8s_expand(const char *type, const json_t *body, const char *spec_dir, json_t **items, perr_t *e) {
    if (strcmp(type, "k8s.manifest") != 0) return 0;
    if (k8s_manifest_expand(body, spec_dir, items, e) != 0) return -1;
    size_t i;
    json_t *it;
    json_array_foreach(*items, i, it) json_object_set_new(it, "type", json_string("k8s.object"));
    return 1;
}
