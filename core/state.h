/* state.h: what plinth knows it manages, persisted between runs.
 *
 * State is JSON: {"format": 1, "lineage": "<uuid>", "serial": N,
 * "outputs": {...}, "resources": [ {addr, type, id, attrs, applied,
 * applied_hash, deps, pending} ] }.  Sensitive values never appear in it in
 * plaintext: the engine replaces them with "sha256:<hex>" before storing.
 *
 * A backend stores the bytes and the lock: the local backend writes
 * atomically (temp + fsync + rename), keeps the previous version as
 * "<path>.backup", and locks with "<path>.lock" created exclusively.  The
 * GCS backend (issue 8) implements the same vtable.
 *
 * Not thread-safe: the engine serialises access with its own mutex. */
#ifndef PLINTH_STATE_H
#define PLINTH_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define STATE_FORMAT 1

typedef struct state_res {
    char *addr;
    char *type;
    char *id;          /* provider ID (relative resource name); NULL while a create is pending without one */
    json_t *attrs;     /* live attributes after the last apply/refresh (sensitive hashed) */
    json_t *applied;   /* the resolved desired body last applied (sensitive hashed) */
    char applied_hash[65];
    strlist_t deps;    /* addresses this resource depended on when applied */
    char *pending;     /* NULL, "create", "update" or "delete": started, outcome unknown */
    json_t *resume;    /* provider checkpoint data for the pending operation, or NULL */
} state_res_t;

typedef struct state {
    int format;
    char lineage[37];
    int64_t serial;
    json_t *outputs; /* object name -> {"value":..., "sensitive":bool} */
    state_res_t *res;
    size_t nres, cap;
} state_t;

state_t *state_new(void); /* empty, fresh lineage, serial 0 */
void state_free(state_t *s);

/* Serialisation.  state_parse validates the shape and reports a corrupt
 * document with what is wrong ("resources[3]: missing 'addr'"). */
char *state_dump(const state_t *s); /* new string, pretty JSON */
int state_parse(const char *data, size_t len, const char *where, state_t **out, perr_t *e);

state_res_t *state_find(const state_t *s, const char *addr);
/* Adds a resource entry (or returns the existing one) for addr. */
state_res_t *state_upsert(state_t *s, const char *addr, const char *type);
int state_remove(state_t *s, const char *addr); /* 0 removed, -1 absent */
int state_rename(state_t *s, const char *from, const char *to, perr_t *e);

/* Lock information, as stored in the lock file / object. */
typedef struct state_lock_info {
    char id[40];
    char who[128];
    char host[128];
    int pid;
    char op[32];      /* "apply", "plan", ... */
    char created[32]; /* RFC 3339 */
    char heartbeat[32];
} state_lock_info_t;

typedef struct backend backend_t;
struct backend {
    const char *kind; /* "local", "gcs" */
    /* *data = NULL when no state exists yet. */
    int (*read)(backend_t *b, char **data, size_t *len, perr_t *e);
    int (*write)(backend_t *b, const char *data, size_t len, perr_t *e);
    /* Takes the lock or fails at once naming the holder (e->msg holds
     * "state is locked by who@host (pid N) for op since T, lock ID X"). */
    int (*lock)(backend_t *b, const char *op, state_lock_info_t *out, perr_t *e);
    int (*unlock)(backend_t *b, const char *id, perr_t *e); /* id must match */
    int (*lock_info)(backend_t *b, state_lock_info_t *out, perr_t *e); /* 1 locked, 0 not, -1 error */
    void (*free)(backend_t *b);
    char *describe; /* "local state .plinth/default.tfstate" */
    void *impl;
};

/* Local file backend: path of the state file. */
backend_t *backend_local_new(const char *path);

/* Convenience over a backend: load (empty state when none exists yet,
 * error when corrupt, never overwriting it) and save (serial+1, then
 * write).  state_save refuses to write a state whose lineage differs from
 * the stored one. */
int state_load(backend_t *b, state_t **out, perr_t *e);
int state_save(backend_t *b, state_t *s, perr_t *e);

#endif
