/* cli.c: parses the command line into cli_t and runs one command.  Options
 * may appear before or after the command word; positional words after the
 * command are its arguments.  Each command is a cmd_* function returning
 * the exit code: 0 success (no changes with --detailed-exitcode), 1 error,
 * 2 changes present (plan --detailed-exitcode). */
#include "core/cli.h"
#include "core/planfile.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cli_ci.h"
#include "core/cli_local.h"
#include "core/engine.h"
#include "core/env.h"
#include "core/jpath.h"
#include "core/plan_int.h"
#include "core/plan_tfjson.h"
#include "core/ref.h"
#include "core/ui.h"
#include "core/ui_json.h"
#include "core/validate.h"

typedef struct cli {
    engine_opts_t eo;
    const char *cmd;
    strlist_t args;
    bool json, detailed, auto_approve, no_color, refresh_only, destroy, force, raw;
    const char *out;
    const char *ttl; /* apply --ttl */
    volatile sig_atomic_t *stop;
    ui_t *ui;
} cli_t;

static const char usage[] =
    "usage: plinth [--spec FILE] [--var k=v]... [--var-file F] [--env NAME] [--local]\n"
    "              [--http-log FILE] [--parallelism N] [--no-color] [--lock-timeout 30s]\n"
    "              [--backend-config k=v]... [--allow-env NAME]... [--allow-read DIR]...\n"
    "              [--reuse-state] COMMAND\n"
    "  validate                      load and check the spec; no API calls\n"
    "  plan  [--out FILE] [--json] [--detailed-exitcode] [--target ADDR]... [--refresh-only] [--destroy]\n"
    "  apply [PLANFILE] [--auto-approve] [--target ADDR]... [--replace ADDR]... [--ttl 72h] [--json]\n"
    "  destroy [--auto-approve] [--target ADDR]... [--json]\n"
    "  show [--json] PLANFILE        a saved plan (--json: Terraform's JSON plan format)\n"
    "  drift [--json]                exit 2 when something changed outside plinth\n"
    "  env list [--json] | env gc [--auto-approve]   environments in the backend; destroy expired ones\n"
    "  import ADDR ID\n"
    "  output [NAME] [--json] [--raw]\n"
    "  state list | show ADDR | rm ADDR | mv FROM TO | pull | push FILE | unlock LOCK_ID\n"
    "  graph                         DOT on stdout\n"
    "  kubeconfig [ADDR]             kubeconfig for a cluster in state (ADDR: when several)\n"
    "  local up | status | down      the local cloud that stays up (--local uses it)\n"
    "  version\n";

/* "90", "30s", "5m", "1h" -> milliseconds. */
static int parse_duration_ms(const char *s, int *ms) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0) return -1;
    double mult = 1000;
    if (!strcmp(end, "ms"))
        mult = 1;
    else if (!strcmp(end, "m"))
        mult = 60000;
    else if (!strcmp(end, "h"))
        mult = 3600000;
    else if (*end && strcmp(end, "s"))
        return -1;
    *ms = (int)(v * mult);
    return 0;
}

static int need_value(int i, int argc, char **argv) {
    if (i + 1 >= argc) {
        fprintf(stderr, "Error: %s needs a value\n%s", argv[i], usage);
        return 0;
    }
    return 1;
}

/* Returns -1 on a usage error. */
static int parse(cli_t *c, int argc, char **argv) {
    c->eo.spec_path = "platform.lua";
    c->eo.parallelism = 16;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
#define OPT(name) (strcmp(a, name) == 0)
#define VAL(field)                                                                                           \
    do {                                                                                                     \
        if (!need_value(i, argc, argv)) return -1;                                                           \
        field = argv[++i];                                                                                   \
    } while (0)
        if (OPT("--spec"))
            VAL(c->eo.spec_path);
        else if (OPT("--var")) {
            if (!need_value(i, argc, argv)) return -1;
            strlist_add(&c->eo.spec.vars, argv[++i]);
        } else if (OPT("--var-file")) {
            if (!need_value(i, argc, argv)) return -1;
            strlist_add(&c->eo.spec.var_files, argv[++i]);
        } else if (OPT("--env"))
            VAL(c->eo.env_name);
        else if (OPT("--allow-env")) {
            if (!need_value(i, argc, argv)) return -1;
            strlist_add(&c->eo.spec.allow_env, argv[++i]);
        } else if (OPT("--allow-read")) {
            if (!need_value(i, argc, argv)) return -1;
            strlist_add(&c->eo.spec.allow_read, argv[++i]);
        } else if (OPT("--local"))
            c->eo.local = true;
        else if (OPT("--http-log"))
            VAL(c->eo.http_log);
        else if (OPT("--parallelism")) {
            const char *v;
            VAL(v);
            c->eo.parallelism = atoi(v);
            if (c->eo.parallelism < 1) {
                fprintf(stderr, "Error: --parallelism must be a positive number\n");
                return -1;
            }
        } else if (OPT("--no-color"))
            c->no_color = true;
        else if (OPT("--json"))
            c->json = true;
        else if (OPT("--detailed-exitcode"))
            c->detailed = true;
        else if (OPT("--auto-approve"))
            c->auto_approve = true;
        else if (OPT("--refresh-only"))
            c->refresh_only = true;
        else if (OPT("--destroy"))
            c->destroy = true;
        else if (OPT("--force"))
            c->force = true;
        else if (OPT("--raw"))
            c->raw = true;
        else if (OPT("--reuse-state"))
            c->eo.reuse_state = true;
        else if (OPT("--out"))
            VAL(c->out);
        else if (OPT("--ttl"))
            VAL(c->ttl);
        else if (OPT("--target")) {
            if (!need_value(i, argc, argv)) return -1;
            strlist_add(&c->eo.targets, argv[++i]);
        } else if (OPT("--replace")) {
            if (!need_value(i, argc, argv)) return -1;
            strlist_add(&c->eo.replace, argv[++i]);
        } else if (OPT("--backend-config")) {
            if (!need_value(i, argc, argv)) return -1;
            strlist_add(&c->eo.backend_config, argv[++i]);
        } else if (OPT("--lock-timeout")) {
            const char *v;
            VAL(v);
            if (parse_duration_ms(v, &c->eo.lock_timeout_ms) != 0) {
                fprintf(stderr, "Error: --lock-timeout takes a duration such as 30s, 5m or 90\n");
                return -1;
            }
        } else if (OPT("-h") || OPT("--help"))
            c->cmd = "help";
        else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "Error: unknown option %s\n%s", a, usage);
            return -1;
        } else if (!c->cmd)
            c->cmd = a;
        else
            strlist_add(&c->args, a);
#undef OPT
#undef VAL
    }
    if (!c->eo.http_log) c->eo.http_log = getenv("PLINTH_HTTP_LOG");
    c->eo.spec.env_name = c->eo.env_name;
    c->eo.spec.stop = c->stop;
    return 0;
}

static engine_t *open_engine(cli_t *c, const char *lock_op, bool need_spec) {
    c->eo.lock_op = lock_op;
    return engine_open(&c->eo, &ui_engine_hooks, c->ui, c->stop, need_spec);
}

static int cmd_validate(cli_t *c) {
    c->eo.lock_op = NULL;
    diag_t d = {0};
    spec_t *s = NULL;
    if (spec_load(c->eo.spec_path, &c->eo.spec, &s, &d) != 0 || validate_spec(s, &d) > 0) {
        ui_diags(c->ui, &d);
        diag_free(&d);
        spec_free(s);
        return 1;
    }
    ui_out(c->ui, "The spec is valid: %zu resources, %zu outputs.\n", s->nres, s->noutputs);
    spec_free(s);
    return 0;
}

/* Plan file: what was planned and against which spec and state. */
static int write_planfile(cli_t *c, engine_t *e, plan_t *p) {
    json_t *doc = json_pack("{s:i, s:s, s:s, s:s, s:I, s:s?, s:o}", "plinth_plan", 1, "spec", e->spec->path,
                            "spec_hash", spec_digest(e->spec), "lineage", p->lineage, "serial",
                            (json_int_t)p->serial, "env", c->eo.env_name, "plan", plan_to_json(p));
    planfile_set_vars(doc, e->spec, &c->eo.spec.vars); /* sensitive ones as hashes only */
    json_object_set_new(doc, "tfplan", plan_tfjson(e, p));
    /* apply FILE plans again with the same selection, to compare like with like */
    json_t *tg = json_array(), *rp = json_array();
    for (size_t i = 0; i < c->eo.targets.n; i++)
        json_array_append_new(tg, json_string(c->eo.targets.v[i]));
    for (size_t i = 0; i < c->eo.replace.n; i++)
        json_array_append_new(rp, json_string(c->eo.replace.v[i]));
    json_object_set_new(doc, "targets", tg);
    json_object_set_new(doc, "replace", rp);
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    perr_t err = {0};
    int rc = util_write_atomic(c->out, s, strlen(s), &err);
    if (rc != 0) ui_error(c->ui, &err);
    free(s);
    json_decref(doc);
    return rc;
}

static int cmd_plan(cli_t *c) {
    if (c->json) uij_begin();
    engine_t *e = open_engine(c, "plan", true);
    if (!e) return 1;
    plan_opts_t po = {c->destroy, c->refresh_only};
    plan_t *p = NULL;
    int rc = plan_build(e, &po, &p);
    if (rc == 0) {
        ui_plan(c->ui, p); /* with --json: the JSON-lines stream */
        if (c->out && write_planfile(c, e, p) != 0)
            rc = -1;
        else if (c->out && !c->json)
            ui_out(c->ui, "Saved the plan to %s; apply it with: plinth apply %s\n", c->out, c->out);
    }
    int code = rc != 0 ? 1 : (c->detailed && plan_has_changes(p)) ? 2 : 0;
    plan_free(p);
    engine_close(e);
    return code;
}

static int approve(cli_t *c, const char *what) {
    if (c->auto_approve) return 1;
    if (!isatty(0)) {
        perr_t err;
        perr_set(&err, "", "%s needs approval: run it on a terminal, or pass --auto-approve", what);
        ui_error(c->ui, &err);
        return 0;
    }
    char q[128];
    snprintf(q, sizeof q, "\nDo you want to perform these actions (%s)?", what);
    if (!ui_confirm(c->ui, q)) {
        ui_out(c->ui, "%s cancelled.\n", what);
        return 0;
    }
    return 1;
}

static void save_outputs(engine_t *e, cli_t *c) {
    perr_t err = {0};
    json_t *o = engine_outputs(e, &err);
    if (!o) {
        ui_warn(c->ui, "outputs not computed: %s", err.msg);
        return;
    }
    pthread_mutex_lock(&e->state_mu);
    /* apply_run has just written the state whole: again only for new outputs */
    bool same = e->state->outputs && json_equal(e->state->outputs, o);
    json_decref(e->state->outputs);
    e->state->outputs = o;
    pthread_mutex_unlock(&e->state_mu);
    if (!same) engine_save_state(e, &err);
    if (uij_on()) {
        uij_outputs(o);
    } else if (json_object_size(o)) {
        ui_out(c->ui, "\nOutputs:\n\n");
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
            char *s = ui_value(json_object_get(v, "value"), json_is_true(json_object_get(v, "sensitive")));
            ui_out(c->ui, "%s = %s\n", k, s);
            free(s);
        }
    }
}

/* Checks a saved plan against the plan made now. */
static int check_planfile(cli_t *c, engine_t *e, plan_t *p, json_t *pf) {
    perr_t err = {0};
    const char *h = json_string_value(json_object_get(pf, "spec_hash"));
    const char *lin = json_string_value(json_object_get(pf, "lineage"));
    json_int_t ser = json_integer_value(json_object_get(pf, "serial"));
    if (!h || strcmp(h, spec_digest(e->spec)) != 0)
        perr_set(&err, c->args.v[0], "the spec changed since this plan was made; make a new plan");
    /* An empty state gets a fresh lineage on every load: serial 0 on both
     * sides means nothing was stored then or now. */
    else if (!lin || ser != p->serial || (ser != 0 && strcmp(lin, p->lineage) != 0))
        perr_set(&err, c->args.v[0],
                 "the state changed since this plan was made (serial %lld, now %lld); make a new plan",
                 (long long)ser, (long long)p->serial);
    else {
        json_t *now = plan_to_json(p);
        if (!json_equal(json_object_get(json_object_get(pf, "plan"), "changes"),
                        json_object_get(now, "changes")))
            perr_set(&err, c->args.v[0],
                     "the infrastructure changed since this plan was made; make a new plan");
        json_decref(now);
    }
    if (err.msg[0]) {
        ui_error(c->ui, &err);
        return -1;
    }
    return 0;
}

static int run_apply(cli_t *c, bool destroy) {
    json_t *pf = NULL;
    int64_t ttl_s = 0;
    if (c->ttl && (destroy || env_parse_ttl(c->ttl, &ttl_s) != 0)) {
        fprintf(stderr, "Error: --ttl takes a duration such as 72h, 30m, 7d or 2s (apply only)\n");
        return 1;
    }
    if (c->json) uij_begin();
    if (!destroy && c->args.n == 1) {
        perr_t perr = {0};
        if (planfile_read(c->args.v[0], &pf, &perr) != 0) { /* every field checked before use */
            ui_error(c->ui, &perr);
            return 1;
        }
        c->eo.spec_path = json_string_value(json_object_get(pf, "spec"));
        size_t i;
        json_t *v;
        planfile_get_vars(pf, &c->eo.spec.vars);
        c->auto_approve = true; /* the saved plan was the approval */
        /* A refresh-only or destroy plan applies as what it was planned as. */
        json_t *pl = json_object_get(pf, "plan");
        c->refresh_only = json_is_true(json_object_get(pl, "refresh_only"));
        destroy = json_is_true(json_object_get(pl, "destroy"));
        if (c->eo.targets.n || c->eo.replace.n) {
            fprintf(stderr,
                    "Error: %s: --target and --replace belong to the plan; a saved plan keeps its own\n",
                    c->args.v[0]);
            json_decref(pf);
            return 1;
        }
        json_array_foreach(json_object_get(pf, "targets"), i, v)
            strlist_add(&c->eo.targets, json_string_value(v));
        json_array_foreach(json_object_get(pf, "replace"), i, v)
            strlist_add(&c->eo.replace, json_string_value(v));
    }
    engine_t *e = open_engine(c, destroy ? "destroy" : "apply", true);
    if (!e) {
        json_decref(pf);
        return 1;
    }
    plan_opts_t po = {destroy, c->refresh_only};
    plan_t *p = NULL;
    perr_t serr = {0};
    int rc = pf && planfile_check_sensitive(pf, e->spec, c->args.v[0], &serr) != 0 ? -1 : 0;
    if (rc != 0) ui_error(c->ui, &serr);
    if (rc == 0) rc = plan_build(e, &po, &p);
    if (rc == 0 && pf) rc = check_planfile(c, e, p, pf);
    if (rc == 0 && !pf) ui_plan(c->ui, p);
    perr_t nerr = {0};
    if (rc == 0 && plan_has_changes(p) && approve(c, destroy ? "destroy" : "apply")) {
        /* the lifetime goes into the state writes of the apply itself */
        if (!destroy) env_note(e, ttl_s, c->ttl, false);
        rc = apply_run(e, p);
        if (!*c->stop && uij_on()) {
            uij_summary(p, destroy ? "destroy" : "apply", true);
        } else if (!*c->stop) {
            ui_out(c->ui, "\n%s %s: %d added, %d changed, %d replaced, %d destroyed.\n",
                   destroy ? "Destroy" : "Apply", rc == 0 ? "complete" : "finished with errors",
                   p->done_create, p->done_update, p->done_replace, p->done_delete);
        }
    } else if (rc == 0 && plan_has_changes(p)) {
        rc = -1;
    } else if (rc == 0) {
        rc = apply_run(e, p); /* records refreshed attributes; no API write */
        if (rc == 0 && p->refresh_only)
            ui_out(c->ui, "\nApply complete: the state was refreshed; no resource was changed.\n");
        if (rc == 0 && !destroy && env_note(e, ttl_s, c->ttl, false) && engine_save_state(e, &nerr) != 0) {
            ui_error(c->ui, &nerr);
            rc = -1;
        }
    }
    if (destroy && rc == 0 && env_note(e, 0, NULL, true) && engine_save_state(e, &nerr) != 0) {
        ui_error(c->ui, &nerr);
        rc = -1;
    }
    if (rc == 0 && !destroy) save_outputs(e, c);
    if (*c->stop) rc = -1;
    plan_free(p);
    engine_close(e);
    json_decref(pf);
    return rc == 0 ? 0 : 1;
}

/* After an import, the spec's body (resolved against state) is recorded as
 * applied: write-only values (a password, a secret's data) cannot be read
 * back, so without this the next plan would change or replace what was just
 * adopted.  plinth takes the spec's word for them, as it says on import. */
static void record_import_body(engine_t *e, const spec_res_t *r, const rtype_t *t, void *prov,
                               state_res_t *s) {
    json_t *b = json_deep_copy(r->body);
    if (t->defaults) t->defaults(t, prov, r->name, b);
    int unknown = 0;
    perr_t err = {0};
    json_t *res = ref_resolve(b, engine_state_lookup, e, &unknown, &err);
    json_decref(b);
    if (!res || unknown) {
        json_decref(res);
        return;
    }
    diff_hash_sensitive(t, res);
    json_decref(s->applied);
    s->applied = res;
    char *canon = jpath_canonical(res);
    util_sha256_hex(canon, strlen(canon), s->applied_hash);
    free(canon);
    if (t->sensitive && t->sensitive[0])
        engine_warn(e,
                    "%s: write-only values (%s, ...) cannot be read back; plinth assumes they match the spec",
                    r->addr, t->sensitive[0]);
}

static int cmd_import(cli_t *c) {
    if (c->args.n != 2) {
        fprintf(stderr, "usage: plinth import ADDR ID\n");
        return 1;
    }
    engine_t *e = open_engine(c, "import", true);
    if (!e) return 1;
    const char *addr = c->args.v[0], *id = c->args.v[1];
    perr_t err = {0};
    int rc = -1;
    const spec_res_t *r = spec_find(e->spec, addr);
    const rtype_t *t = r ? rtype_find(r->type) : NULL;
    if (!r)
        perr_set(&err, addr, "declare the resource in the spec before importing it");
    else if (state_find(e->state, addr))
        perr_set(&err, addr, "already managed by plinth (in state)");
    else if (!t->import)
        perr_set(&err, addr, "%s cannot be imported", t->name);
    else {
        plan_item_t it = {.addr = (char *)addr, .type = t};
        rctx_t cx;
        plan_ctx(e, &it, &cx, &err);
        char *nid = NULL;
        json_t *live = NULL;
        util_set_current_addr(addr);
        int irc = cx.prov ? t->import(&cx, id, &nid, &live) : -1;
        util_set_current_addr(NULL);
        if (irc == 0) {
            state_res_t *s = state_upsert(e->state, addr, t->name);
            free(s->id);
            s->id = nid;
            json_decref(s->attrs);
            s->attrs = live;
            diff_hash_sensitive(t, s->attrs);
            record_import_body(e, r, t, cx.prov, s);
            rc = engine_save_state(e, &err);
            if (rc == 0) ui_out(c->ui, "Imported %s as %s.\n", nid, addr);
        } else {
            free(nid);
            json_decref(live);
        }
    }
    if (rc != 0) ui_error(c->ui, &err);
    engine_close(e);
    return rc == 0 ? 0 : 1;
}

/* The value of a sensitive output, computed from the spec and the state
 * (state keeps only "(sensitive value)"); NEW reference, or NULL with err. */
static json_t *sensitive_output(engine_t *e, const char *name, perr_t *err) {
    for (size_t i = 0; e->spec && i < e->spec->noutputs; i++) {
        const spec_output_t *so = &e->spec->outputs[i];
        if (strcmp(so->name, name) != 0) continue;
        int unknown = 0;
        json_t *v = ref_resolve(so->value, engine_state_lookup, e, &unknown, err);
        if (v && (unknown || (json_is_string(v) && !strncmp(json_string_value(v), "sha256:", 7)))) {
            perr_set(err, name, "the value is write-only: plinth keeps only its hash");
            json_decref(v);
            return NULL;
        }
        return v;
    }
    perr_set(err, name, "the output is no longer in the spec");
    return NULL;
}

/* output [NAME] [--json] [--raw]: from state.  A sensitive output is
 * hidden in the list but printed when named, as Terraform does; its value
 * is computed again from the spec (which then needs its variables). */
static int cmd_output(cli_t *c) {
    c->eo.spec.lenient_vars = true;
    engine_t *e = open_engine(c, NULL, false);
    if (!e) return 1;
    json_t *o = e->state->outputs;
    int rc = 0;
    if (c->args.n) {
        json_t *v = json_object_get(o, c->args.v[0]);
        json_t *val = json_incref(json_object_get(v, "value"));
        if (v && json_is_true(json_object_get(v, "sensitive"))) {
            json_decref(val);
            engine_close(e);
            c->eo.spec.lenient_vars = false;
            e = open_engine(c, NULL, true);
            if (!e) return 1;
            perr_t err = {0};
            val = sensitive_output(e, c->args.v[0], &err);
            if (!val) ui_error(c->ui, &err);
        }
        if (!v) {
            fprintf(stderr, "Error: no output named %s\n", c->args.v[0]);
            rc = 1;
        } else if (!val) {
            rc = 1;
        } else if (c->raw && !json_is_string(val) && !json_is_number(val) && !json_is_boolean(val)) {
            fprintf(stderr, "Error: %s: --raw prints strings, numbers and booleans; use --json\n",
                    c->args.v[0]);
            rc = 1;
        } else if (c->json) {
            ui_json(c->ui, val);
        } else if (json_is_string(val)) {
            ui_out(c->ui, c->raw ? "%s" : "%s\n", json_string_value(val));
        } else {
            char *t = json_dumps(val, JSON_ENCODE_ANY | (c->raw ? JSON_COMPACT : JSON_INDENT(2)));
            ui_out(c->ui, c->raw ? "%s" : "%s\n", t ? t : "null");
            free(t);
        }
        json_decref(val);
    } else if (c->json) {
        ui_json(c->ui, o ? o : json_object());
    } else {
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v) {
            char *s = ui_value(json_object_get(v, "value"), false);
            ui_out(c->ui, "%s = %s\n", k, s);
            free(s);
        }
    }
    engine_close(e);
    return rc;
}

static int cmd_state(cli_t *c) {
    c->eo.spec.lenient_vars = true; /* state commands read only state */
    const char *sub = c->args.n ? c->args.v[0] : "";
    bool writes = !strcmp(sub, "rm") || !strcmp(sub, "mv") || !strcmp(sub, "push");
    engine_t *e = open_engine(c, writes ? "state" : NULL, false);
    if (!e) return 1;
    perr_t err = {0};
    int rc = 0;
    if (!strcmp(sub, "list")) {
        for (size_t i = 0; i < e->state->nres; i++)
            ui_out(c->ui, "%s\n", e->state->res[i].addr);
    } else if (!strcmp(sub, "show") && c->args.n == 2) {
        state_res_t *s = state_find(e->state, c->args.v[1]);
        if (!s)
            perr_set(&err, c->args.v[1], "not in state"), rc = -1;
        else {
            json_t *j = json_pack("{s:s, s:s, s:s?, s:O?, s:s?}", "address", s->addr, "type", s->type, "id",
                                  s->id, "attributes", state_attrs(s), "pending", s->pending);
            ui_json(c->ui, j);
            json_decref(j);
        }
    } else if (!strcmp(sub, "rm") && c->args.n >= 2) {
        for (size_t i = 1; i < c->args.n && rc == 0; i++)
            if (state_remove(e->state, c->args.v[i]) != 0)
                perr_set(&err, c->args.v[i], "not in state"), rc = -1;
            else
                ui_out(c->ui, "Removed %s (the resource itself is untouched).\n", c->args.v[i]);
        if (rc == 0) rc = engine_save_state(e, &err);
    } else if (!strcmp(sub, "mv") && c->args.n == 3) {
        rc = state_rename(e->state, c->args.v[1], c->args.v[2], &err);
        if (rc == 0) rc = engine_save_state(e, &err);
        if (rc == 0) ui_out(c->ui, "Moved %s to %s.\n", c->args.v[1], c->args.v[2]);
    } else if (!strcmp(sub, "pull")) {
        char *s = state_dump(e->state);
        ui_out(c->ui, "%s", s);
        free(s);
    } else if (!strcmp(sub, "push") && c->args.n == 2) {
        size_t len;
        char *data = util_read_file(c->args.v[1], &len, &err);
        state_t *ns = NULL;
        if (!data || state_parse(data, len, c->args.v[1], &ns, &err) != 0)
            rc = -1;
        else if (e->state->nres && strcmp(ns->lineage, e->state->lineage) != 0 && !c->force)
            perr_set(&err, c->args.v[1], "lineage %s differs from the current state's %s (use --force)",
                     ns->lineage, e->state->lineage),
                rc = -1;
        else if (ns->serial < e->state->serial && !c->force)
            perr_set(&err, c->args.v[1], "serial %lld is older than the current state's %lld (use --force)",
                     (long long)ns->serial, (long long)e->state->serial),
                rc = -1;
        else {
            /* Written as it is: lineage and serial are kept. */
            state_free(e->state);
            e->state = ns;
            ns = NULL;
            char *s = state_dump(e->state);
            rc = e->backend->write(e->backend, s, strlen(s), &err);
            free(s);
            if (rc == 0)
                ui_out(c->ui, "Pushed state (lineage %s, serial %lld) to %s.\n", e->state->lineage,
                       (long long)e->state->serial,
                       e->backend->describe ? e->backend->describe : e->backend->kind);
        }
        state_free(ns);
        free(data);
    } else if (!strcmp(sub, "unlock") && c->args.n == 2) {
        rc = e->backend->unlock(e->backend, c->args.v[1], &err);
        if (rc == 0) ui_out(c->ui, "Lock %s released.\n", c->args.v[1]);
    } else {
        fprintf(stderr, "usage: plinth state list | show ADDR | rm ADDR | mv FROM TO | pull | push FILE | "
                        "unlock LOCK_ID\n");
        rc = -1;
    }
    if (rc != 0 && err.msg[0]) ui_error(c->ui, &err);
    engine_close(e);
    return rc == 0 ? 0 : 1;
}

static int cmd_graph(cli_t *c) {
    c->eo.spec.lenient_vars = true; /* the edges do not depend on values */
    diag_t d = {0};
    spec_t *s = NULL;
    if (spec_load(c->eo.spec_path, &c->eo.spec, &s, &d) != 0) {
        ui_diags(c->ui, &d);
        diag_free(&d);
        return 1;
    }
    ui_out(c->ui, "digraph plinth {\n  rankdir = \"LR\";\n");
    for (size_t i = 0; i < s->nres; i++) {
        ui_out(c->ui, "  \"%s\";\n", s->res[i].addr);
        strlist_t deps = {0};
        ref_collect(s->res[i].body, &deps);
        for (size_t k = 0; k < s->res[i].depends_on.n; k++)
            if (!strlist_has(&deps, s->res[i].depends_on.v[k])) strlist_add(&deps, s->res[i].depends_on.v[k]);
        for (size_t k = 0; k < deps.n; k++)
            ui_out(c->ui, "  \"%s\" -> \"%s\";\n", s->res[i].addr, deps.v[k]);
        strlist_free(&deps);
    }
    ui_out(c->ui, "}\n");
    spec_free(s);
    return 0;
}

/* The only gcp.container_cluster in state, or NULL (with the reason). */
static state_res_t *only_cluster(const state_t *s) {
    state_res_t *found = NULL;
    size_t n = 0;
    for (size_t i = 0; i < s->nres; i++)
        if (s->res[i].type && !strcmp(s->res[i].type, "gcp.container_cluster")) found = &s->res[i], n++;
    if (n == 1) return found;
    fprintf(stderr,
            n ? "Error: %zu clusters in the state: name one, plinth kubeconfig ADDR\n"
              : "Error: no gcp.container_cluster in the state (apply first)\n",
            n);
    return NULL;
}

/* kubeconfig [ADDR]: a kubeconfig (stdout) for a gcp.container_cluster in
 * state (without ADDR: the only one). */
static int cmd_kubeconfig(cli_t *c) {
    if (c->args.n > 1) {
        fprintf(stderr, "Error: usage: plinth kubeconfig [ADDR]\n");
        return 1;
    }
    engine_t *e = open_engine(c, NULL, false);
    if (!e) return 1;
    const char *addr = c->args.n ? c->args.v[0] : NULL;
    state_res_t *r = addr ? state_find(e->state, addr) : only_cluster(e->state);
    if (r) addr = r->addr;
    int rc = 1;
    if (!r && !addr) {
        /* only_cluster said why */
    } else if (!r || !state_attrs(r)) {
        fprintf(stderr, "Error: %s is not in the state\n", addr);
    } else {
        perr_t err = {0};
        char *yaml = NULL;
        const provider_def_t *kp = NULL;
        for (const provider_def_t *const *p = rtype_providers(); *p && !kp; p++)
            if ((*p)->kubeconfig) kp = *p;
        if (!kp) perr_set(&err, "", "no provider writes kubeconfigs in this build");
        if (!kp || kp->kubeconfig(e->endpoint, state_attrs(r), NULL, &yaml, &err) != 0) {
            fprintf(stderr, "Error: %s: %s\n", addr, err.msg);
        } else {
            fputs(yaml, stdout);
            rc = 0;
        }
        free(yaml);
    }
    engine_close(e);
    return rc;
}

static void cli_free(cli_t *c) {
    strlist_free(&c->eo.spec.vars);
    strlist_free(&c->eo.spec.var_files);
    strlist_free(&c->eo.spec.allow_env);
    strlist_free(&c->eo.spec.allow_read);
    strlist_free(&c->eo.targets);
    strlist_free(&c->eo.replace);
    strlist_free(&c->eo.backend_config);
    strlist_free(&c->args);
    ui_free(c->ui);
}

int cli_main(int argc, char **argv, volatile sig_atomic_t *stop) {
    cli_t c = {0};
    c.stop = stop;
    if (parse(&c, argc, argv) != 0) {
        cli_free(&c);
        return 1;
    }
    const char *nc = getenv("NO_COLOR");
    bool color = !c.no_color && !(nc && *nc) && isatty(1);
    c.ui = ui_new(color, c.json);
    int rc;
    const char *cmd = c.cmd ? c.cmd : "help";
    if (!strcmp(cmd, "version")) {
        printf("plinth %s\n", PLINTH_VERSION);
        rc = 0;
    } else if (!strcmp(cmd, "validate"))
        rc = cmd_validate(&c);
    else if (!strcmp(cmd, "plan"))
        rc = cmd_plan(&c);
    else if (!strcmp(cmd, "apply"))
        rc = run_apply(&c, false);
    else if (!strcmp(cmd, "destroy"))
        rc = run_apply(&c, true);
    else if (!strcmp(cmd, "import"))
        rc = cmd_import(&c);
    else if (!strcmp(cmd, "output"))
        rc = cmd_output(&c);
    else if (!strcmp(cmd, "state"))
        rc = cmd_state(&c);
    else if (!strcmp(cmd, "graph"))
        rc = cmd_graph(&c);
    else if (!strcmp(cmd, "kubeconfig"))
        rc = cmd_kubeconfig(&c);
    else if (!strcmp(cmd, "local"))
        rc = cli_local(c.eo.spec_path, c.args.n == 1 ? c.args.v[0] : NULL);
    else if (!strcmp(cmd, "help")) {
        fputs(usage, stdout);
        rc = 0;
    } else if ((rc = cli_ci_run(cmd, &(cli_ci_t){&c.eo, &c.args, c.json, c.auto_approve, c.ui, c.stop})) !=
               CLI_CI_NOT_MINE) {
    } else {
        fprintf(stderr, "Error: unknown command %s\n%s", cmd, usage);
        rc = 1;
    }
    cli_free(&c);
    return rc;
}
