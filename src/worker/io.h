/* io.h: blocking-style reads and writes on non-blocking sockets, bounded by poll(). */
#ifndef RP_IO_H
#define RP_IO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* How an I/O step ended, when it did not succeed: every code in one place. */
#define IO_ERROR	(-1)	/* errno says why */
#define IO_TIMEOUT	(-2)
#define IO_BUF_FULL	(-3)	/* no room left in the buffer to read into */
#define IO_EOF		(-4)	/* the peer closed before the expected end */

/* A wait's deadline: the sooner of now + gap and end (CLOCK_MONOTONIC ns). */
int64_t	io_until(int64_t gap, int64_t end);

/* Read up to len bytes before deadline (CLOCK_MONOTONIC ns): >0 bytes, 0 EOF, or IO_*. */
ssize_t	io_read(int fd, void *buf, size_t len, int64_t deadline);

/* Write all of buf before deadline: 0, or IO_*. */
int	io_write(int fd, const void *buf, size_t len, int64_t deadline);

/* Write two buffers (head and body) with one writev() where possible. */
int	io_write2(int fd, const void *a, size_t alen, const void *b, size_t blen,
	    int64_t deadline);

/*
 * Move exactly len bytes from socket in to socket out through the pipe p,
 * without copying them through user space (splice(2)). Each step must make
 * progress within gap ns, and all of it end by end (CLOCK_MONOTONIC ns,
 * INT64_MAX for none). 0 when all of len reached out; otherwise IO_EOF,
 * IO_TIMEOUT or IO_ERROR (errno), with *failed the fd at fault. *nin and
 * *nout count the bytes taken from in and given to out. The pipe holds
 * leftovers after a failure: the caller closes it.
 */
int	io_splice(int in, int out, const int p[2], uint64_t len, int64_t gap,
	    int64_t end, uint64_t *nin, uint64_t *nout, int *failed);

/* Connect to sa before deadline: the socket, or IO_* (errno set). */
int	io_connect(const struct sockaddr *sa, socklen_t salen, int64_t deadline);

/*
 * A write-combining buffer: small pieces (chunk framing) are gathered, large
 * ones go straight out with writev() behind what is pending.
 */
#define OUTBUF_SIZE	16384

typedef int (*outbuf_readable_fn)(void *ctx);

struct outbuf {
	int		fd;
	outbuf_readable_fn on_readable;	/* see outbuf_on_readable() */
	void		*ctx;
	int		failed;		/* IO_* of the first failed write, 0 if none */
	int64_t		gap_ns;		/* each write must progress within this */
	int64_t		end;		/* ...and all be done by this (INT64_MAX: never) */
	size_t		len;
	uint64_t	total;		/* bytes written through it */
	char		buf[OUTBUF_SIZE];
};

void	outbuf_init(struct outbuf *ob, int fd, int64_t gap_ns);

/* No write through ob may go on past end (CLOCK_MONOTONIC ns). */
void	outbuf_end(struct outbuf *ob, int64_t end);

/*
 * While a write waits for the peer to take more, also watch fd for input and
 * call fn when there is some (the peer answers while we still send); fn
 * returning -1 fails the write. Progress either way restarts the gap clock.
 */
void	outbuf_on_readable(struct outbuf *ob, outbuf_readable_fn fn, void *ctx);
int	outbuf_put(struct outbuf *ob, const void *data, size_t len);
/* Queue "LEN-IN-HEX CRLF", a chunk's size line. */
int	outbuf_chunk_size(struct outbuf *ob, size_t len);
int	outbuf_flush(struct outbuf *ob);

#endif
