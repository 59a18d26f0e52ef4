#!/usr/bin/env python3
"""test_smuggling.py: request smuggling and strictness, raw bytes against the real rproxyd.

One rproxyd (one worker) in front of one recording backend written here: a
threaded server that frames every request itself, keeps its exact bytes and
answers "200 ok". Each case opens a fresh client connection, writes raw bytes,
and checks both sides: the status of every response the client got and
whether the connection was closed, and what the backend received (how many
requests, their request line, framing, body, and that no hop-by-hop field and
exactly one Host came through). Nothing may let a second request reach the
backend hidden inside the first.

With one worker serving one connection at a time, a barrier request on a new
connection after each case proves the proxy has finished with the case's
connection: whatever the backend received before the barrier is all the case
caused.
"""
import os
import re
import socket
import socketserver
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Proxy  # noqa: E402

# Limits the proxy runs with, so the limit cases stay small.
MAX_URI = 1024
MAX_HEADER = 4096
MAX_HEADERS = 20
MAX_BODY = 1024

HOP = ("connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade")

BACKEND_REPLY = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
ALIVE = b"GET /__alive__ HTTP/1.1\r\nHost: alive\r\n\r\n"
HEAD_MAX = 65536        # what the backend reads before giving up on a head
IO_TIMEOUT = 3.0        # any single client or backend wait


class Recorded:
    """One request as the backend read it off the wire."""

    def __init__(self, raw_head, method, target, version, headers, framing, body, raw):
        self.raw_head = raw_head
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers          # [(lower name, value)] in order
        self.framing = framing          # "none", "length" or "chunked"
        self.body = body                # de-chunked
        self.raw = raw                  # head and body exactly as received

    def get(self, name):
        return [v for k, v in self.headers if k == name]

    def __repr__(self):
        return "<%s %s %s %s body=%r>" % (self.method, self.target, self.version,
                                          self.framing, self.body)


class Recorder:
    """The recording backend's shared state."""

    def __init__(self):
        self.lock = threading.Lock()
        self.requests = []
        self.connections = 0
        self.total = 0                  # requests over the whole run
        self.errors = []                # framing the backend could not read

    def add(self, rec):
        with self.lock:
            self.requests.append(rec)
            self.total += 1

    def snapshot(self):
        with self.lock:
            return list(self.requests), self.connections, list(self.errors)

    def clear(self):
        with self.lock:
            self.requests = []
            self.errors = []


class Wire:
    """Buffered reads from a socket, each bounded by IO_TIMEOUT."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.raw = b""

    def more(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError
        self.buf += d

    def take(self, n):
        while len(self.buf) < n:
            self.more()
        out, self.buf = self.buf[:n], self.buf[n:]
        self.raw += out
        return out

    def line(self, limit=HEAD_MAX):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("line too long")
            self.more()
        i = self.buf.index(b"\r\n")
        return self.take(i + 2)[:-2]


class BackendHandler(socketserver.BaseRequestHandler):
    """Frame each request strictly (RFC 9112), record it, answer 200 ok, keep alive."""

    def handle(self):
        rec = self.server.recorder
        with rec.lock:
            rec.connections += 1
        self.request.settimeout(30)
        w = Wire(self.request)
        while True:
            w.raw = b""
            try:
                r = self.read_one(w)
            except EOFError:
                if w.raw or w.buf:
                    with rec.lock:
                        rec.errors.append("EOF inside a request: %r" % (w.raw + w.buf))
                return
            except (ValueError, OSError) as e:
                with rec.lock:
                    rec.errors.append("%s: %r" % (e, w.raw + w.buf))
                return
            rec.add(r)
            try:
                self.request.sendall(BACKEND_REPLY)
            except OSError:
                return

    @staticmethod
    def read_one(w):
        while True:
            while b"\r\n\r\n" not in w.buf:
                if len(w.buf) > HEAD_MAX:
                    raise ValueError("head too long")
                w.more()
            end = w.buf.index(b"\r\n\r\n") + 4
            head = w.take(end)
            lines = head[:-4].split(b"\r\n")
            m = re.fullmatch(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) (HTTP/\d\.\d)", lines[0])
            if not m:
                raise ValueError("bad request line %r" % lines[0])
            headers = []
            for ln in lines[1:]:
                hm = re.fullmatch(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*", ln,
                                  re.S)
                if not hm or re.search(rb"[\x00-\x08\x0a-\x1f\x7f]", hm.group(2)):
                    raise ValueError("bad field line %r" % ln)
                headers.append((hm.group(1).decode().lower(), hm.group(2).decode("latin-1")))
            te = [v for k, v in headers if k == "transfer-encoding"]
            cl = [v for k, v in headers if k == "content-length"]
            if te and cl:
                raise ValueError("both Content-Length and Transfer-Encoding")
            body = b""
            if te:
                if te != ["chunked"]:
                    raise ValueError("Transfer-Encoding %r" % te)
                framing = "chunked"
                while True:
                    size_line = w.line()
                    if not re.fullmatch(rb"[0-9a-fA-F]{1,15}", size_line):
                        raise ValueError("chunk size line %r" % size_line)
                    size = int(size_line, 16)
                    if size == 0:
                        break
                    body += w.take(size)
                    if w.take(2) != b"\r\n":
                        raise ValueError("chunk data not followed by CRLF")
                while w.line() != b"":
                    raise ValueError("backend got a request trailer")
            elif cl:
                if len(cl) != 1 or not re.fullmatch(r"[0-9]{1,15}", cl[0]):
                    raise ValueError("Content-Length %r" % cl)
                framing = "length"
                body = w.take(int(cl[0]))
            else:
                framing = "none"
            return Recorded(head, m.group(1).decode(), m.group(2).decode("latin-1"),
                            m.group(3).decode(), headers, framing, body, w.raw)


class RecordingBackend(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port=0):
        super().__init__(("127.0.0.1", port), BackendHandler)
        self.recorder = Recorder()
        self.name = "rec"
        port = self.port = self.server_address[1]
        self.url = "http://127.0.0.1:%d" % port


# --------------------------------------------------------------------------
# The client side: read responses off a raw socket.

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body


def read_response(w):
    """The next response (head and body) from a Wire, or None at EOF before one."""
    try:
        status_line = w.line()
    except EOFError:
        if w.buf:
            raise AssertionError("partial response at EOF: %r" % w.buf)
        return None
    m = re.fullmatch(rb"HTTP/1\.1 (\d{3}) .*", status_line)
    assert m, "bad status line %r" % status_line
    status = int(m.group(1))
    headers = []
    while True:
        ln = w.line()
        if ln == b"":
            break
        k, _, v = ln.partition(b":")
        headers.append((k.decode().lower(), v.strip().decode("latin-1")))
    h = dict(headers)
    body = b""
    if 100 <= status < 200 or status in (204, 304):
        pass
    elif h.get("transfer-encoding") == "chunked":
        while True:
            size = int(w.line().split(b";")[0], 16)
            if size == 0:
                while w.line() != b"":
                    pass
                break
            body += w.take(size)
            assert w.take(2) == b"\r\n"
    elif "content-length" in h:
        body = w.take(int(h["content-length"]))
    else:
        raise AssertionError("response of status %d without framing" % status)
    return Response(status, headers, body)


def drain_until_eof(sock, w, deadline):
    """Wait for the proxy to close (True) or the deadline (False); bytes stay in w.buf."""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            d = sock.recv(65536)
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True
        if not d:
            return True
        w.buf += d
    return False


# --------------------------------------------------------------------------
# The cases.

class Fwd:
    """What one forwarded request must look like at the backend."""

    def __init__(self, method="GET", target="/", framing="none", body=b"", host=None,
                 absent=(), present=()):
        self.method = method
        self.target = target
        self.framing = framing
        self.body = body
        self.host = host                # exact Host value, when given
        self.absent = absent            # field names that must not arrive
        self.present = present          # (name, value) that must arrive, exactly once


class Case:
    """Raw bytes in; the statuses out, whether the connection closed, and the backend's view.

    send is bytes, or a list of (bytes, responses to read before the next part);
    the parts go out in separate writes. shut: half-close after the last part.
    """

    def __init__(self, name, send, statuses, closed, fwd=(), note="", shut=False):
        self.name = name
        self.shut = shut
        self.send = send if isinstance(send, list) else [(send, 0)]
        self.statuses = statuses
        self.closed = closed
        self.fwd = list(fwd)
        self.note = note


H = b"Host: h\r\n"


def get(target=b"/", extra=b"", version=b"HTTP/1.1", host=H):
    return b"GET " + target + b" " + version + b"\r\n" + host + extra + b"\r\n"


def post(extra, body=b"", target=b"/p", version=b"HTTP/1.1", host=H):
    return b"POST " + target + b" " + version + b"\r\n" + host + extra + b"\r\n" + body


SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n"
CHUNKED = b"Transfer-Encoding: chunked\r\n"
HELLO_CHUNKED = b"5\r\nhello\r\n0\r\n\r\n"


def bad(name, data, status=400, note=""):
    """A request the proxy must refuse with status, forwarding nothing, then close."""
    return Case(name, data + SMUGGLED, [status], True, [], note)


CASES = [
    # --- Content-Length and Transfer-Encoding together.
    bad("cl_and_te", post(b"Content-Length: 5\r\n" + CHUNKED, b"0\r\n\r\n")),
    bad("te_and_cl", post(CHUNKED + b"Content-Length: 5\r\n", b"0\r\n\r\n")),
    bad("cl0_and_te", post(b"Content-Length: 0\r\n" + CHUNKED, HELLO_CHUNKED)),
    # --- Transfer-Encoding other than a lone final chunked.
    bad("te_gzip", post(b"Transfer-Encoding: gzip\r\n", b"hello")),
    bad("te_chunked_gzip", post(b"Transfer-Encoding: chunked, gzip\r\n", HELLO_CHUNKED)),
    bad("te_gzip_chunked", post(b"Transfer-Encoding: gzip, chunked\r\n", HELLO_CHUNKED),
        501, "a coding the proxy does not implement, framing intact"),
    bad("te_gzip_then_chunked_fields",
        post(b"Transfer-Encoding: gzip\r\n" + CHUNKED, HELLO_CHUNKED), 501),
    bad("te_identity", post(b"Transfer-Encoding: identity\r\n", b"hello")),
    bad("te_chunked_twice", post(b"Transfer-Encoding: chunked, chunked\r\n", HELLO_CHUNKED)),
    bad("te_duplicate_fields", post(CHUNKED + CHUNKED, HELLO_CHUNKED)),
    bad("te_xchunked", post(b"Transfer-Encoding: xchunked\r\n", HELLO_CHUNKED)),
    bad("te_empty", post(b"Transfer-Encoding: \r\n", HELLO_CHUNKED)),
    bad("te_vtab", post(b"Transfer-Encoding:\x0bchunked\r\n", HELLO_CHUNKED)),
    bad("te_http10", post(CHUNKED, HELLO_CHUNKED, version=b"HTTP/1.0"),
        note="RFC 9112 6.1: framing of HTTP/1.0 with Transfer-Encoding is faulty"),
    Case("te_capitalised", post(b"Transfer-Encoding: Chunked\r\n", HELLO_CHUNKED) + SMUGGLED,
         [200, 200], False,
         [Fwd("POST", "/p", "length", b"hello", absent=("transfer-encoding",)),
          Fwd("GET", "/smuggled")], "SMUGGLED here is a pipelined second request"),
    Case("te_leading_ows", post(b"Transfer-Encoding:   chunked\r\n", HELLO_CHUNKED),
         [200], False, [Fwd("POST", "/p", "length", b"hello")]),
    bad("te_trailing_ows", post(b"Transfer-Encoding: chunked \t\r\n", HELLO_CHUNKED),
        note="llhttp refuses whitespace after chunked"),
    # --- Content-Length.
    bad("cl_differing", post(b"Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!")),
    bad("cl_duplicate_same", post(b"Content-Length: 5\r\nContent-Length: 5\r\n", b"hello")),
    bad("cl_list", post(b"Content-Length: 5, 5\r\n", b"hello")),
    bad("cl_plus", post(b"Content-Length: +5\r\n", b"hello")),
    bad("cl_negative", post(b"Content-Length: -1\r\n", b"hello")),
    bad("cl_hex", post(b"Content-Length: 0x5\r\n", b"hello")),
    bad("cl_inner_space", post(b"Content-Length: 5 5\r\n", b"hello")),
    bad("cl_empty", post(b"Content-Length: \r\n", b"hello")),
    bad("cl_overflow", post(b"Content-Length: 99999999999999999999\r\n", b"hello")),
    Case("cl_leading_ows", post(b"Content-Length:  \t5\r\n", b"hello"), [200], False,
         [Fwd("POST", "/p", "length", b"hello")]),
    Case("get_with_body", get(extra=b"Content-Length: 5\r\n") + b"hello", [200], False,
         [Fwd("GET", "/", "length", b"hello")]),
    Case("cl_zero", post(b"Content-Length: 0\r\n"), [200], False,
         [Fwd("POST", "/p", "length", b"")]),
    Case("cl_body_holds_request", post(b"Content-Length: %d\r\n" % len(SMUGGLED), SMUGGLED)
         + get(b"/after"), [200, 200], False,
         [Fwd("POST", "/p", "length", SMUGGLED), Fwd(target="/after")]),
    Case("cl_body_cut_by_eof", post(b"Content-Length: 10\r\n", b"hello"), [], True, [],
         "the client half-closes before the body is complete", shut=True),
    # --- Field syntax.
    bad("obs_fold", get(extra=b"X-A: a\r\n b\r\n")),
    bad("obs_fold_htab", get(extra=b"X-A: a\r\n\tb\r\n")),
    bad("obs_fold_first_line", b"GET / HTTP/1.1\r\n Host: h\r\n\r\n"),
    bad("obs_fold_empty_value", get(extra=b"X-A:\r\n b\r\n"),
        note="llhttp drops the fold: caught by the raw head scan"),
    bad("obs_fold_whitespace_only", get(extra=b"X-A: a\r\n \r\n")),
    bad("bare_cr_value", get(extra=b"X-A: a\rb\r\n")),
    bad("bare_cr_line_end", get(extra=b"X-A: a\rX-B: b\r\n")),
    bad("bare_lf_line_end", b"GET / HTTP/1.1\nHost: h\n\n"),
    bad("nul_value", get(extra=b"X-A: a\x00b\r\n")),
    bad("nul_name", get(extra=b"X-\x00A: b\r\n")),
    bad("ctl_value", get(extra=b"X-A: a\x01b\r\n")),
    bad("del_value", get(extra=b"X-A: a\x7fb\r\n")),
    bad("ctl_name", get(extra=b"X-\x1bA: b\r\n")),
    bad("space_before_colon", get(extra=b"X-A : b\r\n")),
    bad("tab_before_colon", get(extra=b"Content-Length\t: 5\r\n")),
    bad("host_space_before_colon", get(extra=b"Host : evil\r\n")),
    bad("space_in_name", get(extra=b"X A: b\r\n")),
    bad("no_colon", get(extra=b"X-A\r\n")),
    bad("empty_name", get(extra=b": b\r\n")),
    Case("obs_text_value", get(extra=b"X-A: caf\xe9\r\n"), [200], False,
         [Fwd(present=(("x-a", "caf\xe9"),))]),
    Case("htab_in_value", get(extra=b"X-A: a\tb\r\n"), [200], False,
         [Fwd(present=(("x-a", "a\tb"),))]),
    # --- Request line.
    bad("bad_method_char", b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("unknown_method", b"FOO / HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("lowercase_method", b"get / HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("double_space", b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("tab_separator", b"GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("space_in_target", get(b"/a b")),
    bad("ctl_in_target", get(b"/a\x01b")),
    bad("trailing_space_version", b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n"),
    bad("version_1_2", get(version=b"HTTP/1.2"), 505),
    bad("version_2_0", get(version=b"HTTP/2.0"), 505),
    bad("version_0_9", get(version=b"HTTP/0.9"), 505),
    bad("version_3_0", get(version=b"HTTP/3.0"), 505),
    bad("version_lowercase", get(version=b"http/1.1")),
    bad("version_1_10", get(version=b"HTTP/1.10")),
    bad("version_missing", b"GET /\r\n"),
    Case("version_missing_alone", b"GET /\r\n\r\n", [400], True, [],
         "llhttp reads this as HTTP/0.9 with an empty head"),
    Case("http09_line_only", b"GET /path\r\n", [400], True, [],
         "an HTTP/0.9 client sends no more: 400 when the line ends, not 408 later"),
    bad("h2_preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    Case("leading_empty_line", b"\r\n" + get(b"/after-crlf"), [200], False,
         [Fwd(target="/after-crlf")]),
    # --- Host.
    bad("host_missing_11", b"GET / HTTP/1.1\r\n\r\n"),
    bad("host_duplicate", get(extra=b"Host: evil\r\n")),
    bad("host_inner_space", get(host=b"Host: a b\r\n"), note="RFC 9112 3.2: invalid Host"),
    bad("host_userinfo", get(host=b"Host: u@h\r\n")),
    bad("host_path", get(host=b"Host: h/x\r\n")),
    bad("host_bad_port", get(host=b"Host: h:8o\r\n")),
    bad("host_ipv6_unclosed", get(host=b"Host: [::1\r\n")),
    Case("host_ipv6_port", get(b"/six", host=b"Host: [::1]:8080\r\n"), [200], False,
         [Fwd(target="/six", host="[::1]:8080")]),
    Case("host_empty", get(b"/e", host=b"Host:\r\n"), [200], False,
         [Fwd(target="/e", host="")], "RFC 9112 3.2: empty when there is no authority"),
    bad("host_duplicate_10", get(extra=b"Host: evil\r\n", version=b"HTTP/1.0")),
    Case("host_missing_10", b"GET /ten HTTP/1.0\r\n\r\n", [200], True,
         [Fwd(target="/ten", host="BACKEND")]),
    Case("host_present_10", get(b"/ten", version=b"HTTP/1.0", host=b"Host: ten\r\n"),
         [200], True, [Fwd(target="/ten", host="ten")]),
    # --- Request targets.
    Case("absolute_form", get(b"http://example.com/x?y=1", host=b"Host: other\r\n"), [200],
         False, [Fwd(target="/x?y=1", host="example.com",
                     present=(("x-forwarded-host", "example.com"),))],
         "origin-form to the backend, Host from the target (RFC 9112 3.2.2)"),
    Case("absolute_form_https", get(b"https://example.com/s", host=b"Host: example.com\r\n"),
         [200], False, [Fwd(target="/s", host="example.com")]),
    Case("absolute_form_no_path", get(b"HTTP://Example.com:8080", host=b"Host: e\r\n"),
         [200], False, [Fwd(target="/", host="Example.com:8080")]),
    bad("absolute_form_userinfo", get(b"http://u@example.com/x")),
    bad("absolute_form_empty_host", get(b"http:///x")),
    bad("absolute_form_other_scheme", get(b"ftp://example.com/x")),
    bad("authority_form_get", get(b"example.com:80")),
    bad("asterisk_get", get(b"*")),
    bad("connect", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        405),
    Case("options_asterisk", b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", [200], False,
         [Fwd("OPTIONS", "*")]),
    # --- Upgrades: the request goes on without them, the connection closes after.
    Case("upgrade_websocket",
         get(b"/ws", b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
         + b"\x81\x05hello" + SMUGGLED, [200], True,
         [Fwd(target="/ws", absent=("upgrade", "connection"),
              present=(("sec-websocket-version", "13"),))]),
    Case("upgrade_h2c",
         get(b"/h2c", b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
             b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n")
         + b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SMUGGLED, [200], True,
         [Fwd(target="/h2c", absent=("upgrade", "http2-settings"))]),
    Case("h2c_settings_not_in_connection",
         get(b"/h2", b"Connection: Upgrade\r\nUpgrade: h2c\r\n"
             b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n") + SMUGGLED, [200], True,
         [Fwd(target="/h2", absent=("upgrade", "http2-settings"))],
         "HTTP2-Settings is dropped though Connection does not name it"),
    Case("http2_settings_alone", get(b"/h2s", b"HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"),
         [200], False, [Fwd(target="/h2s", absent=("http2-settings",))]),
    Case("upgrade_without_connection", get(b"/u", b"Upgrade: websocket\r\n") + SMUGGLED,
         [200, 200], False, [Fwd(target="/u"), Fwd(target="/smuggled")],
         "not an upgrade without Connection: upgrade; Upgrade is dropped"),
    # --- Chunk framing.
    bad("chunk_size_zz", post(CHUNKED, b"zz\r\nhello\r\n0\r\n\r\n")),
    bad("chunk_size_negative", post(CHUNKED, b"-5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk_size_overflow", post(CHUNKED, b"10000000000000005\r\nhello\r\n0\r\n\r\n")),
    bad("chunk_size_empty", post(CHUNKED, b"\r\nhello\r\n0\r\n\r\n")),
    bad("chunk_size_space", post(CHUNKED, b"5 \r\nhello\r\n0\r\n\r\n")),
    bad("chunk_data_no_crlf", post(CHUNKED, b"5\r\nhelloX\r\n0\r\n\r\n")),
    bad("chunk_data_lf_only", post(CHUNKED, b"5\r\nhello\n0\r\n\r\n")),
    bad("chunk_ext_ctl", post(CHUNKED, b"5;a=\x01\r\nhello\r\n0\r\n\r\n")),
    bad("chunk_last_no_crlf", post(CHUNKED, b"5\r\nhello\r\n0\r\nGET")),
    Case("chunk_size_leading_zeros", post(CHUNKED, b"0005\r\nhello\r\n000\r\n\r\n"),
         [200], False, [Fwd("POST", "/p", "length", b"hello")]),
    Case("chunked_body_holds_request", post(CHUNKED, b"%x\r\n%s\r\n0\r\n\r\n"
                                            % (len(SMUGGLED), SMUGGLED)) + get(b"/after"),
         [200, 200], False, [Fwd("POST", "/p", "length", SMUGGLED), Fwd(target="/after")]),
    Case("chunk_size_16_digits", post(CHUNKED, b"0000000000000005\r\nhello\r\n0\r\n\r\n"),
         [200], False, [Fwd("POST", "/p", "length", b"hello")]),
    bad("chunk_size_17_digits", post(CHUNKED, b"00000000000000005\r\nhello\r\n0\r\n\r\n"),
        note="leading zeros cost no body bytes: at most 16 digits"),
    bad("chunk_size_zeros_flood", post(CHUNKED, b"0" * 65536 + b"5\r\nhello\r\n0\r\n\r\n")),
    bad("chunk_last_size_17_digits", post(CHUNKED, b"5\r\nhello\r\n" + b"0" * 17 + b"\r\n\r\n")),
    bad("chunk_ext_over_16k", post(CHUNKED, b"1;a=" + b"e" * (16384 - 2) + b"\r\nx\r\n0\r\n\r\n"),
        note="CVE-2024-22019: at most 16 KiB of chunk extensions per message"),
    Case("chunk_extension", post(CHUNKED, b"5;a=b\r\nhello\r\n0;c\r\n\r\n"), [200], False,
         [Fwd("POST", "/p", "length", b"hello")]),
    Case("chunk_extension_quoted", post(CHUNKED, b"5;a=\"b c\"\r\nhello\r\n0\r\n\r\n"),
         [200], False, [Fwd("POST", "/p", "length", b"hello")]),
    Case("chunk_trailer", post(CHUNKED, b"5\r\nhello\r\n0\r\nX-T: 1\r\nHost: evil\r\n\r\n")
         + get(b"/next"), [200, 200], False,
         [Fwd("POST", "/p", "length", b"hello", host="h", absent=("x-t",)),
          Fwd(target="/next")], "trailers are dropped, never forwarded as fields"),
    bad("chunk_trailer_obs_fold", post(CHUNKED, b"0\r\nX-T: 1\r\n 2\r\n\r\n")),
    bad("chunk_trailer_obs_fold_empty", post(CHUNKED, b"0\r\nX-T:\r\n 2\r\n\r\n")),
    bad("chunk_trailer_space_before_colon", post(CHUNKED, b"0\r\nX-T : 1\r\n\r\n")),
    bad("chunk_trailer_nul", post(CHUNKED, b"0\r\nX-T: 1\x002\r\n\r\n")),
    bad("chunk_trailers_too_many", post(CHUNKED, b"0\r\n" + b"".join(
        b"X-T%d: 1\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n")),
    bad("chunk_trailers_too_large", post(CHUNKED, b"0\r\nX-T: " + b"a" * MAX_HEADER
                                         + b"\r\n\r\n")),
    # --- Connection handling.
    Case("pipelined_three", get(b"/1") + post(b"Content-Length: 3\r\n", b"abc", b"/2")
         + get(b"/3"), [200, 200, 200], False,
         [Fwd(target="/1"), Fwd("POST", "/2", "length", b"abc"), Fwd(target="/3")]),
    Case("connection_close_then_more", get(b"/c", b"Connection: close\r\n") + SMUGGLED,
         [200], True, [Fwd(target="/c", absent=("connection",))]),
    Case("http10_keepalive_body", post(b"Connection: keep-alive\r\nContent-Length: 3\r\n",
                                       b"abc", version=b"HTTP/1.0") + get(b"/2"),
         [200, 200], False, [Fwd("POST", "/p", "length", b"abc"), Fwd(target="/2")]),
    Case("head_in_pieces", [(b"GET /pieces HTTP/1.1\r", 0), (b"\nHost: h\r\nX-A: a", 0),
                            (b" b\r\nX-B:", 0), (b" c\r\n\r", 0), (b"\n", 0)],
         [200], False, [Fwd(target="/pieces", present=(("x-a", "a b"), ("x-b", "c")))]),
    Case("obs_fold_in_pieces", [(get(b"/f", b"X-A: a\r\n")[:-2], 0), (b" b\r\n\r\n", 0)],
         [400], True, []),
    Case("http10_then_more", get(b"/ten", version=b"HTTP/1.0") + SMUGGLED, [200], True,
         [Fwd(target="/ten")]),
    Case("hop_by_hop", get(b"/hop", b"Connection: X-Foo, Keep-Alive\r\nX-Foo: 1\r\n"
                           b"Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
                           b"TE: trailers\r\nUpgrade: foo\r\nTrailer: X-T\r\nX-Keep: 2\r\n"),
         [200], False, [Fwd(target="/hop", absent=("x-foo",),
                            present=(("x-keep", "2"),))]),
    # --- Limits.
    bad("uri_too_long", get(b"/" + b"a" * MAX_URI), 414),
    bad("header_too_large", get(extra=b"X-A: " + b"a" * MAX_HEADER + b"\r\n"), 431),
    bad("too_many_headers", get(extra=b"".join(b"X-%d: v\r\n" % i
                                               for i in range(MAX_HEADERS))), 431),
    bad("body_too_large_cl", post(b"Content-Length: %d\r\n" % (MAX_BODY + 1),
                                  b"a" * (MAX_BODY + 1)), 413),
    bad("body_too_large_chunked", post(CHUNKED, b"%x\r\n%s\r\n0\r\n\r\n"
                                       % (MAX_BODY + 1, b"a" * (MAX_BODY + 1))), 413),
    Case("body_at_limit", post(b"Content-Length: %d\r\n" % MAX_BODY, b"b" * MAX_BODY),
         [200], False, [Fwd("POST", "/p", "length", b"b" * MAX_BODY)]),
    # Chunk framing counts against the limit: many tiny chunks are refused.
    bad("body_framing_over_limit", post(CHUNKED, b"1\r\na\r\n" * (MAX_BODY // 4) +
                                        b"0\r\n\r\n"), 413),
    Case("body_chunked_at_limit", post(CHUNKED, b"%x\r\n%s\r\n0\r\n\r\n" % (
        MAX_BODY - 5, b"c" * (MAX_BODY - 5))),
         [200], False, [Fwd("POST", "/p", "length", b"c" * (MAX_BODY - 5))]),
    # --- Expect.
    Case("expect_100_continue", [(post(b"Content-Length: 5\r\nExpect: 100-continue\r\n"), 1),
                                 (b"hello", 0)],
         [100, 200], False, [Fwd("POST", "/p", "length", b"hello", absent=("expect",))]),
    bad("expect_other", post(b"Content-Length: 5\r\nExpect: something\r\n", b"hello"), 417),
    bad("expect_too_large", post(b"Content-Length: %d\r\nExpect: 100-continue\r\n"
                                 % (MAX_BODY + 1)), 413),
]


# --------------------------------------------------------------------------

# Chunk-extension limits where nothing else stops a message first: with the
# default max_body_size = 0. (Framing counts against a max_body_size that is
# set, so MAX_BODY above answers 413 long before 16 KiB of extensions.)
NO_BODY_LIMIT_CASES = [
    Case("chunk_ext_16k_exactly", post(CHUNKED, b"1;a=" + b"e" * (16384 - 3) + b"\r\nx\r\n0\r\n\r\n"),
         [200], False, [Fwd("POST", "/p", "length", b"x")],
         "every extension byte counts, \";\" included: 16384 is still in"),
    bad("chunk_ext_spread_over_chunks", post(CHUNKED, b"".join(
        b"1;" + b"e" * 1023 + b"\r\nx\r\n" for _ in range(17)) + b"0\r\n\r\n"),
        note="the limit is per message: 17 chunks of 1 KiB of extensions each"),
    bad("chunk_ext_last_chunk_over_16k", post(CHUNKED, b"5\r\nhello\r\n0;" + b"e" * 16384
                                              + b"\r\n\r\n")),
    Case("chunk_ext_counted_per_message",
         post(CHUNKED, b"1;" + b"e" * 12000 + b"\r\nx\r\n0\r\n\r\n")
         + post(CHUNKED, b"1;" + b"e" * 12000 + b"\r\ny\r\n0\r\n\r\n"), [200, 200], False,
         [Fwd("POST", "/p", "length", b"x"), Fwd("POST", "/p", "length", b"y")],
         "two pipelined messages of 12 KiB of extensions each: the count starts again"),
    bad("chunk_ext_over_16k_no_body_limit", post(CHUNKED, b"1;a=" + b"e" * (16384 - 2)
                                                 + b"\r\nx\r\n0\r\n\r\n")),
    bad("chunk_size_17_digits_no_body_limit", post(CHUNKED, b"0" * 16 + b"5\r\nhello\r\n"
                                                   b"0\r\n\r\n")),
]


class World:
    backend = None
    proxy = None            # the one the case in progress talks to
    limited = None          # max_body_size = MAX_BODY: CASES
    unlimited = None        # max_body_size = 0: NO_BODY_LIMIT_CASES
    barrier = 0


def barrier():
    """A request on a new connection; once the backend has it, the case's connection is done."""
    World.barrier += 1
    target = "/__barrier__/%d" % World.barrier
    with socket.create_connection(("127.0.0.1", World.proxy.port), timeout=IO_TIMEOUT) as s:
        s.sendall(b"GET " + target.encode() + b" HTTP/1.1\r\nHost: b\r\nConnection: close\r\n\r\n")
        w = Wire(s)
        r = read_response(w)
        assert r is not None and r.status == 200, "barrier failed"
    rec = World.backend.recorder
    reqs, _, errors = rec.snapshot()
    assert reqs and reqs[-1].target == target, "barrier not last: %r" % reqs[-3:]
    return reqs[:-1], errors


def check_forwarded(case, got, want):
    assert got.version == "HTTP/1.1", "%s: forwarded as %s" % (case.name, got.version)
    assert got.method == want.method, "%s: method %s" % (case.name, got.method)
    assert got.target == want.target, "%s: target %r, want %r" % (case.name, got.target,
                                                                 want.target)
    assert got.framing == want.framing, "%s: framing %s, want %s (%r)" % (
        case.name, got.framing, want.framing, got.raw_head)
    assert got.body == want.body, "%s: body %r" % (case.name, got.body[:80])
    if got.framing == "length":
        assert got.get("content-length") == [str(len(want.body))]
    hosts = got.get("host")
    assert len(hosts) == 1, "%s: Host %r" % (case.name, hosts)
    if want.host == "BACKEND":
        assert hosts[0] == "127.0.0.1:%d" % World.backend.port, hosts
    elif want.host is not None:
        assert hosts[0] == want.host, "%s: Host %r, want %r" % (case.name, hosts[0], want.host)
    for name in HOP + tuple(want.absent):
        assert not got.get(name), "%s: %s reached the backend: %r" % (
            case.name, name, got.raw_head)
    if got.framing != "chunked":
        assert not got.get("transfer-encoding"), got.raw_head
    for name, value in want.present:
        assert got.get(name) == [value], "%s: %s is %r, want %r" % (
            case.name, name, got.get(name), value)
    assert len(got.get("x-request-id")) == 1 and len(got.get("x-forwarded-for")) == 1


def client_side(case):
    """Talk to the proxy: (statuses, closed, problem or None)."""
    statuses = []
    with socket.create_connection(("127.0.0.1", World.proxy.port), timeout=IO_TIMEOUT) as s:
        s.settimeout(IO_TIMEOUT)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)    # parts as sent
        w = Wire(s)
        try:
            for data, nread in case.send:
                try:
                    s.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    break   # the proxy refused and closed before reading it all
                for _ in range(nread):
                    r = read_response(w)
                    if r is None:
                        return statuses, True, "closed before response %d" % len(statuses)
                    statuses.append(r.status)
            if case.shut:
                s.shutdown(socket.SHUT_WR)
            if case.closed:
                closed = drain_until_eof(s, w, time.monotonic() + IO_TIMEOUT)
                while w.buf:
                    statuses.append(read_response(w).status)
                return statuses, closed, None if closed else "connection left open"
            while len(statuses) < len(case.statuses):
                r = read_response(w)
                if r is None:
                    return statuses, True, "closed"
                statuses.append(r.status)
            # Still usable: one more request on it is answered.
            s.sendall(ALIVE)
            r = read_response(w)
            if r is None or r.status != 200:
                return statuses, r is None, "not kept alive: %r" % (r and r.status)
            return statuses, False, None
        except (socket.timeout, EOFError, ConnectionResetError) as e:
            return statuses, None, "%s after %r" % (type(e).__name__, w.buf[:200])


def run_case(case):
    World.backend.recorder.clear()
    statuses, closed, problem = client_side(case)
    reqs, errors = barrier()
    if reqs and reqs[-1].target == "/__alive__":
        reqs = reqs[:-1]
    print("    %-34s client=%-12s %-6s backend=%d %s" % (
        case.name, ",".join(map(str, statuses)) or "-",
        {True: "closed", False: "open", None: "?"}[closed],
        len(reqs), " ".join(r.method + " " + r.target for r in reqs)))
    assert not errors, "%s: backend could not frame what it got: %r" % (case.name, errors)
    assert problem is None, "%s: %s" % (case.name, problem)
    assert statuses == case.statuses, "%s: statuses %r, want %r" % (
        case.name, statuses, case.statuses)
    assert closed == case.closed, "%s: closed %r" % (case.name, closed)
    assert len(reqs) == len(case.fwd), "%s: backend got %d requests, want %d: %r" % (
        case.name, len(reqs), len(case.fwd), [r.raw for r in reqs])
    for got, want in zip(reqs, case.fwd):
        check_forwarded(case, got, want)


def backend_totals():
    """Every request came over few backend connections: the proxy pools them."""
    rec = World.backend.recorder
    with rec.lock:
        conns, total = rec.connections, rec.total
    print("    backend: %d requests over %d connections" % (total, conns))
    assert total > len(CASES) and 1 <= conns < total // 2, (total, conns)


def make_test(case, proxy="limited"):
    def t():
        World.proxy = getattr(World, proxy)
        run_case(case)
    t.__name__ = case.name
    return t


def main():
    names = [c.name for c in CASES + NO_BODY_LIMIT_CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    World.backend = RecordingBackend()
    thread = threading.Thread(target=World.backend.serve_forever, daemon=True)
    thread.start()
    keys = dict(workers=1, max_retries=0, max_uri_size=str(MAX_URI),
                max_header_size=str(MAX_HEADER), max_headers=MAX_HEADERS,
                client_header_timeout=2, client_body_timeout=2,
                keepalive_timeout=5, request_timeout=2, shutdown_timeout=5)
    World.limited = Proxy([("rec", World.backend.url)], max_body_size=str(MAX_BODY), **keys)
    World.unlimited = Proxy([("rec", World.backend.url)], **keys)
    World.proxy = World.limited
    try:
        World.limited.start()
        World.unlimited.start()
        barrier()
        harness.run([make_test(c) for c in CASES] + [backend_totals] +
                    [make_test(c, "unlimited") for c in NO_BODY_LIMIT_CASES])
    finally:
        World.limited.cleanup()
        World.unlimited.cleanup()
        World.backend.shutdown()
        World.backend.server_close()


if __name__ == "__main__":
    main()
