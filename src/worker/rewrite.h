/* rewrite.h: build the head sent to a backend and the head sent back to the client. */
#ifndef RP_REWRITE_H
#define RP_REWRITE_H

#include <stddef.h>
#include <stdint.h>

#include "http_head.h"

/* How a body travels on the connection being written. */
enum body_framing {
	FRAME_NONE = 0,		/* no body */
	FRAME_LENGTH,		/* Content-Length */
	FRAME_CHUNKED,
	FRAME_CLOSE,		/* response delimited by closing the connection */
};

struct rewrite_request {
	const char		*client_addr;	/* appended to X-Forwarded-For */
	const char		*request_id;
	const char		*proto;		/* X-Forwarded-Proto */
	const char		*default_host;	/* Host when the client sent none */
	enum body_framing	 framing;
	uint64_t		 length;	/* with FRAME_LENGTH */
};

struct rewrite_response {
	const char		*request_id;
	enum body_framing	 framing;
	uint64_t		 length;
	int			 keep_alive;	/* the client connection stays open */
	int			 client_minor;	/* HTTP/1.x of the client */
};

/* A request target split into the parts a backend is sent. */
struct target {
	const char	*authority;	/* absolute-form only: becomes Host */
	size_t		 authoritylen;
	const char	*path;		/* origin-form (or "*"); "/" is added when empty */
	size_t		 pathlen;
};

/*
 * Which form a request target has (RFC 9112 3.2): 0 for origin-form and "*"
 * (t->path is the whole target), 1 for absolute-form "http://authority/path"
 * or https (split into t), -1 for one the proxy refuses: another scheme, no
 * "//", an empty authority, userinfo, or bytes not allowed in an authority.
 * CONNECT's authority-form is not handled here.
 */
int	request_target(const char *url, size_t len, struct target *t);

/*
 * Write the head into out (cap bytes). An absolute-form target goes out in
 * origin-form, with its authority as Host and X-Forwarded-Host (RFC 9112
 * 3.2.2: the client's Host is ignored). Return its length, or 0 if it does not
 * fit. Hop-by-hop headers (Connection and the headers it names, Keep-Alive,
 * Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, HTTP2-Settings)
 * are dropped and the framing headers are written anew from what the proxy
 * itself parsed.
 */
size_t	rewrite_request_head(char *out, size_t cap, const struct http_head *req,
	    const struct rewrite_request *rw);
size_t	rewrite_response_head(char *out, size_t cap, const struct http_head *resp,
	    const struct rewrite_response *rw);

/* Is the method idempotent (RFC 9110 9.2.2), so a sent request may be retried? */
int	method_idempotent(const char *m, size_t len);

#endif
