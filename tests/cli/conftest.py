"""Shared fixture for the CLI tests that talk to vSphere: a vcsim of their
own (tests/vsphere/vcsim.sh, with its own state directory), the connection
flags for it with a 0600 password file and a pinned thumbprint, and the
govc environment to cross-check with."""
import os
import shutil
import subprocess
import tempfile

import pytest

VMMK = os.environ.get("VMMK_BIN", "vmmk")
VCSIM_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "vsphere", "vcsim.sh")


@pytest.fixture(scope="module")
def vcsim():
    if shutil.which("bash") is None or subprocess.run(
            ["bash", VCSIM_SH, "bindir"], capture_output=True).returncode != 0:
        pytest.skip("vcsim is not built (run tests/vsphere/vcsim.sh build)")
    state = tempfile.mkdtemp(prefix="vmmk-cli-vcsim-")
    env = dict(os.environ, VMMK_VCSIM_STATE=state)
    start = subprocess.run(["bash", VCSIM_SH, "start"], capture_output=True, text=True, env=env,
                           timeout=60)
    if start.returncode != 0:
        shutil.rmtree(state, ignore_errors=True)
        pytest.skip("vcsim did not start: " + start.stderr.strip())
    try:
        out = subprocess.run(["bash", VCSIM_SH, "env"], capture_output=True, text=True, env=env,
                             check=True).stdout
        penv = {}
        for line in out.splitlines():
            k, _, v = line.removeprefix("export ").partition("=")
            penv[k] = v.strip("'")
        url = penv["VMMK_VCSIM_URL"]
        tp = subprocess.run([VMMK, "thumbprint", "--server", url], capture_output=True, text=True,
                            timeout=120)
        assert tp.returncode == 0, tp.stderr
        pwfile = os.path.join(state, "pw")
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, (penv["VMMK_VCSIM_PASSWORD"] + "\n").encode())
        os.close(fd)
        yield {
            "conn": ["--server", url, "--user", penv["VMMK_VCSIM_USER"], "--password-file", pwfile,
                     "--thumbprint", tp.stdout.strip()],
            "url": url, "state": state, "password": penv["VMMK_VCSIM_PASSWORD"],
            "govc": penv["VMMK_GOVC"],
            "govc_env": dict(os.environ, **{k: v for k, v in penv.items() if k.startswith("GOVC_")}),
        }
    finally:
        subprocess.run(["bash", VCSIM_SH, "stop"], capture_output=True, env=env)
        shutil.rmtree(state, ignore_errors=True)
