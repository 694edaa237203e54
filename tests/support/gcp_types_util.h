/* gcp_types_util.h: small helpers shared by the GCP type tests
 * (test_gcp_types.c, test_gcp_types_emu.c): a call context, a type by name,
 * JSON from text.  Header-only: each test binary is one translation unit. */
#ifndef PLINTH_TEST_GCP_TYPES_UTIL_H
#define PLINTH_TEST_GCP_TYPES_UTIL_H

extern const provider_def_t gcp_provider;

static inline rctx_t mkctx(const rtype_t *t, void *prov, perr_t *e) {
    rctx_t c;
    memset(&c, 0, sizeof c);
    c.type = t;
    c.addr = t ? t->name : "test";
    c.prov = prov;
    c.err = e;
    return c;
}

static inline const rtype_t *find(const char *name) {
    for (const rtype_t *const *t = gcp_provider.types; *t; t++)
        if (strcmp((*t)->name, name) == 0) return *t;
    fail_msg("no type %s", name);
    return NULL;
}

static inline json_t *J(const char *text) {
    json_error_t je;
    json_t *v = json_loads(text, 0, &je);
    if (!v) fail_msg("bad JSON in test: %s: %s", text, je.text);
    return v;
}

/* Every leaf desired sets equals live's value at the same path (a
 * jpath_walk callback: 0 equal). */
static inline int leaf_eq(void *ud, const char *path, json_t *leaf) {
    json_t *l = jpath_get(ud, path);
    return l && json_equal(l, leaf) ? 0 : 1;
}

#endif
