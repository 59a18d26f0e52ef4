/* conn.c: a client connection in a worker: its buffer, its parser, what is parsed. */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "net.h"

int
conn_setup(struct conn *c, const struct rp_config *conf)
{
	memset(c, 0, sizeof(*c));
	c->conf = conf;
	c->fd = -1;
	c->cap = conf->max_header_size + READ_CHUNK;
	c->buf = malloc(c->cap);
	c->headers = calloc(conf->max_headers, sizeof(struct http_header));
	if (c->buf == NULL || c->headers == NULL)
		return -1;
	return 0;
}

void
conn_open(struct conn *c, int fd, const struct handoff *h, size_t len)
{
	c->fd = fd;
	c->peer = h->peer;
	net_sockaddr_host(&h->peer.sa, c->addr, sizeof(c->addr));
	c->port = net_sockaddr_port(&h->peer.sa);
	c->nreq = h->nreq;
	c->len = len;
	c->pos = c->hend = 0;
	c->close = 0;
	http_head_init(&c->req, HTTP_REQUEST, c->headers, c->conf->max_headers,
	    c->conf->max_uri_size);
	/* A trailer section may be as large as a head, no larger. */
	c->req.max_trailer = c->conf->max_header_size;
}

ssize_t
conn_fill(struct conn *c, int64_t deadline)
{
	ssize_t	n;

	n = io_read(c->fd, c->buf + c->len, c->cap - c->len, deadline);
	if (n > 0)
		c->len += (size_t)n;
	return n;
}

void
conn_next(struct conn *c)
{
	memmove(c->buf, c->buf + c->pos, c->len - c->pos);
	c->len -= c->pos;
	c->pos = 0;
	c->hend = 0;
	http_head_reset(&c->req);
}
