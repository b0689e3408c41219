/* The copy: set-up, the worker threads, journalling, progress and the
 * final accounting (docs/disk-copier.md). */
#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/internal.h"
#include "engine_int.h"

#define DEFAULT_REQUESTS 64
#define DEFAULT_REQUEST_SIZE (256u << 10)
#define MAX_REQUEST_SIZE (32u << 20)
#define DEFAULT_CONNECTIONS 4
#define MAX_CONNECTIONS 16
#define DEFAULT_RETRIES 5
#define JOURNAL_INTERVAL 1.0

double vmmk__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void vmmk__cond_wait_for(pthread_cond_t *cond, pthread_mutex_t *lock, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long ns = ts.tv_nsec + (long)((seconds - (double)(long)seconds) * 1e9);
    ts.tv_sec += (time_t)seconds + ns / 1000000000L;
    ts.tv_nsec = ns % 1000000000L;
    pthread_cond_timedwait(cond, lock, &ts);
}

void vmmk__copier_fail(vmmk_copier *c, int code, const char *detail, int sys_errno,
                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = vmmk__vasprintf(fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&c->lock);
    if (!c->err_code) {
        c->err_code = code;
        c->err_msg = msg;
        c->err_detail = vmmk__strdup(detail);
        c->err_errno = sys_errno;
        msg = NULL;
    }
    atomic_store(&c->stop, true);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    free(msg);
}

void vmmk__copier_fail_last(vmmk_copier *c)
{
    const vmmk_error *e = vmmk_error_last();
    vmmk__copier_fail(c, e->code ? e->code : VMMK_EIO, e->detail, e->sys_errno, "%s", e->message);
}

long vmmk__rate_take(vmmk_copier *c, uint64_t len)
{
    double rate = (double)c->o.rate_limit;
    pthread_mutex_lock(&c->rate_lock);
    double now = vmmk__now();
    /* A burst of at most a tenth of a second (and one request). */
    double cap = rate / 10.0 > (double)c->request_size ? rate / 10.0 : (double)c->request_size;
    double tokens = c->tokens + (now - c->rate_last) * rate;
    c->tokens = tokens < cap ? tokens : cap;
    c->rate_last = now;
    long wait = 0;
    if (c->tokens >= (double)len)
        c->tokens -= (double)len;
    else
        wait = (long)(((double)len - c->tokens) / rate * 1e6) + 1;
    pthread_mutex_unlock(&c->rate_lock);
    return wait;
}

/* Identity of the work for the journal: "whole", or a digest of the list. */
static char *work_identity(const vmmk_copier *c)
{
    if (c->whole)
        return strdup("whole");
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char d[32];
    unsigned int dl = 0;
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;
    for (size_t i = 0; ok && i < c->work.n; i++) {
        uint64_t pair[2] = { c->work.items[i].offset, c->work.items[i].length };
        ok = EVP_DigestUpdate(ctx, pair, sizeof pair) == 1;
    }
    ok = ok && EVP_DigestFinal_ex(ctx, d, &dl) == 1;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return NULL;
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    return vmmk__asprintf("extents:%zu:%s", c->work.n, hex);
}

/* Connect once to learn the size, multi-conn and block status support. */
static int probe_source(vmmk_copier *c, bool *multi_conn, uint32_t *max_block)
{
    const char *uri = vmmk__source_uri(c->src);
    if (!uri)
        return vmmk_error_last()->code ? vmmk_error_last()->code : VMMK_EIO;
    if (!(c->src_uri = strdup(uri)))
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    struct nbd_handle *h = nbd_create();
    if (!h)
        return vmmk__err(VMMK_ENOMEM, "source: %s", nbd_get_error());
    nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION);
    int rc = 0;
    if (nbd_connect_uri(h, uri) == -1) {
        rc = vmmk__err_full(VMMK_ENETWORK, NULL, nbd_get_error(), 0, nbd_get_errno(),
                            "source %s: cannot connect: %s", vmmk__source_identity(c->src), nbd_get_error());
    } else {
        int64_t size = nbd_get_size(h);
        if (size < 0)
            rc = vmmk__err(VMMK_EIO, "source %s: cannot get its size: %s", vmmk__source_identity(c->src),
                           nbd_get_error());
        c->size = size < 0 ? 0 : (uint64_t)size;
        *multi_conn = nbd_can_multi_conn(h) == 1;
        c->block_status = nbd_can_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
        int64_t mb = nbd_get_block_size(h, LIBNBD_SIZE_MAXIMUM);
        *max_block = mb > 0 && mb < UINT32_MAX ? (uint32_t)mb : 0;
        nbd_shutdown(h, 0);
    }
    nbd_close(h);
    return rc;
}

static int copy_extents(vmmk_extent_list *dst, const vmmk_extent_list *src)
{
    dst->n = src->n;
    dst->items = src->n ? malloc(src->n * sizeof *dst->items) : NULL;
    if (src->n && !dst->items)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    if (src->n)
        memcpy(dst->items, src->items, src->n * sizeof *dst->items);
    return 0;
}

int vmmk_copier_new(vmmk_copier **out, vmmk_source *src, const char *destination,
                    const vmmk_copy_options *opts)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_copier_new: out is NULL");
    *out = NULL;
    if (!src || !destination)
        return vmmk__err(VMMK_EINVAL, "vmmk_copier_new: %s is NULL", src ? "destination" : "source");
    vmmk_copy_options o = VMMK_COPY_OPTIONS_INIT;
    if (opts) {
        if (opts->version != VMMK_COPY_OPTIONS_VERSION)
            return vmmk__err(VMMK_EINVAL, "copy options: version %u is not %d", opts->version,
                             VMMK_COPY_OPTIONS_VERSION);
        o = *opts;
    }
    if (o.request_size > MAX_REQUEST_SIZE || (o.request_size && o.request_size < 4096) ||
        (o.request_size & (o.request_size - 1)))
        return vmmk__err(VMMK_EINVAL, "request size %" PRIu32 " must be a power of two from 4096 to %u",
                         o.request_size, MAX_REQUEST_SIZE);
    if (o.connections > MAX_CONNECTIONS)
        return vmmk__err(VMMK_EINVAL, "connections %u: at most %d", o.connections, MAX_CONNECTIONS);
    if (o.requests > 1024)
        return vmmk__err(VMMK_EINVAL, "requests %u: at most 1024 in flight", o.requests);
    if (!o.requests)
        o.requests = DEFAULT_REQUESTS;
    if (!o.request_size)
        o.request_size = DEFAULT_REQUEST_SIZE;
    if (!o.connections)
        o.connections = DEFAULT_CONNECTIONS;
    if (!opts || !opts->retries)
        o.retries = opts && opts->retries ? opts->retries : DEFAULT_RETRIES;
    if (o.progress_interval <= 0)
        o.progress_interval = 1.0;
    if (o.progress_interval < 0.05)
        o.progress_interval = 0.05;

    vmmk_copier *c = calloc(1, sizeof *c);
    if (!c)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    pthread_mutex_init(&c->rate_lock, NULL);
    c->src = src;
    c->o = o;
    c->o.state_file = NULL;
    c->o.extents = NULL;
    int rc = 0;
    bool multi_conn = false;
    uint32_t max_block = 0;
    if ((rc = probe_source(c, &multi_conn, &max_block)))
        goto fail;
    c->request_size = o.request_size;
    while (max_block && c->request_size > max_block && c->request_size > 4096)
        c->request_size /= 2;   /* respect the server's maximum request */
    if (o.extents) {
        if ((rc = copy_extents(&c->work, o.extents)) || (rc = vmmk__extents_normalize(&c->work, c->size))) {
            vmmk__err_prefix("extents");
            goto fail;
        }
    } else {
        c->whole = true;
        if (c->size) {
            if (!(c->work.items = malloc(sizeof *c->work.items))) {
                rc = vmmk__err(VMMK_ENOMEM, "out of memory");
                goto fail;
            }
            c->work.items[0] = (vmmk_extent){ 0, c->size };
            c->work.n = 1;
        }
    }
    for (size_t i = 0; i < c->work.n; i++)
        c->work_bytes += c->work.items[i].length;
    c->nchunks = (c->size + VMMK__CHUNK - 1) / VMMK__CHUNK;
    if ((rc = vmmk__dest_open(&c->dest, destination, c->size, o.direct_io)))
        goto fail;
    /* A file this copy just created reads as zeros: holes need no writes.
     * (Never assumed for anything that existed: stale data must go.) */
    if (vmmk__dest_created(c->dest))
        c->o.destination_is_zero = true;
    unsigned writers = vmmk__dest_max_writers(c->dest);
    c->nworkers = multi_conn ? o.connections : 1;
    if (writers && c->nworkers > writers)
        c->nworkers = writers;
    unsigned budget = VMMK__BUFFER_BUDGET / (c->request_size * c->nworkers);
    c->slots_per_worker = o.requests < budget ? o.requests : budget;
    if (c->slots_per_worker < 2)
        c->slots_per_worker = 2;
    if (opts && opts->state_file) {
        char *work_id = work_identity(c);
        if (!work_id) {
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
            goto fail;
        }
        rc = vmmk__state_open(&c->state, opts->state_file, vmmk__source_identity(src),
                              vmmk__dest_identity(c->dest), c->size, VMMK__CHUNK, work_id);
        free(work_id);
        if (rc)
            goto fail;
    }
    vmmk__log(VMMK_LOG_INFO,
              "copy %s -> %s: %" PRIu64 " bytes, %" PRIu64 " to copy, %u connection(s), %u x %" PRIu32
              " byte requests, block status %s",
              vmmk__source_identity(src), destination, c->size, c->work_bytes, c->nworkers,
              c->slots_per_worker, c->request_size, c->block_status ? "yes" : "no");
    *out = c;
    return 0;
fail:
    vmmk_copier_free(c);
    return rc;
}

uint64_t vmmk_copier_size(const vmmk_copier *c)
{
    return c ? c->size : 0;
}

void vmmk_copier_cancel(vmmk_copier *c)
{
    /* Only lock-free atomics: callable from a signal handler. */
    if (!c)
        return;
    atomic_store(&c->cancel, true);
    atomic_store(&c->stop, true);
}

/* Ask every worker to flush, wait for them, and journal what is durable. */
static int journal(vmmk_copier *c, bool final)
{
    if (!c->state)
        return 0;
    pthread_mutex_lock(&c->lock);
    if (!final) {
        c->flush_gen++;
        /* Workers answer within their poll timeout; exited ones have
         * flushed already. */
        unsigned gen = c->flush_gen;
        double deadline = vmmk__now() + 30.0;
        for (;;) {
            bool all = true;
            for (unsigned i = 0; i < c->nworkers; i++)
                if (c->workers[i] && !vmmk__worker_exited(c->workers[i]) &&
                    vmmk__worker_flush_seen(c->workers[i]) != gen)
                    all = false;
            if (all || c->workers_running == 0 || atomic_load(&c->stop) || vmmk__now() > deadline)
                break;
            vmmk__cond_wait_for(&c->cond, &c->lock, 0.05);
        }
    }
    for (size_t i = 0; i < c->n_durable; i++)
        vmmk__state_mark_done(c->state, c->durable[i]);
    bool any = c->n_durable > 0;
    c->n_durable = 0;
    pthread_mutex_unlock(&c->lock);
    return any || final ? vmmk__state_save(c->state) : 0;
}

static void report(vmmk_copier *c, double start, double *last_t, uint64_t *last_done, double *rate)
{
    double now = vmmk__now();
    uint64_t done = atomic_load(&c->bytes_done);
    double dt = now - *last_t;
    if (dt > 0 && done >= *last_done) {
        double inst = (double)(done - *last_done) / dt;
        /* Smoothed over a few seconds so one slow request does not swing it. */
        *rate = *rate <= 0 ? inst : 0.7 * *rate + 0.3 * inst;
    }
    *last_t = now;
    *last_done = done;
    if (!c->o.progress)
        return;
    vmmk_copy_progress p = { done, c->work_bytes, *rate, -1, now - start };
    if (*rate > 0 && c->work_bytes >= done)
        p.eta = (double)(c->work_bytes - done) / *rate;
    if (done >= c->work_bytes)
        p.eta = 0;
    c->o.progress(&p, c->o.progress_payload);
}

static void fill_stats(const vmmk_copier *c, vmmk_copy_stats *stats, double seconds)
{
    if (!stats)
        return;
    memset(stats, 0, sizeof *stats);
    stats->bytes_read = atomic_load(&c->bytes_read);
    stats->bytes_written = atomic_load(&c->bytes_written);
    stats->bytes_zeroed = atomic_load(&c->bytes_zeroed);
    stats->bytes_skipped = atomic_load(&c->bytes_skipped);
    stats->requests = atomic_load(&c->requests);
    stats->retries = atomic_load(&c->retries);
    stats->reconnects = atomic_load(&c->reconnects);
    stats->seconds = seconds;
}

int vmmk_copier_run(vmmk_copier *c, vmmk_copy_stats *stats)
{
    if (!c)
        return vmmk__err(VMMK_EINVAL, "vmmk_copier_run: copier is NULL");
    if (c->workers)
        return vmmk__err(VMMK_ESTATE, "vmmk_copier_run: this copier has run already");
    double start = vmmk__now();
    int rc = 0;
    c->rate_last = start;
    c->tokens = 0;
    if (c->o.checksum && (rc = vmmk__hasher_new(&c->hasher, c)))
        return rc;
    c->workers = calloc(c->nworkers, sizeof *c->workers);
    pthread_t *threads = calloc(c->nworkers, sizeof *threads);
    if (!c->workers || !threads) {
        free(threads);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    unsigned started = 0;
    for (unsigned i = 0; i < c->nworkers && !rc; i++) {
        if ((rc = vmmk__worker_new(&c->workers[i], c, i)))
            break;
        pthread_mutex_lock(&c->lock);
        c->workers_running++;
        pthread_mutex_unlock(&c->lock);
        if (pthread_create(&threads[i], NULL, vmmk__worker_main, c->workers[i]) != 0) {
            pthread_mutex_lock(&c->lock);
            c->workers_running--;
            pthread_mutex_unlock(&c->lock);
            rc = vmmk__err(VMMK_ENOMEM, "cannot start copy thread %u", i);
            break;
        }
        started++;
    }
    if (rc)
        vmmk__copier_fail_last(c);

    /* The calling thread journals and reports until the workers are done. */
    double last_t = start, rate = 0, last_journal = start, last_report = start;
    uint64_t last_done = 0;
    for (;;) {
        pthread_mutex_lock(&c->lock);
        unsigned running = c->workers_running;
        if (running) {
            vmmk__cond_wait_for(&c->cond, &c->lock,
                                c->o.progress_interval < JOURNAL_INTERVAL ? c->o.progress_interval
                                                                          : JOURNAL_INTERVAL);
            running = c->workers_running;
        }
        pthread_mutex_unlock(&c->lock);
        if (!running)
            break;
        double now = vmmk__now();
        if (c->state && now - last_journal >= JOURNAL_INTERVAL && !atomic_load(&c->stop)) {
            if (journal(c, false)) {
                vmmk__copier_fail_last(c);
            }
            last_journal = now;
        }
        if (now - last_report >= c->o.progress_interval) {
            report(c, start, &last_t, &last_done, &rate);
            last_report = now;
        }
    }
    for (unsigned i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);

    /* Workers flushed before they exited: what they handed over is durable. */
    int jrc = journal(c, true);
    if (jrc && !c->err_code)
        vmmk__copier_fail_last(c);
    double seconds = vmmk__now() - start;
    fill_stats(c, stats, seconds);

    if (c->err_code) {
        rc = vmmk__err_full(c->err_code, NULL, c->err_detail, 0, c->err_errno, "%s", c->err_msg);
    } else if (atomic_load(&c->cancel)) {
        rc = vmmk__err(VMMK_ECANCELED, "copy cancelled after %" PRIu64 " of %" PRIu64 " bytes",
                       atomic_load(&c->bytes_done), c->work_bytes);
    } else if (atomic_load(&c->bytes_done) != c->work_bytes) {
        /* The last line of defence: never report a partial copy as done. */
        rc = vmmk__err(VMMK_EIO, "copy incomplete: %" PRIu64 " of %" PRIu64 " bytes accounted for",
                       atomic_load(&c->bytes_done), c->work_bytes);
    } else {
        if (c->hasher && stats)
            rc = vmmk__hasher_finish(c->hasher, stats->sha256);
        else if (c->hasher) {
            char tmp[65];
            rc = vmmk__hasher_finish(c->hasher, tmp);
        }
        if (!rc && c->state)
            rc = vmmk__state_complete(c->state);
        if (!rc) {
            last_t = start;
            last_done = 0;
            rate = seconds > 0 ? (double)c->work_bytes / seconds : 0;
            report(c, start, &last_t, &last_done, &rate);
        }
    }
    if (rc == 0)
        vmmk__log(VMMK_LOG_INFO, "copy done: %" PRIu64 " read, %" PRIu64 " written, %" PRIu64
                  " zeroed, %" PRIu64 " skipped in %.2f s", atomic_load(&c->bytes_read),
                  atomic_load(&c->bytes_written), atomic_load(&c->bytes_zeroed),
                  atomic_load(&c->bytes_skipped), seconds);
    return rc;
}

void vmmk_copier_free(vmmk_copier *c)
{
    if (!c)
        return;
    atomic_store(&c->stop, true);
    vmmk__hasher_free(c->hasher);
    for (unsigned i = 0; c->workers && i < c->nworkers; i++)
        vmmk__worker_free(c->workers[i]);
    free(c->workers);
    vmmk__state_free(c->state);
    vmmk__dest_close(c->dest);
    free(c->work.items);
    free(c->durable);
    free(c->src_uri);
    free(c->err_msg);
    free(c->err_detail);
    pthread_mutex_destroy(&c->lock);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->rate_lock);
    free(c);
}
