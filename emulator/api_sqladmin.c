/* api_sqladmin.c: emulated Cloud SQL Admin (sql/v1beta4): instances
 * (PENDING_CREATE -> RUNNABLE, settingsVersion optimistic concurrency,
 * deletion protection, one operation per instance: 409
 * operationInProgress), databases, users (passwords accepted, never
 * stored or returned) and sql#operation polling.  Keys starting with
 * "plinth:" are private bookkeeping, never returned. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"

#define API_BASE "https://sqladmin.googleapis.com/sql/v1beta4"

static char *inst_key(const char *p, const char *i) {
    return xasprintf("sqladmin/projects/%s/instances/%s", p, i);
}

static json_t *load_inst(emu_t *emu, const char *p, const char *i, emu_resp_t *resp, char **key) {
    *key = inst_key(p, i);
    json_t *d = emu_get(emu, *key);
    if (!d) {
        emu_error(resp, 404, "NOT_FOUND", "instanceDoesNotExist", "The Cloud SQL instance does not exist.");
        free(*key);
        *key = NULL;
        return NULL;
    }
    return json_deep_copy(d);
}

static int refuse_if_busy(emu_t *emu, const json_t *inst, emu_resp_t *resp) {
    const char *ok = json_string_value(json_object_get(inst, "plinth:opKey"));
    json_t *op = ok ? emu_get(emu, ok) : NULL;
    if (op && strcmp(json_string_value(json_object_get(op, "status")) ?: "", "DONE") != 0) {
        emu_error(resp, 409, "ABORTED", "operationInProgress",
                  "Operation failed because another operation was already in progress.");
        return -1;
    }
    return 0;
}

static void op_finish(emu_t *emu, const char *opkey);

/* Starts an operation on instance copy inst (stored by the caller) and
 * returns the public sql#operation (new). */
static json_t *start_op(emu_t *emu, const char *p, const char *iname, const char *ikey, json_t *inst,
                        const char *type, const char *kind) {
    char *id = emu_uuid();
    char *opkey = xasprintf("sqladmin/projects/%s/operations/%s", p, id);
    char *self = xasprintf(API_BASE "/projects/%s/operations/%s", p, id);
    char *target = xasprintf(API_BASE "/projects/%s/instances/%s", p, iname);
    json_t *op = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kind", "sql#operation",
                           "name", id, "status", "RUNNING", "operationType", type, "targetLink", target,
                           "targetId", iname, "targetProject", p, "selfLink", self, "insertTime", emu_now(),
                           "startTime", emu_now(), "user", "emulator@example.com", "plinth:instance", ikey);
    json_object_set_new(inst, "plinth:opKey", json_string(opkey));
    json_t *pub = emu_op_arm(emu, opkey, op, kind, op_finish);
    json_object_set_new(pub, "status", json_string("PENDING"));
    json_object_del(pub, "startTime");
    free(id);
    free(opkey);
    free(self);
    free(target);
    return pub;
}

static void put_user(emu_t *emu, const char *ikey, const char *p, const char *inst, const char *name,
                     const char *host, const char *type) {
    char *key = xasprintf("%s/users/%s|%s", ikey, host ? host : "", name);
    json_t *u = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kind", "sql#user", "name", name, "instance", inst,
                          "project", p, "etag", "", "type", type ? type : "BUILT_IN");
    if (host && *host) json_object_set_new(u, "host", json_string(host));
    emu_put(emu, key, u);
    free(key);
}

static void put_db(emu_t *emu, const char *ikey, const char *p, const char *inst, const char *name,
                   const char *charset, const char *collation) {
    char *key = xasprintf("%s/databases/%s", ikey, name);
    char *self = xasprintf(API_BASE "/projects/%s/instances/%s/databases/%s", p, inst, name);
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kind", "sql#database", "name", name, "instance",
                          inst, "project", p, "selfLink", self, "charset", charset, "collation", collation);
    emu_put(emu, key, d);
    free(self);
    free(key);
}

static int is_pg(const json_t *inst) {
    return !strncmp(json_string_value(json_object_get(inst, "databaseVersion")) ?: "", "POSTGRES", 8);
}
static int is_mysql(const json_t *inst) {
    return !strncmp(json_string_value(json_object_get(inst, "databaseVersion")) ?: "", "MYSQL", 5);
}

/* Addresses follow settings.ipConfiguration. */
static void set_ips(json_t *inst) {
    json_t *ipc = json_object_get(json_object_get(inst, "settings"), "ipConfiguration");
    json_t *ips = json_array();
    const char *pn = json_string_value(json_object_get(ipc, "privateNetwork"));
    json_t *v4 = json_object_get(ipc, "ipv4Enabled");
    unsigned h = 0;
    for (const char *s = json_string_value(json_object_get(inst, "name")) ?: ""; *s; s++)
        h = h * 31 + (unsigned char)*s;
    char buf[32];
    if (!v4 || json_is_true(v4)) {
        snprintf(buf, sizeof buf, "35.%u.%u.%u", 180 + h % 60, (h >> 8) % 256, 1 + (h >> 16) % 250);
        json_array_append_new(ips, json_pack("{s:s,s:s}", "type", "PRIMARY", "ipAddress", buf));
    }
    if (pn && *pn) {
        snprintf(buf, sizeof buf, "10.%u.%u.%u", 80 + h % 20, (h >> 8) % 256, 2 + (h >> 16) % 250);
        json_array_append_new(ips, json_pack("{s:s,s:s}", "type", "PRIVATE", "ipAddress", buf));
    }
    json_object_set_new(inst, "ipAddresses", ips);
}

static void op_finish(emu_t *emu, const char *opkey) {
    json_t *cur = emu_get(emu, opkey);
    if (!cur || !strcmp(json_string_value(json_object_get(cur, "status")) ?: "", "DONE")) return;
    json_t *op = json_deep_copy(cur);
    json_object_set_new(op, "status", json_string("DONE"));
    json_object_set_new(op, "endTime", json_string(emu_now()));
    const char *type = json_string_value(json_object_get(op, "operationType")) ?: "";
    const char *ikey = json_string_value(json_object_get(op, "plinth:instance")) ?: "";
    json_t *stored = emu_get(emu, ikey);
    if (stored && !strcmp(type, "DELETE")) {
        emu_del_tree(emu, ikey);
    } else if (stored) {
        json_t *inst = json_deep_copy(stored);
        const char *p = json_string_value(json_object_get(inst, "project")) ?: "";
        const char *name = json_string_value(json_object_get(inst, "name")) ?: "";
        if (!strcmp(type, "CREATE")) {
            set_ips(inst);
            if (is_pg(inst)) {
                put_db(emu, ikey, p, name, "postgres", "UTF8", "en_US.UTF8");
                put_user(emu, ikey, p, name, "postgres", NULL, NULL);
            } else if (is_mysql(inst)) {
                const char *dbs[] = {"information_schema", "mysql", "performance_schema", "sys"};
                for (int i = 0; i < 4; i++)
                    put_db(emu, ikey, p, name, dbs[i], "utf8mb3", "utf8mb3_general_ci");
                put_user(emu, ikey, p, name, "root", "%", NULL);
            } else {
                put_db(emu, ikey, p, name, "master", "UTF8", "SQL_Latin1_General_CP1_CI_AS");
                put_user(emu, ikey, p, name, "sqlserver", NULL, NULL);
            }
        }
        json_object_set_new(inst, "state", json_string("RUNNABLE"));
        json_object_del(inst, "plinth:opKey");
        emu_put(emu, ikey, inst);
    }
    emu_put(emu, opkey, op);
}

/* ---- instances ---------------------------------------------------------- */

static void settings_defaults(json_t *s, const char *zone) {
    emu_set_default(s, "kind", json_string("sql#settings"));
    emu_set_default(s, "tier", json_string("db-custom-1-3840"));
    emu_set_default(s, "availabilityType", json_string("ZONAL"));
    emu_set_default(s, "dataDiskType", json_string("PD_SSD"));
    emu_set_default(s, "dataDiskSizeGb", json_string("10"));
    emu_set_default(s, "storageAutoResize", json_true());
    emu_set_default(s, "storageAutoResizeLimit", json_string("0"));
    emu_set_default(s, "activationPolicy", json_string("ALWAYS"));
    emu_set_default(s, "pricingPlan", json_string("PER_USE"));
    emu_set_default(s, "replicationType", json_string("SYNCHRONOUS"));
    emu_set_default(s, "connectorEnforcement", json_string("NOT_REQUIRED"));
    emu_set_default(s, "edition", json_string("ENTERPRISE"));
    json_t *ipc = json_object_get(s, "ipConfiguration");
    if (!json_is_object(ipc)) {
        ipc = json_object();
        json_object_set_new(s, "ipConfiguration", ipc);
    }
    emu_set_default(ipc, "ipv4Enabled", json_true());
    emu_set_default(ipc, "sslMode", json_string("ALLOW_UNENCRYPTED_AND_ENCRYPTED"));
    json_t *bc = json_object_get(s, "backupConfiguration");
    if (!json_is_object(bc)) {
        bc = json_object();
        json_object_set_new(s, "backupConfiguration", bc);
    }
    emu_set_default(bc, "kind", json_string("sql#backupConfiguration"));
    emu_set_default(bc, "enabled", json_false());
    emu_set_default(bc, "startTime", json_string("00:00"));
    emu_set_default(bc, "transactionLogRetentionDays", json_integer(7));
    emu_set_default(bc, "backupRetentionSettings",
                    json_pack("{s:s,s:i}", "retentionUnit", "COUNT", "retainedBackups", 7));
    json_t *lp = json_object_get(s, "locationPreference");
    if (!json_is_object(lp)) {
        lp = json_object();
        json_object_set_new(s, "locationPreference", lp);
    }
    emu_set_default(lp, "kind", json_string("sql#locationPreference"));
    emu_set_default(lp, "zone", json_string(zone));
}

static int valid_name(const char *n) {
    size_t len = n ? strlen(n) : 0;
    if (len == 0 || len > 98 || !islower((unsigned char)n[0]) || n[len - 1] == '-') return 0;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)n[i]) && !isdigit((unsigned char)n[i]) && n[i] != '-') return 0;
    return 1;
}

/* Cloud SQL's machine tiers: shared-core, custom (vCPUs 1 or even up to
 * 96, 0.9-6.5 GB of memory per vCPU in 256 MB steps), n1 and
 * perf-optimized families. */
static int tier_valid(const char *t) {
    static const char *const fixed[] = {"db-f1-micro", "db-g1-small", NULL};
    if (emu_in_list(fixed, t)) return 1;
    int cpu = 0, mem = 0, n = 0;
    if (sscanf(t, "db-custom-%d-%d%n", &cpu, &mem, &n) == 2 && !t[n])
        return (cpu == 1 || (cpu % 2 == 0 && cpu <= 96)) && mem % 256 == 0 && mem * 10 >= cpu * 9216 &&
               mem <= cpu * 6656;
    if ((sscanf(t, "db-n1-standard-%d%n", &cpu, &n) == 1 || sscanf(t, "db-n1-highmem-%d%n", &cpu, &n) == 1) &&
        !t[n])
        return cpu == 1 || cpu == 2 || cpu == 4 || cpu == 8 || cpu == 16 || cpu == 32 || cpu == 64 ||
               cpu == 96;
    if (sscanf(t, "db-perf-optimized-N-%d%n", &cpu, &n) == 1 && !t[n]) return cpu >= 2 && cpu <= 128;
    return 0;
}

static int tier_check(const json_t *body, emu_resp_t *resp) {
    const char *t = json_string_value(json_object_get(json_object_get(body, "settings"), "tier"));
    if (!t || tier_valid(t)) return 0;
    emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
              "Invalid request: Invalid Tier (%s) for (%s) Edition (ENTERPRISE).", t,
              json_string_value(json_object_get(body, "databaseVersion")) ?: "POSTGRES_16");
    return -1;
}

static void inst_insert(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *p = req->params[0];
    if (emu_validate(resp, "sqladmin", "DatabaseInstance", req->body) < 0 || tier_check(req->body, resp) < 0)
        return;
    const char *name = json_string_value(json_object_get(req->body, "name"));
    if (!valid_name(name)) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid", "Invalid request: instance name (%s).",
                  name ? name : "");
        return;
    }
    char *key = inst_key(p, name);
    if (emu_get(emu, key)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "instanceAlreadyExists",
                  "The Cloud SQL instance already exists.");
        free(key);
        return;
    }
    json_t *inst = json_deep_copy(req->body);
    json_object_del(inst, "rootPassword");
    emu_set_default(inst, "databaseVersion", json_string("MYSQL_8_0"));
    emu_set_default(inst, "region", json_string("us-central1"));
    const char *region = json_string_value(json_object_get(inst, "region"));
    json_t *s = json_object_get(inst, "settings");
    if (!json_is_object(s)) {
        s = json_object();
        json_object_set_new(inst, "settings", s);
    }
    const char *zone = json_string_value(json_object_get(json_object_get(s, "locationPreference"), "zone"));
    char *defzone = xasprintf("%s-b", region);
    if (!zone) zone = defzone;
    settings_defaults(s, zone);
    json_object_set_new(s, "settingsVersion", json_string("1"));
    json_object_set_new(inst, "kind", json_string("sql#instance"));
    json_object_set_new(inst, "state", json_string("PENDING_CREATE"));
    json_object_set_new(inst, "project", json_string(p));
    json_object_set_new(inst, "gceZone", json_string(zone));
    json_object_set_new(inst, "backendType", json_string("SECOND_GEN"));
    emu_set_default(inst, "instanceType", json_string("CLOUD_SQL_INSTANCE"));
    json_object_set_new(inst, "createTime", json_string(emu_now()));
    json_object_set_new(inst, "databaseInstalledVersion",
                        json_string(json_string_value(json_object_get(inst, "databaseVersion"))));
    char *conn = xasprintf("%s:%s:%s", p, region, name);
    char *self = xasprintf(API_BASE "/projects/%s/instances/%s", p, name);
    char h[9];
    util_random_hex(h, 4);
    char *sa = xasprintf("p%s-%s@gcp-sa-cloud-sql.iam.gserviceaccount.com", emu_project_number(emu, p), h);
    json_object_set_new(inst, "connectionName", json_string(conn));
    json_object_set_new(inst, "selfLink", json_string(self));
    json_object_set_new(inst, "serviceAccountEmailAddress", json_string(sa));
    json_object_set_new(inst, "ipAddresses", json_array());
    json_object_set_new(inst, "etag", json_string(h));
    resp->body = start_op(emu, p, name, key, inst, "CREATE", "sqladmin.instances.create");
    emu_put(emu, key, inst);
    free(conn);
    free(self);
    free(sa);
    free(defzone);
    free(key);
}

static void inst_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *inst = load_inst(emu, req->params[0], req->params[1], resp, &key);
    if (!inst) return;
    resp->body = emu_strip(inst);
    json_decref(inst);
    free(key);
}

static void inst_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *prefix = xasprintf("sqladmin/projects/%s/instances/", req->params[0]);
    json_t *all = emu_children(emu, prefix, true);
    resp->body = json_pack("{s:s}", "kind", "sql#instancesList");
    emu_page_into(req, resp->body, "items", all, "maxResults", 500, true);
    json_decref(all);
    free(prefix);
}

static const char *const output_only[] = {"kind",
                                          "selfLink",
                                          "connectionName",
                                          "ipAddresses",
                                          "state",
                                          "gceZone",
                                          "serviceAccountEmailAddress",
                                          "createTime",
                                          "backendType",
                                          "serverCaCert",
                                          "databaseInstalledVersion",
                                          "project",
                                          "etag",
                                          "secondaryGceZone",
                                          "dnsName",
                                          "dnsNames",
                                          "satisfiesPzs",
                                          "upgradableDatabaseVersions",
                                          "availableMaintenanceVersions",
                                          NULL};

static const char *const immutable[] = {"name", "region", "masterInstanceName", "encryptionKeyName", NULL};

/* patch (merge) and update (PUT, full settings). */
static void inst_change(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, int full) {
    const char *p = req->params[0], *name = req->params[1];
    if (emu_validate(resp, "sqladmin", "DatabaseInstance", req->body) < 0 || tier_check(req->body, resp) < 0)
        return;
    char *key;
    json_t *inst = load_inst(emu, p, name, resp, &key);
    if (!inst) return;
    json_t *body = req->body ? json_deep_copy(req->body) : json_object();
    json_t *bs = json_object_get(body, "settings");
    json_t *cs = json_object_get(inst, "settings");
    const char *cur_ver = json_string_value(json_object_get(cs, "settingsVersion")) ?: "1";
    json_t *given = json_object_get(bs, "settingsVersion");
    for (size_t i = 0; output_only[i]; i++)
        json_object_del(body, output_only[i]);
    if (emu_check_immutable(resp, inst, body, immutable) < 0) goto out;
    if (full && !given) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                  "Invalid request: settings.settingsVersion is required for update.");
        goto out;
    }
    if (given && !json_is_null(given) && emu_int64(given) != strtoll(cur_ver, NULL, 10)) {
        emu_error(resp, 412, "FAILED_PRECONDITION", "staleData", "Condition does not match.");
        goto out;
    }
    json_t *old_ipc = json_object_get(cs, "ipConfiguration");
    const char *old_pn = json_string_value(json_object_get(old_ipc, "privateNetwork"));
    json_t *new_ipc = json_object_get(bs, "ipConfiguration");
    if (old_pn && *old_pn && (full || new_ipc)) {
        json_t *np = json_object_get(new_ipc, "privateNetwork");
        int removed = full ? (!np || json_is_null(np) || !*(json_string_value(np) ?: ""))
                           : (np && (json_is_null(np) || !*(json_string_value(np) ?: "")));
        if (removed) {
            emu_error(resp, 400, "INVALID_ARGUMENT", "invalid",
                      "Invalid request: settings.ipConfiguration.privateNetwork can be updated, "
                      "but it cannot be removed.");
            goto out;
        }
    }
    if (refuse_if_busy(emu, inst, resp) < 0) goto out;
    int64_t ver = strtoll(cur_ver, NULL, 10) + 1;
    if (bs) json_object_del(bs, "settingsVersion");
    if (full && bs) {
        json_t *ns = json_deep_copy(bs);
        settings_defaults(ns, json_string_value(json_object_get(inst, "gceZone")) ?: "");
        json_object_set_new(inst, "settings", ns);
        json_object_del(body, "settings");
    }
    emu_merge_patch(inst, body);
    char vbuf[32];
    snprintf(vbuf, sizeof vbuf, "%lld", (long long)ver);
    json_object_set_new(json_object_get(inst, "settings"), "settingsVersion", json_string(vbuf));
    if (!strcmp(json_string_value(json_object_get(inst, "state")) ?: "", "RUNNABLE")) set_ips(inst);
    resp->body = start_op(emu, p, name, key, inst, "UPDATE", "sqladmin.instances.update");
    emu_put(emu, key, inst);
    inst = NULL;
out:
    json_decref(body);
    json_decref(inst);
    free(key);
}

static void inst_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    inst_change(emu, req, resp, 0);
}
static void inst_update(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    inst_change(emu, req, resp, 1);
}

static void inst_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *inst = load_inst(emu, req->params[0], req->params[1], resp, &key);
    if (!inst) return;
    if (json_is_true(json_object_get(json_object_get(inst, "settings"), "deletionProtectionEnabled"))) {
        emu_error(resp, 400, "FAILED_PRECONDITION", "deletionProtectionEnabled",
                  "The instance is protected by deletion protection. Disable deletion protection "
                  "(settings.deletionProtectionEnabled=false) before deleting it.");
    } else if (refuse_if_busy(emu, inst, resp) == 0) {
        json_object_set_new(inst, "state", json_string("PENDING_DELETE"));
        resp->body =
            start_op(emu, req->params[0], req->params[1], key, inst, "DELETE", "sqladmin.instances.delete");
        emu_put(emu, key, inst);
        inst = NULL;
    }
    json_decref(inst);
    free(key);
}

static void inst_restart(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *inst = load_inst(emu, req->params[0], req->params[1], resp, &key);
    if (!inst) return;
    if (refuse_if_busy(emu, inst, resp) == 0) {
        resp->body =
            start_op(emu, req->params[0], req->params[1], key, inst, "RESTART", "sqladmin.instances.restart");
        emu_put(emu, key, inst);
        inst = NULL;
    }
    json_decref(inst);
    free(key);
}

/* ---- databases ----------------------------------------------------------- */

/* Loads the instance for a child operation: it must exist and be running. */
static json_t *load_parent(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **key) {
    json_t *inst = load_inst(emu, req->params[0], req->params[1], resp, key);
    if (inst && strcmp(json_string_value(json_object_get(inst, "state")) ?: "", "RUNNABLE") &&
        strcmp(json_string_value(json_object_get(inst, "state")) ?: "", "PENDING_CREATE")) {
        emu_error(resp, 400, "FAILED_PRECONDITION", "invalidState",
                  "Invalid request since instance is not running.");
        json_decref(inst);
        free(*key);
        *key = NULL;
        return NULL;
    }
    return inst;
}

static void db_insert(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "sqladmin", "Database", req->body) < 0) return;
    const char *name = json_string_value(json_object_get(req->body, "name"));
    if (!name || !*name) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid", "Invalid request: database name is empty.");
        return;
    }
    char *key;
    json_t *inst = load_parent(emu, req, resp, &key);
    if (!inst) return;
    char *dkey = xasprintf("%s/databases/%s", key, name);
    if (emu_get(emu, dkey)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists",
                  "Invalid request: database \"%s\" already exists.", name);
    } else if (refuse_if_busy(emu, inst, resp) == 0) {
        const char *cs = json_string_value(json_object_get(req->body, "charset"));
        const char *co = json_string_value(json_object_get(req->body, "collation"));
        put_db(emu, key, req->params[0], req->params[1], name,
               cs            ? cs
               : is_pg(inst) ? "UTF8"
                             : "utf8mb3",
               co            ? co
               : is_pg(inst) ? "en_US.UTF8"
                             : "utf8mb3_general_ci");
        resp->body = start_op(emu, req->params[0], req->params[1], key, inst, "CREATE_DATABASE",
                              "sqladmin.databases.insert");
        emu_put(emu, key, inst);
        inst = NULL;
    }
    free(dkey);
    json_decref(inst);
    free(key);
}

static json_t *load_db(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, char **dkey) {
    *dkey = xasprintf("sqladmin/projects/%s/instances/%s/databases/%s", req->params[0], req->params[1],
                      req->params[2]);
    json_t *d = emu_get(emu, *dkey);
    if (!d) {
        char *ik = inst_key(req->params[0], req->params[1]);
        if (!emu_get(emu, ik))
            emu_error(resp, 404, "NOT_FOUND", "instanceDoesNotExist",
                      "The Cloud SQL instance does not exist.");
        else
            emu_not_found(resp, "Not Found");
        free(ik);
        free(*dkey);
        *dkey = NULL;
    }
    return d;
}

static void db_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *dkey;
    json_t *d = load_db(emu, req, resp, &dkey);
    if (d) resp->body = emu_strip(d);
    free(dkey);
}

static void db_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *inst = load_parent(emu, req, resp, &key);
    if (!inst) return;
    char *prefix = xasprintf("%s/databases/", key);
    resp->body =
        json_pack("{s:s,s:o}", "kind", "sql#databasesList", "items", emu_children(emu, prefix, false));
    free(prefix);
    json_decref(inst);
    free(key);
}

/* patch / update / delete of a database: all hold the instance's lock. */
static void db_change(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const char *type) {
    if (strcmp(type, "DELETE_DATABASE") && emu_validate(resp, "sqladmin", "Database", req->body) < 0) return;
    char *dkey, *key = NULL;
    json_t *d = load_db(emu, req, resp, &dkey);
    if (!d) return;
    json_t *inst = load_parent(emu, req, resp, &key);
    static const char *const imm[] = {"name", "instance", "project", NULL};
    if (!inst || refuse_if_busy(emu, inst, resp) < 0) goto out;
    if (strcmp(type, "DELETE_DATABASE")) {
        if (emu_check_immutable(resp, d, req->body, imm) < 0) goto out;
        json_t *nd = json_deep_copy(d);
        const char *fields[] = {"charset", "collation"};
        for (int i = 0; i < 2; i++) {
            json_t *v = json_object_get(req->body, fields[i]);
            if (json_is_string(v)) json_object_set(nd, fields[i], v);
        }
        emu_put(emu, dkey, nd);
    } else {
        emu_del(emu, dkey);
    }
    resp->body = start_op(emu, req->params[0], req->params[1], key, inst, type, "sqladmin.databases.change");
    emu_put(emu, key, inst);
    inst = NULL;
out:
    json_decref(inst);
    free(key);
    free(dkey);
}

static void db_patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    db_change(emu, req, resp, "UPDATE_DATABASE");
}
static void db_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    db_change(emu, req, resp, "DELETE_DATABASE");
}

/* ---- users --------------------------------------------------------------- */

static char *user_key(const char *ikey, const char *name, const char *host) {
    return xasprintf("%s/users/%s|%s", ikey, host ? host : "", name);
}

static void user_insert(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    if (emu_validate(resp, "sqladmin", "User", req->body) < 0) return;
    const char *name = json_string_value(json_object_get(req->body, "name"));
    if (!name || !*name) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "invalid", "Invalid request: user name is empty.");
        return;
    }
    char *key;
    json_t *inst = load_parent(emu, req, resp, &key);
    if (!inst) return;
    const char *host = json_string_value(json_object_get(req->body, "host"));
    if (!host && is_mysql(inst)) host = "%";
    char *ukey = user_key(key, name, host);
    if (emu_get(emu, ukey)) {
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists",
                  "Invalid request: user \"%s\" already exists.", name);
    } else if (refuse_if_busy(emu, inst, resp) == 0) {
        put_user(emu, key, req->params[0], req->params[1], name, host,
                 json_string_value(json_object_get(req->body, "type")));
        resp->body =
            start_op(emu, req->params[0], req->params[1], key, inst, "CREATE_USER", "sqladmin.users.insert");
        emu_put(emu, key, inst);
        inst = NULL;
    }
    free(ukey);
    json_decref(inst);
    free(key);
}

static void user_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *inst = load_parent(emu, req, resp, &key);
    if (!inst) return;
    char *prefix = xasprintf("%s/users/", key);
    resp->body = json_pack("{s:s,s:o}", "kind", "sql#usersList", "items", emu_children(emu, prefix, false));
    free(prefix);
    json_decref(inst);
    free(key);
}

static void user_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    json_t *inst = load_inst(emu, req->params[0], req->params[1], resp, &key);
    if (!inst) return;
    const char *host = emu_q(req, "host");
    if (!host && is_mysql(inst)) host = "%";
    char *ukey = user_key(key, req->params[2], host);
    json_t *u = emu_get(emu, ukey);
    if (u)
        resp->body = emu_strip(u);
    else
        emu_not_found(resp, "Not Found");
    free(ukey);
    json_decref(inst);
    free(key);
}

/* PUT/DELETE .../users?name=&host= */
static void user_change(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, int del) {
    if (!del && emu_validate(resp, "sqladmin", "User", req->body) < 0) return;
    const char *name = emu_q(req, "name");
    if (!name) {
        emu_error(resp, 400, "INVALID_ARGUMENT", "required", "Required parameter: name");
        return;
    }
    char *key;
    json_t *inst = load_parent(emu, req, resp, &key);
    if (!inst) return;
    const char *host = emu_q(req, "host");
    if (!host && is_mysql(inst)) host = "%";
    char *ukey = user_key(key, name, host);
    json_t *u = emu_get(emu, ukey);
    if (!u) {
        emu_not_found(resp, "Not Found");
    } else if (refuse_if_busy(emu, inst, resp) == 0) {
        if (del) emu_del(emu, ukey);
        resp->body = start_op(emu, req->params[0], req->params[1], key, inst,
                              del ? "DELETE_USER" : "UPDATE_USER", "sqladmin.users.change");
        emu_put(emu, key, inst);
        inst = NULL;
    }
    free(ukey);
    json_decref(inst);
    free(key);
}

static void user_update(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    user_change(emu, req, resp, 0);
}
static void user_delete(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    user_change(emu, req, resp, 1);
}

/* ---- operations ---------------------------------------------------------- */

static void op_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key = xasprintf("sqladmin/projects/%s/operations/%s", req->params[0], req->params[1]);
    json_t *op = emu_get(emu, key);
    if (op)
        resp->body = emu_strip(op);
    else
        emu_error(resp, 404, "NOT_FOUND", "operationDoesNotExist", "The Cloud SQL operation does not exist.");
    free(key);
}

static void op_list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    const char *inst = emu_q(req, "instance");
    char *prefix = xasprintf("sqladmin/projects/%s/operations/", req->params[0]);
    json_t *keys = emu_keys(emu, prefix), *k, *all = json_array();
    size_t i;
    json_array_foreach(keys, i, k) {
        json_t *op = emu_get(emu, json_string_value(k));
        if (inst && strcmp(inst, json_string_value(json_object_get(op, "targetId")) ?: "")) continue;
        json_array_append_new(all, emu_strip(op));
    }
    resp->body = json_pack("{s:s}", "kind", "sql#operationsList");
    emu_page_into(req, resp->body, "items", all, "maxResults", 500, true);
    json_decref(all);
    json_decref(keys);
    free(prefix);
}

static void tiers(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    resp->body =
        json_pack("{s:s,s:[{s:s,s:s,s:s,s:s},{s:s,s:s,s:s,s:s}]}", "kind", "sql#tiersList", "items", "kind",
                  "sql#tier", "tier", "db-f1-micro", "RAM", "644245094", "DiskQuota", "3221225472000", "kind",
                  "sql#tier", "tier", "db-custom-1-3840", "RAM", "4026531840", "DiskQuota", "3221225472000");
}

static void init(emu_t *emu) {
    emu_resume_ops(emu, "sqladmin/projects/", "/operations/", op_finish);
}

#define IN "sql/v1beta4/projects/{p}/instances"
static const emu_route_t routes[] = {
    {"POST", IN, inst_insert},
    {"GET", IN, inst_list},
    {"GET", IN "/{i}", inst_get},
    {"PATCH", IN "/{i}", inst_patch},
    {"PUT", IN "/{i}", inst_update},
    {"DELETE", IN "/{i}", inst_delete},
    {"POST", IN "/{i}/restart", inst_restart},
    {"POST", IN "/{i}/databases", db_insert},
    {"GET", IN "/{i}/databases", db_list},
    {"GET", IN "/{i}/databases/{d}", db_get},
    {"PATCH", IN "/{i}/databases/{d}", db_patch},
    {"PUT", IN "/{i}/databases/{d}", db_patch},
    {"DELETE", IN "/{i}/databases/{d}", db_delete},
    {"POST", IN "/{i}/users", user_insert},
    {"GET", IN "/{i}/users", user_list},
    {"GET", IN "/{i}/users/{u}", user_get},
    {"PUT", IN "/{i}/users", user_update},
    {"DELETE", IN "/{i}/users", user_delete},
    {"GET", "sql/v1beta4/projects/{p}/operations", op_list},
    {"GET", "sql/v1beta4/projects/{p}/operations/{op}", op_get},
    {"GET", "sql/v1beta4/projects/{p}/tiers", tiers},
};

const emu_api_t emu_api_sqladmin = {"sqladmin", routes, sizeof routes / sizeof routes[0], init};
