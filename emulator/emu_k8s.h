/* emu_k8s.h: the emulated kube-apiserver's internal contract, shared by
 * its files: api_k8s.c (dispatch and the object verbs), k8s_core.c (types,
 * keys, errors, selectors, paths), k8s_ctrl.c (simulated controllers),
 * k8s_discovery.c (discovery and OpenAPI) and k8s_ssa.c (server-side
 * apply).  Everything runs with the emulator's lock held.
 *
 * Objects live in the store at "k8s/<cid>/<group or core>/<resource>/<ns or
 * _>/<name>", whatever version they were written in.  Strings returned are
 * NEW unless stated; json_t results are NEW references. */
#ifndef PLINTH_EMU_K8S_H
#define PLINTH_EMU_K8S_H

#include <jansson.h>

#include "emulator/emu.h"

/* A served type: one group/version/resource. */
typedef struct emu_ktype {
    char *group, *version, *resource, *kind, *singular; /* "" group for the core API */
    int namespaced;
    const char *shortnames; /* comma separated, static */
} emu_ktype_t;

typedef struct {
    emu_ktype_t *v;
    size_t n, cap;
} emu_ktypes_t;

/* A request path below <cid>/: "api/v1/namespaces/x/pods/y/status". */
typedef struct {
    char *cid;
    char *group, *version; /* "" group for the core API */
    char *ns, *resource, *name, *sub;
    int discovery; /* 1 /api, 2 /apis, 3 /apis/g, 4 /api/v1 or /apis/g/v */
} emu_kpath_t;

/* k8s_core.c */
/* Built-in types plus the served versions of every established CRD. */
void emu_k8s_types_load(emu_t *emu, const char *cid, emu_ktypes_t *t);
void emu_k8s_types_free(emu_ktypes_t *t);
/* BORROWED from t, or NULL. */
const emu_ktype_t *emu_k8s_types_find(const emu_ktypes_t *t, const char *group, const char *version,
                                      const char *resource);
char *emu_k8s_api_version(const emu_ktype_t *kt);
/* String at a jpath of o, or NULL (BORROWED). */
const char *emu_k8s_sget(const json_t *o, const char *path);
/* A Status error in resp (kt and name may be NULL). */
void emu_k8s_status(emu_resp_t *resp, int code, const char *reason, const emu_ktype_t *kt, const char *name,
                    const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void emu_k8s_not_found(emu_resp_t *resp, const emu_ktype_t *kt, const char *name);
/* The GKE cluster document with that id (BORROWED), or NULL. */
json_t *emu_k8s_cluster(emu_t *emu, const char *cid);
char *emu_k8s_key(const char *cid, const emu_ktype_t *kt, const char *ns, const char *name);
/* Key prefix of kt's objects (in ns when namespaced and ns is set). */
char *emu_k8s_prefix(const char *cid, const emu_ktype_t *kt, const char *ns);
/* The object as served for kt's version (a copy). */
json_t *emu_k8s_present(const json_t *obj, const emu_ktype_t *kt);
char *emu_k8s_uid(void);
void emu_k8s_bump_rv(emu_t *emu, json_t *obj);
/* 1 when key is "k8s/<cid>/<group_res>/..." (group_res "apps/deployments"). */
int emu_k8s_key_is(const char *key, const char *group_res);
/* Label selectors ("a=b,c!=d,e,!f"); field selectors ("metadata.name=x"). */
int emu_k8s_label_match(const char *sel, const json_t *labels);
int emu_k8s_field_match(const char *sel, const json_t *obj);
/* Splits rest; -1 when it is not an API path (kp still to be freed). */
int emu_k8s_path_parse(const char *cid, const char *rest, emu_kpath_t *kp);
void emu_k8s_path_free(emu_kpath_t *p);

/* k8s_ctrl.c */
/* Brings the status of the object at key up to date, as its controller would. */
void emu_k8s_reconcile(emu_t *emu, const char *key);
void emu_k8s_reconcile_timer(emu_t *emu, const char *key);
int emu_k8s_needs_controller(const char *key);
/* Defaults and immediate status when an object is first stored. */
void emu_k8s_on_create(emu_t *emu, const char *cid, const emu_ktype_t *kt, json_t *o);
/* Deletes the object at key with what it owns (namespace contents, custom resources). */
void emu_k8s_delete_key(emu_t *emu, const char *key);
/* Timer: removes an object whose deletionTimestamp is set. */
void emu_k8s_finish_delete(emu_t *emu, const char *key);
void emu_k8s_ensure_namespaces(emu_t *emu, const char *cid);
/* Reconciles every workload of the cluster (after its Nodes changed). */
void emu_k8s_reconcile_cluster(emu_t *emu, const char *cid);
/* At start: finishes deletions and rollouts left in flight. */
void emu_k8s_resume(emu_t *emu);

/* Stores obj (stolen) at key: every write of an object goes through here
 * (watch events are recorded from it). */
void emu_k8s_put(emu_t *emu, const char *key, json_t *obj);

/* k8s_sched.c */
/* A quantity ("500m", "2", "1Gi") in milli-units, or -1 when malformed. */
long long emu_k8s_quantity_milli(const json_t *q);
/* Makes the Nodes match the cluster's node pools (no-op when unchanged);
 * 1 when they changed. */
int emu_k8s_sync_nodes(emu_t *emu, const char *cid, const json_t *cluster);
/* Binds pod (modified) to a Node: 1 bound, 0 unschedulable (status
 * Pending with the PodScheduled condition, FailedScheduling event stored). */
int emu_k8s_schedule(emu_t *emu, const char *cid, json_t *pod);
/* How many Nodes a pod template may be placed on (selector, taints). */
int emu_k8s_eligible_nodes(emu_t *emu, const char *cid, const json_t *tmpl);

/* k8s_workloads.c */
/* Runs the Pods (and a Deployment's ReplicaSet) of the workload o stored at
 * key; returns how many run (or completed), *want how many it should have. */
json_int_t emu_k8s_workload_pods(emu_t *emu, const char *key, const json_t *o, json_int_t *want);
/* Endpoints of the namespace's Services from its running Pods. */
void emu_k8s_endpoints(emu_t *emu, const char *cid, const char *ns);
/* A Pod created directly: defaults, scheduling and a running status. */
void emu_k8s_pod_start(emu_t *emu, const char *cid, json_t *pod);

/* k8s_admit.c */
/* Validates obj about to be stored (names, selectors, containers, size
 * limits, schema; unknown fields pruned unless validation is "Strict");
 * -1 with the real Status error in resp.  apply: a server-side apply
 * (decoding errors are worded as SSA words them). */
int emu_k8s_admit(emu_t *emu, const char *cid, emu_resp_t *resp, const emu_ktype_t *kt, json_t *obj,
                  const char *validation, int apply);
/* A 422 Invalid Status: "<Kind>.<group> \"name\" is invalid: <field>: <what>". */
void emu_k8s_invalid(emu_resp_t *resp, const emu_ktype_t *kt, const char *name, const char *field,
                     const char *cause_reason, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* k8s_schema.c */
/* obj against its OpenAPI model (built-in) or CRD schema; as emu_k8s_admit. */
int emu_k8s_schema_check(emu_t *emu, const char *cid, emu_resp_t *resp, const emu_ktype_t *kt, json_t *obj,
                         const char *validation, int apply);

/* k8s_patch.c: applies a JSON Patch (array of operations) to doc in place;
 * -1 with the apiserver's message in err (doc then partly patched). */
int emu_k8s_json_patch(json_t *doc, const json_t *ops, char *err, size_t errlen);

/* k8s_discovery.c */
void emu_k8s_discovery(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const emu_kpath_t *kp,
                       const emu_ktypes_t *t);
/* Route handler for {cid}/openapi/{x*}. */
void emu_k8s_openapi(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);

#endif
