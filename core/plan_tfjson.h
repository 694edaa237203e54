/* plan_tfjson.h: a plan in Terraform's JSON plan representation
 * (`terraform show -json PLANFILE`, format_version 1.2), so the tools that
 * read that format (PR summaries, policy checks, cost tools) can read
 * plinth's plans.  docs/json-formats.md lists what plinth fills.
 *
 *   plan_tfjson   built from a plan and its engine when the plan is made;
 *                 stored in the plan file under "tfplan" and printed by
 *                 `plinth show --json PLANFILE`.
 *
 * Secrets never appear: a sensitive path (the resource type's sensitive
 * patterns, sensitive outputs and variables) is left out of before/after/
 * values and marked true in the *_sensitive shapes.  Values known only
 * after apply are left out of after and marked true in after_unknown.
 * Returns a NEW reference. */
#ifndef PLINTH_PLAN_TFJSON_H
#define PLINTH_PLAN_TFJSON_H

#include <jansson.h>

#include "core/engine.h"

#define TFJSON_FORMAT_VERSION "1.2"

json_t *plan_tfjson(engine_t *e, plan_t *p);

/* Splits a body into what Terraform's format shows: the known values with
 * secrets removed (NEW), and the shapes of unknown and sensitive leaves
 * (NEW, `{}` when none).  t may be NULL (no sensitive paths). */
json_t *tfjson_split(const rtype_t *t, const json_t *body, json_t **unknown, json_t **sensitive);

#endif
