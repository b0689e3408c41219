/* Authenticated OpenStack calls: token and microversion headers, one
 * token renewal on a 401, retries with backoff (Retry-After honoured),
 * errors that carry the API's message and the request id, pagination and
 * polling.  The rules are in docs/cloud.md. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "cloud_int.h"

#define MAX_DELAY_S 30.0         /* backoff ceiling */
#define MAX_RETRY_AFTER_S 120.0  /* longest Retry-After obeyed */
#define MAX_PAGES 100000

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    /* No libm: the library does not link it. */
    time_t whole = (time_t)s;
    struct timespec ts = { whole, (long)((s - (double)whole) * 1e9) };
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

char *vmmk__os_escape(const char *s)
{
    vmmk__buf b = { 0 };
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p))
            vmmk__buf_append(&b, (const char *)p, 1);
        else
            vmmk__buf_printf(&b, "%%%02X", *p);
    }
    if (!b.data)
        vmmk__buf_append(&b, "", 0);
    return vmmk__buf_take(&b);
}

/* ---- error bodies ------------------------------------------------------ */

#define MAX_MESSAGE 1000         /* bytes of a service's error message shown */
#define MAX_TYPE 128             /* bytes of its error type */
#define MAX_REQUEST_ID 128

/* Length of an ANSI escape sequence starting at p[0] == ESC (CSI "ESC [
 * params final" or a two-byte one), so that a server cannot paint or
 * move the user's terminal through an error message. */
static size_t ansi_len(const unsigned char *p, size_t left)
{
    if (left < 2)
        return 1;
    if (p[1] != '[')
        return 2;
    size_t i = 2;
    while (i < left && p[i] >= 0x20 && p[i] <= 0x3f)
        i++;
    return i < left && p[i] >= 0x40 && p[i] <= 0x7e ? i + 1 : i;
}

/* Length of the well-formed UTF-8 character at p (1 to 4), or 0. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
    size_t n = p[0] < 0x80 ? 1 : p[0] >= 0xc2 && p[0] <= 0xdf ? 2
             : p[0] >= 0xe0 && p[0] <= 0xef ? 3 : p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : 0;
    if (n == 0 || n > left)
        return 0;
    for (size_t i = 1; i < n; i++)
        if ((p[i] & 0xc0) != 0x80)
            return 0;
    /* Overlong forms, surrogates and code points past U+10FFFF. */
    if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||
        (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
        return 0;
    return n;
}

/* Append text to @p b with control characters and blank runs squeezed
 * into one space, escape sequences dropped and bytes that are not UTF-8
 * shown as '?', until it holds @p max bytes ("..." added then).
 * @p space carries a pending blank between calls. */
static void squeeze_into(vmmk__buf *b, const char *text, size_t len, size_t max, bool *space)
{
    const unsigned char *p = (const unsigned char *)text;
    for (size_t i = 0; i < len && !b->failed; i++) {
        if (b->len >= max) {
            vmmk__buf_append(b, "...", 3);
            return;
        }
        if (p[i] == 0x1b) {
            i += ansi_len(p + i, len - i) - 1;
            *space = true;
            continue;
        }
        if (p[i] < 0x20 || p[i] == 0x7f || p[i] == ' ') {
            *space = true;
            continue;
        }
        size_t n = utf8_len(p + i, len - i);
        if (n == 2 && p[i] == 0xc2 && p[i + 1] < 0xa0) {
            i++;                              /* C1 controls (U+0080..U+009F) */
            *space = true;
            continue;
        }
        if (*space && b->len)
            vmmk__buf_append(b, " ", 1);
        *space = false;
        if (n == 0)
            vmmk__buf_append(b, "?", 1);
        else {
            vmmk__buf_append(b, (const char *)p + i, n);
            i += n - 1;
        }
    }
}

/* A service's text made fit for an error message: redacted first (so
 * that cutting it cannot leave part of a secret), then squeezed and
 * bounded.  New string, or NULL when nothing is left. */
static char *clean_text(const char *text, size_t max)
{
    if (!text)
        return NULL;
    char *red = vmmk__redact_dup(text);
    if (!red)
        return NULL;
    vmmk__buf b = { 0 };
    bool space = false;
    squeeze_into(&b, red, strlen(red), max, &space);
    free(red);
    return b.len ? vmmk__buf_take(&b) : (vmmk__buf_free(&b), NULL);
}

static bool tag_is(const char *tag, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len >= n && strncasecmp(tag, name, n) == 0 &&
           (len == n || isspace((unsigned char)tag[n]) || tag[n] == '>' || tag[n] == '/');
}

/* Text of an HTML or plain error page: tags, scripts, styles and
 * comments dropped, the common entities decoded, blanks squeezed,
 * bounded.  Linear in the body: every search for a closing tag either
 * moves past it or ends the text. */
static char *plain_text(const char *body, size_t len)
{
    vmmk__buf b = { 0 };
    bool space = false;
    static const struct {
        const char *ent, *ch;
    } ents[] = { { "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" }, { "&quot;", "\"" },
                 { "&#39;", "'" }, { "&nbsp;", " " } };
    for (size_t i = 0; i < len && b.len < 400;) {
        if (body[i] == '<') {
            const char *tag = body + i + 1;
            size_t left = len - i - 1;
            const char *close = NULL;
            if (left >= 3 && strncmp(tag, "!--", 3) == 0)
                close = "-->";
            else if (tag_is(tag, left, "script"))
                close = "</script";
            else if (tag_is(tag, left, "style"))
                close = "</style";
            const char *end = NULL;
            if (close) {
                for (size_t k = i + 1; k + strlen(close) <= len && !end; k++)
                    if (strncasecmp(body + k, close, strlen(close)) == 0)
                        end = body + k + strlen(close);
            }
            if (close && !end)
                break;              /* unterminated: the rest is script or comment */
            if (!end)
                end = body + i;
            const char *gt = memchr(end, '>', len - (size_t)(end - body));
            i = gt ? (size_t)(gt - body) + 1 : len;
            space = true;
            continue;
        }
        if (body[i] == '&') {
            size_t k;
            for (k = 0; k < sizeof ents / sizeof *ents; k++)
                if (len - i >= strlen(ents[k].ent) &&
                    strncmp(body + i, ents[k].ent, strlen(ents[k].ent)) == 0)
                    break;
            if (k < sizeof ents / sizeof *ents) {
                squeeze_into(&b, ents[k].ch, strlen(ents[k].ch), 400, &space);
                i += strlen(ents[k].ent);
                continue;
            }
        }
        size_t run = i;
        while (run < len && body[run] != '<' && body[run] != '&')
            run++;
        if (run == i)
            run++;
        squeeze_into(&b, body + i, run - i, 400, &space);
        i = run;
    }
    if (!b.len) {
        vmmk__buf_free(&b);
        return NULL;
    }
    char *text = vmmk__buf_take(&b);
    char *clean = clean_text(text, MAX_MESSAGE);
    free(text);
    return clean;
}

/* The message and type as they go into an error: cleaned and bounded. */
static void clean_in_place(char **s, size_t max)
{
    if (!*s)
        return;
    char *c = clean_text(*s, max);
    free(*s);
    *s = c;
}

void vmmk__os_error_text(const char *body, size_t len, char **message, char **type)
{
    *message = *type = NULL;
    if (!body || !len)
        return;
    json_object *o = NULL;
    if (vmmk__json_parse(&o, body, len) == 0 && json_object_is_type(o, json_type_object)) {
        json_object *v;
        if (json_object_object_get_ex(o, "NeutronError", &v) &&
            json_object_is_type(v, json_type_object)) {
            *message = vmmk__jdup(v, "message");
            *type = vmmk__jdup(v, "type");
        } else if (json_object_object_get_ex(o, "error", &v) &&
                   json_object_is_type(v, json_type_object)) {
            *message = vmmk__jdup(v, "message");   /* Keystone */
            *type = vmmk__jdup(v, "title");
        } else if (json_object_object_get_ex(o, "errors", &v) &&
                   json_object_is_type(v, json_type_array) && json_object_array_length(v)) {
            json_object *e = json_object_array_get_idx(v, 0);  /* API-WG errors */
            *message = vmmk__jdup(e, "detail");
            *type = vmmk__jdup(e, "code");
            if (!*type)
                *type = vmmk__jdup(e, "title");
        } else if (vmmk__jstr(o, "message")) {
            *message = vmmk__jdup(o, "message");
            *type = vmmk__jdup(o, "type");
        } else {
            /* Nova and Cinder: {"badRequest": {"code": 400, "message": "..."}} */
            json_object_object_foreach(o, key, val)
            {
                if (val && json_object_is_type(val, json_type_object) && vmmk__jstr(val, "message")) {
                    *message = vmmk__jdup(val, "message");
                    *type = strdup(key);
                    break;
                }
            }
        }
        clean_in_place(message, MAX_MESSAGE);
        clean_in_place(type, MAX_TYPE);
    }
    json_object_put(o);
    if (*message && strchr(*message, '<')) {
        /* Glance puts HTML line breaks inside its JSON messages. */
        char *t = plain_text(*message, strlen(*message));
        if (t) {
            free(*message);
            *message = t;
        }
    }
    if (!*message)
        *message = plain_text(body, len);
}

static bool is_quota(long status, const char *msg, const char *type)
{
    if (status == 413)
        return true;
    const char *words[] = { "quota", "OverQuota", "overLimit", "OverLimit" };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if ((msg && strcasestr(msg, words[i])) || (type && strcasestr(type, words[i])))
            return true;
    return false;
}

static int map_status(long status, const char *msg, const char *type)
{
    if (status != 401 && is_quota(status, msg, type))
        return VMMK_EQUOTA;
    switch (status) {
    case 400: return VMMK_EINVAL;
    case 401:
    case 403: return VMMK_EAUTH;
    case 404: return VMMK_ENOTFOUND;
    case 409: return VMMK_ECONFLICT;
    default: return VMMK_EHTTP;
    }
}

static int status_error(const vmmk__os_call *call, const char *url, const vmmk__os_reply *r)
{
    char *msg = NULL, *type = NULL;
    vmmk__os_error_text(r->raw, r->raw_len, &msg, &type);
    if (r->status >= 300 && r->status < 400 && r->location) {
        /* vmmk__http follows redirects on the same origin only: the token
         * is not sent elsewhere. */
        char *to = vmmk__url_shown(r->location), *shown_to = clean_text(to, 300);
        free(msg);
        msg = vmmk__asprintf("redirected to %s, not followed (another scheme, host or port)",
                             shown_to ? shown_to : "?");
        free(to);
        free(shown_to);
    }
    char *shown = vmmk__url_shown(url);
    int code = map_status(r->status, msg, type);
    /* The request id comes from a header: bounded and printable too. */
    char *req_id = clean_text(r->request_id, MAX_REQUEST_ID);
    char rid[MAX_REQUEST_ID + 32] = "";
    if (req_id)
        snprintf(rid, sizeof rid, ", request id %s", req_id);
    int rc = vmmk__err_full(code, type, req_id, (int)r->status, 0,
                            "%s: %s (HTTP %ld from %s %s %s%s)",
                            call->what ? call->what : "OpenStack call",
                            msg ? msg : "no error message", r->status, vmmk__svc_name(call->svc),
                            call->method, shown ? shown : "", rid);
    free(req_id);
    free(shown);
    free(msg);
    free(type);
    return rc;
}

/* ---- one call ---------------------------------------------------------- */

void vmmk__os_reply_clear(vmmk__os_reply *r)
{
    if (!r)
        return;
    json_object_put(r->body);
    free(r->raw);
    free(r->request_id);
    free(r->location);
    free(r->headers);
    memset(r, 0, sizeof *r);
}

static bool idempotent(const vmmk__os_call *call)
{
    if (call->retry >= 0)
        return call->retry > 0;
    return strcmp(call->method, "GET") == 0 || strcmp(call->method, "HEAD") == 0 ||
           strcmp(call->method, "PUT") == 0 || strcmp(call->method, "DELETE") == 0;
}

/* Seconds a Retry-After header asks for, or -1. */
static double retry_after(const char *headers)
{
    char *v = vmmk__http_header(headers, "Retry-After");
    if (!v)
        return -1;
    double s = -1;
    char *end;
    long n = strtol(v, &end, 10);
    if (end != v && !*end && n >= 0)
        s = (double)n;
    else {
        time_t t = curl_getdate(v, NULL);
        if (t > 0)
            s = difftime(t, time(NULL));
        if (s < 0)
            s = 0;
    }
    free(v);
    return s > MAX_RETRY_AFTER_S ? MAX_RETRY_AFTER_S : s;
}

static double backoff(int attempt)
{
    double d = 0.5;
    for (int i = 0; i < attempt && d < MAX_DELAY_S; i++)
        d *= 2;
    if (d > MAX_DELAY_S)
        d = MAX_DELAY_S;
    /* Up to 25% jitter, so that many clients do not retry in step. */
    return d * (0.75 + 0.25 * ((double)rand() / RAND_MAX));
}

static int build_headers(char **h, size_t *n, vmmk_cloud *c, const vmmk__os_call *call,
                         const char *content_type)
{
    *n = 0;
    if (!call->noauth && c->token)
        h[(*n)++] = vmmk__asprintf("X-Auth-Token: %s", c->token);
    h[(*n)++] = vmmk__asprintf("Accept: application/json");
    if (content_type)
        h[(*n)++] = vmmk__asprintf("Content-Type: %s", content_type);
    const vmmk__os_version *mv = &c->mv[call->svc];
    if (mv->negotiated && (mv->major || mv->minor)) {
        const char *kind = call->svc == VMMK__SVC_COMPUTE ? "compute" : "volume";
        h[(*n)++] = vmmk__asprintf("OpenStack-API-Version: %s %d.%d", kind, mv->major, mv->minor);
        if (call->svc == VMMK__SVC_COMPUTE)
            h[(*n)++] = vmmk__asprintf("X-OpenStack-Nova-API-Version: %d.%d", mv->major, mv->minor);
    }
    h[*n] = NULL;
    for (size_t i = 0; i < *n; i++)
        if (!h[i])
            return vmmk__err(VMMK_ENOMEM, "out of memory");
    return 0;
}

static void free_headers(char **h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (h[i] && strncmp(h[i], "X-Auth-Token:", 13) == 0)
            memset(h[i], 0, strlen(h[i]));
        free(h[i]);
        h[i] = NULL;
    }
}

int vmmk__os_do_locked(vmmk_cloud *c, const vmmk__os_call *call, vmmk__os_reply *reply)
{
    if (reply)
        memset(reply, 0, sizeof *reply);
    const char *what = call->what ? call->what : "OpenStack call";
    int rc;
    if (!call->noauth && (rc = vmmk__os_ensure_token(c)) != 0)
        return vmmk__err_prefix("%s", what);
    char *url;
    if (strncmp(call->path, "http://", 7) == 0 || strncmp(call->path, "https://", 8) == 0) {
        url = strdup(call->path);
    } else {
        /* Negotiate first: its own call may renew the token, and a new
         * token frees the endpoints resolved from the old catalog. */
        if ((call->svc == VMMK__SVC_COMPUTE || call->svc == VMMK__SVC_VOLUME) &&
            (rc = vmmk__os_negotiate(c, call->svc)) != 0)
            return vmmk__err_prefix("%s", what);
        const char *ep;
        if ((rc = vmmk__os_endpoint(&ep, c, call->svc)) != 0)
            return vmmk__err_prefix("%s", what);
        char *esc = call->id ? vmmk__os_escape(call->id) : NULL;
        if (!call->id)
            url = vmmk__asprintf("%s%s", ep, call->path);
        else
            url = esc ? vmmk__asprintf("%s%s/%s%s", ep, call->path, esc,
                                       call->suffix ? call->suffix : "")
                      : NULL;
        free(esc);
    }
    if (!url)
        return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    vmmk__http *h;
    if ((rc = vmmk__os_http(&h, c, url)) != 0) {
        free(url);
        return rc;
    }
    char *json_body = NULL;
    const char *body = call->raw;
    size_t body_len = call->raw_len;
    const char *ctype = call->raw ? (call->content_type ? call->content_type : "application/json")
                                  : NULL;
    if (call->body) {
        if (!(json_body = vmmk__json_dump(call->body, 0))) {
            free(url);
            return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
        }
        body = json_body;
        body_len = strlen(json_body);
        ctype = "application/json";
    }
    char *hv[8] = { 0 };
    size_t nh = 0;
    bool reauthed = false, retryable = idempotent(call);
    vmmk__http_response resp = { 0 };
    for (int attempt = 0;; attempt++) {
        free_headers(hv, nh);
        if ((rc = build_headers(hv, &nh, c, call, ctype)) != 0)
            break;
        vmmk__http_response_clear(&resp);
        rc = vmmk__http_request(h, call->method, url, (const char *const *)hv, body, body_len, &resp);
        if (rc) {
            if (retryable && attempt < c->retries && (rc == VMMK_ENETWORK || rc == VMMK_ETIMEOUT)) {
                double d = backoff(attempt);
                vmmk__log(VMMK_LOG_WARN, "%s: %s; retry %d of %d in %.1f s", what,
                          vmmk_error_last()->message, attempt + 1, c->retries, d);
                sleep_s(d);
                continue;
            }
            vmmk__err_prefix("%s", what);
            break;
        }
        if (resp.status == 401 && !call->noauth && !reauthed) {
            /* Revoked or expired early: the request was not carried out,
             * so sending it again after a new token is safe for any method. */
            vmmk__log(VMMK_LOG_INFO, "%s: token refused (401); authenticating again", what);
            reauthed = true;
            if ((rc = vmmk__os_authenticate(c)) != 0) {
                vmmk__err_prefix("%s", what);
                break;
            }
            attempt--;
            continue;
        }
        bool transient = resp.status == 429 || (resp.status >= 500 && resp.status != 501);
        /* 429 and 503 say the request was not processed: safe to resend
         * whatever the method; other 5xx only for idempotent calls. */
        bool may = retryable || resp.status == 429 || resp.status == 503;
        if (transient && may && attempt < c->retries) {
            double d = retry_after(vmmk__http_last_headers(h));
            if (d < 0)
                d = backoff(attempt);
            vmmk__log(VMMK_LOG_WARN, "%s: HTTP %ld from %s; retry %d of %d in %.1f s", what,
                      resp.status, vmmk__svc_name(call->svc), attempt + 1, c->retries, d);
            sleep_s(d);
            continue;
        }
        break;
    }
    free_headers(hv, nh);
    free(json_body);
    if (rc == 0) {
        const char *hdrs = vmmk__http_last_headers(h);
        vmmk__os_reply r = { 0 };
        r.status = resp.status;
        r.raw = resp.body ? resp.body : strdup("");
        r.raw_len = resp.body ? resp.len : 0;
        resp.body = NULL;
        r.request_id = vmmk__http_header(hdrs, "x-openstack-request-id");
        if (!r.request_id)
            r.request_id = vmmk__http_header(hdrs, "x-compute-request-id");
        r.location = vmmk__http_header(hdrs, "Location");
        r.headers = strdup(hdrs);
        if (r.raw_len && (r.raw[0] == '{' || r.raw[0] == '['))
            (void)vmmk__json_parse(&r.body, r.raw, r.raw_len);
        vmmk_error_clear();
        if (r.status >= 200 && r.status < 300)
            rc = 0;
        else if (r.status == 404 && call->not_found_ok)
            rc = 0;
        else
            rc = status_error(call, url, &r);
        if (reply)
            *reply = r;
        else
            vmmk__os_reply_clear(&r);
    }
    vmmk__http_response_clear(&resp);
    free(url);
    return rc;
}

int vmmk__os_do(vmmk_cloud *c, const vmmk__os_call *call, vmmk__os_reply *reply)
{
    if (reply)
        memset(reply, 0, sizeof *reply);
    if (!c || !call || !call->method || !call->path)
        return vmmk__err(VMMK_EINVAL, "OpenStack call: missing handle, method or path");
    pthread_mutex_lock(&c->lock);
    int rc = vmmk__os_do_locked(c, call, reply);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int vmmk__os_send(vmmk_cloud *c, vmmk__svc svc, const char *method, const char *base,
                  const char *id, const char *suffix, json_object *body, const char *what)
{
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    vmmk__os_call call = VMMK__OS_CALL(svc, method, base, what);
    call.id = id;
    call.suffix = suffix;
    call.body = body;
    int rc = vmmk__os_do(c, &call, NULL);
    json_object_put(body);
    return rc;
}

/* ---- pagination -------------------------------------------------------- */

/* The query of the next page, or NULL when there is none. */
static char *next_query(json_object *page, const char *key)
{
    char links_key[128];
    snprintf(links_key, sizeof links_key, "%s_links", key);
    const char *href = NULL;
    json_object *links;
    if (json_object_object_get_ex(page, links_key, &links) &&
        json_object_is_type(links, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(links); i++) {
            json_object *l = json_object_array_get_idx(links, i);
            const char *rel = vmmk__jstr(l, "rel");
            if (rel && strcmp(rel, "next") == 0)
                href = vmmk__jstr(l, "href");
        }
    }
    if (!href)
        href = vmmk__jstr(page, "next");   /* Glance */
    const char *q = href ? strchr(href, '?') : NULL;
    return q && q[1] ? strdup(q + 1) : NULL;
}

int vmmk__os_list(vmmk_cloud *c, vmmk__svc svc, const char *path, const char *key,
                  const char *what, vmmk__os_item_cb cb, void *payload)
{
    const char *q = strchr(path, '?');
    size_t base_len = q ? (size_t)(q - path) : strlen(path);
    char *page_path;
    if (c->page_size)
        page_path = vmmk__asprintf("%s%climit=%u", path, q ? '&' : '?', c->page_size);
    else
        page_path = strdup(path);
    /* Every page query read so far (a json-c object used as a hash set):
     * a next link back to any of them -- the same page, or a cycle of
     * several -- would never end. */
    json_object *seen = json_object_new_object();
    int rc = 0;
    if (!page_path || !seen)
        rc = vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    else {
        const char *q0 = strchr(page_path, '?');
        json_object_object_add(seen, q0 ? q0 + 1 : "", NULL);
    }
    for (int page = 0; rc == 0 && page_path; page++) {
        if (page >= MAX_PAGES) {
            rc = vmmk__err(VMMK_EREMOTE, "%s: more than %d pages; giving up", what, MAX_PAGES);
            break;
        }
        vmmk__os_call call = VMMK__OS_CALL(svc, "GET", page_path, what);
        vmmk__os_reply r;
        if ((rc = vmmk__os_do(c, &call, &r)) != 0)
            break;
        json_object *items;
        if (!r.body || !json_object_object_get_ex(r.body, key, &items) ||
            !json_object_is_type(items, json_type_array)) {
            char *rid = clean_text(r.request_id, MAX_REQUEST_ID);
            rc = vmmk__err(VMMK_EREMOTE, "%s: the answer has no \"%s\" list (request id %s)", what,
                           key, rid ? rid : "none");
            free(rid);
            vmmk__os_reply_clear(&r);
            break;
        }
        size_t n = json_object_array_length(items);
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = cb(payload, json_object_array_get_idx(items, i));
        char *nq = (rc == 0 && n) ? next_query(r.body, key) : NULL;
        vmmk__os_reply_clear(&r);
        free(page_path);
        page_path = NULL;
        if (rc || !nq)
            break;
        if (json_object_object_get_ex(seen, nq, NULL)) {
            char *shown = clean_text(nq, 200);
            rc = vmmk__err(VMMK_EREMOTE,
                           "%s: the service's next link (?%s) leads back to a page already "
                           "read, after %d pages; giving up",
                           what, shown ? shown : "", page + 1);
            free(shown);
            free(nq);
            break;
        }
        json_object_object_add(seen, nq, NULL);
        page_path = vmmk__asprintf("%.*s?%s", (int)base_len, path, nq);
        free(nq);
        if (!page_path)
            rc = vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
    }
    free(page_path);
    json_object_put(seen);
    return rc;
}

/* ---- polling ----------------------------------------------------------- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int vmmk__os_poll(unsigned timeout_s, const char *what, vmmk__os_check_cb check, void *payload)
{
    double t0 = mono_s(), delay = 0.25;
    char state[256] = "";
    for (;;) {
        bool done = false;
        int rc = check(payload, &done, state, sizeof state);
        if (rc || done)
            return rc;
        double left = (double)timeout_s - (mono_s() - t0);
        if (left <= 0)
            return vmmk__err(VMMK_ETIMEOUT, "%s: not done after %u s (last state: %s)", what,
                             timeout_s, state[0] ? state : "unknown");
        sleep_s(delay < left ? delay : left);
        delay = delay * 2 > 3.0 ? 3.0 : delay * 2;
    }
}
