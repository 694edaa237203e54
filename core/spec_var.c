/* spec_var.c: var("name", { type, default, sensitive }) and where a
 * variable's value comes from: default < PLINTH_VAR_<name> < --var-file <
 * --var, each coerced to the declared type with a located error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ref.h"
#include "core/spec_int.h"

static const char *const VAR_TYPES[] = {"string", "number", "bool", "list", "map", NULL};

static const char *type_of_json(const json_t *v) {
    if (json_is_string(v)) return "string";
    if (json_is_number(v)) return "number";
    if (json_is_boolean(v)) return "bool";
    if (json_is_array(v)) return "list";
    if (json_is_object(v)) return "map";
    return "string";
}

/* Converts v (typed, or a string from the command line / environment) to
 * type; new value, or NULL with why filled. */
static json_t *coerce(const json_t *v, const char *type, char *why, size_t n) {
    const char *s = json_string_value(v);
    if (strcmp(type, "string") == 0) {
        if (s) return json_incref((json_t *)v);
        snprintf(why, n, "is not a string");
        return NULL;
    }
    if (strcmp(type, "number") == 0) {
        if (json_is_number(v)) return json_incref((json_t *)v);
        if (s && *s) {
            char *end;
            errno = 0;
            long long i = strtoll(s, &end, 10);
            if (!*end && !errno) return json_integer(i);
            double d = strtod(s, &end);
            if (!*end && d == d) return json_real(d);
        }
        snprintf(why, n, "is not a number");
        return NULL;
    }
    if (strcmp(type, "bool") == 0) {
        if (json_is_boolean(v)) return json_incref((json_t *)v);
        if (s && (!strcmp(s, "true") || !strcmp(s, "1"))) return json_true();
        if (s && (!strcmp(s, "false") || !strcmp(s, "0"))) return json_false();
        snprintf(why, n, "is not a bool (true or false)");
        return NULL;
    }
    int list = strcmp(type, "list") == 0;
    if (list && json_is_array(v)) return json_incref((json_t *)v);
    if (!list && json_is_object(v) && !ref_is_deferred(v)) return json_incref((json_t *)v);
    if (json_is_object(v) && list && !json_object_size(v)) return json_array();
    if (json_is_array(v) && !list && !json_array_size(v)) return json_object();
    if (s) {
        json_t *j = json_loads(s, JSON_DECODE_ANY, NULL);
        if (j && (list ? json_is_array(j) : json_is_object(j))) return j;
        json_decref(j);
        snprintf(why, n, "is not a %s (give it as JSON: %s)", type,
                 list ? "[\"a\", \"b\"]" : "{\"k\": \"v\"}");
        return NULL;
    }
    snprintf(why, n, "is not a %s", type);
    return NULL;
}

static json_t *zero_of(const char *type) {
    if (!strcmp(type, "number")) return json_integer(0);
    if (!strcmp(type, "bool")) return json_false();
    if (!strcmp(type, "list")) return json_array();
    if (!strcmp(type, "map")) return json_object();
    return json_string("");
}

static void show_value(const json_t *v, char *buf, size_t n) {
    char *d = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    snprintf(buf, n, "%s", d ? d : "?");
    free(d);
}

/* A variable declared again (a module asking for the same setting) gives
 * the same value; only a conflicting type is an error.  Returns 1 with the
 * value pushed when name is already declared. */
static int var_again(lua_State *L, spec_ld_t *ld, const char *name, const char *file, int line) {
    spec_t *s = ld->s;
    for (size_t i = 0; i < s->nvars; i++)
        if (strcmp(s->vars[i].name, name) == 0) {
            if (lua_type(L, 2) == LUA_TTABLE && lua_getfield(L, 2, "type") == LUA_TSTRING &&
                strcmp(lua_tostring(L, -1), type_of_json(s->vars[i].value)) != 0)
                spec_decl_error(ld, file, line,
                                "variable \"%s\" is declared again as %s (first at %s:%d as %s)", name,
                                lua_tostring(L, -1), ld->varlocs[i].file, ld->varlocs[i].line,
                                type_of_json(s->vars[i].value));
            spec_conv_push(L, s->vars[i].value);
            return 1;
        }
    return 0;
}

/* The options table at index 2 (type, sensitive, default; NULL / false /
 * NULL when absent).  *def is new. */
static void var_options(lua_State *L, spec_ld_t *ld, const char *name, const char *file, int line,
                        const char **type, bool *sensitive, json_t **def) {
    *type = NULL;
    *sensitive = false;
    *def = NULL;
    if (lua_type(L, 2) != LUA_TTABLE) return;
    static const char *const known[] = {"default", "type", "description", "sensitive", NULL};
    spec_check_keys(ld, L, 2, known, "var", name, file, line);
    if (lua_getfield(L, 2, "type") != LUA_TNIL) {
        const char *t = lua_tostring(L, -1);
        for (int i = 0; t && VAR_TYPES[i]; i++)
            if (!strcmp(t, VAR_TYPES[i])) *type = VAR_TYPES[i];
        if (!*type)
            spec_decl_error(ld, file, line,
                            "variable \"%s\": unknown type \"%s\" (string, number, bool, list, map)", name,
                            t ? t : luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    lua_getfield(L, 2, "sensitive");
    *sensitive = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "default") != LUA_TNIL) {
        perr_t e;
        char what[300];
        snprintf(what, sizeof what, "default of variable \"%s\"", name);
        *def = spec_conv_to_json(L, -1, what, &e);
        if (!*def) spec_decl_error(ld, file, line, "%s", e.msg);
    }
    lua_pop(L, 1);
}

/* Replaces *val with c when c is not NULL. */
static void var_take(json_t **val, json_t *c) {
    if (!c) return;
    json_decref(*val);
    *val = c;
}

/* The value: default < PLINTH_VAR_<name> (env) < --var-file < --var, each
 * coerced to type with a located error.  NULL when none is given. */
static json_t *var_value(spec_ld_t *ld, const char *name, const char *type, const json_t *def,
                         const char *env, const char *file, int line) {
    char why[300], shown[200];
    json_t *val = NULL;
    if (def) {
        val = coerce(def, type, why, sizeof why);
        if (!val) {
            show_value(def, shown, sizeof shown);
            spec_decl_error(ld, file, line, "variable \"%s\": default %s %s", name, shown, why);
        }
    }
    const char *ev = getenv(env);
    if (ev) {
        json_t *sv = json_string(ev);
        json_t *c = sv ? coerce(sv, type, why, sizeof why) : NULL;
        if (!c)
            spec_decl_error(ld, file, line, "variable \"%s\": %s=\"%s\" %s", name, env, ev,
                            sv ? why : "is not valid UTF-8");
        json_decref(sv);
        var_take(&val, c);
    }
    json_t *fv = ld->varfile ? json_object_get(ld->varfile, name) : NULL;
    if (fv) {
        json_t *c = coerce(fv, type, why, sizeof why);
        if (!c) {
            show_value(fv, shown, sizeof shown);
            spec_decl_error(ld, file, line, "variable \"%s\": value %s from --var-file %s", name, shown, why);
        }
        var_take(&val, c);
    }
    const strlist_t *cv = ld->opts ? &ld->opts->vars : NULL;
    for (size_t i = 0; cv && i < cv->n; i++) {
        const char *eq = strchr(cv->v[i], '=');
        if (!eq || strlen(name) != (size_t)(eq - cv->v[i]) ||
            strncmp(cv->v[i], name, (size_t)(eq - cv->v[i])) != 0)
            continue;
        if (!strlist_has(&ld->cli_used, name)) strlist_add(&ld->cli_used, name);
        json_t *sv = json_string(eq + 1);
        json_t *c = sv ? coerce(sv, type, why, sizeof why) : NULL;
        if (!c)
            spec_decl_error(ld, file, line, "variable \"%s\" (%s): --var %s: \"%s\" %s", name, type, name,
                            eq + 1, sv ? why : "is not valid UTF-8");
        json_decref(sv);
        var_take(&val, c);
    }
    return val;
}

/* Appends the variable to the spec (takes val). */
static void var_record(spec_ld_t *ld, const char *name, json_t *val, bool sensitive, const char *file,
                       int line) {
    spec_t *s = ld->s;
    if (s->nvars == ld->capvar) {
        ld->capvar = ld->capvar ? ld->capvar * 2 : 8;
        s->vars = xrealloc(s->vars, ld->capvar * sizeof *s->vars);
        ld->varlocs = xrealloc(ld->varlocs, ld->capvar * sizeof *ld->varlocs);
    }
    spec_var_t *v = &s->vars[s->nvars];
    spec_varloc_t *vl = &ld->varlocs[s->nvars++];
    v->name = xstrdup(name);
    v->value = val;
    v->sensitive = sensitive;
    snprintf(vl->file, sizeof vl->file, "%s", file);
    vl->line = line;
}

static int l_var(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    const char *name = spec_checkname(L, 1, "variable name");
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    if (var_again(L, ld, name, file, line)) return 1;
    int nerr = (int)ld->diags->n;
    if (!spec_valid_name(name, 0)) spec_decl_error(ld, file, line, "invalid variable name \"%s\"", name);
    const char *type;
    bool sensitive;
    json_t *def;
    var_options(L, ld, name, file, line, &type, &sensitive, &def);
    if (!type) type = def ? type_of_json(def) : "string";
    char env[300];
    snprintf(env, sizeof env, "PLINTH_VAR_%s", name);
    json_t *val = var_value(ld, name, type, def, env, file, line);
    if (!val && (int)ld->diags->n == nerr && !(ld->opts && ld->opts->lenient_vars))
        spec_decl_error(ld, file, line,
                        "variable \"%s\" has no value: give it a default, --var %s=..., a "
                        "--var-file or %s",
                        name, name, env);
    if (!val || (int)ld->diags->n != nerr) { /* keep going with a placeholder */
        json_decref(val);
        val = zero_of(type);
    }
    json_decref(def);
    var_record(ld, name, val, sensitive, file, line);
    spec_conv_push(L, val);
    return 1;
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

void spec_var_files(spec_ld_t *ld) {
    const strlist_t *files = ld->opts ? &ld->opts->var_files : NULL;
    for (size_t i = 0; files && i < files->n; i++) {
        const char *p = files->v[i];
        json_t *vals = NULL;
        if (has_suffix(p, ".json")) {
            json_error_t je;
            vals = json_load_file(p, 0, &je);
            if (!vals) {
                char where[300];
                snprintf(where, sizeof where, "%s:%d", p, je.line);
                diag_add(ld->diags, where, "--var-file: %s", je.text);
                continue;
            }
        } else {
            if (spec_protected_run(ld, p) != 0) continue;
            perr_t e;
            if (lua_type(ld->L, -1) != LUA_TTABLE) {
                diag_add(ld->diags, p, "--var-file must return a table of variable values");
                lua_pop(ld->L, 1);
                continue;
            }
            vals = spec_conv_to_json(ld->L, -1, "--var-file", &e);
            lua_pop(ld->L, 1);
            if (!vals) {
                diag_add(ld->diags, p, "%s", e.msg);
                continue;
            }
        }
        if (!json_is_object(vals) || ref_contains(vals)) {
            if (!(json_is_array(vals) && json_array_size(vals) == 0))
                diag_add(ld->diags, p, "--var-file must hold a map of variable values");
        } else {
            json_object_update(ld->varfile, vals);
        }
        json_decref(vals);
    }
}

/* ---- checks after evaluation, hash ---- */

void spec_var_open(lua_State *L) {
    lua_register(L, "var", l_var);
}
