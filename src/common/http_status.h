/* http_status.h: status codes: their reason phrases, and the proxy's own error responses. */
#ifndef RP_HTTP_STATUS_H
#define RP_HTTP_STATUS_H

#include <stddef.h>

#include "http_head.h"

/* The reason phrase of a status code; "Unknown" for one not in the table. */
const char	*http_status_reason(int status);

/* The status that answers a head the parser refused. */
int		 http_head_error_status(enum http_head_error error);

/* Room for any response http_error_response() writes. */
#define HTTP_ERROR_RESPONSE_MAX	(512 + 128)

/*
 * The proxy's own answer: status line, a text/plain body naming the status,
 * X-Request-ID, and "Connection: close" when close is set. Writes head and
 * body into buf (HTTP_ERROR_RESPONSE_MAX bytes) and returns the length.
 */
size_t		 http_error_response(char *buf, int status, const char *request_id, int close);

#endif
