/* vSphere session against VMware's vcsim (tests/vsphere/vcsim.sh): trust,
 * login, faults, transparent re-login. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmmk/vmmk.h>
#include "vsphere/session.h"
#include "process_fixture.h"

typedef struct peer {
    char state[64];
    char url[256];
    char sha1[128];
    bool up;
} peer;

static peer P;

/* Run tests/vsphere/vcsim.sh with @p arg (argv, no shell); stdout into buf. */
static int vcsim_sh(const char *arg, char *buf, size_t size)
{
    int fds[2];
    if (pipe(fds))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("VMMK_VCSIM_STATE", P.state, 1);
        execl("/bin/bash", "bash", VMMK_SOURCE_DIR "/tests/vsphere/vcsim.sh", arg, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0;
    ssize_t r;
    while (buf && n + 1 < size && (r = read(fds[0], buf + n, size - n - 1)) > 0)
        n += (size_t)r;
    if (buf)
        buf[n] = '\0';
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int group_setup(void **state)
{
    (void)state;
    strcpy(P.state, "/tmp/vmmk-test-vcsim-XXXXXX");
    if (!mkdtemp(P.state))
        return -1;
    char out[512];
    if (vcsim_sh("start", out, sizeof out) != 0) {
        fprintf(stderr, "vcsim could not be started (run tests/vsphere/vcsim.sh build): %s\n", out);
        return 0;   /* each test skips */
    }
    /* "PID URL" */
    char *sp = strchr(out, ' ');
    if (!sp)
        return -1;
    snprintf(P.url, sizeof P.url, "%s", sp + 1);
    P.url[strcspn(P.url, "\n")] = '\0';
    P.up = true;
    char *tp = NULL;
    if (vmmk_vsphere_thumbprint(&tp, P.url, false))
        return -1;
    snprintf(P.sha1, sizeof P.sha1, "%s", tp);
    vmmk_string_free(tp);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (P.up)
        vcsim_sh("stop", NULL, 0);
    (void)remove_tree(P.state);
    return 0;
}

#define NEED_PEER()                                                                                \
    do {                                                                                           \
        if (!P.up)                                                                                 \
            skip();                                                                                \
    } while (0)

static vmmk_vsphere_options opts(void)
{
    vmmk_vsphere_options o = VMMK_VSPHERE_OPTIONS_INIT;
    o.server = P.url;
    o.user = "user";
    o.password = "pass";
    o.thumbprint = P.sha1;
    o.timeout = 30;
    return o;
}

static void test_thumbprint(void **state)
{
    (void)state;
    NEED_PEER();
    assert_int_equal(strlen(P.sha1), 59);           /* 20 bytes as AA:BB:... */
    char *t256 = NULL;
    assert_int_equal(vmmk_vsphere_thumbprint(&t256, P.url, true), 0);
    assert_int_equal(strlen(t256), 95);             /* 32 bytes */
    vmmk_string_free(t256);
}

static void test_login_pinned_and_about(void **state)
{
    (void)state;
    NEED_PEER();
    vmmk_vsphere_options o = opts();
    vmmk_vsphere *vs = NULL;
    int rc = vmmk_vsphere_connect(&vs, &o);
    if (rc)
        print_error("%s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    vmmk_vsphere_about_info *a = NULL;
    assert_int_equal(vmmk_vsphere_about(&a, vs), 0);
    assert_string_equal(a->api_type, "VirtualCenter");
    assert_non_null(a->api_version);
    vmmk_vsphere_about_info_free(a);
    /* SHA-256 pins work too. */
    vmmk_vsphere_free(vs);
    char *t256 = NULL;
    assert_int_equal(vmmk_vsphere_thumbprint(&t256, P.url, true), 0);
    o.thumbprint = t256;
    assert_int_equal(vmmk_vsphere_connect(&vs, &o), 0);
    vmmk_vsphere_free(vs);
    vmmk_string_free(t256);
}

static void test_wrong_password(void **state)
{
    (void)state;
    NEED_PEER();
    vmmk_vsphere_options o = opts();
    o.password = "not-the-password-42";
    vmmk_vsphere *vs = (vmmk_vsphere *)1;
    assert_int_equal(vmmk_vsphere_connect(&vs, &o), VMMK_EAUTH);
    assert_null(vs);
    const vmmk_error *e = vmmk_error_last();
    assert_string_equal(e->fault, "InvalidLogin");
    assert_non_null(strstr(e->message, "Login: InvalidLogin: Login failure"));
    assert_non_null(strstr(e->message, "user user"));
    assert_null(strstr(e->message, "not-the-password-42"));
}

static void test_wrong_thumbprint_and_unpinned(void **state)
{
    (void)state;
    NEED_PEER();
    vmmk_vsphere_options o = opts();
    o.thumbprint = "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33";
    vmmk_vsphere *vs = NULL;
    assert_int_equal(vmmk_vsphere_connect(&vs, &o), VMMK_ETLS);
    assert_non_null(strstr(vmmk_error_last()->message, "thumbprint mismatch"));
    /* Self-signed and not pinned: refused by default. */
    o.thumbprint = NULL;
    assert_int_equal(vmmk_vsphere_connect(&vs, &o), VMMK_ETLS);
    assert_non_null(strstr(vmmk_error_last()->message, "not trusted"));
    /* Only when asked. */
    o.insecure = true;
    assert_int_equal(vmmk_vsphere_connect(&vs, &o), 0);
    vmmk_vsphere_free(vs);
}

static void test_relogin_after_logout_behind_our_back(void **state)
{
    (void)state;
    NEED_PEER();
    vmmk_vsphere_options o = opts();
    vmmk_vsphere *vs = NULL;
    assert_int_equal(vmmk_vsphere_connect(&vs, &o), 0);
    char *name = NULL;
    assert_int_equal(vmmk__vs_get_string(&name, vs, "Folder", vs->root_folder, "name"), 0);
    assert_string_equal(name, "Datacenters");
    vmmk_string_free(name);
    assert_int_equal(vmmk__vs_logout_server_only(vs), 0);
    assert_int_equal(vmmk__vs_get_string(&name, vs, "Folder", vs->root_folder, "name"), 0);
    assert_string_equal(name, "Datacenters");
    assert_int_equal(vs->relogins, 1);
    vmmk_string_free(name);
    vmmk_vsphere_free(vs);
}

static void test_unknown_object(void **state)
{
    (void)state;
    NEED_PEER();
    vmmk_vsphere_options o = opts();
    vmmk_vsphere *vs = NULL;
    assert_int_equal(vmmk_vsphere_connect(&vs, &o), 0);
    char *name = NULL;
    assert_int_equal(vmmk__vs_get_string(&name, vs, "VirtualMachine", "vm-99999", "name"), VMMK_ENOTFOUND);
    assert_string_equal(vmmk_error_last()->fault, "ManagedObjectNotFound");
    vmmk_vsphere_free(vs);
}

static void test_bad_server_strings(void **state)
{
    (void)state;
    static const char *const bad[] = { "", "ftp://h", "https://u:p@h", "h/path", "h:99999", "::1", "h o" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        vmmk_vsphere_options o = VMMK_VSPHERE_OPTIONS_INIT;
        o.server = bad[i];
        o.user = "u";
        o.password = "p";
        vmmk_vsphere *vs = NULL;
        assert_int_equal(vmmk_vsphere_connect(&vs, &o), VMMK_EINVAL);
    }
    vmmk_vsphere_options o = VMMK_VSPHERE_OPTIONS_INIT;
    o.server = "127.0.0.1:1";
    o.user = "u";
    o.password = "p";
    o.insecure = true;
    o.timeout = 5;
    vmmk_vsphere *vs = NULL;
    assert_int_equal(vmmk_vsphere_connect(&vs, &o), VMMK_ENETWORK);
    assert_non_null(strstr(vmmk_error_last()->message, "127.0.0.1:1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thumbprint),
        cmocka_unit_test(test_login_pinned_and_about),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_wrong_thumbprint_and_unpinned),
        cmocka_unit_test(test_relogin_after_logout_behind_our_back),
        cmocka_unit_test(test_unknown_object),
        cmocka_unit_test(test_bad_server_strings),
    };
    return cmocka_run_group_tests_name("vsphere_session", tests, group_setup, group_teardown);
}
