/* check_shm.c: unit tests of the shared-memory region, its worker slots and labels. */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check_util.h"
#include "histogram.h"
#include "shm.h"

/* Our own pid names the region: no real master can have it. */
static char	region_name[64];

static void
setup(void)
{
	shm_name(region_name, sizeof(region_name), getpid());
}

/* A failed assertion must not leave the region behind in /dev/shm. */
static void
teardown(void)
{
	(void)shm_unlink(region_name);
}

static int
all_zero(const void *p, size_t len)
{
	const unsigned char	*c = p;
	size_t			 i;

	for (i = 0; i < len; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

START_TEST(test_name)
{
	char	buf[64];

	shm_name(buf, sizeof(buf), 1234);
	ck_assert_str_eq(buf, "/rproxyd.1234");
}
END_TEST

START_TEST(test_size)
{
	ck_assert_uint_eq(shm_size(0), sizeof(struct shm_region));
	ck_assert_uint_eq(shm_size(1) - shm_size(0), sizeof(struct slot));
	ck_assert_uint_eq(shm_size(8), shm_size(0) + 8 * sizeof(struct slot));
	ck_assert_uint_eq(shm_size(RP_WORKERS_MAX),
	    shm_size(0) + (size_t)RP_WORKERS_MAX * sizeof(struct slot));
	/* Slots and backends each start a cache line: no false sharing. */
	ck_assert_uint_eq(sizeof(struct slot) % SHM_CACHELINE, 0);
	ck_assert_uint_eq(sizeof(struct shm_backend) % SHM_CACHELINE, 0);
	ck_assert_uint_eq(offsetof(struct shm_region, slots) % SHM_CACHELINE, 0);
	ck_assert_uint_eq(offsetof(struct shm_region, rr_cursor) % SHM_CACHELINE, 0);
	ck_assert_uint_eq(offsetof(struct shm_region, backends) -
	    offsetof(struct shm_region, rr_cursor), SHM_CACHELINE);
}
END_TEST

START_TEST(test_create_attach)
{
	struct shm_region	*r;
	const struct shm_region	*ro;
	struct stat		 st;
	char			 err[256] = "";
	time_t			 before = time(NULL), after;
	unsigned		 i;
	int			 fd;

	r = shm_create(getpid(), 4, err, sizeof(err));
	after = time(NULL);
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(r->hdr.magic, SHM_MAGIC);
	ck_assert_uint_eq(r->hdr.version, SHM_VERSION);
	ck_assert_uint_eq(r->hdr.size, shm_size(4));
	ck_assert_uint_eq(r->hdr.nslots, 4);
	ck_assert_uint_eq(r->hdr.nbackends_max, RP_MAX_BACKENDS);
	ck_assert_uint_eq(atomic_load(&r->hdr.ready), 1);
	ck_assert_int_eq(atomic_load(&r->hdr.master_pid), getpid());
	ck_assert_uint_ge(atomic_load(&r->hdr.start_time), (uint64_t)before);
	ck_assert_uint_le(atomic_load(&r->hdr.start_time), (uint64_t)after);
	ck_assert_uint_eq(atomic_load(&r->rr_cursor), 0);
	for (i = 0; i < 4; i++)
		ck_assert_uint_eq(atomic_load(&r->slots[i].state), SLOT_FREE);
	ck_assert(all_zero(&r->retired, sizeof(r->retired)));
	ck_assert(all_zero(r->backends, sizeof(r->backends)));

	/* The object has exactly the region's size, and is the owner's alone. */
	ck_assert_int_ge(fd = shm_open(region_name, O_RDONLY, 0), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, shm_size(4));
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	close(fd);

	/* A reader sees the same region, live. */
	ro = shm_attach_readonly(getpid(), err, sizeof(err));
	ck_assert_msg(ro != NULL, "%s", err);
	ck_assert_ptr_ne(ro, r);
	ck_assert_uint_eq(ro->hdr.nslots, 4);
	ck_assert_uint_eq(ro->hdr.size, shm_size(4));
	atomic_store(&r->slots[3].connections, 42);
	atomic_store(&r->rr_cursor, 7);
	ck_assert_uint_eq(atomic_load(&ro->slots[3].connections), 42);
	ck_assert_uint_eq(atomic_load(&ro->rr_cursor), 7);
	shm_detach(ro);

	shm_destroy(r, getpid());
	ck_assert_int_eq(shm_open(region_name, O_RDONLY, 0), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_eq(shm_attach_readonly(getpid(), err, sizeof(err)), NULL);
	ck_assert_ptr_ne(strstr(err, region_name), NULL);
}
END_TEST

/* A stale region of a recycled pid is replaced, not refused. */
START_TEST(test_create_replaces_stale)
{
	struct shm_region	*r;
	char			 err[256] = "";
	int			 fd;

	ck_assert_int_ge(fd = shm_open(region_name, O_RDWR | O_CREAT | O_EXCL,
	    0600), 0);
	ck_assert_int_eq(ftruncate(fd, 100), 0);
	close(fd);
	r = shm_create(getpid(), 1, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(r->hdr.size, shm_size(1));
	shm_destroy(r, getpid());
}
END_TEST

/* Each way a region can be foreign or unfinished, and the reader refusing it. */
enum tamper { T_MAGIC, T_VERSION, T_READY, T_NSLOTS, T_BACKENDS, T__COUNT };

START_TEST(test_attach_refuses)
{
	struct shm_region	*r;
	const struct shm_region	*ro;
	char			 err[256] = "", want[128];
	uint32_t		 saved;

	r = shm_create(getpid(), 2, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	switch ((enum tamper)_i) {
	case T_MAGIC:
		saved = r->hdr.magic;
		r->hdr.magic = SHM_MAGIC ^ 0x01000000u;
		break;
	case T_VERSION:
		saved = r->hdr.version;
		r->hdr.version = SHM_VERSION + 1;
		break;
	case T_READY:
		saved = atomic_load(&r->hdr.ready);
		atomic_store(&r->hdr.ready, 0);
		break;
	case T_NSLOTS:
		saved = r->hdr.nslots;
		r->hdr.nslots = 3;	/* the size no longer matches */
		break;
	case T_BACKENDS:
	default:
		saved = r->hdr.nbackends_max;
		r->hdr.nbackends_max = RP_MAX_BACKENDS * 2;
		break;
	}
	err[0] = '\0';
	ck_assert_ptr_eq(ro = shm_attach_readonly(getpid(), err, sizeof(err)), NULL);
	snprintf(want, sizeof(want), "%s: not an rproxyd %u region of this build",
	    region_name, SHM_VERSION);
	ck_assert_str_eq(err, want);

	/* Put it back: accepted again, so the refusal was for that field. */
	switch ((enum tamper)_i) {
	case T_MAGIC:
		r->hdr.magic = saved;
		break;
	case T_VERSION:
		r->hdr.version = saved;
		break;
	case T_READY:
		atomic_store(&r->hdr.ready, saved);
		break;
	case T_NSLOTS:
		r->hdr.nslots = saved;
		break;
	case T_BACKENDS:
	default:
		r->hdr.nbackends_max = saved;
		break;
	}
	ck_assert_msg((ro = shm_attach_readonly(getpid(), err, sizeof(err))) != NULL,
	    "%s", err);
	shm_detach(ro);
	shm_destroy(r, getpid());
}
END_TEST

START_TEST(test_attach_too_small)
{
	char	err[256] = "";
	int	fd;

	ck_assert_int_ge(fd = shm_open(region_name, O_RDWR | O_CREAT | O_EXCL,
	    0600), 0);
	ck_assert_int_eq(ftruncate(fd, 64), 0);
	close(fd);
	ck_assert_ptr_eq(shm_attach_readonly(getpid(), err, sizeof(err)), NULL);
	ck_assert_ptr_ne(strstr(err, "too small"), NULL);
}
END_TEST

/* A region in plain memory, for the slot arithmetic. */
static struct shm_region *
region_new(unsigned nslots)
{
	struct shm_region	*r;

	r = aligned_alloc(SHM_CACHELINE, shm_size(nslots));
	ck_assert_ptr_ne(r, NULL);
	memset(r, 0, shm_size(nslots));
	r->hdr.nslots = nslots;
	return r;
}

/* What a busy worker leaves in its slot; k scales every number. */
static void
slot_fill(struct slot *s, int32_t pid, uint64_t k)
{
	atomic_store(&s->pid, pid);
	atomic_store(&s->state, SLOT_BUSY);
	atomic_store(&s->connections, 3 * k);
	atomic_store(&s->client_responses[shm_code_index(200)], 10 * k);
	atomic_store(&s->client_responses[shm_code_index(502)], 1 * k);
	atomic_store(&s->bytes_in, 1000 * k);
	atomic_store(&s->bytes_out, 5000 * k);
	histogram_observe(&s->latency, 700 * k);
	atomic_store(&s->be[1].responses[shm_code_index(200)], 10 * k);
	atomic_store(&s->be[1].failures[FAIL_CONNECT], 2 * k);
	atomic_store(&s->be[1].failures[FAIL_TIMEOUT], 1 * k);
	atomic_store(&s->be[1].retries, 2 * k);
	atomic_store(&s->be[1].state_changes[1], 1 * k);
	atomic_store(&s->be[1].bytes_out, 4000 * k);
	atomic_store(&s->be[1].inflight, (int64_t)(2 * k));
	histogram_observe(&s->be[1].latency, 3000 * k);
	atomic_store(&s->be[RP_MAX_BACKENDS - 1].inflight, 1);
	atomic_store(&s->be[RP_MAX_BACKENDS - 1].retries, 5 * k);
}

static void
slot_total(const struct shm_region *r, struct slot *out)
{
	memset(out, 0, sizeof(*out));
	shm_slot_sum(r, out);
}

/* Counters of the sum: the same before and after any fold. */
static void
assert_counters(const struct slot *t, uint64_t k)
{
	ck_assert_uint_eq(atomic_load(&t->connections), 3 * k);
	ck_assert_uint_eq(atomic_load(&t->client_responses[shm_code_index(200)]),
	    10 * k);
	ck_assert_uint_eq(atomic_load(&t->client_responses[shm_code_index(502)]), k);
	ck_assert_uint_eq(atomic_load(&t->bytes_in), 1000 * k);
	ck_assert_uint_eq(atomic_load(&t->bytes_out), 5000 * k);
	ck_assert_uint_eq(atomic_load(&t->be[1].responses[shm_code_index(200)]),
	    10 * k);
	ck_assert_uint_eq(atomic_load(&t->be[1].failures[FAIL_CONNECT]), 2 * k);
	ck_assert_uint_eq(atomic_load(&t->be[1].failures[FAIL_TIMEOUT]), k);
	ck_assert_uint_eq(atomic_load(&t->be[1].retries), 2 * k);
	ck_assert_uint_eq(atomic_load(&t->be[1].state_changes[1]), k);
	ck_assert_uint_eq(atomic_load(&t->be[1].state_changes[0]), 0);
	ck_assert_uint_eq(atomic_load(&t->be[1].bytes_out), 4000 * k);
	ck_assert_uint_eq(atomic_load(&t->be[RP_MAX_BACKENDS - 1].retries), 5 * k);
}

START_TEST(test_slot_fold)
{
	struct shm_region	*r = region_new(3);
	struct slot		*t;

	ck_assert_ptr_ne(t = aligned_alloc(SHM_CACHELINE, sizeof(*t)), NULL);
	slot_fill(&r->slots[0], 100, 1);
	slot_fill(&r->slots[2], 102, 2);
	/* Slot 1 is free: it takes no part. */

	slot_total(r, t);
	assert_counters(t, 3);
	ck_assert_uint_eq(histogram_count(&t->latency), 2);
	ck_assert_uint_eq(atomic_load(&t->latency.sum_us), 700 + 1400);
	ck_assert_uint_eq(histogram_count(&t->be[1].latency), 2);
	ck_assert_uint_eq(atomic_load(&t->be[1].latency.sum_us), 3000 + 6000);
	ck_assert_int_eq(atomic_load(&t->be[1].inflight), 2 + 4);
	ck_assert_int_eq(atomic_load(&t->be[RP_MAX_BACKENDS - 1].inflight), 2);

	/* Worker 100 dies: its counters live on, its gauges die with it. */
	shm_slot_fold(r, &r->slots[0]);
	ck_assert_uint_eq(atomic_load(&r->slots[0].state), SLOT_FREE);
	ck_assert(all_zero(&r->slots[0], sizeof(r->slots[0])));
	ck_assert_int_eq(atomic_load(&r->retired.be[1].inflight), 0);
	ck_assert_uint_eq(atomic_load(&r->retired.connections), 3);
	slot_total(r, t);
	assert_counters(t, 3);
	ck_assert_uint_eq(histogram_count(&t->latency), 2);
	ck_assert_uint_eq(atomic_load(&t->latency.sum_us), 700 + 1400);
	ck_assert_uint_eq(histogram_count(&t->be[1].latency), 2);
	ck_assert_int_eq(atomic_load(&t->be[1].inflight), 4);
	ck_assert_int_eq(atomic_load(&t->be[RP_MAX_BACKENDS - 1].inflight), 1);

	/* A new worker takes the free slot and counts from zero. */
	atomic_store(&r->slots[0].state, SLOT_IDLE);
	atomic_store(&r->slots[0].connections, 1);
	slot_total(r, t);
	ck_assert_uint_eq(atomic_load(&t->connections), 3 * 3 + 1);

	/* The rest die too: totals still never go backwards. */
	shm_slot_fold(r, &r->slots[0]);
	shm_slot_fold(r, &r->slots[2]);
	slot_total(r, t);
	ck_assert_uint_eq(atomic_load(&t->connections), 3 * 3 + 1);
	ck_assert_uint_eq(atomic_load(&t->bytes_out), 5000 * 3);
	ck_assert_int_eq(atomic_load(&t->be[1].inflight), 0);
	ck_assert_int_eq(atomic_load(&t->be[RP_MAX_BACKENDS - 1].inflight), 0);
	ck_assert(all_zero(&r->slots[2], sizeof(r->slots[2])));
	free(t);
	free(r);
}
END_TEST

/* Shared between the folding parent and the reading child of test_fold_seqlock. */
struct fold_race {
	_Atomic uint64_t	published;	/* what every consistent sum must be */
	_Atomic uint32_t	done;		/* the parent is through folding */
	_Atomic uint64_t	reads;		/* consistent readings taken */
	_Atomic uint64_t	wrong;		/* ...that did not match */
};

#define FOLD_RACE_SLOTS	4
#define FOLD_RACE_FOLDS	4000
#define FOLD_RACE_K	1000	/* what each new worker brings: a fold out of place shows */

/* The child: read sums as a scrape does, and check each against published. */
static void __attribute__((noreturn))
fold_race_reader(const struct shm_region *r, struct fold_race *race, struct slot *sum)
{
	uint32_t	seq;
	uint64_t	want;

	while (!atomic_load(&race->done)) {
		seq = shm_read_begin(r);
		memset(sum, 0, sizeof(*sum));
		shm_slot_sum(r, sum);
		want = atomic_load(&race->published);
		if (shm_read_retry(r, seq))
			continue;
		atomic_fetch_add(&race->reads, 1);
		if (atomic_load(&sum->connections) != want)
			atomic_fetch_add(&race->wrong, 1);
	}
	_exit(0);
}

/* Wait up to a second for the reader to complete one more reading. */
static void
fold_race_let_read(struct fold_race *race)
{
	uint64_t	reads = atomic_load(&race->reads);
	unsigned	waited;

	for (waited = 0; atomic_load(&race->reads) == reads && waited < 10000; waited++)
		usleep(100);
}

/*
 * The master folds dead workers' slots while a scrape in another process
 * sums them: every sum the seqlock lets through counts each worker once,
 * neither in its slot and the retired totals at once, nor in neither.
 */
START_TEST(test_fold_seqlock)
{
	size_t			 size = shm_size(FOLD_RACE_SLOTS);
	struct shm_region	*r;
	struct fold_race	*race;
	struct slot		*sum;
	unsigned		 i, j, waited;
	pid_t			 pid;
	int			 status;

	r = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	race = mmap(NULL, sizeof(*race), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);
	ck_assert(r != MAP_FAILED && race != MAP_FAILED);
	ck_assert_ptr_ne(sum = aligned_alloc(SHM_CACHELINE, sizeof(*sum)), NULL);
	r->hdr.nslots = FOLD_RACE_SLOTS;
	for (j = 0; j < FOLD_RACE_SLOTS; j++) {
		atomic_store(&r->slots[j].state, SLOT_IDLE);
		atomic_store(&r->slots[j].connections, FOLD_RACE_K);
	}
	atomic_store(&race->published, FOLD_RACE_SLOTS * FOLD_RACE_K);
	ck_assert_int_ne(pid = fork(), -1);
	if (pid == 0)
		fold_race_reader(r, race, sum);
	/* A worker dies and its replacement brings its own counts, as one change. */
	for (i = 0; i < FOLD_RACE_FOLDS; i++) {
		j = i % FOLD_RACE_SLOTS;
		shm_fold_begin(r);
		shm_slot_fold(r, &r->slots[j]);
		atomic_store(&r->slots[j].state, SLOT_IDLE);
		atomic_store(&r->slots[j].connections, FOLD_RACE_K);
		atomic_fetch_add(&race->published, FOLD_RACE_K);
		shm_fold_end(r);
		/*
		 * Now and then, let the reader finish a reading (bounded), so
		 * readings interleave with folds even on a loaded machine.
		 */
		if (i % 64 == 0)
			fold_race_let_read(race);
	}
	atomic_store(&race->done, 1);
	for (waited = 0; waitpid(pid, &status, WNOHANG) == 0 && waited < 10000; waited++)
		usleep(1000);
	if (waited == 10000)
		kill(pid, SIGKILL);
	ck_assert_msg(waited < 10000 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "reader hung or failed");
	ck_assert_msg(atomic_load(&race->reads) > 0, "no consistent reading at all");
	ck_assert_msg(atomic_load(&race->wrong) == 0, "%lu of %lu readings miscounted a fold",
	    (unsigned long)atomic_load(&race->wrong), (unsigned long)atomic_load(&race->reads));
	/* Between folds a reading is consistent at once. */
	ck_assert(!shm_read_retry(r, shm_read_begin(r)));
	free(sum);
	munmap(race, sizeof(*race));
	munmap(r, size);
}
END_TEST

START_TEST(test_slot_add)
{
	struct slot	*a, *b;

	ck_assert_ptr_ne(a = aligned_alloc(SHM_CACHELINE, sizeof(*a)), NULL);
	ck_assert_ptr_ne(b = aligned_alloc(SHM_CACHELINE, sizeof(*b)), NULL);
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	slot_fill(a, 1, 1);
	slot_fill(b, 2, 2);
	shm_slot_add(a, b);
	assert_counters(a, 3);
	/* Gauges are added too (a sum of live slots). */
	ck_assert_int_eq(atomic_load(&a->be[1].inflight), 6);
	ck_assert_int_eq(atomic_load(&a->be[RP_MAX_BACKENDS - 1].inflight), 2);
	/* Identity fields are not counters. */
	ck_assert_int_eq(atomic_load(&a->pid), 1);
	free(a);
	free(b);
}
END_TEST

START_TEST(test_backend_reset)
{
	struct shm_region	*r = region_new(2);
	struct slot		*t;

	ck_assert_ptr_ne(t = aligned_alloc(SHM_CACHELINE, sizeof(*t)), NULL);
	slot_fill(&r->slots[0], 100, 1);
	slot_fill(&r->slots[1], 101, 1);
	shm_slot_fold(r, &r->slots[1]);
	shm_backend_reset(r, 1);
	ck_assert(all_zero(&r->retired.be[1], sizeof(r->retired.be[1])));
	ck_assert(all_zero(&r->slots[0].be[1], sizeof(r->slots[0].be[1])));
	slot_total(r, t);
	ck_assert_uint_eq(atomic_load(&t->be[1].retries), 0);
	/* Other backends and the client side are untouched. */
	ck_assert_uint_eq(atomic_load(&t->be[RP_MAX_BACKENDS - 1].retries), 10);
	ck_assert_uint_eq(atomic_load(&t->connections), 6);
	free(t);
	free(r);
}
END_TEST

/* Counted by state; a state no version knows is not counted at all. */
START_TEST(test_slot_states)
{
	struct shm_region	*r = region_new(6);
	unsigned		 n[SLOT_NSTATES];

	atomic_store(&r->slots[0].state, SLOT_IDLE);
	atomic_store(&r->slots[1].state, SLOT_BUSY);
	atomic_store(&r->slots[2].state, SLOT_BUSY);
	atomic_store(&r->slots[3].state, SLOT_DRAINING);
	atomic_store(&r->slots[4].state, SLOT_NSTATES + 3);
	shm_slot_states(r, n);
	ck_assert_uint_eq(n[SLOT_FREE], 1);
	ck_assert_uint_eq(n[SLOT_IDLE], 1);
	ck_assert_uint_eq(n[SLOT_BUSY], 2);
	ck_assert_uint_eq(n[SLOT_DRAINING], 1);
	free(r);
}
END_TEST

/* The pool's view: idle only in the current generation; leaving ones retiring. */
START_TEST(test_worker_states)
{
	struct shm_region	*r = region_new(8);
	static const struct {
		uint32_t	state, generation;
	} s[8] = {
		{ SLOT_IDLE, 2 }, { SLOT_IDLE, 2 }, { SLOT_IDLE, 1 }, { SLOT_BUSY, 1 },
		{ SLOT_STARTING, 2 }, { SLOT_DRAINING, 2 }, { SLOT_KEEPER, 2 }, { SLOT_FREE, 0 },
	};
	unsigned		 n[WORKER__COUNT];
	size_t			 i;

	atomic_store(&r->hdr.generation, 2);
	for (i = 0; i < 8; i++) {
		atomic_store(&r->slots[i].state, s[i].state);
		atomic_store(&r->slots[i].generation, s[i].generation);
	}
	shm_worker_states(r, n);
	ck_assert_uint_eq(n[WORKER_IDLE], 2);
	ck_assert_uint_eq(n[WORKER_BUSY], 1);
	ck_assert_uint_eq(n[WORKER_STARTING], 1);
	ck_assert_uint_eq(n[WORKER_RETIRING], 2);
	ck_assert_str_eq(shm_worker_state_name(WORKER_RETIRING), "retiring");
	ck_assert_str_eq(shm_worker_state_name(WORKER__COUNT), "unknown");
	free(r);
}
END_TEST

/* Sent by keepers less taken by workers, dead ones' counts included; never negative. */
START_TEST(test_handoffs_waiting)
{
	struct shm_region	*r = region_new(4);

	ck_assert_uint_eq(shm_handoffs_waiting(r), 0);
	atomic_store(&r->slots[0].state, SLOT_KEEPER);
	counter_add(&r->slots[0].handoffs_to_worker, 10);
	atomic_store(&r->slots[1].state, SLOT_BUSY);
	counter_add(&r->slots[1].handoffs_taken, 3);
	ck_assert_uint_eq(shm_handoffs_waiting(r), 7);
	/* The worker dies and is folded; a new keeper takes over. */
	shm_slot_fold(r, &r->slots[1]);
	shm_slot_fold(r, &r->slots[0]);
	ck_assert_uint_eq(shm_handoffs_waiting(r), 7);
	atomic_store(&r->slots[2].state, SLOT_IDLE);
	counter_add(&r->slots[2].handoffs_taken, 7);
	ck_assert_uint_eq(shm_handoffs_waiting(r), 0);
	/* A take counted before its send is not a debt. */
	counter_add(&r->slots[2].handoffs_taken, 1);
	ck_assert_uint_eq(shm_handoffs_waiting(r), 0);
	free(r);
}
END_TEST

/* Only idle workers of an older generation hold a new one back. */
START_TEST(test_older_idle)
{
	struct shm_region	*r = region_new(6);
	static const struct {
		uint32_t	state, generation;
	} s[6] = {
		{ SLOT_IDLE, 1 }, { SLOT_IDLE, 2 }, { SLOT_BUSY, 1 },
		{ SLOT_DRAINING, 1 }, { SLOT_IDLE, 3 }, { SLOT_FREE, 0 },
	};
	size_t			 i;

	for (i = 0; i < 6; i++) {
		atomic_store(&r->slots[i].state, s[i].state);
		atomic_store(&r->slots[i].generation, s[i].generation);
	}
	ck_assert_uint_eq(shm_older_idle(r, 1), 0);
	ck_assert_uint_eq(shm_older_idle(r, 2), 1);
	ck_assert_uint_eq(shm_older_idle(r, 3), 2);
	ck_assert_uint_eq(shm_older_idle(r, 4), 3);
	/* The generation-1 worker leaves the accept loop. */
	atomic_store(&r->slots[0].state, SLOT_DRAINING);
	ck_assert_uint_eq(shm_older_idle(r, 3), 1);
	/* The master says no worker older than 3 lives: no scan, none found. */
	atomic_store(&r->hdr.oldest_generation, 3);
	ck_assert_uint_eq(shm_older_idle(r, 3), 0);
	ck_assert_uint_eq(shm_older_idle(r, 4), 2);
	free(r);
}
END_TEST

START_TEST(test_code_index)
{
	static const struct {
		int		 code;
		const char	*label;
	} t[] = {
		{ 200, "200" }, { 201, "201" }, { 204, "204" }, { 304, "304" },
		{ 404, "404" }, { 431, "431" }, { 502, "502" }, { 504, "504" },
		{ 100, "1xx" }, { 101, "1xx" }, { 199, "1xx" }, { 299, "2xx" },
		{ 203, "2xx" }, { 305, "3xx" }, { 418, "4xx" }, { 499, "4xx" },
		{ 505, "5xx" }, { 599, "5xx" }, { 600, "5xx" }, { 999, "5xx" },
		{ 99, "5xx" }, { 0, "5xx" }, { -1, "5xx" },
	};
	char	label[8];
	size_t	i, j, idx, seen[SHM_NCODES] = { 0 };

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		idx = shm_code_index(t[i].code);
		ck_assert_uint_lt(idx, SHM_NCODES);
		ck_assert_msg(strcmp(shm_code_label(idx), t[i].label) == 0,
		    "%d: %s", t[i].code, shm_code_label(idx));
	}
	/* Every index has a label, exact codes map back to themselves, no two alike. */
	for (i = 0; i < SHM_NCODES; i++) {
		const char *l = shm_code_label(i);

		ck_assert_uint_eq(strlen(l), 3);
		for (j = 0; j < i; j++)
			ck_assert_str_ne(shm_code_label(j), l);
		if (l[1] != 'x')
			ck_assert_uint_eq(shm_code_index(atoi(l)), i);
	}
	for (i = 100; i < 600; i++) {
		idx = shm_code_index((int)i);
		snprintf(label, sizeof(label), "%zu", i);
		if (strcmp(shm_code_label(idx), label) != 0) {
			snprintf(label, sizeof(label), "%zuxx", i / 100);
			ck_assert_str_eq(shm_code_label(idx), label);
		}
		seen[idx]++;
	}
	for (i = 0; i < SHM_NCODES; i++)
		ck_assert_msg(seen[i] > 0, "index %zu unused", i);
	ck_assert_str_eq(shm_code_label(SHM_NCODES), "5xx");
}
END_TEST

START_TEST(test_fail_reason_name)
{
	ck_assert_str_eq(shm_fail_reason_name(FAIL_CONNECT), "connect");
	ck_assert_str_eq(shm_fail_reason_name(FAIL_CONNECT_TIMEOUT), "connect_timeout");
	ck_assert_str_eq(shm_fail_reason_name(FAIL_TIMEOUT), "timeout");
	ck_assert_str_eq(shm_fail_reason_name(FAIL_RESET), "reset");
	ck_assert_str_eq(shm_fail_reason_name(FAIL_BAD_RESPONSE), "bad_response");
	ck_assert_str_eq(shm_fail_reason_name(FAIL__COUNT), "unknown");
	ck_assert_str_eq(shm_fail_reason_name((enum fail_reason)-1), "unknown");
}
END_TEST

static Suite *
shm_suite(void)
{
	Suite *s = suite_create("shm");
	TCase *tc = tcase_create("shm");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_name);
	tcase_add_test(tc, test_size);
	tcase_add_test(tc, test_create_attach);
	tcase_add_test(tc, test_create_replaces_stale);
	tcase_add_loop_test(tc, test_attach_refuses, 0, T__COUNT);
	tcase_add_test(tc, test_attach_too_small);
	tcase_add_test(tc, test_slot_fold);
	tcase_add_test(tc, test_fold_seqlock);
	tcase_add_test(tc, test_slot_add);
	tcase_add_test(tc, test_backend_reset);
	tcase_add_test(tc, test_slot_states);
	tcase_add_test(tc, test_older_idle);
	tcase_add_test(tc, test_worker_states);
	tcase_add_test(tc, test_handoffs_waiting);
	tcase_add_test(tc, test_code_index);
	tcase_add_test(tc, test_fail_reason_name);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(shm_suite)
