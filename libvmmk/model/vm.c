/* VM model: enum names, MAC normalisation, validation, copy and free. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "model.h"

#define N_OF(a) (sizeof(a) / sizeof *(a))

static const char *const firmware_names[] = { "bios", "efi" };
static const char *const power_names[] = { "poweredOff", "poweredOn", "suspended" };
static const char *const controller_names[] = { "pvscsi", "lsilogic", "lsilogicsas", "buslogic",
                                                "sata",   "ide",      "nvme" };
static const char *const adapter_names[] = { "vmxnet3", "vmxnet2", "e1000",
                                             "e1000e",  "pcnet32", "sriov" };

static int parse_name(int *out, const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; name && i < n; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (int)i;
            return 0;
        }
    }
    return VMMK_EINVAL;
}

#define NAME_FN(fn, type, table)                                                                   \
    const char *fn(type v)                                                                         \
    {                                                                                              \
        return (unsigned)v < N_OF(table) ? table[v] : NULL;                                        \
    }
NAME_FN(vmmk_firmware_name, vmmk_firmware, firmware_names)
NAME_FN(vmmk_power_state_name, vmmk_power_state, power_names)
NAME_FN(vmmk_controller_name, vmmk_controller, controller_names)
NAME_FN(vmmk_nic_adapter_name, vmmk_nic_adapter, adapter_names)

#define PARSE_FN(fn, type, table)                                                                  \
    int fn(type *out, const char *name)                                                            \
    {                                                                                              \
        int v;                                                                                     \
        if (!out || parse_name(&v, name, table, N_OF(table)))                                      \
            return VMMK_EINVAL;                                                                    \
        *out = (type)v;                                                                            \
        return 0;                                                                                  \
    }
PARSE_FN(vmmk_firmware_parse, vmmk_firmware, firmware_names)
PARSE_FN(vmmk_power_state_parse, vmmk_power_state, power_names)
PARSE_FN(vmmk_controller_parse, vmmk_controller, controller_names)
PARSE_FN(vmmk_nic_adapter_parse, vmmk_nic_adapter, adapter_names)

const char *vmmk__enum_choices(int which)
{
    switch (which) {
    case 0: return "\"bios\" or \"efi\"";
    case 1: return "\"poweredOff\", \"poweredOn\" or \"suspended\"";
    case 2: return "\"pvscsi\", \"lsilogic\", \"lsilogicsas\", \"buslogic\", \"sata\", \"ide\" or \"nvme\"";
    default: return "\"vmxnet3\", \"vmxnet2\", \"e1000\", \"e1000e\", \"pcnet32\" or \"sriov\"";
    }
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int vmmk_mac_normalize(char **out, const char *mac)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_mac_normalize: out is NULL");
    *out = NULL;
    if (!mac)
        return vmmk__err(VMMK_EINVAL, "MAC address: none given");
    /* Collect exactly 12 hex digits, with separators only where the three
     * usual notations put them. */
    char digits[12];
    size_t nd = 0, len = strlen(mac);
    int ok = len == 17 || len == 14 || len == 12;
    for (size_t i = 0; ok && i < len; i++) {
        char c = mac[i];
        int sep;
        if (len == 17)
            sep = i % 3 == 2 && (c == ':' || c == '-') && c == mac[2];
        else if (len == 14)
            sep = i % 5 == 4 && c == '.';
        else
            sep = 0;
        if (sep)
            continue;
        if ((len == 17 && i % 3 == 2) || (len == 14 && i % 5 == 4) || hexval((unsigned char)c) < 0) {
            ok = 0;
            break;
        }
        digits[nd++] = (char)tolower((unsigned char)c);
    }
    if (!ok || nd != 12)
        return vmmk__err(VMMK_EINVAL, "\"%s\" is not a MAC address (expected 00:50:56:aa:bb:cc)",
                         mac);
    char *s = malloc(18);
    if (!s)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    for (int i = 0; i < 6; i++) {
        s[i * 3] = digits[i * 2];
        s[i * 3 + 1] = digits[i * 2 + 1];
        s[i * 3 + 2] = i < 5 ? ':' : '\0';
    }
    *out = s;
    return 0;
}

void vmmk__disk_clear(vmmk_disk *d)
{
    free(d->label);
    free(d->file);
    free(d->datastore);
    free(d->change_id);
    memset(d, 0, sizeof *d);
}

void vmmk__nic_clear(vmmk_nic *n)
{
    free(n->label);
    free(n->mac);
    free(n->network);
    free(n->portgroup_key);
    free(n->switch_uuid);
    for (size_t i = 0; i < n->n_ips; i++)
        free(n->ips[i]);
    free(n->ips);
    memset(n, 0, sizeof *n);
}

void vmmk_vm_free(vmmk_vm *vm)
{
    if (!vm)
        return;
    free(vm->name);
    free(vm->uuid);
    free(vm->instance_uuid);
    free(vm->moref);
    free(vm->guest_id);
    free(vm->guest_name);
    for (size_t i = 0; i < vm->n_disks; i++)
        vmmk__disk_clear(&vm->disks[i]);
    free(vm->disks);
    for (size_t i = 0; i < vm->n_nics; i++)
        vmmk__nic_clear(&vm->nics[i]);
    free(vm->nics);
    free(vm);
}

/* Copy a string field; sets *fail on allocation failure of a non-NULL src. */
static char *dup_field(const char *src, int *fail)
{
    if (!src)
        return NULL;
    char *d = strdup(src);
    if (!d)
        *fail = 1;
    return d;
}

int vmmk_vm_copy(vmmk_vm **out, const vmmk_vm *vm)
{
    if (!out || !vm)
        return vmmk__err(VMMK_EINVAL, "vmmk_vm_copy: %s is NULL", out ? "vm" : "out");
    *out = NULL;
    int fail = 0;
    vmmk_vm *c = calloc(1, sizeof *c);
    if (!c)
        return vmmk__err(VMMK_ENOMEM, "out of memory copying a VM");
    *c = *vm;
    c->name = dup_field(vm->name, &fail);
    c->uuid = dup_field(vm->uuid, &fail);
    c->instance_uuid = dup_field(vm->instance_uuid, &fail);
    c->moref = dup_field(vm->moref, &fail);
    c->guest_id = dup_field(vm->guest_id, &fail);
    c->guest_name = dup_field(vm->guest_name, &fail);
    c->disks = NULL;
    c->nics = NULL;
    c->n_disks = c->n_nics = 0;
    if (vm->n_disks) {
        c->disks = calloc(vm->n_disks, sizeof *c->disks);
        if (!c->disks)
            fail = 1;
        for (size_t i = 0; c->disks && i < vm->n_disks; i++) {
            vmmk_disk *d = &c->disks[i];
            *d = vm->disks[i];
            d->label = dup_field(vm->disks[i].label, &fail);
            d->file = dup_field(vm->disks[i].file, &fail);
            d->datastore = dup_field(vm->disks[i].datastore, &fail);
            d->change_id = dup_field(vm->disks[i].change_id, &fail);
            c->n_disks++;
        }
    }
    if (vm->n_nics) {
        c->nics = calloc(vm->n_nics, sizeof *c->nics);
        if (!c->nics)
            fail = 1;
        for (size_t i = 0; c->nics && i < vm->n_nics; i++) {
            const vmmk_nic *s = &vm->nics[i];
            vmmk_nic *n = &c->nics[i];
            *n = *s;
            n->label = dup_field(s->label, &fail);
            n->mac = dup_field(s->mac, &fail);
            n->network = dup_field(s->network, &fail);
            n->portgroup_key = dup_field(s->portgroup_key, &fail);
            n->switch_uuid = dup_field(s->switch_uuid, &fail);
            n->ips = NULL;
            n->n_ips = 0;
            c->n_nics++;
            if (s->n_ips) {
                n->ips = calloc(s->n_ips, sizeof *n->ips);
                if (!n->ips)
                    fail = 1;
                for (size_t k = 0; n->ips && k < s->n_ips; k++) {
                    n->ips[k] = dup_field(s->ips[k], &fail);
                    n->n_ips++;
                }
            }
        }
    }
    if (fail) {
        vmmk_vm_free(c);
        return vmmk__err(VMMK_ENOMEM, "out of memory copying a VM");
    }
    *out = c;
    return 0;
}
