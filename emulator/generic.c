/* generic.c: the generic handler for collections of the embedded API
 * definitions (see generic.h).  Documents live at "generic/<api>/<name>",
 * <name> being the relative resource name ("projects/p/locations/l/
 * workflows/w"); operations at "generic/<api>/<parent>/operations/<id>". */
#include "emulator/generic.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/mask.h"
#include "providers/gcp/schema.h"

/* Collections of APIs with an api_*.c file that are served here. */
static const char *const typed_allowed[] = {
    "iam.projects.locations.workloadIdentityPools.",
    NULL,
};

int emu_generic_api(const char *api) {
    size_t n = 0;
    return api && schema_methods(api, &n) && n > 0;
}

/* "v1/projects/p/..." -> "projects/p/..." (borrowed), or NULL. */
static const char *relname(const char *path) {
    if (strncmp(path, "projects/", 9) == 0) return path;
    const char *p = strstr(path, "/projects/");
    return p ? p + 1 : NULL;
}

static const char *verb_of(const sch_method_t *m) {
    const char *d = strrchr(m->id, '.');
    return d ? d + 1 : m->id;
}

static int is_op_message(const char *msg) {
    return msg && (strcmp(msg, "Operation") == 0 || strcmp(msg, "GoogleLongrunningOperation") == 0);
}

static int has_field(const char *api, const char *msg, const char *field) {
    const sch_msg_t *m = msg ? schema_msg(api, msg) : NULL;
    return m && schema_field(m, field) != NULL;
}

/* The first of the usual "running" values the message's state enum has. */
static const char *state_value(const char *api, const char *msg) {
    const sch_msg_t *m = msg ? schema_msg(api, msg) : NULL;
    const sch_field_t *f = m ? schema_field(m, "state") : NULL;
    if (!f || f->kind != SCH_ENUM) return NULL;
    static const char *const good[] = {"ACTIVE", "RUNNING", "ENABLED", "READY", NULL};
    for (size_t i = 0; good[i]; i++)
        if (schema_enum_has(api, f->ref, good[i])) return good[i];
    return NULL;
}

static char *doc_key(const char *api, const char *name) {
    return xasprintf("generic/%s/%s", api, name);
}

/* The answer of a mutating method: the resource itself, or a finished
 * operation carrying it (kept for operations.get). */
static void answer(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const sch_method_t *m,
                   const char *coll, json_t *doc) {
    if (!is_op_message(m->response)) {
        resp->body = doc ? emu_strip(doc) : json_object();
        return;
    }
    /* Operations live below the resource when the API serves them there
     * (.../workloadIdentityPools/p/operations/x), else below the location. */
    char *id = emu_uuid();
    const char *rn = doc ? json_string_value(json_object_get(doc, "name")) : NULL;
    char *parent = rn ? xstrdup(rn) : xstrdup(coll);
    char *probe =
        xasprintf("%.*s%s/operations/%s", (int)(relname(req->path) - req->path), req->path, parent, id);
    if (!schema_match(req->api, "GET", probe)) {
        char *cut = strstr(parent, "/locations/");
        char *end = cut ? strchr(cut + 11, '/') : strchr(parent + 9, '/');
        if (end) *end = '\0';
    }
    free(probe);
    char *name = xasprintf("%s/operations/%s", parent, id);
    json_t *r = doc ? emu_strip(doc) : json_object();
    json_t *op = json_pack("{s:s,s:b,s:o,s:{s:s}}", "name", name, "done", 1, "response", r, "metadata",
                           "createTime", emu_now());
    char *key = doc_key(req->api, name);
    resp->body = json_deep_copy(op);
    emu_put(emu, key, op);
    free(key);
    free(name);
    free(id);
    free(parent);
}

/* The ID create gives: the method's <x>Id parameter, the body's name, or
 * a new one.  NULL + resp on a bad one. */
static char *create_id(emu_t *emu, const sch_method_t *m, const emu_req_t *req, emu_resp_t *resp,
                       const char *coll) {
    for (const char *const *q = m->query; q && *q; q++) {
        size_t n = strlen(*q);
        if (n < 3 || strcmp(*q + n - 2, "Id") != 0 || strcmp(*q, "requestId") == 0) continue;
        const char *v = emu_q(req, *q);
        if (!v || !*v) {
            emu_bad_request(resp, "Field [%s] is required.", *q);
            return NULL;
        }
        return xstrdup(v);
    }
    const char *bn = json_string_value(json_object_get(req->body, "name"));
    if (bn && *bn) {
        size_t cl = strlen(coll);
        if (strncmp(bn, coll, cl) != 0 || bn[cl] != '/' || !bn[cl + 1] || strchr(bn + cl + 1, '/')) {
            emu_bad_request(resp, "Invalid resource name \"%s\": expected %s/ID.", bn, coll);
            return NULL;
        }
        return xstrdup(bn + cl + 1);
    }
    return xasprintf("%lld", (long long)emu_next_id(emu, "generic") + 1000);
}

static int valid_id(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 63) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_') return 0;
    return 1;
}

static void g_create(emu_t *emu, emu_req_t *req, emu_resp_t *resp, const sch_method_t *m, const char *coll) {
    if (m->request && emu_validate(resp, req->api, m->request, req->body) < 0) return;
    char *id = create_id(emu, m, req, resp, coll);
    if (!id) return;
    char *name = xasprintf("%s/%s", coll, id), *key = doc_key(req->api, name);
    if (!valid_id(id))
        emu_bad_request(resp, "Invalid resource ID \"%s\": letters, digits, - and _, at most 63.", id);
    else if (emu_get(emu, key))
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists", "Resource '%s' already exists.", name);
    else {
        json_t *doc = req->body ? json_deep_copy(req->body) : json_object();
        const char *msg = m->request;
        json_object_set_new(doc, "name", json_string(name));
        if (has_field(req->api, msg, "createTime"))
            json_object_set_new(doc, "createTime", json_string(emu_now()));
        if (has_field(req->api, msg, "updateTime"))
            json_object_set_new(doc, "updateTime", json_string(emu_now()));
        const char *st = state_value(req->api, msg);
        if (st) json_object_set_new(doc, "state", json_string(st));
        answer(emu, req, resp, m, coll, doc);
        emu_put(emu, key, doc);
    }
    free(key);
    free(name);
    free(id);
}

static json_t *g_load(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const char *name, char **key) {
    *key = doc_key(req->api, name);
    return emu_load(emu, resp, key, "Resource '%s' was not found.", name);
}

static void g_get(emu_t *emu, emu_req_t *req, emu_resp_t *resp, const char *name) {
    char *key;
    json_t *d = g_load(emu, req, resp, name, &key);
    if (d) resp->body = emu_strip(d);
    free(key);
}

/* The list answer's items field: its first repeated message field. */
static const char *items_field(const char *api, const char *msg) {
    const sch_msg_t *m = msg ? schema_msg(api, msg) : NULL;
    size_t n = 0;
    const sch_field_t *f = m ? schema_fields(m, &n) : NULL;
    for (size_t i = 0; i < n; i++)
        if (f[i].repeated && f[i].kind == SCH_MESSAGE) return f[i].name;
    return NULL;
}

static void g_list(emu_t *emu, emu_req_t *req, emu_resp_t *resp, const sch_method_t *m, const char *coll) {
    const char *field = items_field(req->api, m->response);
    char *prefix = xasprintf("generic/%s/%s/", req->api, coll);
    json_t *all = emu_children(emu, prefix, true);
    resp->body = json_object();
    if (field) emu_page_into(req, resp->body, field, all, "pageSize", 1000, false);
    json_decref(all);
    free(prefix);
}

/* Output-only top-level fields of msg (and name): never updatable. */
static const char **fixed_fields(const char *api, const char *msg) {
    const sch_msg_t *m = msg ? schema_msg(api, msg) : NULL;
    size_t n = 0, k = 0;
    const sch_field_t *f = m ? schema_fields(m, &n) : NULL;
    const char **out = xcalloc(n + 2, sizeof *out);
    out[k++] = "name";
    for (size_t i = 0; i < n; i++)
        if (f[i].output_only) out[k++] = f[i].name;
    return out;
}

static void g_patch(emu_t *emu, emu_req_t *req, emu_resp_t *resp, const sch_method_t *m, const char *name) {
    if (m->request && emu_validate(resp, req->api, m->request, req->body) < 0) return;
    char *key;
    json_t *cur = g_load(emu, req, resp, name, &key);
    if (!cur) return;
    const char **fixed = fixed_fields(req->api, m->request);
    json_t *d = json_deep_copy(cur);
    const char *mask = emu_q(req, "updateMask");
    sbuf_t all = {0};
    sbuf_add(&all, "");
    if (!mask || !*mask) {
        const char *k;
        json_t *v;
        json_object_foreach(req->body, k, v) if (!emu_in_list(fixed, k))
            sbuf_addf(&all, "%s%s", all.len ? "," : "", k);
        mask = all.s;
    }
    if (emu_mask_apply(resp, d, req->body, mask, fixed, 0) == 0) {
        if (has_field(req->api, m->request, "updateTime"))
            json_object_set_new(d, "updateTime", json_string(emu_now()));
        const char *slash = strrchr(name, '/');
        char *coll = xstrndup(name, (size_t)(slash - name));
        answer(emu, req, resp, m, coll, d);
        free(coll);
        emu_put(emu, key, d);
        d = NULL;
    }
    json_decref(d);
    sbuf_free(&all);
    free(fixed);
    free(key);
}

static void g_delete(emu_t *emu, emu_req_t *req, emu_resp_t *resp, const sch_method_t *m, const char *name) {
    char *key;
    if (!g_load(emu, req, resp, name, &key)) return;
    emu_del_tree(emu, key);
    const char *slash = strrchr(name, '/');
    char *coll = xstrndup(name, (size_t)(slash - name));
    answer(emu, req, resp, m, coll, NULL);
    free(coll);
    free(key);
}

int emu_generic_dispatch(emu_t *emu, emu_req_t *req, emu_resp_t *resp, int typed) {
    const sch_method_t *m = schema_match(req->api, req->method, req->path);
    if (!m) return 0;
    if (typed) {
        int ok = 0;
        for (const char *const *p = typed_allowed; *p; p++)
            ok |= strncmp(m->id, *p, strlen(*p)) == 0;
        if (!ok) return 0;
    }
    const char *rel = relname(req->path), *verb = verb_of(m);
    if (!rel || strchr(rel, ':')) return 0; /* custom verbs are not served generically */
    if (strcmp(verb, "create") == 0 && strcmp(req->method, "POST") == 0)
        g_create(emu, req, resp, m, rel);
    else if (strcmp(verb, "get") == 0)
        g_get(emu, req, resp, rel);
    else if (strcmp(verb, "list") == 0)
        g_list(emu, req, resp, m, rel);
    else if (strcmp(verb, "patch") == 0)
        g_patch(emu, req, resp, m, rel);
    else if (strcmp(verb, "delete") == 0)
        g_delete(emu, req, resp, m, rel);
    else
        return 0;
    return 1;
}
