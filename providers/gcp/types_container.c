/* types_container.c: GKE clusters and node pools.  GKE changes a cluster
 * with one ClusterUpdate field per call (and special verbs for labels and
 * maintenance), and refuses concurrent operations on one cluster: every
 * mutation goes through gcp_call_busy, which retries that refusal. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_res.h"

/* What both GKE types share: container operations, POST to create (body
 * wrapped), updates through the type's hook, the spec name as "name". */
#define GKE_TYPE                                                                                             \
    .api = "container", .op_api = "container", .name_field = "name", .create_style = GCP_CREATE_POST,        \
    .update_style = GCP_UPDATE_HOOK

/* PUT/POST one mutation and wait for its operation. */
static int gke_call(rctx_t *c, const char *method, const char *url, const json_t *body) {
    return gcp_call_wait(c, method, "container", url, body, 0);
}

/* ---- cluster ---- */

/* How a changed path becomes a ClusterUpdate field; first match wins. */
static const struct {
    const char *path, *desired; /* desired == NULL: special verb */
    const char *verb;
} cluster_updates[] = {
    {"resourceLabels", NULL, "setResourceLabels"},
    {"maintenancePolicy", NULL, "setMaintenancePolicy"},
    {"privateClusterConfig.enablePrivateNodes", "desiredDefaultEnablePrivateNodes", NULL},
    {"privateClusterConfig.enablePrivateEndpoint", "desiredEnablePrivateEndpoint", NULL},
    {"privateClusterConfig", "desiredPrivateClusterConfig", NULL},
    {"networkConfig.enableIntraNodeVisibility", "desiredIntraNodeVisibilityConfig", NULL},
    {"networkConfig.datapathProvider", "desiredDatapathProvider", NULL},
    {"networkConfig.dnsConfig", "desiredDnsConfig", NULL},
    {"networkConfig.gatewayApiConfig", "desiredGatewayApiConfig", NULL},
    {"autoscaling", "desiredClusterAutoscaling", NULL},
    {"releaseChannel", "desiredReleaseChannel", NULL},
    {"workloadIdentityConfig", "desiredWorkloadIdentityConfig", NULL},
    {"masterAuthorizedNetworksConfig", "desiredMasterAuthorizedNetworksConfig", NULL},
    {"locations", "desiredLocations", NULL},
    {"addonsConfig", "desiredAddonsConfig", NULL},
    {"loggingService", "desiredLoggingService", NULL},
    {"monitoringService", "desiredMonitoringService", NULL},
    {"loggingConfig", "desiredLoggingConfig", NULL},
    {"monitoringConfig", "desiredMonitoringConfig", NULL},
    {"verticalPodAutoscaling", "desiredVerticalPodAutoscaling", NULL},
    {"binaryAuthorization", "desiredBinaryAuthorization", NULL},
    {"shieldedNodes", "desiredShieldedNodes", NULL},
    {"databaseEncryption", "desiredDatabaseEncryption", NULL},
    {"notificationConfig", "desiredNotificationConfig", NULL},
    {"costManagementConfig", "desiredCostManagementConfig", NULL},
    {"securityPostureConfig", "desiredSecurityPostureConfig", NULL},
};

/* The value a ClusterUpdate field carries for a changed path. */
static json_t *update_value(const char *desired_field, const char *path, const json_t *desired) {
    if (strcmp(desired_field, "desiredIntraNodeVisibilityConfig") == 0)
        return json_pack("{s:O}", "enabled",
                         jpath_get(desired, path) ? jpath_get(desired, path) : json_false());
    json_t *v = jpath_get(desired, path);
    return v ? json_deep_copy(v) : json_null();
}

int gcp_container_cluster_update_field(const char *path, char *out, size_t n); /* test hook */
int gcp_container_cluster_update_field(const char *path, char *out, size_t n) {
    for (size_t i = 0; i < sizeof cluster_updates / sizeof *cluster_updates; i++)
        if (jpath_under(path, cluster_updates[i].path)) {
            snprintf(out, n, "%s",
                     cluster_updates[i].desired ? cluster_updates[i].desired : cluster_updates[i].verb);
            return (int)i;
        }
    /* Fall back on the naming rule: field -> desiredField. */
    size_t k = strcspn(path, ".");
    snprintf(out, n, "desired%c%.*s", toupper((unsigned char)path[0]), (int)k - 1, path + 1);
    return -1;
}

static int cluster_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                          const strlist_t *changed, json_t **newlive) {
    char *url = xasprintf("v1/%s", id);
    strlist_t done = {0};
    int rc = 0;
    for (size_t i = 0; i < changed->n && rc == 0; i++) {
        const char *p = changed->v[i];
        size_t k = strcspn(p, ".");
        char top[128];
        snprintf(top, sizeof top, "%.*s", (int)k, p);
        if (rtype_path_in(c->type->extra_fields, top)) continue;
        char field[128];
        int idx = gcp_container_cluster_update_field(p, field, sizeof field);
        if (strlist_has(&done, field)) continue;
        strlist_add(&done, field);
        const char *path = idx >= 0 ? cluster_updates[idx].path : top;
        if (idx >= 0 && !cluster_updates[idx].desired) {
            char *u = xasprintf("%s:%s", url, field);
            json_t *b = json_object();
            json_t *v = jpath_get(desired, path);
            json_object_set_new(b, path, v ? json_deep_copy(v) : json_object());
            if (strcmp(field, "setResourceLabels") == 0) {
                json_t *fp = json_object_get(live, "labelFingerprint");
                if (fp) json_object_set(b, "labelFingerprint", fp);
            }
            rc = gke_call(c, "POST", u, b);
            json_decref(b);
            free(u);
            continue;
        }
        json_t *b = json_pack("{s:{s:o}}", "update", field, update_value(field, path, desired));
        if (c->progress) {
            char msg[200];
            snprintf(msg, sizeof msg, "updating %s", field);
            c->progress(c->ud, c->addr, msg);
        }
        rc = gke_call(c, "PUT", url, b);
        json_decref(b);
    }
    strlist_free(&done);
    free(url);
    if (rc == 0) rc = gcp_res_read(c, id, desired, newlive);
    return rc;
}

/* deletion_protection is client-side (container v1 has no such field):
 * destroying a protected cluster needs an apply that sets it false first. */
static int cluster_remove(rctx_t *c, const char *id, const json_t *live) {
    if (json_is_true(json_object_get(live, "deletion_protection")) ||
        json_is_true(json_object_get(live, "deletionProtection"))) {
        perr_set(
            c->err, c->addr ? c->addr : "",
            "cluster %s has deletion protection: set deletion_protection = false, run apply, then destroy",
            id);
        return -1;
    }
    char *url = xasprintf("v1/%s", id);
    int rc = gcp_call_wait(c, "DELETE", "container", url, NULL, 1);
    free(url);
    return rc;
}

/* GKE documents network/subnetwork as names or relative names: send the
 * relative form when the spec passes a compute self link. */
static int cluster_prepare(rctx_t *c, const json_t *desired, json_t *body) {
    static const char *const refs[] = {"network", "subnetwork"};
    for (int i = 0; i < 2; i++) {
        const char *v = json_string_value(json_object_get(body, refs[i]));
        const char *tail = v && strstr(v, "://") ? gcp_projects_tail(v) : NULL;
        if (tail) json_object_set_new(body, refs[i], json_string(tail));
    }
    return 0;
}

/* Create-time fields: GKE does not report them back faithfully (the
 * default pool may be gone, nodeConfig mirrors the first pool), so live
 * takes the spec's value; a change still plans a replace through the
 * engine's last-applied comparison. */
static void cluster_after_read(rctx_t *c, const json_t *desired, json_t **live) {
    static const char *const create_only[] = {"initialNodeCount", "nodeConfig", "nodePools"};
    if (!desired) return;
    int removed = json_is_true(json_object_get(desired, "remove_default_node_pool"));
    for (int i = 0; i < 3; i++) {
        json_t *d = json_object_get(desired, create_only[i]);
        if (d && (removed || !json_object_get(*live, create_only[i])))
            json_object_set(*live, create_only[i], d);
    }
}

/* remove_default_node_pool = true: GKE Standard needs a node pool at
 * create, so the cluster comes up with "default-pool" (initialNodeCount
 * nodes), which is then deleted so separately managed pools are the only
 * ones (Terraform's pattern). */
static int cluster_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    const gcp_type_t *T = GCP_TYPE(c);
    gcp_type_t plain = *T;
    plain.create = NULL;
    rctx_t c2 = *c;
    rtype_t t2 = *c->type;
    t2.data = &plain;
    c2.type = &t2;
    int rc = gcp_res_create(&c2, desired, id, live);
    if (rc < 0 || !json_is_true(json_object_get(desired, "remove_default_node_pool"))) return rc;
    size_t i;
    json_t *np;
    int has_default = 0;
    json_array_foreach(json_object_get(*live, "nodePools"), i, np) {
        const char *n = json_string_value(json_object_get(np, "name"));
        has_default |= n && strcmp(n, "default-pool") == 0;
    }
    if (!has_default) return 0;
    if (c->progress) c->progress(c->ud, c->addr, "removing default-pool");
    char *url = xasprintf("v1/%s/nodePools/default-pool", *id);
    rc = gcp_call_wait(c, "DELETE", "container", url, NULL, 1);
    free(url);
    if (rc == 0) {
        json_decref(*live);
        *live = NULL;
        rc = gcp_res_read(c, *id, desired, live);
    }
    if (rc < 0) {
        /* The cluster exists: report the error but keep its ID for state. */
        perr_wrap(c->err, "cluster %s was created but its default pool could not be removed", *id);
    }
    return rc;
}

static const gcp_type_t cluster_t = {
    GKE_TYPE,
    .self = "v1/projects/{project}/locations/{location}/clusters/{name}",
    .collection = "v1/projects/{project}/locations/{location}/clusters",
    .id_tmpl = "projects/{project}/locations/{location}/clusters/{name}",
    .import_forms = (const char *const[]){"{project}/{location}/{name}", "{location}/{name}", NULL},
    .location_field = "location",
    .wrap = "cluster",
    .list_items = "clusters",
    .set_paths = (const char *const[]){"locations", "masterAuthorizedNetworksConfig.cidrBlocks", NULL},
    .prepare = cluster_prepare,
    .create = cluster_create,
    .update = cluster_update,
    .remove = cluster_remove,
    .after_read = cluster_after_read,
};
const rtype_t gcp_container_cluster = {
    .name = "gcp.container_cluster",
    .api = "container",
    .message = "Cluster",
    .extra_fields =
        (const char *const[]){"project", "location", "deletion_protection", "remove_default_node_pool", NULL},
    .options = (const char *const[]){"deletion_protection", "remove_default_node_pool", NULL},
    .immutable =
        (const char *const[]){"name", "location", "network", "subnetwork", "clusterIpv4Cidr",
                              "ipAllocationPolicy", "privateClusterConfig.masterIpv4CidrBlock",
                              "privateClusterConfig.privateEndpointSubnetwork", "defaultMaxPodsConstraint",
                              "enableKubernetesAlpha", "initialNodeCount", "nodePools", "nodeConfig",
                              "description", "confidentialNodes", "autopilot", "initialClusterVersion",
                              "project", NULL},
    .ignore = (const char *const[]){"conditions", "labelFingerprint", "etag", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &cluster_t,
};

/* ---- node pool ---- */

static int pool_prepare(rctx_t *c, const json_t *desired, json_t *body) {
    json_t *n = json_object_get(desired, "node_count");
    if (n && !json_object_get(body, "initialNodeCount")) json_object_set(body, "initialNodeCount", n);
    return 0;
}

/* UpdateNodePoolRequest fields for changed node config paths. */
static const struct {
    const char *path, *field, *inner; /* inner: the wrapper message's list/map field */
} pool_updates[] = {
    {"config.labels", "labels", "labels"},
    {"config.resourceLabels", "resourceLabels", "labels"},
    {"config.taints", "taints", "taints"},
    {"config.tags", "tags", "tags"},
    {"config.imageType", "imageType", NULL},
    {"config.workloadMetadataConfig", "workloadMetadataConfig", NULL},
    {"config.kubeletConfig", "kubeletConfig", NULL},
    {"config.linuxNodeConfig", "linuxNodeConfig", NULL},
    {"config.gcfsConfig", "gcfsConfig", NULL},
    {"config.gvnic", "gvnic", NULL},
    {"config.fastSocket", "fastSocket", NULL},
    {"config.loggingConfig", "loggingConfig", NULL},
    {"config.machineType", "machineType", NULL},
    {"config.diskSizeGb", "diskSizeGb", NULL},
    {"config.diskType", "diskType", NULL},
    {"version", "nodeVersion", NULL},
    {"locations", "locations", NULL},
    {"upgradeSettings", "upgradeSettings", NULL},
};

static int pool_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                       const strlist_t *changed, json_t **newlive) {
    char *url = xasprintf("v1/%s", id);
    strlist_t done = {0};
    int rc = 0;
    for (size_t i = 0; i < changed->n && rc == 0; i++) {
        const char *p = changed->v[i];
        const char *verb = NULL, *key = NULL;
        json_t *val = NULL;
        if (jpath_under(p, "autoscaling"))
            verb = "setAutoscaling", key = "autoscaling";
        else if (jpath_under(p, "management"))
            verb = "setManagement", key = "management";
        else if (jpath_under(p, "node_count"))
            verb = "setSize", key = "nodeCount";
        if (verb) {
            if (strlist_has(&done, verb)) continue;
            strlist_add(&done, verb);
            val = json_object_get(desired, strcmp(key, "nodeCount") == 0 ? "node_count" : key);
            json_t *b = json_object();
            json_object_set(b, key, val ? val : json_null());
            char *u = xasprintf("%s:%s", url, verb);
            rc = gke_call(c, "POST", u, b);
            free(u);
            json_decref(b);
            continue;
        }
        size_t j;
        for (j = 0; j < sizeof pool_updates / sizeof *pool_updates; j++)
            if (jpath_under(p, pool_updates[j].path)) break;
        if (j == sizeof pool_updates / sizeof *pool_updates) {
            if (rtype_path_in(c->type->extra_fields, p)) continue;
            perr_set(c->err, c->addr, "changing %s of a node pool in place is not supported", p);
            rc = -1;
            break;
        }
        if (strlist_has(&done, pool_updates[j].field)) continue;
        strlist_add(&done, pool_updates[j].field);
        /* nodeVersion and imageType are required by the API: send the current ones. */
        json_t *b = json_object();
        json_t *ver = json_object_get(live, "version"), *img = jpath_get(live, "config.imageType");
        if (ver) json_object_set(b, "nodeVersion", ver);
        if (img) json_object_set(b, "imageType", img);
        json_t *v = jpath_get(desired, pool_updates[j].path);
        if (pool_updates[j].inner) {
            json_t *w = json_object();
            json_object_set_new(
                w, pool_updates[j].inner,
                v ? json_deep_copy(v)
                  : (strcmp(pool_updates[j].inner, "labels") == 0 ? json_object() : json_array()));
            json_object_set_new(b, pool_updates[j].field, w);
        } else if (v)
            json_object_set(b, pool_updates[j].field, v);
        if (strcmp(pool_updates[j].field, "machineType") == 0 ||
            strcmp(pool_updates[j].field, "diskSizeGb") == 0 ||
            strcmp(pool_updates[j].field, "diskType") == 0) {
            /* These three travel together (the nodes are recreated once). */
            static const char *const trio[] = {"machineType", "diskSizeGb", "diskType"};
            for (int t = 0; t < 3; t++) {
                char path[64];
                snprintf(path, sizeof path, "config.%s", trio[t]);
                json_t *tv = jpath_get(desired, path);
                if (tv) json_object_set(b, trio[t], tv);
                strlist_add(&done, trio[t]);
            }
        }
        rc = gke_call(c, "PUT", url, b);
        json_decref(b);
    }
    strlist_free(&done);
    free(url);
    if (rc == 0) rc = gcp_res_read(c, id, desired, newlive);
    return rc;
}

static const gcp_type_t pool_t = {
    GKE_TYPE,
    .self = "v1/projects/{project}/locations/{location}/clusters/{cluster}/nodePools/{name}",
    .collection = "v1/projects/{project}/locations/{location}/clusters/{cluster}/nodePools",
    .id_tmpl = "projects/{project}/locations/{location}/clusters/{cluster}/nodePools/{name}",
    .import_forms =
        (const char *const[]){"{project}/{location}/{cluster}/{name}", "{location}/{cluster}/{name}", NULL},
    .wrap = "nodePool",
    .list_items = "nodePools",
    .set_paths =
        (const char *const[]){"locations", "config.oauthScopes", "config.taints", "config.tags", NULL},
    .prepare = pool_prepare,
    .update = pool_update,
};
const rtype_t gcp_container_node_pool = {
    .name = "gcp.container_node_pool",
    .api = "container",
    .message = "NodePool",
    .extra_fields = (const char *const[]){"project", "location", "cluster", "node_count", NULL},
    .required = (const char *const[]){"cluster", NULL},
    .immutable = (const char *const[]){"name",
                                       "cluster",
                                       "location",
                                       "project",
                                       "initialNodeCount",
                                       "maxPodsConstraint",
                                       "networkConfig",
                                       "placementPolicy",
                                       "queuedProvisioning",
                                       "config.accelerators",
                                       "config.spot",
                                       "config.preemptible",
                                       "config.serviceAccount",
                                       "config.oauthScopes",
                                       "config.metadata",
                                       "config.minCpuPlatform",
                                       "config.localSsdCount",
                                       "config.shieldedInstanceConfig",
                                       "config.reservationAffinity",
                                       "config.sandboxConfig",
                                       "config.bootDiskKmsKey",
                                       "config.nodeGroup",
                                       "config.advancedMachineFeatures",
                                       NULL},
    .ignore = (const char *const[]){"conditions", "etag", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &pool_t,
};
