/* The vmmk__http handle, shared by the files that implement it (http.c:
 * handles and transfers, http_cookie.c: cookies).  Nothing else may look
 * inside. */
#ifndef VMMK_HTTP_INT_H
#define VMMK_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "http.h"
#include "internal.h"

struct vmmk__http {
    CURL *curl;
    char *base;                /* base_url without a trailing '/' */
    char *shown_base;          /* the same for messages: no userinfo */
    char *scheme;              /* "http" or "https" */
    char *host;                /* as in URLs: "[::1]" for IPv6 */
    long port;                 /* explicit or the scheme's default */
    long timeout_s;
    size_t max_response;
    bool insecure;
    unsigned char pin[32];     /* the pinned digest of the leaf certificate */
    size_t pin_len;            /* 20 (SHA-1), 32 (SHA-256) or 0: no pin */
    char errbuf[CURL_ERROR_SIZE];
    /* What the verify callback saw in the last handshake. */
    bool pin_mismatch;
    char seen_sha1[VMMK__THUMBPRINT_MAX];
    char seen_sha256[VMMK__THUMBPRINT_MAX];
    char *cookie_cache;        /* the value vmmk__http_cookie returned last */
    vmmk__buf headers;         /* header lines of the latest response (bounded) */
    vmmk__buf discarded;       /* the start of a body an upload does not keep
                                * (its error message), bounded */
};

/* CURLOPT_HEADERFUNCTION: registers the value of every Set-Cookie header
 * as a secret as soon as it arrives (http_cookie.c). */
size_t vmmk__http_on_header(char *data, size_t size, size_t n, void *payload);

#endif
