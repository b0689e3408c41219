/* A copy worker: one source connection (and one destination writer), many
 * reads in flight, chunks taken in offset order from the shared counter.
 *
 * Per chunk it asks the source which parts are holes (base:allocation),
 * turns holes into zero writes (or nothing on a zeroed destination), splits
 * data into requests, and writes each completed read -- as zeros when the
 * buffer is all zero.  A chunk is durable once its writes are flushed; the
 * engine journals it then. */
#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/internal.h"
#include "engine_int.h"

enum { SLOT_FREE, SLOT_INFLIGHT, SLOT_DONE };

typedef struct slot {
    char *buf;
    int state;
    int err;                   /* errno of a failed read */
    uint64_t off, len;
    bool copy;                 /* write it (else it is read only to be hashed) */
    uint64_t chunk;
    unsigned tries;
    bool hashing;              /* the hasher still holds buf */
} slot;

typedef struct seg {
    uint64_t off, len;
    bool zero;                 /* a hole: no read */
    bool copy;
} seg;

typedef struct chunk_rec {
    uint64_t index;
    unsigned pending;          /* copy segments issued and not finished */
    bool all_issued;
    bool used;
} chunk_rec;

struct vmmk__worker {
    vmmk_copier *c;
    unsigned id;
    struct nbd_handle *nbd;
    vmmk__writer *writer;
    slot *slots;
    unsigned nslots;
    unsigned inflight;
    /* segments of the chunk being issued */
    seg *segs;
    size_t nsegs, capsegs, next_seg;
    uint64_t cur_chunk;
    bool have_chunk;
    bool no_more_chunks;
    chunk_rec recs[8];
    uint64_t *unflushed;
    size_t n_unflushed, cap_unflushed;
    unsigned flush_seen;
    bool exited;
};

/* ---- source connection ---------------------------------------------------- */

static int src_connect(vmmk__worker *w)
{
    vmmk_copier *c = w->c;
    struct nbd_handle *h = nbd_create();
    if (!h)
        return vmmk__err(VMMK_ENOMEM, "source: %s", nbd_get_error());
    if (c->block_status)
        nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION);
    if (nbd_connect_uri(h, c->src_uri) == -1) {
        int rc = vmmk__err_full(VMMK_ENETWORK, NULL, nbd_get_error(), 0, nbd_get_errno(),
                                "source %s: cannot connect: %s", vmmk__source_identity(c->src),
                                nbd_get_error());
        nbd_close(h);
        return rc;
    }
    w->nbd = h;
    return 0;
}

/* The connection died: tell a dead nbdkit from a dropped connection, and
 * reopen the latter (with backoff) so the copy goes on. */
static int src_reconnect(vmmk__worker *w, uint64_t at)
{
    vmmk_copier *c = w->c;
    const char *why = NULL;
    if (vmmk__source_alive(c->src, &why) == 0)
        return vmmk__err(VMMK_EIO, "source %s: nbdkit %s; copy stopped at offset %" PRIu64,
                         vmmk__source_identity(c->src), why ? why : "exited", at);
    if (w->nbd) {
        nbd_close(w->nbd);
        w->nbd = NULL;
    }
    int rc = 0;
    for (unsigned attempt = 0; attempt < 5 && !atomic_load(&c->stop); attempt++) {
        if (attempt)
            usleep((useconds_t)(200000u << attempt));
        if ((rc = src_connect(w)) == 0) {
            atomic_fetch_add(&c->reconnects, 1);
            vmmk__log(VMMK_LOG_WARN, "source connection %u reopened at offset %" PRIu64, w->id, at);
            return 0;
        }
        if (vmmk__source_alive(c->src, &why) == 0)
            break;
    }
    if (rc == 0)
        return vmmk__err(VMMK_ECANCELED, "copy stopped");
    if (vmmk__source_alive(c->src, &why) == 0)
        return vmmk__err(VMMK_EIO, "source %s: nbdkit %s; copy stopped at offset %" PRIu64,
                         vmmk__source_identity(c->src), why ? why : "exited", at);
    return vmmk__err_prefix("connection lost at offset %" PRIu64 " and not reopened", at);
}

/* ---- chunks and segments ---------------------------------------------------- */

static int add_seg(vmmk__worker *w, uint64_t off, uint64_t len, bool zero, bool copy)
{
    if (len == 0)
        return 0;
    if (w->nsegs > 0) {
        seg *last = &w->segs[w->nsegs - 1];
        if (last->zero && zero && last->copy == copy && last->off + last->len == off) {
            last->len += len;
            return 0;
        }
    }
    if (w->nsegs == w->capsegs) {
        size_t cap = w->capsegs ? w->capsegs * 2 : 64;
        seg *p = realloc(w->segs, cap * sizeof *p);
        if (!p)
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        w->segs = p;
        w->capsegs = cap;
    }
    w->segs[w->nsegs++] = (seg){ off, len, zero, copy };
    return 0;
}

typedef struct bs_ctx {
    vmmk__worker *w;
    uint64_t end;              /* of the piece asked about */
    bool copy;
    uint64_t covered;          /* offset up to which extents were added */
    int rc;
} bs_ctx;

static int on_extents(void *user, const char *context, uint64_t offset, uint32_t *entries,
                      size_t n, int *error)
{
    bs_ctx *b = user;
    if (strcmp(context, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0 || b->rc)
        return 0;
    uint64_t off = offset;
    for (size_t i = 0; i + 1 < n && off < b->end; i += 2) {
        uint64_t len = entries[i];
        if (off + len > b->end)
            len = b->end - off;
        bool zero = (entries[i + 1] & LIBNBD_STATE_ZERO) != 0;
        if ((b->rc = add_seg(b->w, off, len, zero, b->copy)))
            return 0;
        off += len;
    }
    b->covered = off;
    return 0;
}

/* Add [off, off+len) as segments, asking the source for holes. */
static int add_piece(vmmk__worker *w, uint64_t off, uint64_t len, bool copy)
{
    vmmk_copier *c = w->c;
    uint64_t end = off + len;
    while (c->block_status && off < end && !atomic_load(&c->stop)) {
        bs_ctx b = { w, end, copy, off, 0 };
        nbd_extent_callback cb = { .callback = on_extents, .user_data = &b };
        if (nbd_block_status(w->nbd, end - off, off, cb, 0) == -1) {
            /* Allocation is only an optimisation: read everything left. */
            vmmk__log(VMMK_LOG_DEBUG, "block status at %" PRIu64 " failed (%s); reading the data",
                      off, nbd_get_error());
            if (nbd_aio_is_dead(w->nbd) || nbd_aio_is_closed(w->nbd)) {
                int rc = src_reconnect(w, off);
                if (rc)
                    return rc;
                continue;
            }
            break;
        }
        if (b.rc)
            return b.rc;
        if (b.covered <= off)
            break;             /* no progress: treat the rest as data */
        off = b.covered;
    }
    return add_seg(w, off, end - off, false, copy);
}

static chunk_rec *rec_of(vmmk__worker *w, uint64_t index)
{
    for (size_t i = 0; i < sizeof w->recs / sizeof *w->recs; i++)
        if (w->recs[i].used && w->recs[i].index == index)
            return &w->recs[i];
    return NULL;
}

static int note_unflushed(vmmk__worker *w, uint64_t chunk)
{
    if (w->n_unflushed == w->cap_unflushed) {
        size_t cap = w->cap_unflushed ? w->cap_unflushed * 2 : 32;
        uint64_t *p = realloc(w->unflushed, cap * sizeof *p);
        if (!p)
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        w->unflushed = p;
        w->cap_unflushed = cap;
    }
    w->unflushed[w->n_unflushed++] = chunk;
    return 0;
}

static int maybe_chunk_done(vmmk__worker *w, chunk_rec *r)
{
    if (!r->all_issued || r->pending)
        return 0;
    r->used = false;
    return note_unflushed(w, r->index);
}

/* Take the next chunk with work for this worker and build its segments.
 * Returns 0 with have_chunk false when there is nothing left. */
static int next_chunk(vmmk__worker *w)
{
    vmmk_copier *c = w->c;
    w->have_chunk = false;
    w->nsegs = w->next_seg = 0;
    /* A free record: at most a few chunks are open per worker; wait for
     * completions when all are busy. */
    chunk_rec *r = NULL;
    for (size_t i = 0; i < sizeof w->recs / sizeof *w->recs && !r; i++)
        if (!w->recs[i].used)
            r = &w->recs[i];
    if (!r)
        return 0;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        uint64_t idx = c->next_chunk < c->nchunks ? c->next_chunk++ : UINT64_MAX;
        bool done = idx != UINT64_MAX && c->state && vmmk__state_is_done(c->state, idx);
        pthread_mutex_unlock(&c->lock);
        if (idx == UINT64_MAX) {
            w->no_more_chunks = true;
            return 0;
        }
        uint64_t cs = idx * (uint64_t)VMMK__CHUNK;
        uint64_t ce = cs + VMMK__CHUNK < c->size ? cs + VMMK__CHUNK : c->size;
        bool hash = c->hasher != NULL;
        uint64_t pos = cs;
        int rc = 0;
        /* Work ranges inside the chunk, in order; with a checksum the gaps
         * are read too (hash only), so the digest covers the whole disk. */
        size_t lo = 0, hi = c->work.n;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (c->work.items[mid].offset + c->work.items[mid].length <= cs)
                lo = mid + 1;
            else
                hi = mid;
        }
        uint64_t copy_bytes = 0;
        for (size_t i = lo; i < c->work.n && c->work.items[i].offset < ce && !rc; i++) {
            uint64_t s = c->work.items[i].offset > cs ? c->work.items[i].offset : cs;
            uint64_t e = c->work.items[i].offset + c->work.items[i].length;
            if (e > ce)
                e = ce;
            if (s >= e)
                continue;
            if (hash && s > pos)
                rc = add_piece(w, pos, s - pos, false);
            copy_bytes += e - s;
            if (!rc && (!done || hash))
                rc = add_piece(w, s, e - s, !done);
            pos = e;
        }
        if (!rc && hash && pos < ce)
            rc = add_piece(w, pos, ce - pos, false);
        if (rc)
            return rc;
        if (done && copy_bytes) {
            atomic_fetch_add(&c->bytes_skipped, copy_bytes);
            atomic_fetch_add(&c->bytes_done, copy_bytes);
        }
        if (w->nsegs == 0)
            continue;
        *r = (chunk_rec){ idx, 0, false, true };
        w->cur_chunk = idx;
        w->have_chunk = true;
        return 0;
    }
}

/* ---- data path ------------------------------------------------------------ */

static bool all_zero(const char *buf, uint64_t len)
{
    /* Compare the buffer with itself shifted: one memcmp after a short
     * check, as fast as memcmp against a zero page without needing one. */
    if (len < 16) {
        for (uint64_t i = 0; i < len; i++)
            if (buf[i])
                return false;
        return true;
    }
    for (int i = 0; i < 16; i++)
        if (buf[i])
            return false;
    return memcmp(buf, buf + 16, len - 16) == 0;
}

/* Finish a copy segment's destination side: zeros or data. */
static int write_out(vmmk__worker *w, const char *buf, uint64_t off, uint64_t len, bool zero)
{
    vmmk_copier *c = w->c;
    int rc = 0;
    if (zero) {
        if (c->o.destination_is_zero) {
            atomic_fetch_add(&c->bytes_skipped, len);
        } else {
            rc = vmmk__writer_zero(w->writer, len, off);
            if (!rc)
                atomic_fetch_add(&c->bytes_zeroed, len);
        }
    } else {
        rc = vmmk__writer_write(w->writer, buf, len, off);
        if (!rc)
            atomic_fetch_add(&c->bytes_written, len);
    }
    if (!rc)
        atomic_fetch_add(&c->bytes_done, len);
    return rc;
}

static int on_read(void *user, int *error)
{
    slot *s = user;
    s->err = *error;
    s->state = SLOT_DONE;
    return 1;
}

static int issue(vmmk__worker *w, slot *s)
{
    nbd_completion_callback cb = { .callback = on_read, .user_data = s };
    s->state = SLOT_INFLIGHT;
    s->err = 0;
    if (nbd_aio_pread(w->nbd, s->buf, s->len, s->off, cb, 0) == -1) {
        s->state = SLOT_DONE;
        s->err = nbd_get_errno() ? nbd_get_errno() : EIO;
        return 0;              /* handled like a failed read */
    }
    w->inflight++;
    atomic_fetch_add(&w->c->requests, 1);
    return 0;
}

static slot *free_slot(vmmk__worker *w)
{
    vmmk_copier *c = w->c;
    slot *found = NULL;
    pthread_mutex_lock(&c->lock);
    for (unsigned i = 0; i < w->nslots && !found; i++)
        if (w->slots[i].state == SLOT_FREE && !w->slots[i].hashing)
            found = &w->slots[i];
    pthread_mutex_unlock(&c->lock);
    return found;
}

/* Issue as many requests as slots, the rate limit and the segments allow.
 * *wait_us gets how long the rate limit wants us to wait. */
static int fill(vmmk__worker *w, long *wait_us)
{
    vmmk_copier *c = w->c;
    *wait_us = 0;
    while (!atomic_load(&c->stop)) {
        if (!w->have_chunk || w->next_seg >= w->nsegs) {
            if (w->have_chunk) {
                chunk_rec *r = rec_of(w, w->cur_chunk);
                if (r) {
                    r->all_issued = true;
                    int rc = maybe_chunk_done(w, r);
                    if (rc)
                        return rc;
                }
                w->have_chunk = false;
            }
            if (w->no_more_chunks)
                return 0;
            int rc = next_chunk(w);
            if (rc)
                return rc;
            if (!w->have_chunk)
                return 0;
        }
        seg *g = &w->segs[w->next_seg];
        chunk_rec *r = rec_of(w, w->cur_chunk);
        if (g->zero) {
            int rc = 0;
            if (g->copy)
                rc = write_out(w, NULL, g->off, g->len, true);
            if (!rc && c->hasher)
                rc = vmmk__hasher_put(c->hasher, g->off, g->len, NULL, NULL);
            if (rc)
                return rc;
            w->next_seg++;
            continue;
        }
        slot *s = free_slot(w);
        if (!s)
            return 0;
        uint64_t len = g->len < c->request_size ? g->len : c->request_size;
        long us = c->o.rate_limit ? vmmk__rate_take(c, len) : 0;
        if (us > 0) {
            *wait_us = us;
            return 0;
        }
        s->off = g->off;
        s->len = len;
        s->copy = g->copy;
        s->chunk = w->cur_chunk;
        s->tries = 0;
        g->off += len;
        g->len -= len;
        if (g->len == 0)
            w->next_seg++;
        if (s->copy && r)
            r->pending++;
        issue(w, s);
    }
    return 0;
}

/* A finished read: retry it, or write and hash it. */
static int complete(vmmk__worker *w, slot *s)
{
    vmmk_copier *c = w->c;
    if (s->err) {
        if (nbd_aio_is_dead(w->nbd) || nbd_aio_is_closed(w->nbd))
            return 1;          /* the caller reconnects and reissues */
        if (s->tries < c->o.retries) {
            s->tries++;
            atomic_fetch_add(&c->retries, 1);
            vmmk__log(VMMK_LOG_INFO, "read at offset %" PRIu64 " failed (%s); retry %u of %u",
                      s->off, strerror(s->err), s->tries, c->o.retries);
            unsigned ms = 50u << (s->tries < 6 ? s->tries : 6);
            usleep(ms * 1000u);
            return issue(w, s);
        }
        return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, s->err,
                              "source %s: read at offset %" PRIu64 " (%" PRIu64 " bytes): %s, after %u retries",
                              vmmk__source_identity(c->src), s->off, s->len, strerror(s->err), s->tries);
    }
    atomic_fetch_add(&c->bytes_read, s->len);
    int rc = 0;
    if (s->copy) {
        rc = write_out(w, s->buf, s->off, s->len, all_zero(s->buf, s->len));
        if (rc)
            return rc;
        chunk_rec *r = rec_of(w, s->chunk);
        if (r) {
            r->pending--;
            if ((rc = maybe_chunk_done(w, r)))
                return rc;
        }
    }
    s->state = SLOT_FREE;
    if (c->hasher) {
        pthread_mutex_lock(&c->lock);
        s->hashing = true;
        pthread_mutex_unlock(&c->lock);
        rc = vmmk__hasher_put(c->hasher, s->off, s->len, s->buf, &s->hashing);
    }
    return rc;
}

/* Flush what this worker wrote and hand its finished chunks to the
 * engine, when the engine asks (or at the end). */
static int flush_if_asked(vmmk__worker *w, bool force)
{
    vmmk_copier *c = w->c;
    pthread_mutex_lock(&c->lock);
    unsigned gen = c->flush_gen;
    pthread_mutex_unlock(&c->lock);
    if (!force && gen == w->flush_seen)
        return 0;
    int rc = vmmk__writer_flush(w->writer);
    pthread_mutex_lock(&c->lock);
    if (!rc) {
        for (size_t i = 0; i < w->n_unflushed; i++) {
            if (c->n_durable == c->cap_durable) {
                size_t cap = c->cap_durable ? c->cap_durable * 2 : 64;
                uint64_t *p = realloc(c->durable, cap * sizeof *p);
                if (!p) {
                    rc = VMMK_ENOMEM;
                    break;
                }
                c->durable = p;
                c->cap_durable = cap;
            }
            c->durable[c->n_durable++] = w->unflushed[i];
        }
        if (!rc)
            w->n_unflushed = 0;
    }
    w->flush_seen = gen;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    if (rc == VMMK_ENOMEM)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    return rc;
}

static int reissue_all(vmmk__worker *w, uint64_t *at)
{
    for (unsigned i = 0; i < w->nslots; i++) {
        slot *s = &w->slots[i];
        if (s->state == SLOT_INFLIGHT || (s->state == SLOT_DONE && s->err)) {
            *at = s->off;
            s->state = SLOT_DONE;
        }
    }
    return 0;
}

static int run(vmmk__worker *w)
{
    vmmk_copier *c = w->c;
    int rc;
    if ((rc = src_connect(w)) || (rc = vmmk__writer_open(&w->writer, c->dest)))
        return rc;
    for (;;) {
        if ((rc = flush_if_asked(w, false)))
            return rc;
        long wait_us = 0;
        if ((rc = fill(w, &wait_us)))
            return rc;
        if (atomic_load(&c->stop) && w->inflight == 0)
            break;
        if (w->inflight == 0) {
            if (wait_us > 0) {
                usleep((useconds_t)(wait_us < 200000 ? wait_us : 200000));
                continue;
            }
            if (w->no_more_chunks && !w->have_chunk)
                break;
            /* Slots are all with the hasher: wait for one to come back. */
            pthread_mutex_lock(&c->lock);
            vmmk__cond_wait_for(&c->cond, &c->lock, 0.1);
            pthread_mutex_unlock(&c->lock);
            continue;
        }
        /* Reads may have completed inside another libnbd call (block
         * status runs the same state machine): handle those before
         * waiting, or poll would sit out its timeout on a quiet socket. */
        bool ready = false;
        for (unsigned i = 0; i < w->nslots && !ready; i++)
            ready = w->slots[i].state == SLOT_DONE;
        int pr = 1;
        if (!ready) {
            int timeout = wait_us > 0 ? (int)(wait_us / 1000) + 1 : 200;
            pr = nbd_poll(w->nbd, timeout);
        }
        bool dead = pr == -1 || nbd_aio_is_dead(w->nbd) || nbd_aio_is_closed(w->nbd);
        /* Collect completions; libnbd already retired them (callback
         * returned 1). */
        for (unsigned i = 0; i < w->nslots && !dead; i++) {
            slot *s = &w->slots[i];
            if (s->state != SLOT_DONE)
                continue;
            w->inflight--;
            rc = complete(w, s);
            if (rc == 1) {
                w->inflight++;
                dead = true;
                break;
            }
            if (rc)
                return rc;
        }
        if (dead) {
            uint64_t at = 0;
            reissue_all(w, &at);
            if ((rc = src_reconnect(w, at)))
                return rc;
            w->inflight = 0;
            for (unsigned i = 0; i < w->nslots; i++)
                if (w->slots[i].state == SLOT_DONE)
                    issue(w, &w->slots[i]);
        }
    }
    return flush_if_asked(w, true);
}

void *vmmk__worker_main(void *arg)
{
    vmmk__worker *w = arg;
    vmmk_copier *c = w->c;
    int rc = run(w);
    if (rc)
        vmmk__copier_fail_last(c);
    pthread_mutex_lock(&c->lock);
    w->exited = true;
    c->workers_running--;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int vmmk__worker_new(vmmk__worker **out, vmmk_copier *c, unsigned id)
{
    *out = NULL;
    vmmk__worker *w = calloc(1, sizeof *w);
    if (!w)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    w->c = c;
    w->id = id;
    w->nslots = c->slots_per_worker;
    w->slots = calloc(w->nslots, sizeof *w->slots);
    if (!w->slots) {
        free(w);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    for (unsigned i = 0; i < w->nslots; i++) {
        void *p = NULL;
        /* Page aligned so an O_DIRECT destination can take it. */
        if (posix_memalign(&p, 4096, c->request_size)) {
            vmmk__worker_free(w);
            return vmmk__err(VMMK_ENOMEM, "out of memory for %u buffers of %" PRIu32 " bytes",
                             w->nslots, c->request_size);
        }
        w->slots[i].buf = p;
    }
    *out = w;
    return 0;
}

void vmmk__worker_free(vmmk__worker *w)
{
    if (!w)
        return;
    if (w->nbd)
        nbd_close(w->nbd);
    vmmk__writer_close(w->writer);
    for (unsigned i = 0; w->slots && i < w->nslots; i++)
        free(w->slots[i].buf);
    free(w->slots);
    free(w->segs);
    free(w->unflushed);
    free(w);
}

unsigned vmmk__worker_flush_seen(const vmmk__worker *w)
{
    return w->flush_seen;
}

bool vmmk__worker_exited(const vmmk__worker *w)
{
    return w->exited;
}
