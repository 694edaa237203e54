/* gcp_call.c: the calls every GCP type makes: one request with the
 * per-API busy rule retried (gcp_api.c says when an API is busy), GET with
 * 404 as "gone", operation waits that checkpoint the operation first, and
 * the cached project-number lookup. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "providers/gcp/gcp_api.h"
#include "providers/gcp/gcp_res.h"

void gcp_fail(rctx_t *c, const gcp_resp_t *r, const char *method, const char *url) {
    gcp_resp_error(r, method, url, c->err);
    snprintf(c->err->where, sizeof c->err->where, "%s", c->addr ? c->addr : "");
}

int gcp_sleep(rctx_t *c, int ms) {
    while (ms > 0) {
        if (c->cancel && *c->cancel) {
            perr_set(c->err, c->addr ? c->addr : "", "interrupted");
            return -1;
        }
        int step = ms > 100 ? 100 : ms;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
    return 0;
}

static int is_busy(const char *api, const gcp_resp_t *r) {
    const gcp_api_traits_t *A = gcp_api_traits(api);
    return A->busy && A->busy(r);
}

int gcp_call_busy(rctx_t *c, const char *method, const char *api, const char *url, const json_t *body,
                  gcp_resp_t *resp) {
    gcp_prov_t *P = GCP_PROV(c);
    int delay = P->emulated ? 100 : 2000, cap = P->emulated ? 1000 : 15000;
    for (int attempt = 0;; attempt++) {
        memset(resp, 0, sizeof *resp);
        if (gcp_call(P->client, method, api, url, body, resp, c->err) < 0) return -1;
        if (!is_busy(api, resp) || attempt >= 20) return 0;
        if (c->progress) c->progress(c->ud, c->addr, "busy with another operation; retrying");
        gcp_resp_free(resp);
        int jitter = rand() % (delay / 2 + 1);
        if (gcp_sleep(c, delay + jitter) < 0) {
            memset(resp, 0, sizeof *resp);
            return -1;
        }
        delay = delay * 2 > cap ? cap : delay * 2;
    }
}

int gcp_call_ok(rctx_t *c, const char *method, const char *api, const char *url, const json_t *body) {
    gcp_resp_t r = {0};
    int rc = gcp_call(GCP_PROV(c)->client, method, api, url, body, &r, c->err);
    if (rc == 0 && (r.status < 200 || r.status >= 300)) {
        gcp_fail(c, &r, method, url);
        rc = -1;
    }
    gcp_resp_free(&r);
    return rc;
}

int gcp_call_wait(rctx_t *c, const char *method, const char *api, const char *url, const json_t *body,
                  int ok_404) {
    gcp_resp_t r = {0};
    int rc, lost = 0;
    /* A call whose answer was lost is sent again (these are setters and
     * deletes: the same body sets the same values); refused then for a
     * stale fingerprint (412, or 400 FAILED_PRECONDITION as GKE says), the
     * first attempt was carried out with this very body. */
    for (int attempt = 0;; attempt++) {
        rc = gcp_call_busy(c, method, api, url, body, &r);
        if (rc == 0 || !r.maybe_applied || attempt >= 6) break;
        lost = 1;
        gcp_resp_free(&r);
        perr_clear(c->err);
        if (gcp_sleep(c, (GCP_PROV(c)->emulated ? 50 : 500) << attempt) < 0) return -1;
    }
    if (rc == 0 && (lost || r.earlier_maybe_applied) &&
        (r.status == 412 || (r.status == 400 && !strcmp(r.error_status, "FAILED_PRECONDITION")))) {
        gcp_resp_free(&r);
        return 0;
    }
    if (rc == 0 && r.status == 404 && ok_404)
        rc = 0;
    else if (rc == 0 && (r.status < 200 || r.status >= 300)) {
        gcp_fail(c, &r, method, url);
        rc = -1;
    } else if (rc == 0)
        rc = gcp_wait(c, api, r.body);
    gcp_resp_free(&r);
    return rc;
}

int gcp_get(rctx_t *c, const char *api, const char *url, json_t **out) {
    gcp_resp_t r = {0};
    *out = NULL;
    if (gcp_call(GCP_PROV(c)->client, "GET", api, url, NULL, &r, c->err) < 0) {
        gcp_resp_free(&r);
        return -1;
    }
    int rc = 0;
    if (r.status == 404)
        ;
    else if (!gcp_resp_ok(&r)) {
        gcp_fail(c, &r, "GET", url);
        rc = -1;
    } else
        *out = r.body ? json_incref(r.body) : json_object();
    gcp_resp_free(&r);
    return rc;
}

static void progress_adapter(void *ud, const char *msg) {
    rctx_t *c = ud;
    if (c->progress) c->progress(c->ud, c->addr, msg);
}

int gcp_wait(rctx_t *c, const char *op_api, const json_t *op) {
    if (!op_api || !op) return 0;
    /* Resuming: the operation is already in state (and op may point into
     * c->resume, which a new checkpoint could replace). */
    int resumed = c->resume && json_object_get(c->resume, "operation") == op;
    if (c->checkpoint && !resumed) {
        json_t *data = json_pack("{s:O,s:s}", "operation", op, "api", op_api);
        c->checkpoint(c->ud, c->addr, data);
        json_decref(data);
    }
    if (gcp_wait_op(GCP_PROV(c)->client, op_api, op, progress_adapter, c, NULL, c->err) < 0) {
        snprintf(c->err->where, sizeof c->err->where, "%s", c->addr ? c->addr : "");
        return -1;
    }
    return 0;
}

char *gcp_project_number(rctx_t *c, const char *project) {
    gcp_prov_t *P = GCP_PROV(c);
    pthread_mutex_lock(&P->num_lock);
    const char *cached = json_string_value(json_object_get(P->project_numbers, project));
    char *num = cached ? xstrdup(cached) : NULL;
    pthread_mutex_unlock(&P->num_lock);
    if (num) return num;
    if (strspn(project, "0123456789") == strlen(project)) return xstrdup(project);
    char *url = xasprintf("v1/projects/%s", project);
    json_t *p = NULL;
    if (gcp_get(c, "cloudresourcemanager", url, &p) == 0 && p) {
        const char *n = json_string_value(json_object_get(p, "projectNumber"));
        if (n) {
            num = xstrdup(n);
            pthread_mutex_lock(&P->num_lock);
            json_object_set_new(P->project_numbers, project, json_string(n));
            pthread_mutex_unlock(&P->num_lock);
        }
    } else if (!p && c->err->msg[0] == 0)
        perr_set(c->err, c->addr, "project %s not found", project);
    if (!num && !c->err->msg[0]) perr_set(c->err, c->addr, "project %s has no projectNumber", project);
    json_decref(p);
    free(url);
    return num;
}
