/* Describe a vSphere VM into the VM model with one RetrieveProperties call:
 * the VM's properties plus, through traversal specs on its datastore and
 * network lists, the names of its datastores and networks (docs/vsphere.md). */
#include "inventory.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/internal.h"
#include "../model/model.h"

static const char *const VM_PROPS[] = {
    "name", "config.uuid", "config.instanceUuid", "config.guestId", "config.guestFullName",
    "config.firmware", "config.bootOptions.efiSecureBootEnabled", "config.hardware.numCPU",
    "config.hardware.numCoresPerSocket", "config.hardware.memoryMB", "config.hardware.device",
    "config.changeTrackingEnabled", "runtime.powerState", "guest.net", "guest.guestFullName",
    "summary.config",
};

static const struct { const char *type; vmmk_controller c; } CONTROLLERS[] = {
    { "ParaVirtualSCSIController", VMMK_CONTROLLER_PVSCSI },
    { "VirtualLsiLogicController", VMMK_CONTROLLER_LSILOGIC },
    { "VirtualLsiLogicSASController", VMMK_CONTROLLER_LSILOGICSAS },
    { "VirtualBusLogicController", VMMK_CONTROLLER_BUSLOGIC },
    { "VirtualAHCIController", VMMK_CONTROLLER_SATA },
    { "VirtualSATAController", VMMK_CONTROLLER_SATA },
    { "VirtualIDEController", VMMK_CONTROLLER_IDE },
    { "VirtualNVMEController", VMMK_CONTROLLER_NVME },
};

static const struct { const char *type; vmmk_nic_adapter a; } ADAPTERS[] = {
    { "VirtualVmxnet3", VMMK_ADAPTER_VMXNET3 },
    { "VirtualVmxnet3Vrdma", VMMK_ADAPTER_VMXNET3 },   /* vmxnet3 with RDMA: a vmxnet3 to the guest */
    { "VirtualVmxnet2", VMMK_ADAPTER_VMXNET2 },
    { "VirtualE1000", VMMK_ADAPTER_E1000 },
    { "VirtualE1000e", VMMK_ADAPTER_E1000E },
    { "VirtualPCNet32", VMMK_ADAPTER_PCNET32 },
    { "VirtualSriovEthernetCard", VMMK_ADAPTER_SRIOV },
};

/* A datastore or network the VM uses, from the traversal. */
typedef struct ref {
    char *type, *moref, *name;
    char *key;                 /* DistributedVirtualPortgroup.key */
    char *opaque_id;           /* OpaqueNetwork.summary.opaqueNetworkId */
} ref;

typedef struct refs {
    ref *v;
    size_t n;
} refs;

static void refs_clear(refs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].type);
        free(r->v[i].moref);
        free(r->v[i].name);
        free(r->v[i].key);
        free(r->v[i].opaque_id);
    }
    free(r->v);
}

/* The name of the referenced object whose @p field ("moref", "key",
 * "opaque") equals @p value, or NULL. */
static const char *ref_name(const refs *r, const char *field, const char *value)
{
    for (size_t i = 0; value && i < r->n; i++) {
        const ref *x = &r->v[i];
        const char *v = strcmp(field, "key") == 0 ? x->key : strcmp(field, "opaque") == 0 ? x->opaque_id
                                                                                          : x->moref;
        if (v && x->name && strcmp(v, value) == 0)
            return x->name;
    }
    return NULL;
}

static char *nonempty_or_null(char *s)
{
    if (s && !*s) {
        free(s);
        return NULL;
    }
    return s;
}

/* First non-empty of a VM property and a child of summary.config. */
static char *vm_string(xmlNodePtr oc, const char *prop, xmlNodePtr summary, const char *field)
{
    char *s = nonempty_or_null(vmmk__vs_prop_text(oc, prop));
    if (!s && summary && field)
        s = nonempty_or_null(vmmk__xml_child_text(summary, field));
    return s;
}

static long long vm_int(xmlNodePtr oc, const char *prop, xmlNodePtr summary, const char *field)
{
    char *s = vmmk__vs_prop_text(oc, prop);
    if (!s && summary && field)
        s = vmmk__xml_child_text(summary, field);
    long long v = s ? strtoll(s, NULL, 10) : 0;
    free(s);
    return v;
}

static bool vm_true(xmlNodePtr oc, const char *prop)
{
    char *s = vmmk__vs_prop_text(oc, prop);
    bool t = s && strcmp(s, "true") == 0;
    free(s);
    return t;
}

static int child_int(xmlNodePtr n, const char *name, long long dflt)
{
    long long v = dflt;
    bool present = false;
    if (vmmk__xml_child_int64(n, name, &v, &present) || !present)
        v = dflt;
    return v < INT32_MIN || v > INT32_MAX ? (int)dflt : (int)v;
}

static char *label_of(xmlNodePtr dev)
{
    xmlNodePtr di = vmmk__xml_child(dev, "deviceInfo");
    return di ? nonempty_or_null(vmmk__xml_child_text(di, "label")) : NULL;
}

/* ---- disks ----------------------------------------------------------- */

typedef struct controller {
    int key;
    char *type;
} controller;

static int fill_disk(vmmk_disk *d, xmlNodePtr dev, const controller *ctl, size_t n_ctl, const refs *r)
{
    d->key = child_int(dev, "key", 0);
    d->label = label_of(dev);
    d->capacity_bytes = vmmk__vs_disk_capacity(dev);
    d->unit = child_int(dev, "unitNumber", -1);
    xmlNodePtr b = vmmk__xml_child(dev, "backing");
    char *btype = b ? vmmk__xml_type(b) : NULL;
    if (b) {
        d->file = nonempty_or_null(vmmk__xml_child_text(b, "fileName"));
        d->change_id = nonempty_or_null(vmmk__xml_child_text(b, "changeId"));
        bool present = false, thin = false;
        if (vmmk__xml_child_bool(b, "thinProvisioned", &thin, &present) == 0 && present)
            d->thin = thin;
        else    /* sparse formats allocate on write: thin by nature */
            d->thin = btype && strstr(btype, "Sparse") != NULL;
        char *ds = vmmk__xml_child_text(b, "datastore");
        const char *name = ref_name(r, "moref", ds);
        free(ds);
        if (name)
            d->datastore = strdup(name);
    }
    free(btype);
    if (!d->datastore && d->file && d->file[0] == '[') {
        const char *close = strchr(d->file, ']');
        if (close && close > d->file + 1)
            d->datastore = strndup(d->file + 1, (size_t)(close - d->file - 1));
    }
    int ckey = child_int(dev, "controllerKey", -1);
    for (size_t i = 0; i < n_ctl; i++) {
        if (ctl[i].key != ckey)
            continue;
        for (size_t k = 0; k < sizeof CONTROLLERS / sizeof *CONTROLLERS; k++) {
            if (strcmp(ctl[i].type, CONTROLLERS[k].type) == 0) {
                d->controller = CONTROLLERS[k].c;
                return 0;
            }
        }
        return vmmk__err(VMMK_EUNSUPPORTED, "disk %d (%s) is on controller %d, a %s, which vmmk does not know",
                         d->key, d->label ? d->label : "no label", ckey, ctl[i].type);
    }
    return vmmk__err(VMMK_EUNSUPPORTED, "disk %d (%s): its controller %d is not among the VM's devices",
                     d->key, d->label ? d->label : "no label", ckey);
}

/* ---- NICs ------------------------------------------------------------ */

static bool link_local(const char *ip)
{
    return strncmp(ip, "169.254.", 8) == 0 || strncasecmp(ip, "fe8", 3) == 0 ||
           strncasecmp(ip, "fe9", 3) == 0 || strncasecmp(ip, "fea", 3) == 0 || strncasecmp(ip, "feb", 3) == 0;
}

static int add_ip(vmmk_nic *n, char *ip)
{
    /* Link-local addresses are made up by the guest on every boot, and
     * an address the model cannot read is dropped rather than failing the
     * whole description. */
    if (!ip || link_local(ip) || !vmmk__ip_parse(ip, NULL, NULL, NULL, NULL)) {
        if (ip)
            vmmk__log(VMMK_LOG_DEBUG, "NIC %d: guest address %s skipped", n->key, ip);
        free(ip);
        return 0;
    }
    for (size_t i = 0; i < n->n_ips; i++) {
        if (strcmp(n->ips[i], ip) == 0) {
            free(ip);
            return 0;
        }
    }
    char **v = realloc(n->ips, (n->n_ips + 1) * sizeof *v);
    if (!v) {
        free(ip);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    n->ips = v;
    n->ips[n->n_ips++] = ip;
    return 0;
}

/* guest.net[] entries of this NIC (deviceConfigId == key): ipConfig gives
 * "addr/prefix"; without it (old tools) the bare ipAddress[] list. */
static int fill_ips(vmmk_nic *n, xmlNodePtr guest_net)
{
    for (xmlNodePtr g = guest_net ? vmmk__xml_child(guest_net, NULL) : NULL; g; g = vmmk__xml_next(g, NULL)) {
        if (child_int(g, "deviceConfigId", -1) != n->key)
            continue;
        int rc = 0;
        xmlNodePtr cfg = vmmk__xml_child(g, "ipConfig");
        if (cfg) {
            for (xmlNodePtr a = vmmk__xml_child(cfg, "ipAddress"); a && !rc; a = vmmk__xml_next(a, "ipAddress")) {
                char *addr = vmmk__xml_child_text(a, "ipAddress");
                int prefix = child_int(a, "prefixLength", -1);
                char *ip = !addr ? NULL : prefix >= 0 ? vmmk__asprintf("%s/%d", addr, prefix) : strdup(addr);
                free(addr);
                rc = add_ip(n, ip);
            }
        } else {
            for (xmlNodePtr a = vmmk__xml_child(g, "ipAddress"); a && !rc; a = vmmk__xml_next(a, "ipAddress"))
                rc = add_ip(n, vmmk__xml_text(a));
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int fill_nic(vmmk_nic *n, xmlNodePtr dev, vmmk_nic_adapter adapter, const refs *r, xmlNodePtr guest_net)
{
    n->key = child_int(dev, "key", 0);
    n->label = label_of(dev);
    n->adapter = adapter;
    char *mac = vmmk__xml_child_text(dev, "macAddress");
    if (mac && vmmk_mac_normalize(&n->mac, mac)) {
        free(mac);
        return vmmk__err_prefix("NIC %d (%s)", n->key, n->label ? n->label : "no label");
    }
    free(mac);
    xmlNodePtr b = vmmk__xml_child(dev, "backing");
    char *btype = b ? vmmk__xml_type(b) : NULL;
    const char *name = NULL;
    char *fallback = NULL;
    if (btype && strstr(btype, "DistributedVirtualPortBackingInfo")) {
        xmlNodePtr port = vmmk__xml_child(b, "port");
        n->portgroup_key = port ? nonempty_or_null(vmmk__xml_child_text(port, "portgroupKey")) : NULL;
        n->switch_uuid = port ? nonempty_or_null(vmmk__xml_child_text(port, "switchUuid")) : NULL;
        name = ref_name(r, "key", n->portgroup_key);
        if (!name)
            name = ref_name(r, "moref", n->portgroup_key);
        if (!name && n->portgroup_key)
            fallback = strdup(n->portgroup_key);
    } else if (btype && strstr(btype, "OpaqueNetworkBackingInfo")) {
        char *id = nonempty_or_null(vmmk__xml_child_text(b, "opaqueNetworkId"));
        name = ref_name(r, "opaque", id);
        fallback = id;
    } else if (b) {
        char *net = vmmk__xml_child_text(b, "network");
        name = ref_name(r, "moref", net);
        free(net);
        fallback = nonempty_or_null(vmmk__xml_child_text(b, "deviceName"));
    }
    free(btype);
    if (name) {
        n->network = strdup(name);
        free(fallback);
    } else {
        n->network = fallback;
        if (fallback)
            vmmk__log(VMMK_LOG_DEBUG, "NIC %d: network name not found; using \"%s\"", n->key, fallback);
    }
    if (!n->network)
        return vmmk__err(VMMK_EINVAL, "NIC %d (%s) has no network in its backing", n->key,
                         n->label ? n->label : "no label");
    return fill_ips(n, guest_net);
}

/* ---- the VM ---------------------------------------------------------- */

static int fill_devices(vmmk_vm *vm, xmlNodePtr devs, const refs *r, xmlNodePtr guest_net)
{
    size_t n_dev = 0, n_ctl = 0;
    for (xmlNodePtr d = vmmk__xml_child(devs, NULL); d; d = vmmk__xml_next(d, NULL))
        n_dev++;
    controller *ctl = calloc(n_dev ? n_dev : 1, sizeof *ctl);
    vm->disks = calloc(n_dev ? n_dev : 1, sizeof *vm->disks);
    vm->nics = calloc(n_dev ? n_dev : 1, sizeof *vm->nics);
    if (!ctl || !vm->disks || !vm->nics) {
        free(ctl);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    /* Controllers first: a disk may come before its controller. */
    for (xmlNodePtr d = vmmk__xml_child(devs, NULL); d; d = vmmk__xml_next(d, NULL)) {
        char *type = vmmk__xml_type(d);
        if (type && strstr(type, "Controller")) {
            ctl[n_ctl].key = child_int(d, "key", -1);
            ctl[n_ctl++].type = type;
        } else {
            free(type);
        }
    }
    int rc = 0;
    for (xmlNodePtr d = vmmk__xml_child(devs, NULL); d && !rc; d = vmmk__xml_next(d, NULL)) {
        char *type = vmmk__xml_type(d);
        if (!type) {
            free(type);
            continue;
        }
        size_t k;
        for (k = 0; k < sizeof ADAPTERS / sizeof *ADAPTERS; k++)
            if (strcmp(type, ADAPTERS[k].type) == 0)
                break;
        if (strcmp(type, "VirtualDisk") == 0) {
            rc = fill_disk(&vm->disks[vm->n_disks++], d, ctl, n_ctl, r);
        } else if (k < sizeof ADAPTERS / sizeof *ADAPTERS) {
            rc = fill_nic(&vm->nics[vm->n_nics++], d, ADAPTERS[k].a, r, guest_net);
        } else if (strcmp(type, "VirtualTPM") == 0) {
            vm->vtpm = true;
        } else if (vmmk__xml_child(d, "macAddress")) {
            /* An ethernet card of a kind the model has no adapter for
             * (vmxnet 1): leaving it out changes the VM, so say so. */
            vmmk__log(VMMK_LOG_WARN, "VM %s: NIC %d is a %s, which vmmk does not know; left out", vm->moref,
                      child_int(d, "key", 0), type);
        } else {
            vmmk__log(VMMK_LOG_DEBUG, "VM %s: device %d (%s) ignored", vm->moref, child_int(d, "key", 0), type);
        }
        free(type);
    }
    for (size_t i = 0; i < n_ctl; i++)
        free(ctl[i].type);
    free(ctl);
    return rc;
}

static int fill_vm(vmmk_vm *vm, xmlNodePtr oc, const refs *r)
{
    xmlNodePtr sc = vmmk__vs_prop(oc, "summary.config");
    char *raw = vm_string(oc, "name", sc, "name");
    vm->name = vmmk__vs_unescape_name(raw);
    free(raw);
    vm->uuid = vm_string(oc, "config.uuid", sc, "uuid");
    vm->instance_uuid = vm_string(oc, "config.instanceUuid", sc, "instanceUuid");
    vm->guest_id = vm_string(oc, "config.guestId", sc, "guestId");
    vm->guest_name = vm_string(oc, "config.guestFullName", sc, "guestFullName");
    if (!vm->guest_name)
        vm->guest_name = vm_string(oc, "guest.guestFullName", NULL, NULL);
    xmlNodePtr devs = vmmk__vs_prop(oc, "config.hardware.device");
    if (!vm->name || !vm->uuid || !vm->guest_id || !devs)
        return vmmk__err(VMMK_ESTATE, "the VM has no readable configuration (%s missing): inaccessible or "
                         "orphaned?", !vm->name ? "name" : !vm->uuid ? "config.uuid"
                         : !vm->guest_id ? "config.guestId" : "config.hardware.device");
    char *fw = vmmk__vs_prop_text(oc, "config.firmware");
    vm->firmware = fw && strcmp(fw, "efi") == 0 ? VMMK_FIRMWARE_EFI : VMMK_FIRMWARE_BIOS;
    free(fw);
    vm->secure_boot = vm->firmware == VMMK_FIRMWARE_EFI && vm_true(oc, "config.bootOptions.efiSecureBootEnabled");
    long long cpus = vm_int(oc, "config.hardware.numCPU", sc, "numCpu");
    long long cores = vm_int(oc, "config.hardware.numCoresPerSocket", NULL, NULL);
    long long mem = vm_int(oc, "config.hardware.memoryMB", sc, "memorySizeMB");
    vm->vcpus = cpus > 0 && cpus <= INT32_MAX ? (int32_t)cpus : 0;
    vm->cores_per_socket = cores > 0 && cores <= vm->vcpus && vm->vcpus % cores == 0 ? (int32_t)cores : 1;
    vm->memory_mib = mem > 0 ? (uint64_t)mem : 0;
    char *ps = vmmk__vs_prop_text(oc, "runtime.powerState");
    if (ps && vmmk_power_state_parse(&vm->power_state, ps))
        vmmk__log(VMMK_LOG_DEBUG, "VM %s: unknown power state \"%s\"", vm->moref, ps);
    free(ps);
    vm->cbt_enabled = vm_true(oc, "config.changeTrackingEnabled");
    return fill_devices(vm, devs, r, vmmk__vs_prop(oc, "guest.net"));
}

static int add_ref(refs *r, xmlNodePtr oc, char *type, char *moref)
{
    ref *v = realloc(r->v, (r->n + 1) * sizeof *v);
    if (!v) {
        free(type);
        free(moref);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    r->v = v;
    ref *x = &r->v[r->n++];
    memset(x, 0, sizeof *x);
    x->type = type;
    x->moref = moref;
    char *raw = nonempty_or_null(vmmk__vs_prop_text(oc, "name"));
    x->name = vmmk__vs_unescape_name(raw);
    free(raw);
    x->key = nonempty_or_null(vmmk__vs_prop_text(oc, "key"));
    xmlNodePtr sum = vmmk__vs_prop(oc, "summary");
    x->opaque_id = sum ? nonempty_or_null(vmmk__xml_child_text(sum, "opaqueNetworkId")) : NULL;
    return 0;
}

int vmmk__vs_vm_from_reply(vmmk_vm **out, xmlNodePtr body, const char *moref, const char *server)
{
    *out = NULL;
    refs r = { NULL, 0 };
    xmlNodePtr vmoc = NULL;
    int rc = 0;
    for (xmlNodePtr oc = body ? vmmk__xml_child(body, "returnval") : NULL; oc && !rc;
         oc = vmmk__xml_next(oc, "returnval")) {
        xmlNodePtr obj = vmmk__xml_child(oc, "obj");
        char *type = obj ? vmmk__xml_attr(obj, "type") : NULL;
        char *id = obj ? vmmk__xml_text(obj) : NULL;
        if (type && id && strcmp(type, "VirtualMachine") == 0 && strcmp(id, moref) == 0) {
            vmoc = oc;
            free(type);
            free(id);
        } else if (type && id) {
            rc = add_ref(&r, oc, type, id);
        } else {
            free(type);
            free(id);
        }
    }
    if (!rc && !vmoc)
        rc = vmmk__err(VMMK_ENOTFOUND, "vSphere %s: VM %s: not found", server, moref);
    vmmk_vm *vm = NULL;
    if (!rc && !(vm = calloc(1, sizeof *vm)))
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    if (!rc && !(vm->moref = strdup(moref)))
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    if (!rc && ((rc = fill_vm(vm, vmoc, &r)) || (rc = vmmk_vm_validate(vm))))
        vmmk__err_prefix("vSphere %s: VM %s (%s)", server, moref, vm->name ? vm->name : "no name");
    refs_clear(&r);
    if (rc) {
        vmmk_vm_free(vm);
        return rc;
    }
    *out = vm;
    return 0;
}

int vmmk_vsphere_describe_vm(vmmk_vm **out, vmmk_vsphere *vs, const char *moref)
{
    if (!out || !vs || !moref)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_describe_vm: %s is NULL",
                         !out ? "out" : !vs ? "session" : "moref");
    *out = NULL;
    if (!*moref)
        return vmmk__err(VMMK_EINVAL, "vSphere %s: no VM moref given", vs->server);
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<RetrieveProperties xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "PropertyCollector", vs->property_collector);
    vmmk__buf_puts(&b, "<specSet><propSet><type>VirtualMachine</type>");
    for (size_t i = 0; i < sizeof VM_PROPS / sizeof *VM_PROPS; i++)
        vmmk__buf_printf(&b, "<pathSet>%s</pathSet>", VM_PROPS[i]);
    /* Network matches its subtypes too; the portgroup key and the opaque
     * network id are what NIC backings refer to. */
    vmmk__buf_puts(&b, "</propSet>"
                       "<propSet><type>Datastore</type><pathSet>name</pathSet></propSet>"
                       "<propSet><type>Network</type><pathSet>name</pathSet></propSet>"
                       "<propSet><type>DistributedVirtualPortgroup</type><pathSet>name</pathSet>"
                       "<pathSet>key</pathSet></propSet>"
                       "<propSet><type>OpaqueNetwork</type><pathSet>name</pathSet><pathSet>summary</pathSet>"
                       "</propSet><objectSet><obj type=\"VirtualMachine\">");
    vmmk__xml_escape(&b, moref);
    vmmk__buf_puts(&b, "</obj><skip>false</skip>"
                       "<selectSet xsi:type=\"TraversalSpec\"><name>datastores</name><type>VirtualMachine</type>"
                       "<path>datastore</path><skip>false</skip></selectSet>"
                       "<selectSet xsi:type=\"TraversalSpec\"><name>networks</name><type>VirtualMachine</type>"
                       "<path>network</path><skip>false</skip></selectSet>"
                       "</objectSet></specSet></RetrieveProperties>");
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    vmmk__soap_response r;
    int rc = vmmk__vs_call(vs, "RetrieveProperties", body, &r);
    free(body);
    if (rc) {
        if (rc == VMMK_ENOTFOUND)
            vmmk__err_prefix("VM %s", moref);
        return rc;
    }
    rc = vmmk__vs_vm_from_reply(out, r.body, moref, vs->server);
    vmmk__soap_response_clear(&r);
    return rc;
}
