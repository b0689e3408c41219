/* Thread-local last error. */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

typedef struct err_state {
    vmmk_error pub;
    char *message;
    char *fault;
    char *detail;
} err_state;

static _Thread_local err_state tls_err = { { VMMK_OK, "", NULL, NULL, 0, 0 }, NULL, NULL, NULL };

static void reset(err_state *e)
{
    free(e->message);
    free(e->fault);
    free(e->detail);
    memset(e, 0, sizeof *e);
    e->pub.message = "";
}

/* A thread-specific key whose destructor frees a thread's last error when
 * the thread exits, so worker threads do not leak their messages. */
static pthread_key_t err_key;
static pthread_once_t err_once = PTHREAD_ONCE_INIT;

static void err_destroy(void *p)
{
    reset(p);
}

static void err_key_create(void)
{
    (void)pthread_key_create(&err_key, err_destroy);
}

static void register_thread(err_state *e)
{
    pthread_once(&err_once, err_key_create);
    if (pthread_getspecific(err_key) != e)
        (void)pthread_setspecific(err_key, e);
}

const char *vmmk_version(void)
{
    return VMMK_VERSION_STRING;
}

const char *vmmk_strerror(int code)
{
    switch (code) {
    case VMMK_OK: return "success";
    case VMMK_EINVAL: return "invalid argument";
    case VMMK_ENOMEM: return "out of memory";
    case VMMK_EIO: return "input/output error";
    case VMMK_ENOTFOUND: return "not found";
    case VMMK_EPARSE: return "malformed document";
    case VMMK_ENOFIT: return "no flavor fits";
    case VMMK_EUNMAPPED: return "network not mapped";
    case VMMK_EAUTH: return "authentication failed";
    case VMMK_ETLS: return "TLS verification failed";
    case VMMK_EHTTP: return "HTTP error";
    case VMMK_EREMOTE: return "remote fault";
    case VMMK_ETIMEOUT: return "timed out";
    case VMMK_ECANCELED: return "cancelled";
    case VMMK_EEXISTS: return "already exists";
    case VMMK_EUNSUPPORTED: return "not supported";
    case VMMK_ESTATE: return "wrong state";
    case VMMK_EPROCESS: return "child process failed";
    case VMMK_ECONFLICT: return "conflict";
    case VMMK_ENETWORK: return "network error";
    case VMMK_EQUOTA: return "quota exceeded";
    default: return "unknown error";
    }
}

const vmmk_error *vmmk_error_last(void)
{
    if (!tls_err.pub.message)
        tls_err.pub.message = "";
    return &tls_err.pub;
}

void vmmk_error_clear(void)
{
    reset(&tls_err);
}

VMMK_PRINTF(6, 0)
static int record(int code, const char *fault, const char *detail, int http_status,
                  int sys_errno, const char *fmt, va_list ap)
{
    err_state *e = &tls_err;
    register_thread(e);
    char *raw = vmmk__vasprintf(fmt, ap);
    char *msg = raw ? vmmk__redact_dup(raw) : NULL;
    free(raw);
    reset(e);
    e->pub.code = code;
    /* On allocation failure keep a static message rather than none. */
    e->message = msg;
    e->pub.message = msg ? msg : vmmk_strerror(code);
    if (fault) {
        e->fault = vmmk__redact_dup(fault);
        e->pub.fault = e->fault;
    }
    if (detail) {
        e->detail = vmmk__redact_dup(detail);
        e->pub.detail = e->detail;
    }
    e->pub.http_status = http_status;
    e->pub.sys_errno = sys_errno;
    return code;
}

int vmmk__err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(code, NULL, NULL, 0, 0, fmt, ap);
    va_end(ap);
    return code;
}

int vmmk__err_full(int code, const char *fault, const char *detail, int http_status,
                   int sys_errno, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    record(code, fault, detail, http_status, sys_errno, fmt, ap);
    va_end(ap);
    return code;
}

int vmmk__err_prefix(const char *fmt, ...)
{
    err_state *e = &tls_err;
    va_list ap;
    va_start(ap, fmt);
    char *prefix = vmmk__vasprintf(fmt, ap);
    va_end(ap);
    if (!prefix)
        return e->pub.code;
    char *joined = vmmk__asprintf("%s: %s", prefix, e->pub.message ? e->pub.message : "");
    free(prefix);
    if (joined) {
        char *red = vmmk__redact_dup(joined);
        free(joined);
        if (red) {
            free(e->message);
            e->message = red;
            e->pub.message = red;
        }
    }
    return e->pub.code;
}
