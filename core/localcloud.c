/* localcloud.c: finding the local cloud of `plinth local up` (see
 * localcloud.h): its pid and URL files, checked against /proc and a TCP
 * connection so that stale files are not taken for a running emulator. */
#include "core/localcloud.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/util.h"

char *localcloud_read_line(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char buf[512];
    char *out = NULL;
    if (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        if (buf[0]) out = xstrdup(buf);
    }
    fclose(f);
    return out;
}

/* A live process whose command line names plinth-emulator (a pid file
 * left by a crash may name another process by now). */
int localcloud_is_emulator(pid_t pid) {
    if (pid <= 0 || kill(pid, 0) != 0) return 0;
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f) {
        int n = (int)fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n > 0 ? n : 0] = '\0';
        const char *rp = strrchr(buf, ')');
        if (rp && rp[1] == ' ' && rp[2] == 'Z') return 0; /* exited, not yet reaped */
    }
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
    f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, "plinth-emulator") != NULL;
}

/* The port of http://127.0.0.1:PORT answers a TCP connection. */
static int url_answers(const char *url) {
    const char *p = strrchr(url, ':');
    int port = p ? atoi(p + 1) : 0;
    if (strncmp(url, "http://127.0.0.1:", 17) != 0 || port <= 0 || port > 65535) return 0;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

pid_t localcloud_pid(const char *dir, char **url) {
    char *pf = xasprintf("%s/emulator.pid", dir), *uf = xasprintf("%s/emulator.url", dir);
    char *ps = localcloud_read_line(pf), *u = localcloud_read_line(uf);
    pid_t pid = ps ? (pid_t)atoi(ps) : 0;
    free(pf);
    free(uf);
    free(ps);
    if (!u || !localcloud_is_emulator(pid) || !url_answers(u)) {
        free(u);
        return 0;
    }
    if (url)
        *url = u;
    else
        free(u);
    return pid;
}

char *localcloud_url(const char *dir) {
    char *url = NULL;
    return localcloud_pid(dir, &url) ? url : NULL;
}
