/* metrics_proc.c: the metrics process: serves /metrics, unprivileged, apart from the master. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "metrics_proc.h"
#include "metrics_server.h"
#include "signals.h"

/*
 * Why a process of its own: the root master must parse no network input,
 * and the keeper, which every client connection waits in, must not stall
 * while a scrape renders thousands of series and reads /proc for every
 * worker. Here a slow scrape delays only other scrapes.
 */

#define METRICS_TICK_NS	(1000 * NS_PER_MS)	/* how often it looks at its flags */

/* A stop, a retirement (SIGQUIT or, should that be lost, a new generation). */
static int
metrics_leaving(const struct proc_args *a)
{
	if (signals_take_reopen())
		log_reopen();
	return signals_stopping() || signals_retiring() ||
	    atomic_load(&a->shm->hdr.generation) != a->generation;
}

void
metrics_main(const struct proc_args *a)
{
	struct metrics_server	*ms;
	struct pollfd		 pfd[METRICS_POLLFD_MAX];
	char			 err[256];
	int64_t			 now, wake;
	nfds_t			 n;
	int			 leaving;

	proc_start(a);
	/* Its own name in ps(1) and /proc, apart from the workers. */
	(void)prctl(PR_SET_NAME, "rproxyd-metrics");
	signals_install(a->conf->shutdown_timeout_ms);
	proc_drop_privileges(a);
	/* Clients reach it on the metrics port only. */
	close(a->listen_fd);
	close(a->keeper_end);
	close(a->worker_end);
	/* It parses network input: it only reads the scoreboard, so it cannot write it. */
	if (mprotect(a->shm, a->shm->hdr.size, PROT_READ) == -1)
		log_warn("event=metrics_mprotect");
	if ((ms = metrics_server_new(a->metrics_fd, a->shm, err, sizeof(err))) == NULL)
		fatal(1, "%s", err);
	for (;;) {
		now = clock_now_ns();
		wake = now + METRICS_TICK_NS;
		n = metrics_server_pollfds(ms, pfd, METRICS_POLLFD_MAX, &wake);
		if (signals_ppoll(pfd, n, wake > now ? wake - now : 0) == -1 && errno != EINTR)
			fatal(1, "metrics: ppoll");
		/*
		 * Leaving: no new scrape; answers under way are sent. On a reload the
		 * requests still coming are answered too (by their deadline); a stop
		 * comes once the rest of the daemon is gone, so it waits for no one.
		 */
		if ((leaving = metrics_leaving(a))) {
			metrics_server_stop_accepting(ms);
			if (signals_stopping())
				metrics_server_drop_unanswered(ms);
		}
		metrics_server_handle(ms, pfd, n);
		if (leaving && !metrics_server_busy(ms))
			break;
	}
	metrics_server_close(ms);
	exit(PROC_EXIT_CLEAN);
}
