/* main.c: the plinth-emulator command: parses options, starts the server,
 * prints the base URL as the first line of stdout, and shuts down cleanly
 * on SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

static void usage(FILE *f) {
    fprintf(f, "usage: plinth-emulator [--port N] [--data DIR] [--log FILE] [--op-scale X]\n"
               "                       [--latency MS] [--fault-rate P] [--throttle-rate P]\n"
               "                       [--reset-rate P] [--lost-rate P] [--seed N] [--require-auth]\n");
}

static int num(const char *opt, const char *v, double lo, double hi, double *out) {
    char *end = NULL;
    double d = v ? strtod(v, &end) : 0;
    if (!v || !*v || *end || d < lo || d > hi) {
        fprintf(stderr, "plinth-emulator: %s needs a number in [%g, %g], got '%s'\n", opt, lo, hi,
                v ? v : "");
        return -1;
    }
    *out = d;
    return 0;
}

int main(int argc, char **argv) {
    emu_config_t cfg = {.op_scale = 1.0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        double d = 0;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("plinth-emulator %s\n", PLINTH_VERSION);
            return 0;
        } else if (!strcmp(a, "--require-auth")) {
            cfg.require_auth = true;
            continue;
        }
        if (!strcmp(a, "--data") || !strcmp(a, "--log")) {
            if (!v) {
                fprintf(stderr, "plinth-emulator: %s needs a value\n", a);
                return 1;
            }
            if (!strcmp(a, "--data"))
                cfg.data_dir = v;
            else
                cfg.log_path = v;
        } else if (!strcmp(a, "--port")) {
            if (num(a, v, 0, 65535, &d) < 0) return 1;
            cfg.port = (int)d;
        } else if (!strcmp(a, "--op-scale")) {
            if (num(a, v, 0, 1000, &d) < 0) return 1;
            cfg.op_scale = d == 0 ? -1 : d; /* -1: instant (emu_new keeps 0 for <0) */
        } else if (!strcmp(a, "--latency")) {
            if (num(a, v, 0, 600000, &d) < 0) return 1;
            cfg.latency_ms = (int)d;
        } else if (!strcmp(a, "--fault-rate")) {
            if (num(a, v, 0, 1, &d) < 0) return 1;
            cfg.fault_rate = d;
        } else if (!strcmp(a, "--throttle-rate")) {
            if (num(a, v, 0, 1, &d) < 0) return 1;
            cfg.throttle_rate = d;
        } else if (!strcmp(a, "--reset-rate")) {
            if (num(a, v, 0, 1, &d) < 0) return 1;
            cfg.reset_rate = d;
        } else if (!strcmp(a, "--lost-rate")) {
            if (num(a, v, 0, 1, &d) < 0) return 1;
            cfg.lost_rate = d;
        } else if (!strcmp(a, "--seed")) {
            if (num(a, v, 0, 4294967295.0, &d) < 0) return 1;
            cfg.seed = (unsigned)d;
        } else {
            fprintf(stderr, "plinth-emulator: unknown option '%s'\n", a);
            usage(stderr);
            return 1;
        }
        i++;
    }
    if (cfg.fault_rate + cfg.throttle_rate + cfg.reset_rate > 1.0) {
        fprintf(stderr, "plinth-emulator: fault, throttle and reset rates add up to more than 1\n");
        return 1;
    }

    /* Block the signals in every thread; main waits for them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    perr_t e;
    perr_clear(&e);
    emu_t *emu = emu_new(&cfg, &e);
    if (!emu) {
        fprintf(stderr, "plinth-emulator: %s%s%s\n", e.where, e.where[0] ? ": " : "", e.msg);
        return 1;
    }
    if (emu_start(emu, &e) < 0) {
        fprintf(stderr, "plinth-emulator: %s\n", e.msg);
        emu_free(emu);
        return 1;
    }
    printf("http://127.0.0.1:%d\n", emu_port(emu));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    emu_stop(emu);
    emu_free(emu);
    return 0;
}
