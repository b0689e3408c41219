/* Keystone v3 against the real OpenStack sandbox (tests/openstack/ostack.sh):
 * every auth type, the catalog and endpoint choice, token renewal before
 * expiry and after a revocation behind the client's back, microversion
 * negotiation, and the failures a user meets first (wrong password,
 * Keystone down, unknown region).  Skips without the sandbox
 * (cloud_fixture.h). */
#include "cloud_fixture.h"

#include <time.h>

#include "cloud/cloud_int.h"
#include "common/http.h"

static void check_info(vmmk_cloud *c, const char *user, const char *project)
{
    vmmk_cloud_auth_info *i = NULL;
    CLOUD_OK(vmmk_cloud_auth_info_get(&i, c));
    assert_non_null(i->user_id);
    assert_string_equal(i->user_name, user);
    assert_non_null(i->project_id);
    assert_string_equal(i->project_name, project);
    assert_non_null(i->expires_at);
    assert_true(i->n_roles >= 1);
    bool types[5] = { false };
    const char *want[5] = { "identity", "compute", "network", "image", "volumev3" };
    for (size_t k = 0; k < i->n_endpoints; k++)
        for (int t = 0; t < 5; t++)
            if (i->endpoints[k].service_type && strcmp(i->endpoints[k].service_type, want[t]) == 0)
                types[t] = true;
    for (int t = 0; t < 5; t++)
        if (!types[t])
            fail_msg("catalog has no %s endpoint", want[t]);
    char *json = NULL;
    CLOUD_OK(vmmk_cloud_auth_info_to_json(&json, i, 0));
    assert_non_null(strstr(json, i->project_id));
    /* The token never appears in what is shown. */
    assert_null(strstr(json, c->token));
    vmmk_string_free(json);
    vmmk_cloud_auth_info_free(i);
}

static void test_password_admin(void **state)
{
    (void)state;
    vmmk_cloud *c = cloud_fixture_open("vmmk-admin");
    check_info(c, "admin", "admin");
    vmmk_cloud_free(c);
}

static void test_password_demo_secure_yaml(void **state)
{
    (void)state;
    vmmk_cloud *c = cloud_fixture_open("vmmk-demo");
    check_info(c, "demo", "demo");
    vmmk_cloud_free(c);
}

static void test_appcred(void **state)
{
    (void)state;
    const char *names[] = { "vmmk-appcred", "vmmk-appcred-name" };
    for (int k = 0; k < 2; k++) {
        vmmk_cloud *c = cloud_fixture_open(names[k]);
        check_info(c, "demo", "demo");
        vmmk_cloud_free(c);
    }
}

static void test_wrong_password(void **state)
{
    (void)state;
    const char *file = cloud_fixture_file();
    vmmk_cloud_options o = VMMK_CLOUD_OPTIONS_INIT;
    o.cloud = "vmmk-badpw";
    o.clouds_file = file;
    vmmk_cloud *c = NULL;
    int rc = vmmk_cloud_open(&c, &o);
    assert_int_equal(rc, VMMK_EAUTH);
    assert_null(c);
    const vmmk_error *e = vmmk_error_last();
    assert_int_equal(e->http_status, 401);
    assert_non_null(strstr(e->message, "Keystone at http://127.0.0.1:5000/v3"));
    assert_non_null(strstr(e->message, "vmmk-badpw"));
    assert_non_null(strstr(e->message, "request id req-"));
    assert_non_null(e->detail);
    assert_null(strstr(e->message, "wrong-password"));
}

static void test_keystone_down(void **state)
{
    (void)state;
    const char *file = cloud_fixture_file();
    vmmk_cloud_options o = VMMK_CLOUD_OPTIONS_INIT;
    o.cloud = "vmmk-down";
    o.clouds_file = file;
    o.retries = 1;
    vmmk_cloud *c = NULL;
    time_t t0 = time(NULL);
    int rc = vmmk_cloud_open(&c, &o);
    assert_int_equal(rc, VMMK_ENETWORK);
    const char *m = vmmk_error_last()->message;
    assert_non_null(strstr(m, "127.0.0.1:5999"));
    assert_non_null(strstr(m, "Keystone"));
    assert_true(time(NULL) - t0 < 30);
}

static void test_endpoints(void **state)
{
    (void)state;
    vmmk_cloud *c = cloud_fixture_open("vmmk-demo");
    char *url = NULL;
    CLOUD_OK(vmmk_cloud_endpoint_url(&url, c, "compute"));
    assert_non_null(strstr(url, ":8774/v2.1"));
    vmmk_string_free(url);
    const char *vol[] = { "block-storage", "volumev3", "volume" };
    for (int k = 0; k < 3; k++) {
        CLOUD_OK(vmmk_cloud_endpoint_url(&url, c, vol[k]));
        assert_non_null(strstr(url, ":8776/v3/"));
        assert_non_null(strstr(url, c->project_id));
        vmmk_string_free(url);
    }
    CLOUD_OK(vmmk_cloud_endpoint_url(&url, c, "network"));
    assert_non_null(strstr(url, ":9696"));
    vmmk_string_free(url);
    CLOUD_OK(vmmk_cloud_endpoint_url(&url, c, "image"));
    assert_non_null(strstr(url, ":9292"));
    vmmk_string_free(url);
    assert_int_equal(vmmk_cloud_endpoint_url(&url, c, "dns"), VMMK_EINVAL);
    vmmk_cloud_free(c);

    /* A region the catalog does not have. */
    vmmk_cloud_options o = VMMK_CLOUD_OPTIONS_INIT;
    o.cloud = "vmmk-demo";
    o.clouds_file = cloud_fixture_file();
    o.region = "NoSuchRegion";
    CLOUD_OK(vmmk_cloud_open(&c, &o));
    assert_int_equal(vmmk_cloud_endpoint_url(&url, c, "compute"), VMMK_ENOTFOUND);
    const char *m = vmmk_error_last()->message;
    assert_non_null(strstr(m, "NoSuchRegion"));
    assert_non_null(strstr(m, "compute"));
    assert_non_null(strstr(m, "it lists:"));
    vmmk_cloud_free(c);
}

static void test_microversions(void **state)
{
    (void)state;
    vmmk_cloud *c = cloud_fixture_open("vmmk-demo");
    char *body = NULL;
    long status = 0;
    CLOUD_OK(vmmk_cloud_request(&body, &status, c, "compute", "GET", "/flavors", NULL));
    assert_int_equal(status, 200);
    vmmk_string_free(body);
    assert_true(c->mv[VMMK__SVC_COMPUTE].negotiated);
    assert_int_equal(c->mv[VMMK__SVC_COMPUTE].major, 2);
    assert_int_equal(c->mv[VMMK__SVC_COMPUTE].minor, 79);
    assert_true(c->mv[VMMK__SVC_COMPUTE].max_minor >= 79);
    CLOUD_OK(vmmk_cloud_request(&body, &status, c, "volumev3", "GET", "/volumes", NULL));
    vmmk_string_free(body);
    assert_int_equal(c->mv[VMMK__SVC_VOLUME].major, 3);
    assert_int_equal(c->mv[VMMK__SVC_VOLUME].minor, 59);
    assert_true(vmmk__os_mv_at_least(c, VMMK__SVC_VOLUME, 3, 40));
    assert_false(vmmk__os_mv_at_least(c, VMMK__SVC_VOLUME, 3, 60));
    /* A 404 of the raw call is an error naming the path. */
    assert_int_equal(vmmk_cloud_request(&body, &status, c, "compute", "GET",
                                        "/servers/00000000-0000-0000-0000-000000000000", NULL),
                     VMMK_ENOTFOUND);
    assert_int_equal(status, 404);
    assert_non_null(strstr(vmmk_error_last()->message, "/servers/00000000"));
    assert_non_null(strstr(vmmk_error_last()->message, "request id req-"));
    vmmk_cloud_free(c);
}

/* The token is renewed before it expires: pretend it expires in a minute. */
static void test_renew_before_expiry(void **state)
{
    (void)state;
    vmmk_cloud *c = cloud_fixture_open("vmmk-demo");
    char *old = strdup(c->token);
    c->expires = time(NULL) + 60;
    char *body = NULL;
    CLOUD_OK(vmmk_cloud_request(&body, NULL, c, "network", "GET", "/v2.0/networks", NULL));
    vmmk_string_free(body);
    assert_string_not_equal(old, c->token);
    assert_true(c->expires > time(NULL) + 3600);
    free(old);
    vmmk_cloud_free(c);
}

/* A token revoked behind the client's back: the next call gets a 401,
 * authenticates once more and succeeds. */
static void test_renew_after_revocation(void **state)
{
    (void)state;
    vmmk_cloud *c = cloud_fixture_open("vmmk-demo");
    vmmk_cloud *admin = cloud_fixture_open("vmmk-admin");
    char *old = strdup(c->token);
    /* DELETE /v3/auth/tokens with X-Subject-Token: revoke c's token. */
    vmmk__http *h = NULL;
    vmmk__http_options ho = { .base_url = "http://127.0.0.1:5000" };
    CLOUD_OK(vmmk__http_new(&h, &ho));
    char a[1024], s[1024];
    snprintf(a, sizeof a, "X-Auth-Token: %s", admin->token);
    snprintf(s, sizeof s, "X-Subject-Token: %s", c->token);
    const char *hdrs[] = { a, s, NULL };
    vmmk__http_response resp;
    CLOUD_OK(vmmk__http_request(h, "DELETE", "/v3/auth/tokens", hdrs, NULL, 0, &resp));
    assert_int_equal(resp.status, 204);
    vmmk__http_response_clear(&resp);
    vmmk__http_free(h);

    char *body = NULL;
    long status = 0;
    CLOUD_OK(vmmk_cloud_request(&body, &status, c, "compute", "GET", "/flavors", NULL));
    assert_int_equal(status, 200);
    vmmk_string_free(body);
    assert_string_not_equal(old, c->token);
    free(old);
    vmmk_cloud_free(admin);
    vmmk_cloud_free(c);
}

/* vmmk_cloud_reauthenticate gets a new token at once. */
static void test_reauthenticate(void **state)
{
    (void)state;
    vmmk_cloud *c = cloud_fixture_open("vmmk-demo");
    char *old = strdup(c->token);
    CLOUD_OK(vmmk_cloud_reauthenticate(c));
    assert_string_not_equal(old, c->token);
    free(old);
    vmmk_cloud_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_password_admin),
        cmocka_unit_test(test_password_demo_secure_yaml),
        cmocka_unit_test(test_appcred),
        cmocka_unit_test(test_wrong_password),
        cmocka_unit_test(test_keystone_down),
        cmocka_unit_test(test_endpoints),
        cmocka_unit_test(test_microversions),
        cmocka_unit_test(test_renew_before_expiry),
        cmocka_unit_test(test_renew_after_revocation),
        cmocka_unit_test(test_reauthenticate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
