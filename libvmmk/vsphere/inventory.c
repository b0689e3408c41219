/* vSphere inventory: list every VM in a fixed number of round trips
 * (ContainerView + RetrievePropertiesEx, following ContinueRetrievePropertiesEx
 * tokens), and the PropertyCollector reply helpers describe.c and find.c
 * share (docs/vsphere.md).  Finding one VM is in find.c. */
#include "inventory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/internal.h"
#include "../common/json.h"

/* Objects per RetrievePropertiesEx page.  A VM with its device list is
 * 5-10 KB of XML, so a page stays well below VMMK_MAX_DOCUMENT while a
 * listing of thousands of VMs still takes only a few round trips. */
#define PAGE_OBJECTS 1000
/* Deeper folder nesting than this is treated as a cycle. */
#define MAX_DEPTH 128

/* ---- reply helpers (shared with describe.c) -------------------------- */

xmlNodePtr vmmk__vs_prop(xmlNodePtr oc, const char *name)
{
    for (xmlNodePtr ps = oc ? vmmk__xml_child(oc, "propSet") : NULL; ps; ps = vmmk__xml_next(ps, "propSet")) {
        xmlNodePtr n = vmmk__xml_child(ps, "name");
        if (!n)
            continue;
        xmlChar *t = xmlNodeGetContent(n);
        bool match = t && strcmp((const char *)t, name) == 0;
        xmlFree(t);
        if (match)
            return vmmk__xml_child(ps, "val");
    }
    return NULL;
}

char *vmmk__vs_prop_text(xmlNodePtr oc, const char *name)
{
    return vmmk__xml_text(vmmk__vs_prop(oc, name));
}

char *vmmk__vs_unescape_name(const char *name)
{
    if (!name)
        return NULL;
    char *out = malloc(strlen(name) + 1), *o = out;
    if (!out)
        return NULL;
    for (const char *p = name; *p;) {
        if (p[0] == '%' && p[1] && p[2]) {
            if (strncasecmp(p, "%2f", 3) == 0) { *o++ = '/'; p += 3; continue; }
            if (strncasecmp(p, "%5c", 3) == 0) { *o++ = '\\'; p += 3; continue; }
            if (strncmp(p, "%25", 3) == 0) { *o++ = '%'; p += 3; continue; }
        }
        *o++ = *p++;
    }
    *o = '\0';
    return out;
}

char *vmmk__vs_vm_moref_id(const char *what)
{
    if (strncmp(what, "VirtualMachine:", 15) == 0 && what[15])
        return strdup(what + 15);
    if (strncmp(what, "vm-", 3) == 0 && what[3] && strspn(what + 3, "0123456789") == strlen(what + 3))
        return strdup(what);
    return NULL;
}

uint64_t vmmk__vs_disk_capacity(xmlNodePtr disk)
{
    long long bytes = 0, kb = 0;
    bool have = false;
    if (vmmk__xml_child_int64(disk, "capacityInBytes", &bytes, &have) || !have)
        bytes = 0;
    if (bytes > 0)
        return (uint64_t)bytes;
    if (vmmk__xml_child_int64(disk, "capacityInKB", &kb, &have) || !have || kb <= 0)
        return 0;
    return (uint64_t)kb * 1024u;
}

/* An empty string counts as unset: vSphere leaves optional strings empty. */
static char *text_or_null(xmlNodePtr oc, const char *name)
{
    char *s = vmmk__vs_prop_text(oc, name);
    if (s && !*s) {
        free(s);
        s = NULL;
    }
    return s;
}

static int prop_int(xmlNodePtr oc, const char *name, long long *out)
{
    char *s = vmmk__vs_prop_text(oc, name);
    if (!s)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    int bad = errno || end == s || *end;
    free(s);
    if (bad) {
        char *where = vmmk__xml_path(vmmk__vs_prop(oc, name));
        int rc = vmmk__err(VMMK_EPARSE, "%s: %s: expected an integer", where ? where : "reply", name);
        free(where);
        return rc;
    }
    *out = v;
    return 0;
}

static bool prop_true(xmlNodePtr oc, const char *name)
{
    char *s = vmmk__vs_prop_text(oc, name);
    bool t = s && (strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
    free(s);
    return t;
}

/* Keep the first error across best-effort cleanup calls that may fail too. */
typedef struct saved_error {
    int code, http_status;
    char *message, *fault, *detail;
} saved_error;

static void error_save(saved_error *s)
{
    const vmmk_error *e = vmmk_error_last();
    s->code = e->code;
    s->http_status = e->http_status;
    s->message = vmmk__strdup(e->message);
    s->fault = vmmk__strdup(e->fault);
    s->detail = vmmk__strdup(e->detail);
}

static int error_restore(saved_error *s)
{
    int rc = vmmk__err_full(s->code, s->fault, s->detail, s->http_status, 0, "%s",
                            s->message ? s->message : vmmk_strerror(s->code));
    free(s->message);
    free(s->fault);
    free(s->detail);
    return rc;
}

/* ---- listing: folding pages ------------------------------------------ */

typedef struct entity {        /* a Folder or Datacenter */
    char *moref, *name, *parent;
} entity;

typedef struct vm_entry {
    vmmk_vm_summary s;
    char *raw_name;            /* as the server escapes it, for paths */
    char *parent;
} vm_entry;

struct vmmk__vs_listing {
    entity *ents;
    size_t n_ents, cap_ents;
    vm_entry *vms;
    size_t n_vms, cap_vms;
};

vmmk__vs_listing *vmmk__vs_listing_new(void)
{
    return calloc(1, sizeof(vmmk__vs_listing));
}

static void summary_clear(vmmk_vm_summary *s)
{
    free(s->name);
    free(s->moref);
    free(s->path);
    free(s->uuid);
    free(s->instance_uuid);
    free(s->guest_id);
    memset(s, 0, sizeof *s);
}

void vmmk__vs_listing_free(vmmk__vs_listing *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n_ents; i++) {
        free(l->ents[i].moref);
        free(l->ents[i].name);
        free(l->ents[i].parent);
    }
    for (size_t i = 0; i < l->n_vms; i++) {
        summary_clear(&l->vms[i].s);
        free(l->vms[i].raw_name);
        free(l->vms[i].parent);
    }
    free(l->ents);
    free(l->vms);
    free(l);
}

static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 64;
    void *p = realloc(*arr, nc * size);
    if (!p)
        return vmmk__err(VMMK_ENOMEM, "out of memory listing VMs");
    *arr = p;
    *cap = nc;
    return 0;
}

static int add_vm(vmmk__vs_listing *l, xmlNodePtr oc, char *moref)
{
    int rc = grow((void **)&l->vms, &l->cap_vms, l->n_vms, sizeof *l->vms);
    if (rc) {
        free(moref);
        return rc;
    }
    vm_entry *e = &l->vms[l->n_vms++];
    memset(e, 0, sizeof *e);
    vmmk_vm_summary *s = &e->s;
    s->moref = moref;
    e->raw_name = text_or_null(oc, "name");
    e->parent = text_or_null(oc, "parent");
    s->name = vmmk__vs_unescape_name(e->raw_name ? e->raw_name : moref);
    s->uuid = text_or_null(oc, "config.uuid");
    s->instance_uuid = text_or_null(oc, "config.instanceUuid");
    s->guest_id = text_or_null(oc, "config.guestId");
    s->is_template = prop_true(oc, "config.template");
    s->cbt_enabled = prop_true(oc, "config.changeTrackingEnabled");
    char *ps = vmmk__vs_prop_text(oc, "runtime.powerState");
    if (ps && vmmk_power_state_parse(&s->power_state, ps))
        vmmk__log(VMMK_LOG_DEBUG, "VM %s: unknown power state \"%s\"", moref, ps);
    free(ps);
    long long cpus = 0, mem = 0;
    if ((rc = prop_int(oc, "config.hardware.numCPU", &cpus)) ||
        (rc = prop_int(oc, "config.hardware.memoryMB", &mem)))
        return vmmk__err_prefix("VM %s", moref);
    s->vcpus = cpus > 0 && cpus <= INT32_MAX ? (int32_t)cpus : 0;
    s->memory_mib = mem > 0 ? (uint64_t)mem : 0;
    xmlNodePtr devs = vmmk__vs_prop(oc, "config.hardware.device");
    for (xmlNodePtr d = devs ? vmmk__xml_child(devs, NULL) : NULL; d; d = vmmk__xml_next(d, NULL)) {
        char *type = vmmk__xml_type(d);
        if (type && strcmp(type, "VirtualDisk") == 0) {
            s->n_disks++;
            s->capacity_bytes += vmmk__vs_disk_capacity(d);
        }
        free(type);
    }
    if (!s->name)
        return vmmk__err(VMMK_ENOMEM, "out of memory listing VMs");
    return 0;
}

static int add_entity(vmmk__vs_listing *l, xmlNodePtr oc, char *moref)
{
    int rc = grow((void **)&l->ents, &l->cap_ents, l->n_ents, sizeof *l->ents);
    if (rc) {
        free(moref);
        return rc;
    }
    entity *e = &l->ents[l->n_ents++];
    e->moref = moref;
    e->name = text_or_null(oc, "name");
    e->parent = text_or_null(oc, "parent");
    return 0;
}

int vmmk__vs_listing_add(vmmk__vs_listing *l, xmlNodePtr result, char **token)
{
    *token = NULL;
    if (!result)
        return 0;      /* nothing matched: the server leaves returnval out */
    for (xmlNodePtr oc = vmmk__xml_child(result, "objects"); oc; oc = vmmk__xml_next(oc, "objects")) {
        xmlNodePtr obj = vmmk__xml_child(oc, "obj");
        char *type = obj ? vmmk__xml_attr(obj, "type") : NULL;
        char *moref = obj ? vmmk__xml_text(obj) : NULL;
        int rc = 0;
        if (!type || !moref || !*moref) {
            free(moref);
            rc = vmmk__err(VMMK_EPARSE, "RetrievePropertiesEx: an object without a moref");
        } else if (strcmp(type, "VirtualMachine") == 0) {
            rc = add_vm(l, oc, moref);
        } else if (strcmp(type, "Folder") == 0 || strcmp(type, "Datacenter") == 0) {
            rc = add_entity(l, oc, moref);
        } else {
            free(moref);
        }
        free(type);
        if (rc)
            return rc;
    }
    char *t = vmmk__xml_child_text(result, "token");
    if (t && !*t) {
        free(t);
        t = NULL;
    }
    *token = t;
    return 0;
}

static int entity_cmp(const void *a, const void *b)
{
    return strcmp(((const entity *)a)->moref, ((const entity *)b)->moref);
}

static const entity *find_entity(const vmmk__vs_listing *l, const char *moref)
{
    entity key = { (char *)moref, NULL, NULL };
    return bsearch(&key, l->ents, l->n_ents, sizeof *l->ents, entity_cmp);
}

/* "/DC0/vm/sub/name", or NULL when the chain does not reach the root
 * through listed folders and datacenters (vApp members, partial views). */
static char *vm_path(const vmmk__vs_listing *l, const vm_entry *v, const char *root)
{
    const char *parts[MAX_DEPTH];
    size_t n = 0;
    if (!v->raw_name || !v->parent || !root)
        return NULL;
    parts[n++] = v->raw_name;
    for (const char *cur = v->parent; strcmp(cur, root) != 0;) {
        const entity *e = find_entity(l, cur);
        if (!e || !e->name || !e->parent || n == MAX_DEPTH)
            return NULL;
        parts[n++] = e->name;
        cur = e->parent;
    }
    vmmk__buf b = { 0 };
    while (n)
        vmmk__buf_printf(&b, "/%s", parts[--n]);
    return vmmk__buf_take(&b);
}

int vmmk__vs_listing_finish(vmmk_vm_summary_list **out, vmmk__vs_listing *l, const char *root)
{
    *out = NULL;
    if (l->n_ents)
        qsort(l->ents, l->n_ents, sizeof *l->ents, entity_cmp);
    vmmk_vm_summary_list *list = calloc(1, sizeof *list);
    if (!list || (l->n_vms && !(list->vms = calloc(l->n_vms, sizeof *list->vms)))) {
        free(list);
        return vmmk__err(VMMK_ENOMEM, "out of memory listing VMs");
    }
    for (size_t i = 0; i < l->n_vms; i++) {
        vm_entry *v = &l->vms[i];
        v->s.path = vm_path(l, v, root);
        list->vms[list->n++] = v->s;      /* moved: the entry keeps no pointer */
        memset(&v->s, 0, sizeof v->s);
    }
    *out = list;
    return 0;
}

int vmmk__vs_listing_pages(vmmk__vs_listing *l, vmmk__soap_response *first, vmmk__vs_page_fn next,
                           vmmk__vs_page_fn cancel, void *payload, const char *server, unsigned *pages)
{
    vmmk__soap_response r = *first;
    memset(first, 0, sizeof *first);
    char *token = NULL, *prev = NULL;
    unsigned n = 0;
    int rc;
    for (;;) {
        rc = vmmk__vs_listing_add(l, r.body ? vmmk__xml_child(r.body, "returnval") : NULL, &token);
        vmmk__soap_response_clear(&r);
        n++;
        if (rc || !token)
            break;
        if (prev && strcmp(prev, token) == 0) {
            rc = vmmk__err(VMMK_EREMOTE, "vSphere %s: RetrievePropertiesEx: the server returned the "
                           "same continuation token twice", server);
            break;
        }
        if (n >= VMMK__VS_MAX_PAGES) {
            rc = vmmk__err(VMMK_EREMOTE, "vSphere %s: RetrievePropertiesEx: still paging after %u pages",
                           server, n);
            break;
        }
        vmmk__log(VMMK_LOG_DEBUG, "vSphere %s: listing continues (page %u)", server, n + 1);
        if ((rc = next(&r, token, payload)))
            break;
        free(prev);
        prev = token;
        token = NULL;
    }
    if (rc && token && cancel) {
        /* Let the server drop the rest of the result it holds for us. */
        saved_error se;
        error_save(&se);
        vmmk__soap_response cr;
        if (cancel(&cr, token, payload) == 0)
            vmmk__soap_response_clear(&cr);
        rc = error_restore(&se);
    }
    free(prev);
    free(token);
    if (pages)
        *pages = n;
    return rc;
}

/* ---- listing: the calls ---------------------------------------------- */

static int call_page(vmmk_vsphere *vs, const char *method, const char *token, vmmk__soap_response *out)
{
    vmmk__buf b = { 0 };
    vmmk__buf_printf(&b, "<%s xmlns=\"urn:vim25\">", method);
    vmmk__vs_this(&b, "PropertyCollector", vs->property_collector);
    vmmk__buf_puts(&b, "<token>");
    vmmk__xml_escape(&b, token);
    vmmk__buf_printf(&b, "</token></%s>", method);
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    int rc = vmmk__vs_call(vs, method, body, out);
    free(body);
    return rc;
}

static int continue_page(vmmk__soap_response *out, const char *token, void *payload)
{
    return call_page(payload, "ContinueRetrievePropertiesEx", token, out);
}

static int cancel_page(vmmk__soap_response *out, const char *token, void *payload)
{
    return call_page(payload, "CancelRetrievePropertiesEx", token, out);
}

static const char *const VM_PROPS[] = {
    "name", "parent", "config.uuid", "config.instanceUuid", "config.guestId", "config.template",
    "config.hardware.numCPU", "config.hardware.memoryMB", "config.hardware.device",
    "config.changeTrackingEnabled", "runtime.powerState",
};

static char *listing_body(vmmk_vsphere *vs, const char *view)
{
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<RetrievePropertiesEx xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "PropertyCollector", vs->property_collector);
    vmmk__buf_puts(&b, "<specSet><propSet><type>VirtualMachine</type>");
    for (size_t i = 0; i < sizeof VM_PROPS / sizeof *VM_PROPS; i++)
        vmmk__buf_printf(&b, "<pathSet>%s</pathSet>", VM_PROPS[i]);
    vmmk__buf_puts(&b, "</propSet>"
                       "<propSet><type>Folder</type><pathSet>name</pathSet><pathSet>parent</pathSet></propSet>"
                       "<propSet><type>Datacenter</type><pathSet>name</pathSet><pathSet>parent</pathSet></propSet>"
                       "<objectSet><obj type=\"ContainerView\">");
    vmmk__xml_escape(&b, view);
    vmmk__buf_printf(&b, "</obj><skip>true</skip><selectSet xsi:type=\"TraversalSpec\"><name>view</name>"
                         "<type>ContainerView</type><path>view</path><skip>false</skip></selectSet>"
                         "</objectSet></specSet><options><maxObjects>%d</maxObjects></options>"
                         "</RetrievePropertiesEx>", PAGE_OBJECTS);
    return vmmk__buf_take(&b);
}

static int create_view(char **out, vmmk_vsphere *vs)
{
    *out = NULL;
    if (!vs->view_manager)
        return vmmk__err(VMMK_EUNSUPPORTED, "vSphere %s: the server has no ViewManager", vs->server);
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<CreateContainerView xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "ViewManager", vs->view_manager);
    vmmk__buf_puts(&b, "<container type=\"Folder\">");
    vmmk__xml_escape(&b, vs->root_folder);
    vmmk__buf_puts(&b, "</container><type>VirtualMachine</type><type>Folder</type><type>Datacenter</type>"
                       "<recursive>true</recursive></CreateContainerView>");
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    vmmk__soap_response r;
    int rc = vmmk__vs_call(vs, "CreateContainerView", body, &r);
    free(body);
    if (rc)
        return rc;
    *out = vmmk__xml_child_text(r.body, "returnval");
    vmmk__soap_response_clear(&r);
    if (!*out || !**out) {
        free(*out);
        *out = NULL;
        return vmmk__err(VMMK_EPARSE, "vSphere %s: CreateContainerView: no view in the reply", vs->server);
    }
    return 0;
}

static void destroy_view(vmmk_vsphere *vs, const char *view, int rc)
{
    saved_error se;
    if (rc)
        error_save(&se);
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<DestroyView xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "ContainerView", view);
    vmmk__buf_puts(&b, "</DestroyView>");
    char *body = vmmk__buf_take(&b);
    vmmk__soap_response r;
    if (body && vmmk__vs_call(vs, "DestroyView", body, &r) == 0)
        vmmk__soap_response_clear(&r);
    else
        vmmk__log(VMMK_LOG_DEBUG, "vSphere %s: DestroyView failed (the view dies with the session)",
                  vs->server);
    free(body);
    if (rc)
        error_restore(&se);
}

int vmmk_vsphere_list_vms(vmmk_vm_summary_list **out, vmmk_vsphere *vs)
{
    if (!out || !vs)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_list_vms: %s is NULL", out ? "session" : "out");
    *out = NULL;
    unsigned long calls0 = vs->calls;
    char *view = NULL;
    int rc = create_view(&view, vs);
    if (rc)
        return rc;
    vmmk__vs_listing *l = vmmk__vs_listing_new();
    char *body = listing_body(vs, view);
    unsigned pages = 0;
    if (!l || !body) {
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    } else {
        vmmk__soap_response r;
        rc = vmmk__vs_call(vs, "RetrievePropertiesEx", body, &r);
        if (!rc)
            rc = vmmk__vs_listing_pages(l, &r, continue_page, cancel_page, vs, vs->server, &pages);
    }
    free(body);
    destroy_view(vs, view, rc);
    free(view);
    if (!rc)
        rc = vmmk__vs_listing_finish(out, l, vs->root_folder);
    vmmk__vs_listing_free(l);
    if (!rc)
        vmmk__log(VMMK_LOG_DEBUG, "vSphere %s: listed %zu VMs in %lu round trips (%u page%s)", vs->server,
                  (*out)->n, vs->calls - calls0, pages, pages == 1 ? "" : "s");
    return rc;
}

void vmmk_vm_summary_list_free(vmmk_vm_summary_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++)
        summary_clear(&list->vms[i]);
    free(list->vms);
    free(list);
}

int vmmk_vm_summary_list_to_json(char **out, const vmmk_vm_summary_list *list, unsigned flags)
{
    if (!out || !list)
        return vmmk__err(VMMK_EINVAL, "vmmk_vm_summary_list_to_json: %s is NULL", out ? "list" : "out");
    *out = NULL;
    json_object *root = json_object_new_object(), *arr = json_object_new_array();
    bool fail = !root || !arr;
    if (!fail) {
        fail |= json_object_object_add(root, "version", json_object_new_int(1)) != 0;
        fail |= json_object_object_add(root, "count", json_object_new_int64((int64_t)list->n)) != 0;
        fail |= json_object_object_add(root, "vms", arr) != 0;
        if (fail)
            json_object_put(arr);
    }
    for (size_t i = 0; !fail && i < list->n; i++) {
        const vmmk_vm_summary *s = &list->vms[i];
        json_object *o = json_object_new_object();
        if (!o || json_object_array_add(arr, o)) {
            json_object_put(o);
            fail = true;
            break;
        }
        fail |= vmmk__json_add_string(o, "name", s->name) != 0;
        fail |= vmmk__json_add_string(o, "moref", s->moref) != 0;
        fail |= vmmk__json_add_string(o, "path", s->path) != 0;
        fail |= vmmk__json_add_string(o, "uuid", s->uuid) != 0;
        fail |= vmmk__json_add_string(o, "instance_uuid", s->instance_uuid) != 0;
        fail |= vmmk__json_add_string(o, "guest_id", s->guest_id) != 0;
        fail |= vmmk__json_add_string(o, "power_state", vmmk_power_state_name(s->power_state)) != 0;
        fail |= json_object_object_add(o, "template", json_object_new_boolean(s->is_template)) != 0;
        fail |= json_object_object_add(o, "vcpus", json_object_new_int(s->vcpus)) != 0;
        fail |= json_object_object_add(o, "memory_mib", json_object_new_int64((int64_t)s->memory_mib)) != 0;
        fail |= json_object_object_add(o, "disks", json_object_new_int64((int64_t)s->n_disks)) != 0;
        fail |= json_object_object_add(o, "capacity_bytes",
                                       json_object_new_int64((int64_t)s->capacity_bytes)) != 0;
        fail |= json_object_object_add(o, "cbt_enabled", json_object_new_boolean(s->cbt_enabled)) != 0;
    }
    if (!fail && !(*out = vmmk__json_dump(root, flags)))
        fail = true;
    json_object_put(root);
    return fail ? vmmk__err(VMMK_ENOMEM, "out of memory writing the VM list") : 0;
}
