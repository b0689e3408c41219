"""vmmk cloud against the real OpenStack sandbox (tests/openstack/ostack.sh),
run as a user would, with what vmmk prints and creates read back by an
independent client: the `openstack` CLI (python3-openstackclient) with the
same clouds.yaml.  Exit codes (0 ok, 1 failure, 2 usage) and error texts
are asserted too.

Usage errors need no cloud and always run.  The rest skip when
VMMK_OS_CLOUDS (exported by the sandbox's env file) is not set, unless
VMMK_REQUIRE_OPENSTACK=1, which makes that a failure.  Everything a test
creates is named vmmk-cli-<pid>-... and deleted again at the end of the
module, also after a failed assertion."""
import hashlib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import time

import pytest

VMMK = os.environ.get("VMMK_BIN", "vmmk")
OPENSTACK = "/usr/bin/openstack"
PREFIX = f"vmmk-cli-{os.getpid()}"

# Variables that would make vmmk or the openstack client pick some other
# cloud than the one a test names.
_OS_VARS = re.compile(r"^OS_")


def run(*args, env=None, timeout=180):
    return subprocess.run([VMMK, *args], capture_output=True, text=True, env=env, timeout=timeout)


def ok(r):
    assert r.returncode == 0, (r.args, r.stdout, r.stderr)
    return r.stdout


def fails(r, *texts):
    assert r.returncode == 1, (r.args, r.stdout, r.stderr)
    for t in texts:
        assert t.lower() in r.stderr.lower(), (t, r.stderr)
    return r.stderr


def usage_error(r, text):
    assert r.returncode == 2, (r.args, r.stdout, r.stderr)
    assert text in r.stderr, r.stderr
    assert r.stdout == ""


def fields(table):
    """The FIELD / VALUE table of a show command as a dict."""
    lines = table.splitlines()
    assert lines[0].split() == ["FIELD", "VALUE"], table
    out = {}
    for line in lines[1:]:
        k, _, v = line.partition(" ")
        out[k] = v.strip()
    return out


# -- usage errors: no cloud needed ----------------------------------------------

def test_help_on_every_level():
    out = ok(run("--help"))
    assert re.search(r"^  cloud +OpenStack", out, re.M)
    out = ok(run("cloud", "--help"))
    for g in ("auth", "flavor", "network", "port", "volume", "server", "image"):
        assert re.search(rf"^  {g} ", out, re.M), g
    out = ok(run("cloud", "volume", "--help"))
    for c in ("create", "show", "list", "set", "delete", "attach", "detach"):
        assert re.search(rf"^  {c} ", out, re.M), c
    for cmd in (["auth"], ["flavor", "create"], ["network", "list"], ["port", "create"],
                ["volume", "set"], ["server", "create"], ["image", "create"]):
        out = ok(run("cloud", *cmd, "--help"))
        assert out.startswith("Usage: vmmk cloud " + cmd[0]), out
        assert "--os-cloud NAME" in out and "--os-client-config-file" in out
    # A group without a command is a usage error listing the commands.
    r = run("cloud")
    assert r.returncode == 2 and "auth" in r.stderr


@pytest.mark.parametrize("args, text", [
    (["frob"], 'unknown cloud command "frob"'),
    (["volume", "frob"], 'unknown cloud volume command "frob"'),
    (["volume", "create", "--name", "x"], "--size GIB"),
    (["volume", "create", "--size", "1"], "--name NAME is required"),
    (["volume", "create", "--size", "many", "--name", "x"], '--size: "many" is not'),
    (["volume", "create", "--size", "1", "--name", "x", "--property", "novalue"],
     '--property: "novalue" is not KEY=VALUE'),
    (["volume", "create", "--size", "1", "--name", "x", "--image-property", "=v"],
     '--image-property: "=v" is not KEY=VALUE'),
    (["volume", "set", "v1"], "nothing to set"),
    (["volume", "set", "v1", "--bootable", "--non-bootable"], "exclude each other"),
    (["volume", "set", "v1", "--property", "a=1", "--unset-property", "a"], '"a"'),
    (["volume", "show"], "missing ID_OR_NAME"),
    (["volume", "show", "a", "b"], 'unexpected argument "b"'),
    (["volume", "attach", "srv"], "missing SERVER VOLUME"),
    (["volume", "delete", "v1", "--json"], "--json"),
    (["flavor", "create", "--ram", "1", "--disk", "1", "f"], "--vcpus N"),
    (["flavor", "create", "--vcpus", "1", "--ram", "1", "--disk", "1"], "missing NAME"),
    (["flavor", "create", "--vcpus", "1", "--ram", "1", "--disk", "1", "--project", "p", "f"],
     "--private"),
    (["flavor", "create", "--vcpus", "1", "--ram", "1", "--disk", "1", "--property", "k", "f"],
     '--property: "k" is not KEY=VALUE'),
    (["port", "create", "--mac", "fa:16:3e:00:00:01"], "--network NET is required"),
    (["server", "create", "--flavor", "f", "--boot-volume", "v"], "--name NAME is required"),
    (["server", "create", "--name", "n", "--boot-volume", "v"], "--flavor FLAVOR is required"),
    (["server", "create", "--name", "n", "--flavor", "f"], "--boot-volume VOLUME is required"),
    (["server", "create", "--name", "n", "--flavor", "f", "--boot-volume", "v", "--property", "x"],
     '--property: "x" is not KEY=VALUE'),
    (["image", "create", "--name", "i"], "exactly one of --file PATH and --source NBD_URI"),
    (["image", "create", "--name", "i", "--file", "f", "--source", "nbd://h"], "exactly one"),
    (["image", "create", "--file", "f"], "--name NAME is required"),
    (["image", "create", "--name", "i", "--source", "http://h/x"], "--source:"),
    (["auth", "--timeout", "soon"], '--timeout: "soon" is not'),
    (["auth", "--os-interface", "private"], '--os-interface: "private"'),
    (["auth", "extra"], 'unexpected argument "extra"'),
    (["network", "list", "--bogus"], "bogus"),
])
def test_usage_errors(args, text):
    usage_error(run("cloud", *args), text)


def test_password_flag_refused_and_never_echoed():
    secret = "s3cret-on-argv"
    for args in (["auth", "--os-password", secret], ["volume", "list", f"--os-password={secret}"]):
        r = run("cloud", *args)
        usage_error(r, "--os-password is not accepted")
        assert secret not in r.stderr


# -- the sandbox -------------------------------------------------------------

@pytest.fixture(scope="module")
def cloud():
    clouds = os.environ.get("VMMK_OS_CLOUDS")
    if not clouds or not os.access(clouds, os.R_OK):
        if os.environ.get("VMMK_REQUIRE_OPENSTACK") == "1":
            pytest.fail(f"VMMK_REQUIRE_OPENSTACK=1 but VMMK_OS_CLOUDS ({clouds or 'unset'}) is not "
                        "a readable clouds.yaml: run tests/openstack/ostack.sh start and source "
                        "its env file")
        pytest.skip("no OpenStack sandbox: VMMK_OS_CLOUDS is unset (run tests/openstack/ostack.sh "
                    "start and source its env file)")
    base = {k: v for k, v in os.environ.items() if not _OS_VARS.match(k)}
    # The openstack CLI is Debian's: keep a pyenv interpreter's settings out.
    for k in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        base.pop(k, None)
    base["OS_CLIENT_CONFIG_FILE"] = clouds
    secure = (os.environ.get("OS_CLIENT_SECURE_FILE") or os.environ.get("VMMK_OS_SECURE")
              or os.path.join(os.path.dirname(clouds), "secure.yaml"))
    if os.path.exists(secure):
        base["OS_CLIENT_SECURE_FILE"] = secure
    c = Sandbox(clouds, secure, base)
    try:
        yield c
    finally:
        c.cleanup()


class Sandbox:
    def __init__(self, clouds, secure, env):
        self.clouds, self.secure, self.env = clouds, secure, env
        self.created = []            # (kind, id, cloud), deleted in reverse order

    def vmmk(self, cloud, *args, timeout=300):
        return run("cloud", *args, "--os-cloud", cloud, env=self.env, timeout=timeout)

    def os(self, cloud, *args, check=True):
        """`openstack ... -f json` as the independent reader."""
        r = subprocess.run([OPENSTACK, "--os-cloud", cloud, *args, "-f", "json"],
                           capture_output=True, text=True, env=self.env, timeout=120)
        if check:
            assert r.returncode == 0, (args, r.stderr)
            return json.loads(r.stdout)
        return r

    def name(self, tag):
        return f"{PREFIX}-{tag}"

    def track(self, kind, ident, cloud):
        self.created.append((kind, ident, cloud))

    def untrack(self, ident):
        self.created = [c for c in self.created if c[1] != ident]

    def cleanup(self):
        for kind, ident, cloud in reversed(self.created):
            extra = ["--wait"] if kind in ("server", "volume") else []
            r = self.vmmk(cloud, kind, "delete", ident, *extra)
            if r.returncode != 0:  # vmmk itself broken: do not leave it behind
                subprocess.run([OPENSTACK, "--os-cloud", cloud, kind, "delete", ident],
                               capture_output=True, env=self.env, timeout=300)
        self.created = []

    def secrets(self):
        """Every password and secret in clouds.yaml and secure.yaml."""
        out = set()
        for path in (self.clouds, self.secure):
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    for m in re.finditer(r"(?:password|secret):\s*['\"]?([^'\"\s]+)", f.read()):
                        out.add(m.group(1))
        return out


def same_except_transient(mine, theirs):
    """Two {id: (name, ...)} listings taken a moment apart agree: on every
    id both have, and on the rest except resources that other tests
    running at the same time create and delete (named vmmk-...)."""
    for i in mine.keys() & theirs.keys():
        assert mine[i] == theirs[i], i
    for i in mine.keys() ^ theirs.keys():
        name = (mine.get(i) or theirs.get(i))[0]
        assert name.startswith("vmmk-"), (i, name, mine, theirs)


def as_dict(v):
    """openstackclient prints properties as a dict (or, in old versions, as
    "k='v', ..."): a dict either way."""
    if isinstance(v, dict):
        return v
    return dict(re.findall(r"(\S+?)='([^']*)'", v or ""))


# -- auth, flavors, networks --------------------------------------------------

def test_auth_matches_token_issue(cloud):
    doc = json.loads(ok(cloud.vmmk("vmmk-demo", "auth", "--json")))
    tok = cloud.os("vmmk-demo", "token", "issue")
    assert doc["user"]["id"] == tok["user_id"]
    assert doc["project"]["id"] == tok["project_id"]
    assert doc["user"]["name"] == "demo" and doc["project"]["name"] == "demo"
    assert doc["cloud"] == "vmmk-demo" and doc["interface"] == "public"
    assert doc["expires_at"]
    types = {e["service_type"] for e in doc["endpoints"]}
    assert {"identity", "compute", "network", "image"} <= types
    assert tok["id"] not in json.dumps(doc) and "gAAAA" not in json.dumps(doc)  # no token

    # The table, reached through $OS_CLOUD and --os-client-config-file
    # instead of --os-cloud and $OS_CLIENT_CONFIG_FILE.
    env = dict(cloud.env, OS_CLOUD="vmmk-demo")
    del env["OS_CLIENT_CONFIG_FILE"]
    out = ok(run("cloud", "auth", "--os-client-config-file", cloud.clouds, "--os-region-name",
                 "RegionOne", env=env))
    f = fields(out.split("\n\n")[0])
    assert f["user_id"] == tok["user_id"] and f["project_id"] == tok["project_id"]
    assert f["region"] == "RegionOne" and f["interface"] == "public"
    assert f["expires_at"] != "-"
    assert re.search(r"^compute +\S+ +public +RegionOne +http://127\.0\.0\.1:8774", out, re.M), out
    assert "gAAAA" not in out                   # a Fernet token never shows


def test_auth_errors(cloud):
    secrets = cloud.secrets()
    r = cloud.vmmk("vmmk-badpw", "auth")
    fails(r, "authenticat")
    for s in secrets:
        assert s not in r.stderr and s not in r.stdout

    # --retries 0: the refusal is final at once (by default it is retried
    # with backoff for ~15 s, which this test does not need to sit through).
    t0 = time.monotonic()
    r = cloud.vmmk("vmmk-down", "auth", "--retries", "0")
    err = fails(r, "http://127.0.0.1:5999/v3")
    assert re.search(r"connection refused|couldn't connect|failed to connect", err, re.I), err
    assert "retry" not in err and time.monotonic() - t0 < 10
    for s in secrets:
        assert s not in err

    fails(cloud.vmmk("vmmk-no-such-cloud", "auth"), "vmmk-no-such-cloud")


def test_flavor_list_matches_openstack(cloud):
    mine = json.loads(ok(cloud.vmmk("vmmk-demo", "flavor", "list", "--json")))
    theirs = cloud.os("vmmk-demo", "flavor", "list", "--long")
    same_except_transient({f["id"]: (f["name"], f["vcpus"], f["ram"], f["disk"]) for f in mine},
                          {f["ID"]: (f["Name"], f["VCPUs"], f["RAM"], f["Disk"]) for f in theirs})
    assert {"m1.tiny", "m1.small", "m1.nohost"} <= {f["name"] for f in mine}
    table = ok(cloud.vmmk("vmmk-demo", "flavor", "list")).splitlines()
    assert table[0].split() == ["ID", "NAME", "VCPUS", "RAM", "DISK", "EPHEMERAL", "SWAP", "PUBLIC"]
    tiny = [line.split() for line in table if " m1.tiny " in line][0]
    assert tiny[2:5] == ["1", "512", "1"]
    f = fields(ok(cloud.vmmk("vmmk-demo", "flavor", "show", "m1.nohost")))
    assert f["vcpus"] == "1" and f["ram"] == "512"
    assert "capabilities:vmmk_nohost='yes'" in f["properties"]
    fails(cloud.vmmk("vmmk-demo", "flavor", "show", "no-such-flavor"), "no-such-flavor")


def test_flavor_create_private_and_delete(cloud):
    demo = json.loads(ok(cloud.vmmk("vmmk-demo", "auth", "--json")))["project"]["id"]
    name = cloud.name("flavor")
    doc = json.loads(ok(cloud.vmmk("vmmk-admin", "flavor", "create", "--vcpus", "2", "--ram", "1024",
                                   "--disk", "5", "--ephemeral", "1", "--swap", "256", "--private",
                                   "--project", demo, "--property", "hw:cpu_policy=shared",
                                   "--property", "quota:note=a=b", name, "--json")))
    cloud.track("flavor", doc["id"], "vmmk-admin")
    assert doc["name"] == name
    theirs = cloud.os("vmmk-admin", "flavor", "show", doc["id"])
    assert (theirs["vcpus"], theirs["ram"], theirs["disk"]) == (2, 1024, 5)
    assert theirs["OS-FLV-EXT-DATA:ephemeral"] == 1 and theirs["swap"] == 256
    assert theirs["os-flavor-access:is_public"] is False
    # split at the first '=' only
    assert as_dict(theirs["properties"]) == {"hw:cpu_policy": "shared", "quota:note": "a=b"}
    # the demo project was granted access: it sees the flavor with --all only
    seen = {f["name"] for f in json.loads(ok(cloud.vmmk("vmmk-demo", "flavor", "list", "--all",
                                                         "--json")))}
    assert name in seen
    seen = {f["name"] for f in json.loads(ok(cloud.vmmk("vmmk-demo", "flavor", "list", "--json")))}
    assert name not in seen

    r = cloud.vmmk("vmmk-admin", "flavor", "create", "--vcpus", "1", "--ram", "64", "--disk", "1",
                   name)
    fails(r, name)                                            # the name is taken
    assert f"deleted flavor {doc['id']}" in ok(cloud.vmmk("vmmk-admin", "flavor", "delete", name))
    cloud.untrack(doc["id"])
    fails(cloud.vmmk("vmmk-admin", "flavor", "show", doc["id"]), doc["id"])


def test_network_list_and_errors(cloud):
    mine = json.loads(ok(cloud.vmmk("vmmk-demo", "network", "list", "--json")))
    if isinstance(mine, dict):
        mine = mine["networks"]
    theirs = cloud.os("vmmk-demo", "network", "list")
    same_except_transient({n["id"]: (n["name"],) for n in mine},
                          {n["ID"]: (n["Name"],) for n in theirs})
    dup_ids = sorted(n["ID"] for n in theirs if n["Name"] == "dupnet")
    assert len(dup_ids) == 2
    net1 = [n for n in theirs if n["Name"] == "net1"][0]

    table = ok(cloud.vmmk("vmmk-demo", "network", "list")).splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "STATUS"]
    assert any(line.startswith(net1["ID"]) and " net1 " in line for line in table)
    f = fields(ok(cloud.vmmk("vmmk-demo", "network", "show", "net1")))
    assert f["id"] == net1["ID"] and f["shared"] == "true"
    subnets = net1["Subnets"] if isinstance(net1["Subnets"], list) else [net1["Subnets"]]
    assert f["subnets"] == ", ".join(subnets)
    raw = json.loads(ok(cloud.vmmk("vmmk-demo", "network", "show", net1["ID"], "--json")))
    assert raw["id"] == net1["ID"] and raw["name"] == "net1"

    fails(cloud.vmmk("vmmk-demo", "network", "show", "no-such-net"), "no-such-net")
    err = fails(cloud.vmmk("vmmk-demo", "network", "show", "dupnet"), "dupnet", "ambiguous")
    for i in dup_ids:
        assert i in err


# -- ports --------------------------------------------------------------------

def random_mac():
    return "fa:16:3e:%02x:%02x:%02x" % tuple(random.randrange(256) for _ in range(3))


def test_port_create_show_reuse_delete(cloud):
    """As demo (a shared network, a security group by name, tags) and as
    admin, the network's owner: Neutron's policy lets only the owner choose
    a port's MAC and fixed IPs, which a migration keeps."""
    pid_tag = f"pid-{os.getpid()}"
    name = cloud.name("port")
    doc = json.loads(ok(cloud.vmmk("vmmk-demo", "port", "create", "--network", "net1",
                                   "--security-group", "vmmk-sg", "--tag", "vmmk-cli", "--tag",
                                   pid_tag, "--name", name, "--json")))
    cloud.track("port", doc["id"], "vmmk-demo")
    theirs = cloud.os("vmmk-demo", "port", "show", doc["id"])
    sg = cloud.os("vmmk-demo", "security group", "show", "vmmk-sg")
    net1 = cloud.os("vmmk-demo", "network", "show", "net1")
    assert theirs["name"] == name and theirs["network_id"] == net1["id"]
    assert theirs["security_group_ids"] == [sg["id"]]
    assert sorted(theirs["tags"]) == sorted(["vmmk-cli", pid_tag])
    f = fields(ok(cloud.vmmk("vmmk-demo", "port", "show", name)))
    assert f["id"] == doc["id"] and f["mac_address"] == theirs["mac_address"]
    assert f["network_id"] == net1["id"] and f["security_group_ids"] == sg["id"]
    assert f["tags"] == ", ".join(sorted(["vmmk-cli", pid_tag]))
    assert f"deleted port {doc['id']}" in ok(cloud.vmmk("vmmk-demo", "port", "delete", doc["id"]))
    cloud.untrack(doc["id"])

    adm = "vmmk-admin"
    mac = random_mac()
    for attempt in range(4):               # another test may hold the address
        ip = f"10.0.0.{random.randrange(150, 250)}"
        r = cloud.vmmk(adm, "port", "create", "--network", net1["id"], "--mac", mac, "--fixed-ip",
                       f"subnet=sub1,ip-address={ip}", "--tag", pid_tag, "--name", name, "--json")
        if r.returncode == 0 or "already" not in r.stderr.lower() or attempt == 3:
            break
    doc = json.loads(ok(r))
    cloud.track("port", doc["id"], adm)
    theirs = cloud.os(adm, "port", "show", doc["id"])
    assert theirs["mac_address"] == mac and theirs["network_id"] == net1["id"]
    assert [(i["subnet_id"], i["ip_address"]) for i in theirs["fixed_ips"]] == \
        [(net1["subnets"][0], ip)]
    f = fields(ok(cloud.vmmk(adm, "port", "show", doc["id"])))
    assert f["mac_address"] == mac and f"ip_address='{ip}'" in f["fixed_ips"]

    # --reuse hands back the free port with that MAC; without it the MAC is taken.
    again = json.loads(ok(cloud.vmmk(adm, "port", "create", "--network", "net1", "--mac", mac,
                                     "--fixed-ip", ip, "--tag", pid_tag, "--reuse", "--json")))
    assert again["id"] == doc["id"]
    fails(cloud.vmmk(adm, "port", "create", "--network", "net1", "--mac", mac), mac)

    fails(cloud.vmmk("vmmk-demo", "port", "create", "--network", "no-such-net"), "no-such-net")
    err = fails(cloud.vmmk("vmmk-demo", "port", "create", "--network", "dupnet"), "dupnet")
    assert "ambiguous" in err

    assert f"deleted port {doc['id']}" in ok(cloud.vmmk(adm, "port", "delete", doc["id"]))
    cloud.untrack(doc["id"])
    fails(cloud.vmmk(adm, "port", "show", doc["id"]), doc["id"])


# -- volumes and a server -------------------------------------------------------

def test_volume_and_server(cloud):
    """One boot volume, one data volume and one server, reused across the
    checks (a server takes ~30 s to become ACTIVE).  Admin project: its
    quotas are not shared with the other tests' demo project."""
    adm = "vmmk-admin"
    boot_name, data_name, srv_name = cloud.name("boot"), cloud.name("data"), cloud.name("srv")
    doc = json.loads(ok(cloud.vmmk(adm, "volume", "create", "--size", "1", "--name", boot_name,
                                   "--description", "vmmk cli test", "--property", "vmmk:cbt=52 a=b",
                                   "--image-property", "hw_disk_bus=virtio",
                                   "--image-property", "hw_firmware_type=uefi", "--bootable",
                                   "--json")))
    boot = doc["id"]
    cloud.track("volume", boot, adm)
    theirs = cloud.os(adm, "volume", "show", boot)
    assert theirs["size"] == 1 and theirs["name"] == boot_name
    assert str(theirs["bootable"]).lower() == "true"
    assert theirs["status"] == "available"
    assert as_dict(theirs["properties"]) == {"vmmk:cbt": "52 a=b"}
    img = as_dict(theirs["volume_image_metadata"])
    assert img["hw_disk_bus"] == "virtio" and img["hw_firmware_type"] == "uefi"

    data = json.loads(ok(cloud.vmmk(adm, "volume", "create", "--size", "1", "--name", data_name,
                                    "--wait", "--json")))["id"]
    cloud.track("volume", data, adm)

    # set: merge, unset, image metadata; then show / list read it back
    ok(cloud.vmmk(adm, "volume", "set", data_name, "--property", "k1=v1", "--property", "k2=v2",
                  "--image-property", "hw_scsi_model=virtio-scsi"))
    ok(cloud.vmmk(adm, "volume", "set", data, "--unset-property", "k1", "--property", "k3=v3"))
    f = fields(ok(cloud.vmmk(adm, "volume", "show", data)))
    assert f["status"] == "available" and f["size"] == "1" and f["bootable"] == "false"
    assert f["properties"] == "k2='v2', k3='v3'"
    assert "hw_scsi_model='virtio-scsi'" in f["volume_image_metadata"]
    listed = json.loads(ok(cloud.vmmk(adm, "volume", "list", "--name", data_name, "--json")))
    assert [v["id"] for v in listed] == [data]
    listed = json.loads(ok(cloud.vmmk(adm, "volume", "list", "--property", "k3=v3",
                                      "--property", "k2=v2", "--json")))
    assert data in [v["id"] for v in listed] and boot not in [v["id"] for v in listed]
    table = ok(cloud.vmmk(adm, "volume", "list", "--name", boot_name)).splitlines()
    assert table[0].split()[:4] == ["ID", "NAME", "STATUS", "SIZE"]
    assert table[1].split()[:4] == [boot, boot_name, "available", "1"]

    # the server: boot volume + a port made by vmmk, waited for
    port = json.loads(ok(cloud.vmmk(adm, "port", "create", "--network", "net1", "--mac",
                                    random_mac(), "--name", cloud.name("srvport"), "--json")))["id"]
    cloud.track("port", port, adm)
    t0 = time.monotonic()
    r = cloud.vmmk(adm, "server", "create", "--name", srv_name, "--flavor", "m1.tiny",
                   "--boot-volume", boot_name, "--port", port, "--tag", "vmmk-cli",
                   "--property", "migrated-from=vm-42", "--wait", "--json", timeout=600)
    if r.returncode == 0:
        srv = json.loads(r.stdout)["id"]
        cloud.track("server", srv, adm)
    else:  # still clean up a server that was made but did not become ACTIVE
        for s in cloud.os(adm, "server", "list", "--name", srv_name):
            cloud.track("server", s["ID"], adm)
        ok(r)
    print(f"server create --wait: {time.monotonic() - t0:.1f} s")
    theirs = cloud.os(adm, "server", "show", srv)
    assert theirs["status"] == "ACTIVE" and theirs["name"] == srv_name
    assert "m1.tiny" in json.dumps(theirs["flavor"])
    assert boot in json.dumps(theirs["volumes_attached"])
    assert as_dict(theirs["properties"]) == {"migrated-from": "vm-42"}
    assert cloud.os(adm, "port", "show", port)["device_id"] == srv
    f = fields(ok(cloud.vmmk(adm, "server", "show", srv_name)))
    assert f["id"] == srv and f["status"] == "ACTIVE" and f["volumes_attached"] == boot
    assert f["tags"] == "vmmk-cli" and f["properties"] == "migrated-from='vm-42'"

    # attach / detach the data volume
    out = ok(cloud.vmmk(adm, "volume", "attach", srv_name, data_name))
    assert re.search(rf"volume {data} attached to server {srv} as /dev/\w+", out), out
    theirs = cloud.os(adm, "volume", "show", data)
    assert theirs["status"] == "in-use" and srv in json.dumps(theirs["attachments"])
    f = fields(ok(cloud.vmmk(adm, "volume", "show", data)))
    assert f["status"] == "in-use" and f"server {srv} on /dev/" in f["attachments"]
    ok(cloud.vmmk(adm, "volume", "detach", srv, data))
    assert cloud.os(adm, "volume", "show", data)["status"] == "available"

    # a volume in use cannot be deleted: Cinder's refusal is passed on
    fails(cloud.vmmk(adm, "volume", "delete", boot), boot)

    ok(cloud.vmmk(adm, "server", "stop", srv, "--wait"))
    assert fields(ok(cloud.vmmk(adm, "server", "show", srv)))["status"] == "SHUTOFF"
    ok(cloud.vmmk(adm, "server", "start", srv, "--wait"))
    assert json.loads(ok(cloud.vmmk(adm, "server", "show", srv, "--json")))["status"] == "ACTIVE"

    assert "deleted" in ok(cloud.vmmk(adm, "server", "delete", srv, "--wait"))
    cloud.untrack(srv)
    fails(cloud.vmmk(adm, "server", "show", srv), srv)
    # the volumes outlive the server
    assert cloud.os(adm, "volume", "show", boot)["status"] == "available"

    # a server that ends in ERROR: Nova's fault, and the server named to clean up
    r = cloud.vmmk(adm, "server", "create", "--name", cloud.name("nohost"), "--flavor",
                   "m1.nohost", "--boot-volume", boot, "--wait", timeout=600)
    bad = re.search(r"server ([0-9a-f-]{36}) is left for inspection", r.stderr)
    if bad:
        cloud.track("server", bad.group(1), adm)
    err = fails(r, "No valid host was found")
    assert bad, err
    assert cloud.os(adm, "server", "show", bad.group(1))["status"] == "ERROR"
    f = fields(ok(cloud.vmmk(adm, "server", "show", bad.group(1))))
    assert f["status"] == "ERROR" and "No valid host" in f["fault"]
    ok(cloud.vmmk(adm, "server", "delete", bad.group(1), "--wait"))
    cloud.untrack(bad.group(1))
    ok(cloud.vmmk(adm, "volume", "delete", boot, "--wait"))
    cloud.untrack(boot)
    assert cloud.os(adm, "volume", "show", boot, check=False).returncode != 0


def test_server_errors(cloud):
    fails(cloud.vmmk("vmmk-demo", "server", "create", "--name", cloud.name("nosrv"), "--flavor",
                     "m1.tiny", "--boot-volume", "no-such-volume"), "no-such-volume")
    fails(cloud.vmmk("vmmk-demo", "server", "show", "no-such-server"), "no-such-server")
    fails(cloud.vmmk("vmmk-demo", "volume", "show", "no-such-volume"), "no-such-volume")
    fails(cloud.vmmk("vmmk-demo", "server", "create", "--name", cloud.name("nosrv"), "--flavor",
                     "m1.tiny", "--boot-volume", "x", "--user-data", "/nonexistent/ud"),
          "/nonexistent/ud")


# -- images -----------------------------------------------------------------------

def test_image_from_file_and_nbd(cloud, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 512)
    path = tmp_path / "disk.raw"
    path.write_bytes(data)
    md5 = hashlib.md5(data).hexdigest()
    name = cloud.name("img")
    doc = json.loads(ok(cloud.vmmk("vmmk-demo", "image", "create", "--name", name, "--file",
                                   str(path), "--property", "hw_disk_bus=scsi", "--property",
                                   "hw_scsi_model=virtio-scsi", "--tag", "vmmk-cli", "--json")))
    cloud.track("image", doc["id"], "vmmk-demo")
    theirs = cloud.os("vmmk-demo", "image", "show", doc["id"])
    assert theirs["status"] == "active" and theirs["size"] == len(data)
    assert theirs["checksum"] == md5
    if theirs.get("os_hash_algo") == "sha512":
        assert theirs["os_hash_value"] == hashlib.sha512(data).hexdigest()
    props = as_dict(theirs.get("properties"))
    assert props.get("hw_disk_bus", theirs.get("hw_disk_bus")) == "scsi"
    assert "vmmk-cli" in json.dumps(theirs["tags"])
    assert theirs["disk_format"] == "raw" and theirs["container_format"] == "bare"
    f = fields(ok(cloud.vmmk("vmmk-demo", "image", "show", name)))
    assert f["size"] == str(len(data)) and f["checksum"] == md5 and f["status"] == "active"
    assert "hw_scsi_model='virtio-scsi'" in f["properties"]

    if shutil.which("nbdkit"):
        sock = str(tmp_path / "nbd.sock")
        nbdkit = subprocess.Popen(["nbdkit", "-f", "-r", "-U", sock, "file", str(path)],
                                  stderr=subprocess.PIPE)
        try:
            for _ in range(100):
                if os.path.exists(sock):
                    break
                time.sleep(0.05)
            name2 = cloud.name("imgnbd")
            doc2 = json.loads(ok(cloud.vmmk("vmmk-demo", "image", "create", "--name", name2,
                                            "--source", f"nbd+unix:///?socket={sock}",
                                            "--disk-format", "raw", "--json")))
            cloud.track("image", doc2["id"], "vmmk-demo")
        finally:
            nbdkit.terminate()
            nbdkit.wait(timeout=30)
        theirs = cloud.os("vmmk-demo", "image", "show", doc2["id"])
        assert theirs["status"] == "active" and theirs["size"] == len(data)
        assert theirs["checksum"] == md5

    # An upload that fails leaves no image behind, and says so.
    bad = cloud.name("imgbad")
    dead = str(tmp_path / "nobody-listens.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(dead)             # a socket file nobody accepts on: connection refused
    s.close()
    r = cloud.vmmk("vmmk-demo", "image", "create", "--name", bad, "--source",
                   f"nbd+unix:///?socket={dead}")
    err = fails(r, "deleted")
    left = cloud.os("vmmk-demo", "image", "list", "--name", bad)
    for i in left:
        cloud.track("image", i["ID"], "vmmk-demo")
    assert left == [], err

    fails(cloud.vmmk("vmmk-demo", "image", "create", "--name", bad, "--file",
                     str(tmp_path / "missing.raw")), "missing.raw")
    assert cloud.os("vmmk-demo", "image", "list", "--name", bad) == []

    assert f"deleted image {doc['id']}" in ok(cloud.vmmk("vmmk-demo", "image", "delete", doc["id"]))
    cloud.untrack(doc["id"])
    fails(cloud.vmmk("vmmk-demo", "image", "show", doc["id"]), doc["id"])
