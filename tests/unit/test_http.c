/* The HTTP(S) client plumbing (common/http.c, common/tls.c) against a real
 * HTTPS server: tests/unit/http_test_server.py, started here with a
 * self-signed certificate made by the openssl CLI.  TLS verification by
 * CA, by pin and not at all; thumbprints compared with what
 * `openssl x509 -fingerprint` says; cookies that never reach logs or
 * errors; timeouts, refused connections, size limits, streaming, status
 * codes and redirects.  Skips with the reason when openssl or
 * /usr/bin/python3 is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmmk/vmmk.h>
#include "common/http.h"
#include "common/internal.h"
#include "common/spawn.h"
#include "process_fixture.h"

#define PYTHON "/usr/bin/python3"
#define COOKIE_NAME "vmware_soap_session"
#define COOKIE_RAW "abc-123"              /* what must never show */
#define COOKIE_VALUE "\"" COOKIE_RAW "\""

/* ---- the environment: certificates and the server ------------------------ */

static struct {
    const char *skip_reason;
    char *dir;
    char *cert1, *key1, *cert2, *key2;
    char sha1_1[VMMK__THUMBPRINT_MAX], sha256_1[VMMK__THUMBPRINT_MAX];
    char sha1_2[VMMK__THUMBPRINT_MAX], sha256_2[VMMK__THUMBPRINT_MAX];
    char *log;
    pid_t server;
    int port;
    char base[64];
} env;

static void make_cert(char **cert, char **key, const char *name)
{
    *cert = vmmk__asprintf("%s/%s.pem", env.dir, name);
    *key = vmmk__asprintf("%s/%s.key", env.dir, name);
    char *const argv[] = { "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                           "-keyout", *key, "-out", *cert, "-days", "2",
                           "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                           NULL };
    free(run_in(env.dir, argv));
}

/* True once the server printed "PORT <n>" (into env.port). */
static bool port_in_log(const char *log)
{
    char *text = NULL;
    if (vmmk__read_file(&text, NULL, log) != 0)
        return false;
    char *p = strstr(text, "PORT ");
    env.port = p ? atoi(p + 5) : 0;
    free(text);
    return env.port != 0;
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
    assert_int_equal(vmmk__private_dir(&env.dir, "vmmk-http-test"), 0);
    make_cert(&env.cert1, &env.key1, "server");
    make_cert(&env.cert2, &env.key2, "other");
    fingerprint_in(env.dir, env.sha1_1, env.cert1, "-sha1");
    fingerprint_in(env.dir, env.sha256_1, env.cert1, "-sha256");
    fingerprint_in(env.dir, env.sha1_2, env.cert2, "-sha1");
    fingerprint_in(env.dir, env.sha256_2, env.cert2, "-sha256");
    assert_string_not_equal(env.sha256_1, env.sha256_2);

    env.log = vmmk__asprintf("%s/server.log", env.dir);
    char *const argv[] = { PYTHON, VMMK_SOURCE_DIR "/tests/unit/http_test_server.py",
                           "--cert", env.cert1, "--key", env.key1, NULL };
    start_server(&env.server, argv, env.log, port_in_log);
    snprintf(env.base, sizeof env.base, "https://127.0.0.1:%d", env.port);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    stop_server(env.server, env.dir);
    free(env.cert1);
    free(env.key1);
    free(env.cert2);
    free(env.key2);
    free(env.log);
    return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static vmmk__buf logs;

static void capture_log(int level, const char *msg, void *payload)
{
    (void)payload;
    vmmk__buf_printf(&logs, "%s: %s\n", vmmk_log_level_name(level), msg);
}

static void capture_start(int level)
{
    vmmk__buf_free(&logs);
    vmmk__buf_puts(&logs, "");
    vmmk_log_set_level(level);
    vmmk_log_set_callback(capture_log, NULL);
}

static void capture_stop(void)
{
    vmmk_log_set_callback(NULL, NULL);
    vmmk_log_set_level(VMMK_LOG_WARN);
}

static vmmk__http *client(const vmmk__http_options *o)
{
    vmmk__http *h = NULL;
    int rc = vmmk__http_new(&h, o);
    if (rc)
        fail_msg("vmmk__http_new: %s", vmmk_error_last()->message);
    return h;
}

static vmmk__http_options opts(void)
{
    vmmk__http_options o = { 0 };
    o.base_url = env.base;
    o.cacert = env.cert1;
    o.timeout_s = 30;
    return o;
}

static long get(vmmk__http *h, const char *path, vmmk__http_response *r)
{
    int rc = vmmk__http_request(h, "GET", path, NULL, NULL, 0, r);
    if (rc)
        fail_msg("GET %s: %s", path, vmmk_error_last()->message);
    return r->status;
}

/* Assert the last error has @p code and its message contains @p part. */
static void assert_error(int rc, int code, const char *part)
{
    const vmmk_error *e = vmmk_error_last();
    if (rc != code || e->code != code || !strstr(e->message, part))
        fail_msg("expected %d with '%s', got %d: %s", code, part, rc, e->message);
}

static json_object *echo_doc(const vmmk__http_response *r)
{
    assert_int_equal(r->status, 200);
    json_object *doc = json_tokener_parse(r->body);
    assert_non_null(doc);
    return doc;
}

static const char *member(json_object *o, const char *name)
{
    json_object *v;
    assert_true(json_object_object_get_ex(o, name, &v));
    return json_object_get_string(v);
}

static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* A listener that never accepts: connections complete, nobody speaks. */
static int silent_listener(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static uint8_t pattern_byte(size_t i)
{
    return (uint8_t)(i % 251);
}

/* ---- TLS ------------------------------------------------------------------ */

static void test_pin_sha1_and_sha256(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_response r;
    const char *pins[] = { env.sha1_1, env.sha256_1, NULL, NULL };
    /* The same pins in lowercase without colons. */
    char low1[VMMK__THUMBPRINT_MAX], low256[VMMK__THUMBPRINT_MAX];
    size_t j = 0;
    for (const char *p = env.sha1_1; *p; p++)
        if (*p != ':')
            low1[j++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    low1[j] = '\0';
    j = 0;
    for (const char *p = env.sha256_1; *p; p++)
        if (*p != ':')
            low256[j++] = (char)(*p >= 'A' && *p <= 'F' ? *p - 'A' + 'a' : *p);
    low256[j] = '\0';
    pins[2] = low1;
    pins[3] = low256;
    for (size_t i = 0; i < 4; i++) {
        vmmk__http_options o = opts();
        o.cacert = NULL;          /* the pin alone, not the CA, makes it trusted */
        o.thumbprint = pins[i];
        vmmk__http *h = client(&o);
        assert_int_equal(get(h, "/echo", &r), 200);
        vmmk__http_response_clear(&r);
        vmmk__http_free(h);
    }
}

static void test_pin_mismatch(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_response r;
    struct { const char *pin, *presented; } cases[] = {
        { env.sha256_2, env.sha256_1 },
        { env.sha1_2, env.sha1_1 },
    };
    for (size_t i = 0; i < 2; i++) {
        vmmk__http_options o = opts();
        o.cacert = NULL;
        o.thumbprint = cases[i].pin;
        vmmk__http *h = client(&o);
        int rc = vmmk__http_request(h, "GET", "/echo?wrongpin", NULL, NULL, 0, &r);
        char *want = vmmk__asprintf("GET %s/echo?wrongpin: certificate thumbprint mismatch for "
                                    "127.0.0.1: expected %s, server presented %s",
                                    env.base, cases[i].pin, cases[i].presented);
        assert_int_equal(rc, VMMK_ETLS);
        assert_string_equal(vmmk_error_last()->message, want);
        assert_null(r.body);
        free(want);
        vmmk__http_free(h);
    }
    /* The handshake failed before the request was sent. */
    char *slog = slurp(env.log);
    assert_null(strstr(slog, "wrongpin"));
    free(slog);
}

static void test_self_signed_refused_by_default(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_options o = opts();
    o.cacert = NULL;              /* the system CAs */
    vmmk__http *h = client(&o);
    vmmk__http_response r;
    int rc = vmmk__http_request(h, "GET", "/echo", NULL, NULL, 0, &r);
    char *prefix = vmmk__asprintf("GET %s/echo: the TLS certificate of 127.0.0.1 is not trusted (",
                                  env.base);
    assert_error(rc, VMMK_ETLS, prefix);
    const char *msg = vmmk_error_last()->message;
    assert_non_null(strstr(msg, "pin it"));
    assert_non_null(strstr(msg, env.sha1_1));
    assert_non_null(strstr(msg, env.sha256_1));
    free(prefix);
    vmmk__http_free(h);
}

static void test_cacert(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_response r;
    vmmk__http_options o = opts();
    vmmk__http *h = client(&o);
    assert_int_equal(get(h, "/echo", &r), 200);
    vmmk__http_response_clear(&r);
    vmmk__http_free(h);

    /* Another CA does not vouch for this server. */
    o.cacert = env.cert2;
    h = client(&o);
    int rc = vmmk__http_request(h, "GET", "/echo", NULL, NULL, 0, &r);
    assert_error(rc, VMMK_ETLS, "is not trusted");
    vmmk__http_free(h);

    o.cacert = "/nonexistent/ca.pem";
    assert_error(vmmk__http_new(&h, &o), VMMK_ENOTFOUND, "CA file /nonexistent/ca.pem: ");
    assert_null(h);
}

static void test_insecure_logged(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_options o = opts();
    o.cacert = NULL;
    o.insecure = true;
    capture_start(VMMK_LOG_WARN);
    vmmk__http *h = client(&o);
    vmmk__http *h2 = client(&o);
    capture_stop();
    /* Loudly, and every time. */
    const char *first = strstr(logs.data, "warn: HTTP client for https://127.0.0.1:");
    assert_non_null(first);
    assert_non_null(strstr(first, "TLS certificate verification is OFF"));
    assert_non_null(strstr(first + 1, "TLS certificate verification is OFF"));
    vmmk__http_response r;
    assert_int_equal(get(h, "/echo", &r), 200);
    vmmk__http_response_clear(&r);
    vmmk__http_free(h);
    vmmk__http_free(h2);
}

static void test_thumbprint_function(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    char *t = NULL;
    assert_int_equal(vmmk__tls_thumbprint(&t, "127.0.0.1", env.port, false, 10), 0);
    assert_string_equal(t, env.sha1_1);
    free(t);
    assert_int_equal(vmmk__tls_thumbprint(&t, "127.0.0.1", env.port, true, 10), 0);
    assert_string_equal(t, env.sha256_1);
    free(t);
    /* By name (with SNI). */
    assert_int_equal(vmmk__tls_thumbprint(&t, "localhost", env.port, false, 10), 0);
    assert_string_equal(t, env.sha1_1);
    free(t);

    int port = closed_port();
    char *where = vmmk__asprintf("cannot get the TLS certificate of 127.0.0.1:%d: cannot connect: ",
                                 port);
    assert_error(vmmk__tls_thumbprint(&t, "127.0.0.1", port, false, 5), VMMK_ENETWORK, where);
    assert_null(t);
    free(where);

    int fd = silent_listener(&port);
    where = vmmk__asprintf("cannot get the TLS certificate of 127.0.0.1:%d: the TLS handshake did "
                           "not finish within 1 s",
                           port);
    assert_error(vmmk__tls_thumbprint(&t, "127.0.0.1", port, true, 1), VMMK_ETIMEOUT, where);
    free(where);
    close(fd);

    assert_error(vmmk__tls_thumbprint(&t, "127.0.0.1", 0, true, 1), VMMK_EINVAL, "invalid port");

    /* Parse and print round trip. */
    unsigned char md[32];
    size_t n = 0;
    char back[VMMK__THUMBPRINT_MAX];
    assert_int_equal(vmmk__tls_parse_thumbprint(md, &n, env.sha256_1), 0);
    assert_int_equal(n, 32);
    vmmk__tls_format_digest(back, md, n);
    assert_string_equal(back, env.sha256_1);
}

/* ---- cookies and secrets --------------------------------------------------- */

static void test_cookies(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    char *red = NULL;
    assert_int_equal(vmmk_redact(&red, "x " COOKIE_RAW " y"), 0);
    assert_string_equal(red, "x " COOKIE_RAW " y");   /* not a secret yet */
    free(red);

    vmmk__http_options o = opts();
    o.timeout_s = 1;
    vmmk__http *h = client(&o);
    vmmk__http_response r;
    capture_start(VMMK_LOG_TRACE);

    assert_int_equal(get(h, "/needcookie", &r), 403);
    vmmk__http_response_clear(&r);
    assert_null(vmmk__http_cookie(h, COOKIE_NAME));
    assert_int_equal(get(h, "/setcookie", &r), 200);
    vmmk__http_response_clear(&r);
    /* Registered as a secret when it arrived, before anyone read it. */
    assert_int_equal(vmmk_redact(&red, "x " COOKIE_RAW " y"), 0);
    assert_string_equal(red, "x *** y");
    free(red);
    const char *v = vmmk__http_cookie(h, COOKIE_NAME);
    assert_non_null(v);
    assert_string_equal(v, COOKIE_VALUE);
    assert_null(vmmk__http_cookie(h, "other"));

    /* Sent back on the kept-alive handle. */
    assert_int_equal(get(h, "/needcookie", &r), 200);
    vmmk__http_response_clear(&r);
    assert_int_equal(get(h, "/echo", &r), 200);
    json_object *doc = echo_doc(&r);
    json_object *hdrs;
    assert_true(json_object_object_get_ex(doc, "headers", &hdrs));
    assert_string_equal(member(hdrs, "Cookie"), COOKIE_NAME "=" COOKIE_VALUE);
    json_object_put(doc);
    vmmk__http_response_clear(&r);

    /* Cleared, then injected by hand (as a session handed over). */
    vmmk__http_clear_cookies(h);
    assert_null(vmmk__http_cookie(h, COOKIE_NAME));
    assert_int_equal(get(h, "/needcookie", &r), 403);
    vmmk__http_response_clear(&r);
    assert_int_equal(vmmk__http_set_cookie(h, COOKIE_NAME, COOKIE_VALUE), 0);
    assert_string_equal(vmmk__http_cookie(h, COOKIE_NAME), COOKIE_VALUE);
    assert_int_equal(get(h, "/needcookie", &r), 200);
    vmmk__http_response_clear(&r);
    /* The server's own cookie replaces the injected one, not doubles it. */
    assert_int_equal(vmmk__http_set_cookie(h, COOKIE_NAME, "\"stale-0000\""), 0);
    assert_int_equal(get(h, "/setcookie", &r), 200);
    vmmk__http_response_clear(&r);
    assert_int_equal(get(h, "/echo", &r), 200);
    doc = echo_doc(&r);
    assert_true(json_object_object_get_ex(doc, "headers", &hdrs));
    assert_string_equal(member(hdrs, "Cookie"), COOKIE_NAME "=" COOKIE_VALUE);
    json_object_put(doc);
    vmmk__http_response_clear(&r);
    assert_error(vmmk__http_set_cookie(h, COOKIE_NAME, "a;b"), VMMK_EINVAL, "invalid cookie");

    /* Errors on the cookie-carrying handle: no cookie in them. */
    int rc = vmmk__http_request(h, "GET", "/slow?s=3", NULL, NULL, 0, &r);
    assert_int_equal(rc, VMMK_ETIMEOUT);
    assert_null(strstr(vmmk_error_last()->message, COOKIE_RAW));
    const char *bad[] = { "Cookie: " COOKIE_NAME "=" COOKIE_VALUE "\r\nX-Injected: 1", NULL };
    rc = vmmk__http_request(h, "GET", "/echo", bad, NULL, 0, &r);
    assert_error(rc, VMMK_EINVAL, "header 1 (Cookie) is not one 'Name: value' line");
    assert_null(strstr(vmmk_error_last()->message, COOKIE_RAW));
    capture_stop();

    /* The trace log has the requests, and nothing of the cookie. */
    char *want = vmmk__asprintf("trace: http: GET %s/setcookie -> 200 (", env.base);
    assert_non_null(strstr(logs.data, want));
    free(want);
    assert_null(strstr(logs.data, COOKIE_RAW));
    assert_null(strcasestr(logs.data, "cookie:"));
    vmmk__http_free(h);
}

static void test_url_secrets_not_shown(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    int port = closed_port();
    char *base = vmmk__asprintf("https://admin:hunter2-pw@127.0.0.1:%d/", port);
    vmmk__http_options o = opts();
    o.base_url = base;
    vmmk__http *h = client(&o);
    vmmk__http_response r;
    int rc = vmmk__http_request(h, "GET", "/folder/x?dcPath=dc1&token=tok-SECRET-1&sig=zz9", NULL,
                                NULL, 0, &r);
    char *want = vmmk__asprintf("GET https://127.0.0.1:%d/folder/x?dcPath=dc1&token=***&sig=***: ",
                                port);
    assert_error(rc, VMMK_ENETWORK, want);
    assert_null(strstr(vmmk_error_last()->message, "hunter2"));
    assert_null(strstr(vmmk_error_last()->message, "tok-SECRET"));
    free(want);
    vmmk__http_free(h);
    free(base);
}

/* ---- failures: time, network, size ------------------------------------------ */

static void test_timeout(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_options o = opts();
    o.timeout_s = 1;
    vmmk__http *h = client(&o);
    vmmk__http_response r;
    int rc = vmmk__http_request(h, "GET", "/slow?s=3", NULL, NULL, 0, &r);
    char *want = vmmk__asprintf("GET %s/slow?s=3: no complete response within 1 s (", env.base);
    assert_error(rc, VMMK_ETIMEOUT, want);
    assert_non_null(strstr(vmmk_error_last()->message, "timed out"));
    free(want);
    /* The handle is still usable. */
    assert_int_equal(get(h, "/echo", &r), 200);
    vmmk__http_response_clear(&r);
    vmmk__http_free(h);
}

static void test_connection_refused(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    int port = closed_port();
    char *base = vmmk__asprintf("https://127.0.0.1:%d", port);
    vmmk__http_options o = opts();
    o.base_url = base;
    vmmk__http *h = client(&o);
    vmmk__http_response r;
    char *want = vmmk__asprintf("POST %s/sdk: ", base);
    int rc = vmmk__http_request(h, "POST", "/sdk", NULL, "<x/>", 4, &r);
    assert_error(rc, VMMK_ENETWORK, want);
    assert_non_null(strstr(vmmk_error_last()->message, "onnect"));
    free(want);
    vmmk__http_free(h);
    free(base);

    o.base_url = "https://no-such-host.invalid";
    h = client(&o);
    rc = vmmk__http_request(h, "GET", "/", NULL, NULL, 0, &r);
    assert_error(rc, VMMK_ENETWORK, "GET https://no-such-host.invalid/: ");
    vmmk__http_free(h);
}

static void test_response_too_large(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_options o = opts();
    o.max_response = 1000;
    vmmk__http *h = client(&o);
    vmmk__http_response r;
    const char *paths[] = { "/big?n=5000", "/big?n=5000&chunked=1", "/big?n=1001&chunked=1" };
    for (size_t i = 0; i < 3; i++) {
        int rc = vmmk__http_request(h, "GET", paths[i], NULL, NULL, 0, &r);
        char *want = vmmk__asprintf("GET %s%s: response larger than 1000 bytes", env.base, paths[i]);
        assert_error(rc, VMMK_EIO, want);
        assert_null(r.body);
        free(want);
    }
    /* Exactly the limit is fine, and the data is intact. */
    assert_int_equal(get(h, "/big?n=1000&chunked=1", &r), 200);
    assert_int_equal(r.len, 1000);
    for (size_t i = 0; i < r.len; i++)
        assert_int_equal((uint8_t)r.body[i], pattern_byte(i));
    assert_string_equal(r.content_type, "application/octet-stream");
    vmmk__http_response_clear(&r);
    vmmk__http_free(h);
}

/* ---- requests, statuses, redirects ------------------------------------------ */

static void test_echo_methods_and_keepalive(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_options o = opts();
    vmmk__http *h = client(&o);
    vmmk__http_response r;
    const char *hdrs[] = { "Content-Type: text/xml; charset=utf-8", "SOAPAction: urn:vim25/8.0",
                           NULL };
    static const char body[] = "<soapenv:Envelope/>";
    assert_int_equal(vmmk__http_request(h, "POST", "/echo", hdrs, body, strlen(body), &r), 0);
    assert_string_equal(r.content_type, "application/json");
    json_object *doc = echo_doc(&r);
    assert_string_equal(member(doc, "method"), "POST");
    assert_string_equal(member(doc, "body"), body);
    json_object *hv;
    assert_true(json_object_object_get_ex(doc, "headers", &hv));
    assert_string_equal(member(hv, "SOAPAction"), "urn:vim25/8.0");
    assert_string_equal(member(hv, "Content-Type"), "text/xml; charset=utf-8");
    assert_string_equal(member(hv, "Content-Length"), "19");
    assert_false(json_object_object_get_ex(hv, "Expect", NULL));
    const char *port1 = strdup(member(doc, "peer_port"));
    json_object_put(doc);
    vmmk__http_response_clear(&r);

    struct { const char *method; const char *body; } cases[] = {
        { "PUT", "{\"a\":1}" }, { "PATCH", "{}" }, { "DELETE", NULL }, { "GET", NULL } };
    for (size_t i = 0; i < 4; i++) {
        const char *b = cases[i].body;
        assert_int_equal(vmmk__http_request(h, cases[i].method, "/echo", NULL, b, b ? strlen(b) : 0,
                                            &r),
                         0);
        doc = echo_doc(&r);
        assert_string_equal(member(doc, "method"), cases[i].method);
        assert_string_equal(member(doc, "body"), b ? b : "");
        /* One connection for all: kept alive. */
        assert_string_equal(member(doc, "peer_port"), port1);
        json_object_put(doc);
        vmmk__http_response_clear(&r);
    }
    free((char *)port1);

    /* HEAD: a status, no body. */
    assert_int_equal(vmmk__http_request(h, "HEAD", "/echo", NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.len, 0);
    assert_string_equal(r.body, "");
    vmmk__http_response_clear(&r);

    /* A full URL on the same server is accepted. */
    char *full = vmmk__asprintf("%s/echo?full=1", env.base);
    assert_int_equal(get(h, full, &r), 200);
    vmmk__http_response_clear(&r);
    free(full);
    vmmk__http_free(h);
}

static void test_status_codes_not_errors(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_options o = opts();
    vmmk__http *h = client(&o);
    vmmk__http_response r;
    const long codes[] = { 201, 204, 400, 401, 403, 404, 500, 503 };
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        char path[32], text[32];
        snprintf(path, sizeof path, "/status/%ld", codes[i]);
        snprintf(text, sizeof text, "status %ld\n", codes[i]);
        vmmk_error_clear();
        assert_int_equal(vmmk__http_request(h, "GET", path, NULL, NULL, 0, &r), 0);
        assert_int_equal(r.status, codes[i]);
        assert_string_equal(r.body, codes[i] == 204 ? "" : text);
        assert_int_equal(vmmk_error_last()->code, VMMK_OK);
        vmmk__http_response_clear(&r);
    }
    vmmk__http_free(h);
}

static void test_redirects(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_options o = opts();
    vmmk__http *h = client(&o);
    vmmk__http_response r;
    /* Same server: followed. */
    assert_int_equal(get(h, "/redirect-same", &r), 200);
    json_object *doc = echo_doc(&r);
    assert_string_equal(member(doc, "path"), "/echo?redirected=1");
    json_object_put(doc);
    vmmk__http_response_clear(&r);
    /* 303 after a POST: a GET without the body. */
    assert_int_equal(vmmk__http_request(h, "POST", "/redirect-303", NULL, "x=1", 3, &r), 0);
    doc = echo_doc(&r);
    assert_string_equal(member(doc, "method"), "GET");
    assert_string_equal(member(doc, "path"), "/echo?after=303");
    assert_string_equal(member(doc, "body"), "");
    json_object_put(doc);
    vmmk__http_response_clear(&r);
    /* Another host (localhost is not 127.0.0.1 by name): not followed,
     * the 302 is the answer. */
    assert_int_equal(get(h, "/redirect", &r), 302);
    assert_string_equal(r.body, "elsewhere\n");
    vmmk__http_response_clear(&r);
    vmmk__http_free(h);
}

static void test_invalid_input(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http *h = NULL;
    vmmk__http_options o = opts();
    o.thumbprint = "AB:CD";
    assert_error(vmmk__http_new(&h, &o), VMMK_EINVAL, "thumbprint 'AB:CD' is not a SHA-1");
    o.thumbprint = "zz:zz:zz:zz:zz:zz:zz:zz:zz:zz:zz:zz:zz:zz:zz:zz:zz:zz:zz:zz";
    assert_error(vmmk__http_new(&h, &o), VMMK_EINVAL, "hex digest");
    o.thumbprint = env.sha1_1;
    o.insecure = true;
    assert_error(vmmk__http_new(&h, &o), VMMK_ECONFLICT, "exclude each other");
    o = opts();
    o.base_url = "ftp://127.0.0.1/";
    assert_error(vmmk__http_new(&h, &o), VMMK_EINVAL, "is not an http:// or https:// URL");
    o.base_url = "https://127.0.0.1/?x=1";
    assert_error(vmmk__http_new(&h, &o), VMMK_EINVAL, "is not an http:// or https:// URL");
    o.base_url = "http://127.0.0.1:9";
    o.thumbprint = env.sha1_1;
    assert_error(vmmk__http_new(&h, &o), VMMK_EINVAL, "a thumbprint needs an https URL");
    o = opts();
    o.timeout_s = -1;
    assert_error(vmmk__http_new(&h, &o), VMMK_EINVAL, "negative timeout");
    assert_null(h);

    o = opts();
    h = client(&o);
    vmmk__http_response r;
    assert_error(vmmk__http_request(h, "GET", "https://localhost:1/echo", NULL, NULL, 0, &r),
                 VMMK_EINVAL, "GET https://localhost:1/echo: not on https://127.0.0.1:");
    assert_error(vmmk__http_request(h, "GET", "echo?token=t0ps3cret", NULL, NULL, 0, &r),
                 VMMK_EINVAL, "the path 'echo?token=***' must start with '/'");
    assert_error(vmmk__http_request(h, "GET", "/a b", NULL, NULL, 0, &r), VMMK_EINVAL,
                 "space or a control character");
    assert_error(vmmk__http_request(h, "GE T", "/echo", NULL, NULL, 0, &r), VMMK_EINVAL,
                 "invalid method");
    const char *bad[] = { "NoColon", NULL };
    assert_error(vmmk__http_request(h, "GET", "/echo", bad, NULL, 0, &r), VMMK_EINVAL,
                 "header 1 (NoColon)");
    vmmk__http_free(h);
}

/* ---- streaming ------------------------------------------------------------------ */

typedef struct sink_state {
    size_t total, calls;
    bool bad_data;
    size_t abort_after;       /* calls; 0 = never */
    int abort_with;
} sink_state;

static int check_sink(void *payload, const void *data, size_t len)
{
    sink_state *s = payload;
    const uint8_t *d = data;
    for (size_t i = 0; i < len; i++)
        if (d[i] != pattern_byte(s->total + i))
            s->bad_data = true;
    s->total += len;
    s->calls++;
    if (s->abort_after && s->calls >= s->abort_after)
        return s->abort_with == VMMK_EIO ? vmmk__err(VMMK_EIO, "disk full") : s->abort_with;
    return 0;
}

static void test_download_streams(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_options o = opts();
    o.max_response = 1000;        /* does not apply: nothing is held */
    vmmk__http *h = client(&o);
    const size_t n = 3 * 1024 * 1024 + 123;
    char path[64];
    snprintf(path, sizeof path, "/big?n=%zu", n);
    long status = 0;
    sink_state s = { 0 };
    assert_int_equal(vmmk__http_download(h, path, NULL, check_sink, &s, &status), 0);
    assert_int_equal(status, 200);
    assert_int_equal(s.total, n);
    assert_false(s.bad_data);
    assert_true(s.calls > 10);    /* in pieces, as they came */

    /* An error page is not the file. */
    memset(&s, 0, sizeof s);
    assert_int_equal(vmmk__http_download(h, "/status/404", NULL, check_sink, &s, &status), 0);
    assert_int_equal(status, 404);
    assert_int_equal(s.calls, 0);

    /* The sink stops it: cancelled, or the sink's own error. */
    memset(&s, 0, sizeof s);
    s.abort_after = 2;
    s.abort_with = 1;
    char *want = vmmk__asprintf("GET %s%s: download aborted by the caller", env.base, path);
    assert_error(vmmk__http_download(h, path, NULL, check_sink, &s, &status), VMMK_ECANCELED, want);
    free(want);
    memset(&s, 0, sizeof s);
    s.abort_after = 1;
    s.abort_with = VMMK_EIO;
    want = vmmk__asprintf("GET %s%s: disk full", env.base, path);
    assert_error(vmmk__http_download(h, path, NULL, check_sink, &s, &status), VMMK_EIO, want);
    free(want);

    /* The handle still works after an aborted transfer. */
    memset(&s, 0, sizeof s);
    assert_int_equal(vmmk__http_download(h, "/big?n=777&chunked=1", NULL, check_sink, &s, &status),
                     0);
    assert_int_equal(s.total, 777);
    assert_false(s.bad_data);
    vmmk__http_free(h);
}

typedef struct source_state {
    const uint8_t *data;
    size_t len, pos;
    size_t give_up_at;        /* pretend the data ends here; 0 = no */
    int fail_with;            /* return this error at the end; 0 = no */
} source_state;

static ssize_t mem_source(void *payload, void *buf, size_t len)
{
    source_state *s = payload;
    size_t end = s->give_up_at ? s->give_up_at : s->len;
    if (s->pos >= end && s->fail_with)
        return vmmk__err(s->fail_with, "the source broke");
    size_t n = end - s->pos < len ? end - s->pos : len;
    if (n > 4093)
        n = 4093;             /* odd pieces */
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (ssize_t)n;
}

static void assert_stored(vmmk__http *h, const char *name, const uint8_t *data, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/files/%s", name);
    vmmk__http_response r;
    assert_int_equal(get(h, path, &r), 200);
    assert_int_equal(r.len, len);
    assert_memory_equal(r.body, data, len);
    vmmk__http_response_clear(&r);
}

static void test_upload(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk__http_options o = opts();
    vmmk__http *h = client(&o);
    const size_t n = 300 * 1000 + 7;
    uint8_t *data = malloc(n);
    for (size_t i = 0; i < n; i++)
        data[i] = (uint8_t)(i * 7 + (i >> 9));
    long status = 0;

    /* From a callback, with the length known. */
    source_state s = { .data = data, .len = n };
    const char *hdrs[] = { "Content-Type: application/octet-stream", NULL };
    assert_int_equal(vmmk__http_upload(h, "/files/a.vmx", hdrs, mem_source, &s, (long long)n,
                                       &status),
                     0);
    assert_int_equal(status, 201);
    assert_stored(h, "a.vmx", data, n);

    /* Chunked, the length unknown. */
    s.pos = 0;
    assert_int_equal(vmmk__http_upload(h, "/files/b.nvram", NULL, mem_source, &s, -1, &status), 0);
    assert_int_equal(status, 201);
    assert_stored(h, "b.nvram", data, n);

    /* From a file descriptor. */
    char *file = vmmk__asprintf("%s/upload.bin", env.dir);
    int fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    assert_int_equal(vmmk__http_upload_fd(h, "/files/c.log", NULL, fd, (long long)n, &status), 0);
    assert_int_equal(status, 201);
    close(fd);
    assert_stored(h, "c.log", data, n);
    free(file);

    /* A source that ends early, or fails. */
    s.pos = 0;
    s.give_up_at = 5000;
    char *want = vmmk__asprintf("PUT %s/files/d: the upload source ended after 5000 of %zu bytes",
                                env.base, n);
    assert_error(vmmk__http_upload(h, "/files/d", NULL, mem_source, &s, (long long)n, &status),
                 VMMK_EIO, want);
    free(want);
    s.pos = 0;
    s.fail_with = VMMK_EPROCESS;
    want = vmmk__asprintf("PUT %s/files/e: the source broke", env.base);
    assert_error(vmmk__http_upload(h, "/files/e", NULL, mem_source, &s, (long long)n, &status),
                 VMMK_EPROCESS, want);
    free(want);

    /* A status comes back as such. */
    s.pos = 0;
    s.give_up_at = 0;
    s.fail_with = 0;
    assert_int_equal(vmmk__http_upload(h, "/status/403", NULL, mem_source, &s, (long long)n,
                                       &status),
                     0);
    assert_int_equal(status, 403);
    free(data);
    vmmk__http_free(h);
}

int main(void)
{
    /* Children are reaped by waitpid; an inherited SIG_IGN would auto-reap. */
    signal(SIGCHLD, SIG_DFL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pin_sha1_and_sha256),
        cmocka_unit_test(test_pin_mismatch),
        cmocka_unit_test(test_self_signed_refused_by_default),
        cmocka_unit_test(test_cacert),
        cmocka_unit_test(test_insecure_logged),
        cmocka_unit_test(test_thumbprint_function),
        cmocka_unit_test(test_cookies),
        cmocka_unit_test(test_url_secrets_not_shown),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_connection_refused),
        cmocka_unit_test(test_response_too_large),
        cmocka_unit_test(test_echo_methods_and_keepalive),
        cmocka_unit_test(test_status_codes_not_errors),
        cmocka_unit_test(test_redirects),
        cmocka_unit_test(test_invalid_input),
        cmocka_unit_test(test_download_streams),
        cmocka_unit_test(test_upload),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    vmmk__buf_free(&logs);
    return rc;
}
