/* gcp_tmpl.c: URL templates of the GCP types: filling "{project}/..." from
 * a body's variables, matching an ID against a template, the variables a
 * body stands for (fields, references, provider fallbacks) and
 * percent-encoding.  Pure functions but for the provider's defaults. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "providers/gcp/gcp_res.h"

char *gcp_tmpl_fill(const char *tmpl, const json_t *vars, perr_t *e) {
    sbuf_t b = {0};
    for (const char *p = tmpl; *p;) {
        if (*p != '{') {
            sbuf_addc(&b, *p++);
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) break;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
        const char *v = json_string_value(json_object_get(vars, name));
        if (!v || !*v) {
            perr_set(e, "", "missing or unresolved field '%s' (needed for %s)", name, tmpl);
            sbuf_free(&b);
            return NULL;
        }
        sbuf_add(&b, v);
        p = end + 1;
    }
    return sbuf_steal(&b);
}

json_t *gcp_tmpl_match(const char *tmpl, const char *s) {
    json_t *vars = json_object();
    const char *p = tmpl;
    while (*p) {
        if (*p != '{') {
            if (*s != *p) goto fail;
            p++, s++;
            continue;
        }
        const char *end = strchr(p, '}');
        if (!end) goto fail;
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(end - p - 1), p + 1);
        char stop = end[1] ? end[1] : '/';
        const char *q = s;
        while (*q && *q != stop && *q != '/')
            q++;
        if (q == s) goto fail;
        if (!end[1] && *q) goto fail; /* trailing text after the last variable */
        json_object_set_new(vars, name, json_stringn(s, (size_t)(q - s)));
        s = q;
        p = end + 1;
    }
    if (*s) goto fail;
    return vars;
fail:
    json_decref(vars);
    return NULL;
}

const char *gcp_last_segment(const char *s) {
    const char *slash = strrchr(s, '/');
    return slash ? slash + 1 : s;
}

const char *gcp_projects_tail(const char *s) {
    if (strncmp(s, "projects/", 9) == 0) return s;
    const char *p = strstr(s, "/projects/");
    return p ? p + 1 : NULL;
}

/* Takes "key/value" pairs out of a relative name (projects/p/locations/l/...). */
static void vars_from_relname(json_t *vars, const char *s) {
    static const struct {
        const char *seg, *var;
    } pairs[] = {
        {"projects", "project"}, {"locations", "location"}, {"regions", "region"}, {"zones", "zone"}};
    const char *t = gcp_projects_tail(s);
    if (!t) return;
    char *copy = xstrdup(t), *save = NULL;
    const char *prev = NULL;
    for (char *tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (prev)
            for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++)
                if (strcmp(prev, pairs[i].seg) == 0 && !json_object_get(vars, pairs[i].var))
                    json_object_set_new(vars, pairs[i].var, json_string(tok));
        prev = tok;
    }
    free(copy);
}

json_t *gcp_body_vars(rctx_t *c, const json_t *body) {
    gcp_prov_t *P = GCP_PROV(c);
    json_t *vars = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        const char *s = json_string_value(v);
        if (!s) continue;
        if (strstr(s, "://") || strncmp(s, "projects/", 9) == 0)
            json_object_set_new(vars, k, json_string(gcp_last_segment(s)));
        else
            json_object_set_new(vars, k, json_string(s));
    }
    /* Placement parsed from references (a node pool's cluster, a version's
     * secret), then the provider's configuration. */
    json_object_foreach((json_t *)body, k, v) {
        const char *s = json_string_value(v);
        if (s && strcmp(k, "network") != 0 && strcmp(k, "subnetwork") != 0) vars_from_relname(vars, s);
    }
    if (!json_object_get(vars, "project") && P->project)
        json_object_set_new(vars, "project", json_string(P->project));
    if (!json_object_get(vars, "region") && P->region)
        json_object_set_new(vars, "region", json_string(P->region));
    if (!json_object_get(vars, "location") && P->region)
        json_object_set_new(vars, "location", json_string(P->region));
    if (!json_object_get(vars, "zone") && P->zone) json_object_set_new(vars, "zone", json_string(P->zone));
    return vars;
}

char *gcp_urlenc(const char *s) {
    sbuf_t b = {0};
    sbuf_add(&b, "");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p))
            sbuf_addc(&b, (char)*p);
        else
            sbuf_addf(&b, "%%%02X", *p);
    }
    return sbuf_steal(&b);
}
