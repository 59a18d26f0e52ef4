/* http_head.h: one HTTP/1.x message head (and its body events) parsed by llhttp. */
#ifndef RP_HTTP_HEAD_H
#define RP_HTTP_HEAD_H

#include <stddef.h>
#include <stdint.h>

#include <llhttp.h>

struct http_header {
	const char	*name;
	size_t		 namelen;
	const char	*value;
	size_t		 valuelen;
};

/*
 * Why a head was refused; each maps to the status the proxy answers. In a
 * trailer section every error is a 400: it is part of the body's framing.
 */
enum http_head_error {
	HEAD_OK = 0,
	HEAD_BAD,		/* 400: the parser refused it */
	HEAD_TOO_LARGE,		/* 431: head, or trailer section over max_trailer */
	HEAD_URI_TOO_LONG,	/* 414 */
	HEAD_TOO_MANY,		/* 431: too many header (or trailer) lines */
	HEAD_VERSION,		/* 505: a well-formed HTTP/x.y other than 1.0 and 1.1 */
	HEAD_CODING,		/* 501: a transfer coding other than chunked, before it */
	HEAD_CHUNK,		/* 400: a chunk size or chunk extensions over the limits */
};

/* Trailer section bytes allowed when the caller sets no max_trailer. */
#define HTTP_TRAILER_MAX	16384
/* Chunk extension bytes allowed in one message (CVE-2024-22019's class). */
#define HTTP_CHUNK_EXT_MAX	16384
/* Digits of one chunk size, leading zeros included: 16 hold any 64-bit size. */
#define HTTP_CHUNK_DIGITS_MAX	16

typedef int (*http_body_fn)(void *ctx, const char *data, size_t len);

/*
 * The parser stops (pauses) when a head is complete and again when the whole
 * message is, so the caller decides what happens between head and body and
 * pipelined bytes stay unread in its buffer. Names and values point into the
 * caller's buffer, which must hold the head contiguously (fed in order from
 * one buffer) and must not move while the head is in use.
 *
 * Beyond llhttp, a request is refused when its request line is not exactly
 * "method SP target SP HTTP/1.x" (one without a version, as soon as it
 * ends), its version is not 1.0 or 1.1 (HEAD_VERSION
 * when well-formed), it has obs-fold or a line starting with whitespace, a
 * field name that is empty or not a token, or a Transfer-Encoding other than
 * one final chunked on HTTP/1.1 (HEAD_CODING when only the codings before
 * chunked are the trouble). Trailer fields are checked the same way, counted
 * against maxheaders and max_trailer bytes, and then dropped: they never
 * enter headers[], and may arrive in pieces from buffers since reused.
 * A chunk size of more than HTTP_CHUNK_DIGITS_MAX digits, or more than
 * HTTP_CHUNK_EXT_MAX bytes of chunk extensions in a message, is HEAD_CHUNK.
 * body_raw counts the body as it came, chunk framing and trailers included,
 * so that a body limit can count what the peer really sent.
 */
struct http_head {
	llhttp_t		 parser;
	llhttp_settings_t	 settings;

	const char		*method;
	size_t			 methodlen;
	const char		*url;
	size_t			 urllen;
	const char		*reason;
	size_t			 reasonlen;
	const char		*version;	/* "1.1": the digits after "HTTP/" */
	size_t			 versionlen;
	struct http_header	*headers;
	size_t			 nheaders;
	size_t			 maxheaders;
	size_t			 max_uri;
	size_t			 max_trailer;	/* trailer section bytes; init: HTTP_TRAILER_MAX */

	const char		*start;		/* first byte of the head (method or version) */
	const char		*feed_start;	/* data of the http_head_feed call running */
	int			 lf_ws;		/* the data fed so far ends in LF, SP/HTAB* */
	int			 field_state;	/* where in a field line the parser is */
	size_t			 fieldlen;	/* bytes of the current field's name */
	size_t			 ntrailers;
	size_t			 trailer_bytes;
	int			 head_scanned;	/* the raw head was checked for obs-fold */
	int			 size_line;	/* in a chunk-size line: 1 digits, 2 extensions */
	int			 chunk_paused;	/* paused at a chunk's end to find the next line */
	int			 last_chunk;	/* the zero-size chunk was seen */
	size_t			 chunk_digits;	/* of the current chunk size */
	size_t			 chunk_ext;	/* extension bytes in this message */
	uint64_t		 body_raw;	/* body bytes as sent, through the latest on_body */
	uint64_t		 body_raw_fed;	/* body bytes as sent, in earlier feeds */
	int			 feed_body;	/* the running feed started in the body */

	int			 head_complete;
	int			 msg_complete;
	int			 skip_body;	/* response to HEAD: no body whatever it says */
	enum http_head_error	 error;

	http_body_fn		 on_body;	/* body bytes, de-chunked */
	void			*body_ctx;
};

/* type is HTTP_REQUEST or HTTP_RESPONSE; headers has room for maxheaders. */
void	http_head_init(struct http_head *h, llhttp_type_t type, struct http_header *headers,
	    size_t maxheaders, size_t max_uri);

/* Forget the current message (after a complete one, before the next). */
void	http_head_reset(struct http_head *h);

/*
 * Feed len bytes (0 lets a message without body complete after its head). Return how many were consumed (the rest belongs to the next
 * message or the body), or -1 on a parse error (h->error says which).
 */
long	http_head_feed(struct http_head *h, const char *data, size_t len);

/* The peer closed: completes a message framed by close. -1 if truncated. */
int	http_head_finish(struct http_head *h);

/* First header named name (case-insensitive), or NULL. */
const struct http_header *http_head_find(const struct http_head *h, const char *name);

int	http_head_status(const struct http_head *h);
int	http_head_minor(const struct http_head *h);	/* 0 for HTTP/1.0, 1 for 1.1 */
int	http_head_keep_alive(const struct http_head *h);
int	http_head_chunked(const struct http_head *h);
int	http_head_has_length(const struct http_head *h);	/* Content-Length present */
uint64_t http_head_length(const struct http_head *h);	/* remaining body bytes */
int	http_head_upgrade(const struct http_head *h);	/* Upgrade or CONNECT */
int	http_head_needs_eof(const struct http_head *h);	/* body framed by close */
const char *http_head_error_reason(const struct http_head *h);

/* Case-insensitive compare of a counted string with a C string. */
int	http_token_eq(const char *s, size_t len, const char *lit);

/*
 * Is a Host value well-formed: empty, or uri-host [ ":" port ] of RFC 3986
 * 3.2.2 and 3.2.3 (RFC 9112 3.2)? No whitespace, userinfo or path.
 */
int	http_host_valid(const char *s, size_t len);

/* Does a comma-separated header value contain token (case-insensitive)? */
int	http_list_has(const char *value, size_t len, const char *token);
/* The same for a counted token (a field name in the caller's buffer). */
int	http_list_has_n(const char *value, size_t len, const char *token, size_t toklen);

#endif
