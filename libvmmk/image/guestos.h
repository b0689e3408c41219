/* vSphere guest id -> Glance os_distro / os_version (docs/image-properties.md). */
#ifndef VMMK_IMAGE_GUESTOS_H
#define VMMK_IMAGE_GUESTOS_H

#include <stddef.h>

/* Look up @p guest_id.  Returns 1 and sets *distro (static string) and
 * @p version (possibly "", meaning no os_version) when the id is known,
 * else 0 with *distro NULL.  @p version must hold at least 16 bytes. */
int vmmk__guest_os(const char *guest_id, const char **distro, char *version, size_t size);

/* 1 when the guest id or name says Windows. */
int vmmk__guest_is_windows(const char *guest_id, const char *guest_name);

#endif
