/* spec_sandbox.c: the sandboxed Lua state a spec runs in: memory and
 * instruction limits, the standard library cut down to what cannot touch
 * the system (no io, no os.execute, text chunks only), error locations
 * ("file:line" of the spec line that caused an error) and running a file
 * in protected mode.  The globals a spec declares with live in
 * spec_file.c, spec_decl.c, spec_var.c and spec_module.c. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    spec_check_time(L);
}

/* ---- time budget and stop signals ----
 * The count hook only runs between Lua instructions; C code that loops
 * (pattern matching, spec_pattern.c) calls spec_time_left itself. */

int spec_time_left(spec_ld_t *ld) {
    if (ld->opts && ld->opts->stop && *ld->opts->stop) return 0;
    return util_now_ms() < ld->deadline_ms;
}

void spec_check_time(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    if (ld->opts && ld->opts->stop && *ld->opts->stop) spec_raise(L, "interrupted while loading the spec");
    if (util_now_ms() >= ld->deadline_ms)
        spec_raise(L,
                   "loading the spec took longer than %d ms (an endless loop or a pattern that "
                   "backtracks without end?)",
                   (int)ld->time_limit_ms);
}

/* ---- reading files ---- */

#define FILE_CAP ((size_t)64 << 20) /* largest file a spec may read */

static void add_root(spec_ld_t *ld, const char *dir) {
    char r[PATH_MAX];
    if (dir && realpath(dir, r) && !strlist_has(&ld->roots, r)) strlist_add(&ld->roots, r);
}

void spec_roots_init(spec_ld_t *ld) {
    add_root(ld, ld->s->dir);
    for (size_t i = 0; i < ld->moddirs.n; i++)
        add_root(ld, ld->moddirs.v[i]);
    for (size_t i = 0; ld->opts && i < ld->opts->allow_read.n; i++)
        add_root(ld, ld->opts->allow_read.v[i]);
}

char *spec_confined_path(spec_ld_t *ld, const char *path, char *err, size_t errlen) {
    char r[PATH_MAX];
    if (!realpath(path, r)) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    for (size_t i = 0; i < ld->roots.n; i++) {
        const char *root = ld->roots.v[i];
        size_t n = strlen(root);
        if (strncmp(r, root, n) == 0 && (r[n] == '/' || r[n] == '\0' || (n == 1 && root[0] == '/')))
            return xstrdup(r);
    }
    snprintf(err, errlen,
             "%s is outside the spec's directory and the modules directories; a spec may only "
             "read files there (widen with --allow-read DIR)",
             r);
    return NULL;
}

char *spec_confine(lua_State *L, const char *fn, const char *shown, const char *path) {
    char err[PATH_MAX + 200];
    char *r = spec_confined_path(spec_ld_of(L), path, err, sizeof err);
    if (!r) spec_raise(L, "%s(\"%s\"): %s", fn, shown, err);
    return r;
}

size_t spec_read_cap(spec_ld_t *ld) {
    size_t left = ld->mem < ld->mem_limit ? ld->mem_limit - ld->mem : 0;
    return left < FILE_CAP ? left : FILE_CAP;
}

char *spec_read_bounded(lua_State *L, const char *fn, const char *shown, const char *path, size_t *len) {
    spec_ld_t *ld = spec_ld_of(L);
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) spec_raise(L, "%s(\"%s\"): cannot read %s: %s", fn, shown, path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        spec_raise(L, "%s(\"%s\"): %s is not a regular file", fn, shown, path);
    }
    size_t cap = spec_read_cap(ld);
    char msg[PATH_MAX + 200];
    if ((uint64_t)st.st_size > cap) {
        close(fd);
        snprintf(msg, sizeof msg, "%s is %lld bytes, more than the %zu bytes a spec may read%s", path,
                 (long long)st.st_size, cap, cap < FILE_CAP ? " (spec memory limit)" : "");
        spec_raise(L, "%s(\"%s\"): %s", fn, shown, msg);
    }
    /* st_size can lie (files under /proc say 0): the cap bounds the read. */
    size_t n = 0, sz = (size_t)st.st_size + 1;
    char *buf = xmalloc(sz + 1);
    for (;;) {
        if (n == sz) {
            if (sz > cap) break;
            sz = sz * 2 > cap + 1 ? cap + 1 : sz * 2;
            buf = xrealloc(buf, sz + 1);
        }
        ssize_t r = read(fd, buf + n, sz - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (n > cap) {
        free(buf);
        snprintf(msg, sizeof msg, "%s is larger than the %zu bytes a spec may read", path, cap);
        spec_raise(L, "%s(\"%s\"): %s", fn, shown, msg);
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* os.getenv: a spec from a pull request must not read the credentials
 * plinth runs with, so only PLINTH_VAR_* and names given with --allow-env
 * are visible. */
static int l_getenv(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    spec_ld_t *ld = spec_ld_of(L);
    if (strncmp(name, "PLINTH_VAR_", 11) != 0 && !(ld->opts && strlist_has(&ld->opts->allow_env, name)))
        return spec_raise(L,
                          "os.getenv(\"%s\"): a spec sees only PLINTH_VAR_* variables and those "
                          "named with --allow-env %s",
                          name, name);
    const char *v = getenv(name);
    if (v)
        lua_pushstring(L, v);
    else
        lua_pushnil(L);
    return 1;
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
        while (isdigit((unsigned char)*d))
            d++;
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
                snprintf(file, sizeof file, "%s", ar.source[0] == '@' ? ar.source + 1 : ar.short_src);
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
        diag_add(ld->diags, fallback_file, "the spec needs more than %zu MiB of memory", ld->mem_limit >> 20);
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
    static const char *const os_keep[] = {"time", "date", "clock"};
    for (size_t i = 0; i < sizeof os_keep / sizeof *os_keep; i++) {
        lua_getfield(L, -2, os_keep[i]);
        lua_setfield(L, -2, os_keep[i]);
    }
    lua_pushcfunction(L, l_getenv);
    lua_setfield(L, -2, "getenv");
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
    spec_pattern_open(L);
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
