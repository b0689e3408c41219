#!/usr/bin/python3
"""A small HTTPS server that serves one file the way vSphere's datastore
file access (https://host/folder/...-flat.vmdk) does for the disk copier's
http source: HEAD and ranged GET, and only with the session cookie.

This is a stand-in, not vSphere: no vCenter can run on this machine.  It
follows what nbdkit's curl plugin needs from a server (Content-Length on
HEAD, "Accept-Ranges: bytes", 206 with Content-Range for Range requests)
and vSphere's session model (a vmware_soap_session cookie; without the
exact cookie every request gets 403).

It generates nothing: the test makes the certificate and key with the
openssl CLI and passes them in, and passes the cookie in a file so that it
does not show in ps.  Listens on 127.0.0.1, port 0 (the kernel picks one),
and prints "PORT <n>" on stdout once it accepts connections.

    https_server.py --file DISK --cert CERT --key KEY --cookie-file FILE
                    [--path /folder/disk-flat.vmdk] [--lifetime 300]
"""
import argparse
import http.server
import os
import re
import ssl
import sys
import threading
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--file", required=True, help="the file to serve")
    p.add_argument("--cert", required=True, help="PEM certificate")
    p.add_argument("--key", required=True, help="PEM private key")
    p.add_argument("--cookie-file", required=True,
                   help='file holding the one accepted cookie, e.g. vmware_soap_session="..."')
    p.add_argument("--path", default="/folder/disk-flat.vmdk", help="URL path of the file")
    p.add_argument("--lifetime", type=float, default=300.0,
                   help="exit after this many seconds even if nobody stops us")
    return p.parse_args()


RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")


def make_handler(args, cookie):
    size = os.path.getsize(args.file)

    class Handler(http.server.BaseHTTPRequestHandler):
        # HTTP/1.1 so that curl keeps the connection between range reads.
        protocol_version = "HTTP/1.1"
        server_version = "vmmk-test-https/1"

        def log_message(self, fmt, *a):
            # One line per request on stderr (the test's log file), without
            # the cookie: only method, path and status are printed.
            sys.stderr.write("https_server: %s\n" % (fmt % a))

        def _cookie_ok(self):
            # Exact match of one "name=value" pair among "; "-separated ones.
            pairs = [c.strip() for c in self.headers.get("Cookie", "").split(";")]
            return cookie in pairs

        def _plain(self, status, text):
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _check(self):
            if self.path.split("?", 1)[0] != args.path:
                self._plain(404, "not found")
                return False
            if not self._cookie_ok():
                self._plain(403, "forbidden: no valid session cookie")
                return False
            return True

        def do_HEAD(self):
            if not self._check():
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()

        def do_GET(self):
            if not self._check():
                return
            start, end = 0, size - 1
            status = 200
            rng = self.headers.get("Range")
            if rng:
                m = RANGE_RE.match(rng.strip())
                if not m or (m.group(1) == "" and m.group(2) == ""):
                    self._plain(416, "bad range")
                    return
                if m.group(1) == "":            # suffix: the last N bytes
                    start = max(0, size - int(m.group(2)))
                else:
                    start = int(m.group(1))
                    if m.group(2) != "":
                        end = min(int(m.group(2)), size - 1)
                if start > end or start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", "bytes */%d" % size)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            length = end - start + 1
            self.send_response(status)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(length))
            if status == 206:
                self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
            self.end_headers()
            with open(args.file, "rb") as f:
                f.seek(start)
                left = length
                while left > 0:
                    chunk = f.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)

    return Handler


def watchdog(lifetime):
    """Exit when the test that started us is gone, or after lifetime."""
    parent = os.getppid()
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def main():
    args = parse_args()
    with open(args.cookie_file) as f:
        cookie = f.read().strip()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), make_handler(args, cookie))
    server.daemon_threads = True
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=watchdog, args=(args.lifetime,), daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
