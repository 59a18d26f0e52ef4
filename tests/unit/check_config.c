/* check_config.c: unit tests of the config module: defaults, parsing, errors. */
#include <sys/stat.h>

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "check_util.h"
#include "config.h"

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define BACKEND_LINE	"backend b1 { url = \"http://127.0.0.1:9001\" }\n"

/* Where the current test's config file lives; one per forked test. */
static char	conf_dir[64];
static char	conf_path[128];

static void
setup(void)
{
	snprintf(conf_dir, sizeof(conf_dir), "/tmp/check_config.XXXXXX");
	ck_assert_ptr_ne(mkdtemp(conf_dir), NULL);
	snprintf(conf_path, sizeof(conf_path), "%s/t.conf", conf_dir);
}

static void
teardown(void)
{
	unlink(conf_path);
	rmdir(conf_dir);
}

static void
write_conf(const char *body)
{
	FILE *fp;

	ck_assert_ptr_ne(fp = fopen(conf_path, "w"), NULL);
	ck_assert_int_eq(fputs(body, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
}

/* Load BODY as a file; on failure err holds the message. */
static int
load(const char *body, struct rp_config *c, char *err, size_t errlen)
{
	write_conf(body);
	memset(c, 0, sizeof(*c));
	return config_load(conf_path, c, err, errlen);
}

/* Load BODY and fail the test with the message if it is refused. */
static struct rp_config *
load_ok(const char *body)
{
	static struct rp_config c;
	char err[512];

	if (load(body, &c, err, sizeof(err)) != 0)
		ck_abort_msg("config refused: %s", err);
	return &c;
}

/* Every setting but the backends and path must match. */
static void
assert_same_settings(const struct rp_config *a, const struct rp_config *b)
{
	ck_assert_str_eq(a->listen.host, b->listen.host);
	ck_assert_uint_eq(a->listen.port, b->listen.port);
	ck_assert_str_eq(a->metrics_listen.host, b->metrics_listen.host);
	ck_assert_uint_eq(a->metrics_listen.port, b->metrics_listen.port);
	ck_assert_uint_eq(a->max_retries, b->max_retries);
	ck_assert_uint_eq(a->failure_threshold, b->failure_threshold);
	ck_assert_uint_eq(a->health_cooldown_ms, b->health_cooldown_ms);
	ck_assert_uint_eq(a->connect_timeout_ms, b->connect_timeout_ms);
	ck_assert_uint_eq(a->request_timeout_ms, b->request_timeout_ms);
	ck_assert_uint_eq(a->read_timeout_ms, b->read_timeout_ms);
	ck_assert_uint_eq(a->response_timeout_ms, b->response_timeout_ms);
	ck_assert_uint_eq(a->client_header_timeout_ms,
	    b->client_header_timeout_ms);
	ck_assert_uint_eq(a->client_body_timeout_ms, b->client_body_timeout_ms);
	ck_assert_uint_eq(a->client_body_initial_timeout_ms,
	    b->client_body_initial_timeout_ms);
	ck_assert_uint_eq(a->client_body_min_rate, b->client_body_min_rate);
	ck_assert_uint_eq(a->client_body_max_timeout_ms, b->client_body_max_timeout_ms);
	ck_assert_uint_eq(a->keepalive_timeout_ms, b->keepalive_timeout_ms);
	ck_assert_uint_eq(a->keepalive_requests, b->keepalive_requests);
	ck_assert_uint_eq(a->shutdown_timeout_ms, b->shutdown_timeout_ms);
	ck_assert_uint_eq(a->backend_keepalive, b->backend_keepalive);
	ck_assert_uint_eq(a->max_header_size, b->max_header_size);
	ck_assert_uint_eq(a->max_uri_size, b->max_uri_size);
	ck_assert_uint_eq(a->max_headers, b->max_headers);
	ck_assert_uint_eq(a->max_body_size, b->max_body_size);
	ck_assert_uint_eq(a->workers, b->workers);
	ck_assert_uint_eq(a->min_workers, b->min_workers);
	ck_assert_uint_eq(a->max_workers, b->max_workers);
	ck_assert_uint_eq(a->min_spare_workers, b->min_spare_workers);
	ck_assert_uint_eq(a->max_spare_workers, b->max_spare_workers);
	ck_assert_uint_eq(a->worker_idle_timeout_ms, b->worker_idle_timeout_ms);
	ck_assert_str_eq(a->user, b->user);
	ck_assert_str_eq(a->group, b->group);
	ck_assert_str_eq(a->pidfile, b->pidfile);
	ck_assert_int_eq(a->log_level, b->log_level);
	ck_assert_int_eq(a->syslog_facility, b->syslog_facility);
	ck_assert_str_eq(a->log_dir, b->log_dir);
	ck_assert_uint_eq(a->log_max_size, b->log_max_size);
	ck_assert_uint_eq(a->log_keep, b->log_keep);
}

/* The documented defaults, written out once here to check the code's table. */
static void
assert_documented_defaults(const struct rp_config *c)
{
	ck_assert_str_eq(c->listen.host, "0.0.0.0");
	ck_assert_uint_eq(c->listen.port, 8080);
	ck_assert_str_eq(c->metrics_listen.host, "127.0.0.1");
	ck_assert_uint_eq(c->metrics_listen.port, 8000);
	ck_assert_uint_eq(c->max_retries, 2);
	ck_assert_uint_eq(c->failure_threshold, 3);
	ck_assert_uint_eq(c->health_cooldown_ms, 20000);
	ck_assert_uint_eq(c->connect_timeout_ms, 500);
	ck_assert_uint_eq(c->request_timeout_ms, 1500);
	ck_assert_uint_eq(c->read_timeout_ms, 60000);
	ck_assert_uint_eq(c->response_timeout_ms, 0);
	ck_assert_uint_eq(c->client_header_timeout_ms, 10000);
	ck_assert_uint_eq(c->client_body_timeout_ms, 60000);
	ck_assert_uint_eq(c->client_body_initial_timeout_ms, 20000);
	ck_assert_uint_eq(c->client_body_min_rate, 500);
	ck_assert_uint_eq(c->client_body_max_timeout_ms, 0);
	ck_assert_uint_eq(c->keepalive_timeout_ms, 5000);
	ck_assert_uint_eq(c->keepalive_requests, 1000);
	ck_assert_uint_eq(c->shutdown_timeout_ms, 30000);
	ck_assert_uint_eq(c->backend_keepalive, 2);
	ck_assert_uint_eq(c->max_header_size, 16384);
	ck_assert_uint_eq(c->max_uri_size, 8192);
	ck_assert_uint_eq(c->max_headers, 100);
	ck_assert_uint_eq(c->max_body_size, 0);
	ck_assert_uint_eq(c->workers, 0);
	ck_assert_uint_eq(c->min_workers, 16);
	ck_assert_uint_eq(c->max_workers, 512);
	ck_assert_uint_eq(c->min_spare_workers, 8);
	ck_assert_uint_eq(c->max_spare_workers, 16);
	ck_assert_uint_eq(c->worker_idle_timeout_ms, 10000);
	ck_assert_str_eq(c->user, "");
	ck_assert_str_eq(c->group, "");
	ck_assert_str_eq(c->pidfile, "/run/rproxyd.pid");
	ck_assert_int_eq(c->log_level, LOG_INFO);
	ck_assert_int_eq(c->syslog_facility, LOG_DAEMON);
	ck_assert_str_eq(c->log_dir, "");
	ck_assert_uint_eq(c->log_max_size, 10 * 1024 * 1024);
	ck_assert_uint_eq(c->log_keep, 5);
}

static void
assert_backend(const struct rp_backend_conf *b, const char *name,
    const char *url, const char *host, unsigned port, unsigned weight)
{
	ck_assert_str_eq(b->name, name);
	ck_assert_str_eq(b->url, url);
	ck_assert_str_eq(b->addr.host, host);
	ck_assert_uint_eq(b->addr.port, port);
	ck_assert_uint_eq(b->weight, weight);
}

START_TEST(test_file_defaults)
{
	struct rp_config *c;

	c = load_ok("# only backends\n"
	    "backend backend1 { url = \"http://127.0.0.1:9001\" }\n"
	    "backend backend2 {\n\turl = \"http://127.0.0.1:9002/\"\n"
	    "\tweight = 3\n}\n");
	assert_documented_defaults(c);
	ck_assert_str_eq(c->path, conf_path);
	ck_assert_uint_eq(c->nbackends, 2);
	assert_backend(&c->backends[0], "backend1", "http://127.0.0.1:9001",
	    "127.0.0.1", 9001, 1);
	assert_backend(&c->backends[1], "backend2", "http://127.0.0.1:9002/",
	    "127.0.0.1", 9002, 3);
}
END_TEST

START_TEST(test_config_defaults)
{
	struct rp_config c;

	memset(&c, 0xa5, sizeof(c));
	config_defaults(&c);
	assert_documented_defaults(&c);
	ck_assert_uint_eq(c.nbackends, 2);
	assert_backend(&c.backends[0], "backend1", "http://127.0.0.1:9001",
	    "127.0.0.1", 9001, 1);
	assert_backend(&c.backends[1], "backend2", "http://127.0.0.1:9002",
	    "127.0.0.1", 9002, 1);
}
END_TEST

/* The shipped sample writes every default out, so it must equal them. */
START_TEST(test_sample_config)
{
	struct rp_config c, d;
	const char *srcdir = getenv("RP_SRCDIR");
	char path[1024], err[512];
	int rc;

	snprintf(path, sizeof(path), "%s/etc/rproxyd.conf",
	    srcdir != NULL ? srcdir : ".");
	rc = config_load(path, &c, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
	config_defaults(&d);
	assert_same_settings(&c, &d);
	ck_assert_uint_eq(c.nbackends, 2);
	assert_backend(&c.backends[0], "backend1", "http://127.0.0.1:9001",
	    "127.0.0.1", 9001, 1);
	assert_backend(&c.backends[1], "backend2", "http://127.0.0.1:9002",
	    "127.0.0.1", 9002, 1);
}
END_TEST

START_TEST(test_every_key_set)
{
	struct rp_config *c;

	c = load_ok("listen = \"127.0.0.1:18080\"\n"
	    "metrics_listen = \"[::1]:18000\"\n"
	    "max_retries = 0\n"
	    "failure_threshold = 1000\n"
	    "health_cooldown = 0.5\n"
	    "connect_timeout = 0.25\n"
	    "request_timeout = 2\n"
	    "read_timeout = 1.001\n"
	    "response_timeout = 600\n"
	    "client_header_timeout = 3\n"
	    "client_body_timeout = 4\n"
	    "client_body_initial_timeout = 5\n"
	    "client_body_min_rate = 1g\n"
	    "client_body_max_timeout = 0.5\n"
	    "keepalive_timeout = 0\n"
	    "keepalive_requests = 1\n"
	    "shutdown_timeout = 0.0001\n"
	    "backend_keepalive = 0\n"
	    "max_header_size = 1m\n"
	    "max_uri_size = 256\n"
	    "max_headers = 8\n"
	    "max_body_size = 2g\n"
	    "workers = 1024\n"
	    "user = \"nobody\"\n"
	    "group = nogroup\n"
	    "pidfile = \"/tmp/r.pid\"\n"
	    "log_level = \"DEBUG\"\n"
	    "syslog_facility = local7\n"
	    "log_dir = \"/var/log/rproxyd\"\n"
	    "log_max_size = 1048576\n"
	    "log_keep = 0\n"
	    "backend a { url = \"http://[::1]:1\"\n weight = 100 }\n");
	ck_assert_str_eq(c->listen.host, "127.0.0.1");
	ck_assert_uint_eq(c->listen.port, 18080);
	ck_assert_str_eq(c->metrics_listen.host, "::1");
	ck_assert_uint_eq(c->metrics_listen.port, 18000);
	ck_assert_uint_eq(c->max_retries, 0);
	ck_assert_uint_eq(c->failure_threshold, 1000);
	ck_assert_uint_eq(c->health_cooldown_ms, 500);
	ck_assert_uint_eq(c->connect_timeout_ms, 250);
	ck_assert_uint_eq(c->request_timeout_ms, 2000);
	ck_assert_uint_eq(c->read_timeout_ms, 1001);
	ck_assert_uint_eq(c->response_timeout_ms, 600000);
	ck_assert_uint_eq(c->client_header_timeout_ms, 3000);
	ck_assert_uint_eq(c->client_body_timeout_ms, 4000);
	ck_assert_uint_eq(c->client_body_initial_timeout_ms, 5000);
	ck_assert_uint_eq(c->client_body_min_rate, 1073741824);
	ck_assert_uint_eq(c->client_body_max_timeout_ms, 500);
	ck_assert_uint_eq(c->keepalive_timeout_ms, 0);
	ck_assert_uint_eq(c->keepalive_requests, 1);
	ck_assert_uint_eq(c->shutdown_timeout_ms, 1);	/* never rounds to 0 */
	ck_assert_uint_eq(c->backend_keepalive, 0);
	ck_assert_uint_eq(c->max_header_size, 1048576);
	ck_assert_uint_eq(c->max_uri_size, 256);
	ck_assert_uint_eq(c->max_headers, 8);
	ck_assert_uint_eq(c->max_body_size, 2ULL << 30);
	ck_assert_uint_eq(c->workers, 1024);
	ck_assert_str_eq(c->user, "nobody");
	ck_assert_str_eq(c->group, "nogroup");
	ck_assert_str_eq(c->pidfile, "/tmp/r.pid");
	ck_assert_int_eq(c->log_level, LOG_DEBUG);
	ck_assert_int_eq(c->syslog_facility, LOG_LOCAL7);
	ck_assert_str_eq(c->log_dir, "/var/log/rproxyd");
	ck_assert_uint_eq(c->log_max_size, 1048576);
	ck_assert_uint_eq(c->log_keep, 0);
	ck_assert_uint_eq(c->nbackends, 1);
	assert_backend(&c->backends[0], "a", "http://[::1]:1", "::1", 1, 100);
}
END_TEST

/* Fractional seconds become milliseconds, rounded. */
static const struct {
	const char	*value;
	uint64_t	 ms;
} durations[] = {
	{ "0.25", 250 }, { "\"0.25\"", 250 }, { "1.5", 1500 }, { "0.1", 100 },
	{ "20", 20000 }, { "0.0004", 1 }, { "0.0015", 2 }, { "86400", 86400000 },
	{ "1e-3", 1 },
};

START_TEST(test_durations)
{
	struct rp_config *c;
	char body[256];

	snprintf(body, sizeof(body), "request_timeout = %s\n" BACKEND_LINE,
	    durations[_i].value);
	c = load_ok(body);
	ck_assert_uint_eq(c->request_timeout_ms, durations[_i].ms);
}
END_TEST

static const struct {
	const char	*value;
	uint64_t	 bytes;
} sizes[] = {
	{ "16k", 16384 }, { "16K", 16384 }, { "\"16k\"", 16384 },
	{ "1m", 1048576 }, { "1M", 1048576 }, { "1048576", 1048576 },
	{ "\"2048\"", 2048 }, { "3g", 3ULL << 30 }, { "3G", 3ULL << 30 },
	{ "0", 0 }, { "1", 1 },
};

START_TEST(test_sizes)
{
	struct rp_config *c;
	char body[256];

	snprintf(body, sizeof(body), "max_body_size = %s\n" BACKEND_LINE,
	    sizes[_i].value);
	c = load_ok(body);
	ck_assert_uint_eq(c->max_body_size, sizes[_i].bytes);
}
END_TEST

/* log_max_size = 0 turns the built-in rotation off, for logrotate. */
START_TEST(test_log_max_size_zero)
{
	struct rp_config *c;

	c = load_ok("log_max_size = 0\n" BACKEND_LINE);
	ck_assert_uint_eq(c->log_max_size, 0);
}
END_TEST

/* Each bad file: its body, the line the error must name, and the reason. */
static const struct {
	const char	*body;
	int		 line;		/* 0: no line in the message */
	const char	*reason;
	int		 exact;		/* reason is the whole rest */
} errors[] = {
	/* The messages promised in the brief, word for word. */
	{ BACKEND_LINE "\n"
	  "backend backend2\n{\n\n\n"
	  "  url = \"http//x\"\n}\n", 7,
	  "backend \"backend2\": bad url \"http//x\": expected http://host:port",
	  1 },
	{ BACKEND_LINE "\nlisen = \"0.0.0.0:8080\"\n", 3,
	  "unknown key \"lisen\"", 1 },
	{ "backend b1 {\n url = \"http://a:1\"\n}\n\n\n\n\n\n"
	  "backend b1 {\n url = \"http://a:2\"\n}\n", 9,
	  "duplicate backend \"b1\"", 1 },
	{ BACKEND_LINE "listen = \"0.0.0.0:70000\"\n", 2,
	  "listen \"0.0.0.0:70000\": port out of range (0-65535)", 1 },
	{ BACKEND_LINE "\n\nconnect_timeout = 0\n", 4,
	  "connect_timeout: must be a positive number of seconds", 1 },
	{ "# empty\nlisten = \"*:80\"\n", 2, "no backend defined (add one: "
	  "backend NAME { url = \"http://host:port\" })", 1 },

	/* What libconfuse lets through. */
	{ "\nbackend b {\n url = \"http://127.0.0.1:1\"\n", 2,
	  "\"{\" opened here is never closed: missing \"}\" before the end of the file", 1 },
	{ BACKEND_LINE "# c\n\nmax_retries = ${RP_CHECK_UNSET}\n", 4,
	  "${RP_CHECK_UNSET}: environment variable not set or empty (give a default: "
	  "${RP_CHECK_UNSET:-value})", 1 },
	{ BACKEND_LINE "pidfile = \"/run/${RP_CHECK_UNSET}.pid\"\n", 2,
	  "${RP_CHECK_UNSET}: environment variable not set", 0 },
	{ BACKEND_LINE "\ninclude(\"no-such.conf\")\n", 3, "include \"", 0 },
	{ BACKEND_LINE "include()\n", 2, "include: expected one file name", 0 },

	/* Integers and their ranges. */
	{ "max_retries = 17\n", 1, "max_retries: must be an integer from 0 to 16", 1 },
	{ "max_retries = -1\n", 1, "max_retries: must be an integer from 0 to 16", 1 },
	{ "max_retries = abc\n", 1, "max_retries: must be an integer", 0 },
	{ "max_retries = 1.5\n", 1, "max_retries: must be an integer", 0 },
	{ "failure_threshold = 0\n", 1, "failure_threshold: must be an integer from 1 to 1000", 1 },
	{ "keepalive_requests = 1000001\n", 1, "keepalive_requests:", 0 },
	{ "backend_keepalive = 65\n", 1, "backend_keepalive: must be an integer from 0 to 64", 1 },
	{ "max_headers = 7\n", 1, "max_headers: must be an integer from 8 to 1000", 1 },
	{ "workers = -1\n", 1, "workers: must be an integer from 0 to 1024", 1 },
	{ "max_workers = 0\n", 1, "max_workers: must be an integer from 1 to 1024", 1 },
	{ "worker_idle_timeout = 0\n", 1, "worker_idle_timeout: must be a positive", 0 },
	{ "min_workers = 600\n" BACKEND_LINE, 0,
	  "min_workers 600 is above max_workers 512", 1 },
	{ "min_spare_workers = 20\n" BACKEND_LINE, 0,
	  "min_spare_workers 20 is above max_spare_workers 16", 1 },
	{ "workers = 1025\n", 1, "workers:", 0 },
	{ "log_keep = 101\n", 1, "log_keep: must be an integer from 0 to 100", 1 },
	{ "\n\nworkers = 99999999999999999999999\n", 3, "workers: must be an integer", 0 },

	/* Durations. */
	{ "connect_timeout = -0.5\n", 1, "connect_timeout: must be a positive number of seconds", 1 },
	{ "request_timeout = soon\n", 1, "request_timeout: must be a positive number of seconds", 1 },
	{ "health_cooldown = 0.0\n", 1, "health_cooldown: must be a positive", 0 },
	{ "keepalive_timeout = -1\n", 1, "keepalive_timeout: must be a non-negative number of seconds", 1 },
	{ "read_timeout = 1e12\n", 1, "read_timeout: must be at most 31536000 seconds", 1 },
	{ "read_timeout = nan\n", 1, "read_timeout: must be a positive", 0 },
	{ "client_body_initial_timeout = 0\n", 1, "client_body_initial_timeout: must be a positive", 0 },
	{ "client_body_max_timeout = -1\n", 1, "client_body_max_timeout: must be a non-negative", 0 },

	/* Sizes. */
	{ "max_header_size = 512\n", 1, "max_header_size \"512\": out of range (1k-1m)", 1 },
	{ "max_header_size = 2m\n", 1, "max_header_size \"2m\": out of range (1k-1m)", 1 },
	{ "max_uri_size = 255\n", 1, "max_uri_size \"255\": out of range (256-1m)", 1 },
	{ "client_body_min_rate = 2g\n", 1, "client_body_min_rate \"2g\": out of range (0-1g)", 1 },
	{ "max_header_size = 16kb\n", 1, "max_header_size \"16kb\": not a size", 0 },
	{ "max_body_size = -1\n", 1, "max_body_size \"-1\": not a size", 0 },
	{ "max_body_size = 1.5m\n", 1, "not a size", 0 },
	{ "max_body_size = \"\"\n", 1, "not a size", 0 },
	{ "max_body_size = k\n", 1, "not a size", 0 },
	{ "max_body_size = 99999999999999999999\n", 1, "not a size", 0 },
	{ "max_body_size = 99999999999g\n", 1, "not a size", 0 },

	/* Addresses. */
	{ "listen = \"8080\"\n", 1, "listen \"8080\": expected host:port", 1 },
	{ "listen = \"0.0.0.0:65536\"\n", 1, "port out of range (0-65535)", 0 },
	{ "listen = \"0.0.0.0:\"\n", 1, "listen \"0.0.0.0:\": missing port", 1 },
	{ "listen = \"0.0.0.0:8o\"\n", 1, "bad port \"8o\"", 0 },
	{ "listen = \":8080\"\n", 1, "missing host", 0 },
	{ "listen = \"[::1:8080\"\n", 1, "missing \"]\"", 0 },
	{ "listen = \"[::1]8080\"\n", 1, "missing port", 0 },
	{ "listen = \"[fe80::zz]:80\"\n", 1, "bad IPv6 address", 0 },
	{ "listen = \"::1:8080\"\n", 1, "needs brackets", 0 },
	{ "listen = \"300.1.1.1:80\"\n", 1, "bad IPv4 address", 0 },
	{ "listen = \"host name:80\"\n", 1, "bad host", 0 },
	{ "metrics_listen = \"127.0.0.1:99999\"\n", 1, "metrics_listen \"127.0.0.1:99999\": port out of range", 0 },

	/* Logging. */
	{ "log_level = \"loud\"\n", 1, "log_level \"loud\": unknown level", 0 },
	{ "syslog_facility = local8\n", 1, "syslog_facility \"local8\": unknown facility", 0 },

	/* Strings that do not fit their field. */
	{ "user = \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n",
	  1, "user: too long (at most 63 characters)", 1 },

	/* Backends. */
	{ "backend b1 {\n url = \"https://a:443\"\n}\n", 2,
	  "backend \"b1\": bad url \"https://a:443\": https is not supported", 0 },
	{ "backend b1 { url = \"http://a:1\"\n weight = 0\n}\n", 2,
	  "backend \"b1\": weight: must be an integer from 1 to 100", 1 },
	{ "backend b1 { url = \"http://a:1\"\n weight = 101\n}\n", 2,
	  "backend \"b1\": weight:", 0 },
	{ "backend b1 {\n\n url = \"http://a:1\"\n port = 2\n}\n", 4,
	  "backend \"b1\": unknown key \"port\"", 1 },
	{ "backend b1 {\n weight = 2\n}\n", 3,
	  "backend \"b1\": url is required", 1 },
	{ "backend \"b 1\" { url = \"http://a:1\" }\n", 1,
	  "backend \"b 1\": bad name", 0 },
	{ "backend aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	  " { url = \"http://a:1\" }\n", 1, "bad name (1 to 63 characters", 0 },
	{ "backend { url = \"http://a:1\" }\n", 1, "backend: missing name", 1 },
	{ "backend b1 url = \"http://a:1\"\n", 1, "backend: missing \"{\"", 1 },
	{ "backend b1 {\n url \"http://a:1\"\n}\n", 2, "url: missing \"=\"", 0 },

	/* Comments must not shift line numbers (libconfuse 3.3 counts them twice). */
	{ "# one\n// two\n" BACKEND_LINE "  # three\nlisen = 1\n", 5,
	  "unknown key \"lisen\"", 1 },
	{ "/* one\n two */\n" BACKEND_LINE "\nlisen = 1\n", 5,
	  "unknown key \"lisen\"", 1 },
	{ BACKEND_LINE "\nmetrics_listen = \"#not a comment\" # but this is\nlisen = 1\n",
	  3, "metrics_listen", 0 },

	/* Syntax. */
	{ BACKEND_LINE "listen = \"0.0.0.0:80\" }\n", 2, "unexpected closing brace", 1 },
};

START_TEST(test_errors)
{
	struct rp_config c;
	char err[512], prefix[256];
	const char *rest;

	ck_assert_int_eq(load(errors[_i].body, &c, err, sizeof(err)), -1);
	if (errors[_i].line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%d: ", conf_path,
		    errors[_i].line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", conf_path);
	ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0,
	    "case %d: \"%s\" does not start with \"%s\"", _i, err, prefix);
	rest = err + strlen(prefix);
	if (errors[_i].exact)
		ck_assert_msg(strcmp(rest, errors[_i].reason) == 0,
		    "case %d: got \"%s\", want \"%s\"", _i, rest,
		    errors[_i].reason);
	else
		ck_assert_msg(strstr(rest, errors[_i].reason) != NULL,
		    "case %d: \"%s\" lacks \"%s\"", _i, rest, errors[_i].reason);
}
END_TEST

START_TEST(test_missing_file)
{
	struct rp_config c;
	char err[512], want[256];

	ck_assert_int_eq(config_load(conf_path, &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", conf_path);
	ck_assert_str_eq(err, want);

	/* A directory would make the scanner exit; it must be refused first. */
	ck_assert_int_eq(config_load(conf_dir, &c, err, sizeof(err)), -1);
	ck_assert_ptr_ne(strstr(err, "not a regular file"), NULL);
}
END_TEST

START_TEST(test_too_many_backends)
{
	struct rp_config *c, d;
	char *body, line[128], err[512], want[256];
	size_t len = 0, cap = 16384;
	int i;

	ck_assert_ptr_ne(body = calloc(1, cap), NULL);
	for (i = 1; i <= RP_MAX_BACKENDS; i++) {
		snprintf(line, sizeof(line),
		    "backend b%d { url = \"http://10.0.0.%d:80\" }\n", i, i);
		memcpy(body + len, line, strlen(line) + 1);
		len += strlen(line);
	}
	c = load_ok(body);
	ck_assert_uint_eq(c->nbackends, RP_MAX_BACKENDS);
	assert_backend(&c->backends[RP_MAX_BACKENDS - 1], "b64",
	    "http://10.0.0.64:80", "10.0.0.64", 80, 1);

	snprintf(body + len, cap - len, "backend b65 { url = \"http://a:1\" }\n");
	ck_assert_int_eq(load(body, &d, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:%d: too many backends (at most %d)",
	    conf_path, RP_MAX_BACKENDS + 1, RP_MAX_BACKENDS);
	ck_assert_str_eq(err, want);
	free(body);
}
END_TEST

/* ${VAR:-default} as the original project's .env names are mapped. */
START_TEST(test_env_variables)
{
	struct rp_config *c;

	unsetenv("RP_CHECK_UNSET");
	c = load_ok("max_retries = ${RP_CHECK_UNSET:-4}\n" BACKEND_LINE);
	ck_assert_uint_eq(c->max_retries, 4);
	ck_assert_int_eq(setenv("RP_CHECK_SET", "3", 1), 0);
	c = load_ok("max_retries = ${RP_CHECK_SET}\n"
	    "listen = \"127.0.0.1:${RP_CHECK_SET:-1}\"\n" BACKEND_LINE);
	ck_assert_uint_eq(c->max_retries, 3);
	ck_assert_uint_eq(c->listen.port, 3);
	/* Single quotes are not expanded, so not checked; comments neither. */
	c = load_ok("pidfile = '/run/${RP_CHECK_UNSET}'\n# ${RP_CHECK_UNSET}\n" BACKEND_LINE);
	ck_assert_str_eq(c->pidfile, "/run/${RP_CHECK_UNSET}");
}
END_TEST

/* etc/rproxyd-env.conf: the original's defaults unset, its .env names set. */
START_TEST(test_env_sample)
{
	static const char *const names[] = {
		"PROXY_PORT", "METRICS_PORT", "BACKEND_1", "BACKEND_2",
		"MAX_RETRIES", "FAILURE_THRESHOLD", "HEALTH_COOLDOWN",
		"REQUEST_TIMEOUT_CONNECT", "REQUEST_TIMEOUT_TOTAL", "LOG_LEVEL",
		"LOG_DIR", "PIDFILE",
	};
	const char *srcdir = getenv("RP_SRCDIR");
	struct rp_config c, d;
	char path[1024], err[512];
	size_t i;

	snprintf(path, sizeof(path), "%s/etc/rproxyd-env.conf",
	    srcdir != NULL ? srcdir : ".");
	for (i = 0; i < nitems(names); i++)
		unsetenv(names[i]);
	if (config_load(path, &c, err, sizeof(err)) != 0)
		ck_abort_msg("%s", err);
	config_defaults(&d);
	assert_same_settings(&c, &d);
	ck_assert_uint_eq(c.nbackends, 2);
	ck_assert_str_eq(c.backends[1].url, "http://127.0.0.1:9002");

	ck_assert_int_eq(setenv("PROXY_PORT", "8181", 1), 0);
	ck_assert_int_eq(setenv("BACKEND_2", "http://localhost:9102", 1), 0);
	ck_assert_int_eq(setenv("MAX_RETRIES", "4", 1), 0);
	ck_assert_int_eq(setenv("REQUEST_TIMEOUT_TOTAL", "2.5", 1), 0);
	ck_assert_int_eq(setenv("LOG_LEVEL", "DEBUG", 1), 0);
	if (config_load(path, &c, err, sizeof(err)) != 0)
		ck_abort_msg("%s", err);
	ck_assert_uint_eq(c.listen.port, 8181);
	ck_assert_str_eq(c.backends[1].addr.host, "localhost");
	ck_assert_uint_eq(c.backends[1].addr.port, 9102);
	ck_assert_uint_eq(c.max_retries, 4);
	ck_assert_uint_eq(c.request_timeout_ms, 2500);
	ck_assert_int_eq(c.log_level, LOG_DEBUG);
}
END_TEST

static void
write_file(const char *path, const char *body)
{
	FILE *fp;

	ck_assert_ptr_ne(fp = fopen(path, "w"), NULL);
	ck_assert_int_eq(fputs(body, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
}

/*
 * include("FILE"): relative to the including file whatever the working
 * directory, nested, checked like the main file, errors naming the file
 * and line they are in, comments and all.
 */
START_TEST(test_include)
{
	struct rp_config c;
	char inc[256], inc2[256], sub[256], err[512], want[512];

	snprintf(sub, sizeof(sub), "%s/sub", conf_dir);
	snprintf(inc, sizeof(inc), "%s/sub/backends.conf", conf_dir);
	snprintf(inc2, sizeof(inc2), "%s/sub/more.conf", conf_dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(chdir("/"), 0);
	write_file(inc, "# backends\n/* two\n lines */\n"
	    "backend b1 { url = \"http://127.0.0.1:9001\" }\ninclude(\"more.conf\")\n");
	write_file(inc2, "// more\nbackend b2 { url = \"http://127.0.0.1:9002\" }\n");
	ck_assert_int_eq(load("# main\ninclude(\"sub/backends.conf\")\nworkers = 3\n",
	    &c, err, sizeof(err)), 0);
	ck_assert_uint_eq(c.nbackends, 2);
	ck_assert_str_eq(c.backends[1].name, "b2");
	ck_assert_uint_eq(c.workers, 3);

	write_file(inc2, "# more\n\n\nbogus = 1\n");
	ck_assert_int_eq(load("include(\"sub/backends.conf\")\n", &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:4: unknown key \"bogus\"", inc2);
	ck_assert_str_eq(err, want);

	write_file(inc2, "# more\nworkers = ${RP_CHECK_UNSET}\n");
	ck_assert_int_eq(load("include(\"sub/backends.conf\")\n", &c, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:2: ${RP_CHECK_UNSET}:", inc2);
	ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);

	/* A file that includes itself stops at libconfuse's depth limit. */
	write_file(inc2, "include(\"more.conf\")\n");
	ck_assert_int_eq(load("include(\"sub/backends.conf\")\n", &c, err, sizeof(err)), -1);

	unlink(inc);
	unlink(inc2);
	rmdir(sub);
}
END_TEST

/* What -T prints reads back as the same configuration. */
START_TEST(test_write_reads_back)
{
	struct rp_config a, b;
	char err[512];
	FILE *fp;

	ck_assert_int_eq(load("listen = \"[::1]:81\"\nmetrics_listen = \"off\"\n"
	    "connect_timeout = 0.25\nmax_body_size = 3m\nuser = \"a\\\"b\"\n"
	    "log_level = \"warn\"\nsyslog_facility = \"local3\"\nlog_max_size = 1025\n"
	    "backend x { url = \"http://h:1/\"\n weight = 7 }\n" BACKEND_LINE,
	    &a, err, sizeof(err)), 0);
	ck_assert_ptr_ne(fp = fopen(conf_path, "w"), NULL);
	ck_assert_int_eq(config_write(&a, fp), 0);
	ck_assert_int_eq(fclose(fp), 0);
	memset(&b, 0, sizeof(b));
	if (config_load(conf_path, &b, err, sizeof(err)) != 0)
		ck_abort_msg("-T output refused: %s", err);
	assert_same_settings(&a, &b);
	ck_assert_str_eq(b.user, "a\"b");
	ck_assert_uint_eq(b.nbackends, 2);
	ck_assert_str_eq(b.backends[0].url, "http://h:1/");
	ck_assert_uint_eq(b.backends[0].weight, 7);
	ck_assert_str_eq(b.backends[1].name, "b1");
}
END_TEST

/* Reload is all or nothing: a refused file leaves *conf untouched. */
START_TEST(test_failed_load_keeps_conf)
{
	struct rp_config c, before;
	char err[512];

	config_defaults(&c);
	memcpy(&before, &c, sizeof(c));
	write_conf("workers = 3\nlisten = \"*:81\"\nbackend x { url = \"http://a:1\" }\n"
	    "max_retries = 99\n");
	ck_assert_int_eq(config_load(conf_path, &c, err, sizeof(err)), -1);
	ck_assert_int_eq(memcmp(&c, &before, sizeof(c)), 0);

	write_conf("workers = 3\n");	/* valid keys, no backend */
	ck_assert_int_eq(config_load(conf_path, &c, err, sizeof(err)), -1);
	ck_assert_int_eq(memcmp(&c, &before, sizeof(c)), 0);
}
END_TEST

START_TEST(test_listen_forms)
{
	struct rp_config *c;

	c = load_ok("listen = \"[::]:8080\"\n" BACKEND_LINE);
	ck_assert_str_eq(c->listen.host, "::");
	ck_assert_uint_eq(c->listen.port, 8080);
	c = load_ok("listen = \"*:8081\"\n" BACKEND_LINE);
	ck_assert_str_eq(c->listen.host, "0.0.0.0");
	ck_assert_uint_eq(c->listen.port, 8081);
	c = load_ok("listen = \"localhost:8082\"\n" BACKEND_LINE);
	ck_assert_str_eq(c->listen.host, "localhost");
	ck_assert_uint_eq(c->listen.port, 8082);
	c = load_ok("metrics_listen = off\n" BACKEND_LINE);
	ck_assert_uint_eq(c->metrics_listen.port, 0);
	c = load_ok("metrics_listen = \"\"\n" BACKEND_LINE);
	ck_assert_uint_eq(c->metrics_listen.port, 0);
	c = load_ok("metrics_listen = \"[::1]:9100\"\n" BACKEND_LINE);
	ck_assert_str_eq(c->metrics_listen.host, "::1");
	ck_assert_uint_eq(c->metrics_listen.port, 9100);
}
END_TEST

static const struct {
	const char	*in;
	const char	*host;		/* NULL: must be refused */
	unsigned	 port;
	const char	*why;
} listens[] = {
	{ "0.0.0.0:8080", "0.0.0.0", 8080, NULL },
	{ "127.0.0.1:1", "127.0.0.1", 1, NULL },
	{ "[::]:8080", "::", 8080, NULL },
	{ "[::ffff:127.0.0.1]:65535", "::ffff:127.0.0.1", 65535, NULL },
	{ "*:8080", "0.0.0.0", 8080, NULL },
	{ "proxy.example.com:80", "proxy.example.com", 80, NULL },
	{ "*:0", "0.0.0.0", 0, NULL },		/* the kernel picks the port */
	{ "*:", NULL, 0, "missing port" },
	{ "*", NULL, 0, "expected host:port" },
	{ "", NULL, 0, "expected host:port" },
	{ "a:65536", NULL, 0, "port out of range (0-65535)" },
	{ "a:-1", NULL, 0, "bad port" },
	{ "[::1]", NULL, 0, "missing port" },
};

START_TEST(test_parse_listen)
{
	struct rp_addr a;
	char err[256];
	int rc;

	memset(&a, 0, sizeof(a));
	err[0] = '\0';
	rc = config_parse_listen(listens[_i].in, &a, err, sizeof(err));
	if (listens[_i].host != NULL) {
		ck_assert_msg(rc == 0, "%s: %s", listens[_i].in, err);
		ck_assert_str_eq(a.host, listens[_i].host);
		ck_assert_uint_eq(a.port, listens[_i].port);
	} else {
		ck_assert_int_eq(rc, -1);
		ck_assert_msg(strstr(err, listens[_i].why) != NULL,
		    "%s: \"%s\" lacks \"%s\"", listens[_i].in, err,
		    listens[_i].why);
	}
}
END_TEST

static const struct {
	const char	*in;
	const char	*host;		/* NULL: must be refused */
	unsigned	 port;
	const char	*why;
} urls[] = {
	{ "http://127.0.0.1:9001", "127.0.0.1", 9001, NULL },
	{ "http://127.0.0.1:9001/", "127.0.0.1", 9001, NULL },
	{ "HTTP://Backend-1.example:80", "Backend-1.example", 80, NULL },
	{ "http://[::1]:9001", "::1", 9001, NULL },
	{ "http://[2001:db8::10]:8080/", "2001:db8::10", 8080, NULL },
	{ "http://localhost:65535", "localhost", 65535, NULL },
	{ "https://a:443", NULL, 0, "TLS" },
	{ "HTTPS://a:443", NULL, 0, "https is not supported" },
	{ "http//x", NULL, 0, "expected http://host:port" },
	{ "ftp://a:21", NULL, 0, "expected http://host:port" },
	{ "127.0.0.1:9001", NULL, 0, "expected http://host:port" },
	{ "", NULL, 0, "expected http://host:port" },
	{ "http://", NULL, 0, "missing host" },
	{ "http://:80", NULL, 0, "missing host" },
	{ "http://a", NULL, 0, "expected host:port" },
	{ "http://a:", NULL, 0, "missing port" },
	{ "http://a:0", NULL, 0, "port out of range (1-65535)" },
	{ "http://a:65536", NULL, 0, "port out of range (1-65535)" },
	{ "http://a:99999999999999999999", NULL, 0, "port out of range" },
	{ "http://a:80x", NULL, 0, "bad port" },
	{ "http://a:80/api", NULL, 0, "path is not allowed" },
	{ "http://a:80//", NULL, 0, "path is not allowed" },
	{ "http://a:80?x=1", NULL, 0, "query is not allowed" },
	{ "http://a:80/?x=1", NULL, 0, "path is not allowed" },
	{ "http://a:80#f", NULL, 0, "fragment is not allowed" },
	{ "http://user@a:80", NULL, 0, "user info is not allowed" },
	{ "http://u:p@a:80/", NULL, 0, "user info is not allowed" },
	{ "http://[::1:80", NULL, 0, "missing \"]\"" },
	{ "http://[::1]", NULL, 0, "missing port" },
	{ "http://::1:80", NULL, 0, "needs brackets" },
	{ "http://[nope]:80", NULL, 0, "bad IPv6 address" },
	{ "http://a b:80", NULL, 0, "bad host" },
	{ "http://*:80", NULL, 0, "bad host" },
};

START_TEST(test_parse_url)
{
	struct rp_addr a;
	char err[256];
	int rc;

	memset(&a, 0, sizeof(a));
	err[0] = '\0';
	rc = config_parse_url(urls[_i].in, &a, err, sizeof(err));
	if (urls[_i].host != NULL) {
		ck_assert_msg(rc == 0, "%s: %s", urls[_i].in, err);
		ck_assert_str_eq(a.host, urls[_i].host);
		ck_assert_uint_eq(a.port, urls[_i].port);
	} else {
		ck_assert_msg(rc == -1, "%s accepted", urls[_i].in);
		ck_assert_msg(strstr(err, urls[_i].why) != NULL,
		    "%s: \"%s\" lacks \"%s\"", urls[_i].in, err, urls[_i].why);
	}
}
END_TEST

START_TEST(test_log_levels)
{
	static const struct {
		const char	*name;
		int		 level;
	} t[] = {
		{ "emerg", LOG_EMERG }, { "alert", LOG_ALERT },
		{ "crit", LOG_CRIT }, { "err", LOG_ERR }, { "error", LOG_ERR },
		{ "warning", LOG_WARNING }, { "warn", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
		{ "INFO", LOG_INFO }, { "Debug", LOG_DEBUG },
		{ "debug", LOG_DEBUG }, { "verbose", -1 }, { "", -1 },
		{ "infos", -1 },
	};
	struct rp_config *c;
	size_t i;

	for (i = 0; i < nitems(t); i++)
		ck_assert_msg(config_log_level(t[i].name) == t[i].level,
		    "%s", t[i].name);
	c = load_ok("log_level = \"WARNING\"\n" BACKEND_LINE);
	ck_assert_int_eq(c->log_level, LOG_WARNING);
	c = load_ok("log_level = err\n" BACKEND_LINE);
	ck_assert_int_eq(c->log_level, LOG_ERR);
}
END_TEST

START_TEST(test_facilities)
{
	static const struct {
		const char	*name;
		int		 facility;
	} t[] = {
		{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
		{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
		{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "LOCAL7", LOG_LOCAL7 },
		{ "local8", -1 }, { "kern", -1 }, { "", -1 },
	};
	size_t i;

	for (i = 0; i < nitems(t); i++)
		ck_assert_msg(config_syslog_facility(t[i].name) == t[i].facility,
		    "%s", t[i].name);
}
END_TEST

/* The keys the man page must document: exactly these, each once. */
START_TEST(test_config_keys)
{
	static const char *const want[] = {
		"listen", "metrics_listen", "backend", "url", "weight",
		"max_retries", "failure_threshold", "health_cooldown",
		"connect_timeout", "request_timeout", "read_timeout",
		"response_timeout",
		"client_header_timeout", "client_body_timeout",
		"client_body_initial_timeout", "client_body_min_rate",
		"client_body_max_timeout",
		"keepalive_timeout", "keepalive_linger", "keepalive_requests",
		"shutdown_timeout",
		"backend_keepalive", "max_header_size", "max_uri_size",
		"max_headers", "max_body_size", "workers", "min_workers",
		"max_workers", "min_spare_workers", "max_spare_workers",
		"worker_idle_timeout", "user", "group",
		"pidfile", "log_level", "syslog_facility", "log_dir",
		"log_max_size", "log_keep", "include",
	};
	size_t i, j, n, found;

	for (n = 0; config_keys[n] != NULL; n++)
		for (j = 0; j < n; j++)
			ck_assert_str_ne(config_keys[j], config_keys[n]);
	ck_assert_uint_eq(n, nitems(want));
	for (i = 0; i < nitems(want); i++) {
		for (found = 0, j = 0; j < n; j++)
			found += strcmp(want[i], config_keys[j]) == 0;
		ck_assert_msg(found == 1, "key %s missing", want[i]);
	}
}
END_TEST

/* Every key the sample file sets is a known key, and every key is in it. */
START_TEST(test_sample_has_every_key)
{
	const char *srcdir = getenv("RP_SRCDIR");
	char path[1024], line[512], *text;
	size_t i, len = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/etc/rproxyd.conf",
	    srcdir != NULL ? srcdir : ".");
	ck_assert_ptr_ne(fp = fopen(path, "r"), NULL);
	ck_assert_ptr_ne(text = calloc(1, 65536), NULL);
	while (fgets(line, sizeof(line), fp) != NULL && len + strlen(line) < 65536) {
		memcpy(text + len, line, strlen(line) + 1);
		len += strlen(line);
	}
	fclose(fp);
	for (i = 0; config_keys[i] != NULL; i++) {
		char pat[128];

		/* Set, or commented out as "#key = ". */
		snprintf(pat, sizeof(pat), "%s = ", config_keys[i]);
		if (strcmp(config_keys[i], "backend") == 0)
			snprintf(pat, sizeof(pat), "backend backend1 {");
		if (strcmp(config_keys[i], "include") == 0)
			snprintf(pat, sizeof(pat), "include(\"");
		ck_assert_msg(strstr(text, pat) != NULL,
		    "%s not in the sample", config_keys[i]);
	}
	free(text);
}
END_TEST

/* Loading many times must not leak or keep state between loads. */
START_TEST(test_reload_repeatedly)
{
	struct rp_config *c;
	char err[512];
	int i;

	for (i = 0; i < 50; i++) {
		c = load_ok("workers = 2\n" BACKEND_LINE);
		ck_assert_uint_eq(c->workers, 2);
		ck_assert_int_eq(load("workers = -1\n" BACKEND_LINE, c, err,
		    sizeof(err)), -1);
	}
	c = load_ok(BACKEND_LINE);
	ck_assert_uint_eq(c->workers, 0);
	/* A fixed pool ignores the adaptive keys, even ones at odds. */
	c = load_ok("workers = 4\nmin_workers = 600\n" BACKEND_LINE);
	ck_assert_uint_eq(c->workers, 4);
}
END_TEST

/* user and group to ids: root exists everywhere, names that cannot exist fail. */
START_TEST(test_user_ids)
{
	struct rp_config	c;
	char			err[512];
	uid_t			uid = 7;
	gid_t			gid = 7;

	config_defaults(&c);
	snprintf(c.path, sizeof(c.path), "/etc/rproxyd.conf");
	ck_assert_int_eq(config_user_ids(&c, &uid, &gid, err, sizeof(err)), 0);
	ck_assert(uid == (uid_t)-1 && gid == (gid_t)-1);

	snprintf(c.user, sizeof(c.user), "root");
	ck_assert_int_eq(config_user_ids(&c, &uid, &gid, err, sizeof(err)), 0);
	ck_assert(uid == 0 && gid == 0);

	snprintf(c.group, sizeof(c.group), "rproxyd-no-such-group");
	ck_assert_int_eq(config_user_ids(&c, &uid, &gid, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/etc/rproxyd.conf: group rproxyd-no-such-group: no such group");

	snprintf(c.user, sizeof(c.user), "rproxyd-no-such-user");
	ck_assert_int_eq(config_user_ids(&c, &uid, &gid, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/etc/rproxyd.conf: user rproxyd-no-such-user: no such user");
}
END_TEST

static Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_file_defaults);
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_sample_config);
	tcase_add_test(tc, test_sample_has_every_key);
	tcase_add_test(tc, test_every_key_set);
	tcase_add_loop_test(tc, test_durations, 0, nitems(durations));
	tcase_add_loop_test(tc, test_sizes, 0, nitems(sizes));
	tcase_add_test(tc, test_log_max_size_zero);
	tcase_add_loop_test(tc, test_errors, 0, nitems(errors));
	tcase_add_test(tc, test_missing_file);
	tcase_add_test(tc, test_too_many_backends);
	tcase_add_test(tc, test_failed_load_keeps_conf);
	tcase_add_test(tc, test_env_variables);
	tcase_add_test(tc, test_env_sample);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_write_reads_back);
	tcase_add_test(tc, test_listen_forms);
	tcase_add_loop_test(tc, test_parse_listen, 0, nitems(listens));
	tcase_add_loop_test(tc, test_parse_url, 0, nitems(urls));
	tcase_add_test(tc, test_log_levels);
	tcase_add_test(tc, test_facilities);
	tcase_add_test(tc, test_config_keys);
	tcase_add_test(tc, test_reload_repeatedly);
	tcase_add_test(tc, test_user_ids);
	suite_add_tcase(s, tc);
	return s;
}

RP_CHECK_MAIN(config_suite)
