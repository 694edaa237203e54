/* http.h: a small libcurl client for unit tests that talk HTTP to an
 * in-process server over loopback, and dotted-path JSON getters for the
 * answers. */
#ifndef PLINTH_TEST_HTTP_H
#define PLINTH_TEST_HTTP_H

#include <curl/curl.h>
#include <jansson.h>

typedef struct thttp {
    long status;
    int curl_rc;
    char *body;           /* never NULL after a request */
    json_t *json;         /* the body parsed (any JSON value), or NULL */
    char retry_after[32]; /* the Retry-After header, or "" */
} thttp_t;

/* One request.  c may be a handle to reuse (reset first, its connections
 * never reused: a dropped one would be retried by curl, hiding injected
 * resets); NULL: a fresh handle.  ctype NULL: application/json; auth: the
 * Authorization header or NULL; timeout_s: whole-request timeout. */
thttp_t thttp_req(CURL *c, const char *method, const char *url, const char *body, const char *ctype,
                  const char *auth, long timeout_s);
void thttp_free(thttp_t *h);

/* The value at a dotted path ("items.0.name": numbers index arrays), or NULL. */
const json_t *tjson_get(const json_t *j, const char *path);
/* The string at a dotted path, or NULL. */
const char *tjson_str(const json_t *j, const char *path);

#endif
