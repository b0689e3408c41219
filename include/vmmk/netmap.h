/**
 * @file vmmk/netmap.h
 * @brief net_mapper: turn a VM's NICs and a network mapping document into
 *        Neutron port specifications that keep MACs (and guest IPs).
 *
 * The mapping document and the port rules are documented in
 * docs/network-mapping.md.
 */
#ifndef VMMK_NETMAP_H
#define VMMK_NETMAP_H

#include <vmmk/common.h>
#include <vmmk/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A parsed mapping document (opaque). */
typedef struct vmmk_netmap vmmk_netmap;

/** One fixed IP for a port. */
typedef struct vmmk_fixed_ip {
    char *ip_address;          /**< address without prefix length */
    char *subnet;              /**< subnet name or id from the map, or NULL */
} vmmk_fixed_ip;

/** One Neutron port to create (or find and reuse), in NIC order. */
typedef struct vmmk_port_spec {
    char *name;                /**< sanitized "<vm>-nic<N>", N from 0 */
    char *mac;                 /**< the NIC's MAC, lowercase */
    char *network;             /**< network name or id, as mapped */
    char *subnet;              /**< subnet name or id, or NULL */
    vmmk_fixed_ip *fixed_ips;
    size_t n_fixed_ips;
    char **security_groups;
    size_t n_security_groups;
    char **tags;               /**< identify the source VM and NIC */
    size_t n_tags;
    int32_t nic_key;           /**< the source NIC's device key */
    char *nic_label;           /**< the source NIC's label */
} vmmk_port_spec;

/** The ports for one VM. */
typedef struct vmmk_port_plan {
    vmmk_port_spec *ports;
    size_t n_ports;
} vmmk_port_plan;

/** Parse a mapping document:
 *  `{"map": {KEY: "network" | {"network": N, "subnet": S,
 *  "security_groups": [...], "fixed_ips": bool}}, "default": "network",
 *  "security_groups": [...], "fixed_ips": true|false}`.
 *  Unknown keys are an error (a misspelt option must not be ignored).
 *  @param[out] out  free with vmmk_netmap_free(). */
VMMK_EXTERN int vmmk_netmap_from_json(vmmk_netmap **out, const char *json, size_t len);
/** Same, from a file ("-" = standard input); errors are prefixed with it. */
VMMK_EXTERN int vmmk_netmap_from_file(vmmk_netmap **out, const char *path);
VMMK_EXTERN void vmmk_netmap_free(vmmk_netmap *map);

/** Map every NIC of @p vm.  A key matches a NIC's portgroup_key first, then
 *  its network name; the default takes the rest.  NICs that match nothing
 *  when there is no default are VMMK_EUNMAPPED, with all of them named in
 *  one message (label, MAC, network).
 *  @param[out] out  free with vmmk_port_plan_free(). */
VMMK_EXTERN int vmmk_netmap_apply(vmmk_port_plan **out, const vmmk_netmap *map, const vmmk_vm *vm);
VMMK_EXTERN void vmmk_port_plan_free(vmmk_port_plan *plan);

/** Serialise as `{"ports": [{"name", "mac", "network", "subnet",
 *  "fixed_ips": [{"ip_address", "subnet"}], "security_groups", "tags",
 *  "nic_key", "nic_label"}]}`.
 *  @param[out] out  free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_port_plan_to_json(char **out, const vmmk_port_plan *plan, unsigned flags);

/** The tag prefix that marks ports libvmmk created. */
#define VMMK_TAG_PREFIX "vmmk"

#ifdef __cplusplus
}
#endif
#endif /* VMMK_NETMAP_H */
