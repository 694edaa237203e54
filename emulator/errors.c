/* errors.c: helpers every emulated API shares: Google's error JSON, request
 * body validation against the generated schema, immutable-field checks,
 * query parameters, list paging and timestamps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emulator/emu.h"
#include "providers/gcp/schema.h"

void emu_error(emu_resp_t *resp, int http, const char *status_name, const char *reason, const char *fmt,
               ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_decref(resp->body);
    free(resp->raw);
    resp->raw = NULL;
    resp->raw_len = 0;
    resp->status = http;
    resp->body =
        json_pack("{s:{s:i,s:s,s:s,s:[{s:s,s:s,s:s}]}}", "error", "code", http, "message", msg, "status",
                  status_name, "errors", "domain", "global", "reason", reason, "message", msg);
}

int emu_validate(emu_resp_t *resp, const char *api, const char *msg, const json_t *body) {
    if (!body) return 0;
    if (!json_is_object(body)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Invalid JSON payload received. Expected an object.");
        return -1;
    }
    if (!schema_msg(api, msg)) return 0; /* unknown to the schema data: accept */
    diag_t d = {0};
    int n = schema_check(api, msg, body, 0, "", &d);
    if (n > 0 && d.n > 0) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid", "Invalid JSON payload received. %s",
                  d.items[0].msg);
        diag_free(&d);
        return -1;
    }
    diag_free(&d);
    return 0;
}

/* Value at a dotted path ("routingConfig.routingMode"), or NULL. */
static const json_t *at_path(const json_t *doc, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    const json_t *cur = doc;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
        cur = json_is_object(cur) ? json_object_get(cur, tok) : NULL;
    return cur;
}

int emu_check_immutable(emu_resp_t *resp, const json_t *current, const json_t *body,
                        const char *const *paths) {
    for (size_t i = 0; paths && paths[i]; i++) {
        const json_t *nv = at_path(body, paths[i]);
        if (!nv || json_is_null(nv)) continue;
        const json_t *ov = at_path(current, paths[i]);
        if (!ov || !json_equal((json_t *)ov, (json_t *)nv)) {
            emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                      "Invalid value for field '%s': field is immutable and cannot be changed.", paths[i]);
            return -1;
        }
    }
    return 0;
}

const char *emu_q(const emu_req_t *req, const char *name) {
    if (!req->query) return NULL;
    return json_string_value(json_object_get(req->query, name));
}

json_t *emu_page(const emu_req_t *req, const json_t *items, const char *size_param, int default_size,
                 char **next) {
    *next = NULL;
    size_t n = json_array_size(items);
    long size = default_size > 0 ? default_size : 500;
    const char *sz = size_param ? emu_q(req, size_param) : NULL;
    if (sz && *sz) {
        long v = strtol(sz, NULL, 10);
        if (v > 0) size = v;
    }
    size_t start = 0;
    const char *tok = emu_q(req, "pageToken");
    if (tok && *tok) {
        long v = strtol(tok, NULL, 10);
        if (v > 0) start = (size_t)v;
    }
    json_t *page = json_array();
    size_t i = start;
    for (; i < n && (long)(i - start) < size; i++)
        json_array_append(page, json_array_get(items, i));
    if (i < n) *next = xasprintf("%zu", i);
    return page;
}

const char *emu_now(void) {
    static __thread char buf[64];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char base[32];
    strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, sizeof buf, "%s.%03dZ", base, (int)(ts.tv_nsec / 1000000) % 1000);
    return buf;
}
