/* engine.c: opening and closing one run: spec, validation, backend, lock,
 * state, providers, and (with --local) the emulator plinth starts itself.
 * Providers are opened lazily, on first use by a worker thread, so that a
 * command that touches no cloud needs no credentials. */
#include "core/engine.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/localcloud.h"
#include "core/jpath.h"
#include "core/ref.h"
#include "core/validate.h"

static pthread_mutex_t prov_mu = PTHREAD_MUTEX_INITIALIZER;

/* The directory of the running executable (for bin/plinth-emulator). */
static char *exe_dir(void) {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n <= 0) return xstrdup(".");
    buf[n] = '\0';
    return xstrdup(dirname(buf));
}

/* Starts plinth-emulator on a free port with its data in dir; reads the
 * base URL from its first output line. */
static int start_emulator(engine_t *e, const char *dir, perr_t *err) {
    char *bindir = exe_dir();
    char *emu = xasprintf("%s/plinth-emulator", bindir);
    free(bindir);
    char *data = xasprintf("%s/emulator", dir);
    int fds[2];
    if (access(emu, X_OK) != 0 || pipe(fds) != 0) {
        perr_set(err, "", "--local needs %s (build it with make)", emu);
        free(emu);
        free(data);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(emu, emu, "--port", "0", "--data", data, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    if (!f || !fgets(line, sizeof line, f)) {
        perr_set(err, "", "the local emulator (%s) did not start", emu);
        if (f) fclose(f);
        free(emu);
        free(data);
        return -1;
    }
    fclose(f);
    line[strcspn(line, "\r\n")] = '\0';
    e->endpoint = xstrdup(line);
    e->emu_pid = pid;
    free(emu);
    free(data);
    return 0;
}

static char *state_path(engine_t *e, const char *dir) {
    const char *env = e->o.env_name ? e->o.env_name : "default";
    if (e->spec && e->spec->backend && e->spec->backend_type && strcmp(e->spec->backend_type, "local") == 0) {
        json_t *p = json_object_get(e->spec->backend, "path");
        if (json_is_string(p)) {
            const char *s = json_string_value(p);
            if (s[0] == '/') return xstrdup(s);
            return xasprintf("%s/%s", e->spec->dir, s);
        }
    }
    return xasprintf("%s/%s.state.json", dir, env);
}

/* A backend a provider implements (backend "gcs" { bucket = ... }: state
 * in Cloud Storage), opened with a client of its own (the providers open
 * theirs lazily). */
static int open_provider_backend(engine_t *e, const provider_def_t *p, perr_t *err) {
    prov_env_t env = {.http_log = e->o.http_log,
                      .endpoint = e->endpoint,
                      .parallelism = e->o.parallelism,
                      .cancel = e->stop};
    const spec_provider_t *sp = spec_provider(e->spec, p->name);
    e->backend = p->backend_open(e->spec->backend, sp ? sp->config : NULL, &env,
                                 e->o.env_name ? e->o.env_name : "default", err);
    if (!e->backend && !err->where[0]) snprintf(err->where, sizeof err->where, "%s", e->spec->path);
    return e->backend ? 0 : -1;
}

static int open_backend(engine_t *e, const char *spec_dir, perr_t *err) {
    char *dir = xasprintf("%s/.plinth%s", spec_dir, e->o.local ? "/local" : "");
    if (util_mkdir_p(dir, err) != 0) {
        free(dir);
        return -1;
    }
    if (e->o.local) {
        e->local_dir = xstrdup(dir);
        /* The local cloud of `plinth local up` when it runs, else a
         * temporary emulator of this run. */
        if (!getenv("PLINTH_GCP_ENDPOINT") && !(e->endpoint = localcloud_url(dir)) &&
            start_emulator(e, dir, err) != 0) {
            free(dir);
            return -1;
        }
    }
    const provider_def_t *bp = e->spec && e->spec->backend_type ? rtype_backend(e->spec->backend_type) : NULL;
    if (bp && !e->o.local) {
        free(dir);
        return open_provider_backend(e, bp, err);
    }
    char *path = state_path(e, dir);
    e->backend = backend_local_new(path);
    free(path);
    free(dir);
    return 0;
}

/* Takes the state lock, waiting up to --lock-timeout for another run to
 * release it. */
static int take_lock(engine_t *e, perr_t *err) {
    int64_t deadline = util_now_ms() + e->o.lock_timeout_ms;
    bool told = false;
    for (;;) {
        if (e->backend->lock(e->backend, e->o.lock_op, &e->lock, err) == 0) {
            if (e->backend->lock_note[0]) engine_warn(e, "%s", e->backend->lock_note);
            return 0;
        }
        if (util_now_ms() >= deadline || (e->stop && *e->stop)) return -1;
        if (!told) {
            engine_warn(e, "%s; waiting up to %ds for it (--lock-timeout)", err->msg,
                        e->o.lock_timeout_ms / 1000);
            told = true;
        }
        struct timespec ts = {0, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static bool strlist_has_prefix(const strlist_t *l, const char *prefix) {
    for (size_t i = 0; i < l->n; i++)
        if (strncmp(l->v[i], prefix, strlen(prefix)) == 0) return true;
    return false;
}

/* --backend-config k=v: values over the spec's backend block; a bucket
 * with no backend block means gcs. */
static void apply_backend_config(engine_t *e) {
    if (!e->o.backend_config.n || !e->spec) return;
    bool had_block = e->spec->backend != NULL;
    if (!had_block) e->spec->backend = json_object();
    for (size_t i = 0; i < e->o.backend_config.n; i++) {
        const char *kv = e->o.backend_config.v[i], *eq = strchr(kv, '=');
        if (!eq) continue;
        char *k = xstrndup(kv, (size_t)(eq - kv));
        if (strcmp(k, "type") == 0) {
            free(e->spec->backend_type);
            e->spec->backend_type = xstrdup(eq + 1);
        } else {
            json_object_set_new(e->spec->backend, k, json_string(eq + 1));
        }
        free(k);
    }
    if ((!had_block || !e->spec->backend_type) && json_object_get(e->spec->backend, "bucket") &&
        !strlist_has_prefix(&e->o.backend_config, "type=")) {
        free(e->spec->backend_type);
        e->spec->backend_type = xstrdup("gcs");
    }
}

/* backend "gcs" {} left for CI to complete: the bucket comes from
 * --backend-config or PLINTH_STATE_BUCKET; with neither, state is local. */
static void complete_gcs_backend(engine_t *e) {
    if (!e->spec || !e->spec->backend_type || strcmp(e->spec->backend_type, "gcs") != 0) return;
    if (!json_is_object(e->spec->backend)) {
        json_decref(e->spec->backend);
        e->spec->backend = json_object();
    }
    const char *eb = getenv("PLINTH_STATE_BUCKET");
    if (!json_object_get(e->spec->backend, "bucket") && eb && *eb)
        json_object_set_new(e->spec->backend, "bucket", json_string(eb));
    if (!json_object_get(e->spec->backend, "bucket")) {
        free(e->spec->backend_type);
        e->spec->backend_type = xstrdup("local");
    }
}

/* A state records the spec that last applied it (env.h: "spec").  Two spec
 * files beside each other share .plinth/default.state.json; planning one
 * against the other's state would destroy everything the other made, so
 * that takes --env (a state of its own) or --reuse-state. */
static int check_spec_owner(engine_t *e, perr_t *err) {
    const char *was = json_string_value(json_object_get(e->state->env, "spec"));
    if (!was || !e->spec || !e->state->nres || e->o.reuse_state) return 0;
    char a[PATH_MAX], b[PATH_MAX];
    snprintf(a, sizeof a, "%s", was);
    snprintf(b, sizeof b, "%s", e->spec->path);
    if (strcmp(basename(a), basename(b)) == 0) return 0;
    const char *env = e->o.env_name ? e->o.env_name : "default";
    perr_set(err, e->spec->path,
             "the state of environment \"%s\" was written by %s, not by this spec; give this spec a state of "
             "its own with --env NAME, or pass --reuse-state to plan it against %s's state (resources only "
             "%s declares would be destroyed)",
             env, was, was, was);
    return -1;
}

/* ---- reporting through the hooks ---- */

static const engine_hooks_t silent_hooks = {0};

void engine_step_start(engine_t *e, const char *addr, const char *verb) {
    if (e->hooks->step_start) e->hooks->step_start(e->hooks_ud, addr, verb);
}

void engine_step_msg(engine_t *e, const char *addr, const char *msg) {
    if (e->hooks->step_msg) e->hooks->step_msg(e->hooks_ud, addr, msg);
}

void engine_step_done(engine_t *e, const char *addr, const char *verb, bool ok, const char *detail) {
    if (e->hooks->step_done) e->hooks->step_done(e->hooks_ud, addr, verb, ok, detail);
}

void engine_error(engine_t *e, const perr_t *err) {
    if (e->hooks->error) e->hooks->error(e->hooks_ud, err);
}

void engine_diags(engine_t *e, const diag_t *d) {
    if (e->hooks->diags) e->hooks->diags(e->hooks_ud, d);
}

void engine_warn(engine_t *e, const char *fmt, ...) {
    if (!e->hooks->warn) return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    e->hooks->warn(e->hooks_ud, msg);
}

engine_t *engine_open(const engine_opts_t *o, const engine_hooks_t *hooks, void *ud,
                      volatile sig_atomic_t *stop, bool need_spec) {
    engine_t *e = xcalloc(1, sizeof *e);
    e->o = *o;
    e->hooks = hooks ? hooks : &silent_hooks;
    e->hooks_ud = ud;
    e->stop = stop;
    pthread_mutex_init(&e->state_mu, NULL);
    const char *ep = getenv("PLINTH_GCP_ENDPOINT");
    if (ep && *ep) e->endpoint = xstrdup(ep);
    diag_t d = {0};
    perr_t err = {0};
    char *spec_dir = NULL;
    if (access(o->spec_path, R_OK) == 0) {
        if (spec_load(o->spec_path, &o->spec, &e->spec, &d) != 0 || validate_spec(e->spec, &d) > 0) {
            engine_diags(e, &d);
            diag_free(&d);
            goto fail;
        }
        spec_dir = xstrdup(e->spec->dir);
        apply_backend_config(e);
        complete_gcs_backend(e);
    } else if (need_spec) {
        perr_set(&err, o->spec_path, "cannot read the spec: %s (use --spec FILE)", strerror(errno));
        engine_error(e, &err);
        goto fail;
    } else {
        char tmp[PATH_MAX];
        snprintf(tmp, sizeof tmp, "%s", o->spec_path);
        spec_dir = xstrdup(dirname(tmp));
    }
    if (open_backend(e, spec_dir, &err) != 0) goto fail_err;
    if (o->lock_op) {
        if (take_lock(e, &err) != 0) goto fail_err;
        e->locked = true;
    }
    if (state_load(e->backend, &e->state, &err) != 0) goto fail_err;
    if (need_spec && check_spec_owner(e, &err) != 0) goto fail_err;
    free(spec_dir);
    return e;
fail_err:
    engine_error(e, &err);
fail:
    free(spec_dir);
    engine_close(e);
    return NULL;
}

void engine_close(engine_t *e) {
    if (!e) return;
    for (size_t i = 0; i < e->nprov; i++)
        if (e->prov[i].inst) e->prov[i].def->close(e->prov[i].inst);
    if (e->locked) {
        perr_t err = {0};
        if (e->backend->unlock(e->backend, e->lock.id, &err) != 0) engine_error(e, &err);
    }
    if (e->backend) e->backend->free(e->backend);
    if (e->emu_pid > 0) {
        kill(e->emu_pid, SIGTERM);
        waitpid(e->emu_pid, NULL, 0);
    }
    state_free(e->state);
    spec_free(e->spec);
    free(e->endpoint);
    free(e->local_dir);
    pthread_mutex_destroy(&e->state_mu);
    free(e);
}

void *engine_provider(engine_t *e, const rtype_t *t, perr_t *err) {
    const provider_def_t *def = rtype_provider_of(t->name);
    if (!def) {
        perr_set(err, "", "no provider for %s", t->name);
        return NULL;
    }
    pthread_mutex_lock(&prov_mu);
    prov_inst_t *pi = NULL;
    for (size_t i = 0; i < e->nprov; i++)
        if (e->prov[i].def == def) pi = &e->prov[i];
    if (!pi && e->nprov < sizeof e->prov / sizeof *e->prov) {
        pi = &e->prov[e->nprov++];
        pi->def = def;
    }
    void *inst = pi ? pi->inst : NULL;
    if (pi && !inst) {
        const spec_provider_t *sp = e->spec ? spec_provider(e->spec, def->name) : NULL;
        json_t *cfg = sp ? json_deep_copy(sp->config) : json_object();
        /* The provider block may reference variables only, never resources. */
        prov_env_t env = {e->o.http_log, e->endpoint, e->o.parallelism, e->stop};
        inst = pi->inst = def->open(cfg, &env, err);
        json_decref(cfg);
    }
    pthread_mutex_unlock(&prov_mu);
    return inst;
}

static int save_state(engine_t *e, bool sync, perr_t *err) {
    /* A state write (to GCS) is not made for the resource being applied. */
    const char *addr = util_current_addr();
    util_set_current_addr(NULL);
    int rc;
    if (e->saver) {
        rc = state_commit(e->saver, sync, err);
    } else {
        pthread_mutex_lock(&e->state_mu);
        rc = state_save(e->backend, e->state, err);
        pthread_mutex_unlock(&e->state_mu);
    }
    util_set_current_addr(addr);
    return rc;
}

int engine_save_state(engine_t *e, perr_t *err) {
    return save_state(e, true, err);
}

int engine_save_pending(engine_t *e, perr_t *err) {
    return save_state(e, false, err);
}

int engine_state_lookup(void *ud, const char *addr, const char *path, json_t **out, perr_t *e) {
    engine_t *en = ud;
    state_res_t *s = state_find(en->state, addr);
    json_t *attrs = state_attrs(s);
    json_t *v = attrs ? (*path ? jpath_get(attrs, path) : attrs) : NULL;
    if (!v && s && s->applied && *path) v = jpath_get(s->applied, path);
    if (!v) {
        perr_set(e, "", "%s.%s is not known (is %s applied?)", addr, path, addr);
        return -1;
    }
    *out = v;
    return 1;
}

json_t *engine_outputs(engine_t *e, perr_t *err) {
    json_t *o = json_object();
    for (size_t i = 0; e->spec && i < e->spec->noutputs; i++) {
        const spec_output_t *so = &e->spec->outputs[i];
        int unknown = 0;
        json_t *v = ref_resolve(so->value, engine_state_lookup, e, &unknown, err);
        if (!v) {
            json_decref(o);
            return NULL;
        }
        if (so->sensitive) {
            json_t *h = json_string("(sensitive value)");
            json_decref(v);
            v = h;
        }
        json_object_set_new(o, so->name, json_pack("{s:o, s:b}", "value", v, "sensitive", so->sensitive));
    }
    return o;
}
