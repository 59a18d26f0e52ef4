/* check_http_head.c: unit tests of the llhttp wrapper: spans, pauses, bodies, strictness. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "http_head.h"

#define MAXH	32
#define MAXURI	8192

static struct http_header	headers[MAXH];
static struct http_head		head;

/* Body bytes as the parser hands them over, de-chunked. */
static char	body[1024];
static size_t	bodylen;

static int
body_sink(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	ck_assert_uint_le(bodylen + len, sizeof(body));
	memcpy(body + bodylen, data, len);
	bodylen += len;
	return 0;
}

static void
init(llhttp_type_t type, size_t maxh, size_t maxuri)
{
	http_head_init(&head, type, headers, maxh, maxuri);
	head.on_body = body_sink;
	bodylen = 0;
}

/*
 * Feed data until one message is complete, as the proxy does: return the
 * bytes that message took, or -1 on a parse error. step > 0 feeds at most
 * step bytes per call.
 */
static long
feed_message(const char *data, size_t len, size_t step)
{
	size_t	pos = 0, n;
	long	used;
	int	i;

	for (i = 0; i < 4 * (int)len + 8 && !head.msg_complete; i++) {
		n = len - pos;
		if (step > 0 && n > step)
			n = step;
		used = http_head_feed(&head, data + pos, n);
		if (used < 0)
			return -1;
		ck_assert_uint_le((size_t)used, n);
		pos += (size_t)used;
	}
	return (long)pos;
}

static void
assert_span(const char *p, size_t len, const char *want)
{
	ck_assert_msg(p != NULL, "span missing, want \"%s\"", want);
	ck_assert_msg(len == strlen(want) && memcmp(p, want, len) == 0,
	    "span \"%.*s\", want \"%s\"", (int)len, p, want);
}

static void
assert_header(size_t i, const char *name, const char *value)
{
	ck_assert_uint_lt(i, head.nheaders);
	assert_span(headers[i].name, headers[i].namelen, name);
	assert_span(headers[i].value, headers[i].valuelen, value);
}

static const char req_post[] =
    "POST /a/b?c=d&e=%20 HTTP/1.1\r\n"
    "Host: example.com\r\n"
    "X-Empty:\r\n"
    "Content-Length: 5\r\n"
    "X-Multi: a, b\r\n"
    "\r\n"
    "hello";
#define REQ_POST_HEAD	(sizeof(req_post) - 1 - 5)

static void
assert_req_post(const char *buf)
{
	ck_assert_ptr_eq(head.method, buf);
	assert_span(head.method, head.methodlen, "POST");
	ck_assert_ptr_eq(head.url, buf + 5);
	assert_span(head.url, head.urllen, "/a/b?c=d&e=%20");
	ck_assert_uint_eq(head.nheaders, 4);
	assert_header(0, "Host", "example.com");
	assert_header(1, "X-Empty", "");
	assert_header(2, "Content-Length", "5");
	assert_header(3, "X-Multi", "a, b");
	ck_assert_ptr_eq(http_head_find(&head, "content-length"), &headers[2]);
	ck_assert_ptr_eq(http_head_find(&head, "HOST"), &headers[0]);
	ck_assert_ptr_eq(http_head_find(&head, "x-missing"), NULL);
	ck_assert_int_eq(http_head_minor(&head), 1);
	ck_assert_int_eq(http_head_keep_alive(&head), 1);
	ck_assert_int_eq(http_head_has_length(&head), 1);
	ck_assert_int_eq(http_head_chunked(&head), 0);
	ck_assert_int_eq(http_head_upgrade(&head), 0);
	ck_assert_int_eq(http_head_needs_eof(&head), 0);
}

/* The parser pauses after the head; the body comes on the next feed. */
START_TEST(test_request_spans)
{
	long	n;

	init(HTTP_REQUEST, MAXH, MAXURI);
	n = http_head_feed(&head, req_post, sizeof(req_post) - 1);
	ck_assert_int_eq(n, REQ_POST_HEAD);
	ck_assert_int_eq(head.head_complete, 1);
	ck_assert_int_eq(head.msg_complete, 0);
	ck_assert_uint_eq(bodylen, 0);
	ck_assert_uint_eq(http_head_length(&head), 5);
	assert_req_post(req_post);
	ck_assert_int_eq(head.error, HEAD_OK);

	n = http_head_feed(&head, req_post + n, sizeof(req_post) - 1 - (size_t)n);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(head.msg_complete, 1);
	assert_span(body, bodylen, "hello");
	/* The head is still readable after the body. */
	assert_req_post(req_post);
}
END_TEST

/* Tokens split across feeds still come out as one span each. */
START_TEST(test_byte_at_a_time)
{
	init(HTTP_REQUEST, MAXH, MAXURI);
	ck_assert_int_eq(feed_message(req_post, sizeof(req_post) - 1, 1),
	    sizeof(req_post) - 1);
	ck_assert_int_eq(head.msg_complete, 1);
	assert_req_post(req_post);
	assert_span(body, bodylen, "hello");
}
END_TEST

START_TEST(test_response_spans)
{
	static const char resp[] =
	    "HTTP/1.1 404 Not Found Here\r\n"
	    "Server: t\r\n"
	    "Content-Length: 0\r\n"
	    "\r\n";
	long	n;

	init(HTTP_RESPONSE, MAXH, MAXURI);
	n = http_head_feed(&head, resp, sizeof(resp) - 1);
	ck_assert_int_eq(n, sizeof(resp) - 1);
	ck_assert_int_eq(head.head_complete, 1);
	ck_assert_int_eq(http_head_status(&head), 404);
	assert_span(head.reason, head.reasonlen, "Not Found Here");
	ck_assert_ptr_eq(head.method, NULL);
	ck_assert_uint_eq(head.nheaders, 2);
	assert_header(0, "Server", "t");
	assert_header(1, "Content-Length", "0");
	/* Zero bytes let a message without a body complete. */
	ck_assert_int_eq(head.msg_complete, 0);
	ck_assert_int_eq(http_head_feed(&head, resp + n, 0), 0);
	ck_assert_int_eq(head.msg_complete, 1);
	ck_assert_uint_eq(bodylen, 0);
}
END_TEST

/* Each message stops where it ends; the rest stays for the next one. */
START_TEST(test_pipelined)
{
	static const char m1[] = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char m2[] = "POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
	    "\r\nabc";
	static const char m3[] = "GET /c HTTP/1.1\r\nHost: h\r\nX-N: 3\r\n\r\n";
	char	buf[256];
	size_t	len, pos = 0;

	len = (size_t)snprintf(buf, sizeof(buf), "%s%s%s", m1, m2, m3);
	init(HTTP_REQUEST, MAXH, MAXURI);
	ck_assert_int_eq(feed_message(buf, len, 0), sizeof(m1) - 1);
	assert_span(head.url, head.urllen, "/a");
	ck_assert_uint_eq(bodylen, 0);
	pos += sizeof(m1) - 1;

	http_head_reset(&head);
	ck_assert_int_eq(feed_message(buf + pos, len - pos, 0), sizeof(m2) - 1);
	assert_span(head.method, head.methodlen, "POST");
	assert_span(head.url, head.urllen, "/b");
	assert_span(body, bodylen, "abc");
	ck_assert_uint_eq(head.nheaders, 2);
	pos += sizeof(m2) - 1;

	http_head_reset(&head);
	bodylen = 0;
	ck_assert_int_eq(feed_message(buf + pos, len - pos, 0), sizeof(m3) - 1);
	assert_span(head.url, head.urllen, "/c");
	ck_assert_uint_eq(head.nheaders, 2);
	assert_header(1, "X-N", "3");
	ck_assert_uint_eq(bodylen, 0);
	ck_assert_uint_eq(pos + sizeof(m3) - 1, len);
}
END_TEST

START_TEST(test_chunked_body)
{
	static const char head_part[] =
	    "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
	static const char msg[] =
	    "POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n"
	    "5;ext=1\r\n worl\r\n"
	    "1\r\nd\r\n"
	    "0\r\n\r\n"
	    "GET /next HTTP/1.1\r\n\r\n";
	static const char trailer[] =
	    "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\nok\r\n0\r\nX-Sum: 1\r\n\r\n";
	size_t	first = sizeof(msg) - 1 - strlen("GET /next HTTP/1.1\r\n\r\n");
	size_t	step;
	long	n;

	for (step = 0; step <= 3; step++) {
		init(HTTP_REQUEST, MAXH, MAXURI);
		if (step == 0) {
			n = http_head_feed(&head, msg, sizeof(msg) - 1);
			ck_assert_int_eq(n, sizeof(head_part) - 1);
			ck_assert_int_eq(http_head_chunked(&head), 1);
			ck_assert_int_eq(http_head_has_length(&head), 0);
			ck_assert_uint_eq(bodylen, 0);
			http_head_reset(&head);
			bodylen = 0;
		}
		ck_assert_int_eq(feed_message(msg, sizeof(msg) - 1, step), first);
		ck_assert_int_eq(head.msg_complete, 1);
		assert_span(body, bodylen, "hello world");
	}
	/* Trailer fields after the last chunk are accepted. */
	init(HTTP_REQUEST, MAXH, MAXURI);
	ck_assert_int_eq(feed_message(trailer, sizeof(trailer) - 1, 0),
	    sizeof(trailer) - 1);
	ck_assert_int_eq(head.msg_complete, 1);
	assert_span(body, bodylen, "ok");
}
END_TEST

/* A response to HEAD has no body, whatever its Content-Length says. */
START_TEST(test_head_response)
{
	static const char resp[] =
	    "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: text/html\r\n\r\n"
	    "HTTP/1.1 204 No Content\r\n\r\n";
	size_t	first = sizeof(resp) - 1 - strlen("HTTP/1.1 204 No Content\r\n\r\n");

	init(HTTP_RESPONSE, MAXH, MAXURI);
	head.skip_body = 1;
	ck_assert_int_eq(http_head_feed(&head, resp, sizeof(resp) - 1), first);
	ck_assert_int_eq(head.head_complete, 1);
	ck_assert_int_eq(head.msg_complete, 1);
	ck_assert_int_eq(http_head_status(&head), 200);
	ck_assert_int_eq(http_head_has_length(&head), 1);
	ck_assert_uint_eq(bodylen, 0);

	/* Without skip_body the same bytes are a body of 1000. */
	init(HTTP_RESPONSE, MAXH, MAXURI);
	ck_assert_int_eq(feed_message(resp, sizeof(resp) - 1, 0), sizeof(resp) - 1);
	ck_assert_int_eq(head.msg_complete, 0);
	ck_assert_uint_eq(bodylen, sizeof(resp) - 1 - first);
}
END_TEST

/* Interim 1xx responses are passed over: the head is the final one. */
START_TEST(test_interim_1xx)
{
	static const char resp[] =
	    "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nX-A: b\r\n\r\nok"
	    "HTTP/1.1 200 OK\r\n\r\n";
	size_t	first = sizeof(resp) - 1 - strlen("HTTP/1.1 200 OK\r\n\r\n");
	long	n;

	init(HTTP_RESPONSE, MAXH, MAXURI);
	n = http_head_feed(&head, resp, sizeof(resp) - 1);
	ck_assert_int_eq(n, first - 2);
	ck_assert_int_eq(head.head_complete, 1);
	ck_assert_int_eq(http_head_status(&head), 201);
	assert_span(head.reason, head.reasonlen, "Created");
	ck_assert_uint_eq(head.nheaders, 2);
	assert_header(0, "Content-Length", "2");
	assert_header(1, "X-A", "b");
	ck_assert_ptr_eq(http_head_find(&head, "link"), NULL);
	ck_assert_int_eq(http_head_feed(&head, resp + n, sizeof(resp) - 1 - (size_t)n), 2);
	ck_assert_int_eq(head.msg_complete, 1);
	assert_span(body, bodylen, "ok");
}
END_TEST

/* BUG (http_head_finish): a body framed by close is complete at EOF. */
START_TEST(test_close_delimited)
{
	static const char resp[] = "HTTP/1.1 200 OK\r\nServer: x\r\n\r\nabc";
	long	n;

	init(HTTP_RESPONSE, MAXH, MAXURI);
	n = http_head_feed(&head, resp, sizeof(resp) - 1);
	ck_assert_int_eq(n, sizeof(resp) - 1 - 3);
	ck_assert_int_eq(http_head_needs_eof(&head), 1);
	ck_assert_int_eq(http_head_feed(&head, resp + n, 3), 3);
	ck_assert_int_eq(head.msg_complete, 0);
	assert_span(body, bodylen, "abc");
	ck_assert_msg(http_head_finish(&head) == 0,
	    "BUG: http_head_finish refuses a complete close-delimited body");
	ck_assert_int_eq(head.msg_complete, 1);
}
END_TEST

/* EOF before the promised length, or mid-chunk, is a truncation. */
START_TEST(test_truncated)
{
	static const char cl[] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
	static const char ch[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n5\r\nab";

	init(HTTP_RESPONSE, MAXH, MAXURI);
	ck_assert_int_eq(feed_message(cl, sizeof(cl) - 1, 0), sizeof(cl) - 1);
	ck_assert_int_eq(http_head_finish(&head), -1);
	ck_assert_int_eq(head.msg_complete, 0);
	init(HTTP_RESPONSE, MAXH, MAXURI);
	ck_assert_int_eq(feed_message(ch, sizeof(ch) - 1, 0), sizeof(ch) - 1);
	ck_assert_int_eq(http_head_finish(&head), -1);
	ck_assert_int_eq(head.msg_complete, 0);
}
END_TEST

START_TEST(test_versions)
{
	static const struct {
		const char	*msg;
		int		 minor, keep_alive, upgrade;
	} t[] = {
		{ "GET / HTTP/1.0\r\n\r\n", 0, 0, 0 },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 0, 1, 0 },
		{ "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1, 1, 0 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 1, 0, 0 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n"
		  "Upgrade: websocket\r\n\r\n", 1, 1, 1 },
		{ "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 1, 1, 1 },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		init(HTTP_REQUEST, MAXH, MAXURI);
		ck_assert_msg(http_head_feed(&head, t[i].msg, strlen(t[i].msg)) > 0,
		    "%zu: %s", i, http_head_error_reason(&head));
		ck_assert_int_eq(head.head_complete, 1);
		ck_assert_msg(http_head_minor(&head) == t[i].minor, "%zu minor", i);
		ck_assert_msg(http_head_keep_alive(&head) == t[i].keep_alive,
		    "%zu keep-alive", i);
		ck_assert_msg(http_head_upgrade(&head) == t[i].upgrade, "%zu upgrade", i);
	}
}
END_TEST

START_TEST(test_too_many_headers)
{
	char	msg[512];
	size_t	len;
	int	i;

	/* 8 lines with room for 8: fine. */
	len = (size_t)snprintf(msg, sizeof(msg), "GET / HTTP/1.1\r\n");
	for (i = 0; i < 8; i++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "X-%d: v\r\n", i);
	snprintf(msg + len, sizeof(msg) - len, "\r\n");
	init(HTTP_REQUEST, 8, MAXURI);
	ck_assert_int_eq(feed_message(msg, strlen(msg), 0), strlen(msg));
	ck_assert_uint_eq(head.nheaders, 8);
	assert_header(7, "X-7", "v");

	/* One more: refused as such, not as a generic parse error. */
	len += (size_t)snprintf(msg + len, sizeof(msg) - len, "X-8: v\r\n\r\n");
	init(HTTP_REQUEST, 8, MAXURI);
	ck_assert_int_eq(feed_message(msg, strlen(msg), 0), -1);
	ck_assert_int_eq(head.error, HEAD_TOO_MANY);
	ck_assert_str_eq(http_head_error_reason(&head), "too many headers");
	ck_assert_uint_le(head.nheaders, 8);
}
END_TEST

START_TEST(test_uri_too_long)
{
	static const char ok[] = "GET /234567890123456 HTTP/1.1\r\nHost: h\r\n\r\n";
	static const char bad[] = "GET /2345678901234567 HTTP/1.1\r\nHost: h\r\n\r\n";
	size_t	step;

	for (step = 0; step <= 1; step++) {
		init(HTTP_REQUEST, MAXH, 16);
		ck_assert_int_eq(feed_message(ok, sizeof(ok) - 1, step), sizeof(ok) - 1);
		ck_assert_uint_eq(head.urllen, 16);
		init(HTTP_REQUEST, MAXH, 16);
		ck_assert_int_eq(feed_message(bad, sizeof(bad) - 1, step), -1);
		ck_assert_int_eq(head.error, HEAD_URI_TOO_LONG);
		ck_assert_str_eq(http_head_error_reason(&head), "URI too long");
	}
}
END_TEST

/* Smuggling vectors and malformed heads (RFC 9112 11.2): each must be refused. */
static const struct {
	llhttp_type_t	 type;
	const char	*msg;
	size_t		 len;		/* 0: strlen */
	const char	*what;
} refused[] = {
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, "CL then TE" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	  "Content-Length: 5\r\n\r\n0\r\n\r\n", 0, "TE then CL" },
	{ HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, "response CL and TE" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
	  "Content-Length: 6\r\n\r\nhello!", 0, "differing Content-Lengths" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5x\r\n\r\n",
	  0, "malformed Content-Length" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n",
	  0, "negative Content-Length" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n"
	  "\r\nabc", 0, "TE not ending in chunked" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\n"
	  "Transfer-Encoding: chunked, gzip\r\n\r\n", 0, "TE chunked not last" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\rc\r\n\r\n", 0,
	  "bare CR in a value" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\rX-B: c\r\n\r\n", 0,
	  "bare CR ending a line" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX\rA: b\r\n\r\n", 0,
	  "bare CR in a name" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\0c\r\n\r\n", 37,
	  "NUL in a value" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX\0A: b\r\n\r\n", 35,
	  "NUL in a name" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\001c\r\n\r\n", 0,
	  "control byte in a value" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\177c\r\n\r\n", 0,
	  "DEL in a value" },
	{ HTTP_REQUEST, "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 0, "space in the URI" },
	{ HTTP_REQUEST, "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 0, "two spaces after the method" },
	{ HTTP_REQUEST, "GET /  HTTP/1.1\r\nHost: h\r\n\r\n", 0, "two spaces before the version" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\n: b\r\n\r\n", 0, "empty field name" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX-A:\r\n b\r\n\r\n", 0,
	  "obs-fold after an empty value" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n \r\n\r\n", 0,
	  "obs-fold of whitespace only" },
	{ HTTP_REQUEST, "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n \r\nX-B: b\r\n\r\n", 0,
	  "obs-fold of whitespace only, a field after it" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \r\n\r\n", 0,
	  "empty Transfer-Encoding" },
	{ HTTP_REQUEST, "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0,
	  "Transfer-Encoding from an HTTP/1.0 client" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n"
	  "\r\n0\r\n\r\n", 0, "chunked twice" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, "chunked twice in two fields" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked;a=b\r\n"
	  "\r\n0\r\n\r\n", 0, "chunked with a parameter" },
	{ HTTP_REQUEST, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: g@zip, chunked\r\n"
	  "\r\n0\r\n\r\n", 0, "a coding that is not a token" },
	{ HTTP_REQUEST, "GET / HTTP/1.10\r\nHost: h\r\n\r\n", 0, "two-digit minor version" },
	{ HTTP_REQUEST, "GET / http/1.1\r\nHost: h\r\n\r\n", 0, "lower-case HTTP" },
	{ HTTP_REQUEST, "GET /\r\n\r\n", 0, "HTTP/0.9 request line" },
	{ HTTP_REQUEST, "GET /path\r\n", 0, "HTTP/0.9 request line, nothing after it" },
	{ HTTP_REQUEST, "GET /path\n", 0, "HTTP/0.9 request line ended by LF" },
	{ HTTP_RESPONSE, "HTTP/1.1 2000 OK\r\n\r\n", 0, "four-digit status" },
	{ HTTP_RESPONSE, "garbage\r\n\r\n", 0, "not HTTP at all" },
};

START_TEST(test_refused)
{
	size_t	len = refused[_i].len ? refused[_i].len : strlen(refused[_i].msg);

	init(refused[_i].type, MAXH, MAXURI);
	ck_assert_msg(feed_message(refused[_i].msg, len, 0) == -1,
	    "%s: accepted", refused[_i].what);
	ck_assert_int_eq(head.error, HEAD_BAD);
	ck_assert_ptr_ne(http_head_error_reason(&head), NULL);
	ck_assert_str_ne(http_head_error_reason(&head), "ok");
}
END_TEST

/*
 * BUG (fixed in http_head.c): obs-fold and whitespace before a colon must be
 * rejected (RFC 9112 5.1, 5.2); llhttp 8.1 built without LLHTTP_STRICT_MODE
 * accepts both, and a space inside a field name too, and the folded value
 * (CR LF inside it) or the name "Host " would be forwarded verbatim.
 */
static const struct {
	const char	*msg;
	const char	*what;
} refused_bug[] = {
	{ "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n c\r\n\r\n", "obs-fold (SP)" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\tc\r\n\r\n", "obs-fold (HTAB)" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX-A : b\r\n\r\n", "whitespace before colon" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nHost : evil\r\n\r\n",
	  "second Host hidden by whitespace before colon" },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX A: b\r\n\r\n", "space inside a name" },
};

START_TEST(test_refused_bug)
{
	init(HTTP_REQUEST, MAXH, MAXURI);
	ck_assert_msg(feed_message(refused_bug[_i].msg, strlen(refused_bug[_i].msg),
	    0) == -1, "BUG: %s accepted", refused_bug[_i].what);
	ck_assert_int_eq(head.error, HEAD_BAD);
}
END_TEST

/* A well-formed version other than 1.0 and 1.1 is refused as such (505). */
static const struct {
	llhttp_type_t	 type;
	const char	*msg;
} bad_version[] = {
	{ HTTP_REQUEST, "GET / HTTP/1.2\r\nHost: h\r\n\r\n" },
	{ HTTP_REQUEST, "GET / HTTP/2.0\r\nHost: h\r\n\r\n" },
	{ HTTP_REQUEST, "GET / HTTP/0.9\r\nHost: h\r\n\r\n" },
	{ HTTP_REQUEST, "GET / HTTP/3.0\r\nHost: h\r\n\r\n" },
	{ HTTP_REQUEST, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" },
	{ HTTP_RESPONSE, "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n" },
	{ HTTP_RESPONSE, "HTTP/0.9 200 OK\r\nContent-Length: 0\r\n\r\n" },
};

START_TEST(test_version_refused)
{
	size_t	step;

	for (step = 0; step <= 1; step++) {
		init(bad_version[_i].type, MAXH, MAXURI);
		ck_assert_msg(feed_message(bad_version[_i].msg, strlen(bad_version[_i].msg),
		    step) == -1, "%s: accepted", bad_version[_i].msg);
		ck_assert_msg(head.error == HEAD_VERSION, "%s: error %d",
		    bad_version[_i].msg, head.error);
		ck_assert_int_eq(head.head_complete, 0);
		ck_assert_str_eq(http_head_error_reason(&head), "HTTP version not supported");
	}
}
END_TEST

/*
 * Transfer-Encoding: only chunked, final, once (RFC 9112 6.1). A coding
 * before chunked would be lost by de-chunking: refused as not implemented.
 */
START_TEST(test_transfer_coding)
{
	static const struct {
		const char	*te;
		enum http_head_error want;
	} t[] = {
		{ "Transfer-Encoding: chunked\r\n", HEAD_OK },
		{ "Transfer-Encoding: Chunked\r\n", HEAD_OK },
		{ "Transfer-Encoding:   chunked\r\n", HEAD_OK },
		{ "Transfer-Encoding: gzip, chunked\r\n", HEAD_CODING },
		{ "Transfer-Encoding: gzip;q=1,chunked\r\n", HEAD_CODING },
		{ "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", HEAD_CODING },
		{ "Transfer-Encoding: chunked, gzip\r\n", HEAD_BAD },
		{ "Transfer-Encoding: gzip\r\n", HEAD_BAD },
		{ "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", HEAD_BAD },
	};
	char	msg[512];
	size_t	i, step, resp;
	long	n;

	/* The same rules for responses: the proxy sends no TE, so only chunked. */
	for (i = 0; i < 2 * sizeof(t) / sizeof(t[0]); i++) {
		resp = i % 2;
		snprintf(msg, sizeof(msg), "%s%s\r\n5\r\nhello\r\n0\r\n\r\n",
		    resp ? "HTTP/1.1 200 OK\r\n" : "POST / HTTP/1.1\r\nHost: h\r\n",
		    t[i / 2].te);
		for (step = 0; step <= 1; step++) {
			init(resp ? HTTP_RESPONSE : HTTP_REQUEST, MAXH, MAXURI);
			n = feed_message(msg, strlen(msg), step);
			if (t[i / 2].want == HEAD_OK) {
				ck_assert_msg(n == (long)strlen(msg), "%s: %s", t[i / 2].te,
				    http_head_error_reason(&head));
				ck_assert_int_eq(http_head_chunked(&head), 1);
				assert_span(body, bodylen, "hello");
				continue;
			}
			ck_assert_msg(n == -1, "%s: accepted", t[i / 2].te);
			ck_assert_msg(head.error == t[i / 2].want, "%s: error %d, want %d",
			    t[i / 2].te, head.error, t[i / 2].want);
			ck_assert_int_eq(head.head_complete, 0);
		}
	}
}
END_TEST

static const char trailer_msg[] =
    "POST /t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5\r\nhello\r\n0\r\n"
    "X-Sum: 1\r\nHost: evil\r\nX-Long: a b c\r\n\r\n"
    "GET /next HTTP/1.1\r\n\r\n";
#define TRAILER_MSG_LEN	(sizeof(trailer_msg) - 1 - strlen("GET /next HTTP/1.1\r\n\r\n"))

/* BUG (fixed): trailer fields were appended to headers[], a second Host included. */
START_TEST(test_trailers_dropped)
{
	size_t	step;

	for (step = 0; step <= 3; step++) {
		init(HTTP_REQUEST, MAXH, MAXURI);
		ck_assert_int_eq(feed_message(trailer_msg, sizeof(trailer_msg) - 1, step),
		    TRAILER_MSG_LEN);
		ck_assert_int_eq(head.msg_complete, 1);
		assert_span(body, bodylen, "hello");
		ck_assert_uint_eq(head.nheaders, 2);
		assert_header(0, "Host", "h");
		ck_assert_ptr_eq(http_head_find(&head, "x-sum"), NULL);
		ck_assert_uint_eq(head.ntrailers, 3);
	}
}
END_TEST

/*
 * The proxy feeds a body from a buffer it reuses: a trailer arrives in pieces
 * whose earlier bytes are gone. BUG (fixed): a trailer value was kept as a
 * span from its first piece to its last and scanned, reading whatever lay
 * between (or beyond) the buffers.
 */
START_TEST(test_trailers_from_reused_buffer)
{
	static const char *const refused_trailers[] = {
		"X-T: 1\r\n 2\r\n\r\n",		/* obs-fold */
		"X-T:\r\n 2\r\n\r\n",		/* obs-fold after an empty value */
		"X-T : 1\r\n\r\n",		/* whitespace before the colon */
		"X T: 1\r\n\r\n",
		": 1\r\n\r\n",			/* empty name */
	};
	char	scratch[4];
	size_t	len = TRAILER_MSG_LEN, pos, n, i, j;
	char	msg[256];
	long	used;

	for (j = 1; j <= sizeof(scratch); j++) {
		/* The head from the message buffer, as the proxy keeps it. */
		init(HTTP_REQUEST, MAXH, MAXURI);
		used = http_head_feed(&head, trailer_msg, len);
		ck_assert_int_gt(used, 0);
		ck_assert_int_eq(head.head_complete, 1);
		/* The body and trailers j bytes at a time through one small buffer. */
		for (pos = (size_t)used; pos < len && !head.msg_complete; pos += n) {
			n = len - pos < j ? len - pos : j;
			memcpy(scratch, trailer_msg + pos, n);
			used = http_head_feed(&head, scratch, n);
			ck_assert_int_ge(used, 0);
			n = (size_t)used;
			memset(scratch, '\n', sizeof(scratch));
			if (n == 0)
				break;
		}
		ck_assert_int_eq(head.msg_complete, 1);
		ck_assert_uint_eq(pos, len);
		ck_assert_uint_eq(head.nheaders, 2);
		assert_span(body, bodylen, "hello");
	}
	for (i = 0; i < sizeof(refused_trailers) / sizeof(refused_trailers[0]); i++) {
		snprintf(msg, sizeof(msg), "POST / HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n0\r\n%s", refused_trailers[i]);
		for (j = 0; j <= 2; j++) {
			init(HTTP_REQUEST, MAXH, MAXURI);
			ck_assert_msg(feed_message(msg, strlen(msg), j) == -1,
			    "trailer %zu accepted at step %zu", i, j);
			ck_assert_int_eq(head.error, HEAD_BAD);
		}
	}
}
END_TEST

/* Trailers count against maxheaders and max_trailer, apart from the head's. */
START_TEST(test_trailer_limits)
{
	char	msg[2048];
	size_t	len;
	int	i;

	len = (size_t)snprintf(msg, sizeof(msg), "POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n");
	for (i = 0; i < 8; i++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "X-%d: v\r\n", i);
	snprintf(msg + len, sizeof(msg) - len, "\r\n");
	init(HTTP_REQUEST, 8, MAXURI);
	ck_assert_int_eq(feed_message(msg, strlen(msg), 0), strlen(msg));
	ck_assert_uint_eq(head.ntrailers, 8);
	ck_assert_uint_eq(head.nheaders, 2);

	snprintf(msg + len, sizeof(msg) - len, "X-8: v\r\n\r\n");
	init(HTTP_REQUEST, 8, MAXURI);
	ck_assert_int_eq(feed_message(msg, strlen(msg), 0), -1);
	ck_assert_int_eq(head.error, HEAD_TOO_MANY);

	/* 100 bytes of trailer section fit; one more does not. */
	len = (size_t)snprintf(msg, sizeof(msg), "POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: %0*d\r\n\r\n", 100 - 3 - 4, 0);
	init(HTTP_REQUEST, MAXH, MAXURI);
	head.max_trailer = 100;
	ck_assert_int_eq(feed_message(msg, len, 1), len);
	ck_assert_int_eq(head.msg_complete, 1);
	len = (size_t)snprintf(msg, sizeof(msg), "POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\nX-T: %0*d\r\n\r\n", 100 - 3 - 4 + 1, 0);
	init(HTTP_REQUEST, MAXH, MAXURI);
	head.max_trailer = 100;
	ck_assert_int_eq(feed_message(msg, len, 1), -1);
	ck_assert_int_eq(head.error, HEAD_TOO_LARGE);
}
END_TEST

/* A value split across feeds is one value, not an obs-fold. */
START_TEST(test_value_across_feeds)
{
	static const char msg[] = "GET / HTTP/1.1\r\nHost: h\r\nX-A: a b\r\nX-B:\tc\r\n\r\n";
	size_t	cut;

	for (cut = 1; cut < sizeof(msg) - 1; cut++) {
		init(HTTP_REQUEST, MAXH, MAXURI);
		ck_assert_int_eq(http_head_feed(&head, msg, cut), cut);
		ck_assert_msg(http_head_feed(&head, msg + cut, sizeof(msg) - 1 - cut) ==
		    (long)(sizeof(msg) - 1 - cut), "cut %zu: %s", cut,
		    http_head_error_reason(&head));
		ck_assert_int_eq(head.head_complete, 1);
		assert_header(1, "X-A", "a b");
		assert_header(2, "X-B", "c");
	}
}
END_TEST

/* A chunked request with body bytes after its head, in a static buffer. */
static size_t
chunked_msg(char *msg, size_t size, const char *body_part)
{
	return (size_t)snprintf(msg, size, "POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n%s", body_part);
}

/*
 * CVE-2024-22019's class: leading zeros and chunk extensions cost the peer
 * nothing in body bytes. 16 digits and 16 KiB of extensions per message fit,
 * one more does not, in one feed or byte by byte.
 */
START_TEST(test_chunk_limits)
{
	static char	msg[3 * HTTP_CHUNK_EXT_MAX], part[3 * HTTP_CHUNK_EXT_MAX];
	size_t		len, step, half = HTTP_CHUNK_EXT_MAX / 2;

	for (step = 0; step <= 1; step++) {
		/* 16 digits, leading zeros included. */
		chunked_msg(msg, sizeof(msg), "0000000000000002\r\nok\r\n0\r\n\r\n");
		init(HTTP_REQUEST, MAXH, MAXURI);
		ck_assert_int_eq(feed_message(msg, strlen(msg), step), strlen(msg));
		assert_span(body, bodylen, "ok");
		chunked_msg(msg, sizeof(msg), "00000000000000002\r\nok\r\n0\r\n\r\n");
		init(HTTP_REQUEST, MAXH, MAXURI);
		ck_assert_int_eq(feed_message(msg, strlen(msg), step), -1);
		ck_assert_int_eq(head.error, HEAD_CHUNK);
		/* The last chunk's size counts as well. */
		chunked_msg(msg, sizeof(msg), "2\r\nok\r\n00000000000000000\r\n\r\n");
		init(HTTP_REQUEST, MAXH, MAXURI);
		ck_assert_int_eq(feed_message(msg, strlen(msg), step), -1);
		ck_assert_int_eq(head.error, HEAD_CHUNK);

		/* Extensions over two chunks, ";a=" and the rest: exactly the limit. */
		snprintf(part, sizeof(part), "1;a=%0*d\r\nx\r\n1;b=%0*d\r\ny\r\n0\r\n\r\n",
		    (int)(half - 3), 0, (int)(half - 3), 0);
		len = chunked_msg(msg, sizeof(msg), part);
		init(HTTP_REQUEST, MAXH, MAXURI);
		ck_assert_int_eq(feed_message(msg, len, step), len);
		assert_span(body, bodylen, "xy");
		snprintf(part, sizeof(part), "1;a=%0*d\r\nx\r\n1;b=%0*d\r\ny\r\n0\r\n\r\n",
		    (int)(half - 3), 0, (int)(half - 2), 0);
		len = chunked_msg(msg, sizeof(msg), part);
		init(HTTP_REQUEST, MAXH, MAXURI);
		ck_assert_int_eq(feed_message(msg, len, step), -1);
		ck_assert_int_eq(head.error, HEAD_CHUNK);
		ck_assert_str_eq(http_head_error_reason(&head), "chunk size or extensions too long");
	}
	/* Refused before the parser reads on: the zeros need not all arrive. */
	memset(part, '0', sizeof(part) - 1);
	part[sizeof(part) - 1] = '\0';
	len = chunked_msg(msg, sizeof(msg), part);
	init(HTTP_REQUEST, MAXH, MAXURI);
	ck_assert_int_eq(feed_message(msg, len, 0), -1);
	ck_assert_int_eq(head.error, HEAD_CHUNK);
	/* The limits are per message: a reset parser starts again from zero. */
	http_head_reset(&head);
	snprintf(part, sizeof(part), "1;a=%0*d\r\nx\r\n0\r\n\r\n", (int)(2 * half - 3), 0);
	len = chunked_msg(msg, sizeof(msg), part);
	ck_assert_int_eq(feed_message(msg, len, 0), len);
	http_head_reset(&head);
	ck_assert_int_eq(feed_message(msg, len, 0), len);
}
END_TEST

/* body_raw counts the body as sent: chunk framing and trailers too. */
START_TEST(test_body_raw)
{
	static const char	chunked[] = "5\r\nhello\r\n1;e=v\r\n!\r\n0\r\nX-T: 1\r\n\r\n";
	char			msg[256];
	size_t			len, hlen, step;

	for (step = 0; step <= 2; step++) {
		len = chunked_msg(msg, sizeof(msg), chunked);
		hlen = len - strlen(chunked);
		init(HTTP_REQUEST, MAXH, MAXURI);
		ck_assert_int_eq(feed_message(msg, len, step), len);
		ck_assert_uint_eq(head.body_raw, len - hlen);
		assert_span(body, bodylen, "hello!");
		/* A Content-Length body is its own raw count; the head never counts. */
		init(HTTP_REQUEST, MAXH, MAXURI);
		ck_assert_int_eq(feed_message(req_post, sizeof(req_post) - 1, step),
		    sizeof(req_post) - 1);
		ck_assert_uint_eq(head.body_raw, 5);
		http_head_reset(&head);
		ck_assert_uint_eq(head.body_raw, 0);
	}
}
END_TEST

/* An HTTP/0.9 line is refused when it ends, byte by byte too, not at a timeout. */
START_TEST(test_http09_refused_at_line_end)
{
	static const char	line[] = "GET /path\r\n";
	size_t			i;
	long			n = 0;

	init(HTTP_REQUEST, MAXH, MAXURI);
	for (i = 0; i < sizeof(line) - 1 && n >= 0; i++)
		n = http_head_feed(&head, line + i, 1);
	ck_assert_int_eq(n, -1);
	ck_assert_uint_eq(i, strlen("GET /path\r"));
	ck_assert_int_eq(head.error, HEAD_BAD);
	ck_assert_str_eq(http_head_error_reason(&head), "request line without a version");
	/* "GET /path" and more to come is no HTTP/0.9 yet. */
	init(HTTP_REQUEST, MAXH, MAXURI);
	ck_assert_int_eq(http_head_feed(&head, line, strlen("GET /path")), strlen("GET /path"));
}
END_TEST

/* RFC 9112 3.2 and RFC 3986 3.2.2: what a Host value may be. */
START_TEST(test_host_valid)
{
	static const char *const good[] = {
		"", "example.com", "example.com:8080", "EXAMPLE.com:", "127.0.0.1",
		"127.0.0.1:80", "[::1]", "[::1]:8080", "[v1.fe80::a+en1]", "a-b_c~d.e",
		"xn--bcher-kva.example", "%41%42", "a!$&'()*+,;=b",
	};
	static const char *const bad[] = {
		"a b", " a", "a ", "a\tb", "a/b", "a?b", "a#b", "u@example.com", "a:b",
		"a:80:80", "[::1", "[]", "[::1]x", "[::1]:x", "::1", "%4", "%zz", "a\"b",
		"a\\b", "a<b", "a\x7f", "caf\xe9",
	};
	size_t	i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		ck_assert_msg(http_host_valid(good[i], strlen(good[i])), "refused \"%s\"",
		    good[i]);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!http_host_valid(bad[i], strlen(bad[i])), "accepted \"%s\"",
		    bad[i]);
	/* Counted: the bytes after len are not read. */
	ck_assert_int_eq(http_host_valid("ab cd", 2), 1);
}
END_TEST

/* After a refused message, a reset parser takes a good one. */
START_TEST(test_reset_after_error)
{
	static const char good[] = "GET /ok HTTP/1.1\r\nHost: h\r\n\r\n";

	init(HTTP_REQUEST, 2, MAXURI);
	ck_assert_int_eq(feed_message("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
	    37, 0), -1);
	ck_assert_int_eq(head.error, HEAD_TOO_MANY);
	http_head_reset(&head);
	ck_assert_int_eq(head.error, HEAD_OK);
	ck_assert_int_eq(feed_message(good, sizeof(good) - 1, 0), sizeof(good) - 1);
	assert_span(head.url, head.urllen, "/ok");
	ck_assert_uint_eq(head.nheaders, 1);
	ck_assert_int_eq(head.msg_complete, 1);
}
END_TEST

START_TEST(test_tokens)
{
	ck_assert_int_eq(http_token_eq("Keep-Alive", 10, "keep-alive"), 1);
	ck_assert_int_eq(http_token_eq("Keep-Alive", 4, "keep"), 1);
	ck_assert_int_eq(http_token_eq("Keep", 4, "keep-alive"), 0);
	ck_assert_int_eq(http_token_eq("", 0, ""), 1);

	ck_assert_int_eq(http_list_has("close", 5, "close"), 1);
	ck_assert_int_eq(http_list_has("keep-alive, Upgrade", 19, "upgrade"), 1);
	ck_assert_int_eq(http_list_has(" a ,\tB\t, c", 10, "b"), 1);
	ck_assert_int_eq(http_list_has(",,x,,", 5, "x"), 1);
	ck_assert_int_eq(http_list_has("closed", 6, "close"), 0);
	ck_assert_int_eq(http_list_has("x-close", 7, "close"), 0);
	ck_assert_int_eq(http_list_has("a, b", 4, "a, b"), 0);
	ck_assert_int_eq(http_list_has("", 0, "a"), 0);
	/* Counted: bytes past len are not part of the list. */
	ck_assert_int_eq(http_list_has("a, close", 3, "close"), 0);
}
END_TEST

static Suite *
http_head_suite(void)
{
	Suite *s = suite_create("http_head");
	TCase *tc = tcase_create("http_head");

	tcase_add_test(tc, test_request_spans);
	tcase_add_test(tc, test_byte_at_a_time);
	tcase_add_test(tc, test_response_spans);
	tcase_add_test(tc, test_pipelined);
	tcase_add_test(tc, test_chunked_body);
	tcase_add_test(tc, test_head_response);
	tcase_add_test(tc, test_interim_1xx);
	tcase_add_test(tc, test_close_delimited);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_versions);
	tcase_add_test(tc, test_too_many_headers);
	tcase_add_test(tc, test_uri_too_long);
	tcase_add_loop_test(tc, test_refused, 0, sizeof(refused) / sizeof(refused[0]));
	tcase_add_loop_test(tc, test_refused_bug, 0,
	    sizeof(refused_bug) / sizeof(refused_bug[0]));
	tcase_add_loop_test(tc, test_version_refused, 0,
	    sizeof(bad_version) / sizeof(bad_version[0]));
	tcase_add_test(tc, test_transfer_coding);
	tcase_add_test(tc, test_trailers_dropped);
	tcase_add_test(tc, test_trailers_from_reused_buffer);
	tcase_add_test(tc, test_trailer_limits);
	tcase_add_test(tc, test_value_across_feeds);
	tcase_add_test(tc, test_chunk_limits);
	tcase_add_test(tc, test_http09_refused_at_line_end);
	tcase_add_test(tc, test_host_valid);
	tcase_add_test(tc, test_body_raw);
	tcase_add_test(tc, test_reset_after_error);
	tcase_add_test(tc, test_tokens);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(http_head_suite)
