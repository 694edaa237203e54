/* planfile.h: the saved plan file (plan --out FILE; apply FILE; show FILE).
 *
 * A JSON object: plinth_plan (format, 1), spec (path), spec_hash, lineage,
 * serial, env, vars (the --var "name=value" strings of the plan run),
 * sensitive_vars, plan (plan_to_json), tfplan, targets, replace.  A --var
 * naming a sensitive variable is never written in clear: sensitive_vars
 * keeps {"salt": hex, "sha256": hex} of its value and apply requires the
 * value again (--var, PLINTH_VAR_ or --var-file) and checks it against the
 * hash. */
#ifndef PLINTH_PLANFILE_H
#define PLINTH_PLANFILE_H

#include <jansson.h>

#include "core/spec.h"
#include "core/util.h"

/* Reads and validates every field of a plan file: *out a NEW reference, or
 * -1 with e naming the file and the field ("pr.plan: vars[2]: expected a
 * string \"name=value\", found an integer"). */
int planfile_read(const char *path, json_t **out, perr_t *e);
/* Validates a parsed plan file (as planfile_read; where names it). */
int planfile_check(const json_t *pf, const char *where, perr_t *e);

/* Sets doc's "vars" and "sensitive_vars" from the --var strings of this
 * run, hashing those that name a sensitive variable of spec. */
void planfile_set_vars(json_t *doc, const spec_t *spec, const strlist_t *cli_vars);
/* Appends the plan's clear --var strings to out. */
void planfile_get_vars(const json_t *pf, strlist_t *out);
/* After the spec is loaded again at apply: each sensitive variable the
 * plan holds a hash of has the same value now; -1 with e naming it and
 * how to pass it otherwise. */
int planfile_check_sensitive(const json_t *pf, const spec_t *spec, const char *where, perr_t *e);

#endif
