/* libFuzzer target: the VM model reader (and writer, on what it accepts). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <vmmk/vmmk.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vmmk_vm *vm = NULL, *again = NULL;
    if (vmmk_vm_from_json(&vm, (const char *)data, size) == 0) {
        char *json = NULL;
        /* What was accepted must serialise and read back. */
        if (vmmk_vm_to_json(&json, vm, 0) != 0 || vmmk_vm_from_json(&again, json, strlen(json)) != 0)
            abort();
        vmmk_string_free(json);
        vmmk_vm_free(again);
    }
    vmmk_vm_free(vm);
    return 0;
}
