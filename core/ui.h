/* ui.h: everything plinth writes to the terminal.  Terraform's conventions:
 * "+ ~ - -/+" symbols, a summary line, colours unless --no-color / NO_COLOR
 * or not a terminal, progress lines per resource with elapsed time.  The
 * only module that writes to stdout/stderr.  Thread-safe: progress comes
 * from worker threads. */
#ifndef PLINTH_UI_H
#define PLINTH_UI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/engine.h"
#include "core/util.h"

typedef struct ui ui_t;

ui_t *ui_new(bool color, bool quiet);
void ui_free(ui_t *u);
bool ui_color(const ui_t *u);

void ui_error(ui_t *u, const perr_t *e); /* "Error: <where>: <msg>" on stderr */
void ui_diags(ui_t *u, const diag_t *d);
void ui_warn(ui_t *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ui_out(ui_t *u, const char *fmt, ...) __attribute__((format(printf, 2, 3))); /* stdout */
void ui_json(ui_t *u, const json_t *v); /* one JSON document on stdout */

void ui_plan(ui_t *u, const plan_t *p); /* the human plan */
void ui_plan_summary(ui_t *u, const plan_t *p);

/* Progress of one resource step.  verb: "Creating", "Modifying",
 * "Destroying", "Refreshing", "Replacing".  A ticker prints "Still
 * creating... [10s elapsed]" for steps running longer than 10 s. */
void ui_step_start(ui_t *u, const char *addr, const char *verb);
void ui_step_msg(ui_t *u, const char *addr, const char *msg);
void ui_step_done(ui_t *u, const char *addr, const char *verb, bool ok, const char *detail);

/* The engine's hooks (engine.h) on the terminal: engine_open(o,
 * &ui_engine_hooks, ui, ...).  ui_hooks.c. */
extern const engine_hooks_t ui_engine_hooks;

/* Asks "question" on the terminal; true only for "yes". */
bool ui_confirm(ui_t *u, const char *question);

/* Value rendering: JSON compact, secrets as (sensitive value), deferred as
 * (known after apply).  New string. */
char *ui_value(const json_t *v, bool sensitive);
/* The attribute lines of one planned change (ui_plan.c): nested blocks,
 * named lists by name, large values summarised, no line over 200 columns.
 * Appends to b. */
void ui_plan_item_text(sbuf_t *b, const plan_item_t *it, bool color);

#endif
