/* api_pubsub.c: emulated Pub/Sub (v1): topics and subscriptions, created
 * with PUT on their name, updated with PATCH of an Update*Request (the
 * resource and an updateMask in the body), listed, deleted, with IAM
 * policies; a subscription needs its topic to exist. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "emulator/emu.h"
#include "emulator/mask.h"

/* Pub/Sub resource IDs: 3-255 chars, start with a letter, letters, digits
 * and - _ . ~ + %, never "goog" first. */
static int valid_id(const char *s) {
    size_t n = strlen(s);
    if (n < 3 || n > 255 || !isalpha((unsigned char)s[0]) || strncmp(s, "goog", 4) == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("-_.~+%", s[i])) return 0;
    return 1;
}

typedef struct kind {
    const char *coll;         /* "topics" */
    const char *msg;          /* "Topic" */
    const char *wrap;         /* the resource's key in the Update*Request: "topic" */
    const char *upd_msg;      /* "UpdateTopicRequest" */
    const char *const *fixed; /* not updatable */
} kind_t;

static const kind_t topics = {"topics", "Topic", "topic", "UpdateTopicRequest",
                              (const char *const[]){"name", "state", NULL}};
static const kind_t subs = {"subscriptions", "Subscription", "subscription", "UpdateSubscriptionRequest",
                            (const char *const[]){"name", "topic", "enableMessageOrdering", "filter", "state",
                                                  "topicMessageRetentionDuration",
                                                  "analyticsHubSubscriptionInfo", NULL}};

static char *key_of(const kind_t *k, const char *p, const char *id) {
    return xasprintf("pubsub/projects/%s/%s/%s", p, k->coll, id);
}

static json_t *load(emu_t *emu, const kind_t *k, const emu_req_t *req, emu_resp_t *resp, char **key) {
    *key = key_of(k, req->params[0], req->params[1]);
    return emu_load(emu, resp, key, "Resource not found (resource=%s).", req->params[1]);
}

/* Checks a subscription's topic (projects/P/topics/T, existing). */
static int sub_topic_ok(emu_t *emu, emu_resp_t *resp, const json_t *body) {
    const char *t = json_string_value(json_object_get(body, "topic"));
    char p[256], id[256];
    if (!t || sscanf(t, "projects/%255[^/]/topics/%255s", p, id) != 2) {
        emu_bad_request(resp, "Invalid [topics] name: (name=%s)", t ? t : "");
        return -1;
    }
    char *tk = key_of(&topics, p, id);
    int ok = emu_get(emu, tk) != NULL;
    free(tk);
    if (!ok) emu_not_found(resp, "Resource not found (resource=%s).", id);
    return ok ? 0 : -1;
}

static void sub_defaults(json_t *r) {
    emu_set_default(r, "ackDeadlineSeconds", json_integer(10));
    emu_set_default(r, "messageRetentionDuration", json_string("604800s"));
    emu_set_default(r, "expirationPolicy", json_pack("{s:s}", "ttl", "2678400s"));
    emu_set_default(r, "state", json_string("ACTIVE"));
}

static void create(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    const char *p = req->params[0], *id = req->params[1];
    if (emu_validate(resp, "pubsub", k->msg, req->body) < 0) return;
    if (!valid_id(id)) {
        emu_bad_request(resp, "Invalid [%s] name: (name=projects/%s/%s/%s)", k->coll, p, k->coll, id);
        return;
    }
    char *name = xasprintf("projects/%s/%s/%s", p, k->coll, id);
    const char *bn = json_string_value(json_object_get(req->body, "name"));
    char *key = key_of(k, p, id);
    if (bn && strcmp(bn, name) != 0)
        emu_bad_request(resp, "The name in the request body (%s) does not match the resource name (%s).", bn,
                        name);
    else if (emu_get(emu, key))
        emu_error(resp, 409, "ALREADY_EXISTS", "alreadyExists",
                  "Resource already exists in the project (resource=%s).", id);
    else if (k == &subs && sub_topic_ok(emu, resp, req->body) < 0)
        ;
    else {
        json_t *r = req->body ? json_deep_copy(req->body) : json_object();
        json_object_set_new(r, "name", json_string(name));
        if (k == &subs)
            sub_defaults(r);
        else
            emu_set_default(r, "state", json_string("ACTIVE"));
        resp->body = emu_strip(r);
        emu_put(emu, key, r);
    }
    free(key);
    free(name);
}

static void get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    char *key;
    json_t *r = load(emu, k, req, resp, &key);
    if (r) resp->body = emu_strip(r);
    free(key);
}

static void list(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    char *prefix = xasprintf("pubsub/projects/%s/%s/", req->params[0], k->coll);
    json_t *all = emu_children(emu, prefix, true);
    resp->body = json_object();
    emu_page_into(req, resp->body, k->coll, all, "pageSize", 100, false);
    json_decref(all);
    free(prefix);
}

static void patch(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    if (emu_validate(resp, "pubsub", k->upd_msg, req->body) < 0) return;
    char *key;
    json_t *cur = load(emu, k, req, resp, &key);
    if (!cur) return;
    json_t *res = json_object_get(req->body, k->wrap);
    const char *mask = json_string_value(json_object_get(req->body, "updateMask"));
    json_t *r = json_deep_copy(cur);
    if (!json_is_object(res))
        emu_bad_request(resp, "Invalid %s: the request must contain the %s to update.", k->upd_msg, k->wrap);
    else if (emu_mask_apply(resp, r, res, mask, k->fixed, 1) == 0) {
        resp->body = emu_strip(r);
        emu_put(emu, key, r);
        r = NULL;
    }
    json_decref(r);
    free(key);
}

static void del(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    char *key;
    if (!load(emu, k, req, resp, &key)) return;
    emu_del_tree(emu, key);
    resp->body = json_object();
    free(key);
}

static void policy_get(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    char *key;
    if (!load(emu, k, req, resp, &key)) return;
    emu_iam_get_below(emu, resp, key);
    free(key);
}

static void policy_set(emu_t *emu, const emu_req_t *req, emu_resp_t *resp, const kind_t *k) {
    if (emu_validate(resp, "pubsub", "SetIamPolicyRequest", req->body) < 0) return;
    char *key;
    if (!load(emu, k, req, resp, &key)) return;
    emu_iam_set_below(emu, resp, key, req->body);
    free(key);
}

/* topics.subscriptions.list: the names of a topic's subscriptions. */
static void topic_subs(emu_t *emu, const emu_req_t *req, emu_resp_t *resp) {
    char *key;
    if (!load(emu, &topics, req, resp, &key)) return;
    char *prefix = xasprintf("pubsub/projects/%s/subscriptions/", req->params[0]);
    json_t *all = emu_children(emu, prefix, true), *names = json_array(), *s;
    char *tname = xasprintf("projects/%s/topics/%s", req->params[0], req->params[1]);
    size_t i;
    json_array_foreach(all, i, s) {
        const char *t = json_string_value(json_object_get(s, "topic"));
        if (t && strcmp(t, tname) == 0) json_array_append(names, json_object_get(s, "name"));
    }
    resp->body = json_object();
    emu_page_into(req, resp->body, "subscriptions", names, "pageSize", 100, false);
    json_decref(names);
    json_decref(all);
    free(tname);
    free(prefix);
    free(key);
}

#define KIND_HANDLERS(k)                                                                                     \
    static void k##_create(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                    \
        create(e, r, s, &k);                                                                                 \
    }                                                                                                        \
    static void k##_get(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                       \
        get(e, r, s, &k);                                                                                    \
    }                                                                                                        \
    static void k##_list(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                      \
        list(e, r, s, &k);                                                                                   \
    }                                                                                                        \
    static void k##_patch(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                     \
        patch(e, r, s, &k);                                                                                  \
    }                                                                                                        \
    static void k##_del(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                       \
        del(e, r, s, &k);                                                                                    \
    }                                                                                                        \
    static void k##_pget(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                      \
        policy_get(e, r, s, &k);                                                                             \
    }                                                                                                        \
    static void k##_pset(emu_t *e, const emu_req_t *r, emu_resp_t *s) {                                      \
        policy_set(e, r, s, &k);                                                                             \
    }
KIND_HANDLERS(topics)
KIND_HANDLERS(subs)

#define KIND_ROUTES(k, coll)                                                                                 \
    {"PUT", "v1/projects/{p}/" coll "/{id}", k##_create}, {"GET", "v1/projects/{p}/" coll "/{id}", k##_get}, \
        {"GET", "v1/projects/{p}/" coll, k##_list}, {"PATCH", "v1/projects/{p}/" coll "/{id}", k##_patch},   \
        {"DELETE", "v1/projects/{p}/" coll "/{id}", k##_del},                                                \
        {"GET", "v1/projects/{p}/" coll "/{id}:getIamPolicy", k##_pget}, {                                   \
        "POST", "v1/projects/{p}/" coll "/{id}:setIamPolicy", k##_pset                                       \
    }
static const emu_route_t routes[] = {
    KIND_ROUTES(topics, "topics"),
    KIND_ROUTES(subs, "subscriptions"),
    {"GET", "v1/projects/{p}/topics/{id}/subscriptions", topic_subs},
};

const emu_api_t emu_api_pubsub = {"pubsub", routes, sizeof routes / sizeof routes[0], NULL};
