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
#include "core/rtype.h"
#include "core/spec.h"
#include "core/state.h"
#include "core/util.h"

typedef struct ui ui_t;

typedef struct engine_opts {
    const char *spec_path;
    spec_opts_t spec;
    const char *env_name;     /* NULL = "default" */
    bool local;               /* --local: start an emulator */
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
    char *endpoint;       /* emulator base URL or NULL */
    int emu_pid;          /* --local: the emulator we started */
    char *local_dir;      /* .plinth/local beside the spec (--local) */
    pthread_mutex_t state_mu;
    state_saver_t *saver; /* during apply: group commit of state saves, or NULL */
    volatile sig_atomic_t *stop;
    ui_t *ui;
} engine_t;

/* Opens everything the command needs. Reports problems to ui and returns
 * NULL (the caller exits 1). */
engine_t *engine_open(const engine_opts_t *o, ui_t *ui, volatile sig_atomic_t *stop, bool need_spec);
void engine_close(engine_t *e);
/* Provider instance for a type, opening it on first use (thread-safe). */
void *engine_provider(engine_t *e, const rtype_t *t, perr_t *err);
/* Saves state now (takes state_mu): a whole write, or while an apply
 * runs (e->saver set) a group commit of what changed (state_commit). */
int engine_save_state(engine_t *e, perr_t *err);

typedef enum { ACT_NOOP, ACT_CREATE, ACT_UPDATE, ACT_REPLACE, ACT_DELETE } plan_act_t;

typedef struct plan_item {
    char *addr;
    const rtype_t *type;
    const spec_res_t *spec;  /* NULL: in state only (to destroy) */
    char *id;                /* current ID (state or found), or planned ID */
    char *old_id;            /* a replace: the ID of what is being replaced */
    json_t *old_live;        /* a replace: its live body */
    json_t *live;            /* normalized live body, or NULL */
    json_t *desired;         /* resolved as far as known, defaults applied */
    plan_act_t act;
    diff_t diff;
    strlist_t drift;         /* paths changed outside plinth since last apply */
    strlist_t deps;          /* addresses it depends on (spec) */
    strlist_t old_deps;      /* addresses it depended on (state) */
    char *reason;            /* replace/delete reason, or NULL */
    bool tainted;            /* --replace */
    bool cbd;
    bool was_pending;        /* an interrupted operation was found in state */
    bool excluded;           /* outside --target: neither refreshed nor changed */
    bool gone;               /* in state, but deleted outside plinth: drop from state */
} plan_item_t;

typedef struct plan {
    plan_item_t *items;
    size_t n;
    int ncreate, nupdate, nreplace, ndelete;
    int done_create, done_update, done_replace, done_delete; /* what apply_run finished */
    bool destroy;       /* a destroy plan */
    bool refresh_only;
    char lineage[37];
    int64_t serial;
} plan_t;

typedef struct plan_opts {
    bool destroy, refresh_only;
} plan_opts_t;

int plan_build(engine_t *e, const plan_opts_t *po, plan_t **out);
void plan_free(plan_t *p);
plan_item_t *plan_find(plan_t *p, const char *addr);
json_t *plan_to_json(const plan_t *p); /* NEW reference; secrets redacted */
int plan_has_changes(const plan_t *p);

/* Executes p; returns 0 when every step succeeded. */
int apply_run(engine_t *e, plan_t *p);

/* ref_lookup_fn over state (attributes, then the last applied body);
 * ud is the engine. */
int engine_state_lookup(void *ud, const char *addr, const char *path, json_t **out, perr_t *e);

/* Outputs resolved from state (NEW reference: name -> {value, sensitive}). */
json_t *engine_outputs(engine_t *e, perr_t *err);

#endif
