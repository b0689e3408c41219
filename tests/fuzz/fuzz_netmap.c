/* libFuzzer target: the network mapping reader, applied to a fixed VM. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmmk/vmmk.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char vm_json[] =
    "{\"name\":\"fz\",\"uuid\":\"u\",\"moref\":\"vm-1\",\"guest_id\":\"otherGuest\",\"firmware\":\"bios\","
    "\"vcpus\":1,\"memory_mib\":512,\"power_state\":\"poweredOff\",\"disks\":[],\"nics\":["
    "{\"key\":4000,\"label\":\"Network adapter 1\",\"mac\":\"00:50:56:00:00:01\",\"adapter\":\"vmxnet3\","
    "\"network\":\"VM Network\",\"ips\":[\"10.0.0.5/24\",\"fe80::1/64\",\"2001:db8::5/64\"]},"
    "{\"key\":4001,\"mac\":\"00:50:56:00:00:02\",\"adapter\":\"e1000\",\"network\":\"pg\","
    "\"portgroup_key\":\"dvportgroup-1\",\"ips\":[]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static vmmk_vm *vm;
    if (!vm && vmmk_vm_from_json(&vm, vm_json, strlen(vm_json)) != 0)
        abort();
    vmmk_netmap *map = NULL;
    if (vmmk_netmap_from_json(&map, (const char *)data, size) == 0) {
        vmmk_port_plan *plan = NULL;
        int rc = vmmk_netmap_apply(&plan, map, vm);
        if (rc != 0 && rc != VMMK_EUNMAPPED)
            abort();
        char *json = NULL;
        if (plan && vmmk_port_plan_to_json(&json, plan, 0) != 0)
            abort();
        vmmk_string_free(json);
        vmmk_port_plan_free(plan);
    }
    vmmk_netmap_free(map);
    return 0;
}
