/* handoff.c: a client connection passed between keeper and workers (SCM_RIGHTS). */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "handoff.h"

/* One message: the struct and its bytes, with room for one descriptor. */
struct handoff_io {
	struct msghdr	msg;
	struct iovec	iov[2];
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cm;
};

static void
handoff_io_init(struct handoff_io *io, const struct handoff *h, const void *bytes,
    size_t len)
{
	memset(io, 0, sizeof(*io));
	io->iov[0].iov_base = (void *)h;
	io->iov[0].iov_len = sizeof(*h);
	io->iov[1].iov_base = (void *)bytes;
	io->iov[1].iov_len = len;
	io->msg.msg_iov = io->iov;
	io->msg.msg_iovlen = len > 0 ? 2 : 1;
	io->msg.msg_control = io->cm.buf;
	io->msg.msg_controllen = sizeof(io->cm.buf);
}

int
handoff_send(int sock, int fd, const struct handoff *h, const void *bytes, int flags)
{
	struct handoff_io	 io;
	struct cmsghdr		*c;
	ssize_t			 n;

	handoff_io_init(&io, h, bytes, h->len);
	c = CMSG_FIRSTHDR(&io.msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	do {
		n = sendmsg(sock, &io.msg, flags | MSG_NOSIGNAL);
	} while (n == -1 && errno == EINTR && !(flags & MSG_DONTWAIT));
	return n == -1 ? -1 : 0;
}

/* Close every descriptor a message carried. */
static void
handoff_close_fds(struct msghdr *msg)
{
	struct cmsghdr	*c;
	size_t		 i, nfd;
	int		 fd;

	for (c = CMSG_FIRSTHDR(msg); c != NULL; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < nfd; i++) {
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			close(fd);
		}
	}
}

int
handoff_recv(int sock, int *fd, struct handoff *h, void *buf, size_t cap, int flags)
{
	struct handoff_io	 io;
	struct msghdr		*msg = &io.msg;
	struct cmsghdr		*c;
	ssize_t			 n;

	handoff_io_init(&io, h, buf, cap);
	n = recvmsg(sock, msg, flags | MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return (int)n;
	c = CMSG_FIRSTHDR(msg);
	if ((size_t)n < sizeof(*h) || h->magic != HANDOFF_MAGIC ||
	    (msg->msg_flags & MSG_CTRUNC) || c == NULL || c->cmsg_level != SOL_SOCKET ||
	    c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)) ||
	    (h->kind != HANDOFF_READY && h->kind != HANDOFF_WAIT)) {
		handoff_close_fds(msg);
		errno = EPROTO;
		return -1;
	}
	memcpy(fd, CMSG_DATA(c), sizeof(int));
	if ((msg->msg_flags & MSG_TRUNC) || h->len != (size_t)n - sizeof(*h))
		return HANDOFF_TRUNCATED;
	return 1;
}

socklen_t
handoff_peer_len(const union handoff_peer *p)
{
	return p->sa.sa_family == AF_INET6 ? sizeof(p->sin6) : sizeof(p->sin);
}
