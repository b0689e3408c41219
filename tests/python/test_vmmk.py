"""Tests of the Python binding (bindings/python), run by CTest as python.pytest.

They import the package from the build tree (PYTHONPATH=<build>/python) and
use the documents in examples/ (VMMK_EXAMPLES).  Every test asserts on
values, codes and messages, so a misbehaving function fails it.
"""

import copy
import ctypes
import gc
import json
import os
import pickle
import re
import threading

import pytest

import vmmk
from vmmk import vmmk_c

EXAMPLES = os.environ.get(
    "VMMK_EXAMPLES", os.path.join(os.path.dirname(__file__), "..", "..", "examples"))


def _example(name):
    with open(os.path.join(EXAMPLES, name), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture
def vm():
    return _example("vm.json")


@pytest.fixture
def flavors():
    return _example("flavors.json")


@pytest.fixture
def netmap():
    return _example("netmap.json")


def _flavor(flavors, name):
    return next(f for f in flavors["flavors"] if f["name"] == name)


@pytest.fixture(autouse=True)
def no_live_c_objects():
    """Every test leaves no C object behind in the Python layer."""
    yield
    assert vmmk._live_objects() == 0


# ---------------------------------------------------------------------------
# Version and errors


def test_version_matches_project():
    with open(os.path.join(EXAMPLES, "..", "CMakeLists.txt"), encoding="utf-8") as f:
        project_version = re.search(r"project\(libvmmk VERSION (\d+\.\d+\.\d+)", f.read()).group(1)
    assert vmmk.__version__ == project_version
    assert vmmk.__version__ == vmmk_c.vmmk_version()


def test_error_constants_and_strerror():
    assert vmmk.EINVAL == -1 and vmmk.ENOFIT == -6 and vmmk.EUNMAPPED == -7
    assert vmmk.ERROR_NAMES[vmmk.ENOFIT] == "ENOFIT"
    assert vmmk.strerror(vmmk.ENOFIT) == "no flavor fits"
    assert vmmk.strerror(vmmk.EINVAL) == "invalid argument"
    assert vmmk.strerror(-999) == "unknown error"
    assert issubclass(vmmk.NoFlavorFits, vmmk.Error)
    assert issubclass(vmmk.InvalidArgument, ValueError)


def test_bad_vm_json_raises_error_naming_the_field(vm):
    vm["disks"][0]["capacity_bytes"] = "40 GiB"
    with pytest.raises(vmmk.Error) as info:
        vmmk.load_vm(vm)
    e = info.value
    assert type(e) is vmmk.InvalidArgument
    assert e.code == vmmk.EINVAL and e.name == "EINVAL"
    assert e.message == "disks[0].capacity_bytes: expected integer, got string"
    assert str(e) == e.message
    assert e.fault is None and e.detail is None
    assert e.http_status == 0 and e.errno == 0
    assert "capacity_bytes" in repr(e) and "InvalidArgument" in repr(e)


def test_error_out_of_range_and_missing(vm):
    bad = copy.deepcopy(vm)
    bad["vcpus"] = 0
    with pytest.raises(vmmk.InvalidArgument, match=r"^vcpus: 0 is out of range"):
        vmmk.load_vm(bad)
    bad = copy.deepcopy(vm)
    del bad["uuid"]
    with pytest.raises(vmmk.InvalidArgument, match=r"uuid"):
        vmmk.load_vm(bad)


def test_not_json_is_parse_error_with_position():
    with pytest.raises(vmmk.ParseError) as info:
        vmmk.vm_from_json('{"name": "x",\n  oops}')
    assert info.value.code == vmmk.EPARSE
    assert "line 2" in info.value.message


def test_error_is_not_stale_after_success(vm):
    with pytest.raises(vmmk.InvalidArgument):
        vmmk.normalize_mac("not-a-mac")
    assert vmmk.load_vm(vm)["name"] == vm["name"]   # a success in between
    with pytest.raises(vmmk.ParseError, match="line"):
        vmmk.vm_from_json("[")


def test_error_pickles():
    e = vmmk.InvalidArgument(vmmk.EINVAL, "x: bad")
    e2 = pickle.loads(pickle.dumps(e))
    assert type(e2) is vmmk.InvalidArgument and e2.code == vmmk.EINVAL and e2.message == "x: bad"
    n = vmmk.NoFlavorFits(vmmk.ENOFIT, "none", proposal={"vcpus": 1})
    n2 = pickle.loads(pickle.dumps(n))
    assert n2.proposal == {"vcpus": 1} and str(n2) == "none"


# ---------------------------------------------------------------------------
# VM model


def test_vm_round_trip_normalises(vm):
    d = vmmk.load_vm(vm)
    assert d["version"] == 1
    assert d["name"] == "web-01 (prod)"
    assert d["vcpus"] == 4 and d["memory_mib"] == 8192 and d["firmware"] == "efi"
    assert d["nics"][0]["mac"] == "00:50:56:8a:12:34"        # was 00:50:56:8A:12:34
    assert d["nics"][1]["portgroup_key"] == "dvportgroup-33"
    assert [x["capacity_bytes"] for x in d["disks"]] == [42949672960, 107374182400]
    assert d["nics"][0]["ips"] == vm["nics"][0]["ips"]
    # Apart from the MAC, the example is already normal: same document.
    expected = copy.deepcopy(vm)
    expected["nics"][0]["mac"] = expected["nics"][0]["mac"].lower()
    assert d == expected
    # A normal document is a fixed point, through every entry point.
    assert vmmk.vm_from_json(json.dumps(d)) == d
    assert json.loads(vmmk.vm_to_json(d)) == d
    assert vmmk.vm_from_file(os.path.join(EXAMPLES, "vm.json")) == d


def test_vm_defaults_filled():
    minimal = {
        "name": "db", "uuid": "4210b6c5-0000-0000-0000-000000000001", "moref": "vm-7",
        "guest_id": "debian12_64Guest", "firmware": "bios", "vcpus": 2, "memory_mib": 2048,
        "power_state": "poweredOff",
        "disks": [{"key": 2000, "capacity_bytes": 1 << 30, "file": "[ds1] db/db.vmdk",
                   "controller": "lsilogic", "unit": 0}],
        "nics": [{"key": 4000, "mac": "0050.56AA.BBCC", "adapter": "e1000", "network": "LAN"}],
    }
    d = vmmk.load_vm(minimal)
    assert d["version"] == 1
    assert d["secure_boot"] is False and d["vtpm"] is False and d["cbt_enabled"] is False
    assert d["cores_per_socket"] == 1
    assert d["instance_uuid"] is None and d["guest_name"] is None
    assert d["disks"][0]["datastore"] == "ds1"
    assert d["disks"][0]["thin"] is False
    assert d["nics"][0]["mac"] == "00:50:56:aa:bb:cc"
    assert d["nics"][0]["ips"] == []


def test_vm_from_file_prefixes_path(tmp_path):
    p = tmp_path / "broken.json"
    p.write_text('{"name": 3}')
    with pytest.raises(vmmk.Error) as info:
        vmmk.vm_from_file(p)
    assert info.value.message.startswith(str(p) + ": ")
    with pytest.raises(vmmk.Error) as info:
        vmmk.vm_from_file(tmp_path / "missing.json")
    assert info.value.code in (vmmk.EIO, vmmk.ENOTFOUND)
    assert "missing.json" in info.value.message


def test_vm_argument_types():
    with pytest.raises(TypeError):
        vmmk.load_vm(42)
    with pytest.raises(TypeError):
        vmmk.vm_from_json({"name": "x"})


# ---------------------------------------------------------------------------
# MACs, names, redaction


@pytest.mark.parametrize("mac", ["00-50-56-AA-BB-CC", "0050.56aa.bbcc", "00:50:56:aa:bb:cc",
                                 "00:50:56:AA:BB:CC"])
def test_normalize_mac(mac):
    assert vmmk.normalize_mac(mac) == "00:50:56:aa:bb:cc"


def test_normalize_mac_rejects_non_mac():
    with pytest.raises(vmmk.InvalidArgument) as info:
        vmmk.normalize_mac("00:50:56:zz:bb:cc")
    assert "00:50:56:zz:bb:cc" in info.value.message
    with pytest.raises(vmmk.InvalidArgument):
        vmmk.normalize_mac("00:50:56:aa:bb")


def test_sanitize_name():
    assert vmmk.sanitize_name("web-01 (prod)") == "web-01-prod"
    assert vmmk.sanitize_name("Café Straße Æsir") == "Cafe-Strasse-AEsir"
    assert vmmk.sanitize_name("  --__..  ") == "unnamed"
    assert vmmk.sanitize_name("") == "unnamed"
    assert vmmk.sanitize_name("a" * 100) == "a" * vmmk.NAME_DEFAULT_MAX
    assert vmmk.sanitize_name("a" * 300, max_len=vmmk.NAME_MAX) == "a" * 255
    assert vmmk.sanitize_name("web-01 (prod)", max_len=5) == "web-0"


def test_sanitize_name_bad_arguments():
    with pytest.raises(vmmk.InvalidArgument):
        vmmk.sanitize_name("x", max_len=vmmk.NAME_MAX + 1)     # refused by the library
    with pytest.raises(vmmk.InvalidArgument):
        vmmk.sanitize_name("x", max_len=-1)
    with pytest.raises(vmmk.InvalidArgument, match="NUL"):
        vmmk.sanitize_name("a\0b")                             # would be cut at the NUL
    with pytest.raises(TypeError):
        vmmk.sanitize_name(b"bytes")


def test_redact_hides_passwords():
    text = '{"user": "admin", "password": "Tr0ub4dor&3"} Authorization: Basic YWRtaW46cGFzcw=='
    out = vmmk.redact(text)
    assert "Tr0ub4dor&3" not in out and "YWRtaW46cGFzcw==" not in out
    assert '"user": "admin"' in out and "***" in out
    assert vmmk.redact("https://root:hunter2-pw@vcenter.example/sdk").count("hunter2-pw") == 0
    assert vmmk.redact("nothing secret here") == "nothing secret here"


def test_registered_secret_never_reaches_errors(vm):
    secret = "s3cr3t-Value-9f2c"
    vmmk.register_secret(secret)
    try:
        assert vmmk.redact("token is %s!" % secret) == "token is ***!"
        vm["firmware"] = secret                       # quoted by the error message
        with pytest.raises(vmmk.InvalidArgument) as info:
            vmmk.load_vm(vm)
        e = info.value
        assert e.message.startswith("firmware: ")
        assert "***" in e.message
        for text in (str(e), repr(e), e.message, repr(e.args)):
            assert secret not in text
    finally:
        vmmk.unregister_secret(secret)
    assert vmmk.redact("token is %s!" % secret) == "token is %s!" % secret


# ---------------------------------------------------------------------------
# Flavors


def test_match_flavor_example_least_waste(flavors, vm):
    # 4 vCPUs, 8 GiB, 40 GiB boot disk: c4.r8.d40 fits exactly; m1.large and
    # m1.xlarge fit with waste; legacy.4x8 is disabled, tenant.4x8 private.
    chosen = vmmk.match_flavor(flavors, vm=vm)
    assert chosen == _flavor(flavors, "c4.r8.d40")        # the dict exactly as given
    assert chosen["extra_specs"] == {"hw:cpu_policy": "shared"}


def test_match_flavor_detail(flavors, vm):
    d = vmmk.match_flavor_detail(flavors, vm=vm)
    assert set(d) >= {"flavor", "reason", "waste", "candidates", "proposal"}
    assert d["flavor"]["id"] == "c4r8"
    assert d["waste"] == 0
    assert d["candidates"] == 3            # c4.r8.d40, m1.large, m1.xlarge
    assert d["proposal"] is None
    assert "c4.r8.d40" in d["reason"]


def test_match_flavor_rules(flavors, vm):
    # A list works as well as Nova's {"flavors": [...]}, and JSON text too.
    assert vmmk.match_flavor(flavors["flavors"], vm=vm)["id"] == "c4r8"
    assert vmmk.match_flavor(json.dumps(flavors), vm=vm)["id"] == "c4r8"
    # Explicit values override the VM's.
    assert vmmk.match_flavor(flavors, vm=vm, vcpus=8)["name"] == "m1.xlarge"
    assert vmmk.match_flavor(flavors, vm=vm, disk_gib=60)["name"] == "m1.large"
    # Without a VM.
    assert vmmk.match_flavor(flavors, vcpus=1, ram_mib=512, disk_gib=1)["name"] == "m1.tiny"
    assert vmmk.match_flavor(flavors, vcpus=2, ram_mib=3000, disk_gib=30)["name"] == "m1.medium"
    # Boot from volume: the flavor disk no longer matters.
    assert vmmk.match_flavor(flavors, vcpus=1, ram_mib=2048, disk_gib=500,
                             boot_from_volume=True)["name"] == "m1.small"
    # Name filter and extra specs.
    assert vmmk.match_flavor(flavors, vm=vm, name_filter="m1.*")["name"] == "m1.large"
    assert vmmk.match_flavor(flavors, vm=vm, extra_specs={"hw:cpu_policy": "shared"})["id"] == "c4r8"
    with pytest.raises(vmmk.NoFlavorFits, match="lack extra spec hw:cpu_policy=dedicated"):
        vmmk.match_flavor(flavors, vm=vm, extra_specs={"hw:cpu_policy": "dedicated"})
    # Disabled flavors never; private ones only when asked.
    with pytest.raises(vmmk.NoFlavorFits):
        vmmk.match_flavor(flavors, vm=vm, name_filter="legacy.*")
    with pytest.raises(vmmk.NoFlavorFits):
        vmmk.match_flavor(flavors, vm=vm, name_filter="tenant.*")
    assert vmmk.match_flavor(flavors, vm=vm, name_filter="tenant.*",
                             include_private=True)["id"] == "priv"
    # tenant.4x8 fits as exactly as c4.r8.d40: equal sizes, so the name decides.
    d = vmmk.match_flavor_detail(flavors, vm=vm, include_private=True)
    assert d["flavor"]["id"] == "c4r8" and d["candidates"] == 4


def test_no_flavor_fits_has_proposal(flavors, vm):
    with pytest.raises(vmmk.NoFlavorFits) as info:
        vmmk.match_flavor(flavors, vm=vm, disk_gib=500)
    e = info.value
    assert isinstance(e, vmmk.Error)
    assert e.code == vmmk.ENOFIT and e.name == "ENOFIT"
    assert e.message.startswith("no flavor has >= 500 GiB disk")
    assert "m1.xlarge" in e.message                      # the largest there is
    p = e.proposal
    assert (p["vcpus"], p["ram"], p["disk"]) == (4, 8192, 500)
    assert p["name"] == "vmmk-4vcpu-8192mb-500gb" and p["id"] is None
    assert e.choice["flavor"] is None and e.choice["proposal"] == p
    assert e.choice["reason"] == e.message
    # The detail call reports the same outcome without raising.
    d = vmmk.match_flavor_detail(flavors, vm=vm, disk_gib=500)
    assert d["flavor"] is None and d["candidates"] == 0 and d["proposal"] == p


def test_match_flavor_bad_input(flavors, vm):
    with pytest.raises(vmmk.InvalidArgument, match="vcpus"):
        vmmk.match_flavor(flavors, vcpus=0, ram_mib=512)            # library rule
    with pytest.raises(vmmk.InvalidArgument, match="ram_mib"):
        vmmk.match_flavor(flavors, vcpus=1, ram_mib=-1)
    broken = copy.deepcopy(flavors)
    broken["flavors"][2]["ram"] = "4096"
    with pytest.raises(vmmk.InvalidArgument) as info:
        vmmk.match_flavor(broken, vm=vm)
    assert info.value.message == "flavors[2].ram: expected integer, got string"
    bad_vm = copy.deepcopy(vm)
    bad_vm["vcpus"] = "4"
    with pytest.raises(vmmk.InvalidArgument, match=r"^vcpus: "):
        vmmk.match_flavor(flavors, vm=bad_vm)
    with pytest.raises(TypeError):
        vmmk.match_flavor(flavors, vm=vm, extra_specs={"hw:cpu_policy": 1})
    with pytest.raises(TypeError):
        vmmk.match_flavor(42, vm=vm)


# ---------------------------------------------------------------------------
# Networks


def test_map_networks_example(vm, netmap):
    ports = vmmk.map_networks(vm, netmap)
    assert [p["name"] for p in ports] == ["web-01-prod-nic0", "web-01-prod-nic1"]
    assert [p["mac"] for p in ports] == ["00:50:56:8a:12:34", "00:50:56:8a:56:78"]
    assert [p["nic_key"] for p in ports] == [4000, 4001]
    assert [p["nic_label"] for p in ports] == ["Network adapter 1", "Network adapter 2"]
    # NIC 1 by network name, with the document's security groups.
    assert ports[0]["network"] == "provider-net" and ports[0]["subnet"] is None
    assert ports[0]["security_groups"] == ["default"]
    addrs = [ip["ip_address"] for ip in ports[0]["fixed_ips"]]
    assert "192.168.10.21" in addrs and "2001:db8:10::21" in addrs
    assert all("/" not in a for a in addrs)
    # NIC 2 by portgroup key (before its network name), with its own options.
    assert ports[1]["network"] == "backend" and ports[1]["subnet"] == "backend-v4"
    assert ports[1]["security_groups"] == ["db-clients"]
    assert ports[1]["fixed_ips"] == [{"ip_address": "10.20.0.21", "subnet": "backend-v4"}]
    for p in ports:
        assert any(t.startswith(vmmk_c.VMMK_TAG_PREFIX) for t in p["tags"])


def test_map_networks_default_and_no_fixed_ips(vm):
    ports = vmmk.map_networks(vm, {"map": {}, "default": "tenant-net", "fixed_ips": False})
    assert [p["network"] for p in ports] == ["tenant-net", "tenant-net"]
    assert all(p["fixed_ips"] == [] for p in ports)


def test_map_networks_unmapped_names_every_nic(vm):
    with pytest.raises(vmmk.NetworkUnmapped) as info:
        vmmk.map_networks(vm, {"map": {"elsewhere": "x"}})
    e = info.value
    assert e.code == vmmk.EUNMAPPED
    for needle in ("Network adapter 1", "Network adapter 2", "00:50:56:8a:12:34", "backend-pg"):
        assert needle in e.message


def test_map_networks_unknown_key_is_an_error(vm):
    with pytest.raises(vmmk.InvalidArgument, match="fixed_ip"):
        vmmk.map_networks(vm, {"map": {"VM Network": "n"}, "fixed_ip": True})


# ---------------------------------------------------------------------------
# Image properties


def test_image_properties_example(vm):
    props = vmmk.image_properties(vm)
    assert props["hw_firmware_type"] == "uefi"
    assert props["hw_machine_type"] == "q35"
    assert props["os_secure_boot"] == "required"
    assert props["hw_qemu_guest_agent"] == "yes"
    assert props["hw_vif_model"] == "virtio"
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in props.items())
    assert list(props) == sorted(props)


def test_image_properties_options(vm):
    assert vmmk.image_properties(vm, disk_bus="virtio")["hw_disk_bus"] == "virtio"
    assert vmmk.image_properties(vm, disk_bus="sata")["hw_disk_bus"] == "sata"
    assert vmmk.image_properties(vm, vif_model="e1000")["hw_vif_model"] == "e1000"
    assert vmmk.image_properties(vm, qemu_guest_agent=False).get("hw_qemu_guest_agent") != "yes"
    with pytest.raises(vmmk.InvalidArgument, match="floppy"):
        vmmk.image_properties(vm, disk_bus="floppy")
    with pytest.raises(vmmk.InvalidArgument, match="rtl8139"):
        vmmk.image_properties(vm, vif_model="rtl8139")


def test_image_properties_bios_vm(vm):
    vm["firmware"] = "bios"
    vm["secure_boot"] = False
    props = vmmk.image_properties(vm)
    assert props.get("hw_firmware_type", "bios") == "bios"
    assert "os_secure_boot" not in props


# ---------------------------------------------------------------------------
# Logging


class _Collect:
    def __init__(self):
        self.lines = []
        self.threads = set()

    def __call__(self, level, message):
        self.lines.append((level, message))
        self.threads.add(threading.get_ident())


@pytest.fixture
def log_handler():
    h = _Collect()
    vmmk.set_log_handler(h)
    level = vmmk.get_log_level()
    yield h
    vmmk.set_log_level(level)
    assert vmmk.set_log_handler(None) is h


def test_log_level():
    old = vmmk.get_log_level()
    try:
        vmmk.set_log_level(vmmk.LOG_DEBUG)
        assert vmmk.get_log_level() == vmmk.LOG_DEBUG
        vmmk.set_log_level(99)                           # clamped
        assert vmmk.get_log_level() == vmmk.LOG_TRACE
    finally:
        vmmk.set_log_level(old)
    assert vmmk.log_level_name(vmmk.LOG_WARN) == "warn"


def test_log_handler_receives_messages(log_handler):
    # The trampoline the library calls, entered with the GIL released (as
    # from a library thread), from this thread and from another one.
    vmmk_c.vmmkpy_log_test_emit(vmmk.LOG_WARN, "hello from C")
    t = threading.Thread(target=vmmk_c.vmmkpy_log_test_emit, args=(vmmk.LOG_INFO, "from a thread"))
    t.start()
    t.join()
    assert log_handler.lines == [(vmmk.LOG_WARN, "hello from C"), (vmmk.LOG_INFO, "from a thread")]
    assert len(log_handler.threads) == 2


def test_log_handler_replaced_and_removed(log_handler):
    other = _Collect()
    assert vmmk.set_log_handler(other) is log_handler
    vmmk_c.vmmkpy_log_test_emit(vmmk.LOG_ERROR, "to other")
    assert other.lines == [(vmmk.LOG_ERROR, "to other")] and log_handler.lines == []
    assert vmmk.set_log_handler(log_handler) is other
    with pytest.raises(TypeError):
        vmmk.set_log_handler("not callable")


def test_log_handler_that_raises_is_unraisable(log_handler, monkeypatch):
    seen = []
    monkeypatch.setattr("sys.unraisablehook", lambda u: seen.append(u.exc_type))

    def bad(level, message):
        raise RuntimeError("boom")

    vmmk.set_log_handler(bad)
    vmmk_c.vmmkpy_log_test_emit(vmmk.LOG_ERROR, "x")          # must not raise here
    vmmk.set_log_handler(log_handler)
    assert seen == [RuntimeError]


def test_library_messages_reach_handler(log_handler, flavors, vm, netmap):
    vmmk.set_log_level(vmmk.LOG_TRACE)
    vmmk.match_flavor_detail(flavors, vm=vm)
    vmmk.map_networks(vm, netmap)
    vmmk.image_properties(vm)
    if not log_handler.lines:
        pytest.skip("libvmmk logs nothing in flavor/netmap/image calls yet")
    for level, message in log_handler.lines:
        assert vmmk.LOG_ERROR <= level <= vmmk.LOG_TRACE
        assert isinstance(message, str) and message


def test_log_to_logging(caplog):
    prev = vmmk.log_to_logging()
    try:
        with caplog.at_level("INFO", logger="vmmk"):
            vmmk_c.vmmkpy_log_test_emit(vmmk.LOG_WARN, "via logging")
        assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == \
            [("vmmk", "WARNING", "via logging")]
    finally:
        vmmk.set_log_handler(prev)


# ---------------------------------------------------------------------------
# Ownership: nothing is leaked


def _malloc_in_use():
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        pytest.skip("glibc without mallinfo2")

    class Info(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                     "fsmblks", "uordblks", "fordblks", "keepcost")]

    mallinfo2.restype = Info
    gc.collect()
    info = mallinfo2()
    return info.uordblks + info.hblkhd


def test_no_c_objects_left_on_error_paths(flavors, vm, netmap):
    calls = [
        lambda: vmmk.match_flavor(flavors, vm=vm, disk_gib=500),                 # ENOFIT
        lambda: vmmk.match_flavor(flavors, vm=dict(vm, vcpus=0)),                # bad VM after flavors
        lambda: vmmk.map_networks(vm, {"map": {}}),                              # EUNMAPPED
        lambda: vmmk.map_networks(vm, {"bogus": 1}),                             # bad map after VM
        lambda: vmmk.image_properties(vm, disk_bus="floppy"),                    # after VM
    ]
    for call in calls:
        with pytest.raises(vmmk.Error):
            call()
        assert vmmk._live_objects() == 0


def test_repeated_calls_do_not_grow_memory(flavors, vm, netmap):
    def work():
        vmmk.match_flavor(flavors, vm=vm)
        try:
            vmmk.match_flavor(flavors, vm=vm, disk_gib=500)
        except vmmk.NoFlavorFits:
            pass
        vmmk.map_networks(vm, netmap)
        vmmk.image_properties(vm)
        vmmk.load_vm(vm)
        vmmk.sanitize_name("web-01 (prod)")
        vmmk.redact('{"password": "x1234"}')

    for _ in range(50):        # warm up caches and arenas
        work()
    before = _malloc_in_use()
    for _ in range(1000):
        work()
    grown = _malloc_in_use() - before
    # One leaked VM, flavor list or port plan per round would be > 1 MB here.
    assert grown < 256 * 1024, "memory grew by %d bytes over 1000 rounds" % grown


# ---------------------------------------------------------------------------
# Threads: calls release the GIL, errors stay with their thread


def test_threads_keep_their_own_errors(flavors, vm):
    failures = []

    def worker(n):
        try:
            for i in range(200):
                bad = "zz:%02d" % n
                try:
                    vmmk.normalize_mac(bad)
                except vmmk.InvalidArgument as e:
                    if bad not in e.message:
                        failures.append(e.message)
                if vmmk.match_flavor(flavors, vm=vm)["id"] != "c4r8":
                    failures.append("wrong flavor")
        except Exception as e:   # noqa: BLE001 - reported below
            failures.append(repr(e))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
