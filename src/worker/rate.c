/* rate.c: a minimum data rate as a time allowance, after Apache's mod_reqtimeout. */
#include "rate.h"

#define NS_PER_S	1000000000LL

void
rate_init(struct rate *r, int64_t initial_ns, uint64_t min_rate, int64_t max_ns)
{
	r->initial_ns = initial_ns;
	r->min_rate = min_rate;
	r->max_ns = max_ns;
	r->bytes = 0;
	r->waited_ns = 0;
}

void
rate_add(struct rate *r, uint64_t bytes, int64_t waited_ns)
{
	r->bytes = bytes > UINT64_MAX - r->bytes ? UINT64_MAX : r->bytes + bytes;
	if (waited_ns > 0)
		r->waited_ns = waited_ns > INT64_MAX - r->waited_ns ? INT64_MAX :
		    r->waited_ns + waited_ns;
}

/* initial_ns + bytes / min_rate seconds, saturating at RATE_UNLIMITED. */
static int64_t
rate_allowance(const struct rate *r)
{
	uint64_t	whole, part, room;

	if (r->min_rate == 0)
		return RATE_UNLIMITED;
	whole = r->bytes / r->min_rate;
	room = (uint64_t)(INT64_MAX - r->initial_ns) / NS_PER_S;
	if (whole >= room)
		return RATE_UNLIMITED;
	/* (min_rate - 1) * 1e9 fits: config caps min_rate far below 2^64 / 1e9. */
	part = r->bytes % r->min_rate * NS_PER_S / r->min_rate;
	return r->initial_ns + (int64_t)(whole * NS_PER_S + part);
}

int64_t
rate_left(const struct rate *r)
{
	int64_t	allow = rate_allowance(r);

	if (r->max_ns > 0 && allow > r->max_ns)
		allow = r->max_ns;
	if (allow == RATE_UNLIMITED)
		return RATE_UNLIMITED;
	return allow > r->waited_ns ? allow - r->waited_ns : 0;
}
