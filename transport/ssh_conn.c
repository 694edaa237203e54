/* ssh_conn.c: libssh2 sessions (transport/, used by the ssh and k8s providers): TCP connect (directly
 * or through a bastion tunnel), host key verification (pinned SHA-256
 * fingerprint, known_hosts file or trust on first use), public key / agent
 * authentication, and the pool that shares sessions between resources. */
#include "transport/ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct ssh_host;

/* One TCP connection + libssh2 session.  `users` counts leases. */
typedef struct ssh_sess {
    struct ssh_host *host;
    LIBSSH2_SESSION *s;
    int sock;
    pthread_mutex_t mu;
    pthread_mutex_t open_mu; /* one channel / SFTP open in flight at a time */
    int users, broken, dedicated;
    struct ssh_sess *next;
} ssh_sess_t;

/* A lease handed out by ssh_conn_acquire. */
struct ssh_conn {
    ssh_pool_t *pool;
    ssh_sess_t *sess;
};

typedef struct ssh_host {
    char *key;   /* user@host:port[+via-key] */
    char *label; /* user@host:port */
    ssh_sess_t *sessions;
    int nshared; /* shared sessions, including ones being connected */
    struct ssh_host *next;
} ssh_host_t;

struct ssh_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    ssh_host_t *hosts;
    ssh_tunnels_t *tunnels;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static void lib_init(void) {
    libssh2_init(0);
}

/* ---- configuration ---- */

typedef struct ssh_cfg {
    const char *host, *user, *key_file, *passphrase, *host_key, *known_hosts;
    int port, use_agent, tofu, connect_timeout;
    const json_t *via;
} ssh_cfg_t;

static const char *const cfg_fields[] = {"host",
                                         "port",
                                         "user",
                                         "private_key_file",
                                         "private_key_passphrase",
                                         "use_agent",
                                         "host_key_sha256",
                                         "known_hosts_file",
                                         "trust_on_first_use",
                                         "connect_timeout",
                                         "via",
                                         NULL};

static int str_field(const json_t *cfg, const char *name, const char *what, const char **out, perr_t *e) {
    json_t *v = json_object_get(cfg, name);
    *out = NULL;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) {
        perr_set(e, "", "%s%s%s: expected a string", what, *what ? "." : "", name);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

static int int_field(const json_t *cfg, const char *name, const char *what, int dflt, int *out, perr_t *e) {
    json_t *v = json_object_get(cfg, name);
    *out = dflt;
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) {
        *out = (int)json_integer_value(v);
        return 0;
    }
    if (json_is_real(v) && json_real_value(v) == (double)(int)json_real_value(v)) {
        *out = (int)json_real_value(v);
        return 0;
    }
    perr_set(e, "", "%s%s%s: expected an integer", what, *what ? "." : "", name);
    return -1;
}

static int bool_field(const json_t *cfg, const char *name, const char *what, int *out, perr_t *e) {
    json_t *v = json_object_get(cfg, name);
    *out = 0;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) {
        perr_set(e, "", "%s%s%s: expected true or false", what, *what ? "." : "", name);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

static int cfg_parse(const json_t *cfg, const char *what, ssh_cfg_t *c, perr_t *e) {
    memset(c, 0, sizeof *c);
    if (!json_is_object(cfg)) {
        perr_set(e, "", "%s: expected a table of connection settings", *what ? what : "ssh");
        return -1;
    }
    json_t *v;
    if (str_field(cfg, "host", what, &c->host, e) || str_field(cfg, "user", what, &c->user, e) ||
        str_field(cfg, "private_key_file", what, &c->key_file, e) ||
        str_field(cfg, "private_key_passphrase", what, &c->passphrase, e) ||
        str_field(cfg, "host_key_sha256", what, &c->host_key, e) ||
        str_field(cfg, "known_hosts_file", what, &c->known_hosts, e) ||
        int_field(cfg, "port", what, 22, &c->port, e) ||
        int_field(cfg, "connect_timeout", what, 15, &c->connect_timeout, e) ||
        bool_field(cfg, "use_agent", what, &c->use_agent, e) ||
        bool_field(cfg, "trust_on_first_use", what, &c->tofu, e))
        return -1;
    const char *pre = *what ? what : "", *dot = *what ? "." : "";
    if (!c->host || !*c->host) {
        perr_set(e, "", "%s%shost: required (the address to connect to)", pre, dot);
        return -1;
    }
    if (!c->user || !*c->user) {
        perr_set(e, "", "%s%suser: required (the login user)", pre, dot);
        return -1;
    }
    if (c->port < 1 || c->port > 65535) {
        perr_set(e, "", "%s%sport: %d is not a TCP port (1-65535)", pre, dot, c->port);
        return -1;
    }
    if (c->key_file && c->use_agent) {
        perr_set(e, "", "%s%suse_agent and private_key_file are exclusive: set one", pre, dot);
        return -1;
    }
    if (c->host_key && strncmp(c->host_key, "SHA256:", 7) != 0) {
        perr_set(e, "",
                 "%s%shost_key_sha256: expected \"SHA256:<base64>\" as printed by "
                 "ssh-keygen -lf, got \"%s\"",
                 pre, dot, c->host_key);
        return -1;
    }
    if (c->connect_timeout <= 0) c->connect_timeout = 15;
    v = json_object_get(cfg, "via");
    if (v && !json_is_null(v)) c->via = v;
    return 0;
}

int ssh_cfg_check(const json_t *cfg, const char *what, perr_t *e) {
    ssh_cfg_t c;
    if (cfg_parse(cfg, what, &c, e)) return -1;
    if (c.via) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)c.via, k, v) {
            int ok = 0;
            for (const char *const *f = cfg_fields; *f; f++)
                ok |= strcmp(*f, k) == 0;
            if (!ok) {
                perr_set(e, "",
                         "via.%s: unknown field (known: host, port, user, private_key_file, "
                         "use_agent, private_key_passphrase, host_key_sha256, "
                         "known_hosts_file, trust_on_first_use, connect_timeout, via)",
                         k);
                return -1;
            }
        }
        char *w = xasprintf("%s%svia", what, *what ? "." : "");
        int rc = ssh_cfg_check(c.via, w, e);
        free(w);
        return rc;
    }
    return 0;
}

char *ssh_cfg_key(const json_t *cfg) {
    ssh_cfg_t c;
    perr_t e;
    if (cfg_parse(cfg, "", &c, &e)) return xstrdup("?");
    if (!c.via) return xasprintf("%s@%s:%d", c.user, c.host, c.port);
    char *vk = ssh_cfg_key(c.via);
    char *k = xasprintf("%s@%s:%d+%s", c.user, c.host, c.port, vk);
    free(vk);
    return k;
}

/* ---- connecting ---- */

static char *expand_home(const char *path) {
    if (path[0] == '~' && (path[1] == '/' || !path[1])) {
        const char *home = getenv("HOME");
        return xasprintf("%s%s", home ? home : "", path + 1);
    }
    return xstrdup(path);
}

/* TCP connect with a timeout; returns the socket or -1. */
static int tcp_connect(const char *host, int port, int timeout_s, perr_t *e, const char *label) {
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc) {
        perr_set(e, "", "ssh %s: cannot resolve %s: %s", label, host, gai_strerror(rc));
        return -1;
    }
    int fd = -1, err = 0;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        int fl = fcntl(fd, F_GETFL);
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            fcntl(fd, F_SETFL, fl);
            break;
        }
        err = errno;
        if (errno == EINPROGRESS) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            int n = poll(&pfd, 1, timeout_s * 1000);
            socklen_t sl = sizeof err;
            if (n == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) == 0 && err == 0) {
                fcntl(fd, F_SETFL, fl);
                break;
            }
            if (n == 0) err = ETIMEDOUT;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        perr_set(e, "", "ssh %s: cannot connect: %s", label, strerror(err ? err : ECONNREFUSED));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static const char *sess_err(LIBSSH2_SESSION *s) {
    char *m = NULL;
    libssh2_session_last_error(s, &m, NULL, 0);
    return m && *m ? m : "unknown error";
}

/* "SHA256:" + unpadded base64 of the host key's SHA-256, like ssh-keygen -l. */
static void fingerprint(LIBSSH2_SESSION *s, char out[64]) {
    const unsigned char *h = (const unsigned char *)libssh2_hostkey_hash(s, LIBSSH2_HOSTKEY_HASH_SHA256);
    if (!h) {
        snprintf(out, 64, "SHA256:?");
        return;
    }
    unsigned char b64[64];
    int n = EVP_EncodeBlock(b64, h, 32);
    while (n > 0 && b64[n - 1] == '=')
        n--;
    b64[n] = 0;
    memcpy(out, "SHA256:", 7);
    memcpy(out + 7, b64, (size_t)n + 1); /* 43 chars + NUL */
}

static int knownhost_type(int hostkey_type) {
    switch (hostkey_type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA: return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case LIBSSH2_HOSTKEY_TYPE_DSS: return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256: return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384: return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521: return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case LIBSSH2_HOSTKEY_TYPE_ED25519: return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default: return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
    }
}

static int verify_host_key(LIBSSH2_SESSION *s, const ssh_cfg_t *c, const char *label, perr_t *e) {
    char fp[64];
    fingerprint(s, fp);
    if (c->host_key) {
        /* ssh-keygen prints no padding; accept a pin written with it. */
        size_t n = strlen(c->host_key);
        while (n > 7 && c->host_key[n - 1] == '=')
            n--;
        if (strlen(fp) == n && strncmp(fp, c->host_key, n) == 0) return 0;
        perr_set(e, "",
                 "ssh %s: HOST KEY MISMATCH: expected %s, the server presented %s "
                 "(possible man-in-the-middle, or the host was rebuilt: update host_key_sha256 "
                 "if the change is expected)",
                 label, c->host_key, fp);
        return -1;
    }
    if (c->known_hosts) {
        char *path = expand_home(c->known_hosts);
        LIBSSH2_KNOWNHOSTS *kh = libssh2_knownhost_init(s);
        int rc = -1;
        if (libssh2_knownhost_readfile(kh, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0 && !c->tofu) {
            perr_set(e, "", "ssh %s: cannot read known_hosts_file %s: %s", label, path, sess_err(s));
            goto out;
        }
        size_t klen = 0;
        int ktype = 0;
        const char *key = libssh2_session_hostkey(s, &klen, &ktype);
        struct libssh2_knownhost *found = NULL;
        int chk = libssh2_knownhost_checkp(
            kh, c->host, c->port, key, klen,
            LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | knownhost_type(ktype), &found);
        if (chk == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
            rc = 0;
        } else if (chk == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
            perr_set(e, "",
                     "ssh %s: HOST KEY MISMATCH with %s: the server presented %s "
                     "(possible man-in-the-middle, or the host was rebuilt)",
                     label, path, fp);
        } else if (c->tofu) {
            char *name = c->port == 22 ? xstrdup(c->host) : xasprintf("[%s]:%d", c->host, c->port);
            libssh2_knownhost_addc(
                kh, name, NULL, key, klen, NULL, 0,
                LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | knownhost_type(ktype), NULL);
            free(name);
            libssh2_knownhost_writefile(kh, path, LIBSSH2_KNOWNHOST_FILE_OPENSSH);
            rc = 0;
        } else {
            perr_set(e, "",
                     "ssh %s: host key %s is not in known_hosts_file %s (add it, set "
                     "host_key_sha256 = \"%s\", or trust_on_first_use = true)",
                     label, fp, path, fp);
        }
    out:
        libssh2_knownhost_free(kh);
        free(path);
        return rc;
    }
    if (c->tofu) return 0;
    perr_set(e, "",
             "ssh %s: the host key is not pinned; the server presented %s: set "
             "host_key_sha256 = \"%s\" (or known_hosts_file, or trust_on_first_use = true)",
             label, fp, fp);
    return -1;
}

static int authenticate(LIBSSH2_SESSION *s, const ssh_cfg_t *c, const char *label, perr_t *e) {
    unsigned ulen = (unsigned)strlen(c->user);
    if (c->key_file) {
        char *path = expand_home(c->key_file);
        if (access(path, R_OK) != 0) {
            perr_set(e, "", "ssh %s: cannot read private_key_file %s: %s", label, path, strerror(errno));
            free(path);
            return -1;
        }
        int rc = libssh2_userauth_publickey_fromfile_ex(s, c->user, ulen, NULL, path, c->passphrase);
        free(path);
        if (rc == 0) return 0;
        perr_set(e, "", "authentication failed for %s (publickey): %s", label,
                 rc == LIBSSH2_ERROR_FILE ? "cannot load the private key (wrong passphrase or format?)"
                                          : sess_err(s));
        return -1;
    }
    if (!getenv("SSH_AUTH_SOCK")) {
        perr_set(e, "",
                 "ssh %s: no authentication configured: set private_key_file, or use_agent "
                 "with SSH_AUTH_SOCK pointing to a running ssh-agent",
                 label);
        return -1;
    }
    LIBSSH2_AGENT *ag = libssh2_agent_init(s);
    int rc = -1;
    if (!ag || libssh2_agent_connect(ag) != 0) {
        perr_set(e, "", "ssh %s: cannot connect to the SSH agent at %s: %s", label, getenv("SSH_AUTH_SOCK"),
                 sess_err(s));
        goto out;
    }
    if (libssh2_agent_list_identities(ag) != 0) {
        perr_set(e, "", "ssh %s: cannot list the SSH agent's keys: %s", label, sess_err(s));
        goto out;
    }
    struct libssh2_agent_publickey *id = NULL, *prev = NULL;
    int tried = 0;
    while (libssh2_agent_get_identity(ag, &id, prev) == 0) {
        tried++;
        if (libssh2_agent_userauth(ag, c->user, id) == 0) {
            rc = 0;
            break;
        }
        prev = id;
    }
    if (rc)
        perr_set(e, "", "authentication failed for %s (publickey): %s", label,
                 tried ? "none of the SSH agent's keys was accepted" : "the SSH agent holds no keys");
out:
    if (ag) {
        libssh2_agent_disconnect(ag);
        libssh2_agent_free(ag);
    }
    return rc;
}

static void sess_free(ssh_sess_t *ss) {
    if (ss->s) {
        libssh2_session_set_blocking(ss->s, 1);
        libssh2_session_set_timeout(ss->s, 2000);
        libssh2_session_disconnect(ss->s, "plinth done");
        libssh2_session_free(ss->s);
    }
    if (ss->sock >= 0) close(ss->sock);
    pthread_mutex_destroy(&ss->mu);
    pthread_mutex_destroy(&ss->open_mu);
    free(ss);
}

/* Connects and authenticates a new session (pool lock NOT held). */
static ssh_sess_t *sess_connect(ssh_pool_t *p, const json_t *cfg, const char *label, perr_t *e) {
    ssh_cfg_t c;
    if (cfg_parse(cfg, "", &c, e)) return NULL;
    int sock;
    if (c.via) {
        int lport = 0;
        if (ssh_tunnel_open(p, c.via, c.host, c.port, &lport, e)) {
            perr_wrap(e, "ssh %s via bastion", label);
            return NULL;
        }
        sock = tcp_connect("127.0.0.1", lport, c.connect_timeout, e, label);
    } else {
        sock = tcp_connect(c.host, c.port, c.connect_timeout, e, label);
    }
    if (sock < 0) return NULL;
    ssh_sess_t *ss = xcalloc(1, sizeof *ss);
    pthread_mutex_init(&ss->mu, NULL);
    pthread_mutex_init(&ss->open_mu, NULL);
    ss->sock = sock;
    ss->s = libssh2_session_init();
    if (!ss->s) {
        perr_set(e, "", "ssh %s: cannot create a session", label);
        goto err;
    }
    libssh2_session_set_blocking(ss->s, 1);
    libssh2_session_set_timeout(ss->s, (long)c.connect_timeout * 1000);
    if (libssh2_session_handshake(ss->s, sock) != 0) {
        perr_set(e, "", "ssh %s: SSH handshake failed: %s", label, sess_err(ss->s));
        goto err;
    }
    if (verify_host_key(ss->s, &c, label, e)) goto err;
    if (authenticate(ss->s, &c, label, e)) goto err;
    libssh2_session_set_timeout(ss->s, 0);
    libssh2_keepalive_config(ss->s, 1, 30);
    libssh2_session_set_blocking(ss->s, 0);
    return ss;
err:
    sess_free(ss);
    return NULL;
}

/* ---- pool ---- */

ssh_pool_t *ssh_pool_new(void) {
    pthread_once(&init_once, lib_init);
    ssh_pool_t *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->tunnels = ssh_tunnels_new(p);
    return p;
}

ssh_tunnels_t *ssh_pool_tunnels(ssh_pool_t *p) {
    return p->tunnels;
}

void ssh_pool_free(ssh_pool_t *p) {
    if (!p) return;
    /* Shared sessions first: those reached through a bastion talk over a
     * tunnel, which must still run while they say goodbye.  The lock keeps
     * a tunnel thread that is reconnecting out of the lists meanwhile. */
    pthread_mutex_lock(&p->mu);
    for (ssh_host_t *h = p->hosts; h; h = h->next) {
        ssh_sess_t **pp = &h->sessions;
        while (*pp) {
            ssh_sess_t *ss = *pp;
            if (!ss->dedicated) {
                *pp = ss->next;
                sess_free(ss);
            } else {
                pp = &ss->next;
            }
        }
    }
    pthread_mutex_unlock(&p->mu);
    ssh_tunnels_free(p->tunnels);
    while (p->hosts) {
        ssh_host_t *h = p->hosts;
        p->hosts = h->next;
        while (h->sessions) {
            ssh_sess_t *ss = h->sessions;
            h->sessions = ss->next;
            sess_free(ss);
        }
        free(h->key);
        free(h->label);
        free(h);
    }
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    free(p);
}

static ssh_host_t *host_get(ssh_pool_t *p, const char *key, const json_t *cfg) {
    for (ssh_host_t *h = p->hosts; h; h = h->next)
        if (strcmp(h->key, key) == 0) return h;
    ssh_host_t *h = xcalloc(1, sizeof *h);
    h->key = xstrdup(key);
    h->label = xasprintf(
        "%s@%s:%d", json_string_value(json_object_get(cfg, "user")),
        json_string_value(json_object_get(cfg, "host")),
        json_is_integer(json_object_get(cfg, "port")) ? (int)json_integer_value(json_object_get(cfg, "port"))
        : json_is_real(json_object_get(cfg, "port"))  ? (int)json_real_value(json_object_get(cfg, "port"))
                                                      : 22);
    h->next = p->hosts;
    p->hosts = h;
    return h;
}

static ssh_conn_t *lease(ssh_pool_t *p, ssh_sess_t *ss) {
    ssh_conn_t *c = xcalloc(1, sizeof *c);
    c->pool = p;
    c->sess = ss;
    return c;
}

static ssh_conn_t *acquire(ssh_pool_t *p, const json_t *cfg, int dedicated, perr_t *e) {
    if (ssh_cfg_check(cfg, "", e)) return NULL;
    char *key = ssh_cfg_key(cfg);
    pthread_mutex_lock(&p->mu);
    ssh_host_t *h = host_get(p, key, cfg);
    free(key);
    for (;;) {
        if (!dedicated) {
            ssh_sess_t *best = NULL;
            for (ssh_sess_t *ss = h->sessions; ss; ss = ss->next)
                if (!ss->dedicated && !ss->broken && ss->users < SSH_POOL_CHANNELS &&
                    (!best || ss->users < best->users))
                    best = ss;
            if (best) {
                best->users++;
                pthread_mutex_unlock(&p->mu);
                return lease(p, best);
            }
        }
        if (dedicated || h->nshared < SSH_POOL_CONNS) break;
        pthread_cond_wait(&p->cv, &p->mu);
    }
    if (!dedicated) h->nshared++; /* reserve the slot while connecting */
    char *label = xstrdup(h->label);
    pthread_mutex_unlock(&p->mu);
    ssh_sess_t *ss = sess_connect(p, cfg, label, e);
    free(label);
    pthread_mutex_lock(&p->mu);
    if (!ss) {
        if (!dedicated) h->nshared--;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        return NULL;
    }
    ss->host = h;
    ss->dedicated = dedicated;
    ss->users = 1;
    ss->next = h->sessions;
    h->sessions = ss;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return lease(p, ss);
}

ssh_conn_t *ssh_conn_acquire(ssh_pool_t *p, const json_t *cfg, perr_t *e) {
    return acquire(p, cfg, 0, e);
}

ssh_conn_t *ssh_conn_acquire_dedicated(ssh_pool_t *p, const json_t *cfg, perr_t *e) {
    return acquire(p, cfg, 1, e);
}

void ssh_conn_release(ssh_conn_t *c, int broken) {
    if (!c) return;
    ssh_pool_t *p = c->pool;
    ssh_sess_t *ss = c->sess, *dead = NULL;
    pthread_mutex_lock(&p->mu);
    ss->users--;
    if (broken) ss->broken = 1;
    if (ss->broken && ss->users == 0) {
        ssh_host_t *h = ss->host;
        for (ssh_sess_t **pp = &h->sessions; *pp; pp = &(*pp)->next)
            if (*pp == ss) {
                *pp = ss->next;
                break;
            }
        if (!ss->dedicated) h->nshared--;
        dead = ss;
    }
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (dead) sess_free(dead);
    free(c);
}

const char *ssh_conn_label(const ssh_conn_t *c) {
    return c->sess->host->label;
}
void ssh_conn_lock(ssh_conn_t *c) {
    pthread_mutex_lock(&c->sess->mu);
}
void ssh_conn_unlock(ssh_conn_t *c) {
    pthread_mutex_unlock(&c->sess->mu);
}
void ssh_conn_open_lock(ssh_conn_t *c) {
    pthread_mutex_lock(&c->sess->open_mu);
}
void ssh_conn_open_unlock(ssh_conn_t *c) {
    pthread_mutex_unlock(&c->sess->open_mu);
}
LIBSSH2_SESSION *ssh_conn_session(ssh_conn_t *c) {
    return c->sess->s;
}
int ssh_conn_socket(ssh_conn_t *c) {
    return c->sess->sock;
}
const char *ssh_conn_errmsg(ssh_conn_t *c) {
    return sess_err(c->sess->s);
}

void ssh_conn_wait(ssh_conn_t *c, int dirs) {
    struct pollfd pfd = {.fd = c->sess->sock, .events = POLLIN};
    if (dirs & LIBSSH2_SESSION_BLOCK_OUTBOUND) pfd.events |= POLLOUT;
    poll(&pfd, 1, 10);
}
