/* metrics.h: the Prometheus exposition of the shared-memory counters and process stats. */
#ifndef RP_METRICS_H
#define RP_METRICS_H

#include <stddef.h>

#include "shm.h"

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

struct metrics_ctx;

/*
 * One metric family: the only place its name, type and help are written.
 * The exposition walks this table in order, and the man page cross-check
 * reads it too.
 */
struct metric_family {
	const char		*name;
	enum metric_type	 type;
	const char		*labels;	/* label names, comma-separated, for docs */
	const char		*help;
	void			(*emit)(struct metrics_ctx *, const struct metric_family *);
};

/* Every family, in exposition order; the entry with a NULL name ends it. */
extern const struct metric_family metric_families[];

/* "counter", "gauge", "histogram": the # TYPE word. */
const char	*metric_type_name(enum metric_type type);

enum metrics_result {
	METRICS_OK = 0,
	METRICS_NOMEM,		/* out of memory */
	METRICS_BUSY,		/* the master's reaps overlapped every reading */
};

/*
 * Render the whole exposition for region r into a malloc'd buffer (*out,
 * *outlen; the caller frees it). Any process may call it: the counters and
 * the per-process figures are read between two of the master's folds (see
 * shm_read_begin()), so a dead worker is counted exactly once, in its slot
 * and its own CPU time or in the retired totals and the master's children's.
 */
enum metrics_result metrics_render(const struct shm_region *r, char **out, size_t *outlen);

#endif
