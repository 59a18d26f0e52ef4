/* histogram.h: fixed-bucket latency histograms kept in shared memory. */
#ifndef RP_HISTOGRAM_H
#define RP_HISTOGRAM_H

#include <stdatomic.h>
#include <stdint.h>

/* Upper bounds in microseconds, 0.5 ms to 10 s; the last bucket is +Inf. */
#define HIST_NBUCKETS	15

struct histogram {
	_Atomic uint64_t bucket[HIST_NBUCKETS];	/* not cumulative */
	_Atomic uint64_t sum_us;
};

extern const uint64_t histogram_bounds_us[HIST_NBUCKETS - 1];

/* Record one observation; the caller is the only writer of h. */
void		histogram_observe(struct histogram *h, uint64_t us);

/* Add src into dst (dst has one writer: the caller). */
void		histogram_add(struct histogram *dst, const struct histogram *src);

uint64_t	histogram_count(const struct histogram *h);

/* Estimate quantile q (0..1) in microseconds by linear interpolation in its bucket. */
uint64_t	histogram_quantile(const struct histogram *h, double q);

/* Single-writer counter add: a plain load and store, no locked instruction. */
static inline void
counter_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
	    memory_order_relaxed);
}

static inline uint64_t
counter_get(const _Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

#endif
