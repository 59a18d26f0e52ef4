/* retry.h: may a failed attempt be tried again? The policy, apart from the I/O. */
#ifndef RP_RETRY_H
#define RP_RETRY_H

#include "shm.h"

/* What is known of a failed attempt and its request. */
struct retry_facts {
	int			wrote;		/* request bytes left the proxy */
	int			body;		/* the request has a body */
	int			body_kept;	/* ...held whole, so it can be sent again */
	int			idempotent;	/* the method (RFC 9110 9.2.2) */
	int			reused;		/* the attempt used a pooled connection */
	int			got_bytes;	/* the backend sent something back */
	enum fail_reason	reason;
};

/*
 * Try another backend? Yes when nothing left the proxy; else only when the
 * request can be sent again whole and its method is idempotent.
 */
int	retry_another(const struct retry_facts *f);

/*
 * A pooled connection the backend had closed is not the backend's fault:
 * send again on a fresh connection, counting no failure, when it answered
 * nothing and the request may be sent again (RFC 9112 9.3.1: a proxy never
 * retries a non-idempotent request on its own, even here).
 */
int	retry_fresh(const struct retry_facts *f);

#endif
