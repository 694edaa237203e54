/* localcloud.h: the local cloud that `plinth local up` leaves running (one
 * plinth-emulator per spec directory, started by core/cli_local.c), as the
 * engine and the CLI find it: DIR is the spec's .plinth/local directory,
 * holding emulator.pid and emulator.url. */
#ifndef PLINTH_LOCALCLOUD_H
#define PLINTH_LOCALCLOUD_H

#include <sys/types.h>

/* The URL of the local cloud running from DIR, or NULL when none runs
 * (stale files are ignored).  The caller frees it. */
char *localcloud_url(const char *dir);

/* Its pid (and URL in *url, freed by the caller, when url is not NULL), or
 * 0 when none runs. */
pid_t localcloud_pid(const char *dir, char **url);

/* pid is a live (not zombie) plinth-emulator process. */
int localcloud_is_emulator(pid_t pid);

/* The first line of a file without its newline, or NULL (missing, empty). */
char *localcloud_read_line(const char *path);

#endif
