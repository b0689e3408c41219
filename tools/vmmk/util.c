/* Messages, number parsing, JSON printing and tables for the vmmk tool. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char *cli_prog = "vmmk";

int cli_fail_last(void)
{
    const vmmk_error *e = vmmk_error_last();
    fprintf(stderr, "%s: %s\n", cli_prog, e->message && *e->message ? e->message : vmmk_strerror(e->code));
    return EXIT_FAIL;
}

int cli_fail(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cli_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return EXIT_FAIL;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", cli_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", cli_prog);
    return EXIT_USAGE;
}

bool cli_parse_u64(const char *opt, const char *text, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!text || !*text || text[0] == '-' || text[0] == '+') {
        cli_usage_error("%s: \"%s\" is not a non-negative integer", opt, text ? text : "");
        return false;
    }
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end) {
        cli_usage_error("%s: \"%s\" is not a non-negative integer", opt, text);
        return false;
    }
    if (v > max) {
        cli_usage_error("%s: %llu is larger than %llu", opt, v, (unsigned long long)max);
        return false;
    }
    *out = v;
    return true;
}

/* s as a JSON string literal on stdout (null for NULL). */
void cli_json_string(const char *s)
{
    if (!s) {
        fputs("null", stdout);
        return;
    }
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

void cli_print_json(const char *json)
{
    fputs(json, stdout);
    fputc('\n', stdout);
}

void cli_table_init(cli_table *t, size_t ncols, const char *const *header)
{
    t->ncols = ncols;
    t->nrows = 0;
    t->cells = NULL;
    cli_table_row(t, header);
}

void cli_table_row(cli_table *t, const char *const *cells)
{
    char **n = realloc(t->cells, (t->nrows + 1) * t->ncols * sizeof *n);
    if (!n) {
        fprintf(stderr, "%s: out of memory\n", cli_prog);
        exit(EXIT_FAIL);
    }
    t->cells = n;
    for (size_t c = 0; c < t->ncols; c++)
        t->cells[t->nrows * t->ncols + c] = strdup(cells[c] ? cells[c] : "-");
    t->nrows++;
}

void cli_table_print(cli_table *t)
{
    size_t *w = calloc(t->ncols, sizeof *w);
    if (!w)
        return;
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            size_t l = s ? strlen(s) : 0;
            if (l > w[c])
                w[c] = l;
        }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *s = t->cells[r * t->ncols + c];
            if (c + 1 < t->ncols)
                printf("%-*s  ", (int)w[c], s ? s : "");
            else
                printf("%s\n", s ? s : "");
        }
    }
    free(w);
}

void cli_table_free(cli_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}

int cli_dispatch(const char *group, const cli_command *cmds, size_t n, int argc, char **argv)
{
    const char *name = argc > 0 ? argv[0] : NULL;
    if (name && strcmp(name, "--help") && strcmp(name, "-h")) {
        for (size_t i = 0; i < n; i++) {
            if (strcmp(cmds[i].name, name) == 0) {
                /* Nested groups ("vmmk vm show") extend the name in place:
                 * format into a scratch buffer first, the source is cli_prog. */
                static char prog[128];
                char next[128];
                snprintf(next, sizeof next, "%s %s", cli_prog, name);
                memcpy(prog, next, sizeof prog);
                cli_prog = prog;
                return cmds[i].run(argc, argv);
            }
        }
        return cli_usage_error("unknown %s command \"%s\"", group, name);
    }
    FILE *f = name ? stdout : stderr;
    fprintf(f, "Usage: %s COMMAND [OPTIONS]\n\nCommands:\n", cli_prog);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-18s %s\n", cmds[i].name, cmds[i].summary);
    fprintf(f, "\nRun '%s COMMAND --help' for the options of a command.\n", cli_prog);
    return name ? EXIT_OK : EXIT_USAGE;
}
