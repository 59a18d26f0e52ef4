/* worker.h: a prefork worker: takes ready connections from the keeper, one at a time. */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include "proc.h"

/* Run a worker in this (forked) process; never returns. */
void	worker_main(const struct proc_args *a) __attribute__((noreturn));

#endif
