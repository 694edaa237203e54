/* ssh_tunnel.c: local port forwarding through a bastion.  Each tunnel owns
 * a listening socket on 127.0.0.1, a bastion session of its own, and one
 * thread that poll()s the listener, the accepted client sockets and the
 * session socket, pumping bytes between each client and its direct-tcpip
 * channel.  Also used to reach hosts behind a bastion (`via`). */
#include "transport/ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 32768

typedef struct fwd {
    int fd;
    LIBSSH2_CHANNEL *ch;
    char up[BUF], down[BUF]; /* client->channel, channel->client */
    size_t up_len, up_off, down_len, down_off;
    int client_eof, chan_eof, eof_sent, shut_wr, dead;
    struct fwd *next;
} fwd_t;

typedef struct tunnel {
    char *key;
    char *target;
    int target_port;
    int lfd, port;
    int wake[2];
    ssh_conn_t *conn;
    ssh_pool_t *pool;
    json_t *cfg; /* the bastion's, to reconnect */
    pthread_t th;
    atomic_int stop; /* set by ssh_tunnels_free, read by the tunnel thread */
    fwd_t *fwds;
    struct tunnel *next;
} tunnel_t;

struct ssh_tunnels {
    ssh_pool_t *pool;
    pthread_mutex_t mu;
    tunnel_t *list;
};

ssh_tunnels_t *ssh_tunnels_new(ssh_pool_t *p) {
    ssh_tunnels_t *t = xcalloc(1, sizeof *t);
    t->pool = p;
    /* Recursive: opening a tunnel through a bastion that is itself behind
     * a bastion opens the inner tunnel from within the outer call. */
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&t->mu, &ma);
    pthread_mutexattr_destroy(&ma);
    return t;
}

static void set_nonblock(int fd) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Opens the channel for a new client.  Runs on the tunnel thread, so it
 * may wait (bounded) without hurting other clients for long.  On failure
 * *err is libssh2's code: LIBSSH2_ERROR_CHANNEL_FAILURE means the bastion
 * could not reach the target; others mean the session itself is in
 * trouble. */
static LIBSSH2_CHANNEL *open_channel(tunnel_t *t, int *err) {
    LIBSSH2_SESSION *s = ssh_conn_session(t->conn);
    int64_t deadline = util_now_ms() + 15000;
    for (;;) {
        ssh_conn_lock(t->conn);
        LIBSSH2_CHANNEL *ch =
            libssh2_channel_direct_tcpip_ex(s, t->target, t->target_port, "127.0.0.1", t->port);
        *err = ch ? 0 : libssh2_session_last_errno(s);
        int dirs = libssh2_session_block_directions(s);
        ssh_conn_unlock(t->conn);
        if (ch) return ch;
        if (*err != LIBSSH2_ERROR_EAGAIN || t->stop) return NULL;
        if (util_now_ms() > deadline) {
            *err = LIBSSH2_ERROR_TIMEOUT;
            return NULL;
        }
        ssh_conn_wait(t->conn, dirs);
    }
}

static void fwd_close(tunnel_t *t, fwd_t *f);

/* The bastion session died (idle timeout, bastion restart): drops its
 * forwards and connects a new one.  0 on success. */
static int reconnect(tunnel_t *t) {
    while (t->fwds) {
        fwd_t *f = t->fwds;
        t->fwds = f->next;
        fwd_close(t, f);
    }
    perr_t e;
    ssh_conn_t *nc = ssh_conn_acquire_dedicated(t->pool, t->cfg, &e);
    if (!nc) return -1;
    ssh_conn_release(t->conn, 1);
    t->conn = nc;
    return 0;
}

static void fwd_close(tunnel_t *t, fwd_t *f) {
    if (f->ch) {
        LIBSSH2_SESSION *s = ssh_conn_session(t->conn);
        int64_t deadline = util_now_ms() + 2000;
        for (int phase = 0; phase < 2;) {
            ssh_conn_lock(t->conn);
            int rc = phase == 0 ? libssh2_channel_close(f->ch) : libssh2_channel_free(f->ch);
            int dirs = libssh2_session_block_directions(s);
            ssh_conn_unlock(t->conn);
            if (rc == LIBSSH2_ERROR_EAGAIN && util_now_ms() < deadline) {
                ssh_conn_wait(t->conn, dirs);
                continue;
            }
            phase++;
        }
    }
    if (f->fd >= 0) close(f->fd);
    free(f);
}

/* Moves what can move without blocking; returns 1 if anything moved. */
static int pump(tunnel_t *t, fwd_t *f) {
    int moved = 0;
    if (f->up_off == f->up_len && !f->client_eof) {
        ssize_t n = recv(f->fd, f->up, sizeof f->up, 0);
        if (n > 0) {
            f->up_len = (size_t)n;
            f->up_off = 0;
            moved = 1;
        } else if (n == 0) {
            f->client_eof = 1;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            f->dead = 1;
            return 1;
        }
    }
    ssh_conn_lock(t->conn);
    if (f->up_off < f->up_len) {
        ssize_t w = libssh2_channel_write(f->ch, f->up + f->up_off, f->up_len - f->up_off);
        if (w > 0) {
            f->up_off += (size_t)w;
            moved = 1;
        } else if (w != LIBSSH2_ERROR_EAGAIN) {
            f->dead = 1;
        }
    } else if (f->client_eof && !f->eof_sent) {
        int r = libssh2_channel_send_eof(f->ch);
        if (r != LIBSSH2_ERROR_EAGAIN) f->eof_sent = 1;
    }
    if (f->down_off == f->down_len && !f->chan_eof && !f->dead) {
        ssize_t n = libssh2_channel_read(f->ch, f->down, sizeof f->down);
        if (n > 0) {
            f->down_len = (size_t)n;
            f->down_off = 0;
            moved = 1;
        } else if (n == 0 && libssh2_channel_eof(f->ch)) {
            f->chan_eof = 1;
        } else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
            f->dead = 1;
        }
    }
    ssh_conn_unlock(t->conn);
    if (f->down_off < f->down_len) {
        ssize_t w = send(f->fd, f->down + f->down_off, f->down_len - f->down_off, MSG_NOSIGNAL);
        if (w > 0) {
            f->down_off += (size_t)w;
            moved = 1;
        } else if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            f->dead = 1;
        }
    }
    if (f->chan_eof && f->down_off == f->down_len && !f->shut_wr) {
        shutdown(f->fd, SHUT_WR);
        f->shut_wr = 1;
    }
    if (f->shut_wr && f->client_eof && f->up_off == f->up_len) f->dead = 1;
    return moved;
}

static void *tunnel_main(void *arg) {
    tunnel_t *t = arg;
    size_t cap = 0;
    struct pollfd *pfd = NULL;
    while (!t->stop) {
        size_t n = 3;
        for (fwd_t *f = t->fwds; f; f = f->next)
            n++;
        if (n > cap) {
            cap = n * 2;
            pfd = xrealloc(pfd, cap * sizeof *pfd);
        }
        pfd[0] = (struct pollfd){.fd = t->wake[0], .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = t->lfd, .events = POLLIN};
        pfd[2] = (struct pollfd){.fd = ssh_conn_socket(t->conn), .events = POLLIN};
        size_t i = 3;
        for (fwd_t *f = t->fwds; f; f = f->next, i++) {
            short ev = 0;
            if (f->up_off == f->up_len && !f->client_eof) ev |= POLLIN;
            if (f->down_off < f->down_len) ev |= POLLOUT;
            pfd[i] = (struct pollfd){.fd = f->fd, .events = ev};
        }
        /* Short timeout: data for a channel may already sit in libssh2's
         * buffers with nothing left on the socket to wake us. */
        poll(pfd, n, t->fwds ? 10 : 200);
        if (t->stop) break;
        if (pfd[1].revents & POLLIN) {
            int fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0) {
                set_nonblock(fd);
                int err = 0;
                LIBSSH2_CHANNEL *ch = open_channel(t, &err);
                if (!ch && !t->stop && err != LIBSSH2_ERROR_CHANNEL_FAILURE && reconnect(t) == 0)
                    ch = open_channel(t, &err);
                if (!ch) {
                    close(fd);
                } else {
                    fwd_t *f = xcalloc(1, sizeof *f);
                    f->fd = fd;
                    f->ch = ch;
                    f->next = t->fwds;
                    t->fwds = f;
                }
            }
        }
        int again = 1;
        for (int rounds = 0; again && rounds < 8; rounds++) {
            again = 0;
            for (fwd_t *f = t->fwds; f; f = f->next)
                if (!f->dead) again |= pump(t, f);
        }
        for (fwd_t **pp = &t->fwds; *pp;) {
            fwd_t *f = *pp;
            if (f->dead) {
                *pp = f->next;
                fwd_close(t, f);
            } else {
                pp = &f->next;
            }
        }
    }
    free(pfd);
    return NULL;
}

int ssh_tunnel_open(ssh_pool_t *pool, const json_t *bastion_cfg, const char *target_host, int target_port,
                    int *local_port, perr_t *e) {
    ssh_tunnels_t *ts = ssh_pool_tunnels(pool);
    char *bkey = ssh_cfg_key(bastion_cfg);
    char *key = xasprintf("%s>%s:%d", bkey, target_host, target_port);
    free(bkey);
    /* Held while connecting, so concurrent callers for the same target wait
     * for (and share) the first one's tunnel. */
    pthread_mutex_lock(&ts->mu);
    for (tunnel_t *t = ts->list; t; t = t->next)
        if (strcmp(t->key, key) == 0) {
            *local_port = t->port;
            pthread_mutex_unlock(&ts->mu);
            free(key);
            return 0;
        }
    tunnel_t *t = xcalloc(1, sizeof *t);
    t->key = key;
    t->target = xstrdup(target_host);
    t->target_port = target_port;
    t->lfd = t->wake[0] = t->wake[1] = -1;
    t->pool = pool;
    t->cfg = json_deep_copy(bastion_cfg);
    t->conn = ssh_conn_acquire_dedicated(pool, bastion_cfg, e);
    if (!t->conn) goto err;
    t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (t->lfd < 0 || bind(t->lfd, (struct sockaddr *)&a, sizeof a) || listen(t->lfd, 64) ||
        getsockname(t->lfd, (struct sockaddr *)&a, &al) || pipe2(t->wake, O_CLOEXEC)) {
        perr_set(e, "", "ssh tunnel to %s:%d: cannot listen on 127.0.0.1: %s", target_host, target_port,
                 strerror(errno));
        goto err;
    }
    set_nonblock(t->lfd);
    t->port = ntohs(a.sin_port);
    if (pthread_create(&t->th, NULL, tunnel_main, t)) {
        perr_set(e, "", "ssh tunnel to %s:%d: cannot start its thread", target_host, target_port);
        goto err;
    }
    t->next = ts->list;
    ts->list = t;
    *local_port = t->port;
    pthread_mutex_unlock(&ts->mu);
    return 0;
err:
    pthread_mutex_unlock(&ts->mu);
    if (t->conn) ssh_conn_release(t->conn, 1);
    if (t->lfd >= 0) close(t->lfd);
    if (t->wake[0] >= 0) close(t->wake[0]), close(t->wake[1]);
    json_decref(t->cfg);
    free(t->target);
    free(t->key);
    free(t);
    return -1;
}

void ssh_tunnels_free(ssh_tunnels_t *ts) {
    if (!ts) return;
    while (ts->list) {
        tunnel_t *t = ts->list;
        ts->list = t->next;
        t->stop = 1;
        if (write(t->wake[1], "x", 1) < 0) { /* the thread polls with a timeout anyway */
        }
        pthread_join(t->th, NULL);
        while (t->fwds) {
            fwd_t *f = t->fwds;
            t->fwds = f->next;
            fwd_close(t, f);
        }
        ssh_conn_release(t->conn, 1);
        close(t->lfd);
        close(t->wake[0]);
        close(t->wake[1]);
        json_decref(t->cfg);
        free(t->target);
        free(t->key);
        free(t);
    }
    pthread_mutex_destroy(&ts->mu);
    free(ts);
}
