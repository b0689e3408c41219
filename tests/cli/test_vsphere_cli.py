"""vmmk inspect and vmmk vms against VMware's vcsim (tests/vsphere/vcsim.sh),
run as a user would: connection flags, password from a 0600 file, JSON
output cross-checked with govc, exit codes and error text."""
import json
import os
import subprocess

import pytest

VMMK = os.environ.get("VMMK_BIN", "vmmk")
WRONG = "wrong-password-4711"


def run(*args, env=None):
    return subprocess.run([VMMK, *args], capture_output=True, text=True, timeout=120, env=env)


def govc(v, *args):
    r = subprocess.run([v["govc"], *args], capture_output=True, text=True, env=v["govc_env"],
                       timeout=60, check=True)
    return json.loads(r.stdout) if "-json" in args else r.stdout


def test_vms_json_lists_every_vm(vcsim):
    r = run("--log-level", "debug", "vms", "--json", *vcsim["conn"])
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    paths = govc(vcsim, "find", "/", "-type", "m").split()
    assert doc["version"] == 1 and doc["count"] == len(paths) == len(doc["vms"]) == 4
    assert sorted(vm["path"] for vm in doc["vms"]) == sorted(paths)
    info = govc(vcsim, "vm.info", "-json", *paths)["VirtualMachines"]
    by_moref = {vm["moref"]: vm for vm in doc["vms"]}
    for g in info:
        vm = by_moref[g["Self"]["Value"]]
        assert vm["name"] == g["Name"]
        assert vm["uuid"] == g["Config"]["Uuid"]
        assert vm["instance_uuid"] == g["Config"]["InstanceUuid"]
        assert vm["vcpus"] == g["Config"]["Hardware"]["NumCPU"]
        assert vm["memory_mib"] == g["Config"]["Hardware"]["MemoryMB"]
        assert vm["power_state"] == g["Runtime"]["PowerState"]
        assert vm["disks"] == 1 and vm["capacity_bytes"] == 1 << 20
    # One container view whatever the number of VMs.
    assert "in 3 round trips" in r.stderr


def test_vms_table(vcsim):
    r = run("vms", *vcsim["conn"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["NAME", "MOREF", "POWER"]
    assert any(line.startswith("DC0_H0_VM0 ") and "/DC0/vm/DC0_H0_VM0" in line for line in lines)
    assert lines[-1] == "4 VMs"


@pytest.mark.parametrize("what", ["DC0_H0_VM0", "/DC0/vm/DC0_H0_VM0", "vm-57"])
def test_inspect_json(vcsim, what):
    r = run("inspect", "--vm", what, "--json", *vcsim["conn"])
    assert r.returncode == 0, r.stderr
    vm = json.loads(r.stdout)
    g = govc(vcsim, "vm.info", "-json", "/DC0/vm/DC0_H0_VM0")["VirtualMachines"][0]
    assert vm["moref"] == g["Self"]["Value"] == "vm-57"
    assert vm["uuid"] == g["Config"]["Uuid"]
    assert vm["guest_id"] == g["Config"]["GuestId"]
    assert vm["firmware"] == g["Config"]["Firmware"] == "bios"
    disk, = vm["disks"]
    assert disk["file"] == "[LocalDS_0] DC0_H0_VM0/disk1.vmdk"
    assert disk["capacity_bytes"] == 1 << 20 and disk["datastore"] == "LocalDS_0"
    nic, = vm["nics"]
    assert nic["portgroup_key"] == "dvportgroup-13" and nic["network"] == "DC0_DVPG0"
    assert nic["mac"] == "00:0c:29:36:63:62"


def test_inspect_text(vcsim):
    r = run("inspect", "--vm", "DC0_H0_VM0", *vcsim["conn"])
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("name:      DC0_H0_VM0 (vm-57, uuid ")
    assert "[LocalDS_0] DC0_H0_VM0/disk1.vmdk" in r.stdout


def test_inspect_unknown_vm(vcsim):
    r = run("inspect", "--vm", "DC0_H0_VM", *vcsim["conn"])
    assert r.returncode == 1
    assert 'no VM named "DC0_H0_VM" among 4 VMs' in r.stderr
    assert '"DC0_H0_VM0"' in r.stderr


def test_wrong_password(vcsim, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(WRONG + "\n")
    pw.chmod(0o600)
    conn = list(vcsim["conn"])
    conn[conn.index("--password-file") + 1] = str(pw)
    for cmd in (["vms"], ["inspect", "--vm", "DC0_H0_VM0"]):
        r = run("--log-level", "trace", *cmd, *conn)
        assert r.returncode == 1, r
        assert "InvalidLogin" in r.stderr
        assert WRONG not in r.stdout + r.stderr


def test_password_only_from_a_file(vcsim):
    conn = list(vcsim["conn"])
    i = conn.index("--password-file")
    del conn[i:i + 2]
    r = run("vms", *conn, "--password", "s3cret-on-argv")
    assert r.returncode == 2 and "--password is not accepted" in r.stderr, r
    # Never taken as an abbreviation of --password-file (whose errors name the file).
    for flag in ("--password", "--pass", "--passw", "--password=s3cret-on-argv"):
        r = run("vms", *conn, *([flag] if "=" in flag else [flag, "s3cret-on-argv"]))
        assert r.returncode == 2, r
        assert "s3cret-on-argv" not in r.stdout + r.stderr
    env = dict(os.environ)
    env.pop("VMMK_VSPHERE_PASSWORD_FILE", None)
    env.pop("VMMK_VSPHERE_PASSWORD", None)
    r = run("vms", *conn, env=env)
    assert r.returncode == 2 and "a password is required" in r.stderr


def test_password_from_environment_and_fd(vcsim):
    conn = list(vcsim["conn"])
    i = conn.index("--password-file")
    del conn[i:i + 2]
    env = dict(os.environ, VMMK_VSPHERE_PASSWORD=vcsim["password"])
    env.pop("VMMK_VSPHERE_PASSWORD_FILE", None)
    r = run("vms", "--json", *conn, env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["count"] == 4
    rfd, wfd = os.pipe()
    os.write(wfd, (vcsim["password"] + "\n").encode())
    os.close(wfd)
    try:
        r = subprocess.run([VMMK, "vms", "--json", *conn, "--password-fd", str(rfd)], capture_output=True,
                           text=True, timeout=120, pass_fds=(rfd,))
    finally:
        os.close(rfd)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["count"] == 4
    r = run("vms", *conn, "--password-fd", "x")
    assert r.returncode == 2 and "--password-fd" in r.stderr


def test_connection_from_environment(vcsim):
    c = vcsim["conn"]
    env = dict(os.environ, VMMK_VSPHERE_SERVER=c[1], VMMK_VSPHERE_USER=c[3],
               VMMK_VSPHERE_PASSWORD_FILE=c[5])
    r = run("vms", "--json", "--thumbprint", c[7], env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["count"] == 4


def test_loose_password_file_warns(vcsim, tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(vcsim["password"])             # no newline: also fine
    pw.chmod(0o644)
    conn = list(vcsim["conn"])
    conn[conn.index("--password-file") + 1] = str(pw)
    r = run("vms", "--json", *conn)
    assert r.returncode == 0, r.stderr
    assert "readable by other users" in r.stderr


def test_help(vcsim):
    for cmd in ("inspect", "vms"):
        r = run(cmd, "--help")
        assert r.returncode == 0
        assert r.stdout.startswith("Usage: vmmk " + cmd)
        assert "--password-file" in r.stdout
