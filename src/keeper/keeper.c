/* keeper.c: the keeper: holds every waiting client connection, hands ready ones to workers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "clock.h"
#include "held.h"
#include "http_status.h"
#include "keeper.h"
#include "log.h"
#include "net.h"
#include "request_id.h"
#include "signals.h"

#define KEEPER_EVENTS		256	/* events taken per epoll_wait */
#define KEEPER_ACCEPTS		64	/* connections accepted per wake-up, then others' turn */
#define KEEPER_RECVS		64	/* hand-offs received per wake-up */
#define CLOSING_NS		(2000 * NS_PER_MS)	/* reading after our answer, at most */
#define ACCEPT_PAUSE_NS		(100 * NS_PER_MS)	/* out of descriptors: backlog waits */

/* epoll tags for the keeper's own sockets; any other value is a struct held. */
#define TAG_LISTEN	1
#define TAG_KEEPER_END	2
#define TAG_WORKER_END	3

struct keeper {
	const struct proc_args	*a;
	const struct rp_config	*conf;
	struct slot		*slot;
	struct held_limits	 lim;
	int			 epfd;
	int			 listen_fd;	/* -1 once no longer accepting */
	struct held_list	 lists[HELD_NSTATES];
	char			*scratch;	/* one read of a head, before it is anyone's */
	struct http_head	 scratch_head;	/* ...and its parser */
	struct http_header	*scratch_headers;
	int64_t			 accept_paused_until;	/* 0: accepting */
	int			 keeper_out;	/* EPOLLOUT wanted on the keeper's end */
	int			 worker_out;	/* ... on the workers' end (handing over) */
	int			 stopping;	/* SIGTERM: answer 503, then close */
	int			 drained;	/* stopping and no worker busy: closing all */
	int			 retiring;	/* SIGQUIT: hand everything to the new keeper */
};

static void
keeper_ctl(struct keeper *k, int op, int fd, uint32_t events, uint64_t tag)
{
	struct epoll_event	ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = tag;
	if (epoll_ctl(k->epfd, op, fd, &ev) == -1 && op != EPOLL_CTL_DEL)
		log_warn("event=keeper_epoll_ctl fd=%d", fd);
}

static size_t
keeper_nheld(const struct keeper *k)
{
	size_t	i, n = 0;

	for (i = 0; i < HELD_NSTATES; i++)
		n += k->lists[i].n;
	return n;
}

/* Put h in the list of state with a deadline; watched for input unless ready. */
static void
held_move(struct keeper *k, struct held *h, enum held_state state, int64_t deadline)
{
	if (h->state != HELD_NSTATES)
		held_list_remove(&k->lists[h->state], h);
	h->state = state;
	h->deadline = deadline;
	held_list_insert(&k->lists[state], h);
	if (state == HELD_READY && h->polled) {
		keeper_ctl(k, EPOLL_CTL_DEL, h->fd, 0, 0);
		h->polled = 0;
	} else if (state != HELD_READY && !h->polled) {
		keeper_ctl(k, EPOLL_CTL_ADD, h->fd, EPOLLIN, (uint64_t)(uintptr_t)h);
		h->polled = 1;
	}
}

/* A new held connection, in no list yet, or NULL (logged) when memory runs out. */
static struct held *
held_new(int fd, const union handoff_peer *peer, uint32_t nreq,
    int64_t since)
{
	struct held	*h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		log_warn("event=keeper_alloc");
		close(fd);
		return NULL;
	}
	h->fd = fd;
	h->nreq = nreq;
	h->since = since;
	h->peer = *peer;
	h->state = HELD_NSTATES;	/* in no list until held_move() */
	return h;
}

static void
held_close(struct keeper *k, struct held *h)
{
	if (h->state != HELD_NSTATES)
		held_list_remove(&k->lists[h->state], h);
	/*
	 * Out of the epoll set first: close() alone leaves it there while the
	 * worker that parked it has not yet closed its own copy.
	 */
	if (h->polled)
		keeper_ctl(k, EPOLL_CTL_DEL, h->fd, 0, 0);
	close(h->fd);
	held_free(h);
}

/* The first head bytes give the request id; a head still partial has none. */
static void
held_request_id(const struct held *h, char *id)
{
	const struct http_header *hd = NULL;

	if (h->buf != NULL && h->buf->head.head_complete)
		hd = http_head_find(&h->buf->head, "x-request-id");
	request_id_take(id, hd != NULL ? hd->value : NULL, hd != NULL ? hd->valuelen : 0);
}

/*
 * Answer status on h ourselves (408 for a head too slow, 503 while stopping),
 * log it, and close the way that never resets: shut our side and read what
 * the client still sends until it closes.
 */
static void
held_answer(struct keeper *k, struct held *h, int status)
{
	char			 resp[HTTP_ERROR_RESPONSE_MAX], id[REQUEST_ID_MAX + 1];
	char			 addr[64];
	struct access_line	 al;
	const struct http_head	*hd = h->buf != NULL ? &h->buf->head : NULL;
	size_t			 n;
	int64_t			 now = clock_now_ns();

	held_request_id(h, id);
	n = http_error_response(resp, status, id, 1);
	counter_add(&k->slot->client_responses[shm_code_index(status)], 1);
	net_sockaddr_host(&h->peer.sa, addr, sizeof(addr));
	memset(&al, 0, sizeof(al));
	al.request_id = id;
	al.client = addr;
	al.port = net_sockaddr_port(&h->peer.sa);
	if (hd != NULL && hd->head_complete) {
		al.method = hd->method;
		al.methodlen = hd->methodlen;
		al.target = hd->url;
		al.targetlen = hd->urllen;
	}
	al.status = status;
	al.duration_us = (uint64_t)(now - h->since) / NS_PER_US;
	al.bytes_out = n;
	access_log(&al);
	if (send(h->fd, resp, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n ||
	    shutdown(h->fd, SHUT_WR) == -1) {
		held_close(k, h);
		return;
	}
	held_move(k, h, HELD_CLOSING, now + CLOSING_NS);
}

/*
 * Send h with len bytes to a free worker (kind READY) or, retiring, to the
 * new keeper (WAIT). The bytes are h's own, or a read not yet copied there.
 */
static int
held_send_bytes(struct keeper *k, struct held *h, int sock, uint32_t kind,
    const char *bytes, size_t len)
{
	struct handoff	m;

	memset(&m, 0, sizeof(m));
	m.magic = HANDOFF_MAGIC;
	m.kind = kind;
	m.nreq = h->nreq;
	m.len = (uint32_t)len;
	m.since = h->since;
	m.peer = h->peer;
	if (handoff_send(sock, h->fd, &m, bytes, MSG_DONTWAIT) == -1)
		return -1;
	if (kind == HANDOFF_READY)
		counter_add(&k->slot->handoffs_to_worker, 1);
	return 0;
}

static int
held_send(struct keeper *k, struct held *h, int sock, uint32_t kind)
{
	return held_send_bytes(k, h, sock, kind, h->buf != NULL ? h->buf->data : NULL,
	    h->buf != NULL ? h->buf->len : 0);
}

/*
 * The usual case on the request path: a whole head in one read and room to
 * hand it on at once, with nobody queued before it. Then it goes straight
 * from the read buffer: no copy and no allocation. 0 when it did not.
 */
static int
held_pass_read(struct keeper *k, struct held *h, size_t n)
{
	if (h->buf != NULL || k->stopping || k->retiring || k->lists[HELD_READY].n > 0 ||
	    held_parse_whole(&k->scratch_head, k->scratch_headers, k->scratch, n,
	    &k->lim) != PARSE_DONE ||
	    held_send_bytes(k, h, k->a->keeper_end, HANDOFF_READY, k->scratch, n) == -1)
		return 0;
	held_close(k, h);
	return 1;
}

/* Hand the ready connections on, oldest first, while the workers' queue has room. */
static void
keeper_flush_ready(struct keeper *k)
{
	struct held	*h;

	while ((h = k->lists[HELD_READY].head) != NULL) {
		if (k->stopping) {
			/* Ready after the stop: answered here, as the backlog is. */
			held_answer(k, h, 503);
			continue;
		}
		if (held_send(k, h, k->a->keeper_end, HANDOFF_READY) == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
				break;
			log_warn("event=handoff_failed");
		}
		held_close(k, h);
	}
	if ((h != NULL) != k->keeper_out) {
		k->keeper_out = h != NULL;
		keeper_ctl(k, EPOLL_CTL_MOD, k->a->keeper_end,
		    (k->retiring ? 0 : EPOLLIN) | (k->keeper_out ? EPOLLOUT : 0), TAG_KEEPER_END);
	}
}

/* h's head is complete (or refused, or too large): a worker takes it from here. */
static void
held_ready(struct keeper *k, struct held *h)
{
	held_move(k, h, HELD_READY, INT64_MAX);
	keeper_flush_ready(k);
}

static void
held_head_timer(struct keeper *k, struct held *h)
{
	/* A kept-alive connection's next head starts its clock with its first byte. */
	if (h->state == HELD_IDLE) {
		h->since = clock_now_ns();
		held_move(k, h, HELD_HEAD, h->since +
		    (int64_t)k->conf->client_header_timeout_ms * NS_PER_MS);
	}
}

/* Input on a held connection: read what came and see whether its head is complete. */
static void
held_read(struct keeper *k, struct held *h)
{
	enum held_parse	 pr;
	ssize_t		 n;

	if (h->state == HELD_CLOSING) {
		/* What the client still sends after our answer is dropped. */
		n = recv(h->fd, k->scratch, k->conf->max_header_size, 0);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			held_close(k, h);
		return;
	}
	n = recv(h->fd, k->scratch, held_room(h, &k->lim), 0);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return;
	if (n <= 0) {
		held_close(k, h);
		return;
	}
	held_head_timer(k, h);
	if (held_pass_read(k, h, (size_t)n))
		return;
	pr = held_append(h, k->scratch, (size_t)n, &k->lim);
	if (pr == PARSE_NOMEM) {
		log_warn("event=keeper_alloc");
		held_close(k, h);
	} else if (pr == PARSE_DONE) {
		held_ready(k, h);
	}
}

/* A connection came from a worker (to wait, or to go to another worker) or a retiring keeper. */
static void
keeper_take(struct keeper *k, int fd, const struct handoff *m, const char *bytes)
{
	struct held	*h;
	enum held_parse	 pr = PARSE_PARTIAL;

	if ((h = held_new(fd, &m->peer, m->nreq, m->since)) == NULL)
		return;
	if (m->len > 0 && (pr = held_append(h, bytes, m->len, &k->lim)) == PARSE_NOMEM) {
		log_warn("event=keeper_alloc");
		held_close(k, h);
		return;
	}
	if (m->kind == HANDOFF_READY || pr == PARSE_DONE) {
		held_ready(k, h);
	} else if (m->len > 0) {
		held_move(k, h, HELD_HEAD, m->since +
		    (int64_t)k->conf->client_header_timeout_ms * NS_PER_MS);
	} else {
		held_move(k, h, HELD_IDLE, m->since +
		    (int64_t)k->conf->keepalive_timeout_ms * NS_PER_MS);
	}
}

/* Take what workers sent on the hand-off socket (sock: the keeper's end, or theirs when stopping). */
static void
keeper_recv(struct keeper *k, int sock)
{
	struct handoff	m;
	int		i, fd, rc;

	for (i = 0; i < KEEPER_RECVS; i++) {
		rc = handoff_recv(sock, &fd, &m, k->scratch, k->conf->max_header_size,
		    MSG_DONTWAIT);
		if (rc == HANDOFF_TRUNCATED) {
			log_warnx("event=handoff_truncated bytes_max=%zu",
			    k->conf->max_header_size);
			close(fd);
			continue;
		}
		if (rc <= 0) {
			if (rc == -1 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn("event=handoff_recv_failed");
			return;
		}
		keeper_take(k, fd, &m, k->scratch);
	}
}

static void
keeper_accept_pause(struct keeper *k, int64_t now)
{
	if (k->accept_paused_until != 0)
		return;
	/* The backlog holds the rest until a descriptor frees up: no busy loop. */
	counter_add(&k->slot->accept_fd_limit, 1);
	log_warn("event=accept_paused reason=fd_limit pause_ms=%lld",
	    (long long)(ACCEPT_PAUSE_NS / NS_PER_MS));
	keeper_ctl(k, EPOLL_CTL_DEL, k->listen_fd, 0, 0);
	k->accept_paused_until = now + ACCEPT_PAUSE_NS;
}

static void
keeper_accept(struct keeper *k)
{
	union handoff_peer	 peer;
	socklen_t		 len;
	struct held		*h;
	int64_t			 now = clock_now_ns();
	int			 i, fd;

	for (i = 0; i < KEEPER_ACCEPTS && k->listen_fd != -1; i++) {
		len = sizeof(peer);
		fd = accept4(k->listen_fd, &peer.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM)
				keeper_accept_pause(k, now);
			return;	/* EAGAIN: the backlog is empty; ECONNABORTED, EINTR */
		}
		net_set_nodelay(fd);
		counter_add(&k->slot->connections, 1);
		if ((h = held_new(fd, &peer, 0, now)) == NULL)
			continue;
		held_move(k, h, HELD_HEAD, now +
		    (int64_t)k->conf->client_header_timeout_ms * NS_PER_MS);
	}
}

/* Deadlines: idle ones close quietly, slow heads get 408, closing ones just close. */
static void
keeper_expire(struct keeper *k, int64_t now)
{
	struct held	*h;

	while ((h = k->lists[HELD_IDLE].head) != NULL && h->deadline <= now)
		held_close(k, h);
	while ((h = k->lists[HELD_HEAD].head) != NULL && h->deadline <= now)
		held_answer(k, h, 408);
	while ((h = k->lists[HELD_CLOSING].head) != NULL && h->deadline <= now)
		held_close(k, h);
	if (k->accept_paused_until != 0 && now >= k->accept_paused_until) {
		k->accept_paused_until = 0;
		if (k->listen_fd != -1)
			keeper_ctl(k, EPOLL_CTL_ADD, k->listen_fd, EPOLLIN, TAG_LISTEN);
	}
}

/* Milliseconds to the nearest deadline, for epoll_wait. */
static int
keeper_timeout(const struct keeper *k, int64_t now)
{
	int64_t	next = INT64_MAX;
	size_t	i;

	for (i = 0; i < HELD_NSTATES; i++)
		if (k->lists[i].head != NULL && k->lists[i].head->deadline < next)
			next = k->lists[i].head->deadline;
	if (k->accept_paused_until != 0 && k->accept_paused_until < next)
		next = k->accept_paused_until;
	if (k->stopping && !k->drained && now + 100 * NS_PER_MS < next)
		next = now + 100 * NS_PER_MS;	/* look at the workers again */
	if (now + 1000 * NS_PER_MS < next)
		next = now + 1000 * NS_PER_MS;	/* and at the scoreboard's generation */
	return clock_ms_until(next);
}

static void
keeper_stop_listening(struct keeper *k)
{
	if (k->listen_fd == -1)
		return;
	close(k->listen_fd);
	k->listen_fd = -1;
}

/* Close the idle connections, the way that never resets. */
static void
keeper_close_idle(struct keeper *k)
{
	struct held	*h;
	int64_t		 deadline = clock_now_ns() + CLOSING_NS;

	while ((h = k->lists[HELD_IDLE].head) != NULL) {
		if (shutdown(h->fd, SHUT_WR) == -1)
			held_close(k, h);
		else
			held_move(k, h, HELD_CLOSING, deadline);
	}
}

/*
 * Stopping: while any worker still serves a request, everything that comes
 * (the backlog, a request on a held connection) is answered 503. Once none
 * does, take what is still queued, stop listening and close the idle
 * connections; a head begun or awaited still gets its 503 (or 408). Exit
 * when the last is gone.
 */
static void
keeper_drain(struct keeper *k)
{
	if (shm_busy_alive(k->a->shm) > 0)
		return;
	k->drained = 1;
	keeper_accept(k);
	keeper_recv(k, k->a->worker_end);
	keeper_stop_listening(k);
	keeper_flush_ready(k);
	keeper_close_idle(k);
}

/* Retiring after a reload: the new keeper gets every connection still waiting. */
static void
keeper_hand_over(struct keeper *k)
{
	struct held	*h;
	int		 full = 0;
	size_t		 i;

	for (i = HELD_IDLE; i <= HELD_HEAD && !full; i++)
		while ((h = k->lists[i].head) != NULL) {
			if (held_send(k, h, k->a->worker_end, HANDOFF_WAIT) == -1) {
				if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
					full = 1;
					break;
				}
				log_warn("event=handover_failed");
			}
			held_close(k, h);
		}
	if (full != k->worker_out) {
		k->worker_out = full;
		keeper_ctl(k, full ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, k->a->worker_end, EPOLLOUT,
		    TAG_WORKER_END);
	}
	keeper_flush_ready(k);
}

static void
keeper_signals(struct keeper *k)
{
	if (signals_take_reopen())
		log_reopen();
	if (signals_stopping() && !k->stopping && !k->retiring) {
		k->stopping = 1;
		log_info("event=keeper_stop held=%zu", keeper_nheld(k));
		/* Ready connections nobody took come back here for their 503. */
		keeper_ctl(k, EPOLL_CTL_ADD, k->a->worker_end, EPOLLIN, TAG_WORKER_END);
	}
	if ((signals_retiring() || atomic_load(&k->a->shm->hdr.generation) != k->a->generation) &&
	    !k->retiring && !k->stopping) {
		k->retiring = 1;
		log_info("event=keeper_retire held=%zu", keeper_nheld(k));
		/* The new keeper accepts and reads the parked ones from here on. */
		if (k->listen_fd != -1 && k->accept_paused_until == 0)
			keeper_ctl(k, EPOLL_CTL_DEL, k->listen_fd, 0, 0);
		keeper_stop_listening(k);
		keeper_ctl(k, EPOLL_CTL_MOD, k->a->keeper_end,
		    k->keeper_out ? EPOLLOUT : 0, TAG_KEEPER_END);
	}
}

static void
keeper_event(struct keeper *k, const struct epoll_event *ev)
{
	switch (ev->data.u64) {
	case TAG_LISTEN:
		keeper_accept(k);
		break;
	case TAG_KEEPER_END:
		if (ev->events & (EPOLLIN | EPOLLERR | EPOLLHUP))
			keeper_recv(k, k->a->keeper_end);
		if (ev->events & EPOLLOUT)
			keeper_flush_ready(k);
		break;
	case TAG_WORKER_END:
		if (k->stopping)
			keeper_recv(k, k->a->worker_end);
		else if (k->retiring)
			keeper_hand_over(k);
		break;
	default:
		held_read(k, (struct held *)(uintptr_t)ev->data.u64);
		break;
	}
}

static void
keeper_setup(struct keeper *k, const struct proc_args *a)
{
	memset(k, 0, sizeof(*k));
	k->a = a;
	k->conf = a->conf;
	k->slot = a->slot;
	k->listen_fd = a->listen_fd;
	k->lim.max_header_size = a->conf->max_header_size;
	k->lim.max_headers = a->conf->max_headers;
	k->lim.max_uri_size = a->conf->max_uri_size;
	k->scratch = malloc(a->conf->max_header_size);
	k->scratch_headers = calloc(a->conf->max_headers, sizeof(struct http_header));
	if (k->scratch == NULL || k->scratch_headers == NULL)
		fatal(1, "keeper: allocate buffers");
	if ((k->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal(1, "keeper: epoll_create1");
	if (net_set_nonblock(k->listen_fd) == -1)
		fatal(1, "keeper: listen: O_NONBLOCK");
	keeper_ctl(k, EPOLL_CTL_ADD, k->listen_fd, EPOLLIN, TAG_LISTEN);
	keeper_ctl(k, EPOLL_CTL_ADD, a->keeper_end, EPOLLIN, TAG_KEEPER_END);
}

void
keeper_main(const struct proc_args *a)
{
	static struct keeper	 k;
	struct epoll_event	 ev[KEEPER_EVENTS];
	int			 i, n;

	proc_start(a);
	/* Its own name in ps(1) and /proc, apart from the workers. */
	(void)prctl(PR_SET_NAME, "rproxyd-keeper");
	signals_install(a->conf->shutdown_timeout_ms);
	proc_drop_privileges(a);
	keeper_setup(&k, a);
	request_id_init();
	atomic_store(&a->slot->state, SLOT_KEEPER);
	log_debug("event=keeper_start generation=%u", a->generation);

	for (;;) {
		n = signals_epoll_wait(k.epfd, ev, KEEPER_EVENTS,
		    keeper_timeout(&k, clock_now_ns()));
		if (n == -1 && errno != EINTR)
			fatal(1, "keeper: epoll_wait");
		keeper_signals(&k);
		for (i = 0; i < n; i++)
			keeper_event(&k, &ev[i]);
		keeper_expire(&k, clock_now_ns());
		if (k.retiring)
			keeper_hand_over(&k);
		else if (k.stopping && !k.drained)
			keeper_drain(&k);
		atomic_store_explicit(&k.slot->held, (int64_t)keeper_nheld(&k),
		    memory_order_relaxed);
		if ((k.retiring || k.drained) && keeper_nheld(&k) == 0)
			break;
	}
	log_debug("event=keeper_exit generation=%u", a->generation);
	exit(PROC_EXIT_CLEAN);
}
