/* check_rewrite.c: unit tests of the heads written to backends and back to clients. */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "check_util.h"
#include "http_head.h"
#include "request_id.h"
#include "rewrite.h"

#define MAXH	64

static struct http_header	headers[MAXH];
static struct http_head		head;
static char			out[8192];

/* Parse one literal head; it must be complete (a body, if any, is left unread). */
static const struct http_head *
parse(llhttp_type_t type, const char *text)
{
	size_t	len = strlen(text);
	long	n;

	http_head_init(&head, type, headers, MAXH, 8192);
	n = http_head_feed(&head, text, len);
	ck_assert_msg(n > 0, "parse failed: %s", http_head_error_reason(&head));
	ck_assert_int_eq(head.head_complete, 1);
	return &head;
}

static const struct rewrite_request rreq = {
	.client_addr = "192.0.2.7",
	.request_id = "rid-0001",
	.proto = "http",
	.default_host = "127.0.0.1:9001",
	.framing = FRAME_NONE,
};

static void
assert_request(const char *in, const struct rewrite_request *rw, const char *want)
{
	size_t	n;

	n = rewrite_request_head(out, sizeof(out), parse(HTTP_REQUEST, in), rw);
	ck_assert_msg(n == strlen(want) && memcmp(out, want, n) == 0,
	    "got (%zu):\n%.*s\nwant (%zu):\n%s", n, (int)n, out, strlen(want), want);
}

static void
assert_response(const char *in, const struct rewrite_response *rw, const char *want)
{
	size_t	n;

	n = rewrite_response_head(out, sizeof(out), parse(HTTP_RESPONSE, in), rw);
	ck_assert_msg(n == strlen(want) && memcmp(out, want, n) == 0,
	    "got (%zu):\n%.*s\nwant (%zu):\n%s", n, (int)n, out, strlen(want), want);
}

START_TEST(test_request_full)
{
	assert_request(
	    "GET /path/x?q=1&r=%20 HTTP/1.1\r\n"
	    "Host: example.com:8080\r\n"
	    "User-Agent: t/1\r\n"
	    "Connection: keep-alive, X-Hop ,x-other\r\n"
	    "X-Hop: secret\r\n"
	    "X-Other: secret2\r\n"
	    "Keep-Alive: timeout=5\r\n"
	    "Proxy-Connection: keep-alive\r\n"
	    "TE: trailers\r\n"
	    "Trailer: X-T\r\n"
	    "Upgrade: websocket\r\n"
	    "X-Forwarded-For: 10.0.0.1\r\n"
	    "Accept: */*\r\n"
	    "X-Forwarded-For: 10.0.0.2, 10.0.0.3\r\n"
	    "X-Forwarded-Proto: https\r\n"
	    "X-Forwarded-Host: evil.example\r\n"
	    "X-Request-ID: client-chosen\r\n"
	    "Cookie: a=1; b=2\r\n"
	    "\r\n", &rreq,
	    "GET /path/x?q=1&r=%20 HTTP/1.1\r\n"
	    "Host: example.com:8080\r\n"
	    "User-Agent: t/1\r\n"
	    "Accept: */*\r\n"
	    "Cookie: a=1; b=2\r\n"
	    "X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: example.com:8080\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "\r\n");
}
END_TEST

/* Header names are case-insensitive, in the fixed list and in Connection. */
START_TEST(test_request_case_insensitive)
{
	assert_request(
	    "DELETE /r HTTP/1.1\r\n"
	    "hOST: h\r\n"
	    "CONNECTION: X-Private\r\n"
	    "x-private: 1\r\n"
	    "kEEP-aLIVE: 1\r\n"
	    "proxy-connection: close\r\n"
	    "te: trailers\r\n"
	    "UPGRADE: h2c\r\n"
	    "x-forwarded-for: 10.1.1.1\r\n"
	    "x-request-id: abc\r\n"
	    "x-keep: yes\r\n"
	    "\r\n", &rreq,
	    "DELETE /r HTTP/1.1\r\n"
	    "hOST: h\r\n"
	    "x-keep: yes\r\n"
	    "X-Forwarded-For: 10.1.1.1, 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: h\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "\r\n");
}
END_TEST

/*
 * BUG (rewrite.c hop_by_hop): a client naming Host in Connection makes the
 * proxy drop Host, and since the request had one, no default is written
 * either: the backend gets an HTTP/1.1 request without Host (RFC 9112 3.2),
 * where Host must be kept. Headers the proxy sets itself are kept too.
 */
START_TEST(test_request_connection_names_host)
{
	assert_request(
	    "GET / HTTP/1.1\r\n"
	    "Host: example.com\r\n"
	    "Connection: host, x-forwarded-for, x-request-id\r\n"
	    "X-Forwarded-For: 10.0.0.1\r\n"
	    "\r\n", &rreq,
	    "GET / HTTP/1.1\r\n"
	    "Host: example.com\r\n"
	    "X-Forwarded-For: 10.0.0.1, 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: example.com\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "\r\n");
}
END_TEST

/* A field named in Connection is dropped whatever its name's length. */
START_TEST(test_request_connection_long_name)
{
	char	in[2048], want[1024], name[600];
	size_t	len;

	for (len = 120; len < sizeof(name); len += len < 140 ? 1 : 200) {
		memset(name, 'x', len);
		name[len] = '\0';
		snprintf(in, sizeof(in), "GET / HTTP/1.1\r\nHost: h\r\nConnection: %s\r\n"
		    "%s: secret\r\nX-%s: kept\r\n\r\n", name, name, name);
		snprintf(want, sizeof(want), "GET / HTTP/1.1\r\nHost: h\r\nX-%s: kept\r\n"
		    "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n"
		    "X-Forwarded-Host: h\r\nX-Request-ID: rid-0001\r\n\r\n", name);
		assert_request(in, &rreq, want);
	}
}
END_TEST

/*
 * HTTP2-Settings goes with Upgrade: h2c, which is never passed on: dropped
 * though Connection does not name it.
 */
START_TEST(test_request_http2_settings_dropped)
{
	assert_request(
	    "GET / HTTP/1.1\r\n"
	    "Host: example.com\r\n"
	    "Connection: Upgrade\r\n"
	    "Upgrade: h2c\r\n"
	    "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
	    "http2-settings: again\r\n"
	    "\r\n", &rreq,
	    "GET / HTTP/1.1\r\n"
	    "Host: example.com\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: example.com\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "\r\n");
}
END_TEST

/* Underscore spellings of the fields the proxy controls do not get through. */
START_TEST(test_request_underscore_aliases)
{
	assert_request(
	    "GET / HTTP/1.1\r\n"
	    "Host: example.com\r\n"
	    "Transfer_Encoding: chunked\r\n"
	    "content_length: 5\r\n"
	    "X_Forwarded_For: 10.9.9.9\r\n"
	    "X_Request_ID: spoofed\r\n"
	    "Host_: evil\r\n"
	    "_Host: evil\r\n"
	    "HOST_: evil\r\n"
	    "X_Custom_Name: kept\r\n"
	    "\r\n", &rreq,
	    "GET / HTTP/1.1\r\n"
	    "Host: example.com\r\n"
	    "Host_: evil\r\n"
	    "_Host: evil\r\n"
	    "HOST_: evil\r\n"
	    "X_Custom_Name: kept\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: example.com\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "\r\n");
}
END_TEST

/* No X-Forwarded-For from the client (or an empty one): just the client. */
START_TEST(test_request_xff_new)
{
	struct rewrite_request	rw = rreq;

	rw.client_addr = "2001:db8::1";
	rw.proto = "https";
	assert_request(
	    "GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For:\r\n\r\n", &rw,
	    "GET / HTTP/1.1\r\n"
	    "Host: h\r\n"
	    "X-Forwarded-For: 2001:db8::1\r\n"
	    "X-Forwarded-Proto: https\r\n"
	    "X-Forwarded-Host: h\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "\r\n");
}
END_TEST

/* The body's framing is written from what the proxy parsed, never copied. */
START_TEST(test_request_framing)
{
	struct rewrite_request	rw = rreq;
	static const char *const in =
	    "POST /upload HTTP/1.1\r\n"
	    "Host: h\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "Content-Type: text/plain\r\n"
	    "Expect: 100-continue\r\n"
	    "\r\n"
	    "5\r\nhello\r\n0\r\n\r\n";
	static const char *const tail =
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: h\r\n"
	    "X-Request-ID: rid-0001\r\n";
	char	want[1024];

	/* Chunked in, kept whole: sent with a length. */
	rw.framing = FRAME_LENGTH;
	rw.length = 5;
	snprintf(want, sizeof(want), "POST /upload HTTP/1.1\r\nHost: h\r\n"
	    "Content-Type: text/plain\r\n%sContent-Length: 5\r\n\r\n", tail);
	assert_request(in, &rw, want);

	/* Chunked in, streamed: chunked out. */
	rw.framing = FRAME_CHUNKED;
	snprintf(want, sizeof(want), "POST /upload HTTP/1.1\r\nHost: h\r\n"
	    "Content-Type: text/plain\r\n%sTransfer-Encoding: chunked\r\n\r\n",
	    tail);
	assert_request(in, &rw, want);

	/* The client's Content-Length is replaced by the proxy's own. */
	rw.framing = FRAME_LENGTH;
	rw.length = 12345678901ULL;
	snprintf(want, sizeof(want), "PUT /x HTTP/1.1\r\nHost: h\r\n%s"
	    "Content-Length: 12345678901\r\n\r\n", tail);
	assert_request("PUT /x HTTP/1.1\r\nContent-Length: 12345678901\r\n"
	    "Host: h\r\n\r\n", &rw, want);

	/* No body: no framing header at all. */
	rw.framing = FRAME_NONE;
	snprintf(want, sizeof(want), "GET /x HTTP/1.1\r\nHost: h\r\n%s\r\n", tail);
	assert_request("GET /x HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
	    &rw, want);
}
END_TEST

/* HTTP/1.0 goes out as HTTP/1.1, so it needs a Host: the backend's. */
START_TEST(test_request_http10)
{
	/* No client Host: no X-Forwarded-Host either (there was no host to forward). */
	assert_request(
	    "GET /old HTTP/1.0\r\nAccept: text/html\r\nConnection: keep-alive\r\n\r\n",
	    &rreq,
	    "GET /old HTTP/1.1\r\n"
	    "Host: 127.0.0.1:9001\r\n"
	    "Accept: text/html\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "\r\n");
	/* With a Host, it is kept as sent. */
	assert_request("HEAD / HTTP/1.0\r\nHost: old.example\r\n\r\n", &rreq,
	    "HEAD / HTTP/1.1\r\n"
	    "Host: old.example\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: old.example\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "\r\n");
}
END_TEST

/*
 * An absolute-form target goes out in origin-form, its authority as Host
 * (RFC 9112 3.2.2: the client's Host is ignored) and as X-Forwarded-Host.
 */
START_TEST(test_request_absolute_form)
{
	static const char *const tail =
	    "X-Forwarded-For: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\n";
	static const struct {
		const char	*target, *line, *host;
	} t[] = {
		{ "http://example.com/x?y=1", "GET /x?y=1", "example.com" },
		{ "HTTP://Example.com:8080", "GET /", "Example.com:8080" },
		{ "https://e.example?q=1", "GET /?q=1", "e.example" },
		{ "http://[::1]:81//a", "GET //a", "[::1]:81" },
	};
	char	in[512], want[1024];
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(in, sizeof(in), "GET %s HTTP/1.1\r\nX-A: 1\r\nHost: other\r\n"
		    "X-B: 2\r\n\r\n", t[i].target);
		snprintf(want, sizeof(want), "%s HTTP/1.1\r\nHost: %s\r\nX-A: 1\r\nX-B: 2\r\n"
		    "%sX-Forwarded-Host: %s\r\nX-Request-ID: rid-0001\r\n\r\n",
		    t[i].line, t[i].host, tail, t[i].host);
		assert_request(in, &rreq, want);
	}
	/* Origin-form and "*" go out as they came. */
	assert_request("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", &rreq,
	    "OPTIONS * HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 192.0.2.7\r\n"
	    "X-Forwarded-Proto: http\r\nX-Forwarded-Host: h\r\n"
	    "X-Request-ID: rid-0001\r\n\r\n");
}
END_TEST

START_TEST(test_request_target)
{
	static const struct {
		const char	*url;
		int		 form;
		const char	*authority, *path;
	} t[] = {
		{ "/a?b", 0, NULL, "/a?b" },
		{ "*", 0, NULL, "*" },
		{ "http://h/p", 1, "h", "/p" },
		{ "hTTpS://h:1", 1, "h:1", "" },
		{ "http://h#f", 1, "h", "#f" },
		{ "http://u@h/p", -1, NULL, NULL },	/* userinfo */
		{ "http:///p", -1, NULL, NULL },	/* no authority */
		{ "http://", -1, NULL, NULL },
		{ "ftp://h/p", -1, NULL, NULL },
		{ "http:/h/p", -1, NULL, NULL },
		{ "h:80", -1, NULL, NULL },		/* authority-form */
		{ "http://h h/", -1, NULL, NULL },
		{ "http://h\"/", -1, NULL, NULL },
		{ "**", -1, NULL, NULL },
		{ "", -1, NULL, NULL },
	};
	struct target	tg;
	size_t		i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(request_target(t[i].url, strlen(t[i].url), &tg) == t[i].form,
		    "%s", t[i].url);
		if (t[i].form < 0)
			continue;
		if (t[i].authority == NULL)
			ck_assert_ptr_eq(tg.authority, NULL);
		else
			ck_assert_msg(tg.authoritylen == strlen(t[i].authority) &&
			    memcmp(tg.authority, t[i].authority, tg.authoritylen) == 0,
			    "%s: authority %.*s", t[i].url, (int)tg.authoritylen, tg.authority);
		ck_assert_msg(tg.pathlen == strlen(t[i].path) &&
		    (tg.pathlen == 0 || memcmp(tg.path, t[i].path, tg.pathlen) == 0),
		    "%s: path %.*s", t[i].url, (int)tg.pathlen, tg.path);
	}
	/* Counted: bytes past len are not part of the target. */
	ck_assert_int_eq(request_target("http://h@x", 8, &tg), 1);
	ck_assert_uint_eq(tg.authoritylen, 1);
}
END_TEST

/* BUG (fixed): a request's trailer fields were forwarded as header fields. */
START_TEST(test_request_trailers_not_forwarded)
{
	static const char msg[] =
	    "POST /t HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\nhello\r\n0\r\nHost: evil\r\nX-Forwarded-For: 6.6.6.6\r\nX-T: 1\r\n\r\n";
	struct rewrite_request	rw = rreq;
	size_t			n;
	long			used;

	http_head_init(&head, HTTP_REQUEST, headers, MAXH, 8192);
	used = http_head_feed(&head, msg, sizeof(msg) - 1);
	ck_assert_int_gt(used, 0);
	ck_assert_int_eq(http_head_feed(&head, msg + used, sizeof(msg) - 1 - (size_t)used),
	    (long)(sizeof(msg) - 1 - (size_t)used));
	ck_assert_int_eq(head.msg_complete, 1);
	/* The proxy rewrites the head after a kept body has been read, trailers and all. */
	rw.framing = FRAME_LENGTH;
	rw.length = 5;
	n = rewrite_request_head(out, sizeof(out), &head, &rw);
	ck_assert_uint_gt(n, 0);
	out[n] = '\0';
	ck_assert_str_eq(out, "POST /t HTTP/1.1\r\nHost: h\r\n"
	    "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: http\r\n"
	    "X-Forwarded-Host: h\r\nX-Request-ID: rid-0001\r\nContent-Length: 5\r\n\r\n");
}
END_TEST

/* Every buffer too small by even one byte is refused, never truncated. */
START_TEST(test_request_small_buffer)
{
	const struct http_head	*h;
	char			 small[512];
	size_t			 n, cap;

	h = parse(HTTP_REQUEST, "GET /abc HTTP/1.1\r\nHost: h\r\n"
	    "X-Forwarded-For: 1.2.3.4\r\nA: b\r\n\r\n");
	n = rewrite_request_head(out, sizeof(out), h, &rreq);
	ck_assert_uint_gt(n, 100);
	ck_assert_uint_lt(n, sizeof(small));
	for (cap = 0; cap < n; cap++)
		ck_assert_msg(rewrite_request_head(small, cap, h, &rreq) == 0,
		    "cap %zu of %zu accepted", cap, n);
	ck_assert_uint_eq(rewrite_request_head(small, n, h, &rreq), n);
	ck_assert_int_eq(memcmp(small, out, n), 0);
}
END_TEST

static const struct rewrite_response rresp = {
	.request_id = "rid-0001",
	.framing = FRAME_LENGTH,
	.length = 5,
	.keep_alive = 1,
	.client_minor = 1,
};

START_TEST(test_response_full)
{
	struct rewrite_response	rw = rresp;

	rw.framing = FRAME_CHUNKED;
	assert_response(
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\n"
	    "Connection: keep-alive, X-Internal\r\n"
	    "X-Internal: 1\r\n"
	    "Keep-Alive: timeout=5\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "X-Request-ID: backend-made\r\n"
	    "Upgrade: h2c\r\n"
	    "Trailer: X-T\r\n"
	    "Proxy-Connection: keep-alive\r\n"
	    "Set-Cookie: a=1\r\n"
	    "X-Backend: backend1\r\n"
	    "\r\n", &rw,
	    "HTTP/1.1 200 OK\r\n"
	    "Content-Type: text/plain\r\n"
	    "Set-Cookie: a=1\r\n"
	    "X-Backend: backend1\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "Transfer-Encoding: chunked\r\n"
	    "\r\n");
}
END_TEST

START_TEST(test_response_connection)
{
	struct rewrite_response	rw = rresp;
	static const char *const in =
	    "HTTP/1.0 404 Not Found Here\r\nContent-Length: 5\r\nConnection: close\r\n"
	    "\r\nnope!";

	/* The client connection closes: say so. */
	rw.keep_alive = 0;
	assert_response(in, &rw,
	    "HTTP/1.1 404 Not Found Here\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "Content-Length: 5\r\n"
	    "Connection: close\r\n"
	    "\r\n");

	/* An HTTP/1.0 client kept alive must be told (its default is close). */
	rw.keep_alive = 1;
	rw.client_minor = 0;
	assert_response(in, &rw,
	    "HTTP/1.1 404 Not Found Here\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "Content-Length: 5\r\n"
	    "Connection: keep-alive\r\n"
	    "\r\n");

	/* HTTP/1.1 kept alive: the default, nothing to say. */
	rw.client_minor = 1;
	assert_response(in, &rw,
	    "HTTP/1.1 404 Not Found Here\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "Content-Length: 5\r\n"
	    "\r\n");

	/* A body framed by close, to a client that will be closed. */
	rw.framing = FRAME_CLOSE;
	rw.keep_alive = 0;
	assert_response("HTTP/1.1 200 OK\r\nServer: x\r\n\r\n", &rw,
	    "HTTP/1.1 200 OK\r\n"
	    "Server: x\r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "Connection: close\r\n"
	    "\r\n");

	/* No body (204), an empty reason phrase kept empty. */
	rw.framing = FRAME_NONE;
	rw.keep_alive = 1;
	assert_response("HTTP/1.1 204\r\nX-Request-Id: b\r\n\r\n", &rw,
	    "HTTP/1.1 204 \r\n"
	    "X-Request-ID: rid-0001\r\n"
	    "\r\n");
}
END_TEST

START_TEST(test_response_small_buffer)
{
	const struct http_head	*h;
	char			 small[512];
	size_t			 n, cap;

	h = parse(HTTP_RESPONSE, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Content-Type: text/plain\r\n\r\n");
	n = rewrite_response_head(out, sizeof(out), h, &rresp);
	ck_assert_uint_gt(n, 60);
	ck_assert_uint_lt(n, sizeof(small));
	for (cap = 0; cap < n; cap++)
		ck_assert_msg(rewrite_response_head(small, cap, h, &rresp) == 0,
		    "cap %zu of %zu accepted", cap, n);
	ck_assert_uint_eq(rewrite_response_head(small, n, h, &rresp), n);
	ck_assert_int_eq(memcmp(small, out, n), 0);
}
END_TEST

START_TEST(test_request_id_valid)
{
	char	id[REQUEST_ID_MAX + 2];
	int	c;

	memset(id, 'a', sizeof(id));
	ck_assert_int_eq(request_id_valid(id, 0), 0);
	ck_assert_int_eq(request_id_valid(id, 1), 1);
	ck_assert_int_eq(request_id_valid(id, REQUEST_ID_MAX), 1);
	ck_assert_int_eq(request_id_valid(id, REQUEST_ID_MAX + 1), 0);
	ck_assert_int_eq(request_id_valid("!~", 2), 1);
	ck_assert_int_eq(request_id_valid("req-1_2.3:4/5=", 14), 1);
	/* Every byte outside visible ASCII, and " and \, is refused, wherever it sits. */
	for (c = 0; c < 256; c++) {
		char s[3] = { 'a', (char)c, 'b' };

		ck_assert_msg(request_id_valid(s, 3) == (c >= 0x21 && c <= 0x7e &&
		    c != '"' && c != '\\'), "byte 0x%02x", c);
	}
	ck_assert_int_eq(request_id_valid("a b", 3), 0);
	ck_assert_int_eq(request_id_valid("\t", 1), 0);
	ck_assert_int_eq(request_id_valid("x\x7f", 2), 0);
	ck_assert_int_eq(request_id_valid("\x80", 1), 0);
	/* Counted: bytes past len do not matter. */
	ck_assert_int_eq(request_id_valid("ab cd", 2), 1);
}
END_TEST

static void
assert_hex32(const char *id)
{
	size_t	i;

	ck_assert_uint_eq(strlen(id), 32);
	for (i = 0; i < 32; i++)
		ck_assert_msg(isdigit((unsigned char)id[i]) ||
		    (id[i] >= 'a' && id[i] <= 'f'), "%s: byte %zu", id, i);
	ck_assert_int_eq(request_id_valid(id, 32), 1);
}

START_TEST(test_request_id_make)
{
	static char	ids[200][REQUEST_ID_MAX + 1];
	char		first[REQUEST_ID_MAX + 1];
	size_t		i, j;

	request_id_init();
	for (i = 0; i < 200; i++) {
		memset(ids[i], 'X', sizeof(ids[i]));
		request_id_make(ids[i], sizeof(ids[i]));
		assert_hex32(ids[i]);
	}
	for (i = 0; i < 200; i++)
		for (j = i + 1; j < 200; j++)
			ck_assert_str_ne(ids[i], ids[j]);
	/* The worker's random half, then its counter. */
	ck_assert_str_eq(ids[0] + 16, "0000000000000001");
	ck_assert_str_eq(ids[199] + 16, "00000000000000c8");
	ck_assert_int_eq(memcmp(ids[0], ids[199], 16), 0);
	/* A new worker (init again, as after fork) does not repeat the old ids. */
	memcpy(first, ids[0], sizeof(first));
	request_id_init();
	request_id_make(ids[0], sizeof(ids[0]));
	assert_hex32(ids[0]);
	ck_assert_str_ne(ids[0], first);
}
END_TEST

START_TEST(test_method_idempotent)
{
	static const struct {
		const char	*m;
		int		 idem;
	} t[] = {
		{ "GET", 1 }, { "HEAD", 1 }, { "PUT", 1 }, { "DELETE", 1 },
		{ "OPTIONS", 1 }, { "TRACE", 1 },
		{ "POST", 0 }, { "PATCH", 0 }, { "CONNECT", 0 }, { "PROPFIND", 0 },
		{ "get", 0 }, { "Get", 0 }, { "GE", 0 }, { "GETS", 0 }, { "", 0 },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(method_idempotent(t[i].m, strlen(t[i].m)) == t[i].idem,
		    "%s", t[i].m);
	/* Counted strings, as the parser hands them over. */
	ck_assert_int_eq(method_idempotent("GETX", 3), 1);
	ck_assert_int_eq(method_idempotent("POSTGET", 4), 0);
	ck_assert_int_eq(method_idempotent("PUT /", 3), 1);
}
END_TEST

static Suite *
rewrite_suite(void)
{
	Suite *s = suite_create("rewrite");
	TCase *tc = tcase_create("rewrite");

	tcase_add_test(tc, test_request_full);
	tcase_add_test(tc, test_request_case_insensitive);
	tcase_add_test(tc, test_request_connection_names_host);
	tcase_add_test(tc, test_request_xff_new);
	tcase_add_test(tc, test_request_underscore_aliases);
	tcase_add_test(tc, test_request_http2_settings_dropped);
	tcase_add_test(tc, test_request_connection_long_name);
	tcase_add_test(tc, test_request_framing);
	tcase_add_test(tc, test_request_http10);
	tcase_add_test(tc, test_request_small_buffer);
	tcase_add_test(tc, test_request_absolute_form);
	tcase_add_test(tc, test_request_target);
	tcase_add_test(tc, test_request_trailers_not_forwarded);
	tcase_add_test(tc, test_response_full);
	tcase_add_test(tc, test_response_connection);
	tcase_add_test(tc, test_response_small_buffer);
	tcase_add_test(tc, test_request_id_valid);
	tcase_add_test(tc, test_request_id_make);
	tcase_add_test(tc, test_method_idempotent);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(rewrite_suite)
