/* The resume journal (docs/disk-copier-state.md): a small JSON file that
 * names the copy it belongs to and holds a bitmap of finished chunks.
 *
 * Thread safety: none.  The engine calls mark_done/is_done under its own
 * lock, and serialises save against marks (it saves from one thread after
 * flushing the destination, holding the same lock or having stopped
 * marking); nothing here locks. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "copier_int.h"
#include <vmmk/vm.h>   /* VMMK_JSON_PRETTY */

#define STATE_VERSION 1

/* The bitmap is written as hex in a document read back through the 64 MiB
 * document limit: 2^27 chunks make 32 MiB of hex, half of it.  With the
 * engine's 32 MiB chunks that is 4 PiB. */
#define MAX_CHUNKS (UINT64_C(1) << 27)

struct vmmk__state {
    char *path;               /* the journal */
    char *tmp;                /* path + ".tmp" */
    char *dir;                /* its directory, synced after a rename */
    char *source, *dest, *work;
    uint64_t size, chunk_size, chunks;
    unsigned char *bits;      /* bit i (LSB first in byte i / 8) = chunk i */
    size_t nbytes;
};

void vmmk__state_free(vmmk__state *st)
{
    if (!st)
        return;
    free(st->path);
    free(st->tmp);
    free(st->dir);
    free(st->source);
    free(st->dest);
    free(st->work);
    free(st->bits);
    free(st);
}

uint64_t vmmk__state_chunks(const vmmk__state *st)
{
    return st ? st->chunks : 0;
}

/* Out-of-range chunks are never done and cannot be marked: the engine only
 * asks about chunks below vmmk__state_chunks(). */
bool vmmk__state_is_done(const vmmk__state *st, uint64_t chunk)
{
    if (!st || chunk >= st->chunks)
        return false;
    return (st->bits[chunk / 8] >> (chunk % 8)) & 1u;
}

void vmmk__state_mark_done(vmmk__state *st, uint64_t chunk)
{
    if (!st || chunk >= st->chunks)
        return;
    st->bits[chunk / 8] |= (unsigned char)(1u << (chunk % 8));
}

/* ---- loading ----------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Record "state file P is corrupt: <current message>" as VMMK_EPARSE: a
 * damaged journal is never taken for an empty one. */
static int corrupt(const char *path)
{
    const char *why = vmmk_error_last()->message;
    char *msg = vmmk__strdup(why && *why ? why : "unreadable");
    int rc = vmmk__err(VMMK_EPARSE, "state file %s is corrupt: %s", path, msg ? msg : "unreadable");
    free(msg);
    return rc;
}

static int conflict_str(const char *path, const char *field, const char *there, const char *here)
{
    return vmmk__err(VMMK_ECONFLICT,
                     "state file %s belongs to another copy: %s is \"%s\" there, \"%s\" here", path,
                     field, there, here);
}

static int conflict_num(const char *path, const char *field, uint64_t there, uint64_t here)
{
    return vmmk__err(VMMK_ECONFLICT,
                     "state file %s belongs to another copy: %s is %" PRIu64 " there, %" PRIu64
                     " here", path, field, there, here);
}

/* Parse @p text (the file's contents) into @p st, whose identity is already
 * set from the caller's arguments. */
static int load(vmmk__state *st, const char *text, size_t len)
{
    const char *p = st->path;
    json_object *root = NULL;
    char *source = NULL, *dest = NULL, *work = NULL, *done = NULL, *updated = NULL;
    int64_t version = 0, size = 0, chunk_size = 0;
    int rc;

    if ((rc = vmmk__json_parse(&root, text, len)) || (rc = vmmk__json_expect_object(root, "")) ||
        (rc = vmmk__json_int64(root, "", "vmmk_copy_state", VMMK_J_REQUIRED, 0, INT64_MAX,
                               &version, NULL))) {
        rc = corrupt(p);
        goto out;
    }
    if (version != STATE_VERSION) {
        rc = vmmk__err(VMMK_EUNSUPPORTED,
                       "state file %s: version %" PRId64 " is not supported (this libvmmk "
                       "writes version %d)", p, version, STATE_VERSION);
        goto out;
    }
    if ((rc = vmmk__json_string(root, "", "source", VMMK_J_REQUIRED, &source, NULL)) ||
        (rc = vmmk__json_string(root, "", "destination", VMMK_J_REQUIRED, &dest, NULL)) ||
        (rc = vmmk__json_int64(root, "", "size", VMMK_J_REQUIRED, 0, INT64_MAX, &size, NULL)) ||
        (rc = vmmk__json_int64(root, "", "chunk_size", VMMK_J_REQUIRED, 1, INT64_MAX,
                               &chunk_size, NULL)) ||
        (rc = vmmk__json_string(root, "", "work", VMMK_J_REQUIRED, &work, NULL)) ||
        (rc = vmmk__json_string(root, "", "done", VMMK_J_REQUIRED, &done, NULL)) ||
        (rc = vmmk__json_string(root, "", "updated", VMMK_J_NULLABLE, &updated, NULL))) {
        rc = corrupt(p);
        goto out;
    }

    /* Identity first: a journal of another disk also has a bitmap of
     * another length, and "another copy" is the useful message then. */
    if (strcmp(source, st->source) != 0)
        rc = conflict_str(p, "source", source, st->source);
    else if (strcmp(dest, st->dest) != 0)
        rc = conflict_str(p, "destination", dest, st->dest);
    else if ((uint64_t)size != st->size)
        rc = conflict_num(p, "size", (uint64_t)size, st->size);
    else if ((uint64_t)chunk_size != st->chunk_size)
        rc = conflict_num(p, "chunk_size", (uint64_t)chunk_size, st->chunk_size);
    else if (strcmp(work, st->work) != 0)
        rc = conflict_str(p, "work", work, st->work);
    if (rc)
        goto out;

    size_t hexlen = strlen(done);
    if (hexlen != st->nbytes * 2) {
        rc = vmmk__err(VMMK_EPARSE,
                       "state file %s is corrupt: done: %zu hex digits for %" PRIu64
                       " chunks (expected %zu)", p, hexlen, st->chunks, st->nbytes * 2);
        goto out;
    }
    for (size_t i = 0; i < st->nbytes; i++) {
        int hi = hexval(done[2 * i]), lo = hexval(done[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            rc = vmmk__err(VMMK_EPARSE,
                           "state file %s is corrupt: done: not a hex digit at position %zu", p,
                           hi < 0 ? 2 * i : 2 * i + 1);
            goto out;
        }
        st->bits[i] = (unsigned char)(hi << 4 | lo);
    }
    /* Bits past the last chunk are always written as 0. */
    if (st->chunks % 8 && (st->bits[st->nbytes - 1] >> (st->chunks % 8)) != 0) {
        rc = vmmk__err(VMMK_EPARSE, "state file %s is corrupt: done: bits set past chunk %" PRIu64,
                       p, st->chunks - 1);
        goto out;
    }
out:
    json_object_put(root);
    free(source);
    free(dest);
    free(work);
    free(done);
    free(updated);
    return rc;
}

/* The directory must exist and be writable now, not only at the first
 * save, which may come after a long stretch of copying. */
static int check_dir(const vmmk__state *st)
{
    if (access(st->dir, W_OK | X_OK) == 0)
        return 0;
    int e = errno;
    return vmmk__err_full(e == ENOENT ? VMMK_ENOTFOUND : VMMK_EIO, NULL, NULL, 0, e,
                          "state file %s: directory %s: %s", st->path, st->dir, strerror(e));
}

int vmmk__state_open(vmmk__state **out, const char *path, const char *source_id,
                     const char *dest_id, uint64_t size, uint64_t chunk_size,
                     const char *work_id)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk__state_open: out is NULL");
    *out = NULL;
    if (!path || !*path || !source_id || !dest_id || !work_id)
        return vmmk__err(VMMK_EINVAL, "state file: %s is missing",
                         !path || !*path ? "path" : !source_id ? "source identity"
                         : !dest_id ? "destination identity" : "work identity");
    if (strcmp(path, "-") == 0)
        return vmmk__err(VMMK_EINVAL, "state file: \"-\" is not a file");
    if (chunk_size == 0)
        return vmmk__err(VMMK_EINVAL, "state file %s: chunk size 0", path);
    if (size > (uint64_t)INT64_MAX)
        return vmmk__err(VMMK_EINVAL, "state file %s: size %" PRIu64 " is too large", path, size);
    uint64_t chunks = size / chunk_size + (size % chunk_size != 0);
    if (chunks > MAX_CHUNKS)
        return vmmk__err(VMMK_EINVAL,
                         "state file %s: %" PRIu64 " chunks of %" PRIu64 " bytes are more than "
                         "the limit of %" PRIu64 "; use larger chunks", path, chunks, chunk_size,
                         MAX_CHUNKS);

    vmmk__state *st = calloc(1, sizeof *st);
    if (!st)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    st->size = size;
    st->chunk_size = chunk_size;
    st->chunks = chunks;
    st->nbytes = (size_t)((chunks + 7) / 8);
    st->path = strdup(path);
    st->tmp = vmmk__asprintf("%s.tmp", path);
    const char *slash = strrchr(path, '/');
    st->dir = !slash ? strdup(".") : slash == path ? strdup("/")
                                                   : strndup(path, (size_t)(slash - path));
    st->source = strdup(source_id);
    st->dest = strdup(dest_id);
    st->work = strdup(work_id);
    st->bits = calloc(st->nbytes ? st->nbytes : 1, 1);
    if (!st->path || !st->tmp || !st->dir || !st->source || !st->dest || !st->work || !st->bits) {
        vmmk__state_free(st);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }

    char *text = NULL;
    size_t len = 0;
    int rc = vmmk__read_file(&text, &len, path);
    if (rc == VMMK_ENOTFOUND && vmmk_error_last()->sys_errno == ENOENT) {
        /* A new copy: the file appears at the first save. */
        vmmk_error_clear();
        rc = check_dir(st);
    } else if (rc) {
        vmmk__err_prefix("state file");
    } else {
        rc = load(st, text, len);
        free(text);
    }
    if (rc) {
        vmmk__state_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

/* ---- saving ------------------------------------------------------------ */

static char *render(const vmmk__state *st)
{
    static const char digits[] = "0123456789abcdef";
    char *hex = malloc(st->nbytes * 2 + 1);
    if (!hex)
        return NULL;
    for (size_t i = 0; i < st->nbytes; i++) {
        hex[2 * i] = digits[st->bits[i] >> 4];
        hex[2 * i + 1] = digits[st->bits[i] & 15];
    }
    hex[st->nbytes * 2] = '\0';

    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm))
        strcpy(now, "1970-01-01T00:00:00Z");

    char *text = NULL;
    json_object *o = json_object_new_object();
    if (!o ||
        json_object_object_add(o, "vmmk_copy_state", json_object_new_int(STATE_VERSION)) ||
        vmmk__json_add_string(o, "source", st->source) ||
        vmmk__json_add_string(o, "destination", st->dest) ||
        json_object_object_add(o, "size", json_object_new_int64((int64_t)st->size)) ||
        json_object_object_add(o, "chunk_size", json_object_new_int64((int64_t)st->chunk_size)) ||
        vmmk__json_add_string(o, "work", st->work) ||
        vmmk__json_add_string(o, "done", hex) ||
        vmmk__json_add_string(o, "updated", now))
        goto out;
    /* One member per line: small enough to read, and a bitmap of a few
     * MiB stays on its own line. */
    text = vmmk__json_dump(o, VMMK_JSON_PRETTY);
out:
    json_object_put(o);
    free(hex);
    return text;
}

static int sys_err(const vmmk__state *st, const char *what, const char *file)
{
    int e = errno;
    return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "state file %s: %s %s: %s", st->path, what,
                          file, strerror(e));
}

/* fsync the directory so that the rename (or unlink) itself survives a
 * crash.  EINVAL means the file system cannot sync directories (some
 * network and FUSE ones): nothing more can be done there. */
static int sync_dir(const vmmk__state *st)
{
    int fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return sys_err(st, "open directory", st->dir);
    int rc = 0;
    if (fsync(fd) != 0 && errno != EINVAL)
        rc = sys_err(st, "fsync directory", st->dir);
    close(fd);
    return rc;
}

int vmmk__state_save(vmmk__state *st)
{
    if (!st)
        return vmmk__err(VMMK_EINVAL, "vmmk__state_save: state is NULL");
    char *text = render(st);
    if (!text)
        return vmmk__err(VMMK_ENOMEM, "state file %s: out of memory", st->path);
    size_t len = strlen(text);

    /* A leftover temporary (a crash during an earlier save) is simply
     * truncated; O_NOFOLLOW so that a planted symlink is not written
     * through.  fchmod because O_CREAT's mode is filtered by the umask and
     * ignored for an existing file. */
    int fd = open(st->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        free(text);
        return sys_err(st, "create", st->tmp);
    }
    int rc = 0;
    if (fchmod(fd, 0600) != 0) {
        rc = sys_err(st, "chmod", st->tmp);
        goto fail;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = write(fd, text + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = sys_err(st, "write", st->tmp);
            goto fail;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        rc = sys_err(st, "fsync", st->tmp);
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        rc = sys_err(st, "close", st->tmp);
        goto fail;
    }
    fd = -1;
    if (rename(st->tmp, st->path) != 0) {
        rc = sys_err(st, "rename", st->tmp);
        goto fail;
    }
    free(text);
    return sync_dir(st);

fail:
    if (fd >= 0)
        close(fd);
    unlink(st->tmp);
    free(text);
    return rc;
}

int vmmk__state_complete(vmmk__state *st)
{
    if (!st)
        return vmmk__err(VMMK_EINVAL, "vmmk__state_complete: state is NULL");
    if (unlink(st->path) != 0 && errno != ENOENT)
        return sys_err(st, "remove", st->path);
    if (unlink(st->tmp) != 0 && errno != ENOENT)
        return sys_err(st, "remove", st->tmp);
    return sync_dir(st);
}
