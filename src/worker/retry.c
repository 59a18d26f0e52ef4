/* retry.c: may a failed attempt be tried again? The policy, apart from the I/O. */
#include "retry.h"

int
retry_another(const struct retry_facts *f)
{
	if (!f->wrote)
		return 1;	/* nothing left the proxy */
	if (f->body && !f->body_kept)
		return 0;	/* the body is gone */
	return f->idempotent;
}

int
retry_fresh(const struct retry_facts *f)
{
	return f->reused && f->reason == FAIL_RESET && !f->got_bytes &&
	    (!f->body || f->body_kept) && f->idempotent;
}
