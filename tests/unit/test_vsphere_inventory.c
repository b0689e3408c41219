/* vSphere inventory and VM description against VMware's vcsim
 * (tests/vsphere/vcsim.sh), cross-checked with govc.  What vcsim cannot
 * produce is in test_vsphere_inventory_parse.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmmk/vmmk.h>
#include "common/internal.h"
#include "vsphere/inventory.h"
#include "vcsim_fixture.h"

#define WEB "vmmk-web"
static const uint64_t MiB = 1024 * 1024;

/* ---- helpers ---------------------------------------------------------- */

static vmmk_vsphere *connect_or_fail(void)
{
    vmmk_vsphere_options o = fixture_opts();
    vmmk_vsphere *vs = NULL;
    int rc = vmmk_vsphere_connect(&vs, &o);
    if (rc)
        print_error("%s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    return vs;
}

/* govc ... -json parsed (new reference). */
static json_object *govc_json(const char *a1, const char *a2, const char *a3, const char *a4)
{
    char *out = NULL;
    int rc = fixture_govc(&out, a1, a2, a3, a4, (char *)NULL);
    assert_int_equal(rc, 0);
    json_object *j = json_tokener_parse(out);
    free(out);
    assert_non_null(j);
    return j;
}

/* obj.A.B.C (NULL when any step is missing or null). */
static json_object *jget(json_object *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
        json_object *n = NULL;
        o = json_object_object_get_ex(o, k, &n) ? n : NULL;
    }
    return o;
}

static const char *jstr(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    const char *s = v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    return s && *s ? s : NULL;
}

static int64_t jint(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    return v ? json_object_get_int64(v) : 0;
}

static bool jbool(json_object *o, const char *path)
{
    json_object *v = jget(o, path);
    return v && json_object_get_boolean(v);
}

#define assert_str_or_null(actual, expected)                                                       \
    do {                                                                                           \
        const char *a_ = (actual), *e_ = (expected);                                               \
        if (e_)                                                                                    \
            assert_string_equal(a_, e_);                                                           \
        else                                                                                       \
            assert_null(a_);                                                                       \
    } while (0)

/* "VirtualMachine:vm-57" from govc ls -i -> "vm-57". */
static char *govc_moref(const char *path)
{
    char *out = NULL;
    assert_int_equal(fixture_govc(&out, "ls", "-i", path, (char *)NULL), 0);
    char *colon = strchr(out, ':');
    assert_non_null(colon);
    char *id = strndup(colon + 1, strcspn(colon + 1, "\n"));
    free(out);
    return id;
}

static const struct { const char *type, *controller, *adapter; } TYPES[] = {
    { "ParaVirtualSCSIController", "pvscsi", NULL }, { "VirtualLsiLogicController", "lsilogic", NULL },
    { "VirtualLsiLogicSASController", "lsilogicsas", NULL }, { "VirtualBusLogicController", "buslogic", NULL },
    { "VirtualAHCIController", "sata", NULL }, { "VirtualIDEController", "ide", NULL },
    { "VirtualNVMEController", "nvme", NULL }, { "VirtualVmxnet3", NULL, "vmxnet3" },
    { "VirtualVmxnet2", NULL, "vmxnet2" }, { "VirtualE1000", NULL, "e1000" },
    { "VirtualE1000e", NULL, "e1000e" }, { "VirtualPCNet32", NULL, "pcnet32" },
    { "VirtualSriovEthernetCard", NULL, "sriov" },
};

static const char *type_to(const char *type, bool controller)
{
    for (size_t i = 0; type && i < sizeof TYPES / sizeof *TYPES; i++)
        if (strcmp(TYPES[i].type, type) == 0)
            return controller ? TYPES[i].controller : TYPES[i].adapter;
    return NULL;
}

/* ---- fixtures ---------------------------------------------------------- */

static int reconfigure_web(void)
{
    vmmk_vsphere_options o = fixture_opts();
    vmmk_vsphere *vs = NULL;
    char *moref = NULL, *state = NULL;
    if (vmmk_vsphere_connect(&vs, &o) || vmmk_vsphere_find_vm(&moref, vs, WEB))
        return -1;
    /* ReconfigVM_Task by raw SOAP: govc 0.24 cannot set these. */
    char body[2048];
    snprintf(body, sizeof body,
             "<ReconfigVM_Task xmlns=\"urn:vim25\"><_this type=\"VirtualMachine\">%s</_this><spec>"
             "<numCoresPerSocket>2</numCoresPerSocket><changeTrackingEnabled>true</changeTrackingEnabled>"
             "<bootOptions><efiSecureBootEnabled>true</efiSecureBootEnabled></bootOptions>"
             "<deviceChange><operation>add</operation><device xsi:type=\"VirtualTPM\"><key>-100</key>"
             "</device></deviceChange>"
             "<deviceChange><operation>add</operation><device xsi:type=\"VirtualNVMEController\">"
             "<key>-101</key><busNumber>0</busNumber></device></deviceChange>"
             "<deviceChange><operation>add</operation><device xsi:type=\"VirtualAHCIController\">"
             "<key>-102</key><busNumber>0</busNumber></device></deviceChange>"
             "</spec></ReconfigVM_Task>", moref);
    vmmk__soap_response r;
    int rc = vmmk__vs_call(vs, "ReconfigVM_Task", body, &r);
    char *task = rc ? NULL : vmmk__xml_child_text(r.body, "returnval");
    if (!rc)
        vmmk__soap_response_clear(&r);
    if (!rc && task)
        rc = vmmk__vs_get_string(&state, vs, "Task", task, "info.state");
    if (!rc && strcmp(state, "success") != 0)
        rc = -1;
    free(task);
    free(state);
    free(moref);
    vmmk_vsphere_free(vs);
    return rc ? -1 : 0;
}

/* The name govc gives the controller of @p type on vmmk-web ("nvme-208"). */
static char *controller_name(const char *type)
{
    char *out = NULL;
    if (fixture_govc(&out, "device.ls", "-vm", WEB, (char *)NULL) != 0)
        return NULL;
    char *name = NULL;
    for (char *save = NULL, *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        if (strstr(l, type) && !name)
            name = strndup(l, strcspn(l, " "));
    free(out);
    return name;
}

static int make_fixtures(void)
{
    /* A realistic VM (docs/vcsim.md), then one disk on each other
     * controller kind vcsim can create, a DVS NIC, and settings only
     * ReconfigVM can change. */
    if (fixture_govc(NULL, "vm.create", "-host", "DC0_H0", "-g", "rhel8_64Guest", "-firmware", "efi", "-c", "4",
                     "-m", "8192", "-net", "VM Network", "-net.adapter", "vmxnet3", "-disk", "20G", WEB,
                     (char *)NULL))
        return -1;
    char *pv = NULL;
    if (fixture_govc(&pv, "device.scsi.add", "-vm", WEB, "-type", "pvscsi", (char *)NULL) || !pv)
        return -1;
    pv[strcspn(pv, "\n")] = '\0';
    int rc = fixture_govc(NULL, "vm.disk.create", "-vm", WEB, "-controller", pv, "-thick", "-size", "64M",
                          "-name", WEB "/data", (char *)NULL);
    free(pv);
    if (rc || fixture_govc(NULL, "vm.network.add", "-vm", WEB, "-net", "DC0_DVPG0", "-net.adapter", "e1000e",
                           (char *)NULL))
        return -1;
    if (reconfigure_web())
        return -1;
    char *nvme = controller_name("VirtualNVMEController"), *ahci = controller_name("VirtualAHCIController");
    rc = !nvme || !ahci ||
         fixture_govc(NULL, "vm.disk.create", "-vm", WEB, "-controller", nvme, "-size", "32M", "-name",
                      WEB "/nvme", (char *)NULL) ||
         fixture_govc(NULL, "vm.disk.create", "-vm", WEB, "-controller", ahci, "-size", "16M", "-name",
                      WEB "/sata", (char *)NULL);
    free(nvme);
    free(ahci);
    if (rc)
        return -1;
    /* Two VMs with the same name in different folders (the second is
     * created under another name: both would want [LocalDS_0] twin/). */
    for (int i = 1; i <= 2; i++) {
        char folder[32], name[16], path[64];
        snprintf(folder, sizeof folder, "/DC0/vm/f%d", i);
        snprintf(name, sizeof name, "twin%d", i);
        snprintf(path, sizeof path, "%s/%s", folder, name);
        if (fixture_govc(NULL, "folder.create", folder, (char *)NULL) ||
            fixture_govc(NULL, "vm.create", "-host", "DC0_H0", "-net", "VM Network", "-folder", folder,
                         "-on=false", name, (char *)NULL) ||
            fixture_govc(NULL, "object.rename", path, "twin", (char *)NULL))
            return -1;
    }
    return 0;
}

static int group_setup(void **state)
{
    (void)state;
    if (fixture_start(NULL)) {
        fixture_stop();
        return 0;      /* every test skips */
    }
    if (make_fixtures()) {
        fprintf(stderr, "creating the govc fixtures failed\n");
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    fixture_stop();
    return 0;
}

/* ---- listing ----------------------------------------------------------- */

static const vmmk_vm_summary *by_name(const vmmk_vm_summary_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->vms[i].name, name) == 0)
            return &l->vms[i];
    return NULL;
}

static void test_list_all_in_one_view(void **state)
{
    (void)state;
    NEED_VCSIM();
    vmmk_vsphere *vs = connect_or_fail();
    unsigned long c0 = vs->calls;
    vmmk_vm_summary_list *l = NULL;
    assert_int_equal(vmmk_vsphere_list_vms(&l, vs), 0);
    /* CreateContainerView + RetrievePropertiesEx + DestroyView. */
    assert_int_equal(vs->calls - c0, 3);

    /* Same VMs as govc finds, each cross-checked with govc vm.info. */
    char *found = NULL;
    assert_int_equal(fixture_govc(&found, "find", "/", "-type", "m", (char *)NULL), 0);
    size_t n = 0;
    for (char *save = NULL, *p = strtok_r(found, "\n", &save); p; p = strtok_r(NULL, "\n", &save), n++) {
        json_object *info = govc_json("vm.info", "-json", p, NULL);
        json_object *vm = json_object_array_get_idx(jget(info, "VirtualMachines"), 0);
        const vmmk_vm_summary *s = NULL;
        for (size_t i = 0; i < l->n; i++)
            if (l->vms[i].path && strcmp(l->vms[i].path, p) == 0)
                s = &l->vms[i];
        assert_non_null(s);
        assert_string_equal(s->name, jstr(vm, "Name"));
        assert_string_equal(s->moref, jstr(vm, "Self.Value"));
        assert_str_or_null(s->uuid, jstr(vm, "Config.Uuid"));
        assert_str_or_null(s->instance_uuid, jstr(vm, "Config.InstanceUuid"));
        assert_str_or_null(s->guest_id, jstr(vm, "Config.GuestId"));
        assert_string_equal(vmmk_power_state_name(s->power_state), jstr(vm, "Runtime.PowerState"));
        assert_int_equal(s->vcpus, jint(vm, "Config.Hardware.NumCPU"));
        assert_int_equal(s->memory_mib, jint(vm, "Config.Hardware.MemoryMB"));
        assert_int_equal(s->cbt_enabled, jbool(vm, "Config.ChangeTrackingEnabled"));
        assert_int_equal(s->is_template, jbool(vm, "Config.Template"));
        size_t disks = 0;
        uint64_t cap = 0;
        json_object *devs = jget(vm, "Config.Hardware.Device");
        for (size_t i = 0; i < json_object_array_length(devs); i++) {
            json_object *d = json_object_array_get_idx(devs, i);
            if (!jget(d, "CapacityInKB"))
                continue;
            disks++;
            cap += jint(d, "CapacityInBytes") ? (uint64_t)jint(d, "CapacityInBytes")
                                              : (uint64_t)jint(d, "CapacityInKB") * 1024;
        }
        assert_int_equal(s->n_disks, disks);
        assert_int_equal(s->capacity_bytes, cap);
        json_object_put(info);
    }
    free(found);
    assert_int_equal(l->n, n);
    assert_int_equal(n, 7);    /* 4 of vcsim's, vmmk-web and the twins */

    const vmmk_vm_summary *web = by_name(l, WEB);
    assert_non_null(web);
    assert_string_equal(web->path, "/DC0/vm/" WEB);
    assert_int_equal(web->n_disks, 4);
    assert_int_equal(web->capacity_bytes, 20 * 1024 * MiB + 64 * MiB + 32 * MiB + 16 * MiB);
    assert_true(web->cbt_enabled);

    char *json = NULL;
    assert_int_equal(vmmk_vm_summary_list_to_json(&json, l, 0), 0);
    json_object *j = json_tokener_parse(json);
    assert_non_null(j);
    assert_int_equal(jint(j, "version"), 1);
    assert_int_equal(jint(j, "count"), 7);
    json_object *vms = jget(j, "vms");
    assert_int_equal(json_object_array_length(vms), 7);
    for (size_t i = 0; i < l->n; i++) {
        json_object *v = json_object_array_get_idx(vms, i);
        assert_string_equal(jstr(v, "moref"), l->vms[i].moref);
        assert_string_equal(jstr(v, "path"), l->vms[i].path);
        assert_int_equal(jint(v, "capacity_bytes"), l->vms[i].capacity_bytes);
    }
    json_object_put(j);
    vmmk_string_free(json);
    vmmk_vm_summary_list_free(l);
    vmmk_vsphere_free(vs);
}

static void test_list_after_session_expired(void **state)
{
    (void)state;
    NEED_VCSIM();
    vmmk_vsphere *vs = connect_or_fail();
    assert_int_equal(vmmk__vs_logout_server_only(vs), 0);
    vmmk_vm_summary_list *l = NULL;
    assert_int_equal(vmmk_vsphere_list_vms(&l, vs), 0);
    assert_int_equal(vs->relogins, 1);
    assert_int_equal(l->n, 7);
    vmmk_vm_summary_list_free(l);
    vmmk_vsphere_free(vs);
}

/* ---- finding ----------------------------------------------------------- */

static void expect_find(vmmk_vsphere *vs, const char *what, const char *moref, unsigned long calls)
{
    char *got = NULL;
    unsigned long c0 = vs->calls;
    int rc = vmmk_vsphere_find_vm(&got, vs, what);
    if (rc)
        print_error("%s: %s\n", what, vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_string_equal(got, moref);
    assert_int_equal(vs->calls - c0, calls);
    vmmk_string_free(got);
}

static void test_find(void **state)
{
    (void)state;
    NEED_VCSIM();
    vmmk_vsphere *vs = connect_or_fail();
    char *vm0 = govc_moref("/DC0/vm/DC0_H0_VM0");
    json_object *info = govc_json("vm.info", "-json", "/DC0/vm/DC0_H0_VM0", NULL);
    json_object *vm = json_object_array_get_idx(jget(info, "VirtualMachines"), 0);
    const char *bios = jstr(vm, "Config.Uuid"), *inst = jstr(vm, "Config.InstanceUuid");
    assert_non_null(bios);
    assert_non_null(inst);
    assert_string_not_equal(bios, inst);

    expect_find(vs, "DC0_H0_VM0", vm0, 3);                 /* name: one listing */
    expect_find(vs, "/DC0/vm/DC0_H0_VM0", vm0, 1);         /* FindByInventoryPath */
    expect_find(vs, "DC0/vm/DC0_H0_VM0", vm0, 1);
    expect_find(vs, bios, vm0, 1);                         /* FindByUuid, BIOS */
    expect_find(vs, inst, vm0, 2);                         /* BIOS miss, then instance */
    expect_find(vs, vm0, vm0, 1);                          /* moref, checked */
    char typed[64];
    snprintf(typed, sizeof typed, "VirtualMachine:%s", vm0);
    expect_find(vs, typed, vm0, 1);
    char *twin1 = govc_moref("/DC0/vm/f1/twin");
    expect_find(vs, "/DC0/vm/f1/twin", twin1, 1);
    char *web = govc_moref("/DC0/vm/" WEB);
    expect_find(vs, WEB, web, 3);
    free(twin1);
    free(web);
    free(vm0);
    json_object_put(info);
    vmmk_vsphere_free(vs);
}

static void expect_not_found(vmmk_vsphere *vs, const char *what, const char *const *needles)
{
    char *got = (char *)"untouched";
    assert_int_equal(vmmk_vsphere_find_vm(&got, vs, what), VMMK_ENOTFOUND);
    assert_null(got);
    const char *m = vmmk_error_last()->message;
    for (; *needles; needles++) {
        if (!strstr(m, *needles))
            print_error("\"%s\" not in: %s\n", *needles, m);
        assert_non_null(strstr(m, *needles));
    }
}

static void test_unknown_vm(void **state)
{
    (void)state;
    NEED_VCSIM();
    vmmk_vsphere *vs = connect_or_fail();
    expect_not_found(vs, "DC0_H0_VM", (const char *const[]){ "no VM named \"DC0_H0_VM\"", "among 7 VMs",
                     "closest: \"DC0_H0_VM0\", \"DC0_H0_VM1\"", "vSphere 127.0.0.1:", NULL });
    expect_not_found(vs, "nothing-like-it-at-all", (const char *const[]){ "among 7 VMs", NULL });
    assert_null(strstr(vmmk_error_last()->message, "closest"));
    expect_not_found(vs, "/DC0/vm/DC0_H0_VM9", (const char *const[]){
                     "no VM at inventory path \"/DC0/vm/DC0_H0_VM9\"", "among 7 VMs",
                     "closest paths: \"/DC0/vm/DC0_H0_VM0\"", NULL });
    expect_not_found(vs, "/DC0/vm", (const char *const[]){ "\"/DC0/vm\" is a Folder", "not a VM", NULL });
    expect_not_found(vs, "00000000-1111-2222-3333-444444444444", (const char *const[]){
                     "no VM with BIOS or instance UUID 00000000-1111-2222-3333-444444444444", "7 VMs", NULL });
    expect_not_found(vs, "vm-99999", (const char *const[]){ "no VM with moref vm-99999", NULL });
    char *got = NULL;
    assert_int_equal(vmmk_vsphere_find_vm(&got, vs, ""), VMMK_EINVAL);
    vmmk_vsphere_free(vs);
}

static void test_ambiguous_name(void **state)
{
    (void)state;
    NEED_VCSIM();
    vmmk_vsphere *vs = connect_or_fail();
    char *got = NULL;
    assert_int_equal(vmmk_vsphere_find_vm(&got, vs, "twin"), VMMK_ECONFLICT);
    assert_null(got);
    const char *m = vmmk_error_last()->message;
    assert_non_null(strstr(m, "2 VMs are named \"twin\""));
    assert_non_null(strstr(m, "/DC0/vm/f1/twin"));
    assert_non_null(strstr(m, "/DC0/vm/f2/twin"));
    vmmk_vsphere_free(vs);
}

/* ---- describing -------------------------------------------------------- */

/* Every field of @p vm against govc vm.info / device.info of @p path. */
static void cross_check(const vmmk_vm *v, const char *path)
{
    json_object *info = govc_json("vm.info", "-json", path, NULL);
    json_object *g = json_object_array_get_idx(jget(info, "VirtualMachines"), 0);
    json_object *dinfo = govc_json("device.info", "-json", "-vm", path);
    json_object *devs = jget(dinfo, "Devices");
    assert_string_equal(v->name, jstr(g, "Name"));
    assert_string_equal(v->moref, jstr(g, "Self.Value"));
    assert_string_equal(v->uuid, jstr(g, "Config.Uuid"));
    assert_str_or_null(v->instance_uuid, jstr(g, "Config.InstanceUuid"));
    assert_string_equal(v->guest_id, jstr(g, "Config.GuestId"));
    assert_str_or_null(v->guest_name, jstr(g, "Config.GuestFullName"));
    assert_string_equal(vmmk_firmware_name(v->firmware), jstr(g, "Config.Firmware"));
    assert_int_equal(v->secure_boot, jbool(g, "Config.BootOptions.EfiSecureBootEnabled"));
    assert_int_equal(v->vcpus, jint(g, "Config.Hardware.NumCPU"));
    int64_t cores = jint(g, "Config.Hardware.NumCoresPerSocket");
    assert_int_equal(v->cores_per_socket, cores ? cores : 1);
    assert_int_equal(v->memory_mib, jint(g, "Config.Hardware.MemoryMB"));
    assert_string_equal(vmmk_power_state_name(v->power_state), jstr(g, "Runtime.PowerState"));
    assert_int_equal(v->cbt_enabled, jbool(g, "Config.ChangeTrackingEnabled"));
    size_t nd = 0, nn = 0;
    bool tpm = false;
    for (size_t i = 0; i < json_object_array_length(devs); i++) {
        json_object *d = json_object_array_get_idx(devs, i);
        const char *type = jstr(d, "Type");
        if (strcmp(type, "VirtualTPM") == 0)
            tpm = true;
        if (strcmp(type, "VirtualDisk") == 0) {
            assert_true(nd < v->n_disks);
            const vmmk_disk *k = &v->disks[nd++];
            assert_int_equal(k->key, jint(d, "Key"));
            assert_str_or_null(k->label, jstr(d, "DeviceInfo.Label"));
            uint64_t cap = jint(d, "CapacityInBytes") ? (uint64_t)jint(d, "CapacityInBytes")
                                                      : (uint64_t)jint(d, "CapacityInKB") * 1024;
            assert_int_equal(k->capacity_bytes, cap);
            const char *file = jstr(d, "Backing.FileName");
            assert_string_equal(k->file, file);
            assert_int_equal(strncmp(file, "[LocalDS_0] ", 12), 0);
            assert_string_equal(k->datastore, "LocalDS_0");
            const char *ctype = NULL;
            for (size_t c = 0; c < json_object_array_length(devs); c++) {
                json_object *cd = json_object_array_get_idx(devs, c);
                if (jint(cd, "Key") == jint(d, "ControllerKey"))
                    ctype = jstr(cd, "Type");
            }
            assert_string_equal(vmmk_controller_name(k->controller), type_to(ctype, true));
            assert_int_equal(k->unit, jint(d, "UnitNumber"));
            assert_int_equal(k->thin, jbool(d, "Backing.ThinProvisioned"));
            assert_str_or_null(k->change_id, jstr(d, "Backing.ChangeId"));
        } else if (jget(d, "MacAddress")) {
            assert_true(nn < v->n_nics);
            const vmmk_nic *n = &v->nics[nn++];
            assert_int_equal(n->key, jint(d, "Key"));
            assert_str_or_null(n->label, jstr(d, "DeviceInfo.Label"));
            assert_string_equal(n->mac, jstr(d, "MacAddress"));   /* vcsim's are lowercase already */
            assert_string_equal(vmmk_nic_adapter_name(n->adapter), type_to(type, false));
            const char *pg = jstr(d, "Backing.Port.PortgroupKey");
            assert_str_or_null(n->portgroup_key, pg);
            assert_str_or_null(n->switch_uuid, jstr(d, "Backing.Port.SwitchUuid"));
            if (pg) {
                char ref[96], *out = NULL;
                snprintf(ref, sizeof ref, "DistributedVirtualPortgroup:%s", pg);
                assert_int_equal(fixture_govc(&out, "object.collect", "-s", ref, "name", (char *)NULL), 0);
                out[strcspn(out, "\n")] = '\0';
                assert_string_equal(n->network, out);
                free(out);
            } else {
                assert_string_equal(n->network, jstr(d, "Backing.DeviceName"));
            }
            /* vcsim reports no guest IPs (the parse is tested below). */
            json_object *gn = jget(g, "Guest.Net");
            for (size_t k = 0; k < json_object_array_length(gn); k++)
                if (jint(json_object_array_get_idx(gn, k), "DeviceConfigId") == n->key)
                    assert_null(jget(json_object_array_get_idx(gn, k), "IpConfig"));
            assert_int_equal(n->n_ips, 0);
        }
    }
    assert_int_equal(v->n_disks, nd);
    assert_int_equal(v->n_nics, nn);
    assert_int_equal(v->vtpm, tpm);
    json_object_put(info);
    json_object_put(dinfo);
}

static void test_describe_fixture(void **state)
{
    (void)state;
    NEED_VCSIM();
    vmmk_vsphere *vs = connect_or_fail();
    char *moref = NULL;
    assert_int_equal(vmmk_vsphere_find_vm(&moref, vs, WEB), 0);
    vmmk_vm *v = NULL;
    unsigned long c0 = vs->calls;
    int rc = vmmk_vsphere_describe_vm(&v, vs, moref);
    if (rc)
        print_error("%s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_int_equal(vs->calls - c0, 1);
    cross_check(v, "/DC0/vm/" WEB);
    /* What the fixture set, spelled out. */
    assert_string_equal(v->guest_id, "rhel8_64Guest");
    assert_int_equal(v->firmware, VMMK_FIRMWARE_EFI);
    assert_true(v->secure_boot);
    assert_true(v->vtpm);
    assert_true(v->cbt_enabled);
    assert_int_equal(v->vcpus, 4);
    assert_int_equal(v->cores_per_socket, 2);
    assert_int_equal(v->memory_mib, 8192);
    assert_int_equal(v->n_disks, 4);
    assert_int_equal(v->disks[0].capacity_bytes, 20 * 1024 * MiB);
    assert_int_equal(v->disks[0].controller, VMMK_CONTROLLER_LSILOGIC);
    assert_true(v->disks[0].thin);
    assert_int_equal(v->disks[1].controller, VMMK_CONTROLLER_PVSCSI);
    assert_false(v->disks[1].thin);
    assert_int_equal(v->disks[2].controller, VMMK_CONTROLLER_NVME);
    assert_int_equal(v->disks[3].controller, VMMK_CONTROLLER_SATA);
    assert_int_equal(v->n_nics, 2);
    assert_int_equal(v->nics[0].adapter, VMMK_ADAPTER_VMXNET3);
    assert_string_equal(v->nics[0].network, "VM Network");
    assert_null(v->nics[0].portgroup_key);
    assert_int_equal(v->nics[1].adapter, VMMK_ADAPTER_E1000E);
    assert_string_equal(v->nics[1].network, "DC0_DVPG0");
    assert_int_equal(vmmk_vm_validate(v), 0);
    char *json = NULL;
    assert_int_equal(vmmk_vm_to_json(&json, v, 0), 0);
    vmmk_vm *back = NULL;
    assert_int_equal(vmmk_vm_from_json(&back, json, (size_t)-1), 0);
    assert_int_equal(back->n_disks, 4);
    vmmk_vm_free(back);
    vmmk_string_free(json);
    vmmk_vm_free(v);
    vmmk_string_free(moref);
    vmmk_vsphere_free(vs);
}

static void test_describe_dvportgroup_vm(void **state)
{
    (void)state;
    NEED_VCSIM();
    vmmk_vsphere *vs = connect_or_fail();
    char *moref = govc_moref("/DC0/vm/DC0_H0_VM0");
    vmmk_vm *v = NULL;
    assert_int_equal(vmmk_vsphere_describe_vm(&v, vs, moref), 0);
    cross_check(v, "/DC0/vm/DC0_H0_VM0");
    assert_int_equal(v->n_nics, 1);
    assert_string_equal(v->nics[0].portgroup_key, "dvportgroup-13");
    assert_non_null(v->nics[0].switch_uuid);
    assert_string_equal(v->nics[0].network, "DC0_DVPG0");
    assert_int_equal(v->nics[0].adapter, VMMK_ADAPTER_E1000);
    assert_int_equal(v->n_disks, 1);
    assert_int_equal(v->disks[0].capacity_bytes, MiB);     /* capacityInKB 1024: vcsim has no bytes */
    assert_int_equal(v->firmware, VMMK_FIRMWARE_BIOS);
    assert_false(v->secure_boot);
    assert_false(v->vtpm);
    vmmk_vm_free(v);

    assert_int_equal(vmmk_vsphere_describe_vm(&v, vs, "vm-99999"), VMMK_ENOTFOUND);
    assert_null(v);
    assert_non_null(strstr(vmmk_error_last()->message, "vm-99999"));
    free(moref);
    vmmk_vsphere_free(vs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_all_in_one_view),
        cmocka_unit_test(test_list_after_session_expired),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_unknown_vm),
        cmocka_unit_test(test_ambiguous_name),
        cmocka_unit_test(test_describe_fixture),
        cmocka_unit_test(test_describe_dvportgroup_vm),
    };
    return cmocka_run_group_tests_name("vsphere_inventory", tests, group_setup, group_teardown);
}
