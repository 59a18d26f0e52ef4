/* check_util.h: what every Check unit-test program shares: main(), a loopback socket. */
#ifndef RP_CHECK_UTIL_H
#define RP_CHECK_UTIL_H

#include <sys/socket.h>

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/*
 * A TCP socket bound to 127.0.0.1 on a port the kernel picks (in *sin),
 * listening when backlog >= 0. Bound but not listening, it refuses
 * connections, and no other test can take its port meanwhile.
 */
static inline int
check_loopback_socket(int backlog, struct sockaddr_in *sin)
{
	socklen_t	len = sizeof(*sin);
	int		fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ne(fd, -1);
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	if (backlog >= 0)
		ck_assert_int_eq(listen(fd, backlog), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)sin, &len), 0);
	return fd;
}

/* Run one suite; CK_ENV lets CK_FORK=no etc. be set from the environment. */
#define RP_CHECK_MAIN(suite_fn)						\
int main(void)								\
{									\
	SRunner *sr = srunner_create(suite_fn());			\
	int failed;							\
	srunner_run_all(sr, CK_ENV);					\
	failed = srunner_ntests_failed(sr);				\
	srunner_free(sr);						\
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;		\
}

#endif
