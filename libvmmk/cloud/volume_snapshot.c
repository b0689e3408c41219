/* Cinder v3 snapshots, volume types and revert-to-snapshot (vmmk/cloud.h,
 * "Block storage v3"); volumes themselves are in volume.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "cloud_int.h"

#define DEFAULT_TIMEOUT_S 600

/* ---- volume types ------------------------------------------------------- */

void vmmk_cloud_volume_type_list_free(vmmk_cloud_volume_type_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].id);
        free(l->items[i].name);
        free(l->items[i].description);
    }
    free(l->items);
    free(l);
}

int vmmk_cloud_volume_type_list_get(vmmk_cloud_volume_type_list **out, vmmk_cloud *c)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_type_list_get: out is NULL");
    *out = NULL;
    if (!c)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_type_list_get: handle is NULL");
    const char *what = "list volume types";
    /* Not through vmmk__os_list: /types takes limit= but, depending on
     * the release, answers without a next link, which would cut the list
     * at one page.  There are few types. */
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_VOLUME, "GET", "/types", what);
    vmmk__os_reply r;
    int rc = vmmk__os_do(c, &call, &r);
    json_object *a = NULL;
    if (rc == 0 && (!r.body || !json_object_object_get_ex(r.body, "volume_types", &a) ||
                    !json_object_is_type(a, json_type_array)))
        rc = vmmk__err(VMMK_EREMOTE, "%s: the answer has no \"volume_types\" list (request id %s)",
                       what, r.request_id ? r.request_id : "none");
    vmmk_cloud_volume_type_list *l = rc ? NULL : calloc(1, sizeof *l);
    size_t n = a ? json_object_array_length(a) : 0;
    if (rc == 0 && (!l || (n && !(l->items = calloc(n, sizeof *l->items)))))
        rc = vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        json_object *t = json_object_array_get_idx(a, i);
        const char *id = vmmk__jstr(t, "id");
        if (!id)
            continue;
        vmmk_cloud_volume_type *vt = &l->items[l->n++];
        vt->id = strdup(id);
        vt->name = vmmk__jdup(t, "name");
        vt->description = vmmk__jdup(t, "description");
        vt->is_public = vmmk__jbool(t, "is_public",
                                    vmmk__jbool(t, "os-volume-type-access:is_public", true));
        if (!vt->id || (vmmk__jstr(t, "name") && !vt->name) ||
            (vmmk__jstr(t, "description") && !vt->description))
            rc = vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    }
    vmmk__os_reply_clear(&r);
    if (rc) {
        vmmk_cloud_volume_type_list_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

/* ---- snapshots ---------------------------------------------------------- */

void vmmk_cloud_snapshot_free(vmmk_cloud_snapshot *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->name);
    free(s->volume_id);
    free(s->status);
    free(s->raw_json);
    free(s);
}

static int parse_snapshot(vmmk_cloud_snapshot **out, json_object *o)
{
    *out = NULL;
    const char *id = vmmk__jstr(o, "id");
    if (!id || !*id)
        return vmmk__err(VMMK_EREMOTE, "Cinder snapshot: not an object with an \"id\" string");
    vmmk_cloud_snapshot *s = calloc(1, sizeof *s);
    if (!s)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    int64_t size = vmmk__jint(o, "size", 0);
    s->size_gib = size > 0 ? (uint64_t)size : 0;
    s->id = strdup(id);
    s->name = vmmk__jdup(o, "name");
    s->volume_id = vmmk__jdup(o, "volume_id");
    s->status = vmmk__jdup(o, "status");
    s->raw_json = vmmk__jraw(o);
    if (!s->id || !s->raw_json || (vmmk__jstr(o, "name") && !s->name) ||
        (vmmk__jstr(o, "volume_id") && !s->volume_id) || (vmmk__jstr(o, "status") && !s->status)) {
        vmmk_cloud_snapshot_free(s);
        return vmmk__err(VMMK_ENOMEM, "out of memory reading snapshot %s", id);
    }
    *out = s;
    return 0;
}

static const vmmk__os_lookup snapshots = { .svc = VMMK__SVC_VOLUME, .kind = "snapshot",
                                           .plural = "snapshots", .base = "/snapshots",
                                           .item_key = "snapshot", .list_key = "snapshots" };

/* A snapshot object that a call returned -> struct (the reference taken). */
static int snapshot_from(vmmk_cloud_snapshot **out, json_object *o, const char *what)
{
    int rc = parse_snapshot(out, o);
    json_object_put(o);
    return rc ? vmmk__err_prefix("%s", what) : 0;
}

/* An "error..." status ends a wait, with Cinder's reason. */
static int snapshot_judge(vmmk__os_wait *w, json_object *item, const char *status, bool *done,
                          char *state, size_t state_size)
{
    (void)item, (void)done, (void)state, (void)state_size;
    if (strncmp(status, "error", 5) != 0)
        return 0;
    char *why = vmmk__os_cinder_message(w->c, w->id);
    int rc = vmmk__err_full(VMMK_EREMOTE, status, NULL, 0, 0,
                            "%s: snapshot %s is in status %s%s%s%s", w->what, w->id, status,
                            why ? ": " : "", why ? why : "",
                            w->want ? "" : "; Cinder could not delete it");
    free(why);
    return rc;
}

int vmmk_cloud_snapshot_create(vmmk_cloud_snapshot **out, vmmk_cloud *c, const char *volume_id,
                               const char *name, bool force, bool wait)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_snapshot_create: out is NULL");
    *out = NULL;
    if (!c || !volume_id || !*volume_id)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_snapshot_create: %s",
                         !c ? "handle is NULL" : "volume id is empty");
    char *what = name ? vmmk__asprintf("snapshot volume %s as \"%s\"", volume_id, name)
                      : vmmk__asprintf("snapshot volume %s", volume_id);
    json_object *body = json_object_new_object(), *s = json_object_new_object();
    if (!what || !body || !s) {
        free(what);
        json_object_put(body);
        json_object_put(s);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    json_object_object_add(body, "snapshot", s);
    vmmk__json_add_string(s, "volume_id", volume_id);
    if (name)
        vmmk__json_add_string(s, "name", name);
    /* force: snapshot an in-use volume (crash consistent). */
    json_object_object_add(s, "force", json_object_new_boolean(force));
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_VOLUME, "POST", "/snapshots", what);
    call.body = body;
    json_object *o;
    int rc = vmmk__os_do_item(&o, c, &call, "snapshot", "snapshot");
    json_object_put(body);
    if (rc == 0 && wait) {
        vmmk__os_wait w = { .c = c, .res = &snapshots, .id = vmmk__jstr(o, "id"), .what = what,
                            .want = "available", .judge = snapshot_judge };
        rc = vmmk__os_wait_status(&w, DEFAULT_TIMEOUT_S);
        json_object_put(o);
        o = w.last;
        if (rc)
            vmmk__os_err_recode(0, NULL, "; the snapshot is left in place for inspection");
    }
    if (rc == 0)
        rc = snapshot_from(out, o, what);
    else
        json_object_put(o);
    free(what);
    return rc;
}

int vmmk_cloud_snapshot_get(vmmk_cloud_snapshot **out, vmmk_cloud *c, const char *id)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_snapshot_get: out is NULL");
    *out = NULL;
    if (!c || !id || !*id)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_snapshot_get: %s",
                         !c ? "handle is NULL" : "snapshot id is empty");
    char what[200];
    snprintf(what, sizeof what, "get snapshot %s", id);
    json_object *o;
    int rc = vmmk__os_get_id(&o, c, &snapshots, id, false, what);
    return rc ? rc : snapshot_from(out, o, what);
}

int vmmk_cloud_snapshot_delete(vmmk_cloud *c, const char *id, bool wait)
{
    if (!c || !id || !*id)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_snapshot_delete: %s",
                         !c ? "handle is NULL" : "snapshot id is empty");
    char *what = vmmk__asprintf("delete snapshot %s", id);
    if (!what)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    char *st;
    int rc = vmmk__os_cinder_delete(&st, c, &snapshots, id, wait, snapshot_judge, what);
    free(st);
    free(what);
    return rc;
}

/* ---- revert ------------------------------------------------------------- */

int vmmk_cloud_volume_revert(vmmk_cloud *c, const char *volume_id, const char *snapshot_id,
                             unsigned timeout_s)
{
    if (!c || !volume_id || !*volume_id || !snapshot_id || !*snapshot_id)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_revert: %s",
                         !c ? "handle is NULL"
                            : !volume_id || !*volume_id ? "volume id is empty"
                                                        : "snapshot id is empty");
    char what[300];
    snprintf(what, sizeof what, "revert volume %s to snapshot %s", volume_id, snapshot_id);
    if (!vmmk__os_mv_at_least(c, VMMK__SVC_VOLUME, 3, 40)) {
        pthread_mutex_lock(&c->lock);
        vmmk__os_version mv = c->mv[VMMK__SVC_VOLUME];
        pthread_mutex_unlock(&c->lock);
        if (!mv.negotiated)   /* could not even ask: that error stands */
            return vmmk__err_prefix("%s", what);
        return vmmk__err(VMMK_EUNSUPPORTED,
                         "%s: needs block-storage microversion 3.40; the service offers %d.%d",
                         what, mv.max_major, mv.max_minor);
    }
    int rc = vmmk__os_send(c, VMMK__SVC_VOLUME, "POST", "/volumes", volume_id, "/action",
                           vmmk__jwrap("revert", vmmk__jpair("snapshot_id", snapshot_id)), what);
    if (rc == 0 && (rc = vmmk_cloud_volume_wait(NULL, c, volume_id, "available",
                                                timeout_s ? timeout_s : DEFAULT_TIMEOUT_S)) != 0)
        vmmk__err_prefix("%s", what);
    return rc;
}
