"""Tests of the vSphere client in the Python binding (vmmk.VSphere,
vmmk.vsphere_thumbprint), run by CTest as part of python.pytest.

The peer is VMware's vcsim with libvmmk's CBT extension
(tests/vsphere/vcsim.sh, docs/vcsim.md), started here with its own state
dir, its own credentials and a certificate made with the openssl CLI (so
that sessions can trust it by CA file as well as by pin); govc, built from
the same source, cross-checks what the binding reads and writes.  Every
test that needs vcsim skips with the reason when it is not built.
"""

import gc
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import types
import warnings

import pytest

import vmmk

HERE = os.path.dirname(os.path.abspath(__file__))
VCSIM_SH = os.path.join(HERE, "..", "vsphere", "vcsim.sh")
# Distinctive credentials, so that a leak is found by a plain substring search.
USER = "vmmk-py-user"
PASSWORD = "Py-Vcsim-Secret-4711"
WRONG = "Wrong-Py-Password-0815"
BS = 64 * 1024          # the CBT extension's tracking block
SHA1 = re.compile(r"^([0-9A-F]{2}:){19}[0-9A-F]{2}$")


@pytest.fixture(autouse=True)
def no_live_c_objects():
    """Every test leaves no C object behind in the Python layer (which
    also means every session it opened was logged out)."""
    yield
    gc.collect()
    assert vmmk._live_objects() == 0


def _make_cert(state):
    """A self-signed P-256 certificate for 127.0.0.1 (vcsim's built-in one
    has a 1024-bit RSA key, and disk_source needs a CA file rather than a
    pin), or (None, None) without the openssl CLI."""
    if not shutil.which("openssl"):
        return None, None
    pem, key = os.path.join(state, "server.pem"), os.path.join(state, "server.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", pem, "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True, timeout=60)
    return pem, key


@pytest.fixture(scope="module")
def vcsim():
    if shutil.which("bash") is None or subprocess.run(
            ["bash", VCSIM_SH, "bindir"], capture_output=True).returncode != 0:
        pytest.skip("vcsim is not built (run tests/vsphere/vcsim.sh build)")
    state = tempfile.mkdtemp(prefix="vmmk-py-vcsim-")
    env = dict(os.environ, VMMK_VCSIM_STATE=state, VMMK_VCSIM_USER=USER,
               VMMK_VCSIM_PASSWORD=PASSWORD)
    try:
        pem, key = _make_cert(state)
        extra = ["-tlscert", pem, "-tlskey", key] if pem else []
        start = subprocess.run(["bash", VCSIM_SH, "start", *extra], capture_output=True,
                               text=True, env=env, timeout=60)
        if start.returncode != 0:
            pytest.skip("vcsim did not start: " + start.stderr.strip())
        out = subprocess.run(["bash", VCSIM_SH, "env"], capture_output=True, text=True, env=env,
                             check=True).stdout
        penv = {}
        for line in out.splitlines():
            k, _, v = line.removeprefix("export ").partition("=")
            penv[k] = v.strip("'")
        url = penv["VMMK_VCSIM_URL"]
        yield {
            "url": url, "pem": pem, "thumbprint": vmmk.vsphere_thumbprint(url),
            "govc": penv["VMMK_GOVC"],
            "govc_env": dict(os.environ,
                             **{k: v for k, v in penv.items() if k.startswith("GOVC_")}),
        }
    finally:
        subprocess.run(["bash", VCSIM_SH, "stop"], capture_output=True, env=env)
        shutil.rmtree(state, ignore_errors=True)


def govc(v, *args):
    r = subprocess.run([v["govc"], *args], capture_output=True, text=True, env=v["govc_env"],
                       timeout=60, check=True)
    return json.loads(r.stdout) if "-json" in args else r.stdout


def connect(v, **kw):
    """A session pinned to the server's certificate (or as kw says)."""
    args = {"password": PASSWORD, "thumbprint": v["thumbprint"], "timeout": 60}
    args.update(kw)
    return vmmk.VSphere(v["url"], USER, **args)


def need_pem(v):
    if not v["pem"]:
        pytest.skip("the openssl command is not installed (apt install openssl): "
                    "no certificate to trust by CA file")


def other_sessions(v):
    """The server's sessions other than govc's own (which it ends itself)."""
    s = govc(v, "session.ls", "-json")
    return [x for x in s["SessionList"] or [] if x["Key"] != s["CurrentSession"]["Key"]]


@pytest.fixture
def log_lines():
    """Every library log message, at trace level, for the test's duration."""
    lines = []
    level = vmmk.get_log_level()
    previous = vmmk.set_log_handler(lambda lvl, msg: lines.append(msg))
    vmmk.set_log_level(vmmk.LOG_TRACE)
    yield lines
    vmmk.set_log_level(level)
    vmmk.set_log_handler(previous)


# ---------------------------------------------------------------------------
# Connection and trust


def test_thumbprint(vcsim):
    tp = vmmk.vsphere_thumbprint(vcsim["url"])
    assert SHA1.match(tp), tp
    tp256 = vmmk.vsphere_thumbprint(vcsim["url"], sha256=True)
    assert re.match(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$", tp256), tp256
    if vcsim["pem"]:   # what openssl says of the certificate vcsim serves
        for md, got in (("-sha1", tp), ("-sha256", tp256)):
            out = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", md, "-in",
                                  vcsim["pem"]], capture_output=True, text=True, check=True).stdout
            assert out.strip().split("=", 1)[1] == got


def test_connect_pinned_and_about(vcsim):
    with connect(vcsim) as vs:
        assert not vs.closed
        about = vs.about
        g = govc(vcsim, "about", "-json")["About"]
        assert about == {"api_type": g["ApiType"], "api_version": g["ApiVersion"],
                         "version": g["Version"], "full_name": g["FullName"],
                         "instance_uuid": g["InstanceUuid"]}
        assert about["api_type"] == "VirtualCenter"
        r = repr(vs)
        assert r == "<vmmk.VSphere %s@%s>" % (USER, vcsim["url"])
        assert PASSWORD not in r
    assert vs.closed and repr(vs).endswith(" (closed)>")


def test_connect_by_cacert_with_password_file(vcsim, tmp_path):
    need_pem(vcsim)
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n")
    pw.chmod(0o600)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # a 0600 file: no warning
        with vmmk.VSphere(vcsim["url"], USER, password_file=pw, cacert=vcsim["pem"],
                          timeout=60) as vs:
            assert vs.about["api_type"] == "VirtualCenter"
    pw.chmod(0o644)
    with pytest.warns(UserWarning, match="readable by other users"):
        with vmmk.VSphere(vcsim["url"], USER, password_file=str(pw), cacert=vcsim["pem"]) as vs:
            assert vs.find_vm("DC0_H0_VM0") == "vm-57"


def test_password_not_kept(vcsim):
    """Nothing reachable from the session object holds the password."""
    with connect(vcsim) as vs:
        seen, todo = set(), [(vs, 0)]
        while todo:
            obj, depth = todo.pop()
            if id(obj) in seen or depth > 4:
                continue
            seen.add(id(obj))
            assert not (isinstance(obj, str) and PASSWORD in obj)
            todo.extend((o, depth + 1) for o in gc.get_referents(obj)
                        if not isinstance(o, (type, types.ModuleType)))
        for name in type(vs).__slots__:
            assert PASSWORD not in repr(getattr(vs, name, None))


def test_untrusted_certificate(vcsim):
    # Neither pin nor CA: the system CAs do not know vcsim's certificate.
    with pytest.raises(vmmk.TLSError) as info:
        vmmk.VSphere(vcsim["url"], USER, password=PASSWORD, timeout=30)
    assert info.value.code == vmmk.ETLS and info.value.name == "ETLS"
    with pytest.raises(vmmk.TLSError) as info:
        vmmk.VSphere(vcsim["url"], USER, password=PASSWORD, thumbprint=":".join(["AB"] * 20))
    assert "thumbprint" in str(info.value).lower()
    assert PASSWORD not in str(info.value) + repr(info.value)


def test_insecure(vcsim, log_lines):
    with connect(vcsim, thumbprint=None, insecure=True) as vs:
        assert vs.find_vm("/DC0/vm/DC0_H0_VM0") == "vm-57"
    assert any("insecure" in m.lower() or "verif" in m.lower() for m in log_lines), log_lines


def test_wrong_password(vcsim, tmp_path, log_lines):
    with pytest.raises(vmmk.AuthError) as info:
        connect(vcsim, password=WRONG)
    e = info.value
    assert isinstance(e, vmmk.Error)
    assert e.code == vmmk.EAUTH and e.name == "EAUTH"
    assert e.fault == "InvalidLogin"
    assert "InvalidLogin" in str(e) and USER in str(e)
    for text in (str(e), repr(e), e.message, e.detail or "", "\n".join(log_lines)):
        assert WRONG not in text
    assert log_lines          # the trace did run
    # The same from a password file.
    pw = tmp_path / "pw"
    pw.write_text(WRONG + "\r\n")
    pw.chmod(0o600)
    with pytest.raises(vmmk.AuthError) as info:
        vmmk.VSphere(vcsim["url"], USER, password_file=pw, thumbprint=vcsim["thumbprint"])
    assert info.value.fault == "InvalidLogin"
    assert WRONG not in repr(info.value) + str(info.value)


def test_password_arguments(tmp_path):
    """Checked before any connection (the server does not exist)."""
    server = "127.0.0.1:9"
    with pytest.raises(vmmk.InvalidArgument, match="either password or password_file"):
        vmmk.VSphere(server, "u")
    with pytest.raises(vmmk.InvalidArgument, match="either password or password_file"):
        vmmk.VSphere(server, "u", password="x", password_file=tmp_path / "pw")
    with pytest.raises(TypeError):
        vmmk.VSphere(server, "u", password=b"bytes")
    with pytest.raises(vmmk.InvalidArgument, match="NUL"):
        vmmk.VSphere(server, "u", password="a\0b")
    missing = tmp_path / "missing"
    with pytest.raises(vmmk.NotFound) as info:
        vmmk.VSphere(server, "u", password_file=missing)
    assert str(info.value) == "password_file %s: No such file or directory" % missing
    assert info.value.errno == 2
    empty = tmp_path / "empty"
    empty.write_text("\n")
    empty.chmod(0o600)
    with pytest.raises(vmmk.InvalidArgument) as info:
        vmmk.VSphere(server, "u", password_file=empty)
    assert str(info.value) == "password_file %s: the file is empty" % empty
    with pytest.raises(vmmk.InvalidArgument):
        vmmk.VSphere("", "u", password="x")
    with pytest.raises(vmmk.InvalidArgument):
        vmmk.VSphere(server, "u", password="x", timeout=-1)


def test_connect_releases_the_gil():
    """A connection that hangs (a listener that never answers) runs in C
    without the GIL: a pure-Python thread keeps counting meanwhile."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)          # the kernel accepts; nobody answers
        port = listener.getsockname()[1]
        count, stop = [0], threading.Event()

        def counter():
            while not stop.is_set():
                count[0] += 1

        t = threading.Thread(target=counter)
        t.start()
        try:
            before = count[0]
            start = time.monotonic()
            with pytest.raises(vmmk.Error) as info:
                vmmk.VSphere("127.0.0.1:%d" % port, "u", password="x" * 8, timeout=2)
            elapsed = time.monotonic() - start
            during = count[0] - before
        finally:
            stop.set()
            t.join()
    assert info.value.code == vmmk.ETIMEOUT
    assert 1.5 < elapsed < 30
    assert during > 10000, during     # 0 if the GIL had been held


# ---------------------------------------------------------------------------
# Inventory and description


def test_vms(vcsim):
    with connect(vcsim) as vs:
        vms = vs.vms()
    paths = govc(vcsim, "find", "/", "-type", "m").split()
    assert len(vms) == len(paths) == 4
    assert sorted(vm["path"] for vm in vms) == sorted(paths)
    info = govc(vcsim, "vm.info", "-json", *paths)["VirtualMachines"]
    by_moref = {vm["moref"]: vm for vm in vms}
    for g in info:
        vm = by_moref[g["Self"]["Value"]]
        assert set(vm) == {"name", "moref", "path", "uuid", "instance_uuid", "guest_id",
                           "power_state", "template", "vcpus", "memory_mib", "disks",
                           "capacity_bytes", "cbt_enabled"}
        assert vm["name"] == g["Name"]
        assert vm["uuid"] == g["Config"]["Uuid"]
        assert vm["instance_uuid"] == g["Config"]["InstanceUuid"]
        assert vm["guest_id"] == g["Config"]["GuestId"]
        assert vm["vcpus"] == g["Config"]["Hardware"]["NumCPU"]
        assert vm["memory_mib"] == g["Config"]["Hardware"]["MemoryMB"]
        assert vm["power_state"] == g["Runtime"]["PowerState"]
        assert vm["template"] is False
        assert vm["disks"] == 1 and vm["capacity_bytes"] == 1 << 20


def test_find_vm(vcsim):
    with connect(vcsim) as vs:
        g = govc(vcsim, "vm.info", "-json", "/DC0/vm/DC0_H0_VM0")["VirtualMachines"][0]
        moref = g["Self"]["Value"]
        for what in ("DC0_H0_VM0", "/DC0/vm/DC0_H0_VM0", moref, g["Config"]["Uuid"]):
            assert vs.find_vm(what) == moref
        with pytest.raises(vmmk.NotFound) as info:
            vs.find_vm("DC0_H0_VM")
        assert 'no VM named "DC0_H0_VM" among 4 VMs' in str(info.value)
        assert '"DC0_H0_VM0"' in str(info.value)
        with pytest.raises(vmmk.InvalidArgument):
            vs.find_vm("")
        with pytest.raises(TypeError):
            vs.find_vm(57)


def test_describe_matches_govc(vcsim):
    with connect(vcsim) as vs:
        vm = vs.describe(vs.find_vm("DC0_H0_VM0"))
        with pytest.raises(vmmk.NotFound):
            vs.describe("vm-99999")
    assert vm == vmmk.load_vm(vm)        # the VM model, already normalised
    g = govc(vcsim, "vm.info", "-json", "/DC0/vm/DC0_H0_VM0")["VirtualMachines"][0]
    c = g["Config"]
    assert vm["moref"] == g["Self"]["Value"] == "vm-57"
    assert vm["name"] == c["Name"]
    assert vm["uuid"] == c["Uuid"] and vm["instance_uuid"] == c["InstanceUuid"]
    assert vm["guest_id"] == c["GuestId"] and vm["firmware"] == c["Firmware"] == "bios"
    assert vm["vcpus"] == c["Hardware"]["NumCPU"]
    assert vm["memory_mib"] == c["Hardware"]["MemoryMB"]
    assert vm["power_state"] == g["Runtime"]["PowerState"]
    assert vm["cbt_enabled"] is bool(c["ChangeTrackingEnabled"])
    devices = {d["Key"]: d for d in c["Hardware"]["Device"]}
    disk, = vm["disks"]
    gd = devices[disk["key"]]
    assert disk["file"] == gd["Backing"]["FileName"] == "[LocalDS_0] DC0_H0_VM0/disk1.vmdk"
    assert disk["capacity_bytes"] == (gd["CapacityInBytes"] or gd["CapacityInKB"] * 1024)
    assert disk["datastore"] == "LocalDS_0" and disk["thin"] is gd["Backing"]["ThinProvisioned"]
    nic, = vm["nics"]
    gn = devices[nic["key"]]
    assert nic["mac"] == gn["MacAddress"]
    assert nic["portgroup_key"] == gn["Backing"]["Port"]["PortgroupKey"] == "dvportgroup-13"
    assert nic["switch_uuid"] == gn["Backing"]["Port"]["SwitchUuid"]
    assert nic["network"] == "DC0_DVPG0"


# ---------------------------------------------------------------------------
# Snapshots


def test_snapshots(vcsim):
    with connect(vcsim) as vs:
        vm = vs.find_vm("DC0_H0_VM1")
        a1 = vs.snapshot_create(vm, "a", "first one")
        b = vs.snapshot_create(vm, "b", quiesce=True)
        a2 = vs.snapshot_create(vm, "a", description="again")
        assert a1.startswith("snapshot-")

        tree = vs.snapshots(vm)
        assert [s["moref"] for s in tree] == [a1, b, a2]          # depth first
        assert [s["parent"] for s in tree] == [None, a1, b]
        assert [s["name"] for s in tree] == ["a", "b", "a"]
        assert [s["description"] for s in tree] == ["first one", "", "again"]
        assert [s["quiesced"] for s in tree] == [False, True, False]
        assert [s["current"] for s in tree] == [False, False, True]
        assert tree[0]["power_state"] == "poweredOn"
        assert len(tree[0]["create_time"]) >= 20
        out = govc(vcsim, "snapshot.tree", "-vm", "DC0_H0_VM1", "-i")
        assert "[%s]  b" % b in out

        disk, = vs.snapshot_disks(b)
        assert set(disk) == {"key", "file_name", "change_id", "backing_type", "capacity"}
        assert disk["file_name"] == "[LocalDS_0] DC0_H0_VM1/disk1.vmdk"
        assert disk["backing_type"] == "VirtualDiskFlatVer2BackingInfo"
        assert disk["change_id"] is None and disk["capacity"] == 1 << 20

        assert vs.snapshot_find(vm, "b") == b
        assert vs.snapshot_find(vm, a2) == a2
        with pytest.raises(vmmk.Error) as info:
            vs.snapshot_find(vm, "a")
        assert info.value.code == vmmk.ECONFLICT
        assert a1 in str(info.value) and a2 in str(info.value)
        with pytest.raises(vmmk.NotFound, match='"nope"'):
            vs.snapshot_find(vm, "nope")
        with pytest.raises(vmmk.InvalidArgument):
            vs.snapshot_create(vm, "")

        vs.snapshot_remove(b)                    # a2 moves up under a1
        tree = vs.snapshots(vm)
        assert [(s["moref"], s["parent"]) for s in tree] == [(a1, None), (a2, a1)]
        vs.snapshot_remove(a1, remove_children=True)
        assert vs.snapshots(vm) == []
        assert govc(vcsim, "snapshot.tree", "-vm", "DC0_H0_VM1") == ""
        with pytest.raises(vmmk.NotFound) as info:
            vs.snapshot_remove(a1)
        assert info.value.fault == "ManagedObjectNotFound"


# ---------------------------------------------------------------------------
# Changed block tracking, datastore files, disk source


def _blocks(spec, n):
    """n blocks of BS bytes; spec maps a block index to its fill byte."""
    data = bytearray(n * BS)
    for i, byte in spec.items():
        data[i * BS:(i + 1) * BS] = bytes([byte]) * BS
    return data


def _upload_checked(vs, v, tmp_path, data, ds_path):
    """Upload with the binding; check with govc that the datastore has it."""
    local = tmp_path / "up.bin"
    local.write_bytes(data)
    vs.upload(local, ds_path, datacenter="DC0")
    back = tmp_path / "govc.bin"
    ds, _, path = ds_path.partition("] ")
    govc(v, "datastore.download", "-ds", ds[1:], path, str(back))
    assert back.read_bytes() == data
    back.unlink()
    local.unlink()


def _nbdkit_curl():
    return shutil.which("nbdkit") and subprocess.run(
        ["nbdkit", "curl", "--version"], capture_output=True).returncode == 0


def test_cbt_and_incremental_copy(vcsim, tmp_path):
    with connect(vcsim) as vs:
        vm = vs.find_vm("DC0_C0_RP0_VM1")
        disk, = vs.describe(vm)["disks"]
        key, flat = disk["key"], disk["file"][:-len(".vmdk")] + "-flat.vmdk"
        assert vs.datacenter(vm) == "DC0"
        assert vs.cbt_enabled(vm) is False

        # CBT off: no change id, and the query fails with the disk named.
        s0 = vs.snapshot_create(vm, "cbt-off")
        assert vs.snapshot_disks(s0)[0]["change_id"] is None
        with pytest.raises(vmmk.Error) as info:
            vs.cbt_query(vm, key, "*", snapshot=s0)
        assert info.value.code == vmmk.EIO and info.value.fault == "FileFault"
        assert "disk %d" % key in str(info.value) and s0 in str(info.value)
        vs.snapshot_remove(s0)

        assert vs.cbt_enable(vm) is True
        assert vs.cbt_enabled(vm) is True
        assert vs.cbt_enable(vm) is False        # on already
        assert vs.snapshots(vm) == []            # the enabling cycle left nothing
        assert govc(vcsim, "vm.info", "-json", "/DC0/vm/DC0_C0_RP0_VM1")[
            "VirtualMachines"][0]["Config"]["ChangeTrackingEnabled"] is True

        # A: blocks 0, 3, 4.  B: block 5 written, one byte of block 4 changed.
        data_a = _blocks({0: 0xa1, 3: 0xb2, 4: 0xb3}, 6)
        _upload_checked(vs, vcsim, tmp_path, data_a, flat)
        sa = vs.snapshot_create(vm, "A")
        id_a = vs.snapshot_disks(sa)[0]["change_id"]
        assert id_a
        data_b = bytearray(data_a)
        data_b[5 * BS:6 * BS] = b"\xc4" * BS
        data_b[4 * BS + 17] ^= 0xff
        _upload_checked(vs, vcsim, tmp_path, data_b, flat)
        sb = vs.snapshot_create(vm, "B")

        assert vs.cbt_query(vm, key, "*", snapshot=sa) == [[0, BS], [3 * BS, 2 * BS]]
        assert vs.cbt_query(vm, key, "*", snapshot=sb) == [[0, BS], [3 * BS, 3 * BS]]
        changed = vs.cbt_query(vm, key, id_a, snapshot=sb)
        assert changed == [[4 * BS, 2 * BS]]
        with pytest.raises(vmmk.NotFound, match=str(key)):
            vs.cbt_query(vm, 4242, "*", snapshot=sb)
        with pytest.raises(vmmk.InvalidArgument) as info:
            vs.cbt_query(vm, key, "bogus", snapshot=sb)
        assert info.value.fault == "InvalidArgument"
        with pytest.raises(vmmk.InvalidArgument):
            vs.cbt_query(vm, 2 ** 31, "*", snapshot=sb)

        # The incremental copy: A's disk + B's changed areas == B's disk.
        if vcsim["pem"] and _nbdkit_curl():
            with pytest.raises(vmmk.Unsupported, match="thumbprint"):
                vs.disk_source(vm, key, snapshot=sb)     # a pinned session cannot
            with connect(vcsim, thumbprint=None, cacert=vcsim["pem"]) as by_ca:
                with pytest.raises(vmmk.NotFound, match="no disk with key 4242"):
                    by_ca.disk_source(vm, 4242, snapshot=sb)
                src = by_ca.disk_source(vm, key, snapshot=sb)
                assert "vsphere %s@" % USER in repr(src)
            # The session was closed first: it stays logged in for the source.
            assert by_ca.closed and len(other_sessions(vcsim)) == 2
            with src:
                dest = tmp_path / "disk.img"
                dest.write_bytes(data_a)
                stats = vmmk.copy(src, dest, extents=changed)
                assert stats["bytes_read"] == 2 * BS
                assert dest.read_bytes() == data_b
                full = vmmk.copy(src, tmp_path / "full.img", checksum=True)
                assert full["sha256"] == hashlib.sha256(data_b).hexdigest()
                cookie_args = [a for a in src.argv if a.startswith("cookie=")]
                assert cookie_args and all(a.startswith("cookie=+") for a in cookie_args)
            assert len(other_sessions(vcsim)) == 1       # now it logged out
        vs.snapshot_remove(sa)
        vs.snapshot_remove(sb)


def test_download_upload(vcsim, tmp_path):
    ds_path = "[LocalDS_0] DC0_H0_VM1/notes.txt"
    text = b"vmmk python binding\n" * 100
    with connect(vcsim) as vs:
        base = vcsim["url"][:-len("/sdk")]
        assert vs.datastore_url(ds_path, datacenter="DC0") == (
            base + "/folder/DC0_H0_VM1/notes.txt?dcPath=DC0&dsName=LocalDS_0")
        _upload_checked(vs, vcsim, tmp_path, text, ds_path)
        down = tmp_path / "down.txt"
        vs.download(ds_path, down, datacenter="DC0")
        assert down.read_bytes() == text
        assert down.stat().st_mode & 0o777 == 0o600
        with pytest.raises(vmmk.NotFound) as info:
            vs.download("[LocalDS_0] no/such.file", down, datacenter="DC0")
        assert info.value.http_status == 404 and "[LocalDS_0] no/such.file" in str(info.value)
        assert down.read_bytes() == text                      # left alone
        with pytest.raises(vmmk.NotFound):
            vs.upload(tmp_path / "missing", ds_path, datacenter="DC0")
        with pytest.raises(vmmk.InvalidArgument):
            vs.download("not a datastore path", down, datacenter="DC0")
        with pytest.raises(TypeError):
            vs.download(ds_path, down)                        # datacenter is required


# ---------------------------------------------------------------------------
# Power


def test_power(vcsim):
    path = "/DC0/vm/DC0_C0_RP0_VM0"

    def govc_state():
        return govc(vcsim, "vm.info", "-json", path)["VirtualMachines"][0]["Runtime"]["PowerState"]

    with connect(vcsim) as vs:
        vm = vs.find_vm(path)
        assert vs.power_state(vm) == "poweredOn" == govc_state()
        assert vs.power_off(vm, timeout=10) == "guest"
        assert vs.power_state(vm) == "poweredOff" == govc_state()
        assert vs.power_off(vm, timeout=10) == "already"
        assert vs.power_on(vm, timeout=10) == "task"
        assert vs.power_state(vm) == "poweredOn" == govc_state()
        assert vs.power_on(vm) == "already"
        assert vs.power_off(vm, hard=True) == "task"
        assert govc_state() == "poweredOff"
        assert vs.power_on(vm) == "task"
        with pytest.raises(vmmk.NotFound):
            vs.power_state("vm-99999")


# ---------------------------------------------------------------------------
# Lifetime


def test_context_manager_logs_out(vcsim):
    assert other_sessions(vcsim) == []
    with connect(vcsim) as vs:
        mine, = other_sessions(vcsim)
        assert mine["UserName"] == USER
    assert vs.closed
    assert other_sessions(vcsim) == []
    with pytest.raises(vmmk.Error) as info:
        vs.find_vm("DC0_H0_VM0")
    assert info.value.code == vmmk.ESTATE and "closed" in str(info.value)
    vs.close()                                   # twice: harmless

    # Also when the block raises, and when the object is just dropped.
    with pytest.raises(RuntimeError):
        with connect(vcsim):
            assert len(other_sessions(vcsim)) == 1
            raise RuntimeError("boom")
    assert other_sessions(vcsim) == []
    vs = connect(vcsim)
    assert len(other_sessions(vcsim)) == 1
    del vs
    gc.collect()
    assert other_sessions(vcsim) == []


def test_threads_share_a_session(vcsim):
    with connect(vcsim) as vs:
        want = vs.vms()
        results, errors = [], []

        def work():
            try:
                for _ in range(5):
                    results.append(vs.vms())
            except Exception as e:       # reported below
                errors.append(e)

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert len(results) == 20 and all(r == want for r in results)
