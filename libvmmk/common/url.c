/* URLs for messages and origin checks, shared by the HTTP client and
 * whatever else shows a URL to the user. */
#include "internal.h"
#include "http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

static bool secret_param(const char *name, size_t n)
{
    static const char *const words[] = { "token", "pass", "secret", "sig", "key", "auth",
                                         "session", "cookie", "credential", "ticket" };
    char low[64];
    if (n >= sizeof low)
        n = sizeof low - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[n] = '\0';
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strstr(low, words[i]))
            return true;
    return false;
}

char *vmmk__url_shown(const char *url)
{
    vmmk__buf b = { 0 };
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    vmmk__buf_append(&b, url, (size_t)(auth - url));
    size_t alen = sep ? strcspn(auth, "/?#") : 0;   /* a bare path has no authority */
    const char *host = auth;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            host = p + 1;
    vmmk__buf_append(&b, host, (size_t)(auth + alen - host));
    const char *rest = auth + alen;
    size_t plen = strcspn(rest, "?#");
    vmmk__buf_append(&b, rest, plen);
    rest += plen;
    if (*rest == '?') {
        rest++;
        const char *end = rest + strcspn(rest, "#");
        vmmk__buf_puts(&b, "?");
        while (rest < end) {
            const char *amp = memchr(rest, '&', (size_t)(end - rest));
            const char *pe = amp ? amp : end;
            const char *eq = memchr(rest, '=', (size_t)(pe - rest));
            if (eq && secret_param(rest, (size_t)(eq - rest))) {
                vmmk__buf_append(&b, rest, (size_t)(eq - rest));
                vmmk__buf_puts(&b, "=***");
            } else {
                vmmk__buf_append(&b, rest, (size_t)(pe - rest));
            }
            if (amp)
                vmmk__buf_puts(&b, "&");
            rest = amp ? amp + 1 : end;
        }
    }
    return vmmk__buf_take(&b);
}

int vmmk__url_origin(const char *url, char **scheme, char **host, long *port)
{
    *scheme = *host = NULL;
    *port = 0;
    CURLU *u = curl_url();
    if (!u)
        return VMMK_ENOMEM;
    char *cs = NULL, *ch = NULL, *cp = NULL;
    int rc = VMMK_EINVAL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &cs, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &ch, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &cp, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        /* Copies, so that callers free with free() and not curl_free(). */
        *scheme = strdup(cs);
        *host = strdup(ch);
        *port = strtol(cp, NULL, 10);
        rc = *scheme && *host ? 0 : VMMK_ENOMEM;
    }
    curl_free(cs);
    curl_free(ch);
    curl_free(cp);
    curl_url_cleanup(u);
    if (rc) {
        free(*scheme);
        free(*host);
        *scheme = *host = NULL;
    }
    return rc;
}
