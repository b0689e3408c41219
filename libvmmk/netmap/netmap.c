/* Network map reader (docs/network-mapping.md).  The reader is strict:
 * unknown keys and empty strings are errors, because a misspelt option
 * ("subnett") that is silently ignored produces ports on the wrong subnet
 * with nobody noticing until the guest is unreachable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "netmap_int.h"

/* Bounds against hostile documents; far above any real map. */
#define MAX_ENTRIES 4096
#define MAX_GROUPS 256

static const char *const top_keys[] = { "map", "default", "security_groups", "fixed_ips" };
static const char *const entry_keys[] = { "network", "subnet", "security_groups", "fixed_ips" };
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void free_list(char **list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(list[i]);
    free(list);
}

static void entry_clear(vmmk__netmap_entry *e)
{
    free(e->key);
    free(e->network);
    free(e->subnet);
    free_list(e->security_groups, e->n_security_groups);
    memset(e, 0, sizeof *e);
}

void vmmk_netmap_free(vmmk_netmap *map)
{
    if (!map)
        return;
    for (size_t i = 0; i < map->n_entries; i++)
        entry_clear(&map->entries[i]);
    free(map->entries);
    free(map->default_network);
    free_list(map->security_groups, map->n_security_groups);
    free(map);
}

/* `map["KEY"]`, with '"' and '\' escaped so the path reads back as JSON. */
static void entry_path(char *buf, size_t size, const char *key)
{
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "map[\"");
    for (const char *p = key; *p; p++) {
        if (*p == '"' || *p == '\\')
            vmmk__buf_append(&b, "\\", 1);
        vmmk__buf_append(&b, p, 1);
    }
    vmmk__buf_puts(&b, "\"]");
    char *s = vmmk__buf_take(&b);
    snprintf(buf, size, "%s", s ? s : "map[...]");
    free(s);
}

/* Every member of @p o must be one of @p allowed; all strangers are named
 * in one message so that a document with two typos needs one fix round. */
static int check_keys(json_object *o, const char *path, const char *const *allowed, size_t n)
{
    vmmk__buf bad = { 0 };
    size_t n_bad = 0;
    json_object_object_foreach(o, member, value_unused) {
        (void)value_unused;
        size_t i = 0;
        while (i < n && strcmp(member, allowed[i]) != 0)
            i++;
        if (i < n)
            continue;
        vmmk__buf_printf(&bad, "%s%s%s%s", n_bad ? ", " : "", path, *path ? "." : "", member);
        n_bad++;
    }
    if (!n_bad)
        return 0;
    vmmk__buf want = { 0 };
    for (size_t i = 0; i < n; i++)
        vmmk__buf_printf(&want, "%s%s", i ? ", " : "", allowed[i]);
    char *b = vmmk__buf_take(&bad), *w = vmmk__buf_take(&want);
    int rc = b && w ? vmmk__err(VMMK_EINVAL, "%s: unknown key%s (expected %s)", b,
                                n_bad > 1 ? "s" : "", w)
                    : vmmk__err(VMMK_ENOMEM, "out of memory");
    free(b);
    free(w);
    return rc;
}

/* An optional or required string that must not be "". */
static int read_name(const json_object *o, const char *path, const char *key, unsigned flags,
                     char **out)
{
    int rc = vmmk__json_string(o, path, key, flags, out, NULL);
    if (rc || !*out || **out)
        return rc;
    free(*out);
    *out = NULL;
    char p[512];
    vmmk__json_path(p, sizeof p, path, key);
    return vmmk__err(VMMK_EINVAL, "%s: must not be empty", p);
}

/* A list of non-empty strings; repeats are dropped (Neutron would take the
 * group once anyway).  *present tells an explicit [] from an absent list. */
static int read_groups(const json_object *o, const char *path, char ***out, size_t *n_out,
                       bool *present)
{
    json_object *arr;
    *out = NULL;
    *n_out = 0;
    *present = false;
    int rc = vmmk__json_array(o, path, "security_groups", VMMK_J_NULLABLE, &arr);
    if (rc || !arr)
        return rc;
    *present = true;
    char p[512];
    vmmk__json_path(p, sizeof p, path, "security_groups");
    size_t count = json_object_array_length(arr);
    if (count > MAX_GROUPS)
        return vmmk__err(VMMK_EINVAL, "%s: more than %d entries", p, MAX_GROUPS);
    if (!count)
        return 0;
    char **list = calloc(count, sizeof *list);
    if (!list)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        json_object *e = json_object_array_get_idx(arr, i);
        if (!json_object_is_type(e, json_type_string)) {
            rc = vmmk__err(VMMK_EINVAL, "%s[%zu]: expected string, got %s", p, i,
                           vmmk__json_type_name(e));
            goto fail;
        }
        const char *s = json_object_get_string(e);
        if (!*s) {
            rc = vmmk__err(VMMK_EINVAL, "%s[%zu]: must not be empty", p, i);
            goto fail;
        }
        size_t j = 0;
        while (j < n && strcmp(list[j], s) != 0)
            j++;
        if (j < n)
            continue;
        if (!(list[n] = strdup(s))) {
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
            goto fail;
        }
        n++;
    }
    *out = list;
    *n_out = n;
    return 0;
fail:
    free_list(list, n);
    return rc;
}

static int read_entry(vmmk__netmap_entry *e, const char *key, json_object *v)
{
    char p[512];
    entry_path(p, sizeof p, key);
    if (!(e->key = strdup(key)))
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    e->fixed_ips = VMMK__FIXED_IPS_INHERIT;
    if (!*key)
        return vmmk__err(VMMK_EINVAL, "%s: a key must not be empty", p);
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        if (!*s)
            return vmmk__err(VMMK_EINVAL, "%s: must not be empty", p);
        return (e->network = strdup(s)) ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    if (!json_object_is_type(v, json_type_object))
        return vmmk__err(VMMK_EINVAL, "%s: expected string or object, got %s", p,
                         vmmk__json_type_name(v));
    int rc;
    if ((rc = check_keys(v, p, entry_keys, N_OF(entry_keys))) ||
        (rc = read_name(v, p, "network", VMMK_J_REQUIRED, &e->network)) ||
        (rc = read_name(v, p, "subnet", VMMK_J_NULLABLE, &e->subnet)) ||
        (rc = read_groups(v, p, &e->security_groups, &e->n_security_groups,
                          &e->has_security_groups)))
        return rc;
    bool b = false, present = false;
    if ((rc = vmmk__json_bool(v, p, "fixed_ips", VMMK_J_NULLABLE, &b, &present)))
        return rc;
    if (present)
        e->fixed_ips = b ? 1 : 0;
    return 0;
}

static int read_map(vmmk_netmap *map, json_object *root)
{
    int rc;
    if ((rc = vmmk__json_expect_object(root, "")) ||
        (rc = check_keys(root, "", top_keys, N_OF(top_keys))))
        return rc;
    json_object *m;
    if ((rc = vmmk__json_object(root, "", "map", VMMK_J_REQUIRED, &m)) ||
        (rc = read_name(root, "", "default", VMMK_J_NULLABLE, &map->default_network)))
        return rc;
    bool present;
    if ((rc = read_groups(root, "", &map->security_groups, &map->n_security_groups, &present)))
        return rc;
    map->fixed_ips = true;
    if ((rc = vmmk__json_bool(root, "", "fixed_ips", VMMK_J_NULLABLE, &map->fixed_ips, NULL)))
        return rc;

    size_t count = (size_t)json_object_object_length(m);
    if (count == 0 && !map->default_network)
        return vmmk__err(VMMK_EINVAL, "map: empty and no default");
    if (count > MAX_ENTRIES)
        return vmmk__err(VMMK_EINVAL, "map: more than %d entries", MAX_ENTRIES);
    if (count && !(map->entries = calloc(count, sizeof *map->entries)))
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    json_object_object_foreach(m, key, value) {
        /* Counted before reading so that a failed entry is freed too. */
        vmmk__netmap_entry *e = &map->entries[map->n_entries++];
        if ((rc = read_entry(e, key, value)))
            return rc;
    }
    return 0;
}

int vmmk_netmap_from_json(vmmk_netmap **out, const char *json, size_t len)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_netmap_from_json: out is NULL");
    *out = NULL;
    json_object *root;
    int rc = vmmk__json_parse(&root, json, len);
    if (rc)
        return rc;
    vmmk_netmap *map = calloc(1, sizeof *map);
    if (!map) {
        json_object_put(root);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    rc = read_map(map, root);
    json_object_put(root);
    if (rc) {
        vmmk_netmap_free(map);
        return rc;
    }
    *out = map;
    return 0;
}

static int vmmk_netmap_from_json_cb(void *out, const char *text, size_t len)
{
    return vmmk_netmap_from_json(out, text, len);
}

int vmmk_netmap_from_file(vmmk_netmap **out, const char *path)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_netmap_from_file: out is NULL");
    *out = NULL;
    return vmmk__parse_file(path, vmmk_netmap_from_json_cb, out);
}
