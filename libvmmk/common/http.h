/* HTTP(S) client plumbing over libcurl, shared by the vSphere and OpenStack
 * parts: connection reuse, TLS verified by default (system CAs or a CA
 * file), or pinned by certificate thumbprint, timeouts, a response size
 * bound, cookies kept out of logs, and errors that name the request. */
#ifndef VMMK_HTTP_H
#define VMMK_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* One handle owns one libcurl easy handle, hence one connection pool
 * (keep-alive) and one cookie store.  A handle is used by one thread at a
 * time; different handles may be used from different threads. */
typedef struct vmmk__http vmmk__http;

typedef struct vmmk__http_options {
    const char *base_url;      /* "https://host[:port]"; paths are appended */
    const char *cacert;        /* CA bundle file, or NULL for the system CAs */
    const char *thumbprint;    /* pin: SHA-1 (20 bytes) or SHA-256 (32 bytes) of the
                                * leaf certificate, hex with or without ':'; CA and
                                * host name checks are then replaced by the pin */
    bool insecure;             /* no verification at all (logged as a warning);
                                * cacert is ignored with a pin or insecure */
    long timeout_s;            /* whole request, downloads and uploads included
                                * (size it for the largest file); 0 = 300 */
    long connect_timeout_s;    /* 0 = 30 */
    size_t max_response;       /* bytes of a body held in memory (vmmk__http_request;
                                * not downloads, which stream); 0 = 64 MiB */
    const char *client_cert;   /* PEM client certificate for mutual TLS, or NULL */
    const char *client_key;    /* its key (NULL: in the certificate file) */
    bool no_proxy;             /* never use a proxy from http_proxy & co. (link-local
                                * services such as the metadata service) */
} vmmk__http_options;

typedef struct vmmk__http_response {
    long status;
    char *body;                /* NUL-terminated, len bytes */
    size_t len;
    char *content_type;        /* or NULL */
} vmmk__http_response;

/* A handle for @p o->base_url (http or https, no query).  The strings in
 * @p o are copied.  Errors: VMMK_EINVAL (bad URL, thumbprint, timeouts),
 * VMMK_ECONFLICT (insecure and a thumbprint together), VMMK_ENOTFOUND
 * (cacert missing), VMMK_EUNSUPPORTED (pinning with a libcurl that does
 * not use OpenSSL).  With o->insecure a warning is logged every time. */
int vmmk__http_new(vmmk__http **out, const vmmk__http_options *o);
void vmmk__http_free(vmmk__http *h);

/* One request.  @p path is appended to base_url (or is a full URL on the
 * same host).  @p headers is NULL-terminated "Name: value" lines.  A body
 * may be NULL.  Returns 0 for any HTTP status (the caller judges it), or
 * VMMK_ETLS / VMMK_ENETWORK / VMMK_ETIMEOUT / VMMK_EIO with a message that
 * names the method, the URL (without secrets) and the cause; a response
 * larger than max_response is VMMK_EIO ("response larger than N bytes").
 * Redirects (301/302/303/307/308) are followed up to 5 times while they
 * stay on the same scheme, host and port; a redirect elsewhere is not
 * followed and comes back as its 3xx status (tokens sent as headers must
 * not travel to another host).  @p resp is cleared first; on success it
 * holds the final status and body (free with vmmk__http_response_clear). */
int vmmk__http_request(vmmk__http *h, const char *method, const char *path,
                       const char *const *headers, const void *body, size_t body_len,
                       vmmk__http_response *resp);
void vmmk__http_response_clear(vmmk__http_response *resp);

/* Stream a download into a callback / an upload from a callback (datastore
 * file transfer).  The callback returns 0 to continue, non-zero to abort. */
typedef int (*vmmk__http_sink)(void *payload, const void *data, size_t len);

/* GET @p path and hand the body to @p sink as it arrives (nothing is
 * buffered, so max_response does not apply; timeout_s does).  Only a 2xx
 * body reaches the sink: the body of an error status or a redirect is
 * dropped, and *status tells the caller.  Same-host redirects are followed
 * as in vmmk__http_request.  A sink that returns a negative VMMK_E* code
 * (with its error recorded) makes the call return that code, the message
 * prefixed with the request; any other non-zero value is VMMK_ECANCELED. */
int vmmk__http_download(vmmk__http *h, const char *path, const char *const *headers,
                        vmmk__http_sink sink, void *payload, long *status);

/* Fill @p buf with up to @p len bytes of the upload; return how many, 0 at
 * the end, or a negative VMMK_E* code (with the error recorded) to abort. */
typedef ssize_t (*vmmk__http_source)(void *payload, void *buf, size_t len);

/* PUT @p path with a body read from @p source: @p size bytes (sent with
 * Content-Length; a source that ends early is VMMK_EIO), or size -1 for
 * chunked transfer encoding when the length is unknown.  Meant for small
 * files (.vmx, .nvram): redirects are not followed (the source cannot be
 * rewound) and the response body is dropped; *status is the HTTP status,
 * which the caller judges.  Errors as vmmk__http_request. */
int vmmk__http_upload(vmmk__http *h, const char *path, const char *const *headers,
                      vmmk__http_source source, void *payload, long long size, long *status);
/* The same, reading @p size bytes from @p fd at its current offset. */
int vmmk__http_upload_fd(vmmk__http *h, const char *path, const char *const *headers, int fd,
                         long long size, long *status);

/* The session cookie value the server set last (e.g. vmware_soap_session),
 * or NULL; and setting one for later requests.  The value is registered as
 * a secret so it never reaches logs or errors.
 * vmmk__http_cookie gives the value exactly as the server sent it, quotes
 * included (vSphere: "\"52a0...\""), so that name=value is the header to
 * send elsewhere (nbdkit curl cookie=); owned by @p h and valid until the
 * next call on it.  Every value a server sets is registered as a secret as
 * soon as its Set-Cookie header arrives, read or not.
 * vmmk__http_set_cookie stores a cookie for this handle's host and path
 * "/" (replacing one of the same name); VMMK_EINVAL for a name or value
 * with characters a cookie cannot carry. */
const char *vmmk__http_cookie(const vmmk__http *h, const char *name);
int vmmk__http_set_cookie(vmmk__http *h, const char *name, const char *value);
void vmmk__http_clear_cookies(vmmk__http *h);

/* The header lines of the latest response on @p h ("" when none), valid
 * until the next request on it; and the value of header @p name (any
 * case) in such a block, as a new string, or NULL when absent. */
const char *vmmk__http_last_headers(const vmmk__http *h);
/* The first 16 KiB of the body of the latest upload's answer, which the
 * upload calls do not return (an error message); *len bytes, not
 * NUL-terminated when truncated. */
const char *vmmk__http_last_discarded(const vmmk__http *h, size_t *len);
char *vmmk__http_header(const char *headers, const char *name);

/* Connect to host:port, complete a TLS handshake without verification and
 * return the leaf certificate's thumbprint as uppercase hex joined with
 * ':' (SHA-1 when @p sha256 is false, as VDDK and nbdkit want it). */
int vmmk__tls_thumbprint(char **out, const char *host, int port, bool sha256, long timeout_s);
/* Details of vmmk__tls_thumbprint (tls.c): @p host may be a name, an IPv4
 * address or an IPv6 address with or without brackets; SNI is sent for
 * names only.  timeout_s 0 = 30; it bounds connect and handshake (name
 * resolution is bounded by the resolver's own timeouts).  *out is a new
 * string.  Errors name host:port and the cause: VMMK_ENETWORK (resolve,
 * connect), VMMK_ETIMEOUT, VMMK_ETLS (handshake), VMMK_EINVAL. */

/* Longest thumbprint text: SHA-256 as 32 "XX:" groups, the last without
 * ':', and the NUL. */
#define VMMK__THUMBPRINT_MAX 96

/* Parse a thumbprint given as hex, with or without ':' between bytes, any
 * case, into @p md (32 bytes of room); *md_len is 20 (SHA-1) or 32
 * (SHA-256).  VMMK_EINVAL naming the text otherwise. */
int vmmk__tls_parse_thumbprint(unsigned char *md, size_t *md_len, const char *text);

/* @p len bytes as "AA:BB:..." into @p out (at least 3 * len bytes). */
void vmmk__tls_format_digest(char *out, const unsigned char *md, size_t len);

/* The SHA-1 or SHA-256 thumbprint of an OpenSSL X509 certificate into
 * @p out (VMMK__THUMBPRINT_MAX bytes); false if OpenSSL fails. */
struct x509_st;
bool vmmk__tls_cert_thumbprint(char *out, const struct x509_st *cert, bool sha256);

/* ---- URLs (url.c) ---- */

/* @p url for a log line or an error message: without userinfo and
 * fragment, and with the value of every query parameter whose name looks
 * secret (token, sig, key, pass, session, ...) replaced by "***".  A bare
 * path is treated as one.  New string, or NULL when out of memory. */
char *vmmk__url_shown(const char *url);

/* Scheme, host (IPv6 in brackets) and port (the scheme's default when
 * none is given) of an absolute @p url.  *scheme and *host are new
 * strings; VMMK_EINVAL (no error recorded) when @p url does not parse. */
int vmmk__url_origin(const char *url, char **scheme, char **host, long *port);

#endif
