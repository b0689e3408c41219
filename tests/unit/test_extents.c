/* Extent lists: `[[offset, length], ...]` read, normalised and written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vmmk/vmmk.h>

#include "copier/copier_int.h"

/* Parse @p json and expect @p code with exactly @p message. */
static void expect_error(const char *json, uint64_t disk_size, int code, const char *message)
{
    vmmk_extent_list *l = (vmmk_extent_list *)1;
    int rc = vmmk_extent_list_from_json(&l, json, (size_t)-1, disk_size);
    if (rc != code || strcmp(vmmk_error_last()->message, message) != 0)
        print_error("%s: got %d \"%s\"\n", json, rc, vmmk_error_last()->message);
    assert_int_equal(rc, code);
    assert_null(l);
    assert_int_equal(vmmk_error_last()->code, code);
    assert_string_equal(vmmk_error_last()->message, message);
}

static vmmk_extent_list *parse_ok(const char *json, uint64_t disk_size)
{
    vmmk_extent_list *l = NULL;
    int rc = vmmk_extent_list_from_json(&l, json, (size_t)-1, disk_size);
    if (rc)
        print_error("%s: %s\n", json, vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_non_null(l);
    return l;
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("[[0, 4096], [8192, 4096], [16384, 1], {\"offset\": 1}]", 0, VMMK_EINVAL,
                 "[3]: expected [offset, length], got object");
    expect_error("[[0, 1], \"0-1\"]", 0, VMMK_EINVAL, "[1]: expected [offset, length], got string");
    expect_error("[null]", 0, VMMK_EINVAL, "[0]: expected [offset, length], got null");
    expect_error("[[0, 1, 2]]", 0, VMMK_EINVAL, "[0]: expected [offset, length], got an array of 3");
    expect_error("[[0]]", 0, VMMK_EINVAL, "[0]: expected [offset, length], got an array of 1");
    expect_error("[[0, 1], [-5, 10]]", 0, VMMK_EINVAL, "[1][0]: -5 is negative");
    expect_error("[[0, -1]]", 0, VMMK_EINVAL, "[0][1]: -1 is negative");
    expect_error("[[0, 1], [1.5, 10]]", 0, VMMK_EINVAL, "[1][0]: expected integer, got number");
    expect_error("[[0, \"10\"]]", 0, VMMK_EINVAL, "[0][1]: expected integer, got string");
    expect_error("[[0, true]]", 0, VMMK_EINVAL, "[0][1]: expected integer, got boolean");
    expect_error("[[0, 1], [10, 1], [20, 0]]", 0, VMMK_EINVAL, "[2]: length 0 is empty");
    expect_error("[[9223372036854775808, 1]]", 0, VMMK_EINVAL,
                 "[0][0]: too large (the largest is 9223372036854775807)");
    expect_error("[[0, 99999999999999999999]]", 0, VMMK_EINVAL,
                 "[0][1]: too large (the largest is 9223372036854775807)");
    expect_error("[[1, 1], [9223372036854775807, 1]]", 0, VMMK_EINVAL,
                 "[1]: offset 9223372036854775807 + length 1 overflows (the largest end is "
                 "9223372036854775807)");
    /* After sorting, both entries are named by their input index. */
    expect_error("[[0, 4096], [100000, 10], [0, 0]]", 0, VMMK_EINVAL, "[2]: length 0 is empty");
    expect_error("[[20000, 10], [0, 4096], [4096, 4096], [50000, 1], [4096, 1]]", 0, VMMK_EINVAL,
                 "[4]: overlaps [2] (offset 4096 < 8192)");
    expect_error("[[100, 50], [120, 10]]", 0, VMMK_EINVAL, "[1]: overlaps [0] (offset 120 < 150)");
    /* Equal offsets: the later input entry is the one that overlaps. */
    expect_error("[[0, 10], [0, 10]]", 0, VMMK_EINVAL, "[1]: overlaps [0] (offset 0 < 10)");
    /* After a merge, the entry that reaches furthest is named. */
    expect_error("[[0, 100], [150, 10], [100, 100]]", 0, VMMK_EINVAL,
                 "[1]: overlaps [2] (offset 150 < 200)");
    expect_error("[[0, 4096], [10737418240, 1]]", 10737418240ull, VMMK_EINVAL,
                 "[1]: ends at 10737418241, past the disk size 10737418240");
    expect_error("[[10737418239, 2]]", 10737418240ull, VMMK_EINVAL,
                 "[0]: ends at 10737418241, past the disk size 10737418240");
    expect_error("{}", 0, VMMK_EINVAL, "expected an array of [offset, length], got object");
    expect_error("42", 0, VMMK_EINVAL, "expected an array of [offset, length], got integer");
    expect_error("[[0, 1]", 0, VMMK_EPARSE, "JSON ends early at line 1, column 8");
    expect_error("[[0, 1]] x", 0, VMMK_EPARSE,
                 "JSON syntax error at line 1, column 10: unexpected character");
}

static void test_sort_merge(void **state)
{
    (void)state;
    vmmk_extent_list *l = parse_ok(" [ [65536, 4096], [0, 4096], [4096, 8192],\n"
                                   "   [1048576, 512], [69632, 100], [12288, 1] ] ", 0);
    assert_int_equal(l->n, 3);
    assert_int_equal(l->items[0].offset, 0);
    assert_int_equal(l->items[0].length, 12289);
    assert_int_equal(l->items[1].offset, 65536);
    assert_int_equal(l->items[1].length, 4196);
    assert_int_equal(l->items[2].offset, 1048576);
    assert_int_equal(l->items[2].length, 512);
    vmmk_extent_list_free(l);

    /* Not adjacent: a gap of one byte is kept. */
    l = parse_ok("[[0, 10], [11, 10]]", 0);
    assert_int_equal(l->n, 2);
    vmmk_extent_list_free(l);

    /* Exactly up to the disk size is fine; the largest position too. */
    l = parse_ok("[[10737418238, 2]]", 10737418240ull);
    assert_int_equal(l->n, 1);
    vmmk_extent_list_free(l);
    l = parse_ok("[[9223372036854775806, 1]]", 0);
    assert_int_equal(l->items[0].offset, 9223372036854775806ull);
    vmmk_extent_list_free(l);
}

static void test_empty(void **state)
{
    (void)state;
    vmmk_extent_list *l = parse_ok("[]", 4096);
    assert_int_equal(l->n, 0);
    char *s = NULL;
    assert_int_equal(vmmk_extent_list_to_json(&s, l), 0);
    assert_string_equal(s, "[]\n");
    vmmk_string_free(s);
    vmmk_extent_list_free(l);
    vmmk_extent_list_free(NULL);
}

static void test_round_trip(void **state)
{
    (void)state;
    vmmk_extent_list *l = parse_ok("[[8192, 4096], [0, 4096], [4096, 1024], [1099511627776, 65536]]",
                                   0);
    char *s = NULL;
    assert_int_equal(vmmk_extent_list_to_json(&s, l), 0);
    assert_string_equal(s, "[\n  [0, 5120],\n  [8192, 4096],\n  [1099511627776, 65536]\n]\n");
    vmmk_extent_list *back = parse_ok(s, 0);
    assert_int_equal(back->n, l->n);
    assert_memory_equal(back->items, l->items, l->n * sizeof *l->items);
    vmmk_string_free(s);
    vmmk_extent_list_free(back);
    vmmk_extent_list_free(l);

    assert_int_equal(vmmk_extent_list_to_json(NULL, l), VMMK_EINVAL);
    assert_int_equal(vmmk_extent_list_to_json(&s, NULL), VMMK_EINVAL);
}

/* A list built in C goes through the same rules. */
static void test_normalize(void **state)
{
    (void)state;
    vmmk_extent items[] = { { 300, 100 }, { 0, 100 }, { 100, 100 }, { 200, 50 } };
    vmmk_extent_list l = { malloc(sizeof items), 4 };
    assert_non_null(l.items);
    memcpy(l.items, items, sizeof items);
    assert_int_equal(vmmk__extents_normalize(&l, 400), 0);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.items[0].offset, 0);
    assert_int_equal(l.items[0].length, 250);
    assert_int_equal(l.items[1].offset, 300);
    assert_int_equal(l.items[1].length, 100);

    l.n = 2;
    l.items[1] = (vmmk_extent){ UINT64_MAX - 1, 5 };
    assert_int_equal(vmmk__extents_normalize(&l, 0), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message,
                        "[1]: offset 18446744073709551614 + length 5 overflows (the largest end "
                        "is 9223372036854775807)");
    l.items[1] = (vmmk_extent){ 300, 101 };
    assert_int_equal(vmmk__extents_normalize(&l, 400), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message, "[1]: ends at 401, past the disk size 400");
    free(l.items);

    vmmk_extent_list empty = { NULL, 0 };
    assert_int_equal(vmmk__extents_normalize(&empty, 0), 0);
}

static void test_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/vmmk-test-extents-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/changed.json", dir);

    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("[[4096, 4096],\n [0, 4096]]\n", f);
    fclose(f);
    vmmk_extent_list *l = NULL;
    assert_int_equal(vmmk_extent_list_from_file(&l, path, 8192), 0);
    assert_int_equal(l->n, 1);
    assert_int_equal(l->items[0].offset, 0);
    assert_int_equal(l->items[0].length, 8192);
    vmmk_extent_list_free(l);

    /* Errors carry the path in front. */
    l = (vmmk_extent_list *)1;
    assert_int_equal(vmmk_extent_list_from_file(&l, path, 4096), VMMK_EINVAL);
    assert_null(l);
    char want[512];
    snprintf(want, sizeof want, "%s: [0]: ends at 8192, past the disk size 4096", path);
    assert_string_equal(vmmk_error_last()->message, want);

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[[0, 1], [2, 1],\n [1, 1], [2, \"x\"]]", f);
    fclose(f);
    assert_int_equal(vmmk_extent_list_from_file(&l, path, 0), VMMK_EINVAL);
    snprintf(want, sizeof want, "%s: [3][1]: expected integer, got string", path);
    assert_string_equal(vmmk_error_last()->message, want);

    f = fopen(path, "w");
    assert_non_null(f);
    fputs("[[0, 1],\n [2, 1]", f);
    fclose(f);
    assert_int_equal(vmmk_extent_list_from_file(&l, path, 0), VMMK_EPARSE);
    snprintf(want, sizeof want, "%s: JSON ends early at line 2, column 8", path);
    assert_string_equal(vmmk_error_last()->message, want);
    unlink(path);

    assert_int_equal(vmmk_extent_list_from_file(&l, path, 0), VMMK_ENOTFOUND);
    snprintf(want, sizeof want, "%s: cannot open: No such file or directory", path);
    assert_string_equal(vmmk_error_last()->message, want);
    rmdir(dir);
}

/* Many entries, given in reverse, all adjacent: one extent comes out. */
static void test_many(void **state)
{
    (void)state;
    size_t n = 200000;
    char *json = malloc(n * 32 + 8);
    assert_non_null(json);
    size_t len = 0;
    json[len++] = '[';
    for (size_t i = 0; i < n; i++)
        len += (size_t)sprintf(json + len, "%s[%zu,4096]", i ? "," : "", (n - 1 - i) * 4096);
    json[len++] = ']';
    vmmk_extent_list *l = NULL;
    assert_int_equal(vmmk_extent_list_from_json(&l, json, len, n * 4096), 0);
    assert_int_equal(l->n, 1);
    assert_int_equal(l->items[0].offset, 0);
    assert_int_equal(l->items[0].length, n * 4096);
    vmmk_extent_list_free(l);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),    cmocka_unit_test(test_sort_merge),
        cmocka_unit_test(test_empty),     cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_normalize), cmocka_unit_test(test_file),
        cmocka_unit_test(test_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
