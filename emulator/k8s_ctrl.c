/* k8s_ctrl.c: the emulated apiserver's simulated controllers: workloads
 * roll out, Jobs complete, CRDs become Established, namespaces and CRDs take
 * their objects with them when deleted, and every cluster starts with its
 * system namespaces (see emu_k8s.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "emulator/emu_k8s.h"

static json_t *cond(const char *type, const char *status, const char *reason, const char *msg) {
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", type, "status", status, "reason", reason, "message",
                     msg, "lastTransitionTime", emu_now(), "lastUpdateTime", emu_now());
}

/* Progressing of a Deployment whose Pods do not all run: True while within
 * progressDeadlineSeconds (scaled by --op-scale, as operation durations
 * are) of the rollout's start, then False ProgressDeadlineExceeded, which
 * is how kubectl and plinth learn a rollout failed.  Re-checks itself. */
static json_t *progressing(emu_t *emu, const char *key, json_t *o, const char *rs) {
    json_t *start = json_object_get(o, "plinth:progressStart");
    int64_t now = util_now_ms();
    if (!json_is_integer(start)) {
        start = json_integer(now);
        json_object_set_new(o, "plinth:progressStart", start);
    }
    json_t *pd = jpath_get(o, "spec.progressDeadlineSeconds");
    double scale = emu_cfg(emu)->op_scale > 0   ? emu_cfg(emu)->op_scale
                   : emu_cfg(emu)->op_scale < 0 ? 0.001
                                                : 1.0;
    int64_t deadline = (int64_t)((json_is_integer(pd) ? json_integer_value(pd) : 600) * 1000 * scale);
    int64_t left = json_integer_value(start) + deadline - now;
    char msg[400];
    if (left <= 0) {
        snprintf(msg, sizeof msg, "ReplicaSet \"%s\" has timed out progressing.", rs);
        return cond("Progressing", "False", "ProgressDeadlineExceeded", msg);
    }
    emu_after(emu, left + 1, emu_k8s_reconcile_timer, key);
    snprintf(msg, sizeof msg, "ReplicaSet \"%s\" is progressing.", rs);
    return cond("Progressing", "True", "ReplicaSetUpdated", msg);
}

static void deployment_status(emu_t *emu, const char *key, json_t *o, json_t *st, json_int_t n,
                              json_int_t ready) {
    json_object_set_new(st, "replicas", json_integer(n));
    json_object_set_new(st, "updatedReplicas", json_integer(n));
    json_object_set_new(st, "readyReplicas", json_integer(ready));
    json_object_set_new(st, "availableReplicas", json_integer(ready));
    if (ready < n)
        json_object_set_new(st, "unavailableReplicas", json_integer(n - ready));
    else
        json_object_del(st, "unavailableReplicas");
    if (!ready) json_object_del(st, "readyReplicas"), json_object_del(st, "availableReplicas");
    char rs[300];
    json_t *hash = jpath_get(o, "metadata.name");
    snprintf(rs, sizeof rs, "%s", json_string_value(hash) ?: "");
    if (ready >= n) {
        json_object_del(o, "plinth:progressStart");
        json_object_set_new(st, "conditions",
                            json_pack("[o,o]",
                                      cond("Available", "True", "MinimumReplicasAvailable",
                                           "Deployment has minimum availability."),
                                      cond("Progressing", "True", "NewReplicaSetAvailable",
                                           "ReplicaSet has successfully progressed.")));
    } else {
        json_object_set_new(st, "conditions",
                            json_pack("[o,o]",
                                      cond("Available", "False", "MinimumReplicasUnavailable",
                                           "Deployment does not have minimum availability."),
                                      progressing(emu, key, o, rs)));
    }
}

static void job_status(json_t *st, json_int_t n, json_int_t done) {
    if (!json_object_get(st, "startTime")) json_object_set_new(st, "startTime", json_string(emu_now()));
    json_object_set_new(st, "ready", json_integer(0));
    if (done < n) {
        json_object_set_new(st, "active", json_integer(n - done));
        json_object_set_new(st, "succeeded", json_integer(done));
        return;
    }
    json_object_del(st, "active");
    json_object_set_new(st, "succeeded", json_integer(n));
    json_object_set_new(st, "completionTime", json_string(emu_now()));
    json_object_set_new(st, "conditions",
                        json_pack("[o,o]",
                                  cond("SuccessCriteriaMet", "True", "CompletionsReached",
                                       "Reached expected number of succeeded pods"),
                                  cond("Complete", "True", "CompletionsReached",
                                       "Reached expected number of succeeded pods")));
}

static void crd_status(json_t *o, json_t *st) {
    json_t *names = jpath_get(o, "spec.names");
    json_object_set_new(st, "acceptedNames", names ? json_deep_copy(names) : json_object());
    json_object_set_new(st, "conditions",
                        json_pack("[o,o]", cond("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                                  cond("Established", "True", "InitialNamesAccepted",
                                       "the initial names have been accepted")));
    json_t *sv = json_array(), *v;
    size_t i;
    json_array_foreach(jpath_get(o, "spec.versions"), i, v) if (json_is_true(json_object_get(v, "storage")))
        json_array_append(sv, json_object_get(v, "name"));
    json_object_set_new(st, "storedVersions", sv);
}

/* Conditions that did not change keep their times (a no-op reconcile
 * writes nothing). */
static void keep_transition_times(const json_t *old, json_t *st) {
    json_t *c, *o;
    size_t i, j;
    json_array_foreach(json_object_get(st, "conditions"), i, c) {
        json_array_foreach(json_object_get(old, "conditions"), j, o) {
            if (json_equal(json_object_get(c, "type"), json_object_get(o, "type")) &&
                json_equal(json_object_get(c, "status"), json_object_get(o, "status")) &&
                json_equal(json_object_get(c, "reason"), json_object_get(o, "reason"))) {
                if (json_object_get(o, "lastTransitionTime"))
                    json_object_set(c, "lastTransitionTime", json_object_get(o, "lastTransitionTime"));
                if (json_object_get(o, "lastUpdateTime"))
                    json_object_set(c, "lastUpdateTime", json_object_get(o, "lastUpdateTime"));
            }
        }
    }
    if (json_object_get(st, "completionTime") && json_object_get(old, "completionTime"))
        json_object_set(st, "completionTime", json_object_get(old, "completionTime"));
}

void emu_k8s_reconcile(emu_t *emu, const char *key) {
    json_t *cur = emu_get(emu, key);
    if (!cur || !emu_k8s_needs_controller(key) || jpath_get(cur, "metadata.deletionTimestamp")) return;
    json_t *o = json_deep_copy(cur);
    json_t *gen = jpath_get(o, "metadata.generation");
    json_int_t g = json_is_integer(gen) ? json_integer_value(gen) : 1;
    json_t *st = json_object_get(o, "status");
    if (!json_is_object(st)) {
        st = json_object();
        json_object_set_new(o, "status", st);
    }
    json_int_t want = 0, ready = 0;
    if (!emu_k8s_key_is(key, "apiextensions.k8s.io/customresourcedefinitions"))
        ready = emu_k8s_workload_pods(emu, key, o, &want);
    if (emu_k8s_key_is(key, "apps/deployments")) {
        json_object_set_new(st, "observedGeneration", json_integer(g));
        deployment_status(emu, key, o, st, want, ready);
    } else if (emu_k8s_key_is(key, "apps/statefulsets") || emu_k8s_key_is(key, "apps/replicasets")) {
        json_object_set_new(st, "observedGeneration", json_integer(g));
        json_object_set_new(st, "replicas", json_integer(want));
        json_object_set_new(st, "readyReplicas", json_integer(ready));
        json_object_set_new(st, "availableReplicas", json_integer(ready));
        if (emu_k8s_key_is(key, "apps/statefulsets")) {
            json_object_set_new(st, "updatedReplicas", json_integer(want));
            json_object_set_new(st, "currentReplicas", json_integer(want));
            json_object_set_new(st, "currentRevision", json_string("rev-1"));
            json_object_set_new(st, "updateRevision", json_string("rev-1"));
        }
    } else if (emu_k8s_key_is(key, "apps/daemonsets")) {
        json_object_set_new(st, "observedGeneration", json_integer(g));
        const char *f[] = {"desiredNumberScheduled", "currentNumberScheduled", "updatedNumberScheduled"};
        for (size_t i = 0; i < 3; i++)
            json_object_set_new(st, f[i], json_integer(want));
        json_object_set_new(st, "numberReady", json_integer(ready));
        json_object_set_new(st, "numberAvailable", json_integer(ready));
        json_object_set_new(st, "numberMisscheduled", json_integer(0));
    } else if (emu_k8s_key_is(key, "batch/jobs")) {
        job_status(st, want, ready);
    } else {
        crd_status(o, st);
    }
    char *cid = xstrndup(key + 4, strcspn(key + 4, "/"));
    emu_k8s_endpoints(emu, cid, emu_k8s_sget(o, "metadata.namespace"));
    free(cid);
    keep_transition_times(json_object_get(cur, "status"), st);
    if (json_equal(o, cur)) {
        json_decref(o);
        return;
    }
    emu_k8s_bump_rv(emu, o);
    emu_k8s_put(emu, key, o);
}

void emu_k8s_reconcile_timer(emu_t *emu, const char *key) {
    emu_k8s_reconcile(emu, key);
}

int emu_k8s_needs_controller(const char *key) {
    return emu_k8s_key_is(key, "apps/deployments") || emu_k8s_key_is(key, "apps/statefulsets") ||
           emu_k8s_key_is(key, "apps/replicasets") || emu_k8s_key_is(key, "apps/daemonsets") ||
           emu_k8s_key_is(key, "batch/jobs") ||
           emu_k8s_key_is(key, "apiextensions.k8s.io/customresourcedefinitions");
}

/* Defaults and immediate status when an object is first stored. */
void emu_k8s_on_create(emu_t *emu, const char *cid, const emu_ktype_t *kt, json_t *o) {
    (void)emu;
    (void)cid;
    if (!*kt->group && !strcmp(kt->resource, "namespaces")) {
        json_object_set_new(o, "status", json_pack("{s:s}", "phase", "Active"));
        json_t *spec = json_object_get(o, "spec");
        if (!spec) json_object_set_new(o, "spec", json_pack("{s:[s]}", "finalizers", "kubernetes"));
        json_t *labels = jpath_get(o, "metadata.labels");
        if (!json_is_object(labels)) {
            labels = json_object();
            json_object_set_new(json_object_get(o, "metadata"), "labels", labels);
        }
        json_object_set(labels, "kubernetes.io/metadata.name", jpath_get(o, "metadata.name"));
    } else if (!*kt->group && !strcmp(kt->resource, "services")) {
        json_t *spec = json_object_get(o, "spec");
        if (!json_is_object(spec)) {
            spec = json_object();
            json_object_set_new(o, "spec", spec);
        }
        if (!json_object_get(spec, "clusterIP")) {
            char h[5], ip[32];
            util_random_hex(h, 2);
            unsigned v = (unsigned)strtoul(h, NULL, 16);
            snprintf(ip, sizeof ip, "10.96.%u.%u", (v >> 8) & 0xff, 1 + (v & 0xff) % 250);
            json_object_set_new(spec, "clusterIP", json_string(ip));
            json_object_set_new(spec, "clusterIPs", json_pack("[s]", ip));
        }
        if (!json_object_get(spec, "type")) json_object_set_new(spec, "type", json_string("ClusterIP"));
        if (!json_object_get(spec, "sessionAffinity"))
            json_object_set_new(spec, "sessionAffinity", json_string("None"));
    } else if (!*kt->group && !strcmp(kt->resource, "pods")) {
        emu_k8s_pod_start(emu, cid, o);
    } else if (!strcmp(kt->group, "apps") && !strcmp(kt->resource, "deployments")) {
        json_t *spec = json_object_get(o, "spec");
        if (json_is_object(spec)) {
            if (!json_object_get(spec, "replicas")) json_object_set_new(spec, "replicas", json_integer(1));
            if (!json_object_get(spec, "revisionHistoryLimit"))
                json_object_set_new(spec, "revisionHistoryLimit", json_integer(10));
            if (!json_object_get(spec, "progressDeadlineSeconds"))
                json_object_set_new(spec, "progressDeadlineSeconds", json_integer(600));
        }
    }
}

static void cascade(emu_t *emu, const char *key) {
    /* A namespace takes its objects; a CRD takes its custom resources. */
    json_t *o = emu_get(emu, key);
    if (!o) return;
    const char *rest = key + 4; /* after "k8s/" */
    const char *slash = strchr(rest, '/');
    if (!slash) return;
    char *cid = xstrndup(rest, (size_t)(slash - rest));
    json_t *victims = json_array();
    if (emu_k8s_key_is(key, "core/namespaces")) {
        const char *ns = emu_k8s_sget(o, "metadata.name");
        json_t *keys = emu_keys(emu, "k8s/"), *k;
        size_t i;
        char *pre = xasprintf("k8s/%s/", cid);
        json_array_foreach(keys, i, k) {
            const char *kk = json_string_value(k);
            if (strncmp(kk, pre, strlen(pre))) continue;
            /* k8s/cid/group/resource/ns/name */
            const char *p = kk + strlen(pre);
            for (int s = 0; s < 2 && p; s++) {
                p = strchr(p, '/');
                if (p) p++;
            }
            if (p && !strncmp(p, ns, strlen(ns)) && p[strlen(ns)] == '/') json_array_append(victims, k);
        }
        free(pre);
        json_decref(keys);
    } else if (emu_k8s_key_is(key, "apps/deployments") || emu_k8s_key_is(key, "apps/replicasets") ||
               emu_k8s_key_is(key, "apps/statefulsets") || emu_k8s_key_is(key, "apps/daemonsets") ||
               emu_k8s_key_is(key, "batch/jobs")) {
        /* the garbage collector: what the workload owns goes with it */
        const char *uid = emu_k8s_sget(o, "metadata.uid"), *ns = emu_k8s_sget(o, "metadata.namespace");
        static const char *const owned[] = {"apps/replicasets", "core/pods", NULL};
        for (const char *const *r = owned; uid && ns && *r; r++) {
            char *pre = xasprintf("k8s/%s/%s/%s/", cid, *r, ns);
            json_t *keys = emu_keys(emu, pre), *k;
            size_t i;
            json_array_foreach(keys, i, k) {
                json_t *c = emu_get(emu, json_string_value(k)), *ref;
                size_t j;
                json_array_foreach(jpath_get(c, "metadata.ownerReferences"), j, ref) {
                    if (!strcmp(json_string_value(json_object_get(ref, "uid")) ?: "", uid))
                        json_array_append(victims, k);
                }
            }
            json_decref(keys);
            free(pre);
        }
    } else if (emu_k8s_key_is(key, "apiextensions.k8s.io/customresourcedefinitions")) {
        const char *group = emu_k8s_sget(o, "spec.group"), *plural = emu_k8s_sget(o, "spec.names.plural");
        if (group && plural) {
            char *pre = xasprintf("k8s/%s/%s/%s/", cid, group, plural);
            json_t *keys = emu_keys(emu, pre);
            json_array_extend(victims, keys);
            json_decref(keys);
            free(pre);
        }
    }
    size_t i;
    json_t *k;
    json_array_foreach(victims, i, k) emu_k8s_delete_key(emu, json_string_value(k));
    json_decref(victims);
    free(cid);
}

void emu_k8s_delete_key(emu_t *emu, const char *key) {
    cascade(emu, key);
    emu_del(emu, key);
}

void emu_k8s_finish_delete(emu_t *emu, const char *key) {
    json_t *o = emu_get(emu, key);
    if (o && jpath_get(o, "metadata.deletionTimestamp")) emu_k8s_delete_key(emu, key);
}

void emu_k8s_ensure_namespaces(emu_t *emu, const char *cid) {
    static const char *const names[] = {"default", "kube-system", "kube-public", "kube-node-lease", NULL};
    char *mark = xasprintf("k8s/%s/_initialized", cid);
    int have = emu_get(emu, mark) != NULL;
    if (have) {
        free(mark);
        return;
    }
    for (const char *const *n = names; *n; n++) {
        char *key = xasprintf("k8s/%s/core/namespaces/_/%s", cid, *n);
        char *uid = emu_k8s_uid();
        json_t *o = json_pack("{s:{s:s,s:s,s:i,s:s,s:{s:s}},s:{s:[s]},s:{s:s}}", "metadata", "name", *n,
                              "uid", uid, "generation", 1, "creationTimestamp", emu_now(), "labels",
                              "kubernetes.io/metadata.name", *n, "spec", "finalizers", "kubernetes", "status",
                              "phase", "Active");
        emu_k8s_bump_rv(emu, o);
        emu_put(emu, key, o);
        free(uid);
        free(key);
    }
    emu_put(emu, mark, json_true());
    free(mark);
}

void emu_k8s_resume(emu_t *emu) {
    /* Timers are not persisted: finish what was in flight. */
    json_t *keys = emu_keys(emu, "k8s/"), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        json_t *o = emu_get(emu, key);
        if (o && jpath_get(o, "metadata.deletionTimestamp")) {
            if (emu_get(emu, key)) emu_k8s_delete_key(emu, key);
        } else if (o && emu_k8s_needs_controller(key)) {
            emu_k8s_reconcile(emu, key);
        }
    }
    json_decref(keys);
}

void emu_k8s_reconcile_cluster(emu_t *emu, const char *cid) {
    char *pre = xasprintf("k8s/%s/", cid);
    json_t *keys = emu_keys(emu, pre), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        if (emu_k8s_needs_controller(key) &&
            !emu_k8s_key_is(key, "apiextensions.k8s.io/customresourcedefinitions"))
            emu_k8s_reconcile(emu, key);
    }
    json_decref(keys);
    free(pre);
}
