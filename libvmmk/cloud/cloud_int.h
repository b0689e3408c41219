/* The vmmk_cloud handle and the plumbing every OpenStack service file
 * uses (internal): authenticated calls with retries, error mapping,
 * pagination, microversions, polling, and JSON helpers.
 *
 *   client.c    handle, Keystone v3 auth, token renewal, catalog
 *   request.c   vmmk__os_do / vmmk__os_list / vmmk__os_poll, errors
 *   resource.c  one resource by id: unwrapped GET, id-else-name lookup, status waits
 *   jsonx.c     small JSON helpers shared by the service files
 *   compute.c, compute_server.c   flavors; servers, attachments, metadata service
 *   volume.c, volume_action.c, volume_snapshot.c   Cinder v3
 *   network.c   Neutron networks, subnets, security groups
 *   port.c      Neutron ports (create, reuse, find)
 *   image.c, image_upload.c       Glance records; streamed uploads
 *   device.c    by-id device discovery
 */
#ifndef VMMK_CLOUD_INT_H
#define VMMK_CLOUD_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <json-c/json.h>
#include <vmmk/cloud.h>

#include "../common/http.h"
#include "config.h"

typedef enum {
    VMMK__SVC_IDENTITY = 0,
    VMMK__SVC_COMPUTE,
    VMMK__SVC_VOLUME,      /* block-storage / volumev3 */
    VMMK__SVC_NETWORK,
    VMMK__SVC_IMAGE,
    VMMK__SVC_COUNT
} vmmk__svc;

/* One HTTP connection pool per origin (scheme://host:port). */
typedef struct vmmk__os_conn {
    char *origin;
    vmmk__http *http;
} vmmk__os_conn;

/* Microversion support of one service: what the server offers and what
 * vmmk uses (0.0 = the service has none, e.g. network, image). */
typedef struct vmmk__os_version {
    bool negotiated;
    int major, minor;          /* in use */
    int max_major, max_minor;  /* server maximum */
} vmmk__os_version;

struct vmmk_cloud {
    pthread_mutex_t lock;      /* one call at a time on the handle */
    vmmk__cloud_config *cfg;
    char *region;              /* effective region, or NULL */
    vmmk__cloud_interface interface;
    long timeout_s;
    int retries;
    unsigned page_size;

    vmmk__os_conn *conns;
    size_t n_conns;

    /* Token state (client.c). */
    char *token;               /* secret */
    time_t expires;            /* local time the token expires; 0 = unknown */
    long lifetime;             /* seconds from issue to expiry; 0 = unknown */
    char *expires_at;
    json_object *token_body;   /* the "token" object of the last auth */
    char *user_id, *project_id;
    char *endpoint[VMMK__SVC_COUNT];  /* resolved endpoint URLs, no trailing '/' */
    vmmk__os_version mv[VMMK__SVC_COUNT];
};

/* Service names for messages and catalog lookups. */
const char *vmmk__svc_name(vmmk__svc svc);
/* "compute", "block-storage"/"volumev3"/"volume", ... -> svc; -1 if unknown. */
int vmmk__svc_parse(const char *type);

/* ---- client.c ---- */

/* A valid token (renewed when less than 5 minutes, or half its lifetime,
 * are left). Caller holds the lock. */
int vmmk__os_ensure_token(vmmk_cloud *c);
/* Authenticate now (drops the current token). Caller holds the lock. */
int vmmk__os_authenticate(vmmk_cloud *c);
/* The endpoint of @p svc (resolved once, override first). Caller holds the lock. */
int vmmk__os_endpoint(const char **out, vmmk_cloud *c, vmmk__svc svc);
/* The HTTP handle for the origin of @p url. Caller holds the lock. */
int vmmk__os_http(vmmk__http **out, vmmk_cloud *c, const char *url);
/* Negotiate the microversion of @p svc (compute, volume) if not done.
 * Caller holds the lock. */
int vmmk__os_negotiate(vmmk_cloud *c, vmmk__svc svc);
/* True when the microversion in use for @p svc is at least major.minor
 * (negotiating first; false on error). Takes the lock. */
bool vmmk__os_mv_at_least(vmmk_cloud *c, vmmk__svc svc, int major, int minor);

/* Parse Keystone's token response body into @p c (user, project, expiry,
 * catalog); fuzzed.  Does not touch c->token. */
int vmmk__os_parse_token(vmmk_cloud *c, const char *body, size_t len);

/* Readers of one resource object, lenient as the APIs are (fuzzed):
 * compute.c, volume.c, network.c, image.c. */
int vmmk__os_parse_server(vmmk_cloud_server **out, json_object *o);
int vmmk__os_parse_volume(vmmk_cloud_volume **out, json_object *o);
int vmmk__os_parse_port(vmmk_cloud_port **out, json_object *o);
int vmmk__os_parse_image(vmmk_cloud_image **out, json_object *o);

/* ---- request.c ---- */

typedef struct vmmk__os_call {
    vmmk__svc svc;
    const char *method;
    const char *path;          /* appended to the endpoint ("/servers/detail?x=y"); with
                                  id, the collection ("/servers") */
    const char *id;            /* when set: "/<escaped id>" is appended to path (a path
                                  on the service's endpoint, not a full URL) */
    const char *suffix;        /* with id: appended after it ("/action"), or NULL */
    json_object *body;         /* borrowed; NULL = no JSON body */
    const char *raw;           /* a body that is not a json_object (with content_type) */
    size_t raw_len;
    const char *content_type;  /* for raw; NULL = application/json */
    const char *what;          /* the operation, for errors: "create volume \"boot\"" */
    int retry;                 /* -1: by method (GET/HEAD/PUT/DELETE retry), 0 never, 1 always */
    bool not_found_ok;         /* a 404 returns 0 with reply->status 404, no error */
    bool noauth;               /* no token (Keystone auth itself); path is a full URL */
} vmmk__os_call;
/* A call with the defaults (retry by method): set further fields after. */
#define VMMK__OS_CALL(svc_, method_, path_, what_)                                              \
    { .svc = (svc_), .method = (method_), .path = (path_), .what = (what_), .retry = -1 }

typedef struct vmmk__os_reply {
    long status;
    json_object *body;         /* the parsed body when it is JSON, else NULL */
    char *raw;                 /* the body as received ("" when empty) */
    size_t raw_len;
    char *request_id;          /* x-openstack-request-id / x-compute-request-id, or NULL */
    char *location;            /* Location header, or NULL */
    char *headers;             /* all header lines of the response */
} vmmk__os_reply;

/* Make an authenticated call.  Takes the lock.  Token renewal before
 * expiry and one renewal + resend on a 401; retries with backoff on 429
 * and 5xx (Retry-After honoured) and on lost connections for idempotent
 * calls.  0 for a 2xx (and for a 404 with not_found_ok); otherwise the
 * error is recorded: 400 VMMK_EINVAL, 401/403 VMMK_EAUTH, 404
 * VMMK_ENOTFOUND, 409 VMMK_ECONFLICT, 413 (quota) and others VMMK_EHTTP;
 * the message is "<what>: <API message> (HTTP <status>, <METHOD> <url>,
 * request id <id>)", vmmk_error.fault the API's error type, .detail the
 * request id, .http_status the status.  @p reply may be NULL. */
int vmmk__os_do(vmmk_cloud *c, const vmmk__os_call *call, vmmk__os_reply *reply);
void vmmk__os_reply_clear(vmmk__os_reply *r);
/* @p method on <base>/<escaped id><suffix> of @p svc (suffix may be NULL)
 * with @p body (taken; NULL: VMMK_ENOMEM "<what>: out of memory"), for a
 * call whose answer is not needed. */
int vmmk__os_send(vmmk_cloud *c, vmmk__svc svc, const char *method, const char *base,
                  const char *id, const char *suffix, json_object *body, const char *what);
/* The same with the lock already held (client.c's own calls). */
int vmmk__os_do_locked(vmmk_cloud *c, const vmmk__os_call *call, vmmk__os_reply *reply);

/* The error message an OpenStack service put in an error body (Nova
 * {"badRequest": {"message": ...}}, Cinder the same, Neutron
 * {"NeutronError": {"type", "message"}}, Keystone {"error": {"message",
 * "title"}}, Glance HTML/text), into new strings (either may be NULL). */
void vmmk__os_error_text(const char *body, size_t len, char **message, char **type);

/* GET every item of a paginated collection: the array member @p key of
 * each page, following the next link (<key>_links rel=next, or Glance's
 * "next") by its query string.  @p path may carry a query already.
 * page_size is added as limit= when set.  @p cb returns 0 to go on. */
typedef int (*vmmk__os_item_cb)(void *payload, json_object *item);
int vmmk__os_list(vmmk_cloud *c, vmmk__svc svc, const char *path, const char *key,
                  const char *what, vmmk__os_item_cb cb, void *payload);

/* Poll @p check until it sets *done, sleeping 0.25 s doubling to 3 s
 * between calls (not holding the lock).  VMMK_ETIMEOUT "<what>: not done
 * after N s (last state: <state>)" when timeout_s passes; @p check's
 * error ends the wait.  @p state (may be NULL) is filled by check for
 * that message. */
typedef int (*vmmk__os_check_cb)(void *payload, bool *done, char *state, size_t state_size);
int vmmk__os_poll(unsigned timeout_s, const char *what, vmmk__os_check_cb check, void *payload);

/* URL-encode @p s for a path segment or a query value; new string. */
char *vmmk__os_escape(const char *s);

/* ---- jsonx.c ---- */

/* {@p key: @p inner} taking @p inner; NULL (inner freed) when inner is NULL
 * or out of memory. */
json_object *vmmk__jwrap(const char *key, json_object *inner);
/* {@p key: "@p value"}; NULL when out of memory. */
json_object *vmmk__jpair(const char *key, const char *value);
/* A string member duplicated, or NULL when absent, null or not a string. */
char *vmmk__jdup(json_object *o, const char *key);
/* A string member borrowed, or NULL. */
const char *vmmk__jstr(json_object *o, const char *key);
/* Integer / boolean members with a default when absent or of another type
 * (booleans also accept "true"/"false" strings, as Cinder sends). */
int64_t vmmk__jint(json_object *o, const char *key, int64_t dflt);
bool vmmk__jbool(json_object *o, const char *key, bool dflt);
/* An array of strings as a new char* array; *n set. 0 or VMMK_ENOMEM. */
int vmmk__jstrv(char ***out, size_t *n, json_object *o, const char *key);
/* A JSON object of scalars as sorted properties (never NULL on 0). */
int vmmk__jprops(vmmk_properties **out, json_object *obj);
/* properties -> new JSON object of strings (NULL when out of memory). */
json_object *vmmk__props_to_json(const vmmk_properties *p);
/* (array, n) of strings -> new JSON array. */
json_object *vmmk__strv_to_json(const char *const *v, size_t n);
/* raw_json of a resource: the object serialised (new string). */
char *vmmk__jraw(json_object *o);
/* Serialise a struct's raw_json (pretty with VMMK_JSON_PRETTY) into *out. */
int vmmk__raw_to_json(char **out, const char *raw, unsigned flags, const char *what);
void vmmk__strv_free(char **v, size_t n);
/* A UUID-looking string (8-4-4-4-12 hex) or a 32-hex id. */
bool vmmk__looks_like_id(const char *s);

/* ---- resource.c ---- */

/* Where one kind of resource lives, for the helpers below. */
typedef struct vmmk__os_lookup {
    vmmk__svc svc;
    const char *kind;          /* "network", for messages */
    const char *plural;        /* "networks", for messages */
    const char *base;          /* collection path: "/v2.0/networks", "/v2/images" */
    const char *item_key;      /* member holding the item in a GET by id ("network"),
                                  or NULL when the body is the item (Glance) */
    const char *list_key;      /* array member of a list page ("networks") */
    const char *filter;        /* extra query, escaped ("network_id=..."), or NULL */
    const char *scope;         /* "in project demo (ID)", for messages; NULL: "visible to
                                  project <the token's project>" */
    const char *list_path;     /* what a lookup by name lists, when not base
                                  ("/volumes/detail"), or NULL */
    bool name_regex;           /* the service reads name= as a regular expression (Nova) */
} vmmk__os_lookup;

/* vmmk__os_do, then the answer's member @p key (the body itself when NULL)
 * as a new reference in *out: VMMK_EREMOTE "<what>: the answer has no
 * <kind> object (request id R)" when it is not an object with an "id".
 * A 404 with call->not_found_ok is 0 with *out NULL. */
int vmmk__os_do_item(json_object **out, vmmk_cloud *c, const vmmk__os_call *call,
                     const char *key, const char *kind);
/* GET l->base/<id>, unwrapped by l->item_key as vmmk__os_do_item does;
 * with @p not_found_ok a 404 is 0 with *out NULL, else the error. */
int vmmk__os_get_id(json_object **out, vmmk_cloud *c, const vmmk__os_lookup *l, const char *id,
                    bool not_found_ok, const char *what);

/* GET base/<id> when @p id_or_name looks like an id (a 404 falls through),
 * else list base (or list_path) ?name=<name>[&filter]: none is
 * VMMK_ENOTFOUND ("no network named \"x\" visible to project ..."), several
 * VMMK_ECONFLICT listing the ids ("network name \"x\" is ambiguous: 2
 * networks (ids a, b); pass an id").  @p out gets a reference to the item
 * object (json_object_put). */
int vmmk__os_find(json_object **out, vmmk_cloud *c, const vmmk__os_lookup *l,
                  const char *id_or_name);
/* "demo (ID)": the token's project for messages (new string, or NULL when
 * out of memory).  Takes the lock. */
char *vmmk__os_project_label(vmmk_cloud *c);

/* Waiting for a resource's "status" (vmmk__os_wait_status).  Each round
 * GETs the resource; the state shown on a timeout is "status S" (", task
 * T" with task_key). */
typedef struct vmmk__os_wait vmmk__os_wait;
/* Called with each item read that @p want did not end the wait with
 * (status "" when absent): an error ends the wait; so does *done.  May
 * write its own @p state. */
typedef int (*vmmk__os_judge_fn)(vmmk__os_wait *w, json_object *item, const char *status,
                                 bool *done, char *state, size_t state_size);
struct vmmk__os_wait {
    vmmk_cloud *c;
    const vmmk__os_lookup *res;
    const char *id, *what;
    const char *want;          /* the status that ends the wait, or NULL */
    bool nocase;               /* compare it ignoring case (Nova, Glance) */
    bool until_gone;           /* a 404 ends the wait; else it is VMMK_ENOTFOUND */
    const char *task_key;      /* a member that must be empty for @p want to count
                                  ("OS-EXT-STS:task_state"), or NULL */
    vmmk__os_judge_fn judge;   /* or NULL */
    void *payload;             /* for judge */
    json_object *last;         /* out: the item last read (json_object_put it) */
};
int vmmk__os_wait_status(vmmk__os_wait *w, unsigned timeout_s);

/* The resources more than one file reads (compute_server.c, volume.c). */
extern const vmmk__os_lookup vmmk__os_servers, vmmk__os_volumes;

/* ---- volume.c ---- */

/* A Cinder volume object (or a {"volume": {...}} wrapper) as a new
 * vmmk_cloud_volume, leniently ("bootable": "true", absent members);
 * VMMK_EREMOTE when it is not an object with an "id".  Fuzzed. */
int vmmk__os_parse_volume(vmmk_cloud_volume **out, json_object *o);
/* The newest Cinder user message (GET /messages, 3.3+) about
 * @p resource_id ("schedule allocate volume: Could not find any
 * available weighted backend."), or NULL; never records an error. */
char *vmmk__os_cinder_message(vmmk_cloud *c, const char *resource_id);
/* 0, or VMMK_EINVAL "<fn>: handle is NULL" / "<fn>: volume id is empty". */
int vmmk__os_volume_check(vmmk_cloud *c, const char *id, const char *fn);
/* DELETE a Cinder volume or snapshot (@p res); a 404 is "gone already".
 * Cinder refuses one in the wrong state (400; 409 on some releases): it is
 * read again, and one being deleted already is fine; else the refusal
 * stands as VMMK_ESTATE with " (the <kind> is in status S)" and
 * *refused_status (new string) is S.  With @p wait, then wait until it is
 * gone, @p judge telling the failures. */
int vmmk__os_cinder_delete(char **refused_status, vmmk_cloud *c, const vmmk__os_lookup *res,
                           const char *id, bool wait, vmmk__os_judge_fn judge, const char *what);

/* The calling thread's last error, kept across calls that may fail or
 * clear it (a probing GET after a refused DELETE). */
typedef struct vmmk__os_err_saved {
    int code, http_status;
    char *message, *fault, *detail;
} vmmk__os_err_saved;
int vmmk__os_err_save(vmmk__os_err_saved *s);
/* Record the saved error again (with @p code instead when not 0 and
 * @p suffix appended when not NULL) and release @p s; returns the code. */
int vmmk__os_err_restore(vmmk__os_err_saved *s, int code, const char *suffix);
void vmmk__os_err_forget(vmmk__os_err_saved *s);
/* Re-record the current error as "<prefix>: <message><suffix>" (either
 * may be NULL) with @p code (0 = unchanged); returns the code. */
int vmmk__os_err_recode(int code, const char *prefix, const char *suffix);

/* ---- compute_server.c ---- */

/* One Nova server object (GET /servers/{id} "server", or an item of
 * /servers/detail) into a new vmmk_cloud_server; lenient about absent
 * members, VMMK_EREMOTE when it is not an object with an "id".  Fuzzed. */
int vmmk__os_parse_server(vmmk_cloud_server **out, json_object *o);

/* ---- port.c ---- */

/* A Neutron port object (unwrapped) into a new vmmk_cloud_port, leniently;
 * VMMK_EREMOTE when it is not an object with an "id".  Fuzzed. */
int vmmk__os_parse_port(vmmk_cloud_port **out, json_object *o);

/* ---- image.c, image_upload.c ---- */

/* A Glance image object into a new vmmk_cloud_image (every non-core
 * attribute a property), leniently; VMMK_EREMOTE when it is not an object
 * with an "id".  Fuzzed. */
int vmmk__os_parse_image(vmmk_cloud_image **out, json_object *o);
/* 0, or VMMK_EINVAL "<op>: no image id given" / "the cloud handle is NULL". */
int vmmk__os_image_check_id(vmmk_cloud *c, const char *id, const char *op);
/* "/v2/images/<escaped id><suffix>" (new string; NULL when out of memory). */
char *vmmk__os_image_path(const char *id, const char *suffix);

#endif
