/**
 * @file vmmk/flavor.h
 * @brief flavor_matcher: choose the Nova flavor that fits a VM with the
 *        least waste, or explain why none does and propose one to create.
 *
 * Rules, weights and tie-breaks are documented in docs/flavor-matching.md.
 */
#ifndef VMMK_FLAVOR_H
#define VMMK_FLAVOR_H

#include <vmmk/common.h>
#include <vmmk/vm.h>

#ifdef __cplusplus
extern "C" {
#endif

/** A Nova flavor, as read from GET /flavors/detail. */
typedef struct vmmk_flavor {
    char *id;
    char *name;
    int32_t vcpus;
    uint64_t ram_mib;          /**< Nova "ram" (MiB) */
    uint64_t disk_gib;         /**< Nova "disk" (GiB); 0 = sized from the image */
    uint64_t ephemeral_gib;    /**< "OS-FLV-EXT-DATA:ephemeral" */
    uint64_t swap_mib;         /**< "swap" ("" in Nova means 0) */
    bool disabled;             /**< "OS-FLV-DISABLED:disabled" */
    bool is_public;            /**< "os-flavor-access:is_public" */
    char **extra_spec_keys;    /**< "extra_specs", sorted by key */
    char **extra_spec_values;
    size_t n_extra_specs;
    char *raw_json;            /**< the flavor object exactly as given, or NULL */
} vmmk_flavor;

/** A list of flavors. */
typedef struct vmmk_flavor_list {
    vmmk_flavor *items;
    size_t n;
} vmmk_flavor_list;

/** Parse Nova's `{"flavors": [...]}` (a bare array and `{"flavor": {...}}`
 *  are accepted too).  Each flavor needs id, name, vcpus, ram and disk;
 *  errors name the field ("flavors[2].ram: expected integer, got string").
 *  @param[out] out  free with vmmk_flavor_list_free(). */
VMMK_EXTERN int vmmk_flavor_list_from_json(vmmk_flavor_list **out, const char *json, size_t len);
/** Same, from a file ("-" = standard input); errors are prefixed with it. */
VMMK_EXTERN int vmmk_flavor_list_from_file(vmmk_flavor_list **out, const char *path);
/** Free a list and every flavor in it.  NULL is ignored. */
VMMK_EXTERN void vmmk_flavor_list_free(vmmk_flavor_list *list);
/** Free one flavor allocated by libvmmk (vmmk_flavor_choice::flavor or
 *  proposal) and what it owns.  Not for items of a vmmk_flavor_list,
 *  which belong to the list.  NULL is ignored. */
VMMK_EXTERN void vmmk_flavor_free(vmmk_flavor *flavor);

/** Serialise a flavor as a Nova-style object (the raw object when known).
 *  A flavor without raw_json (such as a proposal) is written in the shape
 *  of GET /flavors/detail: id (null when NULL), name, vcpus, ram, disk,
 *  swap (an integer), OS-FLV-EXT-DATA:ephemeral, OS-FLV-DISABLED:disabled,
 *  os-flavor-access:is_public and extra_specs.  To create it with
 *  POST /flavors, drop OS-FLV-DISABLED:disabled and extra_specs (Nova
 *  rejects them there; extra specs go to /flavors/{id}/os-extra_specs).
 *  @param flags  0 or VMMK_JSON_PRETTY.
 *  @param[out] out  free with vmmk_string_free().
 *  @return 0, VMMK_EINVAL (NULL argument), VMMK_EPARSE (raw_json set by
 *  the caller is not JSON), VMMK_ENOMEM. */
VMMK_EXTERN int vmmk_flavor_to_json(char **out, const vmmk_flavor *flavor, unsigned flags);

/** What the VM needs.  Initialise with VMMK_FLAVOR_REQUIREMENTS_INIT and
 *  set fields; new fields are only ever appended. */
typedef struct vmmk_flavor_requirements {
    unsigned version;             /**< VMMK_FLAVOR_REQUIREMENTS_VERSION */
    int32_t vcpus;                /**< >= 1 */
    uint64_t ram_mib;             /**< >= 1 */
    uint64_t disk_gib;            /**< root disk (boot disk rounded up); ignored with boot_from_volume */
    bool boot_from_volume;        /**< root disk is a Cinder volume: flavor disk does not matter */
    uint64_t ephemeral_gib;       /**< minimum ephemeral disk, 0 = none needed */
    uint64_t swap_mib;            /**< minimum swap, 0 = none needed */
    const char *name_filter;      /**< fnmatch(3) glob on the flavor name, or NULL */
    const char *const *extra_spec_keys;   /**< required extra specs (exact values) */
    const char *const *extra_spec_values;
    size_t n_extra_specs;
    bool include_private;         /**< consider non-public flavors */
} vmmk_flavor_requirements;

#define VMMK_FLAVOR_REQUIREMENTS_VERSION 1
#define VMMK_FLAVOR_REQUIREMENTS_INIT \
    { VMMK_FLAVOR_REQUIREMENTS_VERSION, 0, 0, 0, false, 0, 0, NULL, NULL, NULL, 0, false }

/** Fill vcpus, ram_mib and disk_gib from a VM: the boot disk is disks[0]
 *  (device order) and its capacity is rounded up to whole GiB.  Other
 *  fields of @p out are left as they are.
 *  @return 0, or VMMK_EINVAL (a VM without disks, unless boot_from_volume
 *  is already set in @p out). */
VMMK_EXTERN int vmmk_flavor_requirements_from_vm(vmmk_flavor_requirements *out, const vmmk_vm *vm);

/** The outcome of vmmk_flavor_match() (a type of its own name would clash
 *  with the function). */
typedef struct vmmk_flavor_choice {
    vmmk_flavor *flavor;       /**< the chosen flavor (a copy), or NULL when none fits */
    char *reason;              /**< why it was chosen, or why nothing fits */
    double waste;              /**< weighted normalised waste of the choice (0 = exact) */
    size_t n_candidates;       /**< how many flavors met every requirement */
    vmmk_flavor *proposal;     /**< when nothing fits: a flavor to create, else NULL */
} vmmk_flavor_choice;

/** Choose the flavor with the least waste among those that meet every
 *  requirement.  A flavor is considered when it is enabled, public (or
 *  include_private is set), matches name_filter and has every required
 *  extra spec with exactly that value; it fits when vcpus, ram, disk
 *  (unless boot_from_volume), ephemeral and swap are each >= what is
 *  required.  A flavor disk of 0 ("sized from the image") never meets a
 *  disk requirement: only boot_from_volume makes such flavors fit.
 *  Waste is 1.0*vCPU excess + 1.0*RAM excess + 0.25*disk excess +
 *  0.1*ephemeral excess + 0.1*swap excess, each relative to the
 *  requirement (docs/flavor-matching.md); ties go to fewer vCPUs, less
 *  RAM, smaller disk, ephemeral, swap, then name and id, so the list
 *  order never matters.
 *
 *  When none fits the call returns VMMK_ENOFIT, the error message is the
 *  reason ("no flavor has >= 100 GiB disk; the largest is m1.large with
 *  80 GiB") and *out is still set, with flavor NULL, n_candidates 0 and a
 *  proposal: the exact shape required, is_public true, id NULL (Nova
 *  assigns one) and the name "vmmk-<vcpus>vcpu-<ram>mb-<disk>gb"
 *  ("...-bfv" with boot_from_volume, where its disk is 0).
 *  Bad requirements are VMMK_EINVAL naming the field and leave *out NULL.
 *  @param[out] out  free with vmmk_flavor_choice_free(). */
VMMK_EXTERN int vmmk_flavor_match(vmmk_flavor_choice **out, const vmmk_flavor_list *flavors,
                                  const vmmk_flavor_requirements *req);
/** Free a choice, its flavor copy and its proposal.  NULL is ignored. */
VMMK_EXTERN void vmmk_flavor_choice_free(vmmk_flavor_choice *choice);

/** Serialise a match as `{"flavor": {...}|null, "reason": "...",
 *  "waste": x, "candidates": n, "proposal": {...}|null}`; "flavor" is the
 *  Nova object as vmmk_flavor_to_json() writes it and waste has at most
 *  six decimals.  @param flags  0 or VMMK_JSON_PRETTY.
 *  @param[out] out  free with vmmk_string_free(). */
VMMK_EXTERN int vmmk_flavor_choice_to_json(char **out, const vmmk_flavor_choice *choice, unsigned flags);

#ifdef __cplusplus
}
#endif
#endif /* VMMK_FLAVOR_H */
