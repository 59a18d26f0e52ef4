/* io.c: blocking-style reads and writes on non-blocking sockets, bounded by poll(). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "clock.h"
#include "io.h"
#include "signals.h"

/*
 * Every wait lets the stop signals in (their handlers only set flags): a
 * worker in the middle of a slow request still notes a SIGTERM and arms its
 * stop alarm, which ends it if its master is gone.
 */
static int
io_poll(struct pollfd *pfd, int64_t deadline)
{
	int64_t	left = deadline - clock_now_ns();

	return signals_ppoll(pfd, 1, left > 0 ? left : 0);
}

/* Wait for events on fd until deadline. 1 ready, IO_TIMEOUT, or IO_ERROR. */
static int
io_wait(int fd, short events, int64_t deadline)
{
	struct pollfd	pfd = { .fd = fd, .events = events };
	int		n;

	for (;;) {
		n = io_poll(&pfd, deadline);
		if (n > 0)
			return 1;
		if (n == 0)
			return IO_TIMEOUT;
		if (errno != EINTR)
			return IO_ERROR;
	}
}

ssize_t
io_read(int fd, void *buf, size_t len, int64_t deadline)
{
	ssize_t	n;
	int	rc;

	for (;;) {
		n = recv(fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return IO_ERROR;
		if ((rc = io_wait(fd, POLLIN, deadline)) != 1)
			return rc;
	}
}

int64_t
io_until(int64_t gap, int64_t end)
{
	int64_t	now = clock_now_ns();

	return gap < end - now ? now + gap : end;
}

/*
 * Send iov fully. While the socket is full, wait until deadline; with fn, also
 * watch the socket for input, call fn on it and give the wait another gap,
 * never past end.
 */
static int
io_sendv(int fd, struct iovec *iov, int64_t deadline, int64_t gap, int64_t end,
    outbuf_readable_fn fn, void *ctx)
{
	struct pollfd	pfd;
	struct msghdr	msg;
	ssize_t		n;
	int		rc;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = iov;
	msg.msg_iovlen = 2;
	while (iov[0].iov_len + iov[1].iov_len > 0) {
		/* sendmsg with MSG_NOSIGNAL: a closed peer is an error, not SIGPIPE. */
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return IO_ERROR;
			if (fn == NULL) {
				if ((rc = io_wait(fd, POLLOUT, deadline)) != 1)
					return rc;
				continue;
			}
			pfd.fd = fd;
			pfd.events = POLLOUT | POLLIN;
			rc = io_poll(&pfd, deadline);
			if (rc == 0)
				return IO_TIMEOUT;
			if (rc < 0 && errno != EINTR)
				return IO_ERROR;
			if (rc > 0 && (pfd.revents & POLLIN)) {
				if (fn(ctx) != 0) {
					errno = ECANCELED;
					return IO_ERROR;
				}
				deadline = io_until(gap, end);
			}
			continue;
		}
		if ((size_t)n >= iov[0].iov_len) {
			n -= (ssize_t)iov[0].iov_len;
			iov[0].iov_len = 0;
			iov[1].iov_base = (char *)iov[1].iov_base + n;
			iov[1].iov_len -= (size_t)n;
		} else {
			iov[0].iov_base = (char *)iov[0].iov_base + n;
			iov[0].iov_len -= (size_t)n;
		}
	}
	return 0;
}

int
io_write2(int fd, const void *a, size_t alen, const void *b, size_t blen,
    int64_t deadline)
{
	struct iovec	iov[2];

	iov[0].iov_base = (void *)a;
	iov[0].iov_len = alen;
	iov[1].iov_base = (void *)b;
	iov[1].iov_len = blen;
	return io_sendv(fd, iov, deadline, 0, deadline, NULL, NULL);
}

int
io_write(int fd, const void *buf, size_t len, int64_t deadline)
{
	return io_write2(fd, buf, len, NULL, 0, deadline);
}

/* One splice step: >0 bytes, 0 at EOF, IO_TIMEOUT for "would block", or IO_ERROR. */
static ssize_t
io_splice_step(int from, int to, size_t len)
{
	ssize_t	n;

	do {
		n = splice(from, NULL, to, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
	} while (n == -1 && errno == EINTR);
	if (n >= 0)
		return n;
	return errno == EAGAIN || errno == EWOULDBLOCK ? IO_TIMEOUT : IO_ERROR;
}

/*
 * The pipe is filled only when empty, so "would block" always means one
 * thing: the backend has nothing yet, or the client has no room.
 */
int
io_splice(int in, int out, const int p[2], uint64_t len, int64_t gap, int64_t end,
    uint64_t *nin, uint64_t *nout, int *failed)
{
	uint64_t	want;
	ssize_t		n;
	int		rc;

	*nin = *nout = 0;
	while (*nout < len) {
		if (*nout == *nin) {
			want = len - *nin;
			n = io_splice_step(in, p[1], want > SSIZE_MAX ? SSIZE_MAX : want);
			if (n > 0) {
				*nin += (uint64_t)n;
				continue;
			}
			*failed = in;
			if (n == 0)
				return IO_EOF;
			if (n == IO_ERROR ||
			    (rc = io_wait(in, POLLIN, io_until(gap, end))) != 1)
				return n == IO_ERROR ? IO_ERROR : rc;
		} else {
			n = io_splice_step(p[0], out, (size_t)(*nin - *nout));
			if (n > 0) {
				*nout += (uint64_t)n;
				continue;
			}
			*failed = out;
			if (n == 0)
				errno = EPIPE;
			if (n == 0 || n == IO_ERROR)
				return IO_ERROR;
			if ((rc = io_wait(out, POLLOUT, io_until(gap, end))) != 1)
				return rc;
		}
	}
	return 0;
}

int
io_connect(const struct sockaddr *sa, socklen_t salen, int64_t deadline)
{
	socklen_t	elen = sizeof(int);
	int		fd, rc, soerr = 0;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return IO_ERROR;
	if (connect(fd, sa, salen) == 0)
		return fd;
	if (errno != EINPROGRESS) {
		rc = errno;
		close(fd);
		errno = rc;
		return IO_ERROR;
	}
	if ((rc = io_wait(fd, POLLOUT, deadline)) != 1) {
		soerr = errno;
		close(fd);
		errno = rc == IO_TIMEOUT ? ETIMEDOUT : soerr;
		return rc;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) == -1)
		soerr = errno;
	if (soerr != 0) {
		close(fd);
		errno = soerr;
		return IO_ERROR;
	}
	return fd;
}

void
outbuf_init(struct outbuf *ob, int fd, int64_t gap_ns)
{
	ob->fd = fd;
	ob->on_readable = NULL;
	ob->ctx = NULL;
	ob->failed = 0;
	ob->gap_ns = gap_ns;
	ob->end = INT64_MAX;
	ob->len = 0;
	ob->total = 0;
}

void
outbuf_end(struct outbuf *ob, int64_t end)
{
	ob->end = end;
}

void
outbuf_on_readable(struct outbuf *ob, outbuf_readable_fn fn, void *ctx)
{
	ob->on_readable = fn;
	ob->ctx = ctx;
}

static int
outbuf_write(struct outbuf *ob, const void *data, size_t len)
{
	struct iovec	iov[2];
	int		rc;

	if (ob->failed)
		return ob->failed;
	iov[0].iov_base = ob->buf;
	iov[0].iov_len = ob->len;
	iov[1].iov_base = (void *)data;
	iov[1].iov_len = len;
	rc = io_sendv(ob->fd, iov, io_until(ob->gap_ns, ob->end), ob->gap_ns, ob->end,
	    ob->on_readable, ob->ctx);
	if (rc != 0)
		return ob->failed = rc;
	ob->total += ob->len + len;
	ob->len = 0;
	return 0;
}

int
outbuf_put(struct outbuf *ob, const void *data, size_t len)
{
	if (ob->failed)
		return ob->failed;
	if (ob->len + len <= sizeof(ob->buf)) {
		memcpy(ob->buf + ob->len, data, len);
		ob->len += len;
		return 0;
	}
	return outbuf_write(ob, data, len);
}

int
outbuf_chunk_size(struct outbuf *ob, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	char			line[2 * sizeof(size_t) + 2];
	size_t			n = sizeof(line) - 2;

	/* The chunk-size line, hex and CRLF, without printf on the body path. */
	line[sizeof(line) - 2] = '\r';
	line[sizeof(line) - 1] = '\n';
	do {
		line[--n] = hex[len & 0xf];
		len >>= 4;
	} while (len > 0);
	return outbuf_put(ob, line + n, sizeof(line) - n);
}

int
outbuf_flush(struct outbuf *ob)
{
	if (ob->len == 0)
		return ob->failed;
	return outbuf_write(ob, NULL, 0);
}
