/* Internal interfaces between the pieces of the disk copier:
 *   source.c   sources: options, nbdkit argv, identity
 *   source_run.c  the nbdkit processes behind them
 *   extents.c  extent lists
 *   state.c    the resume journal
 *   dest.c     destinations (file, block device, NBD)
 *   engine.c   the copy loop
 *   checksum.c SHA-256 of a disk after the fact
 * (process spawning itself is common/spawn.c). */
#ifndef VMMK_COPIER_INT_H
#define VMMK_COPIER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <vmmk/copier.h>

/* ---- source.c ---------------------------------------------------------- */

/* The NBD URI to connect to; starts an nbdkit source on first use.  NULL
 * with the error recorded when it cannot be started.  Borrowed. */
const char *vmmk__source_uri(vmmk_source *src);

/* A stable text that identifies what the source reads, for the resume
 * journal: the URI, or nbdkit's plugin, parameters and filters with
 * secrets and the private socket path left out.  Borrowed. */
const char *vmmk__source_identity(const vmmk_source *src);

/* For an nbdkit source: 1 while the process runs, 0 once it has exited
 * (the exit status is then described in *why, borrowed), -1 for a URI
 * source.  Lets the engine tell "source died" from a dropped connection.
 * *why reads like "killed by signal 9" or "exited with status 1 (log:
 * <nbdkit's last lines>)"; "was not started" before the first start. */
int vmmk__source_alive(vmmk_source *src, const char **why);

/* Connect @p h (created and configured by the caller, e.g. with meta
 * contexts) to the source, starting it if needed.  On failure the error
 * names the source and adds nbdkit's last log lines, which say what
 * went wrong behind it (an HTTP 403 becomes VMMK_EAUTH with
 * http_status 403, another HTTP status VMMK_EHTTP); libnbd's message is
 * the detail.  The handle is left for the caller to close. */
struct nbd_handle;
int vmmk__source_connect(vmmk_source *src, struct nbd_handle *h);

/* For tests: nbdkit's pid while it runs (else -1), the private directory
 * (NULL for a URI source), and a shorter readiness timeout than 30 s. */
pid_t vmmk__source_pid(vmmk_source *src);
const char *vmmk__source_dir(const vmmk_source *src);
void vmmk__source_set_ready_timeout(vmmk_source *src, double seconds);

/* ---- extents.c --------------------------------------------------------- */

/* Sort, reject overlaps and merge adjacent entries in place; errors name
 * the entry by its index in the input order. */
int vmmk__extents_normalize(vmmk_extent_list *list, uint64_t disk_size);

/* ---- state.c ----------------------------------------------------------- */

/* The resume journal: which fixed-size chunks of the disk are finished.
 * A chunk is marked only after the data is on the destination and the
 * destination was flushed; the file is replaced atomically (write a
 * temporary, fsync, rename, fsync the directory). */
typedef struct vmmk__state vmmk__state;

/* Open @p path: load it when it exists and matches the identity (source,
 * destination, size, chunk size and the work asked for), refuse it with
 * VMMK_ECONFLICT naming what differs when it does not, or start a new one
 * when it does not exist.  @p work_id identifies the extents asked for
 * ("whole" or a digest of the extent list). */
int vmmk__state_open(vmmk__state **out, const char *path, const char *source_id,
                     const char *dest_id, uint64_t size, uint64_t chunk_size,
                     const char *work_id);
uint64_t vmmk__state_chunks(const vmmk__state *st);
bool vmmk__state_is_done(const vmmk__state *st, uint64_t chunk);
void vmmk__state_mark_done(vmmk__state *st, uint64_t chunk);
/* Persist the marks made so far (the caller has flushed the destination). */
int vmmk__state_save(vmmk__state *st);
/* Everything is done: remove the journal. */
int vmmk__state_complete(vmmk__state *st);
void vmmk__state_free(vmmk__state *st);

/* ---- checksum.c -------------------------------------------------------- */

/* Hex SHA-256 into out[65] of @p len zero bytes fed to an OpenSSL EVP
 * context (used by the engine and the checksummer for holes). */
struct evp_md_ctx_st;
int vmmk__sha256_zeros(struct evp_md_ctx_st *ctx, uint64_t len);

#endif
