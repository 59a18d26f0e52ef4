/* check_lb.c: unit tests of smooth weighted round-robin over the shared cursor. */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "config.h"
#include "health.h"
#include "lb.h"

#define MS	1000000LL	/* ns */
#define T0	(5000 * MS)	/* an arbitrary monotonic start */

/* The shared memory a worker would see: the backend table and the cursor. */
static struct shm_backend	 backends[RP_MAX_BACKENDS];
static struct shm_backend	*table[RP_MAX_BACKENDS];
static _Atomic uint64_t		 cursor;
static struct rp_config		 conf;

static void
setup(void)
{
	size_t	i;

	for (i = 0; i < RP_MAX_BACKENDS; i++) {
		memset(&backends[i], 0, sizeof(backends[i]));
		health_reset(&backends[i]);
		table[i] = &backends[i];
	}
	atomic_store(&cursor, 0);
}

/* The defaults, with n backends named a, b, c... of the given weights. */
static const struct rp_config *
conf_weights(size_t n, const unsigned *weights)
{
	size_t	i;

	config_defaults(&conf);
	for (i = 0; i < n; i++) {
		conf.backends[i] = conf.backends[0];
		snprintf(conf.backends[i].name, sizeof(conf.backends[i].name),
		    "%c", (char)('a' + i));
		conf.backends[i].addr.port = (uint16_t)(9001 + i);
		conf.backends[i].weight = weights[i];
	}
	conf.nbackends = n;
	return &conf;
}

static const unsigned	ones[] = { 1, 1, 1, 1 };

/* Pick with nothing tried; the pick must be a healthy one. */
static int
pick_healthy(struct lb *lb, int64_t now)
{
	enum lb_pick	how = (enum lb_pick)-1;
	int		i;

	i = lb_next(lb, 0, now, &how);
	ck_assert_int_eq(how, LB_PICK_HEALTHY);
	return i;
}

/* Mark backend i unhealthy at time t through the real state machine. */
static void
knock_out(struct lb *lb, int i, int64_t t)
{
	unsigned	k;

	for (k = 0; k < lb->health.threshold; k++)
		(void)health_failure(&backends[i], t, &lb->health, 0);
	ck_assert_uint_eq(atomic_load(&backends[i].state), BACKEND_UNHEALTHY);
}

START_TEST(test_init_from_config)
{
	struct lb	lb;

	lb_init(&lb, conf_weights(2, ones), table, &cursor);
	ck_assert_uint_eq(lb.nbackends, 2);
	ck_assert_uint_eq(lb.seqlen, 2);
	ck_assert_ptr_eq(lb.table[0], &backends[0]);
	ck_assert_ptr_eq(lb.table[1], &backends[1]);
	ck_assert_ptr_eq(lb.cursor, &cursor);
	/* Health parameters come from the configuration's defaults. */
	ck_assert_uint_eq(lb.health.threshold, 3);
	ck_assert_int_eq(lb.health.cooldown_ns, 20000 * MS);
	ck_assert_int_eq(lb.health.probe_lease_ns, (500 + 1500) * MS);
}
END_TEST

START_TEST(test_equal_weights_alternate)
{
	struct lb	lb;
	int		i;

	lb_init(&lb, conf_weights(2, ones), table, &cursor);
	for (i = 0; i < 20; i++)
		ck_assert_int_eq(pick_healthy(&lb, T0), i % 2);
	ck_assert_uint_eq(atomic_load(&cursor), 20);
}
END_TEST

START_TEST(test_three_cycle)
{
	struct lb	lb;
	int		i;

	lb_init(&lb, conf_weights(3, ones), table, &cursor);
	ck_assert_uint_eq(lb.seqlen, 3);
	for (i = 0; i < 30; i++)
		ck_assert_int_eq(pick_healthy(&lb, T0), i % 3);
}
END_TEST

/* nginx's smooth weighted round-robin: {5,1,1} is a a b a c a a. */
START_TEST(test_smooth_weighted)
{
	static const unsigned	w[] = { 5, 1, 1 };
	static const char	want[] = "aabacaa";
	struct lb		lb;
	int			i;

	lb_init(&lb, conf_weights(3, w), table, &cursor);
	ck_assert_uint_eq(lb.seqlen, 7);
	for (i = 0; i < 21; i++)
		ck_assert_int_eq(pick_healthy(&lb, T0), want[i % 7] - 'a');
}
END_TEST

/* Other weights: each cycle gives every backend exactly its weight, spread out. */
START_TEST(test_weight_shares)
{
	static const unsigned	w[] = { 3, 1 };
	static const unsigned	w2[] = { 100, 1, 50 };
	struct lb		lb;
	unsigned		n[3] = { 0 };
	int			i, p;

	/* {3,1}: a a b a (nginx: a gets 3, then 2-1, never a run of 3). */
	lb_init(&lb, conf_weights(2, w), table, &cursor);
	ck_assert_uint_eq(lb.seqlen, 4);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(pick_healthy(&lb, T0), "aaba"[i % 4] - 'a');

	setup();
	lb_init(&lb, conf_weights(3, w2), table, &cursor);
	ck_assert_uint_eq(lb.seqlen, 151);
	for (i = 0; i < 151; i++) {
		p = pick_healthy(&lb, T0);
		ck_assert_int_ge(p, 0);
		ck_assert_int_le(p, 2);
		n[p]++;
	}
	ck_assert_uint_eq(n[0], 100);
	ck_assert_uint_eq(n[1], 1);
	ck_assert_uint_eq(n[2], 50);
}
END_TEST

/* Two workers' lb on one cursor: the daemon as a whole alternates. */
START_TEST(test_shared_cursor)
{
	static const int	order[] = { 0, 0, 1, 0, 1, 1, 1, 0, 0, 1 };
	struct lb		lb[2];
	size_t			i;

	lb_init(&lb[0], conf_weights(2, ones), table, &cursor);
	lb_init(&lb[1], &conf, table, &cursor);
	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		ck_assert_int_eq(pick_healthy(&lb[order[i]], T0), (int)(i % 2));
	ck_assert_uint_eq(atomic_load(&cursor), sizeof(order) / sizeof(order[0]));
}
END_TEST

/* The cursor keeps counting from wherever it is, wrapping included. */
START_TEST(test_cursor_position)
{
	struct lb	lb;

	lb_init(&lb, conf_weights(3, ones), table, &cursor);
	atomic_store(&cursor, 4);
	ck_assert_int_eq(pick_healthy(&lb, T0), 1);
	ck_assert_int_eq(pick_healthy(&lb, T0), 2);
	ck_assert_int_eq(pick_healthy(&lb, T0), 0);
	/* 2^64 - 1 is a multiple of 3: the sequence restarts at 0 either side of the wrap. */
	atomic_store(&cursor, UINT64_MAX);
	ck_assert_int_eq(pick_healthy(&lb, T0), 0);
	ck_assert_uint_eq(atomic_load(&cursor), 0);
	ck_assert_int_eq(pick_healthy(&lb, T0), 0);
	ck_assert_int_eq(pick_healthy(&lb, T0), 1);
}
END_TEST

START_TEST(test_tried_excluded)
{
	static const int	want[] = { 0, 2, 2, 0, 2, 2 };
	struct lb		lb;
	enum lb_pick		how;
	size_t			i;

	lb_init(&lb, conf_weights(2, ones), table, &cursor);
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(lb_next(&lb, 1u << 0, T0, &how), 1);
		ck_assert_int_eq(how, LB_PICK_HEALTHY);
	}

	/* Three backends, 1 tried: its turn goes to the next in the sequence. */
	setup();
	lb_init(&lb, conf_weights(3, ones), table, &cursor);
	for (i = 0; i < 6; i++) {
		ck_assert_int_eq(lb_next(&lb, 1u << 1, T0, &how), want[i]);
		ck_assert_int_eq(how, LB_PICK_HEALTHY);
	}
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(lb_next(&lb, (1u << 0) | (1u << 2), T0, &how), 1);
}
END_TEST

START_TEST(test_all_tried)
{
	struct lb	lb;
	enum lb_pick	how;

	lb_init(&lb, conf_weights(3, ones), table, &cursor);
	ck_assert_int_eq(lb_next(&lb, 0x7, T0, &how), -1);
	ck_assert_int_eq(lb_next(&lb, UINT64_MAX, T0, &how), -1);
	/* Also when what is left untried is all in cooldown. */
	knock_out(&lb, 0, T0);
	knock_out(&lb, 1, T0);
	ck_assert_int_eq(lb_next(&lb, 0x7, T0 + 1, &how), -1);
	ck_assert_int_eq(lb_next(&lb, 0x4, T0 + 1, &how), 0);
	ck_assert_int_eq(how, LB_PICK_FALLBACK);
}
END_TEST

START_TEST(test_cooldown_skipped)
{
	static const int	want[] = { 0, 2, 2 };
	struct lb		lb;
	int			i;

	lb_init(&lb, conf_weights(3, ones), table, &cursor);
	knock_out(&lb, 1, T0);
	for (i = 0; i < 12; i++)
		ck_assert_int_ne(pick_healthy(&lb, T0 + i * MS), 1);
	/* Its turns go to the next one: 0 2 2 0 2 2 ... */
	setup();
	lb_init(&lb, &conf, table, &cursor);
	knock_out(&lb, 1, T0);
	for (i = 0; i < 12; i++)
		ck_assert_int_eq(pick_healthy(&lb, T0 + 1), want[i % 3]);
}
END_TEST

/* Every backend in cooldown: try the one back soonest rather than refuse. */
START_TEST(test_fallback_soonest)
{
	struct lb	lb;
	enum lb_pick	how;
	int		i;

	lb_init(&lb, conf_weights(3, ones), table, &cursor);
	knock_out(&lb, 0, T0 + 300 * MS);
	knock_out(&lb, 1, T0 + 100 * MS);
	knock_out(&lb, 2, T0 + 200 * MS);
	for (i = 0; i < 5; i++) {
		how = LB_PICK_HEALTHY;
		ck_assert_int_eq(lb_next(&lb, 0, T0 + 400 * MS, &how), 1);
		ck_assert_int_eq(how, LB_PICK_FALLBACK);
	}
	ck_assert_int_eq(lb_next(&lb, 1u << 1, T0 + 400 * MS, &how), 2);
	ck_assert_int_eq(how, LB_PICK_FALLBACK);
	ck_assert_int_eq(lb_next(&lb, (1u << 1) | (1u << 2), T0 + 400 * MS, &how), 0);
	ck_assert_int_eq(how, LB_PICK_FALLBACK);
	/* A fallback pick does not take the probe lease. */
	ck_assert_int_eq(atomic_load(&backends[1].probe_until), 0);
}
END_TEST

/* When the cooldown ends, one pick is the probe; the rest go elsewhere. */
START_TEST(test_probe_once)
{
	struct lb	lb;
	enum lb_pick	how;
	int64_t		end;
	int		i, p, probes = 0;

	lb_init(&lb, conf_weights(2, ones), table, &cursor);
	knock_out(&lb, 1, T0);
	end = T0 + lb.health.cooldown_ns;
	ck_assert_int_eq(pick_healthy(&lb, end - 1), 0);
	ck_assert_int_eq(pick_healthy(&lb, end - 1), 0);
	for (i = 0; i < 10; i++) {
		p = lb_next(&lb, 0, end, &how);
		if (p == 1) {
			ck_assert_int_eq(how, LB_PICK_PROBE);
			probes++;
		} else {
			ck_assert_int_eq(p, 0);
			ck_assert_int_eq(how, LB_PICK_HEALTHY);
		}
	}
	ck_assert_int_eq(probes, 1);

	/* The probe succeeds: alternation again. */
	ck_assert_int_eq(health_success(&backends[1]), HEALTH_BECAME_HEALTHY);
	atomic_store(&cursor, 0);
	for (i = 0; i < 6; i++)
		ck_assert_int_eq(pick_healthy(&lb, end), i % 2);
}
END_TEST

/* Only one backend, in cooldown then probed: fallback, probe, then fallback. */
START_TEST(test_single_backend)
{
	struct lb	lb;
	enum lb_pick	how;
	int64_t		end;

	lb_init(&lb, conf_weights(1, ones), table, &cursor);
	ck_assert_int_eq(pick_healthy(&lb, T0), 0);
	knock_out(&lb, 0, T0);
	end = T0 + lb.health.cooldown_ns;
	ck_assert_int_eq(lb_next(&lb, 0, T0 + 1, &how), 0);
	ck_assert_int_eq(how, LB_PICK_FALLBACK);
	ck_assert_int_eq(lb_next(&lb, 0, end, &how), 0);
	ck_assert_int_eq(how, LB_PICK_PROBE);
	ck_assert_int_eq(lb_next(&lb, 0, end, &how), 0);
	ck_assert_int_eq(how, LB_PICK_FALLBACK);
	ck_assert_int_eq(lb_next(&lb, 1, end, &how), -1);
}
END_TEST

static Suite *
lb_suite(void)
{
	Suite *s = suite_create("lb");
	TCase *tc = tcase_create("lb");

	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_init_from_config);
	tcase_add_test(tc, test_equal_weights_alternate);
	tcase_add_test(tc, test_three_cycle);
	tcase_add_test(tc, test_smooth_weighted);
	tcase_add_test(tc, test_weight_shares);
	tcase_add_test(tc, test_shared_cursor);
	tcase_add_test(tc, test_cursor_position);
	tcase_add_test(tc, test_tried_excluded);
	tcase_add_test(tc, test_all_tried);
	tcase_add_test(tc, test_cooldown_skipped);
	tcase_add_test(tc, test_fallback_soonest);
	tcase_add_test(tc, test_probe_once);
	tcase_add_test(tc, test_single_backend);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(lb_suite)
