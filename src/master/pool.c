/* pool.c: how many workers the adaptive pool should have, Apache-prefork style. */
#include <string.h>

#include "pool.h"

static unsigned
pool_clamp(const struct pool_limits *l, unsigned n)
{
	if (n < l->min)
		return l->min;
	return n > l->max ? l->max : n;
}

int
pool_adaptive(const struct rp_config *conf)
{
	return conf->workers == 0;
}

void
pool_limits_from(struct pool_limits *l, const struct rp_config *conf)
{
	memset(l, 0, sizeof(*l));
	if (!pool_adaptive(conf)) {
		l->min = l->max = conf->workers;
		return;
	}
	l->min = conf->min_workers;
	l->max = conf->max_workers;
	l->min_spare = conf->min_spare_workers;
	l->max_spare = conf->max_spare_workers;
	l->idle_ns = (int64_t)conf->worker_idle_timeout_ms * 1000000LL;
}

void
pool_state_init(struct pool_state *s)
{
	s->spawn_rate = POOL_SPAWN_FIRST;
	s->excess_since = 0;
}

/*
 * Grow: idle workers absorb waiting connections first; what is left, plus
 * min_spare, is the need. A rise starts POOL_SPAWN_FIRST workers and doubles
 * each tick the need outruns the rate (Apache starts at 1 and stops at 32 a
 * second, 20 s to 500 workers; this reaches 500 in 4 ticks, and starts
 * forking early: on a busy machine the forks, not the ticks, take the time).
 */
static unsigned
pool_grow(const struct pool_limits *l, struct pool_state *s, const struct pool_view *v)
{
	unsigned	need = 0, n, room;

	if (v->waiting + l->min_spare > v->idle)
		need = v->waiting + l->min_spare - v->idle;
	if (need == 0) {
		s->spawn_rate = POOL_SPAWN_FIRST;
		return 0;
	}
	n = need < s->spawn_rate ? need : s->spawn_rate;
	if (need > s->spawn_rate)
		s->spawn_rate = s->spawn_rate * 2 > POOL_SPAWN_MAX ? POOL_SPAWN_MAX :
		    s->spawn_rate * 2;
	room = v->workers < l->max ? l->max - v->workers : 0;
	return n < room ? n : room;
}

/*
 * Shrink: only once more than max_spare have stayed idle for idle_ns, and
 * then by at most POOL_RETIRE_MAX a tick, never below min.
 */
static unsigned
pool_shrink(const struct pool_limits *l, struct pool_state *s, const struct pool_view *v,
    int64_t now)
{
	unsigned	n;

	if (v->waiting > 0 || v->idle <= l->max_spare || v->workers <= l->min) {
		s->excess_since = 0;
		return 0;
	}
	if (s->excess_since == 0)
		s->excess_since = now;
	if (now - s->excess_since < l->idle_ns)
		return 0;
	n = v->idle - l->max_spare;
	if (n > v->workers - l->min)
		n = v->workers - l->min;
	return n > POOL_RETIRE_MAX ? POOL_RETIRE_MAX : n;
}

void
pool_decide(const struct pool_limits *l, struct pool_state *s, const struct pool_view *v,
    int64_t now, struct pool_step *out)
{
	memset(out, 0, sizeof(*out));
	/* Below the floor (a start, a death, a reload): back to it at once. */
	if (v->workers < l->min)
		out->spawn = l->min - v->workers;
	else
		out->spawn = pool_grow(l, s, v);
	if (out->spawn > 0)
		s->excess_since = 0;
	else
		out->retire = pool_shrink(l, s, v, now);
	out->target = v->workers + out->spawn - out->retire;
}

unsigned
pool_reload_size(const struct pool_limits *l, unsigned busy, unsigned waiting)
{
	return pool_clamp(l, busy + waiting + l->min_spare);
}
