/* vSphere guest ids (VirtualMachineGuestOsIdentifier) -> the os_distro /
 * os_version vocabulary of Glance's image schema, which follows libosinfo
 * short ids ("rhel", "ol", "amzn").  The table is repeated in
 * docs/image-properties.md; keep both in step.
 *
 * Linux and BSD ids follow one pattern, "<stem><N>[_64]Guest" or
 * "<stem>[64]Guest", so they are parsed rather than listed: a new
 * "rhel11_64Guest" then needs no code change.  Windows ids carry no
 * version number that means anything outside VMware ("windows9" is
 * Windows 10), so they are listed one by one. */
#include "guestos.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct stem {
    const char *stem;          /* guest id without version and suffix */
    const char *distro;
} stem;

static const stem stems[] = {
    { "rhel", "rhel" },
    { "centos", "centos" },
    { "debian", "debian" },
    { "ubuntu", "ubuntu" },
    { "sles", "sles" },
    { "opensuse", "opensuse" },
    { "fedora", "fedora" },
    { "oracleLinux", "ol" },
    { "rockylinux", "rocky" },
    { "almalinux", "almalinux" },
    { "amazonlinux", "amzn" },
    { "freebsd", "freebsd" },
    { "vmwarePhoton", "photon" },
};

typedef struct windows_id {
    const char *guest_id;
    const char *version;
} windows_id;

/* Server ids are named after the desktop release they share a kernel
 * with, and "srvNext" is the release after the one named. */
static const windows_id windows_ids[] = {
    { "winLonghornGuest", "2008" },
    { "winLonghorn64Guest", "2008" },
    { "windows7Guest", "7" },
    { "windows7_64Guest", "7" },
    { "windows7Server64Guest", "2008r2" },
    { "windows8Guest", "8" },
    { "windows8_64Guest", "8" },
    { "windows8Server64Guest", "2012" },
    { "windows9Guest", "10" },
    { "windows9_64Guest", "10" },
    { "windows9Server64Guest", "2016" },
    { "windows11_64Guest", "11" },
    { "windows2019srv_64Guest", "2019" },
    { "windows2019srvNext_64Guest", "2022" },
    { "windows2022srvNext_64Guest", "2025" },
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Longest suffix first: "rhel9_64Guest" must lose "_64Guest", and
 * "centos64Guest" must lose "64Guest" so that 64 is not read as a version. */
static const char *const suffixes[] = { "_64Guest", "64Guest", "Guest" };

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len > n && strncasecmp(s + len - n, suffix, n) == 0;
}

int vmmk__guest_os(const char *guest_id, const char **distro, char *version, size_t size)
{
    *distro = NULL;
    version[0] = '\0';
    if (!guest_id)
        return 0;
    for (size_t i = 0; i < N_OF(windows_ids); i++) {
        if (strcasecmp(guest_id, windows_ids[i].guest_id) == 0) {
            *distro = "windows";
            snprintf(version, size, "%s", windows_ids[i].version);
            return 1;
        }
    }
    size_t len = strlen(guest_id);
    size_t i = 0;
    while (i < N_OF(suffixes) && !ends_with(guest_id, len, suffixes[i]))
        i++;
    if (i == N_OF(suffixes))
        return 0;
    len -= strlen(suffixes[i]);
    for (size_t k = 0; k < N_OF(stems); k++) {
        size_t n = strlen(stems[k].stem);
        if (len < n || strncasecmp(guest_id, stems[k].stem, n) != 0)
            continue;
        size_t digits = len - n;
        if (digits >= size)
            return 0;
        for (size_t d = 0; d < digits; d++)
            if (guest_id[n + d] < '0' || guest_id[n + d] > '9')
                return 0;
        memcpy(version, guest_id + n, digits);
        version[digits] = '\0';
        *distro = stems[k].distro;
        return 1;
    }
    return 0;
}

int vmmk__guest_is_windows(const char *guest_id, const char *guest_name)
{
    /* Every Windows id starts with "win" ("windows9_64Guest", but also
     * "winLonghorn64Guest", "winNetStandardGuest", "winXPProGuest"), and
     * no other id does. */
    if (guest_id && strncasecmp(guest_id, "win", 3) == 0)
        return 1;
    return guest_name && (strstr(guest_name, "Windows") || strstr(guest_name, "Microsoft"));
}
