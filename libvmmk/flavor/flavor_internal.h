/* Flavor helpers shared by the reader/writer (flavor_json.c) and the
 * matcher (match.c). */
#ifndef VMMK_FLAVOR_INTERNAL_H
#define VMMK_FLAVOR_INTERNAL_H

#include <vmmk/flavor.h>

struct json_object;

/* Free what @p f owns and zero it; the struct itself stays (list items
 * live in one array). */
void vmmk__flavor_clear(vmmk_flavor *f);

/* Deep copy into a new flavor.  0, or VMMK_ENOMEM (recorded). */
int vmmk__flavor_dup(vmmk_flavor **out, const vmmk_flavor *src);

/* The flavor as a json-c object (new reference): the raw Nova object when
 * raw_json is set, else one built from the fields.  0, VMMK_EPARSE when
 * raw_json is not JSON, VMMK_ENOMEM. */
int vmmk__flavor_to_object(struct json_object **out, const vmmk_flavor *f);

#endif
