/* ops.c: the emulator's clock.  Timers (emu_after) run from a ticker thread
 * every ~20 ms under the global lock; the same thread flushes the store at
 * most every 100 ms.  Also the operation durations table and op ids. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emulator/emu.h"

typedef struct timer {
    int64_t due_ms;
    emu_timer_fn fn;
    char *arg;
    struct timer *next;
} timer_t_;

struct emu_ticker {
    emu_t *emu;
    pthread_t thread;
    pthread_mutex_t mu; /* guards stop + cond */
    pthread_cond_t cond;
    int stop;
    timer_t_ *timers; /* unsorted: O(N) per tick, N is small */
};

void emu_after(emu_t *emu, int64_t ms, emu_timer_fn fn, const char *arg) {
    emu_ticker_t *t = emu_ticker_of(emu);
    if (!t) return;
    timer_t_ *tm = xcalloc(1, sizeof *tm);
    tm->due_ms = util_now_ms() + (ms < 0 ? 0 : ms);
    tm->fn = fn;
    tm->arg = xstrdup(arg ? arg : "");
    tm->next = t->timers;
    t->timers = tm;
}

/* Runs every due timer; a timer may add timers (they run on a later tick
 * unless already due). */
static void run_due(emu_ticker_t *t) {
    int64_t now = util_now_ms();
    for (;;) {
        timer_t_ **pp = &t->timers, *due = NULL;
        for (; *pp; pp = &(*pp)->next) {
            if ((*pp)->due_ms <= now) {
                due = *pp;
                *pp = due->next;
                break;
            }
        }
        if (!due) return;
        due->fn(t->emu, due->arg);
        free(due->arg);
        free(due);
    }
}

static void flush(emu_ticker_t *t, int locked) {
    if (!locked) emu_lock(t->emu);
    char *dump = emu_store_dump_if_dirty(emu_store_of(t->emu));
    if (!locked) emu_unlock(t->emu);
    if (dump) {
        perr_t e;
        /* A failed write keeps serving from memory; the next change retries. */
        emu_store_write(emu_store_of(t->emu), dump, &e);
        free(dump);
    }
}

static void *ticker_main(void *arg) {
    emu_ticker_t *t = arg;
    int64_t last_flush = 0;
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cond, &t->mu, &ts);
        if (t->stop) break;
        pthread_mutex_unlock(&t->mu);
        emu_lock(t->emu);
        run_due(t);
        emu_unlock(t->emu);
        if (util_now_ms() - last_flush >= 100) {
            flush(t, 0);
            last_flush = util_now_ms();
        }
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

emu_ticker_t *emu_ticker_start(emu_t *emu) {
    emu_ticker_t *t = xcalloc(1, sizeof *t);
    t->emu = emu;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cond, NULL);
    if (pthread_create(&t->thread, NULL, ticker_main, t) != 0) {
        pthread_mutex_destroy(&t->mu);
        pthread_cond_destroy(&t->cond);
        free(t);
        return NULL;
    }
    return t;
}

void emu_ticker_stop(emu_ticker_t *t) {
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cond);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    flush(t, 0);
    while (t->timers) {
        timer_t_ *n = t->timers->next;
        free(t->timers->arg);
        free(t->timers);
        t->timers = n;
    }
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cond);
    free(t);
}

/* Durations in ms before --op-scale: long enough that clients see RUNNING
 * at least once, short enough for tests.  Prefix entries end with '.'. */
static const struct {
    const char *kind;
    int64_t ms;
} durations[] = {
    {"container.clusters.create", 4000},
    {"container.clusters.delete", 2000},
    {"container.nodePools.create", 2000},
    {"container.nodePools.delete", 1000},
    {"sqladmin.instances.create", 3000},
    {"sqladmin.instances.delete", 1000},
    {"servicenetworking.", 1000},
    {"container.", 1000},
    {"sqladmin.", 800},
    {"compute.", 600},
    {"serviceusage.", 300},
};

int64_t emu_duration(emu_t *emu, const char *kind) {
    int64_t ms = 300;
    for (size_t i = 0; i < sizeof durations / sizeof durations[0]; i++) {
        const char *k = durations[i].kind;
        size_t n = strlen(k);
        if (k[n - 1] == '.' ? strncmp(kind, k, n) == 0 : strcmp(kind, k) == 0) {
            ms = durations[i].ms;
            break;
        }
    }
    double scale = emu_cfg(emu)->op_scale;
    if (scale < 0) scale = 0;
    return (int64_t)((double)ms * scale);
}

char *emu_op_id(emu_t *emu) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char hex[17];
    util_random_hex(hex, 8);
    return xasprintf("operation-%lld-%s", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, hex);
}
