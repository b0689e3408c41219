/* Internal interface of a vSphere session, for the parts built on it
 * (inventory, VM description, snapshots, CBT, power, datastore). */
#ifndef VMMK_VSPHERE_SESSION_H
#define VMMK_VSPHERE_SESSION_H

#include <pthread.h>
#include <vmmk/vsphere.h>

#include "../common/http.h"
#include "soap.h"

struct vmmk_vsphere {
    pthread_mutex_t lock;      /* one call at a time on the HTTP handle */
    vmmk__http *http;
    char *server;              /* as shown in messages: "host:port" */
    char *user;
    char *password;
    bool logged_in;
    unsigned relogins;
    /* ServiceContent */
    char *root_folder, *property_collector, *view_manager, *session_manager;
    char *search_index, *file_manager, *virtual_disk_manager;
    vmmk_vsphere_about_info about;
};

/* Call @p method with the vim25 body fragment @p body (the request element
 * with its arguments) and parse the reply into @p out.  A NotAuthenticated
 * fault (or missingSet) on a logged-in session logs in again once and
 * retries, because long migrations outlive sessions.  Errors carry the
 * fault type and the server name. */
int vmmk__vs_call(vmmk_vsphere *vs, const char *method, const char *body, vmmk__soap_response *out);

/* "<_this type=\"TYPE\">MOREF</_this>" appended, escaped. */
void vmmk__vs_this(struct vmmk__buf *b, const char *type, const char *moref);

/* Log out on the server only, keeping the client's state: lets tests
 * reproduce a session that expired behind the client's back. */
int vmmk__vs_logout_server_only(vmmk_vsphere *vs);

/* Read one property of one object (RetrieveProperties); new string. */
int vmmk__vs_get_string(char **out, vmmk_vsphere *vs, const char *type, const char *moref,
                        const char *property);

#endif
