/* master.c: the supervisor: forks the children, reaps and respawns them, handles signals. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "health.h"
#include "log.h"
#include "master.h"
#include "net.h"
#include "pidfile.h"
#include "pool.h"
#include "proc.h"
#include "shm.h"

#define LISTEN_BACKLOG		4096
#define METRICS_BACKLOG		64
#define FDS_PUBLISH_NS		(1000 * NS_PER_MS)	/* how often the master counts its descriptors */
#define TAKE_TIMEOUT_MS		1000	/* how often a worker blocked on the hand-off socket looks at its flags */
#define HANDOFF_SNDBUF		(8 * 1024 * 1024)	/* connections queued between keeper and workers */
#define CRASH_WINDOW_NS		(5000 * NS_PER_MS)	/* dying sooner counts as a crash loop */
#define BACKOFF_MAX_NS		(10000 * NS_PER_MS)
#define POOL_LOG_NS		(5000 * NS_PER_MS)	/* at most one pool log line per this */
#define FORK_BATCH		32	/* workers forked per pass: signals and scrapes get in between */

enum child_role {
	ROLE_WORKER = 0,
	ROLE_KEEPER,
	ROLE_METRICS,
	ROLE_NROLES
};

/* In log events (event=keeper_exit) and by role. */
static const char *const role_names[ROLE_NROLES] = { "worker", "keeper", "metrics" };
static const uint32_t role_slot_states[ROLE_NROLES] = { SLOT_STARTING, SLOT_KEEPER, SLOT_METRICS };

/* Which children a count or a signal is about. */
enum child_set {
	CHILDREN_ALL = 0,	/* every live one */
	CHILDREN_CURRENT,	/* of the current generation and not retiring */
	CHILDREN_OLD,		/* of an older generation */
	CHILDREN_SERVING,	/* all but the metrics process, which shows a stop to its end */
};

/* A process the master forked, by slot. */
struct child {
	pid_t		pid;		/* 0: slot free */
	enum child_role	role;
	unsigned	generation;
	int64_t		started;
	int		retiring;	/* told to stop (reload or shutdown) */
};

struct master {
	struct rp_config	*conf;
	const struct proc_table	*procs;
	struct shm_region	*shm;
	struct child		*children;	/* one per shm slot */
	unsigned		 nslots;
	unsigned		 generation;
	int			 listen_fd;
	int			 metrics_fd;	/* the metrics port, for the metrics process; -1: off */
	int			 handoff[2];	/* the keeper's end, the workers' end */
	uid_t			 uid;		/* children run as these (resolved once) */
	gid_t			 gid;
	int			 pidfile_fd;
	int			 stopping;
	int64_t			 stop_deadline;
	unsigned		 crashes;	/* consecutive early deaths */
	int64_t			 respawn_at;	/* 0: no respawn pending */
	unsigned		 replacing;	/* unexpected deaths not yet replaced */
	int			 exit_status;
	int			 foreground;
	int64_t			 fds_at;	/* next count of its own descriptors */
	/* The worker pool: fixed (min = max = workers) or adaptive. */
	struct pool_limits	 limits;
	struct pool_state	 pool;
	unsigned		 target;	/* current-generation workers wanted */
	enum spawn_reason	 spawn_reason;	/* of the next planned start */
	int64_t			 pool_next;	/* next sizing tick; 0: fixed pool */
	int64_t			 pool_log_at;	/* next pool log line allowed */
	unsigned		 grown, shrunk;	/* since the last pool log line */
	int			 fill_more;	/* the last fill stopped at its batch */
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
master_place_backends(struct master *m, const struct rp_config *conf, char *err, size_t errlen)
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

/* master_place_backends() as one change of the table to a scrape. */
static int
master_sync_backends(struct master *m, const struct rp_config *conf, char *err, size_t errlen)
{
	int	rc;

	/* A scrape reads names and counters of one table, before or after. */
	shm_fold_begin(m->shm);
	rc = master_place_backends(m, conf, err, errlen);
	shm_fold_end(m->shm);
	return rc;
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

/* In the child, just forked: keep only what its role needs, then run it. */
static void __attribute__((noreturn))
master_child(const struct master *m, enum child_role role, const struct proc_args *a)
{
	if (m->pidfile_fd != -1)
		close(m->pidfile_fd);
	/* Else a worker would hold the metrics port open after the daemon stopped. */
	if (role != ROLE_METRICS && m->metrics_fd != -1)
		close(m->metrics_fd);
	/* A daemon's children must not hold the starting shell's stderr open. */
	if (!m->foreground)
		master_detach_stderr();
	switch (role) {
	case ROLE_KEEPER:
		m->procs->keeper(a);
		break;
	case ROLE_METRICS:
		m->procs->metrics(a);
		break;
	default:
		m->procs->worker(a);
		break;
	}
	_exit(PROC_EXIT_FATAL);	/* not reached: each exits itself */
}

static int
master_spawn(struct master *m, unsigned idx, enum child_role role)
{
	struct slot		*s = &m->shm->slots[idx];
	struct proc_args	 a;
	sigset_t		 all, old;
	pid_t			 pid;

	/*
	 * Claim the slot before fork(): the child owns its state from its first
	 * instruction, and a store here after fork() could overwrite its BUSY.
	 * Its generation first: new workers wait for idle older ones.
	 */
	atomic_store(&s->generation, m->generation);
	atomic_store(&s->state, role_slot_states[role]);
	memset(&a, 0, sizeof(a));
	a.conf = m->conf;
	a.shm = m->shm;
	a.slot = s;
	a.generation = m->generation;
	a.listen_fd = m->listen_fd;
	a.keeper_end = m->handoff[0];
	a.worker_end = m->handoff[1];
	a.metrics_fd = m->metrics_fd;
	a.uid = m->uid;
	a.gid = m->gid;
	/* Every signal waits, pending, until the child has its handlers: none is lost. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == 0)
		master_child(m, role, &a);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		atomic_store(&s->state, SLOT_FREE);
		log_warn("event=fork_failed");
		return -1;
	}
	atomic_store(&s->pid, (int32_t)pid);
	m->children[idx].pid = pid;
	m->children[idx].role = role;
	m->children[idx].generation = m->generation;
	m->children[idx].started = clock_now_ns();
	m->children[idx].retiring = 0;
	/* A replacement for a dead child is news; a planned start is not. */
	log_msg(m->replacing > 0 ? LOG_INFO : LOG_DEBUG, "event=%s_%s pid=%ld slot=%u "
	    "generation=%u", role_names[role], m->replacing > 0 ? "respawn" : "start",
	    (long)pid, idx, m->generation);
	if (role == ROLE_WORKER)
		atomic_fetch_add(&m->shm->hdr.spawns[m->replacing > 0 ? SPAWN_RESPAWN :
		    m->spawn_reason], 1);
	if (m->replacing > 0)
		m->replacing--;
	return 0;
}

static int
child_in(const struct master *m, const struct child *c, enum child_set set)
{
	switch (set) {
	case CHILDREN_ALL:
		break;
	case CHILDREN_CURRENT:
		return c->generation == m->generation && !c->retiring;
	case CHILDREN_OLD:
		return c->generation != m->generation;
	case CHILDREN_SERVING:
		return c->role != ROLE_METRICS;
	}
	return 1;
}

static unsigned
master_count(const struct master *m, enum child_role role, enum child_set set)
{
	unsigned	i, n = 0;

	for (i = 0; i < m->nslots; i++)
		if (m->children[i].pid != 0 && m->children[i].role == role &&
		    child_in(m, &m->children[i], set))
			n++;
	return n;
}

static unsigned
master_count_all(const struct master *m)
{
	enum child_role	role;
	unsigned	n = 0;

	for (role = ROLE_WORKER; role < ROLE_NROLES; role++)
		n += master_count(m, role, CHILDREN_ALL);
	return n;
}

/* How many children of role the current generation needs. */
static unsigned
master_want(const struct master *m, enum child_role role)
{
	switch (role) {
	case ROLE_KEEPER:
		return 1;
	case ROLE_METRICS:
		return m->metrics_fd != -1;
	default:
		return m->target;
	}
}

/*
 * Start what the current generation lacks: its keeper, metrics process, and
 * workers up to the target, at most batch of them; fill_more says whether it
 * stopped there.
 */
static void
master_fill(struct master *m, unsigned batch)
{
	enum child_role	role;
	unsigned	i, want, have, started = 0;

	m->fill_more = 0;
	for (role = ROLE_WORKER; role < ROLE_NROLES; role++) {
		want = master_want(m, role);
		/* Counted once: hundreds of starts in one tick must not each recount. */
		have = master_count(m, role, CHILDREN_CURRENT);
		for (i = 0; i < m->nslots && have < want; i++) {
			if (m->children[i].pid != 0 ||
			    atomic_load(&m->shm->slots[i].state) != SLOT_FREE)
				continue;
			if (role == ROLE_WORKER && started == batch) {
				m->fill_more = 1;
				break;
			}
			if (master_spawn(m, i, role) == -1)
				return;
			have++;
			started++;
		}
	}
}

static int
master_filled(const struct master *m)
{
	enum child_role	role;

	for (role = ROLE_WORKER; role < ROLE_NROLES; role++)
		if (master_count(m, role, CHILDREN_CURRENT) < master_want(m, role))
			return 0;
	return 1;
}

static void
master_signal_children(struct master *m, int sig, enum child_set set)
{
	unsigned	i;

	for (i = 0; i < m->nslots; i++) {
		if (m->children[i].pid == 0 || !child_in(m, &m->children[i], set))
			continue;
		if (sig == SIGQUIT && !m->children[i].retiring &&
		    m->children[i].role == ROLE_WORKER)
			atomic_fetch_add(&m->shm->hdr.retires[RETIRE_RELOAD], 1);
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
		    "event=%s_exit pid=%ld generation=%u signal=%d signame=\"%s\"%s",
		    role_names[c->role], (long)c->pid, c->generation, WTERMSIG(status),
		    strsignal(WTERMSIG(status)), WCOREDUMP(status) ? " core_dumped=1" : "");
	else
		log_msg(c->retiring && WEXITSTATUS(status) == PROC_EXIT_CLEAN ?
		    LOG_INFO : LOG_ERR, "event=%s_exit pid=%ld generation=%u status=%d",
		    role_names[c->role], (long)c->pid, c->generation, WEXITSTATUS(status));
}

static void	master_begin_stop(struct master *);

/* The restarts counter of a role, in the shared header. */
static _Atomic uint64_t *
master_restarts(struct master *m, enum child_role role)
{
	switch (role) {
	case ROLE_KEEPER:
		return &m->shm->hdr.keeper_restarts;
	case ROLE_METRICS:
		return &m->shm->hdr.metrics_restarts;
	default:
		return &m->shm->hdr.worker_restarts;
	}
}

/* A child of this generation died unexpectedly: count it, respawn, back off a crash loop. */
static void
master_schedule_respawn(struct master *m, const struct child *c)
{
	int64_t	now, delay;

	atomic_fetch_add(master_restarts(m, c->role), 1);
	m->replacing++;
	now = clock_now_ns();
	m->crashes = now - c->started < CRASH_WINDOW_NS ? m->crashes + 1 : 0;
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

/* The oldest generation a live worker runs: new workers need not look for older ones. */
static void
master_publish_oldest(struct master *m)
{
	unsigned	i, oldest = m->generation;

	for (i = 0; i < m->nslots; i++)
		if (m->children[i].pid != 0 && m->children[i].role == ROLE_WORKER &&
		    m->children[i].generation < oldest)
			oldest = m->children[i].generation;
	atomic_store(&m->shm->hdr.oldest_generation, oldest);
}

static void
master_reap(struct master *m)
{
	struct child	*c;
	unsigned	 i;
	pid_t		 pid;
	int		 status;

	/*
	 * From before waitpid(), which moves a child's CPU time into the
	 * master's, to after the fold of its slot: a scrape reads before or
	 * after, never across.
	 */
	shm_fold_begin(m->shm);
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
			    (long)pid, master_count_all(m));
		}
		if (WIFEXITED(status) && WEXITSTATUS(status) == PROC_EXIT_FATAL &&
		    !m->stopping) {
			log_err("event=%s_fatal pid=%ld action=stop", role_names[c->role],
			    (long)pid);
			m->exit_status = 1;
			memset(c, 0, sizeof(*c));
			master_begin_stop(m);
			continue;
		}
		if (!c->retiring && !m->stopping && c->generation == m->generation)
			master_schedule_respawn(m, c);
		memset(c, 0, sizeof(*c));
	}
	shm_fold_end(m->shm);
	master_publish_oldest(m);
}

static void
master_begin_stop(struct master *m)
{
	unsigned	n[SLOT_NSTATES];

	if (m->stopping) {
		log_notice("event=shutdown phase=immediate workers=%u",
		    master_count(m, ROLE_WORKER, CHILDREN_ALL));
		master_signal_children(m, SIGKILL, CHILDREN_ALL);
		return;
	}
	m->stopping = 1;
	m->stop_deadline = clock_now_ns() +
	    (int64_t)m->conf->shutdown_timeout_ms * NS_PER_MS;
	shm_slot_states(m->shm, n);
	log_notice("event=shutdown phase=begin workers=%u busy=%u timeout_s=%.3g",
	    master_count(m, ROLE_WORKER, CHILDREN_ALL), n[SLOT_BUSY],
	    (double)m->conf->shutdown_timeout_ms / 1000.0);
	/*
	 * The master's copy goes now: the socket closes with the keeper's, right
	 * after its last drain, so no connection is left queued to be reset.
	 */
	close(m->listen_fd);
	m->listen_fd = -1;
	/* The metrics process goes last (master_tick): a scrape shows the drain. */
	master_signal_children(m, SIGTERM, CHILDREN_SERVING);
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

/* The most workers conf may ask for: its fixed count or its pool's maximum. */
static unsigned
master_ceiling(const struct rp_config *conf)
{
	return pool_adaptive(conf) ? conf->max_workers : conf->workers;
}

/* What `rproxyd -s status` and the metrics show of the pool. */
static void
master_pool_publish(struct master *m)
{
	atomic_store(&m->shm->hdr.pool_adaptive, (uint32_t)pool_adaptive(m->conf));
	atomic_store(&m->shm->hdr.pool_target, m->target);
	atomic_store(&m->shm->hdr.pool_min, m->limits.min);
	atomic_store(&m->shm->hdr.pool_max, m->limits.max);
}

/* The pool as m->conf says, target workers in the current generation. */
static void
master_pool_configure(struct master *m, unsigned target, enum spawn_reason reason)
{
	pool_state_init(&m->pool);
	m->target = target;
	m->spawn_reason = reason;
	m->pool_next = pool_adaptive(m->conf) ? clock_now_ns() + POOL_TICK_NS : 0;
	master_pool_publish(m);
}

/* How many workers of the current generation serve a request. */
static unsigned
master_busy(const struct master *m)
{
	unsigned	i, n = 0;

	for (i = 0; i < m->nslots; i++)
		if (m->children[i].pid != 0 && m->children[i].role == ROLE_WORKER &&
		    child_in(m, &m->children[i], CHILDREN_CURRENT) &&
		    atomic_load(&m->shm->slots[i].state) == SLOT_BUSY)
			n++;
	return n;
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
	else if (master_ceiling(n) * 2 > m->nslots)
		snprintf(err, errlen, "%s %u: at most %u without a restart",
		    pool_adaptive(n) ? "max_workers" : "workers", master_ceiling(n),
		    m->nslots / 2);
	else
		return 0;
	return -1;
}

static void
master_reload(struct master *m)
{
	struct rp_config	*n;
	char			 err[1024];
	uid_t			 uid;
	gid_t			 gid;
	unsigned		 busy, waiting;

	log_notice("event=reload phase=begin config=%s", m->conf->path);
	if ((n = malloc(sizeof(*n))) == NULL) {
		log_warn("event=reload result=failure");
		atomic_fetch_add(&m->shm->hdr.reloads_failed, 1);
		return;
	}
	if (config_load(m->conf->path, n, err, sizeof(err)) == -1 ||
	    config_user_ids(n, &uid, &gid, err, sizeof(err)) == -1 ||
	    master_reload_check(m, n, err, sizeof(err)) == -1 ||
	    master_open_logs(n, err, sizeof(err)) == -1 ||
	    master_sync_backends(m, n, err, sizeof(err)) == -1) {
		log_err("event=reload result=failure error=\"%s\" action=keep_running", err);
		atomic_fetch_add(&m->shm->hdr.reloads_failed, 1);
		free(n);
		return;
	}
	log_set_level(n->log_level);
	/* The new generation starts at the size the old one's load needs. */
	busy = master_busy(m);
	waiting = shm_handoffs_waiting(m->shm);
	free(m->conf);
	m->conf = n;
	m->uid = uid;
	m->gid = gid;
	m->generation++;
	atomic_store(&m->shm->hdr.generation, m->generation);
	pool_limits_from(&m->limits, n);
	master_pool_configure(m, pool_adaptive(n) ?
	    pool_reload_size(&m->limits, busy, waiting) : n->workers, SPAWN_RELOAD);
	/*
	 * Old workers stop accepting before new ones start, so that once a
	 * request is served under the new configuration no later one is served
	 * under the old. Connections arriving in between wait in the backlog.
	 */
	master_signal_children(m, SIGQUIT, CHILDREN_OLD);
	master_fill(m, FORK_BATCH);
	atomic_fetch_add(&m->shm->hdr.reloads_ok, 1);
	log_notice("event=reload result=success generation=%u backends=%zu workers=%u",
	    m->generation, n->nbackends, m->target);
}

/* Descriptors: every client connection costs one, so take all the system allows. */
static void
master_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur == rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("event=setrlimit_nofile");
}

/*
 * The hand-off socket pair between keeper and workers. Its queues hold
 * connections in transit, a few hundred bytes each: large, as root may set.
 * Workers block reading their end; they wake once a second to look at
 * their flags.
 */
static int
master_handoff_socket(struct master *m, char *err, size_t errlen)
{
	struct timeval	tv = { TAKE_TIMEOUT_MS / 1000, (TAKE_TIMEOUT_MS % 1000) * 1000 };
	int		size = HANDOFF_SNDBUF, i;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, m->handoff) == -1) {
		snprintf(err, errlen, "hand-off socketpair: %s", strerror(errno));
		m->handoff[0] = m->handoff[1] = -1;
		return -1;
	}
	for (i = 0; i < 2; i++)
		if (setsockopt(m->handoff[i], SOL_SOCKET, SO_SNDBUFFORCE, &size,
		    sizeof(size)) == -1)
			(void)setsockopt(m->handoff[i], SOL_SOCKET, SO_SNDBUF, &size,
			    sizeof(size));
	if (setsockopt(m->handoff[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		snprintf(err, errlen, "hand-off socket: SO_RCVTIMEO: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int
master_setup(struct master *m, int foreground, char *err, size_t errlen)
{
	char		addr[NET_ADDRSTR_MAX], maddr[NET_ADDRSTR_MAX];
	struct rlimit	rl;

	m->pidfile_fd = -1;
	if (config_user_ids(m->conf, &m->uid, &m->gid, err, errlen) == -1)
		return -1;
	if (m->conf->pidfile[0] != '\0' &&
	    (m->pidfile_fd = pidfile_create(m->conf->pidfile, err, errlen)) == -1)
		return -1;
	if ((m->listen_fd = net_listen(&m->conf->listen, LISTEN_BACKLOG, err, errlen)) == -1)
		return -1;
	if (master_handoff_socket(m, err, errlen) == -1)
		return -1;
	master_raise_nofile();
	/* Room for two generations at their ceiling, as a reload may need. */
	if (pool_adaptive(m->conf))
		m->nslots = m->conf->max_workers * 2 + 16;
	else
		m->nslots = m->conf->workers * 4 < 16 ? 16 : m->conf->workers * 4;
	if ((m->children = calloc(m->nslots, sizeof(*m->children))) == NULL) {
		snprintf(err, errlen, "calloc: %s", strerror(errno));
		return -1;
	}
	if ((m->shm = shm_create(getpid(), m->nslots, err, errlen)) == NULL)
		return -1;
	if (master_sync_backends(m, m->conf, err, errlen) == -1)
		return -1;
	pool_limits_from(&m->limits, m->conf);
	master_pool_configure(m, m->limits.min, SPAWN_START);
	/* Bound here, as root; served by the metrics process, which keeps no privilege. */
	if (m->conf->metrics_listen.host[0] != '\0' &&
	    (m->metrics_fd = net_listen(&m->conf->metrics_listen, METRICS_BACKLOG, err,
	    errlen)) == -1)
		return -1;
	/* The bound ports: with port 0 in the config, the kernel's pick. */
	net_addr_port_str(&m->conf->listen, net_bound_port(m->listen_fd), addr, sizeof(addr));
	if (m->metrics_fd == -1)
		snprintf(maddr, sizeof(maddr), "off");
	else
		net_addr_port_str(&m->conf->metrics_listen, net_bound_port(m->metrics_fd),
		    maddr, sizeof(maddr));
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		rl.rlim_cur = 0;
	log_notice("event=start version=%s listen=%s metrics_listen=%s workers=%u "
	    "max_workers=%u backends=%zu pid=%ld nofile=%llu%s", PACKAGE_VERSION, addr,
	    maddr, m->target, m->limits.max, m->conf->nbackends, (long)getpid(),
	    (unsigned long long)rl.rlim_cur, foreground ? " foreground=1" : "");
	return 0;
}

static void
master_teardown(struct master *m)
{
	if (m->listen_fd != -1)
		close(m->listen_fd);
	if (m->handoff[0] != -1)
		close(m->handoff[0]);
	if (m->handoff[1] != -1)
		close(m->handoff[1]);
	if (m->metrics_fd != -1)
		close(m->metrics_fd);
	if (m->shm != NULL)
		shm_destroy(m->shm, getpid());
	pidfile_remove(m->conf->pidfile, m->pidfile_fd);
	free(m->children);
}

/* Its /proc/PID/fd is root's: the metrics process reads the count from the header. */
static void
master_publish_fds(struct master *m, int64_t now)
{
	long	fds;

	if (now < m->fds_at || (fds = proc_fd_count(getpid())) < 0)
		return;
	atomic_store(&m->shm->hdr.master_fds, (uint32_t)fds);
	m->fds_at = now + FDS_PUBLISH_NS;
}

/* Act on the signals that came, in a fixed order. */
static void
master_handle_signals(struct master *m)
{
	if (sig_child) {
		sig_child = 0;
		master_reap(m);
	}
	if (sig_stop) {
		sig_stop = 0;
		master_begin_stop(m);
	}
	if (sig_reload) {
		sig_reload = 0;
		if (!m->stopping)
			master_reload(m);
	}
	if (sig_reopen) {
		sig_reopen = 0;
		log_reopen();
		master_signal_children(m, SIGUSR1, CHILDREN_ALL);
		log_notice("event=reopen_logs");
	}
}

/* Which of the current generation's workers wait, and how many connections wait. */
static void
master_pool_view(const struct master *m, struct pool_view *v)
{
	const struct child	*c;
	unsigned		 i;
	uint32_t		 st;

	memset(v, 0, sizeof(*v));
	for (i = 0; i < m->nslots; i++) {
		c = &m->children[i];
		if (c->pid == 0 || c->role != ROLE_WORKER || !child_in(m, c, CHILDREN_CURRENT))
			continue;
		v->workers++;
		/* A starting worker is about to wait: counting it busy would overshoot. */
		st = atomic_load(&m->shm->slots[i].state);
		if (st == SLOT_IDLE || st == SLOT_STARTING)
			v->idle++;
	}
	v->waiting = shm_handoffs_waiting(m->shm);
}

/*
 * Tell up to n idle workers of the current generation to stop. SIGQUIT only
 * interrupts a worker's wait for a connection: one that took a connection
 * meanwhile serves it first, so no request is lost.
 */
static unsigned
master_retire_idle(struct master *m, unsigned n)
{
	struct child	*c;
	unsigned	 i, done = 0;

	for (i = 0; i < m->nslots && done < n; i++) {
		c = &m->children[i];
		if (c->pid == 0 || c->role != ROLE_WORKER ||
		    !child_in(m, c, CHILDREN_CURRENT) ||
		    atomic_load(&m->shm->slots[i].state) != SLOT_IDLE)
			continue;
		if (kill(c->pid, SIGQUIT) == -1) {
			log_warn("event=pool_retire pid=%ld", (long)c->pid);
			continue;
		}
		c->retiring = 1;
		atomic_fetch_add(&m->shm->hdr.retires[RETIRE_IDLE], 1);
		done++;
	}
	return done;
}

/* One sizing tick of the adaptive pool; one log line per POOL_LOG_NS at most. */
static void
master_pool_tick(struct master *m, int64_t now)
{
	struct pool_view	v;
	struct pool_step	step;

	master_pool_view(m, &v);
	pool_decide(&m->limits, &m->pool, &v, now, &step);
	if (step.retire > 0)
		step.retire = master_retire_idle(m, step.retire);
	m->target = v.workers + step.spawn - step.retire;
	m->spawn_reason = SPAWN_GROW;
	m->grown += step.spawn;
	m->shrunk += step.retire;
	atomic_store(&m->shm->hdr.pool_target, m->target);
	if ((m->grown > 0 || m->shrunk > 0) && now >= m->pool_log_at) {
		log_info("event=pool_resize grew=%u shrank=%u workers=%u idle=%u "
		    "waiting=%u target=%u min=%u max=%u", m->grown, m->shrunk, v.workers,
		    v.idle, v.waiting, m->target, m->limits.min, m->limits.max);
		m->grown = m->shrunk = 0;
		m->pool_log_at = now + POOL_LOG_NS;
	}
}

/*
 * After each wake-up: stopping, wait for the children and kill them at the
 * deadline (1 when all are gone); otherwise rotate logs and refill.
 */
static int
master_tick(struct master *m, int64_t now)
{
	master_publish_fds(m, now);
	if (m->stopping) {
		if (master_count_all(m) == 0)
			return 1;
		/* The others are gone: the metrics process has nothing more to show. */
		if (master_count_all(m) == master_count(m, ROLE_METRICS, CHILDREN_ALL))
			master_signal_children(m, SIGTERM, CHILDREN_ALL);
		if (now >= m->stop_deadline) {
			log_warnx("event=shutdown phase=timeout killing=%u", master_count_all(m));
			master_signal_children(m, SIGKILL, CHILDREN_ALL);
			m->stop_deadline = now + 1000 * NS_PER_MS;
		}
		return 0;
	}
	if (log_rotate(m->conf->log_max_size, m->conf->log_keep))
		master_signal_children(m, SIGUSR1, CHILDREN_ALL);
	/* Respawn the dead, or fill in for old children a reload retired. */
	if (m->respawn_at != 0 && now < m->respawn_at)
		return 0;
	m->respawn_at = 0;
	if (m->pool_next != 0 && now >= m->pool_next) {
		m->pool_next = now + POOL_TICK_NS;
		master_pool_tick(m, now);
	}
	if (!master_filled(m))
		master_fill(m, FORK_BATCH);
	return 0;
}

/* The one place the master waits, and the only place signals get in. */
static void
master_wait(struct master *m, const sigset_t *wait_mask)
{
	struct timespec	ts;
	int64_t		now = clock_now_ns(), wake = now + 1000 * NS_PER_MS;

	if (m->respawn_at != 0 && m->respawn_at < wake)
		wake = m->respawn_at;
	if (m->pool_next != 0 && m->pool_next < wake)
		wake = m->pool_next;
	if (m->stopping && m->stop_deadline < wake)
		wake = m->stop_deadline;
	/* More to fork: look at signals, then go on at once. */
	if (m->fill_more && !m->stopping && m->respawn_at == 0)
		wake = now;
	wake = wake > now ? wake - now : 0;
	ts.tv_sec = wake / 1000000000LL;
	ts.tv_nsec = wake % 1000000000LL;
	if (ppoll(NULL, 0, &ts, wait_mask) == -1 && errno != EINTR)
		log_warn("event=master_ppoll");
}

int
master_run(struct rp_config *conf, const struct proc_table *procs, int foreground,
    int ready_fd)
{
	struct master	 m;
	sigset_t	 wait_mask;
	char		 err[1024];

	memset(&m, 0, sizeof(m));
	m.conf = conf;
	m.procs = procs;
	m.foreground = foreground;
	m.listen_fd = m.metrics_fd = -1;
	m.handoff[0] = m.handoff[1] = -1;
	master_signals(&wait_mask);
	if (master_setup(&m, foreground, err, sizeof(err)) == -1) {
		log_err("%s", err);
		if (!foreground)
			fprintf(stderr, "rproxyd: %s\n", err);
		master_teardown(&m);
		free(m.conf);
		return 1;
	}
	master_publish_fds(&m, clock_now_ns());
	/* The first fill whole: ready is reported with every worker forked. */
	master_fill(&m, UINT_MAX);
	if (ready_fd != -1) {
		/* The daemonizing parent exits 0 on this byte, 1 on EOF without it. */
		if (write(ready_fd, "1", 1) != 1)
			log_warn("event=ready_pipe_write");
		close(ready_fd);
		master_detach_stderr();
	}
	do {
		master_wait(&m, &wait_mask);
		master_handle_signals(&m);
	} while (!master_tick(&m, clock_now_ns()));
	log_notice("event=shutdown phase=done status=%d", m.exit_status);
	master_teardown(&m);
	free(m.conf);
	return m.exit_status;
}
