/* metrics.c: the Prometheus exposition of the shared-memory counters and process stats. */
#include <sys/types.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "proc.h"

#define MBUF_INITIAL	(64 * 1024)
#define READ_TRIES	200		/* readings a scrape tries before it answers 503 */
#define READ_PAUSE_NS	1000000L	/* while the master folds */

/* A growable output buffer; once an allocation fails it stays failed. */
struct mbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	int	 oom;
};

/* The daemon's processes, summed: the master and every live child. */
struct proc_totals {
	double		cpu_s;
	uint64_t	rss_bytes;
	uint64_t	vsize_bytes;
	uint64_t	open_fds;
};

struct metrics_ctx {
	const struct shm_region	*r;
	struct slot		*sum;		/* retired + live slots, read once */
	struct proc_totals	 proc;
	/* The backend table as of the same reading (a reload may rename an entry). */
	int			 listed[RP_MAX_BACKENDS];
	char			 names[RP_MAX_BACKENDS][RP_NAME_MAX];
	struct mbuf		 b;
	int			 nlabels;	/* labels written in the current sample */
};

static void
mbuf_reserve(struct mbuf *b, size_t more)
{
	size_t	cap;
	char	*p;

	if (b->oom || b->len + more < b->cap)
		return;
	cap = b->cap == 0 ? MBUF_INITIAL : b->cap;
	while (cap <= b->len + more)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = 1;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void
mbuf_write(struct mbuf *b, const char *s, size_t n)
{
	mbuf_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void
mbuf_puts(struct mbuf *b, const char *s)
{
	mbuf_write(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3)))
mbuf_printf(struct mbuf *b, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = 1;
		return;
	}
	mbuf_reserve(b, (size_t)n + 1);
	if (b->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Label values: the exposition format escapes backslash, double quote and newline. */
static void
mbuf_label_value(struct mbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '\\':
			mbuf_write(b, "\\\\", 2);
			break;
		case '"':
			mbuf_write(b, "\\\"", 2);
			break;
		case '\n':
			mbuf_write(b, "\\n", 2);
			break;
		default:
			mbuf_write(b, s, 1);
		}
	}
}

/* One sample: begin (name), any labels, then exactly one value. */
static void
sample_begin(struct metrics_ctx *c, const struct metric_family *f, const char *suffix)
{
	mbuf_puts(&c->b, f->name);
	if (suffix != NULL)
		mbuf_puts(&c->b, suffix);
	c->nlabels = 0;
}

static void
sample_label(struct metrics_ctx *c, const char *key, const char *value)
{
	mbuf_write(&c->b, c->nlabels++ == 0 ? "{" : ",", 1);
	mbuf_puts(&c->b, key);
	mbuf_write(&c->b, "=\"", 2);
	mbuf_label_value(&c->b, value);
	mbuf_write(&c->b, "\"", 1);
}

static void
sample_close_labels(struct metrics_ctx *c)
{
	if (c->nlabels > 0)
		mbuf_write(&c->b, "}", 1);
}

static void
sample_u64(struct metrics_ctx *c, uint64_t v)
{
	sample_close_labels(c);
	mbuf_printf(&c->b, " %" PRIu64 "\n", v);
}

/* A whole sample of a family: one label (or none: key NULL) and its value. */
static void
sample_one(struct metrics_ctx *c, const struct metric_family *f, const char *key,
    const char *value, uint64_t v)
{
	sample_begin(c, f, NULL);
	if (key != NULL)
		sample_label(c, key, value);
	sample_u64(c, v);
}

static void
sample_i64(struct metrics_ctx *c, int64_t v)
{
	sample_close_labels(c);
	mbuf_printf(&c->b, " %" PRId64 "\n", v);
}

static void
sample_double(struct metrics_ctx *c, double v)
{
	sample_close_labels(c);
	mbuf_printf(&c->b, " %.6f\n", v);
}

/* Microseconds as exact decimal seconds: no float rounding in a _sum. */
static void
sample_us_as_seconds(struct metrics_ctx *c, uint64_t us)
{
	sample_close_labels(c);
	mbuf_printf(&c->b, " %" PRIu64 ".%06" PRIu64 "\n", us / 1000000, us % 1000000);
}

static int
backend_listed(const struct metrics_ctx *c, size_t i)
{
	return c->listed[i];
}

static const char *
backend_name(const struct metrics_ctx *c, size_t i)
{
	return c->names[i];
}

/* A histogram's _bucket (cumulative, with +Inf), _sum and _count, one label optional. */
static void
emit_one_histogram(struct metrics_ctx *c, const struct metric_family *f, const char *key,
    const char *value, const struct histogram *h)
{
	uint64_t	cum = 0;
	char		le[32];
	size_t		i;

	for (i = 0; i < HIST_NBUCKETS; i++) {
		cum += counter_get(&h->bucket[i]);
		if (i < HIST_NBUCKETS - 1)
			snprintf(le, sizeof(le), "%g", (double)histogram_bounds_us[i] / 1e6);
		else
			snprintf(le, sizeof(le), "+Inf");
		sample_begin(c, f, "_bucket");
		if (key != NULL)
			sample_label(c, key, value);
		sample_label(c, "le", le);
		sample_u64(c, cum);
	}
	sample_begin(c, f, "_sum");
	if (key != NULL)
		sample_label(c, key, value);
	sample_us_as_seconds(c, counter_get(&h->sum_us));
	/* The count is the +Inf bucket of the same reading, so they always agree. */
	sample_begin(c, f, "_count");
	if (key != NULL)
		sample_label(c, key, value);
	sample_u64(c, cum);
}

static void
emit_requests(struct metrics_ctx *c, const struct metric_family *f)
{
	uint64_t	v;
	size_t		i, k;

	for (i = 0; i < RP_MAX_BACKENDS; i++) {
		if (!backend_listed(c, i))
			continue;
		/* Codes never seen are left out: 32 zero series per backend are noise. */
		for (k = 0; k < SHM_NCODES; k++) {
			if ((v = counter_get(&c->sum->be[i].responses[k])) == 0)
				continue;
			sample_begin(c, f, NULL);
			sample_label(c, "backend", backend_name(c, i));
			sample_label(c, "code", shm_code_label(k));
			sample_u64(c, v);
		}
	}
}

static void
emit_failures(struct metrics_ctx *c, const struct metric_family *f)
{
	size_t	i, k;

	for (i = 0; i < RP_MAX_BACKENDS; i++) {
		if (!backend_listed(c, i))
			continue;
		/* Every reason, zeros included: alerts can rate() a series that exists. */
		for (k = 0; k < FAIL__COUNT; k++) {
			sample_begin(c, f, NULL);
			sample_label(c, "backend", backend_name(c, i));
			sample_label(c, "reason", shm_fail_reason_name((enum fail_reason)k));
			sample_u64(c, counter_get(&c->sum->be[i].failures[k]));
		}
	}
}

/* One sample per listed backend: a single counter of struct slot_backend, by offset. */
static void
emit_backend_counter(struct metrics_ctx *c, const struct metric_family *f, size_t off)
{
	size_t	i;

	for (i = 0; i < RP_MAX_BACKENDS; i++) {
		if (!backend_listed(c, i))
			continue;
		sample_begin(c, f, NULL);
		sample_label(c, "backend", backend_name(c, i));
		sample_u64(c, counter_get((const _Atomic uint64_t *)
		    ((const char *)&c->sum->be[i] + off)));
	}
}

static void
emit_retries(struct metrics_ctx *c, const struct metric_family *f)
{
	emit_backend_counter(c, f, offsetof(struct slot_backend, retries));
}

static void
emit_backend_latency(struct metrics_ctx *c, const struct metric_family *f)
{
	size_t	i;

	for (i = 0; i < RP_MAX_BACKENDS; i++)
		if (backend_listed(c, i))
			emit_one_histogram(c, f, "backend", backend_name(c, i),
			    &c->sum->be[i].latency);
}

static void
emit_backend_bytes(struct metrics_ctx *c, const struct metric_family *f)
{
	emit_backend_counter(c, f, offsetof(struct slot_backend, bytes_out));
}

static void
emit_healthy(struct metrics_ctx *c, const struct metric_family *f)
{
	size_t	i;

	for (i = 0; i < RP_MAX_BACKENDS; i++) {
		if (!backend_listed(c, i))
			continue;
		sample_one(c, f, "backend", backend_name(c, i),
		    atomic_load(&c->r->backends[i].state) == BACKEND_HEALTHY);
	}
}

static void
emit_inflight(struct metrics_ctx *c, const struct metric_family *f)
{
	int64_t	v;
	size_t	i;

	for (i = 0; i < RP_MAX_BACKENDS; i++) {
		if (!backend_listed(c, i))
			continue;
		v = atomic_load_explicit(&c->sum->be[i].inflight, memory_order_relaxed);
		sample_begin(c, f, NULL);
		sample_label(c, "backend", backend_name(c, i));
		sample_i64(c, v < 0 ? 0 : v);
	}
}

static void
emit_state_changes(struct metrics_ctx *c, const struct metric_family *f)
{
	/* slot_backend.state_changes[]: index 0 counts to healthy, 1 to unhealthy. */
	static const char *const to[2] = { "healthy", "unhealthy" };
	size_t			 i, k;

	for (i = 0; i < RP_MAX_BACKENDS; i++) {
		if (!backend_listed(c, i))
			continue;
		for (k = 0; k < 2; k++) {
			sample_begin(c, f, NULL);
			sample_label(c, "backend", backend_name(c, i));
			sample_label(c, "to", to[k]);
			sample_u64(c, counter_get(&c->sum->be[i].state_changes[k]));
		}
	}
}

static void
emit_latency(struct metrics_ctx *c, const struct metric_family *f)
{
	emit_one_histogram(c, f, NULL, NULL, &c->sum->latency);
}

static void
emit_client_responses(struct metrics_ctx *c, const struct metric_family *f)
{
	uint64_t	v;
	size_t		k;

	for (k = 0; k < SHM_NCODES; k++) {
		if ((v = counter_get(&c->sum->client_responses[k])) == 0)
			continue;
		sample_one(c, f, "code", shm_code_label(k), v);
	}
}

static void
emit_connections(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, counter_get(&c->sum->connections));
}

static void
emit_client_bytes(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, "direction", "in", counter_get(&c->sum->bytes_in));
	sample_one(c, f, "direction", "out", counter_get(&c->sum->bytes_out));
}

static void
emit_workers(struct metrics_ctx *c, const struct metric_family *f)
{
	unsigned	n[WORKER__COUNT];
	size_t		k;

	shm_worker_states(c->r, n);
	for (k = 0; k < WORKER__COUNT; k++) {
		sample_one(c, f, "state", shm_worker_state_name((enum worker_state)k), n[k]);
	}
}

/* One sample per reason of a header counter array, zeros included. */
static void
emit_reasons(struct metrics_ctx *c, const struct metric_family *f,
    const _Atomic uint64_t *v, size_t n, const char *(*name)(size_t))
{
	size_t	k;

	for (k = 0; k < n; k++) {
		sample_one(c, f, "reason", name(k), atomic_load(&v[k]));
	}
}

static void
emit_worker_spawns(struct metrics_ctx *c, const struct metric_family *f)
{
	emit_reasons(c, f, c->r->hdr.spawns, SPAWN__COUNT, shm_spawn_reason_name);
}

static void
emit_worker_retirements(struct metrics_ctx *c, const struct metric_family *f)
{
	emit_reasons(c, f, c->r->hdr.retires, RETIRE__COUNT, shm_retire_reason_name);
}

static void
emit_pool_target(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, atomic_load(&c->r->hdr.pool_target));
}

static void
emit_pool_limits(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, "bound", "min", atomic_load(&c->r->hdr.pool_min));
	sample_one(c, f, "bound", "max", atomic_load(&c->r->hdr.pool_max));
}

static void
emit_handoffs_waiting(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, shm_sum_waiting(c->sum));
}

static void
emit_open_connections(struct metrics_ctx *c, const struct metric_family *f)
{
	unsigned	n[SLOT_NSTATES];

	/* A busy worker holds one connection; the keeper counts what it holds. */
	shm_slot_states(c->r, n);
	sample_one(c, f, "state", "waiting", (uint64_t)atomic_load(&c->sum->held));
	sample_one(c, f, "state", "active", n[SLOT_BUSY]);
}

static void
emit_handoffs(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, "to", "worker", counter_get(&c->sum->handoffs_to_worker));
	sample_one(c, f, "to", "keeper", counter_get(&c->sum->handoffs_to_keeper));
}

static void
emit_accept_fd_limit(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, counter_get(&c->sum->accept_fd_limit));
}

static void
emit_keeper_restarts(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, atomic_load(&c->r->hdr.keeper_restarts));
}

static void
emit_metrics_restarts(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, atomic_load(&c->r->hdr.metrics_restarts));
}

static void
emit_worker_restarts(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, atomic_load(&c->r->hdr.worker_restarts));
}

static void
emit_reloads(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, "result", "success", atomic_load(&c->r->hdr.reloads_ok));
	sample_one(c, f, "result", "failure", atomic_load(&c->r->hdr.reloads_failed));
}

static void
emit_build_info(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, "version", PACKAGE_VERSION, 1);
}

static void
emit_cpu(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_begin(c, f, NULL);
	sample_double(c, c->proc.cpu_s);
}

static void
emit_rss(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, c->proc.rss_bytes);
}

static void
emit_vsize(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, c->proc.vsize_bytes);
}

static void
emit_open_fds(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, c->proc.open_fds);
}

static void
emit_max_fds(struct metrics_ctx *c, const struct metric_family *f)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	sample_begin(c, f, NULL);
	if (rl.rlim_cur == RLIM_INFINITY) {
		sample_close_labels(c);
		mbuf_puts(&c->b, " +Inf\n");
	} else
		sample_u64(c, (uint64_t)rl.rlim_cur);
}

static void
emit_start_time(struct metrics_ctx *c, const struct metric_family *f)
{
	sample_one(c, f, NULL, NULL, atomic_load(&c->r->hdr.start_time));
}

const struct metric_family metric_families[] = {
	{ "rproxyd_requests_total", METRIC_COUNTER, "backend,code",
	    "Responses received from each backend, by status code (exact for common "
	    "codes, else the class such as 5xx).", emit_requests },
	{ "rproxyd_backend_failures_total", METRIC_COUNTER, "backend,reason",
	    "Failed attempts on each backend, by reason: connect, connect_timeout, "
	    "timeout, reset, bad_response.", emit_failures },
	{ "rproxyd_retries_total", METRIC_COUNTER, "backend",
	    "Requests retried on another backend after an attempt on this one failed.",
	    emit_retries },
	{ "rproxyd_backend_request_duration_seconds", METRIC_HISTOGRAM, "backend",
	    "Time of one attempt on a backend, from its start to the response head.",
	    emit_backend_latency },
	{ "rproxyd_backend_response_bytes_total", METRIC_COUNTER, "backend",
	    "Response body bytes received from each backend.", emit_backend_bytes },
	{ "rproxyd_backend_healthy", METRIC_GAUGE, "backend",
	    "Whether the backend is in rotation (1) or in cooldown after failures (0).",
	    emit_healthy },
	{ "rproxyd_backend_inflight", METRIC_GAUGE, "backend",
	    "Attempts now in progress on each backend.", emit_inflight },
	{ "rproxyd_backend_state_changes_total", METRIC_COUNTER, "backend,to",
	    "Health state changes of each backend, by the state entered.",
	    emit_state_changes },
	{ "rproxyd_request_duration_seconds", METRIC_HISTOGRAM, "",
	    "Time of whole requests as the client saw them, retries included.",
	    emit_latency },
	{ "rproxyd_client_responses_total", METRIC_COUNTER, "code",
	    "Responses sent to clients, by status code (exact for common codes, else "
	    "the class such as 5xx).", emit_client_responses },
	{ "rproxyd_connections_total", METRIC_COUNTER, "",
	    "Client connections accepted.", emit_connections },
	{ "rproxyd_client_bytes_total", METRIC_COUNTER, "direction",
	    "Request body bytes received from clients (in) and response bytes, heads "
	    "included, sent to them (out).", emit_client_bytes },
	{ "rproxyd_workers", METRIC_GAUGE, "state",
	    "Worker processes waiting for a request (idle), serving one (busy), "
	    "forked and not yet waiting (starting), or leaving after a reload, a "
	    "shrink of the pool or a stop (retiring).", emit_workers },
	{ "rproxyd_workers_target", METRIC_GAUGE, "",
	    "Workers the pool wants in the current generation: workers when fixed, "
	    "else the adaptive pool's size after its last sizing tick.",
	    emit_pool_target },
	{ "rproxyd_workers_limit", METRIC_GAUGE, "bound",
	    "The pool's bounds: min_workers and max_workers (both workers when "
	    "fixed).", emit_pool_limits },
	{ "rproxyd_worker_spawns_total", METRIC_COUNTER, "reason",
	    "Workers started, by reason: start (the first fill), grow (the adaptive "
	    "pool grew), respawn (one died unexpectedly), reload (a new "
	    "generation).", emit_worker_spawns },
	{ "rproxyd_worker_retirements_total", METRIC_COUNTER, "reason",
	    "Workers told to stop gracefully, by reason: idle (the adaptive pool "
	    "shrank) or reload (an older generation).", emit_worker_retirements },
	{ "rproxyd_connections_waiting_for_worker", METRIC_GAUGE, "",
	    "Connections with a complete request head that the keeper has passed on "
	    "and no worker has taken yet.", emit_handoffs_waiting },
	{ "rproxyd_worker_restarts_total", METRIC_COUNTER, "",
	    "Workers respawned after dying unexpectedly.", emit_worker_restarts },
	{ "rproxyd_open_connections", METRIC_GAUGE, "state",
	    "Client connections open: waiting in the keeper (idle, or a head not yet "
	    "complete) or active in a worker.", emit_open_connections },
	{ "rproxyd_handoffs_total", METRIC_COUNTER, "to",
	    "Connections passed from the keeper to a worker (request ready) and from a "
	    "worker to the keeper (waiting for the next request).", emit_handoffs },
	{ "rproxyd_accept_paused_total", METRIC_COUNTER, "",
	    "Times the keeper stopped accepting for a moment because it was out of file "
	    "descriptors; new connections waited in the listen queue.",
	    emit_accept_fd_limit },
	{ "rproxyd_keeper_restarts_total", METRIC_COUNTER, "",
	    "Keepers respawned after dying unexpectedly.", emit_keeper_restarts },
	{ "rproxyd_metrics_restarts_total", METRIC_COUNTER, "",
	    "Metrics processes (the one serving this page) respawned after dying "
	    "unexpectedly.", emit_metrics_restarts },
	{ "rproxyd_config_reloads_total", METRIC_COUNTER, "result",
	    "Configuration reloads (SIGHUP), by result.", emit_reloads },
	{ "rproxyd_build_info", METRIC_GAUGE, "version",
	    "Always 1; the version label names the running build.", emit_build_info },
	{ "process_cpu_seconds_total", METRIC_COUNTER, "",
	    "Total user and system CPU time in seconds of the whole daemon: the master, "
	    "every live child (keeper, metrics process, workers) and every child already "
	    "reaped.", emit_cpu },
	{ "process_resident_memory_bytes", METRIC_GAUGE, "",
	    "Resident memory size in bytes, summed over the master and every live child "
	    "(shared pages count once per process).", emit_rss },
	{ "process_virtual_memory_bytes", METRIC_GAUGE, "",
	    "Virtual memory size in bytes, summed over the master and every live child.",
	    emit_vsize },
	{ "process_open_fds", METRIC_GAUGE, "",
	    "Open file descriptors, summed over the master and every live child.",
	    emit_open_fds },
	{ "process_max_fds", METRIC_GAUGE, "",
	    "Maximum number of open file descriptors of one process (the master's limit, "
	    "which its children inherit).", emit_max_fds },
	{ "process_start_time_seconds", METRIC_GAUGE, "",
	    "Start time of the master process since the Unix epoch in seconds.",
	    emit_start_time },
	{ NULL, METRIC_GAUGE, NULL, NULL, NULL },
};

const char *
metric_type_name(enum metric_type type)
{
	switch (type) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

/* Read a small /proc file whole into buf (NUL-terminated). -1 when it is gone. */
static int
proc_read_file(const char *path, char *buf, size_t len)
{
	ssize_t	n;
	size_t	got = 0;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (got < len - 1) {
		n = read(fd, buf + got, len - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return got > 0 ? 0 : -1;
}

/*
 * Add one process's CPU and memory to t, from /proc/PID/stat, which any user
 * may read. For the master, add its reaped children's CPU too (cutime,
 * cstime): a dead child's seconds move there when it is reaped, inside a
 * fold (see metrics_read()), so the total never goes backwards.
 */
static void
proc_add_stat(struct proc_totals *t, pid_t pid, int with_children)
{
	static long		 ticks, page;
	unsigned long long	 f[25];		/* f[n] is field n of stat(5) */
	char			 path[64], buf[2048], *p, *end;
	size_t			 n;

	if (ticks == 0 && (ticks = sysconf(_SC_CLK_TCK)) <= 0)
		ticks = 100;
	if (page == 0 && (page = sysconf(_SC_PAGESIZE)) <= 0)
		page = 4096;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	/* The command name may hold spaces and ')': fields start after the last ')'. */
	if (proc_read_file(path, buf, sizeof(buf)) == -1 || (p = strrchr(buf, ')')) == NULL)
		return;
	memset(f, 0, sizeof(f));
	/* Field 3 is the state letter; numbers follow from field 4 on. */
	p++;
	p += strspn(p, " ");
	p += strcspn(p, " ");
	for (n = 4; n < sizeof(f) / sizeof(f[0]); n++) {
		f[n] = strtoull(p, &end, 10);
		if (end == p)
			break;
		p = end;
	}
	/* 14 utime, 15 stime, 16 cutime, 17 cstime (ticks); 23 vsize; 24 rss (pages). */
	t->cpu_s += (double)(f[14] + f[15]) / (double)ticks;
	if (with_children)
		t->cpu_s += (double)(f[16] + f[17]) / (double)ticks;
	t->vsize_bytes += f[23];
	t->rss_bytes += f[24] * (unsigned long long)page;
}

/*
 * The master, then every child with a slot (keeper, metrics process,
 * workers). The root master's /proc/PID/fd is no other user's to read: it
 * publishes its own count. The children, of this process's user, stay
 * dumpable, so theirs can be counted here.
 */
static void
proc_collect(const struct shm_region *r, struct proc_totals *t)
{
	pid_t		pid;
	uint32_t	i;
	long		fds;

	memset(t, 0, sizeof(*t));
	proc_add_stat(t, (pid_t)atomic_load(&r->hdr.master_pid), 1);
	t->open_fds += atomic_load(&r->hdr.master_fds);
	for (i = 0; i < r->hdr.nslots; i++) {
		if (atomic_load(&r->slots[i].state) == SLOT_FREE ||
		    (pid = (pid_t)atomic_load(&r->slots[i].pid)) <= 0)
			continue;
		proc_add_stat(t, pid, 0);
		if ((fds = proc_fd_count(pid)) > 0)
			t->open_fds += (uint64_t)fds;
	}
}

/*
 * Everything a fold changes, read between two folds: the slots' sums, the
 * processes' figures and the backend table. -1 when the master folded
 * through every try.
 */
static int
metrics_read(const struct shm_region *r, struct metrics_ctx *c)
{
	const struct timespec	pause = { 0, READ_PAUSE_NS };
	uint32_t		seq;
	size_t			i;
	int			tries;

	for (tries = 0; tries < READ_TRIES; tries++) {
		if ((seq = shm_read_begin(r)) & 1) {
			nanosleep(&pause, NULL);
			continue;
		}
		memset(c->sum, 0, sizeof(*c->sum));
		shm_slot_sum(r, c->sum);
		proc_collect(r, &c->proc);
		for (i = 0; i < RP_MAX_BACKENDS; i++) {
			c->listed[i] = atomic_load(&r->backends[i].in_use) != 0;
			memcpy(c->names[i], r->backends[i].name, RP_NAME_MAX);
			c->names[i][RP_NAME_MAX - 1] = '\0';
		}
		if (!shm_read_retry(r, seq))
			return 0;
	}
	return -1;
}

enum metrics_result
metrics_render(const struct shm_region *r, char **out, size_t *outlen)
{
	const struct metric_family	*f;
	struct metrics_ctx		 c;

	memset(&c, 0, sizeof(c));
	c.r = r;
	/* Calloc'd: a struct slot is tens of KiB. */
	if ((c.sum = calloc(1, sizeof(*c.sum))) == NULL)
		return METRICS_NOMEM;
	if (metrics_read(r, &c) == -1) {
		free(c.sum);
		return METRICS_BUSY;
	}
	for (f = metric_families; f->name != NULL; f++) {
		mbuf_printf(&c.b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name,
		    metric_type_name(f->type));
		f->emit(&c, f);
	}
	free(c.sum);
	if (c.b.oom) {
		free(c.b.p);
		return METRICS_NOMEM;
	}
	*out = c.b.p;
	*outlen = c.b.len;
	return METRICS_OK;
}
