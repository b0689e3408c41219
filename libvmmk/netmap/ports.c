/* Port planning: a VM's NICs + a network map -> Neutron port specs
 * (docs/network-mapping.md). */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/internal.h"
#include "../common/json.h"
#include "../model/model.h"
#include "netmap_int.h"

/* Neutron refuses longer tags. */
#define TAG_MAX 255

/* What one NIC ends up with after matching. */
typedef struct resolved {
    const char *network;
    const char *subnet;
    char *const *groups;
    size_t n_groups;
    bool fixed_ips;
} resolved;

static void spec_clear(vmmk_port_spec *p)
{
    free(p->name);
    free(p->mac);
    free(p->network);
    free(p->subnet);
    for (size_t i = 0; i < p->n_fixed_ips; i++) {
        free(p->fixed_ips[i].ip_address);
        free(p->fixed_ips[i].subnet);
    }
    free(p->fixed_ips);
    for (size_t i = 0; i < p->n_security_groups; i++)
        free(p->security_groups[i]);
    free(p->security_groups);
    for (size_t i = 0; i < p->n_tags; i++)
        free(p->tags[i]);
    free(p->tags);
    free(p->nic_label);
    memset(p, 0, sizeof *p);
}

void vmmk_port_plan_free(vmmk_port_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n_ports; i++)
        spec_clear(&plan->ports[i]);
    free(plan->ports);
    free(plan);
}

static const vmmk__netmap_entry *find_entry(const vmmk_netmap *map, const char *key)
{
    if (!key)
        return NULL;
    for (size_t i = 0; i < map->n_entries; i++)
        if (strcmp(map->entries[i].key, key) == 0)
            return &map->entries[i];
    return NULL;
}

/* 0 when the NIC matches nothing and there is no default. */
static int resolve(resolved *r, const vmmk_netmap *map, const vmmk_nic *nic)
{
    /* The portgroup key is unique within a vCenter while portgroup names
     * repeat across distributed switches, so the key is the better match. */
    const vmmk__netmap_entry *e = find_entry(map, nic->portgroup_key);
    if (!e)
        e = find_entry(map, nic->network);
    if (!e && !map->default_network)
        return 0;
    r->network = e ? e->network : map->default_network;
    r->subnet = e ? e->subnet : NULL;
    if (e && e->has_security_groups) {
        r->groups = e->security_groups;
        r->n_groups = e->n_security_groups;
    } else {
        r->groups = map->security_groups;
        r->n_groups = map->n_security_groups;
    }
    r->fixed_ips = e && e->fixed_ips != VMMK__FIXED_IPS_INHERIT ? e->fixed_ips == 1 : map->fixed_ips;
    return 1;
}

/* Whether a guest address can be asked of Neutron.  Link-local, loopback,
 * multicast and unspecified addresses exist on every guest and mean
 * nothing to Neutron; a port request with one of them fails.  fec0::/10
 * (deprecated site-local) and IPv4-mapped IPv6 are not global either.
 * ULAs (fc00::/7) are routable inside a site and Neutron subnets use them,
 * so they stay. */
static int ip_usable(int family, const unsigned char *b)
{
    static const unsigned char zero[16];
    if (family == 4)
        return b[0] != 0 && b[0] != 127 && !(b[0] == 169 && b[1] == 254) &&
               !(b[0] >= 224 && b[0] <= 239) && memcmp(b, "\xff\xff\xff\xff", 4) != 0;
    if (memcmp(b, zero, 15) == 0 && b[15] <= 1)
        return 0;                                          /* :: and ::1 */
    if (b[0] == 0xff)
        return 0;                                          /* multicast */
    if (b[0] == 0xfe && (b[1] & 0x80))
        return 0;                                          /* fe80::/10, fec0::/10 */
    if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
        return 0;                                          /* ::ffff:0:0/96 */
    return 1;
}

static int add_fixed_ips(vmmk_port_spec *ps, const vmmk_nic *nic, const char *subnet)
{
    if (!nic->n_ips)
        return 0;
    if (!(ps->fixed_ips = calloc(nic->n_ips, sizeof *ps->fixed_ips)))
        return VMMK_ENOMEM;
    for (size_t i = 0; i < nic->n_ips; i++) {
        char addr[64], canon[INET6_ADDRSTRLEN];
        unsigned char bin[16];
        int family = 0;
        /* The VM was validated, so a parse failure cannot happen; skip
         * rather than trust a half-parsed address. */
        if (!vmmk__ip_parse(nic->ips[i], &family, addr, NULL, NULL))
            continue;
        int af = family == 4 ? AF_INET : AF_INET6;
        if (inet_pton(af, addr, bin) != 1 || !ip_usable(family, bin))
            continue;
        /* The canonical text makes "2001:DB8::1" and "2001:db8:0::1" one
         * address, and is what Neutron will report back. */
        if (!inet_ntop(af, bin, canon, sizeof canon))
            continue;
        size_t j = 0;
        while (j < ps->n_fixed_ips && strcmp(ps->fixed_ips[j].ip_address, canon) != 0)
            j++;
        if (j < ps->n_fixed_ips)
            continue;
        vmmk_fixed_ip *f = &ps->fixed_ips[ps->n_fixed_ips];
        if (!(f->ip_address = strdup(canon)))
            return VMMK_ENOMEM;
        ps->n_fixed_ips++;
        if (subnet && !(f->subnet = strdup(subnet)))
            return VMMK_ENOMEM;
    }
    return 0;
}

/* A tag Neutron accepts and that can be used in a list filter: '/' would
 * break the tag URL (PUT .../tags/{tag}) and ',' separates values in
 * ?tags=a,b, so both become '_'.  Cut at a UTF-8 boundary. */
static char *make_tag(const char *fmt, ...) VMMK_PRINTF(1, 2);
static char *make_tag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *t = vmmk__vasprintf(fmt, ap);
    va_end(ap);
    if (!t)
        return NULL;
    for (char *p = t; *p; p++)
        if (*p == '/' || *p == ',')
            *p = '_';
    size_t len = strlen(t);
    if (len > TAG_MAX) {
        len = TAG_MAX;
        while (len > 0 && ((unsigned char)t[len] & 0xC0) == 0x80)
            len--;
        t[len] = '\0';
    }
    return t;
}

/* "<vm>-nic<N>", sanitized as one string.  The joiner is a space, which
 * the sanitizer turns into the '-': a literal '-' after a name ending in a
 * separator ("web (prod)") would come out as "web-prod--nic0".  When the
 * VM name is so long that the cut would eat the suffix, the name is
 * shortened instead: otherwise every port of the VM would get one name. */
static int port_name(char **out, const char *vm_name, size_t index)
{
    char suffix[32];
    snprintf(suffix, sizeof suffix, "nic%zu", index);
    char *full = vmmk__asprintf("%s %s", vm_name, suffix);
    if (!full)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    char *s = NULL;
    int rc = vmmk_name_sanitize(&s, full, VMMK_NAME_MAX);
    free(full);
    if (rc)
        return rc;
    if (strlen(s) <= VMMK_NAME_DEFAULT_MAX) {
        *out = s;
        return 0;
    }
    free(s);
    char *base = NULL;
    if ((rc = vmmk_name_sanitize(&base, vm_name, VMMK_NAME_DEFAULT_MAX - strlen(suffix) - 1)))
        return rc;
    *out = vmmk__asprintf("%s-%s", base, suffix);
    free(base);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory");
}

static int build_port(vmmk_port_spec *ps, const vmmk_vm *vm, size_t index, const resolved *r)
{
    const vmmk_nic *nic = &vm->nics[index];
    int rc = port_name(&ps->name, vm->name, index);
    if (rc)
        return rc;
    ps->nic_key = nic->key;
    if (!(ps->mac = strdup(nic->mac)) || !(ps->network = strdup(r->network)) ||
        (r->subnet && !(ps->subnet = strdup(r->subnet))) ||
        (nic->label && !(ps->nic_label = strdup(nic->label))))
        goto nomem;
    if (r->fixed_ips && add_fixed_ips(ps, nic, r->subnet))
        goto nomem;
    if (r->n_groups) {
        if (!(ps->security_groups = calloc(r->n_groups, sizeof *ps->security_groups)))
            goto nomem;
        for (size_t i = 0; i < r->n_groups; i++) {
            if (!(ps->security_groups[i] = strdup(r->groups[i])))
                goto nomem;
            ps->n_security_groups++;
        }
    }
    if (!(ps->tags = calloc(3, sizeof *ps->tags)))
        goto nomem;
    /* The instance uuid is what vCenter guarantees unique; the BIOS uuid
     * is copied along with cloned VMs. */
    const char *id = vm->instance_uuid ? vm->instance_uuid : vm->uuid;
    char *tags[3] = {
        make_tag("%s", VMMK_TAG_PREFIX),
        make_tag("%s-vm=%s", VMMK_TAG_PREFIX, id),
        make_tag("%s-nic=%" PRId32, VMMK_TAG_PREFIX, nic->key),
    };
    for (size_t i = 0; i < 3; i++) {
        ps->tags[i] = tags[i];
        ps->n_tags++;
    }
    if (!tags[0] || !tags[1] || !tags[2])
        goto nomem;
    return 0;
nomem:
    return vmmk__err(VMMK_ENOMEM, "out of memory");
}

/* One "label (mac) on network ..." item of the unmapped message. */
static void describe_nic(vmmk__buf *b, const vmmk_nic *nic)
{
    if (nic->label)
        vmmk__buf_printf(b, "\"%s\"", nic->label);
    else
        vmmk__buf_printf(b, "NIC with key %" PRId32, nic->key);
    vmmk__buf_printf(b, " (%s) on network \"%s\"", nic->mac, nic->network);
    if (nic->portgroup_key)
        vmmk__buf_printf(b, " [portgroup %s]", nic->portgroup_key);
}

int vmmk_netmap_apply(vmmk_port_plan **out, const vmmk_netmap *map, const vmmk_vm *vm)
{
    if (!out || !map || !vm)
        return vmmk__err(VMMK_EINVAL, "vmmk_netmap_apply: %s is NULL",
                         !out ? "out" : !map ? "map" : "vm");
    *out = NULL;
    if (vmmk_vm_validate(vm))
        return vmmk__err_prefix("VM \"%s\"", vm->name ? vm->name : "(unnamed)");

    resolved *res = vm->n_nics ? calloc(vm->n_nics, sizeof *res) : NULL;
    if (vm->n_nics && !res)
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    /* Every unmapped NIC is named at once: fixing a map one NIC per run is
     * slow when a VM has many. */
    vmmk__buf missing = { 0 };
    size_t n_missing = 0;
    for (size_t i = 0; i < vm->n_nics; i++) {
        if (resolve(&res[i], map, &vm->nics[i]))
            continue;
        if (n_missing++)
            vmmk__buf_puts(&missing, "; ");
        describe_nic(&missing, &vm->nics[i]);
    }
    int rc = 0;
    if (n_missing) {
        char *list = vmmk__buf_take(&missing);
        rc = list ? vmmk__err(VMMK_EUNMAPPED,
                              "%zu NIC%s match%s no entry of the network map and there is no "
                              "\"default\": %s",
                              n_missing, n_missing == 1 ? "" : "s", n_missing == 1 ? "es" : "", list)
                  : vmmk__err(VMMK_ENOMEM, "out of memory");
        free(list);
        free(res);
        return rc;
    }

    vmmk_port_plan *plan = calloc(1, sizeof *plan);
    if (!plan || (vm->n_nics && !(plan->ports = calloc(vm->n_nics, sizeof *plan->ports)))) {
        free(plan);
        free(res);
        return vmmk__err(VMMK_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < vm->n_nics && !rc; i++) {
        plan->n_ports++;
        rc = build_port(&plan->ports[i], vm, i, &res[i]);
    }
    free(res);
    if (rc) {
        vmmk_port_plan_free(plan);
        return rc;
    }
    *out = plan;
    return 0;
}

/* ---- JSON ------------------------------------------------------------- */

static json_object *string_array(char *const *items, size_t n)
{
    json_object *a = json_object_new_array();
    for (size_t i = 0; a && i < n; i++) {
        json_object *s = json_object_new_string(items[i]);
        if (!s || json_object_array_add(a, s)) {
            json_object_put(s);
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

/* Takes ownership of @p v whatever happens. */
static int add(json_object *o, const char *key, json_object *v)
{
    if (v && json_object_object_add(o, key, v) == 0)
        return 0;
    json_object_put(v);
    return VMMK_ENOMEM;
}

static json_object *port_to_object(const vmmk_port_spec *p)
{
    json_object *o = json_object_new_object(), *ips;
    if (!o)
        return NULL;
    if (vmmk__json_add_string(o, "name", p->name) || vmmk__json_add_string(o, "mac", p->mac) ||
        vmmk__json_add_string(o, "network", p->network) ||
        vmmk__json_add_string(o, "subnet", p->subnet) ||
        add(o, "fixed_ips", ips = json_object_new_array()))
        goto nomem;
    for (size_t i = 0; i < p->n_fixed_ips; i++) {
        json_object *f = json_object_new_object();
        if (!f || json_object_array_add(ips, f)) {
            json_object_put(f);
            goto nomem;
        }
        if (vmmk__json_add_string(f, "ip_address", p->fixed_ips[i].ip_address) ||
            vmmk__json_add_string(f, "subnet", p->fixed_ips[i].subnet))
            goto nomem;
    }
    if (add(o, "security_groups", string_array(p->security_groups, p->n_security_groups)) ||
        add(o, "tags", string_array(p->tags, p->n_tags)) ||
        add(o, "nic_key", json_object_new_int(p->nic_key)) ||
        vmmk__json_add_string(o, "nic_label", p->nic_label))
        goto nomem;
    return o;
nomem:
    json_object_put(o);
    return NULL;
}

int vmmk_port_plan_to_json(char **out, const vmmk_port_plan *plan, unsigned flags)
{
    if (!out || !plan)
        return vmmk__err(VMMK_EINVAL, "vmmk_port_plan_to_json: %s is NULL", out ? "plan" : "out");
    *out = NULL;
    json_object *root = json_object_new_object(), *ports;
    if (!root || add(root, "ports", ports = json_object_new_array()))
        goto nomem;
    for (size_t i = 0; i < plan->n_ports; i++) {
        json_object *p = port_to_object(&plan->ports[i]);
        if (!p || json_object_array_add(ports, p)) {
            json_object_put(p);
            goto nomem;
        }
    }
    *out = vmmk__json_dump(root, flags);
    json_object_put(root);
    return *out ? 0 : vmmk__err(VMMK_ENOMEM, "out of memory writing the port plan");
nomem:
    json_object_put(root);
    return vmmk__err(VMMK_ENOMEM, "out of memory writing the port plan");
}
