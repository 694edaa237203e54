/* srv_catalog.c: the catalogue of modules a requester may choose from, with
 * the inputs each declares through util.inputs.
 *
 * A module's inputs are data in its code (the spec table it hands to
 * util.inputs), so the catalogue runs the module once in a stub world: a
 * fresh Lua state without io/os, where every resource constructor, var(),
 * file() and reference is an inert placeholder, and util.inputs records the
 * table it is given.  The module's returned table names its outputs.  An
 * instruction limit stops a module whose control flow the placeholders
 * confuse; its outputs then come from the "-- Outputs:" line of its header
 * comment.  Nothing here touches the network or the file system beyond
 * reading the module files. */
#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve.h"

/* The stub world, run with (path, dirs...) as arguments.  Returns the
 * captured input spec and the outputs table (or nil, error). */
static const char stub_lua[] =
    "local path = ...\n"
    "local dirs = { select(2, ...) }\n"
    "local P = {}\n"
    "local pm = {}\n"
    "local function p() return P end\n"
    "for _, k in ipairs({ '__index', '__call', '__concat', '__add', '__sub', '__mul', '__div', '__mod',\n"
    "  '__unm', '__idiv', '__pow' }) do pm[k] = p end\n"
    "pm.__tostring = function() return '(known after apply)' end\n"
    "pm.__len = function() return 0 end\n"
    "setmetatable(P, pm)\n"
    "local captured\n"
    "local util = setmetatable({}, { __index = function() return p end })\n"
    "function util.inputs(module, given, spec)\n"
    "  captured = spec\n"
    "  local out = {}\n"
    "  for k, s in pairs(spec) do if s.default ~= nil then out[k] = s.default else out[k] = P end end\n"
    "  return out\n"
    "end\n"
    "local env = { string = string, table = table, math = math, pairs = pairs, ipairs = ipairs,\n"
    "  type = function(v) if v == P then return 'userdata' end return type(v) end,\n"
    "  tostring = tostring, tonumber = tonumber, select = select, error = error, pcall = pcall,\n"
    "  assert = assert, next = next, setmetatable = setmetatable, getmetatable = getmetatable,\n"
    "  rawget = rawget, rawset = rawset, unpack = table.unpack, utf8 = utf8,\n"
    "  gcp = P, k8s = P, ssh = P, module = P, provider = P, backend = P, file = p, templatefile = p,\n"
    "  fmt = p, output = function() end, jsonencode = p, yamlencode = p, base64encode = p,\n"
    "  var = function(n, o) if type(o) == 'table' and o.default ~= nil then return o.default end return P "
    "end }\n"
    "env._G = env\n"
    "env.require = function(n)\n"
    "  if n == 'util' then return util end\n"
    "  for _, d in ipairs(dirs) do\n"
    "    local f = loadfile(d .. '/' .. n .. '.lua', 't', env)\n"
    "    if f then return f() end\n"
    "  end\n"
    "  return P\n"
    "end\n"
    "local chunk, err = loadfile(path, 't', env)\n"
    "if not chunk then return nil, err end\n"
    "local okm, fn = pcall(chunk)\n"
    "if not okm then return nil, fn end\n"
    "if type(fn) ~= 'function' then return nil, 'does not return a function(inputs)' end\n"
    "local ok, outs = pcall(fn, {})\n"
    "if not ok or type(outs) ~= 'table' then outs = nil end\n"
    "return captured, outs\n";

/* Lua value at idx -> JSON (NEW); depth-limited, functions become null. */
static json_t *lua_to_json(lua_State *L, int idx, int depth) {
    idx = lua_absindex(L, idx);
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: return json_string(lua_tostring(L, idx));
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) return json_integer(lua_tointeger(L, idx));
        return json_real(lua_tonumber(L, idx));
    case LUA_TTABLE: {
        if (depth > 8) return json_null();
        lua_Integer n = luaL_len(L, idx);
        if (n > 0) {
            json_t *a = json_array();
            for (lua_Integer i = 1; i <= n; i++) {
                lua_geti(L, idx, i);
                json_array_append_new(a, lua_to_json(L, -1, depth + 1));
                lua_pop(L, 1);
            }
            return a;
        }
        json_t *o = json_object();
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            if (lua_type(L, -2) == LUA_TSTRING)
                json_object_set_new(o, lua_tostring(L, -2), lua_to_json(L, -1, depth + 1));
            lua_pop(L, 1);
        }
        return o;
    }
    default: return json_null();
    }
}

static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    luaL_error(L, "module took too long to inspect");
}

/* The first paragraph of the header comment, without "name: ". */
static void header_facts(const char *text, const char *name, json_t *mod) {
    sbuf_t desc = {0}, outs = {0};
    int in_outputs = 0, in_desc = 1;
    for (const char *l = text; l && *l;) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        if (len < 2 || strncmp(l, "--", 2) != 0) break;
        char *line = xstrndup(l + 2, len - 2);
        char *t = line;
        while (*t == ' ')
            t++;
        if (!strncmp(t, "Inputs:", 7))
            in_desc = 0, in_outputs = 0;
        else if (!strncmp(t, "Outputs:", 8))
            in_desc = 0, in_outputs = 1, t += 8;
        else if (in_outputs && t == line + 1)
            in_outputs = 0; /* not a continuation */
        if (in_desc) {
            size_t nlen = strlen(name);
            if (desc.len == 0 && !strncmp(t, name, nlen) && t[nlen] == ':') t += nlen + 1;
            while (*t == ' ')
                t++;
            if (*t) {
                if (desc.len) sbuf_addc(&desc, ' ');
                sbuf_add(&desc, t);
            }
        }
        if (in_outputs) sbuf_addf(&outs, " %s", t);
        free(line);
        l = nl ? nl + 1 : NULL;
    }
    json_object_set_new(mod, "description", json_string(desc.s ? desc.s : ""));
    /* "repository (name), url (registry URI)": leading identifiers at depth 0. */
    json_t *arr = json_object_get(mod, "outputs");
    int depth = 0, at_start = 1;
    for (const char *p = outs.s ? outs.s : ""; *p; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        else if (*p == ',' && depth == 0)
            at_start = 1;
        else if (at_start && depth == 0 && (*p == '_' || (*p >= 'a' && *p <= 'z'))) {
            const char *s = p;
            while (*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
                p++;
            char *w = xstrndup(s, (size_t)(p - s));
            json_array_append_new(arr, json_string(w));
            free(w);
            at_start = 0;
            p--;
        }
    }
    sbuf_free(&desc);
    sbuf_free(&outs);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_name(const void *a, const void *b) {
    const json_t *const *x = a, *const *y = b;
    return strcmp(json_string_value(json_object_get(*x, "name")),
                  json_string_value(json_object_get(*y, "name")));
}

/* inputs: the captured spec table at -1 -> array sorted by name. */
static json_t *inputs_json(lua_State *L) {
    json_t *spec = lua_to_json(L, -1, 0);
    json_t *arr = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(spec, k, v) {
        json_t *in =
            json_pack("{s:s, s:s, s:b, s:O?, s:s?, s:O?}", "name", k, "type",
                      json_string_value(json_object_get(v, "type")) ?: "string", "required",
                      json_is_true(json_object_get(v, "required")), "default", json_object_get(v, "default"),
                      "description", json_string_value(json_object_get(v, "description")), "allowed",
                      json_object_get(v, "one_of"));
        if (json_object_get(v, "min")) json_object_set(in, "min", json_object_get(v, "min"));
        json_array_append_new(arr, in);
    }
    json_decref(spec);
    size_t n = json_array_size(arr);
    json_t **items = xcalloc(n ? n : 1, sizeof *items);
    for (size_t i = 0; i < n; i++)
        items[i] = json_incref(json_array_get(arr, i));
    qsort(items, n, sizeof *items, cmp_name);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, items[i]);
    free(items);
    return arr;
}

/* One module file -> catalogue entry (NEW) or NULL when it declares no inputs. */
static json_t *inspect(const char *path, const char *name, const strlist_t *dirs) {
    lua_State *L = luaL_newstate();
    luaL_requiref(L, "_G", luaopen_base, 1);
    luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
    luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 1);
    luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 1);
    luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 1);
    lua_settop(L, 0);
    lua_sethook(L, count_hook, LUA_MASKCOUNT, 5000000);
    json_t *mod = NULL;
    if (luaL_loadbuffer(L, stub_lua, sizeof stub_lua - 1, "=catalog") != LUA_OK) goto out;
    lua_pushstring(L, path);
    for (size_t i = 0; i < dirs->n; i++)
        lua_pushstring(L, dirs->v[i]);
    if (lua_pcall(L, 1 + (int)dirs->n, 2, 0) != LUA_OK || !lua_istable(L, -2)) goto out;
    mod = json_pack("{s:s, s:s, s:[]}", "name", name, "file", path, "outputs");
    if (lua_istable(L, -1)) {
        json_t *outs = json_object_get(mod, "outputs");
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING) json_array_append_new(outs, json_string(lua_tostring(L, -2)));
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    json_object_set_new(mod, "inputs", inputs_json(L));
    size_t len;
    char *text = util_read_file(path, &len, &(perr_t){0});
    json_t *declared = json_array();
    json_t *found = json_object_get(mod, "outputs");
    json_object_set(mod, "outputs", declared);
    header_facts(text ? text : "", name, mod);
    if (json_array_size(found) > 0) json_object_set(mod, "outputs", found); /* what it returns wins */
    json_decref(declared);
    free(text);
    /* stable order */
    json_t *o = json_object_get(mod, "outputs");
    size_t n = json_array_size(o);
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(json_string_value(json_array_get(o, j - 1)),
                                           json_string_value(json_array_get(o, j))) > 0;
             j--) {
            json_t *a = json_incref(json_array_get(o, j - 1));
            json_array_set(o, j - 1, json_array_get(o, j));
            json_array_set_new(o, j, a);
        }
out:
    lua_close(L);
    return mod;
}

json_t *srv_catalog_load(const strlist_t *dirs, perr_t *e) {
    json_t *cat = json_array();
    strlist_t seen = {0};
    for (size_t d = 0; d < dirs->n; d++) {
        DIR *dh = opendir(dirs->v[d]);
        if (!dh) continue;
        strlist_t names = {0};
        struct dirent *de;
        while ((de = readdir(dh))) {
            size_t l = strlen(de->d_name);
            if (l > 4 && !strcmp(de->d_name + l - 4, ".lua") && strcmp(de->d_name, "util.lua"))
                strlist_add_own(&names, xstrndup(de->d_name, l - 4));
        }
        closedir(dh);
        qsort(names.v, names.n, sizeof *names.v, cmp_str);
        for (size_t i = 0; i < names.n; i++) {
            if (strlist_has(&seen, names.v[i])) continue; /* an earlier directory wins */
            char *path = xasprintf("%s/%s.lua", dirs->v[d], names.v[i]);
            json_t *m = inspect(path, names.v[i], dirs);
            if (m) json_array_append_new(cat, m), strlist_add(&seen, names.v[i]);
            free(path);
        }
        strlist_free(&names);
    }
    strlist_free(&seen);
    if (json_array_size(cat) == 0) {
        perr_set(e, dirs->n ? dirs->v[0] : "", "no modules with util.inputs declarations found");
        json_decref(cat);
        return NULL;
    }
    return cat;
}

static const char *json_kind(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_OBJECT:
    case JSON_ARRAY: return "table";
    default: return "null";
    }
}

int srv_catalog_check(const json_t *module, const json_t *inputs, json_t **clean, perr_t *e) {
    const char *mname = json_string_value(json_object_get(module, "name"));
    if (inputs && !json_is_object(inputs)) {
        perr_set(e, "inputs", "inputs must be an object");
        return -1;
    }
    const json_t *decl = json_object_get(module, "inputs");
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)inputs, k, v) {
        int known = 0;
        size_t i;
        json_t *d;
        json_array_foreach(decl, i, d) known |= !strcmp(json_string_value(json_object_get(d, "name")), k);
        if (!known) {
            perr_set(e, k, "module %s has no input %s", mname, k);
            return -1;
        }
    }
    json_t *out = json_object();
    size_t i;
    json_t *d;
    json_array_foreach(decl, i, d) {
        const char *name = json_string_value(json_object_get(d, "name"));
        const char *type = json_string_value(json_object_get(d, "type"));
        json_t *val = inputs ? json_object_get(inputs, name) : NULL;
        if (json_is_null(val)) val = NULL;
        if (!val) {
            if (json_is_true(json_object_get(d, "required"))) {
                perr_set(e, name, "input %s is required", name);
                goto err;
            }
            continue; /* the module applies its own default */
        }
        if (strcmp(json_kind(val), type)) {
            perr_set(e, name, "input %s must be a %s, got %s", name, type, json_kind(val));
            goto err;
        }
        json_t *allowed = json_object_get(d, "allowed");
        if (json_is_array(allowed) && json_array_size(allowed)) {
            int ok = 0;
            size_t j;
            json_t *a;
            json_array_foreach(allowed, j, a) ok |= json_equal(a, val);
            if (!ok) {
                char *s = json_dumps(allowed, JSON_COMPACT);
                perr_set(e, name, "input %s must be one of %s", name, s);
                free(s);
                goto err;
            }
        }
        json_t *min = json_object_get(d, "min");
        if (json_is_number(min) && json_number_value(val) < json_number_value(min)) {
            perr_set(e, name, "input %s must be at least %g", name, json_number_value(min));
            goto err;
        }
        if (json_is_string(val) && strlen(json_string_value(val)) > 1024) {
            perr_set(e, name, "input %s is longer than 1024 characters", name);
            goto err;
        }
        json_object_set(out, name, val);
    }
    *clean = out;
    return 0;
err:
    json_decref(out);
    return -1;
}
