/* libFuzzer target: the Nova flavor list reader and the matcher on it. */
#include <stdint.h>
#include <stdlib.h>

#include <vmmk/vmmk.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmmk_flavor_list *list = NULL;
    if (vmmk_flavor_list_from_json(&list, (const char *)data, size) == 0) {
        vmmk_flavor_requirements req = VMMK_FLAVOR_REQUIREMENTS_INIT;
        req.vcpus = 2;
        req.ram_mib = 4096;
        req.disk_gib = 40;
        vmmk_flavor_choice *choice = NULL;
        int rc = vmmk_flavor_match(&choice, list, &req);
        if (rc != 0 && rc != VMMK_ENOFIT)
            abort();
        char *json = NULL;
        if (choice && vmmk_flavor_choice_to_json(&json, choice, 0) != 0)
            abort();
        vmmk_string_free(json);
        vmmk_flavor_choice_free(choice);
        for (size_t i = 0; i < list->n; i++) {
            if (vmmk_flavor_to_json(&json, &list->items[i], 0) != 0)
                abort();
            vmmk_string_free(json);
        }
    }
    vmmk_flavor_list_free(list);
    return 0;
}
