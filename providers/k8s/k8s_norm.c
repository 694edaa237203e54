/* k8s_norm.c: normalizing a live object against the desired one:
 * quantities ("1Gi" == "1024Mi", "0.5" == "500m"), Secret data vs
 * stringData, server defaults the spec does not set. */
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

int k8s_quantity(const char *s, long double *out) {
    char *end;
    long double v = strtold(s, &end);
    if (end == s) return 0;
    static const struct {
        const char *suf;
        long double mul;
    } sx[] = {{"Ki", 1024.0L},
              {"Mi", 1048576.0L},
              {"Gi", 1073741824.0L},
              {"Ti", 1099511627776.0L},
              {"Pi", 1125899906842624.0L},
              {"Ei", 1152921504606846976.0L},
              {"m", 1e-3L},
              {"k", 1e3L},
              {"M", 1e6L},
              {"G", 1e9L},
              {"T", 1e12L},
              {"P", 1e15L},
              {"E", 1e18L},
              {"", 1.0L}};
    for (size_t i = 0; i < sizeof sx / sizeof *sx; i++)
        if (!strcmp(end, sx[i].suf)) {
            *out = v * sx[i].mul;
            return 1;
        }
    return 0;
}

static int quantity_path(const char *path) {
    static const char *const words[] = {"limits", "requests", "capacity", "allocatable",
                                        "hard",   "storage",  NULL};
    for (const char *const *w = words; *w; w++)
        if (strstr(path, *w)) return 1;
    return 0;
}

/* Live values the API spells differently from what a spec writes. */
static void norm(json_t *live, const json_t *desired, const char *path) {
    if (!json_is_object(desired) || !json_is_object(live)) return;
    const char *k;
    json_t *d;
    json_object_foreach((json_t *)desired, k, d) {
        json_t *l = json_object_get(live, k);
        if (!l) continue;
        if (json_is_null(d)) {
            /* null in a manifest means "no opinion" (creationTimestamp: null) */
            json_object_set_new(live, k, json_null());
            continue;
        }
        char *p = jpath_join(path, k);
        if (json_is_object(d))
            norm(l, d, p);
        else if (json_is_array(d) && json_is_array(l) && json_array_size(d) == json_array_size(l)) {
            for (size_t i = 0; i < json_array_size(d); i++) {
                char idx[24];
                snprintf(idx, sizeof idx, "%zu", i);
                char *pi = jpath_join(p, idx);
                norm(json_array_get(l, i), json_array_get(d, i), pi);
                free(pi);
            }
        } else if (json_is_real(d) && json_is_integer(l) &&
                   json_real_value(d) == (double)json_integer_value(l)) {
            json_object_set_new(live, k, json_real(json_real_value(d)));
        } else if ((json_is_string(d) || json_is_number(d)) && (json_is_string(l) || json_is_number(l)) &&
                   quantity_path(p)) {
            /* quantities are canonicalised by the API: "1000m" -> "1", "0.5" -> "500m" */
            char dbuf[64], lbuf[64];
            const char *ds = json_is_string(d)
                                 ? json_string_value(d)
                                 : (snprintf(dbuf, sizeof dbuf, "%.17g", json_number_value(d)), dbuf);
            const char *ls = json_is_string(l)
                                 ? json_string_value(l)
                                 : (snprintf(lbuf, sizeof lbuf, "%.17g", json_number_value(l)), lbuf);
            long double a, b;
            if (strcmp(ds, ls) && k8s_quantity(ds, &a) && k8s_quantity(ls, &b) &&
                (a - b <= 1e-9L * (a > 0 ? a : -a) && b - a <= 1e-9L * (a > 0 ? a : -a)))
                json_object_set(live, k, d);
        }
        free(p);
    }
}

/* The API keeps stringData only as base64 data: compare what the spec wrote. */
static void norm_secret(json_t *live, const json_t *desired) {
    const char *kind = k8s_jstr(desired, "kind");
    json_t *sd = json_object_get(desired, "stringData"), *data = json_object_get(live, "data");
    if (!kind || strcmp(kind, "Secret") != 0 || !json_is_object(sd) || json_object_get(live, "stringData"))
        return;
    json_t *out = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(sd, k, v) {
        const char *b64 = k8s_jstr(data, k);
        char *dec = b64 ? k8s_b64_decode(b64, NULL) : NULL;
        if (dec) json_object_set_new(out, k, json_string(dec));
        free(dec);
    }
    json_object_set_new(live, "stringData", out);
}

void k8s_obj_normalize(const rtype_t *t, json_t *live, const json_t *desired) {
    k8s_strip_live(live);
    norm_secret(live, desired);
    norm(live, desired, "");
}
