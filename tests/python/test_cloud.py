"""Tests of the OpenStack client in the Python binding (vmmk.Cloud,
vmmk.find_device), run by CTest as part of python.pytest.

The peer is the real OpenStack sandbox of tests/openstack/ostack.sh
(Keystone, Nova with the fake driver, Neutron, Cinder with the fake
driver, Glance): its env file exports VMMK_OS_CLOUDS, the path of its
clouds.yaml.  Without it every test that needs the cloud skips with the
reason; with VMMK_REQUIRE_OPENSTACK=1 (scripts/test, CI) it fails instead.
find_device and the GIL test need no cloud.

Everything a test creates is named "vmmk-py<pid>-..." and deleted by a
finalizer registered as soon as it exists (also when an assertion fails);
leftovers of a killed run ("vmmk-py*") are swept when the module starts.
"""

import gc
import hashlib
import io
import os
import secrets
import threading
import time

import pytest

import vmmk

PREFIX = "vmmk-py%d-" % os.getpid()
TAG = "vmmk-py-test"


# ---------------------------------------------------------------------------
# Fixtures


def _clouds_file():
    f = os.environ.get("VMMK_OS_CLOUDS")
    if f and os.access(f, os.R_OK):
        return f
    why = ("no OpenStack sandbox: VMMK_OS_CLOUDS (%s) is not a readable clouds.yaml "
           "(run tests/openstack/ostack.sh start and source its env file)" % (f or "unset"))
    if os.environ.get("VMMK_REQUIRE_OPENSTACK") == "1":
        pytest.fail("VMMK_REQUIRE_OPENSTACK=1 but " + why)
    pytest.skip(why)


@pytest.fixture(scope="module")
def clouds():
    """The sandbox's clouds.yaml; its secure.yaml (the passwords) is named
    by OS_CLIENT_SECURE_FILE, as the OpenStack clients expect."""
    f = _clouds_file()
    secure = os.environ.get("VMMK_OS_SECURE") or os.path.join(os.path.dirname(f), "secure.yaml")
    if os.path.exists(secure):
        os.environ.setdefault("OS_CLIENT_SECURE_FILE", secure)
    return f


def _yaml(path):
    import yaml       # python3-yaml, a dependency of the OpenStack clients
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture(scope="module")
def cloud_conf(clouds):
    """clouds.yaml with secure.yaml merged (the auth sections only)."""
    conf = _yaml(clouds)["clouds"]
    secure = os.path.join(os.path.dirname(clouds), "secure.yaml")
    if os.path.exists(secure):
        for name, c in (_yaml(secure).get("clouds") or {}).items():
            conf.setdefault(name, {}).setdefault("auth", {}).update(c.get("auth") or {})
    return conf


def _open(clouds, name):
    return vmmk.Cloud(name, clouds_file=clouds, timeout=120)


def _base(cloud, service, version):
    """The path prefix that reaches API `version` ("/v2.0") of a service
    whose catalog URL may or may not carry it."""
    return "" if cloud.endpoint(service).rstrip("/").endswith(version) else version


def _sweep(c):
    """Delete what an earlier, killed run of this file left behind: its
    servers first (which frees their volumes), then volumes and images.
    Best effort: a leftover that cannot go is reported, not fatal."""
    import json
    import warnings

    def attempt(fn, *args, **kw):
        try:
            fn(*args, **kw)
        except vmmk.Error as e:
            warnings.warn("sweeping leftovers: %s" % e)

    _, text = c.request("compute", "GET", "/servers?name=%5Evmmk-py")
    for s in json.loads(text)["servers"]:
        attempt(c.delete_server, s["id"], wait=True)
    for v in c.volumes():
        if (v.get("name") or "").startswith("vmmk-py"):
            if v["status"] not in ("available", "error"):
                attempt(c.wait_volume, v["id"], "available", timeout=30)
            attempt(c.delete_volume, v["id"], wait=False)
    _, text = c.request("image", "GET", _base(c, "image", "/v2") + "/images?tag=" + TAG)
    for i in json.loads(text)["images"]:
        attempt(c.delete_image, i["id"])


@pytest.fixture(scope="module")
def demo(clouds):
    with _open(clouds, "vmmk-demo") as c:
        _sweep(c)
        yield c


@pytest.fixture(scope="module")
def admin(clouds):
    """The admin cloud: Neutron's policy lets only admins choose a port's MAC."""
    import json
    with _open(clouds, "vmmk-admin") as c:
        _, text = c.request("network", "GET",
                            _base(c, "network", "/v2.0") + "/ports?tags=" + TAG)
        for p in json.loads(text)["ports"]:
            c.delete_port(p["id"])
        yield c


@pytest.fixture(autouse=True)
def no_live_c_objects():
    """A test leaves no C object behind in the Python layer (beyond the
    module's own Cloud, made before this runs)."""
    gc.collect()
    before = vmmk._live_objects()
    yield
    gc.collect()
    assert vmmk._live_objects() == before


@pytest.fixture
def cleanup():
    """Register deletions as soon as a resource exists; run in reverse
    order at the end of the test, whatever its outcome."""
    todo = []
    yield todo.append
    errors = []
    for fn in reversed(todo):
        try:
            fn()
        except vmmk.Error as e:        # keep cleaning; report afterwards
            errors.append(e)
    assert not errors, "cleanup failed: %s" % "; ".join(map(str, errors))


def _name(tag):
    return PREFIX + tag + "-" + secrets.token_hex(3)


# ---------------------------------------------------------------------------
# Errors and constants (no cloud needed)


def test_error_classes():
    assert vmmk.EQUOTA == -20 and vmmk.ERROR_NAMES[vmmk.EQUOTA] == "EQUOTA"
    assert vmmk.strerror(vmmk.EQUOTA) == "quota exceeded"
    for cls in (vmmk.Conflict, vmmk.AlreadyExists, vmmk.QuotaExceeded, vmmk.NetworkError):
        assert issubclass(cls, vmmk.Error)
    assert vmmk._ERROR_CLASSES[vmmk.EQUOTA] is vmmk.QuotaExceeded
    assert vmmk._ERROR_CLASSES[vmmk.ECONFLICT] is vmmk.Conflict


def test_missing_clouds_file_names_it(tmp_path):
    path = str(tmp_path / "no-such-clouds.yaml")
    with pytest.raises(vmmk.Error) as info:
        vmmk.Cloud("x", clouds_file=path)
    assert path in str(info.value)


# ---------------------------------------------------------------------------
# find_device (a temp dir of by-id links; no cloud needed)

VOL = "0d3b9f4e-6c1a-4f8e-9d2b-7a5e3c1f0b9a"


def test_find_device(tmp_path):
    byid, dev = tmp_path / "by-id", tmp_path / "dev"
    byid.mkdir()
    dev.mkdir()
    (dev / "vdb").write_bytes(b"")
    (dev / "vdc").write_bytes(b"")
    os.symlink(dev / "vdb", byid / ("virtio-" + VOL[:20]))
    os.symlink(dev / "vdc", byid / "virtio-5f2c1a7b-3e4d-4c5b-8")     # another volume
    assert vmmk.find_device(VOL, device_root=byid, timeout=1) == os.path.realpath(dev / "vdb")
    # Another name of the same disk is no conflict ...
    os.symlink(dev / "vdb", byid / ("wwn-0x" + VOL.replace("-", "")))
    assert vmmk.find_device(VOL, str(byid), 1) == os.path.realpath(dev / "vdb")
    # ... a second disk matching is.
    os.symlink(dev / "vdc", byid / ("scsi-0QEMU_QEMU_HARDDISK_" + VOL))
    with pytest.raises(vmmk.Conflict, match="two devices"):
        vmmk.find_device(VOL, byid, 1)


def test_find_device_timeout_and_bad_id(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(vmmk.Error) as info:
        vmmk.find_device(VOL, device_root=tmp_path, timeout=1)
    assert info.value.code == vmmk.ETIMEOUT
    assert VOL in str(info.value) and str(tmp_path) in str(info.value)
    assert "virtio-" + VOL[:20] in str(info.value)
    assert time.monotonic() - t0 >= 0.9
    with pytest.raises(vmmk.InvalidArgument, match="not a volume id"):
        vmmk.find_device("../../etc/passwd", device_root=tmp_path, timeout=1)
    with pytest.raises(TypeError):
        vmmk.find_device(42)


def test_calls_release_the_gil(tmp_path):
    """Another Python thread runs while a call waits in C (find_device
    polls for 1 s)."""
    ticks = 0
    stop = threading.Event()

    def spin():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            time.sleep(0.01)

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before = ticks
        with pytest.raises(vmmk.Error):
            vmmk.find_device(VOL, device_root=tmp_path, timeout=1)
        during = ticks - before
    finally:
        stop.set()
        t.join()
    assert during >= 20, "only %d ticks while find_device ran: GIL held?" % during


# ---------------------------------------------------------------------------
# Auth


def test_auth_info_demo(demo, cloud_conf):
    info = demo.auth_info()
    assert info["cloud"] == "vmmk-demo"
    assert info["user"]["name"] == "demo" and info["user"]["id"]
    assert info["project"]["name"] == "demo" and info["project"]["id"]
    assert info["auth_url"].rstrip("/") == cloud_conf["vmmk-demo"]["auth"]["auth_url"].rstrip("/")
    assert info["expires_at"]
    assert "member" in info["roles"]
    types = {e["service_type"] for e in info["endpoints"]}
    assert {"compute", "network", "image", "identity"} <= types
    assert demo.endpoint("compute").startswith("http://127.0.0.1")
    assert demo.endpoint("volumev3") == demo.endpoint("block-storage")
    with pytest.raises(vmmk.Error):
        demo.endpoint("no-such-service")
    password = cloud_conf["vmmk-demo"]["auth"]["password"]
    assert password not in repr(info) and password not in repr(demo)
    assert "demo" in repr(demo) and "vmmk-demo" in repr(demo)


def test_auth_info_appcred(clouds, demo):
    with _open(clouds, "vmmk-appcred") as c:
        info = c.auth_info()
        assert info["cloud"] == "vmmk-appcred"
        assert info["user"]["id"] == demo.auth_info()["user"]["id"]
        assert info["project"]["id"] == demo.auth_info()["project"]["id"]
        assert "m1.tiny" in [f["name"] for f in c.flavors()]


def test_wrong_password_is_auth_error_without_the_password(clouds, cloud_conf):
    bad = cloud_conf["vmmk-badpw"]["auth"]["password"]
    good = cloud_conf["vmmk-demo"]["auth"]["password"]
    with pytest.raises(vmmk.AuthError) as info:
        _open(clouds, "vmmk-badpw")
    e = info.value
    assert e.code == vmmk.EAUTH and e.http_status == 401
    text = " ".join(map(str, (str(e), repr(e), e.fault, e.detail)))
    assert bad not in text and good not in text
    assert "5000" in str(e) or "Keystone" in str(e)


def test_unreachable_keystone_names_the_url(clouds, cloud_conf):
    url = cloud_conf["vmmk-down"]["auth"]["auth_url"]        # http://127.0.0.1:5999/v3
    with pytest.raises(vmmk.NetworkError) as info:
        vmmk.Cloud("vmmk-down", clouds_file=clouds, timeout=10, retries=0)
    assert info.value.code == vmmk.ENETWORK
    assert url.rstrip("/").rsplit("/", 1)[0] in str(info.value)
    assert cloud_conf["vmmk-down"]["auth"]["password"] not in str(info.value)


def test_closed_cloud(clouds):
    c = _open(clouds, "vmmk-demo")
    c.close()
    c.close()
    assert c.closed and "closed" in repr(c)
    with pytest.raises(vmmk.Error) as info:
        c.flavors()
    assert info.value.code == vmmk.ESTATE


# ---------------------------------------------------------------------------
# Compute and network reads


def test_flavors_and_raw_request(demo):
    flavors = demo.flavors()
    names = [f["name"] for f in flavors]
    assert "m1.tiny" in names and "m1.small" in names
    tiny = demo.flavor("m1.tiny")
    assert tiny["vcpus"] == 1 and tiny["ram"] == 512 and tiny["disk"] == 1
    assert demo.flavor(tiny["id"])["name"] == "m1.tiny"
    # What flavors() gives feeds match_flavor directly.
    assert vmmk.match_flavor(flavors, vcpus=1, ram_mib=1024, boot_from_volume=True)["name"] \
        == "m1.small"
    with pytest.raises(vmmk.NotFound):
        demo.flavor("vmmk-py-no-such-flavor")
    status, text = demo.request("compute", "GET", "/flavors")
    assert status == 200 and '"m1.tiny"' in text
    with pytest.raises(vmmk.NotFound) as info:
        demo.request("compute", "GET", "/servers/00000000-0000-4000-8000-000000000000")
    assert info.value.http_status == 404


def test_networks_and_dupnet_conflict(demo):
    nets = demo.networks()
    dup = sorted(n["id"] for n in nets if n["name"] == "dupnet")
    assert len(dup) == 2
    with pytest.raises(vmmk.Conflict) as info:
        demo.network("dupnet")
    assert info.value.code == vmmk.ECONFLICT
    for i in dup:
        assert i in str(info.value)
    assert demo.network(dup[0])["id"] == dup[0]
    net1 = demo.network("net1")
    assert net1["name"] == "net1" and net1["shared"] is True
    sub = demo.subnet("sub1", network_id=net1["id"])
    assert sub["cidr"] == "10.0.0.0/24" and sub["network_id"] == net1["id"]
    sg = demo.security_group("vmmk-sg")
    assert demo.security_group(sg) == sg
    with pytest.raises(vmmk.NotFound):
        demo.network("vmmk-py-no-such-net")


# ---------------------------------------------------------------------------
# Volumes


def test_volume_lifecycle(demo, cleanup):
    name = _name("vol")
    meta = {"vmmk-test": "1", "change-id": "52 aa bb/7"}
    v = demo.create_volume(name, 1, description="vmmk python test", metadata=meta,
                           image_metadata={"hw_disk_bus": "scsi", "hw_scsi_model": "virtio-scsi"})
    cleanup(lambda: demo.delete_volume(v["id"], wait=True))
    assert v["name"] == name and v["size"] == 1 and v["status"] == "available"
    assert v["metadata"] == meta
    got = demo.volume(name)
    assert got["id"] == v["id"]
    assert got["volume_image_metadata"]["hw_disk_bus"] == "scsi"

    assert [x["id"] for x in demo.volumes(name=name)] == [v["id"]]
    assert v["id"] in [x["id"] for x in demo.volumes(metadata={"change-id": "52 aa bb/7"})]
    assert demo.volumes(name=name, metadata={"vmmk-test": "2"}) == []

    demo.set_volume_metadata(v["id"], {"added": "yes"})
    assert demo.volume_metadata(v["id"]) == dict(meta, added="yes")
    demo.delete_volume_metadata_key(v["id"], "vmmk-test")
    demo.delete_volume_metadata_key(v["id"], "vmmk-test")       # absent: success
    assert demo.volume_metadata(v["id"]) == {"change-id": "52 aa bb/7", "added": "yes"}

    demo.set_volume_bootable(v, True)
    demo.set_volume_image_metadata(v, {"hw_firmware_type": "uefi"})
    got = demo.wait_volume(v["id"], "available", timeout=60)
    assert str(got["bootable"]).lower() == "true"
    assert got["volume_image_metadata"]["hw_firmware_type"] == "uefi"
    assert any(t["name"] for t in demo.volume_types())

    with pytest.raises(TypeError):
        demo.set_volume_metadata(v["id"], {"n": 1})
    demo.delete_volume(v["id"], wait=True)
    with pytest.raises(vmmk.NotFound):
        demo.volume(v["id"])
    demo.delete_volume(v["id"])          # already gone: success


def test_volume_over_quota(demo, cleanup):
    name = _name("big")
    cleanup(lambda: [demo.delete_volume(x["id"], wait=True) for x in demo.volumes(name=name)])
    with pytest.raises(vmmk.QuotaExceeded) as info:
        demo.create_volume(name, 10)          # demo's gigabytes quota is 6
    e = info.value
    assert e.code == vmmk.EQUOTA and e.http_status == 413
    assert name in str(e) and "quota" in str(e).lower()
    assert demo.volumes(name=name) == []


# ---------------------------------------------------------------------------
# Ports


def test_port_with_mac_and_reuse(admin, cleanup):
    demo = admin
    name = _name("port")
    mac = "fa:16:3e:%02x:%02x:%02x" % tuple(secrets.token_bytes(3))
    p = demo.create_port("net1", name=name, mac_address=mac, tags=[TAG, name],
                         description="vmmk python test")
    cleanup(lambda: demo.delete_port(p["id"]))
    assert p["mac_address"] == mac and p["name"] == name
    assert p["network_id"] == demo.network("net1")["id"]
    assert sorted(p["tags"]) == sorted([TAG, name])
    assert p["fixed_ips"] and p["fixed_ips"][0]["ip_address"].startswith("10.0.0.")

    again = demo.create_port("net1", name=name, mac_address=mac, tags=[TAG, name], reuse=True)
    assert again["id"] == p["id"]
    with pytest.raises(vmmk.AlreadyExists):
        demo.create_port("net1", name=name, mac_address=mac)
    assert demo.find_port(mac=mac)["id"] == p["id"]
    assert demo.find_port(tags=[name])["id"] == p["id"]
    assert demo.port(p["id"])["mac_address"] == mac

    demo.delete_port(p["id"])
    demo.delete_port(p["id"])            # already gone: success
    with pytest.raises(vmmk.NotFound):
        demo.port(p["id"])


# ---------------------------------------------------------------------------
# Images


def _glance_hash(img, data):
    algo = img.get("os_hash_algo") or "sha512"
    return hashlib.new(algo, data).hexdigest()


def test_image_upload_bytes_file_and_generator(demo, cleanup, tmp_path):
    data = secrets.token_bytes(3 * 1024 * 1024 + 17)

    def new_image(tag):
        img = demo.create_image(_name(tag), properties={"hw_disk_bus": "virtio"},
                                tags=[TAG], min_disk_gib=1)
        cleanup(lambda: demo.delete_image(img["id"]))
        assert img["status"] == "queued" and img["disk_format"] == "raw"
        assert img["hw_disk_bus"] == "virtio" and TAG in img["tags"]
        return img

    # bytes: the size is known.
    img = new_image("img-bytes")
    demo.upload_image(img["id"], data)
    got = demo.image(img["id"])
    assert got["status"] == "active" and got["size"] == len(data)
    assert got["os_hash_value"] == _glance_hash(got, data)
    assert got["checksum"] == hashlib.md5(data).hexdigest()

    # A generator of uneven chunks: sent chunked.
    img = new_image("img-gen")
    demo.upload_image(img["id"], (data[i:i + 100_003] for i in range(0, len(data), 100_003)))
    got = demo.wait_image(img["id"], "active", timeout=60)
    assert got["size"] == len(data) and got["os_hash_value"] == _glance_hash(got, data)

    # A file object (from its current position) and a path.
    img = new_image("img-file")
    f = io.BytesIO(b"skipped" + data)
    f.seek(7)
    demo.upload_image(img["id"], f)
    got = demo.image(img["id"])
    assert got["size"] == len(data) and got["os_hash_value"] == _glance_hash(got, data)
    path = tmp_path / "disk.raw"
    path.write_bytes(data[:1024 * 1024])
    img = new_image("img-path")
    demo.upload_image(img["id"], path)
    got = demo.image(img["id"])
    assert got["os_hash_value"] == _glance_hash(got, data[:1024 * 1024])

    demo.set_image_properties(img["id"], {"hw_qemu_guest_agent": "yes"})
    assert demo.image(img["id"])["hw_qemu_guest_agent"] == "yes"
    demo.delete_image(img["id"])
    with pytest.raises(vmmk.NotFound):
        demo.image(img["id"])


def test_image_upload_reader_error_propagates(demo, cleanup, tmp_path):
    img = demo.create_image(_name("img-fail"), tags=[TAG])
    cleanup(lambda: demo.delete_image(img["id"]))

    class Boom(Exception):
        pass

    def chunks():
        yield b"x" * 65536
        raise Boom("the source broke")

    with pytest.raises(Boom, match="the source broke") as info:
        demo.upload_image(img["id"], chunks())
    assert isinstance(info.value.__context__, vmmk.Error)
    assert demo.image(img["id"])["status"] != "active"
    with pytest.raises(TypeError):
        demo.upload_image(img["id"], 42)
    text = tmp_path / "text"
    text.write_text("not binary")
    with open(text, encoding="utf-8") as f, pytest.raises(TypeError, match="text mode"):
        demo.upload_image(img["id"], f)


# ---------------------------------------------------------------------------
# A server booting from a volume (one: ~30 s)


def test_boot_from_volume_server(demo, cleanup):
    vol = demo.create_volume(_name("boot"), 1, bootable=True,
                             image_metadata={"hw_disk_bus": "virtio"})
    cleanup(lambda: demo.delete_volume(vol["id"], wait=True))
    name = _name("srv")
    srv = demo.create_server(name, "m1.tiny", [vol], metadata={"vmmk": "test"},
                             tags=[TAG])
    # Deleted before the volume (cleanup runs in reverse), then the volume
    # needs to be available again to be deleted.
    cleanup(lambda: (demo.delete_server(srv["id"], wait=True),
                     demo.wait_volume(vol["id"], "available", timeout=120)))
    assert "adminPass" not in srv
    srv = demo.wait_server(srv["id"], "ACTIVE", timeout=300)
    assert srv["status"] == "ACTIVE" and srv["name"] == name
    assert srv["metadata"] == {"vmmk": "test"} and TAG in srv["tags"]
    attached = [a["id"] for a in srv["os-extended-volumes:volumes_attached"]]
    assert attached == [vol["id"]]
    assert demo.server(name)["id"] == srv["id"]
    assert demo.volume(vol["id"])["status"] == "in-use"

    demo.delete_server(srv["id"], wait=True)
    with pytest.raises(vmmk.NotFound):
        demo.server(srv["id"])
    demo.delete_server(srv["id"])        # already gone: success
