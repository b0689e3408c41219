/* vmmk vm show: validate a VM model document and print it normalised. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk vm show --vm FILE [--json]\n\n"
            "Read a VM model document, check every field (errors name the field) and\n"
            "print it: a summary, or with --json the normalised document (MACs in\n"
            "lowercase, defaults filled in).\n");
}

static void human_size(char *buf, size_t n, uint64_t bytes)
{
    if (bytes % (1ull << 30) == 0)
        snprintf(buf, n, "%" PRIu64 " GiB", bytes >> 30);
    else
        snprintf(buf, n, "%.2f GiB", (double)bytes / (double)(1ull << 30));
}

/* The text summary shared by vmmk vm show and vmmk inspect. */
void cli_vm_print(const vmmk_vm *vm)
{
    printf("name:      %s (%s, uuid %s)\n", vm->name, vm->moref, vm->uuid);
    printf("guest:     %s%s%s%s\n", vm->guest_id, vm->guest_name ? " (" : "",
           vm->guest_name ? vm->guest_name : "", vm->guest_name ? ")" : "");
    printf("hardware:  %" PRId32 " vCPUs (%" PRId32 " per socket), %" PRIu64 " MiB RAM, %s%s%s\n",
           vm->vcpus, vm->cores_per_socket, vm->memory_mib, vmmk_firmware_name(vm->firmware),
           vm->secure_boot ? ", secure boot" : "", vm->vtpm ? ", vTPM" : "");
    printf("state:     %s, CBT %s\n\n", vmmk_power_state_name(vm->power_state),
           vm->cbt_enabled ? "enabled" : "disabled");
    static const char *const dh[] = { "DISK", "KEY", "SIZE", "CONTROLLER", "UNIT", "FILE" };
    cli_table t;
    cli_table_init(&t, 6, dh);
    for (size_t i = 0; i < vm->n_disks; i++) {
        const vmmk_disk *d = &vm->disks[i];
        char key[16], size[32], unit[16];
        snprintf(key, sizeof key, "%" PRId32, d->key);
        human_size(size, sizeof size, d->capacity_bytes);
        snprintf(unit, sizeof unit, "%" PRId32, d->unit);
        const char *row[] = { d->label, key, size, vmmk_controller_name(d->controller), unit, d->file };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
    printf("\n");
    static const char *const nh[] = { "NIC", "KEY", "MAC", "ADAPTER", "NETWORK", "IPS" };
    cli_table_init(&t, 6, nh);
    for (size_t i = 0; i < vm->n_nics; i++) {
        const vmmk_nic *n = &vm->nics[i];
        char key[16], ips[512] = "";
        snprintf(key, sizeof key, "%" PRId32, n->key);
        for (size_t k = 0; k < n->n_ips; k++) {
            if (k)
                strncat(ips, ",", sizeof ips - strlen(ips) - 1);
            strncat(ips, n->ips[k], sizeof ips - strlen(ips) - 1);
        }
        const char *row[] = { n->label, key, n->mac, vmmk_nic_adapter_name(n->adapter),
                              n->network, *ips ? ips : NULL };
        cli_table_row(&t, row);
    }
    cli_table_print(&t);
    cli_table_free(&t);
}

static int cmd_show(int argc, char **argv)
{
    static const struct option opts[] = {
        { "vm", required_argument, NULL, 'm' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *path = NULL;
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': path = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try '%s --help'.\n", cli_prog);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument \"%s\"", argv[optind]);
    if (!path)
        return cli_usage_error("--vm FILE is required");
    vmmk_vm *vm = NULL;
    if (vmmk_vm_from_file(&vm, path))
        return cli_fail_last();
    int rc = EXIT_OK;
    if (json) {
        char *s = NULL;
        if (vmmk_vm_to_json(&s, vm, VMMK_JSON_PRETTY))
            rc = cli_fail_last();
        else
            cli_print_json(s);
        vmmk_string_free(s);
    } else {
        cli_vm_print(vm);
    }
    vmmk_vm_free(vm);
    return rc;
}

int cmd_vm(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "show", "check a VM model document and print it", cmd_show },
    };
    return cli_dispatch("vm", sub, 1, argc - 1, argv + 1);
}
