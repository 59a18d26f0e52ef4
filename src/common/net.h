/* net.h: addresses and listening sockets: resolve, listen, name, socket options. */
#ifndef RP_NET_H
#define RP_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

#define NET_ADDRSTR_MAX	(RP_HOST_MAX + 8)

struct net_sockaddr {
	struct sockaddr_storage	ss;
	socklen_t		len;
};

/* Resolve host:port (numeric or name) to its first address. -1 with err. */
int	net_resolve(const struct rp_addr *a, struct net_sockaddr *out, char *err, size_t errlen);

/* A listening TCP socket bound to a (SO_REUSEADDR, close-on-exec). -1 with err. */
int	net_listen(const struct rp_addr *a, int backlog, char *err, size_t errlen);

/* "host:port" or "[v6]:port" for a configured address. */
void	net_addr_str(const struct rp_addr *a, char *buf, size_t len);

/* The numeric host of a socket address ("127.0.0.1", "::1"), and its port. */
void	net_sockaddr_host(const struct sockaddr *sa, char *buf, size_t len);
unsigned net_sockaddr_port(const struct sockaddr *sa);

/* The local port a socket is bound to (the kernel's pick for port 0); 0 on error. */
unsigned net_bound_port(int fd);

/* As net_addr_str, with port in place of a's own. */
void	net_addr_port_str(const struct rp_addr *a, unsigned port, char *buf, size_t len);

/* Make fd non-blocking: -1 with errno when fcntl() fails. */
int	net_set_nonblock(int fd);

/* Set TCP_NODELAY on fd: small writes go out at once (a failure changes nothing else). */
void	net_set_nodelay(int fd);

#endif
