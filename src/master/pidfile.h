/* pidfile.h: the locked pidfile that keeps a second instance from starting. */
#ifndef RP_PIDFILE_H
#define RP_PIDFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Open and lock path and write our pid into it. Return the fd (keep it open:
 * the lock lives as long as it does), or -1 with err set; a running instance
 * is named in err.
 */
int	pidfile_create(const char *path, char *err, size_t errlen);

/* Remove the pidfile of this process and close it. */
void	pidfile_remove(const char *path, int fd);

/* The pid of the running instance holding path's lock, or -1 with err set. */
pid_t	pidfile_read(const char *path, char *err, size_t errlen);

#endif
