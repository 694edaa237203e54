/* engine.h: one run of plinth: the spec, the state, the providers, and the
 * plan built from them.
 *
 *   engine_open      load spec (+validate), open backend, lock, load state,
 *                    open providers
 *   plan_build       refresh (concurrently) and diff every resource
 *   apply_run        execute a plan: a DAG walk of delete/create/update
 *                    steps, state saved after every finished step
 *   engine_close     unlock, free
 *
 * Plan items borrow from the engine's spec and state; a plan lives no
 * longer than the engine that built it. */
#ifndef PLINTH_ENGINE_H
#define PLINTH_ENGINE_H

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "core/diff.h"
#include "core/plan.h"
#include "core/rtype.h"
#include "core/spec.h"
#include "core/state.h"
#include "core/util.h"

/* How the engine reports progress: it never prints, it calls these (as
 * Terraform's engine calls its Hook).  core/ui_hooks.c implements them on
 * the terminal; every member may be NULL.  Called from worker threads
 * concurrently: implementations must be thread-safe.  ud is the pointer
 * given to engine_open. */
typedef struct engine_hooks {
    /* A resource step starts: verb "Creating", "Modifying", "Destroying",
     * "Refreshing", "Replacing", "Destroying the replaced resource". */
    void (*step_start)(void *ud, const char *addr, const char *verb);
    /* A progress line from the provider ("operation op-1: RUNNING"). */
    void (*step_msg)(void *ud, const char *addr, const char *msg);
    /* The step ended (ok false: it failed; the error follows). */
    void (*step_done)(void *ud, const char *addr, const char *verb, bool ok, const char *detail);
    void (*error)(void *ud, const perr_t *e);
    void (*diags)(void *ud, const diag_t *d);
    void (*warn)(void *ud, const char *msg);
} engine_hooks_t;

typedef struct engine_opts {
    const char *spec_path;
    spec_opts_t spec;
    const char *env_name; /* NULL = "default" */
    bool local;           /* --local: start an emulator */
    const char *http_log;
    int parallelism;
    const char *lock_op;      /* "plan", "apply", ...; NULL = no lock */
    bool no_providers;        /* validate: no provider instances */
    strlist_t targets;        /* --target */
    strlist_t replace;        /* --replace */
    int lock_timeout_ms;      /* --lock-timeout: wait this long for the lock */
    strlist_t backend_config; /* --backend-config k=v: overrides the backend block */
    bool reuse_state;         /* --reuse-state: plan with a state another spec wrote */
} engine_opts_t;

typedef struct prov_inst {
    const provider_def_t *def;
    void *inst; /* NULL until opened */
} prov_inst_t;

typedef struct engine {
    engine_opts_t o;
    spec_t *spec;
    state_t *state;
    backend_t *backend;
    state_lock_info_t lock;
    bool locked;
    prov_inst_t prov[8];
    size_t nprov;
    char *endpoint;  /* emulator base URL or NULL */
    int emu_pid;     /* --local: the emulator we started */
    char *local_dir; /* .plinth/local beside the spec (--local) */
    pthread_mutex_t state_mu;
    state_saver_t *saver; /* during apply: group commit of state saves, or NULL */
    volatile sig_atomic_t *stop;
    const engine_hooks_t *hooks; /* never NULL (engine_open substitutes a silent set) */
    void *hooks_ud;
} engine_t;

/* Opens everything the command needs. Reports problems through hooks (ud
 * passed back; hooks may be NULL: silent) and returns NULL (the caller
 * exits 1). */
engine_t *engine_open(const engine_opts_t *o, const engine_hooks_t *hooks, void *ud,
                      volatile sig_atomic_t *stop, bool need_spec);
/* Reports through the engine's hooks (thread-safe as the hooks are). */
void engine_step_start(engine_t *e, const char *addr, const char *verb);
void engine_step_msg(engine_t *e, const char *addr, const char *msg);
void engine_step_done(engine_t *e, const char *addr, const char *verb, bool ok, const char *detail);
void engine_error(engine_t *e, const perr_t *err);
void engine_diags(engine_t *e, const diag_t *d);
void engine_warn(engine_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void engine_close(engine_t *e);
/* Provider instance for a type, opening it on first use (thread-safe). */
void *engine_provider(engine_t *e, const rtype_t *t, perr_t *err);
/* Saves state now (takes state_mu): a whole write, or while an apply
 * runs (e->saver set) a group commit of what changed (state_commit). */
int engine_save_state(engine_t *e, perr_t *err);
/* The same for a record of an operation about to start (pending): during
 * an apply it need only survive this process being killed, so it is not
 * fsynced (state_commit with sync false); a whole write otherwise. */
int engine_save_pending(engine_t *e, perr_t *err);

int plan_build(engine_t *e, const plan_opts_t *po, plan_t **out);

/* Executes p; returns 0 when every step succeeded. */
int apply_run(engine_t *e, plan_t *p);

/* ref_lookup_fn over state (attributes, then the last applied body);
 * ud is the engine. */
int engine_state_lookup(void *ud, const char *addr, const char *path, json_t **out, perr_t *e);

/* Outputs resolved from state (NEW reference: name -> {value, sensitive}). */
json_t *engine_outputs(engine_t *e, perr_t *err);

#endif
