/* k8s_schema.c: objects checked against their schema as a real apiserver
 * decodes and validates them (see emu_k8s.h).
 *
 * Built-in kinds use the upstream OpenAPI models embedded by
 * scripts/gen-k8s-schema.mjs (k8s_schema_data.c): a value of the wrong type
 * is a decoding error (400), a missing required field 422 Required value.
 * Custom resources use their CRD's structural schema (openAPIV3Schema):
 * types, enums and required fields are 422 errors in the real wording.
 * Unknown fields are dropped (pruned), or refused under
 * fieldValidation=Strict; x-kubernetes-preserve-unknown-fields keeps them.
 * status is not checked (it is written by the controllers). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "emulator/emu_k8s.h"

extern const char emu_k8s_schema_json[];

static json_t *schema_root;
static pthread_once_t schema_once = PTHREAD_ONCE_INIT;

static void schema_load(void) {
    schema_root = json_loads(emu_k8s_schema_json, 0, NULL);
}

typedef struct {
    emu_resp_t *resp;
    const emu_ktype_t *kt;
    const char *name, *ns;
    int strict, apply, done;
} check_t;

static const char *json_kind(const json_t *v) {
    if (json_is_string(v)) return "string";
    if (json_is_integer(v) || json_is_real(v)) return "number";
    if (json_is_boolean(v)) return "bool";
    if (json_is_array(v)) return "array";
    if (json_is_object(v)) return "object";
    return "null";
}

/* A decoding error: the object cannot be read as its kind. */
static void decode_err(check_t *c, const char *path, const char *want, const json_t *v, const char *model) {
    if (c->done) return;
    c->done = 1;
    if (c->apply) {
        char *gv = emu_k8s_api_version(c->kt);
        emu_k8s_status(c->resp, 400, "BadRequest", c->kt, c->name,
                       "failed to create typed patch object (%s%s%s; %s, Kind=%s): .%s: expected %s, got %s",
                       c->ns ? c->ns : "", c->ns ? "/" : "", c->name, gv, c->kt->kind, path, want,
                       json_kind(v));
        free(gv);
        return;
    }
    const char *dot = strrchr(path, '.');
    const char *struct_name = model && model[0] == 'V' ? model + 2 : model ? model : c->kt->kind;
    emu_k8s_status(
        c->resp, 400, "BadRequest", c->kt, c->name,
        "%s in version \"%s\" cannot be handled as a %s: json: cannot unmarshal %s into Go struct field "
        "%s.%s of type %s",
        c->kt->kind, c->kt->version, c->kt->kind, json_kind(v), struct_name, path,
        !strcmp(want, "numeric (int or float)") ? "int32" : want);
    (void)dot;
}

static void unknown_err(check_t *c, const char *path) {
    if (c->done) return;
    c->done = 1;
    if (c->apply) {
        char *gv = emu_k8s_api_version(c->kt);
        emu_k8s_status(
            c->resp, 400, "BadRequest", c->kt, c->name,
            "failed to create typed patch object (%s%s%s; %s, Kind=%s): .%s: field not declared in schema",
            c->ns ? c->ns : "", c->ns ? "/" : "", c->name, gv, c->kt->kind, path);
        free(gv);
        return;
    }
    emu_k8s_status(
        c->resp, 400, "BadRequest", c->kt, c->name,
        "%s in version \"%s\" cannot be handled as a %s: strict decoding error: unknown field \"%s\"",
        c->kt->kind, c->kt->version, c->kt->kind, path);
}

static char *join(const char *path, const char *k) {
    return *path ? xasprintf("%s.%s", path, k) : xstrdup(k);
}

static void check_model(check_t *c, json_t *v, const char *model, const char *path);

/* v against a type code ("s", "i", "[V1Container", ...). */
static void check_code(check_t *c, json_t *v, const char *t, const char *path) {
    if (c->done || json_is_null(v)) return;
    if (!strcmp(t, "x")) return;
    if (!strcmp(t, "s")) {
        if (!json_is_string(v)) decode_err(c, path, "string", v, NULL);
    } else if (!strcmp(t, "i") || !strcmp(t, "n")) {
        if (!json_is_number(v)) decode_err(c, path, "numeric (int or float)", v, NULL);
    } else if (!strcmp(t, "b")) {
        if (!json_is_boolean(v)) decode_err(c, path, "bool", v, NULL);
    } else if (!strcmp(t, "q") || !strcmp(t, "is")) {
        if (!json_is_string(v) && !json_is_number(v)) decode_err(c, path, "string or number", v, NULL);
    } else if (t[0] == '[') {
        if (!json_is_array(v)) return decode_err(c, path, "list", v, NULL);
        json_t *e;
        size_t i;
        json_array_foreach(v, i, e) {
            char *p = xasprintf("%s[%zu]", path, i);
            check_code(c, e, t + 1, p);
            free(p);
        }
    } else if (t[0] == '{') {
        if (!json_is_object(v)) return decode_err(c, path, "map", v, NULL);
        const char *k;
        json_t *e;
        json_object_foreach(v, k, e) {
            char *p = join(path, k);
            check_code(c, e, t + 1, p);
            free(p);
        }
    } else {
        check_model(c, v, t, path);
    }
}

static void check_model(check_t *c, json_t *v, const char *model, const char *path) {
    json_t *m = json_object_get(json_object_get(schema_root, "models"), model);
    if (!m || c->done) return;
    if (!json_is_object(v)) return decode_err(c, path, "map", v, model);
    json_t *fields = json_object_get(m, "f");
    const char *k;
    json_t *e;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, e) {
        if (c->done) return;
        if (!*path && (!strcmp(k, "status") || !strcmp(k, "apiVersion") || !strcmp(k, "kind"))) continue;
        if (!strncmp(k, "plinth:", 7)) continue;
        const char *t = json_string_value(json_object_get(fields, k));
        char *p = join(path, k);
        if (!t) {
            if (c->strict)
                unknown_err(c, p);
            else
                json_object_del(v, k); /* dropped, as decoding drops it */
        } else {
            check_code(c, e, t, p);
        }
        free(p);
    }
    json_t *r;
    size_t i;
    json_array_foreach(json_object_get(m, "r"), i, r) {
        if (c->done || json_object_get(v, json_string_value(r))) continue;
        if (!*path && !strcmp(json_string_value(r), "metadata")) continue;
        char *p = join(path, json_string_value(r));
        c->done = 1;
        emu_k8s_invalid(c->resp, c->kt, c->name, p, "FieldValueRequired", "Required value");
        free(p);
    }
}

/* ---- custom resources --------------------------------------------------------- */

static const char *crd_type_name(const json_t *v) {
    if (json_is_string(v)) return "string";
    if (json_is_integer(v)) return "integer";
    if (json_is_real(v)) return "number";
    if (json_is_boolean(v)) return "boolean";
    if (json_is_array(v)) return "array";
    if (json_is_object(v)) return "object";
    return "null";
}

static int type_ok(const char *want, const json_t *v) {
    if (!strcmp(want, "object")) return json_is_object(v);
    if (!strcmp(want, "array")) return json_is_array(v);
    if (!strcmp(want, "string")) return json_is_string(v);
    if (!strcmp(want, "integer")) return json_is_integer(v);
    if (!strcmp(want, "number")) return json_is_number(v);
    if (!strcmp(want, "boolean")) return json_is_boolean(v);
    return 1;
}

static void crd_check(check_t *c, json_t *v, const json_t *s, const char *path) {
    if (c->done || !json_is_object(s) || json_is_null(v)) return;
    const char *type = json_string_value(json_object_get(s, "type"));
    if (json_is_true(json_object_get(s, "x-kubernetes-int-or-string"))) {
        if (!json_is_integer(v) && !json_is_string(v))
            type = "integer";
        else
            type = NULL;
    }
    if (type && !type_ok(type, v)) {
        c->done = 1;
        char *val = json_is_string(v) ? xstrdup("\"string\"") : xasprintf("\"%s\"", crd_type_name(v));
        emu_k8s_invalid(c->resp, c->kt, c->name, path, "FieldValueTypeInvalid",
                        "Invalid value: %s: %s in body must be of type %s: %s", val, path, type, val);
        free(val);
        return;
    }
    json_t *en = json_object_get(s, "enum");
    if (json_array_size(en)) {
        int found = 0;
        json_t *e;
        size_t i;
        json_array_foreach(en, i, e) found |= json_equal(e, v);
        if (!found) {
            c->done = 1;
            char *sv = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
            emu_k8s_invalid(c->resp, c->kt, c->name, path, "FieldValueNotSupported", "Unsupported value: %s",
                            sv);
            free(sv);
            return;
        }
    }
    if (json_is_array(v)) {
        json_t *e;
        size_t i;
        json_array_foreach(v, i, e) {
            char *p = xasprintf("%s[%zu]", path, i);
            crd_check(c, e, json_object_get(s, "items"), p);
            free(p);
        }
        return;
    }
    if (!json_is_object(v)) return;
    json_t *props = json_object_get(s, "properties"), *addl = json_object_get(s, "additionalProperties");
    int keep = json_is_true(json_object_get(s, "x-kubernetes-preserve-unknown-fields")) ||
               json_is_true(addl) || (!props && !json_is_object(addl) && !type);
    const char *k;
    json_t *e;
    void *tmp;
    json_object_foreach_safe(v, tmp, k, e) {
        if (c->done) return;
        if (!*path && (!strcmp(k, "apiVersion") || !strcmp(k, "kind") || !strcmp(k, "metadata") ||
                       !strcmp(k, "status")))
            continue;
        char *p = join(path, k);
        json_t *ps = json_object_get(props, k);
        if (ps)
            crd_check(c, e, ps, p);
        else if (json_is_object(addl))
            crd_check(c, e, addl, p);
        else if (!keep && c->strict)
            unknown_err(c, p);
        else if (!keep)
            json_object_del(v, k); /* pruned */
        free(p);
    }
    json_t *r;
    size_t i;
    json_array_foreach(json_object_get(s, "required"), i, r) {
        if (c->done || json_object_get(v, json_string_value(r))) continue;
        char *p = join(path, json_string_value(r));
        c->done = 1;
        emu_k8s_invalid(c->resp, c->kt, c->name, p, "FieldValueRequired", "Required value");
        free(p);
    }
}

/* The openAPIV3Schema of the CRD serving kt (BORROWED), or NULL. */
static json_t *crd_schema(emu_t *emu, const char *cid, const emu_ktype_t *kt) {
    char *key = xasprintf("k8s/%s/apiextensions.k8s.io/customresourcedefinitions/_/%s.%s", cid, kt->resource,
                          kt->group);
    json_t *crd = emu_get(emu, key), *v;
    free(key);
    size_t i;
    json_array_foreach(jpath_get(crd, "spec.versions"), i, v) {
        if (!strcmp(json_string_value(json_object_get(v, "name")) ?: "", kt->version))
            return jpath_get(v, "schema.openAPIV3Schema");
    }
    return NULL;
}

int emu_k8s_schema_check(emu_t *emu, const char *cid, emu_resp_t *resp, const emu_ktype_t *kt, json_t *obj,
                         const char *validation, int apply) {
    pthread_once(&schema_once, schema_load);
    check_t c = {resp,
                 kt,
                 emu_k8s_sget(obj, "metadata.name") ?: "",
                 emu_k8s_sget(obj, "metadata.namespace"),
                 validation && !strcmp(validation, "Strict"),
                 apply,
                 0};
    char *gvk = *kt->group ? xasprintf("%s/%s/%s", kt->group, kt->version, kt->kind)
                           : xasprintf("%s/%s", kt->version, kt->kind);
    const char *model = json_string_value(json_object_get(json_object_get(schema_root, "kinds"), gvk));
    free(gvk);
    if (model) {
        check_model(&c, obj, model, "");
    } else {
        json_t *s = crd_schema(emu, cid, kt);
        if (s) crd_check(&c, obj, s, "");
    }
    return c.done ? -1 : 0;
}
