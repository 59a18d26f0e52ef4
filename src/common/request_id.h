/* request_id.h: X-Request-ID values: check a client's, or make a unique one. */
#ifndef RP_REQUEST_ID_H
#define RP_REQUEST_ID_H

#include <stddef.h>

#define REQUEST_ID_MAX	128

/* Is a client's X-Request-ID usable: 1..128 visible ASCII bytes? */
int	request_id_valid(const char *s, size_t len);

/* Seed request ids in a new process (after fork). */
void	request_id_init(void);

/* A new request id, unique across processes: 32 hex digits. */
void	request_id_make(char *buf, size_t len);

/* The client's id when it is usable, else a new one, into buf (REQUEST_ID_MAX + 1). */
void	request_id_take(char *buf, const char *client, size_t len);

#endif
