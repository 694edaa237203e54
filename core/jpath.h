/* jpath.h: dotted paths into jansson values ("a.b.0.c": object keys and
 * array indexes), the unit in which plinth talks about fields: immutable
 * paths, changed paths, ignore_changes, sensitive paths.
 *
 * All returned json_t are BORROWED unless the name says "new". */
#ifndef PLINTH_JPATH_H
#define PLINTH_JPATH_H

#include <jansson.h>

#include "util.h"

/* Value at path, or NULL. "" is the root. Borrowed. */
json_t *jpath_get(const json_t *root, const char *path);
/* Sets value at path (steals the reference to v), creating objects on the
 * way. Returns 0, or -1 when an intermediate value is not an object/array. */
int jpath_set_new(json_t *root, const char *path, json_t *v);
/* Removes the value at path; 0 if removed, -1 if absent. */
int jpath_del(json_t *root, const char *path);
/* Joins "a.b" + "c" -> "a.b.c" (new string).  key may be an index. */
char *jpath_join(const char *base, const char *key);
/* True when `path` equals `prefix` or lies below it ("a.b" is under "a"). */
int jpath_under(const char *path, const char *prefix);
/* True when path matches a pattern where "*" stands for any one segment
 * ("secondaryIpRanges.*.rangeName"), or lies below such a match. */
int jpath_match(const char *path, const char *pattern);

/* Calls fn for every leaf (scalar, empty object, empty array) of v with its
 * path.  Returns the first non-zero value fn returned, or 0. */
typedef int (*jpath_leaf_fn)(void *ud, const char *path, json_t *leaf);
int jpath_each_leaf(json_t *v, jpath_leaf_fn fn, void *ud);

/* Canonical compact JSON with sorted keys (new string), for hashing and
 * comparison. */
char *jpath_canonical(const json_t *v);

#endif
