/* Shared by the OpenStack integration tests (test_cloud_*.c): they run
 * against the real OpenStack sandbox of tests/openstack/ostack.sh, whose
 * `start` writes an env file exporting VMMK_OS_CLOUDS (the clouds.yaml
 * path).  Without it the tests skip with the reason; with
 * VMMK_REQUIRE_OPENSTACK=1 (set by scripts/test) a missing sandbox fails
 * them instead. */
#ifndef VMMK_TEST_CLOUD_FIXTURE_H
#define VMMK_TEST_CLOUD_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <vmmk/vmmk.h>

/* The clouds.yaml of the sandbox, or NULL after skipping/failing the test. */
static inline const char *cloud_fixture_file(void)
{
    const char *f = getenv("VMMK_OS_CLOUDS");
    if (f && *f && access(f, R_OK) == 0) {
        /* The sandbox keeps passwords in a secure.yaml beside clouds.yaml;
         * like the openstack client, the loader finds it through
         * OS_CLIENT_SECURE_FILE when it is not in a standard place. */
        const char *sec = getenv("VMMK_OS_SECURE");
        if (sec && *sec && !getenv("OS_CLIENT_SECURE_FILE"))
            setenv("OS_CLIENT_SECURE_FILE", sec, 1);
        return f;
    }
    const char *req = getenv("VMMK_REQUIRE_OPENSTACK");
    if (req && strcmp(req, "1") == 0) {
        fail_msg("VMMK_REQUIRE_OPENSTACK=1 but VMMK_OS_CLOUDS (%s) is not a readable clouds.yaml: "
                 "run tests/openstack/ostack.sh start and source its env file",
                 f ? f : "unset");
    }
    fprintf(stderr, "skipped: no OpenStack sandbox (run tests/openstack/ostack.sh start and "
                    "source its env file)\n");
    skip();
    return NULL;
}

/* Open cloud @p name ("vmmk-admin", "vmmk-demo", ...) of the sandbox;
 * fails the test with vmmk's error when that does not work. */
static inline vmmk_cloud *cloud_fixture_open(const char *name)
{
    const char *file = cloud_fixture_file();
    vmmk_cloud_options o = VMMK_CLOUD_OPTIONS_INIT;
    o.cloud = name;
    o.clouds_file = file;
    o.timeout = 120;
    vmmk_cloud *c = NULL;
    int rc = vmmk_cloud_open(&c, &o);
    if (rc)
        fail_msg("vmmk_cloud_open(%s): %d %s", name, rc, vmmk_error_last()->message);
    return c;
}

/* A name unique to this process and call, for resources a test creates:
 * "vmmk-t<pid>-<tag>-<n>".  Static buffer rotated over 8 slots. */
static inline const char *cloud_fixture_name(const char *tag)
{
    static char bufs[8][96];
    static unsigned n;
    char *b = bufs[n % 8];
    snprintf(b, sizeof bufs[0], "vmmk-t%ld-%s-%u", (long)getpid(), tag, n);
    n++;
    return b;
}

/* Assert that rc is 0, printing vmmk's last error otherwise. */
#define CLOUD_OK(expr)                                                                     \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        if (rc_ != 0)                                                                      \
            fail_msg("%s -> %d: %s", #expr, rc_, vmmk_error_last()->message);              \
    } while (0)

#endif
