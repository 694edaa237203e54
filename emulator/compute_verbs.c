/* compute_verbs.c: the compute API's special verbs: expandIpCidrRange,
 * setPrivateIpGoogleAccess, setLabels, setMetadata, setTags, and the
 * subnetwork delete that also updates its network (see emu_compute.h). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu_compute.h"

void emu_ce_sub_expand(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    emu_ce_target_t t = emu_ce_target(&emu_ce_subnetworks, req, 1);
    char *key = NULL;
    json_t *doc = emu_ce_load(emu, &emu_ce_subnetworks, &t, resp, &key);
    if (!doc) return;
    if (emu_validate(resp, "compute", "SubnetworksExpandIpCidrRangeRequest", req->body) < 0) {
        free(key);
        return;
    }
    const char *nc = json_string_value(json_object_get(req->body, "ipCidrRange"));
    uint32_t ob, nb;
    int op, np;
    emu_ce_parse_cidr(json_string_value(json_object_get(doc, "ipCidrRange")), &ob, &op);
    if (!nc || emu_ce_parse_cidr(nc, &nb, &np) < 0 || np >= op || (ob & (0xffffffffu << (32 - np))) != nb) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Invalid value for field 'ipCidrRange': '%s'. The new range must be a strict "
                  "superset of the current range.",
                  nc ? nc : "");
    } else {
        json_object_set_new(doc, "ipCidrRange", json_string(nc));
        char *fp = emu_ce_fingerprint();
        json_object_set_new(doc, "fingerprint", json_string(fp));
        free(fp);
        emu_put(emu, key, json_incref(doc));
        resp->body =
            emu_ce_op_start(emu, SC_REGION, &t, "expandIpCidrRange", "compute.subnetworks.expandIpCidrRange",
                            json_string_value(json_object_get(doc, "selfLink")),
                            json_string_value(json_object_get(doc, "id")), NULL);
    }
    free(key);
}

void emu_ce_sub_private_access(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    emu_ce_target_t t = emu_ce_target(&emu_ce_subnetworks, req, 1);
    char *key = NULL;
    json_t *doc = emu_ce_load(emu, &emu_ce_subnetworks, &t, resp, &key);
    if (!doc) return;
    if (emu_validate(resp, "compute", "SubnetworksSetPrivateIpGoogleAccessRequest", req->body) < 0) {
        free(key);
        return;
    }
    json_t *v = json_object_get(req->body, "privateIpGoogleAccess");
    if (!json_is_boolean(v)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required",
                  "Required field 'privateIpGoogleAccess' not specified");
    } else {
        json_object_set(doc, "privateIpGoogleAccess", v);
        emu_put(emu, key, json_incref(doc));
        resp->body = emu_ce_op_start(emu, SC_REGION, &t, "setPrivateIpGoogleAccess",
                                     "compute.subnetworks.setPrivateIpGoogleAccess",
                                     json_string_value(json_object_get(doc, "selfLink")),
                                     json_string_value(json_object_get(doc, "id")), NULL);
    }
    free(key);
}

/* setLabels of a global or regional address (c), whose request message is msg. */
static void address_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const emu_ce_coll_t *c,
                           const char *msg) {
    emu_ce_target_t t = emu_ce_target(c, req, 1);
    char *key = NULL;
    json_t *doc = emu_ce_load(emu, c, &t, resp, &key);
    if (!doc) return;
    if (emu_validate(resp, "compute", msg, req->body) < 0) {
        free(key);
        return;
    }
    const char *fp = json_string_value(json_object_get(req->body, "labelFingerprint"));
    const char *cur = json_string_value(json_object_get(doc, "labelFingerprint"));
    if (!fp || (cur && !emu_ce_fp_equal(fp, cur))) {
        emu_error(resp, 412, "FAILED_PRECONDITION", "conditionNotMet",
                  "Labels fingerprint either invalid or resource labels have changed");
    } else {
        json_t *labels = json_object_get(req->body, "labels");
        json_object_set_new(doc, "labels", labels ? json_deep_copy(labels) : json_object());
        char *nfp = emu_ce_fingerprint();
        json_object_set_new(doc, "labelFingerprint", json_string(nfp));
        free(nfp);
        emu_put(emu, key, json_incref(doc));
        resp->body = emu_ce_op_start(emu, c->scope, &t, "setLabels", "compute.addresses.setLabels",
                                     json_string_value(json_object_get(doc, "selfLink")),
                                     json_string_value(json_object_get(doc, "id")), NULL);
    }
    free(key);
}

void emu_ce_addr_set_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    address_labels(emu, req, resp, &emu_ce_addresses, "GlobalSetLabelsRequest");
}

void emu_ce_raddr_set_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    address_labels(emu, req, resp, &emu_ce_raddresses, "RegionSetLabelsRequest");
}

void emu_ce_inst_set_metadata(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    emu_ce_target_t t = emu_ce_target(&emu_ce_instances, req, 1);
    char *key = NULL;
    json_t *doc = emu_ce_load(emu, &emu_ce_instances, &t, resp, &key);
    if (!doc) return;
    if (emu_validate(resp, "compute", "Metadata", req->body) < 0) goto out;
    json_t *md = json_object_get(doc, "metadata");
    const char *fp = json_string_value(json_object_get(req->body, "fingerprint"));
    const char *cur = json_string_value(json_object_get(md, "fingerprint"));
    if (!fp || (cur && !emu_ce_fp_equal(fp, cur))) {
        emu_error(resp, 412, "FAILED_PRECONDITION", "conditionNotMet",
                  "Supplied fingerprint does not match current metadata fingerprint.");
        goto out;
    }
    json_t *items = json_object_get(req->body, "items");
    char *nfp = emu_ce_fingerprint();
    json_t *nmd = json_pack("{s:s,s:s}", "kind", "compute#metadata", "fingerprint", nfp);
    free(nfp);
    if (items) json_object_set_new(nmd, "items", json_deep_copy(items));
    json_object_set_new(doc, "metadata", nmd);
    emu_put(emu, key, json_incref(doc));
    resp->body = emu_ce_op_start(emu, SC_ZONE, &t, "setMetadata", "compute.instances.setMetadata",
                                 json_string_value(json_object_get(doc, "selfLink")),
                                 json_string_value(json_object_get(doc, "id")), NULL);
out:
    free(key);
}

/* instances.setLabels and setTags: a fingerprinted part of an instance
 * replaced whole (labels + labelFingerprint, tags.items + tags.fingerprint).
 * A stale fingerprint is 412 as for metadata. */
static void inst_set_part(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, int labels) {
    emu_ce_target_t t = emu_ce_target(&emu_ce_instances, req, 1);
    char *key = NULL;
    json_t *doc = emu_ce_load(emu, &emu_ce_instances, &t, resp, &key);
    if (!doc) return;
    if (emu_validate(resp, "compute", labels ? "InstancesSetLabelsRequest" : "Tags", req->body) < 0) goto out;
    json_t *holder = labels ? doc : json_object_get(doc, "tags");
    const char *fpkey = labels ? "labelFingerprint" : "fingerprint";
    const char *fp = json_string_value(json_object_get(req->body, fpkey));
    const char *cur = json_string_value(json_object_get(holder, fpkey));
    if (cur && (!fp || !emu_ce_fp_equal(fp, cur))) {
        emu_error(resp, 412, "FAILED_PRECONDITION", "conditionNotMet",
                  "Supplied fingerprint does not match current %s fingerprint.", labels ? "labels" : "tags");
        goto out;
    }
    char *nfp = emu_ce_fingerprint();
    if (labels) {
        json_t *l = json_object_get(req->body, "labels");
        json_object_set_new(doc, "labels", l ? json_deep_copy(l) : json_object());
        json_object_set_new(doc, "labelFingerprint", json_string(nfp));
    } else {
        json_t *tags = json_pack("{s:s}", "fingerprint", nfp);
        json_t *items = json_object_get(req->body, "items");
        if (items) json_object_set_new(tags, "items", json_deep_copy(items));
        json_object_set_new(doc, "tags", tags);
    }
    free(nfp);
    emu_put(emu, key, json_incref(doc));
    resp->body = emu_ce_op_start(emu, SC_ZONE, &t, labels ? "setLabels" : "setTags",
                                 labels ? "compute.instances.setLabels" : "compute.instances.setTags",
                                 json_string_value(json_object_get(doc, "selfLink")),
                                 json_string_value(json_object_get(doc, "id")), NULL);
out:
    free(key);
}

void emu_ce_inst_set_labels(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    inst_set_part(emu, req, resp, 1);
}

void emu_ce_inst_set_tags(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    inst_set_part(emu, req, resp, 0);
}
