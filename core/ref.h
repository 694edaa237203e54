/* ref.h: deferred values inside resource bodies.
 *
 * A spec can use values that exist only after apply (a network's selfLink).
 * Inside bodies (jansson values) they are encoded as plain JSON objects
 * marked with the key "$plinth", so bodies stay ordinary JSON that can be
 * hashed, stored in plan files and walked:
 *
 *   reference:     {"$plinth":"ref", "addr":"gcp.compute_network.main", "path":"selfLink"}
 *   concatenation: {"$plinth":"concat", "parts":["projects/", {ref}, "/x"]}
 *                  (parts are strings or references; the result is a string)
 *
 * path is a jpath ("masterAuth.clusterCaCertificate"); "" is the whole
 * resource.  References point at the live attributes of the resource.
 * Returned json_t are NEW references unless stated. */
#ifndef PLINTH_REF_H
#define PLINTH_REF_H

#include <jansson.h>

#include "util.h"

json_t *ref_new(const char *addr, const char *path);
/* Concatenation of parts (steals the array); collapses to a plain string
 * when no part is deferred. */
json_t *ref_concat_new(json_t *parts);

int ref_is_ref(const json_t *v);      /* a single reference */
int ref_is_deferred(const json_t *v); /* a reference or a concatenation */
int ref_contains(const json_t *v);    /* any deferred value anywhere inside */

/* Adds (deduplicated) every address referenced anywhere inside v. */
void ref_collect(const json_t *v, strlist_t *addrs);

/* Looks up the value of (addr, path).  Returns 1 and sets *out (BORROWED)
 * when known; 0 when not known yet (the resource is still to be created or
 * replaced); -1 after filling e when it can never be known (no such
 * resource, or no such attribute on a resource that exists). */
typedef int (*ref_lookup_fn)(void *ud, const char *addr, const char *path, json_t **out, perr_t *e);

/* Copy of v with every deferred value replaced by its value where lookup
 * knows it.  Those it does not know stay deferred and *unknown is set to 1
 * (a concatenation with any unknown part stays whole).  When lookup fails
 * (-1), returns NULL with e filled. */
json_t *ref_resolve(const json_t *v, ref_lookup_fn lookup, void *ud, int *unknown, perr_t *e);

/* "gcp.compute_network.main.selfLink" for a reference, a readable form for a
 * concatenation; new string. */
char *ref_describe(const json_t *v);

#endif
