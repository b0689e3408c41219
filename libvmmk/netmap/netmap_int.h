/* The parsed network map, shared by the reader (netmap.c) and the port
 * planner (ports.c).  docs/network-mapping.md describes the document. */
#ifndef VMMK_NETMAP_INTERNAL_H
#define VMMK_NETMAP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <vmmk/netmap.h>

/* fixed_ips of an entry that says nothing: use the top-level setting. */
#define VMMK__FIXED_IPS_INHERIT (-1)

typedef struct vmmk__netmap_entry {
    char *key;                 /* portgroup key or network name */
    char *network;
    char *subnet;              /* NULL: Neutron picks the subnet per address */
    char **security_groups;
    size_t n_security_groups;
    bool has_security_groups;  /* the entry's list replaces the top-level one, even when empty */
    int fixed_ips;             /* 0, 1 or VMMK__FIXED_IPS_INHERIT */
} vmmk__netmap_entry;

struct vmmk_netmap {
    vmmk__netmap_entry *entries;   /* in document order */
    size_t n_entries;
    char *default_network;         /* NULL: unmapped NICs are an error */
    char **security_groups;
    size_t n_security_groups;
    bool fixed_ips;
};

#endif
