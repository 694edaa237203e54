/* main.c: plinth's command line (the contract in DESIGN.md).  Parses
 * options, installs signal handlers, dispatches to one cmd_* function per
 * command.  The only place that exits. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli.h"
#include "serve/serve.h"

static volatile sig_atomic_t g_stop;

static void on_sigint(int sig) {
    (void)sig;
    if (g_stop) {
        static const char msg[] =
            "\nSecond interrupt: aborting now. State was saved after the last finished resource.\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(130);
    }
    g_stop = 1;
    static const char msg[] = "\nInterrupt received: no new operations will start; waiting for those in "
                              "flight, then saving state.\n"
                              "Press Ctrl-C again to abort at once.\n";
    (void)!write(2, msg, sizeof msg - 1);
}

int main(int argc, char **argv) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* a closed terminal or CI runner: stop as cleanly as on SIGTERM */
    signal(SIGPIPE, SIG_IGN);
    if (argc > 1 && strcmp(argv[1], "serve") == 0) return serve_main(argc - 1, argv + 1, &g_stop);
    return cli_main(argc, argv, &g_stop);
}
