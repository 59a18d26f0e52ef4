/* held.c: the connections the keeper holds, each in the list of its state, by deadline. */
#include <stdlib.h>
#include <string.h>

#include "held.h"

#define HELD_BUF_MIN		1024	/* first allocation for a head's bytes */
#define HELD_HEADERS_MIN	16	/* first allocation of header slots */

void
held_list_insert(struct held_list *l, struct held *h)
{
	struct held	*after = l->tail;

	/* Deadlines arrive nearly in order: the walk back is short. */
	while (after != NULL && after->deadline > h->deadline)
		after = after->prev;
	h->prev = after;
	h->next = after != NULL ? after->next : l->head;
	if (h->next != NULL)
		h->next->prev = h;
	else
		l->tail = h;
	if (after != NULL)
		after->next = h;
	else
		l->head = h;
	l->n++;
}

void
held_list_remove(struct held_list *l, struct held *h)
{
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		l->head = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	else
		l->tail = h->prev;
	h->prev = h->next = NULL;
	l->n--;
}

static enum held_parse
parse_result(const struct http_head *head, long used, size_t n, const struct held_limits *lim)
{
	if (used < 0 || head->head_complete || n >= lim->max_header_size)
		return PARSE_DONE;
	return PARSE_PARTIAL;
}

enum held_parse
held_parse_whole(struct http_head *head, struct http_header *headers, const char *data,
    size_t n, const struct held_limits *lim)
{
	http_head_init(head, HTTP_REQUEST, headers, lim->max_headers, lim->max_uri_size);
	return parse_result(head, http_head_feed(head, data, n), n, lim);
}

/* Parse all the bytes held from the first: after the buffer or header slots grew. */
static enum held_parse
held_reparse(struct held_buf *b, const struct held_limits *lim)
{
	long	used;

	for (;;) {
		http_head_init(&b->head, HTTP_REQUEST, b->headers, b->maxheaders,
		    lim->max_uri_size);
		used = http_head_feed(&b->head, b->data, b->len);
		if (used >= 0 || b->head.error != HEAD_TOO_MANY ||
		    b->maxheaders >= lim->max_headers)
			return parse_result(&b->head, used, b->len, lim);
		/* Out of header slots, not of the limit: more slots, and again. */
		b->maxheaders = b->maxheaders * 2 < lim->max_headers ?
		    b->maxheaders * 2 : lim->max_headers;
		free(b->headers);
		if ((b->headers = calloc(b->maxheaders, sizeof(*b->headers))) == NULL)
			return PARSE_NOMEM;
	}
}

size_t
held_room(const struct held *h, const struct held_limits *lim)
{
	size_t	len = h->buf != NULL ? h->buf->len : 0;

	return lim->max_header_size > len ? lim->max_header_size - len : 0;
}

enum held_parse
held_append(struct held *h, const char *data, size_t n, const struct held_limits *lim)
{
	struct held_buf	*b = h->buf, *nb;
	size_t		 need = (b != NULL ? b->len : 0) + n, cap;
	long		 used;

	if (b == NULL || need > b->cap) {
		cap = b != NULL ? b->cap : HELD_BUF_MIN;
		while (cap < need)
			cap *= 2;
		if ((nb = realloc(b, sizeof(*nb) + cap)) == NULL)
			return PARSE_NOMEM;
		if (b == NULL) {
			memset(nb, 0, sizeof(*nb));
			nb->maxheaders = HELD_HEADERS_MIN < lim->max_headers ?
			    HELD_HEADERS_MIN : lim->max_headers;
			if ((nb->headers = calloc(nb->maxheaders, sizeof(*nb->headers))) == NULL) {
				free(nb);
				return PARSE_NOMEM;
			}
		}
		nb->cap = cap;
		h->buf = b = nb;
		memcpy(b->data + b->len, data, n);
		b->len += n;
		return held_reparse(b, lim);
	}
	memcpy(b->data + b->len, data, n);
	used = http_head_feed(&b->head, b->data + b->len, n);
	b->len += n;
	if (used < 0 && b->head.error == HEAD_TOO_MANY && b->maxheaders < lim->max_headers)
		return held_reparse(b, lim);
	return parse_result(&b->head, used, b->len, lim);
}

void
held_free(struct held *h)
{
	if (h->buf != NULL) {
		free(h->buf->headers);
		free(h->buf);
	}
	free(h);
}
