/* status.h: `rproxyd -s status`: the running daemon's backends, read from shared memory. */
#ifndef RP_STATUS_H
#define RP_STATUS_H

#include <stdio.h>

#include "config.h"

/*
 * Find the daemon through conf's pidfile, map its region read-only and print
 * one line per backend to out. Returns the exit status (1 with a message on
 * err when no daemon runs or cmd is unknown).
 */
int	status_print(const struct rp_config *conf, const char *cmd, FILE *out, FILE *err);

#endif
