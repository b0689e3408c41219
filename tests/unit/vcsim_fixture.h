/* Shared by the cmocka tests that run against vcsim (tests/vsphere/vcsim.sh):
 * start a private instance, pin its certificate, export its govc
 * environment, and run govc (argv, no shell) to set fixtures up and to
 * cross-check what libvmmk reads.  Header-only: each test is one file. */
#ifndef VMMK_TEST_VCSIM_FIXTURE_H
#define VMMK_TEST_VCSIM_FIXTURE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vmmk/vmmk.h>

typedef struct vcsim_peer {
    char state[64];
    char url[256];
    char sha1[128];
    bool up;
} vcsim_peer;

static vcsim_peer VCSIM;

/* Run @p argv (argv[0] a path) with stdout into a new string (*out, may be
 * NULL to discard); stderr is inherited.  Returns the exit status, or -1. */
static int fixture_run(char **out, char *const argv[])
{
    int fds[2];
    if (pipe(fds))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        setenv("VMMK_VCSIM_STATE", VCSIM.state, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    close(fds[1]);
    size_t n = 0, cap = 4096;
    char *buf = malloc(cap);
    ssize_t r;
    while (buf && (r = read(fds[0], buf + n, cap - n - 1)) > 0) {
        n += (size_t)r;
        if (cap - n < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    close(fds[0]);
    if (buf)
        buf[n] = '\0';
    int st;
    waitpid(pid, &st, 0);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int fixture_vcsim_sh(char **out, const char *arg, const char *extra)
{
    char *argv[] = { (char *)"/bin/bash", (char *)VMMK_SOURCE_DIR "/tests/vsphere/vcsim.sh", (char *)arg,
                     (char *)extra, NULL };
    return fixture_run(out, argv);
}

/* Undo bash's printf %q for the plain values vcsim.sh env prints. */
static void fixture_unquote(char *s)
{
    char *o = s;
    if (s[0] == '\'' ) {
        size_t l = strlen(s);
        memmove(s, s + 1, l);
        if (l >= 2 && s[l - 2] == '\'')
            s[l - 2] = '\0';
        return;
    }
    for (char *p = s; *p; p++) {
        if (*p == '\\' && p[1])
            p++;
        *o++ = *p;
    }
    *o = '\0';
}

/* Start vcsim (extra vcsim args in @p extra, may be NULL) and export
 * GOVC_URL, GOVC_USERNAME, ..., VMMK_GOVC into this process's environment.
 * Returns 0, or -1 when vcsim is not available (tests then skip). */
static int fixture_start(const char *extra)
{
    strcpy(VCSIM.state, "/tmp/vmmk-test-vcsim-XXXXXX");
    if (!mkdtemp(VCSIM.state))
        return -1;
    char *out = NULL;
    if (fixture_vcsim_sh(&out, "start", extra) != 0) {
        fprintf(stderr, "vcsim could not be started (run tests/vsphere/vcsim.sh build): %s\n",
                out ? out : "");
        free(out);
        return -1;
    }
    char *sp = out ? strchr(out, ' ') : NULL;
    if (!sp) {
        free(out);
        return -1;
    }
    snprintf(VCSIM.url, sizeof VCSIM.url, "%s", sp + 1);
    VCSIM.url[strcspn(VCSIM.url, "\n")] = '\0';
    free(out);
    VCSIM.up = true;
    char *env = NULL;
    if (fixture_vcsim_sh(&env, "env", NULL) != 0 || !env) {
        free(env);
        return -1;
    }
    for (char *line = strtok(env, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "export ", 7) != 0)
            continue;
        char *eq = strchr(line + 7, '=');
        if (!eq)
            continue;
        *eq = '\0';
        fixture_unquote(eq + 1);
        setenv(line + 7, eq + 1, 1);
    }
    free(env);
    char *tp = NULL;
    if (vmmk_vsphere_thumbprint(&tp, VCSIM.url, false))
        return -1;
    snprintf(VCSIM.sha1, sizeof VCSIM.sha1, "%s", tp);
    vmmk_string_free(tp);
    return 0;
}

static void fixture_stop(void)
{
    if (VCSIM.up)
        fixture_vcsim_sh(NULL, "stop", NULL);
    VCSIM.up = false;
    /* vcsim.sh leaves its files; remove them, then the dir. */
    static const char *const files[] = { "pid", "url", "port", "bin", "bindir", "user", "password",
                                         "vcsim.out", "vcsim.log", "soap-trace.log" };
    char p[128];
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(p, sizeof p, "%s/%s", VCSIM.state, files[i]);
        unlink(p);
    }
    rmdir(VCSIM.state);
}

/* govc ARGS... (NULL-terminated) with the instance's environment; stdout
 * into *out (may be NULL).  Returns govc's exit status. */
static int fixture_govc(char **out, ...)
{
    char *argv[32];
    int n = 0;
    const char *govc = getenv("VMMK_GOVC");
    if (!govc)
        return -1;
    argv[n++] = (char *)govc;
    va_list ap;
    va_start(ap, out);
    const char *a;
    while ((a = va_arg(ap, const char *)) && n < 31)
        argv[n++] = (char *)a;
    va_end(ap);
    argv[n] = NULL;
    return fixture_run(out, argv);
}

static vmmk_vsphere_options fixture_opts(void)
{
    vmmk_vsphere_options o = VMMK_VSPHERE_OPTIONS_INIT;
    o.server = VCSIM.url;
    o.user = getenv("VMMK_VCSIM_USER") ? getenv("VMMK_VCSIM_USER") : "user";
    o.password = getenv("VMMK_VCSIM_PASSWORD") ? getenv("VMMK_VCSIM_PASSWORD") : "pass";
    o.thumbprint = VCSIM.sha1;
    o.timeout = 60;
    return o;
}

#define NEED_VCSIM()                                                                               \
    do {                                                                                           \
        if (!VCSIM.up)                                                                             \
            skip();                                                                                \
    } while (0)

#endif
