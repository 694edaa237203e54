/* gcp_auth.h: credentials for the gcp transport (internal): the credential
 * chain, service-account JWT signing, refresh-token and metadata flows,
 * impersonation and the token cache.  Also the unauthenticated raw send
 * that gcp_http.c offers to this module. */
#ifndef PLINTH_GCP_AUTH_H
#define PLINTH_GCP_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "transport/gcp_http.h"

typedef struct gcp_auth gcp_auth_t;

/* Resolves credentials: reads the environment and key files, no network
 * I/O (tokens are fetched on first use).  Returns NULL with e filled on a
 * malformed or unreadable key file. */
gcp_auth_t *gcp_auth_new(gcp_client_t *c, const gcp_opts_t *opts, perr_t *e);
void gcp_auth_free(gcp_auth_t *a);

/* A current access token (new string) into *token, fetching or refreshing
 * it when needed (force: refresh even if cached, after a 401).  *token is
 * NULL when no Authorization header must be sent (emulator, no creds).
 * Thread-safe. */
int gcp_auth_token(gcp_auth_t *a, bool force, char **token, perr_t *e);
/* X-Goog-User-Project value (user credentials: quota_project_id or the
 * default project; any: GOOGLE_CLOUD_QUOTA_PROJECT), or NULL (borrowed). */
const char *gcp_auth_quota_project(const gcp_auth_t *a);

/* Builds and signs an RS256 JWT (new string) for a service-account key:
 * claims iss=email, scope=cloud-platform, aud, iat=now, exp=now+3600. */
char *gcp_auth_make_jwt(const char *pem_key, const char *kid, const char *email, const char *aud, int64_t now,
                        perr_t *e);
/* base64url without padding (new string). */
char *gcp_auth_b64url(const unsigned char *data, size_t len);

/* --- offered by gcp_http.c to this module --- */

enum {
    GCP_SEND_RETRY = 1,      /* gcp_call's retry policy (else one attempt) */
    GCP_SEND_ALLOW_HTTP = 2, /* plain http to a non-loopback host (metadata server) */
};
/* One request to a full URL, without the Authorization header.
 * timeout_ms: per attempt (0 = default).  Logged in the HTTP log under api.
 * Same return convention as gcp_call. */
int gcp_http_send(gcp_client_t *c, const char *method, const char *api, const char *url,
                  const char *content_type, const char *data, size_t len, const char *const *extra_headers,
                  long timeout_ms, unsigned flags, gcp_resp_t *resp, perr_t *e);
/* The emulator endpoint (no trailing slash) or NULL (borrowed). */
const char *gcp_http_endpoint(const gcp_client_t *c);
/* Sleeps ms; returns -1 early when the client's cancel flag became set. */
int gcp_http_sleep(gcp_client_t *c, long ms);

#endif
