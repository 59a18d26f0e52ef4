/* pool.h: the adaptive worker pool's sizing decision, from a scoreboard snapshot. */
#ifndef RP_POOL_H
#define RP_POOL_H

#include <stdint.h>

#include "config.h"

#define POOL_TICK_NS		1000000000LL	/* one sizing decision a second, as Apache's */
#define POOL_SPAWN_FIRST	64	/* most workers started by the first tick of a rise */
#define POOL_SPAWN_MAX		512	/* ...doubling each tick the need outruns it, up to this */
#define POOL_RETIRE_MAX		32	/* most idle workers retired by one tick */

/* The pool's bounds, from the configuration (fixed: min = max = workers). */
struct pool_limits {
	unsigned	min, max;
	unsigned	min_spare, max_spare;
	int64_t		idle_ns;	/* extra spares live this long before retiring */
};

/* The current generation as the scoreboard shows it at one tick. */
struct pool_view {
	unsigned	workers;	/* live, not told to retire; starting ones included */
	unsigned	idle;		/* of those, waiting for a connection or about to */
	unsigned	waiting;	/* ready connections no worker has taken yet */
};

/* What the loop remembers from one tick to the next. */
struct pool_state {
	unsigned	spawn_rate;	/* most workers the next rising tick may start */
	int64_t		excess_since;	/* more than max_spare idle since then; 0: not */
};

/* One tick's decision: start spawn workers, or retire retire idle ones. */
struct pool_step {
	unsigned	spawn;
	unsigned	retire;
	unsigned	target;		/* view.workers + spawn - retire */
};

void	pool_limits_from(struct pool_limits *l, const struct rp_config *conf);
int	pool_adaptive(const struct rp_config *conf);
void	pool_state_init(struct pool_state *s);

/* Decide from v at time now (ns); s carries the ramp and the idle timer. */
void	pool_decide(const struct pool_limits *l, struct pool_state *s,
	    const struct pool_view *v, int64_t now, struct pool_step *out);

/*
 * The size a new generation starts at: what the old one is busy with, plus
 * the connections waiting and the spares, within the bounds.
 */
unsigned pool_reload_size(const struct pool_limits *l, unsigned busy, unsigned waiting);

#endif
