"""The vmmk tool, run as a user would: exit codes, stdout, stderr."""
import json
import os
import subprocess

import pytest

VMMK = os.environ.get("VMMK_BIN", "vmmk")
EXAMPLES = os.environ["VMMK_EXAMPLES"]
VM = os.path.join(EXAMPLES, "vm.json")
FLAVORS = os.path.join(EXAMPLES, "flavors.json")
NETMAP = os.path.join(EXAMPLES, "netmap.json")


def run(*args, stdin=None):
    return subprocess.run([VMMK, *args], input=stdin, capture_output=True, text=True, timeout=60)


def write(tmp_path, name, obj):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return str(p)


def example_vm():
    with open(VM) as f:
        return json.load(f)


# -- global ---------------------------------------------------------------

def test_version():
    r = run("--version")
    assert r.returncode == 0
    name, version = r.stdout.split()
    assert name == "vmmk"
    assert len(version.split(".")) == 3


def test_help_lists_commands():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("flavor", "netmap", "image-properties", "vm"):
        assert cmd in r.stdout


@pytest.mark.parametrize("args", [[], ["bogus"], ["flavor", "bogus"], ["--log-level", "loud", "vm"],
                                  ["flavor", "match", "--nope"]])
def test_usage_errors_exit_2(args):
    r = run(*args)
    assert r.returncode == 2, r
    assert r.stderr


@pytest.mark.parametrize("cmd", [["flavor", "match"], ["netmap"], ["image-properties"], ["vm", "show"]])
def test_subcommand_help(cmd):
    r = run(*cmd, "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("Usage: vmmk " + " ".join(cmd))


# -- flavor match ----------------------------------------------------------

def test_flavor_match_vm_json():
    r = run("flavor", "match", "--flavors", FLAVORS, "--vm", VM, "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    # 4 vCPUs, 8 GiB, 40 GiB boot disk: c4.r8.d40 fits exactly; the disabled
    # and the private flavors of the same shape are never chosen.
    assert out["flavor"]["id"] == "c4r8"
    assert out["flavor"]["extra_specs"] == {"hw:cpu_policy": "shared"}   # Nova's object, as given
    assert "c4.r8.d40" in out["reason"]


def test_flavor_match_explicit_overrides_and_text():
    r = run("flavor", "match", "--flavors", FLAVORS, "--vcpus", "2", "--ram-mib", "3000", "--disk-gib", "30")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0] == "flavor: m1.medium (id 3)"
    assert "reason: " in r.stdout


def test_flavor_match_never_undersized():
    # The reference's L1 distance picks m1.small (1 vCPU) for 2 vCPUs/2 GiB/20 GiB.
    r = run("flavor", "match", "--flavors", FLAVORS, "--vcpus", "2", "--ram-mib", "2048", "--disk-gib", "20",
            "--json")
    assert r.returncode == 0, r.stderr
    f = json.loads(r.stdout)["flavor"]
    assert f["vcpus"] >= 2 and f["ram"] >= 2048 and f["disk"] >= 20


def test_flavor_match_stdin_and_boot_from_volume():
    with open(FLAVORS) as f:
        data = f.read()
    r = run("flavor", "match", "--flavors", "-", "--vcpus", "8", "--ram-mib", "16384", "--boot-from-volume",
            "--json", stdin=data)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["flavor"]["name"] == "m1.xlarge"


def test_flavor_no_fit_exit_1_with_reason_and_proposal():
    r = run("flavor", "match", "--flavors", FLAVORS, "--vcpus", "4", "--ram-mib", "8192", "--disk-gib", "200")
    assert r.returncode == 1
    assert r.stdout == ""
    assert "no flavor has >= 200 GiB disk; the largest is m1.xlarge with 160 GiB" in r.stderr
    assert "proposed flavor: vmmk-4vcpu-8192mb-200gb" in r.stderr
    assert "openstack flavor create --vcpus 4 --ram 8192 --disk 200" in r.stderr


def test_flavor_no_fit_names_the_requirement():
    r = run("flavor", "match", "--flavors", FLAVORS, "--vcpus", "64", "--ram-mib", "1024", "--disk-gib", "1")
    assert r.returncode == 1
    assert "no flavor has >= 64 vCPUs; the largest is m1.xlarge with 8 vCPUs" in r.stderr


def test_flavor_no_fit_json_proposal():
    r = run("flavor", "match", "--flavors", FLAVORS, "--vcpus", "64", "--ram-mib", "1024", "--disk-gib", "1",
            "--json")
    assert r.returncode == 1
    last = r.stderr.strip().splitlines()[-1]
    doc = json.loads(last)
    assert doc["flavor"] is None
    assert doc["proposal"]["vcpus"] == 64 and doc["proposal"]["ram"] == 1024 and doc["proposal"]["disk"] == 1


@pytest.mark.parametrize("args,msg", [
    (["--vcpus", "abc", "--ram-mib", "1", "--disk-gib", "1"], '--vcpus: "abc" is not a non-negative integer'),
    (["--vcpus", "-1", "--ram-mib", "1", "--disk-gib", "1"], '--vcpus: "-1" is not a non-negative integer'),
    (["--vcpus", "1"], "give --vm FILE, or --vcpus, --ram-mib and --disk-gib"),
    (["--vcpus", "1", "--ram-mib", "1", "--disk-gib", "1", "--extra-spec", "novalue"],
     '--extra-spec: "novalue" is not KEY=VALUE'),
])
def test_flavor_usage_errors(args, msg):
    r = run("flavor", "match", "--flavors", FLAVORS, *args)
    assert r.returncode == 2
    assert msg in r.stderr


def test_flavor_bad_flavor_file_names_field(tmp_path):
    bad = write(tmp_path, "flavors.json", {"flavors": [{"id": "1", "name": "a", "vcpus": 1, "ram": "2048",
                                                        "disk": 1}]})
    r = run("flavor", "match", "--flavors", bad, "--vcpus", "1", "--ram-mib", "1", "--disk-gib", "1")
    assert r.returncode == 1
    assert f"{bad}: flavors[0].ram: expected integer, got string" in r.stderr


def test_flavor_missing_file():
    r = run("flavor", "match", "--flavors", "/nonexistent/f.json", "--vcpus", "1", "--ram-mib", "1",
            "--disk-gib", "1")
    assert r.returncode == 1
    assert "/nonexistent/f.json: cannot open: No such file or directory" in r.stderr


# -- netmap ----------------------------------------------------------------

def test_netmap_json():
    r = run("netmap", "--vm", VM, "--map", NETMAP, "--json")
    assert r.returncode == 0, r.stderr
    ports = json.loads(r.stdout)["ports"]
    assert [p["mac"] for p in ports] == ["00:50:56:8a:12:34", "00:50:56:8a:56:78"]
    assert ports[0]["network"] == "provider-net"
    assert ports[0]["name"] == "web-01-prod-nic0"
    assert [ip["ip_address"] for ip in ports[0]["fixed_ips"]] == ["192.168.10.21", "2001:db8:10::21"]
    assert ports[0]["security_groups"] == ["default"]
    assert ports[1]["network"] == "backend"          # by portgroup key
    assert ports[1]["subnet"] == "backend-v4"
    assert ports[1]["fixed_ips"] == [{"ip_address": "10.20.0.21", "subnet": "backend-v4"}]
    assert ports[1]["security_groups"] == ["db-clients"]
    assert "vmmk-nic=4001" in ports[1]["tags"]


def test_netmap_table():
    r = run("netmap", "--vm", VM, "--map", NETMAP)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["NIC", "MAC", "NETWORK"]
    assert "provider-net" in lines[1] and "web-01-prod-nic0" in lines[1]


def test_netmap_unmapped_lists_every_nic(tmp_path):
    m = write(tmp_path, "map.json", {"map": {"other": "x"}})
    r = run("netmap", "--vm", VM, "--map", m)
    assert r.returncode == 1
    assert "Network adapter 1" in r.stderr and "Network adapter 2" in r.stderr
    assert "00:50:56:8a:12:34" in r.stderr and "backend-pg" in r.stderr


def test_netmap_misspelt_key(tmp_path):
    m = write(tmp_path, "map.json", {"map": {"VM Network": "a"}, "defualt": "b"})
    r = run("netmap", "--vm", VM, "--map", m)
    assert r.returncode == 1
    assert "defualt" in r.stderr


def test_netmap_both_stdin_is_usage_error():
    r = run("netmap", "--vm", "-", "--map", "-")
    assert r.returncode == 2


# -- image-properties ------------------------------------------------------

def test_image_properties_json():
    r = run("image-properties", "--vm", VM, "--json")
    assert r.returncode == 0, r.stderr
    props = json.loads(r.stdout)
    assert all(isinstance(v, str) for v in props.values())
    assert props["hw_firmware_type"] == "uefi"
    assert props["hw_machine_type"] == "q35"
    assert props["os_secure_boot"] == "required"
    assert props["os_type"] == "linux"
    assert props["os_distro"] == "rhel" and props["os_version"] == "9"
    assert props["hw_disk_bus"] == "scsi" and props["hw_scsi_model"] == "virtio-scsi"
    assert props["hw_vif_model"] == "virtio"
    assert "hw_tpm_version" not in props


def test_image_properties_text_and_options():
    r = run("image-properties", "--vm", VM, "--disk-bus", "virtio", "--no-guest-agent")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "hw_disk_bus=virtio" in lines
    assert not any(l.startswith("hw_qemu_guest_agent=") for l in lines)
    assert lines == sorted(lines)


def test_image_properties_bad_bus():
    r = run("image-properties", "--vm", VM, "--disk-bus", "floppy")
    assert r.returncode == 2
    assert "floppy" in r.stderr


# -- vm show ---------------------------------------------------------------

def test_vm_show_normalises():
    r = run("vm", "show", "--vm", VM, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["version"] == 1
    assert doc["nics"][0]["mac"] == "00:50:56:8a:12:34"


def test_vm_show_text():
    r = run("vm", "show", "--vm", VM)
    assert r.returncode == 0, r.stderr
    assert "web-01 (prod)" in r.stdout and "40 GiB" in r.stdout and "pvscsi" in r.stdout


def test_vm_error_names_file_and_field(tmp_path):
    vm = example_vm()
    vm["disks"][1]["capacity_bytes"] = "100G"
    p = write(tmp_path, "vm.json", vm)
    r = run("vm", "show", "--vm", p)
    assert r.returncode == 1
    assert r.stderr.strip() == f"vmmk vm show: {p}: disks[1].capacity_bytes: expected integer, got string"


def test_vm_syntax_error_line_column(tmp_path):
    p = write(tmp_path, "vm.json", '{\n  "name": "x",\n  oops\n}')
    r = run("vm", "show", "--vm", p)
    assert r.returncode == 1
    assert "line 3, column 3" in r.stderr


def test_thumbprint_usage_and_refused():
    r = run("thumbprint")
    assert r.returncode == 2
    assert "--server" in r.stderr
    r = run("thumbprint", "--server", "127.0.0.1:1")
    assert r.returncode == 1
    assert "127.0.0.1:1" in r.stderr and "Connection refused" in r.stderr
