/* main.c: rproxyd's command line: check a config, daemonize, run the master. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "keeper.h"
#include "log.h"
#include "master.h"
#include "metrics_proc.h"
#include "paths.h"
#include "status.h"
#include "worker.h"

/* The programs the master forks: the one place that knows them all. */
static const struct proc_table procs = {
	.worker = worker_main,
	.keeper = keeper_main,
	.metrics = metrics_main,
};

/* Only the GNU pair every daemon answers; each has its short form. */
static const struct option long_opts[] = {
	{ "help",	no_argument,	NULL,	'h' },
	{ "version",	no_argument,	NULL,	'v' },
	{ NULL,		0,		NULL,	0 },
};

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: rproxyd [-fhTtv] [-c file] [-s status]\n"
	    "  -c file    configuration file (default %s)\n"
	    "  -f         stay in the foreground and log to stderr too\n"
	    "  -t         check the configuration and exit\n"
	    "  -T         check the configuration, print it as in effect, and exit\n"
	    "  -s status  print the running daemon's backends from shared memory\n"
	    "  -v, --version  print the version and exit\n"
	    "  -h, --help     print this help and exit\n", RP_DEFAULT_CONFIG);
}

/*
 * Fork into the background. The parent waits on a pipe until the daemon
 * serves (exit 0) or fails to start (exit 1, its error already on stderr).
 */
static int
daemonize(void)
{
	int	fds[2], fd;
	char	c = '0';
	ssize_t	n;
	pid_t	pid;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		fprintf(stderr, "rproxyd: pipe: %s\n", strerror(errno));
		exit(1);
	}
	if ((pid = fork()) == -1) {
		fprintf(stderr, "rproxyd: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(fds[1]);
		while ((n = read(fds[0], &c, 1)) == -1 && errno == EINTR)
			;
		/* _exit: the child owns everything this process allocated. */
		_exit(n == 1 && c == '1' ? 0 : 1);
	}
	close(fds[0]);
	if (setsid() == -1) {
		fprintf(stderr, "rproxyd: setsid: %s\n", strerror(errno));
		exit(1);
	}
	if (chdir("/") == -1) {
		fprintf(stderr, "rproxyd: chdir /: %s\n", strerror(errno));
		exit(1);
	}
	umask(022);
	/* stdin and stdout go now; stderr stays until the daemon is up, for start-up errors. */
	if ((fd = open("/dev/null", O_RDWR)) != -1) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return fds[1];
}

/* -t, -T and -s: look at the configuration or the running daemon, start nothing. */
static int
main_inspect(const struct rp_config *conf, const char *file, int test, int dump,
    const char *status_cmd)
{
	if (!test)
		return status_print(conf, status_cmd, stdout, stderr);
	if (!dump) {
		printf("rproxyd: configuration file %s test is successful\n", file);
		return 0;
	}
	if (config_write(conf, stdout) == -1) {
		fprintf(stderr, "rproxyd: -T: writing to standard output: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

/* The command line, as parsed. */
struct options {
	const char	*file;
	const char	*status_cmd;
	int		 foreground;
	int		 test;
	int		 dump;
};

/* Parse argv into *o: -1 to go on, else the exit status (after -h, -v or a mistake). */
static int
main_options(int argc, char *argv[], struct options *o)
{
	int	ch;

	memset(o, 0, sizeof(*o));
	o->file = RP_DEFAULT_CONFIG;
	while ((ch = getopt_long(argc, argv, "c:fhs:Ttv", long_opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->file = optarg;
			break;
		case 'f':
			o->foreground = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 's':
			o->status_cmd = optarg;
			break;
		case 'T':
			o->dump = 1;
			/* FALLTHROUGH */
		case 't':
			o->test = 1;
			break;
		case 'v':
			printf("rproxyd %s\n", PACKAGE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}
	return -1;
}

int
main(int argc, char *argv[])
{
	struct rp_config	*conf;
	struct options		 o;
	char			 err[1024], abspath[PATH_MAX];
	int			 ready_fd = -1, rc;

	if ((rc = main_options(argc, argv, &o)) != -1)
		return rc;
	if ((conf = calloc(1, sizeof(*conf))) == NULL) {
		fprintf(stderr, "rproxyd: %s\n", strerror(errno));
		return 1;
	}
	/* Absolute, so a reload after daemonizing (chdir /) finds the same file. */
	if (realpath(o.file, abspath) != NULL)
		o.file = abspath;
	if (config_load(o.file, conf, err, sizeof(err)) == -1 ||
	    master_check_config(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "rproxyd: %s\n", err);
		if (!o.test) {
			openlog("rproxyd", LOG_PID, LOG_DAEMON);
			syslog(LOG_ERR, "%s", err);
		}
		free(conf);
		return 1;
	}
	if (o.test || o.status_cmd != NULL) {
		rc = main_inspect(conf, o.file, o.test, o.dump, o.status_cmd);
		free(conf);
		return rc;
	}
	log_init("rproxyd", conf->syslog_facility, conf->log_level, o.foreground);
	if (master_open_logs(conf, err, sizeof(err)) == -1) {
		fprintf(stderr, "rproxyd: %s\n", err);
		free(conf);
		return 1;
	}
	if (!o.foreground)
		ready_fd = daemonize();
	/* The master owns conf from here: a reload replaces it. */
	return master_run(conf, &procs, o.foreground, ready_fd);
}
