/* SHA-256 of the whole logical disk while it is copied.  Requests finish
 * out of order; SHA-256 is sequential, so segments wait here, sorted by
 * offset, until the one at the hash position arrives.  Memory stays
 * bounded: a segment holds a worker's buffer, and workers issue requests in
 * offset order, so the lowest missing offset is always in flight. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "engine_int.h"

typedef struct hseg {
    uint64_t off, len;
    const void *buf;           /* NULL = zeros */
    bool *release;
} hseg;

struct vmmk__hasher {
    vmmk_copier *c;
    EVP_MD_CTX *ctx;
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    hseg *pending;             /* sorted by offset */
    size_t n, cap;
    uint64_t pos;              /* everything before is hashed */
    bool failed;
    bool quit;
    unsigned char digest[32];
    bool done;
};

static void release(vmmk_copier *c, bool *flag)
{
    if (!flag)
        return;
    pthread_mutex_lock(&c->lock);
    *flag = false;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void *hasher_main(void *arg)
{
    vmmk__hasher *h = arg;
    vmmk_copier *c = h->c;
    pthread_mutex_lock(&h->lock);
    while (h->pos < c->size && !h->quit) {
        if (h->n == 0 || h->pending[0].off != h->pos) {
            pthread_cond_wait(&h->cond, &h->lock);
            continue;
        }
        hseg s = h->pending[0];
        memmove(h->pending, h->pending + 1, (h->n - 1) * sizeof *h->pending);
        h->n--;
        pthread_mutex_unlock(&h->lock);
        int ok;
        if (s.buf) {
            ok = EVP_DigestUpdate(h->ctx, s.buf, s.len) == 1;
        } else {
            /* Large holes are hashed in pieces so a stop is noticed. */
            ok = 1;
            for (uint64_t done = 0; ok && done < s.len && !atomic_load(&c->stop);) {
                uint64_t n = s.len - done > (64u << 20) ? (64u << 20) : s.len - done;
                ok = vmmk__sha256_zeros(h->ctx, n) == 0;
                done += n;
            }
        }
        release(c, s.release);
        pthread_mutex_lock(&h->lock);
        if (!ok) {
            h->failed = true;
            break;
        }
        h->pos += s.len;
    }
    if (h->pos == c->size && !h->failed) {
        unsigned int dl = 0;
        h->done = EVP_DigestFinal_ex(h->ctx, h->digest, &dl) == 1 && dl == 32;
    }
    /* Whatever is left (a stopped copy) gives its buffers back. */
    for (size_t i = 0; i < h->n; i++)
        release(c, h->pending[i].release);
    h->n = 0;
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

int vmmk__hasher_new(vmmk__hasher **out, vmmk_copier *c)
{
    *out = NULL;
    vmmk__hasher *h = calloc(1, sizeof *h);
    if (!h)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    h->c = c;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    h->ctx = EVP_MD_CTX_new();
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL) != 1) {
        vmmk__hasher_free(h);
        return vmmk__err(VMMK_ENOMEM, "cannot set up SHA-256");
    }
    if (pthread_create(&h->thread, NULL, hasher_main, h) != 0) {
        vmmk__hasher_free(h);
        return vmmk__err(VMMK_ENOMEM, "cannot start the hashing thread");
    }
    h->started = true;
    *out = h;
    return 0;
}

int vmmk__hasher_put(vmmk__hasher *h, uint64_t off, uint64_t len, const void *buf, bool *release_flag)
{
    pthread_mutex_lock(&h->lock);
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 64;
        hseg *p = realloc(h->pending, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&h->lock);
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        }
        h->pending = p;
        h->cap = cap;
    }
    size_t i = h->n;
    while (i > 0 && h->pending[i - 1].off > off) {
        h->pending[i] = h->pending[i - 1];
        i--;
    }
    h->pending[i] = (hseg){ off, len, buf, release_flag };
    h->n++;
    if (i == 0)
        pthread_cond_signal(&h->cond);
    pthread_mutex_unlock(&h->lock);
    return 0;
}

int vmmk__hasher_finish(vmmk__hasher *h, char out[65])
{
    if (h->started) {
        pthread_join(h->thread, NULL);
        h->started = false;
    }
    if (!h->done)
        return vmmk__err(VMMK_EIO, "checksum incomplete: hashed %" PRIu64 " of %" PRIu64 " bytes",
                         h->pos, h->c->size);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h->digest[i]);
    return 0;
}

void vmmk__hasher_free(vmmk__hasher *h)
{
    if (!h)
        return;
    if (h->started) {
        pthread_mutex_lock(&h->lock);
        h->quit = true;
        pthread_cond_signal(&h->cond);
        pthread_mutex_unlock(&h->lock);
        pthread_join(h->thread, NULL);
    }
    EVP_MD_CTX_free(h->ctx);
    free(h->pending);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    free(h);
}
