/* rewrite.c: build the head sent to a backend and the head sent back to the client. */
#include <inttypes.h>
#include <string.h>

#include "rewrite.h"

/*
 * Always hop-by-hop, or rewritten by the proxy from what it parsed.
 * HTTP2-Settings belongs to an h2c upgrade, which is never passed on, even
 * when Connection does not name it (RFC 7540 3.2.1).
 */
static const char *const hop_headers[] = {
	"connection", "keep-alive", "proxy-connection", "te", "trailer",
	"transfer-encoding", "upgrade", "content-length", "http2-settings", NULL,
};

/* Set by the proxy on the way to the backend. */
static const char *const request_set_headers[] = {
	"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id",
	"expect", NULL,
};

struct headbuf {
	char	*p;
	size_t	 cap;
	size_t	 len;
	int	 overflow;
};

static void
hb_put(struct headbuf *hb, const char *s, size_t n)
{
	if (n == 0)
		return;	/* s may be NULL: an empty reason phrase has no span */
	if (hb->overflow || hb->len + n > hb->cap) {
		hb->overflow = 1;
		return;
	}
	memcpy(hb->p + hb->len, s, n);
	hb->len += n;
}

/* No printf on the per-request path: strings and numbers are put directly. */
static void
hb_str(struct headbuf *hb, const char *s)
{
	hb_put(hb, s, strlen(s));
}

static void
hb_u64(struct headbuf *hb, uint64_t v)
{
	char	digits[20];
	size_t	n = sizeof(digits);

	do {
		digits[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	hb_put(hb, digits + n, sizeof(digits) - n);
}

static void
hb_header(struct headbuf *hb, const char *name, size_t namelen, const char *value,
    size_t valuelen)
{
	hb_put(hb, name, namelen);
	hb_put(hb, ": ", 2);
	hb_put(hb, value, valuelen);
	hb_put(hb, "\r\n", 2);
}

static int
name_in(const struct http_header *hd, const char *const *list)
{
	for (; *list != NULL; list++)
		if (http_token_eq(hd->name, hd->namelen, *list))
			return 1;
	return 0;
}

/*
 * A field named like one the proxy controls once '_' reads as '-'
 * (Transfer_Encoding, X_Forwarded_For): CGI-style backends map both spellings
 * to one variable, so it would get past the proxy's own handling. Dropped.
 */
static int
underscore_alias(const struct http_header *hd)
{
	struct http_header	alias = *hd;
	char			name[32];
	size_t			i;

	if (hd->namelen > sizeof(name) || memchr(hd->name, '_', hd->namelen) == NULL)
		return 0;
	for (i = 0; i < hd->namelen; i++)
		name[i] = hd->name[i] == '_' ? '-' : hd->name[i];
	alias.name = name;
	return name_in(&alias, hop_headers) || name_in(&alias, request_set_headers);
}

/* Is this header hop-by-hop for this message: fixed, or named by Connection? */
static int
hop_by_hop(const struct http_head *h, const struct http_header *hd)
{
	size_t	i;

	if (name_in(hd, hop_headers))
		return 1;
	/* Compared counted: a name of any length is found, none is cut short. */
	for (i = 0; i < h->nheaders; i++) {
		const struct http_header *c = &h->headers[i];

		if (http_token_eq(c->name, c->namelen, "connection") &&
		    http_list_has_n(c->value, c->valuelen, hd->name, hd->namelen))
			return 1;
	}
	return 0;
}

static void
hb_framing(struct headbuf *hb, enum body_framing framing, uint64_t length)
{
	if (framing == FRAME_LENGTH) {
		hb_put(hb, "Content-Length: ", 16);
		hb_u64(hb, length);
		hb_put(hb, "\r\n", 2);
	} else if (framing == FRAME_CHUNKED)
		hb_put(hb, "Transfer-Encoding: chunked\r\n", 28);
}

/* RFC 3986 3.2.2 and 3.2.3: what a host and port may be made of. */
static int
authority_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') ||
	    (c != '\0' && strchr("-._~!$&'()*+,;=:[]%", c) != NULL);
}

int
request_target(const char *url, size_t len, struct target *t)
{
	size_t	i, s;

	memset(t, 0, sizeof(*t));
	t->path = url;
	t->pathlen = len;
	if (len > 0 && url[0] == '/')
		return 0;
	if (len == 1 && url[0] == '*')
		return 0;
	if (len >= 7 && http_token_eq(url, 7, "http://"))
		s = 7;
	else if (len >= 8 && http_token_eq(url, 8, "https://"))
		s = 8;
	else
		return -1;
	for (i = s; i < len && url[i] != '/' && url[i] != '?' &&
	    url[i] != '#'; i++)
		if (!authority_char((unsigned char)url[i]))
			return -1;	/* '@' (userinfo) among them */
	if (i == s)
		return -1;
	t->authority = url + s;
	t->authoritylen = i - s;
	t->path = url + i;
	t->pathlen = len - i;
	return 1;
}

size_t
rewrite_request_head(char *out, size_t cap, const struct http_head *req,
    const struct rewrite_request *rw)
{
	struct headbuf			 hb = { out, cap, 0, 0 };
	const struct http_header	*hd, *host;
	struct target			 t;
	size_t				 i;
	int				 xff = 0, absolute;

	absolute = request_target(req->url, req->urllen, &t) == 1;
	hb_put(&hb, req->method, req->methodlen);
	hb_put(&hb, " ", 1);
	if (absolute && (t.pathlen == 0 || t.path[0] != '/'))
		hb_put(&hb, "/", 1);
	hb_put(&hb, t.path, t.pathlen);
	hb_put(&hb, " HTTP/1.1\r\n", 11);
	host = http_head_find(req, "host");
	if (absolute)
		hb_header(&hb, "Host", 4, t.authority, t.authoritylen);
	else if (host == NULL)
		hb_header(&hb, "Host", 4, rw->default_host, strlen(rw->default_host));
	for (i = 0; i < req->nheaders; i++) {
		hd = &req->headers[i];
		/* Host is end-to-end whatever Connection says: HTTP/1.1 requires it. */
		if ((hop_by_hop(req, hd) && hd != host) ||
		    name_in(hd, request_set_headers) || underscore_alias(hd) ||
		    (absolute && http_token_eq(hd->name, hd->namelen, "host")))
			continue;
		hb_header(&hb, hd->name, hd->namelen, hd->value, hd->valuelen);
	}
	/* Every X-Forwarded-For the client sent, in order, then the client. */
	for (i = 0; i < req->nheaders; i++) {
		hd = &req->headers[i];
		if (!http_token_eq(hd->name, hd->namelen, "x-forwarded-for") ||
		    hd->valuelen == 0)
			continue;
		hb_put(&hb, xff ? ", " : "X-Forwarded-For: ", xff ? 2 : 17);
		hb_put(&hb, hd->value, hd->valuelen);
		xff = 1;
	}
	hb_put(&hb, xff ? ", " : "X-Forwarded-For: ", xff ? 2 : 17);
	hb_str(&hb, rw->client_addr);
	hb_put(&hb, "\r\n", 2);
	hb_header(&hb, "X-Forwarded-Proto", 17, rw->proto, strlen(rw->proto));
	if (absolute)
		hb_header(&hb, "X-Forwarded-Host", 16, t.authority,
		    t.authoritylen);
	else if (host != NULL)
		hb_header(&hb, "X-Forwarded-Host", 16, host->value, host->valuelen);
	hb_header(&hb, "X-Request-ID", 12, rw->request_id, strlen(rw->request_id));
	hb_framing(&hb, rw->framing, rw->length);
	hb_put(&hb, "\r\n", 2);
	return hb.overflow ? 0 : hb.len;
}

size_t
rewrite_response_head(char *out, size_t cap, const struct http_head *resp,
    const struct rewrite_response *rw)
{
	struct headbuf			 hb = { out, cap, 0, 0 };
	const struct http_header	*hd;
	size_t				 i;

	hb_put(&hb, "HTTP/1.1 ", 9);
	hb_u64(&hb, (uint64_t)http_head_status(resp));
	hb_put(&hb, " ", 1);
	hb_put(&hb, resp->reason, resp->reasonlen);
	hb_put(&hb, "\r\n", 2);
	for (i = 0; i < resp->nheaders; i++) {
		hd = &resp->headers[i];
		if (hop_by_hop(resp, hd) ||
		    http_token_eq(hd->name, hd->namelen, "x-request-id"))
			continue;
		hb_header(&hb, hd->name, hd->namelen, hd->value, hd->valuelen);
	}
	hb_header(&hb, "X-Request-ID", 12, rw->request_id, strlen(rw->request_id));
	hb_framing(&hb, rw->framing, rw->length);
	if (!rw->keep_alive)
		hb_put(&hb, "Connection: close\r\n", 19);
	else if (rw->client_minor == 0)
		hb_put(&hb, "Connection: keep-alive\r\n", 24);
	hb_put(&hb, "\r\n", 2);
	return hb.overflow ? 0 : hb.len;
}

int
method_idempotent(const char *m, size_t len)
{
	static const char *const idem[] = {
		"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE", NULL,
	};
	size_t	i;

	for (i = 0; idem[i] != NULL; i++)
		if (strlen(idem[i]) == len && memcmp(idem[i], m, len) == 0)
			return 1;
	return 0;
}
