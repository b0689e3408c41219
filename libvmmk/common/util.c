/* Strings, buffers and file reading. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *vmmk__strdup(const char *s)
{
    return s ? strdup(s) : NULL;
}

char *vmmk__vasprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *vmmk__asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vmmk__vasprintf(fmt, ap);
    va_end(ap);
    return s;
}

void vmmk__buf_append(vmmk__buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void vmmk__buf_puts(vmmk__buf *b, const char *s)
{
    vmmk__buf_append(b, s, strlen(s));
}

void vmmk__buf_printf(vmmk__buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vmmk__vasprintf(fmt, ap);
    va_end(ap);
    if (!s) {
        b->failed = 1;
        return;
    }
    vmmk__buf_puts(b, s);
    free(s);
}

char *vmmk__buf_take(vmmk__buf *b)
{
    char *d = NULL;
    if (!b->failed)
        d = b->data ? b->data : strdup("");
    else
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
    return d;
}

void vmmk__buf_free(vmmk__buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}

void vmmk_string_free(char *s)
{
    free(s);
}

int vmmk__read_file(char **out, size_t *out_len, const char *path)
{
    if (!out || !path)
        return vmmk__err(VMMK_EINVAL, "read file: no path given");
    *out = NULL;
    int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    const char *shown = strcmp(path, "-") == 0 ? "<stdin>" : path;
    if (fd < 0) {
        int e = errno;
        return vmmk__err_full(e == ENOENT ? VMMK_ENOTFOUND : VMMK_EIO, NULL, NULL, 0, e,
                              "%s: cannot open: %s", shown, strerror(e));
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (fd != STDIN_FILENO)
            close(fd);
        return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, EISDIR, "%s: is a directory", shown);
    }
    vmmk__buf b = { 0 };
    char chunk[65536];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            if (fd != STDIN_FILENO)
                close(fd);
            vmmk__buf_free(&b);
            return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "%s: read failed: %s", shown,
                                  strerror(e));
        }
        if (n == 0)
            break;
        if (b.len + (size_t)n > VMMK_MAX_DOCUMENT) {
            if (fd != STDIN_FILENO)
                close(fd);
            vmmk__buf_free(&b);
            return vmmk__err(VMMK_EINVAL, "%s: larger than the %u MiB limit for a document",
                             shown, VMMK_MAX_DOCUMENT >> 20);
        }
        vmmk__buf_append(&b, chunk, (size_t)n);
    }
    if (fd != STDIN_FILENO)
        close(fd);
    size_t len = b.len;
    char *data = vmmk__buf_take(&b);
    if (!data)
        return vmmk__err(VMMK_ENOMEM, "%s: out of memory reading the file", shown);
    *out = data;
    if (out_len)
        *out_len = len;
    return 0;
}

int vmmk__parse_file(const char *path, int (*parse)(void *ctx, const char *text, size_t len),
                     void *ctx)
{
    char *text;
    size_t len;
    int rc = vmmk__read_file(&text, &len, path);
    if (rc)
        return rc;
    rc = parse(ctx, text, len);
    free(text);
    if (rc)
        vmmk__err_prefix("%s", strcmp(path, "-") == 0 ? "<stdin>" : path);
    return rc;
}
