/* held.h: the connections the keeper holds, each in the list of its state, by deadline. */
#ifndef RP_HELD_H
#define RP_HELD_H

#include <stddef.h>
#include <stdint.h>

#include "handoff.h"
#include "http_head.h"

enum held_state {
	HELD_IDLE = 0,	/* kept alive between requests: closed quietly at keepalive_timeout */
	HELD_HEAD,	/* new, or a head has begun: 408 at client_header_timeout */
	HELD_READY,	/* its head is complete: waiting for room to hand it to a worker */
	HELD_CLOSING,	/* answered, write side shut: reading until the client closes */
	HELD_NSTATES	/* in no list yet */
};

/* The bytes of a head begun and the parser reading them; grown as they come. */
struct held_buf {
	size_t			 len;
	size_t			 cap;
	size_t			 maxheaders;
	struct http_head	 head;
	struct http_header	*headers;
	char			 data[];
};

/* One connection: a few dozen bytes until its client sends something. */
struct held {
	int			 fd;
	enum held_state		 state;
	uint32_t		 nreq;		/* requests served on it */
	int			 polled;	/* in the keeper's epoll set */
	int64_t			 since;		/* idle since, or head begun (CLOCK_MONOTONIC ns) */
	int64_t			 deadline;
	struct held		*prev, *next;	/* in its state's list */
	union handoff_peer	 peer;
	struct held_buf		*buf;		/* NULL until a byte of a head came */
};

/* A list kept in deadline order: appended from the tail, expired from the head. */
struct held_list {
	struct held	*head, *tail;
	size_t		 n;
};

void	held_list_insert(struct held_list *l, struct held *h);
void	held_list_remove(struct held_list *l, struct held *h);

/*
 * Limits a head is parsed with. Growth re-parses from the first byte: the
 * parser's pointers are into data, which realloc may move.
 */
struct held_limits {
	size_t	max_header_size;
	size_t	max_headers;
	size_t	max_uri_size;
};

/* How the bytes held so far stand. */
enum held_parse {
	PARSE_PARTIAL = 0,	/* more are needed */
	PARSE_DONE,		/* a complete head, a refused one, or the size limit: a worker answers */
	PARSE_NOMEM,
};

/* Add n bytes to h's head (allocating h->buf on the first) and parse them. */
enum held_parse held_append(struct held *h, const char *data, size_t n,
	    const struct held_limits *lim);

/* Parse data as one whole head with the caller's parser and header slots. */
enum held_parse held_parse_whole(struct http_head *head, struct http_header *headers,
	    const char *data, size_t n, const struct held_limits *lim);

/* Room left before the head size limit, for the next read. */
size_t	held_room(const struct held *h, const struct held_limits *lim);

void	held_free(struct held *h);

#endif
