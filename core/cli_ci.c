/* cli_ci.c: show, drift and env (contract in cli_ci.h). */
#include "core/cli_ci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/env.h"
#include "core/planfile.h"
#include "core/ui_json.h"

static int cmd_show(cli_ci_t *c) {
    if (c->args->n != 1) {
        fprintf(stderr, "Error: usage: plinth show [--json] PLANFILE\n");
        return 1;
    }
    const char *path = c->args->v[0];
    json_t *pf = NULL;
    perr_t perr = {0};
    if (planfile_read(path, &pf, &perr) != 0) { /* every field checked before use */
        fprintf(stderr, "Error: %s: %s\n", perr.where, perr.msg);
        return 1;
    }
    int rc = 0;
    json_t *tf = json_object_get(pf, "tfplan");
    json_t *plan = json_object_get(pf, "plan");
    if (c->json && !tf) {
        fprintf(stderr,
                "Error: %s: made by an older plinth without the JSON representation; make a new plan\n",
                path);
        rc = 1;
    } else if (c->json) {
        char *s = json_dumps(tf, JSON_COMPACT | JSON_SORT_KEYS);
        printf("%s\n", s);
        free(s);
    } else {
        size_t i;
        json_t *ch;
        json_array_foreach(json_object_get(plan, "changes"), i, ch) {
            const char *act = json_string_value(json_object_get(ch, "action"));
            if (act && strcmp(act, "no-op") != 0)
                printf("  %s %s\n", act, json_string_value(json_object_get(ch, "address")));
        }
        json_t *s = json_object_get(plan, "summary");
        if (json_is_true(json_object_get(plan, "changes_present")))
            printf("Plan: %lld to create, %lld to update, %lld to replace, %lld to destroy.\n",
                   json_integer_value(json_object_get(s, "create")),
                   json_integer_value(json_object_get(s, "update")),
                   json_integer_value(json_object_get(s, "replace")),
                   json_integer_value(json_object_get(s, "destroy")));
        else
            printf("No changes. Your infrastructure matches the configuration.\n");
    }
    json_decref(pf);
    return rc;
}

/* A resource changed outside plinth: a recorded value moved, or it was
 * deleted behind plinth's back. */
static bool drifted(const plan_item_t *it) {
    if (it->excluded) return false;
    if (it->drift.n || it->gone) return true;
    return it->act == ACT_CREATE && it->reason && strcmp(it->reason, "deleted outside plinth") == 0;
}

static int cmd_drift(cli_ci_t *c) {
    if (c->json) uij_begin();
    c->eo->lock_op = "drift";
    engine_t *e = engine_open(c->eo, &ui_engine_hooks, c->ui, c->stop, true);
    if (!e) return 1;
    plan_opts_t po = {false, false};
    plan_t *p = NULL;
    int rc = plan_build(e, &po, &p);
    int n = 0;
    json_t *addrs = json_array();
    for (size_t i = 0; rc == 0 && i < p->n; i++)
        if (drifted(&p->items[i])) {
            n++;
            json_array_append_new(addrs, json_string(p->items[i].addr));
        }
    const char *env = c->eo->env_name ? c->eo->env_name : "default";
    if (rc == 0 && c->json) {
        uij_plan(p, "plan");
        char *msg = xasprintf("%s: %d resources drifted", env, n);
        uij_emit(n ? "warn" : "info", "drift_summary", msg,
                 json_pack("{s:s, s:i, s:O}", "environment", env, "drifted", n, "resources", addrs));
        free(msg);
    } else if (rc == 0) {
        if (n) ui_out(c->ui, "Drift in %s: %d resources changed outside plinth:\n", env, n);
        for (size_t i = 0; i < p->n; i++) {
            const plan_item_t *it = &p->items[i];
            if (!drifted(it)) continue;
            if (it->gone || it->act == ACT_CREATE)
                ui_out(c->ui, "  - %s: deleted outside plinth\n", it->addr);
            for (size_t k = 0; k < it->drift.n; k++)
                ui_out(c->ui, "  ~ %s: %s changed\n", it->addr, it->drift.v[k]);
        }
        if (!n) ui_out(c->ui, "No drift in %s.\n", env);
        if (plan_has_changes(p))
            ui_out(c->ui, "(%d to create, %d to update, %d to replace, %d to destroy on the next apply)\n",
                   p->ncreate, p->nupdate, p->nreplace, p->ndelete);
    }
    json_decref(addrs);
    plan_free(p);
    engine_close(e);
    return rc != 0 ? 1 : n ? 2 : 0;
}

static void print_envs(ui_t *u, const env_info_t *v, size_t n) {
    ui_out(u, "%-24s %9s  %-20s  %-24s  %-20s  %s\n", "NAME", "RESOURCES", "LAST APPLY", "WHO", "EXPIRES",
           "LOCK");
    for (size_t i = 0; i < n; i++) {
        char lock[200] = "-";
        if (v[i].locked)
            snprintf(lock, sizeof lock, "%s (%s, %s)", v[i].lock.who, v[i].lock.op, v[i].lock.id);
        char exp[48];
        snprintf(exp, sizeof exp, "%s%s", v[i].expires ? v[i].expires : "-",
                 v[i].expired ? " (expired)" : "");
        ui_out(u, "%-24s %9zu  %-20s  %-24s  %-20s  %s%s%s\n", v[i].name, v[i].resources,
               v[i].last_apply ? v[i].last_apply : "-", v[i].who ? v[i].who : "-", exp, lock,
               v[i].error ? "  error: " : "", v[i].error ? v[i].error : "");
    }
}

/* Destroys one environment under its own lock; 0 destroyed. */
static int gc_one(cli_ci_t *c, const env_info_t *v) {
    engine_opts_t o = *c->eo;
    o.env_name = v->name;
    o.spec.env_name = v->name;
    o.lock_op = "destroy";
    if (v->spec && access(v->spec, R_OK) == 0) o.spec_path = v->spec;
    engine_t *e = engine_open(&o, &ui_engine_hooks, c->ui, c->stop, true);
    if (!e) { /* locked by another run, or unreadable: reported above */
        ui_out(c->ui, "Failed to destroy %s; it is left for the next run.\n", v->name);
        return -1;
    }
    plan_opts_t po = {true, false};
    plan_t *p = NULL;
    perr_t err = {0};
    int rc = plan_build(e, &po, &p);
    if (rc == 0 && plan_has_changes(p)) rc = apply_run(e, p);
    if (rc == 0 && env_note(e, 0, NULL, true)) rc = engine_save_state(e, &err);
    if (rc != 0 && err.msg[0]) ui_error(c->ui, &err);
    if (rc == 0)
        ui_out(c->ui, "Destroyed %s: %d resources (expired %s).\n", v->name, p->done_delete, v->expires);
    else
        ui_out(c->ui, "Failed to destroy %s; it is left for the next run.\n", v->name);
    plan_free(p);
    engine_close(e);
    return rc;
}

static int cmd_env(cli_ci_t *c) {
    const char *sub = c->args->n ? c->args->v[0] : "";
    if (strcmp(sub, "list") != 0 && strcmp(sub, "gc") != 0) {
        fprintf(stderr, "Error: usage: plinth env list [--json] | env gc [--auto-approve]\n");
        return 1;
    }
    c->eo->lock_op = NULL;
    engine_t *e = engine_open(c->eo, &ui_engine_hooks, c->ui, c->stop, false);
    if (!e) return 1;
    env_info_t *v = NULL;
    size_t n = 0;
    perr_t err = {0};
    int rc = env_list(e, &v, &n, &err);
    if (rc != 0)
        ui_error(c->ui, &err);
    else if (!strcmp(sub, "list") && c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(arr, env_info_json(&v[i]));
        char *s = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS);
        ui_out(c->ui, "%s\n", s);
        free(s);
        json_decref(arr);
    } else if (!strcmp(sub, "list")) {
        print_envs(c->ui, v, n);
    }
    engine_close(e); /* gc takes each environment's lock on its own */
    if (rc == 0 && !strcmp(sub, "gc")) {
        int due = 0, done = 0, failed = 0;
        for (size_t i = 0; i < n; i++)
            due += v[i].expired && v[i].resources > 0;
        for (size_t i = 0; i < n; i++)
            if (v[i].expired && v[i].resources > 0)
                ui_out(c->ui, "  %s: %zu resources, expired %s\n", v[i].name, v[i].resources, v[i].expires);
        if (!due)
            ui_out(c->ui, "No environment is past its expiry.\n");
        else if (!c->auto_approve && !(isatty(0) && ui_confirm(c->ui, "\nDestroy these environments?"))) {
            ui_out(c->ui, "%d environments past their expiry; run with --auto-approve to destroy them.\n",
                   due);
            due = 0;
        }
        for (size_t i = 0; due && i < n && !(c->stop && *c->stop); i++) {
            if (!v[i].expired || !v[i].resources) continue;
            if (gc_one(c, &v[i]) == 0)
                done++;
            else
                failed++;
        }
        if (due) ui_out(c->ui, "Garbage collection: %d destroyed, %d failed.\n", done, failed);
        rc = failed ? -1 : 0;
    }
    env_list_free(v, n);
    return rc == 0 ? 0 : 1;
}

int cli_ci_run(const char *cmd, cli_ci_t *c) {
    if (!strcmp(cmd, "show")) return cmd_show(c);
    if (!strcmp(cmd, "drift")) return cmd_drift(c);
    if (!strcmp(cmd, "env")) return cmd_env(c);
    return CLI_CI_NOT_MINE;
}
