/* state_journal.c: saving state at a cost linear in what changed.  An
 * apply finishing a thousand resources used to dump, fsync and back up the
 * whole state twice per resource under the lock (quadratic, and every
 * worker queued behind it).  Now each finished change is one journal line,
 * and one fsync serves every worker that finished meanwhile (group
 * commit); the journal is folded into a whole write when it outgrows the
 * state, so the whole writes cost at most as much as the journal did.
 * Backends without a journal (GCS: objects cannot be appended to) get one
 * whole write per group instead of one per change. */
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "state_int.h"

/* A journal is compacted during a run when it is larger than this and than
 * twice the last whole write: whole writes then cost at most half of what
 * the journal did (linear), and a run of a few thousand changes writes the
 * whole state only once, at its end. */
#define JOURNAL_MIN (4 * 1024 * 1024)

struct state_saver {
    backend_t *b;
    state_t *s;
    pthread_mutex_t *mu;
    pthread_cond_t cv;
    uint64_t asked;       /* tickets handed out: one per state_commit call */
    uint64_t done;        /* every ticket <= done is written */
    uint64_t synced;      /* every ticket <= synced is fsynced */
    uint64_t sync_wanted; /* the last ticket asking for fsync */
    uint64_t failed_upto; /* tickets <= this were in a group that failed (unless <= done) */
    perr_t err;           /* why that group failed */
    bool busy;            /* a thread is writing a group */
    bool need_whole;      /* a group failed: its changes are only in memory */
    size_t whole_len;     /* bytes of the last whole write */
};

state_saver_t *state_saver_new(backend_t *b, state_t *s, pthread_mutex_t *mu) {
    state_saver_t *sv = xcalloc(1, sizeof *sv);
    sv->b = b;
    sv->s = s;
    sv->mu = mu;
    pthread_cond_init(&sv->cv, NULL);
    return sv;
}

void state_saver_free(state_saver_t *sv) {
    if (!sv) return;
    pthread_cond_destroy(&sv->cv);
    free(sv);
}

static void add_line(sbuf_t *b, json_t *o) {
    char *line = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    sbuf_add(b, line ? line : "null");
    sbuf_addc(b, '\n');
    free(line);
    json_decref(o);
}

/* The journal lines for every entry changed since the last commit (each
 * written once, as it is now), or -1 when an entry could not be read
 * back: then nothing is written. */
static int journal_text(state_t *s, sbuf_t *b, perr_t *e) {
    json_t *ser = json_integer(s->serial);
    for (size_t i = 0; i < s->changed.n; i++) {
        const char *addr = s->changed.v[i];
        state_res_t *r = state_find(s, addr);
        if (r && !r->dirty) continue; /* already written in this group */
        if (!r) {
            json_t *o = json_object();
            json_object_set(o, "serial", ser);
            json_object_set_new(o, "rm", json_string(addr));
            add_line(b, o);
            continue;
        }
        json_t *entry = state_res_json(r);
        /* What cannot be replayed must not be written: check it as the
         * replay will. */
        state_res_t chk;
        memset(&chk, 0, sizeof chk);
        int rc = state_res_parse(entry, 0, addr, &chk, e);
        state_res_clear(&chk);
        if (rc != 0 || !r->type) {
            if (rc == 0) perr_set(e, addr, "state entry has no type");
            perr_wrap(e, "internal error: state entry cannot be journaled; state not saved");
            json_decref(entry);
            json_decref(ser);
            return -1;
        }
        /* {"put":ENTRY,"serial":N}: what json_dumps would write with sorted
         * keys; ENTRY's text is kept for the whole write (state_dump). */
        char *text = json_dumps(entry, JSON_COMPACT | JSON_SORT_KEYS);
        json_decref(entry);
        if (!text) {
            perr_set(e, addr, "out of memory serialising the state entry; state not saved");
            json_decref(ser);
            return -1;
        }
        sbuf_add(b, "{\"put\":");
        sbuf_add(b, text);
        sbuf_addf(b, ",\"serial\":%lld}\n", (long long)s->serial);
        free(r->line);
        r->line = text;
        r->dirty = false;
    }
    json_decref(ser);
    return 0;
}

/* Writes one group: everything changed up to ticket sv->asked.  Called
 * and returns with mu held; the I/O runs without it, so workers keep
 * recording (their changes go into the next group). */
static void commit_group(state_saver_t *sv) {
    backend_t *b = sv->b;
    state_t *s = sv->s;
    perr_t e = {0};
    uint64_t target = sv->asked;
    sv->busy = true;
    size_t jmax = 2 * sv->whole_len > JOURNAL_MIN ? 2 * sv->whole_len : JOURNAL_MIN;
    bool whole = sv->need_whole || !b->journal_append || b->journal_compact || !b->lineage[0] ||
                 b->journal_bytes > jmax;
    bool fresh = b->journal_bytes == 0;
    bool sync = whole || fresh || sv->sync_wanted > sv->synced;
    char *data = NULL;
    size_t len = 0;
    int rc = 0;
    if (whole) {
        rc = state_save_check(b, s, &e);
        if (rc == 0) {
            s->serial++;
            data = state_dump(s);
            len = strlen(data);
            state_clear_changes(s);
        }
    } else {
        sbuf_t t = {0};
        sbuf_add(&t, "");
        if (fresh) {
            json_t *h = json_pack("{s:i, s:s, s:I}", "journal", 1, "lineage", s->lineage, "serial",
                                  (json_int_t)s->serial);
            add_line(&t, h);
        }
        s->serial++;
        rc = journal_text(s, &t, &e);
        if (rc == 0) strlist_free(&s->changed);
        len = t.len;
        data = sbuf_steal(&t);
    }
    pthread_mutex_unlock(sv->mu);
    if (rc == 0) rc = whole ? b->write(b, data, len, &e) : b->journal_append(b, data, len, fresh, sync, &e);
    pthread_mutex_lock(sv->mu);
    free(data);
    if (rc == 0) {
        sv->done = target;
        if (sync) sv->synced = target;
        if (whole) {
            state_saved_whole(b, s);
            sv->whole_len = len;
            sv->need_whole = false;
        } else {
            b->journal_bytes += len;
        }
    } else {
        sv->failed_upto = target;
        sv->err = e;
        sv->need_whole = true; /* the changes of this group are marked clean */
    }
    sv->busy = false;
    pthread_cond_broadcast(&sv->cv);
}

int state_commit(state_saver_t *sv, bool sync, perr_t *e) {
    pthread_mutex_lock(sv->mu);
    uint64_t ticket = ++sv->asked;
    if (sync) sv->sync_wanted = ticket;
    int rc = 0;
    for (;;) {
        if ((sync ? sv->synced : sv->done) >= ticket) break;
        if (sv->failed_upto >= ticket) {
            *e = sv->err;
            rc = -1;
            break;
        }
        if (!sv->busy)
            commit_group(sv);
        else
            pthread_cond_wait(&sv->cv, sv->mu);
    }
    pthread_mutex_unlock(sv->mu);
    return rc;
}

/* ---- replay ---- */

static int replay_put(state_t *s, json_t *entry, size_t lineno, const char *where, perr_t *e) {
    state_res_t tmp;
    memset(&tmp, 0, sizeof tmp);
    if (state_res_parse(entry, lineno, where, &tmp, e) != 0) {
        state_res_clear(&tmp);
        return -1;
    }
    state_res_t *r = state_upsert(s, tmp.addr, tmp.type);
    char *addr = r->addr;
    r->addr = NULL;
    state_res_clear(r);
    *r = tmp;
    free(r->addr);
    r->addr = addr;
    return 0;
}

int state_journal_replay(state_t *s, const char *data, size_t len, const char *where, perr_t *e) {
    size_t lineno = 0;
    int64_t base = -1;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(data + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - data) : len;
        lineno++;
        json_error_t je;
        json_t *o = json_loadb(data + at, end - at, 0, &je);
        bool last = !nl || end + 1 >= len;
        if (!o || !nl) {
            json_decref(o);
            if (last) return 0; /* torn tail: that commit never returned */
            perr_set(e, where, "line %zu: not valid JSON: %s", lineno, je.text);
            return -1;
        }
        at = end + 1;
        int rc = 0;
        json_t *ser = json_object_get(o, "serial");
        if (lineno == 1) {
            const char *lin = json_string_value(json_object_get(o, "lineage"));
            if (!json_is_integer(json_object_get(o, "journal")) || !lin || !json_is_integer(ser)) {
                perr_set(e, where, "line 1: expected the journal header {\"journal\":1,...}");
                rc = -1;
            } else if (strcmp(lin, s->lineage) != 0 || json_integer_value(ser) != s->serial) {
                json_decref(o); /* follows another state: already compacted */
                return 0;
            }
            base = json_integer_value(ser);
        } else if (!json_is_integer(ser) || json_integer_value(ser) <= base) {
            perr_set(e, where, "line %zu: expected a serial above %lld", lineno, (long long)base);
            rc = -1;
        } else if (json_is_string(json_object_get(o, "rm"))) {
            state_remove(s, json_string_value(json_object_get(o, "rm")));
        } else if (json_is_object(json_object_get(o, "put"))) {
            rc = replay_put(s, json_object_get(o, "put"), lineno, where, e);
        } else {
            perr_set(e, where, "line %zu: expected \"put\" or \"rm\"", lineno);
            rc = -1;
        }
        if (rc == 0 && lineno > 1) s->serial = json_integer_value(ser);
        json_decref(o);
        if (rc != 0) return -1;
    }
    return 0;
}
