/* check_io.c: unit tests of the deadline-bounded socket IO, the output buffer and splice. */
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "clock.h"
#include "io.h"

/* Timeouts the tests wait out on purpose: short, and only ever a lower bound. */
#define SHORT_NS	(50 * NS_PER_MS)
/* Hang guard for what must succeed: generous, so a slow machine passes. */
#define GUARD_NS	(30000 * NS_PER_MS)

static void
nonblock(int fd)
{
	int	fl = fcntl(fd, F_GETFL);

	ck_assert_int_ne(fl, -1);
	ck_assert_int_ne(fcntl(fd, F_SETFL, fl | O_NONBLOCK), -1);
}

/* A connected stream socketpair; sv[0] non-blocking (the side under test). */
static void
pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	nonblock(sv[0]);
}

/* A listening socket on 127.0.0.1, port chosen by the kernel. */
static int
tcp_listener(struct sockaddr_in *sin)
{
	socklen_t	len = sizeof(*sin);
	int		fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ne(fd, -1);
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	ck_assert_int_eq(listen(fd, 8), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

/* A connected TCP pair on loopback: fds[0] non-blocking, fds[1] blocking. */
static void
tcp_pair(int fds[2])
{
	struct sockaddr_in	sin;
	int			lfd = tcp_listener(&sin);

	fds[0] = io_connect((struct sockaddr *)&sin, sizeof(sin), clock_now_ns() + GUARD_NS);
	ck_assert_int_ge(fds[0], 0);
	fds[1] = accept(lfd, NULL, NULL);
	ck_assert_int_ge(fds[1], 0);
	close(lfd);
}

/* Read exactly len bytes from a blocking fd. */
static void
read_all(int fd, char *buf, size_t len)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		ck_assert_int_gt(n, 0);
		got += (size_t)n;
	}
}

START_TEST(test_read_ready_and_eof)
{
	char	buf[16];
	int	sv[2];

	pair(sv);
	ck_assert_int_eq(write(sv[1], "hello", 5), 5);
	ck_assert_int_eq(io_read(sv[0], buf, sizeof(buf), clock_now_ns() + GUARD_NS), 5);
	ck_assert_mem_eq(buf, "hello", 5);
	close(sv[1]);
	ck_assert_int_eq(io_read(sv[0], buf, sizeof(buf), clock_now_ns() + GUARD_NS), 0);
	close(sv[0]);
}
END_TEST

START_TEST(test_read_timeout)
{
	char	buf[16];
	int64_t	t0 = clock_now_ns();
	int	sv[2];

	pair(sv);
	ck_assert_int_eq(io_read(sv[0], buf, sizeof(buf), t0 + SHORT_NS), IO_TIMEOUT);
	/* It waited for the deadline rather than giving up at once. */
	ck_assert_int_ge(clock_now_ns() - t0, SHORT_NS - NS_PER_MS);
	/* A deadline already past still reads what is there. */
	ck_assert_int_eq(write(sv[1], "x", 1), 1);
	ck_assert_int_eq(io_read(sv[0], buf, sizeof(buf), t0), 1);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_read_error)
{
	char	buf[4];

	errno = 0;
	ck_assert_int_eq(io_read(-1, buf, sizeof(buf), clock_now_ns() + GUARD_NS), IO_ERROR);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(test_write_and_write2)
{
	char	buf[32];
	int	sv[2];

	pair(sv);
	ck_assert_int_eq(io_write(sv[0], "abc", 3, clock_now_ns() + GUARD_NS), 0);
	ck_assert_int_eq(io_write2(sv[0], "head:", 5, "body", 4, clock_now_ns() + GUARD_NS), 0);
	ck_assert_int_eq(io_write2(sv[0], "", 0, "tail", 4, clock_now_ns() + GUARD_NS), 0);
	read_all(sv[1], buf, 16);
	ck_assert_mem_eq(buf, "abchead:bodytail", 16);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/*
 * A peer that reads nothing: the write fills the socket, then times out; an
 * outbuf with a long gap but an end that comes first times out at the end.
 */
START_TEST(test_write_timeout_when_full)
{
	static char	big[1 << 20];
	struct outbuf	ob;
	int		sv[2];

	pair(sv);
	ck_assert_int_eq(io_write(sv[0], big, sizeof(big), clock_now_ns() + SHORT_NS),
	    IO_TIMEOUT);
	outbuf_init(&ob, sv[0], GUARD_NS);
	outbuf_end(&ob, clock_now_ns() + SHORT_NS);
	ck_assert_int_eq(outbuf_put(&ob, big, sizeof(big)), IO_TIMEOUT);
	ck_assert_int_eq(ob.failed, IO_TIMEOUT);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_write_closed_peer)
{
	int	sv[2];

	pair(sv);
	close(sv[1]);
	/* MSG_NOSIGNAL: an error, not a SIGPIPE that would kill this test. */
	errno = 0;
	ck_assert_int_eq(io_write(sv[0], "x", 1, clock_now_ns() + GUARD_NS), IO_ERROR);
	ck_assert_int_eq(errno, EPIPE);
	close(sv[0]);
}
END_TEST

START_TEST(test_outbuf_gathers)
{
	struct outbuf	ob;
	char		buf[64];
	int		sv[2];

	pair(sv);
	outbuf_init(&ob, sv[0], GUARD_NS);
	ck_assert_int_eq(outbuf_chunk_size(&ob, 26), 0);
	ck_assert_int_eq(outbuf_put(&ob, "abcdefghijklmnopqrstuvwxyz", 26), 0);
	ck_assert_int_eq(outbuf_put(&ob, "\r\n", 2), 0);
	ck_assert_int_eq(outbuf_chunk_size(&ob, 0), 0);
	/* Small pieces wait in the buffer until flushed. */
	ck_assert_uint_eq(ob.total, 0);
	ck_assert_int_eq(outbuf_flush(&ob), 0);
	ck_assert_uint_eq(ob.total, 35);
	read_all(sv[1], buf, 35);
	ck_assert_mem_eq(buf, "1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n", 35);
	/* Flushing an empty buffer writes nothing. */
	ck_assert_int_eq(outbuf_flush(&ob), 0);
	ck_assert_uint_eq(ob.total, 35);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(test_outbuf_large_piece_keeps_order)
{
	static char	big[OUTBUF_SIZE + 100], got[OUTBUF_SIZE + 103];
	struct outbuf	ob;
	size_t		i;
	int		fds[2];

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	tcp_pair(fds);
	outbuf_init(&ob, fds[0], GUARD_NS);
	ck_assert_int_eq(outbuf_put(&ob, "pre", 3), 0);
	/* Too big to gather: written at once, behind what is pending. */
	ck_assert_int_eq(outbuf_put(&ob, big, sizeof(big)), 0);
	ck_assert_uint_eq(ob.total, sizeof(big) + 3);
	read_all(fds[1], got, sizeof(got));
	ck_assert_mem_eq(got, "pre", 3);
	ck_assert_mem_eq(got + 3, big, sizeof(big));
	close(fds[0]);
	close(fds[1]);
}
END_TEST

START_TEST(test_outbuf_failure_sticks)
{
	struct outbuf	ob;
	int		sv[2];

	pair(sv);
	close(sv[1]);
	outbuf_init(&ob, sv[0], GUARD_NS);
	ck_assert_int_eq(outbuf_put(&ob, "x", 1), 0);
	ck_assert_int_eq(outbuf_flush(&ob), IO_ERROR);
	ck_assert_int_eq(ob.failed, IO_ERROR);
	/* Later writes report the first failure without trying again. */
	ck_assert_int_eq(outbuf_put(&ob, "y", 1), IO_ERROR);
	ck_assert_int_eq(outbuf_flush(&ob), IO_ERROR);
	close(sv[0]);
}
END_TEST

static int	readable_calls;

/* ctx: the socketpair. Drain the input; the first call sends more, the second refuses. */
static int
on_readable(void *ctx)
{
	int	*sv = ctx;
	char	 buf[64];

	readable_calls++;
	while (read(sv[0], buf, sizeof(buf)) > 0)
		;
	if (readable_calls >= 2)
		return -1;
	ck_assert_int_eq(write(sv[1], "more", 4), 4);
	return 0;
}

/* Input while the peer takes nothing: the callback runs and can fail the write. */
START_TEST(test_outbuf_on_readable)
{
	static char	big[1 << 20];
	struct outbuf	ob;
	int		sv[2];

	pair(sv);
	outbuf_init(&ob, sv[0], GUARD_NS);
	outbuf_on_readable(&ob, on_readable, sv);
	ck_assert_int_eq(write(sv[1], "early answer", 12), 12);
	readable_calls = 0;
	errno = 0;
	ck_assert_int_eq(outbuf_put(&ob, big, sizeof(big)), IO_ERROR);
	ck_assert_int_eq(errno, ECANCELED);
	ck_assert_int_eq(readable_calls, 2);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

static void
reap(pid_t pid)
{
	int	status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* Splice len bytes from one TCP pair to another through a pipe. */
START_TEST(test_splice_moves_all)
{
	static char	data[200000], got[sizeof(data)];
	uint64_t	nin, nout;
	size_t		i;
	pid_t		writer, reader;
	int		in[2], out[2], p[2], failed = -1;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7);
	tcp_pair(in);
	tcp_pair(out);
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	/* A writer and a reader apart, so neither socket buffer has to hold it all. */
	if ((writer = fork()) == 0) {
		size_t	off = 0;
		ssize_t	n;

		while (off < sizeof(data) && (n = write(in[1], data + off,
		    sizeof(data) - off)) > 0)
			off += (size_t)n;
		_exit(off == sizeof(data) ? 0 : 1);
	}
	ck_assert_int_ne(writer, -1);
	close(in[1]);
	if ((reader = fork()) == 0) {
		size_t	off = 0;
		ssize_t	n;

		/* No ck_assert in a child: it reports by its exit status. */
		while (off < sizeof(got) && (n = read(out[1], got + off,
		    sizeof(got) - off)) > 0)
			off += (size_t)n;
		_exit(off == sizeof(got) && memcmp(got, data, sizeof(data)) == 0 ? 0 : 1);
	}
	ck_assert_int_ne(reader, -1);
	close(out[1]);
	ck_assert_int_eq(io_splice(in[0], out[0], p, sizeof(data), GUARD_NS, INT64_MAX,
	    &nin, &nout, &failed), 0);
	ck_assert_uint_eq(nin, sizeof(data));
	ck_assert_uint_eq(nout, sizeof(data));
	close(out[0]);
	reap(writer);
	reap(reader);
	close(in[0]);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_splice_eof_and_timeout)
{
	char		buf[8];
	uint64_t	nin, nout;
	int		in[2], out[2], p[2], failed = -1;

	tcp_pair(in);
	tcp_pair(out);
	ck_assert_int_eq(pipe2(p, O_NONBLOCK), 0);
	/* Nothing arrives: a timeout, blamed on the source. */
	ck_assert_int_eq(io_splice(in[0], out[0], p, 10, SHORT_NS, INT64_MAX, &nin, &nout,
	    &failed), IO_TIMEOUT);
	ck_assert_int_eq(failed, in[0]);
	ck_assert_uint_eq(nin, 0);
	/* A long gap, but the end comes first: a timeout too. */
	ck_assert_int_eq(io_splice(in[0], out[0], p, 10, GUARD_NS, clock_now_ns() + SHORT_NS,
	    &nin, &nout, &failed), IO_TIMEOUT);
	/* Five of ten bytes, then the source closes: IO_EOF with the count moved. */
	ck_assert_int_eq(write(in[1], "12345", 5), 5);
	close(in[1]);
	failed = -1;
	ck_assert_int_eq(io_splice(in[0], out[0], p, 10, GUARD_NS, INT64_MAX, &nin, &nout,
	    &failed), IO_EOF);
	ck_assert_int_eq(failed, in[0]);
	ck_assert_uint_eq(nin, 5);
	ck_assert_uint_eq(nout, 5);
	read_all(out[1], buf, 5);
	ck_assert_mem_eq(buf, "12345", 5);
	close(in[0]);
	close(out[0]);
	close(out[1]);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_connect_listening)
{
	struct sockaddr_in	sin;
	int			lfd = tcp_listener(&sin), fd, afd;

	fd = io_connect((struct sockaddr *)&sin, sizeof(sin), clock_now_ns() + GUARD_NS);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	ck_assert_int_eq(io_write(fd, "hi", 2, clock_now_ns() + GUARD_NS), 0);
	close(afd);
	close(fd);
	close(lfd);
}
END_TEST

/*
 * A port bound but not listening refuses connections, and nobody else can
 * take it while we hold it: no race with other tests for a closed port.
 */
START_TEST(test_connect_refused)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			bfd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ne(bfd, -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(bfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(bfd, (struct sockaddr *)&sin, &len), 0);
	errno = 0;
	ck_assert_int_eq(io_connect((struct sockaddr *)&sin, sizeof(sin),
	    clock_now_ns() + GUARD_NS), IO_ERROR);
	ck_assert_int_eq(errno, ECONNREFUSED);
	close(bfd);
}
END_TEST

static Suite *
io_suite(void)
{
	Suite	*s = suite_create("io");
	TCase	*tc = tcase_create("core");

	/* Hang guard only: every wait above is bounded by its own deadline. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_read_ready_and_eof);
	tcase_add_test(tc, test_read_timeout);
	tcase_add_test(tc, test_read_error);
	tcase_add_test(tc, test_write_and_write2);
	tcase_add_test(tc, test_write_timeout_when_full);
	tcase_add_test(tc, test_write_closed_peer);
	tcase_add_test(tc, test_outbuf_gathers);
	tcase_add_test(tc, test_outbuf_large_piece_keeps_order);
	tcase_add_test(tc, test_outbuf_failure_sticks);
	tcase_add_test(tc, test_outbuf_on_readable);
	tcase_add_test(tc, test_splice_moves_all);
	tcase_add_test(tc, test_splice_eof_and_timeout);
	tcase_add_test(tc, test_connect_listening);
	tcase_add_test(tc, test_connect_refused);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(io_suite)
