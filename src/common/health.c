/* health.c: a backend's health state machine, kept in shared memory with atomics. */
#include "health.h"

int
health_acquire(struct shm_backend *b, int64_t now, const struct health_params *p)
{
	int64_t	lease;

	if (atomic_load(&b->state) == BACKEND_HEALTHY)
		return 1;
	if (now < atomic_load(&b->cooldown_until))
		return 0;
	lease = atomic_load(&b->probe_until);
	if (lease > now)
		return 0;	/* another request is probing it */
	return atomic_compare_exchange_strong(&b->probe_until, &lease,
	    now + p->probe_lease_ns);
}

enum health_change
health_success(struct shm_backend *b)
{
	uint32_t	state = BACKEND_UNHEALTHY;

	if (atomic_load_explicit(&b->failures, memory_order_relaxed) != 0)
		atomic_store(&b->failures, 0);
	if (atomic_load(&b->state) == BACKEND_HEALTHY)
		return HEALTH_NO_CHANGE;
	if (!atomic_compare_exchange_strong(&b->state, &state, BACKEND_HEALTHY))
		return HEALTH_NO_CHANGE;
	atomic_store(&b->cooldown_until, 0);
	atomic_store(&b->probe_until, 0);
	return HEALTH_BECAME_HEALTHY;
}

enum health_change
health_failure(struct shm_backend *b, int64_t now, const struct health_params *p,
    int probing)
{
	uint32_t	state = BACKEND_HEALTHY, n;

	n = atomic_fetch_add(&b->failures, 1) + 1;
	if (atomic_load(&b->state) != BACKEND_HEALTHY) {
		/* Requests sent before it fell say nothing new. */
		if (!probing)
			return HEALTH_NO_CHANGE;
		/* A failed probe (or a forced try) starts a new cooldown. */
		atomic_store(&b->cooldown_until, now + p->cooldown_ns);
		atomic_store(&b->probe_until, 0);
		return HEALTH_PROBE_FAILED;
	}
	if (n < p->threshold)
		return HEALTH_NO_CHANGE;
	/* Deadline first, so nobody sees "unhealthy" with an old deadline. */
	atomic_store(&b->cooldown_until, now + p->cooldown_ns);
	atomic_store(&b->probe_until, 0);
	if (!atomic_compare_exchange_strong(&b->state, &state, BACKEND_UNHEALTHY))
		return HEALTH_NO_CHANGE;
	return HEALTH_BECAME_UNHEALTHY;
}

void
health_reset(struct shm_backend *b)
{
	atomic_store(&b->failures, 0);
	atomic_store(&b->cooldown_until, 0);
	atomic_store(&b->probe_until, 0);
	atomic_store(&b->state, BACKEND_HEALTHY);
}
