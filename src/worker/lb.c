/* lb.c: smooth weighted round-robin over the backends, through the shared cursor. */
#include <stdint.h>
#include <string.h>

#include "lb.h"

/* nginx's smooth weighted round-robin, run once over a whole cycle. */
static void
lb_build_sequence(struct lb *lb, const struct rp_config *conf)
{
	int64_t	current[RP_MAX_BACKENDS] = { 0 };
	int64_t	total = 0;
	size_t	i, n, best;

	for (i = 0; i < conf->nbackends; i++)
		total += conf->backends[i].weight;
	for (n = 0; n < (size_t)total && n < LB_SEQ_MAX; n++) {
		best = 0;
		for (i = 0; i < conf->nbackends; i++) {
			current[i] += conf->backends[i].weight;
			if (current[i] > current[best])
				best = i;
		}
		current[best] -= total;
		lb->seq[n] = (uint8_t)best;
	}
	lb->seqlen = n;
}

void
lb_init(struct lb *lb, const struct rp_config *conf, struct shm_backend **table,
    _Atomic uint64_t *cursor)
{
	memset(lb, 0, sizeof(*lb));
	lb->nbackends = conf->nbackends;
	memcpy(lb->table, table, conf->nbackends * sizeof(*table));
	lb->cursor = cursor;
	lb->health.threshold = conf->failure_threshold;
	lb->health.cooldown_ns = (int64_t)conf->health_cooldown_ms * 1000000;
	lb->health.probe_lease_ns = (int64_t)(conf->connect_timeout_ms +
	    conf->request_timeout_ms) * 1000000;
	lb_build_sequence(lb, conf);
}

int
lb_next(struct lb *lb, uint64_t tried, int64_t now, enum lb_pick *how)
{
	uint64_t	pos;
	int64_t		until, soonest = INT64_MAX;
	size_t		k, i;
	int		pick = -1;

	if (lb->seqlen == 0)
		return -1;
	pos = atomic_fetch_add_explicit(lb->cursor, 1, memory_order_relaxed);
	for (k = 0; k < lb->seqlen; k++) {
		i = lb->seq[(pos + k) % lb->seqlen];
		if (tried & (UINT64_C(1) << i))
			continue;
		if (health_acquire(lb->table[i], now, &lb->health)) {
			*how = atomic_load(&lb->table[i]->state) == BACKEND_HEALTHY ?
			    LB_PICK_HEALTHY : LB_PICK_PROBE;
			return (int)i;
		}
	}
	/* Every untried backend is in cooldown: try the one back soonest. */
	for (i = 0; i < lb->nbackends; i++) {
		if (tried & (UINT64_C(1) << i))
			continue;
		until = atomic_load(&lb->table[i]->cooldown_until);
		if (until < soonest) {
			soonest = until;
			pick = (int)i;
		}
	}
	*how = LB_PICK_FALLBACK;
	return pick;
}
