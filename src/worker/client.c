/* client.c: one client connection: read request heads, answer them in order. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "log.h"
#include "net.h"
#include "proxy.h"

/* How reading a request head ended. */
enum head_result {
	READ_HEAD = 0,		/* a complete head */
	READ_CLOSED,		/* the client left, or went idle past keepalive_timeout */
	READ_REFUSED,		/* a status to answer with, in *status */
};

static int
head_status(const struct http_head *h)
{
	switch (h->error) {
	case HEAD_TOO_LARGE:
	case HEAD_TOO_MANY:
		return 431;
	case HEAD_URI_TOO_LONG:
		return 414;
	case HEAD_VERSION:
		return 505;
	case HEAD_CODING:
		return 501;
	default:
		return 400;
	}
}

/*
 * What the parser cannot know: RFC 9112 3.2, an HTTP/1.1 request has exactly
 * one Host (HTTP/1.0 at most one); CONNECT is not served; "*" is for OPTIONS
 * only; an absolute-form target must be http(s) with a plain authority, since
 * that authority becomes the backend's Host.
 */
static int
head_check(const struct http_head *h)
{
	const struct http_header *host;
	struct target	t;
	size_t		i, hosts = 0;

	for (i = 0; i < h->nheaders; i++)
		if (http_token_eq(h->headers[i].name, h->headers[i].namelen, "host"))
			hosts++;
	if (hosts > 1 || (hosts == 0 && http_head_minor(h) >= 1))
		return 400;
	/* RFC 9112 3.2: an invalid Host value is a 400, not something to forward. */
	host = http_head_find(h, "host");
	if (host != NULL && !http_host_valid(host->value, host->valuelen))
		return 400;
	if (h->parser.method == HTTP_CONNECT)
		return 405;
	if (request_target(h->url, h->urllen, &t) == -1)
		return 400;
	if (h->urllen == 1 && h->url[0] == '*' &&
	    h->parser.method != HTTP_OPTIONS)
		return 400;
	return 0;
}

static enum head_result
read_head(struct conn *c, int *status)
{
	struct worker	*w = c->w;
	const struct rp_config *conf = w->conf;
	size_t		 limit, n;
	int64_t		 deadline;
	ssize_t		 got;
	long		 used;
	/* Idle: between two requests of a kept-alive connection. */
	int		 idle = c->pos == c->len && c->nreq > 0, rc;

	deadline = clock_now_ns() + (int64_t)(idle ?
	    conf->keepalive_timeout_ms : conf->client_header_timeout_ms) * NS_PER_MS;
	for (;;) {
		limit = c->len < conf->max_header_size ? c->len : conf->max_header_size;
		if (c->pos < limit) {
			n = limit - c->pos;
			used = http_head_feed(&c->req, w->cbuf + c->pos, n);
			if (used < 0) {
				*status = head_status(&c->req);
				return READ_REFUSED;
			}
			c->pos += (size_t)used;
			if (c->req.head_complete) {
				c->hend = c->pos;
				return READ_HEAD;
			}
		}
		if (c->pos >= conf->max_header_size) {
			*status = 431;
			return READ_REFUSED;
		}
		if (idle) {
			/* Between requests only: a stop closes an idle connection. */
			rc = worker_idle_wait(c->fd, deadline);
			if (rc <= 0)
				return READ_CLOSED;
		}
		got = conn_fill(c, deadline);
		if (got == IO_TIMEOUT && !idle) {
			*status = 408;
			return READ_REFUSED;
		}
		if (got <= 0)
			return READ_CLOSED;
		if (idle) {
			/* The request has begun: it now has client_header_timeout to finish. */
			idle = 0;
			deadline = clock_now_ns() +
			    (int64_t)conf->client_header_timeout_ms * NS_PER_MS;
		}
	}
}

static void
exchange_log(struct conn *c, struct exchange *x)
{
	struct worker	*w = c->w;
	uint64_t	 us = (uint64_t)(clock_now_ns() - x->start) / NS_PER_US;
	int		 mlen = (int)c->req.methodlen;
	size_t		 ulen = c->req.urllen;
	char		 target[4 * 512 + 1];
	int		 v6 = strchr(c->addr, ':') != NULL;

	counter_add(&w->slot->client_responses[shm_code_index(x->status)], 1);
	counter_add(&w->slot->bytes_in, x->bytes_in);
	counter_add(&w->slot->bytes_out, x->bytes_out);
	histogram_observe(&w->slot->latency, us);
	if (mlen == 0 || c->req.method == NULL)
		mlen = 1;
	if (log_get_level() < LOG_INFO)
		return;
	/* The target is the client's: escaped, so the line stays key=value. */
	if (ulen > 512)
		ulen = 512;
	/* host:port, with an IPv6 host in brackets as in a URL. */
	log_access("request_id=%s client=%s%s%s:%u method=%.*s target=%s status=%d "
	    "backend=%s attempts=%u duration_ms=%.3f bytes_in=%" PRIu64
	    " bytes_out=%" PRIu64, x->id, v6 ? "[" : "", c->addr, v6 ? "]" : "",
	    c->port,
	    mlen, c->req.method ? c->req.method : "-",
	    c->req.url ? log_escape(target, sizeof(target), c->req.url, ulen) : "-",
	    x->status,
	    x->backend >= 0 ? w->up[x->backend].conf->name : "-", x->attempts,
	    (double)us / 1000.0, x->bytes_in, x->bytes_out);
}

static void
exchange_begin(struct conn *c, struct exchange *x)
{
	const struct http_header *id;

	memset(x, 0, sizeof(*x));
	x->start = clock_now_ns();
	x->backend = -1;
	id = http_head_find(&c->req, "x-request-id");
	if (id != NULL && request_id_valid(id->value, id->valuelen)) {
		memcpy(x->id, id->value, id->valuelen);
		x->id[id->valuelen] = '\0';
	} else {
		request_id_make(x->id, sizeof(x->id));
	}
}

/* Keep the unparsed bytes (a pipelined request) and forget the rest. */
static void
conn_next(struct conn *c)
{
	memmove(c->w->cbuf, c->w->cbuf + c->pos, c->len - c->pos);
	c->len -= c->pos;
	c->pos = 0;
	c->hend = 0;
	http_head_reset(&c->req);
}

static void
conn_init(struct conn *c, struct worker *w, int fd)
{
	memset(c, 0, sizeof(*c));
	c->w = w;
	c->fd = fd;
	http_head_init(&c->req, HTTP_REQUEST, w->req_headers, w->conf->max_headers,
	    w->conf->max_uri_size);
	/* A trailer section may be as large as a head, no larger. */
	c->req.max_trailer = w->conf->max_header_size;
}

void
client_serve(struct worker *w, int fd, const struct sockaddr *peer)
{
	const struct rp_config	*conf = w->conf;
	struct conn		 c;
	struct exchange		 x;
	int			 status;

	conn_init(&c, w, fd);
	net_sockaddr_host(peer, c.addr, sizeof(c.addr));
	c.port = net_sockaddr_port(peer);
	for (;;) {
		status = 0;
		switch (read_head(&c, &status)) {
		case READ_CLOSED:
			return;
		case READ_REFUSED:
			break;
		case READ_HEAD:
			status = head_check(&c.req);
			break;
		}
		worker_check_signals();
		exchange_begin(&c, &x);
		c.nreq++;
		c.close = status != 0 || !http_head_keep_alive(&c.req) ||
		    http_head_upgrade(&c.req) || c.nreq >= conf->keepalive_requests ||
		    conf->keepalive_timeout_ms == 0 || worker_stop || worker_retire;
		if (status == 0 && worker_stop)
			status = 503;	/* arrived after the stop signal */
		if (status != 0) {
			c.close = 1;
			proxy_send_error(&c, &x, status);
		} else {
			proxy_exchange(&c, &x);
		}
		exchange_log(&c, &x);
		if (c.close)
			return;
		conn_next(&c);
	}
}

void
client_refuse(struct worker *w, int fd)
{
	struct conn	c;
	struct exchange	x;
	int		status = 503;

	conn_init(&c, w, fd);
	/* Read the request so the 503 is an answer, not a reset; bounded by the header timeout. */
	if (read_head(&c, &status) == READ_CLOSED)
		return;
	exchange_begin(&c, &x);
	c.close = 1;
	proxy_send_error(&c, &x, 503);
}
