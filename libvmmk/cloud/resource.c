/* One OpenStack resource at a time, the same way for every service: a
 * call's answer unwrapped and checked (vmmk__os_do_item, vmmk__os_get_id),
 * the id-else-unique-name lookup (vmmk__os_find) and the wait for a
 * resource's status (vmmk__os_wait_status). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/internal.h"
#include "cloud_int.h"

/* ---- by id ------------------------------------------------------------- */

int vmmk__os_do_item(json_object **out, vmmk_cloud *c, const vmmk__os_call *call,
                     const char *key, const char *kind)
{
    *out = NULL;
    vmmk__os_reply r;
    int rc = vmmk__os_do(c, call, &r);
    if (rc || r.status == 404) {   /* a 404 gets here with not_found_ok only */
        vmmk__os_reply_clear(&r);
        return rc;
    }
    json_object *item = r.body;
    if (key && item && !json_object_object_get_ex(r.body, key, &item))
        item = NULL;
    if (!item || !json_object_is_type(item, json_type_object) || !vmmk__jstr(item, "id"))
        rc = vmmk__err(VMMK_EREMOTE, "%s: the answer has no %s object (request id %s)",
                       call->what, kind, r.request_id ? r.request_id : "none");
    else
        *out = json_object_get(item);
    vmmk__os_reply_clear(&r);
    return rc;
}

int vmmk__os_get_id(json_object **out, vmmk_cloud *c, const vmmk__os_lookup *l, const char *id,
                    bool not_found_ok, const char *what)
{
    vmmk__os_call call = VMMK__OS_CALL(l->svc, "GET", l->base, what);
    call.id = id;
    call.not_found_ok = not_found_ok;
    return vmmk__os_do_item(out, c, &call, l->item_key, l->kind);
}

/* ---- by id, else by unique name ---------------------------------------- */

char *vmmk__os_project_label(vmmk_cloud *c)
{
    pthread_mutex_lock(&c->lock);
    json_object *p = NULL;
    if (c->token_body)
        json_object_object_get_ex(c->token_body, "project", &p);
    const char *name = vmmk__jstr(p, "name");
    char *s;
    if (c->project_id)
        s = name ? vmmk__asprintf("%s (%s)", name, c->project_id) : strdup(c->project_id);
    else
        s = strdup("(none: the token is not project scoped)");
    pthread_mutex_unlock(&c->lock);
    return s;
}

typedef struct matches {
    const char *name;
    json_object **items;
    size_t n, cap;
} matches;

static int collect_named(void *payload, json_object *item)
{
    matches *m = payload;
    const char *name = vmmk__jstr(item, "name");
    /* The services filter by name already; this guards against one that
     * ignores the filter (and then would list everything), and against
     * Nova's, a regular expression that is case-insensitive on MySQL. */
    if (!name || strcmp(name, m->name) != 0)
        return 0;
    const char *id = vmmk__jstr(item, "id");
    for (size_t i = 0; id && i < m->n; i++) {
        const char *seen = vmmk__jstr(m->items[i], "id");
        if (seen && strcmp(seen, id) == 0)
            return 0;   /* on an earlier page too: the pages shifted */
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 4;
        json_object **v = realloc(m->items, cap * sizeof *v);
        if (!v)
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        m->items = v;
        m->cap = cap;
    }
    m->items[m->n++] = json_object_get(item);
    return 0;
}

static void matches_clear(matches *m)
{
    for (size_t i = 0; i < m->n; i++)
        json_object_put(m->items[i]);
    free(m->items);
    m->items = NULL;
    m->n = m->cap = 0;
}

/* "a, b, c": the ids of @p items (new string). */
static char *id_list(json_object *const *items, size_t n)
{
    vmmk__buf b = { 0 };
    for (size_t i = 0; i < n; i++) {
        const char *id = vmmk__jstr(items[i], "id");
        vmmk__buf_printf(&b, "%s%s", i ? ", " : "", id ? id : "?");
    }
    if (!b.data)
        vmmk__buf_append(&b, "", 0);
    return vmmk__buf_take(&b);
}

/* The name= value: "^name$" with the regular expression characters
 * escaped for a service that reads a regular expression, and URL-encoded. */
static char *name_query(const vmmk__os_lookup *l, const char *name)
{
    if (!l->name_regex)
        return vmmk__os_escape(name);
    vmmk__buf b = { 0 };
    vmmk__buf_puts(&b, "^");
    for (const char *p = name; *p; p++) {
        if (strchr(".^$*+?()[]{}|\\", *p))
            vmmk__buf_append(&b, "\\", 1);
        vmmk__buf_append(&b, p, 1);
    }
    vmmk__buf_puts(&b, "$");
    char *re = vmmk__buf_take(&b);
    char *esc = re ? vmmk__os_escape(re) : NULL;
    free(re);
    return esc;
}

static int not_found(vmmk_cloud *c, const vmmk__os_lookup *l, const char *id_or_name)
{
    char *project = l->scope ? NULL : vmmk__os_project_label(c);
    char *scope = project ? vmmk__asprintf("visible to project %s", project) : NULL;
    free(project);
    int rc = vmmk__err(VMMK_ENOTFOUND, "no %s %s \"%s\" %s", l->kind,
                       vmmk__looks_like_id(id_or_name) ? "with id or name" : "named", id_or_name,
                       l->scope ? l->scope : scope ? scope : "");
    free(scope);
    return rc;
}

int vmmk__os_find(json_object **out, vmmk_cloud *c, const vmmk__os_lookup *l,
                  const char *id_or_name)
{
    *out = NULL;
    if (!c || !id_or_name || !*id_or_name)
        return vmmk__err(VMMK_EINVAL, "find %s: %s", l->kind,
                         !c ? "the cloud handle is NULL" : "no id or name given");
    char what[512];
    int rc;
    if (vmmk__looks_like_id(id_or_name)) {
        snprintf(what, sizeof what, "get %s %s", l->kind, id_or_name);
        if ((rc = vmmk__os_get_id(out, c, l, id_or_name, true, what)) != 0 || *out)
            return rc;
    }

    char *esc = name_query(l, id_or_name);
    char *path = esc ? vmmk__asprintf("%s?name=%s%s%s", l->list_path ? l->list_path : l->base,
                                      esc, l->filter ? "&" : "", l->filter ? l->filter : "")
                     : NULL;
    free(esc);
    if (!path)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    snprintf(what, sizeof what, "find %s \"%s\"", l->kind, id_or_name);
    matches m = { .name = id_or_name };
    rc = vmmk__os_list(c, l->svc, path, l->list_key, what, collect_named, &m);
    free(path);
    if (rc) {
        matches_clear(&m);
        return rc;
    }
    if (m.n == 1) {
        *out = m.items[0];
        m.n = 0;
    } else if (m.n == 0) {
        rc = not_found(c, l, id_or_name);
    } else {
        char *ids = id_list(m.items, m.n);
        rc = vmmk__err(VMMK_ECONFLICT, "%s name \"%s\" is ambiguous: %zu %s (ids %s); pass an id",
                       l->kind, id_or_name, m.n, l->plural, ids ? ids : "?");
        free(ids);
    }
    matches_clear(&m);
    return rc;
}

/* ---- waiting for a status ---------------------------------------------- */

static int status_check(void *payload, bool *done, char *state, size_t state_size)
{
    vmmk__os_wait *w = payload;
    json_object *item;
    int rc = vmmk__os_get_id(&item, w->c, w->res, w->id, true, w->what);
    if (rc)
        return rc;
    if (!item) {
        if (w->until_gone) {
            *done = true;
            return 0;
        }
        return vmmk__err(VMMK_ENOTFOUND, "%s: no %s has this id (any more)", w->what,
                         w->res->kind);
    }
    json_object_put(w->last);
    w->last = item;
    const char *st = vmmk__jstr(item, "status");
    const char *task = w->task_key ? vmmk__jstr(item, w->task_key) : NULL;
    bool busy = task && *task;
    int n = snprintf(state, state_size, "status %s", st ? st : "none");
    if (w->task_key && n >= 0 && (size_t)n < state_size)
        snprintf(state + n, state_size - (size_t)n, ", task %s", busy ? task : "none");
    if (w->want && st && !busy &&
        (w->nocase ? strcasecmp(st, w->want) : strcmp(st, w->want)) == 0) {
        *done = true;
        return 0;
    }
    return w->judge ? w->judge(w, item, st ? st : "", done, state, state_size) : 0;
}

int vmmk__os_wait_status(vmmk__os_wait *w, unsigned timeout_s)
{
    w->last = NULL;
    return vmmk__os_poll(timeout_s, w->what, status_check, w);
}
