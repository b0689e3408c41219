/* Glance image data: PUT /v2/images/{id}/file streamed from a callback,
 * a local file or block device, or a copier source read through libnbd.
 *
 * An upload can take hours, so it does not go through vmmk__os_do: it
 * runs on an HTTP handle of its own (a handle's timeout covers a whole
 * request, and the shared one is sized for API calls), without holding
 * the cloud handle's lock (other calls on the handle go on meanwhile, and
 * a reader may itself use the handle), with a token that has at least an
 * hour left when the transfer starts (Keystone middleware checks it once,
 * when the request arrives). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libnbd.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "../copier/copier_int.h"
#include "cloud_int.h"

#define UPLOAD_TIMEOUT_S (7L * 24 * 3600)  /* one request: the whole upload */
#define UPLOAD_TOKEN_LEFT_S 3600           /* renew a token with less left */
#define DEFAULT_UPLOAD_WAIT_S 3600
#define NBD_CHUNK (4u << 20)

/* ---- upload ------------------------------------------------------------ */

typedef struct upload_src {
    vmmk_cloud_reader reader;
    void *payload;
    int (*rewind)(void *payload);   /* start again for a resend, or NULL */
    uint64_t sent;
} upload_src;

static ssize_t upload_read(void *payload, void *buf, size_t len)
{
    upload_src *u = payload;
    vmmk_error_clear();
    ssize_t r = u->reader(u->payload, buf, len);
    if (r >= 0) {
        u->sent += (uint64_t)r;
        return r;
    }
    int code = vmmk_error_last()->code;
    if (code)
        return code;   /* the reader said why */
    code = strcmp(vmmk_strerror((int)r), "unknown error") == 0 ? VMMK_ECANCELED : (int)r;
    return vmmk__err(code, "the image data reader stopped after %" PRIu64 " bytes (%s)", u->sent,
                     vmmk_strerror((int)r));
}

/* A token good for starting a long transfer: UPLOAD_TOKEN_LEFT_S left, or
 * issued within the last minute (a cloud with short token lifetimes has
 * none fresher).  Caller holds the lock. */
static bool token_fresh(vmmk_cloud *c)
{
    if (!c->token)
        return false;
    time_t now = time(NULL);
    if (!c->expires || c->expires - now >= UPLOAD_TOKEN_LEFT_S)
        return true;
    const char *issued = vmmk__jstr(c->token_body, "issued_at");
    struct tm tm = { 0 };
    if (!issued || !strptime(issued, "%Y-%m-%dT%H:%M:%S", &tm))
        return false;
    time_t t = timegm(&tm);
    return now - t >= 0 && now - t < 60 && c->expires > now;
}

/* Under the lock: the image endpoint and an "X-Auth-Token: ..." header for
 * a fresh token (a new one when @p renew), as new strings. */
static int upload_session(vmmk_cloud *c, char **endpoint, char **auth, bool renew)
{
    *endpoint = *auth = NULL;
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    if (renew || !token_fresh(c))
        rc = vmmk__os_authenticate(c);
    const char *ep = NULL;
    if (rc == 0)
        rc = vmmk__os_endpoint(&ep, c, VMMK__SVC_IMAGE);
    if (rc == 0) {
        *endpoint = strdup(ep);
        *auth = vmmk__asprintf("X-Auth-Token: %s", c->token);
        if (!*endpoint || !*auth)
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

static void wipe(char **s)
{
    if (*s) {
        memset(*s, 0, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

/* A non-2xx answer to the PUT: what the status means, and Glance's
 * message from the start of the answer the upload kept. */
static int upload_status_error(vmmk__http *h, long status, const char *what, const char *url)
{
    char *rid = vmmk__http_header(vmmk__http_last_headers(h), "x-openstack-request-id");
    int code;
    const char *why;
    switch (status) {
    case 400:
        code = VMMK_EINVAL;
        why = "Glance refused the data";
        break;
    case 401:
    case 403:
        code = VMMK_EAUTH;
        why = "not authorised";
        break;
    case 404:
        code = VMMK_ENOTFOUND;
        why = "no such image";
        break;
    case 409:
        code = VMMK_ECONFLICT;
        why = "the image is not \"queued\" (its data was uploaded already?)";
        break;
    case 410:
        code = VMMK_EREMOTE;
        why = "Glance lost the image during the upload (deleted, or another upload of it "
              "running)";
        break;
    case 413:
        code = VMMK_EQUOTA;
        why = "the image is larger than Glance accepts (image_size_cap or a storage quota)";
        break;
    default:
        code = VMMK_EHTTP;
        why = "upload refused";
        break;
    }
    /* Glance's own words, when its answer had any. */
    size_t blen = 0;
    const char *body = vmmk__http_last_discarded(h, &blen);
    char *msg = NULL, *type = NULL;
    vmmk__os_error_text(body, blen, &msg, &type);
    char *shown = vmmk__url_shown(url);
    int rc = vmmk__err_full(code, type, rid, (int)status, 0,
                            "%s: %s%s%s (HTTP %ld from image PUT %s%s%s)", what, why,
                            msg ? ": " : "", msg ? msg : "", status, shown ? shown : "",
                            rid ? ", request id " : "", rid ? rid : "");
    free(msg);
    free(type);
    free(shown);
    free(rid);
    return rc;
}

static int upload(vmmk_cloud *c, const char *id, upload_src *u, int64_t size, unsigned timeout_s)
{
    int rc = vmmk__os_image_check_id(c, id, "upload image");
    if (rc)
        return rc;
    char what[200];
    snprintf(what, sizeof what, "upload image %s", id);
    if (size < -1)
        return vmmk__err(VMMK_EINVAL, "%s: invalid size %" PRId64, what, size);
    char *ep = NULL, *auth = NULL, *path = vmmk__os_image_path(id, "/file"), *url = NULL;
    vmmk__http *h = NULL;
    if (!path)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    if ((rc = upload_session(c, &ep, &auth, false)) != 0) {
        vmmk__err_prefix("%s", what);
        goto done;
    }
    if (!(url = vmmk__asprintf("%s%s", ep, path))) {
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        goto done;
    }
    vmmk__http_options ho = { 0 };
    ho.base_url = ep;
    ho.cacert = c->cfg->cacert;
    ho.insecure = !c->cfg->verify;
    ho.client_cert = c->cfg->cert;
    ho.client_key = c->cfg->key;
    ho.timeout_s = UPLOAD_TIMEOUT_S;
    ho.connect_timeout_s = 30;
    if ((rc = vmmk__http_new(&h, &ho)) != 0) {
        vmmk__err_prefix("%s", what);
        goto done;
    }
    if (size < 0)
        vmmk__log(VMMK_LOG_DEBUG, "%s: sending data of unknown size (chunked)", what);
    else
        vmmk__log(VMMK_LOG_DEBUG, "%s: sending %" PRId64 " bytes", what, size);
    for (int attempt = 0;; attempt++) {
        const char *hdrs[] = { auth, "Content-Type: application/octet-stream",
                               "Accept: application/json", NULL };
        long status = 0;
        u->sent = 0;
        rc = vmmk__http_upload(h, url, hdrs, upload_read, u, size, &status);
        if (rc) {
            /* How far it got, unless the reader's own message says so. */
            if (rc == VMMK_ENETWORK || rc == VMMK_ETIMEOUT || rc == VMMK_ETLS)
                vmmk__err_prefix("%s (after %" PRIu64 " bytes)", what, u->sent);
            else
                vmmk__err_prefix("%s", what);
            break;
        }
        /* A token revoked since: the request was refused before Glance
         * stored anything, so it can go again if the data can. */
        if (status == 401 && attempt == 0 &&
            (u->sent == 0 || (u->rewind && u->rewind(u->payload) == 0))) {
            vmmk__log(VMMK_LOG_INFO, "%s: token refused (401); authenticating again", what);
            free(ep);
            wipe(&auth);
            if ((rc = upload_session(c, &ep, &auth, true)) != 0) {
                vmmk__err_prefix("%s", what);
                break;
            }
            continue;
        }
        if (status < 200 || status > 299)
            rc = upload_status_error(h, status, what, url);
        break;
    }
    if (rc == 0) {
        vmmk_cloud_image *img = NULL;
        rc = vmmk_cloud_image_wait(&img, c, id, "active",
                                   timeout_s ? timeout_s : DEFAULT_UPLOAD_WAIT_S);
        if (rc == 0 && img->size != u->sent)
            rc = vmmk__err(VMMK_EREMOTE,
                           "%s: Glance stored %" PRIu64 " bytes, %" PRIu64 " were sent", what,
                           img->size, u->sent);
        else if (rc == 0)
            vmmk__log(VMMK_LOG_INFO, "%s: %" PRIu64 " bytes stored, checksum %s", what, u->sent,
                      img->checksum ? img->checksum : "(none)");
        vmmk_cloud_image_free(img);
    }
done:
    vmmk__http_free(h);
    wipe(&auth);
    free(ep);
    free(url);
    free(path);
    return rc;
}

int vmmk_cloud_image_upload(vmmk_cloud *c, const char *id, vmmk_cloud_reader reader, void *payload,
                            int64_t size, unsigned timeout_s)
{
    if (!reader)
        return vmmk__err(VMMK_EINVAL, "upload image %s: no reader given", id ? id : "");
    upload_src u = { reader, payload, NULL, 0 };
    return upload(c, id, &u, size, timeout_s);
}

/* ---- from a file ------------------------------------------------------- */

typedef struct file_src {
    int fd;
    const char *path;
} file_src;

static ssize_t file_read(void *payload, void *buf, size_t len)
{
    file_src *f = payload;
    for (;;) {
        ssize_t r = read(f->fd, buf, len);
        if (r >= 0)
            return r;
        if (errno != EINTR)
            return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "read %s: %s", f->path,
                                  strerror(errno));
    }
}

static int file_rewind(void *payload)
{
    file_src *f = payload;
    return lseek(f->fd, 0, SEEK_SET) == 0 ? 0 : -1;
}

int vmmk_cloud_image_upload_file(vmmk_cloud *c, const char *id, const char *path,
                                 unsigned timeout_s)
{
    int rc = vmmk__os_image_check_id(c, id, "upload image");
    if (rc)
        return rc;
    if (!path || !*path)
        return vmmk__err(VMMK_EINVAL, "upload image %s: no file given", id);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return vmmk__err_full(errno == ENOENT ? VMMK_ENOTFOUND : VMMK_EIO, NULL, NULL, 0, errno,
                              "upload image %s: open %s: %s", id, path, strerror(errno));
    struct stat st;
    uint64_t size = 0;
    if (fstat(fd, &st) != 0) {
        rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "upload image %s: stat %s: %s", id,
                            path, strerror(errno));
    } else if (S_ISREG(st.st_mode)) {
        size = (uint64_t)st.st_size;
    } else if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &size) != 0)
            rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno,
                                "upload image %s: size of block device %s: %s", id, path,
                                strerror(errno));
    } else {
        rc = vmmk__err(VMMK_EINVAL, "upload image %s: %s is not a regular file or a block device",
                       id, path);
    }
    if (rc == 0 && size > INT64_MAX)
        rc = vmmk__err(VMMK_EINVAL, "upload image %s: %s is too large", id, path);
    if (rc == 0) {
        (void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
        file_src f = { fd, path };
        upload_src u = { file_read, &f, file_rewind, 0 };
        rc = upload(c, id, &u, (int64_t)size, timeout_s);
    }
    close(fd);
    return rc;
}

/* ---- from a copier source ---------------------------------------------- */

typedef struct nbd_src {
    struct nbd_handle *h;
    const char *uri;
    uint64_t size, off;        /* the disk; the next offset to fetch */
    char *buf;                 /* one chunk: [pos, len) still to hand out */
    size_t chunk, len, pos;
    bool extents;              /* the server reports holes (base:allocation) */
    uint64_t ext_off, ext_len; /* extent found by the last block status */
    bool ext_zero;
} nbd_src;

static int nbd_fail(const nbd_src *s, const char *op, uint64_t offset)
{
    int e = nbd_get_errno();
    const char *msg = nbd_get_error();
    return vmmk__err_full(VMMK_EIO, NULL, msg, 0, e, "%s %s at offset %" PRIu64 ": %s", op, s->uri,
                          offset, msg ? msg : "unknown libnbd error");
}

static int extent_cb(void *user_data, const char *metacontext, uint64_t offset, uint32_t *entries,
                     size_t nr_entries, int *error)
{
    (void)error;
    nbd_src *s = user_data;
    if (strcmp(metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION) != 0 || nr_entries < 2)
        return 0;
    /* The first extent is enough: the next query starts where it ends. */
    s->ext_off = offset;
    s->ext_len = entries[0];
    s->ext_zero = (entries[1] & LIBNBD_STATE_ZERO) != 0;
    return 0;
}

/* Fill buf[0..n) with the disk from s->off: holes as zeros without
 * reading them (a VDDK or HTTP source pays for every byte read). */
static int nbd_fill(nbd_src *s, size_t n)
{
    size_t done = 0;
    while (done < n) {
        uint64_t at = s->off + done;
        size_t piece = n - done;
        bool zero = false;
        if (s->extents) {
            nbd_extent_callback cb = { .callback = extent_cb, .user_data = s };
            s->ext_len = 0;
            if (nbd_block_status(s->h, piece, at, cb, 0) == -1)
                return nbd_fail(s, "block status of", at);
            if (s->ext_len && s->ext_off == at) {
                if (s->ext_len < piece)
                    piece = (size_t)s->ext_len;
                zero = s->ext_zero;
            }
        }
        if (zero)
            memset(s->buf + done, 0, piece);
        else if (nbd_pread(s->h, s->buf + done, piece, at, 0) == -1)
            return nbd_fail(s, "read", at);
        done += piece;
    }
    return 0;
}

static ssize_t nbd_read(void *payload, void *buf, size_t len)
{
    nbd_src *s = payload;
    if (s->pos == s->len) {
        uint64_t left = s->size - s->off;
        if (!left)
            return 0;
        size_t n = left < s->chunk ? (size_t)left : s->chunk;
        int rc = nbd_fill(s, n);
        if (rc)
            return rc;
        s->off += n;
        s->len = n;
        s->pos = 0;
    }
    size_t n = s->len - s->pos < len ? s->len - s->pos : len;
    memcpy(buf, s->buf + s->pos, n);
    s->pos += n;
    return (ssize_t)n;
}

static int nbd_rewind(void *payload)
{
    nbd_src *s = payload;
    s->off = 0;
    s->len = s->pos = 0;
    return 0;
}

int vmmk_cloud_image_upload_source(vmmk_cloud *c, const char *id, vmmk_source *src,
                                   unsigned timeout_s)
{
    int rc = vmmk__os_image_check_id(c, id, "upload image");
    if (rc)
        return rc;
    if (!src)
        return vmmk__err(VMMK_EINVAL, "upload image %s: no source given", id);
    nbd_src s = { .chunk = NBD_CHUNK };
    if ((rc = vmmk_source_start(src, &s.uri)) != 0)
        return vmmk__err_prefix("upload image %s", id);
    if (!s.uri)
        s.uri = "(source)";
    if (!(s.h = nbd_create()))
        return vmmk__err(VMMK_ENOMEM, "upload image %s: cannot create an NBD handle: %s", id,
                         nbd_get_error());
    if (nbd_add_meta_context(s.h, LIBNBD_CONTEXT_BASE_ALLOCATION) == -1) {
        rc = vmmk__err(VMMK_ENOMEM, "upload image %s: %s", id, nbd_get_error());
        goto done;
    }
    if ((rc = vmmk__source_connect(src, s.h)) != 0) {
        vmmk__err_prefix("upload image %s", id);
        goto done;
    }
    int64_t size = nbd_get_size(s.h);
    if (size < 0) {
        rc = vmmk__err(VMMK_EREMOTE, "upload image %s: size of %s: %s", id, s.uri, nbd_get_error());
        goto done;
    }
    s.size = (uint64_t)size;
    s.extents = nbd_can_meta_context(s.h, LIBNBD_CONTEXT_BASE_ALLOCATION) == 1;
    int64_t max = nbd_get_block_size(s.h, LIBNBD_SIZE_MAXIMUM);
    if (max > 0 && (uint64_t)max < s.chunk)
        s.chunk = (size_t)max;
    if (s.size && !(s.buf = malloc(s.chunk))) {
        rc = vmmk__err(VMMK_ENOMEM, "upload image %s: out of memory", id);
        goto done;
    }
    upload_src u = { nbd_read, &s, nbd_rewind, 0 };
    rc = upload(c, id, &u, size, timeout_s);
done:
    nbd_close(s.h);
    free(s.buf);
    return rc;
}
