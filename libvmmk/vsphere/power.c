/* VM power: read the state, guest shutdown with a hard power-off
 * fallback, power on, wait for a state.  Reaching a state the VM is
 * already in is success: callers (a migration's cutover, a retry after a
 * crash) ask for an end state, not for a transition. */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"

#define SHUTDOWN_TIMEOUT 300u
#define ON_TIMEOUT 600u
#define WAIT_TIMEOUT 300u
#define TASK_TIMEOUT 600u

int vmmk_vsphere_power_get(vmmk_power_state *out, vmmk_vsphere *vs, const char *vm)
{
    if (!out || !vs || !vm || !*vm)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_power_get: %s", !out ? "out is NULL"
                                      : !vs ? "session is NULL" : "no VM given");
    char *text = NULL;
    int rc = vmmk__vs_get_string(&text, vs, "VirtualMachine", vm, "runtime.powerState");
    if (rc)
        return rc;
    if (vmmk_power_state_parse(out, text))
        rc = vmmk__err(VMMK_EPARSE, "vSphere %s: %s: unknown power state \"%s\"", vs->server, vm, text);
    free(text);
    return rc;
}

int vmmk_vsphere_power_wait(vmmk_vsphere *vs, const char *vm, vmmk_power_state state,
                            unsigned timeout_s)
{
    if (!timeout_s)
        timeout_s = WAIT_TIMEOUT;
    double deadline = vmmk__vs_now() + timeout_s, delay = 0.1;
    for (;;) {
        vmmk_power_state now;
        int rc = vmmk_vsphere_power_get(&now, vs, vm);
        if (rc)
            return rc;
        if (now == state)
            return 0;
        double left = deadline - vmmk__vs_now();
        if (left <= 0)
            return vmmk__err(VMMK_ETIMEOUT, "vSphere %s: %s is still %s after %u s (waiting for %s)",
                             vs->server, vm, vmmk_power_state_name(now), timeout_s,
                             vmmk_power_state_name(state));
        delay = vmmk__vs_backoff(delay < left ? delay : left, 2.0);
    }
}

/* PowerOnVM_Task / PowerOffVM_Task.  InvalidPowerState is success when
 * the VM has meanwhile reached @p want (someone else, or the guest, got
 * there first). */
static int power_task(vmmk_vsphere *vs, const char *vm, const char *method, vmmk_power_state want)
{
    vmmk__buf b = { 0 };
    vmmk__buf_printf(&b, "<%s xmlns=\"urn:vim25\">", method);
    vmmk__vs_this(&b, "VirtualMachine", vm);
    vmmk__buf_printf(&b, "</%s>", method);
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    int rc = vmmk__vs_task_call(NULL, vs, method, body, TASK_TIMEOUT);
    free(body);
    if (rc == VMMK_ESTATE) {
        vmmk_power_state now;
        char *msg = vmmk__strdup(vmmk_error_last()->message);
        char *fault = vmmk__strdup(vmmk_error_last()->fault);
        if (vmmk_vsphere_power_get(&now, vs, vm) == 0 && now == want) {
            vmmk__log(VMMK_LOG_INFO, "vSphere %s: %s is %s already (%s)", vs->server, vm,
                      vmmk_power_state_name(want), msg ? msg : method);
            rc = 0;
        } else {
            /* The task's own error is the one to report. */
            rc = vmmk__err_full(VMMK_ESTATE, fault, NULL, 0, 0, "%s", msg ? msg : method);
        }
        free(msg);
        free(fault);
    }
    return rc;
}

/* Faults after which a hard power-off is the answer: the guest cannot be
 * asked (no Tools: ToolsUnavailable, InvalidState, NotSupported, ...).
 * Not transport or authentication errors: those would fail the same way. */
static bool guest_refused(int rc)
{
    const vmmk_error *e = vmmk_error_last();
    return e->fault && rc != VMMK_EAUTH && rc != VMMK_ENOMEM;
}

int vmmk_vsphere_power_off(vmmk_vsphere_power_how *out, vmmk_vsphere *vs, const char *vm,
                           bool hard, unsigned timeout_s)
{
    if (out)
        *out = VMMK_VSPHERE_POWER_ALREADY;
    if (!timeout_s)
        timeout_s = SHUTDOWN_TIMEOUT;
    vmmk_power_state st;
    int rc = vmmk_vsphere_power_get(&st, vs, vm);
    if (rc)
        return rc;
    if (st == VMMK_POWER_OFF) {
        vmmk__log(VMMK_LOG_INFO, "vSphere %s: %s is powered off already", vs->server, vm);
        return 0;
    }
    if (hard || st == VMMK_POWER_SUSPENDED) {
        /* A suspended guest cannot run its shutdown: powering off drops the
         * saved memory, the disks stay as they were at the suspend. */
        if (!hard)
            vmmk__log(VMMK_LOG_WARN, "vSphere %s: %s is suspended: powering it off (its memory "
                      "state is discarded)", vs->server, vm);
        if ((rc = power_task(vs, vm, "PowerOffVM_Task", VMMK_POWER_OFF)))
            return vmmk__err_prefix("powering off %s", vm);
        if (out)
            *out = VMMK_VSPHERE_POWER_TASK;
        return 0;
    }

    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "<ShutdownGuest xmlns=\"urn:vim25\">");
    vmmk__vs_this(&b, "VirtualMachine", vm);
    vmmk__buf_puts(&b, "</ShutdownGuest>");
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    vmmk__soap_response r;
    rc = vmmk__vs_call(vs, "ShutdownGuest", body, &r);
    free(body);
    char *why = NULL;
    if (rc == 0) {
        vmmk__soap_response_clear(&r);
        rc = vmmk_vsphere_power_wait(vs, vm, VMMK_POWER_OFF, timeout_s);
        if (rc == 0) {
            vmmk__log(VMMK_LOG_INFO, "vSphere %s: %s shut down by its guest", vs->server, vm);
            if (out)
                *out = VMMK_VSPHERE_POWER_GUEST;
            return 0;
        }
        if (rc != VMMK_ETIMEOUT)
            return rc;
        why = vmmk__asprintf("the guest did not shut down within %u s", timeout_s);
    } else if (rc == VMMK_ESTATE && vmmk_vsphere_power_get(&st, vs, vm) == 0 &&
               st == VMMK_POWER_OFF) {
        return 0;              /* it went off on its own meanwhile */
    } else if (guest_refused(rc)) {
        why = vmmk__asprintf("the guest could not be asked to shut down (%s)",
                             vmmk_error_last()->message);
    } else {
        return rc;
    }
    vmmk__log(VMMK_LOG_WARN, "vSphere %s: %s: %s; powering it off", vs->server, vm,
              why ? why : "guest shutdown failed");
    free(why);
    if ((rc = power_task(vs, vm, "PowerOffVM_Task", VMMK_POWER_OFF)))
        return vmmk__err_prefix("powering off %s after guest shutdown failed", vm);
    if (out)
        *out = VMMK_VSPHERE_POWER_FALLBACK;
    return 0;
}

int vmmk_vsphere_power_on(vmmk_vsphere_power_how *out, vmmk_vsphere *vs, const char *vm,
                          unsigned timeout_s)
{
    if (out)
        *out = VMMK_VSPHERE_POWER_ALREADY;
    if (!timeout_s)
        timeout_s = ON_TIMEOUT;
    vmmk_power_state st;
    int rc = vmmk_vsphere_power_get(&st, vs, vm);
    if (rc)
        return rc;
    if (st == VMMK_POWER_ON) {
        vmmk__log(VMMK_LOG_INFO, "vSphere %s: %s is powered on already", vs->server, vm);
        return 0;
    }
    if ((rc = power_task(vs, vm, "PowerOnVM_Task", VMMK_POWER_ON)))
        return vmmk__err_prefix("powering on %s", vm);
    /* On a cluster the task may end before the VM reports poweredOn. */
    if ((rc = vmmk_vsphere_power_wait(vs, vm, VMMK_POWER_ON, timeout_s)))
        return rc;
    if (out)
        *out = VMMK_VSPHERE_POWER_TASK;
    vmmk__log(VMMK_LOG_INFO, "vSphere %s: %s powered on", vs->server, vm);
    return 0;
}
