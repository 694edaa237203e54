/* gcp_http.c: the Google Cloud transport: one background thread drives a
 * curl multi handle (connection reuse, HTTP/2 multiplexing, per-API
 * in-flight limits); callers enqueue attempts and wait on a condition
 * variable.  Retries, the URL rule, error parsing and the HTTP log live
 * here; credentials are in gcp_auth.c. */
#include "transport/gcp_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "transport/gcp_auth.h"
#include "transport/gcp_log.h"

#define DEFAULT_MAX_IN_FLIGHT 64
#define DEFAULT_PER_API 16
#define DEFAULT_BUDGET_MS 120000
#define DEFAULT_ATTEMPT_TIMEOUT_MS 300000L
#define CONNECT_TIMEOUT_MS 15000L
#define BACKOFF_FIRST_MS 500
#define BACKOFF_CAP_MS 16000

/* One attempt handed to the loop thread.  The caller owns it; the loop
 * only touches it between pickup and setting done (under c->mu). */
typedef struct xfer {
    CURL *easy;
    char api[64];
    sbuf_t body;
    long retry_after_ms; /* from Retry-After, -1 when absent */
    long status;
    CURLcode cc;
    curl_off_t uploaded;
    long req_size;
    char errbuf[CURL_ERROR_SIZE];
    bool done;
    pthread_cond_t cv;
    struct xfer *next;
} xfer_t;

typedef struct api_count {
    char name[64];
    int active;
} api_count_t;

struct gcp_client {
    char *endpoint; /* no trailing '/', or NULL */
    char *project;
    int max_in_flight, per_api, budget_ms;
    volatile sig_atomic_t *cancel;
    gcp_log_t *log;
    gcp_auth_t *auth;

    CURLM *multi;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    xfer_t *pending, *pending_tail;
    int active;
    api_count_t *counts;
    size_t ncounts;
    bool stop;
    atomic_long requests;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- the loop thread ---- */

static api_count_t *api_slot(gcp_client_t *c, const char *api) {
    for (size_t i = 0; i < c->ncounts; i++)
        if (strcmp(c->counts[i].name, api) == 0) return &c->counts[i];
    c->counts = xrealloc(c->counts, (c->ncounts + 1) * sizeof *c->counts);
    api_count_t *s = &c->counts[c->ncounts++];
    snprintf(s->name, sizeof s->name, "%s", api);
    s->active = 0;
    return s;
}

/* Moves pending attempts into the multi handle while the total and the
 * per-API limits allow.  O(pending) per pass; the queue is short. */
static void start_pending(gcp_client_t *c) {
    xfer_t **pp = &c->pending, *prev = NULL;
    while (*pp && c->active < c->max_in_flight) {
        xfer_t *x = *pp;
        api_count_t *s = api_slot(c, x->api);
        if (s->active >= c->per_api) {
            prev = x;
            pp = &x->next;
            continue;
        }
        *pp = x->next;
        if (c->pending_tail == x) c->pending_tail = prev;
        x->next = NULL;
        s->active++;
        c->active++;
        if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
            s->active--;
            c->active--;
            x->cc = CURLE_FAILED_INIT;
            snprintf(x->errbuf, sizeof x->errbuf, "cannot start the transfer");
            x->done = true;
            pthread_cond_signal(&x->cv);
        }
    }
}

static void finish(gcp_client_t *c, CURL *easy, CURLcode cc) {
    xfer_t *x = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
    curl_multi_remove_handle(c->multi, easy);
    x->cc = cc;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->status);
    curl_easy_getinfo(easy, CURLINFO_SIZE_UPLOAD_T, &x->uploaded);
    curl_easy_getinfo(easy, CURLINFO_REQUEST_SIZE, &x->req_size);
    pthread_mutex_lock(&c->mu);
    api_slot(c, x->api)->active--;
    c->active--;
    x->done = true;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&c->mu);
}

static void *loop_main(void *arg) {
    gcp_client_t *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        bool stop = c->stop;
        if (!stop) start_pending(c);
        pthread_mutex_unlock(&c->mu);
        if (stop) break;
        int running = 0;
        curl_multi_perform(c->multi, &running);
        CURLMsg *m;
        int left;
        bool finished = false;
        while ((m = curl_multi_info_read(c->multi, &left))) {
            if (m->msg != CURLMSG_DONE) continue;
            finish(c, m->easy_handle, m->data.result);
            finished = true;
        }
        /* A finished transfer may free a slot for a queued one: start it
         * now rather than after the next socket event. */
        if (!finished) curl_multi_poll(c->multi, NULL, 0, 1000, NULL);
    }
    return NULL;
}

/* ---- one attempt ---- */

static size_t on_body(char *p, size_t sz, size_t n, void *ud) {
    sbuf_addn(&((xfer_t *)ud)->body, p, sz * n);
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
    xfer_t *x = ud;
    size_t len = sz * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char buf[64];
        size_t k = len - 12 < sizeof buf - 1 ? len - 12 : sizeof buf - 1;
        memcpy(buf, p + 12, k);
        buf[k] = 0;
        char *end;
        double secs = strtod(buf, &end);
        if (end != buf && secs >= 0) x->retry_after_ms = (long)(secs * 1000);
    }
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) x->retry_after_ms = -1; /* new response */
    return len;
}

static bool is_loopback_http(const char *url) {
    CURLU *u = curl_url();
    bool ok = false;
    char *host = NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        ok = strcmp(host, "127.0.0.1") == 0 || strcasecmp(host, "localhost") == 0 ||
             strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0;
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* Returns 0 when url may be used, -1 with e filled otherwise. */
static int check_scheme(const char *url, bool allow_http, perr_t *e) {
    if (strncasecmp(url, "https://", 8) == 0) return 0;
    if (strncasecmp(url, "http://", 7) == 0) {
        if (allow_http || is_loopback_http(url)) return 0;
        perr_set(e, "",
                 "%s: plain http is only allowed to a loopback endpoint "
                 "(127.0.0.1, localhost, [::1]); use https",
                 url);
        return -1;
    }
    perr_set(e, "", "%s: unsupported URL scheme (want https://)", url);
    return -1;
}

typedef struct attempt {
    const char *method, *url, *ctype, *data;
    size_t len;
    struct curl_slist *hdrs;
    long timeout_ms;
} attempt_t;

/* Runs one attempt through the loop thread; x is filled. */
static void run_attempt(gcp_client_t *c, const char *api, const attempt_t *a, xfer_t *x) {
    memset(x, 0, sizeof *x);
    x->retry_after_ms = -1;
    snprintf(x->api, sizeof x->api, "%s", api);
    pthread_cond_init(&x->cv, NULL);
    CURL *h = curl_easy_init();
    x->easy = h;
    curl_easy_setopt(h, CURLOPT_URL, a->url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "plinth/" PLINTH_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    long tmo = a->timeout_ms > 0 ? a->timeout_ms : DEFAULT_ATTEMPT_TIMEOUT_MS;
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, tmo);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, tmo < CONNECT_TIMEOUT_MS ? tmo : CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, a->hdrs);
    if (strcmp(a->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(a->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(a->method, "DELETE") == 0 && !a->data) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->len);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, a->data ? a->data : "");
        if (strcmp(a->method, "POST") != 0) curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, a->method);
    }
    /* libcurl silently sends a request again when a reused connection dies
     * before any answer byte, even after the whole body went out: a POST
     * the server carried out would be made twice.  A fresh connection is
     * never retried that way, so POST and PATCH never reuse one; do_call
     * decides about resending with what it knows. */
    if (!strcmp(a->method, "POST") || !strcmp(a->method, "PATCH"))
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);

    pthread_mutex_lock(&c->mu);
    if (c->pending_tail)
        c->pending_tail->next = x;
    else
        c->pending = x;
    c->pending_tail = x;
    pthread_mutex_unlock(&c->mu);
    curl_multi_wakeup(c->multi);
    pthread_mutex_lock(&c->mu);
    while (!x->done)
        pthread_cond_wait(&x->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
    curl_easy_cleanup(h);
    x->easy = NULL;
    pthread_cond_destroy(&x->cv);
}

/* ---- responses and errors ---- */

void gcp_resp_free(gcp_resp_t *r) {
    if (!r) return;
    json_decref(r->body);
    free(r->raw);
    memset(r, 0, sizeof *r);
}

static void parse_error(gcp_resp_t *r) {
    json_t *err = json_object_get(r->body, "error");
    if (!json_is_object(err)) {
        /* OAuth errors: {"error":"invalid_grant","error_description":...} */
        if (json_is_string(err))
            snprintf(r->error_reason, sizeof r->error_reason, "%s", json_string_value(err));
        return;
    }
    const char *st = json_string_value(json_object_get(err, "status"));
    if (st) snprintf(r->error_status, sizeof r->error_status, "%s", st);
    json_t *errs = json_object_get(err, "errors");
    const char *reason = json_string_value(json_object_get(json_array_get(errs, 0), "reason"));
    if (!reason) {
        size_t i;
        json_t *d;
        json_array_foreach(json_object_get(err, "details"), i, d) {
            const char *t = json_string_value(json_object_get(d, "@type"));
            size_t tl = t ? strlen(t) : 0;
            if (tl >= 9 && strcmp(t + tl - 9, "ErrorInfo") == 0) {
                reason = json_string_value(json_object_get(d, "reason"));
                if (reason) break;
            }
        }
    }
    if (reason) snprintf(r->error_reason, sizeof r->error_reason, "%s", reason);
}

/* RetryInfo.retryDelay ("1.5s") from an error body, in ms, or -1. */
static long retry_info_ms(const json_t *body) {
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(json_object_get(body, "error"), "details"), i, d) {
        const char *t = json_string_value(json_object_get(d, "@type"));
        size_t tl = t ? strlen(t) : 0;
        if (tl >= 9 && strcmp(t + tl - 9, "RetryInfo") == 0) {
            json_t *rd = json_object_get(d, "retryDelay");
            if (json_is_string(rd)) {
                char *end;
                double s = strtod(json_string_value(rd), &end);
                if (end != json_string_value(rd) && s >= 0) return (long)(s * 1000);
            } else if (json_is_object(rd)) { /* {"seconds": N, "nanos": M} */
                json_t *sec = json_object_get(rd, "seconds");
                double s = json_is_string(sec) ? atof(json_string_value(sec)) : json_number_value(sec);
                s += json_number_value(json_object_get(rd, "nanos")) / 1e9;
                return (long)(s * 1000);
            }
        }
    }
    return -1;
}

void gcp_resp_set(gcp_resp_t *r, long status, const char *raw, size_t len) {
    gcp_resp_free(r);
    r->status = status;
    r->raw_len = len;
    if (len) { /* raw may hold NULs: raw_len says how much */
        r->raw = xmalloc(len + 1);
        memcpy(r->raw, raw, len);
        r->raw[len] = '\0';
        r->body = json_loadb(r->raw, len, JSON_DECODE_ANY, NULL);
    }
    if (r->status >= 400) parse_error(r);
}

static void fill_resp(gcp_resp_t *r, xfer_t *x) {
    gcp_resp_free(r);
    r->status = x->status;
    r->raw_len = x->body.len;
    r->raw = x->body.len ? sbuf_steal(&x->body) : NULL;
    sbuf_free(&x->body);
    if (r->raw) r->body = json_loadb(r->raw, r->raw_len, JSON_DECODE_ANY, NULL);
    if (r->status >= 400) parse_error(r);
}

void gcp_resp_error(const gcp_resp_t *r, const char *method, const char *path, perr_t *e) {
    sbuf_t b = {0};
    sbuf_addf(&b, "%s %s: %ld", method ? method : "", path ? path : "", r->status);
    if (r->error_status[0]) sbuf_addf(&b, " %s", r->error_status);
    json_t *err = json_object_get(r->body, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (!msg) msg = json_string_value(json_object_get(r->body, "error_description"));
    if (!msg && json_is_string(err)) msg = json_string_value(err);
    if (msg) {
        sbuf_addf(&b, ": %s", msg);
    } else if (r->raw && r->raw_len && !r->body) {
        size_t n = r->raw_len > 200 ? 200 : r->raw_len;
        sbuf_add(&b, ": ");
        sbuf_addn(&b, r->raw, n);
        if (n < r->raw_len) sbuf_add(&b, "...");
    }
    perr_set(e, "", "%s", b.s);
    sbuf_free(&b);
}

/* ---- retries ---- */

static _Thread_local uint64_t rng_state;

static uint64_t rng_next(void) {
    if (!rng_state)
        rng_state = (uint64_t)util_now_ms() ^ ((uint64_t)pthread_self() << 1) ^ 0x9e3779b97f4a7c15ULL;
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Sleeps ms in short slices; returns -1 when *cancel became set. */
static int sleep_cancellable(gcp_client_t *c, long ms) {
    int64_t end = util_now_ms() + ms;
    for (;;) {
        /* atomic read: the flag is set by a signal handler or another thread */
        if (c->cancel && __atomic_load_n(c->cancel, __ATOMIC_RELAXED)) return -1;
        int64_t left = end - util_now_ms();
        if (left <= 0) return 0;
        long slice = left > 50 ? 50 : (long)left;
        struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static bool status_retryable(long s) {
    return s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

/* Transport errors that happened before the request could reach the
 * server (so even a POST is safe to resend). */
static bool not_sent(const xfer_t *x, size_t len) {
    switch (x->cc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_FAILED_INIT: return true;
    default: break;
    }
    if (x->cc == CURLE_OPERATION_TIMEDOUT && x->req_size == 0) return true;
    if (len > 0) return x->uploaded < (curl_off_t)len;
    return x->req_size == 0;
}

/* Transport errors that no retry can cure: the peer's certificate does not
 * verify (self-signed, expired, wrong host name), the local CA setup is
 * broken, or the host name does not resolve.  Retrying them for the whole
 * budget only hides the reason for two minutes; fail at once and say why. */
static const char *permanent_reason(CURLcode cc) {
    switch (cc) {
    case CURLE_PEER_FAILED_VERIFICATION:
        return "the server's TLS certificate did not verify (untrusted issuer, expired, or issued "
               "for another host name)";
    case CURLE_SSL_CACERT_BADFILE: return "the CA certificates to verify TLS with could not be read";
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return "the TLS certificate was refused";
    case CURLE_COULDNT_RESOLVE_HOST: return "the host name does not resolve (DNS)";
    case CURLE_COULDNT_RESOLVE_PROXY: return "the proxy's host name does not resolve (DNS)";
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: return "the URL cannot be used";
    default: return NULL;
    }
}

enum { SEND_AUTH = 0x100 };

static struct curl_slist *build_headers(gcp_client_t *c, const char *token, const char *ctype,
                                        const char *const *extra, bool has_body) {
    struct curl_slist *h = NULL;
    char *line;
    if (token) {
        line = xasprintf("Authorization: Bearer %s", token);
        h = curl_slist_append(h, line);
        free(line);
    }
    if (has_body) {
        /* without a type curl would claim a form for an empty POST */
        line = xasprintf("Content-Type: %s", ctype ? ctype : "application/json");
        h = curl_slist_append(h, line);
        free(line);
    }
    bool has_quota = false;
    for (size_t i = 0; extra && extra[i]; i++) {
        h = curl_slist_append(h, extra[i]);
        if (strncasecmp(extra[i], "X-Goog-User-Project:", 20) == 0) has_quota = true;
    }
    const char *qp = token && c->auth ? gcp_auth_quota_project(c->auth) : NULL;
    if (qp && !has_quota) {
        line = xasprintf("X-Goog-User-Project: %s", qp);
        h = curl_slist_append(h, line);
        free(line);
    }
    h = curl_slist_append(h, "Expect:");
    return h;
}

/* The retry loop shared by gcp_call_raw and gcp_http_send (see do_call). */
static int call_loop(gcp_client_t *c, const char *method, const char *api, const char *url, const char *ctype,
                     const char *data, size_t len, const char *const *extra, long timeout_ms, unsigned flags,
                     gcp_resp_t *resp, perr_t *e, bool *landed) {
    memset(resp, 0, sizeof *resp);
    if (check_scheme(url, flags & GCP_SEND_ALLOW_HTTP, e) < 0) return -1;
    int64_t start = util_now_ms();
    bool is_post = strcmp(method, "POST") == 0;
    bool force_refresh = false, refreshed = false, have_resp = false;
    int attempt = 0, backoff_n = 0;
    char lasterr[CURL_ERROR_SIZE + 64] = "";
    for (;;) {
        attempt++;
        char *token = NULL;
        if ((flags & SEND_AUTH) && c->auth) {
            if (gcp_auth_token(c->auth, force_refresh, &token, e) < 0) {
                gcp_resp_free(resp);
                return -1;
            }
            force_refresh = false;
        }
        attempt_t a = {method, url, ctype, data, len, NULL, timeout_ms};
        a.hdrs = build_headers(c, token, ctype, extra, data != NULL || is_post);
        xfer_t x;
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        int64_t t0 = util_now_ms();
        run_attempt(c, api, &a, &x);
        long ms = (long)(util_now_ms() - t0);
        curl_slist_free_all(a.hdrs);
        atomic_fetch_add(&c->requests, 1);
        if (c->log) {
            gcp_log_entry_t le = {.api = api,
                                  .method = method,
                                  .url = url,
                                  /* tokens and metadata are not for a resource */
                                  .addr = (flags & SEND_AUTH) ? util_current_addr() : NULL,
                                  .req_type = ctype,
                                  .req = data,
                                  .req_len = len,
                                  .resp = x.body.s,
                                  .resp_len = x.body.len,
                                  .status = x.cc == CURLE_OK ? x.status : 0,
                                  .ms = ms,
                                  .attempt = attempt,
                                  .start_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000};
            gcp_log_write(c->log, &le);
        }
        long wait_ms = -1;
        if (x.cc != CURLE_OK) {
            snprintf(lasterr, sizeof lasterr, "%s", x.errbuf[0] ? x.errbuf : curl_easy_strerror(x.cc));
            bool unsent = not_sent(&x, len);
            /* a PATCH lost after it was sent is retried below, but may have
             * been carried out: say so (a 412 then may be its own doing) */
            if (!unsent && !strcmp(method, "PATCH")) *landed = true;
            sbuf_free(&x.body);
            free(token);
            const char *why = permanent_reason(x.cc);
            if (why) {
                gcp_resp_free(resp);
                perr_set(e, "", "%s %s: %s: %s (not retried)", method, url, why, lasterr);
                return -1;
            }
            if (is_post && !unsent) {
                gcp_resp_free(resp);
                resp->maybe_applied = true;
                perr_set(e, "", "%s %s: %s (the request was sent and may have been applied)", method, url,
                         lasterr);
                return -1;
            }
        } else {
            fill_resp(resp, &x);
            have_resp = true;
            if (resp->status == 401 && token && !refreshed) {
                free(token);
                refreshed = true;
                force_refresh = true;
                continue;
            }
            free(token);
            if (!status_retryable(resp->status)) return 0;
            /* A POST answered 5xx may have been carried out all the same
             * (the answer was lost behind a proxy): whatever the retry
             * answers, the caller learns that an earlier attempt may have
             * landed (a 409 then may be its own create). */
            if ((is_post || !strcmp(method, "PATCH")) && resp->status >= 500) *landed = true;
            wait_ms = x.retry_after_ms;
            long ri = retry_info_ms(resp->body);
            if (ri > wait_ms) wait_ms = ri;
        }
        if (!(flags & GCP_SEND_RETRY)) break;
        long cap = BACKOFF_FIRST_MS << (backoff_n < 6 ? backoff_n : 6);
        if (cap > BACKOFF_CAP_MS) cap = BACKOFF_CAP_MS;
        backoff_n++;
        long delay = (long)(rng_next() % (uint64_t)(cap + 1));
        if (wait_ms > delay) delay = wait_ms;
        if (util_now_ms() - start + delay > c->budget_ms) break;
        if (sleep_cancellable(c, delay) < 0) {
            if (have_resp) return 0;
            perr_set(e, "", "%s %s: interrupted", method, url);
            return -1;
        }
        if (have_resp) {
            gcp_resp_free(resp);
            have_resp = false;
        }
    }
    if (have_resp) return 0;
    perr_set(e, "", "%s %s: %s after %d attempt%s", method, url, lasterr, attempt, attempt == 1 ? "" : "s");
    return -1;
}

static int do_call(gcp_client_t *c, const char *method, const char *api, const char *url, const char *ctype,
                   const char *data, size_t len, const char *const *extra, long timeout_ms, unsigned flags,
                   gcp_resp_t *resp, perr_t *e) {
    bool landed = false;
    int rc = call_loop(c, method, api, url, ctype, data, len, extra, timeout_ms, flags, resp, e, &landed);
    resp->earlier_maybe_applied = landed;
    return rc;
}

/* ---- public API ---- */

static bool is_loopback_endpoint(const char *ep) {
    return is_loopback_http(ep);
}

gcp_client_t *gcp_client_new(const gcp_opts_t *opts, perr_t *e) {
    pthread_once(&curl_once, curl_init_once);
    gcp_client_t *c = xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->mu, NULL);
    atomic_init(&c->requests, 0);
    c->max_in_flight = opts->max_in_flight > 0 ? opts->max_in_flight : DEFAULT_MAX_IN_FLIGHT;
    c->per_api = opts->per_api_in_flight > 0 ? opts->per_api_in_flight : DEFAULT_PER_API;
    c->budget_ms = opts->retry_budget_ms > 0 ? opts->retry_budget_ms : DEFAULT_BUDGET_MS;
    c->cancel = opts->cancel;
    if (opts->project) c->project = xstrdup(opts->project);
    if (opts->endpoint && opts->endpoint[0]) {
        size_t n = strlen(opts->endpoint);
        while (n > 0 && opts->endpoint[n - 1] == '/')
            n--;
        c->endpoint = xstrndup(opts->endpoint, n);
        if (strncasecmp(c->endpoint, "https://", 8) != 0) {
            if (strncasecmp(c->endpoint, "http://", 7) != 0) {
                perr_set(e, "", "endpoint %s: want an http:// or https:// URL", c->endpoint);
                goto err;
            }
            if (!is_loopback_endpoint(c->endpoint)) {
                perr_set(e, "",
                         "endpoint %s: plain http is only allowed to a loopback address "
                         "(127.0.0.1, localhost, [::1]); use https",
                         c->endpoint);
                goto err;
            }
        }
    }
    if (opts->http_log && opts->http_log[0]) {
        c->log = gcp_log_open(opts->http_log, e);
        if (!c->log) goto err;
    }
    c->multi = curl_multi_init();
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)c->max_in_flight);
    /* Against an emulator every API shares one host, so the per-host cap
     * would become a global one. */
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)(c->endpoint ? c->max_in_flight : c->per_api));
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->max_in_flight);
    if (pthread_create(&c->thread, NULL, loop_main, c) != 0) {
        perr_set(e, "", "cannot start the HTTP thread: %s", strerror(errno));
        goto err;
    }
    c->thread_started = true;
    c->auth = gcp_auth_new(c, opts, e);
    if (!c->auth) goto err;
    return c;
err:
    gcp_client_free(c);
    return NULL;
}

void gcp_client_free(gcp_client_t *c) {
    if (!c) return;
    gcp_auth_free(c->auth);
    if (c->thread_started) {
        pthread_mutex_lock(&c->mu);
        c->stop = true;
        pthread_mutex_unlock(&c->mu);
        curl_multi_wakeup(c->multi);
        pthread_join(c->thread, NULL);
    }
    if (c->multi) curl_multi_cleanup(c->multi);
    gcp_log_close(c->log);
    pthread_mutex_destroy(&c->mu);
    free(c->counts);
    free(c->endpoint);
    free(c->project);
    free(c);
}

void gcp_client_add_secret(gcp_client_t *c, const char *value) {
    if (c && c->log && value) gcp_log_add_secret(c->log, value);
}

const char *gcp_http_endpoint(const gcp_client_t *c) {
    return c->endpoint;
}

int gcp_http_sleep(gcp_client_t *c, long ms) {
    return sleep_cancellable(c, ms);
}

char *gcp_url(gcp_client_t *c, const char *api, const char *path) {
    while (path && *path == '/')
        path++;
    if (!path) path = "";
    if (c->endpoint) return xasprintf("%s/%s/%s", c->endpoint, api, path);
    return xasprintf("https://%s.googleapis.com/%s", api, path);
}

char *gcp_token(gcp_client_t *c, perr_t *e) {
    char *tok = NULL;
    perr_clear(e);
    if (gcp_auth_token(c->auth, false, &tok, e) < 0) return NULL;
    return tok;
}

long gcp_request_count(gcp_client_t *c) {
    return atomic_load(&c->requests);
}

int gcp_http_send(gcp_client_t *c, const char *method, const char *api, const char *url,
                  const char *content_type, const char *data, size_t len, const char *const *extra_headers,
                  long timeout_ms, unsigned flags, gcp_resp_t *resp, perr_t *e) {
    return do_call(c, method, api, url, content_type, data, len, extra_headers, timeout_ms,
                   flags & (GCP_SEND_RETRY | GCP_SEND_ALLOW_HTTP), resp, e);
}

int gcp_call_raw(gcp_client_t *c, const char *method, const char *api, const char *path,
                 const char *content_type, const char *data, size_t len, const char *const *extra_headers,
                 gcp_resp_t *resp, perr_t *e) {
    char *url = gcp_url(c, api, path);
    int rc = do_call(c, method, api, url, content_type, data, len, extra_headers, 0,
                     GCP_SEND_RETRY | SEND_AUTH, resp, e);
    free(url);
    return rc;
}

int gcp_call(gcp_client_t *c, const char *method, const char *api, const char *path, const json_t *body,
             gcp_resp_t *resp, perr_t *e) {
    char *data = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int rc = gcp_call_raw(c, method, api, path, data ? "application/json" : NULL, data,
                          data ? strlen(data) : 0, NULL, resp, e);
    free(data);
    return rc;
}
