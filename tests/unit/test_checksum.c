/* SHA-256 of whole disks: files (sparse or not) and NBD exports served by a
 * real nbdkit, compared with sha256sum of the same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmmk/vmmk.h>

#include "copier/copier_int.h"

#define MIB (1024 * 1024)
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef struct fixture {
    char dir[64];
    char sock[128];
    char pidfile[128];
    char uri[192];
    pid_t nbdkit;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/vmmk-test-checksum-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->sock, sizeof f->sock, "%s/nbd.sock", f->dir);
    snprintf(f->pidfile, sizeof f->pidfile, "%s/nbdkit.pid", f->dir);
    snprintf(f->uri, sizeof f->uri, "nbd+unix:///?socket=%s", f->sock);
    *state = f;
    return 0;
}

static void stop_nbdkit(fixture *f)
{
    if (f->nbdkit > 0) {
        kill(f->nbdkit, SIGTERM);
        waitpid(f->nbdkit, NULL, 0);
        f->nbdkit = 0;
    }
    unlink(f->pidfile);
    unlink(f->sock);
}

static int teardown(void **state)
{
    fixture *f = *state;
    stop_nbdkit(f);
    DIR *d = opendir(f->dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char p[512];
                snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
                if (unlink(p) != 0 && errno == EISDIR)
                    rmdir(p);
            }
        }
        closedir(d);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static bool in_path(const char *prog)
{
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/bin:/bin";
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", *d ? d : ".", prog);
        found = access(p, X_OK) == 0;
    }
    free(copy);
    return found;
}

/* Skip the test (with the reason) when the NBD tools are missing. */
#define NEED_NBD_TOOLS()                                                                           \
    do {                                                                                           \
        if (!in_path("nbdkit") || !in_path("nbdcopy")) {                                           \
            print_message("skipped: nbdkit or nbdcopy is not installed\n");                        \
            skip();                                                                                \
        }                                                                                          \
    } while (0)

/* Start `nbdkit -U SOCK -P PIDFILE -f --exit-with-parent ARGS...` (argv, no
 * shell) and wait for its pidfile, which it writes once it serves. */
static void start_nbdkit(fixture *f, const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = "nbdkit";
    argv[n++] = "-U";
    argv[n++] = f->sock;
    argv[n++] = "-P";
    argv[n++] = f->pidfile;
    argv[n++] = "-f";
    argv[n++] = "--exit-with-parent";
    for (size_t i = 0; args[i]; i++) {
        assert_true(n < 31);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execvp("nbdkit", (char *const *)argv);
        _exit(127);
    }
    f->nbdkit = pid;
    for (int i = 0; i < 1000; i++) {
        struct stat st;
        if (stat(f->pidfile, &st) == 0 && st.st_size > 0)
            return;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            f->nbdkit = 0;
            fail_msg("nbdkit %s exited early (status %d)", args[0], status);
        }
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    fail_msg("nbdkit %s did not write its pidfile within 10 s", args[0]);
}

/* sha256sum of a file, through popen (fine in a test: the path is ours). */
static void sha256sum(char out[65], const char *path)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "sha256sum '%s'", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%64s", out), 1);
    assert_int_equal(pclose(p), 0);
    assert_int_equal(strlen(out), 64);
}

/* The export's bytes through nbdcopy (argv, no shell) into a file, then
 * sha256sum. */
static void reference_nbd(char out[65], fixture *f)
{
    char file[192];
    snprintf(file, sizeof file, "%s/copy.img", f->dir);
    const char *argv[] = { "nbdcopy", f->uri, file, NULL };
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execvp("nbdcopy", (char *const *)argv);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    sha256sum(out, file);
    unlink(file);
}

static void expect_sum(const char *what, const char *want)
{
    char *got = NULL;
    int rc = vmmk_checksum(&got, what);
    if (rc)
        print_error("%s: %s\n", what, vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_non_null(got);
    assert_string_equal(got, want);
    vmmk_string_free(got);
}

static void expect_error(const char *what, int code, const char *message)
{
    char *got = (char *)1;
    int rc = vmmk_checksum(&got, what);
    if (rc != code || strcmp(vmmk_error_last()->message, message) != 0)
        print_error("got %d \"%s\"\n", rc, vmmk_error_last()->message);
    assert_int_equal(rc, code);
    assert_null(got);
    assert_string_equal(vmmk_error_last()->message, message);
}

/* ---- vmmk__sha256_zeros ------------------------------------------------- */

static void test_zeros(void **state)
{
    (void)state;
    size_t len = 3 * MIB + 5;
    unsigned char *buf = calloc(1, len);
    assert_non_null(buf);
    unsigned char a[32], b[32];
    unsigned la = 0, lb = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, "x", 1), 1);
    assert_int_equal(vmmk__sha256_zeros(ctx, len), 0);
    assert_int_equal(vmmk__sha256_zeros(ctx, 0), 0);
    assert_int_equal(EVP_DigestFinal_ex(ctx, a, &la), 1);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, "x", 1), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, buf, len), 1);
    assert_int_equal(EVP_DigestFinal_ex(ctx, b, &lb), 1);
    assert_int_equal(la, 32);
    assert_memory_equal(a, b, 32);
    EVP_MD_CTX_free(ctx);
    free(buf);
    assert_int_equal(vmmk__sha256_zeros(NULL, 1), VMMK_EINVAL);
}

/* ---- paths -------------------------------------------------------------- */

static void write_at(int fd, off_t off, const void *data, size_t len)
{
    assert_int_equal(pwrite(fd, data, len, off), (ssize_t)len);
}

static void test_sparse_file(void **state)
{
    fixture *f = *state;
    char path[192], want[65];
    snprintf(path, sizeof path, "%s/sparse.img", f->dir);
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0600);
    assert_true(fd >= 0);
    /* 64 MiB + 1000 bytes: data at the start, in the middle (across a
     * 4 MiB read boundary), a hole, and the very last byte. */
    uint64_t size = 64ull * MIB + 1000;
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    write_at(fd, 0, "boot sector", 11);
    unsigned char block[300000];
    for (size_t i = 0; i < sizeof block; i++)
        block[i] = (unsigned char)(i * 7 + 3);
    write_at(fd, 4 * MIB - 1000, block, sizeof block);
    write_at(fd, 33 * MIB + 17, block, 4096);
    write_at(fd, (off_t)size - 1, "Z", 1);
    close(fd);
    sha256sum(want, path);
    expect_sum(path, want);

    /* Only a hole. */
    fd = open(path, O_RDWR | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 10 * MIB + 3), 0);
    close(fd);
    sha256sum(want, path);
    expect_sum(path, want);
}

static void test_dense_file(void **state)
{
    fixture *f = *state;
    char path[192], want[65];
    snprintf(path, sizeof path, "%s/dense.img", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    uint32_t x = 12345;
    for (size_t i = 0; i < 9 * MIB + 7; i++) {   /* not a multiple of the read size */
        x = x * 1103515245u + 12345u;
        fputc((int)(x >> 24), fp);
    }
    fclose(fp);
    sha256sum(want, path);
    expect_sum(path, want);
}

static void test_empty_file(void **state)
{
    fixture *f = *state;
    char path[192];
    snprintf(path, sizeof path, "%s/empty.img", f->dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    assert_true(fd >= 0);
    close(fd);
    expect_sum(path, EMPTY_SHA256);
}

static void test_path_errors(void **state)
{
    fixture *f = *state;
    char path[192], msg[512];
    snprintf(path, sizeof path, "%s/missing.img", f->dir);
    snprintf(msg, sizeof msg, "%s: cannot open: No such file or directory", path);
    expect_error(path, VMMK_ENOTFOUND, msg);
    assert_int_equal(vmmk_error_last()->sys_errno, ENOENT);
    expect_error("/dev/sdz-vmmk-none", VMMK_ENOTFOUND,
                 "/dev/sdz-vmmk-none: cannot open: No such file or directory");

    snprintf(msg, sizeof msg, "%s: is a directory, not a disk image or block device", f->dir);
    expect_error(f->dir, VMMK_EINVAL, msg);
    expect_error("/dev/null", VMMK_EINVAL, "/dev/null: not a regular file or block device");
    expect_error("", VMMK_EINVAL, "vmmk_checksum: nothing to read (empty path)");

    char *out = NULL;
    assert_int_equal(vmmk_checksum(&out, NULL), VMMK_EINVAL);
    assert_int_equal(vmmk_checksum(NULL, path), VMMK_EINVAL);
    assert_int_equal(vmmk_checksum_source(&out, NULL), VMMK_EINVAL);
}

/* ---- NBD ---------------------------------------------------------------- */

/* Serve @p args, then compare with nbdcopy + sha256sum of the same export. */
static void check_nbd(fixture *f, const char *const *args)
{
    start_nbdkit(f, args);
    char want[65];
    reference_nbd(want, f);
    expect_sum(f->uri, want);
    stop_nbdkit(f);
}

static void test_nbd_pattern(void **state)
{
    NEED_NBD_TOOLS();
    fixture *f = *state;
    check_nbd(f, (const char *const[]){ "pattern", "size=8M", NULL });
    /* Not a multiple of the read size; no block status at all. */
    check_nbd(f, (const char *const[]){ "--filter=noextents", "pattern", "size=19000001", NULL });
}

static void test_nbd_sparse(void **state)
{
    NEED_NBD_TOOLS();
    fixture *f = *state;
    /* Holes and data interleaved, reported through base:allocation. */
    check_nbd(f, (const char *const[]){ "sparse-random", "size=64M", "seed=42", NULL });
    /* The same without block status: everything is read. */
    check_nbd(f, (const char *const[]){ "--filter=noextents", "sparse-random", "size=64M",
                                        "seed=7", NULL });
    /* The server limits requests to 64 KiB: reads must follow. */
    check_nbd(f, (const char *const[]){ "--filter=blocksize-policy", "sparse-random",
                                        "size=32M", "seed=9", "blocksize-maximum=65536",
                                        "blocksize-error-policy=error", NULL });
}

static void test_nbd_zero_and_data(void **state)
{
    NEED_NBD_TOOLS();
    fixture *f = *state;
    /* All zeros, one hole; larger than one block status request. */
    check_nbd(f, (const char *const[]){ "memory", "size=300M", NULL });
    /* Data at odd places in a sparse export of odd size. */
    check_nbd(f, (const char *const[]){ "data", "data=1 2 3 @0x100001 4 5 6 @0x8000000 7 "
                                                "@^0x1000 8 9", "size=200000003", NULL });
    /* An empty export. */
    start_nbdkit(f, (const char *const[]){ "null", "size=0", NULL });
    expect_sum(f->uri, EMPTY_SHA256);
    stop_nbdkit(f);
}

/* Bytes the stats filter saw read ("read: 2 ops, 0.1 s, 512.00 KiB, ..."),
 * or 0 when nothing was read. */
static double stats_read_bytes(const char *statsfile)
{
    FILE *fp = fopen(statsfile, "r");
    assert_non_null(fp);
    char line[512];
    double bytes = 0;
    while (fgets(line, sizeof line, fp)) {
        double v;
        char unit[16];
        if (sscanf(line, "read: %*s ops, %*s s, %lf %15s", &v, unit) == 2) {
            static const char *const units[] = { "bytes,", "KiB,", "MiB,", "GiB,", "TiB," };
            bool known = false;
            for (int i = 0; i < 5; i++, v *= 1024)
                if (strcmp(unit, units[i]) == 0) {
                    bytes = v;
                    known = true;
                    break;
                }
            assert_true(known);
        }
    }
    fclose(fp);
    return bytes;
}

/* Zero extents are hashed without being read: a 300 MiB export with a few
 * bytes of data is read for well under 1 MiB, and still hashes like the
 * same bytes in a sparse file. */
static void test_nbd_holes_not_read(void **state)
{
    NEED_NBD_TOOLS();
    fixture *f = *state;
    char statsfile[192], statsarg[256], file[192], want[65];
    snprintf(statsfile, sizeof statsfile, "%s/stats", f->dir);
    snprintf(statsarg, sizeof statsarg, "statsfile=%s", statsfile);
    start_nbdkit(f, (const char *const[]){ "--filter=stats", "data", "data=1 2 3 @0x100001 4",
                                           "size=300M", statsarg, NULL });
    char *got = NULL;
    assert_int_equal(vmmk_checksum(&got, f->uri), 0);
    stop_nbdkit(f);            /* the filter writes its statistics on exit */
    double read = stats_read_bytes(statsfile);
    if (read >= 1024 * 1024)
        print_error("%.0f bytes read\n", read);
    assert_true(read < 1024 * 1024);

    snprintf(file, sizeof file, "%s/same.img", f->dir);
    int fd = open(file, O_CREAT | O_RDWR | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 300 * MIB), 0);
    write_at(fd, 0, "\1\2\3", 3);
    write_at(fd, 0x100001, "\4", 1);
    close(fd);
    sha256sum(want, file);
    assert_string_equal(got, want);
    vmmk_string_free(got);
}

static void test_nbd_errors(void **state)
{
    NEED_NBD_TOOLS();
    fixture *f = *state;
    /* Every read fails: the first one is reported, with its offset. */
    start_nbdkit(f, (const char *const[]){ "--filter=error", "pattern", "size=8M",
                                           "error-pread=EIO", "error-pread-rate=100%", NULL });
    char *got = (char *)1;
    assert_int_equal(vmmk_checksum(&got, f->uri), VMMK_EIO);
    assert_null(got);
    char want[256];
    snprintf(want, sizeof want, "%s: read at offset 0: ", f->uri);
    const char *msg = vmmk_error_last()->message;
    if (strncmp(msg, want, strlen(want)) != 0)
        print_error("got \"%s\"\n", msg);
    assert_memory_equal(msg, want, strlen(want));
    assert_non_null(strstr(msg, "Input/output error"));
    stop_nbdkit(f);

    /* Nobody listens on the socket. */
    got = (char *)1;
    assert_int_equal(vmmk_checksum(&got, f->uri), VMMK_ENETWORK);
    assert_null(got);
    snprintf(want, sizeof want, "%s: cannot connect: ", f->uri);
    assert_memory_equal(vmmk_error_last()->message, want, strlen(want));
}

/* vmmk_checksum_source on a URI source: the same as on the URI. */
static void test_source(void **state)
{
    NEED_NBD_TOOLS();
    fixture *f = *state;
    start_nbdkit(f, (const char *const[]){ "sparse-random", "size=16M", "seed=3", NULL });
    char want[65];
    reference_nbd(want, f);
    vmmk_source *src = NULL;
    assert_int_equal(vmmk_source_new_uri(&src, f->uri), 0);
    char *got = NULL;
    int rc = vmmk_checksum_source(&got, src);
    if (rc)
        print_error("%s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_string_equal(got, want);
    vmmk_string_free(got);
    vmmk_source_free(src);
    stop_nbdkit(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_zeros),
        cmocka_unit_test_setup_teardown(test_sparse_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dense_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_path_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nbd_pattern, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nbd_sparse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nbd_zero_and_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nbd_holes_not_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nbd_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_source, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
