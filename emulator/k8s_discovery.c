/* k8s_discovery.c: the emulated apiserver's discovery documents (/api,
 * /apis, group and resource lists) and OpenAPI (see emu_k8s.h). */
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "emulator/emu_k8s.h"

static json_t *resource_list(const emu_ktypes_t *t, const char *group, const char *version) {
    json_t *res = json_array();
    for (size_t i = 0; i < t->n; i++) {
        const emu_ktype_t *k = &t->v[i];
        if (strcmp(k->group, group) || strcmp(k->version, version)) continue;
        json_t *r = json_pack("{s:s,s:s,s:b,s:s,s:[s,s,s,s,s,s,s,s]}", "name", k->resource, "singularName",
                              k->singular, "namespaced", k->namespaced, "kind", k->kind, "verbs", "create",
                              "delete", "deletecollection", "get", "list", "patch", "update", "watch");
        if (k->shortnames && *k->shortnames) {
            json_t *sn = json_array();
            char *s = xstrdup(k->shortnames), *save = NULL;
            for (char *x = strtok_r(s, ",", &save); x; x = strtok_r(NULL, ",", &save))
                json_array_append_new(sn, json_string(x));
            free(s);
            json_object_set_new(r, "shortNames", sn);
        }
        if (!strcmp(k->group, "apps") || (!*k->group && !strcmp(k->resource, "pods")))
            json_object_set_new(r, "categories", json_pack("[s]", "all"));
        json_array_append_new(res, r);
        /* status subresource */
        char *sub = xasprintf("%s/status", k->resource);
        json_array_append_new(res, json_pack("{s:s,s:s,s:b,s:s,s:[s,s,s]}", "name", sub, "singularName", "",
                                             "namespaced", k->namespaced, "kind", k->kind, "verbs", "get",
                                             "patch", "update"));
        free(sub);
    }
    char *gv = *group ? xasprintf("%s/%s", group, version) : xstrdup(version);
    json_t *out = json_pack("{s:s,s:s,s:s,s:o}", "kind", "APIResourceList", "apiVersion", "v1",
                            "groupVersion", gv, "resources", res);
    free(gv);
    return out;
}

static json_t *group_list(const emu_ktypes_t *t) {
    json_t *groups = json_array();
    json_t *seen = json_object();
    for (size_t i = 0; i < t->n; i++) {
        const emu_ktype_t *k = &t->v[i];
        if (!*k->group) continue;
        json_t *g = json_object_get(seen, k->group);
        char *gv = xasprintf("%s/%s", k->group, k->version);
        if (!g) {
            g = json_pack("{s:s,s:[],s:{s:s,s:s}}", "name", k->group, "versions", "preferredVersion",
                          "groupVersion", gv, "version", k->version);
            json_object_set(seen, k->group, g);
            json_array_append_new(groups, g);
        }
        json_t *vs = json_object_get(g, "versions"), *v;
        size_t j;
        int have = 0;
        json_array_foreach(vs, j, v) have |=
            !strcmp(json_string_value(json_object_get(v, "version")), k->version);
        if (!have)
            json_array_append_new(vs, json_pack("{s:s,s:s}", "groupVersion", gv, "version", k->version));
        free(gv);
    }
    json_decref(seen);
    return json_pack("{s:s,s:s,s:o}", "kind", "APIGroupList", "apiVersion", "v1", "groups", groups);
}

void emu_k8s_discovery(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const emu_kpath_t *kp,
                       const emu_ktypes_t *t) {
    (void)emu;
    (void)req;
    if (kp->discovery == 1) {
        resp->body = json_pack("{s:s,s:[s],s:[{s:s,s:s}]}", "kind", "APIVersions", "versions", "v1",
                               "serverAddressByClientCIDRs", "clientCIDR", "0.0.0.0/0", "serverAddress",
                               "127.0.0.1:443");
        return;
    }
    if (kp->discovery == 2) {
        resp->body = group_list(t);
        return;
    }
    if (kp->discovery == 3) {
        json_t *all = group_list(t), *g;
        size_t i;
        json_array_foreach(json_object_get(all, "groups"), i, g) {
            if (!strcmp(json_string_value(json_object_get(g, "name")), kp->group)) {
                resp->body = json_deep_copy(g);
                json_object_set_new(resp->body, "kind", json_string("APIGroup"));
                json_object_set_new(resp->body, "apiVersion", json_string("v1"));
            }
        }
        json_decref(all);
        if (!resp->body)
            emu_k8s_status(resp, 404, "NotFound", NULL, NULL,
                           "the server could not find the requested resource");
        return;
    }
    int any = 0;
    for (size_t i = 0; i < t->n; i++)
        any |= !strcmp(t->v[i].group, kp->group) && !strcmp(t->v[i].version, kp->version);
    if (!any) {
        emu_k8s_status(resp, 404, "NotFound", NULL, NULL, "the server could not find the requested resource");
        return;
    }
    resp->body = resource_list(t, kp->group, kp->version);
}

void emu_k8s_openapi(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *cid = req->params[0], *rest = req->params[1];
    snprintf(resp->content_type, sizeof resp->content_type, "application/json");
    if (!emu_k8s_cluster(emu, cid) || strncmp(rest, "v3", 2) != 0) {
        emu_k8s_status(resp, 404, "NotFound", NULL, NULL, "the server could not find the requested resource");
        return;
    }
    emu_ktypes_t t;
    emu_k8s_types_load(emu, cid, &t);
    const char *gvpath = rest[2] == '/' ? rest + 3 : "";
    json_t *paths = json_object();
    for (size_t i = 0; i < t.n; i++) {
        const emu_ktype_t *k = &t.v[i];
        char *gvp =
            *k->group ? xasprintf("apis/%s/%s", k->group, k->version) : xasprintf("api/%s", k->version);
        if (!*gvpath) {
            char *url = xasprintf("/k8s/%s/openapi/v3/%s?hash=0", cid, gvp);
            json_object_set_new(paths, gvp, json_pack("{s:s}", "serverRelativeURL", url));
            free(url);
        } else if (!strcmp(gvp, gvpath)) {
            char *path = xasprintf("/%s/%s%s/{name}", gvp, k->namespaced ? "namespaces/{namespace}/" : "",
                                   k->resource);
            json_t *op =
                json_pack("{s:{s:s,s:s,s:s},s:[{s:s,s:s,s:{s:s}}],s:{}}", "x-kubernetes-group-version-kind",
                          "group", k->group, "version", k->version, "kind", k->kind, "parameters", "name",
                          "fieldValidation", "in", "query", "schema", "type", "string", "responses");
            json_object_set_new(paths, path, json_pack("{s:o,s:o}", "patch", op, "put", json_deep_copy(op)));
            free(path);
        }
        free(gvp);
    }
    emu_k8s_types_free(&t);
    if (!*gvpath)
        resp->body = json_pack("{s:o}", "paths", paths);
    else
        resp->body = json_pack("{s:s,s:{s:s,s:s},s:o,s:{s:{}}}", "openapi", "3.0.0", "info", "title",
                               "Kubernetes", "version", "v1.31.1", "paths", paths, "components", "schemas");
}
