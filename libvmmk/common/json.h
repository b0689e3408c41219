/* json-c helpers that validate while they read and name the offending
 * field in the error ("disks[1].capacity_bytes: expected integer, got
 * string").  `path` is the location of `obj` ("" for the root). */
#ifndef VMMK_JSON_H
#define VMMK_JSON_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

/* Parse @p len bytes; VMMK_EPARSE with line and column on bad syntax,
 * trailing garbage, or nesting deeper than the readers need. */
int vmmk__json_parse(json_object **out, const char *text, size_t len);

/* Name of a JSON type for messages ("string", "integer", ...). */
const char *vmmk__json_type_name(const json_object *o);

/* "path.key" or "key" for the root, into buf. */
void vmmk__json_path(char *buf, size_t size, const char *path, const char *key);
/* "path[index]" into buf. */
void vmmk__json_index(char *buf, size_t size, const char *path, size_t index);

/* Field flags. */
#define VMMK_J_REQUIRED 1u   /* absence is an error */
#define VMMK_J_NULLABLE 2u   /* null is accepted as "absent" */

/* Read a member.  Return 0 when read or legitimately absent (then *present
 * is false, when present is given), or VMMK_EINVAL naming the field. */
int vmmk__json_string(const json_object *obj, const char *path, const char *key, unsigned flags,
                      char **out, bool *present);
int vmmk__json_int64(const json_object *obj, const char *path, const char *key, unsigned flags,
                     int64_t min, int64_t max, int64_t *out, bool *present);
int vmmk__json_bool(const json_object *obj, const char *path, const char *key, unsigned flags,
                    bool *out, bool *present);
/* An array member (out borrowed from obj); *out is NULL when absent. */
int vmmk__json_array(const json_object *obj, const char *path, const char *key, unsigned flags,
                     json_object **out);
/* An object member (borrowed). */
int vmmk__json_object(const json_object *obj, const char *path, const char *key, unsigned flags,
                      json_object **out);

/* Require that @p obj is an object; error names path. */
int vmmk__json_expect_object(const json_object *obj, const char *path);

/* Serialise with the project's flags (plain or pretty, no slash escaping)
 * into a new malloc'd string. */
char *vmmk__json_dump(json_object *obj, unsigned vmmk_flags);

/* Add a string member, or null when s is NULL.  Returns 0 or VMMK_ENOMEM. */
int vmmk__json_add_string(json_object *obj, const char *key, const char *s);

#endif
