/* fuzz_planfile.c: saved plans.  planfile_check accepts or names a field;
 * what it accepts can be used the way apply and show use it. */
#include <string.h>

#include "core/planfile.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *pf = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!pf) return 0;
    perr_t e = {0};
    if (planfile_check(pf, "fuzz", &e) == 0) {
        strlist_t vars = {0};
        planfile_get_vars(pf, &vars);
        for (size_t i = 0; i < vars.n; i++)
            FUZZ_CHECK(strchr(vars.v[i], '='));
        strlist_free(&vars);
        spec_t spec = {0};
        perr_t e2 = {0};
        (void)planfile_check_sensitive(pf, &spec, "fuzz", &e2);
        FUZZ_CHECK(json_is_string(json_object_get(pf, "spec")));
    } else {
        FUZZ_CHECK(e.msg[0]);
    }
    json_decref(pf);
    return 0;
}
