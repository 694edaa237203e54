/* k8s_object.c: the CRUD of k8s.object and k8s.namespace: the target an
 * ID names, read, server-side apply (create and update), foreground
 * deletion waited until gone, and import. */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jpath.h"
#include "core/ref.h"
#include "core/rtype.h"
#include "transport/gcp_http.h"
#include "transport/gcp_log.h"
#include "providers/k8s/k8s.h"
#include "providers/k8s/k8s_manifest.h"
#include "providers/k8s/k8s_yaml.h"
#include "transport/ssh.h"
#include "providers/k8s/k8s_int.h"

/* ---- the object type ---------------------------------------------------------- */

const char *const k8s_plinth_fields[] = {"cluster", "kubeconfig", "context", "wait_timeout", "via", NULL};

void k8s_strip_live(json_t *live) {
    json_t *md = json_object_get(live, "metadata");
    if (json_is_object(md)) json_object_del(md, "managedFields");
}

static void target_free(target_t *t) {
    json_decref(t->via);
    free(t->api_version);
    free(t->kind);
    free(t->ns);
    free(t->name);
}

static int target_from_id(rctx_t *c, const char *id, const json_t *desired, target_t *t) {
    memset(t, 0, sizeof *t);
    t->P = c->prov;
    char *parts[5];
    if (k8s_split_id(id, parts) != 0) {
        perr_set(c->err, "", "bad k8s resource ID %s (want CONNECTION|apiVersion|kind|namespace|name)", id);
        return -1;
    }
    if (desired && !ref_contains(desired) &&
        (json_object_get(desired, "cluster") || json_object_get(desired, "kubeconfig"))) {
        perr_t ig = {0};
        char *k = k8s_body_conn_key(t->P, desired, &ig);
        if (k && !strcmp(k, parts[0])) t->conn = k8s_conn_for_body(t->P, desired, c->err);
        free(k);
    }
    if (!t->conn) t->conn = k8s_conn_for_key(t->P, parts[0], &t->gone, c->err);
    t->api_version = xstrdup(parts[1]);
    t->kind = xstrdup(parts[2]);
    t->ns = xstrdup(parts[3]);
    t->name = xstrdup(parts[4]);
    k8s_free_parts(parts);
    if (t->gone) return 0;
    if (!t->conn) return -1;
    /* Before the first request: it may have to go through the bastion. */
    json_t *via = json_object_get(desired, "via");
    if (via && json_is_null(via)) via = NULL;
    if (via && !ref_contains(via)) {
        if (k8s_via_check(via, c->err) != 0) return -1;
        k8s_prov_note_via(t->P, id, via);
    }
    if (via || !desired) t->via = k8s_prov_via(t->P, id);
    if (via && !t->via) {
        perr_set(c->err, "",
                 "via refers to attributes of other resources, which are not resolved when "
                 "reading an existing object: set via with values known before the run "
                 "(literals or variables)");
        return -1;
    }
    int d = k8s_discover(t->P, t->conn, t->via, t->api_version, t->kind, &t->kr, c->cancel, c->err);
    if (d < 0) return -1;
    t->known = d;
    return 0;
}

char *k8s_obj_id(rctx_t *c, const json_t *desired) {
    k8s_prov_t *P = c->prov;
    const char *av = k8s_jstr(desired, "apiVersion"), *kind = k8s_jstr(desired, "kind");
    const char *name = json_string_value(jpath_get(desired, "metadata.name"));
    const char *ns = json_string_value(jpath_get(desired, "metadata.namespace"));
    if (!av || !kind || !name) {
        perr_set(c->err, "", "apiVersion, kind and metadata.name are required");
        return NULL;
    }
    char *key = k8s_body_conn_key(P, desired, c->err);
    if (!key) return NULL;
    char *id = xasprintf("%s|%s|%s|%s|%s", key, av, kind, ns ? ns : "", name);
    free(key);
    k8s_prov_note_via(P, id, k8s_body_via(desired));
    return id;
}

int k8s_obj_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    *live = NULL;
    target_t t;
    int rc = -1;
    if (target_from_id(c, id, desired, &t) != 0) goto out;
    if (t.gone || !t.known) {
        rc = 0;
        goto out;
    }
    char *path = k8s_object_path(t.api_version, &t.kr, t.ns, t.name);
    kresp_t r;
    if (k8s_kcall(t.P, t.conn, t.via, "GET", path, NULL, NULL, &r, c->cancel, c->err) == 0) {
        if (r.status == 404)
            rc = 0;
        else if (r.status == 200 && json_is_object(r.body)) {
            *live = json_incref(r.body);
            k8s_strip_live(*live);
            rc = 0;
        } else
            k8s_kerr(&r, "GET", path, c->err);
        k8s_kresp_free(&r);
    }
    free(path);
out:
    target_free(&t);
    return rc;
}

/* One LIST of a kind in a namespace: {name: object}, or NULL when the
 * API answers 404 (namespace gone: its objects with it).  Items of a list
 * carry no apiVersion/kind: they are set as a GET would show them. */
static int list_objects(rctx_t *c, target_t *t, json_t **out) {
    *out = NULL;
    char *path = k8s_object_path(t->api_version, &t->kr, t->ns, NULL);
    json_t *all = json_object();
    char *cont = NULL;
    int rc = 0;
    do {
        char *url = cont ? xasprintf("%s?continue=%s", path, cont) : xstrdup(path);
        free(cont);
        cont = NULL;
        kresp_t r;
        rc = k8s_kcall(t->P, t->conn, t->via, "GET", url, NULL, NULL, &r, c->cancel, c->err);
        if (rc == 0 && r.status == 404) {
            json_decref(all);
            all = NULL;
        } else if (rc == 0 && (r.status != 200 || !json_is_object(r.body))) {
            k8s_kerr(&r, "GET", url, c->err);
            rc = -1;
        } else if (rc == 0) {
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(r.body, "items"), i, it) {
                const char *nm = json_string_value(jpath_get(it, "metadata.name"));
                if (!nm) continue;
                json_object_set_new(it, "apiVersion", json_string(t->api_version));
                json_object_set_new(it, "kind", json_string(t->kind));
                json_object_set(all, nm, it);
            }
            const char *ct = json_string_value(jpath_get(r.body, "metadata.continue"));
            char *esc = ct && *ct ? curl_easy_escape(NULL, ct, 0) : NULL;
            if (esc) cont = xstrdup(esc);
            curl_free(esc);
        }
        k8s_kresp_free(&r); /* zeroed by k8s_kcall even when it fails */
        free(url);
    } while (rc == 0 && all && cont);
    free(cont);
    free(path);
    if (rc != 0)
        json_decref(all);
    else
        *out = all;
    return rc;
}

int k8s_obj_read_many(rctx_t *c, size_t n, const char *const *ids, const json_t *const *desired,
                      json_t **lives) {
    json_t *lists = json_object(); /* "server|list path" -> {name: object} or null */
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        lives[i] = NULL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        target_t t;
        if (target_from_id(c, ids[i], desired ? desired[i] : NULL, &t) != 0) {
            rc = -1;
        } else if (!t.gone && t.known) {
            char *path = k8s_object_path(t.api_version, &t.kr, t.ns, NULL);
            char *key = xasprintf("%s|%s", t.conn->server, path);
            free(path);
            json_t *all = json_object_get(lists, key);
            if (!all) {
                rc = list_objects(c, &t, &all);
                if (rc == 0) json_object_set_new(lists, key, all ? all : json_null());
            }
            json_t *it = json_is_object(all) ? json_object_get(all, t.name) : NULL;
            if (it) {
                /* used as is when nothing else holds it; a second user copies */
                lives[i] = it->refcount == 1 ? json_incref(it) : json_deep_copy(it);
                k8s_strip_live(lives[i]);
            }
            free(key);
        }
        target_free(&t);
    }
    if (rc != 0)
        for (size_t i = 0; i < n; i++) {
            json_decref(lives[i]);
            lives[i] = NULL;
        }
    json_decref(lists);
    return rc;
}

/* ---- writes -------------------------------------------------------------------- */

static json_t *wire_body(const json_t *desired) {
    json_t *o = json_deep_copy(desired);
    for (const char *const *f = k8s_plinth_fields; *f; f++)
        json_object_del(o, *f);
    return o;
}

static int is_immutable_error(const kresp_t *r) {
    const char *m = k8s_jstr(r->body, "message");
    return r->status == 422 && m && strstr(m, "immutable");
}

/* The kind is not served (yet): its CRD may be on its way (applied
 * concurrently, or by an operator).  Polls discovery until it is served,
 * wait_timeout (at most 5 s against an emulator, 60 s otherwise) passes or
 * the run is interrupted; -1 only on a discovery error. */
static int wait_for_kind(rctx_t *c, target_t *t, const json_t *desired) {
    int64_t start = util_now_ms(), delay = t->P->endpoint ? 50 : 1000;
    int64_t limit = t->P->endpoint ? 5000 : 60000;
    json_t *wt = json_object_get(desired, "wait_timeout");
    if (json_is_number(wt) && json_number_value(wt) * 1000 < limit)
        limit = (int64_t)(json_number_value(wt) * 1000);
    if (c->progress) {
        char m[256];
        snprintf(m, sizeof m, "waiting for the cluster to serve %s %s", t->api_version, t->kind);
        c->progress(c->ud, c->addr, m);
    }
    while (!t->known && util_now_ms() - start < limit && !(c->cancel && *c->cancel)) {
        k8s_sleep_ms(delay, c->cancel);
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
        int d = k8s_discover(t->P, t->conn, t->via, t->api_version, t->kind, &t->kr, c->cancel, c->err);
        if (d < 0) return -1;
        t->known = d;
    }
    return 0;
}

/* The server-side apply PATCH of text to q, again while the answer is a
 * 404 for the object's namespace (which may be on its way too), up to 5 s
 * against an emulator, 60 s otherwise.  k8s_kcall's result; *r is set
 * when it is 0. */
static int patch_when_namespace_exists(rctx_t *c, target_t *t, const char *q, const char *text, kresp_t *r) {
    int64_t start = util_now_ms(), delay = t->P->endpoint ? 50 : 1000;
    for (;;) {
        int hr = k8s_kcall(t->P, t->conn, t->via, "PATCH", q, "application/apply-patch+yaml", text, r,
                           c->cancel, c->err);
        const char *dk = hr == 0 ? json_string_value(jpath_get(r->body, "details.kind")) : NULL;
        if (hr != 0 || r->status != 404 || !dk || strcmp(dk, "namespaces") != 0 ||
            util_now_ms() - start > (t->P->endpoint ? 5000 : 60000) || (c->cancel && *c->cancel))
            return hr;
        if (c->progress) {
            char m[256];
            snprintf(m, sizeof m, "waiting for namespace %s", t->ns);
            c->progress(c->ud, c->addr, m);
        }
        k8s_kresp_free(r);
        k8s_sleep_ms(delay, c->cancel);
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
}

static int apply_obj(rctx_t *c, const json_t *desired, char **idout, json_t **live, int *immutable) {
    *live = NULL;
    if (immutable) *immutable = 0;
    char *id = k8s_obj_id(c, desired);
    if (!id) return -1;
    target_t t;
    int rc = -1;
    char *path = NULL, *text = NULL;
    if (target_from_id(c, id, desired, &t) != 0) goto out;
    if (t.gone) {
        perr_set(c->err, "", "the cluster does not exist");
        goto out;
    }
    if (!t.known && wait_for_kind(c, &t, desired) != 0) goto out;
    if (!t.known) {
        perr_set(c->err, "", "the cluster does not serve %s %s (is its CustomResourceDefinition applied?)",
                 t.api_version, t.kind);
        goto out;
    }
    if (t.kr.namespaced && !*t.ns) {
        free(t.ns);
        t.ns = xstrdup("default");
        free(id);
        id = NULL;
        json_t *d2 = json_deep_copy(desired);
        jpath_set_new(d2, "metadata.namespace", json_string("default"));
        id = k8s_obj_id(c, d2);
        json_decref(d2);
    }
    path = k8s_object_path(t.api_version, &t.kr, t.ns, t.name);
    /* Strict: a field the schema does not declare (a typo, a field of a
     * newer version) is an error, as it would silently vanish otherwise. */
    char *q = xasprintf("%s?fieldManager=plinth&force=true&fieldValidation=Strict", path);
    json_t *wb = wire_body(desired);
    if (t.kr.namespaced)
        jpath_set_new(wb, "metadata.namespace", json_string(t.ns));
    else
        jpath_del(wb, "metadata.namespace");
    text = json_dumps(wb, JSON_COMPACT);
    json_decref(wb);
    kresp_t r;
    int hr = patch_when_namespace_exists(c, &t, q, text, &r);
    free(q);
    if (hr != 0) goto out;
    if (r.status != 200 && r.status != 201) {
        k8s_kerr(&r, "PATCH", path, c->err);
        if (is_immutable_error(&r) && immutable) *immutable = 1;
        if (is_immutable_error(&r))
            perr_wrap(c->err,
                      "a field that cannot change was changed; recreate the object with "
                      "plinth apply --replace %s",
                      c->addr ? c->addr : "ADDR");
        k8s_kresp_free(&r);
        goto out;
    }
    json_t *obj = json_incref(r.body);
    k8s_kresp_free(&r);
    if (!strcmp(t.kind, "CustomResourceDefinition")) {
        /* New kinds appear in discovery once Established. */
    }
    if (k8s_wait_ready(c, &t, path, desired, &obj) != 0) {
        json_decref(obj);
        goto out;
    }
    if (!strcmp(t.kind, "CustomResourceDefinition")) {
        pthread_mutex_lock(&t.conn->mu);
        json_object_clear(t.conn->disc);
        pthread_mutex_unlock(&t.conn->mu);
    }
    k8s_strip_live(obj);
    *live = obj;
    if (idout) *idout = xstrdup(id);
    rc = 0;
out:
    free(text);
    free(path);
    free(id);
    target_free(&t);
    return rc;
}

int k8s_obj_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    return apply_obj(c, desired, id, live, NULL);
}

/* A Job's template cannot change: the Job is run again (deleted and
 * recreated); any other kind asks for --replace. */
int k8s_obj_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                   const strlist_t *changed, json_t **newlive) {
    int immutable = 0;
    if (apply_obj(c, desired, NULL, newlive, &immutable) == 0) return 0;
    const char *kind = k8s_jstr(desired, "kind");
    if (!immutable || !kind || strcmp(kind, "Job") != 0) return -1;
    perr_clear(c->err);
    if (c->progress) c->progress(c->ud, c->addr, "the job's template changed: recreating the job");
    if (k8s_obj_remove(c, id, live) != 0) return -1;
    return apply_obj(c, desired, NULL, newlive, NULL);
}

int k8s_obj_remove(rctx_t *c, const char *id, const json_t *live) {
    target_t t;
    int rc = -1;
    char *path = NULL;
    if (target_from_id(c, id, NULL, &t) != 0) goto out;
    if (t.gone || !t.known) {
        rc = 0; /* the cluster or the kind (CRD) is gone, and the object with it */
        goto out;
    }
    path = k8s_object_path(t.api_version, &t.kr, t.ns, t.name);
    char *q = xasprintf("%s?propagationPolicy=Foreground", path);
    kresp_t r;
    int hr = k8s_kcall(t.P, t.conn, t.via, "DELETE", q, NULL, NULL, &r, c->cancel, c->err);
    free(q);
    if (hr != 0) goto out;
    if (r.status == 404) {
        k8s_kresp_free(&r);
        rc = 0;
        goto out;
    }
    if (r.status != 200 && r.status != 202) {
        k8s_kerr(&r, "DELETE", path, c->err);
        k8s_kresp_free(&r);
        goto out;
    }
    k8s_kresp_free(&r);
    int64_t start = util_now_ms(), delay = t.P->endpoint ? 50 : 1000;
    int64_t timeout_ms = DEFAULT_WAIT_S * 1000;
    int said = 0;
    for (;;) {
        if (k8s_kcall(t.P, t.conn, t.via, "GET", path, NULL, NULL, &r, c->cancel, c->err) != 0) goto out;
        long st = r.status;
        if (st == 404) {
            k8s_kresp_free(&r);
            break;
        }
        if (st != 200) {
            k8s_kerr(&r, "GET", path, c->err);
            k8s_kresp_free(&r);
            goto out;
        }
        if (!said && c->progress) c->progress(c->ud, c->addr, "waiting for deletion (foreground)");
        said = 1;
        if (c->cancel && *c->cancel) {
            perr_set(c->err, "", "interrupted while waiting for deletion");
            k8s_kresp_free(&r);
            goto out;
        }
        if (util_now_ms() - start > timeout_ms) {
            json_t *fin = jpath_get(r.body, "metadata.finalizers");
            char *f = fin ? json_dumps(fin, JSON_COMPACT) : xstrdup("[]");
            perr_set(c->err, "", "timed out after %d s waiting for %s %s to be deleted (finalizers %s)",
                     DEFAULT_WAIT_S, t.kind, t.name, f);
            free(f);
            k8s_kresp_free(&r);
            goto out;
        }
        k8s_kresp_free(&r);
        k8s_sleep_ms(delay, c->cancel);
        delay = delay * 3 / 2 > (t.P->endpoint ? 500 : 5000) ? (t.P->endpoint ? 500 : 5000) : delay * 3 / 2;
    }
    rc = 0;
out:
    free(path);
    target_free(&t);
    return rc;
}

int k8s_obj_import(rctx_t *c, const char *import_id, char **id, json_t **live) {
    if (k8s_obj_read(c, import_id, NULL, live) != 0) return -1;
    if (!*live) {
        perr_set(c->err, "", "%s does not exist", import_id);
        return -1;
    }
    *id = xstrdup(import_id);
    return 0;
}

/* A Kubernetes k8s_quantity ("500m", "1Gi", "2e3", "1.5") as a number; 0 when
 * s is not one. */
