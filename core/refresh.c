/* refresh.c: phase 1 of a plan: read what exists.  Every resource in state
 * is read by its ID; every resource about to be created is looked up by the
 * ID it will have, so a name already taken outside plinth is reported at
 * plan time (with the import command) rather than half-way through apply.
 * Types that can list (read_many) are read in one batch per type; the rest
 * one GET each, all on the walk's worker threads. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/jpath.h"
#include "core/plan_int.h"
#include "core/ref.h"
#include "core/walk.h"

static void ctx_progress(void *ud, const char *addr, const char *msg) {
    engine_t *e = ud;
    engine_step_msg(e, addr, msg);
}

void plan_ctx(engine_t *e, plan_item_t *it, rctx_t *c, perr_t *err) {
    memset(c, 0, sizeof *c);
    c->type = it->type;
    c->addr = it->addr;
    c->err = err;
    c->cancel = e->stop;
    c->progress = ctx_progress;
    c->ud = e;
    c->prov = engine_provider(e, it->type, err);
}

typedef struct {
    engine_t *e;
    plan_t *p;
    size_t *idx; /* items to read */
    size_t n;
    /* batches: one per type with read_many */
    const rtype_t **btype;
    size_t nb;
    size_t nsingle;
    size_t *single;
    diag_t errs;
    pthread_mutex_t mu;
} rjob_t;

static void rerr(rjob_t *j, const perr_t *err, const char *addr) {
    pthread_mutex_lock(&j->mu);
    diag_add(&j->errs, addr, "%s", err->msg);
    pthread_mutex_unlock(&j->mu);
}

static void finish_live(plan_item_t *it, json_t *live) {
    if (live && it->type->normalize && it->desired) it->type->normalize(it->type, live, it->desired);
    it->live = live;
}

static int read_one(rjob_t *j, plan_item_t *it) {
    if (it->type->local_state) {
        /* Nothing to query: what the last apply recorded is live. */
        state_res_t *s = state_find(j->e->state, it->addr);
        json_t *attrs = state_attrs(s);
        finish_live(it, attrs && !s->pending ? json_deep_copy(attrs) : NULL);
        return 0;
    }
    perr_t err = {0};
    rctx_t c;
    plan_ctx(j->e, it, &c, &err);
    if (!c.prov) return rerr(j, &err, it->addr), -1;
    json_t *live = NULL;
    util_set_current_addr(it->addr);
    int rc = it->type->read(&c, it->id, it->desired, &live);
    util_set_current_addr(NULL);
    if (rc != 0) {
        if (!err.msg[0]) perr_set(&err, "", "read failed");
        rerr(j, &err, it->addr);
        return -1;
    }
    finish_live(it, live);
    return 0;
}

static int read_batch(rjob_t *j, const rtype_t *t) {
    size_t n = 0;
    for (size_t k = 0; k < j->n; k++)
        if (j->p->items[j->idx[k]].type == t) n++;
    const char **ids = xcalloc(n, sizeof *ids);
    const json_t **des = xcalloc(n, sizeof *des);
    json_t **lives = xcalloc(n, sizeof *lives);
    plan_item_t **its = xcalloc(n, sizeof *its);
    size_t m = 0;
    for (size_t k = 0; k < j->n; k++) {
        plan_item_t *it = &j->p->items[j->idx[k]];
        if (it->type != t) continue;
        its[m] = it;
        ids[m] = it->id;
        des[m] = it->desired;
        m++;
    }
    perr_t err = {0};
    rctx_t c;
    plan_ctx(j->e, its[0], &c, &err);
    int rc = 0;
    if (!c.prov) {
        rerr(j, &err, its[0]->addr);
        rc = -1;
    } else if (t->read_many(&c, n, ids, des, lives) == 0) {
        for (size_t k = 0; k < n; k++)
            finish_live(its[k], lives[k]);
    } else {
        /* The batch could not be done: read each one, in parallel, after
         * the batches (plan_refresh's second walk). */
        pthread_mutex_lock(&j->mu);
        for (size_t k = 0; k < n; k++)
            j->single[j->nsingle++] = (size_t)(its[k] - j->p->items);
        pthread_mutex_unlock(&j->mu);
    }
    free(ids);
    free(des);
    free(lives);
    free(its);
    return rc;
}

static int batch_step(void *ud, size_t step) {
    rjob_t *j = ud;
    return read_batch(j, j->btype[step]);
}

static int single_step(void *ud, size_t step) {
    rjob_t *j = ud;
    return read_one(j, &j->p->items[j->single[step]]);
}

/* Applies type defaults to a copy of the spec body. */
static int base_desired(engine_t *e, plan_item_t *it, diag_t *errs) {
    it->desired = json_deep_copy(it->spec->body);
    /* What only the provider knows (a Lua {} that meant [], the directory
     * files named in the body are read from). */
    const provider_def_t *p = rtype_provider_of(it->type->name);
    if (p && p->prepare) {
        char buf[sizeof it->spec->file];
        memcpy(buf, it->spec->file, sizeof buf);
        p->prepare(it->type, it->desired, dirname(buf));
    }
    if (!it->type->defaults) return 0;
    perr_t err = {0};
    void *prov = engine_provider(e, it->type, &err);
    if (!prov) {
        diag_add(errs, it->addr, "%s", err.msg);
        return -1;
    }
    it->type->defaults(it->type, prov, it->spec->name, it->desired);
    return 0;
}

/* The ID a new resource will have, if its body is resolved enough. */
static void planned_id(engine_t *e, plan_item_t *it) {
    if (!it->type->id_of) return;
    int unknown = 0;
    perr_t err = {0};
    json_t *r = ref_resolve(it->desired, engine_state_lookup, e, &unknown, &err);
    if (!r) return;
    rctx_t c;
    plan_ctx(e, it, &c, &err);
    if (c.prov && !unknown) it->id = it->type->id_of(&c, r);
    json_decref(r);
}

int plan_refresh(engine_t *e, plan_t *p) {
    rjob_t j = {.e = e, .p = p};
    pthread_mutex_init(&j.mu, NULL);
    j.idx = xcalloc(p->n + 1, sizeof *j.idx);
    bool *is_new = xcalloc(p->n + 1, sizeof *is_new);
    for (size_t i = 0; i < p->n; i++) {
        plan_item_t *it = &p->items[i];
        if (it->excluded) continue;
        if (!it->type) {
            diag_add(&j.errs, it->addr, "resource type of this state entry is not known to this plinth");
            continue;
        }
        if (it->spec && base_desired(e, it, &j.errs) != 0) continue;
        if (!it->spec) {
            /* To destroy: the provider still needs the options it was
             * applied with (force_destroy, deletion_policy, ...). */
            state_res_t *s = state_find(e->state, it->addr);
            if (s && s->applied) it->desired = json_deep_copy(s->applied);
            /* plinth destroy of a resource the spec still declares: state
             * holds its secrets hashed; take them from the spec. */
            const spec_res_t *r = e->spec ? spec_find(e->spec, it->addr) : NULL;
            if (r && it->desired && it->type->sensitive) {
                int unknown = 0;
                perr_t rerr_ = {0};
                json_t *b = ref_resolve(r->body, engine_state_lookup, e, &unknown, &rerr_);
                for (const char *const *sp = it->type->sensitive; b && *sp; sp++) {
                    json_t *v = strchr(*sp, '*') ? NULL : jpath_get(b, *sp);
                    if (v && !ref_contains(v) && jpath_get(it->desired, *sp))
                        jpath_set_new(it->desired, *sp, json_deep_copy(v));
                }
                json_decref(b);
            }
        }
        if (!it->id && it->spec) {
            planned_id(e, it);
            is_new[i] = it->id != NULL;
        }
        if (it->id) j.idx[j.n++] = i;
    }
    if (j.errs.n) goto done;
    /* Batches for types with read_many and more than one item. */
    j.btype = xcalloc(j.n + 1, sizeof *j.btype);
    j.single = xcalloc(j.n + 1, sizeof *j.single);
    /* Items per type, counted once: O(items x types), not O(items^2). */
    const rtype_t **types = xcalloc(j.n + 1, sizeof *types);
    size_t *counts = xcalloc(j.n + 1, sizeof *counts), ntypes = 0;
    size_t *type_of = xcalloc(j.n + 1, sizeof *type_of);
    for (size_t k = 0; k < j.n; k++) {
        const rtype_t *t = p->items[j.idx[k]].type;
        size_t ti;
        for (ti = 0; ti < ntypes && types[ti] != t; ti++) {
        }
        if (ti == ntypes) types[ntypes++] = t;
        counts[ti]++;
        type_of[k] = ti;
    }
    for (size_t k = 0; k < j.n; k++) {
        const rtype_t *t = p->items[j.idx[k]].type;
        if (t->read_many && !t->local_state && counts[type_of[k]] > 1) {
            size_t b;
            for (b = 0; b < j.nb && j.btype[b] != t; b++) {
            }
            if (b == j.nb) j.btype[j.nb++] = t;
        } else {
            j.single[j.nsingle++] = j.idx[k];
        }
    }
    free(types);
    free(counts);
    free(type_of);
    /* Batches first (one list call per type and scope), then single reads
     * for the rest, including items of batches that could not be done. */
    walk_t *w = walk_new(j.nb);
    walk_run(w, e->o.parallelism, batch_step, &j, e->stop);
    walk_free(w);
    w = walk_new(j.nsingle);
    walk_run(w, e->o.parallelism, single_step, &j, e->stop);
    walk_free(w);
    /* A new resource whose name is taken outside plinth. */
    for (size_t i = 0; i < p->n; i++) {
        plan_item_t *it = &p->items[i];
        if (!is_new[i] || !it->live || it->type->adopt_existing) continue;
        diag_add(&j.errs, it->addr,
                 "%s already exists but is not in plinth's state; adopt it with:\n"
                 "    plinth import %s %s",
                 it->id, it->addr, it->id);
    }
done:
    if (j.errs.n) engine_diags(e, &j.errs);
    int rc = j.errs.n ? -1 : 0;
    diag_free(&j.errs);
    free(j.idx);
    free(j.btype);
    free(j.single);
    free(is_new);
    pthread_mutex_destroy(&j.mu);
    return rc;
}
