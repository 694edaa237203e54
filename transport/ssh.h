/* ssh.h: the SSH transport (libssh2, below the ssh and k8s providers): a pool of authenticated sessions
 * shared by all resources of a run, remote command execution with streamed output, SFTP upload, and local
 * port forwarding through a bastion (tunnels) that other providers (k8s) use to reach private endpoints.
 *
 * Connection configuration is a JSON object (borrowed everywhere):
 *   { host, port = 22, user, private_key_file | use_agent = true,
 *     private_key_passphrase, host_key_sha256 = "SHA256:..." |
 *     known_hosts_file, trust_on_first_use = false, connect_timeout = 15,
 *     via = { ...same fields: the bastion } }
 * Without private_key_file, the SSH agent (SSH_AUTH_SOCK) is used.
 *
 * Pooling: sessions are keyed by user@host:port(+via key).  Up to
 * SSH_POOL_CONNS sessions per key, each carrying up to SSH_POOL_CHANNELS
 * leases at once (sshd's MaxSessions defaults to 10 channels); further
 * callers wait.  Sessions run in libssh2's non-blocking mode and every
 * libssh2 call on a session happens under that session's mutex, so several
 * threads multiplex channels over one connection. */
#ifndef PLINTH_SSH_H
#define PLINTH_SSH_H

#include <jansson.h>
#include <libssh2.h>
#include <signal.h>

#include "core/util.h"

#define SSH_POOL_CONNS 4
#define SSH_POOL_CHANNELS 8

typedef struct ssh_pool ssh_pool_t;
typedef struct ssh_conn ssh_conn_t; /* one leased slot on a pooled session */

ssh_pool_t *ssh_pool_new(void);
/* Closes every session and tunnel.  No lease may be outstanding. */
void ssh_pool_free(ssh_pool_t *p);

/* Checks a connection configuration (types, unknown fields, auth choice)
 * without connecting; `what` names it in messages ("via"). */
int ssh_cfg_check(const json_t *cfg, const char *what, perr_t *e);

/* Leases a slot on an authenticated session for cfg, connecting (and
 * verifying the host key) if needed.  NULL with e filled on failure. */
ssh_conn_t *ssh_conn_acquire(ssh_pool_t *p, const json_t *cfg, perr_t *e);
/* Returns the lease; broken != 0 drops the session once unused. */
void ssh_conn_release(ssh_conn_t *c, int broken);
const char *ssh_conn_label(const ssh_conn_t *c); /* "user@host:port" */

/* Runs a script remotely with `sh` (or its #! interpreter), stdin at EOF.
 * env / sensitive_env are objects of strings (may be NULL); they are sent
 * through the channel, never on the remote command line.  Each output line
 * (stdout and stderr, interleaved as they arrive, sensitive values replaced
 * by "<redacted>") goes to on_line.  On return *exit_status is the remote
 * status (128+N for a signal) and *tail (malloc'ed) holds the last
 * SSH_TAIL_LINES lines.  Returns -1 with e filled on transport failure,
 * timeout ("timed out after N s") or cancel ("interrupted"); -2 when the
 * script could not be started (no channel: the session may have died while
 * idle in the pool; nothing ran, so the caller may retry on a new one). */
#define SSH_TAIL_LINES 20
typedef struct ssh_exec_opts {
    const char *script;
    size_t script_len;
    const json_t *env, *sensitive_env;
    int timeout_sec; /* 0: none */
    volatile sig_atomic_t *cancel;
    void (*on_line)(void *ud, const char *line);
    void *ud;
} ssh_exec_opts_t;
int ssh_exec(ssh_conn_t *c, const ssh_exec_opts_t *o, int *exit_status, char **tail, perr_t *e);

/* Writes data to remote_path (parents created) with the given mode.
 * -1 on failure; -2 when SFTP could not even start (see ssh_exec). */
int ssh_sftp_upload(ssh_conn_t *c, const char *remote_path, const char *data, size_t len, int mode,
                    perr_t *e);

/* Local forwarding: listens on 127.0.0.1 (port in *local_port) and forwards
 * each accepted connection over a direct-tcpip channel of the bastion
 * session to target_host:target_port.  Identical (bastion, target) pairs
 * share one tunnel; tunnels live until ssh_pool_free. */
int ssh_tunnel_open(ssh_pool_t *pool, const json_t *bastion_cfg, const char *target_host, int target_port,
                    int *local_port, perr_t *e);

/* ---- internal to providers/ssh ---- */
/* A session of its own (not shared with other leases), for a tunnel. */
ssh_conn_t *ssh_conn_acquire_dedicated(ssh_pool_t *p, const json_t *cfg, perr_t *e);
char *ssh_cfg_key(const json_t *cfg); /* pool key, new string */
/* Every libssh2 call on a session happens between lock and unlock.
 * After LIBSSH2_ERROR_EAGAIN, call ssh_conn_wait (unlocked) before retrying:
 * it polls the socket for up to 10 ms (another thread may have consumed the
 * data meant for this caller's channel, so waits are short). */
void ssh_conn_lock(ssh_conn_t *c);
void ssh_conn_unlock(ssh_conn_t *c);
/* libssh2 keeps the state of a channel open (and of sftp_init) in the
 * session, not the channel: two threads interleaving opens through EAGAIN
 * would finish each other's.  Hold this around the whole open loop. */
void ssh_conn_open_lock(ssh_conn_t *c);
void ssh_conn_open_unlock(ssh_conn_t *c);
LIBSSH2_SESSION *ssh_conn_session(ssh_conn_t *c);
int ssh_conn_socket(ssh_conn_t *c);
void ssh_conn_wait(ssh_conn_t *c, int dirs); /* dirs: libssh2_session_block_directions */
/* Tunnels registered on a pool (ssh_tunnel.c). */
typedef struct ssh_tunnels ssh_tunnels_t;
ssh_tunnels_t *ssh_tunnels_new(ssh_pool_t *p);
ssh_tunnels_t *ssh_pool_tunnels(ssh_pool_t *p);
void ssh_tunnels_free(ssh_tunnels_t *t); /* stops threads, closes everything */
/* Text of the session's last libssh2 error (call under lock). */
const char *ssh_conn_errmsg(ssh_conn_t *c);

#endif
