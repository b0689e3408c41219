/* Cookies of an HTTP handle: libcurl's cookie engine, in memory only, and
 * every value a secret the moment it is seen, so that a session cookie
 * never reaches a log line or an error message. */
#include "internal.h"
#include "http.h"
#include "http_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The host without the brackets of an IPv6 address, as libcurl keeps it
 * for cookies. */
static void bare_host(char *out, size_t size, const vmmk__http *h)
{
    size_t hl = strlen(h->host);
    if (h->host[0] == '[' && hl > 2 && h->host[hl - 1] == ']')
        snprintf(out, size, "%.*s", (int)(hl - 2), h->host + 1);
    else
        snprintf(out, size, "%s", h->host);
}

/* Register a cookie value (and its unquoted form) for redaction. */
static void register_cookie_value(const char *v, size_t n)
{
    char *copy = strndup(v, n);
    if (!copy)
        return;
    (void)vmmk_secret_register(copy);
    if (n >= 2 && copy[0] == '"' && copy[n - 1] == '"') {
        copy[n - 1] = '\0';
        (void)vmmk_secret_register(copy + 1);
    }
    free(copy);
}

/* Sees every response header line: the values of Set-Cookie become
 * secrets before libcurl or anyone else could show them. */
size_t vmmk__http_on_header(char *data, size_t size, size_t n, void *payload)
{
    vmmk__http *h = payload;
    size_t len = size * n;
    /* Keep the lines of the latest response only (a redirect or an
     * interim 1xx starts a new one), within a bound. */
    if (h) {
        if (len >= 5 && strncmp(data, "HTTP/", 5) == 0)
            vmmk__buf_free(&h->headers);
        if (h->headers.len + len <= 64 * 1024)
            vmmk__buf_append(&h->headers, data, len);
    }
    static const char name[] = "set-cookie:";
    if (len > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *p = data + sizeof name - 1, *end = data + len;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        const char *eq = memchr(p, '=', (size_t)(end - p));
        if (eq) {
            const char *v = eq + 1, *ve = v;
            while (ve < end && *ve != ';' && *ve != '\r' && *ve != '\n')
                ve++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            register_cookie_value(v, (size_t)(ve - v));
        }
    }
    return len;
}

const char *vmmk__http_cookie(const vmmk__http *h, const char *name)
{
    if (!h || !name || !*name)
        return NULL;
    struct curl_slist *list = NULL;
    if (curl_easy_getinfo(h->curl, CURLINFO_COOKIELIST, &list) != CURLE_OK)
        return NULL;
    /* Netscape lines: domain, tailmatch, path, secure, expiry, name, value.
     * Prefer a cookie of this handle's host over one from elsewhere. */
    char host[256];
    bare_host(host, sizeof host, h);
    char *found = NULL;
    bool found_here = false;
    for (struct curl_slist *e = list; e; e = e->next) {
        char *f[7] = { 0 };
        size_t nf = 0;
        /* The list is our copy (freed below): cut it at the tabs. */
        for (char *p = e->data; nf < 7;) {
            f[nf++] = p;
            char *tab = strchr(p, '\t');
            if (!tab)
                break;
            *tab = '\0';
            p = tab + 1;
        }
        if (nf < 7 || strcmp(f[5], name) != 0)
            continue;
        const char *domain = f[0];
        if (strncmp(domain, "#HttpOnly_", 10) == 0)
            domain += 10;
        if (domain[0] == '.')
            domain++;
        bool here = strcasecmp(domain, host) == 0;
        if (!found || (here && !found_here)) {
            free(found);
            found = strdup(f[6]);
            found_here = here;
        }
    }
    curl_slist_free_all(list);
    if (found)
        register_cookie_value(found, strlen(found));
    /* The cache is not part of the handle's observable state: the const
     * in the signature is for the caller; the object itself is ours and
     * not const (made by vmmk__http_new). */
    vmmk__http *mh = (vmmk__http *)h;
    free(mh->cookie_cache);
    mh->cookie_cache = found;
    return found;
}

static bool cookie_chars_ok(const char *s, bool is_name)
{
    if (!s || (is_name && !*s))
        return false;
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch <= 0x20 || ch >= 0x7f || ch == ';' || ch == ',' || ch == '\\' ||
            (is_name && (ch == '=' || ch == '"' || ch == '(' || ch == ')' || ch == '/' ||
                         ch == ':' || ch == '<' || ch == '>' || ch == '@' || ch == '?' ||
                         ch == '[' || ch == ']' || ch == '{' || ch == '}')))
            return false;
    }
    return true;
}

int vmmk__http_set_cookie(vmmk__http *h, const char *name, const char *value)
{
    if (!h)
        return vmmk__err(VMMK_EINVAL, "vmmk__http_set_cookie: handle is NULL");
    if (!cookie_chars_ok(name, true) || !cookie_chars_ok(value, false))
        return vmmk__err(VMMK_EINVAL, "HTTP client for %s: invalid cookie %s", h->shown_base,
                         cookie_chars_ok(name, true) ? name : "name");
    register_cookie_value(value, strlen(value));
    /* Netscape format with this host as the domain: a Set-Cookie line
     * without a domain would go to every host, would not be replaced by
     * the server's own cookie of the same name, and would not be listed
     * by CURLINFO_COOKIELIST. */
    char domain[256];
    bare_host(domain, sizeof domain, h);
    bool https = strcasecmp(h->scheme, "https") == 0;
    char *line = vmmk__asprintf("%s\tFALSE\t/\t%s\t0\t%s\t%s", domain, https ? "TRUE" : "FALSE",
                                name, value);
    if (!line)
        return vmmk__err(VMMK_ENOMEM, "HTTP client for %s: out of memory", h->shown_base);
    CURLcode rc = curl_easy_setopt(h->curl, CURLOPT_COOKIELIST, line);
    free(line);
    if (rc != CURLE_OK)
        return vmmk__err(rc == CURLE_OUT_OF_MEMORY ? VMMK_ENOMEM : VMMK_EINVAL,
                         "HTTP client for %s: cannot store cookie %s: %s", h->shown_base, name,
                         curl_easy_strerror(rc));
    return 0;
}

void vmmk__http_clear_cookies(vmmk__http *h)
{
    if (!h)
        return;
    curl_easy_setopt(h->curl, CURLOPT_COOKIELIST, "ALL");
    free(h->cookie_cache);
    h->cookie_cache = NULL;
}

const char *vmmk__http_last_discarded(const vmmk__http *h, size_t *len)
{
    *len = h && h->discarded.data ? h->discarded.len : 0;
    return *len ? h->discarded.data : "";
}

const char *vmmk__http_last_headers(const vmmk__http *h)
{
    return h && h->headers.data ? h->headers.data : "";
}

char *vmmk__http_header(const char *headers, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = headers; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t ll = eol ? (size_t)(eol - p) : strlen(p);
        if (ll > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1, *e = p + ll;
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                e--;
            return strndup(v, (size_t)(e - v));
        }
        p = eol ? eol + 1 : p + ll;
    }
    return NULL;
}
