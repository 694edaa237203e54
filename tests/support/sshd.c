/* sshd.c: starting and stopping the unit tests' loopback sshd (sshd.h). */
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/util.h"
#include "tests/support/sshd.h"

const char *tsshd_helper(void) {
    static const char *const cands[] = {"tests/integration/lib/sshd.sh", "../tests/integration/lib/sshd.sh",
                                        "../../tests/integration/lib/sshd.sh",
                                        "../../../tests/integration/lib/sshd.sh", NULL};
    for (int i = 0; cands[i]; i++)
        if (access(cands[i], R_OK) == 0) return cands[i];
    return NULL;
}

char *tsshd_slurp(const char *path) {
    perr_t e;
    size_t n;
    char *s = util_read_file(path, &n, &e);
    if (s)
        while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
            s[--n] = 0;
    return s;
}

int tsshd_connectable(int port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = connect(s, (struct sockaddr *)&a, sizeof a) == 0;
    close(s);
    return ok;
}

int tsshd_start(const char *helper, const char *dir, const char *sshd_bin, const char *who, pid_t *pidp,
                int *portp) {
    char out[512], portf[512];
    snprintf(out, sizeof out, "%s/helper.out", dir);
    snprintf(portf, sizeof portf, "%s/port", dir);
    unlink(portf);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 1);
        dup2(fd, 2);
        if (sshd_bin) setenv("SSHD", sshd_bin, 1);
        execl("/bin/sh", "sh", helper, dir, (char *)NULL);
        _exit(127);
    }
    *pidp = pid;
    /* Generous waits: key generation is slow on a loaded CI machine. */
    for (int i = 0; i < 600 && access(portf, R_OK) != 0; i++) {
        int st = 0;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            if (who) fprintf(stderr, "%s: sshd helper exited (status %d) before listening\n", who, st);
            *pidp = 0;
            return 0;
        }
        usleep(50000);
    }
    char *p = tsshd_slurp(portf);
    *portp = p ? atoi(p) : 0;
    free(p);
    for (int i = 0; i < 400 && *portp; i++) {
        if (tsshd_connectable(*portp)) return 1;
        if (waitpid(pid, NULL, WNOHANG) == pid) { /* e.g. the port was taken */
            pid = 0;
            break;
        }
        usleep(50000);
    }
    if (who) {
        char logf[512];
        snprintf(logf, sizeof logf, "%s/sshd.log", dir);
        char *log = tsshd_slurp(logf);
        fprintf(stderr, "%s: sshd on port %d did not accept connections; sshd.log:\n%s\n", who, *portp,
                log ? log : "(none)");
        free(log);
    }
    if (pid) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    *pidp = 0;
    *portp = 0;
    return 0;
}

int tsshd_stop(pid_t pid, const char *dir) {
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    if (dir && dir[0] && !getenv("PLINTH_TEST_KEEP")) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) return -1;
    }
    return 0;
}
