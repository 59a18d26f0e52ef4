/* metrics_server.h: the master's non-blocking HTTP endpoint that serves /metrics. */
#ifndef RP_METRICS_SERVER_H
#define RP_METRICS_SERVER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "shm.h"

#define METRICS_CONN_MAX	16	/* scrapes served at once; more wait in the backlog */
#define METRICS_POLLFD_MAX	(METRICS_CONN_MAX + 1)

struct metrics_server;

/*
 * Bind addr and serve the metrics of r from it. An empty host ("off")
 * disables the endpoint: the server exists but polls nothing. Port 0 binds a
 * port the kernel picks. NULL with err set when the address cannot be bound.
 */
struct metrics_server *metrics_server_open(const struct rp_addr *addr,
	    const struct shm_region *r, char *err, size_t errlen);

/*
 * Fill pfd (room for max) with what the server waits for and lower *wake
 * (CLOCK_MONOTONIC ns) to its earliest deadline. Return the count used.
 */
nfds_t	metrics_server_pollfds(struct metrics_server *ms, struct pollfd *pfd, nfds_t max,
	    int64_t *wake);

/* After the wait on those pfd: accept, read, answer and expire. Never blocks. */
void	metrics_server_handle(struct metrics_server *ms, const struct pollfd *pfd, nfds_t n);

/* The port the endpoint is bound to; 0 when it is off. */
unsigned metrics_server_port(const struct metrics_server *ms);

/* In a freshly forked child: close the inherited sockets, leave the parent's alone. */
void	metrics_server_close_inherited(struct metrics_server *ms);

/* Close every socket and free the server. NULL is allowed. */
void	metrics_server_close(struct metrics_server *ms);

#endif
