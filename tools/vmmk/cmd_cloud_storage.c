/* vmmk cloud volume create|show|list|set|delete|attach|detach (Cinder v3,
 * attachments through Nova). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_cloud.h"

static void volume_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk cloud volume create --size GIB --name NAME [--type TYPE]\n"
            "                                [--availability-zone AZ] [--description TEXT]\n"
            "                                [--property KEY=VALUE]... [--image-property KEY=VALUE]...\n"
            "                                [--bootable] [--wait] [--json]\n"
            "       vmmk cloud volume show ID_OR_NAME [--json]\n"
            "       vmmk cloud volume list [--name NAME] [--property KEY=VALUE]... [--json]\n"
            "       vmmk cloud volume set ID_OR_NAME [--property KEY=VALUE]... [--unset-property KEY]...\n"
            "                                [--image-property KEY=VALUE]... [--bootable|--non-bootable]\n"
            "       vmmk cloud volume delete ID_OR_NAME [--wait]\n"
            "       vmmk cloud volume attach SERVER VOLUME [--json]\n"
            "       vmmk cloud volume detach SERVER VOLUME\n"
            "       (each with the connection options below)\n\n"
            "create  a volume; --property sets metadata, --image-property the\n"
            "        volume_image_metadata Nova reads hw_* properties from; those and\n"
            "        --bootable wait for \"available\" first (as --wait does).  A volume that\n"
            "        ends in \"error\" is a failure naming it (it is left for inspection).\n"
            "show    one volume: status, size, type, bootable, metadata, attachments\n"
            "list    the project's volumes, filtered by exact name and metadata\n"
            "set     merge metadata, delete keys, set image metadata, mark (non-)bootable\n"
            "delete  a volume; --wait until it is gone\n"
            "attach  attach VOLUME to SERVER (ids or names) and wait until it is in-use;\n"
            "        prints the device Nova reports (only a hint: the guest may differ)\n"
            "detach  detach and wait until the volume is available again\n\n%s",
            cli_cloud_help);
}

static int volume_print(const vmmk_cloud_volume *v, bool json)
{
    if (json) {
        char *s = NULL;
        return cloud_print_json(vmmk_cloud_volume_to_json(&s, v, VMMK_JSON_PRETTY), &s);
    }
    cloud_fields f;
    cloud_fields_init(&f);
    cloud_field(&f, "id", v->id);
    cloud_field(&f, "name", v->name);
    cloud_field(&f, "status", v->status);
    cloud_field_u64(&f, "size", v->size_gib);
    cloud_field(&f, "type", v->volume_type);
    cloud_field(&f, "availability_zone", v->availability_zone);
    cloud_field_bool(&f, "bootable", v->bootable);
    cloud_field_props(&f, "properties", v->metadata);
    cloud_field_props(&f, "volume_image_metadata", v->image_metadata);
    char *att = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&att, &len);
    for (size_t i = 0; m && i < v->n_attachments; i++)
        fprintf(m, "%sserver %s on %s", i ? "; " : "", v->attachments[i].server_id,
                v->attachments[i].device ? v->attachments[i].device : "?");
    if (m)
        fclose(m);
    cloud_field(&f, "attachments", att);
    free(att);
    cloud_fields_print(&f);
    return EXIT_OK;
}

/* Every option of the volume commands; each command's table says which it takes. */
typedef struct volume_args {
    uint64_t size;
    bool have_size, bootable, non_bootable, wait;
    const char *name, *type, *az, *description;
    vmmk_properties *props, *image_props;
    cloud_strv unset;
} volume_args;

enum { O_SIZE = 0x2401, O_NAME, O_TYPE, O_AZ, O_DESC, O_PROPERTY, O_IMAGE_PROPERTY, O_BOOTABLE,
       O_NON_BOOTABLE, O_WAIT, O_UNSET };

static int volume_opt(void *ctx, int opt, const char *arg)
{
    volume_args *v = ctx;
    switch (opt) {
    case O_SIZE: v->have_size = true; return cloud_u64(&v->size, "--size", arg, INT32_MAX);
    case O_NAME: v->name = arg; return 0;
    case O_TYPE: v->type = arg; return 0;
    case O_AZ: v->az = arg; return 0;
    case O_DESC: v->description = arg; return 0;
    case O_PROPERTY: return cloud_kv(&v->props, "--property", arg);
    case O_IMAGE_PROPERTY: return cloud_kv(&v->image_props, "--image-property", arg);
    case O_BOOTABLE: v->bootable = true; return 0;
    case O_NON_BOOTABLE: v->non_bootable = true; return 0;
    case O_WAIT: v->wait = true; return 0;
    case O_UNSET:
        if (!*arg)
            return cli_usage_error("--unset-property: empty key");
        cloud_strv_push(&v->unset, arg);
        return 0;
    default: return EXIT_USAGE;
    }
}

static void volume_args_free(volume_args *v)
{
    vmmk_properties_free(v->props);
    vmmk_properties_free(v->image_props);
    cloud_strv_free(&v->unset);
}

#define OPT(name, arg, val) { name, arg, NULL, val }

static int volume_create(int argc, char **argv)
{
    static const struct option own[] = {
        OPT("size", required_argument, O_SIZE), OPT("name", required_argument, O_NAME),
        OPT("type", required_argument, O_TYPE), OPT("availability-zone", required_argument, O_AZ),
        OPT("description", required_argument, O_DESC),
        OPT("property", required_argument, O_PROPERTY),
        OPT("image-property", required_argument, O_IMAGE_PROPERTY),
        OPT("bootable", no_argument, O_BOOTABLE), OPT("wait", no_argument, O_WAIT),
        { NULL, 0, NULL, 0 },
    };
    volume_args v = { 0 };
    cloud_args a;
    vmmk_cloud *c = NULL;
    vmmk_cloud_volume *out = NULL;
    int rc = cloud_parse(&a, argc, argv, own, volume_opt, &v, true, volume_usage, NULL, 0, 0);
    if (rc >= 0)
        goto done;
    if (!v.have_size || v.size == 0) {
        rc = cli_usage_error("--size GIB (at least 1) is required");
        goto done;
    }
    if (!v.name || !*v.name) {
        rc = cli_usage_error("--name NAME is required");
        goto done;
    }
    if ((rc = cloud_connect(&c, &a.conn)) != EXIT_OK)
        goto done;
    vmmk_cloud_volume_spec spec = VMMK_CLOUD_VOLUME_CREATE_INIT;
    spec.name = v.name;
    spec.size_gib = v.size;
    spec.volume_type = v.type;
    spec.availability_zone = v.az;
    spec.description = v.description;
    spec.metadata = v.props;
    spec.image_metadata = v.image_props;
    spec.bootable = v.bootable;
    spec.wait = v.wait || v.bootable || v.image_props;
    rc = vmmk_cloud_volume_create(&out, c, &spec) ? cli_fail_last() : volume_print(out, a.json);
done:
    vmmk_cloud_volume_free(out);
    vmmk_cloud_free(c);
    volume_args_free(&v);
    return rc;
}

static int volume_list(int argc, char **argv)
{
    static const struct option own[] = {
        OPT("name", required_argument, O_NAME), OPT("property", required_argument, O_PROPERTY),
        { NULL, 0, NULL, 0 },
    };
    volume_args v = { 0 };
    cloud_args a;
    vmmk_cloud *c;
    vmmk_cloud_volume_list *l = NULL;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, own, volume_opt, &v, true, volume_usage, NULL, 0, 0))
        goto done;
    if (vmmk_cloud_volume_list_get(&l, c, v.name, v.props)) {
        rc = cli_fail_last();
    } else if (a.json) {
        cloud_json_array_begin();
        for (size_t i = 0; i < l->n; i++) {
            char *s = NULL;
            if (!cloud_json_array_item(vmmk_cloud_volume_to_json(&s, &l->items[i], 0), &s, i)) {
                rc = EXIT_FAIL;
                break;
            }
        }
        if (rc == EXIT_OK)
            cloud_json_array_end(l->n);
    } else {
        static const char *const head[] = { "ID", "NAME", "STATUS", "SIZE", "TYPE", "BOOTABLE",
                                            "ATTACHED TO" };
        cli_table t;
        cli_table_init(&t, 7, head);
        for (size_t i = 0; i < l->n; i++) {
            const vmmk_cloud_volume *vol = &l->items[i];
            char size[24];
            snprintf(size, sizeof size, "%" PRIu64, vol->size_gib);
            const char *row[] = { vol->id, vol->name, vol->status, size, vol->volume_type,
                                  vol->bootable ? "true" : "false",
                                  vol->n_attachments ? vol->attachments[0].server_id : NULL };
            cli_table_row(&t, row);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
done:
    vmmk_cloud_volume_list_free(l);
    vmmk_cloud_free(c);
    volume_args_free(&v);
    return rc;
}

static int volume_set(int argc, char **argv)
{
    static const struct option own[] = {
        OPT("property", required_argument, O_PROPERTY),
        OPT("unset-property", required_argument, O_UNSET),
        OPT("image-property", required_argument, O_IMAGE_PROPERTY),
        OPT("bootable", no_argument, O_BOOTABLE), OPT("non-bootable", no_argument, O_NON_BOOTABLE),
        { NULL, 0, NULL, 0 },
    };
    volume_args v = { 0 };
    cloud_args a;
    vmmk_cloud *c = NULL;
    vmmk_cloud_volume *vol = NULL;
    int rc = cloud_parse(&a, argc, argv, own, volume_opt, &v, false, volume_usage, "ID_OR_NAME", 1, 1);
    if (rc >= 0)
        goto done;
    if (v.bootable && v.non_bootable) {
        rc = cli_usage_error("--bootable and --non-bootable exclude each other");
        goto done;
    }
    if (!v.props && !v.image_props && !v.unset.n && !v.bootable && !v.non_bootable) {
        rc = cli_usage_error("nothing to set: give --property, --unset-property, --image-property, "
                             "--bootable or --non-bootable");
        goto done;
    }
    for (size_t i = 0; v.props && i < v.unset.n; i++)
        if (vmmk_properties_get(v.props, v.unset.v[i])) {
            rc = cli_usage_error("--property and --unset-property both name \"%s\"", v.unset.v[i]);
            goto done;
        }
    if ((rc = cloud_connect(&c, &a.conn)) != EXIT_OK)
        goto done;
    if (vmmk_cloud_volume_get(&vol, c, a.pos[0]) ||
        (v.props && vmmk_cloud_volume_metadata_set(c, vol->id, v.props))) {
        rc = cli_fail_last();
        goto done;
    }
    for (size_t i = 0; i < v.unset.n; i++)
        if (vmmk_cloud_volume_metadata_delete(c, vol->id, v.unset.v[i])) {
            rc = cli_fail_last();
            goto done;
        }
    if ((v.image_props && vmmk_cloud_volume_set_image_metadata(c, vol->id, v.image_props)) ||
        ((v.bootable || v.non_bootable) && vmmk_cloud_volume_set_bootable(c, vol->id, v.bootable)))
        rc = cli_fail_last();
done:
    vmmk_cloud_volume_free(vol);
    vmmk_cloud_free(c);
    volume_args_free(&v);
    return rc;
}

/* show or delete one volume, looked up by id or unique name. */
static int volume_show_delete(int argc, char **argv, bool del)
{
    static const struct option own[] = { OPT("wait", no_argument, O_WAIT), { NULL, 0, NULL, 0 } };
    volume_args v = { 0 };
    cloud_args a;
    vmmk_cloud *c;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, del ? own : NULL, volume_opt, &v, !del, volume_usage,
                    "ID_OR_NAME", 1, 1))
        return rc;
    vmmk_cloud_volume *vol = NULL;
    if (vmmk_cloud_volume_get(&vol, c, a.pos[0]))
        rc = cloud_lookup_failed(del);
    else if (!del)
        rc = volume_print(vol, a.json);
    else if (vmmk_cloud_volume_delete(c, vol->id, v.wait))
        rc = cli_fail_last();
    else
        printf("volume %s: %s\n", vol->id, v.wait ? "deleted" : "deletion requested");
    vmmk_cloud_volume_free(vol);
    vmmk_cloud_free(c);
    return rc;
}

static int volume_show(int argc, char **argv)
{
    return volume_show_delete(argc, argv, false);
}

static int volume_delete(int argc, char **argv)
{
    return volume_show_delete(argc, argv, true);
}

/* attach or detach VOLUME and SERVER, each by id or unique name. */
static int volume_attach_detach(int argc, char **argv, bool attach)
{
    cloud_args a;
    vmmk_cloud *c;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, NULL, NULL, NULL, attach, volume_usage,
                    "SERVER VOLUME", 2, 2))
        return rc;
    vmmk_cloud_server *s = NULL;
    vmmk_cloud_volume *v = NULL;
    char *device = NULL;
    if (vmmk_cloud_server_get(&s, c, a.pos[0]) || vmmk_cloud_volume_get(&v, c, a.pos[1])) {
        rc = cli_fail_last();
    } else if (!attach) {
        if (vmmk_cloud_volume_detach(c, s->id, v->id, 0))
            rc = cli_fail_last();
        else
            printf("volume %s detached from server %s\n", v->id, s->id);
    } else if (vmmk_cloud_volume_attach(&device, c, s->id, v->id, 0)) {
        rc = cli_fail_last();
    } else if (a.json) {
        printf("{\n  \"server\": ");
        cloud_json_string(s->id);
        printf(",\n  \"volume\": ");
        cloud_json_string(v->id);
        printf(",\n  \"device\": ");
        cloud_json_string(device);
        printf("\n}\n");
    } else {
        printf("volume %s attached to server %s as %s (Nova's hint; the guest may name it "
               "differently)\n",
               v->id, s->id, device ? device : "an unreported device");
    }
    vmmk_string_free(device);
    vmmk_cloud_volume_free(v);
    vmmk_cloud_server_free(s);
    vmmk_cloud_free(c);
    return rc;
}

static int volume_attach(int argc, char **argv)
{
    return volume_attach_detach(argc, argv, true);
}

static int volume_detach(int argc, char **argv)
{
    return volume_attach_detach(argc, argv, false);
}

int cmd_cloud_volume(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "create", "create a volume (metadata, image metadata, bootable)", volume_create },
        { "show", "one volume by id or unique name", volume_show },
        { "list", "the project's volumes, filtered by name and metadata", volume_list },
        { "set", "change metadata, image metadata, bootable", volume_set },
        { "delete", "delete a volume", volume_delete },
        { "attach", "attach a volume to a server", volume_attach },
        { "detach", "detach a volume from a server", volume_detach },
    };
    return cli_dispatch("cloud volume", sub, sizeof sub / sizeof *sub, argc - 1, argv + 1);
}
