/* The VM model: reading, validation (errors name the field), writing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmmk/vmmk.h>

#define EXAMPLE VMMK_SOURCE_DIR "/examples/vm.json"

static json_object *example(void)
{
    json_object *o = json_object_from_file(EXAMPLE);
    assert_non_null(o);
    return o;
}

/* Parse @p o (consumed) and expect @p code with exactly @p message. */
static void expect_error(json_object *o, int code, const char *message)
{
    const char *text = json_object_to_json_string(o);
    vmmk_vm *vm = (vmmk_vm *)1;
    int rc = vmmk_vm_from_json(&vm, text, (size_t)-1);
    if (rc != code || strcmp(vmmk_error_last()->message, message) != 0)
        print_error("got %d \"%s\"\n", rc, vmmk_error_last()->message);
    assert_int_equal(rc, code);
    assert_null(vm);
    assert_int_equal(vmmk_error_last()->code, code);
    assert_string_equal(vmmk_error_last()->message, message);
    json_object_put(o);
}

static json_object *at(json_object *o, const char *arr, size_t i)
{
    json_object *a;
    assert_true(json_object_object_get_ex(o, arr, &a));
    return json_object_array_get_idx(a, i);
}

static void test_read_example(void **state)
{
    (void)state;
    vmmk_vm *vm = NULL;
    assert_int_equal(vmmk_vm_from_file(&vm, EXAMPLE), 0);
    assert_string_equal(vm->name, "web-01 (prod)");
    assert_string_equal(vm->moref, "vm-1042");
    assert_string_equal(vm->instance_uuid, "5010a1b2-c3d4-e5f6-0718-293a4b5c6d7e");
    assert_int_equal(vm->firmware, VMMK_FIRMWARE_EFI);
    assert_true(vm->secure_boot);
    assert_false(vm->vtpm);
    assert_int_equal(vm->vcpus, 4);
    assert_int_equal(vm->cores_per_socket, 2);
    assert_int_equal(vm->memory_mib, 8192);
    assert_int_equal(vm->power_state, VMMK_POWER_ON);
    assert_true(vm->cbt_enabled);
    assert_int_equal(vm->n_disks, 2);
    assert_int_equal(vm->disks[0].key, 2000);
    assert_int_equal(vm->disks[0].capacity_bytes, 42949672960ull);
    assert_string_equal(vm->disks[0].datastore, "datastore1");
    assert_int_equal(vm->disks[0].controller, VMMK_CONTROLLER_PVSCSI);
    assert_true(vm->disks[0].thin);
    assert_non_null(vm->disks[0].change_id);
    assert_null(vm->disks[1].change_id);
    assert_int_equal(vm->disks[1].unit, 1);
    assert_int_equal(vm->n_nics, 2);
    assert_string_equal(vm->nics[0].mac, "00:50:56:8a:12:34");  /* lowercased */
    assert_int_equal(vm->nics[0].adapter, VMMK_ADAPTER_VMXNET3);
    assert_null(vm->nics[0].portgroup_key);
    assert_int_equal(vm->nics[0].n_ips, 3);
    assert_string_equal(vm->nics[1].portgroup_key, "dvportgroup-33");
    assert_int_equal(vm->nics[1].adapter, VMMK_ADAPTER_E1000E);
    vmmk_vm_free(vm);
}

static void test_round_trip(void **state)
{
    (void)state;
    vmmk_vm *vm = NULL, *again = NULL, *copy = NULL;
    char *a = NULL, *b = NULL, *c = NULL;
    assert_int_equal(vmmk_vm_from_file(&vm, EXAMPLE), 0);
    assert_int_equal(vmmk_vm_to_json(&a, vm, 0), 0);
    assert_int_equal(vmmk_vm_from_json(&again, a, strlen(a)), 0);
    assert_int_equal(vmmk_vm_to_json(&b, again, 0), 0);
    assert_string_equal(a, b);
    assert_int_equal(vmmk_vm_copy(&copy, vm), 0);
    assert_int_equal(vmmk_vm_to_json(&c, copy, VMMK_JSON_PRETTY), 0);
    assert_non_null(strchr(c, '\n'));
    /* Every version 1 key is written, even when null. */
    json_object *o = json_tokener_parse(a), *v;
    static const char *const keys[] = { "version", "name", "uuid", "instance_uuid", "moref", "guest_id",
                                        "guest_name", "firmware", "secure_boot", "vtpm", "vcpus",
                                        "cores_per_socket", "memory_mib", "power_state", "cbt_enabled",
                                        "disks", "nics" };
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        assert_true(json_object_object_get_ex(o, keys[i], &v));
    assert_int_equal(json_object_get_int(json_object_object_get(o, "version")), 1);
    static const char *const dkeys[] = { "key", "label", "capacity_bytes", "file", "datastore",
                                         "controller", "unit", "thin", "change_id" };
    for (size_t i = 0; i < sizeof dkeys / sizeof *dkeys; i++)
        assert_true(json_object_object_get_ex(at(o, "disks", 1), dkeys[i], &v));
    static const char *const nkeys[] = { "key", "label", "mac", "adapter", "network",
                                         "portgroup_key", "switch_uuid", "ips" };
    for (size_t i = 0; i < sizeof nkeys / sizeof *nkeys; i++)
        assert_true(json_object_object_get_ex(at(o, "nics", 0), nkeys[i], &v));
    json_object_put(o);
    vmmk_string_free(a);
    vmmk_string_free(b);
    vmmk_string_free(c);
    vmmk_vm_free(vm);
    vmmk_vm_free(again);
    vmmk_vm_free(copy);
}

static void test_unknown_keys_ignored_and_defaults(void **state)
{
    (void)state;
    json_object *o = example();
    json_object_object_add(o, "annotation", json_object_new_string("future field"));
    json_object_object_add(at(o, "disks", 0), "sharing", json_object_new_string("none"));
    json_object_object_del(o, "secure_boot");
    json_object_object_del(o, "cores_per_socket");
    json_object_object_del(o, "version");
    json_object_object_del(at(o, "disks", 0), "datastore");
    json_object_object_del(at(o, "nics", 0), "ips");
    vmmk_vm *vm = NULL;
    assert_int_equal(vmmk_vm_from_json(&vm, json_object_to_json_string(o), (size_t)-1), 0);
    assert_false(vm->secure_boot);
    assert_int_equal(vm->cores_per_socket, 1);
    assert_string_equal(vm->disks[0].datastore, "datastore1");  /* from "[datastore1] ..." */
    assert_int_equal(vm->nics[0].n_ips, 0);
    vmmk_vm_free(vm);
    json_object_put(o);
}

static void test_missing_and_mistyped(void **state)
{
    (void)state;
    json_object *o = example();
    json_object_object_del(o, "vcpus");
    expect_error(o, VMMK_EINVAL, "vcpus: missing");

    o = example();
    json_object_object_add(at(o, "disks", 1), "capacity_bytes", json_object_new_string("100G"));
    expect_error(o, VMMK_EINVAL, "disks[1].capacity_bytes: expected integer, got string");

    o = example();
    json_object_object_add(at(o, "disks", 0), "capacity_bytes", json_object_new_double(1.5));
    expect_error(o, VMMK_EINVAL, "disks[0].capacity_bytes: expected integer, got number");

    o = example();
    json_object_object_add(o, "name", json_object_new_int(7));
    expect_error(o, VMMK_EINVAL, "name: expected string, got integer");

    o = example();
    json_object_object_add(o, "name", NULL);
    expect_error(o, VMMK_EINVAL, "name: must not be null");

    o = example();
    json_object_object_add(o, "disks", json_object_new_object());
    expect_error(o, VMMK_EINVAL, "disks: expected array, got object");

    o = example();
    json_object_object_del(at(o, "nics", 1), "mac");
    expect_error(o, VMMK_EINVAL, "nics[1].mac: missing");

    o = example();
    json_object_object_add(at(o, "nics", 0), "ips", json_object_new_string("10.0.0.1"));
    expect_error(o, VMMK_EINVAL, "nics[0].ips: expected array, got string");

    o = example();
    json_object_array_put_idx(json_object_object_get(at(o, "nics", 0), "ips"), 1, json_object_new_int(3));
    expect_error(o, VMMK_EINVAL, "nics[0].ips[1]: expected string, got integer");

    o = example();
    json_object_object_add(o, "secure_boot", json_object_new_string("yes"));
    expect_error(o, VMMK_EINVAL, "secure_boot: expected boolean, got string");

    o = example();
    json_object_array_put_idx(json_object_object_get(o, "disks"), 0, json_object_new_int(1));
    expect_error(o, VMMK_EINVAL, "disks[0]: expected object, got integer");

    o = json_object_new_array();
    expect_error(o, VMMK_EINVAL, "document: expected object, got array");
}

static void test_enums_and_ranges(void **state)
{
    (void)state;
    json_object *o = example();
    json_object_object_add(o, "firmware", json_object_new_string("uefi"));
    expect_error(o, VMMK_EINVAL, "firmware: \"uefi\" is not one of \"bios\" or \"efi\"");

    o = example();
    json_object_object_add(at(o, "disks", 0), "controller", json_object_new_string("virtio"));
    expect_error(o, VMMK_EINVAL,
                 "disks[0].controller: \"virtio\" is not one of \"pvscsi\", \"lsilogic\", \"lsilogicsas\", "
                 "\"buslogic\", \"sata\", \"ide\" or \"nvme\"");

    o = example();
    json_object_object_add(at(o, "nics", 0), "adapter", json_object_new_string("rtl8139"));
    expect_error(o, VMMK_EINVAL,
                 "nics[0].adapter: \"rtl8139\" is not one of \"vmxnet3\", \"vmxnet2\", \"e1000\", "
                 "\"e1000e\", \"pcnet32\" or \"sriov\"");

    o = example();
    json_object_object_add(o, "power_state", json_object_new_string("on"));
    expect_error(o, VMMK_EINVAL,
                 "power_state: \"on\" is not one of \"poweredOff\", \"poweredOn\" or \"suspended\"");

    o = example();
    json_object_object_add(o, "vcpus", json_object_new_int(0));
    expect_error(o, VMMK_EINVAL, "vcpus: 0 is out of range (1..4096)");

    o = example();
    json_object_object_add(o, "cores_per_socket", json_object_new_int(3));
    expect_error(o, VMMK_EINVAL, "cores_per_socket: 3 does not divide vcpus 4");

    o = example();
    json_object_object_add(at(o, "disks", 1), "capacity_bytes", json_object_new_int(-5));
    expect_error(o, VMMK_EINVAL, "disks[1].capacity_bytes: -5 is out of range (0..9223372036854775807)");

    o = example();
    json_object_object_add(at(o, "disks", 1), "capacity_bytes", json_object_new_int(0));
    expect_error(o, VMMK_EINVAL, "disks[1].capacity_bytes: 0 is out of range (1..72057594037927936)");

    o = example();
    json_object_object_add(o, "version", json_object_new_int(2));
    expect_error(o, VMMK_EUNSUPPORTED, "version: 2 is not supported (this libvmmk reads version 1)");

    o = example();
    json_object_object_add(o, "firmware", json_object_new_string("bios"));
    expect_error(o, VMMK_EINVAL, "secure_boot: requires firmware \"efi\"");
}

static void test_consistency(void **state)
{
    (void)state;
    json_object *o = example();
    json_object_object_add(at(o, "disks", 1), "key", json_object_new_int(2000));
    expect_error(o, VMMK_EINVAL, "disks[1].key: 2000 is used by disks[0] too");

    o = example();
    json_object_object_add(at(o, "nics", 1), "mac", json_object_new_string("00-50-56-8A-12-34"));
    expect_error(o, VMMK_EINVAL, "nics[1].mac: 00:50:56:8a:12:34 is used by nics[0] too");

    o = example();
    json_object_object_add(at(o, "nics", 1), "mac", json_object_new_string("00:50:56:zz:12:34"));
    expect_error(o, VMMK_EINVAL,
                 "nics[1].mac: \"00:50:56:zz:12:34\" is not a MAC address (expected 00:50:56:aa:bb:cc)");

    o = example();
    json_object_array_put_idx(json_object_object_get(at(o, "nics", 1), "ips"), 0,
                              json_object_new_string("10.20.0.300/16"));
    expect_error(o, VMMK_EINVAL, "nics[1].ips[0]: \"10.20.0.300/16\" is not an IP address in CIDR form");

    o = example();
    json_object_array_put_idx(json_object_object_get(at(o, "nics", 1), "ips"), 0,
                              json_object_new_string("10.20.0.3/33"));
    expect_error(o, VMMK_EINVAL, "nics[1].ips[0]: \"10.20.0.3/33\" is not an IP address in CIDR form");

    o = example();
    json_object_object_add(at(o, "disks", 0), "file", json_object_new_string("web-01.vmdk"));
    expect_error(o, VMMK_EINVAL,
                 "disks[0].file: \"web-01.vmdk\" is not of the form \"[datastore] path.vmdk\"");

    o = example();
    json_object_object_add(at(o, "nics", 0), "network", json_object_new_string(""));
    expect_error(o, VMMK_EINVAL, "nics[0].network: must not be empty");
}

static void test_syntax_errors(void **state)
{
    (void)state;
    vmmk_vm *vm = NULL;
    assert_int_equal(vmmk_vm_from_json(&vm, "{\n  \"name\": \"x\",\n  oops\n}", (size_t)-1), VMMK_EPARSE);
    assert_non_null(strstr(vmmk_error_last()->message, "line 3, column 3"));
    assert_int_equal(vmmk_vm_from_json(&vm, "{\"name\": ", (size_t)-1), VMMK_EPARSE);
    assert_non_null(strstr(vmmk_error_last()->message, "JSON ends early"));
    assert_int_equal(vmmk_vm_from_json(&vm, "{} {}", (size_t)-1), VMMK_EPARSE);
    assert_string_equal(vmmk_error_last()->message, "JSON syntax error at line 1, column 4: unexpected character");
    assert_int_equal(vmmk_vm_from_json(&vm, "", 0), VMMK_EPARSE);
    assert_int_equal(vmmk_vm_from_json(&vm, "{\"a\":1}\0{", 9), VMMK_EPARSE);
    /* Hostile nesting is refused, not recursed into. */
    char deep[4096];
    memset(deep, '[', sizeof deep - 1);
    deep[sizeof deep - 1] = '\0';
    assert_int_equal(vmmk_vm_from_json(&vm, deep, (size_t)-1), VMMK_EPARSE);
    assert_null(vm);
}

static void test_from_file_errors(void **state)
{
    (void)state;
    vmmk_vm *vm = NULL;
    assert_int_equal(vmmk_vm_from_file(&vm, "/nonexistent.json"), VMMK_ENOTFOUND);
    assert_string_equal(vmmk_error_last()->message, "/nonexistent.json: cannot open: No such file or directory");
    char path[] = "/tmp/vmmk-test-vm-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("{\"name\": 1}", f);
    fclose(f);
    assert_int_equal(vmmk_vm_from_file(&vm, path), VMMK_EINVAL);
    char want[256];
    snprintf(want, sizeof want, "%s: name: expected string, got integer", path);
    assert_string_equal(vmmk_error_last()->message, want);
    unlink(path);
}

static void test_mac_normalize(void **state)
{
    (void)state;
    static const char *const good[] = { "00:50:56:AA:bb:0C", "00-50-56-aa-BB-0c", "0050.56aa.bb0c",
                                        "005056AABB0C" };
    for (size_t i = 0; i < 4; i++) {
        char *m = NULL;
        assert_int_equal(vmmk_mac_normalize(&m, good[i]), 0);
        assert_string_equal(m, "00:50:56:aa:bb:0c");
        vmmk_string_free(m);
    }
    static const char *const bad[] = { "", "00:50:56:aa:bb", "00:50:56:aa:bb:0c:11", "00:50-56:aa:bb:0c",
                                       "g0:50:56:aa:bb:0c", "0050.56aa.bb0", "00:50:56:aa:bb:0 " };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *m = (char *)1;
        assert_int_equal(vmmk_mac_normalize(&m, bad[i]), VMMK_EINVAL);
        assert_null(m);
    }
}

static void test_validate_c_built(void **state)
{
    (void)state;
    vmmk_vm vm = { 0 };
    vm.name = "c-built";
    vm.uuid = "u";
    vm.moref = "vm-1";
    vm.guest_id = "otherGuest";
    vm.vcpus = 2;
    vm.cores_per_socket = 1;
    vm.memory_mib = 1024;
    assert_int_equal(vmmk_vm_validate(&vm), 0);
    vm.firmware = (vmmk_firmware)7;
    assert_int_equal(vmmk_vm_validate(&vm), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message, "firmware: invalid value 7");
    vm.firmware = VMMK_FIRMWARE_BIOS;
    vmmk_nic nic = { .key = 4000, .mac = "00:50:56:AA:00:01", .network = "n" };
    vm.nics = &nic;
    vm.n_nics = 1;
    assert_int_equal(vmmk_vm_validate(&vm), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message, "nics[0].mac: \"00:50:56:AA:00:01\" is not in lowercase colon form");
    char *out = (char *)1;
    assert_int_equal(vmmk_vm_to_json(&out, &vm, 0), VMMK_EINVAL);
    assert_null(out);
    assert_string_equal(vmmk_error_last()->message,
                        "VM \"c-built\": nics[0].mac: \"00:50:56:AA:00:01\" is not in lowercase colon form");
}

static void test_enum_names(void **state)
{
    (void)state;
    assert_string_equal(vmmk_controller_name(VMMK_CONTROLLER_LSILOGICSAS), "lsilogicsas");
    assert_null(vmmk_controller_name((vmmk_controller)42));
    vmmk_nic_adapter a;
    assert_int_equal(vmmk_nic_adapter_parse(&a, "pcnet32"), 0);
    assert_int_equal(a, VMMK_ADAPTER_PCNET32);
    assert_int_equal(vmmk_nic_adapter_parse(&a, "PCNET32"), VMMK_EINVAL);
    vmmk_power_state p;
    assert_int_equal(vmmk_power_state_parse(&p, "suspended"), 0);
    assert_int_equal(p, VMMK_POWER_SUSPENDED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_example),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_unknown_keys_ignored_and_defaults),
        cmocka_unit_test(test_missing_and_mistyped),
        cmocka_unit_test(test_enums_and_ranges),
        cmocka_unit_test(test_consistency),
        cmocka_unit_test(test_syntax_errors),
        cmocka_unit_test(test_from_file_errors),
        cmocka_unit_test(test_mac_normalize),
        cmocka_unit_test(test_validate_c_built),
        cmocka_unit_test(test_enum_names),
    };
    return cmocka_run_group_tests_name("vm_model", tests, NULL, NULL);
}
