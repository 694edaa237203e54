/* gcp_hooks.c: what the gcp provider does for core before any request
 * (rtype.h hooks): validate checks a body against the generated API
 * schema, prepare turns the {} Lua gives for an empty list into [] where
 * the schema says the field is a list. */
#include <stdio.h>
#include <string.h>

#include "core/rtype.h"
#include "providers/gcp/gcp_hooks.h"
#include "providers/gcp/gcp_res.h"
#include "providers/gcp/schema.h"

void gcp_validate(const rtype_t *t, const json_t *body, const char *addr, const char *where, diag_t *d) {
    const gcp_type_t *T = t->data;
    if (T && T->validate) { /* a type whose schema depends on its body (gcp.api_resource) */
        T->validate(t, body, addr, where, d);
        return;
    }
    if (!t->api || !t->message || !schema_msg(t->api, t->message)) return;
    json_t *copy = json_deep_copy(body);
    for (const char *const *x = t->extra_fields; x && *x; x++)
        json_object_del(copy, *x);
    diag_t local = {0};
    schema_check(t->api, t->message, copy, 1, where, &local);
    for (size_t i = 0; i < local.n; i++)
        diag_add(d, local.items[i].where, "%s: %s", addr, local.items[i].msg);
    diag_free(&local);
    json_decref(copy);
}

void gcp_prepare(const rtype_t *t, json_t *body, const char *spec_dir) {
    (void)spec_dir;
    if (t->api && t->message) schema_fix_empty_lists(t->api, t->message, body);
}

/* An attribute is a field of the type's message (output-only ones
 * included: selfLink, endpoint) or one of its plinth-only fields. */
int gcp_attr_known(const rtype_t *t, const char *name, const char **closest) {
    *closest = NULL;
    const sch_msg_t *m = t->api && t->message ? schema_msg(t->api, t->message) : NULL;
    if (!m) return -1;
    /* "id": some types add the relative name as id after a read (kms) */
    if (schema_field(m, name) || strcmp(name, "id") == 0) return 1;
    for (const char *const *x = t->extra_fields; x && *x; x++)
        if (strcmp(*x, name) == 0) return 1;
    *closest = schema_closest(m, name);
    return 0;
}
