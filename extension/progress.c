/*-------------------------------------------------------------------------
 *
 * progress.c
 *	  Progress reports: pg_background_progress, called by the worker's own
 *	  SQL, writes the last report into the worker's segment; the launching
 *	  session reads it with pg_background_get_progress_v2 (its record keeps
 *	  the last one it saw when it lets go of the segment, see registry.c).
 *
 * IDENTIFICATION
 *	  extension/progress.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "progress.h"
#include "registry.h"
#include "segment.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

/* In a worker, the fixed part of its segment; NULL in any other process. */
static pg_background_fixed *my_fixed = NULL;

PG_FUNCTION_INFO_V1(pg_background_progress);
PG_FUNCTION_INFO_V1(pg_background_get_progress_v2);

/*
 * pgbg_progress_serve
 *
 * Called by the worker once it has attached: its reports go to fixed.
 */
void
pgbg_progress_serve(pg_background_fixed *fixed)
{
	my_fixed = fixed;
}

/*
 * pg_background_progress(pct int4, msg text DEFAULT NULL) RETURNS void
 *
 * Report the worker's progress: pct from 0 to 100 and an optional message
 * (its first PGBG_PROGRESS_MSG_SIZE - 1 bytes are kept).  Only a worker's
 * own SQL can report; anywhere else nobody could read the report.
 */
Datum
pg_background_progress(PG_FUNCTION_ARGS)
{
	int32		pct;
	const char *msg = NULL;
	int			len = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("progress percentage must not be null")));
	pct = PG_GETARG_INT32(0);
	if (pct < 0 || pct > 100)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("progress percentage must be between 0 and 100, not %d",
						pct)));
	if (my_fixed == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("pg_background_progress can only be called by a background worker of pg_background"),
				 errhint("Call it in the SQL that pg_background_launch_v2 or pg_background_submit_v2 runs.")));

	if (!PG_ARGISNULL(1))
	{
		text	   *t = PG_GETARG_TEXT_PP(1);

		msg = VARDATA_ANY(t);
		len = pg_mbcliplen(msg, VARSIZE_ANY_EXHDR(t), PGBG_PROGRESS_MSG_SIZE - 1);
	}

	pgbg_segment_write_progress(my_fixed, pct, msg, len);

	PG_RETURN_VOID();
}

/*
 * pg_background_get_progress_v2(pid int4, cookie int8)
 *	 RETURNS pg_background_progress
 *
 * The worker's last report, or NULL if it has not reported.
 */
Datum
pg_background_get_progress_v2(PG_FUNCTION_ARGS)
{
	pg_background_record *record;
	TupleDesc	tupdesc;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	record = pgbg_lookup_handle(PG_GETARG_INT32(0), PG_GETARG_INT64(1));
	pgbg_refresh_progress(record);
	if (record->progress.pct == PGBG_NO_PROGRESS)
		PG_RETURN_NULL();

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);

	values[0] = Int32GetDatum(record->progress.pct);
	if (record->progress.msg != NULL)
		values[1] = CStringGetTextDatum(record->progress.msg);
	else
		nulls[1] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
