/* config.c: read rproxyd.conf with libconfuse into a checked struct rp_config. */
#include <sys/mman.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <math.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

#include <confuse.h>

#include "config.h"

/*
 * The one declaration of every key: kind, name, default, struct field and
 * limits. The libconfuse option tables, the per-key checks, the conversion
 * into struct rp_config and config_keys[] are all generated from it.
 * INT and SIZE limits are inclusive (SIZE hi 0: no upper limit); DUR lo is
 * 1 when the value must be positive, 0 when 0 is allowed.
 */
#define CONFIG_OPTS(X)							\
	X(ADDR,	"listen",		"0.0.0.0:8080",	listen, 0, 0)	\
	X(METRICS, "metrics_listen",	"127.0.0.1:8000", metrics_listen, 0, 0) \
	X(INT,	"max_retries",		2,	max_retries, 0, 16)	\
	X(INT,	"failure_threshold",	3,	failure_threshold, 1, 1000) \
	X(DUR,	"health_cooldown",	20,	health_cooldown_ms, 1, 0) \
	X(DUR,	"connect_timeout",	0.5,	connect_timeout_ms, 1, 0) \
	X(DUR,	"request_timeout",	1.5,	request_timeout_ms, 1, 0) \
	X(DUR,	"read_timeout",		60,	read_timeout_ms, 1, 0)	\
	X(DUR,	"response_timeout",	0,	response_timeout_ms, 0, 0) \
	X(DUR,	"client_header_timeout", 10,	client_header_timeout_ms, 1, 0) \
	X(DUR,	"client_body_timeout",	60,	client_body_timeout_ms, 1, 0) \
	X(DUR,	"client_body_initial_timeout", 20, client_body_initial_timeout_ms, 1, 0) \
	X(SIZE,	"client_body_min_rate",	"500",	client_body_min_rate, 0, RP_RATE_MAX) \
	X(DUR,	"client_body_max_timeout", 0,	client_body_max_timeout_ms, 0, 0) \
	X(DUR,	"keepalive_timeout",	5,	keepalive_timeout_ms, 0, 0) \
	X(INT,	"keepalive_requests",	1000,	keepalive_requests, 1, 1000000) \
	X(DUR,	"keepalive_linger",	0.005,	keepalive_linger_ms, 0, 0) \
	X(DUR,	"shutdown_timeout",	30,	shutdown_timeout_ms, 1, 0) \
	X(INT,	"backend_keepalive",	2,	backend_keepalive, 0, 64) \
	X(SIZE,	"max_header_size",	"16k",	max_header_size, 1024, 1048576) \
	X(SIZE,	"max_uri_size",		"8k",	max_uri_size, 256, 1048576) \
	X(INT,	"max_headers",		100,	max_headers, 8, 1000)	\
	X(SIZE,	"max_body_size",	"0",	max_body_size, 0, 0)	\
	X(INT,	"workers",		0,	workers, 0, RP_WORKERS_MAX) \
	X(INT,	"min_workers",		16,	min_workers, 1, RP_WORKERS_MAX) \
	X(INT,	"max_workers",		512,	max_workers, 1, RP_WORKERS_MAX) \
	X(INT,	"min_spare_workers",	8,	min_spare_workers, 0, RP_WORKERS_MAX) \
	X(INT,	"max_spare_workers",	16,	max_spare_workers, 1, RP_WORKERS_MAX) \
	X(DUR,	"worker_idle_timeout",	10,	worker_idle_timeout_ms, 1, 0) \
	X(STR,	"user",			"",	user, 0, 0)		\
	X(STR,	"group",		"",	group, 0, 0)		\
	X(STR,	"pidfile",		"/run/rproxyd.pid", pidfile, 0, 0) \
	X(LEVEL, "log_level",		"info",	log_level, 0, 0)	\
	X(FACILITY, "syslog_facility",	"daemon", syslog_facility, 0, 0) \
	X(STR,	"log_dir",		"",	log_dir, 0, 0)		\
	X(SIZE,	"log_max_size",		"10m",	log_max_size, 0, 0)	\
	X(INT,	"log_keep",		5,	log_keep, 0, 100)

/* Keys inside each "backend NAME { }" section, same columns. */
#define CONFIG_BACKEND_OPTS(X)						\
	X(URL,	"url",			"",	url, 0, 0)		\
	X(INT,	"weight",		1,	weight, 1, RP_WEIGHT_MAX)

#define CONFIG_BACKEND	"backend"
#define CONFIG_INCLUDE	"include"

/* Longest duration accepted: a year, far from overflowing milliseconds. */
#define CONFIG_DUR_MAX	31536000.0

enum config_kind {
	CONFIG_ADDR, CONFIG_METRICS, CONFIG_INT, CONFIG_DUR, CONFIG_SIZE,
	CONFIG_STR, CONFIG_LEVEL, CONFIG_FACILITY, CONFIG_URL
};

/* What a per-key check needs to know: limits and the room in the struct. */
struct config_key {
	enum config_kind kind;
	const char	*name;
	long		 lo, hi;
	size_t		 room;
};

/* The libconfuse tables. */
#define CONFIG_OPT_ADDR(k, d)		CFG_STR(k, d, CFGF_NONE)
#define CONFIG_OPT_METRICS(k, d)	CFG_STR(k, d, CFGF_NONE)
#define CONFIG_OPT_INT(k, d)		CFG_INT(k, d, CFGF_NONE)
#define CONFIG_OPT_DUR(k, d)		CFG_FLOAT(k, d, CFGF_NONE)
#define CONFIG_OPT_SIZE(k, d)		CFG_STR(k, d, CFGF_NONE)
#define CONFIG_OPT_STR(k, d)		CFG_STR(k, d, CFGF_NONE)
#define CONFIG_OPT_LEVEL(k, d)		CFG_STR(k, d, CFGF_NONE)
#define CONFIG_OPT_FACILITY(k, d)	CFG_STR(k, d, CFGF_NONE)
#define CONFIG_OPT_URL(k, d)		CFG_STR(k, d, CFGF_NONE)
#define CONFIG_OPT(kind, key, def, field, lo, hi) CONFIG_OPT_##kind(key, def),

static cfg_opt_t config_backend_opts[] = {
	CONFIG_BACKEND_OPTS(CONFIG_OPT)
	CFG_END()
};

static int	config_include(cfg_t *, cfg_opt_t *, int, const char **);

static cfg_opt_t config_opts[] = {
	CONFIG_OPTS(CONFIG_OPT)
	CFG_FUNC(CONFIG_INCLUDE, config_include),
	CFG_SEC(CONFIG_BACKEND, config_backend_opts,
	    CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_END()
};

#define CONFIG_ROOM(type, field)	sizeof(((type *)0)->field)
#define CONFIG_DESC(kind, key, def, field, lo, hi)			\
	{ CONFIG_##kind, key, lo, hi, CONFIG_ROOM(struct rp_config, field) },
#define CONFIG_BDESC(kind, key, def, field, lo, hi)			\
	{ CONFIG_##kind, key, lo, hi, CONFIG_ROOM(struct rp_backend_conf, field) },

static const struct config_key config_desc[] = {
	CONFIG_OPTS(CONFIG_DESC)
	CONFIG_BACKEND_OPTS(CONFIG_BDESC)
};

/* config_desc[] holds the top-level keys first, then the section's. */
#define CONFIG_ONE(kind, key, def, field, lo, hi) + 1
enum { CONFIG_NTOP = 0 CONFIG_OPTS(CONFIG_ONE) };

#define CONFIG_NAME(kind, key, def, field, lo, hi) key,

const char *const config_keys[] = {
	CONFIG_OPTS(CONFIG_NAME)
	CONFIG_BACKEND,
	CONFIG_BACKEND_OPTS(CONFIG_NAME)
	CONFIG_INCLUDE,
	NULL
};

/* The original project's two backends, for config_defaults() only. */
#define CONFIG_DEFAULT_BACKENDS						\
	CONFIG_BACKEND " backend1 { url = \"http://127.0.0.1:9001\" }\n"	\
	CONFIG_BACKEND " backend2 { url = \"http://127.0.0.1:9002\" }\n"

/*
 * libconfuse's error callback has no user pointer, so the load in progress
 * is reached through this. The lexer is global state anyway: one parse at
 * a time.
 */
#define CONFIG_INCLUDES_MAX	32
struct config_ctx {
	const char	*file;
	char		*err;
	size_t		 errlen;
	int		 failed;
	int		 lines;			/* of the main file */
	/* Included files as the lexer reads them (a memfd) and their names. */
	int		 fds[CONFIG_INCLUDES_MAX];
	char		*names[CONFIG_INCLUDES_MAX];
	size_t		 nfiles;
};
static struct config_ctx *config_cur;

/* libconfuse messages taking one option name, rewritten as ours. */
static const struct {
	const char	*fmt;
	const char	*pre, *post;
} config_msgs[] = {
	{ "no such option '%s'", "unknown key \"", "\"" },
	{ "found duplicate title '%s'", "duplicate " CONFIG_BACKEND " \"", "\"" },
	{ "missing title for section '%s'", "", ": missing name" },
	{ "missing equal sign after option '%s'", "", ": missing \"=\"" },
	{ "missing opening brace for section '%s'", "", ": missing \"{\"" },
	{ "unexpected token '%s'", "unexpected \"", "\"" },
	{ "duplicate option '%s' not allowed", "", ": given twice" },
	{ "invalid integer value for option '%s'", NULL, NULL },
	{ "integer value for option '%s' is out of range", NULL, NULL },
	{ "invalid floating point value for option '%s'", NULL, NULL },
	{ "floating point value for option '%s' is out of range", NULL, NULL },
};

static const struct {
	const char	*name;
	int		 value;
} config_levels[] = {
	{ "emerg", LOG_EMERG }, { "alert", LOG_ALERT }, { "crit", LOG_CRIT },
	{ "err", LOG_ERR }, { "error", LOG_ERR },
	{ "warning", LOG_WARNING }, { "warn", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO }, { "debug", LOG_DEBUG },
}, config_facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

static void	config_errf(char *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

static void
config_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Copy a checked string; fails only when it does not fit. */
static int
config_copy(char *dst, size_t room, const char *src)
{
	if (strlen(src) >= room)
		return -1;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

int
config_log_level(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < nitems(config_levels); i++)
		if (strcasecmp(name, config_levels[i].name) == 0)
			return config_levels[i].value;
	return -1;
}

int
config_syslog_facility(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < nitems(config_facilities); i++)
		if (strcasecmp(name, config_facilities[i].name) == 0)
			return config_facilities[i].value;
	return -1;
}

/* "lowest".."65535", digits only: a listen address may ask for port 0. */
static int
config_parse_port(const char *s, unsigned lowest, uint16_t *port, char *err,
    size_t errlen)
{
	unsigned long v = 0;
	const char *p;

	if (*s == '\0') {
		config_errf(err, errlen, "missing port");
		return -1;
	}
	for (p = s; *p != '\0'; p++) {
		if (!isdigit((unsigned char)*p)) {
			config_errf(err, errlen, "bad port \"%s\"", s);
			return -1;
		}
		if (v <= 65535)
			v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v < lowest || v > 65535) {
		config_errf(err, errlen, "port out of range (%u-65535)", lowest);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

/* A host name or dotted IPv4 address, as a resolver would take it. */
static int
config_check_host(const char *host, char *err, size_t errlen)
{
	struct in_addr in;
	const char *p;
	int numeric = 1;

	if (*host == '\0') {
		config_errf(err, errlen, "missing host");
		return -1;
	}
	for (p = host; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("-._", *p) == NULL) {
			config_errf(err, errlen, "bad host \"%s\"", host);
			return -1;
		}
		if (!isdigit((unsigned char)*p) && *p != '.')
			numeric = 0;
	}
	if (numeric && inet_pton(AF_INET, host, &in) != 1) {
		config_errf(err, errlen, "bad IPv4 address \"%s\"", host);
		return -1;
	}
	return 0;
}

/* "host:port" or "[v6]:port"; the port is required. */
static int
config_parse_hostport(const char *s, size_t len, unsigned lowest,
    struct rp_addr *addr, char *err, size_t errlen)
{
	struct in6_addr in6;
	char buf[RP_HOST_MAX + 8], *host, *colon, *end;

	if (len >= sizeof(buf)) {
		config_errf(err, errlen, "address too long");
		return -1;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';

	if (buf[0] == '[') {
		host = buf + 1;
		if ((end = strchr(host, ']')) == NULL) {
			config_errf(err, errlen, "missing \"]\"");
			return -1;
		}
		*end = '\0';
		if (inet_pton(AF_INET6, host, &in6) != 1) {
			config_errf(err, errlen, "bad IPv6 address \"%s\"", host);
			return -1;
		}
		if (end[1] != ':') {
			config_errf(err, errlen, "missing port");
			return -1;
		}
		colon = end + 1;
	} else {
		host = buf;
		if ((colon = strrchr(buf, ':')) == NULL) {
			config_errf(err, errlen, "expected host:port");
			return -1;
		}
		*colon = '\0';
		if (strchr(host, ':') != NULL) {
			config_errf(err, errlen,
			    "an IPv6 address needs brackets: [addr]:port");
			return -1;
		}
		if (config_check_host(host, err, errlen) == -1)
			return -1;
	}
	if (config_parse_port(colon + 1, lowest, &addr->port, err, errlen) == -1)
		return -1;
	if (config_copy(addr->host, sizeof(addr->host), host) == -1) {
		config_errf(err, errlen, "host too long");
		return -1;
	}
	return 0;
}

int
config_parse_listen(const char *s, struct rp_addr *addr, char *err,
    size_t errlen)
{
	struct rp_addr a;

	if (s == NULL) {
		config_errf(err, errlen, "missing address");
		return -1;
	}
	memset(&a, 0, sizeof(a));
	/* "*" means every IPv4 address, as in most daemons' configs. */
	if (strncmp(s, "*:", 2) == 0) {
		if (config_parse_port(s + 2, 0, &a.port, err, errlen) == -1)
			return -1;
		snprintf(a.host, sizeof(a.host), "0.0.0.0");
	} else if (config_parse_hostport(s, strlen(s), 0, &a, err, errlen) == -1)
		return -1;
	*addr = a;
	return 0;
}

/* After the authority only "" or "/" may follow; say what else was found. */
static int
config_check_url_tail(const char *tail, char *err, size_t errlen)
{
	if (*tail == '\0' || strcmp(tail, "/") == 0)
		return 0;
	if (*tail == '?')
		config_errf(err, errlen, "a query is not allowed");
	else if (*tail == '#')
		config_errf(err, errlen, "a fragment is not allowed");
	else
		config_errf(err, errlen,
		    "a path is not allowed (only a trailing \"/\")");
	return -1;
}

int
config_parse_url(const char *url, struct rp_addr *addr, char *err,
    size_t errlen)
{
	struct rp_addr a;
	const char *auth;
	size_t len;

	if (url == NULL || *url == '\0') {
		config_errf(err, errlen, "expected http://host:port");
		return -1;
	}
	if (strncasecmp(url, "https://", 8) == 0) {
		config_errf(err, errlen,
		    "https is not supported (rproxyd does not speak TLS to "
		    "backends): use http://host:port");
		return -1;
	}
	if (strncasecmp(url, "http://", 7) != 0) {
		config_errf(err, errlen, "expected http://host:port");
		return -1;
	}
	auth = url + 7;
	len = strcspn(auth, "/?#");
	if (memchr(auth, '@', len) != NULL) {
		config_errf(err, errlen, "user info is not allowed");
		return -1;
	}
	if (len == 0) {
		config_errf(err, errlen, "missing host");
		return -1;
	}
	memset(&a, 0, sizeof(a));
	if (config_check_url_tail(auth + len, err, errlen) == -1 ||
	    config_parse_hostport(auth, len, 1, &a, err, errlen) == -1)
		return -1;
	*addr = a;
	return 0;
}

/* metrics_listen: an address, or "" / "off" for no metrics endpoint. */
static int
config_parse_metrics(const char *s, struct rp_addr *addr, char *err,
    size_t errlen)
{
	if (s == NULL || *s == '\0' || strcasecmp(s, "off") == 0) {
		memset(addr, 0, sizeof(*addr));
		return 0;
	}
	return config_parse_listen(s, addr, err, errlen);
}

/* A byte count: digits with an optional k, m or g (powers of 1024). */
static int
config_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p;

	if (s == NULL || !isdigit((unsigned char)*s))
		return -1;
	for (p = s; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (tolower((unsigned char)*p)) {
	case '\0':
		break;
	case 'k':
		mult = 1024;
		break;
	case 'm':
		mult = 1024 * 1024;
		break;
	case 'g':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		return -1;
	}
	if (*p != '\0' && p[1] != '\0')
		return -1;
	if (v > UINT64_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

/* Write a byte count the way a user would: 1048576 as "1m". */
static const char *
config_size_str(uint64_t v, char *buf, size_t len)
{
	static const char units[] = "gmk";
	uint64_t mult = (uint64_t)1 << 30;
	size_t i;

	for (i = 0; i < 3; i++, mult >>= 10)
		if (v != 0 && v % mult == 0) {
			snprintf(buf, len, "%llu%c",
			    (unsigned long long)(v / mult), units[i]);
			return buf;
		}
	snprintf(buf, len, "%llu", (unsigned long long)v);
	return buf;
}

/* Seconds to milliseconds, rounded; a positive value never becomes 0. */
static uint64_t
config_ms(double s)
{
	uint64_t ms = (uint64_t)(s * 1000.0 + 0.5);

	return ms == 0 && s > 0 ? 1 : ms;
}

static const struct config_key *
config_find(const char *name)
{
	size_t i;

	for (i = 0; i < nitems(config_desc); i++)
		if (strcmp(config_desc[i].name, name) == 0)
			return &config_desc[i];
	return NULL;
}

static void
config_int_msg(const struct config_key *k, char *err, size_t errlen)
{
	config_errf(err, errlen, "%s: must be an integer from %ld to %ld",
	    k->name, k->lo, k->hi);
}

static void
config_dur_msg(const struct config_key *k, char *err, size_t errlen)
{
	config_errf(err, errlen, "%s: must be a %snumber of seconds", k->name,
	    k->lo > 0 ? "positive " : "non-negative ");
}

static int
config_check_int(const struct config_key *k, long v, char *err, size_t errlen)
{
	if (v < k->lo || v > k->hi) {
		config_int_msg(k, err, errlen);
		return -1;
	}
	return 0;
}

static int
config_check_dur(const struct config_key *k, double v, char *err,
    size_t errlen)
{
	if (isnan(v) || v < 0 || (k->lo > 0 && v == 0)) {
		config_dur_msg(k, err, errlen);
		return -1;
	}
	if (v > CONFIG_DUR_MAX) {
		config_errf(err, errlen, "%s: must be at most %.0f seconds",
		    k->name, CONFIG_DUR_MAX);
		return -1;
	}
	return 0;
}

static int
config_check_size(const struct config_key *k, const char *s, char *err,
    size_t errlen)
{
	char lo[32], hi[32];
	uint64_t v;

	if (config_parse_size(s, &v) == -1) {
		config_errf(err, errlen, "%s \"%s\": not a size (a number, "
		    "optionally followed by k, m or g)", k->name, s);
		return -1;
	}
	if (v < (uint64_t)k->lo || (k->hi > 0 && v > (uint64_t)k->hi)) {
		config_size_str((uint64_t)k->lo, lo, sizeof(lo));
		config_size_str((uint64_t)k->hi, hi, sizeof(hi));
		if (k->hi > 0)
			config_errf(err, errlen, "%s \"%s\": out of range "
			    "(%s-%s)", k->name, s, lo, hi);
		else
			config_errf(err, errlen, "%s \"%s\": must be at least "
			    "%s", k->name, s, lo);
		return -1;
	}
	return 0;
}

static int
config_check_str(const struct config_key *k, const char *s, char *err,
    size_t errlen)
{
	char why[256];
	struct rp_addr a;
	int rc = 0;

	why[0] = '\0';
	switch (k->kind) {
	case CONFIG_ADDR:
		rc = config_parse_listen(s, &a, why, sizeof(why));
		break;
	case CONFIG_METRICS:
		rc = config_parse_metrics(s, &a, why, sizeof(why));
		break;
	case CONFIG_URL:
		if (config_parse_url(s, &a, why, sizeof(why)) == -1) {
			config_errf(err, errlen, "bad %s \"%s\": %s", k->name,
			    s, why);
			return -1;
		}
		break;
	case CONFIG_LEVEL:
		if (config_log_level(s) == -1) {
			config_errf(err, errlen, "%s \"%s\": unknown level "
			    "(emerg, alert, crit, err, warning, notice, info, "
			    "debug)", k->name, s);
			return -1;
		}
		break;
	case CONFIG_FACILITY:
		if (config_syslog_facility(s) == -1) {
			config_errf(err, errlen, "%s \"%s\": unknown facility "
			    "(daemon, user, local0 to local7)", k->name, s);
			return -1;
		}
		break;
	default:
		break;
	}
	if (rc == -1) {
		config_errf(err, errlen, "%s \"%s\": %s", k->name, s, why);
		return -1;
	}
	if ((k->kind == CONFIG_STR || k->kind == CONFIG_URL) &&
	    strlen(s) >= k->room) {
		config_errf(err, errlen, "%s: too long (at most %zu characters)",
		    k->name, k->room - 1);
		return -1;
	}
	return 0;
}

/* Check one value of key k; the same rules for the file and the defaults. */
static int
config_check_opt(const struct config_key *k, cfg_opt_t *opt, char *err,
    size_t errlen)
{
	switch (k->kind) {
	case CONFIG_INT:
		return config_check_int(k, cfg_opt_getnint(opt, 0), err, errlen);
	case CONFIG_DUR:
		return config_check_dur(k, cfg_opt_getnfloat(opt, 0), err,
		    errlen);
	case CONFIG_SIZE:
		return config_check_size(k, cfg_opt_getnstr(opt, 0), err,
		    errlen);
	default:
		return config_check_str(k, cfg_opt_getnstr(opt, 0), err,
		    errlen);
	}
}

/* libconfuse validation callback: runs as each value is read, at its line. */
static int
config_validate(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct config_key *k;
	char msg[512];

	if ((k = config_find(opt->name)) == NULL)
		return 0;
	if (config_check_opt(k, opt, msg, sizeof(msg)) == -1) {
		cfg_error(cfg, "%s", msg);
		return -1;
	}
	return 0;
}

static int
config_check_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len >= RP_NAME_MAX)
		return -1;
	return strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-") == len ? 0 : -1;
}

/* Runs when a backend section closes: its name, its url, the count. */
static int
config_validate_backend(cfg_t *cfg, cfg_opt_t *opt)
{
	unsigned n = cfg_opt_size(opt);
	cfg_t *sec = cfg_opt_getnsec(opt, n - 1);

	if (n > RP_MAX_BACKENDS) {
		cfg_error(cfg, "too many backends (at most %d)",
		    RP_MAX_BACKENDS);
		return -1;
	}
	if (config_check_name(cfg_title(sec)) == -1) {
		cfg_error(sec, "bad name (1 to %d characters of A-Z a-z 0-9 "
		    "_ . -)", RP_NAME_MAX - 1);
		return -1;
	}
	if (*cfg_getstr(sec, "url") == '\0') {
		cfg_error(sec, "url is required");
		return -1;
	}
	return 0;
}

/* Rewrite a libconfuse message about option NAME; 0 if fmt is not one. */
static int
config_rewrite(const char *fmt, va_list ap, char *buf, size_t len)
{
	const struct config_key *k;
	const char *name;
	size_t i;
	va_list aq;

	for (i = 0; i < nitems(config_msgs); i++)
		if (strcmp(fmt, config_msgs[i].fmt) == 0)
			break;
	if (i == nitems(config_msgs))
		return 0;
	va_copy(aq, ap);
	name = va_arg(aq, const char *);
	va_end(aq);
	if (config_msgs[i].pre != NULL)
		snprintf(buf, len, "%s%s%s", config_msgs[i].pre, name,
		    config_msgs[i].post);
	else if ((k = config_find(name)) != NULL && k->kind == CONFIG_DUR)
		config_dur_msg(k, buf, len);
	else if (k != NULL && k->kind == CONFIG_INT)
		config_int_msg(k, buf, len);
	else
		snprintf(buf, len, "%s: bad number", name);
	return 1;
}

/* The file an error is in: the lexer knows an included one by its memfd. */
static const char *
config_file_name(const struct config_ctx *ctx, const char *lexer_name)
{
	char fdpath[64];
	size_t i;

	if (lexer_name == NULL)
		return ctx->file;
	for (i = 0; i < ctx->nfiles; i++) {
		snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", ctx->fds[i]);
		if (strcmp(lexer_name, fdpath) == 0)
			return ctx->names[i];
	}
	return lexer_name;
}

static void	config_on_error(cfg_t *, const char *, va_list)
		    __attribute__((format(printf, 2, 0)));

/* libconfuse error callback: keep the first error as "FILE:LINE: reason". */
static void
config_on_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct config_ctx *ctx = config_cur;
	char msg[512], where[RP_NAME_MAX + 32];
	const char *file;

	if (ctx == NULL || ctx->failed)
		return;
	ctx->failed = 1;
	if (!config_rewrite(fmt, ap, msg, sizeof(msg)))
		vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Errors inside a section name it: backend "b1": ... */
	where[0] = '\0';
	if (cfg != NULL && cfg->title != NULL)
		snprintf(where, sizeof(where), "%s \"%s\": ", cfg->name,
		    cfg->title);
	file = config_file_name(ctx, cfg != NULL ? cfg->filename : NULL);
	if (cfg != NULL && cfg->line > 0)
		config_errf(ctx->err, ctx->errlen, "%s:%d: %s%s", file,
		    cfg->line, where, msg);
	else
		config_errf(ctx->err, ctx->errlen, "%s: %s%s", file, where,
		    msg);
}

/* A libconfuse tree with our error and validation callbacks. */
static cfg_t *
config_new(void)
{
	char path[64];
	cfg_t *cfg;
	size_t i;

	if ((cfg = cfg_init(config_opts, CFGF_NONE)) == NULL)
		return NULL;
	cfg_set_error_function(cfg, config_on_error);
	for (i = 0; i < nitems(config_desc); i++) {
		/* Keys of the section are named by their path in it. */
		if (i < CONFIG_NTOP)
			snprintf(path, sizeof(path), "%s", config_desc[i].name);
		else
			snprintf(path, sizeof(path), CONFIG_BACKEND "|%s",
			    config_desc[i].name);
		cfg_set_validate_func(cfg, path, config_validate);
	}
	cfg_set_validate_func(cfg, CONFIG_BACKEND, config_validate_backend);
	return cfg;
}

/*
 * Conversion of one checked key into its field. Each re-checks through
 * config_check_opt() so that a default never slips through unvalidated.
 */
#define CONFIG_FILL_INT(c, key, p, f)	(p)->f = cfg_getint(c, key)
#define CONFIG_FILL_DUR(c, key, p, f)	(p)->f = config_ms(cfg_getfloat(c, key))
#define CONFIG_FILL_SIZE(c, key, p, f) do {				\
	uint64_t v_ = 0;						\
	(void)config_parse_size(cfg_getstr(c, key), &v_);		\
	(p)->f = v_;							\
} while (0)
#define CONFIG_FILL_STR(c, key, p, f)					\
	(void)config_copy((p)->f, sizeof((p)->f), cfg_getstr(c, key))
#define CONFIG_FILL_ADDR(c, key, p, f)					\
	(void)config_parse_listen(cfg_getstr(c, key), &(p)->f, NULL, 0)
#define CONFIG_FILL_METRICS(c, key, p, f)				\
	(void)config_parse_metrics(cfg_getstr(c, key), &(p)->f, NULL, 0)
#define CONFIG_FILL_LEVEL(c, key, p, f)					\
	(p)->f = config_log_level(cfg_getstr(c, key))
#define CONFIG_FILL_FACILITY(c, key, p, f)				\
	(p)->f = config_syslog_facility(cfg_getstr(c, key))
#define CONFIG_FILL_URL(c, key, p, f) do {				\
	(void)config_copy((p)->f, sizeof((p)->f), cfg_getstr(c, key));	\
	(void)config_parse_url(cfg_getstr(c, key), &(p)->addr, NULL, 0);	\
} while (0)
#define CONFIG_FILL(kind, key, def, field, lo, hi) do {			\
	if (config_check_key(cfg, key, err, errlen) == -1)		\
		return -1;						\
	CONFIG_FILL_##kind(cfg, key, p, field);				\
} while (0);

static int
config_check_key(cfg_t *cfg, const char *key, char *err, size_t errlen)
{
	return config_check_opt(config_find(key), cfg_getopt(cfg, key), err,
	    errlen);
}

static int
config_fill_backend(cfg_t *cfg, struct rp_backend_conf *p, char *err,
    size_t errlen)
{
	if (config_copy(p->name, sizeof(p->name), cfg_title(cfg)) == -1) {
		config_errf(err, errlen, "backend name too long");
		return -1;
	}
	CONFIG_BACKEND_OPTS(CONFIG_FILL)
	return 0;
}

/* The adaptive pool's keys against each other (unused with a fixed workers). */
static int
config_check_pool(const struct rp_config *p, char *err, size_t errlen)
{
	if (p->workers > 0)
		return 0;
	if (p->min_workers > p->max_workers) {
		config_errf(err, errlen, "min_workers %u is above max_workers %u",
		    p->min_workers, p->max_workers);
		return -1;
	}
	if (p->min_spare_workers > p->max_spare_workers) {
		config_errf(err, errlen, "min_spare_workers %u is above "
		    "max_spare_workers %u", p->min_spare_workers, p->max_spare_workers);
		return -1;
	}
	return 0;
}

/* Convert a parsed (or default-only) tree into *p; backends as found. */
static int
config_fill(cfg_t *cfg, struct rp_config *p, char *err, size_t errlen)
{
	unsigned i, n;

	CONFIG_OPTS(CONFIG_FILL)
	if (config_check_pool(p, err, errlen) == -1)
		return -1;
	n = cfg_size(cfg, CONFIG_BACKEND);
	if (n > RP_MAX_BACKENDS) {
		config_errf(err, errlen, "too many backends (at most %d)",
		    RP_MAX_BACKENDS);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (config_fill_backend(cfg_getnsec(cfg, CONFIG_BACKEND, i),
		    &p->backends[i], err, errlen) == -1)
			return -1;
	p->nbackends = n;
	return 0;
}

void
config_defaults(struct rp_config *conf)
{
	char err[256];
	cfg_t *cfg;

	memset(conf, 0, sizeof(*conf));
	/*
	 * Parsed like a file so the backends get their defaults from the same
	 * table. Failing here is out of memory at startup or a bad default in
	 * this file: nothing sane to return either way.
	 */
	if ((cfg = config_new()) == NULL ||
	    cfg_parse_buf(cfg, CONFIG_DEFAULT_BACKENDS) != CFG_SUCCESS ||
	    config_fill(cfg, conf, err, sizeof(err)) == -1)
		abort();
	cfg_free(cfg);
}

/*
 * Blank out comments (#, //, and C-style), keeping every newline. libconfuse
 * 3.3 counts each comment's line twice, so without this every error after a
 * comment would name the wrong line.
 */
static void
config_strip_comments(char *p, size_t len)
{
	enum { CODE, DQUOTE, SQUOTE, LINE, BLOCK } st = CODE;
	size_t	i;

	for (i = 0; i < len; i++) {
		switch (st) {
		case CODE:
			if (p[i] == '"')
				st = DQUOTE;
			else if (p[i] == '\'')
				st = SQUOTE;
			else if (p[i] == '#' ||
			    (p[i] == '/' && i + 1 < len && p[i + 1] == '/'))
				st = LINE;
			else if (p[i] == '/' && i + 1 < len && p[i + 1] == '*') {
				st = BLOCK;
				p[i++] = ' ';
			}
			break;
		case DQUOTE:
		case SQUOTE:
			if (p[i] == '\\' && i + 1 < len)
				i++;
			else if (p[i] == (st == DQUOTE ? '"' : '\''))
				st = CODE;
			break;
		case LINE:
			if (p[i] == '\n')
				st = CODE;
			break;
		case BLOCK:
			if (p[i] == '*' && i + 1 < len && p[i + 1] == '/') {
				p[i++] = ' ';
				p[i] = ' ';
				st = CODE;
			}
			break;
		}
		if ((st == LINE || st == BLOCK) && p[i] != '\n')
			p[i] = ' ';
	}
}

#define CONFIG_FILE_MAX	(1024 * 1024)

/* Report "FILE:LINE: reason" (LINE 0: none) unless an error is already kept. */
static void	config_fail(struct config_ctx *, const char *, int, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

static void
config_fail(struct config_ctx *ctx, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ctx->failed)
		return;
	ctx->failed = 1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		config_errf(ctx->err, ctx->errlen, "%s:%d: %s", file, line, msg);
	else
		config_errf(ctx->err, ctx->errlen, "%s: %s", file, msg);
}

/*
 * What libconfuse lets through, found in the text it is about to read:
 * a "${VAR}" without a default whose variable is unset or empty (libconfuse
 * makes it "", which an integer key reads as 0), and a "{" never closed
 * (libconfuse ends the section at the end of the file).
 */
static int
config_scan(struct config_ctx *ctx, const char *file, const char *p, size_t len)
{
	enum { CODE, DQUOTE, SQUOTE } st = CODE;
	int line = 1, depth = 0, open_line = 0;
	const char *end, *val;
	size_t i, n;

	for (i = 0; i < len; i++) {
		if (p[i] == '\n')
			line++;
		if (st != CODE && p[i] == '\\' && i + 1 < len) {
			if (p[++i] == '\n')
				line++;
			continue;
		}
		if (st == SQUOTE) {
			if (p[i] == '\'')
				st = CODE;
			continue;
		}
		if (st == DQUOTE && p[i] == '"')
			st = CODE;
		else if (st == CODE && p[i] == '"')
			st = DQUOTE;
		else if (st == CODE && p[i] == '\'')
			st = SQUOTE;
		else if (st == CODE && p[i] == '{' && depth++ == 0)
			open_line = line;
		else if (st == CODE && p[i] == '}' && depth > 0)
			depth--;
		if (p[i] != '$' || i + 1 >= len || p[i + 1] != '{' ||
		    (end = memchr(p + i, '}', len - i)) == NULL)
			continue;
		n = strcspn(p + i + 2, ":}\n");
		if (p + i + 2 + n != end || n == 0 || n > 128)
			continue;	/* has a default, or not a variable */
		{
			char name[129];

			memcpy(name, p + i + 2, n);
			name[n] = '\0';
			if ((val = getenv(name)) == NULL || *val == '\0') {
				config_fail(ctx, file, line, "${%s}: environment "
				    "variable not set or empty (give a default: "
				    "${%s:-value})", name, name);
				return -1;
			}
		}
	}
	if (depth > 0) {
		config_fail(ctx, file, open_line, "\"{\" opened here is never "
		    "closed: missing \"}\" before the end of the file");
		return -1;
	}
	if (ctx->lines == 0 && strcmp(file, ctx->file) == 0)
		ctx->lines = line - (len > 0 && p[len - 1] == '\n');
	return 0;
}

/* Read FILE, blank its comments and check it; NULL with the error in ctx. */
static char *
config_read(struct config_ctx *ctx, const char *file, size_t *lenp)
{
	struct stat st;
	FILE *fp;
	char *text;
	size_t n;

	if ((fp = fopen(file, "r")) == NULL) {
		config_fail(ctx, file, 0, "%s", strerror(errno));
		return NULL;
	}
	/* flex exits the process on a read error, so refuse directories etc. */
	if (fstat(fileno(fp), &st) == -1 || !S_ISREG(st.st_mode)) {
		config_fail(ctx, file, 0, "not a regular file");
		fclose(fp);
		return NULL;
	}
	if (st.st_size > CONFIG_FILE_MAX) {
		config_fail(ctx, file, 0, "larger than %d bytes", CONFIG_FILE_MAX);
		fclose(fp);
		return NULL;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		config_fail(ctx, file, 0, "%s", strerror(errno));
		fclose(fp);
		return NULL;
	}
	n = fread(text, 1, (size_t)st.st_size, fp);
	fclose(fp);
	config_strip_comments(text, n);
	if (config_scan(ctx, file, text, n) == -1) {
		free(text);
		return NULL;
	}
	if (n == 0)
		text[n++] = '\n';	/* fmemopen() refuses a size of 0 */
	*lenp = n;
	return text;
}

/*
 * include("FILE"): libconfuse's own include, with FILE relative to the file
 * that names it (not to the working directory, which is / once daemonized),
 * read through config_read() like the main file: the lexer is handed the
 * checked, comment-free text in a memfd that stays open until the parse ends,
 * so no descriptor number, and so no file name, is reused meanwhile.
 */
static int
config_include(cfg_t *cfg, cfg_opt_t *opt, int argc, const char **argv)
{
	struct config_ctx *ctx = config_cur;
	char path[RP_PATH_MAX], fdpath[64], *text;
	const char *cur, *slash, *av[1];
	size_t n;
	int fd, rc;

	if (argc != 1 || *argv[0] == '\0') {
		cfg_error(cfg, CONFIG_INCLUDE ": expected one file name: "
		    CONFIG_INCLUDE "(\"FILE\")");
		return 1;
	}
	if (ctx->nfiles == CONFIG_INCLUDES_MAX) {
		cfg_error(cfg, CONFIG_INCLUDE " \"%s\": more than %d files "
		    "included", argv[0], CONFIG_INCLUDES_MAX);
		return 1;
	}
	cur = config_file_name(ctx, cfg->filename);
	if (argv[0][0] == '/' || (slash = strrchr(cur, '/')) == NULL)
		rc = snprintf(path, sizeof(path), "%s", argv[0]);
	else
		rc = snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - cur),
		    cur, argv[0]);
	if (rc < 0 || (size_t)rc >= sizeof(path)) {
		cfg_error(cfg, CONFIG_INCLUDE " \"%s\": path too long", argv[0]);
		return 1;
	}
	/* A missing file is an error of the include line. */
	if (access(path, R_OK) == -1) {
		cfg_error(cfg, CONFIG_INCLUDE " \"%s\": %s", path, strerror(errno));
		return 1;
	}
	if ((text = config_read(ctx, path, &n)) == NULL)
		return 1;
	if ((ctx->names[ctx->nfiles] = strdup(path)) == NULL ||
	    (fd = memfd_create("rproxyd.conf", MFD_CLOEXEC)) == -1) {
		cfg_error(cfg, CONFIG_INCLUDE " \"%s\": %s", path, strerror(errno));
		free(ctx->names[ctx->nfiles]);
		free(text);
		return 1;
	}
	ctx->fds[ctx->nfiles++] = fd;
	rc = write(fd, text, n) == (ssize_t)n ? 0 : -1;
	free(text);
	snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
	if (rc == -1 || access(fdpath, R_OK) == -1) {
		cfg_error(cfg, CONFIG_INCLUDE " \"%s\": %s", path, rc == -1 ?
		    strerror(errno) : "/proc is not mounted");
		return 1;
	}
	av[0] = fdpath;
	return cfg_include(cfg, opt, 1, av);
}

/* Parse FILE into cfg; the error, if any, is already in ctx. */
static int
config_parse_file(cfg_t *cfg, struct config_ctx *ctx)
{
	FILE *mem;
	char *text;
	size_t n;
	int rc;

	if ((text = config_read(ctx, ctx->file, &n)) == NULL)
		return -1;
	if ((mem = fmemopen(text, n, "r")) == NULL) {
		config_fail(ctx, ctx->file, 0, "%s", strerror(errno));
		free(text);
		return -1;
	}
	/* Errors name the file being read; libconfuse frees this one. */
	free(cfg->filename);
	cfg->filename = strdup(ctx->file);
	config_cur = ctx;
	rc = cfg_parse_fp(cfg, mem);
	config_cur = NULL;
	fclose(mem);
	free(text);
	if (rc != CFG_SUCCESS) {
		config_fail(ctx, ctx->file, 0, "parse error");
		return -1;
	}
	if (cfg_size(cfg, CONFIG_BACKEND) == 0) {
		config_fail(ctx, ctx->file, ctx->lines, "no backend defined "
		    "(add one: " CONFIG_BACKEND " NAME { url = "
		    "\"http://host:port\" })");
		return -1;
	}
	return 0;
}

int
config_load(const char *file, struct rp_config *conf, char *err,
    size_t errlen)
{
	struct config_ctx ctx = { .file = file, .err = err, .errlen = errlen };
	struct rp_config *tmp = NULL;
	char why[512];
	cfg_t *cfg;
	size_t i;
	int rc = -1;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (strlen(file) >= sizeof(conf->path)) {
		config_errf(err, errlen, "%s: path too long", file);
		return -1;
	}
	if ((cfg = config_new()) == NULL ||
	    (tmp = calloc(1, sizeof(*tmp))) == NULL) {
		config_errf(err, errlen, "%s: %s", file, strerror(errno));
		goto out;
	}
	if (config_parse_file(cfg, &ctx) == -1)
		goto out;
	if (config_fill(cfg, tmp, why, sizeof(why)) == -1) {
		config_errf(err, errlen, "%s: %s", file, why);
		goto out;
	}
	(void)config_copy(tmp->path, sizeof(tmp->path), file);
	/* All or nothing: *conf changes only now that everything passed. */
	*conf = *tmp;
	rc = 0;
out:
	free(tmp);
	if (cfg != NULL)
		cfg_free(cfg);
	for (i = 0; i < ctx.nfiles; i++) {
		close(ctx.fds[i]);
		free(ctx.names[i]);
	}
	return rc;
}

/* A string as a double-quoted libconfuse value. */
static void
config_write_str(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
config_write_addr(FILE *fp, const struct rp_addr *a)
{
	char buf[RP_HOST_MAX + 16];

	snprintf(buf, sizeof(buf), strchr(a->host, ':') != NULL ? "[%s]:%u" :
	    "%s:%u", a->host, (unsigned)a->port);
	config_write_str(fp, buf);
}

static const char *
config_name_of(int v, int facility)
{
	size_t i;

	if (facility) {
		for (i = 0; i < nitems(config_facilities); i++)
			if (config_facilities[i].value == v)
				return config_facilities[i].name;
	} else
		for (i = 0; i < nitems(config_levels); i++)
			if (config_levels[i].value == v)
				return config_levels[i].name;
	return "?";
}

/* -T: one line per key, from the same table as everything else. */
#define CONFIG_PUT_INT(p, f)		fprintf(fp, "%u", (unsigned)(p)->f)
#define CONFIG_PUT_DUR(p, f)		fprintf(fp, "%.3f", (double)(p)->f / 1000.0)
#define CONFIG_PUT_SIZE(p, f)		fputs(config_size_str((p)->f, buf, sizeof(buf)), fp)
#define CONFIG_PUT_STR(p, f)		config_write_str(fp, (p)->f)
#define CONFIG_PUT_URL(p, f)		config_write_str(fp, (p)->f)
#define CONFIG_PUT_ADDR(p, f)		config_write_addr(fp, &(p)->f)
#define CONFIG_PUT_METRICS(p, f) do {					\
	if ((p)->f.port == 0)						\
		config_write_str(fp, "off");				\
	else								\
		config_write_addr(fp, &(p)->f);				\
} while (0)
#define CONFIG_PUT_LEVEL(p, f)		config_write_str(fp, config_name_of((p)->f, 0))
#define CONFIG_PUT_FACILITY(p, f)	config_write_str(fp, config_name_of((p)->f, 1))
#define CONFIG_PUT(kind, key, def, field, lo, hi) do {			\
	fprintf(fp, "%s = ", key);					\
	CONFIG_PUT_##kind(conf, field);					\
	fputc('\n', fp);						\
} while (0);
#define CONFIG_BPUT(kind, key, def, field, lo, hi) do {			\
	fprintf(fp, "\t%s = ", key);					\
	CONFIG_PUT_##kind(b, field);					\
	fputc('\n', fp);						\
} while (0);

int
config_write(const struct rp_config *conf, FILE *fp)
{
	const struct rp_backend_conf *b;
	char buf[32];
	size_t i;

	fprintf(fp, "# effective configuration of %s: defaults filled in, "
	    "includes and ${VARIABLES} resolved\n", conf->path);
	CONFIG_OPTS(CONFIG_PUT)
	for (i = 0; i < conf->nbackends; i++) {
		b = &conf->backends[i];
		fprintf(fp, CONFIG_BACKEND " %s {\n", b->name);
		CONFIG_BACKEND_OPTS(CONFIG_BPUT)
		fprintf(fp, "}\n");
	}
	fflush(fp);
	return ferror(fp) ? -1 : 0;
}

int
config_user_ids(const struct rp_config *conf, uid_t *uid, gid_t *gid, char *err,
    size_t errlen)
{
	struct passwd	*pw = NULL;
	struct group	*gr = NULL;

	if (conf->user[0] != '\0' && (pw = getpwnam(conf->user)) == NULL) {
		snprintf(err, errlen, "%s: user %s: no such user", conf->path, conf->user);
		return -1;
	}
	if (conf->group[0] != '\0' && (gr = getgrnam(conf->group)) == NULL) {
		snprintf(err, errlen, "%s: group %s: no such group", conf->path, conf->group);
		return -1;
	}
	*uid = pw != NULL ? pw->pw_uid : (uid_t)-1;
	*gid = pw == NULL ? (gid_t)-1 : gr != NULL ? gr->gr_gid : pw->pw_gid;
	return 0;
}
