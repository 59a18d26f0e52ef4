/* histogram.c: fixed-bucket latency histograms kept in shared memory. */
#include <stddef.h>

#include "histogram.h"

const uint64_t histogram_bounds_us[HIST_NBUCKETS - 1] = {
	500, 1000, 2500, 5000, 10000, 25000, 50000, 100000,
	250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

void
histogram_observe(struct histogram *h, uint64_t us)
{
	size_t	i;

	for (i = 0; i < HIST_NBUCKETS - 1; i++)
		if (us <= histogram_bounds_us[i])
			break;
	counter_add(&h->bucket[i], 1);
	counter_add(&h->sum_us, us);
}

void
histogram_add(struct histogram *dst, const struct histogram *src)
{
	size_t	i;

	for (i = 0; i < HIST_NBUCKETS; i++)
		counter_add(&dst->bucket[i], counter_get(&src->bucket[i]));
	counter_add(&dst->sum_us, counter_get(&src->sum_us));
}

uint64_t
histogram_count(const struct histogram *h)
{
	uint64_t	n = 0;
	size_t		i;

	for (i = 0; i < HIST_NBUCKETS; i++)
		n += counter_get(&h->bucket[i]);
	return n;
}

uint64_t
histogram_quantile(const struct histogram *h, double q)
{
	uint64_t	total, seen = 0, lo = 0, n;
	double		rank;
	size_t		i;

	total = histogram_count(h);
	if (total == 0)
		return 0;
	rank = q * (double)total;
	for (i = 0; i < HIST_NBUCKETS; i++) {
		n = counter_get(&h->bucket[i]);
		if (n > 0 && (double)(seen + n) >= rank) {
			/* The +Inf bucket has no upper bound: report its lower one. */
			if (i == HIST_NBUCKETS - 1)
				return lo;
			return lo + (uint64_t)((double)(histogram_bounds_us[i] - lo) *
			    ((rank - (double)seen) / (double)n));
		}
		seen += n;
		if (i < HIST_NBUCKETS - 1)
			lo = histogram_bounds_us[i];
	}
	return lo;
}
