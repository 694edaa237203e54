/* testsrv.h: a scripted HTTP server for unit tests (libmicrohttpd on
 * 127.0.0.1, a thread per connection).  Rules answer requests (first
 * match by method and exact path wins; no match: 200 {"ok":true}); every
 * request is recorded with its body and a few headers. */
#ifndef PLINTH_TESTSRV_H
#define PLINTH_TESTSRV_H

#include <pthread.h>
#include <stddef.h>

struct MHD_Daemon;

typedef struct tsrv_rule {
    char method[8];
    char path[256]; /* exact path, "" = any */
    int status;
    char *body;
    int retry_after; /* seconds, -1 none */
    int times;       /* uses left, -1 = forever */
    int drop;        /* close the connection after reading the body */
} tsrv_rule_t;

typedef struct tsrv_seen {
    char method[8];
    char path[256];
    char *body;
    char auth[512];  /* Authorization */
    char quota[128]; /* X-Goog-User-Project */
    char flavor[64]; /* Metadata-Flavor */
    char ua[64];     /* User-Agent */
    char ctype[128]; /* Content-Type */
} tsrv_seen_t;

typedef struct tsrv {
    struct MHD_Daemon *d;
    int port;
    char base[64]; /* "http://127.0.0.1:PORT" */
    pthread_mutex_t mu;
    tsrv_rule_t rules[32];
    int nrules;
    tsrv_seen_t seen[512];
    int nseen;
    int active, max_active; /* requests being answered now / at most */
    int delay_ms;           /* every answer waits this long */
} tsrv_t;

/* Starts a server (fails the running test when it cannot). */
tsrv_t *tsrv_start(void);
void tsrv_stop(tsrv_t *s);
/* Adds a rule; method/path NULL or "" match any. */
void tsrv_rule(tsrv_t *s, const char *method, const char *path, int status, const char *body, int retry_after,
               int times, int drop);
/* Requests seen for path (NULL: all). */
int tsrv_count(tsrv_t *s, const char *path);
/* The nth (from 0) request seen for path, or NULL. */
const tsrv_seen_t *tsrv_nth(tsrv_t *s, const char *path, int nth);

#endif
