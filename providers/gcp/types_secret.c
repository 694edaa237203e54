/* types_secret.c: Secret Manager secrets and secret versions.  A
 * version's payload is write-once: plinth sends it base64-encoded with
 * :addVersion, never reads it back (no :access), and keeps it out of live;
 * the engine stores only a hash of the spec's secret_data.  A changed
 * secret_data is a replace: a new version, the old one destroyed.
 *
 * A version may instead be generated: `generate = { length = 32 }` makes
 * a random value at create time that exists only in Secret Manager.  Such a
 * version is read back with :access so that references to its secret_data
 * (a database user's password) resolve in later runs; the engine keeps only
 * a hash of it in state. */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_res.h"
#include "providers/gcp/gcp_batch.h"

/* ---- secret ---- */

static void secret_defaults(const rtype_t *t, void *prov, const char *spec_name, json_t *body) {
    gcp_res_defaults(t, prov, spec_name, body);
    if (!json_object_get(body, "replication"))
        json_object_set_new(body, "replication", json_pack("{s:{}}", "automatic"));
}

static const gcp_type_t secret_t = {
    .api = "secretmanager",
    .self = "v1/projects/{project}/secrets/{secretId}",
    .collection = "v1/projects/{project}/secrets",
    .create_query = "secretId={secretId}",
    .id_tmpl = "projects/{project}/secrets/{secretId}",
    .import_forms = (const char *const[]){"{project}/{secretId}", "{secretId}", NULL},
    .name_field = "secretId",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_PATCH_MASK,
    .list_items = "secrets",
    .set_paths = (const char *const[]){"replication.userManaged.replicas", "topics", NULL},
};
const rtype_t gcp_secret = {
    .name = "gcp.secret",
    .api = "secretmanager",
    .message = "Secret",
    .extra_fields = (const char *const[]){"project", "secretId", NULL},
    .immutable = (const char *const[]){"secretId", "project", "replication", NULL},
    .ignore = (const char *const[]){"etag", "ttl", NULL},
    GCP_RTYPE_CALLBACKS_NODEFAULTS,
    .defaults = secret_defaults,
    .data = &secret_t,
};

/* ---- secret version ---- */

#define VERSION_TMPL "projects/{project}/secrets/{secret}/versions/{version}"

/* The version number is assigned by :addVersion, so before create the ID
 * ends in "/versions/new", which read() reports as absent. */
static char *version_id_of(rctx_t *c, const json_t *desired) {
    json_t *vars = gcp_body_vars(c, desired);
    char *sec = gcp_tmpl_fill("projects/{project}/secrets/{secret}", vars, c->err);
    json_decref(vars);
    if (!sec) return NULL;
    char *id = xasprintf("%s/versions/new", sec);
    free(sec);
    return id;
}

/* Reads a generated version's value into live.secret_data (kept in memory
 * for references; registered as a secret so no log shows it). */
static int access_data(rctx_t *c, const char *id, json_t *live) {
    char *url = xasprintf("v1/%s:access", id);
    json_t *v = NULL;
    int rc = gcp_get(c, "secretmanager", url, &v);
    free(url);
    const char *b64 = json_string_value(jpath_get(v, "payload.data"));
    if (rc == 0 && b64) {
        size_t n = strlen(b64);
        unsigned char *out = xmalloc(n + 1);
        int len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
        if (len >= 0) {
            while (n > 0 && b64[n - 1] == '=' && len > 0)
                n--, len--; /* padding */
            json_t *pt = json_stringn((const char *)out, (size_t)len);
            if (pt) {
                gcp_client_add_secret(GCP_PROV(c)->client, json_string_value(pt));
                json_object_set_new(live, "secret_data", pt);
            }
        }
        free(out);
    }
    json_decref(v);
    return rc;
}

/* A random value of `length` characters from [A-Za-z0-9] (new string). */
static char *generate_value(const json_t *gen) {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    json_int_t n = json_integer_value(json_object_get(gen, "length"));
    if (n < 16) n = 32;
    if (n > 4096) n = 4096;
    char *s = xmalloc((size_t)n + 1);
    for (json_int_t i = 0; i < n;) {
        unsigned char b;
        if (RAND_bytes(&b, 1) != 1) abort();
        if (b >= 248) continue; /* 248 = 4 * 62: keep the draw uniform */
        s[i++] = alphabet[b % 62];
    }
    s[n] = '\0';
    return s;
}

/* The live body of version id (vars: its template variables) from its
 * resource v as GET or list answers it; NULL when destroyed. */
static int version_live(rctx_t *c, const char *id, const json_t *vars, const json_t *desired, json_t *v,
                        json_t **live) {
    const char *st = json_string_value(json_object_get(v, "state"));
    *live = NULL;
    if (!v || (st && strcmp(st, "DESTROYED") == 0)) return 0;
    json_t *ds = desired ? json_object_get(desired, "secret") : NULL;
    if (json_is_string(ds) && strcmp(gcp_last_segment(json_string_value(ds)),
                                     json_string_value(json_object_get(vars, "secret"))) != 0)
        ds = NULL; /* a different secret: let it diff */
    *live = json_pack("{s:O,s:O,s:b}", "project", json_object_get(vars, "project"), "secret",
                      json_is_string(ds) ? ds : json_object_get(vars, "secret"), "enabled",
                      st && strcmp(st, "ENABLED") == 0);
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) if (strcmp(k, "payload") != 0) json_object_set(*live, k, x);
    if (desired && json_object_get(desired, "generate") && !json_object_get(desired, "secret_data") && st &&
        strcmp(st, "ENABLED") == 0 && access_data(c, id, *live) != 0)
        return -1;
    return 0;
}

static int version_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    *live = NULL;
    json_t *vars = gcp_tmpl_match(VERSION_TMPL, id);
    if (!vars) {
        perr_set(c->err, c->addr ? c->addr : "", "ID '%s' does not have the form %s", id, VERSION_TMPL);
        return -1;
    }
    const char *ver = json_string_value(json_object_get(vars, "version"));
    int rc = 0;
    if (strspn(ver, "0123456789") == strlen(ver)) {
        char *url = xasprintf("v1/%s", id);
        json_t *v = NULL;
        rc = gcp_get(c, "secretmanager", url, &v);
        free(url);
        if (rc == 0) rc = version_live(c, id, vars, desired, v, live);
        json_decref(v);
    }
    json_decref(vars);
    return rc;
}

/* A batch of versions: one versions.list per secret (all secrets at
 * once), then each version from it (and its value where generated). */
typedef struct {
    size_t n;
    const char *const *ids;
    const json_t *const *desired;
    json_t **lives;
    json_t **vars;     /* per version: its template variables */
    size_t *slot;      /* per version: its secret */
    char **secrets;    /* distinct secrets */
    json_t **versions; /* per secret: {number: version}, NULL when the secret is gone */
} vbatch_t;

static int list_versions(rctx_t *c, size_t k, void *ud) {
    vbatch_t *B = ud;
    char *token = NULL;
    int rc = 0;
    do {
        char *url = token ? xasprintf("v1/%s/versions?pageSize=25000&pageToken=%s", B->secrets[k], token)
                          : xasprintf("v1/%s/versions?pageSize=25000", B->secrets[k]);
        free(token);
        token = NULL;
        json_t *page = NULL;
        rc = gcp_get(c, "secretmanager", url, &page);
        free(url);
        if (rc == 0 && page) {
            if (!B->versions[k]) B->versions[k] = json_object();
            size_t j;
            json_t *v;
            json_array_foreach(json_object_get(page, "versions"), j, v) {
                const char *nm = json_string_value(json_object_get(v, "name"));
                if (nm) json_object_set(B->versions[k], gcp_last_segment(nm), v);
            }
            const char *nt = json_string_value(json_object_get(page, "nextPageToken"));
            if (nt && *nt) token = xstrdup(nt);
        }
        json_decref(page);
    } while (rc == 0 && token);
    return rc;
}

static int version_from_list(rctx_t *c, size_t i, void *ud) {
    vbatch_t *B = ud;
    json_t *all = B->versions[B->slot[i]];
    json_t *v = all ? json_object_get(all, json_string_value(json_object_get(B->vars[i], "version"))) : NULL;
    return version_live(c, B->ids[i], B->vars[i], B->desired ? B->desired[i] : NULL, v, &B->lives[i]);
}

static int version_read_many(rctx_t *c, size_t n, const char *const *ids, const json_t *const *desired,
                             json_t **lives) {
    vbatch_t B = {n,
                  ids,
                  desired,
                  lives,
                  xcalloc(n + 1, sizeof(json_t *)),
                  xcalloc(n + 1, sizeof(size_t)),
                  xcalloc(n + 1, sizeof(char *)),
                  xcalloc(n + 1, sizeof(json_t *))};
    json_t *index = json_object();
    size_t nsec = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        lives[i] = NULL;
        B.vars[i] = gcp_tmpl_match(VERSION_TMPL, ids[i]);
        char *sec =
            B.vars[i] ? gcp_tmpl_fill("projects/{project}/secrets/{secret}", B.vars[i], c->err) : NULL;
        if (!sec) {
            rc = -1;
            break;
        }
        json_t *at = json_object_get(index, sec);
        if (!at) {
            json_object_set_new(index, sec, at = json_integer((json_int_t)nsec));
            B.secrets[nsec++] = sec;
        } else {
            free(sec);
        }
        B.slot[i] = (size_t)json_integer_value(at);
    }
    if (rc == 0) rc = gcp_batch_run(c, nsec, list_versions, &B);
    if (rc == 0) rc = gcp_batch_run(c, n, version_from_list, &B);
    for (size_t i = 0; i < n; i++) {
        if (rc != 0) {
            json_decref(lives[i]);
            lives[i] = NULL;
        }
        json_decref(B.vars[i]);
    }
    for (size_t k = 0; k < nsec; k++) {
        free(B.secrets[k]);
        json_decref(B.versions[k]);
    }
    free(B.vars);
    free(B.slot);
    free(B.secrets);
    free(B.versions);
    json_decref(index);
    return rc;
}

static int version_verb(rctx_t *c, const char *id, const char *verb) {
    char *url = xasprintf("v1/%s:%s", id, verb);
    json_t *b = json_object();
    gcp_resp_t r = {0};
    int rc = gcp_call(GCP_PROV(c)->client, "POST", "secretmanager", url, b, &r, c->err);
    if (rc == 0 && r.status == 404)
        rc = 0;
    else if (rc == 0 && strcmp(verb, "destroy") == 0 && r.status == 400 &&
             strcmp(r.error_status, "FAILED_PRECONDITION") == 0)
        rc = 0; /* already destroyed */
    else if (rc == 0 && (r.status < 200 || r.status >= 300)) {
        gcp_fail(c, &r, "POST", url);
        rc = -1;
    }
    gcp_resp_free(&r);
    json_decref(b);
    free(url);
    return rc;
}

static int version_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    const char *data = json_string_value(json_object_get(desired, "secret_data"));
    char *generated = NULL;
    json_t *gen = json_object_get(desired, "generate");
    if (!data && json_is_object(gen)) data = generated = generate_value(gen);
    if (!data) {
        perr_set(c->err, c->addr ? c->addr : "", "set secret_data (a string) or generate = { length = N }");
        return -1;
    }
    json_t *vars = gcp_body_vars(c, desired);
    char *sec = gcp_tmpl_fill("projects/{project}/secrets/{secret}", vars, c->err);
    json_decref(vars);
    if (!sec) return -1;
    size_t n = strlen(data);
    char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)data, (int)n);
    gcp_client_add_secret(GCP_PROV(c)->client, data);
    gcp_client_add_secret(GCP_PROV(c)->client, b64);
    json_t *b = json_pack("{s:{s:s}}", "payload", "data", b64);
    char *url = xasprintf("v1/%s:addVersion", sec);
    gcp_resp_t r = {0};
    int rc = gcp_call(GCP_PROV(c)->client, "POST", "secretmanager", url, b, &r, c->err);
    char *myid = NULL;
    if (rc == 0 && (r.status < 200 || r.status >= 300)) {
        gcp_fail(c, &r, "POST", url);
        rc = -1;
    } else if (rc == 0) {
        /* The answer names the project by number: keep the spec's project. */
        const char *name = json_string_value(json_object_get(r.body, "name"));
        if (!name) {
            perr_set(c->err, c->addr, "addVersion answered without a version name");
            rc = -1;
        } else
            myid = xasprintf("%s/versions/%s", sec, gcp_last_segment(name));
    } else if (r.maybe_applied)
        perr_wrap(c->err, "the version may have been added; check the secret's versions before retrying");
    gcp_resp_free(&r);
    json_decref(b);
    free(url);
    free(sec);
    free(b64);
    if (rc == 0 && json_is_false(json_object_get(desired, "enabled"))) rc = version_verb(c, myid, "disable");
    if (rc == 0) rc = version_read(c, myid, desired, live);
    if (rc == 0 && !*live) {
        perr_set(c->err, c->addr, "added %s but cannot read it back", myid);
        rc = -1;
    }
    if (rc == 0 && generated) json_object_set_new(*live, "secret_data", json_string(generated));
    free(generated);
    if (rc == 0)
        *id = myid;
    else
        free(myid);
    return rc;
}

static int version_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                          const strlist_t *changed, json_t **newlive) {
    int rc = 0;
    for (size_t i = 0; i < changed->n && rc == 0; i++)
        if (jpath_under(changed->v[i], "enabled"))
            rc = version_verb(c, id,
                              json_is_false(json_object_get(desired, "enabled")) ? "disable" : "enable");
    if (rc == 0) rc = version_read(c, id, desired, newlive);
    return rc;
}

static int version_remove(rctx_t *c, const char *id, const json_t *live) {
    return version_verb(c, id, "destroy");
}

static const gcp_type_t version_t = {
    .api = "secretmanager",
    .id_tmpl = VERSION_TMPL,
    .import_forms = (const char *const[]){"{project}/{secret}/{version}", "{secret}/{version}", NULL},
    .create_style = GCP_CREATE_HOOK,
    .update_style = GCP_UPDATE_HOOK,
    .id_of = version_id_of,
    .read = version_read,
    .read_many = version_read_many,
    .create = version_create,
    .update = version_update,
    .remove = version_remove,
};
const rtype_t gcp_secret_version = {
    .name = "gcp.secret_version",
    .api = "secretmanager",
    .message = "SecretVersion",
    .extra_fields = (const char *const[]){"project", "secret", "secret_data", "enabled", "generate", NULL},
    .required = (const char *const[]){"secret", NULL},
    .immutable = (const char *const[]){"project", "secret", "secret_data", NULL},
    .sensitive = (const char *const[]){"secret_data", "payload.data", NULL},
    .ignore = (const char *const[]){"generate", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &version_t,
};
