/*-------------------------------------------------------------------------
 *
 * relay.c
 *	  The worker's errors and notices, raised in the launching session: an
 *	  ErrorResponse or NoticeResponse from the queue becomes an ErrorData
 *	  of ours, as parallel query does for its workers.
 *
 * IDENTIFICATION
 *	  extension/relay.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "frame.h"
#include "libpq/pqmq.h"
#include "relay.h"

/*
 * pgbg_relay_parse
 *
 * Read the worker's message (body, len) into edata, ready for
 * ThrowErrorData: at most ERROR (the death of a worker is no reason for
 * this session to die), with a context line naming the worker (pid).  A
 * cursor position points into the worker's SQL string, not into the
 * caller's statement: it becomes a position in an internal query, the SQL
 * text that worker_sql(arg) returns, asked for only then.
 */
void
pgbg_relay_parse(ErrorData *edata, const char *body, uint32 len, int32 pid,
				 const char *(*worker_sql) (void *arg), void *arg)
{
	StringInfoData msg;

	pgbg_frame_message(&msg, body, len);

	pq_parse_errornotice(&msg, edata);
	edata->elevel = Min(edata->elevel, ERROR);

	if (edata->cursorpos > 0)
	{
		if (edata->internalquery == NULL)
		{
			edata->internalquery = pstrdup(worker_sql(arg));
			edata->internalpos = edata->cursorpos;
		}
		edata->cursorpos = 0;
	}

	if (edata->context != NULL)
		edata->context = psprintf("%s\nbackground worker, pid %d",
								  edata->context, pid);
	else
		edata->context = psprintf("background worker, pid %d", pid);
}
