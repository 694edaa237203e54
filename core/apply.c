/* apply.c: executing a plan.  Each item becomes up to two steps, a delete
 * and a create/update, ordered so that:
 *   - a resource is created/updated after what it depends on;
 *   - a resource is deleted after everything that depended on it (in
 *     state) has been deleted or updated away from it;
 *   - a replace deletes first, then creates (create_before_destroy: the
 *     other way round).
 * Before a create, state records the ID the resource will have with
 * pending="create": a run killed mid-create finds it again by that ID on
 * the next plan instead of creating a duplicate.  State is saved after
 * every step: a group commit to the state journal (state_commit), so that
 * the cost is linear in the steps; the whole state is written at the end. */
#include <stdlib.h>
#include <string.h>

#include "core/diff.h"
#include "core/engine.h"
#include "core/jpath.h"
#include "core/plan_int.h"
#include "core/ref.h"
#include "core/walk.h"

typedef struct {
    engine_t *e;
    plan_t *p;
    size_t *step_item; /* step -> item index */
    bool *step_del;    /* step -> is the delete half */
    size_t nsteps;
    long *up, *del;     /* item -> step index or -1 */
    pthread_mutex_t mu; /* guards items' live/act during the walk */
} ajob_t;

static void add_step(ajob_t *j, size_t item, bool del) {
    j->step_item[j->nsteps] = item;
    j->step_del[j->nsteps] = del;
    (del ? j->del : j->up)[item] = (long)j->nsteps;
    j->nsteps++;
}

static void build_edges(ajob_t *j, walk_t *w) {
    plan_t *p = j->p;
    for (size_t i = 0; i < p->n; i++) {
        plan_item_t *it = &p->items[i];
        if (j->up[i] >= 0)
            for (size_t k = 0; k < it->deps.n; k++) {
                plan_item_t *d = plan_find(p, it->deps.v[k]);
                if (d && j->up[d - p->items] >= 0)
                    walk_edge(w, (size_t)j->up[d - p->items], (size_t)j->up[i]);
            }
        if (j->up[i] >= 0 && j->del[i] >= 0) {
            if (it->cbd)
                walk_edge(w, (size_t)j->up[i], (size_t)j->del[i]);
            else
                walk_edge(w, (size_t)j->del[i], (size_t)j->up[i]);
        }
        /* x's delete waits for dependents (old or new) leaving it. */
        if (j->del[i] >= 0) {
            for (size_t y = 0; y < p->n; y++) {
                plan_item_t *yt = &p->items[y];
                if (!strlist_has(&yt->old_deps, it->addr) && !strlist_has(&yt->deps, it->addr)) continue;
                if (j->del[y] >= 0 && y != i)
                    walk_edge(w, (size_t)j->del[y], (size_t)j->del[i]);
                else if (j->up[y] >= 0 && y != i && yt->act == ACT_UPDATE)
                    walk_edge(w, (size_t)j->up[y], (size_t)j->del[i]);
            }
        }
    }
}

/* Lookup for apply: every dependency is finished, its live is current. */
static int apply_lookup(void *ud, const char *addr, const char *path, json_t **out, perr_t *e) {
    ajob_t *j = ud;
    plan_item_t *it = plan_find(j->p, addr);
    if (!it) {
        perr_set(e, "", "reference to unknown resource %s", addr);
        return -1;
    }
    pthread_mutex_lock(&j->mu);
    json_t *v = it->live ? (*path ? jpath_get(it->live, path) : it->live) : NULL;
    if (!v && it->desired && *path) v = jpath_get(it->desired, path);
    pthread_mutex_unlock(&j->mu);
    if (!v || ref_contains(v)) {
        perr_set(e, "", "%s has no attribute '%s' after apply", addr, path);
        return -1;
    }
    *out = v;
    return 1;
}

static void record(ajob_t *j, plan_item_t *it, const json_t *desired, const char *pending) {
    engine_t *e = j->e;
    pthread_mutex_lock(&e->state_mu);
    state_res_t *s = state_upsert(e->state, it->addr, it->type->name);
    free(s->id);
    s->id = it->id ? xstrdup(it->id) : NULL;
    free(s->pending);
    s->pending = pending ? xstrdup(pending) : NULL;
    if (!pending) {
        json_decref(s->resume);
        s->resume = NULL;
    }
    if (it->live) {
        json_decref(s->attrs);
        s->attrs = json_deep_copy(it->live);
        diff_hash_sensitive(it->type, s->attrs);
    }
    if (desired) {
        json_decref(s->applied);
        s->applied = json_deep_copy(desired);
        diff_hash_sensitive(it->type, s->applied);
        char *c = jpath_canonical(s->applied);
        util_sha256_hex(c, strlen(c), s->applied_hash);
        free(c);
    }
    strlist_free(&s->deps);
    for (size_t k = 0; k < it->deps.n; k++)
        strlist_add(&s->deps, it->deps.v[k]);
    pthread_mutex_unlock(&e->state_mu);
}

static void checkpoint(void *ud, const char *addr, const json_t *data) {
    engine_t *e = ud;
    pthread_mutex_lock(&e->state_mu);
    state_res_t *s = state_find(e->state, addr);
    if (s) {
        json_decref(s->resume);
        s->resume = json_deep_copy(data);
        state_touch(e->state, addr);
    }
    pthread_mutex_unlock(&e->state_mu);
    perr_t err = {0};
    if (engine_save_state(e, &err) != 0) engine_error(e, &err);
}

static int save(ajob_t *j, perr_t *err) {
    return engine_save_state(j->e, err);
}

/* create_before_destroy: before the new resource is created, the old one is
 * recorded as "<addr>#deposed" so that a run killed between the create and
 * the delete still knows it: the next plan finds it in state but not in the
 * spec, and deletes it. */
static void depose(ajob_t *j, plan_item_t *it) {
    char *daddr = xasprintf("%s#deposed", it->addr);
    engine_t *e = j->e;
    pthread_mutex_lock(&e->state_mu);
    state_res_t *cur = state_find(e->state, it->addr);
    json_t *applied = cur && cur->applied ? json_incref(cur->applied) : NULL;
    state_res_t *d = state_upsert(e->state, daddr, it->type->name);
    free(d->id);
    d->id = xstrdup(it->old_id);
    json_decref(d->attrs);
    d->attrs = it->old_live ? json_deep_copy(it->old_live) : NULL;
    if (d->attrs) diff_hash_sensitive(it->type, d->attrs);
    json_decref(d->applied);
    d->applied = applied;
    pthread_mutex_unlock(&e->state_mu);
    free(daddr);
    perr_t err = {0};
    if (engine_save_state(e, &err) != 0) engine_error(e, &err);
}

static int do_delete(ajob_t *j, plan_item_t *it, rctx_t *c, perr_t *err) {
    /* create_before_destroy: the new resource already exists and state
     * describes it; only the old one goes, by its own ID. */
    bool deposed = it->act == ACT_REPLACE && it->cbd;
    engine_step_start(j->e, it->addr, deposed ? "Destroying the replaced resource" : "Destroying");
    if (!deposed) {
        record(j, it, NULL, "delete");
        if (engine_save_pending(j->e, err) != 0) return -1;
    }
    int rc = it->type->remove(c, it->old_id ? it->old_id : it->id, it->old_live ? it->old_live : it->live);
    if (rc != 0) return -1;
    if (deposed) {
        char *daddr = xasprintf("%s#deposed", it->addr);
        pthread_mutex_lock(&j->e->state_mu);
        state_remove(j->e->state, daddr);
        pthread_mutex_unlock(&j->e->state_mu);
        free(daddr);
        engine_step_done(j->e, it->addr, "Destruction of the replaced resource complete", true, it->old_id);
        return save(j, err);
    }
    pthread_mutex_lock(&j->e->state_mu);
    state_remove(j->e->state, it->addr);
    pthread_mutex_unlock(&j->e->state_mu);
    pthread_mutex_lock(&j->mu);
    json_decref(it->live);
    it->live = NULL;
    pthread_mutex_unlock(&j->mu);
    engine_step_done(j->e, it->addr, "Destruction complete", true, NULL);
    return save(j, err);
}

/* Label maps of Google APIs are not authoritative (as in Google's
 * Terraform provider): an entry plinth never set (not in the spec, not in
 * the last applied body) was added by someone else and is kept.  The API
 * replaces such a map whole on update, so the body sent carries those
 * entries back; the plan shows no change for them and state's applied body
 * does not claim them.  Kubernetes labels need nothing: server-side apply
 * leaves other field managers' entries alone. */
static const char *const foreign_maps[] = {"labels", "userLabels", "resourceLabels", NULL};

static void keep_foreign_in(json_t *sent, const json_t *live, const json_t *applied) {
    const char *k;
    json_t *v;
    json_object_foreach(sent, k, v) {
        if (!json_is_object(v)) continue;
        const json_t *l = json_object_get(live, k), *a = applied ? json_object_get(applied, k) : NULL;
        bool map = false;
        for (size_t i = 0; foreign_maps[i]; i++)
            map |= strcmp(k, foreign_maps[i]) == 0;
        if (!map) {
            keep_foreign_in(v, l, a);
            continue;
        }
        const char *lk;
        json_t *lv;
        json_object_foreach((json_t *)l, lk, lv) {
            if (json_object_get(v, lk) || (a && json_object_get(a, lk))) continue;
            json_object_set(v, lk, lv);
        }
    }
}

/* NEW reference: desired with the foreign label entries of live. */
static json_t *keep_foreign_entries(const rtype_t *t, const json_t *desired, const json_t *live,
                                    const json_t *applied) {
    json_t *sent = json_deep_copy(desired);
    if (t->api && json_is_object(live)) keep_foreign_in(sent, live, applied);
    return sent;
}

static int do_up(ajob_t *j, plan_item_t *it, rctx_t *c, perr_t *err) {
    int unknown = 0;
    json_t *desired = ref_resolve(it->desired, apply_lookup, j, &unknown, err);
    if (!desired) return -1;
    if (unknown) {
        perr_set(err, "", "values still unknown after their dependencies were applied");
        json_decref(desired);
        return -1;
    }
    bool create = it->act == ACT_CREATE || it->act == ACT_REPLACE || !it->live;
    int rc;
    json_t *live = NULL;
    if (create && it->act == ACT_REPLACE && it->cbd && it->old_id) depose(j, it);
    if (create) {
        engine_step_start(j->e, it->addr, "Creating");
        if (it->type->id_of && !it->cbd) {
            char *id = it->type->id_of(c, desired);
            if (id) {
                free(it->id);
                it->id = id;
            }
        }
        record(j, it, NULL, "create");
        if (engine_save_pending(j->e, err) != 0) goto fail;
        char *id = NULL;
        rc = it->type->create(c, desired, &id, &live);
        if (rc != 0) goto fail;
        if (id) {
            free(it->id);
            it->id = id;
        }
    } else {
        diff_t d;
        pthread_mutex_lock(&j->e->state_mu);
        state_res_t *s = state_find(j->e->state, it->addr);
        json_t *applied = s && s->applied ? json_deep_copy(s->applied) : NULL;
        pthread_mutex_unlock(&j->e->state_mu);
        diff_resource(it->type, desired, it->live, applied, it->spec ? &it->spec->ignore_changes : NULL, &d);
        strlist_t changed = {0};
        bool api_change = false;
        for (size_t k = 0; k < d.n; k++) {
            strlist_add(&changed, d.c[k].path);
            /* plinth-only options change nothing at the API: recorded only */
            api_change |= !rtype_path_in(it->type->options, d.c[k].path);
        }
        diff_free(&d);
        if (!api_change) strlist_free(&changed);
        if (!changed.n) {
            /* Known-after-apply values turned out equal: nothing to do. */
            json_decref(applied);
            record(j, it, desired, NULL);
            json_decref(desired);
            return save(j, err);
        }
        engine_step_start(j->e, it->addr, "Modifying");
        json_t *sent = keep_foreign_entries(it->type, desired, it->live, applied);
        json_decref(applied);
        rc = it->type->update(c, it->id, sent, it->live, &changed, &live);
        json_decref(sent);
        strlist_free(&changed);
        if (rc != 0) goto fail;
    }
    if (live && it->type->normalize) it->type->normalize(it->type, live, desired);
    pthread_mutex_lock(&j->mu);
    json_decref(it->live);
    it->live = live;
    pthread_mutex_unlock(&j->mu);
    record(j, it, desired, NULL);
    json_decref(desired);
    engine_step_done(j->e, it->addr, create ? "Creation complete" : "Modifications complete", true,
                     it->id ? it->id : NULL);
    return save(j, err);
fail:
    json_decref(live);
    json_decref(desired);
    return -1;
}

/* Counts a finished step for the summary line (a replace counts once, at
 * its second half). */
static void count_done(ajob_t *j, plan_item_t *it, bool del) {
    pthread_mutex_lock(&j->mu);
    plan_t *p = j->p;
    switch (it->act) {
    case ACT_CREATE: p->done_create++; break;
    case ACT_UPDATE: p->done_update++; break;
    case ACT_DELETE: p->done_delete++; break;
    case ACT_REPLACE:
        if ((del && it->cbd) || (!del && !it->cbd)) p->done_replace++;
        break;
    default: break;
    }
    pthread_mutex_unlock(&j->mu);
}

static int astep(void *ud, size_t step) {
    ajob_t *j = ud;
    plan_item_t *it = &j->p->items[j->step_item[step]];
    perr_t err = {0};
    rctx_t c;
    plan_ctx(j->e, it, &c, &err);
    c.checkpoint = checkpoint;
    pthread_mutex_lock(&j->e->state_mu);
    state_res_t *s = state_find(j->e->state, it->addr);
    json_t *resume = s && s->resume ? json_deep_copy(s->resume) : NULL;
    pthread_mutex_unlock(&j->e->state_mu);
    c.resume = resume;
    int rc = -1;
    util_set_current_addr(it->addr); /* the HTTP log's "addr" */
    if (c.prov) rc = j->step_del[step] ? do_delete(j, it, &c, &err) : do_up(j, it, &c, &err);
    util_set_current_addr(NULL);
    if (rc == 0) count_done(j, it, j->step_del[step]);
    if (rc != 0) {
        if (!err.msg[0]) perr_set(&err, "", "failed");
        snprintf(err.where, sizeof err.where, "%s", it->addr);
        engine_step_done(j->e, it->addr, "", false, NULL);
        engine_error(j->e, &err);
    }
    json_decref(resume);
    return rc;
}

static void report_skipped(ajob_t *j, walk_t *w) {
    for (size_t s = 0; s < j->nsteps; s++) {
        walk_status_t st = walk_status(w, s);
        const char *addr = j->p->items[j->step_item[s]].addr;
        if (st == WALK_SKIPPED)
            engine_warn(j->e, "%s: skipped because a dependency failed", addr);
        else if (st == WALK_PENDING)
            engine_warn(j->e, "%s: not started (interrupted)", addr);
    }
}

int apply_run(engine_t *e, plan_t *p) {
    ajob_t j = {.e = e, .p = p};
    pthread_mutex_init(&j.mu, NULL);
    j.step_item = xcalloc(2 * p->n + 1, sizeof *j.step_item);
    j.step_del = xcalloc(2 * p->n + 1, sizeof *j.step_del);
    j.up = xmalloc((p->n + 1) * sizeof *j.up);
    j.del = xmalloc((p->n + 1) * sizeof *j.del);
    for (size_t i = 0; i < p->n; i++) {
        plan_item_t *it = &p->items[i];
        j.up[i] = j.del[i] = -1;
        if (it->excluded) continue;
        if (it->gone) {
            pthread_mutex_lock(&e->state_mu);
            state_remove(e->state, it->addr);
            pthread_mutex_unlock(&e->state_mu);
        }
        if (it->act == ACT_REPLACE) {
            /* the delete half must reach what exists now, whatever the
             * create half does to it->id and it->live */
            it->old_id = it->id ? xstrdup(it->id) : NULL;
            it->old_live = it->live ? json_incref(it->live) : NULL;
        }
        if (it->act == ACT_DELETE || it->act == ACT_REPLACE) add_step(&j, i, true);
        if (it->act == ACT_CREATE || it->act == ACT_UPDATE || it->act == ACT_REPLACE) add_step(&j, i, false);
        if (it->act == ACT_NOOP && it->live) {
            /* Keep state's attributes current (refresh). */
            pthread_mutex_lock(&e->state_mu);
            state_res_t *s = state_find(e->state, it->addr);
            if (s) {
                json_decref(s->attrs);
                s->attrs = json_deep_copy(it->live);
                diff_hash_sensitive(it->type, s->attrs);
                if (s->pending) {
                    free(s->pending);
                    s->pending = NULL;
                }
            } else {
                pthread_mutex_unlock(&e->state_mu);
                record(&j, it, it->desired, NULL);
                pthread_mutex_lock(&e->state_mu);
            }
            pthread_mutex_unlock(&e->state_mu);
        }
    }
    walk_t *w = walk_new(j.nsteps);
    build_edges(&j, w);
    e->saver = state_saver_new(e->backend, e->state, &e->state_mu);
    int rc = walk_run(w, e->o.parallelism, astep, &j, e->stop);
    state_saver_free(e->saver);
    e->saver = NULL; /* the save below is whole: it compacts the journal */
    report_skipped(&j, w);
    walk_free(w);
    perr_t err = {0};
    if (engine_save_state(e, &err) != 0) {
        engine_error(e, &err);
        rc = -1;
    }
    free(j.step_item);
    free(j.step_del);
    free(j.up);
    free(j.del);
    pthread_mutex_destroy(&j.mu);
    return rc;
}
