/* vSphere snapshots: create (all disks at once), list (the tree
 * flattened), find by name, remove with consolidation, and the disks a
 * snapshot sees with their backing file and changeId. */
#include "inventory.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"

/* Creating quiesces the guest and may copy memory-less state of many
 * disks; removing consolidates, which can take hours on a busy VM. */
#define CREATE_TIMEOUT 3600u
#define REMOVE_TIMEOUT (24u * 3600u)

static int need(const char *fn, vmmk_vsphere *vs, const char *arg, const char *argname)
{
    if (!vs)
        return vmmk__err(VMMK_EINVAL, "%s: session is NULL", fn);
    if (!arg || !*arg)
        return vmmk__err(VMMK_EINVAL, "%s: no %s given", fn, argname);
    return 0;
}

int vmmk_vsphere_snapshot_create(char **out, vmmk_vsphere *vs, const char *vm, const char *name,
                                 const char *description, bool quiesce)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_snapshot_create: out is NULL");
    *out = NULL;
    int rc = need("vmmk_vsphere_snapshot_create", vs, vm, "VM");
    if (rc)
        return rc;
    if (!name || !*name)
        return vmmk__err(VMMK_EINVAL, "snapshot of %s: the name is empty", vm);
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<CreateSnapshot_Task xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "VirtualMachine", vm);
    /* Element order is the schema's: vCenter rejects any other. */
    vmmk__buf_puts(&b, "<name>");
    vmmk__xml_escape(&b, name);
    vmmk__buf_puts(&b, "</name>");
    if (description) {
        vmmk__buf_puts(&b, "<description>");
        vmmk__xml_escape(&b, description);
        vmmk__buf_puts(&b, "</description>");
    }
    vmmk__buf_printf(&b, "<memory>false</memory><quiesce>%s</quiesce></CreateSnapshot_Task>",
                     quiesce ? "true" : "false");
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    rc = vmmk__vs_task_call(out, vs, "CreateSnapshot_Task", body, CREATE_TIMEOUT);
    free(body);
    if (rc)
        return vmmk__err_prefix("snapshot \"%s\" of %s", name, vm);
    if (!*out)
        return vmmk__err(VMMK_EPARSE, "vSphere %s: CreateSnapshot_Task on %s: the task has no result",
                         vs->server, vm);
    vmmk__log(VMMK_LOG_INFO, "vSphere %s: created snapshot \"%s\" (%s) of %s%s", vs->server, name,
              *out, vm, quiesce ? ", quiesced" : "");
    return 0;
}

/* ---- list ---------------------------------------------------------------- */

typedef struct snap_vec {
    vmmk_vsphere_snapshots *list;
    size_t cap;
    char *current;
} snap_vec;

static int add_tree(snap_vec *v, xmlNodePtr tree, const char *parent, const char *vm)
{
    for (xmlNodePtr t = tree; t; t = vmmk__xml_next(t, (const char *)t->name)) {
        if (v->list->n == v->cap) {
            size_t cap = v->cap ? v->cap * 2 : 8;
            vmmk_vsphere_snapshot *items = realloc(v->list->items, cap * sizeof *items);
            if (!items)
                return vmmk__err(VMMK_ENOMEM, "out of memory");
            v->list->items = items;
            v->cap = cap;
        }
        vmmk_vsphere_snapshot *s = &v->list->items[v->list->n];
        memset(s, 0, sizeof *s);
        s->moref = vmmk__xml_child_text(t, "snapshot");
        s->name = vmmk__xml_child_text(t, "name");
        s->description = vmmk__xml_child_text(t, "description");
        s->create_time = vmmk__xml_child_text(t, "createTime");
        s->power_state = vmmk__xml_child_text(t, "state");
        s->parent = parent ? strdup(parent) : NULL;
        v->list->n++;
        if (!s->description)
            s->description = strdup("");
        if (!s->moref || !s->name)
            return vmmk__err(VMMK_EPARSE, "snapshot tree of %s: an entry without %s", vm,
                             s->moref ? "name" : "snapshot");
        if (!s->description || (parent && !s->parent))
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        bool present = false;
        if (vmmk__xml_child_bool(t, "quiesced", &s->quiesced, &present))
            return vmmk__err_prefix("snapshot tree of %s", vm);
        s->current = v->current && strcmp(v->current, s->moref) == 0;
        /* The moref is copied: items may move when the array grows. */
        char *self = strdup(s->moref);
        if (!self)
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        xmlNodePtr kids = vmmk__xml_child(t, "childSnapshotList");
        int rc = kids ? add_tree(v, kids, self, vm) : 0;
        free(self);
        if (rc)
            return rc;
    }
    return 0;
}

int vmmk_vsphere_snapshot_list(vmmk_vsphere_snapshots **out, vmmk_vsphere *vs, const char *vm)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_snapshot_list: out is NULL");
    *out = NULL;
    int rc = need("vmmk_vsphere_snapshot_list", vs, vm, "VM");
    if (rc)
        return rc;
    static const char *const paths[] = { "snapshot", NULL };
    vmmk__soap_response r;
    xmlNodePtr obj;
    if ((rc = vmmk__vs_props(&r, &obj, vs, "VirtualMachine", vm, paths)))
        return rc;
    snap_vec v = { 0 };
    v.list = calloc(1, sizeof *v.list);
    if (!v.list) {
        vmmk__soap_response_clear(&r);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    xmlNodePtr info = vmmk__vs_prop(obj, "snapshot");   /* unset when there are none */
    if (info) {
        v.current = vmmk__xml_child_text(info, "currentSnapshot");
        xmlNodePtr roots = vmmk__xml_child(info, "rootSnapshotList");
        if (roots)
            rc = add_tree(&v, roots, NULL, vm);
    }
    free(v.current);
    vmmk__soap_response_clear(&r);
    if (rc) {
        vmmk_vsphere_snapshots_free(v.list);
        return rc;
    }
    *out = v.list;
    return 0;
}

void vmmk_vsphere_snapshots_free(vmmk_vsphere_snapshots *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        vmmk_vsphere_snapshot *s = &list->items[i];
        free(s->moref);
        free(s->name);
        free(s->description);
        free(s->create_time);
        free(s->parent);
        free(s->power_state);
    }
    free(list->items);
    free(list);
}

int vmmk_vsphere_snapshot_find(char **out, vmmk_vsphere *vs, const char *vm, const char *name)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_snapshot_find: out is NULL");
    *out = NULL;
    if (!name || !*name)
        return vmmk__err(VMMK_EINVAL, "snapshot of %s: no name given", vm ? vm : "?");
    vmmk_vsphere_snapshots *l = NULL;
    int rc = vmmk_vsphere_snapshot_list(&l, vs, vm);
    if (rc)
        return rc;
    size_t hits = 0, hit = 0, by_moref = SIZE_MAX;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->items[i].name, name) == 0) {
            if (!hits++)
                hit = i;
        }
        if (strcmp(l->items[i].moref, name) == 0)
            by_moref = i;
    }
    if (hits > 1) {
        vmmk__buf b = { 0 };
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(l->items[i].name, name) == 0)
                vmmk__buf_printf(&b, "%s%s", b.len ? ", " : "", l->items[i].moref);
        char *list = vmmk__buf_take(&b);
        rc = vmmk__err(VMMK_ECONFLICT,
                       "vSphere %s: %zu snapshots of %s are named \"%s\" (%s): name one by moref",
                       vs->server, hits, vm, name, list ? list : "?");
        free(list);
    } else if (!hits && by_moref == SIZE_MAX) {
        rc = vmmk__err(VMMK_ENOTFOUND, "vSphere %s: %s has no snapshot named \"%s\" (%zu snapshot%s)",
                       vs->server, vm, name, l->n, l->n == 1 ? "" : "s");
    } else {
        *out = strdup(l->items[hits ? hit : by_moref].moref);
        if (!*out)
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    vmmk_vsphere_snapshots_free(l);
    return rc;
}

int vmmk_vsphere_snapshot_remove(vmmk_vsphere *vs, const char *snapshot, bool remove_children)
{
    int rc = need("vmmk_vsphere_snapshot_remove", vs, snapshot, "snapshot");
    if (rc)
        return rc;
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<RemoveSnapshot_Task xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "VirtualMachineSnapshot", snapshot);
    vmmk__buf_printf(&b, "<removeChildren>%s</removeChildren><consolidate>true</consolidate>"
                         "</RemoveSnapshot_Task>",
                     remove_children ? "true" : "false");
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    rc = vmmk__vs_task_call(NULL, vs, "RemoveSnapshot_Task", body, REMOVE_TIMEOUT);
    free(body);
    if (rc)
        return vmmk__err_prefix("removing snapshot %s", snapshot);
    vmmk__log(VMMK_LOG_INFO, "vSphere %s: removed snapshot %s%s", vs->server, snapshot,
              remove_children ? " and its children" : "");
    return 0;
}

/* ---- disks ---------------------------------------------------------------- */

static void disk_clear(vmmk_vsphere_snapshot_disk *d)
{
    free(d->file_name);
    free(d->change_id);
    free(d->backing_type);
}

/* One VirtualDisk device into @p d. */
static int parse_disk(vmmk_vsphere_snapshot_disk *d, xmlNodePtr dev, const char *what)
{
    long long key = 0, bytes = 0, kb = 0;
    bool has_bytes = false, has_kb = false;
    int rc = vmmk__xml_child_int64(dev, "key", &key, NULL);
    if (!rc)
        rc = vmmk__xml_child_int64(dev, "capacityInBytes", &bytes, &has_bytes);
    if (!rc)
        rc = vmmk__xml_child_int64(dev, "capacityInKB", &kb, &has_kb);
    if (rc)
        return vmmk__err_prefix("%s", what);
    if (key < INT32_MIN || key > INT32_MAX || bytes < 0 || kb < 0 || kb > INT64_MAX / 1024)
        return vmmk__err(VMMK_EPARSE, "%s: disk %lld: key or capacity out of range", what, key);
    d->key = (int32_t)key;
    /* vcsim (and old hosts) leave capacityInBytes out or at 0. */
    d->capacity = has_bytes && bytes > 0 ? (uint64_t)bytes : (uint64_t)kb * 1024u;
    xmlNodePtr bk = vmmk__xml_child(dev, "backing");
    if (!bk)
        return vmmk__err(VMMK_EPARSE, "%s: disk %" PRId32 " has no backing", what, d->key);
    d->backing_type = vmmk__xml_type(bk);
    /* FlatVer2, SparseVer2, RawDiskMappingVer1, SeSparse, ...: fileName;
     * RawDiskVer2 (a host device) names its descriptor instead. */
    d->file_name = vmmk__xml_child_text(bk, "fileName");
    if (!d->file_name || !*d->file_name) {
        free(d->file_name);
        d->file_name = vmmk__xml_child_text(bk, "descriptorFileName");
    }
    d->change_id = vmmk__xml_child_text(bk, "changeId");
    if (d->change_id && !*d->change_id) {
        free(d->change_id);
        d->change_id = NULL;
    }
    if (!d->backing_type)
        d->backing_type = strdup("");
    if (!d->file_name)
        d->file_name = strdup("");
    if (!d->backing_type || !d->file_name)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    return 0;
}

int vmmk__vs_parse_disks(vmmk_vsphere_snapshot_disk_list **out, xmlNodePtr devices, const char *what)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    vmmk_vsphere_snapshot_disk_list *l = *out;
    size_t cap = 0;
    int rc = 0;
    for (xmlNodePtr dev = devices ? vmmk__xml_child(devices, NULL) : NULL; dev && !rc;
         dev = vmmk__xml_next(dev, NULL)) {
        char *type = vmmk__xml_type(dev);
        bool disk = type && strcmp(type, "VirtualDisk") == 0;
        free(type);
        if (!disk)
            continue;
        if (l->n == cap) {
            cap = cap ? cap * 2 : 4;
            vmmk_vsphere_snapshot_disk *items = realloc(l->items, cap * sizeof *items);
            if (!items) {
                rc = vmmk__err(VMMK_ENOMEM, "out of memory");
                break;
            }
            l->items = items;
        }
        memset(&l->items[l->n], 0, sizeof l->items[l->n]);
        rc = parse_disk(&l->items[l->n++], dev, what);
    }
    if (rc) {
        vmmk_vsphere_snapshot_disk_list_free(l);
        *out = NULL;
    }
    return rc;
}

int vmmk__vs_disks(vmmk_vsphere_snapshot_disk_list **out, vmmk_vsphere *vs, const char *type,
                   const char *moref)
{
    *out = NULL;
    static const char *const paths[] = { "config.hardware.device", NULL };
    vmmk__soap_response r;
    xmlNodePtr obj;
    int rc = vmmk__vs_props(&r, &obj, vs, type, moref, paths);
    if (rc)
        return rc;
    char *what = vmmk__asprintf("vSphere %s: %s %s", vs->server, type, moref);
    rc = vmmk__vs_parse_disks(out, vmmk__vs_prop(obj, "config.hardware.device"), what ? what : moref);
    free(what);
    vmmk__soap_response_clear(&r);
    return rc;
}

int vmmk_vsphere_snapshot_disks(vmmk_vsphere_snapshot_disk_list **out, vmmk_vsphere *vs,
                                const char *snapshot)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_snapshot_disks: out is NULL");
    *out = NULL;
    int rc = need("vmmk_vsphere_snapshot_disks", vs, snapshot, "snapshot");
    if (rc)
        return rc;
    return vmmk__vs_disks(out, vs, "VirtualMachineSnapshot", snapshot);
}

void vmmk_vsphere_snapshot_disk_list_free(vmmk_vsphere_snapshot_disk_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        disk_clear(&list->items[i]);
    free(list->items);
    free(list);
}
