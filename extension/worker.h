/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The background worker's process: where the postmaster finds its main
 *	  function, and what it is called (see worker.c).
 *
 * IDENTIFICATION
 *	  extension/worker.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGBG_WORKER_H
#define PGBG_WORKER_H

#include "fmgr.h"

/* Where the postmaster finds our workers' main function. */
#define PG_BACKGROUND_LIBRARY			"pg_background"
#define PG_BACKGROUND_WORKER_MAIN		"pg_background_worker_main"

/* Name shown as backend_type and application_name of our workers. */
#define PG_BACKGROUND_WORKER_TYPE		"pg_background"

extern PGDLLEXPORT void pg_background_worker_main(Datum main_arg);

#endif							/* PGBG_WORKER_H */
