/* fuzz_response.c: libFuzzer harness: backend bytes -> response head parser -> rewriter. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http_head.h"
#include "rewrite.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_HEADERS	100

static int
body_sink(void *ctx, const char *data, size_t len)
{
	size_t	*total = ctx;

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
	struct rewrite_response		rr;
	const char			*p = (const char *)data;
	size_t				pos = 0, total = 0;
	long				used;

	if (size == 0)
		return 0;
	http_head_init(&h, HTTP_RESPONSE, headers, MAX_HEADERS, 65536);
	/* The first byte picks a HEAD request (no body) or not. */
	h.skip_body = data[0] & 1;
	pos = 1;
	used = http_head_feed(&h, p + pos, size - pos);
	if (used < 0 || !h.head_complete)
		return 0;
	pos += (size_t)used;
	memset(&rr, 0, sizeof(rr));
	rr.request_id = "fuzz";
	rr.framing = http_head_has_length(&h) ? FRAME_LENGTH : FRAME_CHUNKED;
	rr.length = http_head_length(&h);
	rr.keep_alive = http_head_keep_alive(&h);
	rr.client_minor = data[0] & 2 ? 1 : 0;
	(void)rewrite_response_head(out, sizeof(out), &h, &rr);
	h.on_body = body_sink;
	h.body_ctx = &total;
	while (!h.msg_complete && pos < size) {
		used = http_head_feed(&h, p + pos, size - pos);
		if (used <= 0)
			break;
		pos += (size_t)used;
		limits_hold(&h);
	}
	if (!h.msg_complete && http_head_needs_eof(&h))
		(void)http_head_finish(&h);
	return 0;
}
