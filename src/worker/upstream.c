/* upstream.c: connections to one backend: connect with a timeout, and the idle pool. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "log.h"
#include "upstream.h"

void
upstream_init(struct upstream *u, const struct rp_backend_conf *conf,
    struct shm_backend *health, struct slot_backend *stats, unsigned idle_cap)
{
	char	err[512];

	memset(u, 0, sizeof(*u));
	u->conf = conf;
	u->health = health;
	u->stats = stats;
	u->idle_cap = idle_cap < UPSTREAM_IDLE_MAX ? idle_cap : UPSTREAM_IDLE_MAX;
	net_addr_str(&conf->addr, u->hostport, sizeof(u->hostport));
	if (net_resolve(&conf->addr, &u->addr, err, sizeof(err)) == -1) {
		log_warnx("event=resolve_failed backend=%s error=\"%s\"", conf->name, err);
		return;
	}
	u->resolved = 1;
}

/* An idle connection the backend has closed (or written to) is not reusable. */
static int
upstream_alive(int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 0;
}

int
upstream_get(struct upstream *u, int64_t deadline, int *reused, enum fail_reason *reason)
{
	int	fd;

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
upstream_put(struct upstream *u, int fd)
{
	if (u->nidle >= u->idle_cap) {
		close(fd);
		return;
	}
	u->idle[u->nidle++] = fd;
}

void
upstream_close_idle(struct upstream *u)
{
	while (u->nidle > 0)
		close(u->idle[--u->nidle]);
}
