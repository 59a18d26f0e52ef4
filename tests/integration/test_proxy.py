#!/usr/bin/env python3
"""test_proxy.py: the proxy core end to end: balancing, retries, health, timeouts, headers.

Each test starts its own demo backends (and, where a backend must misbehave
in a way the demo cannot, a small Python server) and its own rproxyd with
short timeouts, and stops them all on the way out. The helpers here are also
used by test_http.py.
"""
import contextlib
import hashlib
import http.client
import json
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Backend, Proxy, Resp, request, wait_for  # noqa: E402


def seq_of(backend):
    """How many requests a demo backend has received, counting this probe."""
    r = request(backend.port, "/")
    assert r.status == 200 and r.headers["x-backend"] == backend.name, \
        "direct probe of %s: %d %r" % (backend.name, r.status, r.headers)
    return int(r.headers["x-backend-seq"])


def received_headers(resp):
    """The header list a demo backend's /headers reports, names lower-cased."""
    assert resp.status == 200, "status %d: %r" % (resp.status, resp.body[:200])
    doc = json.loads(resp.body)
    return [(k.lower(), v) for k, v in doc["headers"]]


def pattern_sha256(n):
    """sha256 of the demo backend's N-byte body: 'a' + i % 26."""
    unit = bytes(range(ord("a"), ord("z") + 1)) * 2520    # a whole number of cycles
    h = hashlib.sha256()
    left = n
    while left > 0:
        k = min(left, len(unit))
        h.update(unit[:k])
        left -= k
    return h.hexdigest()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def start_backends(st, *names):
    out = []
    for name in names:
        b = Backend(name)
        st.callback(b.stop)
        out.append(b.start())
    return out


def start_proxy(st, backends, **keys):
    keys.setdefault("shutdown_timeout", 5)     # bounds the cleanup of a wedged test
    p = Proxy(backends, **keys)
    st.callback(p.cleanup)
    return p.start()


def tail(p, n=3000):
    """The end of the proxy's log, for assertion messages."""
    try:
        return "\n--- rproxyd log ---\n" + p.logs()[-n:]
    except OSError:
        return ""


def log_lines(p, *words):
    """Log lines containing every one of words."""
    return [l for l in p.logs().splitlines() if all(w in l for w in words)]


def access_line(p, request_id):
    """The access line of one request, waited for: it is written after the response."""
    lines = wait_for(lambda: log_lines(p, "request_id=%s " % request_id, " status="),
                     timeout=5, what="access line of %s" % request_id)
    assert len(lines) == 1, lines
    return dict(kv.split("=", 1) for kv in lines[0].split(": ", 1)[1].split() if "=" in kv)


class FakeServer:
    """A loopback TCP server run by one thread, for backends the demo cannot play.

    It records the time.monotonic() of every accept in .accepted (the list is
    appended before the connection is handled, so a proxy that has seen the
    connection end has also been counted) and hands each connection to
    handler(server, conn) in turn.
    """

    def __init__(self, handler, port=0):
        self.handler = handler
        self.accepted = []
        self.held = []
        self.requests = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def _run(self):
        while not self.done.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            self.accepted.append(time.monotonic())
            conn.settimeout(3.0)
            try:
                self.handler(self, conn)
            except OSError:
                conn.close()

    def stop(self):
        self.done.set()
        self.thread.join(5)
        self.sock.close()
        for c in self.held:
            c.close()
        self.held = []


def read_head(conn):
    """Read one request head (bounded); b'' when the peer closed first."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            return b""
        data += chunk
    return data


def close_at_once(server, conn):
    """A backend that dies before answering: the proxy sees EOF or a reset."""
    conn.close()


def hold_silently(server, conn):
    """A backend that accepts and never answers."""
    server.held.append(conn)


def replier(response):
    """A backend that reads one request, sends response, and closes."""
    def handle(server, conn):
        try:
            server.requests.append(read_head(conn))
            conn.sendall(response)
        finally:
            conn.close()
    return handle


def answer_then_drop(server, conn):
    """Answer the first request kept-alive, then close on the second without a word.

    This is a backend closing an idle keep-alive connection just as the
    proxy reuses it.
    """
    try:
        if not read_head(conn):
            return
        server.requests.append(b"answered")
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfake\n")
        if read_head(conn):
            server.requests.append(b"dropped")
    finally:
        conn.close()


def black_hole(st):
    """A loopback port whose SYNs go unanswered: connects to it time out.

    A socket listening with backlog 0 whose accept queue already holds one
    connection: Linux drops further SYNs while the queue is full.
    """
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    st.callback(lsock.close)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(0)
    port = lsock.getsockname()[1]
    filler = socket.create_connection(("127.0.0.1", port), timeout=2)
    st.callback(filler.close)
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(0.3)
    try:
        probe.connect(("127.0.0.1", port))
        raise AssertionError("black hole port %d accepted a connection: the test "
                             "cannot make a connect time out here" % port)
    except socket.timeout:
        pass
    finally:
        probe.close()
    return port


# ---------------------------------------------------------------------------


def test_round_robin_alternates_across_workers():
    with contextlib.ExitStack() as st:
        b1, b2 = start_backends(st, "backend1", "backend2")
        p = start_proxy(st, [b1, b2], workers=4)
        got = []
        for _ in range(10):
            r = request(p.port, "/")
            assert r.status == 200, "status %d%s" % (r.status, tail(p))
            name = r.headers["x-backend"]
            assert r.body == ("Hello from %s\n" % name).encode(), r.body
            got.append((name, int(r.headers["x-backend-seq"])))
        names = [n for n, _ in got]
        first, second = names[0], ("backend2" if names[0] == "backend1" else "backend1")
        assert names == [first, second] * 5, "not alternating: %s" % names
        for name in ("backend1", "backend2"):
            assert [s for n, s in got if n == name] == [1, 2, 3, 4, 5], got


def test_failover_cooldown_and_recovery():
    """The original README's scenario: b2 dies, b1 serves everything, b2 comes back."""
    threshold, cooldown = 3, 2.0
    with contextlib.ExitStack() as st:
        b1, b2 = start_backends(st, "b1", "b2")
        p = start_proxy(st, [b1, b2], workers=2, failure_threshold=threshold,
                        health_cooldown=cooldown, max_retries=2, connect_timeout=0.5,
                        request_timeout=1.0)
        names = sorted(request(p.port).headers["x-backend"] for _ in range(2))
        assert names == ["b1", "b2"], names

        # b2 dies; in its place a listener that counts connections and drops each.
        b2.stop()
        fake = FakeServer(close_at_once, port=b2.port)
        st.callback(fake.stop)
        for i in range(20):
            r = request(p.port, "/")
            assert r.status == 200 and r.headers["x-backend"] == "b1", \
                "request %d: %d %r%s" % (i, r.status, r.body, tail(p))
            assert r.body == b"Hello from b1\n"
        assert len(fake.accepted) >= threshold, fake.accepted
        # The cooldown began after the third failure was seen, so after this.
        cooldown_from = fake.accepted[threshold - 1]
        for i in range(10):
            r = request(p.port, "/")
            assert r.status == 200 and r.headers["x-backend"] == "b1", \
                "request %d in cooldown: %d%s" % (i, r.status, tail(p))
        in_cooldown = [t for t in fake.accepted if t < cooldown_from + cooldown]
        assert len(in_cooldown) == threshold, \
            "%d connections reached b2 before its cooldown ended (want %d)%s" % (
                len(in_cooldown), threshold, tail(p))

        fails = log_lines(p, "event=backend_failure", "backend=b2 ")
        assert len(fails) >= threshold and all("reason=reset" in l for l in fails), \
            "failures: %s%s" % (fails, tail(p))
        assert log_lines(p, "event=retry", "backend=b2 "), "no retry logged" + tail(p)
        down = log_lines(p, "event=backend_unhealthy", "backend=b2 ")
        assert len(down) == 1, "backend_unhealthy lines: %s%s" % (down, tail(p))

        # The real b2 returns on its port; once the cooldown is over one request probes it.
        fake.stop()
        b2.start()
        seen = []

        def reaches_b2():
            r = request(p.port, "/")
            assert r.status == 200, "status %d while b2 recovers%s" % (r.status, tail(p))
            seen.append((r.headers["x-backend"], r.headers["x-backend-seq"],
                         time.monotonic()))
            return r.headers["x-backend"] == "b2"
        wait_for(reaches_b2, timeout=cooldown + 6, interval=0.05,
                 what="a request to reach b2 after its cooldown")
        name, bseq, when = seen[-1]
        assert bseq == "1", "b2 got %s requests, the probe should be its first" % bseq
        assert when > cooldown_from + cooldown, "b2 was used before its cooldown ended"
        assert all(n == "b1" for n, _, _ in seen[:-1]), seen
        names = [request(p.port, "/").headers["x-backend"] for _ in range(6)]
        assert names == ["b1", "b2"] * 3, "alternation did not resume: %s" % names
        up = wait_for(lambda: log_lines(p, "event=backend_healthy", "backend=b2 "),
                      timeout=5, what="backend_healthy for b2")
        assert len(up) == 1, up
        assert len(log_lines(p, "event=backend_unhealthy", "backend=b2 ")) == 1, tail(p)


def test_request_timeout_retries_on_other_backend():
    with contextlib.ExitStack() as st:
        (a,) = start_backends(st, "alive")
        hang = FakeServer(hold_silently)
        st.callback(hang.stop)
        p = start_proxy(st, [("hang", hang.url), a], workers=2, request_timeout=0.3,
                        connect_timeout=0.5)
        for i in range(6):
            r = request(p.port, "/", timeout=30)     # hang guard
            assert r.status == 200 and r.headers["x-backend"] == "alive", \
                "request %d: %d %r%s" % (i, r.status, r.body, tail(p))
        assert hang.accepted, "the hanging backend was never tried"
        fails = log_lines(p, "event=backend_failure", "backend=hang ")
        assert fails and all("reason=timeout" in l for l in fails), \
            "failures: %s%s" % (fails, tail(p))


def test_all_backends_slow_gives_504():
    with contextlib.ExitStack() as st:
        b1, b2 = start_backends(st, "b1", "b2")
        p = start_proxy(st, [b1, b2], workers=2, request_timeout=0.3, max_retries=2,
                        failure_threshold=10)
        r = request(p.port, "/sleep/1000", headers={"X-Request-ID": "slow-1"})
        assert r.status == 504, "status %d %r%s" % (r.status, r.body, tail(p))
        assert r.headers.get("x-request-id") == "slow-1", r.headers
        assert r.body == b"504 Gateway Timeout\n", r.body
        acc = access_line(p, "slow-1")
        assert acc["status"] == "504" and acc["attempts"] == "3", acc
        fails = log_lines(p, "event=backend_failure", "request_id=slow-1 ")
        assert len(fails) == 3 and all("reason=timeout" in l for l in fails), fails


def test_connect_timeout():
    with contextlib.ExitStack() as st:
        (a,) = start_backends(st, "alive")
        hole = black_hole(st)
        hole_url = "http://127.0.0.1:%d" % hole
        # The black hole comes first, so the first request tries it first.
        p = start_proxy(st, [("hole", hole_url), a], workers=1, connect_timeout=0.2,
                        request_timeout=1.0)
        for i in range(2):
            r = request(p.port, "/")
            assert r.status == 200 and r.headers["x-backend"] == "alive", \
                "request %d: %d%s" % (i, r.status, tail(p))
        fails = log_lines(p, "event=backend_failure", "backend=hole ")
        assert fails and all("reason=connect_timeout" in l for l in fails), \
            "failures: %s%s" % (fails, tail(p))

        # With nothing else to try, the client gets a 504.
        alone = start_proxy(st, [("hole", hole_url)], workers=1, connect_timeout=0.2,
                            request_timeout=1.0)
        r = request(alone.port, "/", headers={"X-Request-ID": "hole-1"})
        assert r.status == 504, "status %d%s" % (r.status, tail(alone))
        fails = log_lines(alone, "event=backend_failure", "request_id=hole-1 ")
        assert fails and all("reason=connect_timeout" in l for l in fails), \
            "failures: %s%s" % (fails, tail(alone))


def test_post_not_retried_after_body_sent():
    with contextlib.ExitStack() as st:
        b1, b2 = start_backends(st, "b1", "b2")
        # No pooled connections: this is about a backend failing on a fresh one.
        p = start_proxy(st, [b1, b2], workers=2, backend_keepalive=0,
                        failure_threshold=10, max_retries=2)
        before = {b.name: seq_of(b) for b in (b1, b2)}
        r = request(p.port, "/drop", "POST", body=b"pay once",
                    headers={"X-Request-ID": "post-drop-1"})
        after = {b.name: seq_of(b) for b in (b1, b2)}
        assert r.status == 502, "status %d%s" % (r.status, tail(p))
        assert r.headers.get("x-request-id") == "post-drop-1", r.headers
        # Each backend's count moved by our second probe, plus the POST if it got it.
        reached = {n: after[n] - before[n] - 1 for n in after}
        assert sorted(reached.values()) == [0, 1], \
            "the POST reached the backends %s times%s" % (reached, tail(p))
        acc = access_line(p, "post-drop-1")
        assert acc["status"] == "502" and acc["attempts"] == "1", acc
        assert not log_lines(p, "event=retry", "request_id=post-drop-1 "), tail(p)


def test_post_not_resent_on_reused_connection():
    """RFC 9112 9.3.1: a proxy MUST NOT automatically retry a non-idempotent request.

    A backend that takes a POST on a pooled connection and closes without an
    answer may have acted on it; sending it again, even to the same backend
    on a fresh connection, can apply it twice.
    """
    with contextlib.ExitStack() as st:
        b1, b2 = start_backends(st, "b1", "b2")
        p = start_proxy(st, [b1, b2], workers=1, failure_threshold=10, max_retries=2)
        # One worker, one request to each backend: both now have a pooled connection.
        names = sorted(request(p.port, "/").headers["x-backend"] for _ in range(2))
        assert names == ["b1", "b2"], names
        before = {b.name: seq_of(b) for b in (b1, b2)}
        r = request(p.port, "/drop", "POST", body=b"pay once",
                    headers={"X-Request-ID": "post-drop-2"})
        after = {b.name: seq_of(b) for b in (b1, b2)}
        assert r.status == 502, "status %d%s" % (r.status, tail(p))
        reached = {n: after[n] - before[n] - 1 for n in after}
        assert sum(reached.values()) == 1, \
            "the POST reached the backends %s times (once expected)%s" % (reached, tail(p))


def test_get_retried_on_each_backend():
    with contextlib.ExitStack() as st:
        b1, b2 = start_backends(st, "b1", "b2")
        p = start_proxy(st, [b1, b2], workers=2, backend_keepalive=0,
                        failure_threshold=10, max_retries=2)
        before = {b.name: seq_of(b) for b in (b1, b2)}
        r = request(p.port, "/drop", headers={"X-Request-ID": "get-drop-1"})
        after = {b.name: seq_of(b) for b in (b1, b2)}
        assert r.status == 502, "status %d%s" % (r.status, tail(p))
        assert r.body == b"502 Bad Gateway\n", r.body
        acc = access_line(p, "get-drop-1")
        attempts = int(acc["attempts"])
        # max_retries=2 allows 3; a second round on the first backend is allowed, not required.
        assert acc["status"] == "502" and attempts in (2, 3), acc
        reached = {n: after[n] - before[n] - 1 for n in after}
        assert all(v >= 1 for v in reached.values()), \
            "a backend was not tried: %s%s" % (reached, tail(p))
        assert sum(reached.values()) == attempts, (reached, acc)
        fails = log_lines(p, "event=backend_failure", "request_id=get-drop-1 ")
        assert len(fails) == attempts, fails
        retries = log_lines(p, "event=retry", "request_id=get-drop-1 ")
        assert len(retries) == attempts - 1, retries


def test_stale_pooled_connection_retried_fresh():
    with contextlib.ExitStack() as st:
        fake = FakeServer(answer_then_drop)
        st.callback(fake.stop)
        p = start_proxy(st, [("fake", fake.url)], workers=1, failure_threshold=1,
                        max_retries=0)
        r = request(p.port, "/", headers={"X-Request-ID": "stale-1"})
        assert r.status == 200 and r.body == b"fake\n", (r.status, r.body)
        # The pooled connection is reused; the backend drops it; the proxy goes fresh.
        r = request(p.port, "/", headers={"X-Request-ID": "stale-2"})
        assert r.status == 200 and r.body == b"fake\n", \
            "status %d %r%s" % (r.status, r.body, tail(p))
        assert fake.requests == [b"answered", b"dropped", b"answered"], fake.requests
        assert len(fake.accepted) == 2, fake.accepted
        # Not the backend's fault: no failure counted, so threshold 1 did not trip.
        assert not log_lines(p, "event=backend_failure"), tail(p)
        assert not log_lines(p, "event=backend_unhealthy"), tail(p)


def test_forwarding_headers():
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        p = start_proxy(st, [b], workers=1)
        r = request(p.port, "/headers", headers={
            "Host": "www.example.test:8443", "X-Forwarded-For": "1.2.3.4",
            "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.test"})
        got = received_headers(r)

        def values(name):
            return [v for k, v in got if k == name]
        assert values("host") == ["www.example.test:8443"], got
        assert values("x-forwarded-for") == ["1.2.3.4, 127.0.0.1"], got
        assert values("x-forwarded-proto") == ["http"], got
        assert values("x-forwarded-host") == ["www.example.test:8443"], got
        rid = values("x-request-id")
        assert len(rid) == 1 and re.fullmatch(r"[0-9a-f]{32}", rid[0]), got
        assert [v for k, v in r.header_list if k.lower() == "x-request-id"] == rid, \
            r.header_list

        for sent, kept in (("abc-123", True), ("x" * 128, True), ("x" * 130, False),
                           ("abc def", False)):
            r = request(p.port, "/headers", headers={"X-Request-ID": sent})
            rid = [v for k, v in received_headers(r) if k == "x-request-id"]
            assert len(rid) == 1, rid
            if kept:
                assert rid[0] == sent, "sane id %r became %r" % (sent, rid[0])
            else:
                assert re.fullmatch(r"[0-9a-f]{32}", rid[0]), \
                    "insane id %r passed as %r" % (sent, rid[0])
            assert r.headers["x-request-id"] == rid[0], (r.headers, rid)


def test_hop_by_hop_request_headers_removed():
    with contextlib.ExitStack() as st:
        (b,) = start_backends(st, "b1")
        p = start_proxy(st, [b], workers=1)
        r = request(p.port, "/headers", headers={
            "Connection": "close, X-Secret", "X-Secret": "1", "Keep-Alive": "300",
            "Proxy-Connection": "x", "TE": "trailers", "Trailer": "X-T",
            "X-Kept": "yes"})
        names = [k for k, _ in received_headers(r)]
        for hop in ("connection", "x-secret", "keep-alive", "proxy-connection", "te",
                    "trailer"):
            assert hop not in names, "%s reached the backend: %s" % (hop, names)
        assert "x-kept" in names, names

        # Upgrade alone (no Connection naming it) is still hop-by-hop.
        r = request(p.port, "/headers", headers={"Upgrade": "foo"})
        names = [k for k, _ in received_headers(r)]
        assert "upgrade" not in names, names

        # A real upgrade request: the proxy does not tunnel, so a plain answer, no 101.
        out = harness.raw(p.port, b"GET /headers HTTP/1.1\r\nHost: t\r\n"
                          b"Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n", timeout=3)
        head, _, body = out.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), out[:300]
        names = [k.lower() for k, _ in json.loads(body)["headers"]]
        assert "upgrade" not in names and "connection" not in names, names


def test_hop_by_hop_response_headers_removed():
    with contextlib.ExitStack() as st:
        fake = FakeServer(replier(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: X-Hop\r\n"
            b"X-Hop: 1\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\n"
            b"Trailer: X-T\r\nUpgrade: foo\r\nX-Other: 2\r\n\r\nok\n"))
        st.callback(fake.stop)
        p = start_proxy(st, [("fake", fake.url)], workers=1)
        r = request(p.port, "/")
        assert r.status == 200 and r.body == b"ok\n", (r.status, r.body)
        names = r.names()
        for hop in ("x-hop", "keep-alive", "proxy-connection", "trailer", "upgrade"):
            assert hop not in names, "%s reached the client: %s" % (hop, r.header_list)
        assert "x-hop" not in r.headers.get("connection", "").lower(), r.header_list
        assert r.headers.get("x-other") == "2", r.header_list
        assert re.fullmatch(r"[0-9a-f]{32}", r.headers.get("x-request-id", "")), \
            r.header_list


def proxy_backend_conns(ports):
    """Local ports of this host's established TCP connections to any of ports."""
    out = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] != "01":    # ESTABLISHED
                continue
            if int(fields[2].rsplit(":", 1)[1], 16) in ports:
                out.add(int(fields[1].rsplit(":", 1)[1], 16))
    return out


def test_upstream_connections_reused():
    with contextlib.ExitStack() as st:
        b1, b2 = start_backends(st, "b1", "b2")
        p = start_proxy(st, [b1, b2], workers=1)
        ports = {b1.port, b2.port}
        before = {b.name: seq_of(b) for b in (b1, b2)}
        wait_for(lambda: not proxy_backend_conns(ports), timeout=5,
                 what="no connection to the backends yet")
        used = set()
        c = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        try:
            for i in range(20):
                c.request("GET", "/")
                r = c.getresponse()
                r.read()
                assert r.status == 200, "request %d: %d%s" % (i, r.status, tail(p))
                now = proxy_backend_conns(ports)
                assert len(now) <= 2, "request %d: %d connections open" % (i, len(now))
                used |= now
        finally:
            c.close()
        after = {b.name: seq_of(b) for b in (b1, b2)}
        proxied = {n: after[n] - before[n] - 1 for n in after}
        assert proxied == {"b1": 10, "b2": 10}, proxied
        assert len(used) == 2, \
            "20 requests used %d backend connections, want one per backend" % len(used)


def test_ipv6_end_to_end():
    """Listening on ::1 and proxying to a backend on ::1: the client's IPv6
    address in X-Forwarded-For, and in brackets in the access line."""
    with contextlib.ExitStack() as st:
        b = Backend("v6", addr="::1")
        st.callback(b.stop)
        b.start()
        p = start_proxy(st, [b], workers=1, host="::1")
        s = socket.create_connection(("::1", p.port), timeout=10)
        st.callback(s.close)
        client_port = s.getsockname()[1]
        s.sendall(b"GET /headers HTTP/1.1\r\nHost: v6.test\r\nConnection: close\r\n"
                  b"X-Request-ID: v6-1\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), head
        got = [(k.lower(), v) for k, v in json.loads(body)["headers"]]
        assert ("x-forwarded-for", "::1") in got, got
        assert ("host", "v6.test") in got, got
        f = access_line(p, "v6-1")
        assert f["client"] == "[::1]:%d" % client_port, f
        assert f["backend"] == "v6", f


if __name__ == "__main__":
    harness.run([
        test_round_robin_alternates_across_workers,
        test_failover_cooldown_and_recovery,
        test_request_timeout_retries_on_other_backend,
        test_all_backends_slow_gives_504,
        test_connect_timeout,
        test_post_not_retried_after_body_sent,
        test_post_not_resent_on_reused_connection,
        test_get_retried_on_each_backend,
        test_stale_pooled_connection_retried_fresh,
        test_forwarding_headers,
        test_hop_by_hop_request_headers_removed,
        test_hop_by_hop_response_headers_removed,
        test_upstream_connections_reused,
        test_ipv6_end_to_end,
    ])
