/* Redaction of secrets from log lines and error messages.
 *
 * Two layers: the exact values of registered secrets (passwords, tokens
 * and cookies the library handles), and the well-known places a secret
 * travels (auth headers, session cookies, password fields, URL userinfo),
 * so that a secret nobody registered is still caught there. */
#include "internal.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MASK "***"

static pthread_mutex_t secret_lock = PTHREAD_MUTEX_INITIALIZER;
static char **secrets;
static size_t n_secrets;

int vmmk_secret_register(const char *secret)
{
    if (!secret || strlen(secret) < 4)
        return 0;
    int rc = 0;
    pthread_mutex_lock(&secret_lock);
    for (size_t i = 0; i < n_secrets; i++)
        if (strcmp(secrets[i], secret) == 0)
            goto out;
    char **n = realloc(secrets, (n_secrets + 1) * sizeof *n);
    char *copy = strdup(secret);
    if (!n || !copy) {
        if (n)
            secrets = n;
        free(copy);
        rc = VMMK_ENOMEM;
        goto out;
    }
    secrets = n;
    /* Keep longest first so a secret that contains another is masked whole. */
    size_t pos = n_secrets;
    while (pos > 0 && strlen(secrets[pos - 1]) < strlen(copy)) {
        secrets[pos] = secrets[pos - 1];
        pos--;
    }
    secrets[pos] = copy;
    n_secrets++;
out:
    pthread_mutex_unlock(&secret_lock);
    return rc;
}

void vmmk_secret_unregister(const char *secret)
{
    if (!secret)
        return;
    pthread_mutex_lock(&secret_lock);
    for (size_t i = 0; i < n_secrets; i++) {
        if (strcmp(secrets[i], secret) == 0) {
            free(secrets[i]);
            memmove(&secrets[i], &secrets[i + 1], (n_secrets - i - 1) * sizeof *secrets);
            n_secrets--;
            break;
        }
    }
    pthread_mutex_unlock(&secret_lock);
}

/* Replace s[start, end) by MASK; returns the new string (s is freed) or
 * NULL on allocation failure.  *next gets the index just after the mask. */
static char *splice(char *s, size_t start, size_t end, size_t *next)
{
    size_t len = strlen(s), ml = strlen(MASK);
    char *r = malloc(len - (end - start) + ml + 1);
    if (!r) {
        free(s);
        return NULL;
    }
    memcpy(r, s, start);
    memcpy(r + start, MASK, ml);
    memcpy(r + start + ml, s + end, len - end + 1);
    free(s);
    *next = start + ml;
    return r;
}

static char *mask_registered(char *s)
{
    pthread_mutex_lock(&secret_lock);
    for (size_t i = 0; s && i < n_secrets; i++) {
        size_t from = 0, sl = strlen(secrets[i]);
        char *hit;
        while (s && (hit = strstr(s + from, secrets[i])) != NULL) {
            size_t start = (size_t)(hit - s);
            s = splice(s, start, start + sl, &from);
        }
    }
    pthread_mutex_unlock(&secret_lock);
    return s;
}

static const char *strcasestr_n(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

/* "Header: value" up to the end of the line. */
static char *mask_header(char *s, const char *name)
{
    size_t from = 0;
    const char *hit;
    while (s && (hit = strcasestr_n(s + from, name)) != NULL) {
        size_t start = (size_t)(hit - s) + strlen(name);
        while (s[start] == ' ' || s[start] == '\t')
            start++;
        size_t end = start;
        while (s[end] && s[end] != '\r' && s[end] != '\n')
            end++;
        if (end == start || strncmp(s + start, MASK, strlen(MASK)) == 0) {
            from = end;
            continue;
        }
        s = splice(s, start, end, &from);
    }
    return s;
}

/* key=value, key="value" (cookies, nbdkit and query parameters). */
static char *mask_assignment(char *s, const char *key)
{
    size_t from = 0;
    const char *hit;
    while (s && (hit = strcasestr_n(s + from, key)) != NULL) {
        size_t start = (size_t)(hit - s) + strlen(key);
        size_t end;
        if (s[start] == '"') {
            start++;
            end = start;
            while (s[end] && s[end] != '"')
                end++;
        } else {
            end = start;
            while (s[end] && !strchr(" \t\r\n;&,\"'<>", s[end]))
                end++;
        }
        if (end == start || strncmp(s + start, MASK, strlen(MASK)) == 0) {
            from = end;
            continue;
        }
        s = splice(s, start, end, &from);
    }
    return s;
}

static int secret_member_name(const char *name, size_t n)
{
    char low[64];
    if (n == 0 || n >= sizeof low)
        return 0;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    low[n] = '\0';
    return strstr(low, "password") || strstr(low, "secret") || strcmp(low, "token") == 0 ||
           strcmp(low, "passwd") == 0 || strcmp(low, "cookie") == 0;
}

/* JSON and YAML-in-JSON style "name": "value" where name looks secret. */
static char *mask_json_members(char *s)
{
    size_t i = 0;
    while (s && s[i]) {
        if (s[i] != '"') {
            i++;
            continue;
        }
        size_t ks = i + 1, ke = ks;
        while (s[ke] && s[ke] != '"')
            ke++;
        if (!s[ke])
            break;
        size_t j = ke + 1;
        while (s[j] == ' ' || s[j] == '\t')
            j++;
        if (s[j] == ':' && secret_member_name(s + ks, ke - ks)) {
            j++;
            while (s[j] == ' ' || s[j] == '\t')
                j++;
            if (s[j] == '"') {
                size_t vs = j + 1, ve = vs;
                while (s[ve] && s[ve] != '"') {
                    if (s[ve] == '\\' && s[ve + 1])
                        ve++;
                    ve++;
                }
                if (ve > vs && strncmp(s + vs, MASK, strlen(MASK)) != 0) {
                    s = splice(s, vs, ve, &i);
                    continue;
                }
                i = ve;
                continue;
            }
        }
        i = ke + 1;
    }
    return s;
}

/* <password>value</password>, with or without a namespace prefix. */
static char *mask_xml_password(char *s)
{
    size_t i = 0;
    while (s && s[i]) {
        if (s[i] != '<' || s[i + 1] == '/') {
            i++;
            continue;
        }
        size_t ns = i + 1, ne = ns;
        while (s[ne] && (isalnum((unsigned char)s[ne]) || s[ne] == ':' || s[ne] == '_' ||
                         s[ne] == '-'))
            ne++;
        const char *local = s + ns;
        for (size_t k = ns; k < ne; k++)
            if (s[k] == ':')
                local = s + k + 1;
        if (s[ne] == '>' && (size_t)(s + ne - local) == 8 && strncasecmp(local, "password", 8) == 0) {
            size_t vs = ne + 1, ve = vs;
            while (s[ve] && s[ve] != '<')
                ve++;
            if (ve > vs && strncmp(s + vs, MASK, strlen(MASK)) != 0) {
                s = splice(s, vs, ve, &i);
                continue;
            }
            i = ve;
            continue;
        }
        i = ne > i ? ne : i + 1;
    }
    return s;
}

/* scheme://user:password@host */
static char *mask_userinfo(char *s)
{
    size_t from = 0;
    const char *hit;
    while (s && (hit = strstr(s + from, "://")) != NULL) {
        size_t us = (size_t)(hit - s) + 3, e = us, colon = 0;
        while (s[e] && !strchr("/@ \t\r\n\"'", s[e])) {
            if (s[e] == ':' && !colon)
                colon = e;
            e++;
        }
        if (s[e] == '@' && colon && colon + 1 < e && strncmp(s + colon + 1, MASK, strlen(MASK)) != 0) {
            s = splice(s, colon + 1, e, &from);
            continue;
        }
        from = e > us ? e : us;
    }
    return s;
}

char *vmmk__redact_dup(const char *text)
{
    static const char *const headers[] = { "authorization:", "x-auth-token:", "x-subject-token:",
                                           "cookie:", "x-vmmk-secret:" };
    static const char *const assigns[] = { "vmware_soap_session=", "password=", "passwd=",
                                           "token=", "secret=" };
    char *s = strdup(text ? text : "");
    s = mask_registered(s);
    for (size_t i = 0; s && i < sizeof headers / sizeof *headers; i++)
        s = mask_header(s, headers[i]);
    for (size_t i = 0; s && i < sizeof assigns / sizeof *assigns; i++)
        s = mask_assignment(s, assigns[i]);
    if (s)
        s = mask_json_members(s);
    if (s)
        s = mask_xml_password(s);
    if (s)
        s = mask_userinfo(s);
    return s;
}

int vmmk_redact(char **out, const char *text)
{
    if (!out || !text) {
        if (out)
            *out = NULL;
        return vmmk__err(VMMK_EINVAL, "vmmk_redact: %s is NULL", out ? "text" : "out");
    }
    *out = vmmk__redact_dup(text);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "vmmk_redact: out of memory");
}
