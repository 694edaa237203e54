/* gcp_http.h: the Google Cloud transport: one client shared by every worker
 * thread, requests driven by one libcurl multi loop (connection reuse,
 * HTTP/2 where offered), authentication, retries and the HTTP log.
 *
 * URL rule: a call names the API ("compute") and the path below the API's
 * host ("compute/v1/projects/p/global/networks?maxResults=500").  The
 * client sends it to https://compute.googleapis.com/<path>, or, with an
 * endpoint set (PLINTH_GCP_ENDPOINT / --local), to <endpoint>/compute/<path>.
 * Plain http is allowed only to loopback endpoints; https always verifies
 * the peer.
 *
 * Retries (inside gcp_call): 429, 500, 502, 503, 504 and transport errors,
 * jittered exponential backoff (0.5 s doubling, capped at 16 s), honouring
 * Retry-After / RetryInfo, bounded by opts.retry_budget_ms in total.
 * Certificate, host-name and DNS failures are permanent: the call fails at
 * once with the reason ("... did not verify ...  (not retried)").  A
 * POST whose answer was lost (transport error after the request was sent)
 * is NOT retried: gcp_call returns -1 with resp->maybe_applied = 1 so the
 * caller reads by natural name before trying again (no duplicates).
 *
 * Thread-safe: any thread may call gcp_call concurrently. */
#ifndef PLINTH_GCP_HTTP_H
#define PLINTH_GCP_HTTP_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

#include "core/util.h"

typedef struct gcp_client gcp_client_t;

typedef struct gcp_opts {
    const char *endpoint;          /* NULL: real Google Cloud */
    const char *http_log;          /* NULL: no log (PLINTH_HTTP_LOG is read by the caller) */
    const char *project;           /* default project (for X-Goog-User-Project with user creds) */
    int max_in_flight;             /* total concurrent requests (default 64) */
    int per_api_in_flight;         /* per API (default 16) */
    int retry_budget_ms;           /* total time spent retrying one call (default 120000) */
    const char *impersonate;       /* service account email to impersonate, or NULL */
    volatile sig_atomic_t *cancel; /* stops retry waits when set */
} gcp_opts_t;

/* Creates the client and resolves credentials (does not fetch a token
 * yet).  Credential order: GOOGLE_OAUTH_ACCESS_TOKEN;
 * GOOGLE_APPLICATION_CREDENTIALS (service_account key -> RS256 JWT ->
 * token exchange, or authorized_user refresh token); gcloud's ADC file;
 * the metadata server.  With an emulator endpoint and no credentials, no
 * Authorization header is sent.  Errors name the file and what is wrong. */
gcp_client_t *gcp_client_new(const gcp_opts_t *opts, perr_t *e);
void gcp_client_free(gcp_client_t *c);

/* Registers a secret value: any JSON string equal to it, or containing it,
 * is written as "<redacted>" in the HTTP log. Copies the value. */
void gcp_client_add_secret(gcp_client_t *c, const char *value);

typedef struct gcp_resp {
    long status;  /* HTTP status, 0 when no response */
    json_t *body; /* NEW reference: parsed JSON body, or NULL */
    char *raw;    /* raw body (malloc'ed, NUL-terminated), or NULL */
    size_t raw_len;
    bool maybe_applied; /* POST lost in transit: it may have taken effect */
    /* An earlier attempt of this POST/PATCH was answered 5xx and retried:
     * it may have been carried out (its answer lost), so a 409 now may be
     * this very call's own create. */
    bool earlier_maybe_applied;
    char error_status[64]; /* "NOT_FOUND", "ALREADY_EXISTS", ... from the error body */
    char error_reason[64]; /* errors[0].reason / ErrorInfo reason ("notFound") */
} gcp_resp_t;

void gcp_resp_free(gcp_resp_t *r);
/* Fills r from an answer's status and raw body as the transport does (JSON
 * body, error status and reason); for tests and fuzzing. */
void gcp_resp_set(gcp_resp_t *r, long status, const char *raw, size_t len);

/* Performs one call (with retries).  body may be NULL.  Returns 0 when an
 * HTTP response arrived (any status: check resp->status), -1 when none did
 * (e filled: "POST https://...: connection refused after 5 attempts").
 * extra_headers: NULL-terminated "Name: value" strings, or NULL. */
int gcp_call(gcp_client_t *c, const char *method, const char *api, const char *path, const json_t *body,
             gcp_resp_t *resp, perr_t *e);
int gcp_call_raw(gcp_client_t *c, const char *method, const char *api, const char *path,
                 const char *content_type, const char *data, size_t len, const char *const *extra_headers,
                 gcp_resp_t *resp, perr_t *e);

/* Fills e from an error response: "<METHOD> <path>: 404 NOT_FOUND: <message>". */
void gcp_resp_error(const gcp_resp_t *r, const char *method, const char *path, perr_t *e);

/* The base URL a path of api goes to (new string), e.g. for selfLinks and
 * kubeconfig servers: gcp_url(c, "k8s", "abc/") */
char *gcp_url(gcp_client_t *c, const char *api, const char *path);
/* A current access token (new string), or NULL with e filled.  Used by the
 * k8s provider to talk to GKE.  NULL with no error when running without
 * credentials against an emulator. */
char *gcp_token(gcp_client_t *c, perr_t *e);
/* Request count so far (for benchmarks and tests). */
long gcp_request_count(gcp_client_t *c);

/* Long-running operations (gcp_wait_op) belong to the gcp provider:
 * providers/gcp/gcp_op.h. */

#endif
