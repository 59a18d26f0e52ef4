/* lb.h: smooth weighted round-robin over the backends, through the shared cursor. */
#ifndef RP_LB_H
#define RP_LB_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "health.h"
#include "shm.h"

#define LB_SEQ_MAX	(RP_MAX_BACKENDS * RP_WEIGHT_MAX)

/*
 * The smooth weighted round-robin order (nginx's algorithm) is computed once
 * per configuration; every worker has the same sequence, and one shared
 * cursor indexes it, so the whole daemon alternates and no lock is needed.
 */
struct lb {
	uint8_t			 seq[LB_SEQ_MAX];	/* backend indexes */
	size_t			 seqlen;
	size_t			 nbackends;
	struct shm_backend	*table[RP_MAX_BACKENDS];	/* by config index */
	_Atomic uint64_t	*cursor;
	struct health_params	 health;
};

/* How a pick was made, for the caller's log line. */
enum lb_pick {
	LB_PICK_HEALTHY = 0,
	LB_PICK_PROBE,		/* cooldown over: this request is the half-open probe */
	LB_PICK_FALLBACK,	/* every untried backend in cooldown: soonest first */
};

void	lb_init(struct lb *lb, const struct rp_config *conf, struct shm_backend **table,
	    _Atomic uint64_t *cursor);

/*
 * The next backend not in tried (a bit per config index), or -1 when every
 * backend was tried. *how says why it was chosen.
 */
int	lb_next(struct lb *lb, uint64_t tried, int64_t now, enum lb_pick *how);

#endif
