/* k8s_int.h: internals shared by the files of the k8s provider (not a
 * contract outside providers/k8s/):
 *   k8s_provider.c  the types' tables, defaults, validate, open / close
 *   k8s_conn.c      connections, the server URL rule, IDs, `via` tunnels
 *   k8s_http.c      one request to an API server (libcurl), the HTTP log
 *   k8s_discover.c  kinds to resources, object paths
 *   k8s_object.c    read, server-side apply, delete, import
 *   k8s_ready.c     readiness waits
 *   k8s_norm.c      normalization, quantities */
#ifndef PLINTH_K8S_INT_H
#define PLINTH_K8S_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>

#include "core/rtype.h"
#include "core/util.h"
#include "transport/gcp_http.h"
#include "transport/gcp_log.h"
#include "transport/ssh.h"

#define DEFAULT_WAIT_S 300

typedef struct conn {
    char *key;                /* ID prefix */
    char *server;             /* base URL, no trailing slash */
    char *ca_pem;             /* CA bundle (PEM) or NULL */
    char *cert_pem, *key_pem; /* client certificate (kubeconfig) or NULL */
    char *token;              /* static bearer token (kubeconfig) or NULL */
    int gcp_auth;             /* bearer token from the provider's Google client */
    json_t *disc;             /* "apiVersion|Kind" -> {"resource": , "namespaced": } */
    pthread_mutex_t mu;
    struct conn *next;
} conn_t;

typedef struct k8s_prov {
    char *endpoint; /* Google endpoint override (emulator) or NULL */
    char *http_log;
    char *project;
    gcp_client_t *gcp; /* opened on first need */
    gcp_log_t *log;
    pthread_mutex_t mu;
    conn_t *conns;
    perr_t gcp_err;
    /* Connections, TLS sessions and DNS shared by every request (reuse). */
    CURLSH *share;
    pthread_mutex_t share_mu[CURL_LOCK_DATA_LAST];
    ssh_pool_t *ssh; /* bastion sessions and tunnels (`via`) */
    json_t *vias;    /* resource ID -> the last resolved `via` its body had */
} k8s_prov_t;

typedef struct {
    long status;
    json_t *body;
    char *raw;
} kresp_t;

typedef struct {
    char resource[128];
    int namespaced;
} kres_t;

typedef struct {
    k8s_prov_t *P;
    conn_t *conn;
    json_t *via; /* the bastion, or NULL */
    char *api_version, *kind, *ns, *name;
    kres_t kr;
    int known; /* discovery found the kind */
    int gone;  /* the cluster itself is gone */
} target_t;

/* k8s_conn.c */
char *k8s_b64_decode(const char *in, size_t *outlen);
char *k8s_body_conn_key(k8s_prov_t *P, const json_t *body, perr_t *e);
const json_t *k8s_body_via(const json_t *body);
conn_t *k8s_conn_for_body(k8s_prov_t *P, const json_t *body, perr_t *e);
conn_t *k8s_conn_for_key(k8s_prov_t *P, const char *key, int *gone, perr_t *e);
int k8s_conn_tunnel(k8s_prov_t *P, conn_t *c, const json_t *via, char **connect_to, char **label, perr_t *e);
void k8s_free_parts(char *parts[5]);
const char *k8s_jstr(const json_t *o, const char *k);
gcp_client_t *k8s_prov_gcp(k8s_prov_t *P, perr_t *e);
void k8s_prov_note_via(k8s_prov_t *P, const char *id, const json_t *via);
json_t *k8s_prov_via(k8s_prov_t *P, const char *id);
int k8s_split_id(const char *id, char *parts[5]);
int k8s_via_check(const json_t *via, perr_t *e);

/* k8s_http.c */
int k8s_kcall(k8s_prov_t *P, conn_t *c, const json_t *via, const char *method, const char *path,
              const char *ctype, const char *body, kresp_t *out, volatile sig_atomic_t *cancel, perr_t *e);
void k8s_kerr(const kresp_t *r, const char *method, const char *path, perr_t *e);
void k8s_kresp_free(kresp_t *r);

/* k8s_discover.c */
int k8s_discover(k8s_prov_t *P, conn_t *c, const json_t *via, const char *api_version, const char *kind,
                 kres_t *out, volatile sig_atomic_t *cancel, perr_t *e);
char *k8s_object_path(const char *api_version, const kres_t *kr, const char *ns, const char *name);

/* k8s_object.c */
int k8s_obj_create(rctx_t *c, const json_t *desired, char **id, json_t **live);
char *k8s_obj_id(rctx_t *c, const json_t *desired);
int k8s_obj_import(rctx_t *c, const char *import_id, char **id, json_t **live);
int k8s_obj_read(rctx_t *c, const char *id, const json_t *desired, json_t **live);
/* A batch read (rtype read_many): one LIST per connection, kind and
 * namespace instead of a GET per object, the connection and discovery
 * looked up once; -1 on any failure (a LIST the credentials may not make):
 * the engine then reads each object alone. */
int k8s_obj_read_many(rctx_t *c, size_t n, const char *const *ids, const json_t *const *desired,
                      json_t **lives);
int k8s_obj_remove(rctx_t *c, const char *id, const json_t *live);
int k8s_obj_update(rctx_t *c, const char *id, const json_t *desired, const json_t *live,
                   const strlist_t *changed, json_t **newlive);
extern const char *const k8s_plinth_fields[];
void k8s_strip_live(json_t *live);

/* k8s_ready.c */
void k8s_sleep_ms(int64_t ms, volatile sig_atomic_t *cancel);
int k8s_wait_ready(rctx_t *c, target_t *t, const char *path, const json_t *desired, json_t **final);

/* k8s_norm.c */
void k8s_obj_normalize(const rtype_t *t, json_t *live, const json_t *desired);
int k8s_quantity(const char *s, long double *out);

#endif
