/* walk.c: bounded-parallel DAG execution.  A mutex-protected ready queue
 * feeds `parallelism` worker threads; finishing a step decrements the
 * pending-predecessor count of its successors and queues those reaching
 * zero.  Failure marks all transitive successors SKIPPED.  O(V + E). */
#include "core/walk.h"

#include <pthread.h>
#include <stdlib.h>

#include "core/util.h"

typedef struct {
    size_t *succ;
    size_t nsucc, cap;
    size_t npred_left;
    walk_status_t st;
} wstep_t;

struct walk {
    wstep_t *s;
    size_t n;
    /* run state */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t *ready;
    size_t nready, remaining, running;
    walk_fn fn;
    void *ud;
    volatile sig_atomic_t *stop;
};

walk_t *walk_new(size_t nsteps) {
    walk_t *w = xcalloc(1, sizeof *w);
    w->s = xcalloc(nsteps ? nsteps : 1, sizeof *w->s);
    w->n = nsteps;
    return w;
}

void walk_free(walk_t *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++)
        free(w->s[i].succ);
    free(w->s);
    free(w->ready);
    free(w);
}

void walk_edge(walk_t *w, size_t before, size_t after) {
    wstep_t *b = &w->s[before];
    for (size_t i = 0; i < b->nsucc; i++)
        if (b->succ[i] == after) return;
    if (b->nsucc == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->succ = xrealloc(b->succ, b->cap * sizeof *b->succ);
    }
    b->succ[b->nsucc++] = after;
}

/* Iterative DFS with colours; records the back edge's cycle. */
int walk_find_cycle(const walk_t *w, size_t **cycle, size_t *ncycle) {
    unsigned char *col = xcalloc(w->n ? w->n : 1, 1);
    size_t *stack = xmalloc((w->n + 1) * sizeof *stack);
    size_t *edge = xcalloc(w->n ? w->n : 1, sizeof *edge);
    int found = 0;
    for (size_t root = 0; root < w->n && !found; root++) {
        if (col[root]) continue;
        size_t sp = 0;
        stack[sp++] = root;
        col[root] = 1;
        while (sp && !found) {
            size_t v = stack[sp - 1];
            if (edge[v] < w->s[v].nsucc) {
                size_t u = w->s[v].succ[edge[v]++];
                if (col[u] == 0) {
                    col[u] = 1;
                    stack[sp++] = u;
                } else if (col[u] == 1) {
                    size_t start = sp;
                    while (start > 0 && stack[start - 1] != u)
                        start--;
                    start--;
                    *ncycle = sp - start + 1;
                    *cycle = xmalloc(*ncycle * sizeof **cycle);
                    for (size_t i = start; i < sp; i++)
                        (*cycle)[i - start] = stack[i];
                    (*cycle)[*ncycle - 1] = u;
                    found = 1;
                }
            } else {
                col[v] = 2;
                sp--;
            }
        }
    }
    free(col);
    free(stack);
    free(edge);
    return found;
}

static void skip_after(walk_t *w, size_t i) {
    for (size_t k = 0; k < w->s[i].nsucc; k++) {
        wstep_t *u = &w->s[w->s[i].succ[k]];
        if (u->st != WALK_PENDING) continue;
        u->st = WALK_SKIPPED;
        w->remaining--;
        skip_after(w, w->s[i].succ[k]);
    }
}

static void *worker(void *arg) {
    walk_t *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (w->nready == 0 && w->remaining > 0 && !(w->stop && *w->stop && w->running == 0))
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->remaining == 0 || (w->stop && *w->stop)) break;
        if (w->nready == 0) continue;
        size_t i = w->ready[--w->nready];
        w->s[i].st = WALK_RUNNING;
        w->running++;
        pthread_mutex_unlock(&w->mu);
        int rc = w->fn(w->ud, i);
        pthread_mutex_lock(&w->mu);
        w->running--;
        w->remaining--;
        if (rc == 0) {
            w->s[i].st = WALK_DONE;
            for (size_t k = 0; k < w->s[i].nsucc; k++) {
                wstep_t *u = &w->s[w->s[i].succ[k]];
                if (--u->npred_left == 0 && u->st == WALK_PENDING) w->ready[w->nready++] = w->s[i].succ[k];
            }
        } else {
            w->s[i].st = WALK_FAILED;
            skip_after(w, i);
        }
        pthread_cond_broadcast(&w->cv);
    }
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int walk_run(walk_t *w, int parallelism, walk_fn fn, void *ud, volatile sig_atomic_t *stop) {
    if (parallelism < 1) parallelism = 1;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->ready = xrealloc(w->ready, (w->n + 1) * sizeof *w->ready);
    w->nready = 0;
    w->remaining = w->n;
    w->running = 0;
    w->fn = fn;
    w->ud = ud;
    w->stop = stop;
    for (size_t i = 0; i < w->n; i++) {
        w->s[i].st = WALK_PENDING;
        w->s[i].npred_left = 0;
    }
    for (size_t i = 0; i < w->n; i++)
        for (size_t k = 0; k < w->s[i].nsucc; k++)
            w->s[w->s[i].succ[k]].npred_left++;
    /* Push in reverse so that steps start roughly in declaration order. */
    for (size_t i = w->n; i-- > 0;)
        if (w->s[i].npred_left == 0) w->ready[w->nready++] = i;
    size_t nt = (size_t)parallelism < w->n ? (size_t)parallelism : w->n;
    pthread_t *t = xcalloc(nt ? nt : 1, sizeof *t);
    for (size_t i = 0; i < nt; i++)
        pthread_create(&t[i], NULL, worker, w);
    for (size_t i = 0; i < nt; i++)
        pthread_join(t[i], NULL);
    free(t);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    for (size_t i = 0; i < w->n; i++)
        if (w->s[i].st != WALK_DONE) return -1;
    return 0;
}

walk_status_t walk_status(const walk_t *w, size_t step) {
    return w->s[step].st;
}
