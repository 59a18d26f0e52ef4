/* check_log.c: unit tests of the log lines: escaping, quoting, errno, timestamps. */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_util.h"
#include "log.h"

static const struct {
	const char	*in;
	const char	*out;
} quotes[] = {
	/* A config error that quotes a key. */
	{ "event=reload error=\"f:1: unknown key \"max_retrys\"\" action=keep_running",
	  "event=reload error=\"f:1: unknown key \\x22max_retrys\\x22\" action=keep_running" },
	{ "event=x error=\"a \"b\"\"", "event=x error=\"a \\x22b\\x22\"" },
	{ "event=x a=\"p\\q\" b=1", "event=x a=\"p\\x5cq\" b=1" },
	/* log_escape() output passes as it is. */
	{ "target=\"/a\\x22b\\x5c\" status=200", "target=\"/a\\x22b\\x5c\" status=200" },
	{ "event=x error=\"line\nbreak\"", "event=x error=\"line\\x0abreak\"" },
	{ "event=x a=1\r\nb=2", "event=x a=1\\x0d\\x0ab=2" },
	{ "event=x a=\"open", "event=x a=\"open\"" },
	{ "event=x a=\"caf\xc3\xa9\"", "event=x a=\"caf\\xc3\\xa9\"" },
	{ "plain text: \"quoted\" stays", "plain text: \"quoted\" stays" },
	{ "event=x a=\"\" b=\"c\"", "event=x a=\"\" b=\"c\"" },
};

START_TEST(test_kv_quote)
{
	char	out[256];

	ck_assert_uint_eq(log_kv_quote(out, sizeof(out), quotes[_i].in), strlen(quotes[_i].out));
	ck_assert_str_eq(out, quotes[_i].out);
}
END_TEST

/* Cut short: never inside an escape, and an open value is closed. */
START_TEST(test_kv_quote_short)
{
	char		 out[16];
	const char	*bs;
	size_t		 n, size;

	for (size = 1; size <= sizeof(out); size++) {
		n = log_kv_quote(out, size, size % 2 ? "k=\"ab\"\"\"cd\" x=1" :
		    "k=\"a\\x22\\x22\\x22c\" x=1");
		ck_assert_uint_lt(n, size);
		ck_assert_uint_eq(strlen(out), n);
		if (n > 3)
			ck_assert_msg(out[n - 1] == '"', "%zu: %s", size, out);
		/* The last escape is whole: \x and two hex digits. */
		bs = strrchr(out, '\\');
		ck_assert_msg(bs == NULL || (strlen(bs) >= 4 && isxdigit((unsigned char)bs[2]) &&
		    isxdigit((unsigned char)bs[3])), "%zu: %s", size, out);
	}
}
END_TEST

static char	logdir[32];

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

	/* A fresh template each time: CK_FORK=no runs every test in one process. */
	snprintf(logdir, sizeof(logdir), "/tmp/check_log.XXXXXX");
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

/* log_warn with errno 0 has no error="Success". */
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

/* ISO 8601 local time with its numeric offset. */
START_TEST(test_timestamp_offset)
{
	static const char *const zones[][2] = {
		{ "UTC0", "+00:00" }, { "XST-05:30", "+05:30" }, { "YST09:45", "-09:45" },
	};
	regex_t	re;
	char	*text, want[32];
	size_t	i;

	open_logs();
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		setenv("TZ", zones[i][0], 1);
		tzset();
		log_notice("event=zone i=%zu", i);
	}
	text = read_log();
	ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
	    "\\.[0-9]{3}[+-][0-9]{2}:[0-9]{2} rproxyd\\[[0-9]+\\] notice: event=zone",
	    REG_EXTENDED | REG_NEWLINE), 0);
	ck_assert_msg(regexec(&re, text, 0, NULL, 0) == 0, "%s", text);
	regfree(&re);
	for (i = 0; i < sizeof(zones) / sizeof(zones[0]); i++) {
		snprintf(want, sizeof(want), "%s rproxyd[", zones[i][1]);
		ck_assert_msg(strstr(text, want) != NULL, "no %s in %s", zones[i][1], text);
	}
	close_logs();
}
END_TEST

static const char *
esc(char *dst, size_t dstsz, const char *s)
{
	return log_escape(dst, dstsz, s, strlen(s));
}

START_TEST(test_plain_text_unchanged)
{
	char	buf[64];

	ck_assert_str_eq(esc(buf, sizeof(buf), "/index.html?a=1&b=%20"), "/index.html?a=1&b=%20");
	ck_assert_str_eq(esc(buf, sizeof(buf), "~!#$'()*+,-./:;<=>@[]^_`{|}"),
	    "~!#$'()*+,-./:;<=>@[]^_`{|}");
}
END_TEST

START_TEST(test_empty_is_dash)
{
	char	buf[64];

	ck_assert_str_eq(log_escape(buf, sizeof(buf), "", 0), "-");
	ck_assert_str_eq(log_escape(buf, sizeof(buf), "abc", 0), "-");
}
END_TEST

/* Space, quote, backslash, controls, DEL and 8-bit bytes would break key=value. */
START_TEST(test_escapes)
{
	char		buf[128];
	const char	in[] = { 'a', ' ', '"', '\\', '\r', '\n', '\0', 0x7f, (char)0x80,
			    (char)0xff, '=', 'z' };

	ck_assert_str_eq(log_escape(buf, sizeof(buf), in, sizeof(in)),
	    "a\\x20\\x22\\x5c\\x0d\\x0a\\x00\\x7f\\x80\\xff=z");
	ck_assert_str_eq(esc(buf, sizeof(buf), "x\ty"), "x\\x09y");
}
END_TEST

/* Only n bytes are read, even with more (or no NUL) after them. */
START_TEST(test_reads_only_n)
{
	char	buf[16];

	ck_assert_str_eq(log_escape(buf, sizeof(buf), "abcdef", 3), "abc");
}
END_TEST

/* Cut to fit dstsz, never inside an escape. */
START_TEST(test_truncation)
{
	char	buf[8];

	ck_assert_str_eq(esc(buf, sizeof(buf), "abcdefghij"), "abcdefg");
	ck_assert_str_eq(esc(buf, sizeof(buf), "abcd efg"), "abcd");
	ck_assert_str_eq(esc(buf, sizeof(buf), "ab cdefg"), "ab\\x20c");
	ck_assert_str_eq(esc(buf, 5, "\x01"), "\\x01");
	ck_assert_str_eq(esc(buf, 5, "a\x01"), "a");
	/* Too small for a single escape: "-". */
	ck_assert_str_eq(esc(buf, 4, "abc"), "-");
	ck_assert_str_eq(esc(buf, 0, "abc"), "-");
	/* Whole escapes only: the second does not fit. */
	ck_assert_str_eq(esc(buf, 5, "\x01\x02"), "\\x01");
}
END_TEST

static Suite *
log_suite(void)
{
	Suite	*s = suite_create("log");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_kv_quote, 0, sizeof(quotes) / sizeof(quotes[0]));
	tcase_add_test(tc, test_kv_quote_short);
	tcase_add_test(tc, test_warn_without_errno);
	tcase_add_test(tc, test_timestamp_offset);
	tcase_add_test(tc, test_plain_text_unchanged);
	tcase_add_test(tc, test_empty_is_dash);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_reads_only_n);
	tcase_add_test(tc, test_truncation);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(log_suite)
