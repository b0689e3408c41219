/* The block device of an attached Cinder volume on this host, found
 * through the persistent names udev gives disks in /dev/disk/by-id
 * (vmmk_cloud_find_device, vmmk/cloud.h).
 *
 * The device name Nova reports ("/dev/vdb") is only a guess: the guest
 * kernel picks its own names.  What does survive is the serial number
 * Nova gives the disk, which is the volume id, and udev turns it into:
 *
 *   virtio-<serial>                      virtio-blk (serial cut to 20 bytes)
 *   scsi-0QEMU_QEMU_HARDDISK_<serial>    virtio-scsi, from VPD page 0x83;
 *   scsi-SQEMU_QEMU_HARDDISK_<serial>    and page 0x80 (older QEMU cuts
 *                                        the serial to 20 bytes, newer to 36)
 *   ata-QEMU_HARDDISK_<serial>           SATA/IDE bus (20 bytes)
 *   nvme-<model>_<serial>[_<nsid>]       NVMe (serial field is 20 bytes)
 *   nvme-uuid.<id>                       NVMe namespace UUID (NVMe-oF)
 *   wwn-0x<hex>                          a WWN derived from the id's hex
 *
 * So a link matches when the serial part is a prefix of the volume id of
 * at least 20 characters (or the whole id); for wwn-0x the hex digits are
 * compared with the id without its dashes, at least 16 of them (a 64-bit
 * NAA name).  A 20-character prefix is 72 random bits of a UUID, so two
 * volumes sharing one is not a practical concern; two *different* devices
 * matching is still checked and reported rather than guessed between. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/internal.h"
#include "cloud_int.h"

#define DEFAULT_ROOT "/dev/disk/by-id"
#define DEFAULT_TIMEOUT_S 60
#define POLL_NS 200000000L     /* 0.2 s: small next to udev's lag, and a pass is one readdir */
#define MIN_SERIAL 20          /* virtio-blk's serial length; anything shorter is a guess */
#define MIN_WWN 16             /* hex digits of a 64-bit WWN */

/* Link prefixes followed directly by the (possibly cut) serial. */
static const char *const serial_prefixes[] = {
    "virtio-",
    "scsi-0QEMU_QEMU_HARDDISK_",
    "scsi-SQEMU_QEMU_HARDDISK_",
    "ata-QEMU_HARDDISK_",
};

/* Is s[0..n) a prefix of @p id, at least @p min long (or all of it)? */
static bool id_prefix(const char *s, size_t n, const char *id, size_t min)
{
    size_t idl = strlen(id);
    return n <= idl && (n >= min || n == idl) && n > 0 && strncasecmp(s, id, n) == 0;
}

/* "-part<digits>" at the end: a partition, not the whole disk. */
static bool is_partition(const char *name)
{
    const char *p = strstr(name, "-part");
    while (p) {
        const char *d = p + 5;
        if (*d) {
            while (isdigit((unsigned char)*d))
                d++;
            if (!*d)
                return true;
        }
        p = strstr(p + 1, "-part");
    }
    return false;
}

/* NVMe: "nvme-<model>_<serial>" with an optional "_<nsid>" that newer
 * udev rules add; the model may itself contain underscores, so the serial
 * is whatever follows the last (or, before an nsid, the second-to-last)
 * underscore. */
static bool nvme_matches(const char *rest, const char *id)
{
    if (strncasecmp(rest, "uuid.", 5) == 0)
        return strcasecmp(rest + 5, id) == 0;
    if (strncasecmp(rest, "eui.", 4) == 0)
        return false;
    const char *end = rest + strlen(rest);
    const char *us = strrchr(rest, '_');
    if (!us)
        return false;
    if (id_prefix(us + 1, (size_t)(end - us - 1), id, MIN_SERIAL))
        return true;
    /* "_<nsid>": step back over it. */
    const char *d = us + 1;
    while (isdigit((unsigned char)*d))
        d++;
    if (d == us + 1 || *d)
        return false;
    const char *prev = us;
    while (prev > rest && prev[-1] != '_')
        prev--;
    return prev > rest && id_prefix(prev, (size_t)(us - prev), id, MIN_SERIAL);
}

/* Does by-id name @p name belong to the volume (@p hex: id without dashes)? */
static bool name_matches(const char *name, const char *id, const char *hex)
{
    if (is_partition(name))
        return false;
    for (size_t i = 0; i < sizeof serial_prefixes / sizeof *serial_prefixes; i++) {
        size_t pl = strlen(serial_prefixes[i]);
        if (strncmp(name, serial_prefixes[i], pl) == 0)
            return id_prefix(name + pl, strlen(name + pl), id, MIN_SERIAL);
    }
    if (strncmp(name, "wwn-0x", 6) == 0)
        return id_prefix(name + 6, strlen(name + 6), hex, MIN_WWN);
    if (strncmp(name, "nvme-", 5) == 0)
        return nvme_matches(name + 5, id);
    return false;
}

typedef struct {
    const char *id;
    char hex[40];
    const char *root;
    char *device;              /* resolved target of the first match */
    char *link;                /* its by-id name */
    char *skipped;             /* a match whose target was not a block device */
} search;

static void search_clear(search *s)
{
    free(s->device);
    free(s->link);
    free(s->skipped);
}

/* Is @p root inside /dev?  Only there must a match be a block device:
 * tests (and anyone checking the matching rules) point device_root at a
 * directory of links to regular files, which could not be block devices
 * without root privileges.  Decided on the resolved path so that a
 * symlink into /dev does not escape the check. */
static bool under_dev(const char *root)
{
    char *r = realpath(root, NULL);
    const char *p = r ? r : root;
    bool dev = strcmp(p, "/dev") == 0 || strncmp(p, "/dev/", 5) == 0;
    free(r);
    return dev;
}

/* One pass over the directory.  *found true when a device was found;
 * *missing true when the directory does not exist (yet). */
static int scan(search *s, bool *found, bool *missing)
{
    *found = false;
    *missing = false;
    DIR *d = opendir(s->root);
    if (!d) {
        if (errno == ENOENT) {
            *missing = true;
            return 0;
        }
        return vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "volume %s: cannot read %s: %s",
                              s->id, s->root, strerror(errno));
    }
    bool need_blk = under_dev(s->root);
    int rc = 0;
    struct dirent *e;
    while (!rc && (errno = 0, e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !name_matches(e->d_name, s->id, s->hex))
            continue;
        char *path = vmmk__asprintf("%s/%s", s->root, e->d_name);
        if (!path) {
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
            break;
        }
        char *target = realpath(path, NULL);
        free(path);
        struct stat st;
        /* A dangling link is udev half-way through: look again next pass. */
        if (!target || stat(target, &st) != 0) {
            free(target);
            continue;
        }
        bool ok = S_ISBLK(st.st_mode) || (!need_blk && S_ISREG(st.st_mode));
        if (!ok) {
            if (!s->skipped)
                s->skipped = vmmk__asprintf("%s -> %s", e->d_name, target);
            free(target);
            continue;
        }
        if (!s->device) {
            s->device = target;
            if (!(s->link = strdup(e->d_name)))
                rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        } else if (strcmp(s->device, target) != 0) {
            rc = vmmk__err(VMMK_ECONFLICT,
                           "volume %s: two devices in %s match: %s (%s) and %s (%s); "
                           "detach the stale one or pass the device explicitly",
                           s->id, s->root, s->device, s->link, target, e->d_name);
            free(target);
        } else {
            free(target);      /* another name of the same disk */
        }
    }
    if (!rc && !e && errno)
        rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, errno, "volume %s: reading %s: %s", s->id,
                            s->root, strerror(errno));
    closedir(d);
    if (!rc && s->device)
        *found = true;
    return rc;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int check_id(const char *id)
{
    if (!*id)
        return vmmk__err(VMMK_EINVAL, "find device: the volume id is empty");
    if (strchr(id, '/'))
        return vmmk__err(VMMK_EINVAL, "find device: \"%s\" is not a volume id (it contains '/')",
                         id);
    if (!vmmk__looks_like_id(id))
        return vmmk__err(VMMK_EINVAL,
                         "find device: \"%s\" is not a volume id (expected a UUID such as "
                         "0d3b9f4e-6c1a-4f8e-9d2b-7a5e3c1f0b9a)", id);
    return 0;
}

int vmmk_cloud_find_device(char **out, const char *volume_id, const char *device_root,
                           unsigned timeout_s)
{
    if (out)
        *out = NULL;
    if (!out || !volume_id)
        return vmmk__err(VMMK_EINVAL, "vmmk_cloud_find_device: NULL argument");
    int rc = check_id(volume_id);
    if (rc)
        return rc;
    search s = { .id = volume_id };
    s.root = device_root && *device_root ? device_root : DEFAULT_ROOT;
    size_t h = 0;
    for (const char *p = volume_id; *p; p++)
        if (*p != '-')
            s.hex[h++] = *p;
    s.hex[h] = '\0';
    unsigned limit = timeout_s ? timeout_s : DEFAULT_TIMEOUT_S;
    double deadline = now_s() + limit;
    bool found = false, missing = false;
    for (;;) {
        if ((rc = scan(&s, &found, &missing)) || found)
            break;
        if (now_s() >= deadline)
            break;
        struct timespec ts = { 0, POLL_NS };
        nanosleep(&ts, NULL);
    }
    if (!rc && found) {
        vmmk__log(VMMK_LOG_DEBUG, "volume %s is %s (%s/%s)", volume_id, s.device, s.root, s.link);
        *out = s.device;
        s.device = NULL;
    } else if (!rc) {
        vmmk__buf m = { 0 };
        if (missing)
            vmmk__buf_printf(&m, "volume %s: %s does not exist after %u s", volume_id, s.root,
                             limit);
        else
            vmmk__buf_printf(&m, "volume %s: no device in %s after %u s", volume_id, s.root,
                             limit);
        vmmk__buf_printf(&m,
                         " (looked for virtio-%.20s, scsi-0QEMU_QEMU_HARDDISK_%s, "
                         "scsi-SQEMU_QEMU_HARDDISK_%s, ata-QEMU_HARDDISK_%.20s, nvme-*_%.20s, "
                         "nvme-uuid.%s, wwn-0x%s, or these serials cut to no less than %d "
                         "characters)",
                         volume_id, volume_id, volume_id, volume_id, volume_id, volume_id, s.hex,
                         MIN_SERIAL);
        if (s.skipped)
            vmmk__buf_printf(&m, "; %s is not a block device", s.skipped);
        vmmk__buf_puts(&m, "; is the volume attached to this server?");
        char *msg = vmmk__buf_take(&m);
        rc = msg ? vmmk__err(VMMK_ETIMEOUT, "%s", msg) : vmmk__err(VMMK_ENOMEM, "out of memory");
        free(msg);
    }
    search_clear(&s);
    return rc;
}
