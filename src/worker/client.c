/* client.c: a connection a worker was handed: its requests in order, then close or park. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "access.h"
#include "client.h"
#include "clock.h"
#include "http_status.h"
#include "log.h"
#include "net.h"
#include "signals.h"

#define PARK_WAIT_NS	(1000 * NS_PER_MS)	/* for room in the keeper's queue */

/* How reading a request head went. */
enum head_result {
	HEAD_READY = 0,		/* a complete head */
	HEAD_REFUSED,		/* a status to answer with, in *status */
	HEAD_PARTIAL,		/* more bytes are needed */
	HEAD_MORE,		/* more bytes came: parse again */
	HEAD_PARK,		/* hand the connection to the keeper */
	HEAD_GONE,		/* the client left, or the worker stops: close */
};

int
client_setup(struct client *cl, const struct rp_config *conf, struct shm_region *shm,
    struct slot *slot, int handoff_fd)
{
	memset(cl, 0, sizeof(*cl));
	cl->slot = slot;
	cl->handoff_fd = handoff_fd;
	cl->linger_ns = (int64_t)conf->keepalive_linger_ms * NS_PER_MS;
	if (conn_setup(&cl->conn, conf) == -1 || proxy_init(&cl->proxy, conf, shm, slot) == -1)
		return -1;
	return 0;
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

/* Parse what the buffer holds of the next head. */
static enum head_result
head_parse(struct conn *c, int *status)
{
	size_t	limit, n;
	long	used;

	limit = c->len < c->conf->max_header_size ? c->len : c->conf->max_header_size;
	if (c->pos < limit) {
		n = limit - c->pos;
		used = http_head_feed(&c->req, c->buf + c->pos, n);
		if (used < 0) {
			*status = http_head_error_status(c->req.error);
			return HEAD_REFUSED;
		}
		c->pos += (size_t)used;
		if (c->req.head_complete) {
			c->hend = c->pos;
			return HEAD_READY;
		}
	}
	if (c->pos >= c->conf->max_header_size) {
		*status = 431;
		return HEAD_REFUSED;
	}
	return HEAD_PARTIAL;
}

/* Is another connection waiting for a free worker? Then none lingers. */
static int
client_work_waiting(const struct client *cl)
{
	struct pollfd	pfd = { .fd = cl->handoff_fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1;
}

/*
 * The next head is not all here. Stopping: read it only if its bytes are
 * already on their way (it gets a 503), else close. Otherwise linger for it
 * a moment, unless a reload retired this worker or work is waiting: then
 * the keeper holds the connection, so the worker is free for a request.
 */
static enum head_result
client_wait(struct client *cl)
{
	struct conn	*c = &cl->conn;
	struct pollfd	 pfd = { .fd = c->fd, .events = POLLIN };
	int64_t		 deadline = clock_now_ns() + cl->linger_ns, left;
	ssize_t		 got;
	int		 n;

	for (;;) {
		if (signals_stopping()) {
			if (poll(&pfd, 1, 0) != 1 && c->len == 0)
				return HEAD_GONE;
			got = conn_fill(c, clock_now_ns() +
			    (int64_t)c->conf->client_header_timeout_ms * NS_PER_MS);
			return got > 0 ? HEAD_MORE : HEAD_GONE;
		}
		if (signals_retiring() || client_work_waiting(cl))
			return HEAD_PARK;
		left = deadline - clock_now_ns();
		if (left <= 0)
			return HEAD_PARK;
		n = signals_ppoll(&pfd, 1, left);
		if (n == 0)
			return HEAD_PARK;
		if (n > 0) {
			got = conn_fill(c, clock_now_ns());
			if (got > 0)
				return HEAD_MORE;
			return got == IO_TIMEOUT ? HEAD_PARK : HEAD_GONE;
		}
		if (errno != EINTR)
			return HEAD_PARK;
	}
}

int
client_park_fd(int handoff_fd, int fd, const struct handoff *h, const void *bytes)
{
	struct pollfd	pfd = { .fd = handoff_fd, .events = POLLOUT };
	int64_t		deadline = clock_now_ns() + PARK_WAIT_NS;

	/* Bounded: a keeper that is gone or full costs this connection, never the worker. */
	while (handoff_send(handoff_fd, fd, h, bytes, MSG_DONTWAIT) == -1) {
		if ((errno != EAGAIN && errno != EINTR) || clock_now_ns() >= deadline)
			return -1;
		(void)poll(&pfd, 1, clock_ms_until(deadline));
	}
	return 0;
}

/* Hand the connection to the keeper until its next request is ready. */
static void
client_park(struct client *cl, int64_t since)
{
	struct conn	*c = &cl->conn;
	struct handoff	 h;

	memset(&h, 0, sizeof(h));
	h.magic = HANDOFF_MAGIC;
	h.kind = HANDOFF_WAIT;
	h.nreq = c->nreq;
	h.len = (uint32_t)c->len;
	h.since = since;
	h.peer = c->peer;
	if (client_park_fd(cl->handoff_fd, c->fd, &h, c->buf) == -1) {
		log_warn("event=park_failed client=%s", c->addr);
		return;
	}
	counter_add(&cl->slot->handoffs_to_keeper, 1);
}

/* Count a finished request in this worker's slot and log its access line. */
static void
exchange_finish(struct client *cl, const struct exchange *x)
{
	const struct conn	*c = &cl->conn;
	struct access_line	 al;
	uint64_t		 us = (uint64_t)(clock_now_ns() - x->start) / NS_PER_US;

	/*
	 * A SIGUSR1 (logrotate) taken in one of this request's waits: its line
	 * goes to the new file already. One that came between waits is let in
	 * at the next request's start: no syscall per request for it here.
	 */
	if (signals_take_reopen())
		log_reopen();
	counter_add(&cl->slot->client_responses[shm_code_index(x->status)], 1);
	counter_add(&cl->slot->bytes_in, x->bytes_in);
	counter_add(&cl->slot->bytes_out, x->bytes_out);
	histogram_observe(&cl->slot->latency, us);
	memset(&al, 0, sizeof(al));
	al.request_id = x->id;
	al.client = c->addr;
	al.port = c->port;
	al.method = c->req.method;
	al.methodlen = c->req.methodlen;
	al.target = c->req.url;
	al.targetlen = c->req.urllen;
	al.status = x->status;
	al.backend = x->backend >= 0 ? cl->proxy.up[x->backend].conf->name : NULL;
	al.attempts = x->attempts;
	al.duration_us = us;
	al.bytes_in = x->bytes_in;
	al.bytes_out = x->bytes_out;
	access_log(&al);
}

static void
exchange_begin(struct client *cl, struct exchange *x)
{
	const struct http_header *id = http_head_find(&cl->conn.req, "x-request-id");

	memset(x, 0, sizeof(*x));
	x->p = &cl->proxy;
	x->start = clock_now_ns();
	x->backend = -1;
	request_id_take(x->id, id != NULL ? id->value : NULL, id != NULL ? id->valuelen : 0);
}

/* Answer one request: proxied, or refused with status. */
static void
client_exchange(struct client *cl, int status)
{
	const struct rp_config	*conf = cl->conn.conf;
	struct conn		*c = &cl->conn;
	struct exchange		 x;

	signals_let_pending_in();
	exchange_begin(cl, &x);
	c->nreq++;
	c->close = status != 0 || !http_head_keep_alive(&c->req) ||
	    http_head_upgrade(&c->req) || c->nreq >= conf->keepalive_requests ||
	    conf->keepalive_timeout_ms == 0 || signals_stopping();
	if (status == 0 && signals_stopping())
		status = 503;	/* arrived after the stop signal */
	if (status != 0) {
		c->close = 1;
		proxy_send_error(c, &x, status);
	} else {
		proxy_exchange(c, &x);
	}
	exchange_finish(cl, &x);
}

void
client_serve(struct client *cl, int fd, const struct handoff *h, size_t len)
{
	struct conn		*c = &cl->conn;
	enum head_result	 r;
	int64_t			 since = h->since;
	int			 status;

	conn_open(c, fd, h, len);
	for (;;) {
		status = 0;
		r = head_parse(c, &status);
		if (r == HEAD_PARTIAL) {
			if (c->len == 0)
				since = clock_now_ns();	/* idle from here */
			r = client_wait(cl);
			if (r == HEAD_MORE)
				continue;
			if (r == HEAD_PARK)
				client_park(cl, since);
			break;
		}
		client_exchange(cl, r == HEAD_READY ? head_check(&c->req) : status);
		if (c->close)
			break;
		conn_next(c);
		/* The next head's clock starts with its first byte, here or in the keeper. */
		since = clock_now_ns();
	}
	close(fd);
	c->fd = -1;
}
