/* testsrv.c: the scripted HTTP server unit tests share (testsrv.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/testsrv.h"

typedef struct conn {
    char *buf;
    size_t len;
} conn_t;

void tsrv_rule(tsrv_t *s, const char *method, const char *path, int status, const char *body, int retry_after,
               int times, int drop) {
    pthread_mutex_lock(&s->mu);
    tsrv_rule_t *r = &s->rules[s->nrules++];
    snprintf(r->method, sizeof r->method, "%s", method ? method : "");
    snprintf(r->path, sizeof r->path, "%s", path ? path : "");
    r->status = status;
    r->body = body ? strdup(body) : NULL;
    r->retry_after = retry_after;
    r->times = times;
    r->drop = drop;
    pthread_mutex_unlock(&s->mu);
}

static void header(struct MHD_Connection *mc, const char *name, char *out, size_t size) {
    const char *a = MHD_lookup_connection_value(mc, MHD_HEADER_KIND, name);
    snprintf(out, size, "%s", a ? a : "");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
                               const char *version, const char *up, size_t *uplen, void **cc) {
    tsrv_t *s = cls;
    conn_t *c = *cc;
    if (!c) {
        *cc = calloc(1, sizeof(conn_t));
        return MHD_YES;
    }
    if (*uplen) {
        c->buf = realloc(c->buf, c->len + *uplen + 1);
        memcpy(c->buf + c->len, up, *uplen);
        c->len += *uplen;
        c->buf[c->len] = 0;
        *uplen = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&s->mu);
    s->active++;
    if (s->active > s->max_active) s->max_active = s->active;
    if (s->nseen < 512) {
        tsrv_seen_t *sn = &s->seen[s->nseen++];
        snprintf(sn->method, sizeof sn->method, "%s", method);
        snprintf(sn->path, sizeof sn->path, "%s", url);
        sn->body = c->buf ? strdup(c->buf) : NULL;
        header(mc, "Authorization", sn->auth, sizeof sn->auth);
        header(mc, "X-Goog-User-Project", sn->quota, sizeof sn->quota);
        header(mc, "Metadata-Flavor", sn->flavor, sizeof sn->flavor);
        header(mc, "User-Agent", sn->ua, sizeof sn->ua);
        header(mc, "Content-Type", sn->ctype, sizeof sn->ctype);
    }
    tsrv_rule_t *hit = NULL;
    for (int i = 0; i < s->nrules; i++) {
        tsrv_rule_t *r = &s->rules[i];
        if (r->times == 0) continue;
        if (r->method[0] && strcmp(r->method, method) != 0) continue;
        if (r->path[0] && strcmp(r->path, url) != 0) continue;
        hit = r;
        if (r->times > 0) r->times--;
        break;
    }
    int status = hit ? hit->status : 200;
    char *body = hit && hit->body ? strdup(hit->body) : NULL;
    int ra = hit ? hit->retry_after : -1, drop = hit ? hit->drop : 0;
    int delay = s->delay_ms;
    pthread_mutex_unlock(&s->mu);
    if (delay) usleep((useconds_t)delay * 1000);
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_mutex_unlock(&s->mu);
    if (drop) {
        free(body);
        return MHD_NO;
    }
    if (!body) body = strdup("{\"ok\":true}");
    struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (ra >= 0) {
        char b[16];
        snprintf(b, sizeof b, "%d", ra);
        MHD_add_response_header(resp, "Retry-After", b);
    }
    enum MHD_Result rc = MHD_queue_response(mc, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void completed(void *cls, struct MHD_Connection *mc, void **cc, enum MHD_RequestTerminationCode toe) {
    conn_t *c = *cc;
    if (c) {
        free(c->buf);
        free(c);
    }
    *cc = NULL;
}

tsrv_t *tsrv_start(void) {
    tsrv_t *s = calloc(1, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                MHD_USE_ERROR_LOG * 0,
                            0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_NOTIFY_COMPLETED,
                            completed, s, MHD_OPTION_END);
    assert_non_null(s->d);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di->port;
    snprintf(s->base, sizeof s->base, "http://127.0.0.1:%d", s->port);
    return s;
}

void tsrv_stop(tsrv_t *s) {
    MHD_stop_daemon(s->d);
    for (int i = 0; i < s->nrules; i++)
        free(s->rules[i].body);
    for (int i = 0; i < s->nseen; i++)
        free(s->seen[i].body);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

int tsrv_count(tsrv_t *s, const char *path) {
    pthread_mutex_lock(&s->mu);
    int n = 0;
    for (int i = 0; i < s->nseen; i++)
        if (!path || strcmp(s->seen[i].path, path) == 0) n++;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const tsrv_seen_t *tsrv_nth(tsrv_t *s, const char *path, int nth) {
    for (int i = 0; i < s->nseen; i++)
        if (strcmp(s->seen[i].path, path) == 0 && nth-- == 0) return &s->seen[i];
    return NULL;
}
