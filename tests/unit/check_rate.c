/* check_rate.c: unit tests of the minimum-rate allowance: time allowed x bytes x time waited. */
#include <check.h>
#include <stdint.h>

#include "check_util.h"
#include "rate.h"

#define S	1000000000LL	/* a second in ns */
#define MS	1000000LL

/* mod_reqtimeout's body=20,MinRate=500 unless a row says otherwise. */
static const struct {
	const char	*what;
	int64_t		 initial;
	uint64_t	 min_rate;
	int64_t		 max;
	uint64_t	 bytes;
	int64_t		 waited;
	int64_t		 left;		/* expected rate_left() */
} table[] = {
	{ "nothing yet", 20 * S, 500, 0, 0, 0, 20 * S },
	{ "500 bytes earn a second", 20 * S, 500, 0, 500, 0, 21 * S },
	{ "a part of a second", 20 * S, 500, 0, 250, 0, 20 * S + 500 * MS },
	{ "one byte", 20 * S, 500, 0, 1, 0, 20 * S + 2 * MS },
	{ "time waited is taken off", 20 * S, 500, 0, 500, 5 * S, 16 * S },
	{ "1 byte per 20 s: out at the start", 20 * S, 500, 0, 1, 20 * S, 2 * MS },
	{ "spent: never negative", 20 * S, 500, 0, 10, 60 * S, 0 },
	{ "at the rate, for an hour", 20 * S, 500, 0, 500 * 3600, 3600 * S, 20 * S },
	{ "just under it, for an hour", 20 * S, 500, 0, 499 * 3600, 3600 * S,
	  20 * S - 7200 * MS },
	{ "a cap", 20 * S, 500, 30 * S, 500 * 1000, 0, 30 * S },
	{ "a cap, partly spent", 20 * S, 500, 30 * S, 500 * 1000, 25 * S, 5 * S },
	{ "a cap above the allowance", 20 * S, 500, 60 * S, 0, 5 * S, 15 * S },
	{ "no rate, no cap", 20 * S, 0, 0, 0, 3600 * S, RATE_UNLIMITED },
	{ "no rate, a cap", 20 * S, 0, 10 * S, 0, 4 * S, 6 * S },
	{ "bytes beyond counting saturate", 20 * S, 1, 0, UINT64_MAX, 0, RATE_UNLIMITED },
	{ "the highest rate: a remainder near 1g, no overflow", 1 * S, 1073741824, 0,
	  1000000000000ULL, 0, 932 * S + 322574615 },
	{ "a huge allowance saturates", 1 * S, 1073741824, 0, UINT64_MAX - 1, 0,
	  RATE_UNLIMITED },
};

START_TEST(test_left)
{
	struct rate	r;

	rate_init(&r, table[_i].initial, table[_i].min_rate, table[_i].max);
	rate_add(&r, table[_i].bytes, table[_i].waited);
	ck_assert_msg(rate_left(&r) == table[_i].left, "%s: %lld, want %lld",
	    table[_i].what, (long long)rate_left(&r), (long long)table[_i].left);
}
END_TEST

/* Bytes and waits add up across calls; a negative wait (a clock step) adds nothing. */
START_TEST(test_adds_up)
{
	struct rate	r;
	int		i;

	rate_init(&r, 20 * S, 500, 0);
	for (i = 0; i < 10; i++)
		rate_add(&r, 100, 1 * S);
	/* 1000 bytes: 22 s allowed, 10 s spent. */
	ck_assert_int_eq(rate_left(&r), 12 * S);
	rate_add(&r, 0, -5 * S);
	ck_assert_int_eq(rate_left(&r), 12 * S);
	rate_add(&r, UINT64_MAX, INT64_MAX);
	ck_assert_uint_eq(r.bytes, UINT64_MAX);
	ck_assert_int_eq(r.waited_ns, INT64_MAX);
}
END_TEST

/* The slow-upload attack of issue 14: a byte every 20 s is out after the first 20 s. */
START_TEST(test_slow_upload_ends)
{
	struct rate	r;
	int64_t		t = 0, left;

	rate_init(&r, 20 * S, 500, 0);
	for (;;) {
		left = rate_left(&r);
		if (left < 20 * S) {
			t += left;
			break;
		}
		t += 20 * S;
		rate_add(&r, 1, 20 * S);
	}
	ck_assert_int_le(t, 20 * S + 2 * MS);
}
END_TEST

static Suite *
rate_suite(void)
{
	Suite	*s = suite_create("rate");
	TCase	*tc = tcase_create("core");

	tcase_add_loop_test(tc, test_left, 0, sizeof(table) / sizeof(table[0]));
	tcase_add_test(tc, test_adds_up);
	tcase_add_test(tc, test_slow_upload_ends);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(rate_suite)
