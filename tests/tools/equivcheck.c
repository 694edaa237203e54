/* equivcheck.c: checks that an apply did what its plan said (issue 11):
 *   - the addresses that received a write (POST, PUT, PATCH, DELETE lines
 *     of the HTTP log with an "addr") are exactly the addresses the plan
 *     listed with an action (create, update, replace, delete);
 *   - each update wrote the plan's changed paths and nothing else: every
 *     changed path is covered by a written field, and every written field
 *     (the updateMask entries, else the body's top-level keys) belongs to
 *     a changed path.  Full-object writes (PUT, Kubernetes server-side
 *     apply) are checked for coverage only.
 *
 * Usage: equivcheck PLANFILE HTTPLOG
 * PLANFILE is a saved plan (plan --out) or plan --json output.  Prints one
 * line per problem and a summary; exits 1 on a problem, 2 on bad input. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

/* Keys that identify or guard a write rather than change the resource. */
static const char *const bookkeeping[] = {
    "fingerprint", "labelFingerprint", "etag", "kind", "apiVersion", "name", "id",
    "selfLink",    "resourceVersion",  NULL};

typedef struct {
    const char *addr, *action;
    json_t *paths;    /* changed_paths (borrowed) */
    bool state_only;  /* only plinth-only options changed: no API call */
    strlist_t fields; /* written fields */
    int writes;
    bool full; /* some write was a whole object */
} item_t;

static int problems;

static void problem(const char *fmt, const char *a, const char *b) {
    printf("equivcheck: ");
    printf(fmt, a, b);
    printf("\n");
    problems++;
}

static bool is_write(const char *m) {
    return m && (!strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "PATCH") || !strcmp(m, "DELETE"));
}

/* Mask entries from ?updateMask= / ?update_mask= / ?updateFields= (comma
 * separated, %2C-encoded commas allowed); 0 if the URL has none. */
static int mask_fields(const char *url, strlist_t *out) {
    static const char *const keys[] = {"updateMask=", "update_mask=", NULL};
    const char *q = strchr(url, '?');
    for (size_t k = 0; q && keys[k]; k++) {
        const char *p = strstr(q, keys[k]);
        if (!p) continue;
        p += strlen(keys[k]);
        sbuf_t b = {0};
        for (; *p && *p != '&'; p++) {
            if (!strncmp(p, "%2C", 3) || !strncmp(p, "%2c", 3) || *p == ',') {
                if (b.len) strlist_add(out, b.s);
                sbuf_free(&b);
                if (*p == '%') p += 2;
            } else {
                sbuf_addc(&b, *p);
            }
        }
        if (b.len) strlist_add(out, b.s);
        sbuf_free(&b);
        return 1;
    }
    return 0;
}

/* snake_case -> camelCase (some update masks use the proto names). */
static char *camel(const char *s) {
    sbuf_t b = {0};
    for (; *s; s++) {
        if (*s == '_' && s[1])
            sbuf_addc(&b, (char)(s[1] >= 'a' && s[1] <= 'z' ? s[1] - 32 : s[1])), s++;
        else
            sbuf_addc(&b, *s);
    }
    return sbuf_steal(&b);
}

/* a and b name the same field or one lies under the other. */
static bool related(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), n = la < lb ? la : lb;
    if (strncmp(a, b, n) != 0) return false;
    char ca = a[n], cb = b[n];
    return (ca == '\0' || ca == '.' || ca == '[') && (cb == '\0' || cb == '.' || cb == '[');
}

static void note_write(item_t *it, const char *method, const char *url, const char *api, json_t *body) {
    it->writes++;
    if (strcmp(method, "PUT") == 0 || (api && strcmp(api, "k8s") == 0)) it->full = true;
    if (strcmp(method, "DELETE") == 0) return;
    strlist_t mask = {0};
    /* Some APIs wrap the resource and carry the mask in the body
     * (IAM's PatchServiceAccountRequest). */
    const char *bm = json_string_value(json_object_get(body, "updateMask"));
    if (bm) {
        char *u = xasprintf("?updateMask=%s", bm);
        mask_fields(u, &mask);
        free(u);
    }
    if (mask.n || mask_fields(url, &mask)) {
        for (size_t i = 0; i < mask.n; i++)
            strlist_add_own(&it->fields, camel(mask.v[i]));
        strlist_free(&mask);
        return;
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
        bool skip = false;
        for (size_t i = 0; bookkeeping[i]; i++)
            skip |= strcmp(k, bookkeeping[i]) == 0;
        if (!skip && !strlist_has(&it->fields, k)) strlist_add(&it->fields, k);
    }
}

static void check_update(item_t *it) {
    size_t i;
    json_t *p;
    json_array_foreach(it->paths, i, p) {
        bool covered = it->full && !it->fields.n;
        for (size_t k = 0; k < it->fields.n && !covered; k++)
            covered = related(json_string_value(p), it->fields.v[k]);
        if (!covered)
            problem("%s: the plan changes %s but apply did not write it", it->addr, json_string_value(p));
    }
    if (it->full) return;
    for (size_t k = 0; k < it->fields.n; k++) {
        bool planned = false;
        json_array_foreach(it->paths, i, p) planned |= related(json_string_value(p), it->fields.v[k]);
        if (!planned)
            problem("%s: apply wrote %s, which the plan does not change", it->addr, it->fields.v[k]);
    }
}

static json_t *load_plan(const char *path) {
    json_error_t je;
    json_t *doc = json_load_file(path, 0, &je);
    if (!doc) {
        fprintf(stderr, "equivcheck: %s: %s\n", path, je.text);
        return NULL;
    }
    json_t *plan = json_object_get(doc, "plan");
    json_t *r = json_incref(plan ? plan : doc);
    json_decref(doc);
    return r;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: equivcheck PLANFILE HTTPLOG\n");
        return 2;
    }
    json_t *plan = load_plan(argv[1]);
    if (!plan) return 2;
    json_t *changes = json_object_get(plan, "changes");
    size_t n = json_array_size(changes), i;
    item_t *items = xcalloc(n + 1, sizeof *items);
    json_t *ch;
    json_array_foreach(changes, i, ch) {
        items[i].addr = json_string_value(json_object_get(ch, "address"));
        items[i].action = json_string_value(json_object_get(ch, "action"));
        items[i].paths = json_object_get(ch, "changed_paths");
        items[i].state_only = json_is_true(json_object_get(ch, "state_only"));
    }
    FILE *f = fopen(argv[2], "r");
    if (!f) {
        fprintf(stderr, "equivcheck: cannot open %s\n", argv[2]);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    int nwrites = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *l = json_loads(line, 0, NULL);
        const char *m = json_string_value(json_object_get(l, "method"));
        const char *addr = json_string_value(json_object_get(l, "addr"));
        if (l && addr && is_write(m)) {
            nwrites++;
            item_t *it = NULL;
            for (size_t k = 0; k < n && !it; k++)
                if (items[k].addr && !strcmp(items[k].addr, addr)) it = &items[k];
            if (!it || !strcmp(it->action, "no-op"))
                problem("%s: received a write (%s) but the plan has no action for it", addr, m);
            else
                note_write(it, m, json_string_value(json_object_get(l, "url")),
                           json_string_value(json_object_get(l, "api")), json_object_get(l, "req_body"));
        }
        json_decref(l);
    }
    free(line);
    fclose(f);
    int nact = 0;
    for (size_t k = 0; k < n; k++) {
        item_t *it = &items[k];
        if (!it->action || !strcmp(it->action, "no-op")) continue;
        nact++;
        if (!it->writes && !it->state_only)
            problem("%s: the plan says %s but apply made no write for it", it->addr, it->action);
        if (!strcmp(it->action, "update") && it->writes) check_update(it);
        strlist_free(&it->fields);
    }
    printf("equivcheck: %d planned actions, %d writes, %d problems\n", nact, nwrites, problems);
    free(items);
    json_decref(plan);
    return problems ? 1 : 0;
}
