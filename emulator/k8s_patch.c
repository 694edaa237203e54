/* k8s_patch.c: JSON Patch (RFC 6902) for application/json-patch+json
 * PATCH requests (see emu_k8s.h): add, remove, replace, move, copy, test
 * on RFC 6901 pointers ("~1" is '/', "~0" is '~', "-" appends). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu_k8s.h"

/* The pointer's segments, unescaped (new array of strings), or NULL. */
static json_t *pointer(const char *p) {
    if (!p || (*p && *p != '/')) return NULL;
    json_t *segs = json_array();
    while (*p == '/') {
        p++;
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        sbuf_t b = {0};
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '~' && i + 1 < n && p[i + 1] == '1')
                sbuf_addf(&b, "/"), i++;
            else if (p[i] == '~' && i + 1 < n && p[i + 1] == '0')
                sbuf_addf(&b, "~"), i++;
            else
                sbuf_addf(&b, "%c", p[i]);
        }
        json_array_append_new(segs, json_string(b.s ? b.s : ""));
        sbuf_free(&b);
        p += n;
    }
    return segs;
}

static int index_of(const json_t *arr, const char *s, int append_ok, size_t *out) {
    if (append_ok && !strcmp(s, "-")) {
        *out = json_array_size(arr);
        return 0;
    }
    char *end = NULL;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v < 0 || (size_t)v > json_array_size(arr) - (append_ok ? 0 : 1) + (append_ok ? 0 : 0))
        return -1;
    if (!append_ok && (size_t)v >= json_array_size(arr)) return -1;
    *out = (size_t)v;
    return 0;
}

/* The container of the pointer's last segment (BORROWED), or NULL. */
static json_t *parent_of(json_t *doc, json_t *segs) {
    json_t *cur = doc;
    for (size_t i = 0; i + 1 < json_array_size(segs) && cur; i++) {
        const char *s = json_string_value(json_array_get(segs, i));
        size_t idx;
        if (json_is_object(cur))
            cur = json_object_get(cur, s);
        else if (json_is_array(cur) && index_of(cur, s, 0, &idx) == 0)
            cur = json_array_get(cur, idx);
        else
            cur = NULL;
    }
    return cur;
}

static json_t *get_at(json_t *doc, json_t *segs) {
    if (!json_array_size(segs)) return doc;
    json_t *par = parent_of(doc, segs);
    const char *last = json_string_value(json_array_get(segs, json_array_size(segs) - 1));
    size_t idx;
    if (json_is_object(par)) return json_object_get(par, last);
    if (json_is_array(par) && index_of(par, last, 0, &idx) == 0) return json_array_get(par, idx);
    return NULL;
}

/* Removes (and returns, NEW) the value at segs, or NULL. */
static json_t *take_at(json_t *doc, json_t *segs) {
    json_t *par = parent_of(doc, segs);
    const char *last = json_string_value(json_array_get(segs, json_array_size(segs) - 1));
    json_t *v = NULL;
    size_t idx;
    if (json_is_object(par) && (v = json_object_get(par, last))) {
        json_incref(v);
        json_object_del(par, last);
    } else if (json_is_array(par) && index_of(par, last, 0, &idx) == 0) {
        v = json_incref(json_array_get(par, idx));
        json_array_remove(par, idx);
    }
    return v;
}

/* Puts v (stolen) at segs (insert into arrays, set in objects). */
static int put_at(json_t *doc, json_t *segs, json_t *v, int replace) {
    json_t *par = parent_of(doc, segs);
    const char *last = json_string_value(json_array_get(segs, json_array_size(segs) - 1));
    size_t idx;
    if (json_is_object(par) && (!replace || json_object_get(par, last)))
        return json_object_set_new(par, last, v);
    if (json_is_array(par) && index_of(par, last, !replace, &idx) == 0)
        return replace ? json_array_set_new(par, idx, v) : json_array_insert_new(par, idx, v);
    json_decref(v);
    return -1;
}

int emu_k8s_json_patch(json_t *doc, const json_t *ops, char *err, size_t errlen) {
    if (!json_is_array(ops)) {
        snprintf(err, errlen, "json: cannot unmarshal %s into Go value of type jsonpatch.Patch",
                 json_is_object(ops) ? "object" : "value");
        return -1;
    }
    json_t *op;
    size_t i;
    json_array_foreach(ops, i, op) {
        const char *o = json_string_value(json_object_get(op, "op")) ?: "";
        const char *path = json_string_value(json_object_get(op, "path"));
        json_t *segs = pointer(path), *val = json_object_get(op, "value");
        json_t *from = pointer(json_string_value(json_object_get(op, "from")));
        int rc = -1;
        if (!segs || !json_array_size(segs)) {
            rc = -1;
        } else if (!strcmp(o, "add") && val) {
            rc = put_at(doc, segs, json_deep_copy(val), 0);
        } else if (!strcmp(o, "replace") && val) {
            rc = put_at(doc, segs, json_deep_copy(val), 1);
        } else if (!strcmp(o, "remove")) {
            json_t *v = take_at(doc, segs);
            rc = v ? 0 : -1;
            json_decref(v);
        } else if ((!strcmp(o, "move") || !strcmp(o, "copy")) && from && json_array_size(from)) {
            json_t *v = !strcmp(o, "move") ? take_at(doc, from) : json_deep_copy(get_at(doc, from));
            rc = v ? put_at(doc, segs, v, 0) : -1;
        } else if (!strcmp(o, "test") && val) {
            rc = json_equal(get_at(doc, segs), val) ? 0 : -1;
        }
        json_decref(segs);
        json_decref(from);
        if (rc != 0) {
            if (!strcmp(o, "test"))
                snprintf(err, errlen, "testing value %s failed: test failed", path ? path : "");
            else
                snprintf(err, errlen, "the server rejected our request due to an error in our request");
            if (!strcmp(o, "remove") || !strcmp(o, "replace"))
                snprintf(err, errlen,
                         "%s operation does not apply: doc is missing path: \"%s\": missing value", o,
                         path ? path : "");
            return -1;
        }
    }
    return 0;
}
