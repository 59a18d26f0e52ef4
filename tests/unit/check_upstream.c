/* check_upstream.c: unit tests of a worker's connections to one backend and its idle pool. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "clock.h"
#include "upstream.h"

/* Timeouts the tests wait out on purpose: short, and only ever a lower bound. */
#define SHORT_NS	(50 * NS_PER_MS)
/* Hang guard for what must succeed: generous, so a slow machine passes. */
#define GUARD_NS	(30000 * NS_PER_MS)

static struct rp_backend_conf	conf;
static struct shm_backend	health;
static struct slot_backend	stats;
static struct upstream		u;

/* check_loopback_socket(), its port as a number. */
static int
bound(int backlog, unsigned *port)
{
	struct sockaddr_in	sin;
	int			fd = check_loopback_socket(backlog, &sin);

	*port = ntohs(sin.sin_port);
	return fd;
}

/* The upstream u for backend "b1" at 127.0.0.1:port, pooling up to idle_cap. */
static void
upstream_at(unsigned port, unsigned idle_cap)
{
	memset(&conf, 0, sizeof(conf));
	snprintf(conf.name, sizeof(conf.name), "b1");
	snprintf(conf.addr.host, sizeof(conf.addr.host), "127.0.0.1");
	conf.addr.port = port;
	conf.weight = 1;
	upstream_init(&u, &conf, &health, &stats, idle_cap);
}

static int
is_open(int fd)
{
	return fcntl(fd, F_GETFD) != -1;
}

static int
peer_port(int fd)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);

	ck_assert_int_eq(getpeername(fd, (struct sockaddr *)&sin, &len), 0);
	return ntohs(sin.sin_port);
}

/* The address is resolved once, named for the logs, and the pool is capped. */
START_TEST(test_init)
{
	char	want[32];

	upstream_at(8080, 1000);
	ck_assert_int_eq(u.resolved, 1);
	ck_assert_str_eq(u.hostport, "127.0.0.1:8080");
	ck_assert_uint_eq(u.idle_cap, UPSTREAM_IDLE_MAX);
	ck_assert_uint_eq(u.nidle, 0);
	ck_assert_ptr_eq(u.health, &health);
	ck_assert_ptr_eq(u.stats, &stats);
	upstream_at(9, 2);
	snprintf(want, sizeof(want), "127.0.0.1:%u", 9u);
	ck_assert_str_eq(u.hostport, want);
	ck_assert_uint_eq(u.idle_cap, 2);
}
END_TEST

/* A new connection to a listening backend: connected, not reused, no Nagle delay. */
START_TEST(test_get_connects)
{
	enum fail_reason	reason = FAIL__COUNT;
	unsigned		port;
	int			lfd = bound(8, &port), fd, afd, reused = -1, on = 0;
	socklen_t		len = sizeof(on);

	upstream_at(port, 4);
	fd = upstream_get(&u, clock_now_ns() + GUARD_NS, &reused, &reason);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(reused, 0);
	ck_assert_int_eq(reason, FAIL__COUNT);
	ck_assert_int_eq(peer_port(fd), (int)port);
	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, &len), 0);
	ck_assert_int_ne(on, 0);
	ck_assert_int_ge(afd = accept(lfd, NULL, NULL), 0);
	close(afd);
	close(fd);
	close(lfd);
}
END_TEST

/*
 * A port bound but not listening refuses connections, and nobody else can
 * take it while we hold it: a refusal is a connect failure, said by errno.
 */
START_TEST(test_get_refused)
{
	enum fail_reason	reason = FAIL__COUNT;
	unsigned		port;
	int			bfd = bound(-1, &port), reused = -1;

	upstream_at(port, 4);
	errno = 0;
	ck_assert_int_eq(upstream_get(&u, clock_now_ns() + GUARD_NS, &reused, &reason), -1);
	ck_assert_int_eq(reason, FAIL_CONNECT);
	ck_assert_int_eq(errno, ECONNREFUSED);
	ck_assert_int_eq(reused, 0);
	close(bfd);
}
END_TEST

/*
 * A listener with backlog 0 and one connection queued drops the next SYN:
 * the connect cannot finish, and the deadline makes it a connect timeout.
 */
START_TEST(test_get_connect_timeout)
{
	enum fail_reason	reason = FAIL__COUNT;
	unsigned		port;
	int			lfd = bound(0, &port), first, reused;
	int64_t			start;

	upstream_at(port, 4);
	first = upstream_get(&u, clock_now_ns() + GUARD_NS, &reused, &reason);
	ck_assert_int_ge(first, 0);
	start = clock_now_ns();
	ck_assert_int_eq(upstream_get(&u, start + SHORT_NS, &reused, &reason), -1);
	ck_assert_int_eq(reason, FAIL_CONNECT_TIMEOUT);
	ck_assert_int_ge(clock_now_ns() - start, SHORT_NS);
	close(first);
	close(lfd);
}
END_TEST

/* A name that did not resolve when the worker started fails every attempt at once. */
START_TEST(test_get_unresolved)
{
	enum fail_reason	reason = FAIL__COUNT;
	int			reused = -1;

	upstream_at(9, 4);
	u.resolved = 0;		/* as upstream_init() leaves it when the lookup failed */
	errno = 0;
	ck_assert_int_eq(upstream_get(&u, clock_now_ns() + GUARD_NS, &reused, &reason), -1);
	ck_assert_int_eq(reason, FAIL_CONNECT);
	ck_assert_int_eq(errno, EHOSTUNREACH);
	ck_assert_int_eq(reused, 0);
}
END_TEST

/* Pooled connections come back last in, first out; beyond the cap they are closed. */
START_TEST(test_pool_reuse_and_cap)
{
	enum fail_reason	reason;
	unsigned		port;
	int			lfd = bound(8, &port), fd[3], afd[3], got, reused, i;

	upstream_at(port, 2);
	for (i = 0; i < 3; i++) {
		fd[i] = upstream_get(&u, clock_now_ns() + GUARD_NS, &reused, &reason);
		ck_assert_int_ge(fd[i], 0);
		ck_assert_int_ge(afd[i] = accept(lfd, NULL, NULL), 0);
	}
	for (i = 0; i < 3; i++)
		upstream_put(&u, fd[i]);
	ck_assert_uint_eq(u.nidle, 2);
	ck_assert(!is_open(fd[2]));
	got = upstream_get(&u, clock_now_ns() + GUARD_NS, &reused, &reason);
	ck_assert_int_eq(got, fd[1]);
	ck_assert_int_eq(reused, 1);
	upstream_put(&u, got);
	upstream_close_idle(&u);
	ck_assert_uint_eq(u.nidle, 0);
	ck_assert(!is_open(fd[0]) && !is_open(fd[1]));
	for (i = 0; i < 3; i++)
		close(afd[i]);
	close(lfd);
}
END_TEST

/* A pooled connection the backend has closed is dropped, and a new one is made. */
START_TEST(test_pool_skips_closed)
{
	enum fail_reason	reason;
	unsigned		port;
	int			lfd = bound(8, &port), fd, afd, got, reused;
	int64_t			deadline = clock_now_ns() + GUARD_NS;

	upstream_at(port, 2);
	ck_assert_int_ge(fd = upstream_get(&u, deadline, &reused, &reason), 0);
	ck_assert_int_ge(afd = accept(lfd, NULL, NULL), 0);
	upstream_put(&u, fd);
	close(afd);
	/* The FIN must have arrived before the pool looks: wait until it has. */
	while (recv(fd, &got, 1, MSG_PEEK | MSG_DONTWAIT) == -1 && clock_now_ns() < deadline)
		usleep(1000);
	got = upstream_get(&u, deadline, &reused, &reason);
	ck_assert_int_ge(got, 0);
	ck_assert_int_eq(reused, 0);
	ck_assert_uint_eq(u.nidle, 0);
	/* The new connection may reuse the stale one's number: the peer says which it is. */
	ck_assert_int_ge(afd = accept(lfd, NULL, NULL), 0);
	close(afd);
	close(got);
	close(lfd);
}
END_TEST

static Suite *
upstream_suite(void)
{
	Suite	*s = suite_create("upstream");
	TCase	*tc = tcase_create("core");

	/* Hang guard only: every wait above is bounded by its own deadline. */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_init);
	tcase_add_test(tc, test_get_connects);
	tcase_add_test(tc, test_get_refused);
	tcase_add_test(tc, test_get_connect_timeout);
	tcase_add_test(tc, test_get_unresolved);
	tcase_add_test(tc, test_pool_reuse_and_cap);
	tcase_add_test(tc, test_pool_skips_closed);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(upstream_suite)
