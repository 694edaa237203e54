/* cli.h: argument parsing and the commands of plinth (DESIGN.md). */
#ifndef PLINTH_CLI_H
#define PLINTH_CLI_H

#include <signal.h>

/* Runs plinth with argv; returns the process exit code. */
int cli_main(int argc, char **argv, volatile sig_atomic_t *stop);

#endif
