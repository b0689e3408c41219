/* Image properties: the exact set for known VMs, then every rule of
 * docs/image-properties.md one by one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmmk/vmmk.h>

#define EXAMPLE_VM VMMK_SOURCE_DIR "/examples/vm.json"

/* A VM with one disk per controller named in @p controllers (comma
 * separated, NULL for none) and one NIC per adapter in @p adapters. */
static vmmk_vm *make_vm(const char *guest_id, const char *guest_name, const char *firmware,
                        bool secure_boot, bool vtpm, const char *controllers,
                        const char *adapters, int vcpus, int cores_per_socket)
{
    char disks[1024] = "", nics[1024] = "", item[256];
    char list[256];
    int n = 0;
    snprintf(list, sizeof list, "%s", controllers ? controllers : "");
    for (char *save = NULL, *c = strtok_r(list, ",", &save); c; c = strtok_r(NULL, ",", &save), n++) {
        snprintf(item, sizeof item,
                 "%s{\"key\": %d, \"capacity_bytes\": 1073741824, \"file\": \"[ds] v/d%d.vmdk\","
                 " \"controller\": \"%s\", \"unit\": %d}", n ? "," : "", 2000 + n, n, c, n);
        strcat(disks, item);
    }
    snprintf(list, sizeof list, "%s", adapters ? adapters : "");
    n = 0;
    for (char *save = NULL, *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save), n++) {
        snprintf(item, sizeof item,
                 "%s{\"key\": %d, \"mac\": \"00:50:56:00:00:%02x\", \"adapter\": \"%s\","
                 " \"network\": \"net\"}", n ? "," : "", 4000 + n, n, a);
        strcat(nics, item);
    }
    char name_member[256] = "";
    if (guest_name)
        snprintf(name_member, sizeof name_member, "\"guest_name\": \"%s\",", guest_name);
    char *json = NULL;
    assert_true(asprintf(&json,
                         "{\"name\": \"t\", \"uuid\": \"u\", \"moref\": \"vm-1\", \"guest_id\": \"%s\", %s"
                         " \"firmware\": \"%s\", \"secure_boot\": %s, \"vtpm\": %s, \"vcpus\": %d,"
                         " \"cores_per_socket\": %d, \"memory_mib\": 1024,"
                         " \"power_state\": \"poweredOff\", \"disks\": [%s], \"nics\": [%s]}",
                         guest_id, name_member, firmware, secure_boot ? "true" : "false",
                         vtpm ? "true" : "false", vcpus, cores_per_socket, disks, nics) > 0);
    vmmk_vm *vm = NULL;
    int rc = vmmk_vm_from_json(&vm, json, (size_t)-1);
    if (rc)
        print_error("VM: %s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    free(json);
    return vm;
}

static vmmk_properties *props_for(const vmmk_vm *vm, const vmmk_image_options *opts)
{
    vmmk_properties *p = NULL;
    int rc = vmmk_image_properties(&p, vm, opts);
    if (rc)
        print_error("properties: %s\n", vmmk_error_last()->message);
    assert_int_equal(rc, 0);
    assert_non_null(p);
    return p;
}

static char *props_json(const vmmk_vm *vm, const vmmk_image_options *opts)
{
    vmmk_properties *p = props_for(vm, opts);
    char *json = NULL;
    assert_int_equal(vmmk_properties_to_json(&json, p, 0), 0);
    vmmk_properties_free(p);
    return json;
}

/* ---- whole sets -------------------------------------------------------- */

static void test_example_vm(void **state)
{
    (void)state;
    vmmk_vm *vm = NULL;
    assert_int_equal(vmmk_vm_from_file(&vm, EXAMPLE_VM), 0);
    /* rhel9, EFI with secure boot, pvscsi, 4 vCPUs as 2x2, converted. */
    char *json = props_json(vm, NULL);
    assert_string_equal(json,
        "{\"hw_cpu_cores\":\"2\",\"hw_cpu_sockets\":\"2\",\"hw_cpu_threads\":\"1\","
        "\"hw_disk_bus\":\"scsi\",\"hw_firmware_type\":\"uefi\",\"hw_machine_type\":\"q35\","
        "\"hw_qemu_guest_agent\":\"yes\",\"hw_rng_model\":\"virtio\",\"hw_scsi_model\":\"virtio-scsi\","
        "\"hw_vif_model\":\"virtio\",\"os_distro\":\"rhel\",\"os_secure_boot\":\"required\","
        "\"os_type\":\"linux\",\"os_version\":\"9\"}");
    vmmk_string_free(json);

    vmmk_properties *p = props_for(vm, NULL);
    assert_int_equal(p->n, 14);
    assert_string_equal(p->keys[0], "hw_cpu_cores");
    assert_string_equal(vmmk_properties_get(p, "os_distro"), "rhel");
    assert_string_equal(vmmk_properties_get(p, "hw_scsi_model"), "virtio-scsi");
    assert_null(vmmk_properties_get(p, "hw_tpm_version"));
    assert_null(vmmk_properties_get(p, "nonsense"));
    assert_null(vmmk_properties_get(p, NULL));
    assert_null(vmmk_properties_get(NULL, "os_type"));
    vmmk_properties_free(p);
    vmmk_vm_free(vm);
}

static void test_windows11_vtpm(void **state)
{
    (void)state;
    vmmk_vm *vm = make_vm("windows11_64Guest", "Microsoft Windows 11 (64-bit)", "efi", true, true,
                          "sata", "e1000e", 4, 4);
    char *json = props_json(vm, NULL);
    assert_string_equal(json,
        "{\"hw_cpu_cores\":\"4\",\"hw_cpu_sockets\":\"1\",\"hw_cpu_threads\":\"1\","
        "\"hw_disk_bus\":\"virtio\",\"hw_firmware_type\":\"uefi\",\"hw_machine_type\":\"q35\","
        "\"hw_qemu_guest_agent\":\"yes\",\"hw_rng_model\":\"virtio\",\"hw_tpm_model\":\"tpm-crb\","
        "\"hw_tpm_version\":\"2.0\",\"hw_vif_model\":\"virtio\",\"os_distro\":\"windows\","
        "\"os_secure_boot\":\"required\",\"os_type\":\"windows\",\"os_version\":\"11\"}");
    vmmk_string_free(json);

    /* Not converted: the emulated devices Windows has in-box drivers for. */
    vmmk_image_options o = VMMK_IMAGE_OPTIONS_INIT;
    o.converted = false;
    vmmk_properties *p = props_for(vm, &o);
    assert_string_equal(vmmk_properties_get(p, "hw_disk_bus"), "sata");
    assert_null(vmmk_properties_get(p, "hw_scsi_model"));
    assert_string_equal(vmmk_properties_get(p, "hw_vif_model"), "e1000e");
    assert_string_equal(vmmk_properties_get(p, "hw_tpm_version"), "2.0");
    vmmk_properties_free(p);
    vmmk_vm_free(vm);
}

static void test_bios_vm(void **state)
{
    (void)state;
    vmmk_vm *vm = make_vm("debian12_64Guest", NULL, "bios", false, false, "lsilogic", "vmxnet3", 2, 1);
    char *json = props_json(vm, NULL);
    /* No firmware, machine type, secure boot, TPM or CPU topology keys. */
    assert_string_equal(json,
        "{\"hw_disk_bus\":\"scsi\",\"hw_qemu_guest_agent\":\"yes\",\"hw_rng_model\":\"virtio\","
        "\"hw_scsi_model\":\"virtio-scsi\",\"hw_vif_model\":\"virtio\",\"os_distro\":\"debian\","
        "\"os_type\":\"linux\",\"os_version\":\"12\"}");
    vmmk_string_free(json);
    vmmk_vm_free(vm);
}

/* ---- disk bus ---------------------------------------------------------- */

typedef struct bus_case {
    const char *controllers;   /* boot disk first */
    const char *firmware;
    bool converted;
    vmmk_disk_bus choice;
    const char *bus;
    const char *scsi_model;    /* NULL: no hw_scsi_model */
} bus_case;

static void check_bus(const bus_case *c)
{
    vmmk_vm *vm = make_vm("rhel8_64Guest", NULL, c->firmware, false, false, c->controllers, "vmxnet3", 1, 1);
    vmmk_image_options o = VMMK_IMAGE_OPTIONS_INIT;
    o.converted = c->converted;
    o.disk_bus = c->choice;
    vmmk_properties *p = props_for(vm, &o);
    const char *bus = vmmk_properties_get(p, "hw_disk_bus");
    const char *model = vmmk_properties_get(p, "hw_scsi_model");
    if (!bus || strcmp(bus, c->bus) != 0 || (model == NULL) != (c->scsi_model == NULL) ||
        (model && strcmp(model, c->scsi_model) != 0))
        print_error("controllers %s, %s, converted %d, choice %d: got %s/%s, want %s/%s\n",
                    c->controllers ? c->controllers : "(none)", c->firmware, c->converted,
                    (int)c->choice, bus ? bus : "(none)", model ? model : "(none)", c->bus,
                    c->scsi_model ? c->scsi_model : "(none)");
    assert_non_null(bus);
    assert_string_equal(bus, c->bus);
    if (c->scsi_model) {
        assert_non_null(model);
        assert_string_equal(model, c->scsi_model);
    } else {
        assert_null(model);
    }
    vmmk_properties_free(p);
    vmmk_vm_free(vm);
}

static void test_disk_bus_auto(void **state)
{
    (void)state;
    static const bus_case cases[] = {
        /* converted: virtio-scsi for SCSI sources, virtio-blk for the rest */
        { "pvscsi", "bios", true, VMMK_DISK_BUS_AUTO, "scsi", "virtio-scsi" },
        { "lsilogic", "bios", true, VMMK_DISK_BUS_AUTO, "scsi", "virtio-scsi" },
        { "lsilogicsas", "bios", true, VMMK_DISK_BUS_AUTO, "scsi", "virtio-scsi" },
        { "buslogic", "bios", true, VMMK_DISK_BUS_AUTO, "scsi", "virtio-scsi" },
        { "sata", "bios", true, VMMK_DISK_BUS_AUTO, "virtio", NULL },
        { "ide", "bios", true, VMMK_DISK_BUS_AUTO, "virtio", NULL },
        { "nvme", "efi", true, VMMK_DISK_BUS_AUTO, "virtio", NULL },
        { NULL, "bios", true, VMMK_DISK_BUS_AUTO, "virtio", NULL },
        /* the boot disk decides, not the majority */
        { "sata,pvscsi,pvscsi", "bios", true, VMMK_DISK_BUS_AUTO, "virtio", NULL },
        { "pvscsi,sata,sata", "bios", true, VMMK_DISK_BUS_AUTO, "scsi", "virtio-scsi" },
        /* not converted: the emulated controller the guest already drives */
        { "lsilogic", "bios", false, VMMK_DISK_BUS_AUTO, "scsi", "lsilogic" },
        { "lsilogicsas", "bios", false, VMMK_DISK_BUS_AUTO, "scsi", "lsisas1068" },
        { "buslogic", "bios", false, VMMK_DISK_BUS_AUTO, "scsi", "buslogic" },
        { "pvscsi", "bios", false, VMMK_DISK_BUS_AUTO, "scsi", "vmpvscsi" },
        { "sata", "bios", false, VMMK_DISK_BUS_AUTO, "sata", NULL },
        { "ide", "bios", false, VMMK_DISK_BUS_AUTO, "ide", NULL },
        { "nvme", "bios", false, VMMK_DISK_BUS_AUTO, "sata", NULL },
        { NULL, "bios", false, VMMK_DISK_BUS_AUTO, "virtio", NULL },
        { "sata,lsilogic", "bios", false, VMMK_DISK_BUS_AUTO, "sata", NULL },
        /* q35 (EFI) has no IDE controller */
        { "ide", "efi", false, VMMK_DISK_BUS_AUTO, "sata", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_bus(&cases[i]);
}

static void test_disk_bus_explicit(void **state)
{
    (void)state;
    static const bus_case cases[] = {
        { "pvscsi", "bios", true, VMMK_DISK_BUS_VIRTIO, "virtio", NULL },
        { "pvscsi", "bios", false, VMMK_DISK_BUS_VIRTIO, "virtio", NULL },
        { "sata", "bios", true, VMMK_DISK_BUS_SCSI, "scsi", "virtio-scsi" },
        { "lsilogicsas", "bios", true, VMMK_DISK_BUS_SCSI, "scsi", "virtio-scsi" },
        { "lsilogicsas", "bios", false, VMMK_DISK_BUS_SCSI, "scsi", "lsisas1068" },
        { "pvscsi", "bios", false, VMMK_DISK_BUS_SCSI, "scsi", "vmpvscsi" },
        { "sata", "bios", false, VMMK_DISK_BUS_SCSI, "scsi", "lsilogic" },
        { NULL, "bios", false, VMMK_DISK_BUS_SCSI, "scsi", "lsilogic" },
        { "pvscsi", "bios", true, VMMK_DISK_BUS_SATA, "sata", NULL },
        { "pvscsi", "bios", false, VMMK_DISK_BUS_SATA, "sata", NULL },
        { "pvscsi", "bios", true, VMMK_DISK_BUS_IDE, "ide", NULL },
        /* explicit wins even where AUTO would avoid IDE */
        { "ide", "efi", false, VMMK_DISK_BUS_IDE, "ide", NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_bus(&cases[i]);
}

/* ---- NIC model --------------------------------------------------------- */

static void check_vif(const char *adapters, bool converted, vmmk_vif_model choice, const char *want)
{
    vmmk_vm *vm = make_vm("rhel8_64Guest", NULL, "bios", false, false, "pvscsi", adapters, 1, 1);
    vmmk_image_options o = VMMK_IMAGE_OPTIONS_INIT;
    o.converted = converted;
    o.vif_model = choice;
    vmmk_properties *p = props_for(vm, &o);
    const char *got = vmmk_properties_get(p, "hw_vif_model");
    if (!got || strcmp(got, want) != 0)
        print_error("adapters %s, converted %d, choice %d: got %s, want %s\n",
                    adapters ? adapters : "(none)", converted, (int)choice, got ? got : "(none)", want);
    assert_non_null(got);
    assert_string_equal(got, want);
    vmmk_properties_free(p);
    vmmk_vm_free(vm);
}

static void test_vif_model(void **state)
{
    (void)state;
    static const char *const adapters[] = { "vmxnet3", "vmxnet2", "e1000", "e1000e", "pcnet32", "sriov" };
    static const char *const unconverted[] = { "vmxnet3", "e1000", "e1000", "e1000e", "pcnet", "virtio" };
    for (size_t i = 0; i < 6; i++) {
        check_vif(adapters[i], true, VMMK_VIF_MODEL_AUTO, "virtio");
        check_vif(adapters[i], false, VMMK_VIF_MODEL_AUTO, unconverted[i]);
    }
    check_vif(NULL, true, VMMK_VIF_MODEL_AUTO, "virtio");
    check_vif(NULL, false, VMMK_VIF_MODEL_AUTO, "virtio");
    /* the first NIC decides */
    check_vif("e1000,vmxnet3", false, VMMK_VIF_MODEL_AUTO, "e1000");
    /* an explicit choice wins, converted or not */
    for (int converted = 0; converted <= 1; converted++) {
        check_vif("e1000", converted, VMMK_VIF_MODEL_VIRTIO, "virtio");
        check_vif("vmxnet3", converted, VMMK_VIF_MODEL_E1000, "e1000");
        check_vif("vmxnet3", converted, VMMK_VIF_MODEL_E1000E, "e1000e");
        check_vif("e1000", converted, VMMK_VIF_MODEL_VMXNET3, "vmxnet3");
    }
}

/* ---- guest OS ---------------------------------------------------------- */

typedef struct os_case {
    const char *guest_id;
    const char *guest_name;
    const char *os_type;
    const char *distro;        /* NULL: no os_distro */
    const char *version;       /* NULL: no os_version */
} os_case;

static void test_guest_os(void **state)
{
    (void)state;
    static const os_case cases[] = {
        { "rhel9_64Guest", NULL, "linux", "rhel", "9" },
        { "rhel7Guest", NULL, "linux", "rhel", "7" },
        { "rhel10_64Guest", NULL, "linux", "rhel", "10" },
        { "centos64Guest", NULL, "linux", "centos", NULL },
        { "centos7_64Guest", NULL, "linux", "centos", "7" },
        { "debian12_64Guest", NULL, "linux", "debian", "12" },
        { "ubuntu64Guest", NULL, "linux", "ubuntu", NULL },
        { "ubuntuGuest", NULL, "linux", "ubuntu", NULL },
        { "sles15_64Guest", NULL, "linux", "sles", "15" },
        { "sles64Guest", NULL, "linux", "sles", NULL },
        { "opensuse64Guest", NULL, "linux", "opensuse", NULL },
        { "fedora64Guest", NULL, "linux", "fedora", NULL },
        { "oracleLinux9_64Guest", NULL, "linux", "ol", "9" },
        { "oracleLinux64Guest", NULL, "linux", "ol", NULL },
        { "rockylinux_64Guest", NULL, "linux", "rocky", NULL },
        { "almalinux_64Guest", NULL, "linux", "almalinux", NULL },
        { "amazonlinux2_64Guest", NULL, "linux", "amzn", "2" },
        { "freebsd13_64Guest", NULL, "linux", "freebsd", "13" },
        { "freebsd64Guest", NULL, "linux", "freebsd", NULL },
        { "vmwarePhoton64Guest", NULL, "linux", "photon", NULL },
        { "windows9_64Guest", NULL, "windows", "windows", "10" },
        { "windows11_64Guest", NULL, "windows", "windows", "11" },
        { "windows9Server64Guest", NULL, "windows", "windows", "2016" },
        { "windows2019srv_64Guest", NULL, "windows", "windows", "2019" },
        { "windows2019srvNext_64Guest", NULL, "windows", "windows", "2022" },
        { "windows2022srvNext_64Guest", NULL, "windows", "windows", "2025" },
        { "windows8Server64Guest", NULL, "windows", "windows", "2012" },
        { "windows7Server64Guest", NULL, "windows", "windows", "2008r2" },
        { "windows7_64Guest", NULL, "windows", "windows", "7" },
        { "windows8_64Guest", NULL, "windows", "windows", "8" },
        { "WINDOWS9_64GUEST", NULL, "windows", "windows", "10" },
        /* unknown ids: no distro or version, the type still follows */
        { "windows12_64Guest", NULL, "windows", NULL, NULL },
        { "winXPProGuest", NULL, "windows", NULL, NULL },
        { "otherGuest64", "Microsoft Windows Server 2003 Standard (64-bit)", "windows", NULL, NULL },
        { "otherGuest", "Windows NT", "windows", NULL, NULL },
        { "otherLinux64Guest", "Other Linux (64-bit)", "linux", NULL, NULL },
        { "other3xLinux64Guest", NULL, "linux", NULL, NULL },
        { "rhelX_64Guest", NULL, "linux", NULL, NULL },
        { "rhel9", NULL, "linux", NULL, NULL },
        { "darwin64Guest", NULL, "linux", NULL, NULL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const os_case *c = &cases[i];
        vmmk_vm *vm = make_vm(c->guest_id, c->guest_name, "bios", false, false, "sata", "e1000", 1, 1);
        vmmk_properties *p = props_for(vm, NULL);
        const char *type = vmmk_properties_get(p, "os_type");
        const char *distro = vmmk_properties_get(p, "os_distro");
        const char *version = vmmk_properties_get(p, "os_version");
        if (strcmp(type, c->os_type) != 0 || (distro == NULL) != (c->distro == NULL) ||
            (version == NULL) != (c->version == NULL))
            print_error("%s: got %s %s %s\n", c->guest_id, type, distro ? distro : "-",
                        version ? version : "-");
        assert_string_equal(type, c->os_type);
        if (c->distro)
            assert_string_equal(distro, c->distro);
        else
            assert_null(distro);
        if (c->version)
            assert_string_equal(version, c->version);
        else
            assert_null(version);
        vmmk_properties_free(p);
        vmmk_vm_free(vm);
    }
}

/* ---- the rest of the rules --------------------------------------------- */

static void test_cpu_topology(void **state)
{
    (void)state;
    vmmk_vm *vm = make_vm("rhel9_64Guest", NULL, "bios", false, false, "sata", "e1000", 12, 3);
    vmmk_properties *p = props_for(vm, NULL);
    assert_string_equal(vmmk_properties_get(p, "hw_cpu_sockets"), "4");
    assert_string_equal(vmmk_properties_get(p, "hw_cpu_cores"), "3");
    assert_string_equal(vmmk_properties_get(p, "hw_cpu_threads"), "1");
    vmmk_properties_free(p);
    vmmk_vm_free(vm);

    vm = make_vm("rhel9_64Guest", NULL, "bios", false, false, "sata", "e1000", 8, 1);
    p = props_for(vm, NULL);
    assert_null(vmmk_properties_get(p, "hw_cpu_sockets"));
    assert_null(vmmk_properties_get(p, "hw_cpu_cores"));
    assert_null(vmmk_properties_get(p, "hw_cpu_threads"));
    vmmk_properties_free(p);
    vmmk_vm_free(vm);
}

static void test_options(void **state)
{
    (void)state;
    vmmk_vm *vm = make_vm("rhel9_64Guest", NULL, "efi", false, false, "pvscsi", "e1000", 1, 1);
    vmmk_image_options o = VMMK_IMAGE_OPTIONS_INIT;
    assert_int_equal(o.version, 1);
    assert_true(o.converted);
    assert_true(o.qemu_guest_agent);

    /* NULL and the INIT values give the same set. */
    char *a = props_json(vm, NULL), *b = props_json(vm, &o);
    assert_string_equal(a, b);
    vmmk_string_free(a);
    vmmk_string_free(b);

    o.qemu_guest_agent = false;
    vmmk_properties *p = props_for(vm, &o);
    assert_null(vmmk_properties_get(p, "hw_qemu_guest_agent"));
    assert_string_equal(vmmk_properties_get(p, "hw_rng_model"), "virtio");
    assert_null(vmmk_properties_get(p, "os_secure_boot"));
    assert_string_equal(vmmk_properties_get(p, "hw_firmware_type"), "uefi");
    vmmk_properties_free(p);

    vmmk_properties *none = (vmmk_properties *)1;
    o = (vmmk_image_options)VMMK_IMAGE_OPTIONS_INIT;
    o.version = 2;
    assert_int_equal(vmmk_image_properties(&none, vm, &o), VMMK_EINVAL);
    assert_null(none);
    assert_string_equal(vmmk_error_last()->message,
                        "image options: version 2 is not supported (expected 1)");
    o.version = 0;
    assert_int_equal(vmmk_image_properties(&none, vm, &o), VMMK_EINVAL);
    o = (vmmk_image_options)VMMK_IMAGE_OPTIONS_INIT;
    o.disk_bus = (vmmk_disk_bus)42;
    assert_int_equal(vmmk_image_properties(&none, vm, &o), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message, "image options: disk_bus: invalid value 42");
    o = (vmmk_image_options)VMMK_IMAGE_OPTIONS_INIT;
    o.vif_model = (vmmk_vif_model)-1;
    assert_int_equal(vmmk_image_properties(&none, vm, &o), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message, "image options: vif_model: invalid value -1");

    assert_int_equal(vmmk_image_properties(NULL, vm, NULL), VMMK_EINVAL);
    assert_int_equal(vmmk_image_properties(&none, NULL, NULL), VMMK_EINVAL);
    assert_null(none);
    /* A VM built in C goes through the model's validation. */
    vm->vcpus = 0;
    assert_int_equal(vmmk_image_properties(&none, vm, NULL), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message, "VM \"t\": vcpus: 0 is out of range (1..4096)");
    vmmk_vm_free(vm);
}

static void test_json_is_flat_strings(void **state)
{
    (void)state;
    vmmk_vm *vm = make_vm("windows2019srvNext_64Guest", NULL, "efi", true, true, "lsilogicsas",
                          "vmxnet3", 8, 2);
    vmmk_properties *p = props_for(vm, NULL);
    for (unsigned flags = 0; flags <= VMMK_JSON_PRETTY; flags++) {
        char *json = NULL;
        assert_int_equal(vmmk_properties_to_json(&json, p, flags), 0);
        json_object *o = json_tokener_parse(json);
        assert_non_null(o);
        assert_true(json_object_is_type(o, json_type_object));
        assert_int_equal(json_object_object_length(o), p->n);
        size_t i = 0;
        const char *prev = "";
        json_object_object_foreach(o, key, val) {
            assert_true(json_object_is_type(val, json_type_string));
            assert_true(strcmp(prev, key) < 0);
            assert_string_equal(key, p->keys[i]);
            assert_string_equal(json_object_get_string(val), p->values[i]);
            prev = key;
            i++;
        }
        json_object_put(o);
        vmmk_string_free(json);
    }
    char *json = NULL;
    assert_int_equal(vmmk_properties_to_json(&json, NULL, 0), VMMK_EINVAL);
    assert_null(json);
    vmmk_properties_free(p);
    vmmk_properties_free(NULL);
    vmmk_vm_free(vm);
}

static void test_parse_names(void **state)
{
    (void)state;
    vmmk_disk_bus bus = VMMK_DISK_BUS_IDE;
    static const char *const buses[] = { "auto", "virtio", "scsi", "sata", "ide" };
    for (int i = 0; i < 5; i++) {
        assert_int_equal(vmmk_disk_bus_parse(&bus, buses[i]), 0);
        assert_int_equal(bus, i);
    }
    assert_int_equal(vmmk_disk_bus_parse(&bus, "VirtIO"), 0);
    assert_int_equal(bus, VMMK_DISK_BUS_VIRTIO);
    assert_int_equal(vmmk_disk_bus_parse(&bus, "nvme"), VMMK_EINVAL);
    assert_int_equal(bus, VMMK_DISK_BUS_VIRTIO);
    assert_string_equal(vmmk_error_last()->message,
                        "disk bus \"nvme\" is not one of \"auto\", \"virtio\", \"scsi\", \"sata\" or \"ide\"");
    assert_int_equal(vmmk_disk_bus_parse(&bus, NULL), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message,
                        "disk bus: no value given (one of \"auto\", \"virtio\", \"scsi\", \"sata\" or \"ide\")");
    assert_int_equal(vmmk_disk_bus_parse(NULL, "scsi"), VMMK_EINVAL);

    vmmk_vif_model vif = VMMK_VIF_MODEL_AUTO;
    static const char *const vifs[] = { "auto", "virtio", "e1000", "e1000e", "vmxnet3" };
    for (int i = 0; i < 5; i++) {
        assert_int_equal(vmmk_vif_model_parse(&vif, vifs[i]), 0);
        assert_int_equal(vif, i);
    }
    assert_int_equal(vmmk_vif_model_parse(&vif, "rtl8139"), VMMK_EINVAL);
    assert_string_equal(vmmk_error_last()->message,
                        "NIC model \"rtl8139\" is not one of \"auto\", \"virtio\", \"e1000\", \"e1000e\" or \"vmxnet3\"");
    assert_int_equal(vmmk_vif_model_parse(&vif, ""), VMMK_EINVAL);
    assert_int_equal(vif, VMMK_VIF_MODEL_VMXNET3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_example_vm),
        cmocka_unit_test(test_windows11_vtpm),
        cmocka_unit_test(test_bios_vm),
        cmocka_unit_test(test_disk_bus_auto),
        cmocka_unit_test(test_disk_bus_explicit),
        cmocka_unit_test(test_vif_model),
        cmocka_unit_test(test_guest_os),
        cmocka_unit_test(test_cpu_topology),
        cmocka_unit_test(test_options),
        cmocka_unit_test(test_json_is_flat_strings),
        cmocka_unit_test(test_parse_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
