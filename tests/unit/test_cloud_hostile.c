/* The OpenStack client against a hostile or flaky control plane:
 * tests/unit/hostile_openstack_server.py, started here on a port the
 * kernel picks.  The mode travels in the URL path, so each case writes its
 * own clouds.yaml (auth_url http://127.0.0.1:PORT/<mode>/v3, password
 * auth) and the token's catalog points every service back at that mode.
 * Each mode spoils one call: Keystone's answer (malformed, incomplete,
 * oversized, an HTML page, a 401), a service call (never-ending, never
 * answered, closed, 5xx, 429, 401, error bodies of every service), the
 * catalog, the token lifetime, the microversion range or the pagination.
 *
 * Every failure must end in the expected code, in bounded time, with a
 * message that names the call, is shorter than 4 KiB, has no control
 * characters and never shows the password or a token (nor in the detail
 * or fault).  Retries are counted on the server (GET /stats/<mode>): what
 * may be sent again is, as often as asked and no more; what may not is
 * sent once.  Oversized answers must be refused by the size bound, not
 * held whole.  Skips with the reason when /usr/bin/python3 is missing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmmk/vmmk.h>
#include "cloud/cloud_int.h"
#include "common/http.h"
#include "common/internal.h"
#include "common/json.h"
#include "common/spawn.h"
#include "process_fixture.h"

#define PYTHON "/usr/bin/python3"
#define USER "hostile-user"
#define PASSWORD "Hostile-Pa55word-xyzzy"
#define TOKEN_MARK "HostileTok3n"   /* in every token the server issues */
#define TIMEOUT 3                   /* seconds per HTTP request */
#define MSG_MAX 4096
#define AUTH_KEY "POST /v3/auth/tokens"
#define FLAVORS_KEY "GET /compute/v2.1/flavors/detail"
#define SERVERS_KEY "POST /compute/v2.1/servers"

/* ---- the environment: the server ------------------------------------------ */

static struct {
    const char *skip_reason;
    char *dir, *log;
    pid_t server;
    int port;
    vmmk__http *stats;             /* for GET /stats/<mode> */
} env;

static bool read_port(const char *log)
{
    char *text = NULL;
    if (vmmk__read_file(&text, NULL, log) != 0)
        return false;
    bool ready = strstr(text, "\nREADY") != NULL;
    const char *p = strstr(text, "PORT ");
    if (ready && p)
        ready = sscanf(p, "PORT %d", &env.port) == 1 && env.port > 0;
    free(text);
    return ready;
}

static int group_setup(void **state)
{
    (void)state;
    unset_proxies();
    /* Only the clouds.yaml given counts: no OS_* from the caller. */
    unsetenv("OS_CLOUD");
    unsetenv("OS_CLIENT_CONFIG_FILE");
    if (access(PYTHON, X_OK) != 0) {
        env.skip_reason = PYTHON " is not installed";
        return 0;
    }
    assert_int_equal(vmmk__private_dir(&env.dir, "vmmk-os-hostile"), 0);
    env.log = vmmk__asprintf("%s/server.log", env.dir);
    char *const argv[] = { PYTHON, VMMK_SOURCE_DIR "/tests/unit/hostile_openstack_server.py",
                           NULL };
    start_server(&env.server, argv, env.log, read_port);
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", env.port);
    vmmk__http_options ho = { 0 };
    ho.base_url = base;
    ho.timeout_s = 30;
    assert_int_equal(vmmk__http_new(&env.stats, &ho), 0);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    vmmk__http_free(env.stats);
    stop_server(env.server, env.dir);
    free(env.log);
    return 0;
}

/* ---- helpers ----------------------------------------------------------------- */

/* Write dir/<mode>.yaml: cloud "hostile", password auth against the mode. */
static char *clouds_yaml(const char *mode)
{
    char *path = vmmk__asprintf("%s/%s.yaml", env.dir, mode);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);   /* holds a password */
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f,
            "clouds:\n"
            "  hostile:\n"
            "    auth:\n"
            "      auth_url: http://127.0.0.1:%d/%s/v3\n"
            "      username: " USER "\n"
            "      password: " PASSWORD "\n"
            "      project_name: hostile-project\n"
            "      user_domain_name: Default\n"
            "      project_domain_name: Default\n"
            "    region_name: RegionOne\n"
            "    interface: public\n"
            "    identity_api_version: 3\n",
            env.port, mode);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* vmmk_cloud_open on @p mode with the test's timeout and @p retries. */
static int open_mode(vmmk_cloud **c, const char *mode, int retries)
{
    char *file = clouds_yaml(mode);
    vmmk_cloud_options o = VMMK_CLOUD_OPTIONS_INIT;
    o.cloud = "hostile";
    o.clouds_file = file;
    o.timeout = TIMEOUT;
    o.retries = retries;
    *c = (vmmk_cloud *)&o;          /* must come back NULL on failure */
    int rc = vmmk_cloud_open(c, &o);
    free(file);
    return rc;
}

static vmmk_cloud *open_ok(const char *mode, int retries)
{
    vmmk_cloud *c = NULL;
    if (open_mode(&c, mode, retries) != 0)
        fail_msg("%s: vmmk_cloud_open: %s", mode, vmmk_error_last()->message);
    return c;
}

/* The server's record of @p mode: {"requests": {...}, "log": [...], "connections": n}. */
static json_object *stats(const char *mode)
{
    char path[96];
    snprintf(path, sizeof path, "/stats/%s", mode);
    vmmk__http_response r = { 0 };
    if (vmmk__http_request(env.stats, "GET", path, NULL, NULL, 0, &r) != 0)
        fail_msg("GET %s: %s", path, vmmk_error_last()->message);
    assert_int_equal(r.status, 200);
    json_object *o = NULL;
    assert_int_equal(vmmk__json_parse(&o, r.body, r.len), 0);
    vmmk__http_response_clear(&r);
    return o;
}

/* How many "METHOD /path" requests @p mode got (path without the mode). */
static int count(const char *mode, const char *key)
{
    json_object *o = stats(mode), *req;
    int n = 0;
    if (json_object_object_get_ex(o, "requests", &req))
        n = (int)vmmk__jint(req, key, 0);
    json_object_put(o);
    return n;
}

static int connections(const char *mode)
{
    json_object *o = stats(mode);
    int n = (int)vmmk__jint(o, "connections", 0);
    json_object_put(o);
    return n;
}

static void reset_stats(const char *mode)
{
    char path[96];
    snprintf(path, sizeof path, "/stats/%s", mode);
    vmmk__http_response r = { 0 };
    assert_int_equal(vmmk__http_request(env.stats, "DELETE", path, NULL, NULL, 0, &r), 0);
    assert_int_equal(r.status, 204);
    vmmk__http_response_clear(&r);
}

/* skip_if(env.skip_reason), a fresh count for @p mode and a cloud open on it. */
static vmmk_cloud *begin(const char *mode, int retries)
{
    skip_if(env.skip_reason);
    reset_stats(mode);
    return open_ok(mode, retries);
}

/* A raw call on @p mode that must succeed: its body (vmmk_string_free). */
static char *request_ok(vmmk_cloud *c, const char *mode, long *status, const char *svc,
                        const char *method, const char *path, const char *body)
{
    char *out = NULL;
    if (vmmk_cloud_request(&out, status, c, svc, method, path, body))
        fail_msg("%s: %s", mode, vmmk_error_last()->message);
    return out;
}

/* The flavor list on @p mode, which must succeed with @p n flavors. */
static void flavors_ok(vmmk_cloud *c, const char *mode, size_t n)
{
    vmmk_flavor_list *fl = NULL;
    if (vmmk_cloud_flavor_list(&fl, c, false))
        fail_msg("%s: flavor list: %s", mode, vmmk_error_last()->message);
    assert_int_equal(fl->n, n);
    for (size_t i = 0; i < fl->n; i++) {
        char want[40];
        snprintf(want, sizeof want, "m1.hostile%zu", i + 1);
        assert_string_equal(fl->items[i].name, want);
    }
    vmmk_flavor_list_free(fl);
}

static void assert_clean_text(const char *what, const char *text, const char *mode)
{
    if (!text)
        return;
    if (strstr(text, PASSWORD))
        fail_msg("%s: the password shows in the %s: %s", mode, what, text);
    if (strstr(text, TOKEN_MARK))
        fail_msg("%s: a token shows in the %s: %s", mode, what, text);
    for (const char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            fail_msg("%s: control character 0x%02x at %zu in the %s: %.600s", mode,
                     (unsigned char)*p, (size_t)(p - text), what, text);
}

/* The last error is @p code, with a clean, bounded message containing
 * @p part (when not NULL). */
static const vmmk_error *check_error(const char *mode, int rc, int code, const char *part)
{
    const vmmk_error *e = vmmk_error_last();
    const char *msg = e->message;
    size_t ml = strlen(msg);
    if (rc != code || e->code != code)
        fail_msg("%s: expected %s (%d), got %s (%d): %.2000s", mode, vmmk_strerror(code), code,
                 vmmk_strerror(rc), rc, msg);
    if (ml >= MSG_MAX)
        fail_msg("%s: message of %zu bytes: %.300s...", mode, ml, msg);
    if (part && !strstr(msg, part))
        fail_msg("%s: the message does not say '%s': %s", mode, part, msg);
    if (e->detail && strlen(e->detail) >= MSG_MAX)
        fail_msg("%s: detail of %zu bytes", mode, strlen(e->detail));
    if (e->fault && strlen(e->fault) > 256)
        fail_msg("%s: fault type of %zu bytes", mode, strlen(e->fault));
    /* Nothing of an HTML page but its text. */
    if (strstr(msg, "alert(") || strstr(msg, "color: red") || strstr(msg, "<html") ||
        strstr(msg, "[31m"))
        fail_msg("%s: markup, script or escape sequence in the message: %s", mode, msg);
    assert_clean_text("message", msg, mode);
    assert_clean_text("detail", e->detail, mode);
    assert_clean_text("fault", e->fault, mode);
    return e;
}

/* ---- Keystone's answer is spoiled: vmmk_cloud_open fails --------------------- */

typedef struct open_case {
    const char *mode;
    int code;
    const char *part;          /* in the message */
    int retries;
    int auths;                 /* POST auth/tokens the server must have seen */
    long rss_max_mib;          /* peak RSS growth allowed; 0 = unchecked */
    const char *detail_part;   /* in vmmk_error.detail, or NULL */
} open_case;

static void test_open_refused(void **state)
{
    const open_case *x = *state;
    skip_if(env.skip_reason);
    reset_stats(x->mode);
    rss_probe peak = rss_begin(x->rss_max_mib);
    vmmk_cloud *c;
    double t0 = now_s();
    int rc = open_mode(&c, x->mode, x->retries);
    double dt = now_s() - t0;
    long hwm = status_kib("VmHWM");
    const vmmk_error *e = vmmk_error_last();
    print_message("  %-16s %5.2f s rc=%d [%zu bytes] %.300s\n", x->mode, dt, rc,
                  strlen(e->message), e->message);
    assert_null(c);
    check_error(x->mode, rc, x->code, x->part);
    char where[128];
    snprintf(where, sizeof where, "Keystone at http://127.0.0.1:%d/%s/v3", env.port, x->mode);
    if (!strstr(e->message, where))
        fail_msg("%s: the message does not name '%s': %s", x->mode, where, e->message);
    if (x->detail_part && (!e->detail || !strstr(e->detail, x->detail_part)))
        fail_msg("%s: the detail does not say '%s': %s", x->mode, x->detail_part,
                 e->detail ? e->detail : "(none)");
    int n = count(x->mode, AUTH_KEY);
    if (n != x->auths)
        fail_msg("%s: the server saw %d POST auth/tokens, expected %d", x->mode, n, x->auths);
    if (dt > (x->retries + 1) * TIMEOUT + slack())
        fail_msg("%s: took %.1f s", x->mode, dt);
    rss_check(peak, hwm, x->mode, x->rss_max_mib);
}

#define OPEN_REFUSED(m, c, p, retries, auths, rss, d)                                        \
    { "open refused: " m, test_open_refused, NULL, NULL,                                    \
      &(open_case){ m, c, p, retries, auths, rss, d } }

/* ---- a service call is spoiled: the raw call fails ------------------------------ */

typedef struct call_case {
    const char *mode;
    const char *service, *method, *path, *body;
    int code;
    const char *part;          /* in the message */
    int retries;               /* vmmk_cloud_options.retries */
    const char *key;           /* "METHOD /path" the server must have seen n times */
    int n;
    int auths;                 /* POST auth/tokens the server must have seen (0: 1) */
    const char *fault;         /* vmmk_error.fault, or NULL */
    double max_s;              /* the call ends within this (plus slack) */
    double min_s;              /* and not before this */
    long rss_max_mib;
} call_case;

static void test_call_refused(void **state)
{
    const call_case *x = *state;
    skip_if(env.skip_reason);
    reset_stats(x->mode);
    vmmk_cloud *c = open_ok(x->mode, x->retries);
    rss_probe peak = rss_begin(x->rss_max_mib);
    char *out = (char *)"unchanged";
    long status = -1;
    double t0 = now_s();
    int rc = vmmk_cloud_request(&out, &status, c, x->service, x->method, x->path, x->body);
    double dt = now_s() - t0;
    long hwm = status_kib("VmHWM");
    const vmmk_error *e = vmmk_error_last();
    print_message("  %-16s %5.2f s rc=%d status=%ld [%zu bytes] %.300s\n", x->mode, dt, rc,
                  status, strlen(e->message), e->message);
    assert_null(out);
    check_error(x->mode, rc, x->code, x->part);
    char what[160];
    snprintf(what, sizeof what, "%s %s %s", x->service, x->method, x->path);
    if (!strstr(e->message, what))
        fail_msg("%s: the message does not name the call '%s': %s", x->mode, what, e->message);
    if (x->fault && (!e->fault || strcmp(e->fault, x->fault) != 0))
        fail_msg("%s: fault '%s', expected '%s'", x->mode, e->fault ? e->fault : "(none)",
                 x->fault);
    if (status > 0 && status != e->http_status)
        fail_msg("%s: status %ld but the error says HTTP %d", x->mode, status, e->http_status);
    if (x->key) {
        int n = count(x->mode, x->key);
        if (n != x->n)
            fail_msg("%s: the server saw %d '%s', expected %d", x->mode, n, x->key, x->n);
    }
    int auths = count(x->mode, AUTH_KEY), want = x->auths ? x->auths : 1;
    if (auths != want)
        fail_msg("%s: the server saw %d POST auth/tokens, expected %d", x->mode, auths, want);
    if (dt > x->max_s + slack())
        fail_msg("%s: took %.1f s (bound %.1f s)", x->mode, dt, x->max_s);
    if (dt < x->min_s)
        fail_msg("%s: ended after %.1f s, before %.1f s", x->mode, dt, x->min_s);
    rss_check(peak, hwm, x->mode, x->rss_max_mib);
    vmmk_cloud_free(c);
}

#define CALL_REFUSED(m, svc, meth, path, body, code, part, retries, key, n, auths, fault, max,  \
                     min, rss)                                                                  \
    { "call refused: " m, test_call_refused, NULL, NULL,                                      \
      &(call_case){ m, svc, meth, path, body, code, part, retries, key, n, auths, fault, max,  \
                    min, rss } }

#define SERVER_BODY "{\"server\": {\"name\": \"s1\", \"flavorRef\": \"f1\", \"networks\": \"none\"}}"
#define PORT_BODY                                                                               \
    "{\"port\": {\"network_id\": \"5f3b6a62-8d6e-4c3b-9a7c-1f2e3d4c5b6a\", "                    \
    "\"mac_address\": \"fa:16:3e:00:00:01\"}}"

/* ---- the cases that must succeed ------------------------------------------------- */

static void test_control_ok(void **state)
{
    (void)state;
    vmmk_cloud *c = begin("ok", -1);
    long status = 0;
    char *out = request_ok(c, "ok", &status, "compute", "GET", "/flavors/detail", NULL);
    assert_int_equal(status, 200);
    assert_non_null(strstr(out, "m1.hostile2"));
    vmmk_string_free(out);
    out = request_ok(c, "ok", &status, "network", "GET", "/v2.0/networks", NULL);
    assert_non_null(strstr(out, "\"net1\""));
    vmmk_string_free(out);

    char want[128];
    snprintf(want, sizeof want, "http://127.0.0.1:%d/ok/compute/v2.1", env.port);
    char *url = NULL;
    assert_int_equal(vmmk_cloud_endpoint_url(&url, c, "compute"), 0);
    assert_string_equal(url, want);
    vmmk_string_free(url);

    flavors_ok(c, "ok", 2);

    vmmk_cloud_network_list *nl = NULL;
    if (vmmk_cloud_network_list_get(&nl, c))
        fail_msg("ok: network list: %s", vmmk_error_last()->message);
    assert_int_equal(nl->n, 1);
    assert_string_equal(nl->items[0].name, "net1");
    assert_true(nl->items[0].shared);
    assert_int_equal(nl->items[0].mtu, 1450);
    assert_int_equal(nl->items[0].n_subnet_ids, 1);
    vmmk_cloud_network_list_free(nl);

    /* One token for all of it; microversion negotiated once. */
    assert_int_equal(count("ok", AUTH_KEY), 1);
    assert_int_equal(count("ok", "GET /compute/v2.1/"), 1);
    vmmk_cloud_free(c);
}

/* 503 with Retry-After: 1, twice, then the list: three requests, the
 * pauses the server asked for. */
static void test_retry_503(void **state)
{
    (void)state;
    vmmk_cloud *c = begin("retry-503", -1);
    long status = 0;
    double t0 = now_s();
    char *out = request_ok(c, "retry-503", &status, "compute", "GET", "/flavors/detail", NULL);
    double dt = now_s() - t0;
    print_message("  %-16s %5.2f s\n", "retry-503", dt);
    assert_int_equal(status, 200);
    assert_non_null(strstr(out, "m1.hostile1"));
    vmmk_string_free(out);
    assert_int_equal(count("retry-503", FLAVORS_KEY), 3);
    if (dt < 1.9)
        fail_msg("retry-503: done after %.2f s: Retry-After: 1 twice was not honoured", dt);
    assert_true(dt < 2 + slack());

    /* With the flavor list call too (the mode's counter is past the 503s
     * now, so reset it to see them again). */
    reset_stats("retry-503");
    flavors_ok(c, "retry-503", 2);
    assert_int_equal(count("retry-503", FLAVORS_KEY), 3);
    vmmk_cloud_free(c);
}

/* 429 says the request was not carried out: even a POST is sent again. */
static void test_retry_429_post(void **state)
{
    (void)state;
    vmmk_cloud *c = begin("retry-429-post", -1);
    long status = 0;
    double t0 = now_s();
    char *out = request_ok(c, "retry-429-post", &status, "compute", "POST", "/servers",
                           SERVER_BODY);
    double dt = now_s() - t0;
    assert_int_equal(status, 202);
    assert_non_null(strstr(out, "\"server\""));
    vmmk_string_free(out);
    assert_int_equal(count("retry-429-post", SERVERS_KEY), 2);
    assert_true(dt >= 0.9);
    vmmk_cloud_free(c);
}

/* A 401 on a service call: one new token, the call sent again. */
static void test_reauth_once(void **state)
{
    (void)state;
    vmmk_cloud *c = begin("reauth-once", -1);
    long status = 0;
    char *out =
        request_ok(c, "reauth-once", &status, "compute", "GET", "/flavors/detail", NULL);
    assert_int_equal(status, 200);
    vmmk_string_free(out);
    assert_int_equal(count("reauth-once", AUTH_KEY), 2);
    assert_int_equal(count("reauth-once", FLAVORS_KEY), 2);
    /* The new token is used from then on. */
    out = request_ok(c, "reauth-once", &status, "compute", "GET", "/flavors/detail", NULL);
    vmmk_string_free(out);
    assert_int_equal(count("reauth-once", AUTH_KEY), 2);
    vmmk_cloud_free(c);
}

/* "Connection: close" and a hang-up after every answer: every call still works. */
static void test_connection_close(void **state)
{
    (void)state;
    vmmk_cloud *c = begin("conn-close", 0);
    for (int i = 0; i < 25; i++) {
        const char *svc = i % 2 ? "network" : "compute";
        const char *path = i % 2 ? "/v2.0/networks" : "/flavors/detail";
        vmmk_string_free(request_ok(c, "conn-close", NULL, svc, "GET", path, NULL));
    }
    /* auth + version + 25 calls, each on its own connection */
    int conns = connections("conn-close");
    print_message("  %-16s %d connections\n", "conn-close", conns);
    assert_int_equal(count("conn-close", FLAVORS_KEY), 13);
    assert_int_equal(count("conn-close", "GET /network/v2.0/networks"), 12);
    assert_true(conns >= 27);
    vmmk_cloud_free(c);
}

typedef struct seen {
    int n;
    char ids[16][16];
} seen;

static int collect(void *payload, json_object *item)
{
    seen *s = payload;
    const char *id = vmmk__jstr(item, "id");
    if (s->n >= 16 || !id)
        return vmmk__err(VMMK_EREMOTE, "too many items or no id");
    snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", id);
    return 0;
}

/* Three pages linked by flavors_links: every item once, three GETs. */
static void test_pages_3(void **state)
{
    (void)state;
    vmmk_cloud *c = begin("pages-3", -1);
    seen s = { 0 };
    if (vmmk__os_list(c, VMMK__SVC_COMPUTE, "/flavors/detail", "flavors", "list flavors",
                      collect, &s))
        fail_msg("pages-3: %s", vmmk_error_last()->message);
    assert_int_equal(s.n, 5);
    for (int i = 0; i < 5; i++) {
        char want[8];
        snprintf(want, sizeof want, "f%d", i + 1);
        assert_string_equal(s.ids[i], want);
    }
    assert_int_equal(count("pages-3", FLAVORS_KEY), 3);

    flavors_ok(c, "pages-3", 5);
    assert_int_equal(count("pages-3", FLAVORS_KEY), 6);
    vmmk_cloud_free(c);
}

/* Next links that lead back to a page already read: an error, soon. */
static void test_page_loops(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    const char *modes[] = { "page-loop", "page-cycle" };
    for (int k = 0; k < 2; k++) {
        reset_stats(modes[k]);
        vmmk_cloud *c = open_ok(modes[k], -1);
        seen s = { 0 };
        double t0 = now_s();
        int rc = vmmk__os_list(c, VMMK__SVC_COMPUTE, "/flavors/detail", "flavors",
                               "list flavors", collect, &s);
        double dt = now_s() - t0;
        print_message("  %-16s %5.2f s rc=%d %s\n", modes[k], dt, rc,
                      vmmk_error_last()->message);
        check_error(modes[k], rc, VMMK_EREMOTE, "list flavors: ");
        int n = count(modes[k], FLAVORS_KEY);
        if (n > 4)
            fail_msg("%s: %d pages read before giving up", modes[k], n);
        vmmk_flavor_list *fl = (vmmk_flavor_list *)&s;
        rc = vmmk_cloud_flavor_list(&fl, c, false);
        check_error(modes[k], rc, VMMK_EREMOTE, NULL);
        assert_null(fl);
        vmmk_cloud_free(c);
    }
}

/* A list answer nested 10000 levels deep is refused cleanly. */
static void test_deep_list(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk_cloud *c = open_ok("deep-list", -1);
    seen s = { 0 };
    int rc = vmmk__os_list(c, VMMK__SVC_COMPUTE, "/flavors/detail", "flavors", "list flavors",
                           collect, &s);
    print_message("  %-16s rc=%d %s\n", "deep-list", rc, vmmk_error_last()->message);
    check_error("deep-list", rc, VMMK_EREMOTE, "list flavors: ");
    assert_int_equal(s.n, 0);
    vmmk_flavor_list *fl = NULL;
    rc = vmmk_cloud_flavor_list(&fl, c, false);
    check_error("deep-list", rc, VMMK_EREMOTE, NULL);
    vmmk_cloud_free(c);
}

/* A catalog without the network service: ENOTFOUND naming what it has. */
static void test_no_network(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk_cloud *c = open_ok("no-network", -1);
    char *url = (char *)"unchanged";
    int rc = vmmk_cloud_endpoint_url(&url, c, "network");
    print_message("  %-16s rc=%d %s\n", "no-network", rc, vmmk_error_last()->message);
    assert_null(url);
    check_error("no-network", rc, VMMK_ENOTFOUND, "no network endpoint with interface public");
    const char *msg = vmmk_error_last()->message;
    const char *have[] = { "identity", "compute", "volumev3", "image", "\"hostile\"" };
    for (size_t i = 0; i < sizeof have / sizeof *have; i++)
        if (!strstr(msg, have[i]))
            fail_msg("no-network: the message does not list %s: %s", have[i], msg);
    char *out = NULL;
    rc = vmmk_cloud_request(&out, NULL, c, "network", "GET", "/v2.0/networks", NULL);
    check_error("no-network", rc, VMMK_ENOTFOUND, "network GET /v2.0/networks: no network endpoint");
    vmmk_cloud_network_list *nl = (vmmk_cloud_network_list *)&out;
    rc = vmmk_cloud_network_list_get(&nl, c);
    check_error("no-network", rc, VMMK_ENOTFOUND, "list networks: no network endpoint");
    assert_null(nl);
    /* The other services are there. */
    assert_int_equal(vmmk_cloud_endpoint_url(&url, c, "image"), 0);
    vmmk_string_free(url);
    vmmk_cloud_free(c);
}

/* A catalog with members of every wrong type: what is usable is used,
 * the rest is "not in the catalog", nothing crashes. */
static void test_catalog_junk(void **state)
{
    (void)state;
    skip_if(env.skip_reason);
    vmmk_cloud *c = open_ok("catalog-junk", -1);
    char *url = NULL;
    int rc = vmmk_cloud_endpoint_url(&url, c, "compute");
    check_error("catalog-junk", rc, VMMK_ENOTFOUND, "no compute endpoint with interface public");
    vmmk_cloud_network_list *nl = NULL;
    if (vmmk_cloud_network_list_get(&nl, c))
        fail_msg("catalog-junk: network list: %s", vmmk_error_last()->message);
    assert_int_equal(nl->n, 1);
    vmmk_cloud_network_list_free(nl);
    vmmk_cloud_auth_info *info = NULL;
    if (vmmk_cloud_auth_info_get(&info, c))
        fail_msg("catalog-junk: auth info: %s", vmmk_error_last()->message);
    assert_null(info->project_id);
    assert_int_equal(info->n_roles, 0);
    bool network = false;
    for (size_t i = 0; i < info->n_endpoints; i++)
        network |= info->endpoints[i].service_type &&
                   strcmp(info->endpoints[i].service_type, "network") == 0 &&
                   info->endpoints[i].url != NULL;
    assert_true(network);
    char *json = NULL;
    assert_int_equal(vmmk_cloud_auth_info_to_json(&json, info, 0), 0);
    assert_null(strstr(json, TOKEN_MARK));
    vmmk_string_free(json);
    vmmk_cloud_auth_info_free(info);
    vmmk_cloud_free(c);
}

/* A token with a minute left is renewed before the next call, once. */
static void test_expiring_token(void **state)
{
    (void)state;
    vmmk_cloud *c = begin("expiring", -1);
    assert_int_equal(count("expiring", AUTH_KEY), 1);
    for (int i = 0; i < 3; i++) {
        vmmk_string_free(
            request_ok(c, "expiring", NULL, "compute", "GET", "/flavors/detail", NULL));
    }
    json_object *st = stats("expiring"), *log;
    assert_true(json_object_object_get_ex(st, "log", &log));
    /* The renewal came first: auth, auth, then the services. */
    assert_true(json_object_array_length(log) >= 3);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(log, 0)), AUTH_KEY);
    assert_string_equal(json_object_get_string(json_object_array_get_idx(log, 1)), AUTH_KEY);
    json_object_put(st);
    /* The fresh token (an hour) is kept for the next calls. */
    assert_int_equal(count("expiring", AUTH_KEY), 2);
    assert_int_equal(count("expiring", FLAVORS_KEY), 3);
    vmmk_cloud_auth_info *info = NULL;
    assert_int_equal(vmmk_cloud_auth_info_get(&info, c), 0);
    vmmk_cloud_auth_info_free(info);
    assert_int_equal(count("expiring", AUTH_KEY), 2);
    vmmk_cloud_free(c);
}

/* A cloud whose tokens live 60 s: renewed at half-life, not before
 * every call. */
static void test_short_lived_tokens(void **state)
{
    (void)state;
    vmmk_cloud *c = begin("short-lived", -1);
    for (int i = 0; i < 3; i++) {
        vmmk_string_free(
            request_ok(c, "short-lived", NULL, "compute", "GET", "/flavors/detail", NULL));
    }
    assert_int_equal(count("short-lived", AUTH_KEY), 1);
    assert_int_equal(count("short-lived", FLAVORS_KEY), 3);
    vmmk_cloud_free(c);
}

int main(void)
{
    /* Children are reaped by waitpid; an inherited SIG_IGN would auto-reap. */
    signal(SIGCHLD, SIG_DFL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_ok),
        /* Oversized: first, while the process is small.  The response held
         * in memory is at most 64 MiB (vmmk__http_options.max_response). */
        OPEN_REFUSED("auth-huge", VMMK_EIO, "response larger than 67108864 bytes", -1, 1,
                     64 + 32, NULL),
        CALL_REFUSED("huge-length", "compute", "GET", "/flavors/detail", NULL, VMMK_EIO,
                     "response larger than 67108864 bytes", -1, FLAVORS_KEY, 1, 0, NULL, TIMEOUT,
                     0, 64 + 32),
        /* Keystone's answer. */
        OPEN_REFUSED("token-malformed", VMMK_EREMOTE, "is not a {\"token\": {...}} document", -1,
                     1, 0, NULL),
        OPEN_REFUSED("token-no-subject", VMMK_EREMOTE, "no X-Subject-Token header", -1, 1, 0,
                     NULL),
        OPEN_REFUSED("token-no-user", VMMK_EREMOTE, "has no token.user.id", -1, 1, 0, NULL),
        OPEN_REFUSED("token-deep", VMMK_EREMOTE, "is not a {\"token\": {...}} document", -1, 1, 0,
                     NULL),
        OPEN_REFUSED("auth-html-500", VMMK_EHTTP,
                     "Internal Server Error The server encountered an internal error or "
                     "misconfiguration and was unable to complete your request. More information "
                     "about this error may be available in the server error log. Apache/2.4.57",
                     0, 1, 0, NULL),
        OPEN_REFUSED("auth-401", VMMK_EAUTH,
                     "The request you have made requires authentication. (HTTP 401 from identity "
                     "POST http://127.0.0.1:",
                     -1, 1, 0, "req-5e0b1c3a-401a-4b0e-9d7e-hostile00401"),
        OPEN_REFUSED("auth-echo", VMMK_EINVAL, "Invalid input: ", -1, 1, 0, NULL),
        /* A service call that never ends, is never answered, or is hung up on. */
        CALL_REFUSED("drip", "compute", "GET", "/flavors/detail", NULL, VMMK_ETIMEOUT,
                     "no complete response within 3 s", 0, FLAVORS_KEY, 1, 0, NULL, TIMEOUT,
                     TIMEOUT - 0.5, 0),
        CALL_REFUSED("silent-post", "compute", "POST", "/servers", SERVER_BODY, VMMK_ETIMEOUT,
                     "no complete response within 3 s", -1, SERVERS_KEY, 1, 0, NULL, TIMEOUT,
                     TIMEOUT - 0.5, 0),
        /* 2: libcurl itself sends a request again, once, on a fresh
         * connection when a kept-alive one dies without an answer (a
         * server closing an idle connection); retries=0 adds nothing. */
        CALL_REFUSED("close", "compute", "GET", "/flavors/detail", NULL, VMMK_ENETWORK,
                     "GET http://127.0.0.1:", 0, FLAVORS_KEY, 2, 0, NULL, TIMEOUT, 0, 0),
        /* Status codes: what is retried, how often. */
        CALL_REFUSED("post-500", "compute", "POST", "/servers", SERVER_BODY, VMMK_EHTTP,
                     "Unexpected API Error.", -1, SERVERS_KEY, 1, 0, "computeFault", 1, 0, 0),
        CALL_REFUSED("get-500", "compute", "GET", "/flavors/detail", NULL, VMMK_EHTTP,
                     "(HTTP 500 from compute GET http://127.0.0.1:", 2, FLAVORS_KEY, 3, 0,
                     "computeFault", 2.0, 0.5, 0),
        CALL_REFUSED("reauth-always", "compute", "GET", "/flavors/detail", NULL, VMMK_EAUTH,
                     "requires authentication", -1, FLAVORS_KEY, 2, 2, NULL, 1, 0, 0),
        /* Microversions and error bodies. */
        CALL_REFUSED("mv-old", "compute", "GET", "/flavors/detail", NULL, VMMK_EUNSUPPORTED,
                     "offers microversions up to 2.50; vmmk needs 2.60 or later", -1,
                     FLAVORS_KEY, 0, 0, NULL, 1, 0, 0),
        CALL_REFUSED("deep-error", "compute", "GET", "/flavors/detail", NULL, VMMK_EINVAL,
                     "(HTTP 400 from compute GET", -1, FLAVORS_KEY, 1, 0, NULL, 1, 0, 0),
        CALL_REFUSED("neutron-error", "network", "POST", "/v2.0/ports", PORT_BODY, VMMK_ECONFLICT,
                     "The mac address fa:16:3e:00:00:01 is in use. (HTTP 409 from network POST",
                     -1, "POST /network/v2.0/ports", 1, 0, "MacAddressInUse", 1, 0, 0),
        CALL_REFUSED("nova-quota", "compute", "POST", "/servers", SERVER_BODY, VMMK_EQUOTA,
                     "Quota exceeded for instances: Requested 1, but already used 3 of 3 "
                     "instances (HTTP 403 from compute POST",
                     -1, SERVERS_KEY, 1, 0, "forbidden", 1, 0, 0),
        CALL_REFUSED("token-echo", "compute", "GET", "/flavors/detail", NULL, VMMK_EINVAL,
                     "is not welcome here", -1, FLAVORS_KEY, 1, 0, "badRequest", 1, 0, 0),
        CALL_REFUSED("fault-huge", "compute", "GET", "/flavors/detail", NULL, VMMK_EHTTP,
                     "overflow overflow", 0, FLAVORS_KEY, 1, 0, "computeFault", 2, 0, 0),
        /* Where the token must not go. */
        CALL_REFUSED("catalog-file", "compute", "GET", "/flavors/detail", NULL, VMMK_EINVAL,
                     "the compute endpoint \"file:///etc/passwd\" of cloud \"hostile\" (from the "
                     "catalog) is not an http(s) URL", -1, NULL, 0, 0,
                     NULL, 1, 0, 0),
        CALL_REFUSED("redirect-away", "compute", "GET", "/flavors/detail", NULL, VMMK_EHTTP,
                     "redirected to http://localhost:", -1, "GET /stolen", 0, 0, NULL, 1, 0, 0),
        CALL_REFUSED("html-tags", "compute", "GET", "/flavors/detail", NULL, VMMK_EHTTP,
                     "GET /flavors/detail: Gateway & proxy error (HTTP 502 from compute GET", 0,
                     FLAVORS_KEY, 1, 0, NULL, 2, 0, 0),
        /* What must work despite the server. */
        cmocka_unit_test(test_retry_503),
        cmocka_unit_test(test_retry_429_post),
        cmocka_unit_test(test_reauth_once),
        cmocka_unit_test(test_connection_close),
        cmocka_unit_test(test_pages_3),
        cmocka_unit_test(test_page_loops),
        cmocka_unit_test(test_deep_list),
        cmocka_unit_test(test_no_network),
        cmocka_unit_test(test_catalog_junk),
        cmocka_unit_test(test_expiring_token),
        cmocka_unit_test(test_short_lived_tokens),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
