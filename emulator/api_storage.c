/* api_storage.c: the emulated Cloud Storage JSON API v1: buckets (insert,
 * get, list, patch, update, delete, IAM policy) and objects (media,
 * multipart and single-shot resumable uploads, metadata, alt=media
 * download, patch, delete, list with prefix/delimiter), with generation and
 * metageneration preconditions (412).  Keys: "storage/buckets/B",
 * "storage/objects/B/NAME" (metadata), "storage/data/B/NAME" (bytes,
 * base64), "storage/iam/B", "storage/uploads/ID". */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

/* Percent-encodes all but RFC 3986 unreserved characters (object names in
 * selfLink and mediaLink); new string. */
static char *urlenc(const char *s) {
    sbuf_t b = {0};
    sbuf_add(&b, "");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p))
            sbuf_addc(&b, (char)*p);
        else
            sbuf_addf(&b, "%%%02X", *p);
    }
    return sbuf_steal(&b);
}

#define SELF "https://www.googleapis.com/storage/v1/b/"

/* ---- encoding helpers ------------------------------------------------------ */

static unsigned char *unb64(const char *s, size_t *len) {
    size_t n = strlen(s);
    unsigned char *out = xmalloc(n / 4 * 3 + 4);
    int r = n ? EVP_DecodeBlock(out, (const unsigned char *)s, (int)n) : 0;
    if (r < 0) r = 0;
    size_t pad = 0;
    if (n >= 1 && s[n - 1] == '=') pad++;
    if (n >= 2 && s[n - 2] == '=') pad++;
    *len = (size_t)r >= pad ? (size_t)r - pad : 0;
    return out;
}

static char *i64s(int64_t v) {
    return xasprintf("%lld", (long long)v);
}

/* Parses an int64 query parameter; 0 when absent (*present = 0). */
static int64_t qint(const emu_req_t *req, const char *name, int *present) {
    const char *v = emu_q(req, name);
    *present = v != NULL;
    return v ? strtoll(v, NULL, 10) : 0;
}

static void precondition_failed(emu_resp_t *resp) {
    emu_error(resp, 412, "FAILED_PRECONDITION", "conditionNotMet",
              "At least one of the pre-conditions you specified did not hold.");
}

/* ---- buckets --------------------------------------------------------------- */

static int valid_bucket(const char *n) {
    size_t len = strlen(n);
    if (len < 3 || len > 63 || !isalnum((unsigned char)n[0]) || !isalnum((unsigned char)n[len - 1])) return 0;
    for (size_t i = 0; i < len; i++)
        if (!(islower((unsigned char)n[i]) || isdigit((unsigned char)n[i]) || strchr("-_.", n[i]))) return 0;
    return 1;
}

static json_t *bucket_load(emu_t *emu, const char *name, emu_resp_t *resp, char **key_out) {
    char *key = xasprintf("storage/buckets/%s", name);
    json_t *b = emu_get(emu, key);
    if (!b) emu_not_found(resp, "The specified bucket does not exist.");
    if (b && key_out)
        *key_out = key;
    else
        free(key);
    return b;
}

static char *new_etag(emu_t *emu) {
    char buf[32];
    snprintf(buf, sizeof buf, "etag-%lld", (long long)emu_next_id(emu, "storage.etag"));
    return emu_b64((const unsigned char *)buf, strlen(buf));
}

/* Server defaults and derived fields; called on insert and update. */
static void bucket_defaults(emu_t *emu, json_t *b) {
    const char *loc = json_string_value(json_object_get(b, "location"));
    char up[64];
    snprintf(up, sizeof up, "%s", loc ? loc : "US");
    for (char *p = up; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    json_object_set_new(b, "location", json_string(up));
    int multi = !strcmp(up, "US") || !strcmp(up, "EU") || !strcmp(up, "ASIA");
    int dual = !multi && (!strcmp(up, "NAM4") || !strcmp(up, "EUR4") || !strcmp(up, "ASIA1"));
    json_object_set_new(b, "locationType",
                        json_string(multi  ? "multi-region"
                                    : dual ? "dual-region"
                                           : "region"));
    if (multi || dual)
        json_object_set_new(b, "rpo", json_string(json_string_value(json_object_get(b, "rpo")) ?: "DEFAULT"));
    if (!json_object_get(b, "storageClass")) json_object_set_new(b, "storageClass", json_string("STANDARD"));
    json_t *iam = json_object_get(b, "iamConfiguration");
    if (!json_is_object(iam)) {
        iam = json_object();
        json_object_set_new(b, "iamConfiguration", iam);
    }
    json_t *ubla = json_object_get(iam, "uniformBucketLevelAccess");
    if (!json_is_object(ubla)) {
        ubla = json_pack("{s:b}", "enabled", 0);
        json_object_set_new(iam, "uniformBucketLevelAccess", ubla);
    }
    if (json_is_true(json_object_get(ubla, "enabled"))) {
        if (!json_object_get(ubla, "lockedTime"))
            json_object_set_new(ubla, "lockedTime", json_string(emu_now()));
    } else {
        json_object_del(ubla, "lockedTime");
        if (!json_object_get(ubla, "enabled")) json_object_set_new(ubla, "enabled", json_false());
    }
    json_object_set_new(iam, "bucketPolicyOnly", json_deep_copy(ubla));
    if (!json_object_get(iam, "publicAccessPrevention"))
        json_object_set_new(iam, "publicAccessPrevention", json_string("inherited"));
    json_t *sd = json_object_get(b, "softDeletePolicy");
    if (!json_is_object(sd)) {
        sd = json_object();
        json_object_set_new(b, "softDeletePolicy", sd);
    }
    if (!json_object_get(sd, "retentionDurationSeconds"))
        json_object_set_new(sd, "retentionDurationSeconds", json_string("604800"));
    else if (json_is_integer(json_object_get(sd, "retentionDurationSeconds"))) {
        char *s = i64s(emu_int64(json_object_get(sd, "retentionDurationSeconds")));
        json_object_set_new(sd, "retentionDurationSeconds", json_string(s));
        free(s);
    }
    if (!json_object_get(sd, "effectiveTime"))
        json_object_set_new(sd, "effectiveTime", json_string(emu_now()));
    char *etag = new_etag(emu);
    json_object_set_new(b, "etag", json_string(etag));
    free(etag);
}

static const char *const bucket_out[] = {
    "id",          "selfLink",       "projectNumber",  "metageneration", "etag",
    "timeCreated", "updated",        "locationType",   "owner",          "generation",
    "kind",        "softDeleteTime", "hardDeleteTime", "satisfiesPZS",   NULL};

/* The storage classes GCS has; anything else is refused. */
static int storage_class_check(const json_t *body, emu_resp_t *resp) {
    static const char *const classes[] = {"STANDARD",
                                          "NEARLINE",
                                          "COLDLINE",
                                          "ARCHIVE",
                                          "MULTI_REGIONAL",
                                          "REGIONAL",
                                          "DURABLE_REDUCED_AVAILABILITY",
                                          NULL};
    json_t *v = json_object_get(body, "storageClass");
    if (!v || json_is_null(v) || emu_in_list(classes, json_string_value(v))) return 0;
    emu_error(resp, 400, "INVALID_ARGUMENT", "invalid", "Invalid argument: storage class '%s' is not valid.",
              json_string_value(v) ?: "");
    return -1;
}

static void h_bucket_insert(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *project = emu_q(req, "project");
    if (!project || !*project) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required", "Required parameter: project");
        return;
    }
    if (!json_is_object(req->body)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required", "Required field 'resource' not specified");
        return;
    }
    if (emu_validate(resp, "storage", "Bucket", req->body) < 0 || storage_class_check(req->body, resp) < 0)
        return;
    const char *name = json_string_value(json_object_get(req->body, "name"));
    if (!name || !valid_bucket(name)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid", "Invalid bucket name: '%s'", name ? name : "");
        return;
    }
    char *key = xasprintf("storage/buckets/%s", name);
    json_t *old = emu_get(emu, key);
    if (old) {
        const char *owner = json_string_value(json_object_get(old, "_project"));
        if (owner && !strcmp(owner, project))
            emu_error(resp, 409, "ALREADY_EXISTS", "conflict",
                      "Your previous request to create the named bucket succeeded and you "
                      "already own it.");
        else
            emu_error(resp, 409, "ALREADY_EXISTS", "conflict",
                      "The requested bucket name is not available. The bucket namespace is "
                      "shared by all users of the system. Please select a different name and "
                      "try again.");
        free(key);
        return;
    }
    json_t *b = json_deep_copy(req->body);
    for (size_t i = 0; bucket_out[i]; i++)
        json_object_del(b, bucket_out[i]);
    char *self = xasprintf(SELF "%s", name);
    char *gen = i64s(1700000000000000 + emu_next_id(emu, "storage.generation"));
    json_object_set_new(b, "kind", json_string("storage#bucket"));
    json_object_set_new(b, "id", json_string(name));
    json_object_set_new(b, "selfLink", json_string(self));
    json_object_set_new(b, "projectNumber", json_string(emu_project_number(emu, project)));
    json_object_set_new(b, "_project", json_string(project));
    json_object_set_new(b, "metageneration", json_string("1"));
    json_object_set_new(b, "generation", json_string(gen));
    json_object_set_new(b, "timeCreated", json_string(emu_now()));
    json_object_set_new(b, "updated", json_string(emu_now()));
    bucket_defaults(emu, b);
    resp->body = emu_render(b);
    emu_put(emu, key, b);
    free(gen);
    free(self);
    free(key);
}

static int check_metagen(const emu_req_t *req, const json_t *doc, emu_resp_t *resp) {
    int has;
    int64_t m = qint(req, "ifMetagenerationMatch", &has);
    int64_t cur = emu_int64(json_object_get(doc, "metageneration"));
    if (has && m != cur) {
        precondition_failed(resp);
        return -1;
    }
    m = qint(req, "ifMetagenerationNotMatch", &has);
    if (has && m == cur) {
        emu_error(resp, 304, "FAILED_PRECONDITION", "notModified", "Not Modified");
        return -1;
    }
    return 0;
}

static void h_bucket_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *b = bucket_load(emu, req->params[0], resp, NULL);
    if (b && check_metagen(req, b, resp) == 0) resp->body = emu_render(b);
}

/* buckets.list: a page walks the ordered key index from the page token
 * (the key of the last bucket of the previous page) and renders only the
 * buckets it returns. */
typedef struct {
    emu_t *emu;
    const char *project, *num, *prefix;
    long size;
    json_t *items;
    char *last; /* key of the last bucket in the page */
    int more;   /* a match follows the page */
} bucket_page_t;

static int bucket_page_add(const char *key, void *ud) {
    bucket_page_t *pg = ud;
    json_t *b = emu_get(pg->emu, key);
    const char *name = json_string_value(json_object_get(b, "name"));
    const char *bn = json_string_value(json_object_get(b, "projectNumber"));
    const char *bp = json_string_value(json_object_get(b, "_project"));
    if (!((bn && !strcmp(bn, pg->project)) || (bp && !strcmp(bp, pg->project)) ||
          (bn && !strcmp(bn, pg->num))))
        return 0;
    if (pg->prefix && (!name || strncmp(name, pg->prefix, strlen(pg->prefix)) != 0)) return 0;
    if ((long)json_array_size(pg->items) >= pg->size) {
        pg->more = 1;
        return 1;
    }
    /* Shared with the store, not copied: the server copies the answer
     * once under the lock before serialising it. */
    json_t *shown = json_object(), *v;
    const char *k;
    json_object_foreach(b, k, v) if (k[0] != '_') json_object_set(shown, k, v);
    json_array_append_new(pg->items, shown);
    free(pg->last);
    pg->last = xstrdup(key);
    return 0;
}

static void h_bucket_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *project = emu_q(req, "project");
    if (!project || !*project) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required", "Required parameter: project");
        return;
    }
    bucket_page_t pg = {
        emu, project, emu_project_number(emu, project), emu_q(req, "prefix"), 1000, json_array(), NULL, 0};
    const char *sz = emu_q(req, "maxResults");
    if (sz && strtol(sz, NULL, 10) > 0) pg.size = strtol(sz, NULL, 10);
    const char *tok = emu_q(req, "pageToken");
    char *after = tok && *tok ? xasprintf("storage/buckets/%s", tok) : NULL;
    emu_keys_each(emu, "storage/buckets/", after, bucket_page_add, &pg);
    resp->body = json_pack("{s:s}", "kind", "storage#buckets");
    if (json_array_size(pg.items)) json_object_set(resp->body, "items", pg.items);
    if (pg.more && pg.last)
        json_object_set_new(resp->body, "nextPageToken", json_string(pg.last + strlen("storage/buckets/")));
    json_decref(pg.items);
    free(pg.last);
    free(after);
}

static void bucket_modify(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, int replace) {
    if (json_is_object(req->body) && storage_class_check(req->body, resp) < 0) return;
    char *key = NULL;
    json_t *b = bucket_load(emu, req->params[0], resp, &key);
    if (!b) return;
    if (check_metagen(req, b, resp) < 0) goto out;
    if (!json_is_object(req->body)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required", "Required field 'resource' not specified");
        goto out;
    }
    if (emu_validate(resp, "storage", "Bucket", req->body) < 0) goto out;
    json_t *body = json_deep_copy(req->body);
    const char *loc = json_string_value(json_object_get(body, "location"));
    if (loc) {
        char up[64];
        snprintf(up, sizeof up, "%s", loc);
        for (char *p = up; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        json_object_set_new(body, "location", json_string(up));
    }
    static const char *const imm[] = {"name", "location", "locationType", NULL};
    if (emu_check_immutable(resp, b, body, imm) < 0) {
        json_decref(body);
        goto out;
    }
    for (size_t i = 0; bucket_out[i]; i++)
        json_object_del(body, bucket_out[i]);
    json_t *nb;
    if (replace) {
        nb = body;
        static const char *const keep[] = {
            "kind",       "id",   "selfLink", "projectNumber",  "_project", "timeCreated",
            "generation", "name", "location", "metageneration", NULL};
        for (size_t i = 0; keep[i]; i++) {
            json_t *v = json_object_get(b, keep[i]);
            if (v) json_object_set(nb, keep[i], v);
        }
    } else {
        nb = json_deep_copy(b);
        emu_merge_patch(nb, body);
        json_decref(body);
    }
    char *mg = i64s(emu_int64(json_object_get(b, "metageneration")) + 1);
    json_object_set_new(nb, "metageneration", json_string(mg));
    json_object_set_new(nb, "updated", json_string(emu_now()));
    free(mg);
    bucket_defaults(emu, nb);
    resp->body = emu_render(nb);
    emu_put(emu, key, nb);
out:
    free(key);
}

static void h_bucket_patch(emu_t *e, const emu_req_t *r, emu_resp_t *s) {
    bucket_modify(e, r, s, 0);
}
static void h_bucket_update(emu_t *e, const emu_req_t *r, emu_resp_t *s) {
    bucket_modify(e, r, s, 1);
}

static void h_bucket_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = NULL;
    json_t *b = bucket_load(emu, req->params[0], resp, &key);
    if (!b) return;
    if (check_metagen(req, b, resp) == 0) {
        char *prefix = xasprintf("storage/objects/%s/", req->params[0]);
        json_t *objs = emu_keys(emu, prefix);
        if (json_array_size(objs)) {
            emu_error(resp, 409, "FAILED_PRECONDITION", "conflict",
                      "The bucket you tried to delete is not empty.");
        } else {
            char *ik = xasprintf("storage/iam/%s", req->params[0]);
            emu_del(emu, ik);
            free(ik);
            emu_del(emu, key);
            resp->status = 204;
        }
        json_decref(objs);
        free(prefix);
    }
    free(key);
}

/* ---- bucket IAM -------------------------------------------------------------- */

static json_t *policy_of(emu_t *emu, const char *bucket, const json_t *b) {
    char *key = xasprintf("storage/iam/%s", bucket);
    json_t *p = emu_get(emu, key);
    if (!p) {
        const char *num = json_string_value(json_object_get(b, "projectNumber"));
        char *own = xasprintf("projectOwner:%s", num), *ed = xasprintf("projectEditor:%s", num),
             *vw = xasprintf("projectViewer:%s", num);
        char *rid = xasprintf("projects/_/buckets/%s", bucket);
        char *etag = new_etag(emu);
        p = json_pack("{s:s,s:s,s:i,s:s,s:[{s:s,s:[s,s]},{s:s,s:[s]}]}", "kind", "storage#policy",
                      "resourceId", rid, "version", 1, "etag", etag, "bindings", "role",
                      "roles/storage.legacyBucketOwner", "members", ed, own, "role",
                      "roles/storage.legacyBucketReader", "members", vw);
        emu_put(emu, key, p);
        free(etag);
        free(rid);
        free(own);
        free(ed);
        free(vw);
    }
    free(key);
    return p;
}

static void h_iam_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *b = bucket_load(emu, req->params[0], resp, NULL);
    if (b) resp->body = json_deep_copy(policy_of(emu, req->params[0], b));
}

static void h_iam_set(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *b = bucket_load(emu, req->params[0], resp, NULL);
    if (!b) return;
    if (!json_is_object(req->body)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required", "Required field 'policy' not specified");
        return;
    }
    if (emu_validate(resp, "storage", "Policy", req->body) < 0) return;
    json_t *cur = policy_of(emu, req->params[0], b);
    const char *etag = json_string_value(json_object_get(req->body, "etag"));
    if (etag && strcmp(etag, json_string_value(json_object_get(cur, "etag"))) != 0) {
        precondition_failed(resp);
        return;
    }
    json_t *bindings = json_object_get(req->body, "bindings"), *bd;
    size_t i;
    json_array_foreach(bindings, i, bd) {
        if (!json_is_string(json_object_get(bd, "role")) || !json_is_array(json_object_get(bd, "members"))) {
            emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                      "Invalid argument: bindings[%zu] needs a role and members.", i);
            return;
        }
    }
    char *ne = new_etag(emu);
    json_int_t version = json_integer_value(json_object_get(req->body, "version"));
    json_t *np = json_pack("{s:s,s:O,s:I,s:s,s:o}", "kind", "storage#policy", "resourceId",
                           json_object_get(cur, "resourceId"), "version", version ? version : 1, "etag", ne,
                           "bindings", bindings ? json_deep_copy(bindings) : json_array());
    free(ne);
    char *key = xasprintf("storage/iam/%s", req->params[0]);
    resp->body = json_deep_copy(np);
    emu_put(emu, key, np);
    free(key);
}

/* ---- objects --------------------------------------------------------------- */

static char *obj_key(const char *bucket, const char *name) {
    return xasprintf("storage/objects/%s/%s", bucket, name);
}
static char *data_key(const char *bucket, const char *name) {
    return xasprintf("storage/data/%s/%s", bucket, name);
}

/* Generation preconditions against the live object (NULL if absent). */
static int check_gen(const emu_req_t *req, const json_t *obj, emu_resp_t *resp) {
    int has;
    int64_t cur = obj ? emu_int64(json_object_get(obj, "generation")) : 0;
    int64_t g = qint(req, "ifGenerationMatch", &has);
    if (has && g != cur) {
        precondition_failed(resp);
        return -1;
    }
    g = qint(req, "ifGenerationNotMatch", &has);
    if (has && g == cur) {
        if (!strcmp(req->method, "GET"))
            emu_error(resp, 304, "FAILED_PRECONDITION", "notModified", "Not Modified");
        else
            precondition_failed(resp);
        return -1;
    }
    int64_t mcur = obj ? emu_int64(json_object_get(obj, "metageneration")) : 0;
    int64_t m = qint(req, "ifMetagenerationMatch", &has);
    if (has && (!obj || m != mcur)) {
        precondition_failed(resp);
        return -1;
    }
    m = qint(req, "ifMetagenerationNotMatch", &has);
    if (has && obj && m == mcur) {
        precondition_failed(resp);
        return -1;
    }
    return 0;
}

static const char *const obj_settable[] = {"contentType",
                                           "contentEncoding",
                                           "contentDisposition",
                                           "contentLanguage",
                                           "cacheControl",
                                           "metadata",
                                           "storageClass",
                                           "customTime",
                                           "temporaryHold",
                                           "eventBasedHold",
                                           "acl",
                                           "kmsKeyName",
                                           "retention",
                                           NULL};

/* Writes an object (lock held: the check-and-write is atomic). */
static void obj_write(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const char *bucket,
                      const char *name, const json_t *meta, const char *data, size_t len, const char *ctype) {
    if (!name || !*name) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required", "Required parameter: name");
        return;
    }
    json_t *b = bucket_load(emu, bucket, resp, NULL);
    if (!b) return;
    char *key = obj_key(bucket, name), *dkey = data_key(bucket, name);
    json_t *cur = emu_get(emu, key);
    if (check_gen(req, cur, resp) < 0) goto out;
    json_t *o = json_object();
    for (size_t i = 0; meta && obj_settable[i]; i++) {
        json_t *v = json_object_get(meta, obj_settable[i]);
        if (v && !json_is_null(v)) json_object_set(o, obj_settable[i], v);
    }
    if (!json_object_get(o, "contentType"))
        json_object_set_new(o, "contentType",
                            json_string(ctype && *ctype ? ctype : "application/octet-stream"));
    if (!json_object_get(o, "storageClass"))
        json_object_set(o, "storageClass", json_object_get(b, "storageClass"));
    int64_t gen = 1700000000000000 + emu_next_id(emu, "storage.generation");
    char *gens = i64s(gen), *sizes = i64s((int64_t)len), *enc = urlenc(name);
    char *id = xasprintf("%s/%s/%s", bucket, name, gens);
    char *self = xasprintf(SELF "%s/o/%s", bucket, enc);
    char *media = xasprintf("%s/storage/download/storage/v1/b/%s/o/%s?generation=%s&alt=media", req->base_url,
                            bucket, enc, gens);
    unsigned char md5[16];
    unsigned int mdlen = 0;
    EVP_Digest(data ? data : "", len, md5, &mdlen, EVP_md5(), NULL);
    uint32_t crc = emu_crc32c((const unsigned char *)(data ? data : ""), len);
    unsigned char crcb[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                             (unsigned char)(crc >> 8), (unsigned char)crc};
    char *md5s = emu_b64(md5, 16), *crcs = emu_b64(crcb, 4);
    char etagraw[32];
    snprintf(etagraw, sizeof etagraw, "%s/1", gens);
    char *etag = emu_b64((const unsigned char *)etagraw, strlen(etagraw));
    const char *now = emu_now();
    json_t *out =
        json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kind", "storage#object",
                  "id", id, "selfLink", self, "mediaLink", media, "name", name, "bucket", bucket,
                  "generation", gens, "metageneration", "1", "size", sizes, "md5Hash", md5s, "crc32c", crcs,
                  "etag", etag, "timeCreated", now, "updated", now, "timeStorageClassUpdated", now);
    json_object_update(o, out);
    json_decref(out);
    resp->body = json_deep_copy(o);
    emu_put(emu, key, o);
    char *d64 = emu_b64((const unsigned char *)(data ? data : ""), len);
    emu_put(emu, dkey, json_pack("{s:s}", "b64", d64));
    free(d64);
    free(etag);
    free(md5s);
    free(crcs);
    free(media);
    free(self);
    free(id);
    free(enc);
    free(sizes);
    free(gens);
out:
    free(key);
    free(dkey);
}

static const char *memmem_s(const char *h, size_t hl, const char *n) {
    return memmem(h, hl, n, strlen(n));
}

/* multipart/related: part 1 JSON metadata, part 2 the data. */
static int parse_multipart(const emu_req_t *req, json_t **meta, const char **data, size_t *len, char *ctype,
                           size_t ctlen) {
    const char *ct = req->content_type ? req->content_type : "";
    const char *bp = strstr(ct, "boundary=");
    if (!bp || !req->raw_body) return -1;
    char boundary[200], delim[210];
    bp += 9;
    if (*bp == '"' || *bp == '\'') bp++;
    size_t bl = strcspn(bp, "\"';");
    if (bl == 0 || bl >= sizeof boundary) return -1;
    memcpy(boundary, bp, bl);
    boundary[bl] = '\0';
    snprintf(delim, sizeof delim, "--%s", boundary);
    const char *s = req->raw_body, *end = s + req->raw_len;
    const char *parts[2][2];
    int np = 0;
    const char *p = memmem_s(s, (size_t)(end - s), delim);
    while (p && np < 2) {
        p += strlen(delim);
        if (p + 2 <= end && p[0] == '-' && p[1] == '-') break;
        /* Python's email package writes bare \n line ends. */
        const char *hdr_end = memmem_s(p, (size_t)(end - p), "\r\n\r\n");
        const char *lf = memmem_s(p, (size_t)(end - p), "\n\n");
        size_t skip = 4;
        if (lf && (!hdr_end || lf < hdr_end)) {
            hdr_end = lf;
            skip = 2;
        }
        if (!hdr_end) return -1;
        const char *body = hdr_end + skip;
        const char *next = memmem_s(body, (size_t)(end - body), delim);
        if (!next) return -1;
        const char *bend = next;
        if (bend - body >= 2 && bend[-2] == '\r' && bend[-1] == '\n')
            bend -= 2;
        else if (bend - body >= 1 && bend[-1] == '\n')
            bend -= 1;
        if (np == 1) { /* the data part's Content-Type */
            const char *h = memmem_s(p, (size_t)(hdr_end - p), "ontent-Type:");
            if (!h) h = memmem_s(p, (size_t)(hdr_end - p), "ontent-type:");
            if (h) {
                h += 12;
                while (*h == ' ')
                    h++;
                size_t l = strcspn(h, "\r\n");
                snprintf(ctype, ctlen, "%.*s", (int)l, h);
            }
        }
        parts[np][0] = body;
        parts[np][1] = bend;
        np++;
        p = next;
    }
    if (np != 2) return -1;
    json_error_t je;
    *meta = json_loadb(parts[0][0], (size_t)(parts[0][1] - parts[0][0]), 0, &je);
    if (!json_is_object(*meta)) {
        json_decref(*meta);
        *meta = NULL;
        return -1;
    }
    *data = parts[1][0];
    *len = (size_t)(parts[1][1] - parts[1][0]);
    return 0;
}

static void h_upload(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *bucket = req->params[0];
    const char *type = emu_q(req, "uploadType");
    if (!type) type = "media";
    if (!strcmp(type, "media")) {
        obj_write(emu, req, resp, bucket, emu_q(req, "name"), NULL, req->raw_body, req->raw_len,
                  req->content_type);
    } else if (!strcmp(type, "multipart")) {
        json_t *meta = NULL;
        const char *data = NULL;
        size_t len = 0;
        char ctype[128] = "";
        if (parse_multipart(req, &meta, &data, &len, ctype, sizeof ctype) < 0) {
            emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                      "Invalid multipart request: expected JSON metadata and one media part.");
            return;
        }
        if (emu_validate(resp, "storage", "Object", meta) == 0) {
            const char *name = json_string_value(json_object_get(meta, "name"));
            obj_write(emu, req, resp, bucket, name ? name : emu_q(req, "name"), meta, data, len, ctype);
        }
        json_decref(meta);
    } else if (!strcmp(type, "resumable")) {
        if (!bucket_load(emu, bucket, resp, NULL)) return;
        /* Upload bodies reach us raw: the session's metadata is JSON. */
        json_t *meta = req->raw_body ? json_loadb(req->raw_body, req->raw_len, 0, NULL) : NULL;
        if (!json_is_object(meta)) {
            json_decref(meta);
            meta = json_object();
        }
        if (emu_validate(resp, "storage", "Object", meta) < 0) {
            json_decref(meta);
            return;
        }
        if (!json_object_get(meta, "name") && emu_q(req, "name"))
            json_object_set_new(meta, "name", json_string(emu_q(req, "name")));
        char id[33];
        util_random_hex(id, 16);
        char *key = xasprintf("storage/uploads/%s", id);
        emu_put(
            emu, key,
            json_pack("{s:s,s:o,s:o}", "bucket", bucket, "meta", meta, "query", json_deep_copy(req->query)));
        free(key);
        snprintf(resp->headers[0], sizeof resp->headers[0],
                 "Location: %s/storage/upload/storage/v1/b/%s/o?uploadType=resumable&upload_id=%s",
                 req->base_url, bucket, id);
        resp->body = json_object();
    } else {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid", "Unsupported uploadType: %s", type);
    }
}

/* PUT to a resumable session: the whole data in one request. */
static void h_upload_put(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *id = emu_q(req, "upload_id");
    char *key = xasprintf("storage/uploads/%s", id ? id : "");
    json_t *sess = emu_get(emu, key);
    if (!sess) {
        emu_not_found(resp, "No such upload session.");
        free(key);
        return;
    }
    json_t *meta = json_object_get(sess, "meta");
    /* Preconditions travel with the session's query parameters. */
    emu_req_t r2 = *req;
    r2.query = json_object_get(sess, "query");
    const char *ct = json_string_value(json_object_get(meta, "contentType"));
    obj_write(emu, &r2, resp, json_string_value(json_object_get(sess, "bucket")),
              json_string_value(json_object_get(meta, "name")), meta, req->raw_body, req->raw_len,
              ct ? ct : req->content_type);
    emu_del(emu, key);
    free(key);
}

static void h_obj_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (!bucket_load(emu, req->params[0], resp, NULL)) return;
    char *key = obj_key(req->params[0], req->params[1]);
    json_t *o = emu_get(emu, key);
    free(key);
    int has;
    int64_t gen = qint(req, "generation", &has);
    if (!o || (has && gen != emu_int64(json_object_get(o, "generation")))) {
        emu_not_found(resp, "No such object: %s/%s", req->params[0], req->params[1]);
        return;
    }
    if (check_gen(req, o, resp) < 0) return;
    const char *alt = emu_q(req, "alt");
    if (alt && !strcmp(alt, "media")) {
        char *dk = data_key(req->params[0], req->params[1]);
        const char *d64 = json_string_value(json_object_get(emu_get(emu, dk), "b64"));
        free(dk);
        size_t len = 0;
        resp->raw = (char *)unb64(d64 ? d64 : "", &len);
        resp->raw_len = len;
        snprintf(resp->content_type, sizeof resp->content_type, "%s",
                 json_string_value(json_object_get(o, "contentType")) ?: "application/octet-stream");
        snprintf(resp->headers[0], sizeof resp->headers[0], "X-Goog-Generation: %s",
                 json_string_value(json_object_get(o, "generation")));
        return;
    }
    resp->body = json_deep_copy(o);
}

static void h_download(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    h_obj_get(emu, req, resp); /* alt=media is in the mediaLink */
}

static void h_obj_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (!bucket_load(emu, req->params[0], resp, NULL)) return;
    char *key = obj_key(req->params[0], req->params[1]);
    json_t *o = emu_get(emu, key);
    if (!o) {
        emu_not_found(resp, "No such object: %s/%s", req->params[0], req->params[1]);
    } else if (check_gen(req, o, resp) == 0) {
        char *dk = data_key(req->params[0], req->params[1]);
        emu_del(emu, key);
        emu_del(emu, dk);
        free(dk);
        resp->status = 204;
    }
    free(key);
}

static void h_obj_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (!bucket_load(emu, req->params[0], resp, NULL)) return;
    char *key = obj_key(req->params[0], req->params[1]);
    json_t *o = emu_get(emu, key);
    if (!o) {
        emu_not_found(resp, "No such object: %s/%s", req->params[0], req->params[1]);
    } else if (check_gen(req, o, resp) == 0 && emu_validate(resp, "storage", "Object", req->body) == 0) {
        json_t *n = json_deep_copy(o), *patch = json_object();
        for (size_t i = 0; obj_settable[i]; i++) {
            json_t *v = json_object_get(req->body, obj_settable[i]);
            if (v) json_object_set(patch, obj_settable[i], v);
        }
        emu_merge_patch(n, patch);
        json_decref(patch);
        char *mg = i64s(emu_int64(json_object_get(o, "metageneration")) + 1);
        json_object_set_new(n, "metageneration", json_string(mg));
        json_object_set_new(n, "updated", json_string(emu_now()));
        free(mg);
        resp->body = json_deep_copy(n);
        emu_put(emu, key, n);
    }
    free(key);
}

/* POST .../o/<src>/rewriteTo/b/<dst bucket>/o/<dst> and .../copyTo/...:
 * the object copied in one call (the emulator never needs a rewrite
 * token: done is always true), metadata from the body over the source's. */
static void h_obj_post(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *path = req->params[1];
    const char *verb = strstr(path, "/rewriteTo/b/");
    int rewrite = verb != NULL;
    if (!verb) verb = strstr(path, "/copyTo/b/");
    const char *dst = verb ? strstr(verb + 1, "/o/") : NULL;
    if (!verb || !dst) {
        emu_not_found(resp, "Not Found");
        return;
    }
    char *src = xstrndup(path, (size_t)(verb - path));
    const char *bstart = verb + (rewrite ? 13 : 10);
    char *dbucket = xstrndup(bstart, (size_t)(dst - bstart)), *dname = xstrdup(dst + 3);
    char *skey = obj_key(req->params[0], src), *sdk = data_key(req->params[0], src);
    json_t *so = bucket_load(emu, req->params[0], resp, NULL) ? emu_get(emu, skey) : NULL;
    if (!so) {
        if (!resp->body) emu_not_found(resp, "No such object: %s/%s", req->params[0], src);
    } else {
        const char *d64 = json_string_value(json_object_get(emu_get(emu, sdk), "b64"));
        size_t len = 0;
        char *data = (char *)unb64(d64 ? d64 : "", &len);
        json_t *meta = json_deep_copy(so);
        if (json_is_object(req->body)) json_object_update(meta, req->body);
        obj_write(emu, req, resp, dbucket, dname, meta, data, len,
                  json_string_value(json_object_get(meta, "contentType")));
        json_decref(meta);
        free(data);
        if (rewrite && resp->status < 300 && resp->body) {
            json_t *o = resp->body;
            resp->body = json_pack("{s:s,s:O,s:O,s:b,s:o}", "kind", "storage#rewriteResponse",
                                   "totalBytesRewritten", json_object_get(o, "size"), "objectSize",
                                   json_object_get(o, "size"), "done", 1, "resource", o);
        }
    }
    free(skey);
    free(sdk);
    free(src);
    free(dbucket);
    free(dname);
}

static void h_obj_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (!bucket_load(emu, req->params[0], resp, NULL)) return;
    const char *prefix = emu_q(req, "prefix");
    const char *delim = emu_q(req, "delimiter");
    if (delim && !*delim) delim = NULL;
    if (!prefix) prefix = "";
    char *kp = xasprintf("storage/objects/%s/%s", req->params[0], prefix);
    size_t base = strlen("storage/objects/") + strlen(req->params[0]) + 1;
    json_t *keys = emu_keys(emu, kp), *k;
    /* Entries in name order: object names, and prefixes once each. */
    json_t *entries = json_array(), *seen = json_object();
    size_t i;
    json_array_foreach(keys, i, k) {
        const char *name = json_string_value(k) + base;
        const char *rest = name + strlen(prefix);
        const char *d = delim ? strstr(rest, delim) : NULL;
        if (d) {
            char *pre = xstrndup(name, (size_t)(d - name) + strlen(delim));
            if (!json_object_get(seen, pre)) {
                json_object_set_new(seen, pre, json_true());
                json_array_append_new(entries, json_pack("{s:s}", "prefix", pre));
            }
            free(pre);
        } else {
            json_array_append_new(entries, json_pack("{s:s}", "key", json_string_value(k)));
        }
    }
    json_decref(seen);
    json_decref(keys);
    free(kp);
    char *next = NULL;
    json_t *page = emu_page(req, entries, "maxResults", 1000, &next);
    json_decref(entries);
    json_t *items = json_array(), *prefixes = json_array(), *e;
    json_array_foreach(page, i, e) {
        const char *pk = json_string_value(json_object_get(e, "prefix"));
        if (pk)
            json_array_append_new(prefixes, json_string(pk));
        else
            json_array_append_new(items,
                                  json_deep_copy(emu_get(emu, json_string_value(json_object_get(e, "key")))));
    }
    json_decref(page);
    resp->body = json_pack("{s:s}", "kind", "storage#objects");
    if (json_array_size(items))
        json_object_set_new(resp->body, "items", items);
    else
        json_decref(items);
    if (json_array_size(prefixes)) {
        json_object_set_new(resp->body, "prefixes", prefixes);
    } else {
        json_decref(prefixes);
    }
    if (next) json_object_set_new(resp->body, "nextPageToken", json_string(next));
    free(next);
}

static const emu_route_t routes[] = {
    {"POST", "storage/v1/b", h_bucket_insert},
    {"GET", "storage/v1/b", h_bucket_list},
    {"GET", "storage/v1/b/{b}", h_bucket_get},
    {"PATCH", "storage/v1/b/{b}", h_bucket_patch},
    {"PUT", "storage/v1/b/{b}", h_bucket_update},
    {"DELETE", "storage/v1/b/{b}", h_bucket_delete},
    {"GET", "storage/v1/b/{b}/iam", h_iam_get},
    {"PUT", "storage/v1/b/{b}/iam", h_iam_set},
    {"GET", "storage/v1/b/{b}/o", h_obj_list},
    {"POST", "upload/storage/v1/b/{b}/o", h_upload},
    {"PUT", "upload/storage/v1/b/{b}/o", h_upload_put},
    {"GET", "download/storage/v1/b/{b}/o/{o*}", h_download},
    {"GET", "storage/v1/b/{b}/o/{o*}", h_obj_get},
    {"DELETE", "storage/v1/b/{b}/o/{o*}", h_obj_delete},
    {"PATCH", "storage/v1/b/{b}/o/{o*}", h_obj_patch},
    {"POST", "storage/v1/b/{b}/o/{o*}", h_obj_post},
};

const emu_api_t emu_api_storage = {"storage", routes, sizeof routes / sizeof routes[0], NULL};
