/**
 * @file vmmk/copier.h
 * @brief disk_copier: copy a disk from an NBD source (often an nbdkit
 *        process libvmmk starts) to a file, block device or NBD target,
 *        whole or by changed extents, with many requests in flight, hole and
 *        zero skipping, progress, cancel, crash-safe resume and SHA-256.
 *
 * Design and guarantees: docs/disk-copier.md.  The engine never reports
 * success for a partial copy: vmmk_copier_run() returns 0 only when every
 * byte that was asked for is on the destination and flushed.
 */
#ifndef VMMK_COPIER_H
#define VMMK_COPIER_H

#include <vmmk/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ */
/** @name Sources
 * A source is either an NBD URI or an nbdkit command line that libvmmk
 * starts itself (argv, no shell) on a private Unix socket.
 * @{ */

/** A disk source (opaque).  An nbdkit source owns a private 0700
 *  directory (under $TMPDIR or /tmp) with nbdkit's Unix socket, pidfile,
 *  log and secret files; nbdkit runs read-only with --exit-with-parent and
 *  never listens on TCP.  The nbdkit binary is found in PATH, or named by
 *  the environment variable VMMK_NBDKIT.  See docs/disk-copier-sources.md. */
typedef struct vmmk_source vmmk_source;

/** Any NBD URI: nbd://, nbds://, nbd+unix://, nbds+unix://.
 *  @param[out] out  free with vmmk_source_free().
 *  @return 0; VMMK_EINVAL naming the URI for any other scheme;
 *          VMMK_EUNSUPPORTED when libnbd was built without URI support. */
VMMK_EXTERN int vmmk_source_new_uri(vmmk_source **out, const char *uri);

/** A local file or block device, read through nbdkit's file plugin
 *  (read-only); e.g. a VMDK flat file on an NFS-mounted datastore.  A
 *  relative path is made absolute (links are not resolved).
 *  @return 0; VMMK_ENOTFOUND or VMMK_EIO (with errno) when the path cannot
 *          be opened for reading now; VMMK_EINVAL when it is not a regular
 *          file or block device. */
VMMK_EXTERN int vmmk_source_new_file(vmmk_source **out, const char *path);

/** An nbdkit plugin with its parameters, and filters in front of it
 *  (outermost first), e.g. plugin "pattern", params {"size=1G", NULL},
 *  filters {"delay", NULL} with params {"rdelay=1ms", NULL}.  Parameters
 *  are passed as argv elements, never through a shell; secrets must not be
 *  passed here (use the vddk/http builders, which pass them by file).
 *  @return 0; VMMK_EINVAL for an empty plugin, a parameter or filter that
 *          starts with '-' (nbdkit would take it as an option), or
 *          password=, cookie=, proxy-password= with a literal value
 *          instead of "+FILE". */
VMMK_EXTERN int vmmk_source_new_nbdkit(vmmk_source **out, const char *plugin,
                                       const char *const *params, const char *const *filters);

/** VDDK source options; initialise with VMMK_VDDK_OPTIONS_INIT. */
typedef struct vmmk_vddk_options {
    unsigned version;            /**< VMMK_VDDK_OPTIONS_VERSION */
    const char *server;          /**< vCenter or ESXi host name */
    const char *user;
    const char *password;        /**< handed to nbdkit through a 0600 file, never argv */
    const char *thumbprint;      /**< SHA-1 "AA:BB:..." of the server certificate */
    const char *vm_moref;        /**< "vm-42" (passed as vm=moref=vm-42) */
    const char *snapshot_moref;  /**< "snapshot-7", or NULL */
    const char *file;            /**< "[datastore] vm/vm-000001.vmdk" */
    const char *libdir;          /**< VDDK directory (default /usr/lib/vmware-vix-disklib) */
    const char *transports;      /**< e.g. "file:nbdssl:nbd", or NULL for VDDK's default */
    const char *compression;     /**< "none", "zlib", "fastlz", "skipz", or NULL */
    uint32_t max_request;        /**< blocksize filter maxdata; 0 = 2 MiB (virt-v2v's value) */
    bool retry;                  /**< put the retry filter in front (default true) */
} vmmk_vddk_options;
#define VMMK_VDDK_OPTIONS_VERSION 1
#define VMMK_VDDK_OPTIONS_INIT \
    { VMMK_VDDK_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, true }

/** nbdkit's vddk plugin (not in Debian: see docs/disk-copier.md for how a
 *  user supplies VDDK and the plugin), behind the blocksize filter
 *  (minblock=512, maxdata=max_request) and, when asked, the retry filter.
 *  The password goes to a 0600 file in the private directory, removed once
 *  nbdkit has read it, and is registered for redaction.
 *  @return 0; VMMK_EINVAL naming the option that is missing or malformed
 *          ("vddk source: option 'thumbprint': ..."). */
VMMK_EXTERN int vmmk_source_new_vddk(vmmk_source **out, const vmmk_vddk_options *opts);

/** HTTP(S) source options; initialise with VMMK_HTTP_OPTIONS_INIT. */
typedef struct vmmk_http_options {
    unsigned version;            /**< VMMK_HTTP_OPTIONS_VERSION */
    const char *url;             /**< e.g. vSphere's https://host/folder/<path>-flat.vmdk?dcPath=..&dsName=.. */
    const char *cookie;          /**< "vmware_soap_session=\"...\"": by file, never argv */
    const char *cacert;          /**< CA bundle file, or NULL for the system CAs */
    bool insecure;               /**< skip TLS verification (loudly logged) */
    bool retry;                  /**< put the retry filter in front (default true) */
    unsigned timeout;            /**< seconds per request; 0 = curl's default */
} vmmk_http_options;
#define VMMK_HTTP_OPTIONS_VERSION 1
#define VMMK_HTTP_OPTIONS_INIT { VMMK_HTTP_OPTIONS_VERSION, NULL, NULL, NULL, false, true, 0 }

/** nbdkit's curl plugin on one URL, with range reads (the server must
 *  answer HEAD with Content-Length and honour Range).  The cookie goes to a
 *  0600 file like the vddk password; insecure logs a warning.
 *  @return 0; VMMK_EINVAL for a missing or non-http(s) URL or one with
 *          user:password@; VMMK_ENOTFOUND or VMMK_EIO for an unreadable
 *          cacert. */
VMMK_EXTERN int vmmk_source_new_http(vmmk_source **out, const vmmk_http_options *opts);

/** The nbdkit argv the source will run (NULL-terminated; secrets appear
 *  only as "+FILE" references, and those files are gone once nbdkit is
 *  ready), or NULL for a URI source.
 *  @param[out] out  new array; free with vmmk_strv_free(). */
VMMK_EXTERN int vmmk_source_argv(char ***out, const vmmk_source *src);

/** Start the source now (an nbdkit source is otherwise started by the
 *  first copy or checksum) and return the NBD URI it serves.  Starts at
 *  most once: after a failure, later calls return the same error.
 *  Thread-safe.
 *  @param[out] uri  borrowed, valid until vmmk_source_free(); may be NULL.
 *  @return 0; VMMK_EPROCESS when nbdkit exits before it is ready (the
 *          message quotes its last log lines: "nbdkit (vddk) exited with
 *          status 1 before it was ready: ..."); VMMK_ETIMEOUT when it is
 *          not ready within 30 s; VMMK_ENOTFOUND when nbdkit or the VDDK
 *          libdir is missing. */
VMMK_EXTERN int vmmk_source_start(vmmk_source *src, const char **uri);

/** nbdkit's standard error so far (the log), or "" for a URI source.
 *  @param[out] out  new string; free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_source_log(char **out, const vmmk_source *src);

/** Stop an nbdkit source (TERM, then KILL after 5 s), reap it, remove its
 *  private directory and free everything.  NULL is ignored. */
VMMK_EXTERN void vmmk_source_free(vmmk_source *src);

/** Free a NULL-terminated string array returned by libvmmk. */
VMMK_EXTERN void vmmk_strv_free(char **strv);
/** @} */

/* ------------------------------------------------------------------ */
/** @name Extents
 * @{ */

/** A byte range. */
typedef struct vmmk_extent {
    uint64_t offset;
    uint64_t length;
} vmmk_extent;

/** A sorted, non-overlapping list of extents. */
typedef struct vmmk_extent_list {
    vmmk_extent *items;
    size_t n;
} vmmk_extent_list;

/** Parse `[[offset, length], ...]` (the output of `vmmk cbt query`).
 *  Entries are sorted and adjacent ones merged; a negative, empty,
 *  overlapping or non-integer entry is VMMK_EINVAL naming it
 *  ("[3]: overlaps [2] (offset 4096 < 8192)").  When @p disk_size is not 0,
 *  an entry past it is an error too.
 *  @param[out] out  free with vmmk_extent_list_free(). */
VMMK_EXTERN int vmmk_extent_list_from_json(vmmk_extent_list **out, const char *json, size_t len,
                                           uint64_t disk_size);
/** Same, from a file ("-" = stdin); errors are prefixed with it. */
VMMK_EXTERN int vmmk_extent_list_from_file(vmmk_extent_list **out, const char *path,
                                           uint64_t disk_size);
/** Serialise as `[[offset, length], ...]`.
 *  @param[out] out  free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_extent_list_to_json(char **out, const vmmk_extent_list *list);
VMMK_EXTERN void vmmk_extent_list_free(vmmk_extent_list *list);
/** @} */

/* ------------------------------------------------------------------ */
/** @name Copy
 * @{ */

/** Progress, reported at most every progress_interval seconds and once at
 *  the end. */
typedef struct vmmk_copy_progress {
    uint64_t bytes_done;       /**< bytes of the work finished (copied, zeroed or skipped) */
    uint64_t bytes_total;      /**< bytes of the work */
    double rate;               /**< bytes/s over the last few seconds */
    double eta;                /**< seconds left at that rate, or -1 when unknown */
    double elapsed;            /**< seconds since the start */
} vmmk_copy_progress;

/** Progress callback; runs on the thread that called vmmk_copier_run(). */
typedef void (*vmmk_copy_progress_cb)(const vmmk_copy_progress *progress, void *payload);

/** What a copy did. */
typedef struct vmmk_copy_stats {
    uint64_t bytes_read;       /**< data read from the source */
    uint64_t bytes_written;    /**< data written to the destination */
    uint64_t bytes_zeroed;     /**< zeros written, punched or trimmed on the destination */
    uint64_t bytes_skipped;    /**< not touched: already done (resume) or zero on a zeroed destination */
    uint64_t requests;         /**< read requests issued */
    uint64_t retries;          /**< requests retried after an error */
    uint64_t reconnects;       /**< source connections reopened */
    double seconds;            /**< wall time of the run */
    char sha256[65];           /**< hex digest of the whole logical disk, "" when not asked */
} vmmk_copy_stats;

/** Copy options; initialise with VMMK_COPY_OPTIONS_INIT. */
typedef struct vmmk_copy_options {
    unsigned version;            /**< VMMK_COPY_OPTIONS_VERSION */
    unsigned requests;           /**< requests in flight per connection (default 64) */
    uint32_t request_size;       /**< bytes per request (default 256 KiB, max 32 MiB) */
    unsigned connections;        /**< source connections when it allows multi-conn (default 4) */
    bool destination_is_zero;    /**< the caller vouches the destination reads as zeros */
    bool direct_io;              /**< O_DIRECT on a file or block device destination */
    bool checksum;               /**< compute SHA-256 of the whole logical disk */
    uint64_t rate_limit;         /**< bytes per second read from the source, 0 = no cap */
    const char *state_file;      /**< resume journal, or NULL */
    const vmmk_extent_list *extents; /**< copy only these ranges (NULL = whole disk) */
    unsigned retries;            /**< per request, on transient errors (default 5) */
    double progress_interval;    /**< seconds between callbacks (default 1.0, min 0.05) */
    vmmk_copy_progress_cb progress;
    void *progress_payload;
} vmmk_copy_options;
#define VMMK_COPY_OPTIONS_VERSION 1
#define VMMK_COPY_OPTIONS_INIT \
    { VMMK_COPY_OPTIONS_VERSION, 0, 0, 0, false, false, false, 0, NULL, NULL, 0, 0.0, NULL, NULL }

/** A copy in preparation or in progress (opaque). */
typedef struct vmmk_copier vmmk_copier;

/** Prepare a copy from @p src (borrowed: it must outlive the copier) to
 *  @p destination: a path (file or block device; a missing file is
 *  created with the source's size) or an NBD URI.  Options are copied.
 *  @param[out] out  free with vmmk_copier_free(). */
VMMK_EXTERN int vmmk_copier_new(vmmk_copier **out, vmmk_source *src, const char *destination,
                                const vmmk_copy_options *opts);

/** Run the copy to the end.  Returns 0 only when everything asked for is
 *  on the destination and flushed; VMMK_ECANCELED after
 *  vmmk_copier_cancel(); otherwise an error naming the offset, the
 *  operation and the cause ("read at offset 1073741824 (262144 bytes):
 *  Input/output error, after 5 retries").  With a state file, what was
 *  finished before an error, a cancel or a crash is not copied again.
 *  @param stats  filled in on success and on failure (may be NULL). */
VMMK_EXTERN int vmmk_copier_run(vmmk_copier *c, vmmk_copy_stats *stats);

/** Ask a running copy to stop; safe from any thread and from a signal
 *  handler.  vmmk_copier_run() then returns VMMK_ECANCELED. */
VMMK_EXTERN void vmmk_copier_cancel(vmmk_copier *c);

/** Size of the source in bytes (after vmmk_copier_new()). */
VMMK_EXTERN uint64_t vmmk_copier_size(const vmmk_copier *c);

VMMK_EXTERN void vmmk_copier_free(vmmk_copier *c);

/** SHA-256 of a whole disk, zeros included (equal to sha256sum of it):
 *  @p what is an NBD URI or a path.  Holes reported by the source are
 *  hashed without being read.
 *  @param[out] out  65-byte hex string; free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_checksum(char **out, const char *what);

/** The same for a source object (starting it if needed). */
VMMK_EXTERN int vmmk_checksum_source(char **out, vmmk_source *src);
/** @} */

#ifdef __cplusplus
}
#endif
#endif /* VMMK_COPIER_H */
