/* Image properties for a migrated VM (docs/image-properties.md has the
 * table and the reason for every choice).  They are the same whether they
 * land on a Glance image or in a Cinder volume's volume_image_metadata;
 * plain volume metadata is not read by Nova. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "guestos.h"
#include <vmmk/image.h>

/* More than the number of properties this file can set. */
#define MAX_PROPS 24

typedef struct prop {
    const char *key;
    char value[32];
} prop;

typedef struct prop_list {
    prop items[MAX_PROPS];
    size_t n;
} prop_list;

static void set(prop_list *l, const char *key, const char *value)
{
    /* MAX_PROPS is above what the rules below can produce. */
    if (l->n == MAX_PROPS)
        return;
    l->items[l->n].key = key;
    snprintf(l->items[l->n].value, sizeof l->items[l->n].value, "%s", value);
    l->n++;
}

static int scsi_family(vmmk_controller c)
{
    return c == VMMK_CONTROLLER_PVSCSI || c == VMMK_CONTROLLER_LSILOGIC ||
           c == VMMK_CONTROLLER_LSILOGICSAS || c == VMMK_CONTROLLER_BUSLOGIC;
}

/* The QEMU model of an emulated SCSI controller the guest already drives. */
static const char *emulated_scsi_model(vmmk_controller c)
{
    switch (c) {
    case VMMK_CONTROLLER_LSILOGIC: return "lsilogic";
    case VMMK_CONTROLLER_LSILOGICSAS: return "lsisas1068";
    case VMMK_CONTROLLER_BUSLOGIC: return "buslogic";
    case VMMK_CONTROLLER_PVSCSI: return "vmpvscsi";
    default: return NULL;
    }
}

static void disk_bus(prop_list *l, const vmmk_vm *vm, const vmmk_image_options *o, bool q35)
{
    /* Nova boots from the first block device and a guest finds its root
     * through the controller of that disk; the other disks follow it. */
    bool has_disk = vm->n_disks > 0;
    vmmk_controller boot = has_disk ? vm->disks[0].controller : VMMK_CONTROLLER_PVSCSI;
    const char *bus = "virtio", *scsi_model = NULL;
    switch (o->disk_bus) {
    case VMMK_DISK_BUS_AUTO:
        if (!has_disk)
            break;
        if (o->converted) {
            /* virtio-scsi for SCSI guests: disks keep their /dev/sdX names
             * (fstab by device keeps working), discard passes through, and
             * one controller takes hundreds of disks. */
            if (scsi_family(boot)) {
                bus = "scsi";
                scsi_model = "virtio-scsi";
            }
            break;
        }
        if (scsi_family(boot)) {
            bus = "scsi";
            scsi_model = emulated_scsi_model(boot);
        } else if (boot == VMMK_CONTROLLER_IDE) {
            /* q35 has no IDE controller; every guest that boots UEFI has
             * an AHCI driver. */
            bus = q35 ? "sata" : "ide";
        } else {
            /* SATA, and NVMe: Nova has no NVMe bus for images, and AHCI is
             * the emulated controller a guest is most likely to drive. */
            bus = "sata";
        }
        break;
    case VMMK_DISK_BUS_VIRTIO:
        break;
    case VMMK_DISK_BUS_SCSI:
        bus = "scsi";
        scsi_model = "virtio-scsi";
        if (!o->converted) {
            /* The guest's own emulated controller when it has one; else
             * the LSI model, which old guests most often ship a driver for. */
            scsi_model = has_disk && scsi_family(boot) ? emulated_scsi_model(boot) : "lsilogic";
        }
        break;
    case VMMK_DISK_BUS_SATA:
        bus = "sata";
        break;
    case VMMK_DISK_BUS_IDE:
        bus = "ide";
        break;
    }
    set(l, "hw_disk_bus", bus);
    if (scsi_model)
        set(l, "hw_scsi_model", scsi_model);
}

static const char *vif_model(const vmmk_vm *vm, const vmmk_image_options *o)
{
    switch (o->vif_model) {
    case VMMK_VIF_MODEL_VIRTIO: return "virtio";
    case VMMK_VIF_MODEL_E1000: return "e1000";
    case VMMK_VIF_MODEL_E1000E: return "e1000e";
    case VMMK_VIF_MODEL_VMXNET3: return "vmxnet3";
    case VMMK_VIF_MODEL_AUTO: break;
    }
    if (o->converted || vm->n_nics == 0)
        return "virtio";
    switch (vm->nics[0].adapter) {
    case VMMK_ADAPTER_E1000: return "e1000";
    case VMMK_ADAPTER_E1000E: return "e1000e";
    case VMMK_ADAPTER_VMXNET3: return "vmxnet3";
    /* QEMU has no vmxnet2; its drivers are e1000-era guests. */
    case VMMK_ADAPTER_VMXNET2: return "e1000";
    case VMMK_ADAPTER_PCNET32: return "pcnet";
    /* SR-IOV needs a passthrough port; the guest's regular NIC is virtio. */
    case VMMK_ADAPTER_SRIOV: return "virtio";
    }
    return "virtio";
}

static int cmp_prop(const void *a, const void *b)
{
    return strcmp(((const prop *)a)->key, ((const prop *)b)->key);
}

static int check_options(const vmmk_image_options *o)
{
    if (o->version != VMMK_IMAGE_OPTIONS_VERSION)
        return vmmk__err(VMMK_EINVAL, "image options: version %u is not supported (expected %d)",
                         o->version, VMMK_IMAGE_OPTIONS_VERSION);
    if ((unsigned)o->disk_bus > (unsigned)VMMK_DISK_BUS_IDE)
        return vmmk__err(VMMK_EINVAL, "image options: disk_bus: invalid value %d", (int)o->disk_bus);
    if ((unsigned)o->vif_model > (unsigned)VMMK_VIF_MODEL_VMXNET3)
        return vmmk__err(VMMK_EINVAL, "image options: vif_model: invalid value %d", (int)o->vif_model);
    return 0;
}

int vmmk_image_properties(vmmk_properties **out, const vmmk_vm *vm, const vmmk_image_options *opts)
{
    if (!out || !vm)
        return vmmk__err(VMMK_EINVAL, "vmmk_image_properties: %s is NULL", out ? "vm" : "out");
    *out = NULL;
    static const vmmk_image_options defaults = VMMK_IMAGE_OPTIONS_INIT;
    const vmmk_image_options *o = opts ? opts : &defaults;
    int rc = check_options(o);
    if (rc)
        return rc;
    if (vmmk_vm_validate(vm))
        return vmmk__err_prefix("VM \"%s\"", vm->name ? vm->name : "(unnamed)");

    prop_list l = { .n = 0 };
    bool windows = vmmk__guest_is_windows(vm->guest_id, vm->guest_name);
    set(&l, "os_type", windows ? "windows" : "linux");
    const char *distro;
    char version[16];
    if (vmmk__guest_os(vm->guest_id, &distro, version, sizeof version)) {
        set(&l, "os_distro", distro);
        if (version[0])
            set(&l, "os_version", version);
    }
    /* BIOS guests get the cloud's default machine type: it is what the
     * operator tested, and old guests may lack drivers for q35's chipset. */
    bool q35 = vm->firmware == VMMK_FIRMWARE_EFI;
    if (q35) {
        set(&l, "hw_firmware_type", "uefi");
        set(&l, "hw_machine_type", "q35");
    }
    if (vm->secure_boot)
        set(&l, "os_secure_boot", "required");
    if (vm->vtpm) {
        set(&l, "hw_tpm_version", "2.0");
        set(&l, "hw_tpm_model", "tpm-crb");
    }
    disk_bus(&l, vm, o, q35);
    set(&l, "hw_vif_model", vif_model(vm, o));
    if (o->qemu_guest_agent)
        set(&l, "hw_qemu_guest_agent", "yes");
    set(&l, "hw_rng_model", "virtio");
    if (vm->cores_per_socket > 1) {
        /* Nova's default is one socket per vCPU, but Windows desktop
         * editions use at most 2 sockets (8 vCPUs as 8 sockets leave 6
         * idle) and per-socket licences were sized for the source. */
        char n[16];
        snprintf(n, sizeof n, "%" PRId32, vm->vcpus / vm->cores_per_socket);
        set(&l, "hw_cpu_sockets", n);
        snprintf(n, sizeof n, "%" PRId32, vm->cores_per_socket);
        set(&l, "hw_cpu_cores", n);
        set(&l, "hw_cpu_threads", "1");
    }
    qsort(l.items, l.n, sizeof l.items[0], cmp_prop);

    vmmk_properties *p = calloc(1, sizeof *p);
    if (!p || !(p->keys = calloc(l.n, sizeof *p->keys)) ||
        !(p->values = calloc(l.n, sizeof *p->values)))
        goto nomem;
    for (size_t i = 0; i < l.n; i++) {
        p->keys[i] = strdup(l.items[i].key);
        p->values[i] = strdup(l.items[i].value);
        p->n++;
        if (!p->keys[i] || !p->values[i])
            goto nomem;
    }
    *out = p;
    return 0;
nomem:
    vmmk_properties_free(p);
    return vmmk__err(VMMK_ENOMEM, "out of memory");
}

const char *vmmk_properties_get(const vmmk_properties *props, const char *key)
{
    if (!props || !key)
        return NULL;
    for (size_t i = 0; i < props->n; i++)
        if (strcmp(props->keys[i], key) == 0)
            return props->values[i];
    return NULL;
}

int vmmk_properties_to_json(char **out, const vmmk_properties *props, unsigned flags)
{
    if (!out || !props)
        return vmmk__err(VMMK_EINVAL, "vmmk_properties_to_json: %s is NULL", out ? "props" : "out");
    *out = NULL;
    json_object *o = json_object_new_object();
    for (size_t i = 0; o && i < props->n; i++) {
        if (vmmk__json_add_string(o, props->keys[i], props->values[i])) {
            json_object_put(o);
            o = NULL;
        }
    }
    *out = o ? vmmk__json_dump(o, flags) : NULL;
    json_object_put(o);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory writing image properties");
}

void vmmk_properties_free(vmmk_properties *props)
{
    if (!props)
        return;
    for (size_t i = 0; i < props->n; i++) {
        free(props->keys[i]);
        free(props->values[i]);
    }
    free(props->keys);
    free(props->values);
    free(props);
}

int vmmk_properties_new(vmmk_properties **out)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_properties_new: out is NULL");
    *out = calloc(1, sizeof **out);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory creating a property list");
}

int vmmk_properties_set(vmmk_properties *props, const char *key, const char *value)
{
    if (!props || !key || !*key || !value)
        return vmmk__err(VMMK_EINVAL, "vmmk_properties_set: %s",
                         !props ? "props is NULL" : !key || !*key ? "empty key" : "value is NULL");
    size_t i = 0;
    while (i < props->n && strcmp(props->keys[i], key) < 0)
        i++;
    char *v = strdup(value);
    if (!v)
        return vmmk__err(VMMK_ENOMEM, "out of memory setting property %s", key);
    if (i < props->n && strcmp(props->keys[i], key) == 0) {
        free(props->values[i]);
        props->values[i] = v;
        return 0;
    }
    char *k = strdup(key);
    char **nk = k ? realloc(props->keys, (props->n + 1) * sizeof *nk) : NULL;
    if (nk)
        props->keys = nk;
    char **nv = nk ? realloc(props->values, (props->n + 1) * sizeof *nv) : NULL;
    if (!nv) {
        free(k);
        free(v);
        return vmmk__err(VMMK_ENOMEM, "out of memory setting property %s", key);
    }
    props->values = nv;
    memmove(props->keys + i + 1, props->keys + i, (props->n - i) * sizeof *nk);
    memmove(props->values + i + 1, props->values + i, (props->n - i) * sizeof *nv);
    props->keys[i] = k;
    props->values[i] = v;
    props->n++;
    return 0;
}

int vmmk_properties_unset(vmmk_properties *props, const char *key)
{
    if (!props || !key)
        return vmmk__err(VMMK_EINVAL, "vmmk_properties_unset: %s is NULL", props ? "key" : "props");
    for (size_t i = 0; i < props->n; i++) {
        if (strcmp(props->keys[i], key) == 0) {
            free(props->keys[i]);
            free(props->values[i]);
            memmove(props->keys + i, props->keys + i + 1, (props->n - i - 1) * sizeof *props->keys);
            memmove(props->values + i, props->values + i + 1,
                    (props->n - i - 1) * sizeof *props->values);
            props->n--;
            break;
        }
    }
    return 0;
}

/* ---- option names ----------------------------------------------------- */

static const char *const bus_names[] = { "auto", "virtio", "scsi", "sata", "ide" };
static const char *const vif_names[] = { "auto", "virtio", "e1000", "e1000e", "vmxnet3" };

/* Case is ignored: these come from command lines and config files. */
static int parse_choice(int *out, const char *what, const char *name, const char *const *names,
                        size_t n)
{
    for (size_t i = 0; name && i < n; i++) {
        if (strcasecmp(name, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    vmmk__buf b = { 0 };
    for (size_t i = 0; i < n; i++)
        vmmk__buf_printf(&b, "%s\"%s\"", i == 0 ? "" : i + 1 == n ? " or " : ", ", names[i]);
    char *choices = vmmk__buf_take(&b);
    int rc = name ? vmmk__err(VMMK_EINVAL, "%s \"%s\" is not one of %s", what, name,
                              choices ? choices : "")
                  : vmmk__err(VMMK_EINVAL, "%s: no value given (one of %s)", what,
                              choices ? choices : "");
    free(choices);
    return rc;
}

int vmmk_disk_bus_parse(vmmk_disk_bus *out, const char *name)
{
    int v = 0;
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_disk_bus_parse: out is NULL");
    int rc = parse_choice(&v, "disk bus", name, bus_names, sizeof bus_names / sizeof *bus_names);
    if (!rc)
        *out = (vmmk_disk_bus)v;
    return rc;
}

int vmmk_vif_model_parse(vmmk_vif_model *out, const char *name)
{
    int v = 0;
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vif_model_parse: out is NULL");
    int rc = parse_choice(&v, "NIC model", name, vif_names, sizeof vif_names / sizeof *vif_names);
    if (!rc)
        *out = (vmmk_vif_model)v;
    return rc;
}
