/* Small JSON helpers for reading OpenStack resources: services return
 * loosely typed documents (Cinder sends "bootable": "true", Nova sends
 * "swap": ""), so readers here are lenient where the APIs are, and leave
 * strict validation to the callers that need it. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "cloud_int.h"

const char *vmmk__jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

json_object *vmmk__jwrap(const char *key, json_object *inner)
{
    json_object *o = inner ? json_object_new_object() : NULL;
    if (!o || json_object_object_add(o, key, inner)) {
        json_object_put(o);
        json_object_put(inner);
        return NULL;
    }
    return o;
}

json_object *vmmk__jpair(const char *key, const char *value)
{
    json_object *o = json_object_new_object();
    if (o && vmmk__json_add_string(o, key, value)) {
        json_object_put(o);
        return NULL;
    }
    return o;
}

char *vmmk__jdup(json_object *o, const char *key)
{
    const char *s = vmmk__jstr(o, key);
    return s ? strdup(s) : NULL;
}

int64_t vmmk__jint(json_object *o, const char *key, int64_t dflt)
{
    json_object *v;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return dflt;
    if (json_object_is_type(v, json_type_int))
        return json_object_get_int64(v);
    if (json_object_is_type(v, json_type_double))
        return (int64_t)json_object_get_double(v);
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        char *end;
        long long n = strtoll(s, &end, 10);
        return (*s && !*end) ? (int64_t)n : dflt;
    }
    return dflt;
}

bool vmmk__jbool(json_object *o, const char *key, bool dflt)
{
    json_object *v;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return dflt;
    if (json_object_is_type(v, json_type_boolean))
        return json_object_get_boolean(v);
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
            return true;
        if (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
            return false;
    }
    return dflt;
}

void vmmk__strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

int vmmk__jstrv(char ***out, size_t *n, json_object *o, const char *key)
{
    *out = NULL;
    *n = 0;
    json_object *a;
    if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &a) ||
        !json_object_is_type(a, json_type_array))
        return 0;
    size_t len = json_object_array_length(a);
    if (!len)
        return 0;
    char **v = calloc(len, sizeof *v);
    if (!v)
        return vmmk__err(VMMK_ENOMEM, "out of memory reading %s", key);
    size_t k = 0;
    for (size_t i = 0; i < len; i++) {
        json_object *e = json_object_array_get_idx(a, i);
        const char *s = NULL;
        if (json_object_is_type(e, json_type_string))
            s = json_object_get_string(e);
        else if (json_object_is_type(e, json_type_object))
            s = vmmk__jstr(e, "id");  /* [{"id": ...}] lists (attached volumes) */
        if (!s)
            continue;
        if (!(v[k] = strdup(s))) {
            vmmk__strv_free(v, k);
            return vmmk__err(VMMK_ENOMEM, "out of memory reading %s", key);
        }
        k++;
    }
    if (!k) {
        free(v);
        return 0;
    }
    *out = v;
    *n = k;
    return 0;
}

int vmmk__jprops(vmmk_properties **out, json_object *obj)
{
    int rc = vmmk_properties_new(out);
    if (rc || !obj || !json_object_is_type(obj, json_type_object))
        return rc;
    json_object_object_foreach(obj, key, val)
    {
        const char *s;
        if (!val)
            continue;  /* null: no value to carry */
        if (json_object_is_type(val, json_type_string))
            s = json_object_get_string(val);
        else
            s = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE);
        if ((rc = vmmk_properties_set(*out, key, s ? s : "")) != 0) {
            vmmk_properties_free(*out);
            *out = NULL;
            return rc;
        }
    }
    return 0;
}

json_object *vmmk__props_to_json(const vmmk_properties *p)
{
    json_object *o = json_object_new_object();
    for (size_t i = 0; o && p && i < p->n; i++)
        if (vmmk__json_add_string(o, p->keys[i], p->values[i])) {
            json_object_put(o);
            return NULL;
        }
    return o;
}

json_object *vmmk__strv_to_json(const char *const *v, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; a && i < n; i++) {
        json_object *s = json_object_new_string(v[i] ? v[i] : "");
        if (!s || json_object_array_add(a, s)) {
            json_object_put(s);
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

char *vmmk__jraw(json_object *o)
{
    return o ? vmmk__json_dump(o, 0) : NULL;
}

int vmmk__raw_to_json(char **out, const char *raw, unsigned flags, const char *what)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "%s: out is NULL", what);
    *out = NULL;
    if (!raw)
        return vmmk__err(VMMK_EINVAL, "%s: no JSON document kept", what);
    json_object *o = NULL;
    int rc = vmmk__json_parse(&o, raw, strlen(raw));
    if (rc)
        return vmmk__err_prefix("%s", what);
    *out = vmmk__json_dump(o, flags);
    json_object_put(o);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "%s: out of memory", what);
}

bool vmmk__looks_like_id(const char *s)
{
    if (!s)
        return false;
    size_t n = strlen(s);
    if (n == 32) {
        for (size_t i = 0; i < n; i++)
            if (!isxdigit((unsigned char)s[i]))
                return false;
        return true;
    }
    if (n != 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}
