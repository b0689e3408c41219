/* Internal interface of a vSphere session, for the parts built on it
 * (inventory, VM description, snapshots, CBT, power, datastore). */
#ifndef VMMK_VSPHERE_SESSION_H
#define VMMK_VSPHERE_SESSION_H

#include <pthread.h>
#include <vmmk/vsphere.h>

#include "../common/http.h"
#include "soap.h"

struct vmmk_vsphere {
    pthread_mutex_t lock;      /* one call at a time on the HTTP handle */
    vmmk__http *http;
    char *server;              /* as shown in messages: "host:port" */
    char *user;
    char *password;
    bool logged_in;
    unsigned relogins;
    /* ServiceContent */
    char *root_folder, *property_collector, *view_manager, *session_manager;
    char *search_index, *file_manager, *virtual_disk_manager;
    vmmk_vsphere_about_info about;
    /* Trust and timeout as given to vmmk_vsphere_connect, for transfers
     * that leave this HTTP handle (the copier's nbdkit curl source). */
    char *base_url;            /* "https://host:port", for datastore URLs */
    char *cacert;
    bool insecure;
    bool pinned;               /* a thumbprint was given */
    unsigned timeout_s;
    /* SOAP round trips made on this session (every request, re-logins
     * included; counted under lock): lets tests and benchmarks check what
     * an operation costs (listing all VMs = 3 calls, whatever their number). */
    unsigned long calls;
};

/* Call @p method with the vim25 body fragment @p body (the request element
 * with its arguments) and parse the reply into @p out.  A NotAuthenticated
 * fault (or missingSet) on a logged-in session logs in again once and
 * retries, because long migrations outlive sessions.  Errors carry the
 * fault type and the server name. */
int vmmk__vs_call(vmmk_vsphere *vs, const char *method, const char *body, vmmk__soap_response *out);

/* "<_this type=\"TYPE\">MOREF</_this>" appended, escaped. */
void vmmk__vs_this(struct vmmk__buf *b, const char *type, const char *moref);

/* Log out on the server only, keeping the client's state: lets tests
 * reproduce a session that expired behind the client's back. */
int vmmk__vs_logout_server_only(vmmk_vsphere *vs);

/* Read one property of one object (RetrieveProperties); new string. */
int vmmk__vs_get_string(char **out, vmmk_vsphere *vs, const char *type, const char *moref,
                        const char *property);

/* ---- tasks, snapshots, CBT, power, datastore (task.c, snapshot.c, cbt.c,
 * power.c, datastore.c) ---- */

/* Read @p paths (NULL-terminated) of one object with RetrieveProperties.
 * *obj is the ObjectContent (returnval) inside @p r, which the caller
 * clears; a property the server left out (unset) has no propSet. */
int vmmk__vs_props(vmmk__soap_response *r, xmlNodePtr *obj, vmmk_vsphere *vs, const char *type,
                   const char *moref, const char *const *paths);
/* (vmmk__vs_prop, to read one property of the ObjectContent: inventory.h.) */

/* Wait for @p task ("task-68"); *result (may be NULL) gets the result's
 * moref or NULL.  timeout_s 0 = VMMK_VSPHERE_TASK_TIMEOUT. */
int vmmk__vs_task_wait(char **result, vmmk_vsphere *vs, const char *task, unsigned timeout_s);
/* Call @p method, a *_Task method whose reply is a Task moref, and wait
 * for it; errors name @p method. */
int vmmk__vs_task_call(char **result, vmmk_vsphere *vs, const char *method, const char *body,
                       unsigned timeout_s);
/* Sleep for @p seconds; the next backoff step (doubling up to @p max). */
double vmmk__vs_backoff(double seconds, double max);
/* Monotonic seconds. */
double vmmk__vs_now(void);

/* The virtual disks in @p devices (a config.hardware.device val: an
 * ArrayOfVirtualDevice), all backing types; @p what names the owner in
 * errors. */
int vmmk__vs_parse_disks(vmmk_vsphere_snapshot_disk_list **out, xmlNodePtr devices,
                         const char *what);
/* The disks of a VirtualMachine or VirtualMachineSnapshot (@p type). */
int vmmk__vs_disks(vmmk_vsphere_snapshot_disk_list **out, vmmk_vsphere *vs, const char *type,
                   const char *moref);

/* Tests: called before every QueryChangedDiskAreas with the offset asked
 * and the capacity the loop works to.  Not thread-safe: set it only in a
 * test that runs one query at a time. */
typedef void (*vmmk__cbt_call_hook)(void *payload, uint64_t start_offset, uint64_t capacity);
extern vmmk__cbt_call_hook vmmk__cbt_on_call;
extern void *vmmk__cbt_on_call_payload;

/* "[ds] dir/file" -> ds, "dir/file" (new strings); VMMK_EINVAL otherwise. */
int vmmk__ds_path_split(const char *ds_path, char **ds, char **path);

#endif
