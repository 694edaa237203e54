/* store.c: the emulator's keyed JSON documents, id counters and project
 * numbers, persisted as one JSON file (DIR/emulator.json) written
 * atomically.  Every function here runs with the global lock held. */
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

void emu_store_free(emu_store_t *s) {
    if (!s) return;
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

void emu_put(emu_t *emu, const char *key, json_t *doc) {
    emu_store_t *s = emu_store_of(emu);
    json_object_set_new(s->docs, key, doc);
    s->dirty = 1;
}

int emu_del(emu_t *emu, const char *key) {
    emu_store_t *s = emu_store_of(emu);
    if (json_object_del(s->docs, key) < 0) return -1;
    s->dirty = 1;
    return 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* O(N) over all documents per call; the emulator holds hundreds of
 * documents, not millions, so an ordered index is not worth it. */
json_t *emu_keys(emu_t *emu, const char *prefix) {
    emu_store_t *s = emu_store_of(emu);
    size_t plen = strlen(prefix), n = 0, cap = 16;
    const char **v = xmalloc(cap * sizeof *v);
    const char *k;
    json_t *val;
    json_object_foreach(s->docs, k, val) {
        if (strncmp(k, prefix, plen) != 0) continue;
        if (n == cap) {
            cap *= 2;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[n++] = k;
    }
    qsort(v, n, sizeof *v, cmp_str);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(v[i]));
    free(v);
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
