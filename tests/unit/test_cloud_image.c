/* Glance through libvmmk/cloud/image.c, against the OpenStack sandbox
 * (tests/openstack/ostack.sh; Glance with its file store) as the user of
 * project demo: records and properties, and uploads from a callback (known
 * size and chunked), a file and an nbdkit source, each checked against
 * the MD5 (checksum) and SHA-512 (os_hash_value) Glance computed itself.
 *
 * Images made here are named vmmk-t<pid>-...; teardown deletes this run's
 * and those of runs whose process is gone. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <vmmk/vmmk.h>

#include "cloud_fixture.h"

#define ASSERT_ERR(expr, code, piece)                                                      \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        const char *m_ = vmmk_error_last()->message;                                       \
        if (rc_ != (code) || !strstr(m_, (piece)))                                         \
            fail_msg("%s -> %d (want %d) \"%s\" (want it to contain \"%s\")", #expr, rc_, \
                     (code), m_, (piece));                                                 \
    } while (0)

typedef struct fx {
    vmmk_cloud *c;
} fx;

/* Delete the images named vmmk-t<pid>-* of this process (@p mine) or of
 * processes that are gone. */
static void sweep_images(vmmk_cloud *c, bool mine)
{
    char *body = NULL;
    if (vmmk_cloud_request(&body, NULL, c, "image", "GET", "/v2/images?limit=1000", NULL))
        return;
    json_object *root = json_tokener_parse(body), *images = NULL;
    vmmk_string_free(body);
    if (!root || !json_object_object_get_ex(root, "images", &images)) {
        json_object_put(root);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(images); i++) {
        json_object *im = json_object_array_get_idx(images, i), *v;
        const char *name = json_object_object_get_ex(im, "name", &v) && v
                               ? json_object_get_string(v) : "";
        const char *id = json_object_object_get_ex(im, "id", &v) ? json_object_get_string(v) : NULL;
        long pid = 0;
        if (!id || sscanf(name, "vmmk-t%ld-img", &pid) != 1 || pid <= 0)
            continue;
        bool gone = kill((pid_t)pid, 0) == -1 && errno == ESRCH;
        if ((mine && pid == (long)getpid()) || (!mine && gone))
            (void)vmmk_cloud_image_delete(c, id);
    }
    json_object_put(root);
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    *state = f;
    if (!getenv("VMMK_OS_CLOUDS"))
        return 0;   /* each test skips (or fails) with the reason */
    vmmk_cloud_options o = VMMK_CLOUD_OPTIONS_INIT;
    o.cloud = "vmmk-demo";
    o.clouds_file = getenv("VMMK_OS_CLOUDS");
    o.timeout = 120;
    if (vmmk_cloud_open(&f->c, &o) == 0)
        sweep_images(f->c, false);
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->c) {
        sweep_images(f->c, true);
        vmmk_cloud_free(f->c);
    }
    free(f);
    return 0;
}

static vmmk_cloud *cloud(fx *f)
{
    if (!f->c)
        f->c = cloud_fixture_open("vmmk-demo");
    return f->c;
}

/* ---- digests ----------------------------------------------------------- */

typedef struct digests {
    EVP_MD_CTX *md5, *sha512;
    uint64_t bytes;
} digests;

static void digests_init(digests *d)
{
    d->md5 = EVP_MD_CTX_new();
    d->sha512 = EVP_MD_CTX_new();
    assert_true(d->md5 && d->sha512);
    assert_int_equal(EVP_DigestInit_ex(d->md5, EVP_md5(), NULL), 1);
    assert_int_equal(EVP_DigestInit_ex(d->sha512, EVP_sha512(), NULL), 1);
    d->bytes = 0;
}

static void digests_update(digests *d, const void *p, size_t n)
{
    EVP_DigestUpdate(d->md5, p, n);
    EVP_DigestUpdate(d->sha512, p, n);
    d->bytes += n;
}

static void hex_final(EVP_MD_CTX *ctx, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    assert_int_equal(EVP_DigestFinal_ex(ctx, md, &len), 1);
    for (unsigned i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
}

/* The image @p id must be active with @p d's size, MD5 and SHA-512. */
static void assert_stored(vmmk_cloud *c, const char *id, digests *d)
{
    char md5[33], sha512[129];
    hex_final(d->md5, md5);
    hex_final(d->sha512, sha512);
    vmmk_cloud_image *img = NULL;
    CLOUD_OK(vmmk_cloud_image_get(&img, c, id));
    assert_string_equal(img->status, "active");
    assert_int_equal(img->size, d->bytes);
    assert_non_null(img->checksum);
    assert_string_equal(img->checksum, md5);
    json_object *o = json_tokener_parse(img->raw_json), *v;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "os_hash_algo", &v));
    assert_string_equal(json_object_get_string(v), "sha512");
    assert_true(json_object_object_get_ex(o, "os_hash_value", &v));
    assert_string_equal(json_object_get_string(v), sha512);
    json_object_put(o);
    /* Core attributes are not properties. */
    assert_null(vmmk_properties_get(img->properties, "os_hash_value"));
    assert_null(vmmk_properties_get(img->properties, "size"));
    vmmk_cloud_image_free(img);
}

/* ---- a generated stream ------------------------------------------------ */

typedef struct gen {
    uint64_t state, left;
    digests d;
    uint64_t fail_after;       /* 0 = never */
} gen;

static ssize_t gen_read(void *payload, void *buf, size_t len)
{
    gen *g = payload;
    if (g->fail_after && g->d.bytes >= g->fail_after) {
        vmmk_error_clear();
        return VMMK_EIO;   /* recording nothing, as a careless reader would */
    }
    size_t n = len < g->left ? len : (size_t)g->left;
    unsigned char *p = buf;
    for (size_t i = 0; i < n; i++) {
        g->state ^= g->state << 13;
        g->state ^= g->state >> 7;
        g->state ^= g->state << 17;
        p[i] = (unsigned char)(g->state >> 24);
    }
    /* Runs of zeros too: a disk has them. */
    if (n > 4096 && (g->d.bytes / 65536) % 3 == 0)
        memset(p, 0, n / 2);
    digests_update(&g->d, p, n);
    g->left -= n;
    return (ssize_t)n;
}

static vmmk_cloud_image *make_image(vmmk_cloud *c, const char *tag)
{
    vmmk_properties *props = NULL;
    CLOUD_OK(vmmk_properties_new(&props));
    CLOUD_OK(vmmk_properties_set(props, "hw_disk_bus", "scsi"));
    CLOUD_OK(vmmk_properties_set(props, "hw_firmware_type", "uefi"));
    const char *tags[] = { "vmmk-test" };
    vmmk_cloud_image_spec spec = VMMK_CLOUD_IMAGE_CREATE_INIT;
    spec.name = cloud_fixture_name(tag);
    spec.properties = props;
    spec.tags = tags;
    spec.n_tags = 1;
    spec.min_disk_gib = 1;
    vmmk_cloud_image *img = NULL;
    CLOUD_OK(vmmk_cloud_image_create(&img, c, &spec));
    vmmk_properties_free(props);
    assert_string_equal(img->name, spec.name);
    return img;
}

/* ---- tests ------------------------------------------------------------- */

static void test_image_record_and_upload(void **state)
{
    fx *f = *state;
    vmmk_cloud *c = cloud(f);
    vmmk_cloud_image *img = make_image(c, "img-known");
    assert_string_equal(img->status, "queued");
    assert_string_equal(img->disk_format, "raw");
    assert_string_equal(img->container_format, "bare");
    assert_int_equal(img->size, 0);
    assert_null(img->checksum);
    assert_string_equal(vmmk_properties_get(img->properties, "hw_disk_bus"), "scsi");
    assert_string_equal(vmmk_properties_get(img->properties, "hw_firmware_type"), "uefi");
    assert_null(vmmk_properties_get(img->properties, "name"));
    assert_null(vmmk_properties_get(img->properties, "tags"));
    assert_non_null(strstr(img->raw_json, "\"visibility\":\"private\""));
    assert_non_null(strstr(img->raw_json, "\"vmmk-test\""));
    char *json = NULL;
    CLOUD_OK(vmmk_cloud_image_to_json(&json, img, VMMK_JSON_PRETTY));
    assert_non_null(strstr(json, "hw_firmware_type"));
    vmmk_string_free(json);

    gen g = { .state = 0x9E3779B97F4A7C15ull, .left = 3 * 1024 * 1024 + 4321 };
    digests_init(&g.d);
    int64_t size = (int64_t)g.left;
    CLOUD_OK(vmmk_cloud_image_upload(c, img->id, gen_read, &g, size, 0));
    assert_int_equal(g.left, 0);
    assert_stored(c, img->id, &g.d);

    /* Its data is there: a second upload is refused. */
    gen g2 = { .state = 1, .left = 1000 };
    digests_init(&g2.d);
    ASSERT_ERR(vmmk_cloud_image_upload(c, img->id, gen_read, &g2, 1000, 0), VMMK_ECONFLICT,
               img->id);
    EVP_MD_CTX_free(g2.d.md5);
    EVP_MD_CTX_free(g2.d.sha512);

    /* Properties: replace one, add one; then find it by name. */
    vmmk_properties *props = NULL;
    CLOUD_OK(vmmk_properties_new(&props));
    CLOUD_OK(vmmk_properties_set(props, "hw_disk_bus", "virtio"));
    CLOUD_OK(vmmk_properties_set(props, "os_distro", "debian"));
    CLOUD_OK(vmmk_cloud_image_set_properties(c, img->id, props));
    CLOUD_OK(vmmk_properties_set(props, "min_ram", "512"));
    ASSERT_ERR(vmmk_cloud_image_set_properties(c, img->id, props), VMMK_EINVAL,
               "\"min_ram\" is an image attribute");
    vmmk_properties_free(props);
    vmmk_cloud_image *by_name = NULL;
    CLOUD_OK(vmmk_cloud_image_get(&by_name, c, img->name));
    assert_string_equal(by_name->id, img->id);
    assert_string_equal(vmmk_properties_get(by_name->properties, "hw_disk_bus"), "virtio");
    assert_string_equal(vmmk_properties_get(by_name->properties, "os_distro"), "debian");
    assert_string_equal(vmmk_properties_get(by_name->properties, "hw_firmware_type"), "uefi");
    vmmk_cloud_image_free(by_name);

    /* Delete, twice; then it is gone. */
    CLOUD_OK(vmmk_cloud_image_delete(c, img->id));
    CLOUD_OK(vmmk_cloud_image_delete(c, img->id));
    by_name = NULL;
    ASSERT_ERR(vmmk_cloud_image_get(&by_name, c, img->id), VMMK_ENOTFOUND, img->id);
    ASSERT_ERR(vmmk_cloud_image_get(&by_name, c, "vmmk-no-such-image"), VMMK_ENOTFOUND,
               "no image named \"vmmk-no-such-image\"");
    vmmk_cloud_image_free(img);
}

static void test_image_upload_chunked_and_failing(void **state)
{
    fx *f = *state;
    vmmk_cloud *c = cloud(f);
    vmmk_cloud_image *img = make_image(c, "img-chunked");
    gen g = { .state = 0x1234567887654321ull, .left = 2 * 1024 * 1024 + 17 };
    digests_init(&g.d);
    CLOUD_OK(vmmk_cloud_image_upload(c, img->id, gen_read, &g, -1, 0));
    assert_stored(c, img->id, &g.d);
    CLOUD_OK(vmmk_cloud_image_delete(c, img->id));
    vmmk_cloud_image_free(img);

    /* A reader that fails: its code comes back, and the image takes no
     * data. */
    img = make_image(c, "img-fail");
    gen bad = { .state = 7, .left = 4 * 1024 * 1024, .fail_after = 1024 * 1024 };
    digests_init(&bad.d);
    ASSERT_ERR(vmmk_cloud_image_upload(c, img->id, gen_read, &bad, (int64_t)bad.left, 0),
               VMMK_EIO, "reader");
    assert_non_null(strstr(vmmk_error_last()->message, img->id));
    EVP_MD_CTX_free(bad.d.md5);
    EVP_MD_CTX_free(bad.d.sha512);
    vmmk_cloud_image *now = NULL;
    CLOUD_OK(vmmk_cloud_image_get(&now, c, img->id));
    assert_string_not_equal(now->status, "active");
    vmmk_cloud_image_free(now);
    CLOUD_OK(vmmk_cloud_image_delete(c, img->id));
    vmmk_cloud_image_free(img);

    gen small = { .state = 3, .left = 10 };
    digests_init(&small.d);
    ASSERT_ERR(vmmk_cloud_image_upload(c, "0b0e3c4d-0000-4000-8000-000000000000", gen_read,
                                       &small, 10, 0),
               VMMK_ENOTFOUND, "0b0e3c4d-0000-4000-8000-000000000000");
    EVP_MD_CTX_free(small.d.md5);
    EVP_MD_CTX_free(small.d.sha512);
    ASSERT_ERR(vmmk_cloud_image_upload_file(c, "0b0e3c4d-0000-4000-8000-000000000000",
                                            "/nonexistent/disk.img", 0),
               VMMK_ENOTFOUND, "/nonexistent/disk.img");
}

static void test_image_upload_file(void **state)
{
    fx *f = *state;
    vmmk_cloud *c = cloud(f);
    char path[] = "/tmp/vmmk-test-image-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    gen g = { .state = 42, .left = 1024 * 1024 + 7 };
    digests_init(&g.d);
    char buf[65536];
    ssize_t n;
    while ((n = gen_read(&g, buf, sizeof buf)) > 0)
        assert_int_equal(write(fd, buf, (size_t)n), n);
    close(fd);
    vmmk_cloud_image *img = make_image(c, "img-file");
    int rc = vmmk_cloud_image_upload_file(c, img->id, path, 0);
    unlink(path);
    if (rc)
        fail_msg("upload_file: %d %s", rc, vmmk_error_last()->message);
    assert_stored(c, img->id, &g.d);
    CLOUD_OK(vmmk_cloud_image_delete(c, img->id));
    vmmk_cloud_image_free(img);
}

static void test_image_upload_source(void **state)
{
    fx *f = *state;
    vmmk_cloud *c = cloud(f);
    /* Sparse data across the 4 MiB read boundary, an odd size. */
    const uint64_t size = 9 * 1024 * 1024 + 1;
    const char *params[] = { "data=1 2 3 @4194302 4 5 6 7 @7340032 8", "size=9437185", NULL };
    unsigned char *want = calloc(1, size);
    assert_non_null(want);
    want[0] = 1, want[1] = 2, want[2] = 3;
    want[4194302] = 4, want[4194303] = 5, want[4194304] = 6, want[4194305] = 7;
    want[7340032] = 8;
    digests d;
    digests_init(&d);
    digests_update(&d, want, size);
    free(want);
    vmmk_source *src = NULL;
    CLOUD_OK(vmmk_source_new_nbdkit(&src, "data", params, NULL));
    vmmk_cloud_image *img = make_image(c, "img-source");
    int rc = vmmk_cloud_image_upload_source(c, img->id, src, 0);
    vmmk_source_free(src);
    if (rc)
        fail_msg("upload_source: %d %s", rc, vmmk_error_last()->message);
    assert_stored(c, img->id, &d);
    CLOUD_OK(vmmk_cloud_image_delete(c, img->id));
    vmmk_cloud_image_free(img);
}

int main(void)
{
    /* The sandbox keeps passwords in a secure.yaml beside its clouds.yaml,
     * which the loader finds through this variable. */
    const char *sec = getenv("VMMK_OS_SECURE");
    if (sec && *sec)
        setenv("OS_CLIENT_SECURE_FILE", sec, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_image_record_and_upload),
        cmocka_unit_test(test_image_upload_chunked_and_failing),
        cmocka_unit_test(test_image_upload_file),
        cmocka_unit_test(test_image_upload_source),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
