/* validate.c: static checks of a spec (see validate.h).  Body checks
 * beyond the required fields belong to the type's provider (rtype.h:
 * validate; the gcp provider checks against the API schema). */
#include "core/validate.h"

#include <stdlib.h>
#include <string.h>

#include "core/ref.h"
#include "core/rtype.h"
#include "core/walk.h"

static int find_res(const spec_t *s, const char *addr) {
    for (size_t i = 0; i < s->nres; i++)
        if (strcmp(s->res[i].addr, addr) == 0) return (int)i;
    return -1;
}

static void check_body(const spec_res_t *r, const rtype_t *t, diag_t *d) {
    char where[300];
    snprintf(where, sizeof where, "%s:%d", r->file, r->line);
    if (!json_is_object(r->body)) {
        diag_add(d, where, "%s: the body must be a table of fields", r->addr);
        return;
    }
    for (const char *const *q = t->required; q && *q; q++)
        if (!json_object_get(r->body, *q)) diag_add(d, where, "%s: missing required field '%s'", r->addr, *q);
    const provider_def_t *p = rtype_provider_of(t->name);
    if (p && p->validate) p->validate(t, r->body, r->addr, where, d);
}

/* Each reference names an attribute its resource's type has (the
 * provider's attr_known hook): net.selfLinkk is an error here, not a
 * failure half-way through apply. */
static void check_attrs(const spec_t *s, const json_t *v, const char *who, const char *where, diag_t *d) {
    if (ref_is_ref(v)) {
        const char *addr = json_string_value(json_object_get(v, "addr"));
        const char *path = json_string_value(json_object_get(v, "path"));
        int j = addr ? find_res(s, addr) : -1;
        if (j < 0 || !path || !*path) return;
        const rtype_t *t = rtype_find(s->res[j].type);
        const provider_def_t *p = t ? rtype_provider_of(t->name) : NULL;
        if (!p || !p->attr_known) return;
        size_t n = strcspn(path, ".[");
        char *first = xstrndup(path, n);
        const char *closest = NULL;
        if (p->attr_known(t, first, &closest) == 0)
            diag_add(d, where, "%s: %s has no attribute '%s'%s%s%s", who, addr, first,
                     closest ? " (did you mean " : "", closest ? closest : "", closest ? "?)" : "");
        free(first);
        return;
    }
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) check_attrs(s, x, who, where, d);
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) check_attrs(s, x, who, where, d);
    }
}

static void check_refs(const spec_t *s, const spec_res_t *r, diag_t *d) {
    char where[300];
    snprintf(where, sizeof where, "%s:%d", r->file, r->line);
    strlist_t refs = {0};
    ref_collect(r->body, &refs);
    for (size_t i = 0; i < refs.n; i++)
        if (find_res(s, refs.v[i]) < 0)
            diag_add(d, where, "%s: reference to %s, which is not declared", r->addr, refs.v[i]);
    check_attrs(s, r->body, r->addr, where, d);
    for (size_t i = 0; i < r->depends_on.n; i++)
        if (find_res(s, r->depends_on.v[i]) < 0)
            diag_add(d, where, "%s: depends_on names %s, which is not declared", r->addr, r->depends_on.v[i]);
    strlist_free(&refs);
}

static void check_cycles(const spec_t *s, diag_t *d) {
    walk_t *w = walk_new(s->nres);
    for (size_t i = 0; i < s->nres; i++) {
        strlist_t deps = {0};
        ref_collect(s->res[i].body, &deps);
        for (size_t k = 0; k < s->res[i].depends_on.n; k++)
            strlist_add(&deps, s->res[i].depends_on.v[k]);
        for (size_t k = 0; k < deps.n; k++) {
            int j = find_res(s, deps.v[k]);
            if (j >= 0) walk_edge(w, (size_t)j, i);
        }
        strlist_free(&deps);
    }
    size_t *cyc = NULL, n = 0;
    if (walk_find_cycle(w, &cyc, &n)) {
        sbuf_t b = {0};
        for (size_t i = 0; i < n; i++)
            sbuf_addf(&b, "%s%s", i ? " -> " : "", s->res[cyc[i]].addr);
        const spec_res_t *r = &s->res[cyc[0]];
        char where[300];
        snprintf(where, sizeof where, "%s:%d", r->file, r->line);
        diag_add(d, where, "dependency cycle: %s", b.s);
        sbuf_free(&b);
        free(cyc);
    }
    walk_free(w);
}

int validate_spec(const spec_t *s, diag_t *d) {
    size_t before = d->n;
    for (size_t i = 0; i < s->nres; i++) {
        const spec_res_t *r = &s->res[i];
        const rtype_t *t = rtype_find(r->type);
        if (!t) {
            const char *c = rtype_closest(r->type);
            char where[300];
            snprintf(where, sizeof where, "%s:%d", r->file, r->line);
            diag_add(d, where, "unknown resource type %s%s%s%s", r->type, c ? " (did you mean " : "",
                     c ? c : "", c ? "?)" : "");
            continue;
        }
        check_body(r, t, d);
        check_refs(s, r, d);
    }
    for (size_t i = 0; i < s->noutputs; i++) {
        strlist_t refs = {0};
        ref_collect(s->outputs[i].value, &refs);
        for (size_t k = 0; k < refs.n; k++)
            if (find_res(s, refs.v[k]) < 0) {
                char where[300];
                snprintf(where, sizeof where, "%s:%d", s->outputs[i].file, s->outputs[i].line);
                diag_add(d, where, "output %s: reference to %s, which is not declared", s->outputs[i].name,
                         refs.v[k]);
            }
        char where[300], who[300];
        snprintf(where, sizeof where, "%s:%d", s->outputs[i].file, s->outputs[i].line);
        snprintf(who, sizeof who, "output %s", s->outputs[i].name);
        check_attrs(s, s->outputs[i].value, who, where, d);
        strlist_free(&refs);
    }
    if (d->n == before) check_cycles(s, d);
    return (int)(d->n - before);
}
