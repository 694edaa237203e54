/* spec_sandbox.c: the sandboxed Lua state a spec runs in: memory and
 * instruction limits, the standard library cut down to what cannot touch
 * the system (no io, no os.execute, text chunks only), error locations
 * ("file:line" of the spec line that caused an error) and running a file
 * in protected mode.  The globals a spec declares with live in
 * spec_file.c, spec_decl.c, spec_var.c and spec_module.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lualib.h>

#include "core/spec_int.h"

/* ---- memory and instruction limits ---- */

void *spec_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
    spec_ld_t *ld = ud;
    size_t old = ptr ? osize : 0;
    if (nsize == 0) {
        ld->mem -= old;
        free(ptr);
        return NULL;
    }
    if (nsize > old && ld->mem + (nsize - old) > ld->mem_limit) return NULL;
    void *p = realloc(ptr, nsize);
    if (!p) return NULL;
    ld->mem = ld->mem - old + nsize;
    return p;
}

void spec_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    spec_ld_t *ld = spec_ld_of(L);
    if (++ld->hooks > ld->hook_limit)
        spec_raise(L, "the spec ran more than %d million Lua instructions (an endless loop?)",
                   (int)ld->hook_limit);
}

/* ---- error locations ---- */

void spec_where(lua_State *L, int level, char *file, size_t fsz, int *line) {
    lua_Debug ar;
    for (int lv = level; lua_getstack(L, lv, &ar); lv++) {
        if (!lua_getinfo(L, "Sl", &ar) || ar.currentline <= 0) continue;
        snprintf(file, fsz, "%s", ar.source[0] == '@' ? ar.source + 1 : ar.short_src);
        *line = ar.currentline;
        return;
    }
    snprintf(file, fsz, "%s", spec_ld_of(L)->s->path);
    *line = 0;
}

void spec_where_str(lua_State *L, char *buf, size_t n) {
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    if (line)
        snprintf(buf, n, "%s:%d", file, line);
    else
        snprintf(buf, n, "%s", file);
}

int spec_raise(lua_State *L, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    return lua_error(L);
}

/* Splits Lua's "src:N: msg" position prefix off msg; returns the rest, or
 * NULL when msg has none. */
const char *spec_split_pos(const char *msg, char *src, size_t n, int *line) {
    for (const char *c = strchr(msg, ':'); c; c = strchr(c + 1, ':')) {
        const char *d = c + 1;
        if (!isdigit((unsigned char)*d)) continue;
        while (isdigit((unsigned char)*d)) d++;
        if (d[0] != ':' || d[1] != ' ') continue;
        if (memchr(msg, '\n', (size_t)(c - msg))) return NULL;
        snprintf(src, n, "%.*s", (int)(c - msg), msg);
        *line = atoi(c + 1);
        return d + 2;
    }
    return NULL;
}

/* Message handler: turns any error into "\x03file\x03line\x03message"
 * located at the spec line that caused it; already located messages pass
 * through. */
static int l_msgh(lua_State *L) {
    const char *msg = lua_tostring(L, 1);
    if (!msg) {
        if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING)
            msg = lua_tostring(L, -1);
        else
            msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    if (msg[0] == '\x03') {
        lua_pushstring(L, msg);
        return 1;
    }
    char file[256], src[256];
    int line = 0;
    const char *rest = spec_split_pos(msg, src, sizeof src, &line);
    if (rest) { /* find the frame whose short_src the prefix names */
        lua_Debug ar;
        snprintf(file, sizeof file, "%s", src);
        for (int lv = 1; lua_getstack(L, lv, &ar); lv++) {
            if (lua_getinfo(L, "S", &ar) && strcmp(ar.short_src, src) == 0) {
                snprintf(file, sizeof file, "%s",
                         ar.source[0] == '@' ? ar.source + 1 : ar.short_src);
                break;
            }
        }
    } else {
        rest = msg;
        spec_where(L, 1, file, sizeof file, &line);
    }
    lua_pushfstring(L, "\x03%s\x03%d\x03%s", file, line, rest);
    return 1;
}

/* Adds the error on top of the stack (from l_msgh, or a load error) to the
 * diagnostics. */
void spec_add_lua_error(spec_ld_t *ld, int status, const char *fallback_file) {
    const char *msg = lua_tostring(ld->L, -1);
    if (status == LUA_ERRMEM) {
        diag_add(ld->diags, fallback_file, "the spec needs more than %zu MiB of memory",
                 ld->mem_limit >> 20);
        return;
    }
    if (!msg) msg = "(error object is not a string)";
    if (msg[0] == '\x03') {
        const char *a = msg + 1, *b = strchr(a, '\x03'), *c = b ? strchr(b + 1, '\x03') : NULL;
        if (b && c) {
            int line = atoi(b + 1);
            char where[300];
            if (line)
                snprintf(where, sizeof where, "%.*s:%d", (int)(b - a), a, line);
            else
                snprintf(where, sizeof where, "%.*s", (int)(b - a), a);
            diag_add(ld->diags, where, "%s", c + 1);
            return;
        }
    }
    char src[256];
    int line = 0;
    const char *rest = spec_split_pos(msg, src, sizeof src, &line);
    if (rest) {
        char where[300];
        snprintf(where, sizeof where, "%s:%d", fallback_file, line);
        diag_add(ld->diags, where, "%s", rest);
    } else {
        diag_add(ld->diags, fallback_file, "%s", msg);
    }
}

void spec_decl_error(spec_ld_t *ld, const char *file, int line, const char *fmt, ...) {
    char where[300], msg[2048];
    snprintf(where, sizeof where, "%s:%d", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_add(ld->diags, where, "%s", msg);
}

/* ---- loading Lua files ---- */

/* load() restricted to text chunks. */
static int l_load(lua_State *L) {
    int n = lua_gettop(L);
    lua_settop(L, 4);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushliteral(L, "t");
    if (n >= 4) lua_pushvalue(L, 4);
    lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
    return lua_gettop(L) - 4;
}

static int l_print(lua_State *L) {
    (void)L; /* library code never writes to the terminal */
    return 0;
}

/* __index of the os table and of _G: names a spec cannot use fail with a
 * clear message instead of "attempt to call a nil value". */
static int l_os_index(lua_State *L) {
    return spec_raise(L,
                      "os.%s is not available in a spec (only os.time, os.date, os.clock and "
                      "os.getenv are)",
                      luaL_optstring(L, 2, "?"));
}

static int l_g_index(lua_State *L) {
    static const char *const banned[] = {"io", "debug", "package", "dofile", "loadfile", NULL};
    const char *k = lua_tostring(L, 2);
    for (int i = 0; k && banned[i]; i++)
        if (strcmp(k, banned[i]) == 0)
            return spec_raise(L,
                              "%s is not available in a spec: specs cannot write files, run "
                              "programs or load C code (use file(), templatefile(), require())",
                              k);
    return 0;
}

/* ---- setting up the state ---- */

int spec_setup(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    luaL_requiref(L, LUA_GNAME, luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 1);
    luaL_requiref(L, "plinth.os", luaopen_os, 0);
    lua_settop(L, 0);

    /* os: only what cannot touch the system */
    lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    lua_getfield(L, -1, "plinth.os");
    lua_newtable(L);
    static const char *const os_keep[] = {"time", "date", "clock", "getenv"};
    for (size_t i = 0; i < sizeof os_keep / sizeof *os_keep; i++) {
        lua_getfield(L, -2, os_keep[i]);
        lua_setfield(L, -2, os_keep[i]);
    }
    lua_newtable(L);
    lua_pushcfunction(L, l_os_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_setglobal(L, "os");
    lua_pushnil(L);
    lua_setfield(L, -3, "plinth.os");
    lua_settop(L, 0);

    static const char *const drop[] = {"dofile", "loadfile"};
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++) {
        lua_pushnil(L);
        lua_setglobal(L, drop[i]);
    }
    lua_getglobal(L, "string");
    lua_pushnil(L);
    lua_setfield(L, -2, "dump");
    lua_getfield(L, -1, "format");
    lua_setglobal(L, "fmt");
    lua_pop(L, 1);
    lua_getglobal(L, "load");
    lua_pushcclosure(L, l_load, 1);
    lua_setglobal(L, "load");

    lua_register(L, "print", l_print);
    spec_file_open(L);
    spec_decl_open(L);
    spec_var_open(L);
    spec_module_open(L);
    lua_pushglobaltable(L);
    lua_newtable(L);
    lua_pushcfunction(L, l_g_index);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pop(L, 1);

    lua_newtable(L);
    lua_pushstring(L, ld->opts && ld->opts->env_name ? ld->opts->env_name : "default");
    lua_setfield(L, -2, "env");
    lua_pushliteral(L, PLINTH_VERSION);
    lua_setfield(L, -2, "version");
    lua_setglobal(L, "plinth");

    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "plinth.loaded");
    lua_newtable(L);
    lua_setfield(L, LUA_REGISTRYINDEX, "plinth.addrs");

    spec_lua_open(L);
    spec_decl_namespaces(L);
    return 0;
}

/* Runs the file at path (pushed as argument 1) in protected mode; returns
 * the status. On success the chunk's first result is on the stack. */
static int l_runfile(lua_State *L) {
    spec_load_chunk(L, lua_tostring(L, 1));
    lua_call(L, 0, 1);
    return 1;
}

int spec_protected_run(spec_ld_t *ld, const char *path) {
    lua_State *L = ld->L;
    lua_pushcfunction(L, l_msgh);
    int h = lua_gettop(L);
    lua_pushcfunction(L, l_runfile);
    lua_pushstring(L, path);
    int rc = lua_pcall(L, 1, 1, h);
    if (rc != LUA_OK) {
        spec_add_lua_error(ld, rc, path);
        lua_settop(L, h - 1);
        return -1;
    }
    lua_remove(L, h);
    return 0;
}
