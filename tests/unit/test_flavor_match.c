/* flavor_matcher, the choice: least waste among flavors that fit, the
 * filters, tie-breaks, every no-fit explanation, the proposal and the JSON
 * of a match (docs/flavor-matching.md). */
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

#include <vmmk/vmmk.h>

#include "flavor_fixtures.h"

/* Match and expect success with flavor @p name; returns the choice. */
static vmmk_flavor_choice *pick(const vmmk_flavor_list *l, const vmmk_flavor_requirements *r,
                                const char *name)
{
    vmmk_flavor_choice *c = NULL;
    int rc = vmmk_flavor_match(&c, l, r);
    if (rc)
        print_error("match failed: %s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_non_null(c);
    assert_non_null(c->flavor);
    assert_null(c->proposal);
    assert_string_equal(c->flavor->name, name);
    return c;
}

static void pick_free(const vmmk_flavor_list *l, const vmmk_flavor_requirements *r, const char *name)
{
    vmmk_flavor_choice_free(pick(l, r, name));
}

/* Match and expect VMMK_ENOFIT whose error message and reason are both
 * exactly @p reason; returns the choice (with its proposal). */
static vmmk_flavor_choice *nofit(const vmmk_flavor_list *l, const vmmk_flavor_requirements *r,
                                 const char *reason)
{
    vmmk_flavor_choice *c = NULL;
    int rc = vmmk_flavor_match(&c, l, r);
    if (rc != VMMK_ENOFIT || strcmp(vmmk_error_last()->message, reason) != 0)
        print_error("got %d \"%s\"\n", rc, vmmk_error_last()->message);
    assert_int_equal(rc, VMMK_ENOFIT);
    assert_int_equal(vmmk_error_last()->code, VMMK_ENOFIT);
    assert_string_equal(vmmk_error_last()->message, reason);
    assert_non_null(c);
    assert_string_equal(c->reason, reason);
    assert_null(c->flavor);
    assert_non_null(c->proposal);
    assert_int_equal(c->n_candidates, 0);
    return c;
}

static void nofit_free(const vmmk_flavor_list *l, const vmmk_flavor_requirements *r,
                       const char *reason)
{
    vmmk_flavor_choice_free(nofit(l, r, reason));
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

/* ---- choosing ----------------------------------------------------- */

static void test_least_waste(void **state)
{
    (void)state;
    vmmk_flavor_list *l = example();
    vmmk_flavor_requirements r = req_of(4, 8192, 40);
    vmmk_flavor_choice *c = pick(l, &r, "c4.r8.d40");
    assert_true(fabs(c->waste) < 1e-12);
    assert_int_equal(c->n_candidates, 3); /* m1.large, m1.xlarge, c4.r8.d40 */
    assert_string_equal(c->reason, "c4.r8.d40 (4 vCPUs, 8192 MiB RAM, 40 GiB disk) is the closest "
                                   "of 3 flavors that fit 4 vCPUs, 8192 MiB RAM, 40 GiB disk");
    /* A copy: it outlives the list. */
    assert_ptr_not_equal(c->flavor, &l->items[5]);
    vmmk_flavor_list_free(l);
    assert_string_equal(c->flavor->id, "c4r8");
    assert_string_equal(c->flavor->extra_spec_values[0], "shared");
    assert_non_null(strstr(c->flavor->raw_json, "rxtx_factor"));
    vmmk_flavor_choice_free(c);

    l = parse("[" FL("3", "m1.medium", 2, 4096, 40) "," FL("5", "m1.xlarge", 8, 16384, 160) ","
              FL("4", "m1.large", 4, 8192, 80) "," FL("6", "m2.large", 4, 16384, 80) "]");
    c = pick(l, &r, "m1.large");
    assert_true(fabs(c->waste - 0.25) < 1e-12);
    assert_string_equal(c->reason, "m1.large (4 vCPUs, 8192 MiB RAM, 80 GiB disk) is the closest "
                                   "of 3 flavors that fit 4 vCPUs, 8192 MiB RAM, 40 GiB disk");
    vmmk_flavor_choice_free(c);
    r = req_of(8, 16384, 100);
    c = pick(l, &r, "m1.xlarge");
    assert_int_equal(c->n_candidates, 1);
    assert_string_equal(c->reason, "m1.xlarge (8 vCPUs, 16384 MiB RAM, 160 GiB disk) is the only "
                                   "flavor that fits 8 vCPUs, 16384 MiB RAM, 100 GiB disk");
    vmmk_flavor_choice_free(c);
    vmmk_flavor_list_free(l);
}

static void test_waste_formula(void **state)
{
    (void)state;
    /* 1.0*(8-4)/4 + 1.0*(12288-8192)/8192 + 0.25*(60-40)/40
     * + 0.1*(2-0)/max(0,1) + 0.1*(512-0)/max(0,1024) = 1.875 */
    vmmk_flavor_list *l = parse("[" FLX("w", "w", 8, 12288, 60,
                                        "\"OS-FLV-EXT-DATA:ephemeral\":2,\"swap\":512") "]");
    vmmk_flavor_requirements r = req_of(4, 8192, 40);
    vmmk_flavor_choice *c = pick(l, &r, "w");
    assert_true(fabs(c->waste - 1.875) < 1e-12);
    assert_string_equal(c->reason, "w (8 vCPUs, 12288 MiB RAM, 60 GiB disk, 2 GiB ephemeral disk, "
                                   "512 MiB swap) is the only flavor that fits 4 vCPUs, 8192 MiB "
                                   "RAM, 40 GiB disk");
    vmmk_flavor_choice_free(c);
    /* Requested ephemeral/swap: excess relative to the request.
     * 0.1*(4-2)/2 + 0.1*(3072-2048)/2048 = 0.15 */
    r.ephemeral_gib = 2;
    r.swap_mib = 2048;
    vmmk_flavor_list_free(l);
    l = parse("[" FLX("e", "e", 4, 8192, 40, "\"OS-FLV-EXT-DATA:ephemeral\":4,\"swap\":3072") "]");
    c = pick(l, &r, "e");
    assert_true(fabs(c->waste - 0.15) < 1e-12);
    assert_string_equal(c->reason, "e (4 vCPUs, 8192 MiB RAM, 40 GiB disk, 4 GiB ephemeral disk, "
                                   "3072 MiB swap) is the only flavor that fits 4 vCPUs, 8192 MiB "
                                   "RAM, 40 GiB disk, 2 GiB ephemeral disk, 2048 MiB swap");
    vmmk_flavor_choice_free(c);
    vmmk_flavor_list_free(l);

    /* Weights: doubling the root disk (0.25) costs less than 50% more RAM
     * (0.5), and an unrequested 10 GiB ephemeral disk (1.0) more than both. */
    l = parse("[" FL("r", "more-ram", 4, 12288, 40) "," FL("d", "more-disk", 4, 8192, 80) ","
              FLX("e", "ephemeral", 4, 8192, 40, "\"OS-FLV-EXT-DATA:ephemeral\":10") "]");
    r = req_of(4, 8192, 40);
    c = pick(l, &r, "more-disk");
    assert_true(fabs(c->waste - 0.25) < 1e-12);
    vmmk_flavor_choice_free(c);
    vmmk_flavor_list_free(l);
}

/* The reference scored |Δvcpus| + |ΔMB| + |ΔGB| and took the minimum, so a
 * flavor one unit short beat any that fits.  Here short never fits. */
static void test_undersized_never_wins(void **state)
{
    (void)state;
    vmmk_flavor_list *l = parse("[" FL("3", "m1.medium", 2, 4096, 40) ","
                                FL("4", "m1.large", 4, 8192, 80) "]");
    vmmk_flavor_requirements r = req_of(2, 4096, 41); /* L1 to m1.medium: 1 */
    pick_free(l, &r, "m1.large");
    r = req_of(3, 4096, 40);
    pick_free(l, &r, "m1.large");
    r = req_of(2, 4097, 40);
    pick_free(l, &r, "m1.large");
    r = req_of(2, 4096, 40);
    pick_free(l, &r, "m1.medium"); /* exact fit still wins */
    vmmk_flavor_list_free(l);

    l = parse("[" FLX("s", "short", 2, 4096, 40, "\"OS-FLV-EXT-DATA:ephemeral\":5,\"swap\":512")
              "," FLX("b", "big", 8, 16384, 160, "\"OS-FLV-EXT-DATA:ephemeral\":20,\"swap\":4096")
              "]");
    r = req_of(2, 4096, 40);
    r.ephemeral_gib = 6;
    pick_free(l, &r, "big");
    r.ephemeral_gib = 5;
    r.swap_mib = 1024;
    pick_free(l, &r, "big");
    r.swap_mib = 512;
    pick_free(l, &r, "short");
    vmmk_flavor_list_free(l);
}

static void test_disabled_and_private(void **state)
{
    (void)state;
    vmmk_flavor_list *l = parse("[" FLX("a", "a.disabled", 4, 8192, 40,
                                        "\"OS-FLV-DISABLED:disabled\":true") ","
                                FLX("p", "b.private", 4, 8192, 40,
                                    "\"os-flavor-access:is_public\":false") ","
                                FL("c", "c.bigger", 4, 8192, 80) "]");
    vmmk_flavor_requirements r = req_of(4, 8192, 40);
    vmmk_flavor_choice *c = pick(l, &r, "c.bigger");
    assert_int_equal(c->n_candidates, 1);
    vmmk_flavor_choice_free(c);
    r.include_private = true;
    c = pick(l, &r, "b.private");
    assert_int_equal(c->n_candidates, 2); /* still never the disabled one */
    vmmk_flavor_choice_free(c);
    vmmk_flavor_list_free(l);

    l = example();
    r = req_of(4, 8192, 40);
    r.name_filter = "tenant.*";
    nofit_free(l, &r, "none of the 8 flavors is usable: 1 disabled, 1 private (include_private "
                      "not set), 6 do not match name filter \"tenant.*\"");
    r.include_private = true;
    pick_free(l, &r, "tenant.4x8");
    vmmk_flavor_list_free(l);
}

static void test_name_filter(void **state)
{
    (void)state;
    vmmk_flavor_list *l = example();
    vmmk_flavor_requirements r = req_of(4, 8192, 40);
    r.name_filter = "m1.*";
    vmmk_flavor_choice *c = pick(l, &r, "m1.large");
    assert_int_equal(c->n_candidates, 2);
    vmmk_flavor_choice_free(c);
    r.name_filter = "gpu.*";
    nofit_free(l, &r, "none of the 8 flavors is usable: 1 disabled, 1 private (include_private "
                      "not set), 6 do not match name filter \"gpu.*\"");
    vmmk_flavor_list_free(l);

    l = parse("[" FL("1", "m1.small", 1, 2048, 20) "]");
    nofit_free(l, &r, "none of the 1 flavor is usable: 1 does not match name filter \"gpu.*\"");
    vmmk_flavor_list_free(l);
}

static void test_extra_specs(void **state)
{
    (void)state;
    vmmk_flavor_list *l = example();
    const char *keys[] = { "hw:cpu_policy", "hw:mem_page_size" };
    const char *vals[] = { "shared", "large" };
    vmmk_flavor_requirements r = req_of(2, 4096, 20);
    r.extra_spec_keys = keys;
    r.extra_spec_values = vals;
    r.n_extra_specs = 1;
    vmmk_flavor_choice *c = pick(l, &r, "c4.r8.d40");
    assert_int_equal(c->n_candidates, 1);
    vmmk_flavor_choice_free(c);

    vals[0] = "dedicated"; /* exact value, not just the key */
    nofit_free(l, &r, "none of the 8 flavors is usable: 1 disabled, 1 private (include_private "
                      "not set), 6 lack extra spec hw:cpu_policy=dedicated");
    r.name_filter = "m1.*";
    nofit_free(l, &r, "none of the 8 flavors is usable: 1 disabled, 1 private (include_private "
                      "not set), 1 does not match name filter \"m1.*\", 5 lack extra spec "
                      "hw:cpu_policy=dedicated");
    r.name_filter = NULL;
    vals[0] = "shared";
    r.n_extra_specs = 2;
    nofit_free(l, &r, "none of the 8 flavors is usable: 1 disabled, 1 private (include_private "
                      "not set), 6 lack one of the extra specs hw:cpu_policy=shared, "
                      "hw:mem_page_size=large");
    vmmk_flavor_list_free(l);

    /* Specs beyond the required ones do not matter. */
    l = parse("[" FLX("1", "numa", 2, 4096, 20,
                      "\"extra_specs\":{\"hw:numa_nodes\":\"2\",\"hw:mem_page_size\":\"large\","
                      "\"hw:cpu_policy\":\"shared\"}") "]");
    pick_free(l, &r, "numa");
    vmmk_flavor_list_free(l);
}

static void test_boot_from_volume(void **state)
{
    (void)state;
    vmmk_flavor_list *l = parse("[" FL("1", "b.small-disk", 4, 8192, 20) ","
                                FL("2", "a.nodisk", 4, 8192, 0) ","
                                FL("3", "c.bigram", 4, 16384, 0) "]");
    vmmk_flavor_requirements r = req_of(4, 8192, 0);
    r.boot_from_volume = true;
    vmmk_flavor_choice *c = pick(l, &r, "a.nodisk");
    assert_true(fabs(c->waste) < 1e-12);
    assert_int_equal(c->n_candidates, 3);
    assert_string_equal(c->reason, "a.nodisk (4 vCPUs, 8192 MiB RAM, 0 GiB disk) is the closest "
                                   "of 3 flavors that fit 4 vCPUs, 8192 MiB RAM, boot from volume");
    vmmk_flavor_choice_free(c);
    /* A disk size in the requirements is ignored with boot from volume. */
    r.disk_gib = 500;
    pick_free(l, &r, "a.nodisk");
    vmmk_flavor_list_free(l);

    /* The disk term is left out, not merely satisfied. */
    l = parse("[" FL("1", "huge-disk", 4, 8192, 1000) "]");
    c = pick(l, &r, "huge-disk");
    assert_true(fabs(c->waste) < 1e-12);
    vmmk_flavor_choice_free(c);
    vmmk_flavor_list_free(l);
}

static void test_disk_zero(void **state)
{
    (void)state;
    vmmk_flavor_list *l = parse("[" FL("1", "exact.nodisk", 4, 8192, 0) ","
                                FL("2", "bigger", 8, 16384, 80) "]");
    vmmk_flavor_requirements r = req_of(4, 8192, 40);
    pick_free(l, &r, "bigger");
    vmmk_flavor_list_free(l);

    l = parse("[" FL("1", "z.nodisk", 4, 8192, 0) "," FL("2", "y.nodisk", 8, 16384, 0) "]");
    nofit_free(l, &r, "no flavor has >= 40 GiB disk; all have 0 GiB (disk 0 means the size of "
                      "the image, which suits only boot from volume)");
    r.boot_from_volume = true;
    pick_free(l, &r, "z.nodisk");
    vmmk_flavor_list_free(l);
}

static void test_ties(void **state)
{
    (void)state;
    static const char *const lists[][2] = {
        /* same shape: the name decides */
        { "[" FL("2", "beta", 4, 8192, 40) "," FL("1", "alpha", 4, 8192, 40) "]",
          "[" FL("1", "alpha", 4, 8192, 40) "," FL("2", "beta", 4, 8192, 40) "]" },
        /* same shape and name: the id decides */
        { "[" FL("b", "same", 4, 8192, 40) "," FL("a", "same", 4, 8192, 40) "]",
          "[" FL("a", "same", 4, 8192, 40) "," FL("b", "same", 4, 8192, 40) "]" },
        /* equal waste 0.5 either way: fewer vCPUs decides */
        { "[" FL("c", "a.cpu", 6, 8192, 40) "," FL("r", "b.ram", 4, 12288, 40) "]",
          "[" FL("r", "b.ram", 4, 12288, 40) "," FL("c", "a.cpu", 6, 8192, 40) "]" },
    };
    static const char *const want_id[] = { "1", "a", "r" };
    vmmk_flavor_requirements r = req_of(4, 8192, 40);
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++) {
        for (int order = 0; order < 2; order++) {
            vmmk_flavor_list *l = parse(lists[i][order]);
            vmmk_flavor_choice *c = NULL;
            assert_int_equal(vmmk_flavor_match(&c, l, &r), 0);
            assert_string_equal(c->flavor->id, want_id[i]);
            assert_int_equal(c->n_candidates, 2);
            vmmk_flavor_choice_free(c);
            vmmk_flavor_list_free(l);
        }
    }
    /* Equal waste reached through sums that round differently: x scores
     * 1/10 + 2/10 = 0.30000000000000004, y scores 3/10 = 0.29999999999999999.
     * Without the epsilon y would win; as a tie, fewer vCPUs (x) wins. */
    const char *xy[2] = { "[" FL("x", "x", 11, 12, 1) "," FL("y", "y", 13, 10, 1) "]",
                          "[" FL("y", "y", 13, 10, 1) "," FL("x", "x", 11, 12, 1) "]" };
    r = req_of(10, 10, 1);
    for (int order = 0; order < 2; order++) {
        vmmk_flavor_list *l = parse(xy[order]);
        pick_free(l, &r, "x");
        vmmk_flavor_list_free(l);
    }
}

/* ---- when nothing fits -------------------------------------------- */

static void test_nofit_messages(void **state)
{
    (void)state;
    vmmk_flavor_list *l = parse("{\"flavors\":[]}");
    vmmk_flavor_requirements r = req_of(4, 8192, 40);
    nofit_free(l, &r, "the flavor list is empty");
    vmmk_flavor_list_free(l);

    l = parse("[" FL("3", "m1.medium", 2, 4096, 40) "," FL("4", "m1.large", 4, 8192, 80) "]");
    r = req_of(4, 8192, 100);
    nofit_free(l, &r, "no flavor has >= 100 GiB disk; the largest is m1.large with 80 GiB");
    vmmk_flavor_list_free(l);

    l = example();
    r = req_of(64, 8192, 40);
    nofit_free(l, &r, "no flavor has >= 64 vCPUs; the largest is m1.xlarge with 8 vCPUs");
    r = req_of(4, 262144, 40);
    nofit_free(l, &r, "no flavor has >= 262144 MiB RAM; the largest is m1.xlarge with 16384 MiB");
    r = req_of(64, 262144, 400);
    nofit_free(l, &r, "no flavor has >= 64 vCPUs; the largest is m1.xlarge with 8 vCPUs; "
                      "no flavor has >= 262144 MiB RAM; the largest is m1.xlarge with 16384 MiB; "
                      "no flavor has >= 400 GiB disk; the largest is m1.xlarge with 160 GiB");
    /* Only eligible flavors count: the largest visible one is named. */
    r = req_of(8, 16384, 200);
    r.name_filter = "m1.[tsm]*";
    nofit_free(l, &r, "no flavor has >= 8 vCPUs; the largest is m1.medium with 2 vCPUs; "
                      "no flavor has >= 16384 MiB RAM; the largest is m1.medium with 4096 MiB; "
                      "no flavor has >= 200 GiB disk; the largest is m1.medium with 40 GiB");
    r = req_of(1, 512, 1);
    r.ephemeral_gib = 10;
    nofit_free(l, &r, "no flavor has >= 10 GiB ephemeral disk; all have 0 GiB");
    r.ephemeral_gib = 0;
    r.swap_mib = 2048;
    nofit_free(l, &r, "no flavor has >= 2048 MiB swap; all have 0 MiB");
    vmmk_flavor_list_free(l);

    l = parse("[" FLX("1", "eph", 1, 512, 1, "\"OS-FLV-EXT-DATA:ephemeral\":5,\"swap\":1024") "]");
    r.ephemeral_gib = 10;
    nofit_free(l, &r, "no flavor has >= 10 GiB ephemeral disk; the largest is eph with 5 GiB; "
                      "no flavor has >= 2048 MiB swap; the largest is eph with 1024 MiB");
    vmmk_flavor_list_free(l);

    /* Every requirement is met by someone, but not all by one flavor. */
    l = parse("[" FL("c", "cpu-heavy", 16, 4096, 40) "," FL("r", "ram-heavy", 2, 65536, 40) ","
              FL("d", "disk-heavy", 1, 1024, 400) "]");
    r = req_of(4, 65536, 40);
    nofit_free(l, &r, "no single flavor has >= 4 vCPUs, >= 65536 MiB RAM and >= 40 GiB disk "
                      "together; the nearest is ram-heavy (2 vCPUs, 65536 MiB RAM, 40 GiB disk), "
                      "which falls short on vCPUs");
    r = req_of(4, 65536, 100);
    nofit_free(l, &r, "no single flavor has >= 4 vCPUs, >= 65536 MiB RAM and >= 100 GiB disk "
                      "together; the nearest is ram-heavy (2 vCPUs, 65536 MiB RAM, 40 GiB disk), "
                      "which falls short on vCPUs and disk");
    r = req_of(2, 2048, 40);
    r.boot_from_volume = true;
    r.swap_mib = 1;
    vmmk_flavor_list_free(l);
    l = parse("[" FL("a", "a", 2, 2048, 40) "," FLX("b", "b", 1, 1024, 40, "\"swap\":512") "]");
    nofit_free(l, &r, "no single flavor has >= 2 vCPUs, >= 2048 MiB RAM and >= 1 MiB swap "
                      "together; the nearest is a (2 vCPUs, 2048 MiB RAM, 40 GiB disk), which "
                      "falls short on swap");
    vmmk_flavor_list_free(l);

    /* Nothing eligible at all. */
    l = parse("[" FLX("1", "off", 4, 8192, 40, "\"OS-FLV-DISABLED:disabled\":true") "]");
    r = req_of(4, 8192, 40);
    nofit_free(l, &r, "none of the 1 flavor is usable: 1 disabled");
    vmmk_flavor_list_free(l);
}

static void test_proposal(void **state)
{
    (void)state;
    vmmk_flavor_list *l = example();
    const char *keys[] = { "hw:mem_page_size", "hw:cpu_policy" };
    const char *vals[] = { "large", "dedicated" };
    vmmk_flavor_requirements r = req_of(4, 8192, 100);
    r.ephemeral_gib = 10;
    r.swap_mib = 1024;
    r.extra_spec_keys = keys;
    r.extra_spec_values = vals;
    r.n_extra_specs = 2;
    vmmk_flavor_choice *c = nofit(l, &r, "none of the 8 flavors is usable: 1 disabled, 1 private "
                                         "(include_private not set), 6 lack one of the extra "
                                         "specs hw:mem_page_size=large, hw:cpu_policy=dedicated");
    const vmmk_flavor *p = c->proposal;
    assert_null(p->id);
    assert_string_equal(p->name, "vmmk-4vcpu-8192mb-100gb");
    assert_int_equal(p->vcpus, 4);
    assert_int_equal(p->ram_mib, 8192);
    assert_int_equal(p->disk_gib, 100);
    assert_int_equal(p->ephemeral_gib, 10);
    assert_int_equal(p->swap_mib, 1024);
    assert_true(p->is_public);
    assert_false(p->disabled);
    assert_null(p->raw_json);
    assert_int_equal(p->n_extra_specs, 2);
    assert_string_equal(p->extra_spec_keys[0], "hw:cpu_policy"); /* sorted */
    assert_string_equal(p->extra_spec_values[0], "dedicated");
    assert_string_equal(p->extra_spec_keys[1], "hw:mem_page_size");
    assert_true(fabs(c->waste) < 1e-12);

    /* The name is already what the sanitizer makes of it. */
    char *clean = NULL;
    assert_int_equal(vmmk_name_sanitize(&clean, p->name, 0), 0);
    assert_string_equal(clean, p->name);
    vmmk_string_free(clean);

    /* Nova can be given it: serialise and read it back as a flavor. */
    char *s = NULL;
    assert_int_equal(vmmk_flavor_to_json(&s, p, 0), 0);
    json_object *o = reparse(s);
    assert_true(json_object_is_type(member(o, "id"), json_type_null));
    assert_string_equal(json_object_get_string(member(o, "name")), "vmmk-4vcpu-8192mb-100gb");
    assert_int_equal(json_object_get_int(member(o, "vcpus")), 4);
    assert_int_equal(json_object_get_int(member(o, "ram")), 8192);
    assert_int_equal(json_object_get_int(member(o, "disk")), 100);
    assert_int_equal(json_object_get_int(member(o, "OS-FLV-EXT-DATA:ephemeral")), 10);
    assert_int_equal(json_object_get_int(member(o, "swap")), 1024);
    assert_true(json_object_get_boolean(member(o, "os-flavor-access:is_public")));
    assert_string_equal(json_object_get_string(member(member(o, "extra_specs"), "hw:mem_page_size")),
                        "large");
    json_object_put(o);
    vmmk_string_free(s);
    vmmk_flavor_choice_free(c);

    r = req_of(64, 8192, 0);
    r.boot_from_volume = true;
    c = nofit(l, &r, "no flavor has >= 64 vCPUs; the largest is m1.xlarge with 8 vCPUs");
    assert_string_equal(c->proposal->name, "vmmk-64vcpu-8192mb-bfv");
    assert_int_equal(c->proposal->disk_gib, 0);
    assert_int_equal(c->proposal->n_extra_specs, 0);
    vmmk_flavor_choice_free(c);
    vmmk_flavor_list_free(l);
}

static void test_choice_to_json(void **state)
{
    (void)state;
    vmmk_flavor_list *l = parse("[" FLX("4", "m1.large", 4, 8192, 80, "\"rxtx_factor\":1.0") ","
                                FL("5", "m1.xlarge", 8, 16384, 160) "]");
    vmmk_flavor_requirements r = req_of(4, 8192, 40);
    vmmk_flavor_choice *c = pick(l, &r, "m1.large");
    char *s = NULL;
    assert_int_equal(vmmk_flavor_choice_to_json(&s, c, 0), 0);
    assert_non_null(strstr(s, "\"waste\":0.25,"));
    json_object *o = reparse(s);
    json_object *f = member(o, "flavor");
    assert_string_equal(json_object_get_string(member(f, "id")), "4");
    assert_non_null(member(f, "rxtx_factor")); /* the raw Nova object */
    assert_string_equal(json_object_get_string(member(o, "reason")), c->reason);
    assert_true(fabs(json_object_get_double(member(o, "waste")) - 0.25) < 1e-12);
    assert_int_equal(json_object_get_int(member(o, "candidates")), 2);
    assert_true(json_object_is_type(member(o, "proposal"), json_type_null));
    json_object_put(o);
    vmmk_string_free(s);
    assert_int_equal(vmmk_flavor_choice_to_json(&s, c, VMMK_JSON_PRETTY), 0);
    assert_non_null(strchr(s, '\n'));
    vmmk_string_free(s);
    vmmk_flavor_choice_free(c);

    r = req_of(4, 8192, 400);
    c = nofit(l, &r, "no flavor has >= 400 GiB disk; the largest is m1.xlarge with 160 GiB");
    assert_int_equal(vmmk_flavor_choice_to_json(&s, c, 0), 0);
    o = reparse(s);
    assert_true(json_object_is_type(member(o, "flavor"), json_type_null));
    assert_string_equal(json_object_get_string(member(o, "reason")), c->reason);
    assert_int_equal(json_object_get_int(member(o, "candidates")), 0);
    json_object *p = member(o, "proposal");
    assert_string_equal(json_object_get_string(member(p, "name")), "vmmk-4vcpu-8192mb-400gb");
    assert_int_equal(json_object_get_int(member(p, "disk")), 400);
    json_object_put(o);
    vmmk_string_free(s);
    vmmk_flavor_choice_free(c);
    vmmk_flavor_list_free(l);

    /* Flavors built in C (no raw_json) are written from their fields. */
    vmmk_flavor items[1] = { { 0 } };
    items[0].id = "c";
    items[0].name = "built";
    items[0].vcpus = 2;
    items[0].ram_mib = 2048;
    items[0].disk_gib = 20;
    items[0].is_public = true;
    vmmk_flavor_list built = { items, 1 };
    r = req_of(1, 1024, 10);
    c = pick(&built, &r, "built");
    assert_int_equal(vmmk_flavor_choice_to_json(&s, c, 0), 0);
    o = reparse(s);
    assert_int_equal(json_object_get_int(member(member(o, "flavor"), "ram")), 2048);
    /* 1.0*(2-1)/1 + 1.0*(2048-1024)/1024 + 0.25*(20-10)/10 */
    assert_true(fabs(json_object_get_double(member(o, "waste")) - 2.25) < 1e-12);
    json_object_put(o);
    vmmk_string_free(s);
    vmmk_flavor_choice_free(c);
    assert_int_equal(vmmk_flavor_choice_to_json(&s, NULL, 0), VMMK_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_least_waste),
        cmocka_unit_test(test_waste_formula),
        cmocka_unit_test(test_undersized_never_wins),
        cmocka_unit_test(test_disabled_and_private),
        cmocka_unit_test(test_name_filter),
        cmocka_unit_test(test_extra_specs),
        cmocka_unit_test(test_boot_from_volume),
        cmocka_unit_test(test_disk_zero),
        cmocka_unit_test(test_ties),
        cmocka_unit_test(test_nofit_messages),
        cmocka_unit_test(test_proposal),
        cmocka_unit_test(test_choice_to_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
