/* gcp_batch.h: running the reads of one batch (rtype read_many) side by
 * side.  A batch reads a type's resources with one call per collection or
 * policy holder; when there are several (subnets in two regions, the IAM
 * policies of twenty buckets, the versions of twenty secrets) those calls
 * go out in parallel, so a refresh costs round trips, not their sum. */
#ifndef PLINTH_GCP_BATCH_H
#define PLINTH_GCP_BATCH_H

#include "providers/gcp/gcp_res.h"

/* At most this many calls of one batch in flight at once. */
#define GCP_BATCH_PARALLEL 16

/* Calls fn(c_i, i, ud) for every i < n, on up to GCP_BATCH_PARALLEL
 * threads; each call gets its own copy of c with its own error record.
 * Returns 0 when every call returned 0, else -1 with c->err set from the
 * first failure (by index).  fn must be thread-safe for distinct i. */
int gcp_batch_run(rctx_t *c, size_t n, int (*fn)(rctx_t *c, size_t i, void *ud), void *ud);

#endif
