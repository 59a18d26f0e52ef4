/* client.h: a connection a worker was handed: its requests in order, then close or park. */
#ifndef RP_CLIENT_H
#define RP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "handoff.h"
#include "proxy.h"
#include "shm.h"

struct client {
	struct conn	 conn;
	struct proxy	 proxy;
	struct slot	*slot;
	int		 handoff_fd;	/* the workers' end: parked connections go to the keeper */
	int64_t		 linger_ns;	/* wait this long for a next request before parking */
};

/* Set up for conf: 0, or -1 when memory runs out. */
int	client_setup(struct client *cl, const struct rp_config *conf, struct shm_region *shm,
	    struct slot *slot, int handoff_fd);

/*
 * Serve the connection fd handed over with h and its first len bytes (in
 * cl->conn.buf): every request that is ready, in order. Returns when the
 * connection is closed or parked in the keeper (fd is then closed here).
 */
void	client_serve(struct client *cl, int fd, const struct handoff *h, size_t len);

/* Park fd with h (and h->len bytes) in the keeper: 0, or -1 (fd is left open). */
int	client_park_fd(int handoff_fd, int fd, const struct handoff *h, const void *bytes);

#endif
