/* types_kms.c: Cloud KMS key rings and crypto keys, and member grants on a
 * key.  Neither a ring nor a key can be deleted in the real API: destroying
 * a ring only forgets it (re-creating adopts it), destroying a key destroys
 * every version that can be (DESTROY_SCHEDULED) and forgets the key. */
#include <stdlib.h>
#include <string.h>

#include "providers/gcp/gcp_iam.h"

static int ring_forget(rctx_t *c, const char *id, const json_t *live) {
    if (c->progress)
        c->progress(c->ud, c->addr, "key rings cannot be deleted: forgotten, the ring stays in the project");
    return 0;
}

static const gcp_type_t ring_t = {
    .api = "cloudkms",
    .self = "v1/projects/{project}/locations/{location}/keyRings/{name}",
    .collection = "v1/projects/{project}/locations/{location}/keyRings",
    .create_query = "keyRingId={name}",
    .id_tmpl = "projects/{project}/locations/{location}/keyRings/{name}",
    .import_forms = (const char *const[]){"{project}/{location}/{name}", "{location}/{name}", NULL},
    .name_field = "name",
    .location_field = "location",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_NONE,
    .list_items = "keyRings",
    .remove = ring_forget,
};
const rtype_t gcp_kms_key_ring = {
    .name = "gcp.kms_key_ring",
    .api = "cloudkms",
    .message = "KeyRing",
    .extra_fields = (const char *const[]){"project", "location", "name", NULL},
    .immutable = (const char *const[]){"project", "location", "name", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &ring_t,
    .adopt_existing = 1,
};

/* Destroys every ENABLED or DISABLED version, then forgets the key. */
static int key_remove(rctx_t *c, const char *id, const json_t *live) {
    char *url = xasprintf("v1/%s/cryptoKeyVersions", id);
    json_t *page = NULL;
    int rc = gcp_get(c, "cloudkms", url, &page), n = 0;
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(page, "cryptoKeyVersions"), i, v) {
        const char *st = json_string_value(json_object_get(v, "state"));
        const char *name = json_string_value(json_object_get(v, "name"));
        if (rc < 0 || !name || !st || (strcmp(st, "ENABLED") != 0 && strcmp(st, "DISABLED") != 0)) continue;
        char *u = xasprintf("v1/%s:destroy", name);
        json_t *b = json_object();
        rc = gcp_call_ok(c, "POST", "cloudkms", u, b);
        json_decref(b);
        free(u);
        n++;
    }
    if (rc == 0 && c->progress) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "crypto keys cannot be deleted: destroyed %d version(s), the key is forgotten", n);
        c->progress(c->ud, c->addr, msg);
    }
    json_decref(page);
    free(url);
    return rc;
}

/* "id": the key's relative name (name itself is normalized to the spec's
 * short form), for crypto_key_id = key.id as in Terraform. */
static void key_after_read(rctx_t *c, const json_t *desired, json_t **live) {
    json_t *n = json_object_get(*live, "name");
    if (json_is_string(n) && gcp_projects_tail(json_string_value(n)))
        json_object_set_new(*live, "id", json_string(gcp_projects_tail(json_string_value(n))));
}

static const gcp_type_t ckey_t = {
    .api = "cloudkms",
    .self = "v1/projects/{project}/locations/{location}/keyRings/{key_ring}/cryptoKeys/{name}",
    .collection = "v1/projects/{project}/locations/{location}/keyRings/{key_ring}/cryptoKeys",
    .create_query = "cryptoKeyId={name}",
    .id_tmpl = "projects/{project}/locations/{location}/keyRings/{key_ring}/cryptoKeys/{name}",
    .import_forms =
        (const char *const[]){"{project}/{location}/{key_ring}/{name}", "{location}/{key_ring}/{name}", NULL},
    .name_field = "name",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_PATCH_MASK,
    .list_items = "cryptoKeys",
    .remove = key_remove,
    .after_read = key_after_read,
};
const rtype_t gcp_kms_crypto_key = {
    .name = "gcp.kms_crypto_key",
    .api = "cloudkms",
    .message = "CryptoKey",
    .extra_fields = (const char *const[]){"project", "key_ring", "name", NULL},
    .required = (const char *const[]){"key_ring", "purpose", NULL},
    .immutable =
        (const char *const[]){"project", "key_ring", "name", "purpose", "versionTemplate.protectionLevel",
                              "importOnly", "destroyScheduledDuration", "cryptoKeyBackend", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &ckey_t,
};

/* ---- crypto key IAM member ---- */

static char *key_res(rctx_t *c, const char *v) {
    const char *t = gcp_projects_tail(v);
    if (t && strstr(t, "/cryptoKeys/")) return xstrdup(t);
    perr_set(c->err, c->addr ? c->addr : "",
             "crypto_key_id must be projects/P/locations/L/keyRings/R/cryptoKeys/K, not '%s'", v);
    return NULL;
}

static int key_iam_get(rctx_t *c, const char *res, json_t **policy, gcp_resp_t *r) {
    char *url = xasprintf("v1/%s:getIamPolicy?options.requestedPolicyVersion=3", res);
    int rc = gcp_iam_get(c, "cloudkms", "GET", url, NULL, policy, r);
    free(url);
    return rc;
}

static int key_iam_set(rctx_t *c, const char *res, const json_t *policy, gcp_resp_t *r) {
    char *url = xasprintf("v1/%s:setIamPolicy", res);
    json_t *b = json_pack("{s:O}", "policy", policy);
    int rc = gcp_iam_set(c, "cloudkms", "POST", url, b, r);
    json_decref(b);
    free(url);
    return rc;
}

static const gcp_iam_kind_t key_iam = {"crypto_key_id", key_res, key_iam_get, key_iam_set};
static const gcp_type_t key_iam_t = GCP_IAM_TYPE("cloudkms", &key_iam);
static const char *const iam_fields_key[] = {"crypto_key_id", "role", "member", "condition", NULL};
const rtype_t gcp_kms_crypto_key_iam_member = {
    GCP_IAM_RTYPE("gcp.kms_crypto_key_iam_member", iam_fields_key, &key_iam_t),
    .required = (const char *const[]){"crypto_key_id", "role", "member", NULL},
};
