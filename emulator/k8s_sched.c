/* k8s_sched.c: the emulated cluster's Nodes and scheduler (see emu_k8s.h).
 *
 * One Node per simulated node of the cluster's node pools (count x zones),
 * labelled and tainted as GKE does (gke-nodepool, instance type, zone,
 * gke-accelerator; the pool's taints, and nvidia.com/gpu=present:NoSchedule
 * on GPU pools), with allocatable CPU, memory, pods and nvidia.com/gpu from
 * the machine catalogue.  A Pod is bound to the first Node that matches its
 * nodeSelector, tolerates the Node's NoSchedule/NoExecute taints and has
 * room for its requests; otherwise it stays Pending with the
 * default-scheduler's FailedScheduling event and message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "emulator/catalog.h"
#include "emulator/emu_k8s.h"

/* ---- quantities ------------------------------------------------------------- */

/* A Kubernetes quantity in milli-units ("500m" -> 500, "2" -> 2000,
 * "1Gi" -> 1073741824000); -1 when malformed. */
long long emu_k8s_quantity_milli(const json_t *q) {
    if (json_is_integer(q)) return json_integer_value(q) * 1000;
    if (json_is_real(q)) return (long long)(json_real_value(q) * 1000);
    const char *s = json_string_value(q);
    if (!s || !*s) return -1;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s) return -1;
    static const struct {
        const char *suf;
        double mul;
    } sufs[] = {
        {"m", 0.001}, {"Ki", 1024.0}, {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
        {"k", 1e3},   {"K", 1e3},     {"M", 1e6},        {"G", 1e9},           {"T", 1e12},
        {"", 1.0}};
    for (size_t i = 0; i < sizeof sufs / sizeof *sufs; i++)
        if (!strcmp(end, sufs[i].suf)) return (long long)(v * sufs[i].mul * 1000.0);
    return -1;
}

/* ---- nodes -------------------------------------------------------------------- */

static const char *pool_machine(const json_t *np) {
    return json_string_value(jpath_get(np, "config.machineType")) ?: "e2-medium";
}

/* The accelerator type and count of a pool (explicit, or built into the machine). */
static const char *pool_gpu(const json_t *np, long long *count) {
    json_t *acc = json_array_get(jpath_get(np, "config.accelerators"), 0);
    if (acc) {
        json_t *n = json_object_get(acc, "acceleratorCount");
        *count = json_is_string(n) ? atoll(json_string_value(n)) : json_integer_value(n);
        return json_string_value(json_object_get(acc, "acceleratorType"));
    }
    const emu_machine_t *m = emu_machine_find(pool_machine(np));
    *count = m && m->gpu ? m->gpus : 0;
    return m ? m->gpu : NULL;
}

static const char *taint_effect(const char *gke) {
    if (!gke) return "NoSchedule";
    if (!strcmp(gke, "NO_EXECUTE")) return "NoExecute";
    if (!strcmp(gke, "PREFER_NO_SCHEDULE")) return "PreferNoSchedule";
    return "NoSchedule";
}

static json_t *node_taints(const json_t *np, const char *gpu) {
    json_t *out = json_array(), *t;
    size_t i;
    int have_gpu = 0;
    json_array_foreach(jpath_get(np, "config.taints"), i, t) {
        const char *k = json_string_value(json_object_get(t, "key"));
        json_t *nt = json_pack("{s:s,s:s}", "key", k ?: "", "effect",
                               taint_effect(json_string_value(json_object_get(t, "effect"))));
        if (json_object_get(t, "value")) json_object_set(nt, "value", json_object_get(t, "value"));
        have_gpu |= k && !strcmp(k, "nvidia.com/gpu");
        json_array_append_new(out, nt);
    }
    if (gpu && !have_gpu)
        json_array_append_new(out, json_pack("{s:s,s:s,s:s}", "key", "nvidia.com/gpu", "value", "present",
                                             "effect", "NoSchedule"));
    return out;
}

static json_t *node_new(const json_t *c, const json_t *np, const char *zone, int idx) {
    const char *pool = json_string_value(json_object_get(np, "name")) ?: "pool";
    const char *cname = json_string_value(json_object_get(c, "name")) ?: "cluster";
    const emu_machine_t *m = emu_machine_find(pool_machine(np));
    long long gpus = 0;
    const char *gpu = pool_gpu(np, &gpus);
    char name[160], cpu[32], mem[32], ip[32];
    unsigned h = 0;
    for (const char *p = zone; *p; p++)
        h = h * 31 + (unsigned char)*p;
    snprintf(name, sizeof name, "gke-%.16s-%.16s-%08x-%04d", cname, pool, h, idx);
    int vcpus = m ? m->vcpus : 2, mb = m ? m->memory_mb : 4096;
    snprintf(cpu, sizeof cpu, "%dm", vcpus * 1000 - (vcpus > 1 ? 60 * vcpus : 60));
    snprintf(mem, sizeof mem, "%dKi", mb * 1024 * 3 / 4);
    snprintf(ip, sizeof ip, "10.128.%u.%d", h % 250, 2 + idx % 250);
    json_t *labels = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "cloud.google.com/gke-nodepool", pool, "kubernetes.io/hostname",
        name, "kubernetes.io/os", "linux", "kubernetes.io/arch", "amd64", "node.kubernetes.io/instance-type",
        pool_machine(np), "topology.kubernetes.io/zone", zone, "cloud.google.com/machine-family", "e2");
    json_t *cap = json_pack("{s:s,s:s,s:s,s:s}", "cpu", cpu, "memory", mem, "pods", "110",
                            "ephemeral-storage", "98831908Ki");
    if (gpu && gpus > 0) {
        json_object_set_new(labels, "cloud.google.com/gke-accelerator", json_string(gpu));
        char g[16];
        snprintf(g, sizeof g, "%lld", gpus);
        json_object_set_new(cap, "nvidia.com/gpu", json_string(g));
    }
    json_object_update(labels, jpath_get(np, "config.labels"));
    const char *ver = json_string_value(json_object_get(c, "currentNodeVersion")) ?: "";
    char *kv = xasprintf("v%s", ver);
    json_t *n =
        json_pack("{s:{s:s,s:o},s:{s:o,s:s},s:{s:O,s:o,s:[{s:s,s:s,s:s,s:s}],s:[{s:s,s:s}],s:{s:s,s:s}}}",
                  "metadata", "name", name, "labels", labels, "spec", "taints", node_taints(np, gpu),
                  "providerID", name, "status", "capacity", cap, "allocatable", json_deep_copy(cap),
                  "conditions", "type", "Ready", "status", "True", "reason", "KubeletReady", "message",
                  "kubelet is posting ready status", "addresses", "type", "InternalIP", "address", ip,
                  "nodeInfo", "kubeletVersion", kv, "containerRuntimeVersion", "containerd://1.7.22");
    free(kv);
    json_decref(cap);
    return n;
}

/* What the Nodes are derived from: pool names, counts, zones and configs. */
static char *nodes_signature(const json_t *c) {
    json_t *sig = json_array(), *np;
    size_t i;
    json_array_foreach(json_object_get(c, "nodePools"), i, np) {
        json_array_append_new(sig, json_pack("[O,O,O,O,O]", json_object_get(np, "name") ?: json_null(),
                                             json_object_get(np, "plinth:nodeCount") ?: json_null(),
                                             json_object_get(np, "locations") ?: json_null(),
                                             json_object_get(np, "config") ?: json_null(),
                                             json_object_get(c, "currentNodeVersion") ?: json_null()));
    }
    char *s = json_dumps(sig, JSON_COMPACT);
    json_decref(sig);
    return s;
}

int emu_k8s_sync_nodes(emu_t *emu, const char *cid, const json_t *c) {
    char *sigkey = xasprintf("k8s/%s/_nodes", cid), *sig = nodes_signature(c);
    const char *old = json_string_value(emu_get(emu, sigkey));
    int changed = !old || strcmp(old, sig) != 0;
    if (!changed) goto out;
    char *prefix = xasprintf("k8s/%s/core/nodes/_/", cid);
    json_t *want = json_object(), *np, *z;
    size_t i, j;
    json_array_foreach(json_object_get(c, "nodePools"), i, np) {
        long long n = json_integer_value(json_object_get(np, "plinth:nodeCount"));
        json_array_foreach(json_object_get(np, "locations"), j, z) {
            for (long long k = 0; k < n; k++) {
                json_t *node = node_new(c, np, json_string_value(z), (int)k);
                json_object_set_new(want, emu_k8s_sget(node, "metadata.name"), node);
            }
        }
    }
    json_t *keys = emu_keys(emu, prefix), *k;
    json_array_foreach(keys, i, k) {
        if (!json_object_get(want, json_string_value(k) + strlen(prefix))) emu_del(emu, json_string_value(k));
    }
    json_decref(keys);
    const char *name;
    json_t *node;
    json_object_foreach(want, name, node) {
        char *key = xasprintf("%s%s", prefix, name);
        json_t *cur = emu_get(emu, key);
        json_t *md = json_object_get(node, "metadata");
        if (cur) {
            json_object_set(md, "uid", jpath_get(cur, "metadata.uid"));
            json_object_set(md, "creationTimestamp", jpath_get(cur, "metadata.creationTimestamp"));
        } else {
            char *uid = emu_k8s_uid();
            json_object_set_new(md, "uid", json_string(uid));
            json_object_set_new(md, "creationTimestamp", json_string(emu_now()));
            free(uid);
        }
        emu_k8s_bump_rv(emu, node);
        emu_k8s_put(emu, key, json_incref(node));
        free(key);
    }
    json_decref(want);
    free(prefix);
    emu_put(emu, sigkey, json_string(sig));
out:
    free(sig);
    free(sigkey);
    return changed;
}

/* ---- scheduling ----------------------------------------------------------------- */

static int tolerated(const json_t *taint, const json_t *tols) {
    const char *tk = json_string_value(json_object_get(taint, "key")) ?: "";
    const char *tv = json_string_value(json_object_get(taint, "value")) ?: "";
    const char *te = json_string_value(json_object_get(taint, "effect")) ?: "";
    json_t *t;
    size_t i;
    json_array_foreach(tols, i, t) {
        const char *k = json_string_value(json_object_get(t, "key")) ?: "";
        const char *op = json_string_value(json_object_get(t, "operator")) ?: "Equal";
        const char *v = json_string_value(json_object_get(t, "value")) ?: "";
        const char *e = json_string_value(json_object_get(t, "effect")) ?: "";
        if (*e && strcmp(e, te) != 0) continue;
        if (!strcmp(op, "Exists") && (!*k || !strcmp(k, tk))) return 1;
        if (!strcmp(op, "Equal") && !strcmp(k, tk) && !strcmp(v, tv)) return 1;
    }
    return 0;
}

/* The sum of a pod's container requests for resource r, in milli-units. */
static long long pod_request(const json_t *pod, const char *r) {
    long long sum = 0;
    json_t *ct;
    size_t i;
    json_array_foreach(jpath_get(pod, "spec.containers"), i, ct) {
        json_t *res = json_object_get(ct, "resources");
        json_t *q = json_object_get(json_object_get(res, "requests"), r);
        if (!q) q = json_object_get(json_object_get(res, "limits"), r); /* limits default requests */
        long long v = q ? emu_k8s_quantity_milli(q) : 0;
        if (v > 0) sum += v;
    }
    return sum;
}

static const char *const sched_res[] = {"cpu", "memory", "nvidia.com/gpu", NULL};

/* Why pod does not fit node (static text), or NULL when it fits. */
static const char *misfit(emu_t *emu, const char *cid, const json_t *pod, const json_t *node, char *buf,
                          size_t n) {
    const char *k;
    json_t *v;
    json_object_foreach(jpath_get(pod, "spec.nodeSelector"), k, v) {
        const char *have = json_string_value(jpath_get(node, "metadata.labels")
                                                 ? json_object_get(jpath_get(node, "metadata.labels"), k)
                                                 : NULL);
        if (!have || !json_is_string(v) || strcmp(have, json_string_value(v)) != 0)
            return "node(s) didn't match Pod's node affinity/selector";
    }
    json_t *t;
    size_t i;
    json_array_foreach(jpath_get(node, "spec.taints"), i, t) {
        const char *e = json_string_value(json_object_get(t, "effect")) ?: "";
        if (strcmp(e, "NoSchedule") && strcmp(e, "NoExecute")) continue;
        if (tolerated(t, jpath_get(pod, "spec.tolerations"))) continue;
        const char *val = json_string_value(json_object_get(t, "value"));
        snprintf(buf, n, "node(s) had untolerated taint {%s: %s}",
                 json_string_value(json_object_get(t, "key")) ?: "", val ? val : "");
        return buf;
    }
    const char *nname = emu_k8s_sget(node, "metadata.name");
    char *prefix = xasprintf("k8s/%s/core/pods/", cid);
    json_t *keys = emu_keys(emu, prefix), *key;
    long long used[3] = {0, 0, 0};
    json_array_foreach(keys, i, key) {
        json_t *p = emu_get(emu, json_string_value(key));
        const char *on = emu_k8s_sget(p, "spec.nodeName"), *ph = emu_k8s_sget(p, "status.phase");
        if (!on || strcmp(on, nname) || (ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed")))) continue;
        for (int r = 0; sched_res[r]; r++)
            used[r] += pod_request(p, sched_res[r]);
    }
    json_decref(keys);
    free(prefix);
    for (int r = 0; sched_res[r]; r++) {
        long long want = pod_request(pod, sched_res[r]);
        if (!want) continue;
        json_t *a = json_object_get(jpath_get(node, "status.allocatable"), sched_res[r]);
        long long have = a ? emu_k8s_quantity_milli(a) : 0;
        if (used[r] + want > have) {
            snprintf(buf, n, "Insufficient %s", sched_res[r]);
            return buf;
        }
    }
    return NULL;
}

/* "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had ...", reasons sorted. */
static char *sched_message(json_t *reasons, size_t nnodes) {
    sbuf_t b = {0};
    if (!nnodes) {
        sbuf_addf(&b, "no nodes available to schedule pods");
        return sbuf_steal(&b);
    }
    sbuf_addf(&b, "0/%zu nodes are available: ", nnodes);
    const char **names = xcalloc(json_object_size(reasons) + 1, sizeof *names);
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(reasons, k, v) names[n++] = k;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(names[j], names[i]) < 0) {
                const char *x = names[i];
                names[i] = names[j];
                names[j] = x;
            }
    for (size_t i = 0; i < n; i++)
        sbuf_addf(&b, "%s%lld %s", i ? ", " : "",
                  (long long)json_integer_value(json_object_get(reasons, names[i])), names[i]);
    sbuf_addf(&b, ". preemption: 0/%zu nodes are available: %zu Preemption is not helpful for scheduling.",
              nnodes, nnodes);
    free(names);
    return sbuf_steal(&b);
}

static void failed_event(emu_t *emu, const char *cid, const json_t *pod, const char *msg) {
    const char *ns = emu_k8s_sget(pod, "metadata.namespace") ?: "default";
    const char *name = emu_k8s_sget(pod, "metadata.name") ?: "";
    char h[9];
    util_random_hex(h, 4);
    char *ename = xasprintf("%s.%s", name, h);
    char *key = xasprintf("k8s/%s/core/events/%s/%s", cid, ns, ename);
    char *uid = emu_k8s_uid();
    json_t *ev = json_pack(
        "{s:{s:s,s:s,s:s,s:s},s:{s:s,s:s,s:s,s:O,s:s},s:s,s:s,s:s,s:{s:s},s:s,s:s,s:s,s:i}", "metadata",
        "name", ename, "namespace", ns, "uid", uid, "creationTimestamp", emu_now(), "involvedObject", "kind",
        "Pod", "namespace", ns, "name", name, "uid", jpath_get(pod, "metadata.uid") ?: json_null(),
        "apiVersion", "v1", "reason", "FailedScheduling", "message", msg, "type", "Warning", "source",
        "component", "default-scheduler", "reportingComponent", "default-scheduler", "firstTimestamp",
        emu_now(), "lastTimestamp", emu_now(), "count", 1);
    emu_k8s_bump_rv(emu, ev);
    emu_k8s_put(emu, key, ev);
    free(uid);
    free(key);
    free(ename);
}

int emu_k8s_schedule(emu_t *emu, const char *cid, json_t *pod) {
    if (emu_k8s_sget(pod, "spec.nodeName")) return 1;
    char *prefix = xasprintf("k8s/%s/core/nodes/_/", cid);
    json_t *keys = emu_keys(emu, prefix), *k, *reasons = json_object();
    size_t i;
    const char *chosen = NULL;
    char buf[256];
    json_array_foreach(keys, i, k) {
        json_t *node = emu_get(emu, json_string_value(k));
        const char *why = misfit(emu, cid, pod, node, buf, sizeof buf);
        if (!why) {
            chosen = emu_k8s_sget(node, "metadata.name");
            jpath_set_new(pod, "spec.nodeName", json_string(chosen));
            jpath_set_new(pod, "status.hostIP", json_incref(jpath_get(node, "status.addresses.0.address")));
            break;
        }
        json_object_set_new(reasons, why,
                            json_integer(json_integer_value(json_object_get(reasons, why)) + 1));
    }
    if (!chosen) {
        char *msg = sched_message(reasons, json_array_size(keys));
        jpath_set_new(pod, "status.phase", json_string("Pending"));
        jpath_set_new(pod, "status.conditions",
                      json_pack("[{s:s,s:s,s:s,s:s,s:s}]", "type", "PodScheduled", "status", "False",
                                "reason", "Unschedulable", "message", msg, "lastTransitionTime", emu_now()));
        failed_event(emu, cid, pod, msg);
        free(msg);
    }
    json_decref(reasons);
    json_decref(keys);
    free(prefix);
    return chosen != NULL;
}

int emu_k8s_eligible_nodes(emu_t *emu, const char *cid, const json_t *tmpl) {
    char *prefix = xasprintf("k8s/%s/core/nodes/_/", cid);
    json_t *keys = emu_keys(emu, prefix), *k;
    json_t *spec = json_object_get(tmpl, "spec");
    json_t *pod = json_pack("{s:o}", "spec", spec ? json_deep_copy(spec) : json_object());
    json_object_del(json_object_get(pod, "spec"), "containers"); /* placement only, no resources */
    size_t i;
    int n = 0;
    char buf[256];
    json_array_foreach(keys, i, k) n +=
        !misfit(emu, cid, pod, emu_get(emu, json_string_value(k)), buf, sizeof buf);
    json_decref(pod);
    json_decref(keys);
    free(prefix);
    return n;
}
