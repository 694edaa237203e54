/* k8s_ssa.c: the emulator's server-side apply field ownership (see k8s_ssa.h). */
#include "emulator/k8s_ssa.h"

#include <string.h>
#include <time.h>

#define SEP '\x1f'

static const char *const sys_meta[] = {"name",
                                       "namespace",
                                       "uid",
                                       "resourceVersion",
                                       "generation",
                                       "creationTimestamp",
                                       "deletionTimestamp",
                                       "deletionGracePeriodSeconds",
                                       "managedFields",
                                       "selfLink",
                                       NULL};

static int in_list(const char *const *l, const char *s) {
    for (; *l; l++)
        if (!strcmp(*l, s)) return 1;
    return 0;
}

static void leaves(const json_t *v, const char *prefix, int depth, strlist_t *out) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x) {
        if (depth == 0 && (!strcmp(k, "apiVersion") || !strcmp(k, "kind") || !strcmp(k, "status"))) continue;
        if (depth == 1 && !strcmp(prefix, "metadata") && in_list(sys_meta, k)) continue;
        char *p = *prefix ? xasprintf("%s%c%s", prefix, SEP, k) : xstrdup(k);
        if (json_is_object(x) && json_object_size(x)) {
            leaves(x, p, depth + 1, out);
            free(p);
        } else {
            strlist_add_own(out, p);
        }
    }
}

void emu_ssa_fields(const json_t *obj, strlist_t *out) {
    if (json_is_object(obj)) leaves(obj, "", 0, out);
}

json_t *emu_ssa_to_fieldsv1(const strlist_t *paths) {
    json_t *root = json_object();
    for (size_t i = 0; i < paths->n; i++) {
        json_t *cur = root;
        const char *s = paths->v[i];
        for (;;) {
            const char *e = strchr(s, SEP);
            size_t n = e ? (size_t)(e - s) : strlen(s);
            char *key = xasprintf("f:%.*s", (int)n, s);
            json_t *next = json_object_get(cur, key);
            if (!next) {
                next = json_object();
                json_object_set_new(cur, key, next);
            }
            free(key);
            cur = next;
            if (!e) {
                if (json_object_size(cur)) json_object_set_new(cur, ".", json_object());
                break;
            }
            s = e + 1;
        }
    }
    return root;
}

static void from_f(const json_t *f, const char *prefix, strlist_t *out) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)f, k, x) {
        if (!strcmp(k, ".")) {
            if (*prefix) strlist_add(out, prefix);
            continue;
        }
        const char *name = !strncmp(k, "f:", 2) ? k + 2 : k;
        char *p = *prefix ? xasprintf("%s%c%s", prefix, SEP, name) : xstrdup(name);
        if (json_is_object(x) && json_object_size(x))
            from_f(x, p, out);
        else
            strlist_add(out, p);
        free(p);
    }
}

void emu_ssa_from_fieldsv1(const json_t *f, strlist_t *out) {
    if (json_is_object(f)) from_f(f, "", out);
}

static json_t *get_seg(const json_t *v, const char *path) {
    char *copy = xstrdup(path), *save = NULL;
    const json_t *cur = v;
    for (char *t = strtok_r(copy, "\x1f", &save); t && cur; t = strtok_r(NULL, "\x1f", &save))
        cur = json_is_object(cur) ? json_object_get(cur, t) : NULL;
    free(copy);
    return (json_t *)cur;
}

/* Removes the value at path and parents left empty (not the top level). */
static void del_seg(json_t *v, const char *path) {
    const char *last = strrchr(path, SEP);
    if (!last) {
        json_object_del(v, path);
        return;
    }
    char *parent = xstrndup(path, (size_t)(last - path));
    json_t *p = get_seg(v, parent);
    if (json_is_object(p)) {
        json_object_del(p, last + 1);
        if (json_object_size(p) == 0 && strchr(parent, SEP)) del_seg(v, parent);
    }
    free(parent);
}

static int overlaps(const char *p, const char *q) {
    size_t lp = strlen(p), lq = strlen(q);
    if (lp == lq) return !strcmp(p, q);
    if (lp < lq) return !strncmp(p, q, lp) && q[lp] == SEP;
    return !strncmp(p, q, lq) && p[lq] == SEP;
}

/* ".spec.replicas" for messages. */
static char *dotted(const char *p) {
    char *s = xasprintf(".%s", p);
    for (char *c = s; *c; c++)
        if (*c == SEP) *c = '.';
    return s;
}

typedef struct {
    char *manager, *operation, *api_version, *time;
    json_t *extra; /* subresource etc. kept as is */
    strlist_t set;
} mentry_t;

typedef struct {
    mentry_t *v;
    size_t n;
} mlist_t;

static void mlist_load(mlist_t *m, const json_t *obj) {
    memset(m, 0, sizeof *m);
    json_t *mf = obj ? json_object_get(json_object_get(obj, "metadata"), "managedFields") : NULL;
    size_t n = json_array_size(mf), i;
    m->v = xcalloc(n + 1, sizeof *m->v);
    json_t *e;
    json_array_foreach(mf, i, e) {
        mentry_t *x = &m->v[m->n++];
        x->manager = xstrdup(json_string_value(json_object_get(e, "manager")) ?: "");
        x->operation = xstrdup(json_string_value(json_object_get(e, "operation")) ?: "Update");
        x->api_version = xstrdup(json_string_value(json_object_get(e, "apiVersion")) ?: "v1");
        x->time = xstrdup(json_string_value(json_object_get(e, "time")) ?: "");
        x->extra = json_incref(json_object_get(e, "subresource"));
        emu_ssa_from_fieldsv1(json_object_get(e, "fieldsV1"), &x->set);
    }
}

static mentry_t *mlist_find(mlist_t *m, const char *manager, const char *op, const char *av) {
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->v[i].manager, manager) && !strcmp(m->v[i].operation, op)) return &m->v[i];
    m->v = xrealloc(m->v, (m->n + 1) * sizeof *m->v);
    mentry_t *x = &m->v[m->n++];
    memset(x, 0, sizeof *x);
    x->manager = xstrdup(manager);
    x->operation = xstrdup(op);
    x->api_version = xstrdup(av);
    x->time = xstrdup("");
    return x;
}

static void now_str(char out[32]) {
    util_rfc3339(out, (int64_t)time(NULL));
}

static void mlist_store(mlist_t *m, json_t *obj) {
    json_t *arr = json_array();
    for (size_t i = 0; i < m->n; i++) {
        mentry_t *x = &m->v[i];
        if (x->set.n == 0) continue;
        json_t *e = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o}", "manager", x->manager, "operation", x->operation,
                              "apiVersion", x->api_version, "time", x->time, "fieldsType", "FieldsV1",
                              "fieldsV1", emu_ssa_to_fieldsv1(&x->set));
        if (x->extra) json_object_set(e, "subresource", x->extra);
        json_array_append_new(arr, e);
    }
    json_t *md = json_object_get(obj, "metadata");
    if (!json_is_object(md)) {
        md = json_object();
        json_object_set_new(obj, "metadata", md);
    }
    if (json_array_size(arr))
        json_object_set_new(md, "managedFields", arr);
    else {
        json_object_del(md, "managedFields");
        json_decref(arr);
    }
}

static void mlist_free(mlist_t *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].manager);
        free(m->v[i].operation);
        free(m->v[i].api_version);
        free(m->v[i].time);
        json_decref(m->v[i].extra);
        strlist_free(&m->v[i].set);
    }
    free(m->v);
}

static void set_remove_overlapping(strlist_t *set, const char *p) {
    size_t w = 0;
    for (size_t i = 0; i < set->n; i++) {
        if (overlaps(set->v[i], p))
            free(set->v[i]);
        else
            set->v[w++] = set->v[i];
    }
    set->n = w;
    if (set->v) set->v[w] = NULL;
}

static void deep_merge(json_t *dst, const json_t *src) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)src, k, v) {
        json_t *d = json_object_get(dst, k);
        if (json_is_object(v) && json_is_object(d) && json_object_size(v))
            deep_merge(d, v);
        else
            json_object_set_new(dst, k, json_deep_copy(v));
    }
}

static char *gv_of(const char *group, const char *version) {
    return group && *group ? xasprintf("%s/%s", group, version) : xstrdup(version);
}

json_t *emu_ssa_apply(const json_t *old, const json_t *cfg_in, const char *manager, int force,
                      const char *group, const char *version, char *msg, size_t msglen) {
    json_t *cfg = json_deep_copy(cfg_in);
    json_object_del(cfg, "status");
    json_t *cmd = json_object_get(cfg, "metadata");
    for (const char *const *s = sys_meta + 2; *s; s++)
        json_object_del(cmd, *s);
    strlist_t fields = {0};
    emu_ssa_fields(cfg, &fields);
    char *gv = gv_of(group, version);
    mlist_t m;
    mlist_load(&m, old);
    sbuf_t cf = {0};
    int nconf = 0;
    for (size_t i = 0; old && i < fields.n; i++) {
        json_t *vc = get_seg(cfg, fields.v[i]), *vl = get_seg(old, fields.v[i]);
        if (!vl || json_equal(vc, vl)) continue;
        for (size_t j = 0; j < m.n; j++) {
            mentry_t *e = &m.v[j];
            if (!strcmp(e->manager, manager) && !strcmp(e->operation, "Apply")) continue;
            int hit = 0;
            for (size_t k = 0; k < e->set.n && !hit; k++)
                hit = overlaps(e->set.v[k], fields.v[i]);
            if (!hit) continue;
            if (force) {
                set_remove_overlapping(&e->set, fields.v[i]);
            } else {
                char *d = dotted(fields.v[i]);
                sbuf_addf(&cf, "%sconflict with \"%s\"", nconf ? "\n" : "", e->manager);
                if (!strcmp(e->operation, "Update")) sbuf_addf(&cf, " using %s", e->api_version);
                sbuf_addf(&cf, ": %s", d);
                free(d);
                nconf++;
            }
        }
    }
    json_t *out = NULL;
    if (nconf) {
        snprintf(msg, msglen, "%d conflict%s: %s", nconf, nconf == 1 ? "" : "s", cf.s);
        goto done;
    }
    out = old ? json_deep_copy(old) : json_object();
    mentry_t *me = mlist_find(&m, manager, "Apply", gv);
    /* Fields this manager applied before and no longer sets. */
    for (size_t i = 0; i < me->set.n; i++) {
        const char *q = me->set.v[i];
        int still = 0;
        for (size_t k = 0; k < fields.n && !still; k++)
            still = overlaps(fields.v[k], q);
        if (still) continue;
        int shared = 0;
        for (size_t j = 0; j < m.n && !shared; j++) {
            if (&m.v[j] == me) continue;
            for (size_t k = 0; k < m.v[j].set.n && !shared; k++)
                shared = overlaps(m.v[j].set.v[k], q);
        }
        if (!shared) del_seg(out, q);
    }
    deep_merge(out, cfg);
    /* A no-op apply (same object, same field set) keeps the entry's time,
     * so the object is unchanged and its resourceVersion stays. */
    int same = old && me->set.n == fields.n && *me->time;
    for (size_t i = 0; same && i < fields.n; i++)
        same = strlist_has(&me->set, fields.v[i]);
    if (same) {
        json_t *a = json_deep_copy(out), *b = json_deep_copy(old);
        json_object_del(json_object_get(a, "metadata"), "managedFields");
        json_object_del(json_object_get(b, "metadata"), "managedFields");
        same = json_equal(a, b);
        json_decref(a);
        json_decref(b);
    }
    strlist_free(&me->set);
    for (size_t i = 0; i < fields.n; i++)
        strlist_add(&me->set, fields.v[i]);
    char now[32];
    now_str(now);
    if (!same) {
        free(me->time);
        me->time = xstrdup(now);
    }
    free(me->api_version);
    me->api_version = xstrdup(gv);
    mlist_store(&m, out);
done:
    sbuf_free(&cf);
    mlist_free(&m);
    strlist_free(&fields);
    json_decref(cfg);
    free(gv);
    return out;
}

void emu_ssa_update(json_t *obj, const json_t *old, const char *manager, const char *group,
                    const char *version) {
    char *gv = gv_of(group, version);
    mlist_t m;
    mlist_load(&m, old);
    strlist_t now_f = {0}, old_f = {0};
    emu_ssa_fields(obj, &now_f);
    if (old) emu_ssa_fields(old, &old_f);
    mentry_t *me = NULL;
    for (size_t i = 0; i < now_f.n; i++) {
        const char *p = now_f.v[i];
        json_t *a = old ? get_seg(old, p) : NULL;
        if (a && json_equal(a, get_seg(obj, p))) continue;
        if (!me) me = mlist_find(&m, manager, "Update", gv);
        for (size_t j = 0; j < m.n; j++)
            if (&m.v[j] != me) set_remove_overlapping(&m.v[j].set, p);
        if (!strlist_has(&me->set, p)) strlist_add(&me->set, p);
    }
    for (size_t i = 0; i < old_f.n; i++) {
        if (get_seg(obj, old_f.v[i])) continue;
        for (size_t j = 0; j < m.n; j++)
            set_remove_overlapping(&m.v[j].set, old_f.v[i]);
    }
    if (me) {
        char now[32];
        now_str(now);
        free(me->time);
        me->time = xstrdup(now);
    }
    mlist_store(&m, obj);
    mlist_free(&m);
    strlist_free(&now_f);
    strlist_free(&old_f);
    free(gv);
}

static const char *merge_key(const json_t *patch) {
    static const char *const keys[] = {"name", "containerPort", "mountPath", "port", "ip", NULL};
    for (const char *const *k = keys; *k; k++) {
        int all = json_array_size(patch) > 0;
        size_t i;
        json_t *e;
        json_array_foreach(patch, i, e) all &= json_is_object(e) && json_object_get(e, *k) != NULL;
        if (all) return *k;
    }
    return NULL;
}

static json_t *strip_directives(const json_t *v) {
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) if (k[0] != '$' && !json_is_null(x))
            json_object_set_new(o, k, strip_directives(x));
        return o;
    }
    if (json_is_array(v)) {
        json_t *a = json_array(), *x;
        size_t i;
        json_array_foreach(v, i, x) json_array_append_new(a, strip_directives(x));
        return a;
    }
    return json_deep_copy(v);
}

void emu_ssa_merge_patch(json_t *target, const json_t *patch, int strategic) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v) {
        if (strategic && k[0] == '$') continue;
        json_t *t = json_object_get(target, k);
        if (json_is_null(v)) {
            json_object_del(target, k);
        } else if (json_is_object(v)) {
            if (!json_is_object(t)) {
                t = json_object();
                json_object_set_new(target, k, t);
            }
            emu_ssa_merge_patch(t, v, strategic);
        } else if (strategic && json_is_array(v) && json_is_array(t) && merge_key(v)) {
            const char *mk = merge_key(v);
            size_t i;
            json_t *pe;
            json_array_foreach(v, i, pe) {
                json_t *key = json_object_get(pe, mk);
                json_t *found = NULL;
                size_t j, at = 0;
                json_t *te;
                json_array_foreach(t, j, te) if (json_is_object(te) &&
                                                 json_equal(json_object_get(te, mk), key)) found = te,
                                                                                           at = j;
                const char *op = json_string_value(json_object_get(pe, "$patch"));
                if (op && !strcmp(op, "delete")) {
                    if (found) json_array_remove(t, at);
                } else if (found) {
                    emu_ssa_merge_patch(found, pe, strategic);
                } else {
                    json_array_append_new(t, strip_directives(pe));
                }
            }
        } else {
            json_object_set_new(target, k, strategic ? strip_directives(v) : json_deep_copy(v));
        }
    }
}
