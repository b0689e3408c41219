/* Internal plumbing shared by every part of libvmmk: error recording,
 * logging, strings and file reading.  Nothing here is exported. */
#ifndef VMMK_INTERNAL_H
#define VMMK_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <vmmk/common.h>

#define VMMK_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Record an error on this thread and return @p code, so that callers can
 * write `return vmmk__err(VMMK_EINVAL, "...")`.  The message is redacted. */
int vmmk__err(int code, const char *fmt, ...) VMMK_PRINTF(2, 3);

/* The same with the remote/system detail that vmmk_error carries.  Any of
 * fault, detail may be NULL; http_status, sys_errno may be 0. */
int vmmk__err_full(int code, const char *fault, const char *detail, int http_status,
                   int sys_errno, const char *fmt, ...) VMMK_PRINTF(6, 7);

/* Put "<context>: " in front of the current error message (e.g. a file
 * path) and return the current code. */
int vmmk__err_prefix(const char *fmt, ...) VMMK_PRINTF(1, 2);

/* Log at @p level through the configured sink, redacted. */
void vmmk__log(int level, const char *fmt, ...) VMMK_PRINTF(2, 3);
int vmmk__log_enabled(int level);

/* Redact into a new malloc'd string; NULL on allocation failure. */
char *vmmk__redact_dup(const char *text);

/* malloc'd copies; vmmk__strdup(NULL) is NULL. */
char *vmmk__strdup(const char *s);
char *vmmk__asprintf(const char *fmt, ...) VMMK_PRINTF(1, 2);
char *vmmk__vasprintf(const char *fmt, va_list ap) VMMK_PRINTF(1, 0);

/* A growable string buffer. */
typedef struct vmmk__buf {
    char *data;
    size_t len, cap;
    int failed;                /* an allocation failed: data is unusable */
} vmmk__buf;
void vmmk__buf_append(vmmk__buf *b, const char *s, size_t n);
void vmmk__buf_puts(vmmk__buf *b, const char *s);
void vmmk__buf_printf(vmmk__buf *b, const char *fmt, ...) VMMK_PRINTF(2, 3);
/* Hand over the NUL-terminated contents (NULL after a failure); the buffer
 * is reset. */
char *vmmk__buf_take(vmmk__buf *b);
void vmmk__buf_free(vmmk__buf *b);

/* Largest document the readers accept: a bound against hostile input. */
#define VMMK_MAX_DOCUMENT (64u * 1024u * 1024u)

/* Read a whole file ("-" = stdin) into a NUL-terminated buffer.
 * Errors name the path and the errno text. */
int vmmk__read_file(char **out, size_t *out_len, const char *path);

/* The body every *_from_file shares: read @p path ("-" = stdin), give the
 * text to @p parse (with @p ctx, normally the caller's out pointer) and put
 * the path in front of any error it records. */
int vmmk__parse_file(const char *path, int (*parse)(void *ctx, const char *text, size_t len),
                     void *ctx);

/* Length of a (size_t)-1 "NUL-terminated" argument. */
static inline size_t vmmk__len(const char *s, size_t len)
{
    return len == (size_t)-1 ? strlen(s) : len;
}

#endif
