/* ui_plan.c: the human form of one planned change, in Terraform's style.
 * Nested values are indented blocks with sorted keys ("name" first);
 * arrays of named objects (containers, env, ports, node pools) are diffed
 * by name, so one changed image is one line; values too large to read (a
 * CRD's schema) are summarised by size, hash and count; a value made only
 * of references to one resource (a Kubernetes object's cluster) is shown
 * as that resource's address.  No line is longer than UI_PLAN_WIDTH. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "core/ref.h"
#include "core/ui.h"

#define UI_PLAN_WIDTH 200
#define BIG_BYTES 2048 /* a value whose JSON is larger is summarised... */
#define BIG_DEPTH 3    /* ...from this nesting level on... */
#define BIG_KEYS 24    /* ...or when it has more members than this */
#define INLINE_MAX 100 /* a list of scalars this short stays on one line */
#define STR_MAX 150    /* a longer one-line string is summarised */
#define HEREDOC_LINES 40

typedef struct {
    sbuf_t *b;
    bool color;
} rd_t;

static size_t json_size(const json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n = s ? strlen(s) : 0;
    free(s);
    return n;
}

/* "(245.3 kB, sha256:1a2b3c4d, 12 fields)" */
static char *summary(const json_t *v) {
    char *h = diff_hash_value(v);
    size_t n = json_is_string(v) ? json_string_length(v) : json_size(v);
    char size[32];
    if (n >= 1024)
        snprintf(size, sizeof size, "%.1f kB", (double)n / 1024.0);
    else
        snprintf(size, sizeof size, "%zu bytes", n);
    char count[32] = "";
    if (json_is_object(v)) snprintf(count, sizeof count, ", %zu fields", json_object_size(v));
    if (json_is_array(v)) snprintf(count, sizeof count, ", %zu items", json_array_size(v));
    char *s = xasprintf("(%s, %.15s%s)", size, h, count);
    free(h);
    return s;
}

static bool is_scalar(const json_t *v) {
    return !v || ref_is_deferred(v) || !(json_is_object(v) || json_is_array(v));
}

/* One-line text of a scalar (or a summary); NULL for a string that is
 * better shown as a heredoc. */
static char *scalar(const json_t *v, bool sensitive) {
    if (sensitive) return xstrdup("(sensitive value)");
    if (!v) return xstrdup("null");
    if (ref_contains(v)) return xstrdup("(known after apply)");
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        if (strchr(s, '\n') || json_string_length(v) > STR_MAX) return NULL;
    }
    if (!is_scalar(v) && json_size(v) > BIG_BYTES) return summary(v);
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static void line(rd_t *r, int indent, const char *sign, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void line(rd_t *r, int indent, const char *sign, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sbuf_t t = {0};
    sbuf_vaddf(&t, fmt, ap);
    va_end(ap);
    sbuf_addf(r->b, "%*s%s%s%s\n", indent, "", sign, *sign ? " " : "", t.s ? t.s : "");
    sbuf_free(&t);
}

/* A multi-line or long string: a heredoc when it reads well, else a summary. */
static void string_value(rd_t *r, int indent, const char *sign, const char *key, const json_t *v) {
    const char *s = json_string_value(v);
    size_t lines = 1, longest = 0, cur = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\n') {
            lines++;
            cur = 0;
        } else if (++cur > longest) {
            longest = cur;
        }
    }
    if (lines > HEREDOC_LINES || longest + (size_t)indent + 8 > UI_PLAN_WIDTH || !strchr(s, '\n')) {
        char *sm = summary(v);
        line(r, indent, sign, "%s%s%s", key ? key : "", key ? " = " : "", sm);
        free(sm);
        return;
    }
    line(r, indent, sign, "%s%s<<-EOT", key ? key : "", key ? " = " : "");
    for (const char *p = s; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        sbuf_addf(r->b, "%*s%.*s\n", indent + 4, "", (int)n, p);
        p += n + (nl ? 1 : 0);
    }
    line(r, indent, "", "  EOT");
}

static int key_cmp(const void *a, const void *b) {
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    if (!strcmp(x, "name") || !strcmp(y, "name"))
        return strcmp(y, "name") == 0 ? (strcmp(x, "name") != 0) : -1;
    return strcmp(x, y);
}

/* Keys of an object, sorted with "name" first (borrowed strings). */
static const char **sorted_keys(const json_t *o, size_t *n) {
    *n = json_object_size(o);
    const char **k = xcalloc(*n + 1, sizeof *k);
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)o, key, v) k[i++] = key;
    qsort(k, *n, sizeof *k, key_cmp);
    return k;
}

static void value(rd_t *r, int indent, const char *sign, const char *key, const json_t *v);

static void elements(rd_t *r, int indent, const char *sign, const json_t *v) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) value(r, indent, sign, NULL, x);
}

/* A list of short scalars, shown on one line. */
static bool flat_list(const json_t *v) {
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) {
        if (!is_scalar(x) || ref_contains(x)) return false;
        if (json_is_string(x) && (strchr(json_string_value(x), '\n') || json_string_length(x) > STR_MAX))
            return false;
    }
    return true;
}

/* "sign key = value" (key NULL: an array element), as a block when nested. */
static void value(rd_t *r, int indent, const char *sign, const char *key, const json_t *v) {
    const char *k = key ? key : "", *eq = key ? " = " : "", *comma = key ? "" : ",";
    if (is_scalar(v)) {
        char *s = scalar(v, false);
        if (!s) return string_value(r, indent, sign, key, v);
        if ((size_t)indent + strlen(k) + strlen(s) + 8 > UI_PLAN_WIDTH) {
            free(s);
            s = summary(v);
        }
        line(r, indent, sign, "%s%s%s%s", k, eq, s, comma);
        free(s);
        return;
    }
    bool obj = json_is_object(v);
    size_t n = obj ? json_object_size(v) : json_array_size(v);
    if (n == 0) {
        line(r, indent, sign, "%s%s%s%s", k, eq, obj ? "{}" : "[]", comma);
        return;
    }
    /* Large: the outer levels are shown (a CRD's names, scope, versions),
     * deeper ones summarised (its schema). */
    if (!ref_contains(v) && json_size(v) > BIG_BYTES && (indent >= 6 + 4 * BIG_DEPTH || n > BIG_KEYS)) {
        char *s = summary(v);
        line(r, indent, sign, "%s%s%s %s %s%s", k, eq, obj ? "{" : "[", s, obj ? "}" : "]", comma);
        free(s);
        return;
    }
    if (!obj) {
        char *s = flat_list(v) ? json_dumps(v, JSON_COMPACT) : NULL;
        if (s && strlen(s) <= INLINE_MAX) {
            line(r, indent, sign, "%s%s%s%s", k, eq, s, comma);
            free(s);
            return;
        }
        free(s);
        line(r, indent, sign, "%s%s[", k, eq);
        elements(r, indent + 4, sign, v);
        line(r, indent, "", "  ]%s", comma);
        return;
    }
    line(r, indent, sign, "%s%s{", k, eq);
    size_t nk;
    const char **keys = sorted_keys(v, &nk);
    for (size_t i = 0; i < nk; i++)
        value(r, indent + 4, sign, keys[i], json_object_get(v, keys[i]));
    free(keys);
    line(r, indent, "", "  }%s", comma);
}

/* ---- changes ---------------------------------------------------------- */

static const char *name_of(const json_t *v) {
    return json_string_value(json_object_get(v, "name"));
}

/* Every element an object with a distinct string "name". */
static bool named_list(const json_t *v) {
    if (!json_is_array(v) || !json_array_size(v)) return false;
    size_t i, j;
    json_t *x, *y;
    json_array_foreach(v, i, x) {
        if (!name_of(x)) return false;
        json_array_foreach(v, j, y) if (j < i && !strcmp(name_of(x), name_of(y))) return false;
    }
    return true;
}

static const json_t *by_name(const json_t *list, const char *name) {
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x) if (name_of(x) && !strcmp(name_of(x), name)) return x;
    return NULL;
}

static void change(rd_t *r, int indent, const char *key, const json_t *before, const json_t *after);

/* The keys after sets that differ from before (before's extra keys are
 * the server's and not compared, as in the diff). */
static void object_change(rd_t *r, int indent, const json_t *before, const json_t *after) {
    size_t nk;
    const char **keys = sorted_keys(after, &nk);
    for (size_t i = 0; i < nk; i++) {
        const json_t *a = json_object_get(after, keys[i]), *b = json_object_get(before, keys[i]);
        if (!ref_contains(a) && diff_equal(a, b)) continue;
        change(r, indent, keys[i], b, a);
    }
    free(keys);
}

/* Named lists match elements by name: changed, added, removed. */
static void named_change(rd_t *r, int indent, const json_t *before, const json_t *after) {
    size_t i;
    json_t *a, *b;
    json_array_foreach(after, i, a) {
        const json_t *old = json_is_array(before) ? by_name(before, name_of(a)) : NULL;
        if (!old) {
            value(r, indent, "+", NULL, a);
        } else if (ref_contains(a) || !diff_equal(a, old)) {
            line(r, indent, "~", "{");
            char *nm = json_dumps(json_object_get(a, "name"), JSON_ENCODE_ANY);
            line(r, indent + 4, "", "  name = %s", nm);
            free(nm);
            object_change(r, indent + 4, old, a);
            line(r, indent, "", "  },");
        }
    }
    json_array_foreach(before, i, b) if (!by_name(after, name_of(b))) value(r, indent, "-", NULL, b);
}

/* "~ key = before -> after", or a block of the parts that differ. */
static void change(rd_t *r, int indent, const char *key, const json_t *before, const json_t *after) {
    if (!after) return value(r, indent, "-", key, before);
    if ((!before || json_is_null(before)) && !is_scalar(after)) return value(r, indent, "+", key, after);
    if (!before) before = json_null(); /* "~ key = null -> true" (json_null is a static) */
    if (json_is_object(after) && json_is_object(before) && !ref_is_deferred(after)) {
        line(r, indent, "~", "%s = {", key);
        object_change(r, indent + 4, before, after);
        line(r, indent, "", "  }");
        return;
    }
    if (named_list(after) && (named_list(before) || !json_array_size(before))) {
        line(r, indent, "~", "%s = [", key);
        named_change(r, indent + 4, before, after);
        line(r, indent, "", "  ]");
        return;
    }
    char *b =
        is_scalar(before) || (json_is_array(before) && flat_list(before)) ? scalar(before, false) : NULL;
    char *a = is_scalar(after) || (json_is_array(after) && flat_list(after)) ? scalar(after, false) : NULL;
    if (a && b && (size_t)indent + strlen(key) + strlen(a) + strlen(b) + 12 <= UI_PLAN_WIDTH) {
        line(r, indent, "~", "%s = %s -> %s", key, b, a);
    } else {
        value(r, indent, "-", key, before);
        value(r, indent, "+", key, after);
    }
    free(a);
    free(b);
}

/* ---- one item ---------------------------------------------------------- */

/* Every leaf of v is a reference or a concatenation. */
static bool all_deferred(const json_t *v) {
    if (ref_is_deferred(v)) return true;
    if (!json_is_object(v) && !json_is_array(v)) return false;
    size_t n = json_is_object(v) ? json_object_size(v) : json_array_size(v);
    if (!n) return false;
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) if (!all_deferred(x)) return false;
    } else {
        json_array_foreach(v, i, x) if (!all_deferred(x)) return false;
    }
    return true;
}

/* The one resource a value refers to when it is made only of references to
 * it (a Kubernetes object's cluster = { endpoint = gke.endpoint, ... }). */
static char *only_ref_to(const json_t *v) {
    if (!v || !ref_contains(v)) return NULL;
    if (ref_is_ref(v)) { /* the whole resource: cluster = gke */
        const char *path = json_string_value(json_object_get(v, "path"));
        return path && !*path ? xstrdup(json_string_value(json_object_get(v, "addr"))) : NULL;
    }
    if (ref_is_deferred(v) || !all_deferred(v)) return NULL;
    strlist_t addrs = {0};
    ref_collect(v, &addrs);
    char *a = addrs.n == 1 ? xstrdup(addrs.v[0]) : NULL;
    strlist_free(&addrs);
    return a;
}

void ui_plan_item_text(sbuf_t *b, const plan_item_t *it, bool color) {
    rd_t r = {b, color};
    for (size_t i = 0; i < it->diff.n; i++) {
        const diff_change_t *c = &it->diff.c[i];
        const json_t *spec_v = it->spec ? jpath_get(it->spec->body, c->path) : NULL;
        char *to = json_is_object(spec_v) ? only_ref_to(spec_v) : NULL;
        if (to) {
            line(&r, 6, it->act == ACT_CREATE ? "+" : "~", "%s = %s", c->path, to);
            free(to);
            continue;
        }
        if (c->sensitive) {
            if (it->act == ACT_CREATE || !c->before)
                line(&r, 6, "+", "%s = (sensitive value)", c->path);
            else
                line(&r, 6, "~", "%s = (sensitive value)", c->path);
        } else if (it->act == ACT_CREATE) {
            value(&r, 6, "+", c->path, c->after);
        } else {
            size_t mark = b->len;
            change(&r, 6, c->path, c->before, c->after);
            if (c->forces_replace && b->len > mark && b->s[b->len - 1] == '\n') {
                b->len--;
                b->s[b->len] = '\0';
                sbuf_add(b, color ? " \033[31m# forces replacement\033[0m\n" : " # forces replacement\n");
            }
        }
    }
}
