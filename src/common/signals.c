/* signals.c: a child's stop, retire and reopen signals, and the waits that let them in. */
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"

static volatile sig_atomic_t	sig_stop, sig_retire, sig_reopen;
static unsigned			stop_alarm_s;	/* shutdown_timeout + 1, rounded up */
static sigset_t			wait_mask;	/* the mask inside waits */
static sigset_t			work_mask;	/* the mask while working */

static void
signals_on(int sig)
{
	switch (sig) {
	case SIGTERM:
	case SIGINT:
		/*
		 * The master kills what is left at shutdown_timeout; a child whose
		 * master is gone (it sent SIGTERM through PR_SET_PDEATHSIG) ends
		 * itself by SIGALRM just after. alarm() is async-signal-safe.
		 */
		if (!sig_stop)
			alarm(stop_alarm_s);
		sig_stop = 1;
		break;
	case SIGQUIT:
		sig_retire = 1;
		break;
	case SIGUSR1:
		sig_reopen = 1;
		break;
	}
}

void
signals_install(uint64_t shutdown_timeout_ms)
{
	static const int	 sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGUSR1 };
	struct sigaction	 sa;
	size_t			 i;

	stop_alarm_s = (unsigned)((shutdown_timeout_ms + 999) / 1000 + 1);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: a signal must interrupt recvmsg() and ppoll(). */
	sa.sa_handler = signals_on;
	/* The master forks with every signal blocked: one sent early waits, pending. */
	sigemptyset(&wait_mask);
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

int
signals_stopping(void)
{
	return sig_stop;
}

int
signals_retiring(void)
{
	return sig_retire;
}

int
signals_take_reopen(void)
{
	if (!sig_reopen)
		return 0;
	sig_reopen = 0;
	return 1;
}

void
signals_open(void)
{
	sigprocmask(SIG_SETMASK, &wait_mask, NULL);
}

void
signals_close(void)
{
	sigprocmask(SIG_SETMASK, &work_mask, NULL);
}

int
signals_ppoll(struct pollfd *pfd, nfds_t n, int64_t timeout_ns)
{
	struct timespec	ts;

	if (timeout_ns < 0)
		return ppoll(pfd, n, NULL, &wait_mask);
	ts.tv_sec = timeout_ns / 1000000000LL;
	ts.tv_nsec = timeout_ns % 1000000000LL;
	return ppoll(pfd, n, &ts, &wait_mask);
}

int
signals_epoll_wait(int epfd, struct epoll_event *ev, int n, int timeout_ms)
{
	return epoll_pwait(epfd, ev, n, timeout_ms, &wait_mask);
}

void
signals_let_pending_in(void)
{
	sigset_t	pending;
	int		i;

	/*
	 * A request can be served without the worker ever waiting (pipelined, or
	 * ppoll() found the socket readable and put the mask back before the
	 * handler ran): let pending signals in here.
	 */
	if (sigpending(&pending) == -1)
		return;
	for (i = 1; i < NSIG; i++)
		if (sigismember(&pending, i) == 1 && sigismember(&wait_mask, i) == 0) {
			signals_open();
			signals_close();
			return;
		}
}
