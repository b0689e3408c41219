/* Changed block tracking: switch it on so that it takes effect, and
 * QueryChangedDiskAreas with a loop that covers the whole disk.
 *
 * The loop is where the reference and a peer went wrong (docs/vsphere.md,
 * "CBT"): the reference stops at the first answer without changed areas,
 * which may be an early window of a large disk, so later changes are lost;
 * a peer calls once more with startOffset == capacity, which ESXi rejects.
 * Here: start at 0, next at startOffset + length of the answer, stop at the
 * capacity, never call at or past it, and treat an answer that makes no
 * progress as an error rather than as the end. */
#include "inventory.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"

#define RECONFIG_TIMEOUT 3600u
#define CYCLE_SNAPSHOT_NAME "vmmk-cbt-enable"

vmmk__cbt_call_hook vmmk__cbt_on_call;
void *vmmk__cbt_on_call_payload;

int vmmk_vsphere_cbt_enabled(bool *out, vmmk_vsphere *vs, const char *vm)
{
    if (!out || !vs || !vm || !*vm)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_cbt_enabled: %s", !out ? "out is NULL"
                                      : !vs ? "session is NULL" : "no VM given");
    *out = false;
    static const char *const paths[] = { "config.changeTrackingEnabled", NULL };
    vmmk__soap_response r;
    xmlNodePtr obj;
    int rc = vmmk__vs_props(&r, &obj, vs, "VirtualMachine", vm, paths);
    if (rc)
        return rc;
    /* Unset (never configured) means off. */
    xmlNodePtr val = vmmk__vs_prop(obj, "config.changeTrackingEnabled");
    char *text = vmmk__xml_text(val);
    *out = text && strcmp(text, "true") == 0;
    free(text);
    vmmk__soap_response_clear(&r);
    return 0;
}

static int power_state_text(char **out, vmmk_vsphere *vs, const char *vm)
{
    return vmmk__vs_get_string(out, vs, "VirtualMachine", vm, "runtime.powerState");
}

int vmmk_vsphere_cbt_enable(bool *changed, vmmk_vsphere *vs, const char *vm)
{
    if (changed)
        *changed = false;
    bool on = false;
    int rc = vmmk_vsphere_cbt_enabled(&on, vs, vm);
    if (rc)
        return rc;
    if (on) {
        vmmk__log(VMMK_LOG_INFO, "vSphere %s: CBT is already on for %s", vs->server, vm);
        return 0;
    }
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<ReconfigVM_Task xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "VirtualMachine", vm);
    vmmk__buf_puts(&b, "<spec><changeTrackingEnabled>true</changeTrackingEnabled></spec>"
                       "</ReconfigVM_Task>");
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    rc = vmmk__vs_task_call(NULL, vs, "ReconfigVM_Task", body, RECONFIG_TIMEOUT);
    free(body);
    if (rc)
        return vmmk__err_prefix("enabling CBT on %s", vm);
    if (changed)
        *changed = true;
    vmmk__log(VMMK_LOG_INFO, "vSphere %s: CBT switched on for %s", vs->server, vm);

    /* A running VM applies the setting at its next stun/unstun; a
     * snapshot create/remove is the least disruptive one.  A powered-off
     * VM opens its disks with tracking at the next power-on or snapshot. */
    char *state = NULL;
    if ((rc = power_state_text(&state, vs, vm)))
        return vmmk__err_prefix("enabling CBT on %s", vm);
    bool off = strcmp(state, "poweredOff") == 0;
    free(state);
    if (off)
        return 0;
    char *snap = NULL;
    rc = vmmk_vsphere_snapshot_create(&snap, vs, vm, CYCLE_SNAPSHOT_NAME,
                                      "vmmk: makes changed block tracking take effect", false);
    if (!rc) {
        rc = vmmk_vsphere_snapshot_remove(vs, snap, false);
        if (rc)
            vmmk__err_prefix("CBT is on for %s, but its helper snapshot %s could not be removed "
                             "(remove it by hand)", vm, snap);
    } else {
        vmmk__err_prefix("CBT is on for %s, but the snapshot cycle that makes it take effect "
                         "failed", vm);
    }
    free(snap);
    return rc;
}

/* ---- QueryChangedDiskAreas ---------------------------------------------- */

typedef struct area_vec {
    vmmk_extent *v;
    size_t n, cap;
} area_vec;

static int area_add(area_vec *a, uint64_t off, uint64_t len)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        vmmk_extent *v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = (vmmk_extent){ off, len };
    return 0;
}

static int cmp_extent(const void *x, const void *y)
{
    const vmmk_extent *a = x, *b = y;
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Sort and merge overlapping or adjacent areas (answers come in order,
 * but nothing in the API promises it). */
static void area_merge(area_vec *a)
{
    if (a->n < 2)
        return;
    qsort(a->v, a->n, sizeof *a->v, cmp_extent);
    size_t n = 0;
    for (size_t i = 0; i < a->n; i++) {
        if (n && a->v[i].offset <= a->v[n - 1].offset + a->v[n - 1].length) {
            uint64_t end = a->v[i].offset + a->v[i].length;
            if (end > a->v[n - 1].offset + a->v[n - 1].length)
                a->v[n - 1].length = end - a->v[n - 1].offset;
        } else {
            a->v[n++] = a->v[i];
        }
    }
    a->n = n;
}

/* One call at @p offset; *next is where the answer ends. */
static int query_once(area_vec *a, uint64_t *next, vmmk_vsphere *vs, const char *vm,
                      const char *snapshot, int32_t key, const char *change_id, uint64_t offset,
                      uint64_t capacity)
{
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<QueryChangedDiskAreas xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "VirtualMachine", vm);
    if (snapshot) {
        vmmk__buf_puts(&b, "<snapshot type=\"VirtualMachineSnapshot\">");
        vmmk__xml_escape(&b, snapshot);
        vmmk__buf_puts(&b, "</snapshot>");
    }
    vmmk__buf_printf(&b, "<deviceKey>%" PRId32 "</deviceKey><startOffset>%" PRIu64
                         "</startOffset><changeId>",
                     key, offset);
    vmmk__xml_escape(&b, change_id);
    vmmk__buf_puts(&b, "</changeId></QueryChangedDiskAreas>");
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    if (vmmk__cbt_on_call)
        vmmk__cbt_on_call(vmmk__cbt_on_call_payload, offset, capacity);
    vmmk__soap_response r;
    int rc = vmmk__vs_call(vs, "QueryChangedDiskAreas", body, &r);
    free(body);
    if (rc)
        return rc;
    xmlNodePtr info = vmmk__xml_child(r.body, "returnval");
    long long start = 0, length = 0;
    if (!info) {
        length = 0;            /* an empty answer */
        start = (long long)offset;
    } else if ((rc = vmmk__xml_child_int64(info, "startOffset", &start, NULL)) ||
               (rc = vmmk__xml_child_int64(info, "length", &length, NULL))) {
        vmmk__soap_response_clear(&r);
        return rc;
    }
    if (start < 0 || length < 0 || (uint64_t)start > UINT64_MAX - (uint64_t)length) {
        vmmk__soap_response_clear(&r);
        return vmmk__err(VMMK_EPARSE, "DiskChangeInfo out of range (startOffset %lld, length %lld)",
                         start, length);
    }
    for (xmlNodePtr ca = info ? vmmk__xml_child(info, "changedArea") : NULL; ca && !rc;
         ca = vmmk__xml_next(ca, "changedArea")) {
        long long s = 0, l = 0;
        if ((rc = vmmk__xml_child_int64(ca, "start", &s, NULL)) ||
            (rc = vmmk__xml_child_int64(ca, "length", &l, NULL)))
            break;
        if (s < 0 || l < 0) {
            rc = vmmk__err(VMMK_EPARSE, "changedArea out of range (start %lld, length %lld)", s, l);
            break;
        }
        /* Clip to the disk: the last block may be reported whole. */
        uint64_t us = (uint64_t)s, ul = (uint64_t)l;
        if (ul == 0 || us >= capacity)
            continue;
        if (ul > capacity - us)
            ul = capacity - us;
        rc = area_add(a, us, ul);
    }
    vmmk__soap_response_clear(&r);
    *next = (uint64_t)start + (uint64_t)length;
    if (!rc && *next <= offset)
        rc = vmmk__err(VMMK_EREMOTE,
                       "the server answered without progress (startOffset %lld, length %lld) "
                       "before the end of the disk at %" PRIu64 "; changes past it would be missed",
                       start, length, capacity);
    return rc;
}

int vmmk_vsphere_cbt_query(vmmk_extent_list **out, vmmk_vsphere *vs, const char *vm,
                           const char *snapshot, int32_t disk_key, const char *change_id)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_cbt_query: out is NULL");
    *out = NULL;
    if (!vs || !vm || !*vm || !change_id || !*change_id)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_cbt_query: %s",
                         !vs ? "session is NULL" : !vm || !*vm ? "no VM given"
                         : "no change id given (\"*\" for all allocated areas)");
    if (snapshot && !*snapshot)
        snapshot = NULL;
    const char *at = snapshot ? snapshot : "its current state";

    /* The capacity bounds the loop; read it where the query looks. */
    vmmk_vsphere_snapshot_disk_list *disks = NULL;
    int rc = snapshot ? vmmk__vs_disks(&disks, vs, "VirtualMachineSnapshot", snapshot)
                      : vmmk__vs_disks(&disks, vs, "VirtualMachine", vm);
    if (rc)
        return vmmk__err_prefix("changed areas of disk %" PRId32 " of %s at %s", disk_key, vm, at);
    uint64_t capacity = 0;
    bool found = false;
    vmmk__buf keys = { 0 };
    for (size_t i = 0; i < disks->n; i++) {
        vmmk__buf_printf(&keys, "%s%" PRId32, keys.len ? ", " : "", disks->items[i].key);
        if (disks->items[i].key == disk_key) {
            found = true;
            capacity = disks->items[i].capacity;
        }
    }
    vmmk_vsphere_snapshot_disk_list_free(disks);
    char *keytext = vmmk__buf_take(&keys);
    if (!found) {
        rc = vmmk__err(VMMK_ENOTFOUND, "vSphere %s: %s has no disk with key %" PRId32 " at %s (disks: %s)",
                       vs->server, vm, disk_key, at, keytext && *keytext ? keytext : "none");
        free(keytext);
        return rc;
    }
    free(keytext);
    if (capacity == 0)
        return vmmk__err(VMMK_EPARSE, "vSphere %s: disk %" PRId32 " of %s at %s reports no capacity",
                         vs->server, disk_key, vm, at);

    area_vec a = { 0 };
    uint64_t offset = 0, calls = 0;
    while (offset < capacity) {
        uint64_t next = 0;
        rc = query_once(&a, &next, vs, vm, snapshot, disk_key, change_id, offset, capacity);
        calls++;
        if (rc) {
            vmmk__err_prefix("changed areas of disk %" PRId32 " of %s at %s since %s, offset %" PRIu64,
                             disk_key, vm, at, change_id, offset);
            free(a.v);
            return rc;
        }
        offset = next;
    }
    area_merge(&a);
    vmmk_extent_list *l = calloc(1, sizeof *l);
    if (!l) {
        free(a.v);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    l->items = a.v;
    l->n = a.n;
    uint64_t total = 0;
    for (size_t i = 0; i < l->n; i++)
        total += l->items[i].length;
    vmmk__log(VMMK_LOG_INFO,
              "vSphere %s: disk %" PRId32 " of %s at %s since %s: %zu areas, %" PRIu64 " of %" PRIu64
              " bytes, %" PRIu64 " call%s",
              vs->server, disk_key, vm, at, change_id, l->n, total, capacity, calls,
              calls == 1 ? "" : "s");
    *out = l;
    return 0;
}
