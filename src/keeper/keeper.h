/* keeper.h: the keeper: holds every waiting client connection, hands ready ones to workers. */
#ifndef RP_KEEPER_H
#define RP_KEEPER_H

#include "proc.h"

/* Run the keeper in this (forked) process; never returns. */
void	keeper_main(const struct proc_args *a) __attribute__((noreturn));

#endif
