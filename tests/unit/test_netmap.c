/* net_mapper: the mapping document (strict reader, errors name the field)
 * and the port plan (matching, fixed IPs, security groups, names, tags). */
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

#define EXAMPLE_VM VMMK_SOURCE_DIR "/examples/vm.json"
#define EXAMPLE_MAP VMMK_SOURCE_DIR "/examples/netmap.json"

/* Three NICs: one on a standard portgroup with a mix of addresses, one on
 * a distributed portgroup, one on a network nothing below maps by name. */
static const char three_nics[] =
    "{\"name\": \"app\", \"uuid\": \"4210aaaa-0000-0000-0000-000000000001\","
    " \"instance_uuid\": \"5010bbbb-0000-0000-0000-000000000001\", \"moref\": \"vm-7\","
    " \"guest_id\": \"rhel9_64Guest\", \"firmware\": \"bios\", \"vcpus\": 1, \"memory_mib\": 1024,"
    " \"power_state\": \"poweredOff\", \"disks\": [], \"nics\": ["
    "  {\"key\": 4000, \"label\": \"Network adapter 1\", \"mac\": \"00:50:56:8a:00:01\","
    "   \"adapter\": \"vmxnet3\", \"network\": \"VM Network\", \"ips\": [\"10.0.0.5/24\"]},"
    "  {\"key\": 4001, \"label\": \"Network adapter 2\", \"mac\": \"00:50:56:8a:56:78\","
    "   \"adapter\": \"vmxnet3\", \"network\": \"backend-pg\", \"portgroup_key\": \"dvportgroup-33\","
    "   \"ips\": [\"10.20.0.21/16\"]},"
    "  {\"key\": 4002, \"label\": \"Network adapter 3\", \"mac\": \"00:50:56:8a:00:03\","
    "   \"adapter\": \"e1000\", \"network\": \"X\"}]}";

static vmmk_vm *vm_from(const char *json)
{
    vmmk_vm *vm = NULL;
    int rc = vmmk_vm_from_json(&vm, json, (size_t)-1);
    if (rc)
        print_error("VM: %s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    return vm;
}

static vmmk_netmap *map_from(const char *json)
{
    vmmk_netmap *map = NULL;
    int rc = vmmk_netmap_from_json(&map, json, (size_t)-1);
    if (rc)
        print_error("map: %s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_non_null(map);
    return map;
}

static vmmk_port_plan *plan_for(const char *map_json, const vmmk_vm *vm)
{
    vmmk_netmap *map = map_from(map_json);
    vmmk_port_plan *plan = NULL;
    int rc = vmmk_netmap_apply(&plan, map, vm);
    if (rc)
        print_error("apply: %s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_non_null(plan);
    vmmk_netmap_free(map);
    return plan;
}

/* The mapping document must be refused with exactly this code and text. */
static void expect_map_error(const char *json, int code, const char *message)
{
    vmmk_netmap *map = (vmmk_netmap *)1;
    int rc = vmmk_netmap_from_json(&map, json, (size_t)-1);
    if (rc != code || strcmp(vmmk_error_last()->message, message) != 0)
        print_error("got %d \"%s\"\n", rc, vmmk_error_last()->message);
    assert_int_equal(rc, code);
    assert_null(map);
    assert_int_equal(vmmk_error_last()->code, code);
    assert_string_equal(vmmk_error_last()->message, message);
}

static void assert_list(char *const *got, size_t n, const char *const *want, size_t n_want)
{
    assert_int_equal(n, n_want);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(got[i], want[i]);
}

/* ---- the examples ------------------------------------------------------ */

static void test_examples_exact_json(void **state)
{
    (void)state;
    vmmk_vm *vm = NULL;
    vmmk_netmap *map = NULL;
    vmmk_port_plan *plan = NULL;
    char *json = NULL;
    assert_int_equal(vmmk_vm_from_file(&vm, EXAMPLE_VM), 0);
    assert_int_equal(vmmk_netmap_from_file(&map, EXAMPLE_MAP), 0);
    assert_int_equal(vmmk_netmap_apply(&plan, map, vm), 0);
    assert_int_equal(vmmk_port_plan_to_json(&json, plan, 0), 0);
    /* NIC 1: mapped by name, no subnet, fe80:: dropped, global v6 kept,
     * MAC lowercased (the example writes it in capitals); NIC 2: mapped by
     * portgroup key with its own subnet and security groups. */
    assert_string_equal(json,
        "{\"ports\":["
        "{\"name\":\"web-01-prod-nic0\",\"mac\":\"00:50:56:8a:12:34\",\"network\":\"provider-net\","
        "\"subnet\":null,\"fixed_ips\":[{\"ip_address\":\"192.168.10.21\",\"subnet\":null},"
        "{\"ip_address\":\"2001:db8:10::21\",\"subnet\":null}],\"security_groups\":[\"default\"],"
        "\"tags\":[\"vmmk\",\"vmmk-vm=5010a1b2-c3d4-e5f6-0718-293a4b5c6d7e\",\"vmmk-nic=4000\"],"
        "\"nic_key\":4000,\"nic_label\":\"Network adapter 1\"},"
        "{\"name\":\"web-01-prod-nic1\",\"mac\":\"00:50:56:8a:56:78\",\"network\":\"backend\","
        "\"subnet\":\"backend-v4\",\"fixed_ips\":[{\"ip_address\":\"10.20.0.21\",\"subnet\":\"backend-v4\"}],"
        "\"security_groups\":[\"db-clients\"],"
        "\"tags\":[\"vmmk\",\"vmmk-vm=5010a1b2-c3d4-e5f6-0718-293a4b5c6d7e\",\"vmmk-nic=4001\"],"
        "\"nic_key\":4001,\"nic_label\":\"Network adapter 2\"}]}");
    vmmk_string_free(json);
    vmmk_port_plan_free(plan);
    vmmk_netmap_free(map);
    vmmk_vm_free(vm);
}

/* The JSON reads back into the same values, pretty or not. */
static void test_json_round_trip(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(three_nics);
    vmmk_port_plan *plan = plan_for(
        "{\"map\": {\"VM Network\": {\"network\": \"front\", \"subnet\": \"front-v4\"}},"
        " \"default\": \"rest\", \"security_groups\": [\"a\", \"b\"]}", vm);
    for (unsigned flags = 0; flags <= VMMK_JSON_PRETTY; flags++) {
        char *json = NULL;
        assert_int_equal(vmmk_port_plan_to_json(&json, plan, flags), 0);
        json_object *root = json_tokener_parse(json), *ports, *p, *v;
        assert_non_null(root);
        assert_true(json_object_object_get_ex(root, "ports", &ports));
        assert_int_equal(json_object_array_length(ports), plan->n_ports);
        for (size_t i = 0; i < plan->n_ports; i++) {
            const vmmk_port_spec *s = &plan->ports[i];
            p = json_object_array_get_idx(ports, i);
            assert_int_equal(json_object_object_length(p), 9);
            assert_true(json_object_object_get_ex(p, "name", &v));
            assert_string_equal(json_object_get_string(v), s->name);
            assert_true(json_object_object_get_ex(p, "mac", &v));
            assert_string_equal(json_object_get_string(v), s->mac);
            assert_true(json_object_object_get_ex(p, "network", &v));
            assert_string_equal(json_object_get_string(v), s->network);
            assert_true(json_object_object_get_ex(p, "subnet", &v));
            if (s->subnet)
                assert_string_equal(json_object_get_string(v), s->subnet);
            else
                assert_null(v);
            assert_true(json_object_object_get_ex(p, "fixed_ips", &v));
            assert_int_equal(json_object_array_length(v), s->n_fixed_ips);
            for (size_t k = 0; k < s->n_fixed_ips; k++) {
                json_object *f = json_object_array_get_idx(v, k), *x;
                assert_true(json_object_object_get_ex(f, "ip_address", &x));
                assert_string_equal(json_object_get_string(x), s->fixed_ips[k].ip_address);
                assert_true(json_object_object_get_ex(f, "subnet", &x));
                if (s->fixed_ips[k].subnet)
                    assert_string_equal(json_object_get_string(x), s->fixed_ips[k].subnet);
                else
                    assert_null(x);
            }
            assert_true(json_object_object_get_ex(p, "security_groups", &v));
            assert_int_equal(json_object_array_length(v), s->n_security_groups);
            for (size_t k = 0; k < s->n_security_groups; k++)
                assert_string_equal(json_object_get_string(json_object_array_get_idx(v, k)),
                                    s->security_groups[k]);
            assert_true(json_object_object_get_ex(p, "tags", &v));
            assert_int_equal(json_object_array_length(v), s->n_tags);
            for (size_t k = 0; k < s->n_tags; k++)
                assert_string_equal(json_object_get_string(json_object_array_get_idx(v, k)),
                                    s->tags[k]);
            assert_true(json_object_object_get_ex(p, "nic_key", &v));
            assert_int_equal(json_object_get_int(v), s->nic_key);
            assert_true(json_object_object_get_ex(p, "nic_label", &v));
            assert_string_equal(json_object_get_string(v), s->nic_label);
        }
        json_object_put(root);
        vmmk_string_free(json);
    }
    assert_string_equal(plan->ports[0].subnet, "front-v4");
    assert_string_equal(plan->ports[0].fixed_ips[0].subnet, "front-v4");
    assert_null(plan->ports[1].subnet);
    vmmk_port_plan_free(plan);
    vmmk_vm_free(vm);
}

static void test_no_nics(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(
        "{\"name\": \"lonely\", \"uuid\": \"u\", \"moref\": \"vm-1\", \"guest_id\": \"otherGuest\","
        " \"firmware\": \"bios\", \"vcpus\": 1, \"memory_mib\": 64, \"power_state\": \"poweredOff\","
        " \"disks\": [], \"nics\": []}");
    vmmk_port_plan *plan = plan_for("{\"map\": {\"a\": \"b\"}}", vm);
    assert_int_equal(plan->n_ports, 0);
    char *json = NULL;
    assert_int_equal(vmmk_port_plan_to_json(&json, plan, 0), 0);
    assert_string_equal(json, "{\"ports\":[]}");
    vmmk_string_free(json);
    vmmk_port_plan_free(plan);
    vmmk_vm_free(vm);
}

/* ---- matching ---------------------------------------------------------- */

static void test_portgroup_key_beats_network_name(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(three_nics);
    /* Key order in the document must not matter: name first, then key. */
    vmmk_port_plan *plan = plan_for(
        "{\"map\": {\"backend-pg\": \"by-name\", \"dvportgroup-33\": \"by-key\","
        " \"VM Network\": \"front\"}, \"default\": \"rest\"}", vm);
    assert_int_equal(plan->n_ports, 3);
    assert_string_equal(plan->ports[0].network, "front");
    assert_string_equal(plan->ports[1].network, "by-key");
    assert_string_equal(plan->ports[2].network, "rest");
    vmmk_port_plan_free(plan);

    /* Without the key entry the name matches. */
    plan = plan_for("{\"map\": {\"backend-pg\": \"by-name\"}, \"default\": \"rest\"}", vm);
    assert_string_equal(plan->ports[0].network, "rest");
    assert_string_equal(plan->ports[1].network, "by-name");
    assert_string_equal(plan->ports[2].network, "rest");
    vmmk_port_plan_free(plan);
    vmmk_vm_free(vm);
}

static void test_default_takes_the_rest(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(three_nics);
    vmmk_port_plan *plan = plan_for(
        "{\"map\": {\"X\": {\"network\": \"x-net\", \"subnet\": \"x-sub\"}}, \"default\": \"dflt\","
        " \"security_groups\": [\"web\"]}", vm);
    assert_int_equal(plan->n_ports, 3);
    for (size_t i = 0; i < 2; i++) {
        const vmmk_port_spec *p = &plan->ports[i];
        assert_string_equal(p->network, "dflt");
        assert_null(p->subnet);
        assert_int_equal(p->n_fixed_ips, 1);
        assert_null(p->fixed_ips[0].subnet);
        assert_list(p->security_groups, p->n_security_groups, (const char *[]){ "web" }, 1);
    }
    assert_string_equal(plan->ports[0].fixed_ips[0].ip_address, "10.0.0.5");
    assert_string_equal(plan->ports[2].network, "x-net");
    assert_string_equal(plan->ports[2].subnet, "x-sub");
    assert_int_equal(plan->ports[2].n_fixed_ips, 0);
    assert_int_equal(plan->ports[2].nic_key, 4002);
    assert_string_equal(plan->ports[2].nic_label, "Network adapter 3");
    assert_string_equal(plan->ports[2].mac, "00:50:56:8a:00:03");
    vmmk_port_plan_free(plan);

    /* An empty map is fine when there is a default. */
    plan = plan_for("{\"map\": {}, \"default\": \"all\"}", vm);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(plan->ports[i].network, "all");
    vmmk_port_plan_free(plan);
    vmmk_vm_free(vm);
}

static void expect_unmapped(const char *map_json, const vmmk_vm *vm, const char *message)
{
    vmmk_netmap *map = map_from(map_json);
    vmmk_port_plan *plan = (vmmk_port_plan *)1;
    int rc = vmmk_netmap_apply(&plan, map, vm);
    if (rc != VMMK_EUNMAPPED || strcmp(vmmk_error_last()->message, message) != 0)
        print_error("got %d \"%s\"\n", rc, vmmk_error_last()->message);
    assert_int_equal(rc, VMMK_EUNMAPPED);
    assert_null(plan);
    assert_int_equal(vmmk_error_last()->code, VMMK_EUNMAPPED);
    assert_string_equal(vmmk_error_last()->message, message);
    vmmk_netmap_free(map);
}

static void test_unmapped_all_listed(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(three_nics);
    expect_unmapped("{\"map\": {\"VM Network\": \"front\"}}", vm,
                    "2 NICs match no entry of the network map and there is no \"default\": "
                    "\"Network adapter 2\" (00:50:56:8a:56:78) on network \"backend-pg\" "
                    "[portgroup dvportgroup-33]; \"Network adapter 3\" (00:50:56:8a:00:03) on "
                    "network \"X\"");
    expect_unmapped("{\"map\": {\"VM Network\": \"front\", \"backend-pg\": \"back\"}}", vm,
                    "1 NIC matches no entry of the network map and there is no \"default\": "
                    "\"Network adapter 3\" (00:50:56:8a:00:03) on network \"X\"");
    /* A NIC without a label is named by its device key. */
    free(vm->nics[2].label);
    vm->nics[2].label = NULL;
    expect_unmapped("{\"map\": {\"VM Network\": \"front\", \"backend-pg\": \"back\"}}", vm,
                    "1 NIC matches no entry of the network map and there is no \"default\": "
                    "NIC with key 4002 (00:50:56:8a:00:03) on network \"X\"");
    vmmk_vm_free(vm);
}

/* ---- fixed IPs --------------------------------------------------------- */

static void test_fixed_ip_filter(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(
        "{\"name\": \"ips\", \"uuid\": \"u\", \"moref\": \"vm-1\", \"guest_id\": \"otherGuest\","
        " \"firmware\": \"bios\", \"vcpus\": 1, \"memory_mib\": 64, \"power_state\": \"poweredOn\","
        " \"disks\": [], \"nics\": [{\"key\": 4000, \"label\": \"n\", \"mac\": \"00:50:56:00:00:01\","
        " \"adapter\": \"vmxnet3\", \"network\": \"net\", \"ips\": ["
        "  \"10.0.0.5/24\", \"169.254.3.4/16\", \"127.0.0.1/8\", \"224.0.0.251\", \"0.0.0.0\","
        "  \"255.255.255.255\", \"fe80::250:56ff:fe00:1/64\", \"febf::1/64\", \"::1/128\","
        "  \"ff02::1\", \"::\", \"::ffff:10.0.0.9\", \"2001:db8::5/64\", \"fd12:3456::5/64\","
        "  \"10.0.0.5/16\", \"2001:DB8:0::5\", \"192.168.1.1\"]}]}");
    vmmk_port_plan *plan = plan_for("{\"map\": {\"net\": \"n\"}}", vm);
    const vmmk_port_spec *p = &plan->ports[0];
    /* Global v4/v6 and the ULA stay, prefix lengths go, the second
     * 10.0.0.5 and the capitalised 2001:db8::5 are the same addresses. */
    assert_int_equal(p->n_fixed_ips, 4);
    assert_string_equal(p->fixed_ips[0].ip_address, "10.0.0.5");
    assert_string_equal(p->fixed_ips[1].ip_address, "2001:db8::5");
    assert_string_equal(p->fixed_ips[2].ip_address, "fd12:3456::5");
    assert_string_equal(p->fixed_ips[3].ip_address, "192.168.1.1");
    for (size_t i = 0; i < 4; i++)
        assert_null(p->fixed_ips[i].subnet);
    vmmk_port_plan_free(plan);
    vmmk_vm_free(vm);
}

static void test_fixed_ips_override(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(three_nics);
    /* Top level off, one entry on. */
    vmmk_port_plan *plan = plan_for(
        "{\"map\": {\"VM Network\": \"front\", \"dvportgroup-33\": {\"network\": \"back\","
        " \"subnet\": \"back-v4\", \"fixed_ips\": true}}, \"default\": \"rest\", \"fixed_ips\": false}",
        vm);
    assert_int_equal(plan->ports[0].n_fixed_ips, 0);
    assert_int_equal(plan->ports[1].n_fixed_ips, 1);
    assert_string_equal(plan->ports[1].fixed_ips[0].ip_address, "10.20.0.21");
    assert_string_equal(plan->ports[1].fixed_ips[0].subnet, "back-v4");
    assert_string_equal(plan->ports[1].subnet, "back-v4");
    vmmk_port_plan_free(plan);

    /* Top level on (the default), one entry off; null means "inherit". */
    plan = plan_for("{\"map\": {\"VM Network\": {\"network\": \"front\", \"fixed_ips\": null},"
                    " \"dvportgroup-33\": {\"network\": \"back\", \"fixed_ips\": false}}, \"default\": \"r\"}",
                    vm);
    assert_int_equal(plan->ports[0].n_fixed_ips, 1);
    assert_string_equal(plan->ports[0].fixed_ips[0].ip_address, "10.0.0.5");
    assert_int_equal(plan->ports[1].n_fixed_ips, 0);
    assert_null(plan->ports[1].subnet);
    vmmk_port_plan_free(plan);
    vmmk_vm_free(vm);
}

/* ---- security groups --------------------------------------------------- */

static void test_security_groups_override(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(three_nics);
    vmmk_port_plan *plan = plan_for(
        "{\"map\": {\"VM Network\": {\"network\": \"front\", \"security_groups\": [\"web\", \"ssh\", \"web\"]},"
        " \"dvportgroup-33\": {\"network\": \"back\", \"security_groups\": []},"
        " \"X\": {\"network\": \"x\", \"security_groups\": null}},"
        " \"security_groups\": [\"default\", \"mon\"]}", vm);
    /* The entry's list replaces the top-level one (repeats dropped), an
     * explicit [] leaves Neutron's default, null inherits. */
    assert_list(plan->ports[0].security_groups, plan->ports[0].n_security_groups,
                (const char *[]){ "web", "ssh" }, 2);
    assert_int_equal(plan->ports[1].n_security_groups, 0);
    assert_null(plan->ports[1].security_groups);
    assert_list(plan->ports[2].security_groups, plan->ports[2].n_security_groups,
                (const char *[]){ "default", "mon" }, 2);
    vmmk_port_plan_free(plan);

    /* Neither: empty, so Neutron applies its default group. */
    plan = plan_for("{\"map\": {}, \"default\": \"d\"}", vm);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(plan->ports[i].n_security_groups, 0);
    vmmk_port_plan_free(plan);
    vmmk_vm_free(vm);
}

/* ---- names and tags ---------------------------------------------------- */

static void test_port_names(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(three_nics);
    free(vm->name);
    vm->name = strdup("Zürich Café ☕ (prod)");
    vmmk_port_plan *plan = plan_for("{\"map\": {}, \"default\": \"d\"}", vm);
    assert_string_equal(plan->ports[0].name, "Zurich-Cafe-prod-nic0");
    assert_string_equal(plan->ports[1].name, "Zurich-Cafe-prod-nic1");
    assert_string_equal(plan->ports[2].name, "Zurich-Cafe-prod-nic2");
    vmmk_port_plan_free(plan);

    /* Nothing usable in the name: the suffix alone. */
    free(vm->name);
    vm->name = strdup("日本語");
    plan = plan_for("{\"map\": {}, \"default\": \"d\"}", vm);
    assert_string_equal(plan->ports[0].name, "nic0");
    vmmk_port_plan_free(plan);

    /* Too long: the name is cut, never the suffix, so names stay distinct. */
    free(vm->name);
    vm->name = strdup("a-very-long-virtual-machine-name-that-goes-on-and-on-past-sixty-four-bytes");
    plan = plan_for("{\"map\": {}, \"default\": \"d\"}", vm);
    assert_string_equal(plan->ports[0].name,
                        "a-very-long-virtual-machine-name-that-goes-on-and-on-past-s-nic0");
    assert_string_equal(plan->ports[2].name,
                        "a-very-long-virtual-machine-name-that-goes-on-and-on-past-s-nic2");
    assert_int_equal(strlen(plan->ports[0].name), 64);
    vmmk_port_plan_free(plan);
    vmmk_vm_free(vm);
}

static void test_tags(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(three_nics);
    vmmk_port_plan *plan = plan_for("{\"map\": {}, \"default\": \"d\"}", vm);
    assert_list(plan->ports[1].tags, plan->ports[1].n_tags,
                (const char *[]){ "vmmk", "vmmk-vm=5010bbbb-0000-0000-0000-000000000001",
                                  "vmmk-nic=4001" }, 3);
    vmmk_port_plan_free(plan);

    /* No instance uuid: the BIOS uuid; '/' and ',' cannot appear. */
    free(vm->instance_uuid);
    vm->instance_uuid = NULL;
    free(vm->uuid);
    vm->uuid = strdup("a/b,c");
    plan = plan_for("{\"map\": {}, \"default\": \"d\"}", vm);
    assert_list(plan->ports[0].tags, plan->ports[0].n_tags,
                (const char *[]){ "vmmk", "vmmk-vm=a_b_c", "vmmk-nic=4000" }, 3);
    vmmk_port_plan_free(plan);

    /* Neutron's 255-character limit holds whatever the uuid. */
    free(vm->uuid);
    vm->uuid = malloc(400);
    memset(vm->uuid, 'f', 399);
    vm->uuid[399] = '\0';
    plan = plan_for("{\"map\": {}, \"default\": \"d\"}", vm);
    assert_int_equal(strlen(plan->ports[0].tags[1]), 255);
    assert_memory_equal(plan->ports[0].tags[1], "vmmk-vm=ffff", 12);
    vmmk_port_plan_free(plan);
    vmmk_vm_free(vm);
}

/* ---- the document ------------------------------------------------------ */

static void test_map_full_form(void **state)
{
    (void)state;
    /* Every option, null for the optional ones, and keys that need escaping. */
    vmmk_netmap *map = map_from(
        "{\"map\": {\"a\": {\"network\": \"n\", \"subnet\": null, \"security_groups\": null,"
        " \"fixed_ips\": null}, \"we \\\"quote\\\"\": \"q\"}, \"default\": null,"
        " \"security_groups\": null, \"fixed_ips\": null}");
    vmmk_netmap_free(map);
    vmmk_netmap_free(NULL);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    expect_map_error("{\"map\": {\"VM Network\": {\"network\": \"n\", \"subnett\": \"s\"}}}",
                     VMMK_EINVAL,
                     "map[\"VM Network\"].subnett: unknown key (expected network, subnet, "
                     "security_groups, fixed_ips)");
    expect_map_error("{\"map\": {\"a\": \"b\"}, \"fixed_ip\": true}", VMMK_EINVAL,
                     "fixed_ip: unknown key (expected map, default, security_groups, fixed_ips)");
    /* All strangers at once, and before "network: missing" (the likely cause). */
    expect_map_error("{\"map\": {\"a\": {\"netwrok\": \"n\", \"securitygroups\": []}}}", VMMK_EINVAL,
                     "map[\"a\"].netwrok, map[\"a\"].securitygroups: unknown keys (expected "
                     "network, subnet, security_groups, fixed_ips)");
    expect_map_error("{\"maps\": {}, \"defaults\": \"x\"}", VMMK_EINVAL,
                     "maps, defaults: unknown keys (expected map, default, security_groups, fixed_ips)");
    expect_map_error("{\"map\": {\"q\\\"k\": {\"network\": \"n\", \"x\": 1}}}", VMMK_EINVAL,
                     "map[\"q\\\"k\"].x: unknown key (expected network, subnet, security_groups, "
                     "fixed_ips)");
}

static void test_wrong_types(void **state)
{
    (void)state;
    expect_map_error("[]", VMMK_EINVAL, "document: expected object, got array");
    expect_map_error("{\"map\": []}", VMMK_EINVAL, "map: expected object, got array");
    expect_map_error("{\"map\": null}", VMMK_EINVAL, "map: must not be null");
    expect_map_error("{}", VMMK_EINVAL, "map: missing");
    expect_map_error("{\"map\": {\"VM Network\": 7}}", VMMK_EINVAL,
                     "map[\"VM Network\"]: expected string or object, got integer");
    expect_map_error("{\"map\": {\"VM Network\": null}}", VMMK_EINVAL,
                     "map[\"VM Network\"]: expected string or object, got null");
    expect_map_error("{\"map\": {\"a\": {\"subnet\": \"s\"}}}", VMMK_EINVAL,
                     "map[\"a\"].network: missing");
    expect_map_error("{\"map\": {\"a\": {\"network\": [\"n\"]}}}", VMMK_EINVAL,
                     "map[\"a\"].network: expected string, got array");
    expect_map_error("{\"map\": {\"a\": {\"network\": \"n\", \"fixed_ips\": \"yes\"}}}", VMMK_EINVAL,
                     "map[\"a\"].fixed_ips: expected boolean, got string");
    expect_map_error("{\"map\": {\"a\": {\"network\": \"n\", \"security_groups\": \"web\"}}}",
                     VMMK_EINVAL, "map[\"a\"].security_groups: expected array, got string");
    expect_map_error("{\"map\": {\"a\": {\"network\": \"n\", \"security_groups\": [\"web\", 3]}}}",
                     VMMK_EINVAL, "map[\"a\"].security_groups[1]: expected string, got integer");
    expect_map_error("{\"map\": {\"a\": \"b\"}, \"fixed_ips\": 1}", VMMK_EINVAL,
                     "fixed_ips: expected boolean, got integer");
    expect_map_error("{\"map\": {\"a\": \"b\"}, \"default\": {\"network\": \"n\"}}", VMMK_EINVAL,
                     "default: expected string, got object");
    expect_map_error("{\"map\": {\"a\": \"b\"}, \"security_groups\": [null]}", VMMK_EINVAL,
                     "security_groups[0]: expected string, got null");
}

static void test_empty_values(void **state)
{
    (void)state;
    expect_map_error("{\"map\": {}}", VMMK_EINVAL, "map: empty and no default");
    expect_map_error("{\"map\": {}, \"default\": null}", VMMK_EINVAL, "map: empty and no default");
    expect_map_error("{\"map\": {\"VM Network\": \"\"}}", VMMK_EINVAL,
                     "map[\"VM Network\"]: must not be empty");
    expect_map_error("{\"map\": {\"\": \"n\"}}", VMMK_EINVAL, "map[\"\"]: a key must not be empty");
    expect_map_error("{\"map\": {\"a\": {\"network\": \"\"}}}", VMMK_EINVAL,
                     "map[\"a\"].network: must not be empty");
    expect_map_error("{\"map\": {\"a\": {\"network\": \"n\", \"subnet\": \"\"}}}", VMMK_EINVAL,
                     "map[\"a\"].subnet: must not be empty");
    expect_map_error("{\"map\": {}, \"default\": \"\"}", VMMK_EINVAL, "default: must not be empty");
    expect_map_error("{\"map\": {\"a\": \"b\"}, \"security_groups\": [\"\"]}", VMMK_EINVAL,
                     "security_groups[0]: must not be empty");
}

static void test_not_json(void **state)
{
    (void)state;
    vmmk_netmap *map = (vmmk_netmap *)1;
    assert_int_equal(vmmk_netmap_from_json(&map, "map: {}", (size_t)-1), VMMK_EPARSE);
    assert_null(map);
    assert_int_equal(vmmk_error_last()->code, VMMK_EPARSE);
    assert_int_equal(vmmk_netmap_from_json(&map, "{\"map\": {}", (size_t)-1), VMMK_EPARSE);
    /* len is honoured: the text is cut inside the document. */
    assert_int_equal(vmmk_netmap_from_json(&map, "{\"map\": {}, \"default\": \"d\"}", 10),
                     VMMK_EPARSE);
    assert_int_equal(vmmk_netmap_from_json(NULL, "{}", 2), VMMK_EINVAL);
}

static void test_from_file(void **state)
{
    (void)state;
    char path[] = "/tmp/vmmk-netmap-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char bad[] = "{\"map\": {\"a\": {\"network\": \"n\", \"sg\": []}}}";
    assert_int_equal(write(fd, bad, sizeof bad - 1), (ssize_t)(sizeof bad - 1));
    close(fd);
    vmmk_netmap *map = (vmmk_netmap *)1;
    assert_int_equal(vmmk_netmap_from_file(&map, path), VMMK_EINVAL);
    assert_null(map);
    char *want = NULL;
    assert_true(asprintf(&want, "%s: map[\"a\"].sg: unknown key (expected network, subnet, "
                                "security_groups, fixed_ips)", path) > 0);
    assert_string_equal(vmmk_error_last()->message, want);
    free(want);
    unlink(path);
    assert_int_equal(vmmk_netmap_from_file(&map, path), VMMK_ENOTFOUND);
    assert_null(map);
}

static void test_bad_arguments(void **state)
{
    (void)state;
    vmmk_vm *vm = vm_from(three_nics);
    vmmk_netmap *map = map_from("{\"map\": {}, \"default\": \"d\"}");
    vmmk_port_plan *plan = NULL;
    assert_int_equal(vmmk_netmap_apply(NULL, map, vm), VMMK_EINVAL);
    assert_int_equal(vmmk_netmap_apply(&plan, NULL, vm), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message, "vmmk_netmap_apply: map is NULL");
    assert_int_equal(vmmk_netmap_apply(&plan, map, NULL), VMMK_EINVAL);
    /* A VM built in C goes through the model's validation. */
    vm->nics[1].mac[0] = 'X';
    assert_int_equal(vmmk_netmap_apply(&plan, map, vm), VMMK_EINVAL);
    assert_null(plan);
    assert_string_equal(vmmk_error_last()->message,
                        "VM \"app\": nics[1].mac: \"X0:50:56:8a:56:78\" is not a MAC address (expected 00:50:56:aa:bb:cc)");
    char *json = NULL;
    assert_int_equal(vmmk_port_plan_to_json(&json, NULL, 0), VMMK_EINVAL);
    assert_null(json);
    vmmk_port_plan_free(NULL);
    vmmk_netmap_free(map);
    vmmk_vm_free(vm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_examples_exact_json),
        cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_no_nics),
        cmocka_unit_test(test_portgroup_key_beats_network_name),
        cmocka_unit_test(test_default_takes_the_rest),
        cmocka_unit_test(test_unmapped_all_listed),
        cmocka_unit_test(test_fixed_ip_filter),
        cmocka_unit_test(test_fixed_ips_override),
        cmocka_unit_test(test_security_groups_override),
        cmocka_unit_test(test_port_names),
        cmocka_unit_test(test_tags),
        cmocka_unit_test(test_map_full_form),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_empty_values),
        cmocka_unit_test(test_not_json),
        cmocka_unit_test(test_from_file),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
