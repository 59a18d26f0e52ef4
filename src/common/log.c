/* log.c: syslog, stderr and log-file output, one key=value event per line. */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <paths.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define LOG_LINE_MAX	2048
#define SYSLOG_WAIT_MS	100		/* longest wait on a full syslog socket */
#define SYSLOG_RETRY_MS	1000		/* between attempts to reach syslogd */

static int	log_level = LOG_INFO;
static int	log_stderr;
static int	log_started;		/* log_open_dir() ran once: the start is past */
static char	log_dir[PATH_MAX];
static int	log_fd = -1;		/* DIR/rproxyd.log */
static int	access_fd = -1;		/* DIR/access.log */
static const char *const log_names[2] = { "rproxyd.log", "access.log" };
static uid_t	log_owner = (uid_t)-1;	/* of the files, when root opens them */
static gid_t	log_group = (gid_t)-1;

/*
 * Our own syslog(3) client, same datagrams as glibc's: its socket blocks, so
 * a syslogd that stops reading would stop every worker in the middle of a
 * request. Ours waits SYSLOG_WAIT_MS at most, then drops lines without
 * waiting until one goes through, and says how many it dropped.
 */
static char	syslog_ident[64] = "rproxyd";
static int	syslog_facility = LOG_DAEMON;
static int	syslog_fd = -1;
static int	syslog_stream;		/* SOCK_STREAM log socket: records end in NUL */
static int	syslog_stalled;		/* gave up waiting: no more waits until one is sent */
static uint64_t	syslog_dropped;		/* lines lost since the last one sent */
static int64_t	syslog_retry_at;	/* no connect attempt before this (monotonic ns) */

/*
 * The stderr copy (-f) never blocks either: a supervisor or a pipe that
 * stops reading would otherwise stop every worker, and SIGTERM with them.
 * A pipe or terminal gets a non-blocking description of its own (O_NONBLOCK
 * on the shared one would reach the shell or the supervisor too), a socket
 * MSG_DONTWAIT; a line that would block is dropped and counted, and
 * "event=stderr_dropped lines=N" follows the next line that goes through.
 */
static int	stderr_fd = STDERR_FILENO;
static int	stderr_sock;		/* stderr is a socket: send(MSG_DONTWAIT) */
static uint64_t	stderr_dropped;

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

static void
syslog_connect(void)
{
	static const int	types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct sockaddr_un	sun;
	size_t			i;
	int			fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		fd = socket(AF_UNIX, types[i] | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1)
			return;
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			syslog_fd = fd;
			syslog_stream = types[i] == SOCK_STREAM;
			return;
		}
		close(fd);
		/* A stream /dev/log refuses a datagram socket with EPROTOTYPE. */
		if (errno != EPROTOTYPE)
			return;
	}
}

static void
syslog_disconnect(void)
{
	if (syslog_fd != -1)
		close(syslog_fd);
	syslog_fd = -1;
}

/* "<PRI>Mmm dd hh:mm:ss IDENT[PID]: MSG", as glibc's syslog(3) sends it. */
static size_t
syslog_format(char *buf, size_t size, int pri, const char *msg)
{
	char		stamp[32];
	struct tm	tm;
	time_t		now = time(NULL);
	int		n;

	if ((pri & LOG_FACMASK) == 0)
		pri |= syslog_facility;
	localtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
	n = snprintf(buf, size, "<%d>%s %s[%ld]: %s", pri, stamp, syslog_ident,
	    (long)getpid(), msg);
	if (n < 0)
		return 0;
	if ((size_t)n >= size)
		n = (int)size - 1;
	/* A stream carries the terminating NUL as the record separator. */
	return (size_t)n + (syslog_stream ? 1 : 0);
}

/* One record to syslogd; wait for room only if allowed. 0 sent, -1 lost. */
static int
syslog_send(const char *rec, size_t len, int wait)
{
	struct pollfd	pfd;
	int64_t		now, deadline = 0;
	ssize_t		n;
	int		reconnected = 0;

	for (;;) {
		if (syslog_fd == -1) {
			now = clock_now_ns();
			if (now < syslog_retry_at)
				return -1;
			syslog_connect();
			if (syslog_fd == -1) {
				/* No syslogd: do not pay a connect() for every line. */
				syslog_retry_at = now + SYSLOG_RETRY_MS * NS_PER_MS;
				return -1;
			}
		}
		n = send(syslog_fd, rec, len, MSG_NOSIGNAL);
		if (n == (ssize_t)len)
			return 0;
		if (n >= 0) {
			/* Part of a stream record: the stream is out of step now. */
			syslog_disconnect();
			return -1;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOBUFS &&
		    errno != EINTR) {
			/* syslogd restarted (ECONNREFUSED, ENOTCONN...): reconnect once. */
			syslog_disconnect();
			if (reconnected++)
				return -1;
			syslog_retry_at = 0;
			continue;
		}
		if (!wait)
			return -1;
		now = clock_now_ns();
		if (deadline == 0)
			deadline = now + SYSLOG_WAIT_MS * NS_PER_MS;
		if (now >= deadline) {
			syslog_stalled = 1;
			return -1;
		}
		pfd.fd = syslog_fd;
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, clock_ms_until(deadline));
	}
}

static void	log_write_file(int, int, const char *);

static void
log_syslog(int pri, const char *msg)
{
	char		rec[LOG_LINE_MAX + 128], note[64];
	size_t		len;
	uint64_t	lost;

	len = syslog_format(rec, sizeof(rec), pri, msg);
	if (len == 0 || syslog_send(rec, len, !syslog_stalled) == -1) {
		syslog_dropped++;
		return;
	}
	syslog_stalled = 0;
	if (syslog_dropped == 0 || LOG_WARNING > log_level)
		return;
	lost = syslog_dropped;
	snprintf(note, sizeof(note), "event=syslog_dropped lines=%" PRIu64, lost);
	len = syslog_format(rec, sizeof(rec), LOG_WARNING, note);
	if (syslog_send(rec, len, 0) == -1)
		return;		/* the count is told with the next line that goes through */
	syslog_dropped = 0;
	/* The files have every line; they say what syslog missed. */
	if (log_fd != -1)
		log_write_file(log_fd, LOG_WARNING, note);
}

static void
stderr_open(void)
{
	struct stat	st;
	int		fd;

	if (stderr_fd != STDERR_FILENO)
		close(stderr_fd);
	stderr_fd = STDERR_FILENO;
	stderr_sock = 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return;
	if (S_ISSOCK(st.st_mode)) {
		stderr_sock = 1;
		return;
	}
	/* A regular file does not block; reopening it would lose O_APPEND. */
	if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode))
		return;
	fd = open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd != -1)
		stderr_fd = fd;
}

/* One line to stderr if it fits now: 0, or -1 dropped. */
static int
stderr_send(const char *msg)
{
	char		line[LOG_LINE_MAX + 64];
	struct pollfd	pfd = { stderr_fd, POLLOUT, 0 };
	ssize_t		n;
	int		len;

	len = snprintf(line, sizeof(line), "rproxyd[%ld]: %s\n", (long)getpid(), msg);
	if (len < 0)
		return -1;
	if ((size_t)len >= sizeof(line))
		len = (int)sizeof(line) - 1;
	if (stderr_sock)
		n = send(stderr_fd, line, (size_t)len, MSG_DONTWAIT | MSG_NOSIGNAL);
	else if (stderr_fd == STDERR_FILENO && poll(&pfd, 1, 0) == 0)
		n = -1;		/* no description of our own: look before writing */
	else
		n = write(stderr_fd, line, (size_t)len);
	return n == len ? 0 : -1;
}

static void
log_to_stderr(const char *msg)
{
	char	note[64];

	if (stderr_send(msg) == -1) {
		stderr_dropped++;
		return;
	}
	if (stderr_dropped == 0 || LOG_WARNING > log_level)
		return;
	snprintf(note, sizeof(note), "event=stderr_dropped lines=%" PRIu64, stderr_dropped);
	if (stderr_send(note) == -1)
		return;		/* told with the next line that goes through */
	stderr_dropped = 0;
	if (log_fd != -1)
		log_write_file(log_fd, LOG_WARNING, note);
}

void
log_init(const char *ident, int facility, int level, int to_stderr)
{
	log_level = level;
	log_stderr = to_stderr;
	if (to_stderr)
		stderr_open();
	snprintf(syslog_ident, sizeof(syslog_ident), "%s", ident);
	syslog_facility = facility;
	/* For any direct syslog(3) call; our lines go through syslog_send(). */
	openlog(ident, LOG_PID, facility);
	/* Connected now, in the master: workers inherit the socket. */
	syslog_disconnect();
	syslog_connect();
}

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

void
log_set_stderr(int to_stderr)
{
	log_stderr = to_stderr;
	if (to_stderr)
		stderr_open();
}

/*
 * The log directory, checked before root opens anything in it: only root,
 * this process's user or the workers' user may own it, and nobody else may
 * write it, or they could plant links there for root to follow.
 */
static int
log_dir_open(const char *dir, uid_t owner, gid_t group, char *err, size_t errlen)
{
	struct stat	st;
	int		dfd;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "log_dir %s: %s", dir, strerror(errno));
		return -1;
	}
	if (fstat(dfd, &st) == -1)
		snprintf(err, errlen, "log_dir %s: fstat: %s", dir, strerror(errno));
	else if (st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != owner)
		snprintf(err, errlen, "log_dir %s: owned by uid %ld, not root or the "
		    "workers' user: refused", dir, (long)st.st_uid);
	else if (st.st_mode & S_IWOTH)
		snprintf(err, errlen, "log_dir %s: writable by others (mode %04o): refused",
		    dir, (unsigned)(st.st_mode & 07777));
	else if ((st.st_mode & S_IWGRP) && st.st_gid != 0 && st.st_gid != getegid() &&
	    st.st_gid != group)
		snprintf(err, errlen, "log_dir %s: writable by group %ld: refused", dir,
		    (long)st.st_gid);
	else
		return dfd;
	close(dfd);
	return -1;
}

/*
 * DIR/name for appending. Never follows a symbolic link, takes only a regular
 * file with one link, and gives to owner only a file it has just created: the
 * workers' user may write in DIR, so an existing name may be a trap for root.
 */
static int
log_open_file(const char *dir, const char *name, uid_t owner, gid_t group, char *err,
    size_t errlen)
{
	/* O_NONBLOCK: a planted FIFO must not hang the open; cleared below. */
	const int	flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	struct stat	st;
	int		dfd, fd, created = 1;

	if ((dfd = log_dir_open(dir, owner, group, err, errlen)) == -1)
		return -1;
	/* O_APPEND: each line is one write(), so lines of workers never interleave. */
	fd = openat(dfd, name, flags | O_CREAT | O_EXCL, 0640);
	if (fd == -1 && errno == EEXIST) {
		created = 0;
		fd = openat(dfd, name, flags);
	}
	close(dfd);
	if (fd == -1) {
		snprintf(err, errlen, "open %s/%s: %s", dir, name,
		    errno == ELOOP ? "a symbolic link: refused" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1)
		snprintf(err, errlen, "fstat %s/%s: %s", dir, name, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(err, errlen, "open %s/%s: not a regular file: refused", dir, name);
	else if (st.st_nlink != 1)
		snprintf(err, errlen, "open %s/%s: %lu hard links: refused", dir, name,
		    (unsigned long)st.st_nlink);
	else if (!created && st.st_uid != 0 && st.st_uid != geteuid() && st.st_uid != owner)
		snprintf(err, errlen, "open %s/%s: owned by uid %ld, not root or the "
		    "workers' user: refused", dir, name, (long)st.st_uid);
	else if (fcntl(fd, F_SETFL, O_APPEND) == -1)
		snprintf(err, errlen, "fcntl %s/%s: %s", dir, name, strerror(errno));
	/* Root (the master) hands a new file to the workers' user, who reopen it. */
	else if (created && owner != (uid_t)-1 && geteuid() == 0 &&
	    fchown(fd, owner, group) == -1)
		snprintf(err, errlen, "chown %s/%s: %s", dir, name, strerror(errno));
	else
		return fd;
	close(fd);
	return -1;
}

int
log_open_dir(const char *dir, uid_t owner, gid_t group, char *err, size_t errlen)
{
	int	fd = -1, afd = -1;

	if (dir != NULL && dir[0] != '\0') {
		if (strlen(dir) >= sizeof(log_dir)) {
			snprintf(err, errlen, "log_dir %s: name too long", dir);
			return -1;
		}
		/* Both new files open, or nothing changes: a reload is all or nothing. */
		if ((fd = log_open_file(dir, log_names[0], owner, group, err, errlen)) == -1)
			return -1;
		if ((afd = log_open_file(dir, log_names[1], owner, group, err, errlen)) == -1) {
			close(fd);
			return -1;
		}
	}
	if (log_fd != -1)
		close(log_fd);
	if (access_fd != -1)
		close(access_fd);
	log_fd = fd;
	access_fd = afd;
	log_owner = owner;
	log_group = group;
	snprintf(log_dir, sizeof(log_dir), "%s", dir != NULL ? dir : "");
	/* At start only: later, stderr is /dev/null or already has lines. */
	if (!log_started && log_fd == -1 && syslog_fd == -1)
		fprintf(stderr, "rproxyd: warning: no syslog socket at %s and no log_dir: "
		    "log lines go %s\n", _PATH_LOG, log_stderr ? "to stderr only" : "nowhere");
	log_started = 1;
	return 0;
}

const char *
log_escape(char *dst, size_t dstsz, const char *s, size_t n)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		ch;
	size_t			i, j = 0;

	if (dstsz < 5)
		return "-";
	for (i = 0; i < n; i++) {
		ch = (unsigned char)s[i];
		if (ch > ' ' && ch < 0x7f && ch != '"' && ch != '\\') {
			if (j + 1 >= dstsz)
				break;
			dst[j++] = (char)ch;
		} else {
			if (j + 4 >= dstsz)
				break;
			dst[j++] = '\\';
			dst[j++] = 'x';
			dst[j++] = hex[ch >> 4];
			dst[j++] = hex[ch & 0xf];
		}
	}
	dst[j] = '\0';
	return j > 0 ? dst : "-";
}

void
log_reopen(void)
{
	int	*fds[2] = { &log_fd, &access_fd };
	char	 err[PATH_MAX + 128];
	size_t	 i;
	int	 fd;

	if (log_dir[0] == '\0')
		return;
	for (i = 0; i < 2; i++) {
		/* Open the new file before closing the old: a failed open keeps logging. */
		fd = log_open_file(log_dir, log_names[i], log_owner, log_group, err, sizeof(err));
		if (fd == -1) {
			log_warnx("event=log_reopen_failed error=\"%s\"", err);
			continue;
		}
		if (dup2(fd, *fds[i]) == -1)
			log_warn("event=log_reopen_failed file=%s/%s", log_dir, log_names[i]);
		close(fd);
	}
}

/* Move name to name.1, name.1 to name.2, ... keeping keep old files. */
static void
log_rotate_file(const char *name, unsigned keep)
{
	char		from[PATH_MAX + 48], to[PATH_MAX + 48];
	unsigned	i;

	snprintf(to, sizeof(to), "%s/%s.%u", log_dir, name, keep);
	(void)unlink(to);
	for (i = keep; i > 0; i--) {
		if (i > 1)
			snprintf(from, sizeof(from), "%s/%s.%u", log_dir, name, i - 1);
		else
			snprintf(from, sizeof(from), "%s/%s", log_dir, name);
		snprintf(to, sizeof(to), "%s/%s.%u", log_dir, name, i);
		(void)rename(from, to);
	}
	if (keep == 0) {
		snprintf(from, sizeof(from), "%s/%s", log_dir, name);
		(void)unlink(from);
	}
}

int
log_rotate(uint64_t max_size, unsigned keep)
{
	int		fds[2] = { log_fd, access_fd };
	struct stat	st;
	int		rotated = 0;
	size_t		i;

	if (log_dir[0] == '\0' || max_size == 0)
		return 0;
	for (i = 0; i < 2; i++) {
		if (fds[i] == -1 || fstat(fds[i], &st) == -1 ||
		    (uint64_t)st.st_size < max_size)
			continue;
		log_rotate_file(log_names[i], keep);
		rotated = 1;
	}
	/* Writers keep appending to the renamed file until they reopen: nothing is lost. */
	if (rotated)
		log_reopen();
	return rotated;
}

static void
log_write_file(int fd, int pri, const char *msg)
{
	char		line[LOG_LINE_MAX + 128];
	struct timeval	tv;
	struct tm	tm;
	int		n;

	long		off;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	/* ISO 8601 with the numeric offset: local time that says which it is. */
	off = tm.tm_gmtoff < 0 ? -tm.tm_gmtoff : tm.tm_gmtoff;
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ld%c%02ld:%02ld rproxyd[%ld] %s: %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long)tv.tv_usec / 1000, tm.tm_gmtoff < 0 ? '-' : '+',
	    off / 3600, off / 60 % 60, (long)getpid(), level_names[pri & LOG_PRIMASK], msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	/* A log line lost to a full disk must not stop the daemon. */
	if (write(fd, line, (size_t)n) == -1)
		return;
}

/* Does s start a key=value pair: [a-z_][a-z0-9_]*= ? */
static int
kv_key_at(const char *s)
{
	const char	*q = s;

	if (!((*q >= 'a' && *q <= 'z') || *q == '_'))
		return 0;
	while ((*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9') || *q == '_')
		q++;
	return *q == '=';
}

static int
is_hexdigit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

size_t
log_kv_quote(char *dst, size_t dstsz, const char *src)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		ch;
	size_t			j = 0, need;
	int			quoted = 0, next;

	if (dstsz == 0)
		return 0;
	for (; *src != '\0'; src++) {
		ch = (unsigned char)*src;
		need = 1;
		next = quoted;
		if (!quoted && ch == '"' && j > 0 && dst[j - 1] == '=')
			next = 1;
		else if (quoted && ch == '"' && (src[1] == '\0' ||
		    (src[1] == ' ' && kv_key_at(src + 2))))
			next = 0;
		else if (ch == '\\' && src[1] == 'x' && is_hexdigit(src[2]) &&
		    is_hexdigit(src[3]))
			need = 0;	/* already \xHH, from log_escape(): kept whole */
		else if (ch < ' ' || ch >= 0x7f || (quoted && (ch == '"' || ch == '\\')))
			need = 4;
		/* Room for this, and for a closing quote. */
		if (j + (need == 1 ? 1 : 4) + (size_t)next + 1 > dstsz)
			break;
		quoted = next;
		if (need == 4) {
			dst[j++] = '\\';
			dst[j++] = 'x';
			dst[j++] = hex[ch >> 4];
			dst[j++] = hex[ch & 0xf];
		} else if (need == 0) {
			memcpy(dst + j, src, 4);
			j += 4;
			src += 3;
		} else
			dst[j++] = (char)ch;
	}
	if (quoted)
		dst[j++] = '"';		/* cut short inside a value */
	dst[j] = '\0';
	return j;
}

void
log_vmsg(int pri, int access, const char *fmt, va_list ap)
{
	char	raw[LOG_LINE_MAX], msg[LOG_LINE_MAX];
	int	saved = errno;

	if ((pri & LOG_PRIMASK) > log_level)
		return;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	/*
	 * A key=value line stays one: a quoted value that holds a quote (a
	 * config error naming "max_retrys"), a backslash or a control byte gets
	 * them as \xHH. Other lines only lose control bytes.
	 */
	log_kv_quote(msg, sizeof(msg), raw);
	log_syslog(pri, msg);
	if (log_stderr)
		log_to_stderr(msg);
	if (access && access_fd != -1)
		log_write_file(access_fd, pri, msg);
	else if (!access && log_fd != -1)
		log_write_file(log_fd, pri, msg);
	errno = saved;
}

void
log_msg(int pri, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(pri, 0, fmt, ap);
	va_end(ap);
}

static void
log_verr(int pri, const char *fmt, va_list ap)
{
	char	buf[LOG_LINE_MAX];
	int	saved = errno;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* No error to tell: no error="Success". */
	if (saved == 0)
		log_msg(pri, "%s", buf);
	/* An event stays key=value pairs; plain text gets the classic form. */
	else if (strncmp(buf, "event=", 6) == 0)
		log_msg(pri, "%s error=\"%s\"", buf, strerror(saved));
	else
		log_msg(pri, "%s: %s", buf, strerror(saved));
	errno = saved;
}

#define LOG_FN(fn, pri)							\
void fn(const char *fmt, ...)						\
{									\
	va_list	ap;							\
									\
	va_start(ap, fmt);						\
	log_vmsg(pri, 0, fmt, ap);					\
	va_end(ap);							\
}

LOG_FN(log_warnx, LOG_WARNING)
LOG_FN(log_err, LOG_ERR)
LOG_FN(log_notice, LOG_NOTICE)
LOG_FN(log_info, LOG_INFO)
LOG_FN(log_debug, LOG_DEBUG)

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_verr(LOG_WARNING, fmt, ap);
	va_end(ap);
}

void
log_access(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_INFO, 1, fmt, ap);
	va_end(ap);
}

void
fatal(int code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_verr(LOG_CRIT, fmt, ap);
	va_end(ap);
	exit(code);
}

void
fatalx(int code, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vmsg(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(code);
}
