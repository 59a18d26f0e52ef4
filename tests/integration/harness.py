"""harness.py: start the real rproxyd and demo backends on loopback, talk HTTP to them.

Every wait polls for its condition with a deadline; nothing relies on a sleep
being long enough. The processes under test bind port 0 and report the port
the kernel picked (rproxyd in its event=start line, the demo backend on its
standard output), so test scripts can run side by side without racing for
ports.
"""
import http.client as httpclient
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

RPROXYD = os.environ.get("RPROXYD", os.path.abspath("src/rproxyd"))
BACKEND = os.environ.get("RP_BACKEND", os.path.abspath("backends/rproxyd-backend"))
SRCDIR = os.environ.get("RP_SRCDIR", os.path.abspath("."))

# A sanitizer build's reports from any process this script starts (daemonized
# masters and workers included) land here; run() fails the script if any do.
SANITIZER_DIR = tempfile.mkdtemp(prefix="rproxyd-san-")
for _var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
    os.environ[_var] = ":".join(o for o in (
        os.environ.get(_var, ""),
        "log_path=%s/%s" % (SANITIZER_DIR, _var.split("_")[0].lower())) if o)


def free_port():
    """A port nobody listened on a moment ago (the kernel's pick). Racy: another
    process may take it before it is used, so only for a port that must refuse
    connections; a server under test binds port 0 and reports its port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=10.0, what="condition", interval=0.02):
    """Poll cond() until it is true; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def file_text(path):
    """A file's text, or "" when it cannot be read (yet)."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (state first, then
    ppid, pgrp, session, ...), or None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def proc_status(pid):
    """/proc/PID/status as {field: text} ("Uid", "SigBlk", ...), or None when
    there is no such process."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return {k: v.strip() for k, _, v in (ln.partition(":") for ln in f) if v}
    except OSError:
        return None


def cpu_ticks(pid):
    """utime + stime of pid in clock ticks, from /proc/PID/stat."""
    fields = proc_stat(pid)
    return int(fields[11]) + int(fields[12])


def proc_state(pid):
    """The state letter of pid ("R", "S", "Z", ...), or None when it is gone."""
    st = proc_stat(pid)
    return st[0] if st else None


def proc_alive(pid):
    """pid exists and has not exited (a zombie has)."""
    return proc_state(pid) not in (None, "Z", "X")


def read_pid(path):
    """The pid in a pidfile, or None when it is missing or not a number."""
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def children(ppid):
    """Live (not zombie) children of ppid, from /proc."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        st = proc_stat(int(d))
        if st is not None and int(st[1]) == ppid and st[0] != "Z":
            out.append(int(d))
    return sorted(out)


KEEPER_COMM = "rproxyd-keeper"
METRICS_COMM = "rproxyd-metrics"


def comm(pid):
    """A process's name (/proc/PID/comm), or "" once it is gone."""
    return file_text("/proc/%d/comm" % pid).strip()


def workers(ppid):
    """The master's workers: its children but the keeper and the metrics process."""
    return [pid for pid in children(ppid) if comm(pid) not in (KEEPER_COMM, METRICS_COMM)]


def keepers(ppid):
    """The master's keeper processes (two for a moment during a reload)."""
    return [pid for pid in children(ppid) if comm(pid) == KEEPER_COMM]


def metrics_procs(ppid):
    """The master's metrics processes (two for a moment during a reload)."""
    return [pid for pid in children(ppid) if comm(pid) == METRICS_COMM]


def status_rows(text):
    """The backend table of `rproxyd -s status` output: {backend: columns}."""
    lines = text.splitlines()
    first = [i for i, ln in enumerate(lines) if ln.startswith("BACKEND ")]
    rows = {}
    for ln in lines[first[0] + 1:] if first else []:
        cols = ln.split()
        if len(cols) >= 9:
            rows[cols[0]] = cols
    return rows


def metric(port, name, labels=""):
    """One sample of a scrape of the metrics port: name, with labels written as
    in the exposition ('backend="b1"'), or None when there is no such sample."""
    st, _, body = http(port, "/metrics", timeout=5)
    assert st == 200, st
    want = "%s{%s} " % (name, labels) if labels else name + " "
    for line in body.decode().splitlines():
        if line.startswith(want):
            return float(line.rsplit(" ", 1)[1])
    return None


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class Resp:
    """A response: status, headers (dict, lower-case names), header_list (as
    received, in order), body."""

    def __init__(self, status, header_list, body):
        self.status = status
        self.header_list = header_list
        self.headers = {k.lower(): v for k, v in header_list}
        self.body = body

    def names(self):
        return [k.lower() for k, _ in self.header_list]


def request(port, path="/", method="GET", headers=None, body=None, timeout=10.0,
            encode_chunked=False, host="127.0.0.1"):
    """One request on a new connection, as a Resp."""
    c = httpclient.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {},
                  encode_chunked=encode_chunked)
        r = c.getresponse()
        data = r.read()
        return Resp(r.status, r.getheaders(), data)
    finally:
        c.close()


def http(port, path="/", method="GET", headers=None, body=None, timeout=10.0,
         host="127.0.0.1"):
    """request() as a tuple: (status, headers dict lower-case, body bytes)."""
    r = request(port, path, method, headers, body, timeout, host=host)
    return r.status, r.headers, r.body


def raw(port, data, timeout=5.0, host="127.0.0.1"):
    """Send raw bytes, read until the server closes or timeout: the bytes received."""
    out = b""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(data)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                out += b"<RESET>"
                break
            if not chunk:
                break
            out += chunk
    return out


START_PORTS = re.compile(r"event=start .*?listen=\S+?:(\d+) metrics_listen=(?:\S+?:(\d+)|off)")


def started_ports(text):
    """(port, metrics port or None when off) from the last rproxyd event=start
    line in text, or None when there is none."""
    found = START_PORTS.findall(text)
    if not found:
        return None
    port, metrics = found[-1]
    return int(port), int(metrics) if metrics else None


def read_line(f, timeout=10.0, what="a line"):
    """One line from the pipe f, waiting at most timeout: "" at end of file."""
    deadline = time.monotonic() + timeout
    buf = b""
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        if not select.select([f], [], [], left)[0]:
            continue
        c = os.read(f.fileno(), 1)
        if not c:
            break
        buf += c
    return buf.decode("utf-8", "replace")


class Backend:
    """One demo backend process (backends/rproxyd-backend). Without a port it
    binds port 0 and .port is the kernel's pick once started; a later start()
    reuses that port, so a backend can go down and come back."""

    def __init__(self, name, port=None, logdir=None, addr="127.0.0.1"):
        self.name = name
        self.port = port
        self.logdir = logdir
        self.addr = addr
        self.proc = None

    def argv(self, args):
        """The command line that runs args (a subclass may wrap it)."""
        return args

    def popen(self, args, **kw):
        return subprocess.Popen(self.argv(args), **kw)

    def start(self):
        args = [BACKEND, "-n", self.name, "-p", str(self.port or 0), "-a", self.addr, "-q"]
        if self.logdir:
            args += ["-L", self.logdir]
        self.proc = self.popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        with self.proc.stdout:
            line = read_line(self.proc.stdout, what="backend %s to listen" % self.name)
        m = re.match(r"listening on \S+:(\d+)$", line.strip())
        assert m, "backend %s did not start (exit %r): %r" % (
            self.name, self.proc.poll(), line)
        self.port = int(m.group(1))
        wait_for(lambda: port_open(self.port, self.addr),
                 what="backend %s on %d" % (self.name, self.port))
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    @property
    def url(self):
        host = "[%s]" % self.addr if ":" in self.addr else self.addr
        return "http://%s:%d" % (host, self.port)


class Proxy:
    """rproxyd in the foreground (-f) with a generated config in a private directory."""

    def __init__(self, backends, workers=2, host="127.0.0.1", **keys):
        """port and metrics_port default to 0 in the config: .port and
        .metrics_port are then the bound ports, known once started (and
        after learn_ports() for a daemon started by other means)."""
        self.dir = tempfile.mkdtemp(prefix="rproxyd-test-")
        self.host = host
        # What the config says; 0 stays 0 across reloads, which must not count
        # it as a change of listen address.
        self.conf_port = keys.pop("port", None) or 0
        self.conf_metrics_port = keys.pop("metrics_port", None) or 0
        self.port = self.conf_port or None
        self.metrics_port = self.conf_metrics_port or None
        self.pidfile = os.path.join(self.dir, "rproxyd.pid")
        self.conf = os.path.join(self.dir, "rproxyd.conf")
        self.log = os.path.join(self.dir, "stderr.log")
        self.backends = backends
        self.keys = dict(keys)
        self.keys.setdefault("workers", workers)
        self.proc = None
        self.write_config()

    def config_text(self, backends=None, **override):
        keys = dict(self.keys)
        keys.update(override)
        lines = ['listen = "%s:%d"' % ("[%s]" % self.host if ":" in self.host
                                        else self.host, self.conf_port),
                 'metrics_listen = "127.0.0.1:%d"' % self.conf_metrics_port,
                 'pidfile = "%s"' % self.pidfile]
        for k, v in keys.items():
            lines.append('%s = %s' % (k, '"%s"' % v if isinstance(v, str) else v))
        for b in (backends if backends is not None else self.backends):
            name, url = (b.name, b.url) if isinstance(b, Backend) else b
            lines.append('backend %s { url = "%s" }' % (name, url))
        return "\n".join(lines) + "\n"

    def write_config(self, text=None, **override):
        with open(self.conf, "w") as f:
            f.write(text if text is not None else self.config_text(**override))

    def argv(self, args):
        """The command line that runs args (a subclass may wrap it)."""
        return args

    def popen(self, args, **kw):
        return subprocess.Popen(self.argv(args), **kw)

    def start(self, wait=True):
        """Run rproxyd -f; with wait, return once it serves, its ports known."""
        self.logf = open(self.log, "ab")
        mark = self.logf.tell()
        self.proc = self.popen([RPROXYD, "-f", "-c", self.conf],
                               stdout=self.logf, stderr=self.logf)
        if wait:
            self.learn_ports(lambda: self.logs(since=mark), self.proc)
        return self

    def learn_ports(self, text, proc=None, timeout=10.0):
        """Wait for an event=start line in text() (a function), take .port and
        .metrics_port from it, then wait for the port to accept. proc, if
        given, failing first fails the wait at once."""
        def started():
            if proc is not None and proc.poll() is not None:
                raise AssertionError("rproxyd exited %r: %s" % (proc.returncode, text()))
            return started_ports(text())
        self.port, self.metrics_port = wait_for(started, timeout=timeout,
                                                what="rproxyd's event=start line")
        wait_for(lambda: port_open(self.port, self.host) or
                 (proc is not None and proc.poll() is not None),
                 what="rproxyd on %d" % self.port)
        assert proc is None or proc.poll() is None, "rproxyd exited: %s" % self.logs()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30.0):
        """SIGTERM and wait: the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait(5)
        self.logf.close()
        self.proc = None
        return rc

    def logs(self, since=0):
        """The foreground log's text, from byte offset since."""
        with open(self.log, "rb") as f:
            f.seek(since)
            return f.read().decode("utf-8", "replace")

    def worker_pids(self):
        """The master's workers, from /proc."""
        return workers(self.proc.pid)

    def keeper_pids(self):
        """The master's keeper (or keepers, during a reload), from /proc."""
        return keepers(self.proc.pid)

    def metrics_pids(self):
        """The master's metrics process (or two, during a reload), from /proc."""
        return metrics_procs(self.proc.pid)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Skip(Exception):
    """Raised by a test that cannot run on this machine (said, not hidden)."""


def run(tests):
    """Run test functions in order; print a line each (SKIP: name: reason for
    a skipped one) and the closing totals. Exit 1 on a failure or a sanitizer
    report; 77 (automake's SKIP) only when every test skipped; else 0, the
    skipped ones still listed in the log."""
    passed = failed = skipped = 0
    only = sys.argv[1:]
    for t in tests:
        if only and t.__name__ not in only:
            continue
        start = time.monotonic()
        try:
            t()
        except Skip as e:
            skipped += 1
            print("SKIP: %s: %s" % (t.__name__, e))
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (t.__name__, time.monotonic() - start))
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print("ok   %s (%.2fs)" % (t.__name__, time.monotonic() - start))
        sys.stdout.flush()
    reports = sorted(os.listdir(SANITIZER_DIR))
    for name in reports:
        with open(os.path.join(SANITIZER_DIR, name), errors="replace") as f:
            print("FAIL sanitizer report %s:\n%s" % (name, f.read()))
    shutil.rmtree(SANITIZER_DIR, ignore_errors=True)
    print("%d passed, %d failed, %d skipped, %d sanitizer reports" %
          (passed, failed, skipped, len(reports)))
    if failed or reports:
        sys.exit(1)
    if passed:
        sys.exit(0)
    sys.exit(77 if skipped else 1)
