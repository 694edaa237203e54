/* mask.h: update masks as the newer Google APIs take them (a comma-
 * separated list of field paths, in the query or the request body),
 * shared by the emulated APIs that plinth's newer types use (pubsub,
 * logging, cloudkms, dns, monitoring). */
#ifndef PLINTH_EMU_MASK_H
#define PLINTH_EMU_MASK_H

#include "emulator/emu.h"

/* Applies the fields of patch named by mask onto doc: a path "a.b" sets
 * doc.a.b from patch.a.b (removing it when patch has none).  A path whose
 * top-level field is in fixed (immutable or output only) is refused with
 * 400 INVALID_ARGUMENT naming it; so is an empty mask when need_mask.
 * Returns 0, or -1 with resp filled (doc may be partly changed: apply to
 * a copy). */
int emu_mask_apply(emu_resp_t *resp, json_t *doc, const json_t *patch, const char *mask,
                   const char *const *fixed, int need_mask);

#endif
