/* log.c: syslog, stderr and log-file output, one key=value event per line. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX	2048

static int	log_level = LOG_INFO;
static int	log_stderr;
static char	log_dir[PATH_MAX];
static int	log_fd = -1;		/* DIR/rproxyd.log */
static int	access_fd = -1;		/* DIR/access.log */

static const char *const level_names[] = {
	"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

void
log_init(const char *ident, int facility, int level, int to_stderr)
{
	log_level = level;
	log_stderr = to_stderr;
	openlog(ident, LOG_PID | LOG_NDELAY, facility);
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
}

static int
log_open_file(const char *dir, const char *name, char *err, size_t errlen)
{
	char	path[PATH_MAX + 32];
	int	fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	/* O_APPEND: each line is one write(), so lines of workers never interleave. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1 && err != NULL)
		snprintf(err, errlen, "open %s: %s", path, strerror(errno));
	return fd;
}

int
log_open_dir(const char *dir, char *err, size_t errlen)
{
	int	fd = -1, afd = -1;

	if (dir != NULL && dir[0] != '\0') {
		if (strlen(dir) >= sizeof(log_dir)) {
			snprintf(err, errlen, "log_dir %s: name too long", dir);
			return -1;
		}
		/* Both new files open, or nothing changes: a reload is all or nothing. */
		if ((fd = log_open_file(dir, "rproxyd.log", err, errlen)) == -1)
			return -1;
		if ((afd = log_open_file(dir, "access.log", err, errlen)) == -1) {
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
	snprintf(log_dir, sizeof(log_dir), "%s", dir != NULL ? dir : "");
	return 0;
}

void
log_reopen(void)
{
	int	fd;

	if (log_dir[0] == '\0')
		return;
	/* Open the new file before closing the old: a failed open keeps logging. */
	if ((fd = log_open_file(log_dir, "rproxyd.log", NULL, 0)) != -1) {
		dup2(fd, log_fd);
		close(fd);
	}
	if ((fd = log_open_file(log_dir, "access.log", NULL, 0)) != -1) {
		dup2(fd, access_fd);
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
	static const char *const names[] = { "rproxyd.log", "access.log" };
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
		log_rotate_file(names[i], keep);
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

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	n = snprintf(line, sizeof(line),
	    "%04d-%02d-%02dT%02d:%02d:%02d.%03ld rproxyd[%ld] %s: %s\n",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (long)tv.tv_usec / 1000, (long)getpid(),
	    level_names[pri & LOG_PRIMASK], msg);
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

void
log_vmsg(int pri, int access, const char *fmt, va_list ap)
{
	char	msg[LOG_LINE_MAX];
	int	saved = errno;

	if ((pri & LOG_PRIMASK) > log_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	syslog(pri, "%s", msg);
	if (log_stderr)
		fprintf(stderr, "rproxyd[%ld]: %s\n", (long)getpid(), msg);
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
