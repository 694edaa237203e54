/* spec.h: loading a platform spec (Lua 5.4) into plain data.
 *
 * spec_load runs platform.lua in a sandboxed Lua state and collects what it
 * declares: resources (address, type, body with deferred values, explicit
 * dependencies, lifecycle), outputs, variables, provider blocks and the
 * backend.  After spec_load returns, the Lua state is closed: the rest of
 * the engine never sees Lua, only spec_t.
 *
 * Lua surface (see README "Writing a spec"):
 *   provider "gcp" { project = "p", region = "europe-west1" }
 *   backend "gcs" { bucket = "b", prefix = "x" }          -- or "local" { path = ... }
 *   local v = var("name", { default = 1, type = "number", description = "", sensitive = false })
 *   local net = gcp.compute_network "main" { autoCreateSubnetworks = false,
 *                 depends_on = { other }, lifecycle = { prevent_destroy = true,
 *                 create_before_destroy = true, ignore_changes = { "labels" },
 *                 replace_triggered_by = { other, other.attr } } }
 *   net.selfLink                 -> reference (deferred value)
 *   "x/" .. net.name, string.format("%s/y", net.id), fmt("%s", ref) -> deferred strings
 *   output("endpoint", gke.endpoint, { sensitive = false })
 *   local m = module "mlflow" { source = "mlflow", ...inputs }   -- modules/mlflow.lua
 *       returns the module's outputs; its resources are addressed
 *       module.mlflow.gcp.sql_instance.db; modules nest.
 *   file(path), templatefile(path, vars)  -- relative to the calling file
 *   require("x") finds modules/x.lua (Lua files only)
 * Resource types are looked up in the rtype registry (rtype.h): an unknown
 * type is an error with the closest known name. */
#ifndef PLINTH_SPEC_H
#define PLINTH_SPEC_H

#include <jansson.h>
#include <signal.h>
#include <stdbool.h>

#include "util.h"

typedef struct spec_res {
    char *addr;           /* "module.mlflow.gcp.sql_instance.db" */
    char *type;           /* "gcp.sql_instance" */
    char *name;           /* "db" (the name given in the spec; the API name defaults to it) */
    char *module;         /* "module.mlflow", or NULL at the root */
    json_t *body;         /* owned; may contain deferred values (ref.h); no meta keys */
    strlist_t depends_on; /* explicit dependencies (addresses) */
    bool prevent_destroy, create_before_destroy;
    strlist_t ignore_changes; /* jpath patterns */
    /* lifecycle.replace_triggered_by = { other, other.attr }: replaced when
     * other is replaced (or created again) or, for other.attr, when attr
     * changes; for a whole resource, when it changes at all.  Parallel
     * lists: address and path ("" = the whole resource). */
    strlist_t rtb_addr, rtb_path;
    char file[256];
    int line; /* where the constructor was called */
} spec_res_t;

typedef struct spec_output {
    char *name;
    json_t *value; /* owned; may be deferred */
    bool sensitive;
    char file[256];
    int line;
} spec_output_t;

typedef struct spec_var {
    char *name;
    json_t *value; /* owned: the value used (given or default) */
    bool sensitive;
} spec_var_t;

typedef struct spec_provider {
    char *name;     /* "gcp" */
    json_t *config; /* owned */
    char file[256];
    int line;
} spec_provider_t;

typedef struct spec {
    char *path; /* the spec file */
    char *dir;  /* its directory */
    spec_res_t *res;
    size_t nres;
    spec_output_t *outputs;
    size_t noutputs;
    spec_var_t *vars;
    size_t nvars;
    spec_provider_t *providers;
    size_t nproviders;
    char *backend_type; /* "local" (default) or "gcs" */
    json_t *backend;    /* owned config, or NULL */
    char hash[65];      /* private: see spec_digest */
} spec_t;

typedef struct spec_opts {
    strlist_t vars;          /* "k=v" from --var, in order; later wins */
    strlist_t var_files;     /* --var-file paths (Lua files returning a table, or JSON) */
    const char *modules_dir; /* default: "<spec dir>/modules", then "<exe dir>/../share/plinth/modules" */
    const char *env_name;    /* --env, exposed to Lua as plinth.env (default "default") */
    /* Sandbox.  os.getenv sees PLINTH_VAR_* and the allow_env names only;
     * file(), templatefile(), module sources and k8s.manifest files must
     * resolve (symlinks followed) inside the spec's directory, the modules
     * directories or an allow_read directory. */
    strlist_t allow_env;  /* --allow-env NAME */
    strlist_t allow_read; /* --allow-read DIR */
    /* The whole load stops with an error after time_limit_ms (0: 60 s,
     * PLINTH_SPEC_TIMEOUT_MS overrides) or as soon as *stop is set
     * (SIGINT/SIGTERM), also inside string pattern matching. */
    long time_limit_ms;
    volatile sig_atomic_t *stop;
    size_t mem_limit; /* bytes the spec's Lua state may use (0: 512 MiB) */
    /* A variable with no value gets its type's zero value instead of an
     * error: for commands that read only state (state, output, graph). */
    bool lenient_vars;
} spec_opts_t;

/* Loads and evaluates the spec.  On Lua or declaration errors, returns -1
 * with every error found in diags (each with "file:line").  PLINTH_VAR_<name>
 * environment variables feed var() as well (lowest precedence after defaults:
 * default < PLINTH_VAR_ < --var-file < --var). */
int spec_load(const char *path, const spec_opts_t *opts, spec_t **out, diag_t *diags);
void spec_free(spec_t *s);

spec_res_t *spec_find(const spec_t *s, const char *addr);
/* sha256 (hex) of the canonical declared content (resources, outputs,
 * providers): what a saved plan was made from. */
const char *spec_digest(spec_t *s);
const spec_provider_t *spec_provider(const spec_t *s, const char *name);

#endif
