/* sshd.h: a real OpenSSH sshd on loopback for unit tests, started through
 * tests/integration/lib/sshd.sh (which writes its keys, config, log and
 * port file into a directory). */
#ifndef PLINTH_TEST_SSHD_H
#define PLINTH_TEST_SSHD_H

#include <sys/types.h>

/* The helper script, found from the working directory or up to three
 * levels above it, or NULL. */
const char *tsshd_helper(void);
/* A file's contents without trailing newlines (new), or NULL. */
char *tsshd_slurp(const char *path);
/* 1 when 127.0.0.1:port accepts a TCP connection. */
int tsshd_connectable(int port);
/* One attempt at starting sshd: runs the helper on dir (with SSHD=sshd_bin
 * in its environment unless NULL), waits for its port file, then for the
 * port to accept.  Returns 1 running (*pid, *port set), 0 failed (nothing
 * left running, both 0), -1 when fork failed.  who: the test's name for
 * diagnostics on stderr, or NULL for none. */
int tsshd_start(const char *helper, const char *dir, const char *sshd_bin, const char *who, pid_t *pid,
                int *port);
/* Stops sshd (when pid > 0) and removes dir (when set) unless
 * PLINTH_TEST_KEEP is; -1 when the removal failed. */
int tsshd_stop(pid_t pid, const char *dir);

#endif
