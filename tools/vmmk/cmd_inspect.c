/* vmmk inspect (one VM into the VM model) and vmmk vms (every VM). */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Parse a command with the connection flags plus --json (and --vm when
 * @p vm is given).  Returns -1 to go on, else the exit code. */
static int parse(int argc, char **argv, cli_vsphere_conn *conn, const char **vm, bool *json,
                 void (*usage)(FILE *))
{
    static const struct option with_vm[] = {
        CLI_VSPHERE_OPTIONS,
        { "vm", required_argument, NULL, 'm' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const struct option without_vm[] = {
        CLI_VSPHERE_OPTIONS,
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    cli_vsphere_conn_init(conn);
    int c;
    while ((c = getopt_long(argc, argv, "h", vm ? with_vm : without_vm, NULL)) != -1) {
        if (cli_vsphere_conn_option(conn, c, optarg))
            continue;
        switch (c) {
        case 'm': *vm = optarg; break;
        case 'j': *json = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try '%s --help'.\n", cli_prog);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument \"%s\"", argv[optind]);
    if (vm && (!*vm || !**vm))
        return cli_usage_error("--vm NAME|PATH|UUID|MOREF is required");
    return -1;
}

static void inspect_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk inspect --vm NAME|PATH|UUID|MOREF [--json] [connection options]\n\n"
            "Describe a vSphere VM: its identity, guest, firmware, CPUs, memory, power state,\n"
            "CBT, disks and NICs.  --json prints the VM model document (docs/vm-model.md)\n"
            "that 'vmmk flavor', 'vmmk netmap' and 'vmmk image-properties' read.\n"
            "The VM is a moref (vm-42), an inventory path (/DC0/vm/web01), a BIOS or\n"
            "instance UUID, or a name (which must be unique).\n\n%s",
            cli_vsphere_help);
}

int cmd_inspect(int argc, char **argv)
{
    cli_vsphere_conn conn;
    const char *what = NULL;
    bool json = false;
    int rc = parse(argc, argv, &conn, &what, &json, inspect_usage);
    if (rc >= 0)
        return rc;
    vmmk_vsphere *vs = NULL;
    if ((rc = cli_vsphere_connect(&vs, &conn)) != EXIT_OK)
        return rc;
    char *moref = NULL;
    vmmk_vm *vm = NULL;
    char *s = NULL;
    if (vmmk_vsphere_find_vm(&moref, vs, what) || vmmk_vsphere_describe_vm(&vm, vs, moref)) {
        rc = cli_fail_last();
    } else if (json) {
        if (vmmk_vm_to_json(&s, vm, VMMK_JSON_PRETTY))
            rc = cli_fail_last();
        else
            cli_print_json(s);
    } else {
        cli_vm_print(vm);
    }
    vmmk_string_free(s);
    vmmk_vm_free(vm);
    vmmk_string_free(moref);
    vmmk_vsphere_free(vs);
    return rc;
}

static void vms_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk vms [--json] [connection options]\n\n"
            "List every VM (templates included) with what a migration plan needs: name,\n"
            "moref, power state, CPUs, memory, disks and their total size, CBT, guest\n"
            "and inventory path.  The listing takes the same few calls for 10 VMs or\n"
            "10,000 (a container view read in pages).\n\n%s",
            cli_vsphere_help);
}

static void size_text(char *buf, size_t n, uint64_t bytes)
{
    if (bytes >= (1ull << 30))
        snprintf(buf, n, "%.1f GiB", (double)bytes / (double)(1ull << 30));
    else
        snprintf(buf, n, "%.1f MiB", (double)bytes / (double)(1ull << 20));
}

static void vms_table(const vmmk_vm_summary_list *l)
{
    static const char *const head[] = { "NAME", "MOREF", "POWER", "VCPUS", "MEMORY", "DISKS", "CAPACITY",
                                        "CBT", "GUEST", "PATH" };
    cli_table t;
    cli_table_init(&t, 10, head);
    for (size_t i = 0; i < l->n; i++) {
        const vmmk_vm_summary *s = &l->vms[i];
        char cpus[16], mem[32], disks[16], cap[32];
        snprintf(cpus, sizeof cpus, "%" PRId32, s->vcpus);
        snprintf(mem, sizeof mem, "%" PRIu64 " MiB", s->memory_mib);
        snprintf(disks, sizeof disks, "%zu", s->n_disks);
        size_text(cap, sizeof cap, s->capacity_bytes);
        const char *row[] = { s->name, s->moref,
                              s->is_template ? "template" : vmmk_power_state_name(s->power_state),
                              cpus, mem, disks, cap, s->cbt_enabled ? "on" : "off", s->guest_id, s->path };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
    printf("%zu VM%s\n", l->n, l->n == 1 ? "" : "s");
}

int cmd_vms(int argc, char **argv)
{
    cli_vsphere_conn conn;
    bool json = false;
    int rc = parse(argc, argv, &conn, NULL, &json, vms_usage);
    if (rc >= 0)
        return rc;
    vmmk_vsphere *vs = NULL;
    if ((rc = cli_vsphere_connect(&vs, &conn)) != EXIT_OK)
        return rc;
    vmmk_vm_summary_list *l = NULL;
    char *s = NULL;
    if (vmmk_vsphere_list_vms(&l, vs)) {
        rc = cli_fail_last();
    } else if (json) {
        if (vmmk_vm_summary_list_to_json(&s, l, VMMK_JSON_PRETTY))
            rc = cli_fail_last();
        else
            cli_print_json(s);
    } else {
        vms_table(l);
    }
    vmmk_string_free(s);
    vmmk_vm_summary_list_free(l);
    vmmk_vsphere_free(vs);
    return rc;
}
