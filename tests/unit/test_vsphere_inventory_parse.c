/* The inventory and description parsers fed with synthetic replies, for
 * what vcsim cannot produce: paging tokens (vcsim never pages), guest IPs,
 * opaque networks, capacityInBytes, RDM and SE sparse backings, unknown
 * controllers, and vCenter's xsi:type spelling.  THIS IS A FAKE PEER: the
 * replies are written after the vSphere API reference (RetrieveResult,
 * VirtualMachineConfigInfo, GuestNicInfo, VirtualEthernetCard backings) in
 * the shape vcsim's real replies have (tests/unit/test_vsphere_inventory.c
 * checks those against vcsim itself). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmmk/vmmk.h>
#include "common/internal.h"
#include "vsphere/inventory.h"

static const uint64_t MiB = 1024 * 1024;

#define ENV_OPEN "<?xml version=\"1.0\"?><soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" " \
                 "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:xsd=\"http://www.w3.org/2001/XMLSchema\">" \
                 "<soapenv:Body>"
#define ENV_CLOSE "</soapenv:Body></soapenv:Envelope>"
#define PROP(n, v) "<propSet><name>" n "</name><val xsi:type=\"xsd:string\">" v "</val></propSet>"
#define REF(n, t, v) "<propSet><name>" n "</name><val xsi:type=\"ManagedObjectReference\" type=\"" t "\">" v "</val></propSet>"
#define VMOBJ(id, name, parent)                                                                    \
    "<objects><obj type=\"VirtualMachine\">" id "</obj>" PROP("name", name) REF("parent", "Folder", parent) \
    "<propSet><name>config.hardware.device</name><val xsi:type=\"ArrayOfVirtualDevice\">"            \
    "<VirtualDevice xsi:type=\"VirtualDisk\"><key>2000</key><capacityInKB>1</capacityInKB>"          \
    "<capacityInBytes>5368709120</capacityInBytes></VirtualDevice></val></propSet></objects>"
#define ENT(type, id, name, parent, ptype)                                                         \
    "<objects><obj type=\"" type "\">" id "</obj>" PROP("name", name) REF("parent", ptype, parent) "</objects>"

static const char *const PAGES[] = {
    ENV_OPEN "<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>"
    VMOBJ("vm-1", "a%2fb", "group-v3") ENT("Datacenter", "datacenter-2", "DC1", "group-d1", "Folder")
    "<token>t1</token></returnval></RetrievePropertiesExResponse>" ENV_CLOSE,
    ENV_OPEN "<ContinueRetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>"
    VMOBJ("vm-2", "b", "group-v9") ENT("Folder", "group-v9", "sub", "group-v3", "Folder")
    "<token>t2</token></returnval></ContinueRetrievePropertiesExResponse>" ENV_CLOSE,
    ENV_OPEN "<ContinueRetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval>"
    ENT("Folder", "group-v3", "vm", "datacenter-2", "Datacenter") VMOBJ("vm-3", "orphan", "group-v404")
    "</returnval></ContinueRetrievePropertiesExResponse>" ENV_CLOSE,
};

typedef struct pager {
    const char *const *pages;
    size_t next, n;
    char seen[4][16];
    size_t n_seen;
    char cancelled[16];
    int fail_at;               /* page index whose fetch fails, or -1 */
} pager;

static int parse(vmmk__soap_response *out, const char *xml)
{
    return vmmk__soap_parse(out, "RetrievePropertiesEx", xml, strlen(xml), 200);
}

static int next_page(vmmk__soap_response *out, const char *token, void *payload)
{
    pager *p = payload;
    snprintf(p->seen[p->n_seen++ % 4], sizeof p->seen[0], "%s", token);
    if ((int)p->next == p->fail_at)
        return vmmk__err_full(VMMK_ENETWORK, NULL, NULL, 0, 0, "connection reset");
    assert_true(p->next < p->n);
    return parse(out, p->pages[p->next++]);
}

static int cancel_page(vmmk__soap_response *out, const char *token, void *payload)
{
    pager *p = payload;
    snprintf(p->cancelled, sizeof p->cancelled, "%s", token);
    memset(out, 0, sizeof *out);
    return vmmk__err(VMMK_EREMOTE, "cancel failed too");   /* must not replace the first error */
}

static void test_token_loop(void **state)
{
    (void)state;
    pager p = { PAGES, 1, 3, { { 0 } }, 0, "", -1 };
    vmmk__soap_response first;
    assert_int_equal(parse(&first, PAGES[0]), 0);
    vmmk__vs_listing *l = vmmk__vs_listing_new();
    unsigned pages = 0;
    assert_int_equal(vmmk__vs_listing_pages(l, &first, next_page, cancel_page, &p, "vc", &pages), 0);
    assert_int_equal(pages, 3);
    assert_int_equal(p.n_seen, 2);
    assert_string_equal(p.seen[0], "t1");
    assert_string_equal(p.seen[1], "t2");
    assert_string_equal(p.cancelled, "");
    vmmk_vm_summary_list *list = NULL;
    assert_int_equal(vmmk__vs_listing_finish(&list, l, "group-d1"), 0);
    vmmk__vs_listing_free(l);
    assert_int_equal(list->n, 3);
    /* Paths use folders from later pages; names are unescaped, paths not. */
    assert_string_equal(list->vms[0].name, "a/b");
    assert_string_equal(list->vms[0].path, "/DC1/vm/a%2fb");
    assert_string_equal(list->vms[1].path, "/DC1/vm/sub/b");
    assert_null(list->vms[2].path);
    assert_int_equal(list->vms[0].n_disks, 1);
    assert_int_equal(list->vms[0].capacity_bytes, 5368709120ull);   /* bytes win over KB */
    char *json = NULL;
    assert_int_equal(vmmk_vm_summary_list_to_json(&json, list, VMMK_JSON_PRETTY), 0);
    assert_non_null(strstr(json, "\"path\": null"));
    vmmk_string_free(json);
    vmmk_vm_summary_list_free(list);
}

static void test_token_loop_errors(void **state)
{
    (void)state;
    /* The second Continue fails: the pending token is cancelled and the
     * first error is the one reported. */
    pager p = { PAGES, 1, 3, { { 0 } }, 0, "", 2 };
    vmmk__soap_response first;
    assert_int_equal(parse(&first, PAGES[0]), 0);
    vmmk__vs_listing *l = vmmk__vs_listing_new();
    assert_int_equal(vmmk__vs_listing_pages(l, &first, next_page, cancel_page, &p, "vc", NULL), VMMK_ENETWORK);
    assert_string_equal(p.cancelled, "t2");
    assert_string_equal(vmmk_error_last()->message, "connection reset");
    vmmk__vs_listing_free(l);

    /* A server that hands out the same token forever. */
    static const char *const loop[] = { PAGES[0], PAGES[0], PAGES[0] };
    pager q = { loop, 1, 3, { { 0 } }, 0, "", -1 };
    assert_int_equal(parse(&first, loop[0]), 0);
    l = vmmk__vs_listing_new();
    assert_int_equal(vmmk__vs_listing_pages(l, &first, next_page, NULL, &q, "vc", NULL), VMMK_EREMOTE);
    assert_non_null(strstr(vmmk_error_last()->message, "same continuation token twice"));
    vmmk__vs_listing_free(l);
}

/* vCenter-style (xsi:type) RetrieveProperties reply with what vcsim lacks. */
static const char DESCRIBE[] = ENV_OPEN "<RetrievePropertiesResponse xmlns=\"urn:vim25\">"
    "<returnval><obj type=\"VirtualMachine\">vm-42</obj>" PROP("name", "db%2f01")
    PROP("config.uuid", "42100000-0000-0000-0000-000000000001") PROP("config.guestId", "windows2019srv_64Guest")
    PROP("config.firmware", "efi")
    "<propSet><name>config.bootOptions.efiSecureBootEnabled</name><val xsi:type=\"xsd:boolean\">true</val></propSet>"
    "<propSet><name>config.hardware.numCPU</name><val xsi:type=\"xsd:int\">6</val></propSet>"
    "<propSet><name>config.hardware.numCoresPerSocket</name><val xsi:type=\"xsd:int\">4</val></propSet>"
    "<propSet><name>config.hardware.memoryMB</name><val xsi:type=\"xsd:int\">16384</val></propSet>"
    "<propSet><name>runtime.powerState</name><val xsi:type=\"VirtualMachinePowerState\">suspended</val></propSet>"
    "<propSet><name>summary.config</name><val xsi:type=\"VirtualMachineConfigSummary\">"
    "<guestFullName>Microsoft Windows Server 2019 (64-bit)</guestFullName><instanceUuid>50100000-0000-0000-0000-000000000002</instanceUuid></val></propSet>"
    "<propSet><name>config.hardware.device</name><val xsi:type=\"ArrayOfVirtualDevice\">"
    "<VirtualDevice xsi:type=\"VirtualDisk\"><key>2001</key><deviceInfo><label>Hard disk 2</label></deviceInfo>"
    "<backing xsi:type=\"VirtualDiskRawDiskMappingVer1BackingInfo\"><fileName>[san 1] db/db_1.vmdk</fileName>"
    "<changeId>52 1f 6b 3e/17</changeId></backing><controllerKey>1000</controllerKey><unitNumber>1</unitNumber>"
    "<capacityInKB>1</capacityInKB><capacityInBytes>1099511627776</capacityInBytes></VirtualDevice>"
    "<VirtualDevice xsi:type=\"VirtualLsiLogicSASController\"><key>1000</key><busNumber>0</busNumber></VirtualDevice>"
    "<VirtualDevice xsi:type=\"VirtualDisk\"><key>2002</key>"
    "<backing xsi:type=\"VirtualDiskSeSparseBackingInfo\"><fileName>[ds2] db/db_2.vmdk</fileName>"
    "<datastore type=\"Datastore\">datastore-12</datastore></backing><controllerKey>3000</controllerKey>"
    "<unitNumber>0</unitNumber><capacityInKB>2048</capacityInKB></VirtualDevice>"
    "<VirtualDevice xsi:type=\"VirtualIDEController\"><key>3000</key></VirtualDevice>"
    "<VirtualDevice xsi:type=\"VirtualVmxnet3\"><key>4000</key><deviceInfo><label>Network adapter 1</label></deviceInfo>"
    "<backing xsi:type=\"VirtualEthernetCardOpaqueNetworkBackingInfo\"><opaqueNetworkId>seg-1</opaqueNetworkId>"
    "<opaqueNetworkType>nsx.LogicalSwitch</opaqueNetworkType></backing><macAddress>00:50:56:AA:BB:CC</macAddress></VirtualDevice>"
    "<VirtualDevice xsi:type=\"VirtualPCNet32\"><key>4001</key>"
    "<backing xsi:type=\"VirtualEthernetCardNetworkBackingInfo\"><deviceName>stale name</deviceName>"
    "<network type=\"Network\">network-9</network></backing><macAddress>00:50:56:aa:bb:cd</macAddress></VirtualDevice>"
    "<VirtualDevice xsi:type=\"VirtualSriovEthernetCard\"><key>4002</key>"
    "<backing xsi:type=\"VirtualEthernetCardDistributedVirtualPortBackingInfo\"><port>"
    "<switchUuid>50 2e 1a</switchUuid><portgroupKey>dvportgroup-33</portgroupKey></port></backing>"
    "<macAddress>00:50:56:aa:bb:ce</macAddress></VirtualDevice>"
    "<VirtualDevice xsi:type=\"VirtualTPM\"><key>11000</key></VirtualDevice>"
    "<VirtualDevice xsi:type=\"VirtualUSBController\"><key>7000</key></VirtualDevice>"
    "<VirtualDevice xsi:type=\"VirtualFloppy\"><key>8000</key></VirtualDevice>"
    "</val></propSet>"
    "<propSet><name>guest.net</name><val xsi:type=\"ArrayOfGuestNicInfo\">"
    "<GuestNicInfo><deviceConfigId>4000</deviceConfigId><ipAddress>10.0.0.5</ipAddress><ipConfig>"
    "<ipAddress><ipAddress>10.0.0.5</ipAddress><prefixLength>24</prefixLength></ipAddress>"
    "<ipAddress><ipAddress>fe80::250:56ff:feaa:bbcc</ipAddress><prefixLength>64</prefixLength></ipAddress>"
    "<ipAddress><ipAddress>2001:db8::5</ipAddress><prefixLength>64</prefixLength></ipAddress>"
    "</ipConfig></GuestNicInfo>"
    "<GuestNicInfo><deviceConfigId>4001</deviceConfigId><ipAddress>192.168.1.7</ipAddress>"
    "<ipAddress>169.254.3.3</ipAddress></GuestNicInfo>"
    "<GuestNicInfo><deviceConfigId>-1</deviceConfigId><ipAddress>172.17.0.1</ipAddress></GuestNicInfo>"
    "</val></propSet></returnval>"
    "<returnval><obj type=\"Datastore\">datastore-12</obj>" PROP("name", "ds2") "</returnval>"
    "<returnval><obj type=\"Network\">network-9</obj>" PROP("name", "Prod%2fVLAN 10") "</returnval>"
    "<returnval><obj type=\"DistributedVirtualPortgroup\">dvportgroup-33</obj>" PROP("name", "pg-db")
    PROP("key", "dvportgroup-33") "</returnval>"
    "<returnval><obj type=\"OpaqueNetwork\">network-o1</obj>" PROP("name", "segment-db")
    "<propSet><name>summary</name><val xsi:type=\"OpaqueNetworkSummary\"><opaqueNetworkId>seg-1</opaqueNetworkId>"
    "</val></propSet></returnval>"
    "</RetrievePropertiesResponse>" ENV_CLOSE;

static void test_describe_synthetic(void **state)
{
    (void)state;
    vmmk__soap_response r;
    assert_int_equal(vmmk__soap_parse(&r, "RetrieveProperties", DESCRIBE, strlen(DESCRIBE), 200), 0);
    vmmk_vm *v = NULL;
    int rc = vmmk__vs_vm_from_reply(&v, r.body, "vm-42", "vc");
    if (rc)
        print_error("%s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_string_equal(v->name, "db/01");
    assert_string_equal(v->instance_uuid, "50100000-0000-0000-0000-000000000002");   /* from summary */
    assert_string_equal(v->guest_name, "Microsoft Windows Server 2019 (64-bit)");
    assert_true(v->secure_boot);
    assert_true(v->vtpm);
    assert_int_equal(v->vcpus, 6);
    assert_int_equal(v->cores_per_socket, 1);        /* 4 does not divide 6 */
    assert_int_equal(v->power_state, VMMK_POWER_SUSPENDED);
    assert_int_equal(v->n_disks, 2);
    assert_int_equal(v->disks[0].capacity_bytes, 1ull << 40);
    assert_int_equal(v->disks[0].controller, VMMK_CONTROLLER_LSILOGICSAS);
    assert_string_equal(v->disks[0].datastore, "san 1");
    assert_string_equal(v->disks[0].change_id, "52 1f 6b 3e/17");
    assert_false(v->disks[0].thin);
    assert_int_equal(v->disks[1].capacity_bytes, 2 * MiB);
    assert_int_equal(v->disks[1].controller, VMMK_CONTROLLER_IDE);
    assert_string_equal(v->disks[1].datastore, "ds2");
    assert_true(v->disks[1].thin);
    assert_null(v->disks[1].label);
    assert_int_equal(v->n_nics, 3);
    assert_string_equal(v->nics[0].mac, "00:50:56:aa:bb:cc");
    assert_string_equal(v->nics[0].network, "segment-db");
    assert_int_equal(v->nics[0].n_ips, 2);
    assert_string_equal(v->nics[0].ips[0], "10.0.0.5/24");
    assert_string_equal(v->nics[0].ips[1], "2001:db8::5/64");
    assert_int_equal(v->nics[1].adapter, VMMK_ADAPTER_PCNET32);
    assert_string_equal(v->nics[1].network, "Prod/VLAN 10");
    assert_int_equal(v->nics[1].n_ips, 1);
    assert_string_equal(v->nics[1].ips[0], "192.168.1.7");
    assert_int_equal(v->nics[2].adapter, VMMK_ADAPTER_SRIOV);
    assert_string_equal(v->nics[2].network, "pg-db");
    assert_string_equal(v->nics[2].portgroup_key, "dvportgroup-33");
    assert_string_equal(v->nics[2].switch_uuid, "50 2e 1a");
    vmmk_vm_free(v);

    /* Not in the reply: not found; a disk on an unknown controller: named. */
    assert_int_equal(vmmk__vs_vm_from_reply(&v, r.body, "vm-43", "vc"), VMMK_ENOTFOUND);
    vmmk__soap_response_clear(&r);
    static const char bad[] = ENV_OPEN "<RetrievePropertiesResponse xmlns=\"urn:vim25\"><returnval>"
        "<obj type=\"VirtualMachine\">vm-1</obj>" PROP("name", "x") PROP("config.uuid", "u") PROP("config.guestId", "g")
        "<propSet><name>config.hardware.device</name><val xsi:type=\"ArrayOfVirtualDevice\">"
        "<VirtualDevice xsi:type=\"VirtualFutureController\"><key>900</key></VirtualDevice>"
        "<VirtualDevice xsi:type=\"VirtualDisk\"><key>2000</key><backing xsi:type=\"VirtualDiskFlatVer2BackingInfo\">"
        "<fileName>[d] x.vmdk</fileName></backing><controllerKey>900</controllerKey><unitNumber>0</unitNumber>"
        "<capacityInKB>1</capacityInKB></VirtualDevice></val></propSet></returnval>"
        "</RetrievePropertiesResponse>" ENV_CLOSE;
    assert_int_equal(vmmk__soap_parse(&r, "RetrieveProperties", bad, strlen(bad), 200), 0);
    assert_int_equal(vmmk__vs_vm_from_reply(&v, r.body, "vm-1", "vc"), VMMK_EUNSUPPORTED);
    assert_non_null(strstr(vmmk_error_last()->message, "VirtualFutureController"));
    assert_non_null(strstr(vmmk_error_last()->message, "vm-1 (x)"));
    vmmk__soap_response_clear(&r);
}

static void test_helpers(void **state)
{
    (void)state;
    char *s = vmmk__vs_unescape_name("a%2Fb%5cc%25d%zz");
    assert_string_equal(s, "a/b\\c%d%zz");
    free(s);
    s = vmmk__vs_vm_moref_id("vm-42");
    assert_string_equal(s, "vm-42");
    free(s);
    s = vmmk__vs_vm_moref_id("VirtualMachine:7");
    assert_string_equal(s, "7");
    free(s);
    assert_null(vmmk__vs_vm_moref_id("vm-4x"));
    assert_null(vmmk__vs_vm_moref_id("web01"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_helpers),
        cmocka_unit_test(test_token_loop),
        cmocka_unit_test(test_token_loop_errors),
        cmocka_unit_test(test_describe_synthetic),
    };
    return cmocka_run_group_tests_name("vsphere_inventory_parse", tests, NULL, NULL);
}
