/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Names that differ between the PostgreSQL majors the extension is built
 *	  for.  A header of its own, without a .c: every version guard that more
 *	  than one file needs is here.
 *
 * IDENTIFICATION
 *	  extension/compat.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_COMPAT_H
#define PGBG_COMPAT_H

#include "utils/wait_event.h"

/*
 * The wait event a reader reports while it polls the result queue: PostgreSQL 17
 * generates the wait event names and gave this one its long name.
 */
#if PG_VERSION_NUM >= 170000
#define PGBG_WAIT_EVENT_MQ_RECEIVE		WAIT_EVENT_MESSAGE_QUEUE_RECEIVE
#else
#define PGBG_WAIT_EVENT_MQ_RECEIVE		WAIT_EVENT_MQ_RECEIVE
#endif

/*
 * A function that never returns is declared with the specifier PostgreSQL 18
 * introduced in place of pg_attribute_noreturn(); before 18, that attribute
 * (a GCC attribute, valid before the declaration too) stands in for it.
 */
#if PG_VERSION_NUM < 180000
#define pg_noreturn pg_attribute_noreturn()
#endif

#endif							/* PGBG_COMPAT_H */
