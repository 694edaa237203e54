/* spec_module.c: module "name" { source = ..., inputs }: runs a module
 * file under an address prefix (module.a.module.b) and returns its
 * outputs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/spec_int.h"

static int l_restore_prefix(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    ld->prefix = lua_touserdata(L, lua_upvalueindex(1));
    return 0;
}

/* Pushes a to-be-closed value that sets the module prefix back to saved. */
static void push_prefix_closer(lua_State *L, const char *saved) {
    lua_newtable(L);
    lua_newtable(L);
    lua_pushlightuserdata(L, (void *)saved);
    lua_pushcclosure(L, l_restore_prefix, 1);
    lua_setfield(L, -2, "__close");
    lua_setmetatable(L, -2);
    lua_toclose(L, -1);
}

/* Runs module `name` from the table at idx; pushes its outputs. */
/* A module's inputs are a proxy over the real table, so that plinth knows
 * which inputs the module read: upvalue 1 = the real table, 2 = the set of
 * names read (or set). */
static void mark(lua_State *L, int key) {
    if (lua_type(L, key) != LUA_TSTRING) return;
    lua_pushvalue(L, key);
    lua_pushboolean(L, 1);
    lua_settable(L, lua_upvalueindex(2));
}

static int l_inputs_index(lua_State *L) {
    mark(L, 2);
    lua_pushvalue(L, 2);
    lua_gettable(L, lua_upvalueindex(1));
    return 1;
}

static int l_inputs_newindex(lua_State *L) {
    mark(L, 2);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 3);
    lua_settable(L, lua_upvalueindex(1));
    return 0;
}

/* Converting the inputs whole (a body, an output: spec_conv.c) uses every
 * one of them; iterating them does not (util.inputs iterates to check). */
#define ALL_READ "\001all"

static int l_inputs_pairs(lua_State *L) {
    lua_getglobal(L, "next");
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushnil(L);
    return 3;
}

static int l_inputs_len(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)luaL_len(L, lua_upvalueindex(1)));
    return 1;
}

/* Pushes a proxy for the real table at index real; read is the set. */
static void push_inputs_proxy(lua_State *L, int real, int read) {
    static const struct {
        const char *name;
        lua_CFunction fn;
    } mm[] = {{"__index", l_inputs_index},
              {"__newindex", l_inputs_newindex},
              {"__pairs", l_inputs_pairs},
              {"__len", l_inputs_len}};
    lua_newtable(L);
    lua_newtable(L);
    for (size_t i = 0; i < sizeof mm / sizeof *mm; i++) {
        lua_pushvalue(L, real);
        lua_pushvalue(L, read);
        lua_pushcclosure(L, mm[i].fn, 2);
        lua_setfield(L, -2, mm[i].name);
    }
    lua_pushvalue(L, real);
    lua_setfield(L, -2, "__plinth_inputs");
    lua_pushvalue(L, read);
    lua_setfield(L, -2, "__plinth_read");
    lua_setmetatable(L, -2);
}

/* An input given but never read by the module is a mistake: reported
 * with the closest name the module read ("did you mean"), without
 * stopping the load. */
static void check_inputs(lua_State *L, spec_ld_t *ld, const char *name, int inputs, int read,
                         const char *file, int line) {
    bool all = lua_getfield(L, read, ALL_READ) != LUA_TNIL;
    lua_pop(L, 1);
    lua_pushnil(L);
    while (lua_next(L, inputs)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) continue;
        lua_pushvalue(L, -1);
        int was_read = lua_gettable(L, read) != LUA_TNIL;
        lua_pop(L, 1);
        if (was_read) continue;
        const char *given = lua_tostring(L, -1), *best = NULL;
        size_t bd = 4;
        lua_pushnil(L);
        while (lua_next(L, read)) {
            lua_pop(L, 1);
            if (!strcmp(lua_tostring(L, -1), ALL_READ)) continue;
            size_t d = util_edit_distance(given, lua_tostring(L, -1));
            if (d < bd) bd = d, best = lua_tostring(L, -1);
        }
        /* Without a close name it may be forwarded or iterated: the
         * module's own checks (util.inputs) judge it. */
        if (best && !all)
            spec_decl_error(ld, file, line, "module \"%s\": unknown input '%s' (did you mean '%s'?)", name,
                            given, best);
    }
}

/* __index of a module's outputs: a name close to an output is a typo (an
 * error with "did you mean"); other names are nil, for optional outputs.
 * upvalue 1 = the module's name. */
static int l_outputs_index(lua_State *L) {
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    const char *want = lua_tostring(L, 2), *best = NULL;
    size_t bd = 3;
    lua_pushnil(L);
    while (lua_next(L, 1)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) continue;
        size_t d = util_edit_distance(want, lua_tostring(L, -1));
        if (d < bd) bd = d, best = lua_tostring(L, -1);
    }
    if (!best) return 0;
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    spec_decl_error(spec_ld_of(L), file, line, "module \"%s\" has no output '%s'; did you mean '%s'?",
                    lua_tostring(L, lua_upvalueindex(1)), want, best);
    return 0;
}

static int run_module(lua_State *L, const char *name, int idx, const char *file, int line) {
    spec_ld_t *ld = spec_ld_of(L);
    idx = lua_absindex(L, idx);
    if (lua_getfield(L, idx, "source") != LUA_TSTRING)
        return spec_raise(L, "module \"%s\": source must be a string naming a module file", name);
    const char *source = lua_tostring(L, -1);
    if (!spec_valid_name(name, 1)) {
        spec_decl_error(ld, file, line, "invalid module name \"%s\"", name);
        lua_newtable(L);
        return 1;
    }
    char *full = ld->prefix ? xasprintf("%s.module.%s", ld->prefix, name) : xasprintf("module.%s", name);
    if (strlist_has(&ld->modules, full)) {
        spec_decl_error(ld, file, line, "module \"%s\" is declared twice%s%s", name, ld->prefix ? " in " : "",
                        ld->prefix ? ld->prefix : "");
        free(full);
        lua_newtable(L);
        return 1;
    }
    strlist_add_own(&ld->modules, full);
    char *path;
    if (source[0] == '/' || strncmp(source, "./", 2) == 0 || strncmp(source, "../", 3) == 0) {
        char *p = spec_caller_relative(L, source);
        size_t n = strlen(p);
        path = n > 4 && strcmp(p + n - 4, ".lua") == 0 ? xstrdup(p) : xasprintf("%s.lua", p);
        free(p);
        if (!spec_is_file(path)) {
            lua_pushstring(L, path);
            free(path);
            return spec_raise(L, "module \"%s\": no module file %s", name, lua_tostring(L, -1));
        }
        lua_pushstring(L, path); /* freed by Lua if the check raises */
        free(path);
        path = spec_confine(L, "module", source, lua_tostring(L, -1));
        lua_pop(L, 1);
    } else {
        path = spec_find_module_file(ld, source);
        if (!path) {
            spec_push_moddirs(L, ld);
            return spec_raise(L, "module \"%s\": source \"%s\" not found in %s", name, source,
                              lua_tostring(L, -1));
        }
    }
    lua_pushstring(L, path);
    free(path);
    int path_idx = lua_gettop(L);
    /* The module file runs inside the prefix too; the to-be-closed slot
     * puts the outer prefix back however this frame is left (return, or an
     * error caught by a pcall in the spec). */
    push_prefix_closer(L, ld->prefix);
    ld->prefix = full;
    spec_load_chunk(L, lua_tostring(L, path_idx));
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TFUNCTION)
        return spec_raise(L, "module \"%s\": %s must return a function(inputs), got %s", name,
                          lua_tostring(L, path_idx), luaL_typename(L, -1));
    /* A module body that is another module's inputs: its real table. */
    if (lua_getmetatable(L, idx)) {
        if (lua_getfield(L, -1, "__plinth_inputs") == LUA_TTABLE)
            lua_replace(L, idx);
        else
            lua_pop(L, 1);
        lua_pop(L, 1);
    }
    lua_newtable(L); /* inputs: everything but source */
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING && !strcmp(lua_tostring(L, -2), "source")) {
            lua_pop(L, 1);
            continue;
        }
        lua_pushvalue(L, -2);
        lua_insert(L, -2);
        lua_settable(L, -4);
    }
    int inputs = lua_gettop(L);
    lua_newtable(L); /* the names the module reads */
    int read = lua_gettop(L);
    lua_pushvalue(L, inputs - 1); /* the module function */
    push_inputs_proxy(L, inputs, read);
    lua_call(L, 1, 1);
    check_inputs(L, ld, name, inputs, read, file, line);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    if (lua_type(L, -1) == LUA_TTABLE && !lua_getmetatable(L, -1)) {
        lua_newtable(L);
        lua_pushstring(L, name);
        lua_pushcclosure(L, l_outputs_index, 1);
        lua_setfield(L, -2, "__index");
        lua_setmetatable(L, -2);
    } else if (lua_type(L, -1) == LUA_TTABLE) {
        lua_pop(L, 1); /* the module set its own metatable */
    }
    return 1;
}

static int l_module_body(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    return run_module(L, lua_tostring(L, lua_upvalueindex(1)), 1, lua_tostring(L, lua_upvalueindex(2)),
                      (int)lua_tointeger(L, lua_upvalueindex(3)));
}

static int l_module(lua_State *L) {
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    if (lua_type(L, 1) == LUA_TTABLE) {
        if (lua_getfield(L, 1, "name") != LUA_TSTRING) {
            lua_pop(L, 1);
            lua_getfield(L, 1, "source");
        }
        if (lua_type(L, -1) != LUA_TSTRING)
            return spec_raise(L, "module { ... } needs a source (and optionally a name)");
        const char *n = lua_tostring(L, -1);
        const char *slash = strrchr(n, '/');
        return run_module(L, slash ? slash + 1 : n, 1, file, line);
    }
    spec_checkname(L, 1, "module name");
    lua_pushvalue(L, 1);
    lua_pushstring(L, file);
    lua_pushinteger(L, line);
    lua_pushcclosure(L, l_module_body, 3);
    return 1;
}

void spec_module_open(lua_State *L) {
    lua_register(L, "module", l_module);
}
