/* proc.c: first steps shared by the processes the master forks. */
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "log.h"
#include "proc.h"

void
proc_start(const struct proc_args *a)
{
	/* A child must not outlive its master. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		log_warn("event=prctl_pdeathsig");
	if (getppid() != atomic_load(&a->shm->hdr.master_pid))
		exit(PROC_EXIT_CLEAN);
}

void
proc_drop_privileges(const struct proc_args *a)
{
	/* Resolved once by the master: a name service outage cannot stop a respawn. */
	if (a->uid == (uid_t)-1 || geteuid() != 0)
		return;
	if (setgroups(1, &a->gid) == -1 || setresgid(a->gid, a->gid, a->gid) == -1 ||
	    setresuid(a->uid, a->uid, a->uid) == -1)
		fatal(PROC_EXIT_FATAL, "drop privileges to uid %ld gid %ld",
		    (long)a->uid, (long)a->gid);
}
