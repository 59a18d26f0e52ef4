/* metrics_proc.h: the metrics process: serves /metrics, unprivileged, apart from the master. */
#ifndef RP_METRICS_PROC_H
#define RP_METRICS_PROC_H

#include "proc.h"

/* Run the metrics process in this (forked) process; never returns. */
void	metrics_main(const struct proc_args *a) __attribute__((noreturn));

#endif
