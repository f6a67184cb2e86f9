/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  Main function of a pg_background worker: attach to the segment, make
 *	  the result queue our client connection, become the launching
 *	  session's user with its settings, run the SQL string (execute.c)
 *	  within pg_background.worker_timeout, say we are done, and exit.
 *
 * IDENTIFICATION
 *	  extension/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/xact.h"
#include "execute.h"
#include "gucstate.h"
#include "libpq/libpq.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "mqcomm.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "progress.h"
#include "segment.h"
#include "storage/proc.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/timeout.h"
#include "worker.h"

/* Has pg_background.worker_timeout expired? */
static volatile sig_atomic_t worker_timed_out = false;

static void exit_after_postgres(void);
static void restore_session_state(pg_background_fixed *fixed,
								  const char *settings);
static void run_within_timeout(const char *sql, int timeout_ms,
							   TimestampTz launched_at);
static void worker_timeout_handler(void);

/*
 * pg_background_worker_main
 *
 * Entry point of the worker.  Errors need no handling here: the bgworker
 * machinery reports them (through our queue, to the caller) and exits with
 * code 1, which makes the postmaster simply forget the worker.
 */
void
pg_background_worker_main(Datum main_arg)
{
	dsm_segment *seg;
	pg_background_fixed *fixed;
	char	   *sql;
	char	   *settings;
	shm_mq	   *mq;
	shm_mq_handle *mqh;

	/* Let SIGTERM be an interrupt, so it is served at a safe point */
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* Attach to the segment the launching session prepared */
	CurrentResourceOwner = ResourceOwnerCreate(NULL, "pg_background");
	seg = pgbg_segment_attach(main_arg, &fixed, &sql, &settings, &mq);

	/*
	 * Publish our process ID, then attach to the queue as its sender; that
	 * wakes the launching session, which returns our process ID.  From here
	 * on everything a client would see goes through the queue, errors of
	 * the connection step included.
	 */
	fixed->worker_pid = MyProcPid;
	shm_mq_set_sender(mq, MyProc);
	mqh = shm_mq_attach(mq, seg, NULL);
	pgbg_redirect_output(seg, mqh, fixed);
	pgbg_progress_serve(fixed);

	/* Connect to the caller's database as the authenticated user */
	BackgroundWorkerInitializeConnectionByOid(fixed->database_id,
											  fixed->authenticated_user_id,
											  0);

	/*
	 * Become the caller (session user, role, settings, current user), in
	 * the transaction that the first statement will use, then run the
	 * statements.
	 */
	SetCurrentStatementStartTimestamp();
	pgbg_start_xact_command();
	restore_session_state(fixed, settings);

	pgstat_report_activity(STATE_RUNNING, sql);
	debug_query_string = sql;
	run_within_timeout(sql, fixed->worker_timeout_ms, fixed->launched_at);
	debug_query_string = NULL;
	pgstat_report_activity(STATE_IDLE, NULL);

	/* Tell the caller we are done */
	ReadyForQuery(DestRemote);

	/* The postmaster's proc_exit(0) follows: end the process right after it */
	(void) atexit(exit_after_postgres);
}

/*
 * exit_after_postgres
 *
 * The last exit handler registered, so the first that exit() runs: by then
 * proc_exit has done all of PostgreSQL's own clean-up (locks, shared memory,
 * statistics, temporary files, the segment).  What the C library would still
 * run are the exit handlers and destructors of the libraries the server
 * links, which free memory the kernel reclaims anyway; OpenSSL's cleanup
 * alone is about a million instructions, 40 % of all that a worker executes
 * for SELECT 1, and it would compete for the CPU with the caller's next
 * launch.  So the process ends here, with the exit code proc_exit(0) gave.
 * Only a worker that delivered its results gets here: one that failed exits
 * the ordinary way.
 */
static void
exit_after_postgres(void)
{
	_exit(0);
}

/*
 * restore_session_state
 *
 * Take over the caller's settings (see gucstate.c), inside a transaction
 * so that check hooks can consult the catalogs.  A session_authorization
 * the caller set makes us its session user (we connected as the
 * authenticated user, who is allowed to).  The role setting is not
 * shipped, so it is set explicitly; the current user and security context
 * (SECURITY DEFINER functions) come last because a security-restricted
 * context forbids setting the role.
 */
static void
restore_session_state(pg_background_fixed *fixed, const char *settings)
{
	pgbg_restore_guc_state(settings, fixed->settings_len);

	/*
	 * The caller's transaction characteristics (BEGIN READ ONLY, SET
	 * TRANSACTION ISOLATION ...) came along, but our transaction is our own:
	 * start it the way StartTransaction does, from the defaults.
	 */
	XactIsoLevel = DefaultXactIsoLevel;
	XactReadOnly = DefaultXactReadOnly;
	XactDeferrable = DefaultXactDeferrable;

	if (OidIsValid(fixed->outer_user_id))
		SetConfigOption("role",
						GetUserNameFromId(fixed->outer_user_id, false),
						PGC_USERSET, PGC_S_SESSION);
	SetUserIdAndSecContext(fixed->current_user_id, fixed->sec_context);

	/*
	 * The caller decodes our text output in the database encoding, whatever
	 * its client_encoding is, and our process is easy to spot under its own
	 * application_name.
	 */
	SetClientEncoding(GetDatabaseEncoding());
	SetConfigOption("application_name", PG_BACKGROUND_WORKER_TYPE,
					PGC_USERSET, PGC_S_SESSION);

	/* The caller's statement_timeout now applies */
	pgbg_enable_statement_timeout();
}

/*
 * run_within_timeout
 *
 * Run the statements; with pg_background.worker_timeout set, cancel them
 * once that long has passed since the launch began (a worker blocked on a
 * full queue is cancelled too).  The cancel is served like any query
 * cancel (the transaction rolls back); its error says why.
 */
static void
run_within_timeout(const char *sql, int timeout_ms, TimestampTz launched_at)
{
	TimeoutId	timeout_id;

	if (timeout_ms <= 0)
	{
		pgbg_execute_sql_string(sql);
		return;
	}

	timeout_id = RegisterTimeout(USER_TIMEOUT, worker_timeout_handler);
	enable_timeout_at(timeout_id,
					  TimestampTzPlusMilliseconds(launched_at, timeout_ms));

	PG_TRY();
	{
		pgbg_execute_sql_string(sql);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		if (!worker_timed_out)
			PG_RE_THROW();

		MemoryContextSwitchTo(TopMemoryContext);
		edata = CopyErrorData();
		if (edata->sqlerrcode != ERRCODE_QUERY_CANCELED)
			PG_RE_THROW();
		FlushErrorState();
		edata->message = psprintf("canceling background worker because it exceeded pg_background.worker_timeout (%d ms)",
								  timeout_ms);
		ReThrowError(edata);
	}
	PG_END_TRY();

	disable_timeout(timeout_id, false);
}

/*
 * worker_timeout_handler
 *
 * pg_background.worker_timeout expired: ask for a query cancel, served at
 * the next interrupt check.
 */
static void
worker_timeout_handler(void)
{
	worker_timed_out = true;
	QueryCancelPending = true;
	InterruptPending = true;
	SetLatch(MyLatch);
}
