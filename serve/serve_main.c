/* serve_main.c: `plinth serve` options, start-up and shutdown.
 *   plinth serve [--listen 127.0.0.1:8080] --users FILE [--data DIR] [--modules DIR]...
 *                [--var k=v]... [--backend-config k=v]... [--max-runs N]
 *                [--tls-cert F --tls-key F]
 * Prints "plinth serve: listening on URL" once it accepts connections, and
 * stops on SIGINT/SIGTERM after the runs in flight finish. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/serve.h"

static const char usage[] =
    "usage: plinth serve [--listen 127.0.0.1:8080] --users FILE [--data DIR] [--modules DIR]...\n"
    "                    [--var k=v]... [--backend-config k=v]... [--max-runs N]\n"
    "                    [--tls-cert FILE --tls-key FILE]\n";

/* The plinth binary that runs are made with: this one. */
static char *self_exe(void) {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return NULL;
    buf[n] = '\0';
    return xstrdup(buf);
}

/* Modules shipped beside the binary (bin/../modules, ../share/plinth/modules). */
static void shipped_modules(const char *exe, strlist_t *dirs) {
    char *d = xstrdup(exe);
    char *slash = strrchr(d, '/');
    if (slash) *slash = '\0';
    const char *rel[] = {"../modules", "../share/plinth/modules"};
    for (size_t i = 0; i < 2; i++) {
        char *p = xasprintf("%s/%s", d, rel[i]);
        char real[PATH_MAX];
        struct stat st;
        if (realpath(p, real) && stat(real, &st) == 0 && S_ISDIR(st.st_mode) && !strlist_has(dirs, real))
            strlist_add(dirs, real);
        free(p);
    }
    free(d);
}

static int parse(srv_conf_t *c, int argc, char **argv) {
    c->listen = "127.0.0.1:8080";
    c->data_dir = ".plinth/serve";
    c->max_runs = 4;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(field)                                                                                          \
    if (!v) {                                                                                                \
        fprintf(stderr, "Error: %s needs a value\n%s", a, usage);                                            \
        return -1;                                                                                           \
    }                                                                                                        \
    field;                                                                                                   \
    i++;                                                                                                     \
    continue
        if (!strcmp(a, "--listen")) {
            TAKE(c->listen = v);
        }
        if (!strcmp(a, "--users")) {
            TAKE(c->users_file = v);
        }
        if (!strcmp(a, "--data")) {
            TAKE(c->data_dir = v);
        }
        if (!strcmp(a, "--tls-cert")) {
            TAKE(c->tls_cert = v);
        }
        if (!strcmp(a, "--tls-key")) {
            TAKE(c->tls_key = v);
        }
        if (!strcmp(a, "--plinth")) {
            TAKE(c->plinth = v);
        }
        if (!strcmp(a, "--max-runs")) {
            TAKE(c->max_runs = atoi(v));
        }
        if (!strcmp(a, "--modules")) {
            TAKE(char real[PATH_MAX]; strlist_add(&c->module_dirs, realpath(v, real) ? real : v));
        }
        if (!strcmp(a, "--var")) {
            TAKE(strlist_add(&c->vars, v));
        }
        if (!strcmp(a, "--backend-config")) {
            TAKE(strlist_add(&c->backend_config, v));
        }
#undef TAKE
        fprintf(stderr, "Error: unknown option %s\n%s", a, usage);
        return -1;
    }
    if (!c->users_file) {
        fprintf(stderr, "Error: --users FILE is required: every call needs a token\n%s", usage);
        return -1;
    }
    if (c->max_runs < 1 || c->max_runs > 64) {
        fprintf(stderr, "Error: --max-runs must be 1..64\n");
        return -1;
    }
    return 0;
}

int serve_main(int argc, char **argv, volatile sig_atomic_t *stop) {
    srv_t s;
    memset(&s, 0, sizeof s);
    s.stop = stop;
    int rc = 1;
    perr_t e = {0};
    char *exe = self_exe(), *dbpath = NULL, *envs = NULL;
    if (parse(&s.conf, argc, argv) != 0) goto out;
    if (!s.conf.plinth) s.conf.plinth = exe;
    shipped_modules(exe ? exe : "", &s.conf.module_dirs);
    if (srv_users_load(s.conf.users_file, &s.users, &e) != 0) goto err;
    if (!(s.catalog = srv_catalog_load(&s.conf.module_dirs, &e))) goto err;
    envs = xasprintf("%s/envs", s.conf.data_dir);
    if (util_mkdir_p(envs, &e) != 0) goto err;
    chmod(s.conf.data_dir, 0700); /* plans and state of every environment live here */
    dbpath = xasprintf("%s/serve.db", s.conf.data_dir);
    if (!(s.db = srv_db_open(dbpath, &e))) goto err;
    /* Module directories other than the shipped ones reach runs this way. */
    sbuf_t mp = {0};
    for (size_t i = 0; i < s.conf.module_dirs.n; i++)
        sbuf_addf(&mp, "%s%s", i ? ":" : "", s.conf.module_dirs.v[i]);
    setenv("PLINTH_MODULES", mp.s ? mp.s : "", 1);
    sbuf_free(&mp);
    srv_run_start(&s);
    srv_run_recover(&s);
    if (srv_http_start(&s, &e) != 0) {
        srv_run_stop(&s);
        goto err;
    }
    while (!*stop)
        usleep(100 * 1000);
    fprintf(stderr, "plinth serve: stopping (runs in flight finish first)\n");
    srv_http_stop(&s);
    srv_run_stop(&s);
    rc = 0;
    goto out;
err:
    fprintf(stderr, "Error: %s%s%s\n", e.where, e.where[0] ? ": " : "", e.msg);
out:
    srv_db_close(s.db);
    json_decref(s.catalog);
    srv_users_free(&s.users);
    strlist_free(&s.conf.module_dirs);
    strlist_free(&s.conf.vars);
    strlist_free(&s.conf.backend_config);
    free(dbpath);
    free(envs);
    free(exe);
    return rc;
}
