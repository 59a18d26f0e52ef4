/* worker.c: a prefork worker: accepts one connection at a time and proxies it. */
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "clock.h"
#include "log.h"
#include "proxy.h"
#include "rewrite.h"
#include "upstream.h"
#include "worker.h"

/* The longest a new worker waits for an older generation to stop accepting. */
#define OLDER_WAIT_MS	2000

volatile sig_atomic_t	worker_stop;
volatile sig_atomic_t	worker_retire;
volatile sig_atomic_t	worker_reopen;

/* Stop signals stay blocked while a request is served and are let in only where the worker waits. */
static sigset_t		wait_mask;	/* the mask inside those waits */
static sigset_t		work_mask;	/* the mask while working */

static void
worker_on_signal(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		worker_stop = 1;
		break;
	case SIGQUIT:
		worker_retire = 1;
		break;
	case SIGUSR1:
		worker_reopen = 1;
		break;
	}
}

static void
worker_signals(void)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGUSR1 };
	struct sigaction	 sa;
	size_t			 i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must interrupt accept() and ppoll(). */
	sa.sa_handler = worker_on_signal;
	sigprocmask(SIG_SETMASK, NULL, &wait_mask);
	work_mask = wait_mask;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigdelset(&wait_mask, sigs[i]);
		sigaddset(&work_mask, sigs[i]);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigprocmask(SIG_SETMASK, &work_mask, NULL);
}

void
worker_check_signals(void)
{
	sigset_t	pending;
	int		i;

	/*
	 * A request can be served without the worker ever waiting (pipelined, or
	 * ppoll() found the socket readable and put the mask back before the
	 * handler ran): let pending stop signals in here, once per request.
	 */
	if (sigpending(&pending) == -1)
		return;
	for (i = 1; i < NSIG; i++)
		if (sigismember(&pending, i) == 1 && sigismember(&wait_mask, i) == 0) {
			sigprocmask(SIG_SETMASK, &wait_mask, NULL);
			sigprocmask(SIG_SETMASK, &work_mask, NULL);
			return;
		}
}

int
worker_idle_wait(int fd, int64_t deadline)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	struct timespec	ts;
	int64_t		left;
	int		n;

	for (;;) {
		if (worker_stop)
			return poll(&pfd, 1, 0) == 1 ? 1 : -1;
		left = deadline - clock_now_ns();
		if (left <= 0)
			return 0;
		ts.tv_sec = left / 1000000000LL;
		ts.tv_nsec = left % 1000000000LL;
		n = ppoll(&pfd, 1, &ts, &wait_mask);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return 1;	/* let the read report the error */
	}
}

/* Become the configured user; root stays root only when no user is set. */
static void
worker_drop_privileges(const struct rp_config *conf)
{
	char	err[RP_PATH_MAX + 128];
	uid_t	uid;
	gid_t	gid;

	if (conf->user[0] == '\0' || geteuid() != 0)
		return;
	if (config_user_ids(conf, &uid, &gid, err, sizeof(err)) == -1)
		fatalx(WORKER_EXIT_FATAL, "%s", err);
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1)
		fatal(WORKER_EXIT_FATAL, "drop privileges to %s", conf->user);
}

static void *
worker_alloc(size_t n)
{
	void	*p;

	if ((p = calloc(1, n)) == NULL)
		fatal(1, "worker: allocate %zu bytes", n);
	return p;
}

static void
worker_setup(struct worker *w)
{
	const struct rp_config	*conf = w->conf;
	struct shm_backend	*table[RP_MAX_BACKENDS];
	size_t			 i, j;

	w->ccap = conf->max_header_size + READ_CHUNK;
	w->cbuf = worker_alloc(w->ccap);
	w->bbuf = worker_alloc(BACKEND_BUF);
	/* Room for a head plus what the proxy adds to it. */
	w->hcap = 2 * conf->max_header_size + 4096;
	w->hbuf = worker_alloc(w->hcap);
	w->rhbuf = worker_alloc(w->hcap);
	w->keepcap = KEEP_BODY_MAX + READ_CHUNK;
	w->keep = worker_alloc(w->keepcap);
	w->req_headers = worker_alloc(conf->max_headers * sizeof(struct http_header));
	w->resp_headers = worker_alloc(conf->max_headers * sizeof(struct http_header));
	w->pipe[0] = w->pipe[1] = -1;

	/* The master placed every configured backend in the table by name. */
	for (i = 0; i < conf->nbackends; i++) {
		for (j = 0; j < RP_MAX_BACKENDS; j++)
			if (strcmp(w->shm->backends[j].name, conf->backends[i].name) == 0)
				break;
		if (j == RP_MAX_BACKENDS)
			fatalx(1, "backend %s: not in shared memory", conf->backends[i].name);
		table[i] = &w->shm->backends[j];
		w->up[i].conf = &conf->backends[i];
		w->up[i].health = table[i];
		w->up[i].stats = &w->slot->be[j];
	}
	lb_init(&w->lb, conf, table, &w->shm->rr_cursor);
	upstream_init(w);
	request_id_init();
}

/* On stop, answer what is already queued in the backlog with 503 rather than let it be reset. */
static void
worker_drain_backlog(struct worker *w)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	unsigned		n = 0;
	int			fd;

	for (;;) {
		len = sizeof(ss);
		fd = accept4(w->listen_fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;	/* EAGAIN: the backlog is empty (the master made it non-blocking) */
		}
		client_refuse(w, fd);
		close(fd);
		n++;
	}
	if (n > 0)
		log_info("event=backlog_drained connections=%u", n);
}

/*
 * Stopping: answer queued and new connections 503 for as long as any worker
 * still serves a request, so that none waits for it, then close our copy of
 * the listening socket. The last copy closes right after a drain finds the
 * queue empty; the master closed its own at the signal.
 */
static void
worker_drain(struct worker *w)
{
	struct pollfd	 pfd = { .fd = w->listen_fd, .events = POLLIN };
	struct timespec	 ts = { .tv_sec = 0, .tv_nsec = 100 * 1000000L };
	unsigned	 n[SLOT_NSTATES];

	for (;;) {
		worker_drain_backlog(w);
		/* Serving a request, that is: stopping ones are on their way out. */
		shm_slot_states(w->shm, n);
		if (n[SLOT_BUSY] == 0)
			break;
		/* Signals in as when idle: a second SIGTERM or a SIGUSR1 is noted. */
		if (ppoll(&pfd, 1, &ts, &wait_mask) == -1 && errno != EINTR)
			break;
	}
	close(w->listen_fd);
	w->listen_fd = -1;
}

/*
 * After a reload: take no connection while a worker of an older generation
 * may still accept one. The master told those to stop before it started
 * this one, so from here on no connection is served under the old
 * configuration once one has been served under the new. Bounded, so that a
 * stuck old worker delays the new generation rather than stops it.
 */
static void
worker_wait_older(struct worker *w)
{
	struct timespec	 ts = { .tv_sec = 0, .tv_nsec = 1000000L };
	int64_t		 deadline = clock_now_ns() + OLDER_WAIT_MS * NS_PER_MS;
	unsigned	 n;

	while ((n = shm_older_idle(w->shm, w->generation)) > 0) {
		if (worker_stop || worker_retire)
			return;
		if (clock_now_ns() >= deadline) {
			log_warn("event=older_workers_wait result=timeout idle=%u", n);
			return;
		}
		/* Signals in, as in every wait. */
		if (ppoll(NULL, 0, &ts, &wait_mask) == -1 && errno != EINTR)
			return;
	}
}

void
worker_main(const struct rp_config *conf, struct shm_region *shm, struct slot *slot,
    int listen_fd, unsigned generation)
{
	static struct worker	w;
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd;

	/* A worker must not outlive its master. */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != atomic_load(&shm->hdr.master_pid))
		exit(WORKER_EXIT_CLEAN);
	worker_signals();
	worker_drop_privileges(conf);

	memset(&w, 0, sizeof(w));
	w.conf = conf;
	w.shm = shm;
	w.slot = slot;
	w.listen_fd = listen_fd;
	w.generation = generation;
	worker_setup(&w);
	worker_wait_older(&w);

	for (;;) {
		if (worker_reopen) {
			worker_reopen = 0;
			log_reopen();
		}
		sigprocmask(SIG_SETMASK, &wait_mask, NULL);
		if (worker_stop || worker_retire) {
			sigprocmask(SIG_SETMASK, &work_mask, NULL);
			/* Out of the accept loop: a new generation may start taking connections. */
			atomic_store(&slot->state, SLOT_DRAINING);
			break;
		}
		/* Blocking accept(): the kernel wakes one waiter, so no thundering herd. */
		len = sizeof(ss);
		fd = accept4(listen_fd, (struct sockaddr *)&ss, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		sigprocmask(SIG_SETMASK, &work_mask, NULL);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				log_warn("event=accept_failed");
				usleep(100000);
			}
			continue;	/* EINTR, EAGAIN (SO_RCVTIMEO), ECONNABORTED */
		}
		atomic_store_explicit(&slot->state, SLOT_BUSY, memory_order_relaxed);
		counter_add(&slot->connections, 1);
		net_set_nodelay(fd);
		client_serve(&w, fd, (struct sockaddr *)&ss);
		close(fd);
		atomic_store_explicit(&slot->state, SLOT_IDLE, memory_order_relaxed);
	}
	if (worker_stop)
		worker_drain(&w);
	upstream_close_all(&w);
	exit(WORKER_EXIT_CLEAN);
}
