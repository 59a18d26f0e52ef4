/* upstream.h: connections to backends: connect with a timeout, and the idle pool. */
#ifndef RP_UPSTREAM_H
#define RP_UPSTREAM_H

#include <stdint.h>

#include "shm.h"
#include "worker.h"

/* Resolve every backend address (once per worker). Failures are logged. */
void	upstream_init(struct worker *w);

/*
 * A connection to backend i: an idle pooled one still open (*reused = 1), or a
 * new one connected before deadline. Returns the fd, or -1 with *reason set
 * and errno saying why.
 */
int	upstream_get(struct worker *w, int i, int64_t deadline, int *reused,
	    enum fail_reason *reason);

/* Keep a connection whose last response ended cleanly, for the next request. */
void	upstream_put(struct worker *w, int i, int fd);

/* Close backend i's pooled connections (one was found stale: the rest likely are). */
void	upstream_close_idle(struct worker *w, int i);

/* Close every pooled connection (on exit). */
void	upstream_close_all(struct worker *w);

#endif
