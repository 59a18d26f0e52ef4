/* net.c: addresses and listening sockets: resolve, listen, name, socket options. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "net.h"

void
net_addr_str(const struct rp_addr *a, char *buf, size_t len)
{
	if (strchr(a->host, ':') != NULL)
		snprintf(buf, len, "[%s]:%u", a->host, a->port);
	else
		snprintf(buf, len, "%s:%u", a->host, a->port);
}

int
net_resolve(const struct rp_addr *a, struct net_sockaddr *out, char *err, size_t errlen)
{
	struct addrinfo	 hints, *res;
	char		 port[8], as[NET_ADDRSTR_MAX];
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%u", a->port);
	if ((rc = getaddrinfo(a->host, port, &hints, &res)) != 0) {
		net_addr_str(a, as, sizeof(as));
		snprintf(err, errlen, "%s: %s", as, gai_strerror(rc));
		return -1;
	}
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

int
net_listen(const struct rp_addr *a, int backlog, char *err, size_t errlen)
{
	struct net_sockaddr	sa;
	char			as[NET_ADDRSTR_MAX];
	int			fd, on = 1;

	if (net_resolve(a, &sa, err, errlen) == -1)
		return -1;
	net_addr_str(a, as, sizeof(as));
	fd = socket(sa.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errlen, "%s: socket: %s", as, strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (sa.ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) == -1)) {
		snprintf(err, errlen, "%s: setsockopt: %s", as, strerror(errno));
		close(fd);
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa.ss, sa.len) == -1) {
		snprintf(err, errlen, "%s: bind: %s", as, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, backlog) == -1) {
		snprintf(err, errlen, "%s: listen: %s", as, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

void
net_sockaddr_host(const struct sockaddr *sa, char *buf, size_t len)
{
	const void	*src;

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		/* Show v4-mapped clients as plain IPv4, as logs and XFF expect. */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], buf, len);
			return;
		}
		src = &s6->sin6_addr;
	} else if (sa->sa_family == AF_INET) {
		src = &((const struct sockaddr_in *)sa)->sin_addr;
	} else {
		snprintf(buf, len, "unknown");
		return;
	}
	if (inet_ntop(sa->sa_family, src, buf, len) == NULL)
		snprintf(buf, len, "unknown");
}

unsigned
net_sockaddr_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	return 0;
}

unsigned
net_bound_port(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	return net_sockaddr_port((struct sockaddr *)&ss);
}

void
net_addr_port_str(const struct rp_addr *a, unsigned port, char *buf, size_t len)
{
	struct rp_addr	b = *a;

	b.port = (uint16_t)port;
	net_addr_str(&b, buf, len);
}

int
net_set_nonblock(int fd)
{
	int	fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

void
net_set_nodelay(int fd)
{
	int	on = 1;

	/* Best effort: a missing TCP_NODELAY costs latency, not correctness. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}
