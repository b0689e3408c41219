/* The connection flags every vSphere command shares: --server, --user,
 * --password-file, --password-fd, --thumbprint, --cacert, --insecure, with
 * environment defaults.  The password never comes from argv (visible to
 * every user through ps); from the environment it is removed once read so
 * that child processes (nbdkit) do not inherit it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#define MAX_PASSWORD 4096

const char cli_vsphere_help[] =
    "Connection (every vSphere command):\n"
    "  --server HOST[:PORT]   vCenter or ESXi (default $VMMK_VSPHERE_SERVER)\n"
    "  --user USER            (default $VMMK_VSPHERE_USER)\n"
    "  --password-file FILE   file holding the password, '-' for stdin\n"
    "                         (default $VMMK_VSPHERE_PASSWORD_FILE); never on the command line\n"
    "  --password-fd N        read the password from inherited descriptor N\n"
    "                         ($VMMK_VSPHERE_PASSWORD is used when neither is given)\n"
    "  --thumbprint HEX       pin the server certificate (see 'vmmk thumbprint')\n"
    "  --cacert FILE          trust this CA bundle instead of the system's\n"
    "  --insecure             no TLS verification at all (test labs only)\n";

void cli_vsphere_conn_init(cli_vsphere_conn *c)
{
    memset(c, 0, sizeof *c);
    c->server = getenv("VMMK_VSPHERE_SERVER");
    c->user = getenv("VMMK_VSPHERE_USER");
    c->password_file = getenv("VMMK_VSPHERE_PASSWORD_FILE");
    c->password_fd = -1;
}

bool cli_vsphere_conn_option(cli_vsphere_conn *c, int opt, const char *arg)
{
    switch (opt) {
    case 0x1001: c->server = arg; return true;
    case 0x1002: c->user = arg; return true;
    case 0x1003: c->password_file = arg; return true;
    case 0x1004: c->thumbprint = arg; return true;
    case 0x1005: c->cacert = arg; return true;
    case 0x1006: c->insecure = true; return true;
    case 0x1007: c->password_on_argv = true; return true;
    case 0x1008: {
        char *end;
        long fd = strtol(arg, &end, 10);
        c->password_fd = *arg && !*end && fd >= 0 && fd < 65536 ? (int)fd : -2;
        return true;
    }
    default: return false;
    }
}

/* The first line of @p path ("-" = stdin) into buf; the trailing newline
 * (LF or CRLF) is not part of the password. */
static int read_password(char *buf, size_t size, const char *path, int from_fd)
{
    bool is_stdin = from_fd >= 0 || strcmp(path, "-") == 0;
    int fd = from_fd >= 0 ? from_fd : is_stdin ? 0 : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail("--password-file %s: %s", path, strerror(errno));
    struct stat st;
    if (!is_stdin && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
        fprintf(stderr, "%s: warning: password file %s is readable by other users (chmod 600 it)\n",
                cli_prog, path);
    size_t n = 0;
    ssize_t r;
    while (n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int e = errno;
            if (!is_stdin)
                close(fd);
            return cli_fail("--password-file %s: %s", path, strerror(e));
        }
        n += (size_t)r;
    }
    if (!is_stdin)
        close(fd);
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0';
    if (!*buf)
        return cli_fail("--password-file %s: the file is empty", path);
    return EXIT_OK;
}

int cli_vsphere_connect(vmmk_vsphere **out, const cli_vsphere_conn *c)
{
    *out = NULL;
    if (c->password_on_argv)
        return cli_usage_error("--password is not accepted (other users can read command lines): "
                               "write the password to a file only you can read and pass --password-file FILE");
    if (!c->server || !*c->server)
        return cli_usage_error("--server is required (or VMMK_VSPHERE_SERVER)");
    if (!c->user || !*c->user)
        return cli_usage_error("--user is required (or VMMK_VSPHERE_USER)");
    if (c->password_fd == -2)
        return cli_usage_error("--password-fd: not a file descriptor number");
    const char *env_password = getenv("VMMK_VSPHERE_PASSWORD");
    if ((!c->password_file || !*c->password_file) && c->password_fd < 0 && !env_password)
        return cli_usage_error("a password is required: --password-file FILE, --password-fd N, "
                               "VMMK_VSPHERE_PASSWORD_FILE or VMMK_VSPHERE_PASSWORD");
    if (c->insecure && c->thumbprint)
        return cli_usage_error("--insecure and --thumbprint exclude each other");
    char *password = malloc(MAX_PASSWORD);
    if (!password)
        return cli_fail("out of memory");
    int rc;
    char fdname[32];
    if (c->password_fd >= 0) {
        snprintf(fdname, sizeof fdname, "fd %d", c->password_fd);
        rc = read_password(password, MAX_PASSWORD, fdname, c->password_fd);
    } else if (c->password_file && *c->password_file) {
        rc = read_password(password, MAX_PASSWORD, c->password_file, -1);
    } else {
        snprintf(password, MAX_PASSWORD, "%s", env_password);
        /* Children (nbdkit, virt-v2v) must not inherit it. */
        unsetenv("VMMK_VSPHERE_PASSWORD");
        rc = *password ? EXIT_OK : cli_usage_error("VMMK_VSPHERE_PASSWORD is empty");
    }
    if (rc == EXIT_OK) {
        vmmk_secret_register(password);
        vmmk_vsphere_options o = VMMK_VSPHERE_OPTIONS_INIT;
        o.server = c->server;
        o.user = c->user;
        o.password = password;
        o.thumbprint = c->thumbprint;
        o.cacert = c->cacert;
        o.insecure = c->insecure;
        if (vmmk_vsphere_connect(out, &o))
            rc = cli_fail_last();
    }
    explicit_bzero(password, MAX_PASSWORD);
    free(password);
    return rc;
}
