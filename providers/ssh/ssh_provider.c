/* ssh_provider.c: the "ssh" provider and its resource type ssh.exec, which
 * uploads files and runs a script on a host (optionally through a bastion)
 * when created or when any of its inputs change.  Nothing remote can be
 * read back, so the type sets local_state and puts digests of its inputs
 * (script file content, env, files, triggers) into the body: changing any
 * of them shows in the plan and re-runs the script. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "core/rtype.h"
#include "transport/ssh.h"

typedef struct ssh_prov {
    ssh_pool_t *pool;
    json_t *config; /* provider block: defaults for connection fields */
} ssh_prov_t;

static const char *const conn_fields[] = {"host",
                                          "port",
                                          "user",
                                          "private_key_file",
                                          "private_key_passphrase",
                                          "use_agent",
                                          "host_key_sha256",
                                          "known_hosts_file",
                                          "trust_on_first_use",
                                          "connect_timeout",
                                          "via",
                                          NULL};

static const char *const exec_fields[] = {"host",
                                          "port",
                                          "user",
                                          "private_key_file",
                                          "private_key_passphrase",
                                          "use_agent",
                                          "host_key_sha256",
                                          "known_hosts_file",
                                          "trust_on_first_use",
                                          "connect_timeout",
                                          "via",
                                          "script",
                                          "script_file",
                                          "env",
                                          "sensitive_env",
                                          "files",
                                          "triggers",
                                          "timeout",
                                          "destroy_script",
                                          "_spec_dir",
                                          "script_sha256",
                                          "env_sha256",
                                          "files_sha256",
                                          "triggers_sha256",
                                          NULL};

static int in_list(const char *const *l, const char *s) {
    for (; *l; l++)
        if (strcmp(*l, s) == 0) return 1;
    return 0;
}

static int is_deferred(const json_t *v) {
    return json_is_object(v) && json_object_get(v, "$plinth") != NULL;
}

static int contains_deferred(const json_t *v) {
    if (is_deferred(v)) return 1;
    const char *k;
    json_t *x;
    size_t i;
    if (json_is_object(v)) {
        json_object_foreach((json_t *)v, k, x) if (contains_deferred(x)) return 1;
    } else if (json_is_array(v)) {
        json_array_foreach(v, i, x) if (contains_deferred(x)) return 1;
    }
    return 0;
}

static char *sha_json(const json_t *v) {
    char *s = json_dumps(v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    char hex[65];
    util_sha256_hex(s, strlen(s), hex);
    free(s);
    return xstrdup(hex);
}

/* A local path as the user wrote it: ~ is $HOME, relative paths are under
 * the spec's directory (body field _spec_dir, set by the engine) or cwd. */
static char *local_path(const json_t *body, const char *p) {
    if (p[0] == '~' && (p[1] == '/' || !p[1])) {
        const char *home = getenv("HOME");
        return xasprintf("%s%s", home ? home : "", p + 1);
    }
    const char *dir = json_string_value(json_object_get(body, "_spec_dir"));
    if (p[0] == '/' || !dir || !*dir) return xstrdup(p);
    return xasprintf("%s/%s", dir, p);
}

/* ---- validation ---- */

static int check_env(const json_t *body, const char *name, perr_t *e) {
    json_t *env = json_object_get(body, name);
    if (!env || json_is_null(env) || is_deferred(env)) return 0;
    if (!json_is_object(env)) {
        perr_set(e, "", "%s: expected a table of NAME = \"value\"", name);
        return -1;
    }
    const char *k;
    json_t *v;
    json_object_foreach(env, k, v) {
        int ok = (k[0] == '_' || (k[0] >= 'A' && k[0] <= 'Z') || (k[0] >= 'a' && k[0] <= 'z'));
        for (const char *q = k; *q && ok; q++)
            ok =
                *q == '_' || (*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9');
        if (!ok) {
            perr_set(e, "",
                     "%s.%s: not a valid environment variable name "
                     "(letters, digits, _; not starting with a digit)",
                     name, k);
            return -1;
        }
        if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v) && !is_deferred(v)) {
            perr_set(e, "", "%s.%s: expected a string, number or boolean", name, k);
            return -1;
        }
    }
    return 0;
}

/* Checks the fields of a body, not the connection (which the provider
 * block may complete), as far as they are known (deferred values are
 * skipped). */
static int fields_check(const json_t *body, perr_t *e) {
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (!in_list(exec_fields, k)) {
            perr_set(e, "",
                     "%s: unknown field of ssh.exec (known: host, port, user, "
                     "private_key_file, use_agent, private_key_passphrase, host_key_sha256, "
                     "known_hosts_file, trust_on_first_use, via, script, script_file, env, "
                     "sensitive_env, files, triggers, timeout, destroy_script)",
                     k);
            return -1;
        }
    }
    json_t *script = json_object_get(body, "script"), *file = json_object_get(body, "script_file");
    if (script && file) {
        perr_set(e, "", "script and script_file are exclusive: set one");
        return -1;
    }
    if (!script && !file) {
        perr_set(e, "", "script or script_file: one is required (the commands to run)");
        return -1;
    }
    if (script && !json_is_string(script) && !is_deferred(script)) {
        perr_set(e, "", "script: expected a string (shell commands)");
        return -1;
    }
    if (file && !json_is_string(file)) {
        perr_set(e, "", "script_file: expected a path string");
        return -1;
    }
    json_t *ds = json_object_get(body, "destroy_script");
    if (ds && !json_is_string(ds) && !is_deferred(ds)) {
        perr_set(e, "", "destroy_script: expected a string (shell commands)");
        return -1;
    }
    if (check_env(body, "env", e) || check_env(body, "sensitive_env", e)) return -1;
    json_t *files = json_object_get(body, "files");
    if (files && !is_deferred(files)) {
        if (!json_is_object(files)) {
            perr_set(e, "", "files: expected a table of [\"/remote/path\"] = \"local/path\"");
            return -1;
        }
        json_object_foreach(files, k, v) {
            if (!*k) {
                perr_set(e, "", "files: a remote path is empty");
                return -1;
            }
            if (!json_is_string(v) && !is_deferred(v)) {
                perr_set(e, "", "files[\"%s\"]: expected a local path string", k);
                return -1;
            }
        }
    }
    json_t *to = json_object_get(body, "timeout");
    if (to && !((json_is_integer(to) && json_integer_value(to) > 0) ||
                (json_is_real(to) && json_real_value(to) >= 1))) {
        perr_set(e, "", "timeout: expected a positive number of seconds");
        return -1;
    }
    return 0;
}

/* Checks a body as far as it is known (deferred values are skipped). */
static int body_check(const json_t *body, perr_t *e) {
    if (fields_check(body, e)) return -1;
    /* Connection fields: only check what is already known. */
    json_t *conn = json_object();
    for (const char *const *f = conn_fields; *f; f++) {
        json_t *x = json_object_get(body, *f);
        if (x) json_object_set(conn, *f, x);
    }
    int rc = 0;
    if (contains_deferred(conn)) {
        json_t *h = json_object_get(conn, "host"), *u = json_object_get(conn, "user");
        if (!h || !u) {
            perr_set(e, "", "%s: required", !h ? "host" : "user");
            rc = -1;
        }
    } else {
        rc = ssh_cfg_check(conn, "", e);
    }
    json_decref(conn);
    return rc;
}

/* ---- digests ---- */

/* Reads the script (inline or script_file); new string or NULL + e. */
static char *script_text(const json_t *body, const char *field, size_t *len, perr_t *e) {
    json_t *s = json_object_get(body, field);
    if (s) {
        if (!json_is_string(s)) {
            perr_set(e, "", "%s: not known yet (deferred value unresolved at create time)", field);
            return NULL;
        }
        *len = json_string_length(s);
        return xstrndup(json_string_value(s), *len);
    }
    const char *f = json_string_value(json_object_get(body, "script_file"));
    if (!f || strcmp(field, "script")) {
        perr_set(e, "", "%s: missing", field);
        return NULL;
    }
    char *path = local_path(body, f);
    char *data = util_read_file(path, len, e);
    if (!data) perr_set(e, "", "script_file: cannot read %s", path);
    free(path);
    return data;
}

/* sha256 over "remote\0sha256(content)\n" in remote-path order. */
static char *files_digest(const json_t *body, perr_t *e) {
    json_t *files = json_object_get(body, "files");
    const char **keys = xcalloc(json_object_size(files) + 1, sizeof *keys);
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(files, k, v) keys[n++] = k;
    qsort(keys, n, sizeof *keys, (int (*)(const void *, const void *))strcmp);
    sbuf_t b = {0};
    char *out = NULL;
    for (size_t i = 0; i < n; i++) {
        const char *lp = json_string_value(json_object_get(files, keys[i]));
        if (!lp) goto done;
        char *path = local_path(body, lp);
        size_t len;
        char *data = util_read_file(path, &len, e);
        if (!data) {
            perr_set(e, "", "files[\"%s\"]: cannot read %s", keys[i], path);
            free(path);
            goto done;
        }
        char hex[65];
        util_sha256_hex(data, len, hex);
        free(data);
        free(path);
        sbuf_add(&b, keys[i]);
        sbuf_addc(&b, 0);
        sbuf_add(&b, hex);
        sbuf_addc(&b, '\n');
    }
    char hex[65];
    util_sha256_hex(b.s ? b.s : "", b.len, hex);
    out = xstrdup(hex);
done:
    sbuf_free(&b);
    free(keys);
    return out;
}

static void set_digest(json_t *body, const char *field, char *hex) {
    if (hex) json_object_set_new(body, field, json_string(hex));
    free(hex);
}

/* Digests of the inputs, as known now (unknown ones are left out). */
static void add_digests(json_t *body) {
    perr_t e;
    size_t len;
    char *s = NULL;
    json_t *sc = json_object_get(body, "script");
    if (!sc || json_is_string(sc)) s = script_text(body, "script", &len, &e);
    if (s) {
        char hex[65];
        util_sha256_hex(s, len, hex);
        set_digest(body, "script_sha256", xstrdup(hex));
        free(s);
    }
    json_t *env = json_object_get(body, "env");
    if (env && !contains_deferred(env)) set_digest(body, "env_sha256", sha_json(env));
    json_t *files = json_object_get(body, "files");
    if (json_is_object(files) && !contains_deferred(files))
        set_digest(body, "files_sha256", files_digest(body, &e));
    json_t *tr = json_object_get(body, "triggers");
    if (tr && !contains_deferred(tr)) set_digest(body, "triggers_sha256", sha_json(tr));
}

/* ---- callbacks ---- */

static void exec_defaults(const rtype_t *t, void *prov, const char *spec_name, json_t *body) {
    ssh_prov_t *p = prov;
    if (p && p->config) {
        const char *k;
        json_t *v;
        json_object_foreach(p->config, k, v) if (in_list(conn_fields, k) && !json_object_get(body, k))
            json_object_set(body, k, v);
    }
    if (json_is_object(body)) add_digests(body);
}

static void fail_at(rctx_t *c) {
    snprintf(c->err->where, sizeof c->err->where, "%s", c->addr ? c->addr : "ssh.exec");
}

static char *exec_id_of(rctx_t *c, const json_t *desired) {
    if (body_check(desired, c->err)) {
        fail_at(c);
        return NULL;
    }
    return xstrdup(c->addr ? c->addr : "ssh.exec");
}

typedef struct line_ctx {
    rctx_t *c;
} line_ctx_t;

static void on_line(void *ud, const char *line) {
    rctx_t *c = ((line_ctx_t *)ud)->c;
    if (c->progress) c->progress(c->ud, c->addr, line);
}

/* Uploads body.files before the script: 0, -1 (e filled), or -2 when
 * SFTP could not start on this session. */
static int upload_files(rctx_t *c, ssh_conn_t *conn, const json_t *body, const char *field) {
    json_t *files = json_object_get(body, "files");
    if (!files || strcmp(field, "script") != 0) return 0;
    const char *k;
    json_t *v;
    json_object_foreach(files, k, v) {
        char *path = local_path(body, json_string_value(v));
        size_t len;
        char *data = util_read_file(path, &len, c->err);
        struct stat st;
        int mode = stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : 0644;
        if (!data) perr_set(c->err, "", "files[\"%s\"]: cannot read %s", k, path);
        free(path);
        if (!data) return -1;
        int r = ssh_sftp_upload(conn, k, data, len, mode, c->err);
        free(data);
        if (r) return r;
    }
    return 0;
}

/* Runs the script: 0 (see *status), -2 not started, -3 failed midway
 * (the session is suspect). */
static int exec_on(rctx_t *c, ssh_conn_t *conn, const json_t *body, const char *script, size_t slen,
                   int *status, char **tail) {
    json_t *to = json_object_get(body, "timeout");
    line_ctx_t lc = {c};
    ssh_exec_opts_t o = {
        .script = script,
        .script_len = slen,
        .env = json_object_get(body, "env"),
        .sensitive_env = json_object_get(body, "sensitive_env"),
        .timeout_sec = to ? (int)json_number_value(to) : 600,
        .cancel = c->cancel,
        .on_line = on_line,
        .ud = &lc,
    };
    int r = ssh_exec(conn, &o, status, tail, c->err);
    return r == 0 ? 0 : r == -2 ? -2 : -3;
}

/* Uploads files, then runs body[field]; on success returns 0 and sets
 * *live (if non-NULL) to the body as applied. */
static int run(rctx_t *c, const json_t *body, const char *field, json_t **live) {
    ssh_prov_t *p = c->prov;
    perr_t *e = c->err;
    int rc = -1, status = -1;
    char *script = NULL, *tail = NULL;
    ssh_conn_t *conn = NULL;
    if (body_check(body, e)) goto out;
    if (contains_deferred(body)) {
        perr_set(e, "", "the body still holds values not known yet (deferred references)");
        goto out;
    }
    size_t slen = 0;
    if (!(script = script_text(body, field, &slen, e))) goto out;
    if (strcmp(field, "script") == 0) {
        const char *want = json_string_value(json_object_get(body, "script_sha256"));
        char hex[65];
        util_sha256_hex(script, slen, hex);
        if (want && strcmp(want, hex) != 0) {
            perr_set(e, "", "script_file %s changed since the plan was made; plan again",
                     json_string_value(json_object_get(body, "script_file")));
            goto out;
        }
    }
    /* A pooled session may have died while idle (NAT timeouts, sshd
     * restart), or a busy sshd may refuse a channel: when nothing could
     * start, retry (twice, with a short pause) on a new session. */
    for (int attempt = 0;; attempt++) {
        if (!(conn = ssh_conn_acquire(p->pool, body, e))) goto out;
        int r = upload_files(c, conn, body, field);
        if (r == 0) r = exec_on(c, conn, body, script, slen, &status, &tail);
        if (r == 0) break;
        ssh_conn_release(conn, r == -2 || r == -3);
        conn = NULL;
        if (r != -2 || attempt >= 2) goto out;
        free(tail);
        tail = NULL;
        struct timespec pause = {0, (attempt + 1) * 200 * 1000 * 1000L};
        nanosleep(&pause, NULL);
    }
    if (status != 0) {
        perr_set(e, "", "exit status %d; last lines:\n%s", status, tail);
        goto out;
    }
    if (live) {
        *live = json_deep_copy(body);
        json_object_set_new(*live, "exit_status", json_integer(0));
    }
    rc = 0;
out:
    if (conn) ssh_conn_release(conn, 0);
    if (rc) fail_at(c);
    free(script);
    free(tail);
    return rc;
}

static int exec_create(rctx_t *c, const json_t *desired, char **id, json_t **live) {
    *id = NULL;
    *live = NULL;
    if (run(c, desired, "script", live)) return -1;
    *id = xstrdup(c->addr ? c->addr : "ssh.exec");
    return 0;
}

static int exec_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                       const strlist_t *changed, json_t **newlive) {
    *newlive = NULL;
    return run(c, desired, "script", newlive);
}

/* Nothing to query remotely: echoes the desired body (with the digests
 * defaults() computed).  The engine should not call this for a type with
 * local_state set; it exists so that a refresh never plans a spurious
 * re-run. */
static int exec_read(rctx_t *c, const char *id, const json_t *desired, json_t **live) {
    *live = NULL;
    if (!desired) return 0;
    *live = json_deep_copy(desired);
    json_object_set_new(*live, "exit_status", json_integer(0));
    return 0;
}

static int exec_remove(rctx_t *c, const char *id, const json_t *live) {
    if (!live || !json_is_string(json_object_get(live, "destroy_script"))) return 0;
    /* live comes from state, where sensitive values are stored hashed
     * ("sha256:..."): the destroy script runs without them. */
    json_t *body = json_deep_copy(live);
    json_object_del(body, "exit_status");
    if (!json_is_object(json_object_get(body, "sensitive_env"))) json_object_del(body, "sensitive_env");
    for (json_t *o = body; json_is_object(o); o = json_object_get(o, "via")) {
        const char *pp = json_string_value(json_object_get(o, "private_key_passphrase"));
        if (pp && strncmp(pp, "sha256:", 7) == 0) json_object_del(o, "private_key_passphrase");
    }
    int rc = run(c, body, "destroy_script", NULL);
    json_decref(body);
    return rc;
}

/* user may come from the provider block, which validate does not see. */
static const char *const exec_required[] = {"host", NULL};
static const char *const exec_sensitive[] = {"sensitive_env", "private_key_passphrase",
                                             "via.private_key_passphrase", NULL};
static const char *const exec_ignore[] = {"_spec_dir", "timeout", "connect_timeout", "exit_status", NULL};
static const char *const exec_immutable[] = {NULL};

static const rtype_t ssh_exec_type = {
    .name = "ssh.exec",
    .api = NULL,
    .message = NULL,
    .extra_fields = exec_fields,
    .required = exec_required,
    .immutable = exec_immutable,
    .sensitive = exec_sensitive,
    .ignore = exec_ignore,
    .defaults = exec_defaults,
    .id_of = exec_id_of,
    .read = exec_read,
    .create = exec_create,
    .update = exec_update,
    .remove = exec_remove,
    .local_state = 1,
};

static void *ssh_open(const json_t *config, const prov_env_t *env, perr_t *e) {
    if (config && !json_is_null(config)) {
        if (!json_is_object(config)) {
            perr_set(e, "provider.ssh", "expected a table of connection defaults");
            return NULL;
        }
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)config, k, v) if (!in_list(conn_fields, k)) {
            perr_set(e, "provider.ssh",
                     "%s: unknown field (the ssh provider block takes "
                     "connection defaults: user, port, private_key_file, "
                     "use_agent, known_hosts_file, via, ...)",
                     k);
            return NULL;
        }
    }
    ssh_prov_t *p = xcalloc(1, sizeof *p);
    p->pool = ssh_pool_new();
    if (json_is_object(config)) p->config = json_deep_copy(config);
    return p;
}

static void ssh_close(void *prov) {
    ssh_prov_t *p = prov;
    if (!p) return;
    ssh_pool_free(p->pool);
    json_decref(p->config);
    free(p);
}

static const rtype_t *const ssh_types[] = {&ssh_exec_type, NULL};

/* rtype.h validate: the body's own fields, located at the declaration. */
static void ssh_validate(const rtype_t *t, const json_t *body, const char *addr, const char *where,
                         diag_t *d) {
    perr_t e = {0};
    if (json_is_object(body) && fields_check(body, &e) != 0) diag_add(d, where, "%s: %s", addr, e.msg);
}

/* rtype.h prepare: script_file and files are read relative to the file
 * that declared the resource. */
static void ssh_prepare(const rtype_t *t, json_t *body, const char *spec_dir) {
    json_object_set_new(body, "_spec_dir", json_string(spec_dir));
}

const provider_def_t ssh_provider = {
    .name = "ssh",
    .open = ssh_open,
    .close = ssh_close,
    .types = ssh_types,
    .validate = ssh_validate,
    .prepare = ssh_prepare,
};
