/* Logging: a level, a sink with payload, and redaction of every line. */
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static int log_level = VMMK_LOG_WARN;
static vmmk_log_cb log_cb;
static void *log_payload;

const char *vmmk_log_level_name(int level)
{
    switch (level) {
    case VMMK_LOG_ERROR: return "error";
    case VMMK_LOG_WARN: return "warn";
    case VMMK_LOG_INFO: return "info";
    case VMMK_LOG_DEBUG: return "debug";
    case VMMK_LOG_TRACE: return "trace";
    default: return "?";
    }
}

void vmmk_log_set_level(int level)
{
    if (level < VMMK_LOG_ERROR)
        level = VMMK_LOG_ERROR;
    if (level > VMMK_LOG_TRACE)
        level = VMMK_LOG_TRACE;
    pthread_mutex_lock(&log_lock);
    log_level = level;
    pthread_mutex_unlock(&log_lock);
}

int vmmk_log_get_level(void)
{
    pthread_mutex_lock(&log_lock);
    int l = log_level;
    pthread_mutex_unlock(&log_lock);
    return l;
}

void vmmk_log_set_callback(vmmk_log_cb cb, void *payload)
{
    pthread_mutex_lock(&log_lock);
    log_cb = cb;
    log_payload = payload;
    pthread_mutex_unlock(&log_lock);
}

int vmmk__log_enabled(int level)
{
    return level <= vmmk_log_get_level();
}

void vmmk__log(int level, const char *fmt, ...)
{
    if (!vmmk__log_enabled(level))
        return;
    va_list ap;
    va_start(ap, fmt);
    char *raw = vmmk__vasprintf(fmt, ap);
    va_end(ap);
    if (!raw)
        return;
    char *msg = vmmk__redact_dup(raw);
    free(raw);
    if (!msg)
        return;
    pthread_mutex_lock(&log_lock);
    vmmk_log_cb cb = log_cb;
    void *payload = log_payload;
    pthread_mutex_unlock(&log_lock);
    if (cb)
        cb(level, msg, payload);
    else
        fprintf(stderr, "vmmk: %s: %s\n", vmmk_log_level_name(level), msg);
    free(msg);
}
