/* apis.c: the APIs the emulator serves, one explicit table (as Lua's
 * linit.c lists its libraries): each API is defined in its own api_*.c,
 * and one missing from the build fails at link time.  Adding an API is one
 * line in EMU_APIS. */
#include "emulator/emu.h"

#define EMU_APIS(X)                                                                                          \
    X(emu_api_compute)                                                                                       \
    X(emu_api_serviceusage)                                                                                  \
    X(emu_api_storage)                                                                                       \
    X(emu_api_container)                                                                                     \
    X(emu_api_sqladmin)                                                                                      \
    X(emu_api_servicenetworking)                                                                             \
    X(emu_api_iam)                                                                                           \
    X(emu_api_cloudresourcemanager)                                                                          \
    X(emu_api_artifactregistry)                                                                              \
    X(emu_api_secretmanager)                                                                                 \
    X(emu_api_oauth2)                                                                                        \
    X(emu_api_k8s)                                                                                           \
    X(emu_api_pubsub)                                                                                        \
    X(emu_api_logging)                                                                                       \
    X(emu_api_dns)                                                                                           \
    X(emu_api_cloudkms)                                                                                      \
    X(emu_api_monitoring)                                                                                    \
    X(emu_api_bigquery)                                                                                      \
    X(emu_api_cloudbuild)                                                                                    \
    X(emu_api_healthz)                                                                                       \
    X(emu_api_readyz)                                                                                        \
    X(emu_api_livez)

#define EMU_API_DECL(x) extern const emu_api_t x;
EMU_APIS(EMU_API_DECL)

#define EMU_API_REF(x) &x,
const emu_api_t *const emu_apis[] = {EMU_APIS(EMU_API_REF) NULL};
