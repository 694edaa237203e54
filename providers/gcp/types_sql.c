/* types_sql.c: Cloud SQL instances, databases and users (sqladmin
 * v1beta4).  One mutating operation at a time per instance: every call goes
 * through gcp_call_busy, which retries 409 operationInProgress. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/jpath.h"
#include "providers/gcp/gcp_res.h"

static const char *const sql_extra[] = {"project", NULL};

/* One mutation and its operation; deleting what is gone succeeds. */
static int sql_call(rctx_t *c, const char *method, const char *url, const json_t *body) {
    return gcp_call_wait(c, method, "sqladmin", url, body, strcmp(method, "DELETE") == 0);
}

/* ---- instance ---- */

static int instance_prepare(rctx_t *c, const json_t *desired, json_t *body) {
    /* Cloud SQL names the VPC by relative name ("projects/p/global/networks/n"). */
    const char *net = json_string_value(jpath_get(body, "settings.ipConfiguration.privateNetwork"));
    const char *tail = net && strstr(net, "://") ? gcp_projects_tail(net) : NULL;
    if (tail) jpath_set_new(body, "settings.ipConfiguration.privateNetwork", json_string(tail));
    const char *pw = json_string_value(json_object_get(desired, "rootPassword"));
    if (pw && *pw) gcp_client_add_secret(GCP_PROV(c)->client, pw);
    return 0;
}

/* databaseVersion auto-advances (MYSQL_8_0 -> MYSQL_8_0_35) and, with
 * storageAutoResize, the disk grows on its own: neither is a change the
 * spec asked for. */
static void instance_after_read(rctx_t *c, const json_t *desired, json_t **live) {
    if (!desired) return;
    const char *dv = json_string_value(json_object_get(desired, "databaseVersion"));
    const char *lv = json_string_value(json_object_get(*live, "databaseVersion"));
    if (dv && lv && strncmp(lv, dv, strlen(dv)) == 0 && lv[strlen(dv)] == '_')
        json_object_set_new(*live, "databaseVersion", json_string(dv));
    json_t *dd = jpath_get(desired, "settings.dataDiskSizeGb"),
           *ld = jpath_get(*live, "settings.dataDiskSizeGb");
    json_t *ar = jpath_get(*live, "settings.storageAutoResize");
    if (dd && ld && (!ar || json_is_true(ar))) {
        long long d = json_is_string(dd) ? atoll(json_string_value(dd)) : json_integer_value(dd);
        long long l = json_is_string(ld) ? atoll(json_string_value(ld)) : json_integer_value(ld);
        if (l > d) json_object_set(json_object_get(*live, "settings"), "dataDiskSizeGb", dd);
    }
    json_object_del(*live, "rootPassword");
}

static int instance_remove(rctx_t *c, const char *id, const json_t *live) {
    if (json_is_true(jpath_get(live, "settings.deletionProtectionEnabled"))) {
        perr_set(
            c->err, c->addr ? c->addr : "",
            "Cloud SQL instance %s has deletion protection: set settings.deletionProtectionEnabled = false, "
            "run apply, then destroy",
            id);
        return -1;
    }
    return gcp_res_remove_std(c, id, live);
}

static const gcp_type_t instance_t = {
    .api = "sqladmin",
    .op_api = "sqladmin",
    .self = "sql/v1beta4/projects/{project}/instances/{name}",
    .collection = "sql/v1beta4/projects/{project}/instances",
    .id_tmpl = "projects/{project}/instances/{name}",
    .import_forms = (const char *const[]){"{project}/{name}", "{name}", NULL},
    .name_field = "name",
    .location_field = "region",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_SQL,
    .list_items = "items",
    .ci_paths = (const char *const[]){"settings.dataDiskType", NULL},
    .set_paths =
        (const char *const[]){"settings.ipConfiguration.authorizedNetworks", "settings.databaseFlags", NULL},
    .prepare = instance_prepare,
    .after_read = instance_after_read,
    .remove = instance_remove,
};
const rtype_t gcp_sql_instance = {
    .name = "gcp.sql_instance",
    .api = "sqladmin",
    .message = "DatabaseInstance",
    .extra_fields = sql_extra,
    .required = (const char *const[]){"databaseVersion", "settings", NULL},
    .immutable = (const char *const[]){"name", "region", "project", "diskEncryptionConfiguration",
                                       "settings.collation", "masterInstanceName", NULL},
    .sensitive = (const char *const[]){"rootPassword", NULL},
    .ignore = (const char *const[]){"rootPassword", "connectionName", "ipAddresses", "serverCaCert",
                                    "serviceAccountEmailAddress", "state", "gceZone", "secondaryGceZone",
                                    "backendType", "maintenanceVersion", "selfLink",
                                    "settings.settingsVersion", "instanceType", "kind", "etag", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &instance_t,
};

/* ---- database ---- */

static int instance_ref_prepare(rctx_t *c, const json_t *desired, json_t *body) {
    const char *i = json_string_value(json_object_get(body, "instance"));
    if (i && strchr(i, '/')) json_object_set_new(body, "instance", json_string(gcp_last_segment(i)));
    return 0;
}

static const gcp_type_t database_t = {
    .api = "sqladmin",
    .op_api = "sqladmin",
    .self = "sql/v1beta4/projects/{project}/instances/{instance}/databases/{name}",
    .collection = "sql/v1beta4/projects/{project}/instances/{instance}/databases",
    .id_tmpl = "projects/{project}/instances/{instance}/databases/{name}",
    .import_forms = (const char *const[]){"{project}/{instance}/{name}",
                                          "instances/{instance}/databases/{name}", "{instance}/{name}", NULL},
    .name_field = "name",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_PATCH,
    .list_items = "items",
    .ci_paths = (const char *const[]){"charset", NULL},
    .prepare = instance_ref_prepare,
};
const rtype_t gcp_sql_database = {
    .name = "gcp.sql_database",
    .api = "sqladmin",
    .message = "Database",
    .extra_fields = sql_extra,
    .required = (const char *const[]){"instance", NULL},
    .immutable = (const char *const[]){"name", "instance", "project", NULL},
    .ignore = (const char *const[]){"selfLink", "kind", "etag", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &database_t,
};

/* ---- user ----
 * The password is write-only: never returned by the API, never put in
 * live (the engine keeps only a hash of the spec's value).  Without a
 * password in the spec (and for non-IAM users) a random one is generated
 * at create; plinth cannot hand that one to anything yet, so a spec that
 * needs the password must pass it (e.g. from a variable). */

static char *user_url(rctx_t *c, const char *id, const char *host, int by_query) {
    json_t *v = gcp_tmpl_match("projects/{project}/instances/{instance}/users/{name}", id);
    if (!v) {
        perr_set(c->err, c->addr ? c->addr : "", "bad user ID '%s'", id);
        return NULL;
    }
    sbuf_t b = {0};
    const char *p = json_string_value(json_object_get(v, "project")),
               *i = json_string_value(json_object_get(v, "instance"));
    char *name = gcp_urlenc(json_string_value(json_object_get(v, "name")));
    if (by_query)
        sbuf_addf(&b, "sql/v1beta4/projects/%s/instances/%s/users?name=%s", p, i, name);
    else
        sbuf_addf(&b, "sql/v1beta4/projects/%s/instances/%s/users/%s", p, i, name);
    if (host && *host) {
        char *h = gcp_urlenc(host);
        sbuf_addf(&b, "%shost=%s", by_query ? "&" : "?", h);
        free(h);
    }
    free(name);
    json_decref(v);
    return sbuf_steal(&b);
}

static const char *user_host(const json_t *a, const json_t *b) {
    const char *h = a ? json_string_value(json_object_get(a, "host")) : NULL;
    if (!h && b) h = json_string_value(json_object_get(b, "host"));
    return h;
}

/* Reads through the list (as Terraform does): it carries each user's host,
 * which a MySQL user's GET needs and a destroy without a spec lacks. */
static int user_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    *live = NULL;
    json_t *v = gcp_tmpl_match("projects/{project}/instances/{instance}/users/{name}", id);
    if (!v) {
        perr_set(c->err, c->addr ? c->addr : "", "bad user ID '%s'", id);
        return -1;
    }
    const char *name = json_string_value(json_object_get(v, "name"));
    const char *host = user_host(desired, NULL);
    char *url = xasprintf("sql/v1beta4/projects/%s/instances/%s/users",
                          json_string_value(json_object_get(v, "project")),
                          json_string_value(json_object_get(v, "instance")));
    json_t *list = NULL;
    int rc = gcp_get(c, "sqladmin", url, &list);
    size_t i;
    json_t *u;
    json_array_foreach(json_object_get(list, "items"), i, u) {
        const char *n = json_string_value(json_object_get(u, "name"));
        const char *h = json_string_value(json_object_get(u, "host"));
        if (n && strcmp(n, name) == 0 && (!host || (h && strcmp(h, host) == 0))) {
            *live = json_deep_copy(u);
            break;
        }
    }
    if (*live) {
        json_object_del(*live, "password");
        json_object_set(*live, "project", json_object_get(v, "project"));
        const char *di = desired ? json_string_value(json_object_get(desired, "instance")) : NULL;
        const char *vi = json_string_value(json_object_get(v, "instance"));
        if (di && strcmp(gcp_last_segment(di), vi) != 0) di = NULL; /* a different instance: let it diff */
        json_object_set_new(*live, "instance", json_string(di ? di : vi));
        gcp_keep_extras(c, desired, *live);
    }
    json_decref(list);
    json_decref(v);
    free(url);
    return rc;
}

static int user_prepare(rctx_t *c, const json_t *desired, json_t *body) {
    instance_ref_prepare(c, desired, body);
    const char *type = json_string_value(json_object_get(desired, "type"));
    const char *pw = json_string_value(json_object_get(body, "password"));
    if (!pw && !(type && strncmp(type, "CLOUD_IAM", 9) == 0)) {
        char gen[33];
        util_random_hex(gen, 16);
        json_object_set_new(body, "password", json_string(gen));
        pw = json_string_value(json_object_get(body, "password"));
    }
    if (pw && *pw) gcp_client_add_secret(GCP_PROV(c)->client, pw);
    return 0;
}

static int user_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                       const strlist_t *changed, json_t **newlive) {
    int need = 0;
    for (size_t i = 0; i < changed->n; i++)
        need |= jpath_under(changed->v[i], "password");
    int rc = 0;
    if (need) {
        const char *pw = json_string_value(json_object_get(desired, "password"));
        if (!pw) {
            perr_set(c->err, c->addr, "password must be a string");
            return -1;
        }
        gcp_client_add_secret(GCP_PROV(c)->client, pw);
        char *url = user_url(c, id, user_host(desired, live), 1);
        if (!url) return -1;
        json_t *b = json_pack("{s:s}", "password", pw);
        rc = sql_call(c, "PUT", url, b);
        json_decref(b);
        free(url);
    }
    if (rc == 0) rc = user_read(c, id, desired, newlive);
    return rc;
}

static int user_remove(rctx_t *c, const char *id, const json_t *live) {
    char *url = user_url(c, id, user_host(live, NULL), 1);
    if (!url) return -1;
    int rc = sql_call(c, "DELETE", url, NULL);
    free(url);
    return rc;
}

static const gcp_type_t user_t = {
    .api = "sqladmin",
    .op_api = "sqladmin",
    .self = "sql/v1beta4/projects/{project}/instances/{instance}/users/{name}",
    .collection = "sql/v1beta4/projects/{project}/instances/{instance}/users",
    .id_tmpl = "projects/{project}/instances/{instance}/users/{name}",
    .import_forms = (const char *const[]){"{project}/{instance}/{name}", "{instance}/{name}", NULL},
    .name_field = "name",
    .create_style = GCP_CREATE_POST,
    .update_style = GCP_UPDATE_HOOK,
    .prepare = user_prepare,
    .read = user_read,
    .update = user_update,
    .remove = user_remove,
};
const rtype_t gcp_sql_user = {
    .name = "gcp.sql_user",
    .api = "sqladmin",
    .message = "User",
    .extra_fields = sql_extra,
    .required = (const char *const[]){"instance", NULL},
    .immutable = (const char *const[]){"name", "host", "instance", "type", "project", NULL},
    .sensitive = (const char *const[]){"password", NULL},
    .ignore = (const char *const[]){"etag", "kind", NULL},
    GCP_RTYPE_CALLBACKS,
    .data = &user_t,
};
