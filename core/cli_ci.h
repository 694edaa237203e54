/* cli_ci.h: the commands CI systems drive (docs/json-formats.md):
 *
 *   show [--json] PLANFILE    the saved plan; --json: Terraform's JSON plan
 *                             representation (plan_tfjson.h)
 *   drift [--json]            refresh and compare: exit 0 nothing drifted,
 *                             2 something changed outside plinth, 1 error
 *   env list [--json]         the environments of the backend (env.h);
 *                             --json: one JSON array (for Argo's withParam)
 *   env gc [--auto-approve]   destroys the environments past their expiry,
 *                             one lock at a time, and reports each
 *
 * cli.c parses the options and hands these commands here. */
#ifndef PLINTH_CLI_CI_H
#define PLINTH_CLI_CI_H

#include <signal.h>
#include <stdbool.h>

#include "core/engine.h"
#include "core/ui.h"

typedef struct cli_ci {
    engine_opts_t *eo;
    const strlist_t *args;
    bool json, auto_approve;
    ui_t *ui;
    volatile sig_atomic_t *stop;
} cli_ci_t;

#define CLI_CI_NOT_MINE (-2)

/* Runs cmd when it is one of the commands above; returns the exit code,
 * or CLI_CI_NOT_MINE. */
int cli_ci_run(const char *cmd, cli_ci_t *c);

#endif
