/* Neutron (networking API v2.0): networks, subnets and security groups
 * (ports are in port.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "cloud_int.h"

/* ---- networks ---------------------------------------------------------- */

static void network_clear(vmmk_cloud_network *n)
{
    free(n->id);
    free(n->name);
    free(n->status);
    vmmk__strv_free(n->subnet_ids, n->n_subnet_ids);
    free(n->raw_json);
    memset(n, 0, sizeof *n);
}

void vmmk_cloud_network_free(vmmk_cloud_network *n)
{
    if (!n)
        return;
    network_clear(n);
    free(n);
}

void vmmk_cloud_network_list_free(vmmk_cloud_network_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        network_clear(&l->items[i]);
    free(l->items);
    free(l);
}

static int parse_network(vmmk_cloud_network *n, json_object *o)
{
    memset(n, 0, sizeof *n);
    if (!o || !json_object_is_type(o, json_type_object) || !vmmk__jstr(o, "id"))
        return vmmk__err(VMMK_EREMOTE, "Neutron sent a network that is not an object with an id");
    n->id = vmmk__jdup(o, "id");
    n->name = vmmk__jdup(o, "name");
    n->status = vmmk__jdup(o, "status");
    n->shared = vmmk__jbool(o, "shared", false);
    n->external = vmmk__jbool(o, "router:external", false);
    int64_t mtu = vmmk__jint(o, "mtu", 0);
    n->mtu = mtu > 0 && mtu <= INT32_MAX ? (int32_t)mtu : 0;
    int rc = vmmk__jstrv(&n->subnet_ids, &n->n_subnet_ids, o, "subnets");
    n->raw_json = vmmk__jraw(o);
    if (rc || !n->id || !n->raw_json || (vmmk__jstr(o, "name") && !n->name) ||
        (vmmk__jstr(o, "status") && !n->status)) {
        network_clear(n);
        return rc ? rc : vmmk__err(VMMK_ENOMEM, "out of memory reading a network");
    }
    return 0;
}

static int add_network(void *payload, json_object *item)
{
    vmmk_cloud_network_list *l = payload;
    vmmk_cloud_network *v = realloc(l->items, (l->n + 1) * sizeof *v);
    if (!v)
        return vmmk__err(VMMK_ENOMEM, "out of memory listing networks");
    l->items = v;
    int rc = parse_network(&l->items[l->n], item);
    if (rc == 0)
        l->n++;
    return rc;
}

int vmmk_cloud_network_list_get(vmmk_cloud_network_list **out, vmmk_cloud *c)
{
    if (!out || !c)
        return vmmk__err(VMMK_EINVAL, "list networks: %s is NULL", out ? "the handle" : "out");
    *out = NULL;
    vmmk_cloud_network_list *l = calloc(1, sizeof *l);
    if (!l)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    int rc = vmmk__os_list(c, VMMK__SVC_NETWORK, "/v2.0/networks", "networks", "list networks",
                           add_network, l);
    if (rc) {
        vmmk_cloud_network_list_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int vmmk_cloud_network_list_to_json(char **out, const vmmk_cloud_network_list *l, unsigned flags)
{
    if (!out || !l)
        return vmmk__err(VMMK_EINVAL, "network list to JSON: %s is NULL", out ? "the list" : "out");
    *out = NULL;
    json_object *root = json_object_new_object(), *arr = json_object_new_array();
    int rc = 0;
    if (!root || !arr || json_object_object_add(root, "networks", arr)) {
        json_object_put(arr);
        json_object_put(root);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < l->n && rc == 0; i++) {
        json_object *o = NULL;
        const char *raw = l->items[i].raw_json;
        if (!raw || (rc = vmmk__json_parse(&o, raw, strlen(raw))) != 0) {
            rc = raw ? vmmk__err_prefix("network %s", l->items[i].id ? l->items[i].id : "?")
                     : vmmk__err(VMMK_EINVAL, "network %s: no JSON document kept",
                                 l->items[i].id ? l->items[i].id : "?");
            break;
        }
        if (json_object_array_add(arr, o)) {
            json_object_put(o);
            rc = vmmk__err(VMMK_ENOMEM, "out of memory");
        }
    }
    if (rc == 0 && !(*out = vmmk__json_dump(root, flags)))
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    json_object_put(root);
    return rc;
}

int vmmk_cloud_network_find(vmmk_cloud_network **out, vmmk_cloud *c, const char *id_or_name)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "find network: out is NULL");
    *out = NULL;
    static const vmmk__os_lookup l = { .svc = VMMK__SVC_NETWORK, .kind = "network",
                                       .plural = "networks", .base = "/v2.0/networks",
                                       .item_key = "network", .list_key = "networks" };
    json_object *o;
    int rc = vmmk__os_find(&o, c, &l, id_or_name);
    if (rc)
        return rc;
    vmmk_cloud_network *n = calloc(1, sizeof *n);
    if (!n)
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    else if ((rc = parse_network(n, o)) != 0)
        free(n);
    else
        *out = n;
    json_object_put(o);
    return rc;
}

/* ---- subnets ----------------------------------------------------------- */

void vmmk_cloud_subnet_free(vmmk_cloud_subnet *s)
{
    if (!s)
        return;
    free(s->id);
    free(s->name);
    free(s->network_id);
    free(s->cidr);
    free(s->gateway_ip);
    free(s->raw_json);
    free(s);
}

static int parse_subnet(vmmk_cloud_subnet **out, json_object *o)
{
    *out = NULL;
    if (!o || !json_object_is_type(o, json_type_object) || !vmmk__jstr(o, "id"))
        return vmmk__err(VMMK_EREMOTE, "Neutron sent a subnet that is not an object with an id");
    vmmk_cloud_subnet *s = calloc(1, sizeof *s);
    if (!s)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    s->id = vmmk__jdup(o, "id");
    s->name = vmmk__jdup(o, "name");
    s->network_id = vmmk__jdup(o, "network_id");
    s->cidr = vmmk__jdup(o, "cidr");
    s->gateway_ip = vmmk__jdup(o, "gateway_ip");
    int64_t v = vmmk__jint(o, "ip_version", 0);
    s->ip_version = v == 4 || v == 6 ? (int32_t)v : 0;
    s->enable_dhcp = vmmk__jbool(o, "enable_dhcp", false);
    s->raw_json = vmmk__jraw(o);
    if (!s->id || !s->raw_json) {
        vmmk_cloud_subnet_free(s);
        return vmmk__err(VMMK_ENOMEM, "out of memory reading a subnet");
    }
    *out = s;
    return 0;
}

int vmmk_cloud_subnet_find(vmmk_cloud_subnet **out, vmmk_cloud *c, const char *id_or_name,
                           const char *network_id)
{
    if (!out)
        return vmmk__err(VMMK_EINVAL, "find subnet: out is NULL");
    *out = NULL;
    char *filter = NULL, *scope = NULL;
    if (network_id && *network_id) {
        char *esc = vmmk__os_escape(network_id);
        filter = esc ? vmmk__asprintf("network_id=%s", esc) : NULL;
        free(esc);
        scope = vmmk__asprintf("on network %s", network_id);
        if (!filter || !scope) {
            free(filter);
            free(scope);
            return vmmk__err(VMMK_ENOMEM, "out of memory");
        }
    }
    vmmk__os_lookup l = { .svc = VMMK__SVC_NETWORK, .kind = "subnet", .plural = "subnets",
                          .base = "/v2.0/subnets", .item_key = "subnet", .list_key = "subnets",
                          .filter = filter, .scope = scope };
    json_object *o;
    int rc = vmmk__os_find(&o, c, &l, id_or_name);
    free(filter);
    free(scope);
    if (rc)
        return rc;
    const char *net = vmmk__jstr(o, "network_id");
    if (network_id && *network_id && (!net || strcmp(net, network_id) != 0)) {
        /* Found by id, but on another network than the one asked for. */
        rc = vmmk__err(VMMK_ECONFLICT, "subnet %s is on network %s, not on network %s",
                       id_or_name, net ? net : "(unknown)", network_id);
    } else {
        rc = parse_subnet(out, o);
    }
    json_object_put(o);
    return rc;
}

/* ---- security groups --------------------------------------------------- */

int vmmk_cloud_security_group_find(char **out, vmmk_cloud *c, const char *id_or_name)
{
    if (!out || !c)
        return vmmk__err(VMMK_EINVAL, "find security group: %s is NULL",
                         out ? "the handle" : "out");
    *out = NULL;
    /* By name only within the caller's project: every project has a
     * group called "default", and an admin sees all of them. */
    pthread_mutex_lock(&c->lock);
    char *esc = c->project_id ? vmmk__os_escape(c->project_id) : NULL;
    pthread_mutex_unlock(&c->lock);
    char *filter = esc ? vmmk__asprintf("project_id=%s", esc) : NULL;
    free(esc);
    char *project = vmmk__os_project_label(c);
    char *scope = project ? vmmk__asprintf("in project %s", project) : NULL;
    free(project);
    vmmk__os_lookup l = { .svc = VMMK__SVC_NETWORK, .kind = "security group",
                          .plural = "security groups", .base = "/v2.0/security-groups",
                          .item_key = "security_group", .list_key = "security_groups",
                          .filter = filter, .scope = scope };
    json_object *o;
    int rc = vmmk__os_find(&o, c, &l, id_or_name);
    free(filter);
    free(scope);
    if (rc)
        return rc;
    if (!(*out = vmmk__jdup(o, "id")))
        rc = vmmk__err(VMMK_ENOMEM, "out of memory");
    json_object_put(o);
    return rc;
}
