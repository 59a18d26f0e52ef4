/* check_log_escape.c: unit tests of log_escape, which makes untrusted text safe as a log value. */
#include <check.h>
#include <string.h>

#include "check_util.h"
#include "log.h"

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
log_escape_suite(void)
{
	Suite	*s = suite_create("log_escape");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_plain_text_unchanged);
	tcase_add_test(tc, test_empty_is_dash);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_reads_only_n);
	tcase_add_test(tc, test_truncation);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(log_escape_suite)
