/* signals.h: a child's stop, retire and reopen signals, and the waits that let them in. */
#ifndef RP_SIGNALS_H
#define RP_SIGNALS_H

#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>

/*
 * Workers and the keeper. Handlers only set flags. The signals stay blocked
 * while a child works and are let in only where it waits (signals_open() ...
 * signals_close() around a blocking call, or signals_ppoll()). A stop
 * signal also arms an alarm for shutdown_timeout + 1 s, so that a child
 * whose master is gone still ends.
 */
void	signals_install(uint64_t shutdown_timeout_ms);

int	signals_stopping(void);	/* SIGTERM/SIGINT: finish, then exit */
int	signals_retiring(void);	/* SIGQUIT: a reload retired this worker */
/* SIGUSR1 arrived since the last call: reopen the log files. */
int	signals_take_reopen(void);

void	signals_open(void);
void	signals_close(void);

/* ppoll() with the signals let in; timeout ns, -1 for none. As ppoll(). */
int	signals_ppoll(struct pollfd *pfd, nfds_t n, int64_t timeout_ns);

/* epoll_pwait() with the signals let in. As epoll_pwait(). */
int	signals_epoll_wait(int epfd, struct epoll_event *ev, int n, int timeout_ms);

/* Let in signals that arrived while the worker was busy (once per request). */
void	signals_let_pending_in(void);

#endif
