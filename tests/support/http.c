/* http.c: the libcurl test client and JSON path getters (http.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "tests/support/http.h"

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
    sbuf_addn(ud, p, sz * n);
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud) {
    thttp_t *h = ud;
    if (!strncasecmp(p, "Retry-After:", 12))
        snprintf(h->retry_after, sizeof h->retry_after, "%.*s", (int)strcspn(p + 12, "\r\n"), p + 12);
    return sz * n;
}

void thttp_free(thttp_t *h) {
    free(h->body);
    json_decref(h->json);
    memset(h, 0, sizeof *h);
}

thttp_t thttp_req(CURL *c, const char *method, const char *url, const char *body, const char *ctype,
                  const char *auth, long timeout_s) {
    thttp_t h = {0};
    int own = !c;
    if (own)
        c = curl_easy_init();
    else
        curl_easy_reset(c);
    sbuf_t out = {0};
    sbuf_add(&out, "");
    struct curl_slist *hdrs = NULL;
    char ct[256];
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype ? ctype : "application/json");
    hdrs = curl_slist_append(hdrs, ct);
    if (auth) {
        char a[512];
        snprintf(a, sizeof a, "Authorization: %s", auth);
        hdrs = curl_slist_append(hdrs, a);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, timeout_s);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (!own) curl_easy_setopt(c, CURLOPT_FORBID_REUSE, 1L);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    h.curl_rc = (int)curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &h.status);
    curl_slist_free_all(hdrs);
    if (own) curl_easy_cleanup(c);
    h.body = sbuf_steal(&out);
    h.json = json_loads(h.body, JSON_DECODE_ANY, NULL);
    return h;
}

const json_t *tjson_get(const json_t *j, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = j;
    char *save = NULL;
    for (char *t = strtok_r(buf, ".", &save); t && cur; t = strtok_r(NULL, ".", &save))
        cur = json_is_array(cur) ? json_array_get(cur, (size_t)atoi(t)) : json_object_get(cur, t);
    return cur;
}

const char *tjson_str(const json_t *j, const char *path) {
    return json_string_value(tjson_get(j, path));
}
