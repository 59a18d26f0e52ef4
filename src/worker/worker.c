/* worker.c: a prefork worker: takes ready connections from the keeper, one at a time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "log.h"
#include "request_id.h"
#include "signals.h"
#include "worker.h"

/* The longest a new worker waits for an older generation to stop taking connections. */
#define OLDER_WAIT_MS	2000

/*
 * After a reload: take no connection while a worker of an older generation
 * may still take one. The master told those to stop before it started this
 * one, so from here on no request is served under the old configuration
 * once one has been served under the new. Bounded, so that a stuck old
 * worker delays the new generation rather than stops it.
 */
static void
worker_wait_older(const struct proc_args *a)
{
	int64_t		 deadline = clock_now_ns() + OLDER_WAIT_MS * NS_PER_MS;
	unsigned	 n;

	while ((n = shm_older_idle(a->shm, a->generation)) > 0) {
		if (signals_stopping() || signals_retiring())
			return;
		if (clock_now_ns() >= deadline) {
			log_warnx("event=older_workers_wait result=timeout idle=%u", n);
			return;
		}
		/* Signals in, as in every wait. */
		if (signals_ppoll(NULL, 0, NS_PER_MS) == -1 && errno != EINTR)
			return;
	}
}

/*
 * A connection handed to a worker of a generation a reload has replaced goes
 * back to the keeper, which hands it on: the new generation serves it.
 */
static int
worker_outdated(const struct proc_args *a, int fd, struct handoff *h, const void *bytes)
{
	if (atomic_load(&a->shm->hdr.generation) == a->generation)
		return 0;
	if (client_park_fd(a->worker_end, fd, h, bytes) == -1)
		log_warn("event=handback_failed");
	close(fd);
	return 1;
}

/* Wait for the next ready connection: 1 with it, 0 to look at the flags again, -1 to exit. */
static int
worker_take(const struct proc_args *a, struct client *cl, int *fd, struct handoff *h)
{
	int	rc;

	signals_open();
	/* Checked with signals let in, so that none waits for the next connection. */
	if (signals_take_reopen())
		log_reopen();
	/* A reload retires this worker by SIGQUIT, or, should that be lost, by the scoreboard. */
	if (signals_stopping() || signals_retiring() ||
	    atomic_load(&a->shm->hdr.generation) != a->generation) {
		signals_close();
		return -1;
	}
	/* Blocking recvmsg(): the kernel wakes one waiter (SO_RCVTIMEO bounds it). */
	rc = handoff_recv(a->worker_end, fd, h, cl->conn.buf, cl->conn.cap, 0);
	signals_close();
	if (rc == HANDOFF_TRUNCATED) {
		log_warnx("event=handoff_truncated bytes_max=%zu", cl->conn.cap);
		close(*fd);
		return 0;
	}
	if (rc == 0) {
		log_warnx("event=handoff_closed");
		return -1;
	}
	if (rc == -1) {
		if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
			log_warn("event=handoff_recv_failed");
		return 0;
	}
	/* The master's pool counts connections sent and not yet taken. */
	counter_add(&a->slot->handoffs_taken, 1);
	h->kind = HANDOFF_READY;
	return worker_outdated(a, *fd, h, cl->conn.buf) ? 0 : 1;
}

void
worker_main(const struct proc_args *a)
{
	static struct client	cl;
	struct handoff		h;
	int			fd, rc;

	proc_start(a);
	signals_install(a->conf->shutdown_timeout_ms);
	proc_drop_privileges(a);
	/* Clients reach a worker through the keeper only. */
	close(a->listen_fd);
	close(a->keeper_end);
	if (client_setup(&cl, a->conf, a->shm, a->slot, a->worker_end) == -1)
		fatal(1, "worker: allocate buffers");
	request_id_init();
	worker_wait_older(a);
	/* Started: from here on it counts as an idle worker, not a starting one. */
	atomic_store(&a->slot->state, SLOT_IDLE);

	while ((rc = worker_take(a, &cl, &fd, &h)) >= 0) {
		if (rc == 0)
			continue;
		atomic_store_explicit(&a->slot->state, SLOT_BUSY, memory_order_relaxed);
		client_serve(&cl, fd, &h, h.len);
		atomic_store_explicit(&a->slot->state, SLOT_IDLE, memory_order_relaxed);
	}
	/* Out of the loop: a new generation may start taking connections. */
	atomic_store(&a->slot->state, SLOT_DRAINING);
	proxy_close(&cl.proxy);
	exit(PROC_EXIT_CLEAN);
}
