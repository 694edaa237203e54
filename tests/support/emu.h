/* emu.h (tests/support): an in-process plinth-emulator for unit tests. */
#ifndef PLINTH_TEST_EMU_H
#define PLINTH_TEST_EMU_H

#include "emulator/emu.h"

/* Starts an emulator on cfg (failing the running test when it cannot) and
 * writes its base URL "http://127.0.0.1:PORT" into base. */
emu_t *temu_start(emu_config_t *cfg, char base[64]);

#endif
