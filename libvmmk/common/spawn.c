/* Child processes (nbdkit, virt-v2v-in-place): argv arrays, never a shell.
 *
 * Everything that can fail or allocate (finding the program in PATH,
 * opening the log and /dev/null) is done before fork(), because between
 * fork() and exec() a child of a threaded process may only make
 * async-signal-safe calls.  An exec failure comes back to the parent
 * through a close-on-exec pipe, so "program missing" is an error of
 * vmmk__spawn() and not a mysterious exit status 127 later. */
#include "internal.h"
#include "spawn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* What the child needs, all prepared by the parent. */
typedef struct child_plan {
    const char *path;       /* resolved program */
    char *const *argv;
    int null_fd;            /* stdin */
    int log_fd;             /* stdout and stderr */
    int err_fd;             /* write end of the exec-error pipe */
    long max_fd;            /* for the close loop when close_range is missing */
} child_plan;

/* Runs in the child: only async-signal-safe calls. */
__attribute__((noreturn)) static void child_exec(const child_plan *p)
{
    /* Its own process group: a Ctrl-C on the terminal reaches the
     * application, which then stops the child in order (TERM, wait,
     * KILL) instead of racing it; and vmmk__stop_pid can signal the
     * child's own children (virt-v2v runs qemu) through the group. */
    setpgid(0, 0);

    /* Signals ignored or blocked by the application survive exec; the
     * child gets the defaults it expects. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)sigaction(sig, &dfl, NULL);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);

    /* The parent made sure all three descriptors are >= 3, so these
     * dup2 calls cannot overwrite one another. */
    int report_fd = p->err_fd;
    if (dup2(p->null_fd, 0) >= 0 && dup2(p->log_fd, 1) >= 0 && dup2(p->log_fd, 2) >= 0 &&
        dup2(p->err_fd, 3) >= 0 && fcntl(3, F_SETFD, FD_CLOEXEC) >= 0) {
        report_fd = 3;
        /* Every other descriptor of the application (sockets, the
         * destination disk, other children's pipes) stays out of the
         * child. */
        if (close_range(4, ~0U, 0) < 0)
            for (long fd = 4; fd < p->max_fd; fd++)
                close((int)fd);
        execv(p->path, p->argv);
    }
    int e = errno;
    ssize_t ignored = write(report_fd, &e, sizeof e);
    (void)ignored;
    _exit(127);
}

/* fork() and start the child; the pid, or -1 with errno set. */
static pid_t fork_child(const child_plan *p)
{
    pid_t pid = fork();
    if (pid == 0)
        child_exec(p);
    if (pid > 0)
        (void)setpgid(pid, pid);   /* also here, so the group exists before we return */
    return pid;
}

/* ---- The spawner thread -------------------------------------------------
 *
 * nbdkit --exit-with-parent (PR_SET_PDEATHSIG on Linux) fires when the
 * *thread* that forked it exits, not the process.  A source started by a
 * copy-engine worker would die when that worker is joined, even though
 * the application still uses it.  So a fork requested from any thread but
 * the main one is made by one long-lived helper thread that lives as long
 * as the process.  The main thread forks directly: when it exits, the
 * process does too. */

typedef struct fork_req {
    const child_plan *plan;
    pid_t pid;
    int err;
    bool done;
} fork_req;

static pthread_mutex_t sp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t sp_cond = PTHREAD_COND_INITIALIZER;
static fork_req *sp_req;
static pid_t sp_owner;         /* getpid() of the process the thread runs in */

static void *spawner_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&sp_lock);
    for (;;) {
        while (!sp_req || sp_req->done)
            pthread_cond_wait(&sp_cond, &sp_lock);
        fork_req *r = sp_req;
        pthread_mutex_unlock(&sp_lock);
        r->pid = fork_child(r->plan);
        r->err = r->pid < 0 ? errno : 0;
        pthread_mutex_lock(&sp_lock);
        r->done = true;
        pthread_cond_broadcast(&sp_cond);
    }
    return NULL;
}

/* With sp_lock held. */
static int spawner_ensure(void)
{
    /* After a fork() of the application the thread is gone in the child. */
    if (sp_owner == getpid())
        return 0;
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return ENOMEM;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* The thread only forks: it must never be chosen to run the
     * application's signal handlers. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t t;
    int rc = pthread_create(&t, &attr, spawner_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (rc == 0)
        sp_owner = getpid();
    return rc;
}

static pid_t fork_via_spawner(const child_plan *p)
{
    fork_req r = { p, -1, 0, false };
    pthread_mutex_lock(&sp_lock);
    int rc = spawner_ensure();
    if (rc) {
        pthread_mutex_unlock(&sp_lock);
        errno = rc;
        return -1;
    }
    while (sp_req)              /* one request at a time */
        pthread_cond_wait(&sp_cond, &sp_lock);
    sp_req = &r;
    pthread_cond_broadcast(&sp_cond);
    while (!r.done)
        pthread_cond_wait(&sp_cond, &sp_lock);
    sp_req = NULL;
    pthread_cond_broadcast(&sp_cond);
    pthread_mutex_unlock(&sp_lock);
    errno = r.err;
    return r.pid;
}

/* ---- vmmk__spawn --------------------------------------------------------- */

/* Find @p name in PATH like execvp would; new string or NULL with errno. */
static char *find_program(const char *name)
{
    if (strchr(name, '/')) {
        if (access(name, X_OK) != 0)
            return NULL;
        return vmmk__strdup(name);
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    int err = ENOENT;
    for (const char *p = path;; ) {
        const char *end = strchr(p, ':');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        /* An empty element means the current directory, as for execvp. */
        char *cand = n ? vmmk__asprintf("%.*s/%s", (int)n, p, name) : vmmk__asprintf("./%s", name);
        if (!cand) {
            errno = ENOMEM;
            return NULL;
        }
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode)) {
            if (access(cand, X_OK) == 0)
                return cand;
            err = EACCES;
        }
        free(cand);
        if (!end)
            break;
        p = end + 1;
    }
    errno = err;
    return NULL;
}

/* A descriptor >= 3 (close-on-exec) for @p fd, closing @p fd; -1 on error.
 * Keeps the child's dup2 sequence safe when the application runs with
 * stdin, stdout or stderr closed. */
static int above_stdio(int fd)
{
    if (fd < 0 || fd >= 3)
        return fd;
    int n = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int e = errno;
    close(fd);
    errno = e;
    return n;
}

static void close_if(int fd)
{
    if (fd >= 0)
        close(fd);
}

int vmmk__spawn(pid_t *pid, char *const *argv, const char *log_path)
{
    if (pid)
        *pid = -1;
    if (!pid || !argv || !argv[0] || !argv[0][0])
        return vmmk__err(VMMK_EINVAL, "spawn: no program given");
    const char *prog = argv[0];

    char *path = find_program(prog);
    if (!path) {
        int e = errno;
        return vmmk__err_full(e == ENOENT ? VMMK_ENOTFOUND : VMMK_EPROCESS, NULL, NULL, 0, e,
                              "cannot run '%s': %s", prog, strerror(e));
    }

    int rc = 0, e = 0;
    int null_fd = -1, log_fd = -1, pipefd[2] = { -1, -1 };
    null_fd = above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (null_fd < 0) {
        e = errno;
        rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "cannot run '%s': /dev/null: %s", prog,
                            strerror(e));
        goto out;
    }
    const char *log_name = log_path ? log_path : "/dev/null";
    log_fd = above_stdio(open(log_name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
    if (log_fd < 0) {
        e = errno;
        rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "cannot run '%s': log file %s: %s", prog,
                            log_name, strerror(e));
        goto out;
    }
    if (pipe2(pipefd, O_CLOEXEC) < 0 || (pipefd[0] = above_stdio(pipefd[0])) < 0 ||
        (pipefd[1] = above_stdio(pipefd[1])) < 0) {
        e = errno;
        rc = vmmk__err_full(VMMK_EPROCESS, NULL, NULL, 0, e, "cannot run '%s': pipe: %s", prog,
                            strerror(e));
        goto out;
    }
    long max_fd = sysconf(_SC_OPEN_MAX);
    child_plan plan = { path, argv, null_fd, log_fd, pipefd[1], max_fd > 0 ? max_fd : 1024 };

    pid_t child = gettid() == getpid() ? fork_child(&plan) : fork_via_spawner(&plan);
    if (child < 0) {
        e = errno;
        rc = vmmk__err_full(VMMK_EPROCESS, NULL, NULL, 0, e, "cannot run '%s': fork: %s", prog,
                            strerror(e));
        goto out;
    }
    close(pipefd[1]);
    pipefd[1] = -1;

    /* EOF means exec succeeded (the pipe was closed on exec). */
    int child_errno = 0;
    ssize_t n;
    do
        n = read(pipefd[0], &child_errno, sizeof child_errno);
    while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof child_errno) {
        int st;
        while (waitpid(child, &st, 0) < 0 && errno == EINTR)
            ;
        rc = vmmk__err_full(child_errno == ENOENT ? VMMK_ENOTFOUND : VMMK_EPROCESS, NULL, NULL, 0,
                            child_errno, "cannot run '%s': %s", prog, strerror(child_errno));
        goto out;
    }
    *pid = child;
    vmmk__log(VMMK_LOG_DEBUG, "started %s as pid %ld", path, (long)child);

out:
    close_if(null_fd);
    close_if(log_fd);
    close_if(pipefd[0]);
    close_if(pipefd[1]);
    free(path);
    return rc;
}

/* ---- Waiting and stopping ------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int vmmk__wait_pid(pid_t pid, double timeout_s, int *status)
{
    int st = 0;
    if (timeout_s < 0) {
        pid_t r;
        while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
            ;
        if (r < 0) {
            vmmk__err_full(VMMK_EPROCESS, NULL, NULL, 0, errno, "wait for pid %ld: %s", (long)pid,
                           strerror(errno));
            return -1;
        }
        if (status)
            *status = st;
        return 1;
    }
    /* Polling, because waitpid has no timeout and a SIGCHLD handler would
     * belong to the application; the step grows so short-lived children
     * are seen quickly and long waits cost little. */
    double deadline = now_s() + timeout_s, step = 0.001;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (status)
                *status = st;
            return 1;
        }
        if (r < 0 && errno != EINTR) {
            vmmk__err_full(VMMK_EPROCESS, NULL, NULL, 0, errno, "wait for pid %ld: %s", (long)pid,
                           strerror(errno));
            return -1;
        }
        double left = deadline - now_s();
        if (left <= 0)
            return 0;
        sleep_s(step < left ? step : left);
        if (step < 0.05)
            step *= 2;
    }
}

void vmmk__stop_pid(pid_t pid, double grace_s)
{
    if (pid <= 0)
        return;
    int st;
    if (vmmk__wait_pid(pid, 0, &st) != 0)
        return;                 /* already gone (or not our child) */
    /* The whole group: the child is its leader (see child_exec). */
    if (kill(-pid, SIGTERM) < 0)
        (void)kill(pid, SIGTERM);
    if (vmmk__wait_pid(pid, grace_s, &st) != 0)
        return;
    vmmk__log(VMMK_LOG_WARN, "pid %ld did not stop within %g s of SIGTERM: killing it", (long)pid,
              grace_s);
    if (kill(-pid, SIGKILL) < 0)
        (void)kill(pid, SIGKILL);
    (void)vmmk__wait_pid(pid, -1, &st);
}

void vmmk__describe_status(char *buf, size_t size, int status)
{
    if (!buf || !size)
        return;
    if (WIFEXITED(status))
        snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, size, "killed by signal %d%s", WTERMSIG(status),
                 WCOREDUMP(status) ? " (core dumped)" : "");
    else if (WIFSTOPPED(status))
        snprintf(buf, size, "stopped by signal %d", WSTOPSIG(status));
    else
        snprintf(buf, size, "unknown wait status 0x%x", (unsigned)status);
}

/* ---- Private directories and secret files -------------------------------- */

int vmmk__private_dir(char **out, const char *prefix)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "private directory: no output");
    *out = NULL;
    const char *tmp = getenv("TMPDIR");
    /* A relative TMPDIR would depend on the cwd of whoever uses the path
     * later (nbdkit changes to "/"). */
    if (!tmp || tmp[0] != '/')
        tmp = "/tmp";
    size_t tl = strlen(tmp);
    while (tl > 1 && tmp[tl - 1] == '/')
        tl--;
    char *templ = vmmk__asprintf("%.*s/%s-XXXXXX", (int)tl, tmp,
                                 prefix && *prefix ? prefix : "vmmk");
    if (!templ)
        return vmmk__err(VMMK_ENOMEM, "private directory: out of memory");
    if (!mkdtemp(templ)) {
        int e = errno;
        int rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e,
                                "cannot create a private directory %s: %s", templ, strerror(e));
        free(templ);
        return rc;
    }
    /* mkdtemp applies the umask; the mode must be exactly 0700 whatever
     * the application's umask is. */
    if (chmod(templ, 0700) < 0) {
        int e = errno;
        rmdir(templ);
        int rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "%s: chmod 0700: %s", templ,
                                strerror(e));
        free(templ);
        return rc;
    }
    *out = templ;
    return 0;
}

void vmmk__remove_private_dir(const char *dir)
{
    if (!dir)
        return;
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *ent;
        while ((ent = readdir(d)) != NULL) {
            if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                continue;
            if (unlinkat(dirfd(d), ent->d_name, 0) < 0 && errno != ENOENT)
                vmmk__log(VMMK_LOG_WARN, "cannot remove %s/%s: %s", dir, ent->d_name,
                          strerror(errno));
        }
        closedir(d);
    }
    if (rmdir(dir) < 0 && errno != ENOENT)
        vmmk__log(VMMK_LOG_WARN, "cannot remove directory %s: %s", dir, strerror(errno));
}

int vmmk__write_secret_file(char **path_out, const char *dir, const char *name, const char *secret)
{
    if (path_out)
        *path_out = NULL;
    if (!path_out || !dir || !name || !*name || strchr(name, '/') || !secret)
        return vmmk__err(VMMK_EINVAL, "secret file: invalid arguments");
    /* Registered first, so that no message below can carry it. */
    if (vmmk_secret_register(secret) != 0)
        return vmmk__err(VMMK_ENOMEM, "secret file: out of memory");
    char *path = vmmk__asprintf("%s/%s", dir, name);
    if (!path)
        return vmmk__err(VMMK_ENOMEM, "secret file: out of memory");
    /* O_EXCL|O_NOFOLLOW: never write a secret through a file or link that
     * someone else prepared. */
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int e = 0;
    if (fd < 0) {
        e = errno;
        goto fail;
    }
    if (fchmod(fd, 0600) < 0) {
        e = errno;
        goto fail_fd;
    }
    /* No trailing newline: nbdkit's "+FILE" reads the file as the value. */
    for (size_t off = 0, len = strlen(secret); off < len;) {
        ssize_t n = write(fd, secret + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            goto fail_fd;
        }
        off += (size_t)n;
    }
    if (close(fd) < 0) {
        e = errno;
        fd = -1;
        goto fail_unlink;
    }
    *path_out = path;
    return 0;

fail_fd:
    close(fd);
fail_unlink:
    unlink(path);
fail:;
    int rc = vmmk__err_full(VMMK_EIO, NULL, NULL, 0, e, "cannot write secret file %s: %s", path,
                            strerror(e));
    free(path);
    return rc;
}
