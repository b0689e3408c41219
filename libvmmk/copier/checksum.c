/* SHA-256 of a whole disk, zeros included, so that it equals sha256sum of
 * the same bytes (docs/disk-copier-state.md).  Holes and zero extents are
 * hashed from a static zero buffer instead of being read: the digest still
 * covers every byte, but the disk is not asked for what it already said is
 * zero. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libnbd.h>
#include <linux/fs.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/internal.h"
#include "copier_int.h"

#define ZERO_BUF (1u << 20)

/* Local reads: large enough that a syscall per read costs nothing next to
 * hashing it. */
#define FILE_READ (4u << 20)

/* NBD: reads of up to NBD_READ bytes (less when the server says so), with
 * NBD_QUEUE of them in flight so that the server works while we hash.
 * Block status is asked for NBD_BS_SPAN bytes at a time, one request in
 * flight, started while less than that is known ahead of the reads. */
#define NBD_READ (8u << 20)
#define NBD_QUEUE 8
#define NBD_BS_SPAN (UINT64_C(128) << 20)

/* Zero bytes to hash for holes.  Written by nobody: it is not const only to
 * stay in .bss instead of taking 1 MiB of the library file. */
static unsigned char zeros[ZERO_BUF];

int vmmk__sha256_zeros(struct evp_md_ctx_st *ctx, uint64_t len)
{
    if (!ctx)
        return vmmk__err(VMMK_EINVAL, "vmmk__sha256_zeros: no digest context");
    while (len > 0) {
        size_t n = len < ZERO_BUF ? (size_t)len : ZERO_BUF;
        if (EVP_DigestUpdate(ctx, zeros, n) != 1)
            return vmmk__err(VMMK_EIO, "SHA-256 update failed");
        len -= n;
    }
    return 0;
}

static int update(EVP_MD_CTX *ctx, const void *data, size_t len)
{
    if (EVP_DigestUpdate(ctx, data, len) != 1)
        return vmmk__err(VMMK_EIO, "SHA-256 update failed");
    return 0;
}

/* ---- files and block devices ------------------------------------------- */

static int read_range(EVP_MD_CTX *ctx, int fd, const char *what, unsigned char *buf,
                      uint64_t pos, uint64_t end)
{
    while (pos < end) {
        size_t want = end - pos < FILE_READ ? (size_t)(end - pos) : FILE_READ;
        ssize_t n = pread(fd, buf, want, (off_t)pos);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "%s: read at offset %" PRIu64 ": %s",
                                  what, pos, strerror(e));
        }
        if (n == 0)
            return vmmk__err(VMMK_EIO, "%s: read at offset %" PRIu64 ": end of file (it shrank "
                             "while being read)", what, pos);
        int rc = update(ctx, buf, (size_t)n);
        if (rc)
            return rc;
        pos += (uint64_t)n;
    }
    return 0;
}

/* Where the data at or after @p pos starts (@p size when only a hole is
 * left); *seekable is cleared when the file system cannot tell. */
static int next_data(uint64_t *out, int fd, const char *what, uint64_t pos, uint64_t size,
                     bool *seekable)
{
    *out = pos;
    if (!*seekable)
        return 0;
    off_t d = lseek(fd, (off_t)pos, SEEK_DATA);
    if (d < 0) {
        if (errno == ENXIO) {          /* nothing but a hole up to the end */
            *out = size;
            return 0;
        }
        if (errno == EINVAL || errno == EOPNOTSUPP) {
            *seekable = false;
            return 0;
        }
        int e = errno;
        return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e,
                              "%s: finding data at offset %" PRIu64 ": %s", what, pos,
                              strerror(e));
    }
    *out = (uint64_t)d < size ? (uint64_t)d : size;
    return 0;
}

static uint64_t next_hole(int fd, uint64_t pos, uint64_t size, bool seekable)
{
    if (!seekable)
        return size;
    off_t h = lseek(fd, (off_t)pos, SEEK_HOLE);
    /* On an error read the rest: slower, never wrong. */
    return h < 0 || (uint64_t)h > size ? size : (uint64_t)h;
}

static int sum_path(EVP_MD_CTX *ctx, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return vmmk__err_full(e == ENOENT ? VMMK_ENOTFOUND : VMMK_EIO, NULL, NULL, 0, e,
                              "%s: cannot open: %s", path, strerror(e));
    }
    int rc = 0;
    unsigned char *buf = NULL;
    struct stat st;
    uint64_t size;
    bool regular = false;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "%s: cannot stat: %s", path, strerror(e));
        goto out;
    }
    if (S_ISREG(st.st_mode)) {
        regular = true;
        size = (uint64_t)st.st_size;
    } else if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &size) != 0) {
            int e = errno;
            rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "%s: cannot get the device size: %s",
                                path, strerror(e));
            goto out;
        }
    } else if (S_ISDIR(st.st_mode)) {
        rc = vmmk__err_full(VMMK_EINVAL, NULL, NULL, 0, EISDIR,
                            "%s: is a directory, not a disk image or block device", path);
        goto out;
    } else {
        rc = vmmk__err(VMMK_EINVAL, "%s: not a regular file or block device", path);
        goto out;
    }
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    if (size > 0 && !(buf = malloc(FILE_READ))) {
        rc = vmmk__err(VMMK_ENOMEM, "%s: out of memory", path);
        goto out;
    }
    /* Block devices are read whole: SEEK_DATA means nothing there. */
    bool seekable = regular;
    for (uint64_t pos = 0; pos < size;) {
        uint64_t data, hole;
        if ((rc = next_data(&data, fd, path, pos, size, &seekable)) ||
            (rc = vmmk__sha256_zeros(ctx, data - pos)))
            goto out;
        if (data >= size)
            break;
        hole = next_hole(fd, data, size, seekable);
        if (hole <= data)            /* raced with a write: read a little */
            hole = data + 1;
        if ((rc = read_range(ctx, fd, path, buf, data, hole)))
            goto out;
        pos = hole;
    }
out:
    free(buf);
    close(fd);
    return rc;
}

/* ---- NBD --------------------------------------------------------------- */

/* A stretch of the export: to read, or known to be zero. */
typedef struct seg {
    uint64_t offset, length;
    bool zero;
} seg;

typedef struct slot {
    seg s;
    int64_t cookie;            /* of the read, when !s.zero */
    unsigned char *buf;
} slot;

typedef struct nbd_sum {
    struct nbd_handle *h;
    const char *what;
    uint64_t size;
    size_t read_size;
    bool use_bs;

    /* What block status said, not yet turned into slots: segs[head..n). */
    seg *segs;
    size_t head, n, cap;
    uint64_t known_end;        /* block status known up to here */
    int64_t bs_cookie;         /* the request in flight, or 0 */
    uint64_t bs_offset, bs_end;
    bool bs_nomem;

    /* Requests in the order they will be hashed. */
    slot ring[NBD_QUEUE];
    size_t r_head, r_count;
    uint64_t issue_pos;        /* next byte to put into a slot */
} nbd_sum;

static int nbd_fail(const nbd_sum *s, const char *op, uint64_t offset)
{
    int e = nbd_get_errno();
    const char *msg = nbd_get_error();
    return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "%s: %s at offset %" PRIu64 ": %s", s->what,
                          op, offset, msg ? msg : e ? strerror(e) : "unknown error");
}

static int push_seg(nbd_sum *s, uint64_t offset, uint64_t length, bool zero)
{
    if (s->n > s->head && s->segs[s->n - 1].zero == zero &&
        s->segs[s->n - 1].offset + s->segs[s->n - 1].length == offset) {
        s->segs[s->n - 1].length += length;
        return 0;
    }
    if (s->head > 0 && s->head == s->n)
        s->head = s->n = 0;
    if (s->n == s->cap) {
        if (s->head > 0) {     /* reuse the consumed front */
            memmove(s->segs, s->segs + s->head, (s->n - s->head) * sizeof *s->segs);
            s->n -= s->head;
            s->head = 0;
        } else {
            size_t cap = s->cap ? s->cap * 2 : 64;
            seg *p = realloc(s->segs, cap * sizeof *p);
            if (!p)
                return -1;
            s->segs = p;
            s->cap = cap;
        }
    }
    s->segs[s->n++] = (seg){ offset, length, zero };
    return 0;
}

static int extent_cb(void *user_data, const char *metacontext, uint64_t offset, uint32_t *entries,
                     size_t nr_entries, int *error)
{
    nbd_sum *s = user_data;
    if (strcmp(metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0)
        return 0;
    /* Servers may describe less than was asked (the next request goes on
     * from there) or more (clipped: that part is asked for again). */
    uint64_t pos = offset;
    for (size_t i = 0; i + 1 < nr_entries && pos < s->bs_end; i += 2) {
        uint64_t end = pos + entries[i];
        if (end > s->bs_end)
            end = s->bs_end;
        if (end > s->known_end && pos <= s->known_end) {
            if (push_seg(s, s->known_end, end - s->known_end,
                         (entries[i + 1] & LIBNBD_STATE_ZERO) != 0)) {
                s->bs_nomem = true;
                *error = ENOMEM;
                return -1;
            }
            s->known_end = end;
        }
        pos = end;
    }
    return 0;
}

static int start_block_status(nbd_sum *s)
{
    s->bs_offset = s->known_end;
    s->bs_end = s->size - s->known_end < NBD_BS_SPAN ? s->size : s->known_end + NBD_BS_SPAN;
    nbd_extent_callback cb = { .callback = extent_cb, .user_data = s, .free = NULL };
    s->bs_cookie = nbd_aio_block_status(s->h, s->bs_end - s->bs_offset, s->bs_offset, cb,
                                        NBD_NULL_COMPLETION, 0);
    if (s->bs_cookie < 0) {
        s->bs_cookie = 0;
        return nbd_fail(s, "block status", s->bs_offset);
    }
    return 0;
}

/* Turn what is known into requests until the queue is full. */
static int issue(nbd_sum *s)
{
    while (s->r_count < NBD_QUEUE && s->issue_pos < s->size) {
        seg next;
        if (s->use_bs) {
            if (s->head == s->n)
                break;
            seg *g = &s->segs[s->head];
            next = *g;
            if (!g->zero && g->length > s->read_size)
                next.length = s->read_size;
            g->offset += next.length;
            g->length -= next.length;
            if (g->length == 0)
                s->head++;
        } else {
            uint64_t left = s->size - s->issue_pos;
            next = (seg){ s->issue_pos, left < s->read_size ? left : s->read_size, false };
        }
        slot *sl = &s->ring[(s->r_head + s->r_count) % NBD_QUEUE];
        sl->s = next;
        sl->cookie = 0;
        if (!next.zero) {
            sl->cookie = nbd_aio_pread(s->h, sl->buf, (size_t)next.length, next.offset,
                                       NBD_NULL_COMPLETION, 0);
            if (sl->cookie < 0)
                return nbd_fail(s, "read", next.offset);
        }
        s->r_count++;
        s->issue_pos = next.offset + next.length;
    }
    return 0;
}

static int sum_nbd_loop(EVP_MD_CTX *ctx, nbd_sum *s)
{
    uint64_t hashed = 0;
    int rc;
    while (hashed < s->size) {
        if (s->use_bs && s->bs_cookie == 0 && s->known_end < s->size &&
            s->known_end - s->issue_pos < NBD_BS_SPAN && (rc = start_block_status(s)))
            return rc;
        if ((rc = issue(s)))
            return rc;

        if (s->bs_cookie) {
            int r = nbd_aio_command_completed(s->h, (uint64_t)s->bs_cookie);
            if (r < 0) {
                if (s->bs_nomem)
                    return vmmk__err(VMMK_ENOMEM, "%s: out of memory for block status", s->what);
                return nbd_fail(s, "block status", s->bs_offset);
            }
            if (r > 0) {
                s->bs_cookie = 0;
                if (s->known_end <= s->bs_offset)
                    return vmmk__err(VMMK_EREMOTE, "%s: block status at offset %" PRIu64
                                     ": the server described nothing", s->what, s->bs_offset);
                continue;      /* issue from what it said before polling */
            }
        }

        /* Hash strictly in offset order: only the oldest slot counts. */
        bool progress = false;
        while (s->r_count > 0) {
            slot *sl = &s->ring[s->r_head];
            if (sl->s.zero) {
                rc = vmmk__sha256_zeros(ctx, sl->s.length);
            } else {
                int r = nbd_aio_command_completed(s->h, (uint64_t)sl->cookie);
                if (r == 0)
                    break;
                rc = r < 0 ? nbd_fail(s, "read", sl->s.offset)
                           : update(ctx, sl->buf, (size_t)sl->s.length);
            }
            if (rc)
                return rc;
            hashed += sl->s.length;
            s->r_head = (s->r_head + 1) % NBD_QUEUE;
            s->r_count--;
            progress = true;
        }
        if (progress || hashed >= s->size)
            continue;
        if (nbd_aio_in_flight(s->h) <= 0)
            return vmmk__err(VMMK_EIO, "%s: internal error: waiting with nothing in flight at "
                             "offset %" PRIu64, s->what, hashed);
        if (nbd_poll(s->h, -1) < 0)
            return nbd_fail(s, "waiting for the server", hashed);
    }
    return 0;
}

static int sum_nbd(EVP_MD_CTX *ctx, const char *uri)
{
    nbd_sum s = { .what = uri };
    int rc = 0;
    s.h = nbd_create();
    if (!s.h)
        return vmmk__err(VMMK_ENOMEM, "%s: cannot create an NBD handle: %s", uri, nbd_get_error());
    if (nbd_add_meta_context(s.h, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0 ||
        nbd_connect_uri(s.h, uri) != 0) {
        rc = vmmk__err_full(VMMK_ENETWORK, NULL, NULL, 0, nbd_get_errno(), "%s: cannot connect: %s",
                            uri, nbd_get_error());
        goto out;
    }
    int64_t size = nbd_get_size(s.h);
    if (size < 0) {
        rc = vmmk__err(VMMK_EREMOTE, "%s: cannot get the size: %s", uri, nbd_get_error());
        goto out;
    }
    s.size = (uint64_t)size;
    s.use_bs = nbd_can_meta_context(s.h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
    s.read_size = NBD_READ;
    int64_t max = nbd_get_block_size(s.h, LIBNBD_SIZE_MAXIMUM);
    if (max > 0 && (uint64_t)max < s.read_size)
        s.read_size = (size_t)max;
    for (size_t i = 0; i < NBD_QUEUE && s.size > 0; i++)
        if (!(s.ring[i].buf = malloc(s.read_size))) {
            rc = vmmk__err(VMMK_ENOMEM, "%s: out of memory", uri);
            goto out;
        }
    rc = sum_nbd_loop(ctx, &s);
out:
    /* Close first: reads still in flight write into the buffers. */
    nbd_close(s.h);
    for (size_t i = 0; i < NBD_QUEUE; i++)
        free(s.ring[i].buf);
    free(s.segs);
    return rc;
}

/* ---- public ------------------------------------------------------------ */

static bool is_nbd_uri(const char *what)
{
    return strncmp(what, "nbd", 3) == 0 && strstr(what, "://") != NULL;
}

int vmmk_checksum(char **out, const char *what)
{
    if (!out || !what)
        return vmmk__err(VMMK_EINVAL, "vmmk_checksum: %s is NULL", out ? "what" : "out");
    *out = NULL;
    if (!*what)
        return vmmk__err(VMMK_EINVAL, "vmmk_checksum: nothing to read (empty path)");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    int rc;
    if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        rc = vmmk__err(VMMK_EUNSUPPORTED, "SHA-256 is not available from OpenSSL");
        goto out;
    }
    if ((rc = is_nbd_uri(what) ? sum_nbd(ctx, what) : sum_path(ctx, what)))
        goto out;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32) {
        rc = vmmk__err(VMMK_EIO, "%s: SHA-256 final step failed", what);
        goto out;
    }
    char *hex = malloc(65);
    if (!hex) {
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        goto out;
    }
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    *out = hex;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}

int vmmk_checksum_source(char **out, vmmk_source *src)
{
    if (!out || !src)
        return vmmk__err(VMMK_EINVAL, "vmmk_checksum_source: %s is NULL", out ? "src" : "out");
    *out = NULL;
    const char *uri = vmmk__source_uri(src);
    if (!uri) {
        int code = vmmk_error_last()->code;
        return code ? code : vmmk__err(VMMK_EPROCESS, "the source could not be started");
    }
    return vmmk_checksum(out, uri);
}
