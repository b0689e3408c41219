/* HTTP(S) over libcurl for the vSphere and OpenStack clients.
 *
 * One easy handle per vmmk__http: libcurl keeps the connection alive
 * between calls and holds the session cookies in memory.  TLS is verified
 * against the system CAs or a CA file; or, since vCenter and ESXi usually
 * run with a self-signed certificate, pinned by its thumbprint, checked in
 * an OpenSSL verify callback so that a mismatch fails the handshake before
 * a byte of the request (session cookie included) is sent.
 *
 * Secrets: nothing here logs a header or a body.  The URL shown in logs
 * and errors loses its userinfo and the values of query parameters with
 * secret-looking names, and every message still goes through the
 * redactor (vmmk__err, vmmk__log), which knows the cookie values because
 * they are registered the moment a Set-Cookie header arrives. */
#include "internal.h"
#include "http.h"
#include "http_int.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define DEFAULT_TIMEOUT_S 300L
#define DEFAULT_CONNECT_TIMEOUT_S 30L
#define DEFAULT_MAX_RESPONSE ((size_t)64 * 1024 * 1024)
#define MAX_REDIRECTS 5

/* ---- library-wide setup ------------------------------------------------- */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;
static int ctx_index = -1;     /* SSL_CTX ex_data slot holding the vmmk__http */
static bool curl_uses_openssl;

static void global_init(void)
{
    /* Once per process and never undone: curl_global_cleanup is not
     * thread-safe, and other parts of the application may use libcurl. */
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    ctx_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    /* The callbacks below cast libcurl's context to OpenSSL's SSL_CTX:
     * only valid when libcurl uses OpenSSL (libcurl4-openssl), and the
     * same OpenSSL as we do. */
    curl_uses_openssl = v && v->ssl_version && strncmp(v->ssl_version, "OpenSSL/", 8) == 0;
}

/* ---- URLs ----------------------------------------------------------------- */

static bool same_origin(const vmmk__http *h, const char *url)
{
    char *scheme, *host;
    long port;
    if (vmmk__url_origin(url, &scheme, &host, &port) != 0)
        return false;
    bool same = strcasecmp(scheme, h->scheme) == 0 && strcasecmp(host, h->host) == 0 &&
                port == h->port;
    free(scheme);
    free(host);
    return same;
}

static bool has_ctl_or_space(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s <= 0x20 || *s == 0x7f)
            return true;
    return false;
}

/* The URL for @p path: base_url + path, or path itself when it is a full
 * URL on the handle's origin.  New string in *out. */
static int resolve_url(char **out, const vmmk__http *h, const char *method, const char *path)
{
    *out = NULL;
    if (!path || !*path)
        path = "/";
    if (has_ctl_or_space(path))   /* not shown: a line break would forge log lines */
        return vmmk__err(VMMK_EINVAL, "%s %s: the path contains a space or a control character",
                         method, h->shown_base);
    if (strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0) {
        if (!same_origin(h, path)) {
            char *shown = vmmk__url_shown(path);
            int rc = vmmk__err(VMMK_EINVAL, "%s %s: not on %s://%s:%ld, the server of this handle",
                               method, shown ? shown : "(URL)", h->scheme, h->host, h->port);
            free(shown);
            return rc;
        }
        *out = strdup(path);
    } else if (path[0] == '/') {
        *out = vmmk__asprintf("%s%s", h->base, path);
    } else {
        char *shown = vmmk__url_shown(path);
        int rc = vmmk__err(VMMK_EINVAL, "%s %s: the path '%s' must start with '/' or be a full URL",
                           method, h->shown_base, shown ? shown : "");
        free(shown);
        return rc;
    }
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "%s %s: out of memory", method, h->shown_base);
}

/* ---- TLS ------------------------------------------------------------------ */

/* Called by OpenSSL for every certificate of the chain, and more than once
 * per depth when there are errors.  Records the leaf's thumbprints (for
 * the error messages) and, with a pin, replaces the CA verdict by a
 * comparison of the leaf with the pin. */
static int verify_cb(int preverify_ok, X509_STORE_CTX *xs)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    vmmk__http *h = ssl ? SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ctx_index) : NULL;
    if (!h)
        return 0;              /* cannot happen; refuse rather than guess */
    X509 *leaf = X509_STORE_CTX_get0_cert(xs);
    if (!h->seen_sha1[0] && leaf) {
        vmmk__tls_cert_thumbprint(h->seen_sha1, leaf, false);
        vmmk__tls_cert_thumbprint(h->seen_sha256, leaf, true);
    }
    if (!h->pin_len)
        return preverify_ok;
    /* The pin is on the leaf; what signed it does not matter. */
    if (X509_STORE_CTX_get_error_depth(xs) != 0)
        return 1;
    X509 *cur = X509_STORE_CTX_get_current_cert(xs);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (cur && X509_digest(cur, h->pin_len == 32 ? EVP_sha256() : EVP_sha1(), md, &n) &&
        n == h->pin_len && memcmp(md, h->pin, n) == 0) {
        X509_STORE_CTX_set_error(xs, X509_V_OK);
        return 1;
    }
    h->pin_mismatch = true;
    X509_STORE_CTX_set_error(xs, X509_V_ERR_CERT_REJECTED);
    return 0;
}

static CURLcode ssl_ctx_cb(CURL *curl, void *ssl_ctx, void *payload)
{
    (void)curl;
    SSL_CTX *ctx = ssl_ctx;
    if (!SSL_CTX_set_ex_data(ctx, ctx_index, payload))
        return CURLE_SSL_CONNECT_ERROR;
    /* SSL_VERIFY_PEER so that the callback's verdict decides the
     * handshake; libcurl itself has verification off when pinned. */
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    return CURLE_OK;
}

/* ---- handles ------------------------------------------------------------ */

#define SETOPT(c, opt, val)                                                                      \
    do {                                                                                         \
        if (curl_easy_setopt((c), (opt), (val)) != CURLE_OK)                                     \
            goto setopt_failed;                                                                  \
    } while (0)

int vmmk__http_new(vmmk__http **out, const vmmk__http_options *o)
{
    if (!out || !o)
        return vmmk__err(VMMK_EINVAL, "vmmk__http_new: %s is NULL", out ? "options" : "out");
    *out = NULL;
    if (!o->base_url || !*o->base_url)
        return vmmk__err(VMMK_EINVAL, "HTTP client: no base URL");
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK)
        return vmmk__err(VMMK_ENOMEM, "HTTP client: libcurl initialisation failed: %s",
                         curl_easy_strerror(global_rc));

    vmmk__http *h = calloc(1, sizeof *h);
    if (!h)
        return vmmk__err(VMMK_ENOMEM, "HTTP client: out of memory");
    int rc = 0;
    char *shown = vmmk__url_shown(o->base_url);
    const char *what = shown ? shown : "(base URL)";
    size_t bl = strlen(o->base_url);
    while (bl > 0 && o->base_url[bl - 1] == '/')
        bl--;
    h->base = strndup(o->base_url, bl);
    h->shown_base = h->base ? vmmk__url_shown(h->base) : NULL;
    if (!shown || !h->base || !h->shown_base) {
        rc = vmmk__err(VMMK_ENOMEM, "HTTP client: out of memory");
        goto fail;
    }
    char *scheme = NULL, *host = NULL;
    if (strpbrk(o->base_url, "?#") || has_ctl_or_space(o->base_url) ||
        vmmk__url_origin(h->base, &scheme, &host, &h->port) != 0 ||
        (strcasecmp(scheme, "https") != 0 && strcasecmp(scheme, "http") != 0)) {
        free(scheme);
        free(host);
        rc = vmmk__err(VMMK_EINVAL,
                       "HTTP client: base URL '%s' is not an http:// or https:// URL without a "
                       "query",
                       what);
        goto fail;
    }
    h->scheme = scheme;
    h->host = host;
    if (!h->scheme || !h->host) {
        rc = vmmk__err(VMMK_ENOMEM, "HTTP client: out of memory");
        goto fail;
    }
    bool https = strcasecmp(h->scheme, "https") == 0;

    if (o->timeout_s < 0 || o->connect_timeout_s < 0) {
        rc = vmmk__err(VMMK_EINVAL, "HTTP client for %s: negative timeout", what);
        goto fail;
    }
    h->timeout_s = o->timeout_s ? o->timeout_s : DEFAULT_TIMEOUT_S;
    long connect_timeout = o->connect_timeout_s ? o->connect_timeout_s : DEFAULT_CONNECT_TIMEOUT_S;
    h->max_response = o->max_response ? o->max_response : DEFAULT_MAX_RESPONSE;
    h->insecure = o->insecure;
    if (o->thumbprint && *o->thumbprint) {
        if (o->insecure) {
            rc = vmmk__err(VMMK_ECONFLICT,
                           "HTTP client for %s: a thumbprint pin and insecure exclude each other",
                           what);
            goto fail;
        }
        if (!https) {
            rc = vmmk__err(VMMK_EINVAL, "HTTP client for %s: a thumbprint needs an https URL", what);
            goto fail;
        }
        if ((rc = vmmk__tls_parse_thumbprint(h->pin, &h->pin_len, o->thumbprint)) != 0) {
            vmmk__err_prefix("HTTP client for %s", what);
            goto fail;
        }
        if (!curl_uses_openssl) {
            rc = vmmk__err(VMMK_EUNSUPPORTED,
                           "HTTP client for %s: thumbprint pinning needs libcurl built with "
                           "OpenSSL",
                           what);
            goto fail;
        }
    }
    if (https && o->cacert && !o->insecure && !h->pin_len && access(o->cacert, R_OK) != 0) {
        int e = errno;
        rc = vmmk__err_full(e == ENOENT ? VMMK_ENOTFOUND : VMMK_EIO, NULL, NULL, 0, e,
                            "HTTP client for %s: CA file %s: %s", what, o->cacert, strerror(e));
        goto fail;
    }

    h->curl = curl_easy_init();
    if (!h->curl) {
        rc = vmmk__err(VMMK_ENOMEM, "HTTP client for %s: cannot create a libcurl handle", what);
        goto fail;
    }
    CURL *c = h->curl;
    char agent[64];
    snprintf(agent, sizeof agent, "libvmmk/%s", vmmk_version());
    /* No signals: SIGALRM-based DNS timeouts are unsafe in threads. */
    SETOPT(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    SETOPT(c, CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    SETOPT(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    SETOPT(c, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* Redirects are followed by hand, on the same origin only (see
     * vmmk__http_request). */
    SETOPT(c, CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(c, CURLOPT_ERRORBUFFER, h->errbuf);
    SETOPT(c, CURLOPT_TIMEOUT, h->timeout_s);
    SETOPT(c, CURLOPT_CONNECTTIMEOUT, connect_timeout);
    SETOPT(c, CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(c, CURLOPT_TCP_KEEPIDLE, 60L);
    SETOPT(c, CURLOPT_TCP_KEEPINTVL, 30L);
    SETOPT(c, CURLOPT_USERAGENT, agent);
    SETOPT(c, CURLOPT_COOKIEFILE, "");     /* the cookie engine, in memory only */
    if (o->no_proxy)
        SETOPT(c, CURLOPT_NOPROXY, "*");
    SETOPT(c, CURLOPT_HEADERFUNCTION, vmmk__http_on_header);
    SETOPT(c, CURLOPT_HEADERDATA, h);
    if (https) {
        if (h->insecure || h->pin_len) {
            SETOPT(c, CURLOPT_SSL_VERIFYPEER, 0L);
            SETOPT(c, CURLOPT_SSL_VERIFYHOST, 0L);
        } else {
            SETOPT(c, CURLOPT_SSL_VERIFYPEER, 1L);
            SETOPT(c, CURLOPT_SSL_VERIFYHOST, 2L);
            if (o->cacert)
                SETOPT(c, CURLOPT_CAINFO, o->cacert);
        }
        if (o->client_cert) {
            SETOPT(c, CURLOPT_SSLCERT, o->client_cert);
            if (o->client_key)
                SETOPT(c, CURLOPT_SSLKEY, o->client_key);
        }
        if (!h->insecure && curl_uses_openssl) {
            SETOPT(c, CURLOPT_SSL_CTX_DATA, h);
            SETOPT(c, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
        }
        /* A resumed TLS session skips certificate verification, and with
         * it the pin check: make every new connection do a full handshake. */
        if (h->pin_len)
            SETOPT(c, CURLOPT_SSL_SESSIONID_CACHE, 0L);
        if (h->insecure)
            vmmk__log(VMMK_LOG_WARN,
                      "HTTP client for %s: TLS certificate verification is OFF (insecure): the "
                      "server's identity is not checked, so anyone on the network path can "
                      "impersonate it and read what is sent to it",
                      h->shown_base);
    }
    free(shown);
    *out = h;
    return 0;

setopt_failed:
    rc = vmmk__err(VMMK_EUNSUPPORTED, "HTTP client for %s: libcurl refused an option", what);
fail:
    free(shown);
    vmmk__http_free(h);
    return rc;
}

void vmmk__http_free(vmmk__http *h)
{
    if (!h)
        return;
    if (h->curl)
        curl_easy_cleanup(h->curl);
    free(h->base);
    free(h->shown_base);
    free(h->scheme);
    free(h->host);
    free(h->cookie_cache);
    vmmk__buf_free(&h->headers);
    vmmk__buf_free(&h->discarded);
    free(h);
}

void vmmk__http_response_clear(vmmk__http_response *resp)
{
    if (!resp)
        return;
    free(resp->body);
    free(resp->content_type);
    memset(resp, 0, sizeof *resp);
}

/* ---- one transfer -------------------------------------------------------- */

typedef enum { BODY_BUFFER, BODY_SINK, BODY_DISCARD } body_kind;

typedef struct xfer {
    vmmk__http *h;
    body_kind kind;
    vmmk__buf body;
    size_t limit;
    bool too_large;
    vmmk__http_sink sink;
    void *sink_payload;
    int sink_rc;
    vmmk__http_source source;
    void *source_payload;
    long long size, sent;
    int source_rc;
    bool source_short;
} xfer;

static size_t on_write(char *data, size_t size, size_t n, void *payload)
{
    xfer *x = payload;
    size_t len = size * n;
    switch (x->kind) {
    case BODY_BUFFER:
        if (len > x->limit - x->body.len) {
            x->too_large = true;
            return 0;
        }
        vmmk__buf_append(&x->body, data, len);
        return x->body.failed ? 0 : len;
    case BODY_SINK: {
        long status = 0;
        curl_easy_getinfo(x->h->curl, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status > 299)
            return len;        /* an error page or a redirect, not the file */
        int r = x->sink(x->sink_payload, data, len);
        if (r) {
            x->sink_rc = r;
            return 0;
        }
        return len;
    }
    case BODY_DISCARD:
        /* Keep the start: an error answer's message is all that matters. */
        if (x->h->discarded.len < 16 * 1024)
            vmmk__buf_append(&x->h->discarded, data,
                             len < 16 * 1024 - x->h->discarded.len ? len
                                                                   : 16 * 1024 - x->h->discarded.len);
        break;
    }
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *payload)
{
    xfer *x = payload;
    size_t want = size * n;
    if (x->size >= 0) {
        unsigned long long left = (unsigned long long)(x->size - x->sent);
        if (left == 0)
            return 0;
        if (want > left)
            want = (size_t)left;
    }
    ssize_t r = x->source(x->source_payload, buf, want);
    if (r < 0) {
        x->source_rc = (int)r;
        return CURL_READFUNC_ABORT;
    }
    if ((size_t)r > want) {
        x->source_rc = vmmk__err(VMMK_EINVAL, "the upload source returned more than asked for");
        return CURL_READFUNC_ABORT;
    }
    if (r == 0 && x->size >= 0) {
        x->source_short = true;
        return CURL_READFUNC_ABORT;
    }
    x->sent += r;
    return (size_t)r;
}

static bool tls_code(CURLcode rc)
{
    switch (rc) {
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
        return true;
    default:
        return false;
    }
}

/* Record the error of a failed transfer: the request, the cause in words,
 * and a VMMK_E* code.  Returns the code. */
static int transfer_error(vmmk__http *h, const char *method, const char *url, CURLcode rc,
                          const xfer *x, long status)
{
    char *shown = vmmk__url_shown(url);
    const char *u = shown ? shown : h->shown_base;
    const char *why = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
    int code;
    int st = (int)status;

    if (x->too_large || (rc == CURLE_FILESIZE_EXCEEDED && x->kind == BODY_BUFFER)) {
        code = vmmk__err_full(VMMK_EIO, NULL, NULL, st, 0,
                              "%s %s: response larger than %zu bytes (the limit for a response "
                              "held in memory); transfer aborted",
                              method, u, x->limit);
    } else if (x->sink_rc) {
        if (x->sink_rc < 0 && vmmk_error_last()->code == x->sink_rc)
            code = vmmk__err_prefix("%s %s", method, u);
        else
            code = vmmk__err_full(VMMK_ECANCELED, NULL, NULL, st, 0,
                                  "%s %s: download aborted by the caller", method, u);
    } else if (x->source_rc) {
        if (vmmk_error_last()->code == x->source_rc)
            code = vmmk__err_prefix("%s %s", method, u);
        else
            code = vmmk__err(x->source_rc < 0 ? x->source_rc : VMMK_ECANCELED,
                             "%s %s: upload aborted by the caller", method, u);
    } else if (x->source_short) {
        code = vmmk__err(VMMK_EIO, "%s %s: the upload source ended after %lld of %lld bytes",
                         method, u, x->sent, x->size);
    } else if (x->body.failed || rc == CURLE_OUT_OF_MEMORY) {
        code = vmmk__err(VMMK_ENOMEM, "%s %s: out of memory", method, u);
    } else if (h->pin_mismatch) {
        char expected[VMMK__THUMBPRINT_MAX];
        vmmk__tls_format_digest(expected, h->pin, h->pin_len);
        code = vmmk__err(VMMK_ETLS,
                         "%s %s: certificate thumbprint mismatch for %s: expected %s, server "
                         "presented %s",
                         method, u, h->host, expected,
                         h->pin_len == 32 ? h->seen_sha256 : h->seen_sha1);
    } else if (rc == CURLE_PEER_FAILED_VERIFICATION && !h->insecure && !h->pin_len) {
        /* Most often vCenter's or ESXi's own self-signed certificate.  Show
         * what the server presented so the user can compare it with the
         * console, and say how to trust it. */
        char *sha1 = NULL, *sha256 = NULL;
        if (!h->seen_sha1[0]) {
            int port = (int)h->port;
            (void)vmmk__tls_thumbprint(&sha1, h->host, port, false, 10);
            (void)vmmk__tls_thumbprint(&sha256, h->host, port, true, 10);
        }
        const char *t1 = h->seen_sha1[0] ? h->seen_sha1 : sha1;
        const char *t256 = h->seen_sha256[0] ? h->seen_sha256 : sha256;
        if (t1 && t256)
            code = vmmk__err(VMMK_ETLS,
                             "%s %s: the TLS certificate of %s is not trusted (%s); if this is "
                             "the server's own self-signed certificate, check its thumbprint out "
                             "of band and pin it (SHA-1 %s, SHA-256 %s), or give the CA "
                             "certificate that signed it",
                             method, u, h->host, why, t1, t256);
        else
            code = vmmk__err(VMMK_ETLS,
                             "%s %s: the TLS certificate of %s is not trusted (%s); pin its "
                             "thumbprint, or give the CA certificate that signed it",
                             method, u, h->host, why);
        free(sha1);
        free(sha256);
    } else {
        switch (rc) {
        case CURLE_OPERATION_TIMEDOUT:
            code = vmmk__err_full(VMMK_ETIMEOUT, NULL, NULL, st, 0,
                                  "%s %s: no complete response within %ld s (%s)", method, u,
                                  h->timeout_s, why);
            break;
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_URL_MALFORMAT:
            code = vmmk__err(VMMK_EINVAL, "%s %s: %s", method, u, why);
            break;
        case CURLE_ABORTED_BY_CALLBACK:
            code = vmmk__err(VMMK_ECANCELED, "%s %s: %s", method, u, why);
            break;
        case CURLE_READ_ERROR:
        case CURLE_WRITE_ERROR:
            code = vmmk__err_full(VMMK_EIO, NULL, NULL, st, 0, "%s %s: %s", method, u, why);
            break;
        default:
            /* Refused, unresolvable, reset, closed mid-response: the network. */
            code = vmmk__err_full(tls_code(rc) ? VMMK_ETLS : VMMK_ENETWORK, NULL, NULL, st, 0,
                                  "%s %s: %s", method, u, why);
            break;
        }
    }
    free(shown);
    return code;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The caller's headers plus ours; NULL after recording an error. */
static struct curl_slist *make_headers(const vmmk__http *h, const char *method,
                                       const char *const *headers, int *rc)
{
    struct curl_slist *list = NULL, *n;
    for (size_t i = 0; headers && headers[i]; i++) {
        const char *line = headers[i];
        size_t name_len = strcspn(line, ":;");
        if (strpbrk(line, "\r\n") || name_len == 0 || !line[name_len]) {
            /* Name only: the value may be a token. */
            *rc = vmmk__err(VMMK_EINVAL, "%s %s: header %zu (%.*s) is not one 'Name: value' line",
                            method, h->shown_base, i + 1, (int)(name_len < 64 ? name_len : 64),
                            line);
            curl_slist_free_all(list);
            return NULL;
        }
        if (!(n = curl_slist_append(list, line)))
            goto oom;
        list = n;
    }
    /* No "Expect: 100-continue" round trip: bodies here are small. */
    if (!(n = curl_slist_append(list, "Expect:")))
        goto oom;
    return n;
oom:
    curl_slist_free_all(list);
    *rc = vmmk__err(VMMK_ENOMEM, "%s %s: out of memory", method, h->shown_base);
    return NULL;
}

static bool valid_method(const char *m)
{
    if (!m || !*m)
        return false;
    for (; *m; m++)
        if (!isalnum((unsigned char)*m) && !strchr("!#$%&'*+.^_`|~-", *m))
            return false;
    return true;
}

/* Set the request line options of @p method with @p body on the handle. */
static void set_method(CURL *c, const char *method, const void *body, size_t body_len)
{
    /* Back to a plain GET: the handle keeps options between calls.
     * POSTFIELDS first, as setting it (even to NULL) selects POST. */
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (char *)NULL);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, (char *)NULL);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)-1);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        return;
    }
    if (strcmp(method, "GET") == 0 && !body)
        return;
    bool sends = body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                 strcmp(method, "PATCH") == 0;
    if (sends) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(body ? body_len : 0));
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? (const char *)body : "");
    }
    if (strcmp(method, "POST") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
}

/* Perform the transfer prepared on the handle.  0 with *status, or the
 * error recorded. */
static int perform(vmmk__http *h, const char *method, const char *url,
                   struct curl_slist *headers, xfer *x, long *status)
{
    CURL *c = h->curl;
    *status = 0;
    vmmk__buf_free(&h->discarded);
    h->errbuf[0] = '\0';
    h->pin_mismatch = false;
    h->seen_sha1[0] = h->seen_sha256[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                     (curl_off_t)(x->kind == BODY_BUFFER ? x->limit : 0));
    double t0 = now_s();
    CURLcode rc = curl_easy_perform(c);
    long st = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, (struct curl_slist *)NULL);
    if (rc != CURLE_OK)
        return transfer_error(h, method, url, rc, x, st);
    *status = st;
    if (vmmk__log_enabled(VMMK_LOG_TRACE)) {
        /* Method, URL and status only: headers and bodies carry secrets. */
        char *shown = vmmk__url_shown(url);
        curl_off_t down = 0;
        curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down);
        vmmk__log(VMMK_LOG_TRACE, "http: %s %s -> %ld (%lld bytes in %.3f s)", method,
                  shown ? shown : h->shown_base, st, (long long)down, now_s() - t0);
        free(shown);
    }
    return 0;
}

static bool is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* After a 3xx: the URL to follow (new string), or NULL to stop here. */
static char *next_hop(vmmk__http *h, const char *method, const char *url, long status, int hop)
{
    char *loc = NULL;
    if (!is_redirect(status) || curl_easy_getinfo(h->curl, CURLINFO_REDIRECT_URL, &loc) != CURLE_OK ||
        !loc)
        return NULL;
    if (hop >= MAX_REDIRECTS || !same_origin(h, loc)) {
        char *from = vmmk__url_shown(url), *to = vmmk__url_shown(loc);
        vmmk__log(VMMK_LOG_DEBUG, "http: %s %s: not following the redirect to %s (%s)", method,
                  from ? from : "", to ? to : "",
                  hop >= MAX_REDIRECTS ? "too many redirects" : "another server");
        free(from);
        free(to);
        return NULL;
    }
    return strdup(loc);
}

int vmmk__http_request(vmmk__http *h, const char *method, const char *path,
                       const char *const *headers, const void *body, size_t body_len,
                       vmmk__http_response *resp)
{
    if (resp)
        memset(resp, 0, sizeof *resp);
    if (!h || !resp)
        return vmmk__err(VMMK_EINVAL, "vmmk__http_request: %s is NULL", h ? "resp" : "handle");
    if (!valid_method(method))
        return vmmk__err(VMMK_EINVAL, "HTTP request to %s: invalid method", h->shown_base);
    char *url = NULL;
    int rc = resolve_url(&url, h, method, path);
    if (rc)
        return rc;
    struct curl_slist *hl = make_headers(h, method, headers, &rc);
    if (!hl) {
        free(url);
        return rc;
    }
    xfer x = { .h = h, .kind = BODY_BUFFER, .limit = h->max_response };
    long status = 0;
    const char *m = method;
    for (int hop = 0;; hop++) {
        vmmk__buf_free(&x.body);
        set_method(h->curl, m, body, body_len);
        if ((rc = perform(h, m, url, hl, &x, &status)) != 0)
            break;
        char *next = next_hop(h, m, url, status, hop);
        if (!next)
            break;
        free(url);
        url = next;
        /* As browsers and libcurl do: 303 turns anything but HEAD into a
         * GET, and so do 301/302 a POST; 307/308 repeat the request. */
        if ((status == 303 && strcmp(m, "HEAD") != 0) ||
            ((status == 301 || status == 302) && strcmp(m, "POST") == 0)) {
            m = "GET";
            body = NULL;
            body_len = 0;
        }
    }
    if (rc == 0) {
        char *ct = NULL;
        curl_easy_getinfo(h->curl, CURLINFO_CONTENT_TYPE, &ct);
        resp->status = status;
        resp->len = x.body.len;
        resp->body = vmmk__buf_take(&x.body);
        resp->content_type = ct ? strdup(ct) : NULL;
        if (!resp->body || (ct && !resp->content_type)) {
            vmmk__http_response_clear(resp);
            rc = vmmk__err(VMMK_ENOMEM, "%s %s: out of memory", method, h->shown_base);
        }
    }
    vmmk__buf_free(&x.body);
    curl_slist_free_all(hl);
    free(url);
    return rc;
}

int vmmk__http_download(vmmk__http *h, const char *path, const char *const *headers,
                        vmmk__http_sink sink, void *payload, long *status)
{
    if (status)
        *status = 0;
    if (!h || !sink || !status)
        return vmmk__err(VMMK_EINVAL, "vmmk__http_download: %s is NULL",
                         !h ? "handle" : !sink ? "sink" : "status");
    char *url = NULL;
    int rc = resolve_url(&url, h, "GET", path);
    if (rc)
        return rc;
    struct curl_slist *hl = make_headers(h, "GET", headers, &rc);
    if (!hl) {
        free(url);
        return rc;
    }
    xfer x = { .h = h, .kind = BODY_SINK, .sink = sink, .sink_payload = payload };
    for (int hop = 0;; hop++) {
        set_method(h->curl, "GET", NULL, 0);
        if ((rc = perform(h, "GET", url, hl, &x, status)) != 0)
            break;
        char *next = next_hop(h, "GET", url, *status, hop);
        if (!next)
            break;
        free(url);
        url = next;
    }
    curl_slist_free_all(hl);
    free(url);
    return rc;
}

int vmmk__http_upload(vmmk__http *h, const char *path, const char *const *headers,
                      vmmk__http_source source, void *payload, long long size, long *status)
{
    if (status)
        *status = 0;
    if (!h || !source || !status)
        return vmmk__err(VMMK_EINVAL, "vmmk__http_upload: %s is NULL",
                         !h ? "handle" : !source ? "source" : "status");
    if (size < -1)
        return vmmk__err(VMMK_EINVAL, "PUT %s: invalid upload size %lld", h->shown_base, size);
    char *url = NULL;
    int rc = resolve_url(&url, h, "PUT", path);
    if (rc)
        return rc;
    struct curl_slist *hl = make_headers(h, "PUT", headers, &rc);
    if (!hl) {
        free(url);
        return rc;
    }
    xfer x = { .h = h, .kind = BODY_DISCARD, .source = source, .source_payload = payload,
               .size = size };
    CURL *c = h->curl;
    set_method(c, "PUT", NULL, 0);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &x);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);   /* -1: chunked */
    rc = perform(h, "PUT", url, hl, &x, status);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 0L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, (curl_read_callback)NULL);
    curl_easy_setopt(c, CURLOPT_READDATA, (void *)NULL);
    curl_slist_free_all(hl);
    free(url);
    return rc;
}

static ssize_t fd_source(void *payload, void *buf, size_t len)
{
    int fd = *(const int *)payload;
    for (;;) {
        ssize_t r = read(fd, buf, len);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno,
                                  "cannot read the file to upload: %s", strerror(errno));
    }
}

int vmmk__http_upload_fd(vmmk__http *h, const char *path, const char *const *headers, int fd,
                         long long size, long *status)
{
    if (fd < 0) {
        if (status)
            *status = 0;
        return vmmk__err(VMMK_EINVAL, "vmmk__http_upload_fd: invalid file descriptor");
    }
    return vmmk__http_upload(h, path, headers, fd_source, &fd, size, status);
}
