/*-------------------------------------------------------------------------
 *
 * result.c
 *	  The launching session's end of the result queue: read the worker's
 *	  messages, turn data rows into tuples of the caller's column definition
 *	  list, and raise the worker's errors and notices here.
 *
 * IDENTIFICATION
 *	  extension/result.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "libpq/pqformat.h"
#include "libpq/pqmq.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "parser/parse_coerce.h"
#include "pgstat.h"
#include "pg_background.h"
#include "port/pg_bswap.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/tuplestore.h"

/*
 * How a column of the worker's rows becomes a value of ours.
 */
#define COLUMN_TEXT				0	/* text: our column type's input function */
#define COLUMN_IMAGE			1	/* datum image of our very type: use it */
#define COLUMN_IMAGE_CONVERT	2	/* datum image of a binary coercible type
									 * or another typmod, or a domain: through
									 * its output and our input function */

/* Polling for the next batch of a flowing result: at most 1 ms */
#define PGBG_POLL_INTERVAL_US	100
#define PGBG_POLL_TRIES			10

/*
 * State of one pg_background_result call, in the function's multi-call
 * memory context.
 */
struct pgbg_result_state
{
	int32		pid;			/* the worker we read */
	pg_background_worker *worker;	/* its table entry while we read */
	bool		finished;		/* worker entry released */
	ExprContext *econtext;		/* where our shutdown callback hangs */

	/* The column definition list and how to convert text into it */
	TupleDesc	tupdesc;
	int			natts;
	FmgrInfo   *infuncs;
	Oid		   *ioparams;
	int32	   *typmods;
	Datum	   *values;
	bool	   *nulls;
	char	   *scratch;		/* one column value, NUL-terminated */
	Size		scratch_size;
	char	   *images;			/* aligned copies of a row's datum images */
	Size		images_size;

	/* How each column of the current result set arrives */
	int		   *modes;			/* COLUMN_TEXT, COLUMN_IMAGE, ... */
	int16	   *remote_typlen;	/* for images */
	bool	   *remote_typbyval;
	FmgrInfo   *remote_outfuncs;	/* for COLUMN_IMAGE_CONVERT */
	bool		all_images;		/* every column is COLUMN_IMAGE: rows need
								 * no memory of their own */
	MemoryContext row_context;	/* reset for every row that used it */
	bool		row_context_used;
	uint64		table_changes;	/* pgbg_worker_table_changes when our
								 * entry was last checked */

	/* The queue message being consumed: a batch of frames */
	const char *batch;
	Size		batch_len;
	Size		batch_pos;

	/* Where we are in the worker's output */
	bool		in_result_set;	/* RowDescription seen, command not done */
	bool		seen_result_set;	/* some statement returned rows */
	bool		flowing;		/* the last batch came without a wait */
	List	   *tags;			/* command tags of row-less statements */
	ListCell   *next_tag;		/* when returning the tags at the end */
	bool		returning_tags;
};

static shm_mq_result receive_batch(pgbg_result_state *state,
								   shm_mq_handle *mqh, Size *nbytes,
								   void **data);
static bool next_frame(pgbg_result_state *state, char *msgtype,
					   const char **body, uint32 *len);
static void check_row_description(pgbg_result_state *state,
								  const char *body, uint32 len);
static void read_message(StringInfo msg, const char *body, uint32 len);
static bool type_fits(Oid remote_type, Oid local_type);
static void check_tag_shape(pgbg_result_state *state);
static void build_row(pgbg_result_state *state, const char *body,
					  uint32 len);
static void build_tag_row(pgbg_result_state *state, const char *tag);
static bool next_row(pgbg_result_state *state);
static Datum text_value(pgbg_result_state *state, int i, const char *p,
						int32 len);
static Datum image_value(pgbg_result_state *state, int i, const char *p,
						 int32 len, Size *images_used);
static void relay_error_or_notice(pgbg_result_state *state,
								  const char *body, uint32 len);
static void release_worker(pgbg_result_state *state, bool finished);
static pg_background_worker *current_worker(pgbg_result_state *state);
static void result_shutdown(Datum arg);
static void mismatch_error(const char *detail_fmt,...) pg_attribute_printf(1, 2);

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
	state = pgbg_result_begin(pid, tupdesc, rsinfo->econtext);
	MemoryContextSwitchTo(oldcontext);

	pgbg_result_read(state, tupstore);
	pgbg_result_end(state);
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
 * pgbg_result_begin
 *
 * Claim the worker's output for one pg_background_result call and prepare
 * the conversion into the column definition list: the input functions
 * depend only on it, so they are looked up once per call, not per row.
 */
pgbg_result_state *
pgbg_result_begin(int32 pid, TupleDesc tupdesc, ExprContext *econtext)
{
	pgbg_result_state *state;
	pg_background_worker *worker;
	int			i;

	worker = pgbg_find_worker(pid);
	if (worker == NULL || worker->reading)
		pgbg_error_not_attached(pid);
	if (worker->record->discard)
		pgbg_error_discarded(pid);

	state = palloc0(sizeof(pgbg_result_state));
	state->pid = pid;
	state->worker = worker;
	state->tupdesc = tupdesc;
	state->natts = tupdesc->natts;
	state->infuncs = palloc(sizeof(FmgrInfo) * state->natts);
	state->ioparams = palloc(sizeof(Oid) * state->natts);
	state->typmods = palloc(sizeof(int32) * state->natts);
	state->values = palloc(sizeof(Datum) * state->natts);
	state->nulls = palloc(sizeof(bool) * state->natts);
	state->scratch_size = 1024;
	state->scratch = palloc(state->scratch_size);
	state->images_size = 1024;
	state->images = palloc(state->images_size);
	state->modes = palloc0(sizeof(int) * state->natts);
	state->remote_typlen = palloc0(sizeof(int16) * state->natts);
	state->remote_typbyval = palloc0(sizeof(bool) * state->natts);
	state->remote_outfuncs = palloc0(sizeof(FmgrInfo) * state->natts);
	state->row_context = AllocSetContextCreate(CurrentMemoryContext,
											   "pg_background row",
											   ALLOCSET_SMALL_SIZES);

	for (i = 0; i < state->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(tupdesc, i);
		Oid			infunc;

		getTypeInputInfo(attr->atttypid, &infunc, &state->ioparams[i]);
		fmgr_info(infunc, &state->infuncs[i]);
		state->typmods[i] = attr->atttypmod;
	}

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
 * pgbg_result_read
 *
 * Put every row of the worker's output into tupstore.  The worker blocks
 * on a full queue until we get here, and from then on we keep pace with
 * it: each row goes into the tuplestore (as a minimal tuple formed right
 * from the received values) before the next one is read.
 */
void
pgbg_result_read(pgbg_result_state *state, Tuplestorestate *tupstore)
{
	while (next_row(state))
		tuplestore_putvalues(tupstore, state->tupdesc, state->values,
							 state->nulls);
}

/*
 * next_row
 *
 * Produce the next row of the caller's result in state->values and
 * state->nulls, reading the queue as far as needed.  Returns false at the
 * end.
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
			build_tag_row(state, lfirst(state->next_tag));
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
				if (state->all_images)
				{
					/* Nothing is allocated: values point into our buffer */
					build_row(state, body, len);
					return true;
				}
				state->row_context_used = true;
				oldcontext = MemoryContextSwitchTo(state->row_context);
				build_row(state, body, len);
				MemoryContextSwitchTo(oldcontext);
				return true;

			case PGBG_MSG_ROW_DESCRIPTION:
				check_row_description(state, body, len);
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
				check_tag_shape(state);
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
 * pgbg_result_end
 *
 * The call returned its last row: detach our shutdown callback.
 */
void
pgbg_result_end(pgbg_result_state *state)
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
	uint32		len32;

	if (state->batch_pos >= state->batch_len)
	{
		pg_background_worker *worker = current_worker(state);
		shm_mq_result res;
		Size		nbytes;
		void	   *data;

		res = receive_batch(state, worker->mqh, &nbytes, &data);
		if (res != SHM_MQ_SUCCESS)
			return false;
		state->batch = data;
		state->batch_len = nbytes;
		state->batch_pos = 0;
	}
	else if (state->table_changes != pgbg_worker_table_changes)
		(void) current_worker(state);

	if (state->batch_len - state->batch_pos < PGBG_FRAME_HEADER_SIZE)
		elog(ERROR, "truncated message from background worker");
	*msgtype = state->batch[state->batch_pos];
	memcpy(&len32, state->batch + state->batch_pos + 1, sizeof(len32));
	state->batch_pos += PGBG_FRAME_HEADER_SIZE;
	if (state->batch_len - state->batch_pos < len32)
		elog(ERROR, "truncated message from background worker");
	*body = state->batch + state->batch_pos;
	*len = len32;
	state->batch_pos += len32;

	return true;
}

/*
 * receive_batch
 *
 * Receive the next queue message.  While rows are flowing, the next batch
 * is usually a fraction of a millisecond away: poll for it briefly rather
 * than sleep on our latch, which the worker, the busier side of a large
 * result, would have to wake with a signal for every single batch.  If
 * nothing comes, wait on the latch as usual.
 */
static shm_mq_result
receive_batch(pgbg_result_state *state, shm_mq_handle *mqh, Size *nbytes,
			  void **data)
{
	shm_mq_result res;
	int			i;

	res = shm_mq_receive(mqh, nbytes, data, true);
	if (res != SHM_MQ_WOULD_BLOCK)
	{
		state->flowing = true;
		return res;
	}

	if (state->flowing)
	{
		for (i = 0; i < PGBG_POLL_TRIES; i++)
		{
			pgstat_report_wait_start(PGBG_WAIT_EVENT_MQ_RECEIVE);
			pg_usleep(PGBG_POLL_INTERVAL_US);
			pgstat_report_wait_end();
			CHECK_FOR_INTERRUPTS();
			res = shm_mq_receive(mqh, nbytes, data, true);
			if (res != SHM_MQ_WOULD_BLOCK)
				return res;
		}
		state->flowing = false;
	}

	return shm_mq_receive(mqh, nbytes, data, false);
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
 * check_row_description
 *
 * A statement starts returning rows: they must fit the column definition
 * list, column for column.  Types must be equal or binary coercible (text
 * rows arrive for varchar columns, say); anything else is a mismatch.
 */
static void
check_row_description(pgbg_result_state *state, const char *body,
					  uint32 len)
{
	StringInfoData msg;
	int			natts;
	int			i;

	read_message(&msg, body, len);

	natts = pq_getmsgint(&msg, 2);
	state->all_images = true;
	if (natts != state->natts)
		mismatch_error("The query returns %d column(s), but the column definition list has %d.",
					   natts, state->natts);

	for (i = 0; i < natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(state->tupdesc, i);
		Oid			remote_type;
		int32		remote_typmod;
		int			format;

		(void) pq_getmsgrawstring(&msg);	/* column name */
		(void) pq_getmsgint(&msg, 4);	/* table OID */
		(void) pq_getmsgint(&msg, 2);	/* column number */
		remote_type = pq_getmsgint(&msg, 4);
		(void) pq_getmsgint(&msg, 2);	/* type length */
		remote_typmod = pq_getmsgint(&msg, 4);
		format = pq_getmsgint(&msg, 2);

		if (!type_fits(remote_type, attr->atttypid))
			mismatch_error("Column %d of the query has type %s, but the column definition list says %s.",
						   i + 1, format_type_be(remote_type),
						   format_type_be(attr->atttypid));

		if (format != PGBG_FORMAT_RAW)
			state->modes[i] = COLUMN_TEXT;
		else
		{
			/*
			 * The image can be used as it is if it is of our type (or one
			 * stored the same way) and no typmod or domain constraint of
			 * ours needs checking.
			 */
			get_typlenbyval(remote_type, &state->remote_typlen[i],
							&state->remote_typbyval[i]);
			if ((remote_type == attr->atttypid ||
				 get_typtype(attr->atttypid) != TYPTYPE_DOMAIN) &&
				(attr->atttypmod < 0 || attr->atttypmod == remote_typmod))
				state->modes[i] = COLUMN_IMAGE;
			else
			{
				Oid			outfunc;
				bool		isvarlena;

				getTypeOutputInfo(remote_type, &outfunc, &isvarlena);
				fmgr_info_cxt(outfunc, &state->remote_outfuncs[i],
							  GetMemoryChunkContext(state));
				state->modes[i] = COLUMN_IMAGE_CONVERT;
			}
		}
		/* A NULL goes through a non-strict input function (domain_in) */
		if (state->modes[i] != COLUMN_IMAGE || !state->infuncs[i].fn_strict)
			state->all_images = false;
	}
}

/*
 * read_message
 *
 * Point a StringInfo at a message body read from the queue, so that the
 * pq_getmsg* functions can parse it in place (PostgreSQL 16 has
 * initReadOnlyStringInfo for this; 14 and 15 do not).
 */
static void
read_message(StringInfo msg, const char *body, uint32 len)
{
	msg->data = (char *) body;
	msg->len = len;
	msg->maxlen = len;
	msg->cursor = 0;
}

/*
 * type_fits
 *
 * Can values of the worker's column type become values of ours?  Yes if
 * the types are equal or binary coercible, or if ours is a domain over
 * such a type (a RowDescription names a domain's base type).
 */
static bool
type_fits(Oid remote_type, Oid local_type)
{
	Oid			local_base;

	if (remote_type == local_type || IsBinaryCoercible(remote_type, local_type))
		return true;
	local_base = getBaseType(local_type);
	return local_base != local_type &&
		(remote_type == local_base || IsBinaryCoercible(remote_type, local_base));
}

/*
 * check_tag_shape
 *
 * Command tags are returned as a single text column.
 */
static void
check_tag_shape(pgbg_result_state *state)
{
	Oid			local_type;

	if (state->natts != 1)
		mismatch_error("The command returns its command tag as 1 column of type text, but the column definition list has %d.",
					   state->natts);
	local_type = TupleDescAttr(state->tupdesc, 0)->atttypid;
	if (!type_fits(TEXTOID, local_type))
		mismatch_error("The command returns its command tag as 1 column of type text, but the column definition list says %s.",
					   format_type_be(local_type));
}

/*
 * mismatch_error
 *
 * The caller's column definition list does not describe the worker's rows.
 */
static void
mismatch_error(const char *detail_fmt,...)
{
	va_list		args;
	StringInfoData detail;

	initStringInfo(&detail);
	for (;;)
	{
		int			needed;

		va_start(args, detail_fmt);
		needed = appendStringInfoVA(&detail, detail_fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&detail, needed);
	}

	ereport(ERROR,
			(errcode(ERRCODE_DATATYPE_MISMATCH),
			 errmsg("remote query result rowtype does not match the specified FROM clause rowtype"),
			 errdetail_internal("%s", detail.data)));
}

/*
 * build_row
 *
 * Turn one DataRow into values of the column definition list, in the
 * per-row memory context.
 */
static void
build_row(pgbg_result_state *state, const char *body, uint32 len)
{
	const char *p = body;
	const char *end = body + len;
	uint16		n16;
	Size		images_used = 0;
	int			i;

	if (len < sizeof(n16))
		elog(ERROR, "truncated data row from background worker");
	memcpy(&n16, p, sizeof(n16));
	p += sizeof(n16);
	if (pg_ntoh16(n16) != state->natts)
		elog(ERROR, "data row from background worker has %d columns, expected %d",
			 (int) pg_ntoh16(n16), state->natts);

	/* Room for aligned copies of every datum image in the row */
	if (len + state->natts * MAXIMUM_ALIGNOF > state->images_size)
	{
		MemoryContext cxt = GetMemoryChunkContext(state->images);

		pfree(state->images);
		state->images_size = Max(len + state->natts * MAXIMUM_ALIGNOF,
								 state->images_size * 2);
		state->images = MemoryContextAlloc(cxt, state->images_size);
	}

	for (i = 0; i < state->natts; i++)
	{
		uint32		n32;
		int32		collen;

		/*
		 * The input function of a column (a domain's check) may have run
		 * SQL that let go of the worker: the row lives in its segment.
		 */
		if (state->table_changes != pgbg_worker_table_changes)
			(void) current_worker(state);

		if (end - p < (ptrdiff_t) sizeof(n32))
			elog(ERROR, "truncated data row from background worker");
		memcpy(&n32, p, sizeof(n32));
		p += sizeof(n32);
		collen = (int32) pg_ntoh32(n32);

		if (collen < 0)
		{
			/* NULL; the input function still runs for domains */
			state->values[i] = InputFunctionCall(&state->infuncs[i], NULL,
												 state->ioparams[i],
												 state->typmods[i]);
			state->nulls[i] = true;
			continue;
		}

		if (end - p < collen)
			elog(ERROR, "truncated data row from background worker");

		if (state->modes[i] == COLUMN_TEXT)
			state->values[i] = text_value(state, i, p, collen);
		else
		{
			Datum		image = image_value(state, i, p, collen, &images_used);

			if (state->modes[i] == COLUMN_IMAGE)
				state->values[i] = image;
			else
			{
				char	   *str;

				str = OutputFunctionCall(&state->remote_outfuncs[i], image);
				state->values[i] = InputFunctionCall(&state->infuncs[i], str,
													 state->ioparams[i],
													 state->typmods[i]);
			}
		}
		state->nulls[i] = false;
		p += collen;
	}
}

/*
 * text_value
 *
 * A column sent as text: our type's input function makes the value.
 */
static Datum
text_value(pgbg_result_state *state, int i, const char *p, int32 len)
{
	if ((Size) len >= state->scratch_size)
	{
		MemoryContext cxt = GetMemoryChunkContext(state->scratch);

		pfree(state->scratch);
		state->scratch_size = Max((Size) len + 1, state->scratch_size * 2);
		state->scratch = MemoryContextAlloc(cxt, state->scratch_size);
	}
	memcpy(state->scratch, p, len);
	state->scratch[len] = '\0';

	return InputFunctionCall(&state->infuncs[i], state->scratch,
							 state->ioparams[i], state->typmods[i]);
}

/*
 * image_value
 *
 * A column sent as the image of its datum: rebuild the datum from an
 * aligned copy (heap_form_tuple copies it into the tuple).
 */
static Datum
image_value(pgbg_result_state *state, int i, const char *p, int32 len,
			Size *images_used)
{
	int16		typlen = state->remote_typlen[i];
	char	   *copy;

	if (state->remote_typbyval[i])
	{
		if (len != typlen)
			elog(ERROR, "malformed column from background worker");
		switch (typlen)
		{
			case sizeof(char):
				return CharGetDatum(*p);
			case sizeof(int16):
				{
					int16		v;

					memcpy(&v, p, sizeof(v));
					return Int16GetDatum(v);
				}
			case sizeof(int32):
				{
					int32		v;

					memcpy(&v, p, sizeof(v));
					return Int32GetDatum(v);
				}
#if SIZEOF_DATUM == 8
			case sizeof(Datum):
				{
					Datum		v;

					memcpy(&v, p, sizeof(v));
					return v;
				}
#endif
			default:
				elog(ERROR, "unsupported by-value type length %d", typlen);
		}
	}

	if ((typlen > 0 && len != typlen) ||
		(typlen == -1 && (len < 1 || VARSIZE_ANY(p) != (Size) len)) ||
		(typlen == -2 && (len < 1 || p[len - 1] != '\0')))
		elog(ERROR, "malformed column from background worker");

	copy = state->images + *images_used;
	memcpy(copy, p, len);
	*images_used += MAXALIGN(len);
	return PointerGetDatum(copy);
}

/*
 * build_tag_row
 *
 * One command tag as a row of a single text-like column.
 */
static void
build_tag_row(pgbg_result_state *state, const char *tag)
{
	state->values[0] = InputFunctionCall(&state->infuncs[0], (char *) tag,
										 state->ioparams[0],
										 state->typmods[0]);
	state->nulls[0] = false;
}

/*
 * relay_error_or_notice
 *
 * Raise the worker's message in this session, as parallel query does for
 * its workers: at most ERROR (the death of a worker is no reason for this
 * session to die), with a context line naming the worker.  Before raising
 * an error we let go of the worker, which is exiting anyway.
 */
static void
relay_error_or_notice(pgbg_result_state *state, const char *body,
					  uint32 len)
{
	StringInfoData msg;
	ErrorData	edata;

	read_message(&msg, body, len);

	pq_parse_errornotice(&msg, &edata);
	edata.elevel = Min(edata.elevel, ERROR);

	/*
	 * A cursor position points into the worker's SQL string, not into the
	 * caller's statement: report it as a position in an internal query.
	 */
	if (edata.cursorpos > 0)
	{
		if (edata.internalquery == NULL)
		{
			edata.internalquery = pstrdup(current_worker(state)->sql);
			edata.internalpos = edata.cursorpos;
		}
		edata.cursorpos = 0;
	}

	if (edata.context != NULL)
		edata.context = psprintf("%s\nbackground worker, pid %d",
								 edata.context, state->pid);
	else
		edata.context = psprintf("background worker, pid %d", state->pid);

	if (edata.elevel >= ERROR)
		release_worker(state, true);

	ThrowErrorData(&edata);
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
	state->batch = NULL;
	state->batch_len = state->batch_pos = 0;

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
