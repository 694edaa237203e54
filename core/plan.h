/* plan.h: plan data and its JSON form, nothing else (like Terraform's
 * internal/plans): what plan_build (engine.h) decided for each resource,
 * which apply_run executes and ui renders.  A plan_t owns its items and
 * everything they point to except type and spec (borrowed from the
 * registry and the engine's spec: a plan must not outlive the engine that
 * built it). */
#ifndef PLINTH_PLAN_H
#define PLINTH_PLAN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/diff.h"
#include "core/rtype.h"
#include "core/spec.h"
#include "core/util.h"

typedef enum { ACT_NOOP, ACT_CREATE, ACT_UPDATE, ACT_REPLACE, ACT_DELETE } plan_act_t;

typedef struct plan_item {
    char *addr;
    const rtype_t *type;
    const spec_res_t *spec; /* NULL: in state only (to destroy) */
    char *id;               /* current ID (state or found), or planned ID */
    char *old_id;           /* a replace: the ID of what is being replaced */
    json_t *old_live;       /* a replace: its live body */
    json_t *live;           /* normalized live body, or NULL */
    json_t *desired;        /* resolved as far as known, defaults applied */
    plan_act_t act;
    diff_t diff;
    strlist_t drift;    /* paths changed outside plinth since last apply */
    strlist_t deps;     /* addresses it depends on (spec) */
    strlist_t old_deps; /* addresses it depended on (state) */
    char *reason;       /* replace/delete reason, or NULL */
    bool tainted;       /* --replace */
    bool cbd;
    bool was_pending; /* an interrupted operation was found in state */
    bool excluded;    /* outside --target: neither refreshed nor changed */
    bool gone;        /* in state, but deleted outside plinth: drop from state */
} plan_item_t;

typedef struct plan {
    plan_item_t *items;
    size_t n;
    int ncreate, nupdate, nreplace, ndelete;
    int done_create, done_update, done_replace, done_delete; /* what apply_run finished */
    bool destroy;                                            /* a destroy plan */
    bool refresh_only;
    char lineage[37];
    int64_t serial;
} plan_t;

typedef struct plan_opts {
    bool destroy, refresh_only;
} plan_opts_t;

void plan_free(plan_t *p);
plan_item_t *plan_find(plan_t *p, const char *addr);
json_t *plan_to_json(const plan_t *p); /* NEW reference; secrets redacted */
int plan_has_changes(const plan_t *p);

#endif
