/* upstream.c: connections to backends: connect with a timeout, and the idle pool. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "upstream.h"

void
upstream_init(struct worker *w)
{
	struct upstream	*u;
	char		 err[512];
	size_t		 i;

	for (i = 0; i < w->conf->nbackends; i++) {
		u = &w->up[i];
		net_addr_str(&u->conf->addr, u->hostport, sizeof(u->hostport));
		if (net_resolve(&u->conf->addr, &u->addr, err, sizeof(err)) == -1) {
			log_warnx("event=resolve_failed backend=%s error=\"%s\"",
			    u->conf->name, err);
			continue;
		}
		u->resolved = 1;
	}
}

/* An idle connection the backend has closed (or written to) is not reusable. */
static int
upstream_alive(int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 0;
}

int
upstream_get(struct worker *w, int i, int64_t deadline, int *reused,
    enum fail_reason *reason)
{
	struct upstream	*u = &w->up[i];
	int		 fd;

	while (u->nidle > 0) {
		fd = u->idle[--u->nidle];
		if (upstream_alive(fd)) {
			*reused = 1;
			return fd;
		}
		close(fd);
	}
	*reused = 0;
	if (!u->resolved) {
		*reason = FAIL_CONNECT;
		errno = EHOSTUNREACH;
		return -1;
	}
	fd = io_connect((struct sockaddr *)&u->addr.ss, u->addr.len, deadline);
	if (fd < 0) {
		*reason = fd == IO_TIMEOUT ? FAIL_CONNECT_TIMEOUT : FAIL_CONNECT;
		return -1;
	}
	net_set_nodelay(fd);
	return fd;
}

void
upstream_put(struct worker *w, int i, int fd)
{
	struct upstream	*u = &w->up[i];
	size_t		 cap = w->conf->backend_keepalive;

	if (cap > sizeof(u->idle) / sizeof(u->idle[0]))
		cap = sizeof(u->idle) / sizeof(u->idle[0]);
	if (u->nidle >= cap) {
		close(fd);
		return;
	}
	u->idle[u->nidle++] = fd;
}

void
upstream_close_idle(struct worker *w, int i)
{
	struct upstream	*u = &w->up[i];

	while (u->nidle > 0)
		close(u->idle[--u->nidle]);
}

void
upstream_close_all(struct worker *w)
{
	size_t	i;

	for (i = 0; i < w->conf->nbackends; i++)
		upstream_close_idle(w, (int)i);
}
