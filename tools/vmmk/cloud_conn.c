/* The connection flags every `vmmk cloud` command shares (--os-cloud,
 * --os-region-name, --os-interface, --os-client-config-file, --timeout,
 * --retries),
 * the option parser that merges them into each command's own table, and
 * the small input/output helpers of those commands.
 *
 * The cloud configuration itself (clouds.yaml, secure.yaml, OS_*) is
 * resolved by the library (docs/cloud-config.md), so the CLI, C and Python
 * callers agree on which cloud a name means. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd_cloud.h"

enum {
    O_CLOUD = 0x1101, O_REGION, O_INTERFACE, O_CLOUDS_FILE, O_TIMEOUT, O_RETRIES, O_PASSWORD,
    O_JSON,
};

const char cli_cloud_help[] =
    "Connection (every cloud command):\n"
    "  --os-cloud NAME        the clouds.yaml entry (default $OS_CLOUD; without either,\n"
    "                         the OS_* variables describe the cloud)\n"
    "  --os-region-name R     region (overrides region_name)\n"
    "  --os-interface I       public, internal or admin endpoints\n"
    "  --os-client-config-file PATH\n"
    "                         read this clouds.yaml (default $OS_CLIENT_CONFIG_FILE, else\n"
    "                         ./clouds.yaml, ~/.config/openstack/, /etc/openstack/)\n"
    "  --timeout S            seconds per HTTP request (default 120)\n"
    "  --retries N            retries of an idempotent request on 5xx, 429 or a lost\n"
    "                         connection, with backoff (default 5; 0 = none)\n"
    "Passwords come from clouds.yaml, secure.yaml or OS_PASSWORD, never the command line.\n";

int cloud_parse(cloud_args *a, int argc, char **argv, const struct option *own, cloud_opt_fn fn,
                void *ctx, bool json, void (*usage)(FILE *), const char *positional, int min_pos,
                int max_pos)
{
    static const struct option common[] = {
        { "os-cloud", required_argument, NULL, O_CLOUD },
        { "os-region-name", required_argument, NULL, O_REGION },
        { "os-interface", required_argument, NULL, O_INTERFACE },
        { "os-client-config-file", required_argument, NULL, O_CLOUDS_FILE },
        { "timeout", required_argument, NULL, O_TIMEOUT },
        { "retries", required_argument, NULL, O_RETRIES },
        /* Spelled out so that it is refused by name rather than taken as
         * an unknown option whose value getopt would then echo. */
        { "os-password", required_argument, NULL, O_PASSWORD },
        { "help", no_argument, NULL, 'h' },
    };
    struct option opts[64];
    size_t n = 0;
    for (size_t i = 0; i < sizeof common / sizeof *common; i++)
        opts[n++] = common[i];
    if (json)
        opts[n++] = (struct option){ "json", no_argument, NULL, O_JSON };
    for (const struct option *o = own; o && o->name; o++) {
        if (n + 2 > sizeof opts / sizeof *opts)
            abort(); /* a programming error: the table is fixed at build time */
        opts[n++] = *o;
    }
    opts[n] = (struct option){ NULL, 0, NULL, 0 };

    memset(a, 0, sizeof *a);
    a->conn.retries = -1;
    int c;
    uint64_t v;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case O_CLOUD: a->conn.cloud = optarg; break;
        case O_REGION: a->conn.region = optarg; break;
        case O_INTERFACE: a->conn.interface = optarg; break;
        case O_CLOUDS_FILE: a->conn.clouds_file = optarg; break;
        case O_TIMEOUT:
            if ((rc = cloud_u64(&v, "--timeout", optarg, UINT_MAX)) == 0)
                a->conn.timeout = (unsigned)v;
            break;
        case O_RETRIES:
            if ((rc = cloud_u64(&v, "--retries", optarg, 100)) == 0)
                a->conn.retries = (int)v;
            break;
        case O_PASSWORD: a->conn.password_on_argv = true; break;
        case O_JSON: a->json = true; break;
        case 'h': usage(stdout); return EXIT_OK;
        case '?':
        case ':':
            fprintf(stderr, "Try '%s --help'.\n", cli_prog);
            return EXIT_USAGE;
        default: rc = fn ? fn(ctx, c, optarg) : EXIT_USAGE; break;
        }
        if (rc)
            return rc;
    }
    if (a->conn.password_on_argv)
        return cli_usage_error("--os-password is not accepted (other users can read command lines): "
                               "put the password in secure.yaml or the OS_PASSWORD variable");
    a->pos = argv + optind;
    a->npos = argc - optind;
    if (a->npos > max_pos)
        return cli_usage_error("unexpected argument \"%s\"", a->pos[max_pos]);
    if (a->npos < min_pos)
        return cli_usage_error("missing %s", positional ? positional : "argument");
    return -1;
}

int cloud_connect(vmmk_cloud **out, const cli_cloud_conn *cc)
{
    *out = NULL;
    if (cc->interface) {
        static const char *const ok[] = { "public", "internal", "admin",
                                          "publicURL", "internalURL", "adminURL" };
        bool found = false;
        for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
            found |= strcmp(cc->interface, ok[i]) == 0;
        if (!found)
            return cli_usage_error("--os-interface: \"%s\" is not one of public, internal, admin",
                                   cc->interface);
    }
    if (cc->cloud && !*cc->cloud)
        return cli_usage_error("--os-cloud: the name is empty");
    vmmk_cloud_options o = VMMK_CLOUD_OPTIONS_INIT;
    o.cloud = cc->cloud;
    o.region = cc->region;
    o.interface = cc->interface;
    o.clouds_file = cc->clouds_file;
    o.timeout = cc->timeout;
    o.retries = cc->retries;
    if (vmmk_cloud_open(out, &o))
        return cli_fail_last();
    return EXIT_OK;
}

bool cloud_open(int *rc, vmmk_cloud **out, cloud_args *a, int argc, char **argv,
                const struct option *own, cloud_opt_fn fn, void *ctx, bool json,
                void (*usage)(FILE *), const char *positional, int min_pos, int max_pos)
{
    *out = NULL;
    *rc = cloud_parse(a, argc, argv, own, fn, ctx, json, usage, positional, min_pos, max_pos);
    if (*rc >= 0)
        return false;
    return (*rc = cloud_connect(out, &a->conn)) == EXIT_OK;
}

int cloud_lookup_failed(bool deleting)
{
    if (!deleting || vmmk_error_last()->code != VMMK_ENOTFOUND)
        return cli_fail_last();
    fprintf(stderr, "%s: %s: nothing to delete\n", cli_prog, vmmk_error_last()->message);
    return EXIT_OK;
}

/* ---- inputs ---------------------------------------------------------- */

static void oom(void)
{
    fprintf(stderr, "%s: out of memory\n", cli_prog);
    exit(EXIT_FAIL);
}

void cloud_strv_push(cloud_strv *s, const char *value)
{
    const char **n = realloc(s->v, (s->n + 1) * sizeof *n);
    if (!n)
        oom();
    s->v = n;
    s->v[s->n++] = value;
}

void cloud_strv_free(cloud_strv *s)
{
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

int cloud_kv(vmmk_properties **props, const char *opt, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return cli_usage_error("%s: \"%s\" is not KEY=VALUE", opt, arg);
    if (!*props && vmmk_properties_new(props))
        oom();
    char *key = strndup(arg, (size_t)(eq - arg));
    if (!key)
        oom();
    int rc = vmmk_properties_set(*props, key, eq + 1);
    free(key);
    if (rc)
        return cli_usage_error("%s: %s", opt, vmmk_error_last()->message);
    return 0;
}

int cloud_u64(uint64_t *out, const char *opt, const char *arg, uint64_t max)
{
    return cli_parse_u64(opt, arg, max, out) ? 0 : EXIT_USAGE;
}

char *cloud_read_file(const char *opt, const char *path, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cli_fail("%s %s: %s", opt, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(max + 1);
    if (!buf)
        oom();
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            cli_fail("%s %s: %s", opt, path, strerror(errno));
            goto fail;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max) {
            cli_fail("%s %s: larger than %zu bytes", opt, path, max);
            goto fail;
        }
    }
    close(fd);
    buf[n] = '\0';
    if (strlen(buf) != n) {
        cli_fail("%s %s: the file holds a NUL byte (user data is text)", opt, path);
        free(buf);
        return NULL;
    }
    return buf;
fail:
    close(fd);
    free(buf);
    return NULL;
}

/* ---- outputs --------------------------------------------------------- */

void cloud_fields_init(cloud_fields *f)
{
    static const char *const head[] = { "FIELD", "VALUE" };
    cli_table_init(&f->t, 2, head);
}

void cloud_field(cloud_fields *f, const char *name, const char *value)
{
    const char *row[] = { name, value && *value ? value : "-" };
    cli_table_row(&f->t, row);
}

void cloud_field_u64(cloud_fields *f, const char *name, uint64_t value)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%" PRIu64, value);
    cloud_field(f, name, buf);
}

void cloud_field_bool(cloud_fields *f, const char *name, bool value)
{
    cloud_field(f, name, value ? "true" : "false");
}

/* A growing string for the joined values; exits on OOM like the table. */
static void append(char **s, size_t *len, const char *add)
{
    size_t l = strlen(add);
    char *n = realloc(*s, *len + l + 1);
    if (!n)
        oom();
    memcpy(n + *len, add, l + 1);
    *s = n;
    *len += l;
}

void cloud_field_props(cloud_fields *f, const char *name, const vmmk_properties *p)
{
    char *s = NULL;
    size_t len = 0;
    append(&s, &len, "");
    for (size_t i = 0; p && i < p->n; i++) {
        if (i)
            append(&s, &len, ", ");
        append(&s, &len, p->keys[i]);
        append(&s, &len, "='");
        append(&s, &len, p->values[i]);
        append(&s, &len, "'");
    }
    cloud_field(f, name, s);
    free(s);
}

void cloud_field_strv(cloud_fields *f, const char *name, char *const *v, size_t n)
{
    char *s = NULL;
    size_t len = 0;
    append(&s, &len, "");
    for (size_t i = 0; i < n; i++) {
        if (i)
            append(&s, &len, ", ");
        append(&s, &len, v[i] ? v[i] : "");
    }
    cloud_field(f, name, s);
    free(s);
}

void cloud_fields_print(cloud_fields *f)
{
    cli_table_print(&f->t);
    cli_table_free(&f->t);
}

int cloud_print_json(int rc, char **s)
{
    if (rc || !*s) {
        vmmk_string_free(*s);
        *s = NULL;
        return cli_fail_last();
    }
    cli_print_json(*s);
    vmmk_string_free(*s);
    *s = NULL;
    return EXIT_OK;
}

void cloud_json_array_begin(void)
{
    fputs("[", stdout);
}

bool cloud_json_array_item(int rc, char **s, size_t index)
{
    if (rc || !*s) {
        vmmk_string_free(*s);
        *s = NULL;
        fputs("]\n", stdout);
        cli_fail_last();
        return false;
    }
    printf("%s\n%s", index ? "," : "", *s);
    vmmk_string_free(*s);
    *s = NULL;
    return true;
}

void cloud_json_array_end(size_t count)
{
    fputs(count ? "\n]\n" : "]\n", stdout);
}

void cloud_json_string(const char *s)
{
    cli_json_string(s);
}
