#!/usr/bin/env python3
"""test_initscript.py: `make install DESTDIR=...` and the installed init script driving rproxyd.

Packaging as rproxyd(8) describes it: the build tree is installed into a temporary
DESTDIR (never the real system), the files are checked where a Debian system
looks for them, then the installed etc/init.d/rproxyd manages the installed
daemon for real: start, status, reload (proved by the new backend answering),
a broken reload refused with its FILE:LINE reason, restart, stop (which waits
for the drain and drops no request), and the LSB exit codes.

The install runs the rules `make install` runs once the tree is built:
`make -C $RP_BUILDDIR install-exec-am install-data-am DESTDIR=...`, with the
built files it copies (and the Makefile) marked old with -o, so a test never
compiles or regenerates anything, not even in a tree left stale by a later
source edit; plain `make install` would first run all-am and rebuild there.
It runs without the outer make's MAKEFLAGS: it neither joins the jobserver of
`make -j2 check` nor inherits its command-line variables. The test then
checks that no built file changed.
"""
import atexit
import http.client as httpc
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (RPROXYD, SRCDIR, Backend, Skip, proc_alive, proc_stat,  # noqa: E402
                     metric, read_pid, run, started_ports, wait_for, file_text, http)

BUILDDIR = os.environ.get("RP_BUILDDIR") or \
    os.path.dirname(os.path.dirname(os.path.abspath(RPROXYD)))

TOP = tempfile.mkdtemp(prefix="rproxyd-init-")
DEST = os.path.join(TOP, "destdir")
STARTED = []            # (pidfile, pid) of daemons started here, for the cleanup
BACKENDS = {}
INST = {}               # the install: dirs and paths, filled by install()


def cleanup():
    for pidfile, pid in STARTED:
        if pid is None:
            pid = read_pid(pidfile)
        if pid and proc_alive(pid) and exe_of(pid) == INST.get("daemon"):
            os.kill(pid, signal.SIGKILL)
    for b in BACKENDS.values():
        b.stop()
    shutil.rmtree(TOP, ignore_errors=True)


atexit.register(cleanup)


# --- helpers ---------------------------------------------------------------

def exe_of(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def daemon_procs():
    """{pid: ppid} of every live process running the installed rproxyd."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        if exe_of(pid) != INST["daemon"]:
            continue
        st = proc_stat(pid)
        if st is not None and st[0] not in ("Z", "X"):
            out[pid] = int(st[1])
    return out


def masters():
    """Installed-rproxyd processes whose parent is not one: the masters."""
    procs = daemon_procs()
    return sorted(p for p, pp in procs.items() if pp not in procs)


def make_vars():
    """Installation directories from the build tree's Makefile, expanded."""
    raw = {}
    with open(os.path.join(BUILDDIR, "Makefile")) as f:
        for ln in f:
            m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*) = (.*)$", ln.rstrip("\n"))
            if m and m.group(1) not in raw:
                raw[m.group(1)] = m.group(2).strip()

    def expand(v, depth=0):
        assert depth < 10, "Makefile variable loop at %r" % v
        return re.sub(r"\$[({]([A-Za-z_0-9]+)[)}]",
                      lambda m: expand(raw.get(m.group(1), ""), depth + 1), v)
    return {k: expand(raw[k]) for k in ("prefix", "sbindir", "bindir", "sysconfdir",
                                        "mandir", "systemdunitdir")}


def dest(path):
    """path as installed under DESTDIR."""
    return os.path.join(DEST, path.lstrip("/"))


def build_stamps():
    """mtimes of the built files the install copies: they must not change."""
    names = [os.path.join(BUILDDIR, f) for f in BUILT]
    return {n: os.stat(n).st_mtime_ns for n in names}


# Built files the install copies; -o: install them as they are, never rebuild.
BUILT = ["Makefile", "src/rproxyd", "backends/rproxyd-backend", "etc/rproxyd.init",
         "etc/rproxyd.service"]


def make(*targets):
    """A nested make in the build tree, standalone: (exit status, output)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR")}
    old = [a for f in BUILT for a in ("-o", f)]
    p = subprocess.run(["make", "-C", BUILDDIR] + old + list(targets) + ["DESTDIR=" + DEST],
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, timeout=60)
    return p.returncode, p.stdout.decode("utf-8", "replace")


def install():
    """make install DESTDIR=DEST once; fills INST."""
    if INST:
        return INST
    before = build_stamps()
    rc, out = make("install-exec-am", "install-data-am")
    assert rc == 0, "make install DESTDIR=%s failed (%d):\n%s" % (DEST, rc, out[-3000:])
    after = build_stamps()
    changed = [n for n in before if after[n] != before[n]]
    assert not changed, "make install rebuilt %s in %s" % (changed, BUILDDIR)
    v = make_vars()
    INST.update(v)
    INST["daemon"] = dest(os.path.join(v["sbindir"], "rproxyd"))
    INST["init"] = dest(os.path.join(v["sysconfdir"], "init.d", "rproxyd"))
    INST["defaults"] = dest(os.path.join(v["sysconfdir"], "default", "rproxyd"))
    INST["logrotate"] = dest(os.path.join(v["sysconfdir"], "logrotate.d", "rproxyd"))
    INST["conf"] = dest(os.path.join(v["sysconfdir"], "rproxyd", "rproxyd.conf"))
    INST["unit"] = dest(os.path.join(v["systemdunitdir"], "rproxyd.service"))
    INST["log"] = out
    return INST


def init(action, *more, defaults=None, user=None, timeout=30):
    """Run the installed init script: (exit status, stdout, stderr, seconds)."""
    env = dict(os.environ)
    env["RPROXYD_DEFAULTS"] = defaults or INST["defaults"]
    cmd = [INST["init"]] + ([action] if action is not None else []) + list(more)
    if user is not None:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, env=env,
                       timeout=timeout)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


def backend(name):
    if name not in BACKENDS:
        BACKENDS[name] = Backend(name).start()
    return BACKENDS[name]


class Site:
    """A test configuration and defaults file for the installed daemon."""

    def __init__(self, name, backends=("b1",), **keys):
        self.dir = tempfile.mkdtemp(prefix=name + "-", dir=TOP)
        os.mkdir(os.path.join(self.dir, "log"))
        self.ports = None
        self.listen_port = 0
        self.pidfile = os.path.join(self.dir, "rproxyd.pid")
        self.logdir = os.path.join(self.dir, "log")
        self.conf = os.path.join(self.dir, "rproxyd.conf")
        self.defaults = os.path.join(self.dir, "default")
        self.keys = {"workers": 2, "shutdown_timeout": 5}
        self.keys.update(keys)
        self.write_config(backends)
        write(self.defaults, "# written by test_initscript.py\nDAEMON=%s\nCONF=%s\n"
              "PIDFILE=%s\nSTOP_TIMEOUT=15\nRELOAD_TIMEOUT=3\n" % (INST["daemon"], self.conf, self.pidfile))
        STARTED.append((self.pidfile, None))

    def config_text(self, backends, extra=""):
        # Port 0: the daemon binds what the kernel picks and logs it.
        lines = ['listen = "127.0.0.1:%d"' % self.listen_port,
                 'metrics_listen = "127.0.0.1:0"',
                 'pidfile = "%s"' % self.pidfile,
                 'log_dir = "%s"' % self.logdir]
        lines += ["%s = %s" % kv for kv in self.keys.items()]
        if extra:
            lines.append(extra)
        lines += ['backend %s { url = "%s" }' % (n, backend(n).url) for n in backends]
        return "\n".join(lines) + "\n"

    def write_config(self, backends, extra=""):
        write(self.conf, self.config_text(backends, extra))

    def started_ports(self):
        """(port, metrics port) from the running daemon's event=start line;
        the last one seen when a rotation has moved that line away."""
        ports = wait_for(lambda: started_ports(self.log()) or self.ports, timeout=10,
                         what="event=start in %s" % self.logdir)
        self.ports = ports
        return ports

    @property
    def port(self):
        return self.started_ports()[0]

    @property
    def metrics_port(self):
        return self.started_ports()[1]

    def init(self, action, *more, **kw):
        return init(action, *more, defaults=self.defaults, **kw)

    def pid(self):
        return read_pid(self.pidfile)

    def log(self):
        return file_text(os.path.join(self.logdir, "rproxyd.log"))

    def kill(self):
        """Stop a daemon left running by a failed test: SIGTERM, then SIGKILL."""
        pid = self.pid()
        if pid and proc_alive(pid) and exe_of(pid) == INST["daemon"]:
            os.kill(pid, signal.SIGTERM)
            try:
                wait_for(lambda: not proc_alive(pid), timeout=10, what="daemon exit")
            except AssertionError:
                os.kill(pid, signal.SIGKILL)


def served_by(port):
    st, hdrs, _ = http(port, "/", timeout=5)
    assert st == 200, st
    return hdrs.get("x-backend")


def check_ok(res, what):
    rc, out, err, _ = res
    assert rc == 0, "%s: exit %d\nstdout: %s\nstderr: %s" % (what, rc, out, err)


# --- the install -----------------------------------------------------------

def test_install_layout():
    inst = install()
    prefix, sysconf = inst["prefix"], inst["sysconfdir"]
    man = inst["mandir"]
    expected = {
        os.path.join(inst["sbindir"], "rproxyd"): ("exec", None),
        os.path.join(inst["bindir"], "rproxyd-backend"): ("exec", None),
        os.path.join(man, "man8", "rproxyd.8"): ("data", "man/rproxyd.8"),
        os.path.join(man, "man5", "rproxyd.conf.5"): ("data", "man/rproxyd.conf.5"),
        os.path.join(man, "man1", "rproxyd-backend.1"): ("data", "man/rproxyd-backend.1"),
        os.path.join(sysconf, "rproxyd", "rproxyd.conf"): ("data", "etc/rproxyd.conf"),
        os.path.join(sysconf, "init.d", "rproxyd"): ("exec", None),
        os.path.join(sysconf, "default", "rproxyd"): ("data", "etc/rproxyd.default"),
        os.path.join(sysconf, "logrotate.d", "rproxyd"): ("data", "etc/rproxyd.logrotate"),
        os.path.join(inst["systemdunitdir"], "rproxyd.service"): ("data", None),
    }
    found = set()
    for root, _, files in os.walk(DEST):
        for f in files:
            found.add("/" + os.path.relpath(os.path.join(root, f), DEST))
    assert found == set(expected), "installed files differ:\n  missing %s\n  extra %s" % (
        sorted(set(expected) - found), sorted(found - set(expected)))
    for path, (kind, src) in expected.items():
        assert path.startswith(prefix + "/"), "%s installed outside prefix %s" % (path, prefix)
        mode = stat.S_IMODE(os.stat(dest(path)).st_mode)
        want = 0o755 if kind == "exec" else 0o644
        assert mode == want, "%s: mode %o, want %o" % (path, mode, want)
        if src is not None:
            with open(dest(path), "rb") as a, open(os.path.join(SRCDIR, src), "rb") as b:
                assert a.read() == b.read(), "%s differs from %s" % (path, src)
    # The binary under test is the one installed.
    with open(inst["daemon"], "rb") as a, open(RPROXYD, "rb") as b:
        assert a.read() == b.read(), "installed rproxyd is not %s" % RPROXYD
    assert "  CC " not in inst["log"] and "CCLD" not in inst["log"], inst["log"][-2000:]

    # The sample config is valid as installed.
    p = subprocess.run([inst["daemon"], "-t", "-c", inst["conf"]], capture_output=True,
                       timeout=10)
    assert p.returncode == 0, p.stderr
    sample_pidfile = re.search(r'^pidfile = "([^"]+)"', file_text(inst["conf"]), re.M).group(1)

    # Init script: substituted, pointing at the installed files.
    text = file_text(inst["init"])
    assert text.startswith("#!/bin/sh\n"), text[:40]
    assert "@" not in text, [ln for ln in text.splitlines() if "@" in ln]
    assert re.search(r"^DAEMON=%s$" % re.escape(os.path.join(inst["sbindir"], "rproxyd")),
                     text, re.M), "DAEMON= is not the installed sbin/rproxyd"
    assert re.search(r"^CONF=%s$" % re.escape(os.path.join(sysconf, "rproxyd",
                                                          "rproxyd.conf")), text, re.M)
    assert re.search(r"^PIDFILE=%s$" % re.escape(sample_pidfile), text, re.M), \
        "init script PIDFILE is not the sample config's pidfile %s" % sample_pidfile
    header = text.split("### BEGIN INIT INFO\n", 1)[1].split("### END INIT INFO\n", 1)[0]
    for key in ("Provides", "Required-Start", "Required-Stop", "Default-Start",
                "Default-Stop", "Short-Description"):
        assert re.search(r"^# %s: +\S" % key, header, re.M), "LSB header lacks %s" % key

    # systemd unit: substituted, same binary, config and pidfile.
    unit = file_text(inst["unit"])
    assert "@" not in unit, [ln for ln in unit.splitlines() if "@" in ln]
    daemon, conf = os.path.join(inst["sbindir"], "rproxyd"), \
        os.path.join(sysconf, "rproxyd", "rproxyd.conf")
    assert "\nExecStart=%s -c %s $DAEMON_OPTS\n" % (daemon, conf) in unit, unit
    assert "\nEnvironmentFile=-/etc/default/rproxyd\n" in unit, unit
    assert "\nEnvironmentFile=-%s\n" % os.path.join(sysconf, "rproxyd", "rproxyd.env") in unit
    assert "\nExecStartPre=%s -t -c %s\n" % (daemon, conf) in unit, unit
    assert "\nExecReload=%s -t -c %s\n" % (daemon, conf) in unit, unit
    assert "\nType=forking\n" in unit and "\nPIDFile=%s\n" % sample_pidfile in unit, unit
    assert "\nKillMode=mixed\n" in unit, unit

    # logrotate: SIGUSR1 to the sample config's pidfile.
    rot = file_text(inst["logrotate"])
    assert 'kill -USR1 "$(cat %s)"' % sample_pidfile in rot, rot


def test_init_script_lint():
    inst = install()
    for f in (inst["init"], inst["defaults"]):
        p = subprocess.run(["sh", "-n", f], capture_output=True, timeout=10)
        assert p.returncode == 0, "sh -n %s: %s" % (f, p.stderr)
    for tool, args in (("shellcheck", ["-s", "sh"]), ("checkbashisms", [])):
        if shutil.which(tool) is None:
            print("  (%s not installed: skipped)" % tool)
            continue
        p = subprocess.run([tool] + args + [inst["init"]], capture_output=True, timeout=30)
        assert p.returncode == 0, "%s: %s%s" % (tool, p.stdout.decode(), p.stderr.decode())
    # Only comments and VAR=value lines: it is sourced by the init script.
    for ln in file_text(inst["defaults"]).splitlines():
        assert ln == "" or ln.startswith("#") or re.match(r"^[A-Z_]+=", ln), ln


# --- the init script on a running daemon -----------------------------------

def test_start_status_reload_restart_stop():
    install()
    s = Site("life", backends=("b1",))
    try:
        res = s.init("start")
        check_ok(res, "start")
        assert "Starting HTTP reverse proxy: rproxyd" in res[1], res
        # start returns once the daemon serves: the first request must work.
        assert served_by(s.port) == "b1"
        pid = s.pid()
        assert pid and masters() == [pid], (pid, daemon_procs())
        wait_for(lambda: len(daemon_procs()) == 5, timeout=5,
                 what="master, keeper, metrics process and 2 workers")

        rc, out, err, _ = s.init("status")
        assert rc == 0 and "is running (pid %d)" % pid in out, (rc, out, err)

        rc, out, err, _ = s.init("start")
        assert rc == 0 and "already running" in out, (rc, out, err)
        assert masters() == [pid] and s.pid() == pid, (pid, masters())

        # reload: b1 replaced by b2; the same master, the new backend answers.
        s.write_config(("b2",))
        check_ok(s.init("reload"), "reload")
        wait_for(lambda: served_by(s.port) == "b2", timeout=5, what="b2 answering")
        assert [served_by(s.port) for _ in range(4)] == ["b2"] * 4
        assert s.pid() == pid and masters() == [pid]
        assert metric(s.metrics_port, "rproxyd_config_reloads_total", 'result="success"') == 1
        assert "event=reload result=success" in s.log(), s.log()[-2000:]

        # force-reload is a reload too.
        s.write_config(("b1", "b2"))
        check_ok(s.init("force-reload"), "force-reload")
        wait_for(lambda: metric(s.metrics_port, "rproxyd_config_reloads_total",
                                'result="success"') == 2, timeout=5, what="second reload")
        assert {served_by(s.port) for _ in range(6)} == {"b1", "b2"}
        assert s.pid() == pid

        # A broken config: refused with FILE:LINE, nothing sent, still serving.
        good = s.config_text(("b1", "b2"))
        lines = good.splitlines(True)
        write(s.conf, "".join(lines[:3] + ["bogus_key = 1\n"] + lines[3:]))
        rc, out, err, _ = s.init("reload")
        assert rc == 1, (rc, out, err)
        assert "%s:4:" % s.conf in err and "bogus_key" in err, err
        assert s.pid() == pid and masters() == [pid]
        assert served_by(s.port) in ("b1", "b2")
        assert metric(s.metrics_port, "rproxyd_config_reloads_total", 'result="success"') == 2
        assert "event=reload result=failure" not in s.log(), "the daemon got a SIGHUP"

        # configtest says the same, and changes nothing either.
        rc, out, err, _ = s.init("configtest")
        assert rc == 1 and "%s:4:" % s.conf in err, (rc, out, err)
        assert s.pid() == pid

        # Valid for -t but refused by the daemon (listen is restart-only): the
        # reload must say so, not report success. Port 1 is never bound: the
        # daemon refuses the change before it would.
        s.listen_port = 1
        s.write_config(("b1", "b2"))
        s.listen_port = 0
        rc, out, err, _ = s.init("reload")
        assert rc == 1 and "did not apply" in err, (rc, out, err)
        assert s.pid() == pid and served_by(s.port) in ("b1", "b2")
        write(s.conf, "".join(lines[:3] + ["bogus_key = 1\n"] + lines[3:]))

        # restart with that config must not stop the running daemon.
        rc, out, err, _ = s.init("restart")
        assert rc == 1 and "%s:4:" % s.conf in err, (rc, out, err)
        assert s.pid() == pid and masters() == [pid] and served_by(s.port) in ("b1", "b2")

        # restart: a new master serving the (fixed) config.
        s.write_config(("b1",))
        res = s.init("restart")
        check_ok(res, "restart")
        assert "Stopping" in res[1] and "Starting" in res[1], res
        pid2 = s.pid()
        assert pid2 and pid2 != pid and not proc_alive(pid), (pid, pid2)
        assert masters() == [pid2], masters()
        assert served_by(s.port) == "b1"

        # try-restart restarts a running daemon...
        check_ok(s.init("try-restart"), "try-restart")
        pid3 = s.pid()
        assert pid3 and pid3 != pid2 and masters() == [pid3], (pid2, pid3, masters())

        # stop: master, workers, pidfile and shared memory gone, promptly.
        rc, out, err, took = s.init("stop")
        assert rc == 0 and "Stopping HTTP reverse proxy: rproxyd" in out, (rc, out, err)
        # Nothing in flight: the drain ends on its own, not at shutdown_timeout.
        assert "phase=timeout" not in s.log(), s.log()[-3000:]
        assert not proc_alive(pid3) and daemon_procs() == {}, daemon_procs()
        assert not os.path.exists(s.pidfile), "pidfile left behind"
        assert not os.path.exists("/dev/shm/rproxyd.%d" % pid3), "shm left behind"
        assert "event=shutdown phase=done status=0" in s.log()

        rc, out, err, _ = s.init("status")
        assert rc == 3 and "not running" in out, (rc, out, err)
        rc, out, err, _ = s.init("stop")
        assert rc == 0 and "not running" in out, (rc, out, err)
        rc, out, err, _ = s.init("reload")
        assert rc == 7, (rc, out, err)
        # ...and try-restart leaves a stopped one stopped.
        rc, out, err, _ = s.init("try-restart")
        assert rc == 0 and not os.path.exists(s.pidfile) and daemon_procs() == {}, \
            (rc, out, err)
        # ...while restart starts it.
        check_ok(s.init("restart"), "restart when stopped")
        assert s.pid() and masters() == [s.pid()] and served_by(s.port) == "b1"
        check_ok(s.init("stop"), "stop")
        assert daemon_procs() == {}
    finally:
        s.kill()


def test_exit_codes():
    install()
    s = Site("codes")
    try:
        for args in (("bogus",), (None,), ("",)):
            rc, out, err, _ = s.init(*args)
            assert rc == 2 and "usage" in err, (args, rc, out, err)

        # Program not installed: 5. Config missing: 6.
        nodaemon = os.path.join(s.dir, "default.nodaemon")
        write(nodaemon, file_text(s.defaults) +
              "DAEMON=%s\n" % os.path.join(s.dir, "missing", "rproxyd"))
        rc, out, err, _ = init("start", defaults=nodaemon)
        assert rc == 5 and "not installed" in err, (rc, out, err)
        noconf = os.path.join(s.dir, "default.noconf")
        write(noconf, file_text(s.defaults) + "CONF=%s\n" % os.path.join(s.dir, "missing.conf"))
        rc, out, err, _ = init("start", defaults=noconf)
        assert rc == 6, (rc, out, err)
        assert not os.path.exists(s.pidfile) and daemon_procs() == {}

        # A pidfile naming a dead process: status 1; stop cleans it up.
        dead = subprocess.Popen(["true"])
        dead.wait()
        write(s.pidfile, "%d\n" % dead.pid)
        rc, out, err, _ = s.init("status")
        assert rc == 1 and "dead" in out, (rc, out, err)
        rc, out, err, _ = s.init("stop")
        assert rc == 0 and not os.path.exists(s.pidfile), (rc, out, err)

        # A pidfile naming a live process that is not rproxyd (pid reused after
        # a crash): not running, and stop must not signal it.
        other = subprocess.Popen(["sleep", "30"])
        try:
            write(s.pidfile, "%d\n" % other.pid)
            rc, out, err, _ = s.init("status")
            assert rc == 1, (rc, out, err)
            rc, out, err, _ = s.init("stop")
            assert rc == 0, (rc, out, err)
            assert other.poll() is None, "stop killed pid %d, which is not rproxyd" % other.pid
            # start takes over that pidfile.
            check_ok(s.init("start"), "start over a foreign pid")
            assert s.pid() != other.pid and masters() == [s.pid()]
            assert other.poll() is None
            check_ok(s.init("stop"), "stop")
            assert other.poll() is None
        finally:
            other.kill()
            other.wait()
    finally:
        s.kill()


def test_configtest_and_env_file():
    """configtest checks the config; the defaults file and ENV_FILE reach the
    daemon's environment, so a ${VAR:-default} config (etc/rproxyd-env.conf,
    the original project's .env names) serves on the port the .env names."""
    install()
    s = Site("env")
    try:
        rc, out, err, _ = s.init("configtest")
        assert rc == 0 and "test is successful" in out, (rc, out, err)
        envconf = os.path.join(s.dir, "env.conf")
        text = file_text(os.path.join(SRCDIR, "etc", "rproxyd-env.conf"))
        write(envconf, text + 'workers = 2\nlog_dir = "%s"\n' % s.logdir)
        dotenv = os.path.join(s.dir, "rproxyd.env")
        # Port 0 through the .env: the daemon binds the kernel's pick and logs it.
        write(dotenv, "PROXY_PORT=0\nMETRICS_PORT=0\nBACKEND_1=%s\nBACKEND_2=%s\n"
              "PIDFILE=%s\nMAX_RETRIES=1\n" % (backend("b1").url, backend("b2").url,
                                              s.pidfile))
        with open(s.defaults, "a") as f:
            f.write("CONF=%s\nENV_FILE=%s\n" % (envconf, dotenv))
        check_ok(s.init("configtest"), "configtest of the .env config")
        check_ok(s.init("start"), "start with the .env")
        assert {served_by(s.port) for _ in range(4)} == {"b1", "b2"}
        # The .env is read again by reload's -t and restart: a missing value fails.
        write(dotenv, file_text(dotenv).replace("MAX_RETRIES=1", ""))
        write(envconf, text.replace("${MAX_RETRIES:-2}", "${MAX_RETRIES}"))
        rc, out, err, _ = s.init("reload")
        assert rc == 1 and "${MAX_RETRIES}" in err, (rc, out, err)
        check_ok(s.init("stop"), "stop")
    finally:
        s.kill()


def test_status_and_stop_unprivileged():
    """status must see a root daemon from any user; stop by one is refused (4)."""
    if os.getuid() != 0 or shutil.which("setpriv") is None:
        raise Skip("needs root and setpriv")
    install()
    s = Site("unpriv")
    mode = os.stat(TOP).st_mode
    try:
        os.chmod(TOP, 0o755)
        os.chmod(s.dir, 0o755)
        check_ok(s.init("start"), "start")
        pid = s.pid()
        rc, out, err, _ = s.init("status", user=65534)
        assert rc == 0 and "is running (pid %d)" % pid in out, (rc, out, err)
        rc, out, err, _ = s.init("stop", user=65534)
        assert rc == 4, (rc, out, err)
        for action in ("start", "restart", "reload"):
            rc, out, err, _ = s.init(action, user=65534)
            assert rc == 4 and "needs root" in err, (action, rc, out, err)
        assert proc_alive(pid) and s.pid() == pid, "an unprivileged stop changed something"
        check_ok(s.init("stop"), "stop")
        assert not proc_alive(pid)
    finally:
        os.chmod(TOP, stat.S_IMODE(mode))
        s.kill()


def test_logrotate_postrotate_reopens():
    """The snippet's postrotate command, run against our pidfile, reopens the logs."""
    install()
    s = Site("rotate")
    try:
        check_ok(s.init("start"), "start")
        assert served_by(s.port) == "b1"
        rot = file_text(INST["logrotate"])
        script = rot.split("postrotate\n", 1)[1].split("endscript", 1)[0]
        sample_pidfile = re.search(r'kill -USR1 "\$\(cat ([^)]+)\)"', script).group(1)
        script = script.replace(sample_pidfile, s.pidfile)
        access = os.path.join(s.logdir, "access.log")
        main = os.path.join(s.logdir, "rproxyd.log")
        wait_for(lambda: os.path.exists(access), timeout=5, what="access.log")
        os.rename(access, access + ".1")
        os.rename(main, main + ".1")
        p = subprocess.run(["sh", "-c", script], capture_output=True, timeout=10)
        assert p.returncode == 0, p
        wait_for(lambda: os.path.exists(main), timeout=5, what="rproxyd.log reopened")
        # Workers reopen before their next connection: keep asking until each did.
        wait_for(lambda: served_by(s.port) == "b1" and "target=/ status=200" in file_text(access),
                 timeout=5, what="an access line in the new access.log")
        check_ok(s.init("stop"), "stop")
    finally:
        s.kill()


# --- stop under load --------------------------------------------------------

class Client(threading.Thread):
    """Sequential GETs, a new connection each, until 3 connects started after
    `since` (set by the test once the stop returned) were refused; bounded.

    Each result: (start, end, outcome) with outcome the status code, or
    "refused" (connect refused: no listener any more), or the failure.
    """

    def __init__(self, port, path="/", limit=3000, deadline=15.0):
        super().__init__(daemon=True)
        self.port, self.path, self.limit = port, path, limit
        self.deadline = time.monotonic() + deadline
        self.results = []
        self.since = None       # set by the test: stop after 3 refused started since

    def one(self):
        t0 = time.monotonic()
        c = httpc.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            try:
                c.connect()
            except ConnectionRefusedError:
                return (t0, time.monotonic(), "refused")
            except Exception as e:  # noqa: B902 - every failure is a result here
                return (t0, time.monotonic(), "connect: %s: %s" % (type(e).__name__, e))
            try:
                c.request("GET", self.path)
                r = c.getresponse()
                r.read()
                if r.status == 503 and (r.getheader("Connection") or "").lower() != "close":
                    return (t0, time.monotonic(), "503 without Connection: close")
                return (t0, time.monotonic(), r.status)
            except Exception as e:  # noqa: B902 - every failure is a result here
                return (t0, time.monotonic(), "%s: %s" % (type(e).__name__, e))
        finally:
            c.close()

    def run(self):
        refused = 0
        for _ in range(self.limit):
            if time.monotonic() > self.deadline:
                break
            res = self.one()
            self.results.append(res)
            if self.path != "/":
                break
            if res[2] != "refused":
                refused = 0
                if res[2] == 503:
                    time.sleep(0.005)   # draining workers answer at once: pace
                continue
            since = self.since
            refused += 1 if since is not None and res[0] >= since else 0
            if refused >= 3:
                break
            # Pacing, not waiting: a refused connect takes microseconds and
            # would use up the request budget before the stop returns.
            time.sleep(0.005)


def test_stop_under_load_drops_nothing():
    install()
    s = Site("load", backends=("b1",), request_timeout=5)
    fast = slow = None
    try:
        check_ok(s.init("start"), "start")
        pid = s.pid()
        workers = sorted(p for p in daemon_procs() if p != pid)
        # One slow request in flight at the stop: stop must wait for it.
        slow = Client(s.port, path="/sleep/2000")
        slow.start()
        wait_for(lambda: metric(s.metrics_port, "rproxyd_backend_inflight",
                                'backend="b1"') == 1, timeout=5, what="slow request in flight")
        fast = Client(s.port)
        fast.start()
        wait_for(lambda: sum(r[2] == 200 for r in fast.results) >= 100, timeout=10,
                 what="100 responses before the stop")
        t_stop = time.monotonic()
        rc, out, err, took = s.init("stop")
        t_stopped = time.monotonic()
        fast.since = t_stopped
        fast.join(15)
        slow.join(5)
        assert not fast.is_alive() and not slow.is_alive(), "a client hangs"
        assert rc == 0, (rc, out, err)

        # The slow one was in flight at the stop: answered, and waited for.
        assert len(slow.results) == 1 and slow.results[0][2] == 200, slow.results
        assert slow.results[0][1] <= t_stopped, "stop returned before the drain was done"
        assert "phase=timeout" not in s.log(), "drain hit shutdown_timeout"
        assert not proc_alive(pid) and not any(proc_alive(w) for w in workers)
        assert not os.path.exists(s.pidfile)

        res = fast.results
        before = [r for r in res if r[1] < t_stop]
        during = [r for r in res if r[1] >= t_stop and r[0] < t_stopped]
        after = [r for r in res if r[0] >= t_stopped]
        counts = {}
        for r in res:
            counts[r[2]] = counts.get(r[2], 0) + 1
        waits = [r[1] - r[0] for r in res if r[2] == 503]
        print("  stop took %.2fs; outcomes %s; %d during the stop; longest wait for a 503 "
              "%.2fs" % (took, counts, len(during), max(waits, default=0)))
        bad = [r for r in res if r[2] not in (200, 503, "refused")]
        assert not bad, ("%d requests failed (times from the stop call; it returned at "
                         "+%.3fs): %s\ndaemon log:\n%s" % (
                             len(bad), t_stopped - t_stop,
                             ["+%.4fs..+%.4fs %s" % (r[0] - t_stop, r[1] - t_stop, r[2])
                              for r in bad[:5]],
                             "\n".join(ln for ln in s.log().splitlines()
                                       if "shutdown" in ln or "backlog" in ln
                                       or "worker_exit" in ln or "keeper" in ln)))
        assert all(r[2] == 200 for r in before), [r for r in before if r[2] != 200][:5]
        # Answered by the idle, draining workers, not after the slow request.
        # A 503 asked for while the slow request ran came while it still ran
        # (one may straddle its end by chance).
        slow_done = slow.results[0][1]
        queued = [r for r in res if r[2] == 503 and r[0] < slow_done < r[1]]
        assert len(queued) <= 1, (queued, slow_done)
        assert after and all(r[2] == "refused" for r in after), after[:5]
    finally:
        if fast:
            fast.deadline = 0
        s.kill()


def test_install_keeps_edited_config():
    """A second make install keeps an edited rproxyd.conf and
    /etc/default/rproxyd (the sample goes beside it as rproxyd.conf.sample),
    and make uninstall removes neither."""
    install()
    conf, defaults = INST["conf"], INST["defaults"]
    write(conf, file_text(conf) + "# edited by the admin\n")
    write(defaults, file_text(defaults) + "# edited by the admin\n")
    rc, out = make("install-data-am")
    assert rc == 0, out[-3000:]
    assert file_text(conf).endswith("# edited by the admin\n"), "rproxyd.conf overwritten"
    assert file_text(defaults).endswith("# edited by the admin\n"), "defaults overwritten"
    with open(conf + ".sample", "rb") as a, \
            open(os.path.join(SRCDIR, "etc", "rproxyd.conf"), "rb") as b:
        assert a.read() == b.read(), "rproxyd.conf.sample is not the sample"
    rc, out = make("uninstall")
    assert rc == 0, out[-3000:]
    assert "was edited: kept" in out, out
    left = []
    for root, _, files in os.walk(DEST):
        left += [os.path.relpath(os.path.join(root, f), DEST) for f in files]
    assert sorted(left) == sorted(os.path.relpath(p, DEST) for p in (conf, defaults)), left
    os.unlink(conf)
    os.unlink(defaults)


def test_uninstall_leaves_no_file():
    install()
    rc, out = make("install-data-am")
    assert rc == 0, out[-3000:]
    rc, out = make("uninstall")
    assert rc == 0, out[-3000:]
    left = []
    for root, _, files in os.walk(DEST):
        left += [os.path.relpath(os.path.join(root, f), DEST) for f in files]
    assert not left, "make uninstall left %s" % left


if __name__ == "__main__":
    run([test_install_layout, test_init_script_lint, test_start_status_reload_restart_stop,
         test_exit_codes, test_configtest_and_env_file, test_status_and_stop_unprivileged,
         test_logrotate_postrotate_reopens, test_stop_under_load_drops_nothing,
         test_install_keeps_edited_config, test_uninstall_leaves_no_file])
