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
#include "utils/builtins.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

/* pg_background.text_transfer: send every column as text */
bool		pgbg_text_transfer = false;

void		_PG_init(void);

PG_FUNCTION_INFO_V1(pg_background_launch);
PG_FUNCTION_INFO_V1(pg_background_result);
PG_FUNCTION_INFO_V1(pg_background_detach);

/*
 * _PG_init
 *
 * Define our setting.  Workers load the library too, before they take over
 * the caller's settings, so the caller's value reaches them.
 */
void
_PG_init(void)
{
	DefineCustomBoolVariable("pg_background.text_transfer",
							 "Sends result rows as text rather than as datum images.",
							 "Slower, but exactly what a client would receive.",
							 &pgbg_text_transfer,
							 false,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);
#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("pg_background");
#else
	EmitWarningsOnPlaceholders("pg_background");
#endif
}

/*
 * pg_background_launch(sql text, queue_size int4 DEFAULT 65536) RETURNS int4
 *
 * Start a worker running sql in its own transaction and return its process
 * ID, to be passed to pg_background_result or pg_background_detach.
 */
Datum
pg_background_launch(PG_FUNCTION_ARGS)
{
	text	   *sql = PG_GETARG_TEXT_PP(0);
	int32		queue_size = PG_GETARG_INT32(1);

	PG_RETURN_INT32(pgbg_launch(VARDATA_ANY(sql), VARSIZE_ANY_EXHDR(sql),
								queue_size));
}

/*
 * pg_background_result(pid int4) RETURNS SETOF record
 *
 * Return the worker's rows.  The column definition list of the call says
 * what they look like.  A set-returning function in FROM has its rows
 * collected into a tuplestore by the executor whichever way it returns
 * them, so we fill the tuplestore ourselves (materialize mode): each row
 * is formed once, straight from the received values, and the worker's
 * output is consumed at the pace it arrives.
 */
Datum
pg_background_result(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int32		pid = PG_GETARG_INT32(0);
	pgbg_result_state *state;
	Tuplestorestate *tupstore;
	MemoryContext oldcontext;
	TupleDesc	tupdesc;

	/* Check the call before consuming anything */
	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record"),
				 errhint("Call pg_background_result in the FROM clause with a column definition list.")));
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set"),
				 errhint("Call pg_background_result in the FROM clause with a column definition list.")));

	/* The tuplestore and its descriptor live as long as the query */
	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTupleDescCopy(tupdesc);
	tupstore = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
									 false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = tupdesc;

	/* So does our state: the executor's shutdown callback may look at it */
	state = pgbg_result_begin(pid, tupdesc, rsinfo->econtext);
	MemoryContextSwitchTo(oldcontext);

	pgbg_result_read(state, tupstore);
	pgbg_result_end(state);

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

	pgbg_forget_worker(worker, false);

	PG_RETURN_VOID();
}
