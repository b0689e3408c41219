/* libFuzzer target: the extent list reader (vmmk copy --extents). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmmk/vmmk.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmmk_extent_list *l = NULL, *again = NULL;
    if (vmmk_extent_list_from_json(&l, (const char *)data, size, (uint64_t)1 << 40) == 0) {
        /* Accepted lists are sorted, disjoint, within bounds, and round-trip. */
        for (size_t i = 0; i < l->n; i++) {
            if (l->items[i].length == 0 || l->items[i].offset + l->items[i].length > ((uint64_t)1 << 40))
                abort();
            if (i && l->items[i - 1].offset + l->items[i - 1].length >= l->items[i].offset)
                abort();
        }
        char *json = NULL;
        if (vmmk_extent_list_to_json(&json, l) != 0 ||
            vmmk_extent_list_from_json(&again, json, strlen(json), (uint64_t)1 << 40) != 0 || again->n != l->n)
            abort();
        vmmk_string_free(json);
        vmmk_extent_list_free(again);
    }
    vmmk_extent_list_free(l);
    return 0;
}
