/* backend_local.c: state in a local file.  Writes are atomic (temp + fsync
 * + rename) and keep the previous version as "<path>.backup"; the lock is
 * "<path>.lock", created exclusively and holding who/where/why as JSON;
 * the journal of changes since the last write (state_journal.c) is
 * "<path>.journal", appended to and fsynced. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

typedef struct local {
    char *path, *lock_path, *backup_path, *journal_path;
    int jfd;                /* the journal open for appending, or -1 */
    state_lock_info_t held; /* our lock, held.id[0] == 0 when none */
    time_t heartbeat_at;    /* when we last refreshed held.heartbeat */
} local_t;

/* Seconds between heartbeat refreshes of our lock file from write(). */
#define HEARTBEAT_EVERY 10

static int dir_of(const char *path, perr_t *e) {
    char *d = xstrdup(path);
    int rc = util_mkdir_p(dirname(d), e);
    free(d);
    return rc;
}

static int local_read(backend_t *b, char **data, size_t *len, perr_t *e) {
    local_t *l = b->impl;
    *data = NULL;
    *len = 0;
    char *buf = util_read_file(l->path, len, e);
    if (!buf) {
        if (access(l->path, F_OK) != 0 && errno == ENOENT) {
            perr_clear(e);
            return 0;
        }
        return -1;
    }
    *data = buf;
    return 0;
}

/* Reads the lock file: 1 present (li filled), 0 absent, -1 unreadable or
 * corrupt (e filled). */
static int read_lock(local_t *l, state_lock_info_t *li, perr_t *e) {
    size_t len = 0;
    char *buf = util_read_file(l->lock_path, &len, e);
    if (!buf) {
        if (access(l->lock_path, F_OK) != 0 && errno == ENOENT) {
            perr_clear(e);
            return 0;
        }
        return -1;
    }
    int rc = state_lock_parse(buf, len, l->lock_path, li, e);
    free(buf);
    if (rc != 0) {
        perr_wrap(e,
                  "state is locked, but the lock file %s cannot be read (a run may be "
                  "creating it right now; if no run is active, delete that file)",
                  l->lock_path);
        return -1;
    }
    return 1;
}

/* Rewrites our lock file with a fresh heartbeat, if we still hold it. */
static void heartbeat(local_t *l) {
    time_t now = time(NULL);
    if (!l->held.id[0] || now - l->heartbeat_at < HEARTBEAT_EVERY) return;
    perr_t e;
    state_lock_info_t cur;
    if (read_lock(l, &cur, &e) != 1 || strcmp(cur.id, l->held.id) != 0) return;
    util_rfc3339(l->held.heartbeat, (int64_t)now);
    char *json = state_lock_json(&l->held);
    if (util_write_atomic(l->lock_path, json, strlen(json), &e) == 0) l->heartbeat_at = now;
    free(json);
}

/* Keeps the current file as the backup: a hard link renamed into place
 * (atomic, no copy); a copy written atomically where links fail. */
static int keep_backup(local_t *l, perr_t *e) {
    char *tmp = xasprintf("%s.tmp.%d", l->backup_path, (int)getpid());
    unlink(tmp);
    int rc = 0;
    if (link(l->path, tmp) == 0) {
        if (rename(tmp, l->backup_path) != 0) {
            perr_set(e, l->backup_path, "cannot keep backup: %s", strerror(errno));
            rc = -1;
        }
        unlink(tmp); /* left over when tmp and backup already were one file */
    } else if (errno != ENOENT) {
        size_t len = 0;
        char *cur = util_read_file(l->path, &len, e);
        if (cur) {
            rc = util_write_atomic(l->backup_path, cur, len, e);
            free(cur);
        } else if (errno != ENOENT) {
            rc = -1;
        }
    }
    free(tmp);
    return rc;
}

/* Writes all of data to fd (and fsyncs it when sync); 0 or -1 (errno set). */
static int write_out(int fd, const char *data, size_t len, bool sync) {
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        off += (size_t)w;
    }
    return sync ? fsync(fd) : 0;
}

static int write_all(int fd, const char *data, size_t len) {
    return write_out(fd, data, len, true);
}

static void journal_close(local_t *l) {
    if (l->jfd >= 0) close(l->jfd);
    l->jfd = -1;
}

/* A fresh journal appears whole (temp + rename); later groups are
 * appended to it and fsynced: one small write and one fsync per group. */
static int local_journal_append(backend_t *b, const char *data, size_t len, bool fresh, bool sync,
                                perr_t *e) {
    local_t *l = b->impl;
    if (fresh) {
        journal_close(l);
        if (util_write_atomic(l->journal_path, data, len, e) != 0) return -1;
        heartbeat(l);
        return 0;
    }
    if (l->jfd < 0) l->jfd = open(l->journal_path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (l->jfd < 0 || write_out(l->jfd, data, len, sync) != 0) {
        perr_set(e, l->journal_path, "cannot append to the state journal: %s", strerror(errno));
        journal_close(l);
        return -1;
    }
    heartbeat(l);
    return 0;
}

static int local_journal_read(backend_t *b, char **data, size_t *len, perr_t *e) {
    local_t *l = b->impl;
    *data = util_read_file(l->journal_path, len, e);
    if (!*data && access(l->journal_path, F_OK) != 0 && errno == ENOENT) {
        perr_clear(e);
        return 0;
    }
    return *data ? 0 : -1;
}

static int local_journal_clear(backend_t *b, perr_t *e) {
    local_t *l = b->impl;
    journal_close(l);
    if (unlink(l->journal_path) != 0 && errno != ENOENT) {
        perr_set(e, l->journal_path, "cannot remove the state journal: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static int local_write(backend_t *b, const char *data, size_t len, perr_t *e) {
    local_t *l = b->impl;
    if (dir_of(l->path, e) != 0) return -1;
    if (keep_backup(l, e) != 0) return -1;
    if (util_write_atomic(l->path, data, len, e) != 0) return -1;
    heartbeat(l);
    return 0;
}

/* Creates the lock file exclusively, complete from its first instant: the
 * JSON goes to a private temp file that is then hard-linked to the lock
 * name (link fails with EEXIST like O_EXCL, so a reader never sees a
 * half-written lock).  Where links are unsupported, O_CREAT|O_EXCL and a
 * write.  Returns 0 created, 1 exists, -1 error. */
static int create_lock_file(local_t *l, const char *json, perr_t *e) {
    char rnd[9];
    util_random_hex(rnd, 4);
    char *tmp = xasprintf("%s.tmp.%d.%s", l->lock_path, (int)getpid(), rnd);
    int rc = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0) {
        perr_set(e, l->lock_path, "cannot create lock file %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    if (write_all(fd, json, strlen(json)) != 0) {
        perr_set(e, l->lock_path, "cannot write lock file %s: %s", tmp, strerror(errno));
        close(fd);
        goto out;
    }
    close(fd);
    if (link(tmp, l->lock_path) == 0) {
        rc = 0;
    } else if (errno == EEXIST) {
        rc = 1;
    } else if (errno == EPERM || errno == ENOTSUP || errno == EOPNOTSUPP || errno == EXDEV) {
        fd = open(l->lock_path, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0) {
            rc = errno == EEXIST ? 1 : -1;
            if (rc < 0) perr_set(e, l->lock_path, "cannot create lock file: %s", strerror(errno));
        } else if (write_all(fd, json, strlen(json)) != 0) {
            perr_set(e, l->lock_path, "cannot write lock file: %s", strerror(errno));
            close(fd);
            unlink(l->lock_path);
        } else {
            close(fd);
            rc = 0;
        }
    } else {
        perr_set(e, l->lock_path, "cannot create lock file: %s", strerror(errno));
    }
out:
    unlink(tmp);
    free(tmp);
    return rc;
}

/* Removes the lock file if it still holds the stale lock cur.  Takeovers
 * serialise on flock of "<lock>.takeover", and nobody else removes a lock
 * whose holder is gone, so the file checked is the file removed: a fresh
 * lock can only appear once it is gone (created exclusively).  0 removed,
 * -1 not (someone else took it first). */
static int remove_stale(local_t *l, const state_lock_info_t *cur) {
    char *gpath = xasprintf("%s.takeover", l->lock_path);
    int fd = open(gpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    free(gpath);
    if (fd < 0) return -1;
    int rc = -1;
    if (flock(fd, LOCK_EX) == 0) {
        state_lock_info_t now;
        perr_t e;
        char why[200];
        if (read_lock(l, &now, &e) == 1 && strcmp(now.id, cur->id) == 0 &&
            state_lock_stale(&now, 0, why, sizeof why))
            rc = unlink(l->lock_path) == 0 ? 0 : -1;
        flock(fd, LOCK_UN);
    }
    close(fd);
    return rc;
}

static int local_lock_try(backend_t *b, const char *op, state_lock_info_t *out, int tries, perr_t *e) {
    local_t *l = b->impl;
    state_lock_info_t li;
    state_lock_init(&li, op);
    char *json = state_lock_json(&li);
    int created = create_lock_file(l, json, e);
    free(json);
    if (created < 0) return -1;
    if (created == 1) {
        state_lock_info_t cur;
        int rc = read_lock(l, &cur, e);
        if (rc == 0) { /* released between our attempt and read: try again */
            if (tries > 0) return local_lock_try(b, op, out, tries - 1, e);
            perr_set(e, b->describe, "state lock %s keeps appearing and vanishing", l->lock_path);
            return -1;
        }
        char why[200];
        if (rc == 1 && tries > 0 && state_lock_stale(&cur, 0, why, sizeof why) &&
            remove_stale(l, &cur) == 0) {
            snprintf(b->lock_note, sizeof b->lock_note,
                     "took over the state lock %s of %s@%s (pid %d, %s since %s): %s", cur.id, cur.who,
                     cur.host, cur.pid, cur.op, cur.created, why);
            return local_lock_try(b, op, out, tries - 1, e);
        }
        if (rc == 1) {
            state_lock_held_error(e, b->describe, &cur);
            if (out) *out = cur;
        }
        return -1;
    }
    l->held = li;
    l->heartbeat_at = time(NULL);
    if (out) *out = li;
    return 0;
}

static int local_lock(backend_t *b, const char *op, state_lock_info_t *out, perr_t *e) {
    local_t *l = b->impl;
    b->lock_note[0] = '\0';
    if (dir_of(l->lock_path, e) != 0) return -1;
    return local_lock_try(b, op, out, 5, e);
}

static int local_unlock(backend_t *b, const char *id, perr_t *e) {
    local_t *l = b->impl;
    state_lock_info_t cur;
    int rc = read_lock(l, &cur, e);
    if (rc < 0) return -1;
    if (rc == 0) {
        perr_set(e, b->describe, "state is not locked (no %s)", l->lock_path);
        return -1;
    }
    if (!id || strcmp(cur.id, id) != 0) {
        state_lock_held_error(e, b->describe, &cur);
        perr_wrap(e, "lock ID %s does not match the current lock", id ? id : "(none)");
        return -1;
    }
    if (unlink(l->lock_path) != 0 && errno != ENOENT) {
        perr_set(e, l->lock_path, "cannot remove lock file: %s", strerror(errno));
        return -1;
    }
    if (strcmp(l->held.id, id) == 0) memset(&l->held, 0, sizeof l->held);
    return 0;
}

static int local_lock_info(backend_t *b, state_lock_info_t *out, perr_t *e) {
    local_t *l = b->impl;
    state_lock_info_t cur;
    int rc = read_lock(l, &cur, e);
    if (rc == 1 && out) *out = cur;
    return rc;
}

static void local_free(backend_t *b) {
    if (!b) return;
    local_t *l = b->impl;
    free(l->path);
    free(l->lock_path);
    free(l->backup_path);
    free(l->journal_path);
    journal_close(l);
    free(l);
    free(b->describe);
    free(b);
}

backend_t *backend_local_new(const char *path) {
    backend_t *b = xcalloc(1, sizeof *b);
    local_t *l = xcalloc(1, sizeof *l);
    l->path = xstrdup(path);
    l->lock_path = xasprintf("%s.lock", path);
    l->backup_path = xasprintf("%s.backup", path);
    l->journal_path = xasprintf("%s.journal", path);
    l->jfd = -1;
    b->kind = "local";
    b->read = local_read;
    b->write = local_write;
    b->lock = local_lock;
    b->unlock = local_unlock;
    b->lock_info = local_lock_info;
    b->journal_append = local_journal_append;
    b->journal_read = local_journal_read;
    b->journal_clear = local_journal_clear;
    b->free = local_free;
    b->describe = xasprintf("local state %s", path);
    b->impl = l;
    return b;
}
