/* pidfile.c: the locked pidfile that keeps a second instance from starting. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pidfile.h"

/* fcntl locks belong to the process, so forked workers never hold it. */
static int
pidfile_lock(int fd, short type, int wait)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	return fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl);
}

static pid_t
pidfile_holder(int fd)
{
	struct flock	fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	if (fcntl(fd, F_GETLK, &fl) == -1 || fl.l_type == F_UNLCK)
		return -1;
	return fl.l_pid;
}

/* Only a regular file with one link: anything else was planted. */
static int
pidfile_check(int fd, const char *path, char *err, size_t errlen)
{
	struct stat	st;

	if (fstat(fd, &st) == -1)
		snprintf(err, errlen, "pidfile %s: fstat: %s", path, strerror(errno));
	else if (!S_ISREG(st.st_mode))
		snprintf(err, errlen, "pidfile %s: not a regular file: refused", path);
	else if (st.st_nlink != 1)
		snprintf(err, errlen, "pidfile %s: %lu hard links: refused", path,
		    (unsigned long)st.st_nlink);
	else
		return 0;
	return -1;
}

int
pidfile_create(const char *path, char *err, size_t errlen)
{
	char	buf[32];
	int	fd, n;

	/*
	 * It is truncated below, by root: never through a planted symbolic or
	 * hard link. O_NONBLOCK so that a planted FIFO cannot hang the start.
	 */
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644);
	if (fd == -1) {
		snprintf(err, errlen, "pidfile %s: %s", path,
		    errno == ELOOP ? "a symbolic link: refused" : strerror(errno));
		return -1;
	}
	if (pidfile_check(fd, path, err, errlen) == -1) {
		close(fd);
		return -1;
	}
	if (pidfile_lock(fd, F_WRLCK, 0) == -1) {
		if (errno == EAGAIN || errno == EACCES)
			snprintf(err, errlen, "pidfile %s: locked by pid %ld: "
			    "rproxyd is already running", path, (long)pidfile_holder(fd));
		else
			snprintf(err, errlen, "pidfile %s: lock: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		snprintf(err, errlen, "pidfile %s: write: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void
pidfile_remove(const char *path, int fd)
{
	if (fd == -1)
		return;
	unlink(path);
	close(fd);
}

pid_t
pidfile_read(const char *path, char *err, size_t errlen)
{
	pid_t	pid;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "pidfile %s: %s (is rproxyd running?)", path,
		    strerror(errno));
		return -1;
	}
	/* Only a locked pidfile names a live daemon. */
	pid = pidfile_holder(fd);
	close(fd);
	if (pid <= 0)
		snprintf(err, errlen, "pidfile %s: not locked: rproxyd is not running", path);
	return pid;
}
