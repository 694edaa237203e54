/* rtype.c: the registry of providers compiled into plinth and lookups of
 * resource types by name.  The registry is one explicit table, as Lua's
 * linit.c lists its libraries: a provider missing from the build fails at
 * link time, and the table is constant, so any thread may read it. */
#include "core/rtype.h"

#include <string.h>

#include "core/jpath.h"

/* Defined by providers/<name>/; declared here rather than by including the
 * providers' headers, so that core depends on rtype.h alone. */
extern const provider_def_t gcp_provider, k8s_provider, ssh_provider;

static const provider_def_t *const providers[] = {&gcp_provider, &k8s_provider, &ssh_provider, NULL};

const provider_def_t *const *rtype_providers(void) {
    return providers;
}

const rtype_t *rtype_find(const char *name) {
    for (const provider_def_t *const *p = rtype_providers(); *p; p++)
        for (const rtype_t *const *t = (*p)->types; t && *t; t++)
            if (strcmp((*t)->name, name) == 0) return *t;
    return NULL;
}

const provider_def_t *rtype_provider_of(const char *type_name) {
    const char *dot = strchr(type_name, '.');
    size_t n = dot ? (size_t)(dot - type_name) : strlen(type_name);
    for (const provider_def_t *const *p = rtype_providers(); *p; p++)
        if (strlen((*p)->name) == n && strncmp((*p)->name, type_name, n) == 0) return *p;
    return NULL;
}

const provider_def_t *rtype_backend(const char *type) {
    for (const provider_def_t *const *p = rtype_providers(); *p; p++)
        if ((*p)->backend && strcmp((*p)->backend, type) == 0) return *p;
    return NULL;
}

const char *rtype_closest(const char *name) {
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (const provider_def_t *const *p = rtype_providers(); *p; p++)
        for (const rtype_t *const *t = (*p)->types; t && *t; t++) {
            size_t d = util_edit_distance(name, (*t)->name);
            if (d < best_d) best_d = d, best = (*t)->name;
        }
    /* Suggest only when the typo is small relative to the name. */
    return best && best_d <= strlen(name) / 3 + 1 ? best : NULL;
}

int rtype_path_in(const char *const *patterns, const char *path) {
    for (const char *const *p = patterns; p && *p; p++)
        if (jpath_match(path, *p)) return 1;
    return 0;
}

int rtype_sensitive(const rtype_t *t, const json_t *body, const char *path) {
    if (!t) return 0;
    if (rtype_path_in(t->sensitive, path)) return 1;
    return t->sensitive_for && body && rtype_path_in(t->sensitive_for(body), path);
}
