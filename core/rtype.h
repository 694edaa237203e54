/* rtype.h: the interface between the engine and a resource type.
 *
 * A provider (gcp, k8s, ssh) registers a table of rtype_t.  The engine
 * never knows which cloud it talks to: it validates bodies against the
 * type's schema, diffs desired vs live on the paths the spec sets, and
 * calls read / create / update / remove.  Every callback runs on a worker
 * thread; several run at once for different resources, so callbacks must be
 * thread-safe with respect to their provider instance.
 *
 * Ownership: json_t passed in are BORROWED; json_t returned through out
 * parameters are NEW references the engine will decref; char * returned
 * through out parameters are malloc'ed and freed by the engine. */
#ifndef PLINTH_RTYPE_H
#define PLINTH_RTYPE_H

#include <jansson.h>
#include <signal.h>

#include "util.h"

typedef struct rtype rtype_t;

/* Context of one call on one resource. */
typedef struct rctx {
    const rtype_t *type;
    const char *addr; /* resource address, for messages */
    void *prov;       /* the provider instance (provider_def.open) */
    perr_t *err;      /* fill on failure (return -1) */
    volatile sig_atomic_t
        *cancel; /* non-zero: first SIGINT; stop *waiting* (not in-flight writes), fail with "interrupted" */
    /* Progress line for long operations ("creating cluster, operation
     * operation-123: RUNNING"); the engine adds elapsed time. May be NULL. */
    void (*progress)(void *ud, const char *addr, const char *msg);
    /* Records provider data needed to resume an interrupted operation
     * (e.g. {"operation": "...", "api": "container"}) in state before
     * waiting on it.  May be NULL. */
    void (*checkpoint)(void *ud, const char *addr, const json_t *data);
    void *ud;
    const json_t *resume; /* data from a previous checkpoint of this resource, or NULL */
    /* Values that must never be logged in plaintext: providers pass them on
     * to their transport's redaction (see gcp_client_add_secret). */
} rctx_t;

struct rtype {
    const char *name;    /* "gcp.compute_network" */
    const char *api;     /* schema api ("compute"), or NULL for a free-form body */
    const char *message; /* schema message for the body ("Network") */
    /* Fields accepted in the body besides the schema's (plinth-only
     * placement such as "project", "location", "region"), NULL-terminated. */
    const char *const *extra_fields;
    const char *const *required;  /* top-level fields the spec must set */
    const char *const *immutable; /* jpath patterns: a change means replace */
    const char *const *sensitive; /* jpath patterns holding secrets */
    /* More secret paths that depend on the body (a Kubernetes Secret's data
     * and stringData, but not a ConfigMap's): NULL-terminated, static.
     * May be NULL. */
    const char *const *(*sensitive_for)(const json_t *body);
    const char *const *ignore; /* jpath patterns never diffed (input-only, server-managed) */
    /* More never-diffed paths the provider derives (GCP: the fields its
     * schema marks output only), so the table need not repeat them.
     * Returns 1 to ignore path.  May be NULL. */
    int (*ignored)(const rtype_t *t, const char *path);
    /* plinth-only options among extra_fields (force_destroy, deletion_policy,
     * ...): the API never sees them, so they are diffed against the last
     * applied body and a change to them alone is recorded in state with no
     * API call.  NULL-terminated; may be NULL. */
    const char *const *options;
    /* Fills in body defaults the engine should use before diffing and
     * creating: e.g. name = the spec name, project/region from the provider
     * block.  May be NULL. */
    void (*defaults)(const rtype_t *t, void *prov, const char *spec_name, json_t *body);
    /* The ID the resource has (or will have) given its desired body: for
     * Google APIs the relative resource name ("projects/p/global/networks/n").
     * Known before create so an interrupted create can be found again.
     * Returns NULL (and fills c->err) if the body is not resolved enough. */
    char *(*id_of)(rctx_t *c, const json_t *desired);
    /* Reads the live resource; *live = NULL and 0 when it does not exist. */
    int (*read)(rctx_t *c, const char *id, const json_t *desired, json_t **live);
    /* Optional batch read (list calls) for many resources of this type:
     * fills lives[i] (NULL = not found) for each ids[i].  Returns -1 only
     * when the batch cannot be done; the engine then falls back to read. */
    int (*read_many)(rctx_t *c, size_t n, const char *const *ids, const json_t *const *desired,
                     json_t **lives);
    int (*create)(rctx_t *c, const json_t *desired, char **id, json_t **live);
    /* changed: the jpaths (as diffed) that differ; none is immutable. */
    int (*update)(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                  const strlist_t *changed, json_t **newlive);
    int (*remove)(rctx_t *c, const char *id, const json_t *live);
    /* Import: from the user's ID form (API forms, short forms) to the ID and
     * the live body.  May be NULL (not importable). */
    int (*import)(rctx_t *c, const char *import_id, char **id, json_t **live);
    /* Rewrites live in place so it compares equal to desired where they mean
     * the same (server defaults, full URL vs short name, case, order).
     * May be NULL. */
    void (*normalize)(const rtype_t *t, json_t *live, const json_t *desired);
    const void *data; /* the provider's own per-type table */
    /* Non-zero: the provider cannot read live state (ssh.exec runs a script
     * and leaves nothing to query): the engine uses the attributes stored
     * in state from the last apply as live instead of calling read. */
    int local_state;
    /* Non-zero: a resource of this type that already exists when plinth
     * would create it is adopted silently instead of reported (enabling an
     * API is idempotent; there is nothing to import). */
    int adopt_existing;
};

/* A provider: opens an instance from its configuration block. */
typedef struct prov_env {
    const char *http_log; /* --http-log file or NULL */
    const char *endpoint; /* PLINTH_GCP_ENDPOINT (or --local's) or NULL */
    int parallelism;
    volatile sig_atomic_t *cancel; /* set on the first SIGINT: stop waiting */
} prov_env_t;

struct spec;    /* core/spec.h */
struct backend; /* core/state.h */

/* Called by a provider's link hook: resource spec->res[i] depends on the
 * resource at address addr. */
typedef void (*rtype_link_fn)(void *ud, size_t i, const char *addr);

/* A provider.  Only name, open, close and types are required; every hook
 * below may be NULL.  Hooks run on the main thread, before any worker. */
typedef struct provider_def {
    const char *name; /* "gcp" */
    void *(*open)(const json_t *config, const prov_env_t *env, perr_t *e);
    void (*close)(void *prov);
    const rtype_t *const *types; /* NULL-terminated */
    /* Static checks of a declared body (no network; deferred values are
     * skipped): each problem is added to d located at where ("file:line")
     * with a message starting with addr.  Runs in validate_spec. */
    void (*validate)(const rtype_t *t, const json_t *body, const char *addr, const char *where, diag_t *d);
    /* Whether resources of type t have the attribute name (a field of the
     * body or an output field): 1 yes; 0 no, with *closest the nearest
     * known name or NULL; -1 cannot tell (a free-form type).  A reference
     * to an attribute that does not exist is a validation error. */
    int (*attr_known)(const rtype_t *t, const char *name, const char **closest);
    /* Completes the desired body (a copy of the declared one, owned by the
     * engine) before defaults and diffing, with what only the provider
     * knows: which fields are lists when Lua gave {}, the directory files
     * named in the body are read from (spec_dir: that of the declaring
     * file). */
    void (*prepare)(const rtype_t *t, json_t *body, const char *spec_dir);
    /* A declaration that stands for several resources (k8s.manifest):
     * returns 0 when type is not one, 1 with *items a NEW array of
     * {"type": "k8s.object", "key": "Kind/ns/name", "body": {...}} (each
     * becomes resource ADDR["key"]), or -1 with e->msg set.  body is the
     * declared body without depends_on / lifecycle. */
    int (*expand)(const char *type, const json_t *body, const char *spec_dir, json_t **items, perr_t *e);
    /* Implicit dependencies between declared resources (a custom resource
     * on its CRD): calls add(ud, i, addr) for each; reads s, never
     * changes it.  Runs once after the spec is loaded. */
    void (*link)(const struct spec *s, rtype_link_fn add, void *ud);
    /* The state backend this provider implements (backend "gcs" { ... }):
     * its type name and constructor.  cfg is the backend block, pcfg this
     * provider's block in the spec (or NULL); env_name is --env.  The
     * backend owns what it opens and frees it in its free. */
    const char *backend;
    struct backend *(*backend_open)(const json_t *cfg, const json_t *pcfg, const prov_env_t *env,
                                    const char *env_name, perr_t *e);
    /* `plinth kubeconfig ADDR`: a kubeconfig (new YAML string) reaching
     * the cluster whose live attributes are attrs, named name (NULL: from
     * attrs).  endpoint: the Google endpoint override or NULL. */
    int (*kubeconfig)(const char *endpoint, const json_t *attrs, const char *name, char **yaml, perr_t *e);
} provider_def_t;

/* Registry (rtype.c): the providers compiled in, one explicit
 * NULL-terminated table (a missing provider fails at link time). */
const provider_def_t *const *rtype_providers(void);
const rtype_t *rtype_find(const char *name);
const provider_def_t *rtype_provider_of(const char *type_name); /* "gcp" for "gcp.x" */
/* The provider implementing state backend type ("gcs"), or NULL. */
const provider_def_t *rtype_backend(const char *type);
/* Closest known type name, for "did you mean"; NULL if none is close. */
const char *rtype_closest(const char *name);
int rtype_path_in(const char *const *patterns, const char *path); /* jpath_match over a list */
/* Whether path holds a secret in a resource of type t with this body. */
int rtype_sensitive(const rtype_t *t, const json_t *body, const char *path);

#endif
