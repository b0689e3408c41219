/* What source.c (building a source) and source_run.c (running its
 * nbdkit) share: the source object itself. */
#ifndef VMMK_SOURCE_INT_H
#define VMMK_SOURCE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>
#include <vmmk/copier.h>

/* nbdkit writes its pidfile only once it accepts connections; a VDDK
 * login to a slow vCenter can take many seconds, hence the generous
 * limit (the reference's too, but it polled only every 2 s). */
#define VMMK_SOURCE_READY_TIMEOUT_S 30.0

enum vmmk__src_kind { SRC_URI, SRC_NBDKIT };
enum vmmk__run_state { ST_NEW, ST_RUNNING, ST_EXITED, ST_FAILED };

struct vmmk_source {
    enum vmmk__src_kind kind;
    char *uri;               /* as given, or nbd+unix:// of the private socket */
    char *identity;          /* see vmmk__source_identity */

    /* nbdkit sources; fixed once built */
    char *plugin;            /* for messages: "nbdkit (vddk)" */
    char **args;             /* argv after argv[0], NULL-terminated */
    char *dir, *sock, *pidfile, *log;
    char *secrets[2];        /* secret files, removed once nbdkit has read them */
    char *vddk_libdir;       /* checked before starting */
    double ready_timeout;

    pthread_mutex_t lock;    /* guards everything below */
    enum vmmk__run_state state;
    pid_t pid;
    char *why;               /* how it ended (ST_EXITED) */
    int fail_code;           /* ST_FAILED: the start error, replayed to later callers */
    char *fail_msg;
};

/* The whole nbdkit argv (argv[0] from VMMK_NBDKIT or "nbdkit"); NULL on
 * allocation failure.  Free with vmmk_strv_free(). */
char **vmmk__source_full_argv(const vmmk_source *src);

#endif
