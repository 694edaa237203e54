/* state.c: the state model (resources plinth manages), its JSON form and
 * validation, the addr index, and state_load/state_save over a backend.
 * Lock records are in state_lock.c, the journal in state_journal.c.
 * The backends themselves live in backend_local.c and backend_gcs.c. */
#include "state.h"
#include "state_int.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "core/jsoncheck.h"

/* Open-addressing table of slots holding res[] indexes (-1 empty).  Every
 * function that changes res[] leaves the table exact: an upsert adds one
 * slot (a rebuild at doubling sizes), remove/rename/sort rebuild it whole
 * (O(n)).  So state_find only reads, and concurrent finds are safe while
 * nothing modifies the state (the engine's refresh workers rely on that).
 * A table found out of step (res[] changed behind our back) is rebuilt. */
struct state_index {
    int32_t *slot;
    size_t cap; /* power of two, > 2 * n */
    size_t n;   /* entries indexed */
};

static uint64_t hash_str(const char *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void index_put(struct state_index *ix, const char *addr, int32_t i) {
    size_t m = ix->cap - 1, p = hash_str(addr) & m;
    while (ix->slot[p] >= 0)
        p = (p + 1) & m;
    ix->slot[p] = i;
}

static void index_rebuild(const state_t *s) {
    struct state_index *ix = s->index;
    size_t cap = 64;
    while (cap < 2 * s->nres + 2)
        cap *= 2;
    if (cap != ix->cap) {
        free(ix->slot);
        ix->slot = xmalloc(cap * sizeof *ix->slot);
        ix->cap = cap;
    }
    memset(ix->slot, 0xff, cap * sizeof *ix->slot);
    for (size_t i = 0; i < s->nres; i++)
        if (s->res[i].addr) index_put(ix, s->res[i].addr, (int32_t)i);
    ix->n = s->nres; /* entries without addr are counted, never found */
}

/* Slot index in res[] of addr, or -1. */
static long find_index(const state_t *s, const char *addr) {
    struct state_index *ix = s->index;
    if (!ix) {
        for (size_t i = 0; i < s->nres; i++)
            if (s->res[i].addr && strcmp(s->res[i].addr, addr) == 0) return (long)i;
        return -1;
    }
    if (ix->n != s->nres || !ix->slot) index_rebuild(s); /* only after misuse */
    size_t m = ix->cap - 1, p = hash_str(addr) & m;
    for (int32_t i; (i = ix->slot[p]) >= 0; p = (p + 1) & m) {
        if ((size_t)i >= s->nres || !s->res[i].addr) { /* res[] changed behind our back */
            index_rebuild(s);
            return find_index(s, addr);
        }
        if (strcmp(s->res[i].addr, addr) == 0) return i;
    }
    return -1;
}

static void lineage_new(char out[37]) {
    char hex[33];
    util_random_hex(hex, 16);
    hex[12] = '4'; /* version 4 */
    int nib = hex[16] <= '9' ? hex[16] - '0' : hex[16] - 'a' + 10;
    hex[16] = "89ab"[nib & 3]; /* RFC 4122 variant */
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static state_t *state_alloc(void) {
    state_t *s = xcalloc(1, sizeof *s);
    s->format = STATE_FORMAT;
    s->outputs = json_object();
    s->index = xcalloc(1, sizeof *s->index);
    index_rebuild(s);
    return s;
}

state_t *state_new(void) {
    state_t *s = state_alloc();
    lineage_new(s->lineage);
    return s;
}

static void res_clear(state_res_t *r) {
    free(r->addr);
    free(r->type);
    free(r->id);
    json_decref(r->attrs);
    free(r->attrs_raw);
    json_decref(r->applied);
    strlist_free(&r->deps);
    free(r->pending);
    json_decref(r->resume);
    free(r->line);
    memset(r, 0, sizeof *r);
}

void state_free(state_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nres; i++)
        res_clear(&s->res[i]);
    free(s->res);
    json_decref(s->outputs);
    strlist_free(&s->changed);
    json_decref(s->env);
    if (s->index) free(s->index->slot);
    free(s->index);
    free(s);
}

state_res_t *state_find(const state_t *s, const char *addr) {
    if (!s || !addr) return NULL;
    long i = find_index(s, addr);
    return i < 0 ? NULL : &s->res[i];
}

/* Appends an entry without checking for duplicates; returns it. */
static state_res_t *res_append(state_t *s, const char *addr) {
    if (s->nres == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->res = xrealloc(s->res, s->cap * sizeof *s->res);
    }
    state_res_t *r = &s->res[s->nres];
    memset(r, 0, sizeof *r);
    r->addr = xstrdup(addr);
    s->nres++;
    struct state_index *ix = s->index;
    if (ix) {
        if (!ix->slot || ix->n != s->nres - 1 || 2 * s->nres + 2 > ix->cap)
            index_rebuild(s); /* at doubling sizes: amortised O(1) */
        else {
            index_put(ix, addr, (int32_t)(s->nres - 1));
            ix->n++;
        }
    }
    return r;
}

static void mark(state_t *s, state_res_t *r, const char *addr) {
    if (r && r->dirty) return;
    if (r) {
        r->dirty = true;
        free(r->line);
        r->line = NULL;
    }
    strlist_add(&s->changed, addr);
}

void state_touch(state_t *s, const char *addr) {
    mark(s, state_find(s, addr), addr);
}

void state_clear_changes(state_t *s) {
    for (size_t i = 0; i < s->nres; i++)
        s->res[i].dirty = false;
    strlist_free(&s->changed);
}

state_res_t *state_upsert(state_t *s, const char *addr, const char *type) {
    state_res_t *r = state_find(s, addr);
    if (!r) r = res_append(s, addr);
    mark(s, r, addr);
    if (type && (!r->type || strcmp(r->type, type) != 0)) {
        free(r->type);
        r->type = xstrdup(type);
    }
    return r;
}

int state_remove(state_t *s, const char *addr) {
    long i = find_index(s, addr);
    if (i < 0) return -1;
    mark(s, NULL, addr);
    res_clear(&s->res[i]);
    memmove(&s->res[i], &s->res[i + 1], (s->nres - (size_t)i - 1) * sizeof *s->res);
    s->nres--;
    if (s->index) index_rebuild(s); /* keeps res[] order; costs one O(n) rebuild */
    return 0;
}

int state_rename(state_t *s, const char *from, const char *to, perr_t *e) {
    long i = find_index(s, from);
    if (i < 0) {
        perr_set(e, from, "no resource %s in state", from);
        return -1;
    }
    if (strcmp(from, to) == 0) return 0;
    if (find_index(s, to) >= 0) {
        perr_set(e, to, "cannot move %s to %s: %s already exists in state", from, to, to);
        return -1;
    }
    mark(s, NULL, from);
    free(s->res[i].addr);
    s->res[i].addr = xstrdup(to);
    s->res[i].dirty = false;
    mark(s, &s->res[i], to);
    if (s->index) index_rebuild(s);
    return 0;
}

static int res_cmp(const void *a, const void *b) {
    return strcmp(((const state_res_t *)a)->addr, ((const state_res_t *)b)->addr);
}

void state_sort(state_t *s) {
    if (s->nres > 1) qsort(s->res, s->nres, sizeof *s->res, res_cmp);
    if (s->index) index_rebuild(s);
}

/* ---- JSON ---- */

static int res_ptr_cmp(const void *a, const void *b) {
    return strcmp((*(state_res_t *const *)a)->addr, (*(state_res_t *const *)b)->addr);
}

static json_t *str_or_null(const char *s) {
    return s ? json_string(s) : json_null();
}

/* json_string() refuses invalid UTF-8; an addr or id never is, but a
 * dump must not lose an entry silently, so fall back to a lossy copy. */
json_t *state_jstr(const char *s) {
    json_t *j = str_or_null(s);
    if (j) return j;
    char *c = xstrdup(s);
    for (char *p = c; *p; p++)
        if ((unsigned char)*p >= 0x80) *p = '?';
    j = json_string(c);
    free(c);
    return j;
}

json_t *state_res_json(const state_res_t *r) {
    json_t *o = json_object();
    json_object_set_new(o, "addr", state_jstr(r->addr));
    json_object_set_new(o, "type", r->type ? state_jstr(r->type) : json_null());
    json_object_set_new(o, "id", r->id ? state_jstr(r->id) : json_null());
    json_t *attrs = state_attrs((state_res_t *)r);
    json_object_set(o, "attrs", attrs ? attrs : json_null());
    json_object_set(o, "applied", r->applied ? r->applied : json_null());
    json_object_set_new(o, "applied_hash", json_string(r->applied_hash));
    json_t *deps = json_array();
    for (size_t d = 0; d < r->deps.n; d++)
        json_array_append_new(deps, state_jstr(r->deps.v[d]));
    json_object_set_new(o, "deps", deps);
    json_object_set_new(o, "pending", r->pending ? state_jstr(r->pending) : json_null());
    json_object_set(o, "resume", r->resume ? r->resume : json_null());
    return o;
}

char *state_dump(const state_t *s) {
    json_t *root = json_object();
    json_object_set_new(root, "format", json_integer(STATE_FORMAT));
    json_object_set_new(root, "lineage", json_string(s->lineage));
    json_object_set_new(root, "serial", json_integer(s->serial));
    json_object_set_new(root, "plinth_version", json_string(PLINTH_VERSION));
    if (s->outputs)
        json_object_set(root, "outputs", s->outputs);
    else
        json_object_set_new(root, "outputs", json_object());
    if (s->env) json_object_set(root, "environment", s->env);

    state_res_t **order = xmalloc((s->nres ? s->nres : 1) * sizeof *order);
    for (size_t i = 0; i < s->nres; i++)
        order[i] = &s->res[i];
    qsort(order, s->nres, sizeof *order, res_ptr_cmp);
    /* Entries a journal commit serialised and nobody changed since are
     * reused as written: a whole write after a journal costs a copy. */
    char **lines = xcalloc(s->nres + 1, sizeof *lines);
    for (size_t i = 0; i < s->nres; i++) {
        const state_res_t *r = order[i];
        if (r->line && !r->dirty) {
            lines[i] = xstrdup(r->line);
        } else {
            json_t *o = state_res_json(r);
            lines[i] = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
            json_decref(o);
        }
    }
    free(order);
    /* Layout: the header indented, then one resource per line, compact.
     * A state of a thousand resources is then a third smaller and parses
     * a third faster than fully indented JSON, and a diff of two states
     * still shows one line per changed resource. */
    char *head = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(root);
    sbuf_t b = {0};
    if (!head) head = xstrdup("{}"); /* only on out-of-memory inside jansson */
    size_t hl = strlen(head);
    while (hl && head[hl - 1] != '}')
        hl--;
    if (hl) hl--; /* drop the closing brace */
    while (hl && (head[hl - 1] == '\n' || head[hl - 1] == ' '))
        hl--;
    sbuf_addn(&b, head, hl);
    sbuf_add(&b, ",\n  \"resources\": [");
    for (size_t i = 0; i < s->nres; i++) {
        sbuf_add(&b, i ? ",\n    " : "\n    ");
        sbuf_add(&b, lines[i] ? lines[i] : "null");
        free(lines[i]);
    }
    free(lines);
    sbuf_add(&b, s->nres ? "\n  ]\n}\n" : "]\n}\n");
    free(head);
    return sbuf_steal(&b);
}

static const char *jtype_name(const json_t *j) {
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "?";
}

int state_bad(perr_t *e, const char *where, const char *path, const char *want, const json_t *got) {
    if (got)
        perr_set(e, where, "%s: expected %s, found %s", path, want, jtype_name(got));
    else
        perr_set(e, where, "%s: missing (expected %s)", path, want);
    return -1;
}

static bool valid_pending(const char *p) {
    return !strcmp(p, "create") || !strcmp(p, "update") || !strcmp(p, "delete");
}

static bool is_hex64(const char *h) {
    if (strlen(h) != 64) return false;
    for (; *h; h++)
        if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f'))) return false;
    return true;
}

static int parse_res(json_t *o, size_t i, const char *where, state_res_t *r, perr_t *e);

int state_res_parse(json_t *o, size_t i, const char *where, state_res_t *r, perr_t *e) {
    return parse_res(o, i, where, r, e);
}

void state_res_clear(state_res_t *r) {
    res_clear(r);
}

/* Validates resources[i] and fills r (r->addr first, so res_clear works). */
static int parse_res(json_t *o, size_t i, const char *where, state_res_t *r, perr_t *e) {
    char path[128];
    json_t *v;
#define P(key) (snprintf(path, sizeof path, "resources[%zu].%s", i, key), path)
    if (!json_is_object(o)) {
        snprintf(path, sizeof path, "resources[%zu]", i);
        return state_bad(e, where, path, "an object", o);
    }
    v = json_object_get(o, "addr");
    if (!json_is_string(v)) return state_bad(e, where, P("addr"), "a string", v);
    if (!json_string_length(v) || strlen(json_string_value(v)) != json_string_length(v)) {
        perr_set(e, where, "resources[%zu].addr: must be a non-empty string without NUL", i);
        return -1;
    }
    r->addr = xstrdup(json_string_value(v));
    v = json_object_get(o, "type");
    if (!json_is_string(v)) return state_bad(e, where, P("type"), "a string", v);
    r->type = xstrdup(json_string_value(v));
    v = json_object_get(o, "id");
    if (v && !json_is_null(v) && !json_is_string(v))
        return state_bad(e, where, P("id"), "a string or null", v);
    if (json_is_string(v)) r->id = xstrdup(json_string_value(v));
    v = json_object_get(o, "attrs");
    if (v && !json_is_null(v) && !json_is_object(v))
        return state_bad(e, where, P("attrs"), "an object or null", v);
    if (json_is_object(v)) r->attrs = json_incref(v);
    v = json_object_get(o, "applied");
    if (v && !json_is_null(v) && !json_is_object(v))
        return state_bad(e, where, P("applied"), "an object or null", v);
    if (json_is_object(v)) r->applied = json_incref(v);
    v = json_object_get(o, "applied_hash");
    if (v && !json_is_null(v) && !json_is_string(v))
        return state_bad(e, where, P("applied_hash"), "a string", v);
    if (json_is_string(v) && json_string_length(v)) {
        if (!is_hex64(json_string_value(v))) {
            perr_set(e, where, "resources[%zu].applied_hash: expected 64 lowercase hex characters", i);
            return -1;
        }
        memcpy(r->applied_hash, json_string_value(v), 65);
    }
    v = json_object_get(o, "deps");
    if (v && !json_is_null(v) && !json_is_array(v))
        return state_bad(e, where, P("deps"), "an array of strings", v);
    size_t k;
    json_t *d;
    json_array_foreach(v, k, d) {
        if (!json_is_string(d)) {
            snprintf(path, sizeof path, "resources[%zu].deps[%zu]", i, k);
            return state_bad(e, where, path, "a string", d);
        }
        strlist_add(&r->deps, json_string_value(d));
    }
    v = json_object_get(o, "pending");
    if (v && !json_is_null(v)) {
        if (!json_is_string(v))
            return state_bad(e, where, P("pending"), "null, \"create\", \"update\" or \"delete\"", v);
        if (!valid_pending(json_string_value(v))) {
            perr_set(e, where,
                     "resources[%zu].pending: expected null, \"create\", \"update\" or \"delete\", found "
                     "\"%.64s\"",
                     i, json_string_value(v));
            return -1;
        }
        r->pending = xstrdup(json_string_value(v));
    }
    v = json_object_get(o, "resume");
    if (v && !json_is_null(v)) r->resume = json_incref(v);
#undef P
    return 0;
}

static int state_parse_whole(const char *data, size_t len, const char *where, state_t **out, perr_t *e);

/* ---- lazy attributes ----
 * state_parse cuts each resources[i].attrs object out of the text before
 * handing the rest to jansson; state_attrs parses one when it is asked for.
 * The scanner only follows structure (strings, nesting); anything it does
 * not expect makes it give up, and the document is then parsed whole. */

static pthread_mutex_t attrs_mu = PTHREAD_MUTEX_INITIALIZER;

/* The texts kept in attrs_raw passed jsoncheck at load time, which accepts
 * exactly what this parse accepts, so it cannot fail here.  Were it ever to
 * (a bug), the raw text is kept and state_save refuses to write the state
 * rather than storing the attributes as null. */
json_t *state_attrs(state_res_t *r) {
    if (!r) return NULL;
    pthread_mutex_lock(&attrs_mu);
    if (!r->attrs && r->attrs_raw) {
        r->attrs = json_loads(r->attrs_raw, JSON_REJECT_DUPLICATES, NULL);
        if (r->attrs) {
            free(r->attrs_raw);
            r->attrs_raw = NULL;
        }
    }
    json_t *a = r->attrs;
    pthread_mutex_unlock(&attrs_mu);
    return a;
}

typedef struct {
    size_t off, len; /* len 0: no attrs object in this element */
} span_t;

static size_t sc_ws(const char *t, size_t i, size_t n) {
    while (i < n && (t[i] == ' ' || t[i] == '\n' || t[i] == '\t' || t[i] == '\r'))
        i++;
    return i;
}

/* Index past the string starting at t[i] == '"', or n. */
static size_t sc_str(const char *t, size_t i, size_t n) {
    for (i++; i < n && t[i] != '"'; i++)
        if (t[i] == '\\') i++;
    return i < n ? i + 1 : n;
}

static size_t sc_value(const char *t, size_t i, size_t n) {
    i = sc_ws(t, i, n);
    if (i >= n) return n;
    if (t[i] == '"') return sc_str(t, i, n);
    if (t[i] != '{' && t[i] != '[') {
        while (i < n && t[i] != ',' && t[i] != '}' && t[i] != ']' && t[i] != ' ' && t[i] != '\n')
            i++;
        return i;
    }
    int depth = 0;
    for (; i < n; i++) {
        if (t[i] == '"')
            i = sc_str(t, i, n) - 1;
        else if (t[i] == '{' || t[i] == '[')
            depth++;
        else if ((t[i] == '}' || t[i] == ']') && --depth == 0)
            return i + 1;
    }
    return n;
}

static int sc_key(const char *t, size_t *i, size_t n, const char **k, size_t *kl) {
    *i = sc_ws(t, *i, n);
    if (*i >= n || t[*i] != '"') return -1;
    size_t end = sc_str(t, *i, n);
    *k = t + *i + 1;
    *kl = end - *i - 2;
    *i = sc_ws(t, end, n);
    if (*i >= n || t[*i] != ':') return -1;
    (*i)++;
    *i = sc_ws(t, *i, n);
    return 0;
}

/* Spans of resources[i].attrs objects, one per element; -1 on surprise. */
static int find_attr_spans(const char *t, size_t n, span_t **out, size_t *count) {
    size_t i = sc_ws(t, 0, n), cap = 0;
    *out = NULL;
    *count = 0;
    if (i >= n || t[i] != '{') return -1;
    i++;
    for (;;) {
        const char *k;
        size_t kl;
        i = sc_ws(t, i, n);
        if (i < n && t[i] == '}') return 0;
        if (sc_key(t, &i, n, &k, &kl) != 0) return -1;
        if (kl == 9 && memcmp(k, "resources", 9) == 0 && i < n && t[i] == '[') {
            i++;
            for (;;) {
                i = sc_ws(t, i, n);
                if (i < n && t[i] == ']') {
                    i++;
                    break;
                }
                if (i >= n || t[i] != '{') return -1;
                span_t sp = {0, 0};
                i++;
                for (;;) {
                    i = sc_ws(t, i, n);
                    if (i < n && t[i] == '}') {
                        i++;
                        break;
                    }
                    const char *rk;
                    size_t rkl;
                    if (sc_key(t, &i, n, &rk, &rkl) != 0) return -1;
                    size_t end = sc_value(t, i, n);
                    if (rkl == 5 && memcmp(rk, "attrs", 5) == 0 && t[i] == '{') sp = (span_t){i, end - i};
                    i = sc_ws(t, end, n);
                    if (i < n && t[i] == ',') i++;
                }
                if (*count == cap) {
                    cap = cap ? cap * 2 : 64;
                    *out = xrealloc(*out, cap * sizeof **out);
                }
                (*out)[(*count)++] = sp;
                i = sc_ws(t, i, n);
                if (i < n && t[i] == ',') i++;
            }
        } else {
            i = sc_value(t, i, n);
        }
        i = sc_ws(t, i, n);
        if (i < n && t[i] == ',') i++;
        if (i >= n) return -1;
    }
}

/* Every cut-out attrs text must parse completely: a syntax error found
 * only when the attributes are first used would read as "no attributes"
 * and the next save would overwrite the corrupt state. */
static int check_attr_spans(const char *data, const span_t *spans, size_t nspans, const char *where,
                            perr_t *e) {
    for (size_t k = 0; k < nspans; k++) {
        if (!spans[k].len) continue;
        jsoncheck_err_t je;
        if (jsoncheck(data + spans[k].off, spans[k].len, &je) == 0) continue;
        size_t at = spans[k].off + je.offset;
        int line = 1, col = 1;
        for (size_t i = 0; i < at; i++) {
            if (data[i] == '\n')
                line++, col = 1;
            else
                col++;
        }
        perr_set(e, where ? where : "state", "resources[%zu].attrs: not valid JSON at line %d column %d: %s",
                 k, line, col, je.text);
        return -1;
    }
    return 0;
}

int state_parse(const char *data, size_t len, const char *where, state_t **out, perr_t *e) {
    span_t *spans = NULL;
    size_t nspans = 0;
    if (data && len && find_attr_spans(data, len, &spans, &nspans) == 0 && nspans) {
        /* Parse the text with every attrs object replaced by {}; keep the
         * cut-out texts for state_attrs. */
        sbuf_t b = {0};
        size_t at = 0;
        for (size_t k = 0; k < nspans; k++) {
            if (!spans[k].len) continue;
            sbuf_addn(&b, data + at, spans[k].off - at);
            sbuf_add(&b, "{}");
            at = spans[k].off + spans[k].len;
        }
        sbuf_addn(&b, data + at, len - at);
        int rc = state_parse_whole(b.s, b.len, where, out, e);
        if (rc == 0 && (*out)->nres == nspans && check_attr_spans(data, spans, nspans, where, e) != 0) {
            state_free(*out);
            *out = NULL;
            rc = -1;
        } else if (rc == 0 && (*out)->nres == nspans) {
            /* resources were sorted by address after parsing: match by the
             * document order recorded in parse order. */
            for (size_t k = 0; k < (*out)->nres; k++) {
                state_res_t *r = &(*out)->res[k];
                size_t idx = r->doc_index;
                if (idx < nspans && spans[idx].len) {
                    json_decref(r->attrs);
                    r->attrs = NULL;
                    r->attrs_raw = xstrndup(data + spans[idx].off, spans[idx].len);
                }
            }
        } else if (rc == 0) {
            /* The scanner and jansson disagree: parse the original whole. */
            state_free(*out);
            *out = NULL;
            rc = state_parse_whole(data, len, where, out, e);
        }
        sbuf_free(&b);
        free(spans);
        return rc;
    }
    free(spans);
    return state_parse_whole(data, len, where, out, e);
}

static int state_parse_whole(const char *data, size_t len, const char *where, state_t **out, perr_t *e) {
    *out = NULL;
    if (!where) where = "state";
    if (!data || len == 0) {
        perr_set(e, where, "state is empty (0 bytes): not valid JSON");
        return -1;
    }
    json_error_t je;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        perr_set(e, where, "not valid JSON at line %d column %d: %s", je.line, je.column, je.text);
        return -1;
    }
    state_t *s = NULL;
    json_t *v;
    if (!json_is_object(root)) {
        state_bad(e, where, "top level", "an object", root);
        goto fail;
    }
    v = json_object_get(root, "format");
    if (!json_is_integer(v)) {
        state_bad(e, where, "format", "an integer", v);
        goto fail;
    }
    json_int_t fmt = json_integer_value(v);
    if (fmt > STATE_FORMAT) {
        perr_set(e, where,
                 "state format %lld is newer than this plinth (%s) understands (format %d): "
                 "upgrade plinth to use this state",
                 (long long)fmt, PLINTH_VERSION, STATE_FORMAT);
        goto fail;
    }
    if (fmt < 1) {
        perr_set(e, where, "format: %lld is not a valid state format", (long long)fmt);
        goto fail;
    }
    v = json_object_get(root, "plinth_version");
    if (v && !json_is_string(v)) {
        state_bad(e, where, "plinth_version", "a string", v);
        goto fail;
    }
    s = state_alloc();
    s->format = (int)fmt;
    v = json_object_get(root, "lineage");
    if (!json_is_string(v)) {
        state_bad(e, where, "lineage", "a string", v);
        goto fail;
    }
    if (json_string_length(v) == 0 || json_string_length(v) > 36) {
        perr_set(e, where, "lineage: expected a UUID, found \"%.64s\"", json_string_value(v));
        goto fail;
    }
    snprintf(s->lineage, sizeof s->lineage, "%s", json_string_value(v));
    v = json_object_get(root, "serial");
    if (!json_is_integer(v)) {
        state_bad(e, where, "serial", "an integer", v);
        goto fail;
    }
    if (json_integer_value(v) < 0) {
        perr_set(e, where, "serial: must not be negative");
        goto fail;
    }
    if (json_integer_value(v) == INT64_MAX) {
        perr_set(e, where,
                 "serial: %lld is the largest serial there is; the next save could not "
                 "increment it",
                 (long long)json_integer_value(v));
        goto fail;
    }
    s->serial = json_integer_value(v);
    v = json_object_get(root, "outputs");
    if (v && !json_is_null(v) && !json_is_object(v)) {
        state_bad(e, where, "outputs", "an object", v);
        goto fail;
    }
    if (json_is_object(v)) {
        json_decref(s->outputs);
        s->outputs = json_incref(v);
    }
    v = json_object_get(root, "environment");
    if (v && !json_is_null(v) && !json_is_object(v)) {
        state_bad(e, where, "environment", "an object", v);
        goto fail;
    }
    if (json_is_object(v)) s->env = json_incref(v);
    v = json_object_get(root, "resources");
    if (v && !json_is_null(v) && !json_is_array(v)) {
        state_bad(e, where, "resources", "an array", v);
        goto fail;
    }
    size_t n = json_array_size(v);
    if (n) {
        s->cap = n;
        s->res = xcalloc(n, sizeof *s->res);
    }
    for (size_t i = 0; i < n; i++) {
        state_res_t *r = &s->res[i];
        s->nres++; /* counted at once so state_free releases a half-parsed entry */
        if (parse_res(json_array_get(v, i), i, where, r, e) != 0) goto fail;
        r->doc_index = i;
    }
    state_sort(s);
    for (size_t i = 1; i < s->nres; i++) {
        if (strcmp(s->res[i - 1].addr, s->res[i].addr) == 0) {
            perr_set(e, where, "resources: duplicate address %s", s->res[i].addr);
            goto fail;
        }
    }
    json_decref(root);
    *out = s;
    return 0;
fail:
    state_free(s);
    json_decref(root);
    return -1;
}

/* ---- load / save ---- */

/* Reads the lineage from stored bytes; -1 when they are not a state (a
 * corrupt state is never overwritten, even by a save without a load). */
static int stored_lineage(const char *data, size_t len, char out[37]) {
    out[0] = '\0';
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    const char *l = json_string_value(json_object_get(root, "lineage"));
    if (l) snprintf(out, 37, "%s", l);
    json_decref(root);
    return l ? 0 : -1;
}

/* The journal a killed run left behind, on top of the state it follows. */
static int replay_journal(backend_t *b, state_t *s, perr_t *e) {
    b->journal_bytes = 0;
    b->journal_compact = false;
    if (!b->journal_read) return 0;
    char *data = NULL;
    size_t len = 0;
    if (b->journal_read(b, &data, &len, e) != 0) return -1;
    if (!data) return 0;
    char *where = xasprintf("%s (journal)", b->describe);
    int rc = state_journal_replay(s, data, len, where, e);
    free(where);
    free(data);
    if (rc != 0) {
        perr_wrap(e, "state journal is corrupt and was left untouched (fix or remove it)");
        return -1;
    }
    state_clear_changes(s);
    b->journal_compact = true; /* its tail may be torn: never append to it */
    return 0;
}

int state_load(backend_t *b, state_t **out, perr_t *e) {
    char *data = NULL;
    size_t len = 0;
    *out = NULL;
    if (b->read(b, &data, &len, e) != 0) return -1;
    if (!data) {
        b->lineage[0] = '\0';
        b->lineage_known = true;
        *out = state_new();
        return 0;
    }
    int rc = state_parse(data, len, b->describe, out, e);
    free(data);
    if (rc != 0) {
        perr_wrap(e, "state is corrupt and was left untouched (fix or restore it, e.g. from a backup)");
        return -1;
    }
    snprintf(b->lineage, sizeof b->lineage, "%s", (*out)->lineage);
    b->lineage_known = true;
    if (replay_journal(b, *out, e) != 0) {
        state_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* Guards the promise that a saved state can always be read back. */
static int check_saveable(const state_t *s, perr_t *e) {
    for (size_t i = 0; i < s->nres; i++) {
        const state_res_t *r = &s->res[i];
        if (!r->addr || !*r->addr) {
            perr_set(e, "", "internal error: resource entry %zu has no address", i);
            return -1;
        }
        const char *bad_field = !r->type                                    ? "no type"
                                : r->attrs && !json_is_object(r->attrs)     ? "attrs that are not an object"
                                : r->applied && !json_is_object(r->applied) ? "applied that is not an object"
                                : r->pending && !valid_pending(r->pending)  ? "an invalid pending value"
                                : r->applied_hash[0] && !is_hex64(r->applied_hash) ? "an invalid applied_hash"
                                                                                   : NULL;
        if (bad_field) {
            perr_set(e, r->addr, "internal error: state entry has %s; state not saved", bad_field);
            return -1;
        }
        if (r->attrs_raw && !state_attrs((state_res_t *)r)) {
            perr_set(e, r->addr, "internal error: the stored attributes do not parse; state not saved");
            return -1;
        }
    }
    if (s->outputs && !json_is_object(s->outputs)) {
        perr_set(e, "", "internal error: outputs is not an object; state not saved");
        return -1;
    }
    return 0;
}

int state_save_check(backend_t *b, state_t *s, perr_t *e) {
    if (check_saveable(s, e) != 0) return -1;
    if (!b->lineage_known) {
        char *data = NULL;
        size_t len = 0;
        if (b->read(b, &data, &len, e) != 0) return -1;
        int bad_stored = data && stored_lineage(data, len, b->lineage) != 0;
        if (!data) b->lineage[0] = '\0';
        free(data);
        if (bad_stored) {
            perr_set(e, b->describe,
                     "refusing to overwrite the stored state: it is not a valid state "
                     "(fix or restore it first)");
            return -1;
        }
        b->lineage_known = true;
    }
    if (b->lineage[0] && strcmp(b->lineage, s->lineage) != 0) {
        perr_set(e, b->describe,
                 "refusing to overwrite: the stored state has lineage %s but this state has "
                 "lineage %s (it belongs to a different environment or was re-created)",
                 b->lineage, s->lineage);
        return -1;
    }
    if (s->serial == INT64_MAX) {
        perr_set(e, b->describe, "state serial %lld cannot be incremented; state not saved",
                 (long long)s->serial);
        return -1;
    }
    return 0;
}

void state_saved_whole(backend_t *b, const state_t *s) {
    snprintf(b->lineage, sizeof b->lineage, "%s", s->lineage);
    perr_t e2 = {0};
    /* A journal left behind (clear failed) follows an older serial and is
     * never replayed; the next commit replaces it. */
    if (b->journal_clear) b->journal_clear(b, &e2);
    b->journal_bytes = 0;
    b->journal_compact = false;
}

int state_save(backend_t *b, state_t *s, perr_t *e) {
    if (state_save_check(b, s, e) != 0) return -1;
    s->serial++;
    char *data = state_dump(s);
    int rc = b->write(b, data, strlen(data), e);
    free(data);
    if (rc != 0) {
        s->serial--;
        return -1;
    }
    state_clear_changes(s);
    state_saved_whole(b, s);
    return 0;
}
