/*
 * rproxyd-backend: the demo HTTP/1.x origin server that the rproxyd demo
 * and integration tests run behind the proxy.
 *
 * One detached thread per connection, blocking I/O, llhttp for parsing.
 * Every buffer is fixed-size, so arbitrarily large request and response
 * bodies stream through constant memory.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "http_status.h"
#include "llhttp.h"

#define RBUF_SIZE	16384		/* socket reads */
#define OBUF_SIZE	32768		/* response coalescing */
#define URL_MAX		8192		/* request target, incl. NUL */
#define HBUF_MAX	65536		/* all header names and values */
#define HDR_MAX		128		/* header lines per request */
#define NAME_MAX_LEN	64
#define SLEEP_MAX	600000		/* /sleep/MS upper bound, ms */
#define IO_TIMEOUT	60		/* idle read/write timeout, s */
#define LINGER_SEC	2		/* drain before close: idle time, */
#define LINGER_MAX	(1024 * 1024)	/* and at most this much input */
#define THREAD_STACK	(256 * 1024)
#define LOGLINE_MAX	2048

enum frame { FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE, FRAME_NONE };

struct hdr {
	size_t		 name, namelen;		/* offsets into hbuf */
	size_t		 value, valuelen;
};

struct conn;

struct route {
	const char	*path;
	uint64_t	 argmax;	/* if not 0, path is a prefix for N */
	void		(*start)(struct conn *);	/* headers read */
	void		(*body)(struct conn *, const char *, size_t);
	void		(*done)(struct conn *);		/* request read */
};

struct conn {
	int		 fd;
	char		 peer[NI_MAXHOST + NI_MAXSERV + 4];
	llhttp_t	 parser;

	/* The request being parsed; reset by on_message_begin(). */
	struct timespec	 start;
	uint64_t	 seq;
	const char	*method;	/* NULL until the headers are read */
	const struct route *route;
	uint64_t	 arg;
	int		 head;		/* HEAD: headers only */
	int		 keepalive;
	uint64_t	 body_bytes;
	char		 url[URL_MAX];
	size_t		 urllen;
	char		 hbuf[HBUF_MAX];
	size_t		 hlen;
	struct hdr	 hdrs[HDR_MAX];
	size_t		 nhdrs;
	int		 inhdr;		/* a header line is half-parsed */

	/* The response. */
	int		 status;
	int		 started;	/* head written: too late for a 400 */
	int		 close;		/* close the connection afterwards */
	int		 chunked;
	int		 failed;	/* a write failed; drop the connection */
	uint64_t	 sent;		/* body bytes */

	/* Output buffer; while counting, output is only measured. */
	int		 counting;
	uint64_t	 count;
	size_t		 olen;
	char		 obuf[OBUF_SIZE];
	char		 rbuf[RBUF_SIZE];
};

static const char	*name = "backend1";
static int		 quiet;
static int		 logfd = -1;
static char		 logpath[4096];	/* reopened on SIGUSR1 */
static atomic_uint_fast64_t nreq;	/* requests received */
static char		 pattern[26 * 630];	/* 16380: chunks stay <= 16 KiB */
static pthread_attr_t	 thread_attr;

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: rproxyd-backend [-hq] [-a addr] [-L logdir] "
	    "[-n name] [-p port]\n");
}

/* Print "NAME: message[: strerror]" and exit 1. */
static void
die(int errnum, const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (errnum)
		fprintf(stderr, "%s: %s: %s\n", name, msg, strerror(errnum));
	else
		fprintf(stderr, "%s: %s\n", name, msg);
	syslog(LOG_ERR, "%s%s%s", msg, errnum ? ": " : "",
	    errnum ? strerror(errnum) : "");
	exit(1);
}

/* One line to syslog, stderr and the log file; one write() each. */
static void
logmsg(const char *fmt, ...)
{
	char	 line[LOGLINE_MAX];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	syslog(LOG_INFO, "%s", line);
	line[n++] = '\n';
	/* Logging is best effort: a full disk must not stop serving. */
	if (!quiet && write(STDERR_FILENO, line, n) == -1) {
		/* nothing to do */
	}
	if (logfd != -1 && write(logfd, line, n) == -1) {
		/* nothing to do */
	}
}

/* Copy untrusted bytes for a log line; hex-escape anything odd. */
static const char *
logsafe(char *dst, size_t dstsz, const char *s, size_t n)
{
	size_t		 i, j = 0;
	unsigned char	 ch;

	/* Long values are cut short: a log line is not an archive. */
	for (i = 0; i < n && j + 4 < dstsz; i++) {
		ch = s[i];
		if (ch > ' ' && ch < 0x7f && ch != '\\' && ch != '"')
			dst[j++] = ch;
		else
			j += snprintf(dst + j, dstsz - j, "\\x%02x", ch);
	}
	dst[j] = '\0';
	return j ? dst : "-";
}

/* Strict unsigned decimal: digits only, no sign, no overflow. */
static int
parse_num(const char *s, size_t len, uint64_t max, uint64_t *res)
{
	uint64_t	 v = 0;
	size_t		 i;

	/* 19 digits cannot overflow 64 bits. */
	if (len == 0 || len > 19)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*res = v;
	return 0;
}

static double
elapsed_ms(const struct timespec *t0)
{
	struct timespec	 now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1e3 +
	    (now.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * Output.  Everything goes through out(), which coalesces small pieces
 * (head plus a short body become one segment) and passes large ones
 * straight to the socket.  After the first failed write, output is
 * dropped and the connection is closed by the caller.
 */

static int
writeall(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		/* MSG_NOSIGNAL as well as SIG_IGN: belt and braces. */
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= w;
	}
	return 0;
}

static void
out_flush(struct conn *c)
{
	if (c->olen > 0 && !c->failed &&
	    writeall(c->fd, c->obuf, c->olen) == -1)
		c->failed = 1;
	c->olen = 0;
}

static void
out(struct conn *c, const void *p, size_t n)
{
	if (c->counting) {
		c->count += n;
		return;
	}
	if (c->failed)
		return;
	if (c->olen + n > sizeof(c->obuf))
		out_flush(c);
	if (n > sizeof(c->obuf)) {
		if (!c->failed && writeall(c->fd, p, n) == -1)
			c->failed = 1;
		return;
	}
	memcpy(c->obuf + c->olen, p, n);
	c->olen += n;
}

static void
outf(struct conn *c, const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* Callers only format short, bounded strings. */
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		c->failed = 1;
		return;
	}
	out(c, buf, n);
}

static struct hdr *
find_header(struct conn *c, const char *hname)
{
	size_t	 i, len = strlen(hname);

	for (i = 0; i < c->nhdrs; i++)
		if (c->hdrs[i].namelen == len && strncasecmp(hname,
		    c->hbuf + c->hdrs[i].name, len) == 0)
			return &c->hdrs[i];
	return NULL;
}

static int
http11(struct conn *c)
{
	return c->parser.http_major > 1 ||
	    (c->parser.http_major == 1 && c->parser.http_minor >= 1);
}

static void
resp_head(struct conn *c, int status, const char *type, enum frame frame,
    uint64_t len)
{
	struct hdr	*rid;

	/* HTTP/1.0 clients cannot parse chunked: frame by close instead. */
	if (frame == FRAME_CHUNKED && !http11(c))
		frame = FRAME_CLOSE;
	c->status = status;
	c->started = 1;
	outf(c, "HTTP/1.1 %d %s\r\nX-Backend: %s\r\nX-Backend-Seq: %" PRIu64
	    "\r\n", status, http_status_reason(status), name, c->seq);
	if ((rid = find_header(c, "X-Request-ID")) != NULL) {
		out(c, "X-Request-ID: ", 14);
		out(c, c->hbuf + rid->value, rid->valuelen);
		out(c, "\r\n", 2);
	}
	if (type != NULL && frame != FRAME_NONE)
		outf(c, "Content-Type: %s\r\n", type);
	switch (frame) {
	case FRAME_LENGTH:
		outf(c, "Content-Length: %" PRIu64 "\r\n", len);
		break;
	case FRAME_CHUNKED:
		out(c, "Transfer-Encoding: chunked\r\n", 28);
		c->chunked = 1;
		break;
	case FRAME_CLOSE:
		c->close = 1;
		break;
	case FRAME_NONE:
		break;
	}
	if (c->close || !c->keepalive)
		out(c, "Connection: close\r\n", 19);
	else if (!http11(c))
		out(c, "Connection: keep-alive\r\n", 24);
	out(c, "\r\n", 2);
}

/* A piece of response body, as a chunk if the response is chunked. */
static void
body(struct conn *c, const char *p, size_t n)
{
	if (c->head || n == 0)	/* an empty chunk would end the body */
		return;
	if (c->chunked) {
		outf(c, "%zx\r\n", n);
		out(c, p, n);
		out(c, "\r\n", 2);
	} else
		out(c, p, n);
	c->sent += n;
}

static void
body_end(struct conn *c)
{
	if (c->chunked && !c->head)
		out(c, "0\r\n\r\n", 5);
}

static void
resp_text(struct conn *c, int status, const char *fmt, ...)
{
	char	 buf[256];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		n = 0;
	if (status == 204 || status == 304) {
		resp_head(c, status, NULL, FRAME_NONE, 0);
		return;
	}
	resp_head(c, status, "text/plain", FRAME_LENGTH, n);
	body(c, buf, n);
}

/* N bytes of 'a' + (i % 26); each full piece is a multiple of 26 long. */
static void
resp_pattern(struct conn *c, uint64_t n, enum frame frame)
{
	size_t	 k;

	resp_head(c, 200, "application/octet-stream", frame, n);
	while (n > 0 && !c->head && !c->failed) {
		k = n < sizeof(pattern) ? n : sizeof(pattern);
		body(c, pattern, k);
		n -= k;
	}
	body_end(c);
}

static void
json_str(struct conn *c, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char		 esc[6] = { '\\', 'u', '0', '0', 0, 0 };
	size_t		 i, run = 0;
	unsigned char	 ch;

	out(c, "\"", 1);
	for (i = 0; i < n; i++) {
		ch = s[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\')
			continue;
		out(c, s + run, i - run);	/* the plain run before ch */
		run = i + 1;
		if (ch == '"')
			out(c, "\\\"", 2);
		else if (ch == '\\')
			out(c, "\\\\", 2);
		else {
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			out(c, esc, sizeof(esc));
		}
	}
	out(c, s + run, n - run);
	out(c, "\"", 1);
}

static void
headers_json(struct conn *c)
{
	struct hdr	*h;
	size_t		 i;

	/* The name is restricted to JSON-safe characters in main(). */
	outf(c, "{\"backend\":\"%s\",\"seq\":%" PRIu64 ",\"method\":",
	    name, c->seq);
	json_str(c, c->method, strlen(c->method));
	out(c, ",\"target\":", 10);
	json_str(c, c->url, c->urllen);
	outf(c, ",\"version\":\"%d.%d\",\"headers\":[",
	    c->parser.http_major, c->parser.http_minor);
	for (i = 0; i < c->nhdrs; i++) {
		h = &c->hdrs[i];
		out(c, i ? ",[" : "[", i ? 2 : 1);
		json_str(c, c->hbuf + h->name, h->namelen);
		out(c, ",", 1);
		json_str(c, c->hbuf + h->value, h->valuelen);
		out(c, "]", 1);
	}
	outf(c, "],\"body_bytes\":%" PRIu64 "}", c->body_bytes);
}

/*
 * Endpoints.  done() runs once the whole request, body included, has
 * been read; only /echo needs start() and body() to stream.
 */

static void
ep_hello(struct conn *c)
{
	resp_text(c, 200, "Hello from %s\n", name);
}

static void
ep_badarg(struct conn *c)
{
	resp_text(c, 400, "bad argument on %s\n", name);
}

static void
ep_sleep(struct conn *c)
{
	struct timespec	 ts;

	ts.tv_sec = c->arg / 1000;
	ts.tv_nsec = (c->arg % 1000) * 1000000;
	/* Termination signals are blocked here, but be safe anyway. */
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	resp_text(c, 200, "slept %" PRIu64 " ms on %s\n", c->arg, name);
}

static void
ep_status(struct conn *c)
{
	/* Interim 1xx responses cannot carry a final answer. */
	int	 code = c->arg >= 200 && c->arg <= 599 ? (int)c->arg : 400;

	resp_text(c, code, "status %d from %s\n", code, name);
}

static void
ep_bytes(struct conn *c)
{
	resp_pattern(c, c->arg, FRAME_LENGTH);
}

static void
ep_chunked(struct conn *c)
{
	resp_pattern(c, c->arg, FRAME_CHUNKED);
}

static void
ep_close(struct conn *c)
{
	resp_pattern(c, c->arg, FRAME_CLOSE);
}

/* The head goes out before the body is read, mirroring its framing. */
static void
echo_start(struct conn *c)
{
	if (c->parser.flags & F_CHUNKED)
		resp_head(c, 200, "application/octet-stream", FRAME_CHUNKED, 0);
	else
		resp_head(c, 200, "application/octet-stream", FRAME_LENGTH,
		    c->parser.content_length);
	out_flush(c);
}

static void
echo_body(struct conn *c, const char *p, size_t n)
{
	body(c, p, n);
	out_flush(c);
}

static void
ep_headers(struct conn *c)
{
	/* Two passes: measure for Content-Length, then send. */
	c->counting = 1;
	c->count = 0;
	headers_json(c);
	c->counting = 0;
	resp_head(c, 200, "application/json", FRAME_LENGTH, c->count);
	if (!c->head) {
		headers_json(c);
		c->sent = c->count;
	}
}

static void
ep_drop(struct conn *c)
{
	c->close = 1;
}

static void
ep_garbage(struct conn *c)
{
	static const char junk[] = "this is not http\r\n\r\n";

	out(c, junk, sizeof(junk) - 1);
	c->sent = sizeof(junk) - 1;
	c->close = 1;
}

static void
ep_expect_close(struct conn *c)
{
	c->close = 1;
	resp_text(c, 200, "Hello from %s\n", name);
}

static const struct route routes[] = {
	{ "/sleep/",	SLEEP_MAX, NULL, NULL, ep_sleep },
	{ "/status/",	INT64_MAX, NULL, NULL, ep_status },
	{ "/bytes/",	INT64_MAX, NULL, NULL, ep_bytes },
	{ "/chunked/",	INT64_MAX, NULL, NULL, ep_chunked },
	{ "/close/",	INT64_MAX, NULL, NULL, ep_close },
	{ "/echo",	0, echo_start, echo_body, body_end },
	{ "/headers",	0, NULL, NULL, ep_headers },
	{ "/drop",	0, NULL, NULL, ep_drop },
	{ "/garbage",	0, NULL, NULL, ep_garbage },
	{ "/expect-close", 0, NULL, NULL, ep_expect_close },
};
static const struct route hello_route = { "/", 0, NULL, NULL, ep_hello };
static const struct route badarg_route = { "", 0, NULL, NULL, ep_badarg };

static const struct route *
route_request(struct conn *c)
{
	const struct route	*r;
	size_t			 i, n, plen;

	plen = strcspn(c->url, "?");	/* the query is not for routing */
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		r = &routes[i];
		n = strlen(r->path);
		if (r->argmax == 0) {
			if (plen == n && memcmp(c->url, r->path, n) == 0)
				return r;
			continue;
		}
		if (plen <= n || memcmp(c->url, r->path, n) != 0)
			continue;
		if (parse_num(c->url + n, plen - n, r->argmax, &c->arg) == -1)
			return &badarg_route;
		return r;
	}
	return &hello_route;
}

/*
 * llhttp callbacks.  Returning -1 makes llhttp_execute() fail, which
 * ends in a 400 unless the response has already started.
 */

static int
on_message_begin(llhttp_t *p)
{
	struct conn	*c = p->data;

	clock_gettime(CLOCK_MONOTONIC, &c->start);
	c->seq = atomic_fetch_add(&nreq, 1) + 1;
	c->method = NULL;
	c->route = NULL;
	c->head = c->keepalive = 0;
	c->body_bytes = 0;
	c->url[0] = '\0';
	c->urllen = c->hlen = c->nhdrs = 0;
	c->inhdr = 0;
	c->status = c->started = c->close = c->chunked = 0;
	c->sent = 0;
	return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t len)
{
	struct conn	*c = p->data;

	if (len >= sizeof(c->url) - c->urllen)
		return -1;
	memcpy(c->url + c->urllen, at, len);
	c->urllen += len;
	c->url[c->urllen] = '\0';
	return 0;
}

/* Append to the header store; also the on_header_value callback. */
static int
hbuf_add(llhttp_t *p, const char *at, size_t len)
{
	struct conn	*c = p->data;

	if (len > sizeof(c->hbuf) - c->hlen)
		return -1;
	memcpy(c->hbuf + c->hlen, at, len);
	c->hlen += len;
	return 0;
}

/* Names and values may arrive in several spans; *_complete ends them. */
static int
on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct conn	*c = p->data;

	if (!c->inhdr) {
		if (c->nhdrs == HDR_MAX)
			return -1;
		c->hdrs[c->nhdrs].name = c->hlen;
		c->inhdr = 1;
	}
	return hbuf_add(p, at, len);
}

static int
on_header_field_complete(llhttp_t *p)
{
	struct conn	*c = p->data;
	struct hdr	*h = &c->hdrs[c->nhdrs];

	h->namelen = c->hlen - h->name;
	h->value = c->hlen;
	return 0;
}

static int
on_header_value_complete(llhttp_t *p)
{
	struct conn	*c = p->data;
	struct hdr	*h = &c->hdrs[c->nhdrs];

	h->valuelen = c->hlen - h->value;
	c->nhdrs++;
	c->inhdr = 0;
	return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
	struct conn	*c = p->data;
	struct hdr	*h;
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";

	/* A 200 to CONNECT would mean a tunnel; refuse it instead. */
	if (p->method == HTTP_CONNECT)
		return -1;
	c->method = llhttp_method_name(p->method);
	c->head = p->method == HTTP_HEAD;
	/* We never switch protocols, so whatever follows is not ours. */
	c->keepalive = llhttp_should_keep_alive(p) && !p->upgrade;
	c->route = route_request(c);

	/* Without this, curl stalls a second before large uploads. */
	if (http11(c) && (h = find_header(c, "Expect")) != NULL &&
	    h->valuelen == 12 &&
	    strncasecmp(c->hbuf + h->value, "100-continue", 12) == 0 &&
	    ((p->flags & F_CHUNKED) || p->content_length > 0)) {
		out(c, cont, sizeof(cont) - 1);
		out_flush(c);
	}
	if (c->route->start != NULL)
		c->route->start(c);
	return c->failed ? -1 : 0;
}

static int
on_body(llhttp_t *p, const char *at, size_t len)
{
	struct conn	*c = p->data;

	c->body_bytes += len;
	if (c->route->body != NULL)
		c->route->body(c, at, len);
	return c->failed ? -1 : 0;
}

/* Pause so that the response is produced outside the parser. */
static int
on_message_complete(llhttp_t *p)
{
	(void)p;
	return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_field_complete = on_header_field_complete,
	.on_header_value = hbuf_add,
	.on_header_value_complete = on_header_value_complete,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static void
log_request(struct conn *c)
{
	char		 target[512], rid[256];
	struct hdr	*h = find_header(c, "X-Request-ID");

	logmsg("backend=%s client=%s method=%s target=%s status=%d "
	    "bytes=%" PRIu64 " request_id=%s duration_ms=%.3f",
	    name, c->peer, c->method ? c->method : "-",
	    logsafe(target, sizeof(target), c->url, c->urllen),
	    c->status, c->sent,
	    h ? logsafe(rid, sizeof(rid), c->hbuf + h->value, h->valuelen)
	    : "-", elapsed_ms(&c->start));
}

/* Returns -1 when the connection must be closed afterwards. */
static int
finish_request(struct conn *c)
{
	c->route->done(c);
	out_flush(c);
	log_request(c);
	return c->failed || c->close || !c->keepalive ? -1 : 0;
}

static void
bad_request(struct conn *c)
{
	/* Once a head is out, a 400 would corrupt the stream: just close. */
	if (!c->started && !c->failed) {
		c->close = 1;
		c->head = 0;
		resp_text(c, 400, "bad request on %s\n", name);
		out_flush(c);
	}
	log_request(c);
}

static void
serve(struct conn *c)
{
	const char		*p, *pos;
	size_t			 left;
	ssize_t			 n;
	enum llhttp_errno	 err;

	for (;;) {
		n = read(c->fd, c->rbuf, sizeof(c->rbuf));
		if (n == -1 && errno == EINTR)
			continue;
		/* EOF, idle timeout or error: nobody left to answer. */
		if (n <= 0)
			return;
		p = c->rbuf;
		left = n;
		while (left > 0) {
			err = llhttp_execute(&c->parser, p, left);
			if (err == HPE_OK)
				break;
			if (err != HPE_PAUSED) {
				bad_request(c);
				return;
			}
			/* Pipelined requests are answered one at a time. */
			pos = llhttp_get_error_pos(&c->parser);
			left -= pos - p;
			p = pos;
			if (finish_request(c) == -1)
				return;
			llhttp_resume(&c->parser);
		}
	}
}

/*
 * Close gracefully: half-close, then drain what the client still sends
 * for a moment.  Closing with unread input makes the kernel send a RST,
 * which can destroy a response the client has not read yet.
 */
static void
linger_close(struct conn *c)
{
	struct timeval	 tv = { .tv_sec = LINGER_SEC };
	size_t		 total = 0;
	ssize_t		 n;

	if (shutdown(c->fd, SHUT_WR) == 0 && setsockopt(c->fd, SOL_SOCKET,
	    SO_RCVTIMEO, &tv, sizeof(tv)) == 0) {
		while (total < LINGER_MAX &&
		    (n = read(c->fd, c->rbuf, sizeof(c->rbuf))) > 0)
			total += n;
	}
	close(c->fd);
}

static void *
conn_main(void *arg)
{
	struct conn	*c = arg;

	llhttp_init(&c->parser, HTTP_REQUEST, &settings);
	c->parser.data = c;
	serve(c);
	linger_close(c);
	free(c);
	return NULL;
}

static void
format_addr(const struct sockaddr *sa, socklen_t len, char *buf, size_t size)
{
	char	 host[NI_MAXHOST], serv[NI_MAXSERV];

	if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
	    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		snprintf(buf, size, "?");
		return;
	}
	snprintf(buf, size, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s",
	    host, serv);
}

static void
start_conn(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct timeval	 tv = { .tv_sec = IO_TIMEOUT };
	struct conn	*c;
	pthread_t	 tid;
	int		 one = 1, e;

	/* Idle or stuck peers must not pin a thread forever. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1) {
		logmsg("backend=%s event=error op=setsockopt error=\"%m\"",
		    name);
		close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		logmsg("backend=%s event=error op=calloc error=\"%m\"", name);
		close(fd);
		return;
	}
	c->fd = fd;
	format_addr(sa, salen, c->peer, sizeof(c->peer));
	if ((e = pthread_create(&tid, &thread_attr, conn_main, c)) != 0) {
		errno = e;	/* for %m, which unlike strerror() is MT-safe */
		logmsg("backend=%s event=error op=pthread_create "
		    "error=\"%m\"", name);
		close(fd);
		free(c);
	}
}

static int
listen_on(const char *addr, int port, char *desc, size_t desclen)
{
	struct addrinfo	 hints, *res;
	struct {
		struct sockaddr_storage	ss;
		socklen_t		len;
	}		 bound;
	char		 serv[16];
	int		 fd, e, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%d", port);
	if ((e = getaddrinfo(addr, serv, &hints, &res)) != 0)
		die(0, "bad address %s: %s", addr, gai_strerror(e));
	format_addr(res->ai_addr, res->ai_addrlen, desc, desclen);
	fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC,
	    res->ai_protocol);
	if (fd == -1)
		die(errno, "socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		die(errno, "setsockopt SO_REUSEADDR");
	if (bind(fd, res->ai_addr, res->ai_addrlen) == -1)
		die(errno, "bind %s", desc);
	if (listen(fd, 1024) == -1)
		die(errno, "listen %s", desc);
	freeaddrinfo(res);
	/* Name the bound port: the kernel's pick for port 0. */
	bound.len = sizeof(bound.ss);
	if (getsockname(fd, (struct sockaddr *)&bound.ss, &bound.len) == -1)
		die(errno, "getsockname %s", desc);
	format_addr((struct sockaddr *)&bound.ss, bound.len, desc, desclen);
	return fd;
}

/* The log file anew after logrotate moved it; writers keep the same fd number. */
static void
log_reopen(void)
{
	int	fd;

	if (logfd == -1)
		return;
	if ((fd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
	    0644)) == -1) {
		logmsg("backend=%s event=reopen_failed path=%s error=\"%s\"", name,
		    logpath, strerror(errno));
		return;
	}
	/* dup2 swaps the file under concurrent writers atomically. */
	if (dup2(fd, logfd) == -1)
		logmsg("backend=%s event=reopen_failed path=%s error=\"%s\"", name,
		    logpath, strerror(errno));
	close(fd);
}

/* Signals are blocked everywhere and collected here. */
static void *
signal_main(void *arg)
{
	sigset_t	*set = arg;
	int		 sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig != SIGUSR1)
			break;
		log_reopen();
	}
	logmsg("backend=%s event=stop signal=%s", name,
	    sig == SIGTERM ? "TERM" : "INT");
	/* _exit: connection threads may still be running; no teardown. */
	_exit(0);
}

static void
accept_loop(int lfd)
{
	struct sockaddr_storage	 ss;
	struct timespec		 backoff = { 0, 100 * 1000000 };
	socklen_t		 sslen;
	int			 fd;

	for (;;) {
		sslen = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_CLOEXEC);
		if (fd != -1) {
			start_conn(fd, (struct sockaddr *)&ss, sslen);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		/* Out of descriptors or memory: back off instead of spinning. */
		logmsg("backend=%s event=error op=accept error=\"%m\"", name);
		nanosleep(&backoff, NULL);
	}
}

static int
valid_name(const char *s)
{
	size_t	 n = strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-");

	/* Used in headers, JSON and a file name: keep it boring. */
	return n > 0 && n <= NAME_MAX_LEN && s[n] == '\0' && s[0] != '.';
}

int
main(int argc, char *argv[])
{
	static sigset_t	 sigs;
	struct sigaction sa;
	const char	*addr = "127.0.0.1", *logdir = NULL, *portstr = NULL;
	char		 desc[NI_MAXHOST + NI_MAXSERV + 4];
	uint64_t	 v;
	pthread_t	 tid;
	int		 ch, e, lfd, port = 9001;
	size_t		 i;

	while ((ch = getopt(argc, argv, "a:hL:n:p:q")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'L':
			logdir = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'p':
			portstr = optarg;
			break;
		case 'q':
			quiet = 1;
			break;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	if (!valid_name(name)) {
		fprintf(stderr, "rproxyd-backend: bad name: %s "
		    "(use 1-64 of A-Z a-z 0-9 . _ -)\n", name);
		usage(stderr);
		return 1;
	}
	if (portstr != NULL) {
		if (parse_num(portstr, strlen(portstr), 65535, &v) == -1) {
			fprintf(stderr, "%s: bad port: %s\n", name, portstr);
			usage(stderr);
			return 1;
		}
		port = (int)v;
	} else if (strncmp(name, "backend", 7) == 0 &&
	    parse_num(name + 7, strlen(name + 7), 65535 - 9000, &v) == 0)
		port = 9000 + (int)v;

	openlog(name, LOG_PID, LOG_DAEMON);
	if (logdir != NULL) {
		if ((size_t)snprintf(logpath, sizeof(logpath), "%s/%s.log", logdir,
		    name) >= sizeof(logpath))
			die(0, "log directory name too long");
		logfd = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
		    0644);
		if (logfd == -1)
			die(errno, "open %s", logpath);
	}
	lfd = listen_on(addr, port, desc, sizeof(desc));

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL) == -1)
		die(errno, "sigaction");
	/* Block before any thread exists so that all inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	if ((e = pthread_sigmask(SIG_BLOCK, &sigs, NULL)) != 0)
		die(e, "pthread_sigmask");

	for (i = 0; i < sizeof(pattern); i++)
		pattern[i] = 'a' + i % 26;

	if ((e = pthread_attr_init(&thread_attr)) != 0 ||
	    (e = pthread_attr_setdetachstate(&thread_attr,
	    PTHREAD_CREATE_DETACHED)) != 0 ||
	    (e = pthread_attr_setstacksize(&thread_attr, THREAD_STACK)) != 0)
		die(e, "pthread_attr");
	if ((e = pthread_create(&tid, &thread_attr, signal_main, &sigs)) != 0)
		die(e, "pthread_create");

	logmsg("backend=%s event=start listen=%s", name, desc);
	/* For whoever started us with -p 0 (the tests): the port to use. */
	if (printf("listening on %s\n", desc) < 0 || fflush(stdout) == EOF)
		die(errno, "stdout");
	accept_loop(lfd);
	return 1;
}
