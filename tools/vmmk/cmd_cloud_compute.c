/* vmmk cloud flavor list|show|create|delete and
 * vmmk cloud server create|show|delete|stop|start (Nova). */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_cloud.h"

/* Nova's limit for user_data is 65535 bytes after base64: ~48 KiB of text. */
#define MAX_USER_DATA (48 * 1024)

/* ---- flavor ---------------------------------------------------------- */

static void flavor_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk cloud flavor list [--all] [--json] [CONNECTION]\n"
            "       vmmk cloud flavor show ID_OR_NAME [--json] [CONNECTION]\n"
            "       vmmk cloud flavor create --vcpus N --ram MIB --disk GIB [--ephemeral GIB]\n"
            "                                [--swap MIB] [--private] [--project ID]...\n"
            "                                [--property KEY=VALUE]... [--id ID] [--json] NAME\n"
            "       vmmk cloud flavor delete ID_OR_NAME [CONNECTION]\n\n"
            "list    the flavors the project can use (--all: private ones too; an admin\n"
            "        sees every flavor then)\n"
            "show    one flavor by id, else by unique name, with its extra specs\n"
            "create  a flavor (admin); --private makes it visible only to the projects\n"
            "        granted with --project; --property sets extra specs.  When a step\n"
            "        after the create fails, the flavor is deleted again.\n"
            "delete  a flavor (admin)\n\n%s",
            cli_cloud_help);
}

static int flavor_print(const vmmk_flavor *fl, bool json)
{
    if (json) {
        char *s = NULL;
        return cloud_print_json(vmmk_flavor_to_json(&s, fl, VMMK_JSON_PRETTY), &s);
    }
    cloud_fields f;
    cloud_fields_init(&f);
    cloud_field(&f, "id", fl->id);
    cloud_field(&f, "name", fl->name);
    cloud_field_u64(&f, "vcpus", (uint64_t)fl->vcpus);
    cloud_field_u64(&f, "ram", fl->ram_mib);
    cloud_field_u64(&f, "disk", fl->disk_gib);
    cloud_field_u64(&f, "ephemeral", fl->ephemeral_gib);
    cloud_field_u64(&f, "swap", fl->swap_mib);
    cloud_field_bool(&f, "is_public", fl->is_public);
    cloud_field_bool(&f, "disabled", fl->disabled);
    vmmk_properties specs = { fl->extra_spec_keys, fl->extra_spec_values, fl->n_extra_specs };
    cloud_field_props(&f, "properties", &specs);
    cloud_fields_print(&f);
    return EXIT_OK;
}

enum { O_ALL = 0x2001 };

static int flavor_list_opt(void *ctx, int opt, const char *arg)
{
    (void)arg;
    if (opt != O_ALL)
        return EXIT_USAGE;
    *(bool *)ctx = true;
    return 0;
}

static int flavor_list(int argc, char **argv)
{
    static const struct option own[] = { { "all", no_argument, NULL, O_ALL }, { NULL, 0, NULL, 0 } };
    bool all = false;
    cloud_args a;
    vmmk_cloud *c;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, own, flavor_list_opt, &all, true, flavor_usage, NULL,
                    0, 0))
        return rc;
    vmmk_flavor_list *l = NULL;
    if (vmmk_cloud_flavor_list(&l, c, all)) {
        rc = cli_fail_last();
    } else if (a.json) {
        cloud_json_array_begin();
        for (size_t i = 0; i < l->n; i++) {
            char *s = NULL;
            if (!cloud_json_array_item(vmmk_flavor_to_json(&s, &l->items[i], 0), &s, i)) {
                rc = EXIT_FAIL;
                break;
            }
        }
        if (rc == EXIT_OK)
            cloud_json_array_end(l->n);
    } else {
        static const char *const head[] = { "ID", "NAME", "VCPUS", "RAM", "DISK", "EPHEMERAL",
                                            "SWAP", "PUBLIC" };
        cli_table t;
        cli_table_init(&t, 8, head);
        for (size_t i = 0; i < l->n; i++) {
            const vmmk_flavor *fl = &l->items[i];
            char v[16], r[24], d[24], e[24], s[24];
            snprintf(v, sizeof v, "%" PRId32, fl->vcpus);
            snprintf(r, sizeof r, "%" PRIu64, fl->ram_mib);
            snprintf(d, sizeof d, "%" PRIu64, fl->disk_gib);
            snprintf(e, sizeof e, "%" PRIu64, fl->ephemeral_gib);
            snprintf(s, sizeof s, "%" PRIu64, fl->swap_mib);
            const char *row[] = { fl->id, fl->name, v, r, d, e, s, fl->is_public ? "yes" : "no" };
            cli_table_row(&t, row);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    vmmk_flavor_list_free(l);
    vmmk_cloud_free(c);
    return rc;
}

/* show or delete one flavor, looked up by id or unique name. */
static int flavor_show_delete(int argc, char **argv, bool del)
{
    cloud_args a;
    vmmk_cloud *c;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, NULL, NULL, NULL, !del, flavor_usage, "ID_OR_NAME", 1,
                    1))
        return rc;
    vmmk_flavor *fl = NULL;
    if (vmmk_cloud_flavor_get(&fl, c, a.pos[0]))
        rc = cloud_lookup_failed(del);
    else if (!del)
        rc = flavor_print(fl, a.json);
    else if (vmmk_cloud_flavor_delete(c, fl->id))
        rc = cli_fail_last();
    else
        printf("deleted flavor %s (%s)\n", fl->id, fl->name);
    vmmk_flavor_free(fl);
    vmmk_cloud_free(c);
    return rc;
}

static int flavor_show(int argc, char **argv)
{
    return flavor_show_delete(argc, argv, false);
}

static int flavor_delete(int argc, char **argv)
{
    return flavor_show_delete(argc, argv, true);
}

typedef struct flavor_create_args {
    uint64_t vcpus, ram, disk, ephemeral, swap;
    bool have_vcpus, have_ram, have_disk, private;
    const char *id;
    cloud_strv projects;
    vmmk_properties *specs;
} flavor_create_args;

enum { O_VCPUS = 0x2101, O_RAM, O_DISK, O_EPHEMERAL, O_SWAP, O_PRIVATE, O_PROJECT, O_PROPERTY,
       O_ID };

static int flavor_create_opt(void *ctx, int opt, const char *arg)
{
    flavor_create_args *f = ctx;
    switch (opt) {
    case O_VCPUS: f->have_vcpus = true; return cloud_u64(&f->vcpus, "--vcpus", arg, INT32_MAX);
    case O_RAM: f->have_ram = true; return cloud_u64(&f->ram, "--ram", arg, INT32_MAX);
    case O_DISK: f->have_disk = true; return cloud_u64(&f->disk, "--disk", arg, INT32_MAX);
    case O_EPHEMERAL: return cloud_u64(&f->ephemeral, "--ephemeral", arg, INT32_MAX);
    case O_SWAP: return cloud_u64(&f->swap, "--swap", arg, INT32_MAX);
    case O_PRIVATE: f->private = true; return 0;
    case O_PROJECT: cloud_strv_push(&f->projects, arg); return 0;
    case O_PROPERTY: return cloud_kv(&f->specs, "--property", arg);
    case O_ID: f->id = arg; return 0;
    default: return EXIT_USAGE;
    }
}

static int flavor_create(int argc, char **argv)
{
    static const struct option own[] = {
        { "vcpus", required_argument, NULL, O_VCPUS },
        { "ram", required_argument, NULL, O_RAM },
        { "disk", required_argument, NULL, O_DISK },
        { "ephemeral", required_argument, NULL, O_EPHEMERAL },
        { "swap", required_argument, NULL, O_SWAP },
        { "private", no_argument, NULL, O_PRIVATE },
        { "project", required_argument, NULL, O_PROJECT },
        { "property", required_argument, NULL, O_PROPERTY },
        { "id", required_argument, NULL, O_ID },
        { NULL, 0, NULL, 0 },
    };
    flavor_create_args f = { 0 };
    cloud_args a;
    vmmk_cloud *c = NULL;
    vmmk_flavor *out = NULL;
    int rc = cloud_parse(&a, argc, argv, own, flavor_create_opt, &f, true, flavor_usage, "NAME", 1, 1);
    if (rc >= 0)
        goto done;
    rc = EXIT_USAGE;
    if (!f.have_vcpus || f.vcpus == 0) {
        cli_usage_error("--vcpus N (at least 1) is required");
        goto done;
    }
    if (!f.have_ram || f.ram == 0) {
        cli_usage_error("--ram MIB (at least 1) is required");
        goto done;
    }
    if (!f.have_disk) {
        cli_usage_error("--disk GIB is required (0: the root disk is sized from the image)");
        goto done;
    }
    if (f.projects.n && !f.private) {
        cli_usage_error("--project only applies to a --private flavor");
        goto done;
    }
    if ((rc = cloud_connect(&c, &a.conn)) != EXIT_OK)
        goto done;
    vmmk_flavor spec = { 0 };
    spec.name = a.pos[0];
    spec.id = (char *)f.id;
    spec.vcpus = (int32_t)f.vcpus;
    spec.ram_mib = f.ram;
    spec.disk_gib = f.disk;
    spec.ephemeral_gib = f.ephemeral;
    spec.swap_mib = f.swap;
    spec.is_public = !f.private;
    if (f.specs) {
        spec.extra_spec_keys = f.specs->keys;
        spec.extra_spec_values = f.specs->values;
        spec.n_extra_specs = f.specs->n;
    }
    if (vmmk_cloud_flavor_create(&out, c, &spec, f.projects.v, f.projects.n))
        rc = cli_fail_last();
    else
        rc = flavor_print(out, a.json);
done:
    vmmk_flavor_free(out);
    vmmk_cloud_free(c);
    vmmk_properties_free(f.specs);
    cloud_strv_free(&f.projects);
    return rc;
}

int cmd_cloud_flavor(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "list", "flavors the project can use", flavor_list },
        { "show", "one flavor with its extra specs", flavor_show },
        { "create", "create a flavor (admin)", flavor_create },
        { "delete", "delete a flavor (admin)", flavor_delete },
    };
    return cli_dispatch("cloud flavor", sub, sizeof sub / sizeof *sub, argc - 1, argv + 1);
}

/* ---- server ---------------------------------------------------------- */

static void server_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk cloud server create --name NAME --flavor FLAVOR --boot-volume VOLUME\n"
            "                                [--volume VOLUME]... [--port PORT]... [--network NET]...\n"
            "                                [--security-group SG]... [--key-name KEY]\n"
            "                                [--user-data FILE] [--availability-zone AZ]\n"
            "                                [--tag TAG]... [--property KEY=VALUE]... [--wait] [--json]\n"
            "       vmmk cloud server show ID_OR_NAME [--json]\n"
            "       vmmk cloud server delete ID_OR_NAME [--wait]\n"
            "       vmmk cloud server stop|start ID_OR_NAME [--wait]\n"
            "       (each with the connection options below)\n\n"
            "create  a server booting from an existing (bootable) volume; --volume adds data\n"
            "        volumes in order; NICs are the --port ports in order, then a new port\n"
            "        on each --network.  Volumes outlive the server.  Without --wait it\n"
            "        returns once Nova accepted the request (status BUILD); with it, once the\n"
            "        server is ACTIVE (an ERROR server is a failure quoting Nova's fault).\n"
            "        Volumes, ports and networks may be given by id or unique name.\n"
            "show    a server: status, task, fault, flavor, volumes, metadata, tags\n"
            "delete  a server (its volumes stay); --wait until it is gone\n"
            "stop    os-stop (--wait for SHUTOFF); start: os-start (--wait for ACTIVE);\n"
            "        a server already in that state is left alone\n\n%s",
            cli_cloud_help);
}

static int server_print(const vmmk_cloud_server *s, bool json)
{
    if (json) {
        char *out = NULL;
        return cloud_print_json(vmmk_cloud_server_to_json(&out, s, VMMK_JSON_PRETTY), &out);
    }
    cloud_fields f;
    cloud_fields_init(&f);
    cloud_field(&f, "id", s->id);
    cloud_field(&f, "name", s->name);
    cloud_field(&f, "status", s->status);
    cloud_field(&f, "task_state", s->task_state);
    if (s->fault)
        cloud_field(&f, "fault", s->fault);
    cloud_field(&f, "flavor", s->flavor_id);
    cloud_field(&f, "availability_zone", s->availability_zone);
    cloud_field(&f, "host_id", s->host_id);
    cloud_field_strv(&f, "volumes_attached", s->volume_ids, s->n_volume_ids);
    cloud_field_props(&f, "properties", s->metadata);
    cloud_field_strv(&f, "tags", s->tags, s->n_tags);
    cloud_fields_print(&f);
    return EXIT_OK;
}

typedef struct server_create_args {
    const char *name, *flavor, *boot_volume, *key_name, *user_data_file, *az;
    cloud_strv volumes, ports, networks, sgs, tags;
    vmmk_properties *metadata;
    bool wait;
} server_create_args;

enum { O_NAME = 0x2201, O_FLAVOR, O_BOOT_VOLUME, O_VOLUME, O_PORT, O_NETWORK, O_SG, O_KEY,
       O_USER_DATA, O_AZ, O_TAG, O_SPROPERTY, O_WAIT };

static int server_create_opt(void *ctx, int opt, const char *arg)
{
    server_create_args *s = ctx;
    switch (opt) {
    case O_NAME: s->name = arg; return 0;
    case O_FLAVOR: s->flavor = arg; return 0;
    case O_BOOT_VOLUME: s->boot_volume = arg; return 0;
    case O_VOLUME: cloud_strv_push(&s->volumes, arg); return 0;
    case O_PORT: cloud_strv_push(&s->ports, arg); return 0;
    case O_NETWORK: cloud_strv_push(&s->networks, arg); return 0;
    case O_SG: cloud_strv_push(&s->sgs, arg); return 0;
    case O_KEY: s->key_name = arg; return 0;
    case O_USER_DATA: s->user_data_file = arg; return 0;
    case O_AZ: s->az = arg; return 0;
    case O_TAG: cloud_strv_push(&s->tags, arg); return 0;
    case O_SPROPERTY: return cloud_kv(&s->metadata, "--property", arg);
    case O_WAIT: s->wait = true; return 0;
    default: return EXIT_USAGE;
    }
}

/* The ids of volumes ('v'), ports ('p') or networks ('n') given by id or
 * unique name, into ids[] (owned, freed by free_ids). */
static int resolve(char **ids, vmmk_cloud *c, char kind, const char *const *given, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        vmmk_cloud_volume *v = NULL;
        vmmk_cloud_port *p = NULL;
        vmmk_cloud_network *nw = NULL;
        int r = kind == 'v'   ? vmmk_cloud_volume_get(&v, c, given[i])
                : kind == 'p' ? vmmk_cloud_port_get(&p, c, given[i])
                              : vmmk_cloud_network_find(&nw, c, given[i]);
        ids[i] = r ? NULL : strdup(v ? v->id : p ? p->id : nw->id);
        vmmk_cloud_volume_free(v);
        vmmk_cloud_port_free(p);
        vmmk_cloud_network_free(nw);
        if (r)
            return cli_fail_last();
        if (!ids[i])
            return cli_fail("out of memory");
    }
    return EXIT_OK;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; ids && i < n; i++)
        free(ids[i]);
    free(ids);
}

static int server_create(int argc, char **argv)
{
    static const struct option own[] = {
        { "name", required_argument, NULL, O_NAME },
        { "flavor", required_argument, NULL, O_FLAVOR },
        { "boot-volume", required_argument, NULL, O_BOOT_VOLUME },
        { "volume", required_argument, NULL, O_VOLUME },
        { "port", required_argument, NULL, O_PORT },
        { "network", required_argument, NULL, O_NETWORK },
        { "security-group", required_argument, NULL, O_SG },
        { "key-name", required_argument, NULL, O_KEY },
        { "user-data", required_argument, NULL, O_USER_DATA },
        { "availability-zone", required_argument, NULL, O_AZ },
        { "tag", required_argument, NULL, O_TAG },
        { "property", required_argument, NULL, O_SPROPERTY },
        { "wait", no_argument, NULL, O_WAIT },
        { NULL, 0, NULL, 0 },
    };
    server_create_args s = { 0 };
    cloud_args a;
    vmmk_cloud *c = NULL;
    vmmk_cloud_server *srv = NULL, *fin = NULL;
    char *user_data = NULL, **vol_ids = NULL, **port_ids = NULL, **net_ids = NULL;
    size_t n_vols = 0;
    int rc = cloud_parse(&a, argc, argv, own, server_create_opt, &s, true, server_usage, NULL, 0, 0);
    if (rc >= 0)
        goto done;
    rc = EXIT_USAGE;
    if (!s.name || !*s.name) {
        cli_usage_error("--name NAME is required");
        goto done;
    }
    if (!s.flavor || !*s.flavor) {
        cli_usage_error("--flavor FLAVOR is required");
        goto done;
    }
    if (!s.boot_volume || !*s.boot_volume) {
        cli_usage_error("--boot-volume VOLUME is required (servers boot from a Cinder volume)");
        goto done;
    }
    if (s.user_data_file && !(user_data = cloud_read_file("--user-data", s.user_data_file,
                                                           MAX_USER_DATA))) {
        rc = EXIT_FAIL;
        goto done;
    }
    if ((rc = cloud_connect(&c, &a.conn)) != EXIT_OK)
        goto done;

    n_vols = 1 + s.volumes.n;
    vol_ids = calloc(n_vols, sizeof *vol_ids);
    port_ids = calloc(s.ports.n + 1, sizeof *port_ids);
    net_ids = calloc(s.networks.n + 1, sizeof *net_ids);
    if (!vol_ids || !port_ids || !net_ids) {
        rc = cli_fail("out of memory");
        goto done;
    }
    if ((rc = resolve(vol_ids, c, 'v', &s.boot_volume, 1)) != EXIT_OK ||
        (rc = resolve(vol_ids + 1, c, 'v', s.volumes.v, s.volumes.n)) != EXIT_OK ||
        (rc = resolve(port_ids, c, 'p', s.ports.v, s.ports.n)) != EXIT_OK ||
        (rc = resolve(net_ids, c, 'n', s.networks.v, s.networks.n)) != EXIT_OK)
        goto done;

    vmmk_cloud_server_spec spec = VMMK_CLOUD_SERVER_CREATE_INIT;
    spec.name = s.name;
    spec.flavor = s.flavor;
    spec.volumes = (const char *const *)vol_ids;
    spec.n_volumes = n_vols;
    spec.ports = (const char *const *)port_ids;
    spec.n_ports = s.ports.n;
    spec.networks = (const char *const *)net_ids;
    spec.n_networks = s.networks.n;
    spec.security_groups = s.sgs.v;
    spec.n_security_groups = s.sgs.n;
    spec.key_name = s.key_name;
    spec.user_data = user_data;
    spec.availability_zone = s.az;
    spec.tags = s.tags.v;
    spec.n_tags = s.tags.n;
    spec.metadata = s.metadata;
    if (vmmk_cloud_server_create(&srv, c, &spec)) {
        rc = cli_fail_last();
        goto done;
    }
    if (s.wait && vmmk_cloud_server_wait(&fin, c, srv->id, "ACTIVE", 0)) {
        /* The server exists: say so, so that nobody is left wondering what
         * to clean up (its volumes are never deleted with it). */
        rc = cli_fail("%s (server %s is left for inspection: 'vmmk cloud server delete %s')",
                      vmmk_error_last()->message, srv->id, srv->id);
        goto done;
    }
    rc = server_print(fin ? fin : srv, a.json);
done:
    vmmk_cloud_server_free(fin);
    vmmk_cloud_server_free(srv);
    free_ids(vol_ids, n_vols);
    free_ids(port_ids, s.ports.n);
    free_ids(net_ids, s.networks.n);
    free(user_data);
    vmmk_cloud_free(c);
    vmmk_properties_free(s.metadata);
    cloud_strv_free(&s.volumes);
    cloud_strv_free(&s.ports);
    cloud_strv_free(&s.networks);
    cloud_strv_free(&s.sgs);
    cloud_strv_free(&s.tags);
    return rc;
}

static int wait_opt(void *ctx, int opt, const char *arg)
{
    (void)arg;
    if (opt != O_WAIT)
        return EXIT_USAGE;
    *(bool *)ctx = true;
    return 0;
}

static const struct option wait_opts[] = {
    { "wait", no_argument, NULL, O_WAIT },
    { NULL, 0, NULL, 0 },
};

typedef enum { SRV_DELETE, SRV_STOP, SRV_START, SRV_SHOW } server_action;

/* show, delete, stop or start one server, looked up by id or unique name. */
static int server_act(int argc, char **argv, server_action act)
{
    bool wait = false, show = act == SRV_SHOW;
    cloud_args a;
    vmmk_cloud *c;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, show ? NULL : wait_opts, wait_opt, &wait, show,
                    server_usage, "ID_OR_NAME", 1, 1))
        return rc;
    vmmk_cloud_server *s = NULL;
    if (vmmk_cloud_server_get(&s, c, a.pos[0])) {
        rc = cloud_lookup_failed(act == SRV_DELETE);
    } else if (show) {
        rc = server_print(s, a.json);
    } else {
        int r = act == SRV_DELETE ? vmmk_cloud_server_delete(c, s->id, wait)
                : act == SRV_STOP ? vmmk_cloud_server_stop(c, s->id, wait)
                                  : vmmk_cloud_server_start(c, s->id, wait);
        static const char *const done[][2] = { { "deleted", "deletion requested" },
                                                { "stopped", "stop requested" },
                                                { "started", "start requested" } };
        if (r)
            rc = cli_fail_last();
        else
            printf("server %s (%s): %s\n", s->id, s->name ? s->name : "", done[act][wait ? 0 : 1]);
    }
    vmmk_cloud_server_free(s);
    vmmk_cloud_free(c);
    return rc;
}

static int server_show(int argc, char **argv)
{
    return server_act(argc, argv, SRV_SHOW);
}

static int server_delete(int argc, char **argv)
{
    return server_act(argc, argv, SRV_DELETE);
}

static int server_stop(int argc, char **argv)
{
    return server_act(argc, argv, SRV_STOP);
}

static int server_start(int argc, char **argv)
{
    return server_act(argc, argv, SRV_START);
}

int cmd_cloud_server(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "create", "a server booting from a volume", server_create },
        { "show", "one server by id or unique name", server_show },
        { "delete", "delete a server (its volumes stay)", server_delete },
        { "stop", "stop a server (os-stop)", server_stop },
        { "start", "start a server (os-start)", server_start },
    };
    return cli_dispatch("cloud server", sub, sizeof sub / sizeof *sub, argc - 1, argv + 1);
}
