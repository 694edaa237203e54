/* gcp_norm.c: normalization of a live GCP resource against the spec: the
 * server's spelling of the same value (full URL vs short name, case where
 * the type says so, numbers as strings, sets in another order) is replaced
 * by the spec's, so the engine's diff sees only real differences. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_res.h"

static int in_list(const char *const *patterns, const char *path) {
    return rtype_path_in(patterns, path);
}

static int str_equiv(int ci, const char *d, const char *l) {
    if (strcmp(d, l) == 0) return 1;
    if (ci && strcasecmp(d, l) == 0) return 1;
    const char *dt = gcp_projects_tail(d), *lt = gcp_projects_tail(l);
    if (dt && lt) return strcmp(dt, lt) == 0;
    int l_ref = strstr(l, "://") || lt;
    int d_ref = strstr(d, "://") || dt;
    if (!strchr(d, '/') && l_ref) return strcmp(gcp_last_segment(l), d) == 0;
    if (!strchr(l, '/') && d_ref) return strcmp(gcp_last_segment(d), l) == 0;
    return 0;
}

static int num_str_equiv(const json_t *num, const char *s) {
    char *end = NULL;
    if (!*s) return 0;
    if (json_is_integer(num)) {
        long long v = strtoll(s, &end, 10);
        return *end == 0 && v == json_integer_value(num);
    }
    double v = strtod(s, &end);
    return *end == 0 && v == json_real_value(num);
}

static int scalar_equiv(const gcp_type_t *T, const char *path, const json_t *d, const json_t *l) {
    if (json_equal((json_t *)d, (json_t *)l)) return 1;
    if (json_is_string(d) && json_is_string(l))
        return str_equiv(in_list(T->ci_paths, path), json_string_value(d), json_string_value(l));
    if (json_is_number(d) && json_is_string(l)) return num_str_equiv(d, json_string_value(l));
    if (json_is_string(d) && json_is_number(l)) return num_str_equiv(l, json_string_value(d));
    if (json_is_number(d) && json_is_number(l)) return json_number_value(d) == json_number_value(l);
    return 0;
}

/* desired's content is found in live (only the keys desired sets). */
static int subset_equiv(const gcp_type_t *T, const char *path, const json_t *d, const json_t *l) {
    if (json_is_object(d)) {
        if (!json_is_object(l)) return 0;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)d, k, v) {
            json_t *lv = json_object_get(l, k);
            char *p = jpath_join(path, k);
            int ok = lv && subset_equiv(T, p, v, lv);
            free(p);
            if (!ok) return 0;
        }
        return 1;
    }
    if (json_is_array(d)) {
        if (!json_is_array(l) || json_array_size(l) != json_array_size(d)) return 0;
        char *p = jpath_join(path, "0");
        size_t i, j;
        json_t *dv, *lv;
        int ok = 1;
        json_array_foreach(d, i, dv) {
            int found = 0;
            json_array_foreach(l, j, lv) if (subset_equiv(T, p, dv, lv)) {
                found = 1;
                break;
            }
            if (!found) {
                ok = 0;
                break;
            }
        }
        free(p);
        return ok;
    }
    return scalar_equiv(T, path, d, l);
}

static json_t *norm_val(const gcp_type_t *T, const char *path, json_t *l, const json_t *d);

static void reorder_set(const gcp_type_t *T, const char *path, json_t *l, const json_t *d) {
    size_t nl = json_array_size(l);
    char *used = xcalloc(nl + 1, 1);
    json_t *out = json_array();
    char *ep = jpath_join(path, "0");
    size_t i, j;
    json_t *dv;
    json_array_foreach(d, i, dv) {
        for (j = 0; j < nl; j++)
            if (!used[j] && subset_equiv(T, ep, dv, json_array_get(l, j))) {
                used[j] = 1;
                json_array_append(out, json_array_get(l, j));
                break;
            }
    }
    for (j = 0; j < nl; j++)
        if (!used[j]) json_array_append(out, json_array_get(l, j));
    json_array_clear(l);
    json_array_extend(l, out);
    json_decref(out);
    free(ep);
    free(used);
}

/* Returns the (new reference) value live should hold at path. */
static json_t *norm_val(const gcp_type_t *T, const char *path, json_t *l, const json_t *d) {
    if (json_is_object(d) && json_is_object(l)) {
        const char *k;
        json_t *dv;
        json_object_foreach((json_t *)d, k, dv) {
            json_t *lv = json_object_get(l, k);
            if (!lv) continue;
            char *p = jpath_join(path, k);
            json_object_set_new(l, k, norm_val(T, p, lv, dv));
            free(p);
        }
        return json_incref(l);
    }
    if (json_is_array(d) && json_is_array(l)) {
        if (in_list(T->set_paths, path)) reorder_set(T, path, l, d);
        size_t n = json_array_size(d) < json_array_size(l) ? json_array_size(d) : json_array_size(l);
        for (size_t i = 0; i < n; i++) {
            char idx[24];
            snprintf(idx, sizeof idx, "%zu", i);
            char *p = jpath_join(path, idx);
            json_array_set_new(l, i, norm_val(T, p, json_array_get(l, i), json_array_get(d, i)));
            free(p);
        }
        return json_incref(l);
    }
    if (!json_is_object(d) && !json_is_array(d) && scalar_equiv(T, path, d, l)) return json_deep_copy(d);
    return json_incref(l);
}

void gcp_res_normalize(const rtype_t *t, json_t *live, const json_t *desired) {
    if (!live || !desired) return;
    json_decref(norm_val(t->data, "", live, desired));
}
