#!/usr/bin/python3
"""A hostile vSphere SOAP endpoint for the robustness tests of libvmmk's
vSphere client (tests/unit/test_vsphere_hostile.c).

It answers POST /sdk like a (tiny) vCenter would -- RetrieveServiceContent,
Login with a session cookie, Logout -- except for the one call its mode
makes hostile: malformed, truncated, empty, oversized, never-ending or
booby-trapped replies, or no reply at all.  The client always posts to
/sdk, so the mode cannot travel in the path: instead the server listens on
one port per mode, and one process serves every case.

Listens on 127.0.0.1 only, each port chosen by the kernel (port 0), and
prints one line "PORT <mode> <port>" per mode, then "READY", on stdout.
The test makes the certificate and key with the openssl CLI.  Stdlib only.

    hostile_vsphere_server.py --cert CERT --key KEY [--mode MODE ...]
                              [--lifetime 300] [--list]

Without --mode, every mode is served.  The call a mode spoils is
RetrieveServiceContent, unless its name starts with "login-" (Login) or
"logout-" (Logout); the other calls get good answers.
"""
import argparse
import gzip
import random
import re
import socket
import ssl
import struct
import sys
import time

import hostile_common

# How long a connection may idle before the server drops it, and how long
# a never-ending reply goes on at most (the client must give up long before).
IO_TIMEOUT = 60.0
DRIP_MAX_S = 120.0

COOKIE = '"5268d8c5-hostile-session-cookie"'
SOAPENV = "http://schemas.xmlsoap.org/soap/envelope/"

ENV_START = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             '<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/"'
             ' xmlns:soapenv="' + SOAPENV + '"'
             ' xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
             ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n<soapenv:Body>')
ENV_END = '</soapenv:Body>\n</soapenv:Envelope>\n'


def about(full_name="VMware vCenter Server 8.0.2 build-22385739 (hostile test double)"):
    return ('<about><name>VMware vCenter Server</name><fullName>%s</fullName>'
            '<vendor>VMware, Inc.</vendor><version>8.0.2</version><build>22385739</build>'
            '<localeVersion>INTL</localeVersion><localeBuild>000</localeBuild>'
            '<osType>linux-x64</osType><productLineId>vpx</productLineId>'
            '<apiType>VirtualCenter</apiType><apiVersion>8.0.2.0</apiVersion>'
            '<instanceUuid>6f3d2b1e-7c4a-4e8b-9d1f-0a2b3c4d5e6f</instanceUuid>'
            '<licenseProductName>VMware VirtualCenter Server</licenseProductName>'
            '<licenseProductVersion>8.0</licenseProductVersion></about>' % full_name)


def service_content(omit=(), full_name=None, returnval_attrs=""):
    parts = [
        ("rootFolder", '<rootFolder type="Folder">group-d1</rootFolder>'),
        ("propertyCollector",
         '<propertyCollector type="PropertyCollector">propertyCollector</propertyCollector>'),
        ("viewManager", '<viewManager type="ViewManager">ViewManager</viewManager>'),
        ("about", about() if full_name is None else about(full_name)),
        ("setting", '<setting type="OptionManager">VpxSettings</setting>'),
        ("sessionManager", '<sessionManager type="SessionManager">SessionManager</sessionManager>'),
        ("searchIndex", '<searchIndex type="SearchIndex">SearchIndex</searchIndex>'),
        ("fileManager", '<fileManager type="FileManager">FileManager</fileManager>'),
        ("virtualDiskManager",
         '<virtualDiskManager type="VirtualDiskManager">virtualDiskManager</virtualDiskManager>'),
    ]
    inner = "".join(x for name, x in parts if name not in omit)
    return ('<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval%s>%s</returnval>'
            '</RetrieveServiceContentResponse>' % (returnval_attrs, inner))


GOOD = {
    "RetrieveServiceContent": ENV_START + service_content() + ENV_END,
    "Login": ENV_START + ('<LoginResponse xmlns="urn:vim25"><returnval>'
                          '<key>52a0c1d2-hostile</key><userName>VSPHERE.LOCAL\\hostile</userName>'
                          '<fullName>hostile</fullName><loginTime>2024-01-01T00:00:00Z</loginTime>'
                          '<lastActiveTime>2024-01-01T00:00:00Z</lastActiveTime>'
                          '<locale>en</locale><messageLocale>en</messageLocale>'
                          '<extensionSession>false</extensionSession></returnval>'
                          '</LoginResponse>') + ENV_END,
    "Logout": ENV_START + '<LogoutResponse xmlns="urn:vim25"></LogoutResponse>' + ENV_END,
}


def soap_fault(text, detail_type=None, code="ServerFaultCode"):
    detail = ""
    if detail_type:
        detail = ('<detail><%sFault xmlns="urn:vim25" xsi:type="%s"></%sFault></detail>'
                  % (detail_type, detail_type, detail_type))
    return (ENV_START + '<soapenv:Fault><faultcode>%s</faultcode><faultstring>%s</faultstring>'
            '%s</soapenv:Fault>' % (code, text, detail) + ENV_END)


# ---- the bodies of the hostile replies -------------------------------------

def billion_laughs():
    ents = ['<!ENTITY lol "lol">']
    for i in range(1, 10):
        prev = "&lol;" if i == 1 else "&lol%d;" % (i - 1)
        ents.append('<!ENTITY lol%d "%s">' % (i, prev * 10))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE soapenv:Envelope [\n  '
            + "\n  ".join(ents) + '\n]>\n'
            + ENV_START.split("\n", 1)[1] + service_content(full_name="&lol9;") + ENV_END)


def xxe():
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<!DOCTYPE soapenv:Envelope [\n'
            '  <!ENTITY xxe SYSTEM "file:///etc/passwd">\n'
            '  <!ENTITY % pe SYSTEM "file:///etc/passwd">\n'
            ']>\n'
            + ENV_START.split("\n", 1)[1] + service_content(full_name="&xxe;") + ENV_END)


def xinclude():
    # Well-formed, no DTD: only a parser that processes XInclude would read the file.
    inc = ('<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"'
           ' parse="text"/>')
    return ENV_START + service_content(full_name=inc) + ENV_END


def deep(levels=100000):
    return (ENV_START + '<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval>'
            + "<a>" * levels + "x" + "</a>" * levels
            + '</returnval></RetrieveServiceContentResponse>' + ENV_END)


def many_attributes(n=200000):
    attrs = "".join(' a%d=""' % i for i in range(n))
    return ENV_START + service_content(returnval_attrs=attrs) + ENV_END


def many_namespaces(levels=250, decls=200, leaves=1000):
    """Prefixes looked up through 50 000 declarations in scope, 200 times per leaf."""
    out = [ENV_START, '<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval>']
    for d in range(levels):
        out.append("<e%s>" % "".join(' xmlns:p%d_%d="urn:x%d"' % (d, k, k) for k in range(decls)))
    leaf = "<p0_0:x%s/>" % "".join(' p0_%d:a=""' % k for k in range(decls))
    out.append(leaf * leaves)
    out.append("</e>" * levels)
    out.append('</returnval></RetrieveServiceContentResponse>' + ENV_END)
    return "".join(out)


def fault_fields(type_len=1 << 20, fields=10000):
    """A fault without faultstring: a 1 MiB type name and 10 000 fields of 1 KiB."""
    t = "X" * type_len + "NotFound"
    body = "".join("<f%d>%s</f%d>" % (i, "v" * 1024, i) for i in range(fields))
    return (ENV_START + '<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring/>'
            '<detail><NotFoundFault xmlns="urn:vim25" xsi:type="%s">%s</NotFoundFault></detail>'
            '</soapenv:Fault>' % (t, body) + ENV_END)


def garbage(n=4096):
    rnd = random.Random(1234)
    head = (b"garbage from a hostile server\r\n\x1b[2J\x1b[31mERROR\x1b[0m fake log line\n"
            b"\x00\x07\xff\xfe\xc3\x28 invalid UTF-8 \xf0\x28\x8c\x28\n")
    return head + bytes(rnd.randrange(256) for _ in range(n))


def big_fault(nbytes, detail_type):
    word = "overflow "
    text = (word * (nbytes // len(word) + 1))[:nbytes]
    return soap_fault(text, detail_type)


HTML_503 = ('<!DOCTYPE html>\n<html><head><title>503 Service Unavailable</title></head>\n'
            '<body><h1>Service Unavailable</h1>\n<p>The vSphere Client is being upgraded.'
            ' Try again later.</p><hr><address>envoy</address></body></html>\n')


# ---- HTTP ------------------------------------------------------------------

class Request:
    def __init__(self, line, headers, body):
        self.line = line
        self.headers = headers
        self.body = body


def read_request(rf):
    """One request from the buffered reader, or None at EOF."""
    line = rf.readline(65537)
    if not line:
        return None
    rest = hostile_common.read_headers_body(rf)
    if rest is None:
        return None
    headers, body = rest
    return Request(line, headers, body)


def soap_method(body):
    m = re.search(rb"<soapenv:Body>\s*<([A-Za-z_][A-Za-z0-9_]*)", body)
    return m.group(1).decode() if m else "?"


def head(status, reason, headers=(), length=None, ctype="text/xml; charset=utf-8"):
    lines = ["HTTP/1.1 %d %s" % (status, reason), "Server: hostile-vsphere/1",
             "Content-Type: %s" % ctype]
    if length is not None:
        lines.append("Content-Length: %d" % length)
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def send(conn, status, body, ctype="text/xml; charset=utf-8", headers=(), reason=None):
    if isinstance(body, str):
        body = body.encode("utf-8")
    reasons = {200: "OK", 302: "Found", 500: "Internal Server Error", 503: "Service Unavailable"}
    conn.sendall(head(status, reason or reasons.get(status, "Whatever"), headers, len(body), ctype)
                 + body)


def hold(conn):
    """Say nothing until the client hangs up."""
    conn.settimeout(DRIP_MAX_S)
    try:
        while conn.recv(4096):
            pass
    except OSError:
        pass


def clean_close(conn):
    """TLS close_notify, then FIN: an orderly end, not an abort."""
    try:
        conn.unwrap()
    except (OSError, ValueError):
        pass


def chunk(data):
    return b"%x\r\n%s\r\n" % (len(data), data)


def stream_huge(conn, total, chunked):
    prefix = (ENV_START + '<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval>'
              '<about><fullName>').encode()
    block = b"A" * (1 << 20)
    if chunked:
        conn.sendall(head(200, "OK", ["Transfer-Encoding: chunked"]) + chunk(prefix))
    else:
        conn.sendall(head(200, "OK", length=total) + prefix)
    sent = len(prefix)
    while sent < total:
        data = block[:min(len(block), total - sent)]
        conn.sendall(chunk(data) if chunked else data)
        sent += len(data)
    if chunked:
        conn.sendall(b"0\r\n\r\n")


def drip(conn):
    """A reply that never ends: a byte now and then, for as long as the client listens."""
    conn.sendall(head(200, "OK", ["Transfer-Encoding: chunked"])
                 + chunk((ENV_START + '<RetrieveServiceContentResponse xmlns="urn:vim25">').encode()))
    end = time.monotonic() + DRIP_MAX_S
    while time.monotonic() < end:
        conn.sendall(chunk(b" "))
        time.sleep(0.2)


def header_flood(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n")
    line = b"X-Hostile: " + b"A" * 8000 + b"\r\n"
    end = time.monotonic() + DRIP_MAX_S
    while time.monotonic() < end:
        conn.sendall(line * 16)


# ---- the modes ---------------------------------------------------------------
# Each takes (conn, request) and returns True to keep the connection open.

def m_ok(conn, req):
    return good(conn, soap_method(req.body))


def m_malformed(conn, req):
    send(conn, 200, ENV_START + '<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval>'
         '<rootFolder type="Folder">group-d1</propertyCollector></returnval>'
         '</RetrieveServiceContentResponse>' + ENV_END)
    return True


def m_truncated(conn, req):
    doc = GOOD["RetrieveServiceContent"]
    send(conn, 200, doc[:doc.index("<apiType>") + 5])   # "...<apiT", Content-Length exact
    return True


def m_truncated_body(conn, req):
    doc = GOOD["RetrieveServiceContent"].encode()
    conn.sendall(head(200, "OK", length=len(doc)) + doc[:len(doc) // 2])
    clean_close(conn)
    return False


def m_empty_body(conn, req):
    send(conn, 200, ENV_START + "\n  <!-- nothing here -->\n" + ENV_END)
    return True


def m_no_returnval(conn, req):
    send(conn, 200, ENV_START + '<RetrieveServiceContentResponse xmlns="urn:vim25"/>' + ENV_END)
    return True


def m_soap12(conn, req):
    doc = GOOD["RetrieveServiceContent"].replace(SOAPENV, "http://www.w3.org/2003/05/soap-envelope")
    send(conn, 200, doc, ctype="application/soap+xml")
    return True


def m_html_503(conn, req):
    send(conn, 503, HTML_503, ctype="text/html; charset=utf-8")
    return True


def m_text_garbage(conn, req):
    send(conn, 200, garbage(), ctype="text/plain")
    return True


def m_huge(conn, req):
    stream_huge(conn, 100 << 20, chunked=True)
    return True


def m_huge_length(conn, req):
    stream_huge(conn, 100 << 20, chunked=False)
    return True


def m_gzip_bomb(conn, req):
    # Never asked for (no Accept-Encoding): must not be inflated.
    bomb = gzip.compress(b"\0" * (100 << 20), compresslevel=9)
    send(conn, 200, bomb, headers=["Content-Encoding: gzip"])
    return True


def m_billion_laughs(conn, req):
    send(conn, 200, billion_laughs())
    return True


def m_xxe(conn, req):
    send(conn, 200, xxe())
    return True


def m_xinclude(conn, req):
    send(conn, 200, xinclude())
    return True


def m_deep(conn, req):
    send(conn, 200, deep())
    return True


def m_many_attributes(conn, req):
    send(conn, 200, many_attributes())
    return True


def m_many_namespaces(conn, req):
    send(conn, 200, many_namespaces())
    return True


def m_bad_encoding(conn, req):
    doc = GOOD["RetrieveServiceContent"].replace('encoding="UTF-8"', 'encoding="x-vmmk-hostile"', 1)
    send(conn, 200, doc)
    return True


def m_drip(conn, req):
    drip(conn)
    return False


def m_silent(conn, req):
    hold(conn)
    return False


def m_close(conn, req):
    clean_close(conn)                 # without a byte of reply
    return False


def m_reset(conn, req):
    # Linger on, timeout 0: close() sends a RST, not a FIN (nor a TLS close_notify first).
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    return False


def m_header_flood(conn, req):
    header_flood(conn)
    return False


def m_redirect(conn, req):
    send(conn, 302, "moved\n", ctype="text/plain",
         headers=["Location: https://evil.invalid/sdk"])
    return True


def m_fault_escapes(conn, req):
    text = ("line one\r\n2024-01-01T00:00:00Z error [vmmk] forged log line\n\tand a tab")
    send(conn, 500, soap_fault(text, "InvalidLogin"))
    return True


def m_fault_10mb(conn, req):
    send(conn, 500, big_fault(10 << 20, "InvalidRequest"))
    return True


def m_fault_fields(conn, req):
    send(conn, 500, fault_fields())
    return True


def m_missing_pc(conn, req):
    send(conn, 200, ENV_START + service_content(omit=("propertyCollector",)) + ENV_END)
    return True


def m_login_garbage(conn, req):
    send(conn, 200, garbage(), ctype="text/plain",
         headers=["Set-Cookie: vmware_soap_session=%s; Path=/; HttpOnly; Secure" % COOKIE])
    return True


def m_login_echo(conn, req):
    # The request carried the password: a server that throws it back, first
    # thing, so that it lands in the start of the body the client quotes.
    m = re.search(rb"<password>(.*?)</password>", req.body, re.S)
    pw = m.group(1) if m else b"?"
    send(conn, 200, b"password " + pw + b" refused; you said: " + req.body, ctype="text/plain")
    return True


def m_login_drip(conn, req):
    drip(conn)
    return False


def m_login_nocookie(conn, req):
    send(conn, 200, GOOD["Login"])
    return True


def m_logout_silent(conn, req):
    hold(conn)
    return False


MODES = {
    "ok": (m_ok, "every call answered well (the control case)"),
    "malformed": (m_malformed, "mismatched end tag"),
    "truncated": (m_truncated, "XML cut mid-element, HTTP complete"),
    "truncated-body": (m_truncated_body, "Content-Length announced, half sent, connection closed"),
    "empty-body": (m_empty_body, "valid envelope, empty soapenv:Body"),
    "no-returnval": (m_no_returnval, "RetrieveServiceContentResponse without returnval"),
    "soap12": (m_soap12, "a SOAP 1.2 envelope"),
    "html-503": (m_html_503, "an HTML 503 page"),
    "text-garbage": (m_text_garbage, "HTTP 200, text/plain, binary garbage and escapes"),
    "huge": (m_huge, "100 MiB, chunked (no length announced)"),
    "huge-length": (m_huge_length, "100 MiB with Content-Length"),
    "gzip-bomb": (m_gzip_bomb, "100 MiB of zeros gzipped, Content-Encoding: gzip unasked"),
    "billion-laughs": (m_billion_laughs, "entity expansion bomb in a DOCTYPE"),
    "xxe": (m_xxe, "external entities pointing at /etc/passwd"),
    "xinclude": (m_xinclude, "XInclude of /etc/passwd in about.fullName (no DTD)"),
    "deep": (m_deep, "100000 nested elements"),
    "many-attributes": (m_many_attributes, "200000 attributes on one element"),
    "many-namespaces": (m_many_namespaces, "50000 namespace declarations in scope, used"),
    "bad-encoding": (m_bad_encoding, "an unknown encoding declared"),
    "drip": (m_drip, "a reply that never ends (a byte every 0.2 s)"),
    "silent": (m_silent, "request read, never answered"),
    "no-handshake": (None, "TCP accepted, TLS never answered"),
    "close": (m_close, "connection closed without a reply"),
    "reset": (m_reset, "connection reset (RST) without a reply"),
    "header-flood": (m_header_flood, "response headers that never end"),
    "redirect": (m_redirect, "302 to another host"),
    "fault-escapes": (m_fault_escapes, "fault whose faultstring has line breaks"),
    "fault-10mb": (m_fault_10mb, "fault with a 10 MiB faultstring"),
    "fault-fields": (m_fault_fields, "fault with a 1 MiB type name and 10000 fields, no faultstring"),
    "missing-pc": (m_missing_pc, "ServiceContent without propertyCollector"),
    "login-garbage": (m_login_garbage, "good ServiceContent, garbage Login reply"),
    "login-echo": (m_login_echo, "Login reply that echoes the request (password included)"),
    "login-drip": (m_login_drip, "Login reply that never ends"),
    "login-nocookie": (m_login_nocookie, "Login succeeds without a session cookie"),
    "logout-silent": (m_logout_silent, "all good, but Logout is never answered"),
}


def target_call(mode):
    if mode.startswith("login-"):
        return "Login"
    if mode.startswith("logout-"):
        return "Logout"
    return "RetrieveServiceContent"


def good(conn, method):
    if method in GOOD:
        extra = []
        if method == "Login":
            extra = ["Set-Cookie: vmware_soap_session=%s; Path=/; HttpOnly; Secure" % COOKIE]
        send(conn, 200, GOOD[method], headers=extra)
    else:
        send(conn, 500, soap_fault("Unknown method %s" % method, "MethodNotFound"))
    return True


def log(msg):
    sys.stderr.write("hostile_vsphere_server: %s\n" % msg)
    sys.stderr.flush()


def serve_connection(raw, ctx, mode):
    raw.settimeout(IO_TIMEOUT)
    conn = raw
    rf = None
    try:
        if mode == "no-handshake":
            hold(raw)
            return
        conn = ctx.wrap_socket(raw, server_side=True)
        rf = conn.makefile("rb")
        while True:
            req = read_request(rf)
            if req is None:
                return
            method = soap_method(req.body)
            # Method and mode only: never headers or bodies (they carry secrets).
            log("%s: %s" % (mode, method))
            fn = MODES[mode][0] if method == target_call(mode) else m_ok
            if not fn(conn, req):
                return
    except (OSError, ssl.SSLError, ValueError) as e:
        # The client gave up (which is what most modes are for): not our failure.
        log("%s: connection ended: %s" % (mode, e.__class__.__name__))
    finally:
        try:
            if rf:
                rf.close()
            conn.close()
        except OSError:
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cert", help="PEM certificate")
    p.add_argument("--key", help="PEM private key")
    p.add_argument("--mode", action="append", choices=sorted(MODES),
                   help="a behaviour to serve (repeatable; default: all)")
    p.add_argument("--lifetime", type=float, default=300.0,
                   help="exit after this many seconds even if nobody stops us")
    p.add_argument("--list", action="store_true", help="list the modes and exit")
    args = p.parse_args()
    if args.list:
        for name in MODES:
            print("%-16s %s (spoils %s)" % (name, MODES[name][1], target_call(name)))
        return
    if not args.cert or not args.key:
        p.error("--cert and --key are required")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    hostile_common.start_watchdog(args.lifetime)
    for mode in args.mode or list(MODES):
        sock = hostile_common.listen(16)
        hostile_common.serve_in_threads(sock, serve_connection, ctx, mode)
        print("PORT %s %d" % (mode, sock.getsockname()[1]))
    print("READY", flush=True)
    hostile_common.sleep_forever()


if __name__ == "__main__":
    main()
