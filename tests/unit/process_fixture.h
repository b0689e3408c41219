/* Helpers shared by the tests that run real programs (openssl, test
 * servers) or make scratch directories: included after cmocka.h. */
#ifndef VMMK_TEST_PROCESS_FIXTURE_H
#define VMMK_TEST_PROCESS_FIXTURE_H

#include <ftw.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "common/http.h"
#include "common/internal.h"
#include "common/spawn.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Skip the running test with @p reason when there is one (a peer the
 * group setup could not start). */
static inline void skip_if(const char *reason)
{
    if (reason) {
        print_message("skipped: %s\n", reason);
        skip();
    }
}

static int remove_tree_failures;

static inline int remove_tree_entry(const char *path, const struct stat *st, int flag,
                                    struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    if (remove(path) != 0)
        remove_tree_failures++;
    return 0;   /* keep walking past what cannot go */
}

/* Remove @p dir and everything below it, links not followed; 0 when
 * everything went, -1 when something stayed. */
static inline int remove_tree(const char *dir)
{
    remove_tree_failures = 0;
    if (nftw(dir, remove_tree_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return -1;
    return remove_tree_failures ? -1 : 0;
}

/* Whether @p name is an executable somewhere on PATH (tests skip without it). */
static inline bool have_program(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *p = vmmk__asprintf("%s/%s", dir, name);
        found = p && access(p, X_OK) == 0;
        free(p);
    }
    free(copy);
    return found;
}

/* A whole file as a new string (the test fails when it cannot be read).
 * Not inlined: once inlined, gcc 12 mistakes the returned buffer for the
 * address of the local `text` (-Wdangling-pointer false positive). */
__attribute__((noinline, unused)) static char *slurp(const char *path)
{
    char *text = NULL;
    assert_int_equal(vmmk__read_file(&text, NULL, path), 0);
    return text;
}

/* Run argv to completion (no shell), logging into @p dir/run.log; its
 * stdout+stderr as a new string.  The test fails when it exits non-zero. */
static inline char *run_in(const char *dir, char *const *argv)
{
    char *log = vmmk__asprintf("%s/run.log", dir);
    unlink(log);
    pid_t pid;
    int st = 0;
    assert_int_equal(vmmk__spawn(&pid, argv, log), 0);
    assert_int_equal(vmmk__wait_pid(pid, 120, &st), 1);
    char *out = slurp(log);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s failed: %s", argv[0], out);
    free(log);
    return out;
}

/* `openssl x509 -noout -fingerprint -<md> -in cert` ("... Fingerprint=AA:BB:...")
 * into out (VMMK__THUMBPRINT_MAX bytes). */
static inline void fingerprint_in(const char *dir, char *out, const char *cert, const char *md)
{
    char *const argv[] = { "openssl", "x509", "-noout", "-fingerprint", (char *)md,
                           "-in", (char *)cert, NULL };
    char *text = run_in(dir, argv);
    const char *eq = strstr(text, "Fingerprint=");
    assert_non_null(eq);
    eq += strlen("Fingerprint=");
    size_t n = strcspn(eq, "\r\n");
    assert_true(n < VMMK__THUMBPRINT_MAX);
    memcpy(out, eq, n);
    out[n] = '\0';
    free(text);
}

/* A proxy from the environment would take 127.0.0.1 elsewhere: unset them. */
static inline void unset_proxies(void)
{
    static const char *const proxies[] = { "http_proxy", "https_proxy", "HTTP_PROXY",
                                           "HTTPS_PROXY", "all_proxy", "ALL_PROXY" };
    for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++)
        unsetenv(proxies[i]);
}

/* Start a test server: argv logging into @p log, then @p ready(log) every
 * 50 ms (20 s at most) until it says the server is up (it reads the PORT /
 * READY lines the server prints).  The test fails, showing the log, when
 * the server exits first or never gets ready (*pid stays set then: stop it). */
static inline void start_server(pid_t *pid, char *const *argv, const char *log,
                                bool (*ready)(const char *log))
{
    const char *name = argv[1] ? strrchr(argv[1], '/') : NULL;
    name = name ? name + 1 : argv[0];
    assert_int_equal(vmmk__spawn(pid, argv, log), 0);
    for (int i = 0; i < 400; i++) {
        if (ready(log))
            return;
        int st;
        if (vmmk__wait_pid(*pid, 0.05, &st) == 1) {
            *pid = 0;
            fail_msg("%s exited: %s", name, slurp(log));
        }
    }
    fail_msg("%s did not get ready: %s", name, slurp(log));
}

/* Stop the server (when started) and remove the test's private dir. */
static inline void stop_server(pid_t pid, char *dir)
{
    if (pid)
        vmmk__stop_pid(pid, 5);
    if (dir)
        vmmk__remove_private_dir(dir);
    free(dir);
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline bool under_valgrind(void)
{
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload");
}

/* AddressSanitizer's allocator (quarantine, no mremap) changes what the
 * peak RSS means: measured only in plain builds. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

static inline bool rss_meaningful(void)
{
    return !UNDER_ASAN && !under_valgrind();
}

/* Slack on top of a timeout: what the machine (or valgrind) may add. */
static inline double slack(void)
{
    return under_valgrind() ? 30.0 : 5.0;
}

/* A /proc/self/status field in KiB, or -1. */
static inline long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':')
            v = strtol(line + fl + 1, NULL, 10);
    fclose(f);
    return v;
}

/* Reset the peak RSS (VmHWM) to the current RSS; false when the kernel
 * does not let us (then the peak cannot be measured for one call). */
static inline bool reset_peak_rss(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f)
        return false;
    bool ok = fputs("5", f) >= 0;
    ok = fclose(f) == 0 && ok;
    return ok;
}

/* The peak RSS growth over one call: rss_begin(max) before it (off when
 * max is 0 or the peak cannot be measured), rss_check() with the VmHWM
 * read right after it: prints the growth, fails above max MiB. */
typedef struct rss_probe {
    bool on;
    long rss0;
} rss_probe;

static inline rss_probe rss_begin(long max_mib)
{
    rss_probe p = { max_mib && rss_meaningful() && reset_peak_rss(), 0 };
    p.rss0 = status_kib("VmRSS");
    return p;
}

static inline void rss_check(rss_probe p, long hwm, const char *mode, long max_mib)
{
    if (!p.on || p.rss0 <= 0 || hwm <= 0)
        return;
    long grew = (hwm - p.rss0) / 1024;
    print_message("  %-16s peak RSS grew by %ld MiB during the call\n", mode, grew);
    if (grew > max_mib)
        fail_msg("%s: peak RSS grew by %ld MiB (at most %ld MiB expected)", mode, grew, max_mib);
}

#endif
