/* Neutron ports (networking API v2.0).
 *
 * Ports are what a migration creates per NIC, and a migration is re-run
 * after failures, so vmmk_cloud_port_create() can reuse the port a
 * previous run made (same network and MAC, or the same tags) when no
 * server uses it and its fixed IPs and tags are what is asked; anything
 * else is a conflict the user has to look at, never a silent takeover. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "cloud_int.h"

/* ---- ports ------------------------------------------------------------- */

void vmmk_cloud_port_free(vmmk_cloud_port *p)
{
    if (!p)
        return;
    free(p->id);
    free(p->name);
    free(p->network_id);
    free(p->mac_address);
    free(p->status);
    free(p->device_id);
    free(p->device_owner);
    for (size_t i = 0; i < p->n_fixed_ips; i++) {
        free(p->fixed_ips[i].subnet_id);
        free(p->fixed_ips[i].ip_address);
    }
    free(p->fixed_ips);
    vmmk__strv_free(p->security_group_ids, p->n_security_group_ids);
    vmmk__strv_free(p->tags, p->n_tags);
    free(p->raw_json);
    free(p);
}

int vmmk_cloud_port_to_json(char **out, const vmmk_cloud_port *p, unsigned flags)
{
    if (!p) {
        if (out)
            *out = NULL;
        return vmmk__err(VMMK_EINVAL, "port to JSON: the port is NULL");
    }
    return vmmk__raw_to_json(out, p->raw_json, flags, "port");
}

int vmmk__os_parse_port(vmmk_cloud_port **out, json_object *o)
{
    *out = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !vmmk__jstr(o, "id"))
        return vmmk__err(VMMK_EREMOTE, "Neutron sent a port that is not an object with an id");
    vmmk_cloud_port *p = calloc(1, sizeof *p);
    if (!p)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    bool oom = false;
#define DUP(field, key)                                   \
    do {                                                  \
        p->field = vmmk__jdup(o, key);                    \
        oom |= vmmk__jstr(o, key) && !p->field;           \
    } while (0)
    DUP(id, "id");
    DUP(name, "name");
    DUP(network_id, "network_id");
    DUP(mac_address, "mac_address");
    DUP(status, "status");
    DUP(device_id, "device_id");
    DUP(device_owner, "device_owner");
#undef DUP
    json_object *ips;
    if (json_object_object_get_ex(o, "fixed_ips", &ips) &&
        json_object_is_type(ips, json_type_array)) {
        size_t n = json_object_array_length(ips);
        if (n && !(p->fixed_ips = calloc(n, sizeof *p->fixed_ips)))
            oom = true;
        for (size_t i = 0; p->fixed_ips && i < n; i++) {
            json_object *e = json_object_array_get_idx(ips, i);
            if (!e || !json_object_is_type(e, json_type_object))
                continue;
            vmmk_cloud_fixed_ip *f = &p->fixed_ips[p->n_fixed_ips++];
            f->subnet_id = vmmk__jdup(e, "subnet_id");
            f->ip_address = vmmk__jdup(e, "ip_address");
            oom |= (vmmk__jstr(e, "subnet_id") && !f->subnet_id) ||
                   (vmmk__jstr(e, "ip_address") && !f->ip_address);
        }
    }
    int rc = vmmk__jstrv(&p->security_group_ids, &p->n_security_group_ids, o, "security_groups");
    if (rc == 0)
        rc = vmmk__jstrv(&p->tags, &p->n_tags, o, "tags");
    p->raw_json = vmmk__jraw(o);
    if (rc || oom || !p->raw_json) {
        vmmk_cloud_port_free(p);
        return rc ? rc : vmmk__err(VMMK_ENOMEM, "out of memory reading a port");
    }
    *out = p;
    return 0;
}

/* One call's port object -> struct: for the GET and list paths. */
static int port_from(vmmk_cloud_port **out, json_object *o)
{
    int rc = vmmk__os_parse_port(out, o);
    json_object_put(o);
    return rc;
}

int vmmk_cloud_port_get(vmmk_cloud_port **out, vmmk_cloud *c, const char *id_or_name)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "get port: out is NULL");
    *out = NULL;
    static const vmmk__os_lookup l = { .svc = VMMK__SVC_NETWORK, .kind = "port", .plural = "ports",
                                       .base = "/v2.0/ports", .item_key = "port",
                                       .list_key = "ports" };
    json_object *o;
    int rc = vmmk__os_find(&o, c, &l, id_or_name);
    return rc ? rc : port_from(out, o);
}

int vmmk_cloud_port_delete(vmmk_cloud *c, const char *id)
{
    if (!c || !id || !*id)
        return vmmk__err(VMMK_EINVAL, "delete port: %s", c ? "no id given" : "the handle is NULL");
    char what[128];
    snprintf(what, sizeof what, "delete port %s", id);
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_NETWORK, "DELETE", "/v2.0/ports", what);
    call.id = id;
    call.not_found_ok = true;   /* already gone: what the caller wants */
    return vmmk__os_do(c, &call, NULL);
}

static char *lower_dup(const char *s)
{
    char *d = vmmk__strdup(s);
    for (char *p = d; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return d;
}

static bool has_tag(const vmmk_cloud_port *p, const char *tag)
{
    for (size_t i = 0; i < p->n_tags; i++)
        if (p->tags[i] && strcmp(p->tags[i], tag) == 0)
            return true;
    return false;
}

typedef struct port_filter {
    const char *mac;           /* lowercase, or NULL */
    const char *network_id;    /* or NULL */
    const char *const *tags;
    size_t n_tags;
    vmmk_cloud_port **items;
    size_t n;
} port_filter;

static int collect_port(void *payload, json_object *item)
{
    port_filter *f = payload;
    vmmk_cloud_port *p;
    int rc = vmmk__os_parse_port(&p, item);
    if (rc)
        return rc;
    bool ok = (!f->mac || (p->mac_address && strcasecmp(p->mac_address, f->mac) == 0)) &&
              (!f->network_id || (p->network_id && strcmp(p->network_id, f->network_id) == 0));
    for (size_t i = 0; ok && i < f->n_tags; i++)
        ok = has_tag(p, f->tags[i]);
    if (!ok) {
        vmmk_cloud_port_free(p);
        return 0;
    }
    vmmk_cloud_port **v = realloc(f->items, (f->n + 1) * sizeof *v);
    if (!v) {
        vmmk_cloud_port_free(p);
        return vmmk__err(VMMK_ENOMEM, "out of memory listing ports");
    }
    f->items = v;
    f->items[f->n++] = p;
    return 0;
}

static void port_filter_clear(port_filter *f)
{
    for (size_t i = 0; i < f->n; i++)
        vmmk_cloud_port_free(f->items[i]);
    free(f->items);
    f->items = NULL;
    f->n = 0;
}

/* "MAC m, tags \"a\", \"b\" on network n" for messages (new string). */
static char *port_criteria(const port_filter *f)
{
    vmmk__buf b = { 0 };
    if (f->mac)
        vmmk__buf_printf(&b, "MAC %s", f->mac);
    if (f->n_tags) {
        vmmk__buf_printf(&b, "%stag%s ", b.len ? ", " : "", f->n_tags > 1 ? "s" : "");
        for (size_t i = 0; i < f->n_tags; i++)
            vmmk__buf_printf(&b, "%s\"%s\"", i ? ", " : "", f->tags[i]);
    }
    if (f->network_id)
        vmmk__buf_printf(&b, "%son network %s", b.len ? " " : "", f->network_id);
    if (!b.len)
        vmmk__buf_puts(&b, "any MAC and tags");
    return vmmk__buf_take(&b);
}

/* Every port matching @p f (ports the project can see), filtered by the
 * server where it can (mac_address=, network_id=, tags=) and exactly
 * here. */
static int list_ports(vmmk_cloud *c, port_filter *f, const char *what)
{
    vmmk__buf q = { 0 };
    vmmk__buf_puts(&q, "/v2.0/ports");
    char sep = '?';
    if (f->mac) {
        char *e = vmmk__os_escape(f->mac);
        vmmk__buf_printf(&q, "%cmac_address=%s", sep, e ? e : "");
        free(e);
        sep = '&';
    }
    if (f->network_id) {
        char *e = vmmk__os_escape(f->network_id);
        vmmk__buf_printf(&q, "%cnetwork_id=%s", sep, e ? e : "");
        free(e);
        sep = '&';
    }
    /* tags=a,b means "all of them"; a tag holding a comma cannot be said
     * that way and is only checked here. */
    bool first = true;
    for (size_t i = 0; i < f->n_tags; i++) {
        if (strchr(f->tags[i], ','))
            continue;
        char *e = vmmk__os_escape(f->tags[i]);
        vmmk__buf_printf(&q, "%s%s", first ? (sep == '?' ? "?tags=" : "&tags=") : ",", e ? e : "");
        free(e);
        first = false;
    }
    char *path = vmmk__buf_take(&q);
    if (!path)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    int rc = vmmk__os_list(c, VMMK__SVC_NETWORK, path, "ports", what, collect_port, f);
    free(path);
    if (rc)
        port_filter_clear(f);
    return rc;
}

int vmmk_cloud_port_find(vmmk_cloud_port **out, vmmk_cloud *c, const char *mac,
                         const char *const *tags, size_t n_tags, const char *network_id)
{
    if (!out || !c || (n_tags && !tags))
        return vmmk__err(VMMK_EINVAL, "find port: %s is NULL",
                         !out ? "out" : !c ? "the handle" : "tags");
    *out = NULL;
    for (size_t i = 0; i < n_tags; i++)
        if (!tags[i] || !*tags[i])
            return vmmk__err(VMMK_EINVAL, "find port: tag %zu is empty", i + 1);
    char *lmac = lower_dup(mac && *mac ? mac : NULL);
    port_filter f = { lmac, network_id && *network_id ? network_id : NULL, tags, n_tags, NULL, 0 };
    char *crit = port_criteria(&f);
    char what[512];
    snprintf(what, sizeof what, "find port with %s", crit ? crit : "?");
    int rc = list_ports(c, &f, what);
    if (rc == 0) {
        if (f.n == 1) {
            *out = f.items[0];
            f.n = 0;
        } else if (f.n == 0) {
            char *project = vmmk__os_project_label(c);
            rc = vmmk__err(VMMK_ENOTFOUND, "no port with %s visible to project %s",
                           crit ? crit : "?", project ? project : "?");
            free(project);
        } else {
            vmmk__buf b = { 0 };
            for (size_t i = 0; i < f.n; i++)
                vmmk__buf_printf(&b, "%s%s", i ? ", " : "", f.items[i]->id);
            char *ids = vmmk__buf_take(&b);
            rc = vmmk__err(VMMK_ECONFLICT, "%zu ports have %s (ids %s); narrow the search", f.n,
                           crit ? crit : "?", ids ? ids : "?");
            free(ids);
        }
    }
    port_filter_clear(&f);
    free(crit);
    free(lmac);
    return rc;
}

/* ---- port create ------------------------------------------------------- */

/* One fixed IP asked for: either part may be NULL. */
typedef struct want_ip {
    char *subnet_id;
    char *ip_address;
} want_ip;

static void want_ips_free(want_ip *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].subnet_id);
        free(v[i].ip_address);
    }
    free(v);
}

static int resolve_subnet(char **out, vmmk_cloud *c, const char *subnet, const char *network_id)
{
    vmmk_cloud_subnet *s;
    int rc = vmmk_cloud_subnet_find(&s, c, subnet, network_id);
    if (rc)
        return rc;
    *out = s->id;
    s->id = NULL;
    vmmk_cloud_subnet_free(s);
    return 0;
}

/* Parse "A" or "subnet=S,ip-address=A" (either key alone too) with
 * subnets resolved on @p network_id. */
static int parse_fixed_ip(want_ip *w, vmmk_cloud *c, const char *text, const char *dflt_subnet,
                          const char *network_id)
{
    memset(w, 0, sizeof *w);
    int rc = 0;
    char *subnet = NULL;
    if (!strchr(text, '=')) {
        w->ip_address = strdup(text);
        subnet = vmmk__strdup(dflt_subnet);
        if (!w->ip_address || (dflt_subnet && !subnet))
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    } else {
        char *copy = strdup(text), *save = NULL;
        if (!copy)
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        for (char *kv = strtok_r(copy, ",", &save); kv && rc == 0;
             kv = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(kv, '=');
            if (!eq || eq == kv || !eq[1]) {
                rc = vmmk__err(VMMK_EINVAL, "fixed IP \"%s\": \"%s\" is not key=value", text, kv);
                break;
            }
            *eq = '\0';
            char **slot = NULL;
            if (strcmp(kv, "subnet") == 0 || strcmp(kv, "subnet_id") == 0 ||
                strcmp(kv, "subnet-id") == 0)
                slot = &subnet;
            else if (strcmp(kv, "ip-address") == 0 || strcmp(kv, "ip_address") == 0)
                slot = &w->ip_address;
            else {
                rc = vmmk__err(VMMK_EINVAL,
                               "fixed IP \"%s\": unknown key \"%s\" (expected subnet= and/or "
                               "ip-address=)",
                               text, kv);
                break;
            }
            if (*slot) {
                rc = vmmk__err(VMMK_EINVAL, "fixed IP \"%s\": \"%s\" given twice", text, kv);
                break;
            }
            if (!(*slot = strdup(eq + 1)))
                rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        }
        free(copy);
        if (rc == 0 && !subnet && !w->ip_address)
            rc = vmmk__err(VMMK_EINVAL, "fixed IP \"%s\": neither subnet nor ip-address", text);
        if (rc == 0 && !subnet && dflt_subnet && !(subnet = strdup(dflt_subnet)))
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    if (rc == 0 && subnet && (rc = resolve_subnet(&w->subnet_id, c, subnet, network_id)) != 0)
        vmmk__err_prefix("fixed IP \"%s\"", text);
    free(subnet);
    if (rc) {
        free(w->ip_address);
        free(w->subnet_id);
        memset(w, 0, sizeof *w);
    }
    return rc;
}

static bool same_ip(const char *a, const char *b)
{
    unsigned char x[16], y[16];
    if (inet_pton(AF_INET, a, x) == 1 && inet_pton(AF_INET, b, y) == 1)
        return memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1 && inet_pton(AF_INET6, b, y) == 1)
        return memcmp(x, y, 16) == 0;
    return strcmp(a, b) == 0;
}

/* Why the free port @p p does not serve the request (fixed IPs asked that
 * it lacks, tags asked that it lacks), or NULL when it does (new string). */
static char *port_mismatch(const vmmk_cloud_port *p, const want_ip *ips, size_t n_ips,
                           const char *const *tags, size_t n_tags)
{
    vmmk__buf b = { 0 };
    for (size_t i = 0; i < n_ips; i++) {
        bool found = false;
        for (size_t k = 0; k < p->n_fixed_ips && !found; k++) {
            const vmmk_cloud_fixed_ip *f = &p->fixed_ips[k];
            found = (!ips[i].subnet_id ||
                     (f->subnet_id && strcmp(ips[i].subnet_id, f->subnet_id) == 0)) &&
                    (!ips[i].ip_address || (f->ip_address && same_ip(ips[i].ip_address,
                                                                     f->ip_address)));
        }
        if (found)
            continue;
        vmmk__buf_printf(&b, "%sfixed IP %s%s%s asked, the port has ", b.len ? "; " : "",
                         ips[i].ip_address ? ips[i].ip_address : "(any)",
                         ips[i].subnet_id ? " in subnet " : "",
                         ips[i].subnet_id ? ips[i].subnet_id : "");
        for (size_t k = 0; k < p->n_fixed_ips; k++)
            vmmk__buf_printf(&b, "%s%s (subnet %s)", k ? ", " : "",
                             p->fixed_ips[k].ip_address ? p->fixed_ips[k].ip_address : "?",
                             p->fixed_ips[k].subnet_id ? p->fixed_ips[k].subnet_id : "?");
        if (!p->n_fixed_ips)
            vmmk__buf_puts(&b, "none");
    }
    for (size_t i = 0; i < n_tags; i++)
        if (!has_tag(p, tags[i]))
            vmmk__buf_printf(&b, "%stag \"%s\" asked, the port lacks it", b.len ? "; " : "",
                             tags[i]);
    return b.len ? vmmk__buf_take(&b) : (vmmk__buf_free(&b), NULL);
}

/* "\"name\"" or "(unnamed)" for messages. */
static const char *port_label(char *buf, size_t size, const vmmk_cloud_port_spec *spec)
{
    if (spec->name && *spec->name)
        snprintf(buf, size, "\"%s\"", spec->name);
    else
        snprintf(buf, size, "(unnamed)");
    return buf;
}

/* Look for a port to reuse on @p network_id: by MAC when given, else by
 * tags.  0 with *out NULL when there is none; VMMK_ECONFLICT when one is
 * in use or differs, or several match. */
static int find_reusable(vmmk_cloud_port **out, vmmk_cloud *c, const vmmk_cloud_port_spec *spec,
                         const char *mac, const char *network_id, const want_ip *ips, size_t n_ips)
{
    *out = NULL;
    char lbuf[300];
    port_filter f = { mac, network_id, mac ? NULL : spec->tags, mac ? 0 : spec->n_tags, NULL, 0 };
    char *crit = port_criteria(&f);
    char what[512];
    snprintf(what, sizeof what, "create port %s: look for a port to reuse with %s",
             port_label(lbuf, sizeof lbuf, spec), crit ? crit : "?");
    int rc = list_ports(c, &f, what);
    if (rc || f.n == 0) {
        free(crit);
        return rc;
    }
    if (f.n > 1) {
        vmmk__buf b = { 0 };
        for (size_t i = 0; i < f.n; i++)
            vmmk__buf_printf(&b, "%s%s", i ? ", " : "", f.items[i]->id);
        char *ids = vmmk__buf_take(&b);
        rc = vmmk__err(VMMK_ECONFLICT,
                       "create port %s: %zu ports have %s (ids %s); cannot tell which to "
                       "reuse",
                       port_label(lbuf, sizeof lbuf, spec), f.n, crit ? crit : "?", ids ? ids : "?");
        free(ids);
    } else {
        vmmk_cloud_port *p = f.items[0];
        if (p->device_id && *p->device_id) {
            rc = vmmk__err(VMMK_ECONFLICT,
                           "create port %s: port %s with %s is in use by %s %s (device "
                           "owner %s); not reusing it",
                           port_label(lbuf, sizeof lbuf, spec), p->id, crit ? crit : "?",
                           p->device_owner && strncmp(p->device_owner, "compute:", 8) == 0
                               ? "server"
                               : "device",
                           p->device_id, p->device_owner && *p->device_owner ? p->device_owner
                                                                               : "none");
        } else {
            char *why = port_mismatch(p, ips, n_ips, spec->tags, spec->n_tags);
            if (why) {
                rc = vmmk__err(VMMK_ECONFLICT,
                               "create port %s: the free port %s with %s differs from what "
                               "is asked: %s",
                               port_label(lbuf, sizeof lbuf, spec), p->id, crit ? crit : "?", why);
                free(why);
            } else {
                vmmk__log(VMMK_LOG_INFO, "create port %s: reusing the free port %s with %s",
                          port_label(lbuf, sizeof lbuf, spec), p->id, crit ? crit : "?");
                *out = p;
                f.n = 0;
            }
        }
    }
    port_filter_clear(&f);
    free(crit);
    return rc;
}

/* PUT the tags on a new port; the port object is updated to carry them. */
static int set_port_tags(vmmk_cloud *c, json_object *port, const vmmk_cloud_port_spec *spec,
                         const char *what)
{
    json_object *body = json_object_new_object();
    json_object *tags = vmmk__strv_to_json(spec->tags, spec->n_tags);
    if (!body || !tags || json_object_object_add(body, "tags", tags)) {
        json_object_put(body);
        json_object_put(tags);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    char w[600];
    snprintf(w, sizeof w, "%s: set tags", what);
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_NETWORK, "PUT", "/v2.0/ports", w);
    call.id = vmmk__jstr(port, "id");
    call.suffix = "/tags";
    call.body = body;
    vmmk__os_reply r;
    int rc = vmmk__os_do(c, &call, &r);
    if (rc == 0) {
        json_object *got = NULL;
        if (r.body && json_object_object_get_ex(r.body, "tags", &got) &&
            json_object_is_type(got, json_type_array))
            json_object_object_add(port, "tags", json_object_get(got));
        else
            json_object_object_add(port, "tags", json_object_get(tags));
    }
    json_object_put(body);
    vmmk__os_reply_clear(&r);
    return rc;
}

static json_object *port_body(const vmmk_cloud_port_spec *spec, const char *network_id,
                              const char *mac, const want_ip *ips, size_t n_ips,
                              char *const *sg_ids, size_t n_sg)
{
    json_object *root = json_object_new_object(), *port = json_object_new_object();
    bool fail = !root || !port || json_object_object_add(root, "port", port);
    if (fail)
        json_object_put(port);
    fail = fail || vmmk__json_add_string(port, "network_id", network_id);
    if (!fail && spec->name)
        fail = vmmk__json_add_string(port, "name", spec->name);
    if (!fail && spec->description)
        fail = vmmk__json_add_string(port, "description", spec->description);
    if (!fail && mac)
        fail = vmmk__json_add_string(port, "mac_address", mac);
    if (!fail && n_ips) {
        json_object *a = json_object_new_array();
        fail = !a || json_object_object_add(port, "fixed_ips", a);
        if (fail)
            json_object_put(a);
        for (size_t i = 0; !fail && i < n_ips; i++) {
            json_object *e = json_object_new_object();
            fail = !e || json_object_array_add(a, e);
            if (fail) {
                json_object_put(e);
                break;
            }
            if (ips[i].subnet_id)
                fail = vmmk__json_add_string(e, "subnet_id", ips[i].subnet_id);
            if (!fail && ips[i].ip_address)
                fail = vmmk__json_add_string(e, "ip_address", ips[i].ip_address);
        }
    }
    if (!fail && spec->security_groups) {
        json_object *a = vmmk__strv_to_json((const char *const *)sg_ids, n_sg);
        fail = !a || json_object_object_add(port, "security_groups", a);
        if (fail)
            json_object_put(a);
    }
    if (fail) {
        json_object_put(root);
        return NULL;
    }
    return root;
}

int vmmk_cloud_port_create(vmmk_cloud_port **out, vmmk_cloud *c,
                           const vmmk_cloud_port_spec *spec)
{
    if (!out || !c || !spec)
        return vmmk__err(VMMK_EINVAL, "create port: %s is NULL",
                         !out ? "out" : !c ? "the handle" : "spec");
    *out = NULL;
    if (spec->version < 1 || spec->version > VMMK_CLOUD_PORT_CREATE_VERSION)
        return vmmk__err(VMMK_EINVAL, "create port: spec version %u not supported", spec->version);
    char lbuf[300];
    const char *label = port_label(lbuf, sizeof lbuf, spec);
    if (!spec->network || !*spec->network)
        return vmmk__err(VMMK_EINVAL, "create port %s: no network given", label);
    if ((spec->n_fixed_ips && !spec->fixed_ips) || (spec->n_tags && !spec->tags))
        return vmmk__err(VMMK_EINVAL, "create port %s: %s is NULL with a count", label,
                         spec->n_tags && !spec->tags ? "tags" : "fixed_ips");
    for (size_t i = 0; i < spec->n_tags; i++)
        if (!spec->tags[i] || !*spec->tags[i])
            return vmmk__err(VMMK_EINVAL, "create port %s: tag %zu is empty", label, i + 1);
    for (size_t i = 0; i < spec->n_fixed_ips; i++)
        if (!spec->fixed_ips[i] || !*spec->fixed_ips[i])
            return vmmk__err(VMMK_EINVAL, "create port %s: fixed IP %zu is empty", label,
                             i + 1);
    for (size_t i = 0; spec->security_groups && i < spec->n_security_groups; i++)
        if (!spec->security_groups[i] || !*spec->security_groups[i])
            return vmmk__err(VMMK_EINVAL, "create port %s: security group %zu is empty", label,
                             i + 1);
    char what[512];
    snprintf(what, sizeof what, "create port %s on network \"%s\"", label, spec->network);

    vmmk_cloud_network *net = NULL;
    char *mac = lower_dup(spec->mac_address && *spec->mac_address ? spec->mac_address : NULL);
    want_ip *ips = spec->n_fixed_ips ? calloc(spec->n_fixed_ips, sizeof *ips) : NULL;
    size_t n_ips = 0, n_sg = 0;
    char **sg_ids = NULL;
    json_object *body = NULL, *port = NULL;
    vmmk__os_reply r = { 0 };
    vmmk__os_call call = VMMK__OS_CALL(VMMK__SVC_NETWORK, "POST", "/v2.0/ports", what);
    const char *id;
    int rc = 0;
    if ((spec->mac_address && *spec->mac_address && !mac) || (spec->n_fixed_ips && !ips)) {
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        goto done;
    }
    if ((rc = vmmk_cloud_network_find(&net, c, spec->network)) != 0) {
        vmmk__err_prefix("%s", what);
        goto done;
    }
    for (; n_ips < spec->n_fixed_ips; n_ips++)
        if ((rc = parse_fixed_ip(&ips[n_ips], c, spec->fixed_ips[n_ips], spec->subnet, net->id))) {
            vmmk__err_prefix("%s", what);
            goto done;
        }
    if (spec->reuse && (mac || spec->n_tags)) {
        if ((rc = find_reusable(out, c, spec, mac, net->id, ips, n_ips)) != 0 || *out)
            goto done;
    }
    if (spec->security_groups && spec->n_security_groups &&
        !(sg_ids = calloc(spec->n_security_groups, sizeof *sg_ids))) {
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        goto done;
    }
    for (; spec->security_groups && n_sg < spec->n_security_groups; n_sg++)
        if ((rc = vmmk_cloud_security_group_find(&sg_ids[n_sg], c, spec->security_groups[n_sg]))) {
            vmmk__err_prefix("%s", what);
            goto done;
        }
    if (!(body = port_body(spec, net->id, mac, ips, n_ips, sg_ids, n_sg))) {
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        goto done;
    }
    call.body = body;
    if ((rc = vmmk__os_do(c, &call, &r)) != 0) {
        const char *fault = vmmk_error_last()->fault;
        if (rc == VMMK_ECONFLICT && fault && strcmp(fault, "MacAddressInUse") == 0)
            rc = vmmk__os_err_recode(VMMK_EEXISTS, NULL, NULL);
        goto done;
    }
    if (!r.body || !json_object_object_get_ex(r.body, "port", &port) ||
        !json_object_is_type(port, json_type_object) || !vmmk__jstr(port, "id")) {
        rc = vmmk__err(VMMK_EREMOTE, "%s: the answer has no port object (request id %s)", what,
                       r.request_id ? r.request_id : "none");
        goto done;
    }
    id = vmmk__jstr(port, "id");
    if (spec->n_tags && (rc = set_port_tags(c, port, spec, what)) != 0) {
        /* Never leave a half-made port behind: a re-run would find it by
         * its MAC without the tags it should carry. */
        vmmk__os_err_saved e;
        vmmk__os_err_save(&e);
        bool gone = vmmk_cloud_port_delete(c, id) == 0;
        if (!gone)
            vmmk__log(VMMK_LOG_WARN, "%s: could not delete port %s after the failure: %s",
                      what, id, vmmk_error_last()->message);
        char *note = gone ? NULL : vmmk__asprintf(" (port %s could not be deleted: remove it)", id);
        rc = vmmk__os_err_restore(&e, 0, gone ? " (the port was deleted again)" : note);
        free(note);
        goto done;
    }
    rc = vmmk__os_parse_port(out, port);
done:
    vmmk__os_reply_clear(&r);
    json_object_put(body);
    vmmk__strv_free(sg_ids, n_sg);
    want_ips_free(ips, n_ips);
    free(mac);
    vmmk_cloud_network_free(net);
    return rc;
}
