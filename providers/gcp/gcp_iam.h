/* gcp_iam.h: member-level IAM types (storage bucket, service account,
 * project, ... *_iam_member): the contract of gcp_iam.c.  A type gives a
 * gcp_iam_kind_t (how to name, read and write its holder's policy); the
 * generic callbacks do a read-modify-write that touches only its member. */
#ifndef PLINTH_GCP_IAM_H
#define PLINTH_GCP_IAM_H

#include "providers/gcp/gcp_res.h"

/* An IAM member type: how to name, read and write one resource's policy.
 * res is the resource part of the ID ("b/bucket", "projects/p/serviceAccounts/e", "p"). */
typedef struct gcp_iam_kind {
    const char *res_field;                               /* body field naming the resource ("bucket") */
    char *(*res_of)(rctx_t *c, const char *field_value); /* NULL + c->err on bad input */
    int (*get)(rctx_t *c, const char *res, json_t **policy, gcp_resp_t *r);
    int (*set)(rctx_t *c, const char *res, const json_t *policy, gcp_resp_t *r);
} gcp_iam_kind_t;

/* Generic callbacks of IAM member types (type->data->iam set). */
char *gcp_iam_member_id_of(rctx_t *c, const json_t *desired);
int gcp_iam_member_read(rctx_t *c, const char *id, const json_t *desired, json_t **live);
/* Reads a batch: each holder's policy once, every holder in parallel. */
int gcp_iam_member_read_many(rctx_t *c, size_t n, const char *const *ids, const json_t *const *desired,
                             json_t **lives);
int gcp_iam_member_create(rctx_t *c, const json_t *desired, char **id, json_t **live);
int gcp_iam_member_remove(rctx_t *c, const char *id, const json_t *live);
int gcp_iam_member_import(rctx_t *c, const char *import_id, char **id, json_t **live);

/* The rtype_t callbacks of an IAM member type. */
#define GCP_IAM_CALLBACKS                                                                                    \
    .defaults = gcp_res_defaults, .id_of = gcp_iam_member_id_of, .read = gcp_iam_member_read,                \
    .read_many = gcp_iam_member_read_many, .create = gcp_iam_member_create, .update = gcp_res_update,        \
    .remove = gcp_iam_member_remove, .import = gcp_iam_member_import, .normalize = gcp_res_normalize,        \
    .ignored = gcp_res_ignored
/* The gcp_type_t of an IAM member type whose resource policy kind_ is
 * reached through api_, and the rtype_t fields it shares with the others
 * (fields: its extra and immutable fields; .required comes on top). */
#define GCP_IAM_TYPE(api_, kind_)                                                                            \
    {                                                                                                        \
        .api = api_, .iam = kind_, .update_style = GCP_UPDATE_NONE, .ci_paths = (const char *const[]) {      \
            "member", NULL                                                                                   \
        }                                                                                                    \
    }
#define GCP_IAM_RTYPE(name_, fields_, data_)                                                                 \
    .name = name_, .api = NULL, .message = NULL, .extra_fields = fields_, .immutable = fields_,              \
    GCP_IAM_CALLBACKS, .data = data_
/* Policy get/set helpers for IAM kinds: method + url, 0 on 2xx (policy is
 * the answer, or the answer's "policy" member), -1 otherwise (r filled;
 * 404 on get gives 0 and *policy NULL). */
int gcp_iam_get(rctx_t *c, const char *api, const char *method, const char *url, const json_t *body,
                json_t **policy, gcp_resp_t *r);
int gcp_iam_set(rctx_t *c, const char *api, const char *method, const char *url, const json_t *body,
                gcp_resp_t *r);

/* ---- IAM policy editing (pure functions, unit-tested) ---- */
/* Adds member to the binding of (role, condition), creating the binding if
 * needed and merging duplicate bindings; sets version 3 when any binding
 * has a condition.  Returns 1 if the policy changed, 0 if already there. */
int gcp_iam_add(json_t *policy, const char *role, const json_t *condition, const char *member);
/* Removes only member from (role, condition); drops the binding when it
 * becomes empty.  Returns 1 if changed. */
int gcp_iam_remove(json_t *policy, const char *role, const json_t *condition, const char *member);
/* 1 when member is in (role, condition); emails compare case-insensitively. */
int gcp_iam_has(const json_t *policy, const char *role, const json_t *condition, const char *member);

#endif
