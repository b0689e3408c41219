/* libFuzzer target: clouds.yaml + secure.yaml resolution
 * (vmmk__cloud_config_from_text, libvmmk/cloud/config.c and yaml.c).
 *
 * The input is clouds.yaml text, optionally followed by a NUL byte and
 * secure.yaml text (a NUL cannot occur in valid YAML, so the split never
 * hides a document the parser would accept).  The environment hook
 * answers nothing, so only the text decides the result.  The cloud names
 * tried are "fuzz", the first few the document itself defines, and NULL
 * (which must be refused).  Results are checked against the rules of
 * docs/cloud-config.md, and an error must leave *out NULL and be the
 * recorded error. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <vmmk/vmmk.h>
#include "cloud/config.h"
#include "cloud/yaml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CLOUDS_PATH "/nonexistent/vmmk-fuzz/clouds.yaml"
#define SECURE_PATH "/nonexistent/vmmk-fuzz/secure.yaml"
#define MAX_NAMES 3

static const char *no_env(const char *name, void *payload)
{
    (void)name, (void)payload;
    return NULL;
}

static const vmmk__cloud_env env = {
    .getenv = no_env,
    .home = "/nonexistent/vmmk-fuzz/home",
    .cwd = "/nonexistent/vmmk-fuzz/cwd",
    .system_dir = "/nonexistent/vmmk-fuzz/etc",
};

static bool http_url(const char *u)
{
    return u && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0);
}

static void check_config(const vmmk__cloud_config *cfg, const char *name, bool secure)
{
    if (!cfg || !cfg->name || strcmp(cfg->name, name) != 0)
        abort();
    if (!http_url(cfg->auth_url))
        abort();
    if (!cfg->clouds_file || strcmp(cfg->clouds_file, CLOUDS_PATH) != 0)
        abort();
    if (secure != (cfg->secure_file != NULL))
        abort();
    switch (cfg->auth_type) {
    case VMMK__CLOUD_AUTH_PASSWORD:
        if (!cfg->password || (!cfg->username && !cfg->user_id))
            abort();
        break;
    case VMMK__CLOUD_AUTH_APPCRED:
        if (!cfg->application_credential_secret ||
            (!cfg->application_credential_id && !cfg->application_credential_name))
            abort();
        break;
    case VMMK__CLOUD_AUTH_TOKEN:
        if (!cfg->token)
            abort();
        break;
    default:
        abort();
    }
    if (cfg->interface != VMMK__CLOUD_IF_PUBLIC && cfg->interface != VMMK__CLOUD_IF_INTERNAL &&
        cfg->interface != VMMK__CLOUD_IF_ADMIN)
        abort();
    for (size_t i = 0; i < cfg->n_endpoint_overrides; i++) {
        const vmmk__cloud_endpoint_override *o = &cfg->endpoint_overrides[i];
        if (!o->service || !http_url(o->url) ||
            !vmmk__cloud_config_endpoint_override(cfg, o->service))
            abort();
    }
    /* Names and strings the rest of the library prints. */
    (void)vmmk__cloud_auth_type_name(cfg->auth_type);
    (void)vmmk__cloud_interface_name(cfg->interface);
}

/* Resolution registers every password, application credential secret and
 * token it reads, also when it then fails, and the registry is process
 * wide.  Left alone it would grow with every input and slow each error
 * down (every message is checked against every secret), so the values are
 * dropped again: those a cloud can have taken from either document. */
static void forget_secrets(const vmmk__yaml_node *clouds_root, const vmmk__yaml_node *secure_root,
                           const char *name)
{
    static const char *const keys[] = { "password", "application_credential_secret", "token" };
    const vmmk__yaml_node *roots[2] = { clouds_root, secure_root };
    for (size_t r = 0; r < 2; r++) {
        const vmmk__yaml_node *auth =
            vmmk__yaml_get(vmmk__yaml_get(vmmk__yaml_get(roots[r], "clouds"), name), "auth");
        for (size_t k = 0; k < 3; k++) {
            const vmmk__yaml_node *v = vmmk__yaml_get(auth, keys[k]);
            if (v && v->kind == VMMK__YAML_SCALAR)
                vmmk_secret_unregister(v->value);
        }
    }
}

static void try_cloud(const char *name, const char *clouds, size_t clouds_len,
                      const char *secure, size_t secure_len)
{
    vmmk__cloud_config *cfg = (vmmk__cloud_config *)(uintptr_t)1;
    int rc = vmmk__cloud_config_from_text(&cfg, name, clouds, clouds_len, CLOUDS_PATH, secure,
                                          secure_len, secure ? SECURE_PATH : NULL, &env);
    if (rc == 0) {
        if (!name)
            abort();
        check_config(cfg, name, secure != NULL);
        vmmk__cloud_config_free(cfg);
        return;
    }
    const vmmk_error *e = vmmk_error_last();
    if (rc > 0 || e->code != rc || !e->message || !*e->message)
        abort();
    if (name && cfg)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *nul = memchr(text, '\0', size);
    size_t clouds_len = nul ? (size_t)(nul - text) : size;
    const char *secure = nul ? nul + 1 : NULL;
    size_t secure_len = nul ? size - clouds_len - 1 : 0;

    /* The trees again, for the cloud names this document defines (enough
     * to reach every key of realistic inputs) and for forget_secrets(). */
    vmmk__yaml_node *root = NULL, *sec = NULL;
    if (vmmk__yaml_parse(&root, text, clouds_len, CLOUDS_PATH) != 0)
        root = NULL;
    if (secure && vmmk__yaml_parse(&sec, secure, secure_len, SECURE_PATH) != 0)
        sec = NULL;
    const char *names[MAX_NAMES + 1] = { "fuzz" };
    size_t n = 1;
    const vmmk__yaml_node *clouds = vmmk__yaml_get(root, "clouds");
    if (clouds && clouds->kind != VMMK__YAML_MAP)
        clouds = NULL;
    for (size_t i = 0; clouds && i < clouds->n && n <= MAX_NAMES; i++)
        if (strcmp(clouds->keys[i], "fuzz") != 0)
            names[n++] = clouds->keys[i];

    for (size_t i = 0; i < n; i++) {
        try_cloud(names[i], text, clouds_len, secure, secure_len);
        forget_secrets(root, sec, names[i]);
    }
    try_cloud(NULL, text, clouds_len, secure, secure_len);

    vmmk__yaml_free(root);
    vmmk__yaml_free(sec);
    vmmk_error_clear();
    return 0;
}
