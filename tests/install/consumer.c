/* Built against the installed tree with pkg-config only. */
#include <stdio.h>
#include <string.h>
#include <vmmk/vmmk.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    vmmk_vm *vm = NULL;
    vmmk_flavor_list *flavors = NULL;
    vmmk_flavor_choice *choice = NULL;
    if (vmmk_vm_from_file(&vm, argv[1]) || vmmk_flavor_list_from_file(&flavors, argv[2])) {
        fprintf(stderr, "error: %s\n", vmmk_error_last()->message);
        return 1;
    }
    vmmk_flavor_requirements req = VMMK_FLAVOR_REQUIREMENTS_INIT;
    if (vmmk_flavor_requirements_from_vm(&req, vm) || vmmk_flavor_match(&choice, flavors, &req)) {
        fprintf(stderr, "error: %s\n", vmmk_error_last()->message);
        return 1;
    }
    printf("libvmmk %s: %s -> %s\n", vmmk_version(), vm->name, choice->flavor->name);
    vmmk_flavor_choice_free(choice);
    vmmk_flavor_list_free(flavors);
    vmmk_vm_free(vm);
    return 0;
}
