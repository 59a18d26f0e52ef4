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

static int
on_message_begin(llhttp_t *p)
{
	struct http_head	*h = HEAD(p);

	h->method = h->url = h->reason = NULL;
	h->methodlen = h->urllen = h->reasonlen = 0;
	h->nheaders = 0;
	h->head_complete = h->msg_complete = 0;
	return 0;
}

static int
on_method(llhttp_t *p, const char *at, size_t n)
{
	span_extend(&HEAD(p)->method, &HEAD(p)->methodlen, at, n);
	return 0;
}

static int
on_url(llhttp_t *p, const char *at, size_t n)
{
	struct http_head	*h = HEAD(p);

	span_extend(&h->url, &h->urllen, at, n);
	if (h->urllen > h->max_uri) {
		h->error = HEAD_URI_TOO_LONG;
		return -1;
	}
	return 0;
}

static int
on_status(llhttp_t *p, const char *at, size_t n)
{
	span_extend(&HEAD(p)->reason, &HEAD(p)->reasonlen, at, n);
	return 0;
}

/* RFC 9110 5.6.2 tchar: llhttp (not built strict) lets SP and HTAB into names. */
static int
is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z') || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
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

	/* A new field starts once the previous one has a value. */
	if (h->nheaders == 0 || h->headers[h->nheaders - 1].value != NULL) {
		if (h->nheaders == h->maxheaders) {
			h->error = HEAD_TOO_MANY;
			return -1;
		}
		hd = &h->headers[h->nheaders++];
		memset(hd, 0, sizeof(*hd));
	}
	hd = &h->headers[h->nheaders - 1];
	span_extend(&hd->name, &hd->namelen, at, n);
	return 0;
}

static int
on_header_value(llhttp_t *p, const char *at, size_t n)
{
	struct http_header	*hd = &HEAD(p)->headers[HEAD(p)->nheaders - 1];

	span_extend(&hd->value, &hd->valuelen, at, n);
	/* obs-fold: llhttp hands over the pieces; the span then holds CR LF (RFC 9112 5.2). */
	if (memchr(hd->value, '\r', hd->valuelen) != NULL ||
	    memchr(hd->value, '\n', hd->valuelen) != NULL)
		return -1;
	return 0;
}

static int
on_header_value_complete(llhttp_t *p)
{
	struct http_header	*hd = &HEAD(p)->headers[HEAD(p)->nheaders - 1];

	/* An empty value still ends the field. */
	if (hd->value == NULL)
		hd->value = hd->name + hd->namelen;
	/* Trailing OWS is not part of the value (RFC 9110 5.5). */
	while (hd->valuelen > 0 && (hd->value[hd->valuelen - 1] == ' ' ||
	    hd->value[hd->valuelen - 1] == '\t'))
		hd->valuelen--;
	return 0;
}

static int
on_headers_complete(llhttp_t *p)
{
	struct http_head	*h = HEAD(p);

	/* Interim 1xx responses are skipped: the final head follows. */
	if (p->type == HTTP_RESPONSE && p->status_code >= 100 &&
	    p->status_code < 200 && p->status_code != 101)
		return 0;
	h->head_complete = 1;
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
	return h->on_body(h->body_ctx, at, n) == 0 ? 0 : -1;
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

void
http_head_init(struct http_head *h, llhttp_type_t type, struct http_header *headers,
    size_t maxheaders, size_t max_uri)
{
	memset(h, 0, sizeof(*h));
	llhttp_settings_init(&h->settings);
	h->settings.on_message_begin = on_message_begin;
	h->settings.on_method = on_method;
	h->settings.on_url = on_url;
	h->settings.on_status = on_status;
	h->settings.on_header_field = on_header_field;
	h->settings.on_header_value = on_header_value;
	h->settings.on_header_value_complete = on_header_value_complete;
	h->settings.on_headers_complete = on_headers_complete;
	h->settings.on_body = on_body;
	h->settings.on_message_complete = on_message_complete;
	h->headers = headers;
	h->maxheaders = maxheaders;
	h->max_uri = max_uri;
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
	h->method = h->url = h->reason = NULL;
	h->methodlen = h->urllen = h->reasonlen = 0;
	h->nheaders = 0;
	h->head_complete = h->msg_complete = h->skip_body = 0;
	h->error = HEAD_OK;
}

long
http_head_feed(struct http_head *h, const char *data, size_t len)
{
	llhttp_errno_t	e;

	/*
	 * A complete message stays paused until http_head_reset(): resuming would
	 * reset llhttp's flags, and keep-alive and framing are read from them.
	 */
	if (h->msg_complete)
		return 0;
	/* Zero bytes still let a paused parser finish a message that has no body. */
	if (llhttp_get_errno(&h->parser) == HPE_PAUSED)
		llhttp_resume(&h->parser);
	e = llhttp_execute(&h->parser, data, len);
	switch (e) {
	case HPE_OK:
		return (long)len;
	case HPE_PAUSED:
	case HPE_PAUSED_UPGRADE:
		return (long)(llhttp_get_error_pos(&h->parser) - data);
	default:
		if (h->error == HEAD_OK)
			h->error = HEAD_BAD;
		return -1;
	}
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
	size_t	i = 0, start, end;

	while (i < len) {
		while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
			i++;
		start = i;
		while (i < len && value[i] != ',')
			i++;
		end = i;
		while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
			end--;
		if (end > start && http_token_eq(value + start, end - start, token))
			return 1;
	}
	return 0;
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
	case HEAD_BAD:
		break;
	}
	return llhttp_get_error_reason(&h->parser) != NULL ?
	    llhttp_get_error_reason(&h->parser) : llhttp_errno_name(llhttp_get_errno(&h->parser));
}
