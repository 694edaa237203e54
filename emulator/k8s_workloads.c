/* k8s_workloads.c: the emulated cluster's workload controllers (see
 * emu_k8s.h): a Deployment owns one ReplicaSet per pod template
 * ("<name>-<hash>", older ones scaled away), ReplicaSets, StatefulSets
 * ("<name>-<i>") and Jobs own Pods, a DaemonSet one Pod per Node it
 * tolerates.  New Pods go through the scheduler (k8s_sched.c): a bound Pod
 * runs (a Job's completes), an unschedulable one stays Pending, and the
 * owner's status counts only the running ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "emulator/emu_k8s.h"

static char *cid_of(const char *key) {
    const char *rest = key + 4; /* "k8s/" */
    const char *slash = strchr(rest, '/');
    return slash ? xstrndup(rest, (size_t)(slash - rest)) : xstrdup(rest);
}

static json_t *owner_ref(const json_t *owner, const char *api, const char *kind) {
    return json_pack("{s:s,s:s,s:O,s:O,s:b,s:b}", "apiVersion", api, "kind", kind, "name",
                     jpath_get(owner, "metadata.name"), "uid", jpath_get(owner, "metadata.uid"), "controller",
                     1, "blockOwnerDeletion", 1);
}

/* 1 when obj's controller reference has uid. */
static int owned_by(const json_t *obj, const char *uid) {
    json_t *r;
    size_t i;
    json_array_foreach(jpath_get(obj, "metadata.ownerReferences"), i, r) {
        const char *u = json_string_value(json_object_get(r, "uid"));
        if (u && uid && !strcmp(u, uid)) return 1;
    }
    return 0;
}

/* A deep copy of v, or an empty object when v is NULL (new). */
static json_t *copy_or_empty(const json_t *v) {
    return v ? json_deep_copy(v) : json_object();
}

/* Keys (new array) of the objects below prefix owned by uid. */
static json_t *owned_keys(emu_t *emu, const char *prefix, const char *uid) {
    json_t *keys = emu_keys(emu, prefix), *k, *out = json_array();
    size_t i;
    json_array_foreach(keys, i, k) {
        if (owned_by(emu_get(emu, json_string_value(k)), uid)) json_array_append(out, k);
    }
    json_decref(keys);
    return out;
}

static void pod_running(json_t *pod, int job) {
    json_t *st = json_object_get(pod, "status");
    char ip[32];
    unsigned h = 0;
    for (const char *p = emu_k8s_sget(pod, "metadata.name"); p && *p; p++)
        h = h * 33 + (unsigned char)*p;
    snprintf(ip, sizeof ip, "10.4.%u.%u", (h >> 8) % 250, 2 + h % 250);
    json_object_set_new(st, "phase", json_string(job ? "Succeeded" : "Running"));
    json_object_set_new(st, "podIP", json_string(ip));
    json_object_set_new(st, "podIPs", json_pack("[{s:s}]", "ip", ip));
    json_object_set_new(st, "startTime", json_string(emu_now()));
    json_object_set_new(st, "qosClass", json_string("BestEffort"));
    const char *ready = job ? "False" : "True";
    json_object_set_new(st, "conditions",
                        json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "type", "PodScheduled",
                                  "status", "True", "type", "Initialized", "status", "True", "type",
                                  "ContainersReady", "status", ready, "type", "Ready", "status", ready));
    json_t *css = json_array(), *c;
    size_t i;
    json_array_foreach(jpath_get(pod, "spec.containers"), i, c) {
        json_t *state = job ? json_pack("{s:{s:i,s:s}}", "terminated", "exitCode", 0, "reason", "Completed")
                            : json_pack("{s:{s:s}}", "running", "startedAt", emu_now());
        json_array_append_new(css,
                              json_pack("{s:O,s:s,s:b,s:b,s:i,s:o}", "name", json_object_get(c, "name"),
                                        "image", json_string_value(json_object_get(c, "image")) ?: "",
                                        "ready", !job, "started", !job, "restartCount", 0, "state", state));
    }
    json_object_set_new(st, "containerStatuses", css);
}

/* A new Pod from template for owner, named name, scheduled and stored. */
static void pod_create(emu_t *emu, const char *cid, const char *ns, const char *name, const json_t *tmpl,
                       json_t *oref, const json_t *extra_labels, int job) {
    json_t *pod = json_pack("{s:{s:s,s:s},s:o,s:{}}", "metadata", "name", name, "namespace", ns, "spec",
                            copy_or_empty(json_object_get(tmpl, "spec")), "status");
    json_t *md = json_object_get(pod, "metadata");
    json_t *labels = copy_or_empty(jpath_get(tmpl, "metadata.labels"));
    json_object_update(labels, (json_t *)extra_labels);
    json_object_set_new(md, "labels", labels);
    if (jpath_get(tmpl, "metadata.annotations"))
        json_object_set(md, "annotations", jpath_get(tmpl, "metadata.annotations"));
    json_object_set_new(md, "ownerReferences", json_pack("[o]", oref));
    char *uid = emu_k8s_uid();
    json_object_set_new(md, "uid", json_string(uid));
    free(uid);
    json_object_set_new(md, "creationTimestamp", json_string(emu_now()));
    json_t *spec = json_object_get(pod, "spec");
    emu_set_default(spec, "restartPolicy", json_string(job ? "Never" : "Always"));
    emu_set_default(spec, "schedulerName", json_string("default-scheduler"));
    emu_set_default(spec, "serviceAccountName", json_string("default"));
    emu_set_default(spec, "dnsPolicy", json_string("ClusterFirst"));
    emu_set_default(spec, "terminationGracePeriodSeconds", json_integer(30));
    if (emu_k8s_schedule(emu, cid, pod)) pod_running(pod, job);
    char *key = xasprintf("k8s/%s/core/pods/%s/%s", cid, ns, name);
    emu_k8s_bump_rv(emu, pod);
    emu_k8s_put(emu, key, pod);
    free(key);
}

void emu_k8s_pod_start(emu_t *emu, const char *cid, json_t *pod) {
    json_t *spec = json_object_get(pod, "spec");
    if (!json_is_object(spec)) return;
    emu_set_default(spec, "restartPolicy", json_string("Always"));
    emu_set_default(spec, "schedulerName", json_string("default-scheduler"));
    emu_set_default(spec, "serviceAccountName", json_string("default"));
    emu_set_default(spec, "dnsPolicy", json_string("ClusterFirst"));
    emu_set_default(spec, "terminationGracePeriodSeconds", json_integer(30));
    if (!json_is_object(json_object_get(pod, "status"))) json_object_set_new(pod, "status", json_object());
    if (emu_k8s_schedule(emu, cid, pod)) pod_running(pod, 0);
}

/* Pending Pods are tried again (a node pool may have appeared); running ones counted. */
static json_int_t pods_ready(emu_t *emu, const char *cid, json_t *keys, int job) {
    json_int_t ready = 0;
    json_t *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        json_t *p = emu_get(emu, json_string_value(k));
        const char *ph = emu_k8s_sget(p, "status.phase");
        if (ph && !strcmp(ph, "Pending") && !emu_k8s_sget(p, "spec.nodeName")) {
            json_t *np = json_deep_copy(p);
            if (emu_k8s_schedule(emu, cid, np)) {
                pod_running(np, job);
                emu_k8s_bump_rv(emu, np);
                emu_k8s_put(emu, json_string_value(k), np);
            } else {
                json_decref(np);
            }
            p = emu_get(emu, json_string_value(k));
            ph = emu_k8s_sget(p, "status.phase");
        }
        if (ph && (!strcmp(ph, "Running") || !strcmp(ph, "Succeeded"))) ready++;
    }
    return ready;
}

/* Makes exactly want Pods owned by owner exist; names "<base>-<5 hex>", or
 * "<base>-<i>" when ordinal; extra_labels (stolen, may be NULL) added to
 * the template's.  Returns how many run. */
static json_int_t scale_pods(emu_t *emu, const char *cid, const json_t *owner, const char *api,
                             const char *kind, json_int_t want, json_t *extra_labels, int ordinal, int job) {
    const char *ns = emu_k8s_sget(owner, "metadata.namespace") ?: "default";
    const char *base = emu_k8s_sget(owner, "metadata.name") ?: "x";
    const json_t *tmpl = jpath_get(owner, "spec.template");
    char *prefix = xasprintf("k8s/%s/core/pods/%s/", cid, ns);
    json_t *keys = owned_keys(emu, prefix, emu_k8s_sget(owner, "metadata.uid"));
    while ((json_int_t)json_array_size(keys) > want) {
        size_t last = json_array_size(keys) - 1;
        emu_k8s_delete_key(emu, json_string_value(json_array_get(keys, last)));
        json_array_remove(keys, last);
    }
    for (json_int_t i = (json_int_t)json_array_size(keys); i < want; i++) {
        char name[300], h[8];
        util_random_hex(h, 3);
        h[5] = 0;
        if (ordinal)
            snprintf(name, sizeof name, "%s-%lld", base, (long long)i);
        else
            snprintf(name, sizeof name, "%s-%s", base, h);
        pod_create(emu, cid, ns, name, tmpl, owner_ref(owner, api, kind), extra_labels, job);
        char *k = xasprintf("%s%s", prefix, name);
        json_array_append_new(keys, json_string(k));
        free(k);
    }
    json_int_t ready = pods_ready(emu, cid, keys, job);
    json_decref(keys);
    json_decref(extra_labels);
    free(prefix);
    return ready;
}

static json_int_t replicas_of(const json_t *o) {
    json_t *r = jpath_get(o, "spec.replicas");
    return json_is_integer(r) ? json_integer_value(r) : 1;
}

/* The Deployment's ReplicaSet for its current template (created or
 * rescaled); other ReplicaSets it owns are removed with their Pods. */
static json_int_t deployment_pods(emu_t *emu, const char *cid, const json_t *d) {
    char rsname[300];
    const char *ns = emu_k8s_sget(d, "metadata.namespace") ?: "default";
    char *t = json_dumps(jpath_get(d, "spec.template") ?: json_null(), JSON_COMPACT | JSON_SORT_KEYS);
    char hash[65];
    util_sha256_hex(t, strlen(t), hash);
    free(t);
    hash[10] = 0;
    snprintf(rsname, sizeof rsname, "%s-%s", emu_k8s_sget(d, "metadata.name") ?: "x", hash);
    char *prefix = xasprintf("k8s/%s/apps/replicasets/%s/", cid, ns);
    json_t *keys = owned_keys(emu, prefix, emu_k8s_sget(d, "metadata.uid")), *k;
    char *key = xasprintf("%s%s", prefix, rsname);
    size_t i;
    json_array_foreach(keys, i, k) if (strcmp(json_string_value(k), key))
        emu_k8s_delete_key(emu, json_string_value(k));
    json_decref(keys);
    json_t *rs = emu_get(emu, key);
    rs = rs ? json_deep_copy(rs)
            : json_pack("{s:{s:s,s:s,s:o,s:o},s:{s:O,s:O}}", "metadata", "name", rsname, "namespace", ns,
                        "labels", copy_or_empty(jpath_get(d, "spec.template.metadata.labels")),
                        "ownerReferences", json_pack("[o]", owner_ref(d, "apps/v1", "Deployment")), "spec",
                        "selector", jpath_get(d, "spec.selector") ?: json_null(), "template",
                        jpath_get(d, "spec.template") ?: json_null());
    json_t *md = json_object_get(rs, "metadata");
    if (!json_object_get(md, "uid")) {
        char *uid = emu_k8s_uid();
        json_object_set_new(md, "uid", json_string(uid));
        json_object_set_new(md, "creationTimestamp", json_string(emu_now()));
        json_object_set_new(md, "generation", json_integer(1));
        free(uid);
        jpath_set_new(rs, "spec.template.metadata.labels.pod-template-hash", json_string(hash));
    }
    jpath_set_new(rs, "spec.replicas", json_integer(replicas_of(d)));
    json_int_t n = replicas_of(d);
    json_int_t ready = scale_pods(emu, cid, rs, "apps/v1", "ReplicaSet", n,
                                  json_pack("{s:s}", "pod-template-hash", hash), 0, 0);
    jpath_set_new(rs, "status",
                  json_pack("{s:I,s:I,s:I,s:I,s:i}", "replicas", n, "readyReplicas", ready,
                            "availableReplicas", ready, "fullyLabeledReplicas", n, "observedGeneration", 1));
    emu_k8s_bump_rv(emu, rs);
    emu_k8s_put(emu, key, rs);
    free(key);
    free(prefix);
    return ready;
}

json_int_t emu_k8s_workload_pods(emu_t *emu, const char *key, const json_t *o, json_int_t *want) {
    char *cid = cid_of(key);
    json_int_t ready = 0;
    *want = replicas_of(o);
    if (emu_k8s_key_is(key, "apps/deployments")) {
        ready = deployment_pods(emu, cid, o);
    } else if (emu_k8s_key_is(key, "apps/replicasets")) {
        if (jpath_get(o, "metadata.ownerReferences"))
            ready = replicas_of(o); /* a Deployment's: already run */
        else
            ready = scale_pods(emu, cid, o, "apps/v1", "ReplicaSet", replicas_of(o), NULL, 0, 0);
    } else if (emu_k8s_key_is(key, "apps/statefulsets")) {
        ready = scale_pods(emu, cid, o, "apps/v1", "StatefulSet", replicas_of(o), NULL, 1, 0);
    } else if (emu_k8s_key_is(key, "batch/jobs")) {
        json_t *c = jpath_get(o, "spec.completions");
        *want = json_is_integer(c) ? json_integer_value(c) : 1;
        ready = scale_pods(emu, cid, o, "batch/v1", "Job", *want,
                           json_pack("{s:O}", "job-name", jpath_get(o, "metadata.name")), 0, 1);
    } else if (emu_k8s_key_is(key, "apps/daemonsets")) {
        *want = emu_k8s_eligible_nodes(emu, cid, jpath_get(o, "spec.template"));
        ready = scale_pods(emu, cid, o, "apps/v1", "DaemonSet", *want, NULL, 0, 0);
    }
    free(cid);
    return ready;
}

static json_t *endpoint_subset(emu_t *emu, const char *cid, const char *ns, const json_t *svc) {
    json_t *sel = jpath_get(svc, "spec.selector");
    char *prefix = xasprintf("k8s/%s/core/pods/%s/", cid, ns);
    json_t *keys = emu_keys(emu, prefix), *k, *addrs = json_array();
    size_t i;
    json_array_foreach(keys, i, k) {
        json_t *p = emu_get(emu, json_string_value(k));
        const char *ph = emu_k8s_sget(p, "status.phase"), *ip = emu_k8s_sget(p, "status.podIP");
        json_t *labels = jpath_get(p, "metadata.labels");
        int match = ph && !strcmp(ph, "Running") && ip;
        const char *lk;
        json_t *lv;
        json_object_foreach(sel, lk, lv) match &= json_equal(json_object_get(labels, lk), lv);
        if (match)
            json_array_append_new(addrs,
                                  json_pack("{s:s,s:s,s:{s:s,s:s,s:O,s:O}}", "ip", ip, "nodeName",
                                            emu_k8s_sget(p, "spec.nodeName") ?: "", "targetRef", "kind",
                                            "Pod", "namespace", ns, "name", jpath_get(p, "metadata.name"),
                                            "uid", jpath_get(p, "metadata.uid")));
    }
    json_decref(keys);
    free(prefix);
    json_t *ports = json_array(), *sp;
    json_array_foreach(jpath_get(svc, "spec.ports"), i, sp) {
        json_t *tp = json_object_get(sp, "targetPort");
        json_t *port = json_pack("{s:O,s:s}", "port", json_is_integer(tp) ? tp : json_object_get(sp, "port"),
                                 "protocol", json_string_value(json_object_get(sp, "protocol")) ?: "TCP");
        if (json_object_get(sp, "name")) json_object_set(port, "name", json_object_get(sp, "name"));
        json_array_append_new(ports, port);
    }
    if (!json_array_size(addrs)) {
        json_decref(addrs);
        json_decref(ports);
        return json_array();
    }
    return json_pack("[{s:o,s:o}]", "addresses", addrs, "ports", ports);
}

void emu_k8s_endpoints(emu_t *emu, const char *cid, const char *ns) {
    if (!ns) return;
    char *prefix = xasprintf("k8s/%s/core/services/%s/", cid, ns);
    json_t *keys = emu_keys(emu, prefix), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        json_t *svc = emu_get(emu, json_string_value(k));
        if (!json_is_object(jpath_get(svc, "spec.selector"))) continue;
        const char *name = emu_k8s_sget(svc, "metadata.name");
        char *key = xasprintf("k8s/%s/core/endpoints/%s/%s", cid, ns, name);
        json_t *cur = emu_get(emu, key);
        json_t *subsets = endpoint_subset(emu, cid, ns, svc);
        if (!cur || !json_equal(json_object_get(cur, "subsets"), subsets)) {
            json_t *ep = cur ? json_deep_copy(cur)
                             : json_pack("{s:{s:s,s:s,s:o}}", "metadata", "name", name, "namespace", ns,
                                         "labels", copy_or_empty(jpath_get(svc, "metadata.labels")));
            if (!cur) {
                char *uid = emu_k8s_uid();
                jpath_set_new(ep, "metadata.uid", json_string(uid));
                jpath_set_new(ep, "metadata.creationTimestamp", json_string(emu_now()));
                free(uid);
            }
            json_object_set(ep, "subsets", subsets);
            emu_k8s_bump_rv(emu, ep);
            emu_k8s_put(emu, key, ep);
        }
        json_decref(subsets);
        free(key);
    }
    json_decref(keys);
    free(prefix);
}
