/* conn.h: a client connection in a worker: its buffer, its parser, what is parsed. */
#ifndef RP_CONN_H
#define RP_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "handoff.h"
#include "http_head.h"
#include "io.h"

#define READ_CHUNK	(16 * 1024)	/* bytes fed to the parser at a time */

/*
 * One per worker, set up once and reused for each connection it is handed:
 * nothing grows per request. The head stays at the front of buf while its
 * request is served; body bytes reuse the space after it.
 */
struct conn {
	const struct rp_config	*conf;
	int			 fd;
	union handoff_peer	 peer;		/* the client's address, as handed over */
	char			 addr[64];	/* ...numeric, for logs and X-Forwarded-For */
	unsigned		 port;
	char			*buf;		/* client bytes: head, then body */
	size_t			 cap;
	struct http_header	*headers;
	struct http_head	 req;
	size_t			 hend;		/* end of the current head in buf */
	size_t			 pos;		/* next byte to parse */
	size_t			 len;		/* bytes in buf */
	unsigned		 nreq;		/* requests served on it */
	int			 close;		/* close after this response */
	struct outbuf		 out;		/* to the client */
};

/* Allocate the buffers for conf's limits: 0, or -1 when memory runs out. */
int	conn_setup(struct conn *c, const struct rp_config *conf);

/* Take a connection handed over with h: its fd, its peer and its first len bytes (in buf). */
void	conn_open(struct conn *c, int fd, const struct handoff *h, size_t len);

/* Make more client bytes available in buf before deadline: >0, 0 EOF, IO_*. */
ssize_t	conn_fill(struct conn *c, int64_t deadline);

/* Keep the unparsed bytes (a pipelined request) at the front and forget the rest. */
void	conn_next(struct conn *c);

#endif
