/* plan_tfjson.c: Terraform's JSON plan representation of a plinth plan
 * (contract in plan_tfjson.h).  Each plan item becomes a resource_changes
 * entry; planned_values and prior_state give the whole after/before
 * picture; configuration carries the spec's constants and references. */
#include "core/plan_tfjson.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/jpath.h"
#include "core/plan_int.h"
#include "core/ref.h"

typedef struct {
    const rtype_t *t;
    const json_t *body; /* for sensitive_for */
} split_ctx_t;

/* One value at path: its known part (NULL when nothing known), and the
 * unknown/sensitive markers (NULL when none below it). */
static json_t *split_rec(const split_ctx_t *c, const json_t *v, const char *path, json_t **unk,
                         json_t **sens) {
    *unk = NULL;
    *sens = NULL;
    if (c->t && *path && rtype_sensitive(c->t, c->body, path)) {
        *sens = json_true();
        return NULL;
    }
    if (ref_is_deferred(v)) {
        *unk = json_true();
        return NULL;
    }
    if (json_is_object(v) && !ref_contains(v) && !c->t) return json_deep_copy(v);
    if (json_is_object(v)) {
        json_t *out = json_object(), *u = json_object(), *s = json_object();
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x) {
            char *p = jpath_join(path, k);
            json_t *cu, *cs, *cv = split_rec(c, x, p, &cu, &cs);
            free(p);
            if (cv) json_object_set_new(out, k, cv);
            if (cu) json_object_set_new(u, k, cu);
            if (cs) json_object_set_new(s, k, cs);
        }
        if (json_object_size(u))
            *unk = u;
        else
            json_decref(u);
        if (json_object_size(s))
            *sens = s;
        else
            json_decref(s);
        return out;
    }
    if (json_is_array(v)) {
        json_t *out = json_array(), *u = json_array(), *s = json_array();
        bool any_u = false, any_s = false;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
            char key[24];
            snprintf(key, sizeof key, "%zu", i);
            char *p = jpath_join(path, key);
            json_t *cu, *cs, *cv = split_rec(c, x, p, &cu, &cs);
            free(p);
            json_array_append_new(out, cv ? cv : json_null());
            any_u |= cu != NULL;
            any_s |= cs != NULL;
            json_array_append_new(u, cu ? cu : json_false());
            json_array_append_new(s, cs ? cs : json_false());
        }
        if (any_u)
            *unk = u;
        else
            json_decref(u);
        if (any_s)
            *sens = s;
        else
            json_decref(s);
        return out;
    }
    return json_deep_copy(v);
}

json_t *tfjson_split(const rtype_t *t, const json_t *body, json_t **unknown, json_t **sensitive) {
    split_ctx_t c = {t, body};
    json_t *u, *s, *v = body ? split_rec(&c, body, "", &u, &s) : NULL;
    *unknown = u ? u : json_object();
    *sensitive = s ? s : json_object();
    if (json_is_true(*unknown) || json_is_true(*sensitive)) {
        /* the whole body unknown or secret: keep the shapes objects */
        json_decref(*unknown);
        json_decref(*sensitive);
        *unknown = json_object();
        *sensitive = json_object();
    }
    return v ? v : json_object();
}

/* address = [module.M.]TYPE.NAME with TYPE = the plinth type. */
static void addr_parts(const char *addr, const char *type, char **module, char **name) {
    const char *p = type ? strstr(addr, type) : NULL;
    while (p && !(p == addr || p[-1] == '.'))
        p = strstr(p + 1, type);
    if (p && p[strlen(type)] == '.') {
        *module = p == addr ? NULL : xstrndup(addr, (size_t)(p - addr - 1));
        *name = xstrdup(p + strlen(type) + 1);
        return;
    }
    const char *dot = strrchr(addr, '.');
    *module = NULL;
    *name = xstrdup(dot ? dot + 1 : addr);
}

static char *provider_name(const char *type) {
    const char *dot = type ? strchr(type, '.') : NULL;
    char *prov = dot ? xstrndup(type, (size_t)(dot - type)) : xstrdup(type ? type : "plinth");
    char *s = xasprintf("plinth.dev/plinth/%s", prov);
    free(prov);
    return s;
}

/* The fields every resource object shares (resource_changes, values). */
static json_t *res_head(const char *addr, const char *type) {
    char *mod, *name;
    addr_parts(addr, type, &mod, &name);
    char *pn = provider_name(type);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "address", addr, "mode", "managed", "type",
                          type ? type : "", "name", name, "provider_name", pn);
    if (mod) json_object_set_new(o, "module_address", json_string(mod));
    free(mod);
    free(name);
    free(pn);
    return o;
}

static json_t *actions_of(const plan_item_t *it) {
    switch (it->act) {
    case ACT_CREATE: return json_pack("[s]", "create");
    case ACT_UPDATE: return json_pack("[s]", "update");
    case ACT_DELETE: return json_pack("[s]", "delete");
    case ACT_REPLACE:
        return it->cbd ? json_pack("[s,s]", "create", "delete") : json_pack("[s,s]", "delete", "create");
    default: return json_pack("[s]", "no-op");
    }
}

/* "a.b.0" -> ["a","b",0] */
static json_t *path_steps(const char *path) {
    json_t *a = json_array();
    char *dup = xstrdup(path), *save = NULL;
    for (char *s = strtok_r(dup, ".", &save); s; s = strtok_r(NULL, ".", &save)) {
        char *end;
        long n = strtol(s, &end, 10);
        json_array_append_new(a, *end || end == s ? json_string(s) : json_integer(n));
    }
    free(dup);
    return a;
}

/* before = what exists now (live, or what state recorded). */
static const json_t *before_of(engine_t *e, const plan_item_t *it) {
    if (it->act == ACT_CREATE) return NULL;
    if (it->act == ACT_REPLACE && it->old_live) return it->old_live;
    if (it->live) return it->live;
    state_res_t *s = state_find(e->state, it->addr);
    return s ? state_attrs(s) : NULL;
}

static json_t *change_of(engine_t *e, const plan_item_t *it, json_t **planned) {
    const json_t *b = before_of(e, it);
    json_t *ch = json_pack("{s:o}", "actions", actions_of(it));
    json_t *bu, *bs, *bv = b ? tfjson_split(it->type, b, &bu, &bs) : NULL;
    if (bv) {
        json_object_set_new(ch, "before", bv);
        json_object_set_new(ch, "before_sensitive", bs);
        json_decref(bu);
    } else {
        json_object_set_new(ch, "before", json_null());
        json_object_set_new(ch, "before_sensitive", json_false());
    }
    const json_t *a = it->act == ACT_DELETE ? NULL : it->act == ACT_NOOP && it->live ? it->live : it->desired;
    *planned = NULL;
    if (a) {
        json_t *au, *as, *av = tfjson_split(it->type, a, &au, &as);
        *planned = json_pack("{s:O, s:O}", "values", av, "sensitive_values", as);
        json_object_set_new(ch, "after", av);
        json_object_set_new(ch, "after_unknown", au);
        json_object_set_new(ch, "after_sensitive", as);
    } else {
        json_object_set_new(ch, "after", json_null());
        json_object_set_new(ch, "after_unknown", json_object());
        json_object_set_new(ch, "after_sensitive", json_false());
    }
    if (it->act == ACT_REPLACE) {
        json_t *rp = json_array();
        for (size_t k = 0; k < it->diff.n; k++)
            if (it->diff.c[k].forces_replace) json_array_append_new(rp, path_steps(it->diff.c[k].path));
        json_object_set_new(ch, "replace_paths", rp);
    }
    return ch;
}

static const char *reason_of(const plan_item_t *it) {
    if (it->act == ACT_REPLACE) return it->tainted ? "replace_by_request" : "replace_because_cannot_update";
    if (it->act == ACT_DELETE && !it->spec && it->type) return "delete_because_no_resource_config";
    return NULL;
}

/* Appends a values resource to root_module or its child module. */
static void add_value(json_t *mods, json_t *root, json_t *head, json_t *vals) {
    json_t *r = json_deep_copy(head);
    json_object_set_new(r, "schema_version", json_integer(0));
    json_object_update(r, vals);
    const char *m = json_string_value(json_object_get(head, "module_address"));
    json_t *list = json_object_get(root, "resources");
    if (m) {
        json_t *cm = json_object_get(mods, m);
        if (!cm) {
            cm = json_pack("{s:s, s:[]}", "address", m, "resources");
            json_object_set_new(mods, m, cm);
        }
        list = json_object_get(cm, "resources");
    }
    json_array_append_new(list, r);
}

static json_t *module_tree(json_t *root, json_t *mods) {
    json_t *cms = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(mods, k, v) json_array_append(cms, v);
    if (json_array_size(cms))
        json_object_set_new(root, "child_modules", cms);
    else
        json_decref(cms);
    json_decref(mods);
    return root;
}

static json_t *prior_state(engine_t *e, json_t *outputs) {
    json_t *root = json_pack("{s:[]}", "resources"), *mods = json_object();
    for (size_t i = 0; i < e->state->nres; i++) {
        state_res_t *s = &e->state->res[i];
        json_t *attrs = state_attrs(s);
        const rtype_t *t = s->type ? rtype_find(s->type) : NULL;
        json_t *u, *sv, *v = tfjson_split(t, attrs ? attrs : json_object(), &u, &sv);
        json_decref(u);
        json_t *head = res_head(s->addr, s->type);
        json_t *vals = json_pack("{s:o, s:o}", "values", v, "sensitive_values", sv);
        add_value(mods, root, head, vals);
        json_decref(head);
        json_decref(vals);
    }
    return json_pack("{s:s, s:s, s:{s:o, s:o}}", "format_version", "1.0", "terraform_version", PLINTH_VERSION,
                     "values", "outputs", outputs, "root_module", module_tree(root, mods));
}

/* Like plan_lookup, but a value the spec sets is known even before the
 * resource exists (a bucket's name), as Terraform shows it. */
static int known_lookup(void *ud, const char *addr, const char *path, json_t **out, perr_t *e) {
    plan_t *p = ud;
    plan_item_t *it = plan_find(p, addr);
    if (it && (it->act == ACT_CREATE || it->act == ACT_REPLACE) && it->desired && *path) {
        json_t *v = jpath_get(it->desired, path);
        if (v && !ref_contains(v)) {
            *out = v;
            return 1;
        }
    }
    return plan_lookup(ud, addr, path, out, e);
}

/* output_changes and planned_values.outputs / prior_state outputs. */
static void outputs_of(engine_t *e, plan_t *p, json_t *changes, json_t *planned, json_t *prior) {
    const char *k;
    json_t *v;
    json_object_foreach(e->state->outputs, k, v) {
        bool sens = json_is_true(json_object_get(v, "sensitive"));
        json_t *o = json_pack("{s:b}", "sensitive", sens);
        if (!sens) json_object_set(o, "value", json_object_get(v, "value"));
        json_object_set_new(prior, k, o);
    }
    for (size_t i = 0; e->spec && i < e->spec->noutputs; i++) {
        const spec_output_t *so = &e->spec->outputs[i];
        int unknown = 0;
        perr_t err = {0};
        json_t *val = p->destroy ? NULL : ref_resolve(so->value, known_lookup, p, &unknown, &err);
        json_t *old = json_object_get(json_object_get(e->state->outputs, so->name), "value");
        const char *act = !old ? "create" : (!unknown && val && json_equal(old, val)) ? "no-op" : "update";
        if (p->destroy) act = old ? "delete" : "no-op";
        json_t *ch = json_pack("{s:[s], s:b, s:b}", "actions", act, "after_unknown", unknown || !val,
                               "after_sensitive", so->sensitive);
        json_object_set_new(ch, "before", old && !so->sensitive ? json_deep_copy(old) : json_null());
        json_object_set_new(ch, "before_sensitive", json_boolean(so->sensitive));
        json_object_set_new(ch, "after",
                            val && !unknown && !so->sensitive ? json_deep_copy(val) : json_null());
        json_object_set_new(changes, so->name, ch);
        if (!p->destroy) {
            json_t *pv = json_pack("{s:b}", "sensitive", so->sensitive);
            if (val && !unknown && !so->sensitive) json_object_set(pv, "value", val);
            json_object_set_new(planned, so->name, pv);
        }
        json_decref(val);
    }
}

/* configuration: provider blocks and each resource's constants and
 * references, as a policy tool reads them. */
static json_t *expressions_of(const json_t *body) {
    json_t *ex = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)body, k, v) {
        if (ref_contains(v)) {
            strlist_t refs = {0};
            ref_collect(v, &refs);
            json_t *arr = json_array();
            for (size_t i = 0; i < refs.n; i++)
                json_array_append_new(arr, json_string(refs.v[i]));
            strlist_free(&refs);
            json_object_set_new(ex, k, json_pack("{s:o}", "references", arr));
        } else {
            json_object_set_new(ex, k, json_pack("{s:O}", "constant_value", v));
        }
    }
    return ex;
}

static json_t *configuration(engine_t *e) {
    json_t *pc = json_object(), *res = json_array();
    for (size_t i = 0; e->spec && i < e->spec->nproviders; i++) {
        const spec_provider_t *sp = &e->spec->providers[i];
        json_t *ex = json_object();
        const char *k;
        json_t *v;
        json_object_foreach(sp->config, k, v)
            json_object_set_new(ex, k, json_pack("{s:O}", "constant_value", v));
        char *pn = provider_name(sp->name);
        json_object_set_new(
            pc, sp->name, json_pack("{s:s, s:s, s:o}", "name", sp->name, "full_name", pn, "expressions", ex));
        free(pn);
    }
    for (size_t i = 0; e->spec && i < e->spec->nres; i++) {
        const spec_res_t *r = &e->spec->res[i];
        const rtype_t *t = rtype_find(r->type);
        json_t *u, *s, *known = tfjson_split(t, r->body, &u, &s);
        json_decref(known);
        json_decref(u);
        json_t *body = json_deep_copy(r->body);
        /* secrets: neither constants nor references are shown */
        const char *k;
        json_t *v;
        void *tmp;
        json_object_foreach_safe(body, tmp, k, v) if (json_object_get(s, k)) json_object_del(body, k);
        json_decref(s);
        json_t *head = res_head(r->addr, r->type);
        const char *dot = strchr(r->type, '.');
        char *pkey = dot ? xstrndup(r->type, (size_t)(dot - r->type)) : xstrdup(r->type);
        json_object_del(head, "provider_name");
        json_object_set_new(head, "provider_config_key", json_string(pkey));
        json_object_set_new(head, "expressions", expressions_of(body));
        free(pkey);
        json_decref(body);
        json_array_append_new(res, head);
    }
    return json_pack("{s:o, s:{s:o}}", "provider_config", pc, "root_module", "resources", res);
}

static json_t *variables(engine_t *e) {
    json_t *vars = json_object();
    for (size_t i = 0; e->spec && i < e->spec->nvars; i++) {
        const spec_var_t *v = &e->spec->vars[i];
        /* a sensitive variable's value is never written */
        json_object_set_new(vars, v->name,
                            v->sensitive ? json_pack("{s:n}", "value")
                                         : json_pack("{s:O}", "value", v->value ? v->value : json_null()));
    }
    return vars;
}

json_t *plan_tfjson(engine_t *e, plan_t *p) {
    json_t *rc = json_array();
    json_t *proot = json_pack("{s:[]}", "resources"), *pmods = json_object();
    for (size_t i = 0; i < p->n; i++) {
        plan_item_t *it = &p->items[i];
        if (it->excluded) continue;
        const char *tname = it->type ? it->type->name : NULL;
        json_t *head = res_head(it->addr, tname);
        json_t *planned;
        json_t *ch = change_of(e, it, &planned);
        json_t *entry = json_deep_copy(head);
        json_object_set_new(entry, "change", ch);
        const char *why = reason_of(it);
        if (why) json_object_set_new(entry, "action_reason", json_string(why));
        json_array_append_new(rc, entry);
        if (planned) {
            add_value(pmods, proot, head, planned);
            json_decref(planned);
        }
        json_decref(head);
    }
    json_t *ochanges = json_object(), *pout = json_object(), *prior_out = json_object();
    outputs_of(e, p, ochanges, pout, prior_out);
    char ts[32];
    time_t now = time(NULL);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    return json_pack("{s:s, s:s, s:s, s:o, s:{s:o, s:o}, s:o, s:o, s:o, s:o, s:b, s:b, s:b, s:s}",
                     "format_version", TFJSON_FORMAT_VERSION, "terraform_version", PLINTH_VERSION,
                     "plinth_version", PLINTH_VERSION, "variables", variables(e), "planned_values", "outputs",
                     pout, "root_module", module_tree(proot, pmods), "resource_changes", rc, "output_changes",
                     ochanges, "prior_state", prior_state(e, prior_out), "configuration", configuration(e),
                     "applyable", plan_has_changes(p) != 0, "complete", true, "errored", false, "timestamp",
                     ts);
}
