/* Cinder v3 volume metadata and actions (vmmk/cloud.h, "Block storage
 * v3"): metadata set/get/delete, os-set_bootable, os-set_image_metadata,
 * and bringing an existing backend volume under Cinder (os-volume-manage).
 * The volume resource itself is in volume.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "cloud_int.h"

#define DEFAULT_TIMEOUT_S 600

/* ---- metadata and actions ---------------------------------------------- */

int vmmk_cloud_volume_metadata_set(vmmk_cloud *c, const char *id, const vmmk_properties *metadata)
{
    int rc = vmmk__os_volume_check(c, id, "vmmk_cloud_volume_metadata_set");
    if (rc)
        return rc;
    char what[200];
    snprintf(what, sizeof what, "set metadata of volume %s", id);
    /* POST merges; PUT would replace all of it. */
    return vmmk__os_send(c, VMMK__SVC_VOLUME, "POST", "/volumes", id, "/metadata",
                         vmmk__jwrap("metadata", vmmk__props_to_json(metadata)), what);
}

int vmmk_cloud_volume_metadata_get(vmmk_properties **out, vmmk_cloud *c, const char *id)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_metadata_get: out is NULL");
    *out = NULL;
    int rc = vmmk__os_volume_check(c, id, "vmmk_cloud_volume_metadata_get");
    if (rc)
        return rc;
    char what[200];
    snprintf(what, sizeof what, "get metadata of volume %s", id);
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_VOLUME, "GET", "/volumes", what);
    call.id = id;
    call.suffix = "/metadata";
    vmmk__os_reply r;
    rc = vmmk__os_do(c, &call, &r);
    json_object *m = NULL;
    if (rc == 0) {
        if (!r.body || !json_object_object_get_ex(r.body, "metadata", &m) ||
            !json_object_is_type(m, json_type_object))
            rc = vmmk__err(VMMK_EREMOTE, "%s: the answer has no \"metadata\" object (request id %s)",
                           what, r.request_id ? r.request_id : "none");
        else
            rc = vmmk__jprops(out, m);
    }
    vmmk__os_reply_clear(&r);
    return rc;
}

int vmmk_cloud_volume_metadata_delete(vmmk_cloud *c, const char *id, const char *key)
{
    int rc = vmmk__os_volume_check(c, id, "vmmk_cloud_volume_metadata_delete");
    if (rc)
        return rc;
    if (!key || !*key)
        return vmmk__err(VMMK_EINVAL, "delete metadata of volume %s: key is empty", id);
    char *what = vmmk__asprintf("delete metadata key \"%s\" of volume %s", key, id);
    char *esc = vmmk__os_escape(key);
    char *suffix = esc ? vmmk__asprintf("/metadata/%s", esc) : NULL;
    free(esc);
    if (!what || !suffix) {
        free(what);
        free(suffix);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_VOLUME, "DELETE", "/volumes", what);
    call.id = id;
    call.suffix = suffix;
    call.not_found_ok = true;
    vmmk__os_reply r;
    rc = vmmk__os_do(c, &call, &r);
    if (rc == 0 && r.status == 404) {
        /* Cinder answers 404 for a missing key and for a missing volume:
         * only the first is "already done". */
        vmmk_cloud_volume *v = NULL;
        rc = vmmk_cloud_volume_get(&v, c, id);
        if (rc == VMMK_ENOTFOUND)
            rc = vmmk__err_full(VMMK_ENOTFOUND, NULL, r.request_id, 404, 0,
                                "%s: no such volume", what);
        else if (rc)
            vmmk__err_prefix("%s", what);
        vmmk_cloud_volume_free(v);
    }
    vmmk__os_reply_clear(&r);
    free(suffix);
    free(what);
    return rc;
}

int vmmk_cloud_volume_set_bootable(vmmk_cloud *c, const char *id, bool bootable)
{
    int rc = vmmk__os_volume_check(c, id, "vmmk_cloud_volume_set_bootable");
    if (rc)
        return rc;
    char what[200];
    snprintf(what, sizeof what, "set volume %s %sbootable", id, bootable ? "" : "not ");
    json_object *arg = json_object_new_object();
    if (arg)
        json_object_object_add(arg, "bootable", json_object_new_boolean(bootable));
    return vmmk__os_send(c, VMMK__SVC_VOLUME, "POST", "/volumes", id, "/action",
                         vmmk__jwrap("os-set_bootable", arg), what);
}

int vmmk_cloud_volume_set_image_metadata(vmmk_cloud *c, const char *id,
                                         const vmmk_properties *props)
{
    int rc = vmmk__os_volume_check(c, id, "vmmk_cloud_volume_set_image_metadata");
    if (rc)
        return rc;
    if (!props || !props->n)
        return 0;
    char what[200];
    snprintf(what, sizeof what, "set image metadata of volume %s", id);
    json_object *arg = vmmk__jwrap("metadata", vmmk__props_to_json(props));
    return vmmk__os_send(c, VMMK__SVC_VOLUME, "POST", "/volumes", id, "/action",
                         vmmk__jwrap("os-set_image_metadata", arg), what);
}

/* ---- manage ------------------------------------------------------------- */

int vmmk_cloud_volume_manage(vmmk_cloud_volume **out, vmmk_cloud *c, const char *host,
                             const char *ref_json, const char *name, const char *volume_type,
                             bool bootable)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_manage: out is NULL");
    *out = NULL;
    if (!c)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_volume_manage: handle is NULL");
    if (!host || !*host)
        return vmmk__err(VMMK_EINVAL, "manage volume: host is missing (\"host@backend#pool\")");
    if (!ref_json || !*ref_json)
        return vmmk__err(VMMK_EINVAL, "manage volume on %s: ref is missing "
                                      "(the backend's reference, e.g. {\"source-name\": \"...\"})",
                         host);
    json_object *ref = NULL;
    if (vmmk__json_parse(&ref, ref_json, strlen(ref_json)) != 0) {
        /* A malformed argument, not a malformed document from a peer. */
        char *where = vmmk__asprintf("manage volume on %s: ref is not JSON", host);
        int rc = vmmk__os_err_recode(VMMK_EINVAL, where, NULL);
        free(where);
        return rc;
    }
    if (!json_object_is_type(ref, json_type_object)) {
        json_object_put(ref);
        return vmmk__err(VMMK_EINVAL, "manage volume on %s: ref must be a JSON object, not %s",
                         host, ref_json);
    }
    char *what = vmmk__asprintf("manage volume %s on %s", ref_json, host);
    json_object *body = json_object_new_object(), *v = json_object_new_object();
    if (!what || !body || !v) {
        free(what);
        json_object_put(ref);
        json_object_put(body);
        json_object_put(v);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    json_object_object_add(body, "volume", v);
    vmmk__json_add_string(v, "host", host);
    json_object_object_add(v, "ref", ref);
    if (name)
        vmmk__json_add_string(v, "name", name);
    if (volume_type)
        vmmk__json_add_string(v, "volume_type", volume_type);
    json_object_object_add(v, "bootable", json_object_new_boolean(bootable));
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_VOLUME, "POST", "/os-volume-manage", what);
    call.body = body;
    json_object *made;
    int rc = vmmk__os_do_item(&made, c, &call, "volume", "volume");
    json_object_put(body);
    if (rc == 0) {
        /* The backend does the work after the 202; "error_managing" (shown
         * as "error") is where a bad ref or a driver without manage
         * support ends up. */
        rc = vmmk_cloud_volume_wait(out, c, vmmk__jstr(made, "id"), "available",
                                    DEFAULT_TIMEOUT_S);
        if (rc)
            vmmk__os_err_recode(0, what, "; the volume record is left in place for inspection");
    }
    json_object_put(made);
    free(what);
    return rc;
}
