/* generic.h: the emulator's generic handler: serves create/get/list/patch/
 * delete of any collection in the embedded API definitions
 * (providers/gcp/data) that no api_*.c file routes, with the method's
 * shapes: the ID from the method's <x>Id query parameter, the body's name
 * or the server, google.longrunning operations when the method answers
 * with one (finished at once, kept for operations.get), PATCH with an
 * updateMask.  It backs gcp.api_resource and the collections listed in
 * generic.c for typed resources of otherwise hand-written APIs. */
#ifndef PLINTH_EMU_GENERIC_H
#define PLINTH_EMU_GENERIC_H

#include "emulator/emu.h"

/* Whether api (no api_*.c serves it) is served generically: its
 * definitions are embedded. */
int emu_generic_api(const char *api);
/* Handles req when its path is a method of the API's definitions that the
 * generic handler serves; typed: an api_*.c exists for req->api (then
 * only the collections listed in generic.c are served).  Returns 1 when
 * handled (resp filled), 0 otherwise. */
int emu_generic_dispatch(emu_t *emu, emu_req_t *req, emu_resp_t *resp, int typed);

#endif
