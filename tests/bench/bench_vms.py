#!/usr/bin/env python3
"""Benchmark: `vmmk vms --json` against govc listing the same VMs.

Not a test: it measures, and prints a Markdown section for
docs/benchmarks.md.  It starts its own vcsim (tests/vsphere/vcsim.sh, with
`-vm N`: N VMs per resource pool, so 2N VMs in vcsim's default inventory of
a standalone host and a cluster) and compares, alternating the tools, the
median wall time and the peak RSS of:

  vmmk         vmmk vms --json        (CreateContainerView, RetrievePropertiesEx
                                       with ContinueRetrievePropertiesEx when
                                       the server pages, DestroyView)
  govc paths   govc find / -type m, then govc vm.info -json PATH... with every
               path found (what the issue names; govc looks each path up)
  govc glob    govc vm.info -json '/DC0/vm/*' (govc at its best: one folder
               listing, one RetrieveProperties; only VMs directly in /DC0/vm)

Round trips are counted once, outside the timed runs: vmmk's from its trace
log (one "http: POST" line per SOAP call), govc's from the request files
its -debug flag writes.  Both counts include the session's own calls
(RetrieveServiceContent, Login, Logout): each govc invocation logs in.

Usage: tests/bench/bench_vms.py --vmmk build/ci/tools/vmmk [--vms 1000] [--runs 5]
                                [--skip-govc-paths] [--quick]
"""
import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
VCSIM_SH = os.path.join(HERE, "..", "vsphere", "vcsim.sh")


def sh(env, *args):
    return subprocess.run(["bash", VCSIM_SH, *args], capture_output=True, text=True, env=env)


def timed(argv, env, out_path=None):
    """Wall seconds and peak RSS (MiB) of one command (GNU time measures
    the RSS of the child alone)."""
    t0 = time.monotonic()
    with open(out_path or os.devnull, "w") as out:
        p = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=out, stderr=subprocess.PIPE,
                           text=True, env=env)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"{argv[0]} failed: {p.stderr[-2000:]}")
    return wall, int(p.stderr.strip().splitlines()[-1]) / 1024.0


class Tools:
    def __init__(self, vmmk, penv, state):
        self.vmmk = vmmk
        self.govc = penv["VMMK_GOVC"]
        self.env = dict(os.environ, **{k: v for k, v in penv.items() if k.startswith("GOVC_")})
        self.env["GOVMOMI_HOME"] = os.path.join(state, "govmomi")
        url = penv["VMMK_VCSIM_URL"]
        tp = subprocess.run([vmmk, "thumbprint", "--server", url], capture_output=True, text=True,
                            check=True).stdout.strip()
        pw = os.path.join(state, "pw")
        fd = os.open(pw, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, penv["VMMK_VCSIM_PASSWORD"].encode())
        os.close(fd)
        self.conn = ["--server", url, "--user", penv["VMMK_VCSIM_USER"], "--password-file", pw,
                     "--thumbprint", tp]
        self.scratch = os.path.join(state, "out.json")

    def paths(self):
        r = subprocess.run([self.govc, "find", "/", "-type", "m"], capture_output=True, text=True,
                           env=self.env, check=True)
        return r.stdout.split()

    def run_vmmk(self):
        return timed([self.vmmk, "vms", "--json", *self.conn], self.env, self.scratch)

    def run_govc_paths(self):
        w1, r1 = timed([self.govc, "find", "/", "-type", "m"], self.env, self.scratch)
        paths = self.paths()
        w2, r2 = timed([self.govc, "vm.info", "-json", *paths], self.env, self.scratch)
        return w1 + w2, max(r1, r2)

    def run_govc_glob(self):
        return timed([self.govc, "vm.info", "-json", "/DC0/vm/*"], self.env, self.scratch)

    def count_vmmk(self):
        p = subprocess.run([self.vmmk, "--log-level", "trace", "vms", "--json", *self.conn],
                           capture_output=True, text=True, env=self.env, check=True)
        posts = sum(1 for line in p.stderr.splitlines() if "http: POST" in line)
        m = re.search(r"listed (\d+) VMs in (\d+) round trips", p.stderr)
        return posts, int(m.group(2)), json.loads(p.stdout)["count"]

    def count_govc(self, *argvs):
        home = self.env["GOVMOMI_HOME"]
        shutil.rmtree(home, ignore_errors=True)
        n = 0
        for argv in argvs:
            subprocess.run([self.govc, argv[0], "-debug", *argv[1:]], stdout=subprocess.DEVNULL,
                           env=self.env, check=True)
        n = len(glob.glob(os.path.join(home, "debug", "*", "*.req.xml")))
        shutil.rmtree(home, ignore_errors=True)
        return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vmmk", required=True)
    ap.add_argument("--vms", type=int, default=1000, help="vcsim -vm (VMs per resource pool)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--skip-govc-paths", action="store_true",
                    help="leave out govc vm.info with every path (about 100 s a run at -vm 1000)")
    ap.add_argument("--quick", action="store_true", help="one run each, -vm 100")
    a = ap.parse_args()
    if a.quick:
        a.runs, a.vms = 1, 100
    if sh(os.environ, "bindir").returncode != 0:
        sys.exit("vcsim is not built: run tests/vsphere/vcsim.sh build")
    state = tempfile.mkdtemp(prefix="vmmk-bench-vms-")
    env = dict(os.environ, VMMK_VCSIM_STATE=state)
    start = sh(env, "start", "--vms", str(a.vms))
    if start.returncode != 0:
        sys.exit("vcsim did not start: " + start.stderr)
    try:
        penv = {}
        for line in sh(env, "env").stdout.splitlines():
            k, _, v = line.removeprefix("export ").partition("=")
            penv[k] = v.strip("'")
        t = Tools(os.path.abspath(a.vmmk), penv, state)
        paths = t.paths()
        posts, listing_calls, count = t.count_vmmk()
        if count != len(paths):
            sys.exit(f"vmmk listed {count} VMs, govc found {len(paths)}")
        calls = {
            "vmmk": f"{posts} ({listing_calls} for the listing)",
            "govc glob": str(t.count_govc(["vm.info", "-json", "/DC0/vm/*"])),
        }
        tools = {"vmmk": t.run_vmmk, "govc glob": t.run_govc_glob}
        if not a.skip_govc_paths:
            tools["govc paths"] = t.run_govc_paths
            calls["govc paths"] = str(t.count_govc(["find", "/", "-type", "m"], ["vm.info", "-json", *paths]))
        times = {k: [] for k in tools}
        rss = {k: [] for k in tools}
        size = {}
        names = list(tools)
        for i in range(a.runs):
            for name in (names if i % 2 == 0 else names[::-1]):
                w, r = tools[name]()
                size[name] = os.path.getsize(t.scratch)
                times[name].append(w)
                rss[name].append(r)
                print(f"run {i + 1} {name}: {w:.3f} s, {r:.1f} MiB", file=sys.stderr)
    finally:
        sh(env, "stop")
        shutil.rmtree(state, ignore_errors=True)

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"## vsphere inventory: `vmmk vms` against govc\n")
    print("Rerun with:\n\n```sh\ntests/bench/bench_vms.py --vmmk build/ci/tools/vmmk "
          f"--vms {a.vms} --runs {a.runs}\n```\n")
    print(f"vcsim (govmomi 0.24) started with `-vm {a.vms}`: {count} VMs, each with one disk and "
          f"one NIC. {a.runs} alternating runs per tool, median wall time, largest peak RSS; "
          "round trips are SOAP requests including the session's own "
          "(RetrieveServiceContent, Login, Logout; each govc process logs in).\n")
    print("| tool | command | wall (median) | ratio to vmmk | peak RSS | round trips | output |")
    print("|---|---|---|---|---|---|---|")
    cmds = {"vmmk": "`vmmk vms --json`",
            "govc glob": "`govc vm.info -json '/DC0/vm/*'`",
            "govc paths": "`govc find / -type m` + `govc vm.info -json PATH...`"}
    for k in tools:
        print(f"| {k} | {cmds[k]} | {med[k]:.3f} s | {med[k] / med['vmmk']:.2f} | "
              f"{max(rss[k]):.1f} MiB | {calls[k]} | {size[k] / 1e6:.1f} MB |")
    print("\nThe tools do not print the same thing: govc's JSON holds every property of "
          "every VM, vmmk's the summary a migration plan needs; the point is the number "
          "of round trips, which for vmmk does not grow with the number of VMs.\n")


if __name__ == "__main__":
    main()
