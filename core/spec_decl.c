/* spec_decl.c: the declarations of a spec: resource constructors
 * (gcp.TYPE "name" { body }, in one namespace table per provider), their
 * depends_on and lifecycle meta keys, provider and backend blocks and
 * outputs.  Each appends plain data to spec_t; nothing here knows a
 * provider beyond its name. */
#include <libgen.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/ref.h"
#include "core/rtype.h"
#include "core/spec_int.h"

int spec_valid_name(const char *s, int allow_dash) {
    if (!s || !*s) return 0;
    for (const char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && !(allow_dash && *c == '-')) return 0;
    return 1;
}

const char *spec_checkname(lua_State *L, int idx, const char *what) {
    if (lua_type(L, idx) != LUA_TSTRING) {
        if (spec_lua_get(L, idx)) spec_raise(L, "%s must be a plain string, not a reference", what);
        spec_raise(L, "%s must be a string, got %s", what, luaL_typename(L, idx));
    }
    const char *s = lua_tostring(L, idx);
    if (strstr(s, SPEC_MARK)) spec_raise(L, "%s must be a plain string, not a reference", what);
    return s;
}

/* ---- resources ---- */

static json_t *take_meta(json_t *body, const char *key) {
    json_t *v = json_object_get(body, key);
    if (!v) return NULL;
    json_incref(v);
    json_object_del(body, key);
    return v;
}

static void res_meta(spec_ld_t *ld, spec_res_t *r, json_t *deps, json_t *lc) {
    if (deps) {
        if (ref_is_deferred(deps) || json_is_string(deps)) {
            json_t *a = json_array();
            json_array_append(a, deps);
            json_decref(deps);
            deps = a;
        }
        if (json_is_object(deps) && json_object_size(deps) == 0) {
            json_decref(deps);
            deps = json_array();
        }
        if (!json_is_array(deps)) {
            spec_decl_error(ld, r->file, r->line, "%s: depends_on must be a list of resources", r->addr);
        } else {
            size_t i;
            json_t *d;
            json_array_foreach(deps, i, d) {
                if (ref_is_ref(d)) {
                    const char *a = json_string_value(json_object_get(d, "addr"));
                    if (!strlist_has(&r->depends_on, a)) strlist_add(&r->depends_on, a);
                } else if (json_is_string(d)) {
                    char *a = ld->prefix ? xasprintf("%s.%s", ld->prefix, json_string_value(d))
                                         : xstrdup(json_string_value(d));
                    if (strlist_has(&r->depends_on, a))
                        free(a);
                    else
                        strlist_add_own(&r->depends_on, a);
                } else {
                    spec_decl_error(ld, r->file, r->line,
                                    "%s: depends_on[%zu] is neither a resource nor an address", r->addr,
                                    i + 1);
                }
            }
        }
        json_decref(deps);
    }
    if (lc) {
        if (json_is_object(lc)) {
            const char *k;
            json_t *v;
            json_object_foreach(lc, k, v) {
                if (strcmp(k, "prevent_destroy") == 0 && json_is_boolean(v)) {
                    r->prevent_destroy = json_is_true(v);
                } else if (strcmp(k, "create_before_destroy") == 0 && json_is_boolean(v)) {
                    r->create_before_destroy = json_is_true(v);
                } else if (strcmp(k, "ignore_changes") == 0 &&
                           (json_is_array(v) || (json_is_object(v) && !json_object_size(v)))) {
                    size_t i;
                    json_t *p;
                    json_array_foreach(v, i, p) {
                        if (json_is_string(p))
                            strlist_add(&r->ignore_changes, json_string_value(p));
                        else
                            spec_decl_error(ld, r->file, r->line,
                                            "%s: lifecycle.ignore_changes[%zu] must be a path string",
                                            r->addr, i + 1);
                    }
                } else if (strcmp(k, "replace_triggered_by") == 0 &&
                           (json_is_array(v) || (json_is_object(v) && !json_object_size(v)))) {
                    size_t i;
                    json_t *p;
                    json_array_foreach(v, i, p) {
                        const char *a = json_string_value(json_object_get(p, "addr"));
                        const char *path = json_string_value(json_object_get(p, "path"));
                        if (!ref_is_ref(p) || !a) {
                            spec_decl_error(ld, r->file, r->line,
                                            "%s: lifecycle.replace_triggered_by[%zu] must be a resource or "
                                            "one of its attributes (other, other.attr)",
                                            r->addr, i + 1);
                            continue;
                        }
                        strlist_add(&r->rtb_addr, a);
                        strlist_add(&r->rtb_path, path ? path : "");
                        if (!strlist_has(&r->depends_on, a)) strlist_add(&r->depends_on, a);
                    }
                } else {
                    spec_decl_error(ld, r->file, r->line,
                                    "%s: lifecycle.%s is not valid (prevent_destroy and "
                                    "create_before_destroy take booleans, ignore_changes a list of "
                                    "paths, replace_triggered_by a list of resources or attributes)",
                                    r->addr, k);
                }
            }
        } else {
            spec_decl_error(ld, r->file, r->line, "%s: lifecycle must be a table", r->addr);
        }
        json_decref(lc);
    }
}

/* gcp.TYPE "name" { body }: upvalues type, name, file, line. */
/* Appends a resource (takes body, deps and lc). */
static spec_res_t *add_res(spec_ld_t *ld, const char *addr, const char *type, const char *name,
                           const char *file, int line, json_t *body, json_t *deps, json_t *lc) {
    spec_t *s = ld->s;
    if (s->nres == ld->capres) {
        ld->capres = ld->capres ? ld->capres * 2 : 16;
        s->res = xrealloc(s->res, ld->capres * sizeof *s->res);
    }
    spec_res_t *r = &s->res[s->nres++];
    memset(r, 0, sizeof *r);
    r->addr = xstrdup(addr);
    r->type = xstrdup(type);
    r->name = xstrdup(name);
    r->module = ld->prefix ? xstrdup(ld->prefix) : NULL;
    snprintf(r->file, sizeof r->file, "%s", file);
    r->line = line;
    r->body = body;
    res_meta(ld, r, deps, lc);
    return r;
}

/* The sandbox rules of file() for a manifest's file: inside the roots, a
 * regular file within the size cap (the provider's expand reads it). */
static int manifest_file_ok(spec_ld_t *ld, const json_t *body, const char *dir, perr_t *e) {
    const char *f = json_string_value(json_object_get(body, "file"));
    if (!f) return 0;
    char *p = f[0] == '/' ? xstrdup(f) : xasprintf("%s/%s", dir, f), err[PATH_MAX + 200];
    char *r = spec_confined_path(ld, p, err, sizeof err);
    free(p);
    struct stat st;
    if (!r)
        perr_set(e, "", "file \"%s\": %s", f, err);
    else if (stat(r, &st) != 0 || !S_ISREG(st.st_mode))
        perr_set(e, "", "file \"%s\": %s is not a regular file", f, r);
    else if ((size_t)st.st_size > spec_read_cap(ld))
        perr_set(e, "", "file \"%s\": %s is %lld bytes, more than the %zu a spec may read", f, r,
                 (long long)st.st_size, spec_read_cap(ld));
    else {
        free(r);
        return 0;
    }
    free(r);
    return -1;
}

/* A declaration its provider expands into several resources
 * (k8s.manifest "argo" { file = ... }: one k8s.object per YAML document,
 * addressed k8s.manifest.argo["Kind/ns/name"]), each with the
 * declaration's depends_on and lifecycle.  Returns 0 (nothing done, the
 * arguments untouched) when type is not such a declaration; otherwise
 * takes body, deps and lc and pushes to Lua a table key -> reference. */
static int expand_decl(lua_State *L, spec_ld_t *ld, const char *type, const char *addr, const char *file,
                       int line, json_t *body, json_t *deps, json_t *lc) {
    const provider_def_t *p = rtype_provider_of(type);
    if (!p || !p->expand) return 0;
    char dir[sizeof((spec_res_t *)0)->file];
    snprintf(dir, sizeof dir, "%s", file);
    json_t *items = NULL;
    perr_t e = {0};
    const char *mdir = dirname(dir);
    /* A file the declaration names obeys the sandbox rules of file(). */
    int rc = manifest_file_ok(ld, body, mdir, &e) != 0 ? -1 : p->expand(type, body, mdir, &items, &e);
    if (rc == 0) return 0;
    lua_newtable(L);
    if (rc < 0) {
        spec_decl_error(ld, file, line, "%s: %s", addr, e.msg);
    } else {
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            const char *key = json_string_value(json_object_get(it, "key"));
            char *a = xasprintf("%s[\"%s\"]", addr, key);
            add_res(ld, a, json_string_value(json_object_get(it, "type")), key, file, line,
                    json_incref(json_object_get(it, "body")), deps ? json_deep_copy(deps) : NULL,
                    lc ? json_deep_copy(lc) : NULL);
            spec_lua_push(L, ref_new(a, ""));
            lua_setfield(L, -2, key);
            free(a);
        }
    }
    json_decref(items);
    json_decref(body);
    json_decref(deps);
    json_decref(lc);
    return 1;
}

static int l_res_body(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    const char *type = lua_tostring(L, lua_upvalueindex(1));
    const char *name = lua_tostring(L, lua_upvalueindex(2));
    const char *file = lua_tostring(L, lua_upvalueindex(3));
    int line = (int)lua_tointeger(L, lua_upvalueindex(4));
    if (lua_type(L, 1) != LUA_TTABLE)
        return spec_raise(L, "%s \"%s\": the body must be a table ({ ... }), got %s", type, name,
                          luaL_typename(L, 1));
    char *addr = ld->prefix ? xasprintf("%s.%s.%s", ld->prefix, type, name) : xasprintf("%s.%s", type, name);
    lua_pushstring(L, addr);
    free(addr);
    addr = (char *)lua_tostring(L, -1); /* anchored on the stack */
    int addr_idx = lua_gettop(L);

    lua_getfield(L, LUA_REGISTRYINDEX, "plinth.addrs");
    if (lua_getfield(L, -1, addr) == LUA_TSTRING) {
        spec_decl_error(ld, file, line, "duplicate resource %s (first declared at %s)", addr,
                        lua_tostring(L, -1));
        spec_lua_push(L, ref_new(addr, ""));
        return 1;
    }
    lua_pop(L, 1);
    lua_pushfstring(L, "%s:%d", file, line);
    lua_setfield(L, -2, addr);
    lua_pop(L, 1);

    perr_t e;
    char what[600];
    snprintf(what, sizeof what, "body of %s", addr);
    json_t *body = spec_conv_to_json(L, 1, what, &e);
    if (!body) {
        spec_decl_error(ld, file, line, "%s", e.msg);
        body = json_object();
    }
    json_t *deps = take_meta(body, "depends_on");
    json_t *lc = take_meta(body, "lifecycle");
    if (expand_decl(L, ld, type, addr, file, line, body, deps, lc)) return 1;
    add_res(ld, addr, type, name, file, line, body, deps, lc);
    spec_lua_push(L, ref_new(lua_tostring(L, addr_idx), ""));
    return 1;
}

static int l_res_name(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    const char *type = lua_tostring(L, lua_upvalueindex(1));
    lua_pushfstring(L, "name of %s", type);
    const char *name = spec_checkname(L, 1, lua_tostring(L, -1));
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    if (!spec_valid_name(name, 1))
        spec_decl_error(ld, file, line,
                        "invalid resource name \"%s\" for %s: use letters, digits, '_' and '-'", name, type);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushstring(L, file);
    lua_pushinteger(L, line);
    lua_pushcclosure(L, l_res_body, 4);
    return 1;
}

/* __index of a namespace table (gcp, k8s, ssh): upvalue 1 = "gcp". */
static int l_ns_index(lua_State *L) {
    const char *ns = lua_tostring(L, lua_upvalueindex(1));
    if (lua_type(L, 2) != LUA_TSTRING || !spec_valid_name(lua_tostring(L, 2), 0))
        return spec_raise(L, "%s: resource type names are identifiers (%s.compute_network)", ns, ns);
    lua_pushfstring(L, "%s.%s", ns, lua_tostring(L, 2));
    lua_pushcclosure(L, l_res_name, 1);
    return 1;
}

static int l_ns_newindex(lua_State *L) {
    return spec_raise(L, "%s is read-only", lua_tostring(L, lua_upvalueindex(1)));
}

static void add_namespace(lua_State *L, const char *ns) {
    if (lua_getglobal(L, ns) == LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    lua_pop(L, 1);
    lua_newtable(L);
    lua_newtable(L);
    lua_pushstring(L, ns);
    lua_pushcclosure(L, l_ns_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, ns);
    lua_pushcclosure(L, l_ns_newindex, 1);
    lua_setfield(L, -2, "__newindex");
    lua_pushliteral(L, "plinth namespace");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setglobal(L, ns);
}

/* Reports keys of the options table at idx that are not in known. */
void spec_check_keys(spec_ld_t *ld, lua_State *L, int idx, const char *const *known, const char *fn,
                     const char *name, const char *file, int line) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int ok = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; known[i]; i++)
                if (strcmp(lua_tostring(L, -1), known[i]) == 0) ok = 1;
        if (!ok) {
            sbuf_t b = {0};
            for (int i = 0; known[i]; i++)
                sbuf_addf(&b, "%s%s", i ? ", " : "", known[i]);
            spec_decl_error(ld, file, line, "%s(\"%s\"): unknown option %s%s%s (known: %s)", fn, name,
                            lua_type(L, -1) == LUA_TSTRING ? "\"" : "",
                            lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1),
                            lua_type(L, -1) == LUA_TSTRING ? "\"" : "", b.s);
            sbuf_free(&b);
        }
    }
}

/* ---- provider, backend, output ---- */

static int l_provider_body(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    spec_t *s = ld->s;
    const char *name = lua_tostring(L, lua_upvalueindex(1));
    const char *file = lua_tostring(L, lua_upvalueindex(2));
    int line = (int)lua_tointeger(L, lua_upvalueindex(3));
    luaL_checktype(L, 1, LUA_TTABLE);
    for (size_t i = 0; i < s->nproviders; i++)
        if (strcmp(s->providers[i].name, name) == 0) {
            spec_decl_error(ld, file, line, "provider \"%s\" is declared twice (first at %s:%d)", name,
                            s->providers[i].file, s->providers[i].line);
            return 0;
        }
    perr_t e;
    char what[300];
    snprintf(what, sizeof what, "provider \"%s\"", name);
    json_t *cfg = spec_conv_to_json(L, 1, what, &e);
    if (!cfg) {
        spec_decl_error(ld, file, line, "%s", e.msg);
        cfg = json_object();
    }
    if (s->nproviders == ld->capprov) {
        ld->capprov = ld->capprov ? ld->capprov * 2 : 4;
        s->providers = xrealloc(s->providers, ld->capprov * sizeof *s->providers);
    }
    spec_provider_t *p = &s->providers[s->nproviders++];
    memset(p, 0, sizeof *p);
    p->name = xstrdup(name);
    p->config = cfg;
    snprintf(p->file, sizeof p->file, "%s", file);
    p->line = line;
    return 0;
}

static int l_backend_body(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    spec_t *s = ld->s;
    const char *type = lua_tostring(L, lua_upvalueindex(1));
    const char *file = lua_tostring(L, lua_upvalueindex(2));
    int line = (int)lua_tointeger(L, lua_upvalueindex(3));
    luaL_checktype(L, 1, LUA_TTABLE);
    if (strcmp(type, "local") != 0 && !rtype_backend(type)) {
        sbuf_t known = {0};
        sbuf_add(&known, "\"local\"");
        for (const provider_def_t *const *p = rtype_providers(); *p; p++)
            if ((*p)->backend) sbuf_addf(&known, " or \"%s\"", (*p)->backend);
        spec_decl_error(ld, file, line, "unknown backend \"%s\" (use %s)", type, known.s);
        sbuf_free(&known);
        return 0;
    }
    if (s->backend) {
        spec_decl_error(ld, file, line, "backend is declared twice");
        return 0;
    }
    perr_t e;
    json_t *cfg = spec_conv_to_json(L, 1, "backend", &e);
    if (!cfg) {
        spec_decl_error(ld, file, line, "%s", e.msg);
        return 0;
    }
    if (ref_contains(cfg)) {
        spec_decl_error(ld, file, line, "backend configuration cannot use references");
        json_decref(cfg);
        return 0;
    }
    free(s->backend_type);
    s->backend_type = xstrdup(type);
    s->backend = cfg;
    return 0;
}

/* provider "gcp" / backend "gcs": returns the body function. */
static int named_block(lua_State *L, lua_CFunction body, const char *what) {
    spec_checkname(L, 1, what);
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    lua_pushvalue(L, 1);
    lua_pushstring(L, file);
    lua_pushinteger(L, line);
    lua_pushcclosure(L, body, 3);
    return 1;
}

static int l_provider(lua_State *L) {
    return named_block(L, l_provider_body, "provider name");
}
static int l_backend(lua_State *L) {
    return named_block(L, l_backend_body, "backend type");
}

static int l_output(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    spec_t *s = ld->s;
    const char *name = spec_checkname(L, 1, "output name");
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    if (!spec_valid_name(name, 1)) {
        spec_decl_error(ld, file, line, "invalid output name \"%s\"", name);
        return 0;
    }
    char *full = ld->prefix ? xasprintf("%s.%s", ld->prefix, name) : xstrdup(name);
    for (size_t i = 0; i < s->noutputs; i++)
        if (strcmp(s->outputs[i].name, full) == 0) {
            spec_decl_error(ld, file, line, "output \"%s\" is declared twice (first at %s:%d)", full,
                            s->outputs[i].file, s->outputs[i].line);
            free(full);
            return 0;
        }
    bool sensitive = false;
    if (lua_type(L, 3) == LUA_TTABLE) {
        static const char *const known[] = {"sensitive", "description", NULL};
        spec_check_keys(ld, L, 3, known, "output", name, file, line);
        lua_getfield(L, 3, "sensitive");
        sensitive = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    perr_t e;
    char what[300];
    snprintf(what, sizeof what, "output \"%s\"", full);
    json_t *v = spec_conv_to_json(L, 2, what, &e);
    if (!v) {
        spec_decl_error(ld, file, line, "%s", e.msg);
        free(full);
        return 0;
    }
    if (s->noutputs == ld->capout) {
        ld->capout = ld->capout ? ld->capout * 2 : 8;
        s->outputs = xrealloc(s->outputs, ld->capout * sizeof *s->outputs);
    }
    spec_output_t *o = &s->outputs[s->noutputs++];
    memset(o, 0, sizeof *o);
    o->name = full;
    o->value = v;
    o->sensitive = sensitive;
    snprintf(o->file, sizeof o->file, "%s", file);
    o->line = line;
    return 0;
}

/* ---- variables ---- */

void spec_decl_open(lua_State *L) {
    lua_register(L, "provider", l_provider);
    lua_register(L, "backend", l_backend);
    lua_register(L, "output", l_output);
}

void spec_decl_namespaces(lua_State *L) {
    for (const provider_def_t *const *p = rtype_providers(); *p; p++)
        if (spec_valid_name((*p)->name, 0)) add_namespace(L, (*p)->name);
}
