/* spec.c: loading a platform spec: the sandboxed Lua state, the globals a
 * spec uses (provider, backend, var, output, module, resource constructors,
 * require, file, templatefile), error locations, and the checks made once
 * the spec has run.  Deferred values live in spec_lua.c, conversions in
 * spec_conv.c.  Unknown resource types and depends_on naming undeclared
 * resources are left to validate_spec (core/validate.c), which the engine
 * runs right after loading, so that they are reported together with schema
 * errors. */
#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lualib.h>

#include "core/ref.h"
#include "core/rtype.h"
#include "core/spec_int.h"
#include "providers/k8s/k8s_manifest.h"

#define MEM_LIMIT ((size_t)512 << 20)
#define HOOK_EVERY 1000000 /* instructions between count hooks */
#define HOOK_LIMIT 1000UL  /* => about 1e9 instructions */

static const char *const NAMESPACES[] = {"gcp", "k8s", "ssh"};

spec_ld_t *spec_ld_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

/* ---- memory and instruction limits ---- */

static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
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

static void l_hook(lua_State *L, lua_Debug *ar) {
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
static const char *split_pos(const char *msg, char *src, size_t n, int *line) {
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
    const char *rest = split_pos(msg, src, sizeof src, &line);
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
static void add_lua_error(spec_ld_t *ld, int status, const char *fallback_file) {
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
    const char *rest = split_pos(msg, src, sizeof src, &line);
    if (rest) {
        char where[300];
        snprintf(where, sizeof where, "%s:%d", fallback_file, line);
        diag_add(ld->diags, where, "%s", rest);
    } else {
        diag_add(ld->diags, fallback_file, "%s", msg);
    }
}

static void decl_error(spec_ld_t *ld, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void decl_error(spec_ld_t *ld, const char *file, int line, const char *fmt, ...) {
    char where[300], msg[2048];
    snprintf(where, sizeof where, "%s:%d", file, line);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag_add(ld->diags, where, "%s", msg);
}

/* ---- loading Lua files ---- */

static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return xstrdup(".");
    if (slash == path) return xstrdup("/");
    return xstrndup(path, (size_t)(slash - path));
}

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Loads a text chunk from path onto the stack, or raises with the syntax
 * error located in that file. */
static void load_chunk(lua_State *L, const char *path) {
    char name[PATH_MAX + 2];
    snprintf(name, sizeof name, "@%s", path);
    size_t len;
    perr_t e;
    char *src = util_read_file(path, &len, &e);
    if (!src) spec_raise(L, "cannot read %s: %s", path, strerror(errno));
    int rc = luaL_loadbufferx(L, src, len, name, "t");
    free(src);
    if (rc != LUA_OK) {
        const char *msg = lua_tostring(L, -1);
        char s[256];
        int line = 0;
        const char *rest = split_pos(msg ? msg : "", s, sizeof s, &line);
        lua_pushfstring(L, "\x03%s\x03%d\x03%s", path, line, rest ? rest : msg);
        lua_error(L);
    }
}

/* Path of the file the calling Lua code lives in, resolved against dir. */
static char *caller_relative(lua_State *L, const char *path) {
    if (path[0] == '/') return xstrdup(path);
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    char *dir = dir_of(file);
    char *out = strcmp(dir, ".") == 0 ? xstrdup(path) : xasprintf("%s/%s", dir, path);
    free(dir);
    return out;
}

/* Finds name (dots as '/') as <dir>/<name>.lua or <dir>/<name>/init.lua in
 * the modules directories; new path or NULL. */
static char *find_module_file(spec_ld_t *ld, const char *name) {
    char *rel = xstrdup(name);
    for (char *c = rel; *c; c++)
        if (*c == '.') *c = '/';
    for (size_t i = 0; i < ld->moddirs.n; i++) {
        char *p = xasprintf("%s/%s.lua", ld->moddirs.v[i], rel);
        if (is_file(p)) {
            free(rel);
            return p;
        }
        free(p);
        p = xasprintf("%s/%s/init.lua", ld->moddirs.v[i], rel);
        if (is_file(p)) {
            free(rel);
            return p;
        }
        free(p);
    }
    free(rel);
    return NULL;
}

static void push_moddirs(lua_State *L, spec_ld_t *ld) {
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (size_t i = 0; i < ld->moddirs.n; i++) {
        if (i) luaL_addstring(&b, ", ");
        luaL_addstring(&b, ld->moddirs.v[i]);
    }
    luaL_pushresult(&b);
}

/* ---- sandboxed builtins ---- */

static int l_require(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    spec_ld_t *ld = spec_ld_of(L);
    lua_getfield(L, LUA_REGISTRYINDEX, "plinth.loaded");
    if (lua_getfield(L, -1, name) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    char *p = find_module_file(ld, name);
    if (!p) {
        push_moddirs(L, ld);
        return spec_raise(L,
                          "module '%s' not found: no %s.lua or %s/init.lua in %s (require loads "
                          "Lua source files only)",
                          name, name, name, lua_tostring(L, -1));
    }
    lua_pushstring(L, p);
    free(p);
    load_chunk(L, lua_tostring(L, -1));
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

/* Pushes the contents of path (relative to the calling file), or raises
 * naming fn. */
static void push_file(lua_State *L, const char *fn, const char *path) {
    char *p = caller_relative(L, path);
    size_t len;
    perr_t e;
    char *data = util_read_file(p, &len, &e);
    int ok = data != NULL;
    if (ok)
        lua_pushlstring(L, data, len);
    else
        lua_pushfstring(L, "%s(\"%s\"): cannot read %s: %s", fn, path, p, strerror(errno));
    free(data);
    free(p);
    if (!ok) lua_error(L);
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
            if (!close)
                return spec_raise(L, "templatefile(\"%s\"): unclosed ${ at line %d", path, tline);
            const char *a = c + 2, *z = close;
            while (a < z && isspace((unsigned char)*a)) a++;
            while (z > a && isspace((unsigned char)z[-1])) z--;
            lua_pushlstring(L, a, (size_t)(z - a));
            if (!has_vars || lua_getfield(L, 2, lua_tostring(L, -1)) == LUA_TNIL)
                return spec_raise(L, "templatefile(\"%s\"): variable \"%s\" is not set (line %d)",
                                  path, lua_tostring(L, has_vars ? -2 : -1), tline);
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

/* ---- names ---- */

static int valid_name(const char *s, int allow_dash) {
    if (!s || !*s) return 0;
    for (const char *c = s; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_' && !(allow_dash && *c == '-')) return 0;
    return 1;
}

static const char *checkname(lua_State *L, int idx, const char *what) {
    if (lua_type(L, idx) != LUA_TSTRING) {
        if (spec_lua_get(L, idx))
            spec_raise(L, "%s must be a plain string, not a reference", what);
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
            decl_error(ld, r->file, r->line, "%s: depends_on must be a list of resources", r->addr);
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
                    decl_error(ld, r->file, r->line,
                               "%s: depends_on[%zu] is neither a resource nor an address",
                               r->addr, i + 1);
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
                            decl_error(ld, r->file, r->line,
                                       "%s: lifecycle.ignore_changes[%zu] must be a path string",
                                       r->addr, i + 1);
                    }
                } else {
                    decl_error(ld, r->file, r->line,
                               "%s: lifecycle.%s is not valid (prevent_destroy and "
                               "create_before_destroy take booleans, ignore_changes a list of "
                               "paths)",
                               r->addr, k);
                }
            }
        } else {
            decl_error(ld, r->file, r->line, "%s: lifecycle must be a table", r->addr);
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

/* k8s.manifest "argo" { file = ... }: one k8s.object per YAML document,
 * addressed k8s.manifest.argo["Kind/ns/name"], each with the manifest's
 * depends_on and lifecycle.  Returns to Lua a table key -> reference. */
static int expand_manifest(lua_State *L, spec_ld_t *ld, const char *addr, const char *file, int line,
                           json_t *body, json_t *deps, json_t *lc) {
    char dir[sizeof ((spec_res_t *)0)->file];
    snprintf(dir, sizeof dir, "%s", file);
    json_t *items = NULL;
    perr_t e = {0};
    lua_newtable(L);
    if (k8s_manifest_expand(body, dirname(dir), &items, &e) != 0) {
        decl_error(ld, file, line, "%s: %s", addr, e.msg);
    } else {
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            const char *key = json_string_value(json_object_get(it, "key"));
            char *a = xasprintf("%s[\"%s\"]", addr, key);
            add_res(ld, a, "k8s.object", key, file, line, json_incref(json_object_get(it, "body")),
                    deps ? json_deep_copy(deps) : NULL, lc ? json_deep_copy(lc) : NULL);
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
    char *addr = ld->prefix ? xasprintf("%s.%s.%s", ld->prefix, type, name)
                            : xasprintf("%s.%s", type, name);
    lua_pushstring(L, addr);
    free(addr);
    addr = (char *)lua_tostring(L, -1); /* anchored on the stack */
    int addr_idx = lua_gettop(L);

    lua_getfield(L, LUA_REGISTRYINDEX, "plinth.addrs");
    if (lua_getfield(L, -1, addr) == LUA_TSTRING) {
        decl_error(ld, file, line, "duplicate resource %s (first declared at %s)", addr,
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
        decl_error(ld, file, line, "%s", e.msg);
        body = json_object();
    }
    json_t *deps = take_meta(body, "depends_on");
    json_t *lc = take_meta(body, "lifecycle");
    if (strcmp(type, "k8s.manifest") == 0) return expand_manifest(L, ld, addr, file, line, body, deps, lc);
    add_res(ld, addr, type, name, file, line, body, deps, lc);
    spec_lua_push(L, ref_new(lua_tostring(L, addr_idx), ""));
    return 1;
}

static int l_res_name(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    const char *type = lua_tostring(L, lua_upvalueindex(1));
    lua_pushfstring(L, "name of %s", type);
    const char *name = checkname(L, 1, lua_tostring(L, -1));
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    if (!valid_name(name, 1))
        decl_error(ld, file, line,
                   "invalid resource name \"%s\" for %s: use letters, digits, '_' and '-'", name,
                   type);
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
    if (lua_type(L, 2) != LUA_TSTRING || !valid_name(lua_tostring(L, 2), 0))
        return spec_raise(L, "%s: resource type names are identifiers (%s.compute_network)", ns,
                          ns);
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
static void check_keys(spec_ld_t *ld, lua_State *L, int idx, const char *const *known,
                       const char *fn, const char *name, const char *file, int line) {
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        int ok = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; known[i]; i++)
                if (strcmp(lua_tostring(L, -1), known[i]) == 0) ok = 1;
        if (!ok) {
            sbuf_t b = {0};
            for (int i = 0; known[i]; i++) sbuf_addf(&b, "%s%s", i ? ", " : "", known[i]);
            decl_error(ld, file, line, "%s(\"%s\"): unknown option %s%s%s (known: %s)", fn, name,
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
            decl_error(ld, file, line, "provider \"%s\" is declared twice (first at %s:%d)", name,
                       s->providers[i].file, s->providers[i].line);
            return 0;
        }
    perr_t e;
    char what[300];
    snprintf(what, sizeof what, "provider \"%s\"", name);
    json_t *cfg = spec_conv_to_json(L, 1, what, &e);
    if (!cfg) {
        decl_error(ld, file, line, "%s", e.msg);
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
    if (strcmp(type, "local") != 0 && strcmp(type, "gcs") != 0) {
        decl_error(ld, file, line, "unknown backend \"%s\" (use \"local\" or \"gcs\")", type);
        return 0;
    }
    if (s->backend) {
        decl_error(ld, file, line, "backend is declared twice");
        return 0;
    }
    perr_t e;
    json_t *cfg = spec_conv_to_json(L, 1, "backend", &e);
    if (!cfg) {
        decl_error(ld, file, line, "%s", e.msg);
        return 0;
    }
    if (ref_contains(cfg)) {
        decl_error(ld, file, line, "backend configuration cannot use references");
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
    checkname(L, 1, what);
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    lua_pushvalue(L, 1);
    lua_pushstring(L, file);
    lua_pushinteger(L, line);
    lua_pushcclosure(L, body, 3);
    return 1;
}

static int l_provider(lua_State *L) { return named_block(L, l_provider_body, "provider name"); }
static int l_backend(lua_State *L) { return named_block(L, l_backend_body, "backend type"); }

static int l_output(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    spec_t *s = ld->s;
    const char *name = checkname(L, 1, "output name");
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    if (!valid_name(name, 1)) {
        decl_error(ld, file, line, "invalid output name \"%s\"", name);
        return 0;
    }
    char *full = ld->prefix ? xasprintf("%s.%s", ld->prefix, name) : xstrdup(name);
    for (size_t i = 0; i < s->noutputs; i++)
        if (strcmp(s->outputs[i].name, full) == 0) {
            decl_error(ld, file, line, "output \"%s\" is declared twice (first at %s:%d)", full,
                       s->outputs[i].file, s->outputs[i].line);
            free(full);
            return 0;
        }
    bool sensitive = false;
    if (lua_type(L, 3) == LUA_TTABLE) {
        static const char *const known[] = {"sensitive", "description", NULL};
        check_keys(ld, L, 3, known, "output", name, file, line);
        lua_getfield(L, 3, "sensitive");
        sensitive = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    perr_t e;
    char what[300];
    snprintf(what, sizeof what, "output \"%s\"", full);
    json_t *v = spec_conv_to_json(L, 2, what, &e);
    if (!v) {
        decl_error(ld, file, line, "%s", e.msg);
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
        snprintf(why, n, "is not a %s (give it as JSON: %s)", type, list ? "[\"a\", \"b\"]" :
                 "{\"k\": \"v\"}");
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

static int l_var(lua_State *L) {
    spec_ld_t *ld = spec_ld_of(L);
    spec_t *s = ld->s;
    const char *name = checkname(L, 1, "variable name");
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TTABLE);
    char file[256];
    int line;
    spec_where(L, 1, file, sizeof file, &line);
    /* Declaring a variable again (a module asking for the same setting)
     * gives the same value; only a conflicting type is an error. */
    for (size_t i = 0; i < s->nvars; i++)
        if (strcmp(s->vars[i].name, name) == 0) {
            if (lua_type(L, 2) == LUA_TTABLE && lua_getfield(L, 2, "type") == LUA_TSTRING &&
                strcmp(lua_tostring(L, -1), type_of_json(s->vars[i].value)) != 0)
                decl_error(ld, file, line,
                           "variable \"%s\" is declared again as %s (first at %s:%d as %s)", name,
                           lua_tostring(L, -1), ld->varlocs[i].file, ld->varlocs[i].line,
                           type_of_json(s->vars[i].value));
            spec_conv_push(L, s->vars[i].value);
            return 1;
        }
    int nerr = (int)ld->diags->n;
    if (!valid_name(name, 0)) decl_error(ld, file, line, "invalid variable name \"%s\"", name);
    const char *type = NULL;
    bool sensitive = false;
    json_t *def = NULL;
    if (lua_type(L, 2) == LUA_TTABLE) {
        static const char *const known[] = {"default", "type", "description", "sensitive", NULL};
        check_keys(ld, L, 2, known, "var", name, file, line);
        if (lua_getfield(L, 2, "type") != LUA_TNIL) {
            const char *t = lua_tostring(L, -1);
            for (int i = 0; t && VAR_TYPES[i]; i++)
                if (!strcmp(t, VAR_TYPES[i])) type = VAR_TYPES[i];
            if (!type)
                decl_error(ld, file, line,
                           "variable \"%s\": unknown type \"%s\" (string, number, bool, list, map)",
                           name, t ? t : luaL_typename(L, -1));
        }
        lua_pop(L, 1);
        lua_getfield(L, 2, "sensitive");
        sensitive = lua_toboolean(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, 2, "default") != LUA_TNIL) {
            perr_t e;
            char what[300];
            snprintf(what, sizeof what, "default of variable \"%s\"", name);
            def = spec_conv_to_json(L, -1, what, &e);
            if (!def) decl_error(ld, file, line, "%s", e.msg);
        }
        lua_pop(L, 1);
    }
    if (!type) type = def ? type_of_json(def) : "string";
    char why[300], shown[200];
    json_t *val = NULL;
    if (def) {
        val = coerce(def, type, why, sizeof why);
        if (!val) {
            show_value(def, shown, sizeof shown);
            decl_error(ld, file, line, "variable \"%s\": default %s %s", name, shown, why);
        }
    }
    /* default < PLINTH_VAR_<name> < --var-file < --var */
    char env[300];
    snprintf(env, sizeof env, "PLINTH_VAR_%s", name);
    const char *ev = getenv(env);
    if (ev) {
        json_t *sv = json_string(ev);
        json_t *c = sv ? coerce(sv, type, why, sizeof why) : NULL;
        if (!c) decl_error(ld, file, line, "variable \"%s\": %s=\"%s\" %s", name, env, ev,
                           sv ? why : "is not valid UTF-8");
        json_decref(sv);
        if (c) json_decref(val), val = c;
    }
    json_t *fv = ld->varfile ? json_object_get(ld->varfile, name) : NULL;
    if (fv) {
        json_t *c = coerce(fv, type, why, sizeof why);
        if (!c) {
            show_value(fv, shown, sizeof shown);
            decl_error(ld, file, line, "variable \"%s\": value %s from --var-file %s", name,
                       shown, why);
        } else {
            json_decref(val), val = c;
        }
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
            decl_error(ld, file, line, "variable \"%s\" (%s): --var %s: \"%s\" %s", name, type,
                       name, eq + 1, sv ? why : "is not valid UTF-8");
        json_decref(sv);
        if (c) json_decref(val), val = c;
    }
    if (!val && (int)ld->diags->n == nerr)
        decl_error(ld, file, line,
                   "variable \"%s\" has no value: give it a default, --var %s=..., a --var-file "
                   "or %s",
                   name, name, env);
    if (!val || (int)ld->diags->n != nerr) { /* keep going with a placeholder */
        json_decref(val);
        val = zero_of(type);
    }
    json_decref(def);
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
    spec_conv_push(L, val);
    return 1;
}

/* ---- modules ---- */

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
static int run_module(lua_State *L, const char *name, int idx, const char *file, int line) {
    spec_ld_t *ld = spec_ld_of(L);
    idx = lua_absindex(L, idx);
    if (lua_getfield(L, idx, "source") != LUA_TSTRING)
        return spec_raise(L, "module \"%s\": source must be a string naming a module file", name);
    const char *source = lua_tostring(L, -1);
    if (!valid_name(name, 1)) {
        decl_error(ld, file, line, "invalid module name \"%s\"", name);
        lua_newtable(L);
        return 1;
    }
    char *full = ld->prefix ? xasprintf("%s.module.%s", ld->prefix, name)
                            : xasprintf("module.%s", name);
    if (strlist_has(&ld->modules, full)) {
        decl_error(ld, file, line, "module \"%s\" is declared twice%s%s", name,
                   ld->prefix ? " in " : "", ld->prefix ? ld->prefix : "");
        free(full);
        lua_newtable(L);
        return 1;
    }
    strlist_add_own(&ld->modules, full);
    char *path;
    if (source[0] == '/' || strncmp(source, "./", 2) == 0 || strncmp(source, "../", 3) == 0) {
        char *p = caller_relative(L, source);
        size_t n = strlen(p);
        path = n > 4 && strcmp(p + n - 4, ".lua") == 0 ? xstrdup(p) : xasprintf("%s.lua", p);
        free(p);
        if (!is_file(path)) {
            lua_pushstring(L, path);
            free(path);
            return spec_raise(L, "module \"%s\": no module file %s", name, lua_tostring(L, -1));
        }
    } else {
        path = find_module_file(ld, source);
        if (!path) {
            push_moddirs(L, ld);
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
    load_chunk(L, lua_tostring(L, path_idx));
    lua_call(L, 0, 1);
    if (lua_type(L, -1) != LUA_TFUNCTION)
        return spec_raise(L, "module \"%s\": %s must return a function(inputs), got %s", name,
                          lua_tostring(L, path_idx), luaL_typename(L, -1));
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
    lua_call(L, 1, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_newtable(L);
    }
    return 1;
}

static int l_module_body(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    return run_module(L, lua_tostring(L, lua_upvalueindex(1)), 1,
                      lua_tostring(L, lua_upvalueindex(2)),
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
    checkname(L, 1, "module name");
    lua_pushvalue(L, 1);
    lua_pushstring(L, file);
    lua_pushinteger(L, line);
    lua_pushcclosure(L, l_module_body, 3);
    return 1;
}

/* ---- setting up the state ---- */

static int l_setup(lua_State *L) {
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

    static const luaL_Reg fns[] = {
        {"print", l_print},     {"require", l_require}, {"file", l_file},
        {"templatefile", l_templatefile}, {"provider", l_provider}, {"backend", l_backend},
        {"var", l_var},         {"output", l_output},   {"module", l_module},
        {NULL, NULL},
    };
    lua_pushglobaltable(L);
    luaL_setfuncs(L, fns, 0);
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
    for (size_t i = 0; i < sizeof NAMESPACES / sizeof *NAMESPACES; i++)
        add_namespace(L, NAMESPACES[i]);
    for (const provider_def_t *const *p = rtype_providers(); *p; p++)
        if (valid_name((*p)->name, 0)) add_namespace(L, (*p)->name);
    return 0;
}

/* Runs the file at path (pushed as argument 1) in protected mode; returns
 * the status. On success the chunk's first result is on the stack. */
static int l_runfile(lua_State *L) {
    load_chunk(L, lua_tostring(L, 1));
    lua_call(L, 0, 1);
    return 1;
}

static int protected_run(spec_ld_t *ld, const char *path) {
    lua_State *L = ld->L;
    lua_pushcfunction(L, l_msgh);
    int h = lua_gettop(L);
    lua_pushcfunction(L, l_runfile);
    lua_pushstring(L, path);
    int rc = lua_pcall(L, 1, 1, h);
    if (rc != LUA_OK) {
        add_lua_error(ld, rc, path);
        lua_settop(L, h - 1);
        return -1;
    }
    lua_remove(L, h);
    return 0;
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static void load_var_files(spec_ld_t *ld) {
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
            if (protected_run(ld, p) != 0) continue;
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

static void check_depends(spec_ld_t *ld) {
    spec_t *s = ld->s;
    for (size_t i = 0; i < s->nres; i++) {
        spec_res_t *r = &s->res[i];
        strlist_t out = {0};
        for (size_t j = 0; j < r->depends_on.n; j++) {
            const char *d = r->depends_on.v[j];
            if (spec_find(s, d)) {
                if (!strlist_has(&out, d)) strlist_add(&out, d);
                continue;
            }
            if (strlist_has(&ld->modules, d)) { /* a whole module: all its resources */
                size_t n = strlen(d);
                for (size_t k = 0; k < s->nres; k++)
                    if (strncmp(s->res[k].addr, d, n) == 0 && s->res[k].addr[n] == '.' &&
                        !strlist_has(&out, s->res[k].addr))
                        strlist_add(&out, s->res[k].addr);
                continue;
            }
            if (!strlist_has(&out, d)) strlist_add(&out, d); /* validate_spec reports it */
        }
        strlist_free(&r->depends_on);
        r->depends_on = out;
    }
    const strlist_t *cv = ld->opts ? &ld->opts->vars : NULL;
    for (size_t i = 0; cv && i < cv->n; i++) {
        const char *eq = strchr(cv->v[i], '=');
        if (!eq) {
            diag_add(ld->diags, "--var", "\"%s\" is not of the form name=value", cv->v[i]);
            continue;
        }
        char *name = xstrndup(cv->v[i], (size_t)(eq - cv->v[i]));
        if (!strlist_has(&ld->cli_used, name))
            diag_add(ld->diags, "--var", "the spec declares no variable \"%s\"", name);
        free(name);
    }
}

static void spec_hash_compute(spec_t *s) {
    json_t *res = json_object(), *outs = json_object(), *provs = json_object();
    for (size_t i = 0; i < s->nres; i++) {
        spec_res_t *r = &s->res[i];
        json_t *deps = json_array(), *ign = json_array();
        for (size_t j = 0; j < r->depends_on.n; j++)
            json_array_append_new(deps, json_string(r->depends_on.v[j]));
        for (size_t j = 0; j < r->ignore_changes.n; j++)
            json_array_append_new(ign, json_string(r->ignore_changes.v[j]));
        json_object_set_new(
            res, r->addr,
            json_pack("{s:s, s:O, s:o, s:{s:b, s:b, s:o}}", "type", r->type, "body", r->body,
                      "deps", deps, "lifecycle", "prevent_destroy", r->prevent_destroy,
                      "create_before_destroy", r->create_before_destroy, "ignore_changes", ign));
    }
    for (size_t i = 0; i < s->noutputs; i++)
        json_object_set_new(outs, s->outputs[i].name,
                            json_pack("{s:O, s:b}", "value", s->outputs[i].value, "sensitive",
                                      s->outputs[i].sensitive));
    for (size_t i = 0; i < s->nproviders; i++)
        json_object_set(provs, s->providers[i].name, s->providers[i].config);
    json_t *all = json_pack("{s:o, s:o, s:o}", "resources", res, "outputs", outs, "providers",
                            provs);
    char *txt = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    util_sha256_hex(txt, strlen(txt), s->hash);
    free(txt);
    json_decref(all);
}

/* ---- entry points ---- */

static void exe_moddir(strlist_t *dirs) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *d = dir_of(exe);
    strlist_add_own(dirs, xasprintf("%s/../share/plinth/modules", d));
    strlist_add_own(dirs, xasprintf("%s/../modules", d)); /* bin/plinth in a source tree */
    free(d);
}

int spec_load(const char *path, const spec_opts_t *opts, spec_t **out, diag_t *diags) {
    *out = NULL;
    size_t n0 = diags->n;
    spec_t *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->dir = dir_of(path);
    s->backend_type = xstrdup("local");

    spec_ld_t *ld = xcalloc(1, sizeof *ld);
    ld->s = s;
    ld->diags = diags;
    ld->opts = opts;
    ld->mem_limit = MEM_LIMIT;
    ld->hook_limit = HOOK_LIMIT;
    ld->varfile = json_object();
    if (opts && opts->modules_dir) {
        strlist_add(&ld->moddirs, opts->modules_dir);
    } else {
        /* Beside the spec, then PLINTH_MODULES (colon-separated), then the
         * current directory's modules/, then those shipped with plinth. */
        strlist_add_own(&ld->moddirs, strcmp(s->dir, ".") == 0 ? xstrdup("modules")
                                                                : xasprintf("%s/modules", s->dir));
        const char *env = getenv("PLINTH_MODULES");
        for (const char *p = env; p && *p;) {
            const char *c = strchr(p, ':');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            if (len) strlist_add_own(&ld->moddirs, xstrndup(p, len));
            p = c ? c + 1 : p + len;
        }
        if (!strlist_has(&ld->moddirs, "modules")) strlist_add(&ld->moddirs, "modules");
        exe_moddir(&ld->moddirs);
    }

    lua_State *L = lua_newstate(l_alloc, ld);
    ld->L = L;
    if (!L) {
        diag_add(diags, path, "cannot create a Lua state");
    } else {
        lua_sethook(L, l_hook, LUA_MASKCOUNT, HOOK_EVERY);
        lua_pushcfunction(L, l_setup);
        int rc = lua_pcall(L, 0, 0, 0);
        if (rc != LUA_OK) {
            add_lua_error(ld, rc, path);
        } else {
            load_var_files(ld);
            int ok = protected_run(ld, path) == 0;
            if (ok) lua_pop(L, 1);
            if (ok) k8s_implicit_deps(s);
            if (ok) check_depends(ld);
        }
        lua_close(L);
    }
    for (size_t i = 0; i < ld->nmarkers; i++) json_decref(ld->markers[i]);
    free(ld->markers);
    json_decref(ld->varfile);
    strlist_free(&ld->moddirs);
    strlist_free(&ld->modules);
    strlist_free(&ld->cli_used);
    free(ld->varlocs);
    free(ld);

    if (diags->n > n0) {
        spec_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void spec_free(spec_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nres; i++) {
        spec_res_t *r = &s->res[i];
        free(r->addr);
        free(r->type);
        free(r->name);
        free(r->module);
        json_decref(r->body);
        strlist_free(&r->depends_on);
        strlist_free(&r->ignore_changes);
    }
    free(s->res);
    for (size_t i = 0; i < s->noutputs; i++) {
        free(s->outputs[i].name);
        json_decref(s->outputs[i].value);
    }
    free(s->outputs);
    for (size_t i = 0; i < s->nvars; i++) {
        free(s->vars[i].name);
        json_decref(s->vars[i].value);
    }
    free(s->vars);
    for (size_t i = 0; i < s->nproviders; i++) {
        free(s->providers[i].name);
        json_decref(s->providers[i].config);
    }
    free(s->providers);
    free(s->backend_type);
    json_decref(s->backend);
    free(s->path);
    free(s->dir);
    free(s);
}

spec_res_t *spec_find(const spec_t *s, const char *addr) {
    for (size_t i = 0; s && i < s->nres; i++)
        if (strcmp(s->res[i].addr, addr) == 0) return &s->res[i];
    return NULL;
}

const spec_provider_t *spec_provider(const spec_t *s, const char *name) {
    for (size_t i = 0; s && i < s->nproviders; i++)
        if (strcmp(s->providers[i].name, name) == 0) return &s->providers[i];
    return NULL;
}

/* Computed on first use: only saved plans need it, and for a large spec it
 * costs as much as a tenth of a no-op plan. */
const char *spec_digest(spec_t *s) {
    if (!s->hash[0]) spec_hash_compute(s);
    return s->hash;
}
