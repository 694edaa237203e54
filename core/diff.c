/* diff.c: desired vs live (vs last applied) for one resource.  See diff.h
 * for the equality rules.  Arrays are compared whole (projected onto the
 * fields the spec sets in each element), because Google APIs replace lists
 * wholesale and a per-element diff would invent moves. */
#include "core/diff.h"

#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "core/ref.h"

static int is_empty(const json_t *v) {
    if (!v || json_is_null(v) || json_is_false(v)) return 1;
    if (json_is_string(v)) return json_string_length(v) == 0;
    if (json_is_integer(v)) return json_integer_value(v) == 0;
    if (json_is_real(v)) return json_real_value(v) == 0.0;
    if (json_is_array(v)) return json_array_size(v) == 0;
    if (json_is_object(v)) return json_object_size(v) == 0;
    return 0;
}

/* "https://www.googleapis.com/compute/v1/projects/p/global/networks/n" and
 * "projects/p/global/networks/n" and "n": equal when one ends with "/" + the
 * other and the longer one looks like a resource path. */
static int path_suffix_equal(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la == lb) return strcmp(a, b) == 0;
    const char *lng = la > lb ? a : b, *sht = la > lb ? b : a;
    size_t ll = la > lb ? la : lb, ls = la > lb ? lb : la;
    if (ls == 0 || strchr(sht, ' ')) return 0;
    if (!strstr(lng, "projects/") && strncmp(lng, "https://", 8) != 0) return 0;
    return lng[ll - ls - 1] == '/' && strcmp(lng + ll - ls, sht) == 0;
}

static int scalar_equal(const json_t *d, const json_t *l) {
    if (json_equal((json_t *)d, (json_t *)l)) return 1;
    if (json_is_number(d) && json_is_number(l)) return json_number_value(d) == json_number_value(l);
    if (json_is_integer(d) && json_is_string(l)) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(d));
        return strcmp(buf, json_string_value(l)) == 0;
    }
    if (json_is_string(d) && json_is_integer(l)) return scalar_equal(l, d);
    if (json_is_string(d) && json_is_string(l))
        return path_suffix_equal(json_string_value(d), json_string_value(l));
    return 0;
}

int diff_equal(const json_t *d, const json_t *l) {
    if (!l || json_is_null(l)) return is_empty(d);
    if (json_is_object(d)) {
        if (!json_is_object(l)) return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)d, k, v) if (!diff_equal(v, json_object_get(l, k))) return 0;
        return 1;
    }
    if (json_is_array(d)) {
        if (!json_is_array(l) || json_array_size(d) != json_array_size(l)) return 0;
        for (size_t i = 0; i < json_array_size(d); i++)
            if (!diff_equal(json_array_get(d, i), json_array_get(l, i))) return 0;
        return 1;
    }
    return scalar_equal(d, l);
}

char *diff_hash_value(const json_t *v) {
    char *c = json_is_string(v) ? xstrdup(json_string_value(v)) : jpath_canonical(v);
    char hex[65];
    util_sha256_hex(c, strlen(c), hex);
    free(c);
    return xasprintf("sha256:%s", hex);
}

typedef struct {
    const rtype_t *t;
    const strlist_t *ignore;
    const json_t *live, *applied;
    diff_t *out;
    const json_t *desired;
} dctx_t;

static int ignored(dctx_t *x, const char *path) {
    if (x->t && rtype_path_in(x->t->ignore, path)) return 1;
    if (x->t && x->t->ignored && x->t->ignored(x->t, path)) return 1;
    for (size_t i = 0; x->ignore && i < x->ignore->n; i++)
        if (jpath_match(path, x->ignore->v[i])) return 1;
    return 0;
}

static void add_change(dctx_t *x, const char *path, const json_t *before, const json_t *after, int sensitive,
                       int unknown) {
    diff_t *d = x->out;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 8;
        d->c = xrealloc(d->c, d->cap * sizeof *d->c);
    }
    diff_change_t *c = &d->c[d->n++];
    memset(c, 0, sizeof *c);
    c->path = xstrdup(path);
    c->before = before ? json_deep_copy(before) : NULL;
    c->after = after ? json_deep_copy(after) : NULL;
    c->sensitive = sensitive;
    c->unknown = unknown;
    c->forces_replace = x->t && rtype_path_in(x->t->immutable, path);
    if (c->forces_replace) d->replace = 1;
}

/* A plinth-only option (rtype.options: force_destroy, deletion_policy...). */
static int is_option(dctx_t *x, const char *path) {
    return x->t && rtype_path_in(x->t->options, path);
}

static void cmp(dctx_t *x, const char *path, const json_t *d) {
    if (*path && ignored(x, path)) return;
    const json_t *l = *path ? jpath_get(x->live, path) : x->live;
    /* The API does not hold plinth-only fields: what counts is what the last
     * apply recorded (live, when nothing was recorded, e.g. after import). */
    if (*path && x->applied && is_option(x, path)) l = jpath_get(x->applied, path);
    if (*path && rtype_sensitive(x->t, x->desired, path)) {
        if (ref_is_deferred(d)) {
            add_change(x, path, NULL, d, 1, 1);
            return;
        }
        char *h = diff_hash_value(d);
        const json_t *a = x->applied ? jpath_get(x->applied, path) : NULL;
        if (!a || !json_is_string(a) || strcmp(json_string_value(a), h) != 0) add_change(x, path, a, d, 1, 0);
        free(h);
        return;
    }
    if (ref_contains(d) && !json_is_object(d)) {
        add_change(x, path, l, d, 0, 1);
        return;
    }
    if (ref_is_deferred(d)) {
        add_change(x, path, l, d, 0, 1);
        return;
    }
    if (json_is_object(d) && json_object_size(d) > 0) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)d, k, v) {
            char *p = jpath_join(path, k);
            cmp(x, p, v);
            free(p);
        }
        /* Keys the last apply set that the spec no longer sets. */
        const json_t *a = x->applied ? (*path ? jpath_get(x->applied, path) : x->applied) : NULL;
        if (json_is_object(a) && json_is_object(l)) {
            json_object_foreach((json_t *)a, k, v) {
                if (json_object_get(d, k) || !json_object_get(l, k)) continue;
                char *p = jpath_join(path, k);
                if (!ignored(x, p)) add_change(x, p, json_object_get(l, k), NULL, 0, 0);
                free(p);
            }
        }
        return;
    }
    if (!diff_equal(d, l)) add_change(x, path, l, d, 0, 0);
}

static int change_cmp(const void *a, const void *b) {
    return strcmp(((const diff_change_t *)a)->path, ((const diff_change_t *)b)->path);
}

void diff_resource(const rtype_t *t, const json_t *desired, const json_t *live, const json_t *applied,
                   const strlist_t *ignore, diff_t *out) {
    memset(out, 0, sizeof *out);
    dctx_t x = {t, ignore, live, applied, out, desired};
    cmp(&x, "", desired);
    /* Sorted by path: a Lua table's key order differs from run to run, and
     * a saved plan is compared with the plan made again at apply. */
    if (out->n > 1) qsort(out->c, out->n, sizeof *out->c, change_cmp);
}

static int add_leaf(void *ud, const char *path, json_t *leaf) {
    dctx_t *x = ud;
    int sens = rtype_sensitive(x->t, x->desired, path);
    /* Secrets inside the value (via.private_key_passphrase in via): masked. */
    json_t *shown = NULL;
    size_t pl = strlen(path);
    for (const char *const *p = x->t && !sens ? x->t->sensitive : NULL; p && *p; p++) {
        if (strncmp(*p, path, pl) != 0 || (*p)[pl] != '.' || strchr(*p, '*')) continue;
        const json_t *cur = jpath_get(leaf, *p + pl + 1);
        if (!cur || ref_is_deferred(cur)) continue;
        if (!shown) shown = json_deep_copy(leaf);
        jpath_set_new(shown, *p + pl + 1, json_string("(sensitive value)"));
    }
    add_change(x, path, NULL, shown ? shown : leaf, sens, ref_contains(leaf));
    json_decref(shown);
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void diff_all(const rtype_t *t, const json_t *desired, diff_t *out) {
    memset(out, 0, sizeof *out);
    dctx_t x = {t, NULL, NULL, NULL, out, desired};
    /* Sorted, so the plan reads the same every time. */
    size_t n = json_object_size(desired), i = 0;
    const char **keys = xcalloc(n + 1, sizeof *keys);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)desired, k, v) keys[i++] = k;
    qsort(keys, n, sizeof *keys, cmp_str);
    for (i = 0; i < n; i++)
        add_leaf(&x, keys[i], json_object_get(desired, keys[i]));
    free(keys);
    out->replace = 0;
    for (size_t i = 0; i < out->n; i++)
        out->c[i].forces_replace = 0;
}

void diff_free(diff_t *d) {
    for (size_t i = 0; i < d->n; i++) {
        free(d->c[i].path);
        json_decref(d->c[i].before);
        json_decref(d->c[i].after);
    }
    free(d->c);
    memset(d, 0, sizeof *d);
}

static void hash_paths(const char *const *paths, json_t *v) {
    for (const char *const *p = paths; p && *p; p++) {
        if (strchr(*p, '*')) continue; /* wildcard secret paths: hashed by providers */
        json_t *cur = jpath_get(v, *p);
        if (!cur || (json_is_string(cur) && strncmp(json_string_value(cur), "sha256:", 7) == 0)) continue;
        if (ref_contains(cur)) continue;
        char *h = diff_hash_value(cur);
        jpath_set_new(v, *p, json_string(h));
        free(h);
    }
}

void diff_hash_sensitive(const rtype_t *t, json_t *v) {
    if (!t) return;
    hash_paths(t->sensitive, v);
    if (t->sensitive_for) hash_paths(t->sensitive_for(v), v);
}
