/* Nova flavors <-> JSON (docs/flavor-matching.md). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "flavor_internal.h"

/* Nova keys that are not plain identifiers. */
#define K_EPHEMERAL "OS-FLV-EXT-DATA:ephemeral"
#define K_DISABLED "OS-FLV-DISABLED:disabled"
#define K_PUBLIC "os-flavor-access:is_public"

/* ---- ownership -------------------------------------------------------- */

void vmmk__flavor_clear(vmmk_flavor *f)
{
    if (!f)
        return;
    free(f->id);
    free(f->name);
    for (size_t i = 0; i < f->n_extra_specs; i++) {
        if (f->extra_spec_keys)
            free(f->extra_spec_keys[i]);
        if (f->extra_spec_values)
            free(f->extra_spec_values[i]);
    }
    free(f->extra_spec_keys);
    free(f->extra_spec_values);
    free(f->raw_json);
    memset(f, 0, sizeof *f);
}

void vmmk_flavor_free(vmmk_flavor *flavor)
{
    if (!flavor)
        return;
    vmmk__flavor_clear(flavor);
    free(flavor);
}

void vmmk_flavor_list_free(vmmk_flavor_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; list->items && i < list->n; i++)
        vmmk__flavor_clear(&list->items[i]);
    free(list->items);
    free(list);
}

/* A NULL source string stays NULL; only a failed copy of a real one fails. */
static int dup_into(char **dst, const char *src)
{
    *dst = vmmk__strdup(src);
    return src && !*dst ? -1 : 0;
}

int vmmk__flavor_dup(vmmk_flavor **out, const vmmk_flavor *src)
{
    *out = NULL;
    vmmk_flavor *f = calloc(1, sizeof *f);
    if (!f)
        return vmmk__err(VMMK_ENOMEM, "out of memory copying a flavor");
    *f = *src;
    f->id = f->name = f->raw_json = NULL;
    f->extra_spec_keys = f->extra_spec_values = NULL;
    f->n_extra_specs = 0;
    if (dup_into(&f->id, src->id) || dup_into(&f->name, src->name) ||
        dup_into(&f->raw_json, src->raw_json))
        goto nomem;
    size_t n = src->extra_spec_keys && src->extra_spec_values ? src->n_extra_specs : 0;
    if (n) {
        f->extra_spec_keys = calloc(n, sizeof *f->extra_spec_keys);
        f->extra_spec_values = calloc(n, sizeof *f->extra_spec_values);
        if (!f->extra_spec_keys || !f->extra_spec_values)
            goto nomem;
        for (size_t i = 0; i < n; i++) {
            /* Count each pair as it is started so that clear() frees it. */
            f->n_extra_specs++;
            if (dup_into(&f->extra_spec_keys[i], src->extra_spec_keys[i]) ||
                dup_into(&f->extra_spec_values[i], src->extra_spec_values[i]))
                goto nomem;
        }
    }
    *out = f;
    return 0;
nomem:
    vmmk_flavor_free(f);
    return vmmk__err(VMMK_ENOMEM, "out of memory copying a flavor");
}

/* ---- reading ---------------------------------------------------------- */

/* Nova reports "no swap" as "" rather than 0, so swap is the one number
 * that may also be a string. */
static int read_swap(const json_object *o, const char *p, uint64_t *out)
{
    json_object *v = NULL;
    *out = 0;
    if (json_object_object_get_ex(o, "swap", &v) && v && json_object_is_type(v, json_type_string)) {
        if (*json_object_get_string(v) == '\0')
            return 0;
        return vmmk__err(VMMK_EINVAL, "%s.swap: expected integer or \"\", got string \"%s\"", p,
                         json_object_get_string(v));
    }
    int64_t x = 0;
    int rc = vmmk__json_int64(o, p, "swap", VMMK_J_NULLABLE, 0, INT64_MAX, &x, NULL);
    *out = (uint64_t)x;
    return rc;
}

typedef struct spec_pair {
    const char *key;
    json_object *val;
} spec_pair;

static int cmp_spec_pair(const void *a, const void *b)
{
    return strcmp(((const spec_pair *)a)->key, ((const spec_pair *)b)->key);
}

/* Extra specs are kept sorted by key so that output and comparisons do not
 * depend on the order json-c happens to store members in. */
static int read_extra_specs(vmmk_flavor *f, const json_object *o, const char *p)
{
    json_object *specs;
    int rc = vmmk__json_object(o, p, "extra_specs", VMMK_J_NULLABLE, &specs);
    if (rc || !specs)
        return rc;
    size_t n = (size_t)json_object_object_length(specs);
    if (!n)
        return 0;
    spec_pair *pairs = calloc(n, sizeof *pairs);
    f->extra_spec_keys = calloc(n, sizeof *f->extra_spec_keys);
    f->extra_spec_values = calloc(n, sizeof *f->extra_spec_values);
    if (!pairs || !f->extra_spec_keys || !f->extra_spec_values) {
        free(pairs);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    size_t k = 0;
    struct json_object_iter it;
    json_object_object_foreachC(specs, it)
    {
        if (k < n) {
            pairs[k].key = it.key;
            pairs[k].val = it.val;
            k++;
        }
    }
    qsort(pairs, k, sizeof *pairs, cmp_spec_pair);
    char sp[512];
    vmmk__json_path(sp, sizeof sp, p, "extra_specs");
    for (size_t i = 0; i < k; i++) {
        json_object *v = pairs[i].val;
        if (!v || !json_object_is_type(v, json_type_string)) {
            rc = vmmk__err(VMMK_EINVAL, "%s.%s: expected string, got %s", sp, pairs[i].key,
                           v ? vmmk__json_type_name(v) : "null");
            break;
        }
        f->n_extra_specs++;
        f->extra_spec_keys[i] = strdup(pairs[i].key);
        f->extra_spec_values[i] = strdup(json_object_get_string(v));
        if (!f->extra_spec_keys[i] || !f->extra_spec_values[i]) {
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
            break;
        }
    }
    free(pairs);
    return rc;
}

int vmmk__flavor_read(vmmk_flavor *f, json_object *o, const char *p)
{
    int rc;
    int64_t v;
    bool present;
    if ((rc = vmmk__json_expect_object(o, p)))
        return rc;
    if ((rc = vmmk__json_string(o, p, "id", VMMK_J_REQUIRED, &f->id, NULL)))
        return rc;
    if (!*f->id)
        return vmmk__err(VMMK_EINVAL, "%s.id: must not be empty", p);
    if ((rc = vmmk__json_string(o, p, "name", VMMK_J_REQUIRED, &f->name, NULL)))
        return rc;
    if ((rc = vmmk__json_int64(o, p, "vcpus", VMMK_J_REQUIRED, 1, INT32_MAX, &v, NULL)))
        return rc;
    f->vcpus = (int32_t)v;
    if ((rc = vmmk__json_int64(o, p, "ram", VMMK_J_REQUIRED, 1, INT64_MAX, &v, NULL)))
        return rc;
    f->ram_mib = (uint64_t)v;
    if ((rc = vmmk__json_int64(o, p, "disk", VMMK_J_REQUIRED, 0, INT64_MAX, &v, NULL)))
        return rc;
    f->disk_gib = (uint64_t)v;
    if ((rc = read_swap(o, p, &f->swap_mib)))
        return rc;
    v = 0;
    if ((rc = vmmk__json_int64(o, p, K_EPHEMERAL, VMMK_J_NULLABLE, 0, INT64_MAX, &v, NULL)))
        return rc;
    f->ephemeral_gib = (uint64_t)v;
    if ((rc = vmmk__json_bool(o, p, K_DISABLED, VMMK_J_NULLABLE, &f->disabled, NULL)))
        return rc;
    if ((rc = vmmk__json_bool(o, p, K_PUBLIC, VMMK_J_NULLABLE, &f->is_public, &present)))
        return rc;
    if (!present)
        f->is_public = true; /* Nova's default: flavors are public unless marked */
    if ((rc = read_extra_specs(f, o, p)))
        return rc;
    f->raw_json = vmmk__json_dump(o, 0);
    return f->raw_json ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
}

typedef struct id_pos {
    const char *id;
    size_t pos;
} id_pos;

static int cmp_id_pos(const void *a, const void *b)
{
    const id_pos *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

/* Sorting rather than comparing every pair keeps a hostile document with a
 * million flavors from taking hours.  The duplicate reported is the one a
 * reader scanning the file meets first: the earliest second occurrence. */
static int check_duplicates(const vmmk_flavor_list *list, const char *path)
{
    if (list->n < 2)
        return 0;
    id_pos *v = malloc(list->n * sizeof *v);
    if (!v)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    for (size_t i = 0; i < list->n; i++) {
        v[i].id = list->items[i].id;
        v[i].pos = i;
    }
    qsort(v, list->n, sizeof *v, cmp_id_pos);
    size_t first = 0, second = SIZE_MAX;
    for (size_t k = 1; k < list->n; k++) {
        /* Only the second entry of a run of equal ids matters. */
        bool run_second = strcmp(v[k].id, v[k - 1].id) == 0 &&
                          (k < 2 || strcmp(v[k - 1].id, v[k - 2].id) != 0);
        if (run_second && v[k].pos < second) {
            second = v[k].pos;
            first = v[k - 1].pos;
        }
    }
    free(v);
    if (second == SIZE_MAX)
        return 0;
    return vmmk__err(VMMK_EINVAL, "%s[%zu].id: \"%s\" is used by %s[%zu] too", path, second,
                     list->items[second].id, path, first);
}

int vmmk_flavor_list_from_json(vmmk_flavor_list **out, const char *json, size_t len)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_flavor_list_from_json: out is NULL");
    *out = NULL;
    json_object *root;
    int rc = vmmk__json_parse(&root, json, len);
    if (rc)
        return rc;

    /* Both list shapes are reported as "flavors[i]" so that a message reads
     * the same whichever form the caller saved. */
    json_object *arr = NULL, *single = NULL;
    const char *path = "flavors";
    if (json_object_is_type(root, json_type_array)) {
        arr = root;
    } else if (json_object_is_type(root, json_type_object)) {
        if (json_object_object_get_ex(root, "flavors", NULL)) {
            rc = vmmk__json_array(root, "", "flavors", VMMK_J_REQUIRED, &arr);
        } else if (json_object_object_get_ex(root, "flavor", NULL)) {
            rc = vmmk__json_object(root, "", "flavor", VMMK_J_REQUIRED, &single);
            path = "flavor";
        } else {
            rc = vmmk__err(VMMK_EINVAL, "document: expected {\"flavors\": [...]}, an array of "
                                        "flavors or {\"flavor\": {...}}");
        }
    } else {
        rc = vmmk__err(VMMK_EINVAL, "document: expected {\"flavors\": [...]}, an array of flavors "
                                    "or {\"flavor\": {...}}, got %s", vmmk__json_type_name(root));
    }

    vmmk_flavor_list *list = NULL;
    size_t count = single ? 1 : arr ? json_object_array_length(arr) : 0;
    if (!rc && !(list = calloc(1, sizeof *list)))
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    if (!rc && count && !(list->items = calloc(count, sizeof *list->items)))
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    char p[64];
    for (size_t i = 0; !rc && i < count; i++) {
        list->n++;
        if (single) {
            rc = vmmk__flavor_read(&list->items[i], single, path);
        } else {
            vmmk__json_index(p, sizeof p, path, i);
            rc = vmmk__flavor_read(&list->items[i], json_object_array_get_idx(arr, i), p);
        }
    }
    if (!rc)
        rc = check_duplicates(list, path);
    json_object_put(root);
    if (rc) {
        vmmk_flavor_list_free(list);
        return rc;
    }
    *out = list;
    return 0;
}

static int vmmk_flavor_list_from_json_cb(void *out, const char *text, size_t len)
{
    return vmmk_flavor_list_from_json(out, text, len);
}

int vmmk_flavor_list_from_file(vmmk_flavor_list **out, const char *path)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_flavor_list_from_file: out is NULL");
    *out = NULL;
    return vmmk__parse_file(path, vmmk_flavor_list_from_json_cb, out);
}

/* ---- writing ---------------------------------------------------------- */

#define ADD(obj, key, val)                                                                         \
    do {                                                                                           \
        json_object *v_ = (val);                                                                   \
        if (!v_ || json_object_object_add((obj), (key), v_)) {                                     \
            json_object_put(v_);                                                                   \
            goto nomem;                                                                            \
        }                                                                                          \
    } while (0)

/* Built in the shape of GET /flavors/detail so that a flavor read from
 * Nova and one made here (a proposal) look alike to the caller. */
static json_object *build_object(const vmmk_flavor *f)
{
    json_object *o = json_object_new_object(), *specs;
    if (!o)
        return NULL;
    if (vmmk__json_add_string(o, "id", f->id) || vmmk__json_add_string(o, "name", f->name))
        goto nomem;
    ADD(o, "vcpus", json_object_new_int(f->vcpus));
    ADD(o, "ram", json_object_new_int64((int64_t)f->ram_mib));
    ADD(o, "disk", json_object_new_int64((int64_t)f->disk_gib));
    ADD(o, "swap", json_object_new_int64((int64_t)f->swap_mib));
    ADD(o, K_EPHEMERAL, json_object_new_int64((int64_t)f->ephemeral_gib));
    ADD(o, K_DISABLED, json_object_new_boolean(f->disabled));
    ADD(o, K_PUBLIC, json_object_new_boolean(f->is_public));
    specs = json_object_new_object();
    ADD(o, "extra_specs", specs);
    for (size_t i = 0; f->extra_spec_keys && f->extra_spec_values && i < f->n_extra_specs; i++) {
        if (!f->extra_spec_keys[i])
            continue;
        if (vmmk__json_add_string(specs, f->extra_spec_keys[i], f->extra_spec_values[i]))
            goto nomem;
    }
    return o;
nomem:
    json_object_put(o);
    return NULL;
}

int vmmk__flavor_to_object(json_object **out, const vmmk_flavor *f)
{
    *out = NULL;
    if (f->raw_json) {
        int rc = vmmk__json_parse(out, f->raw_json, (size_t)-1);
        if (rc)
            return vmmk__err_prefix("flavor \"%s\": raw_json", f->name ? f->name : "");
        return 0;
    }
    *out = build_object(f);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory writing flavor JSON");
}

int vmmk_flavor_to_json(char **out, const vmmk_flavor *flavor, unsigned flags)
{
    if (!out || !flavor)
        return vmmk__err(VMMK_EINVAL, "vmmk_flavor_to_json: %s is NULL", out ? "flavor" : "out");
    *out = NULL;
    json_object *o;
    int rc = vmmk__flavor_to_object(&o, flavor);
    if (rc)
        return rc;
    char *s = vmmk__json_dump(o, flags);
    json_object_put(o);
    if (!s)
        return vmmk__err(VMMK_ENOMEM, "out of memory writing flavor JSON");
    *out = s;
    return 0;
}
