/* check_log.c: unit tests of the log lines. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "log.h"

static char	logdir[] = "/tmp/check_log.XXXXXX";

/* The lines of logdir/rproxyd.log. */
static char *
read_log(void)
{
	static char	buf[8192];
	char		path[64];
	FILE		*f;
	size_t		n;

	snprintf(path, sizeof(path), "%s/rproxyd.log", logdir);
	ck_assert_ptr_ne(f = fopen(path, "r"), NULL);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void
open_logs(void)
{
	char	err[256];

	ck_assert_ptr_ne(mkdtemp(logdir), NULL);
	log_init("check_log", LOG_DAEMON, LOG_DEBUG, 0);
	ck_assert_msg(log_open_dir(logdir, (uid_t)-1, (gid_t)-1, err, sizeof(err)) == 0,
	    "%s", err);
}

static void
close_logs(void)
{
	char	err[256], path[64];

	ck_assert_int_eq(log_open_dir("", (uid_t)-1, (gid_t)-1, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/rproxyd.log", logdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/access.log", logdir);
	unlink(path);
	rmdir(logdir);
}

/* Issue 14: log_warn with errno 0 has no error="Success". */
START_TEST(test_warn_without_errno)
{
	char	*text;

	open_logs();
	errno = 0;
	log_warn("event=no_error");
	errno = EBADF;
	log_warn("event=with_error");
	errno = 0;
	log_warn("plain");
	text = read_log();
	ck_assert_msg(strstr(text, "event=no_error\n") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "event=with_error error=\"Bad file descriptor\"\n") != NULL,
	    "%s", text);
	ck_assert_msg(strstr(text, "warning: plain\n") != NULL, "%s", text);
	ck_assert_ptr_eq(strstr(text, "Success"), NULL);
	close_logs();
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_warn_without_errno);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(log_suite)
