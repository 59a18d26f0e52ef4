/* shm.c: create, attach, fold and sum the shared-memory region. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shm.h"

/* Exact codes; the last five are the per-class catch-alls. */
static const int shm_codes[SHM_NCODES] = {
	200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308,
	400, 401, 403, 404, 405, 408, 409, 413, 414, 429, 431,
	500, 501, 502, 503, 504,
	1, 2, 3, 4, 5,
};

/* Where glibc's shm_open() keeps its objects, and the name of ours there. */
#define SHM_DIR		"/dev/shm"
#define SHM_PREFIX	"rproxyd."
/* A younger region may be a starting master's, created but not yet mapped. */
#define SHM_STALE_AGE_S	10

static const char *const shm_class_labels[] = { "1xx", "2xx", "3xx", "4xx", "5xx" };

static const char *const fail_reason_names[FAIL__COUNT] = {
	"connect", "connect_timeout", "timeout", "reset", "bad_response",
};

static const char *const worker_state_names[WORKER__COUNT] = {
	"idle", "busy", "starting", "retiring",
};

static const char *const spawn_reason_names[SPAWN__COUNT] = {
	"start", "grow", "respawn", "reload",
};

static const char *const retire_reason_names[RETIRE__COUNT] = {
	"idle", "reload",
};

void
shm_name(char *buf, size_t len, pid_t master_pid)
{
	snprintf(buf, len, "/" SHM_PREFIX "%ld", (long)master_pid);
}

size_t
shm_size(unsigned nslots)
{
	return sizeof(struct shm_region) + (size_t)nslots * sizeof(struct slot);
}

/*
 * Does process pid map SHM_DIR/name? 1 yes, 0 no, -1 cannot tell. The master
 * maps its region for as long as it runs, so a process that does not is no
 * master of it: the pid was recycled.
 */
static int
shm_mapped_by(const char *pid, const char *name)
{
	char	path[64], want[NAME_MAX + 16], *line = NULL;
	size_t	cap = 0, wantlen;
	ssize_t	n;
	FILE	*f;
	int	found = 0;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	wantlen = (size_t)snprintf(want, sizeof(want), " %s/%s", SHM_DIR, name);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (!found && (n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		found = (size_t)n >= wantlen && strcmp(line + n - wantlen, want) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

/*
 * Is SHM_DIR/name the region of a master that is gone: its pid runs no more,
 * or runs a process that does not map it? When unsure, it is not; nor while
 * young, since a master maps its region only after creating it.
 */
static int
shm_stale(int dfd, const char *name)
{
	const char	*pid = name + strlen(SHM_PREFIX);
	struct stat	 st;
	long		 n;
	char		*end;

	errno = 0;
	n = strtol(pid, &end, 10);
	if (*pid == '\0' || *end != '\0' || errno != 0 || n <= 0 || n > INT32_MAX ||
	    (pid_t)n == getpid())
		return 0;
	/* Only our own: another user's region is theirs to clean. */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid())
		return 0;
	if (kill((pid_t)n, 0) == -1 && errno == ESRCH)
		return 1;
	return time(NULL) - st.st_mtime > SHM_STALE_AGE_S && shm_mapped_by(pid, name) == 0;
}

unsigned
shm_clean_stale(void)
{
	struct dirent	*de;
	DIR		*d;
	char		 name[NAME_MAX + 2];
	unsigned	 cleaned = 0;

	if ((d = opendir(SHM_DIR)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, SHM_PREFIX, strlen(SHM_PREFIX)) != 0 ||
		    !shm_stale(dirfd(d), de->d_name))
			continue;
		snprintf(name, sizeof(name), "/%s", de->d_name);
		if (shm_unlink(name) == 0)
			cleaned++;
	}
	closedir(d);
	return cleaned;
}

struct shm_region *
shm_create(pid_t master_pid, unsigned nslots, char *err, size_t errlen)
{
	struct shm_region	*r;
	char			 name[64];
	size_t			 size = shm_size(nslots);
	int			 fd;

	shm_name(name, sizeof(name), master_pid);
	/* Regions of masters killed with SIGKILL would stay until a reboot. */
	(void)shm_clean_stale();
	/* A stale region of a dead master with a recycled pid is ours to replace. */
	(void)shm_unlink(name);
	/* 0600: backend URLs and traffic counters are for the daemon's user only. */
	if ((fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600)) == -1) {
		snprintf(err, errlen, "shm_open %s: %s", name, strerror(errno));
		return NULL;
	}
	if (ftruncate(fd, (off_t)size) == -1) {
		snprintf(err, errlen, "ftruncate %s to %zu bytes: %s", name, size,
		    strerror(errno));
		close(fd);
		shm_unlink(name);
		return NULL;
	}
	r = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (r == MAP_FAILED) {
		snprintf(err, errlen, "mmap %s: %s", name, strerror(errno));
		shm_unlink(name);
		return NULL;
	}
	/* ftruncate gave zeroed pages: only the header needs filling. */
	r->hdr.magic = SHM_MAGIC;
	r->hdr.version = SHM_VERSION;
	r->hdr.size = size;
	r->hdr.nslots = nslots;
	r->hdr.nbackends_max = RP_MAX_BACKENDS;
	atomic_store(&r->hdr.master_pid, (int32_t)master_pid);
	atomic_store(&r->hdr.start_time, (uint64_t)time(NULL));
	atomic_store_explicit(&r->hdr.ready, 1, memory_order_release);
	return r;
}

const struct shm_region *
shm_attach_readonly(pid_t master_pid, char *err, size_t errlen)
{
	const struct shm_region	*r;
	struct stat		 st;
	char			 name[64];
	int			 fd;

	shm_name(name, sizeof(name), master_pid);
	if ((fd = shm_open(name, O_RDONLY, 0)) == -1) {
		snprintf(err, errlen, "shm_open %s: %s", name, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "fstat %s: %s", name, strerror(errno));
		close(fd);
		return NULL;
	}
	if ((size_t)st.st_size < sizeof(struct shm_region)) {
		snprintf(err, errlen, "%s: too small (%lld bytes)", name,
		    (long long)st.st_size);
		close(fd);
		return NULL;
	}
	r = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (r == MAP_FAILED) {
		snprintf(err, errlen, "mmap %s: %s", name, strerror(errno));
		return NULL;
	}
	if (!atomic_load_explicit(&r->hdr.ready, memory_order_acquire) ||
	    r->hdr.magic != SHM_MAGIC || r->hdr.version != SHM_VERSION ||
	    r->hdr.size != (uint64_t)st.st_size ||
	    r->hdr.size != shm_size(r->hdr.nslots) ||
	    r->hdr.nbackends_max != RP_MAX_BACKENDS) {
		snprintf(err, errlen, "%s: not an rproxyd %u region of this build",
		    name, SHM_VERSION);
		munmap((void *)r, (size_t)st.st_size);
		return NULL;
	}
	return r;
}

void
shm_detach(const struct shm_region *r)
{
	munmap((void *)r, r->hdr.size);
}

void
shm_destroy(struct shm_region *r, pid_t master_pid)
{
	char	name[64];

	shm_name(name, sizeof(name), master_pid);
	shm_unlink(name);
	shm_detach(r);
}

static void
slot_backend_add(struct slot_backend *dst, const struct slot_backend *src)
{
	size_t	i;

	for (i = 0; i < SHM_NCODES; i++)
		counter_add(&dst->responses[i], counter_get(&src->responses[i]));
	for (i = 0; i < FAIL__COUNT; i++)
		counter_add(&dst->failures[i], counter_get(&src->failures[i]));
	counter_add(&dst->retries, counter_get(&src->retries));
	for (i = 0; i < 2; i++)
		counter_add(&dst->state_changes[i], counter_get(&src->state_changes[i]));
	counter_add(&dst->bytes_out, counter_get(&src->bytes_out));
	atomic_store_explicit(&dst->inflight,
	    atomic_load_explicit(&dst->inflight, memory_order_relaxed) +
	    atomic_load_explicit(&src->inflight, memory_order_relaxed),
	    memory_order_relaxed);
	histogram_add(&dst->latency, &src->latency);
}

void
shm_slot_add(struct slot *dst, const struct slot *src)
{
	size_t	i;

	counter_add(&dst->connections, counter_get(&src->connections));
	counter_add(&dst->handoffs_to_worker, counter_get(&src->handoffs_to_worker));
	counter_add(&dst->handoffs_to_keeper, counter_get(&src->handoffs_to_keeper));
	counter_add(&dst->handoffs_taken, counter_get(&src->handoffs_taken));
	counter_add(&dst->accept_fd_limit, counter_get(&src->accept_fd_limit));
	atomic_store_explicit(&dst->held,
	    atomic_load_explicit(&dst->held, memory_order_relaxed) +
	    atomic_load_explicit(&src->held, memory_order_relaxed), memory_order_relaxed);
	for (i = 0; i < SHM_NCODES; i++)
		counter_add(&dst->client_responses[i],
		    counter_get(&src->client_responses[i]));
	counter_add(&dst->bytes_in, counter_get(&src->bytes_in));
	counter_add(&dst->bytes_out, counter_get(&src->bytes_out));
	histogram_add(&dst->latency, &src->latency);
	for (i = 0; i < RP_MAX_BACKENDS; i++)
		slot_backend_add(&dst->be[i], &src->be[i]);
}

void
shm_slot_fold(struct shm_region *r, struct slot *s)
{
	size_t	i;

	/* Gauges die with the worker; counters live on in the retired slot. */
	atomic_store(&s->held, 0);
	for (i = 0; i < RP_MAX_BACKENDS; i++)
		atomic_store(&s->be[i].inflight, 0);
	shm_slot_add(&r->retired, s);
	memset((void *)s, 0, sizeof(*s));
	atomic_store(&s->state, SLOT_FREE);
}

void
shm_fold_begin(struct shm_region *r)
{
	/* seq_cst: the writes that follow cannot be seen before the odd count. */
	atomic_fetch_add(&r->hdr.fold_seq, 1);
}

void
shm_fold_end(struct shm_region *r)
{
	atomic_fetch_add(&r->hdr.fold_seq, 1);
}

uint32_t
shm_read_begin(const struct shm_region *r)
{
	return atomic_load_explicit(&r->hdr.fold_seq, memory_order_acquire);
}

int
shm_read_retry(const struct shm_region *r, uint32_t seq)
{
	/* The reads before this fence are done before the count is read again. */
	atomic_thread_fence(memory_order_acquire);
	return (seq & 1) != 0 ||
	    atomic_load_explicit(&r->hdr.fold_seq, memory_order_relaxed) != seq;
}

void
shm_slot_sum(const struct shm_region *r, struct slot *out)
{
	uint32_t	i;

	shm_slot_add(out, &r->retired);
	for (i = 0; i < r->hdr.nslots; i++)
		if (atomic_load(&r->slots[i].state) != SLOT_FREE)
			shm_slot_add(out, &r->slots[i]);
}

void
shm_slot_states(const struct shm_region *r, unsigned n[SLOT_NSTATES])
{
	uint32_t	i;
	int		st;

	memset(n, 0, SLOT_NSTATES * sizeof(n[0]));
	for (i = 0; i < r->hdr.nslots; i++)
		if ((st = atomic_load(&r->slots[i].state)) >= 0 && st < SLOT_NSTATES)
			n[st]++;
}

void
shm_worker_states(const struct shm_region *r, unsigned n[WORKER__COUNT])
{
	uint32_t	i, gen = atomic_load(&r->hdr.generation);

	memset(n, 0, WORKER__COUNT * sizeof(n[0]));
	for (i = 0; i < r->hdr.nslots; i++)
		switch (atomic_load(&r->slots[i].state)) {
		case SLOT_IDLE:
			n[atomic_load(&r->slots[i].generation) == gen ? WORKER_IDLE :
			    WORKER_RETIRING]++;
			break;
		case SLOT_BUSY:
			n[WORKER_BUSY]++;
			break;
		case SLOT_STARTING:
			n[WORKER_STARTING]++;
			break;
		case SLOT_DRAINING:
			n[WORKER_RETIRING]++;
			break;
		default:
			break;
		}
}

unsigned
shm_busy_alive(const struct shm_region *r)
{
	uint32_t	i;
	unsigned	n = 0;
	pid_t		pid;

	for (i = 0; i < r->hdr.nslots; i++)
		if (atomic_load(&r->slots[i].state) == SLOT_BUSY &&
		    (pid = (pid_t)atomic_load(&r->slots[i].pid)) > 0 &&
		    (kill(pid, 0) == 0 || errno == EPERM))
			n++;
	return n;
}

unsigned
shm_older_idle(const struct shm_region *r, uint32_t generation)
{
	uint32_t	i;
	unsigned	n = 0;

	/*
	 * Each slot is on pages of its own: a scan costs a starting worker a
	 * page fault per slot, so none when no older worker lives.
	 */
	if (atomic_load(&r->hdr.oldest_generation) >= generation)
		return 0;
	for (i = 0; i < r->hdr.nslots; i++)
		if (atomic_load(&r->slots[i].state) == SLOT_IDLE &&
		    atomic_load(&r->slots[i].generation) < generation)
			n++;
	return n;
}

unsigned
shm_handoffs_waiting(const struct shm_region *r)
{
	uint64_t	sent, taken;
	uint32_t	i;

	/* Taken first: a send counted after it only makes the difference larger. */
	taken = counter_get(&r->retired.handoffs_taken);
	for (i = 0; i < r->hdr.nslots; i++)
		taken += counter_get(&r->slots[i].handoffs_taken);
	sent = counter_get(&r->retired.handoffs_to_worker);
	for (i = 0; i < r->hdr.nslots; i++)
		sent += counter_get(&r->slots[i].handoffs_to_worker);
	/* A worker may count its take before the keeper counts the send. */
	return sent > taken ? (unsigned)(sent - taken) : 0;
}

unsigned
shm_sum_waiting(const struct slot *sum)
{
	uint64_t	sent = counter_get(&sum->handoffs_to_worker),
			taken = counter_get(&sum->handoffs_taken);

	return sent > taken ? (unsigned)(sent - taken) : 0;
}

void
shm_backend_reset(struct shm_region *r, size_t idx)
{
	uint32_t	i;

	memset((void *)&r->retired.be[idx], 0, sizeof(r->retired.be[idx]));
	for (i = 0; i < r->hdr.nslots; i++)
		memset((void *)&r->slots[i].be[idx], 0, sizeof(r->slots[i].be[idx]));
}

size_t
shm_code_index(int code)
{
	size_t	i;

	for (i = 0; i < SHM_NCODES - 5; i++)
		if (shm_codes[i] == code)
			return i;
	if (code < 100 || code > 599)
		code = 500;
	return SHM_NCODES - 5 + (size_t)(code / 100 - 1);
}

const char *
shm_code_label(size_t idx)
{
	static char	labels[SHM_NCODES - 5][4];

	if (idx >= SHM_NCODES)
		return "5xx";
	if (idx >= SHM_NCODES - 5)
		return shm_class_labels[idx - (SHM_NCODES - 5)];
	if (labels[idx][0] == '\0')
		snprintf(labels[idx], sizeof(labels[idx]), "%d", shm_codes[idx]);
	return labels[idx];
}

const char *
shm_fail_reason_name(enum fail_reason reason)
{
	if ((unsigned)reason >= FAIL__COUNT)
		return "unknown";
	return fail_reason_names[reason];
}

const char *
shm_worker_state_name(enum worker_state state)
{
	if ((unsigned)state >= WORKER__COUNT)
		return "unknown";
	return worker_state_names[state];
}

const char *
shm_spawn_reason_name(size_t reason)
{
	if (reason >= SPAWN__COUNT)
		return "unknown";
	return spawn_reason_names[reason];
}

const char *
shm_retire_reason_name(size_t reason)
{
	if (reason >= RETIRE__COUNT)
		return "unknown";
	return retire_reason_names[reason];
}
