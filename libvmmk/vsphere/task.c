/* vSphere tasks: wait for a Task by polling its TaskInfo, and the property
 * reads the other operations (snapshot.c, cbt.c, power.c) share.
 *
 * Polling with RetrieveProperties rather than WaitForUpdatesEx: one
 * stateless call per poll, nothing to clean up on the server when the
 * caller gives up, and none of vcsim's WaitForUpdatesEx quirks (a version
 * that is always "-"; docs/vcsim.md).  The backoff starts at 0.1 s, so a
 * short task (vcsim's are synchronous, most vCenter ones take a second)
 * costs one or two polls, and stops growing at 2 s, so a long one
 * (consolidation) costs one small call every 2 s. */
#include "inventory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/internal.h"

#define BACKOFF_MIN 0.1
#define BACKOFF_MAX 2.0
#define MAX_TRANSIENT 5         /* polls in a row lost to the network */

double vmmk__vs_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double vmmk__vs_backoff(double seconds, double max)
{
    if (seconds > 0) {
        struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
            ;
    }
    double next = seconds * 2;
    return next > max ? max : next;
}

int vmmk__vs_props(vmmk__soap_response *r, xmlNodePtr *obj, vmmk_vsphere *vs, const char *type,
                   const char *moref, const char *const *paths)
{
    *obj = NULL;
    memset(r, 0, sizeof *r);
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<RetrieveProperties xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "PropertyCollector", vs->property_collector);
    vmmk__buf_puts(&b, "<specSet><propSet><type>");
    vmmk__xml_escape(&b, type);
    vmmk__buf_puts(&b, "</type>");
    for (size_t i = 0; paths && paths[i]; i++) {
        vmmk__buf_puts(&b, "<pathSet>");
        vmmk__xml_escape(&b, paths[i]);
        vmmk__buf_puts(&b, "</pathSet>");
    }
    vmmk__buf_puts(&b, "</propSet><objectSet><obj type=\"");
    vmmk__xml_escape(&b, type);
    vmmk__buf_puts(&b, "\">");
    vmmk__xml_escape(&b, moref);
    vmmk__buf_puts(&b, "</obj></objectSet></specSet></RetrieveProperties>");
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    int rc = vmmk__vs_call(vs, "RetrieveProperties", body, r);
    free(body);
    if (rc)
        return rc;
    *obj = vmmk__xml_child(r->body, "returnval");
    if (!*obj) {
        vmmk__soap_response_clear(r);
        return vmmk__err(VMMK_ENOTFOUND, "vSphere %s: %s %s: no such object", vs->server, type, moref);
    }
    return 0;
}

/* "task-70 (VirtualMachine.powerOn on vm-57)" from a TaskInfo. */
static char *describe(vmmk_vsphere *vs, const char *task, xmlNodePtr info)
{
    char *op = vmmk__xml_child_text(info, "descriptionId");
    if (!op || !*op) {
        free(op);
        op = vmmk__xml_child_text(info, "name");
    }
    char *ent = vmmk__xml_child_text(info, "entityName");
    if (!ent || !*ent) {
        free(ent);
        ent = vmmk__xml_child_text(info, "entity");
    }
    char *s;
    if (op && ent && *ent)
        s = vmmk__asprintf("vSphere %s: %s (%s on %s)", vs->server, task, op, ent);
    else if (op)
        s = vmmk__asprintf("vSphere %s: %s (%s)", vs->server, task, op);
    else
        s = vmmk__asprintf("vSphere %s: %s", vs->server, task);
    free(op);
    free(ent);
    return s;
}

/* One poll.  Returns 1 while the task is queued or running, 0 on success
 * (with *result), or the task's error. */
static int poll_once(char **result, vmmk_vsphere *vs, const char *task, int *progress, char **what)
{
    static const char *const paths[] = { "info", NULL };
    vmmk__soap_response r;
    xmlNodePtr obj;
    int rc = vmmk__vs_props(&r, &obj, vs, "Task", task, paths);
    if (rc)
        return rc;
    xmlNodePtr info = vmmk__vs_prop(obj, "info");
    char *state = info ? vmmk__xml_child_text(info, "state") : NULL;
    if (info && !*what)
        *what = describe(vs, task, info);
    const char *w = *what ? *what : task;
    if (!state) {
        rc = vmmk__err(VMMK_EPARSE, "%s: TaskInfo without a state", w);
    } else if (strcmp(state, "success") == 0) {
        xmlNodePtr res = vmmk__xml_child(info, "result");
        char *type = res ? vmmk__xml_type(res) : NULL;
        char *mo_type = res ? vmmk__xml_attr(res, "type") : NULL;
        /* A ManagedObjectReference carries its type as an attribute. */
        if (res && result && (mo_type || (type && strcmp(type, "ManagedObjectReference") == 0)))
            *result = vmmk__xml_text(res);
        free(type);
        free(mo_type);
        rc = 0;
    } else if (strcmp(state, "error") == 0) {
        xmlNodePtr err = vmmk__xml_child(info, "error");
        rc = vmmk__soap_localized_fault(err, w);
    } else if (strcmp(state, "queued") == 0 || strcmp(state, "running") == 0) {
        long long pct = -1;
        bool present = false;
        if (vmmk__xml_child_int64(info, "progress", &pct, &present) == 0 && present &&
            pct != *progress) {
            vmmk__log(VMMK_LOG_DEBUG, "%s: %s, %lld%%", w, state, pct);
            *progress = (int)pct;
        }
        vmmk_error_clear();
        rc = 1;
    } else {
        rc = vmmk__err(VMMK_EPARSE, "%s: unknown task state \"%s\"", w, state);
    }
    free(state);
    vmmk__soap_response_clear(&r);
    return rc;
}

int vmmk__vs_task_wait(char **result, vmmk_vsphere *vs, const char *task, unsigned timeout_s)
{
    if (result)
        *result = NULL;
    if (!timeout_s)
        timeout_s = VMMK_VSPHERE_TASK_TIMEOUT;
    double deadline = vmmk__vs_now() + timeout_s, delay = BACKOFF_MIN;
    char *what = NULL;
    int progress = -1, rc, transient = 0;
    /* A poll lost to the network is retried (a few times in a row): the
     * task goes on on the server, and a consolidation polled for hours
     * must not fail on one dropped connection. */
    while ((rc = poll_once(result, vs, task, &progress, &what)) == 1 ||
           ((rc == VMMK_ENETWORK || rc == VMMK_ETIMEOUT) && ++transient <= MAX_TRANSIENT)) {
        if (rc == 1)
            transient = 0;
        else
            vmmk__log(VMMK_LOG_WARN, "%s: polling failed (%s); trying again", what ? what : task,
                      vmmk_error_last()->message);
        double left = deadline - vmmk__vs_now();
        if (left <= 0) {
            rc = vmmk__err(VMMK_ETIMEOUT,
                           "%s: still running after %u s (it goes on on the server; cancel it "
                           "there if it must stop)",
                           what ? what : task, timeout_s);
            break;
        }
        delay = vmmk__vs_backoff(delay < left ? delay : left, BACKOFF_MAX);
    }
    free(what);
    return rc;
}

int vmmk__vs_task_call(char **result, vmmk_vsphere *vs, const char *method, const char *body,
                       unsigned timeout_s)
{
    if (result)
        *result = NULL;
    vmmk__soap_response r;
    int rc = vmmk__vs_call(vs, method, body, &r);
    if (rc)
        return rc;
    char *task = vmmk__xml_child_text(r.body, "returnval");
    vmmk__soap_response_clear(&r);
    if (!task || !*task) {
        free(task);
        return vmmk__err(VMMK_EPARSE, "vSphere %s: %s: the reply names no task", vs->server, method);
    }
    vmmk__log(VMMK_LOG_DEBUG, "vSphere %s: %s started %s", vs->server, method, task);
    rc = vmmk__vs_task_wait(result, vs, task, timeout_s);
    free(task);
    return rc;
}

int vmmk_vsphere_task_wait(char **out, vmmk_vsphere *vs, const char *task, unsigned timeout_s)
{
    if (out)
        *out = NULL;
    if (!vs || !task || !*task)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_task_wait: %s", vs ? "no task given" : "session is NULL");
    return vmmk__vs_task_wait(out, vs, task, timeout_s);
}
