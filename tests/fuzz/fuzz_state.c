/* fuzz_state.c: state files.  Whatever state_parse accepts dumps, parses
 * back and dumps to the same bytes; every entry's attributes parse (the
 * lazy parse never finds an error the load let through). */
#include <string.h>

#include "core/state.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    state_t *s = NULL;
    perr_t e = {0};
    if (state_parse((const char *)data, size, "fuzz", &s, &e) != 0) {
        FUZZ_CHECK(s == NULL && e.msg[0]);
        return 0;
    }
    for (size_t i = 0; i < s->nres; i++) {
        int had = s->res[i].attrs_raw != NULL;
        FUZZ_CHECK(!had || state_attrs(&s->res[i]) != NULL);
    }
    char *d1 = state_dump(s);
    state_t *s2 = NULL;
    perr_t e2 = {0};
    FUZZ_CHECK(state_parse(d1, strlen(d1), "dump", &s2, &e2) == 0);
    char *d2 = state_dump(s2);
    FUZZ_CHECK(strcmp(d1, d2) == 0);
    free(d1);
    free(d2);
    state_free(s);
    state_free(s2);
    return 0;
}
