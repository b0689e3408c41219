/* vmmk_vsphere_connect() against a hostile server: tests/unit/hostile_vsphere_server.py,
 * started here with a self-signed certificate made by the openssl CLI and
 * pinned by its thumbprint.  The server listens on one port per mode;
 * each mode spoils one call (RetrieveServiceContent, Login or Logout)
 * with a malformed, truncated, empty, oversized, never-ending or
 * booby-trapped reply, or none at all.
 *
 * Every case must end in a clear error, in bounded time, without a crash:
 * the expected code; a message that names the server (host:port) and the
 * call, is shorter than 4 KiB and has no control characters; no password
 * and no content of /etc/passwd in the message or the detail; the call
 * returns within its timeout (plus slack).  Oversized replies must be
 * refused by the size bound, not held whole (peak RSS is checked where
 * the kernel lets us reset it, and not under valgrind or ASan).  Skips
 * with the reason when openssl or /usr/bin/python3 is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmmk/vmmk.h>
#include "common/http.h"
#include "common/internal.h"
#include "common/spawn.h"
#include "process_fixture.h"

#define PYTHON "/usr/bin/python3"
#define USER "hostile-user"
#define PASSWORD "Hostile-Pa55word-xyzzy"
#define TIMEOUT 3                 /* seconds per call, as the brief asks */
#define MSG_MAX 4096              /* "reasonably short" */

/* ---- the environment: certificate and server ------------------------------ */

#define MAX_MODES 64

static struct {
    const char *skip_reason;
    char *dir, *cert, *key, *log;
    char sha1[VMMK__THUMBPRINT_MAX], sha256[VMMK__THUMBPRINT_MAX];
    pid_t server;
    struct {
        char mode[32];
        int port;
    } ports[MAX_MODES];
    size_t n_ports;
    char passwd_line[512];        /* the first line of /etc/passwd: must never show */
} env;

/* "PORT <mode> <port>" lines; true once "READY" was printed. */
static bool read_ports(const char *log)
{
    char *text = NULL;
    if (vmmk__read_file(&text, NULL, log) != 0)
        return false;
    bool ready = strstr(text, "\nREADY") != NULL || strncmp(text, "READY", 5) == 0;
    if (ready) {
        env.n_ports = 0;
        for (char *p = strstr(text, "PORT "); p && env.n_ports < MAX_MODES;
             p = strstr(p + 1, "PORT ")) {
            char mode[32];
            int port;
            if (sscanf(p, "PORT %31s %d", mode, &port) == 2) {
                snprintf(env.ports[env.n_ports].mode, sizeof env.ports[0].mode, "%s", mode);
                env.ports[env.n_ports++].port = port;
            }
        }
    }
    free(text);
    return ready;
}

static int port_of(const char *mode)
{
    for (size_t i = 0; i < env.n_ports; i++)
        if (strcmp(env.ports[i].mode, mode) == 0)
            return env.ports[i].port;
    fail_msg("the server has no mode %s", mode);
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    unset_proxies();
    if (!have_program("openssl")) {
        env.skip_reason = "the openssl command is not installed";
        return 0;
    }
    if (access(PYTHON, X_OK) != 0) {
        env.skip_reason = PYTHON " is not installed";
        return 0;
    }
    FILE *f = fopen("/etc/passwd", "r");
    if (f) {
        if (!fgets(env.passwd_line, sizeof env.passwd_line, f))
            env.passwd_line[0] = '\0';
        env.passwd_line[strcspn(env.passwd_line, "\r\n")] = '\0';
        fclose(f);
    }
    assert_int_equal(vmmk__private_dir(&env.dir, "vmmk-hostile-test"), 0);
    env.cert = vmmk__asprintf("%s/server.pem", env.dir);
    env.key = vmmk__asprintf("%s/server.key", env.dir);
    char *const req[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                          "-keyout", env.key, "-out", env.cert, "-days", "2",
                          "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                          NULL };
    free(run_in(env.dir, req));
    fingerprint_in(env.dir, env.sha1, env.cert, "-sha1");
    fingerprint_in(env.dir, env.sha256, env.cert, "-sha256");

    env.log = vmmk__asprintf("%s/server.log", env.dir);
    char *const argv[] = { PYTHON, VMMK_SOURCE_DIR "/tests/unit/hostile_vsphere_server.py",
                           "--cert", env.cert, "--key", env.key, NULL };
    start_server(&env.server, argv, env.log, read_ports);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    stop_server(env.server, env.dir);
    free(env.cert);
    free(env.key);
    free(env.log);
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static vmmk_vsphere_options opts(char *server, size_t size, const char *mode, unsigned timeout)
{
    snprintf(server, size, "https://127.0.0.1:%d", port_of(mode));
    vmmk_vsphere_options o = VMMK_VSPHERE_OPTIONS_INIT;
    o.server = server;
    o.user = USER;
    o.password = PASSWORD;
    o.thumbprint = env.sha1;
    o.timeout = timeout ? timeout : TIMEOUT;
    return o;
}

static void assert_clean_text(const char *what, const char *text, const char *mode)
{
    if (!text)
        return;
    if (strstr(text, PASSWORD))
        fail_msg("%s: the password shows in the %s: %s", mode, what, text);
    if (env.passwd_line[0] && strstr(text, env.passwd_line))
        fail_msg("%s: /etc/passwd content shows in the %s: %s", mode, what, text);
    if (strstr(text, "root:x:") || strstr(text, "/bin/bash") || strstr(text, "nologin"))
        fail_msg("%s: /etc/passwd-like content shows in the %s: %s", mode, what, text);
}

/* ---- the cases that must fail ------------------------------------------------ */

typedef struct expect {
    const char *mode;          /* the server's mode */
    int code;                  /* the error */
    const char *method;        /* the call the message must name */
    const char *part;          /* and some words it must contain */
    unsigned timeout;          /* 0 = TIMEOUT */
    long rss_max_mib;          /* peak RSS growth allowed during the call; 0 = unchecked */
    const char *detail_part;   /* in vmmk_error.detail, or NULL */
} expect;

static void test_refused(void **state)
{
    const expect *x = *state;
    skip_if(env.skip_reason);
    char url[64], server[64];
    vmmk_vsphere_options o = opts(url, sizeof url, x->mode, x->timeout);
    snprintf(server, sizeof server, "127.0.0.1:%d", port_of(x->mode));
    rss_probe peak = rss_begin(x->rss_max_mib);

    vmmk_vsphere *vs = (vmmk_vsphere *)&o;     /* must come back NULL */
    double t0 = now_s();
    int rc = vmmk_vsphere_connect(&vs, &o);
    double dt = now_s() - t0;
    long hwm = status_kib("VmHWM");

    const vmmk_error *e = vmmk_error_last();
    const char *msg = e->message;
    size_t ml = strlen(msg);
    print_message("  %-16s %6.2f s  rc=%d  [%zu bytes] %.300s%s\n", x->mode, dt, rc, ml, msg,
                  ml > 300 ? "..." : "");

    assert_null(vs);
    if (rc != x->code || e->code != x->code)
        fail_msg("%s: expected %s (%d), got %s (%d): %s", x->mode, vmmk_strerror(x->code),
                 x->code, vmmk_strerror(rc), rc, msg);
    if (!strstr(msg, server))
        fail_msg("%s: the message does not name the server %s: %s", x->mode, server, msg);
    if (!strstr(msg, x->method))
        fail_msg("%s: the message does not name %s: %s", x->mode, x->method, msg);
    if (x->part && !strstr(msg, x->part))
        fail_msg("%s: the message does not say '%s': %s", x->mode, x->part, msg);
    if (ml >= MSG_MAX)
        fail_msg("%s: message of %zu bytes", x->mode, ml);
    for (const char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            fail_msg("%s: control character 0x%02x at %zu in the message: %s", x->mode,
                     (unsigned char)*p, (size_t)(p - msg), msg);
    if (x->detail_part && (!e->detail || !strstr(e->detail, x->detail_part)))
        fail_msg("%s: the detail does not say '%s': %s", x->mode, x->detail_part,
                 e->detail ? e->detail : "(none)");
    if (e->detail && strlen(e->detail) > MSG_MAX + 8)
        fail_msg("%s: detail of %zu bytes", x->mode, strlen(e->detail));
    if (e->fault && strlen(e->fault) > 256)
        fail_msg("%s: fault type of %zu bytes", x->mode, strlen(e->fault));
    assert_clean_text("message", msg, x->mode);
    assert_clean_text("detail", e->detail, x->mode);
    assert_clean_text("fault", e->fault, x->mode);

    unsigned timeout = x->timeout ? x->timeout : TIMEOUT;
    if (dt > timeout + slack())
        fail_msg("%s: took %.1f s with a %u s timeout", x->mode, dt, timeout);
    if (x->code == VMMK_ETIMEOUT && dt < timeout - 0.5)
        fail_msg("%s: timed out after %.1f s, before the %u s timeout", x->mode, dt, timeout);
    rss_check(peak, hwm, x->mode, x->rss_max_mib);
}

#define SC "RetrieveServiceContent"
/* The response held in memory is at most 64 MiB (vmmk__http_options,
 * max_response default): 100 MiB must never be held whole.  The huge
 * cases get a long timeout so that the size bound, not the clock, stops
 * them (also under valgrind). */
#define HUGE_TIMEOUT 120
#define REFUSED(m, c, meth, p) \
    { "refused: " m, test_refused, NULL, NULL, &(expect){ m, c, meth, p, 0, 0, NULL } }
#define REFUSED_BIG(m, c, meth, p, rss) \
    { "refused: " m, test_refused, NULL, NULL, &(expect){ m, c, meth, p, HUGE_TIMEOUT, rss, NULL } }
#define REFUSED_DETAIL(m, c, meth, p, d) \
    { "refused: " m, test_refused, NULL, NULL, &(expect){ m, c, meth, p, 0, 0, d } }

/* ---- the cases that must succeed --------------------------------------------- */

static void test_control_ok(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    char url[64];
    const char *pins[] = { env.sha1, env.sha256 };
    for (size_t i = 0; i < 2; i++) {
        vmmk_vsphere_options o = opts(url, sizeof url, "ok", 0);
        o.thumbprint = pins[i];
        vmmk_vsphere *vs = NULL;
        int rc = vmmk_vsphere_connect(&vs, &o);
        if (rc)
            fail_msg("connect to the well-behaved mode failed: %s", vmmk_error_last()->message);
        vmmk_vsphere_about_info *a = NULL;
        assert_int_equal(vmmk_vsphere_about(&a, vs), 0);
        assert_string_equal(a->api_type, "VirtualCenter");
        assert_string_equal(a->api_version, "8.0.2.0");
        vmmk_vsphere_about_info_free(a);
        vmmk_vsphere_free(vs);
    }
}

/* XInclude is never processed: the file is not read, about.fullName is empty. */
static void test_xinclude_not_processed(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    char url[64];
    vmmk_vsphere_options o = opts(url, sizeof url, "xinclude", 0);
    vmmk_vsphere *vs = NULL;
    int rc = vmmk_vsphere_connect(&vs, &o);
    if (rc)
        fail_msg("xinclude: %s", vmmk_error_last()->message);
    vmmk_vsphere_about_info *a = NULL;
    assert_int_equal(vmmk_vsphere_about(&a, vs), 0);
    assert_non_null(a->full_name);
    assert_clean_text("about.fullName", a->full_name, "xinclude");
    assert_string_equal(a->full_name, "");
    vmmk_vsphere_about_info_free(a);
    vmmk_vsphere_free(vs);
}

/* A Logout that is never answered: vmmk_vsphere_free() still returns,
 * after the timeout. */
static void test_logout_never_answered(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    char url[64];
    vmmk_vsphere_options o = opts(url, sizeof url, "logout-silent", 0);
    vmmk_vsphere *vs = NULL;
    int rc = vmmk_vsphere_connect(&vs, &o);
    if (rc)
        fail_msg("logout-silent: %s", vmmk_error_last()->message);
    double t0 = now_s();
    vmmk_vsphere_free(vs);
    double dt = now_s() - t0;
    print_message("  %-16s vmmk_vsphere_free took %.2f s\n", "logout-silent", dt);
    assert_true(dt >= TIMEOUT - 0.5);
    assert_true(dt <= TIMEOUT + slack());
}

int main(void)
{
    /* Children are reaped by waitpid; an inherited SIG_IGN would auto-reap. */
    signal(SIGCHLD, SIG_DFL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_ok),
        /* Oversized: first, while the process is small. */
        REFUSED_BIG("huge", VMMK_EIO, SC, "response larger than 67108864 bytes", 64 + 32),
        REFUSED_BIG("huge-length", VMMK_EIO, SC, "response larger than 67108864 bytes", 16),
        REFUSED_BIG("gzip-bomb", VMMK_EPARSE, SC, "malformed XML response", 16),
        /* Malformed, truncated, empty, not SOAP. */
        REFUSED("malformed", VMMK_EPARSE, SC, "malformed XML response"),
        REFUSED("truncated", VMMK_EPARSE, SC, "malformed XML response"),
        REFUSED("truncated-body", VMMK_ENETWORK, SC, "POST https://127.0.0.1:"),
        REFUSED("empty-body", VMMK_EPARSE, SC, "empty soapenv:Body"),
        REFUSED("no-returnval", VMMK_EPARSE, SC, "no service content"),
        REFUSED("soap12", VMMK_EPARSE, SC, "not a SOAP envelope"),
        REFUSED("html-503", VMMK_EHTTP, SC, "HTTP status 503 without a SOAP response"),
        REFUSED("text-garbage", VMMK_EPARSE, SC, "malformed XML response"),
        REFUSED("bad-encoding", VMMK_EPARSE, SC, "malformed XML response"),
        REFUSED("redirect", VMMK_EHTTP, SC, "HTTP status 302"),
        /* Parser attacks. */
        REFUSED("billion-laughs", VMMK_EPARSE, SC, "document type declaration"),
        REFUSED("xxe", VMMK_EPARSE, SC, "document type declaration"),
        REFUSED("deep", VMMK_EPARSE, SC, "Excessive depth in document: 256"),
        REFUSED("many-attributes", VMMK_EPARSE, SC, "a start tag with more than 256 attributes"),
        REFUSED("many-namespaces", VMMK_EPARSE, SC, "more than 256 namespace declarations"),
        /* No reply, or one that never ends: every call has a timeout. */
        REFUSED("drip", VMMK_ETIMEOUT, SC, "no complete response within 3 s"),
        REFUSED("silent", VMMK_ETIMEOUT, SC, "no complete response within 3 s"),
        REFUSED("no-handshake", VMMK_ETIMEOUT, SC, "no complete response within 3 s"),
        REFUSED("header-flood", VMMK_ENETWORK, SC, "POST https://127.0.0.1:"),
        REFUSED("close", VMMK_ENETWORK, SC, "POST https://127.0.0.1:"),
        REFUSED("reset", VMMK_ENETWORK, SC, "POST https://127.0.0.1:"),
        /* Faults. */
        REFUSED("fault-escapes", VMMK_EAUTH, SC, "InvalidLogin: line one 2024-01-01"),
        REFUSED("fault-10mb", VMMK_EINVAL, SC, "InvalidRequest: overflow overflow"),
        REFUSED("fault-fields", VMMK_EREMOTE, SC, ": XXXXXXXX"),
        /* A ServiceContent that lacks what the session needs. */
        REFUSED("missing-pc", VMMK_EPARSE, SC, "lacks propertyCollector"),
        /* A good ServiceContent, then a bad Login. */
        REFUSED("login-garbage", VMMK_EPARSE, "Login", "malformed XML response"),
        /* The reply quotes the password first thing: the detail (the start
         * of the body) shows it masked. */
        REFUSED_DETAIL("login-echo", VMMK_EPARSE, "Login", "malformed XML response",
                       "password *** refused"),
        REFUSED("login-drip", VMMK_ETIMEOUT, "Login", "no complete response within 3 s"),
        REFUSED("login-nocookie", VMMK_EAUTH, "Login", "no session cookie"),
        cmocka_unit_test(test_xinclude_not_processed),
        cmocka_unit_test(test_logout_never_answered),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
