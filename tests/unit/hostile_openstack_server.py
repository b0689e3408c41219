#!/usr/bin/python3
"""A hostile OpenStack control plane for the robustness tests of libvmmk's
OpenStack client (tests/unit/test_cloud_hostile.c).

A fake, written because a real Keystone/Nova/Neutron cannot be made to
misbehave on demand: it follows the public API reference (Keystone v3
POST /v3/auth/tokens with X-Subject-Token and a {"token": {...}} body
whose catalog points back here, the Nova v2.1 version document and
/flavors/detail with flavors_links, Neutron /v2.0/networks and /v2.0/ports
with NeutronError bodies, Nova {"<fault>": {"code", "message"}} errors)
just closely enough for the client to talk to it, and spoils one call per
mode: malformed, incomplete, oversized, never-ending or missing answers,
error statuses, retry and re-authentication games, pagination traps.

The mode travels in the URL path, so that one process on one port serves
every case: the clouds.yaml of a case has auth_url
http://127.0.0.1:PORT/<mode>/v3, and the catalog of a token issued there
points every service at http://127.0.0.1:PORT/<mode>/<service>/...

    GET    /stats/<mode>   {"requests": {"METHOD /path": n, ...},
                            "log": ["METHOD /path?query", ...],
                            "connections": n}   (the mode's requests so far)
    DELETE /stats/<mode>   forget them

Listens on 127.0.0.1 only, port chosen by the kernel, plain HTTP; prints
"PORT <port>" and then "READY" on stdout.  Stdlib only.  Never logs
headers or bodies: they carry the password and the tokens.

    hostile_openstack_server.py [--lifetime 300] [--list]
"""
import argparse
import datetime
import json
import sys
import threading
import time
import urllib.parse
import uuid

import hostile_common

IO_TIMEOUT = 60.0       # idle connection dropped after this
DRIP_MAX_S = 120.0      # the longest a never-ending answer goes on
PROJECT_ID = "0c4e939acacf4376bdcd1129f1a054ad"
USER_ID = "7a1f1b1d2e3c4b5a9f8e7d6c5b4a3f2e"
TOKEN_MARK = "HostileTok3n"   # in every token: the test looks for it in messages


# ---- state ------------------------------------------------------------------

class ModeState:
    def __init__(self):
        self.counts = {}
        self.log = []
        self.connections = 0
        self.tokens = 0


STATE = {}
STATE_LOCK = threading.Lock()


def state_of(mode):
    with STATE_LOCK:
        return STATE.setdefault(mode, ModeState())


def note(mode, method, path, query):
    """Count one request of a mode; returns how many of that kind came before."""
    key = "%s %s" % (method, path)
    with STATE_LOCK:
        st = STATE.setdefault(mode, ModeState())
        n = st.counts.get(key, 0)
        st.counts[key] = n + 1
        if len(st.log) < 2000:
            st.log.append(key + ("?" + query if query else ""))
        return n


def log(msg):
    sys.stderr.write("hostile_openstack_server: %s\n" % msg)
    sys.stderr.flush()


# ---- HTTP -------------------------------------------------------------------

class Request:
    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        u = urllib.parse.urlsplit(target)
        self.path = u.path
        self.query = u.query
        self.params = urllib.parse.parse_qs(u.query)


def read_request(rf):
    line = rf.readline(65537)
    if not line:
        return None
    parts = line.decode("latin-1").split()
    if len(parts) != 3:
        return None
    rest = hostile_common.read_headers_body(rf)
    if rest is None:
        return None
    headers, body = rest
    return Request(parts[0], parts[1], headers, body)


REASONS = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 400: "Bad Request",
           401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
           429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


class Conn:
    """One client connection; .close_after is set by modes that hang up."""

    def __init__(self, sock, port):
        self.sock = sock
        self.port = port
        self.close_after = False

    def head(self, status, headers=(), length=None, ctype="application/json"):
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Whatever")),
                 "Server: hostile-openstack/1"]
        # Every answer carries a request id, unless the mode gives its own.
        if not any(h.lower().startswith("x-openstack-request-id:") for h in headers):
            lines.append("x-openstack-request-id: req-%s" % uuid.uuid4())
        if ctype:
            lines.append("Content-Type: %s" % ctype)
        if length is not None:
            lines.append("Content-Length: %d" % length)
        if self.close_after:
            lines.append("Connection: close")
        lines.extend(headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def send(self, status, body=b"", headers=(), ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.sock.sendall(self.head(status, list(headers), len(body), ctype if body else None)
                          + body)
        return not self.close_after


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def hold(conn):
    """Say nothing until the client hangs up."""
    conn.sock.settimeout(DRIP_MAX_S)
    try:
        while conn.sock.recv(4096):
            pass
    except OSError:
        pass
    return False


def drip(conn, prefix=b'{"flavors": ['):
    """An answer that never ends: a byte every 0.2 s for as long as the client listens."""
    conn.sock.sendall(conn.head(200, ["Transfer-Encoding: chunked"]) + chunk(prefix))
    end = time.monotonic() + DRIP_MAX_S
    while time.monotonic() < end:
        conn.sock.sendall(chunk(b" "))
        time.sleep(0.2)
    return False


def stream_huge(conn, total, chunked, status=200, headers=()):
    prefix = b'{"token": {"user": {"id": "u"}, "methods": ["password"], "audit_ids": ["'
    block = b"A" * (1 << 20)
    if chunked:
        conn.sock.sendall(conn.head(status, ["Transfer-Encoding: chunked"] + list(headers))
                          + chunk(prefix))
    else:
        conn.sock.sendall(conn.head(status, list(headers), length=total) + prefix)
    sent = len(prefix)
    while sent < total:
        data = block[:min(len(block), total - sent)]
        conn.sock.sendall(chunk(data) if chunked else data)
        sent += len(data)
    if chunked:
        conn.sock.sendall(b"0\r\n\r\n")
    return True


# ---- the well-behaved services --------------------------------------------------

def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.000000Z")


def base(conn, mode):
    return "http://127.0.0.1:%d/%s" % (conn.port, mode)


def catalog(conn, mode, omit=(), compute_url=None):
    b = base(conn, mode)
    services = [("identity", "keystone", b + "/v3"),
                ("compute", "nova", compute_url or b + "/compute/v2.1"),
                ("volumev3", "cinderv3", b + "/volume/v3/" + PROJECT_ID),
                ("network", "neutron", b + "/network"),
                ("image", "glance", b + "/image")]
    out = []
    for i, (stype, name, url) in enumerate(services):
        if stype in omit:
            continue
        out.append({"id": "svc%d" % i, "type": stype, "name": name,
                    "endpoints": [{"id": "ep%d%s" % (i, ifc[0]), "interface": ifc,
                                   "region_id": "RegionOne", "region": "RegionOne", "url": url}
                                  for ifc in ("public", "internal", "admin")]})
    return out


def token_body(conn, mode, lifetime=3600.0, omit=(), user=True, age=0.0, compute_url=None):
    """age: how long ago the token was issued (its lifetime counts from then)."""
    now = time.time()
    tok = {"methods": ["password"], "audit_ids": [uuid.uuid4().hex[:22]],
           "expires_at": iso(now - age + lifetime), "issued_at": iso(now - age),
           "project": {"domain": {"id": "default", "name": "Default"},
                       "id": PROJECT_ID, "name": "hostile-project"},
           "is_domain": False,
           "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "reader"}],
           "catalog": catalog(conn, mode, omit, compute_url)}
    if user:
        tok["user"] = {"domain": {"id": "default", "name": "Default"}, "id": USER_ID,
                       "name": "hostile-user", "password_expires_at": None}
    return {"token": tok}


def new_token(mode):
    st = state_of(mode)
    with STATE_LOCK:
        st.tokens += 1
        n = st.tokens
    return "gAAAAA-%s-%d-%s-%s" % (TOKEN_MARK, n, mode, uuid.uuid4().hex)


def good_auth(conn, mode, lifetime=3600.0, omit=(), age=0.0):
    return conn.send(201, token_body(conn, mode, lifetime, omit, age=age),
                     ["X-Subject-Token: %s" % new_token(mode)])


def flavor(i):
    return {"id": "f%d" % i, "name": "m1.hostile%d" % i, "vcpus": 1 + i % 4, "ram": 512 * (i + 1),
            "disk": 1 + i, "OS-FLV-EXT-DATA:ephemeral": 0, "swap": 0,
            "os-flavor-access:is_public": True, "rxtx_factor": 1.0,
            "OS-FLV-DISABLED:disabled": False, "extra_specs": {}, "description": None,
            "links": []}


def flavors_page(conn, mode, ids, next_marker=None):
    body = {"flavors": [flavor(i) for i in ids]}
    if next_marker is not None:
        body["flavors_links"] = [{"rel": "next", "href": "%s/compute/v2.1/flavors/detail?marker=%s"
                                  % (base(conn, mode), next_marker)}]
    return conn.send(200, body)


def compute_version(conn, mode, version="2.90"):
    return conn.send(200, {"version": {
        "id": "v2.1", "status": "CURRENT", "version": version, "min_version": "2.1",
        "updated": "2013-07-23T11:33:21Z",
        "links": [{"rel": "self", "href": base(conn, mode) + "/compute/v2.1/"}],
        "media-types": [{"base": "application/json",
                         "type": "application/vnd.openstack.compute+json;version=2.1"}]}})


def good(conn, mode, req, path):
    m = req.method
    if m == "POST" and path == "/v3/auth/tokens":
        return good_auth(conn, mode)
    if m == "GET" and path in ("/compute/v2.1", "/compute/v2.1/"):
        return compute_version(conn, mode)
    if m == "GET" and path in ("/volume/v3", "/volume/v3/"):
        return conn.send(200, {"versions": [{"id": "v3.0", "status": "CURRENT", "version": "3.70",
                                             "min_version": "3.0", "links": []}]})
    if m == "GET" and path == "/compute/v2.1/flavors/detail":
        return flavors_page(conn, mode, [1, 2])
    if m == "POST" and path == "/compute/v2.1/servers":
        sid = str(uuid.uuid4())
        return conn.send(202, {"server": {"id": sid, "links": [], "adminPass": "x",
                                          "OS-DCF:diskConfig": "MANUAL",
                                          "security_groups": [{"name": "default"}]}},
                         ["Location: %s/compute/v2.1/servers/%s" % (base(conn, mode), sid)])
    if m == "GET" and path == "/network/v2.0/networks":
        return conn.send(200, {"networks": [
            {"id": "5f3b6a62-8d6e-4c3b-9a7c-1f2e3d4c5b6a", "name": "net1", "status": "ACTIVE",
             "shared": True, "router:external": False, "mtu": 1450, "admin_state_up": True,
             "subnets": ["9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"], "tags": [],
             "project_id": PROJECT_ID}]})
    if m == "POST" and path == "/network/v2.0/ports":
        return conn.send(201, {"port": {"id": str(uuid.uuid4()), "name": "p",
                                        "mac_address": "fa:16:3e:00:00:01", "status": "DOWN"}})
    if m == "GET" and path == "/image/v2/images":
        return conn.send(200, {"images": [], "first": "/v2/images", "schema": "/v2/schemas/images"})
    return conn.send(404, {"itemNotFound": {"code": 404,
                                            "message": "%s %s could not be found." % (m, path)}})


# ---- the modes ------------------------------------------------------------------
# Each takes (conn, mode, req, path, n) -- n: how many requests of this
# method and path the mode had before -- and answers, or returns None to
# let the well-behaved service answer.  True/False: keep the connection.

AUTH = ("POST", "/v3/auth/tokens")
FLAVORS = ("GET", "/compute/v2.1/flavors/detail")
SERVERS = ("POST", "/compute/v2.1/servers")
PORTS = ("POST", "/network/v2.0/ports")

HTML_500 = ('<!DOCTYPE HTML PUBLIC "-//IETF//DTD HTML 2.0//EN">\n<html><head>\n'
            '<title>500 Internal Server Error</title>\n'
            '<script>alert("x")</script><style>body {color: red}</style>\n</head><body>\n'
            '<h1>Internal Server Error</h1>\n<p>The server encountered an internal error or\n'
            'misconfiguration and was unable to complete\nyour request.</p>\r\n'
            '<p>\x1b[31mMore\tinformation\x07 about this error may be available\n'
            'in the server error log.</p>\n<hr>\n<address>Apache/2.4.57 (Debian) Server at '
            '127.0.0.1 Port 5000</address>\n</body></html>\n')

KEYSTONE_401 = {"error": {"code": 401, "title": "Unauthorized",
                          "message": "The request you have made requires authentication."}}
REQ_ID_401 = "req-5e0b1c3a-401a-4b0e-9d7e-hostile00401"


def deep_json(levels=10000):
    return "[" * levels + "1" + "]" * levels


def m_token_malformed(conn, mode, req, path, n):
    doc = json.dumps(token_body(conn, mode))
    return conn.send(201, doc[:len(doc) // 2], ["X-Subject-Token: %s" % new_token(mode)])


def m_token_no_subject(conn, mode, req, path, n):
    return conn.send(201, token_body(conn, mode))


def m_token_no_user(conn, mode, req, path, n):
    return conn.send(201, token_body(conn, mode, user=False),
                     ["X-Subject-Token: %s" % new_token(mode)])


def m_token_deep(conn, mode, req, path, n):
    return conn.send(201, '{"token": ' + deep_json() + '}',
                     ["X-Subject-Token: %s" % new_token(mode)])


def m_auth_html_500(conn, mode, req, path, n):
    return conn.send(500, HTML_500, ctype="text/html; charset=iso-8859-1")


def m_auth_401(conn, mode, req, path, n):
    return conn.send(401, KEYSTONE_401, ['WWW-Authenticate: Keystone uri="%s/v3"' % base(conn, mode),
                                         "x-openstack-request-id: %s" % REQ_ID_401])


def m_auth_echo(conn, mode, req, path, n):
    # A server that throws the request (with the password) back, as text
    # with line breaks and escapes, in Keystone's error format.
    text = req.body.decode("utf-8", "replace")
    return conn.send(400, {"error": {"code": 400, "title": "Bad Request",
                                     "message": "Invalid input:\r\n\x1b[31m%s\x1b[0m" % text}})


def m_auth_huge(conn, mode, req, path, n):
    return stream_huge(conn, 100 << 20, chunked=True, status=201,
                       headers=["X-Subject-Token: %s" % new_token(mode)])


def m_huge_length(conn, mode, req, path, n):
    return stream_huge(conn, 100 << 20, chunked=False)


def m_drip(conn, mode, req, path, n):
    return drip(conn)


def m_silent(conn, mode, req, path, n):
    return hold(conn)


def m_close(conn, mode, req, path, n):
    return False                    # hang up without a byte of answer


def m_retry_503(conn, mode, req, path, n):
    if n < 2:
        return conn.send(503, "<html><body>Service Unavailable: try later</body></html>",
                         ["Retry-After: 1"], ctype="text/html")
    return None


def m_retry_429_post(conn, mode, req, path, n):
    if n < 1:
        return conn.send(429, {"overLimit": {"code": 429, "message": "Rate limited: slow down",
                                             "retryAfter": "1"}}, ["Retry-After: 1"])
    return None


def fault_500(conn):
    return conn.send(500, {"computeFault": {
        "code": 500, "message": "Unexpected API Error. Please report this at "
        "http://bugs.launchpad.net/nova/ and attach the Nova API log if possible.\n"
        "<class 'nova.exception_Remote.HostileError_Remote'>"}})


def m_500(conn, mode, req, path, n):
    return fault_500(conn)


def m_reauth_once(conn, mode, req, path, n):
    if n < 1:
        return conn.send(401, KEYSTONE_401)
    return None


def m_reauth_always(conn, mode, req, path, n):
    return conn.send(401, KEYSTONE_401)


def m_page_loop(conn, mode, req, path, n):
    # Every page has one item and sends the client back to the same page.
    return flavors_page(conn, mode, [1], next_marker="f1")


def m_page_cycle(conn, mode, req, path, n):
    # Two pages that point at each other: A -> B -> A -> ...
    marker = req.params.get("marker", [""])[0]
    if marker == "f1":
        return flavors_page(conn, mode, [2], next_marker="f2")
    return flavors_page(conn, mode, [1], next_marker="f1")


def m_pages_3(conn, mode, req, path, n):
    marker = req.params.get("marker", [""])[0]
    pages = {"": ([1, 2], "f2"), "f2": ([3, 4], "f4"), "f4": ([5], None)}
    if marker not in pages:
        return conn.send(400, {"badRequest": {"code": 400,
                                              "message": "marker [%s] not found" % marker}})
    ids, nxt = pages[marker]
    return flavors_page(conn, mode, ids, next_marker=nxt)


def m_no_network(conn, mode, req, path, n):
    return good_auth(conn, mode, omit=("network",))


def m_expiring(conn, mode, req, path, n):
    # The first token was issued 59 minutes ago and has a minute left (as
    # one kept from an earlier call would); the next ones are fresh.
    if n < 1:
        return good_auth(conn, mode, lifetime=3600.0, age=3540.0)
    return None


def m_catalog_file(conn, mode, req, path, n):
    return conn.send(201, token_body(conn, mode, compute_url="file:///etc/passwd"),
                     ["X-Subject-Token: %s" % new_token(mode)])


def m_catalog_junk(conn, mode, req, path, n):
    # Every member of the wrong type somewhere; only the network endpoint is usable.
    body = token_body(conn, mode)
    tok = body["token"]
    tok["project"] = "not an object"
    tok["roles"] = {"name": "member"}
    tok["catalog"] = [
        "compute", 5, None, [], {"type": 7, "endpoints": []},
        {"type": "compute", "endpoints": {"interface": "public", "url": "http://x"}},
        {"type": "compute", "endpoints": [1, None, "http://x", {"interface": "public", "url": 5},
                                          {"interface": ["public"], "url": "http://x"},
                                          {"interface": "public", "region_id": 1, "url": "http://x"}]},
        {"type": "network", "name": None,
         "endpoints": [{"interface": "public", "region_id": "RegionOne",
                        "url": base(conn, mode) + "/network"}]}]
    return conn.send(201, body, ["X-Subject-Token: %s" % new_token(mode)])


def m_redirect_away(conn, mode, req, path, n):
    # Another host name for the same server: the token must not follow.
    return conn.send(302, "", ["Location: http://localhost:%d/%s/stolen" % (conn.port, mode)])


def m_short_lived(conn, mode, req, path, n):
    return good_auth(conn, mode, lifetime=60.0)


def m_mv_old(conn, mode, req, path, n):
    return compute_version(conn, mode, "2.50")


def m_deep_list(conn, mode, req, path, n):
    return conn.send(200, '{"flavors": ' + deep_json() + '}')


def m_deep_error(conn, mode, req, path, n):
    return conn.send(400, '{"badRequest": ' + deep_json() + '}')


def m_neutron_error(conn, mode, req, path, n):
    return conn.send(409, {"NeutronError": {
        "type": "MacAddressInUse",
        "message": "Unable to complete operation for network 5f3b6a62-8d6e-4c3b-9a7c-1f2e3d4c5b6a."
                   " The mac address fa:16:3e:00:00:01 is in use.",
        "detail": ""}})


def m_nova_quota(conn, mode, req, path, n):
    return conn.send(403, {"forbidden": {
        "code": 403,
        "message": "Quota exceeded for instances: Requested 1, but already used 3 of 3 instances"}})


def m_token_echo(conn, mode, req, path, n):
    tok = req.headers.get("x-auth-token", "")
    return conn.send(400, {"badRequest": {"code": 400,
                                          "message": "token %s is not welcome here" % tok}})


def m_fault_huge(conn, mode, req, path, n):
    word = "overflow\n"
    return conn.send(500, {"computeFault": {"code": 500, "message": word * (10 << 20 >> 4)}})


def m_html_tags(conn, mode, req, path, n):
    # 16 MiB of unterminated scripts and comments: a text extractor that
    # searches for each closing tag from every opening one takes hours.
    page = "<html><body><p>Gateway &amp; proxy error</p>" + "<script><!--" * ((16 << 20) // 12)
    return conn.send(502, page, ctype="text/html")


def m_conn_close(conn, mode, req, path, n):
    conn.close_after = True
    return None


MODES = {
    "ok": (None, None, "every call answered well (the control case)"),
    "token-malformed": (AUTH, m_token_malformed, "token body cut in the middle"),
    "token-no-subject": (AUTH, m_token_no_subject, "201 without X-Subject-Token"),
    "token-no-user": (AUTH, m_token_no_user, "token body without user"),
    "token-deep": (AUTH, m_token_deep, "token body nested 10000 levels deep"),
    "auth-html-500": (AUTH, m_auth_html_500, "an Apache HTML 500 page"),
    "auth-401": (AUTH, m_auth_401, "Keystone's 401 with a request id"),
    "auth-echo": (AUTH, m_auth_echo, "400 quoting the request (password) with escapes"),
    "auth-huge": (AUTH, m_auth_huge, "a token body of 100 MiB, chunked"),
    "huge-length": (FLAVORS, m_huge_length, "a flavor list of 100 MiB with Content-Length"),
    "drip": (FLAVORS, m_drip, "a flavor list that never ends (a byte every 0.2 s)"),
    "silent-post": (SERVERS, m_silent, "server create read, never answered"),
    "close": (FLAVORS, m_close, "connection closed without an answer"),
    "retry-503": (FLAVORS, m_retry_503, "503 with Retry-After: 1 twice, then the list"),
    "retry-429-post": (SERVERS, m_retry_429_post, "429 with Retry-After: 1 once, then 202"),
    "post-500": (SERVERS, m_500, "500 on server create, always"),
    "get-500": (FLAVORS, m_500, "500 on the flavor list, always"),
    "reauth-once": (FLAVORS, m_reauth_once, "401 on the flavor list once"),
    "reauth-always": (FLAVORS, m_reauth_always, "401 on the flavor list always"),
    "html-tags": (FLAVORS, m_html_tags, "502 with 16 MiB of unterminated script tags"),
    "conn-close": ("*", m_conn_close, "Connection: close and a hang-up after every answer"),
    "page-loop": (FLAVORS, m_page_loop, "a next link to the same page"),
    "page-cycle": (FLAVORS, m_page_cycle, "two pages whose next links point at each other"),
    "pages-3": (FLAVORS, m_pages_3, "5 flavors over 3 pages"),
    "no-network": (AUTH, m_no_network, "a catalog without the network service"),
    "expiring": (AUTH, m_expiring, "a first token that expires in 60 s, then fresh ones"),
    "catalog-file": (AUTH, m_catalog_file, "a catalog whose compute URL is file:///etc/passwd"),
    "catalog-junk": (AUTH, m_catalog_junk, "a catalog with members of every wrong type"),
    "redirect-away": (FLAVORS, m_redirect_away, "302 to another host name"),
    "short-lived": (AUTH, m_short_lived, "tokens that live 60 s from their issue"),
    "mv-old": (("GET", "/compute/v2.1/"), m_mv_old, "compute offers microversions up to 2.50"),
    "deep-list": (FLAVORS, m_deep_list, "a flavor list nested 10000 levels deep"),
    "deep-error": (FLAVORS, m_deep_error, "a 400 whose body is nested 10000 levels deep"),
    "neutron-error": (PORTS, m_neutron_error, "409 NeutronError MacAddressInUse"),
    "nova-quota": (SERVERS, m_nova_quota, "403 forbidden: Quota exceeded for instances"),
    "token-echo": (FLAVORS, m_token_echo, "400 quoting the X-Auth-Token"),
    "fault-huge": (FLAVORS, m_fault_huge, "500 with a 10 MiB message full of line breaks"),
}


def spoils(target, req, path):
    if target == "*":
        return True
    if target is None:
        return False
    if target[1].endswith("/"):
        return req.method == target[0] and path in (target[1], target[1][:-1])
    return (req.method, path) == target


# ---- the server -----------------------------------------------------------------

def stats(conn, req, mode):
    st = state_of(mode)
    if req.method == "DELETE":
        with STATE_LOCK:
            STATE[mode] = ModeState()
        return conn.send(204)
    with STATE_LOCK:
        doc = {"requests": dict(st.counts), "log": list(st.log), "connections": st.connections,
               "tokens": st.tokens}
    return conn.send(200, doc)


def handle(conn, req, seen):
    parts = req.path.split("/", 2)         # "", mode, rest
    if len(parts) < 2 or not parts[1]:
        return conn.send(404, {"error": {"code": 404, "message": "no mode in the path"}})
    if parts[1] == "stats" and len(parts) == 3:
        return stats(conn, req, parts[2])
    mode = parts[1]
    if mode not in MODES:
        return conn.send(404, {"error": {"code": 404, "message": "unknown mode"}})
    path = "/" + (parts[2] if len(parts) == 3 else "")
    if mode not in seen:
        seen.add(mode)
        st = state_of(mode)
        with STATE_LOCK:
            st.connections += 1
    n = note(mode, req.method, path, req.query)
    # Mode, method and path only: never headers or bodies (secrets).
    log("%s: %s %s" % (mode, req.method, path))
    target, fn, _ = MODES[mode]
    if fn and spoils(target, req, path):
        r = fn(conn, mode, req, path, n)
        if r is not None:
            return r
    return good(conn, mode, req, path)


def serve_connection(sock, port):
    sock.settimeout(IO_TIMEOUT)
    conn = Conn(sock, port)
    rf = sock.makefile("rb")
    seen = set()
    try:
        while True:
            req = read_request(rf)
            if req is None:
                return
            if not handle(conn, req, seen):
                return
    except (OSError, ValueError) as e:
        # The client gave up (which is what many modes are for): not our failure.
        log("connection ended: %s" % e.__class__.__name__)
    finally:
        try:
            rf.close()
            sock.close()
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--lifetime", type=float, default=300.0,
                   help="exit after this many seconds even if nobody stops us")
    p.add_argument("--list", action="store_true", help="list the modes and exit")
    args = p.parse_args()
    if args.list:
        for name, (target, _, text) in MODES.items():
            what = "every call" if target == "*" else "nothing" if not target else " ".join(target)
            print("%-16s %s (spoils %s)" % (name, text, what))
        return
    hostile_common.start_watchdog(args.lifetime)
    sock = hostile_common.listen(64)
    port = sock.getsockname()[1]
    hostile_common.serve_in_threads(sock, serve_connection, port)
    print("PORT %d" % port)
    print("READY", flush=True)
    hostile_common.sleep_forever()


if __name__ == "__main__":
    main()
