#!/bin/sh
# check-package.sh SRCDIR: build the Debian package from a clean copy of the
# tree, lint it, install it, drive it through its init script, reinstall it
# and purge it (make check-package). Needs root; installs what it needs with
# apt-get; every wait is bounded and everything it started is cleaned up.
set -eu

SRCDIR=$(cd "${1:?usage: check-package.sh SRCDIR}" && pwd)
CONF=/etc/rproxyd/rproxyd.conf
DEB_TOOLS="build-essential debhelper fakeroot lintian dpkg-dev git"

step() { echo "check-package: $*"; }
fail() { echo "check-package: FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i, the rproxyd user)"
if dpkg-query -W -f='${Status}' rproxyd 2>/dev/null | grep -q " installed"; then
	fail "the package rproxyd is already installed here: dpkg --purge rproxyd first"
fi

WORK=$(mktemp -d /tmp/rproxyd-check-package.XXXXXX)
PIDS=""
INSTALLED=0
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null || :; done
	# The daemon this run started, by its pid, if a failure left it running.
	if [ -n "${MASTER:-}" ] && [ "$(readlink "/proc/$MASTER/exe" 2>/dev/null)" = /usr/sbin/rproxyd ]; then
		kill -TERM "$MASTER" 2>/dev/null || :
	fi
	if [ "$INSTALLED" -eq 1 ]; then
		timeout 120 dpkg --purge rproxyd >/dev/null 2>&1 || :
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

apt_install() {
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		    missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	step "installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	timeout 600 apt-get -o DPkg::Lock::Timeout=120 install -y -q \
	    --no-install-recommends $missing >"$WORK/apt.log" 2>&1 || {
		timeout 300 apt-get -o DPkg::Lock::Timeout=120 update -q >>"$WORK/apt.log" 2>&1
		# shellcheck disable=SC2086
		timeout 600 apt-get -o DPkg::Lock::Timeout=120 install -y -q \
		    --no-install-recommends $missing >>"$WORK/apt.log" 2>&1 ||
		    { tail -20 "$WORK/apt.log" >&2; fail "apt-get install$missing"; }
	}
}

port_free() {
	python3 -c 'import socket,sys
s = socket.socket()
try:
    s.bind(("0.0.0.0", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# GET / on the proxy: the body, or nothing.
get() { curl -s --max-time 3 "http://127.0.0.1:$PORT/" 2>/dev/null || :; }
# Wait up to $2 tenths of a second for "$1" to succeed.
wait_for() {
	i=0
	until eval "$1"; do
		i=$((i + 1))
		[ "$i" -le "$2" ] || return 1
		sleep 0.1
	done
}
serving() { get | grep -q "^Hello from backend"; }

# shellcheck disable=SC2086
apt_install $DEB_TOOLS curl python3

# A clean copy of the tree: the committed files, with the working tree's
# changes to them (git stash create), never the build products.
step "copying $SRCDIR (tracked files) to $WORK/src"
mkdir "$WORK/src"
rev=$(git -C "$SRCDIR" stash create) || fail "$SRCDIR is not a git work tree"
git -C "$SRCDIR" archive "${rev:-HEAD}" | tar -x -C "$WORK/src"

cd "$WORK/src"
unmet=$(dpkg-checkbuilddeps -B 2>&1 | sed -n 's/.*Unmet build dependencies: //p' |
    sed -e 's/([^)]*)//g' -e 's/<[^>]*>//g' -e 's/|[^,]*//g' -e 's/,/ /g') || :
# shellcheck disable=SC2086
[ -z "$unmet" ] || apt_install $unmet

# nocheck: make check runs the whole suite apart (CI); this is about the package.
step "dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=nocheck parallel=2)"
DEB_BUILD_OPTIONS="nocheck parallel=2" timeout 900 dpkg-buildpackage -us -uc -b \
    >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; fail "dpkg-buildpackage"; }
DEB=$(ls "$WORK"/rproxyd_*.deb)

step "lintian $(basename "$DEB")"
timeout 300 lintian --fail-on error "$DEB" >"$WORK/lintian.log" 2>&1 ||
    { cat "$WORK/lintian.log" >&2; fail "lintian reports errors"; }
sed 's/^/  /' "$WORK/lintian.log"

step "dpkg -i"
INSTALLED=1
timeout 300 dpkg -i "$DEB" >"$WORK/dpkg.log" 2>&1 || { cat "$WORK/dpkg.log" >&2; fail "dpkg -i"; }
getent passwd rproxyd >/dev/null || fail "no system user rproxyd"
[ "$(stat -c %U:%G /var/log/rproxyd)" = root:adm ] || fail "/var/log/rproxyd is not root:adm"
dpkg-query -W -f='${Conffiles}\n' rproxyd | grep -q " $CONF " || fail "$CONF is not a conffile"
grep -q '^user = "rproxyd"$' "$CONF" || fail "$CONF does not name user rproxyd"
if [ ! -x /usr/lib/rproxyd/rproxyd-backend ] || [ -e /usr/bin/rproxyd-backend ]; then
	fail "the demo backend is not in /usr/lib/rproxyd only"
fi

# The packaged ports when they are free, else test ports in the config.
PORT=8080 MPORT=8000 B1=9001 B2=9002
if ! { port_free 8080 && port_free 8000 && port_free 9001 && port_free 9002; }; then
	PORT=$(free_port) MPORT=$(free_port) B1=$(free_port) B2=$(free_port)
	step "8080, 8000, 9001 or 9002 in use here: testing on $PORT, $MPORT, $B1, $B2"
	/etc/init.d/rproxyd stop >/dev/null 2>&1 || :
	sed -i -e "s|^listen = .*|listen = \"127.0.0.1:$PORT\"|" \
	    -e "s|^metrics_listen = .*|metrics_listen = \"127.0.0.1:$MPORT\"|" \
	    -e "s|127.0.0.1:9001|127.0.0.1:$B1|" -e "s|127.0.0.1:9002|127.0.0.1:$B2|" "$CONF"
fi
/usr/lib/rproxyd/rproxyd-backend -q -n backend1 -p "$B1" </dev/null >/dev/null 2>&1 &
PIDS="$PIDS $!"
/usr/lib/rproxyd/rproxyd-backend -q -n backend2 -p "$B2" </dev/null >/dev/null 2>&1 &
PIDS="$PIDS $!"

step "/etc/init.d/rproxyd start"
timeout 60 /etc/init.d/rproxyd start || fail "/etc/init.d/rproxyd start"
wait_for serving 100 || fail "nothing served on 127.0.0.1:$PORT"
master=$(cat /run/rproxyd.pid)
MASTER=$master
users=$(ps -o user= --ppid "$master" | sort -u | tr '\n' ' ')
[ "$users" = "rproxyd " ] || fail "workers run as '$users', not rproxyd"
step "serving on $PORT, master $master (root), workers as rproxyd"

step "reload with a broken config"
cp "$CONF" "$WORK/good.conf"
echo "bogus_key = 1" >>"$CONF"
if timeout 60 /etc/init.d/rproxyd reload; then fail "reload of a broken config exited 0"; fi
serving || fail "not serving after the refused reload"
[ "$(cat /run/rproxyd.pid)" = "$master" ] || fail "the master changed on a refused reload"
cp "$WORK/good.conf" "$CONF"

step "reinstall keeps the edited conffile"
echo "# edited by check-package" >>"$CONF"
timeout 300 dpkg -i "$DEB" >"$WORK/dpkg2.log" 2>&1 || { cat "$WORK/dpkg2.log" >&2; fail "second dpkg -i"; }
grep -q "^# edited by check-package$" "$CONF" || fail "dpkg -i replaced the edited $CONF"
wait_for serving 100 || fail "not serving after the reinstall"

# A container's policy-rc.d (exit 101) forbids maintainer scripts to start or
# stop services: prerm's invoke-rc.d would leave the daemon running, so stop
# it first, as an administrator would there. On a normal host prerm does it.
if [ -x /usr/sbin/policy-rc.d ] && { /usr/sbin/policy-rc.d rproxyd stop >/dev/null 2>&1; [ $? -eq 101 ]; }; then
	step "policy-rc.d forbids invoke-rc.d here: /etc/init.d/rproxyd stop before the purge"
	timeout 60 /etc/init.d/rproxyd stop || fail "/etc/init.d/rproxyd stop"
fi
step "dpkg --purge"
timeout 300 dpkg --purge rproxyd >"$WORK/purge.log" 2>&1 || { cat "$WORK/purge.log" >&2; fail "dpkg --purge"; }
INSTALLED=0
[ ! -e /etc/rproxyd ] || fail "/etc/rproxyd left after purge: $(ls -A /etc/rproxyd)"
[ ! -e /var/log/rproxyd ] || fail "/var/log/rproxyd left after purge"
! getent passwd rproxyd >/dev/null || fail "user rproxyd left after purge"
for f in /etc/default/rproxyd /etc/init.d/rproxyd /etc/logrotate.d/rproxyd /run/rproxyd.pid; do
	[ ! -e "$f" ] || fail "$f left after purge"
done
no_daemon() { [ -z "$(pidof /usr/sbin/rproxyd)" ]; }
wait_for no_daemon 50 || fail "rproxyd still running after purge"
step "PASS"
