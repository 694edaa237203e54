/* srv_db.c: the server's durable records in SQLite: environments, their
 * events, the audit log and browser sessions.  A restart loses nothing:
 * every status change and every output line is committed before the server
 * acts on it.  One connection behind a mutex (see serve.h for why). */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve.h"

struct srv_db {
    sqlite3 *h;
    pthread_mutex_t mu;
};

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA synchronous=FULL;"
    "CREATE TABLE IF NOT EXISTS envs (id TEXT PRIMARY KEY, name TEXT NOT NULL, module TEXT NOT NULL,"
    " inputs TEXT NOT NULL, status TEXT NOT NULL, plan TEXT, outputs TEXT, error TEXT,"
    " requested_by TEXT NOT NULL, approved_by TEXT, ttl TEXT, ttl_s INTEGER,"
    " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, expires_at INTEGER);"
    "CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, env TEXT NOT NULL,"
    " ts INTEGER NOT NULL, type TEXT NOT NULL, message TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS events_env ON events(env, seq);"
    "CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,"
    " user TEXT NOT NULL, action TEXT NOT NULL, env TEXT, detail TEXT);"
    "CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL, created_at INTEGER NOT "
    "NULL);";

srv_db_t *srv_db_open(const char *path, perr_t *e) {
    srv_db_t *db = xcalloc(1, sizeof *db);
    char *msg = NULL;
    if (sqlite3_open(path, &db->h) != SQLITE_OK) {
        perr_set(e, path, "cannot open the server database: %s", sqlite3_errmsg(db->h));
        goto err;
    }
    sqlite3_busy_timeout(db->h, 5000);
    if (sqlite3_exec(db->h, schema, NULL, NULL, &msg) != SQLITE_OK) {
        perr_set(e, path, "cannot set up the server database: %s", msg ? msg : "?");
        sqlite3_free(msg);
        goto err;
    }
    pthread_mutex_init(&db->mu, NULL);
    return db;
err:
    sqlite3_close(db->h);
    free(db);
    return NULL;
}

void srv_db_close(srv_db_t *db) {
    if (!db) return;
    sqlite3_close(db->h);
    pthread_mutex_destroy(&db->mu);
    free(db);
}

/* Prepares sql and binds the NULL-terminated text arguments (NULL binds SQL
 * NULL is not possible through varargs, so text args are never NULL here). */
static sqlite3_stmt *prep(srv_db_t *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
    return st;
}

static void bind_text(sqlite3_stmt *st, int i, const char *v) {
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i) {
    return (const char *)sqlite3_column_text(st, i);
}

int srv_db_env_create(srv_db_t *db, const char *id, const char *name, const char *module,
                      const json_t *inputs, const char *ttl, long ttl_s, const char *user) {
    pthread_mutex_lock(&db->mu);
    int rc = -1;
    sqlite3_stmt *st = prep(db, "SELECT 1 FROM envs WHERE name = ? AND status NOT IN ('destroyed')");
    if (!st) goto out;
    bind_text(st, 1, name);
    if (sqlite3_step(st) == SQLITE_ROW) {
        rc = 1;
        goto out;
    }
    sqlite3_finalize(st);
    st = prep(db, "INSERT INTO envs (id, name, module, inputs, status, requested_by, ttl, ttl_s, created_at,"
                  " updated_at) VALUES (?, ?, ?, ?, 'planning', ?, ?, ?, ?, ?)");
    if (!st) goto out;
    char *in = json_dumps(inputs, JSON_COMPACT | JSON_SORT_KEYS);
    long now = (long)time(NULL);
    bind_text(st, 1, id);
    bind_text(st, 2, name);
    bind_text(st, 3, module);
    bind_text(st, 4, in);
    bind_text(st, 5, user);
    bind_text(st, 6, ttl);
    if (ttl_s > 0)
        sqlite3_bind_int64(st, 7, ttl_s);
    else
        sqlite3_bind_null(st, 7);
    sqlite3_bind_int64(st, 8, now);
    sqlite3_bind_int64(st, 9, now);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    free(in);
out:
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

static json_t *time_json(sqlite3_stmt *st, int i) {
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return json_null();
    char ts[32];
    util_rfc3339(ts, sqlite3_column_int64(st, i));
    return json_string(ts);
}

static json_t *text_json(sqlite3_stmt *st, int i, int parse) {
    const char *v = col_text(st, i);
    if (!v) return json_null();
    if (parse) {
        json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
        return j ? j : json_null();
    }
    return json_string(v);
}

#define ENV_COLS                                                                                             \
    "id, name, module, inputs, status, plan, outputs, error, requested_by, approved_by, ttl, created_at, "   \
    "updated_at, expires_at"

static json_t *env_row(sqlite3_stmt *st) {
    return json_pack("{s:s, s:s, s:s, s:o, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o}", "id",
                     col_text(st, 0), "name", col_text(st, 1), "module", col_text(st, 2), "inputs",
                     text_json(st, 3, 1), "status", col_text(st, 4), "plan", text_json(st, 5, 1), "outputs",
                     text_json(st, 6, 1), "error", text_json(st, 7, 0), "requested_by", col_text(st, 8),
                     "approved_by", text_json(st, 9, 0), "ttl", text_json(st, 10, 0), "created_at",
                     time_json(st, 11), "updated_at", time_json(st, 12), "expires_at", time_json(st, 13));
}

json_t *srv_db_env_get(srv_db_t *db, const char *id, int with_events) {
    pthread_mutex_lock(&db->mu);
    json_t *j = NULL;
    sqlite3_stmt *st = prep(db, "SELECT " ENV_COLS " FROM envs WHERE id = ?");
    if (st) {
        bind_text(st, 1, id);
        if (sqlite3_step(st) == SQLITE_ROW) j = env_row(st);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    if (j && with_events) json_object_set_new(j, "events", srv_db_events(db, id, 0));
    return j;
}

json_t *srv_db_env_list(srv_db_t *db) {
    pthread_mutex_lock(&db->mu);
    json_t *a = json_array();
    sqlite3_stmt *st = prep(db, "SELECT " ENV_COLS " FROM envs ORDER BY created_at, id");
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, env_row(st));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    return a;
}

/* col is one of a fixed set (never user input): it is spliced into SQL. */
int srv_db_env_set(srv_db_t *db, const char *id, const char *status, const char *col, const char *val) {
    static const char *const cols[] = {"plan", "outputs", "error", "approved_by", "expires_at", NULL};
    int ok_col = col == NULL;
    for (int i = 0; cols[i] && col; i++)
        ok_col |= !strcmp(cols[i], col);
    if (!ok_col) return -1;
    pthread_mutex_lock(&db->mu);
    char *sql = col ? xasprintf("UPDATE envs SET status = ?, updated_at = ?, %s = ? WHERE id = ?", col)
                    : xstrdup("UPDATE envs SET status = ?, updated_at = ? WHERE id = ?");
    sqlite3_stmt *st = prep(db, sql);
    int rc = -1;
    if (st) {
        bind_text(st, 1, status);
        sqlite3_bind_int64(st, 2, (long)time(NULL));
        if (col && !strcmp(col, "expires_at"))
            sqlite3_bind_int64(st, 3, atol(val));
        else if (col)
            bind_text(st, 3, val);
        bind_text(st, col ? 4 : 3, id);
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(st);
    free(sql);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

int srv_db_env_move(srv_db_t *db, const char *id, const char *from, const char *to) {
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st = prep(db, "UPDATE envs SET status = ?, updated_at = ? WHERE id = ? AND status = ?");
    int moved = 0;
    if (st) {
        bind_text(st, 1, to);
        sqlite3_bind_int64(st, 2, (long)time(NULL));
        bind_text(st, 3, id);
        bind_text(st, 4, from);
        if (sqlite3_step(st) == SQLITE_DONE) moved = sqlite3_changes(db->h) == 1;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    return moved;
}

void srv_db_env_ids(srv_db_t *db, const char *status, strlist_t *out) {
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st = prep(db, "SELECT id FROM envs WHERE status = ? ORDER BY created_at, id");
    if (st) bind_text(st, 1, status);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        strlist_add(out, col_text(st, 0));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
}

void srv_db_env_expired(srv_db_t *db, long now, strlist_t *out) {
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st = prep(
        db, "SELECT id FROM envs WHERE status = 'applied' AND expires_at IS NOT NULL AND expires_at <= ?");
    if (st) sqlite3_bind_int64(st, 1, now);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        strlist_add(out, col_text(st, 0));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
}

long srv_db_event(srv_db_t *db, const char *id, const char *type, const char *msg) {
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st = prep(db, "INSERT INTO events (env, ts, type, message) VALUES (?, ?, ?, ?)");
    long seq = -1;
    if (st) {
        bind_text(st, 1, id);
        sqlite3_bind_int64(st, 2, (long)time(NULL));
        bind_text(st, 3, type);
        bind_text(st, 4, msg);
        if (sqlite3_step(st) == SQLITE_DONE) seq = (long)sqlite3_last_insert_rowid(db->h);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    return seq;
}

json_t *srv_db_events(srv_db_t *db, const char *id, long after) {
    pthread_mutex_lock(&db->mu);
    json_t *a = json_array();
    sqlite3_stmt *st =
        prep(db, "SELECT seq, ts, type, message FROM events WHERE env = ? AND seq > ? ORDER BY seq");
    if (st) {
        bind_text(st, 1, id);
        sqlite3_bind_int64(st, 2, after);
    }
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, json_pack("{s:I, s:o, s:s, s:s}", "seq",
                                           (json_int_t)sqlite3_column_int64(st, 0), "ts", time_json(st, 1),
                                           "type", col_text(st, 2), "message", col_text(st, 3)));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    return a;
}

void srv_db_audit(srv_db_t *db, const char *user, const char *action, const char *env, const char *detail) {
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st = prep(db, "INSERT INTO audit (ts, user, action, env, detail) VALUES (?, ?, ?, ?, ?)");
    if (st) {
        sqlite3_bind_int64(st, 1, (long)time(NULL));
        bind_text(st, 2, user);
        bind_text(st, 3, action);
        bind_text(st, 4, env);
        bind_text(st, 5, detail);
        sqlite3_step(st);
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
}

json_t *srv_db_audit_list(srv_db_t *db) {
    pthread_mutex_lock(&db->mu);
    json_t *a = json_array();
    sqlite3_stmt *st = prep(db, "SELECT seq, ts, user, action, env, detail FROM audit ORDER BY seq");
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(a, json_pack("{s:I, s:o, s:s, s:s, s:o, s:o}", "seq",
                                           (json_int_t)sqlite3_column_int64(st, 0), "ts", time_json(st, 1),
                                           "user", col_text(st, 2), "action", col_text(st, 3), "environment",
                                           text_json(st, 4, 0), "detail", text_json(st, 5, 0)));
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    return a;
}

int srv_db_session_add(srv_db_t *db, const char *sid, const char *user) {
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st = prep(db, "INSERT INTO sessions (id, user, created_at) VALUES (?, ?, ?)");
    int rc = -1;
    if (st) {
        bind_text(st, 1, sid);
        bind_text(st, 2, user);
        sqlite3_bind_int64(st, 3, (long)time(NULL));
        rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    return rc;
}

char *srv_db_session_user(srv_db_t *db, const char *sid) {
    pthread_mutex_lock(&db->mu);
    sqlite3_stmt *st = prep(db, "SELECT user FROM sessions WHERE id = ?");
    char *u = NULL;
    if (st) {
        bind_text(st, 1, sid);
        if (sqlite3_step(st) == SQLITE_ROW) u = xstrdup(col_text(st, 0));
    }
    sqlite3_finalize(st);
    pthread_mutex_unlock(&db->mu);
    return u;
}
