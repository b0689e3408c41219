/* vSphere commands: vmmk thumbprint (more arrive with the vSphere part). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cmd_thumbprint(int argc, char **argv)
{
    static const struct option opts[] = {
        { "server", required_argument, NULL, 's' },
        { "sha256", no_argument, NULL, '2' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *server = getenv("VMMK_VSPHERE_SERVER");
    bool sha256 = false, json = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case '2': sha256 = true; break;
        case 'j': json = true; break;
        case 'h':
            printf("Usage: vmmk thumbprint --server HOST[:PORT] [--sha256] [--json]\n\n"
                   "Print the server certificate's thumbprint (SHA-1 by default, as VDDK and\n"
                   "nbdkit's vddk plugin want it), fetched WITHOUT trusting the certificate:\n"
                   "compare it with the one vCenter shows before you pin it with --thumbprint.\n"
                   "VMMK_VSPHERE_SERVER is the default server.\n");
            return EXIT_OK;
        default:
            fprintf(stderr, "Try '%s --help'.\n", cli_prog);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument \"%s\"", argv[optind]);
    if (!server || !*server)
        return cli_usage_error("--server HOST[:PORT] is required (or VMMK_VSPHERE_SERVER)");
    char *tp = NULL;
    if (vmmk_vsphere_thumbprint(&tp, server, sha256))
        return cli_fail_last();
    if (json)
        printf("{\"server\": \"%s\", \"%s\": \"%s\"}\n", server, sha256 ? "sha256" : "sha1", tp);
    else
        printf("%s\n", tp);
    vmmk_string_free(tp);
    return EXIT_OK;
}
