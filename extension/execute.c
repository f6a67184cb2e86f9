/*-------------------------------------------------------------------------
 *
 * execute.c
 *	  Running the SQL string in the worker the way exec_simple_query does in
 *	  tcop/postgres.c: parse, refuse what a worker cannot run, then analyze,
 *	  plan and run each statement through an unnamed portal whose rows go to
 *	  the DestReceiver of mqdest.c, with the transaction commands and the
 *	  statement timeout around them.
 *
 * IDENTIFICATION
 *	  extension/execute.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/printtup.h"
#include "access/xact.h"
#if PG_VERSION_NUM < 150000
#include "commands/async.h"
#endif
#include "execute.h"
#include "miscadmin.h"
#include "mqdest.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "storage/proc.h"
#include "tcop/cmdtag.h"
#include "tcop/dest.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/ps_status.h"
#include "utils/snapmgr.h"
#include "utils/timeout.h"

/* Is a transaction command open?  (exec_simple_query's xact_started) */
static bool xact_started = false;

static void check_statement_allowed(Node *stmt);
static void finish_xact_command(void);
static void disable_statement_timeout(void);

/*
 * pgbg_execute_sql_string
 *
 * Run every statement of the string, following exec_simple_query in
 * tcop/postgres.c.  One statement runs without a transaction block and as
 * top level, so VACUUM and its kind work; several statements share an
 * implicit transaction block, exactly as in a multi-statement simple query.
 * The portals' result format is text, as for a simple query; how each
 * column really travels is mqdest.c's choice.
 */
void
pgbg_execute_sql_string(const char *sql)
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

	pgbg_start_xact_command();

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
		pgbg_start_xact_command();
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
 * pgbg_start_xact_command
 *
 * Open a transaction command if none is open, and (re)arm the statement
 * timeout.
 */
void
pgbg_start_xact_command(void)
{
	if (!xact_started)
	{
		StartTransactionCommand();
		xact_started = true;
	}
	pgbg_enable_statement_timeout();
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
 * pgbg_enable_statement_timeout
 *
 * The caller's statement_timeout applies to each statement, as it would in
 * a session of its own.
 */
void
pgbg_enable_statement_timeout(void)
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
