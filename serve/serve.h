/* serve.h: `plinth serve`, the self-service front end.  ML engineers ask
 * for an environment built from a catalogue module, see its plan, and get it
 * approved by someone else; the server applies exactly the reviewed saved
 * plan and destroys the environment at the end of its time to live.
 *
 * Layout (one concern per file, prefix srv_ throughout):
 *   serve_main.c  options, start-up, shutdown
 *   srv_db.c      SQLite records: environments, events, audit log, sessions
 *   srv_auth.c    users file, bearer tokens (plain or sha256:HEX), roles
 *   srv_catalog.c modules and their declared inputs (util.inputs), via Lua
 *   srv_run.c     the run queue: plan / apply / destroy as child processes
 *                 of bin/plinth, one at a time per environment, TTL reaper
 *   srv_http.c    the JSON API, cookies, CSRF rule, server-sent events
 *   srv_page.c    the web page (one embedded document, no external assets)
 *
 * Runs are child processes of the plinth binary itself: a run that crashes
 * cannot take the server down, its output becomes the environment's events,
 * and the state lock of each environment serialises runs as it does for CI.
 * The cost is a process start per run (a few milliseconds). */
#ifndef PLINTH_SERVE_H
#define PLINTH_SERVE_H

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include "core/util.h"

/* `plinth serve ...`: argv[0] is "serve".  Returns the exit code. */
int serve_main(int argc, char **argv, volatile sig_atomic_t *stop);

/* ---- configuration (serve_main.c) ---- */
typedef struct srv_conf {
    const char *listen;     /* "127.0.0.1:8080" */
    const char *users_file; /* --users */
    const char *data_dir;   /* --data, default .plinth/serve */
    const char *tls_cert, *tls_key;
    strlist_t module_dirs; /* --modules DIR... then the shipped ones */
    strlist_t vars;        /* --var k=v, passed to every run */
    strlist_t backend_config;
    int max_runs;       /* runs in parallel across environments */
    const char *plinth; /* the plinth binary runs are made with */
} srv_conf_t;

/* ---- records (srv_db.c) ----
 * One SQLite connection guarded by a mutex: the server's writes are small
 * and few (a status change, an output line), so serialising them costs
 * nothing measurable and keeps the code free of SQLITE_BUSY handling. */
typedef struct srv_db srv_db_t;
srv_db_t *srv_db_open(const char *path, perr_t *e);
void srv_db_close(srv_db_t *db);
/* New environment; returns 0, -1 on error; 1 when the name is in use. */
int srv_db_env_create(srv_db_t *db, const char *id, const char *name, const char *module,
                      const json_t *inputs, const char *ttl, long ttl_s, const char *user);
/* The environment as the API shows it (NEW reference), NULL if unknown.
 * with_events: include the events array. */
json_t *srv_db_env_get(srv_db_t *db, const char *id, int with_events);
json_t *srv_db_env_list(srv_db_t *db); /* NEW array */
/* Sets status (and the named text column when col != NULL). */
int srv_db_env_set(srv_db_t *db, const char *id, const char *status, const char *col, const char *val);
/* Moves from one status to another only if it is still `from`; 1 if moved. */
int srv_db_env_move(srv_db_t *db, const char *id, const char *from, const char *to);
/* IDs of environments in a status (NEW strlist in out). */
void srv_db_env_ids(srv_db_t *db, const char *status, strlist_t *out);
/* Applied environments whose expiry is at or before now. */
void srv_db_env_expired(srv_db_t *db, long now, strlist_t *out);
/* Appends an event; returns its sequence number. */
long srv_db_event(srv_db_t *db, const char *id, const char *type, const char *msg);
/* Events of id after seq (NEW array of {seq, ts, type, message}). */
json_t *srv_db_events(srv_db_t *db, const char *id, long after);
void srv_db_audit(srv_db_t *db, const char *user, const char *action, const char *env, const char *detail);
json_t *srv_db_audit_list(srv_db_t *db); /* NEW array */
int srv_db_session_add(srv_db_t *db, const char *sid, const char *user);
char *srv_db_session_user(srv_db_t *db, const char *sid); /* malloc'ed or NULL */

/* ---- users (srv_auth.c) ---- */
enum { SRV_REQUESTER = 1, SRV_APPROVER = 2, SRV_ADMIN = 4 };
typedef struct srv_user {
    char *name;
    unsigned char hash[32]; /* SHA-256 of the token */
    int roles;
} srv_user_t;
typedef struct srv_users {
    srv_user_t *v;
    size_t n;
} srv_users_t;
int srv_users_load(const char *path, srv_users_t *u, perr_t *e);
void srv_users_free(srv_users_t *u);
/* The user a token belongs to, or NULL (constant time per user). */
const srv_user_t *srv_users_by_token(const srv_users_t *u, const char *token);
const srv_user_t *srv_users_by_name(const srv_users_t *u, const char *name);
json_t *srv_roles_json(int roles); /* NEW */
/* A fresh random hex identifier of 2*nbytes characters (malloc'ed). */
char *srv_random_hex(size_t nbytes);

/* ---- catalogue (srv_catalog.c) ---- */
/* Each module: {"name", "file", "description", "inputs": [{name, type,
 * required, default, description, allowed}], "outputs": [...]}. */
json_t *srv_catalog_load(const strlist_t *dirs, perr_t *e); /* NEW array */
/* Checks inputs against a catalogue entry; on error fills e (field named in
 * e->where) and returns -1.  *clean gets the inputs with defaults (NEW). */
int srv_catalog_check(const json_t *module, const json_t *inputs, json_t **clean, perr_t *e);

/* ---- runs (srv_run.c) ---- */
typedef struct srv srv_t;
struct srv {
    srv_conf_t conf;
    srv_db_t *db;
    srv_users_t users;
    json_t *catalog;
    volatile sig_atomic_t *stop;
    /* run queue */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    strlist_t queue_env, queue_op; /* pending jobs, in order */
    strlist_t busy;                /* environments with a run in flight */
    pthread_t *workers, reaper;
    int nworkers, quit;
};
int srv_run_start(srv_t *s);
void srv_run_stop(srv_t *s);
/* Queues op ("plan", "apply", "destroy") for an environment. */
void srv_run_enqueue(srv_t *s, const char *id, const char *op);
/* At start-up: resume or report the runs that were in flight. */
void srv_run_recover(srv_t *s);
const json_t *srv_catalog_find(const srv_t *s, const char *module);

/* ---- HTTP (srv_http.c, srv_page.c) ---- */
int srv_http_start(srv_t *s, perr_t *e);
void srv_http_stop(srv_t *s);
extern const char srv_page_html[];
extern const char srv_page_js[];

/* Durations "72h", "30m", "2s", "1d" -> seconds; -1 if malformed. */
long srv_parse_ttl(const char *s);

#endif
