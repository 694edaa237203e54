/* gcp_api.h: per-API traits of the Google APIs plinth talks to, as one
 * table (gcp_api.c) instead of branches on the API's name: the shape of
 * its long-running operations, when an answer means "busy with another
 * operation, retry", how list pages are sized, and whether resource names
 * are global across projects.  An API not in the table gets the defaults:
 * google.longrunning operations, never busy, no page size, project names. */
#ifndef PLINTH_GCP_API_H
#define PLINTH_GCP_API_H

#include "transport/gcp_http.h"

typedef enum {
    GCP_OPS_LRO,       /* google.longrunning.Operation: "done", polled at v1/{name} */
    GCP_OPS_COMPUTE,   /* compute#operation: "status" DONE, selfLink or zone/region scope */
    GCP_OPS_CONTAINER, /* GKE: "status" DONE, selfLink with zones/ read as locations/ */
    GCP_OPS_SQL        /* sql#operation: "status" DONE, targetProject */
} gcp_ops_shape_t;

typedef struct gcp_api_traits {
    const char *name;    /* transport API name ("compute") */
    gcp_ops_shape_t ops; /* operation shape */
    /* 1 when the answer says the resource is busy with another operation
     * and the same call should be sent again later; NULL: never. */
    int (*busy)(const gcp_resp_t *r);
    const char *page_query; /* appended to list URLs ("maxResults=500"), or NULL */
    int global_names;       /* names are global (buckets): a 409 may be another project's */
    /* A create without an operation answers with the resource itself: it
     * is taken as live, with no read-back GET (which these eventually
     * consistent APIs may answer 404 for a while). */
    int create_answers_resource;
    const char *ops_prefix; /* google.longrunning operations are polled at <ops_prefix><name>; NULL: "v1/" */
} gcp_api_traits_t;

/* The traits of api (never NULL: unknown APIs get the defaults). */
const gcp_api_traits_t *gcp_api_traits(const char *api);
/* Whether api declares its operation shape (compute, container, sqladmin);
 * for the others the operation's own fields tell (gcp_op.c). */
int gcp_api_ops_declared(const char *api);

#endif
