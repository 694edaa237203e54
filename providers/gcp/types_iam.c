/* types_iam.c: IAM service accounts and the member-level IAM grants on a
 * service account and on a project (read-modify-write of the policy that
 * never touches other members; see gcp_iam_* in gcp_res.c). */
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_iam.h"

/* ---- service account ---- */

/* The create body is {accountId, serviceAccount: {...}}. */
static int sa_prepare(rctx_t *c, const json_t *desired, json_t *body) {
    json_t *inner = json_deep_copy(body);
    json_object_clear(body);
    json_object_set(body, "accountId", json_object_get(desired, "accountId"));
    json_object_set_new(body, "serviceAccount", inner);
    return 0;
}

/* PATCH with the mask inside the body; only displayName and description
 * are settable. */
static int sa_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                     const strlist_t *changed, json_t **newlive) {
    json_t *sa = json_object();
    sbuf_t mask = {0};
    sbuf_add(&mask, "");
    static const char *const fields[] = {"displayName", "description"};
    for (int i = 0; i < 2; i++) {
        int hit = 0;
        for (size_t j = 0; j < changed->n; j++)
            hit |= jpath_under(changed->v[j], fields[i]);
        if (!hit) continue;
        json_t *v = json_object_get(desired, fields[i]);
        json_object_set_new(sa, fields[i], v ? json_deep_copy(v) : json_string(""));
        sbuf_addf(&mask, "%s%s", mask.len ? "," : "", fields[i]);
    }
    int rc = 0;
    if (mask.len) {
        json_t *b = json_pack("{s:O,s:s}", "serviceAccount", sa, "updateMask", mask.s);
        char *url = xasprintf("v1/%s", id);
        rc = gcp_call_ok(c, "PATCH", "iam", url, b);
        free(url);
        json_decref(b);
    }
    json_decref(sa);
    sbuf_free(&mask);
    if (rc == 0) rc = gcp_res_read(c, id, desired, newlive);
    return rc;
}

static const gcp_type_t sa_t = {
    .api = "iam",
    .self = "v1/projects/{project}/serviceAccounts/{accountId}@{project}.iam.gserviceaccount.com",
    .collection = "v1/projects/{project}/serviceAccounts",
    .id_tmpl = "projects/{project}/serviceAccounts/{accountId}@{project}.iam.gserviceaccount.com",
    .import_forms =
        (const char *const[]){"{project}/{accountId}@{project}.iam.gserviceaccount.com",
                              "{accountId}@{project}.iam.gserviceaccount.com", "{accountId}", NULL},
    .name_field = "accountId",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_HOOK,
    .prepare = sa_prepare,
    .update = sa_update,
    .list_items = "accounts", /* serviceAccounts.list answers full accounts */
};
const rtype_t gcp_service_account = {
    .name = "gcp.service_account",
    .api = "iam",
    .message = "ServiceAccount",
    .extra_fields = (const char *const[]){"project", "accountId", NULL},
    .immutable = (const char *const[]){"accountId", "project", NULL},
    .ignore = (const char *const[]){"name", "etag", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &sa_t,
};

/* ---- service account IAM member ---- */

static char *sa_res(rctx_t *c, const char *v) {
    const char *t = gcp_projects_tail(v);
    if (t) return xstrdup(t);
    if (strncmp(v, "serviceAccount:", 15) == 0) v += 15;
    const char *at = strchr(v, '@');
    if (!at) {
        perr_set(c->err, c->addr ? c->addr : "",
                 "service_account must be an email or projects/P/serviceAccounts/EMAIL, not '%s'", v);
        return NULL;
    }
    const char *dom = ".iam.gserviceaccount.com";
    size_t n = strlen(v), dn = strlen(dom);
    if (n > dn && strcmp(v + n - dn, dom) == 0)
        return xasprintf("projects/%.*s/serviceAccounts/%s", (int)(n - dn - (size_t)(at + 1 - v)), at + 1, v);
    return xasprintf("projects/%s/serviceAccounts/%s", GCP_PROV(c)->project, v);
}

/* setIamPolicy of the v1 APIs: POST {"policy": policy} to url (freed). */
static int set_policy_post(rctx_t *c, const char *api, char *url, const json_t *policy, gcp_resp_t *r) {
    json_t *b = json_pack("{s:O}", "policy", policy);
    int rc = gcp_iam_set(c, api, "POST", url, b, r);
    json_decref(b);
    free(url);
    return rc;
}

static int sa_iam_get(rctx_t *c, const char *res, json_t **policy, gcp_resp_t *r) {
    char *url = xasprintf("v1/%s:getIamPolicy?options.requestedPolicyVersion=3", res);
    int rc = gcp_iam_get(c, "iam", "POST", url, NULL, policy, r);
    free(url);
    return rc;
}

static int sa_iam_set(rctx_t *c, const char *res, const json_t *policy, gcp_resp_t *r) {
    return set_policy_post(c, "iam", xasprintf("v1/%s:setIamPolicy", res), policy, r);
}

static const gcp_iam_kind_t sa_iam = {"service_account", sa_res, sa_iam_get, sa_iam_set};
static const gcp_type_t sa_iam_t = GCP_IAM_TYPE("iam", &sa_iam);
static const char *const iam_fields_sa[] = {"service_account", "role", "member", "condition", NULL};
const rtype_t gcp_service_account_iam_member = {
    GCP_IAM_RTYPE("gcp.service_account_iam_member", iam_fields_sa, &sa_iam_t),
    .required = (const char *const[]){"service_account", "role", "member", NULL},
};

/* ---- project IAM member ---- */

static char *project_res(rctx_t *c, const char *v) {
    if (strncmp(v, "projects/", 9) == 0) v += 9;
    if (!*v || strchr(v, '/')) {
        perr_set(c->err, c->addr ? c->addr : "", "project must be a project ID, not '%s'", v);
        return NULL;
    }
    return xstrdup(v);
}

static int project_iam_get(rctx_t *c, const char *res, json_t **policy, gcp_resp_t *r) {
    char *url = xasprintf("v1/projects/%s:getIamPolicy", res);
    json_t *b = json_pack("{s:{s:i}}", "options", "requestedPolicyVersion", 3);
    int rc = gcp_iam_get(c, "cloudresourcemanager", "POST", url, b, policy, r);
    json_decref(b);
    free(url);
    return rc;
}

static int project_iam_set(rctx_t *c, const char *res, const json_t *policy, gcp_resp_t *r) {
    return set_policy_post(c, "cloudresourcemanager", xasprintf("v1/projects/%s:setIamPolicy", res), policy,
                           r);
}

static const gcp_iam_kind_t project_iam = {"project", project_res, project_iam_get, project_iam_set};
static const gcp_type_t project_iam_t = GCP_IAM_TYPE("cloudresourcemanager", &project_iam);
static const char *const iam_fields_project[] = {"project", "role", "member", "condition", NULL};
const rtype_t gcp_project_iam_member = {
    GCP_IAM_RTYPE("gcp.project_iam_member", iam_fields_project, &project_iam_t),
    .required = (const char *const[]){"role", "member", NULL},
};
