/* proxy.h: one request: keep or stream its body, try backends, relay the response. */
#ifndef RP_PROXY_H
#define RP_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"
#include "http_head.h"
#include "io.h"
#include "lb.h"
#include "request_id.h"
#include "rewrite.h"
#include "shm.h"
#include "upstream.h"

#define KEEP_BODY_MAX	(64 * 1024)	/* request body kept for a retry */
#define BACKEND_BUF	(64 * 1024)

/* What a worker needs to proxy requests, set up once: nothing grows per request. */
struct proxy {
	const struct rp_config	*conf;
	struct slot		*slot;		/* this worker's counters */
	struct lb		 lb;
	struct upstream		 up[RP_MAX_BACKENDS];	/* by config index */
	char			*bbuf;		/* backend bytes */
	char			*hbuf;		/* the rewritten request head */
	char			*rhbuf;		/* the rewritten response head */
	size_t			 hcap;
	char			*keep;		/* request body kept for retries */
	struct outbuf		 bout;		/* a streamed request body */
	int			 pipe[2];	/* splice(2) relay; -1 until first used */
	struct http_header	*resp_headers;
};

/* One request and its outcome, for the access log and metrics. */
struct exchange {
	struct proxy	*p;
	char		 id[REQUEST_ID_MAX + 1];
	int64_t		 start;
	int		 status;
	int		 backend;	/* config index of the last backend tried, -1 none */
	unsigned	 attempts;
	uint64_t	 bytes_in;	/* request body bytes */
	uint64_t	 bytes_out;	/* response bytes written to the client */
	int		 head_sent;	/* response bytes reached the client: no retry */
};

/* Allocate buffers and resolve backends for conf: 0, or -1 when memory runs out. */
int	proxy_init(struct proxy *p, const struct rp_config *conf, struct shm_region *shm,
	    struct slot *slot);

/* Close pooled backend connections (on exit). */
void	proxy_close(struct proxy *p);

/*
 * Proxy the request whose head c->req holds. Returns 0 when the connection
 * may serve another request, -1 when it must close.
 */
int	proxy_exchange(struct conn *c, struct exchange *x);

/* Send the proxy's own error response (with X-Request-ID and a text body). */
int	proxy_send_error(struct conn *c, struct exchange *x, int status);

#endif
