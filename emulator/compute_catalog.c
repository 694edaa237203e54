/* compute_catalog.c: the compute API's read-only catalogue, served from
 * catalog.c as Compute Engine serves it (regions with their zones, zones,
 * machine types), and the operation lists gcloud reads (compute operations
 * list uses the aggregated one, with its "global" scope). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/catalog.h"
#include "emulator/emu_compute.h"

static json_t *region_doc(const char *project, const emu_region_t *r, int idx) {
    json_t *zones = json_array();
    for (const char *z = r->zones; *z; z++) {
        char *u = xasprintf(SELF_BASE "projects/%s/zones/%s-%c", project, r->name, *z);
        json_array_append_new(zones, json_string(u));
        free(u);
    }
    char *self = xasprintf(SELF_BASE "projects/%s/regions/%s", project, r->name), id[24];
    snprintf(id, sizeof id, "%d", 1000 + idx);
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:s,s:s}", "kind", "compute#region", "id", id, "name",
                          r->name, "description", r->name, "status", "UP", "zones", zones, "selfLink", self,
                          "creationTimestamp", "1969-12-31T16:00:00.000-08:00");
    free(self);
    return d;
}

static json_t *zone_doc(const char *project, const emu_region_t *r, char z, int idx) {
    char name[64], id[24];
    snprintf(name, sizeof name, "%s-%c", r->name, z);
    snprintf(id, sizeof id, "%d", 2000 + idx);
    char *self = xasprintf(SELF_BASE "projects/%s/zones/%s", project, name);
    char *reg = xasprintf(SELF_BASE "projects/%s/regions/%s", project, r->name);
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kind", "compute#zone", "id", id, "name", name,
                          "description", name, "status", "UP", "region", reg, "selfLink", self,
                          "creationTimestamp", "1969-12-31T16:00:00.000-08:00");
    free(self);
    free(reg);
    return d;
}

static void list_body(const emu_req_t *req, emu_resp_t *resp, const char *kind, const char *coll,
                      json_t *items) {
    char *self = xasprintf(SELF_BASE "projects/%s/%s", req->params[0], coll);
    resp->body = json_pack("{s:s,s:s,s:s}", "kind", kind, "id", self, "selfLink", self);
    emu_page_into(req, resp->body, "items", items, "maxResults", 500, false);
    free(self);
    json_decref(items);
}

void emu_ce_regions(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *items = json_array();
    for (int i = 0; emu_regions[i].name; i++)
        json_array_append_new(items, region_doc(req->params[0], &emu_regions[i], i));
    list_body(req, resp, "compute#regionList", "regions", items);
}

void emu_ce_region(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const emu_region_t *r = emu_region_find(req->params[1]);
    if (!r) {
        emu_not_found(resp, "The resource 'projects/%s/regions/%s' was not found", req->params[0],
                      req->params[1]);
        return;
    }
    resp->body = region_doc(req->params[0], r, (int)(r - emu_regions));
}

void emu_ce_zones(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    json_t *items = json_array();
    int n = 0;
    for (int i = 0; emu_regions[i].name; i++)
        for (const char *z = emu_regions[i].zones; *z; z++)
            json_array_append_new(items, zone_doc(req->params[0], &emu_regions[i], *z, n++));
    list_body(req, resp, "compute#zoneList", "zones", items);
}

void emu_ce_zone(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *z = req->params[1];
    if (!emu_zone_valid(z)) {
        emu_not_found(resp, "The resource 'projects/%s/zones/%s' was not found", req->params[0], z);
        return;
    }
    char *rn = xstrndup(z, strlen(z) - 2);
    const emu_region_t *r = emu_region_find(rn);
    free(rn);
    resp->body = zone_doc(req->params[0], r, z[strlen(z) - 1], 0);
}

static json_t *machine_doc(const char *project, const char *zone, const emu_machine_t *m, int idx) {
    char *self = xasprintf(SELF_BASE "projects/%s/zones/%s/machineTypes/%s", project, zone, m->name), id[24];
    snprintf(id, sizeof id, "%d", 3000 + idx);
    json_t *d =
        json_pack("{s:s,s:s,s:s,s:s,s:i,s:i,s:s,s:s,s:b}", "kind", "compute#machineType", "id", id, "name",
                  m->name, "description", m->name, "guestCpus", m->vcpus, "memoryMb", m->memory_mb, "zone",
                  zone, "selfLink", self, "isSharedCpu", !strncmp(m->name, "e2-micro", 8));
    if (m->gpu)
        json_object_set_new(
            d, "accelerators",
            json_pack("[{s:s,s:i}]", "guestAcceleratorType", m->gpu, "guestAcceleratorCount", m->gpus));
    free(self);
    return d;
}

void emu_ce_machine_types(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (!emu_zone_valid(req->params[1])) {
        emu_not_found(resp, "The resource 'projects/%s/zones/%s' was not found", req->params[0],
                      req->params[1]);
        return;
    }
    json_t *items = json_array();
    for (int i = 0; emu_machines[i].name; i++)
        json_array_append_new(items, machine_doc(req->params[0], req->params[1], &emu_machines[i], i));
    char *coll = xasprintf("zones/%s/machineTypes", req->params[1]);
    list_body(req, resp, "compute#machineTypeList", coll, items);
    free(coll);
}

void emu_ce_machine_type(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const emu_machine_t *m = emu_machine_find(req->params[2]);
    if (!m || !emu_zone_valid(req->params[1])) {
        emu_not_found(resp, "The resource 'projects/%s/zones/%s/machineTypes/%s' was not found",
                      req->params[0], req->params[1], req->params[2]);
        return;
    }
    resp->body = machine_doc(req->params[0], req->params[1], m, (int)(m - emu_machines));
}

/* Operations below prefix ("compute/projects/p/global/operations/"), rendered. */
static json_t *ops_below(emu_t *emu, const char *prefix) {
    json_t *docs = emu_children(emu, prefix, true), *out = json_array(), *d;
    size_t i;
    json_array_foreach(docs, i, d) json_array_append_new(out, emu_render(d));
    json_decref(docs);
    return out;
}

static void ops_scoped(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const char *scope) {
    char *coll = scope ? xasprintf("%s/%s/operations", scope, req->params[1]) : xstrdup("global/operations");
    char *prefix = xasprintf("compute/projects/%s/%s/", req->params[0], coll);
    list_body(req, resp, "compute#operationList", coll, ops_below(emu, prefix));
    free(prefix);
    free(coll);
}

void emu_ce_ops_global(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    ops_scoped(emu, req, resp, NULL);
}
void emu_ce_ops_region(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    ops_scoped(emu, req, resp, "regions");
}
void emu_ce_ops_zone(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    ops_scoped(emu, req, resp, "zones");
}

void emu_ce_ops_aggregated(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0];
    json_t *items = json_object();
    char *gp = xasprintf("compute/projects/%s/global/operations/", p);
    json_t *g = ops_below(emu, gp);
    json_object_set_new(items, "global",
                        json_array_size(g) ? json_pack("{s:o}", "operations", g)
                                           : (json_decref(g), json_pack("{s:{s:s}}", "warning", "code",
                                                                        "NO_RESULTS_ON_PAGE")));
    free(gp);
    static const char *const scopes[] = {"regions", "zones", NULL};
    for (const char *const *sc = scopes; *sc; sc++) {
        char *prefix = xasprintf("compute/projects/%s/%s/", p, *sc);
        json_t *keys = emu_keys(emu, prefix), *k;
        size_t i;
        json_array_foreach(keys, i, k) {
            const char *rest = json_string_value(k) + strlen(prefix);
            const char *o = strstr(rest, "/operations/");
            if (!o || strchr(o + 12, '/')) continue;
            char *scope = xasprintf("%s/%.*s", *sc, (int)(o - rest), rest);
            json_t *b = json_object_get(items, scope);
            if (!b) json_object_set_new(items, scope, b = json_pack("{s:[]}", "operations"));
            json_array_append_new(json_object_get(b, "operations"),
                                  emu_render(emu_get(emu, json_string_value(k))));
            free(scope);
        }
        json_decref(keys);
        free(prefix);
    }
    char *self = xasprintf(SELF_BASE "projects/%s/aggregated/operations", p);
    resp->body = json_pack("{s:s,s:s,s:o,s:s}", "kind", "compute#operationAggregatedList", "id", self,
                           "items", items, "selfLink", self);
    free(self);
}
