#!/usr/bin/env python3
"""Benchmark: `vmmk cloud` against the openstack client on the OpenStack
sandbox (tests/openstack/ostack.sh, which must be running; source its env
file first).

Not a test: it measures, and prints a Markdown section for
docs/benchmarks.md.  Alternating the tools, it takes the median wall time
and the peak RSS (GNU time) of:

  image upload   vmmk cloud image create --file F   vs
                 openstack image create --file F     (a random file of --mib MiB;
                 both create, upload and wait for active; Glance's file store
                 on the same disk is the bottleneck both share)
  flavor list    vmmk cloud flavor list --json       vs
                 openstack flavor list --long -f json (one auth + one paginated list)

Every image made is deleted.  Usage:
  tests/bench/bench_cloud.py --vmmk build/ci/tools/vmmk [--mib 1024] [--runs 5]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timed(argv, env):
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, env=env)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"{argv[0]} failed: {p.stderr[-2000:]}")
    return wall, int(p.stderr.strip().splitlines()[-1]) / 1024.0, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmmk", required=True)
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cloud", default="vmmk-demo")
    a = ap.parse_args()
    clouds = os.environ.get("VMMK_OS_CLOUDS")
    if not clouds:
        sys.exit("source the sandbox env file first (tests/openstack/ostack.sh start)")
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=clouds, OS_CLOUD=a.cloud,
               OS_CLIENT_SECURE_FILE=os.environ.get("VMMK_OS_SECURE", ""))
    osc = ["/usr/bin/python3", "/usr/bin/openstack"]
    work = tempfile.mkdtemp(prefix="vmmk-bench-")
    img = os.path.join(work, "disk.raw")
    with open(img, "wb") as f:
        for _ in range(a.mib):
            f.write(os.urandom(1 << 20))
    res = {"vmmk upload": [], "osc upload": [], "vmmk flavors": [], "osc flavors": []}
    try:
        for i in range(a.runs):
            for tool in ("vmmk", "osc"):
                name = f"vmmk-bench-{tool}-{os.getpid()}-{i}"
                if tool == "vmmk":
                    argv = [a.vmmk, "cloud", "image", "create", "--name", name, "--file", img,
                            "--json"]
                else:
                    argv = osc + ["image", "create", "--disk-format", "raw",
                                  "--container-format", "bare", "--file", img, "-f", "json",
                                  name]
                wall, rss, out = timed(argv, env)
                res[f"{tool} upload"].append((wall, rss))
                iid = json.loads(out)["id"]
                # openstack image create returns once the upload ended; make
                # sure both are active before the next run.
                subprocess.run(osc + ["image", "delete", iid], env=env, check=True,
                               capture_output=True)
            for tool in ("vmmk", "osc"):
                argv = ([a.vmmk, "cloud", "flavor", "list", "--json"] if tool == "vmmk"
                        else osc + ["flavor", "list", "--long", "-f", "json"])
                wall, rss, _ = timed(argv, env)
                res[f"{tool} flavors"].append((wall, rss))
    finally:
        os.unlink(img)
        os.rmdir(work)

    def med(k, j):
        return statistics.median(x[j] for x in res[k])

    print(f"### os_cloud: `vmmk cloud` against the openstack client ({a.runs} alternating runs, medians)\n")
    print("| case | vmmk s | openstack s | ratio | vmmk RSS MiB | openstack RSS MiB |")
    print("|---|---|---|---|---|---|")
    for case, label in (("upload", f"image create + upload {a.mib} MiB"),
                        ("flavors", "flavor list (auth + list)")):
        v, o = med(f"vmmk {case}", 0), med(f"osc {case}", 0)
        print(f"| {label} | {v:.2f} | {o:.2f} | {v / o:.2f} | {med(f'vmmk {case}', 1):.0f} | "
              f"{med(f'osc {case}', 1):.0f} |")


if __name__ == "__main__":
    main()
