/* Internal VM-model helpers shared with the other parts. */
#ifndef VMMK_MODEL_INTERNAL_H
#define VMMK_MODEL_INTERNAL_H

#include <vmmk/vm.h>

void vmmk__disk_clear(vmmk_disk *d);
void vmmk__nic_clear(vmmk_nic *n);
/* "\"bios\" or \"efi\"" etc. for messages: 0 firmware, 1 power, 2 controller, 3 adapter. */
const char *vmmk__enum_choices(int which);
/* 1 when @p ip is "ADDR" or "ADDR/PREFIX" with a valid IPv4/IPv6 address
 * and prefix; *family gets 4 or 6.  @p addr (may be NULL) receives the
 * address part (size >= 46). */
int vmmk__ip_parse(const char *ip, int *family, char *addr, unsigned *prefix, int *has_prefix);

/* The VM as a json-c object (new reference), or NULL on allocation failure.
 * Used by other parts that embed the VM in their own documents. */
struct json_object;
struct json_object *vmmk__vm_to_object(const vmmk_vm *vm);

#endif
