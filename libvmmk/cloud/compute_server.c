/* Nova servers: create (boot from volume), get, wait, stop/start, delete.
 * Flavors, volume attachments and the metadata service are in compute.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "cloud_int.h"

#define DEFAULT_WAIT_S 600
#define MAX_USER_DATA_B64 65535   /* Nova's limit on the encoded user_data */
#define MAX_TAGS 50               /* Nova's limit on tags per server */
#define MAX_TAG_LEN 60

/* ---- parsing ----------------------------------------------------------- */

void vmmk_cloud_server_free(vmmk_cloud_server *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->name);
    free(s->status);
    free(s->task_state);
    free(s->fault);
    free(s->flavor_id);
    free(s->availability_zone);
    free(s->host_id);
    vmmk__strv_free(s->volume_ids, s->n_volume_ids);
    vmmk_properties_free(s->metadata);
    vmmk__strv_free(s->tags, s->n_tags);
    free(s->raw_json);
    free(s);
}

/* A string member that Nova sends as "" when it has no value. */
static char *jdup_nonempty(json_object *o, const char *key)
{
    const char *s = vmmk__jstr(o, key);
    return s && *s ? strdup(s) : NULL;
}

/* Each copied field is checked against its source so that an allocation
 * failure is not mistaken for an absent member. */
#define COPY(dst, expr, src_present)                                                             \
    do {                                                                                         \
        (dst) = (expr);                                                                          \
        if (!(dst) && (src_present))                                                             \
            goto nomem;                                                                          \
    } while (0)

int vmmk__os_parse_server(vmmk_cloud_server **out, json_object *o)
{
    *out = NULL;
    if (!o || !json_object_is_type(o, json_type_object))
        return vmmk__err(VMMK_EREMOTE, "server: expected a JSON object, got %s",
                         o ? vmmk__json_type_name(o) : "null");
    const char *id = vmmk__jstr(o, "id");
    if (!id || !*id)
        return vmmk__err(VMMK_EREMOTE, "server: the object has no \"id\"");
    vmmk_cloud_server *s = calloc(1, sizeof *s);
    if (!s)
        goto nomem;
    json_object *v;
    COPY(s->id, strdup(id), true);
    COPY(s->name, vmmk__jdup(o, "name"), vmmk__jstr(o, "name"));
    COPY(s->status, vmmk__jdup(o, "status"), vmmk__jstr(o, "status"));
    COPY(s->task_state, jdup_nonempty(o, "OS-EXT-STS:task_state"),
         vmmk__jstr(o, "OS-EXT-STS:task_state") && *vmmk__jstr(o, "OS-EXT-STS:task_state"));
    if (json_object_object_get_ex(o, "fault", &v))
        COPY(s->fault, vmmk__jdup(v, "message"), vmmk__jstr(v, "message"));
    if (json_object_object_get_ex(o, "flavor", &v)) {
        /* Up to 2.46 {"id", "links"}; from 2.47 the flavor's description
         * with original_name and no id. */
        const char *fid = vmmk__jstr(v, "id");
        if (!fid)
            fid = vmmk__jstr(v, "original_name");
        COPY(s->flavor_id, vmmk__strdup(fid), fid);
    }
    COPY(s->availability_zone, jdup_nonempty(o, "OS-EXT-AZ:availability_zone"),
         vmmk__jstr(o, "OS-EXT-AZ:availability_zone") &&
             *vmmk__jstr(o, "OS-EXT-AZ:availability_zone"));
    COPY(s->host_id, jdup_nonempty(o, "hostId"),
         vmmk__jstr(o, "hostId") && *vmmk__jstr(o, "hostId"));
    if (vmmk__jstrv(&s->volume_ids, &s->n_volume_ids, o, "os-extended-volumes:volumes_attached") ||
        vmmk__jstrv(&s->tags, &s->n_tags, o, "tags"))
        goto nomem;
    json_object *md = NULL;
    json_object_object_get_ex(o, "metadata", &md);
    if (vmmk__jprops(&s->metadata, md))
        goto nomem;
    COPY(s->raw_json, vmmk__jraw(o), true);
    *out = s;
    return 0;
nomem:
    vmmk_cloud_server_free(s);
    return vmmk__err(VMMK_ENOMEM, "server %s: out of memory", id ? id : "");
}

int vmmk_cloud_server_to_json(char **out, const vmmk_cloud_server *s, unsigned flags)
{
    if (!s) {
        if (out)
            *out = NULL;
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_server_to_json: server is NULL");
    }
    char what[320];
    snprintf(what, sizeof what, "server %s", s->id ? s->id : "(no id)");
    return vmmk__raw_to_json(out, s->raw_json, flags, what);
}

/* ---- get and wait ------------------------------------------------------ */

const vmmk__os_lookup vmmk__os_servers = {
    .svc = VMMK__SVC_COMPUTE, .kind = "server", .plural = "servers", .base = "/servers",
    .item_key = "server", .list_key = "servers", .list_path = "/servers/detail",
    .name_regex = true,   /* Nova's name filter is a regular expression */
};

/* A server object that a call returned -> struct (the reference taken). */
static int server_from(vmmk_cloud_server **out, json_object *o, const char *what)
{
    int rc = vmmk__os_parse_server(out, o);
    json_object_put(o);
    return rc ? vmmk__err_prefix("%s", what) : 0;
}

/* GET /servers/{id}: 0 with *out NULL on a 404. */
static int server_by_id(vmmk_cloud_server **out, vmmk_cloud *c, const char *id, const char *what)
{
    *out = NULL;
    json_object *o;
    int rc = vmmk__os_get_id(&o, c, &vmmk__os_servers, id, true, what);
    return rc || !o ? rc : server_from(out, o, what);
}

int vmmk_cloud_server_get(vmmk_cloud_server **out, vmmk_cloud *c, const char *id_or_name)
{
    if (out)
        *out = NULL;
    if (!out || !c || !id_or_name)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_server_get: NULL argument");
    if (!*id_or_name)
        return vmmk__err(VMMK_EINVAL, "server: empty id or name");
    char what[320];
    snprintf(what, sizeof what, "server \"%s\"", id_or_name);
    json_object *o;
    int rc = vmmk__os_find(&o, c, &vmmk__os_servers, id_or_name);
    return rc ? rc : server_from(out, o, what);
}

/* ERROR ends a wait for another status, and a deletion unless Nova is
 * still at it; SOFT_DELETED is as good as gone. */
static int server_judge(vmmk__os_wait *w, json_object *item, const char *status, bool *done,
                        char *state, size_t state_size)
{
    (void)state, (void)state_size;
    if (!w->want && strcasecmp(status, "SOFT_DELETED") == 0) {
        /* reclaim_instance_interval is set: Nova keeps it until then. */
        *done = true;
        return 0;
    }
    if (strcasecmp(status, "ERROR") != 0 || (w->want && strcasecmp(w->want, "ERROR") == 0))
        return 0;
    vmmk_cloud_server *s;
    int rc = vmmk__os_parse_server(&s, item);
    if (rc)
        return vmmk__err_prefix("%s", w->what);
    const char *fault = s->fault ? s->fault : "Nova gave no fault message";
    if (w->want)
        rc = vmmk__err_full(VMMK_EREMOTE, "ERROR", s->fault, 0, 0,
                            "server \"%s\" (%s) went to ERROR: %s", s->name ? s->name : "",
                            s->id, fault);
    else if (!s->task_state)
        /* The API sets task "deleting" before it answers, so ERROR with
         * no task means the compute host failed to delete it. */
        rc = vmmk__err_full(VMMK_EREMOTE, "ERROR", s->fault, 0, 0,
                            "%s: the server went to ERROR instead: %s", w->what, fault);
    vmmk_cloud_server_free(s);
    return rc;
}

/* Wait for @p status (NULL: until the server is gone). */
static int server_wait(vmmk_cloud_server **out, vmmk_cloud *c, const char *id, const char *status,
                       unsigned timeout_s, const char *what)
{
    vmmk__os_wait w = { .c = c, .res = &vmmk__os_servers, .id = id, .what = what, .want = status,
                        .nocase = true, .until_gone = !status,
                        .task_key = "OS-EXT-STS:task_state", .judge = server_judge };
    int rc = vmmk__os_wait_status(&w, timeout_s ? timeout_s : DEFAULT_WAIT_S);
    if (!rc && out && w.last)
        return server_from(out, w.last, what);
    json_object_put(w.last);
    return rc;
}

int vmmk_cloud_server_wait(vmmk_cloud_server **out, vmmk_cloud *c, const char *id,
                           const char *status, unsigned timeout_s)
{
    if (out)
        *out = NULL;
    if (!c || !id || !*id || !status || !*status)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_server_wait: %s",
                         !c ? "NULL handle" : (!id || !*id) ? "no server id" : "no status");
    char what[320];
    snprintf(what, sizeof what, "wait for server %s to be %s", id, status);
    return server_wait(out, c, id, status, timeout_s, what);
}

/* ---- stop / start ----------------------------------------------------- */

static int power(vmmk_cloud *c, const char *id, bool wait, bool stop)
{
    const char *verb = stop ? "stop" : "start";
    const char *target = stop ? "SHUTOFF" : "ACTIVE";
    if (!c || !id || !*id)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_server_%s: %s", verb,
                         c ? "no server id" : "NULL handle");
    char what[320];
    snprintf(what, sizeof what, "%s server %s", verb, id);
    vmmk_cloud_server *s;
    int rc = server_by_id(&s, c, id, what);
    if (rc)
        return rc;
    if (!s)
        return vmmk__err(VMMK_ENOTFOUND, "%s: no server has this id", what);
    bool there = s->status && strcasecmp(s->status, target) == 0 && !s->task_state;
    vmmk_cloud_server_free(s);
    if (there)
        return 0;

    json_object *body = json_object_new_object();
    if (body && json_object_object_add(body, stop ? "os-stop" : "os-start", NULL)) {
        json_object_put(body);
        body = NULL;
    }
    rc = vmmk__os_send(c, VMMK__SVC_COMPUTE, "POST", "/servers", id, "/action", body, what);
    if (rc == VMMK_ECONFLICT) {
        /* Between our GET and the POST the server got there, or is on its
         * way: "Cannot 'stop' instance X while it is in vm_state stopped". */
        const char *m = vmmk_error_last()->message;
        const char *ok_state = stop ? "vm_state stopped" : "vm_state active";
        const char *ok_task = stop ? "task_state powering-off" : "task_state powering-on";
        if (m && (strstr(m, ok_state) || strstr(m, ok_task))) {
            vmmk__log(VMMK_LOG_DEBUG, "%s: already %s", what, stop ? "stopped" : "started");
            vmmk_error_clear();
            rc = 0;
        }
    }
    if (rc || !wait)
        return rc;
    return vmmk_cloud_server_wait(NULL, c, id, target, 0);
}

int vmmk_cloud_server_stop(vmmk_cloud *c, const char *id, bool wait)
{
    return power(c, id, wait, true);
}

int vmmk_cloud_server_start(vmmk_cloud *c, const char *id, bool wait)
{
    return power(c, id, wait, false);
}

/* ---- delete ----------------------------------------------------------- */

int vmmk_cloud_server_delete(vmmk_cloud *c, const char *id, bool wait)
{
    if (!c || !id || !*id)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_server_delete: %s",
                         c ? "no server id" : "NULL handle");
    char what[320];
    snprintf(what, sizeof what, "delete server %s", id);
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_COMPUTE, "DELETE", "/servers", what);
    call.id = id;
    call.not_found_ok = true;
    vmmk__os_reply r;
    int rc = vmmk__os_do(c, &call, &r);
    long status = r.status;
    vmmk__os_reply_clear(&r);
    if (rc || status == 404 || !wait)
        return rc;
    return server_wait(NULL, c, id, NULL, DEFAULT_WAIT_S, what);
}

/* ---- create ----------------------------------------------------------- */

static char *base64(const char *in, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t olen = 4 * ((len + 2) / 3);
    char *out = malloc(olen + 1), *o = out;
    if (!out)
        return NULL;
    const unsigned char *p = (const unsigned char *)in;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        *o++ = tbl[(v >> 18) & 63];
        *o++ = tbl[(v >> 12) & 63];
        *o++ = i + 1 < len ? tbl[(v >> 6) & 63] : '=';
        *o++ = i + 2 < len ? tbl[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

/* A (list, n) pair of the spec: present when n > 0, every entry a
 * non-empty string. */
static int check_list(const char *server, const char *field, const char *const *v, size_t n)
{
    if (n && !v)
        return vmmk__err(VMMK_EINVAL, "create server \"%s\": %s is NULL but n_%s is %zu", server,
                         field, field, n);
    for (size_t i = 0; i < n; i++)
        if (!v[i] || !*v[i])
            return vmmk__err(VMMK_EINVAL, "create server \"%s\": %s[%zu] is empty", server, field, i);
    return 0;
}

static int check_server_spec(const vmmk_cloud_server_spec *s)
{
    if (s->version != VMMK_CLOUD_SERVER_CREATE_VERSION)
        return vmmk__err(VMMK_EINVAL, "create server: spec version %u is not %u (initialise with "
                         "VMMK_CLOUD_SERVER_CREATE_INIT)", s->version,
                         VMMK_CLOUD_SERVER_CREATE_VERSION);
    if (!s->name || !*s->name)
        return vmmk__err(VMMK_EINVAL, "create server: name is missing");
    const char *n = s->name;
    if (strlen(n) > 255)
        return vmmk__err(VMMK_EINVAL, "create server \"%.40s...\": name is longer than 255 bytes", n);
    if (!s->flavor || !*s->flavor)
        return vmmk__err(VMMK_EINVAL, "create server \"%s\": flavor is missing", n);
    if (!s->n_volumes)
        return vmmk__err(VMMK_EINVAL, "create server \"%s\": volumes is empty (the server boots "
                         "from volumes[0])", n);
    int rc;
    if ((rc = check_list(n, "volumes", s->volumes, s->n_volumes)) ||
        (rc = check_list(n, "ports", s->ports, s->n_ports)) ||
        (rc = check_list(n, "networks", s->networks, s->n_networks)) ||
        (rc = check_list(n, "security_groups", s->security_groups, s->n_security_groups)) ||
        (rc = check_list(n, "tags", s->tags, s->n_tags)))
        return rc;
    for (size_t i = 0; i < s->n_volumes; i++)
        for (size_t k = 0; k < i; k++)
            if (strcmp(s->volumes[i], s->volumes[k]) == 0)
                return vmmk__err(VMMK_EINVAL, "create server \"%s\": volumes[%zu] repeats "
                                 "volumes[%zu] (%s)", n, i, k, s->volumes[i]);
    if (s->n_tags > MAX_TAGS)
        return vmmk__err(VMMK_EINVAL, "create server \"%s\": %zu tags; Nova takes at most %d", n,
                         s->n_tags, MAX_TAGS);
    for (size_t i = 0; i < s->n_tags; i++)
        if (strlen(s->tags[i]) > MAX_TAG_LEN || strpbrk(s->tags[i], "/,"))
            return vmmk__err(VMMK_EINVAL, "create server \"%s\": tags[%zu] \"%s\": a tag has at "
                             "most %d characters and no '/' or ','", n, i, s->tags[i], MAX_TAG_LEN);
    for (size_t i = 0; s->metadata && i < s->metadata->n; i++)
        if (!*s->metadata->keys[i] || strlen(s->metadata->keys[i]) > 255 ||
            strlen(s->metadata->values[i]) > 255)
            return vmmk__err(VMMK_EINVAL, "create server \"%s\": metadata \"%.40s\": keys need 1 "
                             "to 255 characters and values at most 255", n, s->metadata->keys[i]);
    if (s->user_data && 4 * ((strlen(s->user_data) + 2) / 3) > MAX_USER_DATA_B64)
        return vmmk__err(VMMK_EINVAL, "create server \"%s\": user_data is %zu bytes; Nova takes "
                         "at most %d once base64-encoded", n, strlen(s->user_data),
                         MAX_USER_DATA_B64);
    if (s->key_name && !*s->key_name)
        return vmmk__err(VMMK_EINVAL, "create server \"%s\": key_name is empty (NULL for none)", n);
    if (s->availability_zone && !*s->availability_zone)
        return vmmk__err(VMMK_EINVAL, "create server \"%s\": availability_zone is empty (NULL "
                         "for the default)", n);
    return 0;
}

/* A network given by name: its id (an id goes to Nova as it is). */
static int network_id(char **out, vmmk_cloud *c, const char *net, const char *what)
{
    *out = NULL;
    if (vmmk__looks_like_id(net))
        return (*out = strdup(net)) ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
    vmmk_cloud_network *n;
    if (vmmk_cloud_network_find(&n, c, net) != 0)
        return vmmk__err_prefix("%s", what);
    *out = n->id;
    n->id = NULL;
    vmmk_cloud_network_free(n);
    return 0;
}

#define ADD(obj, key, val)                                                                       \
    do {                                                                                         \
        json_object *v_ = (val);                                                                 \
        if (!v_ || json_object_object_add((obj), (key), v_)) {                                   \
            json_object_put(v_);                                                                 \
            goto nomem;                                                                          \
        }                                                                                        \
    } while (0)
#define APPEND(arr, val)                                                                         \
    do {                                                                                         \
        json_object *v_ = (val);                                                                 \
        if (!v_ || json_object_array_add((arr), v_)) {                                           \
            json_object_put(v_);                                                                 \
            goto nomem;                                                                          \
        }                                                                                        \
    } while (0)

static int build_create_body(json_object **out, vmmk_cloud *c, const vmmk_cloud_server_spec *s,
                             const char *flavor_id, char *const *net_ids, const char *what)
{
    *out = NULL;
    json_object *root = json_object_new_object(), *sv = NULL, *e;
    char *ud = NULL;
    if (!root)
        goto nomem;
    ADD(root, "server", sv = json_object_new_object());
    if (vmmk__json_add_string(sv, "name", s->name) ||
        vmmk__json_add_string(sv, "flavorRef", flavor_id))
        goto nomem;

    json_object *bdm;
    ADD(sv, "block_device_mapping_v2", bdm = json_object_new_array());
    for (size_t i = 0; i < s->n_volumes; i++) {
        APPEND(bdm, e = json_object_new_object());
        if (vmmk__json_add_string(e, "uuid", s->volumes[i]) ||
            vmmk__json_add_string(e, "source_type", "volume") ||
            vmmk__json_add_string(e, "destination_type", "volume"))
            goto nomem;
        ADD(e, "boot_index", json_object_new_int((int)i));
        ADD(e, "delete_on_termination", json_object_new_boolean(s->delete_volumes_on_termination));
    }

    if (s->n_ports || s->n_networks) {
        json_object *nets;
        ADD(sv, "networks", nets = json_object_new_array());
        for (size_t i = 0; i < s->n_ports; i++) {
            APPEND(nets, e = json_object_new_object());
            if (vmmk__json_add_string(e, "port", s->ports[i]))
                goto nomem;
        }
        for (size_t i = 0; i < s->n_networks; i++) {
            APPEND(nets, e = json_object_new_object());
            if (vmmk__json_add_string(e, "uuid", net_ids[i]))
                goto nomem;
        }
    } else if (vmmk__json_add_string(sv, "networks", "none")) {   /* 2.37+ */
        goto nomem;
    }
    if (s->n_security_groups) {
        json_object *sgs;
        ADD(sv, "security_groups", sgs = json_object_new_array());
        for (size_t i = 0; i < s->n_security_groups; i++) {
            APPEND(sgs, e = json_object_new_object());
            if (vmmk__json_add_string(e, "name", s->security_groups[i]))
                goto nomem;
        }
    }
    if (s->key_name && vmmk__json_add_string(sv, "key_name", s->key_name))
        goto nomem;
    if (s->user_data) {
        if (!(ud = base64(s->user_data, strlen(s->user_data))) ||
            vmmk__json_add_string(sv, "user_data", ud))
            goto nomem;
    }
    if (s->availability_zone && vmmk__json_add_string(sv, "availability_zone", s->availability_zone))
        goto nomem;
    if (s->n_tags) {
        if (!vmmk__os_mv_at_least(c, VMMK__SVC_COMPUTE, 2, 52)) {
            json_object_put(root);
            return vmmk__err(VMMK_EUNSUPPORTED, "%s: tags at creation need compute microversion "
                             "2.52; this cloud offers less", what);
        }
        ADD(sv, "tags", vmmk__strv_to_json(s->tags, s->n_tags));
    }
    if (s->metadata && s->metadata->n)
        ADD(sv, "metadata", vmmk__props_to_json(s->metadata));
    if (s->config_drive)
        ADD(sv, "config_drive", json_object_new_boolean(true));
    free(ud);
    *out = root;
    return 0;
nomem:
    free(ud);
    json_object_put(root);
    return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
}

int vmmk_cloud_server_create(vmmk_cloud_server **out, vmmk_cloud *c,
                             const vmmk_cloud_server_spec *spec)
{
    if (out)
        *out = NULL;
    if (!out || !c || !spec)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_server_create: NULL argument");
    int rc = check_server_spec(spec);
    if (rc)
        return rc;
    char what[320];
    snprintf(what, sizeof what, "create server \"%s\"", spec->name);

    /* flavorRef takes an id only; a name is resolved (uniquely) first. */
    vmmk_flavor *f = NULL;
    if ((rc = vmmk_cloud_flavor_get(&f, c, spec->flavor)) != 0)
        return vmmk__err_prefix("%s", what);
    char **net_ids = spec->n_networks ? calloc(spec->n_networks, sizeof *net_ids) : NULL;
    if (spec->n_networks && !net_ids)
        rc = vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    for (size_t i = 0; !rc && i < spec->n_networks; i++)
        rc = network_id(&net_ids[i], c, spec->networks[i], what);
    json_object *body = NULL;
    if (!rc)
        rc = build_create_body(&body, c, spec, f->id, net_ids, what);
    vmmk__strv_free(net_ids, spec->n_networks);
    vmmk_flavor_free(f);
    if (rc)
        return rc;

    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_COMPUTE, "POST", "/servers", what);
    call.body = body;
    vmmk__os_reply r;
    rc = vmmk__os_do(c, &call, &r);
    json_object_put(body);
    json_object *so = NULL;
    const char *id = NULL;
    if (!rc && (!r.body || !json_object_object_get_ex(r.body, "server", &so) ||
                !(id = vmmk__jstr(so, "id"))))
        rc = vmmk__err(VMMK_EREMOTE, "%s: Nova's answer has no server id (request id %s)", what,
                       r.request_id ? r.request_id : "none");
    char *sid = rc ? NULL : strdup(id);
    if (!rc && !sid)
        rc = vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    if (rc) {
        vmmk__os_reply_clear(&r);
        return rc;
    }
    /* The create answer holds little more than the id: read the server. */
    vmmk_cloud_server *s = NULL;
    rc = server_by_id(&s, c, sid, what);
    if (!rc && !s)
        rc = vmmk__err(VMMK_EREMOTE, "%s: server %s vanished right after its creation", what, sid);
    if (rc) {
        /* The server exists; the caller gets at least its id. */
        vmmk__log(VMMK_LOG_WARN, "%s: reading it back: %s", what, vmmk_error_last()->message);
        rc = vmmk__os_parse_server(&s, so);
        if (!rc && !s->status && !(s->status = strdup("BUILD")))
            rc = vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    }
    vmmk__os_reply_clear(&r);
    free(sid);
    if (rc) {
        vmmk_cloud_server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}
