/* Datastore files over vSphere's HTTPS file access
 * (https://host/folder/PATH?dcPath=DC&dsName=DS): URLs, the session cookie
 * for nbdkit's curl plugin, a copier source built from both, and small
 * file transfers on the session's own connection.
 *
 * vCenter authenticates /folder with the SOAP session cookie (vcsim does
 * not check it at all: docs/vcsim.md), so transfers here share the
 * session's HTTP handle and lock, and a 401/403 gets one fresh login. */
#include "inventory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/internal.h"

#define MAX_DEPTH 64            /* folders between a VM and the root */

int vmmk__ds_path_split(const char *ds_path, char **ds, char **path)
{
    *ds = *path = NULL;
    const char *close = ds_path && ds_path[0] == '[' ? strchr(ds_path, ']') : NULL;
    if (!close || close == ds_path + 1)
        return vmmk__err(VMMK_EINVAL, "datastore path \"%s\": expected \"[datastore] path\"",
                         ds_path ? ds_path : "");
    const char *p = close + 1;
    while (*p == ' ')
        p++;
    *ds = strndup(ds_path + 1, (size_t)(close - ds_path - 1));
    *path = strdup(p);
    if (!*ds || !*path) {
        free(*ds);
        free(*path);
        *ds = *path = NULL;
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    return 0;
}

/* Percent-encode all but RFC 3986 unreserved characters (and '/' when
 * @p keep_slash, for the path). */
static void encode(vmmk__buf *b, const char *s, bool keep_slash)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p) || (keep_slash && *p == '/'))
            vmmk__buf_append(b, (const char *)p, 1);
        else
            vmmk__buf_printf(b, "%%%02X", *p);
    }
}

/* "/folder/PATH?dcPath=DC&dsName=DS" for @p ds_path, optionally with the
 * disk descriptor's name turned into its flat file's. */
static int folder_path(char **out, const char *datacenter, const char *ds_path, bool flat)
{
    *out = NULL;
    if (!datacenter || !*datacenter)
        return vmmk__err(VMMK_EINVAL, "datastore path \"%s\": no datacenter given",
                         ds_path ? ds_path : "");
    char *ds, *path;
    int rc = vmmk__ds_path_split(ds_path, &ds, &path);
    if (rc)
        return rc;
    size_t len = strlen(path);
    static const char vmdk[] = ".vmdk", flat_vmdk[] = "-flat.vmdk";
    if (flat && (len <= sizeof vmdk - 1 || strcmp(path + len - (sizeof vmdk - 1), vmdk) != 0)) {
        rc = vmmk__err(VMMK_EINVAL, "disk \"%s\": not a .vmdk descriptor", ds_path);
    } else if (!flat && (!*path || path[len - 1] == '/')) {
        rc = vmmk__err(VMMK_EINVAL, "datastore path \"%s\": names no file", ds_path);
    } else {
        vmmk__buf b = { 0 };
        vmmk__buf_puts(&b, "/folder/");
        if (flat && !(len >= sizeof flat_vmdk - 1 &&
                      strcmp(path + len - (sizeof flat_vmdk - 1), flat_vmdk) == 0)) {
            path[len - (sizeof vmdk - 1)] = '\0';
            encode(&b, path, true);
            vmmk__buf_puts(&b, flat_vmdk);
        } else {
            encode(&b, path, true);
        }
        vmmk__buf_puts(&b, "?dcPath=");
        encode(&b, datacenter, false);
        vmmk__buf_puts(&b, "&dsName=");
        encode(&b, ds, false);
        if (!(*out = vmmk__buf_take(&b)))
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    free(ds);
    free(path);
    return rc;
}

static int full_url(char **out, vmmk_vsphere *vs, const char *datacenter, const char *ds_path,
                    bool flat)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "datastore URL: out is NULL");
    *out = NULL;
    if (!vs)
        return vmmk__err(VMMK_EINVAL, "datastore URL: session is NULL");
    char *path = NULL;
    int rc = folder_path(&path, datacenter, ds_path, flat);
    if (rc)
        return rc;
    *out = vmmk__asprintf("%s%s", vs->base_url, path);
    free(path);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
}

int vmmk_vsphere_datastore_url(char **out, vmmk_vsphere *vs, const char *datacenter,
                               const char *ds_path)
{
    return full_url(out, vs, datacenter, ds_path, false);
}

int vmmk_vsphere_disk_flat_url(char **out, vmmk_vsphere *vs, const char *datacenter,
                               const char *disk_file)
{
    return full_url(out, vs, datacenter, disk_file, true);
}

/* ---- datacenter ---------------------------------------------------------- */

/* The parent of @p moref (of @p type): moref and type, new strings. */
static int parent_of(char **pmoref, char **ptype, char **name, vmmk_vsphere *vs, const char *type,
                     const char *moref)
{
    *pmoref = *ptype = *name = NULL;
    bool vm = strcmp(type, "VirtualMachine") == 0;
    /* A VM in a vApp has no parent folder but a parentVApp. */
    static const char *const vm_paths[] = { "parent", "parentVApp", "name", NULL };
    static const char *const paths[] = { "parent", "name", NULL };
    vmmk__soap_response r;
    xmlNodePtr obj;
    int rc = vmmk__vs_props(&r, &obj, vs, type, moref, vm ? vm_paths : paths);
    if (rc)
        return rc;
    xmlNodePtr p = vmmk__vs_prop(obj, "parent");
    if (!p && vm)
        p = vmmk__vs_prop(obj, "parentVApp");
    if (p) {
        *pmoref = vmmk__xml_text(p);
        *ptype = vmmk__xml_attr(p, "type");
    }
    *name = vmmk__xml_text(vmmk__vs_prop(obj, "name"));
    vmmk__soap_response_clear(&r);
    return 0;
}

int vmmk_vsphere_datacenter_path(char **out, vmmk_vsphere *vs, const char *vm)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_datacenter_path: out is NULL");
    *out = NULL;
    if (!vs || !vm || !*vm)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_datacenter_path: %s",
                         vs ? "no VM given" : "session is NULL");
    char *moref = strdup(vm), *type = strdup("VirtualMachine"), *path = NULL;
    bool in_dc = false;
    int rc = moref && type ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
    for (int depth = 0; !rc; depth++) {
        if (depth > MAX_DEPTH) {
            rc = vmmk__err(VMMK_EPARSE, "vSphere %s: %s: more than %d levels above it", vs->server,
                           vm, MAX_DEPTH);
            break;
        }
        char *pm, *pt, *name;
        if ((rc = parent_of(&pm, &pt, &name, vs, type, moref)))
            break;
        if (strcmp(type, "Datacenter") == 0)
            in_dc = true;
        /* From the datacenter up, every named level but the root folder
         * (the one without a parent) is part of the path. */
        if (in_dc && pm) {
            char *joined = path ? vmmk__asprintf("%s/%s", name ? name : "", path)
                                : vmmk__strdup(name ? name : "");
            free(path);
            path = joined;
            if (!path)
                rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        }
        free(name);
        free(moref);
        free(type);
        moref = pm;
        type = pt;
        if (!moref || !type) {
            if (!in_dc && !rc)
                rc = vmmk__err(VMMK_ENOTFOUND, "vSphere %s: %s is not inside a datacenter",
                               vs->server, vm);
            break;
        }
    }
    free(moref);
    free(type);
    if (rc) {
        free(path);
        return rc;
    }
    *out = path;
    return 0;
}

/* ---- cookie and copier source ------------------------------------------ */

int vmmk_vsphere_session_cookie(char **out, vmmk_vsphere *vs)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_session_cookie: out is NULL");
    *out = NULL;
    if (!vs)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_session_cookie: session is NULL");
    pthread_mutex_lock(&vs->lock);
    const char *v = vmmk__http_cookie(vs->http, "vmware_soap_session");
    /* As the server sent it: vCenter quotes the value, vcsim does not. */
    if (v)
        *out = vmmk__asprintf("vmware_soap_session=%s", v);
    pthread_mutex_unlock(&vs->lock);
    if (!v)
        return vmmk__err(VMMK_EAUTH, "vSphere %s: the session has no cookie (not logged in)",
                         vs->server);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
}

static void wipe_free(char *s)
{
    if (s) {
        memset(s, 0, strlen(s));
        free(s);
    }
}

int vmmk_vsphere_disk_source(vmmk_source **out, vmmk_vsphere *vs, const char *datacenter,
                             const char *disk_file)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_disk_source: out is NULL");
    *out = NULL;
    if (!vs)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_disk_source: session is NULL");
    bool https = strncmp(vs->base_url, "https:", 6) == 0;
    if (https && vs->pinned && !vs->cacert && !vs->insecure)
        return vmmk__err(VMMK_EUNSUPPORTED,
                         "vSphere %s: disk %s: the session trusts the server by thumbprint, which "
                         "nbdkit's curl plugin cannot pin; connect with a CA file (the server's "
                         "certificate or its CA) for the datastore transfer",
                         vs->server, disk_file ? disk_file : "");
    char *url = NULL, *cookie = NULL;
    int rc = vmmk_vsphere_disk_flat_url(&url, vs, datacenter, disk_file);
    if (!rc)
        rc = vmmk_vsphere_session_cookie(&cookie, vs);
    if (!rc) {
        vmmk_http_options ho = VMMK_HTTP_OPTIONS_INIT;
        ho.url = url;
        ho.cookie = cookie;
        ho.cacert = vs->cacert;
        ho.insecure = vs->insecure;
        ho.retry = true;
        ho.timeout = vs->timeout_s;
        rc = vmmk_source_new_http(out, &ho);
        if (rc)
            vmmk__err_prefix("vSphere %s: disk %s", vs->server, disk_file);
    }
    free(url);
    wipe_free(cookie);
    return rc;
}

/* ---- small file transfers ------------------------------------------------ */

static int status_error(vmmk_vsphere *vs, const char *method, const char *ds_path, long status)
{
    int code = status == 404 ? VMMK_ENOTFOUND
               : status == 401 || status == 403 ? VMMK_EAUTH : VMMK_EHTTP;
    return vmmk__err_full(code, NULL, NULL, (int)status, 0, "vSphere %s: %s datastore file %s: HTTP %ld%s",
                          vs->server, method, ds_path, status,
                          status == 404 ? " (no such file, folder, datastore or datacenter)" : "");
}

/* After a 401/403: log in again if the session expired (a cheap SOAP call
 * does it transparently).  True when a new session now exists. */
static bool relogged_in(vmmk_vsphere *vs)
{
    pthread_mutex_lock(&vs->lock);
    unsigned before = vs->relogins;
    pthread_mutex_unlock(&vs->lock);
    char *name = NULL;
    int rc = vmmk__vs_get_string(&name, vs, "Folder", vs->root_folder, "name");
    free(name);
    pthread_mutex_lock(&vs->lock);
    bool fresh = rc == 0 && vs->relogins != before;
    pthread_mutex_unlock(&vs->lock);
    return fresh;
}

static int write_all(void *payload, const void *data, size_t len)
{
    int fd = *(int *)payload;
    const char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "writing the download: %s",
                                  strerror(errno));
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int vmmk_vsphere_datastore_download(vmmk_vsphere *vs, const char *datacenter, const char *ds_path,
                                    const char *local_path)
{
    if (!vs || !local_path || !*local_path)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_datastore_download: %s",
                         vs ? "no local path given" : "session is NULL");
    char *path = NULL;
    int rc = folder_path(&path, datacenter, ds_path, false);
    if (rc)
        return rc;
    char *tmp = vmmk__asprintf("%s.vmmk-XXXXXX", local_path);
    int fd = tmp ? mkstemp(tmp) : -1;
    if (fd < 0) {
        rc = tmp ? vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "%s: cannot create a file beside it: %s",
                                  local_path, strerror(errno))
                 : vmmk__err(VMMK_ENOMEM, "out of memory");
        free(tmp);
        free(path);
        return rc;
    }
    long status = 0;
    for (int attempt = 0;; attempt++) {
        pthread_mutex_lock(&vs->lock);
        rc = vmmk__http_download(vs->http, path, NULL, write_all, &fd, &status);
        pthread_mutex_unlock(&vs->lock);
        if (rc || (status != 401 && status != 403) || attempt > 0 || !relogged_in(vs))
            break;
        if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET)) {
            rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "%s: %s", tmp, strerror(errno));
            break;
        }
    }
    if (!rc && (status < 200 || status > 299))
        rc = status_error(vs, "GET", ds_path, status);
    if (rc && !strstr(vmmk_error_last()->message, ds_path))
        vmmk__err_prefix("vSphere %s: GET datastore file %s", vs->server, ds_path);
    if (!rc && fsync(fd))
        rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "%s: %s", tmp, strerror(errno));
    if (close(fd) && !rc)
        rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "%s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, local_path))
        rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "%s: %s", local_path, strerror(errno));
    if (rc)
        unlink(tmp);
    else
        vmmk__log(VMMK_LOG_INFO, "vSphere %s: downloaded %s to %s", vs->server, ds_path, local_path);
    free(tmp);
    free(path);
    return rc;
}

int vmmk_vsphere_datastore_upload(vmmk_vsphere *vs, const char *datacenter, const char *local_path,
                                  const char *ds_path)
{
    if (!vs || !local_path || !*local_path)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_datastore_upload: %s",
                         vs ? "no local path given" : "session is NULL");
    char *path = NULL;
    int rc = folder_path(&path, datacenter, ds_path, false);
    if (rc)
        return rc;
    int fd = open(local_path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        int e = fd < 0 ? errno : 0;
        rc = e ? vmmk__err_full(e == ENOENT ? VMMK_ENOTFOUND : VMMK_EIO, NULL, NULL, 0, e, "%s: %s",
                                local_path, strerror(e))
               : vmmk__err(VMMK_EINVAL, "%s: not a regular file", local_path);
        if (fd >= 0)
            close(fd);
        free(path);
        return rc;
    }
    static const char *const headers[] = { "Content-Type: application/octet-stream", NULL };
    long status = 0;
    for (int attempt = 0;; attempt++) {
        pthread_mutex_lock(&vs->lock);
        rc = vmmk__http_upload_fd(vs->http, path, headers, fd, (long long)st.st_size, &status);
        pthread_mutex_unlock(&vs->lock);
        if (rc || (status != 401 && status != 403) || attempt > 0 || !relogged_in(vs))
            break;
        if (lseek(fd, 0, SEEK_SET)) {
            rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "%s: %s", local_path, strerror(errno));
            break;
        }
    }
    close(fd);
    if (!rc && (status < 200 || status > 299))
        rc = status_error(vs, "PUT", ds_path, status);
    if (rc && !strstr(vmmk_error_last()->message, ds_path))
        vmmk__err_prefix("vSphere %s: PUT datastore file %s", vs->server, ds_path);
    if (!rc)
        vmmk__log(VMMK_LOG_INFO, "vSphere %s: uploaded %s as %s (%lld bytes)", vs->server, local_path,
                  ds_path, (long long)st.st_size);
    free(path);
    return rc;
}
