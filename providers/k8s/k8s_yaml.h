/* k8s_yaml.h: Kubernetes manifests (multi-document YAML, libyaml) to JSON.
 *
 * Scalars resolve as Kubernetes' YAML reader does for the core schema:
 * plain null/~/empty -> null, true/false -> bool, integers and floats ->
 * numbers, anything quoted or in a block scalar -> string ("8080" stays a
 * string).  Anchors, aliases and merge keys (<<) are expanded.  Errors name
 * the source, line and column: "argo.yaml:12:5: mapping values are not
 * allowed in this context". */
#ifndef PLINTH_K8S_YAML_H
#define PLINTH_K8S_YAML_H

#include <jansson.h>
#include <stddef.h>

#include "core/util.h"

/* Parses every document of a stream.  Returns a NEW array of documents
 * (empty documents are skipped); if lines is not NULL, *lines gets a NEW
 * array of the 1-based line where each document starts.  NULL on error. */
json_t *k8s_yaml_parse(const char *data, size_t len, const char *name, json_t **lines, perr_t *e);

/* Serialises a JSON value as YAML (new string): used for apply-patch+yaml
 * request bodies and for readable output. */
char *k8s_yaml_dump(const json_t *v);

#endif
