/* VM model <-> JSON (version 1) and validation (docs/vm-model.md). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "model.h"

#define MAX_VCPUS 4096
#define MAX_MEMORY_MIB (INT64_C(64) << 20)     /* 64 TiB */
#define MAX_CAPACITY (INT64_C(1) << 56)        /* 64 PiB: beyond any VMDK */
#define MAX_UNIT 254
#define MAX_DEVICES 4096

int vmmk__ip_parse(const char *ip, int *family, char *addr, unsigned *prefix, int *has_prefix)
{
    char buf[64];
    const char *slash = strchr(ip, '/');
    size_t alen = slash ? (size_t)(slash - ip) : strlen(ip);
    if (alen == 0 || alen >= sizeof buf)
        return 0;
    memcpy(buf, ip, alen);
    buf[alen] = '\0';
    unsigned char bin[16];
    int fam;
    if (inet_pton(AF_INET, buf, bin) == 1)
        fam = 4;
    else if (inet_pton(AF_INET6, buf, bin) == 1)
        fam = 6;
    else
        return 0;
    unsigned pfx = fam == 4 ? 32 : 128;
    if (slash) {
        const char *p = slash + 1;
        if (!*p || strlen(p) > 3)
            return 0;
        unsigned v = 0;
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return 0;
            v = v * 10 + (unsigned)(*p - '0');
        }
        if (v > (fam == 4 ? 32u : 128u))
            return 0;
        pfx = v;
    }
    if (family)
        *family = fam;
    if (addr)
        strcpy(addr, buf);
    if (prefix)
        *prefix = pfx;
    if (has_prefix)
        *has_prefix = slash != NULL;
    return 1;
}

static int nonempty(const char *s, const char *path, const char *field)
{
    if (s && !*s)
        return vmmk__err(VMMK_EINVAL, "%s%s%s: must not be empty", path, *path ? "." : "", field);
    return 0;
}

int vmmk_vm_validate(const vmmk_vm *vm)
{
    if (!vm)
        return vmmk__err(VMMK_EINVAL, "vmmk_vm_validate: vm is NULL");
    if (!vm->name || !*vm->name)
        return vmmk__err(VMMK_EINVAL, "name: must not be empty");
    if (!vm->uuid || !vm->moref || !vm->guest_id)
        return vmmk__err(VMMK_EINVAL, "%s: missing", !vm->uuid ? "uuid" : !vm->moref ? "moref" : "guest_id");
    int rc;
    if ((rc = nonempty(vm->uuid, "", "uuid")) || (rc = nonempty(vm->moref, "", "moref")) ||
        (rc = nonempty(vm->guest_id, "", "guest_id")))
        return rc;
    if (!vmmk_firmware_name(vm->firmware))
        return vmmk__err(VMMK_EINVAL, "firmware: invalid value %d", (int)vm->firmware);
    if (!vmmk_power_state_name(vm->power_state))
        return vmmk__err(VMMK_EINVAL, "power_state: invalid value %d", (int)vm->power_state);
    if (vm->vcpus < 1 || vm->vcpus > MAX_VCPUS)
        return vmmk__err(VMMK_EINVAL, "vcpus: %" PRId32 " is out of range (1..%d)", vm->vcpus,
                         MAX_VCPUS);
    if (vm->cores_per_socket < 1 || vm->cores_per_socket > vm->vcpus)
        return vmmk__err(VMMK_EINVAL, "cores_per_socket: %" PRId32 " is out of range (1..%" PRId32 ")",
                         vm->cores_per_socket, vm->vcpus);
    if (vm->vcpus % vm->cores_per_socket)
        return vmmk__err(VMMK_EINVAL, "cores_per_socket: %" PRId32 " does not divide vcpus %" PRId32,
                         vm->cores_per_socket, vm->vcpus);
    if (vm->memory_mib < 1 || vm->memory_mib > (uint64_t)MAX_MEMORY_MIB)
        return vmmk__err(VMMK_EINVAL, "memory_mib: %" PRIu64 " is out of range (1..%" PRId64 ")",
                         vm->memory_mib, MAX_MEMORY_MIB);
    if (vm->secure_boot && vm->firmware != VMMK_FIRMWARE_EFI)
        return vmmk__err(VMMK_EINVAL, "secure_boot: requires firmware \"efi\"");
    if (vm->n_disks > MAX_DEVICES || vm->n_nics > MAX_DEVICES)
        return vmmk__err(VMMK_EINVAL, "%s: more than %d entries", vm->n_disks > MAX_DEVICES ? "disks" : "nics", MAX_DEVICES);
    if ((vm->n_disks && !vm->disks) || (vm->n_nics && !vm->nics))
        return vmmk__err(VMMK_EINVAL, "%s: count without entries", vm->n_disks && !vm->disks ? "disks" : "nics");

    char p[64];
    for (size_t i = 0; i < vm->n_disks; i++) {
        const vmmk_disk *d = &vm->disks[i];
        snprintf(p, sizeof p, "disks[%zu]", i);
        if (d->capacity_bytes == 0 || d->capacity_bytes > (uint64_t)MAX_CAPACITY)
            return vmmk__err(VMMK_EINVAL, "%s.capacity_bytes: %" PRIu64 " is out of range (1..%" PRId64 ")",
                             p, d->capacity_bytes, MAX_CAPACITY);
        if (!d->file)
            return vmmk__err(VMMK_EINVAL, "%s.file: missing", p);
        const char *close = d->file[0] == '[' ? strchr(d->file, ']') : NULL;
        if (!close || close == d->file + 1 || close[1] != ' ' || !close[2])
            return vmmk__err(VMMK_EINVAL, "%s.file: \"%s\" is not of the form \"[datastore] path.vmdk\"",
                             p, d->file);
        if (!d->datastore || !*d->datastore)
            return vmmk__err(VMMK_EINVAL, "%s.datastore: missing", p);
        if (!vmmk_controller_name(d->controller))
            return vmmk__err(VMMK_EINVAL, "%s.controller: invalid value %d", p, (int)d->controller);
        if (d->unit < 0 || d->unit > MAX_UNIT)
            return vmmk__err(VMMK_EINVAL, "%s.unit: %" PRId32 " is out of range (0..%d)", p, d->unit, MAX_UNIT);
        if ((rc = nonempty(d->change_id, p, "change_id")))
            return rc;
        for (size_t j = 0; j < i; j++)
            if (vm->disks[j].key == d->key)
                return vmmk__err(VMMK_EINVAL, "%s.key: %" PRId32 " is used by disks[%zu] too", p, d->key, j);
    }
    for (size_t i = 0; i < vm->n_nics; i++) {
        const vmmk_nic *n = &vm->nics[i];
        snprintf(p, sizeof p, "nics[%zu]", i);
        if (!n->mac)
            return vmmk__err(VMMK_EINVAL, "%s.mac: missing", p);
        char *norm = NULL;
        if (vmmk_mac_normalize(&norm, n->mac))
            return vmmk__err_prefix("%s.mac", p);
        int same = strcmp(norm, n->mac) == 0;
        for (size_t j = 0; j < i; j++) {
            if (vm->nics[j].mac && strcasecmp(vm->nics[j].mac, norm) == 0) {
                free(norm);
                return vmmk__err(VMMK_EINVAL, "%s.mac: %s is used by nics[%zu] too", p, n->mac, j);
            }
        }
        free(norm);
        if (!same)
            return vmmk__err(VMMK_EINVAL, "%s.mac: \"%s\" is not in lowercase colon form", p, n->mac);
        if (!vmmk_nic_adapter_name(n->adapter))
            return vmmk__err(VMMK_EINVAL, "%s.adapter: invalid value %d", p, (int)n->adapter);
        if (!n->network || !*n->network)
            return vmmk__err(VMMK_EINVAL, "%s.network: %s", p, n->network ? "must not be empty" : "missing");
        if ((rc = nonempty(n->portgroup_key, p, "portgroup_key")) ||
            (rc = nonempty(n->switch_uuid, p, "switch_uuid")))
            return rc;
        if (n->n_ips && !n->ips)
            return vmmk__err(VMMK_EINVAL, "%s.ips: count without entries", p);
        for (size_t k = 0; k < n->n_ips; k++)
            if (!n->ips[k] || !vmmk__ip_parse(n->ips[k], NULL, NULL, NULL, NULL))
                return vmmk__err(VMMK_EINVAL, "%s.ips[%zu]: \"%s\" is not an IP address in CIDR form",
                                 p, k, n->ips[k] ? n->ips[k] : "(null)");
        for (size_t j = 0; j < i; j++)
            if (vm->nics[j].key == n->key)
                return vmmk__err(VMMK_EINVAL, "%s.key: %" PRId32 " is used by nics[%zu] too", p, n->key, j);
    }
    return 0;
}

/* ---- reading ---------------------------------------------------------- */

static int parse_enum(int which, int *out, const char *name)
{
    int rc = VMMK_EINVAL;
    switch (which) {
    case 0: { vmmk_firmware v; if (!(rc = vmmk_firmware_parse(&v, name))) *out = (int)v; break; }
    case 1: { vmmk_power_state v; if (!(rc = vmmk_power_state_parse(&v, name))) *out = (int)v; break; }
    case 2: { vmmk_controller v; if (!(rc = vmmk_controller_parse(&v, name))) *out = (int)v; break; }
    default: { vmmk_nic_adapter v; if (!(rc = vmmk_nic_adapter_parse(&v, name))) *out = (int)v; break; }
    }
    return rc;
}

/* A required enum member: @p which selects the table (see model.h). */
static int read_enum(const json_object *o, const char *path, const char *key, int which, int *out)
{
    char *s = NULL;
    int rc = vmmk__json_string(o, path, key, VMMK_J_REQUIRED, &s, NULL);
    if (rc)
        return rc;
    if (parse_enum(which, out, s)) {
        char fp[512];
        vmmk__json_path(fp, sizeof fp, path, key);
        rc = vmmk__err(VMMK_EINVAL, "%s: \"%s\" is not one of %s", fp, s, vmmk__enum_choices(which));
    }
    free(s);
    return rc;
}

static int read_disk(vmmk_disk *d, const json_object *o, const char *p)
{
    int64_t v;
    int rc;
    if ((rc = vmmk__json_expect_object(o, p)))
        return rc;
    if ((rc = vmmk__json_int64(o, p, "key", VMMK_J_REQUIRED, INT32_MIN, INT32_MAX, &v, NULL)))
        return rc;
    d->key = (int32_t)v;
    if ((rc = vmmk__json_string(o, p, "label", VMMK_J_NULLABLE, &d->label, NULL)))
        return rc;
    if ((rc = vmmk__json_int64(o, p, "capacity_bytes", VMMK_J_REQUIRED, 0, INT64_MAX, &v, NULL)))
        return rc;
    d->capacity_bytes = (uint64_t)v;
    if ((rc = vmmk__json_string(o, p, "file", VMMK_J_REQUIRED, &d->file, NULL)))
        return rc;
    if ((rc = vmmk__json_string(o, p, "datastore", VMMK_J_NULLABLE, &d->datastore, NULL)))
        return rc;
    if (!d->datastore && d->file[0] == '[') {
        /* Derive it from "[datastore] path" when the document leaves it out. */
        const char *close = strchr(d->file, ']');
        if (close && close > d->file + 1)
            d->datastore = strndup(d->file + 1, (size_t)(close - d->file - 1));
    }
    {
        int e = 0;
        if ((rc = read_enum(o, p, "controller", 2, &e)))
            return rc;
        d->controller = (vmmk_controller)e;
    }
    if ((rc = vmmk__json_int64(o, p, "unit", VMMK_J_REQUIRED, 0, MAX_UNIT, &v, NULL)))
        return rc;
    d->unit = (int32_t)v;
    if ((rc = vmmk__json_bool(o, p, "thin", VMMK_J_NULLABLE, &d->thin, NULL)))
        return rc;
    return vmmk__json_string(o, p, "change_id", VMMK_J_NULLABLE, &d->change_id, NULL);
}

static int read_nic(vmmk_nic *n, const json_object *o, const char *p)
{
    int64_t v;
    int rc;
    if ((rc = vmmk__json_expect_object(o, p)))
        return rc;
    if ((rc = vmmk__json_int64(o, p, "key", VMMK_J_REQUIRED, INT32_MIN, INT32_MAX, &v, NULL)))
        return rc;
    n->key = (int32_t)v;
    if ((rc = vmmk__json_string(o, p, "label", VMMK_J_NULLABLE, &n->label, NULL)))
        return rc;
    char *mac = NULL;
    if ((rc = vmmk__json_string(o, p, "mac", VMMK_J_REQUIRED, &mac, NULL)))
        return rc;
    rc = vmmk_mac_normalize(&n->mac, mac);
    free(mac);
    if (rc)
        return vmmk__err_prefix("%s.mac", p);
    {
        int e = 0;
        if ((rc = read_enum(o, p, "adapter", 3, &e)))
            return rc;
        n->adapter = (vmmk_nic_adapter)e;
    }
    if ((rc = vmmk__json_string(o, p, "network", VMMK_J_REQUIRED, &n->network, NULL)) ||
        (rc = vmmk__json_string(o, p, "portgroup_key", VMMK_J_NULLABLE, &n->portgroup_key, NULL)) ||
        (rc = vmmk__json_string(o, p, "switch_uuid", VMMK_J_NULLABLE, &n->switch_uuid, NULL)))
        return rc;
    json_object *ips;
    if ((rc = vmmk__json_array(o, p, "ips", VMMK_J_NULLABLE, &ips)))
        return rc;
    size_t count = ips ? json_object_array_length(ips) : 0;
    if (count > MAX_DEVICES)
        return vmmk__err(VMMK_EINVAL, "%s.ips: more than %d entries", p, MAX_DEVICES);
    if (count) {
        n->ips = calloc(count, sizeof *n->ips);
        if (!n->ips)
            return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < count; k++) {
        json_object *e = json_object_array_get_idx(ips, k);
        if (!e || !json_object_is_type(e, json_type_string))
            return vmmk__err(VMMK_EINVAL, "%s.ips[%zu]: expected string, got %s", p, k,
                             e ? vmmk__json_type_name(e) : "null");
        n->ips[k] = strdup(json_object_get_string(e));
        if (!n->ips[k])
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        n->n_ips++;
    }
    return 0;
}

static int read_vm(vmmk_vm *vm, const json_object *o)
{
    int rc;
    int64_t v;
    if ((rc = vmmk__json_expect_object(o, "")))
        return rc;
    bool present = false;
    if ((rc = vmmk__json_int64(o, "", "version", VMMK_J_NULLABLE, 1, INT32_MAX, &v, &present)))
        return rc;
    if (present && v != VMMK_VM_MODEL_VERSION)
        return vmmk__err(VMMK_EUNSUPPORTED, "version: %" PRId64 " is not supported (this libvmmk reads version %d)",
                         v, VMMK_VM_MODEL_VERSION);
    if ((rc = vmmk__json_string(o, "", "name", VMMK_J_REQUIRED, &vm->name, NULL)) ||
        (rc = vmmk__json_string(o, "", "uuid", VMMK_J_REQUIRED, &vm->uuid, NULL)) ||
        (rc = vmmk__json_string(o, "", "instance_uuid", VMMK_J_NULLABLE, &vm->instance_uuid, NULL)) ||
        (rc = vmmk__json_string(o, "", "moref", VMMK_J_REQUIRED, &vm->moref, NULL)) ||
        (rc = vmmk__json_string(o, "", "guest_id", VMMK_J_REQUIRED, &vm->guest_id, NULL)) ||
        (rc = vmmk__json_string(o, "", "guest_name", VMMK_J_NULLABLE, &vm->guest_name, NULL)))
        return rc;
    {
        int e = 0;
        if ((rc = read_enum(o, "", "firmware", 0, &e)))
            return rc;
        vm->firmware = (vmmk_firmware)e;
    }
    if ((rc = vmmk__json_bool(o, "", "secure_boot", VMMK_J_NULLABLE, &vm->secure_boot, NULL)) ||
        (rc = vmmk__json_bool(o, "", "vtpm", VMMK_J_NULLABLE, &vm->vtpm, NULL)))
        return rc;
    if ((rc = vmmk__json_int64(o, "", "vcpus", VMMK_J_REQUIRED, 1, MAX_VCPUS, &v, NULL)))
        return rc;
    vm->vcpus = (int32_t)v;
    v = 1;
    if ((rc = vmmk__json_int64(o, "", "cores_per_socket", VMMK_J_NULLABLE, 1, MAX_VCPUS, &v, NULL)))
        return rc;
    vm->cores_per_socket = (int32_t)v;
    if ((rc = vmmk__json_int64(o, "", "memory_mib", VMMK_J_REQUIRED, 1, MAX_MEMORY_MIB, &v, NULL)))
        return rc;
    vm->memory_mib = (uint64_t)v;
    {
        int e = 0;
        if ((rc = read_enum(o, "", "power_state", 1, &e)))
            return rc;
        vm->power_state = (vmmk_power_state)e;
    }
    if ((rc = vmmk__json_bool(o, "", "cbt_enabled", VMMK_J_NULLABLE, &vm->cbt_enabled, NULL)))
        return rc;

    json_object *arr;
    if ((rc = vmmk__json_array(o, "", "disks", VMMK_J_REQUIRED, &arr)))
        return rc;
    size_t count = json_object_array_length(arr);
    if (count > MAX_DEVICES)
        return vmmk__err(VMMK_EINVAL, "disks: more than %d entries", MAX_DEVICES);
    if (count && !(vm->disks = calloc(count, sizeof *vm->disks)))
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    char p[64];
    for (size_t i = 0; i < count; i++) {
        snprintf(p, sizeof p, "disks[%zu]", i);
        vm->n_disks++;
        if ((rc = read_disk(&vm->disks[i], json_object_array_get_idx(arr, i), p)))
            return rc;
    }
    if ((rc = vmmk__json_array(o, "", "nics", VMMK_J_REQUIRED, &arr)))
        return rc;
    count = json_object_array_length(arr);
    if (count > MAX_DEVICES)
        return vmmk__err(VMMK_EINVAL, "nics: more than %d entries", MAX_DEVICES);
    if (count && !(vm->nics = calloc(count, sizeof *vm->nics)))
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    for (size_t i = 0; i < count; i++) {
        snprintf(p, sizeof p, "nics[%zu]", i);
        vm->n_nics++;
        if ((rc = read_nic(&vm->nics[i], json_object_array_get_idx(arr, i), p)))
            return rc;
    }
    return vmmk_vm_validate(vm);
}

int vmmk_vm_from_json(vmmk_vm **out, const char *json, size_t len)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vm_from_json: out is NULL");
    *out = NULL;
    json_object *root;
    int rc = vmmk__json_parse(&root, json, len);
    if (rc)
        return rc;
    vmmk_vm *vm = calloc(1, sizeof *vm);
    if (!vm) {
        json_object_put(root);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    rc = read_vm(vm, root);
    json_object_put(root);
    if (rc) {
        vmmk_vm_free(vm);
        return rc;
    }
    *out = vm;
    return 0;
}

static int vmmk_vm_from_json_cb(void *out, const char *text, size_t len)
{
    return vmmk_vm_from_json(out, text, len);
}

int vmmk_vm_from_file(vmmk_vm **out, const char *path)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vm_from_file: out is NULL");
    *out = NULL;
    return vmmk__parse_file(path, vmmk_vm_from_json_cb, out);
}

/* ---- writing ---------------------------------------------------------- */

#define ADD(obj, key, val)                                                                         \
    do {                                                                                           \
        json_object *v_ = (val);                                                                   \
        if (json_object_object_add((obj), (key), v_)) {                                            \
            json_object_put(v_);                                                                   \
            goto nomem;                                                                            \
        }                                                                                          \
    } while (0)
#define ADDS(obj, key, s)                                                                          \
    do {                                                                                           \
        if (vmmk__json_add_string((obj), (key), (s)))                                              \
            goto nomem;                                                                            \
    } while (0)

json_object *vmmk__vm_to_object(const vmmk_vm *vm)
{
    json_object *o = json_object_new_object(), *disks = NULL, *nics = NULL;
    if (!o)
        return NULL;
    ADD(o, "version", json_object_new_int(VMMK_VM_MODEL_VERSION));
    ADDS(o, "name", vm->name);
    ADDS(o, "uuid", vm->uuid);
    ADDS(o, "instance_uuid", vm->instance_uuid);
    ADDS(o, "moref", vm->moref);
    ADDS(o, "guest_id", vm->guest_id);
    ADDS(o, "guest_name", vm->guest_name);
    ADDS(o, "firmware", vmmk_firmware_name(vm->firmware));
    ADD(o, "secure_boot", json_object_new_boolean(vm->secure_boot));
    ADD(o, "vtpm", json_object_new_boolean(vm->vtpm));
    ADD(o, "vcpus", json_object_new_int(vm->vcpus));
    ADD(o, "cores_per_socket", json_object_new_int(vm->cores_per_socket));
    ADD(o, "memory_mib", json_object_new_int64((int64_t)vm->memory_mib));
    ADDS(o, "power_state", vmmk_power_state_name(vm->power_state));
    ADD(o, "cbt_enabled", json_object_new_boolean(vm->cbt_enabled));
    disks = json_object_new_array();
    if (!disks)
        goto nomem;
    ADD(o, "disks", disks);
    for (size_t i = 0; i < vm->n_disks; i++) {
        const vmmk_disk *d = &vm->disks[i];
        json_object *e = json_object_new_object();
        if (!e || json_object_array_add(disks, e)) {
            json_object_put(e);
            goto nomem;
        }
        ADD(e, "key", json_object_new_int(d->key));
        ADDS(e, "label", d->label);
        ADD(e, "capacity_bytes", json_object_new_int64((int64_t)d->capacity_bytes));
        ADDS(e, "file", d->file);
        ADDS(e, "datastore", d->datastore);
        ADDS(e, "controller", vmmk_controller_name(d->controller));
        ADD(e, "unit", json_object_new_int(d->unit));
        ADD(e, "thin", json_object_new_boolean(d->thin));
        ADDS(e, "change_id", d->change_id);
    }
    nics = json_object_new_array();
    if (!nics)
        goto nomem;
    ADD(o, "nics", nics);
    for (size_t i = 0; i < vm->n_nics; i++) {
        const vmmk_nic *n = &vm->nics[i];
        json_object *e = json_object_new_object(), *ips;
        if (!e || json_object_array_add(nics, e)) {
            json_object_put(e);
            goto nomem;
        }
        ADD(e, "key", json_object_new_int(n->key));
        ADDS(e, "label", n->label);
        ADDS(e, "mac", n->mac);
        ADDS(e, "adapter", vmmk_nic_adapter_name(n->adapter));
        ADDS(e, "network", n->network);
        ADDS(e, "portgroup_key", n->portgroup_key);
        ADDS(e, "switch_uuid", n->switch_uuid);
        ips = json_object_new_array();
        if (!ips)
            goto nomem;
        ADD(e, "ips", ips);
        for (size_t k = 0; k < n->n_ips; k++) {
            json_object *s = json_object_new_string(n->ips[k]);
            if (!s || json_object_array_add(ips, s)) {
                json_object_put(s);
                goto nomem;
            }
        }
    }
    return o;
nomem:
    json_object_put(o);
    return NULL;
}

int vmmk_vm_to_json(char **out, const vmmk_vm *vm, unsigned flags)
{
    if (!out || !vm)
        return vmmk__err(VMMK_EINVAL, "vmmk_vm_to_json: %s is NULL", out ? "vm" : "out");
    *out = NULL;
    int rc = vmmk_vm_validate(vm);
    if (rc)
        return vmmk__err_prefix("VM \"%s\"", vm->name ? vm->name : "(unnamed)");
    json_object *o = vmmk__vm_to_object(vm);
    char *s = o ? vmmk__json_dump(o, flags) : NULL;
    json_object_put(o);
    if (!s)
        return vmmk__err(VMMK_ENOMEM, "out of memory writing VM JSON");
    *out = s;
    return 0;
}
