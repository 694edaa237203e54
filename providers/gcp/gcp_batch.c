/* gcp_batch.c: parallel calls within one batch read (see gcp_batch.h).
 * Threads are started per batch: a refresh has a handful of batches, and
 * a thread costs microseconds against a round trip's milliseconds. */
#include "providers/gcp/gcp_batch.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    rctx_t *c;
    size_t n;
    int (*fn)(rctx_t *c, size_t i, void *ud);
    void *ud;
    pthread_mutex_t mu;
    size_t next;
    perr_t *errs; /* one per call */
    int *rcs;
} batch_t;

static void *batch_worker(void *arg) {
    batch_t *b = arg;
    for (;;) {
        pthread_mutex_lock(&b->mu);
        size_t i = b->next < b->n ? b->next++ : b->n;
        pthread_mutex_unlock(&b->mu);
        if (i >= b->n) return NULL;
        rctx_t mine = *b->c;
        mine.err = &b->errs[i];
        b->rcs[i] = b->fn(&mine, i, b->ud);
    }
}

int gcp_batch_run(rctx_t *c, size_t n, int (*fn)(rctx_t *c, size_t i, void *ud), void *ud) {
    if (n == 0) return 0;
    batch_t b = {.c = c, .n = n, .fn = fn, .ud = ud};
    pthread_mutex_init(&b.mu, NULL);
    b.errs = xcalloc(n, sizeof *b.errs);
    b.rcs = xcalloc(n, sizeof *b.rcs);
    size_t nt = n < GCP_BATCH_PARALLEL ? n : GCP_BATCH_PARALLEL;
    pthread_t *th = xcalloc(nt, sizeof *th);
    size_t started = 0;
    for (; started + 1 < nt; started++) /* this thread is the last worker */
        if (pthread_create(&th[started], NULL, batch_worker, &b) != 0) break;
    batch_worker(&b);
    for (size_t t = 0; t < started; t++)
        pthread_join(th[t], NULL);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (b.rcs[i] != 0) {
            *c->err = b.errs[i];
            if (!c->err->msg[0]) perr_set(c->err, c->addr ? c->addr : "", "read failed");
            rc = -1;
        }
    free(th);
    free(b.errs);
    free(b.rcs);
    pthread_mutex_destroy(&b.mu);
    return rc;
}
