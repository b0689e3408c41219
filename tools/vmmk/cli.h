/* Shared pieces of the vmmk command-line tool. */
#ifndef VMMK_CLI_H
#define VMMK_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <vmmk/vmmk.h>

/* Exit codes: documented in vmmk(1). */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2

/* A subcommand: argv[0] is its own name (e.g. "match"). */
typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

extern const char *cli_prog;   /* "vmmk flavor match", for messages */

/* Print "<prog>: <message from vmmk_error_last()>" and return EXIT_FAIL. */
int cli_fail_last(void);
/* Print "<prog>: <fmt>" and return EXIT_FAIL. */
int cli_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "<prog>: <fmt>" plus a --help hint, return EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a non-negative integer option value; on error prints a usage error
 * naming the option and returns false. */
bool cli_parse_u64(const char *opt, const char *text, uint64_t max, uint64_t *out);

/* Print a JSON document to stdout with a final newline. */
void cli_print_json(const char *json);
/* s as a JSON string literal on stdout ("null" for NULL). */
void cli_json_string(const char *s);

/* A plain text table with aligned columns. */
typedef struct cli_table {
    size_t ncols, nrows;
    char **cells;              /* row-major, nrows * ncols */
} cli_table;
void cli_table_init(cli_table *t, size_t ncols, const char *const *header);
void cli_table_row(cli_table *t, const char *const *cells);
void cli_table_print(cli_table *t);
void cli_table_free(cli_table *t);

int cmd_flavor(int argc, char **argv);
int cmd_netmap(int argc, char **argv);
int cmd_image_properties(int argc, char **argv);
int cmd_vm(int argc, char **argv);
int cmd_copy(int argc, char **argv);
int cmd_checksum(int argc, char **argv);
int cmd_thumbprint(int argc, char **argv);

/* Run the subcommand named by argv[0] from @p cmds; prints a list on
 * --help or an unknown name. */
int cli_dispatch(const char *group, const cli_command *cmds, size_t n, int argc, char **argv);

/* The text summary of a VM model (vmmk vm show, vmmk inspect). */
void cli_vm_print(const vmmk_vm *vm);

/* vSphere connection flags, the same for every vSphere command
 * (vsphere_conn.c).  The password comes from a file, an inherited file
 * descriptor or the environment (VMMK_VSPHERE_PASSWORD, removed from the
 * environment once read so children do not inherit it) -- never argv, so
 * it shows in no process listing. */
typedef struct cli_vsphere_conn {
    const char *server, *user, *password_file, *thumbprint, *cacert;
    int password_fd;           /* --password-fd N, or -1 */
    bool insecure;
    bool password_on_argv;     /* --password was tried: refused, value never shown */
} cli_vsphere_conn;
/* getopt_long entries to put in a command's option table (values >= 0x1000). */
#define CLI_VSPHERE_OPTIONS                                                                        \
    { "server", required_argument, NULL, 0x1001 }, { "user", required_argument, NULL, 0x1002 },    \
    { "password-file", required_argument, NULL, 0x1003 },                                         \
    { "thumbprint", required_argument, NULL, 0x1004 }, { "cacert", required_argument, NULL, 0x1005 }, \
    { "insecure", no_argument, NULL, 0x1006 },                                                    \
    { "password-fd", required_argument, NULL, 0x1008 },                                           \
    /* Spelled out so that getopt does not take it as an abbreviation of  \
     * --password-file (and print the password as a file name). */        \
    { "password", required_argument, NULL, 0x1007 }
/* Help text for those options (ends with a newline). */
extern const char cli_vsphere_help[];
/* Defaults from VMMK_VSPHERE_SERVER, VMMK_VSPHERE_USER, VMMK_VSPHERE_PASSWORD_FILE. */
void cli_vsphere_conn_init(cli_vsphere_conn *c);
/* Take getopt's @p opt / @p arg when it is one of CLI_VSPHERE_OPTIONS. */
bool cli_vsphere_conn_option(cli_vsphere_conn *c, int opt, const char *arg);
/* Check the flags, read the password file and connect.  Returns EXIT_OK,
 * or EXIT_USAGE / EXIT_FAIL after printing why. */
int cli_vsphere_connect(vmmk_vsphere **out, const cli_vsphere_conn *c);

int cmd_inspect(int argc, char **argv);
int cmd_vms(int argc, char **argv);

/* cmd_snapshot.c: vmmk snapshot, vmmk cbt, vmmk power. */
int cmd_snapshot(int argc, char **argv);
int cmd_cbt(int argc, char **argv);
int cmd_power(int argc, char **argv);

/* cmd_cloud*.c: vmmk cloud (OpenStack). */
int cmd_cloud(int argc, char **argv);

#endif
