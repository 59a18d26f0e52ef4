/* health.h: a backend's health state machine, kept in shared memory with atomics. */
#ifndef RP_HEALTH_H
#define RP_HEALTH_H

#include <stdint.h>

#include "shm.h"

struct health_params {
	unsigned	threshold;	/* consecutive failures that mark it unhealthy */
	int64_t		cooldown_ns;	/* how long it is then skipped */
	int64_t		probe_lease_ns;	/* how long one half-open probe owns it */
};

/* What an outcome changed; the caller logs and counts it (once: only one caller sees it). */
enum health_change {
	HEALTH_NO_CHANGE = 0,
	HEALTH_BECAME_UNHEALTHY,	/* threshold reached */
	HEALTH_BECAME_HEALTHY,		/* a success while unhealthy */
	HEALTH_PROBE_FAILED,		/* still unhealthy: a new cooldown starts */
};

/*
 * May a request use backend b at time now? Healthy: yes. In cooldown: no.
 * Cooldown over: yes for exactly one caller, which owns the half-open probe
 * until it reports an outcome or its lease runs out (a worker that dies while
 * probing cannot leave the backend stuck).
 */
int	health_acquire(struct shm_backend *b, int64_t now, const struct health_params *p);

enum health_change health_success(struct shm_backend *b);
/* probing: the request was the half-open probe (or an all-down fallback try). */
enum health_change health_failure(struct shm_backend *b, int64_t now,
	    const struct health_params *p, int probing);

/* Mark healthy with no failures (a backend new in the configuration). */
void	health_reset(struct shm_backend *b);

#endif
