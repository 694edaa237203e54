/* types_iam_more.c: member grants on a Secret Manager secret and on an
 * Artifact Registry repository (v1 getIamPolicy with GET, setIamPolicy
 * with POST {policy}); the generic read-modify-write is in gcp_iam.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "providers/gcp/gcp_iam.h"

/* GET <res>:getIamPolicy and POST <res>:setIamPolicy of a v1 API. */
#define V1_POLICY_FNS(pfx, api_)                                                                             \
    static int pfx##_get(rctx_t *c, const char *res, json_t **policy, gcp_resp_t *r) {                       \
        char *url = xasprintf("v1/%s:getIamPolicy?options.requestedPolicyVersion=3", res);                   \
        int rc = gcp_iam_get(c, api_, "GET", url, NULL, policy, r);                                          \
        free(url);                                                                                           \
        return rc;                                                                                           \
    }                                                                                                        \
    static int pfx##_set(rctx_t *c, const char *res, const json_t *policy, gcp_resp_t *r) {                  \
        char *url = xasprintf("v1/%s:setIamPolicy", res);                                                    \
        json_t *b = json_pack("{s:O}", "policy", policy);                                                    \
        int rc = gcp_iam_set(c, api_, "POST", url, b, r);                                                    \
        json_decref(b);                                                                                      \
        free(url);                                                                                           \
        return rc;                                                                                           \
    }

/* ---- secret ---- */

/* secret_id: projects/P/secrets/S, or S in the provider's project.  The
 * API names secrets by project number, so the ID does too (one spelling
 * whether the spec or an import names the project by ID). */
static char *secret_res(rctx_t *c, const char *v) {
    const char *t = gcp_projects_tail(v);
    char project[128], secret[256];
    if (t && sscanf(t, "projects/%127[^/]/secrets/%255[^/]", project, secret) == 2)
        ;
    else if (*v && !strchr(v, '/')) {
        snprintf(project, sizeof project, "%s", GCP_PROV(c)->project);
        snprintf(secret, sizeof secret, "%s", v);
    } else {
        perr_set(c->err, c->addr ? c->addr : "", "secret_id must be projects/P/secrets/S or S, not '%s'", v);
        return NULL;
    }
    char *num = gcp_project_number(c, project);
    if (!num) return NULL;
    char *res = xasprintf("projects/%s/secrets/%s", num, secret);
    free(num);
    return res;
}

V1_POLICY_FNS(secret_iam, "secretmanager")
static const gcp_iam_kind_t secret_iam = {"secret_id", secret_res, secret_iam_get, secret_iam_set};
static const gcp_type_t secret_iam_t = GCP_IAM_TYPE("secretmanager", &secret_iam);
static const char *const fields_secret[] = {"secret_id", "role", "member", "condition", NULL};
const rtype_t gcp_secret_manager_secret_iam_member = {
    GCP_IAM_RTYPE("gcp.secret_manager_secret_iam_member", fields_secret, &secret_iam_t),
    .required = (const char *const[]){"secret_id", "role", "member", NULL},
};

/* ---- repository ---- */

/* repository: projects/P/locations/L/repositories/R, or R in the
 * provider's project and region. */
static char *repo_res(rctx_t *c, const char *v) {
    const char *t = gcp_projects_tail(v);
    if (t && strstr(t, "/repositories/")) return xstrdup(t);
    gcp_prov_t *P = GCP_PROV(c);
    if (!*v || strchr(v, '/') || !P->region) {
        perr_set(c->err, c->addr ? c->addr : "",
                 "repository must be projects/P/locations/L/repositories/R (or R with a provider region), "
                 "not '%s'",
                 v);
        return NULL;
    }
    return xasprintf("projects/%s/locations/%s/repositories/%s", P->project, P->region, v);
}

V1_POLICY_FNS(repo_iam, "artifactregistry")
static const gcp_iam_kind_t repo_iam = {"repository", repo_res, repo_iam_get, repo_iam_set};
static const gcp_type_t repo_iam_t = GCP_IAM_TYPE("artifactregistry", &repo_iam);
static const char *const fields_repo[] = {"repository", "role", "member", "condition", NULL};
const rtype_t gcp_artifact_registry_repository_iam_member = {
    GCP_IAM_RTYPE("gcp.artifact_registry_repository_iam_member", fields_repo, &repo_iam_t),
    .required = (const char *const[]){"repository", "role", "member", NULL},
};
