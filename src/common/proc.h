/* proc.h: what the master hands the processes it forks, and what their exit codes tell it. */
#ifndef RP_PROC_H
#define RP_PROC_H

#include <sys/types.h>

#include "config.h"
#include "shm.h"

/* Exit codes tell the master what to do (as Apache's children do). */
#define PROC_EXIT_CLEAN	0	/* retired or stopped: do not respawn */
#define PROC_EXIT_FATAL	2	/* cannot ever work (privileges): stop the daemon */

/* Everything a forked child starts from; the master resolved it all. */
struct proc_args {
	const struct rp_config	*conf;
	struct shm_region	*shm;
	struct slot		*slot;
	unsigned		 generation;
	int			 listen_fd;	/* the client port; the keeper's alone */
	int			 keeper_end;	/* hand-off socket: the keeper's end */
	int			 worker_end;	/* hand-off socket: the workers' end */
	int			 metrics_fd;	/* the metrics port; the metrics process's alone, -1 when off */
	uid_t			 uid;		/* (uid_t)-1: stay as started */
	gid_t			 gid;
};

typedef void (*proc_main_fn)(const struct proc_args *);

/* The programs the master runs in its children. */
struct proc_table {
	proc_main_fn	worker;
	proc_main_fn	keeper;
	proc_main_fn	metrics;
};

/*
 * First steps of every child: die with the master, and leave at once if the
 * master is already gone (it died between fork() and here).
 */
void	proc_start(const struct proc_args *a);

/*
 * Become a->uid and a->gid when set; exit PROC_EXIT_FATAL when that fails.
 * The process stays dumpable (as nginx's workers do): its /proc/PID/fd stays
 * readable by the children of the same user, so the metrics process can
 * count descriptors, and a crash can leave a core.
 */
void	proc_drop_privileges(const struct proc_args *a);

/* How many descriptors process pid has open; -1 when /proc does not say. */
long	proc_fd_count(pid_t pid);

#endif
