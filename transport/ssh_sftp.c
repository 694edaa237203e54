/* ssh_sftp.c: uploads a file over SFTP on a pooled (non-blocking) session,
 * creating missing parent directories. */
#include "transport/ssh.h"

#include <libssh2_sftp.h>
#include <stdlib.h>
#include <string.h>

/* Gives up on a session that stops answering (a dead connection). */
#define SFTP_WAIT_MS 60000

/* Repeats `expr` (an int-returning libssh2 call) under the session lock
 * while it returns EAGAIN, for at most SFTP_WAIT_MS. */
#define RETRY_INT(c, var, expr)                                                                              \
    for (int64_t dl_ = util_now_ms() + SFTP_WAIT_MS;;) {                                                     \
        ssh_conn_lock(c);                                                                                    \
        var = (expr);                                                                                        \
        int dirs_ = libssh2_session_block_directions(ssh_conn_session(c));                                   \
        ssh_conn_unlock(c);                                                                                  \
        if (var != LIBSSH2_ERROR_EAGAIN) break;                                                              \
        if (util_now_ms() > dl_) {                                                                           \
            var = LIBSSH2_ERROR_TIMEOUT;                                                                     \
            break;                                                                                           \
        }                                                                                                    \
        ssh_conn_wait(c, dirs_);                                                                             \
    }

/* Same for calls returning a pointer (NULL + last_errno EAGAIN); on other
 * failures the message is copied to errbuf under the lock. */
#define RETRY_PTR(c, var, expr, errbuf)                                                                      \
    for (int64_t dl_ = util_now_ms() + SFTP_WAIT_MS;;) {                                                     \
        ssh_conn_lock(c);                                                                                    \
        var = (expr);                                                                                        \
        int err_ = var ? 0 : libssh2_session_last_errno(ssh_conn_session(c));                                \
        int dirs_ = libssh2_session_block_directions(ssh_conn_session(c));                                   \
        if (!var && err_ != LIBSSH2_ERROR_EAGAIN) snprintf(errbuf, sizeof errbuf, "%s", ssh_conn_errmsg(c)); \
        ssh_conn_unlock(c);                                                                                  \
        if (var || err_ != LIBSSH2_ERROR_EAGAIN) break;                                                      \
        if (util_now_ms() > dl_) {                                                                           \
            snprintf(errbuf, sizeof errbuf, "no answer in %d s", SFTP_WAIT_MS / 1000);                       \
            break;                                                                                           \
        }                                                                                                    \
        ssh_conn_wait(c, dirs_);                                                                             \
    }

static const char *sftp_err(unsigned long code) {
    switch (code) {
    case LIBSSH2_FX_NO_SUCH_FILE: return "no such file or directory";
    case LIBSSH2_FX_PERMISSION_DENIED: return "permission denied";
    case LIBSSH2_FX_NO_SUCH_PATH: return "no such path";
    case LIBSSH2_FX_NO_SPACE_ON_FILESYSTEM: return "no space left";
    case LIBSSH2_FX_QUOTA_EXCEEDED: return "quota exceeded";
    case LIBSSH2_FX_FAILURE: return "failure";
    default: return "error";
    }
}

int ssh_sftp_upload(ssh_conn_t *c, const char *remote_path, const char *data, size_t len, int mode,
                    perr_t *e) {
    const char *label = ssh_conn_label(c);
    char errbuf[512] = "";
    LIBSSH2_SFTP *sftp;
    ssh_conn_open_lock(c);
    RETRY_PTR(c, sftp, libssh2_sftp_init(ssh_conn_session(c)), errbuf);
    ssh_conn_open_unlock(c);
    if (!sftp) {
        perr_set(e, "", "ssh %s: cannot start SFTP: %s", label, errbuf);
        return -2;
    }
    int rc = -1, r;
    /* Parents: mkdir each prefix, ignoring failures (most exist already;
     * a real problem shows up when the file is opened). */
    for (const char *sl = strchr(remote_path + 1, '/'); sl; sl = strchr(sl + 1, '/')) {
        char *dir = xstrndup(remote_path, (size_t)(sl - remote_path));
        RETRY_INT(c, r, libssh2_sftp_mkdir_ex(sftp, dir, (unsigned)strlen(dir), 0755));
        free(dir);
    }
    LIBSSH2_SFTP_HANDLE *h;
    RETRY_PTR(c, h,
              libssh2_sftp_open_ex(sftp, remote_path, (unsigned)strlen(remote_path),
                                   LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, mode,
                                   LIBSSH2_SFTP_OPENFILE),
              errbuf);
    if (!h) {
        ssh_conn_lock(c);
        unsigned long code = libssh2_sftp_last_error(sftp);
        ssh_conn_unlock(c);
        perr_set(e, "", "ssh %s: cannot create %s: %s", label, remote_path, code ? sftp_err(code) : errbuf);
        goto out;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w;
        RETRY_INT(c, w, libssh2_sftp_write(h, data + off, len - off));
        if (w < 0) {
            perr_set(e, "", "ssh %s: writing %s failed", label, remote_path);
            break;
        }
        off += (size_t)w;
    }
    RETRY_INT(c, r, libssh2_sftp_close_handle(h));
    if (off == len) {
        if (r)
            perr_set(e, "", "ssh %s: closing %s failed", label, remote_path);
        else
            rc = 0;
    }
out:
    RETRY_INT(c, r, libssh2_sftp_shutdown(sftp));
    return rc;
}
