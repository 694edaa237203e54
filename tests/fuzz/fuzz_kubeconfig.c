/* fuzz_kubeconfig.c: kubeconfig files: a context resolves to a server or
 * the error names the file. */
#include <string.h>

#include "providers/k8s/k8s.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    k8s_kubeconfig_ctx_t k;
    perr_t e = {0};
    const char *ctx = size && data[0] == 'c' ? "ctx" : NULL;
    if (k8s_kubeconfig_parse((const char *)data, size, "kc", ctx, &k, &e) == 0) {
        FUZZ_CHECK(k.server != NULL);
        k8s_kubeconfig_ctx_free(&k);
    } else {
        FUZZ_CHECK(strstr(e.msg, "kc") != NULL);
    }
    return 0;
}
