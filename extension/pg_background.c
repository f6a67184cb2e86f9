/*-------------------------------------------------------------------------
 *
 * pg_background.c
 *	  SQL-callable entry points of the pg_background extension: launch a
 *	  background worker that runs SQL, read its results, or stop listening.
 *
 * IDENTIFICATION
 *	  extension/pg_background.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pg_background.h"
#include "postmaster/bgworker.h"
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

/* pg_background.text_transfer: send every column as text */
bool		pgbg_text_transfer = false;

/* pg_background.max_workers: running workers per session (second interface) */
int			pgbg_max_workers = PG_BACKGROUND_DEFAULT_MAX_WORKERS;

/* pg_background.default_queue_size: the queue of a launch given queue_size 0 */
int			pgbg_default_queue_size = PG_BACKGROUND_DEFAULT_QUEUE_SIZE;

/* pg_background.worker_timeout: longest run of a worker, 0 = no limit */
int			pgbg_worker_timeout = 0;

/* Have the settings above been defined in this process? */
static bool settings_defined = false;

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
 * pgbg_define_settings
 *
 * Define the settings once per process: in _PG_init, or in a worker when
 * its SQL first needs them.
 */
void
pgbg_define_settings(void)
{
	if (settings_defined)
		return;
	settings_defined = true;

	DefineCustomBoolVariable("pg_background.text_transfer",
							 "Sends result rows as text rather than as datum images.",
							 "Slower, but exactly what a client would receive.",
							 &pgbg_text_transfer,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("pg_background.max_workers",
							"Most background workers a session may run at once through pg_background_launch_v2 and pg_background_submit_v2.",
							NULL,
							&pgbg_max_workers,
							PG_BACKGROUND_DEFAULT_MAX_WORKERS,
							1, PG_BACKGROUND_MAX_MAX_WORKERS,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_background.default_queue_size",
							"Size of the result queue of a launch that is given queue_size 0.",
							NULL,
							&pgbg_default_queue_size,
							PG_BACKGROUND_DEFAULT_QUEUE_SIZE,
							PG_BACKGROUND_MIN_QUEUE_SIZE,
							PG_BACKGROUND_MAX_QUEUE_SIZE,
							PGC_USERSET,
							GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("pg_background.worker_timeout",
							"Cancels a background worker that runs longer than this.",
							"Counted from the launch; 0 turns the limit off.",
							&pgbg_worker_timeout,
							0,
							0, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("pg_background");
#else
	EmitWarningsOnPlaceholders("pg_background");
#endif
}

/*
 * pgbg_text_transfer_wanted
 *
 * Whether rows must travel as text: pg_background.text_transfer, also in
 * a worker that has not defined the settings (see _PG_init), where it is a
 * placeholder holding the caller's value, or the worker's own SET.
 */
bool
pgbg_text_transfer_wanted(void)
{
	const char *value;
	bool		result;

	if (settings_defined)
		return pgbg_text_transfer;

	value = GetConfigOption("pg_background.text_transfer", true, false);
	return value != NULL && parse_bool(value, &result) && result;
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
