/* fuzz_request.c: libFuzzer harness: client bytes -> request head parser -> rewriter. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"
#include "rewrite.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS	100
#define MAX_URI		8192

static int
body_sink(void *ctx, const char *data, size_t len)
{
	size_t	*total = ctx;

	/* Touch every byte so ASan sees any out-of-bounds span. */
	for (size_t i = 0; i < len; i++)
		*total += (unsigned char)data[i];
	return 0;
}

/* What the parser took kept to the chunk limits (CVE-2024-22019): else a finding. */
static void
limits_hold(const struct http_head *h)
{
	if (h->chunk_ext > HTTP_CHUNK_EXT_MAX || h->chunk_digits > HTTP_CHUNK_DIGITS_MAX)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct http_header	headers[MAX_HEADERS];
	static char			out[65536];
	struct http_head		h;
	struct rewrite_request		rr;
	const char			*p = (const char *)data;
	size_t				pos = 0, total = 0;
	long				used;
	int				messages = 0;

	http_head_init(&h, HTTP_REQUEST, headers, MAX_HEADERS, MAX_URI);
	/* Pipelined messages, as the worker parses them: head, rewrite, body, next. */
	while (pos <= size && messages++ < 16) {
		used = http_head_feed(&h, p + pos, size - pos);
		if (used < 0)
			break;
		pos += (size_t)used;
		if (!h.head_complete)
			break;
		memset(&rr, 0, sizeof(rr));
		rr.client_addr = "127.0.0.1";
		rr.request_id = "fuzz";
		rr.proto = "http";
		rr.default_host = "backend:80";
		rr.framing = http_head_chunked(&h) ? FRAME_CHUNKED :
		    http_head_has_length(&h) ? FRAME_LENGTH : FRAME_NONE;
		rr.length = http_head_length(&h);
		(void)rewrite_request_head(out, sizeof(out), &h, &rr);
		(void)method_idempotent(h.method, h.methodlen);
		h.on_body = body_sink;
		h.body_ctx = &total;
		while (!h.msg_complete && pos <= size) {
			used = http_head_feed(&h, p + pos, size - pos);
			if (used <= 0)
				break;
			pos += (size_t)used;
			limits_hold(&h);
		}
		if (!h.msg_complete || http_head_upgrade(&h))
			break;
		http_head_reset(&h);
	}
	return 0;
}
