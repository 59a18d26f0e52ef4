/* master.c: the supervisor: forks workers, reaps and respawns them, handles signals. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "health.h"
#include "log.h"
#include "master.h"
#include "metrics_server.h"
#include "net.h"
#include "pidfile.h"
#include "shm.h"
#include "worker.h"

#define LISTEN_BACKLOG		4096
#define ACCEPT_TIMEOUT_MS	1000	/* how often a blocked accept() looks at its flags */
#define CRASH_WINDOW_NS		(5000 * NS_PER_MS)	/* dying sooner counts as a crash loop */
#define BACKOFF_MAX_NS		(10000 * NS_PER_MS)

/* A process the master forked, by slot. */
struct child {
	pid_t		pid;		/* 0: slot free */
	unsigned	generation;
	int64_t		started;
	int		retiring;	/* told to stop (reload or shutdown) */
};

struct master {
	struct rp_config	*conf;
	struct shm_region	*shm;
	struct metrics_server	*metrics;	/* served from the master's own loop */
	struct child		*children;	/* one per shm slot */
	unsigned		 nslots;
	unsigned		 generation;
	int			 listen_fd;
	int			 pidfile_fd;
	int			 stopping;
	int64_t			 stop_deadline;
	unsigned		 crashes;	/* consecutive early deaths */
	int64_t			 respawn_at;	/* 0: no respawn pending */
	unsigned		 replacing;	/* unexpected deaths not yet replaced */
	int			 exit_status;
	int			 foreground;
};

/* Signal handlers only set these; the loop acts on them in a fixed order. */
static volatile sig_atomic_t	sig_child, sig_stop, sig_reload, sig_reopen;

static void
master_on_signal(int sig)
{
	switch (sig) {
	case SIGCHLD:
		sig_child = 1;
		break;
	case SIGTERM:
	case SIGINT:
		sig_stop++;
		break;
	case SIGHUP:
		sig_reload = 1;
		break;
	case SIGUSR1:
		sig_reopen = 1;
		break;
	}
}

/* The signals the master acts on: blocked except inside its one ppoll(). */
static const int	master_sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1 };

static void
master_signals(sigset_t *wait_mask)
{
	struct sigaction	sa;
	sigset_t		block;
	size_t			i;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sa.sa_handler = master_on_signal;
	for (i = 0; i < sizeof(master_sigs) / sizeof(master_sigs[0]); i++) {
		sigaction(master_sigs[i], &sa, NULL);
		sigaddset(&block, master_sigs[i]);
	}
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, wait_mask);
	for (i = 0; i < sizeof(master_sigs) / sizeof(master_sigs[0]); i++)
		sigdelset(wait_mask, master_sigs[i]);
}

/* Place the configuration's backends in the shared table, keeping known names' state. */
static int
master_sync_backends(struct master *m, const struct rp_config *conf, char *err, size_t errlen)
{
	struct shm_backend	*b;
	int			 keep[RP_MAX_BACKENDS] = { 0 };
	size_t			 i, j, slot;
	int			 found;

	for (i = 0; i < conf->nbackends; i++) {
		found = -1;
		for (j = 0; j < RP_MAX_BACKENDS; j++)
			if (strcmp(m->shm->backends[j].name, conf->backends[i].name) == 0) {
				found = (int)j;
				break;
			}
		if (found >= 0) {
			keep[found] = 1;
			continue;
		}
		/* A never-used entry first, then one a removed backend left. */
		slot = RP_MAX_BACKENDS;
		for (j = 0; j < RP_MAX_BACKENDS && slot == RP_MAX_BACKENDS; j++)
			if (m->shm->backends[j].name[0] == '\0')
				slot = j;
		for (j = 0; j < RP_MAX_BACKENDS && slot == RP_MAX_BACKENDS; j++)
			if (!atomic_load(&m->shm->backends[j].in_use) && !keep[j])
				slot = j;
		if (slot == RP_MAX_BACKENDS) {
			snprintf(err, errlen, "no room for backend %s in shared memory",
			    conf->backends[i].name);
			return -1;
		}
		b = &m->shm->backends[slot];
		if (b->name[0] != '\0')
			shm_backend_reset(m->shm, slot);
		health_reset(b);
		snprintf(b->url, sizeof(b->url), "%s", conf->backends[i].url);
		snprintf(b->name, sizeof(b->name), "%s", conf->backends[i].name);
		keep[slot] = 1;
	}
	for (j = 0; j < RP_MAX_BACKENDS; j++)
		atomic_store(&m->shm->backends[j].in_use, keep[j] ? 1u : 0u);
	return 0;
}

/* Once daemonized and serving, stderr is nobody's: syslog and log files take over. */
static void
master_detach_stderr(void)
{
	int	fd;

	if ((fd = open("/dev/null", O_RDWR)) == -1)
		return;
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

static int
master_spawn(struct master *m, unsigned idx)
{
	struct slot	*s = &m->shm->slots[idx];
	pid_t		 pid;

	/*
	 * Claim the slot before fork(): the child owns its state from its first
	 * instruction, and a store here after fork() could overwrite its BUSY.
	 * Its generation first: new workers wait for idle older ones.
	 */
	atomic_store(&s->generation, m->generation);
	atomic_store(&s->state, SLOT_IDLE);
	pid = fork();
	if (pid == -1) {
		atomic_store(&s->state, SLOT_FREE);
		log_warn("event=fork_failed");
		return -1;
	}
	if (pid == 0) {
		if (m->pidfile_fd != -1)
			close(m->pidfile_fd);
		metrics_server_close_inherited(m->metrics);
		/* A daemon's workers must not hold the starting shell's stderr open. */
		if (!m->foreground)
			master_detach_stderr();
		worker_main(m->conf, m->shm, s, m->listen_fd, m->generation);
	}
	atomic_store(&s->pid, (int32_t)pid);
	m->children[idx].pid = pid;
	m->children[idx].generation = m->generation;
	m->children[idx].started = clock_now_ns();
	m->children[idx].retiring = 0;
	/* A replacement for a dead worker is news; a planned start is not. */
	log_msg(m->replacing > 0 ? LOG_INFO : LOG_DEBUG, "event=%s pid=%ld slot=%u "
	    "generation=%u", m->replacing > 0 ? "worker_respawn" : "worker_start",
	    (long)pid, idx, m->generation);
	if (m->replacing > 0)
		m->replacing--;
	return 0;
}

static unsigned
master_count(const struct master *m, int current_only)
{
	unsigned	i, n = 0;

	for (i = 0; i < m->nslots; i++)
		if (m->children[i].pid != 0 && (!current_only ||
		    (m->children[i].generation == m->generation &&
		    !m->children[i].retiring)))
			n++;
	return n;
}

/* Start workers of the current generation until there are conf->workers. */
static void
master_fill(struct master *m)
{
	unsigned	i;

	for (i = 0; i < m->nslots && master_count(m, 1) < m->conf->workers; i++)
		if (m->children[i].pid == 0 &&
		    atomic_load(&m->shm->slots[i].state) == SLOT_FREE &&
		    master_spawn(m, i) == -1)
			break;
}

static void
master_signal_children(struct master *m, int sig, int old_only)
{
	unsigned	i;

	for (i = 0; i < m->nslots; i++) {
		if (m->children[i].pid == 0)
			continue;
		if (old_only && m->children[i].generation == m->generation)
			continue;
		if (sig == SIGQUIT || sig == SIGTERM)
			m->children[i].retiring = 1;
		kill(m->children[i].pid, sig);
	}
}

static void
master_log_exit(const struct child *c, int status)
{
	if (WIFSIGNALED(status))
		log_msg(c->retiring ? LOG_INFO : LOG_ERR,
		    "event=worker_exit pid=%ld generation=%u signal=%d signame=\"%s\"%s",
		    (long)c->pid, c->generation, WTERMSIG(status),
		    strsignal(WTERMSIG(status)), WCOREDUMP(status) ? " core_dumped=1" : "");
	else
		log_msg(c->retiring && WEXITSTATUS(status) == WORKER_EXIT_CLEAN ?
		    LOG_INFO : LOG_ERR, "event=worker_exit pid=%ld generation=%u status=%d",
		    (long)c->pid, c->generation, WEXITSTATUS(status));
}

static void	master_begin_stop(struct master *);

static void
master_reap(struct master *m)
{
	struct child	*c;
	unsigned	 i;
	int64_t		 now, delay;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < m->nslots; i++)
			if (m->children[i].pid == pid)
				break;
		if (i == m->nslots)
			continue;
		c = &m->children[i];
		master_log_exit(c, status);
		/* Its counters live on in the retired totals; its gauges go. */
		shm_slot_fold(m->shm, &m->shm->slots[i]);
		if (m->stopping) {
			c->pid = 0;
			log_info("event=shutdown phase=drain exited=%ld left=%u",
			    (long)pid, master_count(m, 0));
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_EXIT_FATAL &&
		    !m->stopping) {
			log_err("event=worker_fatal pid=%ld action=stop", (long)pid);
			m->exit_status = 1;
			memset(c, 0, sizeof(*c));
			master_begin_stop(m);
			continue;
		}
		if (!c->retiring && !m->stopping &&
		    c->generation == m->generation) {
			atomic_fetch_add(&m->shm->hdr.worker_restarts, 1);
			m->replacing++;
			now = clock_now_ns();
			m->crashes = now - c->started < CRASH_WINDOW_NS ? m->crashes + 1 : 0;
			/* A crash loop backs off instead of forking as fast as it can. */
			delay = m->crashes == 0 ? 0 : (100 * NS_PER_MS) << (m->crashes < 8 ?
			    m->crashes - 1 : 7);
			if (delay > BACKOFF_MAX_NS)
				delay = BACKOFF_MAX_NS;
			if (delay > 0)
				log_warnx("event=respawn_backoff delay_ms=%lld crashes=%u",
				    (long long)(delay / NS_PER_MS), m->crashes);
			if (m->respawn_at == 0 || now + delay > m->respawn_at)
				m->respawn_at = now + delay;
		}
		memset(c, 0, sizeof(*c));
	}
}

static void
master_begin_stop(struct master *m)
{
	unsigned	n[SLOT_NSTATES];

	if (m->stopping) {
		log_notice("event=shutdown phase=immediate workers=%u", master_count(m, 0));
		master_signal_children(m, SIGKILL, 0);
		return;
	}
	m->stopping = 1;
	m->stop_deadline = clock_now_ns() +
	    (int64_t)m->conf->shutdown_timeout_ms * NS_PER_MS;
	shm_slot_states(m->shm, n);
	log_notice("event=shutdown phase=begin workers=%u busy=%u timeout_s=%.3g",
	    master_count(m, 0), n[SLOT_BUSY],
	    (double)m->conf->shutdown_timeout_ms / 1000.0);
	/*
	 * Draining workers empty the backlog with accept() that must not block.
	 * The master's copy goes now: the socket closes with the last worker's,
	 * right after its last drain, so no connection is left queued to be reset.
	 */
	if (net_set_nonblock(m->listen_fd) == -1)
		log_warn("event=shutdown_listen_nonblock");
	close(m->listen_fd);
	m->listen_fd = -1;
	master_signal_children(m, SIGTERM, 0);
}

int
master_check_config(const struct rp_config *conf, char *err, size_t errlen)
{
	uid_t	uid;
	gid_t	gid;

	/* Workers drop privileges after fork(): a typo must fail the start, not them. */
	return config_user_ids(conf, &uid, &gid, err, errlen);
}

int
master_open_logs(const struct rp_config *conf, char *err, size_t errlen)
{
	uid_t	uid;
	gid_t	gid;

	if (config_user_ids(conf, &uid, &gid, err, errlen) == -1)
		return -1;
	/* Owned by the workers' user: they reopen the files after SIGUSR1. */
	return log_open_dir(conf->log_dir, uid, gid, err, errlen);
}

/* Restart-only keys: they size or name what the running daemon holds. */
static int
master_reload_check(const struct master *m, const struct rp_config *n, char *err,
    size_t errlen)
{
	const struct rp_config	*o = m->conf;

	if (strcmp(o->listen.host, n->listen.host) != 0 || o->listen.port != n->listen.port)
		snprintf(err, errlen, "listen cannot change on reload: restart rproxyd");
	else if (strcmp(o->metrics_listen.host, n->metrics_listen.host) != 0 ||
	    o->metrics_listen.port != n->metrics_listen.port)
		snprintf(err, errlen, "metrics_listen cannot change on reload: restart rproxyd");
	else if (strcmp(o->pidfile, n->pidfile) != 0)
		snprintf(err, errlen, "pidfile cannot change on reload: restart rproxyd");
	else if (n->workers * 2 > m->nslots)
		snprintf(err, errlen, "workers %u: at most %u without a restart",
		    n->workers, m->nslots / 2);
	else
		return 0;
	return -1;
}

static void
master_reload(struct master *m)
{
	struct rp_config	*n;
	char			 err[1024];

	log_notice("event=reload phase=begin config=%s", m->conf->path);
	if ((n = malloc(sizeof(*n))) == NULL) {
		log_warn("event=reload result=failure");
		atomic_fetch_add(&m->shm->hdr.reloads_failed, 1);
		return;
	}
	if (config_load(m->conf->path, n, err, sizeof(err)) == -1 ||
	    master_check_config(n, err, sizeof(err)) == -1 ||
	    master_reload_check(m, n, err, sizeof(err)) == -1 ||
	    master_open_logs(n, err, sizeof(err)) == -1 ||
	    master_sync_backends(m, n, err, sizeof(err)) == -1) {
		log_err("event=reload result=failure error=\"%s\" action=keep_running", err);
		atomic_fetch_add(&m->shm->hdr.reloads_failed, 1);
		free(n);
		return;
	}
	log_set_level(n->log_level);
	free(m->conf);
	m->conf = n;
	m->generation++;
	atomic_store(&m->shm->hdr.generation, m->generation);
	/*
	 * Old workers stop accepting before new ones start, so that once a
	 * request is served under the new configuration no later one is served
	 * under the old. Connections arriving in between wait in the backlog.
	 */
	master_signal_children(m, SIGQUIT, 1);
	master_fill(m);
	atomic_fetch_add(&m->shm->hdr.reloads_ok, 1);
	log_notice("event=reload result=success generation=%u backends=%zu workers=%u",
	    m->generation, n->nbackends, n->workers);
}

static int
master_setup(struct master *m, int foreground, char *err, size_t errlen)
{
	struct timeval	tv = { ACCEPT_TIMEOUT_MS / 1000, (ACCEPT_TIMEOUT_MS % 1000) * 1000 };
	char		addr[NET_ADDRSTR_MAX], maddr[NET_ADDRSTR_MAX];

	m->pidfile_fd = -1;
	if (master_check_config(m->conf, err, errlen) == -1)
		return -1;
	if (m->conf->pidfile[0] != '\0' &&
	    (m->pidfile_fd = pidfile_create(m->conf->pidfile, err, errlen)) == -1)
		return -1;
	if ((m->listen_fd = net_listen(&m->conf->listen, LISTEN_BACKLOG, err, errlen)) == -1)
		return -1;
	/* accept() wakes at least this often to see a stop or retire flag. */
	if (setsockopt(m->listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		snprintf(err, errlen, "listen: SO_RCVTIMEO: %s", strerror(errno));
		return -1;
	}
	m->nslots = m->conf->workers * 4 < 16 ? 16 : m->conf->workers * 4;
	if ((m->children = calloc(m->nslots, sizeof(*m->children))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return -1;
	}
	if ((m->shm = shm_create(getpid(), m->nslots, err, errlen)) == NULL)
		return -1;
	if (master_sync_backends(m, m->conf, err, errlen) == -1)
		return -1;
	if ((m->metrics = metrics_server_open(&m->conf->metrics_listen, m->shm, err,
	    errlen)) == NULL)
		return -1;
	/* The bound ports: with port 0 in the config, the kernel's pick. */
	net_addr_port_str(&m->conf->listen, net_bound_port(m->listen_fd), addr, sizeof(addr));
	if (metrics_server_port(m->metrics) == 0)
		snprintf(maddr, sizeof(maddr), "off");
	else
		net_addr_port_str(&m->conf->metrics_listen, metrics_server_port(m->metrics),
		    maddr, sizeof(maddr));
	log_notice("event=start version=%s listen=%s metrics_listen=%s workers=%u backends=%zu "
	    "pid=%ld%s", PACKAGE_VERSION, addr, maddr, m->conf->workers, m->conf->nbackends,
	    (long)getpid(), foreground ? " foreground=1" : "");
	return 0;
}

static void
master_teardown(struct master *m)
{
	if (m->listen_fd != -1)
		close(m->listen_fd);
	metrics_server_close(m->metrics);
	if (m->shm != NULL)
		shm_destroy(m->shm, getpid());
	pidfile_remove(m->conf->pidfile, m->pidfile_fd);
	free(m->children);
}

int
master_run(struct rp_config *conf, int foreground, int ready_fd)
{
	struct master	 m;
	struct pollfd	 pfd[METRICS_POLLFD_MAX];
	nfds_t		 nfds;
	sigset_t	 wait_mask;
	struct timespec	 ts;
	char		 err[1024];
	int64_t		 now, wake;

	memset(&m, 0, sizeof(m));
	m.conf = conf;
	m.foreground = foreground;
	m.listen_fd = -1;
	master_signals(&wait_mask);
	if (master_setup(&m, foreground, err, sizeof(err)) == -1) {
		log_err("%s", err);
		if (!foreground)
			fprintf(stderr, "rproxyd: %s\n", err);
		master_teardown(&m);
		free(m.conf);
		return 1;
	}
	master_fill(&m);
	if (ready_fd != -1) {
		/* The daemonizing parent exits 0 on this byte, 1 on EOF without it. */
		if (write(ready_fd, "1", 1) != 1)
			log_warn("event=ready_pipe_write");
		close(ready_fd);
		master_detach_stderr();
	}

	for (;;) {
		now = clock_now_ns();
		wake = now + 1000 * NS_PER_MS;
		if (m.respawn_at != 0 && m.respawn_at < wake)
			wake = m.respawn_at;
		if (m.stopping && m.stop_deadline < wake)
			wake = m.stop_deadline;
		nfds = metrics_server_pollfds(m.metrics, pfd, METRICS_POLLFD_MAX, &wake);
		wake = wake > now ? wake - now : 0;
		ts.tv_sec = wake / 1000000000LL;
		ts.tv_nsec = wake % 1000000000LL;
		/* The one place the master waits, and the only place signals get in. */
		if (ppoll(pfd, nfds, &ts, &wait_mask) == -1 && errno != EINTR)
			log_warn("event=master_ppoll");

		if (sig_child) {
			sig_child = 0;
			master_reap(&m);
		}
		if (sig_stop) {
			sig_stop = 0;
			master_begin_stop(&m);
		}
		if (sig_reload) {
			sig_reload = 0;
			if (!m.stopping)
				master_reload(&m);
		}
		if (sig_reopen) {
			sig_reopen = 0;
			log_reopen();
			master_signal_children(&m, SIGUSR1, 0);
			log_notice("event=reopen_logs");
		}
		/* After reaping, so a scrape sees a dead worker's slot folded or live. */
		metrics_server_handle(m.metrics, pfd, nfds);
		now = clock_now_ns();
		if (m.stopping) {
			if (master_count(&m, 0) == 0)
				break;
			if (now >= m.stop_deadline) {
				log_warnx("event=shutdown phase=timeout killing=%u",
				    master_count(&m, 0));
				master_signal_children(&m, SIGKILL, 0);
				m.stop_deadline = now + 1000 * NS_PER_MS;
			}
			continue;
		}
		if (log_rotate(m.conf->log_max_size, m.conf->log_keep))
			master_signal_children(&m, SIGUSR1, 0);
		/* Respawn the dead, or fill in for old workers a reload retired. */
		if (m.respawn_at != 0 && now < m.respawn_at)
			continue;
		m.respawn_at = 0;
		if (master_count(&m, 1) < m.conf->workers)
			master_fill(&m);
	}
	log_notice("event=shutdown phase=done status=%d", m.exit_status);
	master_teardown(&m);
	free(m.conf);
	return m.exit_status;
}
