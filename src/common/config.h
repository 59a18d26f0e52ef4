/* config.h: the daemon's configuration as a plain struct, read with libconfuse. */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#include <sys/types.h>

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#define RP_MAX_BACKENDS		64	/* fixed: sizes the shared-memory table */
#define RP_NAME_MAX		64	/* backend name, with its NUL */
#define RP_HOST_MAX		256	/* host part of an address, with its NUL */
#define RP_PATH_MAX		1024
#define RP_WEIGHT_MAX		100
#define RP_WORKERS_MAX		1024
#define RP_RATE_MAX		1073741824	/* bytes per second: 1g */

/* A host and port as written ("127.0.0.1", "9001"); resolved when bound or connected. */
struct rp_addr {
	char		host[RP_HOST_MAX];	/* numeric IPv4/IPv6 or a name, no brackets */
	uint16_t	port;
};

struct rp_backend_conf {
	char		name[RP_NAME_MAX];
	char		url[RP_PATH_MAX];	/* as written, for logs */
	struct rp_addr	addr;
	unsigned	weight;			/* 1..RP_WEIGHT_MAX */
};

/* Durations are kept in milliseconds; sizes in bytes; 0 means "no limit" where said. */
struct rp_config {
	char		path[RP_PATH_MAX];	/* file it was read from */

	struct rp_addr	listen;
	struct rp_addr	metrics_listen;		/* empty host: metrics off */

	struct rp_backend_conf backends[RP_MAX_BACKENDS];
	size_t		nbackends;

	unsigned	max_retries;
	unsigned	failure_threshold;
	uint64_t	health_cooldown_ms;
	uint64_t	connect_timeout_ms;
	uint64_t	request_timeout_ms;
	uint64_t	read_timeout_ms;
	uint64_t	response_timeout_ms;	/* a whole response; 0: no limit */
	uint64_t	client_header_timeout_ms;
	uint64_t	client_body_timeout_ms;	/* longest gap */
	/* The minimum body rate: this long at first, a second more per min_rate bytes. */
	uint64_t	client_body_initial_timeout_ms;
	uint64_t	client_body_min_rate;	/* bytes per second; 0: no minimum */
	uint64_t	client_body_max_timeout_ms;	/* a whole body; 0: no limit */
	uint64_t	keepalive_timeout_ms;
	unsigned	keepalive_requests;
	uint64_t	keepalive_linger_ms;	/* a worker waits this long for the next request */
	uint64_t	shutdown_timeout_ms;
	unsigned	backend_keepalive;	/* idle pooled connections per backend per worker */

	size_t		max_header_size;
	size_t		max_uri_size;		/* request-target length */
	size_t		max_headers;		/* header count */
	uint64_t	max_body_size;		/* 0: unlimited */

	unsigned	workers;		/* fixed pool; 0: adaptive, sized by the keys below */
	unsigned	min_workers;
	unsigned	max_workers;
	unsigned	min_spare_workers;	/* idle workers kept ready */
	unsigned	max_spare_workers;	/* idle beyond this retire... */
	uint64_t	worker_idle_timeout_ms;	/* ...once idle this long */
	char		user[RP_NAME_MAX];	/* "": do not drop privileges */
	char		group[RP_NAME_MAX];
	char		pidfile[RP_PATH_MAX];

	int		log_level;		/* syslog priority, LOG_ERR..LOG_DEBUG */
	int		syslog_facility;	/* LOG_DAEMON, LOG_LOCAL0, ... */
	char		log_dir[RP_PATH_MAX];	/* "": no log files */
	uint64_t	log_max_size;		/* rotate a log file past this size */
	unsigned	log_keep;		/* rotated files kept */
};

/*
 * Read and validate FILE into *conf. On error return -1 with
 * "file:line: reason" in err; on success return 0. Never logs.
 */
int	config_load(const char *file, struct rp_config *conf, char *err, size_t errlen);

/* Fill *conf with every default and the original project's two backends. */
void	config_defaults(struct rp_config *conf);

/* Parse "http://host:port[/]" into *addr. Return -1 with the reason in err. */
int	config_parse_url(const char *url, struct rp_addr *addr, char *err, size_t errlen);

/* Parse "host:port", "[v6]:port" or "*:port" into *addr. Return -1 with the reason in err. */
int	config_parse_listen(const char *s, struct rp_addr *addr, char *err, size_t errlen);

/*
 * Write *conf to fp in the config file's syntax, one line per key with its
 * effective value (rproxyd -T). -1 when fp reports a write error.
 */
int	config_write(const struct rp_config *conf, FILE *fp);

/* Map "info", "debug", ... to a syslog priority; -1 when unknown. */
int	config_log_level(const char *name);

/* Map "daemon", "local0".."local7", "user" to a syslog facility; -1 when unknown. */
int	config_syslog_facility(const char *name);

/*
 * The ids workers run as: the user's uid, and the group's gid or else the
 * user's primary group; (uid_t)-1 and (gid_t)-1 when no user is set. -1 with
 * "FILE: user NAME: no such user" (or group) in err.
 */
int	config_user_ids(const struct rp_config *conf, uid_t *uid, gid_t *gid, char *err,
	    size_t errlen);

/* The names of every key and of include, NULL-terminated, for the man page cross-check. */
extern const char *const config_keys[];

#endif
