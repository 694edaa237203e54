/* spec_digest.c: the sha256 of a spec's declared content, which a saved
 * plan records so that apply can refuse a plan made from another spec. */
#include <stdlib.h>
#include <string.h>

#include "core/spec.h"

static void spec_hash_compute(spec_t *s) {
    json_t *res = json_object(), *outs = json_object(), *provs = json_object();
    for (size_t i = 0; i < s->nres; i++) {
        spec_res_t *r = &s->res[i];
        json_t *deps = json_array(), *ign = json_array();
        for (size_t j = 0; j < r->depends_on.n; j++)
            json_array_append_new(deps, json_string(r->depends_on.v[j]));
        for (size_t j = 0; j < r->ignore_changes.n; j++)
            json_array_append_new(ign, json_string(r->ignore_changes.v[j]));
        json_object_set_new(res, r->addr,
                            json_pack("{s:s, s:O, s:o, s:{s:b, s:b, s:o}}", "type", r->type, "body", r->body,
                                      "deps", deps, "lifecycle", "prevent_destroy", r->prevent_destroy,
                                      "create_before_destroy", r->create_before_destroy, "ignore_changes",
                                      ign));
        if (r->rtb_addr.n) {
            json_t *t = json_array();
            for (size_t j = 0; j < r->rtb_addr.n; j++)
                json_array_append_new(t, json_pack("[s, s]", r->rtb_addr.v[j], r->rtb_path.v[j]));
            json_object_set_new(json_object_get(json_object_get(res, r->addr), "lifecycle"),
                                "replace_triggered_by", t);
        }
    }
    for (size_t i = 0; i < s->noutputs; i++)
        json_object_set_new(
            outs, s->outputs[i].name,
            json_pack("{s:O, s:b}", "value", s->outputs[i].value, "sensitive", s->outputs[i].sensitive));
    for (size_t i = 0; i < s->nproviders; i++)
        json_object_set(provs, s->providers[i].name, s->providers[i].config);
    json_t *all = json_pack("{s:o, s:o, s:o}", "resources", res, "outputs", outs, "providers", provs);
    char *txt = json_dumps(all, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    util_sha256_hex(txt, strlen(txt), s->hash);
    free(txt);
    json_decref(all);
}

/* Computed on first use: only saved plans need it, and for a large spec it
 * costs as much as a tenth of a no-op plan. */
const char *spec_digest(spec_t *s) {
    if (!s->hash[0]) spec_hash_compute(s);
    return s->hash;
}
