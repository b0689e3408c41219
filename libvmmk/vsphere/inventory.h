/* Internal interface of the inventory (inventory.c, find.c) and VM
 * description (describe.c): PropertyCollector reply helpers, and the parsing steps
 * split from the calls so that tests can feed them recorded or synthetic
 * replies (vcsim never pages, has no guest IPs and no opaque networks). */
#ifndef VMMK_VSPHERE_INVENTORY_H
#define VMMK_VSPHERE_INVENTORY_H

#include <stdint.h>

#include "session.h"

/* The <val> of the propSet named @p name in an ObjectContent, or NULL
 * when the server sent no such property (unset values are left out). */
xmlNodePtr vmmk__vs_prop(xmlNodePtr object_content, const char *name);
/* Its text (new string), or NULL when absent. */
char *vmmk__vs_prop_text(xmlNodePtr object_content, const char *name);

/* vSphere escapes '%', '/' and '\' in entity names as %25, %2f and %5c;
 * undo that for display.  New string, or NULL for NULL / out of memory. */
char *vmmk__vs_unescape_name(const char *name);

/* When @p what names a VM moref ("vm-42", or "VirtualMachine:42" as ESXi
 * ids are plain numbers), its id ("vm-42", "42") as a new string; else NULL. */
char *vmmk__vs_vm_moref_id(const char *what);

/* A VirtualDisk device element's capacity in bytes: capacityInBytes, or
 * capacityInKB * 1024 when that is absent or 0 (vcsim, older hosts); 0
 * when neither is there. */
uint64_t vmmk__vs_disk_capacity(xmlNodePtr disk);

/* ---- listing --------------------------------------------------------- */

/* Pages of RetrieveResult folded into one list; folders and datacenters
 * are kept to build inventory paths at the end. */
typedef struct vmmk__vs_listing vmmk__vs_listing;
vmmk__vs_listing *vmmk__vs_listing_new(void);
void vmmk__vs_listing_free(vmmk__vs_listing *l);
/* Fold one RetrieveResult (the returnval of RetrievePropertiesEx or
 * ContinueRetrievePropertiesEx; NULL is an empty result) into @p l.
 * *token receives its token (new string) or NULL. */
int vmmk__vs_listing_add(vmmk__vs_listing *l, xmlNodePtr result, char **token);
/* Build the list, with paths computed below @p root_folder (the
 * ServiceContent rootFolder, which does not appear in paths). */
int vmmk__vs_listing_finish(vmmk_vm_summary_list **out, vmmk__vs_listing *l, const char *root_folder);

/* The page loop: fold @p first (a RetrievePropertiesEx reply, cleared
 * here), then, while a token comes back, call @p next with it and fold
 * that reply.  On a real session @p next is ContinueRetrievePropertiesEx;
 * tests pass recorded pages.  When the loop stops on an error while the
 * server still holds results, @p cancel (may be NULL) is called with the
 * pending token (CancelRetrievePropertiesEx).  A token repeated or more
 * than VMMK__VS_MAX_PAGES pages are VMMK_EREMOTE (a server that never
 * finishes).  @p server names the server in errors. */
#define VMMK__VS_MAX_PAGES 100000
typedef int (*vmmk__vs_page_fn)(vmmk__soap_response *out, const char *token, void *payload);
int vmmk__vs_listing_pages(vmmk__vs_listing *l, vmmk__soap_response *first, vmmk__vs_page_fn next,
                           vmmk__vs_page_fn cancel, void *payload, const char *server,
                           unsigned *pages);

/* ---- description ----------------------------------------------------- */

/* Build the VM model of @p moref from the body of a RetrieveProperties
 * reply holding the VM's properties (describe.c asks for them) and the
 * names of its datastores and networks.  The result is validated. */
int vmmk__vs_vm_from_reply(vmmk_vm **out, xmlNodePtr reply_body, const char *moref,
                           const char *server);

#endif
