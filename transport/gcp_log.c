/* gcp_log.c: the HTTP log: one JSON line per request attempt, appended
 * with one write() under a mutex, with passwords, tokens, keys, secret
 * payloads and registered secret values replaced by "<redacted>". */
#include "transport/gcp_log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_TEXT_BODY 4096
#define REDACTED "<redacted>"

struct gcp_log {
    int fd;
    pthread_mutex_t mu;
    strlist_t secrets;
};

static const char *const secret_keys[] = {
    "password",       "access_token", "refresh_token", "client_secret", "assertion", "private_key",
    "privateKeyData", "accessToken",  "id_token",      "idToken",       NULL,
};

gcp_log_t *gcp_log_open(const char *path, perr_t *e) {
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        perr_set(e, path, "cannot open the HTTP log %s: %s", path, strerror(errno));
        return NULL;
    }
    gcp_log_t *l = xcalloc(1, sizeof *l);
    l->fd = fd;
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void gcp_log_close(gcp_log_t *l) {
    if (!l) return;
    close(l->fd);
    pthread_mutex_destroy(&l->mu);
    strlist_free(&l->secrets);
    free(l);
}

void gcp_log_add_secret(gcp_log_t *l, const char *value) {
    if (!l || !value || !value[0]) return;
    pthread_mutex_lock(&l->mu);
    if (!strlist_has(&l->secrets, value)) strlist_add(&l->secrets, value);
    pthread_mutex_unlock(&l->mu);
}

/* Caller holds l->mu. */
static bool has_secret(gcp_log_t *l, const char *s, size_t n) {
    for (size_t i = 0; i < l->secrets.n; i++)
        if (memmem(s, n, l->secrets.v[i], strlen(l->secrets.v[i]))) return true;
    return false;
}

static bool is_secret_key(const char *k) {
    for (size_t i = 0; secret_keys[i]; i++)
        if (strcmp(k, secret_keys[i]) == 0) return true;
    return false;
}

/* A Kubernetes Secret (or a list of them: list items carry no kind): its
 * data and stringData never reach the log. */
static void hide_secret_data(json_t *obj) {
    static const char *const keys[] = {"data", "stringData"};
    for (size_t i = 0; i < 2; i++)
        if (json_is_object(json_object_get(obj, keys[i])))
            json_object_set_new(obj, keys[i], json_string(REDACTED));
}

static void redact_k8s_secret(json_t *v) {
    const char *kind = json_string_value(json_object_get(v, "kind"));
    if (!kind) return;
    if (strcmp(kind, "Secret") == 0) hide_secret_data(v);
    if (strcmp(kind, "SecretList") == 0) {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(v, "items"), i, it) hide_secret_data(it);
    }
}

/* Redacts v in place; returns the value to keep (v, or a new "<redacted>"
 * string that replaces it: then v was released). */
static json_t *redact(gcp_log_t *l, json_t *v, bool secret_payload) {
    if (json_is_string(v)) {
        if (has_secret(l, json_string_value(v), json_string_length(v))) {
            json_decref(v);
            return json_string(REDACTED);
        }
        return v;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        void *tmp;
        redact_k8s_secret(v);
        json_object_foreach_safe(v, tmp, k, x) {
            if (is_secret_key(k) && !json_is_null(x)) {
                json_object_set_new(v, k, json_string(REDACTED));
            } else if (secret_payload && strcmp(k, "payload") == 0 && json_is_object(x)) {
                if (json_object_get(x, "data")) json_object_set_new(x, "data", json_string(REDACTED));
                json_incref(x);
                json_object_set_new(v, k, redact(l, x, secret_payload));
            } else {
                json_incref(x);
                json_object_set_new(v, k, redact(l, x, secret_payload));
            }
        }
        return v;
    }
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            json_t *x = json_incref(json_array_get(v, i));
            json_array_set_new(v, i, redact(l, x, secret_payload));
        }
    }
    return v;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* {"grant_type": "..."} from a form body: the rest holds credentials. */
static json_t *form_summary(const char *data, size_t len) {
    json_t *o = json_object();
    const char *p = data, *end = data + len;
    while (p && p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - p) > 11 && strncmp(p, "grant_type=", 11) == 0) {
            sbuf_t b = {0};
            for (const char *q = p + 11; q < stop; q++) {
                if (*q == '%' && q + 2 < stop && hexval(q[1]) >= 0 && hexval(q[2]) >= 0) {
                    sbuf_addc(&b, (char)(hexval(q[1]) * 16 + hexval(q[2])));
                    q += 2;
                } else {
                    sbuf_addc(&b, *q == '+' ? ' ' : *q);
                }
            }
            json_object_set_new(o, "grant_type", json_string(b.s ? b.s : ""));
            sbuf_free(&b);
        }
        p = amp ? amp + 1 : NULL;
    }
    return o;
}

/* A body as a log value: JSON when it parses, else a (truncated) string,
 * null when empty.  Caller holds l->mu. */
static json_t *body_value(gcp_log_t *l, const char *data, size_t len, const char *ctype,
                          bool secret_payload) {
    if (!data || len == 0) return json_null();
    if (ctype && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0)
        return form_summary(data, len);
    json_t *v = json_loadb(data, len, JSON_DECODE_ANY, NULL);
    if (v) return redact(l, v, secret_payload);
    if (has_secret(l, data, len)) return json_string(REDACTED);
    size_t n = len > MAX_TEXT_BODY ? MAX_TEXT_BODY : len;
    /* Keep the text valid UTF-8 for jansson; drop a cut multi-byte tail. */
    json_t *s = json_stringn(data, n);
    for (int cut = 0; !s && len > MAX_TEXT_BODY && cut < 3 && n > 0; cut++)
        s = json_stringn(data, --n);
    if (!s) {
        sbuf_t b = {0};
        for (size_t i = 0; i < n; i++)
            sbuf_addc(&b, (unsigned char)data[i] < 0x80 ? data[i] : '?');
        s = json_string(b.s ? b.s : "");
        sbuf_free(&b);
    }
    return s;
}

static void format_ts(char out[40], int64_t ms) {
    if (ms <= 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    time_t sec = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

/* Caller holds l->mu. */
static char *format_locked(gcp_log_t *l, const gcp_log_entry_t *ent) {
    char ts[40];
    format_ts(ts, ent->start_ms);
    bool sp = ent->api && strcmp(ent->api, "secretmanager") == 0;
    json_t *o = json_object();
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "api", json_string(ent->api ? ent->api : ""));
    json_object_set_new(o, "method", json_string(ent->method ? ent->method : ""));
    json_t *url = json_string(ent->url ? ent->url : "");
    json_object_set_new(o, "url", url ? redact(l, url, false) : json_string(""));
    if (ent->addr) json_object_set_new(o, "addr", json_string(ent->addr));
    json_object_set_new(o, "status", json_integer(ent->status));
    json_object_set_new(o, "ms", json_integer(ent->ms));
    json_object_set_new(o, "attempt", json_integer(ent->attempt));
    json_object_set_new(o, "req_body", body_value(l, ent->req, ent->req_len, ent->req_type, sp));
    json_object_set_new(o, "resp_body", body_value(l, ent->resp, ent->resp_len, NULL, sp));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s ? s : xstrdup("{}");
}

char *gcp_log_format(gcp_log_t *l, const gcp_log_entry_t *ent) {
    pthread_mutex_lock(&l->mu);
    char *s = format_locked(l, ent);
    pthread_mutex_unlock(&l->mu);
    return s;
}

void gcp_log_write(gcp_log_t *l, const gcp_log_entry_t *ent) {
    if (!l) return;
    pthread_mutex_lock(&l->mu);
    char *s = format_locked(l, ent);
    size_t n = strlen(s);
    s = xrealloc(s, n + 2);
    s[n++] = '\n';
    s[n] = 0;
    size_t off = 0;
    while (off < n) {
        ssize_t w = write(l->fd, s + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break; /* the log is best effort: a full disk must not fail the run */
        off += (size_t)w;
    }
    pthread_mutex_unlock(&l->mu);
    free(s);
}
