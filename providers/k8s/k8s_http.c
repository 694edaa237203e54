/* k8s_http.c: the k8s provider's HTTP client: one request to an API
 * server over libcurl (shared connections, TLS verified against the
 * cluster's CA, through the `via` tunnel when set), logged in the HTTP log
 * format, with bearer tokens from Google or the kubeconfig. */
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

void k8s_kresp_free(kresp_t *r) {
    json_decref(r->body);
    free(r->raw);
    memset(r, 0, sizeof *r);
}

static size_t on_data(char *p, size_t sz, size_t n, void *ud) {
    sbuf_addn(ud, p, sz * n);
    return sz * n;
}

/* The bearer token of connection c (new string), NULL when it uses none;
 * -1 with e set when a Google token was needed and cannot be had. */
static int conn_token(k8s_prov_t *P, conn_t *c, char **token, perr_t *e) {
    *token = NULL;
    if (c->token) {
        *token = xstrdup(c->token);
        return 0;
    }
    if (!c->gcp_auth) return 0;
    gcp_client_t *g = k8s_prov_gcp(P, e);
    if (!g) return -1;
    perr_t te = {0};
    *token = gcp_token(g, &te);
    if (!*token && te.msg[0]) {
        *e = te;
        return -1;
    }
    return 0;
}

/* One request of a call. */
typedef struct kreq {
    const char *method, *url, *ctype, *body, *token, *connect_to;
} kreq_t;

/* A handle for r on connection c; *hd and *cto are the header and
 * connect-to lists to free after the transfer. */
static CURL *kreq_handle(k8s_prov_t *P, conn_t *c, const kreq_t *r, sbuf_t *resp, struct curl_slist **hd,
                         struct curl_slist **cto) {
    CURL *h = curl_easy_init();
    *hd = NULL;
    *cto = NULL;
    if (r->connect_to) {
        /* Same URL (TLS name, Host header); the TCP connection goes to the tunnel. */
        *cto = curl_slist_append(NULL, r->connect_to);
        curl_easy_setopt(h, CURLOPT_CONNECT_TO, *cto);
    }
    *hd = curl_slist_append(*hd, "Accept: application/json");
    if (r->ctype) {
        char *ct = xasprintf("Content-Type: %s", r->ctype);
        *hd = curl_slist_append(*hd, ct);
        free(ct);
    }
    if (r->token) {
        char *a = xasprintf("Authorization: Bearer %s", r->token);
        *hd = curl_slist_append(*hd, a);
        free(a);
    }
    curl_easy_setopt(h, CURLOPT_URL, r->url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hd);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "plinth/" PLINTH_VERSION);
    if (P->share) curl_easy_setopt(h, CURLOPT_SHARE, P->share);
    if (r->body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
    }
    if (c->ca_pem) {
        struct curl_blob b = {c->ca_pem, strlen(c->ca_pem), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
    }
    if (c->cert_pem && c->key_pem) {
        struct curl_blob cb = {c->cert_pem, strlen(c->cert_pem), CURL_BLOB_COPY};
        struct curl_blob kb = {c->key_pem, strlen(c->key_pem), CURL_BLOB_COPY};
        curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cb);
        curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &kb);
        curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
    }
    return h;
}

/* One attempt: the transfer and its HTTP log line.  *status is 0 when no
 * response arrived. */
static CURLcode kreq_attempt(k8s_prov_t *P, conn_t *c, const kreq_t *r, int attempt, sbuf_t *resp,
                             long *status) {
    struct curl_slist *hd, *cto;
    CURL *h = kreq_handle(P, c, r, resp, &hd, &cto);
    int64_t t0 = util_now_ms();
    CURLcode cc = curl_easy_perform(h);
    *status = 0;
    if (cc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (P->log) {
        gcp_log_entry_t le = {.api = "k8s",
                              .method = r->method,
                              .url = r->url,
                              .addr = util_current_addr(),
                              .req_type = r->ctype,
                              .req = r->body,
                              .req_len = r->body ? strlen(r->body) : 0,
                              .resp = resp->s,
                              .resp_len = resp->len,
                              .status = *status,
                              .ms = (long)(util_now_ms() - t0),
                              .attempt = attempt};
        gcp_log_write(P->log, &le);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(hd);
    curl_slist_free_all(cto);
    return cc;
}

int k8s_kcall(k8s_prov_t *P, conn_t *c, const json_t *via, const char *method, const char *path,
              const char *ctype, const char *body, kresp_t *out, volatile sig_atomic_t *cancel, perr_t *e) {
    memset(out, 0, sizeof *out);
    char *token = NULL, *connect_to = NULL, *label = NULL;
    if (conn_token(P, c, &token, e) != 0) return -1;
    if (k8s_conn_tunnel(P, c, via, &connect_to, &label, e) != 0) {
        free(token);
        return -1;
    }
    char *url = xasprintf("%s%s", c->server, path);
    kreq_t r = {method, url, ctype, body, token, connect_to};
    int rc = -1;
    int64_t delay = P->endpoint ? 100 : 500;
    for (int attempt = 1; attempt <= 8; attempt++) {
        sbuf_t resp = {0};
        long status;
        CURLcode cc = kreq_attempt(P, c, &r, attempt, &resp, &status);
        int retry = cc != CURLE_OK || status == 429 || status == 500 || status == 502 || status == 503 ||
                    status == 504;
        if (!retry || attempt == 8 || (cancel && *cancel)) {
            if (cc != CURLE_OK && connect_to)
                perr_set(e, "", "%s %s (through the ssh tunnel via %s): %s", method, url, label,
                         curl_easy_strerror(cc));
            else if (cc != CURLE_OK)
                perr_set(e, "", "%s %s: %s", method, url, curl_easy_strerror(cc));
            if (cc != CURLE_OK) {
                sbuf_free(&resp);
                break;
            }
            out->status = status;
            out->raw = sbuf_steal(&resp);
            out->body = json_loads(out->raw, JSON_DECODE_ANY, NULL);
            rc = 0;
            break;
        }
        sbuf_free(&resp);
        usleep((useconds_t)(delay * 1000));
        delay = delay * 2 > 8000 ? 8000 : delay * 2;
    }
    free(connect_to);
    free(label);
    free(token);
    free(url);
    return rc;
}

/* "PATCH /apis/...: 409 Conflict: <message>" */
void k8s_kerr(const kresp_t *r, const char *method, const char *path, perr_t *e) {
    const char *msg = k8s_jstr(r->body, "message");
    const char *reason = k8s_jstr(r->body, "reason");
    perr_set(e, "", "%s %s: %ld %s: %s", method, path, r->status, reason ? reason : "",
             msg ? msg : (r->raw ? r->raw : ""));
}
