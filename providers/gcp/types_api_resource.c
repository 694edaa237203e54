/* types_api_resource.c: gcp.api_resource, a resource of any collection in
 * the embedded API definitions that has create, get and delete methods:
 *   gcp.api_resource "x" { api = "workflows", collection = "projects.locations.workflows",
 *                          parent = "projects/p/locations/europe-west1", id = "wf", body = {...} }
 * URLs come from the methods' paths, the body is checked against the
 * create method's request message, long-running operations are waited
 * for, updates are PATCH with an updateMask of the changed top-level body
 * fields.  The ID is "API/COLLECTION/NAME" (NAME the relative resource
 * name); the ID the server gives (no <x>Id parameter and no name field)
 * is taken from the create answer.  parent defaults to the provider's
 * projects/P/locations/REGION (projects/P when the collection has no
 * locations). */
#include <stdlib.h>
#include <string.h>

#include "providers/gcp/gcp_res.h"
#include "providers/gcp/schema.h"

static const char *str(const json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* The method "<api>.<collection>.<verb>", or NULL. */
static const sch_method_t *method(const char *api, const char *coll, const char *verb) {
    size_t n = 0;
    const sch_method_t *m = api ? schema_methods(api, &n) : NULL;
    char *id = xasprintf("%s.%s.%s", api ? api : "", coll ? coll : "", verb);
    const sch_method_t *hit = NULL;
    for (size_t i = 0; m && i < n && !hit; i++)
        if (strcmp(m[i].id, id) == 0) hit = &m[i];
    free(id);
    return hit;
}

/* The method's path below the host up to "projects/" ("v1/"), new. */
static char *prefix_of(const sch_method_t *m) {
    const char *p = strstr(m->path, "projects/");
    return xstrndup(m->path, p ? (size_t)(p - m->path) : 0);
}

/* The collection's URL segment: the literal before the get path's last {x}. */
static char *segment_of(const sch_method_t *get) {
    const char *last = strrchr(get->path, '{');
    if (!last || last == get->path) return NULL;
    const char *end = last - 1, *start = end;
    while (start > get->path && start[-1] != '/')
        start--;
    return xstrndup(start, (size_t)(end - start));
}

/* The create method's <x>Id query parameter, or NULL. */
static const char *id_param(const sch_method_t *create) {
    for (const char *const *q = create->query; q && *q; q++) {
        size_t n = strlen(*q);
        if (n > 2 && strcmp(*q + n - 2, "Id") == 0 && strcmp(*q, "requestId") != 0) return *q;
    }
    return NULL;
}

typedef struct ar {
    const char *api, *coll;
    const sch_method_t *create, *get, *patch, *del;
    char *name; /* relative name, or NULL (server-named, not created yet) */
} ar_t;

static int ar_methods(rctx_t *c, ar_t *a, const char *api, const char *coll) {
    memset(a, 0, sizeof *a);
    a->api = api, a->coll = coll;
    a->create = method(api, coll, "create"), a->get = method(api, coll, "get");
    a->patch = method(api, coll, "patch"), a->del = method(api, coll, "delete");
    if (a->create && a->get && a->del) return 0;
    perr_set(c->err, c->addr ? c->addr : "", "%s has no collection %s with create, get and delete methods",
             api ? api : "(no api)", coll ? coll : "(none)");
    return -1;
}

/* "API/COLLECTION/NAME" -> a (name new), 0; -1 + c->err. */
static int ar_parse(rctx_t *c, const char *id, ar_t *a, char **api, char **coll) {
    const char *s1 = strchr(id, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2 || !gcp_projects_tail(s2 + 1)) {
        perr_set(c->err, c->addr ? c->addr : "", "ID '%s' does not have the form API/COLLECTION/projects/...",
                 id);
        return -1;
    }
    *api = xstrndup(id, (size_t)(s1 - id));
    *coll = xstrndup(s1 + 1, (size_t)(s2 - s1 - 1));
    if (ar_methods(c, a, *api, *coll) < 0) return -1;
    a->name = xstrdup(s2 + 1);
    return 0;
}

static char *ar_url(const sch_method_t *m, const char *rel) {
    char *p = prefix_of(m), *u = xasprintf("%s%s", p, rel);
    free(p);
    return u;
}

static char *ar_id_of(rctx_t *c, const json_t *desired) {
    ar_t a;
    const char *parent = str(desired, "parent"), *id = str(desired, "id");
    if (ar_methods(c, &a, str(desired, "api"), str(desired, "collection")) < 0) return NULL;
    char *seg = segment_of(a.get);
    if (!parent || !id || !seg) { /* the server names it, or not resolved yet */
        free(seg);
        if (!parent || (!id && (id_param(a.create) || !a.create->request))) perr_clear(c->err);
        return NULL;
    }
    char *out = xasprintf("%s/%s/%s/%s/%s", a.api, a.coll, parent, seg, id);
    free(seg);
    return out;
}

/* live = {api, collection, parent, id, body}. */
static int ar_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    *live = NULL;
    ar_t a;
    char *api = NULL, *coll = NULL;
    int rc = ar_parse(c, id, &a, &api, &coll);
    if (rc == 0) {
        char *url = ar_url(a.get, a.name);
        json_t *r = NULL;
        rc = gcp_get(c, api, url, &r);
        if (rc == 0 && r) {
            const char *slash = strrchr(a.name, '/'), *pslash = slash;
            while (pslash > a.name && pslash[-1] != '/')
                pslash--;
            char *parent = xstrndup(a.name, pslash > a.name ? (size_t)(pslash - a.name - 1) : 0);
            *live = json_pack("{s:s,s:s,s:s,s:s,s:o}", "api", api, "collection", coll, "parent", parent, "id",
                              slash + 1, "body", r);
            free(parent);
        } else
            json_decref(r);
        free(url);
    }
    free(a.name);
    free(api);
    free(coll);
    return rc;
}

/* Waits when the answer is a long-running operation; the name of the
 * resource it answers with (the operation's response, or the answer
 * itself) goes to *name when asked. */
static int ar_finish(rctx_t *c, const char *api, const json_t *ans, char **name) {
    const char *an = str(ans, "name");
    int is_op = json_object_get(ans, "done") != NULL || (an && strstr(an, "/operations/"));
    const json_t *res = ans;
    json_t *result = NULL;
    if (is_op && !json_is_true(json_object_get(ans, "done"))) {
        if (gcp_wait_op(GCP_PROV(c)->client, api, ans, NULL, NULL, &result, c->err) < 0) {
            snprintf(c->err->where, sizeof c->err->where, "%s", c->addr ? c->addr : "");
            return -1;
        }
        res = json_object_get(result, "response");
    } else if (is_op)
        res = json_object_get(ans, "response");
    const char *rn = str(res, "name");
    if (name && rn && gcp_projects_tail(rn)) *name = xstrdup(gcp_projects_tail(rn));
    json_decref(result);
    return 0;
}

static int ar_call(rctx_t *c, const char *method_, const char *api, const char *url, const json_t *body,
                   char **name) {
    gcp_resp_t r = {0};
    int rc = gcp_call_busy(c, method_, api, url, body, &r);
    if (rc == 0 && r.status == 404 && strcmp(method_, "DELETE") == 0)
        ;
    else if (rc == 0 && r.status == 409) {
        perr_set(c->err, c->addr ? c->addr : "",
                 "%s already exists outside plinth's state; adopt it with plinth import", url);
        rc = -1;
    } else if (rc == 0 && !gcp_resp_ok(&r)) {
        gcp_fail(c, &r, method_, url);
        rc = -1;
    } else if (rc == 0)
        rc = ar_finish(c, api, r.body, name);
    gcp_resp_free(&r);
    return rc;
}

static int ar_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    *id = NULL, *live = NULL;
    ar_t a;
    if (ar_methods(c, &a, str(desired, "api"), str(desired, "collection")) < 0) return -1;
    const char *parent = str(desired, "parent"), *rid = str(desired, "id"), *q = id_param(a.create);
    char *seg = segment_of(a.get), *coll_url = ar_url(a.create, parent ? parent : "");
    json_t *body =
        json_object_get(desired, "body") ? json_deep_copy(json_object_get(desired, "body")) : json_object();
    sbuf_t u = {0};
    sbuf_addf(&u, "%s/%s", coll_url, seg ? seg : "");
    if (rid && q) {
        char *e = gcp_urlenc(rid);
        sbuf_addf(&u, "?%s=%s", q, e);
        free(e);
    } else if (rid && seg && parent)
        json_object_set_new(body, "name", json_sprintf("%s/%s/%s", parent, seg, rid));
    char *name = NULL;
    int rc = parent && seg ? 0 : -1;
    if (rc < 0) perr_set(c->err, c->addr ? c->addr : "", "parent must be a known relative name");
    if (rc == 0) rc = ar_call(c, "POST", a.api, u.s, body, &name);
    if (rc == 0 && !name && rid && seg) name = xasprintf("%s/%s/%s", parent, seg, rid);
    if (rc == 0 && !name) {
        perr_set(c->err, c->addr ? c->addr : "", "POST %s: the answer names no created resource", u.s);
        rc = -1;
    }
    if (rc == 0) {
        *id = xasprintf("%s/%s/%s", a.api, a.coll, name);
        rc = ar_read(c, *id, desired, live);
        if (rc == 0 && !*live) {
            perr_set(c->err, c->addr, "created %s but it cannot be read back", *id);
            rc = -1;
        }
        if (rc < 0) free(*id), *id = NULL;
    }
    free(name);
    sbuf_free(&u);
    json_decref(body);
    free(coll_url);
    free(seg);
    return rc;
}

/* The changed top-level body fields ("body.labels.x" -> "labels"). */
static char *ar_mask(const strlist_t *changed) {
    strlist_t tops = {0};
    for (size_t i = 0; i < changed->n; i++) {
        const char *p = changed->v[i];
        if (strncmp(p, "body.", 5) != 0) continue;
        char *top = xstrndup(p + 5, strcspn(p + 5, "."));
        if (!strlist_has(&tops, top)) strlist_add(&tops, top);
        free(top);
    }
    sbuf_t m = {0};
    sbuf_add(&m, "");
    for (size_t i = 0; i < tops.n; i++)
        sbuf_addf(&m, "%s%s", i ? "," : "", tops.v[i]);
    strlist_free(&tops);
    return sbuf_steal(&m);
}

static int ar_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                     const strlist_t *changed, json_t **newlive) {
    *newlive = NULL;
    ar_t a;
    char *api = NULL, *coll = NULL, *mask = ar_mask(changed);
    int rc = ar_parse(c, id, &a, &api, &coll);
    if (rc == 0 && *mask && !a.patch) {
        perr_set(c->err, c->addr, "%s.%s has no patch method: changing the body needs a replace", api, coll);
        rc = -1;
    }
    if (rc == 0 && *mask) {
        char *base = ar_url(a.patch, a.name), *url = xasprintf("%s?updateMask=%s", base, mask);
        rc = ar_call(c, "PATCH", api, url, json_object_get(desired, "body"), NULL);
        free(url);
        free(base);
    }
    if (rc == 0) rc = ar_read(c, id, desired, newlive);
    free(a.name);
    free(api);
    free(coll);
    free(mask);
    return rc;
}

static int ar_remove(rctx_t *c, const char *id, const json_t *live) {
    ar_t a;
    char *api = NULL, *coll = NULL;
    int rc = ar_parse(c, id, &a, &api, &coll);
    if (rc == 0) {
        char *url = ar_url(a.del, a.name);
        rc = ar_call(c, "DELETE", api, url, NULL, NULL);
        free(url);
    }
    free(a.name);
    free(api);
    free(coll);
    return rc;
}

static int ar_import(rctx_t *c, const char *import_id, char **id, json_t **live) {
    *id = NULL;
    if (ar_read(c, import_id, NULL, live) < 0) return -1;
    if (!*live) {
        perr_set(c->err, c->addr ? c->addr : "", "cannot import %s: it does not exist", import_id);
        return -1;
    }
    *id = xstrdup(import_id);
    return 0;
}

/* parent defaults to the provider's project (and region, when the
 * collection lives in locations). */
static void ar_defaults(const rtype_t *t, void *prov, const char *spec_name, json_t *body) {
    gcp_prov_t *P = prov;
    const char *coll = str(body, "collection");
    if (!P || json_object_get(body, "parent") || !coll) return;
    if (strstr(coll, "projects.locations.") == coll && P->region)
        json_object_set_new(body, "parent", json_sprintf("projects/%s/locations/%s", P->project, P->region));
    else if (strstr(coll, "projects.") == coll && !strstr(coll, "locations"))
        json_object_set_new(body, "parent", json_sprintf("projects/%s", P->project));
}

static void ar_validate(const rtype_t *t, const json_t *body, const char *addr, const char *where,
                        diag_t *d) {
    const json_t *api = json_object_get(body, "api"), *coll = json_object_get(body, "collection");
    if (!json_is_string(api) || !json_is_string(coll)) {
        diag_add(d, where,
                 "%s: api and collection must be strings (\"workflows\", \"projects.locations.workflows\")",
                 addr);
        return;
    }
    perr_t e = {0};
    rctx_t c = {.type = t, .addr = addr, .err = &e};
    ar_t a;
    if (ar_methods(&c, &a, json_string_value(api), json_string_value(coll)) < 0) {
        diag_add(d, where, "%s", e.msg);
        return;
    }
    const char *const known[] = {"api", "collection", "parent", "id", "body", NULL};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        int ok = 0;
        for (const char *const *n = known; *n; n++)
            ok |= strcmp(*n, k) == 0;
        if (!ok)
            diag_add(d, where, "%s: unknown field '%s' (known: api, collection, parent, id, body)", addr, k);
    }
    if (!json_object_get(body, "id") && id_param(a.create))
        diag_add(d, where, "%s: id is required (%s.%s.create takes %s)", addr, a.api, a.coll,
                 id_param(a.create));
    const json_t *b = json_object_get(body, "body");
    if (b && a.create->request) {
        diag_t local = {0};
        schema_check(a.api, a.create->request, b, 1, where, &local);
        for (size_t i = 0; i < local.n; i++)
            diag_add(d, local.items[i].where, "%s: body.%s", addr, local.items[i].msg);
        diag_free(&local);
    }
}

static const gcp_type_t api_resource_t = {
    .api = NULL,
    .create_style = GCP_CREATE_HOOK,
    .update_style = GCP_UPDATE_HOOK,
    .read = ar_read,
    .create = ar_create,
    .update = ar_update,
    .remove = ar_remove,
    .id_of = ar_id_of,
    .validate = ar_validate,
};
const rtype_t gcp_api_resource = {
    .name = "gcp.api_resource",
    .api = NULL,
    .message = NULL,
    .extra_fields = (const char *const[]){"api", "collection", "parent", "id", "body", NULL},
    .required = (const char *const[]){"api", "collection", NULL},
    .immutable = (const char *const[]){"api", "collection", "parent", "id", NULL},
    .defaults = ar_defaults,
    .id_of = gcp_res_id_of,
    .read = ar_read,
    .create = ar_create,
    .update = ar_update,
    .remove = ar_remove,
    .import = ar_import,
    .normalize = gcp_res_normalize,
    .data = &api_resource_t,
};
