/* flavor_matcher, the data side: reading Nova flavors (every shape and
 * error), writing them, requirements from a VM and their validation.  The
 * choice itself is tested in test_flavor_match.c (docs/flavor-matching.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmmk/vmmk.h>

#include "flavor_fixtures.h"

#define VM_JSON VMMK_SOURCE_DIR "/examples/vm.json"

static void parse_error(const char *json, int code, const char *message)
{
    vmmk_flavor_list *l = (vmmk_flavor_list *)1;
    int rc = vmmk_flavor_list_from_json(&l, json, (size_t)-1);
    if (rc != code || (message && strcmp(vmmk_error_last()->message, message) != 0))
        print_error("%s\n  got %d \"%s\"\n", json, rc, vmmk_error_last()->message);
    assert_int_equal(rc, code);
    assert_null(l);
    assert_int_equal(vmmk_error_last()->code, code);
    if (message)
        assert_string_equal(vmmk_error_last()->message, message);
}

static json_object *reparse(const char *text)
{
    json_object *o = json_tokener_parse(text);
    assert_non_null(o);
    return o;
}

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("no member \"%s\"", key);
    return v;
}

/* ---- reading ------------------------------------------------------ */

static void test_parse_example(void **state)
{
    (void)state;
    vmmk_flavor_list *l = example();
    const vmmk_flavor *t = &l->items[0];
    assert_string_equal(t->id, "1");
    assert_string_equal(t->name, "m1.tiny");
    assert_int_equal(t->vcpus, 1);
    assert_int_equal(t->ram_mib, 512);
    assert_int_equal(t->disk_gib, 1);
    assert_int_equal(t->swap_mib, 0); /* Nova's "" */
    assert_int_equal(t->ephemeral_gib, 0);
    assert_false(t->disabled);
    assert_true(t->is_public);
    assert_int_equal(t->n_extra_specs, 0);
    assert_non_null(strstr(t->raw_json, "\"rxtx_factor\""));
    assert_non_null(strstr(t->raw_json, "\"swap\":\"\""));

    const vmmk_flavor *c = &l->items[5];
    assert_string_equal(c->id, "c4r8");
    assert_int_equal(c->n_extra_specs, 1);
    assert_string_equal(c->extra_spec_keys[0], "hw:cpu_policy");
    assert_string_equal(c->extra_spec_values[0], "shared");
    assert_true(l->items[6].disabled);
    assert_false(l->items[7].is_public);
    vmmk_flavor_list_free(l);
}

static void test_parse_shapes(void **state)
{
    (void)state;
    /* Bare array; optional members absent take Nova's defaults. */
    vmmk_flavor_list *l = parse("[" FL("a", "one", 2, 4096, 40) "," FL("b", "two", 4, 8192, 0) "]");
    assert_int_equal(l->n, 2);
    assert_string_equal(l->items[1].name, "two");
    assert_int_equal(l->items[1].disk_gib, 0);
    assert_true(l->items[0].is_public);
    assert_false(l->items[0].disabled);
    assert_int_equal(l->items[0].swap_mib, 0);
    assert_int_equal(l->items[0].ephemeral_gib, 0);
    assert_int_equal(l->items[0].n_extra_specs, 0);
    assert_null(l->items[0].extra_spec_keys);
    vmmk_flavor_list_free(l);

    /* Single flavor, every optional member set; extra specs come out sorted. */
    l = parse("{\"flavor\":" FLX("x", "full", 8, 16384, 80,
                                 "\"swap\":1024,\"OS-FLV-EXT-DATA:ephemeral\":10,"
                                 "\"OS-FLV-DISABLED:disabled\":true,"
                                 "\"os-flavor-access:is_public\":false,"
                                 "\"extra_specs\":{\"b\":\"2\",\"a\":\"1\",\"c\":\"3\"}") "}");
    assert_int_equal(l->n, 1);
    const vmmk_flavor *f = &l->items[0];
    assert_int_equal(f->swap_mib, 1024);
    assert_int_equal(f->ephemeral_gib, 10);
    assert_true(f->disabled);
    assert_false(f->is_public);
    assert_int_equal(f->n_extra_specs, 3);
    assert_string_equal(f->extra_spec_keys[0], "a");
    assert_string_equal(f->extra_spec_keys[1], "b");
    assert_string_equal(f->extra_spec_keys[2], "c");
    assert_string_equal(f->extra_spec_values[2], "3");
    vmmk_flavor_list_free(l);

    /* Nova's own form, with null optionals and an empty list. */
    l = parse("{\"flavors\":[" FLX("n", "nulls", 1, 512, 1, "\"swap\":null,\"extra_specs\":null") "]}");
    assert_int_equal(l->items[0].swap_mib, 0);
    vmmk_flavor_list_free(l);
    l = parse("{\"flavors\":[]}");
    assert_int_equal(l->n, 0);
    vmmk_flavor_list_free(l);
}

static void test_parse_errors(void **state)
{
    (void)state;
    parse_error("{\"flavors\":[" FL("1", "a", 1, 512, 1) "," FL("2", "b", 1, 512, 1) ","
                "{\"id\":\"3\",\"name\":\"c\",\"vcpus\":2,\"ram\":\"8192\",\"disk\":1}]}",
                VMMK_EINVAL, "flavors[2].ram: expected integer, got string");
    /* A bare array is reported as "flavors" too. */
    parse_error("[" FL("1", "a", 1, 512, 1) ",{\"id\":\"2\",\"name\":\"b\",\"vcpus\":\"2\","
                "\"ram\":512,\"disk\":1}]",
                VMMK_EINVAL, "flavors[1].vcpus: expected integer, got string");
    parse_error("{\"flavor\":{\"id\":\"1\",\"name\":\"a\",\"vcpus\":1,\"ram\":512,\"disk\":true}}",
                VMMK_EINVAL, "flavor.disk: expected integer, got boolean");
    parse_error("[{\"id\":\"1\",\"name\":\"a\",\"vcpus\":1,\"disk\":1}]", VMMK_EINVAL,
                "flavors[0].ram: missing");
    parse_error("[{\"id\":\"1\",\"vcpus\":1,\"ram\":512,\"disk\":1}]", VMMK_EINVAL,
                "flavors[0].name: missing");
    parse_error("[{\"name\":\"a\",\"vcpus\":1,\"ram\":512,\"disk\":1}]", VMMK_EINVAL,
                "flavors[0].id: missing");
    parse_error("[{\"id\":7,\"name\":\"a\",\"vcpus\":1,\"ram\":512,\"disk\":1}]", VMMK_EINVAL,
                "flavors[0].id: expected string, got integer");
    parse_error("[{\"id\":\"\",\"name\":\"a\",\"vcpus\":1,\"ram\":512,\"disk\":1}]", VMMK_EINVAL,
                "flavors[0].id: must not be empty");
    parse_error("[" FL("1", "a", 0, 512, 1) "]", VMMK_EINVAL,
                "flavors[0].vcpus: 0 is out of range (1..2147483647)");
    parse_error("[" FL("1", "a", 1, 0, 1) "]", VMMK_EINVAL,
                "flavors[0].ram: 0 is out of range (1..9223372036854775807)");
    parse_error("[" FL("1", "a", 1, 512, -1) "]", VMMK_EINVAL,
                "flavors[0].disk: -1 is out of range (0..9223372036854775807)");
    parse_error("[" FLX("1", "a", 1, 512, 1, "\"swap\":\"abc\"") "]", VMMK_EINVAL,
                "flavors[0].swap: expected integer or \"\", got string \"abc\"");
    parse_error("[" FLX("1", "a", 1, 512, 1, "\"swap\":true") "]", VMMK_EINVAL,
                "flavors[0].swap: expected integer, got boolean");
    parse_error("[" FLX("1", "a", 1, 512, 1, "\"OS-FLV-EXT-DATA:ephemeral\":-5") "]", VMMK_EINVAL,
                "flavors[0].OS-FLV-EXT-DATA:ephemeral: -5 is out of range (0..9223372036854775807)");
    parse_error("[" FLX("1", "a", 1, 512, 1, "\"os-flavor-access:is_public\":\"yes\"") "]",
                VMMK_EINVAL, "flavors[0].os-flavor-access:is_public: expected boolean, got string");
    parse_error("[" FLX("1", "a", 1, 512, 1, "\"OS-FLV-DISABLED:disabled\":1") "]", VMMK_EINVAL,
                "flavors[0].OS-FLV-DISABLED:disabled: expected boolean, got integer");
    parse_error("[" FLX("1", "a", 1, 512, 1, "\"extra_specs\":{\"hw:numa_nodes\":2}") "]",
                VMMK_EINVAL, "flavors[0].extra_specs.hw:numa_nodes: expected string, got integer");
    parse_error("[" FLX("1", "a", 1, 512, 1, "\"extra_specs\":[]") "]", VMMK_EINVAL,
                "flavors[0].extra_specs: expected object, got array");
    parse_error("[" FL("1", "a", 1, 512, 1) "," FL("2", "b", 1, 512, 1) "," FL("1", "c", 1, 512, 1)
                "," FL("2", "d", 1, 512, 1) "]",
                VMMK_EINVAL, "flavors[2].id: \"1\" is used by flavors[0] too");
    parse_error("[42]", VMMK_EINVAL, "flavors[0]: expected object, got integer");
    parse_error("{\"flavors\":{}}", VMMK_EINVAL, "flavors: expected array, got object");
    parse_error("{\"flavor\":[]}", VMMK_EINVAL, "flavor: expected object, got array");
    parse_error("{\"servers\":[]}", VMMK_EINVAL,
                "document: expected {\"flavors\": [...]}, an array of flavors or "
                "{\"flavor\": {...}}");
    parse_error("\"flavors\"", VMMK_EINVAL,
                "document: expected {\"flavors\": [...]}, an array of flavors or "
                "{\"flavor\": {...}}, got string");
    parse_error("{\"flavors\": [", VMMK_EPARSE, NULL);
    parse_error("flavors", VMMK_EPARSE, NULL);
    assert_non_null(strstr(vmmk_error_last()->message, "JSON syntax error at line 1"));
}

static void test_parse_file(void **state)
{
    (void)state;
    vmmk_flavor_list *l = (vmmk_flavor_list *)1;
    assert_int_equal(vmmk_flavor_list_from_file(&l, "/nonexistent/flavors.json"), VMMK_ENOTFOUND);
    assert_null(l);

    char path[] = "/tmp/test_flavor_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *doc = "[" FL("1", "a", 1, "x", 1) "]";
    assert_int_equal(write(fd, doc, strlen(doc)), (ssize_t)strlen(doc));
    close(fd);
    assert_int_equal(vmmk_flavor_list_from_file(&l, path), VMMK_EINVAL);
    char want[256];
    snprintf(want, sizeof want, "%s: flavors[0].ram: expected integer, got string", path);
    assert_string_equal(vmmk_error_last()->message, want);
    unlink(path);
}

/* ---- writing ------------------------------------------------------ */

static void test_flavor_to_json(void **state)
{
    (void)state;
    vmmk_flavor_list *l = example();
    char *s = NULL;
    /* As Nova gave it: swap stays "", unknown members stay. */
    assert_int_equal(vmmk_flavor_to_json(&s, &l->items[5], 0), 0);
    json_object *o = reparse(s);
    assert_string_equal(json_object_get_string(member(o, "id")), "c4r8");
    assert_string_equal(json_object_get_string(member(o, "swap")), "");
    assert_true(json_object_is_type(member(o, "rxtx_factor"), json_type_double));
    assert_string_equal(json_object_get_string(member(member(o, "extra_specs"), "hw:cpu_policy")),
                        "shared");
    json_object_put(o);
    vmmk_string_free(s);
    assert_int_equal(vmmk_flavor_to_json(&s, &l->items[0], VMMK_JSON_PRETTY), 0);
    assert_non_null(strchr(s, '\n'));
    vmmk_string_free(s);
    vmmk_flavor_list_free(l);

    /* Built in C: Nova's keys from the fields. */
    char *keys[] = { "hw:cpu_policy" }, *vals[] = { "dedicated" };
    vmmk_flavor f = { 0 };
    f.name = "built";
    f.vcpus = 2;
    f.ram_mib = 4096;
    f.disk_gib = 20;
    f.ephemeral_gib = 5;
    f.swap_mib = 512;
    f.is_public = true;
    f.extra_spec_keys = keys;
    f.extra_spec_values = vals;
    f.n_extra_specs = 1;
    assert_int_equal(vmmk_flavor_to_json(&s, &f, 0), 0);
    o = reparse(s);
    assert_true(json_object_is_type(member(o, "id"), json_type_null));
    assert_string_equal(json_object_get_string(member(o, "name")), "built");
    assert_int_equal(json_object_get_int(member(o, "vcpus")), 2);
    assert_int_equal(json_object_get_int(member(o, "ram")), 4096);
    assert_int_equal(json_object_get_int(member(o, "disk")), 20);
    assert_int_equal(json_object_get_int(member(o, "swap")), 512);
    assert_int_equal(json_object_get_int(member(o, "OS-FLV-EXT-DATA:ephemeral")), 5);
    assert_false(json_object_get_boolean(member(o, "OS-FLV-DISABLED:disabled")));
    assert_true(json_object_get_boolean(member(o, "os-flavor-access:is_public")));
    assert_string_equal(json_object_get_string(member(member(o, "extra_specs"), "hw:cpu_policy")),
                        "dedicated");
    json_object_put(o);
    vmmk_string_free(s);

    /* A caller-set raw_json that is not JSON is refused, not passed on. */
    f.raw_json = "{broken";
    assert_int_equal(vmmk_flavor_to_json(&s, &f, 0), VMMK_EPARSE);
    assert_null(s);
    assert_int_equal(vmmk_flavor_to_json(NULL, &f, 0), VMMK_EINVAL);
}

/* ---- requirements ------------------------------------------------- */

static void test_requirements_from_vm(void **state)
{
    (void)state;
    vmmk_vm *vm = NULL;
    assert_int_equal(vmmk_vm_from_file(&vm, VM_JSON), 0);
    assert_int_equal(vm->disks[0].capacity_bytes, UINT64_C(40) << 30);
    vmmk_flavor_requirements r = VMMK_FLAVOR_REQUIREMENTS_INIT;
    r.name_filter = "m1.*";
    r.swap_mib = 7;
    assert_int_equal(vmmk_flavor_requirements_from_vm(&r, vm), 0);
    assert_int_equal(r.vcpus, 4);
    assert_int_equal(r.ram_mib, 8192);
    assert_int_equal(r.disk_gib, 40); /* disks[0] only, not disks[1] */
    assert_string_equal(r.name_filter, "m1.*");
    assert_int_equal(r.swap_mib, 7);

    vm->disks[0].capacity_bytes += 1;
    assert_int_equal(vmmk_flavor_requirements_from_vm(&r, vm), 0);
    assert_int_equal(r.disk_gib, 41);
    vm->disks[0].capacity_bytes = 1;
    assert_int_equal(vmmk_flavor_requirements_from_vm(&r, vm), 0);
    assert_int_equal(r.disk_gib, 1);

    /* No disks: an error unless the root is a volume. */
    size_t n = vm->n_disks;
    vm->n_disks = 0;
    r.disk_gib = 99;
    assert_int_equal(vmmk_flavor_requirements_from_vm(&r, vm), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message,
                        "VM \"web-01 (prod)\": has no disks, so there is no root disk to size; "
                        "set boot_from_volume to match on vCPUs and RAM only");
    assert_int_equal(r.disk_gib, 99);
    r.boot_from_volume = true;
    assert_int_equal(vmmk_flavor_requirements_from_vm(&r, vm), 0);
    assert_int_equal(r.disk_gib, 0);
    vm->n_disks = n;
    assert_int_equal(vmmk_flavor_requirements_from_vm(NULL, vm), VMMK_EINVAL);

    /* End to end with the example flavors. */
    vmmk_flavor_list *l = example();
    r = (vmmk_flavor_requirements)VMMK_FLAVOR_REQUIREMENTS_INIT;
    assert_int_equal(vmmk_flavor_requirements_from_vm(&r, vm), 0);
    vmmk_flavor_choice *c = NULL;
    assert_int_equal(vmmk_flavor_match(&c, l, &r), 0);
    assert_string_equal(c->flavor->name, "c4.r8.d40");
    vmmk_flavor_choice_free(c);
    vmmk_flavor_list_free(l);
    vmmk_vm_free(vm);
}

static void bad_req(const vmmk_flavor_list *l, const vmmk_flavor_requirements *r, const char *msg)
{
    vmmk_flavor_choice *c = (vmmk_flavor_choice *)1;
    int rc = vmmk_flavor_match(&c, l, r);
    if (rc != VMMK_EINVAL || strcmp(vmmk_error_last()->message, msg) != 0)
        print_error("got %d \"%s\"\n", rc, vmmk_error_last()->message);
    assert_int_equal(rc, VMMK_EINVAL);
    assert_null(c);
    assert_string_equal(vmmk_error_last()->message, msg);
}

static void test_bad_requirements(void **state)
{
    (void)state;
    vmmk_flavor_list *l = example();
    vmmk_flavor_requirements r = req_of(4, 8192, 40);
    r.version = 2;
    bad_req(l, &r, "requirements.version: 2 is not supported (expected 1; initialise with "
                   "VMMK_FLAVOR_REQUIREMENTS_INIT)");
    r = req_of(0, 8192, 40);
    bad_req(l, &r, "requirements.vcpus: must be >= 1, got 0");
    r = req_of(-3, 8192, 40);
    bad_req(l, &r, "requirements.vcpus: must be >= 1, got -3");
    r = req_of(4, 0, 40);
    bad_req(l, &r, "requirements.ram_mib: must be >= 1, got 0");
    r = req_of(4, 8192, 0);
    bad_req(l, &r, "requirements.disk_gib: must be >= 1 unless boot_from_volume is set, got 0");
    r.n_extra_specs = 1;
    r.disk_gib = 40;
    bad_req(l, &r, "requirements.extra_spec_keys: NULL with n_extra_specs 1");
    const char *keys[] = { "a", "a" }, *vals[] = { "1", NULL };
    r.extra_spec_keys = keys;
    bad_req(l, &r, "requirements.extra_spec_values: NULL with n_extra_specs 1");
    r.extra_spec_values = vals;
    r.n_extra_specs = 2;
    bad_req(l, &r, "requirements.extra_spec_values[1]: NULL");
    vals[1] = "2";
    bad_req(l, &r, "requirements.extra_spec_keys[1]: \"a\" is given at [0] too");

    r = req_of(4, 8192, 40);
    bad_req(NULL, &r, "vmmk_flavor_match: flavors is NULL");
    bad_req(l, NULL, "vmmk_flavor_match: requirements is NULL");
    assert_int_equal(vmmk_flavor_match(NULL, l, &r), VMMK_EINVAL);
    vmmk_flavor_list broken = { NULL, 3 };
    bad_req(&broken, &r, "flavors: count 3 without entries");
    vmmk_flavor_list_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_example),
        cmocka_unit_test(test_parse_shapes),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_file),
        cmocka_unit_test(test_flavor_to_json),
        cmocka_unit_test(test_requirements_from_vm),
        cmocka_unit_test(test_bad_requirements),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
