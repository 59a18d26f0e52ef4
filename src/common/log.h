/* log.h: syslog, stderr and log-file output, one key=value event per line. */
#ifndef RP_LOG_H
#define RP_LOG_H

#include <sys/types.h>

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <syslog.h>

/*
 * ident and facility as for openlog(ident, LOG_PID, facility); level is the
 * threshold; to_stderr for -f. Connects to syslogd now, so call it before
 * fork(). A syslogd that stops reading costs one wait of at most 100 ms, then
 * lines are dropped until one goes through, followed by
 * "event=syslog_dropped lines=N" (also in rproxyd.log).
 */
void	log_init(const char *ident, int facility, int level, int to_stderr);
void	log_set_level(int level);
int	log_get_level(void);
void	log_set_stderr(int to_stderr);

/*
 * Also write to DIR/rproxyd.log and DIR/access.log; "" closes them. -1 with
 * err. Files this process creates, now and on reopen, are given to owner and
 * group unless owner is (uid_t)-1. DIR must be owned by root, this process's
 * user or owner and not writable by others; a file is never opened through a
 * symbolic link and must be regular with one link.
 */
int	log_open_dir(const char *dir, uid_t owner, gid_t group, char *err, size_t errlen);

/*
 * Copy n bytes of untrusted text (a request target, a header) for use as a
 * log value: bytes outside printable ASCII, '"' and '\' become \xHH, so the
 * line stays key=value pairs. Cut short, never inside an escape, to fit
 * dstsz; "-" when empty. Returns dst (or "-").
 */
const char	*log_escape(char *dst, size_t dstsz, const char *s, size_t n);

/*
 * Copy a formatted line to dst (dstsz bytes) so that it stays key=value
 * pairs: inside a quoted value, a '"' that does not end it (one ends it
 * before the end or before " key="), a '\' that does not start a \xHH
 * escape, and bytes outside printable ASCII become \xHH; outside, the
 * latter only. Cut short, never inside an escape, and a value cut short is
 * closed. Returns the length.
 */
size_t	log_kv_quote(char *dst, size_t dstsz, const char *src);

/* Reopen the log files (after logrotate moved them). */
void	log_reopen(void);

/*
 * Rotate each log file larger than max_size (name -> name.1 -> ... name.keep)
 * and reopen. Returns 1 when something rotated: the caller tells the other
 * writers to reopen too.
 */
int	log_rotate(uint64_t max_size, unsigned keep);

/*
 * log_warn and fatal append ": strerror(errno)", or ' error="strerror(errno)"'
 * to a key=value event (a message starting "event="), unless errno is 0; the
 * x forms do not.
 */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Request access lines: INFO, and to access.log rather than rproxyd.log. */
void	log_access(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_msg(int pri, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void	log_vmsg(int pri, int access, const char *fmt, va_list ap);

/* Log at CRIT and exit(code); fatal appends strerror(errno). */
void	fatal(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));
void	fatalx(int code, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3), noreturn));

#define log_enabled(pri)	((pri) <= log_get_level())

#endif
