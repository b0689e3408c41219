"""Tests of the copier in the Python binding (vmmk.Source, vmmk.Copier,
vmmk.copy, vmmk.checksum), run by CTest as part of python.pytest.

Disks come from real nbdkit servers on Unix sockets (started here like
tests/copier/conftest.py does, or by libvmmk itself for Source.nbdkit) and
the reference copy from nbdcopy; each test skips with the reason when one
of them is missing.  Every test asserts on data (bytes, SHA-256), on error
classes and messages, and on the C objects left (none).
"""

import gc
import hashlib
import os
import pathlib
import shutil
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest

import vmmk

MiB = 1 << 20


def need(program):
    if not shutil.which(program):
        pytest.skip("%s is not installed (apt install %s)"
                    % (program, "libnbd-bin" if program == "nbdcopy" else program))


class Nbdkit:
    """An nbdkit process on a Unix socket in a temporary directory."""

    def __init__(self, tmp_path, plugin, *params, filters=(), name="nbdkit"):
        need("nbdkit")
        self.sock = str(tmp_path / (name + ".sock"))
        pidfile = tmp_path / (name + ".pid")
        self.logpath = tmp_path / (name + ".log")
        argv = ["nbdkit", "-U", self.sock, "-P", str(pidfile), "-f", "--exit-with-parent"]
        argv += ["--filter=" + f for f in filters] + [plugin, *params]
        with open(self.logpath, "w") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not pidfile.exists():      # written once nbdkit accepts connections
            if self.proc.poll() is not None:
                raise RuntimeError("nbdkit exited: " + self.logpath.read_text())
            if time.monotonic() > deadline:
                raise RuntimeError("nbdkit did not start")
            time.sleep(0.02)
        self.uri = "nbd+unix:///?socket=" + self.sock

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def nbdkit(tmp_path):
    started = []

    def start(plugin, *params, filters=(), name=None):
        k = Nbdkit(tmp_path, plugin, *params, filters=filters,
                   name=name or "nbdkit%d" % len(started))
        started.append(k)
        return k

    yield start
    for k in started:
        k.stop()


@pytest.fixture(autouse=True)
def no_live_c_objects():
    """Every test closes what it made: no source or copier is left."""
    yield
    gc.collect()
    assert vmmk._live_objects() == 0


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            h.update(block)
    return h.hexdigest()


def nbdcopy_to_file(uri, path):
    """The reference: what nbdcopy (the peer) reads from the same source."""
    need("nbdcopy")
    subprocess.run(["nbdcopy", uri, str(path)], check=True, timeout=300)
    return path


def private_dir(source):
    """The private directory of an nbdkit source, from its argv."""
    argv = source.argv
    return os.path.dirname(argv[argv.index("--unix") + 1])


# A source slow enough that a copy takes minutes unless cancelled: every
# read waits 20 ms, and the copier keeps two 64 KiB reads in flight on one
# connection (about 6 MiB/s, so 1 GiB would take ~3 minutes).
SLOW = dict(requests=2, connections=1, request_size=64 * 1024)


def slow_source():
    need("nbdkit")
    return vmmk.Source.nbdkit("pattern", ["size=1G", "rdelay=20ms"], ["delay"])


THUMBPRINT = ":".join(["5A"] * 20)


# ---------------------------------------------------------------------------
# Copy and checksum against nbdcopy and hashlib


def test_copy_pattern_matches_nbdcopy(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=24M")
    ref = nbdcopy_to_file(k.uri, tmp_path / "ref.img")
    dst = tmp_path / "dst.img"
    stats = vmmk.copy(k.uri, dst, checksum=True)
    assert dst.read_bytes() == ref.read_bytes()
    assert stats["sha256"] == sha256_of(ref) == hashlib.sha256(dst.read_bytes()).hexdigest()
    assert set(stats) == {"bytes_read", "bytes_written", "bytes_zeroed", "bytes_skipped",
                          "requests", "retries", "reconnects", "seconds", "sha256"}
    assert stats["bytes_read"] == 24 * MiB
    assert stats["bytes_written"] + stats["bytes_zeroed"] + stats["bytes_skipped"] == 24 * MiB
    assert stats["retries"] == 0 and stats["reconnects"] == 0 and stats["requests"] > 0
    assert isinstance(stats["seconds"], float) and stats["seconds"] >= 0


def test_copy_from_each_kind_of_source(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=4M")
    ref = nbdcopy_to_file(k.uri, tmp_path / "ref.img")
    expected = ref.read_bytes()
    # An nbdkit that libvmmk runs itself, a URI Source, a path as str and
    # as a PathLike, and a file Source.
    with vmmk.Source.nbdkit("pattern", ["size=4M"]) as src:
        stats = vmmk.copy(src, tmp_path / "a.img")
        assert "sha256" not in stats                  # not asked for
    with vmmk.Source.uri(k.uri) as src:
        vmmk.copy(src, str(tmp_path / "b.img"))
        assert src.argv is None and src.log == "" and src.start() == k.uri
    vmmk.copy(str(ref), tmp_path / "c.img")
    vmmk.copy(pathlib.Path(ref), tmp_path / "d.img")
    with vmmk.Source.file(ref) as src:
        vmmk.copy(src, tmp_path / "e.img")
    for name in "abcde":
        assert (tmp_path / (name + ".img")).read_bytes() == expected, name


def test_checksum_equals_hashlib(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=6M")
    ref = nbdcopy_to_file(k.uri, tmp_path / "ref.img")
    digest = sha256_of(ref)
    assert vmmk.checksum(k.uri) == digest
    assert vmmk.checksum(str(ref)) == digest
    assert vmmk.checksum(ref) == digest
    with vmmk.Source.nbdkit("pattern", ["size=6M"]) as src:
        assert vmmk.checksum(src) == digest
    # A sparse file: holes hash as the zeros they read as.
    sparse = tmp_path / "sparse.img"
    with open(sparse, "wb") as f:
        f.truncate(5 * MiB)
        f.seek(3 * MiB + 17)
        f.write(b"data in the middle")
    assert vmmk.checksum(sparse) == sha256_of(sparse)
    with pytest.raises(vmmk.Error) as info:
        vmmk.checksum(tmp_path / "missing.img")
    assert "missing.img" in info.value.message


def test_extents_copy_only_those_ranges(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=8M")
    ref = nbdcopy_to_file(k.uri, tmp_path / "ref.img").read_bytes()
    extents = [[5 * MiB, 256 * 1024 + 4096], [0, 4096], [1 * MiB, 64 * 1024]]   # unsorted
    wanted = sum(length for _, length in extents)
    seen = []
    dst = tmp_path / "dst.img"
    stats = vmmk.copy(k.uri, dst, extents=extents, progress=seen.append)
    assert stats["bytes_read"] == wanted
    assert seen[-1]["bytes_total"] == seen[-1]["bytes_done"] == wanted
    data = dst.read_bytes()
    assert len(data) == len(ref) == 8 * MiB
    expected = bytearray(len(ref))                    # a new file reads as zeros
    for off, length in extents:
        expected[off:off + length] = ref[off:off + length]
    assert data == bytes(expected)
    assert data[4096:8192] == bytes(4096) and ref[4096:8192] != bytes(4096)
    # The same as JSON text.
    dst2 = tmp_path / "dst2.img"
    vmmk.copy(k.uri, dst2, extents='[[0, 4096], [1048576, 65536], [5242880, 266240]]')
    assert dst2.read_bytes() == data


@pytest.mark.parametrize("extents, message", [
    ([[0, 4096], [2048, 4096]], "extents: [1]: overlaps [0] (offset 2048 < 4096)"),
    ([[-1, 4096]], "extents: [0][0]: -1 is negative"),
    ([[0, 0]], "extents: [0]: length 0 is empty"),
    ([[0, 4096.5]], "extents: [0][1]: expected integer, got number"),
    ([[0, 4096, 1]], "extents: [0]: expected [offset, length], got an array of 3"),
    ([[8 * MiB - 4096, 8192]], "extents: [0]: ends at 8392704, past the disk size 8388608"),
])
def test_bad_extents_raise_with_the_message(nbdkit, tmp_path, extents, message):
    k = nbdkit("pattern", "size=8M")
    dst = tmp_path / "dst.img"
    with pytest.raises(vmmk.InvalidArgument) as info:
        vmmk.copy(k.uri, dst, extents=extents)
    assert info.value.code == vmmk.EINVAL
    assert info.value.message == message and str(info.value) == message


# ---------------------------------------------------------------------------
# Progress, cancel, the GIL


def test_progress_increasing_to_total_on_calling_thread(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=16M", "rdelay=5ms", filters=["delay"])
    calls = []
    threads = set()

    def progress(p):
        calls.append(p)
        threads.add(threading.get_ident())

    stats = vmmk.copy(k.uri, tmp_path / "dst.img", progress=progress, progress_interval=0.05,
                      requests=4, connections=1, request_size=64 * 1024)
    assert len(calls) >= 3, calls                      # ~0.3 s of copying, every 50 ms
    assert threads == {threading.get_ident()}
    for p in calls:
        assert set(p) == {"bytes_done", "bytes_total", "rate", "eta", "elapsed"}
        assert p["bytes_total"] == 16 * MiB
        assert p["eta"] is None or p["eta"] >= 0
    done = [p["bytes_done"] for p in calls]
    assert done == sorted(done)
    assert [p["elapsed"] for p in calls] == sorted(p["elapsed"] for p in calls)
    assert done[-1] == 16 * MiB and calls[-1]["eta"] == 0
    assert 0 < done[0] < 16 * MiB                      # a report during the copy
    assert stats["bytes_read"] == 16 * MiB


def test_cancel_from_another_thread_while_gil_released(tmp_path):
    """run() releases the GIL: a pure-Python counter thread keeps counting
    during the copy; cancel() from another thread stops it promptly."""
    count = [0]
    stop = threading.Event()

    def counter():
        while not stop.is_set():
            count[0] += 1

    with slow_source() as src, vmmk.Copier(src, tmp_path / "dst.img", **SLOW) as copier:
        assert copier.size == 1 << 30
        cancelled_at = []

        def canceller():
            time.sleep(0.5)
            cancelled_at.append(time.monotonic())
            copier.cancel()

        counting = threading.Thread(target=counter)
        counting.start()
        threading.Thread(target=canceller).start()
        before = count[0]
        try:
            with pytest.raises(vmmk.Cancelled) as info:
                copier.run()
            ended = time.monotonic()
            during = count[0] - before
        finally:
            stop.set()
            counting.join()
    e = info.value
    assert isinstance(e, vmmk.Error) and e.code == vmmk.ECANCELED == -13
    assert e.message.startswith("copy cancelled after ")
    assert 0 < e.stats["bytes_read"] < 1 << 30        # stopped, not finished
    assert ended - cancelled_at[0] < 10                # promptly (the whole copy takes minutes)
    # Millions when the GIL is free; with the GIL held by the copy the
    # counter thread could not have run at all.
    assert during > 10000, during


def test_copy_cancel_event(tmp_path):
    event = threading.Event()
    threading.Timer(0.3, event.set).start()
    with slow_source() as src:
        with pytest.raises(vmmk.Cancelled) as info:
            vmmk.copy(src, tmp_path / "dst.img", cancel=event, **SLOW)
    assert info.value.stats["bytes_read"] < 1 << 30
    assert [t for t in threading.enumerate() if t.name == "vmmk-copy-cancel"] == []
    with pytest.raises(TypeError, match="cancel"):
        vmmk.copy("/dev/null", tmp_path / "x.img", cancel=True)


def test_cancel_before_run_and_run_once(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=1M")
    with vmmk.Copier(k.uri, tmp_path / "a.img") as copier:
        copier.cancel()
        with pytest.raises(vmmk.Cancelled, match="after 0 of 1048576 bytes"):
            copier.run()
    with vmmk.Copier(k.uri, tmp_path / "b.img") as copier:
        assert copier.run()["bytes_read"] == MiB
        with pytest.raises(vmmk.Error, match="has run already") as info:
            copier.run()
        assert info.value.code == vmmk.ESTATE
    assert copier.closed
    with pytest.raises(vmmk.Error, match="closed"):
        copier.run()
    copier.cancel()                                    # harmless once closed


class Stop(Exception):
    pass


def test_exception_in_progress_cancels_and_propagates(tmp_path):
    calls = []

    def progress(p):
        calls.append(p)
        raise Stop("enough after %d bytes" % p["bytes_done"])

    with slow_source() as src:
        with pytest.raises(Stop) as info:
            vmmk.copy(src, tmp_path / "dst.img", progress=progress, progress_interval=0.1, **SLOW)
    assert len(calls) == 1                             # never called again
    e = info.value
    assert str(e).startswith("enough after ")
    assert isinstance(e.__context__, vmmk.Cancelled)   # chained to the cancelled copy
    assert e.__context__.stats["bytes_read"] < 1 << 30
    assert any(f.co_name == "progress" for f in _frames(e.__traceback__))


def _frames(tb):
    while tb is not None:
        yield tb.tb_frame.f_code
        tb = tb.tb_next


def test_signal_during_copy_cancels_it(tmp_path):
    """A signal handler runs (here: raises) while the copy is in C, as
    Ctrl-C's KeyboardInterrupt would."""
    class Interrupted(Exception):
        pass

    def handler(signum, frame):
        raise Interrupted()

    old = signal.signal(signal.SIGUSR1, handler)
    try:
        threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGUSR1)).start()
        with slow_source() as src:
            with pytest.raises(Interrupted) as info:
                vmmk.copy(src, tmp_path / "dst.img", progress_interval=0.05, **SLOW)
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert isinstance(info.value.__context__, vmmk.Cancelled)


def test_close_from_another_thread_cancels_and_waits(tmp_path):
    with slow_source() as src:
        copier = vmmk.Copier(src, tmp_path / "dst.img", **SLOW)
        threading.Timer(0.3, copier.close).start()
        with pytest.raises(vmmk.Cancelled):
            copier.run()
        for _ in range(100):                           # close() frees once run() is out
            if copier.closed:
                break
            time.sleep(0.05)
        assert copier.closed


def test_close_from_progress_callable(tmp_path):
    with slow_source() as src:
        copier = vmmk.Copier(src, tmp_path / "dst.img", progress=lambda p: copier.close(),
                             progress_interval=0.05, **SLOW)
        with pytest.raises(vmmk.Cancelled):
            copier.run()
        assert copier.closed


# ---------------------------------------------------------------------------
# Sources


def test_vddk_argv_passes_password_by_file_and_repr_hides_it(tmp_path):
    password = "Pa55-w0rd-not-in-argv"
    src = vmmk.Source.vddk(server="vcenter.example", user="administrator@vsphere.local",
                           password=password, thumbprint=THUMBPRINT.lower(), vm_moref="vm-42",
                           file="[datastore1] web/web.vmdk", snapshot_moref="snapshot-7",
                           libdir=str(tmp_path / "no-vddk"), compression="zlib",
                           max_request=4 * MiB, retry=False)
    with src:
        argv = src.argv
        assert not any(password in a for a in argv)
        pw = [a for a in argv if a.startswith("password=")]
        assert len(pw) == 1 and pw[0].startswith("password=+/")
        secret_file = pw[0][len("password=+"):]
        assert os.path.dirname(secret_file) == private_dir(src)
        assert stat.S_IMODE(os.stat(secret_file).st_mode) == 0o600
        for a in ("vddk", "server=vcenter.example", "user=administrator@vsphere.local",
                  "thumbprint=" + THUMBPRINT, "vm=moref=vm-42", "snapshot=snapshot-7",
                  "file=[datastore1] web/web.vmdk", "compression=zlib", "maxdata=4M",
                  "--filter=blocksize", "--readonly"):
            assert a in argv, a
        assert "--filter=retry" not in argv
        text = repr(src)
        assert password not in text
        assert "vm-42" in text and "vcenter.example" in text and text.startswith("<vmmk.Source vddk")
        # No VDDK here: starting fails naming the libdir, every time.
        for _ in range(2):
            with pytest.raises(vmmk.NotFound, match="no-vddk"):
                src.start()
    assert not os.path.exists(secret_file)


def test_vddk_bad_options_name_them():
    base = dict(server="vc", user="u", password="secret-pw", thumbprint=THUMBPRINT,
                vm_moref="vm-1", file="[ds] a.vmdk")
    with pytest.raises(vmmk.InvalidArgument, match="option 'thumbprint'"):
        vmmk.Source.vddk(**dict(base, thumbprint="AA:BB"))
    with pytest.raises(vmmk.InvalidArgument, match="option 'server' is required"):
        vmmk.Source.vddk(**dict(base, server=""))
    with pytest.raises(vmmk.InvalidArgument, match="option 'compression'"):
        vmmk.Source.vddk(**base, compression="lzma")
    with pytest.raises(vmmk.InvalidArgument, match="option 'max_request'"):
        vmmk.Source.vddk(**base, max_request=1000)
    with pytest.raises(TypeError):
        vmmk.Source.vddk(server="vc")                  # required keywords missing
    with pytest.raises(TypeError):
        vmmk.Source.vddk(**dict(base, password=None))


def test_http_source_cookie_by_file():
    cookie = 'vmware_soap_session="52a1b7c3-cookie-value"'
    url = "https://esxi.example/folder/web/web-flat.vmdk?dcPath=dc1&dsName=datastore1"
    with vmmk.Source.http(url, cookie=cookie, insecure=True, timeout=30) as src:
        argv = src.argv
        assert not any("52a1b7c3" in a for a in argv)
        assert any(a.startswith("cookie=+/") for a in argv)
        assert "url=" + url in argv and "sslverify=false" in argv and "timeout=30" in argv
        assert "--filter=retry" in argv and "curl" in argv
        assert "52a1b7c3" not in repr(src) and "esxi.example" in repr(src)
    with pytest.raises(vmmk.InvalidArgument, match="carries credentials"):
        vmmk.Source.http("https://root:pw@esxi.example/x.vmdk")
    with pytest.raises(vmmk.InvalidArgument, match="is not http"):
        vmmk.Source.http("ftp://esxi.example/x.vmdk")


def test_file_source_missing_path_is_named(tmp_path):
    missing = tmp_path / "no-such-disk.img"
    with pytest.raises(vmmk.NotFound) as info:
        vmmk.Source.file(missing)
    assert str(missing) in info.value.message
    assert info.value.code == vmmk.ENOTFOUND and info.value.errno == 2
    with pytest.raises(vmmk.NotFound, match="no-such-disk"):
        vmmk.copy(str(missing), tmp_path / "dst.img")
    with pytest.raises(vmmk.InvalidArgument, match="not a regular file"):
        vmmk.Source.file(tmp_path)


def test_nbdkit_source_rules():
    need("nbdkit")
    with pytest.raises(vmmk.InvalidArgument, match="must name a file"):
        vmmk.Source.nbdkit("curl", ["url=https://x.example/d", "password=hunter2"])
    with pytest.raises(vmmk.InvalidArgument, match="starts with '-'"):
        vmmk.Source.nbdkit("pattern", ["--run=sh"])
    with pytest.raises(TypeError, match="sequence of str"):
        vmmk.Source.nbdkit("pattern", "size=1M")
    with pytest.raises(TypeError):
        vmmk.Source.nbdkit("pattern", ["size=1M", 5])
    with pytest.raises(vmmk.InvalidArgument, match="NUL"):
        vmmk.Source.nbdkit("pattern", ["size=1M\0x"])
    with pytest.raises(TypeError, match="Source.uri"):
        vmmk.Source()
    with pytest.raises(vmmk.InvalidArgument, match="unsupported scheme"):
        vmmk.Source.uri("http://example/")


def test_source_lifecycle_start_log_close():
    need("nbdkit")
    src = vmmk.Source.nbdkit("pattern", ["size=1M"], filters=["delay"])
    argv = src.argv
    assert argv[0].endswith("nbdkit") and "--filter=delay" in argv
    assert argv.index("--filter=delay") < argv.index("pattern") < argv.index("size=1M")
    d = private_dir(src)
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700
    uri = src.start()
    assert uri.startswith("nbd+unix:///?socket=") and src.start() == uri
    assert vmmk.checksum(uri) == vmmk.checksum(src)
    assert isinstance(src.log, str)
    assert repr(src) == "<vmmk.Source nbdkit '--filter=delay' 'pattern' 'size=1M'>"
    src.close()
    assert src.closed and not os.path.exists(d)       # nbdkit stopped, directory gone
    assert repr(src).endswith("(closed)>")
    src.close()                                        # twice is fine
    with pytest.raises(vmmk.Error, match="closed") as info:
        src.start()
    assert info.value.code == vmmk.ESTATE
    with pytest.raises(vmmk.Error, match="closed"):
        vmmk.checksum(src)
    with pytest.raises(vmmk.Error, match="closed"):
        vmmk.Copier(src, "/dev/null")


def test_unclosed_source_is_freed_by_gc():
    need("nbdkit")
    src = vmmk.Source.nbdkit("pattern", ["size=1M"])
    src.start()
    d = private_dir(src)
    del src
    gc.collect()
    assert not os.path.exists(d)


def test_copier_keeps_its_source_open(tmp_path):
    need("nbdkit")
    with vmmk.Source.nbdkit("pattern", ["size=2M"]) as src:
        d = private_dir(src)
        copier = vmmk.Copier(src, tmp_path / "dst.img")
    assert src.closed and os.path.exists(d)           # closed, but the copier still uses it
    assert copier.source is src
    stats = copier.run()
    assert stats["bytes_read"] == 2 * MiB
    copier.close()
    assert not os.path.exists(d)
    # A Copier made from a path makes its own Source and closes it.
    with vmmk.Copier(str(tmp_path / "dst.img"), tmp_path / "dst2.img") as c2:
        d2 = private_dir(c2.source)
        assert c2.size == 2 * MiB
        c2.run()
    assert c2.source.closed and not os.path.exists(d2)
    assert (tmp_path / "dst2.img").read_bytes() == (tmp_path / "dst.img").read_bytes()


def test_copier_argument_errors(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=1M")
    dst = tmp_path / "dst.img"
    with pytest.raises(vmmk.InvalidArgument, match="at most 1024 in flight"):
        vmmk.copy(k.uri, dst, requests=2000)
    with pytest.raises(vmmk.InvalidArgument, match="power of two"):
        vmmk.copy(k.uri, dst, request_size=1000)
    with pytest.raises(vmmk.InvalidArgument, match="requests"):
        vmmk.copy(k.uri, dst, requests=-1)
    with pytest.raises(TypeError, match="progress"):
        vmmk.copy(k.uri, dst, progress="not callable")
    with pytest.raises(vmmk.InvalidArgument, match="progress_interval"):
        vmmk.copy(k.uri, dst, progress_interval=-1)
    with pytest.raises(TypeError):
        vmmk.copy(k.uri, 42)
    with pytest.raises(vmmk.Error, match="cannot connect") as info:
        vmmk.copy("nbd+unix:///?socket=" + str(tmp_path / "none.sock"), dst)
    assert info.value.code == vmmk.ENETWORK
    with pytest.raises(vmmk.Error, match="no-dir") as info:
        vmmk.copy(k.uri, tmp_path / "no-dir" / "dst.img")
    assert not dst.exists()


def test_state_file_resumes_a_cancelled_copy(tmp_path):
    """The journal records what a cancelled copy finished (in 32 MiB
    chunks); the same copy run again skips it."""
    state = tmp_path / "copy.state"
    dst = tmp_path / "dst.img"
    opts = dict(requests=4, connections=1, request_size=256 * 1024)
    need("nbdkit")
    with vmmk.Source.nbdkit("pattern", ["size=128M", "rdelay=20ms"], ["delay"]) as src:
        with vmmk.Copier(src, dst, state_file=state, progress_interval=0.05,
                         progress=lambda p: p["bytes_done"] >= 48 * MiB and copier.cancel(),
                         **opts) as copier:
            with pytest.raises(vmmk.Cancelled) as info:
                copier.run()
        assert 48 * MiB <= info.value.stats["bytes_written"] < 128 * MiB
        assert state.exists()
        stats = vmmk.copy(src, dst, state_file=state, checksum=True, **opts)
        assert stats["bytes_skipped"] >= 32 * MiB
        assert stats["bytes_read"] == 128 * MiB     # the checksum reads everything
        assert stats["bytes_written"] <= 128 * MiB - stats["bytes_skipped"]
        assert stats["sha256"] == sha256_of(dst) == vmmk.checksum(src)
    assert not state.exists()                       # a finished copy needs no journal


def test_no_c_objects_left_on_error_paths(nbdkit, tmp_path):
    k = nbdkit("pattern", "size=1M")
    calls = [
        lambda: vmmk.copy(k.uri, tmp_path / "a.img", extents=[[0, 4096], [0, 4096]]),
        lambda: vmmk.copy(k.uri, tmp_path / "a.img", extents=[[0, 2 * MiB]]),
        lambda: vmmk.copy(k.uri, tmp_path / "no" / "a.img"),
        lambda: vmmk.copy(str(tmp_path / "missing.img"), tmp_path / "a.img"),
        lambda: vmmk.Copier(k.uri, tmp_path / "a.img", requests=5000),
    ]
    for call in calls:
        with pytest.raises(vmmk.Error):
            call()
        assert vmmk._live_objects() == 0


def test_progress_callable_and_exceptions_are_released(nbdkit, tmp_path):
    """The C glue holds the callable (and what it raised) only while the
    copier lives: reference counts come back."""
    k = nbdkit("pattern", "size=1M")
    seen = []

    def progress(p):
        seen.append(p["bytes_done"])

    def failing(p):
        raise Stop("x")

    base = sys.getrefcount(progress), sys.getrefcount(failing)
    for i in range(20):
        vmmk.copy(k.uri, tmp_path / "a.img", progress=progress)
        with pytest.raises(Stop):
            vmmk.copy(k.uri, tmp_path / "b.img", progress=failing)
        copier = vmmk.Copier(k.uri, tmp_path / "c.img", progress=progress)
        del copier                                     # never run, never closed
    gc.collect()
    assert (sys.getrefcount(progress), sys.getrefcount(failing)) == base
    assert seen.count(MiB) == 20


def test_sources_left_open_are_freed_at_exit(tmp_path):
    """A Source (and its Copier) never closed is still freed when the
    interpreter exits: nbdkit stopped, private directory removed."""
    need("nbdkit")
    script = (
        "import sys, vmmk\n"
        "src = vmmk.Source.nbdkit('pattern', ['size=1M'])\n"
        "c = vmmk.Copier(src, sys.argv[1])\n"
        "argv = src.argv\n"
        "print(argv[argv.index('--unix') + 1])\n")
    out = subprocess.run([sys.executable, "-c", script, str(tmp_path / "dst.img")],
                         capture_output=True, text=True, timeout=60, env=os.environ)
    assert out.returncode == 0, out.stderr
    sock = out.stdout.strip()
    assert sock.endswith("/nbdkit.sock")
    assert not os.path.exists(os.path.dirname(sock))
