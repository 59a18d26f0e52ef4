/* check_held.c: unit tests of the keeper's held connections: deadline lists, head parsing. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_util.h"
#include "held.h"

static const struct held_limits lim = {
	.max_header_size = 8192,
	.max_headers = 100,
	.max_uri_size = 4096,
};

static struct held *
held_at(int64_t deadline)
{
	struct held	*h = calloc(1, sizeof(*h));

	ck_assert_ptr_nonnull(h);
	h->deadline = deadline;
	h->fd = -1;
	return h;
}

static void
check_order(const struct held_list *l, const int64_t *want, size_t n)
{
	const struct held	*h;
	size_t			 i = 0;

	ck_assert_uint_eq(l->n, n);
	for (h = l->head; h != NULL; h = h->next, i++) {
		ck_assert_uint_lt(i, n);
		ck_assert_int_eq(h->deadline, want[i]);
		ck_assert_ptr_eq(h->prev, i == 0 ? NULL : h->prev);
	}
	ck_assert_uint_eq(i, n);
	ck_assert_int_eq(l->tail->deadline, want[n - 1]);
}

/* Appended nearly in order, kept exactly in order; removal from anywhere. */
START_TEST(test_list_order)
{
	static const int64_t	 in[] = { 10, 30, 20, 40, 5, 40 };
	static const int64_t	 sorted[] = { 5, 10, 20, 30, 40, 40 };
	static const int64_t	 after[] = { 10, 30, 40 };
	struct held_list	 l = { NULL, NULL, 0 };
	struct held		*h[6], *x;
	size_t			 i;

	for (i = 0; i < 6; i++) {
		h[i] = held_at(in[i]);
		held_list_insert(&l, h[i]);
	}
	check_order(&l, sorted, 6);
	held_list_remove(&l, h[4]);	/* the head (5) */
	held_list_remove(&l, h[2]);	/* the middle (20) */
	held_list_remove(&l, h[5]);	/* the tail (the later 40) */
	check_order(&l, after, 3);
	ck_assert_ptr_eq(l.tail, h[3]);
	while ((x = l.head) != NULL) {
		held_list_remove(&l, x);
		ck_assert_ptr_null(x->prev);
		ck_assert_ptr_null(x->next);
	}
	ck_assert_ptr_null(l.tail);
	ck_assert_uint_eq(l.n, 0);
	for (i = 0; i < 6; i++)
		free(h[i]);
}
END_TEST

/* A head in pieces is done exactly when its blank line comes. */
START_TEST(test_head_in_pieces)
{
	static const char	 req[] = "GET /a HTTP/1.1\r\nHost: t\r\nX-A: b\r\n\r\n";
	struct held		*h = held_at(0);
	size_t			 i;

	for (i = 0; i + 1 < sizeof(req) - 1; i++)
		ck_assert_int_eq(held_append(h, req + i, 1, &lim), PARSE_PARTIAL);
	ck_assert_int_eq(held_append(h, req + i, 1, &lim), PARSE_DONE);
	ck_assert(h->buf->head.head_complete);
	ck_assert_uint_eq(h->buf->len, sizeof(req) - 1);
	ck_assert_mem_eq(h->buf->data, req, sizeof(req) - 1);
	ck_assert_int_eq((int)h->buf->head.urllen, 2);
	held_free(h);
}
END_TEST

/* Bytes past the first allocation and header slots past the first ones: grown, parsed again. */
START_TEST(test_growth)
{
	struct held	*h = held_at(0);
	char		 line[64];
	int		 i;

	ck_assert_int_eq(held_append(h, "GET / HTTP/1.1\r\nHost: t\r\n", 25, &lim),
	    PARSE_PARTIAL);
	for (i = 0; i < 60; i++) {
		snprintf(line, sizeof(line), "X-Header-%02d: %040d\r\n", i, i);
		ck_assert_int_eq(held_append(h, line, strlen(line), &lim), PARSE_PARTIAL);
	}
	ck_assert_uint_gt(h->buf->cap, 1024);
	ck_assert_int_eq(held_append(h, "\r\n", 2, &lim), PARSE_DONE);
	ck_assert(h->buf->head.head_complete);
	ck_assert_uint_eq(h->buf->head.nheaders, 61);
	held_free(h);
}
END_TEST

/* Refused, or at the size limit without an end: done, a worker answers it. */
START_TEST(test_done_when_refused_or_full)
{
	struct held	*h = held_at(0);
	char		*big;

	ck_assert_int_eq(held_append(h, "GET / HTTP/1.1\r\nBad Name: x\r\n", 29, &lim), PARSE_DONE);
	ck_assert(!h->buf->head.head_complete);
	held_free(h);

	h = held_at(0);
	big = malloc(lim.max_header_size);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', lim.max_header_size - 5);
	ck_assert_int_eq(held_append(h, big, 1000, &lim), PARSE_PARTIAL);
	ck_assert_int_eq(held_append(h, big + 1000, lim.max_header_size - 1000, &lim),
	    PARSE_DONE);
	ck_assert_uint_eq(held_room(h, &lim), 0);
	free(big);
	held_free(h);
}
END_TEST

/* One read holding a whole head is done at once; a part of one is not. */
START_TEST(test_parse_whole)
{
	static const char	 req[] = "GET / HTTP/1.1\r\nHost: t\r\n\r\nbody bytes";
	struct http_header	 hdrs[100];
	struct http_head	 head;

	ck_assert_int_eq(held_parse_whole(&head, hdrs, req, sizeof(req) - 1, &lim), PARSE_DONE);
	ck_assert(head.head_complete);
	ck_assert_int_eq(held_parse_whole(&head, hdrs, req, 20, &lim), PARSE_PARTIAL);
	ck_assert(!head.head_complete);
}
END_TEST

static Suite *
held_suite(void)
{
	Suite	*s = suite_create("held");
	TCase	*tc = tcase_create("core");

	tcase_add_test(tc, test_list_order);
	tcase_add_test(tc, test_head_in_pieces);
	tcase_add_test(tc, test_growth);
	tcase_add_test(tc, test_done_when_refused_or_full);
	tcase_add_test(tc, test_parse_whole);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(held_suite)
