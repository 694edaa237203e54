/* gcp_update.c: in-place updates of table-driven GCP types: the changed
 * top-level fields sent with the type's update verb (PATCH, PATCH with
 * updateMask, compute's fingerprinted PATCH and setLabels, Cloud SQL's
 * settingsVersion), then the resource read back. */
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_res.h"
#include "providers/gcp/gcp_iam.h"

/* Top-level fields touched by the changed paths, minus plinth-only fields. */
static void top_fields(rctx_t *c, const strlist_t *changed, strlist_t *out) {
    for (size_t i = 0; i < changed->n; i++) {
        const char *p = changed->v[i];
        size_t k = strcspn(p, ".");
        char *top = xstrndup(p, k);
        if (!gcp_is_extra(c->type, top) && !strlist_has(out, top))
            strlist_add_own(out, top);
        else
            free(top);
    }
}

static int send_update(rctx_t *c, const char *method, const char *url, const json_t *body) {
    const gcp_type_t *T = GCP_TYPE(c);
    gcp_resp_t r = {0};
    int rc = -1;
    bool lost = false;
    for (int attempt = 0;; attempt++) {
        if (gcp_call_busy(c, method, T->api, url, body, &r) == 0) break;
        /* A setter whose answer was lost: sending the same body again sets
         * the same values (the change planned), so resend. */
        if (!r.maybe_applied || attempt >= 6) goto out;
        lost = true;
        gcp_resp_free(&r);
        perr_clear(c->err);
        if (gcp_sleep(c, (GCP_PROV(c)->emulated ? 50 : 500) << attempt) < 0) goto out;
    }
    if (r.earlier_maybe_applied) lost = true;
    /* Resent after a lost answer and refused for a stale fingerprint (412,
     * or GKE's 400 FAILED_PRECONDITION "fingerprint mismatch"): the
     * first attempt was carried out (it consumed the fingerprint it was
     * sent with), with this very body. */
    if (lost && (r.status == 412 || (r.status == 400 && !strcmp(r.error_status, "FAILED_PRECONDITION")))) {
        rc = 0;
        goto out;
    }
    if (!gcp_resp_ok(&r)) {
        gcp_fail(c, &r, method, url);
        goto out;
    }
    rc = T->op_api && r.body && (json_object_get(r.body, "status") || json_object_get(r.body, "done"))
             ? gcp_wait(c, T->op_api, r.body)
             : 0;
out:
    gcp_resp_free(&r);
    return rc;
}

static json_t *changed_body(const json_t *desired, const strlist_t *tops) {
    json_t *b = json_object();
    for (size_t i = 0; i < tops->n; i++) {
        json_t *v = json_object_get(desired, tops->v[i]);
        json_object_set_new(b, tops->v[i], v ? json_deep_copy(v) : json_null());
    }
    return b;
}

/* "metadata.fingerprint" -> "fingerprint". */
static const char *last_dotted(const char *p) {
    const char *d = strrchr(p, '.');
    return d ? d + 1 : p;
}

/* The fields with their own verb (T->verbs): each changed one is sent
 * with POST <url>/<verb> and taken out of tops.  *sent counts the calls. */
static int send_verbs(rctx_t *c, const char *url, const json_t *desired, const json_t *live, strlist_t *tops,
                      int *sent) {
    const gcp_type_t *T = GCP_TYPE(c);
    for (const gcp_verb_t *v = T->verbs; v && v->path; v++) {
        if (!strlist_has(tops, v->path)) continue;
        json_t *val = json_object_get(desired, v->path);
        json_t *b = v->bare ? (val ? json_deep_copy(val) : json_object()) : json_object();
        if (!v->bare) json_object_set_new(b, v->path, val ? json_deep_copy(val) : json_object());
        json_t *fp = v->fingerprint ? jpath_get(live, v->fingerprint) : NULL;
        if (fp) json_object_set(b, v->bare ? "fingerprint" : last_dotted(v->fingerprint), fp);
        char *u = xasprintf("%s/%s", url, v->verb);
        int rc = send_update(c, "POST", u, b);
        free(u);
        json_decref(b);
        if (rc < 0) return -1;
        (*sent)++;
        strlist_t rest = {0};
        for (size_t i = 0; i < tops->n; i++)
            if (strcmp(tops->v[i], v->path) != 0) strlist_add(&rest, tops->v[i]);
        strlist_free(tops);
        *tops = rest;
    }
    return 0;
}

/* PATCH of the changed fields with the resource's fingerprint; a stale
 * fingerprint (412) is re-read and sent once more. */
static int update_compute(rctx_t *c, const char *url, const char *id, const json_t *desired,
                          const json_t *live, strlist_t *tops) {
    const gcp_type_t *T = GCP_TYPE(c);
    if (!tops->n) return 0;
    json_t *b = changed_body(desired, tops);
    if (json_object_get(desired, "name")) json_object_set(b, "name", json_object_get(desired, "name"));
    json_t *cur = json_incref((json_t *)live);
    int rc = -1;
    bool was_lost = false; /* an attempt may have been carried out, its answer lost */
    for (int attempt = 0; attempt < 2; attempt++) {
        json_t *fp = json_object_get(cur, "fingerprint");
        if (fp) json_object_set(b, "fingerprint", fp);
        gcp_resp_t r = {0};
        if (gcp_call_busy(c, "PATCH", T->api, url, b, &r) < 0) {
            bool lost = r.maybe_applied;
            gcp_resp_free(&r);
            /* answer lost: re-read (for the fingerprint) and send again */
            if (lost && attempt == 0) {
                was_lost = true;
                perr_clear(c->err);
                json_decref(cur);
                cur = NULL;
                if (gcp_res_read(c, id, desired, &cur) < 0 || !cur) break;
                continue;
            }
            break;
        }
        if (r.earlier_maybe_applied) was_lost = true;
        if (r.status == 412 && was_lost) { /* the lost first attempt consumed the fingerprint: it landed */
            gcp_resp_free(&r);
            rc = 0;
            break;
        }
        if (r.status == 412 && attempt == 0) { /* stale fingerprint: re-read, resend once */
            gcp_resp_free(&r);
            json_decref(cur);
            cur = NULL;
            if (gcp_res_read(c, id, desired, &cur) < 0 || !cur) break;
            continue;
        }
        if (!gcp_resp_ok(&r)) {
            gcp_fail(c, &r, "PATCH", url);
            gcp_resp_free(&r);
            break;
        }
        rc = gcp_wait(c, T->op_api, r.body);
        gcp_resp_free(&r);
        break;
    }
    json_decref(cur);
    json_decref(b);
    return rc;
}

int gcp_res_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                   const strlist_t *changed, json_t **newlive) {
    const gcp_type_t *T = GCP_TYPE(c);
    *newlive = NULL;
    if (T->update) return T->update(c, id, desired, live, changed, newlive);
    if (T->iam) return gcp_iam_member_read(c, id, desired, newlive); /* every field is immutable */
    return gcp_res_update_std(c, id, desired, live, changed, newlive);
}

/* The changed fields (tops) sent with the type's update style. */
static int send_style(rctx_t *c, const char *url, const char *id, const json_t *desired, const json_t *live,
                      strlist_t *tops) {
    const gcp_type_t *T = GCP_TYPE(c);
    json_t *b = NULL;
    int rc = 0;
    switch (T->update_style) {
    case GCP_UPDATE_COMPUTE: rc = update_compute(c, url, id, desired, live, tops); break;
    case GCP_UPDATE_PATCH:
        b = changed_body(desired, tops);
        rc = send_update(c, "PATCH", url, b);
        break;
    case GCP_UPDATE_PATCH_MASK: {
        sbuf_t u = {0};
        sbuf_addf(&u, "%s%supdateMask=", url, strchr(url, '?') ? "&" : "?");
        for (size_t i = 0; i < tops->n; i++)
            sbuf_addf(&u, "%s%s", i ? "," : "", tops->v[i]);
        b = gcp_send_body(c, desired);
        if (T->prepare && T->prepare(c, desired, b) < 0) rc = -1;
        if (rc == 0) rc = send_update(c, "PATCH", u.s, b);
        sbuf_free(&u);
        break;
    }
    case GCP_UPDATE_MASK_BODY: {
        sbuf_t m = {0};
        sbuf_add(&m, "");
        for (size_t i = 0; i < tops->n; i++)
            sbuf_addf(&m, "%s%s", i ? "," : "", tops->v[i]);
        json_t *res = gcp_send_body(c, desired);
        if (T->prepare && T->prepare(c, desired, res) < 0) rc = -1;
        b = json_pack("{s:o,s:s}", T->update_wrap, res, "updateMask", m.s);
        if (rc == 0) rc = send_update(c, "PATCH", url, b);
        sbuf_free(&m);
        break;
    }
    case GCP_UPDATE_PUT:
        b = gcp_send_body(c, desired);
        if (T->prepare && T->prepare(c, desired, b) < 0) rc = -1;
        if (rc == 0) rc = send_update(c, "PUT", url, b);
        break;
    case GCP_UPDATE_SQL: {
        b = changed_body(desired, tops);
        json_t *sv = jpath_get(live, "settings.settingsVersion");
        json_t *settings = json_object_get(b, "settings");
        if (sv && json_is_object(settings)) json_object_set(settings, "settingsVersion", sv);
        rc = send_update(c, "PATCH", url, b);
        break;
    }
    default: break;
    }
    json_decref(b);
    return rc;
}

int gcp_res_update_std(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                       const strlist_t *changed, json_t **newlive) {
    const gcp_type_t *T = GCP_TYPE(c);
    *newlive = NULL;
    json_t *vars = gcp_id_vars(c, id);
    if (!vars) return -1;
    char *url = gcp_tmpl_fill(T->self, vars, c->err);
    strlist_t tops = {0};
    top_fields(c, changed, &tops);
    int rc = url ? 0 : -1, sent = 0;
    json_t *cur = json_incref((json_t *)live);
    if (rc == 0 && tops.n) rc = send_verbs(c, url, desired, live, &tops, &sent);
    if (rc == 0 && sent && tops.n) { /* the verbs moved the fingerprint: patch against a fresh read */
        json_decref(cur);
        cur = NULL;
        if ((rc = gcp_res_read(c, id, desired, &cur)) == 0 && !cur) {
            perr_set(c->err, c->addr, "%s disappeared during update", id);
            rc = -1;
        }
    }
    if (rc == 0 && tops.n && T->update_style != GCP_UPDATE_NONE)
        rc = send_style(c, url, id, desired, cur, &tops);
    json_decref(cur);
    if (rc == 0) {
        rc = gcp_res_read(c, id, desired, newlive);
        if (rc == 0 && !*newlive) {
            perr_set(c->err, c->addr, "%s disappeared during update", id);
            rc = -1;
        }
    }
    strlist_free(&tops);
    free(url);
    json_decref(vars);
    return rc;
}
