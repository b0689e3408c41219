/* Helpers shared by the tests that run real programs (openssl, test
 * servers): included after cmocka.h, common/internal.h and common/spawn.h. */
#ifndef VMMK_TEST_PROCESS_FIXTURE_H
#define VMMK_TEST_PROCESS_FIXTURE_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Whether @p name is an executable somewhere on PATH (tests skip without it). */
static inline bool have_program(const char *name)
{
    const char *path = getenv("PATH");
    if (!path)
        return false;
    char *copy = strdup(path), *save = NULL;
    bool found = false;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *p = vmmk__asprintf("%s/%s", dir, name);
        found = p && access(p, X_OK) == 0;
        free(p);
    }
    free(copy);
    return found;
}

/* A whole file as a new string (the test fails when it cannot be read).
 * Not inlined: once inlined, gcc 12 mistakes the returned buffer for the
 * address of the local `text` (-Wdangling-pointer false positive). */
__attribute__((noinline, unused)) static char *slurp(const char *path)
{
    char *text = NULL;
    assert_int_equal(vmmk__read_file(&text, NULL, path), 0);
    return text;
}

/* Run argv to completion (no shell), logging into @p dir/run.log; its
 * stdout+stderr as a new string.  The test fails when it exits non-zero. */
static inline char *run_in(const char *dir, char *const *argv)
{
    char *log = vmmk__asprintf("%s/run.log", dir);
    unlink(log);
    pid_t pid;
    int st = 0;
    assert_int_equal(vmmk__spawn(&pid, argv, log), 0);
    assert_int_equal(vmmk__wait_pid(pid, 120, &st), 1);
    char *out = slurp(log);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s failed: %s", argv[0], out);
    free(log);
    return out;
}

/* `openssl x509 -noout -fingerprint -<md> -in cert` ("... Fingerprint=AA:BB:...")
 * into out (VMMK__THUMBPRINT_MAX bytes). */
static inline void fingerprint_in(const char *dir, char *out, const char *cert, const char *md)
{
    char *const argv[] = { "openssl", "x509", "-noout", "-fingerprint", (char *)md,
                           "-in", (char *)cert, NULL };
    char *text = run_in(dir, argv);
    const char *eq = strstr(text, "Fingerprint=");
    assert_non_null(eq);
    eq += strlen("Fingerprint=");
    size_t n = strcspn(eq, "\r\n");
    assert_true(n < VMMK__THUMBPRINT_MAX);
    memcpy(out, eq, n);
    out[n] = '\0';
    free(text);
}

#endif
