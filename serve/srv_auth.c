/* srv_auth.c: who may call the server.  The users file lists users with a
 * bearer token and roles:
 *   {"users": [{"name": "ana", "token": "sha256:HEX" | "plain", "roles": ["requester"]}]}
 * Tokens are kept only as SHA-256 digests in memory, so a plain token in
 * the file is hashed on load; comparing digests in constant time means a
 * wrong token takes as long to refuse as a near miss. */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve.h"

static int hex_digest(const char *hex, unsigned char out[32]) {
    if (strlen(hex) != 64) return -1;
    for (int i = 0; i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (unsigned char)v;
    }
    return 0;
}

static int parse_roles(json_t *roles, int *out, perr_t *e, const char *where) {
    size_t i;
    json_t *r;
    *out = 0;
    if (!json_is_array(roles) || json_array_size(roles) == 0) {
        perr_set(e, where, "roles must be a non-empty list of requester, approver, admin");
        return -1;
    }
    json_array_foreach(roles, i, r) {
        const char *n = json_string_value(r);
        if (n && !strcmp(n, "requester"))
            *out |= SRV_REQUESTER;
        else if (n && !strcmp(n, "approver"))
            *out |= SRV_APPROVER;
        else if (n && !strcmp(n, "admin"))
            *out |= SRV_ADMIN | SRV_APPROVER | SRV_REQUESTER;
        else {
            perr_set(e, where, "unknown role %s (requester, approver or admin)", n ? n : "(not a string)");
            return -1;
        }
    }
    return 0;
}

int srv_users_load(const char *path, srv_users_t *u, perr_t *e) {
    json_error_t je;
    memset(u, 0, sizeof *u);
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        perr_set(e, path, "line %d: %s", je.line, je.text);
        return -1;
    }
    json_t *list = json_object_get(root, "users");
    if (!json_is_array(list) || json_array_size(list) == 0) {
        perr_set(e, path, "expected {\"users\": [{\"name\", \"token\", \"roles\"}, ...]}");
        json_decref(root);
        return -1;
    }
    u->v = xcalloc(json_array_size(list), sizeof *u->v);
    size_t i;
    json_t *it;
    json_array_foreach(list, i, it) {
        char where[300];
        snprintf(where, sizeof where, "%s: users[%zu]", path, i);
        const char *name = json_string_value(json_object_get(it, "name"));
        const char *tok = json_string_value(json_object_get(it, "token"));
        srv_user_t *x = &u->v[u->n];
        if (!name || !*name || !tok || !*tok) {
            perr_set(e, where, "needs a name and a token");
            goto err;
        }
        if (srv_users_by_name(u, name)) {
            perr_set(e, where, "user %s is listed twice", name);
            goto err;
        }
        if (!strncmp(tok, "sha256:", 7)) {
            if (hex_digest(tok + 7, x->hash) != 0) {
                perr_set(e, where, "token sha256: needs 64 hex digits");
                goto err;
            }
        } else {
            if (strlen(tok) < 16) {
                perr_set(e, where, "token is too short (at least 16 characters)");
                goto err;
            }
            SHA256((const unsigned char *)tok, strlen(tok), x->hash);
        }
        if (parse_roles(json_object_get(it, "roles"), &x->roles, e, where) != 0) goto err;
        x->name = xstrdup(name);
        u->n++;
    }
    json_decref(root);
    return 0;
err:
    json_decref(root);
    srv_users_free(u);
    return -1;
}

void srv_users_free(srv_users_t *u) {
    for (size_t i = 0; i < u->n; i++)
        free(u->v[i].name);
    free(u->v);
    memset(u, 0, sizeof *u);
}

const srv_user_t *srv_users_by_token(const srv_users_t *u, const char *token) {
    if (!token || !*token) return NULL;
    unsigned char h[32];
    SHA256((const unsigned char *)token, strlen(token), h);
    const srv_user_t *found = NULL;
    for (size_t i = 0; i < u->n; i++)
        if (CRYPTO_memcmp(h, u->v[i].hash, sizeof h) == 0) found = &u->v[i];
    return found;
}

const srv_user_t *srv_users_by_name(const srv_users_t *u, const char *name) {
    for (size_t i = 0; i < u->n; i++)
        if (u->v[i].name && !strcmp(u->v[i].name, name)) return &u->v[i];
    return NULL;
}

json_t *srv_roles_json(int roles) {
    json_t *a = json_array();
    if (roles & SRV_REQUESTER) json_array_append_new(a, json_string("requester"));
    if (roles & SRV_APPROVER) json_array_append_new(a, json_string("approver"));
    if (roles & SRV_ADMIN) json_array_append_new(a, json_string("admin"));
    return a;
}

char *srv_random_hex(size_t nbytes) {
    char *s = xmalloc(2 * nbytes + 1);
    util_random_hex(s, nbytes);
    return s;
}

long srv_parse_ttl(const char *s) {
    if (!s || !*s) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || v <= 0) return -1;
    long mult;
    if (!strcmp(end, "s"))
        mult = 1;
    else if (!strcmp(end, "m"))
        mult = 60;
    else if (!strcmp(end, "h"))
        mult = 3600;
    else if (!strcmp(end, "d"))
        mult = 86400;
    else
        return -1;
    double r = v * mult;
    if (r < 1 || r > 366.0 * 86400) return -1;
    return (long)r;
}
