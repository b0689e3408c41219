/* Extent lists: `[[offset, length], ...]` as printed by `vmmk cbt query`
 * and read by `vmmk copy --extents FILE` (docs/disk-copier-state.md).
 *
 * Errors name an entry by its index in the input, also after sorting, so
 * that a user can find it in the file they wrote. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "copier_int.h"

/* A bound against hostile input; far beyond what CBT returns for any disk
 * (and the 64 MiB document limit usually bites first). */
#define MAX_EXTENTS (16u * 1024u * 1024u)

/* Offsets and lengths are byte positions on an NBD export, whose size is a
 * signed 64-bit number. */
#define MAX_POSITION ((uint64_t)INT64_MAX)

void vmmk_extent_list_free(vmmk_extent_list *list)
{
    if (!list)
        return;
    free(list->items);
    free(list);
}

/* ---- normalising ------------------------------------------------------- */

typedef struct indexed {
    uint64_t offset, length;
    size_t index;              /* position in the input */
} indexed;

static int cmp_indexed(const void *a, const void *b)
{
    const indexed *x = a, *y = b;
    if (x->offset != y->offset)
        return x->offset < y->offset ? -1 : 1;
    /* Equal offsets: input order, so that the later entry is the one
     * reported as overlapping the earlier. */
    return x->index < y->index ? -1 : x->index > y->index;
}

/* The checks that do not depend on the other entries, in input order. */
static int check_entry(const vmmk_extent *e, size_t i, uint64_t disk_size)
{
    if (e->length == 0)
        return vmmk__err(VMMK_EINVAL, "[%zu]: length 0 is empty", i);
    if (e->offset > MAX_POSITION || e->length > MAX_POSITION - e->offset)
        return vmmk__err(VMMK_EINVAL,
                         "[%zu]: offset %" PRIu64 " + length %" PRIu64
                         " overflows (the largest end is %" PRIu64 ")",
                         i, e->offset, e->length, MAX_POSITION);
    uint64_t end = e->offset + e->length;
    if (disk_size != 0 && end > disk_size)
        return vmmk__err(VMMK_EINVAL, "[%zu]: ends at %" PRIu64 ", past the disk size %" PRIu64,
                         i, end, disk_size);
    return 0;
}

int vmmk__extents_normalize(vmmk_extent_list *list, uint64_t disk_size)
{
    if (!list)
        return vmmk__err(VMMK_EINVAL, "extent list is NULL");
    if (list->n == 0)
        return 0;
    if (!list->items)
        return vmmk__err(VMMK_EINVAL, "extent list has %zu entries but no items", list->n);
    if (list->n > MAX_EXTENTS)
        return vmmk__err(VMMK_EINVAL, "%zu extents are more than the limit of %u", list->n,
                         MAX_EXTENTS);
    int rc;
    for (size_t i = 0; i < list->n; i++)
        if ((rc = check_entry(&list->items[i], i, disk_size)))
            return rc;

    indexed *v = malloc(list->n * sizeof *v);
    if (!v)
        return vmmk__err(VMMK_ENOMEM, "out of memory sorting %zu extents", list->n);
    for (size_t i = 0; i < list->n; i++)
        v[i] = (indexed){ list->items[i].offset, list->items[i].length, i };
    qsort(v, list->n, sizeof *v, cmp_indexed);

    /* Since nothing may overlap, the previous sorted entry is always the
     * one that reaches furthest, so it is the one to name. */
    for (size_t k = 1; k < list->n; k++) {
        uint64_t prev_end = v[k - 1].offset + v[k - 1].length;
        if (v[k].offset < prev_end) {
            rc = vmmk__err(VMMK_EINVAL, "[%zu]: overlaps [%zu] (offset %" PRIu64 " < %" PRIu64 ")",
                           v[k].index, v[k - 1].index, v[k].offset, prev_end);
            free(v);
            return rc;
        }
    }

    size_t n = 0;
    for (size_t k = 0; k < list->n; k++) {
        if (n > 0 && list->items[n - 1].offset + list->items[n - 1].length == v[k].offset)
            list->items[n - 1].length += v[k].length;
        else
            list->items[n++] = (vmmk_extent){ v[k].offset, v[k].length };
    }
    free(v);
    if (n < list->n) {
        vmmk_extent *shrunk = realloc(list->items, n * sizeof *shrunk);
        if (shrunk)            /* keeping the larger block is harmless */
            list->items = shrunk;
        list->n = n;
    }
    return 0;
}

/* ---- reading ----------------------------------------------------------- */

/* One integer of an entry; @p which is 0 for the offset, 1 for the length. */
static int read_number(uint64_t *out, json_object *v, size_t i, int which)
{
    if (!v || !json_object_is_type(v, json_type_int))
        return vmmk__err(VMMK_EINVAL, "[%zu][%d]: expected integer, got %s", i, which,
                         v ? vmmk__json_type_name(v) : "null");
    /* json-c saturates what does not fit: INT64_MAX from get_int64 with a
     * larger unsigned value means the text was beyond the limit. */
    int64_t x = json_object_get_int64(v);
    if (x < 0)
        return vmmk__err(VMMK_EINVAL, "[%zu][%d]: %" PRId64 " is negative", i, which, x);
    if (x == INT64_MAX && json_object_get_uint64(v) > MAX_POSITION)
        return vmmk__err(VMMK_EINVAL, "[%zu][%d]: too large (the largest is %" PRIu64 ")", i,
                         which, MAX_POSITION);
    *out = (uint64_t)x;
    return 0;
}

static int read_list(vmmk_extent_list *list, json_object *root)
{
    if (!root || !json_object_is_type(root, json_type_array))
        return vmmk__err(VMMK_EINVAL, "expected an array of [offset, length], got %s",
                         root ? vmmk__json_type_name(root) : "null");
    size_t count = json_object_array_length(root);
    if (count > MAX_EXTENTS)
        return vmmk__err(VMMK_EINVAL, "%zu extents are more than the limit of %u", count,
                         MAX_EXTENTS);
    if (count == 0)
        return 0;
    list->items = malloc(count * sizeof *list->items);
    if (!list->items)
        return vmmk__err(VMMK_ENOMEM, "out of memory reading %zu extents", count);
    for (size_t i = 0; i < count; i++) {
        json_object *e = json_object_array_get_idx(root, i);
        if (!e || !json_object_is_type(e, json_type_array))
            return vmmk__err(VMMK_EINVAL, "[%zu]: expected [offset, length], got %s", i,
                             e ? vmmk__json_type_name(e) : "null");
        size_t k = json_object_array_length(e);
        if (k != 2)
            return vmmk__err(VMMK_EINVAL, "[%zu]: expected [offset, length], got an array of %zu",
                             i, k);
        int rc;
        vmmk_extent *x = &list->items[i];
        if ((rc = read_number(&x->offset, json_object_array_get_idx(e, 0), i, 0)) ||
            (rc = read_number(&x->length, json_object_array_get_idx(e, 1), i, 1)))
            return rc;
        list->n++;
    }
    return 0;
}

int vmmk_extent_list_from_json(vmmk_extent_list **out, const char *json, size_t len,
                               uint64_t disk_size)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_extent_list_from_json: out is NULL");
    *out = NULL;
    json_object *root;
    int rc = vmmk__json_parse(&root, json, len);
    if (rc)
        return rc;
    vmmk_extent_list *list = calloc(1, sizeof *list);
    if (!list) {
        json_object_put(root);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    rc = read_list(list, root);
    /* The tree costs far more than the list: drop it before sorting. */
    json_object_put(root);
    if (!rc)
        rc = vmmk__extents_normalize(list, disk_size);
    if (rc) {
        vmmk_extent_list_free(list);
        return rc;
    }
    *out = list;
    return 0;
}

typedef struct file_ctx {
    vmmk_extent_list **out;
    uint64_t disk_size;
} file_ctx;

static int from_file_cb(void *ctx, const char *text, size_t len)
{
    file_ctx *c = ctx;
    return vmmk_extent_list_from_json(c->out, text, len, c->disk_size);
}

int vmmk_extent_list_from_file(vmmk_extent_list **out, const char *path, uint64_t disk_size)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "vmmk_extent_list_from_file: out is NULL");
    *out = NULL;
    if (!path)
        return vmmk__err(VMMK_EINVAL, "vmmk_extent_list_from_file: path is NULL");
    file_ctx c = { out, disk_size };
    return vmmk__parse_file(path, from_file_cb, &c);
}

/* ---- writing ----------------------------------------------------------- */

/* Written by hand rather than through json-c: a list can hold millions of
 * entries, and a json-c tree costs a few hundred bytes for each.  One entry
 * per line keeps the file readable and friendly to diff and grep. */
int vmmk_extent_list_to_json(char **out, const vmmk_extent_list *list)
{
    if (!out || !list)
        return vmmk__err(VMMK_EINVAL, "vmmk_extent_list_to_json: %s is NULL", out ? "list" : "out");
    *out = NULL;
    if (list->n && !list->items)
        return vmmk__err(VMMK_EINVAL, "extent list has %zu entries but no items", list->n);
    vmmk__buf b = { 0 };
    if (list->n == 0) {
        vmmk__buf_puts(&b, "[]\n");
    } else {
        vmmk__buf_puts(&b, "[\n");
        for (size_t i = 0; i < list->n; i++) {
            char line[64];
            int m = snprintf(line, sizeof line, "  [%" PRIu64 ", %" PRIu64 "]%s\n",
                             list->items[i].offset, list->items[i].length,
                             i + 1 < list->n ? "," : "");
            vmmk__buf_append(&b, line, (size_t)m);
        }
        vmmk__buf_puts(&b, "]\n");
    }
    char *s = vmmk__buf_take(&b);
    if (!s)
        return vmmk__err(VMMK_ENOMEM, "out of memory writing %zu extents", list->n);
    *out = s;
    return 0;
}
