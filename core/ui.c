/* ui.c: terminal output.  Plan rendering walks each item's diff; progress
 * lines are serialised by one mutex; a ticker thread reports long-running
 * steps every 10 s so a user always sees what is happening. */
#include "core/ui.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jpath.h"
#include "core/ref.h"
#include "core/ui_json.h"

typedef struct inflight {
    char *addr, *verb;
    int64_t start, last_tick;
} inflight_t;

struct ui {
    bool color, quiet;
    pthread_mutex_t mu;
    inflight_t *fl;
    size_t nfl, capfl;
    pthread_t ticker;
    bool ticker_on, stopping;
    pthread_cond_t cv;
};

#define C(u, code) ((u)->color ? "\033[" code "m" : "")
#define RESET(u) C(u, "0")

static void *ticker_main(void *arg);

ui_t *ui_new(bool color, bool quiet) {
    ui_t *u = xcalloc(1, sizeof *u);
    u->color = color;
    u->quiet = quiet;
    pthread_mutex_init(&u->mu, NULL);
    pthread_cond_init(&u->cv, NULL);
    u->ticker_on = pthread_create(&u->ticker, NULL, ticker_main, u) == 0;
    return u;
}

void ui_free(ui_t *u) {
    if (!u) return;
    pthread_mutex_lock(&u->mu);
    u->stopping = true;
    pthread_cond_broadcast(&u->cv);
    pthread_mutex_unlock(&u->mu);
    if (u->ticker_on) pthread_join(u->ticker, NULL);
    for (size_t i = 0; i < u->nfl; i++)
        free(u->fl[i].addr), free(u->fl[i].verb);
    free(u->fl);
    pthread_mutex_destroy(&u->mu);
    pthread_cond_destroy(&u->cv);
    free(u);
}

bool ui_color(const ui_t *u) {
    return u->color;
}

void ui_error(ui_t *u, const perr_t *e) {
    if (uij_on()) uij_diag("error", e->where, e->msg);
    pthread_mutex_lock(&u->mu);
    if (e->where[0])
        fprintf(stderr, "%sError:%s %s: %s\n", C(u, "1;31"), RESET(u), e->where, e->msg);
    else
        fprintf(stderr, "%sError:%s %s\n", C(u, "1;31"), RESET(u), e->msg);
    pthread_mutex_unlock(&u->mu);
}

/* Errors with the same message (no credentials, an unreachable API) are
 * printed once, naming where they happened. */
void ui_diags(ui_t *u, const diag_t *d) {
    char *done = xcalloc(d->n + 1, 1);
    size_t groups = 0;
    for (size_t i = 0; i < d->n; i++) {
        if (done[i]) continue;
        groups++;
        perr_t e = d->items[i];
        size_t same = 0;
        sbuf_t where = {0};
        sbuf_add(&where, e.where);
        for (size_t k = i + 1; k < d->n; k++) {
            if (done[k] || strcmp(d->items[k].msg, e.msg) != 0) continue;
            done[k] = 1;
            if (++same <= 3) sbuf_addf(&where, ", %s", d->items[k].where);
        }
        if (same > 3) sbuf_addf(&where, " and %zu more", same - 3);
        snprintf(e.where, sizeof e.where, "%s", where.s ? where.s : "");
        sbuf_free(&where);
        ui_error(u, &e);
    }
    free(done);
    if (groups > 1) {
        pthread_mutex_lock(&u->mu);
        fprintf(stderr, "%zu errors.\n", groups);
        pthread_mutex_unlock(&u->mu);
    }
}

void ui_warn(ui_t *u, const char *fmt, ...) {
    va_list ap;
    if (uij_on()) {
        char buf[2048];
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        uij_diag("warning", "", buf);
    }
    va_start(ap, fmt);
    pthread_mutex_lock(&u->mu);
    fprintf(stderr, "%sWarning:%s ", C(u, "1;33"), RESET(u));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    pthread_mutex_unlock(&u->mu);
    va_end(ap);
}

void ui_out(ui_t *u, const char *fmt, ...) {
    va_list ap;
    if (uij_on()) { /* the JSON stream owns stdout */
        char *buf = NULL;
        va_start(ap, fmt);
        if (vasprintf(&buf, fmt, ap) >= 0) uij_log("info", buf);
        va_end(ap);
        free(buf);
        return;
    }
    va_start(ap, fmt);
    pthread_mutex_lock(&u->mu);
    vfprintf(stdout, fmt, ap);
    fflush(stdout);
    pthread_mutex_unlock(&u->mu);
    va_end(ap);
}

void ui_json(ui_t *u, const json_t *v) {
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    ui_out(u, "%s\n", s ? s : "null");
    free(s);
}

char *ui_value(const json_t *v, bool sensitive) {
    if (sensitive) return xstrdup("(sensitive value)");
    if (!v) return xstrdup("null");
    if (ref_contains(v)) return xstrdup("(known after apply)");
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

static const char *act_symbol(plan_act_t a) {
    switch (a) {
    case ACT_CREATE: return "+";
    case ACT_UPDATE: return "~";
    case ACT_DELETE: return "-";
    case ACT_REPLACE: return "-/+";
    default: return " ";
    }
}

static const char *act_color(plan_act_t a) {
    switch (a) {
    case ACT_CREATE: return "32";
    case ACT_UPDATE: return "33";
    case ACT_DELETE: return "31";
    case ACT_REPLACE: return "35";
    default: return "0";
    }
}

static const char *act_words(plan_act_t a) {
    switch (a) {
    case ACT_CREATE: return "will be created";
    case ACT_UPDATE: return "will be updated in-place";
    case ACT_DELETE: return "will be destroyed";
    case ACT_REPLACE: return "must be replaced";
    default: return "";
    }
}

static void print_item(ui_t *u, const plan_item_t *it) {
    const char *col = u->color ? act_color(it->act) : NULL;
    printf("  # %s %s", it->addr, act_words(it->act));
    if (it->reason) printf(" (%s)", it->reason);
    printf("\n");
    if (col) printf("\033[%sm", col);
    printf("  %s %s", it->act == ACT_REPLACE && it->cbd ? "+/-" : act_symbol(it->act), it->addr);
    if (col) printf("\033[0m");
    printf("\n");
    if (it->act != ACT_DELETE) {
        sbuf_t b = {0};
        ui_plan_item_text(&b, it, u->color);
        if (b.s) fputs(b.s, stdout);
        sbuf_free(&b);
    }
    printf("\n");
}

void ui_plan(ui_t *u, const plan_t *p) {
    if (uij_on()) {
        uij_plan(p, "plan");
        return;
    }
    pthread_mutex_lock(&u->mu);
    int drift = 0;
    for (size_t i = 0; i < p->n; i++)
        drift += p->items[i].drift.n > 0 || p->items[i].gone;
    if (drift) {
        printf("Note: objects have changed outside of plinth since the last apply:\n\n");
        for (size_t i = 0; i < p->n; i++) {
            const plan_item_t *it = &p->items[i];
            if (it->gone) printf("  - %s: deleted outside plinth\n", it->addr);
            for (size_t k = 0; k < it->drift.n; k++)
                printf("  ~ %s: %s changed\n", it->addr, it->drift.v[k]);
        }
        printf("\n");
        if (p->refresh_only)
            printf("This is a refresh-only plan: applying it records these changes in the state;"
                   " no resource is changed.\n\n");
    }
    if (plan_has_changes(p)) {
        printf("plinth will perform the following actions:\n\n");
        for (size_t i = 0; i < p->n; i++)
            if (p->items[i].act != ACT_NOOP) print_item(u, &p->items[i]);
    }
    fflush(stdout);
    pthread_mutex_unlock(&u->mu);
    ui_plan_summary(u, p);
}

void ui_plan_summary(ui_t *u, const plan_t *p) {
    if (uij_on()) return; /* in the stream's change_summary */
    pthread_mutex_lock(&u->mu);
    if (!plan_has_changes(p))
        printf("%sNo changes.%s Your infrastructure matches the configuration.\n", C(u, "1;32"), RESET(u));
    else
        printf("%sPlan:%s %d to create, %d to update, %d to replace, %d to destroy.\n", C(u, "1"), RESET(u),
               p->ncreate, p->nupdate, p->nreplace, p->ndelete);
    fflush(stdout);
    pthread_mutex_unlock(&u->mu);
}

static inflight_t *find_fl(ui_t *u, const char *addr) {
    for (size_t i = 0; i < u->nfl; i++)
        if (strcmp(u->fl[i].addr, addr) == 0) return &u->fl[i];
    return NULL;
}

void ui_step_start(ui_t *u, const char *addr, const char *verb) {
    pthread_mutex_lock(&u->mu);
    if (u->nfl == u->capfl) {
        u->capfl = u->capfl ? u->capfl * 2 : 16;
        u->fl = xrealloc(u->fl, u->capfl * sizeof *u->fl);
    }
    int64_t now = util_now_ms();
    u->fl[u->nfl++] = (inflight_t){xstrdup(addr), xstrdup(verb), now, now};
    if (uij_on()) uij_step("apply_start", addr, verb, 0, NULL);
    if (!u->quiet) printf("%s%s%s: %s...\n", C(u, "1"), addr, RESET(u), verb);
    fflush(stdout);
    pthread_mutex_unlock(&u->mu);
}

void ui_step_msg(ui_t *u, const char *addr, const char *msg) {
    pthread_mutex_lock(&u->mu);
    inflight_t *f = find_fl(u, addr);
    if (uij_on() && f)
        uij_step("apply_progress", addr, f->verb, (double)(util_now_ms() - f->start) / 1000.0, msg);
    else if (uij_on())
        uij_log_at("info", addr, msg); /* refresh notes: no step running */
    if (!u->quiet) {
        if (f)
            printf("%s: %s [%llds elapsed]\n", addr, msg, (long long)((util_now_ms() - f->start) / 1000));
        else
            printf("%s: %s\n", addr, msg);
    }
    if (f) f->last_tick = util_now_ms();
    fflush(stdout);
    pthread_mutex_unlock(&u->mu);
}

void ui_step_done(ui_t *u, const char *addr, const char *verb, bool ok, const char *detail) {
    pthread_mutex_lock(&u->mu);
    inflight_t *f = find_fl(u, addr);
    double secs = f ? (double)(util_now_ms() - f->start) / 1000.0 : 0;
    if (uij_on())
        uij_step(ok ? "apply_complete" : "apply_errored", addr,
                 ok  ? verb
                 : f ? f->verb
                     : verb,
                 secs, ok ? detail : NULL);
    if (!u->quiet || !ok) {
        if (ok)
            printf("%s%s%s: %s after %.1fs%s%s%s\n", C(u, "1"), addr, RESET(u), verb, secs,
                   detail ? " [" : "", detail ? detail : "", detail ? "]" : "");
        else
            printf("%s%s%s: %sfailed%s after %.1fs\n", C(u, "1"), addr, RESET(u), C(u, "31"), RESET(u), secs);
    }
    if (f) {
        free(f->addr);
        free(f->verb);
        *f = u->fl[--u->nfl];
    }
    fflush(stdout);
    pthread_mutex_unlock(&u->mu);
}

static void *ticker_main(void *arg) {
    ui_t *u = arg;
    pthread_mutex_lock(&u->mu);
    while (!u->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&u->cv, &u->mu, &ts);
        int64_t now = util_now_ms();
        for (size_t i = 0; i < u->nfl && (!u->quiet || uij_on()); i++) {
            inflight_t *f = &u->fl[i];
            if (now - f->last_tick < 10000) continue;
            f->last_tick = now;
            if (uij_on()) {
                uij_step("apply_progress", f->addr, f->verb, (double)(now - f->start) / 1000.0, NULL);
                continue;
            }
            printf("%s: Still %c%s... [%llds elapsed]\n", f->addr, tolower((unsigned char)f->verb[0]),
                   f->verb + 1, (long long)((now - f->start) / 1000));
            fflush(stdout);
        }
    }
    pthread_mutex_unlock(&u->mu);
    return NULL;
}

bool ui_confirm(ui_t *u, const char *question) {
    char line[64];
    pthread_mutex_lock(&u->mu);
    printf("%s\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ", question);
    fflush(stdout);
    pthread_mutex_unlock(&u->mu);
    if (!fgets(line, sizeof line, stdin)) return false;
    line[strcspn(line, "\r\n")] = '\0';
    return strcmp(line, "yes") == 0;
}
