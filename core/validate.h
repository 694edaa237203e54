/* validate.h: checks a loaded spec before any API call: resource bodies
 * against their type's schema (unknown field with the closest name, wrong
 * type, bad enum), required fields, references and depends_on naming
 * declared resources, and dependency cycles.  Every problem is collected,
 * each with the spec's file:line. */
#ifndef PLINTH_VALIDATE_H
#define PLINTH_VALIDATE_H

#include "core/spec.h"
#include "core/util.h"

/* Returns the number of problems added to d. */
int validate_spec(const spec_t *s, diag_t *d);

#endif
