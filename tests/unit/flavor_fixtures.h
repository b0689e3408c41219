/* Fixtures shared by the flavor tests (included after cmocka.h). */
#ifndef VMMK_TEST_FLAVOR_FIXTURES_H
#define VMMK_TEST_FLAVOR_FIXTURES_H

#include <vmmk/vmmk.h>

#define FLAVORS VMMK_SOURCE_DIR "/examples/flavors.json"

/* A minimal Nova flavor object; optional members are added by callers. */
#define FL(id, name, vcpus, ram, disk)                                                             \
    "{\"id\":\"" id "\",\"name\":\"" name "\",\"vcpus\":" #vcpus ",\"ram\":" #ram              \
    ",\"disk\":" #disk "}"
#define FLX(id, name, vcpus, ram, disk, extra)                                                     \
    "{\"id\":\"" id "\",\"name\":\"" name "\",\"vcpus\":" #vcpus ",\"ram\":" #ram              \
    ",\"disk\":" #disk "," extra "}"

static inline vmmk_flavor_list *parse(const char *json)
{
    vmmk_flavor_list *l = NULL;
    int rc = vmmk_flavor_list_from_json(&l, json, (size_t)-1);
    if (rc)
        print_error("parse failed: %s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_non_null(l);
    return l;
}

static inline vmmk_flavor_list *example(void)
{
    vmmk_flavor_list *l = NULL;
    assert_int_equal(vmmk_flavor_list_from_file(&l, FLAVORS), 0);
    assert_int_equal(l->n, 8);
    return l;
}

static inline vmmk_flavor_requirements req_of(int32_t vcpus, uint64_t ram, uint64_t disk)
{
    vmmk_flavor_requirements r = VMMK_FLAVOR_REQUIREMENTS_INIT;
    r.vcpus = vcpus;
    r.ram_mib = ram;
    r.disk_gib = disk;
    return r;
}

#endif
