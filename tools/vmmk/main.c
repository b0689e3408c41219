/* vmmk: command-line front end of libvmmk.  Thin by design: every rule
 * lives in the library so that C, Python and the CLI agree. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static const cli_command commands[] = {
    { "flavor", "choose a Nova flavor for a VM", cmd_flavor },
    { "netmap", "plan the Neutron ports for a VM's NICs", cmd_netmap },
    { "image-properties", "image properties a converted VM needs", cmd_image_properties },
    { "vm", "check and print a VM model document", cmd_vm },
    { "copy", "copy a disk (whole or changed extents), resumable", cmd_copy },
    { "checksum", "SHA-256 of a whole disk", cmd_checksum },
    { "thumbprint", "a vCenter/ESXi certificate thumbprint, to verify and pin", cmd_thumbprint },
    { "inspect", "describe a vSphere VM (the VM model)", cmd_inspect },
    { "vms", "list every VM of a vCenter or ESXi", cmd_vms },
    { "snapshot", "create, list and remove vSphere snapshots", cmd_snapshot },
    { "cbt", "enable changed block tracking, query changed areas", cmd_cbt },
    { "power", "power a vSphere VM off (guest shutdown first) or on", cmd_power },
    { "cloud", "OpenStack: auth, flavors, networks, ports, volumes, servers, images", cmd_cloud },
};
#define N_COMMANDS (sizeof commands / sizeof *commands)

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk [--log-level LEVEL] [-v] COMMAND [OPTIONS]\n"
            "       vmmk --version | --help\n\n"
            "Move virtual machines from VMware vSphere to OpenStack.\n\n"
            "Commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].summary);
    fprintf(f,
            "\nOptions:\n"
            "  --log-level LEVEL  error, warn (default), info, debug or trace\n"
            "  -v, --verbose      one log level more (repeatable)\n"
            "  --version          print the libvmmk version\n"
            "  -h, --help         this help\n\n"
            "Run 'vmmk COMMAND --help' for a command's options.  See vmmk(1).\n"
            "Exit status: 0 success, 1 failure, 2 usage error.\n");
}

static int parse_level(const char *s)
{
    for (int l = VMMK_LOG_ERROR; l <= VMMK_LOG_TRACE; l++)
        if (strcasecmp(s, vmmk_log_level_name(l)) == 0)
            return l;
    if (strcasecmp(s, "warning") == 0)
        return VMMK_LOG_WARN;
    return -1;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "version", no_argument, NULL, 'V' },
        { "help", no_argument, NULL, 'h' },
        { "verbose", no_argument, NULL, 'v' },
        { "log-level", required_argument, NULL, 'L' },
        { NULL, 0, NULL, 0 },
    };
    int c, level = VMMK_LOG_WARN;
    /* "+": stop at the first non-option so each command parses its own. */
    while ((c = getopt_long(argc, argv, "+hvV", opts, NULL)) != -1) {
        switch (c) {
        case 'V':
            printf("vmmk %s\n", vmmk_version());
            return EXIT_OK;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'v':
            if (level < VMMK_LOG_TRACE)
                level++;
            break;
        case 'L':
            if ((level = parse_level(optarg)) < 0)
                return cli_usage_error("--log-level: \"%s\" is not one of error, warn, info, debug, trace",
                                       optarg);
            break;
        default:
            fprintf(stderr, "Try 'vmmk --help'.\n");
            return EXIT_USAGE;
        }
    }
    vmmk_log_set_level(level);
    if (optind >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    int sub_argc = argc - optind;
    char **sub_argv = argv + optind;
    optind = 0; /* reset getopt (GNU: 0 re-initialises) for the subcommand */
    return cli_dispatch("vmmk", commands, N_COMMANDS, sub_argc, sub_argv);
}
