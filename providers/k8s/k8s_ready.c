/* k8s_ready.c: readiness after a write: rollouts complete, CRDs
 * Established, Jobs complete, conditions true; polled until wait_timeout
 * with a progress line. */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jpath.h"
#include "core/ref.h"
#include "core/rtype.h"
#include "transport/gcp_http.h"
#include "transport/gcp_log.h"
#include "providers/k8s/k8s.h"
#include "providers/k8s/k8s_manifest.h"
#include "providers/k8s/k8s_yaml.h"
#include "transport/ssh.h"
#include "providers/k8s/k8s_int.h"

/* ---- readiness ------------------------------------------------------------------ */

static json_int_t jint(const json_t *o, const char *path, json_int_t dflt) {
    json_t *v = jpath_get(o, path);
    return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static const json_t *condition(const json_t *obj, const char *type) {
    json_t *cs = jpath_get(obj, "status.conditions"), *x;
    size_t i;
    json_array_foreach(cs, i, x) if (k8s_jstr(x, "type") && !strcmp(k8s_jstr(x, "type"), type)) return x;
    return NULL;
}

static void conditions_text(const json_t *obj, sbuf_t *b) {
    json_t *cs = jpath_get(obj, "status.conditions"), *x;
    size_t i;
    if (!json_array_size(cs)) {
        sbuf_add(b, "; no conditions reported");
        return;
    }
    sbuf_add(b, "; conditions:");
    json_array_foreach(cs, i, x) {
        sbuf_addf(b, " %s=%s", k8s_jstr(x, "type") ?: "?", k8s_jstr(x, "status") ?: "?");
        if (k8s_jstr(x, "reason") || k8s_jstr(x, "message"))
            sbuf_addf(b, " (%s%s%s)", k8s_jstr(x, "reason") ?: "", k8s_jstr(x, "message") ? ": " : "",
                      k8s_jstr(x, "message") ?: "");
    }
}

/* 1 ready, 0 not yet (msg says why), -1 failed for good (msg says why). */
static int ready(const char *kind, const json_t *o, char *msg, size_t n) {
    json_int_t gen = jint(o, "metadata.generation", 0), og = jint(o, "status.observedGeneration", 0);
    if (!strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet")) {
        json_int_t want = jint(o, "spec.replicas", 1);
        json_int_t upd = jint(o, "status.updatedReplicas", 0);
        json_int_t av =
            jint(o, !strcmp(kind, "Deployment") ? "status.availableReplicas" : "status.readyReplicas", 0);
        const json_t *pc = condition(o, "Progressing");
        if (pc && k8s_jstr(pc, "reason") && !strcmp(k8s_jstr(pc, "reason"), "ProgressDeadlineExceeded")) {
            snprintf(msg, n, "rollout failed: %s", k8s_jstr(pc, "message") ?: "progress deadline exceeded");
            return -1;
        }
        if (og < gen) {
            snprintf(msg, n, "waiting for rollout: generation %lld not yet observed", (long long)gen);
            return 0;
        }
        if (upd < want || av < want) {
            snprintf(msg, n, "waiting for rollout: %lld/%lld replicas %s, %lld updated", (long long)av,
                     (long long)want, !strcmp(kind, "Deployment") ? "available" : "ready", (long long)upd);
            return 0;
        }
        return 1;
    }
    if (!strcmp(kind, "DaemonSet")) {
        json_int_t want = jint(o, "status.desiredNumberScheduled", -1);
        json_int_t av = jint(o, "status.numberAvailable", 0),
                   upd = jint(o, "status.updatedNumberScheduled", 0);
        if (og < gen || want < 0) {
            snprintf(msg, n, "waiting for rollout: generation %lld not yet observed", (long long)gen);
            return 0;
        }
        if (av < want || upd < want) {
            snprintf(msg, n, "waiting for rollout: %lld/%lld pods available", (long long)av, (long long)want);
            return 0;
        }
        return 1;
    }
    if (!strcmp(kind, "CustomResourceDefinition")) {
        const json_t *ec = condition(o, "Established");
        if (ec && k8s_jstr(ec, "status") && !strcmp(k8s_jstr(ec, "status"), "True")) return 1;
        snprintf(msg, n, "waiting for the CRD to be Established");
        return 0;
    }
    if (!strcmp(kind, "Job")) {
        const json_t *fc = condition(o, "Failed");
        if (fc && k8s_jstr(fc, "status") && !strcmp(k8s_jstr(fc, "status"), "True")) {
            snprintf(msg, n, "job failed: %s", k8s_jstr(fc, "message") ?: k8s_jstr(fc, "reason") ?: "");
            return -1;
        }
        const json_t *cc = condition(o, "Complete");
        if (cc && k8s_jstr(cc, "status") && !strcmp(k8s_jstr(cc, "status"), "True")) return 1;
        snprintf(msg, n, "waiting for the job to complete: %lld succeeded",
                 (long long)jint(o, "status.succeeded", 0));
        return 0;
    }
    if (!strcmp(kind, "Namespace")) {
        const char *ph = json_string_value(jpath_get(o, "status.phase"));
        if (!ph || !strcmp(ph, "Active")) return 1;
        snprintf(msg, n, "waiting for the namespace: phase %s", ph);
        return 0;
    }
    return 1;
}

void k8s_sleep_ms(int64_t ms, volatile sig_atomic_t *cancel) {
    while (ms > 0 && !(cancel && *cancel)) {
        int64_t s = ms > 100 ? 100 : ms;
        usleep((useconds_t)(s * 1000));
        ms -= s;
    }
}

/* Polls until ready; *final gets the last object read (new reference). */
int k8s_wait_ready(rctx_t *c, target_t *t, const char *path, const json_t *desired, json_t **final) {
    int64_t timeout_ms = (int64_t)(json_is_number(json_object_get(desired, "wait_timeout"))
                                       ? json_number_value(json_object_get(desired, "wait_timeout")) * 1000
                                       : DEFAULT_WAIT_S * 1000);
    int64_t start = util_now_ms(), delay = t->P->endpoint ? 50 : 1000;
    char msg[512] = "", last[512] = "";
    for (;;) {
        kresp_t r;
        if (k8s_kcall(t->P, t->conn, t->via, "GET", path, NULL, NULL, &r, c->cancel, c->err) != 0) return -1;
        if (r.status != 200 || !json_is_object(r.body)) {
            k8s_kerr(&r, "GET", path, c->err);
            k8s_kresp_free(&r);
            return -1;
        }
        int rd = ready(t->kind, r.body, msg, sizeof msg);
        if (rd != 0) {
            if (rd < 0) {
                sbuf_t b = {0};
                sbuf_addf(&b, "%s %s%s%s not ready: %s", t->kind, t->ns, *t->ns ? "/" : "", t->name, msg);
                conditions_text(r.body, &b);
                perr_set(c->err, "", "%s", b.s);
                sbuf_free(&b);
                k8s_kresp_free(&r);
                return -1;
            }
            json_decref(*final);
            *final = json_incref(r.body);
            k8s_kresp_free(&r);
            return 0;
        }
        if (c->progress && strcmp(msg, last)) c->progress(c->ud, c->addr, msg);
        snprintf(last, sizeof last, "%s", msg);
        if (c->cancel && *c->cancel) {
            perr_set(c->err, "", "interrupted while %s", msg);
            k8s_kresp_free(&r);
            return -1;
        }
        if (util_now_ms() - start >= timeout_ms) {
            sbuf_t b = {0};
            sbuf_addf(&b, "timed out after %lld s: %s %s%s%s is not ready (%s)",
                      (long long)(timeout_ms / 1000), t->kind, t->ns, *t->ns ? "/" : "", t->name, msg);
            conditions_text(r.body, &b);
            perr_set(c->err, "", "%s", b.s);
            sbuf_free(&b);
            k8s_kresp_free(&r);
            return -1;
        }
        k8s_kresp_free(&r);
        k8s_sleep_ms(delay, c->cancel);
        delay = delay * 3 / 2 > (t->P->endpoint ? 500 : 5000) ? (t->P->endpoint ? 500 : 5000) : delay * 3 / 2;
    }
}
