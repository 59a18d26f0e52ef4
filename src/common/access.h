/* access.h: the access line logged for each request, by whichever process answered it. */
#ifndef RP_ACCESS_H
#define RP_ACCESS_H

#include <stddef.h>
#include <stdint.h>

struct access_line {
	const char	*request_id;
	const char	*client;	/* numeric address */
	unsigned	 port;
	const char	*method;	/* NULL when none was read */
	size_t		 methodlen;
	const char	*target;	/* the client's bytes: escaped here */
	size_t		 targetlen;
	int		 status;
	const char	*backend;	/* NULL when none was tried */
	unsigned	 attempts;
	uint64_t	 duration_us;
	uint64_t	 bytes_in;
	uint64_t	 bytes_out;
};

/* Log one access line (at INFO, to access.log too). */
void	access_log(const struct access_line *a);

#endif
