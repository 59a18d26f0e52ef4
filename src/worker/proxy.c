/* proxy.c: one request: keep or stream its body, try backends, relay the response. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "health.h"
#include "http_status.h"
#include "log.h"
#include "proxy.h"
#include "rate.h"
#include "retry.h"

/* How reading the client's body ended, when it did not simply complete. */
enum body_result {
	BODY_OK = 0,
	BODY_CLIENT_GONE,	/* EOF or error from the client */
	BODY_CLIENT_TIMEOUT,
	BODY_BAD,		/* bad chunk framing */
	BODY_TOO_LARGE,
	BODY_BACKEND,		/* writing to the backend failed */
};

/* The request body: kept whole for retries when small, else streamed. */
struct body {
	struct proxy		*p;
	struct conn		*c;
	struct exchange		*x;
	size_t			 keeplen;
	int			 kept;		/* complete body held in p->keep */
	int			 streaming;	/* writing through ob to a backend */
	int			 chunked;	/* ...with chunk framing */
	int			 too_large;
	struct outbuf		*ob;
	struct rate		 rate;		/* the client's minimum rate */
};

/* One try on one backend, up to its response head. */
struct attempt {
	int			 i;		/* config index */
	int			 fd;
	int			 reused;	/* pooled connection */
	int			 wrote;		/* request bytes went out */
	int			 got_bytes;	/* response bytes came back */
	int			 probing;	/* sent to a backend out of rotation */
	enum fail_reason	 reason;
	int			 err;		/* errno of the failure, 0 if none */
	const char		*what;		/* the step that failed */
	int64_t			 start;
	struct http_head	 resp;
	size_t			 rpos, rlen;	/* parsed and filled bytes of bbuf */
	int			 began;		/* response head accepted, sent on to the client */
	enum body_framing	 framing;	/* of the body to the client */
	struct proxy		*p;		/* for the callbacks */
	struct conn		*c;
	struct exchange		*x;
};

/* Content-Length bodies with more than this left go by splice(2), not copies. */
#define SPLICE_MIN		(32 * 1024)
#define SPLICE_PIPE_SIZE	(256 * 1024)

static int	response_while_sending(void *);
static int	attempt_read_head(struct conn *, struct attempt *);

int
proxy_send_error(struct conn *c, struct exchange *x, int status)
{
	char	resp[HTTP_ERROR_RESPONSE_MAX];
	size_t	n;

	n = http_error_response(resp, status, x->id, c->close);
	x->status = status;
	x->head_sent = 1;
	x->bytes_out += n;
	if (io_write(c->fd, resp, n,
	    clock_now_ns() + (int64_t)x->p->conf->read_timeout_ms * NS_PER_MS) != 0) {
		c->close = 1;
		return -1;
	}
	return 0;
}

int
proxy_init(struct proxy *p, const struct rp_config *conf, struct shm_region *shm,
    struct slot *slot)
{
	struct shm_backend	*table[RP_MAX_BACKENDS];
	size_t			 i, j;

	memset(p, 0, sizeof(*p));
	p->conf = conf;
	p->slot = slot;
	p->pipe[0] = p->pipe[1] = -1;
	p->bbuf = malloc(BACKEND_BUF);
	/* Room for a head plus what the proxy adds to it. */
	p->hcap = 2 * conf->max_header_size + 4096;
	p->hbuf = malloc(p->hcap);
	p->rhbuf = malloc(p->hcap);
	p->keep = malloc(KEEP_BODY_MAX + READ_CHUNK);
	p->resp_headers = calloc(conf->max_headers, sizeof(struct http_header));
	if (p->bbuf == NULL || p->hbuf == NULL || p->rhbuf == NULL || p->keep == NULL ||
	    p->resp_headers == NULL)
		return -1;
	/* The master placed every configured backend in the table by name. */
	for (i = 0; i < conf->nbackends; i++) {
		for (j = 0; j < RP_MAX_BACKENDS; j++)
			if (strcmp(shm->backends[j].name, conf->backends[i].name) == 0)
				break;
		if (j == RP_MAX_BACKENDS)
			fatalx(1, "backend %s: not in shared memory", conf->backends[i].name);
		table[i] = &shm->backends[j];
		upstream_init(&p->up[i], &conf->backends[i], table[i], &slot->be[j],
		    conf->backend_keepalive);
	}
	lb_init(&p->lb, conf, table, &shm->rr_cursor);
	return 0;
}

void
proxy_close(struct proxy *p)
{
	size_t	i;

	for (i = 0; i < p->conf->nbackends; i++)
		upstream_close_idle(&p->up[i]);
}

static int
body_sink(void *ctx, const char *data, size_t len)
{
	struct body		*b = ctx;
	struct proxy		*p = b->p;
	uint64_t		 max = p->conf->max_body_size;

	b->x->bytes_in += len;
	if (max != 0 && (b->x->bytes_in > max || b->c->req.body_raw > max)) {
		b->too_large = 1;
		return -1;
	}
	if (!b->streaming) {
		/* Fits by construction: keepcap leaves room for one READ_CHUNK. */
		memcpy(p->keep + b->keeplen, data, len);
		b->keeplen += len;
		return 0;
	}
	if (b->chunked)
		outbuf_chunk_size(b->ob, len);
	outbuf_put(b->ob, data, len);
	if (b->chunked)
		outbuf_put(b->ob, "\r\n", 2);
	return b->ob->failed ? -1 : 0;
}

/* The key whose limit a body wait of left ns (rate_left()) hit, for the log. */
static const char *
body_limit(const struct body *b, int64_t left, int64_t gap)
{
	if (left >= gap)
		return "client_body_timeout";
	if (b->rate.max_ns > 0 && b->rate.waited_ns + left >= b->rate.max_ns)
		return "client_body_max_timeout";
	return "client_body_min_rate";
}

/*
 * Wait for more of the body: within client_body_timeout of the last bytes,
 * and within what the minimum rate has left the client (rate.h).
 */
static enum body_result
body_fill(struct body *b)
{
	struct conn	*c = b->c;
	int64_t		 gap = (int64_t)c->conf->client_body_timeout_ms * NS_PER_MS;
	int64_t		 left = rate_left(&b->rate), start = clock_now_ns();
	const char	*limit = body_limit(b, left, gap);
	ssize_t		 got;

	got = conn_fill(c, io_until(gap, left < gap ? start + left : INT64_MAX));
	rate_add(&b->rate, got > 0 ? (uint64_t)got : 0, clock_now_ns() - start);
	if (got > 0)
		return BODY_OK;
	if (got != IO_TIMEOUT)
		return BODY_CLIENT_GONE;
	log_info("event=client_body_timeout request_id=%s client=%s limit=%s "
	    "bytes=%" PRIu64 " waited_s=%.3f", b->x->id, c->addr, limit,
	    b->rate.bytes, (double)b->rate.waited_ns / 1e9);
	return BODY_CLIENT_TIMEOUT;
}

/*
 * Feed the client's body to the parser until the message is complete, or,
 * while keeping, until the keep buffer is full.
 */
static enum body_result
body_pump(struct body *b)
{
	struct conn	*c = b->c;
	enum body_result br;
	size_t		 n;
	long		 used;

	for (;;) {
		n = c->len - c->pos;
		if (n > READ_CHUNK)
			n = READ_CHUNK;
		used = http_head_feed(&c->req, c->buf + c->pos, n);
		if (used < 0) {
			if (b->too_large)
				return BODY_TOO_LARGE;
			return b->streaming && b->ob->failed ? BODY_BACKEND : BODY_BAD;
		}
		c->pos += (size_t)used;
		if (c->req.msg_complete ||
		    (!b->streaming && b->keeplen >= KEEP_BODY_MAX))
			break;
		if (c->pos == c->len) {
			/* The head stays where it is: body bytes reuse the space after it. */
			c->pos = c->len = c->hend;
			if ((br = body_fill(b)) != BODY_OK)
				return br;
		}
	}
	return BODY_OK;
}

static enum body_framing
request_framing(const struct conn *c, const struct body *b, uint64_t *length)
{
	if (!http_head_has_length(&c->req) && !http_head_chunked(&c->req))
		return FRAME_NONE;
	if (b->kept) {
		/* A body held whole goes out with a length, whatever its framing was. */
		*length = b->keeplen;
		return FRAME_LENGTH;
	}
	if (http_head_chunked(&c->req))
		return FRAME_CHUNKED;
	*length = b->keeplen + http_head_length(&c->req);
	return FRAME_LENGTH;
}

static void
attempt_fail(struct attempt *a, enum fail_reason reason, const char *what, int err)
{
	a->reason = reason;
	a->what = what;
	a->err = err;
}

/* Send the request: head and kept body, then the rest of a streamed body. */
static int
attempt_send(struct conn *c, struct exchange *x, struct body *b, struct attempt *a)
{
	struct proxy		*p = x->p;
	struct rewrite_request	 rr;
	enum body_result	 br;
	size_t			 hlen;
	int			 rc;

	memset(&rr, 0, sizeof(rr));
	rr.client_addr = c->addr;
	rr.request_id = x->id;
	rr.proto = "http";
	rr.default_host = p->up[a->i].hostport;
	rr.framing = request_framing(c, b, &rr.length);
	hlen = rewrite_request_head(p->hbuf, p->hcap, &c->req, &rr);
	if (hlen == 0) {
		attempt_fail(a, FAIL_BAD_RESPONSE, "rewrite", E2BIG);
		return -1;
	}
	a->wrote = 1;
	if (rr.framing != FRAME_CHUNKED && (b->kept || rr.framing == FRAME_NONE)) {
		rc = io_write2(a->fd, p->hbuf, hlen, p->keep, b->keeplen,
		    a->start + (int64_t)p->conf->request_timeout_ms * NS_PER_MS);
		if (rc != 0) {
			attempt_fail(a, rc == IO_TIMEOUT ? FAIL_TIMEOUT : FAIL_RESET,
			    "send", rc == IO_TIMEOUT ? ETIMEDOUT : errno);
			return -1;
		}
		return 0;
	}
	/* Streamed: the client's pace sets the time, so the attempt clock restarts after. */
	b->ob = &p->bout;
	outbuf_init(b->ob, a->fd, (int64_t)p->conf->read_timeout_ms * NS_PER_MS);
	outbuf_on_readable(b->ob, response_while_sending, a);
	b->streaming = 1;
	b->chunked = rr.framing == FRAME_CHUNKED;
	outbuf_put(b->ob, p->hbuf, hlen);
	if (b->keeplen > 0) {
		if (b->chunked)
			outbuf_chunk_size(b->ob, b->keeplen);
		outbuf_put(b->ob, p->keep, b->keeplen);
		if (b->chunked)
			outbuf_put(b->ob, "\r\n", 2);
	}
	br = body_pump(b);
	if (br == BODY_OK && b->chunked)
		outbuf_put(b->ob, "0\r\n\r\n", 5);
	if (br == BODY_OK)
		outbuf_flush(b->ob);
	if (!a->began)
		a->start = clock_now_ns();
	if (b->ob->failed || br == BODY_BACKEND) {
		attempt_fail(a, b->ob->failed == IO_TIMEOUT ? FAIL_TIMEOUT : FAIL_RESET,
		    "send", b->ob->failed == IO_TIMEOUT ? ETIMEDOUT : errno);
		return -1;
	}
	if (br != BODY_OK)
		return (int)br;		/* the client's fault: no backend to blame */
	return 0;
}

/* Connect (or reuse), send, and read the head. 0 on success, -1 on a backend failure. */
static int
attempt_run(struct conn *c, struct exchange *x, struct body *b, struct attempt *a)
{
	struct proxy	*p = x->p;
	int		 rc;

	a->p = p;
	a->c = c;
	a->x = x;
	http_head_init(&a->resp, HTTP_RESPONSE, p->resp_headers, p->conf->max_headers,
	    BACKEND_BUF);
	a->resp.skip_body = http_token_eq(c->req.method, c->req.methodlen, "HEAD");
	a->start = clock_now_ns();
	a->fd = upstream_get(&p->up[a->i], a->start +
	    (int64_t)p->conf->connect_timeout_ms * NS_PER_MS, &a->reused, &a->reason);
	if (a->fd < 0) {
		a->err = errno;
		a->what = "connect";
		return -1;
	}
	rc = attempt_send(c, x, b, a);
	if (rc > 0)
		return rc;
	if (rc == 0 || (a->began && a->resp.msg_complete))
		rc = attempt_read_head(c, a);	/* done already if it began while sending */
	return rc;
}

static void
health_log(struct proxy *p, int i, enum health_change ch, const struct attempt *a)
{
	struct upstream	*u = &p->up[i];
	double		 cool = (double)p->conf->health_cooldown_ms / 1000.0;

	switch (ch) {
	case HEALTH_BECAME_UNHEALTHY:
		counter_add(&u->stats->state_changes[1], 1);
		log_warnx("event=backend_unhealthy backend=%s addr=%s failures=%u "
		    "reason=%s cooldown_s=%.3g", u->conf->name, u->hostport,
		    atomic_load(&u->health->failures), shm_fail_reason_name(a->reason), cool);
		break;
	case HEALTH_BECAME_HEALTHY:
		counter_add(&u->stats->state_changes[0], 1);
		log_notice("event=backend_healthy backend=%s addr=%s", u->conf->name,
		    u->hostport);
		break;
	case HEALTH_PROBE_FAILED:
		log_warnx("event=backend_probe_failed backend=%s addr=%s reason=%s "
		    "cooldown_s=%.3g", u->conf->name, u->hostport,
		    shm_fail_reason_name(a->reason), cool);
		break;
	case HEALTH_NO_CHANGE:
		break;
	}
}

static void
attempt_failed(struct exchange *x, struct attempt *a)
{
	struct proxy	*p = x->p;
	struct upstream	*u = &p->up[a->i];

	counter_add(&u->stats->failures[a->reason], 1);
	log_warnx("event=backend_failure request_id=%s backend=%s addr=%s attempt=%u "
	    "reason=%s error=\"%s%s%s\"", x->id, u->conf->name, u->hostport, x->attempts,
	    shm_fail_reason_name(a->reason), a->what, a->err ? ": " : "",
	    a->err ? strerror(a->err) : "");
	health_log(p, a->i, health_failure(u->health, clock_now_ns(), &p->lb.health,
	    a->probing), a);
}

static int
relay_sink(void *ctx, const char *data, size_t len)
{
	struct attempt	*a = ctx;
	struct outbuf	*ob = &a->c->out;

	if (a->framing == FRAME_CHUNKED)
		outbuf_chunk_size(ob, len);
	outbuf_put(ob, data, len);
	if (a->framing == FRAME_CHUNKED)
		outbuf_put(ob, "\r\n", 2);
	return ob->failed ? -1 : 0;
}

static enum body_framing
response_framing(const struct conn *c, const struct attempt *a, uint64_t *length)
{
	int	status = http_head_status(&a->resp);

	if (status == 204 || (status >= 100 && status < 200))
		return FRAME_NONE;
	if (http_head_has_length(&a->resp)) {
		*length = http_head_length(&a->resp);
		return FRAME_LENGTH;
	}
	if (a->resp.skip_body || status == 304)
		return FRAME_NONE;
	/* Chunked, or framed by the backend's close: re-chunk for HTTP/1.1 clients. */
	return http_head_minor(&c->req) >= 1 ? FRAME_CHUNKED : FRAME_CLOSE;
}

/* When the response must be all through, by response_timeout; INT64_MAX for never. */
static int64_t
response_end(const struct proxy *p, const struct attempt *a)
{
	if (p->conf->response_timeout_ms == 0)
		return INT64_MAX;
	return a->start + (int64_t)p->conf->response_timeout_ms * NS_PER_MS;
}

/*
 * The backend's response head is complete: count the attempt a success and
 * queue the client's response head. From here on nothing can be retried.
 */
static int
response_begin(struct conn *c, struct exchange *x, struct attempt *a)
{
	struct proxy		*p = x->p;
	struct upstream		*u = &p->up[a->i];
	struct rewrite_response	 rr;
	size_t			 hlen;

	memset(&rr, 0, sizeof(rr));
	rr.request_id = x->id;
	rr.framing = response_framing(c, a, &rr.length);
	rr.client_minor = http_head_minor(&c->req);
	if (rr.framing == FRAME_CLOSE)
		c->close = 1;
	rr.keep_alive = !c->close;
	/* Its own buffer: hbuf may still be on its way to the backend. */
	hlen = rewrite_response_head(p->rhbuf, p->hcap, &a->resp, &rr);
	if (hlen == 0) {
		attempt_fail(a, FAIL_BAD_RESPONSE, "response head too large to rewrite", 0);
		return -1;
	}
	histogram_observe(&u->stats->latency, (uint64_t)(clock_now_ns() - a->start) /
	    NS_PER_US);
	counter_add(&u->stats->responses[shm_code_index(http_head_status(&a->resp))], 1);
	health_log(p, a->i, health_success(u->health), a);
	a->began = 1;
	a->framing = rr.framing;
	x->status = http_head_status(&a->resp);
	x->head_sent = 1;
	outbuf_init(&c->out, c->fd, (int64_t)p->conf->read_timeout_ms * NS_PER_MS);
	outbuf_end(&c->out, response_end(p, a));
	outbuf_put(&c->out, p->rhbuf, hlen);
	a->resp.on_body = relay_sink;
	a->resp.body_ctx = a;
	return 0;
}

/* Parse what bbuf holds: the head, then body bytes on to the client. 0, or -1. */
static int
response_feed(struct conn *c, struct exchange *x, struct attempt *a)
{
	struct proxy	*p = x->p;
	long		 used;

	for (;;) {
		used = http_head_feed(&a->resp, p->bbuf + a->rpos, a->rlen - a->rpos);
		if (used < 0) {
			if (!a->began)
				attempt_fail(a, FAIL_BAD_RESPONSE,
				    http_head_error_reason(&a->resp), 0);
			return -1;
		}
		a->rpos += (size_t)used;
		if (!a->resp.head_complete || a->began)
			return 0;
		if (response_begin(c, x, a) == -1)
			return -1;
	}
}

/* Read once from the backend into bbuf before deadline: >0, 0 at EOF, or IO_*. */
static ssize_t
response_read(struct proxy *p, struct attempt *a, int64_t deadline)
{
	ssize_t	n;

	/* Once the head is on its way, its bytes are no longer needed. */
	if (a->began && a->rpos == a->rlen)
		a->rpos = a->rlen = 0;
	if (a->rlen == BACKEND_BUF)
		return IO_BUF_FULL;
	n = io_read(a->fd, p->bbuf + a->rlen, BACKEND_BUF - a->rlen, deadline);
	if (n > 0) {
		a->rlen += (size_t)n;
		a->got_bytes = 1;
		counter_add(&p->up[a->i].stats->bytes_out, (uint64_t)n);
	}
	return n;
}

/*
 * Called while a streamed request body waits for the backend to take more:
 * the backend has something to say (an early answer, or an echo), so read
 * and relay it now, or both sides would wait on each other.
 */
static int
response_while_sending(void *ctx)
{
	struct attempt	*a = ctx;
	ssize_t		 n;

	if (a->resp.msg_complete)
		return -1;	/* answered in full: stop sending */
	n = response_read(a->p, a, 0);
	if (n == IO_TIMEOUT)
		return 0;	/* nothing after all */
	if (n <= 0) {
		if (!a->began)
			attempt_fail(a, n == 0 ? FAIL_RESET : FAIL_BAD_RESPONSE,
			    n == 0 ? "closed before the response head" : "read",
			    n == IO_ERROR ? errno : 0);
		return -1;
	}
	if (response_feed(a->c, a->x, a) == -1)
		return -1;
	outbuf_flush(&a->c->out);
	return a->c->out.failed ? -1 : 0;
}

/* Read the response head within request_timeout (and response_timeout) of the start. */
static int
attempt_read_head(struct conn *c, struct attempt *a)
{
	struct proxy	*p = a->p;
	int64_t		 deadline, end = response_end(p, a);
	ssize_t		 n;

	deadline = a->start + (int64_t)p->conf->request_timeout_ms * NS_PER_MS;
	if (end < deadline)
		deadline = end;
	while (!a->began) {
		if (response_feed(c, a->x, a) == -1)
			return -1;
		if (a->began)
			break;
		n = response_read(p, a, deadline);
		if (n == IO_BUF_FULL) {
			attempt_fail(a, FAIL_BAD_RESPONSE, "response head too large", 0);
			return -1;
		}
		if (n == 0) {
			attempt_fail(a, FAIL_RESET, "closed before the response head", 0);
			return -1;
		}
		if (n < 0) {
			attempt_fail(a, n == IO_TIMEOUT ? FAIL_TIMEOUT : FAIL_RESET,
			    "read", n == IO_TIMEOUT ? ETIMEDOUT : errno);
			return -1;
		}
	}
	return 0;
}

/*
 * The response was cut mid-body: the backend stopped (n is IO_EOF,
 * IO_TIMEOUT or IO_ERROR with errno), or response_timeout (end) passed.
 */
static void
response_truncated(struct proxy *p, struct exchange *x, struct attempt *a, ssize_t n,
    int64_t end)
{
	log_warnx("event=response_truncated request_id=%s backend=%s error=\"%s\"",
	    x->id, p->up[a->i].conf->name, n == IO_EOF ? "EOF" :
	    n != IO_TIMEOUT ? strerror(errno) :
	    clock_now_ns() >= end ? "response_timeout" : "read timeout");
}

/* The worker's splice pipe, made on first use: 0, or -1 to copy instead. */
static int
relay_pipe(struct proxy *p)
{
	if (p->pipe[0] != -1)
		return 0;
	if (pipe2(p->pipe, O_CLOEXEC | O_NONBLOCK) == -1) {
		log_warn("event=splice_pipe");
		p->pipe[0] = p->pipe[1] = -1;
		return -1;
	}
	/* Fewer, larger steps; the default size stays if the system says no. */
	(void)fcntl(p->pipe[1], F_SETPIPE_SZ, SPLICE_PIPE_SIZE);
	return 0;
}

/*
 * Move the rest of a Content-Length body from backend to client with
 * splice(2), then let the parser count the bytes it did not see. 0 when all
 * arrived; otherwise IO_* (as io_splice) with *failed the fd at fault; 1 when
 * there is no pipe and the caller should copy instead.
 */
static int
relay_splice(struct conn *c, struct exchange *x, struct attempt *a, int64_t gap,
    int64_t end, int *failed)
{
	struct proxy	*p = x->p;
	uint64_t	 left = http_head_length(&a->resp), nin, nout;
	long		 used;
	int		 rc;

	if (relay_pipe(p) == -1)
		return 1;
	rc = io_splice(a->fd, c->fd, p->pipe, left, gap, end, &nin, &nout, failed);
	counter_add(&p->up[a->i].stats->bytes_out, nin);
	x->bytes_out += nout;
	if (rc != 0) {
		/* Bytes may be stuck in the pipe: a new one next time. */
		close(p->pipe[0]);
		close(p->pipe[1]);
		p->pipe[0] = p->pipe[1] = -1;
		return rc;
	}
	a->resp.on_body = NULL;
	while (left > 0 && !a->resp.msg_complete) {
		used = http_head_feed(&a->resp, p->bbuf, left > BACKEND_BUF ?
		    BACKEND_BUF : (size_t)left);
		if (used <= 0)
			return IO_ERROR;
		left -= (uint64_t)used;
	}
	return 0;
}

/*
 * Stream the rest of the response body to the client, each wait within
 * read_timeout and all of it by response_timeout. Returns 0 when the
 * backend connection ended cleanly and may be pooled, 1 when it must be
 * closed, -1 when the client connection is broken too.
 */
static int
relay_response(struct conn *c, struct exchange *x, struct attempt *a)
{
	struct proxy	*p = x->p;
	int64_t		 gap = (int64_t)p->conf->read_timeout_ms * NS_PER_MS;
	int64_t		 end = response_end(p, a);
	ssize_t		 n;
	int		 failed;

	for (;;) {
		if (response_feed(c, x, a) == -1) {
			if (!c->out.failed)
				log_warnx("event=bad_response_body request_id=%s backend=%s "
				    "error=\"%s\"", x->id, p->up[a->i].conf->name,
				    http_head_error_reason(&a->resp));
			break;
		}
		if (a->resp.msg_complete || a->rpos != a->rlen)
			break;
		/* Nothing more to parse: send what we have before waiting. */
		if (outbuf_flush(&c->out) != 0)
			break;
		if (a->framing == FRAME_LENGTH &&
		    http_head_length(&a->resp) >= SPLICE_MIN &&
		    (n = relay_splice(c, x, a, gap, end, &failed)) != 1) {
			if (n == 0)
				continue;
			if (failed == a->fd || clock_now_ns() >= end)
				response_truncated(p, x, a, n, end);
			c->close = 1;
			x->bytes_out += c->out.total;
			return -1;
		}
		n = response_read(p, a, io_until(gap, end));
		if (n == 0 && http_head_needs_eof(&a->resp) &&
		    http_head_finish(&a->resp) == 0)
			break;
		if (n <= 0) {
			response_truncated(p, x, a, n == 0 ? IO_EOF : n, end);
			c->close = 1;
			outbuf_flush(&c->out);
			x->bytes_out += c->out.total;
			return -1;
		}
	}
	if (a->resp.msg_complete && a->framing == FRAME_CHUNKED)
		outbuf_put(&c->out, "0\r\n\r\n", 5);
	outbuf_flush(&c->out);
	x->bytes_out += c->out.total;
	if (c->out.failed == IO_TIMEOUT && clock_now_ns() >= end)
		response_truncated(p, x, a, IO_TIMEOUT, end);	/* a slow reader */
	if (c->out.failed || !a->resp.msg_complete) {
		c->close = 1;
		return -1;
	}
	/* Bytes past the response, or a backend that closes: do not pool it. */
	if (a->rpos != a->rlen || !http_head_keep_alive(&a->resp) ||
	    http_head_needs_eof(&a->resp))
		return 1;
	return 0;
}

/* What the retry policy needs to know of a failed attempt. */
static struct retry_facts
attempt_facts(const struct conn *c, const struct body *b, const struct attempt *a)
{
	struct retry_facts	f;

	f.wrote = a->wrote;
	f.body = b->streaming || http_head_chunked(&c->req) || http_head_has_length(&c->req);
	f.body_kept = b->kept;
	f.idempotent = method_idempotent(c->req.method, c->req.methodlen);
	f.reused = a->reused;
	f.got_bytes = a->got_bytes;
	f.reason = a->reason;
	return f;
}

/* Read (or refuse) what comes before the first attempt: expectations, limits, small bodies. */
static int
request_prepare(struct conn *c, struct body *b)
{
	struct proxy			*p = b->p;
	const struct http_header	*ex;
	enum body_result		 br;
	uint64_t			 max = p->conf->max_body_size;

	if (http_head_has_length(&c->req) && max != 0 && http_head_length(&c->req) > max)
		return 413;
	ex = http_head_find(&c->req, "expect");
	if (ex != NULL) {
		if (!http_token_eq(ex->value, ex->valuelen, "100-continue"))
			return 417;
		/* The proxy takes the expectation on itself and asks for the body. */
		if (http_head_minor(&c->req) >= 1 && !c->req.msg_complete &&
		    io_write(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, clock_now_ns() +
		    (int64_t)p->conf->read_timeout_ms * NS_PER_MS) != 0)
			return -1;
	}
	/* The body's clock starts once the head is in; what came with it counts. */
	rate_init(&b->rate, (int64_t)p->conf->client_body_initial_timeout_ms * NS_PER_MS,
	    p->conf->client_body_min_rate,
	    (int64_t)p->conf->client_body_max_timeout_ms * NS_PER_MS);
	rate_add(&b->rate, c->len - c->pos, 0);
	c->req.on_body = body_sink;
	c->req.body_ctx = b;
	br = body_pump(b);
	switch (br) {
	case BODY_OK:
		b->kept = c->req.msg_complete;
		return 0;
	case BODY_TOO_LARGE:
		return 413;
	case BODY_CLIENT_TIMEOUT:
		return 408;
	case BODY_BAD:
		return 400;
	case BODY_CLIENT_GONE:
	case BODY_BACKEND:
		break;
	}
	return -1;
}

/* Begin an attempt on backend i: it counts as in flight until attempt_end(). */
static void
attempt_start(struct proxy *p, struct attempt *a, int i, enum lb_pick how)
{
	memset(a, 0, sizeof(*a));
	a->i = i;
	a->fd = -1;
	a->probing = how != LB_PICK_HEALTHY;
	atomic_fetch_add_explicit(&p->up[i].stats->inflight, 1, memory_order_relaxed);
}

/* End an attempt: the one place its connection and in-flight count are released. */
static void
attempt_end(struct proxy *p, struct attempt *a, int pool)
{
	atomic_fetch_sub_explicit(&p->up[a->i].stats->inflight, 1, memory_order_relaxed);
	if (a->fd < 0)
		return;
	if (pool)
		upstream_put(&p->up[a->i], a->fd);
	else
		close(a->fd);
	a->fd = -1;
}

/* The next backend to try, or -1 when there is none left. */
static int
exchange_pick(struct proxy *p, struct exchange *x, uint64_t *tried, int last,
    enum lb_pick *how)
{
	int	i;

	i = lb_next(&p->lb, *tried, clock_now_ns(), how);
	if (i < 0 && last >= 0) {
		/* All tried: go round again, but not straight back to the last one. */
		*tried = p->conf->nbackends > 1 ? UINT64_C(1) << last : 0;
		i = lb_next(&p->lb, *tried, clock_now_ns(), how);
	}
	if (i >= 0) {
		x->attempts++;
		x->backend = i;
		log_debug("event=select request_id=%s backend=%s attempt=%u how=%s", x->id,
		    p->up[i].conf->name, x->attempts, *how == LB_PICK_HEALTHY ?
		    "round_robin" : *how == LB_PICK_PROBE ? "probe" : "fallback");
	}
	return i;
}

/* One try on backend i, once more on a fresh connection when a pooled one was stale. */
static int
attempt_try(struct conn *c, struct exchange *x, struct body *b, struct attempt *a, int i,
    enum lb_pick how)
{
	struct proxy		*p = x->p;
	struct retry_facts	 facts;
	int			 rc;

	attempt_start(p, a, i, how);
	rc = attempt_run(c, x, b, a);
	if (rc != -1)
		return rc;
	facts = attempt_facts(c, b, a);
	if (retry_fresh(&facts)) {
		log_info("event=stale_connection request_id=%s backend=%s "
		    "action=retry_fresh", x->id, p->up[i].conf->name);
		attempt_end(p, a, 0);
		upstream_close_idle(&p->up[i]);
		attempt_start(p, a, i, how);
		rc = attempt_run(c, x, b, a);
	}
	return rc;
}

/* The client stalled, left or sent a bad body (rc, a body_result) during attempt a. */
static int
exchange_client_failed(struct conn *c, struct exchange *x, struct attempt *a, int rc)
{
	attempt_end(x->p, a, 0);
	c->close = 1;
	if (a->began)
		return -1;	/* its response is on the way: just end */
	if (rc == BODY_CLIENT_TIMEOUT)
		proxy_send_error(c, x, 408);
	else if (rc == BODY_TOO_LARGE)
		proxy_send_error(c, x, 413);
	else if (rc == BODY_BAD)
		proxy_send_error(c, x, 400);
	else
		x->status = 499;	/* the client left mid-body: nothing to answer */
	return -1;
}

/* The response head came: relay the rest, then pool the backend connection if it ended cleanly. */
static int
exchange_relay(struct conn *c, struct exchange *x, struct attempt *a)
{
	int	rc;

	rc = relay_response(c, x, a);
	attempt_end(x->p, a, rc == 0 && c->req.msg_complete);
	if (!c->req.msg_complete)
		c->close = 1;	/* answered before the whole body came */
	return c->close ? -1 : 0;
}

int
proxy_exchange(struct conn *c, struct exchange *x)
{
	struct proxy		*p = x->p;
	struct body		 b;
	struct attempt		 a;
	struct retry_facts	 facts;
	enum lb_pick		 how;
	uint64_t		 tried = 0;
	unsigned		 max_attempts = 1 + p->conf->max_retries;
	int			 rc, i, last_timeout = 0, last = -1;

	memset(&b, 0, sizeof(b));
	b.p = p;
	b.c = c;
	b.x = x;
	if ((rc = request_prepare(c, &b)) != 0) {
		c->close = 1;
		if (rc > 0)
			proxy_send_error(c, x, rc);
		else
			x->status = 499;	/* the client left before its body was in */
		return -1;
	}
	while (x->attempts < max_attempts && (i = exchange_pick(p, x, &tried, last, &how)) >= 0) {
		rc = attempt_try(c, x, &b, &a, i, how);
		if (rc > 0)
			return exchange_client_failed(c, x, &a, rc);
		if (rc == 0)
			return exchange_relay(c, x, &a);
		attempt_end(p, &a, 0);
		if (a.began) {
			/* The response had begun: the client's connection is all we can end. */
			outbuf_flush(&c->out);
			x->bytes_out += c->out.total;
			c->close = 1;
			return -1;
		}
		attempt_failed(x, &a);
		last = i;
		last_timeout = a.reason == FAIL_TIMEOUT || a.reason == FAIL_CONNECT_TIMEOUT;
		tried |= UINT64_C(1) << i;
		facts = attempt_facts(c, &b, &a);
		if (!retry_another(&facts))
			break;
		if (x->attempts < max_attempts) {
			counter_add(&p->up[i].stats->retries, 1);
			log_info("event=retry request_id=%s backend=%s attempt=%u reason=%s",
			    x->id, p->up[i].conf->name, x->attempts,
			    shm_fail_reason_name(a.reason));
		}
	}
	if (!c->req.msg_complete)
		c->close = 1;	/* unread body: the connection cannot go on */
	proxy_send_error(c, x, last_timeout ? 504 : 502);
	return c->close ? -1 : 0;
}
