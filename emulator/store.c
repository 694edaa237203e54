/* store.c: the emulator's keyed JSON documents, id counters and project
 * numbers, persisted as one JSON file (DIR/emulator.json) written
 * atomically, and an ordered index of the keys for listing.  Every
 * function here runs with the global lock held. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "emulator/emu.h"

struct emu_store {
    json_t *docs;     /* key -> document */
    json_t *counters; /* name -> integer */
    json_t *numbers;  /* project id -> number string (derived, not persisted) */
    char *path;       /* NULL: memory only */
    int dirty;
    /* Ordered key index: keys[] sorted (own copies), dead[i] set where a
     * key was deleted (dropped at the next merge); keys added since the
     * last merge wait unsorted in added[] and are merged in by the next
     * listing: O(N + A log A) once per listing after changes, and a
     * listing without changes costs O(log N + its range).  Deletes are
     * O(log N).  A list page of 10,000 buckets used to scan and sort every
     * document of the store. */
    char **keys;
    unsigned char *dead;
    size_t nkeys, ndead;
    char **added;
    size_t nadded, cap_added;
};

emu_store_t *emu_store_new(const char *data_dir, perr_t *e) {
    emu_store_t *s = xcalloc(1, sizeof *s);
    s->docs = json_object();
    s->counters = json_object();
    s->numbers = json_object();
    if (!data_dir) return s;
    if (util_mkdir_p(data_dir, e) < 0) goto err;
    s->path = xasprintf("%s/emulator.json", data_dir);
    struct stat st;
    if (stat(s->path, &st) < 0) {
        if (errno == ENOENT) return s;
        perr_set(e, s->path, "cannot stat: %s", strerror(errno));
        goto err;
    }
    size_t len = 0;
    char *text = util_read_file(s->path, &len, e);
    if (!text) goto err;
    json_error_t je;
    json_t *root = json_loadb(text, len, 0, &je);
    free(text);
    if (!root) {
        perr_set(e, s->path, "corrupt emulator data file (line %d: %s); move it away to start fresh", je.line,
                 je.text);
        goto err;
    }
    json_t *docs = json_object_get(root, "docs");
    json_t *counters = json_object_get(root, "counters");
    if (!json_is_object(root) || !json_is_object(docs) || !json_is_object(counters)) {
        json_decref(root);
        perr_set(e, s->path, "corrupt emulator data file: expected {\"docs\":{},\"counters\":{}}");
        goto err;
    }
    json_object_update(s->docs, docs);
    json_object_update(s->counters, counters);
    json_decref(root);
    return s;
err:
    emu_store_free(s);
    return NULL;
}

static void index_free(emu_store_t *s) {
    for (size_t i = 0; i < s->nkeys; i++)
        free(s->keys[i]);
    for (size_t i = 0; i < s->nadded; i++)
        free(s->added[i]);
    free(s->keys);
    free(s->dead);
    free(s->added);
    s->keys = s->added = NULL;
    s->dead = NULL;
    s->nkeys = s->ndead = s->nadded = s->cap_added = 0;
}

void emu_store_free(emu_store_t *s) {
    if (!s) return;
    index_free(s);
    json_decref(s->docs);
    json_decref(s->counters);
    json_decref(s->numbers);
    free(s->path);
    free(s);
}

char *emu_store_dump_if_dirty(emu_store_t *s) {
    if (!s->dirty || !s->path) return NULL;
    s->dirty = 0;
    json_t *root = json_pack("{s:i,s:O,s:O}", "version", 1, "docs", s->docs, "counters", s->counters);
    char *out = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    return out;
}

int emu_store_write(emu_store_t *s, const char *dump, perr_t *e) {
    if (!s->path || !dump) return 0;
    return util_write_atomic(s->path, dump, strlen(dump), e);
}

json_t *emu_get(emu_t *emu, const char *key) {
    return json_object_get(emu_store_of(emu)->docs, key);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* First index in keys[] whose key is >= k. */
static size_t lower_bound(const emu_store_t *s, const char *k) {
    size_t lo = 0, hi = s->nkeys;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->keys[mid], k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Index of k in keys[] (dead or alive), or -1. */
static long index_find(const emu_store_t *s, const char *k) {
    size_t i = lower_bound(s, k);
    return i < s->nkeys && strcmp(s->keys[i], k) == 0 ? (long)i : -1;
}

static void index_add(emu_store_t *s, const char *key) {
    long i = index_find(s, key);
    if (i >= 0) { /* deleted since the last merge: alive again */
        if (s->dead[i]) s->ndead--;
        s->dead[i] = 0;
        return;
    }
    if (s->nadded == s->cap_added) {
        s->cap_added = s->cap_added ? 2 * s->cap_added : 64;
        s->added = xrealloc(s->added, s->cap_added * sizeof *s->added);
    }
    s->added[s->nadded++] = xstrdup(key);
}

static void index_del(emu_store_t *s, const char *key) {
    long i = index_find(s, key);
    if (i >= 0) {
        if (!s->dead[i]) s->ndead++;
        s->dead[i] = 1;
        return;
    }
    for (size_t k = 0; k < s->nadded; k++)
        if (strcmp(s->added[k], key) == 0) {
            free(s->added[k]);
            s->added[k] = s->added[--s->nadded];
            return;
        }
}

/* Folds added[] into keys[] and drops the dead: keys[] alone is exact. */
static void index_merge(emu_store_t *s) {
    if (!s->nadded && !s->ndead) return;
    qsort(s->added, s->nadded, sizeof *s->added, cmp_str);
    size_t n = s->nkeys - s->ndead + s->nadded, i = 0, j = 0, o = 0;
    char **out = xmalloc((n ? n : 1) * sizeof *out);
    while (i < s->nkeys || j < s->nadded) {
        if (i < s->nkeys && s->dead[i]) {
            free(s->keys[i++]);
            continue;
        }
        if (j >= s->nadded || (i < s->nkeys && strcmp(s->keys[i], s->added[j]) < 0))
            out[o++] = s->keys[i++];
        else
            out[o++] = s->added[j++];
    }
    free(s->keys);
    free(s->dead);
    s->keys = out;
    s->nkeys = o;
    s->dead = xcalloc(o ? o : 1, 1);
    s->ndead = 0;
    s->nadded = 0;
}

/* The index is built on first use from the loaded documents. */
static void index_ready(emu_store_t *s) {
    if (!s->dead) {
        const char *k;
        json_t *v;
        json_object_foreach(s->docs, k, v) index_add(s, k);
        s->dead = xcalloc(1, 1);
    }
    index_merge(s);
}

void emu_put(emu_t *emu, const char *key, json_t *doc) {
    emu_store_t *s = emu_store_of(emu);
    if (s->dead && !json_object_get(s->docs, key)) index_add(s, key);
    json_object_set_new(s->docs, key, doc);
    s->dirty = 1;
}

int emu_del(emu_t *emu, const char *key) {
    emu_store_t *s = emu_store_of(emu);
    if (json_object_del(s->docs, key) < 0) return -1;
    if (s->dead) index_del(s, key);
    s->dirty = 1;
    return 0;
}

void emu_keys_each(emu_t *emu, const char *prefix, const char *after, int (*fn)(const char *key, void *ud),
                   void *ud) {
    emu_store_t *s = emu_store_of(emu);
    index_ready(s);
    size_t plen = strlen(prefix);
    size_t i = lower_bound(s, after && *after && strcmp(after, prefix) > 0 ? after : prefix);
    if (after && *after && i < s->nkeys && strcmp(s->keys[i], after) == 0) i++;
    for (; i < s->nkeys && strncmp(s->keys[i], prefix, plen) == 0; i++)
        if (fn(s->keys[i], ud)) return;
}

static int collect(const char *key, void *ud) {
    json_array_append_new(ud, json_string(key));
    return 0;
}

json_t *emu_keys(emu_t *emu, const char *prefix) {
    json_t *arr = json_array();
    emu_keys_each(emu, prefix, NULL, collect, arr);
    return arr;
}

int64_t emu_next_id(emu_t *emu, const char *counter) {
    emu_store_t *s = emu_store_of(emu);
    json_int_t v = json_integer_value(json_object_get(s->counters, counter)) + 1;
    json_object_set_new(s->counters, counter, json_integer(v));
    s->dirty = 1;
    return (int64_t)v;
}

const char *emu_project_number(emu_t *emu, const char *project) {
    emu_store_t *s = emu_store_of(emu);
    json_t *n = json_object_get(s->numbers, project);
    if (!n) {
        /* FNV-1a 64: stable across runs and machines. */
        uint64_t h = 1469598103934665603ULL;
        for (const unsigned char *p = (const unsigned char *)project; *p; p++) {
            h ^= *p;
            h *= 1099511628211ULL;
        }
        char buf[32];
        snprintf(buf, sizeof buf, "%llu", (unsigned long long)(100000000000ULL + h % 900000000000ULL));
        n = json_string(buf);
        json_object_set_new(s->numbers, project, n);
    }
    return json_string_value(n);
}
