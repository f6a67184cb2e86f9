/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  Main function of a pg_background worker: attach to the segment, become
 *	  the launching session's user with its settings, run the SQL string the
 *	  way exec_simple_query does, and commit.
 *
 * IDENTIFICATION
 *	  extension/worker.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/printtup.h"
#include "access/xact.h"
#if PG_VERSION_NUM < 150000
#include "commands/async.h"
#endif
#include "libpq/libpq.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "pg_background.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/proc.h"
#include "storage/shm_mq.h"
#include "storage/shm_toc.h"
#include "tcop/cmdtag.h"
#include "tcop/dest.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/ps_status.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

/* Is a transaction command open?  (exec_simple_query's xact_started) */
static bool xact_started = false;

/* Has pg_background.worker_timeout expired? */
static volatile sig_atomic_t worker_timed_out = false;

static void exit_after_postgres(void);
static void restore_session_state(pg_background_fixed *fixed,
								  const char *settings);
static void execute_sql_string(const char *sql);
static void run_within_timeout(const char *sql, int timeout_ms,
							   TimestampTz launched_at);
static void worker_timeout_handler(void);
static void check_statement_allowed(Node *stmt);
static void start_xact_command(void);
static void finish_xact_command(void);
static void enable_statement_timeout(void);
static void disable_statement_timeout(void);

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
	shm_toc    *toc;
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
	seg = dsm_attach(DatumGetUInt32(main_arg));
	if (seg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("could not map dynamic shared memory segment")));
	dsm_pin_mapping(seg);
	toc = shm_toc_attach(PG_BACKGROUND_MAGIC, dsm_segment_address(seg));
	if (toc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("bad magic number in dynamic shared memory segment")));
	fixed = shm_toc_lookup(toc, PG_BACKGROUND_KEY_FIXED, false);
	sql = shm_toc_lookup(toc, PG_BACKGROUND_KEY_SQL, false);
	settings = shm_toc_lookup(toc, PG_BACKGROUND_KEY_SETTINGS, false);
	mq = shm_toc_lookup(toc, PG_BACKGROUND_KEY_QUEUE, false);

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
	start_xact_command();
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
 * Take over the caller's settings (see settings.c), inside a transaction
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
	pgbg_restore_settings(settings, fixed->settings_len);

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
	enable_statement_timeout();
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
		execute_sql_string(sql);
		return;
	}

	timeout_id = RegisterTimeout(USER_TIMEOUT, worker_timeout_handler);
	enable_timeout_at(timeout_id,
					  TimestampTzPlusMilliseconds(launched_at, timeout_ms));

	PG_TRY();
	{
		execute_sql_string(sql);
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

/*
 * execute_sql_string
 *
 * Run every statement of the string, following exec_simple_query in
 * tcop/postgres.c.  One statement runs without a transaction block and as
 * top level, so VACUUM and its kind work; several statements share an
 * implicit transaction block, exactly as in a multi-statement simple query.
 * Rows always travel in text format.
 */
static void
execute_sql_string(const char *sql)
{
	MemoryContext parse_context;
	MemoryContext oldcontext;
	List	   *parsetree_list;
	ListCell   *lc;
	bool		use_implicit_block;

	/*
	 * Parse trees and plans must survive the commits a utility statement
	 * such as VACUUM makes, so they live outside any transaction.
	 */
	parse_context = AllocSetContextCreate(TopMemoryContext,
										  "pg_background query",
										  ALLOCSET_DEFAULT_SIZES);

	start_xact_command();

	oldcontext = MemoryContextSwitchTo(parse_context);
	parsetree_list = pg_parse_query(sql);
	MemoryContextSwitchTo(oldcontext);

	/* Refuse the whole string before running any of it */
	foreach(lc, parsetree_list)
		check_statement_allowed(lfirst_node(RawStmt, lc)->stmt);

	use_implicit_block = (list_length(parsetree_list) > 1);

	foreach(lc, parsetree_list)
	{
		RawStmt    *parsetree = lfirst_node(RawStmt, lc);
		bool		snapshot_set = false;
		bool		is_last = (lnext(parsetree_list, lc) == NULL);
		MemoryContext per_parsetree_context = NULL;
		CommandTag	commandTag;
		QueryCompletion qc;
		List	   *querytree_list;
		List	   *plantree_list;
		Portal		portal;
		DestReceiver *receiver;
		int16		format = 0; /* text */

		commandTag = CreateCommandTag(parsetree->stmt);
		set_ps_display(GetCommandTagName(commandTag));
		BeginCommand(commandTag, DestRemote);

		/* Make sure we are in a transaction command */
		start_xact_command();
		if (use_implicit_block)
			BeginImplicitTransactionBlock();

		CHECK_FOR_INTERRUPTS();

		/* Set up a snapshot if parse analysis/planning will need one */
		if (analyze_requires_snapshot(parsetree))
		{
			PushActiveSnapshot(GetTransactionSnapshot());
			snapshot_set = true;
		}

		/*
		 * Analyze, rewrite and plan, in a context of its own unless this is
		 * the last statement.
		 */
		if (!is_last)
		{
			per_parsetree_context =
				AllocSetContextCreate(parse_context,
									  "pg_background per-parsetree context",
									  ALLOCSET_DEFAULT_SIZES);
			oldcontext = MemoryContextSwitchTo(per_parsetree_context);
		}
		else
			oldcontext = MemoryContextSwitchTo(parse_context);

#if PG_VERSION_NUM >= 150000
		querytree_list = pg_analyze_and_rewrite_fixedparams(parsetree, sql,
															NULL, 0, NULL);
#else
		querytree_list = pg_analyze_and_rewrite(parsetree, sql,
												NULL, 0, NULL);
#endif
		plantree_list = pg_plan_queries(querytree_list, sql,
										CURSOR_OPT_PARALLEL_OK, NULL);

		if (snapshot_set)
			PopActiveSnapshot();

		CHECK_FOR_INTERRUPTS();

		/* Run it through an unnamed portal, rows going to the queue */
		portal = CreatePortal("", true, true);
		portal->visible = false;
		PortalDefineQuery(portal, NULL, sql, commandTag, plantree_list, NULL);
		PortalStart(portal, NULL, 0, InvalidSnapshot);
		PortalSetResultFormat(portal, 1, &format);
		receiver = pgbg_create_receiver(portal);

		MemoryContextSwitchTo(oldcontext);

#if PG_VERSION_NUM >= 180000
		(void) PortalRun(portal, FETCH_ALL, true, receiver, receiver, &qc);
#else
		(void) PortalRun(portal, FETCH_ALL, true, true, receiver, receiver,
						 &qc);
#endif

		receiver->rDestroy(receiver);
		PortalDrop(portal, false);

		if (is_last)
		{
			/*
			 * Commit before reporting command-complete, so that a failure at
			 * commit is reported instead of the command tag.
			 */
			if (use_implicit_block)
				EndImplicitTransactionBlock();
			finish_xact_command();
		}
		else
		{
			CommandCounterIncrement();
			disable_statement_timeout();
		}

		EndCommand(&qc, DestRemote, false);

		if (per_parsetree_context)
			MemoryContextDelete(per_parsetree_context);
	}

	/* An empty string leaves the transaction of the parse step open */
	finish_xact_command();

	MemoryContextDelete(parse_context);
}

/*
 * check_statement_allowed
 *
 * Refuse what cannot work in a worker: transaction control (the worker
 * owns the transaction, and commits it itself) and COPY (there is no
 * client to exchange COPY data with).
 */
static void
check_statement_allowed(Node *stmt)
{
	if (IsA(stmt, TransactionStmt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("transaction control statements are not allowed in pg_background"),
				 errdetail("The background worker runs the whole SQL string as one transaction and commits it itself.")));

	if (IsA(stmt, CopyStmt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("COPY is not supported in pg_background"),
				 errhint("Use INSERT ... SELECT, or SELECT the rows and read them with pg_background_result.")));
}

/*
 * start_xact_command
 *
 * Open a transaction command if none is open, and (re)arm the statement
 * timeout.
 */
static void
start_xact_command(void)
{
	if (!xact_started)
	{
		StartTransactionCommand();
		xact_started = true;
	}
	enable_statement_timeout();
}

/*
 * finish_xact_command
 *
 * Commit the open transaction command, if any.
 */
static void
finish_xact_command(void)
{
	disable_statement_timeout();

	if (xact_started)
	{
		CommitTransactionCommand();
#if PG_VERSION_NUM < 150000
		/* Until 15, listeners are signalled here rather than at commit */
		ProcessCompletedNotifies();
#endif
		xact_started = false;
	}
}

/*
 * enable_statement_timeout
 *
 * The caller's statement_timeout applies to each statement, as it would in
 * a session of its own.
 */
static void
enable_statement_timeout(void)
{
	if (StatementTimeout > 0)
	{
		if (!get_timeout_active(STATEMENT_TIMEOUT))
			enable_timeout_after(STATEMENT_TIMEOUT, StatementTimeout);
	}
	else
		disable_statement_timeout();
}

/*
 * disable_statement_timeout
 *
 * Stop the statement timer between statements and at the end.
 */
static void
disable_statement_timeout(void)
{
	if (get_timeout_active(STATEMENT_TIMEOUT))
		disable_timeout(STATEMENT_TIMEOUT, false);
}
