/* reqcheck.c: checks every request in plinth HTTP logs against the Google
 * API definitions embedded in plinth (providers/gcp/schema.h): the path and
 * HTTP method match a method of the API, each query parameter is allowed for
 * it, and the JSON body's field names, types and enum values are valid for
 * the method's request message.
 *
 * Usage: reqcheck [--responses] LOGFILE...
 * --responses also checks each successful (2xx) JSON response body against
 * the method's response message: this keeps the emulator honest (no
 * invented fields, right types and enum values).
 * Log lines are {"ts","api","method","url","status","ms","attempt",
 * "req_body","resp_body"} (see DESIGN.md, "HTTP log").  Prints one line per
 * problem, "LOGFILE:LINE: METHOD URL: problem", then
 * "reqcheck: N requests checked, M problems"; exits 1 if there was any
 * problem, 2 on usage or I/O errors.  APIs that are not Google discovery
 * APIs (oauth2, k8s) are counted but not checked; APIs missing from the
 * schema data are counted and reported as unchecked in the summary. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "providers/gcp/schema.h"

/* Standard query parameters every Google API accepts (StandardQueryParameters
 * in the generated clients, plus the media upload protocol's). */
static const char *const system_params[] = {"alt",       "fields",       "key",       "prettyPrint",
                                            "quotaUser", "uploadType",   "upload_id", "upload_protocol",
                                            "$.xgafv",   "access_token", "callback",  "oauth_token",
                                            "userIp",    "trace",        NULL};

typedef struct {
    const char *file;
    size_t line;
    const char *method, *url;
    int problems;
} ctx_t;

static void report(ctx_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(ctx_t *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (c->method || c->url)
        printf("%s:%zu: %s %s: ", c->file, c->line, c->method ? c->method : "?", c->url ? c->url : "?");
    else
        printf("%s:%zu: ", c->file, c->line);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    c->problems++;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes [s, s+n) into a new string ('+' is a space in queries). */
static char *pct_decode(const char *s, size_t n) {
    char *out = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    out[o] = '\0';
    return out;
}

/* The path below the host, without the leading '/' and without the emulator's
 * "/<api>" prefix; points into url. */
static const char *url_path(const char *url, const char *api) {
    const char *p = url[0] == '/' ? NULL : strstr(url, "://"); /* emulator logs: "/api/..." */
    p = p ? p + 3 : url;
    const char *host = p;
    p = strchr(p, '/');
    if (!p) return "";
    size_t hlen = (size_t)(p - host);
    int real = hlen >= 14 && memcmp(p - 14, "googleapis.com", 14) == 0;
    if (!real) {
        /* emulator: $PLINTH_GCP_ENDPOINT/<api>/<path>.  Media uploads and
         * downloads may arrive without the prefix (/upload/storage/v1/...),
         * as clients build them from the host.  An endpoint with a path of
         * its own is handled by looking for the first "/<api>/". */
        size_t al = strlen(api);
        const char *q = p;
        if (!(strncmp(p + 1, api, al) == 0 && (p[al + 1] == '/' || p[al + 1] == '?' || p[al + 1] == '\0'))) {
            q = NULL;
            if (strncmp(p, "/upload/", 8) != 0 && strncmp(p, "/download/", 10) != 0 &&
                strncmp(p, "/resumable/", 11) != 0) {
                size_t plen = strcspn(p, "?#");
                for (const char *x = p; (x = strchr(x + 1, '/')) != NULL && x < p + plen;)
                    if (strncmp(x + 1, api, al) == 0 && x[al + 1] == '/') {
                        q = x;
                        break;
                    }
            }
        }
        if (q) p = q + 1 + al;
    }
    while (*p == '/')
        p++;
    return p;
}

static int param_allowed(const sch_method_t *m, const char *name) {
    for (size_t i = 0; system_params[i]; i++)
        if (strcmp(system_params[i], name) == 0) return 1;
    for (size_t i = 0; m->query && m->query[i]; i++)
        if (strcmp(m->query[i], name) == 0) return 1;
    return 0;
}

static void check_query(ctx_t *c, const sch_method_t *m, const char *query) {
    const char *p = query;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq ? (size_t)(eq - p) : len;
        if (nlen) {
            char *name = pct_decode(p, nlen);
            if (!param_allowed(m, name)) report(c, "query parameter '%s' is not accepted by %s", name, m->id);
            free(name);
        }
        p = amp ? amp + 1 : NULL;
    }
}

static int is_upload_path(const char *path) {
    return strncmp(path, "upload/", 7) == 0 || strncmp(path, "resumable/", 10) == 0;
}

static void check_body(ctx_t *c, const char *api, const sch_method_t *m, const char *path,
                       const json_t *body) {
    if (!body || json_is_null(body)) return;
    if (!m->request) {
        if ((json_is_object(body) && json_object_size(body) > 0) ||
            (json_is_array(body) && json_array_size(body) > 0))
            report(c, "%s takes no request body, but one was sent", m->id);
        return;
    }
    /* A media upload's body is the object's content (which may well be
     * JSON, like plinth's state), not the object's metadata. */
    if (is_upload_path(path) && strstr(c->url ? c->url : "", "uploadType=media")) return;
    if (!json_is_object(body)) {
        if (is_upload_path(path)) return; /* media bytes or a multipart body, not JSON metadata */
        report(c, "request body is not a JSON object (%s expects %s)", m->id, m->request);
        return;
    }
    diag_t d = {0};
    schema_check(api, m->request, body, 0, "", &d);
    for (size_t i = 0; i < d.n; i++)
        report(c, "%s body: %s", m->request, d.items[i].msg);
    diag_free(&d);
}

typedef struct {
    size_t requests, problems, skipped_other, unknown_api;
    int responses; /* --responses */
} totals_t;

static int is_media_download(const char *path) {
    const char *q = strchr(path, '?');
    return strncmp(path, "download/", 9) == 0 || (q && strstr(q, "alt=media") != NULL);
}

static void check_response(ctx_t *c, const char *api, const sch_method_t *m, const char *path,
                           const json_t *rec) {
    json_int_t status = json_integer_value(json_object_get(rec, "status"));
    const json_t *body = json_object_get(rec, "resp_body");
    if (status < 200 || status > 299 || !m->response || !json_is_object(body) || is_media_download(path))
        return;
    diag_t d = {0};
    schema_check(api, m->response, body, 0, "", &d);
    for (size_t i = 0; i < d.n; i++)
        report(c, "response %s: %s", m->response, d.items[i].msg);
    diag_free(&d);
}

static void check_line(const char *file, size_t lineno, const char *line, totals_t *t) {
    ctx_t c = {file, lineno, NULL, NULL, 0};
    json_error_t err;
    json_t *o = json_loads(line, 0, &err);
    if (!o || !json_is_object(o)) {
        report(&c, "not a JSON log record (%s)", o ? "not an object" : err.text);
        json_decref(o);
        t->problems += (size_t)c.problems;
        return;
    }
    t->requests++;
    const char *api = json_string_value(json_object_get(o, "api"));
    c.method = json_string_value(json_object_get(o, "method"));
    c.url = json_string_value(json_object_get(o, "url"));
    if (!api || !c.method || !c.url) {
        report(&c, "log record lacks api, method or url");
        goto out;
    }
    if (strcmp(api, "oauth2") == 0 || strcmp(api, "k8s") == 0) {
        t->skipped_other++;
        goto out;
    }
    size_t nm = 0;
    if (!schema_methods(api, &nm) || nm == 0) {
        t->unknown_api++;
        goto out;
    }
    const char *path = url_path(c.url, api);
    const sch_method_t *m = schema_match(api, c.method, path);
    if (!m) {
        size_t plen = strcspn(path, "?#");
        /* say when the path exists but takes another HTTP method */
        static const char *const verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE", NULL};
        sbuf_t other = {0};
        for (size_t i = 0; verbs[i]; i++)
            if (schema_match(api, verbs[i], path)) sbuf_addf(&other, "%s%s", other.len ? ", " : "", verbs[i]);
        if (other.len)
            report(&c, "no %s method matches %s /%.*s (the path takes %s)", api, c.method, (int)plen, path,
                   other.s);
        else
            report(&c, "no %s method matches %s /%.*s", api, c.method, (int)plen, path);
        sbuf_free(&other);
        goto out;
    }
    const char *q = strchr(path, '?');
    if (q) {
        char *query = xstrndup(q + 1, strcspn(q + 1, "#"));
        check_query(&c, m, query);
        free(query);
    }
    check_body(&c, api, m, path, json_object_get(o, "req_body"));
    if (t->responses) check_response(&c, api, m, path, o);
out:
    t->problems += (size_t)c.problems;
    json_decref(o);
}

static int check_file(const char *file, totals_t *t) {
    FILE *f = fopen(file, "r");
    if (!f) {
        fprintf(stderr, "reqcheck: %s: %s\n", file, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0) continue;
        check_line(file, lineno, line, t);
    }
    free(line);
    fclose(f);
    return 0;
}

int main(int argc, char **argv) {
    totals_t t = {0};
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--responses") == 0) {
        t.responses = 1;
        first = 2;
    }
    if (argc <= first) {
        fprintf(stderr, "usage: reqcheck [--responses] LOGFILE...\n");
        return 2;
    }
    int io_err = 0;
    for (int i = first; i < argc; i++)
        if (check_file(argv[i], &t) < 0) io_err = 1;
    printf("reqcheck: %zu requests checked, %zu problems", t.requests, t.problems);
    if (t.skipped_other || t.unknown_api)
        printf(" (%zu oauth2/k8s not checked, %zu of APIs without schema data)", t.skipped_other,
               t.unknown_api);
    putchar('\n');
    if (io_err) return 2;
    return t.problems ? 1 : 0;
}
