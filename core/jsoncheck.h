/* jsoncheck.h: a strict JSON syntax check that builds nothing.
 *
 * Used where plinth defers parsing (the attributes of each state entry are
 * parsed on first use) but must still refuse a document that does not parse
 * completely at load time: the check accepts exactly what
 * json_loadb(..., JSON_REJECT_DUPLICATES) accepts (UTF-8, escapes and
 * surrogate pairs, no NUL in strings, integers within json_int_t, reals
 * that do not overflow, no duplicate keys in an object, nesting up to
 * jansson's limit; stricter in one point: a NUL byte after the value, which
 * jansson takes as the end, is refused) at a fraction of the cost: no allocation except for keys
 * that carry escapes. */
#ifndef PLINTH_JSONCHECK_H
#define PLINTH_JSONCHECK_H

#include <stddef.h>

typedef struct jsoncheck_err {
    size_t offset; /* byte offset of the problem in the checked text */
    int line;      /* 1-based, counted from the start of the checked text */
    int column;    /* 1-based, in bytes */
    char text[96]; /* "invalid escape", "duplicate object key", ... */
} jsoncheck_err_t;

/* 0 when text[0..len) is one complete JSON value (surrounding whitespace
 * allowed), -1 otherwise with err filled (err may be NULL). */
int jsoncheck(const char *text, size_t len, jsoncheck_err_t *err);

#endif
