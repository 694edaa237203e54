/* spec.c: loading a platform spec: spec_load sets up the sandbox
 * (spec_sandbox.c), runs the --var-file files and the spec, then adds
 * the providers' implicit dependencies (rtype.h: link), resolves
 * depends_on naming whole modules and checks that every --var was used.
 * Unknown resource types and depends_on naming undeclared resources are
 * left to validate_spec (core/validate.c), which the engine runs right
 * after loading, so that they are reported together with schema errors.
 * Deferred values live in spec_lua.c, conversions in spec_conv.c. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/spec_int.h"
#include "core/rtype.h"
#include "core/validate.h"

#define MEM_LIMIT ((size_t)512 << 20)
#define HOOK_EVERY 1000000   /* instructions between count hooks */
#define HOOK_LIMIT 1000UL    /* => about 1e9 instructions */
#define TIME_LIMIT_MS 60000L /* the whole load, C loops included (spec_pattern.c) */

spec_ld_t *spec_ld_of(lua_State *L) {
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

static void check_depends(spec_ld_t *ld) {
    spec_t *s = ld->s;
    for (size_t i = 0; i < s->nres; i++) {
        spec_res_t *r = &s->res[i];
        strlist_t out = {0};
        for (size_t j = 0; j < r->depends_on.n; j++) {
            const char *d = r->depends_on.v[j];
            if (spec_find(s, d)) {
                if (!strlist_has(&out, d)) strlist_add(&out, d);
                continue;
            }
            if (strlist_has(&ld->modules, d)) { /* a whole module: all its resources */
                size_t n = strlen(d);
                for (size_t k = 0; k < s->nres; k++)
                    if (strncmp(s->res[k].addr, d, n) == 0 && s->res[k].addr[n] == '.' &&
                        !strlist_has(&out, s->res[k].addr))
                        strlist_add(&out, s->res[k].addr);
                continue;
            }
            if (!strlist_has(&out, d)) strlist_add(&out, d); /* validate_spec reports it */
        }
        strlist_free(&r->depends_on);
        r->depends_on = out;
    }
    const strlist_t *cv = ld->opts ? &ld->opts->vars : NULL;
    for (size_t i = 0; cv && i < cv->n; i++) {
        const char *eq = strchr(cv->v[i], '=');
        if (!eq) {
            diag_add(ld->diags, "--var", "\"%s\" is not of the form name=value", cv->v[i]);
            continue;
        }
        char *name = xstrndup(cv->v[i], (size_t)(eq - cv->v[i]));
        if (!strlist_has(&ld->cli_used, name))
            diag_add(ld->diags, "--var", "the spec declares no variable \"%s\"", name);
        free(name);
    }
}

static void exe_moddir(strlist_t *dirs) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = '\0';
    char *d = spec_dir_of(exe);
    strlist_add_own(dirs, xasprintf("%s/../share/plinth/modules", d));
    strlist_add_own(dirs, xasprintf("%s/../modules", d)); /* bin/plinth in a source tree */
    free(d);
}

static void add_link(void *ud, size_t i, const char *addr) {
    spec_res_t *r = &((spec_t *)ud)->res[i];
    if (strcmp(r->addr, addr) != 0 && !strlist_has(&r->depends_on, addr)) strlist_add(&r->depends_on, addr);
}

/* Implicit dependencies the providers know of (rtype.h: link). */
static void link_providers(spec_t *s) {
    for (const provider_def_t *const *p = rtype_providers(); *p; p++)
        if ((*p)->link) (*p)->link(s, add_link, s);
}

int spec_load(const char *path, const spec_opts_t *opts, spec_t **out, diag_t *diags) {
    *out = NULL;
    size_t n0 = diags->n;
    spec_t *s = xcalloc(1, sizeof *s);
    s->path = xstrdup(path);
    s->dir = spec_dir_of(path);
    s->backend_type = xstrdup("local");

    spec_ld_t *ld = xcalloc(1, sizeof *ld);
    ld->s = s;
    ld->diags = diags;
    ld->opts = opts;
    ld->mem_limit = opts && opts->mem_limit ? opts->mem_limit : MEM_LIMIT;
    ld->hook_limit = HOOK_LIMIT;
    ld->varfile = json_object();
    if (opts && opts->modules_dir) {
        strlist_add(&ld->moddirs, opts->modules_dir);
    } else {
        /* Beside the spec, then PLINTH_MODULES (colon-separated), then the
         * current directory's modules/, then those shipped with plinth. */
        strlist_add_own(&ld->moddirs,
                        strcmp(s->dir, ".") == 0 ? xstrdup("modules") : xasprintf("%s/modules", s->dir));
        const char *env = getenv("PLINTH_MODULES");
        for (const char *p = env; p && *p;) {
            const char *c = strchr(p, ':');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            if (len) strlist_add_own(&ld->moddirs, xstrndup(p, len));
            p = c ? c + 1 : p + len;
        }
        if (!strlist_has(&ld->moddirs, "modules")) strlist_add(&ld->moddirs, "modules");
        exe_moddir(&ld->moddirs);
    }

    spec_roots_init(ld);
    const char *tmo = getenv("PLINTH_SPEC_TIMEOUT_MS");
    ld->time_limit_ms = opts && opts->time_limit_ms > 0 ? opts->time_limit_ms
                        : tmo && atol(tmo) > 0          ? atol(tmo)
                                                        : TIME_LIMIT_MS;
    ld->deadline_ms = util_now_ms() + ld->time_limit_ms;

    int ran = 0; /* the spec ran to its end (only declaration errors, if any) */
    lua_State *L = lua_newstate(spec_alloc, ld);
    ld->L = L;
    if (!L) {
        diag_add(diags, path, "cannot create a Lua state");
    } else {
        lua_sethook(L, spec_hook, LUA_MASKCOUNT, HOOK_EVERY);
        lua_pushcfunction(L, spec_setup);
        int rc = lua_pcall(L, 0, 0, 0);
        if (rc != LUA_OK) {
            spec_add_lua_error(ld, rc, path);
        } else {
            spec_var_files(ld);
            int ok = spec_protected_run(ld, path) == 0;
            if (ok) lua_pop(L, 1);
            if (ok) link_providers(s);
            if (ok) check_depends(ld);
            ran = ok;
        }
        lua_close(L);
    }
    for (size_t i = 0; i < ld->nmarkers; i++)
        json_decref(ld->markers[i]);
    free(ld->markers);
    json_decref(ld->varfile);
    strlist_free(&ld->moddirs);
    strlist_free(&ld->modules);
    strlist_free(&ld->cli_used);
    strlist_free(&ld->roots);
    free(ld->varlocs);
    free(ld);

    if (diags->n > n0) {
        /* Every error of the load at once: a duplicate address or a module
         * input typo does not hide the body errors of the rest. */
        if (ran) validate_spec(s, diags);
        spec_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void spec_free(spec_t *s) {
    if (!s) return;
    for (size_t i = 0; i < s->nres; i++) {
        spec_res_t *r = &s->res[i];
        free(r->addr);
        free(r->type);
        free(r->name);
        free(r->module);
        json_decref(r->body);
        strlist_free(&r->depends_on);
        strlist_free(&r->ignore_changes);
        strlist_free(&r->rtb_addr);
        strlist_free(&r->rtb_path);
    }
    free(s->res);
    for (size_t i = 0; i < s->noutputs; i++) {
        free(s->outputs[i].name);
        json_decref(s->outputs[i].value);
    }
    free(s->outputs);
    for (size_t i = 0; i < s->nvars; i++) {
        free(s->vars[i].name);
        json_decref(s->vars[i].value);
    }
    free(s->vars);
    for (size_t i = 0; i < s->nproviders; i++) {
        free(s->providers[i].name);
        json_decref(s->providers[i].config);
    }
    free(s->providers);
    free(s->backend_type);
    json_decref(s->backend);
    free(s->path);
    free(s->dir);
    free(s);
}

spec_res_t *spec_find(const spec_t *s, const char *addr) {
    for (size_t i = 0; s && i < s->nres; i++)
        if (strcmp(s->res[i].addr, addr) == 0) return &s->res[i];
    return NULL;
}

const spec_provider_t *spec_provider(const spec_t *s, const char *name) {
    for (size_t i = 0; s && i < s->nproviders; i++)
        if (strcmp(s->providers[i].name, name) == 0) return &s->providers[i];
    return NULL;
}
