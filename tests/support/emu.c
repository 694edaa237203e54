/* emu.c (tests/support): starting an in-process emulator (emu.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "tests/support/emu.h"

emu_t *temu_start(emu_config_t *cfg, char base[64]) {
    perr_t e;
    perr_clear(&e);
    emu_t *emu = emu_new(cfg, &e);
    assert_non_null(emu);
    assert_int_equal(emu_start(emu, &e), 0);
    snprintf(base, 64, "http://127.0.0.1:%d", emu_port(emu));
    return emu;
}
