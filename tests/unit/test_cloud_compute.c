/* Nova through vmmk (libvmmk/cloud/compute*.c) against the real OpenStack
 * sandbox (tests/openstack/ostack.sh): flavors (list, paging, get, create
 * with extra specs and project access, policy and duplicate errors,
 * rollback), a boot-from-volume server through its whole life (create,
 * wait, get by name, stop/start twice, attach/detach a second volume,
 * delete), a server the scheduler refuses (m1.nohost), and the local
 * server id (given, and from a metadata service played by a small HTTP
 * server in a thread of this test).
 *
 * Volumes and ports are made with raw vmmk_cloud_request() calls so that
 * this test depends on Nova's part of vmmk only.  Everything is created
 * under the name prefix "vmmk-t<pid>-cmp"; the teardowns delete it, and a
 * later run deletes what a crashed run (a pid no longer alive) left.
 * Servers run in the admin project so that the demo project's small
 * quotas stay for the tests that are about them. */
#include "cloud_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>

#include <json-c/json.h>

#include "cloud/cloud_int.h"

/* ---- raw helpers ------------------------------------------------------- */

/* A raw call that must succeed; its JSON answer (NULL when empty). */
static json_object *req(vmmk_cloud *c, const char *svc, const char *method, const char *path,
                        const char *body)
{
    char *out = NULL;
    int rc = vmmk_cloud_request(&out, NULL, c, svc, method, path, body);
    if (rc)
        fail_msg("%s %s %s -> %d: %s", svc, method, path, rc, vmmk_error_last()->message);
    json_object *o = out && *out ? json_tokener_parse(out) : NULL;
    vmmk_string_free(out);
    return o;
}

/* A raw call whose failure is only logged (clean-up). */
static void req_quiet(vmmk_cloud *c, const char *svc, const char *method, const char *path)
{
    char *out = NULL;
    if (vmmk_cloud_request(&out, NULL, c, svc, method, path, NULL) != 0)
        fprintf(stderr, "cleanup %s %s: %s\n", method, path, vmmk_error_last()->message);
    vmmk_string_free(out);
}

static const char *jget(json_object *o, const char *k1, const char *k2)
{
    json_object *v = o;
    if (k1 && !json_object_object_get_ex(v, k1, &v))
        return NULL;
    if (k2 && !json_object_object_get_ex(v, k2, &v))
        return NULL;
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Status of a volume ("" when it is gone); *attached_to the server of its
 * first attachment (or ""). */
static void volume_status(vmmk_cloud *c, const char *id, char *status, size_t ssz,
                          char *attached_to, size_t asz)
{
    char path[128], *out = NULL;
    long st = 0;
    snprintf(path, sizeof path, "/volumes/%s", id);
    status[0] = '\0';
    if (attached_to)
        attached_to[0] = '\0';
    int rc = vmmk_cloud_request(&out, &st, c, "block-storage", "GET", path, NULL);
    if (rc == VMMK_ENOTFOUND)
        return;
    if (rc)
        fail_msg("GET %s: %s", path, vmmk_error_last()->message);
    json_object *o = json_tokener_parse(out), *atts, *vol;
    vmmk_string_free(out);
    const char *s = jget(o, "volume", "status");
    snprintf(status, ssz, "%s", s ? s : "?");
    if (attached_to && json_object_object_get_ex(o, "volume", &vol) &&
        json_object_object_get_ex(vol, "attachments", &atts) && json_object_array_length(atts))
        snprintf(attached_to, asz, "%s",
                 jget(json_object_array_get_idx(atts, 0), "server_id", NULL) ?: "");
    json_object_put(o);
}

/* Wait up to @p seconds for a volume status other than the transient ones. */
static void volume_settle(vmmk_cloud *c, const char *id, const char *want, int seconds)
{
    char st[64];
    for (int i = 0; i < seconds * 4; i++) {
        volume_status(c, id, st, sizeof st, NULL, 0);
        if (strcmp(st, want) == 0)
            return;
        if (strncmp(st, "error", 5) == 0)
            fail_msg("volume %s went to %s", id, st);
        sleep_ms(250);
    }
    fail_msg("volume %s: status %s, not %s after %d s", id, st, want, seconds);
}

/* A 1 GiB volume, available and bootable. */
static char *make_boot_volume(vmmk_cloud *c, const char *name)
{
    char body[256], path[160];
    snprintf(body, sizeof body, "{\"volume\": {\"size\": 1, \"name\": \"%s\"}}", name);
    json_object *o = req(c, "block-storage", "POST", "/volumes", body);
    char *id = strdup(jget(o, "volume", "id"));
    json_object_put(o);
    volume_settle(c, id, "available", 60);
    snprintf(path, sizeof path, "/volumes/%s/action", id);
    json_object_put(req(c, "block-storage", "POST", path,
                        "{\"os-set_bootable\": {\"bootable\": true}}"));
    return id;
}

static char *net1_id(vmmk_cloud *c)
{
    json_object *o = req(c, "network", "GET", "/v2.0/networks?name=net1", NULL), *nets;
    assert_true(json_object_object_get_ex(o, "networks", &nets));
    assert_int_equal(json_object_array_length(nets), 1);
    char *id = strdup(jget(json_object_array_get_idx(nets, 0), "id", NULL));
    json_object_put(o);
    return id;
}

static char *make_port(vmmk_cloud *c, const char *net, const char *name)
{
    char body[256];
    snprintf(body, sizeof body, "{\"port\": {\"network_id\": \"%s\", \"name\": \"%s\"}}", net, name);
    json_object *o = req(c, "network", "POST", "/v2.0/ports", body);
    char *id = strdup(jget(o, "port", "id"));
    json_object_put(o);
    return id;
}

/* Delete a volume once no server holds it any more. */
static void drop_volume(vmmk_cloud *c, const char *id)
{
    char st[64], path[128];
    for (int i = 0; i < 240; i++) {
        volume_status(c, id, st, sizeof st, NULL, 0);
        if (!st[0])
            return;
        if (strcmp(st, "available") == 0 || strncmp(st, "error", 5) == 0)
            break;
        sleep_ms(250);
    }
    snprintf(path, sizeof path, "/volumes/%s", id);
    req_quiet(c, "block-storage", "DELETE", path);
}

/* ---- leftovers of crashed runs ---------------------------------------- */

/* "vmmk-t<pid>-cmp..." of a process that no longer runs. */
static bool stale(const char *name)
{
    long pid;
    int n = 0;
    if (!name || sscanf(name, "vmmk-t%ld-cmp%n", &pid, &n) != 1 || !n)
        return false;
    return pid != (long)getpid() && kill((pid_t)pid, 0) == -1 && errno == ESRCH;
}

static void sweep(vmmk_cloud *c, const char *svc, const char *list_path, const char *key,
                  const char *del_prefix)
{
    json_object *o = req(c, svc, "GET", list_path, NULL), *items;
    if (!json_object_object_get_ex(o, key, &items)) {
        json_object_put(o);
        return;
    }
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        json_object *it = json_object_array_get_idx(items, i);
        if (!stale(jget(it, "name", NULL)))
            continue;
        char path[256];
        snprintf(path, sizeof path, "%s/%s", del_prefix, jget(it, "id", NULL));
        fprintf(stderr, "removing leftover %s %s\n", key, jget(it, "name", NULL));
        if (strcmp(key, "volumes") == 0)
            drop_volume(c, jget(it, "id", NULL));
        else
            req_quiet(c, svc, "DELETE", path);
    }
    json_object_put(o);
}

static void sweep_all(vmmk_cloud *c)
{
    sweep(c, "compute", "/servers/detail?name=%5Evmmk-t", "servers", "/servers");
    sweep(c, "block-storage", "/volumes/detail", "volumes", "/volumes");
    sweep(c, "network", "/v2.0/ports", "ports", "/v2.0/ports");
}

/* ---- shared state ------------------------------------------------------ */

/* The cloud the server tests run in: admin, whose default quotas leave
 * the demo project's small ones to the tests about quotas. */
#ifndef SERVER_CLOUD
#define SERVER_CLOUD "vmmk-admin"
#endif

typedef struct fx {
    vmmk_cloud *admin;         /* flavors */
    vmmk_cloud *srv;           /* servers, volumes, ports (SERVER_CLOUD) */
    char *server;              /* the server of the running test */
    char *flavor;              /* the flavor of the running test */
    char *volumes[2];          /* boot and data volume, shared by the server tests */
    char *port;
} fx;

static fx F;

/* After each test: its server and flavor. */
static int teardown(void **state)
{
    (void)state;
    if (F.srv && F.server && vmmk_cloud_server_delete(F.srv, F.server, true) != 0)
        fprintf(stderr, "cleanup server %s: %s\n", F.server, vmmk_error_last()->message);
    if (F.admin && F.flavor)
        (void)vmmk_cloud_flavor_delete(F.admin, F.flavor);
    free(F.server);
    free(F.flavor);
    F.server = F.flavor = NULL;
    return 0;
}

/* After all: the volumes and the port. */
static int group_teardown(void **state)
{
    teardown(state);
    if (F.srv) {
        for (int i = 0; i < 2; i++)
            if (F.volumes[i])
                drop_volume(F.srv, F.volumes[i]);
        if (F.port) {
            char path[128];
            snprintf(path, sizeof path, "/v2.0/ports/%s", F.port);
            req_quiet(F.srv, "network", "DELETE", path);
        }
    }
    for (int i = 0; i < 2; i++)
        free(F.volumes[i]);
    free(F.port);
    vmmk_cloud_free(F.admin);
    vmmk_cloud_free(F.srv);
    memset(&F, 0, sizeof F);
    return 0;
}

static vmmk_cloud *admin(void)
{
    if (!F.admin)
        F.admin = cloud_fixture_open("vmmk-admin");
    return F.admin;
}

static vmmk_cloud *srv(void)
{
    if (!F.srv) {
        F.srv = cloud_fixture_open(SERVER_CLOUD);
        static bool swept;
        if (!swept) {
            sweep_all(F.srv);
            swept = true;
        }
    }
    return F.srv;
}

/* The bootable volume the server tests share (one at a time: the admin
 * project's volume quota is shared with every other test), available. */
static const char *boot_volume(vmmk_cloud *c)
{
    if (!F.volumes[0])
        F.volumes[0] = make_boot_volume(c, cloud_fixture_name("cmpboot"));
    else
        volume_settle(c, F.volumes[0], "available", 120);
    return F.volumes[0];
}

static void expect_error(int rc, int code, const char *needle)
{
    const vmmk_error *e = vmmk_error_last();
    if (rc != code)
        fail_msg("expected %d (%s), got %d: %s", code, vmmk_strerror(code), rc, e->message);
    if (needle && !strstr(e->message, needle))
        fail_msg("message lacks \"%s\": %s", needle, e->message);
    if (getenv("VMMK_TEST_VERBOSE"))
        fprintf(stderr, "  expected error %d: %s\n", rc, e->message);
}

/* ---- flavors ----------------------------------------------------------- */

static const vmmk_flavor *find_flavor(const vmmk_flavor_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

static void test_flavor_list(void **state)
{
    (void)state;
    vmmk_cloud *c = cloud_fixture_open("vmmk-demo");
    vmmk_flavor_list *l = NULL;
    CLOUD_OK(vmmk_cloud_flavor_list(&l, c, false));
    const vmmk_flavor *t = find_flavor(l, "m1.tiny");
    assert_non_null(t);
    assert_int_equal(t->vcpus, 1);
    assert_int_equal(t->ram_mib, 512);
    assert_int_equal(t->disk_gib, 1);
    assert_true(t->is_public);
    assert_false(t->disabled);
    assert_int_equal(t->n_extra_specs, 0);
    assert_non_null(t->raw_json);
    assert_non_null(strstr(t->raw_json, "\"m1.tiny\""));
    const vmmk_flavor *s = find_flavor(l, "m1.small");
    assert_non_null(s);
    assert_int_equal(s->ram_mib, 2048);
    assert_int_equal(s->disk_gib, 10);
    const vmmk_flavor *nh = find_flavor(l, "m1.nohost");
    assert_non_null(nh);
    assert_int_equal(nh->n_extra_specs, 1);
    assert_string_equal(nh->extra_spec_keys[0], "capabilities:vmmk_nohost");
    assert_string_equal(nh->extra_spec_values[0], "yes");

    /* The list feeds the matcher as it is. */
    vmmk_flavor_requirements req = VMMK_FLAVOR_REQUIREMENTS_INIT;
    req.vcpus = 1;
    req.ram_mib = 1024;
    req.disk_gib = 5;
    vmmk_flavor_choice *ch = NULL;
    CLOUD_OK(vmmk_flavor_match(&ch, l, &req));
    assert_string_equal(ch->flavor->name, "m1.small");
    vmmk_flavor_choice_free(ch);

    /* One flavor per page gives the same flavors in the same order. */
    vmmk_cloud_options o = VMMK_CLOUD_OPTIONS_INIT;
    o.cloud = "vmmk-demo";
    o.clouds_file = cloud_fixture_file();
    o.page_size = 1;
    vmmk_cloud *c1 = NULL;
    CLOUD_OK(vmmk_cloud_open(&c1, &o));
    vmmk_flavor_list *l1 = NULL;
    CLOUD_OK(vmmk_cloud_flavor_list(&l1, c1, false));
    assert_true(l->n >= 3);
    assert_int_equal(l1->n, l->n);
    for (size_t i = 0; i < l->n; i++) {
        assert_string_equal(l1->items[i].id, l->items[i].id);
        assert_int_equal(l1->items[i].n_extra_specs, l->items[i].n_extra_specs);
    }
    vmmk_flavor_list_free(l1);
    vmmk_cloud_free(c1);
    vmmk_flavor_list_free(l);
    vmmk_cloud_free(c);
}

static void test_flavor_get(void **state)
{
    (void)state;
    vmmk_cloud *c = cloud_fixture_open("vmmk-demo");
    vmmk_flavor *byname = NULL, *byid = NULL;
    CLOUD_OK(vmmk_cloud_flavor_get(&byname, c, "m1.nohost"));
    assert_string_equal(byname->name, "m1.nohost");
    assert_int_equal(byname->ram_mib, 512);
    assert_int_equal(byname->n_extra_specs, 1);
    CLOUD_OK(vmmk_cloud_flavor_get(&byid, c, byname->id));
    assert_string_equal(byid->id, byname->id);
    assert_string_equal(byid->name, "m1.nohost");
    assert_int_equal(byid->n_extra_specs, 1);
    assert_string_equal(byid->extra_spec_values[0], "yes");
    char *json = NULL;
    CLOUD_OK(vmmk_flavor_to_json(&json, byid, 0));
    assert_non_null(strstr(json, "capabilities:vmmk_nohost"));
    vmmk_string_free(json);
    vmmk_flavor_free(byname);
    vmmk_flavor_free(byid);

    vmmk_flavor *f = NULL;
    expect_error(vmmk_cloud_flavor_get(&f, c, "vmmk-no-such-flavor"), VMMK_ENOTFOUND,
                 "\"vmmk-no-such-flavor\"");
    assert_null(f);
    /* "detail" as an id reaches the list resource: not a flavor. */
    expect_error(vmmk_cloud_flavor_get(&f, c, "detail"), VMMK_ENOTFOUND, "\"detail\"");
    vmmk_cloud_free(c);
}

static bool list_has(vmmk_cloud *c, bool include_private, const char *name)
{
    vmmk_flavor_list *l = NULL;
    CLOUD_OK(vmmk_cloud_flavor_list(&l, c, include_private));
    bool has = find_flavor(l, name) != NULL;
    vmmk_flavor_list_free(l);
    return has;
}

static void test_flavor_create(void **state)
{
    (void)state;
    vmmk_cloud *a = admin();
    sweep(a, "compute", "/flavors/detail?is_public=None", "flavors", "/flavors");
    vmmk_cloud *demo = cloud_fixture_open("vmmk-demo");
    vmmk_cloud_auth_info *di = NULL;
    CLOUD_OK(vmmk_cloud_auth_info_get(&di, demo));

    char name[96];
    snprintf(name, sizeof name, "%s", cloud_fixture_name("cmpflv"));
    char *keys[] = { "vmmk:test", "hw:cpu_policy" };   /* given unsorted */
    char *vals[] = { "yes", "shared" };
    vmmk_flavor spec = { 0 };
    spec.name = name;
    spec.vcpus = 2;
    spec.ram_mib = 256;
    spec.disk_gib = 1;
    spec.ephemeral_gib = 1;
    spec.swap_mib = 128;
    spec.is_public = false;
    spec.extra_spec_keys = keys;
    spec.extra_spec_values = vals;
    spec.n_extra_specs = 2;
    const char *projects[] = { di->project_id };

    vmmk_flavor *f = NULL;
    CLOUD_OK(vmmk_cloud_flavor_create(&f, a, &spec, projects, 1));
    F.flavor = strdup(f->id);
    assert_string_equal(f->name, name);
    assert_int_equal(f->vcpus, 2);
    assert_int_equal(f->ram_mib, 256);
    assert_int_equal(f->disk_gib, 1);
    assert_int_equal(f->ephemeral_gib, 1);
    assert_int_equal(f->swap_mib, 128);
    assert_false(f->is_public);
    assert_int_equal(f->n_extra_specs, 2);
    assert_string_equal(f->extra_spec_keys[0], "hw:cpu_policy");
    assert_string_equal(f->extra_spec_values[0], "shared");
    assert_string_equal(f->extra_spec_keys[1], "vmmk:test");
    assert_string_equal(f->extra_spec_values[1], "yes");

    /* Demo sees it among the private flavors it may use, not otherwise. */
    assert_true(list_has(demo, true, name));
    assert_false(list_has(demo, false, name));
    vmmk_flavor *g = NULL;
    CLOUD_OK(vmmk_cloud_flavor_get(&g, demo, name));
    assert_string_equal(g->id, f->id);
    assert_int_equal(g->n_extra_specs, 2);
    vmmk_flavor_free(g);

    /* The same name again. */
    expect_error(vmmk_cloud_flavor_create(&g, a, &spec, projects, 1), VMMK_EEXISTS, name);
    assert_null(g);
    assert_int_equal(vmmk_error_last()->http_status, 409);

    /* Access lists are for private flavors. */
    spec.is_public = true;
    expect_error(vmmk_cloud_flavor_create(&g, a, &spec, projects, 1), VMMK_EINVAL, "public");
    spec.is_public = false;
    spec.vcpus = 0;
    expect_error(vmmk_cloud_flavor_create(&g, a, &spec, NULL, 0), VMMK_EINVAL, "vcpus");
    spec.vcpus = 2;

    CLOUD_OK(vmmk_cloud_flavor_delete(a, f->id));
    expect_error(vmmk_cloud_flavor_get(&g, a, f->id), VMMK_ENOTFOUND, f->id);
    expect_error(vmmk_cloud_flavor_delete(a, f->id), VMMK_ENOTFOUND, f->id);
    free(F.flavor);
    F.flavor = NULL;

    /* A step after the create fails (Nova knows no such project): the
     * flavor is removed again. */
    snprintf(name, sizeof name, "%s", cloud_fixture_name("cmpflv"));
    const char *bogus[] = { "vmmk-no-such-project" };
    int rc = vmmk_cloud_flavor_create(&g, a, &spec, bogus, 1);
    assert_int_not_equal(rc, 0);
    if (getenv("VMMK_TEST_VERBOSE"))
        fprintf(stderr, "  expected error %d: %s\n", rc, vmmk_error_last()->message);
    assert_null(g);
    assert_non_null(strstr(vmmk_error_last()->message, "vmmk-no-such-project"));
    expect_error(vmmk_cloud_flavor_get(&g, a, name), VMMK_ENOTFOUND, name);

    vmmk_flavor_free(f);
    vmmk_cloud_auth_info_free(di);
    vmmk_cloud_free(demo);
}

static void test_flavor_create_policy(void **state)
{
    (void)state;
    vmmk_cloud *demo = cloud_fixture_open("vmmk-demo");
    char name[96];
    snprintf(name, sizeof name, "%s", cloud_fixture_name("cmpflv"));
    vmmk_flavor spec = { 0 };
    spec.name = name;
    spec.vcpus = 1;
    spec.ram_mib = 64;
    spec.is_public = true;
    vmmk_flavor *f = NULL;
    expect_error(vmmk_cloud_flavor_create(&f, demo, &spec, NULL, 0), VMMK_EAUTH, spec.name);
    assert_int_equal(vmmk_error_last()->http_status, 403);
    assert_null(f);
    vmmk_cloud_free(demo);
}

/* ---- servers ----------------------------------------------------------- */

static bool has(char **v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static void test_server_spec_errors(void **state)
{
    (void)state;
    vmmk_cloud *c = srv();
    vmmk_cloud_server *s = NULL;
    const char *vols[] = { "11111111-2222-3333-4444-555555555555", NULL };
    vmmk_cloud_server_spec spec = VMMK_CLOUD_SERVER_CREATE_INIT;
    expect_error(vmmk_cloud_server_create(&s, c, &spec), VMMK_EINVAL, "name is missing");
    spec.name = "vmmk-cmp-invalid";
    expect_error(vmmk_cloud_server_create(&s, c, &spec), VMMK_EINVAL, "flavor is missing");
    spec.flavor = "m1.tiny";
    expect_error(vmmk_cloud_server_create(&s, c, &spec), VMMK_EINVAL, "volumes");
    spec.volumes = vols;
    spec.n_volumes = 2;
    expect_error(vmmk_cloud_server_create(&s, c, &spec), VMMK_EINVAL, "volumes[1]");
    spec.n_volumes = 1;
    const char *tags[] = { "a/b" };
    spec.tags = tags;
    spec.n_tags = 1;
    expect_error(vmmk_cloud_server_create(&s, c, &spec), VMMK_EINVAL, "tags[0]");
    spec.n_tags = 0;
    spec.version = 0;
    expect_error(vmmk_cloud_server_create(&s, c, &spec), VMMK_EINVAL, "version");
    spec.version = VMMK_CLOUD_SERVER_CREATE_VERSION;
    spec.flavor = "vmmk-no-such-flavor";
    expect_error(vmmk_cloud_server_create(&s, c, &spec), VMMK_ENOTFOUND, "vmmk-no-such-flavor");
    assert_null(s);
}

static void test_server_lifecycle(void **state)
{
    (void)state;
    vmmk_cloud *c = srv();
    char dname[96], pname[96], sname[96];
    snprintf(dname, sizeof dname, "%s", cloud_fixture_name("cmpdata"));
    snprintf(pname, sizeof pname, "%s", cloud_fixture_name("cmpport"));
    snprintf(sname, sizeof sname, "%s", cloud_fixture_name("cmpsrv"));
    boot_volume(c);
    char body[160];
    snprintf(body, sizeof body, "{\"volume\": {\"size\": 1, \"name\": \"%s\"}}", dname);
    json_object *o = req(c, "block-storage", "POST", "/volumes", body);
    F.volumes[1] = strdup(jget(o, "volume", "id"));
    json_object_put(o);
    char *net = net1_id(c);
    F.port = make_port(c, net, pname);
    free(net);

    vmmk_properties *md = NULL;
    CLOUD_OK(vmmk_properties_new(&md));
    CLOUD_OK(vmmk_properties_set(md, "purpose", "vmmk compute test"));
    CLOUD_OK(vmmk_properties_set(md, "vmmk.source", "vm-42"));
    const char *vols[] = { F.volumes[0] };
    const char *ports[] = { F.port };
    const char *tags[] = { "vmmk", "cmp-test" };
    vmmk_cloud_server_spec spec = VMMK_CLOUD_SERVER_CREATE_INIT;
    spec.name = sname;
    spec.flavor = "m1.tiny";
    spec.volumes = vols;
    spec.n_volumes = 1;
    spec.ports = ports;
    spec.n_ports = 1;
    spec.tags = tags;
    spec.n_tags = 2;
    spec.metadata = md;
    spec.user_data = "hello vmmk\n";
    vmmk_cloud_server *s = NULL;
    CLOUD_OK(vmmk_cloud_server_create(&s, c, &spec));
    F.server = strdup(s->id);
    assert_string_equal(s->name, sname);
    assert_non_null(s->status);
    vmmk_cloud_server_free(s);
    vmmk_properties_free(md);

    s = NULL;
    CLOUD_OK(vmmk_cloud_server_wait(&s, c, F.server, "ACTIVE", 300));
    assert_string_equal(s->status, "ACTIVE");
    assert_null(s->task_state);
    vmmk_cloud_server_free(s);

    /* By name, with every field vmmk models. */
    s = NULL;
    CLOUD_OK(vmmk_cloud_server_get(&s, c, sname));
    assert_string_equal(s->id, F.server);
    assert_string_equal(s->status, "ACTIVE");
    assert_null(s->fault);
    assert_string_equal(s->flavor_id, "m1.tiny");   /* original_name from 2.47 */
    assert_non_null(s->availability_zone);
    assert_non_null(s->host_id);
    assert_int_equal(s->n_volume_ids, 1);
    assert_string_equal(s->volume_ids[0], F.volumes[0]);
    assert_int_equal(s->n_tags, 2);
    assert_true(has(s->tags, s->n_tags, "vmmk"));
    assert_true(has(s->tags, s->n_tags, "cmp-test"));
    assert_string_equal(vmmk_properties_get(s->metadata, "purpose"), "vmmk compute test");
    assert_string_equal(vmmk_properties_get(s->metadata, "vmmk.source"), "vm-42");
    /* user_data went base64-encoded (admins see it back from 2.3). */
    if (strcmp(SERVER_CLOUD, "vmmk-admin") == 0)
        assert_non_null(strstr(s->raw_json, "\"OS-EXT-SRV-ATTR:user_data\":\"aGVsbG8gdm1tawo=\""));
    char *json = NULL;
    CLOUD_OK(vmmk_cloud_server_to_json(&json, s, VMMK_JSON_PRETTY));
    assert_non_null(strstr(json, F.server));
    assert_non_null(strchr(json, '\n'));
    vmmk_string_free(json);
    vmmk_cloud_server_free(s);

    /* The port is the server's NIC. */
    char path[160];
    snprintf(path, sizeof path, "/v2.0/ports/%s", F.port);
    o = req(c, "network", "GET", path, NULL);
    assert_string_equal(jget(o, "port", "device_id"), F.server);
    json_object_put(o);

    /* The local server, given: by id and by name; an unknown id. */
    char *id = NULL;
    CLOUD_OK(vmmk_cloud_local_server_id(&id, c, F.server, NULL));
    assert_string_equal(id, F.server);
    vmmk_string_free(id);
    CLOUD_OK(vmmk_cloud_local_server_id(&id, c, sname, NULL));
    assert_string_equal(id, F.server);
    vmmk_string_free(id);
    id = NULL;
    expect_error(vmmk_cloud_local_server_id(&id, c, "00000000-1111-2222-3333-444444444444", NULL),
                 VMMK_ENOTFOUND, "00000000-1111-2222-3333-444444444444");
    assert_null(id);

    /* Stop and start, each twice: the second is a no-op. */
    CLOUD_OK(vmmk_cloud_server_stop(c, F.server, true));
    s = NULL;
    CLOUD_OK(vmmk_cloud_server_get(&s, c, F.server));
    assert_string_equal(s->status, "SHUTOFF");
    vmmk_cloud_server_free(s);
    CLOUD_OK(vmmk_cloud_server_stop(c, F.server, true));
    CLOUD_OK(vmmk_cloud_server_start(c, F.server, true));
    s = NULL;
    CLOUD_OK(vmmk_cloud_server_get(&s, c, F.server));
    assert_string_equal(s->status, "ACTIVE");
    vmmk_cloud_server_free(s);
    CLOUD_OK(vmmk_cloud_server_start(c, F.server, false));

    /* A second volume: attach (twice: the second finds it attached),
     * check both sides, detach (twice). */
    volume_settle(c, F.volumes[1], "available", 60);
    char *dev = NULL;
    CLOUD_OK(vmmk_cloud_volume_attach(&dev, c, F.server, F.volumes[1], 120));
    assert_non_null(dev);
    assert_true(strncmp(dev, "/dev/", 5) == 0);
    vmmk_string_free(dev);
    char st[64], att[64];
    volume_status(c, F.volumes[1], st, sizeof st, att, sizeof att);
    assert_string_equal(st, "in-use");
    assert_string_equal(att, F.server);
    dev = NULL;
    CLOUD_OK(vmmk_cloud_volume_attach(&dev, c, F.server, F.volumes[1], 120));
    assert_non_null(dev);
    vmmk_string_free(dev);
    s = NULL;
    CLOUD_OK(vmmk_cloud_server_get(&s, c, F.server));
    assert_int_equal(s->n_volume_ids, 2);
    assert_true(has(s->volume_ids, s->n_volume_ids, F.volumes[1]));
    vmmk_cloud_server_free(s);

    CLOUD_OK(vmmk_cloud_volume_detach(c, F.server, F.volumes[1], 120));
    volume_status(c, F.volumes[1], st, sizeof st, att, sizeof att);
    assert_string_equal(st, "available");
    assert_string_equal(att, "");
    CLOUD_OK(vmmk_cloud_volume_detach(c, F.server, F.volumes[1], 120));
    expect_error(vmmk_cloud_volume_detach(c, "00000000-1111-2222-3333-444444444444", F.volumes[1],
                                          10),
                 VMMK_ENOTFOUND, "00000000-1111-2222-3333-444444444444");

    /* Delete, wait until gone; deleting again is fine. */
    CLOUD_OK(vmmk_cloud_server_delete(c, F.server, true));
    s = NULL;
    expect_error(vmmk_cloud_server_get(&s, c, F.server), VMMK_ENOTFOUND, F.server);
    assert_null(s);
    CLOUD_OK(vmmk_cloud_server_delete(c, F.server, true));
    free(F.server);
    F.server = NULL;
    /* The boot volume outlives it (delete_on_termination false). */
    volume_settle(c, F.volumes[0], "available", 60);
}

static void test_server_no_valid_host(void **state)
{
    (void)state;
    vmmk_cloud *c = srv();
    char sname[96];
    snprintf(sname, sizeof sname, "%s", cloud_fixture_name("cmpsrv"));
    const char *vols[] = { boot_volume(c) };
    vmmk_cloud_server_spec spec = VMMK_CLOUD_SERVER_CREATE_INIT;
    spec.name = sname;
    spec.flavor = "m1.nohost";
    spec.volumes = vols;
    spec.n_volumes = 1;
    spec.delete_volumes_on_termination = false;
    vmmk_cloud_server *s = NULL;
    CLOUD_OK(vmmk_cloud_server_create(&s, c, &spec));
    F.server = strdup(s->id);
    vmmk_cloud_server_free(s);
    s = NULL;
    expect_error(vmmk_cloud_server_wait(&s, c, F.server, "ACTIVE", 120), VMMK_EREMOTE,
                 "No valid host");
    assert_non_null(strstr(vmmk_error_last()->message, F.server));
    assert_null(s);
    /* get shows the same fault. */
    CLOUD_OK(vmmk_cloud_server_get(&s, c, F.server));
    assert_string_equal(s->status, "ERROR");
    assert_non_null(s->fault);
    assert_non_null(strstr(s->fault, "No valid host"));
    vmmk_cloud_server_free(s);
    CLOUD_OK(vmmk_cloud_server_delete(c, F.server, true));
    free(F.server);
    F.server = NULL;
}

static void test_server_get_unknown(void **state)
{
    (void)state;
    vmmk_cloud *c = cloud_fixture_open("vmmk-demo");
    vmmk_cloud_server *s = NULL;
    /* Regular-expression characters are taken literally. */
    expect_error(vmmk_cloud_server_get(&s, c, "vmmk-no.such*server"), VMMK_ENOTFOUND,
                 "\"vmmk-no.such*server\"");
    assert_null(s);
    expect_error(vmmk_cloud_server_get(&s, c, "00000000-1111-2222-3333-444444444444"),
                 VMMK_ENOTFOUND, "00000000-1111-2222-3333-444444444444");
    expect_error(vmmk_cloud_server_wait(&s, c, "00000000-1111-2222-3333-444444444444", "ACTIVE", 5),
                 VMMK_ENOTFOUND, "00000000-1111-2222-3333-444444444444");
    expect_error(vmmk_cloud_server_stop(c, "00000000-1111-2222-3333-444444444444", false),
                 VMMK_ENOTFOUND, "00000000-1111-2222-3333-444444444444");
    CLOUD_OK(vmmk_cloud_server_delete(c, "00000000-1111-2222-3333-444444444444", true));
    vmmk_cloud_free(c);
}

/* ---- the metadata service ---------------------------------------------- */

/* A stand-in for the metadata service at 169.254.169.254: answers
 * /openstack/latest/meta_data.json with a uuid, /bad/meta_data.json with
 * a document without one, anything else with 404. */
typedef struct mdsrv {
    int fd;
    int port;
    volatile int stop;
    pthread_t thread;
} mdsrv;

static void *mdsrv_run(void *arg)
{
    mdsrv *m = arg;
    while (!m->stop) {
        struct pollfd p = { m->fd, POLLIN, 0 };
        if (poll(&p, 1, 100) <= 0)
            continue;
        int cfd = accept(m->fd, NULL, NULL);
        if (cfd < 0)
            continue;
        char buf[4096];
        size_t len = 0;
        while (len < sizeof buf - 1) {
            ssize_t n = recv(cfd, buf + len, sizeof buf - 1 - len, 0);
            if (n <= 0)
                break;
            len += (size_t)n;
            buf[len] = '\0';
            if (strstr(buf, "\r\n\r\n"))
                break;
        }
        buf[len] = '\0';
        const char *body = NULL;
        if (strncmp(buf, "GET /openstack/latest/meta_data.json ", 37) == 0)
            body = "{\"uuid\": \"d8e02d56-2648-49a3-bf97-6be8f1204f38\", \"name\": \"convhost\", "
                   "\"availability_zone\": \"nova\"}";
        else if (strncmp(buf, "GET /bad/meta_data.json ", 24) == 0)
            body = "{\"name\": \"convhost\"}";
        char resp[512];
        int n = body ? snprintf(resp, sizeof resp,
                                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                                strlen(body), body)
                     : snprintf(resp, sizeof resp,
                                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n"
                                "Connection: close\r\n\r\n");
        (void)!send(cfd, resp, (size_t)n, MSG_NOSIGNAL);
        close(cfd);
    }
    return NULL;
}

/* Bind 127.0.0.1:0; the port in *port. */
static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { 0 };
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 16) ||
        getsockname(fd, (struct sockaddr *)&a, &al))
        fail_msg("listen on 127.0.0.1: %s", strerror(errno));
    *port = ntohs(a.sin_port);
    return fd;
}

static void test_local_server_id_metadata(void **state)
{
    (void)state;
    mdsrv m = { 0 };
    m.fd = listen_any(&m.port);
    assert_int_equal(pthread_create(&m.thread, NULL, mdsrv_run, &m), 0);
    char url[160];
    char *id = NULL;
    /* No handle needed: the metadata service is asked without a token. */
    snprintf(url, sizeof url, "http://127.0.0.1:%d/openstack/latest/meta_data.json", m.port);
    CLOUD_OK(vmmk_cloud_local_server_id(&id, NULL, NULL, url));
    assert_string_equal(id, "d8e02d56-2648-49a3-bf97-6be8f1204f38");
    vmmk_string_free(id);
    id = NULL;

    snprintf(url, sizeof url, "http://127.0.0.1:%d/nothing/meta_data.json", m.port);
    expect_error(vmmk_cloud_local_server_id(&id, NULL, NULL, url), VMMK_ENOTFOUND, "HTTP 404");
    assert_non_null(strstr(vmmk_error_last()->message, "pass the server id"));
    assert_null(id);

    snprintf(url, sizeof url, "http://127.0.0.1:%d/bad/meta_data.json", m.port);
    expect_error(vmmk_cloud_local_server_id(&id, NULL, NULL, url), VMMK_EREMOTE, "\"uuid\"");
    assert_null(id);

    m.stop = 1;
    pthread_join(m.thread, NULL);
    close(m.fd);

    /* A closed port: nothing listens there any more. */
    int port, fd = listen_any(&port);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/openstack/latest/meta_data.json", port);
    expect_error(vmmk_cloud_local_server_id(&id, NULL, NULL, url), VMMK_ENOTFOUND,
                 "pass the server id explicitly");
    assert_non_null(strstr(vmmk_error_last()->message, url));
    assert_null(id);
}

/* ---- the server parser, offline --------------------------------------- */

static void test_parse_server(void **state)
{
    (void)state;
    json_object *o = json_tokener_parse(
        "{\"id\": \"s1\", \"name\": \"n\", \"status\": \"ERROR\", \"OS-EXT-STS:task_state\": null,"
        " \"fault\": {\"code\": 500, \"message\": \"No valid host was found. \"},"
        " \"flavor\": {\"original_name\": \"m1.tiny\", \"vcpus\": 1},"
        " \"OS-EXT-AZ:availability_zone\": \"\", \"hostId\": \"\","
        " \"os-extended-volumes:volumes_attached\": [{\"id\": \"v1\", \"delete_on_termination\": "
        "false}, {\"id\": \"v2\"}], \"metadata\": {\"a\": \"1\"}, \"tags\": [\"t\"]}");
    vmmk_cloud_server *s = NULL;
    CLOUD_OK(vmmk__os_parse_server(&s, o));
    assert_string_equal(s->id, "s1");
    assert_string_equal(s->status, "ERROR");
    assert_null(s->task_state);
    assert_string_equal(s->fault, "No valid host was found. ");
    assert_string_equal(s->flavor_id, "m1.tiny");
    assert_null(s->availability_zone);
    assert_null(s->host_id);
    assert_int_equal(s->n_volume_ids, 2);
    assert_string_equal(s->volume_ids[1], "v2");
    assert_string_equal(vmmk_properties_get(s->metadata, "a"), "1");
    assert_int_equal(s->n_tags, 1);
    vmmk_cloud_server_free(s);
    json_object_put(o);

    /* Before 2.47 the flavor is a link with an id. */
    o = json_tokener_parse("{\"id\": \"s2\", \"flavor\": {\"id\": \"42\", \"links\": []},"
                           " \"OS-EXT-STS:task_state\": \"spawning\"}");
    CLOUD_OK(vmmk__os_parse_server(&s, o));
    assert_string_equal(s->flavor_id, "42");
    assert_string_equal(s->task_state, "spawning");
    assert_null(s->name);
    assert_non_null(s->metadata);
    assert_int_equal(s->metadata->n, 0);
    vmmk_cloud_server_free(s);
    json_object_put(o);

    o = json_tokener_parse("{\"name\": \"no id\"}");
    expect_error(vmmk__os_parse_server(&s, o), VMMK_EREMOTE, "\"id\"");
    assert_null(s);
    json_object_put(o);
    o = json_tokener_parse("[1]");
    expect_error(vmmk__os_parse_server(&s, o), VMMK_EREMOTE, "array");
    json_object_put(o);
}

int main(void)
{
    /* The demo password is in the sandbox's secure.yaml, which is not in
     * a directory that is searched. */
    const char *sec = getenv("VMMK_OS_SECURE");
    if (sec && *sec)
        setenv("OS_CLIENT_SECURE_FILE", sec, 0);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_server),
        cmocka_unit_test(test_local_server_id_metadata),
        cmocka_unit_test(test_flavor_list),
        cmocka_unit_test(test_flavor_get),
        cmocka_unit_test_teardown(test_flavor_create, teardown),
        cmocka_unit_test(test_flavor_create_policy),
        cmocka_unit_test_teardown(test_server_spec_errors, teardown),
        cmocka_unit_test_teardown(test_server_no_valid_host, teardown),
        cmocka_unit_test_teardown(test_server_lifecycle, teardown),
        cmocka_unit_test(test_server_get_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, group_teardown);
}
