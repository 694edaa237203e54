/* diff.h: comparing one resource's desired body with its live body.
 *
 * Only paths the spec sets are compared (plus keys the last apply set and
 * the spec has since removed: the three-way part).  Values Google omits
 * because they are defaults (false, 0, "", [], {}) compare equal to a
 * missing live value; numbers compare equal to their int64 string form;
 * a short name or relative path compares equal to a full resource URL
 * ending in it.  Sensitive paths compare by sha256 against the last
 * applied hash, since live never returns secrets. */
#ifndef PLINTH_DIFF_H
#define PLINTH_DIFF_H

#include <jansson.h>

#include "core/rtype.h"
#include "core/util.h"

typedef struct diff_change {
    char *path;
    json_t *before;     /* live value or NULL (absent); NEW reference */
    json_t *after;      /* desired value, possibly deferred; NULL = removed */
    int forces_replace; /* an immutable path */
    int sensitive;
    int unknown; /* after is known only after apply */
} diff_change_t;

typedef struct diff {
    diff_change_t *c;
    size_t n, cap;
    int replace; /* some change forces replacement */
} diff_t;

/* desired: resolved as far as possible; live: already normalized; applied:
 * the last applied body from state (sensitive values as "sha256:..."), or
 * NULL.  ignore: the resource's lifecycle.ignore_changes patterns. */
void diff_resource(const rtype_t *t, const json_t *desired, const json_t *live, const json_t *applied,
                   const strlist_t *ignore, diff_t *out);
/* Every leaf of desired as an addition (for resources to be created). */
void diff_all(const rtype_t *t, const json_t *desired, diff_t *out);
void diff_free(diff_t *d);

/* Equality the diff uses, exposed for tests and drift detection. */
int diff_equal(const json_t *desired, const json_t *live);
/* Replaces each sensitive path's value in v with "sha256:<hex>" (in place). */
void diff_hash_sensitive(const rtype_t *t, json_t *v);
/* "sha256:<hex>" of a JSON value (new string). */
char *diff_hash_value(const json_t *v);

#endif
