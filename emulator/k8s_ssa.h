/* k8s_ssa.h: server-side apply field ownership in the emulated apiserver, as
 * JSON objects.  Used by the emulator's Kubernetes API (emulator/api_k8s.c)
 * and unit-tested on its own.
 *
 * A manager's field set is the set of leaf paths of what it wrote (lists
 * are atomic: a list is one leaf).  Sets are stored in the object's
 * metadata.managedFields as fieldsV1 ({"f:spec":{"f:replicas":{}}}).
 *
 * apply (manager M, config C): a field C sets to a value different from
 * live and owned by another manager is a conflict (refused unless force;
 * with force the other manager loses it); fields M applied before and no
 * longer sets are removed unless another manager owns them; C is merged
 * into live (maps merged, lists replaced); M's set becomes C's fields.
 * update (PUT, merge patch): the changed fields move to the updater. */
#ifndef PLINTH_EMU_K8S_SSA_H
#define PLINTH_EMU_K8S_SSA_H

#include <jansson.h>
#include <stddef.h>

#include "core/util.h"

/* The leaf paths of an applied object (segments joined by '\x1f'), skipping
 * apiVersion, kind, status and server-set metadata. */
void emu_ssa_fields(const json_t *obj, strlist_t *out);
/* fieldsV1 <-> path sets. */
json_t *emu_ssa_to_fieldsv1(const strlist_t *paths);
void emu_ssa_from_fieldsv1(const json_t *f, strlist_t *out);

/* New object after apply, or NULL with conflicts described in msg
 * ("1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas").
 * old may be NULL (create).  Neither argument is modified. */
json_t *emu_ssa_apply(const json_t *old, const json_t *cfg, const char *manager, int force, const char *group,
                      const char *version, char *msg, size_t msglen);
/* Records an update by manager in obj's managedFields (old: before, or NULL). */
void emu_ssa_update(json_t *obj, const json_t *old, const char *manager, const char *group,
                    const char *version);
/* JSON merge patch (RFC 7386) of target in place; strategic: lists of
 * objects with a merge key (name, containerPort, mountPath, port) are merged
 * by key and "$..." directives are dropped. */
void emu_ssa_merge_patch(json_t *target, const json_t *patch, int strategic);

#endif
