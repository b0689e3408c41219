/* clouds.yaml + secure.yaml + OS_* → one resolved cloud (see config.h and
 * docs/cloud-config.md).  No network I/O. */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "../common/internal.h"
#include "yaml.h"

#define ENV_ORIGIN "environment"

/* One setting: where it lives in a clouds.yaml cloud, which variables give
 * it in the "envvars" cloud, and whether those variables also override a
 * clouds.yaml cloud.  The openstack client applies its own global options
 * (region, interface, TLS files) over a clouds.yaml cloud; the auth plugin
 * variables (user, password, project, URL) are deliberately not mixed into
 * a named cloud here, so credentials always come from one place. */
typedef struct {
    const char *key;          /* canonical key path, e.g. "auth.project_name" */
    const char *file_alt;     /* older spelling in clouds.yaml, or NULL */
    const char *vars[2];      /* OS_* variables, first one preferred */
    int overrides_file;
} setting;

static const setting settings[] = {
    { "auth.auth_url", NULL, { "OS_AUTH_URL" }, 0 },
    { "auth.username", NULL, { "OS_USERNAME" }, 0 },
    { "auth.user_id", NULL, { "OS_USER_ID" }, 0 },
    { "auth.password", NULL, { "OS_PASSWORD" }, 0 },
    { "auth.project_name", "auth.tenant_name", { "OS_PROJECT_NAME", "OS_TENANT_NAME" }, 0 },
    { "auth.project_id", "auth.tenant_id", { "OS_PROJECT_ID", "OS_TENANT_ID" }, 0 },
    { "auth.user_domain_name", NULL, { "OS_USER_DOMAIN_NAME" }, 0 },
    { "auth.user_domain_id", NULL, { "OS_USER_DOMAIN_ID" }, 0 },
    { "auth.project_domain_name", NULL, { "OS_PROJECT_DOMAIN_NAME" }, 0 },
    { "auth.project_domain_id", NULL, { "OS_PROJECT_DOMAIN_ID" }, 0 },
    { "auth.domain_name", NULL, { "OS_DOMAIN_NAME" }, 0 },
    { "auth.domain_id", NULL, { "OS_DOMAIN_ID" }, 0 },
    { "auth.application_credential_id", NULL, { "OS_APPLICATION_CREDENTIAL_ID" }, 0 },
    { "auth.application_credential_name", NULL, { "OS_APPLICATION_CREDENTIAL_NAME" }, 0 },
    { "auth.application_credential_secret", NULL, { "OS_APPLICATION_CREDENTIAL_SECRET" }, 0 },
    { "auth.token", NULL, { "OS_TOKEN" }, 0 },
    { "auth_type", NULL, { "OS_AUTH_TYPE" }, 0 },
    { "identity_api_version", NULL, { "OS_IDENTITY_API_VERSION" }, 0 },
    { "default_domain", NULL, { "OS_DEFAULT_DOMAIN" }, 0 },
    { "region_name", NULL, { "OS_REGION_NAME" }, 1 },
    { "interface", "endpoint_type", { "OS_INTERFACE", "OS_ENDPOINT_TYPE" }, 1 },
    { "cacert", NULL, { "OS_CACERT" }, 1 },
    { "cert", NULL, { "OS_CERT" }, 1 },
    { "key", NULL, { "OS_KEY" }, 1 },
    { "verify", NULL, { NULL }, 0 },
    /* Non-standard (no openstack client option reads it), accepted because
     * scripts set it; "verify: false" is the portable spelling. */
    { "insecure", NULL, { "OS_INSECURE" }, 1 },
};

/* Services whose OS_<SERVICE>_ENDPOINT_OVERRIDE the envvars cloud reads. */
static const char *const env_services[] = { "COMPUTE", "BLOCK_STORAGE", "VOLUME", "NETWORK",
                                            "IMAGE", "IDENTITY", "PLACEMENT" };

typedef struct {
    const vmmk__cloud_env *env;
    const char *cloud_name;
    const char *file;                 /* clouds.yaml, or NULL for envvars */
    const vmmk__yaml_node *cloud;     /* the selected cloud's mapping */
    char loc[4][768];                 /* rotating buffers for error locations */
    int next_loc;
} rctx;

static const char *env_get(const vmmk__cloud_env *env, const char *name)
{
    const char *v = env && env->getenv ? env->getenv(name, env->payload) : getenv(name);
    return v && *v ? v : NULL;
}

static const setting *find_setting(const char *key)
{
    for (size_t i = 0; i < sizeof settings / sizeof *settings; i++)
        if (strcmp(settings[i].key, key) == 0)
            return &settings[i];
    return NULL;
}

/* Walk "a.b" in a mapping. */
static const vmmk__yaml_node *walk(const vmmk__yaml_node *map, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *dot = strchr(buf, '.');
    if (!dot)
        return vmmk__yaml_get(map, buf);
    *dot = '\0';
    return vmmk__yaml_get(vmmk__yaml_get(map, buf), dot + 1);
}

/* Name of a key as the user wrote or would write it: "auth.username" in a
 * clouds.yaml, OS_USERNAME in the environment. */
static const char *name_of(rctx *c, const char *key)
{
    const setting *s = find_setting(key);
    return !c->cloud && s && s->vars[0] ? s->vars[0] : key;
}

static char *next_buf(rctx *c)
{
    char *b = c->loc[c->next_loc];
    c->next_loc = (c->next_loc + 1) % 4;
    return b;
}

/* "FILE: clouds.NAME" or "environment". */
static const char *where(rctx *c)
{
    char *b = next_buf(c);
    if (c->cloud)
        snprintf(b, sizeof c->loc[0], "%s: clouds.%s", c->file, c->cloud_name);
    else
        snprintf(b, sizeof c->loc[0], "%s", ENV_ORIGIN);
    return b;
}

/* Full location of a key: "FILE: clouds.NAME.KEY" (FILE is the file the
 * value came from, which may be secure.yaml) or "environment: OS_VAR". */
static const char *loc(rctx *c, const char *key, const vmmk__yaml_node *node, const char *var)
{
    char *b = next_buf(c);
    if (var)
        snprintf(b, sizeof c->loc[0], "%s: %s", ENV_ORIGIN, var);
    else if (c->cloud)
        snprintf(b, sizeof c->loc[0], "%s: clouds.%s.%s", node ? node->origin : c->file,
                 c->cloud_name, key);
    else
        snprintf(b, sizeof c->loc[0], "%s: %s", ENV_ORIGIN, name_of(c, key));
    return b;
}

/* Look a setting up.  *value is NULL when unset (a YAML null counts as
 * unset); *at gets its location for error messages. */
static int get(rctx *c, const char *key, const char **value, const char **at)
{
    const setting *s = find_setting(key);
    *value = NULL;
    *at = loc(c, key, NULL, NULL);
    if (s && (!c->cloud || s->overrides_file)) {
        for (int i = 0; i < 2 && s->vars[i]; i++) {
            const char *v = env_get(c->env, s->vars[i]);
            if (v) {
                *value = v;
                *at = loc(c, key, NULL, s->vars[i]);
                return 0;
            }
        }
    }
    if (!c->cloud)
        return 0;
    const char *keys[2] = { key, s ? s->file_alt : NULL };
    for (int i = 0; i < 2 && keys[i]; i++) {
        const vmmk__yaml_node *n = walk(c->cloud, keys[i]);
        if (!n)
            continue;
        *at = loc(c, keys[i], n, NULL);
        if (n->kind != VMMK__YAML_SCALAR)
            return vmmk__err(VMMK_EINVAL, "%s: expected a string, found a %s", *at,
                             vmmk__yaml_kind_name(n->kind));
        if (!n->is_null) {
            *value = n->value;
            return 0;
        }
    }
    return 0;
}

static int dup_into(char **dst, const char *v)
{
    if (!v)
        return 0;
    return (*dst = strdup(v)) ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
}

static int get_str(rctx *c, const char *key, char **dst)
{
    const char *v, *at;
    int rc = get(c, key, &v, &at);
    return rc ? rc : dup_into(dst, v);
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -1;
}

static int http_url(const char *u)
{
    const char *rest = !strncasecmp(u, "https://", 8) ? u + 8 : !strncasecmp(u, "http://", 7) ? u + 7 : NULL;
    return rest && *rest && *rest != '/';
}

/* Check the auth URL and make it end in a version: keystoneauth would
 * discover the version from an unversioned URL, which costs a request and
 * may pick v2 on old deployments; libvmmk speaks v3 only, so it appends
 * "/v3" instead. */
static int fix_auth_url(rctx *c, const char *at, char **url)
{
    char *u = *url;
    if (!http_url(u))
        return vmmk__err(VMMK_EINVAL, "%s: \"%s\" is not an http(s) URL", at, u);
    if (strpbrk(u, "?#"))
        return vmmk__err(VMMK_EINVAL, "%s: \"%s\" must not have a query or fragment", at, u);
    size_t len = strlen(u);
    while (len > 0 && u[len - 1] == '/')
        u[--len] = '\0';
    const char *host = strstr(u, "://") + 3;
    const char *path = strchr(host, '/');
    const char *last = path ? strrchr(u, '/') + 1 : NULL;
    if (last && last[0] == 'v' && isdigit((unsigned char)last[1])) {
        const char *p = last + 1;
        while (isdigit((unsigned char)*p))
            p++;
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p))
                p++;
        }
        if (!*p) {
            if (strtol(last + 1, NULL, 10) != 3)
                return vmmk__err(VMMK_EUNSUPPORTED,
                                 "%s: \"%s\" is identity API %s; libvmmk needs Keystone v3", at,
                                 u, last);
            return 0;
        }
    }
    char *n = vmmk__asprintf("%s/v3", u);
    if (!n)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    free(u);
    *url = n;
    return 0;
}

bool vmmk__cloud_interface_parse(vmmk__cloud_interface *out, const char *v)
{
    static const char *const names[] = { "public", "internal", "admin" };
    size_t len = strlen(v);
    if (len > 3 && strcmp(v + len - 3, "URL") == 0)
        len -= 3;                       /* "publicURL", the v2 catalog spelling */
    for (int i = 0; i < 3; i++) {
        if (strlen(names[i]) == len && strncasecmp(v, names[i], len) == 0) {
            *out = (vmmk__cloud_interface)i;
            return true;
        }
    }
    return false;
}

/* "volume-v3" → "volumev3"-style service keys normalised to one name. */
static char *service_name(const char *raw, size_t len)
{
    char *s = strndup(raw, len);
    if (!s)
        return NULL;
    for (char *p = s; *p; p++)
        *p = *p == '-' ? '_' : (char)tolower((unsigned char)*p);
    if (!strcmp(s, "volume") || !strcmp(s, "volumev2") || !strcmp(s, "volumev3") ||
        !strcmp(s, "block_store")) {
        free(s);
        s = strdup("block_storage");
    }
    return s;
}

static int add_override(rctx *c, vmmk__cloud_config *cfg, const char *raw, size_t len,
                        const char *url, const char *at)
{
    if (!http_url(url))
        return vmmk__err(VMMK_EINVAL, "%s: \"%s\" is not an http(s) URL", at, url);
    char *svc = service_name(raw, len);
    if (!svc)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    /* "block_storage_endpoint_override" beats its aliases; otherwise the
     * first one wins. */
    int canonical = strlen(svc) == len && strncmp(svc, raw, len) == 0;
    for (size_t i = 0; i < cfg->n_endpoint_overrides; i++) {
        if (strcmp(cfg->endpoint_overrides[i].service, svc) == 0) {
            free(svc);
            if (!canonical)
                return 0;
            char *u = strdup(url);
            if (!u)
                return vmmk__err(VMMK_ENOMEM, "out of memory");
            free(cfg->endpoint_overrides[i].url);
            cfg->endpoint_overrides[i].url = u;
            return 0;
        }
    }
    vmmk__cloud_endpoint_override *n =
        realloc(cfg->endpoint_overrides, (cfg->n_endpoint_overrides + 1) * sizeof *n);
    char *u = strdup(url);
    if (n)
        cfg->endpoint_overrides = n;
    if (!n || !u) {
        free(svc);
        free(u);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    n[cfg->n_endpoint_overrides].service = svc;
    n[cfg->n_endpoint_overrides].url = u;
    cfg->n_endpoint_overrides++;
    return 0;
}

#define SUFFIX "_endpoint_override"

static int read_overrides(rctx *c, vmmk__cloud_config *cfg)
{
    size_t sl = strlen(SUFFIX);
    if (!c->cloud) {
        for (size_t i = 0; i < sizeof env_services / sizeof *env_services; i++) {
            char var[64];
            snprintf(var, sizeof var, "OS_%s_ENDPOINT_OVERRIDE", env_services[i]);
            const char *v = env_get(c->env, var);
            int rc;
            if (v && (rc = add_override(c, cfg, env_services[i], strlen(env_services[i]), v,
                                        loc(c, "", NULL, var))))
                return rc;
        }
        return 0;
    }
    for (size_t i = 0; i < c->cloud->n; i++) {
        const char *k = c->cloud->keys[i];
        size_t kl = strlen(k);
        if (kl <= sl || strcmp(k + kl - sl, SUFFIX) != 0)
            continue;
        const vmmk__yaml_node *n = c->cloud->items[i];
        const char *at = loc(c, k, n, NULL);
        if (n->kind != VMMK__YAML_SCALAR)
            return vmmk__err(VMMK_EINVAL, "%s: expected a string, found a %s", at,
                             vmmk__yaml_kind_name(n->kind));
        int rc;
        if (!n->is_null && (rc = add_override(c, cfg, k, kl - sl, n->value, at)))
            return rc;
    }
    return 0;
}

/* Fill in the settings of the cloud in @p c and validate them. */
static int resolve(rctx *c, vmmk__cloud_config *cfg)
{
    int rc;
    const char *v, *at;
#define STR(key, field) \
    if ((rc = get_str(c, key, &cfg->field))) \
        return rc
    STR("auth.username", username);
    STR("auth.user_id", user_id);
    STR("auth.password", password);
    STR("auth.project_name", project_name);
    STR("auth.project_id", project_id);
    STR("auth.user_domain_name", user_domain_name);
    STR("auth.user_domain_id", user_domain_id);
    STR("auth.project_domain_name", project_domain_name);
    STR("auth.project_domain_id", project_domain_id);
    STR("auth.domain_name", domain_name);
    STR("auth.domain_id", domain_id);
    STR("auth.application_credential_id", application_credential_id);
    STR("auth.application_credential_name", application_credential_name);
    STR("auth.application_credential_secret", application_credential_secret);
    STR("auth.token", token);
    STR("region_name", region_name);
    STR("cacert", cacert);
    STR("cert", cert);
    STR("key", key);
#undef STR

    /* Registered before any value is checked, so an error that quotes a
     * value can never show a secret. */
    if ((rc = vmmk_secret_register(cfg->password)) ||
        (rc = vmmk_secret_register(cfg->application_credential_secret)) ||
        (rc = vmmk_secret_register(cfg->token)))
        return vmmk__err(rc, "out of memory");

    if ((rc = get(c, "identity_api_version", &v, &at)))
        return rc;
    if (v && strcmp(v, "3") != 0 && strncmp(v, "3.", 2) != 0)
        return vmmk__err(VMMK_EUNSUPPORTED, "%s: \"%s\" is not supported; libvmmk needs Keystone v3",
                         at, v);

    if ((rc = get(c, "auth.auth_url", &v, &at)))
        return rc;
    if (!v)
        return vmmk__err(VMMK_EINVAL, "%s: missing%s", at,
                         c->cloud ? "" : " (set it, or select a clouds.yaml cloud with OS_CLOUD)");
    if ((rc = dup_into(&cfg->auth_url, v)) || (rc = fix_auth_url(c, at, &cfg->auth_url)))
        return rc;

    if ((rc = get(c, "auth_type", &v, &at)))
        return rc;
    if (!v) {
        cfg->auth_type = cfg->application_credential_id || cfg->application_credential_name ||
                                 cfg->application_credential_secret
                             ? VMMK__CLOUD_AUTH_APPCRED
                         : cfg->token ? VMMK__CLOUD_AUTH_TOKEN
                                      : VMMK__CLOUD_AUTH_PASSWORD;
    } else if (!strcmp(v, "password") || !strcmp(v, "v3password")) {
        cfg->auth_type = VMMK__CLOUD_AUTH_PASSWORD;
    } else if (!strcmp(v, "v3applicationcredential") || !strcmp(v, "applicationcredential")) {
        cfg->auth_type = VMMK__CLOUD_AUTH_APPCRED;
    } else if (!strcmp(v, "token") || !strcmp(v, "v3token")) {
        cfg->auth_type = VMMK__CLOUD_AUTH_TOKEN;
    } else {
        return vmmk__err(VMMK_EUNSUPPORTED,
                         "%s: \"%s\" is not supported (use password, v3applicationcredential or token)",
                         at, v);
    }

    cfg->interface = VMMK__CLOUD_IF_PUBLIC;
    if ((rc = get(c, "interface", &v, &at)))
        return rc;
    if (v && !vmmk__cloud_interface_parse(&cfg->interface, v))
        return vmmk__err(VMMK_EINVAL, "%s: \"%s\" is not one of public, internal, admin", at, v);

    cfg->verify = true;
    bool b;
    if ((rc = get(c, "verify", &v, &at)))
        return rc;
    if (v && parse_bool(v, &b))
        return vmmk__err(VMMK_EINVAL, "%s: \"%s\" is not a boolean (a CA bundle goes in cacert)",
                         at, v);
    if (v && !b)
        cfg->verify = false;
    if ((rc = get(c, "insecure", &v, &at)))
        return rc;
    if (v && parse_bool(v, &b))
        return vmmk__err(VMMK_EINVAL, "%s: \"%s\" is not a boolean", at, v);
    if (v && b)
        cfg->verify = false;
    if (!cfg->verify)
        vmmk__log(VMMK_LOG_INFO, "cloud \"%s\": TLS certificate verification is off", cfg->name);

    /* Domains, as keystoneauth and the openstack client fill them in. */
    const char *dflt_domain;
    if ((rc = get(c, "default_domain", &dflt_domain, &at)))
        return rc;
    if (!cfg->user_domain_name && !cfg->user_domain_id &&
        ((rc = dup_into(&cfg->user_domain_name, cfg->domain_name)) ||
         (rc = dup_into(&cfg->user_domain_id, cfg->domain_id))))
        return rc;
    if (!cfg->project_domain_name && !cfg->project_domain_id &&
        ((rc = dup_into(&cfg->project_domain_name, cfg->domain_name)) ||
         (rc = dup_into(&cfg->project_domain_id, cfg->domain_id))))
        return rc;
    if (cfg->username && !cfg->user_id && !cfg->user_domain_name && !cfg->user_domain_id &&
        (rc = dup_into(&cfg->user_domain_id, dflt_domain ? dflt_domain : "default")))
        return rc;
    if (cfg->project_name && !cfg->project_id && !cfg->project_domain_name &&
        !cfg->project_domain_id &&
        (rc = dup_into(&cfg->project_domain_id, dflt_domain ? dflt_domain : "default")))
        return rc;

    switch (cfg->auth_type) {
    case VMMK__CLOUD_AUTH_PASSWORD:
        if (!cfg->username && !cfg->user_id)
            return vmmk__err(VMMK_EINVAL, "%s: password auth needs %s or %s", where(c),
                             name_of(c, "auth.username"), name_of(c, "auth.user_id"));
        if (!cfg->password)
            return vmmk__err(VMMK_EINVAL, "%s: missing (password auth)",
                             loc(c, "auth.password", NULL, NULL));
        break;
    case VMMK__CLOUD_AUTH_APPCRED:
        if (!cfg->application_credential_secret)
            return vmmk__err(VMMK_EINVAL, "%s: missing (application credential auth)",
                             loc(c, "auth.application_credential_secret", NULL, NULL));
        if (!cfg->application_credential_id &&
            (!cfg->application_credential_name || (!cfg->username && !cfg->user_id)))
            return vmmk__err(VMMK_EINVAL,
                             "%s: application credential auth needs %s, or %s with %s or %s",
                             where(c), name_of(c, "auth.application_credential_id"),
                             name_of(c, "auth.application_credential_name"),
                             name_of(c, "auth.username"), name_of(c, "auth.user_id"));
        break;
    case VMMK__CLOUD_AUTH_TOKEN:
        if (!cfg->token)
            return vmmk__err(VMMK_EINVAL, "%s: missing (token auth)",
                             loc(c, "auth.token", NULL, NULL));
        break;
    }
    return read_overrides(c, cfg);
}

void vmmk__cloud_config_free(vmmk__cloud_config *cfg)
{
    if (!cfg)
        return;
    char **s[] = { &cfg->name, &cfg->auth_url, &cfg->username, &cfg->user_id, &cfg->password,
                   &cfg->project_name, &cfg->project_id, &cfg->user_domain_name,
                   &cfg->user_domain_id, &cfg->project_domain_name, &cfg->project_domain_id,
                   &cfg->domain_name, &cfg->domain_id, &cfg->application_credential_id,
                   &cfg->application_credential_name, &cfg->application_credential_secret,
                   &cfg->token, &cfg->region_name, &cfg->cacert, &cfg->cert, &cfg->key,
                   &cfg->clouds_file, &cfg->secure_file };
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        free(*s[i]);
    for (size_t i = 0; i < cfg->n_endpoint_overrides; i++) {
        free(cfg->endpoint_overrides[i].service);
        free(cfg->endpoint_overrides[i].url);
    }
    free(cfg->endpoint_overrides);
    free(cfg);
}

const char *vmmk__cloud_config_endpoint_override(const vmmk__cloud_config *cfg,
                                                 const char *service)
{
    if (!cfg || !service)
        return NULL;
    char *svc = service_name(service, strlen(service));
    const char *r = NULL;
    for (size_t i = 0; svc && i < cfg->n_endpoint_overrides; i++)
        if (strcmp(cfg->endpoint_overrides[i].service, svc) == 0)
            r = cfg->endpoint_overrides[i].url;
    free(svc);
    return r;
}

const char *vmmk__cloud_auth_type_name(vmmk__cloud_auth_type t)
{
    return t == VMMK__CLOUD_AUTH_APPCRED ? "v3applicationcredential"
           : t == VMMK__CLOUD_AUTH_TOKEN ? "token"
                                         : "password";
}

const char *vmmk__cloud_interface_name(vmmk__cloud_interface i)
{
    return i == VMMK__CLOUD_IF_INTERNAL ? "internal" : i == VMMK__CLOUD_IF_ADMIN ? "admin" : "public";
}

static int finish(vmmk__cloud_config **out, vmmk__cloud_config *cfg, rctx *c)
{
    int rc = resolve(c, cfg);
    if (rc) {
        vmmk__cloud_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

/* Does this file's own text hold a secret for the cloud? */
static int holds_secret(const vmmk__yaml_node *root, const char *cloud)
{
    const vmmk__yaml_node *auth = vmmk__yaml_get(vmmk__yaml_get(vmmk__yaml_get(root, "clouds"),
                                                                cloud), "auth");
    static const char *const keys[] = { "password", "application_credential_secret", "token" };
    for (size_t i = 0; i < 3; i++) {
        const vmmk__yaml_node *n = vmmk__yaml_get(auth, keys[i]);
        if (n && n->kind == VMMK__YAML_SCALAR && !n->is_null)
            return 1;
    }
    return 0;
}

/* A secret in a file others can read is worth a warning, not a refusal:
 * the openstack client reads such files too, and refusing would break
 * setups that work today. */
static void warn_if_readable(const char *path, const vmmk__yaml_node *root, const char *cloud)
{
    struct stat st;
    if (!path || !holds_secret(root, cloud) || stat(path, &st) != 0 || !(st.st_mode & S_IROTH))
        return;
    vmmk__log(VMMK_LOG_WARN,
              "%s: readable by other users (mode %04o) and holds a secret for cloud \"%s\"; "
              "chmod 600 it",
              path, (unsigned)(st.st_mode & 07777), cloud);
}

static int top_mapping(const vmmk__yaml_node *root, const char *path)
{
    if (root->kind != VMMK__YAML_MAP)
        return vmmk__err(VMMK_EINVAL, "%s: top level: expected a mapping, found a %s", path,
                         vmmk__yaml_kind_name(root->kind));
    const vmmk__yaml_node *clouds = vmmk__yaml_get(root, "clouds");
    if (clouds && clouds->kind != VMMK__YAML_MAP && !(clouds->kind == VMMK__YAML_SCALAR && clouds->is_null))
        return vmmk__err(VMMK_EINVAL, "%s: clouds: expected a mapping, found a %s", path,
                         vmmk__yaml_kind_name(clouds->kind));
    return 0;
}

static int envvars_cloud(vmmk__cloud_config **out, const vmmk__cloud_env *env)
{
    vmmk__cloud_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->name = strdup("envvars"))) {
        free(cfg);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    rctx c = { .env = env, .cloud_name = "envvars" };
    return finish(out, cfg, &c);
}

int vmmk__cloud_config_from_text(vmmk__cloud_config **out, const char *cloud_name,
                                 const char *clouds_text, size_t clouds_len,
                                 const char *clouds_path, const char *secure_text,
                                 size_t secure_len, const char *secure_path,
                                 const vmmk__cloud_env *env)
{
    if (!out || !cloud_name || !clouds_text || !clouds_path || (secure_text && !secure_path))
        return vmmk__err(VMMK_EINVAL, "vmmk__cloud_config_from_text: NULL argument");
    *out = NULL;
    vmmk__yaml_node *root = NULL, *sec = NULL;
    vmmk__cloud_config *cfg = NULL;
    int rc = vmmk__yaml_parse(&root, clouds_text, clouds_len, clouds_path);
    if (!rc)
        rc = top_mapping(root, clouds_path);
    if (!rc && secure_text && !(rc = vmmk__yaml_parse(&sec, secure_text, secure_len, secure_path)))
        rc = top_mapping(sec, secure_path);
    if (rc)
        goto out;
    warn_if_readable(clouds_path, root, cloud_name);
    warn_if_readable(secure_path, sec, cloud_name);
    if (sec) {
        vmmk__yaml_merge(root, sec);
        sec = NULL;
    }
    const vmmk__yaml_node *clouds = vmmk__yaml_get(root, "clouds");
    const vmmk__yaml_node *cloud = vmmk__yaml_get(clouds, cloud_name);
    if (!cloud) {
        vmmk__buf names = { 0 };
        for (size_t i = 0; clouds && i < clouds->n; i++)
            vmmk__buf_printf(&names, "%s%s", i ? ", " : "", clouds->keys[i]);
        char *list = vmmk__buf_take(&names);
        rc = vmmk__err(VMMK_ENOTFOUND, "cloud \"%s\" is not in %s (it has: %s)", cloud_name,
                       clouds_path, list && *list ? list : "none");
        free(list);
        goto out;
    }
    if (cloud->kind != VMMK__YAML_MAP) {
        rc = vmmk__err(VMMK_EINVAL, "%s: clouds.%s: expected a mapping, found a %s",
                       cloud->origin, cloud_name, vmmk__yaml_kind_name(cloud->kind));
        goto out;
    }
    const vmmk__yaml_node *auth = vmmk__yaml_get(cloud, "auth");
    if (auth && auth->kind != VMMK__YAML_MAP && !(auth->kind == VMMK__YAML_SCALAR && auth->is_null)) {
        rc = vmmk__err(VMMK_EINVAL, "%s: clouds.%s.auth: expected a mapping, found a %s",
                       auth->origin, cloud_name, vmmk__yaml_kind_name(auth->kind));
        goto out;
    }
    if (vmmk__yaml_get(cloud, "profile")) {
        rc = vmmk__err(VMMK_EUNSUPPORTED,
                       "%s: clouds.%s.profile: vendor profiles are not supported; write the "
                       "settings out", clouds_path, cloud_name);
        goto out;
    }
    cfg = calloc(1, sizeof *cfg);
    if (!cfg || !(cfg->name = strdup(cloud_name)) || !(cfg->clouds_file = strdup(clouds_path)) ||
        (secure_text && !(cfg->secure_file = strdup(secure_path)))) {
        vmmk__cloud_config_free(cfg);
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        goto out;
    }
    rctx c = { .env = env, .cloud_name = cloud_name, .file = clouds_path, .cloud = cloud };
    rc = finish(out, cfg, &c);
out:
    vmmk__yaml_free(root);
    vmmk__yaml_free(sec);
    return rc;
}

/* The first of DIR/clouds.yaml, DIR/clouds.yml over the search path, or
 * the file a variable names (which must then exist).  *searched lists the
 * places looked at, for the "not found" message. */
static int find_file(char **out, const char *base, const char *var, const vmmk__cloud_env *env,
                     vmmk__buf *searched)
{
    *out = NULL;
    const char *named = env_get(env, var);
    if (named) {
        struct stat st;
        if (stat(named, &st) != 0)
            return vmmk__err(VMMK_ENOTFOUND, "%s: %s names a file that does not exist", named, var);
        return (*out = strdup(named)) ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    const char *home = env && env->home ? env->home : env_get(env, "HOME");
    const char *xdg = env_get(env, "XDG_CONFIG_HOME");
    char *user = xdg && xdg[0] == '/' ? vmmk__asprintf("%s/openstack", xdg)
                 : home              ? vmmk__asprintf("%s/.config/openstack", home)
                                     : NULL;
    const char *dirs[3] = { env && env->cwd ? env->cwd : ".", user,
                            env && env->system_dir ? env->system_dir : "/etc/openstack" };
    int rc = 0;
    for (int d = 0; d < 3 && !*out && !rc; d++) {
        if (!dirs[d])
            continue;
        for (int e = 0; e < 2; e++) {
            char *p = vmmk__asprintf("%s/%s.%s", dirs[d], base, e ? "yml" : "yaml");
            if (!p) {
                rc = vmmk__err(VMMK_ENOMEM, "out of memory");
                break;
            }
            struct stat st;
            if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
                *out = p;
                break;
            }
            if (searched && e == 0)
                vmmk__buf_printf(searched, "%s%s", searched->len ? ", " : "", p);
            free(p);
        }
    }
    free(user);
    return rc;
}

int vmmk__cloud_config_load(vmmk__cloud_config **out, const char *cloud_name,
                            const vmmk__cloud_env *env)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk__cloud_config_load: out is NULL");
    *out = NULL;
    const char *name = cloud_name && *cloud_name ? cloud_name : env_get(env, "OS_CLOUD");
    if (!name || strcmp(name, "envvars") == 0)
        return envvars_cloud(out, env);

    char *clouds_path = NULL, *secure_path = NULL, *ctext = NULL, *stext = NULL;
    size_t clen = 0, slen = 0;
    vmmk__buf searched = { 0 };
    int rc = find_file(&clouds_path, "clouds", "OS_CLIENT_CONFIG_FILE", env, &searched);
    if (!rc && !clouds_path) {
        char *list = vmmk__buf_take(&searched);
        rc = vmmk__err(VMMK_ENOTFOUND, "cloud \"%s\": no clouds.yaml found (looked for %s)", name,
                       list ? list : "clouds.yaml");
        free(list);
    }
    vmmk__buf_free(&searched);
    if (!rc)
        rc = find_file(&secure_path, "secure", "OS_CLIENT_SECURE_FILE", env, NULL);
    if (!rc)
        rc = vmmk__read_file(&ctext, &clen, clouds_path);
    if (!rc && secure_path)
        rc = vmmk__read_file(&stext, &slen, secure_path);
    if (!rc)
        rc = vmmk__cloud_config_from_text(out, name, ctext, clen, clouds_path, stext, slen,
                                          secure_path, env);
    free(ctext);
    free(stext);
    free(clouds_path);
    free(secure_path);
    return rc;
}
