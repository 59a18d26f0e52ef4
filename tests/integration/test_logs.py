#!/usr/bin/env python3
"""test_logs.py: syslog delivery, the log_dir files, and their rotation, on the real daemon.

Syslog is read from a real AF_UNIX datagram socket that this script owns: the
daemon and the demo backends run in a private mount namespace where /dev is
a small tmpfs of symlinks to the real device nodes plus /dev/log pointing at
that socket, so the machine's own /dev (and syslog daemon, if any) is never
touched. Without the right to do that (not root, no CAP_SYS_ADMIN) the
syslog tests print "SKIP: reason" and the script exits 77 if nothing failed.

The README's failure scenario is followed line by line in rproxyd.log and
access.log; rotation is checked under concurrent load with a logrotate-style
rename and SIGUSR1; every line of every file must be key=value pairs.
"""
import collections
import contextlib
import datetime
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Backend, Proxy, Skip, wait_for  # noqa: E402

# syslog(3) facilities and priorities as <PRI> carries them.
LOG_DAEMON, LOG_LOCAL3 = 3, 19
LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG = 3, 4, 5, 6, 7
LEVELS = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4,
          "notice": 5, "info": 6, "debug": 7}

# One key=value pair; a value with spaces is in double quotes (rproxyd(8) LOGGING).
KV = r'[a-z_][a-z0-9_]*=(?:"(?:[^"\\]|\\.)*"|[^\s"]+)'
KV_LINE_RE = re.compile(r'^%s(?: %s)*$' % (KV, KV))
KV_RE = re.compile(r'([a-z_][a-z0-9_]*)=("(?:[^"\\]|\\.)*"|[^\s"]+)')
# A line of rproxyd.log or access.log: ISO 8601 local time with its offset.
FILE_LINE_RE = re.compile(
    r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d) rproxyd\[(\d+)\] ([a-z]+): (.*)$')
# glibc's datagram: "<PRI>Mmm dd hh:mm:ss IDENT[PID]: MESSAGE".
SYSLOG_RE = re.compile(r'^<(\d{1,3})>(.+?) ([^\s\[\]]+)\[(\d+)\]: (.*)$', re.S)
ACCESS_KEYS = ["request_id", "client", "method", "target", "status", "backend",
               "attempts", "duration_ms", "bytes_in", "bytes_out"]

# The namespace: /dev becomes a tmpfs of symlinks into a bind of the real /dev
# (so /dev/null, /dev/urandom, /dev/shm keep working) and /dev/log a symlink to
# the test's socket. Works whether or not the machine has a /dev/log.
NS_SCRIPT = r'''
set -e
mount --rbind /dev "$RP_OLDDEV"
mount -t tmpfs -o mode=0755,size=256k rproxyd-test-dev /dev
for e in "$RP_OLDDEV"/* "$RP_OLDDEV"/.[!.]*; do
	[ -e "$e" ] || [ -L "$e" ] || continue
	ln -s "$e" "/dev/${e##*/}"
done
ln -sfn "$RP_LOGSOCK" /dev/log
exec "$@"
'''


def kv(msg):
    """A key=value message as a dict (quotes kept off the values)."""
    return {k: v[1:-1] if v.startswith('"') else v for k, v in KV_RE.findall(msg)}


def wait_workers(p, n):
    """The master's n worker pids, once it has n."""
    return wait_for(lambda: (lambda w: w if len(w) == n else None)(p.worker_pids()),
                    what="%d workers" % n)


def wait_bounded(cond, timeout, what):
    return wait_for(cond, timeout=timeout, what=what, interval=0.01)


# ---------------------------------------------------------------- syslog

class SyslogListener:
    """The test's /dev/log: a datagram socket drained by a thread (the kernel
    queues only net.unix.max_dgram_qlen datagrams; a sender waits or drops
    beyond that). With reading clear it plays a syslogd that stopped."""

    def __init__(self, path, reading=True):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)
        self.sock.settimeout(0.1)
        self.raw = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.reading = threading.Event()    # clear: a syslogd that stopped reading
        if reading:
            self.reading.set()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            if not self.reading.wait(0.1):
                continue
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            with self.lock:
                self.raw.append(data)

    def close(self):
        self.reading.set()
        self.done.set()
        self.thread.join(5)
        self.sock.close()

    def messages(self, ident=None):
        """Parsed datagrams [(pri, ident, pid, msg)]; a datagram that does not
        parse fails the test."""
        with self.lock:
            raw = list(self.raw)
        out = []
        for d in raw:
            m = SYSLOG_RE.match(d.decode("utf-8", "replace"))
            assert m, "datagram not in syslog(3) form: %r" % d
            rec = (int(m.group(1)), m.group(3), int(m.group(4)), m.group(5))
            if ident is None or rec[1] == ident:
                out.append(rec)
        return out

    def find(self, ident, *words, pid=None):
        return [r for r in self.messages(ident)
                if all(w in r[3] for w in words) and (pid is None or r[2] == pid)]

    def wait(self, ident, *words, pid=None, timeout=5):
        return wait_bounded(lambda: self.find(ident, *words, pid=pid), timeout,
                            "syslog %s %s" % (ident, " ".join(words)))

    def dump(self, n=60):
        with self.lock:
            raw = self.raw[-n:]
        return "\n--- syslog (last %d) ---\n" % n + "\n".join(
            d.decode("utf-8", "replace") for d in raw)


class Namespace:
    """Runs commands in a private mount namespace whose /dev/log is sock."""

    def __init__(self, root, sock):
        self.olddev = os.path.join(root, "olddev")
        os.mkdir(self.olddev)
        self.env = dict(os.environ, RP_OLDDEV=self.olddev, RP_LOGSOCK=sock)

    def argv(self, cmd):
        # unshare(1) without --fork, and exec: the pid we get is cmd's own.
        return ["unshare", "-m", "--propagation", "private", "sh", "-c", NS_SCRIPT,
                "sh"] + cmd

    def check(self):
        """Raise Skip when this process may not build the namespace."""
        if os.geteuid() != 0:
            raise Skip("needs root for unshare -m and mount")
        if shutil.which("unshare") is None:
            raise Skip("unshare(1) not installed")
        r = subprocess.run(self.argv(["sh", "-c", "test -L /dev/log && test -c /dev/null"]),
                           env=self.env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=10)
        if r.returncode != 0:
            raise Skip("cannot build a private /dev here (unshare -m; mount): %s" %
                       r.stdout.decode("utf-8", "replace").strip()[-300:])


class NsBackend(Backend):
    """A demo backend whose /dev/log is the namespace's."""

    def __init__(self, ns, name, **kw):
        super().__init__(name, **kw)
        self.ns = ns

    def popen(self, args, **kw):
        return subprocess.Popen(self.ns.argv(args), env=self.ns.env, **kw)


class NsProxy(Proxy):
    """rproxyd -f whose /dev/log is the namespace's."""

    def __init__(self, ns, backends, **keys):
        self.ns = ns
        super().__init__(backends, **keys)

    def popen(self, args, **kw):
        return subprocess.Popen(self.ns.argv(args), env=self.ns.env, **kw)


# ---------------------------------------------------------------- HTTP

class Reply:
    def __init__(self, status, headers, body, client_port, nbytes):
        self.status, self.headers, self.body = status, headers, body
        self.client_port, self.nbytes = client_port, nbytes


def fetch(port, target="/", headers=(), timeout=10.0):
    """One GET on its own connection (Connection: close), read to EOF.

    nbytes is everything the proxy sent, head included: what bytes_out counts.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        client_port = s.getsockname()[1]
        extra = "".join("%s: %s\r\n" % h for h in headers)
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n%s\r\n"
                   % (target, port, extra)).encode())
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, sep, body = data.partition(b"\r\n\r\n")
    assert sep, "no response head: %r" % data[:200]
    lines = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    assert int(hdrs.get("content-length", -1)) == len(body), (hdrs, body[:100])
    return Reply(int(lines[0].split()[1]), hdrs, body, client_port, len(data))


def check_access(fields, rid, client_port, target, status, backend, attempts, nbytes):
    """An access line's fields, all of them, against what the client saw."""
    assert list(fields) == ACCESS_KEYS, "access line keys %s" % list(fields)
    want = {"request_id": rid, "client": "127.0.0.1:%d" % client_port, "method": "GET",
            "target": target, "status": str(status), "backend": backend,
            "attempts": str(attempts), "bytes_in": "0", "bytes_out": str(nbytes)}
    got = {k: fields[k] for k in want}
    assert got == want, "access line %s, want %s" % (fields, want)
    assert re.match(r'^\d+\.\d{3}$', fields["duration_ms"]), fields
    assert float(fields["duration_ms"]) >= 0, fields


# ---------------------------------------------------------------- files

def file_lines(path):
    """[(ts, pid, level, msg)] of a log file; every line whole and in form."""
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        return []
    assert data.endswith(b"\n"), "%s does not end with a newline: %r" % (path, data[-200:])
    out = []
    for n, raw in enumerate(data.split(b"\n")[:-1], 1):
        line = raw.decode("utf-8", "replace")
        m = FILE_LINE_RE.match(line)
        assert m, "%s:%d: not a log line: %r" % (path, n, line)
        assert m.group(3) in LEVELS, "%s:%d: level %r" % (path, n, m.group(3))
        assert KV_LINE_RE.match(m.group(4)), \
            "%s:%d: not key=value pairs: %r" % (path, n, m.group(4))
        out.append((m.group(1), int(m.group(2)), m.group(3), m.group(4)))
    return out


def events(path, *words):
    return [(ts, pid, lvl, kv(msg)) for ts, pid, lvl, msg in file_lines(path)
            if all(w in msg for w in words)]


# ---------------------------------------------------------------- tests

def test_syslog_delivery():
    """Datagrams on a real /dev/log: ident, pids, facility, level filter, request ids."""
    with contextlib.ExitStack() as st:
        root = tempfile.mkdtemp(prefix="rproxyd-syslog-")
        st.callback(shutil.rmtree, root, True)
        sock = os.path.join(root, "log.sock")
        ns = Namespace(root, sock)
        ns.check()
        lst = SyslogListener(sock)
        st.callback(lst.close)
        backends = []
        for name in ("sysb1", "sysb2"):
            b = NsBackend(ns, name)
            st.callback(b.stop)
            backends.append(b.start())
        bpid = {b.name: b.proc.pid for b in backends}

        # --- log_level info, facility local3.
        p = NsProxy(ns, backends, workers=2, syslog_facility="local3", log_level="info",
                    shutdown_timeout=5)
        st.callback(p.cleanup)
        p.start()
        master = p.proc.pid
        (pri, _, _, msg), = lst.wait("rproxyd", "event=start", pid=master)
        assert pri == LOG_LOCAL3 * 8 + LOG_NOTICE, "start line <%d>: %s" % (pri, msg)
        assert kv(msg)["pid"] == str(master), msg
        workers = wait_workers(p, 2)

        # Two keep-alive connections held open at once. Either worker may
        # answer either request (the keeper hands each ready request to
        # whichever worker is free), so each line must name one of them.
        conns = [http.client.HTTPConnection("127.0.0.1", p.port, timeout=10) for _ in range(2)]
        sent = []
        try:
            for i, c in enumerate(conns):
                rid = "syslog-info-%d" % i
                c.request("GET", "/via/%d" % i, headers={"X-Request-ID": rid})
                r = c.getresponse()
                body = r.read()
                assert r.status == 200 and r.getheader("X-Request-ID") == rid, \
                    (r.status, r.getheaders())
                sent.append((rid, c.sock.getsockname()[1], "/via/%d" % i,
                             r.getheader("X-Backend"), body))
        finally:
            for c in conns:
                c.close()
        access_pids = set()
        for rid, cport, target, backend, body in sent:
            (pri, _, pid, msg), = lst.wait("rproxyd", "request_id=%s " % rid, " status=")
            assert pri == LOG_LOCAL3 * 8 + LOG_INFO, "access <%d>: %s" % (pri, msg)
            assert KV_LINE_RE.match(msg), msg
            f = kv(msg)
            assert f["client"] == "127.0.0.1:%d" % cport and f["target"] == target and \
                f["status"] == "200" and f["backend"] == backend and \
                f["method"] == "GET" and f["attempts"] == "1", msg
            access_pids.add(pid)
            # The demo backend logged the same request under its own ident and pid.
            (bpri, _, bp, bmsg), = lst.wait(backend, "request_id=%s " % rid)
            assert bp == bpid[backend], "backend %s logged as pid %d" % (backend, bp)
            assert bpri == LOG_DAEMON * 8 + LOG_INFO, "backend <%d>: %s" % (bpri, bmsg)
            assert "target=%s " % target in bmsg and "status=200" in bmsg, bmsg
        assert access_pids <= set(workers), \
            "access lines from %s, workers are %s%s" % (access_pids, workers, lst.dump())
        for name, pid in bpid.items():
            lst.wait(name, "event=start", pid=pid)
        # The access line is sent after any select line of the same request and
        # datagrams of one sender stay in order: none at info.
        assert not lst.find("rproxyd", "event=select"), lst.dump()

        # A worker killed: its exit at err, from the master, in key=value form.
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        (pri, _, _, msg), = lst.wait("rproxyd", "event=worker_exit pid=%d " % victim,
                                     pid=master)
        assert pri == LOG_LOCAL3 * 8 + LOG_ERR, "worker_exit <%d>: %s" % (pri, msg)
        assert kv(msg).get("signal") == "9", msg
        wait_for(lambda: len(p.worker_pids()) == 2 and victim not in p.worker_pids(),
                 what="respawned worker")
        workers = p.worker_pids()
        keepers = p.keeper_pids()

        assert p.stop() == 0, p.logs()
        for phase in ("begin", "done"):
            (pri, _, _, msg), = lst.wait("rproxyd", "event=shutdown phase=%s" % phase,
                                         pid=master)
            assert pri == LOG_LOCAL3 * 8 + LOG_NOTICE, msg
        for w in workers:
            lst.wait("rproxyd", "event=worker_exit pid=%d " % w, pid=master)
        ours = lst.messages("rproxyd")
        bad = [r for r in ours if r[0] >> 3 != LOG_LOCAL3]
        assert not bad, "rproxyd datagrams not on local3: %s" % bad
        bad = [r for r in ours if r[0] & 7 > LOG_INFO]
        assert not bad, "below log_level info: %s" % bad
        bad = [r for r in ours if r[2] not in set(workers) | set(keepers) | {master, victim}]
        assert not bad, "datagrams from pids not ours: %s" % bad

        # --- log_level debug: worker starts and backend selection appear.
        before = len(lst.messages("rproxyd"))
        p = NsProxy(ns, backends, workers=2, syslog_facility="local3", log_level="debug",
                    shutdown_timeout=5)
        st.callback(p.cleanup)
        p.start()
        master = p.proc.pid
        workers = wait_workers(p, 2)
        for w in workers:
            (pri, _, _, msg), = lst.wait("rproxyd", "event=worker_start pid=%d " % w,
                                         pid=master)
            assert pri == LOG_LOCAL3 * 8 + LOG_DEBUG, "worker_start <%d>: %s" % (pri, msg)
        rid = "syslog-debug-1"
        r = fetch(p.port, "/debug", [("X-Request-ID", rid)])
        assert r.status == 200 and r.headers["x-request-id"] == rid, r.headers
        (apri, _, apid, amsg), = lst.wait("rproxyd", "request_id=%s " % rid, " status=")
        check_access(kv(amsg), rid, r.client_port, "/debug", 200, r.headers["x-backend"],
                     1, r.nbytes)
        (pri, _, pid, msg), = lst.wait("rproxyd", "event=select request_id=%s " % rid)
        assert pri == LOG_LOCAL3 * 8 + LOG_DEBUG and pid == apid and pid in workers, \
            "select <%d> pid %d: %s (access from %d)" % (pri, pid, msg, apid)
        f = kv(msg)
        assert f["backend"] == r.headers["x-backend"] and f["attempt"] == "1" and \
            f["how"] == "round_robin", msg
        assert all(m[0] >> 3 == LOG_LOCAL3 for m in lst.messages("rproxyd")[before:])
        # Last, so that it does not hide the checks above: every line, the
        # worker_exit of the killed worker included, is key=value pairs.
        bad = [r[3] for r in lst.messages("rproxyd") if not KV_LINE_RE.match(r[3])]
        assert not bad, "syslog lines not in key=value form: %s" % bad


def scenario_request(p, replies):
    """GET /readme?n=N, N counting the requests so far; the reply is kept."""
    n = len(replies)
    r = fetch(p.port, "/readme?n=%d" % n)
    assert r.status == 200, "request %d: %d %r" % (n, r.status, r.body)
    assert re.match(r'^[\x21-\x7e]+$', r.headers.get("x-request-id", "")), r.headers
    replies.append(r)
    return r


def test_readme_failure_scenario_in_log_files():
    """README step 4 followed in rproxyd.log, in order; access.log ids match the header."""
    threshold, cooldown = 3, 1.0
    with contextlib.ExitStack() as st:
        d = tempfile.mkdtemp(prefix="rproxyd-logdir-")
        st.callback(shutil.rmtree, d, True)
        b1, b2 = Backend("b1", logdir=d), Backend("b2", logdir=d)
        for b in (b1, b2):
            st.callback(b.stop)
            b.start()
        p = Proxy([b1, b2], workers=2, log_dir=d, log_level="debug",
                  failure_threshold=threshold, health_cooldown=cooldown, max_retries=2,
                  connect_timeout=0.5, request_timeout=1.0, shutdown_timeout=5)
        st.callback(p.cleanup)
        p.start()
        log, acc = os.path.join(d, "rproxyd.log"), os.path.join(d, "access.log")
        replies = []
        got = {scenario_request(p, replies).headers["x-backend"] for _ in range(2)}
        assert got == {"b1", "b2"}, got

        # b2 stops; requests go on until it is marked unhealthy.
        b2.stop()

        def step(until):
            r = scenario_request(p, replies)
            assert r.headers["x-backend"] == "b1", "b2 answered while down"
            return events(log, *until)
        wait_for(lambda: step(["event=backend_unhealthy", "backend=b2 "]), timeout=10,
                 interval=0, what="b2 unhealthy")
        # Still down after the cooldown: the probe fails and it cools down again.
        wait_for(lambda: step(["event=backend_probe_failed", "backend=b2 "]),
                 timeout=cooldown + 5, interval=0.05, what="b2's failed probe")
        # Back: the next probe succeeds.
        b2.start()

        def reaches_b2():
            r = scenario_request(p, replies)
            return r.headers["x-backend"] == "b2"
        wait_for(reaches_b2, timeout=cooldown + 5, interval=0.05, what="b2 answering again")
        wait_for(lambda: events(log, "event=backend_healthy", "backend=b2 "), timeout=5,
                 what="backend_healthy")
        assert p.stop() == 0, p.logs()

        # b2's story in rproxyd.log, one letter per line, in file order.
        code = {"select round_robin": "S", "select probe": "P", "stale_connection": "T",
                "backend_failure": "F", "retry": "R", "backend_unhealthy": "U",
                "backend_probe_failed": "X", "backend_healthy": "H"}
        story, lines = "", []
        last_ts = ""
        for ts, pid, lvl, f in events(log):
            assert ts >= last_ts, "timestamps go back: %s after %s" % (ts, last_ts)
            last_ts = ts
            if f.get("backend") != "b2":
                continue
            key = f["event"] + (" " + f["how"] if f["event"] == "select" else "")
            assert key in code, "unexpected b2 event %s" % f
            story += code[key]
            lines.append((lvl, f))
        # Before: b2 served once (S). Then threshold failures with a retry each,
        # the last one turning it unhealthy; nothing for b2 during the cooldown;
        # one or more failed probes; a probe that succeeds and makes it healthy.
        want = r'^S(ST?FR){%d}ST?FUR(PFXR)+PH$' % (threshold - 1)
        print("     b2 events in rproxyd.log: %s" % story)
        assert re.match(want, story), "b2 events %r, want %s:\n%s" % (
            story, want, "\n".join(str(l) for l in lines))
        fails = [f for _, f in lines if f["event"] == "backend_failure"]
        assert all(f["reason"] == "connect" for f in fails), fails
        level_of = {"select": "debug", "stale_connection": "info", "backend_failure": "warning",
                    "retry": "info", "backend_unhealthy": "warning",
                    "backend_probe_failed": "warning", "backend_healthy": "notice"}
        bad = [(lvl, f) for lvl, f in lines if lvl != level_of[f["event"]]]
        assert not bad, "events at unexpected levels: %s" % bad
        (_, down), = [l for l in lines if l[1]["event"] == "backend_unhealthy"]
        assert down["failures"] == str(threshold) and down["reason"] == "connect" and \
            float(down["cooldown_s"]) == cooldown, down

        # access.log: one line per request, with the id the client got.
        acc_lines = {}
        for ts, pid, lvl, msg in file_lines(acc):
            f = dict(KV_RE.findall(msg))
            assert lvl == "info" and f["request_id"] not in acc_lines, msg
            acc_lines[f["request_id"]] = f
        assert set(acc_lines) == {r.headers["x-request-id"] for r in replies}, \
            (sorted(acc_lines), [r.headers["x-request-id"] for r in replies])
        by_id = {r.headers["x-request-id"]: (i, r) for i, r in enumerate(replies)}
        for rid, f in acc_lines.items():
            i, r = by_id[rid]
            failed = [x for x in fails if x["request_id"] == rid]
            check_access(f, rid, r.client_port, "/readme?n=%d" % i, 200,
                         r.headers["x-backend"], 1 + len(failed), r.nbytes)
        # Each failure belongs to a request the client saw answered by b1.
        for x in fails:
            assert acc_lines[x["request_id"]]["backend"] == "b1", x
        # The backend got the same id and logged it in its own file.
        with open(os.path.join(d, "b1.log")) as bf:
            blog = bf.read()
        rid = fails[threshold - 1]["request_id"]
        assert "request_id=%s " % rid in blog, "b1.log lacks %s" % rid


def test_rotation_under_load_loses_no_line():
    """4 workers, 8 client threads, 4k files, one logrotate-style SIGUSR1: every line once.

    Each request waits 6 ms in the backend, so 2400 of them keep the 4 workers
    busy for at least 3.6 s: the master checks sizes about once a second, and
    the files must rotate several times while every worker writes.
    """
    nthreads, per_thread, max_size, sleep_ms = 8, 300, 4096, 6
    with contextlib.ExitStack() as st:
        d = tempfile.mkdtemp(prefix="rproxyd-rotate-")
        st.callback(shutil.rmtree, d, True)
        backends = [Backend("rb1"), Backend("rb2")]
        for b in backends:
            st.callback(b.stop)
            b.start()
        p = Proxy(backends, workers=4, log_dir=d, log_max_size="4k", log_keep=100,
                  log_level="info", shutdown_timeout=5)
        st.callback(p.cleanup)
        p.start()
        deadline = time.monotonic() + 25
        lock = threading.Lock()
        served, errors = [], []

        def client(t):
            for i in range(per_thread):
                if time.monotonic() > deadline:
                    errors.append("thread %d: deadline at request %d" % (t, i))
                    return
                rid = "rot-%d-%d" % (t, i)
                try:
                    r = fetch(p.port, "/sleep/%d?t=%d&i=%d" % (sleep_ms, t, i),
                              [("X-Request-ID", rid)])
                except (OSError, AssertionError) as e:
                    errors.append("%s: %r" % (rid, e))
                    continue
                if r.status != 200 or r.headers.get("x-request-id") != rid:
                    errors.append("%s: %d %r" % (rid, r.status, r.headers))
                    continue
                with lock:
                    served.append(rid)

        threads = [threading.Thread(target=client, args=(t,), daemon=True)
                   for t in range(nthreads)]
        for t in threads:
            t.start()
        # Half way, what logrotate does: rename the files, then SIGUSR1.
        total = nthreads * per_thread
        wait_for(lambda: len(served) >= total // 2 or errors, timeout=20, interval=0.005,
                 what="half the requests")
        for name in ("access.log", "rproxyd.log"):
            os.rename(os.path.join(d, name), os.path.join(d, name + "-logrotate"))
        p.signal(signal.SIGUSR1)
        t_usr1 = time.time()
        for t in threads:
            t.join(max(0.1, deadline - time.monotonic() + 5))
        assert not any(t.is_alive() for t in threads), "client threads stuck"
        if errors:
            with open(os.path.join(d, "rproxyd.log")) as f:
                fails = [l for l in f if "event=" in l and "event=select" not in l]
            raise AssertionError("%d errors: %s\nbackends' exit status: %s\n"
                                 "--- rproxyd.log events ---\n%s" % (
                len(errors), errors[:5], [b.proc.poll() for b in backends],
                "".join(fails[:15] + ["...\n"] + fails[-10:])))
        assert len(served) == total, (len(served), total)
        workers = p.worker_pids()
        # Every access line is written once its response is out; the graceful
        # stop waits for the workers, and nothing renames files after it.
        assert p.stop() == 0, p.logs()[-2000:]

        files = sorted(f for f in os.listdir(d) if f.startswith("access.log"))
        rotated = [f for f in files if re.match(r'^access\.log\.\d+$', f)]
        assert len(rotated) >= 2, "only %s: rotation never happened twice" % files
        print("     %d requests, access files: %s" % (total, ", ".join(
            "%s=%d" % (f, os.path.getsize(os.path.join(d, f))) for f in files)))
        assert max(int(f.rsplit(".", 1)[1]) for f in rotated) < 100, \
            "log_keep reached, a file may have been dropped: %s" % files
        assert "access.log-logrotate" in files, files
        ids = collections.Counter()
        for name in files:
            path = os.path.join(d, name)
            for ts, pid, lvl, msg in file_lines(path):
                f = dict(KV_RE.findall(msg))
                assert list(f) == ACCESS_KEYS and f["status"] == "200" and \
                    f["target"] == "/sleep/%d?t=%s&i=%s" % (
                        (sleep_ms,) + tuple(f["request_id"].split("-")[1:])), \
                    "%s: %s" % (name, msg)
                ids[f["request_id"]] += 1
            if re.match(r'^access\.log\.\d+$', name):
                assert os.path.getsize(path) >= max_size, \
                    "%s rotated at %d bytes" % (name, os.path.getsize(path))
        dup = [k for k, v in ids.items() if v != 1]
        assert not dup, "logged more than once: %s" % dup[:10]
        missing = set(served) - set(ids)
        assert not missing, "%d of %d lines lost, e.g. %s (files %s)" % (
            len(missing), total, sorted(missing)[:5], files)
        assert set(ids) == set(served), set(ids) - set(served)
        # Every worker reopened: none wrote to the renamed file once it had
        # had a second to take SIGUSR1, while lines kept coming elsewhere.
        # (Which workers serve the last requests is the scheduler's choice,
        # so not every one need write to the newest file.)
        def when(ts):
            return datetime.datetime.fromisoformat(ts).timestamp()
        late = [(pid, msg) for ts, pid, _, msg in
                file_lines(os.path.join(d, "access.log-logrotate")) if when(ts) > t_usr1 + 1.0]
        assert not late, "written to the renamed access.log after the reopen: %s" % late[:3]
        after = {pid for name in files if name != "access.log-logrotate"
                 for ts, pid, _, _ in file_lines(os.path.join(d, name)) if when(ts) > t_usr1 + 1.0}
        assert after and after <= set(workers), (after, workers)
        # Events survived the same way; the reopen was logged after the rename.
        ev = []
        for name in sorted(f for f in os.listdir(d) if f.startswith("rproxyd.log")):
            ev += [msg for _, _, _, msg in file_lines(os.path.join(d, name))]
        assert sum("event=start " in m for m in ev) == 1, ev[:5]
        assert sum(m == "event=reopen_logs" for m in ev) == 1, [m for m in ev if "reopen" in m]
        with open(os.path.join(d, "rproxyd.log")) as f:
            assert "event=reopen_logs" in f.read(), "reopen not in the new rproxyd.log"


def test_reopen_while_a_request_is_in_flight():
    """A SIGUSR1 that reaches a worker in the middle of a request (issue 14,
    item 10): once the old access.log is renamed and the signal sent, the
    access line of the request in flight and of the next one both land in the
    new access.log, never in the renamed one that logrotate compresses.

    One worker, so the in-flight request and the next are on the same worker;
    the backend holds the request 1.5 s, the signal comes in the middle."""
    with contextlib.ExitStack() as st:
        d = tempfile.mkdtemp(prefix="rproxyd-reopen-")
        st.callback(shutil.rmtree, d, True)
        b = Backend("rb1")
        st.callback(b.stop)
        b.start()
        p = Proxy([b], workers=1, log_dir=d, log_level="info", request_timeout=10,
                  shutdown_timeout=5)
        st.callback(p.cleanup)
        p.start()
        access = os.path.join(d, "access.log")
        assert fetch(p.port, "/", [("X-Request-ID", "before-1")]).status == 200
        wait_for(lambda: "request_id=before-1 " in harness.file_text(access), timeout=5,
                 what="before-1 in access.log")
        got = {}

        def in_flight():
            got["r"] = fetch(p.port, "/sleep/1500", [("X-Request-ID", "inflight-1")])
        t = threading.Thread(target=in_flight, daemon=True)
        t.start()
        # In flight: the one worker is busy with it (the backend holds it 1.5 s).
        wait_for(lambda: scrape_busy(p) == 1, timeout=5, what="the request in flight")
        os.rename(access, access + ".old")
        p.signal(signal.SIGUSR1)
        wait_for(lambda: "event=reopen_logs" in p.logs(), timeout=5, what="event=reopen_logs")
        t.join(15)
        assert got.get("r") is not None and got["r"].status == 200, got
        assert fetch(p.port, "/", [("X-Request-ID", "after-1")]).status == 200
        for rid in ("inflight-1", "after-1"):
            wait_for(lambda: "request_id=%s " % rid in harness.file_text(access), timeout=5,
                     what="%s in the new access.log (renamed one: %r)" % (
                         rid, harness.file_text(access + ".old")[-600:]))
        old = harness.file_text(access + ".old")
        assert "before-1" in old and "inflight-1" not in old and "after-1" not in old, old


def scrape_busy(p):
    """Busy workers, from the metrics endpoint."""
    _, _, body = harness.http(p.metrics_port, "/metrics")
    m = re.search(rb'^rproxyd_workers\{state="busy"\} (\d+)$', body, re.M)
    assert m, body[:300]
    return int(m.group(1))


def test_syslog_stalled_reader_does_not_stop_proxy():
    """A syslogd that stops reading costs lines, not service; the loss is reported."""
    with contextlib.ExitStack() as st:
        root = tempfile.mkdtemp(prefix="rproxyd-syslog-")
        st.callback(shutil.rmtree, root, True)
        sock = os.path.join(root, "log.sock")
        ns = Namespace(root, sock)
        ns.check()
        lst = SyslogListener(sock, reading=False)
        st.callback(lst.close)
        b1 = Backend("stallb1")
        st.callback(b1.stop)
        b1.start()
        d = os.path.join(root, "logs")
        os.mkdir(d)
        p = NsProxy(ns, [b1], workers=2, syslog_facility="local3", log_dir=d,
                    shutdown_timeout=5)
        st.callback(p.cleanup)
        st.callback(lst.reading.set)    # first on the way out: a stuck daemon can stop
        p.start()
        # The socket's queue (net.unix.max_dgram_qlen datagrams) fills within
        # a few requests; syslog(3)'s blocking send() would then hang every
        # worker in the middle of a request.
        try:
            with open("/proc/sys/net/unix/max_dgram_qlen") as f:
                qlen = int(f.read())
        except (OSError, ValueError):
            qlen = 512
        n = min(qlen, 1000) + 30
        for i in range(n):
            # A blocking syslog send would hang the worker for good: the
            # client's timeout is the hang guard.
            try:
                r = fetch(p.port, "/stall/%d" % i, [("X-Request-ID", "stall-%d" % i)],
                          timeout=30)
            except OSError as e:
                raise AssertionError("request %d with syslog not read: %r" % (i, e))
            assert r.status == 200, "request %d: %d" % (i, r.status)
        # The files have every line regardless.
        ids = [kv(m)["request_id"] for _, _, _, m in
               file_lines(os.path.join(d, "access.log"))]
        assert sorted(ids) == sorted("stall-%d" % i for i in range(n)), ids
        # syslogd reads again: the next line of a worker that dropped some says so.
        lst.reading.set()

        def dropped_reported():
            r = fetch(p.port, "/again", timeout=3)
            assert r.status == 200, r.status
            return lst.find("rproxyd", "event=syslog_dropped")
        wait_for(dropped_reported, timeout=5, interval=0.05,
                 what="event=syslog_dropped once syslog reads again")
        for pri, _, pid, msg in lst.find("rproxyd", "event=syslog_dropped"):
            assert pri == LOG_LOCAL3 * 8 + LOG_WARNING and KV_LINE_RE.match(msg), msg
            assert int(kv(msg)["lines"]) >= 1, msg
        got = len(lst.find("rproxyd", "request_id=stall-"))
        assert got < n, "every line arrived (%d): the socket never filled?" % got
        notes = [m for _, _, _, m in file_lines(os.path.join(d, "rproxyd.log"))
                 if m.startswith("event=syslog_dropped ")]
        assert notes, "the drop is not reported in rproxyd.log"


def logged_proxy(st, backend, cls=None, workers=1, **keys):
    """One backend and a proxy (of class cls, one worker unless told) logging
    to a fresh log_dir: (dir, proxy)."""
    d = tempfile.mkdtemp(prefix="rproxyd-logdir-")
    st.callback(shutil.rmtree, d, True)
    b = Backend(backend)
    st.callback(b.stop)
    b.start()
    p = (cls or Proxy)([b], workers=workers, log_dir=d, shutdown_timeout=5, **keys)
    st.callback(p.cleanup)
    p.start()
    return d, p


def test_client_values_cannot_break_key_value():
    """A request id or target with a double quote must not break the access line."""
    with contextlib.ExitStack() as st:
        d, p = logged_proxy(st, "qb1")
        cases = [("/plain", 'q"id=1'), ('/t"q', "qid-2"), ("/t\\x", 'q\\"3')]
        replies = []
        for target, rid in cases:
            r = fetch(p.port, target, [("X-Request-ID", rid)])
            assert r.status == 200, (target, rid, r.status)
            replies.append(r)
        assert p.stop() == 0, p.logs()
        with open(os.path.join(d, "access.log"), "rb") as f:
            lines = [l.decode("utf-8", "replace") for l in f.read().split(b"\n")[:-1]]
        assert len(lines) == len(cases), lines
        bad = []
        for (target, rid), r, line in zip(cases, replies, lines):
            msg = FILE_LINE_RE.match(line).group(4)
            f = kv(msg)
            if not KV_LINE_RE.match(msg) or f.get("request_id") != r.headers["x-request-id"] \
                    or list(f) != ACCESS_KEYS:
                bad.append("sent id %r target %r, header id %r, logged: %s" % (
                    rid, target, r.headers["x-request-id"], msg))
        assert not bad, "access lines broken by client values:\n" + "\n".join(bad)


def test_errno_events_stay_key_value():
    """log_warn() on an event: the errno text is a quoted error= field."""
    import resource
    with contextlib.ExitStack() as st:
        d, p = logged_proxy(st, "eb1")
        master = p.proc.pid
        # Out of descriptors in the master: the metrics listener cannot accept.
        fds = [int(x) for x in os.listdir("/proc/%d/fd" % master)]
        old = resource.prlimit(master, resource.RLIMIT_NOFILE)
        resource.prlimit(master, resource.RLIMIT_NOFILE, (max(fds) + 1, old[1]))
        conns = []
        try:
            for _ in range(max(fds) + 2 - len(fds)):
                conns.append(socket.create_connection(("127.0.0.1", p.metrics_port),
                                                      timeout=5))
            got = wait_for(lambda: events(os.path.join(d, "rproxyd.log"),
                                          "event=metrics_accept"),
                           timeout=5, what="event=metrics_accept in rproxyd.log")
        finally:
            resource.prlimit(master, resource.RLIMIT_NOFILE, old)
            for c in conns:
                c.close()
        # file_lines() above has checked every line is key=value pairs.
        _, pid, lvl, f = got[0]
        assert pid == master and lvl == "warning", got[0]
        assert f.get("error") == os.strerror(24), "error field %r" % f


def test_backend_reopens_log_on_sigusr1():
    """The demo backend, like rproxyd, reopens its log file on SIGUSR1."""
    with contextlib.ExitStack() as st:
        d = tempfile.mkdtemp(prefix="rproxyd-logdir-")
        st.callback(shutil.rmtree, d, True)
        b = Backend("rb1", logdir=d)
        st.callback(b.stop)
        b.start()
        log = os.path.join(d, "rb1.log")
        assert fetch(b.port, "/before", [("X-Request-ID", "before-1")]).status == 200
        wait_for(lambda: "request_id=before-1" in harness.file_text(log), timeout=5,
                 what="the first line")
        os.rename(log, log + ".1")
        b.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: os.path.exists(log), timeout=5, what="a new rb1.log")
        assert b.proc.poll() is None, "SIGUSR1 killed the backend"
        assert fetch(b.port, "/after", [("X-Request-ID", "after-1")]).status == 200
        wait_for(lambda: "request_id=after-1" in harness.file_text(log), timeout=5,
                 what="the next line in the new file")
        assert "after-1" not in harness.file_text(log + ".1")


# ---------------------------------------------------------------- links planted for root

def workers_user():
    """The pwd entry of `nobody`, for tests of what the workers' user can plant;
    Skip when this process cannot act as it."""
    import pwd
    if os.geteuid() != 0:
        raise Skip("needs root to act as the workers' user")
    try:
        return pwd.getpwnam("nobody")
    except KeyError:
        raise Skip("no user nobody")


def planting_ground(st, pw, name):
    """(d/name, d/secret, secret's state): d a fresh directory the workers'
    user can reach, d/name a directory that user owns, d/secret a root-only
    file standing for /etc/shadow."""
    d = tempfile.mkdtemp(prefix="rproxyd-plant-")
    st.callback(shutil.rmtree, d, True)
    os.chmod(d, 0o755)
    up = os.path.dirname(d)
    while up != "/":
        if not os.stat(up).st_mode & 0o001:
            raise Skip("%s is not searchable by %s" % (up, pw.pw_name))
        up = os.path.dirname(up)
    sub = os.path.join(d, name)
    os.mkdir(sub, 0o755)
    os.chown(sub, pw.pw_uid, pw.pw_gid)
    secret = os.path.join(d, "secret")
    with open(secret, "wb") as f:
        f.write(b"root:secret:1::::::\n")
    os.chmod(secret, 0o600)
    return sub, secret, secret_state(secret)


def as_user(pw, *argv):
    """Run argv as the workers' user: what they can plant, they plant."""
    subprocess.run(argv, user=pw.pw_uid, group=pw.pw_gid, check=True, timeout=10)


def secret_state(path):
    st = os.lstat(path)
    with open(path, "rb") as f:
        return st.st_uid, st.st_gid, st.st_mode & 0o7777, f.read()


def test_log_symlink_planted_by_workers_user_is_refused():
    """The workers' user owns log_dir and swaps access.log for a link to a
    root-only file before SIGUSR1 (logrotate's signal), then before a restart:
    root refuses the link both times, says so, and the target is untouched."""
    pw = workers_user()
    with contextlib.ExitStack() as st:
        logdir, secret, before = planting_ground(st, pw, "logs")
        b = Backend("sl1")
        st.callback(b.stop)
        b.start()
        p = Proxy([b], workers=1, user=pw.pw_name, log_dir=logdir, shutdown_timeout=5)
        st.callback(p.cleanup)
        p.start()
        access = os.path.join(logdir, "access.log")
        assert fetch(p.port, "/", [("X-Request-ID", "before-plant")]).status == 200
        wait_for(lambda: "request_id=before-plant " in harness.file_text(access),
                 timeout=5, what="the first access line")
        as_user(pw, "sh", "-c", 'rm -f "$1" && ln -s "$2" "$1"', "sh", access, secret)
        p.signal(signal.SIGUSR1)
        wait_for(lambda: "event=reopen_logs" in p.logs(), what="event=reopen_logs")
        assert fetch(p.port, "/", [("X-Request-ID", "after-plant")]).status == 200
        wait_for(lambda: "request_id=after-plant" in p.logs(), what="the next access line")
        assert secret_state(secret) == before, "root followed the link: %r" % (
            secret_state(secret),)
        assert re.search(r'event=log_reopen_failed error="open [^"]*access\.log: '
                         r'a symbolic link: refused"', p.logs()), p.logs()
        assert p.stop() == 0, p.logs()
        # A restart meets the link at start: refused, nothing started.
        p.start(wait=False)
        assert p.proc.wait(10) == 1, p.logs()
        assert re.search(r"access\.log: a symbolic link: refused", p.logs()), p.logs()
        assert secret_state(secret) == before, secret_state(secret)


def test_pidfile_symlink_is_refused():
    """A pidfile name planted as a link to a root-only file: the start is
    refused with the reason, and the target is not truncated."""
    pw = workers_user()
    with contextlib.ExitStack() as st:
        run, secret, before = planting_ground(st, pw, "run")
        p = Proxy([("pl1", "http://127.0.0.1:%d" % harness.free_port())], workers=1)
        st.callback(p.cleanup)
        p.pidfile = os.path.join(run, "rproxyd.pid")
        p.write_config()
        as_user(pw, "ln", "-s", secret, p.pidfile)
        p.start(wait=False)
        assert p.proc.wait(10) == 1, p.logs()
        assert "pidfile %s: a symbolic link: refused" % p.pidfile in p.logs(), p.logs()
        assert secret_state(secret) == before, secret_state(secret)


def test_log_dir_writable_by_others_is_refused():
    """A log_dir anybody may write (where anybody may plant links) fails the start."""
    with contextlib.ExitStack() as st:
        d = tempfile.mkdtemp(prefix="rproxyd-logdir-")
        st.callback(shutil.rmtree, d, True)
        os.chmod(d, 0o777)
        p = Proxy([("wo1", "http://127.0.0.1:%d" % harness.free_port())], workers=1,
                  log_dir=d)
        st.callback(p.cleanup)
        p.start(wait=False)
        assert p.proc.wait(10) == 1, p.logs()
        assert "log_dir %s: writable by others (mode 0777): refused" % d in p.logs(), \
            p.logs()
        assert os.listdir(d) == [], os.listdir(d)



# ---------------------------------------------------------------- stderr, quoting, time, rotation off

class PipedProxy(Proxy):
    """rproxyd -f whose stderr is a pipe that the test reads only when it chooses."""

    def start(self, wait=True):
        self.logf = open(self.log, "ab")
        self.proc = self.popen([harness.RPROXYD, "-f", "-c", self.conf], stdout=self.logf,
                               stderr=subprocess.PIPE)
        # The bound ports are in the start line: read the pipe up to it, no further.
        seen = []
        self.learn_ports(lambda: seen.append(self.drain()) or "".join(seen), self.proc)
        return self

    def pending(self):
        """Bytes waiting in the stderr pipe."""
        import array
        import fcntl
        import termios
        buf = array.array("i", [0])
        fcntl.ioctl(self.proc.stderr.fileno(), termios.FIONREAD, buf)
        return buf[0]

    def drain(self):
        """What the pipe holds now, read without waiting."""
        n = self.pending()
        return os.read(self.proc.stderr.fileno(), n).decode("utf-8", "replace") if n else ""


def test_stderr_stalled_reader_does_not_stop_proxy():
    """-f under a supervisor that stops reading stderr: requests are still
    served and SIGTERM still stops the daemon; the lost lines are counted and
    reported once the pipe is read again (issue 14 item 7)."""
    import fcntl
    with contextlib.ExitStack() as st:
        d, p = logged_proxy(st, "stderrb1", PipedProxy, workers=2)
        # A one-page pipe fills within a few lines (F_SETPIPE_SZ).
        size = fcntl.fcntl(p.proc.stderr.fileno(), 1031, 4096)
        i = 0
        while p.pending() < size - 512:
            assert i < 1000, "stderr never filled: %d bytes" % p.pending()
            assert fetch(p.port, "/fill/%d" % i, timeout=10).status == 200
            i += 1
        # Full: a blocking write would hang the worker in the middle of a request.
        for j in range(40):
            try:
                r = fetch(p.port, "/stalled/%d" % j, [("X-Request-ID", "stalled-%d" % j)],
                          timeout=10)
            except OSError as e:
                raise AssertionError("request %d with stderr not read: %r" % (j, e))
            assert r.status == 200, r.status
        ids = [kv(m)["request_id"] for _, _, _, m in file_lines(os.path.join(d, "access.log"))]
        assert all("stalled-%d" % j in ids for j in range(40)), "access.log lost lines"
        # Read again: the next line of a process that dropped some says how many.
        out = [p.drain()]

        def reported():
            assert fetch(p.port, "/again", timeout=10).status == 200
            out.append(p.drain())
            return re.search(r"event=stderr_dropped lines=(\d+)", "".join(out))
        m = wait_for(reported, timeout=10, interval=0.05, what="event=stderr_dropped")
        assert int(m.group(1)) >= 1, m.group(0)
        wait_for(lambda: events(os.path.join(d, "rproxyd.log"), "event=stderr_dropped"),
                 timeout=5, what="the drop in rproxyd.log")
        # Stalled again, SIGTERM still stops everything.
        while p.pending() < size - 512:
            assert fetch(p.port, "/refill", timeout=10).status == 200
        p.signal(signal.SIGTERM)
        try:
            rc = p.proc.wait(30)
        except subprocess.TimeoutExpired:
            raise AssertionError("SIGTERM did not stop rproxyd with stderr not read")
        assert rc == 0, rc


def test_quoted_values_escaped_and_time_offset():
    """A config error quoting a key stays one key=value field in the reload
    failure line (issue 16); file timestamps carry the UTC offset of TZ."""
    with contextlib.ExitStack() as st:
        old_tz = os.environ.get("TZ")
        os.environ["TZ"] = "XST-05:30"      # 5 h 30 min east of UTC
        st.callback(lambda: os.environ.pop("TZ") if old_tz is None
                    else os.environ.__setitem__("TZ", old_tz))
        d, p = logged_proxy(st, "quoteb1")
        log = os.path.join(d, "rproxyd.log")
        with open(p.conf, "a") as f:
            f.write('max_retrys = 3\n')
        p.signal(signal.SIGHUP)
        got = wait_for(lambda: events(log, "event=reload", "result=failure"), timeout=10,
                       what="the reload failure in rproxyd.log")
        # events() has checked every line is key=value pairs.
        err = got[0][3]["error"]
        assert "unknown key \\x22max_retrys\\x22" in err, err
        assert got[0][3]["action"] == "keep_running", got[0][3]
        stamps = [ts for ts, _, _, _ in file_lines(log)]
        assert stamps and all(ts.endswith("+05:30") for ts in stamps), stamps


def test_log_max_size_zero_never_rotates():
    """log_max_size = 0: logrotate alone rotates; the built-in rotation is off."""
    with contextlib.ExitStack() as st:
        d, p = logged_proxy(st, "norotb1", log_max_size=0)
        access = os.path.join(d, "access.log")
        while os.path.getsize(access) < 8192:
            assert fetch(p.port, "/big/" + "x" * 200).status == 200
        # The master looks at the sizes once a second: give it a few looks.
        time.sleep(3)
        assert fetch(p.port, "/last").status == 200
        assert sorted(os.listdir(d)) == ["access.log", "rproxyd.log"], os.listdir(d)


def test_warning_when_logs_go_nowhere():
    """No syslog socket and no log_dir: a warning on stderr at start; with a
    log_dir, none."""
    with contextlib.ExitStack() as st:
        root = tempfile.mkdtemp(prefix="rproxyd-nolog-")
        st.callback(shutil.rmtree, root, True)
        ns = Namespace(root, os.path.join(root, "no-such.sock"))
        ns.check()
        b = Backend("nologb1")
        st.callback(b.stop)
        b.start()
        p = NsProxy(ns, [b], workers=1, shutdown_timeout=5)
        st.callback(p.cleanup)
        p.start()
        assert fetch(p.port, "/").status == 200
        assert p.stop() == 0
        assert "rproxyd: warning: no syslog socket at /dev/log and no log_dir: " \
            "log lines go to stderr only" in p.logs(), p.logs()
        d = os.path.join(root, "logs")
        os.mkdir(d)
        q = NsProxy(ns, [b], workers=1, shutdown_timeout=5, log_dir=d)
        st.callback(q.cleanup)
        q.start()
        assert q.stop() == 0
        assert "warning: no syslog socket" not in q.logs(), q.logs()


if __name__ == "__main__":
    harness.run([test_syslog_delivery,
          test_syslog_stalled_reader_does_not_stop_proxy,
          test_readme_failure_scenario_in_log_files,
          test_rotation_under_load_loses_no_line,
          test_reopen_while_a_request_is_in_flight,
          test_client_values_cannot_break_key_value,
          test_errno_events_stay_key_value,
          test_backend_reopens_log_on_sigusr1,
          test_log_symlink_planted_by_workers_user_is_refused,
          test_pidfile_symlink_is_refused,
          test_log_dir_writable_by_others_is_refused,
          test_stderr_stalled_reader_does_not_stop_proxy,
          test_quoted_values_escaped_and_time_offset,
          test_log_max_size_zero_never_rotates,
          test_warning_when_logs_go_nowhere])
