/* fuzz_json.c: jsoncheck (the strict check behind lazily parsed state
 * attributes) accepts exactly what jansson accepts. */
#include "core/jsoncheck.h"
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, NULL);
    int ok = jsoncheck((const char *)data, size, NULL) == 0;
    if ((j != NULL) != ok) {
        fprintf(stderr, "jansson %s, jsoncheck %s: %.*s\n", j ? "accepts" : "refuses", ok ? "accepts" : "refuses",
                (int)size, (const char *)data);
        abort();
    }
    json_decref(j);
    return 0;
}
