/* k8s_yaml.c: libyaml event stream -> jansson values.  A small recursive
 * descent over events: one function per node kind, anchors kept in a table
 * (deep-copied on alias), merge keys applied after a mapping is read. */
#include "providers/k8s/k8s_yaml.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Bounds on hostile input.  The reader recurses once per nesting level, so
 * depth is bounded well below what a thread stack holds (real manifests nest
 * a few dozen levels; the Lua side stops at 64).  Aliases are deep-copied, so
 * a chain of anchors each referring to the previous one many times (a
 * "billion laughs") would grow exponentially: every value built, copies
 * included, counts against a node budget. */
#define YAML_MAX_DEPTH 256
#define YAML_MAX_NODES 4000000

typedef struct {
    yaml_parser_t p;
    const char *name;
    json_t *anchors; /* name -> [value, node count] */
    perr_t *e;
    int failed;
    int depth;
    size_t nodes;
} yctx_t;

static void yerr(yctx_t *y, size_t line, size_t col, const char *msg) {
    if (y->failed) return;
    y->failed = 1;
    perr_set(y->e, "", "%s:%zu:%zu: %s", y->name, line + 1, col + 1, msg);
}

static int next(yctx_t *y, yaml_event_t *ev) {
    if (!yaml_parser_parse(&y->p, ev)) {
        const char *what = y->p.problem ? y->p.problem : "invalid YAML";
        char msg[512];
        if (y->p.context)
            snprintf(msg, sizeof msg, "%s %s", y->p.context, what);
        else
            snprintf(msg, sizeof msg, "%s", what);
        yerr(y, y->p.problem_mark.line, y->p.problem_mark.column, msg);
        return -1;
    }
    return 0;
}

static int all_digits(const char *s, int base) {
    if (!*s) return 0;
    for (; *s; s++) {
        if (*s == '_') continue;
        if (base == 16  ? !isxdigit((unsigned char)*s)
            : base == 8 ? (*s < '0' || *s > '7')
                        : !isdigit((unsigned char)*s))
            return 0;
    }
    return 1;
}

/* Core-schema resolution of a plain scalar. */
static json_t *plain_scalar(const char *s) {
    if (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"))
        return json_null();
    if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) return json_true();
    if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) return json_false();
    const char *d = s;
    int neg = 0;
    if (*d == '-' || *d == '+') neg = *d++ == '-';
    if (d[0] == '0' && d[1] == 'x' && all_digits(d + 2, 16)) {
        long long v = strtoll(d + 2, NULL, 16);
        return json_integer(neg ? -v : v);
    }
    if (d[0] == '0' && d[1] == 'o' && all_digits(d + 2, 8)) {
        long long v = strtoll(d + 2, NULL, 8);
        return json_integer(neg ? -v : v);
    }
    if (all_digits(d, 10) && !strchr(d, '_')) {
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == 0) return json_integer(v);
    }
    if (!strcmp(d, ".inf") || !strcmp(d, ".Inf") || !strcmp(d, ".INF"))
        return json_real(neg ? -INFINITY : INFINITY);
    if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
        return json_string(s); /* JSON has no NaN */
    /* [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
    const char *q = d;
    int digits = 0;
    while (isdigit((unsigned char)*q))
        q++, digits++;
    if (*q == '.') {
        q++;
        while (isdigit((unsigned char)*q))
            q++, digits++;
    }
    if (digits && (*q == 'e' || *q == 'E')) {
        q++;
        if (*q == '+' || *q == '-') q++;
        if (!isdigit((unsigned char)*q)) return json_string(s);
        while (isdigit((unsigned char)*q))
            q++;
    }
    if (digits && !*q && (strchr(d, '.') || strchr(d, 'e') || strchr(d, 'E')))
        return json_real(strtod(s, NULL));
    return json_string(s);
}

static json_t *scalar(yctx_t *y, yaml_event_t *ev) {
    const char *val = (const char *)ev->data.scalar.value;
    const char *tag = (const char *)ev->data.scalar.tag;
    json_t *v;
    if (tag && !strcmp(tag, YAML_STR_TAG))
        v = json_stringn(val, ev->data.scalar.length);
    else if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        v = json_stringn(val, ev->data.scalar.length);
    else
        v = plain_scalar(val);
    if (!v) {
        yerr(y, ev->start_mark.line, ev->start_mark.column, "invalid UTF-8 in a scalar");
        return NULL;
    }
    return v;
}

static json_t *node(yctx_t *y, yaml_event_t *ev);

/* Records an anchor with the number of nodes its value holds (nodes0 is the
 * count before the value was read). */
static void remember(yctx_t *y, const yaml_char_t *anchor, json_t *v, size_t nodes0) {
    if (anchor && v)
        json_object_set_new(y->anchors, (const char *)anchor,
                            json_pack("[O,I]", v, (json_int_t)(y->nodes - nodes0)));
}

/* Counts n nodes against the budget; -1 (error set) once it is exceeded. */
static int count_nodes(yctx_t *y, size_t n, const yaml_mark_t *mark) {
    y->nodes += n;
    if (y->nodes <= YAML_MAX_NODES) return 0;
    char msg[160];
    snprintf(msg, sizeof msg, "the document expands to more than %d values (aliases repeated too often)",
             YAML_MAX_NODES);
    yerr(y, mark->line, mark->column, msg);
    return -1;
}

/* Enters a nested collection; -1 (error set) past the depth bound. */
static int enter(yctx_t *y, const yaml_mark_t *mark) {
    if (++y->depth <= YAML_MAX_DEPTH) return 0;
    char msg[120];
    snprintf(msg, sizeof msg, "nested more than %d levels deep", YAML_MAX_DEPTH);
    yerr(y, mark->line, mark->column, msg);
    return -1;
}

/* Applies "<<" merges: keys from the merged mappings that m does not set. */
static int merge_into(yctx_t *y, json_t *m, json_t *src, const yaml_mark_t *mark) {
    if (json_is_array(src)) {
        size_t i;
        json_t *x;
        json_array_foreach(src, i, x) if (merge_into(y, m, x, mark) != 0) return -1;
        return 0;
    }
    if (!json_is_object(src)) {
        yerr(y, mark->line, mark->column, "a merge key (<<) needs a mapping or a list of mappings");
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(src, k, v) if (!json_object_get(m, k)) json_object_set(m, k, v);
    return 0;
}

static json_t *mapping(yctx_t *y, yaml_event_t *start) {
    json_t *m = json_object();
    json_t *merges = NULL;
    yaml_mark_t mark = start->start_mark;
    size_t nodes0 = y->nodes;
    for (;;) {
        yaml_event_t ev;
        if (next(y, &ev) != 0) goto fail;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        json_t *k = node(y, &ev);
        yaml_mark_t kmark = ev.start_mark;
        yaml_event_delete(&ev);
        if (!k) goto fail;
        if (next(y, &ev) != 0) {
            json_decref(k);
            goto fail;
        }
        json_t *v = node(y, &ev);
        yaml_event_delete(&ev);
        if (!v) {
            json_decref(k);
            goto fail;
        }
        char buf[64];
        const char *key = NULL;
        if (json_is_string(k))
            key = json_string_value(k);
        else if (json_is_integer(k))
            snprintf(buf, sizeof buf, "%lld", (long long)json_integer_value(k)), key = buf;
        else if (json_is_boolean(k))
            key = json_is_true(k) ? "true" : "false";
        else if (json_is_null(k))
            key = "null";
        if (!key) {
            yerr(y, kmark.line, kmark.column, "mapping keys must be scalars");
            json_decref(k);
            json_decref(v);
            goto fail;
        }
        if (!strcmp(key, "<<") && json_is_string(k)) {
            if (!merges) merges = json_array();
            json_array_append_new(merges, v);
        } else {
            json_object_set_new(m, key, v);
        }
        json_decref(k);
    }
    if (merges) {
        size_t i;
        json_t *x;
        json_array_foreach(merges, i, x) if (merge_into(y, m, x, &mark) != 0) goto fail;
        json_decref(merges);
    }
    remember(y, start->data.mapping_start.anchor, m, nodes0);
    return m;
fail:
    json_decref(merges);
    json_decref(m);
    return NULL;
}

static json_t *sequence(yctx_t *y, yaml_event_t *start) {
    json_t *a = json_array();
    size_t nodes0 = y->nodes;
    for (;;) {
        yaml_event_t ev;
        if (next(y, &ev) != 0) goto fail;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            remember(y, start->data.sequence_start.anchor, a, nodes0);
            return a;
        }
        json_t *v = node(y, &ev);
        yaml_event_delete(&ev);
        if (!v) goto fail;
        json_array_append_new(a, v);
    }
fail:
    json_decref(a);
    return NULL;
}

static json_t *collection(yctx_t *y, yaml_event_t *ev) {
    if (enter(y, &ev->start_mark) != 0) return NULL;
    json_t *v = ev->type == YAML_MAPPING_START_EVENT ? mapping(y, ev) : sequence(y, ev);
    y->depth--;
    return v;
}

static json_t *node(yctx_t *y, yaml_event_t *ev) {
    if (count_nodes(y, 1, &ev->start_mark) != 0) return NULL;
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        size_t nodes0 = y->nodes - 1;
        json_t *v = scalar(y, ev);
        remember(y, ev->data.scalar.anchor, v, nodes0);
        return v;
    }
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: return collection(y, ev);
    case YAML_ALIAS_EVENT: {
        json_t *a = json_object_get(y->anchors, (const char *)ev->data.alias.anchor);
        if (!a) {
            yerr(y, ev->start_mark.line, ev->start_mark.column, "unknown alias");
            return NULL;
        }
        if (count_nodes(y, (size_t)json_integer_value(json_array_get(a, 1)), &ev->start_mark) != 0)
            return NULL;
        return json_deep_copy(json_array_get(a, 0));
    }
    default: yerr(y, ev->start_mark.line, ev->start_mark.column, "unexpected YAML event"); return NULL;
    }
}

json_t *k8s_yaml_parse(const char *data, size_t len, const char *name, json_t **lines, perr_t *e) {
    yctx_t y = {.name = name ? name : "<yaml>", .e = e};
    if (!yaml_parser_initialize(&y.p)) {
        perr_set(e, "", "%s: cannot initialise the YAML parser", y.name);
        return NULL;
    }
    yaml_parser_set_input_string(&y.p, (const unsigned char *)data, len);
    json_t *docs = json_array(), *starts = json_array();
    for (;;) {
        yaml_event_t ev;
        if (next(&y, &ev) != 0) break;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t != YAML_DOCUMENT_START_EVENT) {
            yaml_event_delete(&ev);
            continue;
        }
        yaml_event_delete(&ev);
        json_decref(y.anchors);
        y.anchors = json_object(); /* anchors are per document */
        if (next(&y, &ev) != 0) break;
        size_t line = ev.start_mark.line + 1;
        json_t *v = node(&y, &ev);
        yaml_event_delete(&ev);
        if (!v) break;
        if (next(&y, &ev) != 0) {
            json_decref(v);
            break;
        }
        yaml_event_delete(&ev); /* DOCUMENT_END */
        if (json_is_null(v)) {
            json_decref(v);
            continue;
        }
        json_array_append_new(docs, v);
        json_array_append_new(starts, json_integer((json_int_t)line));
    }
    json_decref(y.anchors);
    yaml_parser_delete(&y.p);
    if (y.failed) {
        json_decref(docs);
        json_decref(starts);
        return NULL;
    }
    if (lines)
        *lines = starts;
    else
        json_decref(starts);
    return docs;
}

/* ---- dump: block style, strings quoted when they would not read back. */

static int needs_quotes(const char *s) {
    if (!*s) return 1;
    json_t *v = plain_scalar(s);
    int not_string = !json_is_string(v);
    json_decref(v);
    if (not_string) return 1;
    if (strchr(":#{}[],&*!|>'\"%@`\n\t", s[0]) || s[0] == '-' || s[0] == '?' || s[0] == ' ') return 1;
    if (strstr(s, ": ") || strstr(s, " #") || s[strlen(s) - 1] == ' ' || s[strlen(s) - 1] == ':') return 1;
    for (const char *c = s; *c; c++)
        if ((unsigned char)*c < 0x20) return 1;
    return 0;
}

static void dump_str(sbuf_t *b, const char *s) {
    if (!needs_quotes(s)) {
        sbuf_add(b, s);
        return;
    }
    json_t *j = json_string(s);
    char *q = json_dumps(j, JSON_ENCODE_ANY); /* a JSON string is a valid YAML double-quoted scalar */
    sbuf_add(b, q);
    free(q);
    json_decref(j);
}

static void indent(sbuf_t *b, int n) {
    for (int i = 0; i < n; i++)
        sbuf_addc(b, ' ');
}

static void dump(sbuf_t *b, const json_t *v, int ind, int inline_first);

static void dump_scalar(sbuf_t *b, const json_t *v) {
    if (json_is_string(v))
        dump_str(b, json_string_value(v));
    else {
        char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        sbuf_add(b, s);
        free(s);
    }
}

static int is_container(const json_t *v) {
    return (json_is_object(v) && json_object_size(v)) || (json_is_array(v) && json_array_size(v));
}

static void dump(sbuf_t *b, const json_t *v, int ind, int inline_first) {
    if (json_is_object(v) && json_object_size(v)) {
        const char *k;
        json_t *x;
        int first = 1;
        json_object_foreach((json_t *)v, k, x) {
            if (!(first && inline_first)) indent(b, ind);
            first = 0;
            dump_str(b, k);
            sbuf_addc(b, ':');
            if (is_container(x)) {
                sbuf_addc(b, '\n');
                dump(b, x, json_is_array(x) ? ind : ind + 2, 0);
            } else {
                sbuf_addc(b, ' ');
                if (json_is_object(x))
                    sbuf_add(b, "{}");
                else if (json_is_array(x))
                    sbuf_add(b, "[]");
                else
                    dump_scalar(b, x);
                sbuf_addc(b, '\n');
            }
        }
    } else if (json_is_array(v) && json_array_size(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            indent(b, ind);
            sbuf_add(b, "- ");
            if (is_container(x)) {
                if (json_is_array(x)) {
                    sbuf_addc(b, '\n');
                    dump(b, x, ind + 2, 0);
                } else {
                    dump(b, x, ind + 2, 1);
                }
            } else {
                if (json_is_object(x))
                    sbuf_add(b, "{}");
                else if (json_is_array(x))
                    sbuf_add(b, "[]");
                else
                    dump_scalar(b, x);
                sbuf_addc(b, '\n');
            }
        }
    } else {
        if (!inline_first) indent(b, ind);
        if (json_is_object(v))
            sbuf_add(b, "{}");
        else if (json_is_array(v))
            sbuf_add(b, "[]");
        else
            dump_scalar(b, v);
        sbuf_addc(b, '\n');
    }
}

char *k8s_yaml_dump(const json_t *v) {
    sbuf_t b = {0};
    dump(&b, v, 0, 0);
    return sbuf_steal(&b);
}
