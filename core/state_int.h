/* state_int.h: what state.c shares with state_journal.c and state_lock.c
 * (private to the state module; the engine uses state.h only). */
#ifndef PLINTH_STATE_INT_H
#define PLINTH_STATE_INT_H

#include "state.h"

/* One resource entry as in the state document (NEW reference). */
json_t *state_res_json(const state_res_t *r);
/* Validates a resource entry (element i of resources, for messages) and
 * fills r, which must be zeroed; on failure release r with state_res_clear. */
int state_res_parse(json_t *o, size_t i, const char *where, state_res_t *r, perr_t *e);
void state_res_clear(state_res_t *r);
/* Forgets which entries changed (after a whole write covered them all). */
void state_clear_changes(state_t *s);
/* Before a whole write: the state is saveable and has the stored lineage
 * (read once from the backend when not yet known). */
int state_save_check(backend_t *b, state_t *s, perr_t *e);
/* After a whole write landed: remembers the lineage, drops the journal. */
void state_saved_whole(backend_t *b, const state_t *s);

/* A JSON string of s (a lossy copy if s is not valid UTF-8); NEW. */
json_t *state_jstr(const char *s);
/* Fills e with "PATH: expected WANT, found TYPE" (or missing); returns -1. */
int state_bad(perr_t *e, const char *where, const char *path, const char *want, const json_t *got);

#endif
