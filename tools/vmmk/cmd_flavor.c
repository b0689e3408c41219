/* vmmk flavor match */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void match_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk flavor match --flavors FILE (--vm FILE | --vcpus N --ram-mib N --disk-gib N)\n"
            "                         [--boot-from-volume] [--ephemeral-gib N] [--swap-mib N]\n"
            "                         [--name-filter GLOB] [--extra-spec KEY=VALUE]...\n"
            "                         [--include-private] [--json]\n\n"
            "Choose the flavor that meets every requirement with the least waste.\n\n"
            "  --flavors FILE       Nova's GET /flavors/detail answer ({\"flavors\": [...]}); - = stdin\n"
            "  --vm FILE            VM model document: vCPUs, RAM and the boot disk come from it\n"
            "  --vcpus N, --ram-mib N, --disk-gib N\n"
            "                       explicit requirements (override --vm)\n"
            "  --boot-from-volume   the root disk is a volume: the flavor's disk does not matter\n"
            "  --ephemeral-gib N, --swap-mib N   minimum ephemeral disk and swap\n"
            "  --name-filter GLOB   only flavors whose name matches (fnmatch)\n"
            "  --extra-spec K=V     only flavors with this extra spec (repeatable)\n"
            "  --include-private    consider non-public flavors too\n"
            "  --json               print {\"flavor\": {...}, \"reason\": \"...\", ...}\n\n"
            "Exit status 1 when no flavor fits: the reason and a flavor to create go to stderr.\n");
}

static void print_proposal(const vmmk_flavor_choice *m, bool json)
{
    const vmmk_flavor *p = m->proposal;
    if (!p)
        return;
    if (json) {
        char *s = NULL;
        if (vmmk_flavor_choice_to_json(&s, m, 0) == 0)
            fprintf(stderr, "%s\n", s);
        vmmk_string_free(s);
        return;
    }
    fprintf(stderr,
            "proposed flavor: %s: %" PRId32 " vCPUs, %" PRIu64 " MiB RAM, %" PRIu64 " GiB disk",
            p->name, p->vcpus, p->ram_mib, p->disk_gib);
    if (p->ephemeral_gib)
        fprintf(stderr, ", %" PRIu64 " GiB ephemeral", p->ephemeral_gib);
    if (p->swap_mib)
        fprintf(stderr, ", %" PRIu64 " MiB swap", p->swap_mib);
    fprintf(stderr, "\n  create it with: openstack flavor create --vcpus %" PRId32 " --ram %" PRIu64
                    " --disk %" PRIu64,
            p->vcpus, p->ram_mib, p->disk_gib);
    if (p->ephemeral_gib)
        fprintf(stderr, " --ephemeral %" PRIu64, p->ephemeral_gib);
    if (p->swap_mib)
        fprintf(stderr, " --swap %" PRIu64, p->swap_mib);
    for (size_t i = 0; i < p->n_extra_specs; i++)
        fprintf(stderr, " --property %s=%s", p->extra_spec_keys[i], p->extra_spec_values[i]);
    fprintf(stderr, " %s\n", p->name);
}

static int cmd_match(int argc, char **argv)
{
    enum { O_FLAVORS = 256, O_VM, O_VCPUS, O_RAM, O_DISK, O_BFV, O_EPH, O_SWAP, O_FILTER, O_SPEC,
           O_PRIVATE, O_JSON };
    static const struct option opts[] = {
        { "flavors", required_argument, NULL, O_FLAVORS },
        { "vm", required_argument, NULL, O_VM },
        { "vcpus", required_argument, NULL, O_VCPUS },
        { "ram-mib", required_argument, NULL, O_RAM },
        { "disk-gib", required_argument, NULL, O_DISK },
        { "boot-from-volume", no_argument, NULL, O_BFV },
        { "ephemeral-gib", required_argument, NULL, O_EPH },
        { "swap-mib", required_argument, NULL, O_SWAP },
        { "name-filter", required_argument, NULL, O_FILTER },
        { "extra-spec", required_argument, NULL, O_SPEC },
        { "include-private", no_argument, NULL, O_PRIVATE },
        { "json", no_argument, NULL, O_JSON },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *flavors_path = NULL, *vm_path = NULL;
    bool json = false, have_vcpus = false, have_ram = false, have_disk = false;
    uint64_t vcpus = 0, ram = 0, disk = 0, v;
    vmmk_flavor_requirements req = VMMK_FLAVOR_REQUIREMENTS_INIT;
    const char **keys = NULL, **values = NULL;
    size_t n_specs = 0;
    int c, rc = EXIT_FAIL;

    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_FLAVORS: flavors_path = optarg; break;
        case O_VM: vm_path = optarg; break;
        case O_VCPUS:
            if (!cli_parse_u64("--vcpus", optarg, INT32_MAX, &vcpus)) goto usage;
            have_vcpus = true;
            break;
        case O_RAM:
            if (!cli_parse_u64("--ram-mib", optarg, INT64_MAX, &ram)) goto usage;
            have_ram = true;
            break;
        case O_DISK:
            if (!cli_parse_u64("--disk-gib", optarg, INT64_MAX, &disk)) goto usage;
            have_disk = true;
            break;
        case O_BFV: req.boot_from_volume = true; break;
        case O_EPH:
            if (!cli_parse_u64("--ephemeral-gib", optarg, INT64_MAX, &v)) goto usage;
            req.ephemeral_gib = v;
            break;
        case O_SWAP:
            if (!cli_parse_u64("--swap-mib", optarg, INT64_MAX, &v)) goto usage;
            req.swap_mib = v;
            break;
        case O_FILTER: req.name_filter = optarg; break;
        case O_SPEC: {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                cli_usage_error("--extra-spec: \"%s\" is not KEY=VALUE", optarg);
                goto usage;
            }
            const char **nk = realloc(keys, (n_specs + 1) * sizeof *nk);
            if (nk) keys = nk;
            const char **nv = realloc(values, (n_specs + 1) * sizeof *nv);
            if (nv) values = nv;
            if (!nk || !nv) {
                rc = cli_fail("out of memory");
                goto out;
            }
            *eq = '\0';
            keys[n_specs] = optarg;
            values[n_specs] = eq + 1;
            n_specs++;
            break;
        }
        case O_PRIVATE: req.include_private = true; break;
        case O_JSON: json = true; break;
        case 'h':
            match_usage(stdout);
            rc = EXIT_OK;
            goto out;
        default:
            fprintf(stderr, "Try '%s --help'.\n", cli_prog);
            goto usage;
        }
    }
    if (optind < argc) {
        cli_usage_error("unexpected argument \"%s\"", argv[optind]);
        goto usage;
    }
    if (!flavors_path) {
        cli_usage_error("--flavors FILE is required");
        goto usage;
    }
    if (!vm_path && (!have_vcpus || !have_ram || (!have_disk && !req.boot_from_volume))) {
        cli_usage_error("give --vm FILE, or --vcpus, --ram-mib and --disk-gib%s",
                        req.boot_from_volume ? " (--disk-gib may be left out with --boot-from-volume)" : "");
        goto usage;
    }

    vmmk_vm *vm = NULL;
    if (vm_path) {
        if (vmmk_vm_from_file(&vm, vm_path) || vmmk_flavor_requirements_from_vm(&req, vm)) {
            rc = cli_fail_last();
            vmmk_vm_free(vm);
            goto out;
        }
        vmmk_vm_free(vm);
    }
    if (have_vcpus) req.vcpus = (int32_t)vcpus;
    if (have_ram) req.ram_mib = ram;
    if (have_disk) req.disk_gib = disk;
    req.extra_spec_keys = keys;
    req.extra_spec_values = values;
    req.n_extra_specs = n_specs;

    vmmk_flavor_list *flavors = NULL;
    if (vmmk_flavor_list_from_file(&flavors, flavors_path)) {
        rc = cli_fail_last();
        goto out;
    }
    vmmk_flavor_choice *m = NULL;
    int r = vmmk_flavor_match(&m, flavors, &req);
    if (r == 0) {
        if (json) {
            char *s = NULL;
            if (vmmk_flavor_choice_to_json(&s, m, VMMK_JSON_PRETTY)) {
                rc = cli_fail_last();
            } else {
                cli_print_json(s);
                rc = EXIT_OK;
            }
            vmmk_string_free(s);
        } else {
            const vmmk_flavor *f = m->flavor;
            printf("flavor: %s (id %s)\n", f->name, f->id);
            printf("shape:  %" PRId32 " vCPUs, %" PRIu64 " MiB RAM, %" PRIu64 " GiB disk", f->vcpus,
                   f->ram_mib, f->disk_gib);
            if (f->ephemeral_gib)
                printf(", %" PRIu64 " GiB ephemeral", f->ephemeral_gib);
            if (f->swap_mib)
                printf(", %" PRIu64 " MiB swap", f->swap_mib);
            printf("\nreason: %s\n", m->reason);
            rc = EXIT_OK;
        }
    } else {
        rc = cli_fail_last();
        if (r == VMMK_ENOFIT && m)
            print_proposal(m, json);
    }
    vmmk_flavor_choice_free(m);
    vmmk_flavor_list_free(flavors);
    goto out;

usage:
    rc = EXIT_USAGE;
out:
    free(keys);
    free(values);
    return rc;
}

int cmd_flavor(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "match", "choose the flavor that fits a VM with the least waste", cmd_match },
    };
    return cli_dispatch("flavor", sub, 1, argc - 1, argv + 1);
}
