/* rate.h: a minimum data rate as a time allowance, after Apache's mod_reqtimeout. */
#ifndef RP_RATE_H
#define RP_RATE_H

#include <stdint.h>

#define RATE_UNLIMITED	INT64_MAX

/*
 * A peer gets initial_ns to send, and each min_rate bytes it sends earn it
 * one more second, never more than max_ns in all. Only the time spent
 * waiting for it counts: the proxy's own work (connecting to a backend,
 * writing to it) is not the peer's fault.
 */
struct rate {
	int64_t		initial_ns;
	uint64_t	min_rate;	/* bytes per second; 0: no rate limit */
	int64_t		max_ns;		/* 0: no cap */
	uint64_t	bytes;		/* received so far */
	int64_t		waited_ns;	/* spent waiting for them */
};

void	rate_init(struct rate *r, int64_t initial_ns, uint64_t min_rate, int64_t max_ns);

/* Count bytes received after a wait of waited_ns. */
void	rate_add(struct rate *r, uint64_t bytes, int64_t waited_ns);

/* How long the next wait may last, >= 0; RATE_UNLIMITED when nothing limits it. */
int64_t	rate_left(const struct rate *r);

#endif
