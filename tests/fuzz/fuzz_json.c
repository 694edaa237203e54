/* fuzz_json.c: jsoncheck (the strict check behind lazily parsed state
 * attributes) accepts exactly what jansson accepts, except that it also
 * refuses a NUL byte after the value, which jansson takes as the end
 * ("true\0", found by this target): what jsoncheck accepts jansson always
 * parses, which is what the lazy parse relies on. */
#include <string.h>

#include "core/jsoncheck.h"
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    int ok = jsoncheck((const char *)data, size, NULL) == 0;
    int nul = memchr(data, 0, size) != NULL;
    if (ok ? j == NULL : (j != NULL && !nul)) {
        fprintf(stderr, "jansson %s, jsoncheck %s: %.*s\n", j ? "accepts" : "refuses",
                ok ? "accepts" : "refuses", (int)size, (const char *)data);
        abort();
    }
    json_decref(j);
    return 0;
}
