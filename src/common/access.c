/* access.c: the access line logged for each request, by whichever process answered it. */
#include <inttypes.h>
#include <string.h>

#include "access.h"
#include "log.h"

#define ACCESS_TARGET_MAX	512	/* of the client's target, before escaping */

void
access_log(const struct access_line *a)
{
	char	target[4 * ACCESS_TARGET_MAX + 1];
	size_t	tlen = a->targetlen > ACCESS_TARGET_MAX ? ACCESS_TARGET_MAX : a->targetlen;
	int	mlen = a->method != NULL && a->methodlen > 0 ? (int)a->methodlen : 1;
	int	v6 = strchr(a->client, ':') != NULL;

	if (!log_enabled(LOG_INFO))
		return;
	/* host:port, with an IPv6 host in brackets as in a URL. */
	log_access("request_id=%s client=%s%s%s:%u method=%.*s target=%s status=%d "
	    "backend=%s attempts=%u duration_ms=%.3f bytes_in=%" PRIu64
	    " bytes_out=%" PRIu64, a->request_id, v6 ? "[" : "", a->client, v6 ? "]" : "",
	    a->port, mlen, a->method != NULL ? a->method : "-",
	    a->target != NULL ? log_escape(target, sizeof(target), a->target, tlen) : "-",
	    a->status, a->backend != NULL ? a->backend : "-", a->attempts,
	    (double)a->duration_us / 1000.0, a->bytes_in, a->bytes_out);
}
