/* state_lock.c: lock records: who holds a state's lock (user, host, pid and
 * its start time, operation, heartbeat), their JSON form and strict
 * parsing, and whether a lock is stale (its holder gone, or its lease
 * expired).  The backends take and release locks with these records. */
#include "state.h"
#include "state_int.h"

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- lock records ---- */

/* Start time of process pid (clock ticks since boot, field 22 of
 * /proc/PID/stat), 0 when unknown. */
static long long proc_start(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return 0;
    p++;
    for (int field = 3; field < 22 && *p; field++) { /* skip fields 3..21 */
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    return strtoll(p, NULL, 10);
}

void state_lock_init(state_lock_info_t *li, const char *op) {
    memset(li, 0, sizeof *li);
    char hex[33];
    util_random_hex(hex, 16);
    snprintf(li->id, sizeof li->id, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    const char *who = NULL;
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name && *pw->pw_name) who = pw->pw_name;
    if (!who) who = getenv("USER");
    snprintf(li->who, sizeof li->who, "%s", who && *who ? who : "unknown");
    if (gethostname(li->host, sizeof li->host) != 0 || !li->host[0])
        snprintf(li->host, sizeof li->host, "unknown");
    li->host[sizeof li->host - 1] = '\0';
    li->pid = (int)getpid();
    li->pid_start = proc_start(li->pid);
    snprintf(li->op, sizeof li->op, "%s", op && *op ? op : "unknown");
    util_rfc3339(li->created, (int64_t)time(NULL));
    memcpy(li->heartbeat, li->created, sizeof li->heartbeat);
}

char *state_lock_json(const state_lock_info_t *li) {
    json_t *o = json_object();
    json_object_set_new(o, "id", state_jstr(li->id));
    json_object_set_new(o, "who", state_jstr(li->who));
    json_object_set_new(o, "host", state_jstr(li->host));
    json_object_set_new(o, "pid", json_integer(li->pid));
    json_object_set_new(o, "op", state_jstr(li->op));
    json_object_set_new(o, "created", state_jstr(li->created));
    json_object_set_new(o, "heartbeat", state_jstr(li->heartbeat));
    if (li->pid_start) json_object_set_new(o, "pid_start", json_integer(li->pid_start));
    char *out = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(o);
    char *res = xasprintf("%s\n", out ? out : "{}");
    free(out);
    return res;
}

int state_lock_parse(const char *data, size_t len, const char *where, state_lock_info_t *li, perr_t *e) {
    memset(li, 0, sizeof *li);
    json_error_t je;
    json_t *o = data && len ? json_loadb(data, len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!o) {
        if (data && len)
            perr_set(e, where, "lock is not valid JSON at line %d column %d: %s", je.line, je.column,
                     je.text);
        else
            perr_set(e, where, "lock is empty");
        return -1;
    }
    static const struct {
        const char *key;
        size_t off, size;
    } f[] = {
        {"id", offsetof(state_lock_info_t, id), sizeof li->id},
        {"who", offsetof(state_lock_info_t, who), sizeof li->who},
        {"host", offsetof(state_lock_info_t, host), sizeof li->host},
        {"op", offsetof(state_lock_info_t, op), sizeof li->op},
        {"created", offsetof(state_lock_info_t, created), sizeof li->created},
        {"heartbeat", offsetof(state_lock_info_t, heartbeat), sizeof li->heartbeat},
    };
    int rc = -1;
    if (!json_is_object(o)) {
        state_bad(e, where, "lock", "an object", o);
        goto out;
    }
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        json_t *v = json_object_get(o, f[i].key);
        if (!json_is_string(v) && !(v == NULL && !strcmp(f[i].key, "heartbeat"))) {
            char path[32];
            snprintf(path, sizeof path, "lock.%s", f[i].key);
            state_bad(e, where, path, "a string", v);
            goto out;
        }
        snprintf((char *)li + f[i].off, f[i].size, "%s", v ? json_string_value(v) : "");
    }
    json_t *pid = json_object_get(o, "pid");
    if (!json_is_integer(pid)) {
        state_bad(e, where, "lock.pid", "an integer", pid);
        goto out;
    }
    li->pid = (int)json_integer_value(pid);
    json_t *ps = json_object_get(o, "pid_start");
    if (ps && !json_is_integer(ps)) {
        state_bad(e, where, "lock.pid_start", "an integer", ps);
        goto out;
    }
    li->pid_start = ps ? json_integer_value(ps) : 0;
    if (!li->id[0]) {
        perr_set(e, where, "lock.id: must not be empty");
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* Seconds since an RFC 3339 UTC timestamp ("2026-01-02T03:04:05Z"), or -1. */
static long long age_of(const char *ts) {
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!end) return -1;
    long long age = (long long)time(NULL) - (long long)timegm(&tm);
    return age >= 0 ? age : -1;
}

/* Beyond this, a lock's heartbeat age is worth mentioning: the holder
 * refreshes it on its state writes, so a long silence hints that the run
 * is gone (or waiting on one slow operation). */
#define HEARTBEAT_NOTE_AFTER 300

void state_lock_held_error(perr_t *e, const char *where, const state_lock_info_t *li) {
    char host[128] = "", stale[128] = "";
    long long age;
    if (gethostname(host, sizeof host) == 0 && strcmp(host, li->host) == 0 && li->pid > 0 &&
        kill((pid_t)li->pid, 0) != 0 && errno == ESRCH)
        snprintf(stale, sizeof stale, " (stale: process %d is no longer running)", li->pid);
    else if ((age = age_of(li->heartbeat[0] ? li->heartbeat : li->created)) > HEARTBEAT_NOTE_AFTER)
        snprintf(stale, sizeof stale, " (last heartbeat %lld minutes ago)", age / 60);
    perr_set(e, where,
             "state is locked by %s@%s (pid %d) for %s since %s (lock ID %s)%s; if that run is "
             "gone, run: plinth state unlock %s",
             li->who, li->host, li->pid, li->op, li->created, li->id, stale, li->id);
}

int state_lock_lease_s(void) {
    const char *v = getenv("PLINTH_LOCK_LEASE_S");
    int n = v ? atoi(v) : 0;
    return n > 0 ? n : 120;
}

int state_lock_stale(const state_lock_info_t *li, int lease_s, char *why, size_t whylen) {
    char host[128] = "";
    if (gethostname(host, sizeof host) == 0 && strcmp(host, li->host) == 0 && li->pid > 0) {
        if (kill((pid_t)li->pid, 0) != 0 && errno == ESRCH) {
            snprintf(why, whylen, "process %d on this host is gone", li->pid);
            return 1;
        }
        long long st = proc_start(li->pid);
        if (li->pid_start && st && st != li->pid_start) {
            snprintf(why, whylen, "process %d on this host is gone (the PID now belongs to another process)",
                     li->pid);
            return 1;
        }
        return 0; /* alive here: its heartbeat does not matter */
    }
    long long age = age_of(li->heartbeat[0] ? li->heartbeat : li->created);
    if (lease_s > 0 && age > lease_s) {
        snprintf(why, whylen, "its lease expired: no heartbeat for %lld s (lease %d s)", age, lease_s);
        return 1;
    }
    return 0;
}
