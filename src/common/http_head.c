/* http_head.c: one HTTP/1.x message head (and its body events) parsed by llhttp. */
#include <string.h>
#include <strings.h>

#include "http_head.h"

#define HEAD(p)	((struct http_head *)(p)->data)

/* llhttp may hand a token over in pieces; they are adjacent in the buffer. */
static void
span_extend(const char **start, size_t *len, const char *at, size_t n)
{
	if (*start == NULL)
		*start = at;
	*len = (size_t)(at + n - *start);
}

/* Where in a field line the parser is: names and values come in pieces. */
enum {
	FIELD_NONE = 0,		/* between lines */
	FIELD_NAME,
	FIELD_VALUE,
};

/* The first byte of the head: the raw head is scanned from there for obs-fold. */
static void
mark_start(struct http_head *h, const char *at)
{
	if (h->start == NULL)
		h->start = at;
}

/* Forget the previous message's head (a 1xx, or the one before a reset). */
static void
head_clear(struct http_head *h)
{
	h->method = h->url = h->reason = h->version = h->start = NULL;
	h->methodlen = h->urllen = h->reasonlen = h->versionlen = 0;
	h->nheaders = h->ntrailers = h->trailer_bytes = h->fieldlen = 0;
	h->field_state = FIELD_NONE;
	h->head_complete = h->msg_complete = h->head_scanned = 0;
	h->size_line = h->chunk_paused = h->last_chunk = 0;
	h->chunk_digits = h->chunk_ext = 0;
	h->body_raw = h->body_raw_fed = 0;
}

static int
on_message_begin(llhttp_t *p)
{
	head_clear(HEAD(p));
	return 0;
}

static int
on_method(llhttp_t *p, const char *at, size_t n)
{
	mark_start(HEAD(p), at);
	span_extend(&HEAD(p)->method, &HEAD(p)->methodlen, at, n);
	return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t n)
{
	struct http_head	*h = HEAD(p);

	/* Exactly one SP after the method (RFC 9112 3): llhttp skips several. */
	if (h->url == NULL && h->method != NULL &&
	    at != h->method + h->methodlen + 1)
		return -1;
	mark_start(h, at);
	span_extend(&h->url, &h->urllen, at, n);
	if (h->urllen > h->max_uri) {
		h->error = HEAD_URI_TOO_LONG;
		return -1;
	}
	return 0;
}

/*
 * The digits of "HTTP/x.y". llhttp refuses some versions itself (1.2, 3.0)
 * and accepts others (0.9, 2.0) as a request line; every well-formed one but
 * 1.0 and 1.1 is refused here alike, as a version this proxy does not speak.
 */
static int
on_version(llhttp_t *p, const char *at, size_t n)
{
	struct http_head	*h = HEAD(p);
	const char		*v;

	/* Exactly one SP between target and version. */
	if (h->version == NULL && h->url != NULL &&
	    at != h->url + h->urllen + strlen(" HTTP/"))
		return -1;
	mark_start(h, at);
	span_extend(&h->version, &h->versionlen, at, n);
	if (h->versionlen < 3)
		return 0;	/* more to come */
	v = h->version;
	if (h->versionlen == 3 && v[0] == '1' && v[1] == '.' &&
	    (v[2] == '0' || v[2] == '1'))
		return 0;
	if (h->versionlen == 3 && v[0] >= '0' && v[0] <= '9' && v[1] == '.' &&
	    v[2] >= '0' && v[2] <= '9')
		h->error = HEAD_VERSION;
	return -1;
}

static int
on_version_complete(llhttp_t *p)
{
	/* Whatever slipped past on_version, short of three bytes, is no 1.x. */
	return HEAD(p)->versionlen == 3 ? 0 : -1;
}

static int
on_status(llhttp_t *p, const char *at, size_t n)
{
	span_extend(&HEAD(p)->reason, &HEAD(p)->reasonlen, at, n);
	return 0;
}

/*
 * RFC 9110 5.6.2 tchar. The strict llhttp rproxyd is built with refuses any
 * other byte in a name too; checked here as well, so that the refusal does not
 * hang on how llhttp was compiled (a lenient build lets SP and HTAB in).
 */
static int
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Count a trailer piece against max_trailer (a line's ": " and CRLF included). */
static int
trailer_add(struct http_head *h, size_t n)
{
	h->trailer_bytes += n;
	if (h->trailer_bytes > h->max_trailer) {
		h->error = HEAD_TOO_LARGE;
		return -1;
	}
	return 0;
}

static int
on_header_field(llhttp_t *p, const char *at, size_t n)
{
	struct http_head	*h = HEAD(p);
	struct http_header	*hd;
	size_t			 i;

	/* Whitespace before the colon or inside a name: a smuggling vector. */
	for (i = 0; i < n; i++)
		if (!is_tchar((unsigned char)at[i]))
			return -1;

	if (h->field_state != FIELD_NAME) {
		h->field_state = FIELD_NAME;
		h->fieldlen = 0;
		if (h->head_complete) {
			/* A trailer: counted and checked, never kept. */
			if (h->ntrailers++ == h->maxheaders) {
				h->error = HEAD_TOO_MANY;
				return -1;
			}
			if (trailer_add(h, 4) == -1)
				return -1;
		} else {
			if (h->nheaders == h->maxheaders) {
				h->error = HEAD_TOO_MANY;
				return -1;
			}
			hd = &h->headers[h->nheaders++];
			memset(hd, 0, sizeof(*hd));
		}
	}
	h->fieldlen += n;
	if (h->head_complete)
		return trailer_add(h, n);
	mark_start(h, at);
	hd = &h->headers[h->nheaders - 1];
	span_extend(&hd->name, &hd->namelen, at, n);
	return 0;
}

static int
on_header_field_complete(llhttp_t *p)
{
	struct http_head	*h = HEAD(p);

	/* llhttp takes ": v" as a field with an empty name. */
	if (h->field_state != FIELD_NAME || h->fieldlen == 0)
		return -1;
	h->field_state = FIELD_VALUE;
	return 0;
}

/*
 * Does the piece at starts a line (after LF and optional whitespace): the
 * continuation of an obs-fold? Looks back only within the data being fed,
 * and past its start at what the previous feed ended with.
 */
static int
piece_after_lf(const struct http_head *h, const char *at)
{
	const char	*q = at;

	while (q > h->feed_start && (q[-1] == ' ' || q[-1] == '\t'))
		q--;
	if (q == h->feed_start)
		return h->lf_ws;
	return q[-1] == '\n';
}

static int
on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct http_head	*h = HEAD(p);
	struct http_header	*hd;

	if (h->field_state != FIELD_VALUE)
		return -1;
	/* obs-fold (RFC 9112 5.2): llhttp hands its lines over as more pieces. */
	if (n > 0 && h->feed_start != NULL && piece_after_lf(h, at))
		return -1;
	if (h->head_complete)
		return trailer_add(h, n);
	hd = &h->headers[h->nheaders - 1];
	span_extend(&hd->value, &hd->valuelen, at, n);
	/* In the head the span is contiguous: a fold would put CR LF inside it. */
	if (memchr(hd->value, '\r', hd->valuelen) != NULL ||
	    memchr(hd->value, '\n', hd->valuelen) != NULL)
		return -1;
	return 0;
}

static int
on_header_value_complete(llhttp_t *p)
{
	struct http_head	*h = HEAD(p);
	struct http_header	*hd;

	if (h->field_state != FIELD_VALUE)
		return -1;
	h->field_state = FIELD_NONE;
	if (h->head_complete)
		return 0;
	hd = &h->headers[h->nheaders - 1];
	/* An empty value still ends the field. */
	if (hd->value == NULL)
		hd->value = hd->name + hd->namelen;
	/* Trailing OWS is not part of the value (RFC 9110 5.5). */
	while (hd->valuelen > 0 && (hd->value[hd->valuelen - 1] == ' ' ||
	    hd->value[hd->valuelen - 1] == '\t'))
		hd->valuelen--;
	return 0;
}

/*
 * The next element of a comma-separated list (RFC 9110 5.6.1) at or after
 * *pos: its start and length, whitespace around it and empty elements
 * skipped. 0 at the end of the list.
 */
static int
list_next(const char *v, size_t len, size_t *pos, size_t *start, size_t *elen)
{
	size_t	i = *pos, end;

	while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
		i++;
	*pos = i;
	if (i == len)
		return 0;
	*start = i;
	while (i < len && v[i] != ',')
		i++;
	end = i;
	while (end > *start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
		end--;
	*elen = end - *start;
	*pos = i;
	return 1;
}

/*
 * RFC 9112 6.1 and 6.3: of the transfer codings the proxy implements only
 * chunked, once, last, and only in HTTP/1.1 messages. HEAD_BAD when the
 * framing cannot be trusted, HEAD_CODING when it can but a coding before
 * chunked would be lost by de-chunking.
 */
static enum http_head_error
transfer_coding_check(const struct http_head *h)
{
	const struct http_header	*hd;
	size_t				 i, j, k, start, n;
	int				 present = 0, codings = 0;
	int				 chunked = 0, other = 0;

	for (i = 0; i < h->nheaders; i++) {
		hd = &h->headers[i];
		if (!http_token_eq(hd->name, hd->namelen, "transfer-encoding"))
			continue;
		present = 1;
		for (j = 0; list_next(hd->value, hd->valuelen, &j, &start, &n);) {
			codings++;
			if (chunked)
				return HEAD_BAD;	/* chunked not last, or twice */
			if (http_token_eq(hd->value + start, n, "chunked")) {
				chunked = 1;
				continue;
			}
			/* Another coding: a token, maybe with parameters. */
			for (k = start; k < start + n && hd->value[k] != ';'; k++)
				if (!is_tchar((unsigned char)hd->value[k]))
					return HEAD_BAD;
			other = 1;
		}
	}
	if (!present)
		return HEAD_OK;
	if (http_head_minor(h) == 0 || codings == 0 || !chunked)
		return HEAD_BAD;
	/* llhttp must frame it the same way, or it will read the body otherwise. */
	if (!http_head_chunked(h) || http_head_has_length(h))
		return HEAD_BAD;
	return other ? HEAD_CODING : HEAD_OK;
}

static int
on_headers_complete(llhttp_t *p)
{
	struct http_head	*h = HEAD(p);

	/* Interim 1xx responses are skipped: the final head follows. */
	if (p->type == HTTP_RESPONSE && p->status_code >= 100 &&
	    p->status_code < 200 && p->status_code != 101)
		return 0;
	/* llhttp takes "GET /" CRLF as HTTP/0.9, with no version to call back for. */
	if (h->versionlen != 3)
		return -1;
	/* Responses too: the proxy sends no TE, so a backend may use chunked only. */
	if ((h->error = transfer_coding_check(h)) != HEAD_OK)
		return -1;
	h->head_complete = 1;
	h->field_state = FIELD_NONE;
	/* The body starts with a chunk-size line. */
	h->size_line = http_head_chunked(h) ? 1 : 0;
	if (h->skip_body)
		return 1;	/* no body; the message-complete pause follows */
	return HPE_PAUSED;
}

static int
on_body(llhttp_t *p, const char *at, size_t n)
{
	struct http_head	*h = HEAD(p);

	/* llhttp closes an open span with an empty call: no data, nothing to do. */
	if (h->on_body == NULL || n == 0)
		return 0;
	if (h->feed_body)
		h->body_raw = h->body_raw_fed + (uint64_t)(at + n - h->feed_start);
	return h->on_body(h->body_ctx, at, n) == 0 ? 0 : -1;
}

static int
on_chunk_header(llhttp_t *p)
{
	HEAD(p)->last_chunk = p->content_length == 0;
	return 0;
}

/*
 * Pause at each chunk's end but the last (whose end comes after the
 * trailers): http_head_feed() learns there where the next size line starts.
 */
static int
on_chunk_complete(llhttp_t *p)
{
	struct http_head	*h = HEAD(p);

	if (h->last_chunk)
		return 0;
	h->chunk_paused = 1;
	return HPE_PAUSED;
}

static int
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Count the size line that starts (or goes on) at data, up to its LF, before
 * llhttp reads it: llhttp takes any number of leading zeros and extension
 * bytes, without a callback until the line ends. -1 over a limit.
 */
static int
size_line_scan(struct http_head *h, const char *data, size_t len)
{
	size_t	i;

	for (i = 0; i < len && h->size_line != 0; i++) {
		if (data[i] == '\n') {
			h->size_line = 0;
			h->chunk_digits = 0;
		} else if (h->size_line == 1 && is_hex((unsigned char)data[i])) {
			if (++h->chunk_digits > HTTP_CHUNK_DIGITS_MAX)
				goto over;
		} else {
			h->size_line = 2;
			if (data[i] != '\r' && ++h->chunk_ext > HTTP_CHUNK_EXT_MAX)
				goto over;
		}
	}
	return 0;
over:
	h->error = HEAD_CHUNK;
	return -1;
}

static int
on_message_complete(llhttp_t *p)
{
	struct http_head	*h = HEAD(p);

	if (!h->head_complete)
		return 0;	/* end of a 1xx */
	h->msg_complete = 1;
	return HPE_PAUSED;
}

/*
 * The whole head, now that its end is known: a line that starts with SP or
 * HTAB is obs-fold (or whitespace before the first field), which llhttp
 * takes silently when the folded part is empty or the value before it was.
 */
static int
head_scan(struct http_head *h, const char *end)
{
	const char	*q;

	h->head_scanned = 1;
	if (h->start == NULL || end < h->start)
		return 0;
	for (q = h->start; q + 1 < end; q++)
		if (q[0] == '\n' && (q[1] == ' ' || q[1] == '\t'))
			return -1;
	return 0;
}

/* Does data end in LF and optional SP/HTAB (a line that may be a fold)? */
static int
ends_lf_ws(const char *data, size_t len, int before)
{
	while (len > 0 && (data[len - 1] == ' ' || data[len - 1] == '\t'))
		len--;
	return len == 0 ? before : data[len - 1] == '\n';
}

void
http_head_init(struct http_head *h, llhttp_type_t type, struct http_header *headers,
    size_t maxheaders, size_t max_uri)
{
	memset(h, 0, sizeof(*h));
	llhttp_settings_init(&h->settings);
	h->settings.on_message_begin = on_message_begin;
	h->settings.on_method = on_method;
	h->settings.on_url = on_url;
	h->settings.on_version = on_version;
	h->settings.on_version_complete = on_version_complete;
	h->settings.on_status = on_status;
	h->settings.on_header_field = on_header_field;
	h->settings.on_header_field_complete = on_header_field_complete;
	h->settings.on_header_value = on_header_value;
	h->settings.on_header_value_complete = on_header_value_complete;
	h->settings.on_headers_complete = on_headers_complete;
	h->settings.on_body = on_body;
	h->settings.on_chunk_header = on_chunk_header;
	h->settings.on_chunk_complete = on_chunk_complete;
	h->settings.on_message_complete = on_message_complete;
	h->headers = headers;
	h->maxheaders = maxheaders;
	h->max_uri = max_uri;
	h->max_trailer = HTTP_TRAILER_MAX;
	llhttp_init(&h->parser, type, &h->settings);
	h->parser.data = h;
}

void
http_head_reset(struct http_head *h)
{
	llhttp_type_t	type = (llhttp_type_t)h->parser.type;

	/* A fresh parser: nothing of the previous message can leak into the next. */
	llhttp_init(&h->parser, type, &h->settings);
	h->parser.data = h;
	head_clear(h);
	h->feed_start = NULL;
	h->skip_body = h->lf_ws = 0;
	h->error = HEAD_OK;
}

/*
 * Run llhttp over data, stopping at each chunk's end to count the next size
 * line before llhttp reads it. HPE_USER when that line is over a limit.
 */
static llhttp_errno_t
head_execute(struct http_head *h, const char *data, size_t len)
{
	llhttp_errno_t	e;
	size_t		pos = 0;

	h->feed_start = data;
	h->feed_body = h->head_complete;
	for (;;) {
		/* Zero bytes still let a paused parser finish a message that has no body. */
		if (llhttp_get_errno(&h->parser) == HPE_PAUSED)
			llhttp_resume(&h->parser);
		if (h->size_line != 0 && size_line_scan(h, data + pos, len - pos) == -1) {
			e = HPE_USER;
			break;
		}
		e = llhttp_execute(&h->parser, data + pos, len - pos);
		if (e != HPE_PAUSED || !h->chunk_paused)
			break;
		/* A chunk ended: the next size line starts where llhttp stopped. */
		h->chunk_paused = 0;
		h->size_line = 1;
		pos = (size_t)(llhttp_get_error_pos(&h->parser) - data);
	}
	h->feed_start = NULL;
	return e;
}

/*
 * "GET /path" CRLF is HTTP/0.9 to llhttp, which then waits for header lines
 * such a client never sends: refused as soon as the line ends. A target
 * followed by a byte in the data has ended on that byte.
 */
static int
head_http09(struct http_head *h, const char *data, size_t len)
{
	if (h->url == NULL || h->version != NULL || h->url + h->urllen >= data + len ||
	    (h->url[h->urllen] != '\r' && h->url[h->urllen] != '\n'))
		return 0;
	h->error = HEAD_BAD;
	llhttp_set_error_reason(&h->parser, "request line without a version");
	return -1;
}

long
http_head_feed(struct http_head *h, const char *data, size_t len)
{
	llhttp_errno_t	e;
	long		used;

	/*
	 * A complete message stays paused until http_head_reset(): resuming would
	 * reset llhttp's flags, and keep-alive and framing are read from them.
	 */
	if (h->msg_complete)
		return 0;
	e = head_execute(h, data, len);
	if (e == HPE_OK && head_http09(h, data, len) == -1)
		return -1;
	switch (e) {
	case HPE_OK:
		used = (long)len;
		break;
	case HPE_PAUSED:
	case HPE_PAUSED_UPGRADE:
		used = (long)(llhttp_get_error_pos(&h->parser) - data);
		break;
	default:
		if (h->error == HEAD_OK)
			h->error = HEAD_BAD;
		return -1;
	}
	if (h->feed_body) {
		h->body_raw_fed += (uint64_t)used;
		h->body_raw = h->body_raw_fed;
	}
	if (h->head_complete && !h->head_scanned &&
	    head_scan(h, data + used) == -1) {
		h->head_complete = h->msg_complete = 0;
		h->error = HEAD_BAD;
		return -1;
	}
	h->lf_ws = ends_lf_ws(data, (size_t)used, h->lf_ws);
	return used;
}

int
http_head_finish(struct http_head *h)
{
	llhttp_errno_t	e;

	if (llhttp_get_errno(&h->parser) == HPE_PAUSED)
		llhttp_resume(&h->parser);
	/* on_message_complete pauses; llhttp_finish returns that, unrecorded. */
	e = llhttp_finish(&h->parser);
	if (e != HPE_OK && e != HPE_PAUSED)
		return -1;
	return h->msg_complete ? 0 : -1;
}

int
http_token_eq(const char *s, size_t len, const char *lit)
{
	return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

int
http_list_has(const char *value, size_t len, const char *token)
{
	return http_list_has_n(value, len, token, strlen(token));
}

int
http_list_has_n(const char *value, size_t len, const char *token, size_t toklen)
{
	size_t	i = 0, start, n;

	while (list_next(value, len, &i, &start, &n))
		if (n == toklen && toklen > 0 && strncasecmp(value + start, token, toklen) == 0)
			return 1;
	return 0;
}

/* RFC 3986 2.3 and 2.2: unreserved and sub-delims. */
static int
is_host_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

int
http_host_valid(const char *s, size_t len)
{
	size_t	i = 0;

	if (len > 0 && s[0] == '[') {
		/* IP-literal: an IPv6 address or IPvFuture, checked for its bytes only. */
		for (i = 1; i < len && s[i] != ']'; i++)
			if (!is_host_char((unsigned char)s[i]) && s[i] != ':')
				return 0;
		if (i == len || i == 1)
			return 0;
		i++;
	} else {
		/* reg-name or IPv4address. */
		for (; i < len && s[i] != ':'; i++) {
			if (s[i] == '%') {
				if (i + 2 >= len || !is_hex((unsigned char)s[i + 1]) ||
				    !is_hex((unsigned char)s[i + 2]))
					return 0;
				i += 2;
			} else if (!is_host_char((unsigned char)s[i]))
				return 0;
		}
	}
	if (i == len)
		return 1;
	if (s[i++] != ':')
		return 0;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

const struct http_header *
http_head_find(const struct http_head *h, const char *name)
{
	size_t	i;

	for (i = 0; i < h->nheaders; i++)
		if (http_token_eq(h->headers[i].name, h->headers[i].namelen, name))
			return &h->headers[i];
	return NULL;
}

int
http_head_status(const struct http_head *h)
{
	return llhttp_get_status_code((llhttp_t *)&h->parser);
}

int
http_head_minor(const struct http_head *h)
{
	return llhttp_get_http_major((llhttp_t *)&h->parser) == 1 ?
	    llhttp_get_http_minor((llhttp_t *)&h->parser) : 0;
}

int
http_head_keep_alive(const struct http_head *h)
{
	return llhttp_should_keep_alive(&h->parser);
}

int
http_head_chunked(const struct http_head *h)
{
	return (h->parser.flags & F_CHUNKED) != 0;
}

int
http_head_has_length(const struct http_head *h)
{
	return (h->parser.flags & F_CONTENT_LENGTH) != 0;
}

uint64_t
http_head_length(const struct http_head *h)
{
	return h->parser.content_length;
}

int
http_head_upgrade(const struct http_head *h)
{
	return h->parser.upgrade != 0 || (h->parser.type == HTTP_REQUEST &&
	    h->parser.method == HTTP_CONNECT);
}

int
http_head_needs_eof(const struct http_head *h)
{
	return llhttp_message_needs_eof(&h->parser);
}

const char *
http_head_error_reason(const struct http_head *h)
{
	switch (h->error) {
	case HEAD_OK:
		return "ok";
	case HEAD_TOO_LARGE:
		return "header too large";
	case HEAD_URI_TOO_LONG:
		return "URI too long";
	case HEAD_TOO_MANY:
		return "too many headers";
	case HEAD_VERSION:
		return "HTTP version not supported";
	case HEAD_CODING:
		return "transfer coding not implemented";
	case HEAD_CHUNK:
		return "chunk size or extensions too long";
	case HEAD_BAD:
		break;
	}
	return llhttp_get_error_reason(&h->parser) != NULL ?
	    llhttp_get_error_reason(&h->parser) : llhttp_errno_name(llhttp_get_errno(&h->parser));
}
