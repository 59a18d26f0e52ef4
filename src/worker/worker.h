/* worker.h: a prefork worker: accepts one connection at a time and proxies it. */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http_head.h"
#include "io.h"
#include "lb.h"
#include "net.h"
#include "shm.h"

/* Worker exit codes tell the master what to do (as Apache's children do). */
#define WORKER_EXIT_CLEAN	0	/* retired or stopped: do not respawn */
#define WORKER_EXIT_FATAL	2	/* cannot ever work (privileges): stop the daemon */

#define KEEP_BODY_MAX	(64 * 1024)	/* request body kept for a retry */
#define READ_CHUNK	(16 * 1024)	/* bytes fed to the parser at a time */
#define BACKEND_BUF	(64 * 1024)

/* Per-backend state a worker keeps: resolved address and idle connections. */
struct upstream {
	const struct rp_backend_conf	*conf;
	struct shm_backend		*health;
	struct slot_backend		*stats;
	struct net_sockaddr		 addr;
	int				 resolved;
	char				 hostport[NET_ADDRSTR_MAX];
	int				 idle[64];	/* pooled connections */
	size_t				 nidle;
};

struct worker {
	const struct rp_config	*conf;
	struct shm_region	*shm;
	struct slot		*slot;
	int			 listen_fd;
	unsigned		 generation;

	struct lb		 lb;
	struct upstream		 up[RP_MAX_BACKENDS];

	/* Buffers sized once at start: nothing grows per request. */
	char			*cbuf;		/* client bytes: head, then body */
	size_t			 ccap;
	char			*bbuf;		/* backend bytes */
	char			*hbuf;		/* the rewritten request head */
	char			*rhbuf;		/* the rewritten response head */
	size_t			 hcap;
	char			*keep;		/* request body kept for retries */
	size_t			 keepcap;
	struct outbuf		 bout;		/* a streamed request body */
	int			 pipe[2];	/* splice(2) relay; -1 until first used */
	struct http_header	*req_headers;
	struct http_header	*resp_headers;
};

/* Set from signal handlers, read between requests. */
extern volatile sig_atomic_t	worker_stop;		/* SIGTERM: drain and exit */
extern volatile sig_atomic_t	worker_retire;		/* SIGQUIT: finish, exit (reload) */
extern volatile sig_atomic_t	worker_reopen;		/* SIGUSR1: reopen log files */

/* Run a worker in this (forked) process; never returns. */
void	worker_main(const struct rp_config *conf, struct shm_region *shm, struct slot *slot,
	    int listen_fd, unsigned generation) __attribute__((noreturn));

/* Run the handlers of stop signals that arrived while the worker was busy. */
void	worker_check_signals(void);

/*
 * Wait for a kept-alive connection's next request: 1 when bytes are there,
 * 0 at the deadline, -1 when the worker is stopping and none are.
 */
int	worker_idle_wait(int fd, int64_t deadline);

#endif
