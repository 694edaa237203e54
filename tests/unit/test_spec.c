/* test_spec.c: loading platform specs (core/spec.h): declarations, module
 * prefixes, references, the sandbox, variables and error reporting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ref.h"
#include "core/rtype.h"
#include "core/spec.h"

#define FIXTURES "tests/fixtures/spec"

static char tmpdir[64];
static int counter;

static int setup(void **st) {
    (void)st;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/plinth-test-spec-XXXXXX");
    if (!mkdtemp(tmpdir)) return -1;
    return 0;
}

static int teardown(void **st) {
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Writes src to a fresh file in tmpdir; returns its path (static buffer
 * rotated per call is enough for one test). */
static const char *write_tmp(const char *name, const char *src) {
    static char path[4][256];
    char *p = path[counter % 4];
    snprintf(p, 256, "%s/%d-%s", tmpdir, counter++, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(src, f);
    fclose(f);
    return p;
}

/* Loads src (as a temporary spec file) and returns the status. */
static int load_src(const char *src, const spec_opts_t *o, spec_t **s, diag_t *d) {
    return spec_load(write_tmp("spec.lua", src), o, s, d);
}

static const perr_t *find_diag(const diag_t *d, const char *needle) {
    for (size_t i = 0; i < d->n; i++)
        if (strstr(d->items[i].msg, needle)) return &d->items[i];
    return NULL;
}

static void dump_diags(const diag_t *d) {
    for (size_t i = 0; i < d->n; i++)
        print_error("  %s: %s\n", d->items[i].where, d->items[i].msg);
}

/* Asserts d holds an error containing needle at a where ending in ":line". */
static void assert_diag(const diag_t *d, const char *needle, int line) {
    const perr_t *e = find_diag(d, needle);
    if (!e) {
        print_error("no error containing \"%s\" among:\n", needle);
        dump_diags(d);
        fail();
    }
    char suffix[32];
    snprintf(suffix, sizeof suffix, ":%d", line);
    size_t n = strlen(e->where), m = strlen(suffix);
    if (n < m || strcmp(e->where + n - m, suffix) != 0) {
        print_error("error \"%s\" is at \"%s\", expected line %d\n", e->msg, e->where, line);
        fail();
    }
}

static void assert_json(const json_t *v, const char *expected) {
    json_error_t je;
    json_t *e = json_loads(expected, JSON_DECODE_ANY, &je);
    assert_non_null(e);
    if (!json_equal((json_t *)v, e)) {
        char *got = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_SORT_KEYS);
        print_error("got %s\nexpected %s\n", got, expected);
        free(got);
        json_decref(e);
        fail();
    }
    json_decref(e);
}

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static spec_t *load_fixture(const char *env) {
    spec_opts_t o = {0};
    o.env_name = env;
    diag_t d = {0};
    spec_t *s = NULL;
    int rc = spec_load(FIXTURES "/main.lua", &o, &s, &d);
    if (rc != 0) dump_diags(&d);
    assert_int_equal(rc, 0);
    assert_int_equal(d.n, 0);
    diag_free(&d);
    return s;
}

static void test_fixture_loads_resources_with_module_prefixes_and_lines(void **st) {
    (void)st;
    spec_t *s = load_fixture(NULL);
    const char *addrs[] = {"gcp.compute_network.main",
                           "gcp.compute_subnetwork.main",
                           "gcp.container_cluster.gke",
                           "module.mlflow.gcp.sql_instance.db",
                           "module.mlflow.module.inner.gcp.storage_bucket.b",
                           "module.mlflow.module.inner.gcp.storage_bucket.c"};
    assert_int_equal(s->nres, 6);
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(s->res[i].addr, addrs[i]);

    spec_res_t *net = spec_find(s, "gcp.compute_network.main");
    assert_non_null(net);
    assert_string_equal(net->type, "gcp.compute_network");
    assert_string_equal(net->name, "main");
    assert_null(net->module);
    assert_true(ends_with(net->file, "fixtures/spec/main.lua"));
    assert_int_equal(net->line, 6);
    assert_json(net->body, "{\"autoCreateSubnetworks\":false,\"labels\":{\"env\":\"default\"}}");

    spec_res_t *db = spec_find(s, "module.mlflow.gcp.sql_instance.db");
    assert_non_null(db);
    assert_string_equal(db->module, "module.mlflow");
    assert_string_equal(db->type, "gcp.sql_instance");
    assert_string_equal(db->name, "db");
    assert_true(ends_with(db->file, "modules/mlflow.lua"));
    assert_int_equal(db->line, 4);
    assert_json(db->body, "{\"settings\":{\"tier\":\"db-f1\"},\"network\":{\"$plinth\":\"ref\","
                          "\"addr\":\"gcp.compute_network.main\",\"path\":\"selfLink\"}}");

    spec_res_t *b = spec_find(s, "module.mlflow.module.inner.gcp.storage_bucket.b");
    assert_string_equal(b->module, "module.mlflow.module.inner");
    assert_true(ends_with(b->file, "modules/inner/init.lua"));
    assert_int_equal(b->line, 3);
    /* depends_on strings are relative to the module they are written in */
    assert_int_equal(b->depends_on.n, 1);
    assert_string_equal(b->depends_on.v[0], "module.mlflow.module.inner.gcp.storage_bucket.c");
    strlist_t refs = {0};
    ref_collect(b->body, &refs);
    assert_int_equal(refs.n, 1);
    assert_string_equal(refs.v[0], "module.mlflow.gcp.sql_instance.db");
    strlist_free(&refs);
    assert_null(spec_find(s, "gcp.nope.x"));
    spec_free(s);
}

static void test_fixture_meta_keys_become_deps_and_lifecycle(void **st) {
    (void)st;
    spec_t *s = load_fixture(NULL);
    spec_res_t *sub = spec_find(s, "gcp.compute_subnetwork.main");
    assert_true(sub->prevent_destroy);
    assert_true(sub->create_before_destroy);
    assert_int_equal(sub->ignore_changes.n, 1);
    assert_string_equal(sub->ignore_changes.v[0], "labels");
    assert_null(json_object_get(sub->body, "lifecycle"));
    assert_int_equal(sub->depends_on.n, 0);
    strlist_t refs = {0};
    ref_collect(sub->body, &refs);
    assert_int_equal(refs.n, 1);
    assert_string_equal(refs.v[0], "gcp.compute_network.main");
    strlist_free(&refs);

    spec_res_t *gke = spec_find(s, "gcp.container_cluster.gke");
    assert_false(gke->prevent_destroy);
    assert_null(json_object_get(gke->body, "depends_on"));
    assert_int_equal(gke->depends_on.n, 2); /* proxy and address string, deduplicated */
    assert_string_equal(gke->depends_on.v[0], "gcp.compute_subnetwork.main");
    assert_string_equal(gke->depends_on.v[1], "gcp.compute_network.main");
    assert_int_equal(gke->line, 15);
    spec_free(s);
}

static void test_references_deep_and_formatted_become_concat_parts(void **st) {
    (void)st;
    spec_t *s = load_fixture(NULL);
    spec_res_t *sub = spec_find(s, "gcp.compute_subnetwork.main");
    assert_json(json_object_get(sub->body, "network"),
                "{\"$plinth\":\"ref\",\"addr\":\"gcp.compute_network.main\",\"path\":\"selfLink\"}");
    assert_json(json_object_get(sub->body, "description"),
                "{\"$plinth\":\"concat\",\"parts\":[\"net \",{\"$plinth\":\"ref\",\"addr\":"
                "\"gcp.compute_network.main\",\"path\":\"name\"},\"!\"]}");
    spec_res_t *gke = spec_find(s, "gcp.container_cluster.gke");
    json_t *body = gke->body;
    assert_json(json_object_get(body, "network"),
                "{\"$plinth\":\"concat\",\"parts\":[{\"$plinth\":\"ref\",\"addr\":"
                "\"gcp.compute_network.main\",\"path\":\"id\"},\"/x\"]}");
    assert_json(json_object_get(body, "deep"),
                "{\"a\":{\"b\":[{\"$plinth\":\"concat\",\"parts\":[{\"$plinth\":\"ref\",\"addr\":"
                "\"gcp.compute_subnetwork.main\",\"path\":\"name\"},\"-\",{\"$plinth\":\"ref\","
                "\"addr\":\"gcp.compute_network.main\",\"path\":\"name\"}]}]}}");
    /* Lua index 1 is JSON index 0 */
    assert_json(json_object_get(body, "item"),
                "{\"$plinth\":\"ref\",\"addr\":\"gcp.compute_subnetwork.main\",\"path\":"
                "\"secondaryIpRanges.0.rangeName\"}");
    assert_true(json_is_integer(json_object_get(body, "nodes")));
    assert_true(json_is_real(json_object_get(body, "ratio")));
    assert_true(json_is_object(json_object_get(body, "empty")));
    spec_free(s);
}

static void test_fixture_providers_backend_vars_outputs(void **st) {
    (void)st;
    spec_t *s = load_fixture(NULL);
    const spec_provider_t *p = spec_provider(s, "gcp");
    assert_non_null(p);
    assert_json(p->config, "{\"project\":\"p1\",\"region\":\"europe-west1\"}");
    assert_int_equal(p->line, 2);
    assert_null(spec_provider(s, "k8s"));
    assert_string_equal(s->backend_type, "gcs");
    assert_json(s->backend, "{\"bucket\":\"b\",\"prefix\":\"x\"}");
    assert_int_equal(s->nvars, 2);
    assert_string_equal(s->vars[1].name, "size");
    assert_json(s->vars[1].value, "3");
    assert_int_equal(s->noutputs, 6);
    assert_string_equal(s->outputs[1].name, "ca");
    assert_true(s->outputs[1].sensitive);
    assert_false(s->outputs[0].sensitive);
    assert_json(s->outputs[2].value, "{\"$plinth\":\"ref\",\"addr\":"
                                     "\"module.mlflow.gcp.sql_instance.db\",\"path\":"
                                     "\"connectionName\"}");
    assert_json(s->outputs[3].value, "\"u-x\""); /* require()d helper */
    assert_json(s->outputs[4].value,
                "{\"$plinth\":\"concat\",\"parts\":[\"hello world on \",{\"$plinth\":\"ref\","
                "\"addr\":\"gcp.compute_network.main\",\"path\":\"name\"},\" ${literal}\\n\"]}");
    assert_json(s->outputs[5].value, "\"hello ${name} on ${ net } $${literal}\\n\"");
    assert_string_equal(s->dir, FIXTURES);
    spec_free(s);
}

static void test_hash_is_stable_and_follows_content(void **st) {
    (void)st;
    spec_t *a = load_fixture(NULL), *b = load_fixture(NULL), *c = load_fixture("prod");
    assert_int_equal(strlen(spec_digest(a)), 64);
    assert_string_equal(spec_digest(a), spec_digest(b));
    assert_string_not_equal(spec_digest(a), spec_digest(c)); /* plinth.env lands in a label */
    assert_json(json_object_get(spec_find(c, "gcp.compute_network.main")->body, "labels"),
                "{\"env\":\"prod\"}");
    spec_free(a);
    spec_free(b);
    spec_free(c);
}

static void test_concat_table_concat_and_gsub_keep_references(void **st) {
    (void)st;
    spec_t *s = NULL;
    diag_t d = {0};
    int rc = load_src("local n = gcp.compute_network 'n' {}\n"
                      "gcp.storage_bucket 'a' { j = table.concat({ 'a', tostring(n.id), 'b' }, ','),\n"
                      "  g = ('X-' .. n.name):gsub('X', 'Y'), num = 1 .. n.id, u = ('a' .. n.id):upper(),\n"
                      "  whole = n, list = { n.a[2].b } }\n",
                      NULL, &s, &d);
    dump_diags(&d);
    assert_int_equal(rc, 0);
    json_t *body = spec_find(s, "gcp.storage_bucket.a")->body;
    assert_json(json_object_get(body, "j"),
                "{\"$plinth\":\"concat\",\"parts\":[\"a,\",{\"$plinth\":\"ref\",\"addr\":"
                "\"gcp.compute_network.n\",\"path\":\"id\"},\",b\"]}");
    assert_json(json_object_get(body, "g"),
                "{\"$plinth\":\"concat\",\"parts\":[\"Y-\",{\"$plinth\":\"ref\",\"addr\":"
                "\"gcp.compute_network.n\",\"path\":\"name\"}]}");
    assert_json(json_object_get(body, "u"), /* the marker survives upper() */
                "{\"$plinth\":\"concat\",\"parts\":[\"A\",{\"$plinth\":\"ref\",\"addr\":"
                "\"gcp.compute_network.n\",\"path\":\"id\"}]}");
    assert_json(json_object_get(body, "num"),
                "{\"$plinth\":\"concat\",\"parts\":[\"1\",{\"$plinth\":\"ref\",\"addr\":"
                "\"gcp.compute_network.n\",\"path\":\"id\"}]}");
    assert_json(json_object_get(body, "whole"),
                "{\"$plinth\":\"ref\",\"addr\":\"gcp.compute_network.n\",\"path\":\"\"}");
    assert_json(json_object_get(body, "list"),
                "[{\"$plinth\":\"ref\",\"addr\":\"gcp.compute_network.n\",\"path\":\"a.1.b\"}]");
    spec_free(s);
    diag_free(&d);
}

static void test_reference_used_as_number_is_an_error_at_its_line(void **st) {
    (void)st;
    const char *cases[] = {"x = n.mtu + 1", "x = n.mtu < 3", "x = #n.list", "x = -n.mtu", "x = 2 * n.mtu"};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char src[256];
        snprintf(src, sizeof src, "local n = gcp.compute_network 'n' {}\n\n%s\n", cases[i]);
        spec_t *s = NULL;
        diag_t d = {0};
        assert_int_equal(load_src(src, NULL, &s, &d), -1);
        assert_null(s);
        assert_int_equal(d.n, 1);
        assert_diag(&d, "used as a number: its value is known only after apply", 3);
        assert_non_null(strstr(d.items[0].msg, "gcp.compute_network.n"));
        diag_free(&d);
    }
}

static void test_sandbox_blocks_system_access_with_clear_errors(void **st) {
    (void)st;
    struct {
        const char *src, *msg;
    } cases[] = {
        {"os.execute('true')", "os.execute is not available"},
        {"io.open('/tmp/x', 'w')", "io is not available"},
        {"require('lfs')", "module 'lfs' not found"},
        {"require('socket.core')", "module 'socket.core' not found"},
        {"assert(load(string.char(27) .. 'Lua', 'x', 'b'))", "attempt to load a binary chunk"},
        {"assert(load(string.char(27) .. 'LuaT'))", "attempt to load a binary chunk"},
        {"dofile('/etc/passwd')", "dofile is not available"},
        {"debug.getinfo(1)", "debug is not available"},
        {"package.loadlib('x', 'y')", "package is not available"},
        {"os.remove('/tmp/x')", "os.remove is not available"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char src[256];
        snprintf(src, sizeof src, "local t = os.time() + os.clock()\n%s\n", cases[i].src);
        spec_t *s = NULL;
        diag_t d = {0};
        assert_int_equal(load_src(src, NULL, &s, &d), -1);
        assert_int_equal(d.n, 1);
        assert_diag(&d, cases[i].msg, 2);
        diag_free(&d);
    }
    /* text chunks through load() still work */
    spec_t *s = NULL;
    diag_t d = {0};
    assert_int_equal(load_src("local f = load('return 41 + 1')\n"
                              "output('v', f())\noutput('e', os.getenv('PLINTH_VAR_none') == nil)\n",
                              NULL, &s, &d),
                     0);
    assert_json(s->outputs[0].value, "42");
    spec_free(s);
    diag_free(&d);
}

static void test_lua_errors_are_located_without_duplicated_position(void **st) {
    (void)st;
    spec_t *s = NULL;
    diag_t d = {0};
    assert_int_equal(load_src("local x = 1\nerror('boom')\n", NULL, &s, &d), -1);
    assert_int_equal(d.n, 1);
    assert_diag(&d, "boom", 2);
    assert_string_equal(d.items[0].msg, "boom");
    diag_free(&d);

    assert_int_equal(load_src("local x = 1\n\nlocal y = = 2\n", NULL, &s, &d), -1);
    assert_int_equal(d.n, 1);
    assert_diag(&d, "unexpected symbol", 3);
    assert_null(strstr(d.items[0].msg, ".lua:"));
    diag_free(&d);

    assert_int_equal(load_src("local t = nil\nlocal x = t.field\n", NULL, &s, &d), -1);
    assert_diag(&d, "attempt to index a nil value", 2);
    assert_null(strstr(d.items[0].msg, ".lua:"));
    diag_free(&d);

    assert_int_equal(spec_load("/nonexistent/platform.lua", NULL, &s, &d), -1);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.items[0].msg, "cannot read /nonexistent/platform.lua"));
    diag_free(&d);
}

static void test_runaway_specs_fail_cleanly(void **st) {
    (void)st;
    spec_t *s = NULL;
    diag_t d = {0};
    assert_int_equal(load_src("local x = string.rep('x', 600 * 1024 * 1024)\n", NULL, &s, &d), -1);
    assert_int_equal(d.n, 1);
    assert_non_null(strstr(d.items[0].msg, "more than 512 MiB of memory"));
    diag_free(&d);
    assert_int_equal(load_src("local i = 0\nwhile true do i = i + 1 end\n", NULL, &s, &d), -1);
    assert_int_equal(d.n, 1);
    assert_diag(&d, "million Lua instructions", 2);
    diag_free(&d);
}

static const char VARS_SPEC[] = "local v = var('v', { default = 'd' })\n"
                                "output('v', v)\n";

static void test_var_precedence_default_env_file_cli(void **st) {
    (void)st;
    spec_opts_t o = {0};
    spec_t *s = NULL;
    diag_t d = {0};
    unsetenv("PLINTH_VAR_v");
    assert_int_equal(load_src(VARS_SPEC, &o, &s, &d), 0);
    assert_json(s->vars[0].value, "\"d\"");
    spec_free(s);

    setenv("PLINTH_VAR_v", "env", 1);
    assert_int_equal(load_src(VARS_SPEC, &o, &s, &d), 0);
    assert_json(s->outputs[0].value, "\"env\"");
    spec_free(s);

    strlist_add(&o.var_files, write_tmp("a.lua", "return { v = 'lua-file', other = 1 }"));
    strlist_add(&o.var_files, write_tmp("b.json", "{\"v\": \"json-file\"}"));
    assert_int_equal(load_src(VARS_SPEC, &o, &s, &d), 0);
    assert_json(s->vars[0].value, "\"json-file\""); /* later file wins */
    spec_free(s);

    strlist_add(&o.vars, "v=cli1");
    strlist_add(&o.vars, "v=cli2");
    assert_int_equal(load_src(VARS_SPEC, &o, &s, &d), 0);
    assert_json(s->vars[0].value, "\"cli2\""); /* later --var wins */
    spec_free(s);
    unsetenv("PLINTH_VAR_v");
    strlist_free(&o.vars);
    strlist_free(&o.var_files);
    assert_int_equal(d.n, 0);
}

static void test_var_strings_convert_to_declared_types(void **st) {
    (void)st;
    spec_opts_t o = {0};
    strlist_add(&o.vars, "n=42");
    strlist_add(&o.vars, "r=4.5");
    strlist_add(&o.vars, "b=true");
    strlist_add(&o.vars, "l=[\"a\",\"b\"]");
    strlist_add(&o.vars, "m={\"k\":1}");
    strlist_add(&o.vars, "inferred=7");
    spec_t *s = NULL;
    diag_t d = {0};
    int rc = load_src("var('n', { type = 'number' })\nvar('r', { type = 'number' })\n"
                      "var('b', { type = 'bool', sensitive = true })\nvar('l', { type = 'list' })\n"
                      "var('m', { type = 'map' })\nlocal i = var('inferred', { default = 1 })\n"
                      "output('i', i + 1)\n",
                      &o, &s, &d);
    dump_diags(&d);
    assert_int_equal(rc, 0);
    assert_true(json_is_integer(s->vars[0].value));
    assert_json(s->vars[0].value, "42");
    assert_json(s->vars[1].value, "4.5");
    assert_json(s->vars[2].value, "true");
    assert_true(s->vars[2].sensitive);
    assert_json(s->vars[3].value, "[\"a\",\"b\"]");
    assert_json(s->vars[4].value, "{\"k\":1}");
    assert_json(s->outputs[0].value, "8");
    spec_free(s);
    strlist_free(&o.vars);
}

static void test_var_errors_are_collected_and_name_the_variable(void **st) {
    (void)st;
    spec_opts_t o = {0};
    strlist_add(&o.vars, "n=abc");
    strlist_add(&o.vars, "b=maybe");
    strlist_add(&o.vars, "typo=1");
    spec_t *s = NULL;
    diag_t d = {0};
    assert_int_equal(load_src("var('n', { type = 'number' })\nvar('b', { type = 'bool' })\n"
                              "var('missing')\nvar('t', { type = 'integer', default = 1 })\n"
                              "var('l', { type = 'list', default = 'x' })\n"
                              "var('o', { defualt = 1 })\n",
                              &o, &s, &d),
                     -1);
    assert_diag(&d, "variable \"n\" (number): --var n: \"abc\" is not a number", 1);
    assert_diag(&d, "variable \"b\" (bool): --var b: \"maybe\" is not a bool", 2);
    assert_diag(&d, "variable \"missing\" has no value", 3);
    assert_diag(&d, "variable \"t\": unknown type \"integer\"", 4);
    assert_diag(&d, "variable \"l\": default \"x\" is not a list", 5);
    assert_diag(&d, "var(\"o\"): unknown option \"defualt\"", 6);
    assert_non_null(find_diag(&d, "the spec declares no variable \"typo\""));
    assert_int_equal(d.n, 7);
    diag_free(&d);
    strlist_free(&o.vars);
}

static void test_var_declared_again_gives_the_same_value(void **st) {
    (void)st;
    spec_opts_t o = {0};
    strlist_add(&o.vars, "p=given");
    spec_t *s = NULL;
    diag_t d = {0};
    assert_int_equal(load_src("local a = var('p', { default = 'x' })\n"
                              "local b = var('p', { default = 'y' })\noutput('b', b)\n",
                              &o, &s, &d),
                     0);
    assert_int_equal(s->nvars, 1);
    assert_json(s->outputs[0].value, "\"given\"");
    spec_free(s);
    assert_int_equal(load_src("var('p', { default = 'x' })\n\nvar('p', { type = 'number' })\n", &o, &s, &d),
                     -1);
    assert_diag(&d, "variable \"p\" is declared again as number", 3);
    diag_free(&d);
    strlist_free(&o.vars);
}

static void test_many_mistakes_are_reported_together(void **st) {
    (void)st;
    spec_opts_t o = {0};
    strlist_add(&o.vars, "size=big");
    spec_t *s = NULL;
    diag_t d = {0};
    assert_int_equal(load_src("local size = var('size', { type = 'number' })\n"
                              "local net = gcp.compute_network 'main' {}\n"
                              "gcp.compute_network 'main' {}\n"
                              "gcp.compute_subnetwork 'sub' { ranges = { 'a', 'b', name = 'c' } }\n"
                              "gcp.compute_subnetwork 'bad name!' {}\n"
                              "gcp.compute_subnetwork 'keys' { labels = { [1.5] = 'x' } }\n"
                              "provider 'gcp' {}\nprovider 'gcp' {}\n"
                              "local n = net.mtu * 2\n",
                              &o, &s, &d),
                     -1);
    assert_diag(&d, "variable \"size\" (number): --var size: \"big\" is not a number", 1);
    assert_diag(&d, "duplicate resource gcp.compute_network.main (first declared at", 3);
    assert_non_null(strstr(find_diag(&d, "duplicate resource")->msg, ".lua:2)"));
    assert_diag(&d,
                "body of gcp.compute_subnetwork.sub, at \"ranges\": table mixes list items "
                "and named keys (key \"name\")",
                4);
    assert_diag(&d, "invalid resource name \"bad name!\"", 5);
    assert_diag(&d, "key [1.5] is not a string", 6);
    assert_diag(&d, "provider \"gcp\" is declared twice", 8);
    assert_diag(&d, "reference gcp.compute_network.main.mtu used as a number", 9);
    assert_int_equal(d.n, 7);
    diag_free(&d);
    strlist_free(&o.vars);
}

/* Unknown types and undeclared depends_on targets are validate_spec's to
 * report (with schema errors, all together): the loader keeps them intact. */
static void test_unknown_types_and_dangling_depends_on_are_left_to_validation(void **st) {
    (void)st;
    spec_t *s = NULL;
    diag_t d = {0};
    int rc = load_src("\ngcp.compute_netwrk 'n' {}\n"
                      "gcp.storage_bucket 'b' { depends_on = { 'gcp.storage_bucket.nope' } }\n",
                      NULL, &s, &d);
    dump_diags(&d);
    assert_int_equal(rc, 0);
    spec_res_t *n = spec_find(s, "gcp.compute_netwrk.n");
    assert_non_null(n);
    assert_string_equal(n->type, "gcp.compute_netwrk");
    assert_int_equal(n->line, 2);
    spec_res_t *b = spec_find(s, "gcp.storage_bucket.b");
    assert_int_equal(b->depends_on.n, 1);
    assert_string_equal(b->depends_on.v[0], "gcp.storage_bucket.nope");
    spec_free(s);
}

static void test_module_mistakes_are_errors(void **st) {
    (void)st;
    spec_opts_t o = {0};
    o.modules_dir = FIXTURES "/modules";
    spec_t *s = NULL;
    diag_t d = {0};
    assert_int_equal(load_src("module 'm' { source = 'util' }\n", &o, &s, &d), -1);
    assert_diag(&d, "must return a function(inputs)", 1);
    diag_free(&d);
    assert_int_equal(
        load_src("module 'x' { source = 'inner' }\nmodule 'x' { source = 'inner' }\n", &o, &s, &d), -1);
    assert_diag(&d, "module \"x\" is declared twice", 2);
    assert_int_equal(d.n, 1);
    diag_free(&d);
    assert_int_equal(load_src("module 'x' { source = 'nothere' }\n", &o, &s, &d), -1);
    assert_diag(&d, "source \"nothere\" not found", 1);
    diag_free(&d);
    /* the table form, with the module's outputs returned */
    assert_int_equal(load_src("local m = module { source = 'inner', name = 'i2' }\n"
                              "gcp.storage_bucket 'y' { depends_on = { 'module.i2' } }\n"
                              "local e = module 'echo' { source = 'echo', name = 'n1', x = 2 }\n"
                              "output('echo', e)\n",
                              &o, &s, &d),
                     0);
    assert_non_null(spec_find(s, "module.i2.gcp.storage_bucket.c"));
    assert_int_equal(spec_find(s, "gcp.storage_bucket.y")->depends_on.n, 2); /* the module's resources */
    /* every input but source reaches the module function, name included */
    assert_json(s->outputs[0].value, "{\"name\":\"n1\",\"x\":2}");
    spec_free(s);
    /* an error inside a module caught by pcall leaves the root prefix */
    assert_int_equal(load_src("local ok, err = pcall(function() module 'b' { source = 'boom' } end)\n"
                              "assert(not ok and err:find('inside'))\n"
                              "gcp.storage_bucket 'root' {}\n"
                              "local e = module 'echo' { source = 'echo', name = 'n1', x = 2 }\n"
                              "output('echo', e)\n",
                              &o, &s, &d),
                     0);
    dump_diags(&d);
    assert_non_null(spec_find(s, "module.b.gcp.storage_bucket.x"));
    assert_non_null(spec_find(s, "gcp.storage_bucket.root"));
    spec_free(s);
}

static void test_declaration_mistakes(void **st) {
    (void)st;
    spec_t *s = NULL;
    diag_t d = {0};
    assert_int_equal(load_src("gcp.storage_bucket 'a' { depends_on = { 'gcp.storage_bucket.nope' },\n"
                              "  lifecycle = { prevent_destroy = 'yes' } }\n"
                              "backend 's3' {}\noutput('o', 1)\noutput('o', 2)\n"
                              "templatefile('nofile.txt', {})\n",
                              NULL, &s, &d),
                     -1);
    assert_diag(&d, "lifecycle.prevent_destroy is not valid", 1);
    assert_diag(&d, "unknown backend \"s3\"", 3);
    assert_diag(&d, "output \"o\" is declared twice", 5);
    assert_diag(&d, "templatefile(\"nofile.txt\")", 6);
    diag_free(&d);
    const char *tpl = write_tmp("t.txt", "a ${x} ${y}");
    char src[512];
    snprintf(src, sizeof src, "\ntemplatefile('%s', { x = 1 })\n", tpl);
    assert_int_equal(load_src(src, NULL, &s, &d), -1);
    assert_diag(&d, "variable \"y\" is not set", 2);
    diag_free(&d);
    assert_int_equal(
        load_src("local n = gcp.storage_bucket 'a' {}\ngcp.storage_bucket (n.name) {}\n", NULL, &s, &d), -1);
    assert_diag(&d, "must be a plain string, not a reference", 2);
    diag_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_loads_resources_with_module_prefixes_and_lines),
        cmocka_unit_test(test_fixture_meta_keys_become_deps_and_lifecycle),
        cmocka_unit_test(test_references_deep_and_formatted_become_concat_parts),
        cmocka_unit_test(test_fixture_providers_backend_vars_outputs),
        cmocka_unit_test(test_hash_is_stable_and_follows_content),
        cmocka_unit_test(test_concat_table_concat_and_gsub_keep_references),
        cmocka_unit_test(test_reference_used_as_number_is_an_error_at_its_line),
        cmocka_unit_test(test_sandbox_blocks_system_access_with_clear_errors),
        cmocka_unit_test(test_lua_errors_are_located_without_duplicated_position),
        cmocka_unit_test(test_runaway_specs_fail_cleanly),
        cmocka_unit_test(test_var_precedence_default_env_file_cli),
        cmocka_unit_test(test_var_strings_convert_to_declared_types),
        cmocka_unit_test(test_var_errors_are_collected_and_name_the_variable),
        cmocka_unit_test(test_var_declared_again_gives_the_same_value),
        cmocka_unit_test(test_many_mistakes_are_reported_together),
        cmocka_unit_test(test_unknown_types_and_dangling_depends_on_are_left_to_validation),
        cmocka_unit_test(test_module_mistakes_are_errors),
        cmocka_unit_test(test_declaration_mistakes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
