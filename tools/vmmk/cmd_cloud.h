/* Pieces shared by the `vmmk cloud` commands (cloud_conn.c): the
 * connection flags, option parsing with them merged in, repeatable list
 * and KEY=VALUE options, and field tables / JSON output. */
#ifndef VMMK_CMD_CLOUD_H
#define VMMK_CMD_CLOUD_H

#include <getopt.h>
#include <stdio.h>

#include "cli.h"

/* The connection flags of every cloud command.  There is deliberately no
 * password flag: passwords come from clouds.yaml, secure.yaml or
 * OS_PASSWORD only (a command line is readable by every local user). */
typedef struct cli_cloud_conn {
    const char *cloud;          /* --os-cloud; NULL = $OS_CLOUD, else the OS_* variables */
    const char *region;         /* --os-region-name */
    const char *interface;      /* --os-interface */
    const char *clouds_file;    /* --os-client-config-file */
    unsigned timeout;           /* --timeout: seconds per HTTP request, 0 = default */
    int retries;                /* --retries: -1 = the library's default */
    bool password_on_argv;      /* --os-password was tried: refused, value never shown */
} cli_cloud_conn;

/* Help text for the connection flags (ends with a newline). */
extern const char cli_cloud_help[];

/* One parsed cloud command line. */
typedef struct cloud_args {
    cli_cloud_conn conn;
    bool json;
    char **pos;                 /* positional arguments (into argv) */
    int npos;
} cloud_args;

/* Called for each option of the command's own table; returns 0, or
 * EXIT_USAGE after printing why. */
typedef int (*cloud_opt_fn)(void *ctx, int opt, const char *arg);

/* Parse @p argv with @p own (terminated by a NULL name; values >= 0x2000)
 * plus the connection flags, --help and (when @p json) --json.
 * @p positional names the positional arguments for messages ("ID_OR_NAME",
 * "SERVER VOLUME", or NULL for none); their count must be in
 * [min_pos, max_pos].  Returns -1 to go on, else the exit code. */
int cloud_parse(cloud_args *a, int argc, char **argv, const struct option *own, cloud_opt_fn fn,
                void *ctx, bool json, void (*usage)(FILE *), const char *positional, int min_pos,
                int max_pos);

/* Check the flags and authenticate.  Returns EXIT_OK, or EXIT_USAGE /
 * EXIT_FAIL after printing why. */
int cloud_connect(vmmk_cloud **out, const cli_cloud_conn *conn);
/* cloud_parse, then cloud_connect: true with *out open and *rc EXIT_OK to
 * go on; false with *rc the exit code (--help, a usage error, a failed
 * authentication) and *out NULL. */
bool cloud_open(int *rc, vmmk_cloud **out, cloud_args *a, int argc, char **argv,
                const struct option *own, cloud_opt_fn fn, void *ctx, bool json,
                void (*usage)(FILE *), const char *positional, int min_pos, int max_pos);
/* The lookup by id or name that a command starts with failed: for a
 * delete (@p deleting), an unknown one is nothing to delete (said on
 * stderr, EXIT_OK); else the error fails (EXIT_FAIL). */
int cloud_lookup_failed(bool deleting);

/* A repeatable option's values (borrowed from argv). */
typedef struct cloud_strv {
    const char **v;
    size_t n;
} cloud_strv;
void cloud_strv_push(cloud_strv *s, const char *value);
void cloud_strv_free(cloud_strv *s);

/* Add "KEY=VALUE" (split at the first '=') to *props, creating it when
 * NULL.  A missing '=' or an empty key is a usage error naming @p opt:
 * returns EXIT_USAGE after printing it, else 0. */
int cloud_kv(vmmk_properties **props, const char *opt, const char *arg);
/* A non-negative integer option; returns 0 or EXIT_USAGE. */
int cloud_u64(uint64_t *out, const char *opt, const char *arg, uint64_t max);

/* A two-column FIELD / VALUE table, the shape of `openstack ... show`. */
typedef struct cloud_fields {
    cli_table t;
} cloud_fields;
void cloud_fields_init(cloud_fields *f);
void cloud_field(cloud_fields *f, const char *name, const char *value);
void cloud_field_u64(cloud_fields *f, const char *name, uint64_t value);
void cloud_field_bool(cloud_fields *f, const char *name, bool value);
/* key='value', ... (sorted by key, as vmmk_properties keeps them) */
void cloud_field_props(cloud_fields *f, const char *name, const vmmk_properties *p);
/* a, b, c */
void cloud_field_strv(cloud_fields *f, const char *name, char *const *v, size_t n);
/* Print and free. */
void cloud_fields_print(cloud_fields *f);

/* Print the JSON that a vmmk_*_to_json() call made into *s (rc its
 * result) and free it.  A pointer, because in
 * cloud_print_json(vmmk_x_to_json(&s, ...), &s) the value of s must be
 * read after the call (argument evaluation order is unspecified).
 * Returns EXIT_OK or EXIT_FAIL after printing why. */
int cloud_print_json(int rc, char **s);
/* A JSON array of documents: begin, item (takes to_json's rc and string,
 * frees it; returns false after printing the error), end. */
void cloud_json_array_begin(void);
bool cloud_json_array_item(int rc, char **s, size_t index);
void cloud_json_array_end(size_t count);
/* A JSON string literal (or null) on stdout. */
void cloud_json_string(const char *s);

/* Read a whole small text file (--user-data).  Returns a malloc'd string,
 * or NULL after printing why naming @p opt. */
char *cloud_read_file(const char *opt, const char *path, size_t max);

/* The groups (cmd_cloud_*.c). */
int cmd_cloud_auth(int argc, char **argv);
int cmd_cloud_flavor(int argc, char **argv);
int cmd_cloud_network(int argc, char **argv);
int cmd_cloud_port(int argc, char **argv);
int cmd_cloud_volume(int argc, char **argv);
int cmd_cloud_server(int argc, char **argv);
int cmd_cloud_image(int argc, char **argv);

#endif
