/* apis.c: the APIs the emulator serves.  Each is defined in its own
 * api_*.c; the references are weak so the emulator links while an API is
 * being written (a missing one is simply not served). */
#include "emulator/emu.h"

#define EMU_API(x) extern const emu_api_t x __attribute__((weak));
EMU_API(emu_api_compute)
EMU_API(emu_api_serviceusage)
EMU_API(emu_api_storage)
EMU_API(emu_api_container)
EMU_API(emu_api_sqladmin)
EMU_API(emu_api_servicenetworking)
EMU_API(emu_api_iam)
EMU_API(emu_api_cloudresourcemanager)
EMU_API(emu_api_artifactregistry)
EMU_API(emu_api_secretmanager)
EMU_API(emu_api_oauth2)
EMU_API(emu_api_k8s)
EMU_API(emu_api_pubsub)
EMU_API(emu_api_logging)
EMU_API(emu_api_dns)

const emu_api_t *emu_apis[] = {
    &emu_api_compute,      &emu_api_serviceusage,          &emu_api_storage,
    &emu_api_container,    &emu_api_sqladmin,              &emu_api_servicenetworking,
    &emu_api_iam,          &emu_api_cloudresourcemanager,  &emu_api_artifactregistry,
    &emu_api_secretmanager, &emu_api_oauth2,               &emu_api_k8s,
    &emu_api_pubsub, &emu_api_logging, &emu_api_dns,
    NULL,
};

/* A weak API that is not linked in is a NULL in the middle of the list,
 * which would hide every API after it: close the gaps before main runs. */
__attribute__((constructor)) static void emu_apis_compact(void) {
    size_t n = sizeof emu_apis / sizeof *emu_apis, k = 0;
    for (size_t i = 0; i < n; i++)
        if (emu_apis[i]) emu_apis[k++] = emu_apis[i];
    while (k < n) emu_apis[k++] = NULL;
}
