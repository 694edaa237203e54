/* gcp_hooks.h: the gcp provider's rtype.h hooks (see there for the
 * contracts): schema validation and body preparation. */
#ifndef PLINTH_GCP_HOOKS_H
#define PLINTH_GCP_HOOKS_H

#include "core/rtype.h"

void gcp_validate(const rtype_t *t, const json_t *body, const char *addr, const char *where, diag_t *d);
void gcp_prepare(const rtype_t *t, json_t *body, const char *spec_dir);
int gcp_attr_known(const rtype_t *t, const char *name, const char **closest);

#endif
