/* api_k8s.c: the Kubernetes API of every GKE cluster the emulator creates,
 * served under <base>/k8s/<CLUSTER_ID>/ (CLUSTER_ID = the cluster's "id" in
 * the container API): dispatch and the object verbs.
 *
 * Enough of the real API server for plinth and kubectl: get/list (label and
 * field selectors), create, replace, merge and strategic-merge patches,
 * server-side apply with managedFields and conflicts (k8s_ssa.c), deletion
 * (foreground: the object lingers a moment with a deletionTimestamp), the
 * scale subresource and Status errors.  Types, keys and selectors are in
 * k8s_core.c, controllers in k8s_ctrl.c, discovery in k8s_discovery.c. */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "emulator/emu_k8s.h"
#include "emulator/k8s_ssa.h"
#include "providers/k8s/k8s_yaml.h"

/* ---- object operations --------------------------------------------------------- */

typedef struct {
    emu_t *emu;
    const emu_req_t *req;
    emu_resp_t *resp;
    const emu_kpath_t *kp;
    const emu_ktype_t *kt;
    emu_ktypes_t *types;
    int apply; /* the write is a server-side apply */
} kctx_t;

static int ns_ok(kctx_t *x, const char *ns) {
    if (!x->kt->namespaced) return 1;
    char *key = xasprintf("k8s/%s/core/namespaces/_/%s", x->kp->cid, ns);
    json_t *n = emu_get(x->emu, key);
    free(key);
    if (!n) {
        emu_k8s_status(x->resp, 404, "NotFound", &(emu_ktype_t){.group = "", .resource = "namespaces"}, ns,
                       "namespaces \"%s\" not found", ns);
        return 0;
    }
    if (jpath_get(n, "metadata.deletionTimestamp")) {
        emu_k8s_status(x->resp, 403, "Forbidden", x->kt, NULL,
                       "unable to create new content in namespace %s because it is being terminated", ns);
        return 0;
    }
    return 1;
}

static void do_list(kctx_t *x) {
    char *prefix = emu_k8s_prefix(x->kp->cid, x->kt, x->kp->ns);
    json_t *keys = emu_keys(x->emu, prefix), *k, *items = json_array();
    size_t i;
    const char *ls = emu_q(x->req, "labelSelector"), *fs = emu_q(x->req, "fieldSelector");
    json_array_foreach(keys, i, k) {
        json_t *o = emu_get(x->emu, json_string_value(k));
        if (!o || !emu_k8s_label_match(ls, jpath_get(o, "metadata.labels"))) continue;
        if (!emu_k8s_field_match(fs, o)) continue;
        json_array_append_new(items, emu_k8s_present(o, x->kt));
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
    char *av = emu_k8s_api_version(x->kt), *kind = xasprintf("%sList", x->kt->kind), rv[32];
    snprintf(rv, sizeof rv, "%lld", (long long)emu_next_id(x->emu, "k8s.resourceVersion"));
    x->resp->body = json_pack("{s:s,s:s,s:{s:s},s:o}", "kind", kind, "apiVersion", av, "metadata",
                              "resourceVersion", rv, "items", items);
    free(av);
    free(kind);
}

static int check_body(kctx_t *x, json_t *obj, const char *name) {
    if (!json_is_object(obj)) {
        emu_k8s_status(x->resp, 400, "BadRequest", x->kt, name, "the body of the request was not an object");
        return -1;
    }
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(obj, "metadata", md);
    }
    const char *bname = json_string_value(json_object_get(md, "name"));
    if (name && bname && strcmp(name, bname) != 0) {
        emu_k8s_status(x->resp, 400, "BadRequest", x->kt, name,
                       "the name of the object (%s) does not match the name on the URL (%s)", bname, name);
        return -1;
    }
    const char *gen = json_string_value(json_object_get(md, "generateName"));
    if (!bname && !name && gen && *gen) {
        char h[8];
        util_random_hex(h, 3);
        h[5] = 0;
        char *n = xasprintf("%s%s", gen, h);
        json_object_set_new(md, "name", json_string(n));
        free(n);
        bname = json_string_value(json_object_get(md, "name"));
    }
    if (!bname && !name) {
        emu_k8s_status(x->resp, 422, "Invalid", x->kt, "",
                       "%s \"\" is invalid: metadata.name: Required value: name or generateName is required",
                       x->kt->kind);
        return -1;
    }
    if (!bname) json_object_set_new(md, "name", json_string(name));
    const char *bns = json_string_value(json_object_get(md, "namespace"));
    if (x->kt->namespaced) {
        if (x->kp->ns && bns && strcmp(bns, x->kp->ns) != 0) {
            emu_k8s_status(
                x->resp, 400, "BadRequest", x->kt, name,
                "the namespace of the provided object does not match the namespace sent on the request");
            return -1;
        }
        if (x->kp->ns) json_object_set_new(md, "namespace", json_string(x->kp->ns));
    } else {
        json_object_del(md, "namespace");
    }
    const char *kind = json_string_value(json_object_get(obj, "kind"));
    if (kind && strcmp(kind, x->kt->kind) != 0) {
        emu_k8s_status(x->resp, 400, "BadRequest", x->kt, name,
                       "the kind of the object (%s) does not match the URL (%s)", kind, x->kt->kind);
        return -1;
    }
    return 0;
}

/* Fields a client may not set: kept from the stored object. */
static void keep_system(json_t *obj, const json_t *old) {
    static const char *const sys[] = {
        "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "managedFields",
        NULL};
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
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(obj, tmp, k, v) if (!strncmp(k, "plinth:", 7)) json_object_del(obj, k);
    json_object_foreach((json_t *)old, k, v) if (!strncmp(k, "plinth:", 7)) json_object_set(obj, k, v);
}

static int spec_changed(const json_t *a, const json_t *b) {
    json_t *x = json_deep_copy(a), *y = json_deep_copy(b);
    json_object_del(x, "plinth:progressStart");
    json_object_del(y, "plinth:progressStart");
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
static void secret_fold(const emu_ktype_t *kt, json_t *obj) {
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
/* 1 when the request asks for a dry run (dryRun=All): admitted, answered, never stored. */
static int dry_run(kctx_t *x) {
    const char *d = emu_q(x->req, "dryRun");
    return d && !strcmp(d, "All");
}

/* Stores obj (new or changed) with the bookkeeping the server does, once
 * admission accepts it. */
static void store(kctx_t *x, const char *key, json_t *obj, const json_t *old) {
    int status_only = x->kp->sub && !strcmp(x->kp->sub, "status");
    if (!status_only && emu_k8s_admit(x->emu, x->kp->cid, x->resp, x->kt, obj,
                                      emu_q(x->req, "fieldValidation"), x->apply) < 0) {
        json_decref(obj);
        return;
    }
    secret_fold(x->kt, obj);
    json_t *md = json_object_get(obj, "metadata");
    int dry = dry_run(x);
    if (!old) {
        char *uid = emu_k8s_uid();
        json_object_set_new(md, "uid", json_string(uid));
        free(uid);
        json_object_set_new(md, "generation", json_integer(1));
        json_object_set_new(md, "creationTimestamp", json_string(emu_now()));
        if (!dry) emu_k8s_on_create(x->emu, x->kp->cid, x->kt, obj);
    } else if (spec_changed(obj, old)) {
        json_t *g = jpath_get(old, "metadata.generation");
        json_object_set_new(md, "generation",
                            json_integer((json_is_integer(g) ? json_integer_value(g) : 1) + 1));
    }
    if (old && json_equal(obj, (json_t *)old)) {
        x->resp->body = emu_k8s_present(old, x->kt);
        json_decref(obj);
        return;
    }
    if (dry) {
        x->resp->body = emu_k8s_present(obj, x->kt);
        x->resp->status = old ? 200 : 201;
        json_decref(obj);
        return;
    }
    emu_k8s_bump_rv(x->emu, obj);
    x->resp->body = emu_k8s_present(obj, x->kt);
    x->resp->status = old ? 200 : 201;
    emu_k8s_put(x->emu, key, obj);
    if (emu_k8s_key_is(key, "core/services") || emu_k8s_key_is(key, "core/pods"))
        emu_k8s_endpoints(x->emu, x->kp->cid, x->kp->ns);
    if (emu_k8s_needs_controller(key) && (!old || spec_changed(obj, old)))
        emu_after(x->emu, emu_duration(x->emu, "k8s.rollout"), emu_k8s_reconcile_timer, key);
}

static const char *manager_of(kctx_t *x, const char *dflt) {
    const char *m = emu_q(x->req, "fieldManager");
    return m && *m ? m : dflt;
}

static int immutable_check(kctx_t *x, const json_t *old, const json_t *obj) {
    static const struct {
        const char *group, *resource, *path;
    } imm[] = {{"apps", "deployments", "spec.selector"},
               {"apps", "statefulsets", "spec.selector"},
               {"apps", "daemonsets", "spec.selector"},
               {"apps", "replicasets", "spec.selector"},
               {"batch", "jobs", "spec.selector"},
               {"batch", "jobs", "spec.template"},
               {"", "services", "spec.clusterIP"},
               {"apps", "statefulsets", "spec.serviceName"},
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
        const char *name = emu_k8s_sget(old, "metadata.name");
        emu_k8s_status(x->resp, 422, "Invalid", x->kt, name,
                       "%s.%s \"%s\" is invalid: %s: Invalid value: field is immutable", x->kt->kind,
                       x->kt->group, name ? name : "", imm[i].path);
        return -1;
    }
    return 0;
}

static void do_get(kctx_t *x) {
    char *key = emu_k8s_key(x->kp->cid, x->kt, x->kp->ns, x->kp->name);
    json_t *o = emu_get(x->emu, key);
    if (!o)
        emu_k8s_not_found(x->resp, x->kt, x->kp->name);
    else
        x->resp->body = emu_k8s_present(o, x->kt);
    free(key);
}

static void do_create(kctx_t *x) {
    json_t *obj = json_deep_copy(x->req->body);
    if (check_body(x, obj, NULL) != 0) {
        json_decref(obj);
        return;
    }
    const char *name = emu_k8s_sget(obj, "metadata.name");
    if (!ns_ok(x, x->kp->ns)) {
        json_decref(obj);
        return;
    }
    char *key = emu_k8s_key(x->kp->cid, x->kt, x->kp->ns, name);
    if (emu_get(x->emu, key)) {
        emu_k8s_status(x->resp, 409, "AlreadyExists", x->kt, name, "%s%s%s \"%s\" already exists",
                       x->kt->resource, *x->kt->group ? "." : "", x->kt->group, name);
    } else {
        keep_system(obj, NULL);
        emu_ssa_update(obj, NULL, manager_of(x, "unknown"), x->kt->group, x->kt->version);
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
    char *key = emu_k8s_key(x->kp->cid, x->kt, x->kp->ns, x->kp->name);
    json_t *old = emu_get(x->emu, key);
    const char *rv = emu_k8s_sget(obj, "metadata.resourceVersion");
    if (!old) {
        emu_k8s_not_found(x->resp, x->kt, x->kp->name);
    } else if (rv && strcmp(rv, emu_k8s_sget(old, "metadata.resourceVersion") ?: "")) {
        emu_k8s_status(x->resp, 409, "Conflict", x->kt, x->kp->name,
                       "Operation cannot be fulfilled on %s \"%s\": the object has been modified; please "
                       "apply your changes to the latest version and try again",
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
            emu_ssa_update(obj, old, manager_of(x, "unknown"), x->kt->group, x->kt->version);
            store(x, key, obj, old);
            obj = NULL;
        }
    }
    json_decref(obj);
    free(key);
}

static void do_apply(kctx_t *x, const char *key, json_t *old) {
    perr_t e = {0};
    json_t *docs =
        k8s_yaml_parse(x->req->raw_body ? x->req->raw_body : "", x->req->raw_len, "body", NULL, &e);
    if (!docs || json_array_size(docs) != 1) {
        emu_k8s_status(x->resp, 400, "BadRequest", x->kt, x->kp->name, "error decoding YAML: %s",
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
        emu_k8s_status(x->resp, 400, "BadRequest", x->kt, x->kp->name,
                       "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required "
                       "for apply patch");
        json_decref(cfg);
        return;
    }
    if (!old && !ns_ok(x, x->kp->ns)) {
        json_decref(cfg);
        return;
    }
    const char *force = emu_q(x->req, "force");
    char conflicts[2048] = "";
    json_t *obj = emu_ssa_apply(old, cfg, mgr, force && !strcmp(force, "true"), x->kt->group, x->kt->version,
                                conflicts, sizeof conflicts);
    json_decref(cfg);
    if (!obj) {
        emu_k8s_status(x->resp, 409, "Conflict", x->kt, x->kp->name, "Apply failed with %s", conflicts);
        json_t *causes = json_array();
        json_object_set_new(json_object_get(x->resp->body, "details"), "causes", causes);
        return;
    }
    if (old && immutable_check(x, old, obj) != 0) {
        json_decref(obj);
        return;
    }
    x->apply = 1;
    store(x, key, obj, old);
}

static void do_patch(kctx_t *x) {
    char *key = emu_k8s_key(x->kp->cid, x->kt, x->kp->ns, x->kp->name);
    json_t *old = emu_get(x->emu, key);
    const char *ct = x->req->content_type ? x->req->content_type : "";
    if (strstr(ct, "apply-patch")) {
        do_apply(x, key, old);
        free(key);
        return;
    }
    if (!old) {
        emu_k8s_not_found(x->resp, x->kt, x->kp->name);
        free(key);
        return;
    }
    int strategic = strstr(ct, "strategic-merge-patch") != NULL,
        json_patch = strstr(ct, "json-patch") != NULL;
    if (!(json_patch ? json_is_array(x->req->body)
                     : strstr(ct, "merge-patch") && json_is_object(x->req->body))) {
        emu_k8s_status(x->resp, 415, "UnsupportedMediaType", x->kt, x->kp->name,
                       "the body of the request was in an unknown format - accepted media types include: "
                       "application/json-patch+json, application/merge-patch+json, "
                       "application/apply-patch+yaml");
        free(key);
        return;
    }
    json_t *obj = json_deep_copy(old);
    char perr[512] = "";
    if (json_patch && emu_k8s_json_patch(obj, x->req->body, perr, sizeof perr) < 0) {
        emu_k8s_status(x->resp, 422, "Invalid", x->kt, x->kp->name, "%s", perr);
        json_decref(obj);
        free(key);
        return;
    }
    int status = x->kp->sub && !strcmp(x->kp->sub, "status");
    if (!json_patch) emu_ssa_merge_patch(obj, x->req->body, strategic);
    if (!status) {
        json_object_del(obj, "status");
        if (json_object_get(old, "status")) json_object_set(obj, "status", json_object_get(old, "status"));
    }
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) json_object_set_new(obj, "metadata", json_object());
    /* identity cannot change */
    json_object_set(json_object_get(obj, "metadata"), "name", jpath_get(old, "metadata.name"));
    if (immutable_check(x, old, obj) == 0) {
        emu_ssa_update(obj, old, manager_of(x, "unknown"), x->kt->group, x->kt->version);
        store(x, key, obj, old);
        obj = NULL;
    }
    json_decref(obj);
    free(key);
}

static void do_delete(kctx_t *x) {
    char *key = emu_k8s_key(x->kp->cid, x->kt, x->kp->ns, x->kp->name);
    json_t *old = emu_get(x->emu, key);
    if (!old) {
        emu_k8s_not_found(x->resp, x->kt, x->kp->name);
        free(key);
        return;
    }
    const char *pp = emu_q(x->req, "propagationPolicy");
    if (!pp && json_is_object(x->req->body))
        pp = json_string_value(json_object_get(x->req->body, "propagationPolicy"));
    int is_ns = emu_k8s_key_is(key, "core/namespaces");
    int lingers = is_ns || (pp && !strcmp(pp, "Foreground")) ||
                  emu_k8s_key_is(key, "apiextensions.k8s.io/customresourcedefinitions");
    if (!lingers) {
        x->resp->body = emu_k8s_present(old, x->kt);
        emu_k8s_delete_key(x->emu, key);
        free(key);
        return;
    }
    if (!jpath_get(old, "metadata.deletionTimestamp")) {
        json_t *o = json_deep_copy(old);
        json_t *md = json_object_get(o, "metadata");
        json_object_set_new(md, "deletionTimestamp", json_string(emu_now()));
        json_object_set_new(md, "deletionGracePeriodSeconds", json_integer(0));
        if (is_ns)
            json_object_set_new(o, "status", json_pack("{s:s}", "phase", "Terminating"));
        else if (pp && !strcmp(pp, "Foreground"))
            json_object_set_new(md, "finalizers", json_pack("[s]", "foregroundDeletion"));
        emu_k8s_bump_rv(x->emu, o);
        emu_k8s_put(x->emu, key, o);
        emu_after(x->emu, emu_duration(x->emu, "k8s.delete"), emu_k8s_finish_delete, key);
        old = o;
    }
    x->resp->body = emu_k8s_present(old, x->kt);
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
    char *key = emu_k8s_key(x->kp->cid, x->kt, x->kp->ns, x->kp->name);
    json_t *old = emu_get(x->emu, key);
    if (!old) {
        emu_k8s_not_found(x->resp, x->kt, x->kp->name);
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
        emu_k8s_status(x->resp, 400, "BadRequest", x->kt, x->kp->name,
                       "the body of the request was not a JSON object");
        json_decref(sc);
        free(key);
        return;
    }
    if (!strcmp(x->req->method, "PUT")) {
        json_decref(sc);
        sc = json_deep_copy(x->req->body);
    } else {
        emu_ssa_merge_patch(sc, x->req->body, 0);
    }
    json_t *n = jpath_get(sc, "spec.replicas");
    json_t *obj = json_deep_copy(old);
    if (json_is_integer(n)) jpath_set_new(obj, "spec.replicas", json_integer(json_integer_value(n)));
    json_decref(sc);
    emu_ssa_update(obj, old, manager_of(x, "unknown"), x->kt->group, x->kt->version);
    store(x, key, obj, old);
    json_t *stored = emu_get(x->emu, key);
    json_decref(x->resp->body);
    x->resp->body = scale_of(stored ? stored : old);
    free(key);
}

/* Every cluster starts with these namespaces. */
/* ---- dispatch ------------------------------------------------------------------ */

#define NOT_FOUND_RESOURCE "the server could not find the requested resource"
#define NOT_ALLOWED "the server does not allow this method on the requested resource"

/* /version as GKE's apiserver answers it: the cluster's currentMasterVersion
 * ("1.30.5-gke.1014001" -> gitVersion "v1.30.5-gke.1014001", minor "30"). */
static void version(emu_resp_t *resp, const json_t *cluster) {
    const char *v =
        json_string_value(json_object_get(cluster, "currentMasterVersion")) ?: "1.30.5-gke.1014001";
    char major[8] = "1", minor[8] = "30";
    sscanf(v, "%7[0-9].%7[0-9]", major, minor);
    char *git = xasprintf("v%s", v);
    resp->body =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "major", major, "minor", minor, "gitVersion", git,
                  "gitCommit", "emulated", "gitTreeState", "clean", "buildDate", "2024-10-01T00:00:00Z",
                  "goVersion", "go1.22.7", "compiler", "gc", "platform", "linux/amd64");
    free(git);
}

/* SelfSubjectAccessReview (kubectl auth can-i) and SelfSubjectReview
 * (kubectl auth whoami): the emulator's caller may do anything, as the
 * project owner of a GKE cluster may. */
static void review(kctx_t *x) {
    json_t *r = json_is_object(x->req->body) ? json_deep_copy(x->req->body) : json_object();
    char *av = emu_k8s_api_version(x->kt);
    json_object_set_new(r, "apiVersion", json_string(av));
    json_object_set_new(r, "kind", json_string(x->kt->kind));
    free(av);
    if (!strcmp(x->kt->resource, "selfsubjectaccessreviews"))
        json_object_set_new(r, "status",
                            json_pack("{s:b,s:s}", "allowed", 1, "reason", "the emulator allows everything"));
    else
        json_object_set_new(r, "status",
                            json_pack("{s:{s:s,s:[s,s]}}", "userInfo", "username", "emulator@plinth.local",
                                      "groups", "system:authenticated", "system:masters"));
    x->resp->body = r;
    x->resp->status = 201;
}

/* A request for one object or a collection of a known type. */
static void dispatch_object(kctx_t *x) {
    const emu_kpath_t *kp = x->kp;
    const emu_ktype_t *kt = x->kt;
    const char *m = x->req->method;
    if (kp->sub && !strcmp(kp->sub, "scale") && !strcmp(kt->group, "apps") &&
        strcmp(kt->resource, "daemonsets")) {
        do_scale(x);
        return;
    }
    if (!strcmp(kt->resource, "selfsubjectaccessreviews") || !strcmp(kt->resource, "selfsubjectreviews")) {
        if (!kp->name && !strcmp(m, "POST"))
            review(x);
        else
            emu_k8s_status(x->resp, 405, "MethodNotAllowed", kt, kp->name, NOT_ALLOWED);
        return;
    }
    if ((kp->sub && strcmp(kp->sub, "status") != 0) || (!kt->namespaced && kp->ns)) {
        emu_k8s_status(x->resp, 404, "NotFound", kt, kp->name, NOT_FOUND_RESOURCE);
        return;
    }
    if (!kp->name) {
        if (!strcmp(m, "GET"))
            do_list(x);
        else if (strcmp(m, "POST") != 0)
            emu_k8s_status(x->resp, 405, "MethodNotAllowed", kt, NULL, NOT_ALLOWED);
        else if (kt->namespaced && !kp->ns)
            emu_k8s_status(x->resp, 404, "NotFound", kt, NULL, NOT_FOUND_RESOURCE);
        else
            do_create(x);
        return;
    }
    if (kt->namespaced && !kp->ns) {
        emu_k8s_status(x->resp, 404, "NotFound", kt, kp->name, NOT_FOUND_RESOURCE);
        return;
    }
    if (!strcmp(m, "GET"))
        do_get(x);
    else if (!strcmp(m, "PUT"))
        do_put(x);
    else if (!strcmp(m, "PATCH"))
        do_patch(x);
    else if (!strcmp(m, "DELETE"))
        do_delete(x);
    else
        emu_k8s_status(x->resp, 405, "MethodNotAllowed", kt, kp->name, NOT_ALLOWED);
}

static void handle(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *cid = req->params[0];
    const char *rest = req->nparams > 1 ? req->params[1] : "";
    snprintf(resp->content_type, sizeof resp->content_type, "application/json");
    json_t *cluster = emu_k8s_cluster(emu, cid);
    if (!cluster) {
        emu_k8s_status(resp, 404, "NotFound", NULL, NULL, "no cluster with id %s", cid);
        return;
    }
    emu_k8s_ensure_namespaces(emu, cid);
    if (emu_k8s_sync_nodes(emu, cid, cluster)) emu_k8s_reconcile_cluster(emu, cid);
    if (!strcmp(rest, "version") || !strcmp(rest, "version/")) {
        version(resp, cluster);
        return;
    }
    if (!strcmp(rest, "healthz") || !strcmp(rest, "readyz") || !strcmp(rest, "livez")) {
        resp->raw = xstrdup("ok");
        resp->raw_len = 2;
        snprintf(resp->content_type, sizeof resp->content_type, "text/plain; charset=utf-8");
        return;
    }
    emu_kpath_t kp;
    emu_ktypes_t types = {0};
    const emu_ktype_t *kt = NULL;
    if (emu_k8s_path_parse(cid, rest, &kp) != 0) {
        emu_k8s_status(resp, 404, "NotFound", NULL, NULL, NOT_FOUND_RESOURCE);
        goto out;
    }
    emu_k8s_types_load(emu, cid, &types);
    if (kp.discovery) {
        if (strcmp(req->method, "GET") != 0)
            emu_k8s_status(resp, 405, "MethodNotAllowed", NULL, NULL, NOT_ALLOWED);
        else
            emu_k8s_discovery(emu, req, resp, &kp, &types);
    } else if (!(kt = emu_k8s_types_find(&types, kp.group, kp.version, kp.resource))) {
        emu_k8s_status(resp, 404, "NotFound", NULL, NULL, NOT_FOUND_RESOURCE);
    } else {
        kctx_t x = {emu, req, resp, &kp, kt, &types, 0};
        dispatch_object(&x);
    }
out:
    emu_k8s_types_free(&types);
    emu_k8s_path_free(&kp);
}

static const emu_route_t routes[] = {
    {"GET", "{cid}/openapi/{x*}", emu_k8s_openapi},
    {"GET", "{cid}/{x*}", handle},
    {"POST", "{cid}/{x*}", handle},
    {"PUT", "{cid}/{x*}", handle},
    {"PATCH", "{cid}/{x*}", handle},
    {"DELETE", "{cid}/{x*}", handle},
};

const emu_api_t emu_api_k8s = {"k8s", routes, sizeof routes / sizeof routes[0], emu_k8s_resume};
