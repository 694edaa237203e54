/* spec_lua.c: deferred values (references, concatenations) as Lua userdata.
 *
 * A resource proxy is a reference with path "" to the whole resource;
 * indexing a reference extends its path.  `..` builds a concatenation.
 * Lua cannot hand a userdata through string.format/table.concat/gsub, so
 * __tostring returns a marker "\x01@<n>\x02" (unchanged by upper/lower) registered in the load
 * context; strings holding markers are split back into concatenations when
 * converted to JSON (spec_conv.c).  Arithmetic, ordering and # raise an
 * error: the value exists only after apply.  Truthiness cannot be trapped
 * (Lua has no metamethod for it): `if ref then` is always true. */
#include <stdio.h>
#include <string.h>

#include "core/ref.h"
#include "core/spec_int.h"

#define VAL_MT "plinth.ref"

typedef struct spec_val {
    json_t *j;     /* ref or concat, owned */
    size_t marker; /* 0 = none yet, else index + 1 */
} spec_val_t;

void spec_lua_push(lua_State *L, json_t *v) {
    spec_val_t *u = lua_newuserdatauv(L, sizeof *u, 0);
    u->j = v;
    u->marker = 0;
    luaL_setmetatable(L, VAL_MT);
}

json_t *spec_lua_get(lua_State *L, int idx) {
    spec_val_t *u = luaL_testudata(L, idx, VAL_MT);
    return u ? u->j : NULL;
}

json_t *spec_lua_marker(spec_ld_t *ld, size_t n) {
    return n < ld->nmarkers ? ld->markers[n] : NULL;
}

static spec_val_t *check(lua_State *L, int idx) {
    return luaL_checkudata(L, idx, VAL_MT);
}

static int val_gc(lua_State *L) {
    spec_val_t *u = check(L, 1);
    json_decref(u->j);
    u->j = NULL;
    return 0;
}

/* A string method called on a deferred string ((a .. ref):gsub(...)):
 * upvalue 1 is the string function; the value goes in as its marker. */
static int val_strmethod(lua_State *L) {
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    for (int i = 1; i <= n; i++) {
        if (i == 1 && spec_lua_get(L, 1))
            luaL_tolstring(L, 1, NULL);
        else
            lua_pushvalue(L, i);
    }
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L) - n;
}

static int val_index(lua_State *L) {
    spec_val_t *u = check(L, 1);
    if (!ref_is_ref(u->j) && lua_type(L, 2) == LUA_TSTRING) {
        lua_getglobal(L, "string");
        if (lua_type(L, -1) == LUA_TTABLE && lua_getfield(L, -1, lua_tostring(L, 2)) == LUA_TFUNCTION) {
            lua_pushcclosure(L, val_strmethod, 1);
            return 1;
        }
        lua_settop(L, 2);
    }
    char *d = ref_describe(u->j);
    if (!ref_is_ref(u->j)) {
        lua_pushstring(L, d);
        free(d);
        return spec_raise(L, "cannot index the deferred string %s", lua_tostring(L, -1));
    }
    char key[64];
    const char *k;
    if (lua_type(L, 2) == LUA_TNUMBER && lua_isinteger(L, 2)) {
        lua_Integer i = lua_tointeger(L, 2);
        if (i < 1) {
            lua_pushstring(L, d);
            free(d);
            return spec_raise(L, "index %lld of %s: Lua lists start at 1", (long long)i, lua_tostring(L, -1));
        }
        snprintf(key, sizeof key, "%lld", (long long)(i - 1));
        k = key;
    } else if (lua_type(L, 2) == LUA_TSTRING) {
        k = lua_tostring(L, 2);
        if (!*k || strchr(k, '.') || strchr(k, '\x01')) {
            lua_pushstring(L, d);
            free(d);
            return spec_raise(L, "invalid attribute name \"%s\" on %s", k, lua_tostring(L, -1));
        }
    } else {
        lua_pushstring(L, d);
        free(d);
        return spec_raise(L, "cannot index %s with a %s", lua_tostring(L, -1), luaL_typename(L, 2));
    }
    free(d);
    const char *addr = json_string_value(json_object_get(u->j, "addr"));
    const char *path = json_string_value(json_object_get(u->j, "path"));
    char *np = path && *path ? xasprintf("%s.%s", path, k) : xstrdup(k);
    spec_lua_push(L, ref_new(addr, np));
    free(np);
    return 1;
}

static int val_newindex(lua_State *L) {
    char *d = ref_describe(check(L, 1)->j);
    lua_pushstring(L, d);
    free(d);
    return spec_raise(L, "cannot assign to a field of %s: it is known only after apply", lua_tostring(L, -1));
}

/* One operand of `..` as a concat part (new), or NULL with e set. */
static json_t *operand(lua_State *L, int idx, perr_t *e) {
    json_t *j = spec_lua_get(L, idx);
    if (j) return json_incref(j);
    size_t n;
    lua_pushvalue(L, idx);
    const char *s = lua_tolstring(L, -1, &n); /* Lua's own number format */
    json_t *r = spec_conv_string(spec_ld_of(L), s, n, e);
    lua_pop(L, 1);
    return r;
}

static int val_concat(lua_State *L) {
    for (int i = 1; i <= 2; i++)
        if (!spec_lua_get(L, i) && lua_type(L, i) != LUA_TSTRING && lua_type(L, i) != LUA_TNUMBER)
            return spec_raise(L, "attempt to concatenate a %s value with a reference", luaL_typename(L, i));
    json_t *parts = json_array();
    perr_t e;
    for (int i = 1; i <= 2; i++) {
        json_t *p = operand(L, i, &e);
        if (!p) {
            json_decref(parts);
            return spec_raise(L, "%s", e.msg);
        }
        json_array_append_new(parts, p);
    }
    json_t *r = ref_concat_new(parts);
    if (json_is_string(r)) {
        lua_pushstring(L, json_string_value(r));
        json_decref(r);
    } else {
        spec_lua_push(L, r);
    }
    return 1;
}

/* Registers v (a reference) as a marker; returns its number. */
static size_t add_marker(spec_ld_t *ld, json_t *v) {
    if (ld->nmarkers == ld->capmarkers) {
        ld->capmarkers = ld->capmarkers ? ld->capmarkers * 2 : 16;
        ld->markers = xrealloc(ld->markers, ld->capmarkers * sizeof *ld->markers);
    }
    ld->markers[ld->nmarkers++] = json_incref(v);
    return ld->nmarkers - 1;
}

/* A reference becomes one marker; a concatenation keeps its literal text
 * visible (so gsub/find/upper work on it) with a marker per reference. */
static int val_tostring(lua_State *L) {
    spec_val_t *u = check(L, 1);
    spec_ld_t *ld = spec_ld_of(L);
    if (ref_is_ref(u->j)) {
        if (!u->marker) u->marker = add_marker(ld, u->j) + 1;
        lua_pushfstring(L, SPEC_MARK "%d\x02", (int)(u->marker - 1));
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(u->j, "parts"), i, p) {
        if (json_is_string(p)) {
            luaL_addlstring(&b, json_string_value(p), json_string_length(p));
        } else {
            char m[40];
            snprintf(m, sizeof m, SPEC_MARK "%zu\x02", add_marker(ld, p));
            luaL_addstring(&b, m);
        }
    }
    luaL_pushresult(&b);
    return 1;
}

/* Operand of an arithmetic/ordering metamethod that is a deferred value. */
static int val_number(lua_State *L) {
    json_t *j = spec_lua_get(L, 1);
    if (!j) j = spec_lua_get(L, 2);
    char *d = ref_describe(j);
    lua_pushstring(L, d);
    free(d);
    return spec_raise(L, "reference %s used as a number: its value is known only after apply",
                      lua_tostring(L, -1));
}

static int val_call(lua_State *L) {
    char *d = ref_describe(check(L, 1)->j);
    lua_pushstring(L, d);
    free(d);
    return spec_raise(L,
                      "reference %s called as a function (a resource constructor is called "
                      "as gcp.TYPE \"name\" { ... })",
                      lua_tostring(L, -1));
}

void spec_lua_open(lua_State *L) {
    static const luaL_Reg mt[] = {
        {"__gc", val_gc},         {"__index", val_index},       {"__newindex", val_newindex},
        {"__concat", val_concat}, {"__tostring", val_tostring}, {"__call", val_call},
        {"__add", val_number},    {"__sub", val_number},        {"__mul", val_number},
        {"__div", val_number},    {"__mod", val_number},        {"__pow", val_number},
        {"__unm", val_number},    {"__idiv", val_number},       {"__band", val_number},
        {"__bor", val_number},    {"__bxor", val_number},       {"__shl", val_number},
        {"__shr", val_number},    {"__bnot", val_number},       {"__lt", val_number},
        {"__le", val_number},     {"__len", val_number},        {NULL, NULL},
    };
    luaL_newmetatable(L, VAL_MT);
    luaL_setfuncs(L, mt, 0);
    lua_pushliteral(L, "plinth.ref");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}
