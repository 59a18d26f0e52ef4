/* handoff.h: a client connection passed between keeper and workers (SCM_RIGHTS). */
#ifndef RP_HANDOFF_H
#define RP_HANDOFF_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#define HANDOFF_MAGIC	0x52504831u	/* "RPH1" */

/*
 * One SOCK_SEQPACKET socket pair carries both directions: what the keeper
 * writes on its end is read by whichever worker is free (the kernel wakes
 * one blocked reader), and what workers write on theirs reaches the keeper.
 */
enum handoff_kind {
	HANDOFF_READY = 1,	/* its next request is here: serve it (keeper -> worker) */
	HANDOFF_WAIT,		/* hold it until its next request is (worker -> keeper) */
};

union handoff_peer {
	struct sockaddr		sa;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
};

/* The message; the bytes already read from the client follow it. */
struct handoff {
	uint32_t		magic;
	uint32_t		kind;		/* enum handoff_kind */
	uint32_t		nreq;		/* requests served on the connection so far */
	uint32_t		len;		/* bytes that follow */
	int64_t			since;		/* CLOCK_MONOTONIC ns: idle since, or head begun */
	union handoff_peer	peer;
};

#define HANDOFF_TRUNCATED	(-2)	/* the bytes did not fit: *fd is the connection */

/*
 * Send fd with h and its h->len bytes. flags go to sendmsg (MSG_DONTWAIT).
 * 0, or -1 with errno (EAGAIN when the peer's queue is full).
 */
int	handoff_send(int sock, int fd, const struct handoff *h, const void *bytes, int flags);

/*
 * Receive one connection: *fd, *h, and up to cap bytes into buf (h->len of
 * them). 1 when one came, 0 when the other end is closed, -1 with errno
 * (EAGAIN, EINTR; EPROTO for a message that is not a hand-off, whose
 * descriptors are closed), HANDOFF_TRUNCATED when its bytes exceeded cap.
 */
int	handoff_recv(int sock, int *fd, struct handoff *h, void *buf, size_t cap, int flags);

/* The peer's address as socklen. */
socklen_t handoff_peer_len(const union handoff_peer *p);

#endif
