/* jsoncheck.c: strict JSON syntax check mirroring jansson's decoder (see
 * jsoncheck.h).  A recursive descent over the bytes, one function per
 * grammar rule; the recursion is bounded by MAX_DEPTH as jansson's is.
 * Duplicate keys are found by sorting each object's keys once it is read:
 * O(k log k) per object, instead of jansson's hash table per object. */
#include "core/jsoncheck.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH, counted per value */

typedef struct {
    const char *t;
    size_t n, i;
    int depth;
    jsoncheck_err_t *err;
} jc_t;

typedef struct {
    const char *s; /* the key's bytes, decoded */
    size_t len;
    char *owned; /* decoded copy when the key had escapes */
} key_t_;

static int fail(jc_t *c, size_t at, const char *msg) {
    if (c->err) {
        c->err->offset = at;
        int line = 1, col = 1;
        for (size_t k = 0; k < at && k < c->n; k++) {
            if (c->t[k] == '\n')
                line++, col = 1;
            else
                col++;
        }
        c->err->line = line;
        c->err->column = col;
        snprintf(c->err->text, sizeof c->err->text, "%s", msg);
    }
    return -1;
}

static void ws(jc_t *c) {
    while (c->i < c->n &&
           (c->t[c->i] == ' ' || c->t[c->i] == '\t' || c->t[c->i] == '\n' || c->t[c->i] == '\r'))
        c->i++;
}

static int hexval(int ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at t[i]; -1 when they are not there. */
static long hex4(jc_t *c, size_t i) {
    if (i + 4 > c->n) return -1;
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval((unsigned char)c->t[i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Length of the UTF-8 sequence at t[i] (1..4), 0 when invalid (overlong,
 * surrogate, beyond U+10FFFF, truncated), as jansson's utf8_check_*. */
static int utf8_len(jc_t *c, size_t i) {
    unsigned char b = (unsigned char)c->t[i];
    int size;
    uint32_t v;
    if (b < 0x80) return 1;
    if (b < 0xC2) return 0;
    if (b < 0xE0)
        size = 2, v = b & 0x1F;
    else if (b < 0xF0)
        size = 3, v = b & 0x0F;
    else if (b <= 0xF4)
        size = 4, v = b & 0x07;
    else
        return 0;
    if (i + (size_t)size > c->n) return 0;
    for (int k = 1; k < size; k++) {
        unsigned char u = (unsigned char)c->t[i + k];
        if (u < 0x80 || u > 0xBF) return 0;
        v = (v << 6) | (u & 0x3F);
    }
    if ((size == 3 && v < 0x800) || (size == 4 && v < 0x10000)) return 0;
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    return size;
}

/* Appends code point cp as UTF-8 to buf. */
static size_t put_utf8(char *buf, uint32_t cp) {
    if (cp < 0x80) return buf[0] = (char)cp, 1;
    if (cp < 0x800) return buf[0] = (char)(0xC0 | cp >> 6), buf[1] = (char)(0x80 | (cp & 0x3F)), 2;
    if (cp < 0x10000) {
        buf[0] = (char)(0xE0 | cp >> 12);
        buf[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        buf[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    buf[0] = (char)(0xF0 | cp >> 18);
    buf[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    buf[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    buf[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Checks the escape at t[i] == '\\'; returns its length and, when out is
 * not NULL, writes the decoded bytes there (*outlen). -1 on error. */
static long escape(jc_t *c, size_t i, char *out, size_t *outlen) {
    if (i + 1 >= c->n) return fail(c, i, "premature end of input");
    char e = c->t[i + 1];
    const char *simple = "\"\\/bfnrt", *dec = "\"\\/\b\f\n\r\t";
    const char *p = e ? strchr(simple, e) : NULL;
    if (p) {
        if (out) out[0] = dec[p - simple], *outlen = 1;
        return 2;
    }
    if (e != 'u') return fail(c, i, "invalid escape");
    long v = hex4(c, i + 2);
    if (v < 0) return fail(c, i, "invalid escape");
    size_t used = 6;
    uint32_t cp = (uint32_t)v;
    if (v >= 0xD800 && v <= 0xDBFF) {
        long lo = (i + 7 < c->n && c->t[i + 6] == '\\' && c->t[i + 7] == 'u') ? hex4(c, i + 8) : -2;
        if (lo == -1) return fail(c, i + 6, "invalid escape");
        if (lo < 0xDC00 || lo > 0xDFFF) return fail(c, i, "invalid Unicode escape (lone surrogate)");
        cp = 0x10000 + (((uint32_t)v - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
        used = 12;
    } else if (v >= 0xDC00 && v <= 0xDFFF) {
        return fail(c, i, "invalid Unicode escape (lone surrogate)");
    } else if (v == 0) {
        return fail(c, i, "\\u0000 is not allowed");
    }
    if (out) *outlen = put_utf8(out, cp);
    return (long)used;
}

/* A string at t[i] == '"'.  With key != NULL, fills it with the decoded
 * bytes (borrowed from the text when there are no escapes). */
static int string(jc_t *c, key_t_ *key) {
    size_t start = ++c->i;
    int escapes = 0;
    while (c->i < c->n && c->t[c->i] != '"') {
        unsigned char b = (unsigned char)c->t[c->i];
        if (b <= 0x1F) return fail(c, c->i, "control character in a string");
        if (b == '\\') {
            long l = escape(c, c->i, NULL, NULL);
            if (l < 0) return -1;
            c->i += (size_t)l;
            escapes = 1;
            continue;
        }
        int l = utf8_len(c, c->i);
        if (!l) return fail(c, c->i, "invalid UTF-8");
        c->i += (size_t)l;
    }
    if (c->i >= c->n) return fail(c, c->i, "premature end of input in a string");
    size_t end = c->i++;
    if (!key) return 0;
    key->owned = NULL;
    if (!escapes) {
        key->s = c->t + start;
        key->len = end - start;
        return 0;
    }
    char *d = malloc(end - start + 1);
    if (!d) return fail(c, start, "out of memory");
    size_t o = 0;
    for (size_t k = start; k < end;) {
        if (c->t[k] == '\\') {
            size_t dl = 0;
            k += (size_t)escape(c, k, d + o, &dl);
            o += dl;
        } else {
            d[o++] = c->t[k++];
        }
    }
    key->s = key->owned = d;
    key->len = o;
    return 0;
}

static int digits(jc_t *c) {
    size_t s = c->i;
    while (c->i < c->n && c->t[c->i] >= '0' && c->t[c->i] <= '9')
        c->i++;
    return c->i > s;
}

static int number(jc_t *c) {
    size_t start = c->i;
    if (c->t[c->i] == '-') c->i++;
    if (c->i < c->n && c->t[c->i] == '0') {
        c->i++;
        if (c->i < c->n && c->t[c->i] >= '0' && c->t[c->i] <= '9') return fail(c, start, "invalid token");
    } else if (!digits(c)) {
        return fail(c, start, "invalid token");
    }
    int real = 0;
    if (c->i < c->n && c->t[c->i] == '.') {
        c->i++, real = 1;
        if (!digits(c)) return fail(c, start, "invalid token");
    }
    if (c->i < c->n && (c->t[c->i] == 'e' || c->t[c->i] == 'E')) {
        c->i++, real = 1;
        if (c->i < c->n && (c->t[c->i] == '+' || c->t[c->i] == '-')) c->i++;
        if (!digits(c)) return fail(c, start, "invalid token");
    }
    size_t len = c->i - start;
    /* Only long literals can overflow: check those with the C library, as
     * jansson does (strtoll / strtod with ERANGE). */
    if (len < 16 && !real) return 0;
    if (len < 16 && real) {
        size_t e = start;
        while (e < c->i && c->t[e] != 'e' && c->t[e] != 'E')
            e++;
        if (c->i - e < 4) return 0; /* exponent of at most two digits: far from overflow */
    }
    char buf[64], *s = len < sizeof buf ? buf : malloc(len + 1);
    if (!s) return fail(c, start, "out of memory");
    memcpy(s, c->t + start, len);
    s[len] = '\0';
    errno = 0;
    int bad = 0;
    if (!real) {
        long long v = strtoll(s, NULL, 10);
        (void)v;
        bad = errno == ERANGE;
    } else {
        double d = strtod(s, NULL);
        bad = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
    }
    if (s != buf) free(s);
    return bad ? fail(c, start, real ? "real number overflow" : "too big integer") : 0;
}

static int value(jc_t *c);

static int key_cmp(const void *a, const void *b) {
    const key_t_ *x = a, *y = b;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return memcmp(x->s, y->s, x->len);
}

static void keys_free(key_t_ *k, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(k[i].owned);
    free(k);
}

static int object(jc_t *c) {
    size_t open = c->i++;
    key_t_ *keys = NULL;
    size_t nk = 0, cap = 0;
    ws(c);
    if (c->i < c->n && c->t[c->i] == '}') {
        c->i++;
        return 0;
    }
    for (;;) {
        ws(c);
        if (c->i >= c->n || c->t[c->i] != '"') goto bad_token;
        if (nk == cap) {
            cap = cap ? cap * 2 : 8;
            key_t_ *nkeys = realloc(keys, cap * sizeof *keys);
            if (!nkeys) goto oom;
            keys = nkeys;
        }
        if (string(c, &keys[nk]) != 0) goto err;
        nk++;
        ws(c);
        if (c->i >= c->n || c->t[c->i] != ':') goto bad_token;
        c->i++;
        if (value(c) != 0) goto err;
        ws(c);
        if (c->i < c->n && c->t[c->i] == ',') {
            c->i++;
            continue;
        }
        if (c->i < c->n && c->t[c->i] == '}') break;
        goto bad_token;
    }
    c->i++;
    if (nk > 1) {
        qsort(keys, nk, sizeof *keys, key_cmp);
        for (size_t k = 1; k < nk; k++)
            if (key_cmp(&keys[k - 1], &keys[k]) == 0) {
                fail(c, open, "duplicate object key");
                goto err;
            }
    }
    keys_free(keys, nk);
    return 0;
oom:
    fail(c, c->i, "out of memory");
    goto err;
bad_token:
    fail(c, c->i, c->i >= c->n ? "premature end of input" : "unexpected token");
err:
    keys_free(keys, nk);
    return -1;
}

static int array(jc_t *c) {
    c->i++;
    ws(c);
    if (c->i < c->n && c->t[c->i] == ']') {
        c->i++;
        return 0;
    }
    for (;;) {
        if (value(c) != 0) return -1;
        ws(c);
        if (c->i < c->n && c->t[c->i] == ',') {
            c->i++;
            continue;
        }
        if (c->i < c->n && c->t[c->i] == ']') {
            c->i++;
            return 0;
        }
        return fail(c, c->i, c->i >= c->n ? "premature end of input" : "unexpected token");
    }
}

static int literal(jc_t *c, const char *word) {
    size_t l = strlen(word);
    if (c->n - c->i < l || memcmp(c->t + c->i, word, l) != 0) return fail(c, c->i, "invalid token");
    c->i += l;
    return 0;
}

static int value(jc_t *c) {
    ws(c);
    if (c->i >= c->n) return fail(c, c->i, "premature end of input");
    if (++c->depth > MAX_DEPTH) return fail(c, c->i, "maximum parsing depth reached");
    int rc;
    switch (c->t[c->i]) {
    case '{': rc = object(c); break;
    case '[': rc = array(c); break;
    case '"': rc = string(c, NULL); break;
    case 't': rc = literal(c, "true"); break;
    case 'f': rc = literal(c, "false"); break;
    case 'n': rc = literal(c, "null"); break;
    default:
        if (c->t[c->i] == '-' || (c->t[c->i] >= '0' && c->t[c->i] <= '9'))
            rc = number(c);
        else
            rc = fail(c, c->i, "invalid token");
    }
    c->depth--;
    return rc;
}

int jsoncheck(const char *text, size_t len, jsoncheck_err_t *err) {
    jc_t c = {.t = text, .n = len, .err = err};
    if (!text) return fail(&c, 0, "no input");
    if (value(&c) != 0) return -1;
    ws(&c);
    if (c.i != c.n) return fail(&c, c.i, "end of file expected");
    return 0;
}
