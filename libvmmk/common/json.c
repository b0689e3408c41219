/* json-c helpers: validating readers and the project's serialisation. */
#include "json.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include <vmmk/vm.h>

/* Deep enough for every document libvmmk reads; shallower than json-c's
 * default so hostile nesting is refused early. */
#define MAX_DEPTH 24

static void line_col(const char *text, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (text[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

int vmmk__json_parse(json_object **out, const char *text, size_t len)
{
    *out = NULL;
    if (!text)
        return vmmk__err(VMMK_EINVAL, "no JSON text given");
    len = vmmk__len(text, len);
    if (len > VMMK_MAX_DOCUMENT)
        return vmmk__err(VMMK_EINVAL, "JSON document of %zu bytes exceeds the %u MiB limit", len,
                         VMMK_MAX_DOCUMENT >> 20);
    if (memchr(text, '\0', len))
        return vmmk__err(VMMK_EPARSE, "JSON document contains a NUL byte");
    json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
    if (!tok)
        return vmmk__err(VMMK_ENOMEM, "out of memory parsing JSON");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *obj = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* A top-level number is only complete once the tokener sees the
         * end: give it the terminating NUL. */
        obj = json_tokener_parse_ex(tok, "", 1);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_error_parse_eof || jerr == json_tokener_continue)
            jerr = json_tokener_continue;
        end = len;
    }
    int rc = 0;
    size_t line, col;
    if (jerr == json_tokener_continue || (!obj && jerr == json_tokener_success)) {
        line_col(text, len, &line, &col);
        rc = vmmk__err(VMMK_EPARSE, "JSON ends early at line %zu, column %zu", line, col);
    } else if (jerr != json_tokener_success) {
        line_col(text, end < len ? end : len, &line, &col);
        rc = vmmk__err(VMMK_EPARSE, "JSON syntax error at line %zu, column %zu: %s", line, col,
                       json_tokener_error_desc(jerr));
    } else {
        /* Only white space may follow the document. */
        for (size_t i = end; i < len; i++) {
            if (!strchr(" \t\r\n", text[i])) {
                line_col(text, i, &line, &col);
                rc = vmmk__err(VMMK_EPARSE,
                               "JSON syntax error at line %zu, column %zu: unexpected text after "
                               "the document", line, col);
                break;
            }
        }
    }
    json_tokener_free(tok);
    if (rc) {
        json_object_put(obj);
        return rc;
    }
    *out = obj;
    return 0;
}

const char *vmmk__json_type_name(const json_object *o)
{
    switch (json_object_get_type(o)) {
    case json_type_null: return "null";
    case json_type_boolean: return "boolean";
    case json_type_double: return "number";
    case json_type_int: return "integer";
    case json_type_object: return "object";
    case json_type_array: return "array";
    case json_type_string: return "string";
    }
    return "?";
}

void vmmk__json_path(char *buf, size_t size, const char *path, const char *key)
{
    if (path && *path)
        snprintf(buf, size, "%s.%s", path, key);
    else
        snprintf(buf, size, "%s", key);
}

void vmmk__json_index(char *buf, size_t size, const char *path, size_t index)
{
    snprintf(buf, size, "%s[%zu]", path ? path : "", index);
}

/* Common lookup: 1 = found (*val set), 0 = absent/null-accepted, <0 error. */
static int lookup(const json_object *obj, const char *path, const char *key, unsigned flags,
                  json_object **val, bool *present)
{
    char p[512];
    json_object *v = NULL;
    if (present)
        *present = false;
    if (!json_object_object_get_ex(obj, key, &v)) {
        if (flags & VMMK_J_REQUIRED) {
            vmmk__json_path(p, sizeof p, path, key);
            return vmmk__err(VMMK_EINVAL, "%s: missing", p);
        }
        return 0;
    }
    if (v == NULL) { /* JSON null */
        if (flags & VMMK_J_NULLABLE)
            return 0;
        vmmk__json_path(p, sizeof p, path, key);
        return vmmk__err(VMMK_EINVAL, "%s: must not be null", p);
    }
    *val = v;
    if (present)
        *present = true;
    return 1;
}

static int type_error(const char *path, const char *key, const char *want, const json_object *v)
{
    char p[512];
    vmmk__json_path(p, sizeof p, path, key);
    return vmmk__err(VMMK_EINVAL, "%s: expected %s, got %s", p, want, vmmk__json_type_name(v));
}

int vmmk__json_string(const json_object *obj, const char *path, const char *key, unsigned flags,
                      char **out, bool *present)
{
    json_object *v;
    *out = NULL;
    int r = lookup(obj, path, key, flags, &v, present);
    if (r <= 0)
        return r;
    if (!json_object_is_type(v, json_type_string))
        return type_error(path, key, "string", v);
    *out = strdup(json_object_get_string(v));
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
}

int vmmk__json_int64(const json_object *obj, const char *path, const char *key, unsigned flags,
                     int64_t min, int64_t max, int64_t *out, bool *present)
{
    json_object *v;
    int r = lookup(obj, path, key, flags, &v, present);
    if (r <= 0)
        return r;
    if (!json_object_is_type(v, json_type_int))
        return type_error(path, key, "integer", v);
    /* json-c saturates out-of-range integers; the bounds catch it. */
    int64_t x = json_object_get_int64(v);
    if (x < min || x > max) {
        char p[512];
        vmmk__json_path(p, sizeof p, path, key);
        return vmmk__err(VMMK_EINVAL, "%s: %" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")",
                         p, x, min, max);
    }
    *out = x;
    return 0;
}

int vmmk__json_bool(const json_object *obj, const char *path, const char *key, unsigned flags,
                    bool *out, bool *present)
{
    json_object *v;
    int r = lookup(obj, path, key, flags, &v, present);
    if (r <= 0)
        return r;
    if (!json_object_is_type(v, json_type_boolean))
        return type_error(path, key, "boolean", v);
    *out = json_object_get_boolean(v) != 0;
    return 0;
}

int vmmk__json_array(const json_object *obj, const char *path, const char *key, unsigned flags,
                     json_object **out)
{
    json_object *v;
    *out = NULL;
    int r = lookup(obj, path, key, flags, &v, NULL);
    if (r <= 0)
        return r;
    if (!json_object_is_type(v, json_type_array))
        return type_error(path, key, "array", v);
    *out = v;
    return 0;
}

int vmmk__json_object(const json_object *obj, const char *path, const char *key, unsigned flags,
                      json_object **out)
{
    json_object *v;
    *out = NULL;
    int r = lookup(obj, path, key, flags, &v, NULL);
    if (r <= 0)
        return r;
    if (!json_object_is_type(v, json_type_object))
        return type_error(path, key, "object", v);
    *out = v;
    return 0;
}

int vmmk__json_expect_object(const json_object *obj, const char *path)
{
    if (obj && json_object_is_type(obj, json_type_object))
        return 0;
    return vmmk__err(VMMK_EINVAL, "%s: expected object, got %s", path && *path ? path : "document",
                     obj ? vmmk__json_type_name(obj) : "null");
}

char *vmmk__json_dump(json_object *obj, unsigned vmmk_flags)
{
    int f = JSON_C_TO_STRING_NOSLASHESCAPE;
    f |= (vmmk_flags & VMMK_JSON_PRETTY) ? (JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED)
                                         : JSON_C_TO_STRING_PLAIN;
    const char *s = json_object_to_json_string_ext(obj, f);
    return s ? strdup(s) : NULL;
}

int vmmk__json_add_string(json_object *obj, const char *key, const char *s)
{
    json_object *v = NULL;
    if (s && !(v = json_object_new_string(s)))
        return VMMK_ENOMEM;
    return json_object_object_add(obj, key, v) == 0 ? 0 : VMMK_ENOMEM;
}
