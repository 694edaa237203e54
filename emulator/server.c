/* server.c: plinth-emulator's HTTP front: libmicrohttpd with a thread
 * pool, routing <base>/<api>/<path> to the API tables, injected faults and
 * latency, the optional bearer-token check, the HTTP log, and the
 * emulator's lifecycle (emu_new/emu_start/emu_stop/emu_free). */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "emulator/emu.h"
#include "emulator/generic.h"

#define MAX_BODY (64u << 20) /* uploads larger than this are refused */
#define MAX_PARAMS 8

struct emu {
    emu_config_t cfg;
    char *data_dir, *log_path;
    pthread_mutex_t lock;     /* the global lock: handlers, timers, store */
    pthread_mutex_t rng_lock; /* fault draws */
    uint64_t rng;
    pthread_mutex_t log_lock;
    FILE *log;
    emu_store_t *store;
    emu_ticker_t *ticker;
    struct MHD_Daemon *daemon;
    int port;
    /* --latency: suspended connections waiting to be resumed, so a slow
     * answer occupies no server thread (and no lock). */
    pthread_mutex_t delay_mu;
    pthread_cond_t delay_cond;
    struct delayed *delayed;
    pthread_t delay_thread;
    int delay_stop, delay_running;
    char base_url[64];
};

enum fault { F_NONE, F_UNAVAILABLE, F_THROTTLE, F_RESET };

/* Per-request state, from the first access-handler call to completion. */
typedef struct delayed {
    int64_t due_ms;
    struct MHD_Connection *con;
    struct delayed *next;
} delayed_t;

typedef struct reqctx {
    int delayed;
    int64_t start_ms;
    enum fault fault;
    int lost; /* carry the request out, then lose the answer (lost_rate) */
    sbuf_t body;
    int too_big;
} reqctx_t;

const emu_config_t *emu_cfg(const emu_t *emu) {
    return &emu->cfg;
}
emu_store_t *emu_store_of(emu_t *emu) {
    return emu->store;
}
emu_ticker_t *emu_ticker_of(emu_t *emu) {
    return emu->ticker;
}
void emu_lock(emu_t *emu) {
    pthread_mutex_lock(&emu->lock);
}
void emu_unlock(emu_t *emu) {
    pthread_mutex_unlock(&emu->lock);
}
int emu_port(const emu_t *emu) {
    return emu->port;
}

/* xorshift64*: one draw per request, so a seed reproduces the sequence of
 * faults for a given order of requests. */
static double rng_draw(emu_t *emu) {
    pthread_mutex_lock(&emu->rng_lock);
    uint64_t x = emu->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    emu->rng = x;
    pthread_mutex_unlock(&emu->rng_lock);
    return (double)((x * 2685821657736338717ULL) >> 11) / (double)(1ULL << 53);
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into a new string; plus_space for query values. */
static char *pct_decode(const char *s, size_t n, int plus_space) {
    char *out = xmalloc(n + 1), *o = out;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            *o++ = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else if (plus_space && s[i] == '+') {
            *o++ = ' ';
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* MHD would decode the path before we see it, turning an object name's
 * %2F into '/'; we keep raw bytes and decode captured segments ourselves. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
    return strlen(s);
}

/* Matches path against pattern; fills params (new strings) on success.
 * strict: a {x} capture refuses a segment holding ':' (so custom verbs
 * prefer their own routes). */
static int match(const char *pattern, const char *path, int strict, char **params, size_t *np) {
    const char *p = pattern, *s = path;
    *np = 0;
    while (*p) {
        if (*p == '{') {
            const char *close = strchr(p, '}');
            if (!close) goto fail;
            int rest = close[-1] == '*';
            if (rest) {
                if (*np >= MAX_PARAMS || !*s) goto fail;
                if (close[1] != '\0') goto fail;
                params[(*np)++] = pct_decode(s, strlen(s), 0);
                return 1;
            }
            /* literal suffix in the pattern segment (":enable"), up to '/'. */
            const char *suf = close + 1;
            size_t suflen = strcspn(suf, "/");
            size_t seglen = strcspn(s, "/");
            if (seglen < suflen + 1) goto fail;
            size_t caplen = seglen - suflen;
            if (suflen && memcmp(s + caplen, suf, suflen) != 0) goto fail;
            if (strict && memchr(s, ':', caplen)) goto fail;
            if (*np >= MAX_PARAMS) goto fail;
            params[(*np)++] = pct_decode(s, caplen, 0);
            p = suf + suflen;
            s += seglen;
            continue;
        }
        if (*p != *s) goto fail;
        p++;
        s++;
    }
    if (*s == '\0') return 1;
fail:
    for (size_t i = 0; i < *np; i++)
        free(params[i]);
    *np = 0;
    return 0;
}

static const emu_api_t *find_api(const char *name, size_t n) {
    for (size_t i = 0; emu_apis[i]; i++)
        if (strlen(emu_apis[i]->name) == n && memcmp(emu_apis[i]->name, name, n) == 0) return emu_apis[i];
    return NULL;
}

typedef struct qctx {
    json_t *q, *multi;
} qctx_t;

static enum MHD_Result collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    qctx_t *qc = cls;
    char *k = pct_decode(key, strlen(key), 1);
    char *v = value ? pct_decode(value, strlen(value), 1) : xstrdup("");
    json_object_set_new(qc->q, k, json_string(v));
    json_t *arr = json_object_get(qc->multi, k);
    if (!arr) {
        arr = json_array();
        json_object_set_new(qc->multi, k, arr);
    }
    json_array_append_new(arr, json_string(v));
    free(k);
    free(v);
    return MHD_YES;
}

/* Secret values never reach the log: passwords, keys, tokens, and
 * Secret Manager payloads.  Returns a new reference (or NULL). */
static json_t *redact(const json_t *v, int in_payload) {
    static const char *const secret[] = {"password",      "rootPassword", "privateKeyData", "access_token",
                                         "refresh_token", "id_token",     "client_secret",  "assertion",
                                         "private_key",   "token",        "accessToken",    NULL};
    if (!v) return NULL;
    if (json_is_array(v)) {
        json_t *out = json_array(), *x;
        size_t i;
        json_array_foreach((json_t *)v, i, x) {
            json_array_append_new(out, redact(x, in_payload));
        }
        return out;
    }
    if (!json_is_object(v)) return json_incref((json_t *)v);
    json_t *out = json_object(), *x;
    const char *k;
    json_object_foreach((json_t *)v, k, x) {
        int hide = in_payload && !strcmp(k, "data");
        for (size_t i = 0; !hide && secret[i]; i++)
            hide = !strcmp(k, secret[i]);
        json_object_set_new(out, k, hide ? json_string("<redacted>") : redact(x, !strcmp(k, "payload")));
    }
    return out;
}

static void log_request(emu_t *emu, const char *api, const char *method, const char *url, const json_t *query,
                        int status, int64_t ms, const json_t *req_body, const json_t *resp_body) {
    if (!emu->log) return;
    char ts[64];
    snprintf(ts, sizeof ts, "%s", emu_now());
    sbuf_t u = {0};
    sbuf_add(&u, url);
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach((json_t *)query, k, v) {
        sbuf_addf(&u, "%c%s=%s", first ? '?' : '&', k, json_string_value(v));
        first = 0;
    }
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:i,s:o?,s:o?}", "ts", ts, "api", api ? api : "",
                          "method", method, "url", u.s, "status", status, "ms", (json_int_t)ms, "attempt", 1,
                          "req_body", redact(req_body, 0), "resp_body", redact(resp_body, 0));
    sbuf_free(&u);
    char *line = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    pthread_mutex_lock(&emu->log_lock);
    fprintf(emu->log, "%s\n", line);
    fflush(emu->log);
    pthread_mutex_unlock(&emu->log_lock);
    free(line);
}

static int auth_ok(emu_t *emu, const char *auth) {
    if (!auth || strncmp(auth, "Bearer ", 7) != 0) return 0;
    char *key = xasprintf("oauth2/tokens/%s", auth + 7);
    json_t *tok = emu_get(emu, key);
    free(key);
    if (!tok) return 0;
    json_t *exp = json_object_get(tok, "expires_ms");
    if (!exp) return 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t deadline =
        json_is_string(exp) ? strtoll(json_string_value(exp), NULL, 10) : (int64_t)json_number_value(exp);
    return deadline > now;
}

/* Finds the route and runs it (lock held).  path is raw (not decoded). */
static void dispatch(emu_t *emu, const emu_api_t *api, emu_req_t *req, emu_resp_t *resp) {
    char *params[MAX_PARAMS];
    size_t np = 0;
    for (int strict = 1; strict >= 0; strict--) {
        for (size_t i = 0; api && i < api->nroutes; i++) {
            const emu_route_t *r = &api->routes[i];
            if (strcmp(r->method, req->method) != 0) continue;
            if (!match(r->pattern, req->path, strict, params, &np)) continue;
            req->params = (const char *const *)params;
            req->nparams = np;
            r->fn(emu, req, resp);
            for (size_t j = 0; j < np; j++)
                free(params[j]);
            req->params = NULL;
            req->nparams = 0;
            return;
        }
    }
    if (emu_generic_dispatch(emu, req, resp, api != NULL)) return; /* generic.c */
    emu_error(resp, 404, "NOT_FOUND", "notFound", "The requested URL /%s/%s was not found (%s).", req->api,
              req->path, req->method);
}

static void add_header(struct MHD_Response *r, const char *line) {
    const char *colon = strchr(line, ':');
    if (!colon || colon == line) return;
    char name[128];
    size_t n = (size_t)(colon - line) < sizeof name - 1 ? (size_t)(colon - line) : sizeof name - 1;
    memcpy(name, line, n);
    name[n] = '\0';
    const char *v = colon + 1;
    while (*v == ' ')
        v++;
    MHD_add_response_header(r, name, v);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls) {
    emu_t *emu = cls;
    reqctx_t *ctx = *con_cls;
    if (!ctx) {
        ctx = xcalloc(1, sizeof *ctx);
        ctx->start_ms = util_now_ms();
        double u = rng_draw(emu);
        const emu_config_t *c = &emu->cfg;
        if (u < c->fault_rate)
            ctx->fault = F_UNAVAILABLE;
        else if (u < c->fault_rate + c->throttle_rate)
            ctx->fault = F_THROTTLE;
        else if (u < c->fault_rate + c->throttle_rate + c->reset_rate)
            ctx->fault = F_RESET;
        *con_cls = ctx;
        if (ctx->fault == F_RESET) return MHD_NO; /* MHD closes the connection without answering */
        int mutating = !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH") ||
                       !strcmp(method, "DELETE");
        if (ctx->fault == F_NONE && mutating && c->lost_rate > 0 && rng_draw(emu) < c->lost_rate &&
            !strstr(url, "/oauth2/") && !strstr(url, "/token"))
            ctx->lost = 1;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (ctx->body.len + *upload_data_size > MAX_BODY)
            ctx->too_big = 1;
        else
            sbuf_addn(&ctx->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }

    if (emu->cfg.latency_ms > 0 && !ctx->delayed) {
        /* Park the connection; the delay thread resumes it when due and
         * MHD calls us again to answer. */
        ctx->delayed = 1;
        pthread_mutex_lock(&emu->delay_mu);
        if (emu->delay_running && !emu->delay_stop) { /* stopping: answer now */
            delayed_t *d = xcalloc(1, sizeof *d);
            d->due_ms = util_now_ms() + emu->cfg.latency_ms;
            d->con = con;
            MHD_suspend_connection(con);
            d->next = emu->delayed;
            emu->delayed = d;
            pthread_cond_signal(&emu->delay_cond);
            pthread_mutex_unlock(&emu->delay_mu);
            return MHD_YES;
        }
        pthread_mutex_unlock(&emu->delay_mu);
    }

    emu_resp_t resp;
    memset(&resp, 0, sizeof resp);
    resp.status = 200;
    json_t *body = NULL, *logged_body = NULL;
    qctx_t qc = {json_object(), json_object()};
    MHD_get_connection_values(con, MHD_GET_ARGUMENT_KIND, collect_arg, &qc);
    const char *ctype = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Content-Type");
    const char *auth = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Authorization");
    const char *accept = MHD_lookup_connection_value(con, MHD_HEADER_KIND, "Accept");

    /* /<api>/<path> */
    const char *p = url;
    while (*p == '/')
        p++;
    size_t alen = strcspn(p, "/");
    char *api_name = xstrndup(p, alen);
    const char *rest = p[alen] == '/' ? p + alen + 1 : p + alen;
    const emu_api_t *api = find_api(p, alen);
    int media = (alen == 6 && !memcmp(p, "upload", 6)) || (alen == 8 && !memcmp(p, "download", 8));
    int resumable = alen == 9 && !memcmp(p, "resumable", 9) && !strncmp(rest, "upload/", 7);
    if (!api && (media || resumable)) {
        /* gcloud derives media URLs from the host root of the storage
         * endpoint (/upload/storage/v1/..., /resumable/upload/storage/v1/...):
         * serve them as storage's. */
        api = find_api("storage", 7);
        if (media) rest = p;
        free(api_name);
        api_name = xstrdup("storage");
    }
    emu_req_t req = {
        .method = method,
        .api = api_name,
        .path = rest,
        .query = qc.q,
        .query_multi = qc.multi,
        .raw_body = ctx->body.len ? ctx->body.s : NULL,
        .raw_len = ctx->body.len,
        .content_type = ctype,
        .base_url = emu->base_url,
        .auth = auth,
        .accept = accept,
    };

    if (ctx->fault == F_UNAVAILABLE) {
        emu_error(&resp, 503, "UNAVAILABLE", "backendError",
                  "The service is currently unavailable (injected fault).");
    } else if (ctx->fault == F_THROTTLE) {
        emu_error(&resp, 429, "RESOURCE_EXHAUSTED", "rateLimitExceeded",
                  "Quota exceeded: rate limit (injected throttle).");
        snprintf(resp.headers[0], sizeof resp.headers[0], "Retry-After: 1");
    } else if (ctx->too_big) {
        emu_error(&resp, 413, "INVALID_ARGUMENT", "uploadTooLarge", "Request body too large.");
    } else if (!api && !emu_generic_api(api_name)) {
        emu_error(&resp, 404, "NOT_FOUND", "notFound", "No API is served at /%s/.", api_name);
    } else {
        /* JSON bodies: declared JSON (or undeclared) must parse; a form
         * body (curl -d) is tried as JSON quietly; uploads stay raw. */
        int upload = strncmp(rest, "upload/", 7) == 0;
        int is_json = ctx->body.len > 0 && !upload && (!ctype || strstr(ctype, "json"));
        int maybe_json = ctx->body.len > 0 && !upload && ctype && strstr(ctype, "x-www-form-urlencoded") &&
                         strcmp(api_name, "oauth2");
        int bad = 0;
        if (is_json || maybe_json) {
            json_error_t je;
            body = json_loadb(ctx->body.s, ctx->body.len, JSON_DECODE_ANY, &je);
            if (!body && is_json) {
                bad = 1;
                emu_error(&resp, 400, "INVALID_ARGUMENT", "parseError",
                          "Invalid JSON payload received. %s (line %d, column %d)", je.text, je.line,
                          je.column);
            }
        }
        req.body = body;
        /* Handlers may link parts of the body into the store; the log
         * (written after the lock is released) gets its own copy. */
        if (emu->log && body) logged_body = json_deep_copy(body);
        if (!bad) {
            pthread_mutex_lock(&emu->lock);
            if (emu->cfg.require_auth && strcmp(api_name, "oauth2") != 0 && !auth_ok(emu, auth))
                emu_error(&resp, 401, "UNAUTHENTICATED", "authError",
                          "Request is missing required authentication credential. Expected OAuth "
                          "2 access token.");
            else
                dispatch(emu, api, &req, &resp);
            /* The body is serialised after the lock is released: it must
             * not share nodes with the store, which other threads modify
             * (handlers may embed borrowed store values), so copy it. */
            if (resp.body) {
                json_t *copy = json_deep_copy(resp.body);
                json_decref(resp.body);
                resp.body = copy;
            }
            pthread_mutex_unlock(&emu->lock);
        }
    }

    if (ctx->lost) {
        /* The change is made; now lose the answer: half the time a 503 (a
         * proxy that timed out), half the time a dropped connection. */
        int drop = rng_draw(emu) < 0.5;
        log_request(emu, api_name, method, url, qc.q, drop ? 0 : 503, util_now_ms() - ctx->start_ms,
                    logged_body, NULL);
        json_decref(logged_body);
        logged_body = NULL;
        json_decref(resp.body);
        resp.body = NULL;
        free(resp.raw);
        resp.raw = NULL;
        if (drop) {
            json_decref(body);
            json_decref(qc.q);
            json_decref(qc.multi);
            free(api_name);
            return MHD_NO;
        }
        emu_error(&resp, 503, "UNAVAILABLE", "backendError",
                  "The service is currently unavailable (answer lost).");
        ctx->lost = 2; /* logged */
    }

    /* Build the answer. */
    struct MHD_Response *r;
    if (resp.raw) {
        r = MHD_create_response_from_buffer(resp.raw_len, resp.raw, MHD_RESPMEM_MUST_FREE);
        resp.raw = NULL;
        MHD_add_response_header(r, "Content-Type",
                                resp.content_type[0] ? resp.content_type : "application/octet-stream");
    } else if (resp.body && resp.status != 204 && resp.status != 304) {
        char *text = json_dumps(resp.body, JSON_INDENT(1) | JSON_ENCODE_ANY);
        r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header(r, "Content-Type",
                                resp.content_type[0] ? resp.content_type : "application/json; charset=UTF-8");
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    for (int i = 0; i < 4; i++)
        if (resp.headers[i][0]) add_header(r, resp.headers[i]);
    enum MHD_Result ret = MHD_queue_response(con, (unsigned)resp.status, r);
    MHD_destroy_response(r);

    if (ctx->lost != 2)
        log_request(emu, api_name, method, url, qc.q, resp.status, util_now_ms() - ctx->start_ms, logged_body,
                    resp.body);
    json_decref(logged_body);
    json_decref(resp.body);
    json_decref(body);
    json_decref(qc.q);
    json_decref(qc.multi);
    free(api_name);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *con, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    reqctx_t *ctx = *con_cls;
    if (!ctx) return;
    sbuf_free(&ctx->body);
    free(ctx);
    *con_cls = NULL;
}

/* Resumes due connections (all of them when stopping). */
static void *delay_main(void *arg) {
    emu_t *emu = arg;
    pthread_mutex_lock(&emu->delay_mu);
    for (;;) {
        int64_t now = util_now_ms(), next = now + 50;
        for (delayed_t **pp = &emu->delayed; *pp;) {
            delayed_t *d = *pp;
            if (d->due_ms <= now || emu->delay_stop) {
                *pp = d->next;
                MHD_resume_connection(d->con);
                free(d);
            } else {
                if (d->due_ms < next) next = d->due_ms;
                pp = &d->next;
            }
        }
        if (emu->delay_stop) break;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wait = next - now;
        ts.tv_sec += wait / 1000;
        ts.tv_nsec += (long)(wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&emu->delay_cond, &emu->delay_mu, &ts);
    }
    pthread_mutex_unlock(&emu->delay_mu);
    return NULL;
}

emu_t *emu_new(const emu_config_t *cfg, perr_t *e) {
    emu_t *emu = xcalloc(1, sizeof *emu);
    emu->cfg = *cfg;
    if (emu->cfg.op_scale <= 0) emu->cfg.op_scale = cfg->op_scale < 0 ? 0 : 1.0;
    emu->data_dir = cfg->data_dir ? xstrdup(cfg->data_dir) : NULL;
    emu->log_path = cfg->log_path ? xstrdup(cfg->log_path) : NULL;
    emu->cfg.data_dir = emu->data_dir;
    emu->cfg.log_path = emu->log_path;
    emu->cfg.project_number_seed = NULL;
    emu->rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)cfg->seed * 0xBF58476D1CE4E5B9ULL);
    if (!emu->rng) emu->rng = 1;
    pthread_mutex_init(&emu->lock, NULL);
    pthread_mutex_init(&emu->rng_lock, NULL);
    pthread_mutex_init(&emu->log_lock, NULL);
    pthread_mutex_init(&emu->delay_mu, NULL);
    pthread_cond_init(&emu->delay_cond, NULL);
    emu->store = emu_store_new(emu->data_dir, e);
    if (!emu->store) goto err;
    if (emu->log_path) {
        emu->log = fopen(emu->log_path, "a");
        if (!emu->log) {
            perr_set(e, emu->log_path, "cannot open log: %m");
            goto err;
        }
    }
    return emu;
err:
    emu_free(emu);
    return NULL;
}

int emu_start(emu_t *emu, perr_t *e) {
    emu->ticker = emu_ticker_start(emu);
    if (!emu->ticker) {
        perr_set(e, "", "cannot start the ticker thread");
        return -1;
    }
    pthread_mutex_lock(&emu->lock);
    for (size_t i = 0; emu_apis[i]; i++)
        if (emu_apis[i]->init) emu_apis[i]->init(emu);
    pthread_mutex_unlock(&emu->lock);

    if (pthread_create(&emu->delay_thread, NULL, delay_main, emu) != 0) {
        perr_set(e, "", "cannot start the latency thread");
        return -1;
    }
    emu->delay_running = 1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)emu->cfg.port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    emu->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, handle,
        emu, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, (unsigned)8,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)2048,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL, MHD_OPTION_END);
    if (!emu->daemon) {
        perr_set(e, "", "cannot listen on 127.0.0.1:%d", emu->cfg.port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(emu->daemon, MHD_DAEMON_INFO_BIND_PORT);
    emu->port = info ? info->port : emu->cfg.port;
    snprintf(emu->base_url, sizeof emu->base_url, "http://127.0.0.1:%d", emu->port);
    return 0;
}

void emu_stop(emu_t *emu) {
    if (emu->delay_running) { /* resumes every parked connection */
        pthread_mutex_lock(&emu->delay_mu);
        emu->delay_stop = 1;
        pthread_cond_signal(&emu->delay_cond);
        pthread_mutex_unlock(&emu->delay_mu);
        pthread_join(emu->delay_thread, NULL);
        pthread_mutex_lock(&emu->delay_mu);
        emu->delay_running = 0;
        pthread_mutex_unlock(&emu->delay_mu);
    }
    if (emu->daemon) {
        MHD_stop_daemon(emu->daemon);
        emu->daemon = NULL;
    }
    if (emu->ticker) {
        emu_ticker_stop(emu->ticker); /* flushes the store */
        emu->ticker = NULL;
    } else if (emu->store) {
        char *dump = emu_store_dump_if_dirty(emu->store);
        perr_t e;
        emu_store_write(emu->store, dump, &e);
        free(dump);
    }
}

void emu_free(emu_t *emu) {
    if (!emu) return;
    emu_stop(emu);
    emu_store_free(emu->store);
    if (emu->log) fclose(emu->log);
    pthread_mutex_destroy(&emu->lock);
    pthread_mutex_destroy(&emu->rng_lock);
    pthread_mutex_destroy(&emu->log_lock);
    pthread_mutex_destroy(&emu->delay_mu);
    pthread_cond_destroy(&emu->delay_cond);
    free(emu->data_dir);
    free(emu->log_path);
    free(emu);
}
