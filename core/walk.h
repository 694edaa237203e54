/* walk.h: a bounded-parallel walk over a DAG of steps.
 *
 * The engine turns a plan into steps (refresh one resource, create it,
 * delete it ...) with "must run before" edges; walk_run executes them on
 * `parallelism` threads, each step as soon as everything before it is done,
 * so one slow step never stalls independent ones.  When a step fails, the
 * steps after it (transitively) are skipped; independent branches go on.
 * When *stop becomes non-zero (first SIGINT), no new step starts; running
 * steps finish. */
#ifndef PLINTH_WALK_H
#define PLINTH_WALK_H

#include <signal.h>
#include <stddef.h>

typedef enum { WALK_PENDING, WALK_RUNNING, WALK_DONE, WALK_FAILED, WALK_SKIPPED } walk_status_t;

typedef struct walk walk_t;

walk_t *walk_new(size_t nsteps);
void walk_free(walk_t *w);
void walk_edge(walk_t *w, size_t before, size_t after);
/* Returns 1 and fills cycle (indexes, cycle[0] == cycle[n-1]) when the
 * edges have a cycle; caller frees *cycle. */
int walk_find_cycle(const walk_t *w, size_t **cycle, size_t *n);

/* fn returns 0 on success, -1 on failure.  Returns 0 when every step is
 * DONE, -1 otherwise.  Statuses are readable with walk_status afterwards. */
typedef int (*walk_fn)(void *ud, size_t step);
int walk_run(walk_t *w, int parallelism, walk_fn fn, void *ud, volatile sig_atomic_t *stop);
walk_status_t walk_status(const walk_t *w, size_t step);

#endif
