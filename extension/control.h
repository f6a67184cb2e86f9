/*-------------------------------------------------------------------------
 *
 * control.h
 *	  Acting on running workers: cancel them, wait for their exit (see
 *	  control.c).
 *
 * IDENTIFICATION
 *	  extension/control.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_CONTROL_H
#define PGBG_CONTROL_H

#include "registry.h"

/* The longest grace pg_background_cancel_v2_grace gives a worker: 1 hour. */
#define PG_BACKGROUND_MAX_GRACE_MS		(60 * 60 * 1000)

extern void pgbg_cancel_record(pg_background_record *record);
extern void pgbg_cancel_record_grace(pg_background_record *record,
									 int grace_ms);
extern bool pgbg_wait_record(pg_background_record *record, int timeout_ms);
extern bool pgbg_wait_for_exiting(void);

#endif							/* PGBG_CONTROL_H */
