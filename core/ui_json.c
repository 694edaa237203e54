/* ui_json.c: the JSON-lines stream (contract in ui_json.h).  One mutex
 * serialises lines: progress comes from worker threads. */
#include "core/ui_json.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static bool on;

bool uij_on(void) {
    return on;
}

static void timestamp(char out[40]) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char base[24];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 40, "%s.%06ldZ", base, (long)tv.tv_usec);
}

void uij_emit(const char *level, const char *type, const char *message, json_t *body) {
    if (!on) {
        json_decref(body);
        return;
    }
    char ts[40];
    timestamp(ts);
    json_t *m = body ? body : json_object();
    json_object_set_new(m, "@level", json_string(level));
    json_object_set_new(m, "@message", json_string(message ? message : ""));
    json_object_set_new(m, "@module", json_string("plinth.ui"));
    json_object_set_new(m, "@timestamp", json_string(ts));
    json_object_set_new(m, "type", json_string(type));
    char *s = json_dumps(m, JSON_COMPACT | JSON_SORT_KEYS);
    pthread_mutex_lock(&mu);
    if (s) fprintf(stdout, "%s\n", s);
    fflush(stdout);
    pthread_mutex_unlock(&mu);
    free(s);
    json_decref(m);
}

void uij_begin(void) {
    on = true;
    uij_emit("info", "version", "plinth " PLINTH_VERSION,
             json_pack("{s:s, s:s}", "plinth", PLINTH_VERSION, "ui", UIJ_VERSION));
}

void uij_log(const char *level, const char *text) {
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == ' '))
        n--;
    size_t skip = strspn(text, "\n");
    if (skip >= n) return;
    char *t = xstrndup(text + skip, n - skip);
    uij_emit(level, "log", t, NULL);
    free(t);
}

void uij_log_at(const char *level, const char *addr, const char *text) {
    char *t = xasprintf("%s: %s", addr, text);
    uij_emit(level, "log", t, json_pack("{s:s}", "address", addr));
    free(t);
}

void uij_diag(const char *severity, const char *where, const char *msg) {
    json_t *d = json_pack("{s:s, s:s}", "severity", severity, "summary", msg);
    if (where && *where) json_object_set_new(d, "address", json_string(where));
    char *text = where && *where ? xasprintf("%s: %s", where, msg) : xstrdup(msg);
    uij_emit(strcmp(severity, "error") == 0 ? "error" : "warn", "diagnostic", text,
             json_pack("{s:o}", "diagnostic", d));
    free(text);
}

/* R: how Terraform's stream names a resource. */
static json_t *resource_of(const char *addr, const char *type) {
    char *derived = NULL;
    if (!type) { /* [module.M.]...TYPE.NAME with TYPE = PROVIDER.KIND */
        const char *p = addr;
        while (strncmp(p, "module.", 7) == 0 && strchr(p + 7, '.'))
            p = strchr(p + 7, '.') + 1;
        const char *last = strrchr(p, '.');
        if (last && last > p) type = derived = xstrndup(p, (size_t)(last - p));
    }
    char *mod = NULL;
    const char *rest = addr;
    if (strncmp(addr, "module.", 7) == 0 && type) {
        const char *p = strstr(addr, type);
        if (p && p > addr && p[-1] == '.') {
            mod = xstrndup(addr, (size_t)(p - addr - 1));
            rest = p;
        }
    }
    const char *dot = strrchr(addr, '.');
    const char *name = dot ? dot + 1 : addr;
    char *prov = NULL;
    if (type && strchr(type, '.')) prov = xstrndup(type, (size_t)(strchr(type, '.') - type));
    json_t *r = json_pack("{s:s, s:s, s:s, s:s, s:s}", "addr", addr, "module", mod ? mod : "", "resource",
                          rest, "resource_type", type ? type : "", "resource_name", name);
    json_object_set_new(r, "implied_provider", json_string(prov ? prov : ""));
    free(mod);
    free(prov);
    free(derived);
    return r;
}

static const char *act_name(plan_act_t a) {
    switch (a) {
    case ACT_CREATE: return "create";
    case ACT_UPDATE: return "update";
    case ACT_REPLACE: return "replace";
    case ACT_DELETE: return "delete";
    default: return "noop";
    }
}

void uij_plan(const plan_t *p, const char *operation) {
    for (size_t i = 0; i < p->n; i++) {
        const plan_item_t *it = &p->items[i];
        const char *tn = it->type ? it->type->name : NULL;
        if (it->drift.n) {
            json_t *paths = json_array();
            for (size_t k = 0; k < it->drift.n; k++)
                json_array_append_new(paths, json_string(it->drift.v[k]));
            char *msg = xasprintf("%s: drift detected (update)", it->addr);
            uij_emit("info", "resource_drift", msg,
                     json_pack("{s:{s:o, s:s, s:o}}", "change", "resource", resource_of(it->addr, tn),
                               "action", "update", "paths", paths));
            free(msg);
        }
        if (it->act == ACT_NOOP) continue;
        json_t *ch =
            json_pack("{s:o, s:s}", "resource", resource_of(it->addr, tn), "action", act_name(it->act));
        if (it->reason) json_object_set_new(ch, "reason", json_string(it->reason));
        char *msg = xasprintf("%s: Plan to %s", it->addr, act_name(it->act));
        uij_emit("info", "planned_change", msg, json_pack("{s:o}", "change", ch));
        free(msg);
    }
    uij_summary(p, operation, false);
}

void uij_summary(const plan_t *p, const char *operation, bool done) {
    int add = done ? p->done_create + p->done_replace : p->ncreate + p->nreplace;
    int change = done ? p->done_update : p->nupdate;
    int repl = done ? p->done_replace : p->nreplace;
    int remove = done ? p->done_delete + p->done_replace : p->ndelete + p->nreplace;
    char *msg = done ? xasprintf("%s complete! Resources: %d added, %d changed, %d destroyed.",
                                 strcmp(operation, "destroy") == 0 ? "Destroy" : "Apply", add, change, remove)
                     : xasprintf("Plan: %d to add, %d to change, %d to destroy.", add, change, remove);
    uij_emit("info", "change_summary", msg,
             json_pack("{s:{s:i, s:i, s:i, s:i, s:i, s:s}}", "changes", "add", add, "change", change,
                       "replace", repl, "remove", remove, "import", 0, "operation", operation));
    free(msg);
}

/* "Creating" -> create, "Modifications complete" -> update, ... */
static const char *verb_action(const char *verb) {
    if (!strncmp(verb, "Creat", 5)) return "create";
    if (!strncmp(verb, "Modif", 5)) return "update";
    if (!strncmp(verb, "Destr", 5)) return "delete";
    if (!strncmp(verb, "Replac", 6)) return "replace";
    if (!strncmp(verb, "Refresh", 7)) return "read";
    return verb;
}

void uij_step(const char *type, const char *addr, const char *verb, double elapsed, const char *detail) {
    json_t *h = json_pack("{s:o, s:s}", "resource", resource_of(addr, NULL), "action", verb_action(verb));
    bool timed = strcmp(type, "apply_start") != 0;
    if (timed) json_object_set_new(h, "elapsed_seconds", json_real(elapsed));
    if (detail && *detail)
        json_object_set_new(h, strcmp(type, "apply_progress") == 0 ? "message" : "id_value",
                            json_string(detail));
    char *msg =
        timed ? xasprintf("%s: %s [%.1fs]%s%s", addr, verb, elapsed, detail ? " " : "", detail ? detail : "")
              : xasprintf("%s: %s...", addr, verb);
    uij_emit(strcmp(type, "apply_errored") == 0 ? "error" : "info", type, msg, json_pack("{s:o}", "hook", h));
    free(msg);
}

void uij_outputs(const json_t *outputs) {
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)outputs, k, v) {
        bool sens = json_is_true(json_object_get(v, "sensitive"));
        json_t *e = json_pack("{s:b}", "sensitive", sens);
        if (!sens) json_object_set(e, "value", json_object_get(v, "value"));
        json_object_set_new(o, k, e);
    }
    char *msg = xasprintf("Outputs: %zu", json_object_size(o));
    uij_emit("info", "outputs", msg, json_pack("{s:o}", "outputs", o));
    free(msg);
}
