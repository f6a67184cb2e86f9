/*-------------------------------------------------------------------------
 *
 * pg_background.c
 *	  The library's entry: PG_MODULE_MAGIC, _PG_init, and the SQL-callable
 *	  functions of the first interface (version 1.0): launch a background
 *	  worker that runs SQL, read its results, or stop listening.
 *
 * IDENTIFICATION
 *	  extension/pg_background.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "launch.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "registry.h"
#include "result.h"
#include "settings.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(pg_background_launch);
PG_FUNCTION_INFO_V1(pg_background_result);
PG_FUNCTION_INFO_V1(pg_background_detach);

/*
 * _PG_init
 *
 * Define our settings, except in our own workers.  A worker loads the
 * library only to find its main function, and defining a setting costs a
 * sort of the whole GUC array before PostgreSQL 16 (four of them were more
 * than half of the instructions a worker spends before its query starts).
 * A worker that never calls our SQL functions does not need the settings:
 * the caller's values arrive as placeholders, as in any session that has
 * not loaded the library yet, and pgbg_text_transfer_wanted reads the one
 * the worker needs.  If the worker's SQL launches workers itself, the
 * settings are defined then, taking over those placeholders.
 */
void
_PG_init(void)
{
	if (MyBgworkerEntry != NULL &&
		strcmp(MyBgworkerEntry->bgw_library_name, PG_BACKGROUND_LIBRARY) == 0 &&
		strcmp(MyBgworkerEntry->bgw_function_name,
			   PG_BACKGROUND_WORKER_MAIN) == 0)
		return;

	pgbg_define_settings();
}

/*
 * pg_background_launch(sql text, queue_size int4 DEFAULT 0) RETURNS int4
 *
 * Start a worker running sql in its own transaction and return its process
 * ID, to be passed to pg_background_result or pg_background_detach.
 * queue_size 0 means pg_background.default_queue_size.
 */
Datum
pg_background_launch(PG_FUNCTION_ARGS)
{
	text	   *sql = PG_GETARG_TEXT_PP(0);
	int32		queue_size = PG_GETARG_INT32(1);

	PG_RETURN_INT32(pgbg_launch(VARDATA_ANY(sql), VARSIZE_ANY_EXHDR(sql),
								queue_size, false)->pid);
}

/*
 * pg_background_result(pid int4) RETURNS SETOF record
 *
 * Return the worker's rows; the column definition list of the call says
 * what they look like (see pgbg_result_materialize).
 */
Datum
pg_background_result(PG_FUNCTION_ARGS)
{
	pgbg_result_materialize(fcinfo, PG_GETARG_INT32(0));
	return (Datum) 0;
}

/*
 * pg_background_detach(pid int4) RETURNS void
 *
 * Stop listening to a worker.  It keeps running and commits; whatever it
 * still sends is discarded.
 */
Datum
pg_background_detach(PG_FUNCTION_ARGS)
{
	int32		pid = PG_GETARG_INT32(0);
	pg_background_worker *worker;

	worker = pgbg_find_worker(pid);
	if (worker == NULL)
		pgbg_error_not_attached(pid);

	pgbg_detach_worker(worker, PGBG_CONSUMED_DETACHED);

	PG_RETURN_VOID();
}
