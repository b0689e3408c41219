/* clouds.yaml / secure.yaml / OS_* resolution (libvmmk/cloud/config.c).
 * Every case runs in its own temp directory with a fake environment given
 * through vmmk__cloud_env, so the real HOME, cwd and /etc never matter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmmk/vmmk.h>
#include "process_fixture.h"
#include "cloud/config.h"
#include "cloud/yaml.h"
#include "common/internal.h"

typedef struct {
    char root[64], cwd[PATH_MAX], home[PATH_MAX], etc[PATH_MAX];
    char user_dir[PATH_MAX];
    const char *vars[64];      /* "NAME=value" */
    size_t n_vars;
    vmmk__cloud_env env;
} fx;

static const char *fake_getenv(const char *name, void *payload)
{
    fx *f = payload;
    size_t nl = strlen(name);
    for (size_t i = f->n_vars; i > 0; i--)
        if (strncmp(f->vars[i - 1], name, nl) == 0 && f->vars[i - 1][nl] == '=')
            return f->vars[i - 1] + nl + 1;
    return NULL;
}

static void setvar(fx *f, const char *nv)
{
    assert_true(f->n_vars < 64);
    f->vars[f->n_vars++] = nv;
}

static void mkdir_p(const char *p)
{
    char b[PATH_MAX];
    snprintf(b, sizeof b, "%s", p);
    for (char *s = b + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            mkdir(b, 0700);
            *s = '/';
        }
    mkdir(b, 0700);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    snprintf(f->root, sizeof f->root, "/tmp/vmmk-cloudcfg-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->cwd, sizeof f->cwd, "%s/cwd", f->root);
    snprintf(f->home, sizeof f->home, "%s/home", f->root);
    snprintf(f->user_dir, sizeof f->user_dir, "%s/home/.config/openstack", f->root);
    snprintf(f->etc, sizeof f->etc, "%s/etc/openstack", f->root);
    mkdir_p(f->cwd);
    mkdir_p(f->user_dir);
    mkdir_p(f->etc);
    f->env.getenv = fake_getenv;
    f->env.payload = f;
    f->env.home = f->home;
    f->env.cwd = f->cwd;
    f->env.system_dir = f->etc;
    vmmk_error_clear();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    int rc = remove_tree(f->root);
    free(f);
    return rc;
}

static const char *put(char *path, size_t sz, const char *dir, const char *name,
                       const char *text, mode_t mode)
{
    snprintf(path, sz, "%s/%s", dir, name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    chmod(path, mode);
    return path;
}

static char paths[8][PATH_MAX];
#define PUT(i, dir, name, text) put(paths[i], sizeof paths[i], dir, name, text, 0600)

static vmmk__cloud_config *load_ok(fx *f, const char *name)
{
    vmmk__cloud_config *c = NULL;
    int rc = vmmk__cloud_config_load(&c, name, &f->env);
    if (rc)
        fail_msg("load failed: %s", vmmk_error_last()->message);
    assert_non_null(c);
    return c;
}

static void load_err(fx *f, const char *name, int code, const char *msg)
{
    vmmk__cloud_config *c = (void *)1;
    int rc = vmmk__cloud_config_load(&c, name, &f->env);
    assert_null(c);
    if (rc != code)
        fail_msg("rc %d, want %d: %s", rc, code, vmmk_error_last()->message);
    assert_string_equal(vmmk_error_last()->message, msg);
}

static const char *const BASIC =
    "clouds:\n"
    "  dev:\n"
    "    auth:\n"
    "      auth_url: https://keystone.example:5000\n"
    "      username: alice\n"
    "      password: Dev-Pass-1\n"
    "      project_name: demo\n"
    "    region_name: RegionOne\n"
    "  staging:\n"
    "    auth:\n"
    "      auth_url: http://10.0.0.1/identity/v3/\n"
    "      user_id: u123\n"
    "      password: Staging-Pass-2\n";

/* ---- file search ---------------------------------------------------- */

static void test_search_order(void **state)
{
    fx *f = *state;
    PUT(0, f->etc, "clouds.yaml", "clouds: {dev: {auth: {auth_url: 'https://etc', token: Tok-etc-1}}}\n");
    vmmk__cloud_config *c = load_ok(f, "dev");
    assert_string_equal(c->auth_url, "https://etc/v3");
    assert_string_equal(c->clouds_file, paths[0]);
    vmmk__cloud_config_free(c);

    PUT(1, f->user_dir, "clouds.yml", "clouds: {dev: {auth: {auth_url: 'https://home', token: Tok-home-1}}}\n");
    c = load_ok(f, "dev");
    assert_string_equal(c->auth_url, "https://home/v3");
    assert_string_equal(c->clouds_file, paths[1]);
    vmmk__cloud_config_free(c);

    PUT(2, f->cwd, "clouds.yaml", "clouds: {dev: {auth: {auth_url: 'https://cwd', token: Tok-cwd-1}}}\n");
    c = load_ok(f, "dev");
    assert_string_equal(c->auth_url, "https://cwd/v3");
    assert_string_equal(c->clouds_file, paths[2]);
    assert_null(c->secure_file);
    vmmk__cloud_config_free(c);

    /* XDG_CONFIG_HOME replaces ~/.config. */
    unlink(paths[2]);
    char xdg[PATH_MAX], var[PATH_MAX + 32];
    snprintf(xdg, sizeof xdg, "%s/xdg/openstack", f->root);
    mkdir_p(xdg);
    PUT(3, xdg, "clouds.yaml", "clouds: {dev: {auth: {auth_url: 'https://xdg', token: Tok-xdg-1}}}\n");
    snprintf(var, sizeof var, "XDG_CONFIG_HOME=%s/xdg", f->root);
    setvar(f, var);
    c = load_ok(f, "dev");
    assert_string_equal(c->auth_url, "https://xdg/v3");
    vmmk__cloud_config_free(c);
}

static void test_client_config_file(void **state)
{
    fx *f = *state;
    PUT(0, f->cwd, "clouds.yaml", BASIC);
    PUT(1, f->root, "other.yaml", "clouds: {dev: {auth: {auth_url: 'https://other', token: Tok-other-1}}}\n");
    char var[PATH_MAX + 32];
    snprintf(var, sizeof var, "OS_CLIENT_CONFIG_FILE=%s", paths[1]);
    setvar(f, var);
    vmmk__cloud_config *c = load_ok(f, "dev");
    assert_string_equal(c->auth_url, "https://other/v3");
    assert_string_equal(c->clouds_file, paths[1]);
    assert_int_equal(c->auth_type, VMMK__CLOUD_AUTH_TOKEN);
    vmmk__cloud_config_free(c);

    setvar(f, "OS_CLIENT_CONFIG_FILE=/nonexistent/clouds.yaml");
    load_err(f, "dev", VMMK_ENOTFOUND,
             "/nonexistent/clouds.yaml: OS_CLIENT_CONFIG_FILE names a file that does not exist");
}

static void test_no_file(void **state)
{
    fx *f = *state;
    char want[4 * PATH_MAX];
    snprintf(want, sizeof want,
             "cloud \"prod\": no clouds.yaml found (looked for %s/clouds.yaml, "
             "%s/clouds.yaml, %s/clouds.yaml)", f->cwd, f->user_dir, f->etc);
    load_err(f, "prod", VMMK_ENOTFOUND, want);
}

static void test_secure_merge(void **state)
{
    fx *f = *state;
    PUT(0, f->cwd, "clouds.yaml", BASIC);
    PUT(1, f->user_dir, "secure.yaml",
        "clouds:\n"
        "  dev:\n"
        "    auth:\n"
        "      password: From-Secure-1\n"
        "    region_name: RegionTwo\n"
        "  onlysecure:\n"
        "    auth: {auth_url: 'https://s', application_credential_id: ac1, application_credential_secret: Sec-Only-1}\n");
    vmmk__cloud_config *c = load_ok(f, "dev");
    assert_string_equal(c->password, "From-Secure-1");     /* secure.yaml wins */
    assert_string_equal(c->username, "alice");             /* the rest is kept */
    assert_string_equal(c->project_name, "demo");
    assert_string_equal(c->region_name, "RegionTwo");
    assert_string_equal(c->clouds_file, paths[0]);
    assert_string_equal(c->secure_file, paths[1]);
    vmmk__cloud_config_free(c);

    c = load_ok(f, "onlysecure");
    assert_int_equal(c->auth_type, VMMK__CLOUD_AUTH_APPCRED);
    vmmk__cloud_config_free(c);

    /* OS_CLIENT_SECURE_FILE names it directly. */
    PUT(2, f->root, "s2.yaml", "clouds: {dev: {auth: {password: From-S2-pass}}}\n");
    char var[PATH_MAX + 32];
    snprintf(var, sizeof var, "OS_CLIENT_SECURE_FILE=%s", paths[2]);
    setvar(f, var);
    c = load_ok(f, "dev");
    assert_string_equal(c->password, "From-S2-pass");
    assert_string_equal(c->secure_file, paths[2]);
    vmmk__cloud_config_free(c);

    /* Errors in secure.yaml name secure.yaml. */
    PUT(2, f->root, "s2.yaml", "clouds: {dev: {interface: sideways}}\n");
    char want[2 * PATH_MAX];
    snprintf(want, sizeof want,
             "%s: clouds.dev.interface: \"sideways\" is not one of public, internal, admin", paths[2]);
    load_err(f, "dev", VMMK_EINVAL, want);
}

/* ---- selecting the cloud -------------------------------------------- */

static void test_select(void **state)
{
    fx *f = *state;
    PUT(0, f->cwd, "clouds.yaml", BASIC);
    setvar(f, "OS_CLOUD=staging");
    vmmk__cloud_config *c = load_ok(f, NULL);
    assert_string_equal(c->name, "staging");
    assert_string_equal(c->user_id, "u123");
    assert_string_equal(c->auth_url, "http://10.0.0.1/identity/v3");
    vmmk__cloud_config_free(c);

    c = load_ok(f, "dev");                  /* an explicit name beats OS_CLOUD */
    assert_string_equal(c->name, "dev");
    assert_string_equal(c->auth_url, "https://keystone.example:5000/v3");
    assert_int_equal(c->auth_type, VMMK__CLOUD_AUTH_PASSWORD);
    assert_string_equal(c->user_domain_id, "default");
    assert_string_equal(c->project_domain_id, "default");
    assert_int_equal(c->interface, VMMK__CLOUD_IF_PUBLIC);
    assert_true(c->verify);
    vmmk__cloud_config_free(c);

    char want[2 * PATH_MAX];
    snprintf(want, sizeof want, "cloud \"prod\" is not in %s (it has: dev, staging)", paths[0]);
    load_err(f, "prod", VMMK_ENOTFOUND, want);

    PUT(0, f->cwd, "clouds.yaml", "clouds: {}\n");
    snprintf(want, sizeof want, "cloud \"prod\" is not in %s (it has: none)", paths[0]);
    load_err(f, "prod", VMMK_ENOTFOUND, want);
}

static void test_envvars(void **state)
{
    fx *f = *state;
    PUT(0, f->cwd, "clouds.yaml", BASIC);   /* not used: no cloud named */
    setvar(f, "OS_AUTH_URL=https://ks.example/identity");
    setvar(f, "OS_USERNAME=bob");
    setvar(f, "OS_PASSWORD=Env-Pass-99");
    setvar(f, "OS_TENANT_NAME=oldproj");
    setvar(f, "OS_PROJECT_DOMAIN_NAME=pdom");
    setvar(f, "OS_USER_DOMAIN_ID=udom");
    setvar(f, "OS_REGION_NAME=R9");
    setvar(f, "OS_ENDPOINT_TYPE=internalURL");
    setvar(f, "OS_CACERT=/ca.pem");
    setvar(f, "OS_CERT=/c.pem");
    setvar(f, "OS_KEY=/k.pem");
    setvar(f, "OS_INSECURE=true");
    setvar(f, "OS_IDENTITY_API_VERSION=3");
    setvar(f, "OS_COMPUTE_API_VERSION=2.latest");     /* ignored */
    setvar(f, "OS_VOLUME_API_VERSION=3.50");          /* ignored */
    setvar(f, "OS_COMPUTE_ENDPOINT_OVERRIDE=http://nova:8774/v2.1");
    setvar(f, "OS_VOLUME_ENDPOINT_OVERRIDE=http://cinder:8776/v3");
    setvar(f, "OS_USER_ID=");                         /* empty = unset */
    vmmk__cloud_config *c = load_ok(f, NULL);
    assert_string_equal(c->name, "envvars");
    assert_null(c->clouds_file);
    assert_string_equal(c->auth_url, "https://ks.example/identity/v3");
    assert_string_equal(c->username, "bob");
    assert_null(c->user_id);
    assert_string_equal(c->password, "Env-Pass-99");
    assert_string_equal(c->project_name, "oldproj");
    assert_string_equal(c->project_domain_name, "pdom");
    assert_null(c->project_domain_id);
    assert_string_equal(c->user_domain_id, "udom");
    assert_string_equal(c->region_name, "R9");
    assert_int_equal(c->interface, VMMK__CLOUD_IF_INTERNAL);
    assert_string_equal(c->cacert, "/ca.pem");
    assert_string_equal(c->cert, "/c.pem");
    assert_string_equal(c->key, "/k.pem");
    assert_false(c->verify);
    assert_string_equal(vmmk__cloud_config_endpoint_override(c, "compute"), "http://nova:8774/v2.1");
    assert_string_equal(vmmk__cloud_config_endpoint_override(c, "volumev3"), "http://cinder:8776/v3");
    assert_null(vmmk__cloud_config_endpoint_override(c, "image"));
    vmmk__cloud_config_free(c);

    /* OS_PROJECT_NAME beats OS_TENANT_NAME; "envvars" can be named. */
    setvar(f, "OS_PROJECT_NAME=newproj");
    c = load_ok(f, "envvars");
    assert_string_equal(c->project_name, "newproj");
    vmmk__cloud_config_free(c);

    /* App credential and token from the environment. */
    fx g = *f;
    g.env.payload = &g;
    g.n_vars = 0;
    setvar(&g, "OS_AUTH_URL=https://ks/v3");
    setvar(&g, "OS_APPLICATION_CREDENTIAL_ID=acid");
    setvar(&g, "OS_APPLICATION_CREDENTIAL_SECRET=Env-AC-Secret");
    c = load_ok(&g, NULL);
    assert_int_equal(c->auth_type, VMMK__CLOUD_AUTH_APPCRED);
    assert_string_equal(c->application_credential_secret, "Env-AC-Secret");
    vmmk__cloud_config_free(c);
    g.n_vars = 0;
    setvar(&g, "OS_AUTH_URL=https://ks/v3");
    setvar(&g, "OS_TOKEN=Env-Token-123");
    setvar(&g, "OS_PROJECT_ID=p1");
    c = load_ok(&g, NULL);
    assert_int_equal(c->auth_type, VMMK__CLOUD_AUTH_TOKEN);
    assert_string_equal(c->token, "Env-Token-123");
    assert_null(c->project_domain_id);              /* a project id needs no domain */
    vmmk__cloud_config_free(c);
    g.n_vars = 0;
    setvar(&g, "OS_AUTH_URL=https://ks/v3");
    setvar(&g, "OS_AUTH_TYPE=password");
    setvar(&g, "OS_TOKEN=Env-Token-456");
    load_err(&g, NULL, VMMK_EINVAL, "environment: password auth needs OS_USERNAME or OS_USER_ID");
    g.n_vars = 0;
    load_err(&g, NULL, VMMK_EINVAL,
             "environment: OS_AUTH_URL: missing (set it, or select a clouds.yaml cloud with OS_CLOUD)");
}

static void test_env_does_not_override_cloud(void **state)
{
    fx *f = *state;
    PUT(0, f->cwd, "clouds.yaml", BASIC);
    setvar(f, "OS_AUTH_URL=https://evil.example/v3");
    setvar(f, "OS_USERNAME=mallory");
    setvar(f, "OS_PASSWORD=Env-Other-Pass");
    setvar(f, "OS_PROJECT_NAME=other");
    /* ... but the openstack client's global options do apply: */
    setvar(f, "OS_REGION_NAME=RegionEnv");
    setvar(f, "OS_INTERFACE=admin");
    setvar(f, "OS_CACERT=/env-ca.pem");
    vmmk__cloud_config *c = load_ok(f, "dev");
    assert_string_equal(c->auth_url, "https://keystone.example:5000/v3");
    assert_string_equal(c->username, "alice");
    assert_string_equal(c->password, "Dev-Pass-1");
    assert_string_equal(c->project_name, "demo");
    assert_string_equal(c->region_name, "RegionEnv");
    assert_int_equal(c->interface, VMMK__CLOUD_IF_ADMIN);
    assert_string_equal(c->cacert, "/env-ca.pem");
    vmmk__cloud_config_free(c);

    setvar(f, "OS_INTERFACE=bogus");
    load_err(f, "dev", VMMK_EINVAL,
             "environment: OS_INTERFACE: \"bogus\" is not one of public, internal, admin");
}

/* ---- settings and validation ---------------------------------------- */

static void want_cloud_err(fx *f, const char *cloud_yaml, int code, const char *tail)
{
    char text[4096], want[2 * PATH_MAX + 512];
    snprintf(text, sizeof text, "clouds:\n  c:\n%s", cloud_yaml);
    PUT(0, f->cwd, "clouds.yaml", text);
    snprintf(want, sizeof want, "%s: %s", paths[0], tail);
    load_err(f, "c", code, want);
}

static vmmk__cloud_config *cloud_ok(fx *f, const char *cloud_yaml)
{
    char text[4096];
    snprintf(text, sizeof text, "clouds:\n  c:\n%s", cloud_yaml);
    PUT(0, f->cwd, "clouds.yaml", text);
    return load_ok(f, "c");
}

static void test_validation(void **state)
{
    fx *f = *state;
    want_cloud_err(f, "    auth: {username: a, password: Val-Pass-1}\n", VMMK_EINVAL,
                   "clouds.c.auth.auth_url: missing");
    want_cloud_err(f, "    auth: {auth_url: 'https://k', password: Val-Pass-1}\n", VMMK_EINVAL,
                   "clouds.c: password auth needs auth.username or auth.user_id");
    want_cloud_err(f, "    auth: {auth_url: 'https://k', username: a}\n", VMMK_EINVAL,
                   "clouds.c.auth.password: missing (password auth)");
    want_cloud_err(f, "    auth: {auth_url: 'https://k', application_credential_id: x}\n",
                   VMMK_EINVAL,
                   "clouds.c.auth.application_credential_secret: missing (application credential auth)");
    want_cloud_err(f,
                   "    auth: {auth_url: 'https://k', application_credential_name: n,"
                   " application_credential_secret: Val-AC-1}\n",
                   VMMK_EINVAL,
                   "clouds.c: application credential auth needs auth.application_credential_id, "
                   "or auth.application_credential_name with auth.username or auth.user_id");
    want_cloud_err(f, "    auth_type: token\n    auth: {auth_url: 'https://k'}\n", VMMK_EINVAL,
                   "clouds.c.auth.token: missing (token auth)");
    want_cloud_err(f, "    auth_type: v3oidcpassword\n    auth: {auth_url: 'https://k'}\n",
                   VMMK_EUNSUPPORTED,
                   "clouds.c.auth_type: \"v3oidcpassword\" is not supported (use password, "
                   "v3applicationcredential or token)");
    want_cloud_err(f, "    interface: private\n    auth: {auth_url: 'https://k', token: Val-Tok-1}\n",
                   VMMK_EINVAL, "clouds.c.interface: \"private\" is not one of public, internal, admin");
    want_cloud_err(f, "    verify: /etc/ca.pem\n    auth: {auth_url: 'https://k', token: Val-Tok-1}\n",
                   VMMK_EINVAL,
                   "clouds.c.verify: \"/etc/ca.pem\" is not a boolean (a CA bundle goes in cacert)");
    want_cloud_err(f, "    identity_api_version: 2\n    auth: {auth_url: 'https://k', token: Val-Tok-1}\n",
                   VMMK_EUNSUPPORTED,
                   "clouds.c.identity_api_version: \"2\" is not supported; libvmmk needs Keystone v3");
    want_cloud_err(f, "    auth: {auth_url: 'ftp://k', token: Val-Tok-1}\n", VMMK_EINVAL,
                   "clouds.c.auth.auth_url: \"ftp://k\" is not an http(s) URL");
    want_cloud_err(f, "    auth: {auth_url: 'https://k/v2.0', token: Val-Tok-1}\n", VMMK_EUNSUPPORTED,
                   "clouds.c.auth.auth_url: \"https://k/v2.0\" is identity API v2.0; libvmmk needs Keystone v3");
    want_cloud_err(f, "    auth: {auth_url: 'https://k/?x=1', token: Val-Tok-1}\n", VMMK_EINVAL,
                   "clouds.c.auth.auth_url: \"https://k/?x=1\" must not have a query or fragment");
    want_cloud_err(f, "    auth: {auth_url: [a], token: Val-Tok-1}\n", VMMK_EINVAL,
                   "clouds.c.auth.auth_url: expected a string, found a sequence");
    want_cloud_err(f, "    auth: just-a-string\n", VMMK_EINVAL,
                   "clouds.c.auth: expected a mapping, found a scalar");
    want_cloud_err(f, "    compute_endpoint_override: nova:8774\n    auth: {auth_url: 'https://k', token: Val-Tok-1}\n",
                   VMMK_EINVAL, "clouds.c.compute_endpoint_override: \"nova:8774\" is not an http(s) URL");
    want_cloud_err(f, "    profile: vexxhost\n", VMMK_EUNSUPPORTED,
                   "clouds.c.profile: vendor profiles are not supported; write the settings out");

    /* tenant_name, endpoint_type, appcred by name + user, domain fallbacks. */
    vmmk__cloud_config *c = cloud_ok(f,
        "    endpoint_type: publicURL\n"
        "    auth:\n"
        "      auth_url: https://k:5000/v3.14/\n"
        "      application_credential_name: mycred\n"
        "      application_credential_secret: Val-AC-Name-1\n"
        "      username: carol\n"
        "      tenant_name: tproj\n"
        "      domain_name: Corp\n");
    assert_int_equal(c->auth_type, VMMK__CLOUD_AUTH_APPCRED);
    assert_string_equal(c->auth_url, "https://k:5000/v3.14");
    assert_string_equal(c->project_name, "tproj");
    assert_string_equal(c->user_domain_name, "Corp");
    assert_string_equal(c->project_domain_name, "Corp");
    assert_null(c->user_domain_id);
    assert_string_equal(c->domain_name, "Corp");
    assert_int_equal(c->interface, VMMK__CLOUD_IF_PUBLIC);
    vmmk__cloud_config_free(c);

    /* default_domain, explicit domains beat domain_id, verify, overrides. */
    c = cloud_ok(f,
        "    default_domain: dd\n"
        "    verify: false\n"
        "    interface: internal\n"
        "    compute_endpoint_override: http://nova/v2.1\n"
        "    volume_endpoint_override: http://cinder-alias/v3\n"
        "    block_storage_endpoint_override: http://cinder/v3\n"
        "    network_endpoint_override: http://neutron\n"
        "    image_endpoint_override: http://glance\n"
        "    identity_endpoint_override: http://keystone-int/v3\n"
        "    auth:\n"
        "      auth_url: http://k/\n"
        "      username: dave\n"
        "      password: Val-Pass-Dd\n"
        "      project_name: p\n"
        "      user_domain_id: ud\n"
        "      domain_id: ignored-for-user\n");
    assert_int_equal(c->auth_type, VMMK__CLOUD_AUTH_PASSWORD);
    assert_string_equal(c->auth_url, "http://k/v3");
    assert_string_equal(c->user_domain_id, "ud");
    assert_string_equal(c->project_domain_id, "ignored-for-user");
    assert_false(c->verify);
    assert_int_equal(c->interface, VMMK__CLOUD_IF_INTERNAL);
    assert_int_equal(c->n_endpoint_overrides, 5);
    assert_string_equal(vmmk__cloud_config_endpoint_override(c, "block_storage"), "http://cinder/v3");
    assert_string_equal(vmmk__cloud_config_endpoint_override(c, "volume"), "http://cinder/v3");
    assert_string_equal(vmmk__cloud_config_endpoint_override(c, "network"), "http://neutron");
    assert_string_equal(vmmk__cloud_config_endpoint_override(c, "identity"), "http://keystone-int/v3");
    vmmk__cloud_config_free(c);

    c = cloud_ok(f, "    auth: {auth_url: 'https://k', username: e, password: Val-Pass-E, project_name: q}\n"
                    "    default_domain: dd\n");
    assert_string_equal(c->user_domain_id, "dd");
    assert_string_equal(c->project_domain_id, "dd");
    vmmk__cloud_config_free(c);
}

/* ---- YAML shape, syntax and hostile documents ------------------------ */

static void test_yaml_errors(void **state)
{
    fx *f = *state;
    char want[2 * PATH_MAX];
    PUT(0, f->cwd, "clouds.yaml", "- a\n- b\n");
    snprintf(want, sizeof want, "%s: top level: expected a mapping, found a sequence", paths[0]);
    load_err(f, "dev", VMMK_EINVAL, want);

    PUT(0, f->cwd, "clouds.yaml", "clouds: [dev]\n");
    snprintf(want, sizeof want, "%s: clouds: expected a mapping, found a sequence", paths[0]);
    load_err(f, "dev", VMMK_EINVAL, want);

    PUT(0, f->cwd, "clouds.yaml", "clouds:\n  dev: hello\n");
    snprintf(want, sizeof want, "%s: clouds.dev: expected a mapping, found a scalar", paths[0]);
    load_err(f, "dev", VMMK_EINVAL, want);

    PUT(0, f->cwd, "clouds.yaml", "clouds:\n  dev:\n    auth: {auth_url: x\n    region_name: r\n");
    snprintf(want, sizeof want,
             "%s:4:16: YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping)",
             paths[0]);
    load_err(f, "dev", VMMK_EPARSE, want);

    PUT(0, f->cwd, "clouds.yaml", "clouds:\n  dev:\n\tauth: {}\n");
    snprintf(want, sizeof want,
             "%s:3:1: YAML syntax error: found character that cannot start any token "
             "(while scanning for the next token)",
             paths[0]);
    load_err(f, "dev", VMMK_EPARSE, want);

    PUT(0, f->cwd, "clouds.yaml", "clouds: {}\n---\nclouds: {}\n");
    snprintf(want, sizeof want, "%s:2:1: more than one YAML document", paths[0]);
    load_err(f, "dev", VMMK_EPARSE, want);

    PUT(0, f->cwd, "clouds.yaml", "clouds: {dev: {auth: *nope}}\n");
    snprintf(want, sizeof want, "%s:1:22: alias to an undefined anchor", paths[0]);
    load_err(f, "dev", VMMK_EPARSE, want);

    PUT(0, f->cwd, "clouds.yaml", "clouds: &a {dev: *a}\n");
    snprintf(want, sizeof want, "%s:1:18: recursive alias (an anchor used inside itself)", paths[0]);
    load_err(f, "dev", VMMK_EPARSE, want);

    PUT(0, f->cwd, "clouds.yaml", "? [a]\n: b\n");
    snprintf(want, sizeof want, "%s:1:3: mapping keys must be plain strings", paths[0]);
    load_err(f, "dev", VMMK_EPARSE, want);

    /* An empty file has no clouds. */
    PUT(0, f->cwd, "clouds.yaml", "");
    snprintf(want, sizeof want, "cloud \"dev\" is not in %s (it has: none)", paths[0]);
    load_err(f, "dev", VMMK_ENOTFOUND, want);
}

static void test_billion_laughs(void **state)
{
    fx *f = *state;
    char text[4096] = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i < 10; i++) {
        char line[256];
        snprintf(line, sizeof line, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n",
                 i, i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
        strcat(text, line);
    }
    strcat(text, "clouds: {}\n");
    PUT(0, f->cwd, "clouds.yaml", text);
    vmmk__cloud_config *c = (void *)1;
    int rc = vmmk__cloud_config_load(&c, "dev", &f->env);
    assert_int_equal(rc, VMMK_EPARSE);
    assert_null(c);
    assert_non_null(strstr(vmmk_error_last()->message,
                           "document has more than 100000 nodes (after expanding aliases)"));

    /* Deep nesting is bounded too. */
    char deep[1024] = "";
    for (int i = 0; i < 100; i++)
        strcat(deep, "[");
    PUT(0, f->cwd, "clouds.yaml", deep);
    rc = vmmk__cloud_config_load(&c, "dev", &f->env);
    assert_int_equal(rc, VMMK_EPARSE);
    assert_non_null(strstr(vmmk_error_last()->message, "nesting deeper than 64 levels"));
}

static void test_anchors_and_merge_keys(void **state)
{
    fx *f = *state;
    PUT(0, f->cwd, "clouds.yaml",
        "base: &base\n"
        "  auth_url: https://k\n"
        "  user_domain_name: Default\n"
        "  project_domain_name: Default\n"
        "clouds:\n"
        "  one:\n"
        "    auth:\n"
        "      <<: *base\n"
        "      username: u1\n"
        "      password: Anchor-P-1\n"
        "  two:\n"
        "    region_name: &r R2\n"
        "    auth:\n"
        "      <<: [*base, {auth_url: 'https://ignored'}]\n"
        "      auth_url: https://k2\n"
        "      user_id: u2\n"
        "      password: Anchor-P-2\n"
        "      project_id: *r\n"
        "      project_id: p2\n");
    vmmk__cloud_config *c = load_ok(f, "one");
    assert_string_equal(c->auth_url, "https://k/v3");
    assert_string_equal(c->user_domain_name, "Default");
    assert_string_equal(c->username, "u1");
    vmmk__cloud_config_free(c);
    c = load_ok(f, "two");
    assert_string_equal(c->auth_url, "https://k2/v3");   /* explicit key beats "<<" */
    assert_string_equal(c->project_id, "p2");            /* repeated key: last wins */
    assert_string_equal(c->region_name, "R2");
    vmmk__cloud_config_free(c);
}

/* ---- secrets: file modes, logs and errors --------------------------- */

typedef struct {
    int n_warn;
    char last[1024];
} logcap;

static void capture(int level, const char *msg, void *payload)
{
    logcap *l = payload;
    if (level == VMMK_LOG_WARN) {
        l->n_warn++;
        snprintf(l->last, sizeof l->last, "%s", msg);
    }
}

static void test_world_readable_warning(void **state)
{
    fx *f = *state;
    logcap l = { 0 };
    vmmk_log_set_callback(capture, &l);
    put(paths[0], sizeof paths[0], f->cwd, "clouds.yaml", BASIC, 0644);
    vmmk__cloud_config *c = load_ok(f, "dev");
    vmmk__cloud_config_free(c);
    assert_int_equal(l.n_warn, 1);
    char want[2 * PATH_MAX];
    snprintf(want, sizeof want,
             "%s: readable by other users (mode 0644) and holds a secret for cloud \"dev\"; chmod 600 it",
             paths[0]);
    assert_string_equal(l.last, want);
    assert_null(strstr(l.last, "Dev-Pass-1"));

    /* 0600: no warning; 0644 without a secret in it: no warning. */
    l.n_warn = 0;
    chmod(paths[0], 0600);
    vmmk__cloud_config_free(load_ok(f, "dev"));
    put(paths[0], sizeof paths[0], f->cwd, "clouds.yaml",
        "clouds: {dev: {auth: {auth_url: 'https://k', username: a}}}\n", 0644);
    put(paths[1], sizeof paths[1], f->user_dir, "secure.yaml",
        "clouds: {dev: {auth: {password: Secure-Only-Pw}}}\n", 0600);
    vmmk__cloud_config_free(load_ok(f, "dev"));
    assert_int_equal(l.n_warn, 0);
    /* ... but a readable secure.yaml does warn. */
    chmod(paths[1], 0604);
    vmmk__cloud_config_free(load_ok(f, "dev"));
    assert_int_equal(l.n_warn, 1);
    assert_non_null(strstr(l.last, paths[1]));
    vmmk_log_set_callback(NULL, NULL);
}

static void test_secrets_redacted(void **state)
{
    fx *f = *state;
    /* A value that happens to equal the password is masked in the error:
     * secrets are registered before anything is validated. */
    PUT(0, f->cwd, "clouds.yaml",
        "clouds:\n  c:\n    interface: Leaky-Secret-77\n"
        "    auth: {auth_url: 'https://k', username: a, password: Leaky-Secret-77}\n");
    char want[2 * PATH_MAX];
    snprintf(want, sizeof want, "%s: clouds.c.interface: \"***\" is not one of public, internal, admin",
             paths[0]);
    load_err(f, "c", VMMK_EINVAL, want);

    PUT(0, f->cwd, "clouds.yaml",
        "clouds:\n  c:\n    auth: {auth_url: 'https://k', application_credential_id: i,"
        " application_credential_secret: AC-Secret-88, token: Tok-Secret-99}\n");
    vmmk__cloud_config *c = load_ok(f, "c");
    assert_int_equal(c->auth_type, VMMK__CLOUD_AUTH_APPCRED);   /* appcred beats token */
    char *red = NULL;
    assert_int_equal(vmmk_redact(&red, "x AC-Secret-88 Tok-Secret-99 Leaky-Secret-77"), 0);
    assert_string_equal(red, "x *** *** ***");
    vmmk_string_free(red);
    vmmk__cloud_config_free(c);
}

static void test_yaml_tree(void **state)
{
    (void)state;
    vmmk__yaml_node *a = NULL, *b = NULL;
    assert_int_equal(vmmk__yaml_parse(&a, "x: {y: 1, z: [1]}\nw: ~\n", 22, "a"), 0);
    assert_int_equal(vmmk__yaml_parse(&b, "x: {z: 2, v: 3}\nw: set\n", 23, "b"), 0);
    vmmk__yaml_merge(a, b);
    const vmmk__yaml_node *x = vmmk__yaml_get(a, "x");
    assert_string_equal(vmmk__yaml_get(x, "y")->value, "1");
    assert_string_equal(vmmk__yaml_get(x, "z")->value, "2");
    assert_string_equal(vmmk__yaml_get(x, "z")->origin, "b");
    assert_string_equal(vmmk__yaml_get(x, "v")->value, "3");
    assert_false(vmmk__yaml_get(a, "w")->is_null);
    assert_int_equal(vmmk__yaml_get(x, "v")->line, 1);
    vmmk__yaml_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_search_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_config_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secure_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_select, setup, teardown),
        cmocka_unit_test_setup_teardown(test_envvars, setup, teardown),
        cmocka_unit_test_setup_teardown(test_env_does_not_override_cloud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_yaml_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_billion_laughs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anchors_and_merge_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_world_readable_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secrets_redacted, setup, teardown),
        cmocka_unit_test(test_yaml_tree),
    };
    return cmocka_run_group_tests_name("cloud_config", tests, NULL, NULL);
}
