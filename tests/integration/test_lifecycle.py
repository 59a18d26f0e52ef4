#!/usr/bin/env python3
"""test_lifecycle.py: rproxyd's command line, start and stop, pidfile, daemon mode, respawn.

What rproxyd(8) and main.c/master.c/pidfile.c claim, checked on the real
daemon: -t/-v/-h and FILE:LINE config errors, a clean SIGTERM stop that removes
the pidfile and the shared-memory region, the pidfile lock, daemonizing (the
parent returns only once the daemon serves), respawn of a killed worker, the
stop on a fatal worker error instead of a fork loop, and `-s status`.
"""
import os
import pwd
import re
import select
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
from harness import (RPROXYD, Backend, Proxy, Skip, children, file_text, http,  # noqa: E402
                     port_open, proc_alive, proc_stat, proc_status, read_pid, run, started_ports,
                     wait_for)

BACKENDS = []


def backends():
    """Two demo backends shared by the tests that only need something to proxy to."""
    if not BACKENDS:
        BACKENDS.append(Backend("backend1").start())
        BACKENDS.append(Backend("backend2").start())
    return BACKENDS


def rproxyd(*args, timeout=10.0, cwd=None):
    """Run rproxyd to completion: (exit status, stdout, stderr)."""
    p = subprocess.run([RPROXYD] + list(args), stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout, cwd=cwd)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"))


def shm_path(pid):
    return "/dev/shm/rproxyd.%d" % pid


def stop_daemon(pidfile, pid=None):
    """Best-effort SIGTERM (then SIGKILL) of a daemon this test started, by its pid."""
    if pid is None:
        pid = read_pid(pidfile)
        if pid is None:
            return
    if not proc_alive(pid):
        return
    os.kill(pid, signal.SIGTERM)
    try:
        wait_for(lambda: not proc_alive(pid), timeout=10, what="daemon %d to exit" % pid)
    except AssertionError:
        os.kill(pid, signal.SIGKILL)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


# --- command line and config checking -------------------------------------

def test_check_good_config():
    p = Proxy(backends())
    try:
        rc, out, err = rproxyd("-t", "-c", p.conf)
        assert rc == 0, (rc, out, err)
        assert "test is successful" in out, out
        assert p.conf in out, out
        # -t must not start anything.
        assert not os.path.exists(p.pidfile)
        assert "event=start" not in err, err
    finally:
        p.cleanup()


# (name, config text, faulty line or None, reason pattern). Each faulty line is at
# a known line number; "no backend" points at the end of the file, where one
# was still missing.
BAD_CONFIGS = [
    ("unknown key",
     'listen = "127.0.0.1:8080"\n'
     'workers = 2\n'
     'bogus_key = 1\n'
     'backend a { url = "http://127.0.0.1:9001" }\n',
     3, r'unknown key "bogus_key"'),
    ("unknown key in backend",
     'workers = 2\n'
     'backend a {\n'
     '  url = "http://127.0.0.1:9001"\n'
     '  wieght = 2\n'
     '}\n',
     4, r'unknown key "wieght"'),
    ("bad url",
     'workers = 2\n'
     '\n'
     'backend a { url = "http://127.0.0.1:9001" }\n'
     '\n'
     'backend b { url = "ftp://127.0.0.1:9002" }\n',
     5, r'backend "b": bad url "ftp://127.0.0.1:9002"'),
    ("bad url no port",
     'backend a { url = "http://127.0.0.1" }\n',
     1, r'backend "a": bad url "http://127.0.0.1"'),
    ("duplicate backend",
     'workers = 2\n'
     'backend a { url = "http://127.0.0.1:9001" }\n'
     'backend b { url = "http://127.0.0.1:9002" }\n'
     '\n'
     '\n'
     'backend a { url = "http://127.0.0.1:9003" }\n',
     6, r'duplicate backend "a"'),
    ("listen port out of range",
     'workers = 2\n'
     'listen = "127.0.0.1:65536"\n'
     'backend a { url = "http://127.0.0.1:9001" }\n',
     2, r'listen "127.0.0.1:65536": port out of range'),
    ("backend port zero",
     'backend a { url = "http://127.0.0.1:0" }\n',
     1, r'backend "a": bad url "http://127.0.0.1:0": port out of range'),
    ("backend port out of range",
     'workers = 2\n'
     'backend a { url = "http://127.0.0.1:9001" }\n'
     'backend b {\n'
     '  weight = 2\n'
     '\n'
     '\n'
     '  url = "http://127.0.0.1:70000"\n'
     '}\n',
     7, r'backend "b": bad url "http://127.0.0.1:70000": port out of range'),
    ("no backend",
     'listen = "127.0.0.1:8080"\n'
     'workers = 2\n',
     2, r'no backend defined'),
    ("negative duration",
     'workers = 2\n'
     'listen = "127.0.0.1:8080"\n'
     'max_retries = 1\n'
     'connect_timeout = -1\n'
     'backend a { url = "http://127.0.0.1:9001" }\n',
     4, r'connect_timeout: must be a positive number of seconds'),
    ("non-numeric duration",
     'workers = 2\n'
     'backend a { url = "http://127.0.0.1:9001" }\n'
     'connect_timeout = "abc"\n',
     3, r'connect_timeout: must be a positive number of seconds'),
]


def check_bad(configs):
    """Run -t on each bad config: the problems found, as text lines."""
    d = Proxy(backends())   # only for its private directory
    problems = []
    try:
        for i, (name, text, line, reason) in enumerate(configs):
            path = os.path.join(d.dir, "bad%d.conf" % i)
            write(path, text)
            rc, out, err = rproxyd("-t", "-c", path)
            where = "%s:%d: " % (path, line) if line is not None else "%s: " % path
            want = r"^rproxyd: " + re.escape(where) + r".*" + reason
            if rc != 1 or not re.search(want, err, re.M) or "successful" in out:
                problems.append("%s: rc=%r stdout=%r stderr=%r (wanted /%s/)" %
                                (name, rc, out, err, want))
            # One error, one line: the first problem, not a cascade.
            elif len(err.strip().splitlines()) != 1:
                problems.append("%s: more than one line on stderr: %r" % (name, err))
    finally:
        d.cleanup()
    return problems


def test_check_bad_configs():
    problems = check_bad(BAD_CONFIGS)
    assert not problems, "\n".join(problems)
    # A missing file is a config error too.
    rc, out, err = rproxyd("-t", "-c", "/nonexistent/rproxyd-missing.conf")
    assert rc == 1 and "rproxyd-missing.conf" in err, (rc, out, err)


# The same kind of mistakes in files with comments, as every real config
# (and etc/rproxyd.conf) has: the line must still be the faulty one.
COMMENTED_CONFIGS = [
    ("after a # comment line",
     '# rproxyd.conf\n'
     'workers = 2\n'
     'bogus_key = 1\n'
     'backend a { url = "http://127.0.0.1:9001" }\n',
     3, r'unknown key "bogus_key"'),
    ("after a // comment line",
     '// rproxyd.conf\n'
     'bogus_key = 1\n'
     'backend a { url = "http://127.0.0.1:9001" }\n',
     2, r'unknown key "bogus_key"'),
    ("after a trailing comment",
     'workers = 2   # two\n'
     'backend a { url = "ftp://127.0.0.1:9001" }\n',
     2, r'backend "a": bad url'),
    ("after a /* */ comment",
     '/* rproxyd.conf */\n'
     'connect_timeout = -1\n'
     'backend a { url = "http://127.0.0.1:9001" }\n',
     2, r'connect_timeout: must be a positive'),
    ("inside a section after comments",
     'workers = 2\n'
     '# backends\n'
     'backend b {\n'
     '  # the next line is wrong\n'
     '  url = "http://127.0.0.1:70000"\n'
     '}\n',
     5, r'backend "b": bad url "http://127.0.0.1:70000": port out of range'),
]


def test_check_line_numbers_after_comments():
    problems = check_bad(COMMENTED_CONFIGS)
    assert not problems, "\n".join(problems)


def test_cli_version_help_bad_option():
    rc, out, err = rproxyd("-v")
    assert rc == 0 and re.match(r"^rproxyd \d+\.\d+(\.\d+)?\S*\n$", out), (rc, out, err)
    rc, out, err = rproxyd("-h")
    assert rc == 0 and out.startswith("usage: rproxyd") and "-c file" in out, (rc, out, err)
    rc, out, err = rproxyd("-Z")
    assert rc == 1 and "usage: rproxyd" in err and out == "", (rc, out, err)
    rc, out, err = rproxyd("-c")            # missing argument
    assert rc == 1 and "usage: rproxyd" in err, (rc, out, err)
    rc, out, err = rproxyd("-t", "extra-operand")
    assert rc == 1 and "usage: rproxyd" in err, (rc, out, err)


def test_cli_long_options():
    """--help and --version answer like -h and -v; others are refused."""
    assert rproxyd("--version") == rproxyd("-v"), rproxyd("--version")
    rc, out, err = rproxyd("--help")
    assert (rc, out, err) == rproxyd("-h") and rc == 0 and "--help" in out, (rc, out, err)
    rc, out, err = rproxyd("--bogus")
    assert rc == 1 and "usage: rproxyd" in err and out == "", (rc, out, err)


def test_cli_print_effective_config():
    """-T checks the config and prints it as in effect (includes,
    ${VAR:-default} and defaults resolved), in a form -t accepts again."""
    d = tempfile.mkdtemp(prefix="rproxyd-T-")
    try:
        main = os.path.join(d, "main.conf")
        write(os.path.join(d, "backends.conf"),
              '# the backends\nbackend b1 { url = "http://127.0.0.1:9001" }\n')
        write(main, '# comment\nlisten = "127.0.0.1:${RP_T_PORT:-8123}"\n'
              'max_retries = ${RP_T_RETRIES}\ninclude("backends.conf")\n')
        env = dict(os.environ, RP_T_RETRIES="5")
        env.pop("RP_T_PORT", None)
        p = subprocess.run([RPROXYD, "-T", "-c", main], capture_output=True, env=env,
                           cwd="/", timeout=10)
        out = p.stdout.decode()
        assert p.returncode == 0, p
        for want in ('listen = "127.0.0.1:8123"', "max_retries = 5", "workers = 0", "max_workers = 512",
                     "backend b1 {", 'url = "http://127.0.0.1:9001"'):
            assert "\n%s\n" % want in out or "\n\t%s\n" % want in out, (want, out)
        # What it prints is itself a config that gives the same output.
        write(os.path.join(d, "dump.conf"), out)
        rc, out2, err = rproxyd("-T", "-c", os.path.join(d, "dump.conf"))
        assert rc == 0 and out2.split("\n", 1)[1] == out.split("\n", 1)[1], (err, out2)
        # Unset ${VAR} without a default: refused with FILE:LINE, nothing printed.
        env.pop("RP_T_RETRIES")
        p = subprocess.run([RPROXYD, "-T", "-c", main], capture_output=True, env=env,
                           timeout=10)
        assert p.returncode == 1 and p.stdout == b"", p
        assert "%s:3: ${RP_T_RETRIES}:" % main in p.stderr.decode(), p.stderr
    finally:
        shutil.rmtree(d, ignore_errors=True)


# --- foreground start and stop --------------------------------------------

def test_foreground_start_stop():
    p = Proxy(backends(), workers=2)
    try:
        p.start()
        pid = p.proc.pid
        st, hdrs, body = http(p.port, "/")
        assert st == 200 and hdrs.get("x-backend") in ("backend1", "backend2"), (st, hdrs)
        assert body == ("Hello from %s\n" % hdrs["x-backend"]).encode(), body
        assert read_pid(p.pidfile) == pid
        assert os.path.exists(shm_path(pid)), "no shared-memory region %s" % shm_path(pid)
        wait_for(lambda: len(p.worker_pids()) == 2, what="2 workers")
        workers = p.worker_pids()

        p.signal(signal.SIGTERM)
        try:
            rc = p.proc.wait(30)    # hang guard
        except subprocess.TimeoutExpired:
            raise AssertionError("no exit 30 s after SIGTERM: %s" % p.logs())
        assert rc == 0, "exit status %r: %s" % (rc, p.logs())
        # Idle workers sit in accept(), which the signal interrupts: the drain
        # ends on its own, not at shutdown_timeout.
        assert "phase=timeout" not in p.logs(), p.logs()
        assert not os.path.exists(p.pidfile), "pidfile left behind"
        assert not os.path.exists(shm_path(pid)), "%s left behind" % shm_path(pid)
        assert all(not proc_alive(w) for w in workers), "a worker outlived the master"
        logs = p.logs()
        assert "event=shutdown phase=begin" in logs and \
            "event=shutdown phase=done status=0" in logs, logs
        assert not port_open(p.port)
    finally:
        p.cleanup()


def dead_pid():
    """A pid that ran a moment ago and runs no more (reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def plant_region(pid, age=3600):
    """A region named for pid, as a master killed with SIGKILL leaves it, age s old."""
    path = shm_path(pid)
    with open(path, "wb") as f:
        f.write(b"\0" * 4096)
    os.chmod(path, 0o644)
    t = time.time() - age
    os.utime(path, (t, t))
    return path


def test_stale_regions_cleaned_at_start():
    """Regions of dead masters, and of pids now running something that does
    not map them, are removed at start; a live master's is kept, and so is a
    young one (a master may not have mapped it yet); the new one is mode 0600
    (backend URLs and counters are not for every local user)."""
    live = Proxy(backends(), workers=1)
    p = Proxy(backends(), workers=1)
    others = [subprocess.Popen(["sleep", "60"]) for _ in range(2)]
    planted = []
    try:
        live.start()
        # The port listens a moment before the region exists.
        wait_for(lambda: os.path.exists(shm_path(live.proc.pid)), what="the live region")
        # Old, like a stale one, but its master runs and maps it: kept.
        t = time.time() - 3600
        os.utime(shm_path(live.proc.pid), (t, t))
        dead = dead_pid()
        assert not proc_alive(dead)
        planted = [plant_region(dead), plant_region(others[0].pid),
                   plant_region(others[1].pid, age=0)]
        p.start()
        wait_for(lambda: os.path.exists(shm_path(p.proc.pid)), what="the new region")
        left = [f for f in planted[:2] if os.path.exists(f)]
        assert not left, "stale regions left: %s" % left
        assert os.path.exists(planted[2]), "a young region removed"
        assert os.path.exists(shm_path(live.proc.pid)), "a live master's region removed"
        mode = os.stat(shm_path(p.proc.pid)).st_mode & 0o777
        assert mode == 0o600, "region mode %o" % mode
        assert http(live.port, "/")[0] == 200 and http(p.port, "/")[0] == 200
    finally:
        for o in others:
            o.kill()
            o.wait()
        for f in planted:
            if os.path.exists(f):
                os.unlink(f)
        p.cleanup()
        live.cleanup()


def test_pidfile_lock():
    p1 = Proxy(backends(), workers=1)
    p2 = Proxy(backends(), workers=1)
    try:
        p1.start()
        # Same pidfile, different listen port: only the lock can refuse it.
        p2.pidfile = p1.pidfile
        p2.write_config()
        p2.start(wait=False)
        try:
            rc = p2.proc.wait(10)
        except subprocess.TimeoutExpired:
            raise AssertionError("second instance still running: %s" % p2.logs())
        logs2 = p2.logs()
        assert rc == 1, "second instance exit status %r: %s" % (rc, logs2)
        assert p1.pidfile in logs2 and "already running" in logs2, logs2
        assert "pid %d" % p1.proc.pid in logs2, logs2
        assert "event=start" not in logs2, "second instance listened anyway"
        # The first is untouched: still running, still serving, still in its pidfile.
        assert p1.proc.poll() is None
        assert read_pid(p1.pidfile) == p1.proc.pid
        st, hdrs, _ = http(p1.port, "/")
        assert st == 200, st
        assert os.path.exists(shm_path(p1.proc.pid))
        assert p1.stop(10) == 0
        assert not os.path.exists(p1.pidfile)
    finally:
        p2.cleanup()
        p1.cleanup()


# --- daemon mode -----------------------------------------------------------

def daemon_proxy(**keys):
    p = Proxy(backends(), **keys)
    p.logdir = os.path.join(p.dir, "logs")
    os.mkdir(p.logdir)
    p.keys["log_dir"] = p.logdir
    p.write_config()
    return p


def test_daemon_mode():
    p = daemon_proxy(workers=2)
    pid = None
    try:
        errf = os.path.join(p.dir, "daemon.err")
        with open(errf, "wb") as ef:
            # stderr to a file, not a pipe: see test_daemon_releases_stderr.
            # The timeout is a hang guard.
            rc = subprocess.run([RPROXYD, "-c", p.conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=ef, timeout=30).returncode
        assert rc == 0, "exit %r: %s" % (rc, file_text(errf))
        log = os.path.join(p.logdir, "rproxyd.log")
        # Exit 0 means serving: the start line is written and the very first
        # request must work, no retry.
        ports = started_ports(file_text(log))
        assert ports, "no event=start line in %s: %s" % (log, file_text(log))
        p.port, p.metrics_port = ports
        st, hdrs, _ = http(p.port, "/", timeout=5)
        assert st == 200 and hdrs.get("x-backend") in ("backend1", "backend2"), (st, hdrs)

        pid = read_pid(p.pidfile)
        assert proc_alive(pid), "pidfile names pid %d: not running" % pid
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            assert os.path.basename(f.read().split(b"\0")[0]) == b"rproxyd"
        fields = proc_stat(pid)
        # Daemonized: not our child, leader of its own session.
        assert int(fields[1]) != os.getpid(), "daemon is still the test's child"
        assert int(fields[3]) == pid, "daemon is not a session leader (sid %s)" % fields[3]
        wait_for(lambda: len(harness.workers(pid)) == 2, timeout=5,
                 what="2 workers under the master")
        workers = harness.workers(pid)
        assert os.path.exists(shm_path(pid))
        assert file_text(errf) == "", "daemon wrote to stderr: %r" % file_text(errf)
        assert "event=start" in file_text(os.path.join(p.logdir, "rproxyd.log"))

        os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not proc_alive(pid), timeout=10, what="daemon %d to exit" % pid)
        wait_for(lambda: all(not proc_alive(w) for w in workers), timeout=5, what="workers gone")
        assert not os.path.exists(p.pidfile), "pidfile left behind"
        assert not os.path.exists(shm_path(pid)), "shm region left behind"
        assert "event=shutdown phase=done status=0" in \
            file_text(os.path.join(p.logdir, "rproxyd.log"))
    finally:
        stop_daemon(p.pidfile, pid)
        p.cleanup()


def test_daemon_start_failure_port_in_use():
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    p = daemon_proxy(workers=1, port=blocker.getsockname()[1])
    try:
        errf = os.path.join(p.dir, "daemon.err")
        with open(errf, "wb") as ef:
            rc = subprocess.run([RPROXYD, "-c", p.conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=ef, timeout=30).returncode
        err = file_text(errf)
        assert rc == 1, "exit %r: %r" % (rc, err)
        assert "127.0.0.1:%d" % p.port in err and "Address already in use" in err, err
        assert not os.path.exists(p.pidfile), "pidfile left behind by a failed start"
    finally:
        blocker.close()
        stop_daemon(p.pidfile)
        p.cleanup()


def test_daemon_releases_stderr():
    """`out=$(rproxyd -c conf 2>&1)` in an init script must return once the daemon runs.

    The parent exits on the ready byte; after that nothing of the daemon may
    hold the caller's stderr, or a pipe reader (shell substitution, `| logger`)
    waits forever.
    """
    p = daemon_proxy(workers=2)
    proc = None
    try:
        proc = subprocess.Popen([RPROXYD, "-c", p.conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        rc = proc.wait(10)
        assert rc == 0, rc
        # The parent is gone; the write end must be closed by the daemon too.
        r, _, _ = select.select([proc.stderr], [], [], 3.0)
        assert r, ("stderr pipe still open 3 s after the parent exited: some daemon "
                   "process still holds it (workers: %s)" %
                   children(read_pid(p.pidfile)))
        data = os.read(proc.stderr.fileno(), 4096)
        assert data == b"", "unexpected stderr output %r" % data
    finally:
        if proc is not None:
            proc.stderr.close()
        stop_daemon(p.pidfile)
        p.cleanup()


def test_daemon_relative_config_reload():
    """A daemon started with a relative -c path must still find its config on SIGHUP."""
    p = daemon_proxy(workers=1)
    pid = None
    try:
        rc = subprocess.run([RPROXYD, "-c", os.path.basename(p.conf)], cwd=p.dir,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, timeout=10).returncode
        assert rc == 0, rc
        pid = read_pid(p.pidfile)
        log = os.path.join(p.logdir, "rproxyd.log")
        os.kill(pid, signal.SIGHUP)
        wait_for(lambda: "event=reload result=" in file_text(log), timeout=5,
                 what="a reload result in %s" % log)
        lines = [ln for ln in file_text(log).splitlines() if "event=reload result=" in ln]
        assert "result=success" in lines[0], \
            "reload after daemonizing (chdir /) with relative -c failed: %s" % lines[0]
    finally:
        stop_daemon(p.pidfile, pid)
        p.cleanup()


# --- respawn, status, crash loop -------------------------------------------

def status_rows(conf):
    """`rproxyd -s status -c conf`: (rc, stdout, stderr, {backend: columns})."""
    rc, out, err = rproxyd("-s", "status", "-c", conf)
    return rc, out, err, harness.status_rows(out)


def test_respawn_killed_worker_and_status():
    p = Proxy(backends(), workers=2)
    results = []
    progress = threading.Event()
    respawned = threading.Event()
    stop = threading.Event()

    def client():
        # Sequential requests, each on its own connection, from before the kill
        # until 20 after the replacement worker is up (at most 1000 in all).
        after = 0
        for i in range(1000):
            if stop.is_set() or after >= 20:
                break
            if respawned.is_set():
                after += 1
            try:
                st, hdrs, body = http(p.port, "/", timeout=5)
                results.append((st, hdrs.get("x-backend"), body))
            except Exception as e:    # noqa: BLE001 - reset, EOF, bad status line
                results.append(("error", repr(e), b""))
            if i == 20:
                progress.set()

    try:
        p.start()
        wait_for(lambda: len(p.worker_pids()) == 2, what="2 workers")
        before = p.worker_pids()
        t = threading.Thread(target=client)
        t.start()
        assert progress.wait(10), "client made no progress"
        victim = before[0]
        # The victim may be in the middle of one of the client's requests: that one
        # connection then ends without a response (the kernel closes it with the
        # process), and nothing can save it. Every other request must succeed, so at
        # most one failure is allowed below.
        os.kill(victim, signal.SIGKILL)
        def replaced():
            pids = p.worker_pids()
            return pids if len(pids) == 2 and victim not in pids else None
        after = wait_for(replaced, timeout=5, what="a replacement for worker %d" % victim)
        assert set(after) - set(before), (before, after)
        respawned.set()
        wait_for(lambda: re.search(r"event=worker_exit pid=%d .*signal=9\b" % victim,
                                   p.logs()), timeout=5,
                 what="worker_exit log line for %d" % victim)
        t.join(30)
        assert not t.is_alive(), "client loop hung"
        assert 40 <= len(results) < 1000, len(results)
        bad = [r for r in results if r[0] != 200]
        assert len(bad) <= 1, "failures beyond the one in-flight request: %s" % bad
        assert not [r for r in results if r[0] == 200 and
                    r[2] != ("Hello from %s\n" % r[1]).encode()], "wrong body"
        assert {r[1] for r in results if r[0] == 200} == {"backend1", "backend2"}
        if bad:
            print("  note: 1 request failed (it was on the killed worker): %s" % (bad,))

        rc, out, err, rows = status_rows(p.conf)
        assert rc == 0, (rc, out, err)
        assert "rproxyd pid %d" % p.proc.pid in out, out
        for name in ("backend1", "backend2"):
            assert name in rows and rows[name][1] == "healthy", out
        # The shared table survived the SIGKILL: responses were counted.
        total = sum(int(rows[n][5]) for n in ("backend1", "backend2"))
        assert total >= len(results) - 1, out
        assert p.proc.poll() is None
        assert p.stop(10) == 0
    finally:
        stop.set()
        p.cleanup()


def test_status_percentiles_are_bucket_bounds():
    """-s status shows the latency bucket a percentile falls in
    ("<=2500" ms for a 1001 ms reply), never an interpolated time nobody saw."""
    p = Proxy(backends()[:1], workers=1, request_timeout=5)
    try:
        p.start()
        st, _, _ = http(p.port, "/sleep/1001", timeout=10)
        assert st == 200, st
        rc, out, err, rows = status_rows(p.conf)
        assert rc == 0, (rc, out, err)
        assert rows["backend1"][7:9] == ["<=2500", "<=2500"], out
        for _ in range(3):
            assert http(p.port, "/", timeout=5)[0] == 200
        rc, out, err, rows = status_rows(p.conf)
        assert re.match(r"^<=\d+(\.\d+)?$", rows["backend1"][7]), out
        assert float(rows["backend1"][7][2:]) <= 100 and rows["backend1"][8] == "<=2500", out
    finally:
        p.stop(10)
        p.cleanup()


def test_status_without_daemon():
    p = Proxy(backends())
    try:
        rc, out, err, rows = status_rows(p.conf)
        assert rc == 1 and out == "", (rc, out, err)
        assert p.pidfile in err and "running" in err, err
        # A stale pidfile (no lock held) names no daemon either.
        write(p.pidfile, "%d\n" % os.getpid())
        rc, out, err, rows = status_rows(p.conf)
        assert rc == 1 and "not running" in err, (rc, out, err)
        rc, out, err = rproxyd("-s", "bogus", "-c", p.conf)
        assert rc == 1 and "unknown command" in err, (rc, out, err)
    finally:
        p.cleanup()


NO_USER = "rproxyd-no-such-user"


def test_unknown_user_refused_at_start():
    """An unknown `user` is a start-up error (exit 1, reason on stderr), before any fork."""
    p = Proxy(backends(), workers=3, user=NO_USER)
    try:
        r = subprocess.run([RPROXYD, "-t", "-c", p.conf], capture_output=True, timeout=10)
        assert r.returncode == 1, r
        assert b"user %s: no such user" % NO_USER.encode() in r.stderr, r.stderr
        p.start(wait=False)
        try:
            rc = p.proc.wait(10)
        except subprocess.TimeoutExpired:
            raise AssertionError("daemon still running with an unknown user: %s" %
                                 p.logs()[-2000:])
        logs = p.logs()
        assert rc == 1, "exit status %r: %s" % (rc, logs)
        assert "user %s: no such user" % NO_USER in logs, logs
        assert "event=worker_exit" not in logs, logs
        assert not os.path.exists(p.pidfile)
    finally:
        p.cleanup()


def proc_ids(pid):
    """(real uid, real gid) of a process, from /proc."""
    st = proc_status(pid)
    return int(st["Uid"].split()[0]), int(st["Gid"].split()[0])


def test_workers_run_as_user_and_keep_logging():
    """`user`: the master stays root, workers run as the user, and their
    access lines follow the files through a logrotate rename + SIGUSR1 and
    through a size rotation, though the master (root) recreates the files."""
    if os.geteuid() != 0:
        raise Skip("needs root to drop privileges")
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        raise Skip("no user nobody")
    b1 = Backend("backend1").start()
    p = Proxy([b1], workers=2, user="nobody", log_level="info", log_max_size="2k")
    logdir = os.path.join(p.dir, "logs")
    os.mkdir(logdir)
    # The workers reopen files by name: they must be able to reach them.
    os.chmod(p.dir, 0o755)
    up = os.path.dirname(p.dir)
    while up != "/":
        if not os.stat(up).st_mode & 0o001:
            p.cleanup()
            b1.stop()
            raise Skip("%s is not searchable by nobody" % up)
        up = os.path.dirname(up)
    p.keys["log_dir"] = logdir
    p.write_config()
    access = os.path.join(logdir, "access.log")
    try:
        p.start()
        assert proc_ids(p.proc.pid) == (0, 0)
        wait_for(lambda: len(p.worker_pids()) == 2, what="2 workers")
        for w in p.worker_pids():
            assert proc_ids(w) == (pw.pw_uid, pw.pw_gid), (w, proc_ids(w))

        def logged(rid, paths=(access,)):
            st, _, _ = http(p.port, "/", headers={"X-Request-ID": rid})
            assert st == 200, st
            wait_for(lambda: any("request_id=%s " % rid in file_text(f) for f in paths),
                     timeout=5, what="%s in %s" % (rid, paths))

        logged("as-user-1")
        # logrotate: rename, then SIGUSR1. Every worker must reopen.
        os.rename(access, access + ".old")
        p.signal(signal.SIGUSR1)
        wait_for(lambda: "event=reopen_logs" in p.logs(), what="event=reopen_logs")
        for i in range(6):
            logged("after-rename-%d" % i)
        assert "after-rename" not in file_text(access + ".old")
        # Size rotation: the master checks sizes about once a second and
        # renames access.log to access.log.1.
        def rotated():
            assert http(p.port, "/")[0] == 200
            return os.path.exists(access + ".1")
        wait_for(rotated, timeout=10, interval=0.01, what="a size rotation")
        # 2k holds about six lines: a second rotation may move a line on
        # to access.log.1 before it is looked for.
        for i in range(6):
            logged("after-rotation-%d" % i, (access, access + ".1"))
        for f in ("access.log", "rproxyd.log"):
            st = os.stat(os.path.join(logdir, f))
            assert (st.st_uid, st.st_gid) == (pw.pw_uid, pw.pw_gid), (f, st)
    finally:
        p.cleanup()
        b1.stop()


def test_daemon_fatal_worker_exit_status():
    """Daemon mode with an unknown user: the start-up fails, so `rproxyd -c` must exit 1."""
    p = daemon_proxy(workers=2, user=NO_USER)
    try:
        errf = os.path.join(p.dir, "daemon.err")
        with open(errf, "wb") as ef:
            rc = subprocess.run([RPROXYD, "-c", p.conf], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=ef, timeout=10).returncode
        assert rc == 1, ("`rproxyd -c` exited %r with an unknown user; stderr=%r"
                         % (rc, file_text(errf)))
        assert NO_USER in file_text(errf), file_text(errf)
        assert not os.path.exists(p.pidfile)
    finally:
        stop_daemon(p.pidfile)
        p.cleanup()


def test_orphans_exit_after_master_sigkill():
    """The master SIGKILLed while a worker serves a slow upload: every child
    is gone within shutdown_timeout + 1 s (the guard here is generous), and
    a new master binds the same port at once."""
    p = Proxy(backends(), workers=4, shutdown_timeout=2, request_timeout=30,
              client_body_timeout=30)
    slow = None
    try:
        p.start()
        wait_for(lambda: len(p.worker_pids()) == 4 and p.keeper_pids(), what="children")
        kids = p.worker_pids() + p.keeper_pids()
        # A slow upload: the head and one byte of a long body, then nothing.
        slow = socket.create_connection(("127.0.0.1", p.port), timeout=10)
        slow.sendall(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\nx")
        wait_for(lambda: b'rproxyd_workers{state="busy"} 1' in
                 http(p.metrics_port, "/metrics")[2], what="the upload in a worker")
        port = p.port
        t0 = time.monotonic()
        p.proc.kill()
        p.proc.wait(5)
        wait_for(lambda: not any(proc_alive(k) for k in kids), timeout=15,
                 what="every child of the killed master to exit")
        took = time.monotonic() - t0
        print("  children gone %.2f s after the master's SIGKILL (shutdown_timeout 2)" % took)
        p2 = Proxy(backends(), workers=2, port=port)
        try:
            p2.start()
            assert http(port, "/")[0] == 200
        finally:
            p2.cleanup()
    finally:
        if slow is not None:
            slow.close()
        p.cleanup()


def test_respawn_after_user_removed():
    """The workers' user is resolved once, by the master: with the user gone
    from the passwd file, a killed worker is still respawned as it, and the
    daemon keeps serving."""
    if os.geteuid() != 0 or shutil.which("useradd") is None:
        raise Skip("needs root and useradd")
    name = "rpgone%d" % os.getpid()
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                    "/usr/sbin/nologin", name], check=True, capture_output=True)
    p = Proxy(backends(), workers=2, user=name)
    removed = False
    try:
        p.start()
        wait_for(lambda: len(p.worker_pids()) == 2, what="2 workers")
        uid = os.stat("/proc/%d" % p.worker_pids()[0]).st_uid
        subprocess.run(["userdel", "--force", name], check=True, capture_output=True)
        removed = True
        victim = p.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: len(p.worker_pids()) == 2 and victim not in p.worker_pids(),
                 what="the worker respawned")
        new = [w for w in p.worker_pids() if w != victim]
        assert all(os.stat("/proc/%d" % w).st_uid == uid for w in new), new
        assert http(p.port, "/")[0] == 200
        assert p.proc.poll() is None, p.logs()[-2000:]
    finally:
        p.cleanup()
        if not removed:
            subprocess.run(["userdel", "--force", name], capture_output=True)


def main():
    try:
        run([test_check_good_config, test_check_bad_configs,
             test_check_line_numbers_after_comments,
             test_workers_run_as_user_and_keep_logging,
             test_cli_version_help_bad_option, test_cli_long_options,
             test_cli_print_effective_config, test_foreground_start_stop,
             test_pidfile_lock, test_stale_regions_cleaned_at_start, test_daemon_mode,
             test_daemon_start_failure_port_in_use,
             test_daemon_releases_stderr, test_daemon_relative_config_reload,
             test_respawn_killed_worker_and_status, test_status_percentiles_are_bucket_bounds,
             test_status_without_daemon,
             test_unknown_user_refused_at_start, test_daemon_fatal_worker_exit_status,
             test_orphans_exit_after_master_sigkill, test_respawn_after_user_removed])
    finally:
        for b in BACKENDS:
            b.stop()


if __name__ == "__main__":
    main()
