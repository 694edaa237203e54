/* spec_int.h: internals shared by spec.c (loading, sandbox, declarations),
 * spec_lua.c (deferred values as Lua userdata) and spec_conv.c (Lua <->
 * JSON).  Not part of the engine's contract: only core/spec*.c include it. */
#ifndef PLINTH_SPEC_INT_H
#define PLINTH_SPEC_INT_H

#include <lauxlib.h>
#include <lua.h>

#include "core/spec.h"

/* Start of the text that stands for a deferred value inside a Lua string:
 * SPEC_MARK <n> "\x02" (see spec_lua.c). */
#define SPEC_MARK "\x01@"

/* Where a variable was declared (parallel to spec_t.vars). */
typedef struct spec_varloc {
    char file[256];
    int line;
} spec_varloc_t;

/* Everything one spec_load needs: it hangs off the lua_State as the
 * allocator's userdata (lua_getallocf), so there is no global state. */
typedef struct spec_ld {
    lua_State *L;
    spec_t *s;
    diag_t *diags;
    const spec_opts_t *opts;
    strlist_t moddirs;  /* where require() and module() look, in order */
    const char *prefix; /* current module prefix ("module.a.module.b") or NULL */
    strlist_t modules;  /* every module address declared */
    size_t mem, mem_limit;
    unsigned long hooks, hook_limit; /* count hook calls (each 1e6 instructions) */
    json_t **markers;   /* marker n -> deferred value (owned) */
    size_t nmarkers, capmarkers;
    size_t capres, capout, capvar, capprov;
    spec_varloc_t *varlocs;
    json_t *varfile;    /* name -> value from --var-file files (owned) */
    strlist_t cli_used; /* --var names matched by a var() */
} spec_ld_t;

spec_ld_t *spec_ld_of(lua_State *L);

/* Location of the innermost Lua frame at or above `level` (skips C
 * frames).  file gets the chunk's path; line is 0 when unknown. */
void spec_where(lua_State *L, int level, char *file, size_t fsz, int *line);
/* "file:line" of the innermost Lua frame. */
void spec_where_str(lua_State *L, char *buf, size_t n);
/* Raises a Lua error with msg and no position prefix (the message handler
 * locates it). */
int spec_raise(lua_State *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* spec_lua.c: deferred values. */
void spec_lua_open(lua_State *L);
/* Pushes a userdata wrapping v (steals the reference). */
void spec_lua_push(lua_State *L, json_t *v);
/* The deferred value of userdata at idx (borrowed), or NULL when idx is not
 * one. */
json_t *spec_lua_get(lua_State *L, int idx);
/* Deferred value registered under marker n, or NULL. Borrowed. */
json_t *spec_lua_marker(spec_ld_t *ld, size_t n);

/* spec_conv.c: Lua value at idx -> new JSON.  On failure returns NULL with
 * e->msg set (e->where untouched).  what names the value in messages
 * ("body of gcp.x.y"). */
json_t *spec_conv_to_json(lua_State *L, int idx, const char *what, perr_t *e);
/* Splits a string holding reference markers into a concatenation (or a
 * single reference); plain strings come back as JSON strings.  NULL with e
 * set when a marker is unknown. */
json_t *spec_conv_string(spec_ld_t *ld, const char *s, size_t len, perr_t *e);
/* Pushes v as a Lua value (deferred values become userdata). */
void spec_conv_push(lua_State *L, const json_t *v);

#endif
