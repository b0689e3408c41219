"""Fixtures for the disk copier tests: real nbdkit servers and the vmmk tool."""
import hashlib
import os
import shutil
import signal
import subprocess
import time

import pytest

VMMK = os.environ.get("VMMK_BIN", "vmmk")


def need(program):
    if not shutil.which(program):
        pytest.skip(f"{program} is not installed (apt install {'libnbd-bin' if program == 'nbdcopy' else program})")


class Nbdkit:
    """An nbdkit process on a Unix socket in a temporary directory."""

    def __init__(self, tmp_path, plugin, *params, filters=(), name="nbdkit"):
        need("nbdkit")
        self.dir = tmp_path
        self.sock = str(tmp_path / f"{name}.sock")
        self.pidfile = str(tmp_path / f"{name}.pid")
        self.log = open(tmp_path / f"{name}.log", "w")
        argv = ["nbdkit", "-U", self.sock, "-P", self.pidfile, "-f", "--exit-with-parent"]
        for f in filters:
            argv.append(f"--filter={f}")
        argv += [plugin, *params]
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not os.path.exists(self.pidfile):
            if self.proc.poll() is not None:
                raise RuntimeError(f"nbdkit exited: {open(tmp_path / f'{name}.log').read()}")
            if time.monotonic() > deadline:
                raise RuntimeError("nbdkit did not start")
            time.sleep(0.02)
        self.uri = f"nbd+unix:///?socket={self.sock}"

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def nbdkit(tmp_path):
    started = []

    def start(plugin, *params, filters=(), name=None):
        k = Nbdkit(tmp_path, plugin, *params, filters=filters, name=name or f"nbdkit{len(started)}")
        started.append(k)
        return k

    yield start
    for k in started:
        k.stop()


def vmmk(*args, timeout=300, **kw):
    return subprocess.run([VMMK, *args], capture_output=True, text=True, timeout=timeout, **kw)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def nbdcopy_to_file(uri, path):
    """The reference: what nbdcopy (the peer) reads from the same source."""
    need("nbdcopy")
    subprocess.run(["nbdcopy", uri, str(path)], check=True, timeout=300)
    return str(path)


def read_stats(path):
    """Bytes read according to nbdkit's stats filter (its 'read:' line)."""
    text = open(path).read()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("read:"):
            # "read: 4 ops, 0.000026 s, 1.00 MiB, ..."
            parts = line.split(",")
            size = parts[2].strip()
            num, unit = size.split()
            mult = {"bytes": 1, "B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[unit]
            return float(num) * mult, text
    return 0.0, text
