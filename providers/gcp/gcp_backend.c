/* gcp_backend.c: the gcp provider's state backend (backend "gcs"): state
 * in a Google Cloud Storage object, written
 * compare-and-swap (ifGenerationMatch) so two runs never overwrite each
 * other, and locked by an object created only if absent
 * (ifGenerationMatch=0).  Objects: "<prefix>/<env>.plinth.json" and
 * "<prefix>/<env>.plinth.lock". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/state.h"
#include "providers/gcp/gcp_backend.h"
#include "transport/gcp_http.h"

typedef struct gcs {
    gcp_client_t *c;
    char *bucket, *obj, *lock_obj;         /* names as given */
    char *bucket_enc, *obj_enc, *lock_enc; /* URL-encoded */
    int64_t gen;                           /* generation last read or written, 0 = none existed */
    bool gen_known;
    state_lock_info_t held; /* our lock; held.id[0] == 0 when none */
    bool own_client;        /* opened by gcp_backend_open: free it with the backend */
    char *prefix;           /* without leading or trailing '/', may be "" */
    int64_t held_gen;
    time_t heartbeat_at;
    /* The lease: while we hold the lock a thread renews its heartbeat
     * every third of the lease (state_lock_lease_s), so another run may
     * take over a lock whose heartbeat is older than the lease.  mu guards
     * held, held_gen, heartbeat_at and lock_lost. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t renewer;
    bool renewing, stopping;
    bool lock_lost; /* a renewal found the lock replaced: writes refuse */
} gcs_t;

/* Seconds between heartbeat refreshes of our lock object from write(). */
#define HEARTBEAT_EVERY 30

static char *url_encode(const char *s) {
    sbuf_t b = {0};
    sbuf_add(&b, "");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ||
            *p == '.' || *p == '_' || *p == '~')
            sbuf_addc(&b, (char)*p);
        else
            sbuf_addf(&b, "%%%02X", *p);
    }
    return sbuf_steal(&b);
}

static int64_t generation_of(const json_t *meta) {
    json_t *g = json_object_get(meta, "generation");
    if (json_is_integer(g)) return json_integer_value(g);
    if (json_is_string(g)) return strtoll(json_string_value(g), NULL, 10);
    return -1;
}

/* Reads an object: 1 found (data/len/gen filled; data may be NULL when
 * not wanted), 0 absent, -1 error.  Metadata first, then the media of
 * exactly that generation, so the bytes and the generation agree. */
static int get_object(gcs_t *g, const char *enc, char **data, size_t *len, int64_t *gen, perr_t *e) {
    gcp_resp_t r = {0};
    char *path = xasprintf("storage/v1/b/%s/o/%s", g->bucket_enc, enc);
    int rc = -1;
    if (data) *data = NULL;
    if (len) *len = 0;
    for (int attempt = 0; attempt < 3; attempt++) {
        gcp_resp_free(&r);
        if (gcp_call(g->c, "GET", "storage", path, NULL, &r, e) != 0) goto out;
        if (r.status == 404) {
            rc = 0;
            goto out;
        }
        if (r.status != 200) {
            gcp_resp_error(&r, "GET", path, e);
            goto out;
        }
        *gen = generation_of(r.body);
        if (*gen <= 0) {
            perr_set(e, path, "GET %s: object metadata has no generation", path);
            goto out;
        }
        if (!data) {
            rc = 1;
            goto out;
        }
        char *mpath = xasprintf("%s?alt=media&generation=%lld", path, (long long)*gen);
        gcp_resp_free(&r);
        int cr = gcp_call(g->c, "GET", "storage", mpath, NULL, &r, e);
        if (cr == 0 && r.status == 200) {
            *data = r.raw ? r.raw : xstrdup("");
            *len = r.raw ? r.raw_len : 0;
            r.raw = NULL;
            rc = 1;
            free(mpath);
            goto out;
        }
        if (cr == 0 && r.status != 404) gcp_resp_error(&r, "GET", mpath, e);
        free(mpath);
        if (cr != 0 || r.status != 404) goto out;
        /* 404: replaced or deleted between the two calls; read again */
    }
    perr_set(e, path, "GET %s: object keeps changing while being read", path);
out:
    gcp_resp_free(&r);
    free(path);
    return rc;
}

/* Uploads data to an object if its generation is still if_gen (0: only
 * if absent).  Returns 0 (new generation in *gen), 1 precondition failed
 * (412), -1 other error. */
static int put_object(gcs_t *g, const char *name, const char *data, size_t len, int64_t if_gen, int64_t *gen,
                      perr_t *e) {
    char *nenc = url_encode(name);
    char *path = xasprintf("upload/storage/v1/b/%s/o?uploadType=media&name=%s&ifGenerationMatch=%lld",
                           g->bucket_enc, nenc, (long long)if_gen);
    free(nenc);
    gcp_resp_t r = {0};
    int rc = -1;
    if (gcp_call_raw(g->c, "POST", "storage", path, "application/json", data, len, NULL, &r, e) != 0)
        goto out;
    if (r.status == 412) {
        rc = 1;
    } else if (r.status == 200 || r.status == 201) {
        *gen = generation_of(r.body);
        if (*gen <= 0) {
            perr_set(e, path, "POST %s: the answer has no generation", path);
            goto out;
        }
        rc = 0;
    } else {
        gcp_resp_error(&r, "POST", path, e);
        if (r.status == 404)
            perr_wrap(e, "cannot write gs://%s/%s (does the bucket exist?)", g->bucket, name);
    }
out:
    gcp_resp_free(&r);
    free(path);
    return rc;
}

static int gcs_read(backend_t *b, char **data, size_t *len, perr_t *e) {
    gcs_t *g = b->impl;
    int64_t gen = 0;
    int rc = get_object(g, g->obj_enc, data, len, &gen, e);
    if (rc < 0) return -1;
    g->gen = rc == 1 ? gen : 0;
    g->gen_known = true;
    return 0;
}

/* Rewrites our lock object with a fresh heartbeat (generation
 * precondition: only the object we wrote last), if we still hold it and
 * the last refresh is at least every_s old.  A 412 means another run took
 * the lock over (our lease expired): lock_lost is set. */
static void heartbeat(gcs_t *g, int every_s) {
    pthread_mutex_lock(&g->mu);
    time_t now = time(NULL);
    if (!g->held.id[0] || g->lock_lost || now - g->heartbeat_at < every_s) {
        pthread_mutex_unlock(&g->mu);
        return;
    }
    state_lock_info_t li = g->held;
    int64_t if_gen = g->held_gen;
    pthread_mutex_unlock(&g->mu);
    perr_t e;
    util_rfc3339(li.heartbeat, (int64_t)now);
    char *json = state_lock_json(&li);
    int64_t gen = 0;
    int rc = put_object(g, g->lock_obj, json, strlen(json), if_gen, &gen, &e);
    free(json);
    pthread_mutex_lock(&g->mu);
    if (rc == 0 && g->held_gen == if_gen && !strcmp(g->held.id, li.id)) {
        g->held = li;
        g->held_gen = gen;
        g->heartbeat_at = now;
    } else if (rc == 1 && g->held_gen == if_gen) {
        g->lock_lost = true;
    }
    pthread_mutex_unlock(&g->mu);
}

static void *renew_main(void *arg) {
    gcs_t *g = arg;
    int every = state_lock_lease_s() / 3;
    if (every < 1) every = 1;
    pthread_mutex_lock(&g->mu);
    while (!g->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += every;
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        if (g->stopping) break;
        pthread_mutex_unlock(&g->mu);
        heartbeat(g, every);
        pthread_mutex_lock(&g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

/* Starts / stops the renewal thread (start when we took the lock). */
static void renew_start(gcs_t *g) {
    pthread_mutex_lock(&g->mu);
    bool run = !g->renewing;
    g->renewing = true;
    g->stopping = false;
    pthread_mutex_unlock(&g->mu);
    if (run && pthread_create(&g->renewer, NULL, renew_main, g) != 0) g->renewing = false;
}

static void renew_stop(gcs_t *g) {
    pthread_mutex_lock(&g->mu);
    bool was = g->renewing;
    g->stopping = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    if (was) pthread_join(g->renewer, NULL);
    g->renewing = false;
}

/* Records the lock we now hold (generation gen) and starts renewing it. */
static void hold(gcs_t *g, const state_lock_info_t *li, int64_t gen) {
    pthread_mutex_lock(&g->mu);
    g->held = *li;
    g->held_gen = gen;
    g->heartbeat_at = time(NULL);
    g->lock_lost = false;
    pthread_mutex_unlock(&g->mu);
    renew_start(g);
}

static int gcs_write(backend_t *b, const char *data, size_t len, perr_t *e) {
    gcs_t *g = b->impl;
    pthread_mutex_lock(&g->mu);
    bool lock_lost = g->lock_lost;
    pthread_mutex_unlock(&g->mu);
    if (lock_lost) {
        perr_set(e, b->describe,
                 "the state lock was taken over by another run (this run's lease expired); "
                 "state not written");
        return -1;
    }
    if (!g->gen_known) { /* written without a read: replace what is there now */
        int64_t gen = 0;
        int rc = get_object(g, g->obj_enc, NULL, NULL, &gen, e);
        if (rc < 0) return -1;
        g->gen = rc == 1 ? gen : 0;
        g->gen_known = true;
    }
    int64_t gen = 0;
    int rc = put_object(g, g->obj, data, len, g->gen, &gen, e);
    if (rc == 0) {
        g->gen = gen;
        heartbeat(g, HEARTBEAT_EVERY);
        return 0;
    }
    perr_t lost = *e;
    /* A 412 or a lost answer may be our own write having landed (a retry
     * after the first attempt succeeded): the stored bytes tell. */
    char *cur = NULL;
    size_t clen = 0;
    int64_t cgen = 0;
    perr_t e2;
    int got = get_object(g, g->obj_enc, &cur, &clen, &cgen, &e2);
    bool ours = got == 1 && cgen != g->gen && clen == len && memcmp(cur, data, len) == 0;
    free(cur);
    if (ours) {
        g->gen = cgen;
        perr_clear(e);
        return 0;
    }
    if (rc == 1)
        perr_set(e, b->describe,
                 "state was changed by another run since it was read (generation %lld): re-run plan",
                 (long long)g->gen);
    else
        *e = lost;
    return -1;
}

/* Reads the lock object: 1 present (li and *gen filled), 0 absent, -1 error. */
static int read_lock(gcs_t *g, state_lock_info_t *li, int64_t *gen, perr_t *e) {
    char *data = NULL;
    size_t len = 0;
    int rc = get_object(g, g->lock_enc, &data, &len, gen, e);
    if (rc != 1) return rc;
    char *where = xasprintf("gs://%s/%s", g->bucket, g->lock_obj);
    rc = state_lock_parse(data, len, where, li, e);
    free(data);
    if (rc != 0) {
        perr_wrap(e,
                  "state is locked, but the lock object %s cannot be read (if no run is active, "
                  "delete that object)",
                  where);
        free(where);
        return -1;
    }
    free(where);
    return 1;
}

static int gcs_lock(backend_t *b, const char *op, state_lock_info_t *out, perr_t *e) {
    gcs_t *g = b->impl;
    state_lock_info_t li;
    state_lock_init(&li, op);
    char *json = state_lock_json(&li);
    int64_t take_gen = 0; /* 0: create only if absent; else the stale lock's generation */
    b->lock_note[0] = '\0';
    for (int tries = 0; tries < 5; tries++) {
        int64_t gen = 0;
        int rc = put_object(g, g->lock_obj, json, strlen(json), take_gen, &gen, e);
        if (rc == 0) {
            free(json);
            hold(g, &li, gen);
            if (out) *out = li;
            return 0;
        }
        if (rc < 0) {
            /* The answer may be lost after the lock object was written:
             * the lock read back tells (ours: same id). */
            state_lock_info_t cur;
            int64_t cgen = 0;
            perr_t e2;
            if (read_lock(g, &cur, &cgen, &e2) == 1 && !strcmp(cur.id, li.id)) {
                perr_clear(e);
                free(json);
                hold(g, &li, cgen);
                if (out) *out = li;
                return 0;
            }
            break;
        }
        state_lock_info_t cur;
        int64_t cgen = 0;
        rc = read_lock(g, &cur, &cgen, e);
        if (rc < 0) break;
        if (rc == 1) {
            if (strcmp(cur.id, li.id) == 0) { /* our own create, retried after it landed */
                free(json);
                hold(g, &li, cgen);
                if (out) *out = li;
                return 0;
            }
            /* A holder gone from this host, or a lease not renewed: replace
             * exactly that object (ifGenerationMatch), so of two runs taking
             * over at once only one wins and a renewal in between wins. */
            char why[200];
            if (take_gen == 0 && state_lock_stale(&cur, state_lock_lease_s(), why, sizeof why)) {
                snprintf(b->lock_note, sizeof b->lock_note,
                         "took over the state lock %s of %s@%s (pid %d, %s since %s): %s", cur.id, cur.who,
                         cur.host, cur.pid, cur.op, cur.created, why);
                take_gen = cgen;
                continue;
            }
            b->lock_note[0] = '\0';
            state_lock_held_error(e, b->describe, &cur);
            if (out) *out = cur;
            break;
        }
        /* released in between: try again */
        take_gen = 0;
        b->lock_note[0] = '\0';
        perr_set(e, b->describe, "state lock keeps appearing and vanishing");
    }
    free(json);
    return -1;
}

static int gcs_unlock(backend_t *b, const char *id, perr_t *e) {
    gcs_t *g = b->impl;
    if (id && !strcmp(g->held.id, id)) renew_stop(g); /* no renewal racing the delete */
    state_lock_info_t cur;
    int64_t gen = 0;
    int rc = read_lock(g, &cur, &gen, e);
    if (rc < 0) return -1;
    if (rc == 0) {
        perr_set(e, b->describe, "state is not locked (no gs://%s/%s)", g->bucket, g->lock_obj);
        return -1;
    }
    if (!id || strcmp(cur.id, id) != 0) {
        state_lock_held_error(e, b->describe, &cur);
        perr_wrap(e, "lock ID %s does not match the current lock", id ? id : "(none)");
        return -1;
    }
    char *path =
        xasprintf("storage/v1/b/%s/o/%s?ifGenerationMatch=%lld", g->bucket_enc, g->lock_enc, (long long)gen);
    gcp_resp_t r = {0};
    rc = gcp_call(g->c, "DELETE", "storage", path, NULL, &r, e);
    if (rc == 0 && r.status != 200 && r.status != 204 && r.status != 404) {
        if (r.status == 412)
            perr_set(e, b->describe,
                     "the lock changed while it was being released; check it with plinth state unlock");
        else
            gcp_resp_error(&r, "DELETE", path, e);
        rc = -1;
    }
    gcp_resp_free(&r);
    free(path);
    pthread_mutex_lock(&g->mu);
    if (rc == 0 && strcmp(g->held.id, id) == 0) memset(&g->held, 0, sizeof g->held);
    pthread_mutex_unlock(&g->mu);
    return rc;
}

static int gcs_lock_info(backend_t *b, state_lock_info_t *out, perr_t *e) {
    gcs_t *g = b->impl;
    state_lock_info_t cur;
    int64_t gen = 0;
    int rc = read_lock(g, &cur, &gen, e);
    if (rc == 1 && out) *out = cur;
    return rc;
}

static void gcs_free(backend_t *b) {
    if (!b) return;
    gcs_t *g = b->impl;
    renew_stop(g);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    free(g->bucket);
    free(g->obj);
    free(g->lock_obj);
    free(g->bucket_enc);
    free(g->obj_enc);
    free(g->lock_enc);
    free(g->prefix);
    if (g->own_client) gcp_client_free(g->c);
    free(g);
    free(b->describe);
    free(b);
}

/* Names of "<prefix>/<env>.plinth.json" objects, every page. */
static int gcs_list_envs(backend_t *b, strlist_t *names, perr_t *err) {
    gcs_t *g = b->impl;
    char *pfx = *g->prefix ? xasprintf("%s/", g->prefix) : xstrdup("");
    char *penc = url_encode(pfx);
    char *token = NULL;
    int rc = 0;
    do {
        char *tenc = token ? url_encode(token) : NULL;
        char *path = xasprintf("storage/v1/b/%s/o?prefix=%s&fields=items(name),nextPageToken%s%s",
                               g->bucket_enc, penc, tenc ? "&pageToken=" : "", tenc ? tenc : "");
        free(tenc);
        free(token);
        token = NULL;
        gcp_resp_t r = {0};
        if (gcp_call(g->c, "GET", "storage", path, NULL, &r, err) != 0) {
            rc = -1;
        } else if (r.status != 200) {
            gcp_resp_error(&r, "GET", path, err);
            rc = -1;
        } else {
            size_t i;
            json_t *it;
            json_array_foreach(json_object_get(r.body, "items"), i, it) {
                const char *nm = json_string_value(json_object_get(it, "name"));
                size_t pl = strlen(pfx), nl = nm ? strlen(nm) : 0, sl = strlen(".plinth.json");
                if (!nm || nl <= pl + sl || strcmp(nm + nl - sl, ".plinth.json") != 0) continue;
                if (strchr(nm + pl, '/')) continue; /* another prefix below this one */
                strlist_add_own(names, xstrndup(nm + pl, nl - pl - sl));
            }
            const char *t = json_string_value(json_object_get(r.body, "nextPageToken"));
            token = t ? xstrdup(t) : NULL;
        }
        gcp_resp_free(&r);
        free(path);
    } while (rc == 0 && token);
    free(token);
    free(pfx);
    free(penc);
    return rc;
}

static backend_t *gcs_sibling(backend_t *b, const char *env, perr_t *e) {
    gcs_t *g = b->impl;
    return backend_gcs_new(g->c, g->bucket, g->prefix, env, e); /* borrows our client */
}

backend_t *backend_gcs_new(void *gcp_client, const char *bucket, const char *prefix, const char *env_name,
                           perr_t *e) {
    if (!gcp_client) {
        perr_set(e, "backend \"gcs\"", "no Google Cloud client");
        return NULL;
    }
    if (!bucket || !*bucket || strchr(bucket, '/')) {
        perr_set(e, "backend \"gcs\"", "bucket: expected a bucket name, found \"%s\"", bucket ? bucket : "");
        return NULL;
    }
    if (!env_name || !*env_name) env_name = "default";
    sbuf_t base = {0};
    sbuf_add(&base, "");
    if (prefix) {
        while (*prefix == '/')
            prefix++;
        size_t n = strlen(prefix);
        while (n && prefix[n - 1] == '/')
            n--;
        if (n) {
            sbuf_addn(&base, prefix, n);
            sbuf_addc(&base, '/');
        }
    }
    backend_t *b = xcalloc(1, sizeof *b);
    gcs_t *g = xcalloc(1, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->prefix = base.len ? xstrndup(base.s, base.len - 1) : xstrdup("");
    sbuf_add(&base, env_name);
    g->c = gcp_client;
    g->bucket = xstrdup(bucket);
    g->obj = xasprintf("%s.plinth.json", base.s);
    g->lock_obj = xasprintf("%s.plinth.lock", base.s);
    sbuf_free(&base);
    g->bucket_enc = url_encode(g->bucket);
    g->obj_enc = url_encode(g->obj);
    g->lock_enc = url_encode(g->lock_obj);
    b->kind = "gcs";
    b->read = gcs_read;
    b->write = gcs_write;
    b->lock = gcs_lock;
    b->unlock = gcs_unlock;
    b->lock_info = gcs_lock_info;
    b->free = gcs_free;
    b->list_envs = gcs_list_envs;
    b->sibling = gcs_sibling;
    b->describe = xasprintf("gcs state gs://%s/%s", g->bucket, g->obj);
    b->impl = g;
    return b;
}

backend_t *gcp_backend_open(const json_t *cfg, const json_t *pcfg, const prov_env_t *env,
                            const char *env_name, perr_t *e) {
    const char *bucket = json_string_value(json_object_get(cfg, "bucket"));
    const char *prefix = json_string_value(json_object_get(cfg, "prefix"));
    if (!bucket) {
        perr_set(e, "", "backend \"gcs\" needs bucket = \"...\"");
        return NULL;
    }
    gcp_opts_t go = {.endpoint = env->endpoint, .http_log = env->http_log, .cancel = env->cancel};
    go.project = json_string_value(json_object_get(pcfg, "project"));
    gcp_client_t *c = gcp_client_new(&go, e);
    if (!c) return NULL;
    backend_t *b = backend_gcs_new(c, bucket, prefix ? prefix : "plinth", env_name ? env_name : "default", e);
    if (!b) {
        gcp_client_free(c);
        return NULL;
    }
    ((gcs_t *)b->impl)->own_client = true;
    return b;
}
