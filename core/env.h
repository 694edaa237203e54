/* env.h: environments with a lifetime, and the list of environments in a
 * backend.
 *
 * Each apply records in the environment's state ("environment" in
 * state.h's document): {"last_apply": RFC 3339, "who": "actor", "spec":
 * path of the spec, "ttl": "72h", "expires": RFC 3339}.  `apply --ttl D`
 * sets ttl and expires = now + D; an apply without --ttl keeps the ttl
 * already recorded and renews expires from it (an environment in use stays
 * alive); destroy removes expires.  "who" is PLINTH_ACTOR, else
 * GITHUB_ACTOR, else user@host.
 *
 * The environments of a backend: for GCS every "<prefix>/<env>.plinth.json"
 * object of the bucket, for local state every ".plinth/<env>.state.json"
 * beside the spec. */
#ifndef PLINTH_ENV_H
#define PLINTH_ENV_H

#include <stdbool.h>
#include <stdint.h>

#include "core/engine.h"

/* "90" (seconds), "2s", "30m", "72h", "7d", "7d12h" -> seconds (> 0). */
int env_parse_ttl(const char *s, int64_t *secs);

/* Records the apply (or destroy) in e->state->env, in memory: the caller
 * notes before apply_run (whose state writes then carry it), or saves.
 * ttl_s 0 = keep the recorded ttl.  Returns false when there was nothing
 * worth a state write: a destroy of an environment with no record, or an
 * apply with no --ttl now and none recorded (then nothing is changed). */
bool env_note(engine_t *e, int64_t ttl_s, const char *ttl_text, bool destroy);

typedef struct env_info {
    char *name;
    size_t resources;
    char *last_apply, *who, *expires, *spec, *ttl; /* NULL when not recorded */
    bool expired;
    bool locked;
    state_lock_info_t lock;
    char *error; /* the state could not be read */
} env_info_t;

/* Lists the environments of the backend e was opened on (sorted by name). */
int env_list(engine_t *e, env_info_t **out, size_t *n, perr_t *err);
void env_list_free(env_info_t *v, size_t n);
/* {"name", "resources", "last_apply", "who", "expires", "expired", "ttl",
 * "spec", "lock": {id, who, op, created} | null} (NEW). */
json_t *env_info_json(const env_info_t *v);

#endif
