/* http_status.c: status codes: their reason phrases, and the proxy's own error responses. */
#include <stdio.h>

#include "http_status.h"

/* Every code the proxy, its metrics endpoint or the demo backend says itself. */
static const struct {
	int		 code;
	const char	*reason;
} http_statuses[] = {
	{ 100, "Continue" },
	{ 200, "OK" },
	{ 201, "Created" },
	{ 202, "Accepted" },
	{ 204, "No Content" },
	{ 301, "Moved Permanently" },
	{ 302, "Found" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" },
	{ 401, "Unauthorized" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 417, "Expectation Failed" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 499, "Client Closed Request" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 502, "Bad Gateway" },
	{ 503, "Service Unavailable" },
	{ 504, "Gateway Timeout" },
	{ 505, "HTTP Version Not Supported" },
};

const char *
http_status_reason(int status)
{
	size_t	i;

	for (i = 0; i < sizeof(http_statuses) / sizeof(http_statuses[0]); i++)
		if (http_statuses[i].code == status)
			return http_statuses[i].reason;
	return "Unknown";
}

int
http_head_error_status(enum http_head_error error)
{
	switch (error) {
	case HEAD_TOO_LARGE:
	case HEAD_TOO_MANY:
		return 431;
	case HEAD_URI_TOO_LONG:
		return 414;
	case HEAD_VERSION:
		return 505;
	case HEAD_CODING:
		return 501;
	case HEAD_OK:
	case HEAD_BAD:
	case HEAD_CHUNK:
		break;
	}
	return 400;
}

size_t
http_error_response(char *buf, int status, const char *request_id, int close)
{
	const char	*reason = http_status_reason(status);
	int		 bl, n;

	/* "503 Service Unavailable\n": the body's length, without writing it twice. */
	bl = snprintf(NULL, 0, "%d %s\n", status, reason);
	n = snprintf(buf, HTTP_ERROR_RESPONSE_MAX,
	    "HTTP/1.1 %d %s\r\n"
	    "Content-Type: text/plain\r\n"
	    "Content-Length: %d\r\n"
	    "X-Request-ID: %.128s\r\n"
	    "%s"
	    "\r\n"
	    "%d %s\n", status, reason, bl, request_id,
	    close ? "Connection: close\r\n" : "", status, reason);
	if (n < 0)
		return 0;
	return (size_t)n < HTTP_ERROR_RESPONSE_MAX ? (size_t)n : HTTP_ERROR_RESPONSE_MAX - 1;
}
