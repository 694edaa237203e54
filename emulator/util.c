/* util.c: small helpers the emulated APIs share: private-key stripping,
 * JSON merge patch, listing and deleting store keys below a prefix, list
 * pages, operation plumbing (arming, resuming after a restart), IAM
 * policies kept below a resource, checksums and encodings. */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

static json_t *strip(const json_t *v, bool arrays) {
    if (json_is_object(v)) {
        json_t *o = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            if (strncmp(k, "plinth:", 7) != 0) json_object_set_new(o, k, strip(x, arrays));
        }
        return o;
    }
    if (arrays && json_is_array(v)) {
        json_t *a = json_array(), *x;
        size_t i;
        json_array_foreach(v, i, x) {
            json_array_append_new(a, strip(x, arrays));
        }
        return a;
    }
    return json_deep_copy(v);
}

json_t *emu_strip(const json_t *v) {
    return strip(v, false);
}

json_t *emu_strip_deep(const json_t *v) {
    return strip(v, true);
}

json_t *emu_render(const json_t *doc) {
    json_t *c = json_deep_copy(doc), *v;
    const char *k;
    void *tmp;
    json_object_foreach_safe(c, tmp, k, v) {
        if (k[0] == '_') json_object_del(c, k);
    }
    return c;
}

void emu_merge_patch(json_t *dst, const json_t *patch) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)patch, k, v) {
        json_t *cur = json_object_get(dst, k);
        if (json_is_null(v))
            json_object_del(dst, k);
        else if (json_is_object(v) && json_is_object(cur))
            emu_merge_patch(cur, v);
        else
            json_object_set_new(dst, k, json_deep_copy(v));
    }
}

void emu_set_default(json_t *o, const char *k, json_t *v) {
    if (!json_object_get(o, k))
        json_object_set_new(o, k, v);
    else
        json_decref(v);
}

int emu_in_list(const char *const *list, const char *s) {
    for (size_t i = 0; s && list[i]; i++)
        if (!strcmp(list[i], s)) return 1;
    return 0;
}

int64_t emu_int64(const json_t *v) {
    if (json_is_string(v)) return strtoll(json_string_value(v), NULL, 10);
    return (int64_t)json_integer_value(v);
}

const char *emu_project_num(emu_t *emu, const char *project) {
    for (const char *s = project; *s; s++)
        if (!isdigit((unsigned char)*s)) return emu_project_number(emu, project);
    return project;
}

char *emu_uuid(void) {
    char h[33];
    util_random_hex(h, 16);
    return xasprintf("%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

static void error_v(emu_resp_t *resp, int http, const char *status, const char *reason, const char *fmt,
                    va_list ap) {
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    emu_error(resp, http, status, reason, "%s", msg);
}

void emu_not_found(emu_resp_t *resp, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    error_v(resp, 404, "NOT_FOUND", "notFound", fmt, ap);
    va_end(ap);
}

void emu_bad_request(emu_resp_t *resp, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    error_v(resp, 400, "INVALID_ARGUMENT", "badRequest", fmt, ap);
    va_end(ap);
}

json_t *emu_load(emu_t *emu, emu_resp_t *resp, char **key, const char *fmt, ...) {
    json_t *doc = emu_get(emu, *key);
    if (doc) return doc;
    va_list ap;
    va_start(ap, fmt);
    error_v(resp, 404, "NOT_FOUND", "notFound", fmt, ap);
    va_end(ap);
    free(*key);
    *key = NULL;
    return NULL;
}

json_t *emu_children(emu_t *emu, const char *prefix, bool direct) {
    json_t *keys = emu_keys(emu, prefix), *k, *all = json_array();
    size_t i, n = strlen(prefix);
    json_array_foreach(keys, i, k) {
        const char *s = json_string_value(k);
        if (!direct || !strchr(s + n, '/')) json_array_append_new(all, emu_strip(emu_get(emu, s)));
    }
    json_decref(keys);
    return all;
}

void emu_del_prefix(emu_t *emu, const char *prefix) {
    json_t *keys = emu_keys(emu, prefix), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        emu_del(emu, json_string_value(k));
    }
    json_decref(keys);
}

void emu_del_tree(emu_t *emu, const char *key) {
    char *prefix = xasprintf("%s/", key);
    emu_del_prefix(emu, prefix);
    free(prefix);
    emu_del(emu, key);
}

void emu_page_into(const emu_req_t *req, json_t *body, const char *field, const json_t *items,
                   const char *size_param, int default_size, bool always) {
    char *next = NULL;
    json_t *page = emu_page(req, items, size_param, default_size, &next);
    if (always || json_array_size(page))
        json_object_set_new(body, field, page);
    else
        json_decref(page);
    if (next) json_object_set_new(body, "nextPageToken", json_string(next));
    free(next);
}

json_t *emu_op_arm(emu_t *emu, const char *key, json_t *op, const char *kind, emu_timer_fn finish) {
    json_t *pub = emu_strip(op);
    emu_put(emu, key, op);
    emu_after(emu, emu_duration(emu, kind), finish, key);
    return pub;
}

void emu_resume_ops(emu_t *emu, const char *prefix, const char *marker, emu_timer_fn finish) {
    json_t *keys = emu_keys(emu, prefix), *k;
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *key = json_string_value(k);
        if (marker && !strstr(key, marker)) continue;
        json_t *op = emu_get(emu, key);
        if (json_is_true(json_object_get(op, "done")) ||
            !strcmp(json_string_value(json_object_get(op, "status")) ?: "", "DONE"))
            continue;
        emu_after(emu, 0, finish, key);
    }
    json_decref(keys);
}

void emu_iam_get_below(emu_t *emu, emu_resp_t *resp, const char *key) {
    char *pkey = xasprintf("%s/iamPolicy", key);
    resp->body = emu_iam_policy_get(emu, pkey);
    free(pkey);
}

int emu_iam_set_below(emu_t *emu, emu_resp_t *resp, const char *key, const json_t *body) {
    char *pkey = xasprintf("%s/iamPolicy", key);
    int rc = emu_iam_policy_set(emu, resp, pkey, body);
    free(pkey);
    return rc;
}

void emu_iam_test_perms(const emu_req_t *req, emu_resp_t *resp) {
    json_t *perms = json_object_get(req->body, "permissions");
    resp->body = json_object();
    json_object_set_new(resp->body, "permissions", perms ? json_deep_copy(perms) : json_array());
}

uint32_t emu_crc32c(const unsigned char *p, size_t n) {
    static uint32_t table[256];
    static int init;
    if (!init) { /* benign race: every thread computes the same table */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
            table[i] = c;
        }
        init = 1;
    }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

char *emu_b64(const unsigned char *data, size_t len) {
    char *out = xmalloc(4 * ((len + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}

unsigned char *emu_b64_decode(const char *s, size_t n, bool stop_at_pad, size_t *outlen) {
    unsigned char *out = xmalloc(n * 3 / 4 + 4);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+' || c == '-')
            v = 62;
        else if (c == '/' || c == '_')
            v = 63;
        else if (c == '=' && stop_at_pad)
            break;
        else if (!stop_at_pad && (c == '=' || c == '\n' || c == '\r'))
            continue;
        else {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    *outlen = o;
    out[o] = 0;
    return out;
}
