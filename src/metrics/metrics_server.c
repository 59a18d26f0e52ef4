/* metrics_server.c: the metrics process's non-blocking HTTP endpoint that serves /metrics. */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "http_head.h"
#include "http_status.h"
#include "log.h"
#include "metrics.h"
#include "metrics_server.h"
#include "net.h"

/*
 * One thread serves every scraper, so nothing here may block: every socket is
 * non-blocking, the connection table is fixed, and each connection has a
 * deadline after which it is simply closed.
 */
#define MS_TIMEOUT_MS		5000	/* whole exchange, accept to last byte */
#define MS_LINGER_MS		1000	/* after our response, reading what the client still sends */
#define MS_INBUF		4096	/* request head limit */
#define MS_MAXHEADERS		32
#define MS_ACCEPT_PAUSE_MS	100	/* out of descriptors: stop polling the socket a while */
#define MS_LINGER_READS		16	/* reads per wake-up while lingering */

#define MS_CONTENT_TYPE		"text/plain; version=0.0.4; charset=utf-8"

enum ms_state {
	MS_FREE = 0,
	MS_READ,	/* reading the request head */
	MS_WRITE,	/* sending the response */
	MS_LINGER,	/* response sent and write side shut: wait for the client's close */
};

struct ms_conn {
	int			 fd;
	enum ms_state		 state;
	int64_t			 deadline;
	int			 pollidx;	/* in this round's pfd, or -1 */

	char			 in[MS_INBUF];
	size_t			 inlen;
	struct http_head	 head;
	struct http_header	 headers[MS_MAXHEADERS];

	char			 out[512];	/* response head */
	size_t			 outlen;
	char			*body;		/* malloc'd, or NULL */
	size_t			 bodylen;
	size_t			 sent;		/* of out and then body */
};

struct metrics_server {
	const struct shm_region	*r;
	int			 fd;		/* -1: disabled */
	int			 pollidx;
	int64_t			 accept_paused_until;
	struct ms_conn		 conns[METRICS_CONN_MAX];
};

static void
ms_conn_close(struct ms_conn *c)
{
	if (c->fd != -1)
		close(c->fd);
	free(c->body);
	c->body = NULL;
	c->fd = -1;
	c->state = MS_FREE;
}

struct metrics_server *
metrics_server_new(int fd, const struct shm_region *r, char *err, size_t errlen)
{
	struct metrics_server	*ms;
	size_t			 i;

	if ((ms = calloc(1, sizeof(*ms))) == NULL) {
		snprintf(err, errlen, "metrics: calloc: %s", strerror(errno));
		return NULL;
	}
	ms->r = r;
	ms->fd = fd;
	for (i = 0; i < METRICS_CONN_MAX; i++)
		ms->conns[i].fd = -1;
	if (net_set_nonblock(ms->fd) == -1) {
		snprintf(err, errlen, "metrics: fcntl O_NONBLOCK: %s", strerror(errno));
		free(ms);
		return NULL;
	}
	return ms;
}

nfds_t
metrics_server_pollfds(struct metrics_server *ms, struct pollfd *pfd, nfds_t max,
    int64_t *wake)
{
	struct ms_conn	*c;
	nfds_t		 n = 0;
	size_t		 i;
	int		 room = 0;

	ms->pollidx = -1;
	for (i = 0; i < METRICS_CONN_MAX; i++) {
		c = &ms->conns[i];
		c->pollidx = -1;
		if (c->state == MS_FREE) {
			room = 1;
			continue;
		}
		if (n == max)
			continue;
		pfd[n].fd = c->fd;
		pfd[n].events = c->state == MS_WRITE ? POLLOUT : POLLIN;
		pfd[n].revents = 0;
		c->pollidx = (int)n++;
		if (c->deadline < *wake)
			*wake = c->deadline;
	}
	/* A full table leaves new scrapes in the kernel's backlog until one ends. */
	if (room && n < max && ms->fd != -1) {
		if (ms->accept_paused_until == 0) {
			pfd[n].fd = ms->fd;
			pfd[n].events = POLLIN;
			pfd[n].revents = 0;
			ms->pollidx = (int)n++;
		} else if (ms->accept_paused_until < *wake)
			*wake = ms->accept_paused_until;
	}
	return n;
}

/* Queue a response and send what the socket takes now. */
static void ms_conn_write(struct ms_conn *c);

static void
ms_respond(struct ms_conn *c, int status, const char *reason, const char *extra,
    char *body, size_t bodylen, int head_only)
{
	int	n;

	n = snprintf(c->out, sizeof(c->out), "HTTP/1.1 %d %s\r\n"
	    "Content-Type: %s\r\n"
	    "Content-Length: %zu\r\n"
	    "%s"
	    "Connection: close\r\n"
	    "\r\n", status, reason,
	    status == 200 ? MS_CONTENT_TYPE : "text/plain; charset=utf-8", bodylen,
	    extra != NULL ? extra : "");
	c->outlen = n > 0 && (size_t)n < sizeof(c->out) ? (size_t)n : 0;
	free(c->body);
	c->body = body;
	c->bodylen = head_only ? 0 : bodylen;
	c->sent = 0;
	c->state = MS_WRITE;
	ms_conn_write(c);
}

/* A short fixed body, copied so that every response owns a malloc'd one. */
static void
ms_respond_text(struct ms_conn *c, int status, const char *extra, int head_only)
{
	const char	*reason = http_status_reason(status);
	char		*body;
	size_t		 len;

	len = strlen(reason) + 1;
	if ((body = malloc(len + 1)) == NULL) {
		ms_conn_close(c);
		return;
	}
	snprintf(body, len + 1, "%s\n", reason);
	ms_respond(c, status, reason, extra, body, len, head_only);
}

/* The head is complete: route it. */
static void
ms_dispatch(struct metrics_server *ms, struct ms_conn *c)
{
	const struct http_head	*h = &c->head;
	size_t			 pathlen;
	char			*body;
	size_t			 len;
	int			 head_only;

	head_only = http_token_eq(h->method, h->methodlen, "HEAD");
	if (!head_only && !http_token_eq(h->method, h->methodlen, "GET")) {
		ms_respond_text(c, 405, "Allow: GET, HEAD\r\n", 0);
		return;
	}
	/* The query string does not select anything. */
	for (pathlen = 0; pathlen < h->urllen && h->url[pathlen] != '?'; pathlen++)
		;
	if (!(pathlen == 1 && h->url[0] == '/') &&
	    !(pathlen == 8 && memcmp(h->url, "/metrics", 8) == 0)) {
		ms_respond_text(c, 404, NULL, head_only);
		return;
	}
	switch (metrics_render(ms->r, &body, &len)) {
	case METRICS_OK:
		ms_respond(c, 200, "OK", NULL, body, len, head_only);
		break;
	case METRICS_BUSY:
		log_warnx("event=metrics_scrape error=\"the master's reaps overlapped every "
		    "reading\"");
		ms_respond_text(c, 503, "Retry-After: 1\r\n", head_only);
		break;
	case METRICS_NOMEM:
		log_warnx("event=metrics_scrape error=\"out of memory\"");
		ms_respond_text(c, 500, NULL, head_only);
		break;
	}
}

static void
ms_conn_read(struct metrics_server *ms, struct ms_conn *c)
{
	ssize_t	n;
	long	used;

	for (;;) {
		if (c->inlen == sizeof(c->in)) {
			ms_respond_text(c, 431, NULL, 0);
			return;
		}
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* Closed or reset before a whole head: nobody to answer. */
			ms_conn_close(c);
			return;
		}
		/* Feed only the new bytes: the parser's spans point into c->in. */
		used = http_head_feed(&c->head, c->in + c->inlen, (size_t)n);
		c->inlen += (size_t)n;
		if (used == -1) {
			ms_respond_text(c, http_head_error_status(c->head.error), NULL, 0);
			return;
		}
		if (c->head.head_complete) {
			ms_dispatch(ms, c);
			return;
		}
	}
}

static void
ms_conn_write(struct ms_conn *c)
{
	struct msghdr	 msg;
	struct iovec	 iov[2];
	ssize_t		 n;
	size_t		 total = c->outlen + c->bodylen;

	while (c->sent < total) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		if (c->sent < c->outlen) {
			iov[0].iov_base = c->out + c->sent;
			iov[0].iov_len = c->outlen - c->sent;
			iov[1].iov_base = c->body;
			iov[1].iov_len = c->bodylen;
			msg.msg_iovlen = c->bodylen > 0 ? 2 : 1;
		} else {
			iov[0].iov_base = c->body + (c->sent - c->outlen);
			iov[0].iov_len = total - c->sent;
			msg.msg_iovlen = 1;
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			ms_conn_close(c);
			return;
		}
		c->sent += (size_t)n;
	}
	free(c->body);
	c->body = NULL;
	/*
	 * Closing with unread request bytes would reset the connection and could
	 * destroy the response in flight: half-close, then read until the client
	 * closes or a short linger ends.
	 */
	shutdown(c->fd, SHUT_WR);
	c->state = MS_LINGER;
	if (c->deadline > clock_now_ns() + MS_LINGER_MS * NS_PER_MS)
		c->deadline = clock_now_ns() + MS_LINGER_MS * NS_PER_MS;
}

static void
ms_conn_linger(struct ms_conn *c)
{
	char	buf[4096];
	ssize_t	n = 1;
	int	i;

	for (i = 0; i < MS_LINGER_READS; i++) {
		n = read(c->fd, buf, sizeof(buf));
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			break;
	}
	if (n <= 0)
		ms_conn_close(c);
}

static void
ms_conn_io(struct metrics_server *ms, struct ms_conn *c)
{
	switch (c->state) {
	case MS_READ:
		ms_conn_read(ms, c);
		break;
	case MS_WRITE:
		ms_conn_write(c);
		break;
	case MS_LINGER:
		ms_conn_linger(c);
		break;
	case MS_FREE:
		break;
	}
}

static void
ms_accept(struct metrics_server *ms)
{
	struct ms_conn	*c;
	size_t		 i;
	int		 fd;

	for (i = 0; i < METRICS_CONN_MAX; i++) {
		c = &ms->conns[i];
		if (c->state != MS_FREE)
			continue;
		fd = accept4(ms->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* Polling a socket we cannot accept from would spin. */
				log_warn("event=metrics_accept action=pause_ms_%d",
				    MS_ACCEPT_PAUSE_MS);
				ms->accept_paused_until = clock_now_ns() +
				    MS_ACCEPT_PAUSE_MS * NS_PER_MS;
			}
			return;	/* EAGAIN: backlog empty; ECONNABORTED, EINTR: next round */
		}
		c->fd = fd;
		c->state = MS_READ;
		c->deadline = clock_now_ns() + MS_TIMEOUT_MS * NS_PER_MS;
		c->inlen = 0;
		c->body = NULL;
		c->pollidx = -1;
		http_head_init(&c->head, HTTP_REQUEST, c->headers, MS_MAXHEADERS,
		    sizeof(c->in) / 2);
		/* The request usually arrives with the connection: try it now. */
		ms_conn_read(ms, c);
	}
}

void
metrics_server_handle(struct metrics_server *ms, const struct pollfd *pfd, nfds_t n)
{
	struct ms_conn	*c;
	int64_t		 now;
	size_t		 i;

	for (i = 0; i < METRICS_CONN_MAX; i++) {
		c = &ms->conns[i];
		if (c->state != MS_FREE && c->pollidx >= 0 && (nfds_t)c->pollidx < n &&
		    pfd[c->pollidx].revents != 0)
			ms_conn_io(ms, c);
	}
	now = clock_now_ns();
	for (i = 0; i < METRICS_CONN_MAX; i++) {
		c = &ms->conns[i];
		if (c->state != MS_FREE && now >= c->deadline)
			ms_conn_close(c);
	}
	if (ms->accept_paused_until != 0 && now >= ms->accept_paused_until)
		ms->accept_paused_until = 0;
	if (ms->fd != -1 && ms->pollidx >= 0 && (nfds_t)ms->pollidx < n &&
	    pfd[ms->pollidx].revents != 0)
		ms_accept(ms);
	/* Entries were consumed: the next round's pollfds renumbers them. */
	ms->pollidx = -1;
	for (i = 0; i < METRICS_CONN_MAX; i++)
		ms->conns[i].pollidx = -1;
}

void
metrics_server_stop_accepting(struct metrics_server *ms)
{
	if (ms->fd != -1)
		close(ms->fd);
	ms->fd = -1;
}

void
metrics_server_drop_unanswered(struct metrics_server *ms)
{
	size_t	i;

	for (i = 0; i < METRICS_CONN_MAX; i++)
		if (ms->conns[i].state == MS_READ)
			ms_conn_close(&ms->conns[i]);
}

int
metrics_server_busy(const struct metrics_server *ms)
{
	size_t	i;

	for (i = 0; i < METRICS_CONN_MAX; i++)
		if (ms->conns[i].state != MS_FREE)
			return 1;
	return 0;
}

void
metrics_server_close(struct metrics_server *ms)
{
	size_t	i;

	if (ms == NULL)
		return;
	for (i = 0; i < METRICS_CONN_MAX; i++)
		if (ms->conns[i].state != MS_FREE)
			ms_conn_close(&ms->conns[i]);
	if (ms->fd != -1)
		close(ms->fd);
	free(ms);
}
