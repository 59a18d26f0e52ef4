/* proxy.h: one request: keep or stream its body, try backends, relay the response. */
#ifndef RP_PROXY_H
#define RP_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "http_head.h"
#include "io.h"
#include "rewrite.h"
#include "worker.h"

/* A client connection: its parser and what of cbuf is parsed. */
struct conn {
	struct worker	*w;
	int		 fd;
	char		 addr[64];	/* numeric client address */
	unsigned	 port;
	struct http_head req;
	size_t		 hend;		/* end of the current head in cbuf */
	size_t		 pos;		/* next byte to parse */
	size_t		 len;		/* bytes in cbuf */
	unsigned	 nreq;		/* requests served on it */
	int		 close;		/* close after this response */
	struct outbuf	 out;		/* to the client */
};

/* One request and its outcome, for the access log and metrics. */
struct exchange {
	char		 id[REQUEST_ID_MAX + 1];
	int64_t		 start;
	int		 status;
	int		 backend;	/* config index of the last backend tried, -1 none */
	unsigned	 attempts;
	uint64_t	 bytes_in;	/* request body bytes */
	uint64_t	 bytes_out;	/* response bytes written to the client */
	int		 head_sent;	/* response bytes reached the client: no retry */
};

/*
 * Proxy the request whose head c->req holds. Returns 0 when the connection
 * may serve another request, -1 when it must close.
 */
int	proxy_exchange(struct conn *c, struct exchange *x);

/* Send the proxy's own error response (with X-Request-ID and a text body). */
int	proxy_send_error(struct conn *c, struct exchange *x, int status);

/* Make more client bytes available in cbuf before deadline: >0, 0 EOF, IO_*. */
ssize_t	conn_fill(struct conn *c, int64_t deadline);

#endif
