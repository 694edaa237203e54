/* jpath.c: dotted paths into jansson values.  A segment is an object key or,
 * on arrays, a decimal index.  Keys that contain '.' or '\' are escaped with
 * '\' (Kubernetes annotation keys contain dots), so every key round-trips
 * through jpath_join and the parsers below. */
#include "core/jpath.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* Copies the next segment of *p into buf (unescaped), advances *p past it
 * and its separator.  Returns 0 at the end of the path. */
static int next_seg(const char **p, sbuf_t *buf) {
    if (!**p) return 0;
    buf->len = 0;
    if (buf->s) buf->s[0] = '\0';
    const char *s = *p;
    while (*s && *s != '.') {
        if (*s == '\\' && s[1]) s++;
        sbuf_addc(buf, *s++);
    }
    if (!buf->s) sbuf_add(buf, "");
    *p = *s ? s + 1 : s;
    return 1;
}

static int parse_index(const char *seg, size_t *idx) {
    if (!*seg) return 0;
    for (const char *c = seg; *c; c++)
        if (!isdigit((unsigned char)*c)) return 0;
    *idx = strtoul(seg, NULL, 10);
    return 1;
}

static json_t *child(const json_t *v, const char *seg) {
    size_t idx;
    if (json_is_object(v)) return json_object_get(v, seg);
    if (json_is_array(v) && parse_index(seg, &idx)) return json_array_get(v, idx);
    return NULL;
}

json_t *jpath_get(const json_t *root, const char *path) {
    const json_t *v = root;
    sbuf_t seg = {0};
    while (v && next_seg(&path, &seg))
        v = child(v, seg.s);
    sbuf_free(&seg);
    return (json_t *)v;
}

int jpath_set_new(json_t *root, const char *path, json_t *nv) {
    json_t *v = root;
    sbuf_t seg = {0};
    int rc = -1;
    if (!next_seg(&path, &seg)) goto out;
    for (;;) {
        size_t idx;
        int last = *path == '\0';
        if (json_is_object(v)) {
            if (last) {
                json_object_set(v, seg.s, nv);
                rc = 0;
                goto out;
            }
            json_t *c = json_object_get(v, seg.s);
            if (!c) {
                c = json_object();
                json_object_set_new(v, seg.s, c);
            }
            v = c;
        } else if (json_is_array(v) && parse_index(seg.s, &idx)) {
            if (last) {
                if (idx < json_array_size(v))
                    json_array_set(v, idx, nv);
                else if (idx == json_array_size(v))
                    json_array_append(v, nv);
                else
                    goto out;
                rc = 0;
                goto out;
            }
            v = json_array_get(v, idx);
            if (!v) goto out;
        } else {
            goto out;
        }
        next_seg(&path, &seg);
    }
out:
    sbuf_free(&seg);
    json_decref(nv);
    return rc;
}

int jpath_del(json_t *root, const char *path) {
    const char *last = NULL;
    /* Find the start of the last unescaped segment. */
    for (const char *s = path; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            continue;
        }
        if (*s == '.') last = s;
    }
    json_t *parent = root;
    sbuf_t seg = {0};
    const char *lastseg = path;
    if (last) {
        char *head = xstrndup(path, (size_t)(last - path));
        parent = jpath_get(root, head);
        free(head);
        lastseg = last + 1;
    }
    next_seg(&lastseg, &seg);
    int rc = -1;
    size_t idx;
    if (json_is_object(parent))
        rc = json_object_del(parent, seg.s);
    else if (json_is_array(parent) && parse_index(seg.s, &idx))
        rc = json_array_remove(parent, idx);
    sbuf_free(&seg);
    return rc == 0 ? 0 : -1;
}

char *jpath_join(const char *base, const char *key) {
    sbuf_t b = {0};
    if (base && *base) {
        sbuf_add(&b, base);
        sbuf_addc(&b, '.');
    }
    for (const char *s = key; *s; s++) {
        if (*s == '.' || *s == '\\') sbuf_addc(&b, '\\');
        sbuf_addc(&b, *s);
    }
    if (!b.s) sbuf_add(&b, "");
    return sbuf_steal(&b);
}

int jpath_under(const char *path, const char *prefix) {
    size_t n = strlen(prefix);
    if (n == 0) return 1;
    return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '.');
}

/* Length of the segment at s (up to an unescaped '.'); allocation-free,
 * since the diff calls this for every leaf against every pattern. */
static size_t seg_len(const char *s) {
    size_t n = 0;
    while (s[n] && s[n] != '.')
        n += (s[n] == '\\' && s[n + 1]) ? 2 : 1;
    return n;
}

int jpath_match(const char *path, const char *pattern) {
    while (*pattern) {
        if (!*path) return 0;
        size_t lp = seg_len(pattern), la = seg_len(path);
        if (!(lp == 1 && pattern[0] == '*') && (lp != la || memcmp(path, pattern, lp) != 0)) return 0;
        pattern += lp;
        path += la;
        if (*pattern == '.') pattern++;
        if (*path == '.')
            path++;
        else if (*pattern)
            return 0;
    }
    return 1;
}

static int each_leaf(json_t *v, const char *path, jpath_leaf_fn fn, void *ud) {
    int rc = 0;
    if (json_is_object(v) && json_object_size(v) > 0) {
        const char *k;
        json_t *c;
        json_object_foreach(v, k, c) {
            char *p = jpath_join(path, k);
            rc = each_leaf(c, p, fn, ud);
            free(p);
            if (rc) return rc;
        }
        return 0;
    }
    if (json_is_array(v) && json_array_size(v) > 0) {
        size_t i;
        json_t *c;
        json_array_foreach(v, i, c) {
            char idx[32];
            snprintf(idx, sizeof idx, "%zu", i);
            char *p = jpath_join(path, idx);
            rc = each_leaf(c, p, fn, ud);
            free(p);
            if (rc) return rc;
        }
        return 0;
    }
    return fn(ud, path, v);
}

int jpath_each_leaf(json_t *v, jpath_leaf_fn fn, void *ud) {
    return each_leaf(v, "", fn, ud);
}

char *jpath_canonical(const json_t *v) {
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    return s ? s : xstrdup("null");
}
