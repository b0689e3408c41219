/* vmmk snapshot create|list|remove|disks, vmmk cbt enable|query,
 * vmmk power off|on: thin wrappers over the library's vSphere operations. */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Everything these commands may take; each says which it accepts. */
typedef struct ops_args {
    cli_vsphere_conn conn;
    const char *vm, *name, *description, *snapshot, *change_id;
    uint64_t disk, timeout;
    bool have_disk, have_timeout, quiesce, children, hard, json;
} ops_args;

enum {
    O_VM = 0x2001, O_NAME, O_DESC, O_QUIESCE, O_CHILDREN, O_DISK, O_SNAPSHOT, O_CHANGE_ID,
    O_HARD, O_TIMEOUT, O_JSON,
};

/* Options a command accepts, as letters of @p allowed:
 * n name, d description, q quiesce, c children, k disk, s snapshot,
 * i change-id, H hard, t timeout, j json.  Returns -1 to go on. */
static int parse(ops_args *a, int argc, char **argv, const char *allowed, void (*usage)(FILE *))
{
    static const struct option opts[] = {
        CLI_VSPHERE_OPTIONS,
        { "vm", required_argument, NULL, O_VM },
        { "name", required_argument, NULL, O_NAME },
        { "description", required_argument, NULL, O_DESC },
        { "quiesce", no_argument, NULL, O_QUIESCE },
        { "children", no_argument, NULL, O_CHILDREN },
        { "disk", required_argument, NULL, O_DISK },
        { "snapshot", required_argument, NULL, O_SNAPSHOT },
        { "change-id", required_argument, NULL, O_CHANGE_ID },
        { "hard", no_argument, NULL, O_HARD },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "json", no_argument, NULL, O_JSON },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static const struct { int opt; char letter; const char *name; } letters[] = {
        { O_NAME, 'n', "--name" }, { O_DESC, 'd', "--description" }, { O_QUIESCE, 'q', "--quiesce" },
        { O_CHILDREN, 'c', "--children" }, { O_DISK, 'k', "--disk" }, { O_SNAPSHOT, 's', "--snapshot" },
        { O_CHANGE_ID, 'i', "--change-id" }, { O_HARD, 'H', "--hard" }, { O_TIMEOUT, 't', "--timeout" },
        { O_JSON, 'j', "--json" },
    };
    memset(a, 0, sizeof *a);
    cli_vsphere_conn_init(&a->conn);
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (cli_vsphere_conn_option(&a->conn, c, optarg))
            continue;
        for (size_t i = 0; i < sizeof letters / sizeof *letters; i++)
            if (letters[i].opt == c && !strchr(allowed, letters[i].letter))
                return cli_usage_error("%s does not apply here", letters[i].name);
        switch (c) {
        case O_VM: a->vm = optarg; break;
        case O_NAME: a->name = optarg; break;
        case O_DESC: a->description = optarg; break;
        case O_QUIESCE: a->quiesce = true; break;
        case O_CHILDREN: a->children = true; break;
        case O_SNAPSHOT: a->snapshot = optarg; break;
        case O_CHANGE_ID: a->change_id = optarg; break;
        case O_HARD: a->hard = true; break;
        case O_JSON: a->json = true; break;
        case O_DISK:
            if (!cli_parse_u64("--disk", optarg, INT32_MAX, &a->disk))
                return EXIT_USAGE;
            a->have_disk = true;
            break;
        case O_TIMEOUT:
            if (!cli_parse_u64("--timeout", optarg, UINT_MAX, &a->timeout))
                return EXIT_USAGE;
            a->have_timeout = true;
            break;
        case 'h': usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try '%s --help'.\n", cli_prog);
            return EXIT_USAGE;
        }
    }
    if (optind < argc)
        return cli_usage_error("unexpected argument \"%s\"", argv[optind]);
    if (!a->vm || !*a->vm)
        return cli_usage_error("--vm NAME|PATH|UUID|MOREF is required");
    return -1;
}

/* Connect and resolve --vm.  Returns EXIT_OK or the exit code. */
static int open_vm(vmmk_vsphere **vs, char **vm, const ops_args *a)
{
    *vm = NULL;
    int rc = cli_vsphere_connect(vs, &a->conn);
    if (rc != EXIT_OK)
        return rc;
    if (vmmk_vsphere_find_vm(vm, *vs, a->vm)) {
        rc = cli_fail_last();
        vmmk_vsphere_free(*vs);
        *vs = NULL;
    }
    return rc;
}

/* ---- snapshot --------------------------------------------------------------- */

static void snapshot_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk snapshot create --vm VM --name NAME [--description TEXT] [--quiesce] [--json]\n"
            "       vmmk snapshot list   --vm VM [--json]\n"
            "       vmmk snapshot remove --vm VM --name NAME|MOREF [--children]\n"
            "       vmmk snapshot disks  --vm VM --name NAME|MOREF [--json]\n"
            "       (each with the connection options below)\n\n"
            "create  one snapshot of all the VM's disks at once (no memory; --quiesce asks\n"
            "        VMware Tools to quiesce the guest); prints the snapshot's moref\n"
            "list    the snapshot tree: moref, name, created, parent, current\n"
            "remove  remove a snapshot and consolidate its disks (--children: those\n"
            "        below it too); a name several snapshots share must be given as a moref\n"
            "disks   each disk of a snapshot: key, file, capacity and the CBT change id\n"
            "        to keep for the next 'vmmk cbt query --change-id'\n\n"
            "VM is a moref (vm-42), an inventory path, a UUID or a unique name.\n\n%s",
            cli_vsphere_help);
}

static int snapshot_create(int argc, char **argv)
{
    ops_args a;
    int rc = parse(&a, argc, argv, "ndqj", snapshot_usage);
    if (rc >= 0)
        return rc;
    if (!a.name || !*a.name)
        return cli_usage_error("--name NAME is required");
    vmmk_vsphere *vs;
    char *vm, *snap = NULL;
    if ((rc = open_vm(&vs, &vm, &a)) != EXIT_OK)
        return rc;
    if (vmmk_vsphere_snapshot_create(&snap, vs, vm, a.name, a.description, a.quiesce)) {
        rc = cli_fail_last();
    } else if (a.json) {
        printf("{\"vm\": ");
        cli_json_string(vm);
        printf(", \"snapshot\": ");
        cli_json_string(snap);
        printf(", \"name\": ");
        cli_json_string(a.name);
        printf("}\n");
    } else {
        printf("%s\n", snap);
    }
    vmmk_string_free(snap);
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
    return rc;
}

static int snapshot_list(int argc, char **argv)
{
    ops_args a;
    int rc = parse(&a, argc, argv, "j", snapshot_usage);
    if (rc >= 0)
        return rc;
    vmmk_vsphere *vs;
    char *vm;
    vmmk_vsphere_snapshots *l = NULL;
    if ((rc = open_vm(&vs, &vm, &a)) != EXIT_OK)
        return rc;
    if (vmmk_vsphere_snapshot_list(&l, vs, vm)) {
        rc = cli_fail_last();
    } else if (a.json) {
        printf("[");
        for (size_t i = 0; i < l->n; i++) {
            const vmmk_vsphere_snapshot *s = &l->items[i];
            printf("%s\n  {\"moref\": ", i ? "," : "");
            cli_json_string(s->moref);
            printf(", \"name\": ");
            cli_json_string(s->name);
            printf(", \"description\": ");
            cli_json_string(s->description);
            printf(", \"created\": ");
            cli_json_string(s->create_time);
            printf(", \"parent\": ");
            cli_json_string(s->parent);
            printf(", \"power_state\": ");
            cli_json_string(s->power_state);
            printf(", \"quiesced\": %s, \"current\": %s}", s->quiesced ? "true" : "false",
                   s->current ? "true" : "false");
        }
        printf("%s]\n", l->n ? "\n" : "");
    } else {
        static const char *const head[] = { "MOREF", "NAME", "CREATED", "PARENT", "CURRENT" };
        cli_table t;
        cli_table_init(&t, 5, head);
        for (size_t i = 0; i < l->n; i++) {
            const vmmk_vsphere_snapshot *s = &l->items[i];
            const char *row[] = { s->moref, s->name, s->create_time ? s->create_time : "",
                                  s->parent ? s->parent : "-", s->current ? "*" : "" };
            cli_table_row(&t, row);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    vmmk_vsphere_snapshots_free(l);
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
    return rc;
}

static int snapshot_remove(int argc, char **argv)
{
    ops_args a;
    int rc = parse(&a, argc, argv, "nc", snapshot_usage);
    if (rc >= 0)
        return rc;
    if (!a.name || !*a.name)
        return cli_usage_error("--name NAME|MOREF is required");
    vmmk_vsphere *vs;
    char *vm, *snap = NULL;
    if ((rc = open_vm(&vs, &vm, &a)) != EXIT_OK)
        return rc;
    if (vmmk_vsphere_snapshot_find(&snap, vs, vm, a.name) ||
        vmmk_vsphere_snapshot_remove(vs, snap, a.children))
        rc = cli_fail_last();
    else
        printf("removed %s (%s)\n", snap, a.name);
    vmmk_string_free(snap);
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
    return rc;
}

static int snapshot_disks(int argc, char **argv)
{
    ops_args a;
    int rc = parse(&a, argc, argv, "nj", snapshot_usage);
    if (rc >= 0)
        return rc;
    if (!a.name || !*a.name)
        return cli_usage_error("--name NAME|MOREF is required");
    vmmk_vsphere *vs;
    char *vm, *snap = NULL;
    vmmk_vsphere_snapshot_disk_list *d = NULL;
    if ((rc = open_vm(&vs, &vm, &a)) != EXIT_OK)
        return rc;
    if (vmmk_vsphere_snapshot_find(&snap, vs, vm, a.name) ||
        vmmk_vsphere_snapshot_disks(&d, vs, snap)) {
        rc = cli_fail_last();
    } else if (a.json) {
        printf("[");
        for (size_t i = 0; i < d->n; i++) {
            printf("%s\n  {\"key\": %" PRId32 ", \"file\": ", i ? "," : "", d->items[i].key);
            cli_json_string(d->items[i].file_name);
            printf(", \"capacity\": %" PRIu64 ", \"change_id\": ", d->items[i].capacity);
            cli_json_string(d->items[i].change_id);
            printf(", \"backing\": ");
            cli_json_string(d->items[i].backing_type);
            printf("}");
        }
        printf("%s]\n", d->n ? "\n" : "");
    } else {
        static const char *const head[] = { "KEY", "CAPACITY", "FILE", "CHANGE ID" };
        cli_table t;
        cli_table_init(&t, 4, head);
        for (size_t i = 0; i < d->n; i++) {
            char key[16], cap[24];
            snprintf(key, sizeof key, "%" PRId32, d->items[i].key);
            snprintf(cap, sizeof cap, "%" PRIu64, d->items[i].capacity);
            const char *row[] = { key, cap, d->items[i].file_name,
                                  d->items[i].change_id ? d->items[i].change_id : "-" };
            cli_table_row(&t, row);
        }
        cli_table_print(&t);
        cli_table_free(&t);
    }
    vmmk_vsphere_snapshot_disk_list_free(d);
    vmmk_string_free(snap);
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
    return rc;
}

int cmd_snapshot(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "create", "snapshot all disks of a VM at once", snapshot_create },
        { "list", "the snapshot tree of a VM", snapshot_list },
        { "remove", "remove a snapshot, consolidating the disks", snapshot_remove },
        { "disks", "a snapshot's disks with their CBT change ids", snapshot_disks },
    };
    return cli_dispatch("snapshot", sub, sizeof sub / sizeof *sub, argc - 1, argv + 1);
}

/* ---- cbt -------------------------------------------------------------------- */

static void cbt_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk cbt enable --vm VM\n"
            "       vmmk cbt query  --vm VM --disk KEY [--snapshot NAME|MOREF] --change-id ID [--json]\n"
            "       (each with the connection options below)\n\n"
            "enable  switch changed block tracking on, and make it take effect now (a\n"
            "        snapshot create/remove cycle when the VM runs); nothing when it is on\n"
            "query   the areas of disk KEY changed since change id ID, at the snapshot (or\n"
            "        the disk now: only for a powered-off VM).  ID \"*\" lists every allocated\n"
            "        area, for the first full copy; later runs pass the change id that\n"
            "        'vmmk snapshot disks' showed for the previous snapshot.  --json prints\n"
            "        [[offset, length], ...], the file 'vmmk copy --extents' reads.\n\n%s",
            cli_vsphere_help);
}

static int cbt_enable(int argc, char **argv)
{
    ops_args a;
    int rc = parse(&a, argc, argv, "", cbt_usage);
    if (rc >= 0)
        return rc;
    vmmk_vsphere *vs;
    char *vm;
    bool changed = false;
    if ((rc = open_vm(&vs, &vm, &a)) != EXIT_OK)
        return rc;
    if (vmmk_vsphere_cbt_enable(&changed, vs, vm))
        rc = cli_fail_last();
    else
        printf("%s: changed block tracking %s\n", vm, changed ? "enabled" : "was already enabled");
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
    return rc;
}

static int cbt_query(int argc, char **argv)
{
    ops_args a;
    int rc = parse(&a, argc, argv, "ksij", cbt_usage);
    if (rc >= 0)
        return rc;
    if (!a.have_disk)
        return cli_usage_error("--disk KEY is required (the device key, e.g. 2000: see 'vmmk snapshot disks')");
    if (!a.change_id || !*a.change_id)
        return cli_usage_error("--change-id ID is required (\"*\" for every allocated area)");
    vmmk_vsphere *vs;
    char *vm, *snap = NULL;
    vmmk_extent_list *l = NULL;
    if ((rc = open_vm(&vs, &vm, &a)) != EXIT_OK)
        return rc;
    if ((a.snapshot && vmmk_vsphere_snapshot_find(&snap, vs, vm, a.snapshot)) ||
        vmmk_vsphere_cbt_query(&l, vs, vm, snap, (int32_t)a.disk, a.change_id)) {
        rc = cli_fail_last();
    } else if (a.json) {
        char *s = NULL;
        if (vmmk_extent_list_to_json(&s, l))
            rc = cli_fail_last();
        else
            fputs(s, stdout);
        vmmk_string_free(s);
    } else {
        uint64_t total = 0;
        printf("%-20s %s\n", "OFFSET", "LENGTH");
        for (size_t i = 0; i < l->n; i++) {
            printf("%-20" PRIu64 " %" PRIu64 "\n", l->items[i].offset, l->items[i].length);
            total += l->items[i].length;
        }
        printf("%zu area%s, %" PRIu64 " bytes\n", l->n, l->n == 1 ? "" : "s", total);
    }
    vmmk_extent_list_free(l);
    vmmk_string_free(snap);
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
    return rc;
}

int cmd_cbt(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "enable", "switch changed block tracking on, effective now", cbt_enable },
        { "query", "changed areas of a disk since a change id", cbt_query },
    };
    return cli_dispatch("cbt", sub, sizeof sub / sizeof *sub, argc - 1, argv + 1);
}

/* ---- power ------------------------------------------------------------------ */

static void power_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk power off --vm VM [--hard] [--timeout S]\n"
            "       vmmk power on  --vm VM [--timeout S]\n"
            "       (each with the connection options below)\n\n"
            "off  ask the guest to shut down (VMware Tools) and wait up to S seconds\n"
            "     (default 300); if it cannot be asked or does not finish, power off with\n"
            "     a warning.  --hard powers off at once.\n"
            "on   power on and wait up to S seconds (default 600) until it runs.\n"
            "A VM that is in the state asked for already is left alone (exit 0).\n\n%s",
            cli_vsphere_help);
}

static int power(int argc, char **argv, bool on)
{
    ops_args a;
    int rc = parse(&a, argc, argv, on ? "t" : "Ht", power_usage);
    if (rc >= 0)
        return rc;
    vmmk_vsphere *vs;
    char *vm;
    vmmk_vsphere_power_how how = VMMK_VSPHERE_POWER_ALREADY;
    if ((rc = open_vm(&vs, &vm, &a)) != EXIT_OK)
        return rc;
    unsigned t = (unsigned)a.timeout;
    if (on ? vmmk_vsphere_power_on(&how, vs, vm, t) : vmmk_vsphere_power_off(&how, vs, vm, a.hard, t)) {
        rc = cli_fail_last();
    } else {
        static const char *const what[] = { "already", "by a power task", "by a guest shutdown",
                                            "by a power task after the guest shutdown failed" };
        printf("%s: powered %s %s\n", vm, on ? "on" : "off",
               (unsigned)how < sizeof what / sizeof *what ? what[how] : "");
    }
    vmmk_string_free(vm);
    vmmk_vsphere_free(vs);
    return rc;
}

static int power_off(int argc, char **argv)
{
    return power(argc, argv, false);
}

static int power_on(int argc, char **argv)
{
    return power(argc, argv, true);
}

int cmd_power(int argc, char **argv)
{
    static const cli_command sub[] = {
        { "off", "guest shutdown, falling back to power-off", power_off },
        { "on", "power a VM on", power_on },
    };
    return cli_dispatch("power", sub, sizeof sub / sizeof *sub, argc - 1, argv + 1);
}
