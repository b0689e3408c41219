/* The vmmk_cloud handle: Keystone v3 authentication (password,
 * application credential, token), the token kept as a secret and renewed
 * before it expires, the service catalog and endpoint selection, one HTTP
 * pool per origin, and microversion negotiation. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE   /* strptime, timegm (the build defines it too) */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "cloud_int.h"

#define RENEW_MARGIN_S 300       /* renew a token with less than this left */
#define DEFAULT_TIMEOUT_S 120
#define DEFAULT_RETRIES 5

/* Microversions vmmk asks for (the highest it was tested with) and the
 * lowest it works with; docs/cloud.md says what needs which. */
#define COMPUTE_WANT_MAJOR 2
#define COMPUTE_WANT_MINOR 79
#define COMPUTE_MIN_MINOR 60
#define VOLUME_WANT_MAJOR 3
#define VOLUME_WANT_MINOR 59
#define VOLUME_MIN_MINOR 0

static const char *const svc_names[VMMK__SVC_COUNT] = { "identity", "compute", "block-storage",
                                                          "network", "image" };

const char *vmmk__svc_name(vmmk__svc svc)
{
    return (unsigned)svc < VMMK__SVC_COUNT ? svc_names[svc] : "?";
}

int vmmk__svc_parse(const char *type)
{
    if (!type)
        return -1;
    static const struct {
        const char *name;
        vmmk__svc svc;
    } names[] = {
        { "identity", VMMK__SVC_IDENTITY },    { "compute", VMMK__SVC_COMPUTE },
        { "block-storage", VMMK__SVC_VOLUME }, { "block_storage", VMMK__SVC_VOLUME },
        { "volumev3", VMMK__SVC_VOLUME },      { "volume", VMMK__SVC_VOLUME },
        { "network", VMMK__SVC_NETWORK },      { "image", VMMK__SVC_IMAGE },
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strcmp(type, names[i].name) == 0)
            return (int)names[i].svc;
    return -1;
}

/* ---- handle ---------------------------------------------------------- */

typedef struct env_hook {
    const char *clouds_file;
} env_hook;

static const char *hook_getenv(const char *name, void *payload)
{
    const env_hook *e = payload;
    if (e->clouds_file && strcmp(name, "OS_CLIENT_CONFIG_FILE") == 0)
        return e->clouds_file;
    return getenv(name);
}

static void drop_token(vmmk_cloud *c)
{
    if (c->token) {
        vmmk_secret_unregister(c->token);
        memset(c->token, 0, strlen(c->token));
        free(c->token);
        c->token = NULL;
    }
    json_object_put(c->token_body);
    c->token_body = NULL;
    free(c->expires_at);
    c->expires_at = NULL;
    free(c->user_id);
    free(c->project_id);
    c->user_id = c->project_id = NULL;
    c->expires = 0;
    for (int i = 0; i < VMMK__SVC_COUNT; i++) {
        free(c->endpoint[i]);
        c->endpoint[i] = NULL;
    }
}

void vmmk_cloud_free(vmmk_cloud *c)
{
    if (!c)
        return;
    drop_token(c);
    for (size_t i = 0; i < c->n_conns; i++) {
        vmmk__http_free(c->conns[i].http);
        free(c->conns[i].origin);
    }
    free(c->conns);
    free(c->region);
    vmmk__cloud_config_free(c->cfg);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

int vmmk_cloud_open(vmmk_cloud **out, const vmmk_cloud_options *opts)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_open: out is NULL");
    *out = NULL;
    vmmk_cloud_options dflt = VMMK_CLOUD_OPTIONS_INIT;
    if (!opts)
        opts = &dflt;
    if (opts->version < 1 || opts->version > VMMK_CLOUD_OPTIONS_VERSION)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_open: options version %u not supported",
                         opts->version);
    vmmk_cloud *c = calloc(1, sizeof *c);
    if (!c)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    env_hook hook = { opts->clouds_file };
    vmmk__cloud_env env = { .getenv = hook_getenv, .payload = &hook };
    int rc = vmmk__cloud_config_load(&c->cfg, opts->cloud, &env);
    if (rc)
        goto fail;
    c->interface = c->cfg->interface;
    if (opts->interface && !vmmk__cloud_interface_parse(&c->interface, opts->interface)) {
        rc = vmmk__err(VMMK_EINVAL, "interface \"%s\": expected public, internal or admin",
                       opts->interface);
        goto fail;
    }
    const char *region = opts->region ? opts->region : c->cfg->region_name;
    if (region && *region && !(c->region = strdup(region))) {
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        goto fail;
    }
    c->timeout_s = opts->timeout ? (long)opts->timeout : DEFAULT_TIMEOUT_S;
    c->retries = opts->retries < 0 ? DEFAULT_RETRIES : opts->retries;
    c->page_size = opts->page_size;
    pthread_mutex_lock(&c->lock);
    rc = vmmk__os_authenticate(c);
    pthread_mutex_unlock(&c->lock);
    if (rc)
        goto fail;
    *out = c;
    return 0;
fail:
    vmmk_cloud_free(c);
    return rc;
}

/* ---- connections ------------------------------------------------------ */

int vmmk__os_http(vmmk__http **out, vmmk_cloud *c, const char *url)
{
    char *scheme = NULL, *host = NULL;
    long port = 0;
    if (vmmk__url_origin(url, &scheme, &host, &port) != 0) {
        char *shown = vmmk__url_shown(url);
        int rc = vmmk__err(VMMK_EINVAL, "endpoint URL \"%s\" is not an http(s) URL",
                           shown ? shown : "?");
        free(shown);
        return rc;
    }
    char *origin = vmmk__asprintf("%s://%s:%ld", scheme, host, port);
    free(scheme);
    free(host);
    if (!origin)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n_conns; i++)
        if (strcmp(c->conns[i].origin, origin) == 0) {
            free(origin);
            *out = c->conns[i].http;
            return 0;
        }
    vmmk__os_conn *nc = realloc(c->conns, (c->n_conns + 1) * sizeof *nc);
    if (!nc) {
        free(origin);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    c->conns = nc;
    vmmk__http_options ho = { 0 };
    ho.base_url = origin;
    ho.cacert = c->cfg->cacert;
    ho.insecure = !c->cfg->verify;
    ho.timeout_s = c->timeout_s;
    ho.connect_timeout_s = c->timeout_s < 30 ? c->timeout_s : 30;
    ho.client_cert = c->cfg->cert;
    ho.client_key = c->cfg->key;
    vmmk__http *h;
    int rc = vmmk__http_new(&h, &ho);
    if (rc) {
        free(origin);
        return rc;
    }
    c->conns[c->n_conns].origin = origin;
    c->conns[c->n_conns].http = h;
    c->n_conns++;
    *out = h;
    return 0;
}

/* ---- Keystone --------------------------------------------------------- */

/* {"name"|"id": ..., "domain": {...}} for a user or project. */
static json_object *named(const char *id, const char *name, const char *dom_id,
                          const char *dom_name)
{
    json_object *o = json_object_new_object();
    if (id) {
        vmmk__json_add_string(o, "id", id);
        return o;
    }
    vmmk__json_add_string(o, "name", name);
    json_object *d = json_object_new_object();
    if (dom_id)
        vmmk__json_add_string(d, "id", dom_id);
    else
        vmmk__json_add_string(d, "name", dom_name ? dom_name : "Default");
    json_object_object_add(o, "domain", d);
    return o;
}

static json_object *auth_body(const vmmk__cloud_config *cfg)
{
    json_object *root = json_object_new_object(), *auth = json_object_new_object(),
                *identity = json_object_new_object(), *methods = json_object_new_array();
    json_object_object_add(root, "auth", auth);
    json_object_object_add(auth, "identity", identity);
    json_object_object_add(identity, "methods", methods);
    bool scoped = true;
    switch (cfg->auth_type) {
    case VMMK__CLOUD_AUTH_PASSWORD: {
        json_object_array_add(methods, json_object_new_string("password"));
        json_object *pw = json_object_new_object();
        json_object *user = named(cfg->user_id, cfg->username, cfg->user_domain_id,
                                  cfg->user_domain_name);
        vmmk__json_add_string(user, "password", cfg->password ? cfg->password : "");
        json_object_object_add(pw, "user", user);
        json_object_object_add(identity, "password", pw);
        break;
    }
    case VMMK__CLOUD_AUTH_APPCRED: {
        json_object_array_add(methods, json_object_new_string("application_credential"));
        json_object *ac = json_object_new_object();
        if (cfg->application_credential_id) {
            vmmk__json_add_string(ac, "id", cfg->application_credential_id);
        } else {
            vmmk__json_add_string(ac, "name", cfg->application_credential_name);
            json_object_object_add(ac, "user",
                                   named(cfg->user_id, cfg->username, cfg->user_domain_id,
                                         cfg->user_domain_name));
        }
        vmmk__json_add_string(ac, "secret", cfg->application_credential_secret);
        json_object_object_add(identity, "application_credential", ac);
        scoped = false;  /* an application credential carries its own scope */
        break;
    }
    case VMMK__CLOUD_AUTH_TOKEN: {
        json_object_array_add(methods, json_object_new_string("token"));
        json_object *t = json_object_new_object();
        vmmk__json_add_string(t, "id", cfg->token);
        json_object_object_add(identity, "token", t);
        break;
    }
    }
    if (scoped) {
        json_object *scope = NULL;
        if (cfg->project_id || cfg->project_name) {
            scope = json_object_new_object();
            json_object_object_add(scope, "project",
                                   named(cfg->project_id, cfg->project_name, cfg->project_domain_id,
                                         cfg->project_domain_name));
        } else if (cfg->domain_id || cfg->domain_name) {
            scope = json_object_new_object();
            json_object *d = json_object_new_object();
            if (cfg->domain_id)
                vmmk__json_add_string(d, "id", cfg->domain_id);
            else
                vmmk__json_add_string(d, "name", cfg->domain_name);
            json_object_object_add(scope, "domain", d);
        }
        if (scope)
            json_object_object_add(auth, "scope", scope);
    }
    return root;
}

static time_t parse_iso8601(const char *s)
{
    struct tm tm = { 0 };
    const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
    if (!p)
        return 0;
    return timegm(&tm);   /* Keystone writes UTC ("Z" or "+00:00") */
}

int vmmk__os_parse_token(vmmk_cloud *c, const char *body, size_t len)
{
    json_object *root = NULL, *token;
    if (vmmk__json_parse(&root, body, len) != 0 ||
        !json_object_object_get_ex(root, "token", &token) ||
        !json_object_is_type(token, json_type_object)) {
        json_object_put(root);
        return vmmk__err(VMMK_EREMOTE, "Keystone's token response is not a {\"token\": {...}} document");
    }
    json_object *user = NULL, *project = NULL, *catalog = NULL;
    json_object_object_get_ex(token, "user", &user);
    json_object_object_get_ex(token, "project", &project);
    json_object_object_get_ex(token, "catalog", &catalog);
    const char *expires = vmmk__jstr(token, "expires_at");
    if (!vmmk__jstr(user, "id") || (catalog && !json_object_is_type(catalog, json_type_array))) {
        json_object_put(root);
        return vmmk__err(VMMK_EREMOTE, "Keystone's token response has no %s",
                         !vmmk__jstr(user, "id") ? "token.user.id" : "usable token.catalog list");
    }
    json_object_put(c->token_body);
    free(c->user_id);
    free(c->project_id);
    free(c->expires_at);
    c->token_body = json_object_get(token);
    c->user_id = vmmk__jdup(user, "id");
    c->project_id = vmmk__jdup(project, "id");
    c->expires_at = expires ? strdup(expires) : NULL;
    c->expires = parse_iso8601(expires);
    time_t issued = parse_iso8601(vmmk__jstr(token, "issued_at"));
    c->lifetime = (issued > 0 && c->expires > issued) ? (long)(c->expires - issued) : 0;
    json_object_put(root);
    for (int i = 0; i < VMMK__SVC_COUNT; i++) {
        free(c->endpoint[i]);
        c->endpoint[i] = NULL;
    }
    return 0;
}

int vmmk__os_authenticate(vmmk_cloud *c)
{
    const vmmk__cloud_config *cfg = c->cfg;
    json_object *body = auth_body(cfg);
    char *url = vmmk__asprintf("%s/auth/tokens", cfg->auth_url);
    char what[512];
    const char *who = cfg->auth_type == VMMK__CLOUD_AUTH_APPCRED
                          ? (cfg->application_credential_id ? cfg->application_credential_id
                                                            : cfg->application_credential_name)
                          : cfg->username ? cfg->username : cfg->user_id ? cfg->user_id : "token";
    snprintf(what, sizeof what, "Keystone at %s: authenticating cloud \"%s\" (%s %s)", cfg->auth_url,
             cfg->name, vmmk__cloud_auth_type_name(cfg->auth_type), who ? who : "");
    if (!body || !url) {
        json_object_put(body);
        free(url);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_IDENTITY, "POST", url, what);
    call.body = body;
    call.noauth = true;
    call.retry = 1;   /* issuing a token changes nothing: safe to resend */
    vmmk__os_reply r;
    int rc = vmmk__os_do_locked(c, &call, &r);
    json_object_put(body);
    free(url);
    if (rc) {
        if (r.status == 401 || r.status == 403 || r.status == 404) {
            /* Copies: recording an error frees the previous one's strings. */
            const vmmk_error *e = vmmk_error_last();
            char *fault = vmmk__strdup(e->fault), *detail = vmmk__strdup(e->detail);
            char *msg = vmmk__strdup(e->message);
            vmmk__err_full(VMMK_EAUTH, fault, detail, (int)r.status, 0, "%s",
                           msg ? msg : "Keystone refused the credentials");
            free(fault);
            free(detail);
            free(msg);
        }
        rc = vmmk_error_last()->code;
        vmmk__os_reply_clear(&r);
        return rc;
    }
    char *tok = vmmk__http_header(r.headers, "X-Subject-Token");
    if (!tok || !*tok) {
        free(tok);
        vmmk__os_reply_clear(&r);
        return vmmk__err(VMMK_EREMOTE, "%s: the answer has no X-Subject-Token header", what);
    }
    vmmk_secret_register(tok);
    rc = vmmk__os_parse_token(c, r.raw, r.raw_len);
    if (!rc && c->expires) {
        /* expires_at is on Keystone's clock: move it onto ours by the
         * difference its Date header shows, so that a skewed clock here
         * neither renews on every call nor sends an expired token. */
        char *date = vmmk__http_header(r.headers, "Date");
        time_t server_now = date ? curl_getdate(date, NULL) : -1;
        free(date);
        if (server_now > 0)
            c->expires += time(NULL) - server_now;
    }
    vmmk__os_reply_clear(&r);
    if (rc) {
        vmmk_secret_unregister(tok);
        free(tok);
        return vmmk__err_prefix("%s", what);
    }
    if (c->token) {
        vmmk_secret_unregister(c->token);
        memset(c->token, 0, strlen(c->token));
        free(c->token);
    }
    c->token = tok;
    vmmk__log(VMMK_LOG_DEBUG, "cloud %s: authenticated as user %s, project %s; token expires %s",
              cfg->name, c->user_id, c->project_id ? c->project_id : "(none)",
              c->expires_at ? c->expires_at : "(unknown)");
    return 0;
}

/* How long before expiry a token is renewed: RENEW_MARGIN_S, or half the
 * token's lifetime (Keystone's expires_at - issued_at, both from its own
 * clock) when that is shorter -- otherwise a cloud issuing short-lived
 * tokens would get a new token request before every call. */
static long renew_margin(const vmmk_cloud *c)
{
    if (c->lifetime > 0 && c->lifetime / 2 < RENEW_MARGIN_S)
        return c->lifetime / 2;
    return RENEW_MARGIN_S;
}

int vmmk__os_ensure_token(vmmk_cloud *c)
{
    if (c->token && (!c->expires || c->expires - time(NULL) > renew_margin(c)))
        return 0;
    if (c->token)
        vmmk__log(VMMK_LOG_INFO, "cloud %s: token expires at %s; renewing", c->cfg->name,
                  c->expires_at ? c->expires_at : "?");
    return vmmk__os_authenticate(c);
}

/* ---- catalog ---------------------------------------------------------- */

/* Replace %(project_id)s / %(tenant_id)s / $(project_id)s in an override. */
static char *expand_project(const char *url, const char *project_id)
{
    vmmk__buf b = { 0 };
    const char *pats[] = { "%(project_id)s", "%(tenant_id)s", "$(project_id)s", "$(tenant_id)s" };
    for (const char *p = url; *p;) {
        size_t k;
        for (k = 0; k < 4; k++)
            if (strncmp(p, pats[k], strlen(pats[k])) == 0)
                break;
        if (k < 4) {
            vmmk__buf_puts(&b, project_id ? project_id : "");
            p += strlen(pats[k]);
        } else {
            vmmk__buf_append(&b, p, 1);
            p++;
        }
    }
    if (!b.data)
        vmmk__buf_append(&b, "", 0);
    return vmmk__buf_take(&b);
}

/* Strip a trailing '/' and, for network and image, the version segment
 * the paths add themselves. */
static void normalise_endpoint(char *url, vmmk__svc svc)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        url[--n] = '\0';
    const char *suffix = svc == VMMK__SVC_NETWORK ? "/v2.0" : svc == VMMK__SVC_IMAGE ? "/v2" : NULL;
    if (suffix && n > strlen(suffix) && strcmp(url + n - strlen(suffix), suffix) == 0)
        url[n - strlen(suffix)] = '\0';
}

static bool type_matches(vmmk__svc svc, const char *type)
{
    return type && vmmk__svc_parse(type) == (int)svc;
}

int vmmk__os_endpoint(const char **out, vmmk_cloud *c, vmmk__svc svc)
{
    if (c->endpoint[svc]) {
        *out = c->endpoint[svc];
        return 0;
    }
    const char *ov = vmmk__cloud_config_endpoint_override(c->cfg, svc_names[svc]);
    char *url = NULL;
    if (ov) {
        url = expand_project(ov, c->project_id);
    } else if (svc == VMMK__SVC_IDENTITY && !c->token_body) {
        url = strdup(c->cfg->auth_url);
    } else {
        const char *want_if = vmmk__cloud_interface_name(c->interface);
        json_object *catalog = NULL;
        if (c->token_body)
            json_object_object_get_ex(c->token_body, "catalog", &catalog);
        /* Prefer block-storage over volumev3 over volume when several match. */
        int best_rank = 99;
        for (size_t i = 0; catalog && i < json_object_array_length(catalog); i++) {
            json_object *s = json_object_array_get_idx(catalog, i), *eps;
            const char *type = vmmk__jstr(s, "type");
            if (!type_matches(svc, type) || !json_object_object_get_ex(s, "endpoints", &eps) ||
                !json_object_is_type(eps, json_type_array))
                continue;
            int rank = strcmp(type, "block-storage") == 0 ? 0 : strcmp(type, "volumev3") == 0 ? 1 : 2;
            for (size_t j = 0; j < json_object_array_length(eps); j++) {
                json_object *e = json_object_array_get_idx(eps, j);
                const char *ifc = vmmk__jstr(e, "interface"), *reg = vmmk__jstr(e, "region_id");
                if (!reg)
                    reg = vmmk__jstr(e, "region");
                if (!ifc || strcmp(ifc, want_if) != 0 || !vmmk__jstr(e, "url"))
                    continue;
                if (c->region && (!reg || strcmp(reg, c->region) != 0))
                    continue;
                if (rank < best_rank) {
                    free(url);
                    url = vmmk__jdup(e, "url");
                    best_rank = rank;
                }
            }
        }
        if (!url) {
            vmmk__buf have = { 0 };
            for (size_t i = 0; catalog && i < json_object_array_length(catalog); i++) {
                const char *t = vmmk__jstr(json_object_array_get_idx(catalog, i), "type");
                if (t)
                    vmmk__buf_printf(&have, "%s%s", have.len ? ", " : "", t);
            }
            int rc = vmmk__err(VMMK_ENOTFOUND,
                               "no %s endpoint with interface %s%s%s in the catalog of cloud "
                               "\"%s\" (it lists: %s); set region_name/interface or an endpoint "
                               "override",
                               svc_names[svc], want_if, c->region ? " in region " : "",
                               c->region ? c->region : "", c->cfg->name,
                               have.data ? have.data : "nothing");
            vmmk__buf_free(&have);
            return rc;
        }
    }
    if (!url)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    /* The token goes wherever the catalog says: only to http(s) URLs. */
    char *scheme = NULL, *host = NULL;
    long port = 0;
    bool web = (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0) &&
               vmmk__url_origin(url, &scheme, &host, &port) == 0;
    free(scheme);
    free(host);
    if (!web) {
        char *shown = vmmk__url_shown(url);
        int rc = vmmk__err(VMMK_EINVAL, "the %s endpoint \"%.300s\" of cloud \"%s\" (from the %s) "
                           "is not an http(s) URL",
                           svc_names[svc], shown ? shown : "?", c->cfg->name,
                           ov ? "endpoint override" : "catalog");
        free(shown);
        free(url);
        return rc;
    }
    normalise_endpoint(url, svc);
    c->endpoint[svc] = url;
    *out = url;
    return 0;
}

/* ---- microversions ---------------------------------------------------- */

static bool parse_mv(const char *s, int *major, int *minor)
{
    return s && sscanf(s, "%d.%d", major, minor) == 2;
}

int vmmk__os_negotiate(vmmk_cloud *c, vmmk__svc svc)
{
    vmmk__os_version *mv = &c->mv[svc];
    if (mv->negotiated)
        return 0;
    const char *ep;
    int rc = vmmk__os_endpoint(&ep, c, svc);
    if (rc)
        return rc;
    /* The version document sits at the versioned root: ".../v2.1" for
     * Nova, ".../v3/" (without the project id) for Cinder. */
    const char *seg = svc == VMMK__SVC_COMPUTE ? "/v2.1" : "/v3";
    const char *p = strstr(ep, seg);
    while (p && p[strlen(seg)] && p[strlen(seg)] != '/')
        p = strstr(p + 1, seg);
    char *root = p ? vmmk__asprintf("%.*s/", (int)(p - ep + (ptrdiff_t)strlen(seg)), ep)
                   : vmmk__asprintf("%s/", ep);
    if (!root)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    char what[128];
    snprintf(what, sizeof what, "reading the %s API version", svc_names[svc]);
    vmmk__os_call call = VMMK__OS_CALL(svc, "GET", root, what);
    vmmk__os_reply r;
    mv->negotiated = true;   /* no microversion header on the version request itself */
    mv->major = mv->minor = 0;
    rc = vmmk__os_do_locked(c, &call, &r);
    mv->negotiated = false;
    free(root);
    if (rc)
        return rc;
    json_object *v = NULL, *vs;
    if (r.body && !json_object_object_get_ex(r.body, "version", &v) &&
        json_object_object_get_ex(r.body, "versions", &vs) &&
        json_object_is_type(vs, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(vs); i++) {
            json_object *e = json_object_array_get_idx(vs, i);
            const char *id = vmmk__jstr(e, "id");
            const char *want = svc == VMMK__SVC_COMPUTE ? "v2.1" : "v3";
            if (id && strncmp(id, want, strlen(want)) == 0)
                v = e;
        }
    }
    int smaj = 0, smin = 0, want_maj, want_min, min_min;
    if (svc == VMMK__SVC_COMPUTE) {
        want_maj = COMPUTE_WANT_MAJOR;
        want_min = COMPUTE_WANT_MINOR;
        min_min = COMPUTE_MIN_MINOR;
    } else {
        want_maj = VOLUME_WANT_MAJOR;
        want_min = VOLUME_WANT_MINOR;
        min_min = VOLUME_MIN_MINOR;
    }
    if (!parse_mv(vmmk__jstr(v, "version"), &smaj, &smin) || smaj != want_maj) {
        /* No microversions advertised: the base version. */
        smaj = want_maj;
        smin = svc == VMMK__SVC_COMPUTE ? 1 : 0;
    }
    vmmk__os_reply_clear(&r);
    mv->max_major = smaj;
    mv->max_minor = smin;
    mv->major = want_maj;
    mv->minor = smin < want_min ? smin : want_min;
    if (mv->minor < min_min)
        return vmmk__err(VMMK_EUNSUPPORTED,
                         "the %s API of cloud \"%s\" offers microversions up to %d.%d; vmmk "
                         "needs %d.%d or later (docs/cloud.md)",
                         svc_names[svc], c->cfg->name, smaj, smin, want_maj, min_min);
    mv->negotiated = true;
    vmmk__log(VMMK_LOG_DEBUG, "cloud %s: %s microversion %d.%d (server maximum %d.%d)",
              c->cfg->name, svc_names[svc], mv->major, mv->minor, smaj, smin);
    return 0;
}

bool vmmk__os_mv_at_least(vmmk_cloud *c, vmmk__svc svc, int major, int minor)
{
    pthread_mutex_lock(&c->lock);
    bool ok = vmmk__os_ensure_token(c) == 0 && vmmk__os_negotiate(c, svc) == 0 &&
              (c->mv[svc].major > major ||
               (c->mv[svc].major == major && c->mv[svc].minor >= minor));
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* ---- public calls ----------------------------------------------------- */

int vmmk_cloud_reauthenticate(vmmk_cloud *c)
{
    if (!c)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_reauthenticate: handle is NULL");
    pthread_mutex_lock(&c->lock);
    int rc = vmmk__os_authenticate(c);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int vmmk_cloud_endpoint_url(char **out, vmmk_cloud *c, const char *service_type)
{
    if (!out || !c || !service_type)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_endpoint_url: NULL argument");
    *out = NULL;
    int svc = vmmk__svc_parse(service_type);
    if (svc < 0)
        return vmmk__err(VMMK_EINVAL,
                         "service type \"%s\": expected identity, compute, block-storage "
                         "(volumev3, volume), network or image",
                         service_type);
    pthread_mutex_lock(&c->lock);
    const char *ep = NULL;
    int rc = vmmk__os_ensure_token(c);
    if (!rc)
        rc = vmmk__os_endpoint(&ep, c, (vmmk__svc)svc);
    if (!rc && !(*out = strdup(ep)))
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int vmmk_cloud_request(char **out, long *status, vmmk_cloud *c, const char *service_type,
                       const char *method, const char *path, const char *body)
{
    if (out)
        *out = NULL;
    if (status)
        *status = 0;
    if (!out || !c || !service_type || !method || !path)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_request: NULL argument");
    int svc = vmmk__svc_parse(service_type);
    if (svc < 0)
        return vmmk__err(VMMK_EINVAL, "service type \"%s\" is not known", service_type);
    if (path[0] != '/')
        return vmmk__err(VMMK_EINVAL, "path \"%s\" must start with '/'", path);
    char what[256];
    snprintf(what, sizeof what, "%s %s %s", service_type, method, path);
    vmmk__os_call call = VMMK__OS_CALL((vmmk__svc)svc, method, path, what);
    call.raw = body;
    call.raw_len = body ? strlen(body) : 0;
    vmmk__os_reply r;
    int rc = vmmk__os_do(c, &call, &r);
    if (status)
        *status = r.status;
    if (!rc) {
        *out = r.raw;
        r.raw = NULL;
    }
    vmmk__os_reply_clear(&r);
    return rc;
}

/* ---- auth info -------------------------------------------------------- */

void vmmk_cloud_auth_info_free(vmmk_cloud_auth_info *i)
{
    if (!i)
        return;
    free(i->cloud);
    free(i->auth_url);
    free(i->user_id);
    free(i->user_name);
    free(i->user_domain_id);
    free(i->project_id);
    free(i->project_name);
    free(i->project_domain_id);
    free(i->region);
    free(i->interface);
    free(i->expires_at);
    vmmk__strv_free(i->roles, i->n_roles);
    for (size_t k = 0; k < i->n_endpoints; k++) {
        vmmk_cloud_endpoint *e = &i->endpoints[k];
        free(e->service_type);
        free(e->service_name);
        free(e->interface);
        free(e->region);
        free(e->url);
    }
    free(i->endpoints);
    free(i);
}

int vmmk_cloud_auth_info_get(vmmk_cloud_auth_info **out, vmmk_cloud *c)
{
    if (!out || !c)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_auth_info_get: NULL argument");
    *out = NULL;
    pthread_mutex_lock(&c->lock);
    int rc = vmmk__os_ensure_token(c);
    vmmk_cloud_auth_info *i = rc ? NULL : calloc(1, sizeof *i);
    if (!rc && !i)
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    if (!rc) {
        json_object *t = c->token_body, *user = NULL, *project = NULL, *roles = NULL,
                    *catalog = NULL, *d;
        json_object_object_get_ex(t, "user", &user);
        json_object_object_get_ex(t, "project", &project);
        json_object_object_get_ex(t, "roles", &roles);
        json_object_object_get_ex(t, "catalog", &catalog);
        i->cloud = vmmk__strdup(c->cfg->name);
        i->auth_url = vmmk__strdup(c->cfg->auth_url);
        i->user_id = vmmk__jdup(user, "id");
        i->user_name = vmmk__jdup(user, "name");
        if (json_object_object_get_ex(user, "domain", &d))
            i->user_domain_id = vmmk__jdup(d, "id");
        i->project_id = vmmk__jdup(project, "id");
        i->project_name = vmmk__jdup(project, "name");
        if (json_object_object_get_ex(project, "domain", &d))
            i->project_domain_id = vmmk__jdup(d, "id");
        i->region = vmmk__strdup(c->region);
        i->interface = vmmk__strdup(vmmk__cloud_interface_name(c->interface));
        i->expires_at = vmmk__strdup(c->expires_at);
        size_t nr = roles && json_object_is_type(roles, json_type_array)
                        ? json_object_array_length(roles) : 0;
        i->roles = nr ? calloc(nr, sizeof *i->roles) : NULL;
        for (size_t k = 0; i->roles && k < nr; k++) {
            const char *name = vmmk__jstr(json_object_array_get_idx(roles, k), "name");
            if (name)
                i->roles[i->n_roles++] = strdup(name);
        }
        size_t ne = 0;
        for (size_t k = 0; catalog && k < json_object_array_length(catalog); k++) {
            json_object *eps;
            if (json_object_object_get_ex(json_object_array_get_idx(catalog, k), "endpoints", &eps) &&
                json_object_is_type(eps, json_type_array))
                ne += json_object_array_length(eps);
        }
        i->endpoints = ne ? calloc(ne, sizeof *i->endpoints) : NULL;
        for (size_t k = 0; i->endpoints && k < json_object_array_length(catalog); k++) {
            json_object *s = json_object_array_get_idx(catalog, k), *eps;
            if (!json_object_object_get_ex(s, "endpoints", &eps) ||
                !json_object_is_type(eps, json_type_array))
                continue;
            for (size_t j = 0; j < json_object_array_length(eps); j++) {
                json_object *e = json_object_array_get_idx(eps, j);
                vmmk_cloud_endpoint *o = &i->endpoints[i->n_endpoints++];
                o->service_type = vmmk__jdup(s, "type");
                o->service_name = vmmk__jdup(s, "name");
                o->interface = vmmk__jdup(e, "interface");
                o->region = vmmk__jdup(e, "region_id");
                if (!o->region)
                    o->region = vmmk__jdup(e, "region");
                o->url = vmmk__jdup(e, "url");
            }
        }
        *out = i;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int vmmk_cloud_auth_info_to_json(char **out, const vmmk_cloud_auth_info *i, unsigned flags)
{
    if (!out || !i)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_auth_info_to_json: NULL argument");
    json_object *o = json_object_new_object(), *u = json_object_new_object(),
                *p = json_object_new_object(), *roles = json_object_new_array(),
                *eps = json_object_new_array();
    vmmk__json_add_string(o, "cloud", i->cloud);
    vmmk__json_add_string(o, "auth_url", i->auth_url);
    vmmk__json_add_string(u, "id", i->user_id);
    vmmk__json_add_string(u, "name", i->user_name);
    vmmk__json_add_string(u, "domain_id", i->user_domain_id);
    json_object_object_add(o, "user", u);
    vmmk__json_add_string(p, "id", i->project_id);
    vmmk__json_add_string(p, "name", i->project_name);
    vmmk__json_add_string(p, "domain_id", i->project_domain_id);
    json_object_object_add(o, "project", p);
    vmmk__json_add_string(o, "region", i->region);
    vmmk__json_add_string(o, "interface", i->interface);
    vmmk__json_add_string(o, "expires_at", i->expires_at);
    for (size_t k = 0; k < i->n_roles; k++)
        json_object_array_add(roles, json_object_new_string(i->roles[k]));
    json_object_object_add(o, "roles", roles);
    for (size_t k = 0; k < i->n_endpoints; k++) {
        const vmmk_cloud_endpoint *e = &i->endpoints[k];
        json_object *j = json_object_new_object();
        vmmk__json_add_string(j, "service_type", e->service_type);
        vmmk__json_add_string(j, "service_name", e->service_name);
        vmmk__json_add_string(j, "interface", e->interface);
        vmmk__json_add_string(j, "region", e->region);
        vmmk__json_add_string(j, "url", e->url);
        json_object_array_add(eps, j);
    }
    json_object_object_add(o, "endpoints", eps);
    *out = vmmk__json_dump(o, flags);
    json_object_put(o);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
}
