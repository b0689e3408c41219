/* vmmk image-properties */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk image-properties --vm FILE [--disk-bus BUS] [--vif-model MODEL]\n"
            "                             [--no-conversion] [--no-guest-agent] [--json]\n\n"
            "Print the image properties (Glance image or Cinder volume_image_metadata)\n"
            "the migrated guest needs: firmware, machine type, secure boot, TPM, buses,\n"
            "OS type and distribution.\n\n"
            "  --vm FILE          VM model document (- = stdin)\n"
            "  --disk-bus BUS     auto (default), virtio, scsi, sata or ide\n"
            "  --vif-model MODEL  auto (default), virtio, e1000, e1000e or vmxnet3\n"
            "  --no-conversion    the guest keeps its VMware drivers (no virtio)\n"
            "  --no-guest-agent   do not set hw_qemu_guest_agent\n"
            "  --json             print one flat JSON object\n");
}

int cmd_image_properties(int argc, char **argv)
{
    static const struct option opts[] = {
        { "vm", required_argument, NULL, 'm' },
        { "disk-bus", required_argument, NULL, 'b' },
        { "vif-model", required_argument, NULL, 'n' },
        { "no-conversion", no_argument, NULL, 'C' },
        { "no-guest-agent", no_argument, NULL, 'G' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *vm_path = NULL;
    bool json = false;
    vmmk_image_options o = VMMK_IMAGE_OPTIONS_INIT;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': vm_path = optarg; break;
        case 'b':
            if (vmmk_disk_bus_parse(&o.disk_bus, optarg))
                return cli_usage_error("--disk-bus: %s", vmmk_error_last()->message);
            break;
        case 'n':
            if (vmmk_vif_model_parse(&o.vif_model, optarg))
                return cli_usage_error("--vif-model: %s", vmmk_error_last()->message);
            break;
        case 'C': o.converted = false; break;
        case 'G': o.qemu_guest_agent = false; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try '%s --help'.\n", cli_prog);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument \"%s\"", argv[optind]);
    if (!vm_path)
        return cli_usage_error("--vm FILE is required");

    vmmk_vm *vm = NULL;
    vmmk_properties *props = NULL;
    int rc = EXIT_OK;
    if (vmmk_vm_from_file(&vm, vm_path) || vmmk_image_properties(&props, vm, &o)) {
        rc = cli_fail_last();
    } else if (json) {
        char *s = NULL;
        if (vmmk_properties_to_json(&s, props, VMMK_JSON_PRETTY))
            rc = cli_fail_last();
        else
            cli_print_json(s);
        vmmk_string_free(s);
    } else {
        for (size_t i = 0; i < props->n; i++)
            printf("%s=%s\n", props->keys[i], props->values[i]);
    }
    vmmk_properties_free(props);
    vmmk_vm_free(vm);
    return rc;
}
