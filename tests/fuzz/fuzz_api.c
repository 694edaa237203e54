/* fuzz_api.c: Google API answers: any body with any status fills the
 * response record (JSON when it is, error status and reason bounded) and
 * gives an error message naming the call. */
#include <string.h>

#include "transport/gcp_http.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const long statuses[] = {200, 400, 403, 404, 409, 412, 429, 500, 503};
    long st = statuses[size ? data[0] % 9 : 0];
    gcp_resp_t r = {0};
    gcp_resp_set(&r, st, (const char *)data, size);
    FUZZ_CHECK(r.raw_len == size);
    FUZZ_CHECK(strlen(r.error_status) < sizeof r.error_status &&
               strlen(r.error_reason) < sizeof r.error_reason);
    if (st >= 400) {
        perr_t e = {0};
        gcp_resp_error(&r, "POST", "compute/v1/x", &e);
        FUZZ_CHECK(strstr(e.msg, "POST") != NULL);
    }
    gcp_resp_free(&r);
    return 0;
}
