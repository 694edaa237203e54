/* gcp_res.c: the generic implementation of Google Cloud resource types:
 * turns a gcp_type_t table (URL templates, natural ID, create/update
 * styles) into the rtype_t callbacks, plus the shared pieces every family
 * uses (templates, operation waits with checkpoints, normalization, IAM
 * policy read-modify-write). */
#include "providers/gcp/gcp_res.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/jpath.h"

/* ------------------------------------------------------------------ */
/* templates */

char *gcp_tmpl_fill(const char *tmpl, const json_t *vars, perr_t *e) {
    sbuf_t b = {0};
    for (const char *p = tmpl; *p;) {
        if (*p != '{') {
            sbuf_addc(&b, *p++);
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) break;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
        const char *v = json_string_value(json_object_get(vars, name));
        if (!v || !*v) {
            perr_set(e, "", "missing or unresolved field '%s' (needed for %s)", name, tmpl);
            sbuf_free(&b);
            return NULL;
        }
        sbuf_add(&b, v);
        p = end + 1;
    }
    return sbuf_steal(&b);
}

json_t *gcp_tmpl_match(const char *tmpl, const char *s) {
    json_t *vars = json_object();
    const char *p = tmpl;
    while (*p) {
        if (*p != '{') {
            if (*s != *p) goto fail;
            p++, s++;
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) goto fail;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
        char stop = end[1] ? end[1] : '/';
        const char *q = s;
        while (*q && *q != stop && *q != '/') q++;
        if (q == s) goto fail;
        if (!end[1] && *q) goto fail; /* trailing text after the last variable */
        json_object_set_new(vars, name, json_stringn(s, (size_t)(q - s)));
        s = q;
        p = end + 1;
    }
    if (*s) goto fail;
    return vars;
fail:
    json_decref(vars);
    return NULL;
}

const char *gcp_last_segment(const char *s) {
    const char *slash = strrchr(s, '/');
    return slash ? slash + 1 : s;
}

const char *gcp_projects_tail(const char *s) {
    if (strncmp(s, "projects/", 9) == 0) return s;
    const char *p = strstr(s, "/projects/");
    return p ? p + 1 : NULL;
}

/* Takes "key/value" pairs out of a relative name (projects/p/locations/l/...). */
static void vars_from_relname(json_t *vars, const char *s) {
    static const struct { const char *seg, *var; } pairs[] = {
        {"projects", "project"}, {"locations", "location"}, {"regions", "region"}, {"zones", "zone"}};
    const char *t = gcp_projects_tail(s);
    if (!t) return;
    char *copy = xstrdup(t), *save = NULL;
    const char *prev = NULL;
    for (char *tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (prev)
            for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
                if (strcmp(prev, pairs[i].seg) == 0 && !json_object_get(vars, pairs[i].var))
                    json_object_set_new(vars, pairs[i].var, json_string(tok));
        prev = tok;
    }
    free(copy);
}

json_t *gcp_body_vars(rctx_t *c, const json_t *body) {
    gcp_prov_t *P = GCP_PROV(c);
    json_t *vars = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        const char *s = json_string_value(v);
        if (!s) continue;
        if (strstr(s, "://") || strncmp(s, "projects/", 9) == 0)
            json_object_set_new(vars, k, json_string(gcp_last_segment(s)));
        else
            json_object_set_new(vars, k, json_string(s));
    }
    /* Placement parsed from references (a node pool's cluster, a version's
     * secret), then the provider's configuration. */
    json_object_foreach((json_t *)body, k, v) {
        const char *s = json_string_value(v);
        if (s && strcmp(k, "network") != 0 && strcmp(k, "subnetwork") != 0)
            vars_from_relname(vars, s);
    }
    if (!json_object_get(vars, "project") && P->project)
        json_object_set_new(vars, "project", json_string(P->project));
    if (!json_object_get(vars, "region") && P->region)
        json_object_set_new(vars, "region", json_string(P->region));
    if (!json_object_get(vars, "location") && P->region)
        json_object_set_new(vars, "location", json_string(P->region));
    if (!json_object_get(vars, "zone") && P->zone)
        json_object_set_new(vars, "zone", json_string(P->zone));
    return vars;
}

/* ------------------------------------------------------------------ */
/* calls */

void gcp_fail(rctx_t *c, const gcp_resp_t *r, const char *method, const char *url) {
    gcp_resp_error(r, method, url, c->err);
    snprintf(c->err->where, sizeof c->err->where, "%s", c->addr ? c->addr : "");
}

int gcp_sleep(rctx_t *c, int ms) {
    while (ms > 0) {
        if (c->cancel && *c->cancel) {
            perr_set(c->err, c->addr ? c->addr : "", "interrupted");
            return -1;
        }
        int step = ms > 100 ? 100 : ms;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return 0;
}

static int resp_ok(const gcp_resp_t *r) { return r->status >= 200 && r->status < 300; }

static int is_busy(const char *api, const gcp_resp_t *r) {
    const char *raw = r->raw ? r->raw : "";
    if (strcmp(api, "container") == 0)
        return (r->status == 400 && (strcmp(r->error_status, "FAILED_PRECONDITION") == 0 ||
                                     strstr(raw, "incompatible operation") ||
                                     strstr(raw, "CLUSTER_ALREADY_HAS_OPERATION"))) ||
               r->status == 429;
    if (strcmp(api, "sqladmin") == 0)
        return r->status == 409 && (strcmp(r->error_reason, "operationInProgress") == 0 ||
                                    strstr(raw, "operationInProgress"));
    if (strcmp(api, "compute") == 0)
        return r->status == 400 && (strcmp(r->error_reason, "resourceNotReady") == 0 ||
                                    strstr(raw, "resourceNotReady"));
    if (strcmp(api, "serviceusage") == 0)
        return r->status == 400 && strstr(raw, "Another activation or deactivation is in progress");
    return 0;
}

int gcp_call_busy(rctx_t *c, const char *method, const char *api, const char *url,
                  const json_t *body, gcp_resp_t *resp) {
    gcp_prov_t *P = GCP_PROV(c);
    int delay = P->emulated ? 100 : 2000, cap = P->emulated ? 1000 : 15000;
    for (int attempt = 0;; attempt++) {
        memset(resp, 0, sizeof *resp);
        if (gcp_call(P->client, method, api, url, body, resp, c->err) < 0) return -1;
        if (!is_busy(api, resp) || attempt >= 20) return 0;
        if (c->progress) c->progress(c->ud, c->addr, "busy with another operation; retrying");
        gcp_resp_free(resp);
        int jitter = rand() % (delay / 2 + 1);
        if (gcp_sleep(c, delay + jitter) < 0) {
            memset(resp, 0, sizeof *resp);
            return -1;
        }
        delay = delay * 2 > cap ? cap : delay * 2;
    }
}

int gcp_call_ok(rctx_t *c, const char *method, const char *api, const char *url, const json_t *body) {
    gcp_resp_t r = {0};
    int rc = gcp_call(GCP_PROV(c)->client, method, api, url, body, &r, c->err);
    if (rc == 0 && (r.status < 200 || r.status >= 300)) {
        gcp_fail(c, &r, method, url);
        rc = -1;
    }
    gcp_resp_free(&r);
    return rc;
}

int gcp_call_wait(rctx_t *c, const char *method, const char *api, const char *url, const json_t *body,
                  int ok_404) {
    gcp_resp_t r = {0};
    int rc = gcp_call_busy(c, method, api, url, body, &r);
    if (rc == 0 && r.status == 404 && ok_404)
        rc = 0;
    else if (rc == 0 && (r.status < 200 || r.status >= 300)) {
        gcp_fail(c, &r, method, url);
        rc = -1;
    } else if (rc == 0)
        rc = gcp_wait(c, api, r.body);
    gcp_resp_free(&r);
    return rc;
}

int gcp_get(rctx_t *c, const char *api, const char *url, json_t **out) {
    gcp_resp_t r = {0};
    *out = NULL;
    if (gcp_call(GCP_PROV(c)->client, "GET", api, url, NULL, &r, c->err) < 0) {
        gcp_resp_free(&r);
        return -1;
    }
    int rc = 0;
    if (r.status == 404)
        ;
    else if (!resp_ok(&r)) {
        gcp_fail(c, &r, "GET", url);
        rc = -1;
    } else
        *out = r.body ? json_incref(r.body) : json_object();
    gcp_resp_free(&r);
    return rc;
}

static void progress_adapter(void *ud, const char *msg) {
    rctx_t *c = ud;
    if (c->progress) c->progress(c->ud, c->addr, msg);
}

int gcp_wait(rctx_t *c, const char *op_api, const json_t *op) {
    if (!op_api || !op) return 0;
    /* Resuming: the operation is already in state (and op may point into
     * c->resume, which a new checkpoint could replace). */
    int resumed = c->resume && json_object_get(c->resume, "operation") == op;
    if (c->checkpoint && !resumed) {
        json_t *data = json_pack("{s:O,s:s}", "operation", op, "api", op_api);
        c->checkpoint(c->ud, c->addr, data);
        json_decref(data);
    }
    if (gcp_wait_op(GCP_PROV(c)->client, op_api, op, progress_adapter, c, NULL, c->err) < 0) {
        snprintf(c->err->where, sizeof c->err->where, "%s", c->addr ? c->addr : "");
        return -1;
    }
    return 0;
}

char *gcp_project_number(rctx_t *c, const char *project) {
    gcp_prov_t *P = GCP_PROV(c);
    pthread_mutex_lock(&P->num_lock);
    const char *cached = json_string_value(json_object_get(P->project_numbers, project));
    char *num = cached ? xstrdup(cached) : NULL;
    pthread_mutex_unlock(&P->num_lock);
    if (num) return num;
    if (strspn(project, "0123456789") == strlen(project)) return xstrdup(project);
    char *url = xasprintf("v1/projects/%s", project);
    json_t *p = NULL;
    if (gcp_get(c, "cloudresourcemanager", url, &p) == 0 && p) {
        const char *n = json_string_value(json_object_get(p, "projectNumber"));
        if (n) {
            num = xstrdup(n);
            pthread_mutex_lock(&P->num_lock);
            json_object_set_new(P->project_numbers, project, json_string(n));
            pthread_mutex_unlock(&P->num_lock);
        }
    } else if (!p && c->err->msg[0] == 0)
        perr_set(c->err, c->addr, "project %s not found", project);
    if (!num && !c->err->msg[0]) perr_set(c->err, c->addr, "project %s has no projectNumber", project);
    json_decref(p);
    free(url);
    return num;
}

/* ------------------------------------------------------------------ */
/* bodies */

static int is_extra(const rtype_t *t, const char *field) {
    for (const char *const *f = t->extra_fields; f && *f; f++)
        if (strcmp(*f, field) == 0) return 1;
    return 0;
}

json_t *gcp_send_body(rctx_t *c, const json_t *desired) {
    const gcp_type_t *T = GCP_TYPE(c);
    json_t *b = json_deep_copy(desired);
    for (const char *const *f = c->type->extra_fields; f && *f; f++) json_object_del(b, *f);
    for (const char *const *f = T->send_strip; f && *f; f++) json_object_del(b, *f);
    return b;
}

/* Placement fields (template vars) and plinth options are kept on live so
 * that the engine's diff and remove() see them. */
static void annotate(rctx_t *c, const json_t *vars, json_t *live) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)vars, k, v) {
        if (!json_object_get(live, k) && (is_extra(c->type, k) || strcmp(k, "name") == 0))
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
    if (P && P->project && is_extra(t, "project") && !json_object_get(body, "project"))
        json_object_set_new(body, "project", json_string(P->project));
    if (P && P->region && T->location_field && !json_object_get(body, T->location_field))
        json_object_set_new(body, T->location_field, json_string(P->region));
    if (P && P->zone && T->zone_field && !json_object_get(body, T->zone_field))
        json_object_set_new(body, T->zone_field, json_string(P->zone));
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

static json_t *id_vars(rctx_t *c, const char *id) {
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
    json_t *vars = id_vars(c, id);
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

int gcp_res_read_many(rctx_t *c, size_t n, const char *const *ids, const json_t *const *desired,
                      json_t **lives) {
    const gcp_type_t *T = GCP_TYPE(c);
    if (!T->list_items || !T->collection || T->read) return -1;
    json_t *by_coll = json_object(); /* collection URL -> {name: item} */
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        lives[i] = NULL;
        json_t *vars = list_vars(c, T, ids[i], desired ? desired[i] : NULL);
        char *coll = vars ? gcp_tmpl_fill(T->collection, vars, c->err) : NULL;
        json_decref(vars);
        if (!coll) {
            rc = -1;
            break;
        }
        if (!json_object_get(by_coll, coll)) {
            json_t *items = json_object();
            json_object_set_new(by_coll, coll, items);
            char *token = NULL;
            do {
                int compute = strcmp(T->api, "compute") == 0;
                sbuf_t ub = {0};
                sbuf_add(&ub, coll);
                if (compute) sbuf_addf(&ub, "%smaxResults=500", strchr(ub.s, '?') ? "&" : "?");
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
        }
        free(coll);
    }
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            json_t *vars = list_vars(c, T, ids[i], desired ? desired[i] : NULL);
            char *coll = gcp_tmpl_fill(T->collection, vars, c->err);
            json_t *it = json_object_get(json_object_get(by_coll, coll), gcp_last_segment(ids[i]));
            lives[i] = it ? json_deep_copy(it) : NULL;
            finish_live(c, vars, desired ? desired[i] : NULL, &lives[i]);
            free(coll);
            json_decref(vars);
        }
    } else {
        for (size_t i = 0; i < n; i++) lives[i] = NULL;
    }
    json_decref(by_coll);
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

static void already_exists(rctx_t *c, const char *id) {
    perr_set(c->err, c->addr ? c->addr : "",
             "%s already exists outside plinth's state; adopt it with: plinth import %s %s", id,
             c->addr ? c->addr : "ADDR", id);
}

int gcp_res_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    const gcp_type_t *T = GCP_TYPE(c);
    *id = NULL;
    *live = NULL;
    if (T->create) return T->create(c, desired, id, live);
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
    if (T->wrap) body = json_pack("{s:o}", T->wrap, body);
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
            if (!lost || attempt > 0) goto out;
            /* The POST may have been applied: look before sending again. */
            perr_clear(c->err);
            if (gcp_res_read(c, myid, desired, live) < 0) goto out;
            if (*live) break;
            continue;
        }
        if (r.status == 409) {
            gcp_resp_free(&r);
            /* Bucket names are global: a 409 may mean someone else's bucket. */
            json_t *mine = NULL;
            if (strcmp(T->api, "storage") == 0 && (gcp_res_read(c, myid, desired, &mine) < 0 || !mine))
                perr_set(c->err, c->addr ? c->addr : "",
                         "bucket name '%s' is already taken by another project (bucket names are global); choose another name",
                         gcp_last_segment(myid));
            else
                already_exists(c, myid);
            json_decref(mine);
            goto out;
        }
        if (!resp_ok(&r)) {
            gcp_fail(c, &r, method, url);
            gcp_resp_free(&r);
            goto out;
        }
        int wrc = T->op_api ? gcp_wait(c, T->op_api, r.body) : 0;
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

/* Top-level fields touched by the changed paths, minus plinth-only fields. */
static void top_fields(rctx_t *c, const strlist_t *changed, strlist_t *out) {
    for (size_t i = 0; i < changed->n; i++) {
        const char *p = changed->v[i];
        size_t k = strcspn(p, ".");
        char *top = xstrndup(p, k);
        if (!is_extra(c->type, top) && !strlist_has(out, top))
            strlist_add_own(out, top);
        else
            free(top);
    }
}

static int send_update(rctx_t *c, const char *method, const char *url, const json_t *body) {
    const gcp_type_t *T = GCP_TYPE(c);
    gcp_resp_t r = {0};
    int rc = -1;
    if (gcp_call_busy(c, method, T->api, url, body, &r) < 0) goto out;
    if (!resp_ok(&r)) {
        gcp_fail(c, &r, method, url);
        goto out;
    }
    rc = T->op_api && r.body && (json_object_get(r.body, "status") || json_object_get(r.body, "done"))
             ? gcp_wait(c, T->op_api, r.body)
             : 0;
out:
    gcp_resp_free(&r);
    return rc;
}

static json_t *changed_body(const json_t *desired, const strlist_t *tops) {
    json_t *b = json_object();
    for (size_t i = 0; i < tops->n; i++) {
        json_t *v = json_object_get(desired, tops->v[i]);
        json_object_set_new(b, tops->v[i], v ? json_deep_copy(v) : json_null());
    }
    return b;
}

static int update_compute(rctx_t *c, const char *url, const char *id, const json_t *desired,
                          const json_t *live, strlist_t *tops) {
    const gcp_type_t *T = GCP_TYPE(c);
    if (T->labels_verb && strlist_has(tops, "labels")) {
        json_t *labels = json_object_get(desired, "labels");
        json_t *lfp = json_object_get(live, "labelFingerprint");
        json_t *b = json_object();
        json_object_set_new(b, "labels", labels ? json_deep_copy(labels) : json_object());
        if (lfp) json_object_set(b, "labelFingerprint", lfp);
        char *u = xasprintf("%s/setLabels", url);
        int rc = send_update(c, "POST", u, b);
        free(u);
        json_decref(b);
        if (rc < 0) return -1;
        strlist_t rest = {0};
        for (size_t i = 0; i < tops->n; i++)
            if (strcmp(tops->v[i], "labels") != 0) strlist_add(&rest, tops->v[i]);
        strlist_free(tops);
        *tops = rest;
    }
    if (!tops->n) return 0;
    json_t *b = changed_body(desired, tops);
    if (json_object_get(desired, "name")) json_object_set(b, "name", json_object_get(desired, "name"));
    json_t *cur = json_incref((json_t *)live);
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        json_t *fp = json_object_get(cur, "fingerprint");
        if (fp) json_object_set(b, "fingerprint", fp);
        gcp_resp_t r = {0};
        if (gcp_call_busy(c, "PATCH", T->api, url, b, &r) < 0) {
            gcp_resp_free(&r);
            break;
        }
        if (r.status == 412 && attempt == 0) { /* stale fingerprint: re-read, resend once */
            gcp_resp_free(&r);
            json_decref(cur);
            cur = NULL;
            if (gcp_res_read(c, id, desired, &cur) < 0 || !cur) break;
            continue;
        }
        if (!resp_ok(&r)) {
            gcp_fail(c, &r, "PATCH", url);
            gcp_resp_free(&r);
            break;
        }
        rc = gcp_wait(c, T->op_api, r.body);
        gcp_resp_free(&r);
        break;
    }
    json_decref(cur);
    json_decref(b);
    return rc;
}

int gcp_res_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                   const strlist_t *changed, json_t **newlive) {
    const gcp_type_t *T = GCP_TYPE(c);
    *newlive = NULL;
    if (T->update) return T->update(c, id, desired, live, changed, newlive);
    if (T->iam) return gcp_iam_member_read(c, id, desired, newlive); /* every field is immutable */
    return gcp_res_update_std(c, id, desired, live, changed, newlive);
}

int gcp_res_update_std(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                       const strlist_t *changed, json_t **newlive) {
    const gcp_type_t *T = GCP_TYPE(c);
    *newlive = NULL;
    json_t *vars = id_vars(c, id);
    if (!vars) return -1;
    char *url = gcp_tmpl_fill(T->self, vars, c->err);
    strlist_t tops = {0};
    top_fields(c, changed, &tops);
    int rc = url ? 0 : -1;
    if (rc == 0 && tops.n && T->update_style != GCP_UPDATE_NONE) {
        json_t *b = NULL;
        switch (T->update_style) {
        case GCP_UPDATE_COMPUTE:
            rc = update_compute(c, url, id, desired, live, &tops);
            break;
        case GCP_UPDATE_PATCH:
            b = changed_body(desired, &tops);
            rc = send_update(c, "PATCH", url, b);
            break;
        case GCP_UPDATE_PATCH_MASK: {
            sbuf_t u = {0};
            sbuf_addf(&u, "%s%supdateMask=", url, strchr(url, '?') ? "&" : "?");
            for (size_t i = 0; i < tops.n; i++) sbuf_addf(&u, "%s%s", i ? "," : "", tops.v[i]);
            b = gcp_send_body(c, desired);
            if (T->prepare && T->prepare(c, desired, b) < 0) rc = -1;
            if (rc == 0) rc = send_update(c, "PATCH", u.s, b);
            sbuf_free(&u);
            break;
        }
        case GCP_UPDATE_SQL: {
            b = changed_body(desired, &tops);
            json_t *sv = jpath_get(live, "settings.settingsVersion");
            json_t *settings = json_object_get(b, "settings");
            if (sv && json_is_object(settings)) json_object_set(settings, "settingsVersion", sv);
            rc = send_update(c, "PATCH", url, b);
            break;
        }
        default:
            break;
        }
        json_decref(b);
    }
    if (rc == 0) {
        rc = gcp_res_read(c, id, desired, newlive);
        if (rc == 0 && !*newlive) {
            perr_set(c->err, c->addr, "%s disappeared during update", id);
            rc = -1;
        }
    }
    strlist_free(&tops);
    free(url);
    json_decref(vars);
    return rc;
}

int gcp_res_remove(rctx_t *c, const char *id, const json_t *live) {
    const gcp_type_t *T = GCP_TYPE(c);
    if (T->remove) return T->remove(c, id, live);
    return gcp_res_remove_std(c, id, live);
}

char *gcp_urlenc(const char *s) {
    sbuf_t b = {0};
    sbuf_add(&b, "");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p))
            sbuf_addc(&b, (char)*p);
        else
            sbuf_addf(&b, "%%%02X", *p);
    }
    return sbuf_steal(&b);
}

int gcp_res_remove_std(rctx_t *c, const char *id, const json_t *live) {
    const gcp_type_t *T = GCP_TYPE(c);
    json_t *vars = id_vars(c, id);
    if (!vars) return -1;
    char *url = gcp_tmpl_fill(T->self, vars, c->err);
    int rc = -1;
    gcp_resp_t r = {0};
    if (url && gcp_call_busy(c, "DELETE", T->api, url, NULL, &r) == 0) {
        if (r.status == 404)
            rc = 0;
        else if (!resp_ok(&r))
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
    for (const char *const *f = T->import_forms; !vars && f && *f; f++) vars = gcp_tmpl_match(*f, import_id);
    if (!vars) {
        sbuf_t b = {0};
        sbuf_addf(&b, "cannot import '%s': expected %s", import_id, T->id_tmpl);
        for (const char *const *f = T->import_forms; f && *f; f++) sbuf_addf(&b, " or %s", *f);
        perr_set(c->err, c->addr ? c->addr : "", "%s", b.s);
        sbuf_free(&b);
        return NULL;
    }
    if (!json_object_get(vars, "project") && P->project) json_object_set_new(vars, "project", json_string(P->project));
    if (!json_object_get(vars, "region") && P->region) json_object_set_new(vars, "region", json_string(P->region));
    if (!json_object_get(vars, "location") && P->region) json_object_set_new(vars, "location", json_string(P->region));
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

/* ------------------------------------------------------------------ */
/* normalization */

static int in_list(const char *const *patterns, const char *path) { return rtype_path_in(patterns, path); }

static int str_equiv(int ci, const char *d, const char *l) {
    if (strcmp(d, l) == 0) return 1;
    if (ci && strcasecmp(d, l) == 0) return 1;
    const char *dt = gcp_projects_tail(d), *lt = gcp_projects_tail(l);
    if (dt && lt) return strcmp(dt, lt) == 0;
    int l_ref = strstr(l, "://") || lt;
    int d_ref = strstr(d, "://") || dt;
    if (!strchr(d, '/') && l_ref) return strcmp(gcp_last_segment(l), d) == 0;
    if (!strchr(l, '/') && d_ref) return strcmp(gcp_last_segment(d), l) == 0;
    return 0;
}

static int num_str_equiv(const json_t *num, const char *s) {
    char *end = NULL;
    if (!*s) return 0;
    if (json_is_integer(num)) {
        long long v = strtoll(s, &end, 10);
        return *end == 0 && v == json_integer_value(num);
    }
    double v = strtod(s, &end);
    return *end == 0 && v == json_real_value(num);
}

static int scalar_equiv(const gcp_type_t *T, const char *path, const json_t *d, const json_t *l) {
    if (json_equal((json_t *)d, (json_t *)l)) return 1;
    if (json_is_string(d) && json_is_string(l))
        return str_equiv(in_list(T->ci_paths, path), json_string_value(d), json_string_value(l));
    if (json_is_number(d) && json_is_string(l)) return num_str_equiv(d, json_string_value(l));
    if (json_is_string(d) && json_is_number(l)) return num_str_equiv(l, json_string_value(d));
    if (json_is_number(d) && json_is_number(l)) return json_number_value(d) == json_number_value(l);
    return 0;
}

/* desired's content is found in live (only the keys desired sets). */
static int subset_equiv(const gcp_type_t *T, const char *path, const json_t *d, const json_t *l) {
    if (json_is_object(d)) {
        if (!json_is_object(l)) return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)d, k, v) {
            json_t *lv = json_object_get(l, k);
            char *p = jpath_join(path, k);
            int ok = lv && subset_equiv(T, p, v, lv);
            free(p);
            if (!ok) return 0;
        }
        return 1;
    }
    if (json_is_array(d)) {
        if (!json_is_array(l) || json_array_size(l) != json_array_size(d)) return 0;
        char *p = jpath_join(path, "0");
        size_t i, j;
        json_t *dv, *lv;
        int ok = 1;
        json_array_foreach(d, i, dv) {
            int found = 0;
            json_array_foreach(l, j, lv) if (subset_equiv(T, p, dv, lv)) {
                found = 1;
                break;
            }
            if (!found) {
                ok = 0;
                break;
            }
        }
        free(p);
        return ok;
    }
    return scalar_equiv(T, path, d, l);
}

static json_t *norm_val(const gcp_type_t *T, const char *path, json_t *l, const json_t *d);

static void reorder_set(const gcp_type_t *T, const char *path, json_t *l, const json_t *d) {
    size_t nl = json_array_size(l);
    char *used = xcalloc(nl + 1, 1);
    json_t *out = json_array();
    char *ep = jpath_join(path, "0");
    size_t i, j;
    json_t *dv;
    json_array_foreach(d, i, dv) {
        for (j = 0; j < nl; j++)
            if (!used[j] && subset_equiv(T, ep, dv, json_array_get(l, j))) {
                used[j] = 1;
                json_array_append(out, json_array_get(l, j));
                break;
            }
    }
    for (j = 0; j < nl; j++)
        if (!used[j]) json_array_append(out, json_array_get(l, j));
    json_array_clear(l);
    json_array_extend(l, out);
    json_decref(out);
    free(ep);
    free(used);
}

/* Returns the (new reference) value live should hold at path. */
static json_t *norm_val(const gcp_type_t *T, const char *path, json_t *l, const json_t *d) {
    if (json_is_object(d) && json_is_object(l)) {
        const char *k;
        json_t *dv;
        json_object_foreach((json_t *)d, k, dv) {
            json_t *lv = json_object_get(l, k);
            if (!lv) continue;
            char *p = jpath_join(path, k);
            json_object_set_new(l, k, norm_val(T, p, lv, dv));
            free(p);
        }
        return json_incref(l);
    }
    if (json_is_array(d) && json_is_array(l)) {
        if (in_list(T->set_paths, path)) reorder_set(T, path, l, d);
        size_t n = json_array_size(d) < json_array_size(l) ? json_array_size(d) : json_array_size(l);
        for (size_t i = 0; i < n; i++) {
            char idx[24];
            snprintf(idx, sizeof idx, "%zu", i);
            char *p = jpath_join(path, idx);
            json_array_set_new(l, i, norm_val(T, p, json_array_get(l, i), json_array_get(d, i)));
            free(p);
        }
        return json_incref(l);
    }
    if (!json_is_object(d) && !json_is_array(d) && scalar_equiv(T, path, d, l)) return json_deep_copy(d);
    return json_incref(l);
}

void gcp_res_normalize(const rtype_t *t, json_t *live, const json_t *desired) {
    if (!live || !desired) return;
    json_decref(norm_val(t->data, "", live, desired));
}

/* ------------------------------------------------------------------ */
/* IAM policies */

static int member_eq(const char *a, const char *b) {
    /* Email-type principals are lower-cased by the server. */
    if (strchr(a, '@') && strncmp(a, "principal", 9) != 0) return strcasecmp(a, b) == 0;
    return strcmp(a, b) == 0;
}

/* A condition given with only a title (from an import ID) matches by title. */
static int cond_eq(const json_t *want, const json_t *have) {
    if (!want || json_is_null(want)) return !have || json_is_null(have);
    if (!have || json_is_null(have)) return 0;
    const char *we = json_string_value(json_object_get(want, "expression"));
    const char *wt = json_string_value(json_object_get(want, "title"));
    const char *he = json_string_value(json_object_get(have, "expression"));
    const char *ht = json_string_value(json_object_get(have, "title"));
    if (we && (!he || strcmp(we, he) != 0)) return 0;
    if (wt && (!ht || strcmp(wt, ht) != 0)) return 0;
    return we || wt;
}

static int binding_is(const json_t *b, const char *role, const json_t *cond) {
    const char *r = json_string_value(json_object_get(b, "role"));
    return r && strcmp(r, role) == 0 && cond_eq(cond, json_object_get(b, "condition"));
}

static int members_index(const json_t *members, const char *m) {
    size_t i;
    json_t *v;
    json_array_foreach(members, i, v) if (json_string_value(v) && member_eq(json_string_value(v), m)) return (int)i;
    return -1;
}

int gcp_iam_has(const json_t *policy, const char *role, const json_t *condition, const char *member) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(policy, "bindings"), i, b) if (binding_is(b, role, condition) &&
                                                                     members_index(json_object_get(b, "members"), member) >= 0) return 1;
    return 0;
}

int gcp_iam_add(json_t *policy, const char *role, const json_t *condition, const char *member) {
    json_t *bindings = json_object_get(policy, "bindings");
    if (!json_is_array(bindings)) {
        bindings = json_array();
        json_object_set_new(policy, "bindings", bindings);
    }
    int changed = 0;
    json_t *target = NULL;
    for (size_t i = 0; i < json_array_size(bindings);) {
        json_t *b = json_array_get(bindings, i);
        if (!binding_is(b, role, condition)) {
            i++;
            continue;
        }
        if (!target) {
            target = b;
            i++;
            continue;
        }
        /* Merge a duplicate binding of the same role and condition. */
        size_t j;
        json_t *m;
        json_t *tm = json_object_get(target, "members");
        json_array_foreach(json_object_get(b, "members"), j, m) if (members_index(tm, json_string_value(m)) < 0)
            json_array_append(tm, m);
        json_array_remove(bindings, i);
        changed = 1;
    }
    if (!target) {
        target = json_pack("{s:s,s:[]}", "role", role, "members");
        if (condition && !json_is_null(condition)) json_object_set(target, "condition", (json_t *)condition);
        json_array_append_new(bindings, target);
    }
    json_t *members = json_object_get(target, "members");
    if (!json_is_array(members)) {
        members = json_array();
        json_object_set_new(target, "members", members);
    }
    if (members_index(members, member) < 0) {
        json_array_append_new(members, json_string(member));
        changed = 1;
    }
    if (condition && !json_is_null(condition)) json_object_set_new(policy, "version", json_integer(3));
    return changed;
}

int gcp_iam_remove(json_t *policy, const char *role, const json_t *condition, const char *member) {
    json_t *bindings = json_object_get(policy, "bindings");
    int changed = 0;
    for (size_t i = 0; i < json_array_size(bindings);) {
        json_t *b = json_array_get(bindings, i);
        if (binding_is(b, role, condition)) {
            json_t *members = json_object_get(b, "members");
            int k;
            while ((k = members_index(members, member)) >= 0) {
                json_array_remove(members, (size_t)k);
                changed = 1;
            }
            if (json_array_size(members) == 0) {
                json_array_remove(bindings, i);
                changed = 1;
                continue;
            }
        }
        i++;
    }
    return changed;
}

int gcp_iam_get(rctx_t *c, const char *api, const char *method, const char *url, const json_t *body,
                json_t **policy, gcp_resp_t *r) {
    *policy = NULL;
    if (gcp_call(GCP_PROV(c)->client, method, api, url, body, r, c->err) < 0) return -1;
    if (r->status == 404) return 0;
    if (!resp_ok(r)) {
        gcp_fail(c, r, method, url);
        return -1;
    }
    *policy = r->body ? json_incref(r->body) : json_object();
    return 0;
}

int gcp_iam_set(rctx_t *c, const char *api, const char *method, const char *url, const json_t *body,
                gcp_resp_t *r) {
    if (gcp_call(GCP_PROV(c)->client, method, api, url, body, r, c->err) < 0) return -1;
    if (!resp_ok(r)) {
        gcp_fail(c, r, method, url);
        return -1;
    }
    return 0;
}

/* ID: "<res> <role> <member>[ <condition title>]" (Terraform's form). */
typedef struct iam_id {
    char *res, *role, *member, *title;
} iam_id_t;

static int iam_parse(const char *id, iam_id_t *out) {
    memset(out, 0, sizeof *out);
    const char *a = strchr(id, ' ');
    const char *b = a ? strchr(a + 1, ' ') : NULL;
    if (!a || !b || a == id || b == a + 1) return -1;
    const char *e = strchr(b + 1, ' ');
    out->res = xstrndup(id, (size_t)(a - id));
    out->role = xstrndup(a + 1, (size_t)(b - a - 1));
    out->member = e ? xstrndup(b + 1, (size_t)(e - b - 1)) : xstrdup(b + 1);
    out->title = e && e[1] ? xstrdup(e + 1) : NULL;
    if (!*out->member) return -1;
    return 0;
}

static void iam_id_free(iam_id_t *x) {
    free(x->res);
    free(x->role);
    free(x->member);
    free(x->title);
}

char *gcp_iam_member_id_of(rctx_t *c, const json_t *desired) {
    const gcp_iam_kind_t *K = GCP_TYPE(c)->iam;
    const char *v = json_string_value(json_object_get(desired, K->res_field));
    const char *role = json_string_value(json_object_get(desired, "role"));
    const char *member = json_string_value(json_object_get(desired, "member"));
    if (!v || !role || !member) {
        perr_set(c->err, c->addr ? c->addr : "", "%s, role and member must be known strings", K->res_field);
        return NULL;
    }
    char *res = K->res_of(c, v);
    if (!res) return NULL;
    const char *title = json_string_value(jpath_get(desired, "condition.title"));
    char *id = title ? xasprintf("%s %s %s %s", res, role, member, title) : xasprintf("%s %s %s", res, role, member);
    free(res);
    return id;
}

static json_t *iam_cond(const json_t *desired, const iam_id_t *x) {
    json_t *c = desired ? json_object_get(desired, "condition") : NULL;
    if (c && !json_is_null(c)) return json_incref(c);
    if (x->title) return json_pack("{s:s}", "title", x->title);
    return NULL;
}

int gcp_iam_member_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    const gcp_iam_kind_t *K = GCP_TYPE(c)->iam;
    *live = NULL;
    iam_id_t x;
    if (iam_parse(id, &x) < 0) {
        iam_id_free(&x);
        perr_set(c->err, c->addr ? c->addr : "", "bad IAM member ID '%s': expected \"RESOURCE ROLE MEMBER [CONDITION_TITLE]\"", id);
        return -1;
    }
    json_t *policy = NULL, *cond = iam_cond(desired, &x);
    gcp_resp_t r = {0};
    int rc = K->get(c, x.res, &policy, &r);
    gcp_resp_free(&r);
    if (rc == 0 && policy && gcp_iam_has(policy, x.role, cond, x.member)) {
        /* Show the spec's spelling only where it names the same thing as
         * the ID, so a changed bucket/member in the spec still diffs. */
        const char *fv = desired ? json_string_value(json_object_get(desired, K->res_field)) : NULL;
        const char *dm = desired ? json_string_value(json_object_get(desired, "member")) : NULL;
        char *fres = fv ? K->res_of(c, fv) : NULL;
        if (!fres || strcmp(fres, x.res) != 0) fv = NULL;
        free(fres);
        perr_clear(c->err);
        if (dm && !member_eq(dm, x.member)) dm = NULL;
        *live = json_pack("{s:s,s:s,s:s}", K->res_field, fv ? fv : (strncmp(x.res, "b/", 2) == 0 ? x.res + 2 : x.res),
                          "role", x.role, "member", dm ? dm : x.member);
        /* Return the binding's full condition. */
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(policy, "bindings"), i, b) if (cond && binding_is(b, x.role, cond)) {
            json_object_set(*live, "condition", json_object_get(b, "condition"));
            break;
        }
        if (desired && json_object_get(desired, "project") && strcmp(K->res_field, "project") != 0)
            json_object_set(*live, "project", json_object_get(desired, "project"));
    }
    json_decref(policy);
    json_decref(cond);
    iam_id_free(&x);
    return rc;
}

/* Read-modify-write of the policy, retried on concurrent changes. */
static int iam_rmw(rctx_t *c, const iam_id_t *x, const json_t *cond, int add) {
    const gcp_iam_kind_t *K = GCP_TYPE(c)->iam;
    gcp_prov_t *P = GCP_PROV(c);
    int rc = -1;
    pthread_mutex_lock(&P->iam_lock);
    for (int attempt = 0; attempt < 6; attempt++) {
        json_t *policy = NULL;
        gcp_resp_t r = {0};
        int grc = K->get(c, x->res, &policy, &r);
        if (grc < 0 || !policy) {
            if (grc == 0 && !add)
                rc = 0; /* the resource is gone, and the grant with it */
            else if (grc == 0)
                perr_set(c->err, c->addr ? c->addr : "", "%s does not exist", x->res);
            gcp_resp_free(&r);
            json_decref(policy);
            break;
        }
        gcp_resp_free(&r);
        int changed = add ? gcp_iam_add(policy, x->role, cond, x->member)
                          : gcp_iam_remove(policy, x->role, cond, x->member);
        if (!changed) {
            json_decref(policy);
            rc = 0;
            break;
        }
        memset(&r, 0, sizeof r);
        int src = K->set(c, x->res, policy, &r);
        json_decref(policy);
        if (src == 0) {
            gcp_resp_free(&r);
            rc = 0;
            break;
        }
        long st = r.status;
        gcp_resp_free(&r);
        if ((st != 409 && st != 412) || attempt == 5) break;
        perr_clear(c->err);
        int base = P->emulated ? 50 : 1000;
        if (gcp_sleep(c, (base << attempt) + rand() % (base + 1)) < 0) break;
    }
    pthread_mutex_unlock(&P->iam_lock);
    return rc;
}

int gcp_iam_member_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    *id = NULL;
    *live = NULL;
    char *myid = gcp_iam_member_id_of(c, desired);
    if (!myid) return -1;
    iam_id_t x;
    iam_parse(myid, &x);
    json_t *cond = iam_cond(desired, &x);
    int rc = iam_rmw(c, &x, cond, 1);
    json_decref(cond);
    iam_id_free(&x);
    if (rc == 0) rc = gcp_iam_member_read(c, myid, desired, live);
    if (rc == 0 && !*live) {
        perr_set(c->err, c->addr, "granted %s but it is not in the policy", myid);
        rc = -1;
    }
    if (rc == 0)
        *id = myid;
    else
        free(myid);
    return rc;
}

int gcp_iam_member_remove(rctx_t *c, const char *id, const json_t *live) {
    iam_id_t x;
    if (iam_parse(id, &x) < 0) {
        iam_id_free(&x);
        perr_set(c->err, c->addr ? c->addr : "", "bad IAM member ID '%s'", id);
        return -1;
    }
    json_t *cond = iam_cond(live, &x);
    int rc = iam_rmw(c, &x, cond, 0);
    json_decref(cond);
    iam_id_free(&x);
    return rc;
}

int gcp_iam_member_import(rctx_t *c, const char *import_id, char **id, json_t **live) {
    *id = NULL;
    if (gcp_iam_member_read(c, import_id, NULL, live) < 0) return -1;
    if (!*live) {
        perr_set(c->err, c->addr ? c->addr : "", "cannot import '%s': the member is not in the policy", import_id);
        return -1;
    }
    *id = xstrdup(import_id);
    return 0;
}
