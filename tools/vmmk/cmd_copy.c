/* vmmk copy, vmmk checksum */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"

static vmmk_copier *volatile running_copier;

static void on_signal(int sig)
{
    (void)sig;
    vmmk_copier *c = running_copier;
    if (c)
        vmmk_copier_cancel(c);   /* lock-free: safe in a handler */
}

static void copy_usage(FILE *f)
{
    fprintf(f,
            "Usage: vmmk copy SRC DST [--extents FILE] [--state FILE] [--requests N]\n"
            "                 [--request-size BYTES] [--connections N] [--destination-is-zero]\n"
            "                 [--checksum sha256] [--rate-limit BYTES_PER_S] [--direct]\n"
            "                 [--retries N] [--progress] [--json]\n\n"
            "Copy a disk.  SRC and DST are NBD URIs (nbd://, nbds://, nbd+unix://) or paths;\n"
            "a path source is served by nbdkit's file plugin, a missing DST file is created.\n\n"
            "  --extents FILE        copy only [[offset, length], ...] (vmmk cbt query output)\n"
            "  --state FILE          resume journal: a re-run copies only what is missing\n"
            "  --requests N          requests in flight per connection (default 64)\n"
            "  --request-size BYTES  bytes per request, a power of two (default 256K)\n"
            "  --connections N       connections when the source allows multi-conn (default 4)\n"
            "  --destination-is-zero the destination already reads as zeros: skip zero writes\n"
            "                        (never for encrypted volumes)\n"
            "  --checksum sha256     SHA-256 of the whole logical disk (= sha256sum of DST)\n"
            "  --rate-limit RATE     bytes per second read from the source (K, M, G suffixes)\n"
            "  --direct              O_DIRECT on a file or device destination\n"
            "  --retries N           retries of a failed read (default 5)\n"
            "  --progress            progress bar on a terminal, else a line every 5 s\n"
            "  --json                print the statistics as JSON\n\n"
            "Exit status 0 only when the whole copy is on the destination and flushed.\n");
}

/* "256K", "1M", "1048576"; K/M/G/T are powers of 1024. */
static bool parse_size(const char *opt, const char *text, uint64_t *out)
{
    char *end;
    if (!text || !*text || text[0] == '-') {
        cli_usage_error("%s: \"%s\" is not a size", opt, text ? text : "");
        return false;
    }
    unsigned long long v = strtoull(text, &end, 10);
    unsigned shift = 0;
    if (*end) {
        switch (*end) {
        case 'k': case 'K': shift = 10; break;
        case 'm': case 'M': shift = 20; break;
        case 'g': case 'G': shift = 30; break;
        case 't': case 'T': shift = 40; break;
        default: shift = 99;
        }
        if (shift == 99 || (end[1] && strcasecmp(end + 1, "iB") && strcasecmp(end + 1, "B"))) {
            cli_usage_error("%s: \"%s\" is not a size (e.g. 262144, 256K, 1M)", opt, text);
            return false;
        }
    }
    if (end == text || (shift && v > (UINT64_MAX >> shift))) {
        cli_usage_error("%s: \"%s\" is not a size", opt, text);
        return false;
    }
    *out = (uint64_t)v << shift;
    return true;
}

static void human(char *buf, size_t n, double bytes)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, n, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

typedef struct progress_state {
    bool tty;
    double last_line;
} progress_state;

static void on_progress(const vmmk_copy_progress *p, void *payload)
{
    progress_state *ps = payload;
    char done[32], total[32], rate[32];
    human(done, sizeof done, (double)p->bytes_done);
    human(total, sizeof total, (double)p->bytes_total);
    human(rate, sizeof rate, p->rate);
    double pct = p->bytes_total ? 100.0 * (double)p->bytes_done / (double)p->bytes_total : 100.0;
    char eta[32] = "--:--";
    if (p->eta >= 0)
        snprintf(eta, sizeof eta, "%02d:%02d:%02d", (int)(p->eta / 3600), (int)(p->eta / 60) % 60,
                 (int)p->eta % 60);
    if (ps->tty) {
        int width = 30, fill = (int)(pct / 100.0 * width);
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r[%s] %5.1f%% %s / %s  %s/s  ETA %s ", bar, pct, done, total, rate, eta);
        if (p->bytes_done >= p->bytes_total && p->eta == 0)
            fputc('\n', stderr);
    } else if (p->elapsed - ps->last_line >= 5.0 || p->bytes_done >= p->bytes_total) {
        fprintf(stderr, "%s: %.1f%% %s of %s, %s/s, ETA %s\n", cli_prog, pct, done, total, rate, eta);
        ps->last_line = p->elapsed;
    }
    fflush(stderr);
}

static bool is_uri(const char *s)
{
    return strncmp(s, "nbd", 3) == 0 && strstr(s, "://");
}

static int open_source(vmmk_source **src, const char *what)
{
    return is_uri(what) ? vmmk_source_new_uri(src, what) : vmmk_source_new_file(src, what);
}

static int cmd_copy_run(int argc, char **argv)
{
    enum { O_EXTENTS = 256, O_STATE, O_REQUESTS, O_REQSIZE, O_CONN, O_DZ, O_CHECKSUM, O_RATE,
           O_DIRECT, O_RETRIES, O_PROGRESS, O_JSON };
    static const struct option opts[] = {
        { "extents", required_argument, NULL, O_EXTENTS },
        { "state", required_argument, NULL, O_STATE },
        { "requests", required_argument, NULL, O_REQUESTS },
        { "request-size", required_argument, NULL, O_REQSIZE },
        { "connections", required_argument, NULL, O_CONN },
        { "destination-is-zero", no_argument, NULL, O_DZ },
        { "checksum", required_argument, NULL, O_CHECKSUM },
        { "rate-limit", required_argument, NULL, O_RATE },
        { "direct", no_argument, NULL, O_DIRECT },
        { "retries", required_argument, NULL, O_RETRIES },
        { "progress", no_argument, NULL, O_PROGRESS },
        { "json", no_argument, NULL, O_JSON },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    vmmk_copy_options o = VMMK_COPY_OPTIONS_INIT;
    const char *extents_path = NULL;
    bool json = false, progress = false;
    uint64_t v;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_EXTENTS: extents_path = optarg; break;
        case O_STATE: o.state_file = optarg; break;
        case O_REQUESTS:
            if (!cli_parse_u64("--requests", optarg, 1024, &v) || v == 0)
                return v == 0 ? cli_usage_error("--requests: must be at least 1") : EXIT_USAGE;
            o.requests = (unsigned)v;
            break;
        case O_REQSIZE:
            if (!parse_size("--request-size", optarg, &v))
                return EXIT_USAGE;
            if (v < 4096 || v > (32u << 20) || (v & (v - 1)))
                return cli_usage_error("--request-size: %s is not a power of two from 4K to 32M", optarg);
            o.request_size = (uint32_t)v;
            break;
        case O_CONN:
            if (!cli_parse_u64("--connections", optarg, 16, &v) || v == 0)
                return v == 0 ? cli_usage_error("--connections: must be from 1 to 16") : EXIT_USAGE;
            o.connections = (unsigned)v;
            break;
        case O_DZ: o.destination_is_zero = true; break;
        case O_CHECKSUM:
            if (strcasecmp(optarg, "sha256") != 0)
                return cli_usage_error("--checksum: \"%s\" is not supported (sha256)", optarg);
            o.checksum = true;
            break;
        case O_RATE:
            if (!parse_size("--rate-limit", optarg, &v))
                return EXIT_USAGE;
            o.rate_limit = v;
            break;
        case O_DIRECT: o.direct_io = true; break;
        case O_RETRIES:
            if (!cli_parse_u64("--retries", optarg, 100, &v))
                return EXIT_USAGE;
            o.retries = (unsigned)v;
            break;
        case O_PROGRESS: progress = true; break;
        case O_JSON: json = true; break;
        case 'h': copy_usage(stdout); return EXIT_OK;
        default:
            fprintf(stderr, "Try '%s --help'.\n", cli_prog);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 2)
        return cli_usage_error(argc - optind < 2 ? "SRC and DST are required" : "unexpected argument \"%s\"",
                               argv[optind + 2 < argc ? optind + 2 : optind]);
    const char *src_spec = argv[optind], *dst_spec = argv[optind + 1];

    vmmk_source *src = NULL;
    vmmk_extent_list *extents = NULL;
    vmmk_copier *copier = NULL;
    progress_state ps = { isatty(STDERR_FILENO) == 1, 0 };
    int rc = EXIT_FAIL;
    if (open_source(&src, src_spec)) {
        rc = cli_fail_last();
        goto out;
    }
    if (extents_path) {
        /* The bound against the disk size is checked by the copier. */
        if (vmmk_extent_list_from_file(&extents, extents_path, 0)) {
            rc = cli_fail_last();
            goto out;
        }
        o.extents = extents;
    }
    if (progress) {
        o.progress = on_progress;
        o.progress_payload = &ps;
        o.progress_interval = ps.tty ? 0.25 : 1.0;
    }
    if (vmmk_copier_new(&copier, src, dst_spec, &o)) {
        rc = cli_fail_last();
        goto out;
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigemptyset(&sa.sa_mask);
    running_copier = copier;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    vmmk_copy_stats st;
    int r = vmmk_copier_run(copier, &st);
    running_copier = NULL;
    if (r) {
        if (progress && ps.tty)
            fputc('\n', stderr);
        rc = cli_fail_last();
        if (o.state_file)
            fprintf(stderr, "%s: the state file %s records what is done; run the same command again to resume\n",
                    cli_prog, o.state_file);
        goto out;
    }
    if (json) {
        printf("{\"bytes_read\": %" PRIu64 ", \"bytes_written\": %" PRIu64 ", \"bytes_zeroed\": %" PRIu64
               ", \"bytes_skipped\": %" PRIu64 ", \"requests\": %" PRIu64 ", \"retries\": %" PRIu64
               ", \"reconnects\": %" PRIu64 ", \"seconds\": %.3f, \"size\": %" PRIu64,
               st.bytes_read, st.bytes_written, st.bytes_zeroed, st.bytes_skipped, st.requests,
               st.retries, st.reconnects, st.seconds, vmmk_copier_size(copier));
        if (o.checksum)
            printf(", \"sha256\": \"%s\"", st.sha256);
        printf("}\n");
    } else {
        char r1[32], w1[32], z1[32], s1[32];
        human(r1, sizeof r1, (double)st.bytes_read);
        human(w1, sizeof w1, (double)st.bytes_written);
        human(z1, sizeof z1, (double)st.bytes_zeroed);
        human(s1, sizeof s1, (double)st.bytes_skipped);
        printf("copied %s -> %s in %.2f s: read %s, wrote %s, zeroed %s, skipped %s",
               src_spec, dst_spec, st.seconds, r1, w1, z1, s1);
        if (st.retries)
            printf(", %" PRIu64 " retries", st.retries);
        if (st.reconnects)
            printf(", %" PRIu64 " reconnects", st.reconnects);
        printf("\n");
        if (o.checksum)
            printf("sha256 %s\n", st.sha256);
    }
    rc = EXIT_OK;
out:
    vmmk_copier_free(copier);
    vmmk_extent_list_free(extents);
    vmmk_source_free(src);
    return rc;
}

int cmd_copy(int argc, char **argv)
{
    return cmd_copy_run(argc, argv);
}

int cmd_checksum(int argc, char **argv)
{
    static const struct option opts[] = {
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'h':
            printf("Usage: vmmk checksum SRC [--json]\n\n"
                   "Print the SHA-256 of a whole disk, zeros included (equal to sha256sum of it).\n"
                   "SRC is an NBD URI or a path.\n");
            return EXIT_OK;
        default:
            fprintf(stderr, "Try '%s --help'.\n", cli_prog);
            return EXIT_USAGE;
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(argc - optind < 1 ? "SRC is required" : "unexpected argument \"%s\"",
                               argv[optind + 1 < argc ? optind + 1 : optind]);
    char *digest = NULL;
    if (vmmk_checksum(&digest, argv[optind]))
        return cli_fail_last();
    if (json)
        printf("{\"sha256\": \"%s\"}\n", digest);
    else
        printf("%s  %s\n", digest, argv[optind]);
    vmmk_string_free(digest);
    return EXIT_OK;
}
