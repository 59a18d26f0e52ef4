/* status.c: `rproxyd -s status`: the running daemon's backends, read from shared memory. */
#include <stdint.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "pidfile.h"
#include "shm.h"
#include "status.h"

#define STATUS_READ_TRIES	100	/* readings while the master folds, then the last one */

static uint64_t
sum_codes(const struct slot_backend *b)
{
	uint64_t	n = 0;
	size_t		i;

	for (i = 0; i < SHM_NCODES; i++)
		n += counter_get(&b->responses[i]);
	return n;
}

static uint64_t
sum_failures(const struct slot_backend *b)
{
	uint64_t	n = 0;
	size_t		i;

	for (i = 0; i < FAIL__COUNT; i++)
		n += counter_get(&b->failures[i]);
	return n;
}

/* The keeper of the newest generation (two live for a moment during a reload). */
static long
status_keeper_pid(const struct shm_region *r)
{
	uint32_t	i, gen = 0;
	long		pid = 0;

	for (i = 0; i < r->hdr.nslots; i++)
		if (atomic_load(&r->slots[i].state) == SLOT_KEEPER &&
		    (pid == 0 || atomic_load(&r->slots[i].generation) >= gen)) {
			gen = atomic_load(&r->slots[i].generation);
			pid = (long)atomic_load(&r->slots[i].pid);
		}
	return pid;
}

/*
 * Quantile q as the bucket it falls in: "<=B" with B the bucket's upper bound
 * in ms, ">B" in the open last bucket, "-" before any response. Interpolating
 * inside a bucket made up values nobody saw (a 1001 ms maximum read 2357 ms).
 */
static const char *
status_quantile(const struct histogram *h, double q, char *buf, size_t len)
{
	uint64_t	total, seen = 0, n;
	double		rank;
	size_t		i;

	if ((total = histogram_count(h)) == 0)
		return "-";
	rank = q * (double)total;
	for (i = 0; i < HIST_NBUCKETS - 1; i++) {
		n = counter_get(&h->bucket[i]);
		if (n > 0 && (double)(seen + n) >= rank)
			break;
		seen += n;
	}
	if (i == HIST_NBUCKETS - 1)
		snprintf(buf, len, ">%g", (double)histogram_bounds_us[i - 1] / 1000.0);
	else
		snprintf(buf, len, "<=%g", (double)histogram_bounds_us[i] / 1000.0);
	return buf;
}

/*
 * The slots summed between two of the master's folds, as a scrape reads
 * them; after STATUS_READ_TRIES overlapped tries, as they are.
 */
static void
status_sum(const struct shm_region *r, struct slot *sum)
{
	uint32_t	seq;
	int		tries;

	for (tries = 0; tries < STATUS_READ_TRIES; tries++) {
		seq = shm_read_begin(r);
		memset(sum, 0, sizeof(*sum));
		shm_slot_sum(r, sum);
		if (!shm_read_retry(r, seq))
			return;
		usleep(1000);
	}
}

/* The pool: its kind and bounds, its workers by state, what waits for one. */
static void
status_pool(const struct shm_region *r, const struct slot *sum, FILE *out)
{
	unsigned	n[WORKER__COUNT];
	size_t		k;

	shm_worker_states(r, n);
	if (atomic_load(&r->hdr.pool_adaptive))
		fprintf(out, "pool adaptive %u-%u workers, target %u:",
		    atomic_load(&r->hdr.pool_min), atomic_load(&r->hdr.pool_max),
		    atomic_load(&r->hdr.pool_target));
	else
		fprintf(out, "pool fixed %u workers:", atomic_load(&r->hdr.pool_target));
	for (k = 0; k < WORKER__COUNT; k++)
		fprintf(out, " %u %s%s", n[k], shm_worker_state_name((enum worker_state)k),
		    k + 1 < WORKER__COUNT ? "," : ";");
	fprintf(out, " %u connections wait for a worker\nspawned:", shm_sum_waiting(sum));
	for (k = 0; k < SPAWN__COUNT; k++)
		fprintf(out, " %" PRIu64 " %s", atomic_load(&r->hdr.spawns[k]),
		    shm_spawn_reason_name(k));
	fprintf(out, "; retired:");
	for (k = 0; k < RETIRE__COUNT; k++)
		fprintf(out, " %" PRIu64 " %s", atomic_load(&r->hdr.retires[k]),
		    shm_retire_reason_name(k));
	fputc('\n', out);
}

int
status_print(const struct rp_config *conf, const char *cmd, FILE *out, FILE *err)
{
	const struct shm_region	*r;
	const struct shm_backend *b;
	static struct slot	 sum;	/* large: keep it off the stack */
	char			 msg[1024], p50[32], p99[32];
	int64_t			 now, left;
	pid_t			 pid;
	size_t			 i;

	if (strcmp(cmd, "status") != 0) {
		fprintf(err, "rproxyd: -s %s: unknown command (expected status)\n", cmd);
		return 1;
	}
	if ((pid = pidfile_read(conf->pidfile, msg, sizeof(msg))) == -1 ||
	    (r = shm_attach_readonly(pid, msg, sizeof(msg))) == NULL) {
		fprintf(err, "rproxyd: %s\n", msg);
		return 1;
	}
	status_sum(r, &sum);
	now = clock_now_ns();
	fprintf(out, "rproxyd pid %ld generation %u\n", (long)pid,
	    atomic_load(&r->hdr.generation));
	status_pool(r, &sum, out);
	fprintf(out, "keeper pid %ld: %" PRId64 " connections held, %" PRIu64 " handed to "
	    "workers, %" PRIu64 " parked by them\n", status_keeper_pid(r),
	    atomic_load(&sum.held), counter_get(&sum.handoffs_to_worker),
	    counter_get(&sum.handoffs_to_keeper));
	fprintf(out, "%-16s %-9s %8s %10s %8s %12s %10s %9s %9s\n", "BACKEND", "STATE",
	    "FAILS", "COOLDOWN", "INFLIGHT", "RESPONSES", "FAILURES", "P50_MS", "P99_MS");
	for (i = 0; i < RP_MAX_BACKENDS; i++) {
		b = &r->backends[i];
		if (!atomic_load(&b->in_use))
			continue;
		left = 0;
		if (atomic_load(&b->state) != BACKEND_HEALTHY)
			left = atomic_load(&b->cooldown_until) - now;
		fprintf(out, "%-16s %-9s %8u %9.1fs %8" PRId64 " %12" PRIu64 " %10" PRIu64
		    " %9s %9s\n", b->name,
		    atomic_load(&b->state) == BACKEND_HEALTHY ? "healthy" : "unhealthy",
		    atomic_load(&b->failures), left > 0 ? (double)left / 1e9 : 0.0,
		    atomic_load(&sum.be[i].inflight), sum_codes(&sum.be[i]),
		    sum_failures(&sum.be[i]),
		    status_quantile(&sum.be[i].latency, 0.5, p50, sizeof(p50)),
		    status_quantile(&sum.be[i].latency, 0.99, p99, sizeof(p99)));
	}
	shm_detach(r);
	return 0;
}
