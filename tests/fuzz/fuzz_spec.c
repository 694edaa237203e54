/* fuzz_spec.c: spec loading.  Any Lua text loads or fails with located
 * diagnostics, within a small memory limit and a 1 s time budget (no
 * hang, even in pattern matching), reading nothing outside its directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/spec.h"
#include "tests/fuzz/fuzz.h"

static char dir[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/plinth-fuzz-spec-%d", (int)getpid());
        char cmd[128];
        snprintf(cmd, sizeof cmd, "mkdir -p %s && echo hello > %s/f.txt", dir, dir);
        if (system(cmd) != 0) abort();
    }
    char path[128];
    snprintf(path, sizeof path, "%s/main.lua", dir);
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(data, 1, size, f);
    fclose(f);
    spec_opts_t o = {0};
    o.time_limit_ms = 1000;
    o.mem_limit = (size_t)64 << 20;
    o.modules_dir = dir;
    spec_t *s = NULL;
    diag_t d = {0};
    int rc = spec_load(path, &o, &s, &d);
    FUZZ_CHECK(rc == 0 ? s != NULL : d.n > 0);
    for (size_t i = 0; i < d.n; i++)
        FUZZ_CHECK(d.items[i].where[0] != '\0');
    diag_free(&d);
    spec_free(s);
    return 0;
}
