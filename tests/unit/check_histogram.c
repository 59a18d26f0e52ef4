/* check_histogram.c: unit tests of the fixed-bucket latency histograms. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "check_util.h"
#include "histogram.h"

#define INF	(HIST_NBUCKETS - 1)	/* index of the +Inf bucket */

/* The documented bounds: 0.5 ms to 10 s, microseconds. */
START_TEST(test_bounds)
{
	static const uint64_t want[HIST_NBUCKETS - 1] = {
		500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
		250000, 500000, 1000000, 2500000, 5000000, 10000000,
	};
	size_t	i;

	ck_assert_int_eq(HIST_NBUCKETS, 15);
	for (i = 0; i < HIST_NBUCKETS - 1; i++)
		ck_assert_uint_eq(histogram_bounds_us[i], want[i]);
}
END_TEST

/* Each value and the bucket it must land in: bounds are inclusive (le). */
static const struct {
	uint64_t	us;
	size_t		bucket;
} placements[] = {
	{ 0, 0 }, { 1, 0 }, { 500, 0 }, { 501, 1 }, { 1000, 1 }, { 1001, 2 },
	{ 2500, 2 }, { 2501, 3 }, { 5000, 3 }, { 10000, 4 }, { 10001, 5 },
	{ 25000, 5 }, { 50000, 6 }, { 99999, 7 }, { 100000, 7 }, { 250000, 8 },
	{ 250001, 9 }, { 500000, 9 }, { 1000000, 10 }, { 2500000, 11 },
	{ 5000000, 12 }, { 5000001, 13 }, { 10000000, 13 }, { 10000001, INF },
	{ 3600000000ULL, INF }, { UINT64_MAX / 2, INF },
};

START_TEST(test_placement)
{
	struct histogram	h;
	size_t			i;

	memset(&h, 0, sizeof(h));
	histogram_observe(&h, placements[_i].us);
	for (i = 0; i < HIST_NBUCKETS; i++)
		ck_assert_msg(counter_get(&h.bucket[i]) == (i == placements[_i].bucket),
		    "%llu us: bucket %zu holds %llu",
		    (unsigned long long)placements[_i].us, i,
		    (unsigned long long)counter_get(&h.bucket[i]));
	ck_assert_uint_eq(counter_get(&h.sum_us), placements[_i].us);
	ck_assert_uint_eq(histogram_count(&h), 1);
}
END_TEST

START_TEST(test_sum_count)
{
	struct histogram	h;
	uint64_t		sum = 0;
	size_t			i;

	memset(&h, 0, sizeof(h));
	ck_assert_uint_eq(histogram_count(&h), 0);
	for (i = 0; i < sizeof(placements) / sizeof(placements[0]) - 1; i++) {
		histogram_observe(&h, placements[i].us);
		sum += placements[i].us;
	}
	ck_assert_uint_eq(histogram_count(&h), i);
	ck_assert_uint_eq(counter_get(&h.sum_us), sum);
	/* Buckets are not cumulative: 3 at or under 500 us, 3 over 10 s. */
	ck_assert_uint_eq(counter_get(&h.bucket[0]), 3);
	ck_assert_uint_eq(counter_get(&h.bucket[1]), 2);
	ck_assert_uint_eq(counter_get(&h.bucket[INF]), 2);
}
END_TEST

START_TEST(test_add)
{
	struct histogram	a, b, before;
	int			i;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	for (i = 0; i < 3; i++)
		histogram_observe(&a, 700);
	histogram_observe(&a, 20000000);
	for (i = 0; i < 5; i++)
		histogram_observe(&b, 700);
	histogram_observe(&b, 100);
	memcpy(&before, &b, sizeof(b));

	histogram_add(&a, &b);
	ck_assert_uint_eq(counter_get(&a.bucket[0]), 1);
	ck_assert_uint_eq(counter_get(&a.bucket[1]), 8);
	ck_assert_uint_eq(counter_get(&a.bucket[INF]), 1);
	for (i = 2; i < INF; i++)
		ck_assert_uint_eq(counter_get(&a.bucket[i]), 0);
	ck_assert_uint_eq(histogram_count(&a), 10);
	ck_assert_uint_eq(counter_get(&a.sum_us), 8 * 700 + 20000000 + 100);
	/* The source is left alone. */
	ck_assert_int_eq(memcmp(&b, &before, sizeof(b)), 0);

	/* Adding an empty one changes nothing. */
	memset(&b, 0, sizeof(b));
	memcpy(&before, &a, sizeof(a));
	histogram_add(&a, &b);
	ck_assert_int_eq(memcmp(&a, &before, sizeof(a)), 0);
}
END_TEST

START_TEST(test_quantile)
{
	struct histogram	h;
	uint64_t		q;
	int			i;

	memset(&h, 0, sizeof(h));
	ck_assert_uint_eq(histogram_quantile(&h, 0.5), 0);	/* empty */

	/* 100 x 700 us, all in (500, 1000]: interpolated across that bucket. */
	for (i = 0; i < 100; i++)
		histogram_observe(&h, 700);
	q = histogram_quantile(&h, 0.5);
	ck_assert_uint_gt(q, 500);
	ck_assert_uint_le(q, 1000);
	ck_assert_uint_eq(q, 750);
	ck_assert_uint_eq(histogram_quantile(&h, 0.25), 625);
	ck_assert_uint_eq(histogram_quantile(&h, 1.0), 1000);

	/* Half fast (<= 500 us), half in (2.5 ms, 5 ms]. */
	memset(&h, 0, sizeof(h));
	for (i = 0; i < 50; i++) {
		histogram_observe(&h, 100);
		histogram_observe(&h, 3000);
	}
	ck_assert_uint_eq(histogram_quantile(&h, 0.25), 250);
	ck_assert_uint_eq(histogram_quantile(&h, 0.5), 500);
	ck_assert_uint_eq(histogram_quantile(&h, 0.75), 3750);
	ck_assert_uint_eq(histogram_quantile(&h, 1.0), 5000);

	/* Past the last bound nothing is known but the lower bound: 10 s. */
	memset(&h, 0, sizeof(h));
	for (i = 0; i < 10; i++)
		histogram_observe(&h, 60000000);
	ck_assert_uint_eq(histogram_quantile(&h, 0.5), 10000000);
	ck_assert_uint_eq(histogram_quantile(&h, 0.99), 10000000);
}
END_TEST

START_TEST(test_counter)
{
	_Atomic uint64_t	c = 0;

	counter_add(&c, 3);
	counter_add(&c, 0);
	counter_add(&c, 4);
	ck_assert_uint_eq(counter_get(&c), 7);
}
END_TEST

static Suite *
histogram_suite(void)
{
	Suite *s = suite_create("histogram");
	TCase *tc = tcase_create("histogram");

	tcase_add_test(tc, test_bounds);
	tcase_add_loop_test(tc, test_placement, 0,
	    sizeof(placements) / sizeof(placements[0]));
	tcase_add_test(tc, test_sum_count);
	tcase_add_test(tc, test_add);
	tcase_add_test(tc, test_quantile);
	tcase_add_test(tc, test_counter);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(histogram_suite)
