/* Nova flavors (list, get, create with extra specs and access, delete),
 * volume attachments (attach/detach with the wait on the Cinder volume)
 * and the id of the server this process runs on.  Servers themselves are
 * in compute_server.c.  Flavors are parsed by the same reader as
 * vmmk_flavor_list_from_json() (libvmmk/flavor/flavor_json.c), so a list
 * read from Nova and one read from a file behave alike in the matcher. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "../flavor/flavor_internal.h"
#include "cloud_int.h"

#define DEFAULT_METADATA_URL "http://169.254.169.254/openstack/latest/meta_data.json"
#define METADATA_TIMEOUT_S 5
#define DEFAULT_ATTACH_TIMEOUT_S 600

/* ---- flavors ----------------------------------------------------------- */

typedef struct flavor_acc {
    vmmk_cloud *c;
    vmmk_flavor_list *list;
    size_t cap;
    bool public_only;          /* drop private flavors Nova lists anyway */
    bool fetch_specs;          /* below 2.61: GET os-extra_specs per flavor */
    const char *what;
} flavor_acc;

/* Below microversion 2.61 the detail list has no extra specs; they are
 * read one flavor at a time and put where 2.61 would have them. */
static int add_extra_specs(vmmk_cloud *c, json_object *fo, const char *what)
{
    const char *id = vmmk__jstr(fo, "id");
    if (!id || json_object_object_get_ex(fo, "extra_specs", NULL))
        return 0;
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_COMPUTE, "GET", "/flavors", what);
    call.id = id;
    call.suffix = "/os-extra_specs";
    vmmk__os_reply r;
    int rc = vmmk__os_do(c, &call, &r);
    json_object *specs;
    if (!rc && r.body && json_object_object_get_ex(r.body, "extra_specs", &specs) &&
        json_object_is_type(specs, json_type_object))
        json_object_object_add(fo, "extra_specs", json_object_get(specs));
    vmmk__os_reply_clear(&r);
    return rc;
}

/* Read one Nova flavor object; a malformed one is the service's fault. */
static int read_remote_flavor(vmmk_flavor *f, json_object *o, const char *what)
{
    memset(f, 0, sizeof *f);
    int rc = vmmk__flavor_read(f, o, "flavor");
    if (rc) {
        vmmk__flavor_clear(f);
        if (rc == VMMK_EINVAL)
            return vmmk__err(VMMK_EREMOTE, "%s: Nova sent a malformed flavor: %s", what,
                             vmmk_error_last()->message);
        return vmmk__err_prefix("%s", what);
    }
    return 0;
}

static int flavor_item(void *payload, json_object *item)
{
    flavor_acc *a = payload;
    int rc;
    if (a->public_only && !vmmk__jbool(item, "os-flavor-access:is_public", true))
        return 0;
    const char *id = vmmk__jstr(item, "id");
    /* A flavor made or removed while paging may shift the pages: keep the
     * first copy of an id. */
    for (size_t i = 0; id && i < a->list->n; i++)
        if (strcmp(a->list->items[i].id, id) == 0)
            return 0;
    if (a->fetch_specs && (rc = add_extra_specs(a->c, item, a->what)) != 0)
        return rc;
    if (a->list->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        vmmk_flavor *v = realloc(a->list->items, cap * sizeof *v);
        if (!v)
            return vmmk__err(VMMK_ENOMEM, "%s: out of memory", a->what);
        a->list->items = v;
        a->cap = cap;
    }
    if ((rc = read_remote_flavor(&a->list->items[a->list->n], item, a->what)) != 0)
        return rc;
    a->list->n++;
    return 0;
}

static int list_flavors(vmmk_flavor_list **out, vmmk_cloud *c, bool include_private,
                        const char *what)
{
    *out = NULL;
    flavor_acc a = { 0 };
    a.c = c;
    a.what = what;
    a.public_only = !include_private;
    a.fetch_specs = !vmmk__os_mv_at_least(c, VMMK__SVC_COMPUTE, 2, 61);
    if (!(a.list = calloc(1, sizeof *a.list)))
        return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    /* Nova's default for admins is public flavors only; "None" asks for
     * every flavor (admins) and is ignored for other users, who always
     * get the public ones plus the private ones shared with them. */
    int rc = vmmk__os_list(c, VMMK__SVC_COMPUTE,
                           include_private ? "/flavors/detail?is_public=None" : "/flavors/detail",
                           "flavors", what, flavor_item, &a);
    if (rc) {
        vmmk_flavor_list_free(a.list);
        return rc;
    }
    *out = a.list;
    return 0;
}

int vmmk_cloud_flavor_list(vmmk_flavor_list **out, vmmk_cloud *c, bool include_private)
{
    if (!out || !c)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_flavor_list: NULL argument");
    return list_flavors(out, c, include_private, "list flavors");
}

/* GET /flavors/{id}: 0 with *out NULL when there is no such id. */
static int flavor_by_id(vmmk_flavor **out, vmmk_cloud *c, const char *id, const char *what)
{
    *out = NULL;
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_COMPUTE, "GET", "/flavors", what);
    call.id = id;
    call.not_found_ok = true;
    vmmk__os_reply r;
    int rc = vmmk__os_do(c, &call, &r);
    json_object *fo = NULL;
    /* "detail" or "" as an id reach other resources: only an answer with
     * a "flavor" object is a flavor. */
    if (rc || r.status == 404 || !r.body || !json_object_object_get_ex(r.body, "flavor", &fo) ||
        !json_object_is_type(fo, json_type_object)) {
        vmmk__os_reply_clear(&r);
        return rc;
    }
    if (!vmmk__os_mv_at_least(c, VMMK__SVC_COMPUTE, 2, 61) &&
        (rc = add_extra_specs(c, fo, what)) != 0) {
        vmmk__os_reply_clear(&r);
        return rc;
    }
    vmmk_flavor *f = calloc(1, sizeof *f);
    if (!f)
        rc = vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    else if ((rc = read_remote_flavor(f, fo, what)) != 0) {
        free(f);
        f = NULL;
    }
    vmmk__os_reply_clear(&r);
    *out = f;
    return rc;
}

int vmmk_cloud_flavor_get(vmmk_flavor **out, vmmk_cloud *c, const char *id_or_name)
{
    if (!out || !c || !id_or_name)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_flavor_get: NULL argument");
    *out = NULL;
    if (!*id_or_name)
        return vmmk__err(VMMK_EINVAL, "flavor: empty id or name");
    char what[320];
    snprintf(what, sizeof what, "flavor \"%s\"", id_or_name);
    int rc = flavor_by_id(out, c, id_or_name, what);
    if (rc || *out)
        return rc;
    /* Nova has no name filter for flavors: list them all (private ones
     * included, as a name given explicitly may well be one) and match. */
    vmmk_flavor_list *l;
    if ((rc = list_flavors(&l, c, true, what)) != 0)
        return rc;
    size_t hits = 0, first = 0;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, id_or_name) == 0 && hits++ == 0)
            first = i;
    if (hits == 1) {
        rc = vmmk__flavor_dup(out, &l->items[first]);
    } else if (hits == 0) {
        rc = vmmk__err(VMMK_ENOTFOUND, "%s: no flavor has this id or name", what);
    } else {
        vmmk__buf b = { 0 };
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(l->items[i].name, id_or_name) == 0)
                vmmk__buf_printf(&b, "%s%s", b.len ? ", " : "", l->items[i].id);
        char *ids = vmmk__buf_take(&b);
        rc = vmmk__err(VMMK_ECONFLICT, "flavor name \"%s\" is ambiguous: %zu flavors (ids %s); "
                       "pass an id", id_or_name, hits, ids ? ids : "?");
        free(ids);
    }
    vmmk_flavor_list_free(l);
    return rc;
}

static int flavor_delete(vmmk_cloud *c, const char *id, const char *what, bool not_found_ok)
{
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_COMPUTE, "DELETE", "/flavors", what);
    call.id = id;
    call.not_found_ok = not_found_ok;
    return vmmk__os_do(c, &call, NULL);
}

int vmmk_cloud_flavor_delete(vmmk_cloud *c, const char *id)
{
    if (!c || !id || !*id)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_flavor_delete: %s", c ? "no flavor id" : "NULL handle");
    char what[320];
    snprintf(what, sizeof what, "delete flavor %s", id);
    return flavor_delete(c, id, what, false);
}

static int check_flavor_spec(const vmmk_flavor *s, const char *const *projects, size_t n_projects)
{
    if (!s->name || !*s->name)
        return vmmk__err(VMMK_EINVAL, "create flavor: name is missing");
    if (strlen(s->name) > 255)
        return vmmk__err(VMMK_EINVAL, "create flavor \"%.40s...\": name is longer than 255 bytes",
                         s->name);
    if (s->id && !*s->id)
        return vmmk__err(VMMK_EINVAL, "create flavor \"%s\": id is empty (NULL lets Nova choose)",
                         s->name);
    if (s->vcpus < 1)
        return vmmk__err(VMMK_EINVAL, "create flavor \"%s\": vcpus must be >= 1, not %d", s->name,
                         (int)s->vcpus);
    if (s->ram_mib < 1 || s->ram_mib > INT32_MAX)
        return vmmk__err(VMMK_EINVAL, "create flavor \"%s\": ram_mib must be 1..%d, not %llu",
                         s->name, INT32_MAX, (unsigned long long)s->ram_mib);
    if (s->disk_gib > INT32_MAX || s->ephemeral_gib > INT32_MAX || s->swap_mib > INT32_MAX)
        return vmmk__err(VMMK_EINVAL, "create flavor \"%s\": %s is larger than Nova accepts",
                         s->name, s->disk_gib > INT32_MAX ? "disk_gib"
                                  : s->ephemeral_gib > INT32_MAX ? "ephemeral_gib" : "swap_mib");
    if (s->n_extra_specs && (!s->extra_spec_keys || !s->extra_spec_values))
        return vmmk__err(VMMK_EINVAL, "create flavor \"%s\": extra_spec_keys/values are NULL "
                         "with n_extra_specs %zu", s->name, s->n_extra_specs);
    for (size_t i = 0; i < s->n_extra_specs; i++)
        if (!s->extra_spec_keys[i] || !*s->extra_spec_keys[i] || !s->extra_spec_values[i])
            return vmmk__err(VMMK_EINVAL, "create flavor \"%s\": extra spec %zu has no key or value",
                             s->name, i);
    if (n_projects && !projects)
        return vmmk__err(VMMK_EINVAL, "create flavor \"%s\": projects is NULL with n_projects %zu",
                         s->name, n_projects);
    for (size_t i = 0; i < n_projects; i++)
        if (!projects[i] || !*projects[i])
            return vmmk__err(VMMK_EINVAL, "create flavor \"%s\": projects[%zu] is empty", s->name, i);
    if (n_projects && s->is_public)
        return vmmk__err(VMMK_EINVAL, "create flavor \"%s\": projects are given for a public "
                         "flavor (access lists apply to private flavors only)", s->name);
    return 0;
}

static json_object *flavor_create_body(const vmmk_flavor *s)
{
    json_object *root = json_object_new_object(), *f = json_object_new_object();
    if (!root || !f || json_object_object_add(root, "flavor", f)) {
        json_object_put(f);
        json_object_put(root);
        return NULL;
    }
    int bad = vmmk__json_add_string(f, "name", s->name);
    if (s->id)
        bad |= vmmk__json_add_string(f, "id", s->id);
    bad |= json_object_object_add(f, "vcpus", json_object_new_int(s->vcpus));
    bad |= json_object_object_add(f, "ram", json_object_new_int64((int64_t)s->ram_mib));
    bad |= json_object_object_add(f, "disk", json_object_new_int64((int64_t)s->disk_gib));
    bad |= json_object_object_add(f, "swap", json_object_new_int64((int64_t)s->swap_mib));
    bad |= json_object_object_add(f, "OS-FLV-EXT-DATA:ephemeral",
                                  json_object_new_int64((int64_t)s->ephemeral_gib));
    bad |= json_object_object_add(f, "os-flavor-access:is_public",
                                  json_object_new_boolean(s->is_public));
    if (bad) {
        json_object_put(root);
        return NULL;
    }
    return root;
}

int vmmk_cloud_flavor_create(vmmk_flavor **out, vmmk_cloud *c, const vmmk_flavor *spec,
                             const char *const *projects, size_t n_projects)
{
    if (out)
        *out = NULL;
    if (!out || !c || !spec)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_flavor_create: NULL argument");
    int rc = check_flavor_spec(spec, projects, n_projects);
    if (rc)
        return rc;
    char what[320];
    snprintf(what, sizeof what, "create flavor \"%s\"", spec->name);
    json_object *body = flavor_create_body(spec);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_COMPUTE, "POST", "/flavors", what);
    call.body = body;
    vmmk__os_reply r;
    rc = vmmk__os_do(c, &call, &r);
    json_object_put(body);
    if (rc == VMMK_ECONFLICT) {
        /* Nova: "Flavor with name X already exists." / "... ID X ...". */
        vmmk__os_reply_clear(&r);
        return vmmk__os_err_recode(VMMK_EEXISTS, NULL, NULL);
    }
    json_object *fo = NULL;
    const char *id = NULL;
    if (!rc && (!r.body || !json_object_object_get_ex(r.body, "flavor", &fo) ||
                !(id = vmmk__jstr(fo, "id"))))
        rc = vmmk__err(VMMK_EREMOTE, "%s: Nova's answer has no flavor id (request id %s)", what,
                       r.request_id ? r.request_id : "none");
    char *fid = rc ? NULL : strdup(id);
    vmmk__os_reply_clear(&r);
    if (rc)
        return rc;
    if (!fid)
        return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);

    char step[400];
    if (spec->n_extra_specs) {
        snprintf(step, sizeof step, "%s: set extra specs of flavor %s", what, fid);
        json_object *specs = json_object_new_object();
        for (size_t i = 0; specs && i < spec->n_extra_specs; i++)
            if (vmmk__json_add_string(specs, spec->extra_spec_keys[i], spec->extra_spec_values[i])) {
                json_object_put(specs);
                specs = NULL;
            }
        rc = vmmk__os_send(c, VMMK__SVC_COMPUTE, "POST", "/flavors", fid, "/os-extra_specs",
                           vmmk__jwrap("extra_specs", specs), step);
    }
    for (size_t i = 0; !rc && !spec->is_public && i < n_projects; i++) {
        snprintf(step, sizeof step, "%s: grant project %s access to flavor %s", what, projects[i], fid);
        rc = vmmk__os_send(c, VMMK__SVC_COMPUTE, "POST", "/flavors", fid, "/action",
                           vmmk__jwrap("addTenantAccess", vmmk__jpair("tenant", projects[i])),
                           step);
    }
    vmmk_flavor *f = NULL;
    if (!rc) {
        rc = flavor_by_id(&f, c, fid, what);
        if (!rc && !f)
            rc = vmmk__err(VMMK_EREMOTE, "%s: flavor %s vanished right after its creation", what, fid);
    }
    if (rc) {
        /* Never leave a half-made flavor behind: it would be matched later. */
        vmmk__os_err_saved e;
        vmmk__os_err_save(&e);
        snprintf(step, sizeof step, "%s: remove flavor %s again", what, fid);
        if (flavor_delete(c, fid, step, true) != 0)
            vmmk__log(VMMK_LOG_WARN, "%s", vmmk_error_last()->message);
        rc = vmmk__os_err_restore(&e, 0, NULL);
    }
    free(fid);
    *out = f;
    return rc;
}

/* ---- volume attachments ---------------------------------------------- */

typedef struct attach_wait {
    const char *server_id;
    bool attach;
    char *device;              /* attach: the device Cinder reports */
} attach_wait;

/* Whether the Cinder volume @p vo is attached to @p server_id, and as
 * which device (borrowed, NULL when not said). */
static bool attached_to(json_object *vo, const char *server_id, const char **device)
{
    json_object *atts;
    bool has = false;
    *device = NULL;
    if (!json_object_object_get_ex(vo, "attachments", &atts) ||
        !json_object_is_type(atts, json_type_array))
        return false;
    for (size_t i = 0; i < json_object_array_length(atts); i++) {
        json_object *a = json_object_array_get_idx(atts, i);
        const char *sid = vmmk__jstr(a, "server_id");
        if (sid && strcmp(sid, server_id) == 0) {
            has = true;
            *device = vmmk__jstr(a, "device");
        }
    }
    return has;
}

static int attach_judge(vmmk__os_wait *w, json_object *vo, const char *status, bool *done,
                        char *state, size_t state_size)
{
    attach_wait *a = w->payload;
    const char *device;
    bool has = attached_to(vo, a->server_id, &device);
    if (!*status)
        return vmmk__err(VMMK_EREMOTE, "%s: Cinder's answer has no volume status", w->what);
    snprintf(state, state_size, "volume status %s, %sattached to the server", status,
             has ? "" : "not ");
    if (strncasecmp(status, "error", 5) == 0)
        return vmmk__err(VMMK_EREMOTE, "%s: the volume went to status %s", w->what, status);
    if (!a->attach) {
        *done = strcasecmp(status, "available") == 0 ||
                (strcasecmp(status, "in-use") == 0 && !has);
    } else if (strcasecmp(status, "in-use") == 0 && has) {
        *done = true;
        free(a->device);
        a->device = vmmk__strdup(device);
    } else if (strcasecmp(status, "available") == 0) {
        /* Nova reserves the volume before it answers, so "available"
         * now means the compute host gave the attachment up. */
        return vmmk__err(VMMK_EREMOTE, "%s: the attachment failed (the volume is available "
                         "again; the server's instance actions tell why)", w->what);
    }
    return 0;
}

/* Wait until the volume is attached to the server (a->attach) or not. */
static int attach_wait_for(vmmk_cloud *c, const char *volume_id, attach_wait *a,
                           unsigned timeout_s, const char *what)
{
    vmmk__os_wait w = { .c = c, .res = &vmmk__os_volumes, .id = volume_id, .what = what,
                        .judge = attach_judge, .payload = a };
    int rc = vmmk__os_wait_status(&w, timeout_s ? timeout_s : DEFAULT_ATTACH_TIMEOUT_S);
    json_object_put(w.last);
    return rc;
}

int vmmk_cloud_volume_attach(char **device, vmmk_cloud *c, const char *server_id,
                             const char *volume_id, unsigned timeout_s)
{
    if (device)
        *device = NULL;
    if (!c || !server_id || !*server_id || !volume_id || !*volume_id)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_attach: %s",
                         !c ? "NULL handle" : (!server_id || !*server_id) ? "no server id"
                                                                          : "no volume id");
    char what[320];
    snprintf(what, sizeof what, "attach volume %s to server %s", volume_id, server_id);
    attach_wait a = { server_id, true, NULL };

    /* Already attached here (a retried step): nothing to do. */
    json_object *vo;
    int rc = vmmk__os_get_id(&vo, c, &vmmk__os_volumes, volume_id, false, what);
    if (rc)
        return rc;
    const char *dev, *st = vmmk__jstr(vo, "status");
    bool already = attached_to(vo, server_id, &dev) && st && strcasecmp(st, "in-use") == 0;
    if (already)
        a.device = vmmk__strdup(dev);
    json_object_put(vo);

    if (!already) {
        json_object *body = vmmk__jwrap("volumeAttachment", vmmk__jpair("volumeId", volume_id));
        if (!body)
            return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
        vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_COMPUTE, "POST", "/servers", what);
        call.id = server_id;
        call.suffix = "/os-volume_attachments";
        call.body = body;
        vmmk__os_reply r;
        rc = vmmk__os_do(c, &call, &r);
        json_object_put(body);
        json_object *ao;
        if (!rc && r.body && json_object_object_get_ex(r.body, "volumeAttachment", &ao))
            a.device = vmmk__jdup(ao, "device");
        vmmk__os_reply_clear(&r);
        if (rc)
            return rc;
        if ((rc = attach_wait_for(c, volume_id, &a, timeout_s, what)) != 0) {
            free(a.device);
            return rc;
        }
    }
    if (device)
        *device = a.device;
    else
        free(a.device);
    return 0;
}

int vmmk_cloud_volume_detach(vmmk_cloud *c, const char *server_id, const char *volume_id,
                             unsigned timeout_s)
{
    if (!c || !server_id || !*server_id || !volume_id || !*volume_id)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_detach: %s",
                         !c ? "NULL handle" : (!server_id || !*server_id) ? "no server id"
                                                                          : "no volume id");
    char what[320];
    snprintf(what, sizeof what, "detach volume %s from server %s", volume_id, server_id);
    char *ev = vmmk__os_escape(volume_id);
    char *suffix = ev ? vmmk__asprintf("/os-volume_attachments/%s", ev) : NULL;
    free(ev);
    if (!suffix)
        return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_COMPUTE, "DELETE", "/servers", what);
    call.id = server_id;
    call.suffix = suffix;
    call.not_found_ok = true;
    vmmk__os_reply r;
    int rc = vmmk__os_do(c, &call, &r);
    long status = r.status;
    vmmk__os_reply_clear(&r);
    free(suffix);
    if (!rc && status == 404) {
        /* Nova answers 404 both for "not attached to this server" (fine:
         * the goal is reached) and for an unknown server (a mistake the
         * caller must hear about). */
        json_object *so;
        if ((rc = vmmk__os_get_id(&so, c, &vmmk__os_servers, server_id, true, what)) == 0 && !so)
            return vmmk__err(VMMK_ENOTFOUND, "%s: no server has id %s", what, server_id);
        json_object_put(so);
        return rc;
    }
    if (rc)
        return rc;
    attach_wait a = { server_id, false, NULL };
    return attach_wait_for(c, volume_id, &a, timeout_s, what);
}

/* ---- the local server ------------------------------------------------ */

int vmmk_cloud_local_server_id(char **out, vmmk_cloud *c, const char *given,
                               const char *metadata_url)
{
    if (out)
        *out = NULL;
    /* The handle is only needed to check a given id: the metadata
     * service is asked without it (and without its token). */
    if (!out || (given && !c))
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_local_server_id: NULL argument");
    int rc;
    if (given) {
        vmmk_cloud_server *s;
        if ((rc = vmmk_cloud_server_get(&s, c, given)) != 0)
            return vmmk__err_prefix("conversion host server");
        *out = s->id;
        s->id = NULL;
        vmmk_cloud_server_free(s);
        return 0;
    }
    const char *url = metadata_url ? metadata_url : DEFAULT_METADATA_URL;
    char *shown = vmmk__url_shown(url);
    const char *su = shown ? shown : "(metadata URL)";
    /* A plain handle: the token must not travel to the metadata service,
     * and an absent one (not an OpenStack VM) must fail fast. */
    vmmk__http_options ho = { 0 };
    ho.base_url = url;
    ho.timeout_s = METADATA_TIMEOUT_S;
    ho.connect_timeout_s = METADATA_TIMEOUT_S;
    ho.max_response = 1024 * 1024;
    ho.no_proxy = true;  /* 169.254.169.254 is link-local: a proxy cannot reach it */
    vmmk__http *h = NULL;
    vmmk__http_response resp = { 0 };
    if ((rc = vmmk__http_new(&h, &ho)) != 0) {
        rc = vmmk__err_prefix("metadata service URL %s", su);
        free(shown);
        return rc;
    }
    const char *const hdrs[] = { "Accept: application/json", NULL };
    rc = vmmk__http_request(h, "GET", url, hdrs, NULL, 0, &resp);
    vmmk__http_free(h);
    if (rc) {
        rc = vmmk__err(VMMK_ENOTFOUND, "the id of the server vmmk runs on: no metadata service "
                       "answered at %s (%s); pass the server id explicitly", su,
                       vmmk_error_last()->message);
    } else if (resp.status != 200) {
        rc = vmmk__err(VMMK_ENOTFOUND, "the id of the server vmmk runs on: %s answered HTTP %ld; "
                       "pass the server id explicitly", su, resp.status);
    } else {
        json_object *o = NULL;
        const char *uuid = NULL;
        if (vmmk__json_parse(&o, resp.body ? resp.body : "", resp.len) == 0)
            uuid = vmmk__jstr(o, "uuid");
        if (!uuid || !*uuid)
            rc = vmmk__err(VMMK_EREMOTE, "the id of the server vmmk runs on: %s has no \"uuid\" "
                           "(not an OpenStack metadata document?); pass the server id explicitly",
                           su);
        else if (!(*out = strdup(uuid)))
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        json_object_put(o);
    }
    vmmk__http_response_clear(&resp);
    free(shown);
    return rc;
}
