/* check_health.c: unit tests of the backend health state machine, on injected time. */
#include <check.h>
#include <stdint.h>
#include <string.h>

#include "check_util.h"
#include "health.h"

#define MS		1000000LL		/* ns */
#define T0		(1000 * MS)		/* an arbitrary monotonic start */
#define COOLDOWN	(20000 * MS)
#define LEASE		(2000 * MS)

static const struct health_params params3 = { 3, COOLDOWN, LEASE };

/* A fresh backend in plain memory, as the master leaves a new one. */
static void
fresh(struct shm_backend *b)
{
	memset(b, 0xa5, sizeof(*b));	/* reset must not depend on zeroed memory */
	health_reset(b);
}

static void
assert_healthy(struct shm_backend *b)
{
	ck_assert_uint_eq(atomic_load(&b->state), BACKEND_HEALTHY);
	ck_assert_int_eq(atomic_load(&b->cooldown_until), 0);
	ck_assert_int_eq(atomic_load(&b->probe_until), 0);
}

/* Fail it threshold times at now; the last failure must flip it. */
static void
make_unhealthy(struct shm_backend *b, int64_t now, const struct health_params *p)
{
	unsigned	i;

	for (i = 1; i < p->threshold; i++)
		ck_assert_int_eq(health_failure(b, now, p, 0), HEALTH_NO_CHANGE);
	ck_assert_int_eq(health_failure(b, now, p, 0), HEALTH_BECAME_UNHEALTHY);
}

START_TEST(test_threshold)
{
	struct shm_backend	b;
	int			i;

	fresh(&b);
	assert_healthy(&b);
	ck_assert_uint_eq(atomic_load(&b.failures), 0);

	/* threshold - 1 failures: still healthy, still used. */
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	ck_assert_int_eq(health_failure(&b, T0 + 1, &params3, 0), HEALTH_NO_CHANGE);
	ck_assert_uint_eq(atomic_load(&b.failures), 2);
	assert_healthy(&b);
	ck_assert_int_eq(health_acquire(&b, T0 + 2, &params3), 1);

	/* The threshold-th: unhealthy until its time + cooldown. */
	ck_assert_int_eq(health_failure(&b, T0 + 5, &params3, 0),
	    HEALTH_BECAME_UNHEALTHY);
	ck_assert_uint_eq(atomic_load(&b.state), BACKEND_UNHEALTHY);
	ck_assert_int_eq(atomic_load(&b.cooldown_until), T0 + 5 + COOLDOWN);
	ck_assert_int_eq(health_acquire(&b, T0 + 5, &params3), 0);

	/* Late failures (requests already in flight) change nothing. */
	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(health_failure(&b, T0 + 9, &params3, 0),
		    HEALTH_NO_CHANGE);
		ck_assert_uint_eq(atomic_load(&b.state), BACKEND_UNHEALTHY);
	}
	ck_assert_int_eq(atomic_load(&b.cooldown_until), T0 + 5 + COOLDOWN);
}
END_TEST

START_TEST(test_threshold_one)
{
	static const struct health_params p1 = { 1, COOLDOWN, LEASE };
	struct shm_backend	b;

	fresh(&b);
	ck_assert_int_eq(health_failure(&b, T0, &p1, 0), HEALTH_BECAME_UNHEALTHY);
	ck_assert_int_eq(health_acquire(&b, T0, &p1), 0);
}
END_TEST

/* 2 failures, 1 success, 2 failures: consecutive, so never 3. */
START_TEST(test_success_resets_count)
{
	struct shm_backend	b;

	fresh(&b);
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	ck_assert_int_eq(health_success(&b), HEALTH_NO_CHANGE);
	ck_assert_uint_eq(atomic_load(&b.failures), 0);
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	assert_healthy(&b);
	ck_assert_int_eq(health_acquire(&b, T0, &params3), 1);
	/* ...and the count really is 2: one more flips it. */
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_BECAME_UNHEALTHY);
}
END_TEST

/* In cooldown nobody gets it; when it ends exactly one caller probes. */
START_TEST(test_cooldown_single_probe)
{
	struct shm_backend	b;
	int64_t			end = T0 + COOLDOWN;

	fresh(&b);
	make_unhealthy(&b, T0, &params3);
	ck_assert_int_eq(health_acquire(&b, T0, &params3), 0);
	ck_assert_int_eq(health_acquire(&b, T0 + COOLDOWN / 2, &params3), 0);
	ck_assert_int_eq(health_acquire(&b, end - 1, &params3), 0);

	ck_assert_int_eq(health_acquire(&b, end, &params3), 1);
	ck_assert_int_eq(atomic_load(&b.probe_until), end + LEASE);
	/* Another caller at the same instant, and later within the lease. */
	ck_assert_int_eq(health_acquire(&b, end, &params3), 0);
	ck_assert_int_eq(health_acquire(&b, end + 1, &params3), 0);
	ck_assert_int_eq(health_acquire(&b, end + LEASE - 1, &params3), 0);
	/* Still unhealthy while the probe is out. */
	ck_assert_uint_eq(atomic_load(&b.state), BACKEND_UNHEALTHY);
}
END_TEST

/* A cooldown that ended long ago still hands out one probe, not a flood. */
START_TEST(test_probe_after_cooldown)
{
	struct shm_backend	b;
	int64_t			late = T0 + 10 * COOLDOWN;
	int			i, got = 0;

	fresh(&b);
	make_unhealthy(&b, T0, &params3);
	for (i = 0; i < 100; i++)
		got += health_acquire(&b, late, &params3);
	ck_assert_int_eq(got, 1);
}
END_TEST

START_TEST(test_probe_success)
{
	struct shm_backend	b;
	int64_t			end = T0 + COOLDOWN;
	int			i;

	fresh(&b);
	make_unhealthy(&b, T0, &params3);
	ck_assert_int_eq(health_acquire(&b, end, &params3), 1);
	ck_assert_int_eq(health_success(&b), HEALTH_BECAME_HEALTHY);
	assert_healthy(&b);
	ck_assert_uint_eq(atomic_load(&b.failures), 0);
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(health_acquire(&b, end, &params3), 1);
	/* Reported once: the next success changes nothing. */
	ck_assert_int_eq(health_success(&b), HEALTH_NO_CHANGE);
	/* And it takes a full threshold again to fall. */
	make_unhealthy(&b, end + 1, &params3);
}
END_TEST

START_TEST(test_probe_failure)
{
	struct shm_backend	b;
	int64_t			end = T0 + COOLDOWN, t1 = end + 7 * MS;

	fresh(&b);
	make_unhealthy(&b, T0, &params3);
	ck_assert_int_eq(health_acquire(&b, end, &params3), 1);
	ck_assert_int_eq(health_failure(&b, t1, &params3, 1), HEALTH_PROBE_FAILED);
	ck_assert_uint_eq(atomic_load(&b.state), BACKEND_UNHEALTHY);
	/* A new cooldown from the failure's time, not the old deadline. */
	ck_assert_int_eq(atomic_load(&b.cooldown_until), t1 + COOLDOWN);
	ck_assert_int_eq(health_acquire(&b, t1, &params3), 0);
	ck_assert_int_eq(health_acquire(&b, t1 + COOLDOWN - 1, &params3), 0);
	/* Then once more exactly one probe. */
	ck_assert_int_eq(health_acquire(&b, t1 + COOLDOWN, &params3), 1);
	ck_assert_int_eq(health_acquire(&b, t1 + COOLDOWN, &params3), 0);
	ck_assert_int_eq(health_success(&b), HEALTH_BECAME_HEALTHY);
	assert_healthy(&b);
}
END_TEST

/* A prober that died without reporting must not keep the backend out forever. */
START_TEST(test_probe_lease_expires)
{
	struct shm_backend	b;
	int64_t			end = T0 + COOLDOWN;

	fresh(&b);
	make_unhealthy(&b, T0, &params3);
	ck_assert_int_eq(health_acquire(&b, end, &params3), 1);	/* then dies */
	ck_assert_int_eq(health_acquire(&b, end + LEASE - 1, &params3), 0);
	ck_assert_int_eq(health_acquire(&b, end + LEASE, &params3), 1);
	ck_assert_int_eq(atomic_load(&b.probe_until), end + 2 * LEASE);
	ck_assert_int_eq(health_acquire(&b, end + LEASE, &params3), 0);
	ck_assert_int_eq(health_acquire(&b, end + 2 * LEASE - 1, &params3), 0);
	/* The second prober reports: healthy for everyone. */
	ck_assert_int_eq(health_success(&b), HEALTH_BECAME_HEALTHY);
	ck_assert_int_eq(health_acquire(&b, end + LEASE, &params3), 1);
	ck_assert_int_eq(health_acquire(&b, end + LEASE, &params3), 1);
}
END_TEST

START_TEST(test_reset)
{
	struct shm_backend	b;
	int64_t			end = T0 + COOLDOWN;

	fresh(&b);
	make_unhealthy(&b, T0, &params3);
	ck_assert_int_eq(health_acquire(&b, end, &params3), 1);	/* probe out */
	health_reset(&b);
	assert_healthy(&b);
	ck_assert_uint_eq(atomic_load(&b.failures), 0);
	ck_assert_int_eq(health_acquire(&b, T0, &params3), 1);
	ck_assert_int_eq(health_acquire(&b, T0, &params3), 1);
	/* The count restarted too. */
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_BECAME_UNHEALTHY);

	/* From half-way to the threshold as well. */
	health_reset(&b);
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	health_reset(&b);
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	ck_assert_int_eq(health_failure(&b, T0, &params3, 0), HEALTH_NO_CHANGE);
	assert_healthy(&b);
}
END_TEST

static Suite *
health_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("health");

	tcase_add_test(tc, test_threshold);
	tcase_add_test(tc, test_threshold_one);
	tcase_add_test(tc, test_success_resets_count);
	tcase_add_test(tc, test_cooldown_single_probe);
	tcase_add_test(tc, test_probe_after_cooldown);
	tcase_add_test(tc, test_probe_success);
	tcase_add_test(tc, test_probe_failure);
	tcase_add_test(tc, test_probe_lease_expires);
	tcase_add_test(tc, test_reset);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(health_suite)
