"""What the hostile test servers (hostile_openstack_server.py,
hostile_vsphere_server.py) share: reading an HTTP request's headers and
body, the listening sockets, one thread per connection, and the watchdog
that ends the server with the test that started it.  Stdlib only."""

import os
import socket
import threading
import time


def read_headers_body(rf):
    """The headers (lower-case names) and body after the request line, or
    None at EOF or when they are oversized (1 MiB of headers, 16 MiB body)."""
    headers = {}
    total = 0
    while True:
        h = rf.readline(65537)
        total += len(h)
        if not h or total > 1 << 20:
            return None
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    n = int(headers.get("content-length", "0") or "0")
    if n > 16 << 20:
        return None
    body = rf.read(n) if n else b""
    return headers, body


def listen(backlog):
    """A socket listening on 127.0.0.1, on a port the kernel picks."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    return sock


def serve_in_threads(sock, serve, *args):
    """Accept on sock for ever (in a thread): serve(raw, *args) per connection."""
    def accept_loop():
        while True:
            raw, _ = sock.accept()
            threading.Thread(target=serve, args=(raw,) + args, daemon=True).start()
    threading.Thread(target=accept_loop, daemon=True).start()


def watchdog(lifetime):
    """Exit when the test that started us is gone, or after lifetime."""
    parent = os.getppid()
    deadline = time.monotonic() + lifetime
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def start_watchdog(lifetime):
    threading.Thread(target=watchdog, args=(lifetime,), daemon=True).start()


def sleep_forever():
    while True:
        time.sleep(3600)
