/* ref.c: deferred values inside resource bodies: construction, inspection
 * and resolution of references and concatenations (see ref.h for the JSON
 * encoding). */
#include "core/ref.h"

#include <stdio.h>
#include <string.h>

static const char *kind_of(const json_t *v) {
    if (!json_is_object(v)) return NULL;
    return json_string_value(json_object_get(v, "$plinth"));
}

json_t *ref_new(const char *addr, const char *path) {
    return json_pack("{s:s, s:s, s:s}", "$plinth", "ref", "addr", addr ? addr : "", "path", path ? path : "");
}

int ref_is_ref(const json_t *v) {
    const char *k = kind_of(v);
    return k && strcmp(k, "ref") == 0;
}

static int is_concat(const json_t *v) {
    const char *k = kind_of(v);
    return k && strcmp(k, "concat") == 0;
}

int ref_is_deferred(const json_t *v) {
    return ref_is_ref(v) || is_concat(v);
}

/* Text of a scalar used inside a string: numbers and booleans formatted as
 * Lua would print them; NULL for anything else. */
static char *scalar_text(const json_t *v) {
    if (json_is_string(v)) return xstrdup(json_string_value(v));
    if (json_is_integer(v)) return xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v)) return xasprintf("%.14g", json_real_value(v));
    if (json_is_boolean(v)) return xstrdup(json_is_true(v) ? "true" : "false");
    return NULL;
}

/* Appends part to out, merging adjacent strings and flattening nested
 * concatenations. */
static void add_part(json_t *out, json_t *part) {
    if (is_concat(part)) {
        json_t *sub = json_object_get(part, "parts");
        size_t i;
        json_t *p;
        json_array_foreach(sub, i, p) {
            add_part(out, p);
        }
        return;
    }
    char *txt = ref_is_ref(part) ? NULL : scalar_text(part);
    if (!txt) {
        json_array_append(out, part);
        return;
    }
    size_t n = json_array_size(out);
    json_t *last = n ? json_array_get(out, n - 1) : NULL;
    if (json_is_string(last)) {
        char *joined = xasprintf("%s%s", json_string_value(last), txt);
        json_array_set_new(out, n - 1, json_string(joined));
        free(joined);
    } else if (*txt) {
        json_array_append_new(out, json_string(txt));
    }
    free(txt);
}

json_t *ref_concat_new(json_t *parts) {
    json_t *out = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p) {
        add_part(out, p);
    }
    json_decref(parts);
    size_t n = json_array_size(out);
    if (n == 0) {
        json_decref(out);
        return json_string("");
    }
    if (n == 1) { /* a plain string, or a single reference */
        json_t *only = json_incref(json_array_get(out, 0));
        json_decref(out);
        return only;
    }
    return json_pack("{s:s, s:o}", "$plinth", "concat", "parts", out);
}

int ref_contains(const json_t *v) {
    if (ref_is_deferred(v)) return 1;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (ref_contains(x)) return 1;
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            if (ref_contains(x)) return 1;
        }
    }
    return 0;
}

void ref_collect(const json_t *v, strlist_t *addrs) {
    if (ref_is_ref(v)) {
        const char *a = json_string_value(json_object_get(v, "addr"));
        if (a && !strlist_has(addrs, a)) strlist_add(addrs, a);
        return;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            ref_collect(x, addrs);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            ref_collect(x, addrs);
        }
    }
}

/* Resolves one reference: 1 known (*out new), 0 unknown, -1 error. */
static int resolve_one(const json_t *r, ref_lookup_fn lookup, void *ud, json_t **out, perr_t *e) {
    const char *addr = json_string_value(json_object_get(r, "addr"));
    const char *path = json_string_value(json_object_get(r, "path"));
    json_t *val = NULL;
    int rc = lookup(ud, addr ? addr : "", path ? path : "", &val, e);
    if (rc == 1) *out = json_deep_copy(val);
    return rc;
}

static json_t *resolve_concat(const json_t *v, ref_lookup_fn lookup, void *ud, int *unknown, perr_t *e) {
    json_t *parts = json_object_get(v, "parts");
    sbuf_t b = {0};
    size_t i;
    json_t *p;
    json_array_foreach(parts, i, p) {
        json_t *val = NULL;
        if (ref_is_ref(p)) {
            int rc = resolve_one(p, lookup, ud, &val, e);
            if (rc < 0) {
                sbuf_free(&b);
                return NULL;
            }
            if (rc == 0) { /* any unknown part: the concatenation stays whole */
                sbuf_free(&b);
                *unknown = 1;
                return json_deep_copy(v);
            }
        } else {
            val = json_incref(p);
        }
        char *txt = scalar_text(val);
        if (!txt) {
            char *d = ref_describe(p);
            perr_set(e, "", "%s: cannot use a non-string value in a string (it is %s)", d,
                     json_is_null(val)    ? "null"
                     : json_is_array(val) ? "a list"
                                          : "an object");
            free(d);
            json_decref(val);
            sbuf_free(&b);
            return NULL;
        }
        sbuf_add(&b, txt);
        free(txt);
        json_decref(val);
    }
    char *s = sbuf_steal(&b);
    json_t *out = json_string(s);
    free(s);
    return out;
}

json_t *ref_resolve(const json_t *v, ref_lookup_fn lookup, void *ud, int *unknown, perr_t *e) {
    int dummy = 0;
    if (!unknown) unknown = &dummy;
    if (ref_is_ref(v)) {
        json_t *val = NULL;
        int rc = resolve_one(v, lookup, ud, &val, e);
        if (rc < 0) return NULL;
        if (rc == 0) {
            *unknown = 1;
            return json_deep_copy(v);
        }
        return val;
    }
    if (is_concat(v)) return resolve_concat(v, lookup, ud, unknown, e);
    if (json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            json_t *r = ref_resolve(x, lookup, ud, unknown, e);
            if (!r) {
                json_decref(out);
                return NULL;
            }
            json_object_set_new(out, k, r);
        }
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array();
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            json_t *r = ref_resolve(x, lookup, ud, unknown, e);
            if (!r) {
                json_decref(out);
                return NULL;
            }
            json_array_append_new(out, r);
        }
        return out;
    }
    return json_deep_copy(v);
}

char *ref_describe(const json_t *v) {
    if (ref_is_ref(v)) {
        const char *a = json_string_value(json_object_get(v, "addr"));
        const char *p = json_string_value(json_object_get(v, "path"));
        if (!p || !*p) return xstrdup(a ? a : "");
        return xasprintf("%s.%s", a ? a : "", p);
    }
    if (is_concat(v)) { /* "projects/${gcp.compute_network.main.selfLink}/x" */
        sbuf_t b = {0};
        sbuf_addc(&b, '"');
        size_t i;
        json_t *p;
        json_array_foreach(json_object_get(v, "parts"), i, p) {
            if (json_is_string(p)) {
                sbuf_add(&b, json_string_value(p));
            } else {
                char *d = ref_describe(p);
                sbuf_addf(&b, "${%s}", d);
                free(d);
            }
        }
        sbuf_addc(&b, '"');
        return sbuf_steal(&b);
    }
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    char *out = xstrdup(s ? s : "");
    free(s);
    return out;
}
