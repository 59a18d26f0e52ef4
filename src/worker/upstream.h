/* upstream.h: connections to one backend: connect with a timeout, and the idle pool. */
#ifndef RP_UPSTREAM_H
#define RP_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "net.h"
#include "shm.h"

#define UPSTREAM_IDLE_MAX	64	/* pooled connections per backend, at most */

/* One backend as a worker sees it: its address, shared state and idle connections. */
struct upstream {
	const struct rp_backend_conf	*conf;
	struct shm_backend		*health;	/* shared by all workers */
	struct slot_backend		*stats;		/* this worker's counters */
	struct net_sockaddr		 addr;
	int				 resolved;
	char				 hostport[NET_ADDRSTR_MAX];
	int				 idle[UPSTREAM_IDLE_MAX];
	size_t				 nidle;
	size_t				 idle_cap;	/* backend_keepalive */
};

/* Set u up for backend conf and resolve its address (a failure is logged). */
void	upstream_init(struct upstream *u, const struct rp_backend_conf *conf,
	    struct shm_backend *health, struct slot_backend *stats, unsigned idle_cap);

/*
 * A connection: an idle pooled one still open (*reused = 1), or a new one
 * connected before deadline. Returns the fd, or -1 with *reason set and
 * errno saying why.
 */
int	upstream_get(struct upstream *u, int64_t deadline, int *reused,
	    enum fail_reason *reason);

/* Keep a connection whose last response ended cleanly, for the next request. */
void	upstream_put(struct upstream *u, int fd);

/* Close the pooled connections (one was found stale: the rest likely are; or on exit). */
void	upstream_close_idle(struct upstream *u);

#endif
