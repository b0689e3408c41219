/* Flavor helpers shared by the reader/writer (flavor_json.c) and the
 * matcher (match.c). */
#ifndef VMMK_FLAVOR_INTERNAL_H
#define VMMK_FLAVOR_INTERNAL_H

#include <vmmk/flavor.h>

struct json_object;

/* Free what @p f owns and zero it; the struct itself stays (list items
 * live in one array). */
void vmmk__flavor_clear(vmmk_flavor *f);

/* Read one Nova flavor object @p o into @p f (zeroed by the caller) the
 * way vmmk_flavor_list_from_json() does: id, name, vcpus, ram and disk
 * required, swap "" as 0, extra_specs sorted, raw_json set.  Errors are
 * VMMK_EINVAL naming the field under @p path ("flavors[2].ram: ...");
 * on error @p f may hold part of the flavor: vmmk__flavor_clear() it.
 * Shared with the OpenStack client (libvmmk/cloud/compute.c). */
int vmmk__flavor_read(vmmk_flavor *f, struct json_object *o, const char *path);

/* Deep copy into a new flavor.  0, or VMMK_ENOMEM (recorded). */
int vmmk__flavor_dup(vmmk_flavor **out, const vmmk_flavor *src);

/* The flavor as a json-c object (new reference): the raw Nova object when
 * raw_json is set, else one built from the fields.  0, VMMK_EPARSE when
 * raw_json is not JSON, VMMK_ENOMEM. */
int vmmk__flavor_to_object(struct json_object **out, const vmmk_flavor *f);

#endif
