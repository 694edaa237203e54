/* gcp_log.h: the HTTP log writer (transport/): one JSON object per request
 * attempt, appended to a file with secrets redacted; written by the gcp
 * transport and by the k8s provider's client (ARCHITECTURE.md: HTTP log). */
#ifndef PLINTH_GCP_LOG_H
#define PLINTH_GCP_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/util.h"

typedef struct gcp_log gcp_log_t;

/* One attempt.  Bodies are raw bytes (may be NULL / 0). */
typedef struct gcp_log_entry {
    const char *api, *method, *url;
    const char *addr;     /* the resource the request is made for, or NULL (omitted) */
    const char *req_type; /* request Content-Type, or NULL */
    const char *req, *resp;
    size_t req_len, resp_len;
    long status;
    long ms;
    int attempt;
    int64_t start_ms; /* wall clock (epoch ms) when the attempt began; 0 = now */
} gcp_log_entry_t;

/* Opens path for appending (O_APPEND, created 0600).  NULL with e filled. */
gcp_log_t *gcp_log_open(const char *path, perr_t *e);
void gcp_log_close(gcp_log_t *l);
/* Registers a secret (copied): strings equal to or containing it are
 * written as "<redacted>".  Thread-safe; empty values are ignored. */
void gcp_log_add_secret(gcp_log_t *l, const char *value);
/* Appends one line (one write() under the log's mutex).  Thread-safe. */
void gcp_log_write(gcp_log_t *l, const gcp_log_entry_t *ent);
/* Formats the line gcp_log_write would write (new string, no newline). */
char *gcp_log_format(gcp_log_t *l, const gcp_log_entry_t *ent);

#endif
