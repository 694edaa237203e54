/* spec_file.c: reading files from a spec: Lua chunks (the spec, modules,
 * require()), file() and templatefile(), all relative to the calling file,
 * and the search through the modules directories. */
#include <errno.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/spec_int.h"

char *spec_dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return xstrdup(".");
    if (slash == path) return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

int spec_is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Loads a text chunk from path onto the stack, or raises with the syntax
 * error located in that file. */
void spec_load_chunk(lua_State *L, const char *path) {
    char name[PATH_MAX + 2];
    snprintf(name, sizeof name, "@%s", path);
    size_t len;
    char *src = spec_read_bounded(L, "load", path, path, &len);
    int rc = luaL_loadbufferx(L, src, len, name, "t");
    free(src);
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        char s[256];
        int line = 0;
        const char *rest = spec_split_pos(msg ? msg : "", s, sizeof s, &line);
        lua_pushfstring(L, "\x03%s\x03%d\x03%s", path, line, rest ? rest : msg);
        lua_error(L);
    }
}

/* Path of the file the calling Lua code lives in, resolved against dir. */
char *spec_caller_relative(lua_State *L, const char *path) {
    if (path[0] == '/') return xstrdup(path);
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    char *dir = spec_dir_of(file);
    char *out = strcmp(dir, ".") == 0 ? xstrdup(path) : xasprintf("%s/%s", dir, path);
    free(dir);
    return out;
}

/* Finds name (dots as '/') as <dir>/<name>.lua or <dir>/<name>/init.lua in
 * the modules directories; new path or NULL. */
char *spec_find_module_file(spec_ld_t *ld, const char *name) {
    char *rel = xstrdup(name);
    for (char *c = rel; *c; c++)
        if (*c == '.') *c = '/';
    for (size_t i = 0; i < ld->moddirs.n; i++) {
        char *p = xasprintf("%s/%s.lua", ld->moddirs.v[i], rel);
        if (spec_is_file(p)) {
            free(rel);
            return p;
        }
        free(p);
        p = xasprintf("%s/%s/init.lua", ld->moddirs.v[i], rel);
        if (spec_is_file(p)) {
            free(rel);
            return p;
        }
        free(p);
    }
    free(rel);
    return NULL;
}

void spec_push_moddirs(lua_State *L, spec_ld_t *ld) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < ld->moddirs.n; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addstring(&b, ld->moddirs.v[i]);
    }
    luaL_pushresult(&b);
}

static int l_require(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    spec_ld_t *ld = spec_ld_of(L);
    lua_getfield(L, LUA_REGISTRYINDEX, "plinth.loaded");
    if (lua_getfield(L, -1, name) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    char *p = spec_find_module_file(ld, name);
    if (!p) {
        spec_push_moddirs(L, ld);
        return spec_raise(L,
                          "module '%s' not found: no %s.lua or %s/init.lua in %s (require loads "
                          "Lua source files only)",
                          name, name, name, lua_tostring(L, -1));
    }
    lua_pushstring(L, p);
    free(p);
    spec_load_chunk(L, lua_tostring(L, -1));
    lua_pushstring(L, name);
    lua_pushvalue(L, -3); /* path */
    lua_call(L, 2, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, name); /* loaded[name] */
    return 1;
}

static int push_and_free(lua_State *L) {
    const char *data = lua_touserdata(L, lua_upvalueindex(1));
    lua_pushlstring(L, data, (size_t)lua_tointeger(L, 1));
    return 1;
}

/* Pushes the contents of path (relative to the calling file), or raises
 * naming fn: the file must be inside the sandbox roots, regular, and within
 * the size cap and the spec's memory limit. */
static void push_file(lua_State *L, const char *fn, const char *path) {
    char *p = spec_caller_relative(L, path);
    lua_pushstring(L, p); /* kept on the stack: freed if a check below raises */
    free(p);
    char *r = spec_confine(L, fn, path, lua_tostring(L, -1));
    lua_pushstring(L, r);
    free(r);
    size_t len;
    char *data = spec_read_bounded(L, fn, path, lua_tostring(L, -1), &len);
    lua_pop(L, 2);
    /* pushlstring may raise (memory limit): do not leak data then */
    lua_pushlightuserdata(L, data);
    lua_pushcclosure(L, push_and_free, 1);
    lua_pushinteger(L, (lua_Integer)len);
    int rc = lua_pcall(L, 1, 1, 0);
    free(data);
    if (rc != LUA_OK) lua_error(L);
}

static int l_file(lua_State *L) {
    push_file(L, "file", luaL_checkstring(L, 1));
    return 1;
}

static int l_templatefile(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    int has_vars = !lua_isnoneornil(L, 2);
    if (has_vars) luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    push_file(L, "templatefile", path);
    size_t len;
    const char *t = lua_tolstring(L, 3, &len), *end = t + len;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    int tline = 1;
    for (const char *c = t; c < end;) {
        if (c[0] == '$' && c + 2 < end && c[1] == '$' && c[2] == '{') {
            luaL_addstring(&b, "${");
            c += 3;
            continue;
        }
        if (c[0] == '$' && c + 1 < end && c[1] == '{') {
            const char *close = memchr(c, '}', (size_t)(end - c));
            if (!close) return spec_raise(L, "templatefile(\"%s\"): unclosed ${ at line %d", path, tline);
            const char *a = c + 2, *z = close;
            while (a < z && isspace((unsigned char)*a))
                a++;
            while (z > a && isspace((unsigned char)z[-1]))
                z--;
            lua_pushlstring(L, a, (size_t)(z - a));
            if (!has_vars || lua_getfield(L, 2, lua_tostring(L, -1)) == LUA_TNIL)
                return spec_raise(L, "templatefile(\"%s\"): variable \"%s\" is not set (line %d)", path,
                                  lua_tostring(L, has_vars ? -2 : -1), tline);
            luaL_tolstring(L, -1, NULL);
            lua_remove(L, -2);
            lua_remove(L, -2);
            luaL_addvalue(&b);
            c = close + 1;
            continue;
        }
        if (*c == '\n') tline++;
        luaL_addchar(&b, *c);
        c++;
    }
    luaL_pushresult(&b);
    return 1;
}

void spec_file_open(lua_State *L) {
    lua_register(L, "require", l_require);
    lua_register(L, "file", l_file);
    lua_register(L, "templatefile", l_templatefile);
}
