/* The copy engine's shared state (engine.c runs the copy, worker.c moves
 * the data, hasher.c computes the digest in offset order). */
#ifndef VMMK_ENGINE_INT_H
#define VMMK_ENGINE_INT_H

#include <openssl/evp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "copier_int.h"
#include "dest.h"

/* Resume granularity and the unit of work handed to a worker. */
#define VMMK__CHUNK (32u << 20)
/* Bound on the data buffers of one copy, whatever the disk size. */
#define VMMK__BUFFER_BUDGET (32u << 20)

typedef struct vmmk__hasher vmmk__hasher;
typedef struct vmmk__worker vmmk__worker;

struct vmmk_copier {
    vmmk_source *src;
    char *src_uri;               /* from vmmk__source_uri, borrowed copy */
    vmmk__dest *dest;
    vmmk_copy_options o;         /* copied; o.extents points at `work` or NULL */
    vmmk_extent_list work;       /* what to copy, sorted; whole disk = one extent */
    bool whole;                  /* no extent list given */
    uint64_t size;
    uint64_t work_bytes;
    uint32_t request_size;
    unsigned nworkers;
    unsigned slots_per_worker;
    bool block_status;           /* the source answers base:allocation */
    uint64_t nchunks;

    atomic_bool cancel;
    atomic_bool stop;            /* cancel or a fatal error: workers wind down */

    pthread_mutex_t lock;        /* guards everything below */
    pthread_cond_t cond;         /* workers' progress: flush acks, exits, free slots */
    uint64_t next_chunk;
    vmmk__state *state;
    uint64_t *durable;           /* chunks written and flushed, not yet journalled */
    size_t n_durable, cap_durable;
    unsigned flush_gen;          /* bumped by the main thread to ask for a flush */
    unsigned workers_running;
    int err_code;                /* first fatal error */
    char *err_msg;
    char *err_detail;
    int err_errno;

    /* Statistics, updated with atomics. */
    _Atomic uint64_t bytes_read, bytes_written, bytes_zeroed, bytes_skipped;
    _Atomic uint64_t requests, retries, reconnects;
    _Atomic uint64_t bytes_done;

    /* Rate limit: a token bucket in bytes. */
    pthread_mutex_t rate_lock;
    double tokens;
    double rate_last;            /* monotonic seconds of the last refill */

    vmmk__hasher *hasher;
    vmmk__worker **workers;
};

/* ---- engine.c ---- */
double vmmk__now(void);
/* pthread_cond_timedwait for at most @p seconds (the mutex is held). */
void vmmk__cond_wait_for(pthread_cond_t *cond, pthread_mutex_t *lock, double seconds);
/* Record the first fatal error (from any thread) and stop the copy. */
void vmmk__copier_fail(vmmk_copier *c, int code, const char *detail, int sys_errno,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Take the calling thread's last error as the copy's fatal error. */
void vmmk__copier_fail_last(vmmk_copier *c);
/* Microseconds to wait before @p len bytes may be read (0 = go: taken). */
long vmmk__rate_take(vmmk_copier *c, uint64_t len);

/* ---- worker.c ---- */
int vmmk__worker_new(vmmk__worker **out, vmmk_copier *c, unsigned id);
void *vmmk__worker_main(void *worker);
void vmmk__worker_free(vmmk__worker *w);
/* Under the copier lock: the flush generation the worker last answered,
 * and whether it has finished. */
unsigned vmmk__worker_flush_seen(const vmmk__worker *w);
bool vmmk__worker_exited(const vmmk__worker *w);

/* ---- hasher.c ---- */
int vmmk__hasher_new(vmmk__hasher **out, vmmk_copier *c);
/* Hand a segment over for hashing.  @p buf NULL means zeros.  When @p
 * release is not NULL, *release is set to false (under the copier lock, with
 * a broadcast) once the buffer has been hashed. */
int vmmk__hasher_put(vmmk__hasher *h, uint64_t off, uint64_t len, const void *buf, bool *release);
/* Wait for the digest of [0, size); hex into out[65].  Fails if the copy
 * stopped before every byte was hashed. */
int vmmk__hasher_finish(vmmk__hasher *h, char out[65]);
void vmmk__hasher_free(vmmk__hasher *h);

#endif
