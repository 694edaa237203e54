/* spec_int.h: internals shared by the files of the spec loader:
 *   spec.c          spec_load / spec_free: the run and the checks after it
 *   spec_sandbox.c  the Lua state, limits, error locations, protected runs
 *   spec_file.c     Lua chunks, require(), file(), templatefile(), modules dirs
 *   spec_decl.c     resources, provider/backend blocks, outputs, names
 *   spec_var.c      var() and --var / --var-file / PLINTH_VAR_ values
 *   spec_module.c   module()
 *   spec_digest.c   spec_digest
 *   spec_lua.c      deferred values as Lua userdata
 *   spec_conv.c     Lua <-> JSON
 * Not part of the engine's contract: only core/spec*.c include it. */
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
    json_t **markers;                /* marker n -> deferred value (owned) */
    size_t nmarkers, capmarkers;
    size_t capres, capout, capvar, capprov;
    spec_varloc_t *varlocs;
    json_t *varfile;     /* name -> value from --var-file files (owned) */
    strlist_t cli_used;  /* --var names matched by a var() */
    strlist_t roots;     /* resolved directories files may be read from */
    int64_t deadline_ms; /* util_now_ms() after which the load stops */
    long time_limit_ms;
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

/* spec_sandbox.c.  spec_alloc is the lua_Alloc (ud = the spec_ld_t) that
 * enforces mem_limit; spec_hook the count hook that enforces hook_limit. */
void *spec_alloc(void *ud, void *ptr, size_t osize, size_t nsize);
void spec_hook(lua_State *L, lua_Debug *ar);
/* lua_CFunction run under lua_pcall on a fresh state: opens the cut-down
 * standard library and every plinth global. */
int spec_setup(lua_State *L);
/* Runs the Lua file path in protected mode: 0 with its first result pushed,
 * or -1 with the error added to ld->diags (located) and nothing pushed. */
int spec_protected_run(spec_ld_t *ld, const char *path);
/* Adds the error on top of the stack (status from lua_pcall) to diags. */
void spec_add_lua_error(spec_ld_t *ld, int status, const char *fallback_file);
/* Adds "file:line: msg" to ld->diags (a declaration error: loading goes on). */
void spec_decl_error(spec_ld_t *ld, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Splits Lua's "src:N: msg" position prefix off msg; returns the rest, or
 * NULL when msg has none. */
const char *spec_split_pos(const char *msg, char *src, size_t n, int *line);

/* Sandbox checks (spec_sandbox.c).  spec_check_time raises when the
 * load's time budget is spent or a stop signal arrived; spec_confine
 * resolves path (new string) and raises unless it lies inside ld->roots;
 * spec_read_bounded reads a regular file of at most the size cap and the
 * memory left to the spec, raising "fn(\"shown\"): ..." otherwise.  The
 * budget check for C loops (pattern matching) is spec_time_left. */
void spec_check_time(lua_State *L);
int spec_time_left(spec_ld_t *ld); /* 0 when the load must stop */
char *spec_confine(lua_State *L, const char *fn, const char *shown, const char *path);
/* The same check without raising: NULL with err filled. */
char *spec_confined_path(spec_ld_t *ld, const char *path, char *err, size_t errlen);
size_t spec_read_cap(spec_ld_t *ld); /* bytes a file read may take now */
char *spec_read_bounded(lua_State *L, const char *fn, const char *shown, const char *path, size_t *len);
void spec_roots_init(spec_ld_t *ld);
/* spec_pattern.c: string.find/match/gmatch/gsub with the time budget. */
void spec_pattern_open(lua_State *L);
/* The same on any Lua state, budgeted by ld (NULL: no budget; for tests). */
void spec_pattern_install(lua_State *L, spec_ld_t *ld);

/* spec_file.c */
void spec_file_open(lua_State *L);   /* globals require, file, templatefile */
char *spec_dir_of(const char *path); /* new string; "." when path has no '/' */
int spec_is_file(const char *p);
/* Loads a text chunk from path onto the stack, or raises with the syntax
 * error located in that file. */
void spec_load_chunk(lua_State *L, const char *path);
/* path resolved against the directory of the calling Lua file (new). */
char *spec_caller_relative(lua_State *L, const char *path);
/* name (dots as '/') as <dir>/<name>.lua or <dir>/<name>/init.lua in the
 * modules directories: new path, or NULL. */
char *spec_find_module_file(spec_ld_t *ld, const char *name);
/* Pushes the modules directories as one string, for messages. */
void spec_push_moddirs(lua_State *L, spec_ld_t *ld);

/* spec_decl.c */
void spec_decl_open(lua_State *L);       /* globals provider, backend, output */
void spec_decl_namespaces(lua_State *L); /* one resource namespace per provider */
/* Identifier: letters, digits, '_' (and '-' when allow_dash). */
int spec_valid_name(const char *s, int allow_dash);
/* The plain string at idx, or raises naming what. */
const char *spec_checkname(lua_State *L, int idx, const char *what);
/* Reports keys of the options table at idx that are not in known. */
void spec_check_keys(spec_ld_t *ld, lua_State *L, int idx, const char *const *known, const char *fn,
                     const char *name, const char *file, int line);

/* spec_var.c */
void spec_var_open(lua_State *L); /* global var */
/* Reads the --var-file files into ld->varfile (errors to ld->diags). */
void spec_var_files(spec_ld_t *ld);

/* spec_module.c */
void spec_module_open(lua_State *L); /* global module */

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
