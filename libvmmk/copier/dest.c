/* Destinations: files, block devices and NBD exports. */
#include "dest.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libnbd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/internal.h"

#define ALIGN 4096
#define ZERO_CHUNK (1u << 20)

struct vmmk__dest {
    char *spec;
    char *identity;
    bool is_nbd;
    bool is_block;
    bool direct;
    bool created;
    int fd;                    /* file/device: the shared descriptor */
    int fd_buffered;           /* the same without O_DIRECT, for unaligned tails */
    bool punch_ok;             /* cleared after the first EOPNOTSUPP */
    bool zero_range_ok;
    uint64_t size;             /* destination size */
    unsigned max_writers;
};

/* Writes in the page cache of a file destination, oldest first. */
#define EVICT_WINDOWS 8

struct vmmk__writer {
    vmmk__dest *d;
    struct nbd_handle *nbd;    /* NBD: this worker's connection */
    bool can_zero, can_flush;
    struct { uint64_t off, len; } window[EVICT_WINDOWS];
};

static bool is_nbd_uri(const char *s)
{
    return strncmp(s, "nbd", 3) == 0 && strstr(s, "://") != NULL;
}

static int nbd_err(const char *what, const char *spec, uint64_t off, uint64_t len)
{
    int e = nbd_get_errno();
    if (len)
        return vmmk__err_full(VMMK_EIO, NULL, nbd_get_error(), 0, e,
                              "destination %s: %s at offset %" PRIu64 " (%" PRIu64 " bytes): %s",
                              spec, what, off, len, nbd_get_error() ? nbd_get_error() : "unknown error");
    return vmmk__err_full(VMMK_EIO, NULL, nbd_get_error(), 0, e, "destination %s: %s: %s", spec,
                          what, nbd_get_error() ? nbd_get_error() : "unknown error");
}

static int nbd_connect_dest(struct nbd_handle **out, const char *uri)
{
    struct nbd_handle *h = nbd_create();
    if (!h)
        return vmmk__err(VMMK_ENOMEM, "destination %s: %s", uri, nbd_get_error());
    if (nbd_connect_uri(h, uri) == -1) {
        int rc = vmmk__err_full(VMMK_ENETWORK, NULL, nbd_get_error(), 0, nbd_get_errno(),
                                "destination %s: cannot connect: %s", uri, nbd_get_error());
        nbd_close(h);
        return rc;
    }
    *out = h;
    return 0;
}

static int open_nbd(vmmk__dest *d, uint64_t src_size)
{
    struct nbd_handle *h;
    int rc = nbd_connect_dest(&h, d->spec);
    if (rc)
        return rc;
    int64_t size = nbd_get_size(h);
    if (size < 0)
        rc = nbd_err("cannot get size", d->spec, 0, 0);
    else if (nbd_is_read_only(h) == 1)
        rc = vmmk__err(VMMK_EINVAL, "destination %s: the export is read-only", d->spec);
    else if ((uint64_t)size < src_size)
        rc = vmmk__err(VMMK_EINVAL,
                       "destination %s is smaller than the source: %" PRId64 " bytes < %" PRIu64,
                       d->spec, size, src_size);
    if (!rc) {
        d->size = (uint64_t)size;
        d->max_writers = nbd_can_multi_conn(h) == 1 ? 0 : 1;
        d->identity = vmmk__asprintf("nbd:%s", d->spec);
        if (!d->identity)
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    nbd_shutdown(h, 0);
    nbd_close(h);
    return rc;
}

static int open_path(vmmk__dest *d, uint64_t src_size)
{
    int flags = O_WRONLY | O_CLOEXEC;
    struct stat st;
    bool created = false;
    if (stat(d->spec, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return vmmk__err_full(VMMK_EINVAL, NULL, NULL, 0, EISDIR, "destination %s: is a directory",
                                  d->spec);
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
            return vmmk__err(VMMK_EINVAL, "destination %s: not a regular file or block device", d->spec);
    } else if (errno == ENOENT) {
        flags |= O_CREAT | O_EXCL;
        created = true;
    } else {
        int e = errno;
        return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "destination %s: %s", d->spec, strerror(e));
    }
    d->fd = open(d->spec, flags, 0644);
    if (d->fd < 0) {
        int e = errno;
        return vmmk__err_full(e == EACCES || e == EROFS || e == EPERM ? VMMK_EINVAL : VMMK_EIO, NULL,
                              NULL, 0, e, "destination %s: cannot open for writing: %s", d->spec,
                              strerror(e));
    }
    if (fstat(d->fd, &st) != 0) {
        int e = errno;
        return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "destination %s: %s", d->spec, strerror(e));
    }
    d->is_block = S_ISBLK(st.st_mode);
    d->created = created;
    if (created && ftruncate(d->fd, (off_t)src_size) != 0) {
        int e = errno;
        unlink(d->spec);
        return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "destination %s: cannot size it to %" PRIu64 " bytes: %s",
                              d->spec, src_size, strerror(e));
    }
    if (d->is_block) {
        uint64_t bytes = 0;
        if (ioctl(d->fd, BLKGETSIZE64, &bytes) != 0) {
            int e = errno;
            return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "destination %s: cannot get the device size: %s",
                                  d->spec, strerror(e));
        }
        d->size = bytes;
        d->identity = vmmk__asprintf("block:%s:%lu", d->spec, (unsigned long)st.st_rdev);
    } else {
        d->size = created ? src_size : (uint64_t)st.st_size;
        d->identity = vmmk__asprintf("file:%s:%lu:%lu", d->spec, (unsigned long)st.st_dev,
                                     (unsigned long)st.st_ino);
    }
    if (!d->identity)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    if (d->size < src_size)
        return vmmk__err(VMMK_EINVAL,
                         "destination %s is smaller than the source: %" PRIu64 " bytes < %" PRIu64,
                         d->spec, d->size, src_size);
    d->fd_buffered = d->fd;
    if (d->direct) {
        /* A second descriptor with O_DIRECT; the buffered one stays for
         * writes that are not block aligned (a disk's unaligned tail). */
        int dfd = open(d->spec, O_WRONLY | O_CLOEXEC | O_DIRECT);
        if (dfd < 0) {
            int e = errno;
            return vmmk__err_full(VMMK_EINVAL, NULL, NULL, 0, e, "destination %s: O_DIRECT: %s",
                                  d->spec, strerror(e));
        }
        d->fd = dfd;
    }
    d->punch_ok = !d->is_block;
    d->zero_range_ok = true;
    d->max_writers = 0;
    return 0;
}

int vmmk__dest_open(vmmk__dest **out, const char *spec, uint64_t src_size, bool direct_io)
{
    *out = NULL;
    if (!spec || !*spec)
        return vmmk__err(VMMK_EINVAL, "no destination given");
    vmmk__dest *d = calloc(1, sizeof *d);
    if (!d || !(d->spec = strdup(spec))) {
        free(d);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    d->fd = d->fd_buffered = -1;
    d->direct = direct_io;
    d->is_nbd = is_nbd_uri(spec);
    int rc = d->is_nbd ? open_nbd(d, src_size) : open_path(d, src_size);
    if (rc) {
        vmmk__dest_close(d);
        return rc;
    }
    *out = d;
    return 0;
}

const char *vmmk__dest_identity(const vmmk__dest *d)
{
    return d->identity;
}

bool vmmk__dest_created(const vmmk__dest *d)
{
    return d->created;
}

unsigned vmmk__dest_max_writers(const vmmk__dest *d)
{
    return d->max_writers;
}

void vmmk__dest_close(vmmk__dest *d)
{
    if (!d)
        return;
    if (d->fd >= 0 && d->fd != d->fd_buffered)
        close(d->fd);
    if (d->fd_buffered >= 0)
        close(d->fd_buffered);
    free(d->spec);
    free(d->identity);
    free(d);
}

int vmmk__writer_open(vmmk__writer **out, vmmk__dest *d)
{
    *out = NULL;
    vmmk__writer *w = calloc(1, sizeof *w);
    if (!w)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    w->d = d;
    if (d->is_nbd) {
        int rc = nbd_connect_dest(&w->nbd, d->spec);
        if (rc) {
            free(w);
            return rc;
        }
        w->can_zero = nbd_can_zero(w->nbd) == 1;
        w->can_flush = nbd_can_flush(w->nbd) == 1;
    }
    *out = w;
    return 0;
}

void vmmk__writer_close(vmmk__writer *w)
{
    if (!w)
        return;
    if (w->nbd) {
        nbd_shutdown(w->nbd, 0);
        nbd_close(w->nbd);
    }
    free(w);
}

static bool aligned(const vmmk__dest *d, const void *buf, uint64_t len, uint64_t off)
{
    return ((uintptr_t)buf % ALIGN) == 0 && len % 512 == 0 && off % 512 == 0 && d->fd != d->fd_buffered;
}

static int pwrite_all(vmmk__dest *d, int fd, const char *buf, uint64_t len, uint64_t off)
{
    uint64_t start = off, total = len;
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, (off_t)off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            return vmmk__err_full(e == ENOSPC ? VMMK_EIO : VMMK_EIO, NULL, NULL, 0, e,
                                  "destination %s: write at offset %" PRIu64 " (%" PRIu64 " bytes): %s",
                                  d->spec, start, total, strerror(e));
        }
        buf += n;
        len -= (uint64_t)n;
        off += (uint64_t)n;
    }
    return 0;
}

/* Keep a copy from filling the page cache with dirty pages: the kernel
 * would throttle every writer once the dirty limit is hit, and the cache
 * would push out everything else on the conversion host.  Start writeback
 * of each write at once, and drop a write from the cache a few writes
 * later, when its writeback has had time to finish (the same approach as
 * nbdcopy's file backend). */
static void evict(vmmk__writer *w, uint64_t off, uint64_t len)
{
    int fd = w->d->fd_buffered;
    if (w->window[0].len) {
        sync_file_range(fd, (off_t)w->window[0].off, (off_t)w->window[0].len,
                        SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
        posix_fadvise(fd, (off_t)w->window[0].off, (off_t)w->window[0].len, POSIX_FADV_DONTNEED);
    }
    memmove(&w->window[0], &w->window[1], sizeof w->window[0] * (EVICT_WINDOWS - 1));
    sync_file_range(fd, (off_t)off, (off_t)len, SYNC_FILE_RANGE_WRITE);
    w->window[EVICT_WINDOWS - 1].off = off;
    w->window[EVICT_WINDOWS - 1].len = len;
}

int vmmk__writer_write(vmmk__writer *w, const void *buf, uint64_t len, uint64_t off)
{
    vmmk__dest *d = w->d;
    if (off + len > d->size)
        return vmmk__err(VMMK_EINVAL, "destination %s: write at %" PRIu64 " past its end %" PRIu64,
                         d->spec, off + len, d->size);
    if (w->nbd) {
        if (nbd_pwrite(w->nbd, buf, len, off, 0) == -1)
            return nbd_err("write", d->spec, off, len);
        return 0;
    }
    bool direct = aligned(d, buf, len, off);
    int rc = pwrite_all(d, direct ? d->fd : d->fd_buffered, buf, len, off);
    if (!rc && !direct && !d->is_block)
        evict(w, off, len);
    return rc;
}

static int write_zeros(vmmk__writer *w, uint64_t len, uint64_t off)
{
    static char *zeros;
    if (!zeros) {
        /* Aligned so the O_DIRECT descriptor can take it; leaked once on
         * purpose: shared by every writer for the process lifetime. */
        void *p = NULL;
        if (posix_memalign(&p, ALIGN, ZERO_CHUNK))
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        memset(p, 0, ZERO_CHUNK);
        char *expected = NULL;
        if (!__atomic_compare_exchange_n(&zeros, &expected, (char *)p, false, __ATOMIC_ACQ_REL,
                                         __ATOMIC_ACQUIRE))
            free(p);
    }
    while (len > 0) {
        uint64_t n = len < ZERO_CHUNK ? len : ZERO_CHUNK;
        int rc = vmmk__writer_write(w, zeros, n, off);
        if (rc)
            return rc;
        len -= n;
        off += n;
    }
    return 0;
}

int vmmk__writer_zero(vmmk__writer *w, uint64_t len, uint64_t off)
{
    vmmk__dest *d = w->d;
    if (len == 0)
        return 0;
    if (off + len > d->size)
        return vmmk__err(VMMK_EINVAL, "destination %s: zero at %" PRIu64 " past its end %" PRIu64,
                         d->spec, off + len, d->size);
    if (w->nbd) {
        if (w->can_zero) {
            while (len > 0) {
                /* NBD requests carry a 32-bit length. */
                uint64_t n = len > (1u << 30) ? (1u << 30) : len;
                if (nbd_zero(w->nbd, n, off, 0) == -1)
                    return nbd_err("write zeroes", d->spec, off, n);
                len -= n;
                off += n;
            }
            return 0;
        }
        return write_zeros(w, len, off);
    }
    /* Files: a hole reads as zeros and costs nothing.  Devices: ZERO_RANGE,
     * which the kernel only grants when the device really reads back zeros
     * (never a plain discard), then BLKZEROOUT. */
    if (__atomic_load_n(&d->punch_ok, __ATOMIC_RELAXED)) {
        if (fallocate(d->fd_buffered, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
            return 0;
        if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)
            __atomic_store_n(&d->punch_ok, false, __ATOMIC_RELAXED);
    }
    if (__atomic_load_n(&d->zero_range_ok, __ATOMIC_RELAXED)) {
        if (fallocate(d->fd_buffered, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
            return 0;
        if (errno == EOPNOTSUPP || errno == ENOSYS || errno == EINVAL)
            __atomic_store_n(&d->zero_range_ok, false, __ATOMIC_RELAXED);
    }
    if (d->is_block) {
        uint64_t range[2] = { off, len };
        if (ioctl(d->fd_buffered, BLKZEROOUT, range) == 0)
            return 0;
    }
    return write_zeros(w, len, off);
}

int vmmk__writer_flush(vmmk__writer *w)
{
    vmmk__dest *d = w->d;
    if (w->nbd) {
        if (w->can_flush && nbd_flush(w->nbd, 0) == -1)
            return nbd_err("flush", d->spec, 0, 0);
        return 0;
    }
    if (fdatasync(d->fd_buffered) != 0 || (d->fd != d->fd_buffered && fdatasync(d->fd) != 0)) {
        int e = errno;
        return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "destination %s: flush: %s", d->spec, strerror(e));
    }
    return 0;
}
