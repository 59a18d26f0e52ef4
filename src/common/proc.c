/* proc.c: first steps shared by the processes the master forks. */
#include <dirent.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
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
	/* A change of uid made the process undumpable: its /proc/PID/fd root's. */
	if (prctl(PR_SET_DUMPABLE, 1) == -1)
		log_warn("event=prctl_dumpable");
}

long
proc_fd_count(pid_t pid)
{
	struct dirent	*de;
	DIR		*d;
	char		 path[64];
	long		 n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	/* Counting itself, a process sees the directory it reads as one more. */
	return pid == getpid() && n > 0 ? n - 1 : n;
}
