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

/** Find a VM and return its managed object id.
 *
 *  @p what is tried as, in this order:
 *   - a moref: "vm-42" or "VirtualMachine:42" (ESXi ids are plain numbers);
 *   - an inventory path (anything containing '/'), "/DC0/vm/folder/web01",
 *     looked up with SearchIndex.FindByInventoryPath (the leading '/' is
 *     optional; '/' inside a name is written %2f, as vSphere does);
 *   - a UUID (8-4-4-4-12 hex): the BIOS UUID (config.uuid), then the
 *     vCenter instance UUID, with SearchIndex.FindByUuid;
 *   - a VM name, matched exactly against one listing of all VMs (see
 *     vmmk_vsphere_list_vms()).  A moref or UUID that matches nothing is
 *     also tried as a name.
 *  Errors: VMMK_ENOTFOUND naming @p what, the number of VMs searched and
 *  the closest names (or paths) when there are any ("no VM named \"web\"
 *  among 1000 VMs on vc:443; closest: \"web01\", \"web02\""); VMMK_ECONFLICT
 *  when the name belongs to several VMs, listing their inventory paths (pass
 *  one of them instead); VMMK_EINVAL for an empty @p what; and any error of
 *  the calls made.
 *  @param[out] out  new string ("vm-42"); free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_vsphere_find_vm(char **out, vmmk_vsphere *vs, const char *what);

/** One VM of a listing: what a migration plan needs at a glance. */
typedef struct vmmk_vm_summary {
    char *name;                /**< display name (vSphere's %2f, %5c, %25 escapes undone) */
    char *moref;               /**< "vm-42" */
    char *path;                /**< inventory path "/DC0/vm/folder/name", or NULL when its
                                    folder chain is not made of folders and datacenters
                                    (e.g. a VM inside a vApp) */
    char *uuid;                /**< BIOS UUID, or NULL (inaccessible VM) */
    char *instance_uuid;       /**< vCenter instance UUID, or NULL */
    char *guest_id;            /**< configured guest id, or NULL */
    vmmk_power_state power_state;
    bool is_template;          /**< a template, not a VM that can run */
    int32_t vcpus;             /**< 0 when unknown */
    uint64_t memory_mib;       /**< 0 when unknown */
    size_t n_disks;            /**< virtual disks */
    uint64_t capacity_bytes;   /**< their total capacity */
    bool cbt_enabled;          /**< config.changeTrackingEnabled */
} vmmk_vm_summary;

/** All VMs of a server, in the order the server listed them. */
typedef struct vmmk_vm_summary_list {
    vmmk_vm_summary *vms;
    size_t n;
} vmmk_vm_summary_list;

/** List every VM (templates included) with a fixed number of round trips,
 *  whatever their number: CreateContainerView on the root folder, one
 *  RetrievePropertiesEx for the VMs and the folders and datacenters above
 *  them (from which the paths are built), ContinueRetrievePropertiesEx for
 *  as long as the server pages its answer, DestroyView.
 *  @param[out] out  free with vmmk_vm_summary_list_free().
 *  Errors: those of the calls made (VMMK_EAUTH, VMMK_ENETWORK, ...). */
VMMK_EXTERN int vmmk_vsphere_list_vms(vmmk_vm_summary_list **out, vmmk_vsphere *vs);

/** Free a listing.  NULL is ignored. */
VMMK_EXTERN void vmmk_vm_summary_list_free(vmmk_vm_summary_list *list);

/** Serialise a listing: {"version": 1, "count": N, "vms": [{"name", "moref",
 *  "path", "uuid", "instance_uuid", "guest_id", "power_state", "template",
 *  "vcpus", "memory_mib", "disks", "capacity_bytes", "cbt_enabled"}, ...]}
 *  with null for absent strings (docs/vsphere.md).  @p flags: VMMK_JSON_PRETTY.
 *  @param[out] out  new string; free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_vm_summary_list_to_json(char **out, const vmmk_vm_summary_list *list,
                                             unsigned flags);

/** Describe the VM @p moref ("vm-42", e.g. from vmmk_vsphere_find_vm())
 *  into the VM model, with one RetrieveProperties call: identity, guest,
 *  firmware and secure boot, vTPM, CPUs, memory, power state, CBT, and
 *  every disk (capacity, backing file, datastore name, controller type,
 *  unit, thin, change id) and NIC (MAC, adapter, network name, distributed
 *  portgroup key and switch uuid, guest IPs in CIDR form) in device order.
 *  Devices that are neither disks, NICs nor their controllers are ignored.
 *  The result passes vmmk_vm_validate().
 *  @param[out] out  free with vmmk_vm_free().
 *  Errors: VMMK_ENOTFOUND (no such VM), VMMK_ESTATE (the VM has no readable
 *  configuration: inaccessible or orphaned), VMMK_EUNSUPPORTED (a disk on a
 *  controller type vmmk does not know, named in the message), VMMK_EINVAL
 *  (the description breaks a model rule, e.g. a NIC without any network),
 *  and any error of the call. */
VMMK_EXTERN int vmmk_vsphere_describe_vm(vmmk_vm **out, vmmk_vsphere *vs, const char *moref);

/* ---- end inventory ---- */

/* ---- tasks, snapshots, CBT, power, datastore (libvmmk/vsphere/task.c, snapshot.c, cbt.c, power.c, datastore.c) ---- */

/** @name Tasks
 * @{ */

/** Default overall limit of vmmk_vsphere_task_wait(), in seconds. */
#define VMMK_VSPHERE_TASK_TIMEOUT 3600

/** Wait until the Task @p task (e.g. "task-68") ends, polling its TaskInfo
 *  with exponential backoff (0.1 s doubling up to 2 s).
 *  @param[out] out  the task's result when it is a managed object reference
 *              (CreateSnapshot_Task: "snapshot-69"), otherwise NULL; free
 *              with vmmk_string_free().  May be NULL.
 *  @param timeout_s  seconds to wait in all; 0 = VMMK_VSPHERE_TASK_TIMEOUT.
 *  @return 0 when the task succeeded.  When it failed, the code its fault
 *          maps to (InvalidPowerState → VMMK_ESTATE, FileFault → VMMK_EIO,
 *          ...: the same table as SOAP faults) with the fault type in
 *          vmmk_error.fault and a message naming the task, its operation
 *          and entity ("task-70 (VirtualMachine.powerOn on vm-57):
 *          InvalidPowerState: ...").  VMMK_ETIMEOUT when it is still
 *          running (it goes on, on the server); VMMK_ENOTFOUND for an
 *          unknown task. */
VMMK_EXTERN int vmmk_vsphere_task_wait(char **out, vmmk_vsphere *vs, const char *task,
                                       unsigned timeout_s);
/** @} */

/** @name Snapshots
 * @{ */

/** One snapshot of a VM's snapshot tree. */
typedef struct vmmk_vsphere_snapshot {
    char *moref;               /**< "snapshot-69" */
    char *name;
    char *description;         /**< "" when there is none */
    char *create_time;         /**< xsd:dateTime as the server gives it */
    char *parent;              /**< moref of the parent snapshot, NULL for a root */
    char *power_state;         /**< the VM's state when it was taken: "poweredOn", ... */
    bool quiesced;
    bool current;              /**< the VM's current snapshot (what it runs on) */
} vmmk_vsphere_snapshot;

/** A VM's snapshot tree, flattened depth first (a parent before its children). */
typedef struct vmmk_vsphere_snapshots {
    vmmk_vsphere_snapshot *items;
    size_t n;
} vmmk_vsphere_snapshots;

/** Snapshot all disks of VM @p vm ("vm-57") at once: no memory, guest
 *  quiesced when @p quiesce (needs VMware Tools), and wait for the task.
 *  @param[out] out  the new snapshot's moref; free with vmmk_string_free().
 *  @param description  may be NULL.
 *  @return 0; the task's fault otherwise (e.g. VMMK_ESTATE, VMMK_EREMOTE
 *          "SnapshotFault"); VMMK_EINVAL for an empty name. */
VMMK_EXTERN int vmmk_vsphere_snapshot_create(char **out, vmmk_vsphere *vs, const char *vm,
                                             const char *name, const char *description,
                                             bool quiesce);

/** The snapshot tree of @p vm (empty when it has none).
 *  @param[out] out  free with vmmk_vsphere_snapshots_free(). */
VMMK_EXTERN int vmmk_vsphere_snapshot_list(vmmk_vsphere_snapshots **out, vmmk_vsphere *vs,
                                           const char *vm);
VMMK_EXTERN void vmmk_vsphere_snapshots_free(vmmk_vsphere_snapshots *list);

/** The moref of @p vm's snapshot named @p name (a moref of one of its
 *  snapshots is accepted too).
 *  @param[out] out  free with vmmk_string_free().
 *  @return 0; VMMK_ENOTFOUND when none has that name; VMMK_ECONFLICT when
 *          several do (the message lists their morefs: use one of them). */
VMMK_EXTERN int vmmk_vsphere_snapshot_find(char **out, vmmk_vsphere *vs, const char *vm,
                                           const char *name);

/** Remove @p snapshot ("snapshot-69") and consolidate the disks, waiting
 *  for the task (consolidation may take long: the limit is 24 h).
 *  @param remove_children  also remove the snapshots below it. */
VMMK_EXTERN int vmmk_vsphere_snapshot_remove(vmmk_vsphere *vs, const char *snapshot,
                                             bool remove_children);

/** A virtual disk as a snapshot (or a VM) sees it. */
typedef struct vmmk_vsphere_snapshot_disk {
    int32_t key;               /**< device key, e.g. 2000 */
    char *file_name;           /**< "[ds] dir/name-000001.vmdk" (RawDiskVer2: descriptorFileName) */
    char *change_id;           /**< backing.changeId, or NULL (taken with CBT off) */
    char *backing_type;        /**< "VirtualDiskFlatVer2BackingInfo", "...SparseVer2...",
                                    "...RawDiskMappingVer1...", "...RawDiskVer2...", ... */
    uint64_t capacity;         /**< bytes: capacityInBytes, else capacityInKB × 1024 */
} vmmk_vsphere_snapshot_disk;

/** The disks of a snapshot, in device order. */
typedef struct vmmk_vsphere_snapshot_disk_list {
    vmmk_vsphere_snapshot_disk *items;
    size_t n;
} vmmk_vsphere_snapshot_disk_list;

/** The disks of @p snapshot as they were when it was taken: the file each
 *  disk's backing names and the changeId to store for the next
 *  incremental copy (the standard VADP source; the VM's own disks do not
 *  carry it).  All backing types are read; changeId is taken from
 *  FlatVer2, SparseVer2, RawDiskMappingVer1, RawDiskVer2 and any other
 *  backing that has one.
 *  @param[out] out  free with vmmk_vsphere_snapshot_disk_list_free(). */
VMMK_EXTERN int vmmk_vsphere_snapshot_disks(vmmk_vsphere_snapshot_disk_list **out,
                                            vmmk_vsphere *vs, const char *snapshot);
VMMK_EXTERN void vmmk_vsphere_snapshot_disk_list_free(vmmk_vsphere_snapshot_disk_list *list);
/** @} */

/** @name Changed block tracking
 * @{ */

/** Whether @p vm has config.changeTrackingEnabled. */
VMMK_EXTERN int vmmk_vsphere_cbt_enabled(bool *out, vmmk_vsphere *vs, const char *vm);

/** Switch CBT on: ReconfigVM_Task with changeTrackingEnabled=true, then,
 *  when the VM is not powered off, a snapshot create/remove cycle so that
 *  it takes effect without a power cycle (ESXi applies it at the next
 *  "stun").  Nothing is done when it is on already.
 *  @param[out] changed  set to whether anything was done; may be NULL. */
VMMK_EXTERN int vmmk_vsphere_cbt_enable(bool *changed, vmmk_vsphere *vs, const char *vm);

/** The areas of disk @p disk_key that changed since @p change_id, at
 *  @p snapshot (NULL: the VM's disk now, which ESXi allows only when it is
 *  powered off).  @p change_id "*" asks for every allocated area (a full
 *  copy that skips what was never written).  QueryChangedDiskAreas is
 *  called from offset 0, each next call at the previous answer's
 *  startOffset + length, until the capacity (never at or past it): a
 *  server may cover less than the whole disk per call.
 *  @param[out] out  sorted, adjacent areas merged, clipped to the
 *              capacity: the format `vmmk copy --extents` reads
 *              (vmmk_extent_list_to_json()); free with vmmk_extent_list_free().
 *  @return 0; VMMK_ENOTFOUND when the disk is not in the snapshot; the
 *          fault otherwise, the message naming the disk, snapshot and
 *          offset (FileFault → VMMK_EIO: CBT off, or a change id from
 *          before a CBT reset; InvalidArgument → VMMK_EINVAL); VMMK_EREMOTE
 *          when the server answers without progress before the end of the
 *          disk (an empty answer: the changes past it would be missed). */
VMMK_EXTERN int vmmk_vsphere_cbt_query(vmmk_extent_list **out, vmmk_vsphere *vs, const char *vm,
                                       const char *snapshot, int32_t disk_key,
                                       const char *change_id);
/** @} */

/** @name Power
 * @{ */

/** How a power operation reached its state. */
typedef enum vmmk_vsphere_power_how {
    VMMK_VSPHERE_POWER_ALREADY = 0,     /**< it was in that state: nothing done */
    VMMK_VSPHERE_POWER_TASK = 1,        /**< PowerOnVM_Task / PowerOffVM_Task (asked hard) */
    VMMK_VSPHERE_POWER_GUEST = 2,       /**< the guest shut down (ShutdownGuest) */
    VMMK_VSPHERE_POWER_FALLBACK = 3,    /**< guest shutdown failed or timed out: powered off */
} vmmk_vsphere_power_how;

/** The power state of @p vm (runtime.powerState; the model's enum, whose
 *  names vmmk_power_state_name() gives as vSphere writes them). */
VMMK_EXTERN int vmmk_vsphere_power_get(vmmk_power_state *out, vmmk_vsphere *vs, const char *vm);

/** Power @p vm off.  Unless @p hard, ask the guest to shut down
 *  (ShutdownGuest: needs VMware Tools) and wait up to @p timeout_s for
 *  poweredOff (0 = 300 s); when the guest cannot be asked, or does not
 *  finish in time, fall back to PowerOffVM_Task with a warning in the log.
 *  A suspended VM is powered off directly.  Already off is success.
 *  @param[out] out  how it went; may be NULL. */
VMMK_EXTERN int vmmk_vsphere_power_off(vmmk_vsphere_power_how *out, vmmk_vsphere *vs,
                                       const char *vm, bool hard, unsigned timeout_s);

/** Power @p vm on (PowerOnVM_Task) and wait up to @p timeout_s (0 = 600 s)
 *  for poweredOn.  Already on is success.  @param[out] out  may be NULL. */
VMMK_EXTERN int vmmk_vsphere_power_on(vmmk_vsphere_power_how *out, vmmk_vsphere *vs,
                                      const char *vm, unsigned timeout_s);

/** Wait up to @p timeout_s (0 = 300 s) until @p vm is in @p state,
 *  polling with backoff.  @return 0; VMMK_ETIMEOUT naming both states. */
VMMK_EXTERN int vmmk_vsphere_power_wait(vmmk_vsphere *vs, const char *vm, vmmk_power_state state,
                                        unsigned timeout_s);
/** @} */

/** @name Datastore files
 * Through vSphere's HTTPS file access, /folder/PATH?dcPath=DC&dsName=DS,
 * authenticated by the session cookie.  Datastore paths are written
 * "[ds] dir/file"; @p datacenter is the datacenter's inventory path
 * ("DC0", "Folder/DC0"), see vmmk_vsphere_datacenter_path().
 * @{ */

/** The inventory path of the datacenter that holds VM @p vm ("vm-57"),
 *  as dcPath wants it: "DC0", or "Folder/DC0" inside a folder (names keep
 *  vSphere's %2f escapes).  @param[out] out  free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_vsphere_datacenter_path(char **out, vmmk_vsphere *vs, const char *vm);

/** The https URL of the datastore file @p ds_path ("[ds] dir/file"), every
 *  component URL-encoded.  @param[out] out  free with vmmk_string_free().
 *  @return 0; VMMK_EINVAL for a path not of the form "[ds] path". */
VMMK_EXTERN int vmmk_vsphere_datastore_url(char **out, vmmk_vsphere *vs, const char *datacenter,
                                           const char *ds_path);

/** The same for the flat (data) file of the disk descriptor @p disk_file:
 *  "[ds] dir/name.vmdk" gives .../folder/dir/name-flat.vmdk?dcPath=..&dsName=ds.
 *  Only a flat disk (VirtualDiskFlatVer2BackingInfo, no snapshot delta)
 *  has one.  @return 0; VMMK_EINVAL when @p disk_file is not a .vmdk. */
VMMK_EXTERN int vmmk_vsphere_disk_flat_url(char **out, vmmk_vsphere *vs, const char *datacenter,
                                           const char *disk_file);

/** The session cookie as a Cookie header value,
 *  `vmware_soap_session="..."` (exactly as the server set it), for
 *  nbdkit's curl plugin.  It is a secret: registered for redaction, never
 *  to be logged or put on a command line.
 *  @param[out] out  free with vmmk_string_free().
 *  @return 0; VMMK_EAUTH when the session has no cookie. */
VMMK_EXTERN int vmmk_vsphere_session_cookie(char **out, vmmk_vsphere *vs);

/** A copier source (nbdkit's curl plugin, with the retry filter) reading
 *  the flat file of @p disk_file over HTTPS with the session cookie
 *  (passed by file), the session's CA file and insecure setting, and the
 *  session's timeout per request.  nbdkit cannot pin a thumbprint: a
 *  session that was pinned and has no CA file is VMMK_EUNSUPPORTED (give
 *  the server's certificate or its CA as cacert when connecting).  The
 *  source reads the file as it is now: of a running VM, only a snapshot's
 *  parent disk is stable.  Keep the session open while the source is read:
 *  the cookie is copied, but vmmk_vsphere_free() logs out, which ends it.
 *  @param[out] out  free with vmmk_source_free(). */
VMMK_EXTERN int vmmk_vsphere_disk_source(vmmk_source **out, vmmk_vsphere *vs,
                                         const char *datacenter, const char *disk_file);

/** Download the datastore file @p ds_path into @p local_path (mode 0600),
 *  through a temporary file beside it that is renamed only when the whole
 *  body arrived, so a failure leaves an existing file untouched.  Meant for
 *  small files (.vmx, .nvram, logs): the session's timeout covers the whole
 *  transfer, and other calls on the session wait for it.
 *  @return 0; VMMK_ENOTFOUND (HTTP 404), VMMK_EAUTH (401/403 after a fresh
 *          login), VMMK_EHTTP (other statuses), VMMK_EIO (local file). */
VMMK_EXTERN int vmmk_vsphere_datastore_download(vmmk_vsphere *vs, const char *datacenter,
                                                const char *ds_path, const char *local_path);

/** Upload @p local_path as the datastore file @p ds_path (replacing it).
 *  Errors as vmmk_vsphere_datastore_download(). */
VMMK_EXTERN int vmmk_vsphere_datastore_upload(vmmk_vsphere *vs, const char *datacenter,
                                              const char *local_path, const char *ds_path);
/** @} */

/* ---- end tasks ---- */

#ifdef __cplusplus
}
#endif
#endif /* VMMK_VSPHERE_H */
