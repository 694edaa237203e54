/* fuzz_lock.c: lock files / objects.  A parsed lock writes back to JSON
 * that parses to the same lock; the stale check never crashes. */
#include <string.h>

#include "core/state.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    state_lock_info_t li;
    perr_t e = {0};
    if (state_lock_parse((const char *)data, size, "fuzz", &li, &e) != 0) return 0;
    char why[200];
    (void)state_lock_stale(&li, 60, why, sizeof why);
    perr_t he = {0};
    state_lock_held_error(&he, "fuzz", &li);
    char *j = state_lock_json(&li);
    state_lock_info_t back;
    perr_t e2 = {0};
    FUZZ_CHECK(state_lock_parse(j, strlen(j), "back", &back, &e2) == 0);
    FUZZ_CHECK(strcmp(back.id, li.id) == 0 && back.pid == li.pid && back.pid_start == li.pid_start);
    free(j);
    return 0;
}
