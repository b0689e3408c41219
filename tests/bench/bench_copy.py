#!/usr/bin/env python3
"""Benchmark: `vmmk copy` against `nbdcopy` on the same nbdkit source.

Not a test: it measures, and prints a Markdown section for
docs/benchmarks.md.  For each case it alternates the two tools (at least 5
runs each), takes the median wall time and the peak RSS of each, and
reports the ratio vmmk/nbdcopy (below 1.0 means vmmk is faster).

Cases (from the disk_copier issue):
  a  a 1 GiB fully allocated random file (nbdkit file plugin)
  b  a 4 GiB sparse disk, 10% allocated (nbdkit sparse-random)
  c  case a behind the delay filter at 1 ms per read
  x  an extent copy of 1% of a 4 GiB disk vs the full copy of it

Usage: tests/bench/bench_copy.py --vmmk build/ci/tools/vmmk [--runs 5] [--dir DIR] [--quick]
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MiB = 1 << 20
GiB = 1 << 30


class Server:
    def __init__(self, workdir, name, argv_tail):
        self.sock = os.path.join(workdir, name + ".sock")
        self.pidfile = os.path.join(workdir, name + ".pid")
        for p in (self.sock, self.pidfile):
            if os.path.exists(p):
                os.unlink(p)
        self.proc = subprocess.Popen(["nbdkit", "-U", self.sock, "-P", self.pidfile, "-f",
                                      "--exit-with-parent", *argv_tail],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not os.path.exists(self.pidfile):
            if self.proc.poll() is not None:
                sys.exit(f"nbdkit {argv_tail} did not start")
            time.sleep(0.02)
        self.uri = f"nbd+unix:///?socket={self.sock}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def run(argv):
    """Wall seconds and peak RSS (MiB) of one command.

    GNU time measures the RSS: a child forked from this Python process
    would count Python's own pages in its ru_maxrss."""
    os.sync()                  # start each run without the previous one's writeback
    t0 = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if p.returncode != 0:
        sys.exit(f"{argv[0]} failed: {p.stderr}")
    return wall, int(p.stderr.strip().splitlines()[-1]) / 1024.0


def drop(path):
    if os.path.exists(path):
        os.unlink(path)


def compare(vmmk, uri, dst, runs, extra_vmmk=(), extra_nbdcopy=()):
    times = {"vmmk": [], "nbdcopy": []}
    rss = {"vmmk": [], "nbdcopy": []}
    for i in range(runs):
        order = ("vmmk", "nbdcopy") if i % 2 == 0 else ("nbdcopy", "vmmk")
        for tool in order:
            drop(dst)
            argv = ([vmmk, "copy", uri, dst, *extra_vmmk] if tool == "vmmk"
                    else ["nbdcopy", uri, dst, *extra_nbdcopy])
            w, r = run(argv)
            times[tool].append(w)
            rss[tool].append(r)
    drop(dst)
    med = {t: statistics.median(v) for t, v in times.items()}
    return {
        "vmmk_s": med["vmmk"], "nbdcopy_s": med["nbdcopy"],
        "ratio": med["vmmk"] / med["nbdcopy"],
        "vmmk_rss_mib": max(rss["vmmk"]), "nbdcopy_rss_mib": max(rss["nbdcopy"]),
        "runs": runs,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmmk", required=True)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default=None, help="work directory (default: a temp dir under /var/tmp)")
    ap.add_argument("--quick", action="store_true", help="small sizes, 3 runs: a smoke run only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    for tool in ("nbdkit", "nbdcopy", "/usr/bin/time"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is missing (apt install nbdkit libnbd-bin)")
    runs = 3 if args.quick else max(5, args.runs)
    size_a = 64 * MiB if args.quick else GiB
    size_b = 256 * MiB if args.quick else 4 * GiB
    work = tempfile.mkdtemp(prefix="vmmk-bench-", dir=args.dir or "/var/tmp")
    results = {}
    try:
        src = os.path.join(work, "random.img")
        with open(src, "wb") as f:
            left = size_a
            while left:
                n = min(left, 16 * MiB)
                f.write(os.urandom(n))
                left -= n
        dst = os.path.join(work, "dst.img")

        s = Server(work, "a", ["file", f"file={src}"])
        results["a"] = compare(args.vmmk, s.uri, dst, runs)
        s.stop()

        s = Server(work, "b", ["sparse-random", f"size={size_b}", "percent=10", "seed=1"])
        results["b"] = compare(args.vmmk, s.uri, dst, runs)
        s.stop()

        s = Server(work, "c", ["--filter=delay", "file", f"file={src}", "rdelay=1ms"])
        results["c"] = compare(args.vmmk, s.uri, dst, runs)
        s.stop()

        # Extent copy of 1% of a fully allocated disk vs the full copy.
        s = Server(work, "x", ["pattern", f"size={size_b}"])
        n = 41
        step = size_b // n
        ext = [[i * step, size_b // 100 // n // 4096 * 4096] for i in range(n)]
        ext_file = os.path.join(work, "extents.json")
        with open(ext_file, "w") as f:
            json.dump(ext, f)
        full, part = [], []
        for _ in range(runs):
            drop(dst)
            full.append(run([args.vmmk, "copy", s.uri, dst])[0])
            part.append(run([args.vmmk, "copy", s.uri, dst, "--extents", ext_file])[0])
        drop(dst)
        s.stop()
        results["x"] = {"full_s": statistics.median(full), "extent_s": statistics.median(part),
                        "fraction": statistics.median(part) / statistics.median(full),
                        "extent_bytes": sum(l for _, l in ext), "runs": runs}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    if args.json:
        print(json.dumps(results, indent=2))
        return
    a, b, c, x = results["a"], results["b"], results["c"], results["x"]
    print(f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores, "
          f"nbdcopy {subprocess.run(['nbdcopy', '--version'], capture_output=True, text=True).stdout.split()[1]}, "
          f"{runs} alternating runs each, medians{' (QUICK: small sizes)' if args.quick else ''}.\n")
    print("| case | vmmk copy | nbdcopy | ratio vmmk/nbdcopy | peak RSS vmmk | peak RSS nbdcopy |")
    print("|---|---|---|---|---|---|")
    for name, r, label in (("a", a, f"(a) {size_a >> 20} MiB random, fully allocated"),
                           ("b", b, f"(b) {size_b >> 20} MiB sparse, 10% allocated"),
                           ("c", c, "(c) (a) behind delay rdelay=1ms")):
        print(f"| {label} | {r['vmmk_s']:.3f} s | {r['nbdcopy_s']:.3f} s | **{r['ratio']:.2f}** | "
              f"{r['vmmk_rss_mib']:.1f} MiB | {r['nbdcopy_rss_mib']:.1f} MiB |")
    print(f"\nExtent copy of 1% ({x['extent_bytes'] >> 20} MiB in 41 extents) of a {size_b >> 20} MiB disk: "
          f"{x['extent_s']:.3f} s vs full copy {x['full_s']:.3f} s = **{100 * x['fraction']:.1f}%** of the full copy's time.")


if __name__ == "__main__":
    main()
