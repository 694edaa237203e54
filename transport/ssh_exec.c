/* ssh_exec.c: runs a script on a pooled session: sends env + script over
 * the channel's stdin to a small sh wrapper (so secrets never appear on a
 * remote command line), streams stdout/stderr line by line (redacted),
 * keeps the tail, and enforces timeout and cancellation. */
#include "transport/ssh.h"

#include <stdlib.h>
#include <string.h>

/* The remote side: read the env section and the script (their lengths on
 * the first two lines) into a private temp dir, run the script in its own
 * session (setsid) with stdin at EOF, and clean up.  The channel's stdin
 * stays open while the script runs: a watcher kills the script's process
 * group when it reaches EOF, which happens when plinth gives up (timeout,
 * interrupt) or the connection drops.  Needs POSIX sh, mktemp, head -c
 * (GNU coreutils and busybox read no more than asked from a pipe) and
 * setsid where available.  No single quotes: the text is wrapped in them. */
static const char wrapper[] =
    "umask 077; d=$(mktemp -d) || exit 125; "
    "IFS= read -r n || exit 125; IFS= read -r m || exit 125; "
    "head -c \"$n\" > \"$d/env\"; head -c \"$m\" > \"$d/run\"; chmod 700 \"$d/run\"; "
    "if [ \"$(head -c 2 \"$d/run\")\" = \"#!\" ]; then set -- \"$d/run\"; else set -- sh \"$d/run\"; fi; "
    "command -v setsid >/dev/null 2>&1 && set -- setsid \"$@\"; "
    "exec 3<&0; "
    "( . \"$d/env\"; rm -f \"$d/env\"; exec \"$@\" ) </dev/null 3<&- & p=$!; "
    "( cat >/dev/null 2>&1; kill -TERM -- -$p 2>/dev/null || kill -TERM $p 2>/dev/null ) <&3 >/dev/null 2>&1 "
    "& w=$!; "
    "exec 3<&-; wait $p; s=$?; kill $w 2>/dev/null; rm -rf \"$d\"; exit $s";

/* export K='v' with v single-quoted for sh. */
static void add_exports(sbuf_t *b, const json_t *env) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)env, k, v) {
        const char *s = json_is_string(v) ? json_string_value(v) : NULL;
        char *tmp = NULL;
        if (!s) s = tmp = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        sbuf_addf(b, "export %s='", k);
        for (const char *q = s; *q; q++) {
            if (*q == '\'')
                sbuf_add(b, "'\\''");
            else
                sbuf_addc(b, *q);
        }
        sbuf_add(b, "'\n");
        free(tmp);
    }
}

typedef struct out_state {
    const ssh_exec_opts_t *o;
    strlist_t needles; /* sensitive values (each line of each) */
    sbuf_t part[2];    /* incomplete line per stream */
    char *tail[SSH_TAIL_LINES];
    size_t ntail, tail_pos;
} out_state_t;

static char *redact(out_state_t *st, const char *line) {
    sbuf_t b = {0};
    sbuf_add(&b, line);
    for (size_t i = 0; i < st->needles.n; i++) {
        const char *nd = st->needles.v[i];
        size_t nl = strlen(nd);
        char *hit;
        while ((hit = strstr(b.s, nd))) {
            sbuf_t r = {0};
            sbuf_addn(&r, b.s, (size_t)(hit - b.s));
            sbuf_add(&r, "<redacted>");
            sbuf_add(&r, hit + nl);
            sbuf_free(&b);
            b = r;
        }
    }
    return sbuf_steal(&b);
}

static void emit(out_state_t *st, const char *line, size_t n) {
    if (n && line[n - 1] == '\r') n--;
    char *raw = xstrndup(line, n);
    char *red = redact(st, raw);
    free(raw);
    if (st->o->on_line) st->o->on_line(st->o->ud, red);
    size_t slot = st->tail_pos;
    free(st->tail[slot]);
    st->tail[slot] = red;
    st->tail_pos = (slot + 1) % SSH_TAIL_LINES;
    if (st->ntail < SSH_TAIL_LINES) st->ntail++;
}

/* Very long lines are emitted in pieces so memory stays bounded. */
#define MAX_LINE 8192

static void feed(out_state_t *st, int stream, const char *buf, size_t n) {
    sbuf_t *p = &st->part[stream];
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\n') {
            emit(st, p->s ? p->s : "", p->len);
            p->len = 0;
            if (p->s) p->s[0] = 0;
        } else {
            sbuf_addc(p, buf[i]);
            if (p->len >= MAX_LINE) {
                emit(st, p->s, p->len);
                p->len = 0;
                p->s[0] = 0;
            }
        }
    }
}

static void add_needles(strlist_t *l, const json_t *env) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)env, k, v) {
        if (!json_is_string(v)) continue;
        const char *s = json_string_value(v);
        while (*s) {
            const char *nl = strchr(s, '\n');
            size_t n = nl ? (size_t)(nl - s) : strlen(s);
            if (n) strlist_add_own(l, xstrndup(s, n));
            s += n + (nl ? 1 : 0);
        }
    }
}

static char *tail_text(out_state_t *st) {
    sbuf_t b = {0};
    size_t start = (st->tail_pos + SSH_TAIL_LINES - st->ntail) % SSH_TAIL_LINES;
    for (size_t i = 0; i < st->ntail; i++) {
        if (i) sbuf_addc(&b, '\n');
        sbuf_add(&b, st->tail[(start + i) % SSH_TAIL_LINES]);
    }
    return sbuf_steal(&b);
}

/* Sends EOF (which makes the remote watcher stop a script still running),
 * when aborting, closes and frees a channel, retrying on EAGAIN.  Waiting for the
 * server's close is bounded: a server that never answers must not hang
 * the run (libssh2_channel_free does not wait once close was sent). */
static void chan_free(ssh_conn_t *c, LIBSSH2_CHANNEL *ch, int abort) {
    LIBSSH2_SESSION *s = ssh_conn_session(c);
    int64_t deadline = util_now_ms() + 3000;
    /* EOF only while the server still runs the script: after its close,
     * a message on the channel is a protocol error that drops the session. */
    ssh_conn_lock(c);
    int phase = abort && !libssh2_channel_eof(ch) ? 0 : 1;
    ssh_conn_unlock(c);
    while (phase < 3) {
        ssh_conn_lock(c);
        int rc = phase == 0   ? libssh2_channel_send_eof(ch)
                 : phase == 1 ? libssh2_channel_close(ch)
                              : libssh2_channel_free(ch);
        int dirs = libssh2_session_block_directions(s);
        ssh_conn_unlock(c);
        if (rc == LIBSSH2_ERROR_EAGAIN && (phase == 2 || util_now_ms() < deadline)) {
            ssh_conn_wait(c, dirs);
            continue;
        }
        phase++;
    }
}

/* One run of ssh_exec: the phases below share it.  Each phase returns 0,
 * -1 (failed, e set: the session may be reused) or -2 (the session is not
 * usable: the caller retries on a new one). */
typedef struct exec_run {
    ssh_conn_t *c;
    LIBSSH2_SESSION *s;
    const char *label;
    const ssh_exec_opts_t *o;
    perr_t *e;
    int64_t deadline; /* 0: no timeout */
    LIBSSH2_CHANNEL *ch;
    out_state_t st;
    sbuf_t in; /* stdin payload; holds sensitive_env values */
} exec_run_t;

static int timed_out(const exec_run_t *r) {
    return (r->deadline && util_now_ms() > r->deadline) || (r->o->cancel && *r->o->cancel);
}

static int fail_timeout(exec_run_t *r) {
    if (r->o->cancel && *r->o->cancel)
        perr_set(r->e, "", "ssh %s: interrupted", r->label);
    else
        perr_set(r->e, "", "ssh %s: timed out after %d s", r->label, r->o->timeout_sec);
    return -1;
}

/* stdin payload: "<env len>\n<script len>\n" + env exports + script. */
static void build_stdin(exec_run_t *r) {
    const ssh_exec_opts_t *o = r->o;
    sbuf_t env = {0};
    sbuf_add(&env, "");
    if (o->env) add_exports(&env, o->env);
    if (o->sensitive_env) add_exports(&env, o->sensitive_env);
    sbuf_addf(&r->in, "%zu\n%zu\n", env.len, o->script_len);
    sbuf_addn(&r->in, env.s, env.len);
    sbuf_addn(&r->in, o->script, o->script_len);
    if (env.s) explicit_bzero(env.s, env.len);
    sbuf_free(&env);
}

/* Opens the session channel (one open at a time per connection).  Giving
 * up mid-open leaves libssh2's open state in the session: the caller then
 * drops the session (rc -1 / -2 both do). */
static int open_channel(exec_run_t *r) {
    int64_t open_deadline = util_now_ms() + 30000;
    int rc = 0;
    ssh_conn_open_lock(r->c);
    for (;;) {
        ssh_conn_lock(r->c);
        r->ch = libssh2_channel_open_session(r->s);
        int err = r->ch ? 0 : libssh2_session_last_errno(r->s);
        int dirs = libssh2_session_block_directions(r->s);
        if (!r->ch && err != LIBSSH2_ERROR_EAGAIN)
            perr_set(r->e, "", "ssh %s: cannot open a channel: %s", r->label, ssh_conn_errmsg(r->c));
        ssh_conn_unlock(r->c);
        if (r->ch) break;
        if (err != LIBSSH2_ERROR_EAGAIN) {
            rc = -2;
            break;
        }
        if (timed_out(r)) {
            rc = fail_timeout(r);
            break;
        }
        if (util_now_ms() > open_deadline) {
            perr_set(r->e, "", "ssh %s: no answer to a channel open in 30 s", r->label);
            rc = -2; /* a dead connection kept in the pool: retry on a new one */
            break;
        }
        ssh_conn_wait(r->c, dirs);
    }
    ssh_conn_open_unlock(r->c);
    return rc;
}

static int start_script(exec_run_t *r) {
    char *cmd = xasprintf("exec sh -c '%s'", wrapper);
    int rc = 0;
    for (;;) {
        ssh_conn_lock(r->c);
        int x = libssh2_channel_exec(r->ch, cmd);
        int dirs = libssh2_session_block_directions(r->s);
        if (x && x != LIBSSH2_ERROR_EAGAIN)
            perr_set(r->e, "", "ssh %s: cannot start the script: %s", r->label, ssh_conn_errmsg(r->c));
        ssh_conn_unlock(r->c);
        if (x == 0) break;
        if (x != LIBSSH2_ERROR_EAGAIN) {
            rc = -2;
            break;
        }
        if (timed_out(r)) {
            rc = fail_timeout(r);
            break;
        }
        ssh_conn_wait(r->c, dirs);
    }
    free(cmd);
    return rc;
}

/* One round under the session lock: writes what it can of stdin, reads
 * stdout and stderr (bounded, so one busy stream cannot starve the lock)
 * into got[], sends a keepalive when due.  Returns 1 when something moved,
 * 0 when not, -1 on a read error (e set). */
static int pump_round(exec_run_t *r, size_t *off, int done[2], sbuf_t got[2], int *dirs) {
    char buf[32768];
    int progress = 0;
    ssh_conn_lock(r->c);
    if (*off < r->in.len) {
        ssize_t w = libssh2_channel_write(r->ch, r->in.s + *off, r->in.len - *off);
        if (w > 0) {
            *off += (size_t)w;
            progress = 1;
        } else if (w != LIBSSH2_ERROR_EAGAIN) {
            *off = r->in.len; /* the wrapper exited early; its status says why */
        }
    }
    for (int sid = 0; sid < 2; sid++) {
        while (!done[sid] && got[sid].len < 4 * sizeof buf) {
            ssize_t n = libssh2_channel_read_ex(r->ch, sid ? SSH_EXTENDED_DATA_STDERR : 0, buf, sizeof buf);
            if (n > 0) {
                sbuf_addn(&got[sid], buf, (size_t)n);
                progress = 1;
                continue;
            }
            if (n == 0 && libssh2_channel_eof(r->ch)) done[sid] = 1;
            if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
                perr_set(r->e, "", "ssh %s: reading the output failed: %s", r->label, ssh_conn_errmsg(r->c));
                ssh_conn_unlock(r->c);
                return -1;
            }
            break;
        }
    }
    /* Keeps NAT / firewall state alive during long quiet scripts (sends
     * only when the interval set at connect time passed). */
    int next_ka;
    libssh2_keepalive_send(r->s, &next_ka);
    *dirs = libssh2_session_block_directions(r->s);
    ssh_conn_unlock(r->c);
    return progress;
}

/* Feeds stdin and passes output lines to the callback (outside the session
 * lock) until both streams end. */
static int pump(exec_run_t *r) {
    size_t off = 0;
    int done[2] = {0, 0}, rc = 0;
    sbuf_t got[2] = {{0}, {0}};
    for (;;) {
        int dirs = 0;
        int progress = pump_round(r, &off, done, got, &dirs);
        if (progress < 0) {
            rc = -1;
            break;
        }
        for (int sid = 0; sid < 2; sid++)
            if (got[sid].len) {
                feed(&r->st, sid, got[sid].s, got[sid].len);
                got[sid].len = 0;
            }
        if (done[0] && done[1]) break;
        if (timed_out(r)) {
            rc = fail_timeout(r);
            break;
        }
        if (!progress) ssh_conn_wait(r->c, dirs);
    }
    sbuf_free(&got[0]);
    sbuf_free(&got[1]);
    if (rc == 0)
        for (int sid = 0; sid < 2; sid++)
            if (r->st.part[sid].len) emit(&r->st, r->st.part[sid].s, r->st.part[sid].len);
    return rc;
}

/* Closes the channel, which waits for the exit-status message, and reads
 * the status (128 + N when the script died of signal N). */
static int finish(exec_run_t *r, int *exit_status) {
    for (;;) {
        ssh_conn_lock(r->c);
        int x = libssh2_channel_close(r->ch);
        if (x == 0) x = libssh2_channel_wait_closed(r->ch);
        int dirs = libssh2_session_block_directions(r->s);
        ssh_conn_unlock(r->c);
        if (x != LIBSSH2_ERROR_EAGAIN) break;
        if (timed_out(r)) return fail_timeout(r);
        ssh_conn_wait(r->c, dirs);
    }
    ssh_conn_lock(r->c);
    char *sig = NULL;
    libssh2_channel_get_exit_signal(r->ch, &sig, NULL, NULL, NULL, NULL, NULL);
    *exit_status = libssh2_channel_get_exit_status(r->ch);
    ssh_conn_unlock(r->c);
    if (sig) {
        static const char *const names[] = {"HUP",  "INT",  "QUIT", "ILL",  "TRAP", "ABRT", "BUS", "FPE",
                                            "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM", "TERM"};
        int num = 0;
        for (int i = 0; i < 15; i++)
            if (strcmp(sig, names[i]) == 0) num = i + 1;
        *exit_status = 128 + (num ? num : 1);
        libssh2_free(r->s, sig);
    }
    return 0;
}

int ssh_exec(ssh_conn_t *c, const ssh_exec_opts_t *o, int *exit_status, char **tail, perr_t *e) {
    exec_run_t r = {.c = c, .s = ssh_conn_session(c), .label = ssh_conn_label(c), .o = o, .e = e};
    *exit_status = -1;
    *tail = NULL;
    r.st.o = o;
    if (o->sensitive_env) add_needles(&r.st.needles, o->sensitive_env);
    build_stdin(&r);
    r.deadline = o->timeout_sec > 0 ? util_now_ms() + (int64_t)o->timeout_sec * 1000 : 0;
    int rc = open_channel(&r);
    if (rc == 0) rc = start_script(&r);
    if (rc == 0) rc = pump(&r);
    if (rc == 0) rc = finish(&r, exit_status);
    if (r.ch) chan_free(c, r.ch, rc != 0);
    *tail = tail_text(&r.st);
    for (size_t i = 0; i < SSH_TAIL_LINES; i++)
        free(r.st.tail[i]);
    sbuf_free(&r.st.part[0]);
    sbuf_free(&r.st.part[1]);
    strlist_free(&r.st.needles);
    if (r.in.s) explicit_bzero(r.in.s, r.in.len);
    sbuf_free(&r.in);
    return rc;
}
