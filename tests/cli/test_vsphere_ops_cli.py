"""vmmk snapshot, vmmk cbt and vmmk power against VMware's vcsim with the
CBT extension (tests/vsphere/vcsim.sh), run as a user would: connection
flags with a 0600 password file, output cross-checked with govc, exit codes
(0 ok, 1 failure, 2 usage) and error text; the extents `vmmk cbt query
--json` prints are fed to `vmmk copy --extents`."""
import json
import os
import subprocess

VMMK = os.environ.get("VMMK_BIN", "vmmk")
BS = 64 * 1024
KEY = "255511522"               # DC0_H0_VM0's disk (docs/vcsim.md)


def run(*args):
    return subprocess.run([VMMK, *args], capture_output=True, text=True, timeout=120)


def govc(v, *args):
    r = subprocess.run([v["govc"], *args], capture_output=True, text=True, env=v["govc_env"],
                       timeout=60, check=True)
    return r.stdout


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def usage_error(r, text):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert text in r.stderr
    assert r.stdout == ""


# -- snapshot ---------------------------------------------------------------

def test_snapshot_create_list_disks_remove(vcsim):
    c = vcsim["conn"]
    vm = "DC0_H0_VM1"
    snap = ok(run("snapshot", "create", "--vm", vm, "--name", "mig", "--description", "before", *c)).strip()
    assert snap.startswith("snapshot-")
    doc = json.loads(ok(run("snapshot", "create", "--vm", vm, "--name", "mig2", "--json", *c)))
    assert doc["name"] == "mig2" and doc["vm"].startswith("vm-")
    snap2 = doc["snapshot"]

    listing = json.loads(ok(run("snapshot", "list", "--vm", vm, "--json", *c)))
    assert [s["name"] for s in listing] == ["mig", "mig2"]
    assert listing[0]["moref"] == snap and listing[0]["parent"] is None
    assert listing[0]["description"] == "before"
    assert listing[1]["parent"] == snap and listing[1]["current"] is True
    assert f"[{snap2}]" in govc(vcsim, "snapshot.tree", "-vm", vm, "-i")
    table = ok(run("snapshot", "list", "--vm", vm, *c)).splitlines()
    assert table[0].split() == ["MOREF", "NAME", "CREATED", "PARENT", "CURRENT"]
    assert table[2].split()[:2] == [snap2, "mig2"] and table[2].split()[-1] == "*"

    disks = json.loads(ok(run("snapshot", "disks", "--vm", vm, "--name", "mig", "--json", *c)))
    assert len(disks) == 1 and disks[0]["file"].endswith(".vmdk")
    assert disks[0]["change_id"] is None          # CBT is off on this VM
    assert disks[0]["backing"] == "VirtualDiskFlatVer2BackingInfo"

    assert ok(run("snapshot", "remove", "--vm", vm, "--name", "mig2", *c)).startswith(f"removed {snap2}")
    assert ok(run("snapshot", "remove", "--vm", vm, "--name", snap, *c)).startswith(f"removed {snap}")
    assert json.loads(ok(run("snapshot", "list", "--vm", vm, "--json", *c))) == []
    assert govc(vcsim, "snapshot.tree", "-vm", vm).strip() == ""

    r = run("snapshot", "remove", "--vm", vm, "--name", "mig", *c)
    assert r.returncode == 1 and 'no snapshot named "mig"' in r.stderr


def test_snapshot_usage_errors(vcsim):
    usage_error(run("snapshot", "create", "--vm", "DC0_H0_VM1", *vcsim["conn"]), "--name NAME is required")
    usage_error(run("snapshot", "list", *vcsim["conn"]), "--vm")
    usage_error(run("snapshot", "list", "--vm", "x", "--hard"), "--hard does not apply")
    usage_error(run("snapshot", "frobnicate"), 'unknown snapshot command "frobnicate"')
    assert run("snapshot", "--help").stdout.startswith("Usage: vmmk snapshot COMMAND")
    assert run("snapshot", "create", "--help").stdout.startswith("Usage: vmmk snapshot create")


# -- cbt --------------------------------------------------------------------

def test_cbt_enable_query_and_copy(vcsim, tmp_path):
    c = vcsim["conn"]
    vm = "DC0_H0_VM0"
    govc(vcsim, "vm.disk.change", "-vm", vm, "-disk.key", KEY, "-size", "64M")
    snap0 = ok(run("snapshot", "create", "--vm", vm, "--name", "off", *c)).strip()
    r = run("cbt", "query", "--vm", vm, "--disk", KEY, "--snapshot", "off", "--change-id", "*", *c)
    assert r.returncode == 1
    assert "FileFault" in r.stderr and f"disk {KEY}" in r.stderr and snap0 in r.stderr
    assert "offset 0" in r.stderr
    ok(run("snapshot", "remove", "--vm", vm, "--name", "off", *c))

    assert "enabled" in ok(run("cbt", "enable", "--vm", vm, *c))
    assert "already" in ok(run("cbt", "enable", "--vm", vm, *c))

    # Data in blocks 0, 7 and 40-41, uploaded by an independent client.
    data = bytearray(42 * BS)
    for blk, byte in ((0, 1), (7, 2), (40, 3), (41, 4)):
        data[blk * BS:(blk + 1) * BS] = bytes([byte]) * BS
    flat = tmp_path / "flat"
    flat.write_bytes(bytes(data))
    govc(vcsim, "datastore.upload", "-ds", "LocalDS_0", str(flat), "DC0_H0_VM0/disk1-flat.vmdk")
    ok(run("snapshot", "create", "--vm", vm, "--name", "A", *c))
    disks = json.loads(ok(run("snapshot", "disks", "--vm", vm, "--name", "A", "--json", *c)))
    change_id = disks[0]["change_id"]
    assert change_id and disks[0]["capacity"] == 64 * 1024 * 1024

    r = run("cbt", "query", "--vm", vm, "--disk", KEY, "--snapshot", "A", "--change-id", "*", "--json", *c)
    assert json.loads(ok(r)) == [[0, BS], [7 * BS, BS], [40 * BS, 2 * BS]]
    text = ok(run("cbt", "query", "--vm", vm, "--disk", KEY, "--snapshot", "A", "--change-id", "*", *c))
    assert text.splitlines()[0].split() == ["OFFSET", "LENGTH"]
    assert text.splitlines()[-1] == f"3 areas, {4 * BS} bytes"

    # The output is what `vmmk copy --extents` reads: copying only those
    # areas of the data reproduces it exactly.
    extents = tmp_path / "extents.json"
    extents.write_text(r.stdout)
    dst = tmp_path / "dst"
    ok(run("copy", str(flat), str(dst), "--extents", str(extents)))
    assert dst.read_bytes() == bytes(data)

    # Block 7 rewritten; since A only that block changed.
    data[7 * BS] ^= 0xff
    flat.write_bytes(bytes(data))
    govc(vcsim, "datastore.upload", "-ds", "LocalDS_0", str(flat), "DC0_H0_VM0/disk1-flat.vmdk")
    ok(run("snapshot", "create", "--vm", vm, "--name", "B", *c))
    r = run("cbt", "query", "--vm", vm, "--disk", KEY, "--snapshot", "B", "--change-id", change_id,
            "--json", *c)
    assert json.loads(ok(r)) == [[7 * BS, BS]]

    r = run("cbt", "query", "--vm", vm, "--disk", "4242", "--snapshot", "B", "--change-id", "*", *c)
    assert r.returncode == 1 and "no disk with key 4242" in r.stderr and KEY in r.stderr
    for name in ("A", "B"):
        ok(run("snapshot", "remove", "--vm", vm, "--name", name, *c))


def test_cbt_usage_errors(vcsim):
    c = vcsim["conn"]
    usage_error(run("cbt", "query", "--vm", "DC0_H0_VM0", "--change-id", "*", *c), "--disk KEY is required")
    usage_error(run("cbt", "query", "--vm", "DC0_H0_VM0", "--disk", KEY, *c), "--change-id ID is required")
    usage_error(run("cbt", "query", "--vm", "DC0_H0_VM0", "--disk", "-1", "--change-id", "*", *c),
                "--disk")
    usage_error(run("cbt", "enable", *c), "--vm")
    usage_error(run("cbt", "enable", "--vm", "DC0_H0_VM0", "--json", *c), "--json does not apply")


# -- power ------------------------------------------------------------------

def power_state(vcsim, vm):
    return json.loads(govc(vcsim, "vm.info", "-json", vm))["VirtualMachines"][0]["Runtime"]["PowerState"]


def test_power_off_on(vcsim):
    c = vcsim["conn"]
    vm = "DC0_C0_RP0_VM0"
    assert "guest shutdown" in ok(run("power", "off", "--vm", vm, "--timeout", "30", *c))
    assert power_state(vcsim, vm) == "poweredOff"
    assert "already" in ok(run("power", "off", "--vm", vm, *c))
    assert "powered on" in ok(run("power", "on", "--vm", vm, *c))
    assert power_state(vcsim, vm) == "poweredOn"
    assert "already" in ok(run("power", "on", "--vm", vm, *c))
    assert "by a power task" in ok(run("power", "off", "--vm", vm, "--hard", *c))
    assert power_state(vcsim, vm) == "poweredOff"
    ok(run("power", "on", "--vm", vm, *c))
    r = run("power", "off", "--vm", "no-such-vm", *c)
    assert r.returncode == 1 and "no-such-vm" in r.stderr


def test_power_usage_errors(vcsim):
    c = vcsim["conn"]
    usage_error(run("power", "on", "--vm", "DC0_C0_RP0_VM0", "--hard", *c), "--hard does not apply")
    usage_error(run("power", "off", "--vm", "DC0_C0_RP0_VM0", "--timeout", "soon", *c), "--timeout")
    usage_error(run("power", "off", *c), "--vm")
    usage_error(run("power", "off", "--vm", "DC0_C0_RP0_VM0", "--password", "x"), "--password is not accepted")
    usage_error(run("power", "reboot"), 'unknown power command "reboot"')
