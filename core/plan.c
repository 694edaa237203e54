/* plan.c: refresh and diff.  Phase 1 reads every resource plinth knows
 * (state) and checks whether resources about to be created already exist
 * (concurrently, list-based where the type can).  Phase 2 walks resources
 * in dependency order, resolving references against what phase 1 read:
 * a reference to a resource being created or replaced stays "known after
 * apply". */
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/jpath.h"
#include "core/plan_int.h"
#include "core/ref.h"
#include "core/walk.h"

plan_item_t *plan_find(plan_t *p, const char *addr) {
    /* Items are sorted by address (plan_sort), so bsearch. */
    size_t lo = 0, hi = p->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(p->items[mid].addr, addr);
        if (c == 0) return &p->items[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

static int item_cmp(const void *a, const void *b) {
    return strcmp(((const plan_item_t *)a)->addr, ((const plan_item_t *)b)->addr);
}

void plan_free(plan_t *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        plan_item_t *it = &p->items[i];
        free(it->addr);
        free(it->id);
        free(it->old_id);
        json_decref(it->old_live);
        free(it->reason);
        json_decref(it->live);
        json_decref(it->desired);
        diff_free(&it->diff);
        strlist_free(&it->drift);
        strlist_free(&it->deps);
        strlist_free(&it->old_deps);
    }
    free(p->items);
    free(p);
}

int plan_has_changes(const plan_t *p) {
    return p->ncreate + p->nupdate + p->nreplace + p->ndelete > 0;
}

/* Lookup for ref_resolve at plan time. */
int plan_lookup(void *ud, const char *addr, const char *path, json_t **out, perr_t *e) {
    plan_t *p = ud;
    plan_item_t *it = plan_find(p, addr);
    if (!it || !it->spec) {
        perr_set(e, "", "reference to %s, which is not declared in the spec", addr);
        return -1;
    }
    if (it->act == ACT_CREATE || it->act == ACT_REPLACE || !it->live) return 0;
    json_t *v = *path ? jpath_get(it->live, path) : it->live;
    if (!v && it->desired) {
        v = jpath_get(it->desired, path);
        if (v && ref_contains(v)) return 0;
    }
    if (!v) {
        perr_set(e, "", "%s has no attribute '%s'", addr, path);
        return -1;
    }
    *out = v;
    return 1;
}

/* Collects the items: spec resources plus state-only resources. */
static void collect(engine_t *e, plan_t *p, const plan_opts_t *po) {
    size_t cap = e->spec ? e->spec->nres : 0;
    cap += e->state->nres;
    p->items = xcalloc(cap ? cap : 1, sizeof *p->items);
    for (size_t i = 0; e->spec && i < e->spec->nres; i++) {
        const spec_res_t *r = &e->spec->res[i];
        plan_item_t *it = &p->items[p->n++];
        it->addr = xstrdup(r->addr);
        it->type = rtype_find(r->type);
        it->spec = po->destroy ? NULL : r;
        it->cbd = r->create_before_destroy;
        ref_collect(r->body, &it->deps);
        for (size_t k = 0; k < r->depends_on.n; k++)
            if (!strlist_has(&it->deps, r->depends_on.v[k])) strlist_add(&it->deps, r->depends_on.v[k]);
        it->tainted = strlist_has(&e->o.replace, r->addr);
    }
    qsort(p->items, p->n, sizeof *p->items, item_cmp);
    size_t nspec = p->n;
    for (size_t i = 0; i < e->state->nres; i++) {
        state_res_t *s = &e->state->res[i];
        plan_item_t *it = NULL;
        /* bsearch among the spec items only */
        size_t lo = 0, hi = nspec;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            int c = strcmp(p->items[mid].addr, s->addr);
            if (c == 0) {
                it = &p->items[mid];
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (!it) {
            it = &p->items[p->n++];
            it->addr = xstrdup(s->addr);
            it->type = rtype_find(s->type);
        }
        if (s->id) it->id = xstrdup(s->id);
        it->was_pending = s->pending != NULL;
        for (size_t k = 0; k < s->deps.n; k++)
            strlist_add(&it->old_deps, s->deps.v[k]);
    }
    qsort(p->items, p->n, sizeof *p->items, item_cmp);
}

int plan_build(engine_t *e, const plan_opts_t *po, plan_t **out) {
    plan_t *p = xcalloc(1, sizeof *p);
    p->destroy = po->destroy;
    p->refresh_only = po->refresh_only;
    memcpy(p->lineage, e->state->lineage, sizeof p->lineage);
    p->serial = e->state->serial;
    collect(e, p, po);
    int rc = 0;
    if (plan_targets(e, p) != 0) rc = -1;
    if (rc == 0 && plan_refresh(e, p) != 0) rc = -1;
    if (rc == 0 && plan_decide(e, p) != 0) rc = -1;
    *out = p;
    return rc;
}
