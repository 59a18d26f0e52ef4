/* check_metrics.c: unit tests of the Prometheus exposition rendered from a shared-memory region. */
#include <check.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_util.h"
#include "histogram.h"
#include "metrics.h"
#include "shm.h"

static struct shm_region	*region;
static char			*text;

/* A region of our own pid (no real master has it), with one listed backend. */
static void
setup(void)
{
	char	err[256];

	region = shm_create(getpid(), 4, err, sizeof(err));
	ck_assert_msg(region != NULL, "shm_create: %s", err);
	snprintf(region->backends[0].name, sizeof(region->backends[0].name), "b1");
	atomic_store(&region->backends[0].in_use, 1);
	text = NULL;
}

static void
teardown(void)
{
	free(text);
	if (region != NULL)
		shm_destroy(region, getpid());
	region = NULL;
}

static const char *
render(void)
{
	size_t	len;

	free(text);
	text = NULL;
	ck_assert_int_eq(metrics_render(region, &text, &len), 0);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(strlen(text), len);
	return text;
}

/* The whole line, at the start of a line. */
static int
has_line(const char *t, const char *line)
{
	size_t		 n = strlen(line);
	const char	*p;

	for (p = t; (p = strstr(p, line)) != NULL; p += n)
		if ((p == t || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return 1;
	return 0;
}

START_TEST(test_every_family_has_help_and_type)
{
	const struct metric_family	*f;
	const char			*t = render();
	char				 want[256];

	for (f = metric_families; f->name != NULL; f++) {
		snprintf(want, sizeof(want), "# TYPE %s %s", f->name, metric_type_name(f->type));
		ck_assert_msg(has_line(t, want), "no \"%s\" in:\n%s", want, t);
		snprintf(want, sizeof(want), "# HELP %s ", f->name);
		ck_assert_msg(strstr(t, want) != NULL, "no \"%s\"", want);
	}
	ck_assert_msg(t[strlen(t) - 1] == '\n', "exposition must end with a newline");
}
END_TEST

/* Counters set in a live worker's slot and in the retired slot are summed. */
START_TEST(test_counters_from_slots)
{
	struct slot	*s = &region->slots[0];
	const char	*t;

	atomic_store(&s->pid, (int32_t)getpid());
	atomic_store(&s->state, SLOT_BUSY);
	atomic_store(&s->connections, 5);
	atomic_store(&region->retired.connections, 2);
	atomic_store(&s->be[0].responses[shm_code_index(200)], 7);
	atomic_store(&s->be[0].retries, 3);
	t = render();
	ck_assert_msg(has_line(t, "rproxyd_connections_total 7"), "%s", t);
	ck_assert_msg(has_line(t, "rproxyd_requests_total{backend=\"b1\",code=\"200\"} 7"),
	    "%s", t);
	ck_assert_msg(has_line(t, "rproxyd_retries_total{backend=\"b1\"} 3"), "%s", t);
	/* Codes never seen are left out. */
	ck_assert_ptr_null(strstr(t, "code=\"404\""));
}
END_TEST

/* A free slot's leftovers are not counted; only live slots and retired are. */
START_TEST(test_free_slot_not_counted)
{
	atomic_store(&region->slots[1].connections, 100);
	ck_assert_msg(has_line(render(), "rproxyd_connections_total 0"), "%s", text);
}
END_TEST

/* An unlisted backend has no series. */
START_TEST(test_unlisted_backend_left_out)
{
	snprintf(region->backends[1].name, sizeof(region->backends[1].name), "gone");
	ck_assert_ptr_null(strstr(render(), "backend=\"gone\""));
	ck_assert_ptr_nonnull(strstr(text, "backend=\"b1\""));
}
END_TEST

/* Histogram buckets are cumulative and _count is the +Inf bucket. */
START_TEST(test_histogram_cumulative)
{
	struct slot	*s = &region->slots[0];
	const char	*t;

	atomic_store(&s->pid, (int32_t)getpid());
	atomic_store(&s->state, SLOT_IDLE);
	histogram_observe(&s->latency, 100);		/* 0.1 ms */
	histogram_observe(&s->latency, 2000000);	/* 2 s */
	t = render();
	ck_assert_msg(has_line(t, "rproxyd_request_duration_seconds_bucket{le=\"+Inf\"} 2"),
	    "%s", t);
	ck_assert_msg(has_line(t, "rproxyd_request_duration_seconds_bucket{le=\"0.0005\"} 1"),
	    "%s", t);
	ck_assert_msg(has_line(t, "rproxyd_request_duration_seconds_count 2"), "%s", t);
}
END_TEST

/* A master stuck in the middle of a fold: no figures half folded, a 503 instead. */
START_TEST(test_busy_while_folding)
{
	char	*out = NULL;
	size_t	 len;

	atomic_store(&region->hdr.fold_seq, 7);
	ck_assert_int_eq(metrics_render(region, &out, &len), METRICS_BUSY);
	ck_assert_ptr_null(out);
	atomic_store(&region->hdr.fold_seq, 8);
	ck_assert_msg(has_line(render(), "rproxyd_connections_total 0"), "%s", text);
}
END_TEST

/*
 * The master's descriptors come from the count it publishes (its /proc/PID/fd
 * is root's), a child's from its /proc/PID/fd, and every CPU and memory
 * figure from /proc/PID/stat; here the test process plays both.
 */
START_TEST(test_process_figures)
{
	const char	*t;
	char		*p;
	double		 fds, rss_alone;

	t = render();
	ck_assert_ptr_nonnull(p = strstr(t, "\nprocess_resident_memory_bytes "));
	rss_alone = strtod(p + strlen("\nprocess_resident_memory_bytes "), NULL);
	ck_assert(rss_alone > 0);
	atomic_store(&region->hdr.master_fds, 1000);
	atomic_store(&region->slots[0].pid, (int32_t)getpid());
	atomic_store(&region->slots[0].state, SLOT_KEEPER);
	t = render();
	ck_assert_ptr_nonnull(p = strstr(t, "\nprocess_open_fds "));
	fds = strtod(p + strlen("\nprocess_open_fds "), NULL);
	ck_assert_msg(fds > 1000 && fds < 1000 + 64, "process_open_fds %g", fds);
	/* Counted twice here, as master and as a child. */
	ck_assert_ptr_nonnull(p = strstr(t, "\nprocess_resident_memory_bytes "));
	ck_assert(strtod(p + strlen("\nprocess_resident_memory_bytes "), NULL) > rss_alone);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite	*s = suite_create("metrics");
	TCase	*tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_every_family_has_help_and_type);
	tcase_add_test(tc, test_counters_from_slots);
	tcase_add_test(tc, test_free_slot_not_counted);
	tcase_add_test(tc, test_unlisted_backend_left_out);
	tcase_add_test(tc, test_histogram_cumulative);
	tcase_add_test(tc, test_busy_while_folding);
	tcase_add_test(tc, test_process_figures);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(metrics_suite)
