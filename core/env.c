/* env.c: environment metadata in state, and listing the environments of
 * a backend (contract in env.h). */
#include "core/env.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int env_parse_ttl(const char *s, int64_t *secs) {
    if (!s || !*s) return -1;
    int64_t total = 0;
    const char *p = s;
    while (*p) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0) return -1;
        int64_t mult = 1;
        switch (*end) {
        case 'd':
            mult = 86400;
            end++;
            break;
        case 'h':
            mult = 3600;
            end++;
            break;
        case 'm':
            mult = 60;
            end++;
            break;
        case 's': end++; break;
        case '\0':
            if (p != s) return -1;
            break; /* a bare number only alone */
        default: return -1;
        }
        total += (int64_t)v * mult;
        p = end;
    }
    if (total <= 0) return -1;
    *secs = total;
    return 0;
}

static void rfc3339(time_t t, char out[32]) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static time_t parse_rfc3339(const char *s) {
    struct tm tm = {0};
    if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) return (time_t)-1;
    return timegm(&tm);
}

static char *actor(void) {
    const char *a = getenv("PLINTH_ACTOR");
    if (!a || !*a) a = getenv("GITHUB_ACTOR");
    if (a && *a) return xstrdup(a);
    const char *u = getenv("USER");
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    return xasprintf("%s@%s", u && *u ? u : "unknown", host[0] ? host : "localhost");
}

bool env_note(engine_t *e, int64_t ttl_s, const char *ttl_text, bool destroy) {
    pthread_mutex_lock(&e->state_mu);
    bool has_ttl = json_integer_value(json_object_get(e->state->env, "ttl_seconds")) > 0;
    pthread_mutex_unlock(&e->state_mu);
    if (destroy && !e->state->env) return false; /* nothing recorded: write nothing */
    pthread_mutex_lock(&e->state_mu);
    json_t *m = e->state->env ? json_deep_copy(e->state->env) : json_object();
    time_t now = time(NULL);
    char ts[32];
    rfc3339(now, ts);
    char *who = actor();
    json_object_set_new(m, destroy ? "last_destroy" : "last_apply", json_string(ts));
    json_object_set_new(m, "who", json_string(who));
    free(who);
    if (e->spec && !destroy) json_object_set_new(m, "spec", json_string(e->spec->path));
    if (ttl_s > 0) {
        json_object_set_new(m, "ttl", json_string(ttl_text));
        json_object_set_new(m, "ttl_seconds", json_integer(ttl_s));
    } else {
        ttl_s = json_integer_value(json_object_get(m, "ttl_seconds"));
    }
    if (destroy)
        json_object_del(m, "expires");
    else if (ttl_s > 0) {
        rfc3339(now + (time_t)ttl_s, ts);
        json_object_set_new(m, "expires", json_string(ts));
    }
    json_decref(e->state->env);
    e->state->env = m;
    pthread_mutex_unlock(&e->state_mu);
    return destroy || ttl_s > 0 || has_ttl;
}

/* ---- listing ---- */

static int name_cmp(const void *a, const void *b) {
    return strcmp(((const env_info_t *)a)->name, ((const env_info_t *)b)->name);
}

static char *str_of(const json_t *o, const char *k) {
    const char *s = json_string_value(json_object_get(o, k));
    return s ? xstrdup(s) : NULL;
}

/* Fills what the environment's state and lock say. */
static void describe_env(env_info_t *v, backend_t *b) {
    perr_t err = {0};
    state_t *s = NULL;
    if (state_load(b, &s, &err) != 0) {
        v->error = xstrdup(err.msg);
        return;
    }
    v->resources = s->nres;
    v->last_apply = str_of(s->env, "last_apply");
    v->who = str_of(s->env, "who");
    v->expires = str_of(s->env, "expires");
    v->spec = str_of(s->env, "spec");
    v->ttl = str_of(s->env, "ttl");
    time_t exp = parse_rfc3339(v->expires);
    v->expired = v->expires && exp != (time_t)-1 && exp <= time(NULL);
    state_free(s);
    perr_t le = {0};
    v->locked = b->lock_info && b->lock_info(b, &v->lock, &le) == 1;
}

static void add_env(env_info_t **out, size_t *n, size_t *cap, const char *name) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 16;
        *out = xrealloc(*out, *cap * sizeof **out);
    }
    (*out)[(*n)++] = (env_info_t){.name = xstrdup(name)};
}

static void local_names(const char *dir, strlist_t *names) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *de;
    const char *suf = ".state.json";
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name), sl = strlen(suf);
        if (n <= sl || strcmp(de->d_name + n - sl, suf) != 0) continue;
        char *env = xstrndup(de->d_name, n - sl);
        strlist_add(names, env);
        free(env);
    }
    closedir(d);
}

int env_list(engine_t *e, env_info_t **out, size_t *n, perr_t *err) {
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    strlist_t names = {0};
    /* A backend that keeps environments side by side (gcs: one bucket and
     * prefix) lists them itself; otherwise they are files of a directory. */
    bool shared = e->backend && e->backend->list_envs && e->backend->sibling;
    char *dir = NULL;
    if (shared) {
        if (e->backend->list_envs(e->backend, &names, err) != 0) {
            strlist_free(&names);
            return -1;
        }
        for (size_t i = 0; i < names.n; i++) {
            add_env(out, n, &cap, names.v[i]);
            backend_t *b = e->backend->sibling(e->backend, names.v[i], err);
            if (!b) continue;
            describe_env(&(*out)[*n - 1], b);
            b->free(b);
        }
    } else {
        const char *base = e->spec ? e->spec->dir : ".";
        dir = e->local_dir ? xstrdup(e->local_dir) : xasprintf("%s/.plinth", base);
        local_names(dir, &names);
        for (size_t i = 0; i < names.n; i++) {
            add_env(out, n, &cap, names.v[i]);
            char *path = xasprintf("%s/%s.state.json", dir, names.v[i]);
            backend_t *b = backend_local_new(path);
            free(path);
            describe_env(&(*out)[*n - 1], b);
            b->free(b);
        }
        free(dir);
    }
    strlist_free(&names);
    if (*n) qsort(*out, *n, sizeof **out, name_cmp);
    return 0;
}

void env_list_free(env_info_t *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].last_apply);
        free(v[i].who);
        free(v[i].expires);
        free(v[i].spec);
        free(v[i].ttl);
        free(v[i].error);
    }
    free(v);
}

static json_t *str_or_null(const char *s) {
    return s ? json_string(s) : json_null();
}

json_t *env_info_json(const env_info_t *v) {
    json_t *lock = json_null();
    if (v->locked)
        lock = json_pack("{s:s, s:s, s:s, s:s, s:i}", "id", v->lock.id, "who", v->lock.who, "host",
                         v->lock.host, "op", v->lock.op, "pid", v->lock.pid);
    if (v->locked) json_object_set_new(lock, "created", json_string(v->lock.created));
    json_t *o = json_pack("{s:s, s:I, s:o, s:o, s:o, s:b, s:o, s:o, s:o}", "name", v->name, "resources",
                          (json_int_t)v->resources, "last_apply", str_or_null(v->last_apply), "who",
                          str_or_null(v->who), "expires", str_or_null(v->expires), "expired", v->expired,
                          "ttl", str_or_null(v->ttl), "spec", str_or_null(v->spec), "lock", lock);
    if (v->error) json_object_set_new(o, "error", json_string(v->error));
    return o;
}
