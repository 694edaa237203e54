/* fuzz_creds.c: credential files (GOOGLE_APPLICATION_CREDENTIALS: service
 * account keys, authorized-user files, impersonation): a file is accepted
 * or refused with a message naming it; nothing is fetched (no token is
 * asked for). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "transport/gcp_auth.h"
#include "transport/gcp_http.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char path[64];
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/plinth-fuzz-creds-%d.json", (int)getpid());
        setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
        unsetenv("GOOGLE_OAUTH_ACCESS_TOKEN");
        setenv("CLOUDSDK_CONFIG", "/nonexistent", 1);
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    fwrite(data, 1, size, f);
    fclose(f);
    gcp_opts_t o = {0};
    o.endpoint = "http://127.0.0.1:9";
    perr_t e = {0};
    gcp_client_t *c = gcp_client_new(&o, &e);
    if (c)
        gcp_client_free(c);
    else
        FUZZ_CHECK(e.msg[0] != '\0');
    /* the PEM of a key file, as the JWT signer reads it */
    perr_t e2 = {0};
    char *pem = size ? strndup((const char *)data, size) : strdup("");
    char *jwt = gcp_auth_make_jwt(pem, "kid", "a@b.iam.gserviceaccount.com", "aud", 1700000000, &e2);
    FUZZ_CHECK(jwt || e2.msg[0]);
    free(jwt);
    free(pem);
    return 0;
}
