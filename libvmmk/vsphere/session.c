/* vSphere session: connection and trust, service content, login, logout,
 * transparent re-login (docs/vsphere.md). */
#include "session.h"

#include "inventory.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"

#define DEFAULT_TIMEOUT 300

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* "host", "host:port", "[v6]:port" or "https://host[:port][/sdk]" ->
 * base URL "https://host:port" and the shown "host:port". */
static int parse_server(const char *server, char **base, char **shown)
{
    const char *p = server;
    const char *scheme = "https";
    if (strncmp(p, "https://", 8) == 0) {
        p += 8;
    } else if (strncmp(p, "http://", 7) == 0) {
        p += 7;
        scheme = "http";
    } else if (strstr(p, "://")) {
        return vmmk__err(VMMK_EINVAL, "server \"%s\": only https:// (or http://) URLs are supported",
                         server);
    }
    size_t hl = strcspn(p, "/?#");
    if (hl == 0 || hl > 255 || memchr(p, '@', hl))
        return vmmk__err(VMMK_EINVAL, "server \"%s\": expected host, host:port or https://host[:port]",
                         server);
    for (size_t i = 0; i < hl; i++)
        if (!isalnum((unsigned char)p[i]) && !strchr(".-:[]_", p[i]))
            return vmmk__err(VMMK_EINVAL, "server \"%s\": invalid character in the host name", server);
    char host[260];
    memcpy(host, p, hl);
    host[hl] = '\0';
    const char *rest = p + hl;
    if (*rest && strcmp(rest, "/") && strcmp(rest, "/sdk") && strcmp(rest, "/sdk/"))
        return vmmk__err(VMMK_EINVAL, "server \"%s\": the only path allowed is /sdk", server);
    /* A port is present when the part after the last ':' (outside [v6]) is digits. */
    const char *close = strrchr(host, ']');
    const char *colon = strrchr(close ? close : host, ':');
    bool has_port = colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1) &&
                    (close || strchr(host, ':') == colon);
    if (colon && !has_port && !close && strchr(host, ':') != strrchr(host, ':'))
        return vmmk__err(VMMK_EINVAL, "server \"%s\": write IPv6 addresses as [addr]:port", server);
    if (has_port) {
        long port = strtol(colon + 1, NULL, 10);
        if (port < 1 || port > 65535)
            return vmmk__err(VMMK_EINVAL, "server \"%s\": port out of range", server);
        *base = vmmk__asprintf("%s://%s", scheme, host);
        *shown = strdup(host);
    } else {
        int dflt = strcmp(scheme, "https") == 0 ? 443 : 80;
        *base = vmmk__asprintf("%s://%s:%d", scheme, host, dflt);
        *shown = vmmk__asprintf("%s:%d", host, dflt);
    }
    if (!*base || !*shown)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    return 0;
}

void vmmk__vs_this(vmmk__buf *b, const char *type, const char *moref)
{
    vmmk__buf_puts(b, "<_this type=\"");
    vmmk__xml_escape(b, type);
    vmmk__buf_puts(b, "\">");
    vmmk__xml_escape(b, moref);
    vmmk__buf_puts(b, "</_this>");
}

/* One round trip, no re-login. */
static int call_once(vmmk_vsphere *vs, const char *method, const char *body, vmmk__soap_response *out)
{
    char *env = vmmk__soap_envelope(body);
    if (!env)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    static const char *const headers[] = { "Content-Type: text/xml; charset=utf-8",
                                           "SOAPAction: urn:vim25/6.5", NULL };
    vmmk__http_response resp = { 0 };
    vs->calls++;               /* every caller of call_once holds vs->lock */
    int rc = vmmk__http_request(vs->http, "POST", "/sdk", headers, env, strlen(env), &resp);
    free(env);
    if (rc) {
        vmmk__err_prefix("vSphere %s: %s", vs->server, method);
        return rc;
    }
    rc = vmmk__soap_parse(out, method, resp.body, resp.len, resp.status);
    if (!rc && out->body) {
        /* vcsim (and vCenter for some calls) reports NotAuthenticated in a
         * RetrieveProperties missingSet with HTTP 200, not as a fault. */
        rc = vmmk__soap_missing_set_fault(out->body, method, resp.status);
        if (rc)
            vmmk__soap_response_clear(out);
    }
    vmmk__http_response_clear(&resp);
    return rc;
}

static bool not_authenticated(int rc)
{
    const vmmk_error *e = vmmk_error_last();
    return rc == VMMK_EAUTH && e->fault && strcmp(e->fault, "NotAuthenticated") == 0;
}

static int login_locked(vmmk_vsphere *vs);

int vmmk__vs_call(vmmk_vsphere *vs, const char *method, const char *body, vmmk__soap_response *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&vs->lock);
    int rc = call_once(vs, method, body, out);
    if (rc && vs->logged_in && not_authenticated(rc)) {
        vmmk__log(VMMK_LOG_INFO, "vSphere %s: session expired during %s; logging in again", vs->server,
                  method);
        vmmk__http_clear_cookies(vs->http);
        if ((rc = login_locked(vs)) == 0) {
            vs->relogins++;
            rc = call_once(vs, method, body, out);
        }
    }
    pthread_mutex_unlock(&vs->lock);
    if (rc && !strstr(vmmk_error_last()->message, vs->server))
        vmmk__err_prefix("vSphere %s", vs->server);
    return rc;
}

static int read_service_content(vmmk_vsphere *vs)
{
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<RetrieveServiceContent xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "ServiceInstance", "ServiceInstance");
    vmmk__buf_puts(&b, "</RetrieveServiceContent>");
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    vmmk__soap_response r;
    int rc = vmmk__vs_call(vs, "RetrieveServiceContent", body, &r);
    free(body);
    if (rc)
        return rc;
    xmlNodePtr sc = vmmk__xml_child(r.body, "returnval");
    xmlNodePtr about = sc ? vmmk__xml_child(sc, "about") : NULL;
    if (!sc || !about) {
        vmmk__soap_response_clear(&r);
        return vmmk__err(VMMK_EPARSE, "vSphere %s: RetrieveServiceContent: no service content in the reply",
                         vs->server);
    }
    vs->root_folder = vmmk__xml_child_text(sc, "rootFolder");
    vs->property_collector = vmmk__xml_child_text(sc, "propertyCollector");
    vs->view_manager = vmmk__xml_child_text(sc, "viewManager");
    vs->session_manager = vmmk__xml_child_text(sc, "sessionManager");
    vs->search_index = vmmk__xml_child_text(sc, "searchIndex");
    vs->file_manager = vmmk__xml_child_text(sc, "fileManager");
    vs->virtual_disk_manager = vmmk__xml_child_text(sc, "virtualDiskManager");
    vs->about.api_type = vmmk__xml_child_text(about, "apiType");
    vs->about.api_version = vmmk__xml_child_text(about, "apiVersion");
    vs->about.version = vmmk__xml_child_text(about, "version");
    vs->about.full_name = vmmk__xml_child_text(about, "fullName");
    vs->about.instance_uuid = vmmk__xml_child_text(about, "instanceUuid");
    vmmk__soap_response_clear(&r);
    if (!vs->root_folder || !vs->property_collector || !vs->session_manager || !vs->about.api_type)
        return vmmk__err(VMMK_EPARSE,
                         "vSphere %s: RetrieveServiceContent: the reply lacks %s", vs->server,
                         !vs->root_folder ? "rootFolder" : !vs->property_collector ? "propertyCollector"
                         : !vs->session_manager ? "sessionManager" : "about.apiType");
    return 0;
}

/* Caller holds vs->lock. */
static int login_locked(vmmk_vsphere *vs)
{
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<Login xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "SessionManager", vs->session_manager);
    vmmk__buf_puts(&b, "<userName>");
    int rc = vmmk__xml_escape_strict(&b, vs->user, "user name");
    vmmk__buf_puts(&b, "</userName><password>");
    if (!rc)
        rc = vmmk__xml_escape_strict(&b, vs->password, "password");
    vmmk__buf_puts(&b, "</password></Login>");
    char *body = vmmk__buf_take(&b);
    if (rc) {
        free(body);
        return rc;
    }
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    vmmk__soap_response r;
    rc = call_once(vs, "Login", body, &r);
    /* The body held the password: wipe it before it is freed. */
    memset(body, 0, strlen(body));
    free(body);
    if (rc) {
        vmmk__err_prefix("vSphere %s: user %s", vs->server, vs->user);
        return rc;
    }
    vmmk__soap_response_clear(&r);
    const char *cookie = vmmk__http_cookie(vs->http, "vmware_soap_session");
    if (!cookie)
        return vmmk__err(VMMK_EAUTH, "vSphere %s: Login succeeded but the server set no session cookie",
                         vs->server);
    vs->logged_in = true;
    vmmk__log(VMMK_LOG_INFO, "vSphere %s: logged in as %s (%s %s)", vs->server, vs->user,
              vs->about.api_type, vs->about.api_version ? vs->about.api_version : "?");
    return 0;
}

int vmmk_vsphere_connect(vmmk_vsphere **out, const vmmk_vsphere_options *o)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_connect: out is NULL");
    *out = NULL;
    if (!o || o->version != VMMK_VSPHERE_OPTIONS_VERSION)
        return vmmk__err(VMMK_EINVAL, "vSphere options: %s", o ? "unsupported version" : "none given");
    if (!o->server || !*o->server)
        return vmmk__err(VMMK_EINVAL, "vSphere: no server given");
    if (!o->user || !*o->user)
        return vmmk__err(VMMK_EINVAL, "vSphere %s: no user given", o->server);
    if (!o->password)
        return vmmk__err(VMMK_EINVAL, "vSphere %s: no password given", o->server);
    vmmk_secret_register(o->password);

    vmmk_vsphere *vs = calloc(1, sizeof *vs);
    if (!vs)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    pthread_mutex_init(&vs->lock, NULL);
    char *base = NULL;
    int rc = parse_server(o->server, &base, &vs->server);
    if (!rc) {
        vs->user = strdup(o->user);
        vs->password = strdup(o->password);
        vs->cacert = dup_or_null(o->cacert);
        vs->insecure = o->insecure;
        vs->pinned = o->thumbprint && *o->thumbprint;
        vs->timeout_s = o->timeout ? o->timeout : DEFAULT_TIMEOUT;
        if (!vs->user || !vs->password || (o->cacert && !vs->cacert))
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    if (!rc) {
        vmmk__http_options ho = { 0 };
        ho.base_url = base;
        ho.cacert = o->cacert;
        ho.thumbprint = o->thumbprint;
        ho.insecure = o->insecure;
        ho.timeout_s = o->timeout ? (long)o->timeout : DEFAULT_TIMEOUT;
        rc = vmmk__http_new(&vs->http, &ho);
        if (rc)
            vmmk__err_prefix("vSphere %s", vs->server);
    }
    vs->base_url = base;
    if (!rc)
        rc = read_service_content(vs);
    if (!rc) {
        pthread_mutex_lock(&vs->lock);
        rc = login_locked(vs);
        pthread_mutex_unlock(&vs->lock);
    }
    if (rc) {
        vs->logged_in = false;     /* nothing to log out of */
        vmmk_vsphere_free(vs);
        return rc;
    }
    *out = vs;
    return 0;
}

static int logout_locked(vmmk_vsphere *vs)
{
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<Logout xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "SessionManager", vs->session_manager);
    vmmk__buf_puts(&b, "</Logout>");
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    vmmk__soap_response r;
    int rc = call_once(vs, "Logout", body, &r);
    free(body);
    if (!rc)
        vmmk__soap_response_clear(&r);
    return rc;
}

int vmmk__vs_logout_server_only(vmmk_vsphere *vs)
{
    pthread_mutex_lock(&vs->lock);
    int rc = logout_locked(vs);
    pthread_mutex_unlock(&vs->lock);
    return rc;
}

int vmmk__vs_get_string(char **out, vmmk_vsphere *vs, const char *type, const char *moref,
                        const char *property)
{
    *out = NULL;
    const char *const paths[] = { property, NULL };
    vmmk__soap_response r;
    xmlNodePtr obj;
    int rc = vmmk__vs_props(&r, &obj, vs, type, moref, paths);
    if (rc)
        return rc;
    *out = vmmk__vs_prop_text(obj, property);
    vmmk__soap_response_clear(&r);
    if (!*out)
        return vmmk__err(VMMK_ENOTFOUND, "vSphere %s: %s %s has no %s", vs->server, type, moref, property);
    return 0;
}

static void about_clear(vmmk_vsphere_about_info *a)
{
    free(a->api_type);
    free(a->api_version);
    free(a->version);
    free(a->full_name);
    free(a->instance_uuid);
    memset(a, 0, sizeof *a);
}

void vmmk_vsphere_free(vmmk_vsphere *vs)
{
    if (!vs)
        return;
    if (vs->logged_in && vs->http) {
        pthread_mutex_lock(&vs->lock);
        if (logout_locked(vs))
            vmmk__log(VMMK_LOG_DEBUG, "vSphere %s: logout failed: %s", vs->server, vmmk_error_last()->message);
        pthread_mutex_unlock(&vs->lock);
    }
    vmmk__http_free(vs->http);
    if (vs->password) {
        memset(vs->password, 0, strlen(vs->password));
        free(vs->password);
    }
    free(vs->user);
    free(vs->cacert);
    free(vs->base_url);
    free(vs->server);
    free(vs->root_folder);
    free(vs->property_collector);
    free(vs->view_manager);
    free(vs->session_manager);
    free(vs->search_index);
    free(vs->file_manager);
    free(vs->virtual_disk_manager);
    about_clear(&vs->about);
    pthread_mutex_destroy(&vs->lock);
    free(vs);
}

int vmmk_vsphere_about(vmmk_vsphere_about_info **out, vmmk_vsphere *vs)
{
    if (!out || !vs)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_about: %s is NULL", out ? "session" : "out");
    vmmk_vsphere_about_info *a = calloc(1, sizeof *a);
    if (!a)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    a->api_type = dup_or_null(vs->about.api_type);
    a->api_version = dup_or_null(vs->about.api_version);
    a->version = dup_or_null(vs->about.version);
    a->full_name = dup_or_null(vs->about.full_name);
    a->instance_uuid = dup_or_null(vs->about.instance_uuid);
    *out = a;
    return 0;
}

void vmmk_vsphere_about_info_free(vmmk_vsphere_about_info *a)
{
    if (!a)
        return;
    about_clear(a);
    free(a);
}

int vmmk_vsphere_thumbprint(char **out, const char *server, bool sha256)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_thumbprint: out is NULL");
    *out = NULL;
    if (!server)
        return vmmk__err(VMMK_EINVAL, "vSphere: no server given");
    char *base = NULL, *shown = NULL;
    int rc = parse_server(server, &base, &shown);
    if (!rc) {
        char *scheme = NULL, *host = NULL;
        long port = 0;
        rc = vmmk__url_origin(base, &scheme, &host, &port);
        if (!rc && strcmp(scheme, "https") != 0)
            rc = vmmk__err(VMMK_EINVAL, "server \"%s\": a thumbprint needs https", server);
        if (!rc)
            rc = vmmk__tls_thumbprint(out, host, (int)port, sha256, 30);
        free(scheme);
        free(host);
    }
    free(base);
    free(shown);
    return rc;
}
