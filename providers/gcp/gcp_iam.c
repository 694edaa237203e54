/* gcp_iam.c: member-level IAM grants: pure policy editing (add/remove one
 * member of a (role, condition) binding), and the generic callbacks of the
 * *_iam_member types, a read-modify-write of the holder's policy that never
 * touches other members, retried on concurrent changes. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_iam.h"
#include "providers/gcp/gcp_batch.h"

static int member_eq(const char *a, const char *b) {
    /* Email-type principals are lower-cased by the server. */
    if (strchr(a, '@') && strncmp(a, "principal", 9) != 0) return strcasecmp(a, b) == 0;
    return strcmp(a, b) == 0;
}

/* A condition given with only a title (from an import ID) matches by title. */
static int cond_eq(const json_t *want, const json_t *have) {
    if (!want || json_is_null(want)) return !have || json_is_null(have);
    if (!have || json_is_null(have)) return 0;
    const char *we = json_string_value(json_object_get(want, "expression"));
    const char *wt = json_string_value(json_object_get(want, "title"));
    const char *he = json_string_value(json_object_get(have, "expression"));
    const char *ht = json_string_value(json_object_get(have, "title"));
    if (we && (!he || strcmp(we, he) != 0)) return 0;
    if (wt && (!ht || strcmp(wt, ht) != 0)) return 0;
    return we || wt;
}

static int binding_is(const json_t *b, const char *role, const json_t *cond) {
    const char *r = json_string_value(json_object_get(b, "role"));
    return r && strcmp(r, role) == 0 && cond_eq(cond, json_object_get(b, "condition"));
}

static int members_index(const json_t *members, const char *m) {
    size_t i;
    json_t *v;
    json_array_foreach(members, i,
                       v) if (json_string_value(v) && member_eq(json_string_value(v), m)) return (int)i;
    return -1;
}

int gcp_iam_has(const json_t *policy, const char *role, const json_t *condition, const char *member) {
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(policy, "bindings"), i,
                       b) if (binding_is(b, role, condition) &&
                              members_index(json_object_get(b, "members"), member) >= 0) return 1;
    return 0;
}

int gcp_iam_add(json_t *policy, const char *role, const json_t *condition, const char *member) {
    json_t *bindings = json_object_get(policy, "bindings");
    if (!json_is_array(bindings)) {
        bindings = json_array();
        json_object_set_new(policy, "bindings", bindings);
    }
    int changed = 0;
    json_t *target = NULL;
    for (size_t i = 0; i < json_array_size(bindings);) {
        json_t *b = json_array_get(bindings, i);
        if (!binding_is(b, role, condition)) {
            i++;
            continue;
        }
        if (!target) {
            target = b;
            i++;
            continue;
        }
        /* Merge a duplicate binding of the same role and condition. */
        size_t j;
        json_t *m;
        json_t *tm = json_object_get(target, "members");
        json_array_foreach(json_object_get(b, "members"), j,
                           m) if (members_index(tm, json_string_value(m)) < 0) json_array_append(tm, m);
        json_array_remove(bindings, i);
        changed = 1;
    }
    if (!target) {
        target = json_pack("{s:s,s:[]}", "role", role, "members");
        if (condition && !json_is_null(condition)) json_object_set(target, "condition", (json_t *)condition);
        json_array_append_new(bindings, target);
    }
    json_t *members = json_object_get(target, "members");
    if (!json_is_array(members)) {
        members = json_array();
        json_object_set_new(target, "members", members);
    }
    if (members_index(members, member) < 0) {
        json_array_append_new(members, json_string(member));
        changed = 1;
    }
    if (condition && !json_is_null(condition)) json_object_set_new(policy, "version", json_integer(3));
    return changed;
}

int gcp_iam_remove(json_t *policy, const char *role, const json_t *condition, const char *member) {
    json_t *bindings = json_object_get(policy, "bindings");
    int changed = 0;
    for (size_t i = 0; i < json_array_size(bindings);) {
        json_t *b = json_array_get(bindings, i);
        if (binding_is(b, role, condition)) {
            json_t *members = json_object_get(b, "members");
            int k;
            while ((k = members_index(members, member)) >= 0) {
                json_array_remove(members, (size_t)k);
                changed = 1;
            }
            if (json_array_size(members) == 0) {
                json_array_remove(bindings, i);
                changed = 1;
                continue;
            }
        }
        i++;
    }
    return changed;
}

int gcp_iam_get(rctx_t *c, const char *api, const char *method, const char *url, const json_t *body,
                json_t **policy, gcp_resp_t *r) {
    *policy = NULL;
    if (gcp_call(GCP_PROV(c)->client, method, api, url, body, r, c->err) < 0) return -1;
    if (r->status == 404) return 0;
    if (!gcp_resp_ok(r)) {
        gcp_fail(c, r, method, url);
        return -1;
    }
    *policy = r->body ? json_incref(r->body) : json_object();
    return 0;
}

int gcp_iam_set(rctx_t *c, const char *api, const char *method, const char *url, const json_t *body,
                gcp_resp_t *r) {
    if (gcp_call(GCP_PROV(c)->client, method, api, url, body, r, c->err) < 0) return -1;
    if (!gcp_resp_ok(r)) {
        gcp_fail(c, r, method, url);
        return -1;
    }
    return 0;
}

/* ID: "<res> <role> <member>[ <condition title>]" (Terraform's form). */
typedef struct iam_id {
    char *res, *role, *member, *title;
} iam_id_t;

static int iam_parse(const char *id, iam_id_t *out) {
    memset(out, 0, sizeof *out);
    const char *a = strchr(id, ' ');
    const char *b = a ? strchr(a + 1, ' ') : NULL;
    if (!a || !b || a == id || b == a + 1) return -1;
    const char *e = strchr(b + 1, ' ');
    out->res = xstrndup(id, (size_t)(a - id));
    out->role = xstrndup(a + 1, (size_t)(b - a - 1));
    out->member = e ? xstrndup(b + 1, (size_t)(e - b - 1)) : xstrdup(b + 1);
    out->title = e && e[1] ? xstrdup(e + 1) : NULL;
    if (!*out->member) return -1;
    return 0;
}

static void iam_id_free(iam_id_t *x) {
    free(x->res);
    free(x->role);
    free(x->member);
    free(x->title);
}

char *gcp_iam_member_id_of(rctx_t *c, const json_t *desired) {
    const gcp_iam_kind_t *K = GCP_TYPE(c)->iam;
    const char *v = json_string_value(json_object_get(desired, K->res_field));
    const char *role = json_string_value(json_object_get(desired, "role"));
    const char *member = json_string_value(json_object_get(desired, "member"));
    if (!v || !role || !member) {
        perr_set(c->err, c->addr ? c->addr : "", "%s, role and member must be known strings", K->res_field);
        return NULL;
    }
    char *res = K->res_of(c, v);
    if (!res) return NULL;
    const char *title = json_string_value(jpath_get(desired, "condition.title"));
    char *id =
        title ? xasprintf("%s %s %s %s", res, role, member, title) : xasprintf("%s %s %s", res, role, member);
    free(res);
    return id;
}

static json_t *iam_cond(const json_t *desired, const iam_id_t *x) {
    json_t *c = desired ? json_object_get(desired, "condition") : NULL;
    if (c && !json_is_null(c)) return json_incref(c);
    if (x->title) return json_pack("{s:s}", "title", x->title);
    return NULL;
}

/* The live body of member x given its holder's policy (NULL: none). */
static json_t *member_live(rctx_t *c, const iam_id_t *x, const json_t *desired, const json_t *policy) {
    const gcp_iam_kind_t *K = GCP_TYPE(c)->iam;
    json_t *cond = iam_cond(desired, x), *live = NULL;
    if (policy && gcp_iam_has(policy, x->role, cond, x->member)) {
        /* Show the spec's spelling only where it names the same thing as
         * the ID, so a changed bucket/member in the spec still diffs. */
        const char *fv = desired ? json_string_value(json_object_get(desired, K->res_field)) : NULL;
        const char *dm = desired ? json_string_value(json_object_get(desired, "member")) : NULL;
        char *fres = fv ? K->res_of(c, fv) : NULL;
        if (!fres || strcmp(fres, x->res) != 0) fv = NULL;
        free(fres);
        perr_clear(c->err);
        if (dm && !member_eq(dm, x->member)) dm = NULL;
        live = json_pack("{s:s,s:s,s:s}", K->res_field,
                         fv ? fv : (strncmp(x->res, "b/", 2) == 0 ? x->res + 2 : x->res), "role", x->role,
                         "member", dm ? dm : x->member);
        /* Return the binding's full condition. */
        size_t i;
        json_t *b;
        json_array_foreach(json_object_get(policy, "bindings"), i,
                           b) if (cond && binding_is(b, x->role, cond)) {
            json_object_set(live, "condition", json_object_get(b, "condition"));
            break;
        }
        if (desired && json_object_get(desired, "project") && strcmp(K->res_field, "project") != 0)
            json_object_set(live, "project", json_object_get(desired, "project"));
    }
    json_decref(cond);
    return live;
}

static int bad_id(rctx_t *c, const char *id) {
    perr_set(c->err, c->addr ? c->addr : "",
             "bad IAM member ID '%s': expected \"RESOURCE ROLE MEMBER [CONDITION_TITLE]\"", id);
    return -1;
}

int gcp_iam_member_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    const gcp_iam_kind_t *K = GCP_TYPE(c)->iam;
    *live = NULL;
    iam_id_t x;
    if (iam_parse(id, &x) < 0) {
        iam_id_free(&x);
        return bad_id(c, id);
    }
    json_t *policy = NULL;
    gcp_resp_t r = {0};
    int rc = K->get(c, x.res, &policy, &r);
    gcp_resp_free(&r);
    if (rc == 0) *live = member_live(c, &x, desired, policy);
    json_decref(policy);
    iam_id_free(&x);
    return rc;
}

/* A batch of members: each holder's policy read once (all holders at
 * once), every member answered from it. */
typedef struct {
    char **res;      /* distinct holders */
    json_t **policy; /* their policies (NULL: holder gone) */
} holders_t;

static int fetch_policy(rctx_t *c, size_t k, void *ud) {
    holders_t *H = ud;
    gcp_resp_t r = {0};
    int rc = GCP_TYPE(c)->iam->get(c, H->res[k], &H->policy[k], &r);
    gcp_resp_free(&r);
    return rc;
}

int gcp_iam_member_read_many(rctx_t *c, size_t n, const char *const *ids, const json_t *const *desired,
                             json_t **lives) {
    iam_id_t *xs = xcalloc(n + 1, sizeof *xs);
    holders_t H = {xcalloc(n + 1, sizeof *H.res), xcalloc(n + 1, sizeof *H.policy)};
    size_t nres = 0, *slot = xcalloc(n + 1, sizeof *slot);
    json_t *index = json_object();
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        lives[i] = NULL;
        if (rc == 0 && iam_parse(ids[i], &xs[i]) < 0) rc = bad_id(c, ids[i]);
        if (rc != 0) continue;
        json_t *at = json_object_get(index, xs[i].res);
        if (!at) {
            json_object_set_new(index, xs[i].res, at = json_integer((json_int_t)nres));
            H.res[nres++] = xs[i].res;
        }
        slot[i] = (size_t)json_integer_value(at);
    }
    if (rc == 0) rc = gcp_batch_run(c, nres, fetch_policy, &H);
    for (size_t i = 0; i < n && rc == 0; i++)
        lives[i] = member_live(c, &xs[i], desired ? desired[i] : NULL, H.policy[slot[i]]);
    if (rc != 0)
        for (size_t i = 0; i < n; i++) {
            json_decref(lives[i]);
            lives[i] = NULL;
        }
    for (size_t k = 0; k < nres; k++)
        json_decref(H.policy[k]);
    for (size_t i = 0; i < n; i++)
        iam_id_free(&xs[i]);
    free(xs);
    free(H.res);
    free(H.policy);
    free(slot);
    json_decref(index);
    return rc;
}

/* Read-modify-write of the policy, retried on concurrent changes. */
static int iam_rmw(rctx_t *c, const iam_id_t *x, const json_t *cond, int add) {
    const gcp_iam_kind_t *K = GCP_TYPE(c)->iam;
    gcp_prov_t *P = GCP_PROV(c);
    int rc = -1;
    pthread_mutex_lock(&P->iam_lock);
    for (int attempt = 0; attempt < 6; attempt++) {
        json_t *policy = NULL;
        gcp_resp_t r = {0};
        int grc = K->get(c, x->res, &policy, &r);
        if (grc < 0 || !policy) {
            if (grc == 0 && !add)
                rc = 0; /* the resource is gone, and the grant with it */
            else if (grc == 0)
                perr_set(c->err, c->addr ? c->addr : "", "%s does not exist", x->res);
            gcp_resp_free(&r);
            json_decref(policy);
            break;
        }
        gcp_resp_free(&r);
        int changed = add ? gcp_iam_add(policy, x->role, cond, x->member)
                          : gcp_iam_remove(policy, x->role, cond, x->member);
        if (!changed) {
            json_decref(policy);
            rc = 0;
            break;
        }
        memset(&r, 0, sizeof r);
        int src = K->set(c, x->res, policy, &r);
        json_decref(policy);
        if (src == 0) {
            gcp_resp_free(&r);
            rc = 0;
            break;
        }
        long st = r.status;
        gcp_resp_free(&r);
        if (st == 404 && !add) { /* the holder went away meanwhile, and the grant with it */
            perr_clear(c->err);
            rc = 0;
            break;
        }
        if ((st != 409 && st != 412) || attempt == 5) break;
        perr_clear(c->err);
        int base = P->emulated ? 50 : 1000;
        if (gcp_sleep(c, (base << attempt) + rand() % (base + 1)) < 0) break;
    }
    pthread_mutex_unlock(&P->iam_lock);
    return rc;
}

int gcp_iam_member_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    *id = NULL;
    *live = NULL;
    char *myid = gcp_iam_member_id_of(c, desired);
    if (!myid) return -1;
    iam_id_t x;
    iam_parse(myid, &x);
    json_t *cond = iam_cond(desired, &x);
    int rc = iam_rmw(c, &x, cond, 1);
    json_decref(cond);
    iam_id_free(&x);
    if (rc == 0) rc = gcp_iam_member_read(c, myid, desired, live);
    if (rc == 0 && !*live) {
        perr_set(c->err, c->addr, "granted %s but it is not in the policy", myid);
        rc = -1;
    }
    if (rc == 0)
        *id = myid;
    else
        free(myid);
    return rc;
}

int gcp_iam_member_remove(rctx_t *c, const char *id, const json_t *live) {
    iam_id_t x;
    if (iam_parse(id, &x) < 0) {
        iam_id_free(&x);
        perr_set(c->err, c->addr ? c->addr : "", "bad IAM member ID '%s'", id);
        return -1;
    }
    json_t *cond = iam_cond(live, &x);
    int rc = iam_rmw(c, &x, cond, 0);
    json_decref(cond);
    iam_id_free(&x);
    return rc;
}

/* The import ID with its resource part in the kind's own spelling (a
 * secret's project by number), so it equals the ID create gives. */
static char *iam_canonical_id(rctx_t *c, const char *import_id) {
    const gcp_iam_kind_t *K = GCP_TYPE(c)->iam;
    iam_id_t x;
    if (iam_parse(import_id, &x) < 0) {
        iam_id_free(&x);
        return xstrdup(import_id); /* the read below reports the bad form */
    }
    char *res = K->res_of(c, x.res);
    char *id = !res      ? NULL
               : x.title ? xasprintf("%s %s %s %s", res, x.role, x.member, x.title)
                         : xasprintf("%s %s %s", res, x.role, x.member);
    free(res);
    iam_id_free(&x);
    return id;
}

int gcp_iam_member_import(rctx_t *c, const char *import_id, char **id, json_t **live) {
    *id = NULL;
    char *canon = iam_canonical_id(c, import_id);
    if (!canon) return -1;
    if (gcp_iam_member_read(c, canon, NULL, live) < 0) {
        free(canon);
        return -1;
    }
    if (!*live) {
        perr_set(c->err, c->addr ? c->addr : "", "cannot import '%s': the member is not in the policy",
                 import_id);
        free(canon);
        return -1;
    }
    *id = canon;
    return 0;
}
