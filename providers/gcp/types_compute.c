/* types_compute.c: Compute Engine resource types: network, subnetwork,
 * firewall, router (with its NATs), global address, instance.  All share
 * the compute operation shape and PATCH-with-fingerprint updates. */
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_res.h"

static const char *const extra_project[] = {"project", NULL};
static const char *const strip_region[] = {"region", NULL};
static const char *const strip_zone[] = {"zone", NULL};

/* What every compute type shares: compute operations, POST to create,
 * PATCH with the fingerprint to update, "items" in list answers, the spec
 * name as "name". */
#define COMPUTE_TYPE GCP_COMPUTE_TYPE

/* Not marked output only in compute's schema (the rest is, see gcp_res_ignored). */
static const char *const compute_output[] = {"selfLinkWithId", "fingerprint", "labelFingerprint", NULL};

/* Compute accepts full URLs and partial ones ("projects/p/global/networks/n")
 * for references, not bare names: expand a bare name. */
static void expand_ref(json_t *body, const char *path, const char *project, const char *fmt_mid) {
    json_t *v = jpath_get(body, path);
    const char *s = json_string_value(v);
    if (!s || strchr(s, '/')) return;
    jpath_set_new(body, path, json_sprintf("projects/%s/%s/%s", project, fmt_mid, s));
}

static const char *body_project(rctx_t *c, const json_t *desired) {
    const char *p = json_string_value(json_object_get(desired, "project"));
    return p ? p : GCP_PROV(c)->project;
}

static int prepare_network_ref(rctx_t *c, const json_t *desired, json_t *body) {
    expand_ref(body, "network", body_project(c, desired), "global/networks");
    return 0;
}

/* ---- network ---- */

static void network_defaults(const rtype_t *t, void *prov, const char *spec_name, json_t *body) {
    gcp_res_defaults(t, prov, spec_name, body);
    /* Omitting autoCreateSubnetworks creates a *legacy* network; plinth's
     * default is a custom-mode VPC (set true for auto mode). */
    if (!json_object_get(body, "autoCreateSubnetworks"))
        json_object_set_new(body, "autoCreateSubnetworks", json_false());
}

static const char *const net_forms[] = {"{project}/{name}", "{name}", NULL};
static const gcp_type_t network_t = {
    COMPUTE_TYPE,
    .self = "compute/v1/projects/{project}/global/networks/{name}",
    .collection = "compute/v1/projects/{project}/global/networks",
    .id_tmpl = "projects/{project}/global/networks/{name}",
    .import_forms = net_forms,
};
static const char *const net_immutable[] = {
    "name",           "autoCreateSubnetworks", "description", "internalIpv6Range",
    "networkProfile", "enableUlaInternalIpv6", "IPv4Range",   NULL};
const rtype_t gcp_compute_network = {
    .name = "gcp.compute_network",
    .api = "compute",
    .message = "Network",
    .extra_fields = extra_project,
    .immutable = net_immutable,
    GCP_RTYPE_CALLBACKS_NODEFAULTS,
    .defaults = network_defaults,
    .data = &network_t,
};

/* ---- subnetwork ---- */

/* ipCidrRange only grows, through expandIpCidrRange. */
static const gcp_verb_t subnet_verbs[] = {
    {"ipCidrRange", "expandIpCidrRange", NULL, 0},
    {"privateIpGoogleAccess", "setPrivateIpGoogleAccess", NULL, 0},
    {NULL, NULL, NULL, 0},
};

static const char *const subnet_forms[] = {"{project}/{region}/{name}", "{region}/{name}", NULL};
static const gcp_type_t subnet_t = {
    COMPUTE_TYPE,
    .self = "compute/v1/projects/{project}/regions/{region}/subnetworks/{name}",
    .collection = "compute/v1/projects/{project}/regions/{region}/subnetworks",
    .id_tmpl = "projects/{project}/regions/{region}/subnetworks/{name}",
    .import_forms = subnet_forms,
    .location_field = "region",
    .send_strip = strip_region,
    .set_paths = (const char *const[]){"secondaryIpRanges", NULL},
    .prepare = prepare_network_ref,
    .verbs = subnet_verbs,
};
static const char *const subnet_immutable[] = {"name", "network", "region", "description", NULL};
static const char *const subnet_required[] = {"network", "ipCidrRange", NULL};
const rtype_t gcp_compute_subnetwork = {
    .name = "gcp.compute_subnetwork",
    .api = "compute",
    .message = "Subnetwork",
    .extra_fields = extra_project,
    .required = subnet_required,
    .immutable = subnet_immutable,
    .ignore = (const char *const[]){"fingerprint", "internalIpv6Prefix", "externalIpv6Prefix", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &subnet_t,
};

/* ---- firewall ---- */

static const gcp_type_t firewall_t = {
    COMPUTE_TYPE,
    .self = "compute/v1/projects/{project}/global/firewalls/{name}",
    .collection = "compute/v1/projects/{project}/global/firewalls",
    .id_tmpl = "projects/{project}/global/firewalls/{name}",
    .import_forms = net_forms,
    .set_paths = (const char *const[]){"allowed", "denied", "allowed.*.ports", "denied.*.ports",
                                       "sourceRanges", "destinationRanges", "sourceTags", "targetTags",
                                       "sourceServiceAccounts", "targetServiceAccounts", NULL},
    .ci_paths = (const char *const[]){"allowed.*.IPProtocol", "denied.*.IPProtocol", NULL},
    .prepare = prepare_network_ref,
};
const rtype_t gcp_compute_firewall = {
    .name = "gcp.compute_firewall",
    .api = "compute",
    .message = "Firewall",
    .extra_fields = extra_project,
    .required = (const char *const[]){"network", NULL},
    .immutable = (const char *const[]){"name", "direction", "network", NULL},
    .ignore = compute_output,
    GCP_RTYPE_CALLBACKS,
    .data = &firewall_t,
};

/* ---- router (NATs are its nats[] array; a PATCH replaces the list) ---- */

static const gcp_type_t router_t = {
    COMPUTE_TYPE,
    .self = "compute/v1/projects/{project}/regions/{region}/routers/{name}",
    .collection = "compute/v1/projects/{project}/regions/{region}/routers",
    .id_tmpl = "projects/{project}/regions/{region}/routers/{name}",
    .import_forms = subnet_forms,
    .location_field = "region",
    .send_strip = strip_region,
    .set_paths = (const char *const[]){"nats", "nats.*.subnetworks", "nats.*.natIps", NULL},
    .prepare = prepare_network_ref,
};
const rtype_t gcp_compute_router = {
    .name = "gcp.compute_router",
    .api = "compute",
    .message = "Router",
    .extra_fields = extra_project,
    .required = (const char *const[]){"network", NULL},
    .immutable = (const char *const[]){"name", "network", "region", "encryptedInterconnectRouter", NULL},
    .ignore = compute_output,
    GCP_RTYPE_CALLBACKS,
    .data = &router_t,
};

/* ---- global address (private services access range) ---- */

static const gcp_type_t address_t = {
    COMPUTE_TYPE,
    .self = "compute/v1/projects/{project}/global/addresses/{name}",
    .collection = "compute/v1/projects/{project}/global/addresses",
    .id_tmpl = "projects/{project}/global/addresses/{name}",
    .import_forms = net_forms,
    .verbs = (const gcp_verb_t[]){GCP_VERB_LABELS, {NULL, NULL, NULL, 0}},
    .prepare = prepare_network_ref,
};
const rtype_t gcp_compute_global_address = {
    .name = "gcp.compute_global_address",
    .api = "compute",
    .message = "Address",
    .extra_fields = extra_project,
    .immutable = (const char *const[]){"name", "address", "addressType", "prefixLength", "network", "purpose",
                                       "ipVersion", "description", "subnetwork", "networkTier", NULL},
    .ignore = (const char *const[]){"labelFingerprint", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &address_t,
};

/* ---- instance ---- */

static int instance_prepare(rctx_t *c, const json_t *desired, json_t *body) {
    const char *zone = json_string_value(json_object_get(desired, "zone"));
    if (!zone) zone = GCP_PROV(c)->zone;
    const char *mt = json_string_value(json_object_get(body, "machineType"));
    if (mt && !strchr(mt, '/') && zone)
        json_object_set_new(body, "machineType", json_sprintf("zones/%s/machineTypes/%s", zone, mt));
    size_t i;
    json_t *ni;
    json_array_foreach(json_object_get(body, "networkInterfaces"), i, ni) {
        expand_ref(ni, "network", body_project(c, desired), "global/networks");
        const char *sub = json_string_value(json_object_get(ni, "subnetwork"));
        if (sub && !strchr(sub, '/') && GCP_PROV(c)->region)
            json_object_set_new(ni, "subnetwork",
                                json_sprintf("projects/%s/regions/%s/subnetworks/%s",
                                             body_project(c, desired), GCP_PROV(c)->region, sub));
    }
    return 0;
}

/* metadata and tags change through setMetadata / setTags with their own
 * fingerprints, labels through setLabels. */
static const gcp_verb_t instance_verbs[] = {
    {"metadata", "setMetadata", "metadata.fingerprint", 1},
    {"tags", "setTags", "tags.fingerprint", 1},
    GCP_VERB_LABELS,
    {NULL, NULL, NULL, 0},
};

static const char *const inst_forms[] = {"{project}/{zone}/{name}", "{zone}/{name}", NULL};
static const gcp_type_t instance_t = {
    COMPUTE_TYPE,
    .self = "compute/v1/projects/{project}/zones/{zone}/instances/{name}",
    .collection = "compute/v1/projects/{project}/zones/{zone}/instances",
    .id_tmpl = "projects/{project}/zones/{zone}/instances/{name}",
    .import_forms = inst_forms,
    .zone_field = "zone",
    .send_strip = strip_zone,
    .verbs = instance_verbs,
    .set_paths = (const char *const[]){"tags.items", NULL},
    .prepare = instance_prepare,
};
const rtype_t gcp_compute_instance = {
    .name = "gcp.compute_instance",
    .api = "compute",
    .message = "Instance",
    .extra_fields = extra_project,
    .required = (const char *const[]){"machineType", "disks", "networkInterfaces", NULL},
    .immutable = (const char *const[]){"name", "zone", "machineType", "disks", "networkInterfaces",
                                       "serviceAccounts", "guestAccelerators", "scheduling", "canIpForward",
                                       "description", "shieldedInstanceConfig", "confidentialInstanceConfig",
                                       "minCpuPlatform", "advancedMachineFeatures", NULL},
    .ignore = (const char *const[]){"labelFingerprint", "fingerprint", "metadata.fingerprint",
                                    "tags.fingerprint", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &instance_t,
};
