/* planfile.c: reading, validating and writing the parts of a saved plan
 * that need care (see planfile.h): every field is checked before any is
 * used, so a hand-edited or truncated plan is an error naming the field,
 * never a crash; sensitive --var values are kept as salted hashes. */
#include "core/planfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *jtype(const json_t *j) {
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

static int bad(perr_t *e, const char *where, const char *field, const char *want, const json_t *got) {
    if (got)
        perr_set(e, where, "%s: expected %s, found %s", field, want, jtype(got));
    else
        perr_set(e, where, "%s: missing (expected %s)", field, want);
    return -1;
}

static int is_hex(const char *s, size_t n) {
    if (!s || strlen(s) != n) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

static int var_name_ok(const char *s, size_t n) {
    if (!n) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

/* An array of strings (absent allowed when optional). */
static int str_array(const json_t *pf, const char *key, int optional, const char *where, perr_t *e) {
    json_t *a = json_object_get(pf, key);
    if (!a && optional) return 0;
    if (!json_is_array(a)) return bad(e, where, key, "an array of strings", a);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        char f[64];
        snprintf(f, sizeof f, "%s[%zu]", key, i);
        if (!json_is_string(v)) return bad(e, where, f, "a string", v);
        if (strlen(json_string_value(v)) != json_string_length(v)) {
            perr_set(e, where, "%s: contains a NUL character", f);
            return -1;
        }
        if (!strcmp(key, "vars")) {
            const char *s = json_string_value(v), *eq = strchr(s, '=');
            if (!eq || !var_name_ok(s, (size_t)(eq - s)))
                return bad(e, where, f, "a string \"name=value\"", v);
        }
    }
    return 0;
}

static int check_sensitive_vars(const json_t *pf, const char *where, perr_t *e) {
    json_t *sv = json_object_get(pf, "sensitive_vars");
    if (!sv) return 0;
    if (!json_is_object(sv)) return bad(e, where, "sensitive_vars", "an object", sv);
    const char *k;
    json_t *v;
    json_object_foreach(sv, k, v) {
        char f[300];
        snprintf(f, sizeof f, "sensitive_vars.%.200s", k);
        if (!var_name_ok(k, strlen(k))) return bad(e, where, f, "a variable name as key", NULL);
        if (!json_is_object(v)) return bad(e, where, f, "an object {salt, sha256}", v);
        if (!is_hex(json_string_value(json_object_get(v, "salt")), 32) ||
            !is_hex(json_string_value(json_object_get(v, "sha256")), 64))
            return bad(e, where, f, "{\"salt\": 32 hex digits, \"sha256\": 64 hex digits}", v);
    }
    return 0;
}

static int check_plan(const json_t *pf, const char *where, perr_t *e) {
    json_t *pl = json_object_get(pf, "plan");
    if (!json_is_object(pl)) return bad(e, where, "plan", "an object", pl);
    json_t *ch = json_object_get(pl, "changes");
    if (!json_is_array(ch)) return bad(e, where, "plan.changes", "an array", ch);
    size_t i;
    json_t *c;
    json_array_foreach(ch, i, c) {
        char f[80];
        snprintf(f, sizeof f, "plan.changes[%zu]", i);
        if (!json_is_object(c)) return bad(e, where, f, "an object", c);
        static const char *const strs[] = {"address", "type", "action"};
        for (size_t k = 0; k < 3; k++) {
            json_t *v = json_object_get(c, strs[k]);
            snprintf(f, sizeof f, "plan.changes[%zu].%s", i, strs[k]);
            if (!json_is_string(v)) return bad(e, where, f, "a string", v);
        }
    }
    static const char *const flags[] = {"refresh_only", "destroy", "changes_present"};
    for (size_t k = 0; k < 3; k++) {
        json_t *v = json_object_get(pl, flags[k]);
        char f[64];
        snprintf(f, sizeof f, "plan.%s", flags[k]);
        if (v && !json_is_boolean(v)) return bad(e, where, f, "a boolean", v);
    }
    return 0;
}

int planfile_check(const json_t *pf, const char *where, perr_t *e) {
    if (!json_is_object(pf)) return bad(e, where, "plan file", "an object", pf);
    json_t *v = json_object_get(pf, "plinth_plan");
    if (!json_is_integer(v)) {
        perr_set(e, where, "not a plinth plan file (no plinth_plan format number)");
        return -1;
    }
    if (json_integer_value(v) != 1) {
        perr_set(e, where, "plan file format %lld is not one this plinth understands (1)",
                 (long long)json_integer_value(v));
        return -1;
    }
    v = json_object_get(pf, "spec");
    if (!json_is_string(v) || !json_string_length(v) || strlen(json_string_value(v)) != json_string_length(v))
        return bad(e, where, "spec", "the spec's path (a non-empty string)", v);
    v = json_object_get(pf, "spec_hash");
    if (!json_is_string(v) || !is_hex(json_string_value(v), 64))
        return bad(e, where, "spec_hash", "64 hex digits", v);
    v = json_object_get(pf, "lineage");
    if (!json_is_string(v) || json_string_length(v) > 36)
        return bad(e, where, "lineage", "a lineage (string)", v);
    v = json_object_get(pf, "serial");
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(e, where, "serial", "an integer >= 0", v);
    v = json_object_get(pf, "env");
    if (v && !json_is_null(v) && !json_is_string(v)) return bad(e, where, "env", "a string", v);
    v = json_object_get(pf, "tfplan");
    if (v && !json_is_object(v)) return bad(e, where, "tfplan", "an object", v);
    if (str_array(pf, "vars", 0, where, e) || str_array(pf, "targets", 1, where, e) ||
        str_array(pf, "replace", 1, where, e) || check_sensitive_vars(pf, where, e) ||
        check_plan(pf, where, e))
        return -1;
    return 0;
}

int planfile_read(const char *path, json_t **out, perr_t *e) {
    *out = NULL;
    json_error_t je;
    json_t *pf = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!pf) {
        perr_set(e, path, "not a plinth plan file: %s (line %d column %d)", je.text, je.line, je.column);
        return -1;
    }
    if (planfile_check(pf, path, e) != 0) {
        json_decref(pf);
        return -1;
    }
    *out = pf;
    return 0;
}

static const spec_var_t *find_var(const spec_t *spec, const char *name, size_t n) {
    for (size_t i = 0; spec && i < spec->nvars; i++)
        if (strlen(spec->vars[i].name) == n && !strncmp(spec->vars[i].name, name, n)) return &spec->vars[i];
    return NULL;
}

/* sha256 of salt, name and the variable's value as compact JSON. */
static void var_hash(const char *salt, const spec_var_t *v, char out[65]) {
    char *val = v->value ? json_dumps(v->value, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *in = xasprintf("%s:%s=%s", salt, v->name, val ? val : "null");
    util_sha256_hex(in, strlen(in), out);
    free(in);
    free(val);
}

void planfile_set_vars(json_t *doc, const spec_t *spec, const strlist_t *cli_vars) {
    json_t *vars = json_array(), *sens = json_object();
    for (size_t i = 0; i < cli_vars->n; i++) {
        const char *s = cli_vars->v[i], *eq = strchr(s, '=');
        const spec_var_t *v = eq ? find_var(spec, s, (size_t)(eq - s)) : NULL;
        if (!v || !v->sensitive) {
            json_array_append_new(vars, json_string(s));
            continue;
        }
        if (json_object_get(sens, v->name)) continue;
        char salt[33], h[65];
        util_random_hex(salt, 16);
        var_hash(salt, v, h);
        json_object_set_new(sens, v->name, json_pack("{s:s, s:s}", "salt", salt, "sha256", h));
    }
    json_object_set_new(doc, "vars", vars);
    json_object_set_new(doc, "sensitive_vars", sens);
}

void planfile_get_vars(const json_t *pf, strlist_t *out) {
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(pf, "vars"), i, v) strlist_add(out, json_string_value(v));
}

int planfile_check_sensitive(const json_t *pf, const spec_t *spec, const char *where, perr_t *e) {
    const char *k;
    json_t *h;
    json_object_foreach(json_object_get(pf, "sensitive_vars"), k, h) {
        const spec_var_t *v = find_var(spec, k, strlen(k));
        char now[65] = "";
        if (v) var_hash(json_string_value(json_object_get(h, "salt")), v, now);
        if (!v || strcmp(now, json_string_value(json_object_get(h, "sha256"))) != 0) {
            perr_set(
                e, where,
                "variable \"%s\" is sensitive, so the plan keeps only a hash of its value: pass the same "
                "value again (--var %s=..., PLINTH_VAR_%s or --var-file)%s",
                k, k, k, v ? "; the value given now differs from the planned one" : "");
            return -1;
        }
    }
    return 0;
}
