/**
 * @file vmmk/vm.h
 * @brief The VM model: the description of a vSphere VM that every part of
 *        libvmmk exchanges, and its JSON form (version 1).
 *
 * The JSON keys and their rules are documented in docs/vm-model.md.  The
 * structs are transparent so that C callers can read them directly; build
 * them with vmmk_vm_from_json() or the vSphere session, and free them with
 * vmmk_vm_free() only.
 */
#ifndef VMMK_VM_H
#define VMMK_VM_H

#include <vmmk/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the JSON document written by vmmk_vm_to_json(). */
#define VMMK_VM_MODEL_VERSION 1

typedef enum vmmk_firmware {
    VMMK_FIRMWARE_BIOS = 0,
    VMMK_FIRMWARE_EFI = 1
} vmmk_firmware;

typedef enum vmmk_power_state {
    VMMK_POWER_OFF = 0,        /**< "poweredOff" */
    VMMK_POWER_ON = 1,         /**< "poweredOn" */
    VMMK_POWER_SUSPENDED = 2   /**< "suspended" */
} vmmk_power_state;

typedef enum vmmk_controller {
    VMMK_CONTROLLER_PVSCSI = 0,
    VMMK_CONTROLLER_LSILOGIC,
    VMMK_CONTROLLER_LSILOGICSAS,
    VMMK_CONTROLLER_BUSLOGIC,
    VMMK_CONTROLLER_SATA,
    VMMK_CONTROLLER_IDE,
    VMMK_CONTROLLER_NVME
} vmmk_controller;

typedef enum vmmk_nic_adapter {
    VMMK_ADAPTER_VMXNET3 = 0,
    VMMK_ADAPTER_VMXNET2,
    VMMK_ADAPTER_E1000,
    VMMK_ADAPTER_E1000E,
    VMMK_ADAPTER_PCNET32,
    VMMK_ADAPTER_SRIOV
} vmmk_nic_adapter;

/** One virtual disk, in the order the VM lists its devices. */
typedef struct vmmk_disk {
    int32_t key;               /**< vSphere device key (e.g. 2000) */
    char *label;               /**< "Hard disk 1" */
    uint64_t capacity_bytes;
    char *file;                /**< backing file, "[datastore] dir/disk.vmdk" */
    char *datastore;           /**< datastore name */
    vmmk_controller controller;
    int32_t unit;              /**< unit number on its controller */
    bool thin;
    char *change_id;           /**< CBT change id, or NULL */
} vmmk_disk;

/** One virtual NIC, in device order. */
typedef struct vmmk_nic {
    int32_t key;               /**< vSphere device key (e.g. 4000) */
    char *label;               /**< "Network adapter 1" */
    char *mac;                 /**< lowercase "00:50:56:aa:bb:cc" */
    vmmk_nic_adapter adapter;
    char *network;             /**< network or portgroup name */
    char *portgroup_key;       /**< distributed portgroup key, or NULL */
    char *switch_uuid;         /**< distributed switch uuid, or NULL */
    char **ips;                /**< guest IPs in CIDR form ("10.0.0.5/24") */
    size_t n_ips;
} vmmk_nic;

/** A VM.  Strings documented as optional may be NULL. */
typedef struct vmmk_vm {
    char *name;
    char *uuid;                /**< BIOS uuid */
    char *instance_uuid;       /**< vCenter instance uuid, optional */
    char *moref;               /**< managed object id ("vm-42") */
    char *guest_id;            /**< vSphere guest id ("rhel9_64Guest") */
    char *guest_name;          /**< full guest name, optional */
    vmmk_firmware firmware;
    bool secure_boot;
    bool vtpm;
    int32_t vcpus;
    int32_t cores_per_socket;
    uint64_t memory_mib;
    vmmk_power_state power_state;
    bool cbt_enabled;
    vmmk_disk *disks;
    size_t n_disks;
    vmmk_nic *nics;
    size_t n_nics;
} vmmk_vm;

/** Parse and validate a VM model JSON document of @p len bytes (len may be
 *  (size_t)-1 for a NUL-terminated string).  Unknown keys are ignored; a
 *  missing, mistyped or out-of-range field is VMMK_EINVAL with a message
 *  naming it ("disks[1].capacity_bytes: expected integer, got string");
 *  a document that is not JSON is VMMK_EPARSE with line and column.
 *  @param[out] out  new VM; free with vmmk_vm_free().
 */
VMMK_EXTERN int vmmk_vm_from_json(vmmk_vm **out, const char *json, size_t len);

/** Read a VM model document from @p path ("-" reads standard input); errors
 *  are prefixed with the path.  @param[out] out  free with vmmk_vm_free(). */
VMMK_EXTERN int vmmk_vm_from_file(vmmk_vm **out, const char *path);

/** Check a VM built in C against the same rules vmmk_vm_from_json()
 *  applies (the error names the field).  @return 0 or VMMK_EINVAL. */
VMMK_EXTERN int vmmk_vm_validate(const vmmk_vm *vm);

/** Flags for vmmk_vm_to_json(). */
#define VMMK_JSON_PRETTY 1u

/** Serialise @p vm as a version 1 document.
 *  @param[out] out  new NUL-terminated string; free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_vm_to_json(char **out, const vmmk_vm *vm, unsigned flags);

/** Deep copy.  @param[out] out  free with vmmk_vm_free(). */
VMMK_EXTERN int vmmk_vm_copy(vmmk_vm **out, const vmmk_vm *vm);

/** Free a VM and everything it owns. NULL is ignored. */
VMMK_EXTERN void vmmk_vm_free(vmmk_vm *vm);

/** Name <-> enum helpers.  The *_name functions return static strings (or
 *  NULL for a value outside the enum); the *_parse functions return 0 or
 *  VMMK_EINVAL without recording an error. */
VMMK_EXTERN const char *vmmk_firmware_name(vmmk_firmware f);
VMMK_EXTERN const char *vmmk_power_state_name(vmmk_power_state p);
VMMK_EXTERN const char *vmmk_controller_name(vmmk_controller c);
VMMK_EXTERN const char *vmmk_nic_adapter_name(vmmk_nic_adapter a);
VMMK_EXTERN int vmmk_firmware_parse(vmmk_firmware *out, const char *name);
VMMK_EXTERN int vmmk_power_state_parse(vmmk_power_state *out, const char *name);
VMMK_EXTERN int vmmk_controller_parse(vmmk_controller *out, const char *name);
VMMK_EXTERN int vmmk_nic_adapter_parse(vmmk_nic_adapter *out, const char *name);

/** Normalise a MAC address ("00-50-56-AA-BB-CC", "0050.56aa.bbcc" or
 *  "00:50:56:aa:bb:cc") to lowercase colon form.
 *  @param[out] out  new string; free with vmmk_string_free().
 *  @return 0, VMMK_EINVAL (not a MAC; the message quotes it), VMMK_ENOMEM. */
VMMK_EXTERN int vmmk_mac_normalize(char **out, const char *mac);

#ifdef __cplusplus
}
#endif
#endif /* VMMK_VM_H */
