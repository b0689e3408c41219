/* Destinations of a copy: a file or block device (shared descriptor,
 * pwrite from any worker) or an NBD export (one handle per worker). */
#ifndef VMMK_DEST_H
#define VMMK_DEST_H

#include <stdbool.h>
#include <stdint.h>

struct nbd_handle;

typedef struct vmmk__dest vmmk__dest;

/* Open @p spec (a path or an NBD URI) for a copy of @p src_size bytes.
 * A missing regular file is created with that size; an existing file,
 * device or export smaller than it is an error, as is a read-only one. */
int vmmk__dest_open(vmmk__dest **out, const char *spec, uint64_t src_size, bool direct_io);

/* A stable identity for the resume journal (path with device and inode,
 * or the URI).  Borrowed. */
const char *vmmk__dest_identity(const vmmk__dest *d);
/* How many workers may write at once (1 for an NBD export without
 * multi-conn, unlimited otherwise). */
unsigned vmmk__dest_max_writers(const vmmk__dest *d);
/* True when the destination was created by this open: it reads as zeros,
 * so zero ranges need no writes. */
bool vmmk__dest_created(const vmmk__dest *d);

/* Per-worker writer: for NBD its own connection; for files a thin wrapper. */
typedef struct vmmk__writer vmmk__writer;
int vmmk__writer_open(vmmk__writer **out, vmmk__dest *d);
int vmmk__writer_write(vmmk__writer *w, const void *buf, uint64_t len, uint64_t off);
/* Make [off, off+len) read as zeros: punch or zero-range on files, zero
 * ranges on devices, NBD write-zeroes; falls back to writing zeros. */
int vmmk__writer_zero(vmmk__writer *w, uint64_t len, uint64_t off);
/* Make everything this writer wrote durable. */
int vmmk__writer_flush(vmmk__writer *w);
void vmmk__writer_close(vmmk__writer *w);

void vmmk__dest_close(vmmk__dest *d);

#endif
