/* cli_local.c: `plinth local up|status|down`: the local cloud (a
 * plinth-emulator) that outlives the command, one per spec directory (see
 * cli_local.h; core/localcloud.c finds it for --local). */
#include "core/cli_local.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/localcloud.h"
#include "core/util.h"

#define UP_TIMEOUT_MS 15000
#define DOWN_TIMEOUT_MS 10000

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* <absolute spec dir>/.plinth/local */
static char *local_dir_of(const char *spec_path) {
    char *copy = xstrdup(spec_path);
    char abs[PATH_MAX];
    const char *dir = dirname(copy);
    char *out = xasprintf("%s/.plinth/local", realpath(dir, abs) ? abs : dir);
    free(copy);
    return out;
}

static void remove_files(const char *dir) {
    char *pf = xasprintf("%s/emulator.pid", dir), *uf = xasprintf("%s/emulator.url", dir);
    unlink(pf);
    unlink(uf);
    free(pf);
    free(uf);
}

static int write_file(const char *dir, const char *name, const char *text) {
    char *path = xasprintf("%s/%s", dir, name);
    perr_t err = {0};
    int rc = util_write_atomic(path, text, strlen(text), &err);
    if (rc != 0) fprintf(stderr, "Error: %s\n", err.msg);
    free(path);
    return rc;
}

static void print_status(const char *dir, pid_t pid, const char *url) {
    printf("The local cloud is up: %s (pid %d, data in %s/emulator)\n\n", url, (int)pid, dir);
    printf("Point gcloud at it:\n"
           "  export CLOUDSDK_AUTH_DISABLE_CREDENTIALS=1\n");
    static const char *const apis[][2] = {
        {"COMPUTE", "compute/compute/v1/"},
        {"STORAGE", "storage/storage/v1/"},
        {"CONTAINER", "container/"},
        {"IAM", "iam/"},
        {"SQL", "sqladmin/"},
        {"SECRETMANAGER", "secretmanager/"},
        {"ARTIFACTREGISTRY", "artifactregistry/"},
        {"CLOUDRESOURCEMANAGER", "cloudresourcemanager/"},
        {"SERVICEUSAGE", "serviceusage/"},
    };
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
        printf("  export CLOUDSDK_API_ENDPOINT_OVERRIDES_%s=%s/%s\n", apis[i][0], url, apis[i][1]);
    printf("\nPoint kubectl at its cluster (once applied):\n"
           "  plinth --local kubeconfig > %s/kubeconfig && export KUBECONFIG=%s/kubeconfig\n"
           "\nStop it: plinth local down\n",
           dir, dir);
}

/* The directory of the running executable (bin/plinth-emulator beside it). */
static char *emulator_path(void) {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return xstrdup("plinth-emulator");
    buf[n] = '\0';
    return xasprintf("%s/plinth-emulator", dirname(buf));
}

/* Starts the emulator in a session of its own, its output in the log;
 * returns its pid and the URL it printed first, or 0. */
static pid_t spawn(const char *dir, char **url) {
    char *emu = emulator_path(), *data = xasprintf("%s/emulator", dir),
         *log = xasprintf("%s/emulator.log", dir);
    pid_t pid = 0;
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (access(emu, X_OK) != 0 || fd < 0) {
        fprintf(stderr, "Error: plinth local up needs %s (build it with make) and a writable %s\n", emu, log);
        goto out;
    }
    pid = fork();
    if (pid == 0) {
        setsid();
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(emu, emu, "--port", "0", "--data", data, (char *)NULL);
        _exit(127);
    }
    close(fd);
    fd = -1;
    for (int waited = 0; pid > 0; waited += 50) {
        char *first = localcloud_read_line(log);
        if (first && strncmp(first, "http://", 7) == 0) {
            *url = first;
            break;
        }
        free(first);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid || waited >= UP_TIMEOUT_MS) {
            if (waited >= UP_TIMEOUT_MS) kill(pid, SIGKILL);
            fprintf(stderr, "Error: the local emulator did not start (see %s)\n", log);
            pid = 0;
            break;
        }
        sleep_ms(50);
    }
out:
    if (fd >= 0) close(fd);
    free(emu);
    free(data);
    free(log);
    return pid;
}

static int local_up(const char *dir) {
    char *url = NULL;
    pid_t pid = localcloud_pid(dir, &url);
    if (pid) {
        printf("The local cloud was already up.\n");
    } else {
        perr_t err = {0};
        if (util_mkdir_p(dir, &err) != 0) {
            fprintf(stderr, "Error: %s\n", err.msg);
            return 1;
        }
        remove_files(dir);
        pid = spawn(dir, &url);
        if (!pid) return 1;
        char ps[32];
        snprintf(ps, sizeof ps, "%d\n", (int)pid);
        char *us = xasprintf("%s\n", url);
        int rc = write_file(dir, "emulator.url", us) || write_file(dir, "emulator.pid", ps);
        free(us);
        if (rc) {
            kill(pid, SIGTERM);
            free(url);
            return 1;
        }
    }
    print_status(dir, pid, url);
    free(url);
    return 0;
}

static int local_down(const char *dir) {
    pid_t pid = localcloud_pid(dir, NULL);
    if (!pid) {
        remove_files(dir);
        printf("No local cloud is running for %s.\n", dir);
        return 0;
    }
    kill(pid, SIGTERM);
    int waited = 0;
    while (localcloud_is_emulator(pid) && waited < DOWN_TIMEOUT_MS) {
        sleep_ms(50);
        waited += 50;
    }
    if (localcloud_is_emulator(pid)) {
        kill(pid, SIGKILL);
        sleep_ms(100);
    }
    remove_files(dir);
    printf("The local cloud is down; its data stays in %s/emulator (plinth local up brings it back).\n", dir);
    return 0;
}

int cli_local(const char *spec_path, const char *sub) {
    char *dir = local_dir_of(spec_path);
    int rc = 1;
    if (sub && !strcmp(sub, "up")) {
        rc = local_up(dir);
    } else if (sub && !strcmp(sub, "down")) {
        rc = local_down(dir);
    } else if (sub && !strcmp(sub, "status")) {
        char *url = NULL;
        pid_t pid = localcloud_pid(dir, &url);
        if (pid) {
            print_status(dir, pid, url);
            rc = 0;
        } else {
            printf("No local cloud is running for %s: start it with plinth local up\n", dir);
        }
        free(url);
    } else {
        fprintf(stderr, "Error: usage: plinth local up | status | down\n");
    }
    free(dir);
    return rc;
}
