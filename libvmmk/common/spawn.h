/* Child processes: started from an argv array, never through a shell. */
#ifndef VMMK_SPAWN_H
#define VMMK_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

/* Start argv[0] (looked up in PATH) with stdin from /dev/null, stdout and
 * stderr appended to @p log_path (or /dev/null when NULL), in its own
 * process group, with every other descriptor closed and default signal
 * handling.  *pid gets the child.  Errors name the program and the cause
 * ("cannot run 'nope': No such file or directory", VMMK_ENOTFOUND when
 * the program is missing).  Called from a thread other than the main
 * one, the fork is made by a helper thread that lives as long as the
 * process, so that a child using PR_SET_PDEATHSIG (nbdkit
 * --exit-with-parent) does not die when the calling thread exits. */
int vmmk__spawn(pid_t *pid, char *const *argv, const char *log_path);

/* Wait up to @p timeout_s for @p pid to exit; 1 when it exited (*status
 * set, the child reaped), 0 on timeout.  A negative timeout waits without
 * limit; 0 only looks.  -1 with the error recorded when @p pid is not a
 * child of this process (e.g. already reaped). */
int vmmk__wait_pid(pid_t pid, double timeout_s, int *status);

/* TERM the child and its process group, wait @p grace_s, then KILL them;
 * reaps it.  Must not be called for a child already reaped (its pid may
 * have been reused). */
void vmmk__stop_pid(pid_t pid, double grace_s);

/* "exited with status 1", "killed by signal 9" into buf. */
void vmmk__describe_status(char *buf, size_t size, int status);

/* A private directory (mode 0700) under $TMPDIR or /tmp; new string. */
int vmmk__private_dir(char **out, const char *prefix);
/* Remove a private directory and the files in it (not recursive). */
void vmmk__remove_private_dir(const char *dir);

/* Write @p secret into @p dir/@p name with mode 0600; *path_out (new
 * string) names it.  The secret is registered for redaction. */
int vmmk__write_secret_file(char **path_out, const char *dir, const char *name,
                            const char *secret);

#endif
