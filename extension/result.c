/*-------------------------------------------------------------------------
 *
 * result.c
 *	  pg_background_result and pg_background_result_v2: a set-returning
 *	  function in materialize mode that claims a worker's output, follows
 *	  its messages (row descriptions, rows, command tags, errors and
 *	  notices, the final ready for query) and puts the rows into the
 *	  caller's tuplestore.  The queue's frames come from frame.c, the rows'
 *	  values from rowdecode.c, the errors from relay.c; the worker's entry in
 *	  registry.c is checked whenever the memory they live in may be gone.
 *
 *	  Over 400 lines: the reading is one state machine over the worker's
 *	  messages (next_row), and the checks of the worker's entry that guard
 *	  every read of its segment, with the ends of a reading (its last
 *	  message, an error, the executor's shutdown callback), belong with it.
 *
 * IDENTIFICATION
 *	  extension/result.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "frame.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "registry.h"
#include "relay.h"
#include "result.h"
#include "rowdecode.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

/*
 * State of one pg_background_result call, in the function's multi-call
 * memory context.
 */
typedef struct pgbg_result_state
{
	int32		pid;			/* the worker we read */
	pg_background_worker *worker;	/* its table entry while we read */
	bool		finished;		/* worker entry released */
	ExprContext *econtext;		/* where our shutdown callback hangs */

	pgbg_row_decoder decoder;	/* the column definition list, the row */
	MemoryContext row_context;	/* reset for every row that used it */
	bool		row_context_used;
	uint64		table_changes;	/* pgbg_worker_table_changes when our
								 * entry was last checked */

	/* The queue message being consumed: a batch of frames */
	pgbg_frame_reader frames;

	/* Where we are in the worker's output */
	bool		in_result_set;	/* RowDescription seen, command not done */
	bool		seen_result_set;	/* some statement returned rows */
	List	   *tags;			/* command tags of row-less statements */
	ListCell   *next_tag;		/* when returning the tags at the end */
	bool		returning_tags;
} pgbg_result_state;

static pgbg_result_state *result_begin(int32 pid, TupleDesc tupdesc,
									   ExprContext *econtext);
static void result_read(pgbg_result_state *state, Tuplestorestate *tupstore);
static void result_end(pgbg_result_state *state);
static bool next_row(pgbg_result_state *state);
static bool next_frame(pgbg_result_state *state, char *msgtype,
					   const char **body, uint32 *len);
static void relay_error_or_notice(pgbg_result_state *state,
								  const char *body, uint32 len);
static const char *worker_sql(void *arg);
static void check_worker(void *arg);
static pg_background_worker *current_worker(pgbg_result_state *state);
static void release_worker(pgbg_result_state *state, bool finished);
static void result_shutdown(Datum arg);

/*
 * pgbg_result_materialize
 *
 * The body of pg_background_result and pg_background_result_v2: return the
 * worker's rows as described by the call's column definition list.  A
 * set-returning function in FROM has its rows collected into a tuplestore
 * by the executor whichever way it returns them, so we fill the tuplestore
 * ourselves (materialize mode): each row is formed once, straight from the
 * received values, and the worker's output is consumed at the pace it
 * arrives.
 */
void
pgbg_result_materialize(FunctionCallInfo fcinfo, int32 pid)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	pgbg_result_state *state;
	Tuplestorestate *tupstore;
	MemoryContext oldcontext;
	TupleDesc	tupdesc;

	/* Check the call before consuming anything */
	tupdesc = pgbg_record_set_call(fcinfo);

	/* The tuplestore and its descriptor live as long as the query */
	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	tupdesc = CreateTupleDescCopy(tupdesc);
	tupstore = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
									 false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = tupstore;
	rsinfo->setDesc = tupdesc;

	/* So does our state: the executor's shutdown callback may look at it */
	state = result_begin(pid, tupdesc, rsinfo->econtext);
	MemoryContextSwitchTo(oldcontext);

	result_read(state, tupstore);
	result_end(state);
}

/*
 * pgbg_error_discarded
 *
 * The results of a submitted worker cannot be read.
 */
void
pgbg_error_discarded(int32 pid)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("the results of background worker with PID %d are discarded",
					pid),
			 errdetail("It was started by pg_background_submit_v2."),
			 errhint("Start it with pg_background_launch_v2 to read its results.")));
	pg_unreachable();
}

/*
 * pgbg_record_set_call
 *
 * A function returning SETOF record must be called in FROM with a column
 * definition list: its row type, or an error that names the function.
 */
TupleDesc
pgbg_record_set_call(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TupleDesc	tupdesc;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("function returning record called in context that cannot accept type record"),
				 errhint("Call %s in the FROM clause with a column definition list.",
						 get_func_name(fcinfo->flinfo->fn_oid))));
	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set"),
				 errhint("Call %s in the FROM clause with a column definition list.",
						 get_func_name(fcinfo->flinfo->fn_oid))));
	return tupdesc;
}

/*
 * result_begin
 *
 * Claim the worker's output for one pg_background_result call and prepare
 * the conversion of its rows into the column definition list (see
 * pgbg_decoder_init).
 */
static pgbg_result_state *
result_begin(int32 pid, TupleDesc tupdesc, ExprContext *econtext)
{
	pgbg_result_state *state;
	pg_background_worker *worker;

	worker = pgbg_find_worker(pid);
	if (worker == NULL || worker->reading)
		pgbg_error_not_attached(pid);
	if (worker->record->discard)
		pgbg_error_discarded(pid);

	state = palloc0(sizeof(pgbg_result_state));
	state->pid = pid;
	state->worker = worker;
	pgbg_decoder_init(&state->decoder, tupdesc, check_worker, state);
	state->row_context = AllocSetContextCreate(CurrentMemoryContext,
											   "pg_background row",
											   ALLOCSET_SMALL_SIZES);

	/* From here on the output is ours; see result_shutdown for early ends */
	worker->reading = true;
	worker->reading_subid = GetCurrentSubTransactionId();
	if (econtext != NULL)
	{
		state->econtext = econtext;
		RegisterExprContextCallback(econtext, result_shutdown,
									PointerGetDatum(state));
	}

	return state;
}

/*
 * result_read
 *
 * Put every row of the worker's output into tupstore.  The worker blocks
 * on a full queue until we get here, and from then on we keep pace with
 * it: each row goes into the tuplestore (as a minimal tuple formed right
 * from the received values) before the next one is read.
 */
static void
result_read(pgbg_result_state *state, Tuplestorestate *tupstore)
{
	while (next_row(state))
		tuplestore_putvalues(tupstore, state->decoder.tupdesc,
							 state->decoder.values, state->decoder.nulls);
}

/*
 * next_row
 *
 * Produce the next row of the caller's result in the decoder's values and
 * nulls, reading the queue as far as needed.  Returns false at the end.
 *
 * What the caller gets: the rows of every statement that returns rows, in
 * order, each checked against the column definition list.  If no statement
 * of the string returns rows, one text row per statement holding its
 * command tag ("INSERT 0 1").
 */
static bool
next_row(pgbg_result_state *state)
{
	if (state->row_context_used)
	{
		MemoryContextReset(state->row_context);
		state->row_context_used = false;
	}

	for (;;)
	{
		char		msgtype;
		const char *body;
		uint32		len;
		MemoryContext oldcontext;

		/* After the end of the output: the command tags, if they count */
		if (state->returning_tags)
		{
			if (state->next_tag == NULL)
				return false;
			state->row_context_used = true;
			oldcontext = MemoryContextSwitchTo(state->row_context);
			pgbg_decode_tag(&state->decoder, lfirst(state->next_tag));
			MemoryContextSwitchTo(oldcontext);
			state->next_tag = lnext(state->tags, state->next_tag);
			return true;
		}
		if (state->finished)
			return false;

		if (!next_frame(state, &msgtype, &body, &len))
		{
			/* The worker vanished without its final message */
			release_worker(state, true);
			ereport(ERROR,
					(errcode(ERRCODE_CONNECTION_FAILURE),
					 errmsg("lost connection to worker process with PID %d",
							state->pid)));
		}

		switch (msgtype)
		{
			case PGBG_MSG_DATA_ROW:
				if (!state->in_result_set)
					elog(ERROR, "data row without row description from background worker");
				if (state->decoder.all_images)
				{
					/* Nothing is allocated: values point into our buffer */
					pgbg_decode_row(&state->decoder, body, len);
					return true;
				}
				state->row_context_used = true;
				oldcontext = MemoryContextSwitchTo(state->row_context);
				pgbg_decode_row(&state->decoder, body, len);
				MemoryContextSwitchTo(oldcontext);
				return true;

			case PGBG_MSG_ROW_DESCRIPTION:
				pgbg_check_row_description(&state->decoder, body, len);
				state->in_result_set = true;
				state->seen_result_set = true;
				break;

			case PGBG_MSG_COMMAND_COMPLETE:
				if (!state->in_result_set && !state->seen_result_set)
				{
					MemoryContext cxt = GetMemoryChunkContext(state);

					oldcontext = MemoryContextSwitchTo(cxt);
					state->tags = lappend(state->tags,
										  pnstrdup(body, strnlen(body, len)));
					MemoryContextSwitchTo(oldcontext);
				}
				state->in_result_set = false;
				break;

			case PGBG_MSG_ERROR_RESPONSE:
			case PGBG_MSG_NOTICE_RESPONSE:
				state->row_context_used = true;
				oldcontext = MemoryContextSwitchTo(state->row_context);
				relay_error_or_notice(state, body, len);
				MemoryContextSwitchTo(oldcontext);
				break;

			case PGBG_MSG_READY_FOR_QUERY:
				release_worker(state, true);
				if (state->seen_result_set || state->tags == NIL)
					return false;
				pgbg_check_tag_shape(&state->decoder);
				state->returning_tags = true;
				state->next_tag = list_head(state->tags);
				break;

			default:
				/* EmptyQueryResponse, ParameterStatus, ...: nothing to do */
				break;
		}
	}
}

/*
 * result_end
 *
 * The call returned its last row: detach our shutdown callback.
 */
static void
result_end(pgbg_result_state *state)
{
	if (!state->finished)
		release_worker(state, false);
	if (state->econtext != NULL)
	{
		UnregisterExprContextCallback(state->econtext, result_shutdown,
									  PointerGetDatum(state));
		state->econtext = NULL;
	}
}

/*
 * next_frame
 *
 * Return the next message of the worker, receiving a new batch from the
 * queue when the current one is used up.  Returns false if the queue was
 * detached (the worker is gone).  The body points into the batch, which is
 * valid until the next receive.
 */
static bool
next_frame(pgbg_result_state *state, char *msgtype, const char **body,
		   uint32 *len)
{
	if (!pgbg_frame_pending(&state->frames))
	{
		pg_background_worker *worker = current_worker(state);

		if (!pgbg_frame_receive(&state->frames, worker->mqh))
			return false;
	}
	else if (state->table_changes != pgbg_worker_table_changes)
		(void) current_worker(state);

	pgbg_frame_next(&state->frames, msgtype, body, len);
	return true;
}

/*
 * current_worker
 *
 * Our table entry, checked on every batch and whenever the table has lost
 * an entry since: the batch lives in the worker's segment, so nothing may
 * be read once the entry is gone (for instance if the same query also
 * detached the worker).
 */
static pg_background_worker *
current_worker(pgbg_result_state *state)
{
	pg_background_worker *worker = pgbg_find_worker(state->pid);

	state->table_changes = pgbg_worker_table_changes;
	if (state->finished || worker == NULL || worker != state->worker ||
		!worker->reading)
	{
		state->finished = true;
		pgbg_error_not_attached(state->pid);
	}
	return worker;
}

/*
 * relay_error_or_notice
 *
 * Raise the worker's message in this session (see relay.c).  Before
 * raising an error we let go of the worker, which is exiting anyway.
 */
static void
relay_error_or_notice(pgbg_result_state *state, const char *body,
					  uint32 len)
{
	ErrorData	edata;

	pgbg_relay_parse(&edata, body, len, state->pid, worker_sql, state);
	if (edata.elevel >= ERROR)
		release_worker(state, true);

	ThrowErrorData(&edata);
}

/*
 * worker_sql
 *
 * The SQL text the worker runs, which lives in its segment.
 */
static const char *
worker_sql(void *arg)
{
	return current_worker((pgbg_result_state *) arg)->sql;
}

/*
 * check_worker
 *
 * Before each column of a row: the input function of the previous one (a
 * domain's check) may have run SQL that let go of the worker, and the row
 * lives in its segment.
 */
static void
check_worker(void *arg)
{
	pgbg_result_state *state = (pgbg_result_state *) arg;

	if (state->table_changes != pgbg_worker_table_changes)
		(void) current_worker(state);
}

/*
 * release_worker
 *
 * We are done with the worker's output: drop it from the session's table.
 */
static void
release_worker(pgbg_result_state *state, bool finished)
{
	pg_background_worker *worker;

	if (state->finished)
		return;
	state->finished = true;
	pgbg_frame_reset(&state->frames);

	worker = pgbg_find_worker(state->pid);
	if (worker == NULL || worker != state->worker || !worker->reading)
		return;
	if (finished)
		pgbg_forget_worker(worker, true, PGBG_CONSUMED_READ);
	else
		pgbg_stop_reading(worker);
}

/*
 * result_shutdown
 *
 * The executor shut the function down before it returned its last row:
 * stop listening, so that the worker does not wait for us forever.
 */
static void
result_shutdown(Datum arg)
{
	pgbg_result_state *state = (pgbg_result_state *) DatumGetPointer(arg);

	state->econtext = NULL;
	release_worker(state, false);
}
