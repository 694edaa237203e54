/* gcp_res.h: the generic, table-driven implementation of Google Cloud
 * resource types.  Each type is a static gcp_type_t (URL templates, natural
 * ID, create/update styles, list support, normalization hints) plus hooks
 * where the API is irregular; gcp_res.c turns that table into the rtype_t
 * callbacks the engine calls (core/rtype.h).
 *
 * URL templates are relative to the API's host and name body fields in
 * braces: "compute/v1/projects/{project}/global/networks/{name}".  A field
 * holding a URL or relative name ("https://.../regions/europe-west1")
 * contributes its last segment.  {project} falls back to the provider's
 * project, {region}/{location} to its region, {zone} to its zone.
 *
 * The implementation, one concern per file: gcp_res.c (callbacks), gcp_update.c
 * (update verbs), gcp_norm.c (normalize), gcp_tmpl.c (templates), gcp_call.c
 * (calls, busy retry, operation waits), gcp_iam.c/gcp_iam.h (IAM members),
 * gcp_api.c (per-API traits).  Adding a type: a row in gcp_types.h, its
 * tables in a types_*.c file, a fixture in tests/fixtures/types/. */
#ifndef PLINTH_GCP_RES_H
#define PLINTH_GCP_RES_H

#include <jansson.h>
#include <pthread.h>

#include "core/rtype.h"
#include "providers/gcp/gcp_op.h"
#include "transport/gcp_http.h"
#include "providers/gcp/gcp_types.h"

/* The provider instance (provider_def.open). */
typedef struct gcp_prov {
    gcp_client_t *client;
    char *project;
    char *region;             /* may be NULL */
    char *zone;               /* may be NULL */
    pthread_mutex_t iam_lock; /* serialises policy read-modify-writes in this process */
    pthread_mutex_t num_lock;
    int emulated;            /* talking to plinth-emulator: shorter backoffs */
    json_t *project_numbers; /* cache: project id -> number string */
} gcp_prov_t;

typedef enum {
    GCP_CREATE_POST,         /* POST body to the collection URL (create_query appended) */
    GCP_CREATE_PUT,          /* PUT body to the resource URL */
    GCP_CREATE_SERVER_NAMED, /* POST to the collection; the answer's name is the ID (no id_of) */
    GCP_CREATE_HOOK          /* the type's create hook does everything */
} gcp_create_style_t;

typedef enum {
    GCP_UPDATE_NONE,       /* everything immutable: nothing to send */
    GCP_UPDATE_COMPUTE,    /* PATCH changed top-level fields + fingerprint; setLabels verb */
    GCP_UPDATE_PATCH,      /* PATCH changed top-level fields (JSON merge) */
    GCP_UPDATE_PATCH_MASK, /* PATCH ?updateMask=<changed top-level fields> */
    GCP_UPDATE_MASK_BODY,  /* PATCH {<update_wrap>: body, updateMask: <changed fields>} (pubsub) */
    GCP_UPDATE_PUT,        /* PUT the whole body to the resource URL (logging metrics) */
    GCP_UPDATE_SQL,        /* PATCH changed fields + settings.settingsVersion from live */
    GCP_UPDATE_HOOK        /* the type's update hook */
} gcp_update_style_t;

typedef struct gcp_type gcp_type_t;

/* A field that changes through its own method: POST <self>/<verb> with
 * {path: value} (or the value itself when bare), plus the fingerprint read
 * from live at `fingerprint` under its last segment's name.  Compute's
 * setLabels is {"labels", "setLabels", "labelFingerprint", 0}, an
 * instance's setMetadata {"metadata", "setMetadata", "metadata.fingerprint", 1}. */
typedef struct gcp_verb {
    const char *path; /* top-level field */
    const char *verb;
    const char *fingerprint; /* live path, or NULL */
    int bare;
} gcp_verb_t;
#define GCP_VERB_LABELS                                                                                      \
    { "labels", "setLabels", "labelFingerprint", 0 }

typedef struct gcp_type {
    const char *api;                 /* transport API ("compute") */
    const char *op_api;              /* operation shape for gcp_wait_op, NULL = synchronous */
    const char *self;                /* resource URL template */
    const char *collection;          /* collection URL template (create, list) */
    const char *create_query;        /* appended to the collection on create: "repositoryId={repositoryId}" */
    const char *id_tmpl;             /* natural ID template: "projects/{project}/global/networks/{name}" */
    const char *const *import_forms; /* short import templates besides id_tmpl, NULL-terminated */
    const char *name_field;          /* body field defaulting to the spec name ("name"), or NULL */
    const char *location_field;      /* body field defaulting to the provider region, or NULL */
    const char *zone_field;          /* body field defaulting to the provider zone, or NULL */
    const char *wrap;                /* create body wrapped as {"<wrap>": body} (GKE) */
    const char *const *send_strip;   /* body fields never sent besides rtype extra_fields */
    gcp_create_style_t create_style;
    gcp_update_style_t update_style;
    const char *update_wrap; /* GCP_UPDATE_MASK_BODY: the resource's key in the request */
    /* Fields changed through their own verb (POST <self>/<verb>) before
     * the rest is sent with update_style; NULL-terminated by .path. */
    const struct gcp_verb *verbs;
    const char *list_items;       /* key of the items in a list answer; NULL = no read_many */
    const char *const *set_paths; /* arrays compared as sets (API reorders) */
    const char *const *ci_paths;  /* strings compared case-insensitively */
    /* Hooks (any may be NULL). */
    int (*prepare)(rctx_t *c, const json_t *desired, json_t *body); /* adjust a create body */
    int (*create)(rctx_t *c, const json_t *desired, char **id, json_t **live);
    int (*read)(rctx_t *c, const char *id, const json_t *desired, json_t **live);
    /* A batch read where the generic list does not fit (rtype read_many). */
    int (*read_many)(rctx_t *c, size_t n, const char *const *ids, const json_t *const *desired,
                     json_t **lives);
    int (*update)(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                  const strlist_t *changed, json_t **newlive);
    int (*remove)(rctx_t *c, const char *id, const json_t *live);
    char *(*id_of)(rctx_t *c, const json_t *desired);
    /* Called on a GET answer: may replace *live (set NULL = treat as gone). */
    void (*after_read)(rctx_t *c, const json_t *desired, json_t **live);
    const struct gcp_iam_kind *iam; /* IAM member types */
    /* Replaces the schema check of provider validate (same contract as
     * provider_def.validate) for a type whose schema depends on its body. */
    void (*validate)(const rtype_t *t, const json_t *body, const char *addr, const char *where, diag_t *d);
} gcp_type_t;

/* The gcp_type_t fields every compute type shares: compute operations,
 * POST to create, PATCH with the fingerprint to update, "items" in list
 * answers, the spec name as "name". */
#define GCP_COMPUTE_TYPE                                                                                     \
    .api = "compute", .op_api = "compute", .name_field = "name", .create_style = GCP_CREATE_POST,            \
    .update_style = GCP_UPDATE_COMPUTE, .list_items = "items"
/* The verbs of a compute type whose labels change only through setLabels. */
#define GCP_COMPUTE_LABELS_VERB ((const gcp_verb_t[]){GCP_VERB_LABELS, {NULL, NULL, NULL, 0}})

/* ---- generic rtype callbacks (the rtype_t.data must be a gcp_type_t) ---- */
void gcp_res_defaults(const rtype_t *t, void *prov, const char *spec_name, json_t *body);
char *gcp_res_id_of(rctx_t *c, const json_t *desired);
int gcp_res_read(rctx_t *c, const char *id, const json_t *desired, json_t **live);
int gcp_res_read_many(rctx_t *c, size_t n, const char *const *ids, const json_t *const *desired,
                      json_t **lives);
int gcp_res_create(rctx_t *c, const json_t *desired, char **id, json_t **live);
int gcp_res_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                   const strlist_t *changed, json_t **newlive);
int gcp_res_remove(rctx_t *c, const char *id, const json_t *live);
int gcp_res_import(rctx_t *c, const char *import_id, char **id, json_t **live);
void gcp_res_normalize(const rtype_t *t, json_t *live, const json_t *desired);

/* The table-driven update, ignoring the type's update hook (for hooks that
 * handle a few fields with special verbs and pass the rest on). */
int gcp_res_update_std(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                       const strlist_t *changed, json_t **newlive);

/* The full ID an import ID (ID form or short form) stands for, with the
 * provider's project/region/zone filling what the short form leaves out;
 * NULL + c->err when it matches no form.  No API call. */
char *gcp_res_import_id(rctx_t *c, const char *import_id);
/* The table-driven DELETE (+ operation wait), ignoring the remove hook. */
int gcp_res_remove_std(rctx_t *c, const char *id, const json_t *live);
/* Percent-encodes s for a query value or path segment (new string). */
char *gcp_urlenc(const char *s);

/* The rtype_t callbacks of a table-driven type. */
#define GCP_RTYPE_CALLBACKS_NODEFAULTS                                                                       \
    .id_of = gcp_res_id_of, .read = gcp_res_read, .read_many = gcp_res_read_many, .create = gcp_res_create,  \
    .update = gcp_res_update, .remove = gcp_res_remove, .import = gcp_res_import,                            \
    .normalize = gcp_res_normalize, .ignored = gcp_res_ignored
#define GCP_RTYPE_CALLBACKS .defaults = gcp_res_defaults, GCP_RTYPE_CALLBACKS_NODEFAULTS
/* A type whose resources the server names (GCP_CREATE_SERVER_NAMED): no
 * id_of, the ID comes from create or import. */
#define GCP_RTYPE_CALLBACKS_SERVER_NAMED                                                                     \
    .defaults = gcp_res_defaults, .read = gcp_res_read, .read_many = gcp_res_read_many,                      \
    .create = gcp_res_create, .update = gcp_res_update, .remove = gcp_res_remove, .import = gcp_res_import,  \
    .normalize = gcp_res_normalize, .ignored = gcp_res_ignored

/* Never diffed: the paths the schema marks output only (rtype.ignored). */
int gcp_res_ignored(const rtype_t *t, const char *path);

/* ---- helpers shared by the type families ---- */
/* 1 when field is one of t's extra (plinth-only) fields. */
int gcp_is_extra(const rtype_t *t, const char *field);
/* The template variables of an ID per the type's id_tmpl (new object), or
 * NULL + c->err when it does not have that form. */
json_t *gcp_id_vars(rctx_t *c, const char *id);
static inline int gcp_resp_ok(const gcp_resp_t *r) {
    return r->status >= 200 && r->status < 300;
}
#define GCP_TYPE(c) ((const gcp_type_t *)(c)->type->data)
#define GCP_PROV(c) ((gcp_prov_t *)(c)->prov)

/* Fills a template from vars (object name -> string); NULL + e when a
 * variable is missing. */
char *gcp_tmpl_fill(const char *tmpl, const json_t *vars, perr_t *e);
/* Matches s against a template; on success returns a new object of the
 * captured variables, else NULL. */
json_t *gcp_tmpl_match(const char *tmpl, const char *s);
/* Template variables of a body: the named fields (last segment of URL
 * values) plus provider fallbacks.  New object. */
json_t *gcp_body_vars(rctx_t *c, const json_t *body);
/* Last path segment of a URL or relative name (borrowed pointer into s). */
const char *gcp_last_segment(const char *s);
/* The "projects/..." tail of a URL or relative name, or NULL. */
const char *gcp_projects_tail(const char *s);
/* A body to send: desired minus extra fields and send_strip (new). */
json_t *gcp_send_body(rctx_t *c, const json_t *desired);
/* GET url; 404 -> *out NULL.  Other non-2xx -> -1 with c->err. */
int gcp_get(rctx_t *c, const char *api, const char *url, json_t **out);
/* Waits for an operation: checkpoints it first, reports progress. */
int gcp_wait(rctx_t *c, const char *op_api, const json_t *op);
/* Fills c->err from a response. */
void gcp_fail(rctx_t *c, const gcp_resp_t *r, const char *method, const char *url);
/* Copies the plinth-only (extra) fields of desired that are not placement
 * vars into live, so remove() sees options such as force_destroy. */
void gcp_keep_extras(rctx_t *c, const json_t *desired, json_t *live);
/* Sleeps ms milliseconds unless *cancel is set; returns -1 when cancelled. */
int gcp_sleep(rctx_t *c, int ms);
/* One mutating call, retried while the API says the resource is busy with
 * another operation (GKE 400 FAILED_PRECONDITION, Cloud SQL 409
 * operationInProgress, compute 400 resourceNotReady).  Same contract as
 * gcp_call; resp is filled (caller frees). */
int gcp_call_busy(rctx_t *c, const char *method, const char *api, const char *url, const json_t *body,
                  gcp_resp_t *resp);
/* One call whose answer is not needed (no retry when busy, no operation):
 * a non-2xx answer fails with c->err. */
int gcp_call_ok(rctx_t *c, const char *method, const char *api, const char *url, const json_t *body);
/* One mutating call (gcp_call_busy) and a wait for its operation (api's
 * operation shape).  A non-2xx answer fails with c->err, except a 404 when
 * ok_404 (success, nothing to wait for). */
int gcp_call_wait(rctx_t *c, const char *method, const char *api, const char *url, const json_t *body,
                  int ok_404);
/* Project number for a project id (cached; cloudresourcemanager). */
char *gcp_project_number(rctx_t *c, const char *project);

/* The type tables (one file per family), from the list in gcp_types.h. */
#define GCP_TYPE_DECL(n) extern const rtype_t gcp_##n;
GCP_TYPES(GCP_TYPE_DECL)
#undef GCP_TYPE_DECL

#endif
