/* emu.h: plinth-emulator's internal contract: a local Google Cloud.
 *
 * The server (server.c, libmicrohttpd) receives a request for
 * <base>/<api>/<path>, applies the configured faults and latency, then
 * finds the route of <api> whose pattern matches and calls its handler
 * with the global lock held: handlers run one at a time, so they may read
 * and modify the store freely.  Latency is slept *before* the lock is
 * taken so slow answers do not serialise the server.
 *
 * The store (store.c) maps keys ("compute/projects/p/global/networks/n") to
 * JSON resources, persists them under --data DIR atomically, and is the
 * single source of truth.  Timers (ops.c) run callbacks when due, under the
 * lock, from a ticker thread: that is how operations go RUNNING -> DONE and
 * clusters PROVISIONING -> RUNNING.
 *
 * Each API lives in its own file (api_compute.c, api_container.c, ...) and
 * exports one `const emu_api_t` listed in apis.c.  The JSON an API returns
 * follows the real API (field names, enums, int64 as strings, output-only
 * fields, error shape) as the gcloud generated clients define it. */
#ifndef PLINTH_EMU_H
#define PLINTH_EMU_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/util.h"

typedef struct emu emu_t;

typedef struct emu_config {
    int port;             /* 0: pick a free one */
    const char *data_dir; /* NULL: memory only */
    const char *log_path; /* HTTP log (DESIGN.md format) or NULL */
    double op_scale;      /* multiplies operation durations (default 1.0; 0 in a zeroed config
                           * means 1.0, negative means instant) */
    int latency_ms;
    double fault_rate, throttle_rate, reset_rate; /* 503, 429+Retry-After, dropped connection */
    /* Lost answers: a mutating request (POST, PUT, PATCH, DELETE) is
     * carried out, then its answer is replaced by a 503 or the connection
     * is dropped (half each), as when a response is lost on the way. */
    double lost_rate;
    unsigned seed;
    bool require_auth;
    const char *project_number_seed; /* unused: numbers derive from the project id */
} emu_config_t;

typedef struct emu_req {
    const char *method;   /* "GET" */
    const char *api;      /* "compute" */
    const char *path;     /* below the api prefix, no query: "compute/v1/projects/p/global/networks" */
    json_t *query;        /* object name -> string (last value); BORROWED */
    json_t *query_multi;  /* object name -> array of strings; BORROWED */
    json_t *body;         /* parsed JSON body or NULL; BORROWED */
    const char *raw_body; /* raw bytes (uploads), may be NULL */
    size_t raw_len;
    const char *content_type;
    const char *base_url;      /* "http://127.0.0.1:PORT" */
    const char *auth;          /* Authorization header or NULL */
    const char *const *params; /* values captured by {name} in the pattern, in order */
    size_t nparams;
    const char *accept; /* Accept header or NULL */
} emu_req_t;

typedef struct emu_resp {
    int status;   /* default 200 */
    json_t *body; /* NEW reference set by the handler, or NULL */
    char *raw;    /* alternatively raw bytes (malloc'ed), e.g. alt=media */
    size_t raw_len;
    char content_type[128];
    char headers[4][256]; /* extra "Name: value" headers */
} emu_resp_t;

typedef void (*emu_handler_fn)(emu_t *emu, const emu_req_t *req, emu_resp_t *resp);

/* A route: method and pattern below the api prefix.  {x} captures one path
 * segment (up to a ':' custom-verb suffix, which must then match
 * literally: "v1/projects/{p}/services/{s}:enable"); {x*} captures the rest
 * of the path including '/'. */
typedef struct emu_route {
    const char *method;
    const char *pattern;
    emu_handler_fn fn;
} emu_route_t;

typedef struct emu_api {
    const char *name; /* the URL prefix: "compute", "container", "k8s" ... */
    const emu_route_t *routes;
    size_t nroutes;
    void (*init)(emu_t *emu); /* optional, called once at start with the lock held */
} emu_api_t;

/* apis.c */
extern const emu_api_t *const emu_apis[]; /* NULL-terminated (apis.c) */

/* server.c: lifecycle (main.c uses these). */
emu_t *emu_new(const emu_config_t *cfg, perr_t *e);
int emu_start(emu_t *emu, perr_t *e); /* binds, starts threads */
int emu_port(const emu_t *emu);
void emu_stop(emu_t *emu); /* flushes the store, stops threads */
void emu_free(emu_t *emu);
const emu_config_t *emu_cfg(const emu_t *emu);

/* store.c: keyed JSON documents.  Call only with the lock held (handlers
 * and timers have it).  get/list return BORROWED values; put steals. */
json_t *emu_get(emu_t *emu, const char *key);
void emu_put(emu_t *emu, const char *key, json_t *doc); /* steals doc; marks dirty */
int emu_del(emu_t *emu, const char *key);               /* 0 deleted, -1 absent */
/* Keys with the given prefix, sorted (new array of strings). */
json_t *emu_keys(emu_t *emu, const char *prefix);
/* Calls fn(key, ud) for the keys with prefix, in order, from the first
 * key after `after` (a full key; NULL or "": from the first), until fn
 * returns non-zero.  O(log N) to the start, then O(1) per key: list
 * pages cost their size, not the store's.  The store must not change
 * during the walk. */
void emu_keys_each(emu_t *emu, const char *prefix, const char *after, int (*fn)(const char *key, void *ud),
                   void *ud);
/* Monotonic counter per name, persisted (generations, resource ids). */
int64_t emu_next_id(emu_t *emu, const char *counter);
/* Project number for a project id: stable, derived from the id. */
const char *emu_project_number(emu_t *emu, const char *project);

/* ops.c: timers.  Runs fn(emu, arg) once, with the lock held, after
 * emu_duration(kind) milliseconds.  arg is a key (copied).  Timers are
 * not persisted: at start, emu re-arms due work by calling each API's
 * init, which should finish operations left RUNNING. */
typedef void (*emu_timer_fn)(emu_t *emu, const char *arg);
void emu_after(emu_t *emu, int64_t ms, emu_timer_fn fn, const char *arg);
/* Duration of an operation kind ("container.clusters.create") in ms, after
 * --op-scale.  Unknown kinds take 300 ms. */
int64_t emu_duration(emu_t *emu, const char *kind);
/* Fresh operation id "operation-<ms>-<hex>". new string. */
char *emu_op_id(emu_t *emu);

/* errors.c: Google's error JSON.  status_name is the canonical code
 * ("NOT_FOUND"); reason is the legacy errors[].reason ("notFound"). */
void emu_error(emu_resp_t *resp, int http, const char *status_name, const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Validates req->body against a schema message; on problems fills a 400
 * INVALID_ARGUMENT naming the first bad field and returns -1. */
int emu_validate(emu_resp_t *resp, const char *api, const char *msg, const json_t *body);
/* Refuses a change to an immutable field: returns -1 with 400 when
 * body has a value at any of paths that differs from current. */
int emu_check_immutable(emu_resp_t *resp, const json_t *current, const json_t *body,
                        const char *const *paths);

/* util: the request's query parameter, or NULL. */
const char *emu_q(const emu_req_t *req, const char *name);
/* Paging helper for list methods: given all items (BORROWED array), the
 * page size parameter name ("maxResults"/"pageSize") and token, returns a
 * new array for this page and sets *next (new string or NULL). */
json_t *emu_page(const emu_req_t *req, const json_t *items, const char *size_param, int default_size,
                 char **next);
/* RFC 3339 timestamp of now (static per-thread buffer). */
const char *emu_now(void);

/* util.c: helpers the API files share. */
/* Deep copy without the private "plinth:" keys of objects nested in
 * objects (any depth; arrays are copied as they are); new.  _deep also
 * strips the objects inside arrays. */
json_t *emu_strip(const json_t *v);
json_t *emu_strip_deep(const json_t *v);
/* Copy without the top-level "_" bookkeeping keys (compute, storage); new. */
json_t *emu_render(const json_t *doc);
/* JSON merge patch (RFC 7386): objects merge, null deletes, the rest replaces. */
void emu_merge_patch(json_t *dst, const json_t *patch);
/* Sets o[k] = v (stolen) unless o already has k. */
void emu_set_default(json_t *o, const char *k, json_t *v);
/* 1 when s (may be NULL) is in the NULL-terminated list. */
int emu_in_list(const char *const *list, const char *s);
/* An int64 given as a JSON integer or a decimal string. */
int64_t emu_int64(const json_t *v);
/* project when it is all digits (a number), else its number. */
const char *emu_project_num(emu_t *emu, const char *project);
/* Random "8-4-4-4-12" hex id; new string. */
char *emu_uuid(void);
/* Error shortcuts: 404 NOT_FOUND/notFound and 400 INVALID_ARGUMENT/badRequest. */
void emu_not_found(emu_resp_t *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emu_bad_request(emu_resp_t *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The document at *key (BORROWED); when absent, a 404 NOT_FOUND/notFound
 * with the message, *key freed and set to NULL, and NULL. */
json_t *emu_load(emu_t *emu, emu_resp_t *resp, char **key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Stripped copies of the documents whose keys start with prefix, in key
 * order; direct: only keys with no '/' after the prefix.  New array. */
json_t *emu_children(emu_t *emu, const char *prefix, bool direct);
/* Deletes every key starting with prefix. */
void emu_del_prefix(emu_t *emu, const char *prefix);
/* Deletes the keys below "<key>/", then key. */
void emu_del_tree(emu_t *emu, const char *key);
/* One page of items (BORROWED) into body[field] (also when empty if
 * always) and body.nextPageToken when more remain. */
void emu_page_into(const emu_req_t *req, json_t *body, const char *field, const json_t *items,
                   const char *size_param, int default_size, bool always);
/* Stores op (stolen) at key, arms finish after emu_duration(kind) and
 * returns its stripped public form (new). */
json_t *emu_op_arm(emu_t *emu, const char *key, json_t *op, const char *kind, emu_timer_fn finish);
/* After a restart: arms finish at once for every key below prefix that
 * contains marker (NULL: any) whose operation is unfinished (neither
 * "done": true nor "status": "DONE"). */
void emu_resume_ops(emu_t *emu, const char *prefix, const char *marker, emu_timer_fn finish);
/* IAM policy of the resource stored at key, kept at "<key>/iamPolicy":
 * get fills resp->body; set as emu_iam_policy_set. */
void emu_iam_get_below(emu_t *emu, emu_resp_t *resp, const char *key);
int emu_iam_set_below(emu_t *emu, emu_resp_t *resp, const char *key, const json_t *body);
/* testIamPermissions: the emulator grants every permission asked about. */
void emu_iam_test_perms(const emu_req_t *req, emu_resp_t *resp);
/* CRC32C (Castagnoli) of n bytes. */
uint32_t emu_crc32c(const unsigned char *p, size_t n);
/* Standard base64 with padding; new string. */
char *emu_b64(const unsigned char *data, size_t len);
/* base64 or base64url of s[0..n), padding optional: stop_at_pad stops at
 * the first '=' (and refuses newlines), otherwise '=', CR and LF are
 * skipped.  New NUL-terminated buffer, or NULL when malformed. */
unsigned char *emu_b64_decode(const char *s, size_t n, bool stop_at_pad, size_t *outlen);

/* api_cloudresourcemanager.c: IAM policies kept at a store key, shared by
 * every API with getIamPolicy/setIamPolicy (projects, service accounts,
 * repositories, secrets).  get: the stored policy, or an empty one
 * {"version":1,"etag":"ACAB"} (new reference; the store is not changed).
 * set: takes a SetIamPolicyRequest body ({policy, updateMask}); refuses a
 * stale etag with 409 ABORTED and bad members/conditions with 400, stores
 * the policy with a fresh etag and puts it in resp; returns 0, or -1 with
 * resp holding the error. */
json_t *emu_iam_policy_get(emu_t *emu, const char *key);
int emu_iam_policy_set(emu_t *emu, emu_resp_t *resp, const char *key, const json_t *body);

/* Internal plumbing shared by server.c, store.c and ops.c (not for APIs).
 * Added by the emulator core; APIs use only the functions above. */
typedef struct emu_store emu_store_t;
emu_store_t *emu_store_new(const char *data_dir, perr_t *e); /* loads DIR/emulator.json */
void emu_store_free(emu_store_t *s);
/* Serialises the store if dirty (new string, clears dirty) or NULL. */
char *emu_store_dump_if_dirty(emu_store_t *s);
int emu_store_write(emu_store_t *s, const char *dump, perr_t *e);
emu_store_t *emu_store_of(emu_t *emu);
void emu_lock(emu_t *emu);
void emu_unlock(emu_t *emu);
/* ops.c: ticker thread (runs timers, flushes the store). */
typedef struct emu_ticker emu_ticker_t;
emu_ticker_t *emu_ticker_start(emu_t *emu);
void emu_ticker_stop(emu_ticker_t *t); /* joins and frees pending timers */
emu_ticker_t *emu_ticker_of(emu_t *emu);

#endif
