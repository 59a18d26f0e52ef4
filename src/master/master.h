/* master.h: the supervisor: forks workers, reaps and respawns them, handles signals. */
#ifndef RP_MASTER_H
#define RP_MASTER_H

#include "config.h"
#include "proc.h"

/*
 * Run the daemon with conf (already validated) until it is stopped, forking
 * the programs of procs. Takes ownership of conf (a reload replaces it).
 * ready_fd, when not -1, gets one byte once the daemon serves (the
 * daemonizing parent waits for it) and is closed. Returns the exit status.
 */
int	master_run(struct rp_config *conf, const struct proc_table *procs, int foreground,
	    int ready_fd);

/* Checks beyond the file's syntax: the user and group exist. -1 with err set. */
int	master_check_config(const struct rp_config *conf, char *err, size_t errlen);

/* Open (or reopen) conf's log files, owned by the user the workers run as. */
int	master_open_logs(const struct rp_config *conf, char *err, size_t errlen);

#endif
