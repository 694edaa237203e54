/* driver.c: runs a fuzz target without libFuzzer: every file of the corpus
 * directories given, then FUZZ_MUTATIONS (default 300) deterministic
 * mutations of each (byte flips, insertions, deletions, splices of two
 * corpus files), seeded so that a failure reproduces.  Built with gcc and
 * ASan/UBSan for `make test`; prints "N inputs" and exits 0 when nothing
 * broke (a sanitizer or FUZZ_CHECK aborts otherwise). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

typedef struct {
    uint8_t *d;
    size_t n;
} buf_t;

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int load(const char *path, buf_t *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b->d = malloc(n > 0 ? (size_t)n : 1);
    b->n = n > 0 ? fread(b->d, 1, (size_t)n, f) : 0;
    fclose(f);
    return 0;
}

static void mutate(const buf_t *a, const buf_t *other, buf_t *out) {
    size_t cap = a->n + other->n + 64;
    out->d = malloc(cap);
    memcpy(out->d, a->d, a->n);
    out->n = a->n;
    int k = 1 + (int)(next() % 4);
    static const char tokens[] = "{}[]:,\"\\-.0e9 \n\t&*!|>'#%@`~ux";
    for (int i = 0; i < k; i++) {
        size_t at = out->n ? next() % out->n : 0;
        switch (next() % 5) {
        case 0:
            if (out->n) out->d[at] ^= (uint8_t)(1u << (next() % 8));
            break;
        case 1:
            if (out->n) out->d[at] = (uint8_t)tokens[next() % (sizeof tokens - 1)];
            break;
        case 2: /* insert a token */
            if (out->n + 1 < cap) {
                memmove(out->d + at + 1, out->d + at, out->n - at);
                out->d[at] = (uint8_t)tokens[next() % (sizeof tokens - 1)];
                out->n++;
            }
            break;
        case 3: /* delete a run */
            if (out->n) {
                size_t len = 1 + next() % 8;
                if (at + len > out->n) len = out->n - at;
                memmove(out->d + at, out->d + at + len, out->n - at - len);
                out->n -= len;
            }
            break;
        default: /* splice the tail of the other input */
            if (other->n) {
                size_t from = next() % other->n, len = other->n - from;
                if (at + len > cap) len = cap - at;
                memcpy(out->d + at, other->d + from, len);
                out->n = at + len;
            }
        }
    }
}

int main(int argc, char **argv) {
    buf_t *in = NULL;
    size_t n = 0, cap = 0;
    for (int i = 1; i < argc; i++) {
        DIR *d = opendir(argv[i]);
        if (!d) {
            fprintf(stderr, "fuzz driver: cannot open corpus %s\n", argv[i]);
            return 2;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
            if (de->d_name[0] == '.') continue;
            char p[4096];
            snprintf(p, sizeof p, "%s/%s", argv[i], de->d_name);
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISREG(st.st_mode)) continue;
            if (n == cap) in = realloc(in, (cap = cap ? cap * 2 : 64) * sizeof *in);
            if (load(p, &in[n]) == 0) n++;
        }
        closedir(d);
    }
    if (!n) {
        fprintf(stderr, "fuzz driver: empty corpus\n");
        return 2;
    }
    const char *m = getenv("FUZZ_MUTATIONS");
    long muts = m ? atol(m) : 300;
    size_t runs = 0;
    for (size_t i = 0; i < n; i++, runs++)
        LLVMFuzzerTestOneInput(in[i].d, in[i].n);
    for (size_t i = 0; i < n; i++)
        for (long k = 0; k < muts; k++, runs++) {
            buf_t o;
            mutate(&in[i], &in[next() % n], &o);
            LLVMFuzzerTestOneInput(o.d, o.n);
            free(o.d);
        }
    for (size_t i = 0; i < n; i++)
        free(in[i].d);
    free(in);
    printf("%zu inputs (%zu corpus files)\n", runs, n);
    return 0;
}
