/*-------------------------------------------------------------------------
 *
 * pg_background_v2.c
 *	  SQL-callable entry points of the second interface (version 1.1):
 *	  handles of (pid, cookie), fire-and-forget submission, cancel, wait,
 *	  and the session's list of workers and statistics.
 *
 * IDENTIFICATION
 *	  extension/pg_background_v2.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "compat.h"
#include "control.h"
#include "fmgr.h"
#include "funcapi.h"
#include "launch.h"
#include "miscadmin.h"
#include "registry.h"
#include "result.h"
#include "settings.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

/* Columns of pg_background_list_v2 and pg_background_stats_v2. */
#define LIST_V2_COLUMNS			9
#define STATS_V2_COLUMNS		7

PG_FUNCTION_INFO_V1(pg_background_launch_v2);
PG_FUNCTION_INFO_V1(pg_background_submit_v2);
PG_FUNCTION_INFO_V1(pg_background_result_v2);
PG_FUNCTION_INFO_V1(pg_background_detach_v2);
PG_FUNCTION_INFO_V1(pg_background_cancel_v2);
PG_FUNCTION_INFO_V1(pg_background_cancel_v2_grace);
PG_FUNCTION_INFO_V1(pg_background_wait_v2);
PG_FUNCTION_INFO_V1(pg_background_wait_v2_timeout);
PG_FUNCTION_INFO_V1(pg_background_list_v2);
PG_FUNCTION_INFO_V1(pg_background_stats_v2);

static Datum launch_v2(FunctionCallInfo fcinfo, bool discard);
static pg_background_record *handle_arg(FunctionCallInfo fcinfo);
static int32 milliseconds_arg(FunctionCallInfo fcinfo, const char *what);
static TupleDesc result_tupdesc(FunctionCallInfo fcinfo);
static pg_noreturn void error_consumed(pg_background_record *record);
static void check_list_columns(TupleDesc tupdesc);

/*
 * pg_background_launch_v2(sql text, queue_size int4 DEFAULT 0)
 *	 RETURNS pg_background_handle
 *
 * Start a worker running sql; its results are read with
 * pg_background_result_v2.  queue_size 0 means
 * pg_background.default_queue_size.
 */
Datum
pg_background_launch_v2(PG_FUNCTION_ARGS)
{
	return launch_v2(fcinfo, false);
}

/*
 * pg_background_submit_v2(sql text, queue_size int4 DEFAULT 0)
 *	 RETURNS pg_background_handle
 *
 * Start a worker running sql and discard its results: it sends nothing
 * back, so it never waits for us, and only how it ended is kept.
 */
Datum
pg_background_submit_v2(PG_FUNCTION_ARGS)
{
	return launch_v2(fcinfo, true);
}

/*
 * pg_background_result_v2(pid int4, cookie int8) RETURNS SETOF record
 *
 * pg_background_result for a handle; the results can be read once.
 */
Datum
pg_background_result_v2(PG_FUNCTION_ARGS)
{
	pg_background_record *record = handle_arg(fcinfo);

	if (record->discard)
		pgbg_error_discarded(record->pid);
	if (!pgbg_results_readable(record))
		error_consumed(record);

	pgbg_result_materialize(fcinfo, record->pid);
	return (Datum) 0;
}

/*
 * pg_background_detach_v2(pid int4, cookie int8) RETURNS void
 *
 * pg_background_detach for a handle: the worker keeps running and commits,
 * its further output is discarded.  A handle whose results are already
 * gone (read, detached, canceled, or a submitted worker that ended) has
 * nothing to detach: that is not an error.
 */
Datum
pg_background_detach_v2(PG_FUNCTION_ARGS)
{
	pg_background_record *record = handle_arg(fcinfo);

	if (pgbg_results_readable(record))
		pgbg_detach_worker(record->entry, PGBG_CONSUMED_DETACHED);

	PG_RETURN_VOID();
}

/*
 * pg_background_cancel_v2(pid int4, cookie int8) RETURNS void
 *
 * Stop the worker; its transaction rolls back (see pgbg_cancel_record).
 */
Datum
pg_background_cancel_v2(PG_FUNCTION_ARGS)
{
	pgbg_cancel_record(handle_arg(fcinfo));
	PG_RETURN_VOID();
}

/*
 * pg_background_cancel_v2_grace(pid int4, cookie int8, grace_ms int4)
 *	 RETURNS void
 *
 * Cancel the worker's statement, and end the worker if it has not exited
 * after grace_ms milliseconds (at most an hour; see
 * pgbg_cancel_record_grace).
 */
Datum
pg_background_cancel_v2_grace(PG_FUNCTION_ARGS)
{
	pg_background_record *record = handle_arg(fcinfo);

	pgbg_cancel_record_grace(record, milliseconds_arg(fcinfo, "grace period"));
	PG_RETURN_VOID();
}

/*
 * pg_background_wait_v2(pid int4, cookie int8) RETURNS void
 *
 * Wait until the worker has exited.
 */
Datum
pg_background_wait_v2(PG_FUNCTION_ARGS)
{
	(void) pgbg_wait_record(handle_arg(fcinfo), -1);
	PG_RETURN_VOID();
}

/*
 * pg_background_wait_v2_timeout(pid int4, cookie int8, timeout_ms int4)
 *	 RETURNS boolean
 *
 * Wait at most timeout_ms milliseconds; true if the worker has exited.
 */
Datum
pg_background_wait_v2_timeout(PG_FUNCTION_ARGS)
{
	pg_background_record *record = handle_arg(fcinfo);

	PG_RETURN_BOOL(pgbg_wait_record(record, milliseconds_arg(fcinfo, "timeout")));
}

/*
 * pg_background_list_v2() RETURNS SETOF record
 *
 * One row per worker the session remembers, oldest first, in the columns
 * the caller's column definition list names (see check_list_columns).
 */
Datum
pg_background_list_v2(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Tuplestorestate *tupstore;
	MemoryContext oldcontext;
	TupleDesc	tupdesc;
	ListCell   *lc;

	tupdesc = pgbg_record_set_call(fcinfo);
	check_list_columns(tupdesc);

	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = BlessTupleDesc(CreateTupleDescCopy(tupdesc));
	tupstore = tuplestore_begin_heap(false, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = tupdesc;
	MemoryContextSwitchTo(oldcontext);

	foreach(lc, pgbg_records())
	{
		pg_background_record *record = lfirst(lc);
		Datum		values[LIST_V2_COLUMNS];
		bool		nulls[LIST_V2_COLUMNS];

		memset(nulls, 0, sizeof(nulls));
		values[0] = Int32GetDatum(record->pid);
		values[1] = Int64GetDatum(record->cookie);
		values[2] = TimestampTzGetDatum(record->launched_at);
		values[3] = ObjectIdGetDatum(record->user_id);
		values[4] = Int32GetDatum(record->queue_size);
		values[5] = CStringGetTextDatum(pgbg_state_name(record->state));
		values[6] = CStringGetTextDatum(record->sql_preview);
		if (record->last_error != NULL)
			values[7] = CStringGetTextDatum(record->last_error);
		else
			nulls[7] = true;
		values[8] = BoolGetDatum(!pgbg_results_readable(record));
		tuplestore_putvalues(tupstore, tupdesc, values, nulls);
	}

	return (Datum) 0;
}

/*
 * pg_background_stats_v2() RETURNS pg_background_stats
 *
 * The session's counters: workers launched (through either interface),
 * completed, failed, canceled and still active, their average run time
 * and pg_background.max_workers.
 */
Datum
pg_background_stats_v2(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc = result_tupdesc(fcinfo);
	Datum		values[STATS_V2_COLUMNS];
	bool		nulls[STATS_V2_COLUMNS];
	int64		launched,
				completed,
				failed,
				canceled;
	int32		active;
	double		avg_ms;

	pgbg_define_settings();
	pgbg_stats(&launched, &completed, &failed, &canceled, &active, &avg_ms);

	memset(nulls, 0, sizeof(nulls));
	values[0] = Int64GetDatum(launched);
	values[1] = Int64GetDatum(completed);
	values[2] = Int64GetDatum(failed);
	values[3] = Int64GetDatum(canceled);
	values[4] = Int32GetDatum(active);
	if (avg_ms >= 0)
		values[5] = Float8GetDatum(avg_ms);
	else
		nulls[5] = true;
	values[6] = Int32GetDatum(pgbg_max_workers);

	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * launch_v2
 *
 * Launch or submit, within pg_background.max_workers, and return the
 * handle.
 */
static Datum
launch_v2(FunctionCallInfo fcinfo, bool discard)
{
	text	   *sql = PG_GETARG_TEXT_PP(0);
	int32		queue_size = PG_GETARG_INT32(1);
	pg_background_record *record;
	TupleDesc	tupdesc = result_tupdesc(fcinfo);
	Datum		values[2];
	bool		nulls[2] = {false, false};

	pgbg_define_settings();
	pgbg_check_session_limit();
	record = pgbg_launch(VARDATA_ANY(sql), VARSIZE_ANY_EXHDR(sql),
						 queue_size, discard);

	values[0] = Int32GetDatum(record->pid);
	values[1] = Int64GetDatum(record->cookie);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * handle_arg
 *
 * The record of the handle given as the first two arguments.
 */
static pg_background_record *
handle_arg(FunctionCallInfo fcinfo)
{
	return pgbg_lookup_handle(PG_GETARG_INT32(0), PG_GETARG_INT64(1));
}

/*
 * milliseconds_arg
 *
 * The third argument, a number of milliseconds that must not be negative.
 */
static int32
milliseconds_arg(FunctionCallInfo fcinfo, const char *what)
{
	int32		ms = PG_GETARG_INT32(2);

	if (ms < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be negative", what)));
	return ms;
}

/*
 * result_tupdesc
 *
 * The composite type the SQL declaration gives the function.
 */
static TupleDesc
result_tupdesc(FunctionCallInfo fcinfo)
{
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	return BlessTupleDesc(tupdesc);
}

/*
 * error_consumed
 *
 * The results of the worker were read, detached or canceled: say so.
 */
static void
error_consumed(pg_background_record *record)
{
	const char *how;

	switch (record->consumed_by)
	{
		case PGBG_CONSUMED_DETACHED:
			how = "It was detached.";
			break;
		case PGBG_CONSUMED_CANCELED:
			how = "It was canceled.";
			break;
		default:
			how = "They were read, or their reading failed.";
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the results of background worker with PID %d were already consumed",
					record->pid),
			 errdetail_internal("%s", how),
			 errhint("A worker's results can be read once.")));
	pg_unreachable();
}

/*
 * check_list_columns
 *
 * The column definition list of a pg_background_list_v2 call must be the
 * nine columns it returns, with their types (the names are the caller's).
 */
static void
check_list_columns(TupleDesc tupdesc)
{
	static const Oid types[LIST_V2_COLUMNS] = {
		INT4OID, INT8OID, TIMESTAMPTZOID, OIDOID, INT4OID,
		TEXTOID, TEXTOID, TEXTOID, BOOLOID
	};
	static const char *const names[LIST_V2_COLUMNS] = {
		"pid int4", "cookie int8", "launched_at timestamptz", "user_id oid",
		"queue_size int4", "state text", "sql_preview text",
		"last_error text", "consumed bool"
	};
	int			i;

	if (tupdesc->natts != LIST_V2_COLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("pg_background_list_v2 returns %d columns, the column definition list has %d",
						LIST_V2_COLUMNS, tupdesc->natts),
				 errhint("Call it as SELECT * FROM pg_background_list_v2() AS (pid int4, cookie int8, launched_at timestamptz, user_id oid, queue_size int4, state text, sql_preview text, last_error text, consumed bool).")));

	for (i = 0; i < LIST_V2_COLUMNS; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);

		if (attr->atttypid != types[i])
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column %d of pg_background_list_v2 is %s, the column definition list gives %s",
							i + 1, names[i], format_type_be(attr->atttypid))));
	}
}
