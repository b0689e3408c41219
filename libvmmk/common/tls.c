/* TLS certificate thumbprints: parsing and printing them, and fetching a
 * server's with plain OpenSSL.
 *
 * vmmk__tls_thumbprint exists because VDDK (and nbdkit's vddk plugin) want
 * the ESXi host's SHA-1 thumbprint, and because a user who meets a
 * self-signed vCenter must be shown what to verify out of band.  It does no
 * verification at all: its result is what the server presented, for a
 * human or a pin to judge. */
#include "internal.h"
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int vmmk__tls_parse_thumbprint(unsigned char *md, size_t *md_len, const char *text)
{
    size_t n = 0;
    int hi = -1;
    bool ok = text && *text;
    for (const char *p = text; ok && *p; p++) {
        if (*p == ':') {
            ok = hi < 0 && n > 0 && p[1] != '\0' && p[1] != ':';   /* only between bytes */
            continue;
        }
        int v = hexval(*p);
        if (v < 0 || (hi < 0 && n == 32)) {
            ok = false;
        } else if (hi < 0) {
            hi = v;
        } else {
            md[n++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    if (!ok || hi >= 0 || (n != 20 && n != 32))
        return vmmk__err(VMMK_EINVAL,
                         "thumbprint '%s' is not a SHA-1 (20 bytes) or SHA-256 (32 bytes) "
                         "hex digest",
                         text ? text : "(null)");
    *md_len = n;
    return 0;
}

void vmmk__tls_format_digest(char *out, const unsigned char *md, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    out[0] = '\0';
    for (size_t i = 0; i < len; i++) {
        out[3 * i] = hex[md[i] >> 4];
        out[3 * i + 1] = hex[md[i] & 15];
        out[3 * i + 2] = i + 1 < len ? ':' : '\0';
    }
}

bool vmmk__tls_cert_thumbprint(char *out, const struct x509_st *cert, bool sha256)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    out[0] = '\0';
    if (!cert || !X509_digest(cert, sha256 ? EVP_sha256() : EVP_sha1(), md, &n) ||
        3 * (size_t)n > VMMK__THUMBPRINT_MAX)
        return false;
    vmmk__tls_format_digest(out, md, n);
    return true;
}

/* ---- fetching a server's certificate ------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Wait for @p events on @p fd until @p deadline: 1 ready, 0 timed out,
 * -1 with errno. */
static int wait_fd(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0)
            return 0;
        struct pollfd p = { .fd = fd, .events = events };
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return -1;
    }
}

/* A non-blocking connected socket to one of @p ai, or -1 with *err the
 * errno of the last failure (ETIMEDOUT when the deadline passed). */
static int connect_any(const struct addrinfo *ai, double deadline, int *err)
{
    *err = ECONNREFUSED;
    for (; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0) {
            *err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            return fd;
        if (errno == EINPROGRESS) {
            int r = wait_fd(fd, POLLOUT, deadline);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (r == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
                return fd;
            *err = r == 0 ? ETIMEDOUT : r < 0 ? errno : soerr ? soerr : EIO;
            close(fd);
            if (r == 0)
                return -1;     /* the deadline is spent: no other address gets a chance */
            continue;
        }
        *err = errno;
        close(fd);
    }
    return -1;
}

/* The last OpenSSL error as text, or @p fallback. */
static void ssl_error_text(char *buf, size_t size, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    if (e)
        ERR_error_string_n(e, buf, size);
    else
        snprintf(buf, size, "%s", fallback);
}

/* Handshake on @p fd without verification and take the leaf certificate.
 * Returns 0, or a VMMK_E* code with the error recorded, naming @p where. */
static int handshake(X509 **cert, int fd, const char *host, const char *where, double deadline,
                     long timeout_s)
{
    int rc = 0;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    if (!ssl) {
        rc = vmmk__err(VMMK_ENOMEM, "cannot get the TLS certificate of %s: out of memory", where);
        goto out;
    }
    /* Deliberately no verification: the point is to show what the server
     * presents, trusted or not. */
    SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    unsigned char ip[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, host, ip) != 1 && inet_pton(AF_INET6, host, ip) != 1)
        SSL_set_tlsext_host_name(ssl, host);   /* SNI carries names only (RFC 6066) */
    SSL_set_fd(ssl, fd);
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(ssl);
        if (r == 1)
            break;
        int e = SSL_get_error(ssl, r);
        int w = e == SSL_ERROR_WANT_READ    ? wait_fd(fd, POLLIN, deadline)
                : e == SSL_ERROR_WANT_WRITE ? wait_fd(fd, POLLOUT, deadline)
                                            : -2;
        if (w == 1)
            continue;
        if (w == 0) {
            rc = vmmk__err(VMMK_ETIMEOUT,
                           "cannot get the TLS certificate of %s: the TLS handshake did not "
                           "finish within %ld s",
                           where, timeout_s);
        } else {
            char why[256];
            if (e == SSL_ERROR_SYSCALL && errno)
                snprintf(why, sizeof why, "%s", strerror(errno));
            else
                ssl_error_text(why, sizeof why, "the server closed the connection");
            rc = vmmk__err(VMMK_ETLS, "cannot get the TLS certificate of %s: TLS handshake failed: %s",
                           where, why);
        }
        goto out;
    }
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
    *cert = SSL_get1_peer_certificate(ssl);
#else
    *cert = SSL_get_peer_certificate(ssl);
#endif
    if (!*cert)
        rc = vmmk__err(VMMK_ETLS, "cannot get the TLS certificate of %s: the server sent none",
                       where);
    (void)SSL_shutdown(ssl);   /* a polite close_notify; non-blocking, result irrelevant */
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    ERR_clear_error();   /* leave the thread's queue clean for libcurl */
    return rc;
}

int vmmk__tls_thumbprint(char **out, const char *host, int port, bool sha256, long timeout_s)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk__tls_thumbprint: out is NULL");
    *out = NULL;
    if (!host || !*host || port <= 0 || port > 65535 || timeout_s < 0)
        return vmmk__err(VMMK_EINVAL, "cannot get the TLS certificate of %s:%d: invalid %s",
                         host ? host : "(null)", port,
                         !host || !*host ? "host" : timeout_s < 0 ? "timeout" : "port");
    if (timeout_s == 0)
        timeout_s = 30;

    /* "[::1]" as in URLs, "::1" for the resolver. */
    char name[256];
    size_t hl = strlen(host);
    if (host[0] == '[' && hl > 2 && host[hl - 1] == ']')
        snprintf(name, sizeof name, "%.*s", (int)(hl - 2), host + 1);
    else
        snprintf(name, sizeof name, "%s", host);
    char where[300];
    snprintf(where, sizeof where, strchr(name, ':') ? "[%s]:%d" : "%s:%d", name, port);

    double deadline = now_s() + (double)timeout_s;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG };
    struct addrinfo *ai = NULL;
    int g = getaddrinfo(name, service, &hints, &ai);
    if (g != 0)
        return vmmk__err(VMMK_ENETWORK, "cannot get the TLS certificate of %s: cannot resolve %s: %s",
                         where, name, g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    int err = 0;
    int fd = connect_any(ai, deadline, &err);
    freeaddrinfo(ai);
    if (fd < 0) {
        if (err == ETIMEDOUT)
            return vmmk__err_full(VMMK_ETIMEOUT, NULL, NULL, 0, err,
                                  "cannot get the TLS certificate of %s: no connection within %ld s",
                                  where, timeout_s);
        return vmmk__err_full(VMMK_ENETWORK, NULL, NULL, 0, err,
                              "cannot get the TLS certificate of %s: cannot connect: %s", where,
                              strerror(err));
    }

    /* OpenSSL writes to the socket with write(): a server that hangs up
     * mid-handshake would raise SIGPIPE and kill an application that did
     * not ignore it.  Block it on this thread for the handshake and
     * swallow one that we caused. */
    sigset_t pipe_set, old_set, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    bool was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE);

    X509 *cert = NULL;
    int rc = handshake(&cert, fd, name, where, deadline, timeout_s);
    close(fd);

    if (!was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE)) {
        struct timespec zero = { 0, 0 };
        (void)sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_set, NULL);
    if (rc)
        return rc;

    char text[VMMK__THUMBPRINT_MAX];
    bool ok = vmmk__tls_cert_thumbprint(text, cert, sha256);
    X509_free(cert);
    if (!ok)
        return vmmk__err(VMMK_ETLS, "cannot get the TLS certificate of %s: cannot compute its digest",
                         where);
    *out = strdup(text);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "cannot get the TLS certificate of %s: out of memory",
                                where);
}
