/* fuzz.h: the one entry point every fuzz target defines (libFuzzer's), so
 * that a target links with -fsanitize=fuzzer (clang) or with driver.c, the
 * deterministic replay-and-mutate driver used by `make test` under
 * ASan/UBSan.  A target must never crash, hang or leak on any input; it
 * asserts its parser's invariants with FUZZ_CHECK. */
#ifndef PLINTH_FUZZ_H
#define PLINTH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);                     \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

#endif
