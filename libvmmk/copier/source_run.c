/* Running an nbdkit source: start it on first use (once, under the
 * source's lock, whichever copy thread asks first), wait until it is
 * ready, tell the engine whether it still runs, explain failures with
 * nbdkit's own words, and stop it (docs/disk-copier-sources.md). */
#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../common/internal.h"
#include "../common/spawn.h"
#include "copier_int.h"
#include "source_int.h"

/* How long nbdkit gets to stop after SIGTERM before SIGKILL. */
#define STOP_GRACE_S 5.0
/* Lines of nbdkit's log quoted in an error. */
#define LOG_TAIL_LINES 6

/* The last few non-empty lines of nbdkit's log, joined with "; " and
 * redacted; "" when there is none.  New string or NULL. */
static char *log_tail(const vmmk_source *src)
{
    char buf[4096];
    ssize_t n = 0;
    int fd = open(src->log, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        off_t from = fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof buf - 1
                         ? st.st_size - (off_t)(sizeof buf - 1) : 0;
        n = pread(fd, buf, sizeof buf - 1, from);
        close(fd);
    }
    buf[n > 0 ? n : 0] = '\0';
    /* Walk back over the lines. */
    const char *lines[LOG_TAIL_LINES];
    size_t lens[LOG_TAIL_LINES], k = 0;
    char *end = buf + strlen(buf);
    while (k < LOG_TAIL_LINES && end > buf) {
        while (end > buf && (end[-1] == '\n' || end[-1] == '\r'))
            end--;
        char *start = end;
        while (start > buf && start[-1] != '\n')
            start--;
        if (end > start) {
            lines[k] = start;
            lens[k] = (size_t)(end - start);
            k++;
        }
        end = start;
    }
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "");
    for (size_t i = k; i-- > 0;) {
        vmmk__buf_append(&b, lines[i], lens[i]);
        if (i)
            vmmk__buf_puts(&b, "; ");
    }
    char *raw = vmmk__buf_take(&b);
    char *red = raw ? vmmk__redact_dup(raw) : NULL;
    free(raw);
    return red;
}

/* nbdkit writes "PID\n"; the newline tells a whole file from one being
 * written. */
static bool pidfile_ready(const vmmk_source *src)
{
    char buf[32];
    int fd = open(src->pidfile, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    return n > 1 && memchr(buf, '\n', (size_t)n) != NULL;
}

/* nbdkit has read its secret files during configuration, before it
 * became ready; they need not stay on disk for hours of copying. */
static void remove_secret_files(vmmk_source *src)
{
    for (size_t i = 0; i < sizeof src->secrets / sizeof *src->secrets; i++) {
        if (src->secrets[i] && unlink(src->secrets[i]) < 0 && errno != ENOENT)
            vmmk__log(VMMK_LOG_WARN, "cannot remove %s: %s", src->secrets[i], strerror(errno));
        free(src->secrets[i]);
        src->secrets[i] = NULL;
    }
}

/* The error for a start that failed, with a hint when nbdkit says the
 * plugin or a filter is not installed. */
static int start_error(vmmk_source *src, int code, const char *what)
{
    char *tail = log_tail(src);
    const char *hint = "";
    if (tail && (strstr(tail, "cannot open plugin") || strstr(tail, "cannot open filter")))
        hint = strcmp(src->plugin, "vddk") == 0
                   ? " (nbdkit's vddk plugin is not installed: see docs/disk-copier-sources.md)"
                   : " (is that nbdkit plugin or filter installed?)";
    int rc = vmmk__err(code, "nbdkit (%s) %s%s%s%s", src->plugin, what, tail && *tail ? ": " : "",
                       tail ? tail : "", hint);
    free(tail);
    return rc;
}

/* With src->lock held and src->state == ST_NEW. */
static int start_locked(vmmk_source *src)
{
    if (src->vddk_libdir) {
        struct stat st;
        if (stat(src->vddk_libdir, &st) < 0 || !S_ISDIR(st.st_mode))
            return vmmk__err(VMMK_ENOTFOUND,
                             "nbdkit (vddk): VDDK libdir %s is not a directory (unpack VMware's "
                             "VDDK there or set libdir; see docs/disk-copier-sources.md)",
                             src->vddk_libdir);
    }
    char **argv = vmmk__source_full_argv(src);
    if (!argv)
        return vmmk__err(VMMK_ENOMEM, "nbdkit (%s): out of memory", src->plugin);
    if (vmmk__log_enabled(VMMK_LOG_DEBUG)) {
        vmmk__buf b = { 0 };
        for (char **p = argv; *p; p++)
            vmmk__buf_printf(&b, "%s%s", p == argv ? "" : " ", *p);
        char *line = vmmk__buf_take(&b);
        vmmk__log(VMMK_LOG_DEBUG, "starting %s", line ? line : "nbdkit");
        free(line);
    }
    (void)unlink(src->pidfile);
    pid_t pid;
    int rc = vmmk__spawn(&pid, argv, src->log);
    vmmk_strv_free(argv);
    if (rc) {
        if (rc == VMMK_ENOTFOUND)
            vmmk__err_prefix("nbdkit (%s): install nbdkit or set VMMK_NBDKIT", src->plugin);
        else
            vmmk__err_prefix("nbdkit (%s)", src->plugin);
        return rc;
    }
    src->pid = pid;

    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long step_us = 1000;
    for (;;) {
        if (pidfile_ready(src)) {
            src->state = ST_RUNNING;
            remove_secret_files(src);
            vmmk__log(VMMK_LOG_INFO, "nbdkit (%s) ready as pid %ld on %s", src->plugin, (long)pid,
                      src->sock);
            return 0;
        }
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) {
            char desc[96];
            if (r == pid)
                vmmk__describe_status(desc, sizeof desc, st);
            else
                snprintf(desc, sizeof desc, "vanished (waitpid: %s)", strerror(errno));
            src->pid = -1;
            char *what = vmmk__asprintf("%s before it was ready", desc);
            rc = start_error(src, VMMK_EPROCESS, what ? what : desc);
            free(what);
            return rc;
        }
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        double elapsed = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
        if (elapsed >= src->ready_timeout) {
            vmmk__stop_pid(pid, STOP_GRACE_S);
            src->pid = -1;
            char what[64];
            snprintf(what, sizeof what, "was not ready after %g s", src->ready_timeout);
            return start_error(src, VMMK_ETIMEOUT, what);
        }
        usleep((useconds_t)step_us);
        if (step_us < 50000)
            step_us *= 2;
    }
}

const char *vmmk__source_uri(vmmk_source *src)
{
    if (!src) {
        vmmk__err(VMMK_EINVAL, "source is NULL");
        return NULL;
    }
    if (src->kind == SRC_URI)
        return src->uri;
    pthread_mutex_lock(&src->lock);
    if (src->state == ST_NEW) {
        int rc = start_locked(src);
        if (rc) {
            src->state = ST_FAILED;
            src->fail_code = rc;
            src->fail_msg = vmmk__strdup(vmmk_error_last()->message);
            remove_secret_files(src);
        }
    } else if (src->state == ST_FAILED) {
        /* Every thread that asks gets the error, without a second start. */
        vmmk__err(src->fail_code, "%s", src->fail_msg ? src->fail_msg : "nbdkit failed to start");
    }
    const char *uri = src->state == ST_FAILED ? NULL : src->uri;
    pthread_mutex_unlock(&src->lock);
    return uri;
}

int vmmk__source_alive(vmmk_source *src, const char **why)
{
    if (why)
        *why = NULL;
    if (!src || src->kind == SRC_URI)
        return -1;
    pthread_mutex_lock(&src->lock);
    if (src->state == ST_RUNNING) {
        int st;
        pid_t r = waitpid(src->pid, &st, WNOHANG);
        if (r == src->pid || (r < 0 && errno == ECHILD)) {
            /* Reaped now: the status is kept, the pid is never signalled
             * again (it may be reused). */
            char desc[96];
            if (r == src->pid)
                vmmk__describe_status(desc, sizeof desc, st);
            else
                snprintf(desc, sizeof desc, "is gone (reaped by someone else)");
            char *tail = log_tail(src);
            src->why = tail && *tail ? vmmk__asprintf("%s (log: %s)", desc, tail)
                                     : vmmk__strdup(desc);
            free(tail);
            src->state = ST_EXITED;
            src->pid = -1;
            vmmk__log(VMMK_LOG_INFO, "nbdkit (%s) %s", src->plugin, src->why ? src->why : desc);
        }
    }
    int alive = src->state == ST_RUNNING;
    if (why && !alive)
        *why = src->state == ST_EXITED ? (src->why ? src->why : "exited")
               : src->state == ST_FAILED ? (src->fail_msg ? src->fail_msg : "failed to start")
                                         : "was not started";
    pthread_mutex_unlock(&src->lock);
    return alive;
}

pid_t vmmk__source_pid(vmmk_source *src)
{
    if (!src || src->kind == SRC_URI)
        return -1;
    pthread_mutex_lock(&src->lock);
    pid_t pid = src->state == ST_RUNNING ? src->pid : -1;
    pthread_mutex_unlock(&src->lock);
    return pid;
}

const char *vmmk__source_dir(const vmmk_source *src)
{
    return src && src->kind == SRC_NBDKIT ? src->dir : NULL;
}

void vmmk__source_set_ready_timeout(vmmk_source *src, double seconds)
{
    if (src && seconds > 0)
        src->ready_timeout = seconds;
}

/* "returned error: 403" in curl's message, as nbdkit's curl plugin logs it. */
static int http_status_in(const char *text)
{
    const char *p = text ? strstr(text, "returned error: ") : NULL;
    if (!p)
        return 0;
    int status = atoi(p + strlen("returned error: "));
    return status >= 100 && status <= 599 ? status : 0;
}

int vmmk__source_connect(vmmk_source *src, struct nbd_handle *h)
{
    if (!src || !h)
        return vmmk__err(VMMK_EINVAL, "source connect: %s is NULL", src ? "handle" : "source");
    const char *uri = vmmk__source_uri(src);
    if (!uri)
        return vmmk_error_last()->code;
    if (nbd_connect_uri(h, uri) == 0)
        return 0;
    int e = nbd_get_errno();
    char *nbd_msg = vmmk__strdup(nbd_get_error());
    const char *msg = nbd_msg ? nbd_msg : "unknown libnbd error";
    int rc;
    if (src->kind == SRC_URI) {
        rc = vmmk__err_full(VMMK_ENETWORK, NULL, msg, 0, e, "source %s: cannot connect: %s", uri,
                            msg);
    } else {
        /* libnbd only sees the handshake fail ("server has no export");
         * the cause (HTTP 403, a TLS failure, VDDK's error) is in
         * nbdkit's log, so that leads and libnbd's words follow. */
        const char *why;
        bool dead = vmmk__source_alive(src, &why) == 0;
        char *tail = dead ? vmmk__asprintf("nbdkit %s", why) : log_tail(src);
        int status = http_status_in(tail);
        int code = status == 401 || status == 403 ? VMMK_EAUTH
                   : status                        ? VMMK_EHTTP
                   : tail && (strstr(tail, "SSL") || strstr(tail, "certificate")) ? VMMK_ETLS
                                                   : VMMK_ENETWORK;
        if (tail && *tail)
            rc = vmmk__err_full(code, NULL, msg, status, e,
                                "source nbdkit (%s): cannot connect: %s (libnbd: %s)", src->plugin,
                                tail, msg);
        else
            rc = vmmk__err_full(code, NULL, msg, status, e,
                                "source nbdkit (%s): cannot connect: %s", src->plugin, msg);
        free(tail);
    }
    free(nbd_msg);
    return rc;
}

int vmmk_source_start(vmmk_source *src, const char **uri)
{
    if (uri)
        *uri = NULL;
    if (!src)
        return vmmk__err(VMMK_EINVAL, "source start: source is NULL");
    const char *u = vmmk__source_uri(src);
    if (!u)
        return vmmk_error_last()->code ? vmmk_error_last()->code : VMMK_EPROCESS;
    if (uri)
        *uri = u;
    return 0;
}

int vmmk_source_log(char **out, const vmmk_source *src)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "source log: out is NULL");
    *out = NULL;
    if (!src)
        return vmmk__err(VMMK_EINVAL, "source log: source is NULL");
    char *text = NULL;
    struct stat st;
    if (src->kind == SRC_NBDKIT && stat(src->log, &st) == 0) {
        int rc = vmmk__read_file(&text, NULL, src->log);
        if (rc)
            return rc;
    }
    /* nbdkit never prints the secrets it was given, but a plugin's debug
     * output could echo a header: the log is redacted like our own. */
    *out = vmmk__redact_dup(text ? text : "");
    free(text);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "source log: out of memory");
}

void vmmk_source_free(vmmk_source *src)
{
    if (!src)
        return;
    if (src->kind == SRC_NBDKIT) {
        pthread_mutex_lock(&src->lock);
        if (src->state == ST_RUNNING && src->pid > 0) {
            vmmk__stop_pid(src->pid, STOP_GRACE_S);
            vmmk__log(VMMK_LOG_DEBUG, "nbdkit (%s) pid %ld stopped", src->plugin, (long)src->pid);
        }
        pthread_mutex_unlock(&src->lock);
        remove_secret_files(src);
        /* Secrets stay registered for redaction: another object (the
         * vSphere session) may still hold the same password. */
        if (src->dir)
            vmmk__remove_private_dir(src->dir);
    }
    vmmk_strv_free(src->args);
    free(src->uri);
    free(src->identity);
    free(src->plugin);
    free(src->dir);
    free(src->sock);
    free(src->pidfile);
    free(src->log);
    free(src->vddk_libdir);
    free(src->why);
    free(src->fail_msg);
    pthread_mutex_destroy(&src->lock);
    free(src);
}
