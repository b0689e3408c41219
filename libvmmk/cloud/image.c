/* Glance (image API v2): image records, their properties, and waiting
 * for a status.  Uploading the data is image_upload.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "cloud_int.h"

#define DEFAULT_WAIT_S 600

/* Attributes of the image schema itself; every other member is a
 * property (hw_*, os_*, user-defined). */
static const char *const core_attrs[] = {
    "id",        "name",          "status",        "visibility",   "protected",
    "os_hidden", "checksum",      "os_hash_algo",  "os_hash_value", "size",
    "virtual_size", "disk_format", "container_format", "min_disk", "min_ram",
    "owner",     "created_at",    "updated_at",    "tags",         "file",
    "schema",    "self",          "direct_url",    "locations",    "stores",
};

static bool is_core(const char *key)
{
    for (size_t i = 0; i < sizeof core_attrs / sizeof *core_attrs; i++)
        if (strcmp(key, core_attrs[i]) == 0)
            return true;
    return false;
}

int vmmk__os_image_check_id(vmmk_cloud *c, const char *id, const char *op)
{
    if (!c)
        return vmmk__err(VMMK_EINVAL, "%s: the cloud handle is NULL", op);
    if (!id || !*id)
        return vmmk__err(VMMK_EINVAL, "%s: no image id given", op);
    return 0;
}

char *vmmk__os_image_path(const char *id, const char *suffix)
{
    char *esc = vmmk__os_escape(id);
    char *p = esc ? vmmk__asprintf("/v2/images/%s%s", esc, suffix ? suffix : "") : NULL;
    free(esc);
    return p;
}

static const vmmk__os_lookup images = { .svc = VMMK__SVC_IMAGE, .kind = "image",
                                        .plural = "images", .base = "/v2/images",
                                        .list_key = "images" };

/* ---- the image struct -------------------------------------------------- */

void vmmk_cloud_image_free(vmmk_cloud_image *i)
{
    if (!i)
        return;
    free(i->id);
    free(i->name);
    free(i->status);
    free(i->disk_format);
    free(i->container_format);
    free(i->checksum);
    vmmk_properties_free(i->properties);
    free(i->raw_json);
    free(i);
}

int vmmk_cloud_image_to_json(char **out, const vmmk_cloud_image *i, unsigned flags)
{
    if (!i) {
        if (out)
            *out = NULL;
        return vmmk__err(VMMK_EINVAL, "image to JSON: the image is NULL");
    }
    return vmmk__raw_to_json(out, i->raw_json, flags, "image");
}

int vmmk__os_parse_image(vmmk_cloud_image **out, json_object *o)
{
    *out = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !vmmk__jstr(o, "id"))
        return vmmk__err(VMMK_EREMOTE, "Glance sent an image that is not an object with an id");
    vmmk_cloud_image *i = calloc(1, sizeof *i);
    json_object *extra = json_object_new_object();
    if (!i || !extra) {
        free(i);
        json_object_put(extra);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    bool oom = false;
#define DUP(field, key)                          \
    do {                                         \
        i->field = vmmk__jdup(o, key);           \
        oom |= vmmk__jstr(o, key) && !i->field;  \
    } while (0)
    DUP(id, "id");
    DUP(name, "name");
    DUP(status, "status");
    DUP(disk_format, "disk_format");
    DUP(container_format, "container_format");
    DUP(checksum, "checksum");
#undef DUP
    int64_t size = vmmk__jint(o, "size", 0);   /* null until uploaded */
    i->size = size > 0 ? (uint64_t)size : 0;
    json_object_object_foreach(o, key, val)
    {
        if (!is_core(key) && json_object_object_add(extra, key, json_object_get(val)) != 0) {
            json_object_put(val);
            oom = true;
        }
    }
    int rc = vmmk__jprops(&i->properties, extra);
    json_object_put(extra);
    i->raw_json = vmmk__jraw(o);
    if (rc || oom || !i->raw_json) {
        vmmk_cloud_image_free(i);
        return rc ? rc : vmmk__err(VMMK_ENOMEM, "out of memory reading an image");
    }
    *out = i;
    return 0;
}

/* ---- records ----------------------------------------------------------- */

/* An image object that a call returned -> struct (the reference taken). */
static int image_from(vmmk_cloud_image **out, json_object *o, const char *what)
{
    int rc = vmmk__os_parse_image(out, o);
    json_object_put(o);
    return rc && what ? vmmk__err_prefix("%s", what) : rc;
}

int vmmk_cloud_image_create(vmmk_cloud_image **out, vmmk_cloud *c,
                            const vmmk_cloud_image_spec *spec)
{
    if (!out || !c || !spec)
        return vmmk__err(VMMK_EINVAL, "create image: %s is NULL",
                         !out ? "out" : !c ? "the handle" : "spec");
    *out = NULL;
    if (spec->version < 1 || spec->version > VMMK_CLOUD_IMAGE_CREATE_VERSION)
        return vmmk__err(VMMK_EINVAL, "create image: spec version %u not supported", spec->version);
    char what[400];
    snprintf(what, sizeof what, "create image \"%s\"", spec->name ? spec->name : "");
    if (spec->n_tags && !spec->tags)
        return vmmk__err(VMMK_EINVAL, "%s: tags is NULL with a count", what);
    if (spec->min_disk_gib > INT32_MAX || spec->min_ram_mib > INT32_MAX)
        return vmmk__err(VMMK_EINVAL, "%s: min_%s is too large", what,
                         spec->min_disk_gib > INT32_MAX ? "disk" : "ram");
    const vmmk_properties *p = spec->properties;
    for (size_t k = 0; p && k < p->n; k++)
        if (is_core(p->keys[k]))
            return vmmk__err(VMMK_EINVAL,
                             "%s: property \"%s\" is an image attribute, not a property; set it "
                             "with its own field",
                             what, p->keys[k]);
    json_object *body = json_object_new_object();
    bool fail = !body;
    if (!fail && spec->name)
        fail = vmmk__json_add_string(body, "name", spec->name);
    fail = fail || vmmk__json_add_string(body, "disk_format",
                                         spec->disk_format ? spec->disk_format : "raw");
    fail = fail || vmmk__json_add_string(body, "container_format",
                                         spec->container_format ? spec->container_format : "bare");
    fail = fail || vmmk__json_add_string(body, "visibility",
                                         spec->visibility ? spec->visibility : "private");
    fail = fail || json_object_object_add(body, "min_disk",
                                          json_object_new_int64((int64_t)spec->min_disk_gib));
    fail = fail || json_object_object_add(body, "min_ram",
                                          json_object_new_int64((int64_t)spec->min_ram_mib));
    if (!fail && spec->n_tags) {
        json_object *t = vmmk__strv_to_json(spec->tags, spec->n_tags);
        fail = !t || json_object_object_add(body, "tags", t);
        if (fail)
            json_object_put(t);
    }
    for (size_t k = 0; !fail && p && k < p->n; k++)
        fail = vmmk__json_add_string(body, p->keys[k], p->values[k]);
    if (fail) {
        json_object_put(body);
        return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    }
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_IMAGE, "POST", "/v2/images", what);
    call.body = body;
    json_object *o;
    int rc = vmmk__os_do_item(&o, c, &call, NULL, "image");
    json_object_put(body);
    return rc ? rc : image_from(out, o, what);
}

int vmmk_cloud_image_get(vmmk_cloud_image **out, vmmk_cloud *c, const char *id_or_name)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "get image: out is NULL");
    *out = NULL;
    json_object *o;
    int rc = vmmk__os_find(&o, c, &images, id_or_name);
    return rc ? rc : image_from(out, o, NULL);
}

/* "/a~b" -> "/a~0b": a JSON pointer to member @p key (new string). */
static char *json_pointer(const char *key)
{
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "/");
    for (const char *s = key; *s; s++) {
        if (*s == '~')
            vmmk__buf_puts(&b, "~0");
        else if (*s == '/')
            vmmk__buf_puts(&b, "~1");
        else
            vmmk__buf_append(&b, s, 1);
    }
    return vmmk__buf_take(&b);
}

int vmmk_cloud_image_set_properties(vmmk_cloud *c, const char *id, const vmmk_properties *props)
{
    int rc = vmmk__os_image_check_id(c, id, "set image properties");
    if (rc)
        return rc;
    if (!props || !props->n)
        return 0;
    char what[200];
    snprintf(what, sizeof what, "set properties of image %s", id);
    for (size_t k = 0; k < props->n; k++)
        if (is_core(props->keys[k]))
            return vmmk__err(VMMK_EINVAL,
                             "%s: \"%s\" is an image attribute, not a property", what,
                             props->keys[k]);
    json_object *ops = json_object_new_array();
    bool fail = !ops;
    for (size_t k = 0; !fail && k < props->n; k++) {
        json_object *op = json_object_new_object();
        if (!op || json_object_array_add(ops, op)) {
            json_object_put(op);
            fail = true;
            break;
        }
        char *ptr = json_pointer(props->keys[k]);
        /* Glance's "add" replaces a property that exists already. */
        fail = !ptr || vmmk__json_add_string(op, "op", "add") ||
               vmmk__json_add_string(op, "path", ptr) ||
               vmmk__json_add_string(op, "value", props->values[k]);
        free(ptr);
    }
    char *text = fail ? NULL : vmmk__json_dump(ops, 0);
    json_object_put(ops);
    if (!text)
        return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_IMAGE, "PATCH", "/v2/images", what);
    call.id = id;
    call.raw = text;
    call.raw_len = strlen(text);
    call.content_type = "application/openstack-images-v2.1-json-patch";
    call.retry = 1;   /* setting the same values again changes nothing */
    rc = vmmk__os_do(c, &call, NULL);
    free(text);
    return rc;
}

int vmmk_cloud_image_delete(vmmk_cloud *c, const char *id)
{
    int rc = vmmk__os_image_check_id(c, id, "delete image");
    if (rc)
        return rc;
    char what[200];
    snprintf(what, sizeof what, "delete image %s", id);
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_IMAGE, "DELETE", "/v2/images", what);
    call.id = id;
    call.not_found_ok = true;   /* already gone */
    return vmmk__os_do(c, &call, NULL);
}

/* ---- wait -------------------------------------------------------------- */

static int image_judge(vmmk__os_wait *w, json_object *item, const char *status, bool *done,
                       char *state, size_t state_size)
{
    (void)item, (void)done, (void)state, (void)state_size;
    if (strcmp(status, "killed") == 0)
        return vmmk__err(VMMK_EREMOTE,
                         "%s: the image is \"killed\": Glance failed to store its data (see the "
                         "glance-api log)",
                         w->what);
    if (strcmp(status, "deleted") == 0 || strcmp(status, "pending_delete") == 0)
        return vmmk__err(VMMK_EREMOTE, "%s: the image is \"%s\"", w->what, status);
    return 0;
}

int vmmk_cloud_image_wait(vmmk_cloud_image **out, vmmk_cloud *c, const char *id,
                          const char *status, unsigned timeout_s)
{
    if (out)
        *out = NULL;
    int rc = vmmk__os_image_check_id(c, id, "wait for image");
    if (rc)
        return rc;
    if (!status || !*status)
        return vmmk__err(VMMK_EINVAL, "wait for image %s: no status given", id);
    char what[256];
    snprintf(what, sizeof what, "wait for image %s to be \"%s\"", id, status);
    vmmk__os_wait w = { .c = c, .res = &images, .id = id, .what = what, .want = status,
                        .nocase = true, .judge = image_judge };
    rc = vmmk__os_wait_status(&w, timeout_s ? timeout_s : DEFAULT_WAIT_S);
    if (rc == 0 && out)
        return image_from(out, w.last, what);
    json_object_put(w.last);
    return rc;
}
