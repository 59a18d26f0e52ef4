/* client.h: one client connection: request heads, keep-alive, pipelining. */
#ifndef RP_CLIENT_H
#define RP_CLIENT_H

#include <sys/socket.h>

#include "worker.h"

/* Serve one accepted client connection until it closes. */
void	client_serve(struct worker *w, int fd, const struct sockaddr *peer);

/* Answer a connection taken from the backlog during shutdown with 503. */
void	client_refuse(struct worker *w, int fd);

#endif
