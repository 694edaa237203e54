/* k8s_manifest.h: k8s.manifest expansion and the implicit ordering of
 * Kubernetes objects (the provider's expand and link hooks).
 *
 *   k8s.manifest "argo" { cluster = ..., file = "argo.yaml", namespace = "argo" }
 *   k8s.manifest "x"    { kubeconfig = "~/.kube/config", yaml = [[ ... ]] }
 *
 * expands into one k8s.object per document (items of a *List document
 * count one each), addressed k8s.manifest.argo["Deployment/argo/workflow-controller"]
 * (kind/namespace/name; cluster-scoped objects kind/name). */
#ifndef PLINTH_K8S_MANIFEST_H
#define PLINTH_K8S_MANIFEST_H

#include <jansson.h>

#include "core/rtype.h"
#include "core/spec.h"
#include "core/util.h"

/* body: the manifest's body: file (relative to spec_dir) or yaml, plus
 * optional namespace (for namespaced objects that name none) and the
 * connection fields (cluster, kubeconfig, context, wait_timeout, via) copied
 * into every object.  *items: a NEW array of {"key": "Kind/ns/name",
 * "body": {...}, "line": N} in document order.  Errors (malformed YAML,
 * a document without kind/apiVersion/metadata.name, duplicate keys) name
 * the file, line and column ("argo.yaml:12:5: ..."); nothing is returned
 * then. */
int k8s_manifest_expand(const json_t *body, const char *spec_dir, json_t **items, perr_t *e);

/* The key of one object ("Deployment/argo/web", "ClusterRole/admin"), new
 * string, or NULL when the object lacks kind or metadata.name. */
char *k8s_object_key(const json_t *obj);

/* The provider's link hook (rtype.h): implicit dependencies between the
 * k8s resources of s: a custom resource depends on the resource that
 * declares its CustomResourceDefinition (same group and kind); a namespaced
 * object depends on the resource declaring its Namespace.  Bodies whose
 * kind or names are deferred values are skipped. */
void k8s_link(const spec_t *s, rtype_link_fn add, void *ud);

/* The provider's expand hook (rtype.h): k8s.manifest into k8s.object
 * items; 0 for any other type. */
int k8s_expand(const char *type, const json_t *body, const char *spec_dir, json_t **items, perr_t *e);

#endif
