#!/usr/bin/python3
"""Stand-in for the nbdkit binary (set as VMMK_NBDKIT) for the one test
that needs a *running* vddk source: the vddk plugin and VMware's VDDK
cannot be installed on this machine.  It serves nothing.  It only does
what libvmmk's process handling relies on: writes its pid to the
--pidfile once "ready", stays up until SIGTERM, and exits when its
parent does (like --exit-with-parent).  The test then reads
/proc/PID/cmdline of this process, i.e. exactly what libvmmk exec'd.
"""
import os
import sys
import time


def main():
    argv = sys.argv[1:]
    if "--pidfile" not in argv:
        sys.stderr.write("fake_nbdkit: no --pidfile\n")
        return 1
    pidfile = argv[argv.index("--pidfile") + 1]
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(pidfile + ".tmp", pidfile)
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(0.1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
