/* metrics_server.h: the metrics process's non-blocking HTTP endpoint that serves /metrics. */
#ifndef RP_METRICS_SERVER_H
#define RP_METRICS_SERVER_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "shm.h"

#define METRICS_CONN_MAX	16	/* scrapes served at once; more wait in the backlog */
#define METRICS_POLLFD_MAX	(METRICS_CONN_MAX + 1)

struct metrics_server;

/*
 * Serve the metrics of r on the listening socket fd (bound by the master),
 * which the server owns from here. NULL with err set.
 */
struct metrics_server *metrics_server_new(int fd, const struct shm_region *r, char *err,
	    size_t errlen);

/*
 * Fill pfd (room for max) with what the server waits for and lower *wake
 * (CLOCK_MONOTONIC ns) to its earliest deadline. Return the count used.
 */
nfds_t	metrics_server_pollfds(struct metrics_server *ms, struct pollfd *pfd, nfds_t max,
	    int64_t *wake);

/* After the wait on those pfd: accept, read, answer and expire. Never blocks. */
void	metrics_server_handle(struct metrics_server *ms, const struct pollfd *pfd, nfds_t n);

/* Close the listening socket; the scrapes under way go on. */
void	metrics_server_stop_accepting(struct metrics_server *ms);

/* Close the connections whose request has not come whole: a silent one must not hold up a stop. */
void	metrics_server_drop_unanswered(struct metrics_server *ms);

/* Is a scrape under way? */
int	metrics_server_busy(const struct metrics_server *ms);

/* Close every socket and free the server. NULL is allowed. */
void	metrics_server_close(struct metrics_server *ms);

#endif
