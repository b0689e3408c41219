"""vmmk copy / vmmk checksum against real nbdkit servers, checked with
nbdcopy (the peer), cmp and sha256sum."""
import json
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import VMMK, need, nbdcopy_to_file, read_stats, sha256_file, vmmk

MiB = 1 << 20


def copy_json(*args, **kw):
    r = vmmk("copy", *args, "--json", **kw)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("plugin,params", [
    ("data", ["data=0x55 0xaa 1 2 3 * 1000 @0x300000 0x11 * 5000", "size=8M"]),
    ("memory", ["size=16M"]),
    ("pattern", ["size=40M"]),
    ("sparse-random", ["size=96M", "seed=7", "percent=20"]),
])
def test_plugins_match_nbdcopy(nbdkit, tmp_path, plugin, params):
    k = nbdkit(plugin, *params)
    ref = nbdcopy_to_file(k.uri, tmp_path / "ref.img")
    out = tmp_path / "out.img"
    st = copy_json(k.uri, str(out), "--checksum", "sha256")
    assert subprocess.run(["cmp", ref, str(out)]).returncode == 0
    assert st["sha256"] == sha256_file(ref) == sha256_file(out)
    assert st["bytes_written"] + st["bytes_zeroed"] + st["bytes_skipped"] == os.path.getsize(ref)


def test_file_source_path_and_checksum_command(tmp_path):
    src = tmp_path / "src.img"
    with open(src, "wb") as f:
        f.write(os.urandom(3 * MiB))
        f.seek(20 * MiB)
        f.write(os.urandom(MiB + 512))
    out = tmp_path / "out.img"
    st = copy_json(str(src), str(out))
    assert subprocess.run(["cmp", str(src), str(out)]).returncode == 0
    assert st["bytes_read"] < 5 * MiB              # the hole was not read as data
    assert st["bytes_skipped"] > 15 * MiB          # a new file reads as zeros already
    r = vmmk("checksum", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [sha256_file(src), str(out)]


def test_sparse_destination_is_zero_skips(nbdkit, tmp_path):
    k = nbdkit("sparse-random", "size=64M", "seed=3", "percent=10")
    ref = nbdcopy_to_file(k.uri, tmp_path / "ref.img")
    out = tmp_path / "out.img"
    st = copy_json(k.uri, str(out), "--destination-is-zero")   # a new file reads as zeros
    assert st["bytes_zeroed"] == 0
    assert st["bytes_skipped"] > 32 * MiB
    assert sha256_file(out) == sha256_file(ref)
    # The new file stayed sparse.
    assert os.stat(out).st_blocks * 512 < 40 * MiB


def test_zero_detection_overwrites_old_data(nbdkit, tmp_path):
    # Never assume zero: stale data on the destination must be replaced.
    k = nbdkit("data", "data=1 * 4096 @0x800000 2 * 4096", "size=16M")
    out = tmp_path / "out.img"
    with open(out, "wb") as f:
        f.write(b"\xff" * (16 * MiB))
    copy_json(k.uri, str(out))
    ref = nbdcopy_to_file(k.uri, tmp_path / "ref.img")
    assert sha256_file(out) == sha256_file(ref)


def test_nbd_destination(nbdkit, tmp_path):
    src = nbdkit("pattern", "size=24M", name="src")
    dst = nbdkit("memory", "size=24M", name="dst")
    st = copy_json(src.uri, dst.uri, "--checksum", "sha256")
    r = vmmk("checksum", dst.uri)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == st["sha256"]


def extents_file(tmp_path, extents):
    p = tmp_path / "extents.json"
    p.write_text(json.dumps(extents))
    return str(p)


def test_extent_copy_reads_only_those_ranges(nbdkit, tmp_path):
    stats = tmp_path / "stats.txt"
    log = tmp_path / "requests.log"
    k = nbdkit("pattern", "size=64M", f"statsfile={stats}", f"logfile={log}", filters=["stats", "log"])
    extents = [[MiB, 3 * MiB], [10 * MiB + 4096, 8192], [40 * MiB, 2 * MiB]]
    total = sum(l for _, l in extents)
    out = tmp_path / "out.img"
    with open(out, "wb") as f:
        f.truncate(64 * MiB)
    st = copy_json(k.uri, str(out), "--extents", extents_file(tmp_path, extents))
    assert st["bytes_read"] == total
    assert st["bytes_written"] == total
    k.stop()
    read, text = read_stats(stats)
    assert abs(read - total) <= total * 0.01, text
    # Every read request lies inside an extent.
    reads = re.findall(r"Read id=\d+ offset=(0x[0-9a-f]+) count=(0x[0-9a-f]+)", open(log).read())
    assert reads
    for off, cnt in reads:
        off, cnt = int(off, 16), int(cnt, 16)
        assert any(o <= off and off + cnt <= o + l for o, l in extents), (off, cnt)
    # Outside the extents the destination is untouched (zeros); inside it is the pattern.
    ref = nbdcopy_to_file(nbdkit("pattern", "size=64M", name="ref").uri, tmp_path / "ref.img")
    with open(out, "rb") as a, open(ref, "rb") as b:
        for o, l in extents:
            a.seek(o)
            b.seek(o)
            assert a.read(l) == b.read(l)
        a.seek(20 * MiB)
        assert a.read(MiB) == b"\0" * MiB


def test_error_filter_reads_fail_copy_completes(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=48M", "error=EIO", "error-pread-rate=3%", filters=["error"])
    out = tmp_path / "out.img"
    st = copy_json(k.uri, str(out), "--request-size", "64K", "--retries", "20")
    assert st["retries"] > 0
    ref = nbdcopy_to_file(nbdkit("pattern", "size=48M", name="ref").uri, tmp_path / "ref.img")
    assert sha256_file(out) == sha256_file(ref)


def test_hard_read_failure_names_offset(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=8M", "error=EIO", "error-pread-rate=100%", filters=["error"])
    r = vmmk("copy", k.uri, str(tmp_path / "out.img"), "--retries", "1")
    assert r.returncode == 1
    assert re.search(r"read at offset \d+ \(\d+ bytes\): Input/output error, after 1 retries", r.stderr), r.stderr


def test_delay_filter(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=16M", "rdelay=5ms", filters=["delay"])
    out = tmp_path / "out.img"
    st = copy_json(k.uri, str(out), "--checksum", "sha256")
    ref = nbdcopy_to_file(nbdkit("pattern", "size=16M", name="ref").uri, tmp_path / "ref.img")
    assert st["sha256"] == sha256_file(ref)


def test_kill_source_mid_copy_clear_error(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=2G", "rdelay=20ms", filters=["delay"])
    p = subprocess.Popen([VMMK, "copy", k.uri, str(tmp_path / "out.img"), "--connections", "1",
                          "--requests", "8"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert p.poll() is None, "the copy finished before the source could be killed"
    k.kill()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1
    assert "connection lost at offset" in err or "cannot connect" in err, err
    assert "copied" not in out


def test_sigkill_copier_resume_reads_only_the_rest(nbdkit, tmp_path):
    # 2048 reads of 256 KiB, 8 at a time, 20 ms each: about 5 s in all.
    k = nbdkit("pattern", "size=512M", "rdelay=20ms", filters=["delay"], name="srv")
    out = tmp_path / "out.img"
    state = tmp_path / "copy.state"
    p = subprocess.Popen([VMMK, "copy", k.uri, str(out), "--state", str(state), "--connections", "1",
                          "--requests", "8"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline:
        time.sleep(0.1)
        assert p.poll() is None, "the copy finished before it could be killed"
        if state.exists():
            doc = json.loads(state.read_text())
            done = bin(int(doc["done"] or "0", 16)).count("1")
            if done >= 3:
                break
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert done >= 3, "no chunk was journalled before the kill"
    # The journal is bound to the source: serve the same data on the same
    # socket again, now counting what is read.
    k.stop()
    for leftover in (k.pidfile, k.sock):
        if os.path.exists(leftover):
            os.unlink(leftover)
    stats = tmp_path / "stats2.txt"
    k2 = nbdkit("pattern", "size=512M", f"statsfile={stats}", filters=["stats"], name="srv")
    assert k2.uri == k.uri
    st = copy_json(k2.uri, str(out), "--state", str(state))
    k2.stop()
    chunk = 32 * MiB
    assert st["bytes_skipped"] >= done * chunk
    assert st["bytes_read"] <= 512 * MiB - done * chunk
    read, text = read_stats(stats)
    assert read <= (512 * MiB - done * chunk) * 1.01, text
    ref = nbdcopy_to_file(nbdkit("pattern", "size=512M", name="ref").uri, tmp_path / "ref.img")
    assert sha256_file(out) == sha256_file(ref)
    assert not state.exists()          # a finished copy removes its journal


def test_state_mismatch_refused(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=8M")
    state = tmp_path / "s.json"
    state.write_text(json.dumps({"vmmk_copy_state": 1, "source": "something else", "destination": "x",
                                 "size": 1, "chunk_size": 1, "work": "whole", "done": "",
                                 "updated": "2026-01-01T00:00:00Z"}))
    r = vmmk("copy", k.uri, str(tmp_path / "out.img"), "--state", str(state))
    assert r.returncode == 1
    assert "belongs to another copy" in r.stderr


def test_destination_smaller_than_source(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=8M")
    out = tmp_path / "small.img"
    with open(out, "wb") as f:
        f.truncate(4 * MiB)
    r = vmmk("copy", k.uri, str(out))
    assert r.returncode == 1
    assert f"destination {out} is smaller than the source: 4194304 bytes < 8388608" in r.stderr


def test_unwritable_destination(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=1M")
    r = vmmk("copy", k.uri, "/proc/version")
    assert r.returncode == 1
    assert "destination /proc/version" in r.stderr
    ro = nbdkit("pattern", "size=1M", name="ro")        # pattern is read-only
    r = vmmk("copy", k.uri, ro.uri)
    assert r.returncode == 1
    assert "read-only" in r.stderr


@pytest.mark.parametrize("doc,msg", [
    ("[[0, 4096], [2048, 4096]]", "overlaps"),
    ("[[0, -1]]", "negative"),
    ("[[0, 0]]", "empty"),
    ("[{\"offset\": 0}]", "expected [offset, length]"),
    ("[[0, 4096]", "JSON"),
    ("[[8388608, 4096]]", "past the disk size"),
])
def test_malformed_extent_file(nbdkit, tmp_path, doc, msg):
    k = nbdkit("pattern", "size=8M")
    p = tmp_path / "ext.json"
    p.write_text(doc)
    r = vmmk("copy", k.uri, str(tmp_path / "out.img"), "--extents", str(p))
    assert r.returncode == 1, r.stdout
    assert msg in r.stderr and str(p) in r.stderr or msg in r.stderr, r.stderr


def test_bad_arguments_usage():
    for args in (["copy"], ["copy", "a"], ["copy", "a", "b", "--request-size", "3000"],
                 ["copy", "a", "b", "--checksum", "md5"], ["checksum"]):
        r = vmmk(*args)
        assert r.returncode == 2, (args, r.stderr)


def test_rate_limit(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=8M")
    st = copy_json(k.uri, str(tmp_path / "out.img"), "--rate-limit", "16M")
    # 8 MiB at 16 MiB/s takes about half a second; the cap is only loosely
    # checked (no timed assertions): it must not be instantaneous.
    assert st["seconds"] >= 0.3


def test_progress_lines_not_tty(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=16M")
    r = vmmk("copy", k.uri, str(tmp_path / "out.img"), "--progress")
    assert r.returncode == 0, r.stderr
    assert "100.0%" in r.stderr


def test_missing_source_file(tmp_path):
    r = vmmk("copy", str(tmp_path / "nope.img"), str(tmp_path / "out.img"))
    assert r.returncode == 1
    assert "nope.img" in r.stderr


def test_dropped_connection_is_reopened(nbdkit, tmp_path):
    # The server goes away and comes back on the same socket (as after a
    # network blip or a restarted proxy): the copy reconnects and goes on.
    # 1024 reads, 8 at a time, 20 ms each: about 2.5 s.
    k = nbdkit("pattern", "size=256M", "rdelay=20ms", filters=["delay"], name="flaky")
    out = tmp_path / "out.img"
    p = subprocess.Popen([VMMK, "copy", k.uri, str(out), "--json", "--requests", "8", "--connections", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)
    assert p.poll() is None, "the copy finished before the connection could be dropped"
    k.kill()
    for leftover in (k.pidfile, k.sock):
        if os.path.exists(leftover):
            os.unlink(leftover)
    k2 = nbdkit("pattern", "size=256M", name="flaky")
    out_text, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    st = json.loads(out_text)
    assert st["reconnects"] >= 1
    ref = nbdcopy_to_file(k2.uri, tmp_path / "ref.img")
    assert sha256_file(out) == sha256_file(ref)


def test_direct_io_destination(nbdkit):
    # O_DIRECT needs a real file system (tmpfs refuses it): use /var/tmp.
    import tempfile
    k = nbdkit("pattern", "size=16M")
    with tempfile.TemporaryDirectory(dir="/var/tmp") as d:
        out = os.path.join(d, "direct.img")
        r = vmmk("copy", k.uri, out, "--direct", "--checksum", "sha256", "--json")
        if r.returncode != 0 and "O_DIRECT" in r.stderr:
            pytest.skip(f"/var/tmp does not support O_DIRECT: {r.stderr.strip()}")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["sha256"] == sha256_file(out)


@pytest.fixture
def loop_device(tmp_path):
    """A 64 MiB block device backed by a file (root and losetup needed)."""
    import shutil as _sh
    if os.geteuid() != 0 or not _sh.which("losetup"):
        pytest.skip("a loop device needs root and losetup (util-linux)")
    backing = tmp_path / "loop.img"
    with open(backing, "wb") as f:
        f.write(b"\xee" * (64 * MiB))         # stale data the copy must replace
    r = subprocess.run(["losetup", "-f", "--show", str(backing)], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"no loop device here: {r.stderr.strip()}")
    dev = r.stdout.strip()
    yield dev
    subprocess.run(["losetup", "-d", dev])


def test_block_device_destination(nbdkit, tmp_path, loop_device):
    k = nbdkit("sparse-random", "size=64M", "seed=9", "percent=30")
    st = copy_json(k.uri, loop_device, "--checksum", "sha256")
    assert st["bytes_zeroed"] > 0              # holes zeroed on the device, never assumed
    r = vmmk("checksum", loop_device)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0] == st["sha256"] == sha256_file(nbdcopy_to_file(k.uri, tmp_path / "ref.img"))
    # A device smaller than the source is refused.
    big = nbdkit("pattern", "size=128M", name="big")
    r = vmmk("copy", big.uri, loop_device)
    assert r.returncode == 1
    assert "is smaller than the source" in r.stderr
