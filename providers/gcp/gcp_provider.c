/* gcp_provider.c: the "gcp" provider: opens a client from the provider
 * block ({project, region, zone?, impersonate_service_account?}) and lists
 * the resource types of every family. */
#include <stdlib.h>
#include <string.h>

#include "core/rtype.h"
#include "providers/gcp/gcp_backend.h"
#include "providers/gcp/gcp_hooks.h"
#include "providers/gcp/gcp_res.h"

static const char *cfg_str(const json_t *config, const char *key) {
    return json_string_value(json_object_get(config, key));
}

static void gcp_close(void *prov) {
    gcp_prov_t *P = prov;
    if (!P) return;
    gcp_client_free(P->client);
    free(P->project);
    free(P->region);
    free(P->zone);
    json_decref(P->project_numbers);
    pthread_mutex_destroy(&P->iam_lock);
    pthread_mutex_destroy(&P->num_lock);
    free(P);
}

static void *gcp_open(const json_t *config, const prov_env_t *env, perr_t *e) {
    static const char *const known[] = {"project", "region", "zone", "impersonate_service_account", NULL};
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)config, k, v) {
        int ok = 0;
        for (const char *const *n = known; *n; n++)
            ok |= strcmp(*n, k) == 0;
        if (!ok) {
            perr_set(e, "provider gcp",
                     "unknown setting '%s' (known: project, region, zone, impersonate_service_account)", k);
            return NULL;
        }
        if (!json_is_string(v)) {
            perr_set(e, "provider gcp", "'%s' must be a string", k);
            return NULL;
        }
    }
    const char *project = cfg_str(config, "project");
    if (!project || !*project) project = getenv("GOOGLE_CLOUD_PROJECT");
    if (!project || !*project) project = getenv("CLOUDSDK_CORE_PROJECT");
    if (!project || !*project) {
        perr_set(e, "provider gcp",
                 "no project: set project in the provider \"gcp\" block or GOOGLE_CLOUD_PROJECT");
        return NULL;
    }
    gcp_prov_t *P = xcalloc(1, sizeof *P);
    P->project = xstrdup(project);
    const char *region = cfg_str(config, "region"), *zone = cfg_str(config, "zone");
    P->region = region && *region ? xstrdup(region) : NULL;
    P->zone = zone && *zone ? xstrdup(zone) : NULL;
    P->project_numbers = json_object();
    pthread_mutex_init(&P->iam_lock, NULL);
    pthread_mutex_init(&P->num_lock, NULL);
    P->emulated = env && env->endpoint && *env->endpoint;
    gcp_opts_t o = {0};
    o.endpoint = env && env->endpoint && *env->endpoint ? env->endpoint : NULL;
    o.http_log = env ? env->http_log : NULL;
    o.cancel = env ? env->cancel : NULL;
    o.project = P->project;
    o.impersonate = cfg_str(config, "impersonate_service_account");
    if (env && env->parallelism > 0) o.max_in_flight = env->parallelism * 4;
    P->client = gcp_client_new(&o, e);
    if (!P->client) {
        gcp_close(P);
        return NULL;
    }
    return P;
}

#define GCP_TYPE_REF(n) &gcp_##n,
static const rtype_t *const gcp_types[] = {GCP_TYPES(GCP_TYPE_REF) NULL};
#undef GCP_TYPE_REF

const provider_def_t gcp_provider = {
    .name = "gcp",
    .open = gcp_open,
    .close = gcp_close,
    .types = gcp_types,
    .validate = gcp_validate,
    .attr_known = gcp_attr_known,
    .prepare = gcp_prepare,
    .backend = "gcs",
    .backend_open = gcp_backend_open,
};
