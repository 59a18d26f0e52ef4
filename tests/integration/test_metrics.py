#!/usr/bin/env python3
"""test_metrics.py: the Prometheus endpoint the metrics process serves on metrics_listen.

Counts through the proxy must show up exactly, survive a worker's SIGKILL
without going backwards, pass promtool, and the endpoint must answer while
other scrapers stall it. The root master holds no socket but its listeners;
the metrics process runs as `user`, is respawned, and follows a reload.
"""
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RPROXYD, Backend, Proxy, Skip, children, cpu_ticks,  # noqa: E402
                     port_open, proc_status, raw, run, wait_for, http as get)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


class Scrape:
    """One parsed exposition: families (name -> type), help, and samples."""

    def __init__(self, text):
        self.text = text
        self.types = {}
        self.helps = {}
        self.samples = {}   # (name, frozenset of (label, value)) -> float
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, h = line[7:].partition(" ")
                self.helps[name] = h
            elif line.startswith("# TYPE "):
                name, _, t = line[7:].partition(" ")
                self.types[name] = t
            elif line and not line.startswith("#"):
                m = SAMPLE_RE.match(line)
                assert m, "bad sample line %r" % line
                labels = frozenset((k, v) for k, v, _ in
                                   LABEL_RE.findall(m.group(2) or ""))
                key = (m.group(1), labels)
                assert key not in self.samples, "duplicate series %r" % line
                self.samples[key] = float(m.group(3))

    def get(self, name, **labels):
        """The one series with exactly these labels, or None."""
        return self.samples.get((name, frozenset(labels.items())))

    def sum(self, name, **match):
        """Sum of every series of name whose labels include match."""
        want = set(match.items())
        return sum(v for (n, ls), v in self.samples.items()
                   if n == name and want <= set(ls))

    def series(self, name):
        return {ls: v for (n, ls), v in self.samples.items() if n == name}


def scrape(p, path="/metrics"):
    st, hdrs, body = get(p.metrics_port, path)
    assert st == 200, "scrape %s: %d %r" % (path, st, body[:200])
    assert hdrs.get("content-type") == CONTENT_TYPE, hdrs
    assert hdrs.get("connection", "").lower() == "close", hdrs
    return Scrape(body.decode("utf-8"))


def settled(p, n):
    """A scrape once all n client requests are counted: a worker counts a
    request after its last byte has gone to the client, so a scrape racing
    the response may not see it yet."""
    got = []

    def counted():
        got[:] = [scrape(p)]
        return got[0].get("rproxyd_request_duration_seconds_count") == n
    wait_for(counted, timeout=5, what="%d requests counted" % n)
    return got[0]


def counter_series(s):
    """Every series that must never go backwards: counters and histogram parts."""
    out = {}
    for (n, ls), v in s.samples.items():
        base = re.sub(r'_(bucket|sum|count)$', "", n)
        if n.endswith("_total") or s.types.get(base) == "histogram":
            out[(n, ls)] = v
    return out


def assert_not_backwards(old, new, what):
    for key, v in counter_series(old).items():
        assert key in new.samples, "%s: series %r disappeared" % (what, key)
        assert new.samples[key] >= v, "%s: %r went from %g to %g" % (
            what, key, v, new.samples[key])


def listening_ports(pid):
    """TCP ports pid holds listening sockets for, from /proc/PID/fd and /proc/net."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r'socket:\[(\d+)\]', link)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A" and fields[9] in inodes:
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def socket_inodes(pid):
    """The inodes of the sockets pid holds, from /proc/PID/fd."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            m = re.match(r'socket:\[(\d+)\]', os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    return inodes


def socket_table():
    """inode -> (kind, state, local port) for every socket in /proc/net: kind
    is tcp, udp or unix (state then the socket type: 0001 stream, 0002
    datagram, 0005 seqpacket)."""
    out = {}
    for kind, tables in (("tcp", ("tcp", "tcp6")), ("udp", ("udp", "udp6"))):
        for t in tables:
            with open("/proc/net/" + t) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    out[fields[9]] = (kind, fields[3],
                                      int(fields[1].rsplit(":", 1)[1], 16))
    with open("/proc/net/unix") as f:
        next(f)
        for line in f:
            fields = line.split()
            out[fields[6]] = ("unix", fields[4], None)
    return out


def assert_process_sums(s, procs):
    """process_open_fds and process_resident_memory_bytes are summed over procs
    (master, keeper, metrics process and workers; a scrape opens a few more)."""
    fds = sum(len(os.listdir("/proc/%d/fd" % pid)) for pid in procs)
    assert abs(s.get("process_open_fds") - fds) <= 4, (s.get("process_open_fds"), fds)
    page = os.sysconf("SC_PAGESIZE")
    rss = 0
    for pid in procs:
        with open("/proc/%d/statm" % pid) as f:
            rss += int(f.read().split()[1]) * page
    got = s.get("process_resident_memory_bytes")
    assert 0.5 * rss <= got <= 2 * rss, (got, rss)


def setup(workers=2, **keys):
    b1 = Backend("b1").start()
    b2 = Backend("b2").start()
    p = Proxy([b1, b2], workers=workers, **keys).start()
    # Both sockets are bound before the workers are forked: wait for all three.
    wait_for(lambda: port_open(p.metrics_port), what="metrics port")
    wait_for(lambda: len(p.worker_pids()) == workers, what="%d workers" % workers)
    return b1, b2, p


def teardown(*things):
    for t in things:
        if isinstance(t, Proxy):
            t.cleanup()
        else:
            t.stop()


def send(p, n, path="/"):
    answered = {}
    for _ in range(n):
        st, hdrs, _ = get(p.port, path)
        assert st == 200, "request through the proxy: %d" % st
        answered[hdrs.get("x-backend")] = answered.get(hdrs.get("x-backend"), 0) + 1
    return answered


def slow_request_in_flight(p):
    """Start a 1 s request in a thread; return (thread, result dict) once the
    metrics show it in flight. result["st"] is its status once joined."""
    result = {}

    def slow():
        result["st"] = get(p.port, "/sleep/1000", timeout=10)[0]
    t = threading.Thread(target=slow)
    t.start()
    wait_for(lambda: scrape(p).sum("rproxyd_backend_inflight") == 1, timeout=5,
             what="request in flight")
    return t, result


def test_counts_after_requests():
    b1, b2, p = setup()
    try:
        answered = send(p, 20)
        assert answered == {"b1": 10, "b2": 10}, answered
        s = settled(p, 20)
        root = scrape(p, "/")
        assert set(s.types) == set(root.types), "/ and /metrics differ"
        # Every family says what it is.
        for name in s.types:
            assert name in s.helps and s.helps[name], "no HELP for %s" % name
        for (n, _ls) in s.samples:
            base = re.sub(r'_(bucket|sum|count)$', "", n)
            assert n in s.types or base in s.types, "no TYPE for %s" % n
        for name, t in [("rproxyd_requests_total", "counter"),
                        ("rproxyd_backend_failures_total", "counter"),
                        ("rproxyd_retries_total", "counter"),
                        ("rproxyd_backend_request_duration_seconds", "histogram"),
                        ("rproxyd_request_duration_seconds", "histogram"),
                        ("rproxyd_backend_healthy", "gauge"),
                        ("rproxyd_backend_inflight", "gauge"),
                        ("rproxyd_backend_state_changes_total", "counter"),
                        ("rproxyd_client_responses_total", "counter"),
                        ("rproxyd_workers", "gauge"),
                        ("rproxyd_worker_restarts_total", "counter"),
                        ("rproxyd_config_reloads_total", "counter"),
                        ("rproxyd_build_info", "gauge"),
                        ("rproxyd_connections_total", "counter"),
                        ("rproxyd_client_bytes_total", "counter"),
                        ("process_cpu_seconds_total", "counter"),
                        ("process_resident_memory_bytes", "gauge"),
                        ("process_virtual_memory_bytes", "gauge"),
                        ("process_open_fds", "gauge"),
                        ("process_max_fds", "gauge"),
                        ("process_start_time_seconds", "gauge")]:
            assert s.types.get(name) == t, "%s: type %r" % (name, s.types.get(name))

        assert s.sum("rproxyd_requests_total") == 20, s.series("rproxyd_requests_total")
        assert s.get("rproxyd_requests_total", backend="b1", code="200") == 10
        assert s.get("rproxyd_requests_total", backend="b2", code="200") == 10
        assert s.get("rproxyd_request_duration_seconds_count") == 20
        assert s.get("rproxyd_request_duration_seconds_bucket", le="+Inf") == 20
        assert s.get("rproxyd_client_responses_total", code="200") == 20
        for b in ("b1", "b2"):
            assert s.get("rproxyd_backend_healthy", backend=b) == 1
            assert s.get("rproxyd_backend_inflight", backend=b) == 0
            assert s.get("rproxyd_backend_request_duration_seconds_count", backend=b) == 10
            assert s.get("rproxyd_retries_total", backend=b) == 0
            for reason in ("connect", "connect_timeout", "timeout", "reset",
                           "bad_response"):
                assert s.get("rproxyd_backend_failures_total", backend=b,
                             reason=reason) == 0, (b, reason)
            # Cumulative buckets, ascending bounds, ending in +Inf = _count.
            buckets = sorted(((float(dict(ls)["le"]), v) for ls, v in
                              s.series("rproxyd_backend_request_duration_seconds_bucket")
                              .items() if dict(ls)["backend"] == b))
            assert len(buckets) == 15, buckets
            assert buckets[-1][0] == float("inf") and buckets[-1][1] == 10
            assert all(a[1] <= c[1] for a, c in zip(buckets, buckets[1:])), buckets
        assert s.get("rproxyd_workers", state="idle") + \
            s.get("rproxyd_workers", state="busy") == 2
        assert s.get("rproxyd_worker_restarts_total") == 0
        assert s.get("rproxyd_config_reloads_total", result="success") == 0
        assert s.get("rproxyd_config_reloads_total", result="failure") == 0
        assert s.sum("rproxyd_build_info") == 1
        # 20 requests plus the harness's port probe.
        assert s.get("rproxyd_connections_total") >= 20
        assert s.get("rproxyd_client_bytes_total", direction="out") > 0
    finally:
        teardown(p, b1, b2)


def test_promtool_accepts():
    b1, b2, p = setup()
    try:
        send(p, 4)
        _, _, body = get(p.metrics_port, "/metrics")
        if shutil.which("promtool") is None:
            raise Skip("promtool not installed (Debian package prometheus)")
        r = subprocess.run(["promtool", "check", "metrics"], input=body,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=20)
        assert r.returncode == 0 and not r.stdout.strip(), \
            "promtool: rc=%d %s" % (r.returncode, r.stdout.decode())
    finally:
        teardown(p, b1, b2)


def test_worker_sigkill_counters_keep():
    b1, b2, p = setup()
    try:
        send(p, 16)
        # Some bulk so that the victim has CPU seconds to lose, were the master
        # to forget its reaped children's times.
        for _ in range(4):
            st, _, body = get(p.port, "/bytes/20000000")
            assert st == 200 and len(body) == 20000000
        before = settled(p, 20)
        pids = p.worker_pids()
        assert len(pids) == 2, pids
        victim = max(pids, key=cpu_ticks)
        print("victim %d: %d CPU ticks" % (victim, cpu_ticks(victim)))
        os.kill(victim, signal.SIGKILL)
        scrapes = [before]

        def respawned():
            s = scrape(p)
            scrapes.append(s)
            now = p.worker_pids()
            return (s.get("rproxyd_worker_restarts_total") == 1 and len(now) == 2 and
                    victim not in now and
                    s.get("rproxyd_workers", state="idle") == 2)
        wait_for(respawned, timeout=10, what="worker respawned")
        # Every scrape taken around the kill, in order: nothing went backwards.
        for i in range(1, len(scrapes)):
            assert_not_backwards(scrapes[i - 1], scrapes[i], "scrape %d" % i)
        after = scrapes[-1]
        # The dead worker's counts were folded, neither lost nor doubled.
        assert after.sum("rproxyd_requests_total") == 20, \
            after.series("rproxyd_requests_total")
        assert after.get("rproxyd_request_duration_seconds_count") == 20
        assert after.get("rproxyd_client_responses_total", code="200") == 20
        assert after.get("rproxyd_worker_restarts_total") == 1
        # And counting goes on from there.
        send(p, 4)
        s = settled(p, 24)
        assert_not_backwards(after, s, "after respawn")
        assert s.get("rproxyd_requests_total", backend="b1", code="200") == 12
        assert s.get("rproxyd_requests_total", backend="b2", code="200") == 12
        # Only the master holds the metrics socket: a forked worker must not
        # keep a scrape's connection (or the listener) open.
        master = p.proc.pid
        assert p.metrics_port in listening_ports(master)
        for w in p.worker_pids():
            assert p.metrics_port not in listening_ports(w), \
                "worker %d holds the metrics listener" % w
    finally:
        teardown(p, b1, b2)


def test_backend_failures_and_health():
    b1, b2, p = setup(failure_threshold=3, health_cooldown=60, max_retries=2)
    try:
        send(p, 2)
        b2.stop()
        seen_unhealthy = False
        for _ in range(12):
            st, hdrs, _ = get(p.port, "/")
            # A retry on b1 hides b2's death from the client.
            assert st == 200 and hdrs.get("x-backend") == "b1", (st, hdrs)
            s = scrape(p)
            fails = s.get("rproxyd_backend_failures_total", backend="b2",
                          reason="connect")
            healthy = s.get("rproxyd_backend_healthy", backend="b2")
            # Healthy exactly until the threshold's failure, then out.
            assert healthy == (1 if fails < 3 else 0), (fails, healthy)
            seen_unhealthy = seen_unhealthy or healthy == 0
        assert seen_unhealthy
        assert fails == 3, "b2 is skipped in cooldown: no further failures (%g)" % fails
        assert s.get("rproxyd_backend_healthy", backend="b1") == 1
        assert s.get("rproxyd_backend_state_changes_total", backend="b2",
                     to="unhealthy") == 1
        assert s.get("rproxyd_backend_state_changes_total", backend="b2",
                     to="healthy") == 0
        assert s.get("rproxyd_retries_total", backend="b2") == 3
        assert s.get("rproxyd_retries_total", backend="b1") == 0
        assert s.get("rproxyd_backend_failures_total", backend="b1",
                     reason="connect") == 0
        assert settled(p, 14).get("rproxyd_client_responses_total", code="200") == 14
    finally:
        teardown(p, b1, b2)


def test_paths_and_methods():
    b1, b2, p = setup()
    try:
        st, hdrs, body = get(p.metrics_port, "/nope")
        assert st == 404, st
        assert hdrs.get("connection", "").lower() == "close"
        st, _, _ = get(p.metrics_port, "/metricsx")
        assert st == 404, st
        st, hdrs, _ = get(p.metrics_port, "/metrics", method="POST", body=b"x" * 100)
        assert st == 405 and "GET" in hdrs.get("allow", ""), (st, hdrs)
        st, hdrs, body = get(p.metrics_port, "/metrics", method="HEAD")
        assert st == 200 and body == b"" and int(hdrs["content-length"]) > 1000, \
            (st, hdrs)
        st, _, body = get(p.metrics_port, "/metrics?x=1")
        assert st == 200 and b"rproxyd_requests_total" in body
        # Refused heads are answered (never reset), then the connection closes.
        for req, status in [(b"GET /metrics HTTP/1.1 junk\r\n\r\n", b"400"),
                            (b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\n\r\n", b"414"),
                            (b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 40 + b"\r\n", b"431"),
                            (b"GET / HTTP/1.1\r\nX: " + b"y" * 5000 + b"\r\n\r\n",
                             b"431")]:
            out = raw(p.metrics_port, req)
            assert out.startswith(b"HTTP/1.1 " + status + b" "), (status, out[:80])
            assert out.endswith(b"\n") and b"<RESET>" not in out, out[-80:]
        # The server is still there after all that.
        assert scrape(p).get("rproxyd_worker_restarts_total") == 0
    finally:
        teardown(p, b1, b2)


def test_stalled_scrapers_do_not_wedge():
    """Fill the connection table with silent clients: they are cut at the
    deadline, the master keeps supervising, and the next scrape is answered."""
    b1, b2, p = setup()
    idle = []
    try:
        for _ in range(20):     # more than the 16-entry table
            idle.append(socket.create_connection(("127.0.0.1", p.metrics_port),
                                                 timeout=10))
        # The master is not stuck: it still respawns a killed worker now.
        victim = p.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(p.worker_pids()) == 2 and victim not in p.worker_pids(),
                 timeout=5, what="respawn while scrapers stall")
        s = scrape(p)           # queued behind the stalled ones at worst
        assert s.get("rproxyd_worker_restarts_total") == 1
        # The silent ones were closed by the server (EOF), not left open.
        for c in idle[:16]:
            c.settimeout(8)
            try:
                data = c.recv(100)
            except socket.timeout:
                raise AssertionError("a silent client never saw EOF: does a "
                                     "forked worker hold its socket?")
            assert data == b"", "a silent client got data %r" % data
    finally:
        for c in idle:
            c.close()
        teardown(p, b1, b2)


def test_drain_busy_then_gone():
    """During a graceful stop the endpoint still answers (the draining worker
    counts as busy); once the daemon has exited nothing listens there."""
    b1, b2, p = setup(workers=1, request_timeout=5)
    try:
        # Past the worker's start (see test_spawn_keeps_busy_state).
        send(p, 2)
        scrape(p)
        t, result = slow_request_in_flight(p)
        s = scrape(p)
        assert s.get("rproxyd_workers", state="busy") == 1, s.series("rproxyd_workers")
        p.signal(signal.SIGTERM)
        s = scrape(p)
        assert s.get("rproxyd_workers", state="busy") == 1
        t.join(10)
        assert result.get("st") == 200, result
        assert p.proc.wait(10) == 0
        assert not port_open(p.metrics_port), "metrics still served after exit"
    finally:
        teardown(p, b1, b2)


def test_spawn_keeps_busy_state():
    """A worker that takes a connection before the master has returned from
    fork() must still count as busy. The master's return from clone() is held
    back 300 ms with strace so that the worker is sure to get there first."""
    if shutil.which("strace") is None:
        raise Skip("strace not installed")
    b1 = Backend("b1").start()
    b2 = Backend("b2").start()
    p = Proxy([b1, b2], workers=1, request_timeout=5)
    p.logf = open(p.log, "ab")
    # LeakSanitizer cannot run under ptrace; the other sanitizers still do.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"
    p.proc = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null",
                               "-e", "trace=clone,clone3",
                               "-e", "inject=clone,clone3:delay_exit=300000",
                               RPROXYD, "-f", "-c", p.conf],
                              stdout=p.logf, stderr=p.logf, env=env)
    try:
        try:
            p.learn_ports(p.logs, p.proc)
        except AssertionError:
            if p.proc.poll() is not None:
                raise Skip("strace cannot trace here: %s" % p.logs()[-200:])
            raise
        # A scrape is answered only once the master is back from fork().
        t, result = slow_request_in_flight(p)
        s = scrape(p)
        t.join(10)
        assert result.get("st") == 200, result
        assert s.get("rproxyd_workers", state="busy") == 1, \
            "busy worker shown as %r" % s.series("rproxyd_workers")
    finally:
        # SIGTERM to strace would only detach it: stop the master itself.
        for pid in children(p.proc.pid):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        teardown(p, b1, b2)


def test_metrics_off():
    b1 = Backend("b1").start()
    b2 = Backend("b2").start()
    p = Proxy([b1, b2], workers=1)
    try:
        p.write_config(text=re.sub(r'metrics_listen = .*', 'metrics_listen = "off"',
                                   p.config_text()))
        p.start()
        assert send(p, 2) == {"b1": 1, "b2": 1}
        assert p.metrics_port is None, "metrics_listen=off reported as a port"
        assert listening_ports(p.proc.pid) == {p.port}
    finally:
        teardown(p, b1, b2)


def test_process_metrics():
    b1, b2, p = setup()
    try:
        send(p, 4)
        s = scrape(p)
        procs = [p.proc.pid] + p.worker_pids() + p.keeper_pids() + p.metrics_pids()
        assert len(procs) == 5
        assert_process_sums(s, procs)
        assert s.get("process_virtual_memory_bytes") > s.get("process_resident_memory_bytes")
        assert s.get("process_max_fds") > 0
        assert s.get("process_cpu_seconds_total") >= 0
        start = s.get("process_start_time_seconds")
        assert time.time() - 3600 < start <= time.time() + 1, start
    finally:
        teardown(p, b1, b2)


def test_worker_sigkill_under_load():
    """A worker SIGKILLed while 4 clients keep sending: it is respawned,
    the daemon keeps serving, at most the killed worker's own request fails,
    counters never go backwards, and its in-flight gauge does not linger."""
    b1, b2, p = setup(workers=4)
    stop = threading.Event()
    results = []     # (time, status or "error")
    lock = threading.Lock()

    def client():
        for _ in range(400):            # bounded in count and in time
            if stop.is_set():
                return
            try:
                st = get(p.port, "/sleep/5", timeout=5)[0]
            except OSError:
                st = "error"
            with lock:
                results.append((time.monotonic(), st))
    threads = [threading.Thread(target=client) for _ in range(4)]
    try:
        for t in threads:
            t.start()
        wait_for(lambda: len(results) >= 50, timeout=10, what="50 responses")
        scrapes = [scrape(p)]
        victim = p.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        t_kill = time.monotonic()

        def respawned():
            scrapes.append(scrape(p))
            now = p.worker_pids()
            return (scrapes[-1].get("rproxyd_worker_restarts_total") == 1 and
                    len(now) == 4 and victim not in now)
        wait_for(respawned, timeout=10, what="worker respawned")
        t_back = time.monotonic()
        wait_for(lambda: sum(1 for t, _ in results if t > t_back) >= 100, timeout=10,
                 what="100 responses after the respawn")
        stop.set()
        for t in threads:
            t.join(10)
        assert not any(t.is_alive() for t in threads), "a client hangs"
        ok = sum(1 for _, st in results if st == 200)
        bad = [(round(t - t_kill, 3), st) for t, st in results if st != 200]
        # Only the request the victim was serving may be lost, and only then:
        # after the kill, before the respawn was seen.
        assert len(bad) <= 1 and all(0 <= t <= t_back - t_kill for t, _ in bad), bad
        print("  %d responses, %d failed (%s)" % (len(results), len(bad), bad))

        final = settled_at_least(p, ok)
        scrapes.append(final)
        for i in range(1, len(scrapes)):
            assert_not_backwards(scrapes[i - 1], scrapes[i], "scrape %d" % i)
        # A response whose count the kill interrupted is the one uncounted.
        counted = final.get("rproxyd_client_responses_total", code="200")
        assert ok - 1 <= counted <= ok, (counted, ok)
        assert final.sum("rproxyd_backend_inflight") == 0, \
            final.series("rproxyd_backend_inflight")
        assert final.get("rproxyd_workers", state="busy") == 0
        assert final.get("rproxyd_workers", state="idle") == 4
    finally:
        stop.set()
        teardown(p, b1, b2)


def settled_at_least(p, n):
    """A scrape once n - 1 or more responses are counted and nothing is in flight."""
    got = []

    def quiet():
        got[:] = [scrape(p)]
        return (got[0].get("rproxyd_request_duration_seconds_count") >= n - 1 and
                got[0].get("rproxyd_workers", state="busy") == 0)
    wait_for(quiet, timeout=5, what="%d requests counted, none in flight" % n)
    return got[0]


def test_master_holds_only_listeners():
    """The root master parses no network input: its TCP sockets are the two
    listeners it binds and hands on; its other sockets are the hand-off pair
    between keeper and workers (which it never reads) and syslog's."""
    b1, b2, p = setup()
    try:
        send(p, 4)
        scrape(p)
        table = socket_table()
        kinds = {}
        for inode in socket_inodes(p.proc.pid):
            kind, state, port = table.get(inode, ("unknown", None, None))
            kinds.setdefault(kind, []).append((state, port))
        assert sorted(kinds.get("tcp", [])) == sorted([("0A", p.port),
                                                       ("0A", p.metrics_port)]), kinds
        assert "udp" not in kinds and "unknown" not in kinds, kinds
        # seqpacket: the hand-off pair; datagram: syslog. No stream socket.
        assert all(t in ("0005", "0002") for t, _ in kinds.get("unix", [])), kinds
        # The scrapes are served by the metrics process, apart from the workers.
        mp = p.metrics_pids()
        assert len(mp) == 1 and mp[0] not in p.worker_pids(), mp
        assert p.metrics_port in listening_ports(mp[0])
    finally:
        teardown(p, b1, b2)


def test_metrics_process_as_user():
    """With `user`, the metrics process runs as that user, and still counts
    every child's descriptors (they stay dumpable); the master publishes its own."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        raise Skip("no user nobody")
    if os.geteuid() != 0:
        raise Skip("needs root to change user")
    b1, b2, p = setup(user="nobody")
    try:
        send(p, 4)
        mp = p.metrics_pids()
        assert len(mp) == 1, mp
        status = proc_status(mp[0])
        assert status["Uid"].split() == [str(nobody.pw_uid)] * 4, status["Uid"]
        assert status["CapEff"] == "0000000000000000", status["CapEff"]
        s = scrape(p)
        procs = [p.proc.pid] + p.worker_pids() + p.keeper_pids() + mp
        # The root master's /proc/PID/stat is anyone's to read: its memory counts.
        assert_process_sums(s, procs)
    finally:
        teardown(p, b1, b2)


def test_metrics_process_respawn():
    """A killed metrics process is respawned like the keeper (counted and
    logged), and scrapes are answered again; the workers never noticed."""
    b1, b2, p = setup()
    try:
        send(p, 6)
        before = settled(p, 6)
        victim = p.metrics_pids()[0]
        workers = p.worker_pids()
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(p.metrics_pids()) == 1 and victim not in p.metrics_pids(),
                 timeout=10, what="metrics process respawned")
        s = wait_for(lambda: (lambda s: s if s.get("rproxyd_metrics_restarts_total") == 1
                              else None)(scrape(p)),
                     timeout=5, what="a scrape after the respawn")
        assert_not_backwards(before, s, "after the metrics process's respawn")
        assert s.sum("rproxyd_requests_total") == 6
        assert s.get("rproxyd_worker_restarts_total") == 0
        assert p.worker_pids() == workers
        logs = p.logs()
        assert re.search(r"event=metrics_exit pid=%d .*signal=9" % victim, logs), logs[-2000:]
        assert "event=metrics_respawn pid=%d" % p.metrics_pids()[0] in logs, logs[-2000:]
    finally:
        teardown(p, b1, b2)


def test_scrapes_during_reaps_count_each_worker_once():
    """Scrapes run without pause while workers are killed and reaped: every
    one of them counts each finished request exactly once (its worker's slot
    or the retired totals, never both, never neither), and CPU time never
    goes backwards (a reaped worker's seconds move into the master's)."""
    b1, b2, p = setup(workers=4)
    stop = threading.Event()
    scrapes = []
    errors = []

    def scraper():
        for _ in range(5000):           # bounded in count and in time
            if stop.is_set():
                return
            try:
                scrapes.append(scrape(p))
            except Exception as e:      # noqa: BLE001 - reported below
                errors.append(repr(e))
                return
    t = threading.Thread(target=scraper)
    try:
        send(p, 20)
        settled(p, 20)
        t.start()
        for i in range(6):
            victim = p.worker_pids()[0]
            os.kill(victim, signal.SIGKILL)
            wait_for(lambda: len(p.worker_pids()) == 4 and victim not in p.worker_pids(),
                     timeout=10, what="worker %d respawned" % (i + 1))
        wait_for(lambda: len(scrapes) > 0 and
                 scrapes[-1].get("rproxyd_worker_restarts_total") == 6,
                 timeout=10, what="a scrape after the 6th respawn")
        stop.set()
        t.join(30)
        assert not t.is_alive() and not errors, errors
        print("  %d scrapes across 6 reaps" % len(scrapes))
        for i, s in enumerate(scrapes):
            assert s.sum("rproxyd_requests_total") == 20, (i, s.series("rproxyd_requests_total"))
            assert s.get("rproxyd_request_duration_seconds_count") == 20, i
            if i > 0:
                assert_not_backwards(scrapes[i - 1], s, "scrape %d" % i)
                assert s.get("process_cpu_seconds_total") >= \
                    scrapes[i - 1].get("process_cpu_seconds_total"), i
    finally:
        stop.set()
        teardown(p, b1, b2)


def test_reload_follows_config():
    """SIGHUP: a new metrics process of the new generation shows the new
    backends; a changed metrics_listen is refused like listen (restart-only)
    and the old port goes on serving."""
    b1, b2, p = setup()
    b3 = Backend("b3").start()
    try:
        send(p, 2)
        old = p.metrics_pids()
        p.write_config(backends=[b1, b3])
        p.signal(signal.SIGHUP)

        def reloaded():
            s = scrape(p)
            return s if s.get("rproxyd_config_reloads_total", result="success") == 1 \
                else None
        s = wait_for(reloaded, timeout=10, what="the reload")
        wait_for(lambda: len(p.metrics_pids()) == 1 and p.metrics_pids() != old,
                 timeout=10, what="a metrics process of the new generation")
        s = scrape(p)
        assert s.get("rproxyd_backend_healthy", backend="b3") == 1
        assert s.get("rproxyd_backend_healthy", backend="b2") is None
        assert s.get("rproxyd_metrics_restarts_total") == 0
        # Port 0 in the config means "any": name a fixed one to change it.
        p.write_config(text=p.config_text().replace(
            'metrics_listen = "127.0.0.1:0"', 'metrics_listen = "127.0.0.1:1"'))
        p.signal(signal.SIGHUP)
        wait_for(lambda: "metrics_listen cannot change on reload" in p.logs(), timeout=10,
                 what="the refused reload")
        s = scrape(p)
        assert s.get("rproxyd_config_reloads_total", result="failure") == 1
    finally:
        teardown(p, b1, b2, b3)


if __name__ == "__main__":
    run([test_counts_after_requests, test_promtool_accepts,
         test_worker_sigkill_counters_keep, test_worker_sigkill_under_load,
         test_backend_failures_and_health,
         test_paths_and_methods, test_stalled_scrapers_do_not_wedge,
         test_drain_busy_then_gone, test_spawn_keeps_busy_state, test_metrics_off,
         test_process_metrics, test_master_holds_only_listeners,
         test_metrics_process_as_user, test_metrics_process_respawn,
         test_scrapes_during_reaps_count_each_worker_once, test_reload_follows_config])
