/* gcp_op.h: waiting on Google long-running operations (gcp_op.c), on top
 * of the transport (transport/gcp_http.h); the operation shapes come from
 * the per-API traits (gcp_api.h). */
#ifndef PLINTH_GCP_OP_H
#define PLINTH_GCP_OP_H

#include <jansson.h>

#include "core/util.h"
#include "transport/gcp_http.h"

/* Long-running operations.  op is the operation JSON a call returned;
 * api names its shape (compute, container, sqladmin, serviceusage,
 * servicenetworking, artifactregistry, aiplatform: google.longrunning).
 * Polls with backoff (1 s growing to 10 s; faster against an emulator:
 * 100 ms growing to 1 s), calls progress(ud, msg) on status changes,
 * stops when *cancel becomes set (returns -1, "interrupted").  On success
 * *result is the operation's final JSON (NEW reference) or NULL if not
 * wanted.  An error inside a finished operation becomes e with the API's
 * message. */
typedef void (*gcp_progress_fn)(void *ud, const char *msg);
int gcp_wait_op(gcp_client_t *c, const char *api, const json_t *op, gcp_progress_fn progress, void *ud,
                json_t **result, perr_t *e);

#endif
