/* vmmk cloud image create|show|delete (Glance v2). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd_cloud.h"

static void image_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk cloud image create --name NAME (--file PATH | --source NBD_URI)\n"
            "                               [--disk-format FMT] [--container-format FMT]\n"
            "                               [--property KEY=VALUE]... [--tag TAG]... [--json]\n"
            "       vmmk cloud image show ID_OR_NAME [--json]\n"
            "       vmmk cloud image delete ID_OR_NAME\n"
            "       (each with the connection options below)\n\n"
            "create  create a private image, upload its data from a local file or block\n"
            "        device (--file) or from an NBD server (--source nbd://..., nbds://,\n"
            "        nbd+unix://), streamed without a temporary copy, and wait until Glance\n"
            "        has it active.  --disk-format defaults to raw, --container-format to\n"
            "        bare; --property sets image properties (hw_* etc.).  When the upload\n"
            "        fails, the half-made image is deleted again.\n"
            "show    one image: status, formats, size, checksum, properties\n"
            "delete  an image\n\n%s",
            cli_cloud_help);
}

static int image_print(const vmmk_cloud_image *i, bool json)
{
    if (json) {
        char *s = NULL;
        return cloud_print_json(vmmk_cloud_image_to_json(&s, i, VMMK_JSON_PRETTY), &s);
    }
    cloud_fields f;
    cloud_fields_init(&f);
    cloud_field(&f, "id", i->id);
    cloud_field(&f, "name", i->name);
    cloud_field(&f, "status", i->status);
    cloud_field(&f, "disk_format", i->disk_format);
    cloud_field(&f, "container_format", i->container_format);
    cloud_field_u64(&f, "size", i->size);
    cloud_field(&f, "checksum", i->checksum);
    cloud_field_props(&f, "properties", i->properties);
    cloud_fields_print(&f);
    return EXIT_OK;
}

typedef struct image_create_args {
    const char *name, *file, *source, *disk_format, *container_format;
    vmmk_properties *props;
    cloud_strv tags;
} image_create_args;

enum { O_NAME = 0x2501, O_FILE, O_SOURCE, O_DISK_FORMAT, O_CONTAINER_FORMAT, O_PROPERTY, O_TAG };

static int image_create_opt(void *ctx, int opt, const char *arg)
{
    image_create_args *i = ctx;
    switch (opt) {
    case O_NAME: i->name = arg; return 0;
    case O_FILE: i->file = arg; return 0;
    case O_SOURCE: i->source = arg; return 0;
    case O_DISK_FORMAT: i->disk_format = arg; return 0;
    case O_CONTAINER_FORMAT: i->container_format = arg; return 0;
    case O_PROPERTY: return cloud_kv(&i->props, "--property", arg);
    case O_TAG: cloud_strv_push(&i->tags, arg); return 0;
    default: return EXIT_USAGE;
    }
}

static int image_create(int argc, char **argv)
{
    static const struct option own[] = {
        { "name", required_argument, NULL, O_NAME },
        { "file", required_argument, NULL, O_FILE },
        { "source", required_argument, NULL, O_SOURCE },
        { "disk-format", required_argument, NULL, O_DISK_FORMAT },
        { "container-format", required_argument, NULL, O_CONTAINER_FORMAT },
        { "property", required_argument, NULL, O_PROPERTY },
        { "tag", required_argument, NULL, O_TAG },
        { NULL, 0, NULL, 0 },
    };
    image_create_args ia = { 0 };
    cloud_args a;
    vmmk_cloud *c = NULL;
    vmmk_source *src = NULL;
    vmmk_cloud_image *img = NULL, *fin = NULL;
    char *why = NULL;
    int rc = cloud_parse(&a, argc, argv, own, image_create_opt, &ia, true, image_usage, NULL, 0, 0);
    if (rc >= 0)
        goto done;
    if (!ia.name || !*ia.name) {
        rc = cli_usage_error("--name NAME is required");
        goto done;
    }
    if (!ia.file == !ia.source) {
        rc = cli_usage_error("give exactly one of --file PATH and --source NBD_URI");
        goto done;
    }
    /* Check the data before the image record exists, so that a typo does
     * not leave a queued image behind. */
    if (ia.file) {
        struct stat st;
        if (stat(ia.file, &st) != 0) {
            rc = cli_fail("--file %s: %s", ia.file, strerror(errno));
            goto done;
        }
        if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
            rc = cli_fail("--file %s: not a regular file or block device", ia.file);
            goto done;
        }
    } else if (vmmk_source_new_uri(&src, ia.source)) {
        rc = vmmk_error_last()->code == VMMK_EINVAL
                 ? cli_usage_error("--source: %s", vmmk_error_last()->message)
                 : cli_fail_last();
        goto done;
    }
    if ((rc = cloud_connect(&c, &a.conn)) != EXIT_OK)
        goto done;

    vmmk_cloud_image_spec spec = VMMK_CLOUD_IMAGE_CREATE_INIT;
    spec.name = ia.name;
    spec.disk_format = ia.disk_format;
    spec.container_format = ia.container_format;
    spec.properties = ia.props;
    spec.tags = ia.tags.v;
    spec.n_tags = ia.tags.n;
    if (vmmk_cloud_image_create(&img, c, &spec)) {
        rc = cli_fail_last();
        goto done;
    }
    int r = ia.file ? vmmk_cloud_image_upload_file(c, img->id, ia.file, 0)
                    : vmmk_cloud_image_upload_source(c, img->id, src, 0);
    if (r) {
        /* The delete may overwrite the thread's last error: keep it. */
        why = strdup(vmmk_error_last()->message ? vmmk_error_last()->message : vmmk_strerror(r));
        if (vmmk_cloud_image_delete(c, img->id))
            rc = cli_fail("%s; the half-made image %s could not be deleted either: %s",
                          why ? why : "upload failed", img->id, vmmk_error_last()->message);
        else
            rc = cli_fail("%s; the half-made image %s was deleted", why ? why : "upload failed",
                          img->id);
        goto done;
    }
    if (vmmk_cloud_image_wait(&fin, c, img->id, "active", 0)) {
        rc = cli_fail_last();
        goto done;
    }
    rc = image_print(fin, a.json);
done:
    free(why);
    vmmk_cloud_image_free(fin);
    vmmk_cloud_image_free(img);
    vmmk_source_free(src);
    vmmk_cloud_free(c);
    vmmk_properties_free(ia.props);
    cloud_strv_free(&ia.tags);
    return rc;
}

/* show or delete one image, looked up by id or unique name. */
static int image_show_delete(int argc, char **argv, bool del)
{
    cloud_args a;
    vmmk_cloud *c;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, NULL, NULL, NULL, !del, image_usage, "ID_OR_NAME", 1,
                    1))
        return rc;
    vmmk_cloud_image *i = NULL;
    if (vmmk_cloud_image_get(&i, c, a.pos[0]))
        rc = cloud_lookup_failed(del);
    else if (!del)
        rc = image_print(i, a.json);
    else if (vmmk_cloud_image_delete(c, i->id))
        rc = cli_fail_last();
    else
        printf("deleted image %s\n", i->id);
    vmmk_cloud_image_free(i);
    vmmk_cloud_free(c);
    return rc;
}

static int image_show(int argc, char **argv)
{
    return image_show_delete(argc, argv, false);
}

static int image_delete(int argc, char **argv)
{
    return image_show_delete(argc, argv, true);
}

int cmd_cloud_image(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "create", "create an image and upload its data", image_create },
        { "show", "one image by id or unique name", image_show },
        { "delete", "delete an image", image_delete },
    };
    return cli_dispatch("cloud image", sub, sizeof sub / sizeof *sub, argc - 1, argv + 1);
}
