/* types_storage.c: Cloud Storage buckets and bucket IAM members (JSON API
 * v1, synchronous: no operations). */
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_iam.h"

/* ---- bucket ---- */

/* PATCH the changed top-level fields.  Merge semantics keep label keys the
 * body omits, so removed labels are sent as null. */
static int bucket_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                         const strlist_t *changed, json_t **newlive) {
    json_t *b = json_object();
    for (size_t i = 0; i < changed->n; i++) {
        size_t k = strcspn(changed->v[i], ".");
        char *top = xstrndup(changed->v[i], k);
        if (!rtype_path_in(c->type->extra_fields, top)) {
            json_t *v = json_object_get(desired, top);
            json_object_set_new(b, top, v ? json_deep_copy(v) : json_null());
        }
        free(top);
    }
    json_t *labels = json_object_get(b, "labels");
    if (json_is_object(labels)) {
        const char *k;
        json_t *v;
        json_object_foreach(json_object_get(live, "labels"), k, v) if (!json_object_get(labels, k))
            json_object_set_new(labels, k, json_null());
    }
    int rc = 0;
    const char *name = gcp_last_segment(id);
    if (json_object_size(b)) {
        char *url = xasprintf("storage/v1/b/%s", name);
        rc = gcp_call_ok(c, "PATCH", "storage", url, b);
        free(url);
    }
    json_decref(b);
    if (rc == 0) rc = gcp_res_read(c, id, desired, newlive);
    return rc;
}

/* Deletes every object (all generations) of a bucket, for force_destroy. */
static int bucket_empty(rctx_t *c, const char *name) {
    char *token = NULL;
    int rc = 0;
    do {
        char *url = token ? xasprintf("storage/v1/b/%s/o?versions=true&pageToken=%s", name, token)
                          : xasprintf("storage/v1/b/%s/o?versions=true", name);
        free(token);
        token = NULL;
        json_t *page = NULL;
        rc = gcp_get(c, "storage", url, &page);
        free(url);
        size_t i;
        json_t *o;
        json_array_foreach(json_object_get(page, "items"), i, o) {
            if (rc < 0) break;
            const char *on = json_string_value(json_object_get(o, "name"));
            const char *gen = json_string_value(json_object_get(o, "generation"));
            if (!on) continue;
            char *enc = gcp_urlenc(on);
            char *u = gen ? xasprintf("storage/v1/b/%s/o/%s?generation=%s", name, enc, gen)
                          : xasprintf("storage/v1/b/%s/o/%s", name, enc);
            gcp_resp_t r = {0};
            if (gcp_call(GCP_PROV(c)->client, "DELETE", "storage", u, NULL, &r, c->err) < 0)
                rc = -1;
            else if (r.status != 404 && (r.status < 200 || r.status >= 300)) {
                gcp_fail(c, &r, "DELETE", u);
                rc = -1;
            }
            gcp_resp_free(&r);
            free(u);
            free(enc);
        }
        const char *nt = json_string_value(json_object_get(page, "nextPageToken"));
        if (rc == 0 && nt && *nt) token = xstrdup(nt);
        json_decref(page);
    } while (token);
    return rc;
}

static int bucket_remove(rctx_t *c, const char *id, const json_t *live) {
    const char *name = gcp_last_segment(id);
    char *url = xasprintf("storage/v1/b/%s", name);
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        gcp_resp_t r = {0};
        if (gcp_call(GCP_PROV(c)->client, "DELETE", "storage", url, NULL, &r, c->err) < 0) {
            gcp_resp_free(&r);
            break;
        }
        long st = r.status;
        if (st == 404 || (st >= 200 && st < 300)) {
            gcp_resp_free(&r);
            rc = 0;
            break;
        }
        if (st == 409 && attempt == 0 && json_is_true(json_object_get(live, "force_destroy"))) {
            gcp_resp_free(&r);
            if (bucket_empty(c, name) < 0) break;
            continue;
        }
        if (st == 409)
            perr_set(
                c->err, c->addr ? c->addr : "",
                "bucket %s is not empty: delete its objects, or set force_destroy = true and apply first",
                name);
        else
            gcp_fail(c, &r, "DELETE", url);
        gcp_resp_free(&r);
        break;
    }
    free(url);
    return rc;
}

static const gcp_type_t bucket_t = {
    .api = "storage",
    .self = "storage/v1/b/{name}",
    .collection = "storage/v1/b?project={project}",
    .id_tmpl = "projects/_/buckets/{name}",
    .list_items = "items", /* buckets.list answers full bucket resources */
    .import_forms = (const char *const[]){"{project}/{name}", "gs://{name}", "{name}", NULL},
    .name_field = "name",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_HOOK,
    .ci_paths = (const char *const[]){"location", "storageClass", "locationType", NULL},
    .set_paths = (const char *const[]){"cors", "lifecycle.rule", NULL},
    .update = bucket_update,
    .remove = bucket_remove,
};
const rtype_t gcp_storage_bucket = {
    .name = "gcp.storage_bucket",
    .api = "storage",
    .message = "Bucket",
    .extra_fields = (const char *const[]){"project", "force_destroy", NULL},
    .options = (const char *const[]){"force_destroy", NULL},
    .immutable = (const char *const[]){"name", "location", "project", "customPlacementConfig",
                                       "hierarchicalNamespace", NULL},
    .ignore = (const char *const[]){"id", "kind", "selfLink", "projectNumber", "metageneration", "etag",
                                    "timeCreated", "updated", "locationType", "owner", "generation",
                                    "softDeleteTime", "hardDeleteTime", "softDeletePolicy.effectiveTime",
                                    "satisfiesPZS", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &bucket_t,
};

/* ---- bucket IAM member ---- */

static char *bucket_res(rctx_t *c, const char *v) {
    if (strncmp(v, "gs://", 5) == 0) v += 5;
    if (strncmp(v, "b/", 2) == 0) v += 2;
    return xasprintf("b/%s", gcp_last_segment(v));
}

static int bucket_iam_get(rctx_t *c, const char *res, json_t **policy, gcp_resp_t *r) {
    char *url = xasprintf("storage/v1/%s/iam?optionsRequestedPolicyVersion=3", res);
    int rc = gcp_iam_get(c, "storage", "GET", url, NULL, policy, r);
    free(url);
    return rc;
}

static int bucket_iam_set(rctx_t *c, const char *res, const json_t *policy, gcp_resp_t *r) {
    char *url = xasprintf("storage/v1/%s/iam", res);
    int rc = gcp_iam_set(c, "storage", "PUT", url, policy, r);
    free(url);
    return rc;
}

static const gcp_iam_kind_t bucket_iam = {"bucket", bucket_res, bucket_iam_get, bucket_iam_set};
static const gcp_type_t bucket_iam_t = GCP_IAM_TYPE("storage", &bucket_iam);
static const char *const iam_fields_bucket[] = {"bucket", "role", "member", "condition", NULL};
const rtype_t gcp_storage_bucket_iam_member = {
    GCP_IAM_RTYPE("gcp.storage_bucket_iam_member", iam_fields_bucket, &bucket_iam_t),
    .required = (const char *const[]){"bucket", "role", "member", NULL},
};
