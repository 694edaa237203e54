/* types_network.c: more compute networking types: regional addresses
 * (static external or internal IPs; labels through setLabels, everything
 * else immutable). */
#include "providers/gcp/gcp_res.h"

static const gcp_type_t address_t = {
    GCP_COMPUTE_TYPE,
    .self = "compute/v1/projects/{project}/regions/{region}/addresses/{name}",
    .collection = "compute/v1/projects/{project}/regions/{region}/addresses",
    .id_tmpl = "projects/{project}/regions/{region}/addresses/{name}",
    .import_forms = (const char *const[]){"{project}/{region}/{name}", "{region}/{name}", NULL},
    .location_field = "region",
    .send_strip = (const char *const[]){"region", NULL},
    .verbs = GCP_COMPUTE_LABELS_VERB,
};
const rtype_t gcp_compute_address = {
    .name = "gcp.compute_address",
    .api = "compute",
    .message = "Address",
    .extra_fields = (const char *const[]){"project", NULL},
    .immutable =
        (const char *const[]){"name", "region", "address", "addressType", "prefixLength", "network",
                              "subnetwork", "purpose", "ipVersion", "description", "networkTier", NULL},
    .ignore = (const char *const[]){"labelFingerprint", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &address_t,
};
