#!/usr/bin/env python3
"""test_http.py: HTTP/1.1 through the proxy: bodies in every framing, and message semantics."""
import contextlib
import hashlib
import http.client
import os
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Resp, request, wait_for  # noqa: E402
from test_proxy import (log_lines, pattern_sha256, sha,  # noqa: E402
                        start_backends, start_proxy, tail)

MiB = 1024 * 1024


class Digest:
    """A body sink: its sha256 and length, so a large body need not be held."""

    def __init__(self):
        self.h = hashlib.sha256()
        self.n = 0

    def update(self, data):
        self.h.update(data)
        self.n += len(data)

    def hexdigest(self):
        return self.h.hexdigest()


class Reader:
    """Read HTTP/1.1 responses off a socket, strictly, with a deadline per read."""

    def __init__(self, sock, timeout=5.0):
        self.sock = sock
        self.buf = b""
        sock.settimeout(timeout)

    def _more(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise EOFError("connection closed; had %r" % self.buf[:200])
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n, sink=None):
        parts = []
        while n > 0:
            if not self.buf:
                self._more()
            take = self.buf[:n]
            self.buf = self.buf[len(take):]
            n -= len(take)
            if sink is not None:
                sink.update(take)
            else:
                parts.append(take)
        return b"".join(parts)

    def until_eof(self, sink=None):
        parts = []
        while True:
            if self.buf:
                if sink is not None:
                    sink.update(self.buf)
                else:
                    parts.append(self.buf)
                self.buf = b""
            try:
                self._more()
            except EOFError:
                return b"".join(parts)

    def head(self):
        """(status, [(name, value)]) of the next response head."""
        status = self.line()
        assert status.startswith(b"HTTP/1.1 "), "bad status line %r" % status
        hdrs = []
        while True:
            line = self.line()
            if not line:
                break
            name, _, value = line.partition(b":")
            hdrs.append((name.decode().lower(), value.strip().decode()))
        return int(status.split()[1]), hdrs

    def response(self, bodyless=False, sink=None):
        """The next response, its body framed as the headers say (by close if neither).

        With a sink, the body goes there instead of into the result.
        """
        status, hdrs = self.head()
        h = dict(hdrs)
        if bodyless or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif h.get("transfer-encoding", "").lower() == "chunked":
            assert "content-length" not in h, hdrs
            body = self.chunked(sink)
        elif "content-length" in h:
            body = self.exactly(int(h["content-length"]), sink)
        else:
            body = self.until_eof(sink)
        return Resp(status, hdrs, body)

    def chunked(self, sink=None):
        parts = []
        while True:
            size = int(self.line().split(b";")[0], 16)
            if size == 0:
                break
            parts.append(self.exactly(size, sink))
            assert self.exactly(2) == b"\r\n", "chunk not followed by CRLF"
        while self.line():
            pass    # trailers
        return b"".join(parts)

    def closed(self, timeout=3.0):
        """True when the peer closes with nothing more to read."""
        self.sock.settimeout(timeout)
        try:
            self._more()
        except EOFError:
            return not self.buf
        except socket.timeout:
            return False
        return False


@contextlib.contextmanager
def conn(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        yield s, Reader(s, timeout)
    finally:
        s.close()


def pieces(data, size=65536):
    for i in range(0, len(data), size):
        yield data[i:i + size]


def duplex(port, head, body_iter, sink, timeout=10.0):
    """Send a request from a thread while reading the response into sink: a
    client that does not need the proxy to buffer either direction."""
    with conn(port, timeout) as (s, rd):
        errors = []

        def send():
            try:
                s.sendall(head)
                for piece in body_iter:
                    s.sendall(piece)
            except OSError as e:
                errors.append(e)
        t = threading.Thread(target=send, daemon=True)
        t.start()
        try:
            r = rd.response(sink=sink)
        finally:
            try:
                s.shutdown(socket.SHUT_RDWR)    # unblocks the sender
            except OSError:
                pass    # the proxy closed first
            t.join(timeout)
        return r


# ---------------------------------------------------------------------------


def test_download_bodies():
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        p = start_proxy(st, [b], workers=1)
        n = 10 * MiB
        r = request(p.port, "/bytes/%d" % n, timeout=30)
        assert r.status == 200 and r.headers.get("content-length") == str(n), r.header_list
        assert sha(r.body) == pattern_sha256(n), "length-framed body differs"

        r = request(p.port, "/chunked/%d" % n, timeout=30)
        assert r.status == 200 and r.headers.get("transfer-encoding") == "chunked", \
            r.header_list
        assert sha(r.body) == pattern_sha256(n), "chunked body differs"

        # Close-delimited upstream: re-chunked, so the client connection lives on.
        with conn(p.port, timeout=10) as (s, rd):
            s.sendall(b"GET /close/1000000 HTTP/1.1\r\nHost: t\r\n\r\n")
            try:
                r = rd.response()
            except EOFError as e:
                raise AssertionError("close-delimited upstream: the re-chunked body "
                                     "ended without its last chunk (%s)%s" % (e, tail(p)))
            assert r.status == 200 and r.headers.get("transfer-encoding") == "chunked", \
                r.header_list
            assert sha(r.body) == pattern_sha256(1000000), "close-delimited body differs"
            s.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            r = rd.response()
            assert r.status == 200 and r.body == b"Hello from b1\n", (r.status, r.body)

        # An HTTP/1.0 client cannot take chunks: the body ends with the connection.
        with conn(p.port) as (s, rd):
            s.sendall(b"GET /chunked/100000 HTTP/1.0\r\n\r\n")
            r = rd.response()
            assert r.status == 200 and "transfer-encoding" not in r.headers, r.header_list
            assert sha(r.body) == pattern_sha256(100000), "HTTP/1.0 body differs"


def test_upload_bodies():
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        p = start_proxy(st, [b], workers=1)
        data = os.urandom(10 * MiB)
        # /headers answers after reading the whole body and reports its size.
        r = request(p.port, "/headers", "POST", body=data, timeout=30)
        assert r.status == 200 and b'"body_bytes":%d}' % len(data) in r.body, r.body[-80:]
        r = request(p.port, "/headers", "POST", body=pieces(data), encode_chunked=True,
                    headers={"Transfer-Encoding": "chunked"}, timeout=30)
        assert r.status == 200 and b'"body_bytes":%d}' % len(data) in r.body, r.body[-80:]

        # Bigger than the 64 KiB kept for retries: streamed, and echoed intact.
        small = data[:200 * 1024]
        r = request(p.port, "/echo", "POST", body=small)
        assert r.status == 200 and sha(r.body) == sha(small), (r.status, len(r.body))
        r = request(p.port, "/echo", "PUT", body=pieces(small), encode_chunked=True,
                    headers={"Transfer-Encoding": "chunked"})
        assert r.status == 200 and sha(r.body) == sha(small), (r.status, len(r.body))
        r = request(p.port, "/echo", "POST", body=b"tiny")
        assert r.status == 200 and r.body == b"tiny", (r.status, r.body)


def echo_size():
    """A body bigger than every socket buffer between proxy and backend can hold.

    A proxy that sends the whole request before reading the response only
    stalls once the echo fills the buffers; below that size the test could
    pass by luck.
    """
    most = 0
    for name in ("ipv4/tcp_rmem", "ipv4/tcp_wmem"):
        try:
            with open("/proc/sys/net/" + name) as f:
                most += int(f.read().split()[2])
        except (OSError, ValueError, IndexError):
            most += 8 * MiB
    return min(max(10 * MiB, 2 * most + 4 * MiB), 128 * MiB)


def test_large_echo_full_duplex():
    """A large body echoed: the backend answers while still reading, as streaming servers do.

    The client reads while it sends, so only the proxy can stall the exchange.
    """
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        p = start_proxy(st, [b], workers=1, read_timeout=3)
        n = echo_size()
        block = os.urandom(MiB)

        def blocks():
            # Every MiB differs (its index up front), so a repeat or a skip shows.
            for i in range(n // MiB):
                yield i.to_bytes(8, "big") + block[8:]

        def chunked():
            for piece in blocks():
                yield b"%x\r\n%s\r\n" % (len(piece), piece)
            yield b"0\r\n\r\n"
        want = Digest()
        for piece in blocks():
            want.update(piece)
        bad = []
        for what, head, body in (
                ("Content-Length", b"POST /echo HTTP/1.1\r\nHost: t\r\n"
                 b"Content-Length: %d\r\n\r\n" % want.n, blocks()),
                ("chunked", b"POST /echo HTTP/1.1\r\nHost: t\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n", chunked())):
            t0 = time.monotonic()
            got = Digest()
            r = duplex(p.port, head, body, got, timeout=20)
            if r.status != 200 or got.hexdigest() != want.hexdigest():
                bad.append("%s: status %d, %d of %d bytes back after %.1fs" % (
                    what, r.status, got.n, want.n, time.monotonic() - t0))
        assert not bad, "echo: %s%s" % ("; ".join(bad), tail(p))


def test_pipelined_requests_in_order():
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        p = start_proxy(st, [b], workers=1)
        with conn(p.port) as (s, rd):
            s.sendall(b"GET /status/201 HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                      b"GET /status/202 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            got = [rd.response() for _ in range(3)]
            assert [r.status for r in got] == [201, 200, 202], [r.status for r in got]
            assert got[0].body == b"status 201 from b1\n", got[0].body
            assert got[1].body == b"hello", got[1].body
            assert got[2].body == b"status 202 from b1\n", got[2].body
            seqs = [int(r.headers["x-backend-seq"]) for r in got]
            assert seqs == sorted(seqs) and len(set(seqs)) == 3, seqs
            assert rd.closed(), "connection left open after Connection: close"


def test_http10_client():
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        p = start_proxy(st, [b], workers=1)
        with conn(p.port) as (s, rd):
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            r = rd.response()
            assert r.status == 200 and r.body == b"Hello from b1\n", (r.status, r.body)
            assert "keep-alive" not in r.headers.get("connection", "").lower(), r.header_list
            assert rd.closed(), "HTTP/1.0 connection without keep-alive left open"
        with conn(p.port) as (s, rd):
            for i in range(2):
                s.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                r = rd.response()
                assert r.status == 200 and r.body == b"Hello from b1\n", (i, r.status)
                assert r.headers.get("connection", "").lower() == "keep-alive", \
                    r.header_list


def test_bodyless_responses():
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        p = start_proxy(st, [b], workers=1)
        with conn(p.port) as (s, rd):
            # Each is followed on the same connection by another request: a
            # stray body byte would spoil the next status line.
            s.sendall(b"HEAD /bytes/100 HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /status/204 HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /status/304 HTTP/1.1\r\nHost: t\r\n\r\n"
                      b"GET /status/201 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            r = rd.response(bodyless=True)
            assert r.status == 200 and r.headers.get("content-length") == "100", \
                r.header_list
            r = rd.response()
            assert r.status == 204, r.status
            assert "transfer-encoding" not in r.headers and \
                "content-length" not in r.headers, r.header_list
            r = rd.response()
            assert r.status == 304 and "transfer-encoding" not in r.headers, r.header_list
            r = rd.response()
            assert r.status == 201 and r.body == b"status 201 from b1\n", (r.status, r.body)
            assert rd.closed(), "connection left open after Connection: close"


def test_expect_100_continue():
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        p = start_proxy(st, [b], workers=1)
        with conn(p.port) as (s, rd):
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n"
                      b"Expect: 100-continue\r\n\r\n")
            # The body is held back until the go-ahead comes.
            status, hdrs = rd.head()
            assert status == 100, (status, hdrs)
            s.sendall(b"hello world")
            r = rd.response()
            assert r.status == 200 and r.body == b"hello world", (r.status, r.body)


def test_client_keepalive():
    with contextlib.ExitStack() as st:
        b1, b2 = start_backends(st, "b1", "b2")
        p = start_proxy(st, [b1, b2], workers=2)
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        try:
            ports = set()
            for i in range(5):
                c.request("GET", "/", headers={"X-Request-ID": "ka-%d" % i})
                ports.add(c.sock.getsockname()[1])
                r = c.getresponse()
                assert r.status == 200 and r.read().startswith(b"Hello from"), r.status
        finally:
            c.close()
        assert len(ports) == 1, "http.client reconnected: %s" % ports
        port = ports.pop()
        lines = wait_for(lambda: (lambda l: len(l) >= 5 and l)(
            log_lines(p, "client=127.0.0.1:%d " % port, "status=200")),
            timeout=5, what="5 access lines")
        assert len(lines) == 5, lines
        assert all("request_id=ka-%d " % i in lines[i] for i in range(5)), lines


def short_body_backend(st, declared, sent):
    """A backend that promises a declared-byte body, sends `sent` bytes, closes."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    st.callback(ls.close)

    def serve():
        while True:
            try:
                s, _ = ls.accept()
            except OSError:
                return
            with s:
                s.settimeout(5)
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    head += chunk
                s.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % declared
                          + b"x" * sent)
    threading.Thread(target=serve, daemon=True).start()
    return ("short", "http://127.0.0.1:%d" % ls.getsockname()[1])


def test_long_bodies_cut_short():
    """Long Content-Length bodies are relayed by splice(2): a backend that stops
    early leaves the client with the bytes sent and a closed connection (no
    made-up end), a client that leaves early frees the worker, and the worker
    serves whole bodies afterwards."""
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        short = short_body_backend(st, 1000000, 300000)
        p = start_proxy(st, [b, short], workers=1)
        # Round-robin: whichever of the two requests reaches "short" is cut.
        got = []
        for _ in range(2):
            with conn(p.port, timeout=10) as (s, rd):
                s.sendall(b"GET /bytes/1000000 HTTP/1.1\r\nHost: t\r\n"
                          b"Connection: close\r\n\r\n")
                status = rd.line()
                assert status == b"HTTP/1.1 200 OK", status
                while rd.line():
                    pass
                body = rd.buf
                try:
                    while True:
                        chunk = s.recv(262144)
                        if not chunk:
                            break
                        body += chunk
                except socket.timeout:
                    raise AssertionError("no close after %d body bytes%s" % (len(body), tail(p)))
                got.append(len(body))
        assert sorted(got) == [300000, 1000000], got
        wait_for(lambda: log_lines(p, "event=response_truncated", "backend=short",
                                   'error="EOF"'), timeout=5,
                 what="response_truncated line" + tail(p))

        p.write_config(p.config_text(backends=[b]))
        p.signal(signal.SIGHUP)

        def b1_alone():
            # Until the old worker is retired a request may still meet "short".
            try:
                return all(request(p.port, "/").headers.get("x-backend") == "b1"
                           for _ in range(2))
            except (OSError, http.client.HTTPException):
                return False
        wait_for(b1_alone, timeout=10, what="reload to b1 alone")
        # The client leaves after the first 100 kB of 10 MiB.
        with conn(p.port, timeout=10) as (s, rd):
            s.sendall(b"GET /bytes/%d HTTP/1.1\r\nHost: t\r\n\r\n" % (10 * MiB))
            while len(rd.buf) < 100000:
                rd._more()
        for _ in range(2):
            r = request(p.port, "/bytes/%d" % (10 * MiB), timeout=30)
            assert r.status == 200 and sha(r.body) == pattern_sha256(10 * MiB), \
                "whole body after an abandoned one%s" % tail(p)


def test_client_leaving_mid_upload_is_499():
    """A client that leaves before its body is all sent is logged 499, as nginx
    does, not status=0, and the worker is free again."""
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        p = start_proxy(st, [b], workers=1)
        with socket.create_connection(("127.0.0.1", p.port), timeout=10) as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nX-Request-ID: gone-1\r\n"
                      b"Content-Length: 100000\r\n\r\n" + b"x" * 1000)
        line = wait_for(lambda: log_lines(p, "request_id=gone-1 ", " status="), timeout=10,
                        what="the access line")[0]
        assert " status=499 " in line, line
        assert request(p.port, "/").status == 200


if __name__ == "__main__":
    harness.run([
        test_client_leaving_mid_upload_is_499,
        test_download_bodies,
        test_upload_bodies,
        test_large_echo_full_duplex,
        test_pipelined_requests_in_order,
        test_http10_client,
        test_bodyless_responses,
        test_expect_100_continue,
        test_client_keepalive,
        test_long_bodies_cut_short,
    ])
