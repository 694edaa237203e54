/* gcp_op.c: waiting for long-running operations of every shape: compute,
 * container and sqladmin ("status": PENDING/RUNNING/DONE, polled through
 * the op's selfLink) and google.longrunning ("done", polled at v1/{name}).
 * Which API has which shape is in the traits table (gcp_api.c). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "providers/gcp/gcp_api.h"
#include "transport/gcp_auth.h"
#include "providers/gcp/gcp_op.h"
#include "transport/gcp_http.h"

#define MAX_NOT_FOUND 20

typedef gcp_ops_shape_t shape_t;
#define SHAPE_COMPUTE GCP_OPS_COMPUTE
#define SHAPE_CONTAINER GCP_OPS_CONTAINER
#define SHAPE_SQL GCP_OPS_SQL
#define SHAPE_LRO GCP_OPS_LRO

/* The API's declared shape (gcp_api.c), else what the operation says. */
static shape_t shape_of(const char *api, const json_t *op) {
    if (gcp_api_ops_declared(api)) return gcp_api_traits(api)->ops;
    if (json_object_get(op, "done") || !json_object_get(op, "status")) return SHAPE_LRO;
    const char *kind = json_string_value(json_object_get(op, "kind"));
    if (kind && strcmp(kind, "sql#operation") == 0) return SHAPE_SQL;
    if (kind && strcmp(kind, "compute#operation") == 0) return SHAPE_COMPUTE;
    return SHAPE_LRO;
}

/* A link (real Google URL, or one on the emulator endpoint) as api + path
 * per the URL rule.  https://www.googleapis.com/compute/v1/... is api
 * "compute", path "compute/v1/...". */
static int link_to_call(gcp_client_t *c, const char *link, char **api, char **path) {
    const char *ep = gcp_http_endpoint(c);
    const char *rest = NULL;
    if (ep && strncmp(link, ep, strlen(ep)) == 0 && link[strlen(ep)] == '/') {
        rest = link + strlen(ep) + 1;
        const char *sl = strchr(rest, '/');
        if (!sl) return -1;
        *api = xstrndup(rest, (size_t)(sl - rest));
        *path = xstrdup(sl + 1);
        return 0;
    }
    const char *p = strstr(link, "://");
    if (!p) return -1;
    const char *host = p + 3;
    const char *sl = strchr(host, '/');
    if (!sl) return -1;
    size_t hl = (size_t)(sl - host);
    const char *suffix = ".googleapis.com";
    size_t sfl = strlen(suffix);
    if (hl <= sfl || strncasecmp(host + hl - sfl, suffix, sfl) != 0) return -1;
    rest = sl + 1;
    if (hl - sfl == 3 && strncasecmp(host, "www", 3) == 0) {
        const char *s2 = strchr(rest, '/');
        if (!s2) return -1;
        *api = xstrndup(rest, (size_t)(s2 - rest));
    } else {
        *api = xstrndup(host, hl - sfl);
    }
    *path = xstrdup(rest);
    return 0;
}

/* "projects/..." tail of a URL or relative name, or NULL. */
static const char *projects_tail(const char *s) {
    if (!s) return NULL;
    if (strncmp(s, "projects/", 9) == 0) return s;
    const char *p = strstr(s, "/projects/");
    return p ? p + 1 : NULL;
}

static void replace_all(char **s, const char *from, const char *to) {
    char *p = strstr(*s, from);
    if (!p) return;
    char *n = xasprintf("%.*s%s%s", (int)(p - *s), *s, to, p + strlen(from));
    free(*s);
    *s = n;
    replace_all(s, from, to);
}

/* Where to GET the op again: 0 with api/path, or -1 with e filled. */
static int poll_target(gcp_client_t *c, shape_t sh, const char *api, const json_t *op, char **papi,
                       char **ppath, perr_t *e) {
    const char *name = json_string_value(json_object_get(op, "name"));
    const char *self = json_string_value(json_object_get(op, "selfLink"));
    if (sh == SHAPE_LRO) {
        if (!name) goto noname;
        const char *pfx = gcp_api_traits(api)->ops_prefix;
        *papi = xstrdup(api);
        *ppath = xasprintf("%s%s", pfx ? pfx : "v1/", name);
        return 0;
    }
    if (self && link_to_call(c, self, papi, ppath) == 0) {
        if (sh == SHAPE_CONTAINER) replace_all(ppath, "/zones/", "/locations/");
        return 0;
    }
    if (!name) goto noname;
    *papi = xstrdup(api);
    if (sh == SHAPE_SQL) {
        const char *proj = json_string_value(json_object_get(op, "targetProject"));
        if (proj) {
            *ppath = xasprintf("sql/v1beta4/projects/%s/operations/%s", proj, name);
            return 0;
        }
    } else if (sh == SHAPE_COMPUTE) {
        const char *scope = json_string_value(json_object_get(op, "zone"));
        if (!scope) scope = json_string_value(json_object_get(op, "region"));
        const char *t = projects_tail(scope);
        if (t) {
            *ppath = xasprintf("compute/v1/%s/operations/%s", t, name);
            return 0;
        }
    } else {
        const char *t = projects_tail(json_string_value(json_object_get(op, "targetLink")));
        const char *loc = json_string_value(json_object_get(op, "location"));
        if (!loc) loc = json_string_value(json_object_get(op, "zone"));
        if (t && loc) {
            const char *pe = strchr(t + 9, '/');
            size_t pl = pe ? (size_t)(pe - t) : strlen(t);
            *ppath = xasprintf("v1/%.*s/locations/%s/operations/%s", (int)pl, t, loc, name);
            return 0;
        }
    }
    free(*papi);
    *papi = NULL;
    perr_set(e, "", "%s operation %s: no selfLink to poll", api, name);
    return -1;
noname:
    perr_set(e, "", "%s operation: no name to poll", api);
    return -1;
}

static bool op_done(shape_t sh, const json_t *op) {
    if (sh == SHAPE_LRO) {
        const char *name = json_string_value(json_object_get(op, "name"));
        if (name && strcmp(name, "operations/noop.DONE_OPERATION") == 0) return true;
        return json_is_true(json_object_get(op, "done"));
    }
    const char *st = json_string_value(json_object_get(op, "status"));
    return st && strcmp(st, "DONE") == 0;
}

/* The error inside a finished op, as a message (new string), or NULL. */
static char *op_error(shape_t sh, const json_t *op) {
    json_t *err = json_object_get(op, "error");
    sbuf_t b = {0};
    json_t *errs = json_object_get(err, "errors");
    if (json_array_size(errs) > 0) {
        size_t i;
        json_t *x;
        json_array_foreach(errs, i, x) {
            const char *m = json_string_value(json_object_get(x, "message"));
            const char *code = json_string_value(json_object_get(x, "code"));
            if (b.len) sbuf_add(&b, "; ");
            sbuf_add(&b, m ? m : "unknown error");
            if (code) sbuf_addf(&b, " (%s)", code);
        }
    } else if (json_is_object(err) && json_object_size(err) > 0) {
        const char *m = json_string_value(json_object_get(err, "message"));
        json_t *code = json_object_get(err, "code");
        sbuf_add(&b, m && m[0] ? m : "unknown error");
        if (json_is_integer(code)) sbuf_addf(&b, " (code %lld)", (long long)json_integer_value(code));
    }
    if (!b.len && sh == SHAPE_CONTAINER) {
        const char *sm = json_string_value(json_object_get(op, "statusMessage"));
        if (sm && sm[0]) sbuf_add(&b, sm);
    }
    return b.len ? sbuf_steal(&b) : NULL;
}

int gcp_wait_op(gcp_client_t *c, const char *api, const json_t *op, gcp_progress_fn progress, void *ud,
                json_t **result, perr_t *e) {
    if (result) *result = NULL;
    if (!json_is_object(op)) {
        perr_set(e, "", "%s: the operation is not a JSON object", api);
        return -1;
    }
    shape_t sh = shape_of(api, op);
    json_t *cur = json_deep_copy(op);
    const char *n0 = json_string_value(json_object_get(op, "name"));
    char *name = xstrdup(n0 ? n0 : "?");
    bool emu = gcp_http_endpoint(c) != NULL;
    long delay = emu ? 50 : 1000, max_delay = emu ? 500 : 10000;
    char last[64] = "";
    char *papi = NULL, *ppath = NULL;
    int not_found = 0, rc = -1;
    while (!op_done(sh, cur)) {
        const char *st = sh == SHAPE_LRO ? "RUNNING" : json_string_value(json_object_get(cur, "status"));
        if (!st) st = "RUNNING";
        if (strcmp(st, last) != 0) {
            snprintf(last, sizeof last, "%s", st);
            if (progress) progress(ud, st);
        }
        if (!papi && poll_target(c, sh, api, cur, &papi, &ppath, e) < 0) goto out;
        if (gcp_http_sleep(c, delay) < 0) {
            perr_set(e, "", "waiting for %s operation %s: interrupted", api, name);
            goto out;
        }
        delay = delay * 3 / 2 > max_delay ? max_delay : delay * 3 / 2;
        gcp_resp_t r;
        if (gcp_call(c, "GET", papi, ppath, NULL, &r, e) < 0) {
            perr_wrap(e, "waiting for %s operation %s", api, name);
            goto out;
        }
        if (r.status == 404 && ++not_found <= MAX_NOT_FOUND) {
            gcp_resp_free(&r);
            continue;
        }
        if (r.status != 200 || !json_is_object(r.body)) {
            gcp_resp_error(&r, "GET", ppath, e);
            perr_wrap(e, "waiting for %s operation %s", api, name);
            gcp_resp_free(&r);
            goto out;
        }
        json_decref(cur);
        cur = json_incref(r.body);
        gcp_resp_free(&r);
    }
    if (progress && strcmp(last, "DONE") != 0) progress(ud, "DONE");
    char *msg = op_error(sh, cur);
    if (msg) {
        perr_set(e, "", "%s operation %s failed: %s", api, name, msg);
        free(msg);
        goto out;
    }
    rc = 0;
    if (result) {
        *result = cur;
        cur = NULL;
    }
out:
    json_decref(cur);
    free(papi);
    free(ppath);
    free(name);
    return rc;
}
