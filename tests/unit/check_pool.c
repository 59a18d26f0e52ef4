/* check_pool.c: unit tests of the adaptive pool's sizing decision over scoreboard views. */
#include <check.h>
#include <string.h>

#include "check_util.h"
#include "pool.h"

#define SEC	1000000000LL

/* The defaults of rproxyd.conf(5). */
static const struct pool_limits	defaults = { 16, 512, 8, 16, 10 * SEC };

static struct pool_view
view(unsigned workers, unsigned idle, unsigned waiting)
{
	struct pool_view	v;

	memset(&v, 0, sizeof(v));
	v.workers = workers;
	v.idle = idle;
	v.waiting = waiting;
	return v;
}

static struct pool_step
decide(const struct pool_limits *l, struct pool_state *s, struct pool_view v, int64_t now)
{
	struct pool_step	step;

	pool_decide(l, s, &v, now, &step);
	ck_assert_uint_eq(step.target, v.workers + step.spawn - step.retire);
	ck_assert(step.spawn == 0 || step.retire == 0);
	return step;
}

/* Fewer idle than min_spare: start the difference, no more. */
START_TEST(test_grow_to_min_spare)
{
	struct pool_state	s;

	pool_state_init(&s);
	ck_assert_uint_eq(decide(&defaults, &s, view(20, 2, 0), SEC).spawn, 6);
	ck_assert_uint_eq(decide(&defaults, &s, view(26, 8, 0), 2 * SEC).spawn, 0);
}
END_TEST

/* Waiting connections count as demand beyond the idle workers. */
START_TEST(test_grow_for_waiting)
{
	struct pool_state	s;

	pool_state_init(&s);
	/* 10 idle take 10 of the 14 waiting: 4 more, plus 8 spares. */
	ck_assert_uint_eq(decide(&defaults, &s, view(30, 10, 14), SEC).spawn, 12);
}
END_TEST

/* A rise starts POOL_SPAWN_FIRST, doubles each tick the need outruns it, up to POOL_SPAWN_MAX. */
START_TEST(test_ramp_doubles)
{
	struct pool_limits	l = defaults;
	struct pool_state	s;
	unsigned		rates[6], i, workers = 16;

	l.max = 1024;
	pool_state_init(&s);
	for (i = 0; i < 6; i++) {
		rates[i] = decide(&l, &s, view(workers, 0, 2000), i * SEC).spawn;
		workers += rates[i];
	}
	ck_assert_uint_eq(rates[0], POOL_SPAWN_FIRST);
	ck_assert_uint_eq(rates[1], POOL_SPAWN_FIRST * 2);
	ck_assert_uint_eq(rates[2], POOL_SPAWN_FIRST * 4);
	ck_assert_uint_eq(rates[3], POOL_SPAWN_MAX);
	/* 976 then: only room to 1024 is left. */
	ck_assert_uint_eq(rates[4], 48);
	ck_assert_uint_eq(rates[5], 0);
	/* The need gone, the next rise starts small again. */
	decide(&defaults, &s, view(512, 20, 0), 6 * SEC);
	ck_assert_uint_eq(decide(&defaults, &s, view(100, 0, 1000), 7 * SEC).spawn,
	    POOL_SPAWN_FIRST);
}
END_TEST

/*
 * 500 clients each with a request always in flight against a slow backend:
 * the pool serves all of them at once within 4 ticks (issue: 10 s).
 */
START_TEST(test_ramp_500_clients)
{
	struct pool_state	s;
	unsigned		workers = defaults.min, busy, tick;

	pool_state_init(&s);
	for (tick = 0; tick < 30 && workers < 500 + defaults.min_spare; tick++) {
		busy = workers < 500 ? workers : 500;
		workers = decide(&defaults, &s, view(workers, workers - busy, 500 - busy),
		    tick * SEC).target;
	}
	ck_assert_uint_le(tick, 4);
	ck_assert_uint_le(workers, defaults.max);
}
END_TEST

/* The ceiling holds whatever waits. */
START_TEST(test_never_above_max)
{
	struct pool_state	s;

	pool_state_init(&s);
	ck_assert_uint_eq(decide(&defaults, &s, view(510, 0, 300), SEC).spawn, 2);
	ck_assert_uint_eq(decide(&defaults, &s, view(512, 0, 300), 2 * SEC).spawn, 0);
	ck_assert_uint_eq(decide(&defaults, &s, view(512, 0, 300), 3 * SEC).retire, 0);
}
END_TEST

/* Below the minimum (the first fill, deaths): back to it at once, past the ramp. */
START_TEST(test_floor_at_once)
{
	struct pool_limits	l = defaults;
	struct pool_state	s;

	l.min = 100;
	pool_state_init(&s);
	ck_assert_uint_eq(decide(&l, &s, view(0, 0, 0), SEC).spawn, 100);
	ck_assert_uint_eq(decide(&l, &s, view(97, 97, 0), 2 * SEC).spawn, 3);
}
END_TEST

/* Extra idle workers retire only after idle_ns, by at most POOL_RETIRE_MAX a tick. */
START_TEST(test_shrink_after_idle_time)
{
	struct pool_state	s;

	pool_state_init(&s);
	ck_assert_uint_eq(decide(&defaults, &s, view(200, 150, 0), 1 * SEC).retire, 0);
	ck_assert_uint_eq(decide(&defaults, &s, view(200, 150, 0), 5 * SEC).retire, 0);
	ck_assert_uint_eq(decide(&defaults, &s, view(200, 150, 0), 11 * SEC).retire,
	    POOL_RETIRE_MAX);
	/* Down to max_spare idle. */
	ck_assert_uint_eq(decide(&defaults, &s, view(70, 20, 0), 12 * SEC).retire, 4);
}
END_TEST

/* The timer restarts whenever the excess goes, or a connection waits. */
START_TEST(test_shrink_timer_resets)
{
	struct pool_state	s;

	pool_state_init(&s);
	decide(&defaults, &s, view(200, 150, 0), 1 * SEC);
	decide(&defaults, &s, view(200, 10, 0), 6 * SEC);
	ck_assert_uint_eq(decide(&defaults, &s, view(200, 150, 0), 12 * SEC).retire, 0);
	decide(&defaults, &s, view(200, 150, 1), 20 * SEC);
	ck_assert_uint_eq(decide(&defaults, &s, view(200, 150, 0), 25 * SEC).retire, 0);
	ck_assert_uint_eq(decide(&defaults, &s, view(200, 150, 0), 35 * SEC).retire,
	    POOL_RETIRE_MAX);
}
END_TEST

/* Never below the minimum, even with more than max_spare idle. */
START_TEST(test_never_below_min)
{
	struct pool_limits	l = defaults;
	struct pool_state	s;

	l.max_spare = 2;
	pool_state_init(&s);
	decide(&l, &s, view(20, 20, 0), SEC);
	ck_assert_uint_eq(decide(&l, &s, view(20, 20, 0), 20 * SEC).retire, 4);
	ck_assert_uint_eq(decide(&l, &s, view(16, 16, 0), 21 * SEC).retire, 0);
}
END_TEST

/* Issue 13: from the ceiling, all idle, the pool is back at its minimum within 60 s. */
START_TEST(test_shrink_to_min_within_60s)
{
	struct pool_state	s;
	unsigned		workers = defaults.max, tick;

	pool_state_init(&s);
	for (tick = 0; tick <= 60 && workers > defaults.min; tick++)
		workers = decide(&defaults, &s, view(workers, workers, 0),
		    (tick + 1) * SEC).target;
	ck_assert_uint_eq(workers, defaults.min);
	ck_assert_uint_le(tick, 60);
}
END_TEST

/* A fixed pool never moves: min = max = workers. */
START_TEST(test_fixed)
{
	struct rp_config	conf;
	struct pool_limits	l;
	struct pool_state	s;

	memset(&conf, 0, sizeof(conf));
	conf.workers = 4;
	conf.min_workers = 1;
	conf.max_workers = 100;
	ck_assert(!pool_adaptive(&conf));
	pool_limits_from(&l, &conf);
	ck_assert_uint_eq(l.min, 4);
	ck_assert_uint_eq(l.max, 4);
	pool_state_init(&s);
	ck_assert_uint_eq(decide(&l, &s, view(4, 0, 50), SEC).target, 4);
	ck_assert_uint_eq(decide(&l, &s, view(4, 4, 0), 100 * SEC).target, 4);
	ck_assert_uint_eq(decide(&l, &s, view(4, 4, 0), 200 * SEC).target, 4);
	conf.workers = 0;
	ck_assert(pool_adaptive(&conf));
	pool_limits_from(&l, &conf);
	ck_assert_uint_eq(l.min, 1);
	ck_assert_uint_eq(l.max, 100);
}
END_TEST

/* A reload's new generation: the old one's busy workers, what waits, the spares. */
START_TEST(test_reload_size)
{
	ck_assert_uint_eq(pool_reload_size(&defaults, 100, 5), 113);
	ck_assert_uint_eq(pool_reload_size(&defaults, 0, 0), 16);
	ck_assert_uint_eq(pool_reload_size(&defaults, 600, 40), 512);
}
END_TEST

static Suite *
pool_suite(void)
{
	Suite	*s = suite_create("pool");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_grow_to_min_spare);
	tcase_add_test(tc, test_grow_for_waiting);
	tcase_add_test(tc, test_ramp_doubles);
	tcase_add_test(tc, test_ramp_500_clients);
	tcase_add_test(tc, test_never_above_max);
	tcase_add_test(tc, test_floor_at_once);
	tcase_add_test(tc, test_shrink_after_idle_time);
	tcase_add_test(tc, test_shrink_timer_resets);
	tcase_add_test(tc, test_never_below_min);
	tcase_add_test(tc, test_shrink_to_min_within_60s);
	tcase_add_test(tc, test_fixed);
	tcase_add_test(tc, test_reload_size);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(pool_suite)
