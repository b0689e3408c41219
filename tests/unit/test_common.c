/* Version, errors, logging, redaction and the name sanitizer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmmk/vmmk.h>
#include "common/internal.h"

static void test_version(void **state)
{
    (void)state;
    const char *v = vmmk_version();
    unsigned a, b, c;
    char tail;
    assert_int_equal(sscanf(v, "%u.%u.%u%c", &a, &b, &c, &tail), 3);
}

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(vmmk_strerror(VMMK_OK), "success");
    assert_string_equal(vmmk_strerror(VMMK_EINVAL), "invalid argument");
    assert_string_equal(vmmk_strerror(VMMK_ENOFIT), "no flavor fits");
    assert_string_equal(vmmk_strerror(-9999), "unknown error");
    for (int c = 0; c >= VMMK_ENETWORK; c--)
        assert_string_not_equal(vmmk_strerror(c), "unknown error");
}

static void test_error_last(void **state)
{
    (void)state;
    vmmk_error_clear();
    assert_int_equal(vmmk_error_last()->code, VMMK_OK);
    assert_string_equal(vmmk_error_last()->message, "");
    assert_int_equal(vmmk__err_full(VMMK_EHTTP, "itemNotFound", "body text", 404, 0, "volume %s: gone", "v1"),
                     VMMK_EHTTP);
    const vmmk_error *e = vmmk_error_last();
    assert_int_equal(e->code, VMMK_EHTTP);
    assert_string_equal(e->message, "volume v1: gone");
    assert_string_equal(e->fault, "itemNotFound");
    assert_string_equal(e->detail, "body text");
    assert_int_equal(e->http_status, 404);
    vmmk__err_prefix("cloud %s", "dst");
    assert_string_equal(vmmk_error_last()->message, "cloud dst: volume v1: gone");
    assert_int_equal(vmmk_error_last()->code, VMMK_EHTTP);
    vmmk_error_clear();
    assert_null(vmmk_error_last()->fault);
}

static void *other_thread(void *arg)
{
    (void)arg;
    /* A fresh thread sees no error from the main thread. */
    int *code = malloc(sizeof *code);
    *code = vmmk_error_last()->code;
    vmmk__err(VMMK_EIO, "thread error");
    return code;
}

static void test_error_thread_local(void **state)
{
    (void)state;
    vmmk__err(VMMK_EINVAL, "main error");
    pthread_t t;
    void *res;
    assert_int_equal(pthread_create(&t, NULL, other_thread, NULL), 0);
    pthread_join(t, &res);
    assert_int_equal(*(int *)res, VMMK_OK);
    free(res);
    assert_string_equal(vmmk_error_last()->message, "main error");
}

static void test_error_is_redacted(void **state)
{
    (void)state;
    vmmk_secret_register("hunter2-secret");
    vmmk__err(VMMK_EAUTH, "login with hunter2-secret failed");
    assert_string_equal(vmmk_error_last()->message, "login with *** failed");
    vmmk__err_full(VMMK_EREMOTE, NULL, "<password>hunter2-secret</password>", 500, 0, "fault");
    assert_null(strstr(vmmk_error_last()->detail, "hunter2"));
    vmmk_secret_unregister("hunter2-secret");
}

static void check_redact(const char *in, const char *want)
{
    char *out = NULL;
    assert_int_equal(vmmk_redact(&out, in), 0);
    assert_string_equal(out, want);
    vmmk_string_free(out);
}

static void test_redact_patterns(void **state)
{
    (void)state;
    check_redact("X-Auth-Token: gAAAAABk123\r\nAccept: */*", "X-Auth-Token: ***\r\nAccept: */*");
    check_redact("x-subject-token: abc", "x-subject-token: ***");
    check_redact("Authorization: Basic dXNlcjpwYXNz", "Authorization: ***");
    check_redact("Cookie: vmware_soap_session=\"52a1\"; Path=/", "Cookie: ***");
    check_redact("set vmware_soap_session=\"52a1b2c3\" ok", "set vmware_soap_session=\"***\" ok");
    check_redact("{\"user\": {\"name\": \"admin\", \"password\": \"s3cr\\\"et\"}}",
                 "{\"user\": {\"name\": \"admin\", \"password\": \"***\"}}");
    check_redact("{\"application_credential_secret\":\"abcd\"}", "{\"application_credential_secret\":\"***\"}");
    check_redact("<userName>root</userName><password>pa55</password>",
                 "<userName>root</userName><password>***</password>");
    check_redact("<vim25:password>pa55</vim25:password>", "<vim25:password>***</vim25:password>");
    check_redact("https://admin:pa55w0rd@vc.example/sdk", "https://admin:***@vc.example/sdk");
    check_redact("nbdkit vddk password=pa55 user=root", "nbdkit vddk password=*** user=root");
    check_redact("nothing secret here: 10 GiB copied", "nothing secret here: 10 GiB copied");
    check_redact("", "");
    char *out = (char *)1;
    assert_int_equal(vmmk_redact(&out, NULL), VMMK_EINVAL);
    assert_null(out);
}

static void test_redact_registered(void **state)
{
    (void)state;
    vmmk_secret_register("tok");               /* too short: ignored */
    vmmk_secret_register("abcdef");
    vmmk_secret_register("abcdefghij");        /* longer one containing the shorter */
    check_redact("tok abcdefghij abcdef", "tok *** ***");
    vmmk_secret_unregister("abcdefghij");
    check_redact("abcdefghij", "***ghij");
    vmmk_secret_unregister("abcdef");
    check_redact("abcdef", "abcdef");
}

typedef struct log_capture {
    int calls;
    int level;
    char last[256];
} log_capture;

static void capture(int level, const char *message, void *payload)
{
    log_capture *c = payload;
    c->calls++;
    c->level = level;
    snprintf(c->last, sizeof c->last, "%s", message);
}

static void test_logging(void **state)
{
    (void)state;
    log_capture cap = { 0 };
    vmmk_log_set_callback(capture, &cap);
    vmmk_log_set_level(VMMK_LOG_INFO);
    assert_int_equal(vmmk_log_get_level(), VMMK_LOG_INFO);
    vmmk__log(VMMK_LOG_DEBUG, "dropped");
    assert_int_equal(cap.calls, 0);
    vmmk__log(VMMK_LOG_INFO, "sending X-Auth-Token: %s", "gAAAA-token-value");
    assert_int_equal(cap.calls, 1);
    assert_int_equal(cap.level, VMMK_LOG_INFO);
    assert_string_equal(cap.last, "sending X-Auth-Token: ***");
    vmmk_log_set_level(99);
    assert_int_equal(vmmk_log_get_level(), VMMK_LOG_TRACE);
    vmmk_log_set_level(VMMK_LOG_WARN);
    vmmk_log_set_callback(NULL, NULL);
    assert_string_equal(vmmk_log_level_name(VMMK_LOG_DEBUG), "debug");
}

static void check_name(const char *in, size_t max, const char *want)
{
    char *out = NULL;
    assert_int_equal(vmmk_name_sanitize(&out, in, max), 0);
    assert_string_equal(out, want);
    vmmk_string_free(out);
}

static void test_names(void **state)
{
    (void)state;
    check_name("web-01", 0, "web-01");
    check_name("web 01 (prod)", 0, "web-01-prod");
    check_name("Café Müller/Straße", 0, "Cafe-Muller-Strasse");
    check_name("Łódź Æther Œuvre", 0, "Lodz-AEther-OEuvre");
    check_name("データベース", 0, "unnamed");
    check_name("db-データ-01", 0, "db-01");
    check_name("  --__..x..__--  ", 0, "x");
    check_name("a\xff\xfe" "b", 0, "a-b");            /* invalid UTF-8 is a separator */
    check_name("", 0, "unnamed");
    check_name("abcdefghij", 5, "abcde");
    check_name("abcd-efghij", 5, "abcd");             /* no trailing '-' after the cut */
    check_name("x", 3, "x");
    check_name("", 3, "unn");
    char longname[400];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    char *out = NULL;
    assert_int_equal(vmmk_name_sanitize(&out, longname, 0), 0);
    assert_int_equal(strlen(out), VMMK_NAME_DEFAULT_MAX);
    vmmk_string_free(out);
    assert_int_equal(vmmk_name_sanitize(&out, "x", VMMK_NAME_MAX + 1), VMMK_EINVAL);
    assert_non_null(strstr(vmmk_error_last()->message, "max_len"));
    assert_int_equal(vmmk_name_sanitize(&out, NULL, 0), VMMK_EINVAL);
}

static void test_read_file(void **state)
{
    (void)state;
    char *data;
    size_t len;
    assert_int_equal(vmmk__read_file(&data, &len, "/nonexistent/vm.json"), VMMK_ENOTFOUND);
    assert_string_equal(vmmk_error_last()->message,
                        "/nonexistent/vm.json: cannot open: No such file or directory");
    assert_int_not_equal(vmmk_error_last()->sys_errno, 0);
    assert_int_equal(vmmk__read_file(&data, &len, "/"), VMMK_EIO);
    assert_string_equal(vmmk_error_last()->message, "/: is a directory");
    assert_int_equal(vmmk__read_file(&data, &len, VMMK_SOURCE_DIR "/examples/vm.json"), 0);
    assert_true(len > 100);
    assert_int_equal(strlen(data), len);
    free(data);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_version),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_error_last),
        cmocka_unit_test(test_error_thread_local),
        cmocka_unit_test(test_error_is_redacted),
        cmocka_unit_test(test_redact_patterns),
        cmocka_unit_test(test_redact_registered),
        cmocka_unit_test(test_logging),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_read_file),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
