/* test_gcp_backend.c: state in Cloud Storage (providers/gcp/gcp_backend.c):
 * round trips under prefix and environment, generation preconditions,
 * lost answers, locking; against an in-process fake of the Storage JSON API
 * and against plinth-emulator. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <microhttpd.h>
#include <pthread.h>

#include "core/state.h"
#include "tests/support/san.h"
#include "emulator/emu.h"
#include "providers/gcp/gcp_backend.h"
#include "transport/gcp_http.h"

/* ---- GCS backend against a small in-process fake of the Storage JSON
 * API (objects with generations, ifGenerationMatch, media upload and
 * download), so these tests do not depend on the emulator. ---- */

typedef struct fobj {
    char name[256];
    char *data;
    size_t len;
    long long gen;
} fobj_t;

static struct {
    pthread_mutex_t mu;
    fobj_t objs[16];
    int nobjs;
    long long next_gen;
    int fail_next_upload_after_apply; /* answer 503 after storing, once */
    int requests;
    char last_bucket[64];
} fake = {.mu = PTHREAD_MUTEX_INITIALIZER, .next_gen = 1000};

static void pct_decode(char *s) {
    char *o = s;
    for (; *s; s++) {
        if (*s == '%' && s[1] && s[2]) {
            char h[3] = {s[1], s[2], 0};
            *o++ = (char)strtol(h, NULL, 16);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
}

static fobj_t *fake_find(const char *name) {
    for (int i = 0; i < fake.nobjs; i++)
        if (strcmp(fake.objs[i].name, name) == 0) return &fake.objs[i];
    return NULL;
}

static void fake_del(fobj_t *o) {
    free(o->data);
    *o = fake.objs[--fake.nobjs];
}

static size_t fake_no_unescape(void *cls, struct MHD_Connection *c, char *s) {
    return strlen(s);
}

typedef struct fbody {
    sbuf_t b;
} fbody_t;

static enum MHD_Result fake_reply(struct MHD_Connection *con, int status, char *body) {
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result ret = MHD_queue_response(con, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static char *fake_err(int code, const char *msg) {
    return xasprintf("{\"error\":{\"code\":%d,\"message\":\"%s\",\"errors\":[{\"reason\":\"%s\"}]}}", code,
                     msg, code == 412 ? "conditionNotMet" : "notFound");
}

static char *fake_meta(const char *bucket, const fobj_t *o) {
    return xasprintf("{\"kind\":\"storage#object\",\"bucket\":\"%s\",\"name\":\"%s\","
                     "\"generation\":\"%lld\",\"size\":\"%zu\"}",
                     bucket, o->name, o->gen, o->len);
}

static enum MHD_Result fake_handle(void *cls, struct MHD_Connection *con, const char *url, const char *method,
                                   const char *version, const char *upload, size_t *upload_size,
                                   void **con_cls) {
    if (!*con_cls) {
        *con_cls = xcalloc(1, sizeof(fbody_t));
        return MHD_YES;
    }
    fbody_t *fb = *con_cls;
    if (*upload_size) {
        sbuf_addn(&fb->b, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    const char *ifg = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "ifGenerationMatch");
    const char *alt = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "alt");
    const char *qgen = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "generation");
    char bucket[64] = "", name[256] = "";
    int status = 200;
    char *out = NULL;
    pthread_mutex_lock(&fake.mu);
    fake.requests++;
    if (strcmp(method, "POST") == 0 && sscanf(url, "/storage/upload/storage/v1/b/%63[^/]/o", bucket) == 1) {
        const char *n = MHD_lookup_connection_value(con, MHD_GET_ARGUMENT_KIND, "name");
        snprintf(name, sizeof name, "%s", n ? n : "");
        pct_decode(name);
        fobj_t *o = fake_find(name);
        if (ifg && atoll(ifg) != (o ? o->gen : 0)) {
            status = 412;
            out = fake_err(412, "At least one of the pre-conditions you specified did not hold.");
        } else {
            if (!o) {
                o = &fake.objs[fake.nobjs++];
                snprintf(o->name, sizeof o->name, "%s", name);
            } else {
                free(o->data);
            }
            o->len = fb->b.len;
            o->data = xmalloc(o->len + 1);
            memcpy(o->data, fb->b.s ? fb->b.s : "", o->len);
            o->gen = ++fake.next_gen;
            out = fake_meta(bucket, o);
            if (fake.fail_next_upload_after_apply) {
                fake.fail_next_upload_after_apply = 0;
                free(out);
                status = 503;
                out = fake_err(503, "backend error");
            }
        }
    } else if (sscanf(url, "/storage/storage/v1/b/%63[^/]/o/%255s", bucket, name) == 2) {
        pct_decode(name);
        fobj_t *o = fake_find(name);
        if (!o || (qgen && atoll(qgen) != o->gen)) {
            status = 404;
            out = fake_err(404, "No such object");
        } else if (strcmp(method, "DELETE") == 0) {
            if (ifg && atoll(ifg) != o->gen) {
                status = 412;
                out = fake_err(412, "precondition");
            } else {
                fake_del(o);
                status = 204;
                out = xstrdup("");
            }
        } else if (alt && strcmp(alt, "media") == 0) {
            out = xstrndup(o->data, o->len);
        } else {
            out = fake_meta(bucket, o);
        }
    } else {
        status = 404;
        out = fake_err(404, "no route");
    }
    snprintf(fake.last_bucket, sizeof fake.last_bucket, "%s", bucket);
    pthread_mutex_unlock(&fake.mu);
    sbuf_free(&fb->b);
    return fake_reply(con, status, out);
}

static void fake_done(void *cls, struct MHD_Connection *con, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
    fbody_t *fb = *con_cls;
    if (fb) sbuf_free(&fb->b);
    free(fb);
    *con_cls = NULL;
}

static struct MHD_Daemon *fake_start(int *port) {
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
                         fake_handle, NULL, MHD_OPTION_UNESCAPE_CALLBACK, fake_no_unescape, NULL,
                         MHD_OPTION_NOTIFY_COMPLETED, fake_done, NULL, MHD_OPTION_END);
    assert_non_null(d);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info->port;
    return d;
}

static void fake_reset(void) {
    pthread_mutex_lock(&fake.mu);
    while (fake.nobjs)
        fake_del(&fake.objs[0]);
    fake.fail_next_upload_after_apply = 0;
    pthread_mutex_unlock(&fake.mu);
}

typedef struct gcs_env {
    struct MHD_Daemon *d;
    gcp_client_t *c;
} gcs_env_t;

static int gcs_setup(void **st) {
    static gcs_env_t env;
    int port = 0;
    /* no credential lookups beyond this fake token: everything stays on loopback */
    setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "test-token", 1);
    env.d = fake_start(&port);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", port);
    gcp_opts_t o = {.endpoint = ep, .retry_budget_ms = 5000};
    perr_t e = {0};
    env.c = gcp_client_new(&o, &e);
    if (!env.c) {
        fprintf(stderr, "gcp_client_new: %s\n", e.msg);
        return -1;
    }
    fake_reset();
    *st = &env;
    return 0;
}

static int gcs_teardown(void **st) {
    gcs_env_t *env = *st;
    gcp_client_free(env->c);
    MHD_stop_daemon(env->d);
    fake_reset();
    return 0;
}

static void test_gcs_state_round_trips_under_prefix_and_env(void **st) {
    gcs_env_t *env = *st;
    perr_t e = {0};
    assert_null(backend_gcs_new(env->c, "", "p", "dev", &e));
    assert_non_null(strstr(e.msg, "bucket"));
    backend_t *b = backend_gcs_new(env->c, "acme-state", "/ml/platform/", "dev", &e);
    assert_non_null(b);
    assert_string_equal(b->kind, "gcs");
    assert_string_equal(b->describe, "gcs state gs://acme-state/ml/platform/dev.plinth.json");
    char *data = (char *)1;
    size_t len;
    assert_int_equal(b->read(b, &data, &len, &e), 0);
    assert_null(data);
    state_t *s = NULL;
    assert_int_equal(state_load(b, &s, &e), 0);
    state_upsert(s, "gcp.compute_network.main", "gcp.compute_network")->id = xstrdup("n/main");
    if (state_save(b, s, &e) != 0) fail_msg("save: %s", e.msg);
    assert_int_equal(state_save(b, s, &e), 0); /* second CAS write uses the new generation */
    pthread_mutex_lock(&fake.mu);
    assert_non_null(fake_find("ml/platform/dev.plinth.json"));
    assert_string_equal(fake.last_bucket, "acme-state");
    pthread_mutex_unlock(&fake.mu);
    backend_t *b2 = backend_gcs_new(env->c, "acme-state", "ml/platform", "dev", &e);
    state_t *s2 = NULL;
    if (state_load(b2, &s2, &e) != 0) fail_msg("load: %s", e.msg);
    assert_int_equal(s2->serial, 2);
    assert_string_equal(state_find(s2, "gcp.compute_network.main")->id, "n/main");
    state_free(s);
    state_free(s2);
    b->free(b);
    b2->free(b2);
    fake_reset();
}

static void test_gcs_write_after_another_run_fails_with_conflict(void **st) {
    gcs_env_t *env = *st;
    perr_t e = {0};
    backend_t *a = backend_gcs_new(env->c, "bkt", "", NULL, &e),
              *b = backend_gcs_new(env->c, "bkt", NULL, "default", &e);
    state_t *sa = NULL, *sb = NULL;
    assert_int_equal(state_load(a, &sa, &e), 0);
    assert_int_equal(state_save(a, sa, &e), 0); /* creates default.plinth.json */
    assert_int_equal(state_load(b, &sb, &e), 0);
    assert_int_equal(state_save(b, sb, &e), 0); /* b moves the generation on */
    state_upsert(sa, "x.y", "t");
    assert_int_equal(state_save(a, sa, &e), -1);
    if (!strstr(e.msg, "state was changed by another run since it was read (generation "))
        fail_msg("got '%s'", e.msg);
    assert_non_null(strstr(e.msg, "re-run plan"));
    assert_int_equal(sa->serial, 1); /* not bumped by the failed save */
    state_free(sa);
    state_free(sb);
    a->free(a);
    b->free(b);
    fake_reset();
}

static void test_gcs_write_whose_answer_was_lost_but_landed_succeeds(void **st) {
    gcs_env_t *env = *st;
    perr_t e = {0};
    backend_t *b = backend_gcs_new(env->c, "bkt", "p", "e", &e);
    state_t *s = NULL;
    assert_int_equal(state_load(b, &s, &e), 0);
    pthread_mutex_lock(&fake.mu);
    fake.fail_next_upload_after_apply = 1; /* stored, then 503: the retry gets 412 */
    pthread_mutex_unlock(&fake.mu);
    if (state_save(b, s, &e) != 0) fail_msg("save: %s", e.msg);
    pthread_mutex_lock(&fake.mu);
    assert_int_equal(fake.fail_next_upload_after_apply, 0); /* the fault did happen */
    pthread_mutex_unlock(&fake.mu);
    assert_int_equal(state_save(b, s, &e), 0); /* and the remembered generation is right */
    state_free(s);
    b->free(b);
    fake_reset();
}

static void test_gcs_lock_is_exclusive_and_unlock_checks_id(void **st) {
    gcs_env_t *env = *st;
    perr_t e = {0};
    backend_t *a = backend_gcs_new(env->c, "bkt", "p", "prod", &e),
              *b = backend_gcs_new(env->c, "bkt", "p", "prod", &e);
    state_lock_info_t li, info;
    assert_int_equal(a->lock_info(a, &info, &e), 0);
    if (a->lock(a, "apply", &li, &e) != 0) fail_msg("lock: %s", e.msg);
    pthread_mutex_lock(&fake.mu);
    assert_non_null(fake_find("p/prod.plinth.lock"));
    pthread_mutex_unlock(&fake.mu);
    assert_int_equal(b->lock(b, "plan", NULL, &e), -1);
    char want[512];
    snprintf(want, sizeof want, "state is locked by %s@%s (pid %d) for apply since %s (lock ID %s)", li.who,
             li.host, li.pid, li.created, li.id);
    if (!strstr(e.msg, want)) fail_msg("got '%s', want '%s'", e.msg, want);
    assert_int_equal(b->lock_info(b, &info, &e), 1);
    assert_string_equal(info.id, li.id);
    assert_int_equal(b->unlock(b, "wrong", &e), -1);
    assert_non_null(strstr(e.msg, "does not match"));
    if (b->unlock(b, li.id, &e) != 0) fail_msg("unlock: %s", e.msg);
    assert_int_equal(a->lock_info(a, &info, &e), 0);
    assert_int_equal(a->unlock(a, li.id, &e), -1);
    assert_non_null(strstr(e.msg, "not locked"));
    assert_int_equal(b->lock(b, "plan", &li, &e), 0);
    assert_int_equal(b->unlock(b, li.id, &e), 0);
    a->free(a);
    b->free(b);
    fake_reset();
}

/* ---- the same backend against plinth's emulator (its Storage API). ---- */

typedef struct emu_env {
    emu_t *emu;
    gcp_client_t *c;
} emu_env_t;

static int emu_setup(void **st) {
    static emu_env_t env;
    setenv("GOOGLE_OAUTH_ACCESS_TOKEN", "test-token", 1);
    emu_config_t cfg = {.port = 0, .op_scale = 0.01};
    perr_t e = {0};
    env.emu = emu_new(&cfg, &e);
    if (!env.emu || emu_start(env.emu, &e) != 0) {
        fprintf(stderr, "emulator: %s\n", e.msg);
        return -1;
    }
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", emu_port(env.emu));
    gcp_opts_t o = {.endpoint = ep, .retry_budget_ms = 5000};
    env.c = gcp_client_new(&o, &e);
    if (!env.c) {
        fprintf(stderr, "gcp_client_new: %s\n", e.msg);
        return -1;
    }
    json_t *body = json_pack("{s:s}", "name", "emu-state-bkt");
    gcp_resp_t r = {0};
    int rc = gcp_call(env.c, "POST", "storage", "storage/v1/b?project=test-proj", body, &r, &e);
    json_decref(body);
    if (rc != 0 || r.status != 200) {
        fprintf(stderr, "bucket create: %ld %s\n", r.status, r.raw ? r.raw : e.msg);
        gcp_resp_free(&r);
        return -1;
    }
    gcp_resp_free(&r);
    *st = &env;
    return 0;
}

static int emu_teardown(void **st) {
    emu_env_t *env = *st;
    if (!env) return 0;
    gcp_client_free(env->c);
    emu_stop(env->emu);
    emu_free(env->emu);
    return 0;
}

static void test_emulator_gcs_state_saves_loads_and_detects_conflicts(void **st) {
    emu_env_t *env = *st;
    perr_t e = {0};
    backend_t *a = backend_gcs_new(env->c, "emu-state-bkt", "ml/platform", "dev", &e),
              *b = backend_gcs_new(env->c, "emu-state-bkt", "ml/platform", "dev", &e);
    state_t *sa = NULL, *sb = NULL;
    if (state_load(a, &sa, &e) != 0) fail_msg("load: %s", e.msg);
    assert_int_equal(sa->nres, 0);
    state_upsert(sa, "gcp.compute_network.main", "gcp.compute_network")->id = xstrdup("n/main");
    if (state_save(a, sa, &e) != 0) fail_msg("save: %s", e.msg);
    if (state_save(a, sa, &e) != 0) fail_msg("second save: %s", e.msg);
    if (state_load(b, &sb, &e) != 0) fail_msg("load b: %s", e.msg);
    assert_int_equal(sb->serial, 2);
    assert_string_equal(state_find(sb, "gcp.compute_network.main")->id, "n/main");
    assert_int_equal(state_save(b, sb, &e), 0);
    state_upsert(sa, "gcp.compute_network.other", "gcp.compute_network");
    assert_int_equal(state_save(a, sa, &e), -1); /* a's generation is stale now */
    if (!strstr(e.msg, "state was changed by another run since it was read")) fail_msg("got '%s'", e.msg);
    /* the object is where the contract says */
    gcp_resp_t r = {0};
    assert_int_equal(gcp_call(env->c, "GET", "storage",
                              "storage/v1/b/emu-state-bkt/o/ml%2Fplatform%2Fdev.plinth.json", NULL, &r, &e),
                     0);
    assert_int_equal(r.status, 200);
    gcp_resp_free(&r);
    state_free(sa);
    state_free(sb);
    a->free(a);
    b->free(b);
}

static void test_emulator_gcs_lock_is_exclusive_and_unlock_checks_id(void **st) {
    emu_env_t *env = *st;
    perr_t e = {0};
    backend_t *a = backend_gcs_new(env->c, "emu-state-bkt", "locks", "prod", &e),
              *b = backend_gcs_new(env->c, "emu-state-bkt", "locks", "prod", &e);
    state_lock_info_t li, info;
    assert_int_equal(a->lock_info(a, &info, &e), 0);
    if (a->lock(a, "apply", &li, &e) != 0) fail_msg("lock: %s", e.msg);
    assert_int_equal(b->lock(b, "plan", NULL, &e), -1);
    if (!strstr(e.msg, "state is locked by") || !strstr(e.msg, li.id)) fail_msg("got '%s'", e.msg);
    assert_int_equal(b->unlock(b, "wrong", &e), -1);
    assert_non_null(strstr(e.msg, "does not match"));
    if (b->unlock(b, li.id, &e) != 0) fail_msg("unlock: %s", e.msg);
    assert_int_equal(a->lock_info(a, &info, &e), 0);
    if (b->lock(b, "plan", &li, &e) != 0) fail_msg("relock: %s", e.msg);
    assert_int_equal(b->unlock(b, li.id, &e), 0);
    a->free(a);
    b->free(b);
}

static void test_emulator_gcs_missing_bucket_is_a_clear_error(void **st) {
    emu_env_t *env = *st;
    perr_t e = {0};
    backend_t *b = backend_gcs_new(env->c, "no-such-bucket-here", "", "dev", &e);
    state_t *s = NULL;
    int rc = state_load(b, &s, &e);
    if (rc == 0) {
        assert_int_equal(state_save(b, s, &e), -1);
        state_free(s);
    }
    if (!strstr(e.msg, "no-such-bucket-here")) fail_msg("got '%s'", e.msg);
    b->free(b);
}

int main(void) {
    const struct CMUnitTest gcs_tests[] = {
        cmocka_unit_test(test_gcs_state_round_trips_under_prefix_and_env),
        cmocka_unit_test(test_gcs_write_after_another_run_fails_with_conflict),
        cmocka_unit_test(test_gcs_write_whose_answer_was_lost_but_landed_succeeds),
        cmocka_unit_test(test_gcs_lock_is_exclusive_and_unlock_checks_id),
    };
    const struct CMUnitTest emu_tests[] = {
        cmocka_unit_test(test_emulator_gcs_state_saves_loads_and_detects_conflicts),
        cmocka_unit_test(test_emulator_gcs_lock_is_exclusive_and_unlock_checks_id),
        cmocka_unit_test(test_emulator_gcs_missing_bucket_is_a_clear_error),
    };
    int failed = cmocka_run_group_tests(gcs_tests, gcs_setup, gcs_teardown);
    failed += cmocka_run_group_tests(emu_tests, emu_setup, emu_teardown);
    return failed;
}
