/* k8s_admit.c: the emulated apiserver's validation of an object about to be
 * stored (see emu_k8s.h), with the messages a real apiserver gives:
 * DNS-1123 names, workload selectors that must match their template's
 * labels, containers that need a name and an image, the 262,144-byte
 * annotation limit, ConfigMap/Secret data at most 1 MiB, objects at most
 * 1.5 MiB, and the OpenAPI schema of built-in kinds and CRDs
 * (k8s_schema.c). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "emulator/emu_k8s.h"

#define MAX_ANNOTATIONS 262144
#define MAX_DATA 1048576
#define MAX_OBJECT (3 * 512 * 1024)

/* "Deployment.apps \"web\" is invalid: <field>: <what>" as a 422 Invalid
 * Status with one cause. */
void emu_k8s_invalid(emu_resp_t *resp, const emu_ktype_t *kt, const char *name, const char *field,
                     const char *cause_reason, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sbuf_t what = {0};
    sbuf_vaddf(&what, fmt, ap);
    va_end(ap);
    char *gk = *kt->group ? xasprintf("%s.%s", kt->kind, kt->group) : xstrdup(kt->kind);
    char *detail = *field ? xasprintf("%s: %s", field, what.s ? what.s : "") : xstrdup(what.s ? what.s : "");
    emu_k8s_status(resp, 422, "Invalid", kt, name, "%s \"%s\" is invalid: %s", gk, name ? name : "", detail);
    json_t *details = json_object_get(resp->body, "details");
    json_object_set_new(details, "kind", json_string(kt->kind));
    json_object_set_new(
        details, "causes",
        json_pack("[{s:s,s:s,s:s}]", "reason", cause_reason, "message", detail, "field", field));
    free(detail);
    free(gk);
    sbuf_free(&what);
}

static int dns_label(const char *s, size_t max) {
    size_t n = strlen(s);
    if (!n || n > max || !isalnum((unsigned char)s[0]) || !isalnum((unsigned char)s[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-')) return 0;
    return 1;
}

static int dns_subdomain(const char *s) {
    if (strlen(s) > 253) return 0;
    char *copy = xstrdup(s), *save = NULL;
    int ok = *s && s[strlen(s) - 1] != '.' && *s != '.';
    for (char *p = strtok_r(copy, ".", &save); p && ok; p = strtok_r(NULL, ".", &save))
        ok = dns_label(p, 63);
    free(copy);
    return ok;
}

/* Kinds whose names are DNS-1123 labels (the rest are subdomains, except
 * RBAC kinds, whose names are path segments). */
static int name_check(emu_resp_t *resp, const emu_ktype_t *kt, const char *name) {
    int label = !*kt->group && (!strcmp(kt->resource, "namespaces") || !strcmp(kt->resource, "services"));
    if (!strcmp(kt->group, "rbac.authorization.k8s.io")) {
        if (*name && !strchr(name, '/') && !strchr(name, '%') && strcmp(name, ".") && strcmp(name, ".."))
            return 0;
    } else if (label ? dns_label(name, 63) : dns_subdomain(name)) {
        return 0;
    }
    if (label)
        emu_k8s_invalid(
            resp, kt, name, "metadata.name", "FieldValueInvalid",
            "Invalid value: \"%s\": a lowercase RFC 1123 label must consist of lower case alphanumeric "
            "characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  "
            "or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
            name);
    else
        emu_k8s_invalid(
            resp, kt, name, "metadata.name", "FieldValueInvalid",
            "Invalid value: \"%s\": a lowercase RFC 1123 subdomain must consist of lower case "
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            name);
    return -1;
}

static size_t map_bytes(const json_t *m) {
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)m, k, v) n += strlen(k) + (json_is_string(v) ? json_string_length(v) : 0);
    return n;
}

static int limits_check(emu_resp_t *resp, const emu_ktype_t *kt, const char *name, const json_t *obj) {
    if (map_bytes(jpath_get(obj, "metadata.annotations")) > MAX_ANNOTATIONS) {
        emu_k8s_invalid(resp, kt, name, "metadata.annotations", "FieldValueTooLong",
                        "Too long: must have at most %d bytes", MAX_ANNOTATIONS);
        return -1;
    }
    if (!*kt->group && (!strcmp(kt->resource, "configmaps") || !strcmp(kt->resource, "secrets"))) {
        size_t n = map_bytes(json_object_get(obj, "data")) + map_bytes(json_object_get(obj, "binaryData"));
        if (n > MAX_DATA) {
            emu_k8s_invalid(resp, kt, name, "[]", "FieldValueTooLong", "Too long: must have at most %d bytes",
                            MAX_DATA);
            return -1;
        }
    }
    char *s = json_dumps(obj, JSON_COMPACT);
    size_t len = s ? strlen(s) : 0;
    free(s);
    if (len > MAX_OBJECT) {
        emu_k8s_status(resp, 413, "RequestEntityTooLarge", kt, name, "etcdserver: request is too large");
        return -1;
    }
    return 0;
}

/* The pod template of a workload kind (BORROWED) and its path, or NULL. */
static json_t *pod_template(const emu_ktype_t *kt, const json_t *obj, const char **path) {
    if (!strcmp(kt->group, "batch") && !strcmp(kt->resource, "cronjobs")) {
        *path = "spec.jobTemplate.spec.template";
        return jpath_get(obj, *path);
    }
    if (!strcmp(kt->group, "apps") || (!strcmp(kt->group, "batch") && !strcmp(kt->resource, "jobs"))) {
        *path = "spec.template";
        return jpath_get(obj, *path);
    }
    return NULL;
}

static int selector_matches(const json_t *sel, const json_t *labels) {
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(sel, "matchLabels"), k, v) {
        json_t *have = json_object_get(labels, k);
        if (!have || !json_equal(have, v)) return 0;
    }
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(sel, "matchExpressions"), i, e) {
        const char *key = json_string_value(json_object_get(e, "key")) ?: "";
        const char *op = json_string_value(json_object_get(e, "operator")) ?: "";
        json_t *have = json_object_get(labels, key), *val;
        size_t j;
        int in = 0;
        json_array_foreach(json_object_get(e, "values"), j, val) in |= have && json_equal(have, val);
        if ((!strcmp(op, "In") && !in) || (!strcmp(op, "NotIn") && in) || (!strcmp(op, "Exists") && !have) ||
            (!strcmp(op, "DoesNotExist") && have))
            return 0;
    }
    return 1;
}

static char *labels_go(const json_t *labels) {
    sbuf_t b = {0};
    sbuf_addf(&b, "map[string]string{");
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach((json_t *)labels, k, v) {
        sbuf_addf(&b, "%s\"%s\":\"%s\"", first ? "" : ", ", k, json_string_value(v) ?: "");
        first = 0;
    }
    sbuf_addf(&b, "}");
    return sbuf_steal(&b);
}

static int workload_check(emu_resp_t *resp, const emu_ktype_t *kt, const char *name, const json_t *obj) {
    const char *tpath = NULL;
    json_t *tmpl = pod_template(kt, obj, &tpath);
    const char *pspath = tmpl ? NULL : "spec";
    json_t *pspec = tmpl                                             ? json_object_get(tmpl, "spec")
                    : (!*kt->group && !strcmp(kt->resource, "pods")) ? json_object_get(obj, "spec")
                                                                     : NULL;
    if (!pspec) return 0;
    json_t *sel = jpath_get(obj, "spec.selector");
    int jobs = !strcmp(kt->group, "batch");
    if (tmpl && !jobs && json_is_object(sel)) {
        json_t *labels = jpath_get(tmpl, "metadata.labels");
        if (!selector_matches(sel, labels)) {
            char *field = xasprintf("%s.metadata.labels", tpath), *l = labels_go(labels);
            emu_k8s_invalid(resp, kt, name, field, "FieldValueInvalid",
                            "Invalid value: %s: `selector` does not match template `labels`", l);
            free(l);
            free(field);
            return -1;
        }
    }
    json_t *c;
    size_t i;
    if (!json_array_size(json_object_get(pspec, "containers"))) {
        char *field = xasprintf("%s%s.containers", tpath ? tpath : "", tpath ? ".spec" : pspath);
        emu_k8s_invalid(resp, kt, name, field, "FieldValueRequired", "Required value");
        free(field);
        return -1;
    }
    json_array_foreach(json_object_get(pspec, "containers"), i, c) {
        const char *img = json_string_value(json_object_get(c, "image"));
        if (!img || !*img) {
            char *field =
                xasprintf("%s%s.containers[%zu].image", tpath ? tpath : "", tpath ? ".spec" : pspath, i);
            emu_k8s_invalid(resp, kt, name, field, "FieldValueRequired", "Required value");
            free(field);
            return -1;
        }
    }
    return 0;
}

int emu_k8s_admit(emu_t *emu, const char *cid, emu_resp_t *resp, const emu_ktype_t *kt, json_t *obj,
                  const char *validation, int apply) {
    const char *name = emu_k8s_sget(obj, "metadata.name") ?: "";
    if (name_check(resp, kt, name) < 0 || limits_check(resp, kt, name, obj) < 0) return -1;
    if (emu_k8s_schema_check(emu, cid, resp, kt, obj, validation, apply) < 0) return -1;
    return workload_check(resp, kt, name, obj);
}
