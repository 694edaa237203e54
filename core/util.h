/* util.h: small shared helpers for every module of plinth and its emulator.
 *
 * Errors travel as values: a function that can fail returns 0 or -1 and
 * fills a perr_t (message + where it happened: "file:line" for the spec,
 * a resource address, or a URL).  A diag_t collects many errors so that a
 * run can report all of them together (validation).  sbuf_t is a growable
 * string.  Nothing here writes to the terminal or exits. */
#ifndef PLINTH_UTIL_H
#define PLINTH_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define PLINTH_VERSION "0.1.0"

/* One error: where it happened and what went wrong. */
typedef struct perr {
    char where[256]; /* "platform.lua:12", "gcp.compute_network.main", "" */
    char msg[2048];
} perr_t;

void perr_set(perr_t *e, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void perr_clear(perr_t *e);
/* Prefixes the existing message with "ctx: " (keeps where). */
void perr_wrap(perr_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A list of errors, reported together.  Thread-compatible, not thread-safe. */
typedef struct diag {
    perr_t *items;
    size_t n, cap;
} diag_t;

void diag_add(diag_t *d, const char *where, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_free(diag_t *d);

/* Growable NUL-terminated string.  Zero-initialise ({0}) before use. */
typedef struct sbuf {
    char *s;
    size_t len, cap;
} sbuf_t;

void sbuf_add(sbuf_t *b, const char *s);
void sbuf_addn(sbuf_t *b, const char *s, size_t n);
void sbuf_addf(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vaddf(sbuf_t *b, const char *fmt, va_list ap);
void sbuf_addc(sbuf_t *b, char c);
char *sbuf_steal(sbuf_t *b); /* returns the string (never NULL), resets b */
void sbuf_free(sbuf_t *b);

/* Allocation that aborts on out-of-memory: plinth cannot do anything useful
 * without memory, and checking every small allocation hides real errors. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A NULL-terminated growable list of owned strings. */
typedef struct strlist {
    char **v;
    size_t n, cap;
} strlist_t;

void strlist_add(strlist_t *l, const char *s); /* copies s */
void strlist_add_own(strlist_t *l, char *s);   /* takes ownership */
int strlist_has(const strlist_t *l, const char *s);
void strlist_free(strlist_t *l);

/* Files. util_read_file returns a new NUL-terminated buffer or NULL (errno
 * set, e filled).  util_write_atomic writes tmp + fsync + rename + fsync of
 * the directory, so a reader sees the old or the new file, never a mix. */
char *util_read_file(const char *path, size_t *len, perr_t *e);
int util_write_atomic(const char *path, const char *data, size_t len, perr_t *e);
int util_mkdir_p(const char *path, perr_t *e);

/* Monotonic milliseconds, wall-clock seconds, RFC 3339 UTC timestamp. */
int64_t util_now_ms(void);
void util_rfc3339(char out[32], int64_t epoch_sec);

/* SHA-256 of data as 64 lowercase hex chars + NUL. */
void util_sha256_hex(const void *data, size_t len, char out[65]);
/* Random hex string of 2*nbytes chars (OpenSSL RAND_bytes). */
void util_random_hex(char *out, size_t nbytes);

/* Levenshtein distance, for "did you mean" suggestions. */
size_t util_edit_distance(const char *a, const char *b);

/* The resource address the calling thread is working for, or NULL
 * (thread-local; the string is borrowed and must outlive the work).  The
 * engine sets it around each provider call; transports write it as the
 * HTTP log's "addr". */
void util_set_current_addr(const char *addr);
const char *util_current_addr(void);

#endif
