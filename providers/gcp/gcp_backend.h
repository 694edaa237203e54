/* gcp_backend.h: the gcp provider's state backend, backend "gcs" (the
 * backend_t vtable of core/state.h).
 *
 * State object "<prefix>/<env>.plinth.json", lock object
 * "<prefix>/<env>.plinth.lock" (env NULL: "default").  Every write is
 * compare-and-swap on the generation last read or written (a write without
 * a read first replaces what is there); a conflict fails with "state was
 * changed by another run since it was read (generation G): re-run plan". */
#ifndef PLINTH_GCP_BACKEND_H
#define PLINTH_GCP_BACKEND_H

#include "core/rtype.h"
#include "core/state.h"

/* gcp_client is a gcp_client_t * (gcp_http.h), borrowed, and must outlive
 * the backend.  NULL with e on bad arguments; no request is made here. */
backend_t *backend_gcs_new(void *gcp_client, const char *bucket, const char *prefix, const char *env_name,
                           perr_t *e);

/* The provider's backend_open hook (rtype.h): cfg is the backend block
 * ({bucket, prefix}), pcfg the gcp provider block (its project is the
 * quota project).  Opens a client of its own, freed with the backend. */
backend_t *gcp_backend_open(const json_t *cfg, const json_t *pcfg, const prov_env_t *env,
                            const char *env_name, perr_t *e);

#endif
