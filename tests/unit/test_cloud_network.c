/* Neutron through libvmmk/cloud/network.c and port.c, against the
 * OpenStack sandbox (tests/openstack/ostack.sh) as the non-admin user of
 * project demo: its fixtures are net1 (shared, subnet sub1 10.0.0.0/24),
 * two networks named dupnet and the security group vmmk-sg.
 *
 * Neutron's default policy lets only a network's owner (or an admin)
 * choose a port's MAC and address, and net1 belongs to admin; so the
 * MAC/address/reuse cases run on a network the demo project makes for
 * this run (vmmk-t<pid>-net, with a 10.0.0.0/24 subnet), and net1 shows
 * the refusal.
 *
 * Everything made here is named vmmk-t<pid>-...; teardown deletes this
 * run's, and setup those of earlier runs whose process is gone (a run
 * that crashed), never those of a run going on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <vmmk/vmmk.h>

#include "cloud_fixture.h"

#define TEST_TAG "vmmk-test-network"

typedef struct fx {
    vmmk_cloud *c;
    char net1_id[64];
    char sub1_id[64];
    char sg_id[64];
    char own_net[64], own_net_id[64], own_sub[64], own_sub_id[64];
    bool own_ok;
} fx;

/* Error code and a piece of the message, with the message on failure. */
#define ASSERT_ERR(expr, code, piece)                                                      \
    do {                                                                                   \
        int rc_ = (expr);                                                                  \
        const char *m_ = vmmk_error_last()->message;                                       \
        if (rc_ != (code) || !strstr(m_, (piece)))                                         \
            fail_msg("%s -> %d (want %d) \"%s\" (want it to contain \"%s\")", #expr, rc_, \
                     (code), m_, (piece));                                                 \
    } while (0)

/* The "id"s and "name"s of a Neutron list (GET @p path, key @p key). */
static json_object *neutron_list(vmmk_cloud *c, const char *path, const char *key)
{
    char *body = NULL;
    if (vmmk_cloud_request(&body, NULL, c, "network", "GET", path, NULL))
        return NULL;
    json_object *root = json_tokener_parse(body), *items = NULL;
    vmmk_string_free(body);
    if (!root || !json_object_object_get_ex(root, key, &items)) {
        json_object_put(root);
        return NULL;
    }
    json_object_get(items);
    json_object_put(root);
    return items;
}

static const char *member(json_object *o, const char *key)
{
    json_object *v;
    return json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "";
}

/* True when @p name is vmmk-t<pid>-... of this process (@p mine) or of a
 * process that is gone (!mine). */
static bool sweepable(const char *name, bool mine)
{
    long pid = 0;
    if (sscanf(name, "vmmk-t%ld-", &pid) != 1 || pid <= 0)
        return false;
    if (mine)
        return pid == (long)getpid();
    return kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

static void sweep(vmmk_cloud *c, bool mine)
{
    json_object *ports = neutron_list(c, "/v2.0/ports?tags=" TEST_TAG, "ports");
    for (size_t i = 0; ports && i < json_object_array_length(ports); i++) {
        json_object *p = json_object_array_get_idx(ports, i);
        if (sweepable(member(p, "name"), mine))
            (void)vmmk_cloud_port_delete(c, member(p, "id"));
    }
    json_object_put(ports);
    json_object *nets = neutron_list(c, "/v2.0/networks?tags=" TEST_TAG, "networks");
    for (size_t i = 0; nets && i < json_object_array_length(nets); i++) {
        json_object *n = json_object_array_get_idx(nets, i);
        if (!sweepable(member(n, "name"), mine))
            continue;
        char path[160];
        snprintf(path, sizeof path, "/v2.0/ports?network_id=%s", member(n, "id"));
        json_object *left = neutron_list(c, path, "ports");
        for (size_t k = 0; left && k < json_object_array_length(left); k++)
            (void)vmmk_cloud_port_delete(c, member(json_object_array_get_idx(left, k), "id"));
        json_object_put(left);
        char *out = NULL;
        snprintf(path, sizeof path, "/v2.0/networks/%s", member(n, "id"));
        (void)vmmk_cloud_request(&out, NULL, c, "network", "DELETE", path, NULL);
        vmmk_string_free(out);
    }
    json_object_put(nets);
}

/* This run's own network and subnet (10.0.0.0/24, like sub1). */
static int make_own_network(fx *f)
{
    char body[512], *out = NULL, path[160];
    snprintf(f->own_net, sizeof f->own_net, "vmmk-t%ld-net", (long)getpid());
    snprintf(f->own_sub, sizeof f->own_sub, "vmmk-t%ld-sub", (long)getpid());
    snprintf(body, sizeof body, "{\"network\": {\"name\": \"%s\"}}", f->own_net);
    if (vmmk_cloud_request(&out, NULL, f->c, "network", "POST", "/v2.0/networks", body))
        return -1;
    json_object *o = json_tokener_parse(out), *n;
    vmmk_string_free(out);
    if (!o || !json_object_object_get_ex(o, "network", &n)) {
        json_object_put(o);
        return -1;
    }
    snprintf(f->own_net_id, sizeof f->own_net_id, "%s", member(n, "id"));
    json_object_put(o);
    snprintf(path, sizeof path, "/v2.0/networks/%s/tags/" TEST_TAG, f->own_net_id);
    if (vmmk_cloud_request(&out, NULL, f->c, "network", "PUT", path, NULL))
        return -1;
    vmmk_string_free(out);
    snprintf(body, sizeof body,
             "{\"subnet\": {\"name\": \"%s\", \"network_id\": \"%s\", \"ip_version\": 4, "
             "\"cidr\": \"10.0.0.0/24\", \"enable_dhcp\": false}}",
             f->own_sub, f->own_net_id);
    if (vmmk_cloud_request(&out, NULL, f->c, "network", "POST", "/v2.0/subnets", body))
        return -1;
    o = json_tokener_parse(out);
    vmmk_string_free(out);
    if (!o || !json_object_object_get_ex(o, "subnet", &n)) {
        json_object_put(o);
        return -1;
    }
    snprintf(f->own_sub_id, sizeof f->own_sub_id, "%s", member(n, "id"));
    json_object_put(o);
    return 0;
}

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    *state = f;
    if (!getenv("VMMK_OS_CLOUDS") && !getenv("VMMK_REQUIRE_OPENSTACK"))
        return 0;   /* each test skips with the reason */
    vmmk_cloud_options o = VMMK_CLOUD_OPTIONS_INIT;
    o.cloud = "vmmk-demo";
    o.clouds_file = getenv("VMMK_OS_CLOUDS");
    o.timeout = 120;
    if (vmmk_cloud_open(&f->c, &o) != 0) {
        fprintf(stderr, "vmmk_cloud_open(vmmk-demo): %s\n", vmmk_error_last()->message);
        return 0;   /* the tests then fail through cloud_fixture_open */
    }
    sweep(f->c, false);
    f->own_ok = make_own_network(f) == 0;
    if (!f->own_ok)
        fprintf(stderr, "cannot make this run's network: %s\n", vmmk_error_last()->message);
    vmmk_cloud_network *n = NULL;
    vmmk_cloud_subnet *s = NULL;
    char *sg = NULL;
    if (vmmk_cloud_network_find(&n, f->c, "net1") == 0)
        snprintf(f->net1_id, sizeof f->net1_id, "%s", n->id);
    if (vmmk_cloud_subnet_find(&s, f->c, "sub1", NULL) == 0)
        snprintf(f->sub1_id, sizeof f->sub1_id, "%s", s->id);
    if (vmmk_cloud_security_group_find(&sg, f->c, "vmmk-sg") == 0)
        snprintf(f->sg_id, sizeof f->sg_id, "%s", sg);
    vmmk_cloud_network_free(n);
    vmmk_cloud_subnet_free(s);
    vmmk_string_free(sg);
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    if (f->c) {
        sweep(f->c, true);
        vmmk_cloud_free(f->c);
    }
    free(f);
    return 0;
}

/* The handle, or skip/fail as cloud_fixture says. */
static vmmk_cloud *cloud(fx *f)
{
    if (!f->c)
        f->c = cloud_fixture_open("vmmk-demo");
    return f->c;
}

/* ---- networks ---------------------------------------------------------- */

static void test_network_list(void **state)
{
    fx *f = *state;
    vmmk_cloud *c = cloud(f);
    vmmk_cloud_network_list *l = NULL;
    CLOUD_OK(vmmk_cloud_network_list_get(&l, c));
    int net1 = 0, dup = 0;
    for (size_t i = 0; i < l->n; i++) {
        assert_non_null(l->items[i].id);
        assert_non_null(l->items[i].raw_json);
        if (l->items[i].name && strcmp(l->items[i].name, "net1") == 0)
            net1++;
        if (l->items[i].name && strcmp(l->items[i].name, "dupnet") == 0)
            dup++;
    }
    assert_int_equal(net1, 1);
    assert_int_equal(dup, 2);
    char *json = NULL;
    CLOUD_OK(vmmk_cloud_network_list_to_json(&json, l, 0));
    json_object *o = json_tokener_parse(json), *arr;
    assert_non_null(o);
    assert_true(json_object_object_get_ex(o, "networks", &arr));
    assert_int_equal(json_object_array_length(arr), l->n);
    json_object_put(o);
    vmmk_string_free(json);
    vmmk_cloud_network_list_free(l);
}

static void test_network_find(void **state)
{
    fx *f = *state;
    vmmk_cloud *c = cloud(f);
    vmmk_cloud_network *n = NULL, *m = NULL;
    CLOUD_OK(vmmk_cloud_network_find(&n, c, "net1"));
    assert_string_equal(n->name, "net1");
    assert_true(n->shared);
    assert_false(n->external);
    assert_string_equal(n->status, "ACTIVE");
    assert_true(n->mtu > 0);
    assert_int_equal(n->n_subnet_ids, 1);
    assert_string_equal(n->subnet_ids[0], f->sub1_id);
    assert_non_null(strstr(n->raw_json, "\"router:external\""));
    CLOUD_OK(vmmk_cloud_network_find(&m, c, n->id));
    assert_string_equal(m->id, n->id);
    assert_string_equal(m->name, "net1");
    vmmk_cloud_network_free(m);
    vmmk_cloud_network_free(n);

    /* Two networks named dupnet: the error lists both ids. */
    vmmk_cloud_network_list *l = NULL;
    CLOUD_OK(vmmk_cloud_network_list_get(&l, c));
    n = NULL;
    ASSERT_ERR(vmmk_cloud_network_find(&n, c, "dupnet"), VMMK_ECONFLICT,
               "network name \"dupnet\" is ambiguous: 2 networks (ids ");
    assert_null(n);
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].name && strcmp(l->items[i].name, "dupnet") == 0)
            assert_non_null(strstr(vmmk_error_last()->message, l->items[i].id));
    vmmk_cloud_network_list_free(l);

    ASSERT_ERR(vmmk_cloud_network_find(&n, c, "no-such-net"), VMMK_ENOTFOUND,
               "no network named \"no-such-net\" visible to project demo");
    ASSERT_ERR(vmmk_cloud_network_find(&n, c, "0b0e3c4d-0000-4000-8000-000000000000"),
               VMMK_ENOTFOUND, "\"0b0e3c4d-0000-4000-8000-000000000000\"");
    ASSERT_ERR(vmmk_cloud_network_find(&n, c, ""), VMMK_EINVAL, "no id or name");
    assert_null(n);
}

static void test_subnet_and_security_group(void **state)
{
    fx *f = *state;
    vmmk_cloud *c = cloud(f);
    vmmk_cloud_subnet *s = NULL;
    CLOUD_OK(vmmk_cloud_subnet_find(&s, c, "sub1", f->net1_id));
    assert_string_equal(s->cidr, "10.0.0.0/24");
    assert_int_equal(s->ip_version, 4);
    assert_string_equal(s->network_id, f->net1_id);
    assert_string_equal(s->name, "sub1");
    assert_non_null(s->raw_json);
    vmmk_cloud_subnet *t = NULL;
    CLOUD_OK(vmmk_cloud_subnet_find(&t, c, s->id, NULL));
    assert_string_equal(t->id, s->id);
    vmmk_cloud_subnet_free(t);
    vmmk_cloud_subnet_free(s);
    /* sub1 exists, but not on a dupnet network. */
    vmmk_cloud_network_list *l = NULL;
    CLOUD_OK(vmmk_cloud_network_list_get(&l, c));
    const char *dup_id = NULL;
    for (size_t i = 0; i < l->n; i++)
        if (l->items[i].name && strcmp(l->items[i].name, "dupnet") == 0)
            dup_id = l->items[i].id;
    assert_non_null(dup_id);
    t = NULL;
    ASSERT_ERR(vmmk_cloud_subnet_find(&t, c, "sub1", dup_id), VMMK_ENOTFOUND, dup_id);
    ASSERT_ERR(vmmk_cloud_subnet_find(&t, c, f->sub1_id, dup_id), VMMK_ECONFLICT,
               "not on network");
    assert_null(t);
    vmmk_cloud_network_list_free(l);

    char *sg = NULL, *dflt = NULL, *again = NULL;
    CLOUD_OK(vmmk_cloud_security_group_find(&sg, c, "vmmk-sg"));
    CLOUD_OK(vmmk_cloud_security_group_find(&dflt, c, "default"));
    assert_int_equal(strlen(sg), 36);
    assert_int_equal(strlen(dflt), 36);
    assert_string_not_equal(sg, dflt);
    CLOUD_OK(vmmk_cloud_security_group_find(&again, c, sg));
    assert_string_equal(again, sg);
    vmmk_string_free(sg);
    vmmk_string_free(dflt);
    vmmk_string_free(again);
    ASSERT_ERR(vmmk_cloud_security_group_find(&sg, c, "no-such-sg"), VMMK_ENOTFOUND,
               "no security group named \"no-such-sg\" in project demo");
}

/* ---- ports ------------------------------------------------------------- */

static void random_mac(char *buf, size_t n)
{
    snprintf(buf, n, "fa:16:3e:%02x:%02x:%02x", rand() & 0xff, rand() & 0xff, rand() & 0xff);
}

static bool has(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static void test_port_lifecycle(void **state)
{
    fx *f = *state;
    vmmk_cloud *c = cloud(f);
    if (!f->own_ok)
        fail_msg("this run's network could not be made (see above)");
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    char mac[32], ip[32], fixed[128], mac_upper[32], run_tag[64];
    const char *name = cloud_fixture_name("port");
    random_mac(mac, sizeof mac);
    snprintf(ip, sizeof ip, "10.0.0.%d", 100 + rand() % 150);
    snprintf(fixed, sizeof fixed, "subnet=%s,ip-address=%s", f->own_sub, ip);
    snprintf(run_tag, sizeof run_tag, "run-%ld", (long)getpid());
    const char *tags[] = { TEST_TAG, run_tag };
    const char *sgs[] = { "vmmk-sg" };
    const char *ips[] = { fixed };
    vmmk_cloud_port_spec spec = VMMK_CLOUD_PORT_CREATE_INIT;
    spec.network = f->own_net;
    spec.name = name;
    spec.mac_address = mac;
    spec.fixed_ips = ips;
    spec.n_fixed_ips = 1;
    spec.security_groups = sgs;
    spec.n_security_groups = 1;
    spec.tags = tags;
    spec.n_tags = 2;
    spec.description = "made by test_cloud_network";
    vmmk_cloud_port *p = NULL;
    CLOUD_OK(vmmk_cloud_port_create(&p, c, &spec));
    assert_string_equal(p->name, name);
    assert_string_equal(p->network_id, f->own_net_id);
    assert_string_equal(p->mac_address, mac);
    assert_int_equal(p->n_fixed_ips, 1);
    assert_string_equal(p->fixed_ips[0].ip_address, ip);
    assert_string_equal(p->fixed_ips[0].subnet_id, f->own_sub_id);
    assert_int_equal(p->n_security_group_ids, 1);
    assert_string_equal(p->security_group_ids[0], f->sg_id);
    assert_int_equal(p->n_tags, 2);
    assert_true(has(p->tags, p->n_tags, TEST_TAG) && has(p->tags, p->n_tags, run_tag));
    assert_true(!p->device_id || !*p->device_id);
    assert_non_null(strstr(p->raw_json, "made by test_cloud_network"));
    assert_non_null(strstr(p->raw_json, run_tag));
    char *json = NULL;
    CLOUD_OK(vmmk_cloud_port_to_json(&json, p, VMMK_JSON_PRETTY));
    assert_non_null(strstr(json, mac));
    vmmk_string_free(json);

    /* The same MAC again (written in capitals), the address given plain
     * (Neutron picks the subnet). */
    for (size_t i = 0; i == 0 || mac[i - 1]; i++)
        mac_upper[i] = (char)(mac[i] >= 'a' && mac[i] <= 'f' ? mac[i] - 32 : mac[i]);
    const char *plain_ip[] = { ip };
    vmmk_cloud_port_spec again = VMMK_CLOUD_PORT_CREATE_INIT;
    again.network = f->own_net_id;
    again.name = name;
    again.mac_address = mac_upper;
    again.fixed_ips = plain_ip;
    again.n_fixed_ips = 1;
    again.tags = tags;
    again.n_tags = 1;
    vmmk_cloud_port *q = NULL;
    ASSERT_ERR(vmmk_cloud_port_create(&q, c, &again), VMMK_EEXISTS, "create port");
    assert_null(q);
    assert_string_equal(vmmk_error_last()->fault, "MacAddressInUse");
    again.reuse = true;
    CLOUD_OK(vmmk_cloud_port_create(&q, c, &again));
    assert_string_equal(q->id, p->id);
    vmmk_cloud_port_free(q);
    q = NULL;
    /* Reuse, but another address or a tag the port lacks: a conflict that
     * names the difference. */
    char other[32];
    snprintf(other, sizeof other, "10.0.0.%d", strcmp(ip, "10.0.0.99") ? 99 : 98);
    const char *other_ip[] = { other };
    again.fixed_ips = other_ip;
    ASSERT_ERR(vmmk_cloud_port_create(&q, c, &again), VMMK_ECONFLICT, other);
    assert_non_null(strstr(vmmk_error_last()->message, p->id));
    assert_non_null(strstr(vmmk_error_last()->message, ip));
    const char *more_tags[] = { TEST_TAG, "not-on-the-port" };
    again.fixed_ips = plain_ip;
    again.tags = more_tags;
    again.n_tags = 2;
    ASSERT_ERR(vmmk_cloud_port_create(&q, c, &again), VMMK_ECONFLICT, "\"not-on-the-port\"");
    assert_null(q);
    /* Reuse by tags alone (no MAC). */
    const char *by_tag[] = { run_tag };
    vmmk_cloud_port_spec tagged = VMMK_CLOUD_PORT_CREATE_INIT;
    tagged.network = f->own_net;
    tagged.tags = by_tag;
    tagged.n_tags = 1;
    tagged.reuse = true;
    CLOUD_OK(vmmk_cloud_port_create(&q, c, &tagged));
    assert_string_equal(q->id, p->id);
    vmmk_cloud_port_free(q);
    q = NULL;

    /* Finding it. */
    CLOUD_OK(vmmk_cloud_port_find(&q, c, mac_upper, NULL, 0, NULL));
    assert_string_equal(q->id, p->id);
    vmmk_cloud_port_free(q);
    q = NULL;
    CLOUD_OK(vmmk_cloud_port_find(&q, c, NULL, by_tag, 1, f->own_net_id));
    assert_string_equal(q->id, p->id);
    vmmk_cloud_port_free(q);
    q = NULL;
    CLOUD_OK(vmmk_cloud_port_find(&q, c, mac, tags, 2, f->own_net_id));
    assert_string_equal(q->id, p->id);
    vmmk_cloud_port_free(q);
    q = NULL;
    const char *absent[] = { run_tag, "absent-tag" };
    ASSERT_ERR(vmmk_cloud_port_find(&q, c, mac, absent, 2, NULL), VMMK_ENOTFOUND, "absent-tag");
    ASSERT_ERR(vmmk_cloud_port_find(&q, c, mac, NULL, 0, f->net1_id), VMMK_ENOTFOUND, mac);
    CLOUD_OK(vmmk_cloud_port_get(&q, c, p->id));
    assert_string_equal(q->mac_address, mac);
    vmmk_cloud_port_free(q);
    q = NULL;
    CLOUD_OK(vmmk_cloud_port_get(&q, c, name));
    assert_string_equal(q->id, p->id);
    vmmk_cloud_port_free(q);
    q = NULL;

    /* Once a server uses it, reuse is a conflict naming the server. */
    const char *server = "5d1f0a3e-7b2c-4c9d-8e6f-0a1b2c3d4e5f";
    char path[128], body[256], *out = NULL;
    snprintf(path, sizeof path, "/v2.0/ports/%s", p->id);
    snprintf(body, sizeof body,
             "{\"port\": {\"device_id\": \"%s\", \"device_owner\": \"compute:nova\"}}", server);
    CLOUD_OK(vmmk_cloud_request(&out, NULL, c, "network", "PUT", path, body));
    vmmk_string_free(out);
    again.tags = tags;
    again.n_tags = 1;
    ASSERT_ERR(vmmk_cloud_port_create(&q, c, &again), VMMK_ECONFLICT, server);
    assert_non_null(strstr(vmmk_error_last()->message, "in use by server"));
    assert_null(q);

    /* Deleting, twice. */
    CLOUD_OK(vmmk_cloud_port_delete(c, p->id));
    CLOUD_OK(vmmk_cloud_port_delete(c, p->id));
    ASSERT_ERR(vmmk_cloud_port_get(&q, c, p->id), VMMK_ENOTFOUND, p->id);
    vmmk_cloud_port_free(p);
}

/* On the shared net1 (admin's): a port in sub1 with the group and tags
 * is fine; choosing its MAC is refused by Neutron's policy. */
static void test_port_shared_network(void **state)
{
    fx *f = *state;
    vmmk_cloud *c = cloud(f);
    const char *tags[] = { TEST_TAG };
    const char *sgs[] = { f->sg_id };
    const char *ips[] = { "subnet=sub1" };
    vmmk_cloud_port_spec spec = VMMK_CLOUD_PORT_CREATE_INIT;
    spec.network = "net1";
    spec.name = cloud_fixture_name("port");
    spec.fixed_ips = ips;
    spec.n_fixed_ips = 1;
    spec.security_groups = sgs;
    spec.n_security_groups = 1;
    spec.tags = tags;
    spec.n_tags = 1;
    vmmk_cloud_port *p = NULL;
    CLOUD_OK(vmmk_cloud_port_create(&p, c, &spec));
    assert_string_equal(p->network_id, f->net1_id);
    assert_int_equal(p->n_fixed_ips, 1);
    assert_string_equal(p->fixed_ips[0].subnet_id, f->sub1_id);
    assert_int_equal(strncmp(p->fixed_ips[0].ip_address, "10.0.0.", 7), 0);
    assert_int_equal(p->n_tags, 1);
    assert_string_equal(p->tags[0], TEST_TAG);
    CLOUD_OK(vmmk_cloud_port_delete(c, p->id));
    vmmk_cloud_port_free(p);
    p = NULL;

    char mac[32];
    random_mac(mac, sizeof mac);
    spec.mac_address = mac;
    ASSERT_ERR(vmmk_cloud_port_create(&p, c, &spec), VMMK_EAUTH, "mac_address");
    assert_int_equal(vmmk_error_last()->http_status, 403);
    assert_null(p);
}

static void test_port_bad_input(void **state)
{
    fx *f = *state;
    vmmk_cloud *c = cloud(f);
    vmmk_cloud_port *p = NULL;
    vmmk_cloud_port_spec spec = VMMK_CLOUD_PORT_CREATE_INIT;
    spec.name = "x";
    ASSERT_ERR(vmmk_cloud_port_create(&p, c, &spec), VMMK_EINVAL, "no network given");
    spec.network = "dupnet";
    ASSERT_ERR(vmmk_cloud_port_create(&p, c, &spec), VMMK_ECONFLICT, "ambiguous");
    spec.network = "net1";
    const char *bad[] = { "subnet=sub1,ip=10.0.0.5" };
    spec.fixed_ips = bad;
    spec.n_fixed_ips = 1;
    ASSERT_ERR(vmmk_cloud_port_create(&p, c, &spec), VMMK_EINVAL, "unknown key \"ip\"");
    const char *nosub[] = { "subnet=no-such-subnet,ip-address=10.0.0.5" };
    spec.fixed_ips = nosub;
    ASSERT_ERR(vmmk_cloud_port_create(&p, c, &spec), VMMK_ENOTFOUND, "no-such-subnet");
    spec.fixed_ips = NULL;
    spec.n_fixed_ips = 0;
    const char *nosg[] = { "no-such-sg" };
    spec.security_groups = nosg;
    spec.n_security_groups = 1;
    ASSERT_ERR(vmmk_cloud_port_create(&p, c, &spec), VMMK_ENOTFOUND, "no-such-sg");
    assert_null(p);
    ASSERT_ERR(vmmk_cloud_port_delete(c, ""), VMMK_EINVAL, "no id");
}

int main(void)
{
    /* The sandbox keeps passwords in a secure.yaml beside its clouds.yaml,
     * which the loader finds through this variable. */
    const char *sec = getenv("VMMK_OS_SECURE");
    if (sec && *sec)
        setenv("OS_CLIENT_SECURE_FILE", sec, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_list),
        cmocka_unit_test(test_network_find),
        cmocka_unit_test(test_subnet_and_security_group),
        cmocka_unit_test(test_port_lifecycle),
        cmocka_unit_test(test_port_shared_network),
        cmocka_unit_test(test_port_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
