/* vmmk_cloud_find_device (libvmmk/cloud/device.c): the block device of an
 * attached volume from the udev by-id links.  Each case builds its own
 * by-id directory in a temp dir, with symlinks to regular files standing
 * in for the disks (device_root outside /dev accepts those), and one case
 * under /dev/shm checks that under /dev only a block device counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vmmk/vmmk.h>
#include "process_fixture.h"

#define VOL "0d3b9f4e-6c1a-4f8e-9d2b-7a5e3c1f0b9a"
#define VOL20 "0d3b9f4e-6c1a-4f8e-9"          /* virtio-blk's 20-byte serial */
#define VOLHEX "0d3b9f4e6c1a4f8e9d2b7a5e3c1f0b9a"
#define OTHER "5f2c1a7b-3e4d-4c5b-8a9f-0e1d2c3b4a59"
#define OTHER20 "5f2c1a7b-3e4d-4c5b-8"
#define THIRD20 "a1b2c3d4-e5f6-4a7b-8"

typedef struct {
    char root[64];             /* temp dir */
    char byid[128];            /* root/by-id: the device_root */
    char dev[128];             /* root/dev: the stand-in disks */
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    snprintf(f->root, sizeof f->root, "/tmp/vmmk-device-XXXXXX");
    if (!mkdtemp(f->root))
        return -1;
    snprintf(f->byid, sizeof f->byid, "%s/by-id", f->root);
    snprintf(f->dev, sizeof f->dev, "%s/dev", f->root);
    if (mkdir(f->byid, 0755) || mkdir(f->dev, 0755))
        return -1;
    vmmk_error_clear();
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    int rc = remove_tree(f->root);
    free(f);
    return rc;
}

/* A stand-in disk root/dev/NAME; its resolved path into @p out
 * (PATH_MAX bytes) unless NULL. */
static void disk(fx *f, const char *name, char *out)
{
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", f->dev, name);
    FILE *fp = fopen(p, "w");
    assert_non_null(fp);
    fclose(fp);
    if (out)
        assert_non_null(realpath(p, out));
}

/* by-id/LINK -> ../dev/TARGET (relative, as udev makes them). */
static void link_to(const char *dir, const char *link, const char *target)
{
    char p[PATH_MAX], t[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, link);
    snprintf(t, sizeof t, "../dev/%s", target);
    assert_int_equal(symlink(t, p), 0);
}

static char *find_ok(fx *f, const char *id, unsigned timeout)
{
    char *dev = NULL;
    int rc = vmmk_cloud_find_device(&dev, id, f->byid, timeout);
    if (rc)
        fail_msg("find_device: rc %d: %s", rc, vmmk_error_last()->message);
    assert_non_null(dev);
    return dev;
}

static void find_err(const char *root, const char *id, unsigned timeout, int code)
{
    char *dev = (char *)"untouched";
    int rc = vmmk_cloud_find_device(&dev, id, root, timeout);
    if (rc != code)
        fail_msg("rc %d, want %d: %s", rc, code, vmmk_error_last()->message);
    assert_null(dev);
    assert_int_equal(vmmk_error_last()->code, code);
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("\"%s\" not in \"%s\"", needle, hay);
}

/* Each naming form on its own, in a fresh directory, gives the disk. */
static void test_each_form(void **state)
{
    fx *f = *state;
    static const char *const links[] = {
        "virtio-" VOL20,
        "scsi-0QEMU_QEMU_HARDDISK_" VOL,
        "scsi-SQEMU_QEMU_HARDDISK_" VOL,
        "scsi-0QEMU_QEMU_HARDDISK_" VOL20,          /* older QEMU: cut to 20 */
        "scsi-SQEMU_QEMU_HARDDISK_0d3b9f4e-6c1a-4f8e-9d2b",  /* any cut >= 20 */
        "ata-QEMU_HARDDISK_" VOL20,
        "wwn-0x" VOLHEX,
        "wwn-0x0d3b9f4e6c1a4f8e",                   /* 64-bit WWN: 16 hex digits */
        "nvme-QEMU_NVMe_Ctrl_" VOL20,
        "nvme-QEMU_NVMe_Ctrl_" VOL20 "_1",          /* newer udev adds the nsid */
        "nvme-uuid." VOL,
    };
    char want[PATH_MAX];
    disk(f, "vdb", want);
    for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
        link_to(f->byid, links[i], "vdb");
        char *dev = find_ok(f, VOL, 1);
        if (strcmp(dev, want) != 0)
            fail_msg("%s: got %s, want %s", links[i], dev, want);
        vmmk_string_free(dev);
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", f->byid, links[i]);
        assert_int_equal(unlink(p), 0);
    }
}

/* The id may be given in capitals; the links carry what Nova gave. */
static void test_case_insensitive(void **state)
{
    fx *f = *state;
    char want[PATH_MAX];
    disk(f, "vdc", want);
    link_to(f->byid, "virtio-" VOL20, "vdc");
    char *dev = find_ok(f, "0D3B9F4E-6C1A-4F8E-9D2B-7A5E3C1F0B9A", 1);
    assert_string_equal(dev, want);
    vmmk_string_free(dev);
}

/* All the names one disk has at once: still one device, no conflict;
 * partitions and other volumes' disks around it are not taken. */
static void test_real_directory(void **state)
{
    fx *f = *state;
    char want[PATH_MAX];
    disk(f, "sdb", want);
    disk(f, "sdb1", NULL);
    disk(f, "sdc", NULL);
    disk(f, "vda", NULL);
    disk(f, "vda1", NULL);
    link_to(f->byid, "scsi-0QEMU_QEMU_HARDDISK_" VOL, "sdb");
    link_to(f->byid, "scsi-SQEMU_QEMU_HARDDISK_" VOL, "sdb");
    link_to(f->byid, "wwn-0x" VOLHEX, "sdb");
    link_to(f->byid, "scsi-0QEMU_QEMU_HARDDISK_" VOL "-part1", "sdb1");
    link_to(f->byid, "scsi-SQEMU_QEMU_HARDDISK_" VOL "-part1", "sdb1");
    link_to(f->byid, "wwn-0x" VOLHEX "-part1", "sdb1");
    link_to(f->byid, "scsi-0QEMU_QEMU_HARDDISK_" OTHER, "sdc");
    link_to(f->byid, "virtio-" THIRD20, "vda");
    link_to(f->byid, "virtio-" THIRD20 "-part1", "vda1");
    link_to(f->byid, "ata-QEMU_DVD-ROM_QM00001", "vda");
    char *dev = find_ok(f, VOL, 1);
    assert_string_equal(dev, want);
    vmmk_string_free(dev);

    /* The other volume is found the same way. */
    char other[PATH_MAX];
    assert_non_null(realpath(f->dev, other));
    strcat(other, "/sdc");
    dev = find_ok(f, OTHER, 1);
    assert_string_equal(dev, other);
    vmmk_string_free(dev);
}

/* Only a -partN link: the whole disk is wanted, so nothing is found. */
static void test_partition_only(void **state)
{
    fx *f = *state;
    disk(f, "vdb1", NULL);
    link_to(f->byid, "virtio-" VOL20 "-part1", "vdb1");
    link_to(f->byid, "virtio-" VOL20 "-part12", "vdb1");
    find_err(f->byid, VOL, 1, VMMK_ETIMEOUT);
}

/* Serials shorter than 20 characters, or that are not a prefix of the
 * id, do not count. */
static void test_truncation_limits(void **state)
{
    fx *f = *state;
    disk(f, "sdx", NULL);
    link_to(f->byid, "virtio-0d3b9f4e-6c1a-4f8e-", "sdx");              /* 19 */
    link_to(f->byid, "scsi-0QEMU_QEMU_HARDDISK_0d3b9f4e-6c1a-4f8", "sdx");  /* 17 */
    link_to(f->byid, "scsi-SQEMU_QEMU_HARDDISK_0d3b9f4e-6c1a-4f8e-9d2c", "sdx");  /* differs */
    link_to(f->byid, "scsi-SQEMU_QEMU_HARDDISK_" VOL "0", "sdx");       /* longer than the id */
    link_to(f->byid, "wwn-0x0d3b9f4e6c1a4f8", "sdx");                    /* 15 hex */
    link_to(f->byid, "wwn-0x" VOL, "sdx");                               /* with dashes */
    link_to(f->byid, "nvme-eui." VOLHEX, "sdx");
    link_to(f->byid, "nvme-uuid." VOL20, "sdx");                         /* uuid is whole */
    link_to(f->byid, "nvme-" VOL20, "sdx");                              /* no model */
    link_to(f->byid, "virtio-", "sdx");
    link_to(f->byid, "usb-" VOL, "sdx");                                 /* unknown bus */
    find_err(f->byid, VOL, 1, VMMK_ETIMEOUT);
}

static void test_timeout_message(void **state)
{
    fx *f = *state;
    find_err(f->byid, VOL, 1, VMMK_ETIMEOUT);
    const char *m = vmmk_error_last()->message;
    assert_contains(m, "volume " VOL ": no device in ");
    assert_contains(m, f->byid);
    assert_contains(m, "after 1 s");
    assert_contains(m, "virtio-" VOL20 ",");
    assert_contains(m, "scsi-0QEMU_QEMU_HARDDISK_" VOL);
    assert_contains(m, "scsi-SQEMU_QEMU_HARDDISK_" VOL);
    assert_contains(m, "wwn-0x" VOLHEX);
    assert_contains(m, "is the volume attached to this server?");
}

/* A directory (or anything but a disk) behind a matching name is not
 * taken, and the timeout says what was seen. */
static void test_not_a_disk(void **state)
{
    fx *f = *state;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/adir", f->dev);
    assert_int_equal(mkdir(p, 0755), 0);
    link_to(f->byid, "virtio-" VOL20, "adir");
    link_to(f->byid, "wwn-0x" VOLHEX, "missing");                        /* dangling */
    find_err(f->byid, VOL, 1, VMMK_ETIMEOUT);
    assert_contains(vmmk_error_last()->message, "virtio-" VOL20 " -> ");
    assert_contains(vmmk_error_last()->message, "/adir is not a block device");
}

/* Two different disks both claim the volume: refuse, naming both. */
static void test_ambiguous(void **state)
{
    fx *f = *state;
    char a[PATH_MAX], b[PATH_MAX];
    disk(f, "vdb", a);
    disk(f, "sdb", b);
    link_to(f->byid, "virtio-" VOL20, "vdb");
    link_to(f->byid, "scsi-0QEMU_QEMU_HARDDISK_" VOL, "sdb");
    find_err(f->byid, VOL, 5, VMMK_ECONFLICT);
    const char *m = vmmk_error_last()->message;
    assert_contains(m, "volume " VOL ": two devices in ");
    assert_contains(m, a);
    assert_contains(m, b);
    assert_contains(m, "virtio-" VOL20);
    assert_contains(m, "scsi-0QEMU_QEMU_HARDDISK_" VOL);
}

static void test_bad_ids(void **state)
{
    fx *f = *state;
    static const char *const bad[] = {
        "", "../" VOL, VOL "/x", "vol-1", VOL20, VOL "0",
        "0d3b9f4e_6c1a_4f8e_9d2b_7a5e3c1f0b9a", "zd3b9f4e-6c1a-4f8e-9d2b-7a5e3c1f0b9a",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        find_err(f->byid, bad[i], 1, VMMK_EINVAL);
        if (*bad[i])
            assert_contains(vmmk_error_last()->message, bad[i]);
    }
    assert_contains(vmmk_error_last()->message, "not a volume id");
    find_err(f->byid, "", 1, VMMK_EINVAL);
    assert_contains(vmmk_error_last()->message, "empty");
    find_err(f->byid, "a/b", 1, VMMK_EINVAL);
    assert_contains(vmmk_error_last()->message, "'/'");
    find_err(f->byid, NULL, 1, VMMK_EINVAL);
    assert_int_equal(vmmk_cloud_find_device(NULL, VOL, f->byid, 1), VMMK_EINVAL);

    /* A 32-hex id (no dashes) is an id too. */
    char want[PATH_MAX];
    disk(f, "vdh", want);
    link_to(f->byid, "virtio-0d3b9f4e6c1a4f8e9d2b", "vdh");
    char *dev = find_ok(f, VOLHEX, 1);
    assert_string_equal(dev, want);
    vmmk_string_free(dev);
}

/* ---- links that appear while waiting -------------------------------- */

typedef struct {
    fx *f;
    unsigned delay_ms;
    bool make_root;            /* the by-id directory itself comes late */
} late;

static void *make_late(void *p)
{
    late *l = p;
    struct timespec ts = { l->delay_ms / 1000, (long)(l->delay_ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    if (l->make_root)
        mkdir(l->f->byid, 0755);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/virtio-" VOL20, l->f->byid);
    if (symlink("../dev/vde", path) != 0)
        perror(path);
    return NULL;
}

static void test_appears_later(void **state)
{
    fx *f = *state;
    char want[PATH_MAX];
    disk(f, "vde", want);
    late l = { f, 600, false };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, make_late, &l), 0);
    char *dev = find_ok(f, VOL, 20);
    pthread_join(t, NULL);
    assert_string_equal(dev, want);
    vmmk_string_free(dev);
}

static void test_root_appears_later(void **state)
{
    fx *f = *state;
    char want[PATH_MAX];
    disk(f, "vde", want);
    assert_int_equal(rmdir(f->byid), 0);
    late l = { f, 500, true };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, make_late, &l), 0);
    char *dev = find_ok(f, VOL, 20);
    pthread_join(t, NULL);
    assert_string_equal(dev, want);
    vmmk_string_free(dev);
}

static void test_root_missing(void **state)
{
    fx *f = *state;
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/no-such-dir", f->root);
    find_err(missing, VOL, 1, VMMK_ETIMEOUT);
    assert_contains(vmmk_error_last()->message, missing);
    assert_contains(vmmk_error_last()->message, "does not exist");
    assert_contains(vmmk_error_last()->message, "virtio-" VOL20);

    /* A root that is a file cannot become a directory by waiting. */
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s/dev/plain", f->root);
    disk(f, "plain", NULL);
    find_err(file, VOL, 1, VMMK_EIO);
    assert_contains(vmmk_error_last()->message, file);
}

/* ---- under /dev only block devices count ----------------------------- */

static void test_under_dev_needs_block_device(void **state)
{
    (void)state;
    char dir[] = "/dev/shm/vmmk-device-XXXXXX";
    if (!mkdtemp(dir))
        skip();                /* no writable /dev/shm here */
    char file[PATH_MAX], link[PATH_MAX];
    snprintf(file, sizeof file, "%s/vdb", dir);
    FILE *fp = fopen(file, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(link, sizeof link, "%s/virtio-" VOL20, dir);
    assert_int_equal(symlink("vdb", link), 0);
    find_err(dir, VOL, 1, VMMK_ETIMEOUT);
    assert_contains(vmmk_error_last()->message, "not a block device");
    unlink(link);

    /* A character device is not a disk either. */
    assert_int_equal(symlink("/dev/null", link), 0);
    find_err(dir, VOL, 1, VMMK_ETIMEOUT);
    unlink(link);

    /* Any block device this machine has (loop devices usually exist). */
    char blk[PATH_MAX] = "";
    DIR *d = opendir("/dev");
    struct dirent *e;
    while (d && !*blk && (e = readdir(d)) != NULL) {
        char p[PATH_MAX];
        struct stat st;
        snprintf(p, sizeof p, "/dev/%s", e->d_name);
        if (lstat(p, &st) == 0 && S_ISBLK(st.st_mode))
            snprintf(blk, sizeof blk, "%s", p);
    }
    if (d)
        closedir(d);
    if (*blk) {
        assert_int_equal(symlink(blk, link), 0);
        char *dev = NULL;
        int rc = vmmk_cloud_find_device(&dev, VOL, dir, 1);
        if (rc)
            fail_msg("%s: %s", blk, vmmk_error_last()->message);
        assert_string_equal(dev, blk);
        vmmk_string_free(dev);
        unlink(link);
    }
    unlink(file);
    rmdir(dir);
    if (!*blk)
        skip();                /* the block device half needs one in /dev */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_each_form, setup, teardown),
        cmocka_unit_test_setup_teardown(test_case_insensitive, setup, teardown),
        cmocka_unit_test_setup_teardown(test_real_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partition_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncation_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_message, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ambiguous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_appears_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_appears_later, setup, teardown),
        cmocka_unit_test_setup_teardown(test_root_missing, setup, teardown),
        cmocka_unit_test(test_under_dev_needs_block_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
