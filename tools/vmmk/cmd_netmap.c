/* vmmk netmap */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk netmap --vm FILE --map FILE [--json]\n\n"
            "Plan one Neutron port per NIC of the VM, keeping its MAC (and its guest IPs\n"
            "when the map enables fixed_ips).  The map document is described in vmmk(1).\n\n"
            "  --vm FILE    VM model document (- = stdin)\n"
            "  --map FILE   network mapping document\n"
            "  --json       print {\"ports\": [...]}\n\n"
            "Exit status 1 when a NIC matches no entry and the map has no default;\n"
            "every such NIC is named.\n");
}

static char *join_ips(const vmmk_port_spec *p)
{
    size_t len = 1;
    for (size_t i = 0; i < p->n_fixed_ips; i++)
        len += strlen(p->fixed_ips[i].ip_address) + 1;
    char *s = calloc(1, len);
    for (size_t i = 0; s && i < p->n_fixed_ips; i++) {
        if (i)
            strcat(s, ",");
        strcat(s, p->fixed_ips[i].ip_address);
    }
    return s;
}

static char *join_list(char **items, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(items[i]) + 1;
    char *s = calloc(1, len);
    for (size_t i = 0; s && i < n; i++) {
        if (i)
            strcat(s, ",");
        strcat(s, items[i]);
    }
    return s;
}

int cmd_netmap(int argc, char **argv)
{
    static const struct option opts[] = {
        { "vm", required_argument, NULL, 'm' },
        { "map", required_argument, NULL, 'M' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *vm_path = NULL, *map_path = NULL;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': vm_path = optarg; break;
        case 'M': map_path = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try '%s --help'.\n", cli_prog);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument \"%s\"", argv[optind]);
    if (!vm_path || !map_path)
        return cli_usage_error("%s is required", !vm_path ? "--vm FILE" : "--map FILE");
    if (strcmp(vm_path, "-") == 0 && strcmp(map_path, "-") == 0)
        return cli_usage_error("--vm and --map cannot both read standard input");

    vmmk_vm *vm = NULL;
    vmmk_netmap *map = NULL;
    vmmk_port_plan *plan = NULL;
    int rc = EXIT_FAIL;
    if (vmmk_vm_from_file(&vm, vm_path) || vmmk_netmap_from_file(&map, map_path) ||
        vmmk_netmap_apply(&plan, map, vm)) {
        rc = cli_fail_last();
        goto out;
    }
    if (json) {
        char *s = NULL;
        if (vmmk_port_plan_to_json(&s, plan, VMMK_JSON_PRETTY)) {
            rc = cli_fail_last();
            goto out;
        }
        cli_print_json(s);
        vmmk_string_free(s);
    } else {
        static const char *const head[] = { "NIC", "MAC", "NETWORK", "SUBNET", "FIXED IPS",
                                            "SECURITY GROUPS", "PORT NAME" };
        cli_table t;
        cli_table_init(&t, 7, head);
        for (size_t i = 0; i < plan->n_ports; i++) {
            const vmmk_port_spec *p = &plan->ports[i];
            char *ips = join_ips(p), *sgs = join_list(p->security_groups, p->n_security_groups);
            const char *row[] = { p->nic_label ? p->nic_label : "", p->mac, p->network, p->subnet,
                                  ips && *ips ? ips : NULL, sgs && *sgs ? sgs : NULL, p->name };
            cli_table_row(&t, row);
            free(ips);
            free(sgs);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    rc = EXIT_OK;
out:
    vmmk_port_plan_free(plan);
    vmmk_netmap_free(map);
    vmmk_vm_free(vm);
    return rc;
}
