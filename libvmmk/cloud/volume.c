/* Cinder v3 volumes (vmmk/cloud.h, "Block storage v3"): create with the
 * metadata, image metadata and bootable flag a migrated disk needs,
 * lookups by id or unique name, filtered paginated lists, waits and
 * deletion.  Metadata, actions and manage are in volume_action.c;
 * snapshots, volume types and revert in volume_snapshot.c.
 *
 * Cinder reports what went wrong in an asynchronous step (scheduling,
 * the backend) only as a status ("error") on the volume and, since
 * microversion 3.3, as a "user message" (GET /messages): errors here
 * carry that message, because a bare "status error" tells nobody what
 * to fix. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "cloud_int.h"

#define DEFAULT_TIMEOUT_S 600

/* ---- errors ----------------------------------------------------------- */

int vmmk__os_err_save(vmmk__os_err_saved *s)
{
    const vmmk_error *e = vmmk_error_last();
    s->code = e->code;
    s->http_status = e->http_status;
    s->message = vmmk__strdup(e->message);
    s->fault = vmmk__strdup(e->fault);
    s->detail = vmmk__strdup(e->detail);
    return s->code;
}

void vmmk__os_err_forget(vmmk__os_err_saved *s)
{
    free(s->message);
    free(s->fault);
    free(s->detail);
    memset(s, 0, sizeof *s);
}

int vmmk__os_err_restore(vmmk__os_err_saved *s, int code, const char *suffix)
{
    int rc = vmmk__err_full(code ? code : s->code, s->fault, s->detail, s->http_status, 0, "%s%s",
                            s->message ? s->message : "", suffix ? suffix : "");
    vmmk__os_err_forget(s);
    return rc;
}

int vmmk__os_err_recode(int code, const char *prefix, const char *suffix)
{
    vmmk__os_err_saved s;
    vmmk__os_err_save(&s);
    char *msg = prefix ? vmmk__asprintf("%s: %s", prefix, s.message ? s.message : "") : NULL;
    if (msg) {
        free(s.message);
        s.message = msg;
    }
    return vmmk__os_err_restore(&s, code, suffix);
}

char *vmmk__os_cinder_message(vmmk_cloud *c, const char *resource_id)
{
    if (!vmmk__os_mv_at_least(c, VMMK__SVC_VOLUME, 3, 3))
        return NULL;
    char *esc = vmmk__os_escape(resource_id);
    char *path = esc ? vmmk__asprintf("/messages?resource_uuid=%s", esc) : NULL;
    free(esc);
    if (!path)
        return NULL;
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_VOLUME, "GET", path, "read Cinder's messages");
    vmmk__os_reply r;
    char *out = NULL;
    json_object *msgs;
    if (vmmk__os_do(c, &call, &r) == 0 && r.body &&
        json_object_object_get_ex(r.body, "messages", &msgs) &&
        json_object_is_type(msgs, json_type_array)) {
        /* The newest one: it is about the step that failed last. */
        const char *best = NULL, *best_at = "";
        for (size_t i = 0; i < json_object_array_length(msgs); i++) {
            json_object *m = json_object_array_get_idx(msgs, i);
            const char *text = vmmk__jstr(m, "user_message");
            const char *at = vmmk__jstr(m, "created_at");
            if (text && *text && (!best || (at && strcmp(at, best_at) > 0))) {
                best = text;
                best_at = at ? at : "";
            }
        }
        out = vmmk__strdup(best);
    }
    vmmk__os_reply_clear(&r);
    free(path);
    vmmk_error_clear();   /* only a hint: its own failure is not the caller's error */
    return out;
}

/* ---- parsing ---------------------------------------------------------- */

static void volume_clear(vmmk_cloud_volume *v)
{
    free(v->id);
    free(v->name);
    free(v->status);
    free(v->volume_type);
    free(v->availability_zone);
    vmmk_properties_free(v->metadata);
    vmmk_properties_free(v->image_metadata);
    for (size_t i = 0; i < v->n_attachments; i++) {
        free(v->attachments[i].server_id);
        free(v->attachments[i].attachment_id);
        free(v->attachments[i].device);
    }
    free(v->attachments);
    free(v->raw_json);
    memset(v, 0, sizeof *v);
}

void vmmk_cloud_volume_free(vmmk_cloud_volume *v)
{
    if (!v)
        return;
    volume_clear(v);
    free(v);
}

void vmmk_cloud_volume_list_free(vmmk_cloud_volume_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        volume_clear(&l->items[i]);
    free(l->items);
    free(l);
}

/* *dst = copy of string member @p key (NULL when absent); false when out of memory. */
static bool take(char **dst, json_object *o, const char *key)
{
    const char *s = vmmk__jstr(o, key);
    *dst = s ? strdup(s) : NULL;
    return !s || *dst;
}

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

static int parse_attachments(vmmk_cloud_volume *v, json_object *a)
{
    if (!a || !json_object_is_type(a, json_type_array) || !json_object_array_length(a))
        return 0;
    size_t n = json_object_array_length(a);
    if (!(v->attachments = calloc(n, sizeof *v->attachments)))
        return VMMK_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        if (!e || !json_object_is_type(e, json_type_object))
            continue;
        vmmk_cloud_attachment *t = &v->attachments[v->n_attachments++];
        if (!take(&t->server_id, e, "server_id") || !take(&t->attachment_id, e, "attachment_id") ||
            !take(&t->device, e, "device"))
            return VMMK_ENOMEM;
    }
    return 0;
}

/* Fill @p v from a volume object (or a {"volume": {...}} wrapper). */
static int parse_into(vmmk_cloud_volume *v, json_object *o)
{
    memset(v, 0, sizeof *v);
    json_object *inner = o && json_object_is_type(o, json_type_object) ? member(o, "volume") : NULL;
    if (inner && json_object_is_type(inner, json_type_object))
        o = inner;
    if (!o || !json_object_is_type(o, json_type_object))
        return vmmk__err(VMMK_EREMOTE, "Cinder volume: expected a JSON object, got %s",
                         vmmk__json_type_name(o));
    const char *id = vmmk__jstr(o, "id");
    if (!id || !*id)
        return vmmk__err(VMMK_EREMOTE, "Cinder volume: no \"id\" string");
    int64_t size = vmmk__jint(o, "size", 0);
    v->size_gib = size > 0 ? (uint64_t)size : 0;
    v->bootable = vmmk__jbool(o, "bootable", false);
    int rc = 0;
    if (!take(&v->id, o, "id") || !take(&v->name, o, "name") || !take(&v->status, o, "status") ||
        !take(&v->volume_type, o, "volume_type") ||
        !take(&v->availability_zone, o, "availability_zone") ||
        parse_attachments(v, member(o, "attachments")) || !(v->raw_json = vmmk__jraw(o)))
        rc = vmmk__err(VMMK_ENOMEM, "out of memory reading volume %s", id);
    else if ((rc = vmmk__jprops(&v->metadata, member(o, "metadata"))) == 0)
        rc = vmmk__jprops(&v->image_metadata, member(o, "volume_image_metadata"));
    if (rc)
        volume_clear(v);
    return rc;
}

int vmmk__os_parse_volume(vmmk_cloud_volume **out, json_object *o)
{
    *out = NULL;
    vmmk_cloud_volume *v = calloc(1, sizeof *v);
    if (!v)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    int rc = parse_into(v, o);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int vmmk_cloud_volume_to_json(char **out, const vmmk_cloud_volume *v, unsigned flags)
{
    if (!out || !v)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_to_json: NULL argument");
    *out = NULL;
    json_object *o = json_object_new_object(), *a = json_object_new_array();
    if (!o || !a) {
        json_object_put(o);
        json_object_put(a);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    vmmk__json_add_string(o, "id", v->id);
    vmmk__json_add_string(o, "name", v->name);
    vmmk__json_add_string(o, "status", v->status);
    json_object_object_add(o, "size_gib", json_object_new_int64((int64_t)v->size_gib));
    vmmk__json_add_string(o, "volume_type", v->volume_type);
    vmmk__json_add_string(o, "availability_zone", v->availability_zone);
    json_object_object_add(o, "bootable", json_object_new_boolean(v->bootable));
    json_object_object_add(o, "metadata", vmmk__props_to_json(v->metadata));
    json_object_object_add(o, "image_metadata", vmmk__props_to_json(v->image_metadata));
    for (size_t i = 0; i < v->n_attachments; i++) {
        json_object *t = json_object_new_object();
        vmmk__json_add_string(t, "server_id", v->attachments[i].server_id);
        vmmk__json_add_string(t, "attachment_id", v->attachments[i].attachment_id);
        vmmk__json_add_string(t, "device", v->attachments[i].device);
        json_object_array_add(a, t);
    }
    json_object_object_add(o, "attachments", a);
    *out = vmmk__json_dump(o, flags);
    json_object_put(o);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
}

/* ---- calls -------------------------------------------------------------- */

const vmmk__os_lookup vmmk__os_volumes = {
    .svc = VMMK__SVC_VOLUME, .kind = "volume", .plural = "volumes", .base = "/volumes",
    .item_key = "volume", .list_key = "volumes", .list_path = "/volumes/detail",
};

/* A volume object that a call returned -> struct (the reference taken). */
static int volume_from(vmmk_cloud_volume **out, json_object *o, const char *what)
{
    int rc = vmmk__os_parse_volume(out, o);
    json_object_put(o);
    return rc ? vmmk__err_prefix("%s", what) : 0;
}

int vmmk__os_volume_check(vmmk_cloud *c, const char *id, const char *fn)
{
    if (!c || !id || !*id)
        return vmmk__err(VMMK_EINVAL, "%s: %s", fn, !c ? "handle is NULL" : "volume id is empty");
    return 0;
}

/* ---- list and lookup ---------------------------------------------------- */

typedef struct list_ctx {
    vmmk_cloud_volume_list *l;
    size_t cap;
    const char *name;
    const vmmk_properties *md;
    const char *what;
} list_ctx;

static bool matches(const vmmk_cloud_volume *v, const char *name, const vmmk_properties *md)
{
    if (name && (!v->name || strcmp(v->name, name) != 0))
        return false;
    for (size_t i = 0; md && i < md->n; i++) {
        const char *have = vmmk_properties_get(v->metadata, md->keys[i]);
        if (!have || strcmp(have, md->values[i]) != 0)
            return false;
    }
    return true;
}

static int list_item(void *payload, json_object *item)
{
    list_ctx *x = payload;
    vmmk_cloud_volume v;
    int rc = parse_into(&v, item);
    if (rc)
        return vmmk__err_prefix("%s", x->what);
    /* Cinder filters too, but older releases ignore filters they do not
     * know instead of refusing them: the exact match is decided here. */
    if (!matches(&v, x->name, x->md)) {
        volume_clear(&v);
        return 0;
    }
    if (x->l->n == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 16;
        vmmk_cloud_volume *n = realloc(x->l->items, cap * sizeof *n);
        if (!n) {
            volume_clear(&v);
            return vmmk__err(VMMK_ENOMEM, "out of memory listing volumes");
        }
        x->l->items = n;
        x->cap = cap;
    }
    x->l->items[x->l->n++] = v;
    return 0;
}

int vmmk_cloud_volume_list_get(vmmk_cloud_volume_list **out, vmmk_cloud *c, const char *name,
                           const vmmk_properties *metadata)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_list_get: out is NULL");
    *out = NULL;
    if (!c)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_list_get: handle is NULL");
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "/volumes/detail");
    char sep = '?';
    if (name) {
        char *esc = vmmk__os_escape(name);
        vmmk__buf_printf(&b, "%cname=%s", sep, esc ? esc : "");
        free(esc);
        sep = '&';
    }
    if (metadata && metadata->n) {
        /* metadata={"k": "v"}: Cinder reads it as a Python literal. */
        json_object *m = vmmk__props_to_json(metadata);
        char *js = m ? vmmk__json_dump(m, 0) : NULL;
        char *esc = js ? vmmk__os_escape(js) : NULL;
        if (esc)
            vmmk__buf_printf(&b, "%cmetadata=%s", sep, esc);
        else
            b.failed = 1;
        json_object_put(m);
        free(js);
        free(esc);
    }
    char *path = vmmk__buf_take(&b);
    char *what = name ? vmmk__asprintf("list volumes named \"%s\"", name)
                      : vmmk__asprintf("list volumes");
    vmmk_cloud_volume_list *l = calloc(1, sizeof *l);
    int rc;
    if (!path || !what || !l) {
        rc = vmmk__err(VMMK_ENOMEM, "out of memory listing volumes");
    } else {
        list_ctx x = { l, 0, name, metadata, what };
        rc = vmmk__os_list(c, VMMK__SVC_VOLUME, path, "volumes", what, list_item, &x);
    }
    free(path);
    free(what);
    if (rc) {
        vmmk_cloud_volume_list_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int vmmk_cloud_volume_get(vmmk_cloud_volume **out, vmmk_cloud *c, const char *id_or_name)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_get: out is NULL");
    *out = NULL;
    int rc = vmmk__os_volume_check(c, id_or_name, "vmmk_cloud_volume_get");
    if (rc)
        return rc;
    char what[400];
    snprintf(what, sizeof what, "get volume \"%s\"", id_or_name);
    json_object *o;
    rc = vmmk__os_find(&o, c, &vmmk__os_volumes, id_or_name);
    return rc ? rc : volume_from(out, o, what);
}

/* ---- wait --------------------------------------------------------------- */

/* The backend failed a deletion (error_deleting): only an admin's
 * os-force_delete or a fix on the backend gets the volume out of it. */
static int delete_failed(vmmk_cloud *c, const char *id, const char *what, const char *status)
{
    char *why = vmmk__os_cinder_message(c, id);
    int rc = vmmk__err_full(VMMK_EREMOTE, status, NULL, 0, 0,
                            "%s: Cinder could not delete it (status %s)%s%s", what, status,
                            why ? ": " : "", why ? why : "");
    free(why);
    return rc;
}

/* An "error..." status ends a wait, with Cinder's reason. */
static int volume_judge(vmmk__os_wait *w, json_object *item, const char *status, bool *done,
                        char *state, size_t state_size)
{
    (void)done, (void)state, (void)state_size;
    if (strncmp(status, "error", 5) != 0)
        return 0;
    if (!w->want)
        return delete_failed(w->c, w->id, w->what, status);
    const char *name = vmmk__jstr(item, "name");
    char *why = vmmk__os_cinder_message(w->c, w->id);
    int rc = vmmk__err_full(VMMK_EREMOTE, status, NULL, 0, 0,
                            "%s: volume %s%s%s%s is in status %s%s%s", w->what, w->id,
                            name ? " (\"" : "", name ? name : "", name ? "\")" : "", status,
                            why ? ": " : "", why ? why : "");
    free(why);
    return rc;
}

int vmmk_cloud_volume_wait(vmmk_cloud_volume **out, vmmk_cloud *c, const char *id,
                           const char *status, unsigned timeout_s)
{
    if (out)
        *out = NULL;
    int rc = vmmk__os_volume_check(c, id, "vmmk_cloud_volume_wait");
    if (rc)
        return rc;
    if (!status || !*status)
        return vmmk__err(VMMK_EINVAL, "wait for volume %s: no status given", id);
    char *what = vmmk__asprintf("wait for volume %s to become %s", id, status);
    if (!what)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    vmmk__os_wait w = { .c = c, .res = &vmmk__os_volumes, .id = id, .what = what,
                        .want = status, .judge = volume_judge };
    rc = vmmk__os_wait_status(&w, timeout_s ? timeout_s : DEFAULT_TIMEOUT_S);
    if (rc == 0 && out)
        rc = volume_from(out, json_object_get(w.last), what);
    json_object_put(w.last);
    free(what);
    return rc;
}

/* ---- create ------------------------------------------------------------- */

static json_object *create_body(const vmmk_cloud_volume_spec *s)
{
    json_object *root = json_object_new_object(), *v = json_object_new_object();
    if (!root || !v) {
        json_object_put(root);
        json_object_put(v);
        return NULL;
    }
    json_object_object_add(root, "volume", v);
    int bad = vmmk__json_add_string(v, "name", s->name);
    bad |= json_object_object_add(v, "size", json_object_new_int64((int64_t)s->size_gib));
    if (s->volume_type)
        bad |= vmmk__json_add_string(v, "volume_type", s->volume_type);
    if (s->availability_zone)
        bad |= vmmk__json_add_string(v, "availability_zone", s->availability_zone);
    if (s->description)
        bad |= vmmk__json_add_string(v, "description", s->description);
    if (s->metadata && s->metadata->n) {
        json_object *m = vmmk__props_to_json(s->metadata);
        bad |= !m || json_object_object_add(v, "metadata", m);
    }
    if (bad) {
        json_object_put(root);
        return NULL;
    }
    return root;
}

int vmmk_cloud_volume_create(vmmk_cloud_volume **out, vmmk_cloud *c,
                             const vmmk_cloud_volume_spec *spec)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_create: out is NULL");
    *out = NULL;
    if (!c || !spec)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_create: %s is NULL",
                         !c ? "handle" : "spec");
    if (spec->version < 1 || spec->version > VMMK_CLOUD_VOLUME_CREATE_VERSION)
        return vmmk__err(VMMK_EINVAL, "create volume: spec version %u not supported (1..%u)",
                         spec->version, VMMK_CLOUD_VOLUME_CREATE_VERSION);
    if (!spec->name || !*spec->name)
        return vmmk__err(VMMK_EINVAL, "create volume: name is missing");
    if (spec->size_gib < 1)
        return vmmk__err(VMMK_EINVAL, "create volume \"%s\": size_gib must be at least 1",
                         spec->name);
    if (spec->size_gib > INT32_MAX)
        return vmmk__err(VMMK_EINVAL, "create volume \"%s\": size_gib %llu is too large",
                         spec->name, (unsigned long long)spec->size_gib);
    char *what = vmmk__asprintf("create volume \"%s\"", spec->name);
    json_object *body = create_body(spec);
    if (!what || !body) {
        free(what);
        json_object_put(body);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_VOLUME, "POST", "/volumes", what);
    call.body = body;
    json_object *o;
    int rc = vmmk__os_do_item(&o, c, &call, "volume", "volume");
    json_object_put(body);
    vmmk_cloud_volume *v = NULL;
    if (rc == 0)
        rc = volume_from(&v, o, what);
    if (rc) {
        free(what);
        return rc;
    }
    vmmk__log(VMMK_LOG_INFO, "%s: volume %s accepted", what, v->id);
    bool image_md = spec->image_metadata && spec->image_metadata->n;
    if (!spec->wait && !image_md && !spec->bootable) {
        free(what);
        *out = v;
        return 0;
    }
    vmmk_cloud_volume *done = NULL;
    rc = vmmk_cloud_volume_wait(&done, c, v->id, "available", spec->timeout);
    if (rc) {
        /* An errored volume stays for inspection; one still creating
         * cannot be deleted yet anyway. */
        vmmk__os_err_recode(0, what, "; the volume is left in place for inspection");
        goto out;
    }
    if (image_md && (rc = vmmk_cloud_volume_set_image_metadata(c, v->id, spec->image_metadata)))
        goto undo;
    if (spec->bootable && (rc = vmmk_cloud_volume_set_bootable(c, v->id, true)))
        goto undo;
    if (!image_md && !spec->bootable) {
        *out = done;
        done = NULL;
    } else if ((rc = vmmk_cloud_volume_get(out, c, v->id)) != 0) {
        vmmk__err_prefix("%s", what);
    }
    goto out;
undo: {
    /* Half made (no image metadata, not bootable): not what was asked for,
     * and a caller that gets an error has no id to clean it up with. */
    vmmk__os_err_saved s;
    vmmk__os_err_save(&s);
    char *suffix = vmmk_cloud_volume_delete(c, v->id, false) == 0
                       ? vmmk__asprintf("; volume %s was deleted again", v->id)
                       : vmmk__asprintf("; volume %s is left in place (deleting it failed: %s)",
                                        v->id, vmmk_error_last()->message);
    vmmk__os_err_restore(&s, 0, suffix);
    free(suffix);
    vmmk__err_prefix("%s", what);
}
out:
    vmmk_cloud_volume_free(done);
    vmmk_cloud_volume_free(v);
    free(what);
    return rc;
}

/* ---- delete ------------------------------------------------------------- */

int vmmk__os_cinder_delete(char **refused_status, vmmk_cloud *c, const vmmk__os_lookup *res,
                           const char *id, bool wait, vmmk__os_judge_fn judge, const char *what)
{
    *refused_status = NULL;
    vmmk__os_call call = VMMK__OS_CALL(res->svc, "DELETE", res->base, what);
    call.id = id;
    call.not_found_ok = true;
    vmmk__os_reply r;
    int rc = vmmk__os_do(c, &call, &r);
    bool gone = rc == 0 && r.status == 404;
    vmmk__os_reply_clear(&r);
    if (rc == VMMK_EINVAL || rc == VMMK_ECONFLICT) {
        /* Cinder refuses one in the wrong state with 400: one being
         * deleted already is fine; others are a state problem, said so. */
        vmmk__os_err_saved s;
        vmmk__os_err_save(&s);
        json_object *o = NULL;
        const char *st = NULL;
        if (vmmk__os_get_id(&o, c, res, id, true, what) == 0 &&
            (!o || ((st = vmmk__jstr(o, "status")) && strcmp(st, "deleting") == 0))) {
            gone = !o;
            rc = 0;
            vmmk__os_err_forget(&s);
            vmmk_error_clear();
        } else {
            char *suffix = st ? vmmk__asprintf(" (the %s is in status %s)", res->kind, st) : NULL;
            rc = vmmk__os_err_restore(&s, st ? VMMK_ESTATE : 0, suffix);
            free(suffix);
            *refused_status = vmmk__strdup(st);
        }
        json_object_put(o);
    }
    if (rc == 0 && !gone && wait) {
        vmmk__os_wait w = { .c = c, .res = res, .id = id, .what = what, .until_gone = true,
                            .judge = judge };
        rc = vmmk__os_wait_status(&w, DEFAULT_TIMEOUT_S);
        json_object_put(w.last);
    }
    return rc;
}

int vmmk_cloud_volume_delete(vmmk_cloud *c, const char *id, bool wait)
{
    int rc = vmmk__os_volume_check(c, id, "vmmk_cloud_volume_delete");
    if (rc)
        return rc;
    char *what = vmmk__asprintf("delete volume %s", id);
    if (!what)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    char *st;
    rc = vmmk__os_cinder_delete(&st, c, &vmmk__os_volumes, id, wait, volume_judge, what);
    if (rc && st && strcmp(st, "error_deleting") == 0)
        rc = delete_failed(c, id, what, st);
    free(st);
    free(what);
    return rc;
}
