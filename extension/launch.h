/*-------------------------------------------------------------------------
 *
 * launch.h
 *	  Starting a background worker (see launch.c).
 *
 * IDENTIFICATION
 *	  extension/launch.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_LAUNCH_H
#define PGBG_LAUNCH_H

#include "registry.h"

extern pg_background_record *pgbg_launch(const char *sql, Size sql_len,
										 int32 queue_size, bool discard);
extern void pgbg_check_session_limit(void);

#endif							/* PGBG_LAUNCH_H */
