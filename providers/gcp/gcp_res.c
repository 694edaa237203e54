/* gcp_res.c: the generic implementation of Google Cloud resource types:
 * turns a gcp_type_t table (URL templates, natural ID, create style, list
 * support) into the rtype_t callbacks: defaults, ID, read and list-based
 * read_many, create (resuming an interrupted operation), remove, import.
 * Updates are in gcp_update.c, normalization in gcp_norm.c, IAM members in
 * gcp_iam.c, calls in gcp_call.c, templates in gcp_tmpl.c. */
#include "providers/gcp/gcp_res.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_api.h"
#include "providers/gcp/gcp_batch.h"
#include "providers/gcp/gcp_iam.h"
#include "providers/gcp/schema.h"

/* ------------------------------------------------------------------ */
/* bodies */

int gcp_is_extra(const rtype_t *t, const char *field) {
    for (const char *const *f = t->extra_fields; f && *f; f++)
        if (strcmp(*f, field) == 0) return 1;
    return 0;
}

json_t *gcp_send_body(rctx_t *c, const json_t *desired) {
    const gcp_type_t *T = GCP_TYPE(c);
    json_t *b = json_deep_copy(desired);
    for (const char *const *f = c->type->extra_fields; f && *f; f++)
        json_object_del(b, *f);
    for (const char *const *f = T->send_strip; f && *f; f++)
        json_object_del(b, *f);
    return b;
}

/* Placement fields (template vars) and plinth options are kept on live so
 * that the engine's diff and remove() see them. */
static void annotate(rctx_t *c, const json_t *vars, json_t *live) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)vars, k, v) {
        if (!json_object_get(live, k) && (gcp_is_extra(c->type, k) || strcmp(k, "name") == 0))
            json_object_set(live, k, v);
    }
}

void gcp_keep_extras(rctx_t *c, const json_t *desired, json_t *live) {
    if (!desired || !live) return;
    for (const char *const *f = c->type->extra_fields; f && *f; f++) {
        json_t *v = json_object_get(desired, *f);
        if (v && !json_object_get(live, *f)) json_object_set(live, *f, v);
    }
}

/* ------------------------------------------------------------------ */
/* rtype callbacks */

void gcp_res_defaults(const rtype_t *t, void *prov, const char *spec_name, json_t *body) {
    const gcp_type_t *T = t->data;
    gcp_prov_t *P = prov;
    if (T->name_field && spec_name && !json_object_get(body, T->name_field))
        json_object_set_new(body, T->name_field, json_string(spec_name));
    if (P && P->project && gcp_is_extra(t, "project") && !json_object_get(body, "project"))
        json_object_set_new(body, "project", json_string(P->project));
    if (P && P->region && T->location_field && !json_object_get(body, T->location_field))
        json_object_set_new(body, T->location_field, json_string(P->region));
    if (P && P->zone && T->zone_field && !json_object_get(body, T->zone_field))
        json_object_set_new(body, T->zone_field, json_string(P->zone));
}

/* Walks path ("a.b.0.c") through the body's schema: 1 when a field on the
 * way is output only.  Array indices and map keys are stepped over;
 * plinth's extra fields and the type's immutable paths are never ignored
 * (an immutable field the schema calls output only is still compared). */
int gcp_res_ignored(const rtype_t *t, const char *path) {
    if (!t->api || !t->message || !path || !*path) return 0;
    if (rtype_path_in(t->immutable, path)) return 0;
    const sch_msg_t *m = schema_msg(t->api, t->message);
    if (!m) return 0;
    char *copy = xstrdup(path), *save = NULL;
    const sch_field_t *f = NULL;
    int index_next = 0, key_next = 0, out = 0, first = 1;
    for (char *seg = strtok_r(copy, ".", &save); seg; seg = strtok_r(NULL, ".", &save)) {
        if (first && gcp_is_extra(t, seg)) break;
        first = 0;
        if (index_next && seg[strspn(seg, "0123456789")] == 0) {
            index_next = 0;
            continue;
        }
        if (key_next) { /* a map key: the value's message follows */
            key_next = 0;
            m = f->value_kind == SCH_MESSAGE && f->ref ? schema_msg(t->api, f->ref) : NULL;
            continue;
        }
        if (!m || !(f = schema_field(m, seg))) break;
        if (f->output_only) {
            out = 1;
            break;
        }
        index_next = f->repeated;
        key_next = f->kind == SCH_MAP;
        m = f->kind == SCH_MESSAGE && f->ref ? schema_msg(t->api, f->ref) : NULL;
    }
    free(copy);
    return out;
}

char *gcp_res_id_of(rctx_t *c, const json_t *desired) {
    const gcp_type_t *T = GCP_TYPE(c);
    if (T->id_of) return T->id_of(c, desired);
    json_t *vars = gcp_body_vars(c, desired);
    char *id = gcp_tmpl_fill(T->id_tmpl, vars, c->err);
    if (!id) snprintf(c->err->where, sizeof c->err->where, "%s", c->addr ? c->addr : "");
    json_decref(vars);
    return id;
}

json_t *gcp_id_vars(rctx_t *c, const char *id) {
    const gcp_type_t *T = GCP_TYPE(c);
    json_t *vars = gcp_tmpl_match(T->id_tmpl, id);
    if (!vars) perr_set(c->err, c->addr ? c->addr : "", "ID '%s' does not have the form %s", id, T->id_tmpl);
    return vars;
}

static void finish_live(rctx_t *c, const json_t *vars, const json_t *desired, json_t **live) {
    const gcp_type_t *T = GCP_TYPE(c);
    if (!*live) return;
    annotate(c, vars, *live);
    gcp_keep_extras(c, desired, *live);
    if (T->after_read) T->after_read(c, desired, live);
}

int gcp_res_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    const gcp_type_t *T = GCP_TYPE(c);
    *live = NULL;
    if (T->read) return T->read(c, id, desired, live);
    if (T->iam) return gcp_iam_member_read(c, id, desired, live);
    json_t *vars = gcp_id_vars(c, id);
    if (!vars) return -1;
    char *url = gcp_tmpl_fill(T->self, vars, c->err);
    int rc = url ? gcp_get(c, T->api, url, live) : -1;
    if (rc == 0) finish_live(c, vars, desired, live);
    free(url);
    json_decref(vars);
    return rc;
}

/* Variables naming a resource's collection: those of its ID, completed
 * from its body and the provider (a bucket's ID has no project, but its
 * collection is listed per project). */
static json_t *list_vars(rctx_t *c, const gcp_type_t *T, const char *id, const json_t *desired) {
    json_t *vars = gcp_tmpl_match(T->id_tmpl, id);
    if (!vars) return NULL;
    json_t *empty = json_object();
    json_t *more = gcp_body_vars(c, desired ? desired : empty);
    json_decref(empty);
    const char *k;
    json_t *v;
    json_object_foreach(more, k, v) if (!json_object_get(vars, k)) json_object_set(vars, k, v);
    json_decref(more);
    return vars;
}

/* One collection of a batch: every page of it, items by name. */
typedef struct {
    char **colls;   /* distinct collection URLs */
    json_t **items; /* per collection: {name: item} */
} lists_t;

static int fetch_collection(rctx_t *c, size_t k, void *ud) {
    lists_t *L = ud;
    const gcp_type_t *T = GCP_TYPE(c);
    json_t *items = L->items[k] = json_object();
    char *token = NULL;
    int rc = 0;
    do {
        const char *pq = gcp_api_traits(T->api)->page_query;
        sbuf_t ub = {0};
        sbuf_add(&ub, L->colls[k]);
        if (pq) sbuf_addf(&ub, "%s%s", strchr(ub.s, '?') ? "&" : "?", pq);
        if (token) sbuf_addf(&ub, "%spageToken=%s", strchr(ub.s, '?') ? "&" : "?", token);
        char *url = sbuf_steal(&ub);
        free(token);
        token = NULL;
        json_t *page = NULL;
        if (gcp_get(c, T->api, url, &page) < 0 || !page) rc = -1;
        free(url);
        if (rc < 0) {
            json_decref(page);
            break;
        }
        size_t j;
        json_t *it;
        json_array_foreach(json_object_get(page, T->list_items), j, it) {
            const char *nm = json_string_value(json_object_get(it, "name"));
            if (nm) json_object_set(items, gcp_last_segment(nm), it);
        }
        const char *nt = json_string_value(json_object_get(page, "nextPageToken"));
        if (nt && *nt) token = xstrdup(nt);
        json_decref(page);
    } while (token);
    return rc;
}

int gcp_res_read_many(rctx_t *c, size_t n, const char *const *ids, const json_t *const *desired,
                      json_t **lives) {
    const gcp_type_t *T = GCP_TYPE(c);
    if (T->read_many) return T->read_many(c, n, ids, desired, lives);
    if (!T->list_items || !T->collection || T->read) return -1;
    json_t *index = json_object(); /* collection URL -> its slot in L */
    lists_t L = {xcalloc(n + 1, sizeof *L.colls), xcalloc(n + 1, sizeof *L.items)};
    size_t ncoll = 0, *slot = xcalloc(n + 1, sizeof *slot);
    json_t **vars = xcalloc(n + 1, sizeof *vars);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        lives[i] = NULL;
        vars[i] = list_vars(c, T, ids[i], desired ? desired[i] : NULL);
        char *coll = vars[i] ? gcp_tmpl_fill(T->collection, vars[i], c->err) : NULL;
        if (!coll) {
            rc = -1;
            break;
        }
        json_t *at = json_object_get(index, coll);
        if (at) {
            slot[i] = (size_t)json_integer_value(at);
            free(coll);
        } else {
            json_object_set_new(index, coll, json_integer((json_int_t)ncoll));
            slot[i] = ncoll;
            L.colls[ncoll++] = coll;
        }
    }
    /* Every collection (a region's subnets, ...) at once. */
    if (rc == 0) rc = gcp_batch_run(c, ncoll, fetch_collection, &L);
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *it = json_object_get(L.items[slot[i]], gcp_last_segment(ids[i]));
        /* The item is used as live when nothing else holds it (it is
         * changed in place from here on); a second resource of the same
         * name gets its own copy. */
        lives[i] = !it ? NULL : it->refcount == 1 ? json_incref(it) : json_deep_copy(it);
        finish_live(c, vars[i], desired ? desired[i] : NULL, &lives[i]);
    }
    if (rc != 0)
        for (size_t i = 0; i < n; i++) {
            json_decref(lives[i]);
            lives[i] = NULL;
        }
    for (size_t i = 0; i < n; i++)
        json_decref(vars[i]);
    for (size_t k = 0; k < ncoll; k++) {
        free(L.colls[k]);
        json_decref(L.items[k]);
    }
    free(L.colls);
    free(L.items);
    free(slot);
    free(vars);
    json_decref(index);
    return rc;
}

/* GET after create: some APIs (GCS, IAM) are eventually consistent. */
static int read_back(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    for (int i = 0; i < 6; i++) {
        if (gcp_res_read(c, id, desired, live) < 0) return -1;
        if (*live) return 0;
        if (gcp_sleep(c, GCP_PROV(c)->emulated ? 50 : 500 << i) < 0) return -1;
    }
    perr_set(c->err, c->addr, "created %s but it cannot be read back", id);
    return -1;
}

/* Seconds since the epoch of an RFC 3339 time ("2026-01-02T03:04:05.123Z",
 * "...-07:00"), or -1. */
static int64_t rfc3339_s(const char *t) {
    struct tm tm = {0};
    const char *p = t ? strptime(t, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!p) return -1;
    int64_t s = (int64_t)timegm(&tm);
    while (*p == '.' || (*p >= '0' && *p <= '9'))
        p++;
    if ((*p == '+' || *p == '-') && strlen(p) >= 6) {
        int off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
        s += *p == '+' ? -off : off;
    }
    return s;
}

/* Whether live agrees with what was sent: every field sent that the API
 * shows has the same value (strings naming the same last path segment, as
 * APIs answer selfLinks for names; numbers as their text; lists skipped,
 * APIs reorder and extend them). */
/* A scalar as the text agrees() compares (a string by its last path
 * segment); 0 when x is not a scalar. */
static int scalar_text(const json_t *x, char *out, size_t n) {
    if (json_is_string(x))
        snprintf(out, n, "%s", gcp_last_segment(json_string_value(x)));
    else if (json_is_integer(x))
        snprintf(out, n, "%lld", (long long)json_integer_value(x));
    else if (json_is_boolean(x))
        snprintf(out, n, "%s", json_is_true(x) ? "true" : "false");
    else
        return 0;
    return 1;
}

static int agrees(const json_t *sent, const json_t *live) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)sent, k, v) {
        json_t *l = json_object_get(live, k);
        if (!l || json_is_array(v) || json_equal(v, l)) continue;
        if (json_is_object(v) && json_is_object(l)) {
            if (!agrees(v, l)) return 0;
            continue;
        }
        char a[512], b[512];
        if (!scalar_text(v, a, sizeof a) || !scalar_text(l, b, sizeof b)) return 0;
        if (strcmp(a, b) != 0) return 0;
    }
    return 1;
}

/* A 409 for a create of which an earlier attempt in this very call may
 * have been carried out (its answer lost): the resource is our own if it
 * agrees with what we sent and was not created before this call started.
 * *live gets it (NEW) when it is; 0 either way, -1 when it cannot be read. */
static int adopt_own_create(rctx_t *c, const char *id, const json_t *desired, const json_t *sent,
                            int64_t started_s, json_t **live) {
    json_t *l = NULL;
    if (gcp_res_read(c, id, desired, &l) < 0) return -1;
    if (!l) return 0;
    static const char *const created_keys[] = {"creationTimestamp", "timeCreated", "createTime", NULL};
    int64_t created = -1;
    for (int i = 0; created_keys[i] && created < 0; i++)
        created = rfc3339_s(json_string_value(json_object_get(l, created_keys[i])));
    /* clocks differ: allow ten minutes */
    if (agrees(sent, l) && (created < 0 || created >= started_s - 600))
        *live = l;
    else
        json_decref(l);
    return 0;
}

static void already_exists(rctx_t *c, const char *id) {
    perr_set(c->err, c->addr ? c->addr : "",
             "%s already exists outside plinth's state; adopt it with: plinth import %s %s", id,
             c->addr ? c->addr : "ADDR", id);
}

/* POST to the collection; the server names the resource ("name" in the
 * answer, or in the response of the operation it answers with).  A POST whose answer
 * was lost is not sent again: without a name there is nothing to look for. */
static int create_server_named(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    const gcp_type_t *T = GCP_TYPE(c);
    json_t *vars = gcp_body_vars(c, desired);
    char *url = gcp_tmpl_fill(T->collection, vars, c->err);
    json_t *body = gcp_send_body(c, desired);
    int rc = url && (!T->prepare || T->prepare(c, desired, body) == 0) ? 0 : -1;
    gcp_resp_t r = {0};
    if (rc == 0 && gcp_call_busy(c, "POST", T->api, url, body, &r) < 0) rc = -1;
    if (rc == 0 && !gcp_resp_ok(&r)) {
        gcp_fail(c, &r, "POST", url);
        rc = -1;
    }
    const char *name = rc == 0 ? json_string_value(json_object_get(r.body, "name")) : NULL;
    json_t *done = NULL;
    if (rc == 0 && T->op_api && name && strstr(name, "/operations/")) { /* a long-running create */
        if (gcp_wait_op(GCP_PROV(c)->client, T->op_api, r.body, NULL, NULL, &done, c->err) < 0) {
            snprintf(c->err->where, sizeof c->err->where, "%s", c->addr ? c->addr : "");
            rc = -1;
        }
        name = json_string_value(json_object_get(json_object_get(done, "response"), "name"));
    }
    const char *tail = name ? gcp_projects_tail(name) : NULL;
    if (rc == 0 && !tail) {
        perr_set(c->err, c->addr ? c->addr : "", "POST %s: the answer names no created resource", url);
        rc = -1;
    }
    if (rc == 0) {
        *id = xstrdup(tail);
        rc = read_back(c, *id, desired, live);
    }
    if (rc < 0) {
        free(*id);
        *id = NULL;
    }
    json_decref(done);
    gcp_resp_free(&r);
    json_decref(body);
    free(url);
    json_decref(vars);
    return rc;
}

int gcp_res_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    const gcp_type_t *T = GCP_TYPE(c);
    *id = NULL;
    *live = NULL;
    if (T->create) return T->create(c, desired, id, live);
    if (T->create_style == GCP_CREATE_SERVER_NAMED) return create_server_named(c, desired, id, live);
    char *myid = gcp_res_id_of(c, desired);
    if (!myid) return -1;
    json_t *vars = gcp_body_vars(c, desired);
    int rc = -1;
    char *url = NULL;
    json_t *body = NULL;

    /* An interrupted apply left an operation in flight: wait for it. */
    const json_t *op = c->resume ? json_object_get(c->resume, "operation") : NULL;
    if (op) {
        const char *api = json_string_value(json_object_get(c->resume, "api"));
        if (gcp_wait(c, api ? api : T->op_api, op) < 0) goto out;
        if (gcp_res_read(c, myid, desired, live) < 0) goto out;
        if (*live) {
            rc = 0;
            goto out;
        }
    }

    body = gcp_send_body(c, desired);
    if (T->prepare && T->prepare(c, desired, body) < 0) goto out;
    const json_t *sent = body; /* inside the wrapper, if any */
    if (T->wrap) body = json_pack("{s:o}", T->wrap, body);
    int64_t started_s = (int64_t)time(NULL);
    bool may_have_landed = false; /* an earlier attempt of this create may have been carried out */
    const char *method = T->create_style == GCP_CREATE_PUT ? "PUT" : "POST";
    if (T->create_style == GCP_CREATE_PUT) {
        url = gcp_tmpl_fill(T->self, vars, c->err);
    } else {
        char *coll = gcp_tmpl_fill(T->collection, vars, c->err);
        char *q = coll && T->create_query ? gcp_tmpl_fill(T->create_query, vars, c->err) : NULL;
        if (coll && (!T->create_query || q))
            url = xasprintf("%s%s%s", coll, q ? (strchr(coll, '?') ? "&" : "?") : "", q ? q : "");
        free(coll);
        free(q);
    }
    if (!url) goto out;
    for (int attempt = 0;; attempt++) {
        gcp_resp_t r = {0};
        if (gcp_call_busy(c, method, T->api, url, body, &r) < 0) {
            int lost = r.maybe_applied;
            gcp_resp_free(&r);
            if (!lost || attempt > 6) goto out;
            /* The POST may have been applied: look before sending again. */
            may_have_landed = true;
            perr_clear(c->err);
            if (adopt_own_create(c, myid, desired, sent, started_s, live) < 0) goto out;
            if (*live) break;
            continue;
        }
        if (r.earlier_maybe_applied) may_have_landed = true;
        if (r.status == 409 && may_have_landed) {
            gcp_resp_free(&r);
            if (adopt_own_create(c, myid, desired, sent, started_s, live) < 0) goto out;
            if (*live) break; /* our own create, its answer lost: adopted */
            already_exists(c, myid);
            goto out;
        }
        if (r.status == 409) {
            gcp_resp_free(&r);
            /* Bucket names are global: a 409 may mean someone else's bucket. */
            json_t *mine = NULL;
            if (gcp_api_traits(T->api)->global_names && (gcp_res_read(c, myid, desired, &mine) < 0 || !mine))
                perr_set(c->err, c->addr ? c->addr : "",
                         "bucket name '%s' is already taken by another project (bucket names are global); "
                         "choose another name",
                         gcp_last_segment(myid));
            else
                already_exists(c, myid);
            json_decref(mine);
            goto out;
        }
        if (!gcp_resp_ok(&r)) {
            gcp_fail(c, &r, method, url);
            gcp_resp_free(&r);
            goto out;
        }
        int wrc = T->op_api ? gcp_wait(c, T->op_api, r.body) : 0;
        if (!T->op_api && gcp_api_traits(T->api)->create_answers_resource && json_is_object(r.body)) {
            json_t *iv = gcp_id_vars(c, myid);
            *live = json_incref(r.body);
            if (iv) finish_live(c, iv, desired, live);
            json_decref(iv);
        }
        gcp_resp_free(&r);
        if (wrc < 0) goto out;
        break;
    }
    if (!*live && read_back(c, myid, desired, live) < 0) goto out;
    rc = 0;
out:
    if (rc == 0) {
        *id = myid;
        myid = NULL;
    } else {
        json_decref(*live);
        *live = NULL;
    }
    free(myid);
    free(url);
    json_decref(body);
    json_decref(vars);
    return rc;
}

int gcp_res_remove(rctx_t *c, const char *id, const json_t *live) {
    const gcp_type_t *T = GCP_TYPE(c);
    if (T->remove) return T->remove(c, id, live);
    return gcp_res_remove_std(c, id, live);
}

int gcp_res_remove_std(rctx_t *c, const char *id, const json_t *live) {
    const gcp_type_t *T = GCP_TYPE(c);
    json_t *vars = gcp_id_vars(c, id);
    if (!vars) return -1;
    char *url = gcp_tmpl_fill(T->self, vars, c->err);
    int rc = -1;
    gcp_resp_t r = {0};
    if (url && gcp_call_busy(c, "DELETE", T->api, url, NULL, &r) == 0) {
        if (r.status == 404)
            rc = 0;
        else if (!gcp_resp_ok(&r))
            gcp_fail(c, &r, "DELETE", url);
        else
            rc = T->op_api && r.body && json_object_size(r.body) ? gcp_wait(c, T->op_api, r.body) : 0;
    }
    gcp_resp_free(&r);
    free(url);
    json_decref(vars);
    return rc;
}

char *gcp_res_import_id(rctx_t *c, const char *import_id) {
    const gcp_type_t *T = GCP_TYPE(c);
    gcp_prov_t *P = GCP_PROV(c);
    json_t *vars = gcp_tmpl_match(T->id_tmpl, import_id);
    for (const char *const *f = T->import_forms; !vars && f && *f; f++)
        vars = gcp_tmpl_match(*f, import_id);
    if (!vars) {
        sbuf_t b = {0};
        sbuf_addf(&b, "cannot import '%s': expected %s", import_id, T->id_tmpl);
        for (const char *const *f = T->import_forms; f && *f; f++)
            sbuf_addf(&b, " or %s", *f);
        perr_set(c->err, c->addr ? c->addr : "", "%s", b.s);
        sbuf_free(&b);
        return NULL;
    }
    if (!json_object_get(vars, "project") && P->project)
        json_object_set_new(vars, "project", json_string(P->project));
    if (!json_object_get(vars, "region") && P->region)
        json_object_set_new(vars, "region", json_string(P->region));
    if (!json_object_get(vars, "location") && P->region)
        json_object_set_new(vars, "location", json_string(P->region));
    if (!json_object_get(vars, "zone") && P->zone) json_object_set_new(vars, "zone", json_string(P->zone));
    char *full = gcp_tmpl_fill(T->id_tmpl, vars, c->err);
    json_decref(vars);
    return full;
}

int gcp_res_import(rctx_t *c, const char *import_id, char **id, json_t **live) {
    *id = NULL;
    *live = NULL;
    char *full = gcp_res_import_id(c, import_id);
    if (!full) return -1;
    if (gcp_res_read(c, full, NULL, live) < 0) {
        free(full);
        return -1;
    }
    if (!*live) {
        perr_set(c->err, c->addr ? c->addr : "", "cannot import %s: it does not exist", full);
        free(full);
        return -1;
    }
    *id = full;
    return 0;
}
