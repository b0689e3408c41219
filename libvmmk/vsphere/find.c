/* Find one VM by moref, inventory path, BIOS or instance UUID, or name,
 * with errors that say what was searched and what came close: the
 * one-call lookups (SearchIndex, a property read) first, the listing of
 * inventory.c for names and for suggestions (docs/vsphere.md). */
#include "inventory.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"

static bool is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return false;
    }
    return true;
}

/* Levenshtein distance, case-insensitive; long strings are not compared. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 256 || lb > 256)
        return (size_t)-1;
    size_t row[257];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t best = diag + cost;
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Append "; closest: \"a\", \"b\"" with up to 3 names (or paths) near @p what. */
static void append_closest(vmmk__buf *msg, const vmmk_vm_summary_list *list, const char *what, bool paths)
{
    enum { K = 3 };
    const char *best[K] = { NULL };
    size_t score[K];
    size_t limit = strlen(what) / 3 > 2 ? strlen(what) / 3 : 2;
    for (size_t i = 0; i < list->n; i++) {
        const char *cand = paths ? list->vms[i].path : list->vms[i].name;
        if (!cand)
            continue;
        size_t d = distance(what, cand);
        if (strcasestr(cand, what) || strcasestr(what, cand))
            d = d < 1 ? d : 1;   /* "web" suggests "vmmk-web" */
        if (d > limit)
            continue;
        for (int k = 0; k < K; k++) {
            if (best[k] && (score[k] < d || (score[k] == d && strcmp(best[k], cand) <= 0)))
                continue;
            for (int m = K - 1; m > k; m--) {
                best[m] = best[m - 1];
                score[m] = score[m - 1];
            }
            best[k] = cand;
            score[k] = d;
            break;
        }
    }
    for (int k = 0; k < K && best[k]; k++)
        vmmk__buf_printf(msg, "%s\"%s\"", k ? ", " : paths ? "; closest paths: " : "; closest: ", best[k]);
}

typedef enum lookup_kind { BY_NAME, BY_MOREF, BY_UUID, BY_PATH } lookup_kind;

static int not_found(vmmk_vsphere *vs, const vmmk_vm_summary_list *list, const char *what, lookup_kind kind)
{
    vmmk__buf msg = { 0 };
    switch (kind) {
    case BY_PATH: vmmk__buf_printf(&msg, "no VM at inventory path \"%s\"", what); break;
    case BY_UUID: vmmk__buf_printf(&msg, "no VM with BIOS or instance UUID %s, nor named so,", what); break;
    case BY_MOREF: vmmk__buf_printf(&msg, "no VM with moref %s, nor named so,", what); break;
    case BY_NAME: vmmk__buf_printf(&msg, "no VM named \"%s\"", what); break;
    }
    vmmk__buf_printf(&msg, " among %zu VM%s", list->n, list->n == 1 ? "" : "s");
    append_closest(&msg, list, what, kind == BY_PATH);
    char *m = vmmk__buf_take(&msg);
    int rc = vmmk__err(VMMK_ENOTFOUND, "vSphere %s: %s", vs->server, m ? m : what);
    free(m);
    return rc;
}

static int find_in_list(char **out, vmmk_vsphere *vs, const char *what, lookup_kind kind)
{
    vmmk_vm_summary_list *list = NULL;
    int rc = vmmk_vsphere_list_vms(&list, vs);
    if (rc)
        return vmmk__err_prefix("looking for VM \"%s\"", what);
    size_t hits = 0, first = 0;
    if (kind != BY_PATH) {
        for (size_t i = 0; i < list->n; i++) {
            if (strcmp(list->vms[i].name, what) == 0 && hits++ == 0)
                first = i;
        }
    }
    if (hits == 1) {
        *out = strdup(list->vms[first].moref);
        rc = *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
    } else if (hits > 1) {
        vmmk__buf msg = { 0 };
        for (size_t i = first, k = 0; i < list->n; i++) {
            const vmmk_vm_summary *s = &list->vms[i];
            if (strcmp(s->name, what) != 0)
                continue;
            vmmk__buf_printf(&msg, "%s%s (%s)", k++ ? ", " : "", s->path ? s->path : s->name, s->moref);
        }
        char *m = vmmk__buf_take(&msg);
        rc = vmmk__err(VMMK_ECONFLICT, "vSphere %s: %zu VMs are named \"%s\": %s; give an inventory "
                       "path or moref instead", vs->server, hits, what, m ? m : "");
        free(m);
    } else {
        rc = not_found(vs, list, what, kind);
    }
    vmmk_vm_summary_list_free(list);
    return rc;
}

/* A SearchIndex call; *out = the moref found (new string) or NULL, and
 * *type its type. */
static int search_index(char **out, char **type, vmmk_vsphere *vs, const char *method, const char *args)
{
    *out = *type = NULL;
    vmmk__buf b = { 0 };
    vmmk__buf_printf(&b, "<%s xmlns=\"urn:vim25\">", method);
    vmmk__vs_this(&b, "SearchIndex", vs->search_index);
    vmmk__buf_puts(&b, args);
    vmmk__buf_printf(&b, "</%s>", method);
    char *body = vmmk__buf_take(&b);
    if (!body)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    vmmk__soap_response r;
    int rc = vmmk__vs_call(vs, method, body, &r);
    free(body);
    if (rc)
        return rc;
    xmlNodePtr rv = vmmk__xml_child(r.body, "returnval");
    if (rv) {
        *out = vmmk__xml_text(rv);
        *type = vmmk__xml_attr(rv, "type");
    }
    vmmk__soap_response_clear(&r);
    if (*out && !**out) {
        free(*out);
        *out = NULL;
    }
    return 0;
}

static int find_by_path(char **out, vmmk_vsphere *vs, const char *path)
{
    vmmk__buf a = { 0 };
    vmmk__buf_puts(&a, "<inventoryPath>");
    /* SearchIndex wants "DC0/vm/x"; a leading '/' is what users type. */
    int rc = vmmk__xml_escape_strict(&a, path[0] == '/' ? path + 1 : path, "inventory path");
    vmmk__buf_puts(&a, "</inventoryPath>");
    char *args = vmmk__buf_take(&a);
    if (rc || !args) {
        free(args);
        return rc ? rc : vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    char *moref = NULL, *type = NULL;
    rc = search_index(&moref, &type, vs, "FindByInventoryPath", args);
    free(args);
    if (!rc && moref && type && strcmp(type, "VirtualMachine") != 0)
        rc = vmmk__err(VMMK_ENOTFOUND, "vSphere %s: \"%s\" is a %s (%s), not a VM", vs->server, path, type,
                       moref);
    else if (!rc && moref)
        *out = moref, moref = NULL;
    free(moref);
    free(type);
    if (rc || *out)
        return rc;
    return find_in_list(out, vs, path, BY_PATH);
}

static int find_by_uuid(char **out, vmmk_vsphere *vs, const char *uuid)
{
    for (int instance = 0; instance < 2; instance++) {
        vmmk__buf a = { 0 };
        vmmk__buf_puts(&a, "<uuid>");
        vmmk__xml_escape(&a, uuid);
        vmmk__buf_printf(&a, "</uuid><vmSearch>true</vmSearch><instanceUuid>%s</instanceUuid>",
                         instance ? "true" : "false");
        char *args = vmmk__buf_take(&a);
        if (!args)
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        char *moref = NULL, *type = NULL;
        int rc = search_index(&moref, &type, vs, "FindByUuid", args);
        free(args);
        free(type);
        if (rc || moref) {
            *out = moref;
            return rc;
        }
    }
    return find_in_list(out, vs, uuid, BY_UUID);
}

int vmmk_vsphere_find_vm(char **out, vmmk_vsphere *vs, const char *what)
{
    if (!out || !vs || !what)
        return vmmk__err(VMMK_EINVAL, "vmmk_vsphere_find_vm: %s is NULL", !out ? "out" : !vs ? "session" : "what");
    *out = NULL;
    if (!*what)
        return vmmk__err(VMMK_EINVAL, "vSphere %s: no VM given (a name, inventory path, UUID or moref)",
                         vs->server);
    char *id = vmmk__vs_vm_moref_id(what);
    if (id) {
        char *name = NULL;
        int rc = vmmk__vs_get_string(&name, vs, "VirtualMachine", id, "name");
        free(name);
        if (rc == 0) {
            *out = id;
            return 0;
        }
        free(id);
        if (rc != VMMK_ENOTFOUND)
            return rc;
        return find_in_list(out, vs, what, BY_MOREF);
    }
    if (strchr(what, '/'))
        return find_by_path(out, vs, what);
    if (is_uuid(what))
        return find_by_uuid(out, vs, what);
    return find_in_list(out, vs, what, BY_NAME);
}
