/**
 * @file vmmk/vsphere.h
 * @brief vsphere_session: a vSphere Web Services (SOAP, vim25) client for
 *        vCenter and ESXi — connection and trust, login with transparent
 *        re-login, and (as the part grows) inventory, VM description,
 *        snapshots, CBT, power and datastore access.
 *
 * Design notes: docs/vsphere.md.
 */
#ifndef VMMK_VSPHERE_H
#define VMMK_VSPHERE_H

#include <vmmk/common.h>
#include <vmmk/vm.h>
#include <vmmk/copier.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A logged-in session with one vCenter or ESXi (opaque).  Calls on one
 *  session are serialised internally; use one session per thread for
 *  parallel work. */
typedef struct vmmk_vsphere vmmk_vsphere;

/** Connection options; initialise with VMMK_VSPHERE_OPTIONS_INIT. */
typedef struct vmmk_vsphere_options {
    unsigned version;          /**< VMMK_VSPHERE_OPTIONS_VERSION */
    const char *server;        /**< "host", "host:port" or "https://host[:port][/sdk]" */
    const char *user;
    const char *password;      /**< kept in memory for re-login; never logged */
    const char *cacert;        /**< CA bundle file, or NULL for the system CAs */
    const char *thumbprint;    /**< pin the server certificate (SHA-1 or SHA-256 hex) */
    bool insecure;             /**< no TLS verification at all (logged as a warning) */
    unsigned timeout;          /**< seconds per call; 0 = 300 */
} vmmk_vsphere_options;
#define VMMK_VSPHERE_OPTIONS_VERSION 1
#define VMMK_VSPHERE_OPTIONS_INIT { VMMK_VSPHERE_OPTIONS_VERSION, NULL, NULL, NULL, NULL, NULL, false, 0 }

/** Connect, read the service content and log in.
 *  Errors: VMMK_EAUTH (wrong user or password: "Login: InvalidLogin: Login
 *  failure"), VMMK_ETLS (certificate not trusted, thumbprint mismatch),
 *  VMMK_ENETWORK, VMMK_ETIMEOUT, VMMK_EINVAL (bad server string).
 *  @param[out] out  free with vmmk_vsphere_free() (which logs out). */
VMMK_EXTERN int vmmk_vsphere_connect(vmmk_vsphere **out, const vmmk_vsphere_options *opts);

/** Log out (best effort) and free the session.  NULL is ignored. */
VMMK_EXTERN void vmmk_vsphere_free(vmmk_vsphere *vs);

/** What the server says it is. */
typedef struct vmmk_vsphere_about_info {
    char *api_type;            /**< "VirtualCenter" or "HostAgent" */
    char *api_version;         /**< e.g. "8.0.2.0" */
    char *version;             /**< product version */
    char *full_name;           /**< "VMware vCenter Server 8.0.2 build-..." */
    char *instance_uuid;
} vmmk_vsphere_about_info;

/** The server's AboutInfo.  @param[out] out  free with vmmk_vsphere_about_info_free(). */
VMMK_EXTERN int vmmk_vsphere_about(vmmk_vsphere_about_info **out, vmmk_vsphere *vs);
VMMK_EXTERN void vmmk_vsphere_about_info_free(vmmk_vsphere_about_info *about);

/** The thumbprint of @p server's certificate ("AA:BB:...", SHA-1 unless
 *  @p sha256), fetched without trusting it: show it to the user to verify,
 *  then pin it.  VDDK and nbdkit's vddk plugin take the SHA-1 form.
 *  @param[out] out  free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_vsphere_thumbprint(char **out, const char *server, bool sha256);

/* ---- inventory and VM description (libvmmk/vsphere/inventory.c, describe.c) ---- */

/* ---- end inventory ---- */

/* ---- tasks, snapshots, CBT, power, datastore (libvmmk/vsphere/task.c, snapshot.c, cbt.c, power.c, datastore.c) ---- */

/* ---- end tasks ---- */

#ifdef __cplusplus
}
#endif
#endif /* VMMK_VSPHERE_H */
