/* spec_conv.c: converting Lua values of a spec to JSON bodies and back.
 *
 * Rules: a table whose keys are exactly 1..n is a list; any other table is
 * an object whose keys must be strings; {} is an empty object; integers stay
 * integers.  Deferred values (userdata, or strings carrying reference
 * markers) become the ref.h encoding. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/ref.h"
#include "core/spec_int.h"

#define MARK SPEC_MARK
#define MAX_DEPTH 64

json_t *spec_conv_string(spec_ld_t *ld, const char *s, size_t len, perr_t *e) {
    const char *m = memmem(s, len, MARK, sizeof MARK - 1);
    if (!m) {
        json_t *j = json_stringn(s, len);
        if (!j) snprintf(e->msg, sizeof e->msg, "string is not valid UTF-8");
        return j;
    }
    json_t *parts = json_array();
    const char *p = s, *end = s + len;
    while (p < end) {
        m = memmem(p, (size_t)(end - p), MARK, sizeof MARK - 1);
        if (!m) m = end;
        if (m > p) {
            json_t *t = json_stringn(p, (size_t)(m - p));
            if (!t) {
                snprintf(e->msg, sizeof e->msg, "string is not valid UTF-8");
                json_decref(parts);
                return NULL;
            }
            json_array_append_new(parts, t);
        }
        if (m == end) break;
        const char *q = m + sizeof MARK - 1;
        size_t n = 0;
        int digits = 0;
        while (q < end && *q >= '0' && *q <= '9')
            n = n * 10 + (size_t)(*q++ - '0'), digits++;
        json_t *v = (digits && q < end && *q == '\x02') ? spec_lua_marker(ld, n) : NULL;
        if (!v) {
            snprintf(e->msg, sizeof e->msg, "string holds a damaged reference marker");
            json_decref(parts);
            return NULL;
        }
        json_array_append_new(parts, json_deep_copy(v));
        p = q + 1;
    }
    return ref_concat_new(parts);
}

static void fail(perr_t *e, const char *what, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void fail(perr_t *e, const char *what, const char *path, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (path && *path)
        snprintf(e->msg, sizeof e->msg, "%s, at \"%s\": %s", what, path, msg);
    else
        snprintf(e->msg, sizeof e->msg, "%s: %s", what, msg);
}

static json_t *conv(lua_State *L, int idx, const char *what, const char *path, int depth, perr_t *e);

/* Describes the key on top of the stack for messages. */
static void key_text(lua_State *L, char *buf, size_t n) {
    if (lua_type(L, -1) == LUA_TSTRING)
        snprintf(buf, n, "\"%s\"", lua_tostring(L, -1));
    else if (lua_type(L, -1) == LUA_TNUMBER && lua_isinteger(L, -1))
        snprintf(buf, n, "[%lld]", (long long)lua_tointeger(L, -1));
    else if (lua_type(L, -1) == LUA_TNUMBER)
        snprintf(buf, n, "[%g]", lua_tonumber(L, -1));
    else
        snprintf(buf, n, "(a %s)", luaL_typename(L, -1));
}

static json_t *conv_table(lua_State *L, int idx, const char *what, const char *path, int depth, perr_t *e) {
    if (depth > MAX_DEPTH) {
        fail(e, what, path, "tables nested more than %d deep (a table that contains itself?)", MAX_DEPTH);
        return NULL;
    }
    luaL_checkstack(L, 6, "spec body conversion");
    /* A module's inputs (spec_module.c's proxy): its real table, all of it
     * used. */
    idx = lua_absindex(L, idx);
    if (lua_getmetatable(L, idx)) {
        if (lua_getfield(L, -1, "__plinth_read") == LUA_TTABLE) {
            lua_pushboolean(L, 1);
            lua_setfield(L, -2, "\001all");
        }
        lua_pop(L, 1);
        if (lua_getfield(L, -1, "__plinth_inputs") == LUA_TTABLE) {
            lua_replace(L, -2);
            json_t *r = conv_table(L, lua_gettop(L), what, path, depth, e);
            lua_pop(L, 1);
            return r;
        }
        lua_pop(L, 2);
    }
    lua_Integer count = 0, nint = 0, maxi = 0;
    char strkey[300] = "", badint[64] = "";
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1); /* value */
        count++;
        int kt = lua_type(L, -1);
        if (kt == LUA_TNUMBER && lua_isinteger(L, -1)) {
            lua_Integer i = lua_tointeger(L, -1);
            nint++;
            if (i > maxi) maxi = i;
            if (i < 1 && !badint[0]) snprintf(badint, sizeof badint, "[%lld]", (long long)i);
        } else if (kt == LUA_TSTRING) {
            const char *k = lua_tostring(L, -1);
            if (strstr(k, MARK)) {
                lua_pop(L, 1);
                fail(e, what, path, "a reference cannot be used as a table key");
                return NULL;
            }
            if (!strkey[0]) snprintf(strkey, sizeof strkey, "\"%s\"", k);
        } else {
            json_t *j = spec_lua_get(L, -1);
            if (j) {
                char *d = ref_describe(j);
                fail(e, what, path,
                     "reference %s used as a table key: its value is known only "
                     "after apply",
                     d);
                free(d);
            } else {
                char kt_s[80];
                key_text(L, kt_s, sizeof kt_s);
                fail(e, what, path, "key %s is not a string (object keys must be strings)", kt_s);
            }
            lua_pop(L, 1);
            return NULL;
        }
    }
    if (nint && strkey[0]) {
        fail(e, what, path, "table mixes list items and named keys (key %s)", strkey);
        return NULL;
    }
    if (nint && strkey[0] == '\0') {
        if (badint[0] || maxi != count) {
            fail(e, what, path, "list has holes or keys outside 1..n (key %s)",
                 badint[0] ? badint : "beyond the end");
            return NULL;
        }
        json_t *arr = json_array();
        for (lua_Integer i = 1; i <= count; i++) {
            lua_geti(L, idx, i);
            char *sub = xasprintf("%s%s%lld", path, *path ? "." : "", (long long)(i - 1));
            json_t *v = conv(L, lua_gettop(L), what, sub, depth + 1, e);
            free(sub);
            lua_pop(L, 1);
            if (!v) {
                json_decref(arr);
                return NULL;
            }
            json_array_append_new(arr, v);
        }
        return arr;
    }
    json_t *obj = json_object();
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_tostring(L, -2);
        char *sub = xasprintf("%s%s%s", path, *path ? "." : "", k);
        json_t *v = conv(L, lua_gettop(L), what, sub, depth + 1, e);
        free(sub);
        lua_pop(L, 1);
        if (!v) {
            lua_pop(L, 1);
            json_decref(obj);
            return NULL;
        }
        json_object_set_new(obj, k, v);
    }
    return obj;
}

static json_t *conv(lua_State *L, int idx, const char *what, const char *path, int depth, perr_t *e) {
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return json_null();
    case LUA_TBOOLEAN: return json_boolean(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) return json_integer((json_int_t)lua_tointeger(L, idx));
        if (!isfinite(lua_tonumber(L, idx))) {
            fail(e, what, path, "number is not finite (%g)", lua_tonumber(L, idx));
            return NULL;
        }
        return json_real(lua_tonumber(L, idx));
    case LUA_TSTRING: {
        size_t n;
        const char *s = lua_tolstring(L, idx, &n);
        perr_t e2;
        json_t *j = spec_conv_string(spec_ld_of(L), s, n, &e2);
        if (!j) fail(e, what, path, "%s", e2.msg);
        return j;
    }
    case LUA_TTABLE: return conv_table(L, idx, what, path, depth, e);
    case LUA_TUSERDATA: {
        json_t *j = spec_lua_get(L, idx);
        if (j) return json_deep_copy(j);
    } /* fall through */
    default:
        fail(e, what, path, "a %s value cannot be part of a spec value", luaL_typename(L, idx));
        return NULL;
    }
}

json_t *spec_conv_to_json(lua_State *L, int idx, const char *what, perr_t *e) {
    return conv(L, lua_absindex(L, idx), what, "", 0, e);
}

void spec_conv_push(lua_State *L, const json_t *v) {
    luaL_checkstack(L, 4, "spec value");
    if (ref_is_deferred(v)) {
        spec_lua_push(L, json_deep_copy(v));
        return;
    }
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        lua_createtable(L, 0, (int)json_object_size(v));
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            spec_conv_push(L, x);
            lua_setfield(L, -2, k);
        }
        break;
    }
    case JSON_ARRAY: {
        lua_createtable(L, (int)json_array_size(v), 0);
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            spec_conv_push(L, x);
            lua_seti(L, -2, (lua_Integer)i + 1);
        }
        break;
    }
    case JSON_STRING: lua_pushlstring(L, json_string_value(v), json_string_length(v)); break;
    case JSON_INTEGER: lua_pushinteger(L, (lua_Integer)json_integer_value(v)); break;
    case JSON_REAL: lua_pushnumber(L, json_real_value(v)); break;
    case JSON_TRUE:
    case JSON_FALSE: lua_pushboolean(L, json_is_true(v)); break;
    default: lua_pushnil(L);
    }
}
