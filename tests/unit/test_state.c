/* The resume journal: identity checks, atomic saves, the bitmap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmmk/vmmk.h>

#include "copier/copier_int.h"

#define SRC "nbdkit file file=/var/lib/disk.img"
#define DST "/dev/vdb"
#define GIB 1073741824ull
#define MIB 1048576ull

typedef struct fixture {
    char dir[64];
    char path[128];
    char tmp[160];
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/vmmk-test-state-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->path, sizeof f->path, "%s/copy.state", f->dir);
    snprintf(f->tmp, sizeof f->tmp, "%s.tmp", f->path);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char p[512];
                snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    assert_int_equal(fclose(fp), 0);
}

static char *read_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = '\0';
    fclose(fp);
    return buf;
}

static vmmk__state *open_ok(const fixture *f, uint64_t size, uint64_t chunk)
{
    vmmk__state *st = NULL;
    int rc = vmmk__state_open(&st, f->path, SRC, DST, size, chunk, "whole");
    if (rc)
        print_error("%s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_non_null(st);
    return st;
}

static void test_new_save_reopen(void **state)
{
    fixture *f = *state;
    vmmk__state *st = open_ok(f, GIB, 64 * MIB);
    assert_int_equal(vmmk__state_chunks(st), 16);
    /* Not created until the first save. */
    assert_int_equal(access(f->path, F_OK), -1);
    for (uint64_t i = 0; i < 16; i++)
        assert_false(vmmk__state_is_done(st, i));
    vmmk__state_mark_done(st, 0);
    vmmk__state_mark_done(st, 5);
    vmmk__state_mark_done(st, 15);
    vmmk__state_mark_done(st, 16);   /* out of range: ignored */
    assert_true(vmmk__state_is_done(st, 5));
    assert_false(vmmk__state_is_done(st, 16));
    assert_int_equal(vmmk__state_save(st), 0);
    assert_int_equal(access(f->tmp, F_OK), -1);
    vmmk__state_free(st);

    const char *text = read_text(f->path);
    assert_non_null(strstr(text, "\"vmmk_copy_state\": 1"));
    assert_non_null(strstr(text, "\"source\": \"" SRC "\""));
    assert_non_null(strstr(text, "\"destination\": \"/dev/vdb\""));
    assert_non_null(strstr(text, "\"size\": 1073741824"));
    assert_non_null(strstr(text, "\"chunk_size\": 67108864"));
    assert_non_null(strstr(text, "\"work\": \"whole\""));
    /* chunks 0 and 5 in byte 0 (0x21), chunk 15 in byte 1 (0x80) */
    assert_non_null(strstr(text, "\"done\": \"2180\""));
    const char *u = strstr(text, "\"updated\": \"");
    assert_non_null(u);
    u += strlen("\"updated\": \"");
    /* 2024-05-01T12:34:56Z */
    assert_true(strlen(u) > 20 && u[4] == '-' && u[10] == 'T' && u[19] == 'Z');

    st = open_ok(f, GIB, 64 * MIB);
    for (uint64_t i = 0; i < 16; i++)
        assert_int_equal(vmmk__state_is_done(st, i), i == 0 || i == 5 || i == 15);
    vmmk__state_mark_done(st, 1);
    assert_int_equal(vmmk__state_save(st), 0);
    vmmk__state_free(st);
    st = open_ok(f, GIB, 64 * MIB);
    assert_true(vmmk__state_is_done(st, 1));
    assert_true(vmmk__state_is_done(st, 15));
    assert_false(vmmk__state_is_done(st, 2));
    vmmk__state_free(st);
}

static void test_mode_0600(void **state)
{
    fixture *f = *state;
    mode_t old = umask(0);       /* the mode must not depend on the umask */
    vmmk__state *st = open_ok(f, MIB, MIB);
    assert_int_equal(vmmk__state_save(st), 0);
    umask(old);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    vmmk__state_free(st);
}

static void expect_conflict(const fixture *f, const char *src, const char *dst, uint64_t size,
                            uint64_t chunk, const char *work, const char *tail)
{
    vmmk__state *st = (vmmk__state *)1;
    int rc = vmmk__state_open(&st, f->path, src, dst, size, chunk, work);
    char want[1024];
    snprintf(want, sizeof want, "state file %s belongs to another copy: %s", f->path, tail);
    if (rc != VMMK_ECONFLICT || strcmp(vmmk_error_last()->message, want) != 0)
        print_error("got %d \"%s\"\n", rc, vmmk_error_last()->message);
    assert_int_equal(rc, VMMK_ECONFLICT);
    assert_null(st);
    assert_string_equal(vmmk_error_last()->message, want);
}

static void test_identity_mismatch(void **state)
{
    fixture *f = *state;
    vmmk__state *st = open_ok(f, GIB, 64 * MIB);
    vmmk__state_mark_done(st, 3);
    assert_int_equal(vmmk__state_save(st), 0);
    vmmk__state_free(st);
    char *before = strdup(read_text(f->path));

    expect_conflict(f, "nbd+unix:///?socket=/run/other.sock", DST, GIB, 64 * MIB, "whole",
                    "source is \"" SRC "\" there, \"nbd+unix:///?socket=/run/other.sock\" here");
    expect_conflict(f, SRC, "/dev/vdc", GIB, 64 * MIB, "whole",
                    "destination is \"/dev/vdb\" there, \"/dev/vdc\" here");
    expect_conflict(f, SRC, DST, 2 * GIB, 64 * MIB, "whole",
                    "size is 1073741824 there, 2147483648 here");
    expect_conflict(f, SRC, DST, GIB, 32 * MIB, "whole",
                    "chunk_size is 67108864 there, 33554432 here");
    expect_conflict(f, SRC, DST, GIB, 64 * MIB, "extents:sha256:1234",
                    "work is \"whole\" there, \"extents:sha256:1234\" here");

    /* A refused journal is left as it was. */
    assert_string_equal(read_text(f->path), before);
    free(before);
    st = open_ok(f, GIB, 64 * MIB);
    assert_true(vmmk__state_is_done(st, 3));
    vmmk__state_free(st);
}

static void expect_corrupt(const fixture *f, const char *text, int code, const char *tail)
{
    write_file(f->path, text);
    vmmk__state *st = (vmmk__state *)1;
    int rc = vmmk__state_open(&st, f->path, SRC, DST, 10 * MIB, MIB, "whole");
    char want[1024];
    snprintf(want, sizeof want, "state file %s%s", f->path, tail);
    if (rc != code || strcmp(vmmk_error_last()->message, want) != 0)
        print_error("got %d \"%s\"\n", rc, vmmk_error_last()->message);
    assert_int_equal(rc, code);
    assert_null(st);
    assert_string_equal(vmmk_error_last()->message, want);
}

#define HEAD "{\"vmmk_copy_state\": 1, \"source\": \"" SRC "\", \"destination\": \"" DST "\", "
#define GOOD HEAD "\"size\": 10485760, \"chunk_size\": 1048576, \"work\": \"whole\", "

static void test_corrupt(void **state)
{
    fixture *f = *state;
    expect_corrupt(f, "", VMMK_EPARSE, " is corrupt: JSON ends early at line 1, column 1");
    expect_corrupt(f, "{\"vmmk_copy_state\": 1, \"sou", VMMK_EPARSE,
                   " is corrupt: JSON ends early at line 1, column 28");
    expect_corrupt(f, "[]", VMMK_EPARSE, " is corrupt: document: expected object, got array");
    expect_corrupt(f, "{}", VMMK_EPARSE, " is corrupt: vmmk_copy_state: missing");
    expect_corrupt(f, HEAD "\"size\": \"10\"}", VMMK_EPARSE,
                   " is corrupt: size: expected integer, got string");
    expect_corrupt(f, GOOD "\"updated\": \"x\"}", VMMK_EPARSE, " is corrupt: done: missing");
    expect_corrupt(f, GOOD "\"done\": \"01\"}", VMMK_EPARSE,
                   " is corrupt: done: 2 hex digits for 10 chunks (expected 4)");
    expect_corrupt(f, GOOD "\"done\": \"01x0\"}", VMMK_EPARSE,
                   " is corrupt: done: not a hex digit at position 2");
    /* 10 chunks: bits 10..15 of the second byte must be clear. */
    expect_corrupt(f, GOOD "\"done\": \"0104\"}", VMMK_EPARSE,
                   " is corrupt: done: bits set past chunk 9");
    expect_corrupt(f, "{\"vmmk_copy_state\": 2}", VMMK_EUNSUPPORTED,
                   ": version 2 is not supported (this libvmmk writes version 1)");

    /* The same, well formed, is accepted (upper-case hex too). */
    write_file(f->path, GOOD "\"done\": \"FF03\", \"updated\": \"2024-05-01T12:00:00Z\"}");
    vmmk__state *st = open_ok(f, 10 * MIB, MIB);
    for (uint64_t i = 0; i < 10; i++)
        assert_true(vmmk__state_is_done(st, i));
    vmmk__state_free(st);

    /* A directory in its place is an error, not an empty journal. */
    unlink(f->path);
    assert_int_equal(mkdir(f->path, 0700), 0);
    st = (vmmk__state *)1;
    assert_int_equal(vmmk__state_open(&st, f->path, SRC, DST, 10 * MIB, MIB, "whole"), VMMK_EIO);
    assert_null(st);
    char want[512];
    snprintf(want, sizeof want, "state file: %s: is a directory", f->path);
    assert_string_equal(vmmk_error_last()->message, want);
    rmdir(f->path);
}

static void test_leftover_tmp(void **state)
{
    fixture *f = *state;
    /* A crash during a save leaves a partial .tmp: it is ignored on open
     * and replaced by the next save. */
    write_file(f->tmp, "{\"vmmk_copy_state\": 1, \"trunc");
    chmod(f->tmp, 0644);
    vmmk__state *st = open_ok(f, 3 * MIB, MIB);
    vmmk__state_mark_done(st, 2);
    assert_int_equal(vmmk__state_save(st), 0);
    assert_int_equal(access(f->tmp, F_OK), -1);
    struct stat sb;
    assert_int_equal(stat(f->path, &sb), 0);
    assert_int_equal(sb.st_mode & 07777, 0600);
    vmmk__state_free(st);

    /* A leftover next to an existing journal: the journal wins. */
    write_file(f->tmp, "garbage");
    st = open_ok(f, 3 * MIB, MIB);
    assert_true(vmmk__state_is_done(st, 2));
    assert_false(vmmk__state_is_done(st, 1));
    vmmk__state_free(st);

    /* A symlink planted as .tmp is not written through. */
    unlink(f->tmp);
    char target[256];
    snprintf(target, sizeof target, "%s/target", f->dir);
    write_file(target, "keep");
    assert_int_equal(symlink(target, f->tmp), 0);
    st = open_ok(f, 3 * MIB, MIB);
    assert_int_equal(vmmk__state_save(st), VMMK_EIO);
    char want[512];
    snprintf(want, sizeof want, "state file %s: create %s: ", f->path, f->tmp);
    assert_memory_equal(vmmk_error_last()->message, want, strlen(want));
    assert_string_equal(read_text(target), "keep");
    vmmk__state_free(st);
}

static void test_complete(void **state)
{
    fixture *f = *state;
    vmmk__state *st = open_ok(f, 5 * MIB, MIB);
    for (uint64_t i = 0; i < 5; i++)
        vmmk__state_mark_done(st, i);
    assert_int_equal(vmmk__state_save(st), 0);
    write_file(f->tmp, "stale");
    assert_int_equal(access(f->path, F_OK), 0);
    assert_int_equal(vmmk__state_complete(st), 0);
    assert_int_equal(access(f->path, F_OK), -1);
    assert_int_equal(access(f->tmp, F_OK), -1);
    /* Twice is fine (nothing left to remove). */
    assert_int_equal(vmmk__state_complete(st), 0);
    vmmk__state_free(st);

    /* Never saved: complete still succeeds. */
    st = open_ok(f, 5 * MIB, MIB);
    assert_int_equal(vmmk__state_complete(st), 0);
    vmmk__state_free(st);
}

/* Chunk counts that are not a multiple of 8, and a size that is not a
 * multiple of the chunk size (the last chunk is short). */
static void test_bitmap_sizes(void **state)
{
    fixture *f = *state;
    static const struct { uint64_t size, chunk, chunks; const char *hex; } cases[] = {
        { 0, MIB, 0, "" },
        { 1, MIB, 1, "01" },
        { 7 * MIB, MIB, 7, "7f" },
        { 8 * MIB, MIB, 8, "ff" },
        { 9 * MIB, MIB, 9, "ff01" },
        { 13 * MIB + 1, MIB, 14, "ff3f" },
        { 17 * MIB - 1, MIB, 17, "ffff01" },
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        unlink(f->path);
        vmmk__state *st = open_ok(f, cases[c].size, cases[c].chunk);
        assert_int_equal(vmmk__state_chunks(st), cases[c].chunks);
        for (uint64_t i = 0; i < cases[c].chunks; i++)
            vmmk__state_mark_done(st, i);
        assert_int_equal(vmmk__state_save(st), 0);
        vmmk__state_free(st);
        char want[64];
        snprintf(want, sizeof want, "\"done\": \"%s\"", cases[c].hex);
        if (!strstr(read_text(f->path), want))
            print_error("case %zu: %s\n", c, read_text(f->path));
        assert_non_null(strstr(read_text(f->path), want));
        st = open_ok(f, cases[c].size, cases[c].chunk);
        for (uint64_t i = 0; i < cases[c].chunks; i++)
            assert_true(vmmk__state_is_done(st, i));
        assert_false(vmmk__state_is_done(st, cases[c].chunks));
        vmmk__state_free(st);
    }

    /* Alternate chunks over a count that ends mid-byte. */
    unlink(f->path);
    vmmk__state *st = open_ok(f, 21 * MIB, MIB);
    for (uint64_t i = 0; i < 21; i += 2)
        vmmk__state_mark_done(st, i);
    assert_int_equal(vmmk__state_save(st), 0);
    vmmk__state_free(st);
    assert_non_null(strstr(read_text(f->path), "\"done\": \"555515\""));
    st = open_ok(f, 21 * MIB, MIB);
    for (uint64_t i = 0; i < 21; i++)
        assert_int_equal(vmmk__state_is_done(st, i), i % 2 == 0);
    vmmk__state_free(st);
}

static void test_bad_arguments(void **state)
{
    fixture *f = *state;
    vmmk__state *st = NULL;
    assert_int_equal(vmmk__state_open(&st, f->path, SRC, DST, GIB, 0, "whole"), VMMK_EINVAL);
    assert_int_equal(vmmk__state_open(&st, "-", SRC, DST, GIB, MIB, "whole"), VMMK_EINVAL);
    assert_int_equal(vmmk__state_open(&st, f->path, NULL, DST, GIB, MIB, "whole"), VMMK_EINVAL);
    /* 2^27 chunks is the limit. */
    assert_int_equal(vmmk__state_open(&st, f->path, SRC, DST, (1ull << 27) * 512 + 1, 512, "whole"),
                     VMMK_EINVAL);
    assert_null(st);
    /* A directory that does not exist is found at open, not at the first save. */
    char path[256];
    snprintf(path, sizeof path, "%s/missing/copy.state", f->dir);
    assert_int_equal(vmmk__state_open(&st, path, SRC, DST, GIB, MIB, "whole"), VMMK_ENOTFOUND);
    char want[512];
    snprintf(want, sizeof want, "state file %s: directory %s/missing: No such file or directory",
             path, f->dir);
    assert_string_equal(vmmk_error_last()->message, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_new_save_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode_0600, setup, teardown),
        cmocka_unit_test_setup_teardown(test_identity_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_leftover_tmp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_complete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bitmap_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
