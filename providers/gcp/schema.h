/* schema.h: the Google API shapes plinth knows, generated from the Google
 * Cloud CLI's generated apitools clients by scripts/gen-gcp-schema.py and
 * embedded from providers/gcp/data/gcp_api.json (so building never needs
 * gcloud).  Used three ways: plinth validates spec bodies (unknown field ->
 * closest name), the emulator refuses bad requests with 400
 * INVALID_ARGUMENT, and tests/tools/reqcheck checks every logged request.
 *
 * All pointers returned point into data that lives for the whole process;
 * never free them.  Loading is lazy and thread-safe. */
#ifndef PLINTH_GCP_SCHEMA_H
#define PLINTH_GCP_SCHEMA_H

#include <jansson.h>
#include <stddef.h>

#include "core/util.h"

typedef enum {
    SCH_STRING, /* also int64/uint64 (JSON strings), bytes (base64), durations, timestamps */
    SCH_INT,    /* int32/uint32 */
    SCH_INT64,  /* accepted as number or string */
    SCH_DOUBLE,
    SCH_BOOL,
    SCH_ENUM,
    SCH_MESSAGE,
    SCH_MAP, /* JSON object with arbitrary keys; values of value_kind/ref */
    SCH_ANY  /* JsonValue / google.protobuf.Value / Struct: anything */
} sch_kind_t;

typedef struct sch_field {
    const char *name;
    sch_kind_t kind;
    int repeated;
    int output_only;       /* the docs say Output only / [Output Only] */
    const char *ref;       /* message name (MESSAGE, MAP of messages) or enum name (ENUM) */
    sch_kind_t value_kind; /* for MAP */
} sch_field_t;

typedef struct sch_msg sch_msg_t;

typedef struct sch_method {
    const char *id;           /* "compute.networks.insert" */
    const char *http_method;  /* "POST" */
    const char *path;         /* full path below the host: "compute/v1/projects/{project}/global/networks" */
    const char *const *query; /* allowed query parameter names, NULL-terminated */
    const char *request;      /* body message name, or NULL for no body */
    const char *response;     /* response message name, or NULL (media) */
} sch_method_t;

/* Message by API and name ("compute", "Network"); NULL if unknown. */
const sch_msg_t *schema_msg(const char *api, const char *name);
const char *schema_msg_name(const sch_msg_t *m);
const sch_field_t *schema_field(const sch_msg_t *m, const char *name);
const sch_field_t *schema_fields(const sch_msg_t *m, size_t *n);
/* Closest field name for a typo, or NULL when nothing is close. */
const char *schema_closest(const sch_msg_t *m, const char *name);
/* 1 if value is a valid value of enum (api, enum name). */
int schema_enum_has(const char *api, const char *enum_name, const char *value);
const char *const *schema_enum_values(const char *api, const char *enum_name);

/* Checks body against message: unknown fields (with the closest name),
 * wrong JSON types, enum values.  Each problem is added to d with `where`
 * and the field path ("secondaryIpRanges.0.rangeNam: unknown field, did
 * you mean 'rangeName'?").  skip_deferred: values that are plinth deferred
 * values (objects with "$plinth") are accepted for any field.  Returns the
 * number of problems added. */
int schema_check(const char *api, const char *msg, const json_t *body, int skip_deferred, const char *where,
                 diag_t *d);

/* Turns empty objects into empty arrays wherever msg's schema says the
 * field is repeated, recursively (a Lua spec's {} cannot say it meant []).
 * Modifies body in place; deferred values ("$plinth") are left alone.
 * Returns the number of values replaced (0 when api/msg are unknown). */
int schema_fix_empty_lists(const char *api, const char *msg, json_t *body);

/* Methods of an API (for the request checker and the emulator's routing
 * sanity tests). */
const sch_method_t *schema_methods(const char *api, size_t *n);
/* Finds the method matching an HTTP method and a concrete path below the
 * host ("compute/v1/projects/p/global/networks/n"); NULL when none. */
const sch_method_t *schema_match(const char *api, const char *http_method, const char *path);
/* The APIs in the data, NULL-terminated. */
const char *const *schema_apis(void);

#endif
