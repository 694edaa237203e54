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
 * GCS backend (providers/gcp/gcp_backend.c) implements the same vtable.
 *
 * Not thread-safe: the engine serialises access with its own mutex. */
#ifndef PLINTH_STATE_H
#define PLINTH_STATE_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define STATE_FORMAT 1

typedef struct state_res {
    char *addr;
    char *type;
    char *id;         /* provider ID (relative resource name); NULL while a create is pending without one */
    json_t *attrs;    /* live attributes after the last apply/refresh (sensitive hashed);
                       * after state_parse read them through state_attrs(), set
                       * directly */
    char *attrs_raw;  /* private: attrs as loaded, parsed on first state_attrs() */
    size_t doc_index; /* private: position in the loaded document */
    json_t *applied;  /* the resolved desired body last applied (sensitive hashed) */
    char applied_hash[65];
    strlist_t deps; /* addresses this resource depended on when applied */
    char *pending;  /* NULL, "create", "update" or "delete": started, outcome unknown */
    json_t *resume; /* provider checkpoint data for the pending operation, or NULL */
    bool dirty;     /* private: changed since the last save (see state_touch) */
    char *line;     /* private: the entry as the last journal commit wrote it (compact
                     * JSON), reused by state_dump while the entry is not dirty */
} state_res_t;

typedef struct state {
    int format;
    char lineage[37];
    int64_t serial;
    json_t *outputs;  /* object name -> {"value":..., "sensitive":bool} */
    json_t *env;      /* "environment": {last_apply, who, expires, ...} (core/env.h), or NULL */
    state_res_t *res; /* order unspecified (sorted by addr after state_parse/state_sort) */
    size_t nres, cap;
    struct state_index *index; /* private: addr -> slot, kept by the state_* functions */
    strlist_t changed;         /* private: addresses changed since the last save (journal) */
} state_t;

state_t *state_new(void); /* empty, fresh lineage, serial 0 */
void state_free(state_t *s);

/* Serialisation.  state_parse validates the shape and reports a corrupt
 * document with what is wrong ("resources[3]: missing 'addr'"). */
char *state_dump(const state_t *s); /* new string, pretty JSON */
int state_parse(const char *data, size_t len, const char *where, state_t **out, perr_t *e);

/* Lookups are O(1) through a hash index.  Add, remove and rename entries
 * (and change an entry's addr) only through these functions; other fields
 * may be changed in place.  A pointer returned by find/upsert stays valid
 * until the next upsert/remove/rename/sort (res[] may move). */
state_res_t *state_find(const state_t *s, const char *addr);
/* The resource's attributes (BORROWED), parsed on first use: a plan that
 * changes nothing never pays for parsing what it does not look at, which
 * is most of a large state.  Thread-safe; NULL when there are none. */
json_t *state_attrs(state_res_t *r);
/* Adds a resource entry (or returns the existing one; its type is set to
 * type when type is non-NULL) for addr.  A new entry has id, attrs,
 * applied, pending and resume NULL and applied_hash "". */
state_res_t *state_upsert(state_t *s, const char *addr, const char *type);
int state_remove(state_t *s, const char *addr); /* 0 removed, -1 absent */
int state_rename(state_t *s, const char *from, const char *to, perr_t *e);
/* Sorts res[] by addr (for listing). */
void state_sort(state_t *s);
/* Marks addr's entry as changed after its fields were set directly, so
 * that the next journal commit (state_commit) records it.  state_upsert,
 * state_remove and state_rename mark on their own. */
void state_touch(state_t *s, const char *addr);

/* Lock information, as stored in the lock file / object. */
typedef struct state_lock_info {
    char id[40];
    char who[128];
    char host[128];
    int pid;
    char op[32];      /* "apply", "plan", ... */
    char created[32]; /* RFC 3339 */
    char heartbeat[32];
    long long pid_start; /* the holder's start time (/proc/PID/stat), 0 unknown: tells a reused PID */
} state_lock_info_t;

/* Lock helpers shared by the backends.  state_lock_init fills a new lock
 * (random id, user, host, pid, op, created = heartbeat = now);
 * state_lock_json returns it as a new JSON string; state_lock_parse reads
 * one back (error naming what is wrong); state_lock_held_error fills e
 * with "state is locked by who@host (pid N) for op since T (lock ID X)",
 * noting a stale holder (same host, process gone), and how to unlock. */
void state_lock_init(state_lock_info_t *li, const char *op);
char *state_lock_json(const state_lock_info_t *li);
int state_lock_parse(const char *data, size_t len, const char *where, state_lock_info_t *li, perr_t *e);
void state_lock_held_error(perr_t *e, const char *where, const state_lock_info_t *li);
/* Whether a lock can be taken over without asking anyone: its holder ran on
 * this host and that process is gone (PID absent, or reused by a process
 * that started at another time) -- 1 with why filled ("process 123 on this
 * host is gone") -- or, when lease_s > 0, its heartbeat is older than
 * lease_s seconds (the holder renews it while it runs). 0 otherwise. */
int state_lock_stale(const state_lock_info_t *li, int lease_s, char *why, size_t whylen);
/* Seconds of a lock lease: PLINTH_LOCK_LEASE_S, default 120.  A holder
 * renews its heartbeat every third of it. */
int state_lock_lease_s(void);

typedef struct backend backend_t;
struct backend {
    const char *kind; /* "local", "gcs" */
    /* *data = NULL when no state exists yet. */
    int (*read)(backend_t *b, char **data, size_t *len, perr_t *e);
    int (*write)(backend_t *b, const char *data, size_t len, perr_t *e);
    /* Takes the lock or fails at once naming the holder (e->msg holds
     * "state is locked by who@host (pid N) for op since T, lock ID X"). */
    int (*lock)(backend_t *b, const char *op, state_lock_info_t *out, perr_t *e);
    int (*unlock)(backend_t *b, const char *id, perr_t *e);            /* id must match */
    int (*lock_info)(backend_t *b, state_lock_info_t *out, perr_t *e); /* 1 locked, 0 not, -1 error */
    void (*free)(backend_t *b);
    /* Optional (NULL: environments are files of a local directory, see
     * env.c): the names of the environments stored in the same place
     * (bucket and prefix), appended to names; and a backend (new, freed
     * with its free) for environment env in that place. */
    int (*list_envs)(backend_t *b, strlist_t *names, perr_t *e);
    backend_t *(*sibling)(backend_t *b, const char *env, perr_t *e);
    char *describe; /* "local state .plinth/default.tfstate" */
    /* Set by lock() when it took over a stale lock (what and why), for the
     * engine to show; "" otherwise. */
    char lock_note[400];
    void *impl;
    /* Kept by state_load/state_save: lineage of the stored state as last
     * read or written through this backend ("" when none is stored), and
     * whether it is known yet (state_save reads once when it is not). */
    char lineage[37];
    bool lineage_known;
    /* Optional journal (all three NULL when the backend has none: every
     * commit is then a whole write).  append adds data at the end of the
     * journal (fresh: the journal is replaced by data, which becomes
     * visible whole or not at all, and is fsynced); sync: fsynced before it
     * returns, else it is in the OS's cache only (it survives the process
     * being killed, not the machine crashing); read returns all of it
     * (*data NULL when there is none); clear removes it. */
    int (*journal_append)(backend_t *b, const char *data, size_t len, bool fresh, bool sync, perr_t *e);
    int (*journal_read)(backend_t *b, char **data, size_t *len, perr_t *e);
    int (*journal_clear)(backend_t *b, perr_t *e);
    /* Kept by state_load/state_save/state_commit: bytes in the journal since
     * the last whole write (0: none yet, the next commit starts it), and
     * whether the next commit must be a whole write (a journal was found
     * on load: its tail may be torn, so it is never appended to). */
    size_t journal_bytes;
    bool journal_compact;
};

/* Local file backend: path of the state file. */
backend_t *backend_local_new(const char *path);

/* Other backends come from providers (rtype.h: backend_open), e.g. the
 * gcp provider's "gcs" (providers/gcp/gcp_backend.h). */

/* Convenience over a backend: load (empty state when none exists yet,
 * error when corrupt, never overwriting it; a journal left by a run that
 * was killed is replayed on top) and save (serial+1, then a whole write,
 * then the journal is removed).  state_save refuses to write a state
 * whose lineage differs from the stored one. */
int state_load(backend_t *b, state_t **out, perr_t *e);
int state_save(backend_t *b, state_t *s, perr_t *e);

/* Group commit (state_journal.c), for many threads finishing work on one
 * state guarded by mu.  state_commit (called WITHOUT mu held) returns once
 * every change made to s before the call is durable: the entries changed
 * since the last commit are appended to the backend's journal as one
 * record each, and one fsync serves every thread waiting meanwhile.  The
 * journal is compacted into a whole write when it outgrows the state (so
 * the cost stays linear in the changes); backends without a journal get
 * a whole write per group.  The state file itself is only ever replaced
 * atomically, so it is valid at every instant; a SIGKILL loses only
 * changes whose commit had not returned.
 *
 * Journal format: JSON lines; the first {"journal":1,"lineage":L,
 * "serial":S} names the state it follows (replayed only on top of that
 * lineage and serial), then {"serial":N,"put":{resource entry}} or
 * {"serial":N,"rm":"addr"}.  A torn last line is ignored. */
typedef struct state_saver state_saver_t;
state_saver_t *state_saver_new(backend_t *b, state_t *s, pthread_mutex_t *mu);
void state_saver_free(state_saver_t *sv);
/* sync false: the changes only need to survive this process being killed
 * (written, not fsynced; for records of operations about to start, whose
 * loss in a machine crash the next plan reports by natural ID); a later
 * synced commit, or any whole write, makes them durable too. */
int state_commit(state_saver_t *sv, bool sync, perr_t *e);
/* Applies a journal's records to s (loaded from the state the journal
 * follows); 0 also when the journal belongs to another serial or lineage
 * (then nothing is applied), -1 with e when it is corrupt. */
int state_journal_replay(state_t *s, const char *data, size_t len, const char *where, perr_t *e);

#endif
