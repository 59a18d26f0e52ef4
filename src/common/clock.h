/* clock.h: monotonic time, the one clock deadlines and cooldowns use. */
#ifndef RP_CLOCK_H
#define RP_CLOCK_H

#include <stdint.h>
#include <time.h>

#define NS_PER_MS	1000000LL
#define NS_PER_US	1000LL

/* CLOCK_MONOTONIC is system-wide, so workers can share deadlines in shm. */
static inline int64_t
clock_now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Milliseconds left until deadline (ns), never negative; for poll(). */
static inline int
clock_ms_until(int64_t deadline)
{
	int64_t	left = deadline - clock_now_ns();

	if (left <= 0)
		return 0;
	left = (left + NS_PER_MS - 1) / NS_PER_MS;
	return left > 0x7fffffff ? 0x7fffffff : (int)left;
}

#endif
