/* emu_compute.h: the emulated Compute Engine API's internal contract,
 * shared by api_compute.c (collections, generic methods, operations,
 * routes), compute_prep.c (per-type defaults and checks on insert) and
 * compute_verbs.c (special verbs).  Strings returned are NEW; json_t
 * results NEW references unless stated. */
#ifndef PLINTH_EMU_COMPUTE_H
#define PLINTH_EMU_COMPUTE_H

#include <jansson.h>
#include <stdint.h>

#include "emulator/emu.h"

#define SELF_BASE "https://www.googleapis.com/compute/v1/"

typedef enum { SC_GLOBAL, SC_REGION, SC_ZONE } emu_ce_scope_t;

typedef struct emu_ce_coll emu_ce_coll_t;
/* Where a request points: project, region/zone (or NULL), name. */
typedef struct emu_ce_target {
    const char *project, *loc, *name;
} emu_ce_target_t;

struct emu_ce_coll {
    const char *name;      /* "networks" (URL collection) */
    const char *msg;       /* schema message: "Network" */
    const char *kind;      /* "compute#network" */
    const char *list_kind; /* "compute#networkList" */
    emu_ce_scope_t scope;
    /* Fills server defaults and output fields of a new resource; -1 on a
     * refused request (resp filled). */
    int (*prepare)(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp);
    const char *const *immutable; /* refused on patch/update */
    const char *const *output;    /* ignored in patch bodies */
};

extern const emu_ce_coll_t emu_ce_networks, emu_ce_subnetworks, emu_ce_firewalls, emu_ce_routers,
    emu_ce_addresses, emu_ce_raddresses, emu_ce_instances;

/* api_compute.c */
const char *emu_ce_scope_seg(emu_ce_scope_t s); /* "global", "regions", "zones" */
/* "projects/p/global/networks" or "projects/p/regions/r/subnetworks". */
char *emu_ce_coll_path(const emu_ce_coll_t *c, const emu_ce_target_t *t);
/* The target of a request on c (params: project, [loc], [name]); BORROWED strings. */
emu_ce_target_t emu_ce_target(const emu_ce_coll_t *c, const emu_req_t *req, int with_name);
int emu_ce_valid_name(const char *n); /* [a-z]([-a-z0-9]{0,61}[a-z0-9])? */
char *emu_ce_new_id(emu_t *emu);
/* A fresh fingerprint: canonical base64 of 8 random bytes, as Google's. */
char *emu_ce_fingerprint(void);
/* 1 when two fingerprints are the same bytes: clients send them back in
 * standard or URL-safe base64 (apitools re-encodes byte fields URL-safe). */
int emu_ce_fp_equal(const char *a, const char *b);
/* Reference in any accepted form -> full selfLink; coll ("global/networks")
 * completes bare names. */
char *emu_ce_norm_ref(const char *project, const char *v, const char *coll);
char *emu_ce_ref_key(const char *url); /* store key of a selfLink */
void emu_ce_norm_field(json_t *doc, const char *field, const char *project, const char *coll);
/* "10.0.0.0/20" -> base, prefix; -1 when malformed, host bits set or prefix outside 8..29. */
int emu_ce_parse_cidr(const char *cidr, uint32_t *base, int *prefix);
void emu_ce_ip_str(uint32_t ip, char out[16]);
/* Creates a RUNNING operation on target (selfLink + id) and arms its
 * timer.  after: {"delete": key} or {"key": k, "set": {...}} applied at
 * DONE (stolen; may be NULL).  Returns the response body (new). */
json_t *emu_ce_op_start(emu_t *emu, emu_ce_scope_t scope, const emu_ce_target_t *t, const char *optype,
                        const char *kind, const char *target_link, const char *target_id, json_t *after);
/* The resource (BORROWED) or NULL with a 404 in resp; *key_out (may be NULL) NEW. */
json_t *emu_ce_load(emu_t *emu, const emu_ce_coll_t *c, const emu_ce_target_t *t, emu_resp_t *resp,
                    char **key_out);
/* Name of a resource of another API (GKE cluster, ...) using url in field, or NULL. */
const char *emu_ce_user_of(emu_t *emu, const char *project, const char *url, const char *field);

/* compute_prep.c */
/* Keeps a network's subnetworks[] in sync (add or remove sub_url). */
void emu_ce_net_subnets(emu_t *emu, const char *net_url, const char *sub_url, int add);
int emu_ce_prep_network(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp);
int emu_ce_prep_subnetwork(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp);
int emu_ce_prep_firewall(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp);
int emu_ce_prep_router(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp);
int emu_ce_prep_address(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp);
int emu_ce_prep_instance(emu_t *emu, const emu_ce_target_t *t, json_t *doc, emu_resp_t *resp);

/* compute_verbs.c: route handlers. */
void emu_ce_sub_expand(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_sub_private_access(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_addr_set_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_raddr_set_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_inst_set_metadata(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_inst_set_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_inst_set_tags(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);

/* compute_catalog.c: route handlers for regions, zones, machine types
 * (from catalog.c) and operation lists (global, regional, zonal, aggregated). */
void emu_ce_regions(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_region(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_zones(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_zone(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_machine_types(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_machine_type(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_ops_global(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_ops_region(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_ops_zone(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);
void emu_ce_ops_aggregated(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);

#endif
