/* Disk sources: an NBD URI, or an nbdkit command line that libvmmk runs
 * itself (docs/disk-copier-sources.md).  This file builds them: options
 * checked, nbdkit's argv and the source's identity; source_run.c runs
 * the process.
 *
 * An nbdkit source owns a private 0700 directory holding nbdkit's Unix
 * socket, its pidfile, its log (stderr) and the files that carry secrets.
 * nbdkit never listens on TCP and never sees a secret on its command
 * line: both were bugs of the reference implementation (the password on
 * argv, an unauthenticated listener on all interfaces). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../common/internal.h"
#include "../common/spawn.h"
#include "copier_int.h"
#include "source_int.h"

/* virt-v2v's request cap for VDDK: larger NFC reads run out of memory on
 * the ESXi side. */
#define VDDK_DEFAULT_MAXDATA (2u * 1024 * 1024)
#define NBDKIT_MAX_REQUEST (64u * 1024 * 1024)

/* ---- small helpers ------------------------------------------------------- */

/* A growable NULL-terminated string array (argv). */
typedef struct arglist {
    char **v;
    size_t n, cap;
    bool failed;
} arglist;

static void arglist_take(arglist *s, char *x)
{
    if (!x)
        s->failed = true;
    if (s->failed) {
        free(x);
        return;
    }
    if (s->n + 2 > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->failed = true;
            free(x);
            return;
        }
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = x;
    s->v[s->n] = NULL;
}

static void arglist_add(arglist *s, const char *x)
{
    arglist_take(s, vmmk__strdup(x ? x : ""));
}

VMMK_PRINTF(2, 3)
static void arglist_addf(arglist *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    arglist_take(s, vmmk__vasprintf(fmt, ap));
    va_end(ap);
}

static void arglist_clear(arglist *s)
{
    vmmk_strv_free(s->v);
    memset(s, 0, sizeof *s);
}

void vmmk_strv_free(char **strv)
{
    if (!strv)
        return;
    for (char **p = strv; *p; p++)
        free(*p);
    free(strv);
}

static bool is_blank(const char *s)
{
    return !s || !*s;
}

/* @p path made absolute without resolving links: nbdkit changes to "/"
 * before serving, and a /dev/disk/by-id name is a steadier identity for
 * the resume journal than the /dev/sdX it points to today. */
static char *absolute_path(const char *path)
{
    if (path[0] == '/')
        return vmmk__strdup(path);
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        return NULL;
    char *r = vmmk__asprintf("%s/%s", cwd, path);
    free(cwd);
    return r;
}

static const char *nbdkit_program(void)
{
    const char *p = getenv("VMMK_NBDKIT");
    return is_blank(p) ? "nbdkit" : p;
}

/* ---- construction -------------------------------------------------------- */

/* The command being built: what nbdkit runs, and in parallel how it is
 * shown in the identity (secret files as "+FILE"). */
typedef struct cmd {
    arglist filters;
    const char *plugin;
    arglist params;
    arglist shown;
} cmd;

static void cmd_filter(cmd *c, const char *filter)
{
    arglist_addf(&c->filters, "--filter=%s", filter);
}

VMMK_PRINTF(2, 3)
static void cmd_param(cmd *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = vmmk__vasprintf(fmt, ap);
    va_end(ap);
    arglist_add(&c->shown, p);
    arglist_take(&c->params, p);
}

static void cmd_clear(cmd *c)
{
    arglist_clear(&c->filters);
    arglist_clear(&c->params);
    arglist_clear(&c->shown);
}

/* Write @p secret into the private directory and pass it as key=+FILE. */
static int cmd_secret(cmd *c, vmmk_source *src, const char *key, const char *secret)
{
    size_t slot = src->secrets[0] ? 1 : 0;
    char *path;
    int rc = vmmk__write_secret_file(&path, src->dir, key, secret);
    if (rc)
        return rc;
    src->secrets[slot] = path;
    arglist_addf(&c->params, "%s=+%s", key, path);
    arglist_addf(&c->shown, "%s=+FILE", key);
    return 0;
}

static vmmk_source *source_alloc(enum vmmk__src_kind kind)
{
    vmmk_source *src = calloc(1, sizeof *src);
    if (!src)
        return NULL;
    src->kind = kind;
    src->pid = -1;
    src->ready_timeout = VMMK_SOURCE_READY_TIMEOUT_S;
    pthread_mutex_init(&src->lock, NULL);
    return src;
}

/* The socket path as a URI query value: percent-encode everything but
 * unreserved characters and '/', in case TMPDIR holds '&', '#' or '%'. */
static char *socket_uri(const char *sock)
{
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "nbd+unix:///?socket=");
    for (const unsigned char *p = (const unsigned char *)sock; *p; p++) {
        if (isalnum(*p) || strchr("-._~/", *p))
            vmmk__buf_append(&b, (const char *)p, 1);
        else
            vmmk__buf_printf(&b, "%%%02X", *p);
    }
    return vmmk__buf_take(&b);
}

/* A new nbdkit source with its private directory; the caller adds the
 * command and calls nbdkit_finish(). */
static int nbdkit_begin(vmmk_source **out, const char *plugin)
{
    *out = NULL;
    vmmk_source *src = source_alloc(SRC_NBDKIT);
    if (!src || !(src->plugin = vmmk__strdup(plugin))) {
        vmmk_source_free(src);
        return vmmk__err(VMMK_ENOMEM, "nbdkit (%s): out of memory", plugin);
    }
    int rc = vmmk__private_dir(&src->dir, "vmmk-nbdkit");
    if (rc) {
        vmmk_source_free(src);
        return vmmk__err_prefix("nbdkit (%s)", plugin);
    }
    src->sock = vmmk__asprintf("%s/nbdkit.sock", src->dir);
    src->pidfile = vmmk__asprintf("%s/nbdkit.pid", src->dir);
    src->log = vmmk__asprintf("%s/nbdkit.log", src->dir);
    if (!src->sock || !src->pidfile || !src->log || !(src->uri = socket_uri(src->sock))) {
        vmmk_source_free(src);
        return vmmk__err(VMMK_ENOMEM, "nbdkit (%s): out of memory", plugin);
    }
    if (strlen(src->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        rc = vmmk__err(VMMK_EINVAL,
                       "nbdkit (%s): socket path %s is too long for a Unix socket; set TMPDIR to "
                       "a shorter directory", plugin, src->sock);
        vmmk_source_free(src);
        return rc;
    }
    *out = src;
    return 0;
}

/* Assemble argv (after argv[0]) and the identity from @p c. */
static int nbdkit_finish(vmmk_source *src, cmd *c)
{
    arglist args = { 0 };
    /* --exit-with-parent: no orphaned nbdkit if the application dies;
     * --foreground: the pid we hold is nbdkit itself, which we reap;
     * --unix in the private directory: nothing listens on TCP;
     * --pidfile: written only when nbdkit accepts connections. */
    arglist_add(&args, "--exit-with-parent");
    arglist_add(&args, "--foreground");
    arglist_add(&args, "--readonly");
    arglist_add(&args, "--unix");
    arglist_add(&args, src->sock);
    arglist_add(&args, "--pidfile");
    arglist_add(&args, src->pidfile);
    vmmk__buf id = { 0 };
    vmmk__buf_puts(&id, "nbdkit");
    for (size_t i = 0; i < c->filters.n; i++) {
        arglist_add(&args, c->filters.v[i]);
        vmmk__buf_printf(&id, " %s", c->filters.v[i]);
    }
    arglist_add(&args, c->plugin);
    vmmk__buf_printf(&id, " %s", c->plugin);
    for (size_t i = 0; i < c->params.n; i++)
        arglist_add(&args, c->params.v[i]);
    for (size_t i = 0; i < c->shown.n; i++)
        vmmk__buf_printf(&id, " %s", c->shown.v[i]);
    src->identity = vmmk__buf_take(&id);
    bool failed = args.failed || c->filters.failed || c->params.failed || c->shown.failed;
    if (failed || !src->identity) {
        arglist_clear(&args);
        return vmmk__err(VMMK_ENOMEM, "nbdkit (%s): out of memory", src->plugin);
    }
    src->args = args.v;
    return 0;
}

int vmmk_source_new_uri(vmmk_source **out, const char *uri)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "source: out is NULL");
    *out = NULL;
    if (is_blank(uri))
        return vmmk__err(VMMK_EINVAL, "source URI: empty");
    static const char *const schemes[] = { "nbd://", "nbds://", "nbd+unix://", "nbds+unix://" };
    bool ok = false;
    for (size_t i = 0; i < sizeof schemes / sizeof *schemes; i++)
        ok = ok || strncasecmp(uri, schemes[i], strlen(schemes[i])) == 0;
    if (!ok)
        return vmmk__err(VMMK_EINVAL,
                         "source URI '%s': unsupported scheme (expected nbd://, nbds://, nbd+unix:// "
                         "or nbds+unix://)", uri);
    /* libnbd 1.14 asks a handle whether it was built with URI support. */
    struct nbd_handle *h = nbd_create();
    if (!h)
        return vmmk__err(VMMK_ENOMEM, "source URI: %s", nbd_get_error());
    int uri_ok = nbd_supports_uri(h);
    nbd_close(h);
    if (uri_ok != 1)
        return vmmk__err(VMMK_EUNSUPPORTED,
                         "source URI '%s': this libnbd was built without URI support", uri);
    vmmk_source *src = source_alloc(SRC_URI);
    if (!src || !(src->uri = vmmk__strdup(uri)) || !(src->identity = vmmk__strdup(uri))) {
        vmmk_source_free(src);
        return vmmk__err(VMMK_ENOMEM, "source URI: out of memory");
    }
    *out = src;
    return 0;
}

/* Arguments that look like options would be taken by nbdkit as options
 * (getopt permutes argv), so a parameter could turn into --run. */
static int check_word(const char *what, const char *s)
{
    if (is_blank(s))
        return vmmk__err(VMMK_EINVAL, "nbdkit source: %s is empty", what);
    if (s[0] == '-')
        return vmmk__err(VMMK_EINVAL,
                         "nbdkit source: %s '%s' starts with '-' (nbdkit would read it as an option)",
                         what, s);
    return 0;
}

/* Keys whose literal value would be a secret on nbdkit's command line. */
static int check_secret_param(const char *param)
{
    static const char *const keys[] = { "password", "cookie", "proxy-password" };
    const char *eq = strchr(param, '=');
    if (!eq)
        return 0;
    size_t kl = (size_t)(eq - param);
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        if (kl == strlen(keys[i]) && strncmp(param, keys[i], kl) == 0 && eq[1] != '+')
            return vmmk__err(VMMK_EINVAL,
                             "nbdkit source: parameter '%s' must name a file (+FILE): a literal "
                             "value would be visible to every user in ps", keys[i]);
    return 0;
}

int vmmk_source_new_nbdkit(vmmk_source **out, const char *plugin, const char *const *params,
                           const char *const *filters)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "source: out is NULL");
    *out = NULL;
    int rc = check_word("plugin", plugin);
    for (size_t i = 0; !rc && filters && filters[i]; i++)
        rc = check_word("filter", filters[i]);
    for (size_t i = 0; !rc && params && params[i]; i++)
        if (!(rc = check_word("parameter", params[i])))
            rc = check_secret_param(params[i]);
    if (rc)
        return rc;
    vmmk_source *src;
    if ((rc = nbdkit_begin(&src, plugin)))
        return rc;
    cmd c = { .plugin = plugin };
    for (size_t i = 0; filters && filters[i]; i++)
        cmd_filter(&c, filters[i]);
    for (size_t i = 0; params && params[i]; i++)
        cmd_param(&c, "%s", params[i]);
    rc = nbdkit_finish(src, &c);
    cmd_clear(&c);
    if (rc) {
        vmmk_source_free(src);
        return rc;
    }
    *out = src;
    return 0;
}

/* A file the caller named must be there and readable now, with a message
 * that names it, rather than an nbdkit error later. */
static int check_readable(const char *what, const char *path, bool device_ok)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return vmmk__err_full(e == ENOENT ? VMMK_ENOTFOUND : VMMK_EIO, NULL, NULL, 0, e,
                              "%s %s: %s", what, path, strerror(e));
    }
    struct stat st;
    int ok = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || (device_ok && S_ISBLK(st.st_mode)));
    close(fd);
    if (!ok)
        return vmmk__err(VMMK_EINVAL, "%s %s: not a regular file%s", what, path,
                         device_ok ? " or block device" : "");
    return 0;
}

int vmmk_source_new_file(vmmk_source **out, const char *path)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "source: out is NULL");
    *out = NULL;
    if (is_blank(path))
        return vmmk__err(VMMK_EINVAL, "source file: no path given");
    char *abs = absolute_path(path);
    if (!abs)
        return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "source file %s: %s", path,
                              strerror(errno));
    int rc = check_readable("source file", abs, true);
    vmmk_source *src = NULL;
    if (!rc)
        rc = nbdkit_begin(&src, "file");
    if (!rc) {
        cmd c = { .plugin = "file" };
        cmd_param(&c, "file=%s", abs);
        rc = nbdkit_finish(src, &c);
        cmd_clear(&c);
    }
    free(abs);
    if (rc) {
        vmmk_source_free(src);
        return rc;
    }
    *out = src;
    return 0;
}

/* "AA:BB:...": 20 bytes of SHA-1, as vSphere shows it.  Upper-cased into
 * @p norm (60 bytes), the form VDDK's documentation uses. */
static bool thumbprint_ok(const char *t, char norm[60])
{
    if (strlen(t) != 59)
        return false;
    for (size_t i = 0; i < 59; i++) {
        bool sep = i % 3 == 2;
        if (sep ? t[i] != ':' : !isxdigit((unsigned char)t[i]))
            return false;
        norm[i] = (char)toupper((unsigned char)t[i]);
    }
    norm[59] = '\0';
    return true;
}

/* "2M", "512k" or a byte count: short and exact. */
static void size_text(char *buf, size_t n, uint32_t v)
{
    if (v % (1024u * 1024u) == 0)
        snprintf(buf, n, "%uM", v / (1024u * 1024u));
    else if (v % 1024u == 0)
        snprintf(buf, n, "%uk", v / 1024u);
    else
        snprintf(buf, n, "%u", v);
}

static int vddk_check(const vmmk_vddk_options *o, char thumb[60])
{
    if (!o)
        return vmmk__err(VMMK_EINVAL, "vddk source: no options given");
    if (o->version != VMMK_VDDK_OPTIONS_VERSION)
        return vmmk__err(VMMK_EINVAL,
                         "vddk source: options version %u is not supported (expected %d)",
                         o->version, VMMK_VDDK_OPTIONS_VERSION);
    const struct { const char *name, *value; } required[] = {
        { "server", o->server },     { "user", o->user },         { "password", o->password },
        { "thumbprint", o->thumbprint }, { "vm_moref", o->vm_moref }, { "file", o->file },
    };
    for (size_t i = 0; i < sizeof required / sizeof *required; i++)
        if (is_blank(required[i].value))
            return vmmk__err(VMMK_EINVAL, "vddk source: option '%s' is required", required[i].name);
    if (!thumbprint_ok(o->thumbprint, thumb))
        return vmmk__err(VMMK_EINVAL,
                         "vddk source: option 'thumbprint': '%s' is not a SHA-1 fingerprint "
                         "(expected 20 hex bytes like AA:BB:...:FF)", o->thumbprint);
    if (o->compression) {
        static const char *const ok[] = { "none", "zlib", "fastlz", "skipz" };
        bool found = false;
        for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
            found = found || strcmp(o->compression, ok[i]) == 0;
        if (!found)
            return vmmk__err(VMMK_EINVAL,
                             "vddk source: option 'compression': '%s' is not one of none, zlib, "
                             "fastlz, skipz", o->compression);
    }
    if (o->max_request && (o->max_request % 512 || o->max_request > NBDKIT_MAX_REQUEST))
        return vmmk__err(VMMK_EINVAL,
                         "vddk source: option 'max_request': %u is not a multiple of 512 up to "
                         "64 MiB", o->max_request);
    return 0;
}

int vmmk_source_new_vddk(vmmk_source **out, const vmmk_vddk_options *opts)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "source: out is NULL");
    *out = NULL;
    char thumb[60];
    int rc = vddk_check(opts, thumb);
    if (rc)
        return rc;
    vmmk_source *src;
    if ((rc = nbdkit_begin(&src, "vddk")))
        return rc;
    const char *libdir = is_blank(opts->libdir) ? "/usr/lib/vmware-vix-disklib" : opts->libdir;
    char maxdata[32];
    size_text(maxdata, sizeof maxdata,
              opts->max_request ? opts->max_request : VDDK_DEFAULT_MAXDATA);

    /* virt-v2v's order: the retry filter must be closest to the plugin
     * (it reopens the plugin after an error), blocksize in front of it
     * splits requests so that one retry repeats at most maxdata bytes. */
    cmd c = { .plugin = "vddk" };
    cmd_filter(&c, "blocksize");
    if (opts->retry)
        cmd_filter(&c, "retry");
    cmd_param(&c, "server=%s", opts->server);
    cmd_param(&c, "user=%s", opts->user);
    rc = cmd_secret(&c, src, "password", opts->password);
    if (!rc) {
        cmd_param(&c, "thumbprint=%s", thumb);
        cmd_param(&c, "vm=moref=%s", opts->vm_moref);
        if (!is_blank(opts->snapshot_moref))
            cmd_param(&c, "snapshot=%s", opts->snapshot_moref);
        cmd_param(&c, "file=%s", opts->file);
        cmd_param(&c, "libdir=%s", libdir);
        if (!is_blank(opts->transports))
            cmd_param(&c, "transports=%s", opts->transports);
        if (!is_blank(opts->compression))
            cmd_param(&c, "compression=%s", opts->compression);
        cmd_param(&c, "maxdata=%s", maxdata);
        cmd_param(&c, "minblock=512");
        rc = nbdkit_finish(src, &c);
    }
    cmd_clear(&c);
    if (!rc && !(src->vddk_libdir = vmmk__strdup(libdir)))
        rc = vmmk__err(VMMK_ENOMEM, "vddk source: out of memory");
    if (rc) {
        vmmk_source_free(src);
        return rc;
    }
    *out = src;
    return 0;
}

static int http_check(const vmmk_http_options *o)
{
    if (!o)
        return vmmk__err(VMMK_EINVAL, "http source: no options given");
    if (o->version != VMMK_HTTP_OPTIONS_VERSION)
        return vmmk__err(VMMK_EINVAL,
                         "http source: options version %u is not supported (expected %d)",
                         o->version, VMMK_HTTP_OPTIONS_VERSION);
    if (is_blank(o->url))
        return vmmk__err(VMMK_EINVAL, "http source: option 'url' is required");
    const char *rest = NULL;
    if (strncasecmp(o->url, "https://", 8) == 0)
        rest = o->url + 8;
    else if (strncasecmp(o->url, "http://", 7) == 0)
        rest = o->url + 7;
    if (!rest)
        return vmmk__err(VMMK_EINVAL, "http source: URL '%s' is not http:// or https://", o->url);
    size_t auth = strcspn(rest, "/?#");
    if (auth == 0)
        return vmmk__err(VMMK_EINVAL, "http source: URL '%s' has no host", o->url);
    /* user:password@ would put a credential on nbdkit's command line. */
    if (memchr(rest, '@', auth))
        return vmmk__err(VMMK_EINVAL,
                         "http source: URL '%s' carries credentials; pass a session cookie instead",
                         o->url);
    return 0;
}

int vmmk_source_new_http(vmmk_source **out, const vmmk_http_options *opts)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "source: out is NULL");
    *out = NULL;
    int rc = http_check(opts);
    if (rc)
        return rc;
    char *cainfo = NULL;
    if (!is_blank(opts->cacert)) {
        /* Absolute: curl opens it at connect time, after nbdkit's chdir("/"). */
        if (!(cainfo = absolute_path(opts->cacert)))
            return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "http source: cacert %s: %s",
                                  opts->cacert, strerror(errno));
        if ((rc = check_readable("http source: cacert", cainfo, false))) {
            free(cainfo);
            return rc;
        }
    }
    bool https = strncasecmp(opts->url, "https://", 8) == 0;
    if (!is_blank(opts->cookie) && !https)
        vmmk__log(VMMK_LOG_WARN,
                  "http source %s: the session cookie is sent unencrypted over plain HTTP",
                  opts->url);
    if (opts->insecure && https)
        vmmk__log(VMMK_LOG_WARN,
                  "http source %s: TLS certificate verification is OFF (insecure): anyone on the "
                  "path can read or alter the disk and steal the session cookie", opts->url);

    vmmk_source *src;
    if ((rc = nbdkit_begin(&src, "curl"))) {
        free(cainfo);
        return rc;
    }
    cmd c = { .plugin = "curl" };
    if (opts->retry)
        cmd_filter(&c, "retry");
    cmd_param(&c, "url=%s", opts->url);
    if (!is_blank(opts->cookie))
        rc = cmd_secret(&c, src, "cookie", opts->cookie);
    if (!rc) {
        if (cainfo)
            cmd_param(&c, "cainfo=%s", cainfo);
        if (opts->insecure)
            cmd_param(&c, "sslverify=false");
        if (opts->timeout)
            cmd_param(&c, "timeout=%u", opts->timeout);
        rc = nbdkit_finish(src, &c);
    }
    cmd_clear(&c);
    free(cainfo);
    if (rc) {
        vmmk_source_free(src);
        return rc;
    }
    *out = src;
    return 0;
}

/* ---- argv and identity --------------------------------------------------- */

char **vmmk__source_full_argv(const vmmk_source *src)
{
    arglist a = { 0 };
    arglist_add(&a, nbdkit_program());
    for (char **p = src->args; p && *p; p++)
        arglist_add(&a, *p);
    if (a.failed) {
        arglist_clear(&a);
        return NULL;
    }
    return a.v;
}

const char *vmmk__source_identity(const vmmk_source *src)
{
    return src ? src->identity : "";
}

int vmmk_source_argv(char ***out, const vmmk_source *src)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "source argv: out is NULL");
    *out = NULL;
    if (!src)
        return vmmk__err(VMMK_EINVAL, "source argv: source is NULL");
    if (src->kind == SRC_URI)
        return 0;
    if (!(*out = vmmk__source_full_argv(src)))
        return vmmk__err(VMMK_ENOMEM, "source argv: out of memory");
    return 0;
}
