/* k8s_discover.c: discovery: which resource (plural name, namespaced or
 * not) serves an apiVersion and kind, cached per connection and refreshed
 * on a miss (after CRDs appear), and the REST path of an object. */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/jpath.h"
#include "core/ref.h"
#include "core/rtype.h"
#include "transport/gcp_http.h"
#include "transport/gcp_log.h"
#include "providers/k8s/k8s.h"
#include "providers/k8s/k8s_manifest.h"
#include "providers/k8s/k8s_yaml.h"
#include "transport/ssh.h"
#include "providers/k8s/k8s_int.h"

/* ---- discovery -------------------------------------------------------------- */

/* 1 found, 0 unknown kind, -1 error. */
int k8s_discover(k8s_prov_t *P, conn_t *c, const json_t *via, const char *api_version, const char *kind,
                 kres_t *out, volatile sig_atomic_t *cancel, perr_t *e) {
    char *key = xasprintf("%s|%s", api_version, kind);
    for (int pass = 0; pass < 2; pass++) {
        pthread_mutex_lock(&c->mu);
        json_t *hit = json_object_get(c->disc, key);
        if (hit) {
            snprintf(out->resource, sizeof out->resource, "%s", k8s_jstr(hit, "resource"));
            out->namespaced = json_is_true(json_object_get(hit, "namespaced"));
        }
        pthread_mutex_unlock(&c->mu);
        if (hit) {
            free(key);
            return 1;
        }
        if (pass) break;
        char *path =
            strchr(api_version, '/') ? xasprintf("/apis/%s", api_version) : xasprintf("/api/%s", api_version);
        kresp_t r;
        if (k8s_kcall(P, c, via, "GET", path, NULL, NULL, &r, cancel, e) != 0) {
            free(path);
            free(key);
            return -1;
        }
        if (r.status == 404) {
            k8s_kresp_free(&r);
            free(path);
            break;
        }
        if (r.status != 200 || !json_is_object(r.body)) {
            k8s_kerr(&r, "GET", path, e);
            k8s_kresp_free(&r);
            free(path);
            free(key);
            return -1;
        }
        json_t *res = json_object_get(r.body, "resources"), *x;
        size_t i;
        pthread_mutex_lock(&c->mu);
        json_array_foreach(res, i, x) {
            const char *name = k8s_jstr(x, "name"), *k = k8s_jstr(x, "kind");
            if (!name || !k || strchr(name, '/')) continue;
            char *kk = xasprintf("%s|%s", api_version, k);
            json_object_set_new(c->disc, kk,
                                json_pack("{s:s,s:b}", "resource", name, "namespaced",
                                          json_is_true(json_object_get(x, "namespaced"))));
            free(kk);
        }
        pthread_mutex_unlock(&c->mu);
        k8s_kresp_free(&r);
        free(path);
    }
    free(key);
    return 0;
}

char *k8s_object_path(const char *api_version, const kres_t *kr, const char *ns, const char *name) {
    sbuf_t b = {0};
    sbuf_addf(&b, strchr(api_version, '/') ? "/apis/%s" : "/api/%s", api_version);
    if (kr->namespaced) sbuf_addf(&b, "/namespaces/%s", ns && *ns ? ns : "default");
    sbuf_addf(&b, "/%s", kr->resource);
    if (name) sbuf_addf(&b, "/%s", name);
    return sbuf_steal(&b);
}
