/* request_id.c: X-Request-ID values: check a client's, or make a unique one. */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "request_id.h"

int
request_id_valid(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > REQUEST_ID_MAX)
		return 0;
	/* Visible ASCII but the quote and backslash, which log lines would need escaped. */
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e ||
		    s[i] == '"' || s[i] == '\\')
			return 0;
	return 1;
}

static uint64_t	request_id_prefix, request_id_counter;

void
request_id_init(void)
{
	/* Random per process, drawn after fork, then a counter: unique and cheap. */
	if (getrandom(&request_id_prefix, sizeof(request_id_prefix), 0) !=
	    sizeof(request_id_prefix))
		request_id_prefix = (uint64_t)time(NULL) << 20 ^ (uint64_t)getpid();
	request_id_counter = 0;
}

void
request_id_make(char *buf, size_t len)
{
	static const char	hex[] = "0123456789abcdef";
	uint64_t		v[2] = { request_id_prefix, ++request_id_counter };
	size_t			i, n;

	if (len == 0)
		return;
	/* Two 64-bit numbers as 32 hex digits (fewer if buf is short). */
	n = len - 1 < 32 ? len - 1 : 32;
	for (i = 0; i < n; i++)
		buf[i] = hex[v[i / 16] >> (60 - 4 * (i % 16)) & 0xf];
	buf[n] = '\0';
}

void
request_id_take(char *buf, const char *client, size_t len)
{
	if (client != NULL && request_id_valid(client, len)) {
		memcpy(buf, client, len);
		buf[len] = '\0';
	} else {
		request_id_make(buf, REQUEST_ID_MAX + 1);
	}
}
