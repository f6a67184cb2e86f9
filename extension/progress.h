/*-------------------------------------------------------------------------
 *
 * progress.h
 *	  Progress reports of a worker (see progress.c).
 *
 * IDENTIFICATION
 *	  extension/progress.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_PROGRESS_H
#define PGBG_PROGRESS_H

#include "segment.h"

extern void pgbg_progress_serve(pg_background_fixed *fixed);

#endif							/* PGBG_PROGRESS_H */
