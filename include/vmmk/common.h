/**
 * @file vmmk/common.h
 * @brief Version, error reporting, logging and name sanitizing shared by
 *        every part of libvmmk.
 *
 * Conventions (see docs/api-conventions.md):
 *  - A function that can fail returns `int`: 0 on success or a negative
 *    `VMMK_E*` code.  The thread that made the call can then read
 *    vmmk_error_last() for a message that names the object and the cause.
 *  - Output parameters come first and are named `out`.
 *  - Every function that returns memory says who frees it and with what.
 */
#ifndef VMMK_COMMON_H
#define VMMK_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VMMK_BUILDING_LIBRARY) && defined(__GNUC__)
#define VMMK_EXTERN __attribute__((visibility("default")))
#else
#define VMMK_EXTERN
#endif

/** @name Error codes
 * Stable values: a code never changes meaning, new ones are appended.
 * @{ */
#define VMMK_OK            0   /**< success */
#define VMMK_EINVAL       -1   /**< invalid argument or input document */
#define VMMK_ENOMEM       -2   /**< out of memory */
#define VMMK_EIO          -3   /**< local I/O error (errno in the error detail) */
#define VMMK_ENOTFOUND    -4   /**< the named object does not exist */
#define VMMK_EPARSE       -5   /**< a document is not well formed (JSON, XML, YAML) */
#define VMMK_ENOFIT       -6   /**< no flavor satisfies the requirements */
#define VMMK_EUNMAPPED    -7   /**< a NIC matches no network mapping */
#define VMMK_EAUTH        -8   /**< authentication failed */
#define VMMK_ETLS         -9   /**< TLS verification or handshake failed */
#define VMMK_EHTTP        -10  /**< HTTP error status from a remote service */
#define VMMK_EREMOTE      -11  /**< the remote service reported a fault */
#define VMMK_ETIMEOUT     -12  /**< an operation did not finish in time */
#define VMMK_ECANCELED    -13  /**< the operation was cancelled */
#define VMMK_EEXISTS      -14  /**< the object already exists */
#define VMMK_EUNSUPPORTED -15  /**< the peer or build does not support this */
#define VMMK_ESTATE       -16  /**< the object is in the wrong state */
#define VMMK_EPROCESS     -17  /**< a child process failed */
#define VMMK_ECONFLICT    -18  /**< conflicting or ambiguous input */
#define VMMK_ENETWORK     -19  /**< network unreachable or connection lost */
#define VMMK_EQUOTA       -20  /**< a quota or limit of the remote service would be exceeded */
/** @} */

/** The last error seen on this thread.  All pointers stay valid until the
 *  next libvmmk call on the same thread that fails or clears the error. */
typedef struct vmmk_error {
    int code;              /**< a VMMK_E* code, or VMMK_OK when none */
    const char *message;   /**< names the object and the cause; never NULL */
    const char *fault;     /**< remote fault or error type (e.g. "InvalidLogin"), or NULL */
    const char *detail;    /**< remote detail (fault text, HTTP body), or NULL */
    int http_status;       /**< HTTP status of the failing request, or 0 */
    int sys_errno;         /**< errno of the failing system call, or 0 */
} vmmk_error;

/** Library version as "MAJOR.MINOR.PATCH".  Static storage; do not free. */
VMMK_EXTERN const char *vmmk_version(void);

/** Short text for an error code (e.g. "invalid argument").  Static storage;
 *  an unknown code gives "unknown error". */
VMMK_EXTERN const char *vmmk_strerror(int code);

/** The last error recorded on the calling thread.  Never NULL: with no
 *  error, code is VMMK_OK and message is "". Owned by the library. */
VMMK_EXTERN const vmmk_error *vmmk_error_last(void);

/** Forget the calling thread's last error. */
VMMK_EXTERN void vmmk_error_clear(void);

/** @name Logging
 * Messages pass through the redactor before they reach the callback, so
 * passwords, tokens and cookies never appear in them.
 * @{ */
#define VMMK_LOG_ERROR 0
#define VMMK_LOG_WARN  1
#define VMMK_LOG_INFO  2
#define VMMK_LOG_DEBUG 3
#define VMMK_LOG_TRACE 4

/** A log sink.  @p message is owned by the library and valid only during
 *  the call.  May be called from any thread the library uses. */
typedef void (*vmmk_log_cb)(int level, const char *message, void *payload);

/** Messages above @p level are dropped.  Default VMMK_LOG_WARN. */
VMMK_EXTERN void vmmk_log_set_level(int level);
/** The current log level. */
VMMK_EXTERN int vmmk_log_get_level(void);
/** Send log messages to @p cb (with @p payload); NULL restores the default
 *  sink, which writes "vmmk: LEVEL: message" lines to stderr. */
VMMK_EXTERN void vmmk_log_set_callback(vmmk_log_cb cb, void *payload);
/** Name of a log level ("error", "warn", ...). Static storage. */
VMMK_EXTERN const char *vmmk_log_level_name(int level);

/** Register a secret (a password, token or cookie value) so that it is
 *  replaced by "***" in every log line and error message from now on.
 *  The library registers the secrets it handles itself; callers may add
 *  their own.  Strings shorter than 4 bytes are ignored.
 *  @return 0, or VMMK_ENOMEM. */
VMMK_EXTERN int vmmk_secret_register(const char *secret);
/** Forget a secret registered earlier (no-op when unknown). */
VMMK_EXTERN void vmmk_secret_unregister(const char *secret);

/** Copy of @p text with registered secrets and well-known secret carriers
 *  (Authorization/X-Auth-Token/X-Subject-Token/Cookie/Set-Cookie headers,
 *  vmware_soap_session cookies, "password"/"secret"/"token" JSON members,
 *  \<password\> XML elements) replaced by "***".
 *  @param[out] out  new string; free with vmmk_string_free().
 *  @return 0, VMMK_EINVAL if an argument is NULL, VMMK_ENOMEM. */
VMMK_EXTERN int vmmk_redact(char **out, const char *text);
/** @} */

/** Default and largest length of a sanitized OpenStack resource name. */
#define VMMK_NAME_MAX 255
#define VMMK_NAME_DEFAULT_MAX 64

/** Make @p name safe as an OpenStack resource name (server, volume, port,
 *  flavor).  Latin letters with diacritics are transliterated (é→e, ß→ss,
 *  Æ→AE), other non-ASCII characters are dropped, every run of characters
 *  outside [A-Za-z0-9._-] becomes one '-', leading and trailing '-', '_'
 *  and '.' are trimmed, and the result is cut to @p max_len bytes
 *  (0 means VMMK_NAME_DEFAULT_MAX; at most VMMK_NAME_MAX).  The result is
 *  never empty: a name with nothing usable becomes "unnamed".
 *  Invalid UTF-8 bytes count as characters outside the set.
 *  @param[out] out  new string; free with vmmk_string_free().
 *  @return 0, VMMK_EINVAL (NULL name, max_len too large), VMMK_ENOMEM. */
VMMK_EXTERN int vmmk_name_sanitize(char **out, const char *name, size_t max_len);

/** Free a string returned by libvmmk. NULL is ignored. */
VMMK_EXTERN void vmmk_string_free(char *s);

#ifdef __cplusplus
}
#endif
#endif /* VMMK_COMMON_H */
