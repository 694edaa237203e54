/* ui_hooks.c: the terminal's implementation of the engine's hooks
 * (engine_hooks_t, engine.h): the engine reports, ui renders. */
#include "core/ui.h"

static void h_step_start(void *ud, const char *addr, const char *verb) {
    ui_step_start(ud, addr, verb);
}

static void h_step_msg(void *ud, const char *addr, const char *msg) {
    ui_step_msg(ud, addr, msg);
}

static void h_step_done(void *ud, const char *addr, const char *verb, bool ok, const char *detail) {
    ui_step_done(ud, addr, verb, ok, detail);
}

static void h_error(void *ud, const perr_t *e) {
    ui_error(ud, e);
}
static void h_diags(void *ud, const diag_t *d) {
    ui_diags(ud, d);
}
static void h_warn(void *ud, const char *msg) {
    ui_warn(ud, "%s", msg);
}

const engine_hooks_t ui_engine_hooks = {
    .step_start = h_step_start,
    .step_msg = h_step_msg,
    .step_done = h_step_done,
    .error = h_error,
    .diags = h_diags,
    .warn = h_warn,
};
