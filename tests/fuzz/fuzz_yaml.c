/* fuzz_yaml.c: Kubernetes manifests.  k8s_yaml_parse returns documents or
 * an error with name:line:col; a parsed document dumps to YAML that parses
 * back to the same value. */
#include <string.h>

#include "providers/k8s/k8s_yaml.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    perr_t e = {0};
    json_t *lines = NULL;
    json_t *docs = k8s_yaml_parse((const char *)data, size, "f.yaml", &lines, &e);
    if (!docs) {
        FUZZ_CHECK(strncmp(e.msg, "f.yaml:", 7) == 0);
        return 0;
    }
    FUZZ_CHECK(json_array_size(lines) == json_array_size(docs));
    size_t i;
    json_t *d;
    json_array_foreach(docs, i, d) {
        if (!json_is_object(d)) continue;
        char *y = k8s_yaml_dump(d);
        perr_t e2 = {0};
        json_t *back = k8s_yaml_parse(y, strlen(y), "dump", NULL, &e2);
        if (!back) {
            fprintf(stderr, "dump does not parse back (%s):\n%s\n", e2.msg, y);
            abort();
        }
        if (!json_equal(json_array_get(back, 0), d)) {
            /* reals may print differently; only compare documents without them */
            char *a = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
            FUZZ_CHECK(strpbrk(a, ".eE") != NULL);
            free(a);
        }
        json_decref(back);
        free(y);
    }
    json_decref(docs);
    json_decref(lines);
    return 0;
}
