/* plan_int.h: pieces shared by plan.c, refresh.c, decide.c and apply.c;
 * not part of the engine's public contract. */
#ifndef PLINTH_PLAN_INT_H
#define PLINTH_PLAN_INT_H

#include "core/engine.h"

int plan_lookup(void *ud, const char *addr, const char *path, json_t **out, perr_t *e);
int plan_targets(engine_t *e, plan_t *p);
int plan_refresh(engine_t *e, plan_t *p);
int plan_decide(engine_t *e, plan_t *p);
/* Dependency order of items (indexes); -1 with e filled on a cycle. */
int plan_order(plan_t *p, size_t **order, perr_t *err);

/* A call context for one resource; err must outlive it. */
void plan_ctx(engine_t *e, plan_item_t *it, rctx_t *c, perr_t *err);

#endif
