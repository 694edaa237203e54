/* decide.c: phase 2 of a plan: in dependency order, resolve each body
 * against what is known, diff it with live, and choose the action.  Also
 * --target selection, dependency order, and the plan's JSON form. */
#include <stdlib.h>
#include <string.h>

#include "core/engine.h"
#include "core/jpath.h"
#include "core/plan_int.h"
#include "core/ref.h"

static int target_match(const strlist_t *targets, const char *addr) {
    for (size_t i = 0; i < targets->n; i++) {
        size_t n = strlen(targets->v[i]);
        /* the target itself, or anything under it: "module.x.", or the
         * objects of a manifest: k8s.manifest.argo["..."] */
        if (strncmp(addr, targets->v[i], n) == 0 && (addr[n] == '\0' || addr[n] == '.' || addr[n] == '['))
            return 1;
    }
    return 0;
}

/* A target that matches no address: an error naming the closest ones. */
static int check_targets(engine_t *e, plan_t *p) {
    diag_t errs = {0};
    for (size_t t = 0; t < e->o.targets.n; t++) {
        const char *want = e->o.targets.v[t];
        strlist_t one = {0};
        strlist_add(&one, want);
        bool hit = false;
        for (size_t i = 0; i < p->n && !hit; i++)
            hit = target_match(&one, p->items[i].addr);
        strlist_free(&one);
        if (hit) continue;
        /* the three nearest addresses by edit distance */
        size_t best[3] = {0}, bd[3] = {(size_t)-1, (size_t)-1, (size_t)-1};
        for (size_t i = 0; i < p->n; i++) {
            size_t d = util_edit_distance(want, p->items[i].addr);
            for (size_t k = 0; k < 3; k++) {
                if (d >= bd[k]) continue;
                for (size_t m = 2; m > k; m--)
                    bd[m] = bd[m - 1], best[m] = best[m - 1];
                bd[k] = d, best[k] = i;
                break;
            }
        }
        sbuf_t b = {0};
        for (size_t k = 0; k < 3 && bd[k] != (size_t)-1; k++)
            sbuf_addf(&b, "%s%s", k ? ", " : "", p->items[best[k]].addr);
        if (b.len)
            diag_add(&errs, want, "--target matches no resource; the closest addresses are: %s", b.s);
        else
            diag_add(&errs, want, "--target matches no resource: the spec and the state are empty");
        sbuf_free(&b);
    }
    if (errs.n) engine_diags(e, &errs);
    int rc = errs.n ? -1 : 0;
    diag_free(&errs);
    return rc;
}

/* Marks everything outside the targets (and what they need) as excluded. */
int plan_targets(engine_t *e, plan_t *p) {
    if (!e->o.targets.n) return 0;
    if (check_targets(e, p) != 0) return -1;
    bool *in = xcalloc(p->n + 1, sizeof *in);
    for (size_t i = 0; i < p->n; i++)
        in[i] = target_match(&e->o.targets, p->items[i].addr);
    /* Fixpoint: dependencies of included items (or dependents, destroying). */
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t i = 0; i < p->n; i++) {
            plan_item_t *it = &p->items[i];
            const strlist_t *deps = it->spec ? &it->deps : &it->old_deps;
            for (size_t k = 0; k < deps->n; k++) {
                plan_item_t *d = plan_find(p, deps->v[k]);
                if (!d) continue;
                size_t di = (size_t)(d - p->items);
                if (!p->destroy && in[i] && !in[di]) in[di] = changed = true;
                if (p->destroy && in[di] && !in[i]) in[i] = changed = true;
            }
        }
    }
    for (size_t i = 0; i < p->n; i++)
        p->items[i].excluded = !in[i];
    free(in);
    return 0;
}

int plan_order(plan_t *p, size_t **order, perr_t *err) {
    /* Kahn's algorithm over spec dependencies (state deps for orphans), with
     * the dependents of each item in one flat array: O(V + E). */
    size_t n = p->n, nedges = 0;
    size_t *indeg = xcalloc(n + 1, sizeof *indeg), *out = xmalloc((n + 1) * sizeof *out);
    size_t *start = xcalloc(n + 2, sizeof *start);
    for (size_t i = 0; i < n; i++) {
        plan_item_t *it = &p->items[i];
        const strlist_t *deps = it->spec ? &it->deps : &it->old_deps;
        for (size_t k = 0; k < deps->n; k++) {
            plan_item_t *d = plan_find(p, deps->v[k]);
            if (!d) continue;
            indeg[i]++;
            start[(size_t)(d - p->items) + 1]++;
            nedges++;
        }
    }
    for (size_t i = 0; i < n; i++)
        start[i + 1] += start[i];
    size_t *fill = xmalloc((n + 1) * sizeof *fill), *dependents = xmalloc((nedges + 1) * sizeof *dependents);
    memcpy(fill, start, (n + 1) * sizeof *fill);
    for (size_t i = 0; i < n; i++) {
        plan_item_t *it = &p->items[i];
        const strlist_t *deps = it->spec ? &it->deps : &it->old_deps;
        for (size_t k = 0; k < deps->n; k++) {
            plan_item_t *d = plan_find(p, deps->v[k]);
            if (d) dependents[fill[d - p->items]++] = i;
        }
    }
    size_t head = 0, tail = 0;
    for (size_t i = 0; i < n; i++)
        if (!indeg[i]) out[tail++] = i;
    while (head < tail) {
        size_t v = out[head++];
        for (size_t k = start[v]; k < start[v + 1]; k++)
            if (--indeg[dependents[k]] == 0) out[tail++] = dependents[k];
    }
    free(fill);
    free(dependents);
    free(start);
    if (tail < n) {
        /* What is left with dependencies unmet sits on or behind a cycle. */
        sbuf_t b = {0};
        for (size_t i = 0; i < n; i++)
            if (indeg[i]) sbuf_addf(&b, "%s%s", b.len ? " -> " : "", p->items[i].addr);
        perr_set(err, "", "dependency cycle between: %s", b.s);
        sbuf_free(&b);
        free(indeg);
        free(out);
        return -1;
    }
    free(indeg);
    *order = out;
    return 0;
}

static void set_reason(plan_item_t *it) {
    sbuf_t b = {0};
    if (it->tainted) sbuf_add(&b, "replacement requested with --replace");
    for (size_t i = 0; i < it->diff.n; i++) {
        if (!it->diff.c[i].forces_replace) continue;
        sbuf_addf(&b, "%s%s cannot be changed in place", b.len ? "; " : "", it->diff.c[i].path);
    }
    it->reason = sbuf_steal(&b);
}

/* Paths the spec sets whose live value moved away from what plinth last
 * recorded: a change made outside plinth. */
static void find_drift(engine_t *e, plan_item_t *it) {
    if (!it->diff.n || !it->live) return; /* nothing differs: no drift, no need to read attrs */
    state_res_t *s = state_find(e->state, it->addr);
    if (!s || !state_attrs(s)) return;
    for (size_t i = 0; i < it->diff.n; i++) {
        diff_change_t *c = &it->diff.c[i];
        if (c->sensitive || c->unknown || !c->after) continue;
        json_t *was = jpath_get(state_attrs(s), c->path);
        if (was && diff_equal(c->after, was)) strlist_add(&it->drift, c->path);
    }
}

/* --refresh-only: no action, only what changed outside plinth.  A resource
 * in state that no longer exists is dropped from state ("gone"); the paths
 * the spec sets whose live value moved away from the recorded one are drift. */
static int refresh_only_one(engine_t *e, plan_t *p, plan_item_t *it) {
    state_res_t *s = state_find(e->state, it->addr);
    if (!s) return 0;
    if (!it->live) {
        it->gone = s->id && !s->pending;
        return 0;
    }
    if (!it->spec || !state_attrs(s)) return 0;
    int unknown = 0;
    perr_t err = {0};
    json_t *r = ref_resolve(it->desired, plan_lookup, p, &unknown, &err);
    if (!r) return 0;
    diff_t d;
    diff_resource(it->type, r, it->live, s->applied, &it->spec->ignore_changes, &d);
    for (size_t i = 0; i < d.n; i++) {
        const diff_change_t *c = &d.c[i];
        if (c->sensitive || c->unknown) continue;
        json_t *was = jpath_get(state_attrs(s), c->path);
        if (!was || !diff_equal(was, c->before)) strlist_add(&it->drift, c->path);
    }
    diff_free(&d);
    json_decref(r);
    return 0;
}

/* A resource that lives on another (a Kubernetes object on its cluster, a
 * database on its instance) goes with it: when a dependency is replaced and
 * the ID the resource would have is no longer the one it has (or cannot be
 * known before apply), it is replaced too, in the same plan. */
static void identity_follows(engine_t *e, plan_t *p, plan_item_t *it) {
    const plan_item_t *by = NULL;
    for (size_t k = 0; k < it->deps.n && !by; k++) {
        const plan_item_t *d = plan_find(p, it->deps.v[k]);
        if (d && d->act == ACT_REPLACE && !d->excluded) by = d;
    }
    if (!by || !it->type->id_of || !it->id) return;
    perr_t err = {0};
    rctx_t c;
    plan_ctx(e, it, &c, &err);
    if (!c.prov) return;
    char *id = it->type->id_of(&c, it->desired);
    if (id && strcmp(id, it->id) == 0) {
        free(id);
        return;
    }
    free(id);
    it->act = ACT_REPLACE;
    free(it->reason);
    it->reason = xasprintf("it lives on %s, which is replaced", by->addr);
}

/* lifecycle.replace_triggered_by: replaced with (or when changing) what it
 * names.  Dependencies are decided first (the trigger is a dependency). */
static void triggered(plan_t *p, plan_item_t *it) {
    const spec_res_t *r = it->spec;
    for (size_t k = 0; k < r->rtb_addr.n && it->act != ACT_REPLACE; k++) {
        const plan_item_t *d = plan_find(p, r->rtb_addr.v[k]);
        const char *path = r->rtb_path.v[k];
        if (!d || d->excluded) continue;
        bool hit = d->act == ACT_REPLACE || d->act == ACT_CREATE;
        if (d->act == ACT_UPDATE && !*path) hit = true;
        for (size_t i = 0; d->act == ACT_UPDATE && *path && i < d->diff.n && !hit; i++) {
            const char *c = d->diff.c[i].path;
            size_t n = strlen(path), m = strlen(c);
            hit = !strncmp(c, path, n < m ? n : m) &&
                  (c[n < m ? n : m] == '\0' || c[n < m ? n : m] == '.' || path[n < m ? n : m] == '.' ||
                   path[n < m ? n : m] == '\0');
        }
        if (!hit) continue;
        it->act = ACT_REPLACE;
        free(it->reason);
        it->reason = xasprintf("lifecycle.replace_triggered_by %s%s%s", d->addr, *path ? "." : "", path);
    }
}

static int decide_one(engine_t *e, plan_t *p, plan_item_t *it, diag_t *errs) {
    if (p->refresh_only) return refresh_only_one(e, p, it);
    if (!it->spec) {
        if (!it->live) {
            it->gone = true;
            return 0;
        }
        it->act = ACT_DELETE;
        it->reason = xstrdup(p->destroy ? "destroy requested" : "no longer in the spec");
        return 0;
    }
    int unknown = 0;
    perr_t err = {0};
    json_t *r = ref_resolve(it->desired, plan_lookup, p, &unknown, &err);
    if (!r) {
        diag_add(errs, it->spec->file[0] ? "" : it->addr, "%s:%d: %s: %s", it->spec->file, it->spec->line,
                 it->addr, err.msg);
        return -1;
    }
    json_decref(it->desired);
    it->desired = r;
    state_res_t *s = state_find(e->state, it->addr);
    if (!it->live) {
        it->act = ACT_CREATE;
        if (s && s->id && !s->pending) it->reason = xstrdup("deleted outside plinth");
        diff_all(it->type, it->desired, &it->diff);
        return 0;
    }
    diff_resource(it->type, it->desired, it->live, s ? s->applied : NULL, &it->spec->ignore_changes,
                  &it->diff);
    find_drift(e, it);
    if (it->diff.replace || it->tainted) {
        it->act = ACT_REPLACE;
        set_reason(it);
    } else if (it->diff.n) {
        it->act = ACT_UPDATE;
    }
    if (it->act != ACT_REPLACE) identity_follows(e, p, it);
    if (it->act != ACT_REPLACE) triggered(p, it);
    if ((it->act == ACT_REPLACE) && it->spec->prevent_destroy) {
        diag_add(errs, "", "%s:%d: %s: the plan would replace it, but lifecycle.prevent_destroy is set (%s)",
                 it->spec->file, it->spec->line, it->addr, it->reason);
        return -1;
    }
    return 0;
}

int plan_decide(engine_t *e, plan_t *p) {
    size_t *order = NULL;
    perr_t err = {0};
    if (plan_order(p, &order, &err) != 0) {
        engine_error(e, &err);
        return -1;
    }
    diag_t errs = {0};
    for (size_t k = 0; k < p->n; k++) {
        plan_item_t *it = &p->items[order[k]];
        if (it->excluded) continue;
        decide_one(e, p, it, &errs);
        if (it->act == ACT_DELETE && it->spec == NULL && p->destroy) {
            const spec_res_t *r = e->spec ? spec_find(e->spec, it->addr) : NULL;
            if (r && r->prevent_destroy)
                diag_add(&errs, "", "%s:%d: %s: cannot destroy: lifecycle.prevent_destroy is set", r->file,
                         r->line, it->addr);
        }
        switch (it->act) {
        case ACT_CREATE: p->ncreate++; break;
        case ACT_UPDATE: p->nupdate++; break;
        case ACT_REPLACE: p->nreplace++; break;
        case ACT_DELETE: p->ndelete++; break;
        default: break;
        }
    }
    free(order);
    if (errs.n) engine_diags(e, &errs);
    int rc = errs.n ? -1 : 0;
    diag_free(&errs);
    return rc;
}

static const char *act_name(plan_act_t a) {
    switch (a) {
    case ACT_CREATE: return "create";
    case ACT_UPDATE: return "update";
    case ACT_REPLACE: return "replace";
    case ACT_DELETE: return "delete";
    default: return "no-op";
    }
}

/* A value for the JSON plan: every known leaf as it is, each deferred one
 * as "(known after apply)" (a block with one reference stays readable). */
static json_t *redacted(const json_t *v, bool sensitive) {
    if (!v) return json_null();
    if (sensitive) return json_string("(sensitive value)");
    if (ref_is_deferred(v)) return json_string("(known after apply)");
    if (!ref_contains(v)) return json_deep_copy(v);
    json_t *out = json_is_object(v) ? json_object() : json_array();
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) json_object_set_new(out, k, redacted(x, false));
    } else {
        json_array_foreach(v, i, x) json_array_append_new(out, redacted(x, false));
    }
    return out;
}

json_t *plan_to_json(const plan_t *p) {
    json_t *changes = json_array();
    for (size_t i = 0; i < p->n; i++) {
        const plan_item_t *it = &p->items[i];
        if (it->act == ACT_NOOP && !it->drift.n && !it->gone) continue;
        json_t *paths = json_array(), *before = json_object(), *after = json_object();
        for (size_t k = 0; k < it->diff.n; k++) {
            const diff_change_t *c = &it->diff.c[k];
            json_array_append_new(paths, json_string(c->path));
            json_object_set_new(before, c->path, redacted(c->before, c->sensitive));
            json_object_set_new(after, c->path, redacted(c->after, c->sensitive));
        }
        json_t *drift = json_array();
        for (size_t k = 0; k < it->drift.n; k++)
            json_array_append_new(drift, json_string(it->drift.v[k]));
        /* An update of plinth-only options alone: recorded, no API call. */
        bool state_only = it->act == ACT_UPDATE && it->diff.n > 0;
        for (size_t k = 0; k < it->diff.n && state_only; k++)
            state_only = it->type && rtype_path_in(it->type->options, it->diff.c[k].path);
        json_t *ch = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s?}", "address", it->addr, "type",
                               it->type ? it->type->name : "", "action", act_name(it->act), "changed_paths",
                               paths, "before", before, "after", after, "drift", drift, "reason",
                               it->gone ? "deleted outside plinth" : it->reason);
        if (state_only) json_object_set_new(ch, "state_only", json_true());
        json_array_append_new(changes, ch);
    }
    return json_pack("{s:i, s:o, s:{s:i, s:i, s:i, s:i}, s:b, s:b, s:b}", "format_version", 1, "changes",
                     changes, "summary", "create", p->ncreate, "update", p->nupdate, "replace", p->nreplace,
                     "destroy", p->ndelete, "changes_present", plan_has_changes(p), "refresh_only",
                     p->refresh_only, "destroy", p->destroy);
}
