#!/usr/bin/python3
"""An HTTPS server for the tests of libvmmk's HTTP client (common/http.c).

It stands in for no product: it is a plain HTTP/1.1 server (Python's
stdlib, keep-alive on) with endpoints that each exercise one behaviour of
the client.  The test makes the certificate and key with the openssl CLI
and passes them in.  Listens on 127.0.0.1, port 0 (the kernel picks one),
and prints "PORT <n>" on stdout once it accepts connections.  Stdlib only.

    http_test_server.py --cert CERT --key KEY [--lifetime 300]

Endpoints (any method unless said otherwise):
  /echo               200, JSON: method, path, headers, body (text), body_len,
                      body_sha256, peer_port (the client's TCP port, to see
                      keep-alive)
  /setcookie          sets vmware_soap_session="abc-123"; Path=/; HttpOnly
  /needcookie         200 with that cookie, 403 without
  /big?n=N[&chunked=1]  N bytes: byte i is i % 251; chunked without Content-Length
  /slow?s=S           answers after S seconds
  /status/NNN         that status, body "status NNN" (none for 204/304)
  /redirect           302 to https://localhost:<port>/echo: another host
  /redirect-same      302 to /echo on this server
  /redirect-303       303 to /echo (a POST becomes a GET)
  PUT /files/NAME     stores the body (Content-Length or chunked), 201
  GET /files/NAME     the stored body, 404 when none
"""
import argparse
import hashlib
import http.server
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse

COOKIE_NAME = "vmware_soap_session"
COOKIE_VALUE = '"abc-123"'


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cert", required=True, help="PEM certificate")
    p.add_argument("--key", required=True, help="PEM private key")
    p.add_argument("--lifetime", type=float, default=300.0,
                   help="exit after this many seconds even if nobody stops us")
    return p.parse_args()


PATTERN = bytes(range(251))


def pattern(n):
    reps = n // len(PATTERN) + 1
    return (PATTERN * reps)[:n]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive, as vCenter does
    server_version = "vmmk-http-test/1"
    files = {}
    files_lock = threading.Lock()

    def log_message(self, fmt, *a):
        # Method, path and status only: never headers (they carry cookies).
        sys.stderr.write("http_test_server: %s\n" % (fmt % a))

    # ---- helpers --------------------------------------------------------

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0") or "0")
        return self.rfile.read(n) if n else b""

    def _send(self, status, body=b"", ctype="text/plain", extra=()):
        self.send_response(status)
        for k, v in extra:
            self.send_header(k, v)
        if status not in (204, 304):
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status not in (204, 304):
            self.wfile.write(body)

    def _cookie_ok(self):
        pairs = [c.strip() for c in self.headers.get("Cookie", "").split(";")]
        return "%s=%s" % (COOKIE_NAME, COOKIE_VALUE) in pairs

    # ---- dispatch -------------------------------------------------------

    def _handle(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        path = url.path
        body = self._read_body()
        port = self.server.server_address[1]

        if path == "/echo":
            text = body.decode("utf-8", "replace") if len(body) <= 65536 else ""
            doc = {
                "method": self.command,
                "path": self.path,
                "headers": {k: v for k, v in self.headers.items()},
                "body": text,
                "body_len": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "peer_port": self.client_address[1],
            }
            self._send(200, json.dumps(doc).encode(), "application/json")
        elif path == "/setcookie":
            self._send(200, b"cookie set\n", extra=[
                ("Set-Cookie", '%s=%s; Path=/; HttpOnly' % (COOKIE_NAME, COOKIE_VALUE))])
        elif path == "/needcookie":
            if self._cookie_ok():
                self._send(200, b"welcome\n")
            else:
                self._send(403, b"forbidden: no valid session cookie\n")
        elif path == "/big":
            n = int(q.get("n", "0"))
            data = pattern(n)
            if q.get("chunked"):
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for i in range(0, n, 65536):
                    chunk = data[i:i + 65536]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.write(b"0\r\n\r\n")
            else:
                self._send(200, data, "application/octet-stream")
        elif path == "/slow":
            time.sleep(float(q.get("s", "5")))
            self._send(200, b"finally\n")
        elif path.startswith("/status/"):
            code = int(path[len("/status/"):])
            self._send(code, b"status %d\n" % code)
        elif path == "/redirect":
            self._send(302, b"elsewhere\n",
                       extra=[("Location", "https://localhost:%d/echo" % port)])
        elif path == "/redirect-same":
            self._send(302, b"moved\n", extra=[("Location", "/echo?redirected=1")])
        elif path == "/redirect-303":
            self._send(303, b"see other\n", extra=[("Location", "/echo?after=303")])
        elif path.startswith("/files/"):
            name = path[len("/files/"):]
            if self.command == "PUT":
                with self.files_lock:
                    self.files[name] = body
                self._send(201, b"stored %d bytes\n" % len(body))
            else:
                with self.files_lock:
                    data = self.files.get(name)
                if data is None:
                    self._send(404, b"no such file\n")
                else:
                    self._send(200, data, "application/octet-stream")
        else:
            self._send(404, b"not found\n")

    def _safe(self):
        try:
            self._handle()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            # The client gave up (a test of its limits): not our failure.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _safe


def watchdog(lifetime):
    """Exit when the test that started us is gone, or after lifetime."""
    parent = os.getppid()
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A handshake refused by the client (wrong pin) or an aborted
        # transfer ends up here: one line, not a traceback.
        sys.stderr.write("http_test_server: connection from %s:%d ended: %s\n"
                         % (client_address[0], client_address[1], sys.exc_info()[1]))


def main():
    args = parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server = Server(("127.0.0.1", 0), Handler)
    # The handshake runs in the handler thread (not in accept), so a client
    # that stalls or fails it does not block the others.
    server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                    do_handshake_on_connect=False)
    threading.Thread(target=watchdog, args=(args.lifetime,), daemon=True).start()
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
