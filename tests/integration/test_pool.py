#!/usr/bin/env python3
"""test_pool.py: the adaptive worker pool grows with the load, shrinks back,
loses no request while it does, holds its ceiling, and a fixed pool stays fixed.

The pools here are small and their timers short (worker_idle_timeout under a
second) so that each test takes seconds; every wait polls with a deadline and
every load loop is bounded in count and time.
"""
import http.client as httpclient
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import RPROXYD, Backend, Proxy, http, run, wait_for  # noqa: E402

SAMPLE = re.compile(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$')


def scrape(p):
    """The metrics as {(name, ((label, value), ...)): value}."""
    st, _, body = http(p.metrics_port, "/metrics", timeout=10)
    assert st == 200, st
    out = {}
    for line in body.decode().splitlines():
        m = SAMPLE.match(line)
        if m:
            labels = tuple(sorted(re.findall(r'(\w+)="([^"]*)"', m.group(2) or "")))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def metric(s, name, **labels):
    return s.get((name, tuple(sorted(labels.items()))), 0)


def status(p):
    r = subprocess.run([RPROXYD, "-s", "status", "-c", p.conf], capture_output=True,
                       text=True, timeout=10)
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return r.stdout


def adaptive(backends, **keys):
    """An adaptive pool, small and quick: 2 to 40 workers, 1 or 2 spare."""
    conf = dict(workers=0, min_workers=2, max_workers=40, min_spare_workers=1,
                max_spare_workers=2, worker_idle_timeout=0.5)
    conf.update(keys)
    return Proxy(backends, **conf)


class Load:
    """n client threads, each on one keep-alive connection, sending what
    plan(client, i) says ((method, path, body) or None to pause 50 ms),
    at most max_requests each and until stop() or the deadline."""

    def __init__(self, port, n, plan, max_requests=400, seconds=60.0):
        self.port, self.plan, self.max_requests = port, plan, max_requests
        self.deadline = time.monotonic() + seconds
        self.done = threading.Event()
        self.results = []       # (client, method, path, status or error, body ok)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.client, args=(c,), daemon=True)
                        for c in range(n)]
        for t in self.threads:
            t.start()

    def client(self, c):
        conn = httpclient.HTTPConnection("127.0.0.1", self.port, timeout=20)
        for i in range(self.max_requests):
            if self.done.is_set() or time.monotonic() >= self.deadline:
                break
            req = self.plan(c, i)
            if req is None:
                time.sleep(0.05)
                continue
            method, path, body = req
            try:
                conn.request(method, path, body=body)
                r = conn.getresponse()
                data = r.read()
                ok = data == body if path == "/echo" else len(data) > 0
                res = (c, method, path, r.status, ok)
            except Exception as e:  # a failed request: what the tests count
                res = (c, method, path, repr(e), False)
                conn.close()
                conn = httpclient.HTTPConnection("127.0.0.1", self.port, timeout=20)
            with self.lock:
                self.results.append(res)
        conn.close()

    def count(self):
        with self.lock:
            return len(self.results)

    def stop(self):
        self.done.set()
        for t in self.threads:
            t.join(30)
        assert not any(t.is_alive() for t in self.threads), "a client hangs"
        return self.results

    def failed(self):
        return [r for r in self.results if r[3] != 200 or not r[4]]


def test_grows_then_shrinks_to_min():
    """30 clients on a 300 ms backend: the pool grows from 2 to serve them all
    at once, then, the load gone, retires back to its minimum."""
    b = Backend("b1").start()
    p = adaptive([b]).start()
    try:
        # At min_workers (the keeper's name is set just after its fork: poll).
        wait_for(lambda: len(p.worker_pids()) == 2, what="2 workers at the start")
        load = Load(p.port, 30, lambda c, i: ("GET", "/sleep/300", None), seconds=40)
        wait_for(lambda: len(p.worker_pids()) >= 31, timeout=20,
                 what="31 workers (30 busy, 1 spare)")
        s = scrape(p)
        assert metric(s, "rproxyd_worker_spawns_total", reason="grow") >= 29, s
        assert 31 <= metric(s, "rproxyd_workers_target") <= 40
        assert metric(s, "rproxyd_workers_limit", bound="max") == 40
        out = status(p)
        assert re.search(r"^pool adaptive 2-40 workers, target \d+: ", out, re.M), out
        wait_for(lambda: load.count() >= 200, timeout=20, what="200 responses")
        results = load.stop()
        assert not load.failed(), load.failed()[:5]
        assert re.search(r"event=pool_resize grew=\d+ shrank=0 ", p.logs()), p.logs()
        # The load gone: only the minimum stays, every other one retired cleanly.
        wait_for(lambda: len(p.worker_pids()) == 2, timeout=30,
                 what="the pool back at min_workers (2)")
        s = scrape(p)
        assert metric(s, "rproxyd_workers_target") == 2
        assert metric(s, "rproxyd_worker_retirements_total", reason="idle") >= 29
        assert metric(s, "rproxyd_worker_restarts_total") == 0
        assert "event=worker_respawn" not in p.logs()
        # Rate-limited: the line may come up to 5 s after the change.
        wait_for(lambda: re.search(r"event=pool_resize grew=\d+ shrank=[1-9]", p.logs()),
                 timeout=10, what="an event=pool_resize line for the shrink")
        # Still serving at the minimum.
        assert http(p.port, "/")[0] == 200
        print("  %d responses" % len(results))
    finally:
        p.cleanup()
        b.stop()


WAVE = 2.5     # seconds: over two sizing ticks, so each wave grows or shrinks the pool


def mixed(c, i):
    """GET, POST with a body, and slow requests; half the clients pause in
    turns, so that the pool keeps growing and shrinking."""
    phase = int(time.monotonic() / WAVE) % 2
    if c >= 8 and phase == 1:
        return None
    k = (c + i) % 3
    if k == 0:
        return "GET", "/", None
    if k == 1:
        return "POST", "/echo", b"x" * (1000 + 37 * c + i)
    return "GET", "/sleep/%d" % (50 + 50 * (c % 6)), None


def test_resize_under_mixed_load_fails_nothing():
    """16 clients, GET, POST and slow requests, in waves that make the pool
    grow and retire workers over and over, with a reload in the middle: no
    request fails, and the new generation starts at the size the load needs."""
    b1, b2 = Backend("b1").start(), Backend("b2").start()
    p = adaptive([b1, b2], min_workers=1, max_workers=16, worker_idle_timeout=0.2).start()
    try:
        load = Load(p.port, 16, mixed, max_requests=2000, seconds=40)

        def churned(n):
            """n retirements so far, and as many starts past the first 15
            (16 workers at most: later ones replaced retired ones)."""
            s = scrape(p)
            return metric(s, "rproxyd_worker_retirements_total", reason="idle") >= n and \
                metric(s, "rproxyd_worker_spawns_total", reason="grow") >= 15 + n
        wait_for(lambda: churned(3), timeout=25, what="the pool to grow and shrink")
        # Into a phase where all 16 clients send, most of them slow requests.
        wait_for(lambda: int(time.monotonic() / WAVE) % 2 == 0 and
                 time.monotonic() % WAVE > 0.3, timeout=2 * WAVE, what="a busy phase")
        mark = len(p.logs())
        p.signal(signal.SIGHUP)
        line = wait_for(lambda: re.search(r"event=reload result=success generation=1 "
                                          r"\S+ workers=(\d+)", p.logs(mark)),
                        timeout=10, what="the reload")
        # min_workers is 1: a larger new generation was sized by the load.
        assert int(line.group(1)) >= 2, line.group(0)
        n = load.count()
        wait_for(lambda: load.count() >= n + 300, timeout=20,
                 what="300 responses after the reload")
        wait_for(lambda: churned(6), timeout=25, what="more growing and shrinking")
        results = load.stop()
        assert not load.failed(), load.failed()[:5]
        kinds = {(m, path.split("/")[1]) for _, m, path, _, _ in results}
        assert {("GET", ""), ("POST", "echo"), ("GET", "sleep")} <= kinds, kinds
        s = scrape(p)
        assert metric(s, "rproxyd_worker_spawns_total", reason="reload") >= 1
        assert metric(s, "rproxyd_worker_retirements_total", reason="reload") >= 1
        assert metric(s, "rproxyd_worker_restarts_total") == 0
        print("  %d responses, %d retired idle, %d grown" % (
            len(results), metric(s, "rproxyd_worker_retirements_total", reason="idle"),
            metric(s, "rproxyd_worker_spawns_total", reason="grow")))
    finally:
        p.cleanup()
        b1.stop()
        b2.stop()


def read_response(sock, out, i):
    """Read what comes until EOF: out[i] = (time of the end, status line or error)."""
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        out[i] = (time.monotonic(), data.split(b"\r\n", 1)[0].decode())
    except OSError as e:    # a reset: what the test rules out
        out[i] = (time.monotonic(), repr(e))
    finally:
        sock.close()


def test_ceiling_holds():
    """At max_workers = 1, six slow requests wait and are served one after
    another in order of arrival, none reset; meanwhile the keeper's
    client_header_timeout and keepalive_timeout still apply."""
    b = Backend("b1").start()
    p = adaptive([b], min_workers=1, max_workers=1, min_spare_workers=0,
                 max_spare_workers=1, client_header_timeout=0.5,
                 keepalive_timeout=0.5).start()
    try:
        # An idle keep-alive connection, parked in the keeper.
        idle = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        idle.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        assert idle.recv(65536).startswith(b"HTTP/1.1 200")
        # Sent one by one from here, so the order of arrival is known.
        out = [None] * 6
        threads = []
        for i in range(6):
            c = socket.create_connection(("127.0.0.1", p.port), timeout=30)
            c.sendall(b"GET /sleep/250 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            t = threading.Thread(target=read_response, args=(c, out, i), daemon=True)
            t.start()
            threads.append(t)
            time.sleep(0.02)
        # The one worker is busy: a slow head still gets its 408 ...
        slow = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        slow.sendall(b"GET / HTTP/1.1\r\n")
        assert slow.recv(65536).startswith(b"HTTP/1.1 408"), "no 408 for a slow head"
        slow.close()
        # ... and the idle connection is closed at keepalive_timeout.
        assert idle.recv(65536) == b"", "idle connection not closed"
        idle.close()
        peak, end = 0, time.monotonic() + 30
        while any(t.is_alive() for t in threads) and time.monotonic() < end:
            peak = max(peak, len(p.worker_pids()))
            threads[-1].join(0.05)
        assert all(o is not None and o[1] == "HTTP/1.1 200 OK" for o in out), out
        done = [o[0] for o in out]
        assert done == sorted(done), "not served in order of arrival: %r" % done
        assert peak <= 1, "the pool went past max_workers: %d" % peak
        assert metric(scrape(p), "rproxyd_workers_target") == 1
    finally:
        p.cleanup()
        b.stop()


def test_fixed_workers_never_change():
    """workers = 3: exactly 3 workers whatever the load, none started or
    retired by the pool, and status says so."""
    b = Backend("b1").start()
    p = Proxy([b], workers=3, min_workers=1, max_workers=50).start()
    try:
        wait_for(lambda: len(p.worker_pids()) == 3, what="3 workers")
        pids = sorted(p.worker_pids())
        load = Load(p.port, 12, lambda c, i: ("GET", "/sleep/100", None), seconds=30)
        end = time.monotonic() + 3
        while time.monotonic() < end:
            assert sorted(p.worker_pids()) == pids, p.worker_pids()
            time.sleep(0.1)
        s = scrape(p)
        assert metric(s, "rproxyd_workers", state="busy") == 3, s
        assert metric(s, "rproxyd_connections_waiting_for_worker") > 0, s
        load.stop()
        assert not load.failed(), load.failed()[:5]
        # Idle for longer than worker_idle_timeout's default: still the same three.
        time.sleep(1.5)
        assert sorted(p.worker_pids()) == pids
        s = scrape(p)
        assert metric(s, "rproxyd_workers_target") == 3
        assert metric(s, "rproxyd_worker_spawns_total", reason="start") == 3
        assert metric(s, "rproxyd_worker_spawns_total", reason="grow") == 0
        assert metric(s, "rproxyd_worker_retirements_total", reason="idle") == 0
        assert re.search(r"^pool fixed 3 workers: 3 idle, 0 busy", status(p), re.M), \
            status(p)
        assert "event=pool_resize" not in p.logs()
    finally:
        p.cleanup()
        b.stop()


if __name__ == "__main__":
    run([test_grows_then_shrinks_to_min, test_resize_under_mixed_load_fails_nothing,
         test_ceiling_holds, test_fixed_workers_never_change])
