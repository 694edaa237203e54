/* cli_local.h: the local cloud that stays up (`plinth local up|status|down`).
 *
 * A persistent plinth-emulator per spec directory, its data under
 * <spec dir>/.plinth/local/emulator (the same data a temporary --local
 * emulator uses), its pid and URL in .plinth/local/emulator.pid and
 * emulator.url, its log in .plinth/local/emulator.log (core/localcloud.h
 * finds it). */
#ifndef PLINTH_CLI_LOCAL_H
#define PLINTH_CLI_LOCAL_H

/* `plinth local SUB` for the spec at spec_path: SUB is "up", "status" or
 * "down".  Returns the exit code: 0 done (status: it is up), 1 error
 * (status: it is not up), with the reason on stderr. */
int cli_local(const char *spec_path, const char *sub);

#endif
