/* Disk sources and the process plumbing under them (common/spawn.c):
 * exact nbdkit command lines, option errors, secrets kept off argv, and
 * real nbdkit processes (pattern, file, curl against an HTTPS server)
 * read with libnbd. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmmk/vmmk.h>
#include <vmmk/copier.h>
#include "common/internal.h"
#include "common/spawn.h"
#include "common/http.h"
#include "process_fixture.h"
#include "copier/copier_int.h"

#define THUMB "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD"
#define PASSWORD "s3cret-Pa55word!"
#define COOKIE_VALUE "52a01262-bf93-ccce-d379-8dabb3e55560"
#define COOKIE "vmware_soap_session=\"" COOKIE_VALUE "\""

/* ---- helpers ------------------------------------------------------------- */

static char *tmpdir(void)
{
    char *d = NULL;
    assert_int_equal(vmmk__private_dir(&d, "vmmk-test"), 0);
    return d;
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_mode & 07777;
}

static bool exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* /proc/PID/cmdline with the NULs turned into spaces. */
static char *proc_cmdline(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    static char buf[65536];
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    assert_true(n > 0);
    for (ssize_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strdup(buf);
}

static bool pid_gone(pid_t pid)
{
    return kill(pid, 0) < 0 && errno == ESRCH;
}

/* The whole disk of @p src through libnbd. */
static uint8_t *read_source(vmmk_source *src, int64_t *size)
{
    struct nbd_handle *h = nbd_create();
    assert_non_null(h);
    int rc = vmmk__source_connect(src, h);
    if (rc)
        fail_msg("connect: %s", vmmk_error_last()->message);
    *size = nbd_get_size(h);
    assert_true(*size >= 0);
    uint8_t *buf = malloc((size_t)*size + 1);
    assert_non_null(buf);
    for (int64_t off = 0; off < *size; off += 1 << 20) {
        size_t n = (size_t)(*size - off < (1 << 20) ? *size - off : (1 << 20));
        if (nbd_pread(h, buf + off, n, (uint64_t)off, 0) == -1)
            fail_msg("pread at %lld: %s", (long long)off, nbd_get_error());
    }
    nbd_shutdown(h, 0);
    nbd_close(h);
    return buf;
}

/* Deterministic bytes that no plugin would produce by itself. */
static void fill(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed ? seed : 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (uint8_t)x;
    }
}

/* The argv element after @p opt. */
static const char *after(char **argv, const char *opt)
{
    for (size_t i = 0; argv[i]; i++)
        if (strcmp(argv[i], opt) == 0)
            return argv[i + 1];
    return NULL;
}

static void assert_argv(char **argv, const char *const *expected)
{
    size_t i = 0;
    for (; expected[i]; i++) {
        if (!argv[i])
            fail_msg("argv ends at %zu, expected '%s'", i, expected[i]);
        if (strcmp(argv[i], expected[i]) != 0)
            fail_msg("argv[%zu] = '%s', expected '%s'", i, argv[i], expected[i]);
    }
    if (argv[i])
        fail_msg("argv[%zu] = '%s' is extra", i, argv[i]);
}

static void assert_error(int rc, int code, const char *needle)
{
    assert_int_equal(rc, code);
    assert_int_equal(vmmk_error_last()->code, code);
    if (!strstr(vmmk_error_last()->message, needle))
        fail_msg("error '%s' lacks '%s'", vmmk_error_last()->message, needle);
}

static char log_seen[8192];
static void capture_log(int level, const char *msg, void *payload)
{
    (void)payload;
    size_t l = strlen(log_seen);
    snprintf(log_seen + l, sizeof log_seen - l, "%s: %s\n", vmmk_log_level_name(level), msg);
}

static int setup(void **state)
{
    (void)state;
    unsetenv("VMMK_NBDKIT");
    log_seen[0] = '\0';
    return 0;
}

/* ---- spawn.c ------------------------------------------------------------- */

static void test_spawn_true_false(void **state)
{
    (void)state;
    char *const t[] = { "true", NULL };
    char *const f[] = { "/bin/false", NULL };
    pid_t pid;
    int st;
    char desc[64];
    assert_int_equal(vmmk__spawn(&pid, t, NULL), 0);
    assert_int_equal(vmmk__wait_pid(pid, 10, &st), 1);
    vmmk__describe_status(desc, sizeof desc, st);
    assert_string_equal(desc, "exited with status 0");
    assert_int_equal(vmmk__spawn(&pid, f, NULL), 0);
    assert_int_equal(vmmk__wait_pid(pid, -1, &st), 1);
    vmmk__describe_status(desc, sizeof desc, st);
    assert_string_equal(desc, "exited with status 1");
    /* Reaped: waiting again is an error, not a hang. */
    assert_int_equal(vmmk__wait_pid(pid, 0, &st), -1);
}

static void test_spawn_missing(void **state)
{
    (void)state;
    char *const nope[] = { "nope", NULL };
    char *const abs[] = { "/nonexistent/dir/nope", NULL };
    char *const dir[] = { "/tmp", NULL };
    pid_t pid = 123;
    assert_error(vmmk__spawn(&pid, nope, NULL), VMMK_ENOTFOUND,
                 "cannot run 'nope': No such file or directory");
    assert_string_equal(vmmk_error_last()->message, "cannot run 'nope': No such file or directory");
    assert_int_equal(pid, -1);
    assert_error(vmmk__spawn(&pid, abs, NULL), VMMK_ENOTFOUND,
                 "cannot run '/nonexistent/dir/nope': No such file or directory");
    /* Found but not executable: exec's own error comes back. */
    assert_error(vmmk__spawn(&pid, dir, NULL), VMMK_EPROCESS, "cannot run '/tmp': Permission denied");
    char *const empty[] = { NULL };
    assert_int_equal(vmmk__spawn(&pid, empty, NULL), VMMK_EINVAL);
}

static void test_spawn_log_and_fds(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char *log = vmmk__asprintf("%s/log", dir);
    /* A descriptor without close-on-exec must still not reach the child. */
    int leak = open("/dev/null", O_RDONLY);
    assert_true(leak >= 0);
    assert_int_equal(dup2(leak, 57), 57);
    close(leak);
    char *const ls[] = { "ls", "/proc/self/fd/", "/nonexistent-vmmk", NULL };
    pid_t pid;
    int st;
    assert_int_equal(vmmk__spawn(&pid, ls, log), 0);
    assert_int_equal(vmmk__wait_pid(pid, 10, &st), 1);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) != 0);   /* the missing path */
    char *text = slurp(log);
    /* stdout and stderr both land in the log. */
    assert_non_null(strstr(text, "/nonexistent-vmmk"));
    assert_non_null(strstr(text, "\n0\n"));
    assert_null(strstr(text, "57"));
    assert_int_equal(mode_of(log) & 077, 0);
    free(text);
    close(57);
    /* Appended, not truncated. */
    char *const echo[] = { "echo", "second", NULL };
    assert_int_equal(vmmk__spawn(&pid, echo, log), 0);
    assert_int_equal(vmmk__wait_pid(pid, 10, &st), 1);
    text = slurp(log);
    assert_non_null(strstr(text, "/nonexistent-vmmk"));
    assert_non_null(strstr(text, "second\n"));
    free(text);
    vmmk__remove_private_dir(dir);
    assert_false(exists(dir));
    free(log);
    free(dir);
}

static void test_spawn_wait_and_stop(void **state)
{
    (void)state;
    char *const sleep100[] = { "sleep", "100", NULL };
    pid_t pid;
    int st;
    assert_int_equal(vmmk__spawn(&pid, sleep100, NULL), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(vmmk__wait_pid(pid, 0.2, &st), 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double waited = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    assert_true(waited >= 0.19);
    assert_int_equal(vmmk__wait_pid(pid, 0, &st), 0);
    /* Its own process group. */
    assert_int_equal(getpgid(pid), pid);
    vmmk__stop_pid(pid, 5);
    assert_true(pid_gone(pid));
    /* The describe text for a signal. */
    assert_int_equal(vmmk__spawn(&pid, sleep100, NULL), 0);
    kill(pid, SIGKILL);
    assert_int_equal(vmmk__wait_pid(pid, 10, &st), 1);
    char desc[64];
    vmmk__describe_status(desc, sizeof desc, st);
    assert_string_equal(desc, "killed by signal 9");
}

static void test_spawn_stop_escalates(void **state)
{
    (void)state;
    if (access("/usr/bin/python3", X_OK) != 0) {
        print_message("skipped: /usr/bin/python3 is missing\n");
        skip();
    }
    char *dir = tmpdir();
    char *log = vmmk__asprintf("%s/log", dir);
    /* A child that ignores SIGTERM once it runs: stop must fall back to KILL. */
    char *const py[] = { "/usr/bin/python3", "-c",
                         "import signal,time\n"
                         "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                         "print('ready', flush=True)\n"
                         "time.sleep(100)\n", NULL };
    pid_t pid;
    assert_int_equal(vmmk__spawn(&pid, py, log), 0);
    for (int i = 0; i < 200; i++) {
        char *t = slurp(log);
        bool ready = strstr(t, "ready") != NULL;
        free(t);
        if (ready)
            break;
        usleep(50000);
    }
    vmmk_log_set_callback(capture_log, NULL);
    vmmk__stop_pid(pid, 0.3);
    vmmk_log_set_callback(NULL, NULL);
    assert_true(pid_gone(pid));
    assert_non_null(strstr(log_seen, "did not stop within 0.3 s of SIGTERM"));
    vmmk__remove_private_dir(dir);
    free(log);
    free(dir);
}

static void test_private_dir_and_secret(void **state)
{
    (void)state;
    mode_t old = umask(0);   /* a careless umask must not widen anything */
    char *dir = tmpdir();
    umask(old);
    assert_int_equal(mode_of(dir), 0700);
    char *path = NULL;
    const char *secret = "tops3cret-value-for-test";
    assert_int_equal(vmmk__write_secret_file(&path, dir, "password", secret), 0);
    assert_int_equal(mode_of(path), 0600);
    char *text = slurp(path);
    assert_string_equal(text, secret);   /* no trailing newline */
    free(text);
    /* Registered for redaction. */
    char *red = vmmk__redact_dup("the value is tops3cret-value-for-test here");
    assert_string_equal(red, "the value is *** here");
    free(red);
    /* Never overwrites an existing file. */
    char *again = NULL;
    assert_int_equal(vmmk__write_secret_file(&again, dir, "password", "other-secret"), VMMK_EIO);
    assert_null(again);
    assert_null(strstr(vmmk_error_last()->message, "other-secret"));
    assert_int_equal(vmmk__write_secret_file(&again, dir, "../x", "other-secret"), VMMK_EINVAL);
    vmmk__remove_private_dir(dir);
    assert_false(exists(path));
    assert_false(exists(dir));
    free(path);
    free(dir);
}

/* ---- builders: exact argv ------------------------------------------------ */

static void test_vddk_argv(void **state)
{
    (void)state;
    vmmk_vddk_options o = VMMK_VDDK_OPTIONS_INIT;
    o.server = "vcenter.example.com";
    o.user = "administrator@vsphere.local";
    o.password = PASSWORD;
    o.thumbprint = "aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd";
    o.vm_moref = "vm-42";
    o.snapshot_moref = "snapshot-7";
    o.file = "[datastore1] vm/vm-000001.vmdk";
    o.libdir = "/opt/vmware-vix-disklib-distrib";
    o.transports = "file:nbdssl:nbd";
    o.compression = "skipz";
    o.max_request = 1024 * 1024;
    vmmk_source *src;
    assert_int_equal(vmmk_source_new_vddk(&src, &o), 0);
    const char *d = vmmk__source_dir(src);
    assert_non_null(d);
    char *sock = vmmk__asprintf("%s/nbdkit.sock", d);
    char *pidf = vmmk__asprintf("%s/nbdkit.pid", d);
    char *pw = vmmk__asprintf("password=+%s/password", d);
    char **argv;
    assert_int_equal(vmmk_source_argv(&argv, src), 0);
    const char *expected[] = {
        "nbdkit", "--exit-with-parent", "--foreground", "--readonly", "--unix", sock,
        "--pidfile", pidf, "--filter=blocksize", "--filter=retry", "vddk",
        "server=vcenter.example.com", "user=administrator@vsphere.local", pw,
        "thumbprint=" THUMB, "vm=moref=vm-42", "snapshot=snapshot-7",
        "file=[datastore1] vm/vm-000001.vmdk", "libdir=/opt/vmware-vix-disklib-distrib",
        "transports=file:nbdssl:nbd", "compression=skipz", "maxdata=1M", "minblock=512", NULL,
    };
    assert_argv(argv, expected);
    for (size_t i = 0; argv[i]; i++)
        assert_null(strstr(argv[i], PASSWORD));
    vmmk_strv_free(argv);
    assert_string_equal(vmmk__source_identity(src),
                        "nbdkit --filter=blocksize --filter=retry vddk server=vcenter.example.com "
                        "user=administrator@vsphere.local password=+FILE thumbprint=" THUMB
                        " vm=moref=vm-42 snapshot=snapshot-7 file=[datastore1] vm/vm-000001.vmdk "
                        "libdir=/opt/vmware-vix-disklib-distrib transports=file:nbdssl:nbd "
                        "compression=skipz maxdata=1M minblock=512");
    assert_null(strstr(vmmk__source_identity(src), d));
    /* The password is in a 0600 file in a 0700 directory, nowhere else. */
    assert_int_equal(mode_of(d), 0700);
    char *pwfile = vmmk__asprintf("%s/password", d);
    assert_int_equal(mode_of(pwfile), 0600);
    char *text = slurp(pwfile);
    assert_string_equal(text, PASSWORD);
    free(text);
    /* Not started yet: no process, no log. */
    const char *why;
    assert_int_equal(vmmk__source_alive(src, &why), 0);
    assert_string_equal(why, "was not started");
    char *log;
    assert_int_equal(vmmk_source_log(&log, src), 0);
    assert_string_equal(log, "");
    vmmk_string_free(log);
    char *dir = strdup(d);
    vmmk_source_free(src);
    assert_false(exists(pwfile));
    assert_false(exists(dir));
    free(dir);
    free(pwfile);
    free(sock);
    free(pidf);
    free(pw);
}

static void test_vddk_defaults(void **state)
{
    (void)state;
    vmmk_vddk_options o = VMMK_VDDK_OPTIONS_INIT;
    o.server = "esx1";
    o.user = "root";
    o.password = PASSWORD;
    o.thumbprint = THUMB;
    o.vm_moref = "vm-1";
    o.file = "[ds] a/a.vmdk";
    o.retry = false;
    vmmk_source *src;
    assert_int_equal(vmmk_source_new_vddk(&src, &o), 0);
    char **argv;
    assert_int_equal(vmmk_source_argv(&argv, src), 0);
    const char *d = vmmk__source_dir(src);
    char *sock = vmmk__asprintf("%s/nbdkit.sock", d);
    char *pidf = vmmk__asprintf("%s/nbdkit.pid", d);
    char *pw = vmmk__asprintf("password=+%s/password", d);
    const char *expected[] = {
        "nbdkit", "--exit-with-parent", "--foreground", "--readonly", "--unix", sock,
        "--pidfile", pidf, "--filter=blocksize", "vddk", "server=esx1", "user=root", pw,
        "thumbprint=" THUMB, "vm=moref=vm-1", "file=[ds] a/a.vmdk",
        "libdir=/usr/lib/vmware-vix-disklib", "maxdata=2M", "minblock=512", NULL,
    };
    assert_argv(argv, expected);
    vmmk_strv_free(argv);
    /* VMMK_NBDKIT names the program. */
    setenv("VMMK_NBDKIT", "/opt/nbdkit/bin/nbdkit", 1);
    assert_int_equal(vmmk_source_argv(&argv, src), 0);
    assert_string_equal(argv[0], "/opt/nbdkit/bin/nbdkit");
    vmmk_strv_free(argv);
    unsetenv("VMMK_NBDKIT");
    vmmk_source_free(src);
    free(sock);
    free(pidf);
    free(pw);
}

static void test_vddk_errors(void **state)
{
    (void)state;
    static const char *const names[] = { "server", "user", "password", "thumbprint", "vm_moref",
                                         "file" };
    for (size_t i = 0; i < 6; i++) {
        vmmk_vddk_options o = VMMK_VDDK_OPTIONS_INIT;
        const char **fields[] = { &o.server, &o.user, &o.password, &o.thumbprint, &o.vm_moref,
                                  &o.file };
        o.server = "esx1";
        o.user = "root";
        o.password = PASSWORD;
        o.thumbprint = THUMB;
        o.vm_moref = "vm-1";
        o.file = "[ds] a/a.vmdk";
        *fields[i] = i % 2 ? "" : NULL;
        vmmk_source *src = (vmmk_source *)1;
        char want[64];
        snprintf(want, sizeof want, "vddk source: option '%s' is required", names[i]);
        assert_error(vmmk_source_new_vddk(&src, &o), VMMK_EINVAL, want);
        assert_null(src);
    }
    vmmk_vddk_options o = VMMK_VDDK_OPTIONS_INIT;
    o.server = "esx1";
    o.user = "root";
    o.password = PASSWORD;
    o.vm_moref = "vm-1";
    o.file = "[ds] a/a.vmdk";
    vmmk_source *src;
    static const char *const bad_thumbs[] = {
        "AA:BB", "AABBCCDDEEFF00112233445566778899AABBCCDD",
        "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE",   /* SHA-1 is 20 bytes */
        "AA-BB-CC-DD-EE-FF-00-11-22-33-44-55-66-77-88-99-AA-BB-CC-DD",
        "GG:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD",
    };
    for (size_t i = 0; i < sizeof bad_thumbs / sizeof *bad_thumbs; i++) {
        o.thumbprint = bad_thumbs[i];
        assert_error(vmmk_source_new_vddk(&src, &o), VMMK_EINVAL, "option 'thumbprint'");
        assert_non_null(strstr(vmmk_error_last()->message, bad_thumbs[i]));
    }
    o.thumbprint = THUMB;
    o.compression = "gzip";
    assert_error(vmmk_source_new_vddk(&src, &o), VMMK_EINVAL, "option 'compression': 'gzip'");
    o.compression = NULL;
    o.max_request = 1000;
    assert_error(vmmk_source_new_vddk(&src, &o), VMMK_EINVAL, "option 'max_request': 1000");
    o.max_request = 0;
    o.version = 99;
    assert_error(vmmk_source_new_vddk(&src, &o), VMMK_EINVAL, "version 99");
    assert_error(vmmk_source_new_vddk(&src, NULL), VMMK_EINVAL, "vddk source");
    /* No message ever carries the password. */
    assert_null(strstr(vmmk_error_last()->message, PASSWORD));
}

static void test_http_argv(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char *ca = vmmk__asprintf("%s/ca.pem", dir);
    write_file(ca, "x", 1);
    vmmk_http_options o = VMMK_HTTP_OPTIONS_INIT;
    o.url = "https://esx1.example.com/folder/vm/vm-flat.vmdk?dcPath=ha-datacenter&dsName=ds1";
    o.cookie = COOKIE;
    o.cacert = ca;
    o.insecure = true;
    o.timeout = 120;
    vmmk_log_set_callback(capture_log, NULL);
    vmmk_source *src;
    assert_int_equal(vmmk_source_new_http(&src, &o), 0);
    vmmk_log_set_callback(NULL, NULL);
    assert_non_null(strstr(log_seen, "warn: http source https://esx1.example.com/folder/vm/vm-flat.vmdk"));
    assert_non_null(strstr(log_seen, "TLS certificate verification is OFF"));
    const char *d = vmmk__source_dir(src);
    char *sock = vmmk__asprintf("%s/nbdkit.sock", d);
    char *pidf = vmmk__asprintf("%s/nbdkit.pid", d);
    char *ck = vmmk__asprintf("cookie=+%s/cookie", d);
    char *cainfo = vmmk__asprintf("cainfo=%s", ca);
    char **argv;
    assert_int_equal(vmmk_source_argv(&argv, src), 0);
    const char *expected[] = {
        "nbdkit", "--exit-with-parent", "--foreground", "--readonly", "--unix", sock,
        "--pidfile", pidf, "--filter=retry", "curl",
        "url=https://esx1.example.com/folder/vm/vm-flat.vmdk?dcPath=ha-datacenter&dsName=ds1",
        ck, cainfo, "sslverify=false", "timeout=120", NULL,
    };
    assert_argv(argv, expected);
    for (size_t i = 0; argv[i]; i++)
        assert_null(strstr(argv[i], COOKIE_VALUE));
    vmmk_strv_free(argv);
    char *cfile = vmmk__asprintf("%s/cookie", d);
    assert_int_equal(mode_of(cfile), 0600);
    char *text = slurp(cfile);
    assert_string_equal(text, COOKIE);
    free(text);
    char *want_id = vmmk__asprintf(
        "nbdkit --filter=retry curl url=https://esx1.example.com/folder/vm/vm-flat.vmdk"
        "?dcPath=ha-datacenter&dsName=ds1 cookie=+FILE cainfo=%s sslverify=false timeout=120", ca);
    assert_string_equal(vmmk__source_identity(src), want_id);
    free(want_id);
    vmmk_source_free(src);

    /* The plain case: no cookie, system CAs, verification on, no warning. */
    vmmk_http_options p = VMMK_HTTP_OPTIONS_INIT;
    p.url = "http://10.0.0.1/disk.img";
    p.retry = false;
    log_seen[0] = '\0';
    vmmk_log_set_callback(capture_log, NULL);
    assert_int_equal(vmmk_source_new_http(&src, &p), 0);
    vmmk_log_set_callback(NULL, NULL);
    assert_string_equal(log_seen, "");
    assert_int_equal(vmmk_source_argv(&argv, src), 0);
    assert_string_equal(argv[8], "curl");
    assert_string_equal(argv[9], "url=http://10.0.0.1/disk.img");
    assert_null(argv[10]);
    vmmk_strv_free(argv);
    assert_string_equal(vmmk__source_identity(src), "nbdkit curl url=http://10.0.0.1/disk.img");
    vmmk_source_free(src);

    vmmk__remove_private_dir(dir);
    free(cfile);
    free(sock);
    free(pidf);
    free(ck);
    free(cainfo);
    free(ca);
    free(dir);
}

static void test_http_errors(void **state)
{
    (void)state;
    vmmk_source *src;
    vmmk_http_options o = VMMK_HTTP_OPTIONS_INIT;
    assert_error(vmmk_source_new_http(&src, &o), VMMK_EINVAL, "option 'url' is required");
    o.url = "ftp://host/disk";
    assert_error(vmmk_source_new_http(&src, &o), VMMK_EINVAL,
                 "URL 'ftp://host/disk' is not http:// or https://");
    o.url = "file:///etc/passwd";
    assert_error(vmmk_source_new_http(&src, &o), VMMK_EINVAL, "is not http:// or https://");
    o.url = "https://";
    assert_error(vmmk_source_new_http(&src, &o), VMMK_EINVAL, "has no host");
    o.url = "https://root:hunter22@esx1/folder/x";
    assert_error(vmmk_source_new_http(&src, &o), VMMK_EINVAL, "carries credentials");
    assert_null(strstr(vmmk_error_last()->message, "hunter22"));
    o.url = "https://esx1/folder/x";
    o.cacert = "/nonexistent/ca.pem";
    assert_error(vmmk_source_new_http(&src, &o), VMMK_ENOTFOUND,
                 "http source: cacert /nonexistent/ca.pem: No such file or directory");
    o.cacert = NULL;
    o.version = 2;
    assert_error(vmmk_source_new_http(&src, &o), VMMK_EINVAL, "version 2");
    assert_error(vmmk_source_new_http(&src, NULL), VMMK_EINVAL, "http source");
}

static void test_file_argv(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char *disk = vmmk__asprintf("%s/disk.img", dir);
    write_file(disk, "abc", 3);
    vmmk_source *src;
    assert_int_equal(vmmk_source_new_file(&src, disk), 0);
    const char *d = vmmk__source_dir(src);
    char *sock = vmmk__asprintf("%s/nbdkit.sock", d);
    char *pidf = vmmk__asprintf("%s/nbdkit.pid", d);
    char *filep = vmmk__asprintf("file=%s", disk);
    char **argv;
    assert_int_equal(vmmk_source_argv(&argv, src), 0);
    const char *expected[] = { "nbdkit", "--exit-with-parent", "--foreground", "--readonly",
                               "--unix", sock, "--pidfile", pidf, "file", filep, NULL };
    assert_argv(argv, expected);
    vmmk_strv_free(argv);
    char *want_id = vmmk__asprintf("nbdkit file file=%s", disk);
    assert_string_equal(vmmk__source_identity(src), want_id);
    free(want_id);
    vmmk_source_free(src);

    /* A relative path is made absolute (nbdkit serves from "/"). */
    char *cwd = getcwd(NULL, 0);
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(vmmk_source_new_file(&src, "disk.img"), 0);
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(vmmk_source_argv(&argv, src), 0);
    assert_string_equal(argv[9], filep);
    vmmk_strv_free(argv);
    vmmk_source_free(src);

    assert_error(vmmk_source_new_file(&src, "/nonexistent/disk.img"), VMMK_ENOTFOUND,
                 "source file /nonexistent/disk.img: No such file or directory");
    assert_null(src);
    assert_error(vmmk_source_new_file(&src, dir), VMMK_EINVAL, "not a regular file or block device");
    assert_error(vmmk_source_new_file(&src, ""), VMMK_EINVAL, "no path given");
    if (geteuid() != 0) {
        chmod(disk, 0);
        assert_error(vmmk_source_new_file(&src, disk), VMMK_EIO, "Permission denied");
    }
    vmmk__remove_private_dir(dir);
    free(cwd);
    free(sock);
    free(pidf);
    free(filep);
    free(disk);
    free(dir);
}

static void test_nbdkit_argv(void **state)
{
    (void)state;
    vmmk_source *src;
    const char *params[] = { "size=1M", "rdelay=1ms", NULL };
    const char *filters[] = { "delay", "retry", NULL };
    assert_int_equal(vmmk_source_new_nbdkit(&src, "pattern", params, filters), 0);
    const char *d = vmmk__source_dir(src);
    char *sock = vmmk__asprintf("%s/nbdkit.sock", d);
    char *pidf = vmmk__asprintf("%s/nbdkit.pid", d);
    char **argv;
    assert_int_equal(vmmk_source_argv(&argv, src), 0);
    const char *expected[] = { "nbdkit", "--exit-with-parent", "--foreground", "--readonly",
                               "--unix", sock, "--pidfile", pidf, "--filter=delay",
                               "--filter=retry", "pattern", "size=1M", "rdelay=1ms", NULL };
    assert_argv(argv, expected);
    assert_string_equal(after(argv, "--unix"), sock);
    vmmk_strv_free(argv);
    assert_string_equal(vmmk__source_identity(src),
                        "nbdkit --filter=delay --filter=retry pattern size=1M rdelay=1ms");
    /* The URI is the private socket. */
    char *want = vmmk__asprintf("nbd+unix:///?socket=%s", sock);
    const char *u = vmmk__source_uri(src);
    assert_non_null(u);
    assert_string_equal(u, want);
    free(want);
    vmmk_source_free(src);

    assert_int_equal(vmmk_source_new_nbdkit(&src, "null", NULL, NULL), 0);
    assert_string_equal(vmmk__source_identity(src), "nbdkit null");
    vmmk_source_free(src);

    const char *opt[] = { "--run=sh", NULL };
    assert_error(vmmk_source_new_nbdkit(&src, "pattern", opt, NULL), VMMK_EINVAL,
                 "parameter '--run=sh' starts with '-'");
    const char *badf[] = { "-f", NULL };
    assert_error(vmmk_source_new_nbdkit(&src, "pattern", NULL, badf), VMMK_EINVAL, "filter '-f'");
    assert_error(vmmk_source_new_nbdkit(&src, "", NULL, NULL), VMMK_EINVAL, "plugin is empty");
    assert_error(vmmk_source_new_nbdkit(&src, NULL, NULL, NULL), VMMK_EINVAL, "plugin is empty");
    const char *secret[] = { "url=http://x/", "password=hunter22", NULL };
    assert_error(vmmk_source_new_nbdkit(&src, "curl", secret, NULL), VMMK_EINVAL,
                 "parameter 'password' must name a file (+FILE)");
    const char *cookie[] = { "cookie=" COOKIE, NULL };
    assert_error(vmmk_source_new_nbdkit(&src, "curl", cookie, NULL), VMMK_EINVAL,
                 "parameter 'cookie' must name a file (+FILE)");
    assert_null(strstr(vmmk_error_last()->message, COOKIE_VALUE));
    const char *byfile[] = { "url=http://x/", "password=+/run/secret", NULL };
    assert_int_equal(vmmk_source_new_nbdkit(&src, "curl", byfile, NULL), 0);
    vmmk_source_free(src);
    free(sock);
    free(pidf);
}

static void test_uri_source(void **state)
{
    (void)state;
    static const char *const good[] = { "nbd://example.com", "nbds://example.com:10810/export",
                                        "nbd+unix:///?socket=/tmp/x.sock",
                                        "nbds+unix:///disk?socket=/tmp/x.sock", "NBD://HOST" };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        vmmk_source *src;
        assert_int_equal(vmmk_source_new_uri(&src, good[i]), 0);
        assert_string_equal(vmmk__source_identity(src), good[i]);
        assert_string_equal(vmmk__source_uri(src), good[i]);
        const char *uri = NULL;
        assert_int_equal(vmmk_source_start(src, &uri), 0);
        assert_string_equal(uri, good[i]);
        char **argv = (char **)1;
        assert_int_equal(vmmk_source_argv(&argv, src), 0);
        assert_null(argv);
        char *log;
        assert_int_equal(vmmk_source_log(&log, src), 0);
        assert_string_equal(log, "");
        vmmk_string_free(log);
        const char *why = "x";
        assert_int_equal(vmmk__source_alive(src, &why), -1);
        assert_null(why);
        assert_null(vmmk__source_dir(src));
        assert_int_equal(vmmk__source_pid(src), -1);
        vmmk_source_free(src);
    }
    vmmk_source *src = (vmmk_source *)1;
    assert_error(vmmk_source_new_uri(&src, "http://example.com/disk"), VMMK_EINVAL,
                 "source URI 'http://example.com/disk': unsupported scheme (expected nbd://, nbds://, "
                 "nbd+unix:// or nbds+unix://)");
    assert_null(src);
    assert_error(vmmk_source_new_uri(&src, "/dev/sda"), VMMK_EINVAL, "source URI '/dev/sda'");
    assert_error(vmmk_source_new_uri(&src, "nbd+vsock:///"), VMMK_EINVAL, "unsupported scheme");
    assert_error(vmmk_source_new_uri(&src, ""), VMMK_EINVAL, "source URI: empty");
    assert_error(vmmk_source_new_uri(&src, NULL), VMMK_EINVAL, "source URI: empty");
    assert_int_equal(vmmk_source_new_uri(NULL, "nbd://x"), VMMK_EINVAL);
    vmmk_source_free(NULL);
    vmmk_strv_free(NULL);
}

/* ---- real nbdkit ----------------------------------------------------------- */

static void test_pattern_real(void **state)
{
    (void)state;
    vmmk_source *src;
    const char *params[] = { "size=1M", NULL };
    assert_int_equal(vmmk_source_new_nbdkit(&src, "pattern", params, NULL), 0);
    const char *uri = NULL;
    assert_int_equal(vmmk_source_start(src, &uri), 0);
    assert_non_null(uri);
    assert_string_equal(uri, vmmk__source_uri(src));   /* started once */
    pid_t pid = vmmk__source_pid(src);
    assert_true(pid > 0);
    assert_int_equal(vmmk__source_alive(src, NULL), 1);
    char *cmd = proc_cmdline(pid);
    assert_non_null(strstr(cmd, " --exit-with-parent --foreground --readonly --unix "));
    free(cmd);

    int64_t size;
    uint8_t *buf = read_source(src, &size);
    assert_int_equal(size, 1024 * 1024);
    /* nbdkit-pattern-plugin: every 8 bytes hold their own offset, big-endian. */
    for (int64_t off = 0; off < size; off += 8) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | buf[off + i];
        if (v != (uint64_t)off)
            fail_msg("pattern at %lld is %llu", (long long)off, (unsigned long long)v);
    }
    free(buf);

    /* Readonly: a write is refused. */
    struct nbd_handle *h = nbd_create();
    assert_int_equal(vmmk__source_connect(src, h), 0);
    assert_int_equal(nbd_is_read_only(h), 1);
    char zero[512] = { 0 };
    assert_int_equal(nbd_pwrite(h, zero, sizeof zero, 0, 0), -1);
    nbd_close(h);

    /* The engine's view of a dead nbdkit. */
    assert_int_equal(kill(pid, SIGKILL), 0);
    const char *why = NULL;
    for (int i = 0; i < 200 && vmmk__source_alive(src, &why) == 1; i++)
        usleep(10000);
    assert_int_equal(vmmk__source_alive(src, &why), 0);
    assert_non_null(why);
    assert_string_equal(why, "killed by signal 9");
    assert_int_equal(vmmk__source_alive(src, &why), 0);   /* cached */
    assert_int_equal(vmmk__source_pid(src), -1);
    h = nbd_create();
    assert_error(vmmk__source_connect(src, h), VMMK_ENETWORK, "source nbdkit (pattern): cannot connect");
    assert_non_null(strstr(vmmk_error_last()->message, "cannot connect: nbdkit killed by signal 9 (libnbd: "));
    nbd_close(h);

    char *dir = strdup(vmmk__source_dir(src));
    vmmk_source_free(src);
    assert_false(exists(dir));
    free(dir);
}

static void test_free_stops(void **state)
{
    (void)state;
    vmmk_source *src;
    const char *params[] = { "size=64k", NULL };
    assert_int_equal(vmmk_source_new_nbdkit(&src, "pattern", params, NULL), 0);
    assert_non_null(vmmk__source_uri(src));
    pid_t pid = vmmk__source_pid(src);
    char *dir = strdup(vmmk__source_dir(src));
    assert_true(exists(dir));
    vmmk_source_free(src);
    assert_true(pid_gone(pid));
    assert_false(exists(dir));
    free(dir);
}

static void test_file_real(void **state)
{
    (void)state;
    char *dir = tmpdir();
    char *disk = vmmk__asprintf("%s/disk.img", dir);
    size_t len = 3 * 1024 * 1024 + 4096;
    uint8_t *data = malloc(len);
    fill(data, len, 42);
    write_file(disk, data, len);
    vmmk_source *src;
    assert_int_equal(vmmk_source_new_file(&src, disk), 0);
    int64_t size;
    uint8_t *got = read_source(src, &size);
    assert_int_equal(size, (int64_t)len);
    assert_memory_equal(got, data, len);
    char *log;
    assert_int_equal(vmmk_source_log(&log, src), 0);
    vmmk_string_free(log);
    vmmk_source_free(src);
    vmmk__remove_private_dir(dir);
    free(got);
    free(data);
    free(disk);
    free(dir);
}

static void test_start_failure(void **state)
{
    (void)state;
    vmmk_source *src;
    /* The generic builder skips the file check, so nbdkit itself fails. */
    const char *params[] = { "file=/nonexistent/vmmk-disk.img", NULL };
    assert_int_equal(vmmk_source_new_nbdkit(&src, "file", params, NULL), 0);
    assert_null(vmmk__source_uri(src));
    assert_error(vmmk_error_last()->code, VMMK_EPROCESS,
                 "nbdkit (file) exited with status 1 before it was ready: ");
    assert_non_null(strstr(vmmk_error_last()->message, "/nonexistent/vmmk-disk.img: No such file or directory"));
    char *first = strdup(vmmk_error_last()->message);
    /* Not retried: the same error at once. */
    vmmk_error_clear();
    const char *uri = "x";
    assert_int_equal(vmmk_source_start(src, &uri), VMMK_EPROCESS);
    assert_null(uri);
    assert_string_equal(vmmk_error_last()->message, first);
    const char *why;
    assert_int_equal(vmmk__source_alive(src, &why), 0);
    assert_string_equal(why, first);
    char *log;
    assert_int_equal(vmmk_source_log(&log, src), 0);
    assert_non_null(strstr(log, "No such file or directory"));
    vmmk_string_free(log);
    free(first);
    char *dir = strdup(vmmk__source_dir(src));
    vmmk_source_free(src);
    assert_false(exists(dir));
    free(dir);

    /* A missing plugin gets a hint. */
    assert_int_equal(vmmk_source_new_nbdkit(&src, "vmmk-no-such-plugin", NULL, NULL), 0);
    assert_null(vmmk__source_uri(src));
    assert_error(vmmk_error_last()->code, VMMK_EPROCESS, "cannot open plugin");
    assert_non_null(strstr(vmmk_error_last()->message, "(is that nbdkit plugin or filter installed?)"));
    vmmk_source_free(src);

    /* No nbdkit at all. */
    setenv("VMMK_NBDKIT", "/nonexistent/nbdkit", 1);
    assert_int_equal(vmmk_source_new_nbdkit(&src, "null", NULL, NULL), 0);
    assert_error(vmmk_source_start(src, NULL), VMMK_ENOTFOUND,
                 "nbdkit (null): install nbdkit or set VMMK_NBDKIT: cannot run '/nonexistent/nbdkit': "
                 "No such file or directory");
    unsetenv("VMMK_NBDKIT");
    vmmk_source_free(src);

    /* The vddk plugin with a missing VDDK directory stops before nbdkit. */
    vmmk_vddk_options o = VMMK_VDDK_OPTIONS_INIT;
    o.server = "esx1";
    o.user = "root";
    o.password = PASSWORD;
    o.thumbprint = THUMB;
    o.vm_moref = "vm-1";
    o.file = "[ds] a/a.vmdk";
    o.libdir = "/nonexistent/vddk";
    assert_int_equal(vmmk_source_new_vddk(&src, &o), 0);
    assert_error(vmmk_source_start(src, NULL), VMMK_ENOTFOUND,
                 "nbdkit (vddk): VDDK libdir /nonexistent/vddk is not a directory");
    /* The password file does not outlive a failed start. */
    char *pw = vmmk__asprintf("%s/password", vmmk__source_dir(src));
    assert_false(exists(pw));
    free(pw);
    vmmk_source_free(src);
}

static void test_start_failure_vddk_plugin(void **state)
{
    (void)state;
    /* VDDK directory present, plugin missing (it is not in Debian): the
     * error names nbdkit's complaint and where the docs are. */
    char *libdir = tmpdir();
    vmmk_vddk_options o = VMMK_VDDK_OPTIONS_INIT;
    o.server = "esx1";
    o.user = "root";
    o.password = PASSWORD;
    o.thumbprint = THUMB;
    o.vm_moref = "vm-1";
    o.file = "[ds] a/a.vmdk";
    o.libdir = libdir;
    vmmk_source *src;
    assert_int_equal(vmmk_source_new_vddk(&src, &o), 0);
    int rc = vmmk_source_start(src, NULL);
    if (rc == 0) {
        print_message("skipped: an nbdkit vddk plugin is installed here\n");
        vmmk_source_free(src);
        vmmk__remove_private_dir(libdir);
        free(libdir);
        skip();
    }
    assert_error(rc, VMMK_EPROCESS, "nbdkit (vddk) exited with status 1 before it was ready: ");
    assert_non_null(strstr(vmmk_error_last()->message, "cannot open plugin"));
    assert_non_null(strstr(vmmk_error_last()->message,
                           "(nbdkit's vddk plugin is not installed: see docs/disk-copier-sources.md)"));
    assert_null(strstr(vmmk_error_last()->message, PASSWORD));
    vmmk_source_free(src);
    vmmk__remove_private_dir(libdir);
    free(libdir);
}

static void test_ready_timeout(void **state)
{
    (void)state;
    vmmk_source *src;
    /* The eval plugin's config_complete keeps nbdkit from becoming ready. */
    const char *params[] = { "config_complete=exec sleep 30", "get_size=echo 1M", "pread=exit 1", NULL };
    assert_int_equal(vmmk_source_new_nbdkit(&src, "eval", params, NULL), 0);
    vmmk__source_set_ready_timeout(src, 0.5);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_error(vmmk_source_start(src, NULL), VMMK_ETIMEOUT, "nbdkit (eval) was not ready after 0.5 s");
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_true(t1.tv_sec - t0.tv_sec < 10);
    assert_int_equal(vmmk__source_pid(src), -1);
    vmmk_source_free(src);
}

typedef struct start_arg {
    vmmk_source *src;
    const char *uri;
    pid_t pid;
} start_arg;

static void *start_thread(void *p)
{
    start_arg *a = p;
    a->uri = vmmk__source_uri(a->src);
    a->pid = vmmk__source_pid(a->src);
    return NULL;
}

static void test_start_from_threads(void **state)
{
    (void)state;
    vmmk_source *src;
    const char *params[] = { "size=1M", NULL };
    assert_int_equal(vmmk_source_new_nbdkit(&src, "pattern", params, NULL), 0);
    /* Several copy threads race for the first start: one nbdkit. */
    start_arg a[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (start_arg){ src, NULL, -1 };
        assert_int_equal(pthread_create(&t[i], NULL, start_thread, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_join(t[i], NULL), 0);
    for (int i = 0; i < 4; i++) {
        assert_non_null(a[i].uri);
        assert_ptr_equal(a[i].uri, a[0].uri);
        assert_int_equal(a[i].pid, a[0].pid);
    }
    /* The starting thread is gone; --exit-with-parent must not have
     * taken nbdkit with it. */
    usleep(300000);
    assert_int_equal(vmmk__source_alive(src, NULL), 1);
    int64_t size;
    uint8_t *buf = read_source(src, &size);
    assert_int_equal(size, 1024 * 1024);
    free(buf);
    vmmk_source_free(src);
    assert_true(pid_gone(a[0].pid));
}

static void test_no_secrets_in_cmdline(void **state)
{
    (void)state;
    /* nbdkit's curl plugin (1.32) connects per client, so it starts
     * without a reachable server. */
    vmmk_http_options o = VMMK_HTTP_OPTIONS_INIT;
    o.url = "http://127.0.0.1:9/x";
    o.cookie = COOKIE;
    o.retry = false;
    vmmk_log_set_callback(capture_log, NULL);
    vmmk_source *src;
    assert_int_equal(vmmk_source_new_http(&src, &o), 0);
    vmmk_log_set_callback(NULL, NULL);
    assert_non_null(strstr(log_seen, "unencrypted"));
    char *cookie_file = vmmk__asprintf("%s/cookie", vmmk__source_dir(src));
    assert_true(exists(cookie_file));
    assert_int_equal(vmmk_source_start(src, NULL), 0);
    pid_t pid = vmmk__source_pid(src);
    char *cmd = proc_cmdline(pid);
    assert_null(strstr(cmd, COOKIE_VALUE));
    assert_non_null(strstr(cmd, "cookie=+"));
    free(cmd);
    /* nbdkit read it while configuring: it is gone from the disk now. */
    assert_false(exists(cookie_file));
    /* The unreachable server: a clear connect error. */
    struct nbd_handle *h = nbd_create();
    assert_error(vmmk__source_connect(src, h), VMMK_ENETWORK, "source nbdkit (curl): cannot connect: ");
    assert_non_null(strstr(vmmk_error_last()->message, "127.0.0.1"));
    assert_null(strstr(vmmk_error_last()->message, COOKIE_VALUE));
    nbd_close(h);
    char *log;
    assert_int_equal(vmmk_source_log(&log, src), 0);
    assert_null(strstr(log, COOKIE_VALUE));
    vmmk_string_free(log);
    vmmk_source_free(src);
    free(cookie_file);

    /* The vddk password, through a stand-in for nbdkit (no VDDK here). */
    if (access("/usr/bin/python3", X_OK) != 0) {
        print_message("skipped the vddk half: /usr/bin/python3 is missing\n");
        return;
    }
    char *libdir = tmpdir();
    vmmk_vddk_options v = VMMK_VDDK_OPTIONS_INIT;
    v.server = "esx1";
    v.user = "root";
    v.password = PASSWORD;
    v.thumbprint = THUMB;
    v.vm_moref = "vm-1";
    v.file = "[ds] a/a.vmdk";
    v.libdir = libdir;
    setenv("VMMK_NBDKIT", VMMK_SOURCE_DIR "/tests/copier/fake_nbdkit.py", 1);
    assert_int_equal(vmmk_source_new_vddk(&src, &v), 0);
    int rc = vmmk_source_start(src, NULL);
    unsetenv("VMMK_NBDKIT");
    if (rc)
        fail_msg("fake nbdkit: %s", vmmk_error_last()->message);
    cmd = proc_cmdline(vmmk__source_pid(src));
    assert_null(strstr(cmd, PASSWORD));
    assert_non_null(strstr(cmd, " vddk server=esx1 user=root password=+"));
    free(cmd);
    vmmk_source_free(src);
    vmmk__remove_private_dir(libdir);
    free(libdir);
}

/* ---- end to end: nbdkit curl against an HTTPS server --------------------- */

typedef struct https_env {
    char *dir, *cert, *disk, *log;
    pid_t server;
    int port;
    uint8_t *data;
    size_t len;
} https_env;

static bool run_wait(char *const *argv, const char *log)
{
    pid_t pid;
    int st;
    if (vmmk__spawn(&pid, argv, log) != 0)
        return false;
    return vmmk__wait_pid(pid, 120, &st) == 1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* "PORT <n>" from the server's log, or 0. */
static int port_in_log(const char *log)
{
    char *text = NULL;
    if (vmmk__read_file(&text, NULL, log) != 0)
        return 0;
    char *p = strstr(text, "PORT ");
    int port = p ? atoi(p + 5) : 0;
    free(text);
    return port;
}

static void https_up(https_env *e)
{
    memset(e, 0, sizeof *e);
    if (access("/usr/bin/python3", X_OK) != 0 || !have_program("openssl")) {
        print_message("skipped: the HTTPS test needs /usr/bin/python3 and openssl\n");
        skip();
    }
    e->dir = tmpdir();
    e->cert = vmmk__asprintf("%s/cert.pem", e->dir);
    char *key = vmmk__asprintf("%s/key.pem", e->dir);
    char *olog = vmmk__asprintf("%s/openssl.log", e->dir);
    char *const openssl[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                              "-keyout", key, "-out", e->cert, "-days", "1",
                              "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                              NULL };
    if (!run_wait(openssl, olog))
        fail_msg("openssl req failed: %s", slurp(olog));
    free(olog);
    e->len = 3 * 1024 * 1024 + 1234;    /* not a multiple of any block size */
    e->data = malloc(e->len);
    fill(e->data, e->len, 7);
    e->disk = vmmk__asprintf("%s/disk-flat.vmdk", e->dir);
    write_file(e->disk, e->data, e->len);
    char *cookie_file = vmmk__asprintf("%s/cookie", e->dir);
    write_file(cookie_file, COOKIE, strlen(COOKIE));
    e->log = vmmk__asprintf("%s/server.log", e->dir);
    char *const server[] = { "/usr/bin/python3", VMMK_SOURCE_DIR "/tests/copier/https_server.py",
                             "--file", e->disk, "--cert", e->cert, "--key", key,
                             "--cookie-file", cookie_file, NULL };
    assert_int_equal(vmmk__spawn(&e->server, server, e->log), 0);
    for (int i = 0; i < 400 && !e->port; i++) {
        e->port = port_in_log(e->log);
        if (!e->port) {
            int st;
            if (vmmk__wait_pid(e->server, 0.05, &st) == 1)
                fail_msg("https_server.py exited: %s", slurp(e->log));
        }
    }
    if (!e->port)
        fail_msg("https_server.py printed no port: %s", slurp(e->log));
    free(key);
    free(cookie_file);
}

static void https_down(https_env *e)
{
    vmmk__stop_pid(e->server, 5);
    vmmk__remove_private_dir(e->dir);
    free(e->dir);
    free(e->cert);
    free(e->disk);
    free(e->log);
    free(e->data);
}

static void test_https_e2e(void **state)
{
    (void)state;
    https_env e;
    https_up(&e);
    char *url = vmmk__asprintf("https://127.0.0.1:%d/folder/disk-flat.vmdk?dcPath=dc1&dsName=ds1", e.port);

    /* Cookie and the test CA: every byte arrives. */
    vmmk_http_options o = VMMK_HTTP_OPTIONS_INIT;
    o.url = url;
    o.cookie = COOKIE;
    o.cacert = e.cert;
    o.timeout = 30;
    vmmk_source *src;
    assert_int_equal(vmmk_source_new_http(&src, &o), 0);
    int64_t size;
    uint8_t *got = read_source(src, &size);
    assert_int_equal(size, (int64_t)e.len);
    assert_memory_equal(got, e.data, e.len);
    free(got);
    char *cmd = proc_cmdline(vmmk__source_pid(src));
    assert_null(strstr(cmd, COOKIE_VALUE));
    free(cmd);
    vmmk_source_free(src);

    /* No cookie: the server says 403, and the error says so. */
    o.cookie = NULL;
    o.retry = false;
    assert_int_equal(vmmk_source_new_http(&src, &o), 0);
    struct nbd_handle *h = nbd_create();
    assert_error(vmmk__source_connect(src, h), VMMK_EAUTH, "source nbdkit (curl): cannot connect: ");
    assert_non_null(strstr(vmmk_error_last()->message, "returned error: 403 (libnbd: "));
    assert_int_equal(vmmk_error_last()->http_status, 403);
    nbd_close(h);
    vmmk_source_free(src);

    /* Verification is on: without the test CA the server is not trusted. */
    o.cookie = COOKIE;
    o.cacert = NULL;
    assert_int_equal(vmmk_source_new_http(&src, &o), 0);
    h = nbd_create();
    assert_error(vmmk__source_connect(src, h), VMMK_ETLS, "source nbdkit (curl): cannot connect: ");
    assert_non_null(strstr(vmmk_error_last()->message, "certificate"));
    nbd_close(h);
    vmmk_source_free(src);

    /* ... unless the caller says insecure (loudly). */
    o.insecure = true;
    vmmk_log_set_callback(capture_log, NULL);
    assert_int_equal(vmmk_source_new_http(&src, &o), 0);
    vmmk_log_set_callback(NULL, NULL);
    assert_non_null(strstr(log_seen, "TLS certificate verification is OFF"));
    got = read_source(src, &size);
    assert_int_equal(size, (int64_t)e.len);
    assert_memory_equal(got, e.data, e.len);
    free(got);
    vmmk_source_free(src);

    /* The server never logged the cookie either. */
    char *slog = slurp(e.log);
    assert_null(strstr(slog, COOKIE_VALUE));
    assert_non_null(strstr(slog, "\"GET /folder/disk-flat.vmdk"));
    free(slog);
    free(url);
    https_down(&e);
}

int main(void)
{
    /* Children are reaped by waitpid; an inherited SIG_IGN would auto-reap. */
    signal(SIGCHLD, SIG_DFL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_spawn_true_false, setup),
        cmocka_unit_test_setup(test_spawn_missing, setup),
        cmocka_unit_test_setup(test_spawn_log_and_fds, setup),
        cmocka_unit_test_setup(test_spawn_wait_and_stop, setup),
        cmocka_unit_test_setup(test_spawn_stop_escalates, setup),
        cmocka_unit_test_setup(test_private_dir_and_secret, setup),
        cmocka_unit_test_setup(test_vddk_argv, setup),
        cmocka_unit_test_setup(test_vddk_defaults, setup),
        cmocka_unit_test_setup(test_vddk_errors, setup),
        cmocka_unit_test_setup(test_http_argv, setup),
        cmocka_unit_test_setup(test_http_errors, setup),
        cmocka_unit_test_setup(test_file_argv, setup),
        cmocka_unit_test_setup(test_nbdkit_argv, setup),
        cmocka_unit_test_setup(test_uri_source, setup),
        cmocka_unit_test_setup(test_pattern_real, setup),
        cmocka_unit_test_setup(test_free_stops, setup),
        cmocka_unit_test_setup(test_file_real, setup),
        cmocka_unit_test_setup(test_start_failure, setup),
        cmocka_unit_test_setup(test_start_failure_vddk_plugin, setup),
        cmocka_unit_test_setup(test_ready_timeout, setup),
        cmocka_unit_test_setup(test_start_from_threads, setup),
        cmocka_unit_test_setup(test_no_secrets_in_cmdline, setup),
        cmocka_unit_test_setup(test_https_e2e, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
