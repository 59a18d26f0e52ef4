/* shm.h: the shared-memory region: backend table, round-robin cursor, worker slots. */
#ifndef RP_SHM_H
#define RP_SHM_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "histogram.h"

#define SHM_MAGIC	0x52505859u	/* "RPXY" */
#define SHM_VERSION	4u
#define SHM_CACHELINE	64

/*
 * The region is pointer-free (offsets and indexes only) so any process may map
 * it anywhere, including `rproxyd -s status` read-only. The master writes the
 * header and backend names; each worker writes only its own slot plus the
 * health words of the backend table, always with atomics and never holding a
 * lock across a blocking call, so a worker killed at any instant leaves
 * nothing half-locked.
 */

enum backend_state {
	BACKEND_HEALTHY = 0,
	BACKEND_UNHEALTHY = 1,
};

enum fail_reason {
	FAIL_CONNECT = 0,	/* refused, unreachable */
	FAIL_CONNECT_TIMEOUT,
	FAIL_TIMEOUT,		/* no response head within request_timeout, or read_timeout */
	FAIL_RESET,		/* reset or EOF before a complete response head */
	FAIL_BAD_RESPONSE,	/* unparseable response */
	FAIL__COUNT
};

/* Response codes kept exactly; any other code counts under its class ("2xx"). */
#define SHM_NCODES	32

enum slot_state {
	SLOT_FREE = 0,		/* no process */
	SLOT_IDLE,		/* worker waiting for a ready connection */
	SLOT_BUSY,		/* worker serving a connection */
	SLOT_DRAINING,		/* worker out of the accept loop: stopping or retired */
	SLOT_KEEPER,		/* the keeper (not a worker) */
	SLOT_METRICS,		/* the metrics process (not a worker) */
	SLOT_STARTING,		/* worker forked, not yet waiting for connections */
	SLOT_NSTATES
};

/* One backend's health, shared by all workers. Own cache line: workers write it. */
struct shm_backend {
	char			name[RP_NAME_MAX];	/* master-written; "" when unused */
	char			url[RP_HOST_MAX];
	_Atomic uint32_t	in_use;			/* in the current configuration */
	_Atomic uint32_t	state;			/* enum backend_state */
	_Atomic uint32_t	failures;		/* consecutive failures */
	_Atomic int64_t		cooldown_until;		/* CLOCK_MONOTONIC ns; 0 when healthy */
	_Atomic int64_t		probe_until;		/* half-open probe lease, ns */
} __attribute__((aligned(SHM_CACHELINE)));

/* One backend's counters inside one worker slot. */
struct slot_backend {
	_Atomic uint64_t	responses[SHM_NCODES];	/* by backend response code */
	_Atomic uint64_t	failures[FAIL__COUNT];
	_Atomic uint64_t	retries;		/* attempts retried away from it */
	_Atomic uint64_t	state_changes[2];	/* to healthy, to unhealthy */
	_Atomic uint64_t	bytes_out;		/* response body bytes from it */
	_Atomic int64_t		inflight;		/* gauge */
	struct histogram	latency;		/* one attempt, to the response head */
};

/* A worker's scoreboard slot: only that worker writes it while it lives. */
struct slot {
	_Atomic int32_t		pid;
	_Atomic uint32_t	state;			/* enum slot_state */
	_Atomic uint32_t	generation;		/* configuration generation it runs */
	_Atomic uint64_t	connections;		/* accepted (by the keeper) */
	_Atomic uint64_t	handoffs_to_worker;	/* ready connections the keeper passed on */
	_Atomic uint64_t	handoffs_to_keeper;	/* connections a worker parked */
	_Atomic uint64_t	handoffs_taken;		/* ready connections a worker took */
	_Atomic uint64_t	accept_fd_limit;	/* accepting paused: out of descriptors */
	_Atomic int64_t		held;			/* gauge: connections the keeper holds */
	_Atomic uint64_t	client_responses[SHM_NCODES];
	_Atomic uint64_t	bytes_in;		/* request bytes from clients */
	_Atomic uint64_t	bytes_out;		/* response bytes to clients */
	struct histogram	latency;		/* whole request as the client saw it */
	struct slot_backend	be[RP_MAX_BACKENDS];
} __attribute__((aligned(SHM_CACHELINE)));

/* Workers as the pool sees them (metrics and status), from slot states. */
enum worker_state {
	WORKER_IDLE = 0,	/* current generation, waiting for a connection */
	WORKER_BUSY,		/* serving a request */
	WORKER_STARTING,	/* forked, not yet waiting */
	WORKER_RETIRING,	/* leaving: out of its loop, or idle of an older generation */
	WORKER__COUNT
};

/* Why the master started a worker. */
enum spawn_reason {
	SPAWN_START = 0,	/* the pool's first fill */
	SPAWN_GROW,		/* the adaptive pool grew with the load */
	SPAWN_RESPAWN,		/* one died unexpectedly */
	SPAWN_RELOAD,		/* a new generation */
	SPAWN__COUNT
};

/* Why the master told a worker to stop. */
enum retire_reason {
	RETIRE_IDLE = 0,	/* the adaptive pool shrank: too many idle */
	RETIRE_RELOAD,		/* an older generation */
	RETIRE__COUNT
};

struct shm_header {
	uint32_t		magic;
	uint32_t		version;
	uint64_t		size;			/* of the whole region */
	uint32_t		nslots;
	uint32_t		nbackends_max;
	_Atomic uint32_t	ready;			/* set last, once filled */
	_Atomic uint32_t	generation;		/* bumped by each reload */
	_Atomic int32_t		master_pid;
	_Atomic uint32_t	oldest_generation;	/* no live worker is older */
	_Atomic uint64_t	start_time;		/* unix seconds */
	_Atomic uint64_t	worker_restarts;
	_Atomic uint64_t	keeper_restarts;
	_Atomic uint64_t	metrics_restarts;
	_Atomic uint64_t	reloads_ok;
	_Atomic uint64_t	reloads_failed;
	/*
	 * Odd while the master changes what readers sum: a reap and its fold,
	 * or the backend table on reload (see shm_fold_begin()).
	 */
	_Atomic uint32_t	fold_seq;
	_Atomic uint32_t	master_fds;		/* the master's open descriptors */
	/* The worker pool, master-written. */
	_Atomic uint32_t	pool_adaptive;		/* 0: fixed workers */
	_Atomic uint32_t	pool_target;		/* workers it wants now */
	_Atomic uint32_t	pool_min;
	_Atomic uint32_t	pool_max;
	_Atomic uint64_t	spawns[SPAWN__COUNT];
	_Atomic uint64_t	retires[RETIRE__COUNT];
};

struct shm_region {
	struct shm_header	hdr;
	/* The one word every worker writes: alone on its cache line. */
	_Atomic uint64_t	rr_cursor __attribute__((aligned(SHM_CACHELINE)));
	char			rr_pad[SHM_CACHELINE - sizeof(uint64_t)];
	struct shm_backend	backends[RP_MAX_BACKENDS];
	struct slot		retired;		/* dead workers' counters, folded */
	struct slot		slots[];		/* hdr.nslots of them */
};

/* Name of the region of the master with this pid ("/rproxyd.1234"). */
void	shm_name(char *buf, size_t len, pid_t master_pid);

size_t	shm_size(unsigned nslots);

/*
 * Master: create, size, zero and publish the region, mode 0600, after
 * shm_clean_stale(). Return NULL with err set.
 */
struct shm_region *shm_create(pid_t master_pid, unsigned nslots, char *err, size_t errlen);

/*
 * Remove the regions of this user's masters that are gone: their pid runs no
 * more, or (for a region older than 10 s) runs a process that does not map
 * it, a recycled pid. Returns how many were removed.
 */
unsigned shm_clean_stale(void);

/* Any process: map an existing region read-only and check magic, version and size. */
const struct shm_region *shm_attach_readonly(pid_t master_pid, char *err, size_t errlen);

void	shm_detach(const struct shm_region *r);
void	shm_destroy(struct shm_region *r, pid_t master_pid);

/*
 * Master: fold a dead worker's slot into the retired totals and free the
 * slot. Between shm_fold_begin() and shm_fold_end().
 */
void	shm_slot_fold(struct shm_region *r, struct slot *s);

/*
 * A seqlock over the master's multi-word changes (folds, reaps, the backend
 * table): the master brackets them with begin and end; a reader in another
 * process takes shm_read_begin(), reads, and reads again while
 * shm_read_retry() says a change overlapped. So a scrape never counts a
 * dead worker twice (in its slot and in the retired totals) or not at all.
 */
void	shm_fold_begin(struct shm_region *r);
void	shm_fold_end(struct shm_region *r);
uint32_t shm_read_begin(const struct shm_region *r);
int	shm_read_retry(const struct shm_region *r, uint32_t seq);

/* Sum retired and every live slot into *out (which the caller zeroed). */
void	shm_slot_sum(const struct shm_region *r, struct slot *out);

/* How many slots are in each state: n[SLOT_IDLE] and so on. */
void	shm_slot_states(const struct shm_region *r, unsigned n[SLOT_NSTATES]);

/* How many workers are in each enum worker_state. */
void	shm_worker_states(const struct shm_region *r, unsigned n[WORKER__COUNT]);

/*
 * How many workers serve a request and still live: a slot a SIGKILLed worker
 * left BUSY, with no master to fold it, must not hold up anyone's drain.
 */
unsigned shm_busy_alive(const struct shm_region *r);

/* How many workers of a generation older than this one may still accept(). */
unsigned shm_older_idle(const struct shm_region *r, uint32_t generation);

/*
 * Ready connections the keeper sent that no worker has taken yet: all sent
 * less all taken, dead processes' counts included. Read by the master, which
 * alone folds slots, so neither sum can lose a dead worker's part meanwhile.
 */
unsigned shm_handoffs_waiting(const struct shm_region *r);

/* The same from a sum of the slots (shm_slot_sum()): what another process reads. */
unsigned shm_sum_waiting(const struct slot *sum);

/* Add one slot's counters into another; gauges are added too. */
void	shm_slot_add(struct slot *dst, const struct slot *src);

/* Reset one backend's counters in every slot (index reused after a reload). */
void	shm_backend_reset(struct shm_region *r, size_t idx);

/* Response code <-> counter index. */
size_t	shm_code_index(int code);
const char *shm_code_label(size_t idx);

const char *shm_fail_reason_name(enum fail_reason reason);
const char *shm_worker_state_name(enum worker_state state);
const char *shm_spawn_reason_name(size_t reason);	/* enum spawn_reason */
const char *shm_retire_reason_name(size_t reason);	/* enum retire_reason */

#endif
