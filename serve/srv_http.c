/* srv_http.c: the HTTP side of `plinth serve`: the JSON API under /api/,
 * the web page, sign-in by ?token= (as Jupyter does), and server-sent
 * events.
 *
 * Who is calling: `Authorization: Bearer TOKEN`, or the session cookie the
 * page got from ?token=.  The cookie is HttpOnly and SameSite=Strict, and a
 * state-changing call made with it must also carry `X-Plinth-CSRF: 1`: a
 * page of another origin can neither send that header without a CORS
 * preflight (which this server never grants) nor read the cookie.
 *
 * One thread per connection (libmicrohttpd's simplest mode): an event
 * stream may block its thread while it waits for the next event, and the
 * number of people looking at one platform team's server is small. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve.h"

#define MAX_BODY (1 << 20)

static struct MHD_Daemon *g_daemon;
/* The TLS key and certificate: libmicrohttpd keeps pointers to them. */
static char *g_cert, *g_key;

typedef struct req {
    sbuf_t body;
    int too_big;
} req_t;

/* ---- responses ---- */

static void common_headers(struct MHD_Response *r) {
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status, const char *ctype,
                                 const char *text, size_t len, int copy) {
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, (void *)text, copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    common_headers(r);
    MHD_add_response_header(r, "Content-Type", ctype);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(j);
    enum MHD_Result ret = send_text(c, status, "application/json", s, strlen(s), 1);
    free(s);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *field,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *field,
                                  const char *fmt, ...) {
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *e = json_pack("{s:i, s:s}", "code", (int)status, "message", msg);
    if (field) json_object_set_new(e, "field", json_string(field));
    return send_json(c, status, json_pack("{s:o}", "error", e));
}

/* ---- who is calling ---- */

typedef struct who {
    const srv_user_t *user;
    int by_cookie;
} who_t;

static who_t caller(srv_t *s, struct MHD_Connection *c) {
    who_t w = {0};
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7)) {
        w.user = srv_users_by_token(&s->users, auth + 7);
        return w;
    }
    const char *sid = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "plinth_session");
    if (sid && strlen(sid) == 64) {
        char *name = srv_db_session_user(s->db, sid);
        if (name) w.user = srv_users_by_name(&s->users, name), w.by_cookie = 1;
        free(name);
    }
    return w;
}

/* ?token=T on a page: a session cookie, then the same page without it. */
static enum MHD_Result sign_in(srv_t *s, struct MHD_Connection *c, const char *url, const char *token) {
    const srv_user_t *u = srv_users_by_token(&s->users, token);
    if (!u) return send_text(c, 401, "text/plain", "unknown token\n", 14, 0);
    char *sid = srv_random_hex(32);
    srv_db_session_add(s->db, sid, u->name);
    srv_db_audit(s->db, u->name, "sign-in", NULL, "session cookie from ?token=");
    struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    common_headers(r);
    char *cookie = xasprintf("plinth_session=%s; Path=/; HttpOnly; SameSite=Strict%s", sid,
                             s->conf.tls_cert ? "; Secure" : "");
    MHD_add_response_header(r, "Set-Cookie", cookie);
    MHD_add_response_header(r, "Location", url); /* the path alone: the token is gone */
    enum MHD_Result ret = MHD_queue_response(c, 303, r);
    MHD_destroy_response(r);
    free(cookie);
    free(sid);
    return ret;
}

/* ---- environments ---- */

static int valid_name(const char *n) {
    size_t l = n ? strlen(n) : 0;
    if (l < 1 || l > 30 || n[0] < 'a' || n[0] > 'z' || n[l - 1] == '-') return 0;
    for (size_t i = 0; i < l; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '-')) return 0;
    return 1;
}

static enum MHD_Result env_create(srv_t *s, struct MHD_Connection *c, const srv_user_t *u, const req_t *rq) {
    if (!(u->roles & SRV_REQUESTER))
        return send_error(c, 403, NULL, "%s may not request environments", u->name);
    if (rq->too_big) return send_error(c, 413, NULL, "request body over %d bytes", MAX_BODY);
    json_error_t je;
    json_t *b = json_loadb(rq->body.s ? rq->body.s : "", rq->body.len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(b)) {
        json_decref(b);
        return send_error(c, 400, NULL, "body must be a JSON object: %s", je.text);
    }
    enum MHD_Result ret;
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *module = json_string_value(json_object_get(b, "module"));
    const char *ttl = json_string_value(json_object_get(b, "ttl"));
    json_t *ttlv = json_object_get(b, "ttl");
    const json_t *mod = module ? srv_catalog_find(s, module) : NULL;
    long ttl_s = ttl ? srv_parse_ttl(ttl) : 0;
    perr_t e = {0};
    json_t *clean = NULL;
    const char *k;
    json_t *v;
    json_object_foreach(b, k, v) if (strcmp(k, "name") && strcmp(k, "module") && strcmp(k, "inputs") &&
                                     strcmp(k, "ttl")) {
        ret = send_error(c, 400, k, "unknown field %s (name, module, inputs, ttl)", k);
        goto out;
    }
    if (!valid_name(name))
        ret = send_error(c, 400, "name",
                         "name must be 1-30 characters of a-z, 0-9 and -, starting with a letter");
    else if (!mod)
        ret = send_error(c, 400, "module", "no module %s in the catalogue", module ? module : "(none)");
    else if ((ttlv && !ttl) || ttl_s < 0)
        ret = send_error(c, 400, "ttl", "ttl must be a duration such as \"72h\", \"30m\" or \"7d\"");
    else if (srv_catalog_check(mod, json_object_get(b, "inputs"), &clean, &e) != 0)
        ret = send_error(c, 400, e.where, "%s", e.msg);
    else {
        char *id = srv_random_hex(6);
        int rc = srv_db_env_create(s->db, id, name, module, clean, ttl, ttl_s, u->name);
        if (rc == 1)
            ret = send_error(c, 409, "name", "an environment named %s exists already", name);
        else if (rc != 0)
            ret = send_error(c, 500, NULL, "cannot record the request");
        else {
            char *in = json_dumps(clean, JSON_COMPACT | JSON_SORT_KEYS);
            srv_db_audit(s->db, u->name, "request", id, in);
            free(in);
            srv_db_event(s->db, id, "status", "planning");
            srv_run_enqueue(s, id, "plan");
            ret = send_json(c, 201, json_pack("{s:s, s:s}", "id", id, "status", "planning"));
        }
        free(id);
    }
out:
    json_decref(clean);
    json_decref(b);
    return ret;
}

static enum MHD_Result env_action(srv_t *s, struct MHD_Connection *c, const srv_user_t *u, const char *id,
                                  const char *action) {
    json_t *env = srv_db_env_get(s->db, id, 0);
    if (!env) return send_error(c, 404, NULL, "no environment %s", id);
    const char *status = json_string_value(json_object_get(env, "status"));
    const char *owner = json_string_value(json_object_get(env, "requested_by"));
    int own = !strcmp(owner, u->name), admin = (u->roles & SRV_ADMIN) != 0;
    enum MHD_Result ret;
    if (!strcmp(action, "approve")) {
        /* Four eyes: nobody approves their own request, admins included. */
        if (!(u->roles & SRV_APPROVER))
            ret = send_error(c, 403, NULL, "%s may not approve", u->name);
        else if (own)
            ret = send_error(c, 403, NULL, "%s requested %s and cannot approve it too", u->name, id);
        else if (!srv_db_env_move(s->db, id, "planned", "approved"))
            ret = send_error(c, 409, "status", "%s is %s; only a planned environment can be approved", id,
                             status);
        else {
            srv_db_env_set(s->db, id, "approved", "approved_by", u->name);
            srv_db_event(s->db, id, "status", "approved");
            srv_db_audit(s->db, u->name, "approve", id, NULL);
            srv_run_enqueue(s, id, "apply");
            ret = send_json(c, 202, json_pack("{s:s, s:s}", "id", id, "status", "approved"));
        }
    } else if (!strcmp(action, "plan") || !strcmp(action, "destroy")) {
        int destroy = !strcmp(action, "destroy");
        const char *from[] = {"planned", "failed", destroy ? "applied" : NULL, NULL};
        int moved = 0;
        const char *to = destroy ? "destroying" : "planning";
        if (!own && !admin)
            ret = send_error(c, 403, NULL, "only %s or an admin may %s %s", owner, action, id);
        else {
            for (int i = 0; from[i] && !moved; i++)
                moved = srv_db_env_move(s->db, id, from[i], to);
            if (!moved)
                ret = send_error(c, 409, "status", "%s is %s: cannot %s it now", id, status, action);
            else {
                srv_db_event(s->db, id, "status", to);
                srv_db_audit(s->db, u->name, action, id, NULL);
                srv_run_enqueue(s, id, destroy ? "destroy" : "plan");
                ret = send_json(c, 202, json_pack("{s:s, s:s}", "id", id, "status", to));
            }
        }
    } else
        ret = send_error(c, 404, NULL, "no action %s", action);
    json_decref(env);
    return ret;
}

/* ---- server-sent events ---- */

typedef struct sse {
    srv_t *s;
    char *id;
    long seq;
    int follow;
    sbuf_t pending;
    size_t off;
    int64_t last_write;
} sse_t;

static int terminal(const char *status) {
    return !strcmp(status, "destroyed");
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    sse_t *x = cls;
    for (;;) {
        if (x->off < x->pending.len) {
            size_t n = x->pending.len - x->off < max ? x->pending.len - x->off : max;
            memcpy(buf, x->pending.s + x->off, n);
            x->off += n;
            x->last_write = util_now_ms();
            return (ssize_t)n;
        }
        sbuf_free(&x->pending);
        x->off = 0;
        json_t *evs = srv_db_events(x->s->db, x->id, x->seq);
        size_t i;
        json_t *ev;
        json_array_foreach(evs, i, ev) {
            char *d = json_dumps(ev, JSON_COMPACT | JSON_ENSURE_ASCII);
            x->seq = (long)json_integer_value(json_object_get(ev, "seq"));
            sbuf_addf(&x->pending, "id: %ld\nevent: %s\ndata: %s\n\n", x->seq,
                      json_string_value(json_object_get(ev, "type")), d);
            free(d);
        }
        json_decref(evs);
        if (x->pending.len) continue;
        json_t *env = srv_db_env_get(x->s->db, x->id, 0);
        int done = !env || terminal(json_string_value(json_object_get(env, "status")));
        json_decref(env);
        if (done || !x->follow || *x->s->stop) return MHD_CONTENT_READER_END_OF_STREAM;
        if (util_now_ms() - x->last_write > 15000)
            sbuf_add(&x->pending, ": keep-alive\n\n");
        else
            usleep(200 * 1000);
    }
}

static void sse_free(void *cls) {
    sse_t *x = cls;
    free(x->id);
    sbuf_free(&x->pending);
    free(x);
}

static enum MHD_Result env_events(srv_t *s, struct MHD_Connection *c, const char *id) {
    json_t *env = srv_db_env_get(s->db, id, 0);
    if (!env) return send_error(c, 404, NULL, "no environment %s", id);
    json_decref(env);
    sse_t *x = xcalloc(1, sizeof *x);
    x->s = s;
    x->id = xstrdup(id);
    x->last_write = util_now_ms();
    const char *last = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
    const char *after = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "after");
    x->seq = last ? atol(last) : after ? atol(after) : 0;
    const char *follow = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "follow");
    x->follow = !(follow && !strcmp(follow, "0"));
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, x, sse_free);
    common_headers(r);
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    enum MHD_Result ret = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- routing ---- */

static int is_page(const char *url) {
    return !strcmp(url, "/") || !strncmp(url, "/env/", 5) || !strcmp(url, "/catalog");
}

static enum MHD_Result route_api(srv_t *s, struct MHD_Connection *c, const char *url, const char *method,
                                 const srv_user_t *u, const req_t *rq) {
    int get = !strcmp(method, "GET"), post = !strcmp(method, "POST"), del = !strcmp(method, "DELETE");
    if (!strcmp(url, "/api/me") && get)
        return send_json(c, 200, json_pack("{s:s, s:o}", "name", u->name, "roles", srv_roles_json(u->roles)));
    if (!strcmp(url, "/api/catalog") && get) return send_json(c, 200, json_deep_copy(s->catalog));
    if (!strcmp(url, "/api/audit") && get) {
        if (!(u->roles & SRV_ADMIN)) return send_error(c, 403, NULL, "the audit log is for admins");
        return send_json(c, 200, srv_db_audit_list(s->db));
    }
    if (!strcmp(url, "/api/environments")) {
        if (get) return send_json(c, 200, srv_db_env_list(s->db));
        if (post) return env_create(s, c, u, rq);
        return send_error(c, 405, NULL, "%s not allowed here", method);
    }
    if (!strncmp(url, "/api/environments/", 18)) {
        const char *rest = url + 18;
        const char *slash = strchr(rest, '/');
        char *id = slash ? xstrndup(rest, (size_t)(slash - rest)) : xstrdup(rest);
        const char *sub = slash ? slash + 1 : "";
        enum MHD_Result ret;
        if (!*sub && get) {
            json_t *env = srv_db_env_get(s->db, id, 1);
            ret = env ? send_json(c, 200, env) : send_error(c, 404, NULL, "no environment %s", id);
        } else if (!*sub && del)
            ret = env_action(s, c, u, id, "destroy");
        else if (!strcmp(sub, "events") && get)
            ret = env_events(s, c, id);
        else if ((!strcmp(sub, "approve") || !strcmp(sub, "plan")) && post)
            ret = env_action(s, c, u, id, sub);
        else
            ret = send_error(c, 404, NULL, "no such call: %s %s", method, url);
        free(id);
        return ret;
    }
    return send_error(c, 404, NULL, "no such call: %s %s", method, url);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    (void)version;
    srv_t *s = cls;
    if (!*con_cls) {
        *con_cls = xcalloc(1, sizeof(req_t));
        return MHD_YES;
    }
    req_t *rq = *con_cls;
    if (*upload_size) {
        if (rq->body.len + *upload_size > MAX_BODY)
            rq->too_big = 1;
        else
            sbuf_addn(&rq->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (!strcmp(url, "/healthz")) return send_text(c, 200, "text/plain", "ok\n", 3, 0);
    if (!strcmp(url, "/static/app.js"))
        return send_text(c, 200, "text/javascript", srv_page_js, strlen(srv_page_js), 0);
    if (is_page(url) && !strcmp(method, "GET")) {
        const char *token = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        if (token) return sign_in(s, c, url, token);
        struct MHD_Response *r = MHD_create_response_from_buffer(strlen(srv_page_html), (void *)srv_page_html,
                                                                 MHD_RESPMEM_PERSISTENT);
        common_headers(r);
        MHD_add_response_header(r, "Content-Type", "text/html; charset=utf-8");
        MHD_add_response_header(
            r, "Content-Security-Policy",
            "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'");
        MHD_add_response_header(r, "X-Frame-Options", "DENY");
        enum MHD_Result ret = MHD_queue_response(c, 200, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (strncmp(url, "/api/", 5)) return send_error(c, 404, NULL, "not found: %s", url);
    who_t w = caller(s, c);
    if (!w.user)
        return send_error(c, 401, NULL,
                          "sign in: Authorization: Bearer TOKEN, or open the page with ?token=");
    if (w.by_cookie && strcmp(method, "GET") && strcmp(method, "HEAD")) {
        const char *csrf = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Plinth-CSRF");
        if (!csrf || strcmp(csrf, "1")) return send_error(c, 403, NULL, "missing X-Plinth-CSRF header");
    }
    return route_api(s, c, url, method, w.user, rq);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)c, (void)toe;
    req_t *rq = *con_cls;
    if (rq) sbuf_free(&rq->body), free(rq);
    *con_cls = NULL;
}

int srv_http_start(srv_t *s, perr_t *e) {
    char host[64] = "127.0.0.1";
    int port = 8080;
    const char *colon = strrchr(s->conf.listen, ':');
    if (!colon || colon - s->conf.listen >= (long)sizeof host || sscanf(colon + 1, "%d", &port) != 1 ||
        port < 0 || port > 65535) {
        perr_set(e, "--listen", "expected HOST:PORT, got %s", s->conf.listen);
        return -1;
    }
    memcpy(host, s->conf.listen, (size_t)(colon - s->conf.listen));
    host[colon - s->conf.listen] = '\0';
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        perr_set(e, "--listen", "%s is not an IPv4 address", host);
        return -1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    char *cert = NULL, *key = NULL;
    if (s->conf.tls_cert || s->conf.tls_key) {
        size_t n;
        if (!s->conf.tls_cert || !s->conf.tls_key) {
            perr_set(e, "--tls-cert", "TLS needs both --tls-cert and --tls-key");
            return -1;
        }
        if (!(cert = util_read_file(s->conf.tls_cert, &n, e)) ||
            !(key = util_read_file(s->conf.tls_key, &n, e))) {
            free(cert);
            return -1;
        }
        flags |= MHD_USE_TLS;
    }
    if (cert)
        g_daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                                    (struct sockaddr *)&sa, MHD_OPTION_HTTPS_MEM_CERT, cert,
                                    MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_NOTIFY_COMPLETED, completed,
                                    NULL, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600, MHD_OPTION_END);
    else
        g_daemon = MHD_start_daemon(flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
                                    (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)600, MHD_OPTION_END);
    g_cert = cert, g_key = key;
    if (!g_daemon) {
        perr_set(e, "--listen", "cannot listen on %s (in use, or TLS files invalid)", s->conf.listen);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(g_daemon, MHD_DAEMON_INFO_BIND_PORT);
    printf("plinth serve: listening on %s://%s:%u\n", s->conf.tls_cert ? "https" : "http", host,
           info ? info->port : (unsigned)port);
    fflush(stdout);
    return 0;
}

void srv_http_stop(srv_t *s) {
    (void)s;
    if (g_daemon) MHD_stop_daemon(g_daemon);
    g_daemon = NULL;
    free(g_cert);
    free(g_key);
    g_cert = g_key = NULL;
}
