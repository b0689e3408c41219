/* vmmk cloud port create|show|delete (Neutron). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_cloud.h"

static void port_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk cloud port create --network NET [--mac MAC] [--name NAME]\n"
            "                              [--fixed-ip IP | --fixed-ip subnet=S,ip-address=A]...\n"
            "                              [--subnet S] [--security-group SG]... [--tag TAG]...\n"
            "                              [--description TEXT] [--reuse] [--json]\n"
            "       vmmk cloud port show ID_OR_NAME [--json]\n"
            "       vmmk cloud port delete ID_OR_NAME\n"
            "       (each with the connection options below)\n\n"
            "create  a port on network NET (id or unique name) keeping the VM's MAC.\n"
            "        --fixed-ip takes an address (on --subnet, or the network's subnet that\n"
            "        holds it) or subnet=S,ip-address=A; repeatable.  Without\n"
            "        --security-group the project's default group applies.  --reuse returns\n"
            "        a port of the network with this MAC that no server uses instead of\n"
            "        failing (its fixed IPs and tags must match); a MAC a server uses is\n"
            "        always an error naming the server.\n"
            "show    one port: network, MAC, status, device, fixed IPs, groups, tags\n"
            "delete  a port\n\n%s",
            cli_cloud_help);
}

static int port_print(const vmmk_cloud_port *p, bool json)
{
    if (json) {
        char *s = NULL;
        return cloud_print_json(vmmk_cloud_port_to_json(&s, p, VMMK_JSON_PRETTY), &s);
    }
    cloud_fields f;
    cloud_fields_init(&f);
    cloud_field(&f, "id", p->id);
    cloud_field(&f, "name", p->name);
    cloud_field(&f, "network_id", p->network_id);
    cloud_field(&f, "mac_address", p->mac_address);
    cloud_field(&f, "status", p->status);
    cloud_field(&f, "device_id", p->device_id);
    cloud_field(&f, "device_owner", p->device_owner);
    char *ips = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&ips, &len);
    for (size_t i = 0; m && i < p->n_fixed_ips; i++)
        fprintf(m, "%sip_address='%s', subnet_id='%s'", i ? "; " : "",
                p->fixed_ips[i].ip_address ? p->fixed_ips[i].ip_address : "",
                p->fixed_ips[i].subnet_id ? p->fixed_ips[i].subnet_id : "");
    if (m)
        fclose(m);
    cloud_field(&f, "fixed_ips", ips);
    free(ips);
    cloud_field_strv(&f, "security_group_ids", p->security_group_ids, p->n_security_group_ids);
    cloud_field_strv(&f, "tags", p->tags, p->n_tags);
    cloud_fields_print(&f);
    return EXIT_OK;
}

typedef struct port_create_args {
    const char *network, *mac, *name, *subnet, *description;
    cloud_strv fixed_ips, sgs, tags;
    bool reuse;
} port_create_args;

enum { O_NETWORK = 0x2301, O_MAC, O_NAME, O_FIXED_IP, O_SUBNET, O_SG, O_TAG, O_DESC, O_REUSE };

static int port_create_opt(void *ctx, int opt, const char *arg)
{
    port_create_args *p = ctx;
    switch (opt) {
    case O_NETWORK: p->network = arg; return 0;
    case O_MAC: p->mac = arg; return 0;
    case O_NAME: p->name = arg; return 0;
    case O_FIXED_IP:
        if (!*arg)
            return cli_usage_error("--fixed-ip: empty value");
        cloud_strv_push(&p->fixed_ips, arg);
        return 0;
    case O_SUBNET: p->subnet = arg; return 0;
    case O_SG: cloud_strv_push(&p->sgs, arg); return 0;
    case O_TAG: cloud_strv_push(&p->tags, arg); return 0;
    case O_DESC: p->description = arg; return 0;
    case O_REUSE: p->reuse = true; return 0;
    default: return EXIT_USAGE;
    }
}

static int port_create(int argc, char **argv)
{
    static const struct option own[] = {
        { "network", required_argument, NULL, O_NETWORK },
        { "mac", required_argument, NULL, O_MAC },
        { "name", required_argument, NULL, O_NAME },
        { "fixed-ip", required_argument, NULL, O_FIXED_IP },
        { "subnet", required_argument, NULL, O_SUBNET },
        { "security-group", required_argument, NULL, O_SG },
        { "tag", required_argument, NULL, O_TAG },
        { "description", required_argument, NULL, O_DESC },
        { "reuse", no_argument, NULL, O_REUSE },
        { NULL, 0, NULL, 0 },
    };
    port_create_args p = { 0 };
    cloud_args a;
    vmmk_cloud *c = NULL;
    vmmk_cloud_port *out = NULL;
    int rc = cloud_parse(&a, argc, argv, own, port_create_opt, &p, true, port_usage, NULL, 0, 0);
    if (rc >= 0)
        goto done;
    if (!p.network || !*p.network) {
        rc = cli_usage_error("--network NET is required");
        goto done;
    }
    if ((rc = cloud_connect(&c, &a.conn)) != EXIT_OK)
        goto done;
    vmmk_cloud_port_spec spec = VMMK_CLOUD_PORT_CREATE_INIT;
    spec.network = p.network;
    spec.name = p.name;
    spec.mac_address = p.mac;
    spec.fixed_ips = p.fixed_ips.v;
    spec.n_fixed_ips = p.fixed_ips.n;
    spec.subnet = p.subnet;
    spec.security_groups = p.sgs.v;
    spec.n_security_groups = p.sgs.n;
    spec.tags = p.tags.v;
    spec.n_tags = p.tags.n;
    spec.description = p.description;
    spec.reuse = p.reuse;
    rc = vmmk_cloud_port_create(&out, c, &spec) ? cli_fail_last() : port_print(out, a.json);
done:
    vmmk_cloud_port_free(out);
    vmmk_cloud_free(c);
    cloud_strv_free(&p.fixed_ips);
    cloud_strv_free(&p.sgs);
    cloud_strv_free(&p.tags);
    return rc;
}

/* show or delete one port, looked up by id or unique name. */
static int port_show_delete(int argc, char **argv, bool del)
{
    cloud_args a;
    vmmk_cloud *c;
    int rc;
    if (!cloud_open(&rc, &c, &a, argc, argv, NULL, NULL, NULL, !del, port_usage, "ID_OR_NAME", 1,
                    1))
        return rc;
    vmmk_cloud_port *p = NULL;
    if (vmmk_cloud_port_get(&p, c, a.pos[0]))
        rc = cloud_lookup_failed(del);
    else if (!del)
        rc = port_print(p, a.json);
    else if (vmmk_cloud_port_delete(c, p->id))
        rc = cli_fail_last();
    else
        printf("deleted port %s\n", p->id);
    vmmk_cloud_port_free(p);
    vmmk_cloud_free(c);
    return rc;
}

static int port_show(int argc, char **argv)
{
    return port_show_delete(argc, argv, false);
}

static int port_delete(int argc, char **argv)
{
    return port_show_delete(argc, argv, true);
}

int cmd_cloud_port(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "create", "a port keeping a VM's MAC (and IPs)", port_create },
        { "show", "one port by id or unique name", port_show },
        { "delete", "delete a port", port_delete },
    };
    return cli_dispatch("cloud port", sub, sizeof sub / sizeof *sub, argc - 1, argv + 1);
}
