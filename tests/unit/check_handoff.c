/* check_handoff.c: unit tests of the hand-off message between keeper and workers. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_util.h"
#include "handoff.h"

static int	sp[2];

static void
setup(void)
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp), 0);
}

static void
teardown(void)
{
	close(sp[0]);
	close(sp[1]);
}

static int
open_fds(void)
{
	DIR		*d = opendir("/proc/self/fd");
	int		 n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static struct handoff
message(uint32_t kind, uint32_t len)
{
	struct handoff	h;

	memset(&h, 0, sizeof(h));
	h.magic = HANDOFF_MAGIC;
	h.kind = kind;
	h.nreq = 7;
	h.len = len;
	h.since = 123456789;
	h.peer.sin6.sin6_family = AF_INET6;
	h.peer.sin6.sin6_port = htons(4242);
	return h;
}

/* The connection, its state and its bytes arrive whole; the descriptor works. */
START_TEST(test_round_trip)
{
	static const char	 head[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
	struct handoff		 out = message(HANDOFF_READY, sizeof(head) - 1), in;
	char			 buf[256], got;
	int			 p[2], fd = -1;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(handoff_send(sp[0], p[1], &out, head, 0), 0);
	close(p[1]);
	ck_assert_int_eq(handoff_recv(sp[1], &fd, &in, buf, sizeof(buf), 0), 1);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(in.kind, HANDOFF_READY);
	ck_assert_uint_eq(in.nreq, 7);
	ck_assert_int_eq(in.since, 123456789);
	ck_assert_uint_eq(in.len, sizeof(head) - 1);
	ck_assert_mem_eq(buf, head, sizeof(head) - 1);
	ck_assert_int_eq(in.peer.sin6.sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(in.peer.sin6.sin6_port), 4242);
	ck_assert_uint_eq(handoff_peer_len(&in.peer), sizeof(struct sockaddr_in6));
	/* Close-on-exec, and the same pipe: a byte written through it arrives. */
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(write(fd, "x", 1), 1);
	ck_assert_int_eq(read(p[0], &got, 1), 1);
	ck_assert_int_eq(got, 'x');
	close(fd);
	close(p[0]);
}
END_TEST

/* An idle connection travels with no bytes. */
START_TEST(test_no_bytes)
{
	struct handoff	out = message(HANDOFF_WAIT, 0), in;
	char		buf[16];
	int		fd = -1;

	ck_assert_int_eq(handoff_send(sp[1], STDIN_FILENO, &out, NULL, 0), 0);
	ck_assert_int_eq(handoff_recv(sp[0], &fd, &in, buf, sizeof(buf), 0), 1);
	ck_assert_int_eq(in.kind, HANDOFF_WAIT);
	ck_assert_uint_eq(in.len, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

/* More bytes than the receiver has room for: said, and the descriptor still given. */
START_TEST(test_truncated)
{
	char		bytes[100], buf[10];
	struct handoff	out = message(HANDOFF_READY, sizeof(bytes)), in;
	int		fd = -1;

	memset(bytes, 'a', sizeof(bytes));
	ck_assert_int_eq(handoff_send(sp[0], STDIN_FILENO, &out, bytes, 0), 0);
	ck_assert_int_eq(handoff_recv(sp[1], &fd, &in, buf, sizeof(buf), 0), HANDOFF_TRUNCATED);
	ck_assert_int_ge(fd, 0);
	close(fd);
}
END_TEST

/* A message that is not a hand-off is refused and what it carried is closed. */
START_TEST(test_not_a_handoff)
{
	struct handoff	out = message(HANDOFF_READY, 0), in;
	char		buf[16];
	int		fd = -1, before;

	before = open_fds();
	out.magic = 0xdeadbeef;
	ck_assert_int_eq(handoff_send(sp[0], STDIN_FILENO, &out, NULL, 0), 0);
	ck_assert_int_eq(handoff_recv(sp[1], &fd, &in, buf, sizeof(buf), 0), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_int_eq(open_fds(), before);

	out = message(7, 0);	/* no such kind */
	ck_assert_int_eq(handoff_send(sp[0], STDIN_FILENO, &out, NULL, 0), 0);
	ck_assert_int_eq(handoff_recv(sp[1], &fd, &in, buf, sizeof(buf), 0), -1);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_int_eq(open_fds(), before);

	/* No descriptor at all. */
	out = message(HANDOFF_READY, 0);
	ck_assert_int_eq(send(sp[0], &out, sizeof(out), 0), (ssize_t)sizeof(out));
	ck_assert_int_eq(handoff_recv(sp[1], &fd, &in, buf, sizeof(buf), 0), -1);
	ck_assert_int_eq(errno, EPROTO);
}
END_TEST

/* Nothing queued: EAGAIN without waiting; the other end gone: 0. */
START_TEST(test_empty_and_closed)
{
	struct handoff	in;
	char		buf[16];
	int		fd = -1;

	ck_assert_int_eq(handoff_recv(sp[1], &fd, &in, buf, sizeof(buf), MSG_DONTWAIT), -1);
	ck_assert(errno == EAGAIN || errno == EWOULDBLOCK);
	close(sp[0]);
	ck_assert_int_eq(handoff_recv(sp[1], &fd, &in, buf, sizeof(buf), MSG_DONTWAIT), 0);
	sp[0] = socket(AF_UNIX, SOCK_STREAM, 0);	/* for teardown */
}
END_TEST

/* Messages keep their order and their bounds. */
START_TEST(test_order)
{
	struct handoff	out, in;
	char		buf[16];
	int		fd, i;

	for (i = 0; i < 5; i++) {
		out = message(HANDOFF_WAIT, 1);
		out.nreq = (uint32_t)i;
		ck_assert_int_eq(handoff_send(sp[1], STDIN_FILENO, &out, "abcde" + i, 0), 0);
	}
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(handoff_recv(sp[0], &fd, &in, buf, sizeof(buf), 0), 1);
		ck_assert_uint_eq(in.nreq, (uint32_t)i);
		ck_assert_int_eq(buf[0], "abcde"[i]);
		close(fd);
	}
}
END_TEST

static Suite *
handoff_suite(void)
{
	Suite	*s = suite_create("handoff");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_no_bytes);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_not_a_handoff);
	tcase_add_test(tc, test_empty_and_closed);
	tcase_add_test(tc, test_order);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(handoff_suite)
